//! The API's one error type: every error answer it sends, rendered as RFC 6750 says (status,
//! `WWW-Authenticate`) with a JSON body whose message is the variant's `Display`: a sentence a
//! person can act on.

use std::fmt;
use std::time::Duration;

use axum::Json;
use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use shared::ErrorBody;
use shared::oauth::{BearerError, Challenge, Scheme};

use crate::auth::{DpopMode, FetchError, TokenRejection};
use crate::telemetry::{Refusal, current_request_id};

/// The realm named in `WWW-Authenticate` challenges.
pub const REALM: &str = "api";

/// How long a client is asked to wait when the tenant's keys cannot be had, or an answer did
/// not come in time.
const KEYS_RETRY_AFTER: Duration = Duration::from_secs(5);

/// What the configured login flow needs and the provider does not offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsupported {
    /// The code flow needs PKCE with S256.
    NoS256,
    /// The code flow (and refresh tokens) need a token endpoint.
    NoTokenEndpoint,
    /// The implicit flow needs `response_type=token id_token`.
    NoImplicit,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsupported::NoS256 => f.write_str(
                "The provider does not offer PKCE with S256 (its discovery document lists no S256 in code_challenge_methods_supported), which the code flow needs: turn PKCE on at the provider, or set SPA_LOGIN_FLOW=implicit",
            ),
            Unsupported::NoTokenEndpoint => f.write_str(
                "The provider announces no token_endpoint, which the code flow and refresh tokens need: set SPA_LOGIN_FLOW=implicit and SPA_REFRESH_TOKENS=false",
            ),
            Unsupported::NoImplicit => f.write_str(
                "The provider does not answer the implicit flow (no \"token id_token\" in response_types_supported): set SPA_LOGIN_FLOW=code",
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// No usable `Authorization: Bearer` header: 401 with a bare challenge when there are no
    /// bearer credentials at all, 400 `invalid_request` when the header is malformed.
    Credentials(BearerError),
    /// No header, and a token in the query string, where it is never taken from: 401.
    TokenInQuery,
    /// The token is not valid: 401 `invalid_token`.
    InvalidToken(TokenRejection),
    /// The token is valid but does not grant this scope: 403 `insufficient_scope`.
    InsufficientScope(&'static str),
    /// The tenant's keys could not be fetched, so no token can be checked: 503, fail closed.
    /// Why, when the last attempt knows.
    KeysUnavailable(Option<FetchError>),
    /// The token's key is not in the key set fetched a moment ago, and the next fetch may
    /// start only after this long: 503, to be retried then.
    KeyNotFetchableYet(Duration),
    /// `/readyz` before the tenant's keys are loaded: 503, with why, when known.
    NotReady(Option<FetchError>),
    /// The request was not answered within the request timeout: 503.
    RequestTimeout,
    /// No such endpoint: 404.
    NotFound,
    /// `/auth_config.json` without a client ID to hand out: 404.
    NotConfigured,
    /// `/auth_config.json` before an OpenID provider's discovery document could be read:
    /// 503, with why, when known.
    LoginNotReady(Option<FetchError>),
    /// `/auth_config.json` for a provider that cannot serve the configured flow: 500.
    LoginUnsupported(Unsupported),
    /// A DPoP proof, and the API does not know the URL it is reached at (`PUBLIC_URL`): 500.
    DpopUnconfigured,
    /// The DPoP replay cache is full of unexpired proofs: 503 until the oldest expires.
    ReplayCacheFull(Duration),
    /// An authentication or authorization refusal with what its challenge must say (see
    /// [`Challenged`]): the status, code and sentence are the inner error's.
    Challenged(Box<Challenged>),
}

/// A refusal as the extractor makes it: which schemes the API takes (the DPoP mode), which
/// one the client used, and, for `use_dpop_nonce`, the nonce to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenged {
    pub error: ApiError,
    pub mode: DpopMode,
    pub used: Option<Scheme>,
    pub nonce: Option<HeaderValue>,
}

impl ApiError {
    /// This refusal, answered with the challenges of `mode` for a client that used `used`.
    pub fn challenged(
        self,
        mode: DpopMode,
        used: Option<Scheme>,
        nonce: Option<HeaderValue>,
    ) -> Self {
        match self {
            ApiError::Challenged(_) => self,
            error => ApiError::Challenged(Box::new(Challenged {
                error,
                mode,
                used,
                nonce,
            })),
        }
    }

    /// The refusal itself, whatever its challenges.
    pub fn inner(&self) -> &ApiError {
        match self {
            ApiError::Challenged(challenged) => &challenged.error,
            error => error,
        }
    }
}

impl From<TokenRejection> for ApiError {
    fn from(rejection: TokenRejection) -> Self {
        ApiError::InvalidToken(rejection)
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Credentials(error) if !error.is_missing_credentials() => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Credentials(_) | ApiError::TokenInQuery | ApiError::InvalidToken(_) => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::InsufficientScope(_) => StatusCode::FORBIDDEN,
            ApiError::KeysUnavailable(_)
            | ApiError::KeyNotFetchableYet(_)
            | ApiError::NotReady(_)
            | ApiError::LoginNotReady(_)
            | ApiError::RequestTimeout => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::NotFound | ApiError::NotConfigured => StatusCode::NOT_FOUND,
            ApiError::LoginUnsupported(_) | ApiError::DpopUnconfigured => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ApiError::ReplayCacheFull(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Challenged(challenged) => challenged.error.status(),
        }
    }

    /// The machine-readable code of the body: RFC 6750's where there is one.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Credentials(error) if !error.is_missing_credentials() => "invalid_request",
            ApiError::Credentials(_) | ApiError::TokenInQuery => "missing_token",
            ApiError::InvalidToken(TokenRejection::Proof(error)) => error.error_code(),
            ApiError::InvalidToken(_) => "invalid_token",
            ApiError::InsufficientScope(_) => "insufficient_scope",
            ApiError::KeysUnavailable(_)
            | ApiError::KeyNotFetchableYet(_)
            | ApiError::RequestTimeout => "temporarily_unavailable",
            ApiError::NotReady(_) | ApiError::LoginNotReady(_) => "not_ready",
            ApiError::NotFound => "not_found",
            ApiError::NotConfigured
            | ApiError::LoginUnsupported(_)
            | ApiError::DpopUnconfigured => "not_configured",
            ApiError::ReplayCacheFull(_) => "temporarily_unavailable",
            ApiError::Challenged(challenged) => challenged.error.code(),
        }
    }

    /// The `WWW-Authenticate` challenges: one per scheme the API takes (`Bearer`, `DPoP`
    /// with `algs`), the one the client used carrying the error code — only when credentials
    /// came and were refused (RFC 6750 §3.1, RFC 9449 §7.1). Without a [`Challenged`]
    /// context, a Bearer challenge, as an API without DPoP answers.
    pub fn challenge(&self, description: &str) -> Option<String> {
        match self {
            ApiError::Challenged(c) => c.error.challenges(description, c.mode, c.used),
            error => error.challenges(description, DpopMode::Disabled, Some(Scheme::Bearer)),
        }
    }

    fn challenges(
        &self,
        description: &str,
        mode: DpopMode,
        used: Option<Scheme>,
    ) -> Option<String> {
        let (refused, scope) = match self {
            ApiError::Credentials(error) if error.is_missing_credentials() => (false, None),
            ApiError::TokenInQuery => (false, None),
            ApiError::Credentials(_) | ApiError::InvalidToken(_) => (true, None),
            ApiError::InsufficientScope(scope) => (true, Some(*scope)),
            _ => return None,
        };
        // The scheme the refusal is about: the one used, or the one the mode points to.
        let about = match self {
            ApiError::InvalidToken(TokenRejection::DpopRequired) => Scheme::DPoP,
            ApiError::InvalidToken(TokenRejection::DpopDisabled) => Scheme::Bearer,
            _ => used.unwrap_or(match mode {
                DpopMode::Required => Scheme::DPoP,
                _ => Scheme::Bearer,
            }),
        };
        let challenge = |scheme: Scheme| {
            let with_error = refused && scheme == about;
            Challenge {
                scheme,
                realm: Some(REALM),
                error: with_error.then(|| self.code()),
                description: with_error.then_some(description),
                scope: scope.filter(|_| with_error),
                algs: (scheme == Scheme::DPoP).then_some(shared::dpop::ALGS),
            }
            .to_string()
        };
        let schemes: &[Scheme] = match mode {
            DpopMode::Disabled => &[Scheme::Bearer],
            DpopMode::Allowed => &[Scheme::Bearer, Scheme::DPoP],
            DpopMode::Required => &[Scheme::DPoP],
        };
        Some(
            schemes
                .iter()
                .map(|s| challenge(*s))
                .collect::<Vec<_>>()
                .join(", "),
        )
    }

    /// A stable name for why the request was refused, for the access log and `/metrics`: the
    /// [`TokenRejection`]'s code for an invalid token, else the body's code. Never anything from
    /// the request.
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::InvalidToken(rejection) => rejection.code(),
            ApiError::Credentials(error) => error.code(),
            ApiError::KeysUnavailable(_) => "keys_unavailable",
            ApiError::KeyNotFetchableYet(_) => "key_not_fetchable_yet",
            ApiError::LoginNotReady(_) => "login_not_ready",
            ApiError::LoginUnsupported(_) => "login_unsupported",
            ApiError::RequestTimeout => "request_timeout",
            ApiError::DpopUnconfigured => "dpop_unconfigured",
            ApiError::ReplayCacheFull(_) => "dpop_replay_cache_full",
            ApiError::Challenged(challenged) => challenged.error.reason(),
            other => other.code(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Credentials(error) => error.fmt(f),
            ApiError::TokenInQuery => f.write_str(
                "Tokens in the URL are not accepted: send it as Authorization: Bearer <access token>.",
            ),
            ApiError::InvalidToken(rejection) => rejection.fmt(f),
            ApiError::InsufficientScope(scope) => write!(
                f,
                "The access token does not grant the {scope} scope. Request it in the login's scope, and in Auth0 grant it to the user (RBAC) or allow it for the application."
            ),
            ApiError::KeysUnavailable(Some(cause)) if cause.is_definitive() => write!(
                f,
                "The API cannot check access tokens: {cause}. Its operator must correct that setting."
            ),
            ApiError::KeysUnavailable(_) => f.write_str(
                "The API cannot check access tokens right now: the tenant's signing keys could not be fetched. Try again shortly.",
            ),
            ApiError::KeyNotFetchableYet(wait) => write!(
                f,
                "The token was signed with a key the API has not seen yet; it may fetch the tenant's keys again in {} s. Try again then.",
                retry_after_secs(*wait)
            ),
            ApiError::NotReady(None) => f.write_str(
                "Not ready: the tenant's signing keys are not loaded yet, so private endpoints answer 503.",
            ),
            ApiError::NotReady(Some(cause)) => write!(
                f,
                "Not ready: the tenant's signing keys are not loaded yet, so private endpoints answer 503. The last attempt: {cause}."
            ),
            ApiError::RequestTimeout => {
                f.write_str("The API could not answer in time. Try again shortly.")
            }
            ApiError::NotFound => f.write_str(
                "No such endpoint: try /api/public, /api/private or /api/private-scoped.",
            ),
            ApiError::NotConfigured => f.write_str(
                "The API has no AUTH0_CLIENT_ID, so it cannot tell the SPA how to log in: set AUTH0_CLIENT_ID to the SPA's client ID.",
            ),
            ApiError::LoginNotReady(None) => f.write_str(
                "The login settings are not ready: the provider's discovery document has not been read yet. Try again shortly.",
            ),
            ApiError::LoginNotReady(Some(cause)) => write!(
                f,
                "The login settings are not ready: the provider could not be read ({cause}). Try again shortly."
            ),
            ApiError::LoginUnsupported(unsupported) => write!(f, "{unsupported}."),
            ApiError::DpopUnconfigured => f.write_str(
                "This API cannot check DPoP proofs: it does not know the URL it is reached at. Its operator must set PUBLIC_URL, e.g. PUBLIC_URL=https://api.example.com.",
            ),
            ApiError::ReplayCacheFull(wait) => write!(
                f,
                "The API has taken as many DPoP proofs as it can remember; new ones are refused for {} s rather than let an old one be replayed. Try again then.",
                retry_after_secs(*wait)
            ),
            ApiError::Challenged(challenged) => challenged.error.fmt(f),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = self.to_string();
        let challenge = self.challenge(&message);
        let body = ErrorBody {
            error: self.code().to_owned(),
            message,
            request_id: current_request_id(),
        };
        let mut response = (status, Json(body)).into_response();
        response.extensions_mut().insert(Refusal(self.reason()));
        let headers = response.headers_mut();
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(WWW_AUTHENTICATE, value);
        }
        if let Some(wait) = self.retry_after() {
            headers.insert(RETRY_AFTER, HeaderValue::from(retry_after_secs(wait)));
        }
        if let ApiError::Challenged(challenged) = &self
            && let Some(nonce) = &challenged.nonce
        {
            headers.insert(shared::dpop::NONCE_HEADER, nonce.clone());
        }
        response
    }
}

impl ApiError {
    /// How long a client should wait before trying again, for answers that say so.
    fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::KeysUnavailable(_)
            | ApiError::RequestTimeout
            | ApiError::LoginNotReady(_) => Some(KEYS_RETRY_AFTER),
            ApiError::KeyNotFetchableYet(wait) | ApiError::ReplayCacheFull(wait) => Some(*wait),
            ApiError::Challenged(challenged) => challenged.error.retry_after(),
            _ => None,
        }
    }
}

/// Whole seconds, rounded up, at least one: `Retry-After` counts in seconds.
fn retry_after_secs(wait: Duration) -> u64 {
    u64::try_from(wait.as_millis().div_ceil(1000))
        .unwrap_or(u64::MAX)
        .max(1)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use shared::dpop::ProofError;

    fn answer(error: ApiError) -> (StatusCode, Option<String>) {
        let response = error.into_response();
        let header = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        (response.status(), header)
    }

    #[test]
    fn no_credentials_get_a_bare_challenge() {
        for error in [
            ApiError::Credentials(BearerError::Missing),
            ApiError::Credentials(BearerError::OtherScheme),
            ApiError::TokenInQuery,
        ] {
            assert_eq!(
                answer(error),
                (
                    StatusCode::UNAUTHORIZED,
                    Some("Bearer realm=\"api\"".into())
                )
            );
        }
    }

    #[test]
    fn malformed_credentials_are_a_bad_request_with_a_challenge() {
        let (status, header) = answer(ApiError::Credentials(BearerError::Repeated));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(header.unwrap().contains("error=\"invalid_request\""));
    }

    #[test]
    fn insufficient_scope_names_the_scope() {
        let (status, header) = answer(ApiError::InsufficientScope("read:messages"));
        assert_eq!(status, StatusCode::FORBIDDEN);
        let header = header.unwrap();
        assert!(header.starts_with("Bearer realm=\"api\", error=\"insufficient_scope\""));
        assert!(header.ends_with("scope=\"read:messages\""));
    }

    #[test]
    fn descriptions_are_made_safe_for_the_header() {
        let rejection = TokenRejection::WrongAudience {
            got: "\"x\" — é".into(),
            expected: "y".into(),
        };
        let (status, header) = answer(ApiError::InvalidToken(rejection));
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(header.unwrap().contains("meant for 'x' ? ?, not"));
    }

    #[test]
    fn unavailable_keys_ask_to_retry_and_not_found_is_json() {
        let response = ApiError::KeysUnavailable(None).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[RETRY_AFTER], "5");
        let later = ApiError::KeyNotFetchableYet(Duration::from_millis(7100)).into_response();
        assert_eq!(later.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(later.headers()[RETRY_AFTER], "8");
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
        assert!(response.headers().get(WWW_AUTHENTICATE).is_none());
        assert_eq!(answer(ApiError::NotFound), (StatusCode::NOT_FOUND, None));
        assert_eq!(ApiError::NotConfigured.code(), "not_configured");
    }

    /// Every [`ProofError`], for the tests that must cover them all.
    pub(crate) fn every_proof_error() -> impl Iterator<Item = ProofError> {
        [
            ProofError::Missing,
            ProofError::Several,
            ProofError::NotAJws,
            ProofError::BadHeader,
            ProofError::WrongType(None),
            ProofError::Algorithm(None),
            ProofError::NoKey,
            ProofError::PrivateKey,
            ProofError::BadKey,
            ProofError::BadSignature,
            ProofError::BadClaims,
            ProofError::Method {
                got: "POST".into(),
                expected: "GET".into(),
            },
            ProofError::Uri {
                got: "a".into(),
                expected: "b".into(),
            },
            ProofError::TooOld,
            ProofError::FromTheFuture,
            ProofError::NoAth,
            ProofError::WrongAth,
            ProofError::Replayed,
            ProofError::KeyMismatch,
            ProofError::NonceRequired,
            ProofError::StaleNonce,
        ]
        .into_iter()
    }

    fn challenge_of(error: ApiError, mode: DpopMode, used: Option<Scheme>) -> String {
        let response = error.challenged(mode, used, None).into_response();
        response.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn the_dpop_mode_says_which_challenges_and_the_scheme_used_carries_the_error() {
        let missing = || ApiError::Credentials(BearerError::Missing);
        let algs = "algs=\"ES256 EdDSA PS256 RS256\"";
        assert_eq!(
            challenge_of(missing(), DpopMode::Allowed, None),
            format!("Bearer realm=\"api\", DPoP realm=\"api\", {algs}")
        );
        assert_eq!(
            challenge_of(missing(), DpopMode::Required, None),
            format!("DPoP realm=\"api\", {algs}")
        );
        assert_eq!(
            challenge_of(missing(), DpopMode::Disabled, None),
            "Bearer realm=\"api\""
        );
        // A refused DPoP proof: the error on the DPoP challenge, the Bearer one bare.
        let proof = ApiError::InvalidToken(TokenRejection::Proof(ProofError::Replayed));
        let header = challenge_of(proof.clone(), DpopMode::Allowed, Some(Scheme::DPoP));
        assert!(
            header.starts_with(
                "Bearer realm=\"api\", DPoP realm=\"api\", error=\"invalid_dpop_proof\""
            ),
            "{header}"
        );
        assert!(header.ends_with(algs), "{header}");
        assert_eq!(proof.code(), "invalid_dpop_proof");
        let nonce = ApiError::InvalidToken(TokenRejection::Proof(ProofError::NonceRequired));
        assert_eq!(nonce.code(), "use_dpop_nonce");
        // A bearer token to a DPoP-only API: the DPoP challenge says why.
        let required = ApiError::InvalidToken(TokenRejection::DpopRequired);
        let header = challenge_of(required, DpopMode::Required, Some(Scheme::Bearer));
        assert!(
            header.starts_with("DPoP realm=\"api\", error=\"invalid_token\""),
            "{header}"
        );
        // And insufficient scope with a DPoP token.
        let scope = ApiError::InsufficientScope("read:messages");
        let header = challenge_of(scope, DpopMode::Allowed, Some(Scheme::DPoP));
        assert!(
            header.contains("DPoP realm=\"api\", error=\"insufficient_scope\""),
            "{header}"
        );
        assert!(header.starts_with("Bearer realm=\"api\", DPoP"), "{header}");
    }

    #[test]
    fn a_nonce_refusal_hands_out_the_nonce_and_a_full_replay_cache_says_when() {
        let error = ApiError::InvalidToken(TokenRejection::Proof(ProofError::StaleNonce))
            .challenged(
                DpopMode::Allowed,
                Some(Scheme::DPoP),
                Some(HeaderValue::from_static("n-1")),
            );
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["dpop-nonce"], "n-1");
        let full = ApiError::ReplayCacheFull(Duration::from_secs(9)).into_response();
        assert_eq!(full.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(full.headers()[RETRY_AFTER], "9");
        assert_eq!(
            ApiError::DpopUnconfigured.status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}

/// Every sentence the API can answer with, pinned in one place: a rewording changes this list
/// and nothing else; every other test matches variants.
#[cfg(test)]
mod golden {
    use super::*;
    use TokenRejection::*;
    use shared::dpop::ProofError;

    #[test]
    fn every_refusal_reads_as_written() {
        let audience = || "https://quickstarts/api".to_owned();
        let cases: Vec<(ApiError, &str)> = vec![
            (
                ApiError::Credentials(BearerError::Missing),
                "This endpoint needs an access token: send Authorization: Bearer <access token>.",
            ),
            (
                ApiError::Credentials(BearerError::OtherScheme),
                "This API accepts only Bearer and DPoP tokens: send Authorization: Bearer <access token>.",
            ),
            (
                ApiError::Credentials(BearerError::Repeated),
                "The request has more than one Authorization header; send exactly one.",
            ),
            (
                ApiError::Credentials(BearerError::NotAscii),
                "The Authorization header is not plain ASCII.",
            ),
            (
                ApiError::Credentials(BearerError::Empty),
                "The Authorization header names a scheme but carries no token.",
            ),
            (
                ApiError::Credentials(BearerError::NotB64Token),
                "The access token has characters a token cannot have (RFC 6750 b64token).",
            ),
            (
                ApiError::TokenInQuery,
                "Tokens in the URL are not accepted: send it as Authorization: Bearer <access token>.",
            ),
            (
                Opaque.into(),
                "The access token is opaque, not a JWT: Auth0 issues those when no audience is requested. Request the token with an audience set to this API's identifier.",
            ),
            (
                Encrypted.into(),
                "The access token is encrypted (JWE): Auth0 issues these when no audience is requested. Request the token with an audience set to this API's identifier.",
            ),
            (
                MalformedHeader.into(),
                "The access token is malformed: its header is not base64url-encoded JSON.",
            ),
            (
                Crit.into(),
                "The access token declares critical header extensions (crit) this API does not support.",
            ),
            (
                Unsigned.into(),
                "The access token is unsigned (alg none); this API accepts only RS256.",
            ),
            (
                Hmac("HS256".into()).into(),
                "The access token is signed with HS256; this API accepts only RS256. In Auth0, set the API's signing algorithm to RS256.",
            ),
            (
                NotRs256.into(),
                "The access token is not signed with RS256, the only algorithm this API accepts.",
            ),
            (
                NoKid.into(),
                "The access token has no key ID (kid) in its header, so no tenant key can verify it.",
            ),
            (
                UnknownKid.into(),
                "The token was signed with a key your tenant does not publish (unknown kid). Get a new token from your tenant.",
            ),
            (
                NotAnAccessToken {
                    typ: "dpop+jwt".into(),
                }
                .into(),
                "The token's type is dpop+jwt, not an access token's (JWT or at+jwt): send the access token your tenant issued for this API.",
            ),
            (
                BadSignature.into(),
                "The access token's signature does not verify: it was altered or not issued by your tenant.",
            ),
            (
                Expired.into(),
                "The access token has expired. Log in again to get a new one.",
            ),
            (
                NotYetValid.into(),
                "The access token is not valid yet (nbf is in the future). Check the clocks of the tenant and this server.",
            ),
            (
                WrongIssuer {
                    trusted: "https://t/".into(),
                    got: None,
                }
                .into(),
                "The access token was issued by another tenant than this API trusts (https://t/).",
            ),
            (
                WrongIssuer {
                    trusted: "https://t/".into(),
                    got: Some("https://other/".into()),
                }
                .into(),
                "The access token was issued by https://other/, not by the tenant this API trusts (https://t/): log in with that tenant, or set the API's AUTH0_DOMAIN or AUTH0_ISSUER to the token's issuer.",
            ),
            (
                MissingClaim("sub".into()).into(),
                "The access token has no valid `sub` claim; an access token needs iss, sub, aud and exp.",
            ),
            (
                BadClaims.into(),
                "The access token's claims are not those of an access token: it needs iss, sub and aud (a string or an array of strings), a numeric exp, and scope as one space-delimited string.",
            ),
            (
                Malformed.into(),
                "The access token is malformed: it is not a JWT this API can read.",
            ),
            (
                IdToken {
                    audience: "abc".into(),
                }
                .into(),
                "This is an ID token (its audience is the client ID abc): send the access token, not the ID token.",
            ),
            (
                WrongAudience {
                    got: "https://other".into(),
                    expected: audience(),
                }
                .into(),
                "The access token is meant for https://other, not for this API: request it with audience=https://quickstarts/api.",
            ),
            (
                ApiError::InsufficientScope("read:messages"),
                "The access token does not grant the read:messages scope. Request it in the login's scope, and in Auth0 grant it to the user (RBAC) or allow it for the application.",
            ),
            (
                ApiError::KeysUnavailable(None),
                "The API cannot check access tokens right now: the tenant's signing keys could not be fetched. Try again shortly.",
            ),
            (
                ApiError::KeysUnavailable(Some(FetchError::Timeout)),
                "The API cannot check access tokens right now: the tenant's signing keys could not be fetched. Try again shortly.",
            ),
            (
                ApiError::KeysUnavailable(Some(FetchError::IssuerMismatch {
                    got: "https://id/".into(),
                    expected: "https://id".into(),
                })),
                "The API cannot check access tokens: the discovery document names the issuer \"https://id/\", not the configured \"https://id\": set AUTH0_ISSUER=https://id/ (tokens carry it in iss exactly so). Its operator must correct that setting.",
            ),
            (
                ApiError::KeyNotFetchableYet(Duration::from_millis(2500)),
                "The token was signed with a key the API has not seen yet; it may fetch the tenant's keys again in 3 s. Try again then.",
            ),
            (
                ApiError::NotReady(None),
                "Not ready: the tenant's signing keys are not loaded yet, so private endpoints answer 503.",
            ),
            (
                ApiError::NotReady(Some(FetchError::Timeout)),
                "Not ready: the tenant's signing keys are not loaded yet, so private endpoints answer 503. The last attempt: the keys did not come in time.",
            ),
            (
                ApiError::NotFound,
                "No such endpoint: try /api/public, /api/private or /api/private-scoped.",
            ),
            (
                ApiError::NotConfigured,
                "The API has no AUTH0_CLIENT_ID, so it cannot tell the SPA how to log in: set AUTH0_CLIENT_ID to the SPA's client ID.",
            ),
            (
                ApiError::LoginNotReady(None),
                "The login settings are not ready: the provider's discovery document has not been read yet. Try again shortly.",
            ),
            (
                ApiError::LoginNotReady(Some(FetchError::Timeout)),
                "The login settings are not ready: the provider could not be read (the keys did not come in time). Try again shortly.",
            ),
            (
                ApiError::LoginUnsupported(Unsupported::NoS256),
                "The provider does not offer PKCE with S256 (its discovery document lists no S256 in code_challenge_methods_supported), which the code flow needs: turn PKCE on at the provider, or set SPA_LOGIN_FLOW=implicit.",
            ),
            (
                ApiError::LoginUnsupported(Unsupported::NoTokenEndpoint),
                "The provider announces no token_endpoint, which the code flow and refresh tokens need: set SPA_LOGIN_FLOW=implicit and SPA_REFRESH_TOKENS=false.",
            ),
            (
                ApiError::LoginUnsupported(Unsupported::NoImplicit),
                "The provider does not answer the implicit flow (no \"token id_token\" in response_types_supported): set SPA_LOGIN_FLOW=code.",
            ),
            (
                BoundAsBearer.into(),
                "This access token is bound to a key (DPoP, cnf.jkt), so it is not taken as a bearer token: send it as Authorization: DPoP <token>, with a DPoP proof made with that key.",
            ),
            (
                NotBound.into(),
                "This access token is not bound to a key (no cnf.jkt), so it cannot be sent as DPoP: send it as Authorization: Bearer <token>, or get a DPoP-bound token by sending a DPoP proof to the token endpoint.",
            ),
            (
                ProofWithBearer.into(),
                "A DPoP proof came with a bearer token: send the DPoP-bound token as Authorization: DPoP <token>, or a bearer token without a DPoP header.",
            ),
            (
                DpopRequired.into(),
                "This API takes DPoP-bound tokens only (DPOP=required): get a token with a DPoP proof at the token endpoint and send it as Authorization: DPoP <token> with a proof.",
            ),
            (
                DpopDisabled.into(),
                "This API does not take DPoP tokens (DPOP=disabled): send a bearer token as Authorization: Bearer <token>.",
            ),
            (
                Proof(ProofError::Replayed).into(),
                "This DPoP proof was used before (same jti): make a fresh proof for each request.",
            ),
            (
                ApiError::DpopUnconfigured,
                "This API cannot check DPoP proofs: it does not know the URL it is reached at. Its operator must set PUBLIC_URL, e.g. PUBLIC_URL=https://api.example.com.",
            ),
            (
                ApiError::ReplayCacheFull(Duration::from_millis(1500)),
                "The API has taken as many DPoP proofs as it can remember; new ones are refused for 2 s rather than let an old one be replayed. Try again then.",
            ),
        ];
        for (error, sentence) in cases {
            assert_eq!(error.to_string(), sentence, "{error:?}");
        }
    }
}
