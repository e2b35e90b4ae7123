//! The app's pages and their paths. Its own module, so that pages and components can link to
//! each other without going through the app.

use yew_router::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Routable)]
pub enum Route {
    #[at("/")]
    Home,
    #[at("/ping")]
    Ping,
    #[at("/profile")]
    Profile,
    /// Where the tenant sends the browser back after a login.
    #[at("/callback")]
    Callback,
    #[not_found]
    #[at("/404")]
    NotFound,
}
