//! What the tenant remembers between requests, in memory: login sessions, pending logins,
//! authorization codes, refresh tokens and opaque access tokens.
//!
//! Every entry expires, and every kind is bounded: when full, the oldest entry goes first, so
//! no client can make the tenant hold more than [`CAPACITY`] entries of a kind. Each kind has
//! its own lock, and cleaning up never scans: entries of one kind share one lifetime, so
//! insertion order is expiry order and the expired ones are always at the front.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::keys::{random_token, same_secret};
use crate::request::AuthorizationRequest;

/// The most entries of one kind: far more than a development tenant sees, small enough
/// that a flood of logins or tokens stays a few tens of megabytes.
pub const CAPACITY: usize = 10_000;

pub const SESSION_LIFETIME: Duration = Duration::from_secs(3 * 24 * 3600);
pub const LOGIN_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Auth0's codes live a few minutes at most; a minute is plenty for a browser round trip.
pub const CODE_LIFETIME: Duration = Duration::from_secs(60);
pub const REFRESH_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// The longest an opaque access token may live (Auth0's longest default: a day).
pub const MAX_OPAQUE_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// A login form accepts this many wrong passwords, then the login must start again.
pub const MAX_LOGIN_ATTEMPTS: u32 = 5;

/// A logged-in browser (the session cookie's value is the key).
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
}

/// A login form shown and not yet submitted.
#[derive(Debug, Clone)]
pub struct LoginTransaction {
    pub csrf: String,
    pub request: AuthorizationRequest,
    /// Wrong passwords so far.
    pub failures: u32,
}

/// An authorization code waiting to be exchanged at `/oauth/token`.
#[derive(Debug, Clone)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub user_id: String,
    pub scopes: Vec<String>,
    pub audience: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    /// RFC 9449 §10: the code is exchanged only with a DPoP proof of this key.
    pub dpop_jkt: Option<String>,
}

/// What a refresh token or an opaque access token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub client_id: String,
    pub user_id: String,
    pub scopes: Vec<String>,
    pub audience: Option<String>,
    /// An opaque access token's DPoP binding (a refresh token's is its family's).
    pub jkt: Option<String>,
}

/// A family of refresh tokens (RFC 9700 §4.14.2): one grant, rotated at every use. Its
/// tokens read `{family}.{generation}.{secret}`; only the current generation's secret is
/// live, and a token of an earlier generation is a reuse. So reuse is told from the family
/// alone, with no record of spent tokens that could be pushed out: a family that is evicted
/// or revoked takes every one of its tokens with it (it fails closed).
#[derive(Debug, Clone)]
struct Family {
    grant: Grant,
    generation: u64,
    secret: String,
    /// DPoP: the key a public client's refresh tokens are bound to (RFC 9449 §5).
    jkt: Option<String>,
}

/// What using a refresh token did.
#[derive(Debug, PartialEq, Eq)]
pub enum Refresh {
    /// A live token, now spent: its grant, the key it is bound to, and the token that
    /// replaces it.
    Rotated(Grant, Option<String>, String),
    /// A token already spent: its whole family is now revoked.
    Reused,
    /// A live token bound to another DPoP key than the proof's (or sent without a proof):
    /// refused, and left live.
    WrongKey,
    /// Unknown, expired, revoked, or another client's (then left untouched).
    Invalid,
}

/// An entry expiring at `expires` is live strictly before then: at that instant it is gone,
/// for lookups and for pruning alike.
fn is_live(expires: Instant, now: Instant) -> bool {
    expires > now
}

/// Entries that live `lifetime`, at most [`CAPACITY`] of them.
struct Expiring<V> {
    entries: HashMap<String, (V, Instant)>,
    /// Keys in insertion order, which is expiry order; a key taken early stays here until
    /// its time comes (or a compaction), then is skipped.
    order: VecDeque<(Instant, String)>,
    lifetime: Duration,
}

impl<V> Expiring<V> {
    fn new(lifetime: Duration) -> Self {
        Self {
            entries: HashMap::new(),
            order: VecDeque::new(),
            lifetime,
        }
    }

    fn insert(&mut self, key: String, value: V) {
        let now = Instant::now();
        self.prune(now);
        while self.entries.len() >= CAPACITY {
            self.pop_oldest();
        }
        // Keys taken early pile up in `order`; drop them now and then, amortised O(1).
        if self.order.len() > 2 * CAPACITY {
            let entries = &self.entries;
            self.order.retain(|(_, key)| entries.contains_key(key));
        }
        let expires = now + self.lifetime;
        self.order.push_back((expires, key.clone()));
        self.entries.insert(key, (value, expires));
    }

    fn prune(&mut self, now: Instant) {
        while self
            .order
            .front()
            .is_some_and(|(expires, _)| !is_live(*expires, now))
        {
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        if let Some((expires, key)) = self.order.pop_front()
            && self.entries.get(&key).is_some_and(|(_, e)| *e == expires)
        {
            self.entries.remove(&key);
        }
    }

    fn get(&self, key: &str) -> Option<&V> {
        self.entries
            .get(key)
            .filter(|(_, expires)| is_live(*expires, Instant::now()))
            .map(|(value, _)| value)
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.entries
            .get_mut(key)
            .filter(|(_, expires)| is_live(*expires, Instant::now()))
            .map(|(value, _)| value)
    }

    fn take(&mut self, key: &str) -> Option<V> {
        self.entries
            .remove(key)
            .filter(|(_, expires)| is_live(*expires, Instant::now()))
            .map(|(value, _)| value)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Every kind of memory the tenant has, each behind its own lock.
pub struct Store {
    sessions: Mutex<Expiring<Session>>,
    logins: Mutex<Expiring<LoginTransaction>>,
    codes: Mutex<Expiring<CodeGrant>>,
    refresh: Mutex<RefreshTokens>,
    proofs: Mutex<Expiring<()>>,
    /// Each with its own deadline, within the kind's longest lifetime.
    opaque_tokens: Mutex<Expiring<(Grant, Instant)>>,
}

/// Refresh tokens with rotation and reuse detection, by family.
struct RefreshTokens {
    families: Expiring<Family>,
}

/// A refresh token's parts: its family, its generation, its secret.
fn parse_refresh_token(token: &str) -> Option<(&str, u64, &str)> {
    let mut parts = token.splitn(3, '.');
    let family = parts.next()?;
    let generation = parts.next()?.parse().ok()?;
    Some((family, generation, parts.next()?))
}

/// Proofs of possession already taken (DPoP `jti`s, per key), each for the time its `iat`
/// could still let it in.
pub const PROOF_LIFETIME: Duration = Duration::from_secs(70);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here is a few map operations that cannot leave the data half
    // updated, so a panic elsewhere does not make the data unusable.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Default for Store {
    fn default() -> Self {
        Self {
            sessions: Mutex::new(Expiring::new(SESSION_LIFETIME)),
            logins: Mutex::new(Expiring::new(LOGIN_LIFETIME)),
            codes: Mutex::new(Expiring::new(CODE_LIFETIME)),
            refresh: Mutex::new(RefreshTokens {
                families: Expiring::new(REFRESH_LIFETIME),
            }),
            proofs: Mutex::new(Expiring::new(PROOF_LIFETIME)),
            opaque_tokens: Mutex::new(Expiring::new(MAX_OPAQUE_LIFETIME)),
        }
    }
}

impl Store {
    pub fn create_session(&self, user_id: &str) -> String {
        let id = random_token(32);
        let session = Session {
            user_id: user_id.to_owned(),
        };
        lock(&self.sessions).insert(id.clone(), session);
        id
    }

    pub fn session_user(&self, id: &str) -> Option<String> {
        lock(&self.sessions).get(id).map(|s| s.user_id.clone())
    }

    pub fn end_session(&self, id: &str) {
        lock(&self.sessions).take(id);
    }

    /// A login form's transaction: its id (the login cookie) and its CSRF token.
    pub fn start_login(&self, request: AuthorizationRequest) -> (String, String) {
        let id = random_token(24);
        let csrf = random_token(24);
        let login = LoginTransaction {
            csrf: csrf.clone(),
            request,
            failures: 0,
        };
        lock(&self.logins).insert(id.clone(), login);
        (id, csrf)
    }

    pub fn login(&self, id: &str) -> Option<LoginTransaction> {
        lock(&self.logins).get(id).cloned()
    }

    /// Counts a wrong password; past [`MAX_LOGIN_ATTEMPTS`] the transaction ends. Whether it
    /// may go on.
    pub fn fail_login(&self, id: &str) -> bool {
        let mut logins = lock(&self.logins);
        let Some(login) = logins.get_mut(id) else {
            return false;
        };
        login.failures += 1;
        if login.failures >= MAX_LOGIN_ATTEMPTS {
            logins.take(id);
            return false;
        }
        true
    }

    pub fn finish_login(&self, id: &str) {
        lock(&self.logins).take(id);
    }

    pub fn create_code(&self, grant: CodeGrant) -> String {
        let code = random_token(24);
        lock(&self.codes).insert(code.clone(), grant);
        code
    }

    /// Codes are single-use: taking one removes it, whether the exchange then succeeds or not.
    pub fn take_code(&self, code: &str) -> Option<CodeGrant> {
        lock(&self.codes).take(code)
    }

    /// A refresh token starting a new family of rotations, bound to the DPoP key `jkt` when
    /// given.
    pub fn create_refresh_token(&self, grant: Grant, jkt: Option<String>) -> String {
        let family = Family {
            grant,
            generation: 0,
            secret: random_token(24),
            jkt,
        };
        let id = random_token(16);
        let token = format!("{id}.0.{}", family.secret);
        lock(&self.refresh).families.insert(id, family);
        token
    }

    /// Uses a refresh token of `client_id`, with a proof made with the key `jkt` if any:
    /// rotated if it is the family's live one (and, if bound, the key is its key); its whole
    /// family revoked if it is an earlier one (RFC 9700 §4.14.2, as Auth0's rotation does).
    pub fn refresh(&self, token: &str, client_id: &str, jkt: Option<&str>) -> Refresh {
        let Some((id, generation, secret)) = parse_refresh_token(token) else {
            return Refresh::Invalid;
        };
        let mut refresh = lock(&self.refresh);
        let Some(family) = refresh.families.get_mut(id) else {
            return Refresh::Invalid;
        };
        // Another client's token is refused and left as it is.
        if family.grant.client_id != client_id {
            return Refresh::Invalid;
        }
        if generation < family.generation {
            refresh.families.take(id);
            return Refresh::Reused;
        }
        if generation > family.generation || !same_secret(secret, &family.secret) {
            return Refresh::Invalid;
        }
        if let Some(bound) = &family.jkt
            && !jkt.is_some_and(|jkt| same_secret(jkt, bound))
        {
            return Refresh::WrongKey;
        }
        family.generation += 1;
        family.secret = random_token(24);
        let next = format!("{id}.{}.{}", family.generation, family.secret);
        Refresh::Rotated(family.grant.clone(), family.jkt.clone(), next)
    }

    /// RFC 7009: revokes the family of `token` (a live or spent token of `client_id`), as
    /// Auth0's `/oauth/revoke` revokes the grant. Whether there was one.
    pub fn revoke_refresh_token(&self, token: &str, client_id: &str) -> bool {
        let Some((id, generation, secret)) = parse_refresh_token(token) else {
            return false;
        };
        let mut refresh = lock(&self.refresh);
        let genuine = refresh.families.get(id).is_some_and(|family| {
            family.grant.client_id == client_id
                && (generation < family.generation
                    || (generation == family.generation && same_secret(secret, &family.secret)))
        });
        if genuine {
            refresh.families.take(id);
        }
        genuine
    }

    /// Takes the DPoP proof `jti` of the key `jkt`: false if it was taken before within its
    /// lifetime, or if no more can be remembered now (refused rather than an unexpired one
    /// forgotten, which would let it be replayed).
    pub fn take_proof(&self, jkt: &str, jti: &str) -> bool {
        let key = format!("{jkt}.{jti}");
        let mut proofs = lock(&self.proofs);
        proofs.prune(Instant::now());
        if proofs.get(&key).is_some() || proofs.entries.len() >= CAPACITY {
            return false;
        }
        proofs.insert(key, ());
        true
    }

    pub fn create_opaque_token(&self, grant: Grant, lifetime: Duration) -> String {
        let token = random_token(24);
        let deadline = Instant::now() + lifetime.min(MAX_OPAQUE_LIFETIME);
        lock(&self.opaque_tokens).insert(token.clone(), (grant, deadline));
        token
    }

    pub fn opaque_token(&self, token: &str) -> Option<Grant> {
        let tokens = lock(&self.opaque_tokens);
        let (grant, deadline) = tokens.get(token)?;
        is_live(*deadline, Instant::now()).then(|| grant.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(client_id: &str) -> Grant {
        Grant {
            client_id: client_id.into(),
            user_id: "auth0|reader".into(),
            scopes: vec!["openid".into()],
            audience: None,
            jkt: None,
        }
    }

    #[test]
    fn a_full_kind_evicts_its_oldest_entry_first() {
        let mut map = Expiring::new(Duration::from_secs(60));
        for i in 0..=CAPACITY {
            map.insert(format!("k{i}"), i);
        }
        assert_eq!(map.len(), CAPACITY);
        assert!(map.get("k0").is_none(), "the oldest went first");
        assert_eq!(map.get("k1"), Some(&1));
        assert_eq!(map.get(&format!("k{CAPACITY}")), Some(&CAPACITY));
    }

    #[test]
    fn expired_entries_are_gone_and_pruned_from_the_front() {
        let mut map = Expiring::new(Duration::from_millis(20));
        map.insert("old".into(), 1);
        std::thread::sleep(Duration::from_millis(30));
        assert!(map.get("old").is_none());
        map.insert("new".into(), 2);
        assert_eq!(map.len(), 1);
        assert_eq!(map.order.len(), 1);
    }

    #[test]
    fn an_entry_is_gone_at_its_expiry() {
        let now = Instant::now();
        let tick = Duration::from_nanos(1);
        assert!(is_live(now + tick, now));
        assert!(!is_live(now, now));
        assert!(!is_live(now, now + tick));
    }

    /// Auth0's defaults, written out: a session idles out after three days, a login form after
    /// ten minutes, a rotating refresh token lives thirty days at most (2,592,000 s), and an
    /// opaque access token a day at most, whatever it asks for.
    #[test]
    fn lifetimes_are_auth0s_defaults() {
        assert_eq!(SESSION_LIFETIME, Duration::from_secs(259_200));
        assert_eq!(LOGIN_LIFETIME, Duration::from_secs(600));
        assert_eq!(REFRESH_LIFETIME, Duration::from_secs(2_592_000));
        let store = Store::default();
        let token = store.create_opaque_token(grant("spa"), Duration::from_secs(7 * 86_400));
        let (_, deadline) = lock(&store.opaque_tokens).entries[&token].0.clone();
        let day = Instant::now() + Duration::from_secs(86_400);
        assert!(deadline <= day && deadline + Duration::from_secs(5) > day);
    }

    /// Keys taken early stay in the order until it holds more than twice the capacity, and
    /// not a moment longer: then it is compacted to the live ones.
    #[test]
    fn taken_keys_do_not_pile_up() {
        let mut map = Expiring::new(Duration::from_secs(60));
        map.insert("live".into(), 0);
        let mut cycle = |i: usize| {
            let key = format!("k{i}");
            map.insert(key.clone(), i);
            map.take(&key);
            map.order.len()
        };
        let before = (0..2 * CAPACITY).map(&mut cycle).last().unwrap();
        assert_eq!(
            before,
            2 * CAPACITY + 1,
            "kept until past twice the capacity"
        );
        assert_eq!(
            cycle(2 * CAPACITY),
            2,
            "compacted to the live key and the new one"
        );
        for i in 0..3 * CAPACITY {
            assert!(cycle(i) <= 2 * CAPACITY + 1);
        }
        assert_eq!(map.len(), 1);
        assert_eq!(map.get("live"), Some(&0));
    }

    fn request() -> AuthorizationRequest {
        let config = crate::TenantConfig::builtin();
        let query = "response_type=token&redirect_uri=http://localhost:3000/callback";
        let params = crate::request::AuthorizeParams::from_query(query).unwrap();
        AuthorizationRequest::check(&config, config.spa(), &params).unwrap()
    }

    #[test]
    fn logins_are_bounded() {
        let store = Store::default();
        let request = request();
        let (first, _) = store.start_login(request.clone());
        for _ in 0..CAPACITY {
            store.start_login(request.clone());
        }
        assert!(lock(&store.logins).len() <= CAPACITY);
        assert!(store.login(&first).is_none());
    }

    #[test]
    fn a_login_ends_after_too_many_wrong_passwords() {
        let store = Store::default();
        let (id, _) = store.start_login(request());
        for _ in 1..MAX_LOGIN_ATTEMPTS {
            assert!(store.fail_login(&id));
        }
        assert!(!store.fail_login(&id));
        assert!(store.login(&id).is_none());
    }

    #[test]
    fn refresh_tokens_rotate_and_a_reused_one_revokes_its_family() {
        let store = Store::default();
        let first = store.create_refresh_token(grant("spa"), None);
        assert_eq!(store.refresh(&first, "other", None), Refresh::Invalid);
        let Refresh::Rotated(_, _, second) = store.refresh(&first, "spa", None) else {
            panic!("a live token of the client rotates");
        };
        let Refresh::Rotated(_, _, third) = store.refresh(&second, "spa", None) else {
            panic!("its successor rotates too");
        };
        assert_eq!(store.refresh(&first, "spa", None), Refresh::Reused);
        assert_eq!(
            store.refresh(&third, "spa", None),
            Refresh::Invalid,
            "the family's live token is revoked"
        );
        let other = store.create_refresh_token(grant("spa"), None);
        assert!(matches!(
            store.refresh(&other, "spa", None),
            Refresh::Rotated(..)
        ));
        // Forged: the live generation with another secret, or a generation to come.
        let live = store.create_refresh_token(grant("spa"), None);
        let (id, _, _) = parse_refresh_token(&live).unwrap();
        assert_eq!(
            store.refresh(&format!("{id}.0.forged"), "spa", None),
            Refresh::Invalid
        );
        assert_eq!(
            store.refresh(&format!("{id}.7.x"), "spa", None),
            Refresh::Invalid
        );
        let secret = live.rsplit('.').next().unwrap();
        assert_eq!(
            store.refresh(&format!("{id}.1.{secret}"), "spa", None),
            Refresh::Invalid,
            "the live secret under a generation to come"
        );
        assert!(matches!(
            store.refresh(&live, "spa", None),
            Refresh::Rotated(..)
        ));
        assert_eq!(store.refresh("not-a-token", "spa", None), Refresh::Invalid);
    }

    /// N5: a thief who rotates a stolen chain past the store's capacity cannot make the
    /// victim's spent token read as unknown: reuse is told from the family itself.
    #[test]
    fn reuse_is_detected_however_many_rotations_came_after() {
        let store = Store::default();
        let first = store.create_refresh_token(grant("spa"), None);
        let mut current = first.clone();
        for _ in 0..CAPACITY + 10 {
            let Refresh::Rotated(_, _, next) = store.refresh(&current, "spa", None) else {
                panic!("the chain rotates");
            };
            current = next;
        }
        assert_eq!(store.refresh(&first, "spa", None), Refresh::Reused);
        assert_eq!(store.refresh(&current, "spa", None), Refresh::Invalid);
    }

    /// An evicted family fails closed: its tokens are refused, never taken as new.
    #[test]
    fn an_evicted_family_takes_its_tokens_with_it() {
        let store = Store::default();
        let oldest = store.create_refresh_token(grant("spa"), None);
        for _ in 0..CAPACITY {
            store.create_refresh_token(grant("spa"), None);
        }
        assert_eq!(store.refresh(&oldest, "spa", None), Refresh::Invalid);
    }

    #[test]
    fn a_bound_family_rotates_only_with_its_key() {
        let store = Store::default();
        let token = store.create_refresh_token(grant("spa"), Some("jkt-1".into()));
        assert_eq!(store.refresh(&token, "spa", None), Refresh::WrongKey);
        assert_eq!(
            store.refresh(&token, "spa", Some("jkt-2")),
            Refresh::WrongKey
        );
        let Refresh::Rotated(_, jkt, _) = store.refresh(&token, "spa", Some("jkt-1")) else {
            panic!("its own key rotates it");
        };
        assert_eq!(jkt.as_deref(), Some("jkt-1"));
    }

    #[test]
    fn revoking_a_token_ends_its_family() {
        let store = Store::default();
        let first = store.create_refresh_token(grant("spa"), None);
        let Refresh::Rotated(_, _, second) = store.refresh(&first, "spa", None) else {
            panic!("rotates");
        };
        assert!(!store.revoke_refresh_token(&second, "other"));
        assert!(!store.revoke_refresh_token("x.0.y", "spa"));
        // Forged: the live generation with another secret, the live secret under a
        // generation to come.
        let (id, _, secret) = parse_refresh_token(&second).unwrap();
        assert!(!store.revoke_refresh_token(&format!("{id}.1.forged"), "spa"));
        assert!(!store.revoke_refresh_token(&format!("{id}.2.{secret}"), "spa"));
        assert!(store.revoke_refresh_token(&second, "spa"));
        assert_eq!(store.refresh(&second, "spa", None), Refresh::Invalid);
        assert!(!store.revoke_refresh_token(&second, "spa"), "once");
        // A spent token of the family revokes it too (as Auth0 revokes the grant).
        let first = store.create_refresh_token(grant("spa"), None);
        let Refresh::Rotated(_, _, live) = store.refresh(&first, "spa", None) else {
            panic!("rotates");
        };
        assert!(!store.revoke_refresh_token(&first, "other"));
        assert!(store.revoke_refresh_token(&first, "spa"));
        assert_eq!(store.refresh(&live, "spa", None), Refresh::Invalid);
    }

    /// A login form, once submitted with the right password, cannot be submitted again.
    #[test]
    fn a_finished_login_is_gone() {
        let store = Store::default();
        let (id, _) = store.start_login(request());
        assert!(store.login(&id).is_some());
        store.finish_login(&id);
        assert!(store.login(&id).is_none());
        assert!(!store.fail_login(&id));
    }

    #[test]
    fn a_proof_is_taken_once() {
        let store = Store::default();
        assert!(store.take_proof("k", "j1"));
        assert!(!store.take_proof("k", "j1"));
        assert!(store.take_proof("k2", "j1"));
    }
}
