//! `/`: says whether you are logged in.

use yew::prelude::*;

use crate::provider::use_session;

pub const LOGGED_IN: &str =
    "You are logged in! You can now send authenticated requests to your server.";
pub const LOGGED_OUT: &str = "You are not logged in! Please log in to continue.";

/// The moment the first page a visitor sees is on screen (read by the browser tests).
pub const RENDERED_MARK: &str = "home-rendered";

#[component]
pub fn HomePage() -> Html {
    use_effect_with((), |_| crate::browser::mark(RENDERED_MARK));
    let status = match use_session() {
        Some(_) => LOGGED_IN,
        None => LOGGED_OUT,
    };
    html! {
        <section>
            <h1>{ "Calling an API" }</h1>
            <p id="home-status">{ status }</p>
        </section>
    }
}
