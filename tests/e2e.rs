//! End to end, as a person uses the app: Debian's Chromium, headless, driven over WebDriver
//! (chromedriver + fantoccini), against the real servers on loopback — the development
//! tenant, and the API serving the release build of the SPA from `dist/`.
//!
//! They need the release build of the SPA in `dist/` and Debian's chromium-driver, which
//! `cargo xtask test` builds and installs first. A plain `cargo test` without them skips
//! these tests, saying why; `cargo xtask test` sets `E2E_REQUIRED`, and then a missing
//! prerequisite is a failure, not a skip.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use integration_tests::*;
use serde_json::json;
use shared::{LoginFlow, Message, SessionStorage};
use tokio::net::TcpListener;

/// One browser at a time: two cores do not run several Chromiums well.
static ONE_BROWSER: LazyLock<tokio::sync::Mutex<()>> =
    LazyLock::new(|| tokio::sync::Mutex::new(()));

fn dist() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist")
}

/// Why these tests cannot run here, if they cannot.
fn missing_prerequisite() -> Option<String> {
    if !dist().join("index.html").is_file() {
        return Some(format!(
            "{} has no built SPA (`cargo xtask test` builds it)",
            dist().display()
        ));
    }
    let driver = Command::new("chromedriver").arg("--version").output();
    if !driver.is_ok_and(|o| o.status.success()) {
        return Some(
            "chromedriver is not installed (`cargo xtask test` installs Debian's chromium-driver)"
                .into(),
        );
    }
    None
}

/// Skips the calling test, saying why, when the browser tests cannot run; fails instead
/// under `cargo xtask test` (`E2E_REQUIRED`).
macro_rules! require_browser {
    () => {
        if let Some(why) = missing_prerequisite() {
            assert!(
                std::env::var_os("E2E_REQUIRED").is_none(),
                "the browser tests cannot run: {why}"
            );
            eprintln!("skipped: {why}");
            return;
        }
    };
}

/// The tenant, with the app's origin among the SPA's callbacks, logout URLs and web origins
/// (as one would register it in Auth0), and the API serving the SPA at that origin.
struct Stack {
    origin: String,
    app: TestApp,
}

async fn stack() -> Stack {
    stack_with(|_| {}).await
}

/// Registers an app at `origin` with the tenant's SPA application, as one would in Auth0's
/// dashboard: `{origin}{callback}` an allowed callback, `{origin}{logout}` an allowed logout
/// URL, the origin an allowed web origin.
fn register(config: &mut devtenant::TenantConfig, origin: &str, callback: &str, logout: &str) {
    let spa = config
        .applications
        .iter_mut()
        .find(|a| a.app_type == devtenant::AppType::Spa)
        .expect("the built-in configuration has an SPA");
    spa.callbacks.push(format!("{origin}{callback}"));
    spa.logout_urls.push(format!("{origin}{logout}"));
    spa.web_origins.push(origin.to_owned());
}

/// The stack, with a change to the API's settings.
async fn stack_with(change: impl FnOnce(&mut api::config::Settings) + 'static) -> Stack {
    stack_at("127.0.0.1", change).await
}

/// The stack with the tenant reached at `tenant_host` (its issuer's host): `127.0.0.1` is the
/// app's own site; `localhost` another one, so the tenant's cookies in the app's iframe are
/// third-party cookies.
async fn stack_at(
    tenant_host: &str,
    change: impl FnOnce(&mut api::config::Settings) + 'static,
) -> Stack {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let app_origin = origin.clone();
    let app = TestApp::builder()
        .tenant(move |config| register(config, &app_origin, "/callback", ""))
        .settings(|s| s.spa_dir = Some(dist()))
        .settings(change)
        .listener(listener)
        .tenant_host(tenant_host)
        .spawn()
        .await;
    Stack { origin, app }
}

impl Stack {
    fn issuer(&self) -> &str {
        self.app.issuer()
    }
}

/// Headless Chromium through chromedriver; both stopped when dropped.
struct Browser {
    client: Client,
    driver: Child,
    _one: tokio::sync::MutexGuard<'static, ()>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver leads its own process group: this stops Chromium with it.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-9", "--", &group]).status();
        let _ = self.driver.wait();
    }
}

async fn browser() -> Browser {
    let one = ONE_BROWSER.lock().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = {
        use std::os::unix::process::CommandExt;
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect(
                "chromedriver is installed (cargo xtask test installs Debian's chromium-driver)",
            )
    };
    let profile = std::env::temp_dir().join(format!("e2e-chromium-{}-{port}", std::process::id()));
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic", "--window-size=1100,900",
                format!("--user-data-dir={}", profile.display()),
            ],
            // A browser that allows third-party cookies, as most still do: the cross-site
            // arrangement of the tenant relies on them, as it does on Auth0 without a
            // custom domain.
            "prefs": { "profile.cookie_controls_mode": 0, "profile.block_third_party_cookies": false },
        },
    });
    let capabilities = capabilities.as_object().unwrap().clone();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let client = loop {
        match ClientBuilder::rustls()
            .expect("rustls WebDriver client")
            .capabilities(capabilities.clone())
            .connect(&url)
            .await
        {
            Ok(client) => break client,
            Err(error) if Instant::now() > deadline => {
                panic!("chromedriver did not start: {error}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    Browser {
        client,
        driver,
        _one: one,
    }
}

impl Browser {
    async fn open(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// The text of `css`, once it exists and contains `expected`.
    async fn wait_for_text(&self, css: &str, expected: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
            {
                if text.contains(expected) {
                    return text;
                }
                last = text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{css} never showed {expected:?}; last seen: {last:?}");
    }

    async fn click(&self, css: &str) {
        self.client
            .wait()
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    async fn is_enabled(&self, css: &str) -> bool {
        let element = self
            .client
            .wait()
            .for_element(Locator::Css(css))
            .await
            .unwrap();
        element.attr("disabled").await.unwrap().is_none()
    }

    async fn url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    /// Clicks Log In and waits for the tenant's login form.
    async fn start_login(&self, stack: &Stack) {
        self.click("#login").await;
        self.wait_for_url(stack.issuer()).await;
        self.client
            .wait()
            .for_element(Locator::Css("#email"))
            .await
            .unwrap();
    }

    async fn fill_login_form(&self, email: &str, password: &str) {
        let email_field = self.client.find(Locator::Css("#email")).await.unwrap();
        email_field.send_keys(email).await.unwrap();
        let password_field = self.client.find(Locator::Css("#password")).await.unwrap();
        password_field.send_keys(password).await.unwrap();
        self.click("button[value=login]").await;
    }

    async fn wait_for_url(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let url = self.url().await;
            if url.starts_with(prefix) {
                return url;
            }
            assert!(
                Instant::now() < deadline,
                "never reached {prefix}; at {url}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The whole login from the Ping page, as a person does it; returns how long it took
    /// from the click on Log In to the app showing the logged-in Ping page.
    async fn log_in_from_ping(&self, stack: &Stack, email: &str, password: &str) -> Duration {
        self.open(&format!("{}/ping", stack.origin)).await;
        let started = Instant::now();
        self.start_login(stack).await;
        self.fill_login_form(email, password).await;
        self.wait_for_url(&format!("{}/ping", stack.origin)).await;
        self.client
            .wait()
            .for_element(Locator::Css("#logout"))
            .await
            .unwrap();
        started.elapsed()
    }

    async fn call(&self, button: &str, expected: &str) -> String {
        self.click(button).await;
        self.wait_for_text("#result", expected).await
    }

    async fn assert_logged_out(&self, stack: &Stack) {
        self.open(&stack.origin).await;
        self.wait_for_text(
            "#home-status",
            "You are not logged in! Please log in to continue.",
        )
        .await;
    }

    /// Waits until the page that set `window.before_logout` has been replaced by a new one.
    async fn wait_for_new_page(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let script = "return document.readyState === 'complete' && !window.before_logout;";
        while !self
            .client
            .execute(script, vec![])
            .await
            .is_ok_and(|v| v == json!(true))
        {
            assert!(Instant::now() < deadline, "the page never changed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `change` (JavaScript on `s`, the stored session) on the session in storage.
    async fn edit_session(&self, change: &str) {
        let script = format!(
            "const s = JSON.parse(sessionStorage.getItem(arguments[0])); {change}; \
             sessionStorage.setItem(arguments[0], JSON.stringify(s));"
        );
        self.client
            .execute(&script, vec![json!(SESSION_KEY)])
            .await
            .unwrap();
    }

    /// A member of the stored session.
    async fn stored(&self, member: &str) -> serde_json::Value {
        stored_session(self).await[member].clone()
    }

    /// Waits until the stored session's `member` is no longer `old`; returns the new value.
    async fn wait_for_change(&self, member: &str, old: &serde_json::Value) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let now = self.stored(member).await;
            if now != *old && !now.is_null() {
                return now;
            }
            if Instant::now() > deadline {
                let script = "return performance.getEntriesByType('mark').map(m => m.name).join(',') + ' | ' + document.body.innerText;";
                let seen = self.client.execute(script, vec![]).await.unwrap();
                panic!("{member} never changed from {old}; marks and page: {seen}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn session_storage(&self, key: &str) -> serde_json::Value {
        self.client
            .execute(
                "return sessionStorage.getItem(arguments[0]);",
                vec![json!(key)],
            )
            .await
            .unwrap()
    }
}

const SESSION_KEY: &str = "quickstart.session";
const PENDING_KEY: &str = "quickstart.pending_login";

/// Where the browser tests leave figures for `cargo xtask test` to print (libtest swallows a
/// passing test's output).
fn figures_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Browser {
    /// Milliseconds from the start of this page's navigation to the app's mark `name`, once
    /// the app has made it.
    async fn mark(&self, name: &str) -> f64 {
        let script = "const m = performance.getEntriesByName(arguments[0], 'mark')[0]; \
                      return m ? m.startTime : null;";
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let at = self
                .client
                .execute(script, vec![json!(name)])
                .await
                .unwrap();
            if let Some(ms) = at.as_f64() {
                return ms;
            }
            assert!(Instant::now() < deadline, "the app never marked {name}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The first page and the login as a visitor waits for them, five times, each in a fresh
/// browser profile (nothing cached): navigation → Home rendered, with an empty cache and again
/// with the immutable assets cached; the tenant's redirect to /callback → the verified session
/// kept, and the app's own part of it (answer parsed, JWKS fetched, signature checked by
/// WebCrypto, session stored).
#[tokio::test]
async fn first_render_and_login_timings() {
    require_browser!();
    let stack = stack().await;
    let (mut cold, mut warm, mut callback, mut verifying) = (vec![], vec![], vec![], vec![]);
    for _ in 0..5 {
        let b = browser().await;
        b.open(&stack.origin).await;
        cold.push(b.mark("home-rendered").await);
        b.open(&stack.origin).await;
        b.wait_for_text("#home-status", "not logged in").await;
        warm.push(b.mark("home-rendered").await);
        b.log_in_from_ping(&stack, "reader@example.com", "reader")
            .await;
        let (started, verified) = (
            b.mark("callback-started").await,
            b.mark("login-verified").await,
        );
        callback.push(verified);
        verifying.push(verified - started);
    }
    let line = |what: &str, values: Vec<f64>, target: &str| {
        let all: Vec<String> = values.iter().map(|v| format!("{v:.0}")).collect();
        format!(
            "{what}: median {:.0} ms (runs: {} ms; target {target})\n",
            median(values),
            all.join(", ")
        )
    };
    let report = [
        line(
            "first render, navigation → Home rendered, empty cache",
            cold,
            "≤ 300 ms",
        ),
        line("first render, assets cached", warm, "≤ 300 ms"),
        line(
            "login, tenant's redirect to /callback → verified session kept",
            callback,
            "≤ 150 ms",
        ),
        line(
            "  of which the app's callback work (JWKS, WebCrypto, storage)",
            verifying,
            "—",
        ),
    ]
    .concat();
    std::fs::write(figures_dir().join("timings.txt"), report).unwrap();
}

#[tokio::test]
async fn logged_out_ping_answers_public_and_disables_private() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    b.open(&format!("{}/ping", stack.origin)).await;
    b.wait_for_text("h1", "Make a Call to the Server").await;
    b.wait_for_text(
        "#login-prompt",
        "Log in to call a private (secured) server endpoint.",
    )
    .await;
    assert!(b.is_enabled("#call-public").await);
    assert!(!b.is_enabled("#call-private").await);
    assert!(!b.is_enabled("#call-private-scoped").await);
    b.call("#call-public", Message::PUBLIC).await;
    b.assert_logged_out(&stack).await;
}

#[tokio::test]
async fn reader_logs_in_and_gets_all_three_answers() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    let round_trip = b
        .log_in_from_ping(&stack, "reader@example.com", "reader")
        .await;
    let figures = figures_dir();
    std::fs::write(
        figures.join("login-round-trip.txt"),
        format!(
            "login round trip (click on Log In, tenant form filled by WebDriver, back on /ping with a verified session): {} ms\n",
            round_trip.as_millis()
        ),
    )
    .unwrap();
    // The fragment with the tokens is gone from the address bar.
    assert_eq!(b.url().await, format!("{}/ping", stack.origin));
    b.call("#call-public", Message::PUBLIC).await;
    b.call("#call-private", Message::PRIVATE).await;
    b.call("#call-private-scoped", Message::PRIVATE_SCOPED)
        .await;
    let png = b.client.screenshot().await.unwrap();
    std::fs::write(figures.join("ping-scoped.png"), png).unwrap();
    // The profile shows who logged in, and the tenant's /userinfo.
    b.click("a[href='/profile']").await;
    b.wait_for_text("#profile-name", "Ada Reader").await;
    b.wait_for_text("#userinfo", "auth0|reader").await;
}

#[tokio::test]
async fn guest_without_the_scope_sees_the_403_explanation() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    b.log_in_from_ping(&stack, "guest@example.com", "guest")
        .await;
    b.call("#call-private", Message::PRIVATE).await;
    let shown = b.call("#call-private-scoped", "403 Forbidden").await;
    assert!(shown.contains("insufficient_scope"), "{shown}");
    assert!(shown.contains("read:messages"), "{shown}");
    assert!(shown.contains("Log in as a user who has it"), "{shown}");
}

#[tokio::test]
async fn reload_keeps_the_session_and_log_out_ends_it() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    b.log_in_from_ping(&stack, "reader@example.com", "reader")
        .await;
    b.client.refresh().await.unwrap();
    b.call("#call-private", Message::PRIVATE).await;
    b.open(&stack.origin).await;
    b.wait_for_text("#home-status", "You are logged in!").await;
    b.click("#logout").await;
    b.wait_for_url(&stack.origin).await;
    b.wait_for_text("#home-status", "You are not logged in!")
        .await;
    assert_eq!(b.session_storage(SESSION_KEY).await, json!(null));
    // The tenant's session ended too: Log In asks for credentials again.
    b.start_login(&stack).await;
}

#[tokio::test]
async fn expired_or_refused_session_asks_to_log_in_again() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    b.log_in_from_ping(&stack, "reader@example.com", "reader")
        .await;
    // The tenant's session ends behind the app's back (its cookies gone) and the app's
    // session expires: the silent renewal hears login_required, and the page shows logged
    // out, quietly, without leaving the app.
    b.client.delete_all_cookies().await.unwrap();
    b.edit_session("s.expires_at = 1").await;
    b.client.refresh().await.unwrap();
    b.wait_for_text("#login-prompt", "Log in to call a private")
        .await;
    assert!(!b.is_enabled("#call-private").await);
    assert_eq!(b.url().await, format!("{}/ping", stack.origin));
    assert_eq!(b.session_storage(SESSION_KEY).await, json!(null));
    // Log In again: the form, since the tenant's session is gone.
    b.start_login(&stack).await;
    b.fill_login_form("reader@example.com", "reader").await;
    b.client
        .wait()
        .for_element(Locator::Css("#logout"))
        .await
        .unwrap();
    assert_eq!(b.url().await, format!("{}/ping", stack.origin));
    // A token the API refuses (here: altered) gets the 401 explanation and Log In again.
    b.edit_session("s.access_token += 'x'").await;
    b.client.refresh().await.unwrap();
    let shown = b.call("#call-private", "401 Unauthorized").await;
    assert!(shown.contains("invalid_token"), "{shown}");
    b.client.find(Locator::Css("#result #login")).await.unwrap();
}

/// The `state` and `nonce` of the login under way, read off the tenant's URL.
async fn login_parameters(b: &Browser) -> (String, String) {
    let url = b.url().await;
    (query_param(&url, "state"), query_param(&url, "nonce"))
}

/// The parameter `name` of `url`'s query.
fn query_param(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("{url} has no {name}"))
}

impl Browser {
    /// Starts a login from `/ping` and stops at the tenant's form: its `state` and `nonce`.
    async fn start_login_from_ping(&self, stack: &Stack) -> (String, String) {
        self.open(&format!("{}/ping", stack.origin)).await;
        self.start_login(stack).await;
        login_parameters(self).await
    }

    /// Brings `/callback` an answer (`#…` or `?…`) the tenant did not send.
    async fn open_callback(&self, stack: &Stack, answer: &str) {
        self.open(&format!("{}/callback{answer}", stack.origin))
            .await;
    }
}

async fn assert_refused(b: &Browser, words: &str) {
    let shown = b.wait_for_text("#login-error", words).await;
    assert!(!shown.is_empty());
    assert_eq!(b.session_storage(SESSION_KEY).await, json!(null));
    // Nothing of it shows as logged in. (A later visit may still be logged in by a silent
    // renewal: the tenant's session is real; the refused answer is not.)
    assert!(b.client.find(Locator::Css("#logout")).await.is_err());
}

#[tokio::test]
async fn callback_with_the_wrong_state_stores_no_session() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    let (_, nonce) = b.start_login_from_ping(&stack).await;
    let id_token = KEY.sign(&json!({
        "iss": stack.issuer(), "sub": "auth0|reader", "aud": SPA_CLIENT_ID,
        "exp": now() + 600, "iat": now(), "nonce": nonce,
    }));
    let answer = format!("#access_token=x&id_token={id_token}&state=forged&expires_in=7200");
    b.open_callback(&stack, &answer).await;
    assert_refused(&b, "state mismatch").await;
}

#[tokio::test]
async fn callback_with_another_logins_nonce_stores_no_session() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    b.start_login_from_ping(&stack).await;
    // Same login (state), but the ID token is minted for another nonce: a replay.
    let mut url = url::Url::parse(&b.url().await).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "nonce" {
                "another-nonce".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    b.open(url.as_str()).await;
    b.fill_login_form("reader@example.com", "reader").await;
    assert_refused(&b, "nonce").await;
}

#[tokio::test]
async fn callback_with_a_forged_id_token_signature_stores_no_session() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    let (state, nonce) = b.start_login_from_ping(&stack).await;
    // Every claim right, the tenant's kid, the attacker's key.
    let forged = ATTACKER_KEY.sign_with_header(
        &json!({"alg": "RS256", "typ": "JWT", "kid": KEY.kid()}),
        &json!({
            "iss": stack.issuer(), "sub": "auth0|reader", "aud": SPA_CLIENT_ID,
            "exp": now() + 600, "iat": now(), "nonce": nonce,
        }),
    );
    let answer = format!("#access_token=x&id_token={forged}&state={state}&expires_in=7200");
    b.open_callback(&stack, &answer).await;
    assert_refused(&b, "signature does not verify").await;
}

#[tokio::test]
async fn cancelled_login_shows_access_denied() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    b.open(&format!("{}/ping", stack.origin)).await;
    b.start_login(&stack).await;
    b.click("button[value=cancel]").await;
    assert_refused(&b, "access_denied").await;
}

/// What `sessionStorage` holds for the session, parsed.
async fn stored_session(b: &Browser) -> serde_json::Value {
    match b.session_storage(SESSION_KEY).await {
        serde_json::Value::String(json) => serde_json::from_str(&json).unwrap(),
        other => other,
    }
}

#[tokio::test]
async fn the_session_keeps_no_id_token() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    b.log_in_from_ping(&stack, "reader@example.com", "reader")
        .await;
    let session = stored_session(&b).await;
    assert!(session["access_token"].is_string(), "{session}");
    assert!(session.get("id_token").is_none(), "{session}");
}

#[tokio::test]
async fn a_callback_that_is_not_this_tabs_changes_nothing_and_shows_nothing_of_itself() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    b.log_in_from_ping(&stack, "reader@example.com", "reader")
        .await;
    let session = stored_session(&b).await;
    for answer in [
        "error=access_denied&error_description=Your%20account%20is%20locked%2C%20call%20us&state=bogus",
        "",
    ] {
        b.open_callback(&stack, &format!("#{answer}")).await;
        b.wait_for_text("#home-status", "You are logged in!").await;
        let page = b.client.source().await.unwrap();
        assert!(!page.contains("locked"), "{answer}");
        assert_eq!(stored_session(&b).await, session, "{answer}");
    }
    // The tenant's answer to a login this tab did not start (a replayed callback URL).
    let replayed = format!(
        "{}?client_id={SPA_CLIENT_ID}&redirect_uri={}/callback&response_type=token%20id_token&audience={AUDIENCE}&scope=openid&state=replayed&nonce=n",
        stack.app.tenant.endpoint("authorize"),
        stack.origin
    );
    b.open(&replayed).await;
    b.wait_for_text("#home-status", "You are logged in!").await;
    assert_eq!(b.url().await, format!("{}/", stack.origin));
    assert_eq!(stored_session(&b).await, session);
    b.open(&format!("{}/ping", stack.origin)).await;
    b.call("#call-private", Message::PRIVATE).await;
}

#[tokio::test]
async fn back_after_a_login_keeps_the_session() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    b.log_in_from_ping(&stack, "reader@example.com", "reader")
        .await;
    b.client.back().await.unwrap();
    b.wait_for_url(&stack.origin).await;
    b.wait_for_text("#home-status", "You are logged in!").await;
    assert!(stored_session(&b).await["access_token"].is_string());
}

#[tokio::test]
async fn tokens_leave_the_address_bar_even_when_the_settings_cannot_be_loaded() {
    require_browser!();
    let stack = stack_with(|s| s.client_id = None).await;
    let b = browser().await;
    b.open(&format!(
        "{}/callback#access_token=secret&id_token=x.y.z&state=s&expires_in=60",
        stack.origin
    ))
    .await;
    b.wait_for_text("#config-error", "auth_config.json").await;
    assert_eq!(b.url().await, format!("{}/callback", stack.origin));
}

#[tokio::test]
async fn tokens_leave_the_address_bar_even_when_the_keys_cannot_be_fetched() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    b.open(&format!("{}/ping", stack.origin)).await;
    b.start_login(&stack).await;
    stack
        .app
        .tenant
        .set_jwks_behaviour(JwksBehaviour::Status(503));
    b.fill_login_form("reader@example.com", "reader").await;
    b.wait_for_text("#login-error", "signing keys could not be fetched")
        .await;
    assert_eq!(b.url().await, format!("{}/callback", stack.origin));
    assert_refused(&b, "signing keys could not be fetched").await;
}

#[tokio::test]
async fn a_tenant_key_shorter_than_2048_bits_is_never_used() {
    require_browser!();
    let stack = stack().await;
    let b = browser().await;
    b.open(&format!("{}/ping", stack.origin)).await;
    b.start_login(&stack).await;
    // The tenant publishes its kid with a 1024-bit modulus.
    let mut short = serde_json::to_value(KEY.jwk()).unwrap();
    use base64::Engine as _;
    short["n"] = json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xC5u8; 128]));
    stack
        .app
        .tenant
        .set_jwks_behaviour(JwksBehaviour::Publish(json!({"keys": [short]})));
    b.fill_login_form("reader@example.com", "reader").await;
    assert_refused(&b, "too short").await;
}

// ---- Sessions that last: the code flow, silent renewal, refresh tokens (issue 11) ----

/// The stack with the SPA on `flow`, refresh tokens on or off, sessions kept in `storage`.
async fn stack_for(flow: LoginFlow, refresh_tokens: bool, storage: SessionStorage) -> Stack {
    stack_with(move |s| {
        s.login_flow = flow;
        s.refresh_tokens = refresh_tokens;
        s.session_storage = storage;
    })
    .await
}

const FLOWS: [LoginFlow; 2] = [LoginFlow::Implicit, LoginFlow::Code];

/// Where figures of these tests go, one line each, for `cargo xtask test` to print.
fn report(name: &str, line: String) {
    std::fs::write(figures_dir().join(name), line + "\n").unwrap();
}

#[tokio::test]
async fn both_flows_log_in_ping_keep_the_session_on_reload_and_log_out() {
    require_browser!();
    for (flow, storage, area) in [
        (
            LoginFlow::Implicit,
            SessionStorage::Session,
            "sessionStorage",
        ),
        (LoginFlow::Code, SessionStorage::Session, "sessionStorage"),
        (LoginFlow::Implicit, SessionStorage::Local, "localStorage"),
        (LoginFlow::Code, SessionStorage::Local, "localStorage"),
    ] {
        let stack = stack_for(flow, false, storage).await;
        let b = browser().await;
        let stored = async || {
            let script = format!("return {area}.getItem(arguments[0]);");
            b.client
                .execute(&script, vec![json!(SESSION_KEY)])
                .await
                .unwrap()
        };
        b.log_in_from_ping(&stack, "reader@example.com", "reader")
            .await;
        // Neither tokens nor the code stay in the address bar; the verifier is gone.
        assert_eq!(b.url().await, format!("{}/ping", stack.origin), "{flow:?}");
        assert_eq!(b.session_storage(PENDING_KEY).await, json!(null));
        assert!(stored().await.is_string(), "{flow:?} {area}");
        b.call("#call-public", Message::PUBLIC).await;
        b.call("#call-private", Message::PRIVATE).await;
        b.call("#call-private-scoped", Message::PRIVATE_SCOPED)
            .await;
        // A reload picks the session up from storage: no renewal is needed.
        b.client.refresh().await.unwrap();
        b.call("#call-private-scoped", Message::PRIVATE_SCOPED)
            .await;
        let renewals = b
            .client
            .execute(
                "return performance.getEntriesByName('renewal-started').length;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(renewals, json!(0), "{flow:?} {area}");
        b.click("#logout").await;
        b.wait_for_url(&stack.origin).await;
        b.wait_for_text("#home-status", "You are not logged in!")
            .await;
        assert_eq!(stored().await, json!(null), "{flow:?} {area}");
    }
}

#[tokio::test]
async fn memory_sessions_are_renewed_silently_after_a_reload() {
    require_browser!();
    // The tenant on the app's site, then on another site (its session cookie then reaches
    // the iframe only as a third-party cookie: SameSite=None; Secure, as Auth0's).
    for (tenant_host, flow) in [
        ("127.0.0.1", LoginFlow::Implicit),
        ("127.0.0.1", LoginFlow::Code),
        ("localhost", LoginFlow::Implicit),
        ("localhost", LoginFlow::Code),
    ] {
        let stack = stack_at(tenant_host, move |s| {
            s.login_flow = flow;
            s.session_storage = SessionStorage::Memory;
        })
        .await;
        let b = browser().await;
        b.log_in_from_ping(&stack, "reader@example.com", "reader")
            .await;
        assert_eq!(b.session_storage(SESSION_KEY).await, json!(null));
        b.client.refresh().await.unwrap();
        // Nothing was stored, yet the reload is logged in: the hidden iframe, no redirect.
        b.client
            .wait()
            .for_element(Locator::Css("#logout"))
            .await
            .unwrap_or_else(|e| panic!("{tenant_host} {flow:?}: {e}"));
        assert_eq!(b.url().await, format!("{}/ping", stack.origin), "{flow:?}");
        b.call("#call-private-scoped", Message::PRIVATE_SCOPED)
            .await;
    }
}

#[tokio::test]
async fn a_session_about_to_expire_is_renewed_without_a_redirect() {
    require_browser!();
    let mut timings = vec![];
    for flow in FLOWS {
        let stack = stack_for(flow, false, SessionStorage::Session).await;
        let b = browser().await;
        let mut round_trips = vec![];
        for _ in 0..5 {
            let took = b
                .log_in_from_ping(&stack, "reader@example.com", "reader")
                .await;
            round_trips.push(took.as_secs_f64() * 1000.0);
            b.click("#logout").await;
            b.wait_for_url(&stack.origin).await;
            b.wait_for_text("#home-status", "not logged in").await;
        }
        b.log_in_from_ping(&stack, "reader@example.com", "reader")
            .await;
        let mut renewals = vec![];
        for _ in 0..5 {
            // The new token may be the old one to the byte (same claims in the same second,
            // and RS256 signatures are deterministic): its expiry tells the renewal.
            let soon = now() + 30;
            b.edit_session(&format!("s.expires_at = {soon}")).await;
            b.client.refresh().await.unwrap();
            b.wait_for_change("expires_at", &json!(soon)).await;
            renewals.push(b.mark("session-renewed").await - b.mark("renewal-started").await);
            assert_eq!(b.url().await, format!("{}/ping", stack.origin), "{flow:?}");
            assert!(b.stored("expires_at").await.as_u64().unwrap() > now() + 600);
        }
        b.call("#call-private-scoped", Message::PRIVATE_SCOPED)
            .await;
        timings.push(format!(
            "{flow:?} flow: login round trip median {:.0} ms, silent renewal (hidden iframe) median {:.0} ms (5 runs each)",
            median(round_trips),
            median(renewals)
        ));
    }
    report("renewal.txt", timings.join("\n"));
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_ends_the_session() {
    require_browser!();
    let stack = stack_for(LoginFlow::Code, true, SessionStorage::Session).await;
    let b = browser().await;
    b.log_in_from_ping(&stack, "reader@example.com", "reader")
        .await;
    let first = b.stored("refresh_token").await;
    assert!(first.is_string(), "offline_access gave a refresh token");
    // About to expire: renewed with the refresh token, which rotates.
    let mut renewals = vec![];
    let mut last = first.clone();
    for _ in 0..5 {
        b.edit_session(&format!("s.expires_at = {}", now() + 30))
            .await;
        b.client.refresh().await.unwrap();
        last = b.wait_for_change("refresh_token", &last).await;
        renewals.push(b.mark("session-renewed").await - b.mark("renewal-started").await);
    }
    b.call("#call-private-scoped", Message::PRIVATE_SCOPED)
        .await;
    report(
        "refresh.txt",
        format!(
            "Code flow with refresh tokens: renewal by the refresh-token grant median {:.0} ms (5 runs)",
            median(renewals)
        ),
    );
    // The first, spent refresh token comes back (stolen and replayed): the tenant revokes
    // the family, and the app shows logged out without a redirect.
    b.edit_session(&format!(
        "s.refresh_token = {first}; s.expires_at = {}",
        now() + 30
    ))
    .await;
    b.client.refresh().await.unwrap();
    b.wait_for_text("#login-prompt", "Log in to call a private")
        .await;
    assert_eq!(b.session_storage(SESSION_KEY).await, json!(null));
    assert_eq!(b.url().await, format!("{}/ping", stack.origin));
    // The newest token of the family is dead too.
    let answer = reqwest::Client::new()
        .post(format!("{}oauth/token", stack.issuer()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", SPA_CLIENT_ID),
            ("refresh_token", last.as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 403);
}

#[tokio::test]
async fn a_tampered_or_replayed_code_is_refused_with_a_message() {
    require_browser!();
    let stack = stack_for(LoginFlow::Code, false, SessionStorage::Session).await;
    let b = browser().await;
    // Tampered: this tab's login, a code the tenant never issued.
    let (state, _) = b.start_login_from_ping(&stack).await;
    b.open_callback(&stack, &format!("?code=tampered&state={state}"))
        .await;
    assert_refused(&b, "refused to exchange the login's code").await;
    // Replayed: a real code, already exchanged, brought back to a new login of this tab.
    b.log_in_from_ping(&stack, "reader@example.com", "reader")
        .await;
    let callback: String = b
        .client
        .execute(
            "return performance.getEntriesByType('navigation')[0].name;",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    let code = query_param(&callback, "code");
    b.click("#logout").await;
    b.wait_for_url(&stack.origin).await;
    let (state, _) = b.start_login_from_ping(&stack).await;
    b.open_callback(&stack, &format!("?code={code}&state={state}"))
        .await;
    assert_refused(&b, "invalid_grant").await;
}

// ---- Auth0's own SPA SDK against the development tenant (issue 11) ----

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

/// While a silent renewal waits for the tenant (slowed down by a test switch), forged answers
/// are posted to the app's window: the right type and this renewal's own `state` and `nonce`
/// (read off the iframe), an ID token signed with the tenant's very key, but posted by
/// another window of another origin. The app must take none of them: the tenant's real answer,
/// `login_required` (this browser has no session there), leaves it logged out.
#[tokio::test]
async fn forged_renewal_answers_change_nothing() {
    require_browser!();
    let stack = stack_for(LoginFlow::Implicit, false, SessionStorage::Session).await;
    stack
        .app
        .tenant
        .tenant
        .set_silent_answer_delay(Duration::from_secs(3));
    let b = browser().await;
    b.open(&format!("{}/ping", stack.origin)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let src = loop {
        let src = b
            .client
            .execute(
                "const f = document.querySelector('iframe'); return f ? f.src : null;",
                vec![],
            )
            .await
            .unwrap();
        if let Some(src) = src.as_str() {
            break src.to_owned();
        }
        assert!(Instant::now() < deadline, "no renewal iframe");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (state, nonce) = (query_param(&src, "state"), query_param(&src, "nonce"));
    // Every check of the answer itself would pass: only where it comes from gives it away.
    let id_token = KEY.sign(&json!({
        "iss": stack.issuer(), "sub": "auth0|mallory", "aud": SPA_CLIENT_ID, "name": "Mallory",
        "exp": now() + 600, "iat": now(), "nonce": nonce,
        "at_hash": devtenant::testing::at_hash("forged"),
    }));
    let forged = json!({
        "type": "authorization_response",
        "response": {
            "access_token": "forged", "id_token": id_token, "expires_in": "7200",
            "token_type": "Bearer", "state": state,
        },
    });
    // From this very window (another window than the iframe, the app's origin): three times,
    // as an attacker would repeat it, and once with another state for good measure.
    let mut other_state = forged.clone();
    other_state["response"]["state"] = json!("another-state");
    for message in [&forged, &forged, &other_state, &forged] {
        b.client
            .execute(
                "window.postMessage(arguments[0], '*'); return true;",
                vec![message.clone()],
            )
            .await
            .unwrap();
    }
    // The tenant's real answer comes after its delay: login_required.
    b.wait_for_text("#login-prompt", "Log in to call a private")
        .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(b.client.find(Locator::Css("#logout")).await.is_err());
    assert_eq!(b.session_storage(SESSION_KEY).await, json!(null));
    let iframes = b
        .client
        .execute("return document.querySelectorAll('iframe').length;", vec![])
        .await
        .unwrap();
    assert_eq!(
        iframes,
        json!(0),
        "the renewal's iframe is removed once answered"
    );
}
