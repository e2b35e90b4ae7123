//! `api`: configuration, telemetry, serve. Everything else is in the library.

use std::io::IsTerminal;
use std::process::ExitCode;

use api::config::{Build, Config, LogFormat};
use api::log_writer::{BatchedWriter, FlushGuard};
use clap::Parser;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    // The samples keep their settings in `.env`; real environment variables win over it.
    if let Err(error) = dotenvy::dotenv()
        && !error.not_found()
    {
        eprintln!("error: the .env file cannot be read: {error}");
        return ExitCode::from(2);
    }
    let mut config = Config::parse();
    let banner = match development_tenant(&mut config).await {
        Ok(banner) => banner,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let settings = match config.settings() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let _log = init_logging(settings.log_format);
    if let Err(problem) = api::login::check_provider(&settings).await {
        eprintln!("error: {problem}");
        return ExitCode::from(2);
    }
    let listener = match TcpListener::bind(settings.addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "error: cannot listen on {} ({error}): set API_ADDR to a free address, e.g. API_ADDR=127.0.0.1:3001",
                settings.addr
            );
            return ExitCode::from(2);
        }
    };
    let metrics = match settings.metrics_addr {
        Some(addr) => match TcpListener::bind(addr).await {
            Ok(listener) => Some(listener),
            Err(error) => {
                eprintln!(
                    "error: cannot listen on {addr} for /metrics ({error}): set METRICS_ADDR to a free address, e.g. METRICS_ADDR=0.0.0.0:9100"
                );
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let stop = shutdown_signal();
    let addr = listener.local_addr().unwrap_or(settings.addr);
    if let Some(banner) = banner {
        println!("{banner}");
    }
    tracing::info!(
        issuer = %settings.validation.issuer,
        audience = %settings.validation.audience,
        keys = %settings.jwks.source,
        "API listening on http://{addr}"
    );
    if let Some(metrics) = metrics.as_ref().and_then(|l| l.local_addr().ok()) {
        tracing::info!("metrics at http://{metrics}/metrics");
    }
    match api::serve_with_metrics(listener, metrics, settings, stop).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: the server stopped: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Log lines go to stdout in batches ([`api::log_writer`]): a request never waits on the
/// terminal or the pipe, and a busy server makes one write for many lines. The guard writes
/// out what is left at exit.
fn init_logging(format: LogFormat) -> FlushGuard {
    let (writer, guard) = BatchedWriter::stdout();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => subscriber.with_ansi(std::io::stdout().is_terminal()).init(),
        LogFormat::Json => subscriber.event_format(api::log_format::JsonLines).init(),
    }
    guard
}

/// With nothing configured, in a debug build on loopback: the development tenant, in this
/// process, and the API set up for it ([`api::dev_tenant`]). What to print about it. Compiled
/// into debug builds only, so that a release binary does not even carry the code.
#[cfg(all(feature = "devtenant", debug_assertions))]
async fn development_tenant(config: &mut Config) -> Result<Option<String>, String> {
    let Some(listen) = config
        .development_tenant(Build::CURRENT)
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let data_dir = match config.devtenant_data_dir.as_deref().map(str::trim) {
        Some(dir) if !dir.is_empty() => dir.into(),
        _ => api::dev_tenant::default_data_dir(),
    };
    let running = api::dev_tenant::start(listen, &data_dir)
        .await
        .map_err(|e| e.to_string())?;
    running.configure(config);
    Ok(Some(running.banner()))
}

/// Release and deployable builds start no development tenant: the configuration must name one.
#[cfg(not(all(feature = "devtenant", debug_assertions)))]
async fn development_tenant(config: &mut Config) -> Result<Option<String>, String> {
    config
        .development_tenant(Build::CURRENT)
        .map(|_| None)
        .map_err(|e| e.to_string())
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
