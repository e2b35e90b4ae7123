//! The access token of a request, and the order its checks run in. It comes from the
//! `Authorization` header only — never from the query string, a cookie or a body, where it
//! would leak into logs, caches and other sites' requests — as `Bearer <token>` (RFC 6750) or
//! `DPoP <token>` with a `DPoP` proof (RFC 9449), as the DPoP mode allows.
//!
//! In order: the header; the scheme against the mode (and no proof beside a bearer token);
//! the token ([`TokenValidator`], its caches); its binding against the scheme (a bound token
//! is never taken as a bearer token); for DPoP, the proof ([`DpopChecker`]). Every refusal
//! carries the challenges of the mode and the scheme used ([`ApiError::challenged`]).

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use shared::oauth::{BearerError, Scheme};

use super::claims::AccessClaims;
use super::dpop::{DpopChecker, DpopMode};
use super::rejection::TokenRejection;
use super::token::TokenValidator;
use super::verified::ConnectionMemo;
use crate::error::ApiError;

/// A caller whose access token is valid: taking one as a handler argument makes the route
/// private. Rejections are RFC 6750 (and RFC 9449) errors.
#[derive(Debug, Clone)]
pub struct AuthenticatedUser {
    pub claims: Arc<AccessClaims>,
    /// How the token came, for the challenge of a refusal after this point.
    scheme: Scheme,
    mode: DpopMode,
}

impl AuthenticatedUser {
    /// Authorization, after authentication: the token must grant `scope`.
    pub fn require_scope(&self, scope: &'static str) -> Result<(), ApiError> {
        if self.claims.grants(scope) {
            Ok(())
        } else {
            Err(ApiError::InsufficientScope(scope).challenged(self.mode, Some(self.scheme), None))
        }
    }
}

/// Works in any app whose state hands out the validator and the DPoP checker (axum's
/// `FromRef`), so this module needs nothing from the app around it.
impl<S> FromRequestParts<S> for AuthenticatedUser
where
    Arc<TokenValidator>: FromRef<S>,
    Arc<DpopChecker>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let dpop = Arc::<DpopChecker>::from_ref(state);
        let mode = dpop.mode();
        let (scheme, token) = access_token(&parts.headers, parts.uri.query())
            .map_err(|e| e.challenged(mode, None, None))?;
        authenticate(parts, state, &dpop, scheme, token)
            .await
            .map(|claims| Self {
                claims,
                scheme,
                mode,
            })
            .map_err(|e| {
                let nonce = (scheme == Scheme::DPoP).then(|| dpop.nonce()).flatten();
                e.challenged(mode, Some(scheme), nonce)
            })
    }
}

async fn authenticate<S>(
    parts: &Parts,
    state: &S,
    dpop: &DpopChecker,
    scheme: Scheme,
    token: &str,
) -> Result<Arc<AccessClaims>, ApiError>
where
    Arc<TokenValidator>: FromRef<S>,
{
    match (scheme, dpop.mode()) {
        (Scheme::DPoP, DpopMode::Disabled) => return Err(TokenRejection::DpopDisabled.into()),
        (Scheme::Bearer, DpopMode::Required) => return Err(TokenRejection::DpopRequired.into()),
        (Scheme::Bearer, _) if parts.headers.contains_key(shared::dpop::DPOP_HEADER) => {
            return Err(TokenRejection::ProofWithBearer.into());
        }
        _ => {}
    }
    let validator = Arc::<TokenValidator>::from_ref(state);
    // The server gives each connection a memo of its last token (see `server`).
    let connection = ConnectionMemo::current();
    let claims = validator.validate_on(token, connection.as_deref()).await?;
    match (scheme, claims.jkt.as_deref()) {
        (Scheme::Bearer, None) => {}
        (Scheme::Bearer, Some(_)) => return Err(TokenRejection::BoundAsBearer.into()),
        (Scheme::DPoP, None) => return Err(TokenRejection::NotBound.into()),
        (Scheme::DPoP, Some(jkt)) => {
            let method = parts.method.as_str();
            dpop.check(&parts.headers, method, parts.uri.path(), token, jkt)?;
        }
    }
    Ok(claims)
}

/// The access token of a request and its scheme, or why there is none. A token put in the
/// query string is never used, but named, so the sender learns where it goes.
pub fn access_token<'a>(
    headers: &'a HeaderMap,
    query: Option<&str>,
) -> Result<(Scheme, &'a str), ApiError> {
    let values = headers.get_all(AUTHORIZATION).iter().map(|v| v.as_bytes());
    shared::oauth::access_token(values).map_err(|error| {
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
            access_token(&HeaderMap::new(), Some("a=1&access_token=x")),
            Err(ApiError::TokenInQuery)
        );
        assert_eq!(
            access_token(&HeaderMap::new(), Some("a=1")),
            Err(ApiError::Credentials(BearerError::Missing))
        );
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(
            access_token(&headers, Some("access_token=x")),
            Ok((Scheme::Bearer, "abc"))
        );
        headers.insert(AUTHORIZATION, HeaderValue::from_static("DPoP abc"));
        assert_eq!(access_token(&headers, None), Ok((Scheme::DPoP, "abc")));
    }
}
