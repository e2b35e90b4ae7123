//! `GET /auth_config.json`: the SPA's login settings (domain, issuer, client ID, audience,
//! scope), from the very settings the API validates tokens with. Read at runtime by the SPA,
//! never compiled into it, so one build runs against any tenant.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use shared::ErrorBody;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/auth_config.json", get(auth_config))
}

async fn auth_config(State(state): State<AppState>) -> Response {
    match &state.auth_config {
        Some(config) => Json(config.as_ref().clone()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(ErrorBody {
                error: "not_configured".into(),
                message: "The API has no AUTH0_CLIENT_ID, so it cannot tell the SPA how to log in: set AUTH0_CLIENT_ID to the SPA's client ID.".into(),
            }),
        )
            .into_response(),
    }
}
