//! `cargo bench -p api`: the validation path, function by function, with and without the
//! cache of verified tokens, so that a regression shows where it is.
//!
//! The tenant's keys come from the development tenant, in-process on 127.0.0.1:0.

use std::hint::black_box;
use std::sync::Arc;

use api::auth::{
    JwksCache, JwksSettings, KeySource, TokenValidator, ValidationSettings, bearer_token,
    checked_header,
};
use axum::http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
use criterion::{Criterion, criterion_group, criterion_main};
use devtenant::DevTenant;
use devtenant::testing::{AUDIENCE, now};
use serde_json::json;

struct Setup {
    token: String,
    jwks: JwksCache,
    uncached: TokenValidator,
    cached: TokenValidator,
}

fn setup(runtime: &tokio::runtime::Runtime) -> Setup {
    runtime.block_on(async {
        let tenant = DevTenant::spawn().await;
        // Kept serving for the whole run.
        let tenant = Box::leak(Box::new(tenant));
        let jwks_url = url::Url::parse(&tenant.endpoint(".well-known/jwks.json")).unwrap();
        let jwks = JwksCache::new(JwksSettings::new(KeySource::Jwks(jwks_url)));
        let validator = |cache_size| {
            let settings = ValidationSettings {
                cache_size,
                ..ValidationSettings::new(tenant.issuer(), AUDIENCE)
            };
            TokenValidator::new(settings, jwks.clone(), None)
        };
        let now = now();
        let token = tenant.signing_key().sign(&json!({
            "iss": tenant.issuer(), "sub": "auth0|reader", "aud": [AUDIENCE, format!("{}userinfo", tenant.issuer())],
            "iat": now, "exp": now + 3600, "azp": "client", "scope": "openid profile read:messages",
        }));
        let setup = Setup {
            token,
            uncached: validator(0),
            cached: validator(10_000),
            jwks: jwks.clone(),
        };
        // Warm: the keys are fetched, the cached validator has seen the token.
        setup.cached.validate(&setup.token).await.unwrap();
        setup
    })
}

fn validation(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let setup = setup(&runtime);
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {}", setup.token)).unwrap(),
    );
    let kid = checked_header(&setup.token).unwrap();
    let claims: Arc<_> = runtime
        .block_on(setup.cached.validate(&setup.token))
        .unwrap();

    let mut group = c.benchmark_group("validation");
    group.bench_function("parse_bearer_header", |b| {
        b.iter(|| bearer_token(black_box(&headers), None).unwrap().len())
    });
    group.bench_function("check_jws_header", |b| {
        b.iter(|| checked_header(black_box(&setup.token)).unwrap())
    });
    group.bench_function("pick_key_by_kid", |b| {
        b.to_async(&runtime)
            .iter(|| async { setup.jwks.key(black_box(&kid), None).await.unwrap() })
    });
    group.bench_function("validate_uncached_rsa_verify_and_claims", |b| {
        b.to_async(&runtime).iter(|| async {
            setup
                .uncached
                .validate(black_box(&setup.token))
                .await
                .unwrap()
        })
    });
    group.bench_function("validate_cached_hit", |b| {
        b.to_async(&runtime).iter(|| async {
            setup
                .cached
                .validate(black_box(&setup.token))
                .await
                .unwrap()
        })
    });
    group.bench_function("check_scope", |b| {
        b.iter(|| black_box(&claims).grants(black_box("read:messages")))
    });
    group.finish();
}

criterion_group!(benches, validation);
criterion_main!(benches);
