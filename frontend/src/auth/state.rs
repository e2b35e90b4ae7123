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
    /// The start-up renewal is under way: a session may be coming back, so the page says it
    /// is checking rather than offering a Log In that would throw that session away.
    pub checking: bool,
    /// The provider's logout came back to this tab with its `state`: the page says so.
    pub logged_out: bool,
}

impl Default for AuthState {
    fn default() -> Self {
        Self {
            config: ConfigState::Loading,
            session: None,
            leaving_to: None,
            checking: false,
            logged_out: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum AuthAction {
    /// The settings came, with what storage held: the session is picked up unless it expired.
    /// `renewing`: with none, a renewal starts now (the page checks until it is done);
    /// `logged_out`: the provider's logout just came back to this tab.
    ConfigLoaded {
        config: Rc<AuthConfig>,
        stored: Option<Session>,
        now: u64,
        renewing: bool,
        logged_out: bool,
    },
    ConfigFailed(String),
    LoggedIn(Session),
    /// A silent renewal's session: taken unless the user left (logged out) meanwhile.
    Renewed(Session),
    /// The session expired, was refused, or the tenant's session ended: forget it.
    SessionEnded,
    /// A renewal gave nothing for now (no answer, the network): the session stands as it is.
    RenewalFailed,
    /// Forget the session, then leave for the provider's logout, if it has one.
    LogOut {
        logout_url: Option<String>,
    },
}

impl AuthState {
    pub fn reduce(&self, action: AuthAction) -> AuthState {
        match action {
            AuthAction::ConfigLoaded {
                config,
                stored,
                now,
                renewing,
                logged_out,
            } => {
                let session = stored.filter(|s| !s.is_expired(now));
                AuthState {
                    config: ConfigState::Ready(config),
                    checking: renewing && session.is_none(),
                    session,
                    leaving_to: None,
                    logged_out,
                }
            }
            AuthAction::ConfigFailed(error) => AuthState {
                config: ConfigState::Failed(error),
                ..AuthState::default()
            },
            AuthAction::LoggedIn(session) => AuthState {
                session: Some(session),
                checking: false,
                logged_out: false,
                ..self.clone()
            },
            AuthAction::Renewed(_) if self.leaving_to.is_some() => self.clone(),
            AuthAction::Renewed(session) => AuthState {
                session: Some(session),
                checking: false,
                ..self.clone()
            },
            AuthAction::SessionEnded => AuthState {
                session: None,
                checking: false,
                ..self.clone()
            },
            AuthAction::RenewalFailed => AuthState {
                checking: false,
                ..self.clone()
            },
            AuthAction::LogOut { logout_url } => AuthState {
                session: None,
                leaving_to: logout_url,
                checking: false,
                logged_out: true,
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
    use crate::auth::urls::tests::config;

    fn loaded(stored: Option<Session>) -> AuthState {
        AuthState::default().reduce(AuthAction::ConfigLoaded {
            config: Rc::new(config()),
            stored,
            now: 100,
            renewing: false,
            logged_out: false,
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
            logout_url: Some("https://t/v2/logout".into()),
        });
        assert_eq!(leaving.session, None);
        assert_eq!(leaving.leaving_to.as_deref(), Some("https://t/v2/logout"));
        // A provider with no logout: the app's session ends, and the browser stays.
        let local = state.reduce(AuthAction::LogOut { logout_url: None });
        assert_eq!((local.session, local.leaving_to), (None, None));
        assert!(local.logged_out);
    }

    #[test]
    fn while_a_session_may_come_back_the_page_checks_instead_of_offering_log_in() {
        let start = |stored, renewing| {
            AuthState::default().reduce(AuthAction::ConfigLoaded {
                config: Rc::new(config()),
                stored,
                now: 100,
                renewing,
                logged_out: false,
            })
        };
        let checking = start(None, true);
        assert!(checking.checking);
        assert!(
            !start(Some(session(200)), true).checking,
            "a session is there"
        );
        assert!(!start(None, false).checking, "nothing will renew");
        assert!(
            !checking.reduce(AuthAction::SessionEnded).checking,
            "login_required"
        );
        assert!(!checking.reduce(AuthAction::RenewalFailed).checking);
        let renewed = checking.reduce(AuthAction::Renewed(session(900)));
        assert!(!renewed.checking);
        assert_eq!(renewed.session, Some(session(900)));
    }

    #[test]
    fn a_login_or_a_logout_ends_the_check_and_a_login_the_signed_out_notice() {
        let checking = AuthState::default().reduce(AuthAction::ConfigLoaded {
            config: Rc::new(config()),
            stored: None,
            now: 100,
            renewing: true,
            logged_out: true,
        });
        assert!(checking.checking && checking.logged_out);
        let logged_in = checking.reduce(AuthAction::LoggedIn(session(900)));
        assert!(!logged_in.checking, "the login answered the check");
        assert!(!logged_in.logged_out, "no \"signed out\" beside a session");
        let left = checking.reduce(AuthAction::LogOut { logout_url: None });
        assert!(!left.checking, "nothing to wait for after a logout");
    }

    #[test]
    fn a_renewal_replaces_the_session_but_never_undoes_a_logout() {
        let renewed = loaded(Some(session(200))).reduce(AuthAction::Renewed(session(900)));
        assert_eq!(renewed.session, Some(session(900)));
        let leaving = loaded(Some(session(200))).reduce(AuthAction::LogOut {
            logout_url: Some("https://t/v2/logout".into()),
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
