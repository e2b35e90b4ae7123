//! RFC 6750 §2.1: the access token comes from the `Authorization: Bearer` header, and only
//! from there — never from the query string, a cookie or a body, where it would leak into
//! logs, caches and other sites' requests.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::token::AccessClaims;
use crate::AppState;
use crate::error::AuthError;

/// A caller whose access token is valid: taking one as a handler argument makes the route
/// private. Rejections are RFC 6750 errors.
#[derive(Debug, Clone)]
pub struct AuthenticatedUser {
    pub claims: Arc<AccessClaims>,
}

impl AuthenticatedUser {
    /// Authorization, after authentication: the token must grant `scope`.
    pub fn require_scope(&self, scope: &'static str) -> Result<(), AuthError> {
        if self.claims.grants(scope) {
            Ok(())
        } else {
            Err(AuthError::InsufficientScope(scope))
        }
    }
}

impl FromRequestParts<AppState> for AuthenticatedUser {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AuthError> {
        let token = bearer_token(&parts.headers, parts.uri.query())?;
        let claims = state.validator.validate(token).await?;
        Ok(Self { claims })
    }
}

/// The bearer token of a request, or why there is none.
pub fn bearer_token<'a>(headers: &'a HeaderMap, query: Option<&str>) -> Result<&'a str, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        let in_query = query.is_some_and(|q| {
            url::form_urlencoded::parse(q.as_bytes()).any(|(name, _)| name == "access_token")
        });
        return Err(AuthError::MissingToken(if in_query {
            "Tokens in the URL are not accepted: send it as Authorization: Bearer <access token>."
        } else {
            "This endpoint needs an access token: send Authorization: Bearer <access token>."
        }));
    };
    if values.next().is_some() {
        return Err(AuthError::InvalidRequest(
            "The request has more than one Authorization header; send exactly one.",
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| AuthError::InvalidRequest("The Authorization header is not plain ASCII."))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        // RFC 6750 §3.1: a request using another scheme gets no error code.
        return Err(AuthError::MissingToken(
            "This API accepts only Bearer tokens: send Authorization: Bearer <access token>.",
        ));
    }
    let token = rest.trim_matches(' ');
    if token.is_empty() {
        return Err(AuthError::InvalidRequest(
            "The Authorization header says Bearer but carries no token.",
        ));
    }
    if !is_b64token(token) {
        return Err(AuthError::InvalidRequest(
            "The bearer token has characters a token cannot have (RFC 6750 b64token).",
        ));
    }
    Ok(token)
}

/// RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn takes_the_token_whatever_the_scheme_case() {
        for value in [
            "Bearer abc.def.ghi",
            "bearer abc.def.ghi",
            "BEARER  abc.def.ghi ",
        ] {
            assert_eq!(
                bearer_token(&headers(&[value]), None).unwrap(),
                "abc.def.ghi"
            );
        }
    }

    #[test]
    fn missing_or_foreign_scheme_is_missing_credentials() {
        for value in ["Basic dXNlcjpwYXNz", "Token abc", "Bearerabc"] {
            assert!(matches!(
                bearer_token(&headers(&[value]), None),
                Err(AuthError::MissingToken(_))
            ));
        }
        let Err(AuthError::MissingToken(hint)) =
            bearer_token(&HeaderMap::new(), Some("access_token=x"))
        else {
            panic!("expected missing token");
        };
        assert!(hint.contains("URL"));
    }

    #[test]
    fn malformed_headers_are_invalid_requests() {
        for values in [
            &["Bearer a", "Bearer b"][..],
            &["Bearer"],
            &["Bearer   "],
            &["Bearer a b"],
            &["Bearer a\"b"],
            &["Bearer ==="],
        ] {
            assert!(
                matches!(
                    bearer_token(&headers(values), None),
                    Err(AuthError::InvalidRequest(_))
                ),
                "{values:?}"
            );
        }
    }

    #[test]
    fn b64token_allows_padding_only_at_the_end() {
        assert!(is_b64token("abc-._~+/=="));
        assert!(!is_b64token("a=b"));
    }
}
