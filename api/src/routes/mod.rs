//! One module per resource, each with its own `router()`; [`router`] joins them, with JSON
//! 404s for every path no route or the SPA answers.

mod auth_config;
mod health;
mod messages;
mod spa;

use std::path::Path;

use std::sync::Arc;

use axum::Router;

use crate::AppState;
use crate::error::ApiError;
use crate::login::Login;

pub use spa::PERMISSIONS_POLICY;

/// Every route; the built SPA as the fallback when `spa_dir` is set.
pub fn router(spa_dir: Option<&Path>, login: Arc<Login>) -> Router<AppState> {
    let router = Router::new()
        .merge(messages::router())
        .merge(health::router())
        .merge(auth_config::router())
        // Unknown API paths stay JSON 404s, even when the SPA answers every other path.
        .route("/api/{*rest}", axum::routing::any(not_found));
    match spa_dir {
        Some(dir) => spa::serve_from(router, dir, login),
        None => router.fallback(not_found),
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}
