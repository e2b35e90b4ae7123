//! What a valid access token says, as the API uses it ([`AccessClaims`]), and how a token's
//! claims are read: leniently, so that a registered claim that is absent or of the wrong type
//! is named by the validation rather than the whole payload refused as unreadable.

use serde::Deserialize;
use serde::de::IgnoredAny;
use shared::jwt::{Audience, NumericDate};

use super::rejection::TokenRejection;

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
    /// DPoP (RFC 9449 §6.1): the thumbprint of the key the token is bound to (`cnf.jkt`).
    /// A bound token is taken only with a proof made with that key.
    pub jkt: Option<String>,
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

/// The claims as a token carries them. The registered ones are read leniently (absent or of
/// the wrong type reads as `None`), so that jsonwebtoken's check of the required claims names
/// the one at fault instead of the whole payload being refused as unreadable.
#[derive(Deserialize)]
pub(super) struct TokenClaims {
    #[serde(default, deserialize_with = "lenient")]
    sub: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    iss: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(super) aud: Option<Audience>,
    #[serde(default, deserialize_with = "lenient")]
    exp: Option<NumericDate>,
    #[serde(default, deserialize_with = "lenient")]
    nbf: Option<NumericDate>,
    azp: Option<String>,
    scope: Option<String>,
    permissions: Option<Vec<String>>,
    /// A confirmation (RFC 7800): read whatever its shape, so that a binding this API cannot
    /// check is refused, never ignored.
    cnf: Option<serde_json::Value>,
    /// Only ID tokens carry a nonce; kept to tell the user which token they sent.
    pub(super) nonce: Option<IgnoredAny>,
}

/// What an unverified token claims about where and when it comes from, read only to explain a
/// refusal or to decide whether its key may be new: never to accept it.
#[derive(Deserialize, Default)]
pub(super) struct Provenance {
    #[serde(default, deserialize_with = "lenient")]
    pub(super) iss: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(super) iat: Option<NumericDate>,
}

/// `#[serde(untagged)]` is fine here: the API is not size-bound as the SPA is, which reads the
/// same rule with hand-written visitors (`shared::jwt::lenient`) to keep its bundle small.
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
    pub(super) fn into_access_claims(self) -> Result<AccessClaims, TokenRejection> {
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
            jkt: match self.cnf {
                None => None,
                Some(cnf) => Some(
                    cnf.get("jkt")
                        .and_then(|jkt| jkt.as_str())
                        .filter(|jkt| !jkt.is_empty())
                        .ok_or_else(|| missing("cnf.jkt"))?
                        .to_owned(),
                ),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        let both = with("scope", json!("openid"));
        assert!(!both.grants("read:messages"), "neither holds it");
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
    fn a_binding_is_its_jkt_and_one_this_api_cannot_check_is_refused() {
        let base = json!({"sub": "u", "iss": "i", "exp": 1, "aud": "a"});
        assert_eq!(claims(base.clone()).jkt, None);
        let mut bound = base.clone();
        bound["cnf"] = json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"});
        assert_eq!(
            claims(bound).jkt.as_deref(),
            Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
        );
        for other in [
            json!({"x5t#S256": "abc"}),
            json!({"jkt": 5}),
            json!({"jkt": ""}),
            json!("x"),
        ] {
            let mut v = base.clone();
            v["cnf"] = other.clone();
            let read: TokenClaims = serde_json::from_value(v).unwrap();
            assert_eq!(
                read.into_access_claims().unwrap_err(),
                TokenRejection::MissingClaim("cnf.jkt".into()),
                "{other}"
            );
        }
    }

    #[test]
    fn provenance_is_read_whatever_else_the_payload_holds() {
        let read: Provenance =
            serde_json::from_value(json!({"iss": "https://a/", "iat": 5, "aud": 7})).unwrap();
        assert_eq!(read.iss.as_deref(), Some("https://a/"));
        assert_eq!(read.iat, Some(NumericDate(5)));
        let odd: Provenance = serde_json::from_value(json!({"iss": 1, "iat": "x"})).unwrap();
        assert!(odd.iss.is_none() && odd.iat.is_none());
    }
}
