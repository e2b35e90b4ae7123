//! `cargo xtask dev`: the dev loop in one command. It runs exactly what the README's two
//! terminals do — `cargo run -p api` (with nothing configured, the development tenant starts
//! inside it) and `trunk serve` (the SPA at http://localhost:3000, rebuilt and reloaded on
//! every save) — with the pinned tools on `PATH`. Ctrl-C stops both.

use std::process::Command;

use crate::run::Processes;
use crate::tools::{self, path_with_tools};
use crate::{cargo, root};

pub fn dev(extra: &[String]) -> Result<(), String> {
    if !extra.is_empty() {
        return Err(format!(
            "`cargo xtask dev` takes no arguments (got {extra:?}); configure it with .env or the environment"
        ));
    }
    tools::ensure_spa_tools()?;
    let mut processes = Processes::default();
    let api = cargo()
        .args(["run", "--package", "api"])
        .spawn()
        .map_err(|e| format!("cannot start cargo run -p api: {e}"))?;
    processes.add("cargo run -p api", api);
    let trunk = Command::new("trunk")
        .arg("serve")
        .current_dir(root())
        .env("PATH", path_with_tools())
        .spawn()
        .map_err(|e| format!("cannot start trunk serve: {e}"))?;
    processes.add("trunk serve", trunk);
    println!(
        "==> cargo run -p api and trunk serve: the app at http://localhost:3000 once both are up; Ctrl-C stops both"
    );
    processes.wait()
}
