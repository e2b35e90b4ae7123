//! Figures the browser tests measure (first render, login, renewal), written to `target/e2e/`
//! for `cargo xtask test` to print: libtest swallows a passing test's output.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::*;

/// Where the browser tests leave figures for `cargo xtask test` to print (libtest swallows a
/// passing test's output).
pub fn figures_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Browser {
    /// Milliseconds from the start of this page's navigation to the app's mark `name`, once
    /// the app has made it.
    pub async fn mark(&self, name: &str) -> f64 {
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

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Where figures of these tests go, one line each, for `cargo xtask test` to print.
pub fn report(name: &str, line: String) {
    std::fs::write(figures_dir().join(name), line + "\n").unwrap();
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
