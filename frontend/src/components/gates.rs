//! `<LoggedIn>` and `<LoggedOut>`: their children, only when someone is (or no one is)
//! logged in with a session that has not expired. The one place pages ask.

use yew::prelude::*;

use crate::provider::use_session;

#[derive(Properties, PartialEq)]
pub struct GateProps {
    pub children: Html,
}

#[component]
pub fn LoggedIn(props: &GateProps) -> Html {
    match use_session() {
        Some(_) => props.children.clone(),
        None => Html::default(),
    }
}

#[component]
pub fn LoggedOut(props: &GateProps) -> Html {
    match use_session() {
        Some(_) => Html::default(),
        None => props.children.clone(),
    }
}
