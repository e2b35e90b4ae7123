//! The quickstart's three endpoints. The signature says who may call: no extractor is public,
//! [`AuthenticatedUser`] needs a valid token, `require_scope` needs a scope as well.

use axum::routing::get;
use axum::{Json, Router};
use shared::{Message, READ_MESSAGES};

use crate::AppState;
use crate::auth::AuthenticatedUser;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/public", get(public))
        .route("/api/private", get(private))
        .route("/api/private-scoped", get(private_scoped))
}

async fn public() -> Json<Message> {
    Json(Message::new(Message::PUBLIC))
}

async fn private(_user: AuthenticatedUser) -> Json<Message> {
    Json(Message::new(Message::PRIVATE))
}

async fn private_scoped(user: AuthenticatedUser) -> Result<Json<Message>, ApiError> {
    user.require_scope(READ_MESSAGES)?;
    Ok(Json(Message::new(Message::PRIVATE_SCOPED)))
}
