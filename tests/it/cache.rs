//! The cache of verified tokens: it must never let a token through that validation would
//! refuse now, and never be flushed by what does not change the keys.

use std::time::Duration;

use api::auth::{ConnectionMemo, JwksCache, JwksSettings, TokenValidator, ValidationSettings};
use integration_tests::*;
use serde_json::json;

#[tokio::test]
async fn a_cached_token_is_refused_once_it_expires() {
    let app = TestApp::builder()
        .settings(|s| s.validation.leeway = Duration::ZERO)
        .spawn()
        .await;
    let token = app.token(&[("exp", json!(now() + 4))]);
    for _ in 0..3 {
        assert_eq!(app.get("/api/private", Some(&token)).await.status(), 200);
    }
    tokio::time::sleep(Duration::from_millis(5100)).await;
    let refused = error_answer(app.get("/api/private", Some(&token)).await).await;
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.body.message,
        api::auth::TokenRejection::Expired.to_string()
    );
}

#[tokio::test]
async fn a_cached_token_is_refused_once_its_key_leaves_the_jwks() {
    let app = TestApp::builder()
        .key_refresh(Duration::from_millis(200), Duration::from_millis(50))
        .spawn()
        .await;
    let reader = app.reader().await;
    assert_eq!(reader.get("/api/private").await.status(), 200);
    assert_eq!(reader.get("/api/private").await.status(), 200);
    app.tenant.set_keys(vec![ROTATED_KEY.clone()]);
    assert!(
        app.eventually_answers("/api/private", &reader.access_token, 401)
            .await
    );
}

/// A validator of the API's, alone, against `tenant`, with the given cache size.
fn validator(tenant: &RunningTenant, cache_size: usize, cooldown: Duration) -> TokenValidator {
    let settings = settings_for(tenant.issuer());
    let jwks = JwksCache::new(JwksSettings {
        refetch_cooldown: cooldown,
        ..settings.jwks
    });
    let validation = ValidationSettings {
        cache_size,
        ..settings.validation
    };
    TokenValidator::new(validation, jwks, settings.client_id)
}

#[tokio::test]
async fn junk_tokens_never_enter_the_cache() {
    let tenant = spawn_tenant(&[&KEY]).await;
    let validator = validator(&tenant, 100, Duration::from_secs(60));
    let iss = tenant.issuer();
    let claims = |changes: &[(&str, serde_json::Value)]| access_claims(iss, changes);
    let junk = [
        "not-a-jwt".to_owned(),
        ATTACKER_KEY.sign_with_header(&json!({"alg": "RS256", "kid": KEY.kid()}), &claims(&[])),
        KEY.sign(&claims(&[("exp", json!(now() - 100))])),
        KEY.sign(&claims(&[("aud", json!("https://other"))])),
        KEY.sign(&claims(&[("iss", json!("https://evil/"))])),
    ];
    for _ in 0..50 {
        for token in &junk {
            assert!(validator.validate(token).await.is_err());
        }
    }
    assert_eq!(validator.cached_tokens(), 0);
    let good = KEY.sign(&claims(&[]));
    assert!(validator.validate(&good).await.is_ok());
    assert!(validator.validate(&good).await.is_ok());
    assert_eq!(validator.cached_tokens(), 1);
}

#[tokio::test]
async fn the_cache_stays_within_its_size() {
    let tenant = spawn_tenant(&[&KEY]).await;
    let validator = validator(&tenant, 16, Duration::from_secs(60));
    for i in 0..200 {
        let sub = format!("user-{i}");
        let token = KEY.sign(&access_claims(tenant.issuer(), &[("sub", json!(sub))]));
        assert_eq!(validator.validate(&token).await.unwrap().sub, sub);
    }
    assert!(
        validator.cached_tokens() <= 16,
        "{}",
        validator.cached_tokens()
    );
}

#[tokio::test]
async fn a_cache_hit_gives_the_same_claims_and_scope_rules() {
    let tenant = spawn_tenant(&[&KEY]).await;
    let validator = validator(&tenant, 100, Duration::from_secs(60));
    let token = KEY.sign(&access_claims(
        tenant.issuer(),
        &[("scope", json!("openid"))],
    ));
    let first = validator.validate(&token).await.unwrap();
    let second = validator.validate(&token).await.unwrap();
    assert_eq!(first.sub, second.sub);
    assert!(!second.grants("read:messages"));
}

#[tokio::test]
async fn with_the_cache_off_tokens_are_still_validated() {
    let tenant = spawn_tenant(&[&KEY]).await;
    let validator = validator(&tenant, 0, Duration::from_secs(60));
    let token = KEY.sign(&access_claims(tenant.issuer(), &[]));
    assert!(validator.validate(&token).await.is_ok());
    assert!(validator.validate(&token).await.is_ok());
    assert_eq!(validator.cached_tokens(), 0);
}

#[tokio::test]
async fn refetching_an_unchanged_key_set_keeps_the_generation_and_the_cache() {
    let tenant = spawn_tenant(&[&KEY]).await;
    let validator = validator(&tenant, 100, Duration::from_millis(30));
    let good = KEY.sign(&access_claims(tenant.issuer(), &[]));
    validator.validate(&good).await.unwrap();
    let generation = validator.jwks().generation();
    // Made-up kids make the API refetch; every time it gets the same key set.
    for i in 0..3 {
        tokio::time::sleep(Duration::from_millis(40)).await;
        let header = json!({"alg": "RS256", "kid": format!("made-up-{i}")});
        let junk = ATTACKER_KEY.sign_with_header(&header, &access_claims(tenant.issuer(), &[]));
        assert!(validator.validate(&junk).await.is_err());
    }
    assert_eq!(tenant.jwks_fetches(), 4);
    assert_eq!(
        validator.jwks().fetch_count(),
        4,
        "the API's own count agrees"
    );
    assert_eq!(validator.jwks().generation(), generation);
    assert_eq!(validator.cached_tokens(), 1);
    // A changed set does change the generation.
    tenant.set_keys(vec![KEY.clone(), ROTATED_KEY.clone()]);
    tokio::time::sleep(Duration::from_millis(40)).await;
    let rotated = ROTATED_KEY.sign(&access_claims(tenant.issuer(), &[]));
    validator.validate(&rotated).await.unwrap();
    assert_ne!(validator.jwks().generation(), generation);
}

#[tokio::test]
async fn a_connections_memo_holds_only_what_validation_would_let_through_now() {
    use api::auth::ConnectionMemo;
    let tenant = spawn_tenant(&[&KEY]).await;
    let validator = validator(&tenant, 100, Duration::from_millis(30));
    let memo = ConnectionMemo::default();
    let iss = tenant.issuer();
    let soon = KEY.sign(&access_claims(iss, &[("exp", json!(now() + 2))]));
    let junk = ATTACKER_KEY.sign_with_header(
        &json!({"alg": "RS256", "kid": KEY.kid()}),
        &access_claims(iss, &[]),
    );
    assert!(validator.validate_on(&soon, Some(&memo)).await.is_ok());
    assert!(validator.validate_on(&soon, Some(&memo)).await.is_ok());
    // A refused token does not displace it, nor is it let through because of it.
    assert!(validator.validate_on(&junk, Some(&memo)).await.is_err());
    assert!(validator.validate_on(&soon, Some(&memo)).await.is_ok());
    // Expired: refused, memo or not (JWT_LEEWAY is 5 s by default).
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert!(validator.validate_on(&soon, Some(&memo)).await.is_err());
    // A rotation that removes its key: refused too.
    let good = KEY.sign(&access_claims(iss, &[]));
    assert!(validator.validate_on(&good, Some(&memo)).await.is_ok());
    tenant.set_keys(vec![ROTATED_KEY.clone()]);
    let rotated = ROTATED_KEY.sign(&access_claims(iss, &[]));
    tokio::time::sleep(Duration::from_millis(40)).await;
    assert!(validator.validate(&rotated).await.is_ok());
    assert!(validator.validate_on(&good, Some(&memo)).await.is_err());
}

/// Whether a repeat skipped validation shows in the counts: a repeat on the same connection is
/// a memo hit, on another connection a shared-cache hit.
#[tokio::test]
async fn a_repeat_is_a_hit_on_one_connection_and_on_another() {
    let tenant = spawn_tenant(&[&KEY]).await;
    let validator = validator(&tenant, 100, TEST_REFETCH_COOLDOWN);
    let token = KEY.sign(&access_claims(tenant.issuer(), &[]));
    let (one, other) = (ConnectionMemo::default(), ConnectionMemo::default());
    for memo in [Some(&one), Some(&one), Some(&other), None] {
        validator.validate_on(&token, memo).await.unwrap();
    }
    let counts = validator.cache_counts();
    assert_eq!(counts.misses.get(), 1, "only the first is verified");
    assert_eq!(counts.memo_hits.get(), 1, "the same connection");
    assert_eq!(counts.hits.get(), 2, "another connection, and none");
    assert_eq!(validator.cached_tokens(), 1);
    // A token already valid (nbf passed) is a hit like any other.
    let started = KEY.sign(&access_claims(
        tenant.issuer(),
        &[("nbf", json!(now() - 10))],
    ));
    validator.validate(&started).await.unwrap();
    validator.validate(&started).await.unwrap();
    assert_eq!(counts.hits.get(), 3);
    assert_eq!(counts.misses.get(), 2);
}

/// A cached token no longer trusted is a miss, verified in full again: after the key set
/// changed, once it expired; and a token whose `nbf` is ahead is never a hit.
#[tokio::test]
async fn a_key_set_change_an_expiry_and_a_future_nbf_are_misses() {
    let tenant = spawn_tenant(&[&KEY]).await;
    let mut validation = settings_for(tenant.issuer()).validation;
    validation.leeway = Duration::ZERO;
    let jwks = JwksCache::new(JwksSettings {
        refetch_cooldown: Duration::from_millis(50),
        ..settings_for(tenant.issuer()).jwks
    });
    let validator = TokenValidator::new(validation, jwks, None);
    let misses = |v: &TokenValidator| v.cache_counts().misses.get();

    let token = KEY.sign(&access_claims(
        tenant.issuer(),
        &[("exp", json!(now() + 2))],
    ));
    validator.validate(&token).await.unwrap();
    validator.validate(&token).await.unwrap();
    assert_eq!(misses(&validator), 1);
    // The key set changes (a key added): the cached verdict is dropped, the token verified
    // again, and remembered again.
    tenant.set_keys(vec![KEY.clone(), ROTATED_KEY.clone()]);
    tokio::time::sleep(Duration::from_millis(60)).await;
    let _ = validator.jwks().key(ROTATED_KEY.kid(), None).await.unwrap();
    validator.validate(&token).await.unwrap();
    assert_eq!(misses(&validator), 2);
    validator.validate(&token).await.unwrap();
    assert_eq!(misses(&validator), 2);
    // It expires: a miss, and refused.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert!(validator.validate(&token).await.is_err());
    assert_eq!(misses(&validator), 3);

    let early = KEY.sign(&access_claims(
        tenant.issuer(),
        &[("nbf", json!(now() + 60))],
    ));
    for _ in 0..2 {
        assert!(validator.validate(&early).await.is_err());
    }
    assert_eq!(misses(&validator), 5);
    assert_eq!(validator.cache_counts().hits.get(), 2);
}

/// A key lookup of its own (without the token path's generation check) refreshes a key set
/// older than `JWKS_MAX_AGE` in the background, and a younger one never.
#[tokio::test]
async fn a_key_lookup_refreshes_only_a_set_older_than_its_max_age() {
    let tenant = spawn_tenant(&[&KEY]).await;
    let jwks = JwksCache::new(JwksSettings {
        max_age: Duration::from_millis(1500),
        refetch_cooldown: Duration::from_millis(100),
        ..settings_for(tenant.issuer()).jwks
    });
    let kid = KEY.kid();
    jwks.key(kid, None).await.unwrap();
    // Young: lookups past the least pause between fetches still fetch nothing.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        jwks.key(kid, None).await.unwrap();
    }
    assert_eq!(tenant.jwks_fetches(), 1, "a young key set is not refetched");
    // Old: the next lookup answers from the set it has and refreshes it behind.
    tokio::time::sleep(Duration::from_millis(400)).await;
    jwks.key(kid, None).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while tenant.jwks_fetches() < 2 {
        assert!(std::time::Instant::now() < deadline, "never refreshed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
