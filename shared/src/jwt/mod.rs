//! The JWT vocabulary the tenant, the API and the SPA share: a JWS split into its parts, its
//! header as read before any key is chosen, `aud` and NumericDate as RFC 7519 defines them,
//! and the JWK set with the one rule for which key may verify an RS256 signature.
//!
//! Pure serde, serde_json and base64 (no I/O, builds for wasm32), so the SPA (wasm32) checks an
//! ID token's key by the very rule the API checks an access token's key with; verification
//! itself is the caller's (aws-lc in the API, WebCrypto in the browser).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use serde::{Deserialize, Serialize};

mod jwk;
mod lenient;

pub use jwk::{Jwk, JwkSet, KeyLookupError, KeyRefusal, MIN_RSA_BITS, Rs256Key};

/// A compact JWS, split at its dots: `header.payload.signature`, still base64url-encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jws<'a> {
    pub header: &'a str,
    pub payload: &'a str,
    pub signature: &'a str,
}

/// Why a string is not a compact JWS (RFC 7515 §7.1) one can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwsError {
    /// Five parts: a JWE, encrypted, not signed (Auth0 issues these without an audience).
    Encrypted,
    /// Not three dot-separated parts: an opaque token, or no token at all.
    NotAJws,
    /// The header is not base64url-encoded JSON.
    BadHeader,
}

impl<'a> Jws<'a> {
    pub fn split(token: &'a str) -> Result<Self, JwsError> {
        let mut parts = token.split('.');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(header), Some(payload), Some(signature), None) => Ok(Self {
                header,
                payload,
                signature,
            }),
            _ if token.split('.').count() == 5 => Err(JwsError::Encrypted),
            _ => Err(JwsError::NotAJws),
        }
    }

    /// `header.payload`: the bytes the signature covers.
    pub fn signing_input(&self, token: &'a str) -> &'a str {
        &token[..self.header.len() + 1 + self.payload.len()]
    }

    pub fn header(&self) -> Result<JwsHeader, JwsError> {
        serde_json::from_slice(&self.header_json()?).map_err(|_| JwsError::BadHeader)
    }

    /// The header's JSON text, for a reader that parses JSON its own way (the SPA uses the
    /// browser's parser) into [`JwsHeader`].
    pub fn header_json(&self) -> Result<Vec<u8>, JwsError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(self.header)
            .map_err(|_| JwsError::BadHeader)?;
        // A header is a JSON object (RFC 7515 §4); serde would read a struct from an array too.
        match bytes.trim_ascii_start().first() {
            Some(b'{') => Ok(bytes),
            _ => Err(JwsError::BadHeader),
        }
    }
}

/// What a verifier reads of a JWS header before choosing a key (RFC 7515 §4.1). Members of
/// the wrong JSON type read as absent; `jwk`, `jku`, `x5u` and `x5c` are not read at all, so
/// no token can make its verifier use or fetch a key it offers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct JwsHeader {
    #[serde(default, deserialize_with = "text")]
    alg: Option<String>,
    #[serde(default, deserialize_with = "text")]
    kid: Option<String>,
    #[serde(default, deserialize_with = "text")]
    typ: Option<String>,
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

impl JwsHeader {
    pub fn alg(&self) -> Option<&str> {
        self.alg.as_deref()
    }

    /// The key ID, when it is a non-empty string.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref().filter(|kid| !kid.is_empty())
    }

    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// RFC 7515 §4.1.11: a recipient that does not understand a critical extension must
    /// refuse the token; none of the verifiers here understands any.
    pub fn has_crit(&self) -> bool {
        self.crit
    }
}

/// A string member, or `None` for any other JSON type.
fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    deserializer.deserialize_any(lenient::Text)
}

/// Whether the member is there at all, whatever its value (`null` included).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// `aud`: a string or an array of strings (RFC 7519 §4.1.3). Anything else, `null` included,
/// fails to deserialize, and so refuses the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(lenient::StringOrStrings)
    }
}

impl Audience {
    pub fn contains(&self, audience: &str) -> bool {
        self.iter().any(|aud| aud == audience)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let (one, many) = match self {
            Audience::One(aud) => (Some(aud.as_str()), &[][..]),
            Audience::Many(auds) => (None, auds.as_slice()),
        };
        one.into_iter().chain(many.iter().map(String::as_str))
    }

    pub fn first(&self) -> Option<&str> {
        self.iter().next()
    }

    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// RFC 7519 §2 NumericDate: seconds since the epoch. Read as jsonwebtoken reads `exp` and
/// `nbf` (an integer, or a non-negative float it rounds), so that checks made from these
/// claims agree with the signature library's; negative, non-finite or absurd values refuse
/// the token instead of wrapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct NumericDate(pub u64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Seconds;

        impl Visitor<'_> for Seconds {
            type Value = NumericDate;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a NumericDate (seconds since the epoch)")
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<NumericDate, E> {
                Ok(NumericDate(value))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<NumericDate, E> {
                u64::try_from(value)
                    .map(NumericDate)
                    .map_err(|_| E::custom("a negative NumericDate"))
            }

            fn visit_f64<E: de::Error>(self, value: f64) -> Result<NumericDate, E> {
                // `u64::MAX as f64` rounds up to 2^64, which is already out of range.
                if value.is_finite() && value >= 0.0 && value < u64::MAX as f64 {
                    Ok(NumericDate(value.round() as u64))
                } else {
                    Err(E::custom("not a NumericDate"))
                }
            }
        }

        deserializer.deserialize_any(Seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn rsa_jwk(kid: &str) -> Value {
        let mut n = vec![0xC5u8; 256];
        n[255] = 0x01;
        json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64(&n), "e": "AQAB"})
    }

    fn jwk(value: Value) -> Jwk {
        serde_json::from_value(value).unwrap()
    }

    fn set(keys: Value) -> JwkSet {
        serde_json::from_value(json!({ "keys": keys })).unwrap()
    }

    fn kids(keys: Value) -> Vec<String> {
        set(keys).rs256_keys().into_iter().map(|k| k.kid).collect()
    }

    #[test]
    fn only_rsa_signing_keys_for_rs256_may_verify() {
        let with = |field: &str, value: Value| {
            let mut key = rsa_jwk("k");
            key[field] = value;
            jwk(key).rs256_key()
        };
        assert_eq!(with("use", json!("enc")), Err(KeyRefusal::NotForVerifying));
        assert_eq!(
            with("key_ops", json!(["wrapKey"])),
            Err(KeyRefusal::NotForVerifying)
        );
        assert!(with("key_ops", json!(["verify"])).is_ok());
        assert_eq!(with("alg", json!("PS256")), Err(KeyRefusal::OtherAlgorithm));
        assert_eq!(with("kty", json!("oct")), Err(KeyRefusal::NotRsa));
        assert_eq!(with("kid", json!("")), Err(KeyRefusal::NoKid));
        assert_eq!(with("n", json!("***")), Err(KeyRefusal::Malformed));
        assert_eq!(with("e", json!(b64(&[1; 9]))), Err(KeyRefusal::Malformed));
        assert!(
            with("e", json!(b64(&[1; 8]))).is_ok(),
            "8 bytes is the most"
        );
        let mut no_alg = rsa_jwk("k");
        no_alg.as_object_mut().unwrap().remove("alg");
        assert!(jwk(no_alg).rs256_key().is_ok());
    }

    #[test]
    fn keys_shorter_than_2048_bits_never_verify_leading_zeros_or_not() {
        let short = |n: Vec<u8>| {
            let mut key = rsa_jwk("k");
            key["n"] = json!(b64(&n));
            jwk(key).rs256_key()
        };
        assert_eq!(
            short(vec![0xC5; 128]),
            Err(KeyRefusal::TooShort { bits: 1024 })
        );
        let mut padded = vec![0u8; 200];
        padded.extend([0xC5; 100]);
        assert_eq!(short(padded), Err(KeyRefusal::TooShort { bits: 800 }));
        // 2047 bits: the top bit of 256 bytes unset.
        assert_eq!(
            short(vec![0x45; 256]),
            Err(KeyRefusal::TooShort { bits: 2047 })
        );
        let key = short([vec![0u8], vec![0xC5; 256]].concat()).unwrap();
        assert_eq!(key.modulus.len(), 256);
        assert_eq!(key.exponent, [1, 0, 1]);
    }

    #[test]
    fn a_set_skips_what_it_cannot_use_and_the_first_kid_wins() {
        let ec = json!({"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"});
        let mut enc = rsa_jwk("enc");
        enc["use"] = json!("enc");
        assert_eq!(
            kids(json!([rsa_jwk("good"), enc, ec, "junk", 42, {"kid": 3}])),
            ["good"]
        );
        // Entries that are not objects are read through and dropped, not kept as empty keys.
        let odd = set(json!([[1, [2]], "junk", 4.5, null, true, rsa_jwk("good")]));
        assert_eq!(odd.keys.len(), 1);
        assert_eq!(odd.keys[0].kid.as_deref(), Some("good"));
        let mut second = rsa_jwk("a");
        second["e"] = json!("AQ");
        let keys = set(json!([rsa_jwk("a"), second])).rs256_keys();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].exponent, [1, 0, 1]);
        for garbage in [json!("x"), json!({}), json!({"keys": 3})] {
            assert!(serde_json::from_value::<JwkSet>(garbage).is_err());
        }
        let error = serde_json::from_value::<JwkSet>(json!({"keys": 3})).unwrap_err();
        assert!(
            error.to_string().contains("expected an array of JWKs"),
            "{error}"
        );
        // key_ops of the wrong shape reads as absent; the key itself is kept.
        for odd in [json!({"a": 1}), json!("verify"), json!(["verify", 1])] {
            let mut key = rsa_jwk("k");
            key["key_ops"] = odd.clone();
            assert_eq!(jwk(key).key_ops, None, "{odd}");
        }
    }

    #[test]
    fn lookup_by_kid_says_why_a_key_is_refused() {
        let mut short = rsa_jwk("short");
        short["n"] = json!(b64(&[0xC5; 128]));
        let keys = set(json!([rsa_jwk("good"), short]));
        assert!(keys.rs256_key("good").is_ok());
        assert_eq!(keys.rs256_key("nope"), Err(KeyLookupError::UnknownKid));
        assert_eq!(
            keys.rs256_key("short"),
            Err(KeyLookupError::Unusable(KeyRefusal::TooShort {
                bits: 1024
            }))
        );
        assert!(
            KeyRefusal::TooShort { bits: 1024 }
                .to_string()
                .contains("too short")
        );
    }

    #[test]
    fn a_jws_splits_into_three_parts_and_says_what_else_it_is() {
        let token = "aGVhZA.Ym9keQ.c2ln";
        let jws = Jws::split(token).unwrap();
        assert_eq!(jws.signature, "c2ln");
        assert_eq!(jws.signing_input(token), "aGVhZA.Ym9keQ");
        assert_eq!(Jws::split("a.b.c.d.e"), Err(JwsError::Encrypted));
        for other in ["opaque", "a.b", "a.b.c.d", ""] {
            assert_eq!(Jws::split(other), Err(JwsError::NotAJws), "{other}");
        }
    }

    #[test]
    fn the_header_is_read_without_trusting_it() {
        let header = |value: Value| {
            let token = format!("{}.e30.c2ln", b64(value.to_string().as_bytes()));
            Jws::split(&token).unwrap().header()
        };
        let read =
            header(json!({"alg": "RS256", "kid": "k1", "typ": "at+jwt", "jku": "x"})).unwrap();
        assert_eq!(
            (read.alg(), read.kid(), read.typ(), read.has_crit()),
            (Some("RS256"), Some("k1"), Some("at+jwt"), false)
        );
        let odd = header(json!({"alg": ["RS256"], "kid": 7, "crit": null})).unwrap();
        assert_eq!((odd.alg(), odd.kid(), odd.has_crit()), (None, None, true));
        // A member that is an object is read through, not kept, and the rest still reads.
        let nested = header(json!({"kid": {"a": {"b": 1}}, "alg": "RS256"})).unwrap();
        assert_eq!((nested.kid(), nested.alg()), (None, Some("RS256")));
        assert_eq!(header(json!({"kid": ""})).unwrap().kid(), None);
        for bad in ["%%%", "bm90IGpzb24", "W10", ""] {
            let token = format!("{bad}.e30.c2ln");
            assert_eq!(
                Jws::split(&token).unwrap().header(),
                Err(JwsError::BadHeader),
                "{bad}"
            );
        }
    }

    #[test]
    fn audience_is_a_string_or_an_array_of_strings() {
        let aud = |v: Value| serde_json::from_value::<Audience>(v);
        assert!(aud(json!("api")).unwrap().contains("api"));
        let many = aud(json!(["x", "api"])).unwrap();
        assert!(many.contains("api"));
        assert_eq!(many.first(), Some("x"));
        assert_eq!(many.len(), 2);
        assert!(!many.contains("other"));
        assert!(!aud(json!("api")).unwrap().contains("ap"));
        assert!(aud(json!([])).unwrap().is_empty());
        assert!(!many.is_empty());
        for bad in [json!(null), json!(3), json!({"a": 1}), json!([1])] {
            assert!(aud(bad.clone()).is_err(), "{bad}");
        }
        let error = aud(json!(3)).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("expected a string or an array of strings"),
            "{error}"
        );
    }

    #[test]
    fn numeric_dates_read_like_jsonwebtoken_reads_them() {
        let date = |v: Value| serde_json::from_value::<NumericDate>(v).ok();
        assert_eq!(date(json!(1700000000)), Some(NumericDate(1700000000)));
        assert_eq!(date(json!(1700000000.6)), Some(NumericDate(1700000001)));
        assert_eq!(date(json!(u64::MAX)), Some(NumericDate(u64::MAX)));
        for bad in [
            json!(-1),
            json!(1e300),
            json!(-1e300),
            json!("1"),
            json!(null),
        ] {
            assert_eq!(date(bad.clone()), None, "{bad}");
        }
        let text = |t: &str| serde_json::from_str::<NumericDate>(t).ok();
        assert_eq!(text("99999999999999999999999999"), None);
        assert_eq!(text("1e999"), None);
        // 2^64, the first float past u64::MAX: out of range, not saturated.
        assert_eq!(text("18446744073709551616.0"), None);
        // What serde says when a claim is of the wrong type names what was expected.
        let error = serde_json::from_value::<NumericDate>(json!("1")).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("expected a NumericDate (seconds since the epoch)"),
            "{error}"
        );
    }
}
