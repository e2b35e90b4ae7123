//! The ID token's checks (OpenID Connect Core §3.2.2.11). The signature is checked with
//! WebCrypto in the browser ([`crate::browser::verify_rs256`]); everything else is here, pure.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::IgnoredAny;

/// Clock skew tolerated on `exp` and `iat`: the browser's clock is the user's.
pub const LEEWAY_SECS: u64 = 60;

#[derive(Debug, Clone, Deserialize)]
pub struct JwtHeader {
    pub alg: String,
    pub kid: Option<String>,
    crit: Option<IgnoredAny>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    pub exp: u64,
    pub iat: Option<u64>,
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
    pub header: JwtHeader,
    pub claims: IdClaims,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: String,
    pub signature: Vec<u8>,
}

pub fn decode(token: &str) -> Result<DecodedJwt, String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return Err("it is not a signed JWT".into());
    };
    let part = |encoded: &str, what: &str| {
        URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| format!("its {what} is not base64url"))
    };
    let header: JwtHeader = serde_json::from_slice(&part(header, "header")?)
        .map_err(|_| "its header is not a JWS header".to_owned())?;
    let claims: IdClaims = serde_json::from_slice(&part(payload, "payload")?)
        .map_err(|_| "its claims are malformed (iss, sub, aud and exp are required)".to_owned())?;
    let signature = part(signature, "signature")?;
    if header.alg != "RS256" {
        return Err(format!("it is signed with {}, not RS256", header.alg));
    }
    if header.crit.is_some() {
        return Err("it declares critical header extensions".into());
    }
    Ok(DecodedJwt {
        header,
        claims,
        signing_input: token[..token.rfind('.').unwrap_or(0)].to_owned(),
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
    /// The `at_hash` of the access token that came with the ID token.
    pub at_hash: &'a str,
}

pub fn check_claims(claims: &IdClaims, expected: &Expectations<'_>) -> Result<(), String> {
    if claims.iss != expected.issuer {
        return Err(format!(
            "it was issued by {}, not by {}",
            claims.iss, expected.issuer
        ));
    }
    let audiences: Vec<&str> = match &claims.aud {
        Audience::One(aud) => vec![aud],
        Audience::Many(auds) => auds.iter().map(String::as_str).collect(),
    };
    if !audiences.contains(&expected.client_id) {
        return Err("it was issued to another application (aud)".into());
    }
    if audiences.len() > 1 && claims.azp.as_deref() != Some(expected.client_id) {
        return Err(
            "it has several audiences and this app is not its authorized party (azp)".into(),
        );
    }
    if claims.exp.saturating_add(LEEWAY_SECS) <= expected.now {
        return Err("it has expired (exp)".into());
    }
    if claims
        .iat
        .is_some_and(|iat| iat > expected.now.saturating_add(LEEWAY_SECS))
    {
        return Err("it was issued in the future (iat): check this computer's clock".into());
    }
    match &claims.nonce {
        Some(nonce)
            if crate::auth::callback::constant_time_eq(
                nonce.as_bytes(),
                expected.nonce.as_bytes(),
            ) => {}
        _ => return Err("its nonce does not match this login (a replayed token?)".into()),
    }
    if let Some(at_hash) = &claims.at_hash
        && at_hash != expected.at_hash
    {
        return Err("it does not belong to the access token it came with (at_hash)".into());
    }
    Ok(())
}

/// OIDC Core §3.2.2.9: base64url of the left half of SHA-256(access token).
pub fn at_hash_from_sha256(sha256: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(&sha256[..sha256.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: serde_json::Value) -> IdClaims {
        serde_json::from_value(value).unwrap()
    }

    fn good() -> serde_json::Value {
        json!({"iss": "https://t/", "sub": "auth0|1", "aud": "client", "exp": 2000, "iat": 1000, "nonce": "n", "at_hash": "h"})
    }

    fn expectations() -> Expectations<'static> {
        Expectations {
            issuer: "https://t/",
            client_id: "client",
            nonce: "n",
            now: 1500,
            at_hash: "h",
        }
    }

    fn check(changes: &[(&str, serde_json::Value)]) -> Result<(), String> {
        let mut value = good();
        for (k, v) in changes {
            if v.is_null() {
                value.as_object_mut().unwrap().remove(*k);
            } else {
                value[*k] = v.clone();
            }
        }
        check_claims(&claims(value), &expectations())
    }

    #[test]
    fn a_good_id_token_passes() {
        assert_eq!(check(&[]), Ok(()));
        assert_eq!(check(&[("at_hash", json!(null))]), Ok(()));
        assert_eq!(
            check(&[
                ("aud", json!(["client", "other"])),
                ("azp", json!("client"))
            ]),
            Ok(())
        );
    }

    #[test]
    fn each_claim_is_checked() {
        for (changes, words) in [
            (vec![("iss", json!("https://evil/"))], "issued by"),
            (vec![("aud", json!("other"))], "another application"),
            (vec![("aud", json!(["client", "other"]))], "azp"),
            (vec![("exp", json!(1400))], "expired"),
            (vec![("iat", json!(1600 + LEEWAY_SECS))], "future"),
            (vec![("nonce", json!("m"))], "nonce"),
            (vec![("nonce", json!(null))], "nonce"),
            (vec![("at_hash", json!("x"))], "at_hash"),
        ] {
            let error = check(&changes).unwrap_err();
            assert!(error.contains(words), "{changes:?}: {error}");
        }
        // Within the leeway.
        assert_eq!(check(&[("exp", json!(1500 - LEEWAY_SECS + 1))]), Ok(()));
    }

    #[test]
    fn decode_splits_and_refuses_other_algorithms() {
        let enc = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let token = format!(
            "{}.{}.AQID",
            enc(json!({"alg": "RS256", "kid": "k"})),
            enc(good())
        );
        let jwt = decode(&token).unwrap();
        assert_eq!(jwt.header.kid.as_deref(), Some("k"));
        assert_eq!(jwt.signature, [1, 2, 3]);
        assert_eq!(jwt.signing_input, token.rsplit_once('.').unwrap().0);
        let hs = format!("{}.{}.AQID", enc(json!({"alg": "HS256"})), enc(good()));
        assert!(decode(&hs).unwrap_err().contains("HS256"));
        let crit = format!(
            "{}.{}.AQID",
            enc(json!({"alg": "RS256", "crit": ["x"]})),
            enc(good())
        );
        assert!(decode(&crit).is_err());
        for garbage in ["", "a.b", "a.b.c", "a.b.c.d"] {
            assert!(decode(garbage).is_err(), "{garbage}");
        }
    }

    #[test]
    fn at_hash_is_the_left_half() {
        // SHA-256("jHkWEdUXMU1BwAsC4vtUsZwnNmTC4Q"), as computed independently by Python.
        let digest = [
            0x3c, 0xbb, 0x24, 0x72, 0x5e, 0x50, 0xf0, 0x20, 0xd2, 0x6a, 0x06, 0xb2, 0xdb, 0x5e,
            0x67, 0x8b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(at_hash_from_sha256(&digest), "PLskcl5Q8CDSagay215niw");
    }
}
