//! The token endpoint and what its tokens are good for: the code exchange with PKCE, refresh
//! tokens that rotate, client credentials, opaque tokens, `/userinfo`, rotated signing keys.

use super::*;

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
    // Without offline_access, no refresh token.
    let location = b
        .log_in(
            &with(code_flow("t"), "scope", "openid profile read:messages"),
            "reader@example.com",
            "reader",
        )
        .await;
    let code = super::answer(&location)["code"].clone();
    let (status, tokens) = b.token(&code_exchange(&code, CALLBACK, VERIFIER)).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens["access_token"].is_string());
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
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
    // As Auth0 answers: the scope granted and the lifetime, beside the token.
    assert_eq!(tokens["scope"], "read:messages");
    assert_eq!(tokens["expires_in"], 86400);
    assert_eq!(tokens["token_type"], "Bearer");
    // A scope the client was not granted is left out, not refused.
    let (status, narrowed) = b
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", M2M),
            ("client_secret", M2M_SECRET),
            ("audience", AUDIENCE),
            ("scope", "read:messages delete:everything"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{narrowed}");
    assert_eq!(narrowed["scope"], "read:messages");
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
