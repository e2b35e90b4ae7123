//! `devtenant`: the development tenant's binary.
//!
//! - `devtenant serve` (the default) serves the tenant;
//! - `devtenant env` prints the settings the API and the SPA take from it, and the
//!   machine-to-machine client's ID and secret;
//! - `devtenant rotate-key` / `devtenant revoke-keys` rotate the signing key as Auth0 does.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use devtenant::{AppType, DevTenant, KeyFile, TenantConfig};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "devtenant",
    about = "A local, Auth0-compatible development tenant. For development and tests only."
)]
struct Cli {
    /// The tenant's configuration (TOML); the built-in one when not given.
    #[arg(long, env = "DEVTENANT_CONFIG", global = true)]
    config: Option<PathBuf>,

    /// Where the signing keys are kept between runs (git ignores it).
    #[arg(
        long,
        env = "DEVTENANT_DATA_DIR",
        default_value = ".devtenant",
        global = true
    )]
    data_dir: PathBuf,

    /// Listen here instead of the configuration's `tenant.listen` (the issuer follows).
    #[arg(long, env = "DEVTENANT_LISTEN", global = true)]
    listen: Option<std::net::SocketAddr>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the tenant (the default).
    Serve,
    /// Print AUTH0_ISSUER, AUTH0_AUDIENCE and AUTH0_CLIENT_ID for the API and the SPA.
    Env,
    /// Make a new signing key; the previous one stays published until `revoke-keys`.
    RotateKey,
    /// Stop publishing the previous signing keys: tokens they signed stop verifying.
    RevokeKeys,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match &cli.config {
        Some(path) => TenantConfig::load(path),
        None => Ok(TenantConfig::builtin()),
    };
    let config = match config {
        Ok(mut config) => {
            if let Some(listen) = cli.listen {
                config.tenant.listen = listen;
            }
            config
        }
        Err(error) => {
            eprintln!("error: the tenant configuration is not usable: {error}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config, cli.data_dir),
        Command::Env => {
            print_env(&config);
            Ok(())
        }
        Command::RotateKey => change_keys(&cli.data_dir, |ring| {
            let kid = ring.rotate().kid().to_owned();
            format!(
                "new signing key {kid}; previous keys stay published until `devtenant revoke-keys`"
            )
        }),
        Command::RevokeKeys => change_keys(&cli.data_dir, |ring| {
            let revoked = ring.revoke_previous();
            format!("revoked {revoked:?}; tokens they signed no longer verify")
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

/// The settings the API takes from this tenant, and the machine-to-machine client a script
/// (the README's curl recipe, the smoke test) gets tokens with.
fn print_env(config: &TenantConfig) {
    println!("AUTH0_ISSUER={}", config.issuer());
    println!("AUTH0_AUDIENCE={}", config.api.identifier);
    println!("AUTH0_CLIENT_ID={}", config.spa().client_id);
    let m2m = config
        .applications
        .iter()
        .find(|a| a.app_type == AppType::M2m);
    if let Some(m2m) = m2m {
        println!("DEVTENANT_M2M_CLIENT_ID={}", m2m.client_id);
        if let Some(secret) = &m2m.client_secret {
            println!("DEVTENANT_M2M_CLIENT_SECRET={secret}");
        }
    }
}

fn change_keys(
    data_dir: &std::path::Path,
    change: impl FnOnce(&mut devtenant::KeyRing) -> String,
) -> Result<(), String> {
    let file = KeyFile::in_dir(data_dir);
    let mut ring = file.load_or_create().map_err(|e| e.to_string())?;
    let said = change(&mut ring);
    file.save(&ring).map_err(|e| e.to_string())?;
    println!("{said} (a running tenant picks this up at once)");
    Ok(())
}

#[tokio::main]
async fn serve(config: TenantConfig, data_dir: PathBuf) -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_ansi(std::io::stdout().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let listen = config.tenant.listen;
    let tenant = DevTenant::with_key_file(config, &data_dir).map_err(|e| e.to_string())?;
    let listener = TcpListener::bind(listen).await.map_err(|e| {
        format!("cannot listen on {listen} ({e}): change tenant.listen in the tenant configuration")
    })?;
    let stop = shutdown_signal();
    let users: Vec<String> = tenant
        .config()
        .users
        .iter()
        .map(|u| format!("{} / {}", u.email, u.password))
        .collect();
    println!(
        "Development tenant (not Auth0, for development only) at {} — demo users: {}",
        tenant.issuer(),
        users.join(", ")
    );
    tenant
        .serve(listener, stop)
        .await
        .map_err(|e| format!("the tenant stopped: {e}"))
}

/// Ctrl-C or SIGTERM (what `docker stop` and Kubernetes send); requests under way finish first.
///
/// The handlers are installed when this is called, not when the future is first polled: the
/// caller calls it before announcing that it listens, so a signal sent right after the banner
/// finds them (else the default action kills the process mid-request).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let stop = {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        async fn received(signal: Option<Signal>) {
            match signal {
                Some(mut signal) => {
                    signal.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        let terminate = received(signal(SignalKind::terminate()).ok());
        let interrupt = received(signal(SignalKind::interrupt()).ok());
        async move {
            tokio::select! {
                () = terminate => {},
                () = interrupt => {},
            }
        }
    };
    #[cfg(not(unix))]
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    async move {
        stop.await;
        tracing::info!("shutting down: finishing requests in flight");
    }
}
