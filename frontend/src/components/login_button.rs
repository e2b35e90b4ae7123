//! "Log In": off to the tenant.

use yew::prelude::*;

use crate::provider::use_login;

#[derive(Properties, PartialEq)]
pub struct LoginButtonProps {
    #[prop_or(AttrValue::Static("Log In"))]
    pub label: AttrValue,
}

#[component]
pub fn LoginButton(props: &LoginButtonProps) -> Html {
    let (login, error) = use_login();
    html! {
        <>
            <button id="login" class="btn" onclick={login.reform(|_| ())}>{ props.label.clone() }</button>
            if let Some(why) = error {
                <p class="problem" role="alert">{ format!("Cannot log in: {why}") }</p>
            }
        </>
    }
}
