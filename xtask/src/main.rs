//! The project's developer commands, so that a fresh clone needs nothing but cargo:
//!
//! - `cargo xtask run`  — runs the app: the API, and the development tenant unless a real
//!   tenant is configured (`AUTH0_DOMAIN` or `AUTH0_ISSUER`, in `.env` or the environment);
//! - `cargo xtask dev`  — the dev loop: `cargo run -p api` and `trunk serve`, live reload;
//! - `cargo xtask test` — every check CI runs: formatting, clippy, all tests, a smoke test of
//!   `run` itself, and the deployable image run as an orchestrator would;
//! - `cargo xtask image` — that image, built here with podman;
//! - `cargo xtask mutants` — mutation testing of the security code (too slow for every CI run).
//!
//! Each installs what it needs first. Almost plain std: this crate is built before anything
//! else, on every call, so it must compile in seconds.

mod bench;
mod deploy;
mod dev;
mod image;
mod lb;
mod mutants;
mod run;
mod servers;
mod smoke;
mod spa;
mod tools;

use std::env;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run::run(&args[1..]),
        Some("dev") => dev::dev(&args[1..]),
        Some("image") => image::image(&args[1..]),
        Some("test") => test(),
        Some("setup") => setup(),
        Some("bench") => bench::bench(&args[1..]),
        Some("lb") => lb::lb(),
        Some("mutants") => mutants::mutants(&args[1..]),
        Some("manifests") => deploy::check_manifests().map(drop),
        Some("help" | "-h" | "--help") | None => {
            print_usage();
            Ok(())
        }
        Some(other) => Err(format!("unknown command {other:?}; try `cargo xtask help`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn print_usage() {
    println!(
        "cargo xtask <command>\n\n\
         \x20 run   run the app (release build): the development tenant and the API, or the API\n\
         \x20       alone against the tenant in .env or the environment (AUTH0_DOMAIN / AUTH0_ISSUER)\n\
         \x20 dev   the dev loop: cargo run -p api and trunk serve (http://localhost:3000, reloads on save)\n\
         \x20 test  formatting, clippy (-D warnings) and every test, as CI runs them\n\
         \x20 image the deployable image (static API, no development tenant, the SPA) with podman;\n\
         \x20       --artifacts-only: only build them into target/image/ (the Containerfile runs that)\n\
         \x20 bench the API under load (wrk): throughput, latency, CPU, memory, JWKS fetches, DPoP;\n\
         \x20       --dpop-only: only the DPoP rows\n\
         \x20 lb    3 replicas behind HAProxy under load: rolling restart, key rotation, tenant outage\n\
         \x20 mutants  mutation testing of the security code (cargo-mutants; about an hour):
         \x20       caught / missed per file, fails under 95 %; --group=NAME for one group, --list
         \x20 manifests  render deploy/base and validate it against Kubernetes' schemas\n\
         \x20 setup only install what run, dev and test need (they do it themselves anyway); then\n\
         \x20       PATH=$PWD/tools/bin:$PATH gives `trunk serve` the pinned Trunk, wasm-bindgen and wasm-opt"
    );
}

/// The workspace root: xtask lives one level below it.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the workspace")
        .to_path_buf()
}

pub fn cargo() -> Command {
    let mut command = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root());
    command
}

/// Runs `command`, echoing it, and fails with its name if it fails.
pub fn step(what: &str, command: &mut Command) -> Result<(), String> {
    println!("==> {what}");
    let status = command
        .status()
        .map_err(|e| format!("{what}: cannot start {:?}: {e}", command.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// rustfmt and clippy come with rustup's default profile, but not with every install.
fn ensure_rust_components() -> Result<(), String> {
    let have = |tool: &str| {
        cargo()
            .args([tool, "--version"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if have("fmt") && have("clippy") {
        return Ok(());
    }
    step(
        "installing rustfmt and clippy",
        Command::new("rustup").args(["component", "add", "rustfmt", "clippy"]),
    )
}

fn setup() -> Result<(), String> {
    ensure_rust_components()?;
    tools::ensure_spa_tools()?;
    tools::ensure_chromium()?;
    tools::ensure_auth0_spa_js()?;
    tools::ensure_oidc_provider()?;
    tools::ensure_promtool()
}

fn test() -> Result<(), String> {
    ensure_rust_components()?;
    step(
        "cargo fmt --check",
        cargo().args(["fmt", "--all", "--", "--check"]),
    )?;
    step(
        "cargo clippy -D warnings",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    deployable_has_no_dev_tenant()?;
    deploy::check_manifests()?;
    // The end-to-end tests drive Chromium against the release build of the SPA.
    spa::build()?;
    spa::check_size()?;
    tools::ensure_chromium()?;
    tools::ensure_auth0_spa_js()?;
    tools::ensure_oidc_provider()?;
    tools::ensure_promtool()?;
    let mut counts = cargo_test(&["--workspace", "--all-targets", "--locked"])?;
    println!("==> figures from the end-to-end tests (headless Chromium):");
    for figures in [
        "login-round-trip.txt",
        "timings.txt",
        "renewal.txt",
        "refresh.txt",
        "dev-loop.txt",
    ] {
        let text = std::fs::read_to_string(root().join("target/e2e").join(figures));
        for line in text.iter().flat_map(|t| t.lines()) {
            println!("    {line}");
        }
    }
    smoke::smoke_test()?;
    image::check()?;
    counts.passed += 2;
    println!("==> all checks passed");
    // Last, so that it closes the output: every binary's results added up.
    println!(
        "tests: {} passed, 0 failed, {} skipped",
        counts.passed, counts.ignored
    );
    Ok(())
}

/// The build that is deployed (`--no-default-features`) has no development tenant in it: not
/// switched off, absent.
fn deployable_has_no_dev_tenant() -> Result<(), String> {
    println!("==> the deployable API build (--no-default-features) has no development tenant");
    let output = cargo()
        .args([
            "tree",
            "--locked",
            "--package",
            "api",
            "--no-default-features",
        ])
        .args(["--edges", "normal,build", "--prefix", "none"])
        .output()
        .map_err(|e| format!("cargo tree: {e}"))?;
    let tree = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || !tree.starts_with("api ") {
        return Err(format!(
            "cargo tree failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    match tree.lines().any(|line| line.starts_with("devtenant ")) {
        false => Ok(()),
        true => Err(
            "api --no-default-features depends on devtenant: the deployable build must not contain the development tenant".into(),
        ),
    }
}

struct Counts {
    passed: u64,
    ignored: u64,
}

/// `cargo test`, streamed as it runs, with every binary's results added up (cargo itself
/// ends on the last binary's, which may have no tests at all).
fn cargo_test(args: &[&str]) -> Result<Counts, String> {
    println!("==> cargo test {}", args.join(" "));
    let mut child = cargo()
        .arg("test")
        .args(args)
        // chromedriver for the end-to-end tests is found on PATH; here they must run, not skip.
        .env("PATH", tools::path_with_tools())
        .env("E2E_REQUIRED", "1")
        .env("AUTH0_SPA_JS", tools::auth0_spa_js_bundle())
        .env("OIDC_PROVIDER_DIR", tools::oidc_provider_dir())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start cargo test: {e}"))?;
    let (mut passed, mut failed, mut ignored) = (0u64, 0u64, 0u64);
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("reading cargo test's output: {e}"))?;
        println!("{line}");
        if let Some(summary) = line.strip_prefix("test result: ") {
            passed += count(summary, "passed");
            failed += count(summary, "failed");
            ignored += count(summary, "ignored");
        }
    }
    let status = child.wait().map_err(|e| format!("cargo test: {e}"))?;
    if status.success() {
        Ok(Counts { passed, ignored })
    } else {
        println!("tests: {passed} passed, {failed} failed, {ignored} skipped");
        Err(format!("cargo test failed ({status})"))
    }
}

/// The number before `word` in a summary like `ok. 26 passed; 0 failed; 0 ignored; ...`.
fn count(summary: &str, word: &str) -> u64 {
    summary
        .split([';', '.'])
        .filter_map(|part| part.trim().strip_suffix(word))
        .find_map(|n| n.trim().parse().ok())
        .unwrap_or(0)
}
