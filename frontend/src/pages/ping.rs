//! `/ping`, "Make a Call to the Server": the public, private and private-scoped endpoints.

use yew::prelude::*;

use crate::api::{Endpoint, Outcome};
use crate::components::problem_view::problem_view;
use crate::context::{use_auth, use_session};
use crate::pages::home::CHECKING;
use crate::renewal::call_with_session;

/// One call at a time to the API, with the session's access token: its answer, whether one
/// is under way, and the callback that makes one. Whether the session survives the call is
/// [`call_with_session`]'s to say.
#[hook]
fn use_api_call() -> (Option<(Endpoint, Outcome)>, bool, Callback<Endpoint>) {
    let auth = use_auth();
    let outcome = use_state(|| None::<(Endpoint, Outcome)>);
    let busy = use_state(|| false);
    let call = {
        let (outcome, busy) = (outcome.clone(), busy.clone());
        Callback::from(move |endpoint: Endpoint| {
            busy.set(true);
            let (auth, outcome, busy) = (auth.clone(), outcome.clone(), busy.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let result = call_with_session(&auth, endpoint).await;
                busy.set(false);
                outcome.set(Some((endpoint, result)));
            });
        })
    };
    ((*outcome).clone(), *busy, call)
}

#[component]
pub fn PingPage() -> Html {
    let (outcome, busy, call) = use_api_call();
    let checking = use_auth().checking;
    let logged_out = use_session().is_none();
    let button = |id: &'static str, endpoint: Endpoint, label: &'static str| {
        let disabled = busy || (endpoint.needs_login() && logged_out);
        html! {
            <button {id} class="btn" {disabled} onclick={call.reform(move |_| endpoint)}>{ label }</button>
        }
    };
    html! {
        <section>
            <h1>{ "Make a Call to the Server" }</h1>
            if checking {
                <p id="checking" class="muted">{ CHECKING }</p>
            } else if logged_out {
                <p id="login-prompt">{ "Log in to call a private (secured) server endpoint." }</p>
            }
            <div class="buttons">
                { button("call-public", Endpoint::Public, "Call Public") }
                { button("call-private", Endpoint::Private, "Call Private") }
                { button("call-private-scoped", Endpoint::PrivateScoped, "Call Private Scoped") }
            </div>
            <div id="result" class="result">{ outcome.map(result).unwrap_or_default() }</div>
        </section>
    }
}

fn result((endpoint, outcome): (Endpoint, Outcome)) -> Html {
    let request = html! { <p class="muted">{ format!("GET {}", endpoint.path()) }</p> };
    match outcome {
        Outcome::Message(message) => html! {
            <div class="message">{ request }<p id="message">{ message }</p></div>
        },
        Outcome::Failed(problem) => html! {
            <div>{ request }{ problem_view(&problem) }</div>
        },
    }
}
