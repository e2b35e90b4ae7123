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
use crate::login::{RenewError, renew, start_login};
use gloo_timers::callback::Timeout;

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
    use_renewal(&auth);
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

/// Keeps the session alive without a visible redirect: when the app starts with no usable
/// session (off `/callback`), and again
/// [`RENEW_MARGIN_SECS`](crate::auth::session::RENEW_MARGIN_SECS) before each session expires.
/// `login_required` (or a refresh token refused) ends the session quietly: the page shows
/// logged out, and nothing retries until the next page load.
#[hook]
fn use_renewal(auth: &AuthContext) {
    let config = auth.config().cloned();
    let expires_at = auth.session.as_ref().map(|s| s.expires_at);
    let auth = auth.clone();
    use_effect_with((config, expires_at), move |(config, expires_at)| {
        // The first run with the settings is the app's start.
        let starting = config.is_some() && !STARTED.with(|s| s.replace(true));
        let due_in = match (config, expires_at) {
            (None, _) => None,
            // At start with nothing to show, unless this is the callback, which logs in.
            (Some(_), None) if starting && browser::current_path() != browser::CALLBACK_PATH => {
                Some(0)
            }
            (Some(_), None) => None,
            (Some(_), Some(_)) => auth
                .session
                .as_ref()
                .map(|s| s.renew_in(browser::now_secs())),
        };
        let timer = due_in.zip(config.clone()).map(|(secs, config)| {
            let auth = auth.clone();
            Timeout::new(timer_millis(secs), move || {
                wasm_bindgen_futures::spawn_local(async move {
                    let _ = renew_and_tell(&auth, &config).await;
                });
            })
        });
        move || drop(timer)
    });
}

/// One renewal at a time, its outcome dispatched: the new session; the session ended (the
/// tenant says to log in); or nothing changed (another renewal under way, the user leaving,
/// no answer for now).
async fn renew_and_tell(
    auth: &AuthContext,
    config: &shared::AuthConfig,
) -> Result<Session, RenewError> {
    if auth.leaving_to.is_some() || RENEWING.with(|r| r.replace(true)) {
        return Err(RenewError::Failed("a renewal is under way".into()));
    }
    browser::mark(RENEWAL_STARTED_MARK);
    let result = renew(config, auth.session.as_ref()).await;
    RENEWING.with(|r| r.set(false));
    match &result {
        Ok(session) => {
            auth.dispatch(AuthAction::Renewed(session.clone()));
            browser::mark(RENEWED_MARK);
        }
        Err(RenewError::LoginRequired) => auth.dispatch(AuthAction::SessionEnded),
        Err(RenewError::Failed(_)) => {}
    }
    result
}

/// When a renewal starts, and when its session is in place (read by the browser tests).
pub const RENEWAL_STARTED_MARK: &str = "renewal-started";
pub const RENEWED_MARK: &str = "session-renewed";

/// The longest `setTimeout` browsers honour (2^31 − 1 ms, about 24.8 days).
const MAX_TIMEOUT_MS: u64 = i32::MAX as u64;

/// `secs` as a browser timer's milliseconds. A longer timer would fire at once, so a token
/// good for weeks is renewed after 24.8 days instead.
fn timer_millis(secs: u64) -> u32 {
    secs.saturating_mul(1000).min(MAX_TIMEOUT_MS) as u32
}

thread_local! {
    /// A renewal is under way: another waits for none, and starts none.
    static RENEWING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The app has started (its settings loaded): the start renews at most once.
    static STARTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The session to call the API with: renewed first when it is about to expire, so that no
/// call is refused for an expiry a renewal could have prevented.
pub async fn fresh_session(auth: &AuthContext) -> Option<Session> {
    let now = browser::now_secs();
    let session = auth.live_session(now).cloned();
    match (&session, auth.config()) {
        (Some(s), _) if !s.needs_renewal(now) => session,
        (_, Some(config)) => match renew_and_tell(auth, config).await {
            Ok(renewed) => Some(renewed),
            Err(RenewError::LoginRequired) => None,
            // Not renewed now: the session as it is, if it is still good.
            Err(RenewError::Failed(_)) => session.filter(|s| !s.is_expired(browser::now_secs())),
        },
        (_, None) => session,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_timers_stay_within_what_browsers_honour() {
        assert_eq!(timer_millis(0), 0);
        assert_eq!(timer_millis(7_140), 7_140_000);
        assert_eq!(timer_millis(30 * 24 * 3600), i32::MAX as u32);
        assert_eq!(timer_millis(u64::MAX), i32::MAX as u32);
    }
}
