//! Auth0's own SPA SDK, auth0-spa-js, on a page of its own against the development tenant: the
//! tenant must satisfy the client Auth0 ships.

use fantoccini::Locator;
use integration_tests::*;
use serde_json::json;
use tokio::net::TcpListener;

use crate::harness::*;

/// The SDK's browser bundle (`cargo xtask test` unpacks it from npm and says where).
fn sdk_bundle() -> Result<String, String> {
    let path = std::env::var("AUTH0_SPA_JS")
        .map_err(|_| "AUTH0_SPA_JS is not set (`cargo xtask test` sets it)".to_owned())?;
    std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))
}

/// A page at its own origin that loads auth0-spa-js and makes a client for the tenant, as an
/// app built on the SDK would; `sessionStorage.mode` says iframe (`memory` cache) or refresh
/// tokens (`localstorage` cache, so the refresh token outlives a reload).
async fn serve_sdk_page(listener: TcpListener, sdk: String, issuer: &str) {
    let page = format!(
        r#"<!doctype html><meta charset="utf-8"><title>auth0-spa-js</title>
<script src="/auth0-spa-js.js"></script>
<script>
window.makeClient = () => {{
  const refresh = sessionStorage.getItem("mode") === "refresh";
  return new auth0.Auth0Client({{
    domain: "{domain}",
    clientId: "{SPA_CLIENT_ID}",
    useRefreshTokens: refresh,
    cacheLocation: refresh ? "localstorage" : "memory",
    authorizationParams: {{
      audience: "{AUDIENCE}",
      scope: "openid profile read:messages",
      redirect_uri: location.origin + "/",
    }},
  }});
}};
</script>"#,
        domain = issuer.trim_end_matches('/'),
    );
    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::get(move || async move { axum::response::Html(page) }),
        )
        .route(
            "/auth0-spa-js.js",
            axum::routing::get(move || async move { ([("content-type", "text/javascript")], sdk) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
}

/// Runs `body` (JavaScript, may `await`) in the page; its value, or `{error}` if it threw.
async fn run_in_page(b: &Browser, body: &str) -> serde_json::Value {
    let script = format!(
        "const done = arguments[arguments.length - 1];
         (async () => {{ {body} }})().then(done, e => done({{ error: String((e && (e.error_description || e.message)) || e) }}));"
    );
    b.client.execute_async(&script, vec![]).await.unwrap()
}

#[tokio::test]
async fn auth0s_spa_sdk_logs_in_renews_and_logs_out_against_the_development_tenant() {
    require_browser!();
    let sdk = match sdk_bundle() {
        Ok(sdk) => sdk,
        Err(why) => {
            assert!(std::env::var_os("E2E_REQUIRED").is_none(), "{why}");
            eprintln!("skipped: {why}");
            return;
        }
    };
    // The tenant on the page's site, then on another one: then the SDK's iframe gets the
    // tenant's session cookie only as a third-party cookie (SameSite=None; Secure).
    for tenant_host in ["127.0.0.1", "localhost"] {
        sdk_round_trips(&sdk, tenant_host).await;
    }
}

/// Both ways of the SDK (iframe, refresh tokens) through a login, renewals, a reload and a
/// logout, against a tenant reached at `tenant_host`.
async fn sdk_round_trips(sdk: &str, tenant_host: &str) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let page_origin = origin.clone();
    let app = TestApp::builder()
        .tenant(move |config| register(config, &page_origin, "/", "/"))
        .tenant_host(tenant_host)
        .spawn()
        .await;
    serve_sdk_page(listener, sdk.to_owned(), app.issuer()).await;
    for mode in ["iframe", "refresh"] {
        let b = browser().await;
        b.open(&format!("{origin}/")).await;
        b.client
            .execute(
                "sessionStorage.setItem('mode', arguments[0]); makeClient().loginWithRedirect(); return true;",
                vec![json!(mode)],
            )
            .await
            .unwrap();
        b.wait_for_url(app.issuer()).await;
        b.client
            .wait()
            .for_element(Locator::Css("#email"))
            .await
            .unwrap();
        b.fill_login_form("reader@example.com", "reader").await;
        b.wait_for_url(&format!("{origin}/?")).await;
        let signed_in = run_in_page(
            &b,
            "const c = makeClient();
             await c.handleRedirectCallback();
             const user = await c.getUser();
             const cached = await c.getTokenSilently();
             const renewed = await c.getTokenSilently({ cacheMode: 'off' });
             return { sub: user.sub, name: user.name, cached, renewed };",
        )
        .await;
        assert_eq!(
            signed_in["sub"], "auth0|reader",
            "{tenant_host} {mode}: {signed_in}"
        );
        assert_eq!(signed_in["name"], "Ada Reader", "{mode}");
        for token in [&signed_in["cached"], &signed_in["renewed"]] {
            let answer = app.get("/api/private-scoped", token.as_str()).await;
            assert_eq!(answer.status(), 200, "{mode}");
        }
        // A reload: the memory cache is gone; the tenant's session cookie (in the SDK's
        // iframe) or the stored refresh token logs the same code in again.
        b.client.refresh().await.unwrap();
        let after_reload = run_in_page(
            &b,
            "const c = makeClient();
             const token = await c.getTokenSilently();
             return { token, authenticated: await c.isAuthenticated() };",
        )
        .await;
        assert_eq!(
            after_reload["authenticated"], true,
            "{tenant_host} {mode}: {after_reload}"
        );
        let answer = app
            .get("/api/private-scoped", after_reload["token"].as_str())
            .await;
        assert_eq!(answer.status(), 200, "{mode}");
        // Logout ends the tenant's session too: nothing renews afterwards.
        b.client
            .execute(
                "window.before_logout = true; makeClient().logout({ logoutParams: { returnTo: location.origin + '/' } }); return true;",
                vec![],
            )
            .await
            .unwrap();
        b.wait_for_new_page().await;
        assert_eq!(b.url().await, format!("{origin}/"));
        let logged_out = run_in_page(
            &b,
            "sessionStorage.setItem('mode', 'iframe');
             const c = makeClient();
             try { await c.getTokenSilently(); return { renewed: true }; }
             catch (e) { return { error: e.error }; }",
        )
        .await;
        assert_eq!(
            logged_out["error"], "login_required",
            "{mode}: {logged_out}"
        );
    }
}
