//! The auth state as the components reach it: the reducer of [`crate::auth::state`] in Yew's
//! context ([`AuthContext`]), and the hooks that read it.

use std::rc::Rc;

use yew::prelude::*;

use crate::auth::session::Session;
use crate::auth::state::{AuthAction, AuthState};
use crate::browser;

impl Reducible for AuthState {
    type Action = AuthAction;

    fn reduce(self: Rc<Self>, action: AuthAction) -> Rc<Self> {
        Rc::new(AuthState::reduce(&self, action))
    }
}

pub type AuthContext = UseReducerHandle<AuthState>;

/// The auth state, from any component under `AuthProvider`.
#[hook]
pub fn use_auth() -> AuthContext {
    use_context::<AuthContext>().expect("components are rendered inside AuthProvider")
}

/// The session, if there is one and it has not expired.
#[hook]
pub fn use_session() -> Option<Session> {
    use_auth().live_session(browser::now_secs()).cloned()
}
