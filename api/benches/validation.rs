//! `cargo bench -p api`: the validation path, function by function, with and without the
//! cache of verified tokens, so that a regression shows where it is.
//!
//! The tenant's keys come from the development tenant, in-process on 127.0.0.1:0.

use std::hint::black_box;
use std::sync::Arc;

use api::auth::{
    DpopChecker, DpopSettings, JwksCache, JwksSettings, KeySource, TokenValidator,
    ValidationSettings, access_token, checked_header,
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
        b.iter(|| access_token(black_box(&headers), None).unwrap().1.len())
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
    // DPoP: a fresh proof per request (made outside the measurement), checked in full: the
    // ES256 signature, the claims, the thumbprint, the replay cache.
    let key = shared::dpop::ProofKey::generate();
    let jkt = key.thumbprint();
    let checker = DpopChecker::new(
        DpopSettings {
            replay_capacity: 1_000_000,
            ..DpopSettings::new()
        },
        vec!["http://127.0.0.1:3001".into()],
    );
    let proofs: Vec<HeaderMap> = (0..200_000)
        .map(|_| {
            let proof = key.proof(
                "GET",
                "http://127.0.0.1:3001/api/private",
                Some(&setup.token),
                None,
                now() as i64,
            );
            let mut headers = HeaderMap::new();
            headers.insert("dpop", HeaderValue::from_str(&proof).unwrap());
            headers
        })
        .collect();
    let mut next = proofs.iter();
    group.bench_function("dpop_check_proof", |b| {
        b.iter(|| {
            let headers = next.next().expect("enough proofs for the run");
            checker
                .check(headers, "GET", "/api/private", &setup.token, &jkt)
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, validation);
criterion_main!(benches);
