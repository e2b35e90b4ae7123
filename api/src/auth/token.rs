//! Access-token validation: RFC 6750 bearer tokens that are RFC 9068 JWT access tokens, checked
//! the way RFC 8725 (JWT best current practices) asks.
//!
//! Tokens that pass are remembered, so that a client sending the same token again does not pay
//! for another RSA verification (Envoy's jwt_authn keeps such a cache too). A remembered token
//! is only ever let through if validation would let it through now: its `exp` and `nbf` are
//! checked at every hit, and it is forgotten as soon as the tenant's key set changes. Only
//! tokens that passed every check are remembered, so junk cannot fill the cache.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest::{SHA256, digest};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::jwks::{JwksCache, KeyError};
use crate::error::AuthError;

#[derive(Debug, Clone)]
pub struct ValidationSettings {
    /// The exact `iss` tokens must carry, e.g. `https://example.us.auth0.com/`.
    pub issuer: String,
    /// The API identifier that `aud` must contain.
    pub audience: String,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// How many verified tokens to remember (0: none).
    pub cache_size: usize,
}

/// The claims of a valid access token that the API uses.
#[derive(Debug, Clone, Deserialize)]
pub struct AccessClaims {
    pub sub: String,
    pub iss: String,
    pub aud: Audience,
    pub exp: NumericDate,
    pub nbf: Option<NumericDate>,
    pub azp: Option<String>,
    /// Space-delimited scopes (RFC 6749 §3.3, RFC 9068 §2.2.3).
    pub scope: Option<String>,
    /// Auth0 RBAC: with "Add Permissions in the Access Token" on, the user's permissions.
    pub permissions: Option<Vec<String>>,
    /// Only ID tokens carry a nonce; kept to tell the user which token they sent.
    nonce: Option<IgnoredAny>,
}

/// Seconds since the epoch, read as jsonwebtoken reads `exp` and `nbf` (an integer, or a
/// float it rounds), so that the cache's checks agree with the validation's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumericDate(pub u64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = serde_json::Number::deserialize(deserializer)?;
        if let Some(value) = number.as_u64() {
            return Ok(NumericDate(value));
        }
        match number.as_f64() {
            Some(value) if value.is_finite() && value >= 0.0 && value < u64::MAX as f64 => {
                Ok(NumericDate(value.round() as u64))
            }
            _ => Err(serde::de::Error::custom("not a NumericDate")),
        }
    }
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3). Anything else, `null`
/// included, fails to deserialize and so rejects the token.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Audience::One(aud) => aud == audience,
            Audience::Many(auds) => auds.iter().any(|aud| aud == audience),
        }
    }

    fn first(&self) -> Option<&str> {
        match self {
            Audience::One(aud) => Some(aud),
            Audience::Many(auds) => auds.first().map(String::as_str),
        }
    }
}

impl AccessClaims {
    /// Whether the token grants `scope`: an exact, case-sensitive element of the
    /// space-delimited `scope` claim, or of Auth0 RBAC's `permissions` array.
    pub fn grants(&self, scope: &str) -> bool {
        let in_scope = self
            .scope
            .as_deref()
            .is_some_and(|scopes| scopes.split(' ').any(|s| s == scope));
        let in_permissions = self
            .permissions
            .as_ref()
            .is_some_and(|perms| perms.iter().any(|p| p == scope));
        in_scope || in_permissions
    }
}

/// Validates access tokens for one issuer and audience.
pub struct TokenValidator {
    settings: ValidationSettings,
    jwks: JwksCache,
    validation: Validation,
    client_id: Option<String>,
    verified: Option<quick_cache::sync::Cache<TokenDigest, Arc<VerifiedToken>>>,
}

/// SHA-256 of the token: a fixed-size key that no one can make collide with another token.
type TokenDigest = [u8; 32];

struct VerifiedToken {
    claims: Arc<AccessClaims>,
    /// The key set generation its key came from.
    generation: u64,
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
        let verified =
            (settings.cache_size > 0).then(|| quick_cache::sync::Cache::new(settings.cache_size));
        Self {
            settings,
            jwks,
            validation,
            client_id,
            verified,
        }
    }

    /// How many verified tokens are remembered now.
    pub fn cached_tokens(&self) -> usize {
        self.verified.as_ref().map_or(0, |c| c.len())
    }

    pub fn jwks(&self) -> &JwksCache {
        &self.jwks
    }

    pub fn settings(&self) -> &ValidationSettings {
        &self.settings
    }

    pub async fn validate(&self, token: &str) -> Result<Arc<AccessClaims>, AuthError> {
        let Some(cache) = &self.verified else {
            return self.verify(token).await.map(|(claims, _)| Arc::new(claims));
        };
        let digest: TokenDigest = digest(&SHA256, token.as_bytes())
            .as_ref()
            .try_into()
            .expect("SHA-256 is 32 bytes");
        if let Some(hit) = cache.get(&digest)
            && hit.generation == self.jwks.generation()
            && self.still_valid(&hit.claims)
        {
            return Ok(hit.claims.clone());
        }
        let (claims, generation) = self.verify(token).await?;
        let claims = Arc::new(claims);
        cache.insert(
            digest,
            Arc::new(VerifiedToken {
                claims: claims.clone(),
                generation,
            }),
        );
        Ok(claims)
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

    /// The full validation: header, key, signature, claims.
    async fn verify(&self, token: &str) -> Result<(AccessClaims, u64), AuthError> {
        let kid = checked_header(token)?;
        let (key, generation) = self.jwks.key(&kid).await.map_err(|e| match e {
            KeyError::UnknownKid => AuthError::invalid_token(
                "The token was signed with a key your tenant does not publish (unknown kid). Get a new token from your tenant.",
            ),
            KeyError::Unavailable => AuthError::KeysUnavailable,
        })?;
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &key, &self.validation)
            .map_err(|e| self.describe(e.kind()))?
            .claims;
        if !claims.aud.contains(&self.settings.audience) {
            return Err(self.wrong_audience(&claims));
        }
        Ok((claims, generation))
    }

    fn describe(&self, kind: &ErrorKind) -> AuthError {
        let message = match kind {
            ErrorKind::ExpiredSignature => {
                "The access token has expired. Log in again to get a new one.".to_owned()
            }
            ErrorKind::ImmatureSignature => {
                "The access token is not valid yet (nbf is in the future). Check the clocks of the tenant and this server.".to_owned()
            }
            ErrorKind::InvalidIssuer => format!(
                "The access token was issued by another tenant than this API trusts ({}).",
                self.settings.issuer
            ),
            ErrorKind::InvalidSignature => {
                "The access token's signature does not verify: it was altered or not issued by your tenant.".to_owned()
            }
            ErrorKind::MissingRequiredClaim(claim) | ErrorKind::InvalidClaimFormat(claim) => {
                format!(
                    "The access token has no valid `{claim}` claim; an access token needs iss, sub, aud and exp."
                )
            }
            ErrorKind::InvalidAlgorithm => {
                "The access token is not signed with RS256, the only algorithm this API accepts.".to_owned()
            }
            ErrorKind::Json(_) => {
                "The access token's claims are not those of an access token: it needs iss, sub and aud (a string or an array of strings), a numeric exp, and scope as one space-delimited string.".to_owned()
            }
            _ => "The access token is malformed: it is not a JWT this API can read.".to_owned(),
        };
        AuthError::InvalidToken(message)
    }

    fn wrong_audience(&self, claims: &AccessClaims) -> AuthError {
        let expected = &self.settings.audience;
        let got = claims.aud.first().unwrap_or("nothing");
        let is_client_id = self
            .client_id
            .as_deref()
            .is_some_and(|id| claims.aud.contains(id));
        if claims.nonce.is_some() || is_client_id || looks_like_client_id(got) {
            return AuthError::invalid_token(format!(
                "This is an ID token (its audience is the client ID {got}): send the access token, not the ID token."
            ));
        }
        AuthError::invalid_token(format!(
            "The access token is meant for {got}, not for this API: request it with audience={expected}."
        ))
    }
}

/// Auth0 client IDs are 32 alphanumeric characters, unlike API identifiers, which are URIs.
fn looks_like_client_id(aud: &str) -> bool {
    aud.len() == 32 && aud.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// What the API reads of a JWS header before choosing a key.
#[derive(Deserialize)]
struct RawHeader {
    alg: Option<serde_json::Value>,
    kid: Option<serde_json::Value>,
    crit: Option<IgnoredAny>,
}

/// Checks the token's shape and header and returns its `kid`. The header is read here, not
/// trusted: `alg` must be RS256, and `jwk`, `jku`, `x5u` and `x5c` are never looked at.
pub fn checked_header(token: &str) -> Result<String, AuthError> {
    let segments = token.split('.').count();
    if segments == 5 {
        return Err(AuthError::invalid_token(
            "The access token is encrypted (JWE): Auth0 issues these when no audience is requested. Request the token with an audience set to this API's identifier.",
        ));
    }
    if segments != 3 {
        return Err(AuthError::invalid_token(
            "The access token is opaque, not a JWT: Auth0 issues those when no audience is requested. Request the token with an audience set to this API's identifier.",
        ));
    }
    let encoded = token.split('.').next().unwrap_or_default();
    let header: RawHeader = URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| {
            AuthError::invalid_token(
                "The access token is malformed: its header is not base64url-encoded JSON.",
            )
        })?;
    if header.crit.is_some() {
        // RFC 7515 §4.1.11: a recipient that does not understand a critical extension must
        // reject the token. jsonwebtoken ignores `crit`, so it is checked here.
        return Err(AuthError::invalid_token(
            "The access token declares critical header extensions (crit) this API does not support.",
        ));
    }
    match header.alg.as_ref().and_then(|alg| alg.as_str()) {
        Some("RS256") => {}
        Some("none") => {
            return Err(AuthError::invalid_token(
                "The access token is unsigned (alg none); this API accepts only RS256.",
            ));
        }
        Some(alg) if alg.starts_with("HS") => {
            return Err(AuthError::invalid_token(format!(
                "The access token is signed with {alg}; this API accepts only RS256. In Auth0, set the API's signing algorithm to RS256."
            )));
        }
        _ => {
            return Err(AuthError::invalid_token(
                "The access token is not signed with RS256, the only algorithm this API accepts.",
            ));
        }
    }
    match header.kid {
        Some(serde_json::Value::String(kid)) if !kid.is_empty() => Ok(kid),
        _ => Err(AuthError::invalid_token(
            "The access token has no key ID (kid) in its header, so no tenant key can verify it.",
        )),
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

    fn message(error: AuthError) -> String {
        match error {
            AuthError::InvalidToken(message) => message,
            other => panic!("expected invalid_token, got {other:?}"),
        }
    }

    #[test]
    fn header_gives_the_kid_of_an_rs256_token() {
        let token = token_with_header(json!({"alg": "RS256", "typ": "JWT", "kid": "k1"}));
        assert_eq!(checked_header(&token).unwrap(), "k1");
    }

    #[test]
    fn header_refuses_other_algorithms_crit_and_missing_kid() {
        for (header, words) in [
            (json!({"alg": "none", "kid": "k"}), "unsigned"),
            (json!({"alg": "HS256", "kid": "k"}), "HS256"),
            (json!({"alg": "rs256", "kid": "k"}), "only algorithm"),
            (json!({"alg": ["RS256"], "kid": "k"}), "only algorithm"),
            (json!({"kid": "k"}), "only algorithm"),
            (json!({"alg": "RS256", "kid": "k", "crit": ["exp"]}), "crit"),
            (json!({"alg": "RS256"}), "kid"),
            (json!({"alg": "RS256", "kid": 7}), "kid"),
            (json!({"alg": "RS256", "kid": ""}), "kid"),
        ] {
            let error = message(checked_header(&token_with_header(header.clone())).unwrap_err());
            assert!(error.contains(words), "{header}: {error}");
        }
    }

    #[test]
    fn opaque_and_encrypted_tokens_ask_for_an_audience() {
        for token in ["8mOZ3vD0HqQZOuG1Lr1Ss7QLR0F-Cz3o", "a.b.c.d.e", "a.b", ""] {
            let error = message(checked_header(token).unwrap_err());
            assert!(error.contains("audience"), "{token}: {error}");
        }
    }

    #[test]
    fn garbage_header_is_malformed_not_a_crash() {
        for token in ["%%%.b.c", "bm90IGpzb24.b.c", "W10.b.c", ".."] {
            let error = message(checked_header(token).unwrap_err());
            assert!(
                error.contains("malformed") || error.contains("RS256"),
                "{token}: {error}"
            );
        }
    }

    fn claims(value: serde_json::Value) -> AccessClaims {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn scope_is_an_exact_case_sensitive_element() {
        let base = json!({"sub": "u", "iss": "i", "aud": "a", "exp": 1});
        let with = |key: &str, value: serde_json::Value| {
            let mut v = base.clone();
            v[key] = value;
            claims(v)
        };
        assert!(with("scope", json!("openid read:messages profile")).grants("read:messages"));
        assert!(with("scope", json!("read:messages")).grants("read:messages"));
        assert!(!with("scope", json!("read:messages:all")).grants("read:messages"));
        assert!(!with("scope", json!("Read:Messages")).grants("read:messages"));
        assert!(!with("scope", json!("openid,read:messages")).grants("read:messages"));
        assert!(!with("scope", json!("")).grants("read:messages"));
        assert!(!claims(base.clone()).grants("read:messages"));
        assert!(with("permissions", json!(["read:messages"])).grants("read:messages"));
        assert!(!with("permissions", json!(["write:messages"])).grants("read:messages"));
    }

    #[test]
    fn numeric_dates_read_like_jsonwebtoken_reads_them() {
        let date = |v: serde_json::Value| serde_json::from_value::<NumericDate>(v).ok();
        assert_eq!(date(json!(1700000000)), Some(NumericDate(1700000000)));
        assert_eq!(date(json!(1700000000.6)), Some(NumericDate(1700000001)));
        for bad in [json!(-1), json!(1e300), json!("1"), json!(null)] {
            assert_eq!(date(bad.clone()), None, "{bad}");
        }
    }

    #[test]
    fn audience_is_a_string_or_an_array_of_strings() {
        let base = json!({"sub": "u", "iss": "i", "exp": 1});
        for (aud, ok) in [
            (json!("api"), true),
            (json!(["x", "api"]), true),
            (json!(["x"]), false),
            (json!([]), false),
        ] {
            let mut v = base.clone();
            v["aud"] = aud.clone();
            assert_eq!(claims(v).aud.contains("api"), ok, "{aud}");
        }
        for aud in [json!(null), json!(3), json!({"a": 1}), json!([1])] {
            let mut v = base.clone();
            v["aud"] = aud.clone();
            assert!(serde_json::from_value::<AccessClaims>(v).is_err(), "{aud}");
        }
    }

    #[test]
    fn client_ids_look_like_auth0_client_ids() {
        assert!(looks_like_client_id("aBcDeFgHiJkLmNoPqRsTuVwXyZ012345"));
        assert!(!looks_like_client_id("https://quickstarts/api"));
    }
}
