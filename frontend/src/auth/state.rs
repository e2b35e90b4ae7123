//! The app's auth state and how it changes: a pure reducer, host-tested. Where the state is
//! kept in storage, and when the browser leaves for the tenant, is the provider's
//! (`crate::provider`), from this state alone.

use std::rc::Rc;

use shared::AuthConfig;

use super::session::Session;

#[derive(Debug, Clone, PartialEq)]
pub enum ConfigState {
    Loading,
    Ready(Rc<AuthConfig>),
    Failed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuthState {
    pub config: ConfigState,
    /// The session: what the page shows and what is stored, always the same.
    pub session: Option<Session>,
    /// Where the browser must go once the state is stored (the tenant's logout).
    pub leaving_to: Option<String>,
}

impl Default for AuthState {
    fn default() -> Self {
        Self {
            config: ConfigState::Loading,
            session: None,
            leaving_to: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum AuthAction {
    /// The settings came, with what storage held: the session is picked up unless it expired.
    ConfigLoaded {
        config: AuthConfig,
        stored: Option<Session>,
        now: u64,
    },
    ConfigFailed(String),
    LoggedIn(Session),
    /// A silent renewal's session: taken unless the user left (logged out) meanwhile.
    Renewed(Session),
    /// The session expired, was refused, or the tenant's session ended: forget it.
    SessionEnded,
    /// Forget the session, then leave for the tenant's logout.
    LogOut {
        logout_url: String,
    },
}

impl AuthState {
    pub fn reduce(&self, action: AuthAction) -> AuthState {
        match action {
            AuthAction::ConfigLoaded {
                config,
                stored,
                now,
            } => AuthState {
                config: ConfigState::Ready(Rc::new(config)),
                session: stored.filter(|s| !s.is_expired(now)),
                leaving_to: None,
            },
            AuthAction::ConfigFailed(error) => AuthState {
                config: ConfigState::Failed(error),
                ..AuthState::default()
            },
            AuthAction::LoggedIn(session) => AuthState {
                session: Some(session),
                ..self.clone()
            },
            AuthAction::Renewed(_) if self.leaving_to.is_some() => self.clone(),
            AuthAction::Renewed(session) => AuthState {
                session: Some(session),
                ..self.clone()
            },
            AuthAction::SessionEnded => AuthState {
                session: None,
                ..self.clone()
            },
            AuthAction::LogOut { logout_url } => AuthState {
                session: None,
                leaving_to: Some(logout_url),
                ..self.clone()
            },
        }
    }

    pub fn config(&self) -> Option<&Rc<AuthConfig>> {
        match &self.config {
            ConfigState::Ready(config) => Some(config),
            _ => None,
        }
    }

    /// The session, if it has not expired by `now`.
    pub fn live_session(&self, now: u64) -> Option<&Session> {
        self.session.as_ref().filter(|s| !s.is_expired(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::session::tests::session;
    use shared::{LOGIN_SCOPE, SessionStorage};

    fn config() -> AuthConfig {
        AuthConfig {
            domain: "t".into(),
            issuer: "https://t/".into(),
            client_id: "c".into(),
            audience: "a".into(),
            scope: LOGIN_SCOPE.into(),
            session_storage: SessionStorage::Session,
            login_flow: Default::default(),
            refresh_tokens: false,
        }
    }

    fn loaded(stored: Option<Session>) -> AuthState {
        AuthState::default().reduce(AuthAction::ConfigLoaded {
            config: config(),
            stored,
            now: 100,
        })
    }

    #[test]
    fn a_stored_session_is_picked_up_unless_expired() {
        assert_eq!(loaded(Some(session(200))).session, Some(session(200)));
        assert_eq!(loaded(Some(session(100))).session, None);
        assert!(loaded(None).config().is_some());
    }

    #[test]
    fn login_and_logout_change_only_the_session() {
        let state = loaded(None).reduce(AuthAction::LoggedIn(session(500)));
        assert_eq!(state.live_session(499), Some(&session(500)));
        assert_eq!(
            state.live_session(500),
            None,
            "expired counts as logged out"
        );
        let ended = state.reduce(AuthAction::SessionEnded);
        assert_eq!(
            (ended.session.clone(), ended.config()),
            (None, state.config())
        );
        let leaving = state.reduce(AuthAction::LogOut {
            logout_url: "https://t/v2/logout".into(),
        });
        assert_eq!(leaving.session, None);
        assert_eq!(leaving.leaving_to.as_deref(), Some("https://t/v2/logout"));
    }

    #[test]
    fn a_renewal_replaces_the_session_but_never_undoes_a_logout() {
        let renewed = loaded(Some(session(200))).reduce(AuthAction::Renewed(session(900)));
        assert_eq!(renewed.session, Some(session(900)));
        let leaving = loaded(Some(session(200))).reduce(AuthAction::LogOut {
            logout_url: "https://t/v2/logout".into(),
        });
        assert_eq!(leaving.reduce(AuthAction::Renewed(session(900))), leaving);
    }

    #[test]
    fn settings_that_fail_leave_no_session() {
        let failed = loaded(Some(session(200))).reduce(AuthAction::ConfigFailed("x".into()));
        assert_eq!(failed.session, None);
        assert_eq!(failed.config, ConfigState::Failed("x".into()));
    }
}
