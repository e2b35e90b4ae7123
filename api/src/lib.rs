//! The quickstart's protected API, as a library so that tests and the benchmarks build the
//! very app `main` serves.

pub mod auth;
pub mod config;
pub mod error;
pub mod routes;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, REFERRER_POLICY,
    WWW_AUTHENTICATE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, Method, Request, StatusCode};
use axum::response::IntoResponse;
use shared::{AuthConfig, ErrorBody};
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::auth::{JwksCache, TokenValidator};
use crate::config::Settings;

/// What every handler can reach. Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct AppState {
    pub validator: Arc<TokenValidator>,
    /// The SPA's login settings; `None` when the API has no client ID to hand out.
    pub auth_config: Option<Arc<AuthConfig>>,
}

impl AppState {
    pub fn new(settings: &Settings) -> Self {
        let jwks = JwksCache::new(settings.jwks.clone());
        let validator = TokenValidator::new(
            settings.validation.clone(),
            jwks,
            settings.client_id.clone(),
        );
        Self {
            validator: Arc::new(validator),
            auth_config: settings.auth_config().map(Arc::new),
        }
    }
}

/// The whole HTTP app: routes, the SPA if there is one, CORS, security headers and tracing.
pub fn app(state: AppState, settings: &Settings) -> Router {
    let allowed_origins = settings.allowed_origins.clone();
    let cors = CorsLayer::new()
        // A fixed allow-list: an origin not on it gets no CORS headers, and none is reflected.
        .allow_origin(AllowOrigin::list(allowed_origins))
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
    let router = Router::new()
        .merge(routes::messages::router())
        .merge(routes::health::router())
        .merge(routes::auth_config::router())
        // Unknown API paths stay JSON 404s, even when the SPA answers every other path.
        .route("/api/{*rest}", axum::routing::any(not_found));
    let router = match &settings.spa_dir {
        Some(dir) => routes::spa::serve_from(router, dir, &settings.validation.issuer),
        None => router.fallback(not_found),
    };
    router
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

fn security_header(
    name: axum::http::HeaderName,
    value: &'static str,
) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Json(ErrorBody {
            error: "not_found".into(),
            message: "No such endpoint: try /api/public, /api/private or /api/private-scoped."
                .into(),
        }),
    )
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
