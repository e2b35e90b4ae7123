//! `GET /healthz`: 200 while the process serves. It says nothing of the tenant, on purpose:
//! a JWKS outage must not make an orchestrator restart an API that is serving `/api/public`.
//!
//! `GET /readyz`: 503 until the tenant's keys are loaded, with why the last attempt failed,
//! 200 after: what a load balancer asks before sending traffic that needs them. The keys are
//! fetched on their own until they load (`JwksCache::warm_up`): no request has to ask.

use axum::Router;
use axum::extract::State;
use axum::routing::get;

use crate::AppState;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
}

async fn ready(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    let jwks = state.validator.jwks();
    match jwks.is_loaded() {
        true => Ok("ready"),
        false => Err(ApiError::NotReady(jwks.last_error())),
    }
}
