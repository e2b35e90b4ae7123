//! `/callback`: where the tenant sends the browser back. Nothing is stored unless every check
//! passes; then the fragment leaves the address bar and the user is back where they started.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::app::Route;
use crate::components::login_button::LoginButton;
use crate::login::finish_login;
use crate::state::{AuthAction, use_auth};

#[component]
pub fn Callback() -> Html {
    let auth = use_auth();
    let navigator = use_navigator();
    let failure = use_state(|| None::<String>);
    {
        let auth = auth.clone();
        let failure = failure.clone();
        use_effect_with((), move |_| {
            if let (Some(config), Some(store)) = (auth.config().cloned(), auth.store()) {
                wasm_bindgen_futures::spawn_local(async move {
                    match finish_login(&config).await {
                        Ok((session, return_to)) => match store.save(&session) {
                            Ok(()) => {
                                auth.dispatch(AuthAction::LoggedIn(session));
                                // replaceState: the fragment with the tokens leaves the
                                // address bar and the history.
                                let route = Route::recognize(&return_to).unwrap_or(Route::Home);
                                if let Some(navigator) = navigator {
                                    navigator.replace(&route);
                                }
                            }
                            Err(why) => failure.set(Some(why)),
                        },
                        Err(error) => {
                            store.clear();
                            failure.set(Some(error.to_string()));
                            // The fragment may hold tokens that were refused: drop it too.
                            if let Some(navigator) = navigator {
                                navigator.replace(&Route::Callback);
                            }
                        }
                    }
                });
            }
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
