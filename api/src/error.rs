//! The API's one error type: every refusal the API makes, rendered as RFC 6750 says
//! (status, `WWW-Authenticate`) with a JSON body a person can act on.

use axum::Json;
use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use shared::ErrorBody;

/// The realm named in `WWW-Authenticate` challenges.
pub const REALM: &str = "api";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No credentials at all (or another scheme than Bearer): 401 with a bare challenge.
    MissingToken(&'static str),
    /// A malformed request, e.g. two `Authorization` headers: 400 `invalid_request`.
    InvalidRequest(&'static str),
    /// The token is not valid: 401 `invalid_token`.
    InvalidToken(String),
    /// The token is valid but does not grant this scope: 403 `insufficient_scope`.
    InsufficientScope(&'static str),
    /// The tenant's keys could not be fetched, so no token can be checked: 503, fail closed.
    KeysUnavailable,
}

impl AuthError {
    pub fn invalid_token(message: impl Into<String>) -> Self {
        Self::InvalidToken(message.into())
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let (status, code, message, challenge) = match self {
            AuthError::MissingToken(message) => (
                StatusCode::UNAUTHORIZED,
                "missing_token",
                message.to_owned(),
                Some(format!("Bearer realm=\"{REALM}\"")),
            ),
            AuthError::InvalidRequest(message) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                message.to_owned(),
                Some(challenge("invalid_request", message, None)),
            ),
            AuthError::InvalidToken(message) => {
                let challenge = challenge("invalid_token", &message, None);
                (StatusCode::UNAUTHORIZED, "invalid_token", message, Some(challenge))
            }
            AuthError::InsufficientScope(scope) => {
                let message = format!(
                    "The access token does not grant the {scope} scope. Request it in the login's scope, and in Auth0 grant it to the user (RBAC) or allow it for the application."
                );
                let challenge = challenge("insufficient_scope", &message, Some(scope));
                (StatusCode::FORBIDDEN, "insufficient_scope", message, Some(challenge))
            }
            AuthError::KeysUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "The API cannot check access tokens right now: the tenant's signing keys could not be fetched. Try again shortly.".to_owned(),
                None,
            ),
        };
        let mut response = (
            status,
            Json(ErrorBody {
                error: code.to_owned(),
                message,
            }),
        )
            .into_response();
        let headers = response.headers_mut();
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(WWW_AUTHENTICATE, value);
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// `Bearer realm="api", error="...", error_description="..."[, scope="..."]`.
fn challenge(error: &str, description: &str, scope: Option<&str>) -> String {
    let mut value = format!(
        "Bearer realm=\"{REALM}\", error=\"{error}\", error_description=\"{}\"",
        quotable(description)
    );
    if let Some(scope) = scope {
        value.push_str(&format!(", scope=\"{}\"", quotable(scope)));
    }
    value
}

/// RFC 6750 §3: error_description and scope are limited to %x20-21 / %x23-5B / %x5D-7E, so
/// quotes, backslashes and anything outside printable ASCII are replaced.
fn quotable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            '\u{20}'..='\u{7e}' => c,
            _ => '?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge_of(error: AuthError) -> (StatusCode, Option<String>) {
        let response = error.into_response();
        let header = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        (response.status(), header)
    }

    #[test]
    fn missing_token_challenge_has_no_error_code() {
        let (status, header) = challenge_of(AuthError::MissingToken("x"));
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(header.unwrap(), "Bearer realm=\"api\"");
    }

    #[test]
    fn insufficient_scope_names_the_scope() {
        let (status, header) = challenge_of(AuthError::InsufficientScope("read:messages"));
        assert_eq!(status, StatusCode::FORBIDDEN);
        let header = header.unwrap();
        assert!(header.starts_with("Bearer realm=\"api\", error=\"insufficient_scope\""));
        assert!(header.ends_with("scope=\"read:messages\""));
    }

    #[test]
    fn descriptions_are_made_safe_for_the_header() {
        assert_eq!(quotable("a \"b\" \\ é`"), "a 'b' ' ?`");
        let (_, header) = challenge_of(AuthError::invalid_token("token \"x\" — bad"));
        assert!(
            header
                .unwrap()
                .contains("error_description=\"token 'x' ? bad\"")
        );
    }
}
