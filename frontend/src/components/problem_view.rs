//! A failed call, shown so a person can act on it.

use yew::prelude::*;

use crate::api::Problem;
use crate::components::login_button::LoginButton;

#[derive(Properties, PartialEq)]
pub struct ProblemViewProps {
    pub problem: Problem,
}

#[component]
pub fn ProblemView(props: &ProblemViewProps) -> Html {
    let problem = &props.problem;
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
