//! The HTTP app around the routes (CORS, security headers, tracing, the sensitive headers) and
//! the server that runs it, with the manners a server facing the internet needs: a client
//! must send its request head in time and within a size, requests are answered in time, and
//! connections are bounded.
//!
//! The accept loop is hyper's HTTP/1.1 server driven here rather than `axum::serve`, which
//! sets no timer (so hyper's header-read timeout never runs) and bounds nothing.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, REFERRER_POLICY,
    STRICT_TRANSPORT_SECURITY, WWW_AUTHENTICATE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::AppState;
use crate::config::Settings;
use crate::routes;

/// How the server treats its clients. [`ServerLimits::default`] is what `serve` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// A client must send a request's whole head within this; an idle keep-alive connection
    /// is closed after it too. 10 s.
    pub header_read_timeout: Duration,
    /// A request head (request line and headers) larger than this is answered 431. 64 KiB.
    pub max_header_bytes: usize,
    /// At most this many connections are served at once; more wait in the listen queue.
    /// 4096, under the usual limit of open files.
    pub max_connections: usize,
    /// A request not answered within this gets a 503. Longer than the longest wait a handler
    /// has (the tenant's keys, within their fetch timeout): the configuration sets it to the
    /// JWKS fetch timeout and 5 s.
    pub request_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            max_connections: 4096,
            request_timeout: Duration::from_secs(10),
        }
    }
}

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
    let router = routes::router(
        settings.spa_dir.as_deref(),
        settings.validation.issuer.as_str(),
    )
    .with_state(state)
    .layer(TimeoutLayer::with_status_code(
        StatusCode::SERVICE_UNAVAILABLE,
        settings.limits.request_timeout,
    ))
    .layer(cors)
    .layer(security_header(X_CONTENT_TYPE_OPTIONS, "nosniff"))
    .layer(security_header(X_FRAME_OPTIONS, "DENY"))
    .layer(security_header(REFERRER_POLICY, "no-referrer"))
    .layer(security_header(
        CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'",
    ))
    // Answers depend on who asks: no shared cache may keep them.
    .layer(security_header(CACHE_CONTROL, "no-store"));
    let router = match &settings.hsts {
        Some(value) => router.layer(SetResponseHeaderLayer::overriding(
            STRICT_TRANSPORT_SECURITY,
            value.clone(),
        )),
        None => router,
    };
    router
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
    serve_app(listener, app, settings.limits, shutdown).await
}

/// Serves `app` on `listener` with `limits` until `shutdown` completes; then stops accepting,
/// lets the requests under way finish and closes idle connections.
pub async fn serve_app(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes);
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let service = TowerToHyperService::new(app);
    tokio::pin!(shutdown);
    loop {
        // At the bound, stop accepting: the kernel's queue holds the rest.
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => permit.expect("never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: wait, do not exit.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let connection = http.serve_connection(TokioIo::new(stream), service.clone());
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
