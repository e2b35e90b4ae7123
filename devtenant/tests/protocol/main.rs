//! The development tenant's protocol, over HTTP, as a browser and a client see it: the
//! flows here, DPoP in `dpop`.

mod dpop;

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

#[tokio::test]
async fn discovery_points_at_the_tenants_endpoints() {
    let b = browser().await;
    let doc: Value = b.get_json(".well-known/openid-configuration").await;
    let issuer = b.tenant.issuer();
    assert_eq!(doc["issuer"], issuer);
    assert_eq!(doc["authorization_endpoint"], format!("{issuer}authorize"));
    assert_eq!(doc["token_endpoint"], format!("{issuer}oauth/token"));
    assert_eq!(doc["jwks_uri"], format!("{issuer}.well-known/jwks.json"));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
}

#[tokio::test]
async fn jwks_publishes_rsa_signing_keys() {
    let b = browser().await;
    let jwks: Value = b.get_json(".well-known/jwks.json").await;
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["kid"], b.tenant.signing_key().kid());
    assert!(key.get("d").is_none(), "no private part is published");
}

#[tokio::test]
async fn unknown_client_gets_an_error_page_not_a_redirect() {
    let b = browser().await;
    for client in ["", "nobody"] {
        let response = b.authorize(&with(implicit("s"), "client_id", client)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.headers().get(LOCATION).is_none());
    }
}

#[tokio::test]
async fn machine_to_machine_client_cannot_log_users_in() {
    let b = browser().await;
    // It has no callback URLs, so there is nowhere to send an error: an error page.
    let response = b.authorize(&with(implicit("s"), "client_id", M2M)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get(LOCATION).is_none());
}

#[tokio::test]
async fn unregistered_redirect_uri_is_never_redirected_to() {
    let b = browser().await;
    for redirect in [
        "https://evil.example.com/callback",
        "http://localhost:3000/callback/../evil",
        "http://localhost:3000/callback?x=1",
        "http://localhost:3000/callbackx",
        "http://localhost:3000",
        "",
    ] {
        // Even with other errors present, the callback check comes first.
        let params = with(with(implicit("s"), "redirect_uri", redirect), "nonce", "");
        let response = b.authorize(&params).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{redirect}");
        assert!(response.headers().get(LOCATION).is_none(), "{redirect}");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("Callback URL mismatch")
        );
    }
}

#[tokio::test]
async fn implicit_login_returns_tokens_in_the_fragment_with_state_unchanged() {
    let b = browser().await;
    let state = "a b&c=d/é+%20?#";
    let location = b
        .log_in(&implicit(state), "reader@example.com", "reader")
        .await;
    assert!(location.starts_with(&format!("{CALLBACK}#")), "{location}");
    let answer = answer(&location);
    assert_eq!(answer["state"], state);
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["expires_in"], "7200");
    assert_eq!(answer["scope"], "openid profile read:messages");
    let access = claims(&answer["access_token"]);
    assert_eq!(access["iss"], b.tenant.issuer());
    assert_eq!(access["sub"], "auth0|reader");
    assert_eq!(
        access["aud"],
        serde_json::json!([AUDIENCE, format!("{}userinfo", b.tenant.issuer())])
    );
    assert_eq!(access["azp"], SPA);
    assert_eq!(access["scope"], "openid profile read:messages");
    assert_eq!(access["permissions"], serde_json::json!(["read:messages"]));
    let id = claims(&answer["id_token"]);
    assert_eq!(id["aud"], SPA);
    assert_eq!(id["nonce"], "nonce-123");
    assert_eq!(id["name"], "Ada Reader");
    assert_eq!(id["at_hash"], at_hash(&answer["access_token"]));
    assert_eq!(
        header(&answer["id_token"])["kid"],
        b.tenant.signing_key().kid()
    );
}

#[tokio::test]
async fn user_without_the_permission_is_not_granted_the_scope() {
    let b = browser().await;
    let location = b.log_in(&implicit("s"), "guest@example.com", "guest").await;
    let answer = answer(&location);
    assert_eq!(answer["scope"], "openid profile");
    let access = claims(&answer["access_token"]);
    assert_eq!(access["scope"], "openid profile");
    assert_eq!(access["permissions"], serde_json::json!([]));
}

#[tokio::test]
async fn session_cookies_have_auth0s_attributes_and_skip_the_form_next_time() {
    let b = browser().await;
    let page = b.authorize(&implicit("s")).await;
    let csrf = form_csrf(&page.text().await.unwrap());
    let back = b
        .submit(&csrf, "reader@example.com", "reader", "login")
        .await;
    let set_cookie = |name: &str| {
        back.headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("a {name} cookie"))
    };
    // As Auth0's `auth0` and `auth0_compat`: one that reaches cross-site frames (silent
    // renewal), and its twin for browsers that refuse SameSite=None.
    let session_cookie = set_cookie("devtenant_session");
    for attribute in ["HttpOnly", "Secure", "SameSite=None", "Path=/"] {
        assert!(session_cookie.contains(attribute), "{session_cookie}");
    }
    let compat = set_cookie("devtenant_session_compat");
    assert!(
        compat.contains("HttpOnly") && compat.contains("Secure"),
        "{compat}"
    );
    assert!(!compat.contains("SameSite"), "{compat}");
    // Next time: straight back with tokens, no form.
    let again = b.authorize(&implicit("t")).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert!(answer(&location(&again)).contains_key("access_token"));
    // prompt=none too: that is silent authentication.
    let silent = b.authorize(&with(implicit("u"), "prompt", "none")).await;
    let silent = answer(&location(&silent));
    assert!(silent.contains_key("id_token"));
    assert_eq!(silent["state"], "u");
    // prompt=login shows the form whatever the session.
    let forced = b.authorize(&with(implicit("v"), "prompt", "login")).await;
    assert_eq!(forced.status(), StatusCode::OK);
    assert!(forced.text().await.unwrap().contains("name=\"csrf\""));
}

#[tokio::test]
async fn prompt_none_without_a_session_answers_login_required() {
    let b = browser().await;
    let response = b.authorize(&with(implicit("s"), "prompt", "none")).await;
    let answer = answer(&location(&response));
    assert_eq!(answer["error"], "login_required");
    assert_eq!(answer["state"], "s");
    assert!(!answer.contains_key("access_token"));
}

#[tokio::test]
async fn web_message_posts_the_answer_to_the_apps_origin_only() {
    let b = browser().await;
    let params = with(
        with(implicit("s"), "prompt", "none"),
        "response_mode",
        "web_message",
    );
    let response = b.authorize(&params).await;
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'sha256-"), "{csp}");
    let html = response.text().await.unwrap();
    assert!(html.contains("\"http://localhost:3000\""), "{html}");
    assert!(html.contains("login_required"));
    assert!(html.contains("authorization_response"));
    // Nothing the page's own CSP would refuse: no style, no other script.
    assert!(!html.contains("<style"), "{html}");
    assert_eq!(html.matches("<script").count(), 1, "{html}");
}

#[tokio::test]
async fn wrong_password_shows_the_form_again() {
    let b = browser().await;
    let page = b.authorize(&implicit("s")).await;
    let csrf = form_csrf(&page.text().await.unwrap());
    let again = b
        .submit(&csrf, "reader@example.com", "wrong", "login")
        .await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    let html = again.text().await.unwrap();
    assert!(html.contains("Wrong email or password"));
    // The same form still works with the right password.
    let back = b
        .submit(&form_csrf(&html), "reader@example.com", "reader", "login")
        .await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn login_form_is_csrf_protected() {
    let b = browser().await;
    let page = b.authorize(&implicit("s")).await;
    let csrf = form_csrf(&page.text().await.unwrap());
    let forged = b
        .submit("not-the-token", "reader@example.com", "reader", "login")
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // Another browser (no login cookie) with the right token is refused too.
    let other = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = other
        .post(b.url("u/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "reader@example.com"),
            ("password", "reader"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn cancel_answers_access_denied() {
    let b = browser().await;
    let page = b.authorize(&implicit("s")).await;
    let csrf = form_csrf(&page.text().await.unwrap());
    let back = b.submit(&csrf, "", "", "cancel").await;
    let answer = answer(&location(&back));
    assert_eq!(answer["error"], "access_denied");
    assert_eq!(answer["state"], "s");
}

#[tokio::test]
async fn bad_requests_are_redirected_back_with_an_error() {
    let b = browser().await;
    for (params, error) in [
        (with(implicit("s"), "nonce", ""), "invalid_request"),
        (
            with(implicit("s"), "response_type", "token code id_token x"),
            "unsupported_response_type",
        ),
        (
            with(implicit("s"), "response_mode", "query"),
            "invalid_request",
        ),
        (
            with(implicit("s"), "response_mode", "form_post"),
            "invalid_request",
        ),
        (
            with(implicit("s"), "audience", "https://other.example.com"),
            "access_denied",
        ),
        (
            with(code_flow("s"), "code_challenge", ""),
            "invalid_request",
        ),
        (
            with(code_flow("s"), "code_challenge_method", "plain"),
            "invalid_request",
        ),
        (
            with(implicit("s"), "nonce", &"n".repeat(4097)),
            "invalid_request",
        ),
    ] {
        let response = b.authorize(&params).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{params:?}");
        let location = location(&response);
        assert!(location.starts_with(CALLBACK), "{location}");
        let answer = answer(&location);
        assert_eq!(answer["error"], error, "{params:?}");
        assert_eq!(answer["state"], "s");
        assert!(!answer["error_description"].is_empty());
    }
}

#[tokio::test]
async fn code_flow_with_pkce_issues_tokens_once() {
    let b = browser().await;
    let location = b
        .log_in(&code_flow("s"), "reader@example.com", "reader")
        .await;
    assert!(location.starts_with(&format!("{CALLBACK}?")), "{location}");
    let answer = answer(&location);
    assert_eq!(answer["state"], "s");
    let code = answer["code"].clone();
    let exchange = code_exchange(&code, CALLBACK, VERIFIER);
    let (status, tokens) = b.token(&exchange).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["aud"][0],
        AUDIENCE
    );
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["nonce"],
        "nonce-123"
    );
    assert!(tokens["refresh_token"].is_string());
    // Single use.
    let (status, error) = b.token(&exchange).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error["error"], "invalid_grant");
}

#[tokio::test]
async fn code_exchange_checks_the_verifier_and_redirect_uri() {
    let b = browser().await;
    let wrong_verifier = "x".repeat(43);
    for (verifier, redirect) in [
        (wrong_verifier.as_str(), CALLBACK),
        ("", CALLBACK),
        (VERIFIER, "http://127.0.0.1:3000/callback"),
    ] {
        let location = b
            .log_in(&code_flow("s"), "reader@example.com", "reader")
            .await;
        let code = answer(&location)["code"].clone();
        let attempt = code_exchange(&code, redirect, verifier);
        let (status, error) = b.token(&attempt).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{verifier} {redirect}");
        assert_eq!(error["error"], "invalid_grant");
        // A failed attempt spends the code: the right verifier is too late now.
        let retry = code_exchange(&code, CALLBACK, VERIFIER);
        assert_eq!(b.token(&retry).await.0, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn refresh_tokens_rotate() {
    let b = browser().await;
    let location = b
        .log_in(&code_flow("s"), "reader@example.com", "reader")
        .await;
    let code = answer(&location)["code"].clone();
    let (_, tokens) = b.token(&code_exchange(&code, CALLBACK, VERIFIER)).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, renewed) = b
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", SPA),
            ("refresh_token", &refresh),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    assert_ne!(renewed["refresh_token"].as_str().unwrap(), refresh);
    let (status, error) = b
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", SPA),
            ("refresh_token", &refresh),
        ])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error["error"], "invalid_grant");
    // The reuse revoked the whole family: the token the first refresh gave is dead too.
    let successor = renewed["refresh_token"].as_str().unwrap();
    let (status, error) = b
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", SPA),
            ("refresh_token", successor),
        ])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
    assert_eq!(error["error"], "invalid_grant");
}

#[tokio::test]
async fn a_parameter_sent_twice_is_refused() {
    let b = browser().await;
    let location = b
        .log_in(&code_flow("s"), "reader@example.com", "reader")
        .await;
    let code = answer(&location)["code"].clone();
    let other_verifier = "x".repeat(43);
    let mut twice = code_exchange(&code, CALLBACK, VERIFIER);
    twice.push(("code_verifier", &other_verifier));
    let (status, error) = b.token(&twice).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"], "invalid_request");
    let mut twice = implicit("s");
    twice.push(("state", "t".into()));
    let page = b.authorize(&twice).await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page.headers().get(LOCATION).is_none());
}

#[tokio::test]
async fn a_login_with_prompt_login_ends_the_previous_session() {
    let b = browser().await;
    b.log_in(&implicit("s"), "reader@example.com", "reader")
        .await;
    let old_cookie = session_cookie(&b).await;
    let forced = b.authorize(&with(implicit("t"), "prompt", "login")).await;
    let csrf = form_csrf(&forced.text().await.unwrap());
    let back = b.submit(&csrf, "guest@example.com", "guest", "login").await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    // The browser that still holds the old cookie is not logged in any more.
    let stale = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let silent = stale
        .get(b.url("authorize"))
        .query(&with(implicit("u"), "prompt", "none"))
        .header("cookie", old_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(answer(&location(&silent))["error"], "login_required");
}

/// The session cookie the tenant set in `b`, as a `Cookie` header value.
async fn session_cookie(b: &Browser) -> String {
    use reqwest::cookie::CookieStore as _;
    let url = b.url("").parse().unwrap();
    let cookies = b.jar.cookies(&url).expect("cookies");
    cookies
        .to_str()
        .unwrap()
        .split("; ")
        .find(|c| c.starts_with("devtenant_session="))
        .expect("a session cookie")
        .to_owned()
}

#[tokio::test]
async fn a_login_form_accepts_a_few_wrong_passwords_only() {
    let b = browser().await;
    let page = b.authorize(&implicit("s")).await;
    let csrf = form_csrf(&page.text().await.unwrap());
    for _ in 1..5 {
        let again = b
            .submit(&csrf, "reader@example.com", "wrong", "login")
            .await;
        assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    }
    let blocked = b
        .submit(&csrf, "reader@example.com", "wrong", "login")
        .await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    // The transaction is over: even the right password needs a new login.
    let late = b
        .submit(&csrf, "reader@example.com", "reader", "login")
        .await;
    assert_eq!(late.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn client_credentials_needs_the_secret_and_an_audience() {
    let b = browser().await;
    let (status, tokens) = b
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", M2M),
            ("client_secret", M2M_SECRET),
            ("audience", AUDIENCE),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["sub"], format!("{M2M}@clients"));
    assert_eq!(access["aud"], AUDIENCE);
    assert_eq!(access["scope"], "read:messages");
    assert_eq!(access["gty"], "client-credentials");
    // HTTP Basic works as well as the form.
    let basic = b
        .client
        .post(b.url("oauth/token"))
        .basic_auth(M2M, Some(M2M_SECRET))
        .form(&[("grant_type", "client_credentials"), ("audience", AUDIENCE)])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::OK);
    // So does JSON.
    let json = b
        .client
        .post(b.url("oauth/token"))
        .json(&serde_json::json!({"grant_type": "client_credentials", "client_id": M2M, "client_secret": M2M_SECRET, "audience": AUDIENCE}))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::OK);
    for (form, status, error) in [
        (
            vec![("client_secret", "wrong"), ("audience", AUDIENCE)],
            401,
            "invalid_client",
        ),
        (vec![("client_secret", M2M_SECRET)], 403, "access_denied"),
        (
            vec![("client_secret", M2M_SECRET), ("audience", "https://nope")],
            403,
            "access_denied",
        ),
    ] {
        let mut request = vec![("grant_type", "client_credentials"), ("client_id", M2M)];
        request.extend(form);
        let (got, body) = b.token(&request).await;
        assert_eq!(got.as_u16(), status, "{body}");
        assert_eq!(body["error"], error);
    }
    let (status, body) = b
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", SPA),
            ("audience", AUDIENCE),
        ])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "unauthorized_client");
    let (status, body) = b
        .token(&[("grant_type", "password"), ("client_id", SPA)])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn without_audience_the_access_token_is_opaque_and_only_good_for_userinfo() {
    let b = browser().await;
    let location = b
        .log_in(
            &with(implicit("s"), "audience", ""),
            "reader@example.com",
            "reader",
        )
        .await;
    let answer = answer(&location);
    let token = &answer["access_token"];
    assert_ne!(
        token.split('.').count(),
        3,
        "an opaque token is not a JWT: {token}"
    );
    let profile: Value = b.userinfo(token).await.json().await.unwrap();
    assert_eq!(profile["sub"], "auth0|reader");
    assert_eq!(profile["name"], "Ada Reader");
}

#[tokio::test]
async fn userinfo_takes_the_jwt_access_token_and_refuses_others() {
    let b = browser().await;
    let location = b
        .log_in(&implicit("s"), "reader@example.com", "reader")
        .await;
    let answer = answer(&location);
    let profile: Value = b
        .userinfo(&answer["access_token"])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(profile["sub"], "auth0|reader");
    assert_eq!(profile["nickname"], "ada");
    assert_eq!(
        b.userinfo(&answer["access_token"]).await.headers()["cache-control"],
        "no-store"
    );
    for bad in [answer["id_token"].as_str(), "garbage", "a.b.c"] {
        let response = b.userinfo(bad).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{bad}");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );
    }
}

#[tokio::test]
async fn logout_returns_only_to_allowed_urls_and_ends_the_session() {
    let b = browser().await;
    b.log_in(&implicit("s"), "reader@example.com", "reader")
        .await;
    let logout = |return_to: &'static str, client: &'static str| {
        b.client
            .get(b.url("v2/logout"))
            .query(&[("client_id", client), ("returnTo", return_to)])
            .send()
    };
    for (return_to, client) in [
        ("https://evil.example.com", SPA),
        ("http://localhost:3000", "nobody"),
    ] {
        let refused = logout(return_to, client).await.unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert!(refused.headers().get(LOCATION).is_none());
    }
    // Refused logouts left the session alone.
    let silent = b.authorize(&with(implicit("t"), "prompt", "none")).await;
    assert!(answer(&location(&silent)).contains_key("access_token"));
    let done = logout("http://localhost:3000", SPA).await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "http://localhost:3000");
    let silent = b.authorize(&with(implicit("u"), "prompt", "none")).await;
    assert_eq!(answer(&location(&silent))["error"], "login_required");
}

/// RP-Initiated Logout 1.0, as Auth0's `/oidc/logout`: the same allow-list as `/v2/logout`,
/// and `state` handed back to the app.
#[tokio::test]
async fn oidc_logout_hands_the_state_back_and_ends_the_session() {
    let b = browser().await;
    b.log_in(&implicit("s"), "reader@example.com", "reader")
        .await;
    let discovery: serde_json::Value = b
        .client
        .get(b.url(".well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["end_session_endpoint"], b.url("oidc/logout"));
    let logout = |to: &'static str| {
        b.client
            .get(b.url("oidc/logout"))
            .query(&[("client_id", SPA), ("post_logout_redirect_uri", to)])
            .query(&[("state", "the app's state")])
            .send()
    };
    let refused = logout("https://evil.example.com/").await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.headers().get(LOCATION).is_none());
    let done = logout("http://localhost:3000/").await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&done),
        "http://localhost:3000/?state=the+app%27s+state"
    );
    let silent = b.authorize(&with(implicit("u"), "prompt", "none")).await;
    assert_eq!(answer(&location(&silent))["error"], "login_required");
}

#[tokio::test]
async fn rotated_keys_sign_new_tokens_and_the_old_key_stays_published_until_revoked() {
    let b = browser().await;
    let tenant = &b.tenant;
    let old = tenant.signing_key().kid().to_owned();
    let new = tenant.rotate_key().kid().to_owned();
    let location = b
        .log_in(&implicit("s"), "reader@example.com", "reader")
        .await;
    assert_eq!(header(&answer(&location)["access_token"])["kid"], new);
    let kids = |jwks: Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let jwks: Value = b.get_json(".well-known/jwks.json").await;
    assert_eq!(kids(jwks), [new.clone(), old.clone()]);
    assert_eq!(tenant.revoke_previous_keys(), [old]);
    let jwks: Value = b.get_json(".well-known/jwks.json").await;
    assert_eq!(kids(jwks), [new]);
}

#[tokio::test]
async fn login_page_lists_the_demo_users_and_needs_no_javascript() {
    let b = browser().await;
    let page = b.authorize(&implicit("s")).await;
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    // The form posts here and its answer redirects to this app's callback, nowhere else.
    assert!(
        csp.contains("form-action 'self' http://localhost:3000;"),
        "{csp}"
    );
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains("reader@example.com") && html.contains("guest@example.com"));
    assert!(!html.contains("<script"));
    assert!(html.contains("<form method=\"post\" action=\"/u/login\""));
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
