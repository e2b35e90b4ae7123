//! Installs what the SPA build and the browser tests need, into the project-local `tools/`
//! (git ignores it), at pinned versions — nothing is downloaded from outside the package
//! registries, so Trunk's own downloads of wasm-bindgen and wasm-opt are never needed.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

use crate::{root, step};

/// Trunk 0.22 needs a newer rustc than this project's 1.95.
pub const TRUNK_VERSION: &str = "0.21.14";
/// Must equal the `wasm-bindgen` crate pinned in `frontend/Cargo.toml`: Trunk only uses the
/// CLI on PATH when the versions match exactly.
pub const WASM_BINDGEN_VERSION: &str = "0.2.130";
/// Older binaryen (Debian's 108, the wasm-opt crate's 116) rejects what rustc 1.95 emits.
pub const BINARYEN_VERSION: &str = "132.0.0";

pub fn tools_dir() -> PathBuf {
    root().join("tools")
}

/// PATH with the project's tools first.
pub fn path_with_tools() -> OsString {
    let mut paths = vec![
        tools_dir().join("bin"),
        tools_dir().join("node_modules").join(".bin"),
    ];
    if let Some(path) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(paths).expect("PATH entries without separators")
}

/// The output of `program args...` with the tools on PATH, if it ran and succeeded.
fn output_of(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program)
        .args(args)
        .env("PATH", path_with_tools())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

pub fn ensure_wasm_target() -> Result<(), String> {
    let installed = output_of("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if installed
        .lines()
        .any(|t| t.trim() == "wasm32-unknown-unknown")
    {
        return Ok(());
    }
    step(
        "installing the wasm32-unknown-unknown target",
        Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]),
    )
}

/// `cargo install` into tools/, as a debug build: several times faster to build than release,
/// and these tools spend their time waiting on rustc, not computing.
pub fn cargo_install(what: &str, args: &[&str]) -> Result<(), String> {
    let mut command = crate::cargo();
    command
        .args(["install", "--debug", "--root"])
        .arg(tools_dir())
        .arg("--target-dir")
        .arg(tools_dir().join("target"))
        .args(args)
        .env("CARGO_PROFILE_DEV_DEBUG", "false");
    step(what, &mut command)
}

pub fn ensure_trunk() -> Result<(), String> {
    let version = output_of("trunk", &["--version"]).unwrap_or_default();
    if version.trim() == format!("trunk {TRUNK_VERSION}") {
        return Ok(());
    }
    cargo_install(
        &format!("installing trunk {TRUNK_VERSION} into tools/ (about 4 minutes, once)"),
        &["--locked", "trunk", "--version", TRUNK_VERSION],
    )
}

pub fn ensure_wasm_bindgen() -> Result<(), String> {
    let version = output_of("wasm-bindgen", &["--version"]).unwrap_or_default();
    if version.trim() == format!("wasm-bindgen {WASM_BINDGEN_VERSION}") {
        return Ok(());
    }
    // No --locked: its lockfile names a crate version the registry no longer serves.
    cargo_install(
        &format!(
            "installing wasm-bindgen-cli {WASM_BINDGEN_VERSION} into tools/ (about 2 minutes, once)"
        ),
        &["wasm-bindgen-cli", "--version", WASM_BINDGEN_VERSION],
    )
}

pub fn ensure_wasm_opt() -> Result<(), String> {
    let version = output_of("wasm-opt", &["--version"]).unwrap_or_default();
    if version.contains(&format!(
        "version {}",
        BINARYEN_VERSION.split('.').next().unwrap_or("")
    )) {
        return Ok(());
    }
    if output_of("npm", &["--version"]).is_none() {
        apt_install(&["nodejs", "npm"])?;
    }
    std::fs::create_dir_all(tools_dir()).map_err(|e| format!("cannot create tools/: {e}"))?;
    step(
        &format!("installing binaryen {BINARYEN_VERSION} (wasm-opt) from npm into tools/"),
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(tools_dir())
            .arg(format!("binaryen@{BINARYEN_VERSION}")),
    )
}

/// Auth0's SPA SDK, for one browser test: the development tenant must satisfy the client
/// Auth0 ships. Never shipped in the app.
pub const AUTH0_SPA_JS_VERSION: &str = "2.28.3";

/// Where the SDK's browser bundle (UMD, self-contained) is unpacked; the browser tests read
/// this path from `AUTH0_SPA_JS`.
pub fn auth0_spa_js_bundle() -> PathBuf {
    tools_dir()
        .join(format!("auth0-spa-js-{AUTH0_SPA_JS_VERSION}"))
        .join("package/dist/auth0-spa-js.production.js")
}

/// The SDK's package from npm, unpacked into tools/. `npm pack`, not `npm install`: the
/// bundle carries its dependencies, and npm need not resolve them.
pub fn ensure_auth0_spa_js() -> Result<(), String> {
    if auth0_spa_js_bundle().is_file() {
        return Ok(());
    }
    let dir = tools_dir().join(format!("auth0-spa-js-{AUTH0_SPA_JS_VERSION}"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    step(
        &format!(
            "downloading @auth0/auth0-spa-js {AUTH0_SPA_JS_VERSION} from npm into tools/ (a browser test uses it)"
        ),
        Command::new("npm")
            .args(["pack", "--silent"])
            .arg(format!("@auth0/auth0-spa-js@{AUTH0_SPA_JS_VERSION}"))
            .current_dir(&dir),
    )?;
    step(
        "unpacking it",
        Command::new("tar")
            .args(["xzf"])
            .arg(format!("auth0-auth0-spa-js-{AUTH0_SPA_JS_VERSION}.tgz"))
            .current_dir(&dir),
    )
}

/// panva's oidc-provider (OpenID Certified), the second tenant of the browser tests: the SPA
/// must work with any OpenID provider, judged by one it was not written against. Never
/// shipped.
pub const OIDC_PROVIDER_VERSION: &str = "9.13.3";

/// Where it is installed (`node_modules/oidc-provider` in there); the browser tests read this
/// path from `OIDC_PROVIDER_DIR`.
pub fn oidc_provider_dir() -> PathBuf {
    tools_dir().join(format!("oidc-provider-{OIDC_PROVIDER_VERSION}"))
}

/// oidc-provider and its dependencies from npm, into tools/ (`npm install`: unlike the SDK's
/// bundle, it is a Node package with dependencies of its own).
pub fn ensure_oidc_provider() -> Result<(), String> {
    let dir = oidc_provider_dir();
    if dir
        .join("node_modules/oidc-provider/package.json")
        .is_file()
    {
        return Ok(());
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    step(
        &format!(
            "installing oidc-provider {OIDC_PROVIDER_VERSION} from npm into tools/ (the browser tests' second provider)"
        ),
        Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--no-save",
                "--prefix",
            ])
            .arg(&dir)
            .arg(format!("oidc-provider@{OIDC_PROVIDER_VERSION}")),
    )
}

/// Debian's Chromium and its WebDriver, for the end-to-end tests.
pub fn ensure_chromium() -> Result<(), String> {
    if output_of("chromium", &["--version"]).is_some()
        && output_of("chromedriver", &["--version"]).is_some()
    {
        return Ok(());
    }
    apt_install(&["chromium", "chromium-driver"])
}

/// Prometheus' `promtool`, which checks the API's `/metrics` in the integration tests. Debian
/// ships it with the server; only the binary is used.
pub fn ensure_promtool() -> Result<(), String> {
    if output_of("promtool", &["--version"]).is_some() {
        return Ok(());
    }
    // Without its recommends: the web console's fonts and scripts are not needed.
    apt_install(&["--no-install-recommends", "prometheus"])
}

/// podman to build and run the image, with runc (this machine's cgroups break crun, Debian's
/// default) and catatonit (the init of podman's pods).
pub fn ensure_podman() -> Result<(), String> {
    let have = |tool: &str| output_of(tool, &["--version"]).is_some();
    if have("podman") && have("runc") && have("catatonit") {
        return Ok(());
    }
    apt_install(&["podman", "runc", "catatonit"])
}

pub fn apt_install(packages: &[&str]) -> Result<(), String> {
    step(
        "apt-get update",
        Command::new("apt-get").args(["update", "-qq"]),
    )?;
    step(
        &format!("installing {} from Debian", packages.join(" ")),
        Command::new("apt-get")
            .args(["install", "-y", "-qq"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// Everything the SPA build needs, all in `tools/bin`: one directory to put on `PATH` for
/// `trunk serve`.
pub fn ensure_spa_tools() -> Result<(), String> {
    ensure_wasm_target()?;
    ensure_wasm_bindgen()?;
    ensure_wasm_opt()?;
    ensure_trunk()?;
    link_wasm_opt()
}

/// npm puts wasm-opt in `tools/node_modules/.bin`; a link in `tools/bin` beside trunk and
/// wasm-bindgen makes `PATH=$PWD/tools/bin:$PATH` enough.
fn link_wasm_opt() -> Result<(), String> {
    let link = tools_dir().join("bin").join("wasm-opt");
    if link.exists() {
        return Ok(());
    }
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("../node_modules/.bin/wasm-opt", &link)
        .map_err(|e| format!("cannot link {}: {e}", link.display()))
}
