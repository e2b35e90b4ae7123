//! The JWK set (RFC 7517) and the one rule for which key may verify an RS256 signature.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::Deserializer;
use serde::{Deserialize, Serialize};

use super::lenient;

/// RFC 7518 §3.3: RS256 keys must be at least 2048 bits.
pub const MIN_RSA_BITS: usize = 2048;
/// An RSA public exponent longer than 8 bytes is not one any issuer uses.
const MAX_EXPONENT_BYTES: usize = 8;

/// One key of a JWK set (RFC 7517 §4), as far as RS256 verification cares.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

/// A JWK set. Parsed key by key: an entry of a kind nobody here uses (EC, symmetric, an
/// unknown shape) is skipped, so that it cannot make the whole set unusable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    #[serde(deserialize_with = "skip_malformed")]
    pub keys: Vec<Jwk>,
}

fn skip_malformed<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Jwk>, D::Error> {
    deserializer.deserialize_seq(lenient::Keys)
}

impl<'de> Deserialize<'de> for Jwk {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(lenient::MaybeJwk)?
            .ok_or_else(|| serde::de::Error::custom("not a JWK"))
    }
}

/// An RSA public key fit to verify RS256 signatures: big-endian modulus (no leading zeros)
/// and exponent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rs256Key {
    pub kid: String,
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
}

/// Why a JWK may not verify an RS256 signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    NotRsa,
    /// `use` is not `sig`, or `key_ops` lacks `verify`.
    NotForVerifying,
    /// `alg` names another algorithm than RS256.
    OtherAlgorithm,
    NoKid,
    /// `n` or `e` is missing or not base64url.
    Malformed,
    /// Shorter than [`MIN_RSA_BITS`].
    TooShort {
        bits: usize,
    },
}

impl fmt::Display for KeyRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRefusal::NotRsa => f.write_str("the key is not an RSA key"),
            KeyRefusal::NotForVerifying => {
                f.write_str("the key is not published for verifying signatures (use, key_ops)")
            }
            KeyRefusal::OtherAlgorithm => f.write_str("the key is meant for another algorithm"),
            KeyRefusal::NoKid => f.write_str("the key has no key ID"),
            KeyRefusal::Malformed => f.write_str("the key's modulus or exponent is malformed"),
            KeyRefusal::TooShort { bits } => write!(
                f,
                "the key is too short ({bits} bits; RS256 needs at least {MIN_RSA_BITS})"
            ),
        }
    }
}

impl Jwk {
    /// The rule, the one every verifier here applies: an RSA key, for signatures (`use` absent
    /// or `sig`, `key_ops` absent or with `verify`), for RS256 (`alg` absent or `RS256`), with a
    /// `kid`, a modulus of at least 2048 bits and an exponent of at most 8 bytes.
    pub fn rs256_key(&self) -> Result<Rs256Key, KeyRefusal> {
        if self.kty != "RSA" {
            return Err(KeyRefusal::NotRsa);
        }
        let for_signatures = self.key_use.as_deref().is_none_or(|u| u == "sig")
            && self
                .key_ops
                .as_ref()
                .is_none_or(|ops| ops.iter().any(|op| op == "verify"));
        if !for_signatures {
            return Err(KeyRefusal::NotForVerifying);
        }
        if self.alg.as_deref().is_some_and(|alg| alg != "RS256") {
            return Err(KeyRefusal::OtherAlgorithm);
        }
        let kid = self.kid.clone().filter(|kid| !kid.is_empty());
        let kid = kid.ok_or(KeyRefusal::NoKid)?;
        let decode = |part: &Option<String>| {
            let bytes = URL_SAFE_NO_PAD.decode(part.as_deref()?).ok()?;
            let first = bytes.iter().position(|&b| b != 0)?;
            Some(bytes[first..].to_vec())
        };
        let (Some(modulus), Some(exponent)) = (decode(&self.n), decode(&self.e)) else {
            return Err(KeyRefusal::Malformed);
        };
        if exponent.len() > MAX_EXPONENT_BYTES {
            return Err(KeyRefusal::Malformed);
        }
        let bits = modulus.len() * 8 - modulus[0].leading_zeros() as usize;
        if bits < MIN_RSA_BITS {
            return Err(KeyRefusal::TooShort { bits });
        }
        Ok(Rs256Key {
            kid,
            modulus,
            exponent,
        })
    }
}

/// Why no key of a set could verify a token signed with a given `kid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLookupError {
    /// The set has no key with this `kid`.
    UnknownKid,
    /// It has one, but it may not verify RS256 signatures.
    Unusable(KeyRefusal),
}

impl JwkSet {
    /// Every key of the set fit for RS256, the first of a `kid` published twice winning (a
    /// repeated `kid` is ambiguous; most verifiers keep the first).
    pub fn rs256_keys(&self) -> Vec<Rs256Key> {
        let mut keys: Vec<Rs256Key> = Vec::new();
        for key in self.keys.iter().filter_map(|jwk| jwk.rs256_key().ok()) {
            if !keys.iter().any(|k| k.kid == key.kid) {
                keys.push(key);
            }
        }
        keys
    }

    /// The key for `kid`, by the same rule as [`JwkSet::rs256_keys`].
    pub fn rs256_key(&self, kid: &str) -> Result<Rs256Key, KeyLookupError> {
        let mut refusal = None;
        for jwk in self.keys.iter().filter(|k| k.kid.as_deref() == Some(kid)) {
            match jwk.rs256_key() {
                Ok(key) => return Ok(key),
                Err(why) => refusal = refusal.or(Some(why)),
            }
        }
        Err(refusal.map_or(KeyLookupError::UnknownKid, KeyLookupError::Unusable))
    }
}
