//! `/`: says whether you are logged in.

use yew::prelude::*;

use crate::components::gates::{LoggedIn, LoggedOut};

pub const LOGGED_IN: &str =
    "You are logged in! You can now send authenticated requests to your server.";
pub const LOGGED_OUT: &str = "You are not logged in! Please log in to continue.";

#[component]
pub fn HomePage() -> Html {
    html! {
        <section>
            <h1>{ "Calling an API" }</h1>
            <LoggedIn><p id="home-status">{ LOGGED_IN }</p></LoggedIn>
            <LoggedOut><p id="home-status">{ LOGGED_OUT }</p></LoggedOut>
        </section>
    }
}
