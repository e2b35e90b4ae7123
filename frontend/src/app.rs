//! The app: the auth provider around the router, the navigation bar, and a page per route
//! once the login settings are loaded.

use yew::prelude::*;

use crate::auth::state::ConfigState;
use crate::components::nav::Nav;
use crate::context::use_auth;
use crate::pages::{
    home::HomePage, login_callback::LoginCallbackPage, not_found::NotFoundPage, ping::PingPage,
    profile::ProfilePage,
};
use crate::provider::AuthProvider;
use crate::route::{Route, Router, use_navigator};

#[derive(Properties, PartialEq)]
pub struct AppProps {
    /// The tenant's answer, taken out of the address bar before the app rendered (on
    /// `/callback` only).
    pub callback_answer: Option<AttrValue>,
}

#[component]
pub fn App(props: &AppProps) -> Html {
    html! {
        <AuthProvider>
            <Router>
                <Nav />
                <main class="container"><Pages callback_answer={props.callback_answer.clone()} /></main>
            </Router>
        </AuthProvider>
    }
}

/// The page of the route, or why there is none yet.
#[component]
fn Pages(props: &AppProps) -> Html {
    let auth = use_auth();
    let route = use_navigator().route();
    match &auth.config {
        ConfigState::Loading => html! { <p class="muted">{ "Loading…" }</p> },
        ConfigState::Failed(error) => html! {
            <div class="problem" role="alert">
                <p class="problem-title">{ "The app cannot start: its login settings are missing" }</p>
                <p id="config-error">{ error }</p>
                <p>{ "The API serves them at /auth_config.json. Is the API running, with AUTH0_CLIENT_ID set?" }</p>
            </div>
        },
        ConfigState::Ready(_) => match route {
            Route::Home => html! { <HomePage /> },
            Route::Ping => html! { <PingPage /> },
            Route::Profile => html! { <ProfilePage /> },
            Route::Callback => {
                html! { <LoginCallbackPage answer={props.callback_answer.clone()} /> }
            }
            Route::NotFound => html! { <NotFoundPage /> },
        },
    }
}
