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

use crate::keys::random_token;
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
}

/// What a refresh token or an opaque access token stands for.
#[derive(Debug, Clone)]
pub struct Grant {
    pub client_id: String,
    pub user_id: String,
    pub scopes: Vec<String>,
    pub audience: Option<String>,
}

/// A refresh token's grant and the family of rotations it belongs to (RFC 9700 §4.14.2).
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub grant: Grant,
    pub family: String,
}

/// What using a refresh token did.
#[derive(Debug)]
pub enum Refresh {
    /// A live token, now spent: its grant, and the token that replaces it.
    Rotated(Grant, String),
    /// A token already spent: its whole family is now revoked.
    Reused,
    /// Unknown, expired, revoked, or another client's (then left untouched).
    Invalid,
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
            .is_some_and(|(expires, _)| *expires <= now)
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
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(value, _)| value)
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.entries
            .get_mut(key)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(value, _)| value)
    }

    fn take(&mut self, key: &str) -> Option<V> {
        self.entries
            .remove(key)
            .filter(|(_, expires)| *expires > Instant::now())
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
    /// Each with its own deadline, within the kind's longest lifetime.
    opaque_tokens: Mutex<Expiring<(Grant, Instant)>>,
}

/// Refresh tokens with rotation and reuse detection: the live token of each family, and the
/// spent ones, which name their family.
struct RefreshTokens {
    live: Expiring<RefreshGrant>,
    spent: Expiring<String>,
    /// Each family's live token.
    families: Expiring<String>,
}

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
                live: Expiring::new(REFRESH_LIFETIME),
                spent: Expiring::new(REFRESH_LIFETIME),
                families: Expiring::new(REFRESH_LIFETIME),
            }),
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

    /// A refresh token starting a new family of rotations.
    pub fn create_refresh_token(&self, grant: Grant) -> String {
        let mut refresh = lock(&self.refresh);
        refresh.issue(grant, random_token(16))
    }

    /// Uses a refresh token: rotated if it is live and `client_id`'s; its whole family revoked
    /// if it was spent already (RFC 9700 §4.14.2, as Auth0's rotation does).
    pub fn refresh(&self, token: &str, client_id: &str) -> Refresh {
        let mut refresh = lock(&self.refresh);
        if let Some(family) = refresh.spent.take(token) {
            if let Some(live) = refresh.families.take(&family) {
                refresh.live.take(&live);
            }
            return Refresh::Reused;
        }
        let is_clients = refresh
            .live
            .get(token)
            .is_some_and(|r| r.grant.client_id == client_id);
        // Another client's token is refused and left as it is.
        let spent = match is_clients {
            true => refresh.live.take(token),
            false => None,
        };
        let Some(spent) = spent else {
            return Refresh::Invalid;
        };
        refresh.spent.insert(token.to_owned(), spent.family.clone());
        let next = refresh.issue(spent.grant.clone(), spent.family);
        Refresh::Rotated(spent.grant, next)
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
        (*deadline > Instant::now()).then(|| grant.clone())
    }
}

impl RefreshTokens {
    fn issue(&mut self, grant: Grant, family: String) -> String {
        let token = random_token(32);
        self.families.insert(family.clone(), token.clone());
        self.live
            .insert(token.clone(), RefreshGrant { grant, family });
        token
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
    fn taken_keys_do_not_pile_up() {
        let mut map = Expiring::new(Duration::from_secs(60));
        for i in 0..(3 * CAPACITY) {
            let key = format!("k{i}");
            map.insert(key.clone(), i);
            map.take(&key);
        }
        assert_eq!(map.len(), 0);
        assert!(map.order.len() <= 2 * CAPACITY + 1, "{}", map.order.len());
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
        let first = store.create_refresh_token(grant("spa"));
        assert!(matches!(store.refresh(&first, "other"), Refresh::Invalid));
        let Refresh::Rotated(_, second) = store.refresh(&first, "spa") else {
            panic!("a live token of the client rotates");
        };
        let Refresh::Rotated(_, third) = store.refresh(&second, "spa") else {
            panic!("its successor rotates too");
        };
        assert!(matches!(store.refresh(&first, "spa"), Refresh::Reused));
        assert!(
            matches!(store.refresh(&third, "spa"), Refresh::Invalid),
            "the family's live token is revoked"
        );
        let other = store.create_refresh_token(grant("spa"));
        assert!(matches!(store.refresh(&other, "spa"), Refresh::Rotated(..)));
    }
}
