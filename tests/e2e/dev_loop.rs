//! The design card's dev loop, exactly as a developer runs it from the checkout: `cargo run -p
//! api` with nothing configured (the development tenant starts inside it) and `trunk serve`,
//! then the app at http://localhost:3000: the reader logs in, three pings, Log Out. Then a
//! change to the SPA's code shows in the open page without anyone reloading it.
//!
//! The only test here on fixed ports (3000, 3001 and 4010): they are what the two commands
//! use. `trunk serve` runs on a copy of the checkout, so that the test's edit never touches
//! the developer's files; it shares the checkout's `target/`.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use shared::Message;

use crate::figures::report;
use crate::harness::*;

const APP: &str = "http://localhost:3000";
const TENANT: &str = "http://localhost:4010/";

fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the checkout")
        .to_path_buf()
}

/// Why the dev loop cannot be tried here, if it cannot.
fn dev_loop_unavailable() -> Option<String> {
    let trunk = Command::new("trunk").arg("--version").output();
    if !trunk.is_ok_and(|o| o.status.success()) {
        return Some("trunk is not on PATH (`cargo xtask test` puts tools/bin there)".into());
    }
    for port in [3000, 3001, 4010] {
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
            return Some(format!(
                "port {port} is in use (is `cargo xtask run` or the dev loop running?): the dev loop's commands use ports 3000, 3001 and 4010"
            ));
        }
    }
    None
}

/// A process started in its own process group, its output kept for a failure's message; the
/// whole group is stopped when this is dropped (`cargo run` and the API it starts, Trunk and
/// the cargo it runs).
struct Started {
    child: Child,
    output: Arc<Mutex<String>>,
}

impl Started {
    fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let output = Arc::new(Mutex::new(String::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut kept = output.lock().unwrap();
                    kept.push_str(&line);
                    kept.push('\n');
                }
            });
        }
        Self { child, output }
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits until `ready` holds, failing with this process's output if it exits first or
    /// `within` passes.
    async fn wait_until(
        &mut self,
        what: &str,
        within: Duration,
        mut ready: impl AsyncFnMut() -> bool,
    ) {
        let deadline = Instant::now() + within;
        while !ready().await {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{what}: the process stopped ({status}):\n{}", self.output());
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {within:?}:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// `cargo run -p api` in the checkout, with an empty environment but for what cargo itself
/// needs to find its toolchain and the checkout's build.
fn cargo_run_api() -> Command {
    let mut command = Command::new(option_env!("CARGO").unwrap_or("cargo"));
    command
        .args(["run", "-p", "api"])
        .current_dir(checkout())
        .env_clear();
    for var in [
        "PATH",
        "HOME",
        "CARGO_HOME",
        "RUSTUP_HOME",
        "RUSTUP_TOOLCHAIN",
        "CARGO_TARGET_DIR",
    ] {
        if let Some(value) = std::env::var_os(var) {
            command.env(var, value);
        }
    }
    command
}

/// The checkout's files, without what is built or installed, copied into `to`.
fn copy_checkout(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        let skip = [".git", "target", "tools", "dist", ".devtenant", ".env"];
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let (source, target) = (entry.path(), to.join(&name));
        if entry.file_type().unwrap().is_dir() {
            copy_checkout(&source, &target);
        } else {
            std::fs::copy(&source, &target).unwrap();
        }
    }
}

async fn get(url: &str) -> Option<reqwest::Response> {
    reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()
        .filter(|r| r.status().is_success())
}

/// The page's CSP, and the nonce of its inline live-reload script.
async fn page_nonces() -> (String, String) {
    let page = get(&format!("{APP}/")).await.expect("trunk serve answers");
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    let script = html
        .split("<script nonce=\"")
        .nth(1)
        .expect("the live-reload script carries a nonce");
    let nonce = script.split('"').next().unwrap().to_owned();
    (csp, nonce)
}

#[tokio::test]
async fn cargo_run_api_and_trunk_serve_give_a_working_app_that_reloads_itself() {
    require_browser!();
    if checkout().join(".env").exists() {
        eprintln!(
            "skipped: the checkout has a .env, so `cargo run -p api` would not use the development tenant"
        );
        return;
    }
    if let Some(why) = dev_loop_unavailable() {
        assert!(
            std::env::var_os("E2E_REQUIRED").is_none(),
            "the dev-loop test cannot run: {why}"
        );
        eprintln!("skipped: {why}");
        return;
    }
    // Builds take both cores: no other browser test runs meanwhile.
    let turn = turn().await;

    let started = Instant::now();
    let mut api = Started::spawn(cargo_run_api());
    api.wait_until("cargo run -p api", Duration::from_secs(900), async || {
        get("http://127.0.0.1:3001/readyz").await.is_some()
    })
    .await;
    let api_ready = started.elapsed();
    let banner = api.output();
    assert!(
        banner.contains(&format!("using the development tenant at {TENANT}")),
        "{banner}"
    );

    // Declared before Trunk, so it is removed after Trunk is stopped, passed or not.
    let scratch = tempfile::Builder::new()
        .prefix("dev-loop-")
        .tempdir()
        .unwrap();
    let copy = scratch.path().to_owned();
    copy_checkout(&checkout(), &copy);
    let mut trunk_serve = Command::new("trunk");
    trunk_serve
        .arg("serve")
        .current_dir(&copy)
        .env("CARGO_TARGET_DIR", checkout().join("target"));
    let started = Instant::now();
    let mut trunk = Started::spawn(trunk_serve);
    trunk
        .wait_until("trunk serve", Duration::from_secs(900), async || {
            get(&format!("{APP}/")).await.is_some()
        })
        .await;
    let b = browser_holding(turn).await;
    b.open(APP).await;
    b.wait_for_text("#home-status", "not logged in").await;
    let page_shown = started.elapsed();

    // Live reload runs under the API's CSP, with a nonce of its own for every page.
    let (csp, nonce) = page_nonces().await;
    assert!(csp.contains(&format!("'nonce-{nonce}'")), "{csp}");
    assert_ne!(page_nonces().await.1, nonce, "a fresh nonce per page");

    b.log_in_at(APP, TENANT, "reader@example.com", "reader")
        .await;
    b.call("#call-public", Message::PUBLIC).await;
    b.call("#call-private", Message::PRIVATE).await;
    b.call("#call-private-scoped", Message::PRIVATE_SCOPED)
        .await;
    b.click("#logout").await;
    b.wait_for_url(APP).await;
    b.wait_for_text("#home-status", "You are not logged in!")
        .await;

    // A developer saves a change to the SPA; the open page shows it by itself.
    b.client
        .execute("window.before_reload = true; return true;", vec![])
        .await
        .unwrap();
    let home = copy.join("frontend/src/pages/home.rs");
    let source = std::fs::read_to_string(&home).unwrap();
    let changed = source.replace("{ \"Calling an API\" }", "{ \"Calling an API, live\" }");
    assert_ne!(source, changed, "home.rs still has its heading");
    let saved = Instant::now();
    std::fs::write(&home, changed).unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let now = b
            .client
            .execute(
                "return !window.before_reload && document.querySelector('h1')?.textContent;",
                vec![],
            )
            .await
            .unwrap_or(json!(null));
        if now == json!("Calling an API, live") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the page never reloaded with the change (last: {now}):\n{}",
            trunk.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reloaded = saved.elapsed();
    report(
        "dev-loop.txt",
        format!(
            "dev loop (this run; cold when nothing was built): cargo run -p api → ready {:.1} s, trunk serve → page shown {:.1} s, save → page reloaded with the change {:.1} s",
            api_ready.as_secs_f64(),
            page_shown.as_secs_f64(),
            reloaded.as_secs_f64()
        ),
    );
    drop(b);
    drop(trunk);
    drop(api);
}
