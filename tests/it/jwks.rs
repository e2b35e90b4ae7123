//! The API's JWKS client as the API uses it: caching, rotation, outages, single flight and
//! the refetch cooldown, against the development tenant with its fault switches.

use std::time::{Duration, Instant};

use api::ApiError;
use api::auth::{JwksSettings, KEY_SKEW, MIN_REFETCH_INTERVAL, TokenRejection};
use futures::future::join_all;
use integration_tests::*;
use serde_json::json;

/// A loopback address where nothing listens.
async fn closed_issuer() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/")
}

/// The API alone, trusting `issuer` with the test settings.
async fn api_for(issuer: &str, change: impl FnOnce(&mut api::config::Settings)) -> TestApi {
    let mut settings = settings_for(issuer);
    change(&mut settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    TestApi {
        base: serve_api(listener, settings),
        client: reqwest::Client::new(),
    }
}

struct TestApi {
    base: String,
    client: reqwest::Client,
}

impl TestApi {
    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }
}

#[tokio::test]
async fn keys_are_fetched_once_and_cached() {
    let app = TestApp::spawn().await;
    let reader = app.reader().await;
    for _ in 0..20 {
        assert_eq!(reader.get("/api/private").await.status(), 200);
    }
    assert_eq!(app.tenant.jwks_fetches(), 1);
}

#[tokio::test]
async fn an_unreachable_tenant_at_start_fails_closed_then_recovers() {
    let issuer = closed_issuer().await;
    let api = api_for(&issuer, |_| {}).await;
    let started = Instant::now();
    assert_eq!(api.get("/api/public", None).await.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(api.get("/readyz", None).await.status(), 503);
    let token = KEY.sign(&access_claims(&issuer, &[]));
    let answer = error_answer(api.get("/api/private", Some(&token)).await).await;
    assert_eq!(answer.status, 503);
    assert_eq!(
        answer.body.message,
        ApiError::KeysUnavailable(None).to_string()
    );
    assert_eq!(answer.retry_after.as_deref(), Some("5"));
    let ready = error_answer(api.get("/readyz", None).await).await;
    assert!(
        ready.body.message.contains("could not be reached"),
        "{}",
        ready.body.message
    );

    // The tenant comes up on the same address: the API recovers by itself.
    let addr = issuer.trim_start_matches("http://").trim_end_matches('/');
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let _tenant = DevTenant::spawn_on(listener, TenantConfig::builtin(), ring(&[&KEY]));
    let deadline = Instant::now() + Duration::from_secs(5);
    while api.get("/api/private", Some(&token)).await.status() != 200 {
        assert!(Instant::now() < deadline, "the API never recovered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(api.get("/readyz", None).await.status(), 200);
}

/// Behind a load balancer an unready API gets no requests: it must become ready on its own.
#[tokio::test]
async fn a_tenant_that_comes_up_late_makes_the_api_ready_with_no_request_asking() {
    let issuer = closed_issuer().await;
    let api = api_for(&issuer, |s| {
        s.jwks.refetch_cooldown = Duration::from_secs(2);
    })
    .await;
    assert_eq!(api.get("/readyz", None).await.status(), 503);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let addr = issuer.trim_start_matches("http://").trim_end_matches('/');
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let tenant = DevTenant::spawn_on(listener, TenantConfig::builtin(), ring(&[&KEY]));
    let up = Instant::now();
    // Only /readyz is asked: the first fetch is retried on its own, its pause at most the
    // cooldown.
    while api.get("/readyz", None).await.status() != 200 {
        assert!(up.elapsed() < Duration::from_secs(6), "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(tenant.jwks_fetches(), 1);
    // And it stops retrying once loaded.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(tenant.jwks_fetches(), 1);
}

#[tokio::test]
async fn a_garbage_or_failing_jwks_at_start_fails_closed_then_recovers() {
    for mode in [
        JwksBehaviour::Garbage,
        JwksBehaviour::Status(500),
        JwksBehaviour::Status(404),
        JwksBehaviour::Publish(json!({"keys": []})),
    ] {
        let tenant = spawn_tenant(&[&KEY]).await;
        tenant.set_jwks_behaviour(mode.clone());
        let app = TestApp::builder().spawn_for(tenant).await;
        let token = app.token(&[]);
        assert_eq!(app.get("/api/public", None).await.status(), 200);
        let answer = error_answer(app.get("/api/private", Some(&token)).await).await;
        assert_eq!(answer.status, 503, "{mode:?}");
        app.tenant.set_jwks_behaviour(JwksBehaviour::Normal);
        assert!(
            app.eventually_answers("/api/private", &token, 200).await,
            "{mode:?}"
        );
    }
}

#[tokio::test]
async fn an_outage_after_start_keeps_serving_cached_keys() {
    let app = TestApp::builder()
        .key_refresh(Duration::from_millis(100), Duration::from_millis(50))
        .spawn()
        .await;
    let reader = app.reader().await;
    assert_eq!(reader.get("/api/private").await.status(), 200);
    app.tenant.set_jwks_behaviour(JwksBehaviour::Status(503));
    let fetches_before = app.tenant.jwks_fetches();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(reader.get("/api/private").await.status(), 200);
    }
    // The stale keys were refreshed (and failed) in the background meanwhile.
    assert!(app.tenant.jwks_fetches() > fetches_before);
    // A key the API has not seen, while the tenant's keys cannot be fetched: the outage is the
    // answer (503), not "no such key" — the key may well be published.
    let new = ROTATED_KEY.sign(&app.claims(&[]));
    let answer = error_answer(app.get("/api/private", Some(&new)).await).await;
    assert_eq!(answer.status, 503, "{}", answer.body.message);
}

#[tokio::test]
async fn a_slow_jwks_with_100_concurrent_cold_requests_fetches_once() {
    let tenant = spawn_tenant(&[&KEY]).await;
    tenant.set_jwks_delay(Duration::from_millis(500));
    let app = TestApp::builder().spawn_for(tenant).await;
    let token = app.token(&[]);
    let answers = join_all((0..100).map(|_| app.get("/api/private", Some(&token)))).await;
    assert!(answers.iter().all(|r| r.status() == 200));
    assert_eq!(app.tenant.jwks_fetches(), 1);
}

#[tokio::test]
async fn a_jwks_slower_than_the_timeout_gives_503_not_a_hang() {
    let tenant = spawn_tenant(&[&KEY]).await;
    tenant.set_jwks_delay(Duration::from_secs(30));
    let app = TestApp::builder()
        .settings(|s| s.jwks.fetch_timeout = Duration::from_millis(300))
        .spawn_for(tenant)
        .await;
    let started = Instant::now();
    let answer = error_answer(app.get("/api/private", Some(&app.token(&[]))).await).await;
    assert_eq!(answer.status, 503);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_rotated_key_is_accepted_after_one_refetch() {
    let app = TestApp::spawn().await;
    let old = app.token(&[]);
    assert_eq!(app.get("/api/private", Some(&old)).await.status(), 200);
    // The tenant rotates: the new key is published, the old one kept for a while.
    app.tenant.set_keys(vec![KEY.clone(), ROTATED_KEY.clone()]);
    tokio::time::sleep(TEST_REFETCH_COOLDOWN).await;
    let new = ROTATED_KEY.sign(&app.claims(&[]));
    assert_eq!(app.get("/api/private", Some(&new)).await.status(), 200);
    assert_eq!(app.get("/api/private", Some(&old)).await.status(), 200);
    assert_eq!(app.tenant.jwks_fetches(), 2);
}

#[tokio::test]
async fn a_new_key_right_after_a_fetch_waits_out_the_least_pause_and_is_accepted() {
    let app = TestApp::builder()
        .settings(|s| s.jwks.refetch_cooldown = JwksSettings::DEFAULT_REFETCH_COOLDOWN)
        .spawn()
        .await;
    app.assert_keys_loaded().await;
    app.tenant.set_keys(vec![KEY.clone(), ROTATED_KEY.clone()]);
    let new = ROTATED_KEY.sign(&app.claims(&[]));
    // Not "invalid", and not refused either: held until a fetch may start (a second at most).
    let started = Instant::now();
    assert_eq!(app.get("/api/private", Some(&new)).await.status(), 200);
    assert!(started.elapsed() <= MIN_REFETCH_INTERVAL + Duration::from_millis(500));
    assert_eq!(app.tenant.jwks_fetches(), 2);
}

/// Once an unknown `kid` has come up empty, the next ones within the longer pause are asked to
/// come back (503 with `Retry-After`), never held.
#[tokio::test]
async fn after_a_fruitless_refetch_unknown_kids_are_asked_to_come_back() {
    let app = TestApp::builder()
        .settings(|s| s.jwks.refetch_cooldown = JwksSettings::DEFAULT_REFETCH_COOLDOWN)
        .spawn()
        .await;
    app.assert_keys_loaded().await;
    let made_up = |kid: &str| {
        ATTACKER_KEY.sign_with_header(&json!({"alg": "RS256", "kid": kid}), &app.claims(&[]))
    };
    // Held for the least pause, fetched, found nothing: a 401.
    assert_eq!(
        app.get("/api/private", Some(&made_up("one")))
            .await
            .status(),
        401
    );
    let started = Instant::now();
    let answer = error_answer(app.get("/api/private", Some(&made_up("two"))).await).await;
    assert!(started.elapsed() < Duration::from_millis(500), "not held");
    assert_eq!(answer.status, 503);
    assert_eq!(answer.body.error, "temporarily_unavailable");
    let wait: u64 = answer.retry_after.unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "Retry-After: {wait}");
    assert_eq!(app.tenant.jwks_fetches(), 2);
}

/// A provider that starts signing with a new key at once, under a steady stream of its
/// tokens, with the default 10 s cooldown: followed within about a second.
#[tokio::test]
async fn a_key_a_provider_signs_with_at_once_is_accepted_within_about_a_second() {
    let app = TestApp::builder()
        .settings(|s| s.jwks.refetch_cooldown = JwksSettings::DEFAULT_REFETCH_COOLDOWN)
        .spawn()
        .await;
    app.assert_keys_loaded().await;
    app.tenant.set_keys(vec![ROTATED_KEY.clone(), KEY.clone()]);
    let rotated = Instant::now();
    let mut refused = 0;
    loop {
        let new = ROTATED_KEY.sign(&app.claims(&[]));
        match app.get("/api/private", Some(&new)).await.status().as_u16() {
            200 => break,
            503 => refused += 1,
            other => panic!("{other} for a token of a published key"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = rotated.elapsed();
    assert!(
        took < Duration::from_millis(1500),
        "{took:?}, {refused} refusals"
    );
    assert_eq!(refused, 0, "held, never refused");
    assert_eq!(app.tenant.jwks_fetches(), 2);
}

/// A token issued well before the keys were last fetched cannot carry a key newer than them:
/// an unknown `kid` there is a 401 at once, and costs no fetch.
#[tokio::test]
async fn an_unknown_kid_on_a_token_older_than_the_keys_is_refused_without_a_fetch() {
    let app = TestApp::builder()
        .settings(|s| s.jwks.refetch_cooldown = Duration::from_millis(50))
        .spawn()
        .await;
    app.assert_keys_loaded().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let header = json!({"alg": "RS256", "kid": "retired-key"});
    let issued = now() - KEY_SKEW.as_secs() - 30;
    let old = ATTACKER_KEY.sign_with_header(&header, &app.claims(&[("iat", json!(issued))]));
    let answer = error_answer(app.get("/api/private", Some(&old)).await).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body.message, TokenRejection::UnknownKid.to_string());
    assert_eq!(app.tenant.jwks_fetches(), 1);
    // The same kid on a fresh token may be a new key: that one is looked for.
    let fresh = ATTACKER_KEY.sign_with_header(&header, &app.claims(&[]));
    assert_eq!(app.get("/api/private", Some(&fresh)).await.status(), 401);
    assert_eq!(app.tenant.jwks_fetches(), 2);
}

/// The quickstart's most frequent mistake: the SPA logged in at another tenant than the API
/// trusts. Named as such, whatever its `kid`, and no fetch is made for it.
#[tokio::test]
async fn a_token_of_another_tenant_is_a_401_naming_both_issuers() {
    let app = TestApp::spawn().await;
    app.assert_keys_loaded().await;
    let other = "https://other-tenant.eu.auth0.com/";
    let header = json!({"alg": "RS256", "kid": "the-other-tenants-key"});
    let token = ATTACKER_KEY.sign_with_header(&header, &access_claims(other, &[]));
    let answer = error_answer(app.get("/api/private-scoped", Some(&token)).await).await;
    assert_eq!(answer.status, 401);
    let named = TokenRejection::WrongIssuer {
        trusted: app.issuer().to_owned(),
        got: Some(other.to_owned()),
    };
    assert_eq!(answer.body.message, named.to_string());
    assert!(answer.body.message.contains(other) && answer.body.message.contains(app.issuer()));
    assert!(answer.challenge.unwrap().contains("invalid_token"));
    assert_eq!(app.tenant.jwks_fetches(), 1);
}

/// Made-up `kid`s under the default cooldown: each refetch that finds nothing doubles the
/// pause (1 s, 2 s, 4 s, then the cooldown), so three seconds of them cost two fetches.
#[tokio::test]
async fn made_up_kids_back_off_to_the_cooldown() {
    let app = TestApp::builder()
        .settings(|s| s.jwks.refetch_cooldown = JwksSettings::DEFAULT_REFETCH_COOLDOWN)
        .spawn()
        .await;
    app.assert_keys_loaded().await;
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < Duration::from_millis(3500) {
        let header = json!({"alg": "RS256", "kid": format!("made-up-{sent}")});
        let token = ATTACKER_KEY.sign_with_header(&header, &app.claims(&[]));
        let status = app
            .get("/api/private", Some(&token))
            .await
            .status()
            .as_u16();
        assert!(status == 401 || status == 503, "{status}");
        sent += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // At start, then about 1 s and 3 s later.
    assert!(sent > 50);
    assert!(
        app.tenant.jwks_fetches() <= 3,
        "{} fetches",
        app.tenant.jwks_fetches()
    );
}

/// A client that hangs up right after sending an unknown `kid` must not cancel the fetch it
/// started before its pause is counted: else each such connection could make another fetch.
#[tokio::test]
async fn clients_that_hang_up_cannot_make_the_api_fetch_again_and_again() {
    use tokio::io::AsyncWriteExt;
    let tenant = spawn_tenant(&[&KEY]).await;
    let app = TestApp::builder()
        .settings(|s| s.jwks.refetch_cooldown = JwksSettings::DEFAULT_REFETCH_COOLDOWN)
        .spawn_for(tenant)
        .await;
    app.assert_keys_loaded().await;
    tokio::time::sleep(MIN_REFETCH_INTERVAL).await;
    app.tenant.set_jwks_delay(Duration::from_millis(300));
    let before = app.tenant.jwks_fetches();
    let addr = app.base.trim_start_matches("http://").to_owned();
    for i in 0..10 {
        let header = json!({"alg": "RS256", "kid": format!("hang-up-{i}")});
        let token = ATTACKER_KEY.sign_with_header(&header, &app.claims(&[]));
        let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let request = format!(
            "GET /api/private HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
        );
        socket.write_all(request.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(socket);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        app.tenant.jwks_fetches() <= before + 1,
        "{} fetches for 10 hung-up requests",
        app.tenant.jwks_fetches() - before
    );
}

#[tokio::test]
async fn a_removed_key_is_refused_once_the_key_set_is_refreshed() {
    let app = TestApp::builder()
        .key_refresh(Duration::from_millis(200), Duration::from_millis(50))
        .spawn()
        .await;
    let old = app.token(&[]);
    assert_eq!(app.get("/api/private", Some(&old)).await.status(), 200);
    app.tenant.set_keys(vec![ROTATED_KEY.clone()]);
    assert!(app.eventually_answers("/api/private", &old, 401).await);
}

#[tokio::test]
async fn an_unknown_kid_storm_is_bounded_by_the_cooldown() {
    let cooldown = Duration::from_millis(500);
    let app = TestApp::builder()
        .settings(move |s| s.jwks.refetch_cooldown = cooldown)
        .spawn()
        .await;
    app.assert_keys_loaded().await;
    let app = &app;
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < Duration::from_millis(1500) {
        let batch = (0..20).map(|i| {
            let header = json!({"alg": "RS256", "kid": format!("made-up-{sent}-{i}")});
            let token = ATTACKER_KEY.sign_with_header(&header, &app.claims(&[]));
            async move { error_answer(app.get("/api/private", Some(&token)).await).await }
        });
        for answer in join_all(batch).await {
            // Refused: as unknown after a fetch, or asked to come back during the cooldown.
            let unknown = TokenRejection::UnknownKid.to_string();
            assert!(
                (answer.status, answer.body.message.as_str()) == (401, unknown.as_str())
                    || (answer.status == 503 && answer.retry_after.is_some()),
                "{} {}",
                answer.status,
                answer.body.message
            );
        }
        sent += 20;
    }
    let elapsed = started.elapsed();
    let bound = 1 + 1 + (elapsed.as_millis() / cooldown.as_millis()) as usize;
    assert!(sent >= 100, "only {sent} requests sent");
    assert!(
        app.tenant.jwks_fetches() <= bound,
        "{} fetches for {sent} unknown kids in {elapsed:?} (bound {bound})",
        app.tenant.jwks_fetches()
    );
}

/// A tenant that is down is not called every second: failed fetches double the pause before
/// the next, up to the cooldown, and the first success makes it short again.
#[tokio::test]
async fn failed_fetches_back_off_to_the_cooldown() {
    let app = TestApp::builder()
        .key_refresh(Duration::from_millis(100), Duration::from_secs(4))
        .spawn()
        .await;
    let reader = app.reader().await;
    assert_eq!(reader.get("/api/private").await.status(), 200);
    app.tenant.set_jwks_behaviour(JwksBehaviour::Status(503));
    let mut seen = app.tenant.jwks_fetches();
    let started = Instant::now();
    let mut attempts = Vec::new();
    while started.elapsed() < Duration::from_millis(8500) {
        assert_eq!(
            reader.get("/api/private").await.status(),
            200,
            "cached keys"
        );
        let fetches = app.tenant.jwks_fetches();
        if fetches > seen {
            attempts.push(started.elapsed());
            seen = fetches;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Pauses of 1, 2 and 4 s after the first failure: four attempts in 8.5 s, not eight; the
    // pause stays at the cooldown (nothing quiet for twice the cooldown resets it).
    let pauses: Vec<_> = attempts.windows(2).map(|w| w[1] - w[0]).collect();
    let shown = format!("attempts at {attempts:?}");
    assert!((3..=4).contains(&attempts.len()), "{shown}");
    assert!(pauses[0] >= Duration::from_millis(900), "{shown}");
    assert!(pauses[1] >= Duration::from_millis(1900), "{shown}");
    if let Some(third) = pauses.get(2) {
        assert!(*third >= Duration::from_millis(3900), "{shown}");
    }
}

/// A key set is a few kilobytes; a document of up to 512 KiB exactly is still read (a provider that
/// publishes many keys, or pads its answer), and one past that is refused with the reason.
#[tokio::test]
async fn a_key_set_is_read_up_to_512_kib_and_no_further() {
    // A key set whose document is exactly `bytes` long, as the tenant serialises it.
    let padded = |bytes: usize| {
        let mut set = json!({ "keys": [KEY.jwk()], "padding": "" });
        let base = serde_json::to_vec(&set).unwrap().len();
        set["padding"] = json!("x".repeat(bytes - base));
        assert_eq!(serde_json::to_vec(&set).unwrap().len(), bytes);
        JwksBehaviour::Publish(set)
    };
    let tenant = spawn_tenant(&[&KEY]).await;
    tenant.set_jwks_behaviour(padded(512 * 1024));
    let app = TestApp::builder().spawn_for(tenant).await;
    assert_eq!(
        app.get("/api/private", Some(&app.token(&[])))
            .await
            .status(),
        200
    );

    let tenant = spawn_tenant(&[&KEY]).await;
    tenant.set_jwks_behaviour(padded(512 * 1024 + 1));
    let app = TestApp::builder().spawn_for(tenant).await;
    let answer = error_answer(app.get("/api/private", Some(&app.token(&[]))).await).await;
    assert_eq!(answer.status, 503);
    let ready = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    let reason = ready.text().await.unwrap();
    assert!(
        reason.contains("answered more than 524288 bytes"),
        "{reason}"
    );
    let refused = app
        .metric(r#"api_jwks_fetches_total{outcome="too_large"}"#)
        .await;
    assert!(refused >= 1.0, "{}", app.scrape().await);
}
