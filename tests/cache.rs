//! The cache of verified tokens: it must never let a token through that validation would
//! refuse now.

use std::time::Duration;

use api::auth::{JwksCache, JwksSettings, TokenValidator, ValidationSettings};
use api::config::jwks_url;
use integration_tests::*;
use serde_json::json;

#[tokio::test]
async fn cached_token_is_refused_once_it_expires() {
    let options = AppOptions {
        leeway: Duration::ZERO,
        ..AppOptions::default()
    };
    let (app, tenant) = spawn_app_with(options).await;
    let token = KEY.sign(&claims_with(tenant.issuer(), &[("exp", json!(now() + 4))]));
    for _ in 0..3 {
        assert_eq!(app.get("/api/private", Some(&token)).await.status(), 200);
    }
    tokio::time::sleep(Duration::from_millis(5100)).await;
    let refused = error_answer(app.get("/api/private", Some(&token)).await).await;
    assert_eq!(refused.status, 401);
    assert!(
        refused.body.message.contains("expired"),
        "{}",
        refused.body.message
    );
}

#[tokio::test]
async fn cached_token_is_refused_once_its_key_leaves_the_jwks() {
    let options = AppOptions {
        max_age: Duration::from_millis(200),
        refetch_cooldown: Duration::from_millis(50),
        ..AppOptions::default()
    };
    let (app, tenant) = spawn_app_with(options).await;
    let token = KEY.sign(&claims(tenant.issuer()));
    assert_eq!(app.get("/api/private", Some(&token)).await.status(), 200);
    assert_eq!(app.get("/api/private", Some(&token)).await.status(), 200);
    tenant.set_keys(vec![ROTATED_KEY.clone()]);
    assert!(app.eventually_answers("/api/private", &token, 401).await);
}

async fn validator(tenant: &RunningTenant, cache_size: usize) -> TokenValidator {
    let issuer = url::Url::parse(tenant.issuer()).unwrap();
    let jwks = JwksCache::new(JwksSettings {
        url: jwks_url(&issuer),
        max_age: Duration::from_secs(600),
        refetch_cooldown: Duration::from_secs(60),
        fetch_timeout: Duration::from_secs(5),
    });
    TokenValidator::new(
        ValidationSettings {
            issuer: tenant.issuer().to_owned(),
            audience: AUDIENCE.to_owned(),
            leeway: Duration::from_secs(5),
            cache_size,
        },
        jwks,
        Some(CLIENT_ID.to_owned()),
    )
}

#[tokio::test]
async fn junk_tokens_never_enter_the_cache() {
    let tenant = spawn_tenant(&[&KEY]).await;
    let validator = validator(&tenant, 100).await;
    let iss = tenant.issuer();
    let junk = [
        "not-a-jwt".to_owned(),
        ATTACKER_KEY.sign_with_header(&json!({"alg": "RS256", "kid": KEY.kid()}), &claims(iss)),
        KEY.sign(&claims_with(iss, &[("exp", json!(now() - 100))])),
        KEY.sign(&claims_with(iss, &[("aud", json!("https://other"))])),
        KEY.sign(&claims_with(iss, &[("iss", json!("https://evil/"))])),
    ];
    for _ in 0..50 {
        for token in &junk {
            assert!(validator.validate(token).await.is_err());
        }
    }
    assert_eq!(validator.cached_tokens(), 0);
    let good = KEY.sign(&claims(iss));
    assert!(validator.validate(&good).await.is_ok());
    assert!(validator.validate(&good).await.is_ok());
    assert_eq!(validator.cached_tokens(), 1);
}

#[tokio::test]
async fn cache_stays_within_its_size() {
    let tenant = spawn_tenant(&[&KEY]).await;
    let validator = validator(&tenant, 16).await;
    for i in 0..200 {
        let token = KEY.sign(&claims_with(
            tenant.issuer(),
            &[("sub", json!(format!("user-{i}")))],
        ));
        assert_eq!(
            validator.validate(&token).await.unwrap().sub,
            format!("user-{i}")
        );
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
    let validator = validator(&tenant, 100).await;
    let token = KEY.sign(&claims_with(tenant.issuer(), &[("scope", json!("openid"))]));
    let first = validator.validate(&token).await.unwrap();
    let second = validator.validate(&token).await.unwrap();
    assert_eq!(first.sub, second.sub);
    assert!(!second.grants("read:messages"));
}

#[tokio::test]
async fn cache_off_still_validates() {
    let tenant = spawn_tenant(&[&KEY]).await;
    let validator = validator(&tenant, 0).await;
    let token = KEY.sign(&claims(tenant.issuer()));
    assert!(validator.validate(&token).await.is_ok());
    assert!(validator.validate(&token).await.is_ok());
    assert_eq!(validator.cached_tokens(), 0);
}
