//! `POST /oauth/revoke` (RFC 7009), as Auth0's: a client revokes one of its refresh tokens,
//! and with it the token's whole family. The SPA calls it at Log Out, so that no other tab's
//! copy of the token can renew the session that was ended.
//!
//! The answer is 200 whether or not the token was live (RFC 7009 §2.2: a client learns
//! nothing about tokens that are not its own); a bad client is 401, a bad body 400.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use shared::oauth::OAuthError;

use crate::keys::same_secret;
use crate::request::unique_parameters;
use crate::tenant::DevTenant;

pub fn router() -> Router<DevTenant> {
    Router::new().route("/oauth/revoke", post(revoke))
}

fn error(status: StatusCode, code: &str, description: &str) -> Response {
    let body = OAuthError {
        error: code.into(),
        error_description: description.into(),
    };
    (status, Json(body)).into_response()
}

async fn revoke(State(tenant): State<DevTenant>, headers: HeaderMap, body: Bytes) -> Response {
    let form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let params = match form {
        true => unique_parameters(url::form_urlencoded::parse(&body)),
        false => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Send the parameters as application/x-www-form-urlencoded",
            );
        }
    };
    let Ok(params) = params else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "A parameter is repeated",
        );
    };
    let get = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let Some(token) = get("token") else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: token",
        );
    };
    let app = get("client_id").and_then(|id| tenant.config().application(id));
    let authenticated = match app.map(|a| (&a.client_secret, get("client_secret"))) {
        Some((None, None)) => true,
        Some((Some(expected), Some(given))) => same_secret(expected, given),
        _ => false,
    };
    match (app, authenticated) {
        (Some(app), true) => {
            tenant.store().revoke_refresh_token(token, &app.client_id);
            StatusCode::OK.into_response()
        }
        _ => error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        ),
    }
}
