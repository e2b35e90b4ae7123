//! The SPA's release build (Trunk, offline, with the pinned tools from tools/) and its size.

use std::process::Command;

use crate::tools::{self, path_with_tools};
use crate::{cargo, root, step};

/// `trunk build --release --offline` into `dist/`.
pub fn build() -> Result<(), String> {
    tools::ensure_spa_tools()?;
    // Trunk runs cargo offline: the registry must already have every crate.
    step("cargo fetch", cargo().args(["fetch", "--locked"]))?;
    step(
        "building the SPA (trunk build --release)",
        Command::new(tools::tools_dir().join("bin").join("trunk"))
            .args(["build", "--release", "--offline"])
            .current_dir(root())
            .env("PATH", path_with_tools())
            // Trunk's own logging is chatty; warnings and errors are what matter here.
            .env("RUST_LOG", "warn"),
    )?;
    no_nonce_placeholder()
}

/// `trunk serve` puts a fresh nonce where Trunk.toml's `create_nonce` leaves a placeholder; a
/// release build must have none left (Trunk.toml's post-build hook removes them).
fn no_nonce_placeholder() -> Result<(), String> {
    let page = root().join("dist/index.html");
    let html = std::fs::read_to_string(&page).map_err(|e| format!("dist/index.html: {e}"))?;
    match html.contains("nonce=") {
        false => Ok(()),
        true => Err(format!(
            "{} carries a nonce attribute: Trunk.toml's post_build hook must strip the placeholder from release builds",
            page.display()
        )),
    }
}

/// The most the app's code may weigh, wasm and JS, gzip -9: what a browser must download and
/// compile before the first page shows. A build past it fails the test command; lower it when
/// the bundle shrinks, raise it only knowing what the bytes buy.
///
/// History: 170,487 → 135,100 (own router, JSON by the browser, …) →
/// 147,300: the code flow with PKCE, silent renewal in an iframe and refresh tokens (+12.2 KB)
/// → 152,100: any OpenID provider (its endpoints from the API, RP-Initiated Logout with a
/// checked `state`, RFC 9207's `iss` checked, "checking your session", the settings retried
/// while the API reads the provider's metadata) (+4.8 KB) → 166,700: DPoP (a WebCrypto key
/// in IndexedDB, proofs for the token endpoint, the API and `/userinfo`, the servers'
/// nonces), and tabs that share a session (a cross-tab lock, the `storage` event, the refresh
/// token revoked at Log Out) (+14.7 KB).
pub const BUDGET_GZIP_BYTES: usize = 166_700;

/// Prints the sizes of what the browser downloads to run the app, raw and gzip -9, and fails
/// when the code (wasm and JS) is over [`BUDGET_GZIP_BYTES`].
pub fn check_size() -> Result<(), String> {
    let dist = root().join("dist");
    let (mut total_raw, mut total_gzip, mut code_gzip) = (0, 0, 0);
    println!("==> SPA bundle (dist/), what a browser downloads:");
    for file in bundle_files(&dist)? {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = std::fs::read(&file).map_err(|e| format!("dist/{name}: {e}"))?;
        let gzip = gzip_size(&bytes)?;
        total_raw += bytes.len();
        total_gzip += gzip;
        if name.ends_with(".wasm") || name.starts_with("frontend") && name.ends_with(".js") {
            code_gzip += gzip;
        }
        println!(
            "    {name:<32} {:>8} bytes raw {gzip:>8} bytes gzip",
            bytes.len()
        );
    }
    println!(
        "    {:<32} {total_raw:>8} bytes raw {total_gzip:>8} bytes gzip",
        "total"
    );
    println!("    code (wasm + JS): {code_gzip} bytes gzip, budget {BUDGET_GZIP_BYTES}");
    if code_gzip > BUDGET_GZIP_BYTES {
        return Err(format!(
            "the SPA's code is {code_gzip} bytes gzip, over its budget of {BUDGET_GZIP_BYTES} (xtask/src/spa.rs): see where the bytes go with twiggy on target/wasm32-unknown-unknown/wasm-release/frontend.wasm"
        ));
    }
    Ok(())
}

/// What the build put in `dist/`, sorted by name.
fn bundle_files(dist: &std::path::Path) -> Result<Vec<std::path::PathBuf>, String> {
    let entries =
        std::fs::read_dir(dist).map_err(|e| format!("dist/: {e} (did the SPA build run?)"))?;
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// The size after `gzip -9`, as the budget is stated.
fn gzip_size(bytes: &[u8]) -> Result<usize, String> {
    use std::io::Write;
    let mut child = Command::new("gzip")
        .args(["-9", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("gzip: {e}"))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().map_err(|e| format!("gzip: {e}"))?;
    let _ = writer.join();
    Ok(output.stdout.len())
}
