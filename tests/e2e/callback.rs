//! Answers at `/callback` the tenant did not send, or did not send to this tab: a wrong `state`,
//! another login's `nonce`, a forged signature, a cancelled login, a short key, a tampered or
//! replayed code. None is believed, stored or shown as logged in; each says why.

use integration_tests::*;
use serde_json::json;
use shared::{LoginFlow, Message, SessionStorage};

use crate::harness::*;

#[tokio::test]
async fn callback_with_the_wrong_state_stores_no_session() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    let (_, nonce) = b.start_login_from_ping(&stack).await;
    let id_token = KEY.sign(&json!({
        "iss": stack.issuer(), "sub": "auth0|reader", "aud": SPA_CLIENT_ID,
        "exp": now() + 600, "iat": now(), "nonce": nonce,
    }));
    let answer = format!("#access_token=x&id_token={id_token}&state=forged&expires_in=7200");
    b.open_callback(&stack, &answer).await;
    assert_refused(&b, "state mismatch").await;
}

#[tokio::test]
async fn callback_with_another_logins_nonce_stores_no_session() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    b.start_login_from_ping(&stack).await;
    // Same login (state), but the ID token is minted for another nonce: a replay.
    let mut url = url::Url::parse(&b.url().await).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "nonce" {
                "another-nonce".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    b.open(url.as_str()).await;
    b.fill_login_form("reader@example.com", "reader").await;
    assert_refused(&b, "nonce").await;
}

#[tokio::test]
async fn callback_with_a_forged_id_token_signature_stores_no_session() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    let (state, nonce) = b.start_login_from_ping(&stack).await;
    // Every claim right, the tenant's kid, the attacker's key.
    let forged = ATTACKER_KEY.sign_with_header(
        &json!({"alg": "RS256", "typ": "JWT", "kid": KEY.kid()}),
        &json!({
            "iss": stack.issuer(), "sub": "auth0|reader", "aud": SPA_CLIENT_ID,
            "exp": now() + 600, "iat": now(), "nonce": nonce,
        }),
    );
    let answer = format!("#access_token=x&id_token={forged}&state={state}&expires_in=7200");
    b.open_callback(&stack, &answer).await;
    assert_refused(&b, "signature does not verify").await;
}

#[tokio::test]
async fn cancelled_login_shows_access_denied() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    b.open(&format!("{}/ping", stack.origin)).await;
    b.start_login(&stack).await;
    b.click("button[value=cancel]").await;
    assert_refused(&b, "access_denied").await;
}

#[tokio::test]
async fn a_callback_that_is_not_this_tabs_changes_nothing_and_shows_nothing_of_itself() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    b.log_in_from_ping(&stack, "reader@example.com", "reader")
        .await;
    let session = stored_session(&b).await;
    for answer in [
        "error=access_denied&error_description=Your%20account%20is%20locked%2C%20call%20us&state=bogus",
        "",
    ] {
        b.open_callback(&stack, &format!("#{answer}")).await;
        b.wait_for_text("#home-status", "You are logged in!").await;
        let page = b.client.source().await.unwrap();
        assert!(!page.contains("locked"), "{answer}");
        assert_eq!(stored_session(&b).await, session, "{answer}");
    }
    // The tenant's answer to a login this tab did not start (a replayed callback URL).
    let replayed = format!(
        "{}?client_id={SPA_CLIENT_ID}&redirect_uri={}/callback&response_type=token%20id_token&audience={AUDIENCE}&scope=openid&state=replayed&nonce=n",
        stack.app.tenant.endpoint("authorize"),
        stack.origin
    );
    b.open(&replayed).await;
    b.wait_for_text("#home-status", "You are logged in!").await;
    assert_eq!(b.url().await, format!("{}/", stack.origin));
    assert_eq!(stored_session(&b).await, session);
    b.open(&format!("{}/ping", stack.origin)).await;
    b.call("#call-private", Message::PRIVATE).await;
}

#[tokio::test]
async fn tokens_leave_the_address_bar_even_when_the_settings_cannot_be_loaded() {
    require_browser!();
    let stack = stack_with(|s| s.client_id = None).await;
    let b = browser().await;
    b.open(&format!(
        "{}/callback#access_token=secret&id_token=x.y.z&state=s&expires_in=60",
        stack.origin
    ))
    .await;
    b.wait_for_text("#config-error", "auth_config.json").await;
    assert_eq!(b.url().await, format!("{}/callback", stack.origin));
}

#[tokio::test]
async fn tokens_leave_the_address_bar_even_when_the_keys_cannot_be_fetched() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    b.open(&format!("{}/ping", stack.origin)).await;
    b.start_login(&stack).await;
    stack
        .app
        .tenant
        .set_jwks_behaviour(JwksBehaviour::Status(503));
    b.fill_login_form("reader@example.com", "reader").await;
    b.wait_for_text("#login-error", "signing keys could not be fetched")
        .await;
    assert_eq!(b.url().await, format!("{}/callback", stack.origin));
    assert_refused(&b, "signing keys could not be fetched").await;
}

#[tokio::test]
async fn a_tenant_key_shorter_than_2048_bits_is_never_used() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    b.open(&format!("{}/ping", stack.origin)).await;
    b.start_login(&stack).await;
    // The tenant publishes its kid with a 1024-bit modulus.
    let mut short = serde_json::to_value(KEY.jwk()).unwrap();
    use base64::Engine as _;
    short["n"] = json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xC5u8; 128]));
    stack
        .app
        .tenant
        .set_jwks_behaviour(JwksBehaviour::Publish(json!({"keys": [short]})));
    b.fill_login_form("reader@example.com", "reader").await;
    assert_refused(&b, "too short").await;
}

#[tokio::test]
async fn a_tampered_or_replayed_code_is_refused_with_a_message() {
    require_browser!();
    let stack = stack_for(LoginFlow::Code, false, SessionStorage::Session).await;
    let b = browser().await;
    // Tampered: this tab's login, a code the tenant never issued.
    let (state, _) = b.start_login_from_ping(&stack).await;
    b.open_callback(&stack, &format!("?code=tampered&state={state}"))
        .await;
    assert_refused(&b, "refused to exchange the login's code").await;
    // Replayed: a real code, already exchanged, brought back to a new login of this tab.
    b.log_in_from_ping(&stack, "reader@example.com", "reader")
        .await;
    let callback: String = b
        .client
        .execute(
            "return performance.getEntriesByType('navigation')[0].name;",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    let code = query_param(&callback, "code");
    b.click("#logout").await;
    b.wait_for_url(&stack.origin).await;
    let (state, _) = b.start_login_from_ping(&stack).await;
    b.open_callback(&stack, &format!("?code={code}&state={state}"))
        .await;
    assert_refused(&b, "invalid_grant").await;
}
