//! The API's JWKS client as the API uses it: caching, rotation, outages, single flight and
//! the refetch cooldown, against the development tenant with its fault switches.

use std::time::{Duration, Instant};

use api::ApiError;
use api::auth::TokenRejection;
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
    assert_eq!(answer.body.message, ApiError::KeysUnavailable.to_string());
    assert_eq!(answer.retry_after.as_deref(), Some("5"));

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
async fn a_new_key_within_the_cooldown_is_asked_to_retry_then_accepted() {
    let cooldown = Duration::from_secs(3);
    let app = TestApp::builder()
        // Long enough that even a loaded CI machine gets the second request in within it.
        .settings(move |s| s.jwks.refetch_cooldown = cooldown)
        .spawn()
        .await;
    app.assert_keys_loaded().await;
    app.tenant.set_keys(vec![KEY.clone(), ROTATED_KEY.clone()]);
    let new = ROTATED_KEY.sign(&app.claims(&[]));
    // Not "invalid": the key may be newer than the set fetched a moment ago.
    let answer = error_answer(app.get("/api/private", Some(&new)).await).await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.body.error, "temporarily_unavailable");
    let wait: u64 = answer.retry_after.unwrap().parse().unwrap();
    assert!((1..=3).contains(&wait), "Retry-After: {wait}");
    assert_eq!(app.tenant.jwks_fetches(), 1);
    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert_eq!(app.get("/api/private", Some(&new)).await.status(), 200);
    assert_eq!(app.tenant.jwks_fetches(), 2);
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
