//! DPoP in the browser (`SPA_DPOP=true`): the project's SPA binds its tokens to a
//! non-extractable WebCrypto key and proves it at the tenant and at the API; and the tabs that
//! share a session (`local` storage, refresh tokens) log out together and renew without
//! tripping reuse detection.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fantoccini::Locator;
use serde_json::{Value, json};
use shared::{LoginFlow, Message, SessionStorage};

use crate::harness::*;

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn dpop_stack_settings(
    storage: SessionStorage,
    refresh_tokens: bool,
) -> impl FnOnce(&mut api::config::Settings) + 'static {
    move |s| {
        s.login_flow = LoginFlow::Code;
        s.refresh_tokens = refresh_tokens;
        s.session_storage = storage;
        s.spa_dpop = true;
    }
}

impl Browser {
    /// What the DPoP key store holds: the thumbprints, and whether each private key can be
    /// exported (it must not).
    async fn dpop_keys(&self) -> Value {
        let script = "const done = arguments[arguments.length - 1];
            const open = indexedDB.open('quickstart-dpop', 1);
            open.onupgradeneeded = () => open.result.createObjectStore('keys');
            open.onsuccess = () => {
              const db = open.result;
              const all = db.transaction('keys').objectStore('keys').getAll();
              const keys = db.transaction('keys').objectStore('keys').getAllKeys();
              all.onsuccess = () => keys.onsuccess = async () => {
                const exportable = await Promise.all(all.result.map(r =>
                  crypto.subtle.exportKey('jwk', r.private).then(() => true, () => false)));
                done({ jkts: keys.result, exportable });
              };
            };
            open.onerror = () => done({ error: String(open.error) });";
        self.client.execute_async(script, vec![]).await.unwrap()
    }
}

#[tokio::test]
async fn with_dpop_the_spa_binds_its_tokens_and_proves_its_key_at_every_call() {
    require_browser!();
    let stack = stack_with(dpop_stack_settings(SessionStorage::Session, true)).await;
    let b = browser().await;
    b.log_in_from_ping(&stack, "reader@example.com", "reader")
        .await;
    let jkt = b.stored("dpop_jkt").await;
    let token = b.stored("access_token").await;
    let token = token.as_str().unwrap();
    assert_eq!(
        claims(token)["cnf"]["jkt"],
        jkt,
        "the token is bound to the SPA's key"
    );
    let keys = b.dpop_keys().await;
    assert_eq!(keys["jkts"], json!([jkt]), "{keys}");
    assert_eq!(
        keys["exportable"],
        json!([false]),
        "the private key never leaves WebCrypto"
    );
    b.call("#call-public", Message::PUBLIC).await;
    b.call("#call-private", Message::PRIVATE).await;
    b.call("#call-private-scoped", Message::PRIVATE_SCOPED)
        .await;
    // Copied out of the page, the token is worth nothing as a bearer token.
    let copied = stack.app.get("/api/private", Some(token)).await;
    assert_eq!(copied.status(), 401);
    // A reload keeps the session and its key.
    b.client.refresh().await.unwrap();
    b.call("#call-private-scoped", Message::PRIVATE_SCOPED)
        .await;
    // Renewal by refresh token: rotated, and still bound to the same key.
    let first = b.stored("refresh_token").await;
    b.edit_session(&format!("s.expires_at = {}", integration_tests::now() + 30))
        .await;
    b.client.refresh().await.unwrap();
    b.wait_for_change("refresh_token", &first).await;
    let renewed = b.stored("access_token").await;
    assert_eq!(claims(renewed.as_str().unwrap())["cnf"]["jkt"], jkt);
    b.call("#call-private-scoped", Message::PRIVATE_SCOPED)
        .await;
    // The tenant's /userinfo, with the DPoP token and a proof.
    b.open(&format!("{}/profile", stack.origin)).await;
    b.wait_for_text("#userinfo", "auth0|reader").await;
    // Log Out deletes the key.
    b.click("#logout").await;
    b.wait_for_url(&stack.origin).await;
    b.wait_for_text("#home-status", "not logged in").await;
    assert_eq!(b.dpop_keys().await["jkts"], json!([]));
}

/// A memory session with DPoP: a reload brings the session back by the iframe, bound to a
/// new key kept in memory only; with the tenant and the API both asking for their nonces,
/// every proof is made again with the nonce it is given.
#[tokio::test]
async fn dpop_sessions_renew_in_the_iframe_and_proofs_follow_the_servers_nonces() {
    require_browser!();
    let stack = stack_of(
        "127.0.0.1",
        |tenant| tenant.tenant.dpop_nonce = true,
        |s| {
            dpop_stack_settings(SessionStorage::Memory, false)(s);
            s.dpop.nonces = true;
        },
    )
    .await;
    let b = browser().await;
    b.log_in_from_ping(&stack, "reader@example.com", "reader")
        .await;
    b.call("#call-private-scoped", Message::PRIVATE_SCOPED)
        .await;
    assert_eq!(
        b.dpop_keys().await["jkts"],
        json!([]),
        "a memory session's key is in memory"
    );
    b.client.refresh().await.unwrap();
    b.client
        .wait()
        .for_element(Locator::Css("#logout"))
        .await
        .unwrap();
    b.call("#call-private-scoped", Message::PRIVATE_SCOPED)
        .await;
    assert_eq!(b.dpop_keys().await["jkts"], json!([]));
}

/// Code flow, refresh tokens, sessions in `localStorage` (shared by the tabs), no DPoP (so
/// that the test can spend a refresh token itself), tokens good for 70 s (renewed 10 s in).
async fn shared_session_stack() -> Stack {
    stack_of(
        "127.0.0.1",
        |tenant| tenant.api.token_lifetime_secs = 70,
        |s| {
            s.login_flow = LoginFlow::Code;
            s.refresh_tokens = true;
            s.session_storage = SessionStorage::Local;
        },
    )
    .await
}

/// N1: with `local` storage and refresh tokens, Log Out in one tab ends the session in every
/// tab, and the refresh token any tab held is revoked, so none can renew it.
#[tokio::test]
async fn log_out_in_one_tab_ends_the_session_in_every_tab() {
    require_browser!();
    let stack = shared_session_stack().await;
    let b = browser().await;
    b.log_in_from_ping(&stack, "reader@example.com", "reader")
        .await;
    let first = b.client.window().await.unwrap();
    let second = b.client.new_window(true).await.unwrap().handle;
    b.client.switch_to_window(second.clone()).await.unwrap();
    b.open(&format!("{}/ping", stack.origin)).await;
    b.call("#call-private", Message::PRIVATE).await;
    let held = local_session(&b).await["refresh_token"].clone();
    b.client.switch_to_window(first.clone()).await.unwrap();
    b.click("#logout").await;
    b.wait_for_text("#home-status", "not logged in").await;
    // The other tab hears it at once, and, past its renewal time, has renewed nothing.
    b.client.switch_to_window(second).await.unwrap();
    b.wait_for_text("#login-prompt", "Log in to call a private")
        .await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(local_session(&b).await, Value::Null);
    b.client.switch_to_window(first).await.unwrap();
    b.client.refresh().await.unwrap();
    b.wait_for_text("#home-status", "not logged in").await;
    b.client.find(Locator::Css("#login")).await.unwrap();
    let refused = refresh_with(&stack, held.as_str().unwrap()).await;
    assert_eq!(refused["error"], "invalid_grant", "{refused}");
}

/// N4: two tabs that share one refresh token both renew (each at a minute before expiry):
/// they take turns, the second takes the first's renewed session instead of spending a spent
/// token, and reuse detection is not tripped.
#[tokio::test]
async fn tabs_that_share_a_refresh_token_renew_without_tripping_reuse_detection() {
    require_browser!();
    let stack = shared_session_stack().await;
    let b = browser().await;
    b.log_in_from_ping(&stack, "reader@example.com", "reader")
        .await;
    let first = b.client.window().await.unwrap();
    let before = local_session(&b).await["refresh_token"].clone();
    let second = b.client.new_window(true).await.unwrap().handle;
    b.client.switch_to_window(second.clone()).await.unwrap();
    b.open(&format!("{}/ping", stack.origin)).await;
    b.call("#call-private", Message::PRIVATE).await;
    // Both tabs' renewal timers fire about 10 s after the login.
    tokio::time::sleep(Duration::from_secs(15)).await;
    let after = local_session(&b).await;
    assert_ne!(after["refresh_token"], before, "renewed");
    for window in [first, second] {
        b.client.switch_to_window(window).await.unwrap();
        b.call("#call-private-scoped", Message::PRIVATE_SCOPED)
            .await;
        b.client.find(Locator::Css("#logout")).await.unwrap();
    }
    // The newest stored refresh token is the family's live one.
    let session = local_session(&b).await;
    let live = refresh_with(&stack, session["refresh_token"].as_str().unwrap()).await;
    assert!(live["access_token"].is_string(), "{live}");
}

/// What `localStorage` holds for the session, parsed.
async fn local_session(b: &Browser) -> Value {
    let stored = b
        .client
        .execute(
            "return localStorage.getItem(arguments[0]);",
            vec![json!(SESSION_KEY)],
        )
        .await
        .unwrap();
    match stored {
        Value::String(text) => serde_json::from_str(&text).unwrap(),
        other => other,
    }
}

/// The tenant's answer to a refresh with `refresh_token` (an unbound one).
async fn refresh_with(stack: &Stack, refresh_token: &str) -> Value {
    let token_url = stack.app.tenant.endpoint("oauth/token");
    reqwest::Client::new()
        .post(token_url)
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", integration_tests::SPA_CLIENT_ID),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
