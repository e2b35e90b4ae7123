//! `GET /auth_config.json`: the SPA's login settings (issuer, the provider's endpoints, client
//! ID, audience, scope, flow), from the very settings the API validates tokens with
//! ([`crate::login`]). Read at runtime by the SPA, never compiled into it, so one build runs
//! against any tenant.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use shared::AuthConfig;

use crate::AppState;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new().route("/auth_config.json", get(auth_config))
}

async fn auth_config(State(state): State<AppState>) -> Result<Json<AuthConfig>, ApiError> {
    let config = state.login.auth_config_when_known().await?;
    Ok(Json(AuthConfig::clone(&config)))
}
