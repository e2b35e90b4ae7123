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
    )
}

/// Prints the sizes of what the browser downloads to run the app: raw and gzip -9.
pub fn report_size() -> Result<(), String> {
    let dist = root().join("dist");
    let mut total_raw = 0;
    let mut total_gzip = 0;
    println!("==> SPA bundle (dist/), what a browser downloads:");
    for name in [
        "frontend_bg.wasm",
        "frontend.js",
        "init.js",
        "index.html",
        "style.css",
    ] {
        let bytes = std::fs::read(dist.join(name))
            .map_err(|e| format!("dist/{name}: {e} (did the SPA build run?)"))?;
        let gzip = gzip_size(&bytes)?;
        total_raw += bytes.len();
        total_gzip += gzip;
        println!(
            "    {name:<18} {:>8} bytes raw {:>8} bytes gzip",
            bytes.len(),
            gzip
        );
    }
    println!(
        "    {:<18} {total_raw:>8} bytes raw {total_gzip:>8} bytes gzip",
        "total"
    );
    Ok(())
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
