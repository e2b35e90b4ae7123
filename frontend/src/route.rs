//! The app's pages, their paths, and the router that shows the page of the address bar's
//! path: the History API and one context.
//!
//! Written here rather than taken from yew-router: this app has five flat routes, and
//! yew-router (with gloo-history and route-recognizer) weighed more of the gzipped bundle than
//! the rest of the routing (docs/performance.md has the figure). What it brings beyond this (nested and typed routes, query
//! strings, hash routing) the app does not use.

use gloo_events::EventListener;
use yew::prelude::*;

use crate::browser;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Home,
    Ping,
    Profile,
    /// Where the tenant sends the browser back after a login.
    Callback,
    NotFound,
}

impl Route {
    /// The route of a path; a trailing `/` is forgiven, anything else unknown is
    /// [`Route::NotFound`].
    pub fn recognize(path: &str) -> Route {
        match path
            .strip_suffix('/')
            .filter(|p| !p.is_empty())
            .unwrap_or(path)
        {
            "/" => Route::Home,
            "/ping" => Route::Ping,
            "/profile" => Route::Profile,
            "/callback" => Route::Callback,
            _ => Route::NotFound,
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Route::Home => "/",
            Route::Ping => "/ping",
            Route::Profile => "/profile",
            Route::Callback => "/callback",
            Route::NotFound => "/404",
        }
    }
}

/// The current route, and the way to another: what [`use_navigator`] gives.
#[derive(Clone, PartialEq)]
pub struct Navigator(UseStateHandle<Route>);

impl Navigator {
    pub fn route(&self) -> Route {
        *self.0
    }

    /// To `route`, as a new entry of the history.
    pub fn push(&self, route: Route) {
        browser::push_path(route.path());
        self.0.set(route);
    }

    /// To `route`, in place of the current entry of the history.
    pub fn replace(&self, route: Route) {
        browser::replace_path(route.path());
        self.0.set(route);
    }
}

#[derive(Properties, PartialEq)]
pub struct RouterProps {
    pub children: Html,
}

/// Follows the address bar: the path it has at start, then every Back and Forward.
#[component]
pub fn Router(props: &RouterProps) -> Html {
    let route = use_state(|| Route::recognize(&browser::current_path()));
    {
        let route = route.clone();
        use_effect_with((), move |_| {
            let window = web_sys::window().expect("the SPA runs in a window");
            let listener = EventListener::new(&window, "popstate", move |_| {
                route.set(Route::recognize(&browser::current_path()));
            });
            move || drop(listener)
        });
    }
    html! {
        <ContextProvider<Navigator> context={Navigator(route)}>{ props.children.clone() }</ContextProvider<Navigator>>
    }
}

#[hook]
pub fn use_navigator() -> Navigator {
    use_context::<Navigator>().expect("components are rendered inside Router")
}

#[derive(Properties, PartialEq)]
pub struct LinkProps {
    pub to: Route,
    #[prop_or_default]
    pub classes: Classes,
    pub children: Html,
}

/// A link within the app: a real `<a href>` (open in a new tab works), followed in place.
#[component]
pub fn Link(props: &LinkProps) -> Html {
    let navigator = use_navigator();
    let to = props.to;
    let onclick = Callback::from(move |event: MouseEvent| {
        let modified = event.ctrl_key() || event.meta_key() || event.shift_key() || event.alt_key();
        if event.button() == 0 && !modified {
            event.prevent_default();
            navigator.push(to);
        }
    });
    html! {
        <a href={to.path()} class={props.classes.clone()} {onclick}>{ props.children.clone() }</a>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_routes_go_both_ways() {
        for route in [Route::Home, Route::Ping, Route::Profile, Route::Callback] {
            assert_eq!(Route::recognize(route.path()), route);
        }
        assert_eq!(Route::recognize("/ping/"), Route::Ping);
        for unknown in [
            "/nope",
            "//evil.example.com",
            "https://evil.example.com/",
            "",
            "ping",
        ] {
            assert_eq!(Route::recognize(unknown), Route::NotFound, "{unknown}");
        }
    }
}
