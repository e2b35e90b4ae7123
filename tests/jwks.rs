//! The JWKS client as the API uses it: caching, rotation, outages, single flight and the
//! refetch cooldown, against a mock tenant whose failures the tests control.

use std::time::{Duration, Instant};

use futures::future::join_all;
use integration_tests::*;
use serde_json::json;

fn valid_token(tenant: &RunningTenant) -> String {
    KEY.sign(&claims(tenant.issuer()))
}

/// A loopback address where nothing listens.
async fn closed_issuer() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/")
}

#[tokio::test]
async fn keys_are_fetched_once_and_cached() {
    let (app, tenant) = spawn_app().await;
    let token = valid_token(&tenant);
    for _ in 0..20 {
        assert_eq!(app.get("/api/private", Some(&token)).await.status(), 200);
    }
    assert_eq!(tenant.jwks_fetches(), 1);
}

#[tokio::test]
async fn unreachable_jwks_at_start_fails_closed_then_recovers() {
    let issuer = closed_issuer().await;
    let app = spawn_app_for(&issuer, AppOptions::default()).await;
    let started = Instant::now();
    assert_eq!(app.get("/api/public", None).await.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(1));
    let token = KEY.sign(&claims(&issuer));
    let answer = error_answer(app.get("/api/private", Some(&token)).await).await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.body.error, "temporarily_unavailable");
    assert!(answer.body.message.contains("signing keys"));

    // The tenant comes up on the same address: the API recovers by itself.
    let jwks_listener =
        tokio::net::TcpListener::bind(issuer.trim_start_matches("http://").trim_end_matches('/'))
            .await
            .unwrap();
    let _tenant = DevTenant::spawn_on(jwks_listener, TenantConfig::builtin(), ring(&[&KEY]));
    assert!(app.eventually_answers("/api/private", &token, 200).await);
}

#[tokio::test]
async fn garbage_or_failing_jwks_at_start_fails_closed_then_recovers() {
    for mode in [
        JwksBehaviour::Garbage,
        JwksBehaviour::Status(500),
        JwksBehaviour::Status(404),
    ] {
        let tenant = spawn_tenant(&[&KEY]).await;
        tenant.set_jwks_behaviour(mode.clone());
        let app = spawn_app_for(tenant.issuer(), AppOptions::default()).await;
        let token = valid_token(&tenant);
        assert_eq!(app.get("/api/public", None).await.status(), 200);
        let answer = error_answer(app.get("/api/private", Some(&token)).await).await;
        assert_eq!(answer.status, 503, "{mode:?}");
        tenant.set_jwks_behaviour(JwksBehaviour::Normal);
        assert!(
            app.eventually_answers("/api/private", &token, 200).await,
            "{mode:?}"
        );
    }
}

#[tokio::test]
async fn empty_key_set_is_not_a_usable_key_set() {
    let tenant = spawn_tenant(&[&KEY]).await;
    tenant.set_jwks_behaviour(JwksBehaviour::Publish(json!({"keys": []})));
    let app = spawn_app_for(tenant.issuer(), AppOptions::default()).await;
    let answer = error_answer(app.get("/api/private", Some(&valid_token(&tenant))).await).await;
    assert_eq!(answer.status, 503);
}

#[tokio::test]
async fn outage_after_start_keeps_serving_cached_keys() {
    let options = AppOptions {
        max_age: Duration::from_millis(100),
        refetch_cooldown: Duration::from_millis(50),
        ..AppOptions::default()
    };
    let (app, tenant) = spawn_app_with(options).await;
    let token = valid_token(&tenant);
    assert_eq!(app.get("/api/private", Some(&token)).await.status(), 200);
    tenant.set_jwks_behaviour(JwksBehaviour::Status(503));
    let fetches_before = tenant.jwks_fetches();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(app.get("/api/private", Some(&token)).await.status(), 200);
    }
    // The stale keys were refreshed (and failed) in the background meanwhile.
    assert!(tenant.jwks_fetches() > fetches_before);
}

#[tokio::test]
async fn slow_jwks_with_100_concurrent_cold_requests_fetches_once() {
    let tenant = spawn_tenant(&[&KEY]).await;
    tenant.set_jwks_delay(Duration::from_millis(500));
    let app = spawn_app_for(tenant.issuer(), AppOptions::default()).await;
    let token = valid_token(&tenant);
    let requests = (0..100).map(|_| app.get("/api/private", Some(&token)));
    let answers = join_all(requests).await;
    assert!(answers.iter().all(|r| r.status() == 200));
    assert_eq!(tenant.jwks_fetches(), 1);
}

#[tokio::test]
async fn jwks_slower_than_the_timeout_gives_503_not_a_hang() {
    let tenant = spawn_tenant(&[&KEY]).await;
    tenant.set_jwks_delay(Duration::from_secs(30));
    let options = AppOptions {
        fetch_timeout: Duration::from_millis(300),
        ..AppOptions::default()
    };
    let app = spawn_app_for(tenant.issuer(), options).await;
    let started = Instant::now();
    let answer = error_answer(app.get("/api/private", Some(&valid_token(&tenant))).await).await;
    assert_eq!(answer.status, 503);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn rotated_key_is_accepted_after_one_refetch() {
    let (app, tenant) = spawn_app().await;
    let old = valid_token(&tenant);
    assert_eq!(app.get("/api/private", Some(&old)).await.status(), 200);
    // The tenant rotates: the new key is published, the old one kept for a while.
    tenant.set_keys(vec![KEY.clone(), ROTATED_KEY.clone()]);
    tokio::time::sleep(AppOptions::default().refetch_cooldown).await;
    let new = ROTATED_KEY.sign(&claims(tenant.issuer()));
    assert_eq!(app.get("/api/private", Some(&new)).await.status(), 200);
    assert_eq!(app.get("/api/private", Some(&old)).await.status(), 200);
    assert_eq!(tenant.jwks_fetches(), 2);
}

#[tokio::test]
async fn new_kid_within_the_cooldown_is_refused_without_a_fetch_then_accepted() {
    let options = AppOptions {
        // Long enough that even a loaded CI machine gets the second request in within it.
        refetch_cooldown: Duration::from_secs(3),
        ..AppOptions::default()
    };
    let (app, tenant) = spawn_app_with(options).await;
    assert_eq!(
        app.get("/api/private", Some(&valid_token(&tenant)))
            .await
            .status(),
        200
    );
    tenant.set_keys(vec![KEY.clone(), ROTATED_KEY.clone()]);
    let new = ROTATED_KEY.sign(&claims(tenant.issuer()));
    let answer = error_answer(app.get("/api/private", Some(&new)).await).await;
    assert_eq!(answer.status, 401);
    assert!(answer.body.message.contains("unknown kid"));
    assert_eq!(tenant.jwks_fetches(), 1);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(app.get("/api/private", Some(&new)).await.status(), 200);
    assert_eq!(tenant.jwks_fetches(), 2);
}

#[tokio::test]
async fn removed_key_is_refused_once_the_key_set_is_refreshed() {
    let options = AppOptions {
        max_age: Duration::from_millis(200),
        refetch_cooldown: Duration::from_millis(50),
        ..AppOptions::default()
    };
    let (app, tenant) = spawn_app_with(options).await;
    let old = valid_token(&tenant);
    assert_eq!(app.get("/api/private", Some(&old)).await.status(), 200);
    tenant.set_keys(vec![ROTATED_KEY.clone()]);
    assert!(app.eventually_answers("/api/private", &old, 401).await);
}

#[tokio::test]
async fn unknown_kid_storm_is_bounded_by_the_cooldown() {
    let cooldown = Duration::from_millis(500);
    let options = AppOptions {
        refetch_cooldown: cooldown,
        ..AppOptions::default()
    };
    let (app, tenant) = spawn_app_with(options).await;
    assert_eq!(
        app.get("/api/private", Some(&valid_token(&tenant)))
            .await
            .status(),
        200
    );
    let app = &app;
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < Duration::from_millis(1500) {
        let batch = (0..20).map(|i| {
            let header = json!({"alg": "RS256", "kid": format!("made-up-{sent}-{i}")});
            let token = ATTACKER_KEY.sign_with_header(&header, &claims(tenant.issuer()));
            async move { app.get("/api/private", Some(&token)).await }
        });
        for answer in join_all(batch).await {
            assert_eq!(answer.status(), 401);
        }
        sent += 20;
    }
    let elapsed = started.elapsed();
    let bound = 1 + 1 + (elapsed.as_millis() / cooldown.as_millis()) as usize;
    assert!(sent >= 100, "only {sent} requests sent");
    assert!(
        tenant.jwks_fetches() <= bound,
        "{} fetches for {sent} unknown kids in {elapsed:?} (bound {bound})",
        tenant.jwks_fetches()
    );
}
