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
    useDpop: sessionStorage.getItem("dpop") === "1",
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

/// auth0-spa-js in DPoP mode (`useDpop`), against the development tenant and the API: the
/// SDK's key binds the tokens (`dpop_jkt`, a proof at the token endpoint), its fetcher calls
/// the API with a proof, the token copied out is refused as a bearer token, and a refresh
/// keeps the binding.
#[tokio::test]
async fn auth0s_spa_sdk_in_dpop_mode_calls_the_api_with_proofs() {
    require_browser!();
    let sdk = match sdk_bundle() {
        Ok(sdk) => sdk,
        Err(why) => {
            assert!(std::env::var_os("E2E_REQUIRED").is_none(), "{why}");
            eprintln!("skipped: {why}");
            return;
        }
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let (page_origin, cors_origin) = (origin.clone(), origin.clone());
    let app = TestApp::builder()
        .tenant(move |config| register(config, &page_origin, "/", "/"))
        .settings(move |s| {
            s.allowed_origins = vec![axum::http::HeaderValue::from_str(&cors_origin).unwrap()];
        })
        .spawn()
        .await;
    serve_sdk_page(listener, sdk, app.issuer()).await;
    let b = browser().await;
    b.open(&format!("{origin}/")).await;
    b.client
        .execute(
            "sessionStorage.setItem('mode', 'refresh'); sessionStorage.setItem('dpop', '1'); makeClient().loginWithRedirect(); return true;",
            vec![],
        )
        .await
        .unwrap();
    b.wait_for_url(app.issuer()).await;
    assert!(
        b.url().await.contains("dpop_jkt="),
        "the SDK binds the code to its key"
    );
    b.client
        .wait()
        .for_element(Locator::Css("#email"))
        .await
        .unwrap();
    b.fill_login_form("reader@example.com", "reader").await;
    b.wait_for_url(&format!("{origin}/?")).await;
    let script = format!(
        "const c = makeClient();
         await c.handleRedirectCallback();
         const first = await c.getTokenSilently({{ detailedResponse: true }});
         // The fetcher's own token lookup passes an undefined audience over the client's;
         // it is given the client's token instead.
         const fetcher = c.createFetcher({{
           dpopNonceId: 'api',
           getAccessToken: () => c.getTokenSilently({{ detailedResponse: true }}),
         }});
         const answer = await fetcher.fetchWithAuth('{base}/api/private-scoped');
         // A second later, so that the renewed token differs (same claims, same second, and
         // RS256 signatures are deterministic).
         await new Promise(r => setTimeout(r, 1100));
         const renewed = await c.getTokenSilently({{ cacheMode: 'off', detailedResponse: true }});
         const again = await fetcher.fetchWithAuth('{base}/api/private-scoped');
         return {{ first, status: answer.status, body: await answer.json(), renewed, again: again.status }};",
        base = app.base
    );
    let result = run_in_page(&b, &script).await;
    assert_eq!(result["first"]["token_type"], "DPoP", "{result}");
    assert_eq!(result["status"], 200, "{result}");
    assert_eq!(result["body"]["message"], shared::Message::PRIVATE_SCOPED);
    let claims = |token: &serde_json::Value| {
        let payload = token.as_str().unwrap().split('.').nth(1).unwrap();
        let bytes =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                .unwrap();
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
    };
    let jkt = claims(&result["first"]["access_token"])["cnf"]["jkt"].clone();
    assert!(jkt.is_string(), "{result}");
    // Refreshed (a proof of the same key with the bound refresh token): still bound to it.
    assert_ne!(
        result["renewed"]["access_token"],
        result["first"]["access_token"]
    );
    assert_eq!(
        claims(&result["renewed"]["access_token"])["cnf"]["jkt"],
        jkt
    );
    assert_eq!(result["again"], 200, "{result}");
    // The token copied out of the page is refused as a bearer token.
    let copied = app
        .get(
            "/api/private-scoped",
            result["renewed"]["access_token"].as_str(),
        )
        .await;
    assert_eq!(copied.status(), 401);
}
