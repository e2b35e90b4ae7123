//! `GET /healthz`: 200 while the process serves. It says nothing of the tenant, on purpose:
//! a JWKS outage must not make an orchestrator restart an API that is serving `/api/public`.

use axum::Router;
use axum::routing::get;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(|| async { "ok" }))
}
