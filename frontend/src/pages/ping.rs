//! "Make a Call to the Server": the public, private and private-scoped endpoints.

use yew::prelude::*;

use crate::api::{self, Endpoint, Outcome, Problem};
use crate::components::problem_view::ProblemView;
use crate::state::{AuthAction, use_auth};

#[component]
pub fn Ping() -> Html {
    let auth = use_auth();
    let outcome = use_state(|| None::<(Endpoint, Outcome)>);
    let busy = use_state(|| false);
    let session = auth.live_session().cloned();
    let logged_in = session.is_some();
    let call = |endpoint: Endpoint| {
        let outcome = outcome.clone();
        let busy = busy.clone();
        let auth = auth.clone();
        let token = session.as_ref().map(|s| s.access_token.clone());
        Callback::from(move |_| {
            let outcome = outcome.clone();
            let busy = busy.clone();
            let auth = auth.clone();
            let token = token.clone();
            // An expired session is caught here, before the API has to say so.
            if endpoint.needs_login() && auth.live_session().is_none() {
                outcome.set(Some((endpoint, Outcome::Failed(expired()))));
                auth.dispatch(AuthAction::SessionEnded);
                return;
            }
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let result = api::call(endpoint, token.as_deref()).await;
                if let Outcome::Failed(problem) = &result
                    && problem.offer_login
                    && endpoint.needs_login()
                {
                    auth.dispatch(AuthAction::SessionEnded);
                }
                busy.set(false);
                outcome.set(Some((endpoint, result)));
            });
        })
    };
    html! {
        <section>
            <h1>{ "Make a Call to the Server" }</h1>
            if !logged_in {
                <p id="login-prompt">{ "Log in to call a private (secured) server endpoint." }</p>
            }
            <div class="buttons">
                <button id="call-public" class="btn" disabled={*busy} onclick={call(Endpoint::Public)}>{ "Call Public" }</button>
                <button id="call-private" class="btn" disabled={*busy || !logged_in} onclick={call(Endpoint::Private)}>{ "Call Private" }</button>
                <button id="call-private-scoped" class="btn" disabled={*busy || !logged_in} onclick={call(Endpoint::PrivateScoped)}>{ "Call Private Scoped" }</button>
            </div>
            <div id="result" class="result">
                {
                    match &*outcome {
                        None => html! {},
                        Some((endpoint, Outcome::Message(message))) => html! {
                            <div class="message">
                                <p class="muted">{ format!("GET {}", endpoint.path()) }</p>
                                <p id="message">{ message }</p>
                            </div>
                        },
                        Some((endpoint, Outcome::Failed(problem))) => html! {
                            <div>
                                <p class="muted">{ format!("GET {}", endpoint.path()) }</p>
                                <ProblemView problem={problem.clone()} />
                            </div>
                        },
                    }
                }
            </div>
        </section>
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
