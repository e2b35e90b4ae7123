//! The owner of the auth state: [`AuthProvider`] loads the login settings, holds the state (the
//! pure reducer of [`crate::auth::state`]) and keeps storage in step with it in one effect, so
//! that what the page shows and what is stored can never disagree. Small hooks give the rest of
//! the app what it needs: the state, the live session, Log In and Log Out.

use std::rc::Rc;

use yew::prelude::*;

use crate::auth::session::Session;
use crate::auth::state::{AuthAction, AuthState};
use crate::auth::urls::logout_url;
use crate::browser::{self, SessionStore};
use crate::login::start_login;

impl Reducible for AuthState {
    type Action = AuthAction;

    fn reduce(self: Rc<Self>, action: AuthAction) -> Rc<Self> {
        Rc::new(AuthState::reduce(&self, action))
    }
}

pub type AuthContext = UseReducerHandle<AuthState>;

#[derive(Properties, PartialEq)]
pub struct AuthProviderProps {
    pub children: Html,
}

#[component]
pub fn AuthProvider(props: &AuthProviderProps) -> Html {
    let auth = use_reducer(AuthState::default);
    {
        let auth = auth.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let action = match browser::load_auth_config().await {
                    Ok(config) => AuthAction::ConfigLoaded {
                        stored: SessionStore(config.session_storage).load(),
                        config,
                        now: browser::now_secs(),
                    },
                    Err(error) => AuthAction::ConfigFailed(error),
                };
                auth.dispatch(action);
            });
        });
    }
    // The one place the session is written: storage follows the state, then, if the state
    // says so, the browser leaves for the tenant.
    let store = auth.config().map(|c| SessionStore(c.session_storage));
    let persisted = (store, auth.session.clone(), auth.leaving_to.clone());
    use_effect_with(persisted, |(store, session, leaving_to)| {
        if let Some(store) = store {
            match session {
                Some(session) => store.save(session),
                None => store.clear(),
            }
        }
        if let Some(url) = leaving_to {
            browser::go_to(url);
        }
    });
    html! {
        <ContextProvider<AuthContext> context={auth}>{ props.children.clone() }</ContextProvider<AuthContext>>
    }
}

/// The auth state, from any component under [`AuthProvider`].
#[hook]
pub fn use_auth() -> AuthContext {
    use_context::<AuthContext>().expect("components are rendered inside AuthProvider")
}

/// The session, if there is one and it has not expired.
#[hook]
pub fn use_session() -> Option<Session> {
    use_auth().live_session(browser::now_secs()).cloned()
}

/// Log In: sends the browser to the tenant. The error says why it could not (no secure
/// random generator, storage refused).
#[hook]
pub fn use_login() -> (Callback<()>, Option<AttrValue>) {
    let auth = use_auth();
    let error = use_state(|| None::<AttrValue>);
    let login = {
        let error = error.clone();
        Callback::from(move |()| {
            if let Some(config) = auth.config()
                && let Err(why) = start_login(config)
            {
                error.set(Some(why.into()));
            }
        })
    };
    (login, (*error).clone())
}

/// Log Out: forgets the session here, then ends it on the tenant, coming back home.
#[hook]
pub fn use_logout() -> Callback<()> {
    let auth = use_auth();
    Callback::from(move |()| {
        if let Some(config) = auth.config() {
            let logout_url = logout_url(config, &browser::origin());
            auth.dispatch(AuthAction::LogOut { logout_url });
        }
    })
}
