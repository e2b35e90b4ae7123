//! The logged-in user: name, picture, and the tenant's whole `/userinfo` answer.

use yew::prelude::*;

use crate::auth::urls::userinfo_url;
use crate::browser;
use crate::components::login_button::LoginButton;
use crate::provider::{use_auth, use_session};

#[component]
pub fn ProfilePage() -> Html {
    let auth = use_auth();
    let userinfo = use_state(|| None::<Result<String, String>>);
    let session = use_session();
    {
        let userinfo = userinfo.clone();
        let config = auth.config().cloned();
        let token = session.as_ref().map(|s| s.access_token.clone());
        use_effect_with(token.clone(), move |_| {
            if let (Some(config), Some(token)) = (config, token) {
                wasm_bindgen_futures::spawn_local(async move {
                    let result =
                        browser::get_json_pretty(&userinfo_url(&config), Some(&token)).await;
                    userinfo.set(Some(result));
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
                    None => html! { <p class="muted">{ "Loading…" }</p> },
                    Some(Ok(json)) => html! { <pre id="userinfo">{ json }</pre> },
                    Some(Err(error)) => html! { <p class="problem" role="alert">{ format!("The profile could not be loaded: {error}") }</p> },
                }
            }
        </section>
    }
}
