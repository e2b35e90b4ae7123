//! What every browser test stands on: the stack (the development tenant and the API serving the
//! release build of the SPA, in-process on port 0), headless Chromium through chromedriver,
//! and the steps a person takes in the app (log in, call, read what is stored).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use integration_tests::*;
use serde_json::json;
use shared::{LoginFlow, SessionStorage};
use tokio::net::TcpListener;

/// One browser at a time: two cores do not run several Chromiums well.
pub static ONE_BROWSER: LazyLock<tokio::sync::Mutex<()>> =
    LazyLock::new(|| tokio::sync::Mutex::new(()));

pub fn dist() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist")
}

/// Why these tests cannot run here, if they cannot.
pub fn missing_prerequisite() -> Option<String> {
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
pub struct Stack {
    pub origin: String,
    pub app: TestApp,
}

pub async fn stack() -> Stack {
    stack_with(|_| {}).await
}

/// Registers an app at `origin` with the tenant's SPA application, as one would in Auth0's
/// dashboard: `{origin}{callback}` an allowed callback, `{origin}{logout}` an allowed logout
/// URL, the origin an allowed web origin.
pub fn register(config: &mut devtenant::TenantConfig, origin: &str, callback: &str, logout: &str) {
    let spa = config
        .applications
        .iter_mut()
        .find(|a| a.app_type == devtenant::AppType::Spa)
        .expect("the built-in configuration has an SPA");
    spa.callbacks.push(format!("{origin}{callback}"));
    spa.logout_urls.push(format!("{origin}{logout}"));
    // As RP-Initiated Logout writes the app's home (`post_logout_redirect_uri`).
    spa.logout_urls.push(format!("{origin}/"));
    spa.web_origins.push(origin.to_owned());
}

/// The stack, with a change to the API's settings.
pub async fn stack_with(change: impl FnOnce(&mut api::config::Settings) + 'static) -> Stack {
    stack_at("127.0.0.1", change).await
}

/// The stack with the tenant reached at `tenant_host` (its issuer's host): `127.0.0.1` is the
/// app's own site; `localhost` another one, so the tenant's cookies in the app's iframe are
/// third-party cookies.
pub async fn stack_at(
    tenant_host: &str,
    change: impl FnOnce(&mut api::config::Settings) + 'static,
) -> Stack {
    stack_of(tenant_host, |_| {}, change).await
}

/// The stack, with changes to the tenant's configuration and to the API's settings.
pub async fn stack_of(
    tenant_host: &str,
    tenant: impl FnOnce(&mut devtenant::TenantConfig),
    change: impl FnOnce(&mut api::config::Settings) + 'static,
) -> Stack {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let app_origin = origin.clone();
    let app = TestApp::builder()
        .tenant(move |config| register(config, &app_origin, "/callback", ""))
        .tenant(tenant)
        .settings(|s| s.spa_dir = Some(dist()))
        .settings(change)
        .listener(listener)
        .tenant_host(tenant_host)
        .spawn()
        .await;
    Stack { origin, app }
}

impl Stack {
    pub fn issuer(&self) -> &str {
        self.app.issuer()
    }
}

/// Headless Chromium through chromedriver; both stopped when dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
    /// Chromium's profile and its temporary files, removed after it is stopped.
    _profile: tempfile::TempDir,
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

pub async fn browser() -> Browser {
    browser_holding(ONE_BROWSER.lock().await).await
}

/// One browser at a time: two cores do not run several Chromiums, or a build beside one, well.
/// A test that builds first takes its turn before the build ([`browser_holding`]).
pub async fn turn() -> tokio::sync::MutexGuard<'static, ()> {
    ONE_BROWSER.lock().await
}

/// A browser for a test that already holds its [`turn`].
pub async fn browser_holding(one: tokio::sync::MutexGuard<'static, ()>) -> Browser {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let profile = tempfile::Builder::new()
        .prefix("e2e-chromium-")
        .tempdir()
        .unwrap();
    let driver = {
        use std::os::unix::process::CommandExt;
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            // Chromium is stopped with SIGKILL, so it never removes its own scratch
            // directories: keep them inside the profile, which is removed after it.
            .env("TMPDIR", profile.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect(
                "chromedriver is installed (cargo xtask test installs Debian's chromium-driver)",
            )
    };
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic", "--window-size=1100,900",
                format!("--user-data-dir={}", profile.path().join("profile").display()),
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
        _profile: profile,
        _one: one,
    }
}

impl Browser {
    pub async fn open(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// The text of `css`, once it exists and contains `expected`.
    pub async fn wait_for_text(&self, css: &str, expected: &str) -> String {
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

    pub async fn click(&self, css: &str) {
        self.client
            .wait()
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    pub async fn is_enabled(&self, css: &str) -> bool {
        let element = self
            .client
            .wait()
            .for_element(Locator::Css(css))
            .await
            .unwrap();
        element.attr("disabled").await.unwrap().is_none()
    }

    pub async fn url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    /// Clicks Log In and waits for the tenant's login form.
    pub async fn start_login(&self, stack: &Stack) {
        self.start_login_at(stack.issuer()).await;
    }

    /// Clicks Log In and waits for the login form of the tenant at `issuer`.
    pub async fn start_login_at(&self, issuer: &str) {
        self.click("#login").await;
        self.wait_for_url(issuer).await;
        self.client
            .wait()
            .for_element(Locator::Css("#email"))
            .await
            .unwrap();
    }

    pub async fn fill_login_form(&self, email: &str, password: &str) {
        let email_field = self.client.find(Locator::Css("#email")).await.unwrap();
        email_field.send_keys(email).await.unwrap();
        let password_field = self.client.find(Locator::Css("#password")).await.unwrap();
        password_field.send_keys(password).await.unwrap();
        self.click("button[value=login]").await;
    }

    pub async fn wait_for_url(&self, prefix: &str) -> String {
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
    pub async fn log_in_from_ping(&self, stack: &Stack, email: &str, password: &str) -> Duration {
        self.log_in_at(&stack.origin, stack.issuer(), email, password)
            .await
    }

    /// The whole login from the Ping page of the app at `origin`, with the tenant at `issuer`.
    pub async fn log_in_at(
        &self,
        origin: &str,
        issuer: &str,
        email: &str,
        password: &str,
    ) -> Duration {
        self.open(&format!("{origin}/ping")).await;
        let started = Instant::now();
        self.start_login_at(issuer).await;
        self.fill_login_form(email, password).await;
        self.wait_for_url(&format!("{origin}/ping")).await;
        self.client
            .wait()
            .for_element(Locator::Css("#logout"))
            .await
            .unwrap();
        started.elapsed()
    }

    pub async fn call(&self, button: &str, expected: &str) -> String {
        self.click(button).await;
        self.wait_for_text("#result", expected).await
    }

    pub async fn assert_logged_out(&self, stack: &Stack) {
        self.open(&stack.origin).await;
        self.wait_for_text(
            "#home-status",
            "You are not logged in! Please log in to continue.",
        )
        .await;
    }

    /// Waits until the page that set `window.before_logout` has been replaced by a new one.
    pub async fn wait_for_new_page(&self) {
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
    pub async fn edit_session(&self, change: &str) {
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
    pub async fn stored(&self, member: &str) -> serde_json::Value {
        stored_session(self).await[member].clone()
    }

    /// Waits until the stored session's `member` is no longer `old`; returns the new value.
    pub async fn wait_for_change(
        &self,
        member: &str,
        old: &serde_json::Value,
    ) -> serde_json::Value {
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

    pub async fn session_storage(&self, key: &str) -> serde_json::Value {
        self.client
            .execute(
                "return sessionStorage.getItem(arguments[0]);",
                vec![json!(key)],
            )
            .await
            .unwrap()
    }
}

pub const SESSION_KEY: &str = "quickstart.session";

pub const PENDING_KEY: &str = "quickstart.pending_login";

/// The `state` and `nonce` of the login under way, read off the tenant's URL.
pub async fn login_parameters(b: &Browser) -> (String, String) {
    let url = b.url().await;
    (query_param(&url, "state"), query_param(&url, "nonce"))
}

/// The parameter `name` of `url`'s query.
pub fn query_param(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("{url} has no {name}"))
}

impl Browser {
    /// Starts a login from `/ping` and stops at the tenant's form: its `state` and `nonce`.
    pub async fn start_login_from_ping(&self, stack: &Stack) -> (String, String) {
        self.open(&format!("{}/ping", stack.origin)).await;
        self.start_login(stack).await;
        login_parameters(self).await
    }

    /// Brings `/callback` an answer (`#…` or `?…`) the tenant did not send.
    pub async fn open_callback(&self, stack: &Stack, answer: &str) {
        self.open(&format!("{}/callback{answer}", stack.origin))
            .await;
    }
}

pub async fn assert_refused(b: &Browser, words: &str) {
    let shown = b.wait_for_text("#login-error", words).await;
    assert!(!shown.is_empty());
    assert_eq!(b.session_storage(SESSION_KEY).await, json!(null));
    // Nothing of it shows as logged in. (A later visit may still be logged in by a silent
    // renewal: the tenant's session is real; the refused answer is not.)
    assert!(b.client.find(Locator::Css("#logout")).await.is_err());
}

/// What `sessionStorage` holds for the session, parsed.
pub async fn stored_session(b: &Browser) -> serde_json::Value {
    match b.session_storage(SESSION_KEY).await {
        serde_json::Value::String(json) => serde_json::from_str(&json).unwrap(),
        other => other,
    }
}

/// The stack with the SPA on `flow`, refresh tokens on or off, sessions kept in `storage`.
pub async fn stack_for(flow: LoginFlow, refresh_tokens: bool, storage: SessionStorage) -> Stack {
    stack_with(move |s| {
        s.login_flow = flow;
        s.refresh_tokens = refresh_tokens;
        s.session_storage = storage;
    })
    .await
}

pub const FLOWS: [LoginFlow; 2] = [LoginFlow::Implicit, LoginFlow::Code];
