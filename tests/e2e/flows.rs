//! The app as a person uses it, in both login flows: the logged-out Ping page, the reader's
//! three answers, the guest's 403, reload, Log Out, an expired and a refused session.

use fantoccini::Locator;
use serde_json::json;
use shared::{LoginFlow, Message, SessionStorage};

use crate::figures::figures_dir;
use crate::harness::*;

#[tokio::test]
async fn logged_out_ping_answers_public_and_disables_private() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    b.open(&format!("{}/ping", stack.origin)).await;
    b.wait_for_text("h1", "Make a Call to the Server").await;
    b.wait_for_text(
        "#login-prompt",
        "Log in to call a private (secured) server endpoint.",
    )
    .await;
    assert!(b.is_enabled("#call-public").await);
    assert!(!b.is_enabled("#call-private").await);
    assert!(!b.is_enabled("#call-private-scoped").await);
    b.call("#call-public", Message::PUBLIC).await;
    b.assert_logged_out(&stack).await;
}

#[tokio::test]
async fn reader_logs_in_and_gets_all_three_answers() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    let round_trip = b
        .log_in_from_ping(&stack, "reader@example.com", "reader")
        .await;
    let figures = figures_dir();
    std::fs::write(
        figures.join("login-round-trip.txt"),
        format!(
            "login round trip (click on Log In, tenant form filled by WebDriver, back on /ping with a verified session): {} ms\n",
            round_trip.as_millis()
        ),
    )
    .unwrap();
    // The fragment with the tokens is gone from the address bar.
    assert_eq!(b.url().await, format!("{}/ping", stack.origin));
    b.call("#call-public", Message::PUBLIC).await;
    b.call("#call-private", Message::PRIVATE).await;
    b.call("#call-private-scoped", Message::PRIVATE_SCOPED)
        .await;
    let png = b.client.screenshot().await.unwrap();
    std::fs::write(figures.join("ping-scoped.png"), png).unwrap();
    // The profile shows who logged in, and the tenant's /userinfo.
    b.click("a[href='/profile']").await;
    b.wait_for_text("#profile-name", "Ada Reader").await;
    b.wait_for_text("#userinfo", "auth0|reader").await;
}

#[tokio::test]
async fn guest_without_the_scope_sees_the_403_explanation() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    b.log_in_from_ping(&stack, "guest@example.com", "guest")
        .await;
    b.call("#call-private", Message::PRIVATE).await;
    let shown = b.call("#call-private-scoped", "403 Forbidden").await;
    assert!(shown.contains("insufficient_scope"), "{shown}");
    assert!(shown.contains("read:messages"), "{shown}");
    assert!(shown.contains("Log in as a user who has it"), "{shown}");
}

#[tokio::test]
async fn reload_keeps_the_session_and_log_out_ends_it() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    b.log_in_from_ping(&stack, "reader@example.com", "reader")
        .await;
    b.client.refresh().await.unwrap();
    b.call("#call-private", Message::PRIVATE).await;
    b.open(&stack.origin).await;
    b.wait_for_text("#home-status", "You are logged in!").await;
    b.click("#logout").await;
    b.wait_for_url(&stack.origin).await;
    b.wait_for_text("#home-status", "You are not logged in!")
        .await;
    assert_eq!(b.session_storage(SESSION_KEY).await, json!(null));
    // Back from the tenant's RP-Initiated Logout with this tab's state: said, and the state
    // taken out of the address bar.
    b.wait_for_text("#signed-out", "You have logged out").await;
    assert_eq!(b.url().await, format!("{}/", stack.origin));
    // A return that brings no state of this tab's (a bookmark, a forged link) is no logout.
    b.open(&format!("{}/?state=forged", stack.origin)).await;
    b.wait_for_text("#home-status", "You are not logged in!")
        .await;
    assert!(b.client.find(Locator::Css("#signed-out")).await.is_err());
    // The tenant's session ended too: Log In asks for credentials again.
    b.start_login(&stack).await;
}

#[tokio::test]
async fn expired_or_refused_session_asks_to_log_in_again() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    b.log_in_from_ping(&stack, "reader@example.com", "reader")
        .await;
    // The tenant's session ends behind the app's back (its cookies gone) and the app's
    // session expires: the silent renewal hears login_required, and the page shows logged
    // out, quietly, without leaving the app.
    b.client.delete_all_cookies().await.unwrap();
    b.edit_session("s.expires_at = 1").await;
    b.client.refresh().await.unwrap();
    b.wait_for_text("#login-prompt", "Log in to call a private")
        .await;
    assert!(!b.is_enabled("#call-private").await);
    assert_eq!(b.url().await, format!("{}/ping", stack.origin));
    assert_eq!(b.session_storage(SESSION_KEY).await, json!(null));
    // Log In again: the form, since the tenant's session is gone.
    b.start_login(&stack).await;
    b.fill_login_form("reader@example.com", "reader").await;
    b.client
        .wait()
        .for_element(Locator::Css("#logout"))
        .await
        .unwrap();
    assert_eq!(b.url().await, format!("{}/ping", stack.origin));
    // A token the API refuses (here: altered) gets the 401 explanation and Log In again.
    b.edit_session("s.access_token += 'x'").await;
    b.client.refresh().await.unwrap();
    let shown = b.call("#call-private", "401 Unauthorized").await;
    assert!(shown.contains("invalid_token"), "{shown}");
    b.client.find(Locator::Css("#result #login")).await.unwrap();
}

#[tokio::test]
async fn the_session_keeps_no_id_token() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    b.log_in_from_ping(&stack, "reader@example.com", "reader")
        .await;
    let session = stored_session(&b).await;
    assert!(session["access_token"].is_string(), "{session}");
    assert!(session.get("id_token").is_none(), "{session}");
}

#[tokio::test]
async fn back_after_a_login_keeps_the_session() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    b.log_in_from_ping(&stack, "reader@example.com", "reader")
        .await;
    b.client.back().await.unwrap();
    b.wait_for_url(&stack.origin).await;
    b.wait_for_text("#home-status", "You are logged in!").await;
    assert!(stored_session(&b).await["access_token"].is_string());
}

#[tokio::test]
async fn both_flows_log_in_ping_keep_the_session_on_reload_and_log_out() {
    require_browser!();
    for (flow, storage, area) in [
        (
            LoginFlow::Implicit,
            SessionStorage::Session,
            "sessionStorage",
        ),
        (LoginFlow::Code, SessionStorage::Session, "sessionStorage"),
        (LoginFlow::Implicit, SessionStorage::Local, "localStorage"),
        (LoginFlow::Code, SessionStorage::Local, "localStorage"),
    ] {
        let stack = stack_for(flow, false, storage).await;
        let b = browser().await;
        let stored = async || {
            let script = format!("return {area}.getItem(arguments[0]);");
            b.client
                .execute(&script, vec![json!(SESSION_KEY)])
                .await
                .unwrap()
        };
        b.log_in_from_ping(&stack, "reader@example.com", "reader")
            .await;
        // Neither tokens nor the code stay in the address bar; the verifier is gone.
        assert_eq!(b.url().await, format!("{}/ping", stack.origin), "{flow:?}");
        assert_eq!(b.session_storage(PENDING_KEY).await, json!(null));
        assert!(stored().await.is_string(), "{flow:?} {area}");
        b.call("#call-public", Message::PUBLIC).await;
        b.call("#call-private", Message::PRIVATE).await;
        b.call("#call-private-scoped", Message::PRIVATE_SCOPED)
            .await;
        // A reload picks the session up from storage: no renewal is needed.
        b.client.refresh().await.unwrap();
        b.call("#call-private-scoped", Message::PRIVATE_SCOPED)
            .await;
        let renewals = b
            .client
            .execute(
                "return performance.getEntriesByName('renewal-started').length;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(renewals, json!(0), "{flow:?} {area}");
        b.click("#logout").await;
        b.wait_for_url(&stack.origin).await;
        b.wait_for_text("#home-status", "You are not logged in!")
            .await;
        assert_eq!(stored().await, json!(null), "{flow:?} {area}");
    }
}
