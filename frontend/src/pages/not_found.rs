//! Any other path.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::route::Route;

#[component]
pub fn NotFoundPage() -> Html {
    html! {
        <section>
            <h1>{ "Page not found" }</h1>
            <p><Link<Route> to={Route::Home}>{ "Back to the home page" }</Link<Route>></p>
        </section>
    }
}
