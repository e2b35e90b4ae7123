//! DPoP (RFC 9449): access tokens bound to a key the client holds, and the proof of possession
//! it sends with each request — one definition for the tenant's token endpoint, the API and
//! the SPA.
//!
//! - [`ProofClaims`] and [`ProofHeader`]: what a proof says (the SPA writes them).
//! - [`ProofError`]: every reason a proof is refused, each a sentence naming the fix.
//! - [`verify_proof`] (feature `verify`: the tenant and the API, not the SPA): the checks of
//!   RFC 9449 §4.3 that need no state — shape, `typ`, an asymmetric `alg` from
//!   [`ALGORITHMS`], a public `jwk` (private members refused), the signature, `htm`, `htu`
//!   (after RFC 3986 normalisation), `iat` within the window, `ath` — and the key's RFC 7638
//!   thumbprint, which the token's `cnf.jkt` must equal. What needs state (a `jti` seen
//!   before, the server's nonce) is the caller's.
//!
//! The signature is checked by jsonwebtoken (aws-lc): the same crate that checks access tokens.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The `typ` of a proof.
pub const PROOF_TYPE: &str = "dpop+jwt";

/// The request header that carries the proof.
pub const DPOP_HEADER: &str = "dpop";

/// The response header that carries the server's nonce (§8, §9).
pub const NONCE_HEADER: &str = "dpop-nonce";

/// The algorithms a proof may be signed with: asymmetric only (never `none` or an HMAC),
/// each one jsonwebtoken verifies with aws-lc. What the API's `algs` and the tenant's
/// `dpop_signing_alg_values_supported` announce.
pub const ALGORITHMS: [&str; 4] = ["ES256", "EdDSA", "PS256", "RS256"];

/// [`ALGORITHMS`] as a `WWW-Authenticate: DPoP algs="..."` value (a test keeps them equal).
pub const ALGS: &str = "ES256 EdDSA PS256 RS256";

/// The longest `jti` taken: enough for any random identifier, short enough that the replay
/// caches that keep them stay small.
pub const MAX_JTI_LEN: usize = 128;

/// The claims of a proof (§4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofClaims {
    /// Unique per proof: a server refuses one it has seen.
    pub jti: String,
    /// The request's method.
    pub htm: String,
    /// The request's URI, without query and fragment.
    pub htu: String,
    /// When the proof was made, in seconds since the epoch.
    pub iat: i64,
    /// With an access token: base64url(SHA-256(the token)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ath: Option<String>,
    /// The server's nonce, when it asked for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// The header of a proof made with an ES256 key (what the SPA makes): `typ`, `alg` and the
/// public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProofHeader {
    pub typ: &'static str,
    pub alg: &'static str,
    pub jwk: PublicEcKey,
}

/// A P-256 public key as a JWK: exactly the members RFC 7638 hashes, so what the SPA sends
/// and what its thumbprint covers are the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicEcKey {
    pub crv: String,
    pub kty: String,
    pub x: String,
    pub y: String,
}

impl PublicEcKey {
    /// RFC 7638's input for this key: its required members, in lexicographic order, no
    /// whitespace. The thumbprint is base64url(SHA-256(this)).
    pub fn thumbprint_input(&self) -> String {
        format!(
            r#"{{"crv":"{}","kty":"{}","x":"{}","y":"{}"}}"#,
            self.crv, self.kty, self.x, self.y
        )
    }
}

/// JWK members that only a private or symmetric key has: a proof that carries one has leaked
/// its key, and is refused.
pub const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why a DPoP proof is refused (RFC 9449 `invalid_dpop_proof`, or `use_dpop_nonce`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofError {
    /// A DPoP token came without a `DPoP` header.
    Missing,
    /// More than one `DPoP` header (§4.3: exactly one).
    Several,
    /// Not a compact JWS.
    NotAJws,
    /// The header is not a JSON object, or declares critical extensions.
    BadHeader,
    /// `typ` is not `dpop+jwt`.
    WrongType(Option<String>),
    /// `alg` is absent, symmetric, `none`, or not one of [`ALGORITHMS`].
    Algorithm(Option<String>),
    /// No `jwk` in the header.
    NoKey,
    /// The `jwk` carries private key material.
    PrivateKey,
    /// The `jwk` is not a usable public key for `alg` (wrong type, malformed, RSA under 2048
    /// bits).
    BadKey,
    BadSignature,
    /// The claims are not JSON with `jti`, `htm`, `htu` and `iat` (a `jti` of 1 to
    /// [`MAX_JTI_LEN`] characters).
    BadClaims,
    /// `htm` is not the request's method.
    Method {
        got: String,
        expected: String,
    },
    /// `htu` is not the request's URI.
    Uri {
        got: String,
        expected: String,
    },
    /// `iat` is older than the window allows.
    TooOld,
    /// `iat` is in the future, beyond the leeway.
    FromTheFuture,
    /// No `ath`, with an access token.
    NoAth,
    /// `ath` is not the hash of this access token.
    WrongAth,
    /// This `jti` was seen before within the window.
    Replayed,
    /// The proof's key is not the one the access token is bound to (`cnf.jkt`).
    KeyMismatch,
    /// The server requires its nonce (`use_dpop_nonce`), and the proof has none.
    NonceRequired,
    /// The proof's nonce is not the server's current one (`use_dpop_nonce`).
    StaleNonce,
}

impl ProofError {
    /// The OAuth error code (§7.1, §8): `use_dpop_nonce` asks the client to retry with the
    /// nonce it is given; everything else is `invalid_dpop_proof`.
    pub fn error_code(&self) -> &'static str {
        match self {
            ProofError::NonceRequired | ProofError::StaleNonce => "use_dpop_nonce",
            _ => "invalid_dpop_proof",
        }
    }

    /// A stable name for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            ProofError::Missing => "dpop_missing",
            ProofError::Several => "dpop_several",
            ProofError::NotAJws => "dpop_not_a_jws",
            ProofError::BadHeader => "dpop_bad_header",
            ProofError::WrongType(_) => "dpop_wrong_type",
            ProofError::Algorithm(_) => "dpop_algorithm",
            ProofError::NoKey => "dpop_no_key",
            ProofError::PrivateKey => "dpop_private_key",
            ProofError::BadKey => "dpop_bad_key",
            ProofError::BadSignature => "dpop_bad_signature",
            ProofError::BadClaims => "dpop_bad_claims",
            ProofError::Method { .. } => "dpop_method",
            ProofError::Uri { .. } => "dpop_uri",
            ProofError::TooOld => "dpop_too_old",
            ProofError::FromTheFuture => "dpop_from_the_future",
            ProofError::NoAth => "dpop_no_ath",
            ProofError::WrongAth => "dpop_wrong_ath",
            ProofError::Replayed => "dpop_replayed",
            ProofError::KeyMismatch => "dpop_key_mismatch",
            ProofError::NonceRequired => "dpop_nonce_required",
            ProofError::StaleNonce => "dpop_stale_nonce",
        }
    }
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProofError::Missing => f.write_str(
                "A DPoP access token needs a DPoP proof: send it in the DPoP header, made for this request.",
            ),
            ProofError::Several => {
                f.write_str("The request carries more than one DPoP header; send exactly one proof.")
            }
            ProofError::NotAJws => {
                f.write_str("The DPoP proof is not a signed JWT (header.payload.signature).")
            }
            ProofError::BadHeader => f.write_str(
                "The DPoP proof's header is not a JSON object, or declares critical extensions (crit).",
            ),
            ProofError::WrongType(Some(typ)) => write!(
                f,
                "The DPoP proof's typ is {typ:?}; a proof must say \"dpop+jwt\"."
            ),
            ProofError::WrongType(None) => {
                f.write_str("The DPoP proof has no typ; a proof must say \"dpop+jwt\".")
            }
            ProofError::Algorithm(alg) => write!(
                f,
                "The DPoP proof is signed with {}; proofs must use one of {} (asymmetric keys only).",
                alg.as_deref().unwrap_or("no algorithm"),
                ALGORITHMS.join(", ")
            ),
            ProofError::NoKey => f.write_str(
                "The DPoP proof carries no public key (jwk) in its header to verify it with.",
            ),
            ProofError::PrivateKey => f.write_str(
                "The DPoP proof's jwk contains private key material: that key is compromised; make a new key pair and send only its public part.",
            ),
            ProofError::BadKey => f.write_str(
                "The DPoP proof's jwk is not a usable public key for its alg (wrong key type, malformed, or an RSA key under 2048 bits).",
            ),
            ProofError::BadSignature => {
                f.write_str("The DPoP proof's signature does not verify with the key it carries.")
            }
            ProofError::BadClaims => write!(
                f,
                "The DPoP proof's claims must be JSON with jti (1 to {MAX_JTI_LEN} characters), htm, htu and iat."
            ),
            ProofError::Method { got, expected } => write!(
                f,
                "The DPoP proof was made for {got:?} requests (htm), not for this {expected} request. Make a proof per request."
            ),
            ProofError::Uri { got, expected } => write!(
                f,
                "The DPoP proof was made for {got:?} (htu), not for {expected:?}. Make a proof per request, for the URL it is sent to, without its query."
            ),
            ProofError::TooOld => f.write_str(
                "The DPoP proof is too old (iat): make a fresh proof for each request, and check this computer's clock.",
            ),
            ProofError::FromTheFuture => f.write_str(
                "The DPoP proof was made in the future (iat): check this computer's clock.",
            ),
            ProofError::NoAth => f.write_str(
                "The DPoP proof has no ath: a proof sent with an access token must carry the token's hash.",
            ),
            ProofError::WrongAth => f.write_str(
                "The DPoP proof's ath is not the hash of this access token: make the proof for the token it is sent with.",
            ),
            ProofError::Replayed => f.write_str(
                "This DPoP proof was used before (same jti): make a fresh proof for each request.",
            ),
            ProofError::KeyMismatch => f.write_str(
                "The DPoP proof is signed with another key than the one the access token is bound to (cnf.jkt).",
            ),
            ProofError::NonceRequired => f.write_str(
                "This server requires its DPoP nonce: make the proof again with the nonce in the DPoP-Nonce header of this answer.",
            ),
            ProofError::StaleNonce => f.write_str(
                "The DPoP proof's nonce is not current: make the proof again with the nonce in the DPoP-Nonce header of this answer.",
            ),
        }
    }
}

#[cfg(feature = "verify")]
pub use verify::{
    Expected, ProofKey, VerifiedProof, access_token_hash, normalize_htu, verify_proof,
};

#[cfg(feature = "verify")]
mod verify {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    use serde_json::{Map, Value};

    use super::{ALGORITHMS, MAX_JTI_LEN, PRIVATE_MEMBERS, PROOF_TYPE, ProofClaims, ProofError};
    use crate::jwt::Jws;
    use crate::oauth::constant_time_eq;

    /// What the request a proof came with says, for [`verify_proof`].
    #[derive(Debug, Clone, Copy)]
    pub struct Expected<'a> {
        /// The request's method.
        pub method: &'a str,
        /// The request's URI as the client may have written it, normalised
        /// ([`normalize_htu`]), one per public URL the server is reached at: any may match.
        pub uris: &'a [String],
        /// The access token the proof came with (the API's requests): `ath` must be its hash.
        pub access_token: Option<&'a str>,
        /// Now, in seconds since the epoch.
        pub now: i64,
        /// How old `iat` may be, in seconds.
        pub max_age: u64,
        /// Clock skew tolerated either way, in seconds.
        pub leeway: u64,
    }

    /// A proof that passed [`verify_proof`]: its key's thumbprint (RFC 7638, SHA-256,
    /// base64url), which the token's `cnf.jkt` must equal, and what the caller's replay cache
    /// and nonce check need.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct VerifiedProof {
        pub jkt: String,
        pub jti: String,
        pub iat: i64,
        pub nonce: Option<String>,
    }

    /// An `htu` as compared: parsed as a URL (RFC 3986 normalisation: scheme and host in lower
    /// case, the default port left out, dot segments resolved), without query and fragment.
    /// `None` when it is not an absolute http(s) URL.
    pub fn normalize_htu(uri: &str) -> Option<String> {
        let mut url = url::Url::parse(uri).ok()?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return None;
        }
        url.set_query(None);
        url.set_fragment(None);
        Some(url.into())
    }

    /// `ath` for `access_token`: base64url(SHA-256(token)).
    pub fn access_token_hash(access_token: &str) -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
        URL_SAFE_NO_PAD.encode(digest.as_ref())
    }

    /// The checks of RFC 9449 §4.3 that need no state, in order; the thumbprint of the key.
    pub fn verify_proof(proof: &str, expected: &Expected<'_>) -> Result<VerifiedProof, ProofError> {
        let (algorithm, jwk) = checked_header(proof)?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| ProofError::BadKey)?;
        let mut validation = Validation::new(algorithm);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<ProofClaims>(proof, &key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => ProofError::BadSignature,
                jsonwebtoken::errors::ErrorKind::Json(_)
                | jsonwebtoken::errors::ErrorKind::Utf8(_) => ProofError::BadClaims,
                _ => ProofError::BadKey,
            })?
            .claims;
        check_claims(&claims, expected)?;
        let jkt = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|_| ProofError::BadKey)?;
        Ok(VerifiedProof {
            jkt,
            jti: claims.jti,
            iat: claims.iat,
            nonce: claims.nonce,
        })
    }

    /// The header, read before any key is used: `typ`, `alg` from the allow-list, a public
    /// `jwk` and no `crit`.
    fn checked_header(proof: &str) -> Result<(Algorithm, Jwk), ProofError> {
        let jws = Jws::split(proof).map_err(|_| ProofError::NotAJws)?;
        let json = jws.header_json().map_err(|_| ProofError::BadHeader)?;
        let header: Map<String, Value> =
            serde_json::from_slice(&json).map_err(|_| ProofError::BadHeader)?;
        if header.contains_key("crit") {
            return Err(ProofError::BadHeader);
        }
        let text = |name: &str| header.get(name).and_then(Value::as_str);
        match text("typ") {
            Some(PROOF_TYPE) => {}
            typ => return Err(ProofError::WrongType(typ.map(str::to_owned))),
        }
        let alg = text("alg");
        let algorithm = match alg {
            Some(alg) if ALGORITHMS.contains(&alg) => alg.parse::<Algorithm>().ok(),
            _ => None,
        }
        .ok_or_else(|| ProofError::Algorithm(alg.map(str::to_owned)))?;
        let jwk = header.get("jwk").ok_or(ProofError::NoKey)?;
        let members = jwk.as_object().ok_or(ProofError::BadKey)?;
        if PRIVATE_MEMBERS.iter().any(|m| members.contains_key(*m)) {
            return Err(ProofError::PrivateKey);
        }
        let jwk: Jwk = serde_json::from_value(jwk.clone()).map_err(|_| ProofError::BadKey)?;
        Ok((algorithm, jwk))
    }

    fn check_claims(claims: &ProofClaims, expected: &Expected<'_>) -> Result<(), ProofError> {
        if claims.jti.is_empty() || claims.jti.len() > MAX_JTI_LEN {
            return Err(ProofError::BadClaims);
        }
        if claims.htm != expected.method {
            return Err(ProofError::Method {
                got: clip(&claims.htm),
                expected: expected.method.to_owned(),
            });
        }
        let htu = normalize_htu(&claims.htu);
        if !htu.is_some_and(|htu| expected.uris.contains(&htu)) {
            return Err(ProofError::Uri {
                got: clip(&claims.htu),
                expected: expected.uris.first().cloned().unwrap_or_default(),
            });
        }
        let (now, leeway) = (expected.now, expected.leeway as i64);
        if claims.iat > now.saturating_add(leeway) {
            return Err(ProofError::FromTheFuture);
        }
        let oldest = now
            .saturating_sub(expected.max_age as i64)
            .saturating_sub(leeway);
        if claims.iat < oldest {
            return Err(ProofError::TooOld);
        }
        if let Some(token) = expected.access_token {
            let ath = claims.ath.as_deref().ok_or(ProofError::NoAth)?;
            if !constant_time_eq(ath.as_bytes(), access_token_hash(token).as_bytes()) {
                return Err(ProofError::WrongAth);
            }
        }
        Ok(())
    }

    /// Someone else's text, short enough to quote in an answer.
    fn clip(text: &str) -> String {
        text.chars().take(200).collect()
    }

    /// An ES256 key pair that makes proofs, as a DPoP client does: for the tests and the
    /// benchmark's load generator (the SPA makes its own with WebCrypto).
    pub struct ProofKey {
        encoding: jsonwebtoken::EncodingKey,
        public: super::PublicEcKey,
    }

    impl ProofKey {
        pub fn generate() -> Self {
            use aws_lc_rs::signature::{
                ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _,
            };
            let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .expect("aws-lc makes P-256 keys");
            let pkcs8 = pair.to_pkcs8v1().expect("a P-256 key serializes");
            // The public key is the uncompressed point: 0x04, x, y.
            let point = pair.public_key().as_ref();
            let public = super::PublicEcKey {
                crv: "P-256".into(),
                kty: "EC".into(),
                x: URL_SAFE_NO_PAD.encode(&point[1..33]),
                y: URL_SAFE_NO_PAD.encode(&point[33..65]),
            };
            Self {
                encoding: jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref()),
                public,
            }
        }

        /// The key's RFC 7638 thumbprint: what a bound token's `cnf.jkt` says.
        pub fn thumbprint(&self) -> String {
            let digest = aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                self.public.thumbprint_input().as_bytes(),
            );
            URL_SAFE_NO_PAD.encode(digest.as_ref())
        }

        /// The public key, as a proof's header carries it.
        pub fn public_jwk(&self) -> &super::PublicEcKey {
            &self.public
        }

        /// A proof of `claims`, with `header` members changed or added by `header_changes`
        /// (tests make bad proofs with them).
        pub fn sign(&self, claims: &Value, header_changes: &Value) -> String {
            let mut header = serde_json::to_value(super::ProofHeader {
                typ: PROOF_TYPE,
                alg: "ES256",
                jwk: self.public.clone(),
            })
            .expect("a header serializes");
            if let (Some(header), Some(changes)) =
                (header.as_object_mut(), header_changes.as_object())
            {
                for (name, value) in changes {
                    header.insert(name.clone(), value.clone());
                }
            }
            let encode = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
            let input = format!("{}.{}", encode(&header), encode(claims));
            let signature =
                jsonwebtoken::crypto::sign(input.as_bytes(), &self.encoding, Algorithm::ES256)
                    .expect("ES256 signs");
            format!("{input}.{signature}")
        }

        /// A fresh proof for `method` `uri` at `now`, with `ath` for `access_token` and the
        /// server's `nonce` when given: what a client sends.
        pub fn proof(
            &self,
            method: &str,
            uri: &str,
            access_token: Option<&str>,
            nonce: Option<&str>,
            now: i64,
        ) -> String {
            let jti = {
                let mut bytes = [0u8; 16];
                aws_lc_rs::rand::fill(&mut bytes).expect("randomness");
                URL_SAFE_NO_PAD.encode(bytes)
            };
            let mut claims =
                serde_json::json!({ "jti": jti, "htm": method, "htu": uri, "iat": now });
            if let Some(token) = access_token {
                claims["ath"] = access_token_hash(token).into();
            }
            if let Some(nonce) = nonce {
                claims["nonce"] = nonce.into();
            }
            self.sign(&claims, &Value::Null)
        }
    }
}

/// Every sentence of a refused proof, pinned in one place.
#[cfg(test)]
mod golden {
    use super::ProofError::*;

    #[test]
    fn every_refused_proof_reads_as_written() {
        let cases = [
            (
                Missing,
                "A DPoP access token needs a DPoP proof: send it in the DPoP header, made for this request.",
            ),
            (
                Several,
                "The request carries more than one DPoP header; send exactly one proof.",
            ),
            (
                NotAJws,
                "The DPoP proof is not a signed JWT (header.payload.signature).",
            ),
            (
                BadHeader,
                "The DPoP proof's header is not a JSON object, or declares critical extensions (crit).",
            ),
            (
                WrongType(Some("JWT".into())),
                "The DPoP proof's typ is \"JWT\"; a proof must say \"dpop+jwt\".",
            ),
            (
                WrongType(None),
                "The DPoP proof has no typ; a proof must say \"dpop+jwt\".",
            ),
            (
                Algorithm(Some("HS256".into())),
                "The DPoP proof is signed with HS256; proofs must use one of ES256, EdDSA, PS256, RS256 (asymmetric keys only).",
            ),
            (
                Algorithm(None),
                "The DPoP proof is signed with no algorithm; proofs must use one of ES256, EdDSA, PS256, RS256 (asymmetric keys only).",
            ),
            (
                NoKey,
                "The DPoP proof carries no public key (jwk) in its header to verify it with.",
            ),
            (
                PrivateKey,
                "The DPoP proof's jwk contains private key material: that key is compromised; make a new key pair and send only its public part.",
            ),
            (
                BadKey,
                "The DPoP proof's jwk is not a usable public key for its alg (wrong key type, malformed, or an RSA key under 2048 bits).",
            ),
            (
                BadSignature,
                "The DPoP proof's signature does not verify with the key it carries.",
            ),
            (
                BadClaims,
                "The DPoP proof's claims must be JSON with jti (1 to 128 characters), htm, htu and iat.",
            ),
            (
                Method {
                    got: "POST".into(),
                    expected: "GET".into(),
                },
                "The DPoP proof was made for \"POST\" requests (htm), not for this GET request. Make a proof per request.",
            ),
            (
                Uri {
                    got: "https://a/x".into(),
                    expected: "https://a/y".into(),
                },
                "The DPoP proof was made for \"https://a/x\" (htu), not for \"https://a/y\". Make a proof per request, for the URL it is sent to, without its query.",
            ),
            (
                TooOld,
                "The DPoP proof is too old (iat): make a fresh proof for each request, and check this computer's clock.",
            ),
            (
                FromTheFuture,
                "The DPoP proof was made in the future (iat): check this computer's clock.",
            ),
            (
                NoAth,
                "The DPoP proof has no ath: a proof sent with an access token must carry the token's hash.",
            ),
            (
                WrongAth,
                "The DPoP proof's ath is not the hash of this access token: make the proof for the token it is sent with.",
            ),
            (
                Replayed,
                "This DPoP proof was used before (same jti): make a fresh proof for each request.",
            ),
            (
                KeyMismatch,
                "The DPoP proof is signed with another key than the one the access token is bound to (cnf.jkt).",
            ),
            (
                NonceRequired,
                "This server requires its DPoP nonce: make the proof again with the nonce in the DPoP-Nonce header of this answer.",
            ),
            (
                StaleNonce,
                "The DPoP proof's nonce is not current: make the proof again with the nonce in the DPoP-Nonce header of this answer.",
            ),
        ];
        let mut codes = std::collections::BTreeSet::new();
        for (error, sentence) in cases {
            assert_eq!(error.to_string(), sentence, "{error:?}");
            // Logs and metrics name the refusal: one stable snake_case code per variant.
            let code = error.code();
            assert!(code.starts_with("dpop_"), "{error:?}: {code}");
            assert!(code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            codes.insert(code);
        }
        assert_eq!(codes.len(), 21, "one code per refusal: {codes:?}");
    }
}

#[cfg(test)]
#[cfg(feature = "verify")]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    const NOW: i64 = 1_700_000_000;
    const URI: &str = "https://api.example.com/api/private";

    fn uris() -> Vec<String> {
        vec![normalize_htu(URI).unwrap()]
    }

    fn expected<'a>(uris: &'a [String], token: Option<&'a str>) -> Expected<'a> {
        Expected {
            method: "GET",
            uris,
            access_token: token,
            now: NOW,
            max_age: 60,
            leeway: 5,
        }
    }

    fn claims(changes: Value) -> Value {
        let mut claims = json!({
            "jti": "jti-1", "htm": "GET", "htu": URI, "iat": NOW, "ath": access_token_hash("at"),
        });
        for (name, value) in changes.as_object().unwrap() {
            match value {
                Value::Null => claims.as_object_mut().unwrap().remove(name),
                _ => claims
                    .as_object_mut()
                    .unwrap()
                    .insert(name.clone(), value.clone()),
            };
        }
        claims
    }

    #[test]
    fn a_good_proof_gives_its_keys_thumbprint() {
        let key = ProofKey::generate();
        let uris = uris();
        let proof = key.proof("GET", URI, Some("at"), None, NOW);
        let verified = verify_proof(&proof, &expected(&uris, Some("at"))).unwrap();
        assert_eq!(verified.jkt, key.thumbprint());
        assert_eq!(verified.iat, NOW);
        // At the token endpoint there is no access token, and no ath to check.
        let proof = key.proof("GET", URI, None, Some("n-1"), NOW);
        let verified = verify_proof(&proof, &expected(&uris, None)).unwrap();
        assert_eq!(verified.nonce.as_deref(), Some("n-1"));
    }

    #[test]
    fn rfc_7638s_example_thumbprint() {
        // RFC 7638 §3.1's RSA example, through the same jsonwebtoken call verify_proof uses.
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29",
        }))
        .unwrap();
        assert_eq!(
            jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                .unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        // And the SPA's input for an EC key is RFC 7638's: required members, sorted.
        let key = PublicEcKey {
            crv: "P-256".into(),
            kty: "EC".into(),
            x: "X".into(),
            y: "Y".into(),
        };
        assert_eq!(
            key.thumbprint_input(),
            r#"{"crv":"P-256","kty":"EC","x":"X","y":"Y"}"#
        );
    }

    #[test]
    fn every_rule_refuses_its_fault_and_passes_its_control() {
        let key = ProofKey::generate();
        let uris = uris();
        let check = |proof: &str| verify_proof(proof, &expected(&uris, Some("at")));
        // The control: the same construction, nothing changed.
        assert!(check(&key.sign(&claims(json!({})), &Value::Null)).is_ok());
        // The longest jti taken (one more is refused below).
        let longest = json!({"jti": "j".repeat(MAX_JTI_LEN)});
        assert!(check(&key.sign(&claims(longest), &Value::Null)).is_ok());
        let cases: Vec<(Value, Value, ProofError)> = vec![
            (
                json!({"typ": "JWT"}),
                json!({}),
                ProofError::WrongType(Some("JWT".into())),
            ),
            (json!({"typ": null}), json!({}), ProofError::WrongType(None)),
            (
                json!({"alg": "HS256"}),
                json!({}),
                ProofError::Algorithm(Some("HS256".into())),
            ),
            (
                json!({"alg": "none"}),
                json!({}),
                ProofError::Algorithm(Some("none".into())),
            ),
            (json!({"jwk": null}), json!({}), ProofError::BadKey),
            (json!({"crit": ["x"]}), json!({}), ProofError::BadHeader),
            (json!({"alg": "RS256"}), json!({}), ProofError::BadKey),
            (
                json!({}),
                json!({"htm": "POST"}),
                ProofError::Method {
                    got: "POST".into(),
                    expected: "GET".into(),
                },
            ),
            (
                json!({}),
                json!({"htu": "https://api.example.com/api/public"}),
                ProofError::Uri {
                    got: "https://api.example.com/api/public".into(),
                    expected: uris[0].clone(),
                },
            ),
            (json!({}), json!({"iat": NOW - 66}), ProofError::TooOld),
            (
                json!({}),
                json!({"iat": NOW + 6}),
                ProofError::FromTheFuture,
            ),
            (json!({}), json!({"ath": null}), ProofError::NoAth),
            (
                json!({}),
                json!({"ath": access_token_hash("another")}),
                ProofError::WrongAth,
            ),
            (json!({}), json!({"jti": ""}), ProofError::BadClaims),
            (
                json!({}),
                json!({"jti": "j".repeat(MAX_JTI_LEN + 1)}),
                ProofError::BadClaims,
            ),
            (json!({}), json!({"iat": "now"}), ProofError::BadClaims),
            (json!({}), json!({"htu": null}), ProofError::BadClaims),
        ];
        for (header, changes, error) in cases {
            let proof = key.sign(&claims(changes.clone()), &header);
            assert_eq!(check(&proof), Err(error), "{header} {changes}");
        }
        // Just inside the window, either way.
        for iat in [NOW - 65, NOW + 5] {
            assert!(check(&key.sign(&claims(json!({"iat": iat})), &Value::Null)).is_ok());
        }
    }

    #[test]
    fn the_key_must_be_public_and_sign_the_proof() {
        let key = ProofKey::generate();
        let other = ProofKey::generate();
        let uris = uris();
        let check = |proof: &str| verify_proof(proof, &expected(&uris, Some("at")));
        let mut private = serde_json::to_value(key.public_jwk()).unwrap();
        private["d"] = json!("c2VjcmV0");
        let with_private = key.sign(&claims(json!({})), &json!({ "jwk": private }));
        assert_eq!(check(&with_private), Err(ProofError::PrivateKey));
        // Signed by one key, carrying another: the signature does not verify.
        let swapped = key.sign(&claims(json!({})), &json!({ "jwk": other.public_jwk() }));
        assert_eq!(check(&swapped), Err(ProofError::BadSignature));
        let mut header = serde_json::to_value(key.public_jwk()).unwrap();
        header.as_object_mut().unwrap().remove("x");
        assert_eq!(
            check(&key.sign(&claims(json!({})), &json!({ "jwk": header }))),
            Err(ProofError::BadKey)
        );
        for not_a_proof in ["", "a.b", "a.b.c.d.e", "!!.b.c"] {
            assert!(check(not_a_proof).is_err(), "{not_a_proof}");
        }
        let tampered = {
            let proof = key.proof("GET", URI, Some("at"), None, NOW);
            let (rest, signature) = proof.rsplit_once('.').unwrap();
            let flipped = if signature.starts_with('A') { "B" } else { "A" };
            format!("{rest}.{flipped}{}", &signature[1..])
        };
        assert_eq!(check(&tampered), Err(ProofError::BadSignature));
    }

    #[test]
    fn htu_is_compared_after_normalisation_without_query_or_fragment() {
        let uris = uris();
        for same in [
            "https://API.Example.com/api/private",
            "https://api.example.com:443/api/private",
            "https://api.example.com/api/./private",
            "https://api.example.com/api/private?x=1#f",
        ] {
            assert_eq!(normalize_htu(same).as_ref(), Some(&uris[0]), "{same}");
        }
        for other in [
            "http://api.example.com/api/private",
            "https://api.example.com:8443/api/private",
            "https://api.example.com/api/private/",
        ] {
            assert_ne!(normalize_htu(other).as_ref(), Some(&uris[0]), "{other}");
        }
        assert_eq!(normalize_htu("/api/private"), None);
        assert_eq!(normalize_htu("ftp://api.example.com/x"), None);
    }

    /// RFC 9449's own examples: the `ath` of §7.1's access token, and the `jkt` (§6.1) of
    /// the key in §4.2's example proof.
    #[test]
    fn rfc_9449s_example_ath_and_jkt() {
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(json!({
            "kty": "EC",
            "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
            "crv": "P-256",
        }))
        .unwrap();
        assert_eq!(
            jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                .unwrap(),
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        );
    }

    #[test]
    fn the_challenges_algs_are_the_algorithms() {
        assert_eq!(ALGS, ALGORITHMS.join(" "));
    }

    #[test]
    fn nonce_errors_ask_for_the_nonce_and_the_rest_are_invalid_proofs() {
        assert_eq!(ProofError::NonceRequired.error_code(), "use_dpop_nonce");
        assert_eq!(ProofError::StaleNonce.error_code(), "use_dpop_nonce");
        assert_eq!(ProofError::Replayed.error_code(), "invalid_dpop_proof");
    }
}
