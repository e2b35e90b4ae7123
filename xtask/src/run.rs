//! `cargo xtask run`: builds and starts the app. With no tenant configured it starts the
//! development tenant first and hands the API the tenant's issuer, audience and client ID,
//! so the two can never disagree; with `AUTH0_DOMAIN` or `AUTH0_ISSUER` set it starts only the
//! API, against that tenant. Same binaries, same code paths.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::{cargo, root, step};

/// The fixed addresses of the run command (tests use port 0). The API serves the SPA too, at
/// the origin the tenant's SPA application allows: http://localhost:3000.
const TENANT_ADDR: &str = "127.0.0.1:4010";
const APP_ADDR: &str = "127.0.0.1:3000";

#[derive(Clone, Copy)]
pub(crate) enum Profile {
    Release,
    Debug,
}

impl Profile {
    fn dir(self) -> &'static str {
        match self {
            Profile::Release => "release",
            Profile::Debug => "debug",
        }
    }
}

struct Launch {
    profile: Profile,
    tenant_addr: String,
    api_addr: String,
    /// The built SPA for the API to serve.
    spa_dir: Option<PathBuf>,
}

/// The running app: its processes, stopped when this is dropped.
struct App {
    children: Vec<(&'static str, Child)>,
    api_addr: String,
    tenant_issuer: Option<String>,
}

impl Drop for App {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn run(extra: &[String]) -> Result<(), String> {
    if !extra.is_empty() {
        return Err(format!(
            "`cargo xtask run` takes no arguments (got {extra:?}); configure it with .env or the environment"
        ));
    }
    crate::spa::build()?;
    let mut app = launch(&Launch {
        profile: Profile::Release,
        tenant_addr: TENANT_ADDR.into(),
        api_addr: std::env::var("API_ADDR").unwrap_or_else(|_| APP_ADDR.into()),
        spa_dir: Some(root().join("dist")),
    })?;
    wait_until_healthy(&app.api_addr, Duration::from_secs(30))?;
    let open = app.api_addr.replace("127.0.0.1", "localhost");
    match &app.tenant_issuer {
        Some(issuer) => println!(
            "\nReady: open http://{open} — the app and its API, logging in with the development tenant at {issuer}\n(demo users: reader@example.com / reader, guest@example.com / guest). Ctrl-C stops both."
        ),
        None => println!(
            "\nReady: open http://{open} — the app and its API, logging in with the tenant configured in .env or the environment. Ctrl-C stops it."
        ),
    }
    // Until one of them stops (Ctrl-C reaches them all); then the other is stopped too.
    loop {
        for (name, child) in &mut app.children {
            if let Ok(Some(status)) = child.try_wait() {
                return if status.success() {
                    Ok(())
                } else {
                    Err(format!("{name} stopped ({status})"))
                };
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn tenant_configured() -> bool {
    ["AUTH0_DOMAIN", "AUTH0_ISSUER"]
        .iter()
        .any(|var| std::env::var(var).is_ok_and(|v| !v.trim().is_empty()))
}

/// Builds the API and the tenant; returns where their binaries are.
pub(crate) fn build_servers(profile: Profile) -> Result<PathBuf, String> {
    let mut build = cargo();
    build.args([
        "build",
        "--locked",
        "--package",
        "api",
        "--package",
        "devtenant",
    ]);
    if let Profile::Release = profile {
        build.arg("--release");
    }
    step("building the API and the development tenant", &mut build)?;
    Ok(target_dir().join(profile.dir()))
}

/// A started development tenant and the settings the API takes from it.
pub(crate) struct Tenant {
    pub child: Child,
    pub issuer: String,
    pub api_env: Vec<(String, String)>,
}

/// Starts `bin_dir/devtenant` on `addr` and waits until it answers.
pub(crate) fn start_tenant(bin_dir: &std::path::Path, addr: &str) -> Result<Tenant, String> {
    let devtenant = |subcommand: &str| {
        let mut command = Command::new(bin_dir.join("devtenant"));
        command
            .current_dir(root())
            .env("DEVTENANT_LISTEN", addr)
            .env("DEVTENANT_DATA_DIR", root().join(".devtenant"))
            .arg(subcommand);
        command
    };
    // The API's settings come from the tenant's own configuration.
    let settings = devtenant("env")
        .output()
        .map_err(|e| format!("cannot run devtenant: {e}"))?;
    if !settings.status.success() {
        return Err(String::from_utf8_lossy(&settings.stderr).trim().to_owned());
    }
    let api_env: Vec<(String, String)> = String::from_utf8_lossy(&settings.stdout)
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let issuer = api_env
        .iter()
        .find(|(k, _)| k == "AUTH0_ISSUER")
        .map(|(_, v)| v.clone())
        .ok_or("devtenant env printed no AUTH0_ISSUER")?;
    let child = devtenant("serve")
        .spawn()
        .map_err(|e| format!("cannot start devtenant: {e}"))?;
    let tenant = Tenant {
        child,
        issuer,
        api_env,
    };
    // The API fetches the tenant's keys as it starts: let the tenant be up first.
    wait_until_answering(
        addr,
        "/.well-known/openid-configuration",
        Duration::from_secs(30),
    )?;
    Ok(tenant)
}

fn launch(launch: &Launch) -> Result<App, String> {
    // The API reads .env itself; read here too, to know whether a real tenant is configured.
    let _ = dotenvy::from_path(root().join(".env"));
    let bin_dir = match launch.profile {
        Profile::Release => build_servers(launch.profile)?,
        // The smoke test runs right after `cargo test`, which built these binaries with the
        // workspace's features; building them alone would unify features differently and
        // recompile half the dependency tree.
        Profile::Debug => target_dir().join(Profile::Debug.dir()),
    };
    let mut app = App {
        children: Vec::new(),
        api_addr: launch.api_addr.clone(),
        tenant_issuer: None,
    };
    let mut api = Command::new(bin_dir.join("api"));
    api.current_dir(root()).env("API_ADDR", &launch.api_addr);
    if let Some(dir) = &launch.spa_dir {
        api.env("SPA_DIR", dir);
    }
    if !tenant_configured() {
        let tenant = start_tenant(&bin_dir, &launch.tenant_addr)?;
        api.envs(tenant.api_env.iter().map(|(k, v)| (k, v)));
        app.tenant_issuer = Some(tenant.issuer);
        app.children.push(("the development tenant", tenant.child));
    }
    let child = api
        .spawn()
        .map_err(|e| format!("cannot start the API: {e}"))?;
    app.children.push(("the API", child));
    Ok(app)
}

fn wait_until_healthy(addr: &str, within: Duration) -> Result<(), String> {
    wait_until_answering(addr, "/healthz", within)
}

pub(crate) fn wait_until_answering(addr: &str, path: &str, within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if http(addr, "GET", path, &[], "").is_ok_and(|(status, _)| status == 200) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "http://{addr}{path} did not answer within {within:?}"
    ))
}

/// A minimal HTTP/1.1 exchange over loopback: enough for the smoke test, without pulling an
/// HTTP client into the crate every command builds first.
pub(crate) fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

pub(crate) fn free_port() -> Result<String, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
    Ok(addr.to_string())
}

/// What the README's curl recipe does, against what `run` starts: a client-credentials token
/// from the tenant, then the three endpoints. Debug build, free ports, no `.env`.
pub fn smoke_test() -> Result<(), String> {
    println!("==> smoke test of `cargo xtask run` (development tenant, API, SPA)");
    if tenant_configured() {
        println!(
            "    skipped: AUTH0_DOMAIN or AUTH0_ISSUER is set, so `run` would not start the development tenant"
        );
        return Ok(());
    }
    let tenant_addr = free_port()?;
    // `xtask test` built dist/ before the tests.
    let app = launch(&Launch {
        profile: Profile::Debug,
        tenant_addr: tenant_addr.clone(),
        api_addr: free_port()?,
        spa_dir: Some(root().join("dist")),
    })?;
    wait_until_healthy(&app.api_addr, Duration::from_secs(30))?;
    let form = "grant_type=client_credentials&client_id=rustquickstartm2m000000000000000\
                &client_secret=dev-secret-not-for-production&audience=https%3A%2F%2Fquickstarts%2Fapi";
    let (status, body) = http(
        &tenant_addr,
        "POST",
        "/oauth/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form,
    )
    .map_err(|e| format!("smoke test: the tenant did not answer: {e}"))?;
    let token = body
        .split("\"access_token\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .filter(|_| status == 200)
        .ok_or_else(|| format!("smoke test: no token from /oauth/token ({status}): {body}"))?;
    let bearer = format!("Bearer {token}");
    for (path, auth, expected) in [
        ("/", None, "<script type=\"module\" src=\"/init.js\">"),
        ("/ping", None, "<script type=\"module\" src=\"/init.js\">"),
        (
            "/auth_config.json",
            None,
            "\"clientId\":\"rustquickstartspa000000000000000\"",
        ),
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
