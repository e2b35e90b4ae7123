use yew::prelude::*;

use crate::state::use_auth;

pub const LOGGED_IN: &str =
    "You are logged in! You can now send authenticated requests to your server.";
pub const LOGGED_OUT: &str = "You are not logged in! Please log in to continue.";

#[component]
pub fn Home() -> Html {
    let auth = use_auth();
    let text = if auth.live_session().is_some() {
        LOGGED_IN
    } else {
        LOGGED_OUT
    };
    html! {
        <section>
            <h1>{ "Calling an API" }</h1>
            <p id="home-status">{ text }</p>
        </section>
    }
}
