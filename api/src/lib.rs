//! The quickstart's protected API, as a library so that tests and the benchmarks build the
//! very app `main` serves.
//!
//! Read in this order: [`config`] (the settings, checked once at startup), [`auth`] (who may
//! call what: the extractor, token validation, the tenant's keys), [`ApiError`] (every error
//! answer), then [`app`] (the routes and what wraps them) and [`serve`] (the server's limits).
//! `dev_tenant` (debug builds' `cargo run -p api` with nothing configured) is apart from all of
//! them: only `main` uses it.

mod app;
pub mod auth;
pub mod config;
#[cfg(feature = "devtenant")]
pub mod dev_tenant;
mod error;
mod routes;
mod server;

use std::sync::Arc;

use axum::extract::FromRef;
use shared::AuthConfig;

pub use app::app;
pub use error::{ApiError, REALM};
pub use routes::{PERMISSIONS_POLICY, content_security_policy};
pub use server::{HttpService, ServerLimits, serve, serve_app};

use crate::auth::{JwksCache, TokenValidator};
use crate::config::Settings;

/// What every handler can reach. Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct AppState {
    /// Checks access tokens; the [`auth::AuthenticatedUser`] extractor finds it here.
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

impl FromRef<AppState> for Arc<TokenValidator> {
    fn from_ref(state: &AppState) -> Self {
        state.validator.clone()
    }
}
