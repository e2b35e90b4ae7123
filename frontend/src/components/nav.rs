//! The navigation bar: the app's name, Home, Ping, Profile, and Log In / Log Out.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::app::Route;
use crate::components::login_button::LoginButton;
use crate::login::log_out;
use crate::state::use_auth;

#[component]
pub fn Nav() -> Html {
    let auth = use_auth();
    let logged_in = auth.live_session().is_some();
    let on_logout = {
        let auth = auth.clone();
        Callback::from(move |_| {
            if let (Some(config), Some(store)) = (auth.config(), auth.store()) {
                log_out(config, store);
            }
        })
    };
    html! {
        <nav class="navbar">
            <span class="brand">{ "Rust Quickstart" }</span>
            <Link<Route> to={Route::Home} classes="nav-link">{ "Home" }</Link<Route>>
            <Link<Route> to={Route::Ping} classes="nav-link">{ "Ping" }</Link<Route>>
            if logged_in {
                <Link<Route> to={Route::Profile} classes="nav-link">{ "Profile" }</Link<Route>>
            }
            <span class="spacer"></span>
            if logged_in {
                <span class="user">{ auth.live_session().map(|s| s.profile.display_name().to_owned()).unwrap_or_default() }</span>
                <button id="logout" class="btn btn-secondary" onclick={on_logout}>{ "Log Out" }</button>
            } else if auth.config().is_some() {
                <LoginButton />
            }
        </nav>
    }
}
