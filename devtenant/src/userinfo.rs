//! `GET /userinfo`: the profile of the user an access token stands for. Takes the JWT access
//! tokens this tenant signs for `{issuer}userinfo` and the opaque ones it hands out when no
//! audience was asked, as `Bearer`, or as `DPoP` with a proof of the key they are bound to
//! (a bound token is never taken as a bearer token). Personal data: never cached.

use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::Value;
use shared::dpop::ProofError;
use shared::oauth::{Challenge, OAuthError, Scheme, access_token};

use crate::dpop::proof_of;
use crate::issue::profile_claims;
use crate::tenant::DevTenant;

pub fn router() -> Router<DevTenant> {
    Router::new().route("/userinfo", get(userinfo))
}

#[derive(Deserialize)]
struct UserinfoClaims {
    sub: String,
    scope: Option<String>,
    cnf: Option<Confirmation>,
}

#[derive(Deserialize)]
struct Confirmation {
    jkt: Option<String>,
}

/// 401 with an RFC 6750 challenge naming why.
fn unauthorized(description: &str) -> Response {
    refused(Scheme::Bearer, "invalid_token", description)
}

/// A refused DPoP proof: 401, `DPoP` challenge with its code.
fn refused_proof(error: &ProofError) -> Response {
    refused(Scheme::DPoP, error.error_code(), &error.to_string())
}

fn refused(scheme: Scheme, code: &str, description: &str) -> Response {
    let challenge = Challenge {
        scheme,
        error: Some(code),
        description: Some(description),
        algs: (scheme == Scheme::DPoP).then_some(shared::dpop::ALGS),
        ..Challenge::default()
    };
    let body = OAuthError {
        error: code.into(),
        error_description: description.to_owned(),
    };
    let mut response = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge.to_string()) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}

async fn userinfo(State(tenant): State<DevTenant>, headers: HeaderMap) -> Response {
    let mut response = profile(&tenant, &headers);
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn profile(tenant: &DevTenant, headers: &HeaderMap) -> Response {
    let values = headers.get_all(AUTHORIZATION).iter().map(|v| v.as_bytes());
    let (scheme, token) = match access_token(values) {
        Ok(credentials) => credentials,
        Err(error) => return unauthorized(&error.to_string()),
    };
    let (user_id, scopes, jkt) = if token.split('.').count() == 3 {
        match verify_jwt(tenant, token) {
            Some(claims) => {
                let scopes = claims.scope.unwrap_or_default();
                let jkt = claims.cnf.and_then(|c| c.jkt);
                (
                    claims.sub,
                    scopes.split(' ').map(str::to_owned).collect(),
                    jkt,
                )
            }
            None => return unauthorized("Invalid access token for /userinfo"),
        }
    } else {
        match tenant.store().opaque_token(token) {
            Some(grant) => (grant.user_id, grant.scopes, grant.jkt),
            None => return unauthorized("Invalid or expired access token"),
        }
    };
    match (scheme, jkt) {
        (Scheme::Bearer, None) => {}
        (Scheme::Bearer, Some(_)) => {
            return unauthorized(
                "This access token is bound to a DPoP key: send it as DPoP, with a proof",
            );
        }
        (Scheme::DPoP, None) => {
            return refused(
                Scheme::DPoP,
                "invalid_token",
                "This access token is not bound to a DPoP key",
            );
        }
        (Scheme::DPoP, Some(jkt)) => {
            match proof_of(tenant, headers, "GET", "userinfo", Some(token)) {
                Ok(Some(proof)) if proof.jkt == jkt => {}
                Ok(Some(_)) => return refused_proof(&ProofError::KeyMismatch),
                Ok(None) => return refused_proof(&ProofError::Missing),
                Err(error) => return refused_proof(&error),
            }
        }
    }
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
    validation.set_audience(&[tenant.endpoint("userinfo")]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<UserinfoClaims>(token, &key.decoding_key(), &validation)
        .ok()
        .map(|data| data.claims)
}
