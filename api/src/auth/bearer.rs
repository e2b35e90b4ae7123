//! RFC 6750 §2.1: the access token comes from the `Authorization: Bearer` header, and only
//! from there — never from the query string, a cookie or a body, where it would leak into
//! logs, caches and other sites' requests.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use shared::oauth::BearerError;

use super::claims::AccessClaims;
use super::token::TokenValidator;
use super::verified::ConnectionMemo;
use crate::error::ApiError;

/// A caller whose access token is valid: taking one as a handler argument makes the route
/// private. Rejections are RFC 6750 errors.
#[derive(Debug, Clone)]
pub struct AuthenticatedUser {
    pub claims: Arc<AccessClaims>,
}

impl AuthenticatedUser {
    /// Authorization, after authentication: the token must grant `scope`.
    pub fn require_scope(&self, scope: &'static str) -> Result<(), ApiError> {
        if self.claims.grants(scope) {
            Ok(())
        } else {
            Err(ApiError::InsufficientScope(scope))
        }
    }
}

/// Works in any app whose state hands out the validator (axum's `FromRef`), so this module
/// needs nothing from the app around it.
impl<S> FromRequestParts<S> for AuthenticatedUser
where
    Arc<TokenValidator>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers, parts.uri.query())?;
        let validator = Arc::<TokenValidator>::from_ref(state);
        // The server gives each connection a memo of its last token (see `server`).
        let connection = ConnectionMemo::current();
        let claims = validator.validate_on(token, connection.as_deref()).await?;
        Ok(Self { claims })
    }
}

/// The bearer token of a request, or why there is none. A token put in the query string is
/// never used, but named, so the sender learns where it goes.
pub fn bearer_token<'a>(headers: &'a HeaderMap, query: Option<&str>) -> Result<&'a str, ApiError> {
    let values = headers.get_all(AUTHORIZATION).iter().map(|v| v.as_bytes());
    shared::oauth::bearer_token(values).map_err(|error| {
        let in_query = query.is_some_and(|q| {
            url::form_urlencoded::parse(q.as_bytes()).any(|(name, _)| name == "access_token")
        });
        match error {
            BearerError::Missing if in_query => ApiError::TokenInQuery,
            error => ApiError::Credentials(error),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn a_token_in_the_query_is_named_never_used() {
        assert_eq!(
            bearer_token(&HeaderMap::new(), Some("a=1&access_token=x")),
            Err(ApiError::TokenInQuery)
        );
        assert_eq!(
            bearer_token(&HeaderMap::new(), Some("a=1")),
            Err(ApiError::Credentials(BearerError::Missing))
        );
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(bearer_token(&headers, Some("access_token=x")), Ok("abc"));
    }
}
