//! Access-token validation: RFC 6750 bearer tokens that are RFC 9068 JWT access tokens, checked
//! the way RFC 8725 (JWT best current practices) asks. In order: the header (shape, type,
//! algorithm, `kid`), the issuer the token claims (a token of another tenant is named as such
//! before any key is looked for), the tenant's key by `kid`, the signature, the claims.
//!
//! Tokens that pass are remembered ([`super::verified`]): a token sent again skips all this if
//! validation would let it through now.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use shared::jwt::{Audience, Jws, JwsError};

use super::claims::{AccessClaims, Provenance, TokenClaims};
use super::jwks::{JwksCache, KeyError};
use super::rejection::TokenRejection;
use super::verified::{CacheCounts, ConnectionMemo, Recall, VerifiedTokens};
use crate::error::ApiError;

/// What a valid token must say, and how much the API remembers. [`ValidationSettings::new`]
/// carries the documented defaults.
#[derive(Debug, Clone)]
pub struct ValidationSettings {
    /// The exact `iss` tokens must carry, e.g. `https://example.us.auth0.com/`.
    pub issuer: String,
    /// The API identifier that `aud` must contain.
    pub audience: String,
    /// Clock skew tolerated on `exp` and `nbf`. Defaults to 5 s (express-oauth2-jwt-bearer's).
    pub leeway: Duration,
    /// How many verified tokens to remember (0: none). Defaults to 10 000.
    pub cache_size: usize,
}

impl ValidationSettings {
    pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(5);
    pub const DEFAULT_CACHE_SIZE: usize = 10_000;

    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: Self::DEFAULT_LEEWAY,
            cache_size: Self::DEFAULT_CACHE_SIZE,
        }
    }
}

/// Validates access tokens for one issuer and audience.
pub struct TokenValidator {
    settings: ValidationSettings,
    jwks: JwksCache,
    validation: Validation,
    client_id: Option<String>,
    verified: VerifiedTokens,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl TokenValidator {
    pub fn new(settings: ValidationSettings, jwks: JwksCache, client_id: Option<String>) -> Self {
        // RS256 only, from this allow-list; never from the token's header.
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = settings.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        // jsonwebtoken skips absent claims unless they are required.
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[&settings.issuer]);
        // `aud` is checked below, so that a mismatch can say which token was sent instead.
        validation.validate_aud = false;
        Self {
            verified: VerifiedTokens::new(settings.cache_size),
            settings,
            jwks,
            validation,
            client_id,
        }
    }

    /// How many verified tokens are remembered now.
    pub fn cached_tokens(&self) -> usize {
        self.verified.len()
    }

    /// Hits and misses of the verified-token caches since start.
    pub fn cache_counts(&self) -> &CacheCounts {
        &self.verified.counts
    }

    pub fn jwks(&self) -> &JwksCache {
        &self.jwks
    }

    pub fn settings(&self) -> &ValidationSettings {
        &self.settings
    }

    pub async fn validate(&self, token: &str) -> Result<Arc<AccessClaims>, ApiError> {
        self.validate_on(token, None).await
    }

    /// [`TokenValidator::validate`], for a request of a connection that remembers the last
    /// token it sent: the same token again is recognized by comparing it, without hashing it
    /// for the shared cache (the one cost left on a hit).
    pub async fn validate_on(
        &self,
        token: &str,
        connection: Option<&ConnectionMemo>,
    ) -> Result<Arc<AccessClaims>, ApiError> {
        let digest = {
            let still_valid = |claims: &AccessClaims| self.still_valid(claims);
            let now = Recall {
                generation: self.jwks.generation(),
                still_valid: &still_valid,
            };
            match self.verified.recall(token, connection, &now) {
                Ok(claims) => return Ok(claims),
                Err(digest) => digest,
            }
        };
        let (claims, generation) = self.verify(token).await?;
        Ok(self
            .verified
            .remember(token, digest, connection, claims, generation))
    }

    /// The time checks validation makes, for a token verified earlier.
    fn still_valid(&self, claims: &AccessClaims) -> bool {
        let now = now();
        let leeway = self.settings.leeway.as_secs();
        claims.exp.0 >= now.saturating_sub(leeway)
            && claims
                .nbf
                .is_none_or(|nbf| nbf.0 <= now.saturating_add(leeway))
    }

    /// The full validation: header, the issuer it claims, key, signature, claims.
    async fn verify(&self, token: &str) -> Result<(AccessClaims, u64), ApiError> {
        let kid = checked_header(token)?;
        // Read unverified, only to refuse early and to say why: a token of another tenant is
        // named so, instead of sending the API after a key its tenant never had.
        let provenance = provenance(token);
        if let Some(iss) = &provenance.iss
            && *iss != self.settings.issuer
        {
            return Err(TokenRejection::WrongIssuer {
                trusted: self.settings.issuer.clone(),
                got: Some(clip(iss)),
            }
            .into());
        }
        let issued_at = provenance.iat.map(|iat| iat.0);
        let (key, generation) = self.jwks.key(&kid, issued_at).await.map_err(|e| match e {
            KeyError::UnknownKid => ApiError::InvalidToken(TokenRejection::UnknownKid),
            KeyError::NotFetchableYet(wait) => ApiError::KeyNotFetchableYet(wait),
            KeyError::Unavailable(cause) => ApiError::KeysUnavailable(cause),
        })?;
        let claims = jsonwebtoken::decode::<TokenClaims>(token, &key, &self.validation)
            .map_err(|e| self.rejection(e.kind()))?
            .claims;
        if claims
            .aud
            .as_ref()
            .is_some_and(|aud| !aud.contains(&self.settings.audience))
        {
            return Err(self.wrong_audience(&claims).into());
        }
        Ok((claims.into_access_claims()?, generation))
    }

    fn rejection(&self, kind: &ErrorKind) -> TokenRejection {
        match kind {
            ErrorKind::ExpiredSignature => TokenRejection::Expired,
            ErrorKind::ImmatureSignature => TokenRejection::NotYetValid,
            ErrorKind::InvalidIssuer => TokenRejection::WrongIssuer {
                trusted: self.settings.issuer.clone(),
                got: None,
            },
            ErrorKind::InvalidSignature => TokenRejection::BadSignature,
            ErrorKind::MissingRequiredClaim(claim) | ErrorKind::InvalidClaimFormat(claim) => {
                TokenRejection::MissingClaim(claim.clone())
            }
            ErrorKind::Json(_) => TokenRejection::BadClaims,
            _ => TokenRejection::Malformed,
        }
    }

    fn wrong_audience(&self, claims: &TokenClaims) -> TokenRejection {
        let aud = claims.aud.as_ref();
        let got = aud
            .and_then(Audience::first)
            .unwrap_or("nothing")
            .to_owned();
        let is_client_id = self
            .client_id
            .as_deref()
            .is_some_and(|id| aud.is_some_and(|aud| aud.contains(id)));
        if claims.nonce.is_some() || is_client_id || looks_like_client_id(&got) {
            return TokenRejection::IdToken { audience: got };
        }
        TokenRejection::WrongAudience {
            got,
            expected: self.settings.audience.clone(),
        }
    }
}

/// What the token claims about its issuer and issue time, unverified; nothing when the payload
/// cannot be read (the validation then says why).
fn provenance(token: &str) -> Provenance {
    Jws::split(token)
        .ok()
        .and_then(|jws| URL_SAFE_NO_PAD.decode(jws.payload).ok())
        .and_then(|payload| serde_json::from_slice(&payload).ok())
        .unwrap_or_default()
}

/// Someone else's text, short enough to quote in an answer.
fn clip(text: &str) -> String {
    const MOST: usize = 200;
    match text.char_indices().nth(MOST) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// Auth0 client IDs are 32 alphanumeric characters, unlike API identifiers, which are URIs.
fn looks_like_client_id(aud: &str) -> bool {
    aud.len() == 32 && aud.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Checks the token's shape and header and returns its `kid`. The header is read here, not
/// trusted: `alg` must be RS256, and `jwk`, `jku`, `x5u` and `x5c` are never looked at.
pub fn checked_header(token: &str) -> Result<String, TokenRejection> {
    let header = Jws::split(token)
        .and_then(|jws| jws.header())
        .map_err(|e| match e {
            JwsError::Encrypted => TokenRejection::Encrypted,
            JwsError::NotAJws => TokenRejection::Opaque,
            JwsError::BadHeader => TokenRejection::MalformedHeader,
        })?;
    if header.has_crit() {
        // jsonwebtoken ignores `crit`, so it is checked here.
        return Err(TokenRejection::Crit);
    }
    check_type(header.typ())?;
    match header.alg() {
        Some("RS256") => {}
        Some("none") => return Err(TokenRejection::Unsigned),
        Some(alg) if alg.starts_with("HS") => return Err(TokenRejection::Hmac(alg.to_owned())),
        _ => return Err(TokenRejection::NotRs256),
    }
    header.kid().map(str::to_owned).ok_or(TokenRejection::NoKid)
}

/// RFC 8725 §3.11 (explicit typing): a JWS of another type that happens to name this API in
/// its `aud` (`dpop+jwt`, `logout+jwt`, ...) is not an access token. Auth0 types its access
/// tokens `JWT` (or `at+jwt`, with the RFC 9068 profile); no `typ` is accepted too.
fn check_type(typ: Option<&str>) -> Result<(), TokenRejection> {
    match typ {
        None => Ok(()),
        Some(typ)
            if ["JWT", "at+jwt", "application/at+jwt"]
                .iter()
                .any(|t| t.eq_ignore_ascii_case(typ)) =>
        {
            Ok(())
        }
        Some(typ) => Err(TokenRejection::NotAnAccessToken {
            typ: typ.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn token_with_header(header: serde_json::Value) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode("{}")
        )
    }

    #[test]
    fn header_gives_the_kid_of_an_rs256_token() {
        let token = token_with_header(json!({"alg": "RS256", "typ": "JWT", "kid": "k1"}));
        assert_eq!(checked_header(&token).unwrap(), "k1");
    }

    #[test]
    fn header_refuses_other_algorithms_crit_and_missing_kid() {
        use TokenRejection::*;
        for (header, rejection) in [
            (json!({"alg": "none", "kid": "k"}), Unsigned),
            (json!({"alg": "HS256", "kid": "k"}), Hmac("HS256".into())),
            (json!({"alg": "rs256", "kid": "k"}), NotRs256),
            (json!({"alg": ["RS256"], "kid": "k"}), NotRs256),
            (json!({"kid": "k"}), NotRs256),
            (json!({"alg": "RS256", "kid": "k", "crit": ["exp"]}), Crit),
            (json!({"alg": "RS256"}), NoKid),
            (json!({"alg": "RS256", "kid": 7}), NoKid),
            (json!({"alg": "RS256", "kid": ""}), NoKid),
        ] {
            let token = token_with_header(header.clone());
            assert_eq!(checked_header(&token), Err(rejection), "{header}");
        }
    }

    #[test]
    fn only_access_token_types_are_accepted() {
        for typ in [
            json!("JWT"),
            json!("jwt"),
            json!("at+jwt"),
            json!("Application/AT+JWT"),
        ] {
            let token = token_with_header(json!({"alg": "RS256", "kid": "k", "typ": typ}));
            assert_eq!(checked_header(&token).as_deref(), Ok("k"), "{typ}");
        }
        for typ in ["dpop+jwt", "logout+jwt", "secevent+jwt", "JWE"] {
            let token = token_with_header(json!({"alg": "RS256", "kid": "k", "typ": typ}));
            assert_eq!(
                checked_header(&token),
                Err(TokenRejection::NotAnAccessToken { typ: typ.into() }),
                "{typ}"
            );
        }
    }

    #[test]
    fn opaque_and_encrypted_tokens_are_told_apart() {
        for token in ["8mOZ3vD0HqQZOuG1Lr1Ss7QLR0F-Cz3o", "a.b", ""] {
            assert_eq!(
                checked_header(token),
                Err(TokenRejection::Opaque),
                "{token}"
            );
        }
        assert_eq!(checked_header("a.b.c.d.e"), Err(TokenRejection::Encrypted));
    }

    #[test]
    fn garbage_header_is_malformed_not_a_crash() {
        for token in ["%%%.b.c", "bm90IGpzb24.b.c", "W10.b.c", ".."] {
            assert_eq!(
                checked_header(token),
                Err(TokenRejection::MalformedHeader),
                "{token}"
            );
        }
    }

    #[test]
    fn client_ids_look_like_auth0_client_ids() {
        assert!(looks_like_client_id("aBcDeFgHiJkLmNoPqRsTuVwXyZ012345"));
        assert!(!looks_like_client_id("https://quickstarts/api"));
        assert!(
            !looks_like_client_id("aBcDeFgHiJkLmNoPqRsTuVwXyZ01234"),
            "31"
        );
        assert!(
            !looks_like_client_id("aBcDeFgHiJkLmNoPqRsTuVwXyZ0123-5"),
            "a dash"
        );
    }

    #[test]
    fn someone_elses_issuer_is_quoted_short() {
        assert_eq!(clip("https://a/"), "https://a/");
        let long = "é".repeat(300);
        assert_eq!(clip(&long).chars().count(), 201);
    }
}
