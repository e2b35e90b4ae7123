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
//!   within the cooldown such a token is asked to come back when a fetch may start (503 with
//!   `Retry-After`), not told it is invalid: its key may have been published a moment ago;
//! - the generation changes only when the keys do, so refetches cannot flush what is derived
//!   from them (the cache of verified tokens);
//! - one fetch at a time: every request waiting on the same unknown `kid` shares it;
//! - a failed or garbage fetch keeps the previous keys; the server never exits or panics over it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use shared::jwt::Rs256Key;
use url::Url;

use super::key_source::{FetchError, KeyFetcher, KeySource};

/// Where the key set is and how it is kept. [`JwksSettings::new`] carries the documented
/// defaults.
#[derive(Debug, Clone)]
pub struct JwksSettings {
    pub source: KeySource,
    /// Refresh the key set in the background once it is this old. Defaults to 10 min.
    pub max_age: Duration,
    /// The least time between two fetch attempts. Defaults to 10 s.
    pub refetch_cooldown: Duration,
    /// How long one fetch may take, discovery, connection and body included. Defaults to 5 s.
    pub fetch_timeout: Duration,
}

impl JwksSettings {
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(10 * 60);
    pub const DEFAULT_REFETCH_COOLDOWN: Duration = Duration::from_secs(10);
    pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

    pub fn new(source: KeySource) -> Self {
        Self {
            source,
            max_age: Self::DEFAULT_MAX_AGE,
            refetch_cooldown: Self::DEFAULT_REFETCH_COOLDOWN,
            fetch_timeout: Self::DEFAULT_FETCH_TIMEOUT,
        }
    }
}

/// Why no key could be had for a `kid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The tenant's key set is known and does not hold this `kid`.
    UnknownKid,
    /// The `kid` is not in the key set fetched a moment ago, and no fetch may start for this
    /// long: the key may be newer than the set.
    NotFetchableYet(Duration),
    /// The tenant's keys could not be fetched (unreachable, slow, or not a usable JWKS).
    Unavailable,
}

/// A cheap-to-clone handle on the cached key set.
#[derive(Clone)]
pub struct JwksCache {
    inner: Arc<Inner>,
}

struct Inner {
    settings: JwksSettings,
    fetcher: KeyFetcher,
    state: RwLock<State>,
    /// Held for the whole of a fetch: this is what makes it one fetch at a time. It guards
    /// the `jwks_uri` discovery found, which only fetches use.
    fetch_lock: tokio::sync::Mutex<Option<Url>>,
    refresh_scheduled: AtomicBool,
    fetches: AtomicU64,
}

#[derive(Default)]
struct State {
    keys: Arc<HashMap<String, Arc<DecodingKey>>>,
    /// What `keys` were made from, sorted by `kid`: compared to tell a changed set.
    set: Vec<Rs256Key>,
    /// Bumped whenever the keys change; anything derived from the keys compares it.
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
                fetcher: KeyFetcher::new(settings.source.clone(), http),
                settings,
                state: RwLock::new(State::default()),
                fetch_lock: tokio::sync::Mutex::new(None),
                refresh_scheduled: AtomicBool::new(false),
                fetches: AtomicU64::new(0),
            }),
        }
    }

    pub fn source(&self) -> &KeySource {
        self.inner.fetcher.source()
    }

    /// How many fetches this cache has started: the figure the tests and benchmarks check.
    pub fn fetch_count(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// Whether a usable key set is loaded: what `/readyz` reports.
    pub fn is_loaded(&self) -> bool {
        self.inner.read_state().fetched_at.is_some()
    }

    /// The generation of the key set: it changes whenever the keys change. Like a key
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
        let cooldown = self.inner.settings.refetch_cooldown;
        let seen_attempts = {
            let state = self.inner.read_state();
            if let Some(key) = state.keys.get(kid) {
                if state.is_stale(self.inner.settings.max_age) {
                    self.inner.schedule_background_refresh(state.attempts);
                }
                return Ok((key.clone(), state.generation));
            }
            // Not in the cache: the tenant may have rotated its keys since the last fetch.
            if let Some(left) = state.cooldown_left(cooldown) {
                return Err(match state.is_usable() {
                    true => KeyError::NotFetchableYet(left),
                    false => KeyError::Unavailable,
                });
            }
            state.attempts
        };
        self.inner.refetch_unless_fetched_since(seen_attempts).await;
        let state = self.inner.read_state();
        match state.keys.get(kid) {
            Some(key) => Ok((key.clone(), state.generation)),
            None if !state.is_usable() => Err(KeyError::Unavailable),
            None => Err(KeyError::UnknownKid),
        }
    }
}

impl Inner {
    fn read_state(&self) -> RwLockReadGuard<'_, State> {
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
        let mut discovered = self.fetch_lock.lock().await;
        {
            let state = self.read_state();
            if state.attempts != seen_attempts
                || state
                    .cooldown_left(self.settings.refetch_cooldown)
                    .is_some()
            {
                return;
            }
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let fetch = self.fetcher.fetch(&mut discovered);
        let outcome = tokio::time::timeout(self.settings.fetch_timeout, fetch)
            .await
            .unwrap_or(Err(FetchError::Timeout));
        self.record(started, outcome);
    }

    fn record(&self, started: Instant, outcome: Result<Vec<Rs256Key>, FetchError>) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        state.attempts += 1;
        state.attempted_at = Some(started);
        match outcome {
            Ok(mut set) => {
                set.sort_by(|a, b| a.kid.cmp(&b.kid));
                if set != state.set {
                    tracing::info!(source = %self.fetcher.source(), keys = set.len(), "fetched the tenant's signing keys");
                    state.keys = Arc::new(decoding_keys(&set));
                    state.set = set;
                    state.generation += 1;
                }
                state.fetched_at = Some(started);
                state.last_attempt_failed = false;
            }
            Err(error) => {
                tracing::warn!(source = %self.fetcher.source(), %error, "could not fetch the tenant's signing keys; keeping the previous ones");
                state.last_attempt_failed = true;
            }
        }
    }
}

impl State {
    fn is_stale(&self, max_age: Duration) -> bool {
        self.fetched_at.is_none_or(|at| at.elapsed() >= max_age)
    }

    /// Keys are loaded and the last attempt to refresh them worked.
    fn is_usable(&self) -> bool {
        self.fetched_at.is_some() && !self.last_attempt_failed
    }

    /// How long until the next fetch may start, if one may not start now.
    fn cooldown_left(&self, cooldown: Duration) -> Option<Duration> {
        let since = self.attempted_at?.elapsed();
        cooldown.checked_sub(since).filter(|left| !left.is_zero())
    }
}

fn decoding_keys(set: &[Rs256Key]) -> HashMap<String, Arc<DecodingKey>> {
    set.iter()
        .map(|key| {
            let decoding = DecodingKey::from_rsa_raw_components(&key.modulus, &key.exponent);
            (key.kid.clone(), Arc::new(decoding))
        })
        .collect()
}
