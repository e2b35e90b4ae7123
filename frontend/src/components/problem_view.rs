//! A failed call, shown so a person can act on it.

use yew::prelude::*;

use crate::api::Problem;
use crate::components::login_button::LoginButton;

/// A plain function, not a component: it has no state of its own, and a component's
/// machinery costs the bundle ~1 KB each.
pub fn problem_view(problem: &Problem) -> Html {
    html! {
        <div class="problem" role="alert">
            <p class="problem-title">{ &problem.title }</p>
            <p>{ &problem.detail }</p>
            if let Some(hint) = &problem.hint {
                <p class="hint">{ hint }</p>
            }
            if problem.offer_login {
                <LoginButton label="Log In again" />
            }
        </div>
    }
}
