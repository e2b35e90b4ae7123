//! The navigation bar: the app's name, Home, Ping, Profile, and Log In / Log Out.

use yew::prelude::*;

use crate::components::gates::{LoggedIn, LoggedOut};
use crate::components::login_button::LoginButton;
use crate::provider::{use_auth, use_logout, use_session};
use crate::route::{Link, Route};

#[component]
pub fn Nav() -> Html {
    let ready = use_auth().config().is_some();
    let logout = use_logout();
    let name = use_session().map(|s| s.profile.display_name().to_owned());
    html! {
        <nav class="navbar">
            <span class="brand">{ "Rust Quickstart" }</span>
            <Link to={Route::Home} classes="nav-link">{ "Home" }</Link>
            <Link to={Route::Ping} classes="nav-link">{ "Ping" }</Link>
            <LoggedIn>
                <Link to={Route::Profile} classes="nav-link">{ "Profile" }</Link>
            </LoggedIn>
            <span class="spacer"></span>
            <LoggedIn>
                <span class="user">{ name.unwrap_or_default() }</span>
                <button id="logout" class="btn btn-secondary" onclick={logout.reform(|_| ())}>{ "Log Out" }</button>
            </LoggedIn>
            if ready {
                <LoggedOut><LoginButton /></LoggedOut>
            }
        </nav>
    }
}
