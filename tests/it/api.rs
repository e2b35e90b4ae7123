//! The API's endpoints and token rules, end to end over HTTP, against the development tenant:
//! what each persona gets, and every token the API must refuse, with the reason it gives.

use api::ApiError;
use api::auth::TokenRejection;
use integration_tests::*;
use serde_json::{Value, json};
use shared::Message;
use shared::oauth::BearerError;

async fn message_of(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 200);
    response.json::<Message>().await.unwrap().message
}

/// `token` on `/api/private` is refused with `rejection`: 401, `invalid_token`, the
/// challenge, and the rejection's own sentence.
async fn assert_refused(app: &TestApp, token: &str, rejection: TokenRejection) {
    let answer = assert_invalid_token(app, token).await;
    assert_eq!(answer.body.message, rejection.to_string());
}

/// `token` on `/api/private` is an `invalid_token`, whatever the reason.
async fn assert_invalid_token(app: &TestApp, token: &str) -> ErrorAnswer {
    let answer = error_answer(app.get("/api/private", Some(token)).await).await;
    assert_eq!(answer.status, 401, "{}", answer.body.message);
    assert_eq!(answer.body.error, "invalid_token");
    let challenge = answer.challenge.as_deref().unwrap();
    assert!(
        challenge
            .starts_with("Bearer realm=\"api\", error=\"invalid_token\", error_description=\""),
        "{challenge}"
    );
    answer
}

#[tokio::test]
async fn anyone_gets_the_public_message_and_health() {
    let app = TestApp::spawn().await;
    assert_eq!(
        message_of(app.get("/api/public", None).await).await,
        Message::PUBLIC
    );
    assert_eq!(app.get("/healthz", None).await.status(), 200);
}

#[tokio::test]
async fn the_reader_gets_all_three_answers() {
    let app = TestApp::spawn().await;
    let reader = app.reader().await;
    for (path, message) in [
        ("/api/public", Message::PUBLIC),
        ("/api/private", Message::PRIVATE),
        ("/api/private-scoped", Message::PRIVATE_SCOPED),
    ] {
        assert_eq!(message_of(reader.get(path).await).await, message, "{path}");
    }
}

#[tokio::test]
async fn the_guest_gets_403_on_the_scoped_endpoint_naming_the_scope() {
    let app = TestApp::spawn().await;
    let guest = app.guest().await;
    assert_eq!(guest.get("/api/private").await.status(), 200);
    let answer = error_answer(guest.get("/api/private-scoped").await).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.body.error, "insufficient_scope");
    assert_eq!(
        answer.body.message,
        ApiError::InsufficientScope("read:messages").to_string()
    );
    let challenge = answer.challenge.unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"read:messages\""), "{challenge}");
}

#[tokio::test]
async fn the_machine_to_machine_client_calls_the_scoped_endpoint() {
    let app = TestApp::spawn().await;
    let m2m = app.m2m().await;
    assert_eq!(
        message_of(m2m.get("/api/private-scoped").await).await,
        Message::PRIVATE_SCOPED
    );
}

#[tokio::test]
async fn scope_is_read_from_scope_or_rbac_permissions_exactly() {
    let app = TestApp::spawn().await;
    let rbac = app.token(&[
        ("scope", json!("openid profile")),
        ("permissions", json!(["read:messages"])),
    ]);
    assert_eq!(
        app.get("/api/private-scoped", Some(&rbac)).await.status(),
        200
    );
    for scope in ["openid profile", "read:messages:all", "Read:Messages", ""] {
        let token = app.token(&[("scope", json!(scope))]);
        let answer = error_answer(app.get("/api/private-scoped", Some(&token)).await).await;
        assert_eq!(answer.status, 403, "{scope}");
        // The same token is good enough for the private endpoint.
        assert_eq!(app.get("/api/private", Some(&token)).await.status(), 200);
    }
}

#[tokio::test]
async fn an_invalid_token_is_a_401_before_any_403() {
    let app = TestApp::spawn().await;
    let expired = app.token(&[("exp", json!(now() - 3600)), ("scope", json!("openid"))]);
    let answer = error_answer(app.get("/api/private-scoped", Some(&expired)).await).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body.message, TokenRejection::Expired.to_string());
}

/// With `DPOP=allowed` (the default) a request without credentials is told both schemes
/// (RFC 9449 §7.1), with the proof algorithms the API takes.
const BOTH_CHALLENGES: &str =
    "Bearer realm=\"api\", DPoP realm=\"api\", algs=\"ES256 EdDSA PS256 RS256\"";

#[tokio::test]
async fn no_token_gets_bare_bearer_and_dpop_challenges() {
    let app = TestApp::spawn().await;
    for path in ["/api/private", "/api/private-scoped"] {
        let answer = error_answer(app.get(path, None).await).await;
        assert_eq!(answer.status, 401);
        assert_eq!(answer.challenge.as_deref(), Some(BOTH_CHALLENGES));
        assert_eq!(
            answer.body.message,
            ApiError::Credentials(BearerError::Missing).to_string()
        );
    }
}

#[tokio::test]
async fn tokens_are_taken_only_from_the_authorization_header() {
    let app = TestApp::spawn().await;
    let token = app.reader().await.access_token;
    let private = format!("{}/api/private", app.base);
    let in_query = app
        .client
        .get(format!("{private}?access_token={token}"))
        .send()
        .await
        .unwrap();
    let answer = error_answer(in_query).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body.message, ApiError::TokenInQuery.to_string());
    let in_cookie = app
        .client
        .get(&private)
        .header("cookie", format!("access_token={token}"));
    assert_eq!(in_cookie.send().await.unwrap().status(), 401);
    let in_body = app
        .client
        .get(&private)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("access_token={token}"));
    assert_eq!(in_body.send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn scheme_is_case_insensitive_and_other_schemes_are_not_credentials() {
    let app = TestApp::spawn().await;
    let token = app.reader().await.access_token;
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
    assert_eq!(basic.challenge.as_deref(), Some(BOTH_CHALLENGES));
    assert_eq!(
        basic.body.message,
        ApiError::Credentials(BearerError::OtherScheme).to_string()
    );
}

#[tokio::test]
async fn two_authorization_headers_are_a_bad_request() {
    let app = TestApp::spawn().await;
    let token = app.reader().await.access_token;
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
    assert_eq!(
        answer.body.message,
        ApiError::Credentials(BearerError::Repeated).to_string()
    );
    assert!(
        answer
            .challenge
            .unwrap()
            .contains("error=\"invalid_request\"")
    );
}

#[tokio::test]
async fn expiry_and_not_before_are_honoured_with_the_leeway() {
    let app = TestApp::spawn().await;
    let expired = app.token(&[("exp", json!(now() - 60))]);
    assert_refused(&app, &expired, TokenRejection::Expired).await;
    let future = app.token(&[("nbf", json!(now() + 600))]);
    assert_refused(&app, &future, TokenRejection::NotYetValid).await;
    // Within the default 5 s leeway.
    for skewed in [
        app.token(&[("exp", json!(now() - 2))]),
        app.token(&[("nbf", json!(now() + 2))]),
    ] {
        assert_eq!(app.get("/api/private", Some(&skewed)).await.status(), 200);
    }
}

#[tokio::test]
async fn a_token_from_another_issuer_is_refused() {
    let app = TestApp::spawn().await;
    for iss in ["https://evil.example.com/", "http://127.0.0.1:1/"] {
        let token = app.token(&[("iss", json!(iss))]);
        let trusted = app.issuer().to_owned();
        let got = Some(iss.to_owned());
        assert_refused(&app, &token, TokenRejection::WrongIssuer { trusted, got }).await;
    }
}

#[tokio::test]
async fn audience_may_be_a_string_or_an_array_and_must_be_this_api() {
    let app = TestApp::spawn().await;
    for aud in [
        json!(AUDIENCE),
        json!([AUDIENCE]),
        json!(["other", AUDIENCE]),
    ] {
        let token = app.token(&[("aud", aud.clone())]);
        assert_eq!(
            app.get("/api/private", Some(&token)).await.status(),
            200,
            "{aud}"
        );
    }
    let other = "https://other-api.example.com";
    let token = app.token(&[("aud", json!(other))]);
    let rejection = TokenRejection::WrongAudience {
        got: other.into(),
        expected: AUDIENCE.into(),
    };
    assert_refused(&app, &token, rejection).await;
}

#[tokio::test]
async fn an_id_token_sent_instead_of_the_access_token_is_named() {
    let app = TestApp::spawn().await;
    let id_token = app.reader().await.id_token.unwrap();
    let audience = SPA_CLIENT_ID.to_owned();
    assert_refused(&app, &id_token, TokenRejection::IdToken { audience }).await;
}

/// Each sign of an ID token is enough on its own: a `nonce`, the SPA's client ID as the
/// audience, or an audience shaped like an Auth0 client ID. Without any, it is only another
/// audience.
#[tokio::test]
async fn each_sign_of_an_id_token_names_it_and_none_means_another_audience() {
    let app = TestApp::spawn().await;
    let client_like = "aBcDeFgHiJkLmNoPqRsTuVwXyZ012345";
    for (changes, audience) in [
        (
            vec![
                ("aud", json!("https://other.example.com")),
                ("nonce", json!("n")),
            ],
            "https://other.example.com",
        ),
        (vec![("aud", json!(SPA_CLIENT_ID))], SPA_CLIENT_ID),
        (vec![("aud", json!(["x", SPA_CLIENT_ID]))], "x"),
        (vec![("aud", json!(client_like))], client_like),
    ] {
        let token = app.token(&changes);
        let audience = audience.to_owned();
        assert_refused(&app, &token, TokenRejection::IdToken { audience }).await;
    }
    let token = app.token(&[("aud", json!("https://other.example.com"))]);
    let rejection = TokenRejection::WrongAudience {
        got: "https://other.example.com".into(),
        expected: AUDIENCE.into(),
    };
    assert_refused(&app, &token, rejection).await;
}

#[tokio::test]
async fn opaque_and_encrypted_tokens_ask_for_an_audience() {
    let app = TestApp::spawn().await;
    let opaque = log_in(&app.tenant, "reader@example.com", "reader", None).await;
    assert_refused(&app, &opaque["access_token"], TokenRejection::Opaque).await;
    let jwe = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..iv.ct.tag";
    assert_refused(&app, jwe, TokenRejection::Encrypted).await;
}

#[tokio::test]
async fn missing_null_or_mistyped_core_claims_are_refused() {
    let app = TestApp::spawn().await;
    for claim in ["iss", "aud", "exp", "sub"] {
        let missing = TokenRejection::MissingClaim(claim.into());
        assert_refused(&app, &app.token_without(&[claim]), missing.clone()).await;
        for bad in [json!(null), json!({"x": 1}), json!(true)] {
            // jsonwebtoken cannot read past an object where it expects a number or a
            // string: the whole payload is unreadable to it then.
            let rejection = match (claim, bad.is_object()) {
                ("exp" | "sub", true) => TokenRejection::BadClaims,
                _ => missing.clone(),
            };
            assert_refused(&app, &app.token(&[(claim, bad)]), rejection).await;
        }
    }
    let string_exp = app.token(&[("exp", json!("9999999999"))]);
    assert_refused(
        &app,
        &string_exp,
        TokenRejection::MissingClaim("exp".into()),
    )
    .await;
    let array_scope = app.token(&[("scope", json!(["read:messages"]))]);
    assert_refused(&app, &array_scope, TokenRejection::BadClaims).await;
}

#[tokio::test]
async fn absurd_numbers_never_crash_the_server() {
    let app = TestApp::spawn().await;
    for exp in [
        json!(-1),
        json!(1e300),
        json!(-1e300),
        json!(1.8446744073709552e19),
        json!(0),
    ] {
        assert_invalid_token(&app, &app.token(&[("exp", exp)])).await;
    }
    for nbf in [json!(u64::MAX), json!(1e300)] {
        assert_invalid_token(&app, &app.token(&[("nbf", nbf)])).await;
    }
    let header = json!({"alg": "RS256", "kid": KEY.kid()});
    let claims_text = app.claims(&[]).to_string();
    for huge in ["99999999999999999999999999", "1e999", "-0"] {
        let payload = claims_text.replacen("\"exp\":", &format!("\"exp\":{huge},\"was\":"), 1);
        assert_invalid_token(&app, &KEY.sign_payload(&header, &payload)).await;
    }
    // The largest exp there is is a valid, if silly, expiry: no overflow on the way.
    let forever = app.token(&[("exp", json!(u64::MAX))]);
    assert_eq!(app.get("/api/private", Some(&forever)).await.status(), 200);
    assert_eq!(app.get("/healthz", None).await.status(), 200);
}

#[tokio::test]
async fn an_altered_payload_or_a_foreign_key_fails_the_signature() {
    let app = TestApp::spawn().await;
    let token = app.token(&[("scope", json!("openid"))]);
    let parts: Vec<&str> = token.split('.').collect();
    let escalated = format!("{}.{}.{}", parts[0], b64_json(&app.claims(&[])), parts[2]);
    assert_refused(&app, &escalated, TokenRejection::BadSignature).await;
    // The attacker's key, claiming the tenant's kid.
    let forged = ATTACKER_KEY.sign_with_header(
        &json!({"alg": "RS256", "typ": "JWT", "kid": KEY.kid()}),
        &app.claims(&[]),
    );
    assert_refused(&app, &forged, TokenRejection::BadSignature).await;
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn b64_json(value: &Value) -> String {
    b64(value.to_string())
}

#[tokio::test]
async fn algorithm_confusion_and_unsigned_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let body = b64_json(&app.claims(&[]));
    let none = b64_json(&json!({"alg": "none", "kid": KEY.kid()}));
    assert_refused(&app, &format!("{none}.{body}."), TokenRejection::Unsigned).await;
    // HS256 "signed" with the tenant's public key as the HMAC secret.
    let header = b64_json(&json!({"alg": "HS256", "typ": "JWT", "kid": KEY.kid()}));
    let message = format!("{header}.{body}");
    let mac = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &KEY.modulus()),
        message.as_bytes(),
    );
    let forged = format!("{message}.{}", b64(mac));
    assert_refused(&app, &forged, TokenRejection::Hmac("HS256".into())).await;
    // PS256, ES256 and RS512 headers over a real RS256 signature.
    for alg in ["PS256", "ES256", "RS512"] {
        let token = KEY.sign_with_header(&json!({"alg": alg, "kid": KEY.kid()}), &app.claims(&[]));
        assert_refused(&app, &token, TokenRejection::NotRs256).await;
    }
}

#[tokio::test]
async fn keys_offered_by_the_token_are_never_used_or_fetched() {
    let app = TestApp::spawn().await;
    let attacker = spawn_tenant(&[&ATTACKER_KEY]).await;
    let header = json!({
        "alg": "RS256",
        "kid": ATTACKER_KEY.kid(),
        "jwk": ATTACKER_KEY.jwk(),
        "jku": format!("{}.well-known/jwks.json", attacker.issuer()),
        "x5u": format!("{}cert.pem", attacker.issuer()),
    });
    let token = ATTACKER_KEY.sign_with_header(&header, &app.claims(&[]));
    assert_invalid_token(&app, &token).await;
    assert_eq!(attacker.jwks_fetches(), 0);
}

#[tokio::test]
async fn only_tokens_typed_as_access_tokens_are_accepted() {
    let app = TestApp::spawn().await;
    let signed = |typ: Option<&str>| {
        let mut header = json!({"alg": "RS256", "kid": KEY.kid()});
        if let Some(typ) = typ {
            header["typ"] = json!(typ);
        }
        KEY.sign_with_header(&header, &app.claims(&[]))
    };
    for typ in [
        None,
        Some("JWT"),
        Some("at+jwt"),
        Some("application/at+jwt"),
    ] {
        let token = signed(typ);
        assert_eq!(
            app.get("/api/private", Some(&token)).await.status(),
            200,
            "{typ:?}"
        );
    }
    for typ in ["dpop+jwt", "logout+jwt"] {
        let rejection = TokenRejection::NotAnAccessToken { typ: typ.into() };
        assert_refused(&app, &signed(Some(typ)), rejection).await;
    }
}

#[tokio::test]
async fn critical_header_extensions_are_refused() {
    let app = TestApp::spawn().await;
    let header = json!({"alg": "RS256", "kid": KEY.kid(), "crit": ["b64"], "b64": false});
    let token = KEY.sign_with_header(&header, &app.claims(&[]));
    assert_refused(&app, &token, TokenRejection::Crit).await;
}

#[tokio::test]
async fn jwks_keys_that_are_not_rsa_signing_keys_are_never_used() {
    for (field, value) in [
        ("use", json!("enc")),
        ("alg", json!("RS512")),
        ("kty", json!("oct")),
        ("key_ops", json!(["encrypt"])),
    ] {
        let mut unusable = serde_json::to_value(KEY.jwk()).unwrap();
        unusable[field] = value;
        let app = TestApp::spawn().await;
        app.tenant.set_jwks_behaviour(JwksBehaviour::Publish(
            json!({"keys": [unusable, ROTATED_KEY.jwk()]}),
        ));
        let token = app.token(&[]);
        assert_refused(&app, &token, TokenRejection::UnknownKid).await;
        let rotated = ROTATED_KEY.sign(&app.claims(&[]));
        assert_eq!(app.get("/api/private", Some(&rotated)).await.status(), 200);
    }
}

#[tokio::test]
async fn error_bodies_never_leak_library_errors() {
    let app = TestApp::spawn().await;
    let tokens = [
        "x.y.z".to_owned(),
        KEY.sign(&json!("not an object")),
        app.token(&[("exp", json!(now() - 100))]),
        format!(
            "{}.{}.AAAA",
            b64_json(&json!({"alg":"RS256","kid":KEY.kid()})),
            b64_json(&app.claims(&[]))
        ),
    ];
    for token in tokens {
        let response = app.get("/api/private", Some(&token)).await;
        let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
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
    let app = TestApp::spawn().await;
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
    let allow_headers = headers["access-control-allow-headers"].to_str().unwrap();
    assert!(allow_headers.contains("authorization"), "{allow_headers}");
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
async fn responses_carry_security_headers_and_unknown_paths_are_json_404s() {
    let app = TestApp::spawn().await;
    for path in ["/api/public", "/api/private", "/nowhere"] {
        let response = app.get(path, None).await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
    }
    let missing = error_answer(app.get("/nowhere", None).await).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body.message, ApiError::NotFound.to_string());
}

#[tokio::test]
async fn the_api_serves_the_spa_its_login_settings_or_says_what_is_missing() {
    let app = TestApp::spawn().await;
    let config: shared::AuthConfig = app
        .get("/auth_config.json", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(config.issuer, app.issuer());
    assert_eq!(
        config.domain,
        format!("127.0.0.1:{}", app.tenant.addr.port())
    );
    assert_eq!(config.client_id, SPA_CLIENT_ID);
    assert_eq!(config.audience, AUDIENCE);
    assert_eq!(config.scope, "openid profile read:messages");
    let unconfigured = TestApp::builder()
        .settings(|s| s.client_id = None)
        .spawn()
        .await;
    let answer = error_answer(unconfigured.get("/auth_config.json", None).await).await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.body.message, ApiError::NotConfigured.to_string());
}

#[tokio::test]
async fn the_built_spa_is_served_with_deep_links_and_a_strict_csp() {
    let scratch = tempfile::Builder::new()
        .prefix("spa-dist-")
        .tempdir()
        .unwrap();
    let dist = scratch.path().to_owned();
    std::fs::write(dist.join("index.html"), "<!doctype html><title>spa</title>").unwrap();
    std::fs::write(dist.join("app.js"), "export {}").unwrap();
    let spa_dir = dist.clone();
    let app = TestApp::builder()
        .settings(move |s| s.spa_dir = Some(spa_dir))
        .spawn()
        .await;
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
        assert!(csp.contains(app.issuer().trim_end_matches('/')), "{csp}");
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

/// An OpenID provider the API cannot reach yet: `/auth_config.json` waits for the first
/// discovery (bounded by the fetch timeout), then answers 503 with the cause, never settings
/// with made-up endpoints. One that is reached but cannot serve the configured flow: a 500
/// naming the setting to change.
#[tokio::test]
async fn the_spa_settings_wait_for_the_provider_and_say_why_they_cannot_be_served() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut settings = settings_for(&issuer);
    settings.jwks.fetch_timeout = std::time::Duration::from_millis(500);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = serve_api(listener, settings);
    let client = reqwest::Client::new();
    let answer = error_answer(
        client
            .get(format!("{base}/auth_config.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 503);
    assert!(answer.retry_after.is_some());
    assert!(
        answer.body.message.contains("could not be reached"),
        "{}",
        answer.body.message
    );

    // A provider whose document offers no S256, with the code flow configured.
    let issuer = code_flow_provider("plain", std::time::Duration::ZERO).await;
    let mut settings = settings_for(&issuer);
    settings.login_flow = shared::LoginFlow::Code;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = serve_api(listener, settings);
    let answer = error_answer(
        client
            .get(format!("{base}/auth_config.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 500, "{}", answer.body.message);
    assert_eq!(
        answer.body.message,
        format!("{}.", api::Unsupported::NoS256)
    );
    assert!(answer.body.message.contains("SPA_LOGIN_FLOW=implicit"));
}

/// The first `/auth_config.json` after a start waits for the provider's discovery to end, not
/// for the whole fetch timeout: a slow provider's settings come as soon as they are read.
#[tokio::test]
async fn the_spa_settings_come_as_soon_as_a_slow_providers_discovery_ends() {
    let issuer = code_flow_provider("S256", std::time::Duration::from_millis(300)).await;
    let mut settings = settings_for(&issuer);
    settings.login_flow = shared::LoginFlow::Code;
    settings.jwks.fetch_timeout = std::time::Duration::from_secs(10);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = serve_api(listener, settings);
    let asked = std::time::Instant::now();
    let answer = reqwest::get(format!("{base}/auth_config.json"))
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    // Well under the 10 s timeout, whatever the machine's load.
    assert!(asked.elapsed() < std::time::Duration::from_secs(5));
}

/// An OpenID provider on loopback offering the code flow with this PKCE method, whose
/// discovery document answers after `delay`; its issuer.
async fn code_flow_provider(pkce: &'static str, delay: std::time::Duration) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let document = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/auth"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": [pkce],
    });
    let provider = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move {
                tokio::time::sleep(delay).await;
                axum::Json(document)
            }),
        )
        .route(
            "/jwks",
            axum::routing::get(|| async { axum::Json(json!({"keys": [KEY.jwk()]})) }),
        );
    tokio::spawn(async move { axum::serve(listener, provider).await });
    issuer
}
