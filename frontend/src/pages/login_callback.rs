//! `/callback`: where the tenant sends the browser back. Nothing is kept unless every check
//! passes; then the user is back where they started. An answer that does not belong to this
//! tab's login changes nothing and shows nothing of itself: a session in place stays.

use yew::prelude::*;

use crate::auth::state::AuthAction;
use crate::browser;
use crate::components::login_button::LoginButton;
use crate::context::use_auth;
use crate::login::finish_login;
use crate::route::{Route, use_navigator};

/// When the app starts on the tenant's answer, and when that answer is verified and kept
/// (read by the browser tests: the part of the login the app controls).
pub const STARTED_MARK: &str = "callback-started";
pub const VERIFIED_MARK: &str = "login-verified";

#[derive(Properties, PartialEq)]
pub struct LoginCallbackProps {
    /// The answer, as taken from the address bar when the app started.
    pub answer: Option<AttrValue>,
}

#[component]
pub fn LoginCallbackPage(props: &LoginCallbackProps) -> Html {
    let auth = use_auth();
    let navigator = use_navigator();
    let failure = use_state(|| None::<String>);
    {
        let failure = failure.clone();
        let answer = props.answer.clone().unwrap_or_default();
        use_effect_with((), move |_| {
            let Some(config) = auth.config().cloned() else {
                return;
            };
            let logged_in = auth.live_session(browser::now_secs()).is_some();
            let go = move |route: Route| navigator.replace(route);
            browser::mark(STARTED_MARK);
            wasm_bindgen_futures::spawn_local(async move {
                match finish_login(&config, &answer).await {
                    Ok((session, return_to)) => {
                        auth.dispatch(AuthAction::LoggedIn(session));
                        browser::mark(VERIFIED_MARK);
                        // Only the app's own routes: no open redirect.
                        go(match Route::recognize(&return_to) {
                            Route::NotFound | Route::Callback => Route::Home,
                            route => route,
                        });
                    }
                    // The Back button after a login, a stale link: the session stands.
                    Err(error) if error.is_foreign() && logged_in => go(Route::Home),
                    Err(error) => failure.set(Some(error.to_string())),
                }
            });
        });
    }
    match &*failure {
        None => html! { <p class="muted">{ "Completing the login…" }</p> },
        Some(why) => html! {
            <section>
                <h1>{ "Login failed" }</h1>
                <div class="problem" role="alert">
                    <p id="login-error">{ why }</p>
                </div>
                <LoginButton label="Try again" />
            </section>
        },
    }
}
