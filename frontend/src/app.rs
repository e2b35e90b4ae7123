//! The app: routes, the auth context, the navigation bar.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::browser;
use crate::components::nav::Nav;
use crate::pages::{
    callback::Callback, home::Home, not_found::NotFound, ping::Ping, profile::ProfilePage,
};
use crate::state::{AuthAction, AuthContext, AuthState, ConfigState};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Routable)]
pub enum Route {
    #[at("/")]
    Home,
    #[at("/ping")]
    Ping,
    #[at("/profile")]
    Profile,
    #[at("/callback")]
    Callback,
    #[not_found]
    #[at("/404")]
    NotFound,
}

fn switch(route: Route) -> Html {
    match route {
        Route::Home => html! { <Home /> },
        Route::Ping => html! { <Ping /> },
        Route::Profile => html! { <ProfilePage /> },
        Route::Callback => html! { <Callback /> },
        Route::NotFound => html! { <NotFound /> },
    }
}

#[component]
pub fn App() -> Html {
    let auth = use_reducer(AuthState::default);
    {
        let auth = auth.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                match browser::load_auth_config().await {
                    Ok(config) => auth.dispatch(AuthAction::ConfigLoaded(config)),
                    Err(error) => auth.dispatch(AuthAction::ConfigFailed(error)),
                }
            });
        });
    }
    let body = match &auth.config {
        ConfigState::Loading => html! { <p class="muted">{ "Loading…" }</p> },
        ConfigState::Failed(error) => html! {
            <div class="problem" role="alert">
                <p class="problem-title">{ "The app cannot start: its login settings are missing" }</p>
                <p>{ error }</p>
                <p>{ "The API serves them at /auth_config.json. Is the API running, with AUTH0_CLIENT_ID set?" }</p>
            </div>
        },
        ConfigState::Ready(_) => html! { <Switch<Route> render={switch} /> },
    };
    html! {
        <ContextProvider<AuthContext> context={auth}>
            <BrowserRouter>
                <Nav />
                <main class="container">{ body }</main>
            </BrowserRouter>
        </ContextProvider<AuthContext>>
    }
}
