//! The owner of the auth state: [`AuthProvider`] loads the login settings, holds the state (the
//! pure reducer of [`crate::auth::state`], reached through [`crate::context`]) and keeps storage
//! in step with it in one effect, so that what the page shows and what is stored can never
//! disagree. Renewal is [`crate::renewal`]'s. [`use_login`] and [`use_logout`] are the two
//! buttons.

use std::rc::Rc;

use shared::{AuthConfig, SessionStorage};
use yew::prelude::*;

use crate::auth::session::Session;
use crate::auth::state::{AuthAction, AuthState};
use crate::auth::urls::logout_url;
use crate::browser::{self, SessionStore};
use crate::context::{AuthContext, use_auth};
use crate::dpop;
use crate::login::{revoke_refresh_token, start_login};
use crate::renewal::{renews_at_start, use_renewal};

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
                    Ok(config) => {
                        let stored = SessionStore(config.session_storage).load();
                        let now = browser::now_secs();
                        let live = stored.as_ref().is_some_and(|s| !s.is_expired(now));
                        AuthAction::ConfigLoaded {
                            renewing: renews_at_start(&config, live),
                            logged_out: browser::take_logout_return(),
                            stored,
                            config: Rc::new(config),
                            now,
                        }
                    }
                    Err(error) => AuthAction::ConfigFailed(error),
                };
                auth.dispatch(action);
            });
        });
    }
    use_renewal(&auth);
    // Another tab's logout or renewal of a session they share (`local` storage).
    {
        let local = auth
            .config()
            .is_some_and(|c| c.session_storage == SessionStorage::Local);
        let auth = auth.clone();
        use_effect_with(local, move |local| {
            let listener = local.then(|| {
                browser::on_session_stored_elsewhere(move |stored| match stored {
                    Some(session) => auth.dispatch(AuthAction::Renewed(session)),
                    None => auth.dispatch(AuthAction::SessionEnded),
                })
            });
            move || drop(listener)
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

/// Log In: sends the browser to the tenant. The error says why it could not (no secure
/// random generator, storage refused).
#[hook]
pub fn use_login() -> (Callback<()>, Option<AttrValue>) {
    let auth = use_auth();
    let error = use_state(|| None::<AttrValue>);
    let login = {
        let error = error.clone();
        Callback::from(move |()| {
            let (Some(config), error) = (auth.config().cloned(), error.clone()) else {
                return;
            };
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(why) = start_login(&config).await {
                    error.set(Some(why.into()));
                }
            });
        })
    };
    (login, (*error).clone())
}

/// Log Out: ends the session here and in every tab that shares it ([`end_session`]), then on
/// the provider (Auth0's `/v2/logout`, or RP-Initiated Logout with a `state` checked on the
/// way back), coming back home. A provider with no logout keeps its own session: only this
/// app's ends.
#[hook]
pub fn use_logout() -> Callback<()> {
    let auth = use_auth();
    Callback::from(move |()| {
        let Some(config) = auth.config().cloned() else {
            return;
        };
        let auth = auth.clone();
        wasm_bindgen_futures::spawn_local(async move {
            end_session(&config, auth.session.clone()).await;
            let return_to = browser::logout_return_url(&config);
            let state = browser::start_logout();
            let logout_url = logout_url(&config, &return_to, &state);
            browser::remember_local_logout(logout_url.is_none());
            auth.dispatch(AuthAction::LogOut { logout_url });
        });
    })
}

/// Ends the session where the app keeps it, under the lock the tabs take to change it: the
/// stored session is cleared (other tabs sharing it hear so), its refresh token, the freshest
/// one stored, is revoked at the provider, so no tab's copy renews it, and its DPoP key is
/// deleted.
async fn end_session(config: &AuthConfig, session: Option<Session>) {
    let config = config.clone();
    browser::with_lock(browser::SESSION_LOCK, async move {
        let store = SessionStore(config.session_storage);
        let ended = store.load().or(session);
        store.clear();
        let Some(ended) = ended else {
            return;
        };
        if let Some(refresh_token) = &ended.refresh_token {
            revoke_refresh_token(&config, refresh_token).await;
        }
        if let Some(jkt) = &ended.dpop_jkt {
            dpop::forget(jkt).await;
        }
    })
    .await;
}
