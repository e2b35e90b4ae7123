//! `cargo xtask mutants`: mutation testing of the security-relevant code with cargo-mutants.
//! Each line of that code is changed in turn (a `>` into `>=`, a function's body into
//! `Default::default()`, an arm deleted) and the tests that exercise it are run: a change no
//! test notices is a line the suite does not really check.
//!
//! The code is split into groups, each mutated with only the tests that exercise it (the
//! browser tests are never run: a mutant of the API is caught by the in-process suite, and
//! Chromium would make each mutant cost a minute). Results land in `target/mutants/<group>/`;
//! the command prints caught / missed / unviable per file and fails when a file is under
//! [`THRESHOLD`]. Mutants that are truly equivalent are excluded in `.cargo/mutants.toml`,
//! each with its reason.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::tools::{path_with_tools, tools_dir};
use crate::{cargo, root, step};

/// cargo-mutants' major version: its output files' format is what [`tally`] reads.
const CARGO_MUTANTS_VERSION: &str = "27";
/// The share of viable mutants each file's tests must catch.
const THRESHOLD: f64 = 0.95;

/// A part of the code mutated together, and the tests run against each of its mutants.
struct Group {
    name: &'static str,
    /// The package the files belong to (cargo-mutants mutates one package's files at a time).
    package: &'static str,
    /// Globs, relative to the workspace root.
    files: &'static [&'static str],
    /// The packages whose tests run against each mutant…
    test_packages: &'static [&'static str],
    /// …and which of their targets (`cargo test` arguments).
    targets: &'static [&'static str],
    /// `nextest` where the suite is slow: one process per test, all cores, and the first
    /// failure ends the run, so a caught mutant costs seconds, not the whole suite.
    test_tool: &'static str,
    /// Seconds a test run may take before the mutant counts as a hang (about 3× the suite).
    timeout: u32,
}

const GROUPS: &[Group] = &[
    Group {
        name: "shared",
        package: "shared",
        files: &["shared/src/**/*.rs"],
        test_packages: &["shared"],
        targets: &["--all-features", "--lib"],
        test_tool: "cargo",
        timeout: 60,
    },
    Group {
        name: "api",
        package: "api",
        files: &["api/src/auth/*.rs", "api/src/server.rs"],
        // The in-process suite lives in another package (the browser tests are left out).
        test_packages: &["api", "integration-tests"],
        targets: &["--lib", "--test", "startup", "--test", "it"],
        test_tool: "nextest",
        timeout: 150,
    },
    Group {
        name: "devtenant",
        package: "devtenant",
        files: &[
            "devtenant/src/request.rs",
            "devtenant/src/token.rs",
            "devtenant/src/store.rs",
            "devtenant/src/authorize.rs",
        ],
        test_packages: &["devtenant"],
        targets: &["--lib", "--test", "protocol"],
        test_tool: "nextest",
        timeout: 60,
    },
    Group {
        name: "frontend",
        package: "frontend",
        files: &["frontend/src/auth/*.rs"],
        test_packages: &["frontend"],
        targets: &["--lib"],
        test_tool: "cargo",
        timeout: 60,
    },
];

pub fn mutants(args: &[String]) -> Result<(), String> {
    // After `--`: passed to cargo-mutants as they are (`--file`, `--shard 1/4`, `--iterate`).
    let (args, extra) = match args.iter().position(|a| a == "--") {
        Some(at) => (&args[..at], &args[at + 1..]),
        None => (args, &[][..]),
    };
    let only: Vec<&str> = args
        .iter()
        .filter_map(|a| a.strip_prefix("--group="))
        .collect();
    if let Some(unknown) = only
        .iter()
        .find(|name| !GROUPS.iter().any(|g| g.name == **name))
    {
        return Err(format!(
            "no group {unknown:?}; the groups are {}",
            GROUPS.iter().map(|g| g.name).collect::<Vec<_>>().join(", ")
        ));
    }
    let list_only = args.iter().any(|a| a == "--list");
    ensure_cargo_mutants()?;
    ensure_nextest()?;
    let started = Instant::now();
    let mut results = BTreeMap::new();
    for group in GROUPS
        .iter()
        .filter(|g| only.is_empty() || only.contains(&g.name))
    {
        if list_only {
            list(group)?;
            continue;
        }
        run(group, extra)?;
        tally(group, &mut results)?;
    }
    if list_only {
        return Ok(());
    }
    report(&results, started.elapsed().as_secs())
}

/// cargo-mutants into tools/, like the other pinned tools.
fn ensure_cargo_mutants() -> Result<(), String> {
    let version = Command::new(tools_dir().join("bin/cargo-mutants"))
        .args(["mutants", "--version"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if version.starts_with(&format!("cargo-mutants {CARGO_MUTANTS_VERSION}.")) {
        return Ok(());
    }
    crate::tools::cargo_install(
        "installing cargo-mutants into tools/ (about 3 minutes, once)",
        &[
            "--locked",
            "cargo-mutants",
            "--version",
            &format!("^{CARGO_MUTANTS_VERSION}"),
        ],
    )
}

/// cargo-nextest comes with this machine kind's toolchain; elsewhere it is installed.
fn ensure_nextest() -> Result<(), String> {
    let have = cargo()
        .args(["nextest", "--version"])
        .env("PATH", path_with_tools())
        .output()
        .is_ok_and(|o| o.status.success());
    if have {
        return Ok(());
    }
    crate::tools::cargo_install(
        "installing cargo-nextest into tools/ (about 4 minutes, once)",
        &["--locked", "cargo-nextest"],
    )
}

fn cargo_mutants(group: &Group) -> Command {
    let mut command = cargo();
    command
        .env("PATH", path_with_tools())
        .args(["mutants", "--package", group.package]);
    for file in group.files {
        command.args(["--file", file]);
    }
    command
}

fn list(group: &Group) -> Result<(), String> {
    step(
        &format!("the mutants of {}", group.name),
        cargo_mutants(group).arg("--list"),
    )
}

fn run(group: &Group, extra: &[String]) -> Result<(), String> {
    let output = root().join("target/mutants").join(group.name);
    std::fs::create_dir_all(&output)
        .map_err(|e| format!("cannot create {}: {e}", output.display()))?;
    let mut command = mutants_command(group, &output, extra);
    announce(group);
    // cargo-mutants exits non-zero when a mutant is missed: the tally decides.
    let status = command
        .status()
        .map_err(|e| format!("cannot start cargo mutants: {e}"))?;
    match status.code() {
        Some(0 | 2 | 3) => Ok(()),
        _ => Err(format!(
            "cargo mutants on {} failed ({status}); see {}",
            group.name,
            output.join("mutants.out/debug.log").display()
        )),
    }
}

/// `cargo mutants` over `group`, its results into `output`.
fn mutants_command(group: &Group, output: &Path, extra: &[String]) -> Command {
    let mut command = cargo_mutants(group);
    for package in group.test_packages {
        command.args(["--test-package", package]);
    }
    if group.test_packages.iter().any(|p| *p != group.package) {
        // cargo-mutants' baseline builds the mutated package alone, where `--test it` does
        // not exist; the suite passing unmutated is what `cargo xtask test` checks.
        command.arg("--baseline=skip");
    }
    command
        .arg("--output")
        .arg(output)
        .args([
            "--no-shuffle",
            "--timeout",
            &group.timeout.to_string(),
            "--build-timeout",
            "600",
            "--caught",
            "--test-tool",
            group.test_tool,
        ])
        // A target dir per group outside the copy cargo-mutants makes of the tree: kept between
        // runs (the dependencies are built once), and groups can run side by side.
        .env(
            "CARGO_TARGET_DIR",
            root()
                .join("target/mutants")
                .join(format!("build-{}", group.name)),
        )
        .args(extra)
        .arg("--")
        .args(group.targets);
    command
}

fn announce(group: &Group) {
    let tool = match group.test_tool {
        "nextest" => "nextest run",
        _ => "test",
    };
    println!(
        "==> mutating {} ({}), testing with `cargo {tool} -p {} {}`",
        group.name,
        group.files.join(" "),
        group.test_packages.join(" -p "),
        group.targets.join(" ")
    );
}

/// Per file: [caught, missed, timeout, unviable].
type Counts = [u32; 4];

const OUTCOMES: [&str; 4] = ["caught.txt", "missed.txt", "timeout.txt", "unviable.txt"];

fn tally(group: &Group, results: &mut BTreeMap<String, Counts>) -> Result<(), String> {
    let dir = root()
        .join("target/mutants")
        .join(group.name)
        .join("mutants.out");
    for (i, name) in OUTCOMES.iter().enumerate() {
        let text = read(&dir.join(name))?;
        // Each line: `path:line:column: replace ... with ...`.
        for line in text.lines() {
            let file = line.split(':').next().unwrap_or(line);
            results.entry(file.to_owned()).or_default()[i] += 1;
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// A mutant that times out made the tests hang instead of pass: it is counted as caught.
fn score([caught, missed, timeout, _]: Counts) -> Option<f64> {
    let viable = caught + missed + timeout;
    (viable > 0).then(|| f64::from(caught + timeout) / f64::from(viable))
}

fn report(results: &BTreeMap<String, Counts>, seconds: u64) -> Result<(), String> {
    println!("\n| file | caught | missed | timeout | unviable | score |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut total: Counts = [0; 4];
    let mut under = Vec::new();
    for (file, counts) in results {
        for (t, c) in total.iter_mut().zip(counts) {
            *t += c;
        }
        let score = score(*counts);
        let shown = score.map_or("—".into(), |s| format!("{:.1} %", s * 100.0));
        let [caught, missed, timeout, unviable] = counts;
        println!("| `{file}` | {caught} | {missed} | {timeout} | {unviable} | {shown} |");
        if score.is_some_and(|s| s < THRESHOLD) {
            under.push(file.as_str());
        }
    }
    let [caught, missed, timeout, unviable] = total;
    let shown = score(total).map_or("—".into(), |s| format!("{:.1} %", s * 100.0));
    println!("| all | {caught} | {missed} | {timeout} | {unviable} | {shown} |");
    println!(
        "\nmutation testing took {} min {} s; the missed mutants are listed in target/mutants/*/mutants.out/missed.txt",
        seconds / 60,
        seconds % 60
    );
    if under.is_empty() {
        println!("every file at or above {:.0} %", THRESHOLD * 100.0);
        Ok(())
    } else {
        Err(format!(
            "under {:.0} % of viable mutants caught: {}",
            THRESHOLD * 100.0,
            under.join(", ")
        ))
    }
}
