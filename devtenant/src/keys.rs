//! The tenant's RSA signing keys: generated on first start, kept in a data file that git
//! ignores (so tokens survive restarts), rotated the way Auth0 rotates them: the new key signs,
//! the previous one stays published until it is revoked.
//!
//! Keys are generated and used with aws-lc-rs directly (jsonwebtoken's encoder wants PKCS#1
//! while aws-lc-rs produces PKCS#8, and tests need JWS headers jsonwebtoken's `Header` cannot
//! express, such as `crit`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::DecodingKey;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::jwt::{Jwk, JwkSet};

/// Why the key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("cannot write {path}: {error}")]
    Write { path: String, error: std::io::Error },
    #[error(
        "{path} is not a key file this tenant wrote ({why}); delete it to start with a new key"
    )]
    Corrupt { path: String, why: String },
}

/// An RSA key that signs tokens with RS256.
pub struct SigningKey {
    kid: String,
    pair: KeyPair,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish()
    }
}

impl SigningKey {
    /// A fresh 2048-bit key with a random `kid`.
    pub fn generate() -> Self {
        Self::generate_with_kid(&random_token(16))
    }

    pub fn generate_with_kid(kid: &str) -> Self {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        let pkcs8 = pair
            .as_der()
            .expect("a generated key serializes")
            .as_ref()
            .to_vec();
        Self {
            kid: kid.to_owned(),
            pair,
            pkcs8,
        }
    }

    fn from_pkcs8(kid: &str, pkcs8: Vec<u8>) -> Result<Self, String> {
        let pair = KeyPair::from_pkcs8(&pkcs8).map_err(|e| format!("key {kid}: {e}"))?;
        Ok(Self {
            kid: kid.to_owned(),
            pair,
            pkcs8,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWKS entry, as Auth0 publishes it.
    pub fn jwk(&self) -> Jwk {
        let public = self.pair.public_key();
        Jwk {
            kty: "RSA".into(),
            kid: Some(self.kid.clone()),
            key_use: Some("sig".into()),
            alg: Some("RS256".into()),
            n: Some(URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero())),
            e: Some(URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero())),
            ..Jwk::default()
        }
    }

    /// The public key, for verifying what this tenant signed (at `/userinfo`).
    pub fn decoding_key(&self) -> DecodingKey {
        let public = self.pair.public_key();
        DecodingKey::from_rsa_raw_components(
            public.modulus().big_endian_without_leading_zero(),
            public.exponent().big_endian_without_leading_zero(),
        )
    }

    /// The raw modulus (tests use it to try the HS256-with-the-public-key attack).
    pub fn modulus(&self) -> Vec<u8> {
        self.pair
            .public_key()
            .modulus()
            .big_endian_without_leading_zero()
            .to_vec()
    }

    /// A JWT with the tenant's usual header `{"alg":"RS256","typ":"JWT","kid":...}`.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_header(
            &json!({"alg": "RS256", "typ": "JWT", "kid": self.kid}),
            claims,
        )
    }

    /// A JWS with any header at all, RS256-signed with this key.
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        self.sign_payload(header, &claims.to_string())
    }

    /// A JWS whose payload is exactly `payload`, JSON or not.
    pub fn sign_payload(&self, header: &Value, payload: &str) -> String {
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message.as_bytes(),
                &mut signature,
            )
            .expect("RS256 signing with a valid key");
        format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

/// Whether two secrets are equal, in time that depends on neither their contents nor their
/// lengths: both are hashed to 32 bytes first, then compared in constant time.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (digest(&SHA256, a.as_bytes()), digest(&SHA256, b.as_bytes()));
    verify_slices_are_equal(a.as_ref(), b.as_ref()).is_ok()
}

/// A random URL-safe string of `bytes` random bytes, from the OS's CSPRNG.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buf)
        .expect("the system random generator works");
    URL_SAFE_NO_PAD.encode(buf)
}

/// The tenant's keys: the first signs, all are published.
#[derive(Clone)]
pub struct KeyRing {
    keys: Vec<Arc<SigningKey>>,
}

impl KeyRing {
    pub fn new(signing: SigningKey) -> Self {
        Self {
            keys: vec![Arc::new(signing)],
        }
    }

    /// A ring of existing keys; the first signs.
    pub fn from_keys(keys: Vec<Arc<SigningKey>>) -> Self {
        assert!(!keys.is_empty(), "a key ring needs a signing key");
        Self { keys }
    }

    /// The key new tokens are signed with.
    pub fn signing(&self) -> &Arc<SigningKey> {
        &self.keys[0]
    }

    pub fn get(&self, kid: &str) -> Option<&Arc<SigningKey>> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The JWKS: every key of the ring, the signing one first.
    pub fn published(&self) -> JwkSet {
        JwkSet {
            keys: self.keys.iter().map(|k| k.jwk()).collect(),
        }
    }

    pub fn kids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.kid.clone()).collect()
    }

    /// Auth0's "Rotate signing key": a new key signs from now on; the previous ones stay
    /// published so tokens they signed keep verifying until they are revoked.
    pub fn rotate(&mut self) -> &Arc<SigningKey> {
        self.keys.insert(0, Arc::new(SigningKey::generate()));
        &self.keys[0]
    }

    /// Auth0's "Revoke": the previous keys leave the JWKS; their tokens stop verifying.
    pub fn revoke_previous(&mut self) -> Vec<String> {
        self.keys.drain(1..).map(|k| k.kid.clone()).collect()
    }
}

/// Where the key ring lives between runs.
#[derive(Debug, Clone)]
pub struct KeyFile {
    path: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct StoredKeys {
    /// Newest first: the first key signs.
    keys: Vec<StoredKey>,
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    /// The private key, PKCS#8 DER, base64.
    pkcs8: String,
}

impl KeyFile {
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join("signing-keys.json"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored key ring, or a new one (saved) when there is none yet. A file that exists
    /// but cannot be read is an error, never silently replaced: that would log everyone out.
    pub fn load_or_create(&self) -> Result<KeyRing, KeyFileError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => self.parse(&bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let ring = KeyRing::new(SigningKey::generate());
                self.save(&ring)?;
                Ok(ring)
            }
            Err(error) => Err(KeyFileError::Read {
                path: self.path.display().to_string(),
                error,
            }),
        }
    }

    fn parse(&self, bytes: &[u8]) -> Result<KeyRing, KeyFileError> {
        let broken = |why: String| KeyFileError::Corrupt {
            path: self.path.display().to_string(),
            why,
        };
        let stored: StoredKeys =
            serde_json::from_slice(bytes).map_err(|e| broken(e.to_string()))?;
        if stored.keys.is_empty() {
            return Err(broken("it holds no key".into()));
        }
        let keys = stored
            .keys
            .into_iter()
            .map(|k| {
                let der = STANDARD.decode(&k.pkcs8).map_err(|e| e.to_string())?;
                SigningKey::from_pkcs8(&k.kid, der)
            })
            .map(|k| k.map(Arc::new))
            .collect::<Result<Vec<_>, _>>()
            .map_err(broken)?;
        Ok(KeyRing::from_keys(keys))
    }

    pub fn save(&self, ring: &KeyRing) -> Result<(), KeyFileError> {
        let stored = StoredKeys {
            keys: ring
                .keys
                .iter()
                .map(|k| StoredKey {
                    kid: k.kid.clone(),
                    pkcs8: STANDARD.encode(&k.pkcs8),
                })
                .collect(),
        };
        let text = serde_json::to_string_pretty(&stored).expect("keys serialize");
        // Written beside and renamed, so a crash never leaves half a key file; private to
        // its owner, as a private key should be.
        let tmp = self.path.with_extension("json.tmp");
        self.path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| write_private(&tmp, text.as_bytes()))
            .and_then(|()| std::fs::rename(&tmp, &self.path))
            .map_err(|error| KeyFileError::Write {
                path: self.path.display().to_string(),
                error,
            })
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty directory of its own, removed when the test ends.
    fn temp_dir(name: &str) -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix(&format!("devtenant-keys-{name}-"))
            .tempdir()
            .unwrap()
    }

    #[test]
    fn key_file_is_created_once_and_reloaded() {
        let dir = temp_dir("reload");
        // A directory that does not exist yet: the first start makes it.
        let file = KeyFile::in_dir(&dir.path().join("tenant"));
        let first = file.load_or_create().unwrap();
        let again = file.load_or_create().unwrap();
        assert_eq!(first.kids(), again.kids());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn rotation_keeps_the_previous_key_published_until_revoked() {
        let mut ring = KeyRing::new(SigningKey::generate());
        let old = ring.signing().kid().to_owned();
        let new = ring.rotate().kid().to_owned();
        assert_ne!(old, new);
        assert_eq!(ring.signing().kid(), new);
        assert_eq!(ring.kids(), [new.clone(), old.clone()]);
        assert_eq!(ring.revoke_previous(), [old]);
        assert_eq!(ring.kids(), [new]);
    }

    #[test]
    fn a_corrupt_key_file_is_an_error_not_a_new_key() {
        let dir = temp_dir("corrupt");
        let file = KeyFile::in_dir(dir.path());
        std::fs::write(file.path(), "{not json").unwrap();
        let error = file.load_or_create().err().unwrap();
        assert!(matches!(error, KeyFileError::Corrupt { .. }), "{error}");
        assert!(error.to_string().contains("delete it"), "{error}");
        assert_eq!(std::fs::read_to_string(file.path()).unwrap(), "{not json");
    }

    #[test]
    fn secrets_compare_by_content_whatever_their_length() {
        assert!(same_secret("reader", "reader"));
        assert!(!same_secret("reader", "readers"));
        assert!(!same_secret("reader", ""));
    }

    #[test]
    fn the_published_key_is_one_the_shared_rule_accepts() {
        let key = SigningKey::generate();
        let usable = key.jwk().rs256_key().unwrap();
        assert_eq!(usable.kid, key.kid());
        assert_eq!(usable.modulus, key.modulus());
    }

    #[test]
    fn signatures_verify_with_the_published_key() {
        let key = SigningKey::generate();
        let token = key.sign(&json!({"sub": "x", "exp": 4_000_000_000u64}));
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Value>(&token, &key.decoding_key(), &validation).unwrap();
        assert_eq!(data.claims["sub"], "x");
        assert_eq!(data.header.kid.as_deref(), Some(key.kid()));
    }
}
