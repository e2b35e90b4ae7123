//! The ID token's checks (OpenID Connect Core §3.2.2.11, §3.1.3.7). The signature is checked
//! with WebCrypto in the browser ([`crate::browser::verify_rs256`]) with a key chosen by the
//! shared rule ([`shared::jwt::JwkSet::rs256_key`]); everything else is here, pure.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use shared::jwt::{Audience, Jws, JwsError, JwsHeader, KeyLookupError, KeyRefusal, NumericDate};

use crate::json;
use shared::oauth::constant_time_eq;

/// Clock skew tolerated on `exp` and `iat`: the browser's clock is the user's.
pub const LEEWAY_SECS: u64 = 60;

/// Why an ID token is refused. The `Display` completes "The ID token was refused: …".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdTokenError {
    NotAJwt,
    NotBase64(&'static str),
    BadHeader,
    /// The claims lack `iss`, `sub`, `aud`, `exp` or `iat`, or have them of the wrong type.
    BadClaims,
    Algorithm(String),
    Crit,
    UnknownKey,
    UnusableKey(KeyRefusal),
    BadSignature,
    Issuer {
        got: String,
        expected: String,
    },
    Audience,
    AuthorizedParty,
    Expired,
    IssuedInFuture,
    Nonce,
    /// It came with an access token but has no `at_hash` to bind the two (OIDC Core §3.2.2.10).
    MissingAtHash,
    AtHash,
    /// WebCrypto could not be used.
    Browser(String),
}

impl fmt::Display for IdTokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdTokenError::NotAJwt => f.write_str("it is not a signed JWT"),
            IdTokenError::NotBase64(part) => write!(f, "its {part} is not base64url"),
            IdTokenError::BadHeader => f.write_str("its header is not a JWS header"),
            IdTokenError::BadClaims => {
                f.write_str("its claims are malformed (iss, sub, aud, exp and iat are required)")
            }
            IdTokenError::Algorithm(alg) => write!(f, "it is signed with {alg}, not RS256"),
            IdTokenError::Crit => f.write_str("it declares critical header extensions"),
            IdTokenError::UnknownKey => {
                f.write_str("it is signed with a key the tenant does not publish")
            }
            IdTokenError::UnusableKey(why) => {
                write!(f, "the tenant's key for it may not verify it: {why}")
            }
            IdTokenError::BadSignature => {
                f.write_str("its signature does not verify with the tenant's key")
            }
            IdTokenError::Issuer { got, expected } => {
                write!(f, "it was issued by {got}, not by {expected}")
            }
            IdTokenError::Audience => f.write_str("it was issued to another application (aud)"),
            IdTokenError::AuthorizedParty => {
                f.write_str("it was issued at the request of another application (azp)")
            }
            IdTokenError::Expired => f.write_str("it has expired (exp)"),
            IdTokenError::IssuedInFuture => {
                f.write_str("it was issued in the future (iat): check this computer's clock")
            }
            IdTokenError::Nonce => {
                f.write_str("its nonce does not match this login (a replayed token?)")
            }
            IdTokenError::MissingAtHash => {
                f.write_str("it has no at_hash binding it to the access token it came with")
            }
            IdTokenError::AtHash => {
                f.write_str("it does not belong to the access token it came with (at_hash)")
            }
            IdTokenError::Browser(why) => write!(f, "the browser could not check it ({why})"),
        }
    }
}

impl From<KeyLookupError> for IdTokenError {
    fn from(error: KeyLookupError) -> Self {
        match error {
            KeyLookupError::UnknownKid => IdTokenError::UnknownKey,
            KeyLookupError::Unusable(why) => IdTokenError::UnusableKey(why),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    pub exp: NumericDate,
    pub iat: NumericDate,
    pub nonce: Option<String>,
    pub at_hash: Option<String>,
    pub azp: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub picture: Option<String>,
    pub email: Option<String>,
}

/// A JWS split into what the checks need.
#[derive(Debug, Clone)]
pub struct DecodedJwt {
    /// The `kid` of its header, if any.
    pub kid: String,
    pub claims: IdClaims,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: String,
    pub signature: Vec<u8>,
}

pub fn decode(token: &str) -> Result<DecodedJwt, IdTokenError> {
    let jws = Jws::split(token).map_err(|_| IdTokenError::NotAJwt)?;
    let header = jws.header_json().map_err(|e| match e {
        JwsError::BadHeader => IdTokenError::BadHeader,
        JwsError::Encrypted | JwsError::NotAJws => IdTokenError::NotAJwt,
    })?;
    let header: JwsHeader = json::parse_bytes(&header).ok_or(IdTokenError::BadHeader)?;
    let part = |encoded: &str, what| {
        URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| IdTokenError::NotBase64(what))
    };
    let claims: IdClaims =
        json::parse_bytes(&part(jws.payload, "payload")?).ok_or(IdTokenError::BadClaims)?;
    let signature = part(jws.signature, "signature")?;
    match header.alg() {
        Some("RS256") => {}
        other => {
            return Err(IdTokenError::Algorithm(
                other.unwrap_or("nothing").to_owned(),
            ));
        }
    }
    if header.has_crit() {
        return Err(IdTokenError::Crit);
    }
    Ok(DecodedJwt {
        kid: header.kid().unwrap_or_default().to_owned(),
        claims,
        signing_input: jws.signing_input(token).to_owned(),
        signature,
    })
}

/// What the claims must say for this login.
pub struct Expectations<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    /// Seconds since the epoch.
    pub now: u64,
    /// The `at_hash` of the access token that came with the ID token, if one came.
    pub at_hash: Option<&'a str>,
}

pub fn check_claims(claims: &IdClaims, expected: &Expectations<'_>) -> Result<(), IdTokenError> {
    if claims.iss != expected.issuer {
        return Err(IdTokenError::Issuer {
            got: claims.iss.clone(),
            expected: expected.issuer.to_owned(),
        });
    }
    if !claims.aud.contains(expected.client_id) {
        return Err(IdTokenError::Audience);
    }
    // OIDC Core §3.1.3.7 (errata set 2): azp, when present, must be this client.
    let several = claims.aud.len() > 1;
    match claims.azp.as_deref() {
        Some(azp) if azp != expected.client_id => return Err(IdTokenError::AuthorizedParty),
        None if several => return Err(IdTokenError::AuthorizedParty),
        _ => {}
    }
    check_times(claims, expected.now)?;
    match &claims.nonce {
        Some(nonce) if constant_time_eq(nonce.as_bytes(), expected.nonce.as_bytes()) => {}
        _ => return Err(IdTokenError::Nonce),
    }
    if let Some(expected) = expected.at_hash {
        match claims.at_hash.as_deref() {
            None => return Err(IdTokenError::MissingAtHash),
            Some(at_hash) if at_hash != expected => return Err(IdTokenError::AtHash),
            Some(_) => {}
        }
    }
    Ok(())
}

fn check_times(claims: &IdClaims, now: u64) -> Result<(), IdTokenError> {
    if claims.exp.0.saturating_add(LEEWAY_SECS) <= now {
        return Err(IdTokenError::Expired);
    }
    if claims.iat.0 > now.saturating_add(LEEWAY_SECS) {
        return Err(IdTokenError::IssuedInFuture);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> serde_json::Value {
        json!({"iss": "https://t/", "sub": "auth0|1", "aud": "client", "exp": 2000, "iat": 1000, "nonce": "n", "at_hash": "h"})
    }

    fn expectations(at_hash: Option<&'static str>) -> Expectations<'static> {
        Expectations {
            issuer: "https://t/",
            client_id: "client",
            nonce: "n",
            now: 1500,
            at_hash,
        }
    }

    /// `good()` with `changes` (a `null` removes the claim), checked as if an access token
    /// with at_hash "h" came with it.
    fn check(changes: &[(&str, serde_json::Value)]) -> Result<(), IdTokenError> {
        let mut value = good();
        for (k, v) in changes {
            match v {
                serde_json::Value::Null => {
                    value.as_object_mut().unwrap().remove(*k);
                }
                v => value[*k] = v.clone(),
            }
        }
        let claims: IdClaims =
            serde_json::from_value(value).map_err(|_| IdTokenError::BadClaims)?;
        check_claims(&claims, &expectations(Some("h")))
    }

    #[test]
    fn a_good_id_token_passes() {
        assert_eq!(check(&[]), Ok(()));
        let several = [
            ("aud", json!(["client", "other"])),
            ("azp", json!("client")),
        ];
        assert_eq!(check(&several), Ok(()));
        assert_eq!(check(&[("azp", json!("client"))]), Ok(()));
        // Within the leeway.
        assert_eq!(check(&[("exp", json!(1500 - LEEWAY_SECS + 1))]), Ok(()));
    }

    #[test]
    fn each_claim_is_checked() {
        use IdTokenError::*;
        for (changes, error) in [
            (
                vec![("iss", json!("https://evil/"))],
                Issuer {
                    got: "https://evil/".into(),
                    expected: "https://t/".into(),
                },
            ),
            (vec![("aud", json!("other"))], Audience),
            (vec![("aud", json!(["client", "other"]))], AuthorizedParty),
            (vec![("azp", json!("other"))], AuthorizedParty),
            (vec![("exp", json!(1400))], Expired),
            (vec![("iat", json!(1600 + LEEWAY_SECS))], IssuedInFuture),
            (vec![("iat", json!(null))], BadClaims),
            (vec![("exp", json!("2000"))], BadClaims),
            (vec![("nonce", json!("m"))], Nonce),
            (vec![("nonce", json!(null))], Nonce),
            (vec![("at_hash", json!("x"))], AtHash),
            (vec![("at_hash", json!(null))], MissingAtHash),
        ] {
            assert_eq!(check(&changes), Err(error), "{changes:?}");
        }
    }

    #[test]
    fn the_leeway_is_a_minute_either_way_to_the_second() {
        // now = 1500, leeway 60 s.
        assert_eq!(check(&[("exp", json!(1441))]), Ok(()));
        assert_eq!(check(&[("exp", json!(1440))]), Err(IdTokenError::Expired));
        assert_eq!(check(&[("iat", json!(1560))]), Ok(()));
        assert_eq!(
            check(&[("iat", json!(1561))]),
            Err(IdTokenError::IssuedInFuture)
        );
    }

    #[test]
    fn without_an_access_token_no_at_hash_is_needed() {
        let mut value = good();
        value.as_object_mut().unwrap().remove("at_hash");
        let claims: IdClaims = serde_json::from_value(value).unwrap();
        assert_eq!(check_claims(&claims, &expectations(None)), Ok(()));
    }

    fn enc(value: serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    #[test]
    fn decode_splits_and_refuses_other_algorithms() {
        let token = format!(
            "{}.{}.AQID",
            enc(json!({"alg": "RS256", "kid": "k"})),
            enc(good())
        );
        let jwt = decode(&token).unwrap();
        assert_eq!(jwt.kid, "k");
        assert_eq!(jwt.signature, [1, 2, 3]);
        assert_eq!(jwt.signing_input, token.rsplit_once('.').unwrap().0);
        let hs = format!("{}.{}.AQID", enc(json!({"alg": "HS256"})), enc(good()));
        assert_eq!(
            decode(&hs).unwrap_err(),
            IdTokenError::Algorithm("HS256".into())
        );
        let crit = format!(
            "{}.{}.AQID",
            enc(json!({"alg": "RS256", "crit": ["x"]})),
            enc(good())
        );
        assert_eq!(decode(&crit).unwrap_err(), IdTokenError::Crit);
        for garbage in ["", "a.b", "a.b.c.d"] {
            assert_eq!(
                decode(garbage).unwrap_err(),
                IdTokenError::NotAJwt,
                "{garbage}"
            );
        }
        assert_eq!(decode("a.b.c").unwrap_err(), IdTokenError::BadHeader);
    }
}
