//! Any other path.

use yew::prelude::*;

use crate::route::{Link, Route};

#[component]
pub fn NotFoundPage() -> Html {
    html! {
        <section>
            <h1>{ "Page not found" }</h1>
            <p><Link to={Route::Home}>{ "Back to the home page" }</Link></p>
        </section>
    }
}
