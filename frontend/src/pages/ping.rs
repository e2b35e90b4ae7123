//! `/ping`, "Make a Call to the Server": the public, private and private-scoped endpoints.

use yew::prelude::*;

use crate::api::{self, Endpoint, Outcome, Problem};
use crate::auth::state::AuthAction;
use crate::components::problem_view::problem_view;
use crate::provider::{AuthContext, fresh_session, use_auth, use_session};

/// One call at a time to the API, with the session's access token: its answer, whether one
/// is under way, and the callback that makes one. A call the API refuses for the session's
/// sake (expired, refused token) ends the session.
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

/// Calls `endpoint`, with a session renewed first if it is about to expire. An expired
/// session that cannot be renewed is caught here, before the API has to say so.
async fn call_with_session(auth: &AuthContext, endpoint: Endpoint) -> Outcome {
    if !endpoint.needs_login() {
        return api::call(endpoint, None).await;
    }
    let Some(session) = fresh_session(auth).await else {
        auth.dispatch(AuthAction::SessionEnded);
        return Outcome::Failed(expired());
    };
    let result = api::call(endpoint, Some(&session.access_token)).await;
    if let Outcome::Failed(problem) = &result
        && problem.offer_login
    {
        auth.dispatch(AuthAction::SessionEnded);
    }
    result
}

#[component]
pub fn PingPage() -> Html {
    let (outcome, busy, call) = use_api_call();
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
            if logged_out {
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

fn expired() -> Problem {
    Problem {
        title: "Your session has expired".into(),
        detail: "The access token is past its expiry, so it was not sent.".into(),
        hint: Some("Log in again to get a new access token.".into()),
        offer_login: true,
    }
}
