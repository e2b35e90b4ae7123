//! The logged-in user: name, picture, and the tenant's whole `/userinfo` answer.

use shared::Provider;
use yew::prelude::*;

use crate::auth::session::Session;
use crate::auth::urls::userinfo_url;
use crate::browser::{self, Credentials};
use crate::components::login_button::LoginButton;
use crate::context::{use_auth, use_session};
use crate::dpop;

/// Auth0 issues one access token for the API and `/userinfo` both; many providers issue it
/// for the API alone (its `resource`), and their userinfo endpoint refuses it.
const USERINFO_HINT: &str = "This provider may accept at its userinfo endpoint only access tokens issued for it, and this one is for the API (audience/resource). The name above is from the ID token.";

/// The provider's `/userinfo` with the session's access token (`DPoP`, with a proof, when it
/// is bound to a key).
async fn fetch_userinfo(url: &str, session: &Session) -> Result<String, String> {
    let proof = match &session.dpop_jkt {
        Some(jkt) => {
            let key = dpop::key(jkt).await?;
            Some(dpop::proof(&key, "GET", url, Some(&session.access_token)).await?)
        }
        None => None,
    };
    let credentials = Credentials {
        token: &session.access_token,
        proof,
    };
    browser::get_json_pretty(url, Some(&credentials)).await
}

#[component]
pub fn ProfilePage() -> Html {
    let auth = use_auth();
    let userinfo = use_state(|| None::<Result<String, String>>);
    let session = use_session();
    {
        let userinfo = userinfo.clone();
        let config = auth.config().cloned();
        use_effect_with(session.clone(), move |session| {
            let url = config.as_deref().and_then(userinfo_url).map(str::to_owned);
            if let (Some(url), Some(session)) = (url, session.clone()) {
                wasm_bindgen_futures::spawn_local(async move {
                    userinfo.set(Some(fetch_userinfo(&url, &session).await));
                });
            }
        });
    }
    let Some(session) = session else {
        return html! {
            <section>
                <h1>{ "Profile" }</h1>
                <p>{ "Log in to see your profile." }</p>
                <LoginButton />
            </section>
        };
    };
    let has_userinfo = auth.config().is_some_and(|c| userinfo_url(c).is_some());
    let openid = auth
        .config()
        .is_some_and(|c| c.provider == Provider::OpenId);
    let profile = &session.profile;
    html! {
        <section>
            <h1>{ "Profile" }</h1>
            <div class="profile">
                if let Some(picture) = &profile.picture {
                    <img class="avatar" src={picture.clone()} alt="Profile picture" referrerpolicy="no-referrer" />
                }
                <div>
                    <p id="profile-name" class="profile-name">{ profile.display_name() }</p>
                    if let Some(email) = &profile.email {
                        <p class="muted">{ email }</p>
                    }
                    <p class="muted">{ &profile.sub }</p>
                </div>
            </div>
            <h2>{ "/userinfo" }</h2>
            {
                match &*userinfo {
                    None if !has_userinfo => html! { <p class="muted">{ "This provider has no userinfo endpoint; the name above is from the ID token." }</p> },
                    None => html! { <p class="muted">{ "Loading…" }</p> },
                    Some(Ok(json)) => html! { <pre id="userinfo">{ json }</pre> },
                    Some(Err(error)) => html! {
                        <div class="problem" role="alert">
                            <p id="userinfo-error">{ format!("The profile could not be loaded: {error}") }</p>
                            if openid {
                                <p>{ USERINFO_HINT }</p>
                            }
                        </div>
                    },
                }
            }
        </section>
    }
}
