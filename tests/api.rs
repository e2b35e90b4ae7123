//! The API's endpoints and token rules, end to end over HTTP, against a mock tenant.

use integration_tests::*;
use serde_json::{Value, json};
use shared::Message;

async fn message_of(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 200);
    response.json::<Message>().await.unwrap().message
}

async fn assert_invalid_token(app: &TestApp, token: &str, words: &str) {
    let answer = error_answer(app.get("/api/private", Some(token)).await).await;
    assert_eq!(answer.status, 401, "{}", answer.body.message);
    assert_eq!(answer.body.error, "invalid_token");
    let challenge = answer.challenge.unwrap();
    assert!(
        challenge
            .starts_with("Bearer realm=\"api\", error=\"invalid_token\", error_description=\""),
        "{challenge}"
    );
    assert!(
        answer.body.message.contains(words),
        "expected {words:?} in {:?}",
        answer.body.message
    );
}

#[tokio::test]
async fn public_returns_its_message_without_a_token() {
    let (app, _tenant) = spawn_app().await;
    assert_eq!(
        message_of(app.get("/api/public", None).await).await,
        Message::PUBLIC
    );
}

#[tokio::test]
async fn healthz_returns_200() {
    let (app, _tenant) = spawn_app().await;
    assert_eq!(app.get("/healthz", None).await.status(), 200);
}

#[tokio::test]
async fn private_returns_200_with_a_valid_token() {
    let (app, tenant) = spawn_app().await;
    let token = KEY.sign(&claims(tenant.issuer()));
    assert_eq!(
        message_of(app.get("/api/private", Some(&token)).await).await,
        Message::PRIVATE
    );
}

#[tokio::test]
async fn private_scoped_returns_200_with_read_messages() {
    let (app, tenant) = spawn_app().await;
    let token = KEY.sign(&claims(tenant.issuer()));
    assert_eq!(
        message_of(app.get("/api/private-scoped", Some(&token)).await).await,
        Message::PRIVATE_SCOPED
    );
}

#[tokio::test]
async fn private_scoped_returns_200_with_the_rbac_permission() {
    let (app, tenant) = spawn_app().await;
    let token = KEY.sign(&claims_with(
        tenant.issuer(),
        &[
            ("scope", json!("openid profile")),
            ("permissions", json!(["read:messages"])),
        ],
    ));
    assert_eq!(
        message_of(app.get("/api/private-scoped", Some(&token)).await).await,
        Message::PRIVATE_SCOPED
    );
}

#[tokio::test]
async fn private_scoped_returns_403_without_read_messages() {
    let (app, tenant) = spawn_app().await;
    for scope in ["openid profile", "read:messages:all", "Read:Messages", ""] {
        let token = KEY.sign(&claims_with(tenant.issuer(), &[("scope", json!(scope))]));
        let answer = error_answer(app.get("/api/private-scoped", Some(&token)).await).await;
        assert_eq!(answer.status, 403, "{scope}");
        assert_eq!(answer.body.error, "insufficient_scope");
        assert!(answer.body.message.contains("read:messages"));
        let challenge = answer.challenge.unwrap();
        assert!(
            challenge.contains("error=\"insufficient_scope\""),
            "{challenge}"
        );
        assert!(challenge.contains("scope=\"read:messages\""), "{challenge}");
        // The same token is good enough for the private endpoint.
        assert_eq!(app.get("/api/private", Some(&token)).await.status(), 200);
    }
}

#[tokio::test]
async fn private_scoped_returns_401_not_403_for_an_invalid_token() {
    let (app, tenant) = spawn_app().await;
    let expired = KEY.sign(&claims_with(
        tenant.issuer(),
        &[("exp", json!(now() - 3600)), ("scope", json!("openid"))],
    ));
    let answer = error_answer(app.get("/api/private-scoped", Some(&expired)).await).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body.error, "invalid_token");
}

#[tokio::test]
async fn no_token_gets_a_bare_bearer_challenge() {
    let (app, _tenant) = spawn_app().await;
    for path in ["/api/private", "/api/private-scoped"] {
        let answer = error_answer(app.get(path, None).await).await;
        assert_eq!(answer.status, 401);
        assert_eq!(answer.challenge.as_deref(), Some("Bearer realm=\"api\""));
        assert!(answer.body.message.contains("Authorization: Bearer"));
    }
}

#[tokio::test]
async fn tokens_are_taken_only_from_the_authorization_header() {
    let (app, tenant) = spawn_app().await;
    let token = KEY.sign(&claims(tenant.issuer()));
    let in_query = app
        .client
        .get(format!("{}/api/private?access_token={token}", app.base))
        .send()
        .await
        .unwrap();
    let answer = error_answer(in_query).await;
    assert_eq!(answer.status, 401);
    assert!(answer.body.message.contains("URL"));
    let in_cookie = app
        .client
        .get(format!("{}/api/private", app.base))
        .header("cookie", format!("access_token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(in_cookie.status(), 401);
    let in_body = app
        .client
        .get(format!("{}/api/private", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("access_token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(in_body.status(), 401);
}

#[tokio::test]
async fn scheme_is_case_insensitive_and_other_schemes_are_not_credentials() {
    let (app, tenant) = spawn_app().await;
    let token = KEY.sign(&claims(tenant.issuer()));
    let send = |value: String| {
        app.client
            .get(format!("{}/api/private", app.base))
            .header("authorization", value)
            .send()
    };
    assert_eq!(send(format!("bearer {token}")).await.unwrap().status(), 200);
    assert_eq!(send(format!("BEARER {token}")).await.unwrap().status(), 200);
    let basic = error_answer(send("Basic dXNlcjpwYXNz".into()).await.unwrap()).await;
    assert_eq!(basic.status, 401);
    assert_eq!(basic.challenge.as_deref(), Some("Bearer realm=\"api\""));
}

#[tokio::test]
async fn two_authorization_headers_are_a_bad_request() {
    let (app, tenant) = spawn_app().await;
    let token = KEY.sign(&claims(tenant.issuer()));
    let response = app
        .client
        .get(format!("{}/api/private", app.base))
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    let answer = error_answer(response).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.body.error, "invalid_request");
    assert!(
        answer
            .challenge
            .unwrap()
            .contains("error=\"invalid_request\"")
    );
}

#[tokio::test]
async fn expired_token_is_refused_but_leeway_is_honoured() {
    let (app, tenant) = spawn_app().await;
    let iss = tenant.issuer().to_owned();
    let expired = KEY.sign(&claims_with(&iss, &[("exp", json!(now() - 60))]));
    assert_invalid_token(&app, &expired, "expired").await;
    // Expired 2 s ago, within the 5 s leeway.
    let skewed = KEY.sign(&claims_with(&iss, &[("exp", json!(now() - 2))]));
    assert_eq!(app.get("/api/private", Some(&skewed)).await.status(), 200);
}

#[tokio::test]
async fn token_not_yet_valid_is_refused() {
    let (app, tenant) = spawn_app().await;
    let iss = tenant.issuer().to_owned();
    let future = KEY.sign(&claims_with(&iss, &[("nbf", json!(now() + 600))]));
    assert_invalid_token(&app, &future, "not valid yet").await;
    let skewed = KEY.sign(&claims_with(&iss, &[("nbf", json!(now() + 2))]));
    assert_eq!(app.get("/api/private", Some(&skewed)).await.status(), 200);
}

#[tokio::test]
async fn token_from_another_issuer_is_refused() {
    let (app, _tenant) = spawn_app().await;
    for iss in ["https://evil.example.com/", "http://127.0.0.1:1/"] {
        let token = KEY.sign(&claims(iss));
        assert_invalid_token(&app, &token, "another tenant").await;
    }
}

#[tokio::test]
async fn audience_may_be_a_string_or_an_array() {
    let (app, tenant) = spawn_app().await;
    let iss = tenant.issuer().to_owned();
    for aud in [
        json!(AUDIENCE),
        json!([AUDIENCE]),
        json!(["other", AUDIENCE]),
    ] {
        let token = KEY.sign(&claims_with(&iss, &[("aud", aud.clone())]));
        assert_eq!(
            app.get("/api/private", Some(&token)).await.status(),
            200,
            "{aud}"
        );
    }
}

#[tokio::test]
async fn token_for_another_api_asks_for_this_audience() {
    let (app, tenant) = spawn_app().await;
    let token = KEY.sign(&claims_with(
        tenant.issuer(),
        &[("aud", json!("https://other-api.example.com"))],
    ));
    assert_invalid_token(&app, &token, &format!("audience={AUDIENCE}")).await;
}

#[tokio::test]
async fn id_token_sent_instead_of_the_access_token_is_named() {
    let (app, tenant) = spawn_app().await;
    let iss = tenant.issuer().to_owned();
    let id_token = KEY.sign(&json!({
        "iss": iss, "sub": "auth0|1", "aud": CLIENT_ID, "exp": now() + 3600,
        "iat": now(), "nonce": "n-0S6_WzA2Mj", "name": "Ada",
    }));
    assert_invalid_token(&app, &id_token, "send the access token, not the ID token").await;
}

#[tokio::test]
async fn opaque_token_asks_for_an_audience() {
    let (app, _tenant) = spawn_app().await;
    for token in [
        "8mOZ3vD0HqQZOuG1Lr1Ss7QLR0F-Cz3o",
        "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..iv.ct.tag",
    ] {
        assert_invalid_token(&app, token, "audience").await;
    }
}

#[tokio::test]
async fn missing_null_or_mistyped_core_claims_are_refused() {
    let (app, tenant) = spawn_app().await;
    let iss = tenant.issuer().to_owned();
    for claim in ["iss", "aud", "exp", "sub"] {
        let token = KEY.sign(&claims_without(&iss, &[claim]));
        assert_invalid_token(&app, &token, claim).await;
        for bad in [json!(null), json!({"x": 1}), json!(true)] {
            let token = KEY.sign(&claims_with(&iss, &[(claim, bad)]));
            assert_invalid_token(&app, &token, "").await;
        }
    }
    let string_exp = KEY.sign(&claims_with(&iss, &[("exp", json!("9999999999"))]));
    assert_invalid_token(&app, &string_exp, "exp").await;
    let array_scope = KEY.sign(&claims_with(&iss, &[("scope", json!(["read:messages"]))]));
    assert_invalid_token(&app, &array_scope, "").await;
}

#[tokio::test]
async fn absurd_numbers_never_crash_the_server() {
    let (app, tenant) = spawn_app().await;
    let iss = tenant.issuer().to_owned();
    for exp in [
        json!(-1),
        json!(1e300),
        json!(-1e300),
        json!(1.8446744073709552e19),
        json!(0),
    ] {
        let token = KEY.sign(&claims_with(&iss, &[("exp", exp.clone())]));
        assert_invalid_token(&app, &token, "").await;
    }
    for nbf in [json!(u64::MAX), json!(1e300)] {
        let token = KEY.sign(&claims_with(&iss, &[("nbf", nbf.clone())]));
        assert_invalid_token(&app, &token, "").await;
    }
    let header = json!({"alg": "RS256", "kid": KEY.kid()});
    let claims_text = claims(&iss).to_string();
    for huge in ["99999999999999999999999999", "1e999", "-0"] {
        let payload = claims_text.replacen("\"exp\":", &format!("\"exp\":{huge},\"was\":"), 1);
        assert_invalid_token(&app, &KEY.sign_payload(&header, &payload), "").await;
    }
    // The largest exp there is is a valid, if silly, expiry: no overflow on the way.
    let forever = KEY.sign(&claims_with(&iss, &[("exp", json!(u64::MAX))]));
    assert_eq!(app.get("/api/private", Some(&forever)).await.status(), 200);
    assert_eq!(app.get("/healthz", None).await.status(), 200);
}

#[tokio::test]
async fn altered_payload_or_foreign_key_fails_the_signature() {
    let (app, tenant) = spawn_app().await;
    let iss = tenant.issuer().to_owned();
    let token = KEY.sign(&claims_with(&iss, &[("scope", json!("openid"))]));
    let parts: Vec<&str> = token.split('.').collect();
    let escalated = format!("{}.{}.{}", parts[0], b64_json(&claims(&iss)), parts[2]);
    assert_invalid_token(&app, &escalated, "signature").await;
    // The attacker's key, claiming the tenant's kid.
    let forged = ATTACKER_KEY.sign_with_header(
        &json!({"alg": "RS256", "typ": "JWT", "kid": KEY.kid()}),
        &claims(&iss),
    );
    assert_invalid_token(&app, &forged, "signature").await;
}

#[tokio::test]
async fn algorithm_confusion_and_unsigned_tokens_are_refused() {
    let (app, tenant) = spawn_app().await;
    let iss = tenant.issuer().to_owned();
    let body = b64_json(&claims(&iss));
    // alg=none, with and without a signature part.
    let header = b64_json(&json!({"alg": "none", "kid": KEY.kid()}));
    assert_invalid_token(&app, &format!("{header}.{body}."), "unsigned").await;
    // HS256 "signed" with the tenant's public key as the HMAC secret.
    let header = b64_json(&json!({"alg": "HS256", "typ": "JWT", "kid": KEY.kid()}));
    let message = format!("{header}.{body}");
    let mac = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &KEY.modulus()),
        message.as_bytes(),
    );
    use base64::Engine as _;
    let forged = format!(
        "{message}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.as_ref())
    );
    assert_invalid_token(&app, &forged, "RS256").await;
    // PS256 and ES256 headers over a real RS256 signature.
    for alg in ["PS256", "ES256", "RS512"] {
        let token = KEY.sign_with_header(&json!({"alg": alg, "kid": KEY.kid()}), &claims(&iss));
        assert_invalid_token(&app, &token, "RS256").await;
    }
}

#[tokio::test]
async fn keys_offered_by_the_token_are_never_used_or_fetched() {
    let (app, tenant) = spawn_app().await;
    let iss = tenant.issuer().to_owned();
    let attacker = spawn_tenant(&[&ATTACKER_KEY]).await;
    let header = json!({
        "alg": "RS256",
        "kid": ATTACKER_KEY.kid(),
        "jwk": ATTACKER_KEY.jwk(),
        "jku": format!("{}.well-known/jwks.json", attacker.issuer()),
        "x5u": format!("{}cert.pem", attacker.issuer()),
    });
    let token = ATTACKER_KEY.sign_with_header(&header, &claims(&iss));
    assert_invalid_token(&app, &token, "").await;
    assert_eq!(attacker.jwks_fetches(), 0);
}

#[tokio::test]
async fn critical_header_extensions_are_refused() {
    let (app, tenant) = spawn_app().await;
    let header = json!({"alg": "RS256", "kid": KEY.kid(), "crit": ["b64"], "b64": false});
    let token = KEY.sign_with_header(&header, &claims(tenant.issuer()));
    assert_invalid_token(&app, &token, "crit").await;
}

#[tokio::test]
async fn jwks_keys_that_are_not_rsa_signing_keys_are_never_used() {
    for (field, value) in [
        ("use", json!("enc")),
        ("alg", json!("RS512")),
        ("kty", json!("oct")),
    ] {
        let mut unusable = KEY.jwk();
        unusable[field] = value;
        let tenant = spawn_tenant(&[&KEY]).await;
        tenant.set_jwks_behaviour(JwksBehaviour::Publish(
            json!({"keys": [unusable, ROTATED_KEY.jwk()]}),
        ));
        let app = spawn_app_for(tenant.issuer(), AppOptions::default()).await;
        let token = KEY.sign(&claims(tenant.issuer()));
        assert_invalid_token(&app, &token, "unknown kid").await;
        let rotated = ROTATED_KEY.sign(&claims(tenant.issuer()));
        assert_eq!(app.get("/api/private", Some(&rotated)).await.status(), 200);
    }
}

#[tokio::test]
async fn error_bodies_never_leak_library_errors() {
    let (app, tenant) = spawn_app().await;
    let iss = tenant.issuer().to_owned();
    let tokens = [
        "x.y.z".to_owned(),
        KEY.sign(&json!("not an object")),
        KEY.sign(&claims_with(&iss, &[("exp", json!(now() - 100))])),
        format!(
            "{}.{}.AAAA",
            b64_json(&json!({"alg":"RS256","kid":KEY.kid()})),
            b64_json(&claims(&iss))
        ),
    ];
    for token in tokens {
        let response = app.get("/api/private", Some(&token)).await;
        let text = response.text().await.unwrap();
        let body: Value = serde_json::from_str(&text).unwrap();
        let message = body["message"].as_str().unwrap();
        for leak in [
            "Error",
            "ErrorKind",
            "jsonwebtoken",
            "serde",
            "/src/",
            "panicked",
        ] {
            assert!(!message.contains(leak), "{message}");
        }
    }
}

#[tokio::test]
async fn cors_allows_only_the_configured_origin() {
    let (app, _tenant) = spawn_app().await;
    let preflight = |origin: &'static str| {
        app.client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/private", app.base),
            )
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let allowed = preflight(ALLOWED_ORIGIN).await.unwrap();
    let headers = allowed.headers();
    assert_eq!(headers["access-control-allow-origin"], ALLOWED_ORIGIN);
    assert!(
        headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    let denied = preflight("https://evil.example.com").await.unwrap();
    assert!(
        denied
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let simple = app
        .client
        .get(format!("{}/api/public", app.base))
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(
        simple
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn responses_carry_security_headers() {
    let (app, _tenant) = spawn_app().await;
    for path in ["/api/public", "/api/private", "/nowhere"] {
        let response = app.get(path, None).await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
    }
    let missing = error_answer(app.get("/nowhere", None).await).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body.error, "not_found");
}

#[tokio::test]
async fn built_spa_is_served_with_deep_links_and_a_strict_csp() {
    let dist = std::env::temp_dir().join(format!("spa-dist-{}", std::process::id()));
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join("index.html"), "<!doctype html><title>spa</title>").unwrap();
    std::fs::write(dist.join("app.js"), "export {}").unwrap();
    let tenant = spawn_tenant(&[&KEY]).await;
    let options = AppOptions {
        spa_dir: Some(dist.clone()),
        ..AppOptions::default()
    };
    let app = spawn_app_for(tenant.issuer(), options).await;
    for path in ["/", "/ping", "/profile", "/callback"] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), 200, "{path}");
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("script-src 'self' 'wasm-unsafe-eval';"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains(tenant.issuer().trim_end_matches('/')), "{csp}");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("<title>spa</title>")
        );
    }
    let script = app.get("/app.js", None).await;
    assert_eq!(script.text().await.unwrap(), "export {}");
    let missing = error_answer(app.get("/api/nope", None).await).await;
    assert_eq!(missing.status, 404);
    assert_eq!(app.get("/api/public", None).await.status(), 200);
    assert_eq!(app.get("/auth_config.json", None).await.status(), 200);
}
