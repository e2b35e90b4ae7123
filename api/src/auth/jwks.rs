//! The tenant's signing keys (JWKS), fetched and cached.
//!
//! Written here on jsonwebtoken + reqwest because no maintained crate does what this API needs
//! with axum 0.8: jwt-authorizer is stuck on axum 0.7 and only picks up a rotated key when its
//! cache expires (10 minutes), and the others neither coalesce concurrent fetches nor bound how
//! often tokens with made-up `kid`s make the server call the tenant.
//!
//! The rules:
//! - the whole key set is cached and replaced whole on every successful fetch;
//! - after `max_age` it is refreshed in the background while the cached keys keep serving;
//! - an unknown `kid` triggers a refetch (a key rotation), at most once per `refetch_cooldown`;
//! - one fetch at a time: every request waiting on the same unknown `kid` shares it;
//! - a failed or garbage fetch keeps the previous keys; the server never exits or panics over it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use url::Url;

#[derive(Debug, Clone)]
pub struct JwksSettings {
    pub url: Url,
    /// Refresh the key set in the background once it is this old.
    pub max_age: Duration,
    /// The least time between two fetch attempts.
    pub refetch_cooldown: Duration,
    /// How long one fetch may take, connection and body included.
    pub fetch_timeout: Duration,
}

/// Why no key could be had for a `kid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The tenant's key set is known and does not hold this `kid`.
    UnknownKid,
    /// The tenant's keys could not be fetched (unreachable, slow, or not a usable JWKS).
    Unavailable,
}

/// RFC 7518 §3.3: RS256 keys must be at least 2048 bits.
const MIN_RSA_MODULUS_BYTES: usize = 2048 / 8;
/// A JWKS is a few kilobytes; anything far larger is not one.
const MAX_JWKS_BYTES: usize = 512 * 1024;

/// A cheap-to-clone handle on the cached key set.
#[derive(Clone)]
pub struct JwksCache {
    inner: Arc<Inner>,
}

struct Inner {
    settings: JwksSettings,
    http: reqwest::Client,
    state: RwLock<State>,
    /// Held for the whole of a fetch: this is what makes it one fetch at a time.
    fetch_lock: tokio::sync::Mutex<()>,
    refresh_scheduled: AtomicBool,
    fetches: AtomicU64,
}

#[derive(Default)]
struct State {
    keys: Arc<HashMap<String, Arc<DecodingKey>>>,
    /// Bumped on every successful fetch; anything derived from the keys compares it.
    generation: u64,
    /// Bumped on every fetch attempt, so waiters can tell that a fetch happened meanwhile.
    attempts: u64,
    fetched_at: Option<Instant>,
    attempted_at: Option<Instant>,
    last_attempt_failed: bool,
}

impl JwksCache {
    pub fn new(settings: JwksSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(settings.fetch_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("quickstart-api/", env!("CARGO_PKG_VERSION")))
            .build()
            // Building a client only fails when the TLS backend cannot start, which is a
            // broken build, not a configuration a user can fix.
            .expect("the HTTP client for the JWKS cannot be built");
        Self {
            inner: Arc::new(Inner {
                settings,
                http,
                state: RwLock::new(State::default()),
                fetch_lock: tokio::sync::Mutex::new(()),
                refresh_scheduled: AtomicBool::new(false),
                fetches: AtomicU64::new(0),
            }),
        }
    }

    pub fn url(&self) -> &Url {
        &self.inner.settings.url
    }

    /// How many fetches this cache has started: the figure the tests and benchmarks check.
    pub fn fetch_count(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// The generation of the key set: it changes whenever the keys are replaced. Like a key
    /// lookup, it starts a background refresh when the set is older than the max-age, so
    /// that what is derived from the keys (the token cache) cannot outlive a rotation.
    pub fn generation(&self) -> u64 {
        let state = self.inner.read_state();
        if state.fetched_at.is_some() && state.is_stale(self.inner.settings.max_age) {
            self.inner.schedule_background_refresh(state.attempts);
        }
        state.generation
    }

    /// Starts the first fetch in the background so the first private request finds keys ready.
    pub fn warm_up(&self) {
        let seen = self.inner.read_state().attempts;
        let inner = self.inner.clone();
        tokio::spawn(async move { inner.refetch_unless_fetched_since(seen).await });
    }

    /// The verification key for `kid`, refetching the key set once if `kid` is new, with the
    /// generation of the key set it came from.
    pub async fn key(&self, kid: &str) -> Result<(Arc<DecodingKey>, u64), KeyError> {
        let seen_attempts = {
            let state = self.inner.read_state();
            if let Some(key) = state.keys.get(kid) {
                if state.is_stale(self.inner.settings.max_age) {
                    self.inner.schedule_background_refresh(state.attempts);
                }
                return Ok((key.clone(), state.generation));
            }
            state.attempts
        };
        // Not in the cache: the tenant may have rotated its keys since the last fetch.
        self.inner.refetch_unless_fetched_since(seen_attempts).await;
        let state = self.inner.read_state();
        match state.keys.get(kid) {
            Some(key) => Ok((key.clone(), state.generation)),
            None if state.fetched_at.is_none() || state.last_attempt_failed => {
                Err(KeyError::Unavailable)
            }
            None => Err(KeyError::UnknownKid),
        }
    }
}

impl Inner {
    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` half-written (every write is a
        // single assignment block), so a poisoned lock is still safe to read.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn schedule_background_refresh(self: &Arc<Self>, seen_attempts: u64) {
        if self.refresh_scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let inner = self.clone();
        tokio::spawn(async move {
            inner.refetch_unless_fetched_since(seen_attempts).await;
            inner.refresh_scheduled.store(false, Ordering::Release);
        });
    }

    /// Fetches the key set unless another fetch ran since the caller looked (`seen_attempts`)
    /// or the cooldown has not passed. Waits for a fetch under way instead of starting another.
    async fn refetch_unless_fetched_since(&self, seen_attempts: u64) {
        let _one_at_a_time = self.fetch_lock.lock().await;
        {
            let state = self.read_state();
            if state.attempts != seen_attempts {
                return;
            }
            if state
                .attempted_at
                .is_some_and(|at| at.elapsed() < self.settings.refetch_cooldown)
            {
                return;
            }
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let outcome = tokio::time::timeout(self.settings.fetch_timeout, self.fetch()).await;
        let outcome = outcome.unwrap_or(Err(FetchError::Timeout));
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        state.attempts += 1;
        state.attempted_at = Some(started);
        match outcome {
            Ok(keys) => {
                tracing::info!(url = %self.settings.url, keys = keys.len(), "fetched the tenant's signing keys");
                state.keys = Arc::new(keys);
                state.generation += 1;
                state.fetched_at = Some(started);
                state.last_attempt_failed = false;
            }
            Err(error) => {
                tracing::warn!(url = %self.settings.url, %error, "could not fetch the tenant's signing keys; keeping the previous ones");
                state.last_attempt_failed = true;
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<DecodingKey>>, FetchError> {
        let mut response = self
            .http
            .get(self.settings.url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| FetchError::Unreachable(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| FetchError::Unreachable(e.without_url().to_string()))?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let keys = parse_jwks(&body)?;
        if keys.is_empty() {
            return Err(FetchError::NoUsableKeys);
        }
        Ok(keys)
    }
}

impl State {
    fn is_stale(&self, max_age: Duration) -> bool {
        self.fetched_at.is_none_or(|at| at.elapsed() >= max_age)
    }
}

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("the JWKS endpoint could not be reached: {0}")]
    Unreachable(String),
    #[error("the JWKS endpoint did not answer in time")]
    Timeout,
    #[error("the JWKS endpoint answered HTTP {0}")]
    Status(u16),
    #[error("the JWKS endpoint answered more than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    #[error("the JWKS endpoint did not answer a JSON key set")]
    NotAKeySet,
    #[error("the key set holds no RSA signing key usable for RS256")]
    NoUsableKeys,
}

/// One key of a JWKS, as far as this API cares. Parsed key by key so that one key of a kind
/// this API does not use (EC, encryption, an unknown `alg`) cannot make the whole set fail.
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    key_use: Option<String>,
    alg: Option<String>,
    key_ops: Option<Vec<String>>,
    n: Option<String>,
    e: Option<String>,
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<serde_json::Value>,
}

fn parse_jwks(body: &[u8]) -> Result<HashMap<String, Arc<DecodingKey>>, FetchError> {
    let set: JwkSet = serde_json::from_slice(body).map_err(|_| FetchError::NotAKeySet)?;
    let mut keys = HashMap::new();
    for value in set.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        if let Some((kid, key)) = usable_rs256_key(jwk) {
            // A kid published twice is ambiguous: keep the first, as most verifiers do.
            keys.entry(kid).or_insert_with(|| Arc::new(key));
        }
    }
    Ok(keys)
}

/// An RSA public key meant for signatures with RS256, or nothing. Keys for encryption, for
/// other algorithms, without a `kid`, or shorter than 2048 bits are never used.
fn usable_rs256_key(jwk: Jwk) -> Option<(String, DecodingKey)> {
    let signing = jwk.key_use.as_deref().is_none_or(|u| u == "sig")
        && jwk
            .key_ops
            .as_ref()
            .is_none_or(|ops| ops.iter().any(|op| op == "verify"));
    let rs256 = jwk.alg.as_deref().is_none_or(|alg| alg == "RS256");
    if jwk.kty != "RSA" || !signing || !rs256 {
        return None;
    }
    let kid = jwk.kid.filter(|kid| !kid.is_empty())?;
    let n = URL_SAFE_NO_PAD.decode(jwk.n?).ok()?;
    let e = URL_SAFE_NO_PAD.decode(jwk.e?).ok()?;
    let modulus = match n.iter().position(|&b| b != 0) {
        Some(first) => &n[first..],
        None => return None,
    };
    if modulus.len() < MIN_RSA_MODULUS_BYTES || e.is_empty() || e.len() > 8 {
        return None;
    }
    Some((kid, DecodingKey::from_rsa_raw_components(modulus, &e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn rsa_jwk(kid: &str) -> serde_json::Value {
        let mut n = vec![0xC5u8; 256];
        n[255] = 0x01;
        json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64(&n), "e": "AQAB"})
    }

    fn kids(body: serde_json::Value) -> Vec<String> {
        let mut kids: Vec<_> = parse_jwks(body.to_string().as_bytes())
            .unwrap()
            .into_keys()
            .collect();
        kids.sort();
        kids
    }

    #[test]
    fn keeps_only_rsa_signing_keys_for_rs256() {
        let mut enc = rsa_jwk("enc");
        enc["use"] = json!("enc");
        let mut ps = rsa_jwk("ps256");
        ps["alg"] = json!("PS256");
        let mut wrap = rsa_jwk("wrap");
        wrap["key_ops"] = json!(["wrapKey"]);
        let mut no_alg = rsa_jwk("no-alg");
        no_alg.as_object_mut().unwrap().remove("alg");
        let ec = json!({"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"});
        let body = json!({"keys": [rsa_jwk("good"), enc, ps, wrap, no_alg, ec, "junk", 42]});
        assert_eq!(kids(body), ["good", "no-alg"]);
    }

    #[test]
    fn refuses_short_or_kidless_or_undecodable_keys() {
        let short = json!({"kty": "RSA", "kid": "short", "n": b64(&[0xC5; 128]), "e": "AQAB"});
        let mut padded_short = short.clone();
        let mut n = vec![0u8; 200];
        n.extend([0xC5; 100]);
        padded_short["n"] = json!(b64(&n));
        padded_short["kid"] = json!("padded");
        let mut no_kid = rsa_jwk("x");
        no_kid.as_object_mut().unwrap().remove("kid");
        let mut bad_b64 = rsa_jwk("bad");
        bad_b64["n"] = json!("***");
        let body = json!({"keys": [short, padded_short, no_kid, bad_b64]});
        assert!(kids(body).is_empty());
    }

    #[test]
    fn first_of_duplicate_kids_wins_and_garbage_is_not_a_key_set() {
        assert_eq!(kids(json!({"keys": [rsa_jwk("a"), rsa_jwk("a")]})), ["a"]);
        for garbage in [&b"<html>"[..], b"{}", b"{\"keys\": 3}", b""] {
            assert!(matches!(parse_jwks(garbage), Err(FetchError::NotAKeySet)));
        }
    }
}
