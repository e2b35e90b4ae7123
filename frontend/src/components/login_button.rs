//! "Log In": off to the tenant.

use yew::prelude::*;

use crate::login::start_login;
use crate::state::use_auth;

#[derive(Properties, PartialEq)]
pub struct LoginButtonProps {
    #[prop_or(AttrValue::Static("Log In"))]
    pub label: AttrValue,
}

#[component]
pub fn LoginButton(props: &LoginButtonProps) -> Html {
    let auth = use_auth();
    let error = use_state(|| None::<String>);
    let onclick = {
        let error = error.clone();
        let config = auth.config().cloned();
        Callback::from(move |_| {
            if let Some(config) = &config
                && let Err(why) = start_login(config)
            {
                error.set(Some(why));
            }
        })
    };
    html! {
        <>
            <button id="login" class="btn" {onclick}>{ props.label.clone() }</button>
            if let Some(why) = &*error {
                <p class="problem" role="alert">{ format!("Cannot log in: {why}") }</p>
            }
        </>
    }
}
