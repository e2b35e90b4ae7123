//! The development tenant's protocol, over HTTP, as a browser and a client see it: the
//! helpers here, the flows in `login`, `tokens` and `logout`, DPoP in `dpop`.

mod dpop;
mod login;
mod logout;
mod tokens;

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use devtenant::testing::{
    AUDIENCE, M2M_CLIENT_ID as M2M, M2M_CLIENT_SECRET as M2M_SECRET, SPA_CLIENT_ID as SPA, at_hash,
    csrf_of, s256_challenge,
};
use devtenant::{DevTenant, RunningTenant};
use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::Value;

const CALLBACK: &str = "http://localhost:3000/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// A browser: keeps cookies, does not follow redirects (the tests look at them).
struct Browser {
    client: reqwest::Client,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
    tenant: RunningTenant,
}

async fn browser() -> Browser {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    Browser {
        client: reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        jar,
        tenant: DevTenant::spawn().await,
    }
}

fn implicit(state: &str) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", SPA.into()),
        ("redirect_uri", CALLBACK.into()),
        ("response_type", "token id_token".into()),
        ("scope", "openid profile read:messages".into()),
        ("audience", AUDIENCE.into()),
        ("state", state.into()),
        ("nonce", "nonce-123".into()),
    ]
}

fn with(
    mut params: Vec<(&'static str, String)>,
    key: &'static str,
    value: &str,
) -> Vec<(&'static str, String)> {
    params.retain(|(k, _)| *k != key);
    if !value.is_empty() {
        params.push((key, value.into()));
    }
    params
}

fn code_flow(state: &str) -> Vec<(&'static str, String)> {
    let params = with(implicit(state), "response_type", "code");
    let params = with(params, "code_challenge", &s256_challenge(VERIFIER));
    let params = with(params, "code_challenge_method", "S256");
    with(
        params,
        "scope",
        "openid profile read:messages offline_access",
    )
}

/// The parameters of a redirect's query or fragment.
fn answer(location: &str) -> HashMap<String, String> {
    let (_, params) = location
        .split_once('#')
        .or_else(|| location.split_once('?'))
        .unwrap_or((location, ""));
    url::form_urlencoded::parse(params.as_bytes())
        .into_owned()
        .collect()
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn header(jwt: &str) -> Value {
    let header = jwt.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

fn form_csrf(html: &str) -> String {
    csrf_of(html)
        .expect("the login form has a CSRF field")
        .to_owned()
}

impl Browser {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.tenant.issuer(), path.trim_start_matches('/'))
    }

    async fn authorize(&self, params: &[(&str, String)]) -> reqwest::Response {
        self.client
            .get(self.url("authorize"))
            .query(params)
            .send()
            .await
            .unwrap()
    }

    async fn submit(
        &self,
        csrf: &str,
        email: &str,
        password: &str,
        action: &str,
    ) -> reqwest::Response {
        self.client
            .post(self.url("u/login"))
            .form(&[
                ("csrf", csrf),
                ("email", email),
                ("password", password),
                ("action", action),
            ])
            .send()
            .await
            .unwrap()
    }

    /// The whole login: /authorize, the form, the redirect back. Returns the redirect target.
    /// With a session already, /authorize answers at once, as it does on Auth0.
    async fn log_in(&self, params: &[(&str, String)], email: &str, password: &str) -> String {
        let page = self.authorize(params).await;
        if page.status() == StatusCode::SEE_OTHER {
            return location(&page);
        }
        assert_eq!(page.status(), StatusCode::OK);
        let csrf = form_csrf(&page.text().await.unwrap());
        let back = self.submit(&csrf, email, password, "login").await;
        assert_eq!(back.status(), StatusCode::SEE_OTHER);
        location(&back)
    }

    async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url("oauth/token"))
            .form(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["cache-control"], "no-store");
        (response.status(), response.json().await.unwrap())
    }

    async fn get_json(&self, path: &str) -> Value {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        response.json().await.unwrap()
    }

    async fn userinfo(&self, token: &str) -> reqwest::Response {
        self.client
            .get(self.url("userinfo"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

fn location(response: &reqwest::Response) -> String {
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

/// The SPA's exchange of `code` at the token endpoint (RFC 7636 §4.5).
fn code_exchange<'a>(
    code: &'a str,
    redirect_uri: &'a str,
    verifier: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("client_id", SPA),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ]
}
