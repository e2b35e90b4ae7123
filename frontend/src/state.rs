//! The app's auth state, shared through a context: the tenant settings and the session.

use std::rc::Rc;

use shared::AuthConfig;
use yew::prelude::*;

use crate::auth::session::Session;
use crate::browser::{self, SessionStore};

#[derive(Debug, Clone, PartialEq)]
pub enum ConfigState {
    Loading,
    Ready(Rc<AuthConfig>),
    Failed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuthState {
    pub config: ConfigState,
    pub session: Option<Session>,
}

impl Default for AuthState {
    fn default() -> Self {
        Self {
            config: ConfigState::Loading,
            session: None,
        }
    }
}

pub enum AuthAction {
    /// The settings came; the stored session (if any, and not expired) is picked up.
    ConfigLoaded(AuthConfig),
    ConfigFailed(String),
    LoggedIn(Session),
    /// The session expired or was refused: forget it.
    SessionEnded,
}

impl Reducible for AuthState {
    type Action = AuthAction;

    fn reduce(self: Rc<Self>, action: AuthAction) -> Rc<Self> {
        let state = match action {
            AuthAction::ConfigLoaded(config) => {
                let store = SessionStore(config.session_storage);
                let session = store.load().filter(|s| !s.is_expired(browser::now_secs()));
                if session.is_none() {
                    store.clear();
                }
                AuthState {
                    config: ConfigState::Ready(Rc::new(config)),
                    session,
                }
            }
            AuthAction::ConfigFailed(error) => AuthState {
                config: ConfigState::Failed(error),
                session: None,
            },
            AuthAction::LoggedIn(session) => AuthState {
                config: self.config.clone(),
                session: Some(session),
            },
            AuthAction::SessionEnded => {
                if let ConfigState::Ready(config) = &self.config {
                    SessionStore(config.session_storage).clear();
                }
                AuthState {
                    config: self.config.clone(),
                    session: None,
                }
            }
        };
        Rc::new(state)
    }
}

impl AuthState {
    pub fn config(&self) -> Option<&Rc<AuthConfig>> {
        match &self.config {
            ConfigState::Ready(config) => Some(config),
            _ => None,
        }
    }

    /// The session, if it has not expired by now.
    pub fn live_session(&self) -> Option<&Session> {
        self.session
            .as_ref()
            .filter(|s| !s.is_expired(browser::now_secs()))
    }

    pub fn store(&self) -> Option<SessionStore> {
        self.config().map(|c| SessionStore(c.session_storage))
    }
}

pub type AuthContext = UseReducerHandle<AuthState>;

/// The auth state, from any component under the app.
#[hook]
pub fn use_auth() -> AuthContext {
    use_context::<AuthContext>().expect("components are rendered inside App's AuthContext")
}
