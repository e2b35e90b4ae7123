//! `/`: says whether you are logged in.

use yew::prelude::*;

use crate::context::{use_auth, use_session};

pub const LOGGED_IN: &str =
    "You are logged in! You can now send authenticated requests to your server.";
pub const LOGGED_OUT: &str = "You are not logged in! Please log in to continue.";
/// While the start-up renewal may bring a session back: no Log In to click that would throw
/// it away. Bounded by the renewal's own timeout.
pub const CHECKING: &str = "Checking your session…";
/// Back from the provider's logout, its `state` checked.
pub const SIGNED_OUT: &str = "You have logged out of the app and of the identity provider.";

/// The moment the first page a visitor sees is on screen (read by the browser tests).
pub const RENDERED_MARK: &str = "home-rendered";

#[component]
pub fn HomePage() -> Html {
    use_effect_with((), |_| crate::browser::mark(RENDERED_MARK));
    let auth = use_auth();
    let status = match (use_session(), auth.checking) {
        (Some(_), _) => LOGGED_IN,
        (None, true) => CHECKING,
        (None, false) => LOGGED_OUT,
    };
    html! {
        <section>
            <h1>{ "Calling an API" }</h1>
            if auth.logged_out {
                <p id="signed-out" class="muted">{ SIGNED_OUT }</p>
            }
            <p id="home-status">{ status }</p>
        </section>
    }
}
