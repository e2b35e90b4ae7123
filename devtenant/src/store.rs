//! What the tenant remembers between requests, in memory: login sessions, pending logins,
//! authorization codes, refresh tokens and opaque access tokens. Every entry expires.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::authorize::AuthorizationRequest;
use crate::keys::random_token;

/// A logged-in browser (the session cookie's value is the key).
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub expires: Instant,
}

/// A login form shown and not yet submitted.
#[derive(Debug, Clone)]
pub struct LoginTransaction {
    pub csrf: String,
    pub request: AuthorizationRequest,
    pub expires: Instant,
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
    pub expires: Instant,
}

/// What a refresh token or an opaque access token stands for.
#[derive(Debug, Clone)]
pub struct Grant {
    pub client_id: String,
    pub user_id: String,
    pub scopes: Vec<String>,
    pub audience: Option<String>,
    pub expires: Instant,
}

pub const SESSION_LIFETIME: Duration = Duration::from_secs(3 * 24 * 3600);
pub const LOGIN_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Auth0's codes live a few minutes at most; a minute is plenty for a browser round trip.
pub const CODE_LIFETIME: Duration = Duration::from_secs(60);
pub const REFRESH_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Default)]
pub struct Store {
    sessions: HashMap<String, Session>,
    logins: HashMap<String, LoginTransaction>,
    codes: HashMap<String, CodeGrant>,
    refresh_tokens: HashMap<String, Grant>,
    opaque_tokens: HashMap<String, Grant>,
}

/// Removes expired entries from `map`.
fn prune<T>(map: &mut HashMap<String, T>, expires: impl Fn(&T) -> Instant) {
    let now = Instant::now();
    map.retain(|_, v| expires(v) > now);
}

/// Takes the entry for `key` if it has not expired.
fn take_live<T>(
    map: &mut HashMap<String, T>,
    key: &str,
    expires: impl Fn(&T) -> Instant,
) -> Option<T> {
    map.remove(key).filter(|v| expires(v) > Instant::now())
}

impl Store {
    pub fn create_session(&mut self, user_id: &str) -> String {
        prune(&mut self.sessions, |s| s.expires);
        let id = random_token(32);
        self.sessions.insert(
            id.clone(),
            Session {
                user_id: user_id.to_owned(),
                expires: Instant::now() + SESSION_LIFETIME,
            },
        );
        id
    }

    pub fn session_user(&self, id: &str) -> Option<String> {
        self.sessions
            .get(id)
            .filter(|s| s.expires > Instant::now())
            .map(|s| s.user_id.clone())
    }

    pub fn end_session(&mut self, id: &str) {
        self.sessions.remove(id);
    }

    pub fn start_login(&mut self, request: AuthorizationRequest) -> (String, LoginTransaction) {
        prune(&mut self.logins, |l| l.expires);
        let id = random_token(24);
        let login = LoginTransaction {
            csrf: random_token(24),
            request,
            expires: Instant::now() + LOGIN_LIFETIME,
        };
        self.logins.insert(id.clone(), login.clone());
        (id, login)
    }

    pub fn login(&self, id: &str) -> Option<LoginTransaction> {
        self.logins
            .get(id)
            .filter(|l| l.expires > Instant::now())
            .cloned()
    }

    pub fn finish_login(&mut self, id: &str) {
        self.logins.remove(id);
    }

    pub fn create_code(&mut self, grant: CodeGrant) -> String {
        prune(&mut self.codes, |c| c.expires);
        let code = random_token(24);
        self.codes.insert(code.clone(), grant);
        code
    }

    /// Codes are single-use: taking one removes it, whether the exchange then succeeds or not.
    pub fn take_code(&mut self, code: &str) -> Option<CodeGrant> {
        take_live(&mut self.codes, code, |c| c.expires)
    }

    pub fn create_refresh_token(&mut self, grant: Grant) -> String {
        prune(&mut self.refresh_tokens, |g| g.expires);
        let token = random_token(32);
        self.refresh_tokens.insert(token.clone(), grant);
        token
    }

    /// Refresh tokens rotate: using one spends it.
    pub fn take_refresh_token(&mut self, token: &str) -> Option<Grant> {
        take_live(&mut self.refresh_tokens, token, |g| g.expires)
    }

    pub fn create_opaque_token(&mut self, grant: Grant) -> String {
        prune(&mut self.opaque_tokens, |g| g.expires);
        let token = random_token(24);
        self.opaque_tokens.insert(token.clone(), grant);
        token
    }

    pub fn opaque_token(&self, token: &str) -> Option<Grant> {
        self.opaque_tokens
            .get(token)
            .filter(|g| g.expires > Instant::now())
            .cloned()
    }
}
