//! `GET /userinfo`: the profile of the user an access token stands for. Takes the JWT access
//! tokens this tenant signs for `{issuer}userinfo` and the opaque ones it hands out when no
//! audience was asked.

use axum::extract::State;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::DevTenant;
use crate::issue::profile_claims;

pub fn router() -> Router<DevTenant> {
    Router::new().route("/userinfo", get(userinfo))
}

#[derive(Deserialize)]
struct UserinfoClaims {
    sub: String,
    scope: Option<String>,
}

fn unauthorized(description: &str) -> Response {
    let challenge = format!("Bearer error=\"invalid_token\", error_description=\"{description}\"");
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": "invalid_token", "error_description": description})),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}

async fn userinfo(State(tenant): State<DevTenant>, headers: HeaderMap) -> Response {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let Some(token) = token else {
        return unauthorized("Missing access token: send Authorization: Bearer <access token>");
    };
    let (user_id, scopes) = if token.split('.').count() == 3 {
        match verify_jwt(&tenant, &token) {
            Some(claims) => (
                claims.sub,
                claims
                    .scope
                    .unwrap_or_default()
                    .split(' ')
                    .map(str::to_owned)
                    .collect::<Vec<_>>(),
            ),
            None => return unauthorized("Invalid access token for /userinfo"),
        }
    } else {
        match tenant.store().opaque_token(&token) {
            Some(grant) => (grant.user_id, grant.scopes),
            None => return unauthorized("Invalid or expired access token"),
        }
    };
    if !scopes.iter().any(|s| s == "openid") {
        return unauthorized("The access token was not granted the openid scope");
    }
    match tenant.config().user_by_id(&user_id) {
        Some(user) => Json(Value::Object(profile_claims(user, &scopes))).into_response(),
        None => unauthorized("The access token is not a user's"),
    }
}

/// A JWT this tenant signed, still valid, with `{issuer}userinfo` among its audiences.
fn verify_jwt(tenant: &DevTenant, token: &str) -> Option<UserinfoClaims> {
    let kid = jsonwebtoken::decode_header(token).ok()?.kid?;
    let keys = tenant.keys();
    let key = keys.get(&kid)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[tenant.issuer()]);
    validation.set_audience(&[format!("{}userinfo", tenant.issuer())]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<UserinfoClaims>(token, &key.decoding_key(), &validation)
        .ok()
        .map(|data| data.claims)
}
