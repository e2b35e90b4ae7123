//! The HTTP app around the routes (CORS, security headers, tracing, the sensitive headers) and
//! the server that runs it.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, REFERRER_POLICY,
    WWW_AUTHENTICATE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue, Method, Request};
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::AppState;
use crate::config::Settings;
use crate::routes;

/// The whole HTTP app: routes, the SPA if there is one, CORS, security headers and tracing.
pub fn app(state: AppState, settings: &Settings) -> Router {
    let cors = CorsLayer::new()
        // A fixed allow-list: an origin not on it gets no CORS headers, and none is reflected.
        .allow_origin(AllowOrigin::list(settings.allowed_origins.clone()))
        .allow_methods([Method::GET])
        .allow_headers([AUTHORIZATION, CONTENT_TYPE])
        // Lets the SPA read the RFC 6750 reason of a 401/403.
        .expose_headers([WWW_AUTHENTICATE])
        .max_age(Duration::from_secs(600));
    let trace = TraceLayer::new_for_http()
        // The path only: a query string could carry a token someone put there by mistake.
        .make_span_with(|request: &Request<_>| {
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO));
    routes::router(
        settings.spa_dir.as_deref(),
        settings.validation.issuer.as_str(),
    )
    .with_state(state)
    .layer(cors)
    .layer(security_header(X_CONTENT_TYPE_OPTIONS, "nosniff"))
    .layer(security_header(X_FRAME_OPTIONS, "DENY"))
    .layer(security_header(REFERRER_POLICY, "no-referrer"))
    .layer(security_header(
        CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'",
    ))
    // Answers depend on who asks: no shared cache may keep them.
    .layer(security_header(CACHE_CONTROL, "no-store"))
    .layer(trace)
    // Outermost, so that no layer, tracing included, ever sees the token.
    .layer(SetSensitiveRequestHeadersLayer::new([
        AUTHORIZATION,
        COOKIE,
    ]))
}

fn security_header(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// Serves the API on `listener` until `shutdown` completes, then finishes in-flight requests.
/// The tenant's keys are fetched in the background: the server answers `/api/public` at
/// once whether or not the tenant is reachable.
pub async fn serve(
    listener: TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = AppState::new(&settings);
    state.validator.jwks().warm_up();
    let app = app(state, &settings);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
