//! Logging a user in at `/authorize`: discovery and keys, who may be sent where, the login
//! form (CSRF, wrong passwords, cancel), the session cookie, `prompt`, and `web_message`.

use super::*;

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
    let set_cookie = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("a {name} cookie"))
    };
    // The login form's transaction lasts ten minutes.
    let login_cookie = set_cookie(&page, "devtenant_login");
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Max-Age=600"] {
        assert!(login_cookie.contains(attribute), "{login_cookie}");
    }
    let csrf = form_csrf(&page.text().await.unwrap());
    let back = b
        .submit(&csrf, "reader@example.com", "reader", "login")
        .await;
    let set_cookie = |name: &str| set_cookie(&back, name);
    // As Auth0's `auth0` and `auth0_compat`: one that reaches cross-site frames (silent
    // renewal), and its twin for browsers that refuse SameSite=None; both for Auth0's
    // default idle session lifetime, three days.
    let session_cookie = set_cookie("devtenant_session");
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=None",
        "Path=/",
        "Max-Age=259200",
    ] {
        assert!(session_cookie.contains(attribute), "{session_cookie}");
    }
    let compat = set_cookie("devtenant_session_compat");
    assert!(
        compat.contains("HttpOnly")
            && compat.contains("Secure")
            && compat.contains("Max-Age=259200"),
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
    assert_eq!(
        error["error_description"],
        "The parameter code_verifier is sent more than once"
    );
    let mut twice = implicit("s");
    twice.push(("state", "t".into()));
    let page = b.authorize(&twice).await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page.headers().get(LOCATION).is_none());
    let text = page.text().await.unwrap();
    assert!(
        text.contains("The parameter state is sent more than once: send each parameter once."),
        "{text}"
    );
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
