//! The quickstart's protected API, as a library so that tests and the benchmarks build the
//! very app `main` serves.
//!
//! Read in this order: [`config`] (the settings, checked once at startup), [`auth`] (who may
//! call what: the extractor, token validation, the tenant's keys), [`ApiError`] (every error
//! answer), then `app` (the routes and what wraps them), `telemetry` and `metrics` (request
//! ids, the access log, `/metrics`), `server` (hyper, its limits) and [`serve`], where they
//! meet.
//! `dev_tenant` (debug builds' `cargo run -p api` with nothing configured) is apart from all of
//! them: only `main` uses it.

mod app;
pub mod auth;
pub mod config;
#[cfg(feature = "devtenant")]
pub mod dev_tenant;
mod error;
pub mod log_format;
pub mod log_writer;
pub mod login;
mod metrics;
mod routes;
mod server;
mod sharded;
mod telemetry;

use std::future::Future;
use std::sync::Arc;

use axum::extract::FromRef;
use axum::http::header::{AUTHORIZATION, COOKIE};
use tokio::net::TcpListener;
use tower::Layer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;

pub use error::{ApiError, REALM, Unsupported};
pub use login::content_security_policy;
pub use routes::PERMISSIONS_POLICY;
pub use server::ServerLimits;
pub use telemetry::X_REQUEST_ID;

use crate::auth::{DpopChecker, JwksCache, TokenValidator, loopback_urls};
use crate::config::Settings;
use crate::login::Login;
use crate::metrics::Metrics;
use crate::telemetry::{Recorders, Telemetry};

/// What every handler can reach. Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct AppState {
    /// Checks access tokens; the [`auth::AuthenticatedUser`] extractor finds it here.
    pub validator: Arc<TokenValidator>,
    /// The SPA's login settings, and the CSP of its pages.
    pub login: Arc<Login>,
    /// Checks DPoP proofs; the extractor finds it here too.
    pub dpop: Arc<DpopChecker>,
}

impl AppState {
    /// The state for `settings`, for an API reached at `public_urls` (for DPoP's `htu`).
    pub fn new(settings: &Settings, public_urls: Vec<String>) -> Self {
        let jwks = JwksCache::new(settings.jwks.clone());
        let login = Login::new(settings, jwks.clone());
        let validator = TokenValidator::new(
            settings.validation.clone(),
            jwks,
            settings.client_id.clone(),
        );
        Self {
            validator: Arc::new(validator),
            login: Arc::new(login),
            dpop: Arc::new(DpopChecker::new(settings.dpop.clone(), public_urls)),
        }
    }
}

/// Where clients reach the API served on `listener`: `PUBLIC_URL`, or, for an API on
/// loopback, its own address and the dev SPA's; else none, and DPoP proofs are refused with
/// a sentence that says to set `PUBLIC_URL`.
fn public_urls(settings: &Settings, listener: &TcpListener) -> Vec<String> {
    if let Some(urls) = &settings.dpop.public_urls {
        return urls.clone();
    }
    match listener.local_addr() {
        Ok(addr) if addr.ip().is_loopback() => loopback_urls(addr.port()),
        _ => {
            if settings.dpop.mode != auth::DpopMode::Disabled {
                tracing::warn!(
                    "PUBLIC_URL is not set: DPoP proofs cannot be checked and are refused; set it to the URL clients reach the API at"
                );
            }
            Vec::new()
        }
    }
}

/// Serves the API on `listener` until `shutdown` completes, then finishes in-flight requests.
/// The tenant's keys are fetched in the background: the server answers `/api/public` at
/// once whether or not the tenant is reachable.
pub async fn serve(
    listener: TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_metrics(listener, None, settings, shutdown).await
}

/// [`serve`], and `/metrics` on `metrics` when given (`METRICS_ADDR`): the composition root,
/// where the state, the app, its telemetry and the server meet.
pub async fn serve_with_metrics(
    listener: TcpListener,
    metrics: Option<TcpListener>,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = AppState::new(&settings, public_urls(&settings, &listener));
    state.validator.jwks().warm_up();
    let metrics = metrics.map(|listener| {
        let metrics = Arc::new(Metrics::new(state.validator.clone()));
        tokio::spawn(metrics::serve(listener, metrics.clone()));
        metrics
    });
    let telemetry = Telemetry::new(app::app(state, &settings), Recorders::new(metrics.clone()));
    // Outermost, so that nothing, the telemetry included, ever shows the credentials.
    let app = SetSensitiveRequestHeadersLayer::new([AUTHORIZATION, COOKIE]).layer(telemetry);
    server::serve_app(listener, app, settings.limits, metrics, shutdown).await
}

impl FromRef<AppState> for Arc<TokenValidator> {
    fn from_ref(state: &AppState) -> Self {
        state.validator.clone()
    }
}

impl FromRef<AppState> for Arc<DpopChecker> {
    fn from_ref(state: &AppState) -> Self {
        state.dpop.clone()
    }
}
