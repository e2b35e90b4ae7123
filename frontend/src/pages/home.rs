//! `/`: says whether you are logged in.

use yew::prelude::*;

use crate::components::gates::{LoggedIn, LoggedOut};

pub const LOGGED_IN: &str =
    "You are logged in! You can now send authenticated requests to your server.";
pub const LOGGED_OUT: &str = "You are not logged in! Please log in to continue.";

/// The moment the first page a visitor sees is on screen (read by the browser tests).
pub const RENDERED_MARK: &str = "home-rendered";

#[component]
pub fn HomePage() -> Html {
    use_effect_with((), |_| crate::browser::mark(RENDERED_MARK));
    html! {
        <section>
            <h1>{ "Calling an API" }</h1>
            <LoggedIn><p id="home-status">{ LOGGED_IN }</p></LoggedIn>
            <LoggedOut><p id="home-status">{ LOGGED_OUT }</p></LoggedOut>
        </section>
    }
}
