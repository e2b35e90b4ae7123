//! `POST /oauth/token`: the authorization-code (with PKCE), client-credentials and
//! refresh-token grants, with Auth0-shaped JSON errors.

use std::collections::HashMap;
use std::time::Instant;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use axum_extra::TypedHeader;
use axum_extra::headers::Authorization;
use axum_extra::headers::authorization::Basic;
use serde_json::json;

use crate::DevTenant;
use crate::config::{AppType, Application, User};
use crate::issue::{IssuedTokens, Subject, s256_challenge};
use crate::store::{Grant, REFRESH_LIFETIME};

pub fn router() -> Router<DevTenant> {
    Router::new().route("/oauth/token", post(token))
}

/// An OAuth error from the token endpoint (RFC 6749 §5.2), with Auth0's status codes.
#[derive(Debug)]
pub struct TokenError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

fn token_error(
    status: StatusCode,
    error: &'static str,
    description: impl Into<String>,
) -> TokenError {
    TokenError {
        status,
        error,
        description: description.into(),
    }
}

fn invalid_grant(description: &str) -> TokenError {
    token_error(StatusCode::FORBIDDEN, "invalid_grant", description)
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        no_store((
            self.status,
            Json(json!({"error": self.error, "error_description": self.description})),
        ))
    }
}

/// RFC 6749 §5.1: token responses must not be cached.
fn no_store(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The request's parameters, from a form or a JSON body (Auth0 takes both).
fn parameters(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, TokenError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/json") {
        let value: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)
            .map_err(|_| {
                token_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "The body is not a JSON object",
                )
            })?;
        Ok(value
            .into_iter()
            .filter_map(|(k, v)| match v {
                serde_json::Value::String(s) => Some((k, s)),
                serde_json::Value::Null => None,
                other => Some((k, other.to_string())),
            })
            .collect())
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        Ok(url::form_urlencoded::parse(body).into_owned().collect())
    } else {
        Err(token_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Send the parameters as application/x-www-form-urlencoded or application/json",
        ))
    }
}

async fn token(
    State(tenant): State<DevTenant>,
    basic: Option<TypedHeader<Authorization<Basic>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = match parameters(&headers, &body) {
        Ok(params) => {
            let credentials = basic.map(|TypedHeader(Authorization(b))| {
                (b.username().to_owned(), b.password().to_owned())
            });
            exchange(&tenant, &params, credentials)
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(tokens) => no_store(Json(tokens)),
        Err(error) => error.into_response(),
    }
}

fn exchange(
    tenant: &DevTenant,
    params: &HashMap<String, String>,
    basic: Option<(String, String)>,
) -> Result<IssuedTokens, TokenError> {
    let get = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let (client_id, client_secret) = match &basic {
        Some((id, secret)) => (Some(id.as_str()), Some(secret.as_str())),
        None => (get("client_id"), get("client_secret")),
    };
    let Some(client_id) = client_id else {
        return Err(token_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Missing required parameter: client_id",
        ));
    };
    let app = tenant
        .config()
        .application(client_id)
        .ok_or_else(|| token_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unknown client"))?;
    authenticate_client(app, client_secret)?;
    match get("grant_type") {
        Some("authorization_code") => authorization_code(tenant, app, &get),
        Some("client_credentials") => {
            client_credentials(tenant, app, get("audience"), get("scope"))
        }
        Some("refresh_token") => refresh_token(tenant, app, get("refresh_token")),
        Some(other) => Err(token_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("Unsupported grant type: {other}"),
        )),
        None => Err(token_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: grant_type",
        )),
    }
}

/// Confidential clients prove their secret; public clients (SPAs) have none and prove
/// possession of the code with PKCE instead.
fn authenticate_client(app: &Application, secret: Option<&str>) -> Result<(), TokenError> {
    match (&app.client_secret, secret) {
        (Some(expected), Some(given))
            if verify_slices_are_equal(expected.as_bytes(), given.as_bytes()).is_ok() =>
        {
            Ok(())
        }
        (None, None) => Ok(()),
        _ => Err(token_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        )),
    }
}

fn authorization_code<'a>(
    tenant: &DevTenant,
    app: &Application,
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Result<IssuedTokens, TokenError> {
    let code = get("code").ok_or_else(|| {
        token_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: code",
        )
    })?;
    // Taken, not read: a code works once, even when this exchange then fails.
    let grant = tenant
        .store()
        .take_code(code)
        .ok_or_else(|| invalid_grant("Invalid authorization code"))?;
    if grant.client_id != app.client_id {
        return Err(invalid_grant("Invalid authorization code"));
    }
    if get("redirect_uri") != Some(grant.redirect_uri.as_str()) {
        return Err(invalid_grant(
            "redirect_uri does not match the one of the authorization request",
        ));
    }
    if let Some(challenge) = &grant.code_challenge {
        let verifier = get("code_verifier").unwrap_or_default();
        let well_formed = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if !well_formed
            || verify_slices_are_equal(s256_challenge(verifier).as_bytes(), challenge.as_bytes())
                .is_err()
        {
            return Err(invalid_grant("Failed to verify code verifier"));
        }
    }
    let user = tenant
        .config()
        .user_by_id(&grant.user_id)
        .ok_or_else(|| invalid_grant("The user of this code no longer exists"))?;
    let (access_token, id_token, lifetime) = user_tokens(
        tenant,
        app,
        user,
        &grant.scopes,
        grant.audience.as_deref(),
        grant.nonce.as_deref(),
    );
    let refresh_token = grant.scopes.iter().any(|s| s == "offline_access").then(|| {
        tenant.store().create_refresh_token(Grant {
            client_id: app.client_id.clone(),
            user_id: grant.user_id.clone(),
            scopes: grant.scopes.clone(),
            audience: grant.audience.clone(),
            expires: Instant::now() + REFRESH_LIFETIME,
        })
    });
    Ok(IssuedTokens {
        access_token,
        id_token,
        refresh_token,
        scope: grant.scopes.join(" "),
        expires_in: lifetime,
        token_type: "Bearer",
    })
}

/// The access token (and, with `openid`, the ID token) a user gets through `app`, and the
/// access token's lifetime.
fn user_tokens(
    tenant: &DevTenant,
    app: &Application,
    user: &User,
    scopes: &[String],
    audience: Option<&str>,
    nonce: Option<&str>,
) -> (String, Option<String>, u64) {
    let lifetime = tenant.config().api.token_lifetime_secs;
    let subject = Subject {
        client_id: &app.client_id,
        user: Some(user),
    };
    let access_token = tenant.access_token(&subject, scopes, audience, lifetime);
    let id_token = scopes
        .iter()
        .any(|s| s == "openid")
        .then(|| tenant.id_token(&app.client_id, user, scopes, nonce, Some(&access_token)));
    (access_token, id_token, lifetime)
}

fn client_credentials(
    tenant: &DevTenant,
    app: &Application,
    audience: Option<&str>,
    scope: Option<&str>,
) -> Result<IssuedTokens, TokenError> {
    if app.app_type != AppType::M2m {
        return Err(token_error(
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            "Grant type 'client_credentials' not allowed for the client.",
        ));
    }
    let config = tenant.config();
    let Some(audience) = audience else {
        return Err(token_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            "No audience parameter was provided, and no default audience has been configured",
        ));
    };
    if audience != config.api.identifier {
        return Err(token_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            format!("Service not found: {audience}"),
        ));
    }
    let scopes: Vec<String> = match scope {
        Some(asked) => asked
            .split(' ')
            .filter(|s| app.scopes.iter().any(|granted| granted == s))
            .map(str::to_owned)
            .collect(),
        None => app.scopes.clone(),
    };
    let lifetime = config.api.token_lifetime_secs;
    let subject = Subject {
        client_id: &app.client_id,
        user: None,
    };
    Ok(IssuedTokens {
        access_token: tenant.access_token(&subject, &scopes, Some(audience), lifetime),
        scope: scopes.join(" "),
        expires_in: lifetime,
        token_type: "Bearer",
        ..IssuedTokens::default()
    })
}

fn refresh_token(
    tenant: &DevTenant,
    app: &Application,
    token: Option<&str>,
) -> Result<IssuedTokens, TokenError> {
    let token = token.ok_or_else(|| {
        token_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: refresh_token",
        )
    })?;
    // Rotation: the refresh token is spent; a new one comes with the answer.
    let grant = tenant
        .store()
        .take_refresh_token(token)
        .filter(|g| g.client_id == app.client_id)
        .ok_or_else(|| invalid_grant("Unknown or invalid refresh token."))?;
    let user = tenant
        .config()
        .user_by_id(&grant.user_id)
        .ok_or_else(|| invalid_grant("Unknown or invalid refresh token."))?;
    let (access_token, id_token, lifetime) = user_tokens(
        tenant,
        app,
        user,
        &grant.scopes,
        grant.audience.as_deref(),
        None,
    );
    let scope = grant.scopes.join(" ");
    let refresh_token = tenant.store().create_refresh_token(Grant {
        expires: Instant::now() + REFRESH_LIFETIME,
        ..grant
    });
    Ok(IssuedTokens {
        access_token,
        id_token,
        refresh_token: Some(refresh_token),
        scope,
        expires_in: lifetime,
        token_type: "Bearer",
    })
}
