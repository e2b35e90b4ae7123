//! `cargo xtask run`: builds and starts the app. With no tenant configured it starts the
//! development tenant first and hands the API the tenant's issuer, audience and client ID,
//! so the two can never disagree; with `AUTH0_DOMAIN` or `AUTH0_ISSUER` set it starts only the
//! API, against that tenant. Same binaries, same code paths.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use crate::root;
use crate::servers::{
    Profile, Tenant, build_servers, start_tenant, target_dir, wait_until_answering,
};

/// The fixed addresses of the run command (tests use port 0). The API serves the SPA too, at
/// the origin the tenant's SPA application allows: http://localhost:3000.
const TENANT_ADDR: &str = "127.0.0.1:4010";
const APP_ADDR: &str = "127.0.0.1:3000";

pub struct Launch {
    pub profile: Profile,
    pub tenant_addr: String,
    pub api_addr: String,
    /// The built SPA for the API to serve.
    pub spa_dir: Option<PathBuf>,
}

/// The running app: its processes, stopped when this is dropped.
pub struct App {
    processes: Processes,
    pub api_addr: String,
    /// The development tenant, when `run` started one.
    pub tenant: Option<Tenant>,
}

/// Child processes, each with a name for messages; all stopped when this is dropped.
#[derive(Default)]
pub struct Processes(Vec<(&'static str, Child)>);

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl From<(&'static str, Child)> for Processes {
    fn from(process: (&'static str, Child)) -> Self {
        Self(vec![process])
    }
}

impl Processes {
    pub fn add(&mut self, name: &'static str, child: Child) {
        self.0.push((name, child));
    }

    /// Until one of the processes stops (Ctrl-C reaches them all); then the others are
    /// stopped too.
    pub fn wait(&mut self) -> Result<(), String> {
        loop {
            for (name, child) in &mut self.0 {
                if let Ok(Some(status)) = child.try_wait() {
                    return match status.success() {
                        true => Ok(()),
                        false => Err(format!("{name} stopped ({status})")),
                    };
                }
            }
            std::thread::sleep(Duration::from_millis(200));
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
    wait_until_answering(&app.api_addr, "/healthz", Duration::from_secs(30))?;
    let open = app.api_addr.replace("127.0.0.1", "localhost");
    match &app.tenant {
        Some(tenant) => println!(
            "\nReady: open http://{open} — the app and its API, logging in with the development tenant at {}\n(demo users: reader@example.com / reader, guest@example.com / guest). Ctrl-C stops both.",
            tenant.issuer
        ),
        None => println!(
            "\nReady: open http://{open} — the app and its API, logging in with the tenant configured in .env or the environment. Ctrl-C stops it."
        ),
    }
    app.processes.wait()
}

/// Whether a real tenant is configured (`AUTH0_DOMAIN` or `AUTH0_ISSUER`), so that `run`
/// starts no development tenant.
pub fn tenant_configured() -> bool {
    ["AUTH0_DOMAIN", "AUTH0_ISSUER"]
        .iter()
        .any(|var| std::env::var(var).is_ok_and(|v| !v.trim().is_empty()))
}

/// Starts the tenant (unless a real one is configured) and the API.
pub fn launch(launch: &Launch) -> Result<App, String> {
    // The API reads .env itself; read here too, to know whether a real tenant is configured.
    let _ = dotenvy::from_path(root().join(".env"));
    let bin_dir = match launch.profile {
        Profile::Release => build_servers(launch.profile)?,
        // The smoke test runs right after `cargo test`, which built these binaries with the
        // workspace's features; building them alone would unify features differently and
        // recompile half the dependency tree.
        Profile::Debug => target_dir().join("debug"),
    };
    let mut api = Command::new(bin_dir.join("api"));
    api.current_dir(root()).env("API_ADDR", &launch.api_addr);
    if let Some(dir) = &launch.spa_dir {
        api.env("SPA_DIR", dir);
    }
    let mut app = App {
        processes: Processes::default(),
        api_addr: launch.api_addr.clone(),
        tenant: None,
    };
    if !tenant_configured() {
        let (child, tenant) = start_tenant(&bin_dir, &launch.tenant_addr)?;
        app.processes.add("the development tenant", child);
        api.envs(tenant.api_env.iter().map(|(k, v)| (k, v)));
        app.tenant = Some(tenant);
    }
    let child = api
        .spawn()
        .map_err(|e| format!("cannot start the API: {e}"))?;
    app.processes.add("the API", child);
    Ok(app)
}
