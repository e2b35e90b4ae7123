//! The tenant's signing keys (JWKS), fetched and cached.
//!
//! Written here on jsonwebtoken + reqwest because no maintained crate does what this API needs
//! with axum 0.8: jwt-authorizer is stuck on axum 0.7 and only picks up a rotated key when its
//! cache expires (10 minutes), and the others neither coalesce concurrent fetches nor bound how
//! often tokens with made-up `kid`s make the server call the tenant.
//!
//! The rules:
//! - the whole key set is cached and replaced whole on every successful fetch;
//! - at start it is fetched without waiting for a request, and fetched again, with a growing
//!   pause, until it loads: an API nobody sends traffic to (unready behind a load balancer)
//!   still becomes ready ([`JwksCache::warm_up`]);
//! - after `max_age` it is refreshed in the background while the cached keys keep serving;
//! - an unknown `kid` triggers a refetch (a key rotation) only if its key may really be new: a
//!   token issued well before the keys were last fetched had its key published then, or never
//!   ([`KEY_SKEW`]). A refetch may start [`MIN_REFETCH_INTERVAL`] after the previous fetch;
//!   each unknown-`kid` refetch that finds nothing doubles that pause, up to
//!   `refetch_cooldown`, and a quiet spell of twice that resets it. So a provider that signs
//!   with a new key at once is followed within about a second, while made-up `kid`s cannot
//!   make the API call the tenant more than once per cooldown. Within the least pause, while no unknown `kid` has
//!   come up empty, such a token waits for the rest of it (a second at most); later in a
//!   longer pause it is asked to come back (503 with `Retry-After`), not told it is invalid;
//! - the generation changes only when the keys do, so refetches cannot flush what is derived
//!   from them (the cache of verified tokens);
//! - one fetch at a time: every request waiting on the same unknown `kid` shares it; a fetch
//!   runs in a task of its own and is stamped before it starts, so a client that hangs up
//!   cannot cancel it or slip past the pause;
//! - a failed or garbage fetch keeps the previous keys and its cause (for `/readyz` and the
//!   503), and doubles the pause before the next, up to the cooldown: a tenant that is down is
//!   not called every second by every replica; the server never exits or panics over it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::DecodingKey;
use shared::jwt::Rs256Key;

use super::discovery::ProviderMetadata;
use super::key_source::{FetchError, KeyFetcher, KeySource};

/// Where the key set is and how it is kept. [`JwksSettings::new`] carries the documented
/// defaults.
#[derive(Debug, Clone)]
pub struct JwksSettings {
    pub source: KeySource,
    /// Refresh the key set in the background once it is this old. Defaults to 10 min.
    pub max_age: Duration,
    /// The longest pause between two fetches that unknown `kid`s ask for, reached when they
    /// keep finding nothing new (made-up `kid`s). Defaults to 10 s.
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

/// The shortest pause between two fetches, which an unknown `kid` doubles each time it finds
/// nothing new (up to the cooldown): how soon a key a provider signs with at once is followed.
pub const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(1);

/// How far the tenant's clock may be behind this server's: a token issued more than this before
/// the keys were last fetched cannot be signed with a key newer than them.
pub const KEY_SKEW: Duration = Duration::from_secs(60);

/// Why no key could be had for a `kid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The tenant's key set is known and does not hold this `kid`.
    UnknownKid,
    /// The `kid` is not in the key set fetched a moment ago, and no fetch may start for this
    /// long: the key may be newer than the set.
    NotFetchableYet(Duration),
    /// The tenant's keys could not be fetched (unreachable, slow, or not a usable JWKS): why,
    /// as the last attempt found.
    Unavailable(Option<FetchError>),
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
    /// what discovery found, as the fetches use it (forgotten when the keys are not where it
    /// said).
    fetch_lock: tokio::sync::Mutex<Option<Arc<ProviderMetadata>>>,
    /// What discovery found last, kept for the SPA's login settings even when a key fetch
    /// fails (an OpenID source only).
    metadata: RwLock<Option<Arc<ProviderMetadata>>>,
    refresh_scheduled: AtomicBool,
    fetches: AtomicU64,
    /// Fetches by outcome, in [`FetchOutcome`]'s order.
    outcomes: [AtomicU64; FetchOutcome::ALL.len()],
    /// `State::generation` and when the set is due for a refresh (nanoseconds since `epoch`;
    /// `u64::MAX` before the first load), kept beside the lock too: every private request reads
    /// them, and a read lock is a write to a line both cores share (`cargo xtask bench`).
    generation: AtomicU64,
    refresh_due: AtomicU64,
    epoch: Instant,
}

#[derive(Default)]
struct State {
    keys: Arc<HashMap<String, Arc<DecodingKey>>>,
    /// What `keys` were made from, sorted by `kid`: compared to tell a changed set.
    set: Vec<Rs256Key>,
    /// Bumped whenever the keys change; anything derived from the keys compares it.
    generation: u64,
    /// Bumped when a fetch starts, so waiters can tell that a fetch happened meanwhile.
    attempts: u64,
    /// When the last successful fetch started, by the monotonic clock and by the calendar
    /// (compared with tokens' `iat`).
    fetched_at: Option<Instant>,
    fetched_wall: Option<SystemTime>,
    /// When the last fetch started, and again when it ended: the pause counts from both.
    attempted_at: Option<Instant>,
    /// A fetch is under way: wait for it rather than refuse.
    in_flight: bool,
    /// Why the last attempt failed; `None` when it worked.
    last_error: Option<FetchError>,
    /// Unknown-`kid` refetches in a row that found nothing new.
    fruitless: u32,
    /// Fetches in a row that failed: during a tenant outage, each doubles the pause too.
    failures: u32,
}

/// What a fetch ended in, as `/metrics` counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchOutcome {
    /// The keys came, the same as before.
    Unchanged,
    /// The keys came and differ: a new generation.
    Changed,
    Failed(&'static str),
}

impl FetchOutcome {
    /// Every outcome's label, the failures by [`FetchError::code`].
    pub const ALL: [&'static str; 12] = [
        "unchanged",
        "changed",
        "unreachable",
        "timeout",
        "status",
        "too_large",
        "not_a_key_set",
        "no_usable_keys",
        "not_a_discovery_document",
        "issuer_mismatch",
        "bad_jwks_uri",
        "bad_endpoint",
    ];

    fn label(self) -> &'static str {
        match self {
            FetchOutcome::Unchanged => "unchanged",
            FetchOutcome::Changed => "changed",
            FetchOutcome::Failed(code) => code,
        }
    }
}

impl JwksCache {
    pub fn new(settings: JwksSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                fetcher: KeyFetcher::for_settings(&settings),
                settings,
                state: RwLock::new(State::default()),
                fetch_lock: tokio::sync::Mutex::new(None),
                metadata: RwLock::new(None),
                refresh_scheduled: AtomicBool::new(false),
                fetches: AtomicU64::new(0),
                outcomes: Default::default(),
                generation: AtomicU64::new(0),
                refresh_due: AtomicU64::new(u64::MAX),
                epoch: Instant::now(),
            }),
        }
    }

    pub fn source(&self) -> &KeySource {
        self.inner.fetcher.source()
    }

    pub fn settings(&self) -> &JwksSettings {
        &self.inner.settings
    }

    /// How many fetches this cache has started: the figure the tests and benchmarks check.
    pub fn fetch_count(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// Whether a usable key set is loaded: what `/readyz` reports.
    pub fn is_loaded(&self) -> bool {
        self.inner.read_state().fetched_at.is_some()
    }

    /// What the provider's discovery document said, once read (an OpenID source only).
    pub fn metadata(&self) -> Option<Arc<ProviderMetadata>> {
        self.inner
            .metadata
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Why the last fetch failed, if it did.
    pub fn last_error(&self) -> Option<FetchError> {
        self.inner.read_state().last_error.clone()
    }

    /// How old the key set is: since its last successful fetch started.
    pub fn age(&self) -> Option<Duration> {
        self.inner.read_state().fetched_at.map(|at| at.elapsed())
    }

    /// Fetches by outcome since start, every outcome listed.
    pub fn fetch_outcomes(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        FetchOutcome::ALL
            .iter()
            .zip(&self.inner.outcomes)
            .map(|(label, count)| (*label, count.load(Ordering::Relaxed)))
    }

    /// The generation of the key set as it is, refreshing nothing (for `/metrics`).
    pub fn current_generation(&self) -> u64 {
        self.inner.read_state().generation
    }

    /// The generation of the key set: it changes whenever the keys change. Like a key
    /// lookup, it starts a background refresh when the set is older than the max-age, so
    /// that what is derived from the keys (the token cache) cannot outlive a rotation.
    pub fn generation(&self) -> u64 {
        let inner = &self.inner;
        let generation = inner.generation.load(Ordering::Acquire);
        let due = inner.refresh_due.load(Ordering::Relaxed);
        if due != u64::MAX && nanos(inner.epoch.elapsed()) >= due {
            let attempts = inner.read_state().attempts;
            inner.schedule_background_refresh(attempts);
        }
        generation
    }

    /// Fetches the key set now, in the background, and again with a growing pause (up to the
    /// cooldown) until it loads, without waiting for a request to ask: behind a load balancer
    /// an unready API gets no requests, so nothing else would ever fetch them.
    pub fn warm_up(&self) {
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let ceiling = inner.settings.refetch_cooldown;
            loop {
                let seen = inner.read_state().attempts;
                inner.refetch_unless_fetched_since(seen, None).await;
                // Each failure has doubled the pause (counted from the fetch's end).
                let wait = {
                    let state = inner.read_state();
                    if state.fetched_at.is_some() {
                        return;
                    }
                    state.refetch_wait(ceiling)
                };
                tokio::time::sleep(wait.unwrap_or(MIN_REFETCH_INTERVAL)).await;
            }
        });
    }

    /// Returns once the key source has been asked at least once and no fetch is under way:
    /// at start, the first fetch's end (the caller bounds the wait).
    pub async fn first_fetch(&self) {
        loop {
            // A fetch under way holds this lock: taking it waits for its end.
            drop(self.inner.fetch_lock.lock().await);
            {
                let state = self.inner.read_state();
                if state.attempts > 0 && !state.in_flight {
                    return;
                }
            }
            // The warm-up has not started its first fetch yet.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The verification key for `kid`, refetching the key set once if `kid` may be new (the
    /// token was not issued, by its unverified `issued_at`, well before the keys were last
    /// fetched), with the generation of the key set it came from.
    pub async fn key(
        &self,
        kid: &str,
        issued_at: Option<u64>,
    ) -> Result<(Arc<DecodingKey>, u64), KeyError> {
        let (seen_attempts, wait) = {
            let state = self.inner.read_state();
            if let Some(key) = state.keys.get(kid) {
                if state.is_stale(self.inner.settings.max_age) {
                    self.inner.schedule_background_refresh(state.attempts);
                }
                return Ok((key.clone(), state.generation));
            }
            // Not in the set: the tenant may have rotated its keys since the last fetch,
            // unless the token is older than that fetch.
            if state.predates_keys(issued_at) {
                return Err(KeyError::UnknownKid);
            }
            (state.attempts, self.inner.pause_before_refetch(&state)?)
        };
        // Held for the rest of a short pause rather than refused: a key a provider signs with
        // at once is then accepted without a single 503.
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        // In a task of its own: a client that hangs up does not cancel the fetch.
        let (inner, wanted) = (self.inner.clone(), kid.to_owned());
        let fetch = tokio::spawn(async move {
            inner
                .refetch_unless_fetched_since(seen_attempts, Some(&wanted))
                .await
        });
        let _ = fetch.await;
        let state = self.inner.read_state();
        match state.keys.get(kid) {
            Some(key) => Ok((key.clone(), state.generation)),
            None if !state.is_usable() => Err(KeyError::Unavailable(state.last_error.clone())),
            None => Err(KeyError::UnknownKid),
        }
    }
}

impl Inner {
    /// How long an unknown `kid` waits before its refetch may start: nothing when one may start
    /// now or one is under way (it is waited for); the rest of the least pause when the keys are
    /// sound and no unknown `kid` has come up empty since; else it is refused: asked to come
    /// back (503), or told the keys are unavailable.
    fn pause_before_refetch(&self, state: &State) -> Result<Duration, KeyError> {
        if state.in_flight {
            return Ok(Duration::ZERO);
        }
        let Some(left) = state.refetch_wait(self.settings.refetch_cooldown) else {
            return Ok(Duration::ZERO);
        };
        match (
            state.is_usable(),
            state.fruitless == 0 && left <= MIN_REFETCH_INTERVAL,
        ) {
            (true, true) => Ok(left),
            (true, false) => Err(KeyError::NotFetchableYet(left)),
            (false, _) => Err(KeyError::Unavailable(state.last_error.clone())),
        }
    }

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
            inner
                .refetch_unless_fetched_since(seen_attempts, None)
                .await;
            inner.refresh_scheduled.store(false, Ordering::Release);
        });
    }

    /// Fetches the key set unless another fetch started since the caller looked
    /// (`seen_attempts`) or the pause since the last one has not passed. Waits for a fetch under
    /// way instead of starting another. `wanted`: the unknown `kid` it is for, if any.
    async fn refetch_unless_fetched_since(&self, seen_attempts: u64, wanted: Option<&str>) {
        let mut discovered = self.fetch_lock.lock().await;
        let started = {
            let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
            if state.attempts != seen_attempts
                || state.refetch_wait(self.settings.refetch_cooldown).is_some()
            {
                return;
            }
            state.begin_attempt(self.settings.refetch_cooldown)
        };
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let wall = SystemTime::now();
        let fetch = self.fetcher.fetch(&mut discovered);
        let outcome = tokio::time::timeout(self.settings.fetch_timeout, fetch)
            .await
            .unwrap_or(Err(FetchError::Timeout));
        if let Some(found) = discovered.as_ref() {
            *self.metadata.write().unwrap_or_else(|e| e.into_inner()) = Some(found.clone());
        }
        let outcome = self.record((started, wall), outcome, wanted);
        let slot = FetchOutcome::ALL.iter().position(|l| *l == outcome.label());
        if let Some(count) = slot.and_then(|i| self.outcomes.get(i)) {
            count.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn record(
        &self,
        (started, wall): (Instant, SystemTime),
        outcome: Result<Vec<Rs256Key>, FetchError>,
        wanted: Option<&str>,
    ) -> FetchOutcome {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        state.in_flight = false;
        // And stamped when it ends: a slow fetch is not followed by another at once.
        state.attempted_at = Some(Instant::now());
        let recorded = match outcome {
            Ok(mut set) => {
                set.sort_by(|a, b| a.kid.cmp(&b.kid));
                let changed = set != state.set;
                if changed {
                    tracing::info!(source = %self.fetcher.source(), keys = set.len(), "fetched the tenant's signing keys");
                    state.keys = Arc::new(decoding_keys(&set));
                    state.set = set;
                    state.generation += 1;
                }
                state.fetched_at = Some(started);
                state.fetched_wall = Some(wall);
                state.last_error = None;
                state.failures = 0;
                let due = started.saturating_duration_since(self.epoch) + self.settings.max_age;
                self.refresh_due.store(nanos(due), Ordering::Relaxed);
                self.generation.store(state.generation, Ordering::Release);
                match changed {
                    true => FetchOutcome::Changed,
                    false => FetchOutcome::Unchanged,
                }
            }
            Err(error) => {
                tracing::warn!(source = %self.fetcher.source(), %error, "could not fetch the tenant's signing keys; keeping the previous ones");
                let code = error.code();
                state.last_error = Some(error);
                state.failures = state.failures.saturating_add(1).min(16);
                FetchOutcome::Failed(code)
            }
        };
        if let Some(kid) = wanted {
            state.fruitless = match state.keys.contains_key(kid) {
                true => 0,
                false => state.fruitless.saturating_add(1).min(16),
            };
        }
        recorded
    }
}

impl State {
    fn is_stale(&self, max_age: Duration) -> bool {
        self.fetched_at.is_none_or(|at| at.elapsed() >= max_age)
    }

    /// Keys are loaded and the last attempt to refresh them worked.
    fn is_usable(&self) -> bool {
        self.fetched_at.is_some() && self.last_error.is_none()
    }

    /// Whether a token issued at `issued_at` (seconds since the epoch) is older than the key
    /// set by more than [`KEY_SKEW`]: its key was published when the set was fetched, or never.
    fn predates_keys(&self, issued_at: Option<u64>) -> bool {
        let fetched = self
            .fetched_wall
            .and_then(|at| at.duration_since(UNIX_EPOCH).ok());
        match (issued_at, fetched) {
            (Some(iat), Some(fetched)) => {
                iat.saturating_add(KEY_SKEW.as_secs()) < fetched.as_secs()
            }
            _ => false,
        }
    }

    /// How long until the next fetch may start, if one may not start now: the least pause,
    /// doubled by each fruitless unknown-`kid` refetch and each failed fetch in a row, up to
    /// `ceiling`.
    fn refetch_wait(&self, ceiling: Duration) -> Option<Duration> {
        let since = self.attempted_at?.elapsed();
        let least = MIN_REFETCH_INTERVAL.min(ceiling);
        let doublings = (self.fruitless + self.failures).min(16);
        let pause = least.saturating_mul(1 << doublings).min(ceiling);
        pause.checked_sub(since).filter(|left| !left.is_zero())
    }

    /// Marks a fetch as started and returns when. Stamped before the fetch: what counts toward
    /// the pause is that it started. After a quiet spell of twice `ceiling` the doublings start
    /// over: a storm of made-up `kid`s long past does not leave a rotation that comes later
    /// waiting a whole cooldown.
    fn begin_attempt(&mut self, ceiling: Duration) -> Instant {
        let started = Instant::now();
        if self
            .attempted_at
            .is_some_and(|at| started.duration_since(at) >= ceiling * 2)
        {
            self.fruitless = 0;
            self.failures = 0;
        }
        self.attempts += 1;
        self.attempted_at = Some(started);
        self.in_flight = true;
        started
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

fn decoding_keys(set: &[Rs256Key]) -> HashMap<String, Arc<DecodingKey>> {
    set.iter()
        .map(|key| {
            let decoding = DecodingKey::from_rsa_raw_components(&key.modulus, &key.exponent);
            (key.kid.clone(), Arc::new(decoding))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ago(elapsed: Duration) -> Instant {
        Instant::now().checked_sub(elapsed).unwrap()
    }

    /// A token issued more than `KEY_SKEW` before the keys were fetched predates them; one
    /// issued exactly that long before may not (the tenant's clock may be that far behind).
    #[test]
    fn a_token_predates_the_keys_only_beyond_the_skew() {
        let fetched = 1_000_000;
        let state = State {
            fetched_wall: Some(UNIX_EPOCH + Duration::from_secs(fetched)),
            ..State::default()
        };
        let skew = KEY_SKEW.as_secs();
        assert!(state.predates_keys(Some(fetched - skew - 1)));
        assert!(!state.predates_keys(Some(fetched - skew)));
        assert!(!state.predates_keys(Some(fetched)));
        assert!(!state.predates_keys(None));
        assert!(!State::default().predates_keys(Some(0)));
    }

    /// The pause doubles up to the ceiling; the doublings start over only when a fetch begins
    /// after nothing was tried for twice the ceiling.
    #[test]
    fn the_pause_grows_to_the_ceiling_and_starts_over_after_a_quiet_spell() {
        let ceiling = Duration::from_secs(4);
        let state = |since: Duration| State {
            attempted_at: Some(ago(since)),
            fruitless: 3,
            failures: 2,
            ..State::default()
        };
        let left = state(Duration::from_secs(3)).refetch_wait(ceiling).unwrap();
        assert!(left > Duration::from_millis(900) && left <= Duration::from_secs(1));
        assert_eq!(state(ceiling).refetch_wait(ceiling), None);
        let just_now = State {
            attempted_at: Some(ago(Duration::from_millis(500))),
            ..State::default()
        };
        let left = just_now.refetch_wait(ceiling).unwrap();
        assert!(left <= MIN_REFETCH_INTERVAL - Duration::from_millis(400));

        let mut busy = state(Duration::from_millis(7500));
        busy.begin_attempt(ceiling);
        assert_eq!(
            (busy.fruitless, busy.failures),
            (3, 2),
            "not quiet for long enough"
        );
        assert!(busy.in_flight && busy.attempts == 1);
        let mut quiet = state(Duration::from_millis(8100));
        quiet.begin_attempt(ceiling);
        assert_eq!((quiet.fruitless, quiet.failures), (0, 0));
        assert!(quiet.attempted_at.unwrap().elapsed() < Duration::from_millis(100));
    }

    /// `first_fetch` returns only once a fetch has been tried and has ended, not before the
    /// warm-up has started its first.
    #[tokio::test]
    async fn first_fetch_waits_for_a_fetch_to_have_been_tried() {
        // Accepts connections and never answers: each fetch ends at the fetch timeout.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            silent.local_addr().unwrap()
        );
        let mut settings = JwksSettings::new(KeySource::Jwks(url.parse().unwrap()));
        settings.fetch_timeout = Duration::from_millis(300);
        let cache = JwksCache::new(settings);
        let before = tokio::time::timeout(Duration::from_millis(200), cache.first_fetch()).await;
        assert!(before.is_err(), "returned before any fetch");
        cache.warm_up();
        let started = Instant::now();
        tokio::time::timeout(Duration::from_secs(5), cache.first_fetch())
            .await
            .expect("returns once the first fetch ended");
        assert!(started.elapsed() >= Duration::from_millis(250));
        assert_eq!(cache.fetch_count(), 1);
        assert!(!cache.is_loaded());
    }
}
