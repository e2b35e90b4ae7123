//! Sessions that last without a visible redirect: silent renewal in a hidden iframe (on the
//! app's site and across sites), refresh-token rotation and reuse, and forged renewal answers.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use integration_tests::*;
use serde_json::json;
use shared::{LoginFlow, Message, SessionStorage};

use crate::figures::{median, report};
use crate::harness::*;

#[tokio::test]
async fn memory_sessions_are_renewed_silently_after_a_reload() {
    require_browser!();
    // The tenant on the app's site, then on another site (its session cookie then reaches
    // the iframe only as a third-party cookie: SameSite=None; Secure, as Auth0's).
    for (tenant_host, flow) in [
        ("127.0.0.1", LoginFlow::Implicit),
        ("127.0.0.1", LoginFlow::Code),
        ("localhost", LoginFlow::Implicit),
        ("localhost", LoginFlow::Code),
    ] {
        let stack = stack_at(tenant_host, move |s| {
            s.login_flow = flow;
            s.session_storage = SessionStorage::Memory;
        })
        .await;
        let b = browser().await;
        b.log_in_from_ping(&stack, "reader@example.com", "reader")
            .await;
        assert_eq!(b.session_storage(SESSION_KEY).await, json!(null));
        b.client.refresh().await.unwrap();
        // Nothing was stored, yet the reload is logged in: the hidden iframe, no redirect.
        b.client
            .wait()
            .for_element(Locator::Css("#logout"))
            .await
            .unwrap_or_else(|e| panic!("{tenant_host} {flow:?}: {e}"));
        assert_eq!(b.url().await, format!("{}/ping", stack.origin), "{flow:?}");
        b.call("#call-private-scoped", Message::PRIVATE_SCOPED)
            .await;
    }
}

/// A reload with a memory session: until the start-up renewal answers (held back here for
/// 1.5 s), the page says it is checking and offers no Log In that would throw the coming
/// session away; `login_required` then shows logged out at once.
#[tokio::test]
async fn while_a_session_comes_back_the_page_checks_instead_of_offering_log_in() {
    require_browser!();
    let stack = stack_for(LoginFlow::Code, false, SessionStorage::Memory).await;
    let b = browser().await;
    b.log_in_from_ping(&stack, "reader@example.com", "reader")
        .await;
    let tenant = &stack.app.tenant.tenant;
    tenant.set_silent_answer_delay(Duration::from_millis(1500));
    for (cookies, outcome) in [(true, "#logout"), (false, "#login-prompt")] {
        if !cookies {
            b.client.delete_all_cookies().await.unwrap();
        }
        b.client.refresh().await.unwrap();
        b.wait_for_text("#checking", "Checking your session").await;
        assert!(b.client.find(Locator::Css("#login")).await.is_err());
        assert!(b.client.find(Locator::Css("#login-prompt")).await.is_err());
        assert!(!b.is_enabled("#call-private").await);
        let started = Instant::now();
        b.client
            .wait()
            .for_element(Locator::Css(outcome))
            .await
            .unwrap();
        assert!(b.client.find(Locator::Css("#checking")).await.is_err());
        assert!(started.elapsed() < Duration::from_secs(5), "{outcome}");
    }
    b.client.find(Locator::Css("#login")).await.unwrap();
}

#[tokio::test]
async fn a_session_about_to_expire_is_renewed_without_a_redirect() {
    require_browser!();
    let mut timings = vec![];
    for flow in FLOWS {
        let stack = stack_for(flow, false, SessionStorage::Session).await;
        let b = browser().await;
        let mut round_trips = vec![];
        for _ in 0..5 {
            let took = b
                .log_in_from_ping(&stack, "reader@example.com", "reader")
                .await;
            round_trips.push(took.as_secs_f64() * 1000.0);
            b.click("#logout").await;
            b.wait_for_url(&stack.origin).await;
            b.wait_for_text("#home-status", "not logged in").await;
        }
        b.log_in_from_ping(&stack, "reader@example.com", "reader")
            .await;
        let mut renewals = vec![];
        for _ in 0..5 {
            // The new token may be the old one to the byte (same claims in the same second,
            // and RS256 signatures are deterministic): its expiry tells the renewal.
            let soon = now() + 30;
            b.edit_session(&format!("s.expires_at = {soon}")).await;
            b.client.refresh().await.unwrap();
            b.wait_for_change("expires_at", &json!(soon)).await;
            renewals.push(b.mark("session-renewed").await - b.mark("renewal-started").await);
            assert_eq!(b.url().await, format!("{}/ping", stack.origin), "{flow:?}");
            assert!(b.stored("expires_at").await.as_u64().unwrap() > now() + 600);
        }
        b.call("#call-private-scoped", Message::PRIVATE_SCOPED)
            .await;
        timings.push(format!(
            "{flow:?} flow: login round trip median {:.0} ms, silent renewal (hidden iframe) median {:.0} ms (5 runs each)",
            median(round_trips),
            median(renewals)
        ));
    }
    report("renewal.txt", timings.join("\n"));
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_ends_the_session() {
    require_browser!();
    let stack = stack_for(LoginFlow::Code, true, SessionStorage::Session).await;
    let b = browser().await;
    b.log_in_from_ping(&stack, "reader@example.com", "reader")
        .await;
    let first = b.stored("refresh_token").await;
    assert!(first.is_string(), "offline_access gave a refresh token");
    // About to expire: renewed with the refresh token, which rotates.
    let mut renewals = vec![];
    let mut last = first.clone();
    for _ in 0..5 {
        b.edit_session(&format!("s.expires_at = {}", now() + 30))
            .await;
        b.client.refresh().await.unwrap();
        last = b.wait_for_change("refresh_token", &last).await;
        renewals.push(b.mark("session-renewed").await - b.mark("renewal-started").await);
    }
    b.call("#call-private-scoped", Message::PRIVATE_SCOPED)
        .await;
    report(
        "refresh.txt",
        format!(
            "Code flow with refresh tokens: renewal by the refresh-token grant median {:.0} ms (5 runs)",
            median(renewals)
        ),
    );
    // The first, spent refresh token comes back (stolen and replayed): the tenant revokes
    // the family, and the app shows logged out without a redirect.
    b.edit_session(&format!(
        "s.refresh_token = {first}; s.expires_at = {}",
        now() + 30
    ))
    .await;
    b.client.refresh().await.unwrap();
    b.wait_for_text("#login-prompt", "Log in to call a private")
        .await;
    assert_eq!(b.session_storage(SESSION_KEY).await, json!(null));
    assert_eq!(b.url().await, format!("{}/ping", stack.origin));
    // The newest token of the family is dead too.
    let answer = reqwest::Client::new()
        .post(format!("{}oauth/token", stack.issuer()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", SPA_CLIENT_ID),
            ("refresh_token", last.as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 403);
}

/// While a silent renewal waits for the tenant (slowed down by a test switch), forged answers
/// are posted to the app's window: the right type and this renewal's own `state` and `nonce`
/// (read off the iframe), an ID token signed with the tenant's very key, but posted by
/// another window of another origin. The app must take none of them: the tenant's real answer,
/// `login_required` (this browser has no session there), leaves it logged out.
#[tokio::test]
async fn forged_renewal_answers_change_nothing() {
    require_browser!();
    let stack = stack_for(LoginFlow::Implicit, false, SessionStorage::Session).await;
    stack
        .app
        .tenant
        .tenant
        .set_silent_answer_delay(Duration::from_secs(3));
    let b = browser().await;
    b.open(&format!("{}/ping", stack.origin)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let src = loop {
        let src = b
            .client
            .execute(
                "const f = document.querySelector('iframe'); return f ? f.src : null;",
                vec![],
            )
            .await
            .unwrap();
        if let Some(src) = src.as_str() {
            break src.to_owned();
        }
        assert!(Instant::now() < deadline, "no renewal iframe");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (state, nonce) = (query_param(&src, "state"), query_param(&src, "nonce"));
    // Every check of the answer itself would pass: only where it comes from gives it away.
    let id_token = KEY.sign(&json!({
        "iss": stack.issuer(), "sub": "auth0|mallory", "aud": SPA_CLIENT_ID, "name": "Mallory",
        "exp": now() + 600, "iat": now(), "nonce": nonce,
        "at_hash": devtenant::testing::at_hash("forged"),
    }));
    let forged = json!({
        "type": "authorization_response",
        "response": {
            "access_token": "forged", "id_token": id_token, "expires_in": "7200",
            "token_type": "Bearer", "state": state,
        },
    });
    // From this very window (another window than the iframe, the app's origin): three times,
    // as an attacker would repeat it, and once with another state for good measure.
    let mut other_state = forged.clone();
    other_state["response"]["state"] = json!("another-state");
    for message in [&forged, &forged, &other_state, &forged] {
        b.client
            .execute(
                "window.postMessage(arguments[0], '*'); return true;",
                vec![message.clone()],
            )
            .await
            .unwrap();
    }
    // The tenant's real answer comes after its delay: login_required.
    b.wait_for_text("#login-prompt", "Log in to call a private")
        .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(b.client.find(Locator::Css("#logout")).await.is_err());
    assert_eq!(b.session_storage(SESSION_KEY).await, json!(null));
    let iframes = b
        .client
        .execute("return document.querySelectorAll('iframe').length;", vec![])
        .await
        .unwrap();
    assert_eq!(
        iframes,
        json!(0),
        "the renewal's iframe is removed once answered"
    );
}
