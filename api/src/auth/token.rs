//! Access-token validation: RFC 6750 bearer tokens that are RFC 9068 JWT access tokens, checked
//! the way RFC 8725 (JWT best current practices) asks.
//!
//! Tokens that pass are remembered, so that a client sending the same token again does not pay
//! for another RSA verification (Envoy's jwt_authn keeps such a cache too). A remembered token
//! is only ever let through if validation would let it through now: its `exp` and `nbf` are
//! checked at every hit, and it is forgotten as soon as the tenant's key set changes. Only
//! tokens that passed every check are remembered, so junk cannot fill the cache.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest::{SHA256, digest};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde::de::IgnoredAny;
use shared::jwt::{Audience, Jws, JwsError, NumericDate};

use super::jwks::{JwksCache, KeyError};
use super::rejection::TokenRejection;
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

/// The claims of a valid access token that the API uses.
#[derive(Debug, Clone)]
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
}

/// The claims as a token carries them. The registered ones are read leniently (absent or of
/// the wrong type reads as `None`), so that jsonwebtoken's check of the required claims names
/// the one at fault instead of the whole payload being refused as unreadable.
#[derive(Deserialize)]
struct TokenClaims {
    #[serde(default, deserialize_with = "lenient")]
    sub: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    iss: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    aud: Option<Audience>,
    #[serde(default, deserialize_with = "lenient")]
    exp: Option<NumericDate>,
    #[serde(default, deserialize_with = "lenient")]
    nbf: Option<NumericDate>,
    azp: Option<String>,
    scope: Option<String>,
    permissions: Option<Vec<String>>,
    /// Only ID tokens carry a nonce; kept to tell the user which token they sent.
    nonce: Option<IgnoredAny>,
}

fn lenient<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Lenient<T> {
        Read(T),
        Other(IgnoredAny),
    }
    Ok(match Lenient::<T>::deserialize(deserializer)? {
        Lenient::Read(value) => Some(value),
        Lenient::Other(_) => None,
    })
}

impl TokenClaims {
    /// The claims of a token validation let through (it required the registered ones).
    fn into_access_claims(self) -> Result<AccessClaims, TokenRejection> {
        let missing = |claim: &str| TokenRejection::MissingClaim(claim.to_owned());
        Ok(AccessClaims {
            sub: self.sub.ok_or_else(|| missing("sub"))?,
            iss: self.iss.ok_or_else(|| missing("iss"))?,
            aud: self.aud.ok_or_else(|| missing("aud"))?,
            exp: self.exp.ok_or_else(|| missing("exp"))?,
            nbf: self.nbf,
            azp: self.azp,
            scope: self.scope,
            permissions: self.permissions,
        })
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

/// The last token one connection sent, once verified. HTTP/1.1 clients send the same token on
/// every request of a connection: comparing it costs less than hashing a kilobyte for the
/// shared cache. What is remembered is what the shared cache holds, checked the same way.
#[derive(Default)]
pub struct ConnectionMemo(Mutex<Option<(Box<str>, Arc<VerifiedToken>)>>);

impl ConnectionMemo {
    fn recall(&self, token: &str) -> Option<Arc<VerifiedToken>> {
        let last = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match last.as_ref() {
            Some((sent, verified)) if **sent == *token => Some(verified.clone()),
            _ => None,
        }
    }

    fn remember(&self, token: &str, verified: Arc<VerifiedToken>) {
        let mut last = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *last = Some((token.into(), verified));
    }
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
        let verified = match settings.cache_size {
            0 => None,
            size => Some(quick_cache::sync::Cache::new(size)),
        };
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
        let Some(cache) = &self.verified else {
            return self.verify(token).await.map(|(claims, _)| Arc::new(claims));
        };
        if let Some(hit) = connection.and_then(|memo| memo.recall(token))
            && self.still_trusted(&hit)
        {
            return Ok(hit.claims.clone());
        }
        let digest: TokenDigest = digest(&SHA256, token.as_bytes())
            .as_ref()
            .try_into()
            .expect("SHA-256 is 32 bytes");
        let verified = match cache.get(&digest) {
            Some(hit) if self.still_trusted(&hit) => hit,
            _ => {
                let (claims, generation) = self.verify(token).await?;
                let verified = Arc::new(VerifiedToken {
                    claims: Arc::new(claims),
                    generation,
                });
                cache.insert(digest, verified.clone());
                verified
            }
        };
        if let Some(memo) = connection {
            memo.remember(token, verified.clone());
        }
        Ok(verified.claims.clone())
    }

    /// Whether a token verified earlier would pass validation now: the key set it was
    /// verified with is still the one, and its times still hold.
    fn still_trusted(&self, verified: &VerifiedToken) -> bool {
        verified.generation == self.jwks.generation() && self.still_valid(&verified.claims)
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
    async fn verify(&self, token: &str) -> Result<(AccessClaims, u64), ApiError> {
        let kid = checked_header(token)?;
        let (key, generation) = self.jwks.key(&kid).await.map_err(|e| match e {
            KeyError::UnknownKid => ApiError::InvalidToken(TokenRejection::UnknownKid),
            KeyError::NotFetchableYet(wait) => ApiError::KeyNotFetchableYet(wait),
            KeyError::Unavailable => ApiError::KeysUnavailable,
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
            },
            ErrorKind::InvalidSignature => TokenRejection::BadSignature,
            ErrorKind::MissingRequiredClaim(claim) | ErrorKind::InvalidClaimFormat(claim) => {
                TokenRejection::MissingClaim(claim.clone())
            }
            ErrorKind::InvalidAlgorithm => TokenRejection::NotRs256,
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
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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

    fn claims(value: serde_json::Value) -> AccessClaims {
        let claims: TokenClaims = serde_json::from_value(value).unwrap();
        claims.into_access_claims().unwrap()
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
    fn a_missing_or_mistyped_registered_claim_is_named() {
        let base = json!({"sub": "u", "iss": "i", "exp": 1, "aud": "a"});
        for claim in ["sub", "iss", "exp", "aud"] {
            for bad in [json!(null), json!({"a": 1}), json!([1]), json!(true)] {
                let mut v = base.clone();
                v[claim] = bad.clone();
                let read: TokenClaims = serde_json::from_value(v).unwrap();
                assert_eq!(
                    read.into_access_claims().unwrap_err(),
                    TokenRejection::MissingClaim(claim.into()),
                    "{claim}: {bad}"
                );
            }
        }
        let mut array_scope = base.clone();
        array_scope["scope"] = json!(["read:messages"]);
        assert!(serde_json::from_value::<TokenClaims>(array_scope).is_err());
    }

    #[test]
    fn client_ids_look_like_auth0_client_ids() {
        assert!(looks_like_client_id("aBcDeFgHiJkLmNoPqRsTuVwXyZ012345"));
        assert!(!looks_like_client_id("https://quickstarts/api"));
    }
}
