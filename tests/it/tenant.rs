//! The API against tenants of other shapes than Auth0's: an issuer without a trailing slash,
//! keys that are not at `/.well-known/jwks.json`, found through OpenID discovery, and a key
//! rotation done the way the tenant's operator does it.

use api::ApiError;
use api::auth::FetchError;
use integration_tests::*;
use shared::Message;
use tokio::net::TcpListener;

/// A tenant on 127.0.0.1:0 whose issuer is `issuer(addr)` and whose keys are at `jwks_path`.
async fn tenant_with(
    issuer: impl FnOnce(std::net::SocketAddr) -> String,
    jwks_path: Option<&str>,
) -> RunningTenant {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = TenantConfig::builtin();
    config.tenant.issuer = Some(issuer(listener.local_addr().unwrap()));
    config.tenant.jwks_path = jwks_path.map(str::to_owned);
    DevTenant::spawn_on(listener, config, ring(&[&KEY]))
}

#[tokio::test]
async fn an_issuer_without_a_trailing_slash_is_compared_as_written() {
    let tenant = tenant_with(|addr| format!("http://{addr}"), None).await;
    assert!(!tenant.issuer().ends_with('/'));
    let app = TestApp::builder().spawn_for(tenant).await;
    let m2m = app.m2m().await;
    assert_eq!(m2m.get("/api/private-scoped").await.status(), 200);
    // The same token with a slash added to `iss` is another issuer's.
    let slashed = format!("{}/", app.issuer());
    let token = app.token(&[("iss", serde_json::json!(slashed))]);
    let answer = error_answer(app.get("/api/private", Some(&token)).await).await;
    assert_eq!(answer.status, 401);
    let config: shared::AuthConfig = app
        .get("/auth_config.json", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        config.issuer,
        app.issuer(),
        "the SPA checks the same issuer"
    );
}

#[tokio::test]
async fn keys_elsewhere_than_auth0s_path_are_found_through_discovery() {
    let tenant = tenant_with(|addr| format!("http://{addr}"), Some("/oauth/keys")).await;
    let app = TestApp::builder().spawn_for(tenant).await;
    let not_at_auth0s_path = app
        .client
        .get(app.tenant.endpoint(".well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(not_at_auth0s_path.status(), 404);
    let reader = app.reader().await;
    assert_eq!(
        reader
            .get("/api/private")
            .await
            .json::<Message>()
            .await
            .unwrap()
            .message,
        Message::PRIVATE
    );
    assert_eq!(app.tenant.jwks_fetches(), 1);
}

#[tokio::test]
async fn a_discovery_document_naming_another_issuer_is_refused() {
    // The tenant says it is `http://{addr}/`; the API is told the issuer has no slash.
    let tenant = tenant_with(|addr| format!("http://{addr}/"), Some("/oauth/keys")).await;
    let issuer = tenant.issuer().trim_end_matches('/').to_owned();
    let app = TestApp::builder()
        .trust_issuer(issuer.clone())
        .spawn_for(tenant)
        .await;
    // A token as the API expects it (its iss the configured issuer).
    let token = KEY.sign(&access_claims(&issuer, &[]));
    // The provider answered, and its answer will not change: the real cause, and the issuer
    // to set, in the 503 and in /readyz.
    let mismatch = FetchError::IssuerMismatch {
        got: app.tenant.issuer().to_owned(),
        expected: issuer,
    };
    let answer = error_answer(app.get("/api/private", Some(&token)).await).await;
    assert_eq!(answer.status, 503);
    let expected = ApiError::KeysUnavailable(Some(mismatch.clone())).to_string();
    assert_eq!(answer.body.message, expected);
    assert!(
        answer
            .body
            .message
            .contains(&format!("set AUTH0_ISSUER={}", app.tenant.issuer())),
        "{}",
        answer.body.message
    );
    let ready = error_answer(app.get("/readyz", None).await).await;
    assert_eq!(ready.status, 503);
    assert_eq!(
        ready.body.message,
        ApiError::NotReady(Some(mismatch)).to_string()
    );
    assert_eq!(
        app.tenant.jwks_fetches(),
        0,
        "no keys from an unverified document"
    );
}

#[tokio::test]
async fn jwks_url_points_the_api_at_the_keys_directly() {
    let tenant = tenant_with(|addr| format!("http://{addr}/"), Some("/oauth/keys")).await;
    let jwks = url::Url::parse(&tenant.endpoint("oauth/keys")).unwrap();
    let app = TestApp::builder()
        .settings(move |s| s.jwks.source = api::auth::KeySource::Jwks(jwks))
        .spawn_for(tenant)
        .await;
    assert_eq!(app.reader().await.get("/api/private").await.status(), 200);
    assert_eq!(app.tenant.jwks_fetches(), 1);
}

#[tokio::test]
async fn a_rotated_tenant_key_is_picked_up_by_the_api() {
    let app = TestApp::spawn().await;
    let before = app.reader().await;
    assert_eq!(before.get("/api/private").await.status(), 200);
    app.tenant.rotate_key();
    tokio::time::sleep(TEST_REFETCH_COOLDOWN).await;
    let after = app.reader().await;
    assert_eq!(after.get("/api/private").await.status(), 200);
    // The previous key is still published: its tokens still verify.
    assert_eq!(before.get("/api/private").await.status(), 200);
}
