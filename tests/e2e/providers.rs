//! The SPA with an OpenID provider that is not Auth0 and was not written for this project:
//! panva's oidc-provider (OpenID Certified), from npm (`cargo xtask test` installs it and says
//! where in `OIDC_PROVIDER_DIR`), run by `oidc_provider.mjs`. Its routes, login, consent and
//! logout pages are its own; the API serves the SPA the endpoints of its discovery document.
//! The same SPA code logs in here as against the development tenant.
//!
//! The app is at `http://localhost:{port}` and the provider at `http://localhost:{other}`:
//! the same site, so the provider's (SameSite=Lax) session cookie reaches the renewal's
//! iframe, as it would with a provider on a subdomain of the app's site.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::Locator;
use integration_tests::*;
use serde_json::json;
use shared::{LoginFlow, Message, SessionStorage};
use tokio::net::TcpListener;

use crate::harness::*;

/// The API's client at the provider (`oidc_provider.mjs`).
const CLIENT_ID: &str = "quickstart-spa";

/// oidc-provider's folder, or why there is none.
fn provider_dir() -> Result<PathBuf, String> {
    let dir = std::env::var("OIDC_PROVIDER_DIR")
        .map_err(|_| "OIDC_PROVIDER_DIR is not set (`cargo xtask test` sets it)".to_owned())?;
    let dir = PathBuf::from(dir);
    match dir
        .join("node_modules/oidc-provider/package.json")
        .is_file()
    {
        true => Ok(dir),
        false => Err(format!("{} holds no oidc-provider", dir.display())),
    }
}

/// oidc-provider, running; stopped when dropped.
struct OpenIdProvider {
    issuer: String,
    node: Child,
}

impl Drop for OpenIdProvider {
    fn drop(&mut self) {
        let _ = self.node.kill();
        let _ = self.node.wait();
    }
}

/// Starts oidc-provider for the app at `app_origin`, and waits for its issuer.
fn start_provider(dir: &std::path::Path, app_origin: &str) -> OpenIdProvider {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("e2e/oidc_provider.mjs");
    let mut node = Command::new("node")
        .arg(script)
        .arg(dir)
        .arg(app_origin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node is installed (cargo xtask test installs it with npm)");
    let stdout = node.stdout.take().expect("piped");
    // What node says on stderr, shown if it never starts.
    let stderr = node.stderr.take().expect("piped");
    let said = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut { stderr }, &mut text);
        text
    });
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if let Some(issuer) = line.strip_prefix("issuer=") {
                let _ = sender.send(issuer.to_owned());
            }
        }
    });
    // Loading oidc-provider's modules takes a few seconds, longer while a browser test runs
    // beside it on two cores.
    let issuer = match receiver.recv_timeout(Duration::from_secs(60)) {
        Ok(issuer) => issuer,
        Err(waited) => {
            let _ = node.kill();
            let _ = node.wait();
            let said = said.join().unwrap_or_default();
            panic!("oidc-provider did not print its issuer ({waited}); it said:\n{said}");
        }
    };
    OpenIdProvider { issuer, node }
}

/// The app (the API serving the SPA) with oidc-provider as its tenant, and the turn at the
/// browser it was started in.
struct ProviderStack {
    origin: String,
    provider: OpenIdProvider,
    turn: Option<tokio::sync::MutexGuard<'static, ()>>,
}

impl ProviderStack {
    /// The browser of this stack's turn.
    async fn browser(&mut self) -> Browser {
        browser_holding(self.turn.take().expect("one browser per stack")).await
    }
}

/// The stack for `flow`, with refresh tokens or not, the session kept in `storage`; `None`
/// (the test skips) where oidc-provider is not installed, outside `cargo xtask test`.
async fn provider_stack(
    flow: LoginFlow,
    refresh_tokens: bool,
    storage: SessionStorage,
) -> Option<ProviderStack> {
    let dir = match provider_dir() {
        Ok(dir) => dir,
        Err(why) => {
            assert!(
                std::env::var_os("E2E_REQUIRED").is_none(),
                "the provider tests cannot run: {why}"
            );
            eprintln!("skipped: {why}");
            return None;
        }
    };
    // node starts only in this test's turn: beside another test's build or browser on two
    // cores, loading oidc-provider's modules can take over a minute.
    let turn = turn().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let provider = start_provider(&dir, &origin);
    let mut settings = settings_for(&provider.issuer);
    settings.client_id = Some(CLIENT_ID.to_owned());
    settings.spa_dir = Some(dist());
    settings.login_flow = flow;
    settings.refresh_tokens = refresh_tokens;
    settings.session_storage = storage;
    serve_api(listener, settings);
    Some(ProviderStack {
        origin,
        provider,
        turn: Some(turn),
    })
}

impl Browser {
    /// Log In from the Ping page, through oidc-provider's own login and consent pages (its
    /// development pages take any login), back on the Ping page logged in.
    async fn log_in_with_provider(&self, stack: &ProviderStack, login: &str) {
        self.open(&format!("{}/ping", stack.origin)).await;
        self.click("#login").await;
        self.provider_login_form(stack, login).await;
        self.wait_for_url(&format!("{}/ping", stack.origin)).await;
        self.client
            .wait()
            .for_element(Locator::Css("#logout"))
            .await
            .unwrap();
    }

    /// Fills oidc-provider's login form, then consents.
    async fn provider_login_form(&self, stack: &ProviderStack, login: &str) {
        self.wait_for_url(&stack.provider.issuer).await;
        let field = |name: &'static str| Locator::Css(name);
        let login_field = self.client.wait().for_element(field("input[name=login]"));
        login_field.await.unwrap().send_keys(login).await.unwrap();
        let password = self
            .client
            .find(field("input[name=password]"))
            .await
            .unwrap();
        password.send_keys("any password").await.unwrap();
        self.click("button[type=submit]").await;
        // The consent page (the first login of this account to this client).
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while self.url().await.starts_with(&stack.provider.issuer) {
            if let Ok(button) = self.client.find(Locator::Css("button[autofocus]")).await {
                let _ = button.click().await;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "stuck at the provider: {}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn the_spa_logs_in_calls_renews_and_logs_out_with_an_openid_provider() {
    require_browser!();
    let Some(mut stack) = provider_stack(LoginFlow::Code, true, SessionStorage::Session).await
    else {
        return;
    };
    let b = stack.browser().await;
    b.log_in_with_provider(&stack, "reader").await;
    b.call("#call-public", Message::PUBLIC).await;
    b.call("#call-private", Message::PRIVATE).await;
    b.call("#call-private-scoped", Message::PRIVATE_SCOPED)
        .await;
    // The name is the ID token's (oidc-provider puts the profile claims there when the
    // access token is for an API).
    b.open(&format!("{}/profile", stack.origin)).await;
    b.wait_for_text("#profile-name", "Reader at the OpenID provider")
        .await;
    // Its userinfo endpoint takes only tokens issued for it, not the API's: said so.
    b.wait_for_text("#userinfo-error", "answered HTTP 401")
        .await;
    b.wait_for_text(".problem", "The name above is from the ID token")
        .await;
    // A reload keeps the session.
    b.open(&format!("{}/ping", stack.origin)).await;
    b.call("#call-private-scoped", Message::PRIVATE_SCOPED)
        .await;
    // About to expire: renewed with the refresh token at the provider's own token endpoint,
    // which rotates it.
    let first = b.stored("refresh_token").await;
    assert!(first.is_string(), "offline_access gave a refresh token");
    b.edit_session(&format!("s.expires_at = {}", now() + 30))
        .await;
    b.client.refresh().await.unwrap();
    b.wait_for_change("refresh_token", &first).await;
    assert!(b.stored("expires_at").await.as_u64().unwrap() > now() + 60);
    b.call("#call-private-scoped", Message::PRIVATE_SCOPED)
        .await;
    // Log Out: the provider's end-session page (RP-Initiated Logout), its confirmation, and
    // back to the app's home with this tab's state.
    b.click("#logout").await;
    b.wait_for_url(&format!("{}/session/end", stack.provider.issuer))
        .await;
    b.click("button[name=logout]").await;
    b.wait_for_url(&stack.origin).await;
    b.wait_for_text("#signed-out", "You have logged out").await;
    assert_eq!(b.url().await, format!("{}/", stack.origin));
    assert_eq!(b.session_storage(SESSION_KEY).await, json!(null));
    // The provider's session ended too: Log In asks for a login again.
    b.click("#login").await;
    b.wait_for_url(&stack.provider.issuer).await;
    b.client
        .wait()
        .for_element(Locator::Css("input[name=login]"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_user_without_the_permission_gets_the_403_from_an_openid_providers_token() {
    require_browser!();
    let Some(mut stack) = provider_stack(LoginFlow::Code, false, SessionStorage::Session).await
    else {
        return;
    };
    let b = stack.browser().await;
    b.log_in_with_provider(&stack, "guest").await;
    b.call("#call-private", Message::PRIVATE).await;
    let shown = b.call("#call-private-scoped", "403 Forbidden").await;
    assert!(shown.contains("insufficient_scope"), "{shown}");
}

/// Memory sessions, no refresh tokens: after a reload the session comes back through the
/// provider's `web_message` answer in a hidden iframe, the page checking meanwhile.
#[tokio::test]
async fn an_openid_providers_session_is_renewed_in_a_hidden_iframe() {
    require_browser!();
    let Some(mut stack) = provider_stack(LoginFlow::Code, false, SessionStorage::Memory).await
    else {
        return;
    };
    let b = stack.browser().await;
    b.log_in_with_provider(&stack, "reader").await;
    b.client.refresh().await.unwrap();
    b.client
        .wait()
        .for_element(Locator::Css("#logout"))
        .await
        .unwrap();
    assert_eq!(b.url().await, format!("{}/ping", stack.origin));
    b.call("#call-private-scoped", Message::PRIVATE_SCOPED)
        .await;
}

/// The implicit flow (the default) with a provider that answers only codes: the app says
/// what to set instead of offering a Log In that would fail at the provider.
#[tokio::test]
async fn a_flow_the_provider_cannot_serve_is_named_not_a_broken_button() {
    require_browser!();
    let Some(mut stack) = provider_stack(LoginFlow::Implicit, false, SessionStorage::Session).await
    else {
        return;
    };
    let b = stack.browser().await;
    b.open(&stack.origin).await;
    let shown = b
        .wait_for_text("#config-error", "SPA_LOGIN_FLOW=code")
        .await;
    assert!(shown.contains("token id_token"), "{shown}");
    assert!(b.client.find(Locator::Css("#login")).await.is_err());
}
