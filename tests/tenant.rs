//! The development tenant and the API together: what the tenant issues, the API accepts,
//! and the scope rules give each demo user what Auth0 would.

use integration_tests::*;
use serde_json::Value;
use shared::{AuthConfig, Message};

async fn tenant_and_api() -> (RunningTenant, TestApp) {
    let tenant = DevTenant::spawn().await;
    let app = spawn_app_for(tenant.issuer(), AppOptions::default()).await;
    (tenant, app)
}

#[tokio::test]
async fn reader_gets_all_three_answers() {
    let (tenant, app) = tenant_and_api().await;
    let answer = browser_login(&tenant, "reader@example.com", "reader", Some(AUDIENCE)).await;
    let token = answer["access_token"].as_str();
    for (path, message) in [
        ("/api/public", Message::PUBLIC),
        ("/api/private", Message::PRIVATE),
        ("/api/private-scoped", Message::PRIVATE_SCOPED),
    ] {
        let response = app.get(path, Some(token)).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.json::<Message>().await.unwrap().message, message);
    }
}

#[tokio::test]
async fn guest_without_the_permission_gets_403_on_the_scoped_endpoint() {
    let (tenant, app) = tenant_and_api().await;
    let answer = browser_login(&tenant, "guest@example.com", "guest", Some(AUDIENCE)).await;
    let token = answer["access_token"].as_str();
    assert_eq!(app.get("/api/private", Some(token)).await.status(), 200);
    let refused = error_answer(app.get("/api/private-scoped", Some(token)).await).await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.message.contains("read:messages"));
}

#[tokio::test]
async fn login_without_audience_gives_an_opaque_token_the_api_explains() {
    let (tenant, app) = tenant_and_api().await;
    let answer = browser_login(&tenant, "reader@example.com", "reader", None).await;
    let refused = error_answer(app.get("/api/private", Some(&answer["access_token"])).await).await;
    assert_eq!(refused.status, 401);
    assert!(
        refused.body.message.contains("audience"),
        "{}",
        refused.body.message
    );
}

#[tokio::test]
async fn id_token_sent_to_the_api_is_named() {
    let (tenant, app) = tenant_and_api().await;
    let answer = browser_login(&tenant, "reader@example.com", "reader", Some(AUDIENCE)).await;
    let refused = error_answer(app.get("/api/private", Some(&answer["id_token"])).await).await;
    assert_eq!(refused.status, 401);
    assert!(
        refused.body.message.contains("not the ID token"),
        "{}",
        refused.body.message
    );
}

#[tokio::test]
async fn machine_to_machine_token_from_client_credentials_calls_the_scoped_endpoint() {
    let (tenant, app) = tenant_and_api().await;
    let tokens: Value = reqwest::Client::new()
        .post(format!("{}oauth/token", tenant.issuer()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "rustquickstartm2m000000000000000"),
            ("client_secret", "dev-secret-not-for-production"),
            ("audience", AUDIENCE),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        app.get("/api/private-scoped", Some(token)).await.status(),
        200
    );
}

#[tokio::test]
async fn rotated_tenant_key_is_picked_up_by_the_api() {
    let (tenant, app) = tenant_and_api().await;
    let before = browser_login(&tenant, "reader@example.com", "reader", Some(AUDIENCE)).await;
    assert_eq!(
        app.get("/api/private", Some(&before["access_token"]))
            .await
            .status(),
        200
    );
    tenant.rotate_key();
    tokio::time::sleep(AppOptions::default().refetch_cooldown).await;
    let after = browser_login(&tenant, "reader@example.com", "reader", Some(AUDIENCE)).await;
    assert_eq!(
        app.get("/api/private", Some(&after["access_token"]))
            .await
            .status(),
        200
    );
    // The previous key is still published: its tokens still verify.
    assert_eq!(
        app.get("/api/private", Some(&before["access_token"]))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn api_serves_the_spa_its_login_settings() {
    let (tenant, app) = tenant_and_api().await;
    let config: AuthConfig = app
        .get("/auth_config.json", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(config.issuer, tenant.issuer());
    assert_eq!(config.domain, format!("127.0.0.1:{}", tenant.addr.port()));
    assert_eq!(config.client_id, CLIENT_ID);
    assert_eq!(config.audience, AUDIENCE);
    assert_eq!(config.scope, "openid profile read:messages");
}
