//! The navigation bar: the app's name, Home, Ping, Profile, and Log In / Log Out.

use yew::prelude::*;

use crate::components::login_button::LoginButton;
use crate::context::{use_auth, use_session};
use crate::provider::use_logout;
use crate::route::{Link, Route};

#[component]
pub fn Nav() -> Html {
    let auth = use_auth();
    // No Log In while a session may be coming back (see `AuthState::checking`).
    let ready = auth.config().is_some() && !auth.checking;
    let logout = use_logout();
    let name = use_session().map(|s| s.profile.display_name().to_owned());
    html! {
        <nav class="navbar">
            <span class="brand">{ "Rust Quickstart" }</span>
            <Link to={Route::Home} classes="nav-link">{ "Home" }</Link>
            <Link to={Route::Ping} classes="nav-link">{ "Ping" }</Link>
            if name.is_some() {
                <Link to={Route::Profile} classes="nav-link">{ "Profile" }</Link>
            }
            <span class="spacer"></span>
            if let Some(name) = name {
                <span class="user">{ name }</span>
                <button id="logout" class="btn btn-secondary" onclick={logout.reform(|_| ())}>{ "Log Out" }</button>
            } else if ready {
                <LoginButton />
            }
        </nav>
    }
}
