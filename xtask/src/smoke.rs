//! The smoke test of `cargo xtask run`: what the README's curl recipe does, against what
//! `run` starts (the development tenant, the API serving the SPA). Debug build, free ports,
//! no `.env`.

use std::time::Duration;

use crate::root;
use crate::run::{Launch, launch, tenant_configured};
use crate::servers::{Profile, free_port, http, wait_until_answering};

pub fn smoke_test() -> Result<(), String> {
    println!("==> smoke test of `cargo xtask run` (development tenant, API, SPA)");
    if tenant_configured() {
        println!(
            "    skipped: AUTH0_DOMAIN or AUTH0_ISSUER is set, so `run` would not start the development tenant"
        );
        return Ok(());
    }
    // `xtask test` built dist/ before the tests.
    let app = launch(&Launch {
        profile: Profile::Debug,
        tenant_addr: free_port()?,
        api_addr: free_port()?,
        spa_dir: Some(root().join("dist")),
    })?;
    wait_until_answering(&app.api_addr, "/healthz", Duration::from_secs(30))?;
    let tenant = app
        .tenant
        .as_ref()
        .ok_or("smoke test: no development tenant")?;
    let token = tenant
        .machine_token()
        .map_err(|e| format!("smoke test: {e}"))?;
    let client_id = format!("\"clientId\":\"{}\"", tenant.env("AUTH0_CLIENT_ID"));
    let bearer = format!("Bearer {token}");
    // The page loads the app through a fingerprinted module that reads the preload links.
    for (path, auth, expected) in [
        ("/", None, "<script src=\"/init-"),
        ("/ping", None, "rel=\"modulepreload\""),
        ("/auth_config.json", None, client_id.as_str()),
        ("/api/public", None, "Hello from a public endpoint!"),
        (
            "/api/private",
            Some(bearer.as_str()),
            "You need to be authenticated to see this.",
        ),
        (
            "/api/private-scoped",
            Some(bearer.as_str()),
            "have a scope of read:messages",
        ),
        ("/api/private", None, "missing_token"),
        ("/readyz", None, "ready"),
    ] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        let (status, body) = http(&app.api_addr, "GET", path, &headers, "")
            .map_err(|e| format!("smoke test: {path}: {e}"))?;
        if !body.contains(expected) {
            return Err(format!("smoke test: {path} answered {status}: {body}"));
        }
        println!("    {path}: {status}");
    }
    println!("    the run command's tenant and API work together");
    Ok(())
}
