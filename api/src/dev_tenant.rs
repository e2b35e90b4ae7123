//! `cargo run -p api` with nothing configured: the development tenant, started in this process
//! (or the one already answering at its address), so that the design card's dev loop —
//! `cargo run -p api` and `trunk serve` — needs nothing else.
//!
//! Only in a debug build with the `devtenant` feature, for an API on loopback, and only when no
//! tenant is configured: [`crate::config::Config::development_tenant`] decides, this starts.
//! The deployable build (`--no-default-features`) does not contain this module.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use devtenant::{AppType, DevTenant, TenantConfig};
use tokio::net::TcpListener;

use crate::config::Config;

/// The development tenant the API runs against.
#[derive(Debug, Clone)]
pub struct Running {
    /// `http://localhost:{port}/`.
    pub issuer: String,
    pub audience: String,
    /// The SPA application's client ID.
    pub client_id: String,
    /// Started here, or found already answering at its address.
    pub started_here: bool,
    /// Its demo users, as `email / password`, with whether they may read messages.
    users: Vec<(String, bool)>,
}

/// Why the development tenant could not be had.
#[derive(Debug, thiserror::Error)]
pub enum DevTenantError {
    #[error(
        "the development tenant cannot listen on {addr}: {why}; stop what holds it, or set DEVTENANT_LISTEN to a free address, e.g. DEVTENANT_LISTEN=127.0.0.1:4011"
    )]
    AddressTaken { addr: SocketAddr, why: String },
    #[error(
        "the development tenant's signing key in {dir} cannot be used ({why}): delete that folder to make a new key, or set DEVTENANT_DATA_DIR to another"
    )]
    Keys { dir: String, why: String },
}

/// The checkout's `.devtenant/`, where `cargo xtask run` keeps the tenant's key too, so tokens
/// survive switching between the two.
pub fn default_data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../.devtenant")
}

/// Starts the development tenant on `listen` with its built-in configuration and the key kept
/// in `data_dir`, or, when something already listens there, uses it if it is a development
/// tenant (its discovery document names the expected issuer).
pub async fn start(listen: SocketAddr, data_dir: &Path) -> Result<Running, DevTenantError> {
    let mut config = TenantConfig::builtin();
    config.tenant.listen = listen;
    let listener = match TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => {
            return already_running(config, listen).await;
        }
        Err(error) => {
            return Err(DevTenantError::AddressTaken {
                addr: listen,
                why: error.to_string(),
            });
        }
    };
    // Port 0 (the tests) becomes a real port, and the issuer follows it.
    config.tenant.listen = listener.local_addr().unwrap_or(listen);
    let tenant =
        DevTenant::with_key_file(config, data_dir).map_err(|error| DevTenantError::Keys {
            dir: data_dir.display().to_string(),
            why: error.to_string(),
        })?;
    let running = Running::of(tenant.config(), true);
    tokio::spawn(async move { tenant.serve(listener, std::future::pending()).await });
    Ok(running)
}

/// A development tenant already answering at `listen` (`cargo run -p devtenant`, or another
/// `cargo run -p api`): used as it is, with the built-in settings.
async fn already_running(
    config: TenantConfig,
    listen: SocketAddr,
) -> Result<Running, DevTenantError> {
    let issuer = config.issuer();
    let taken = |why: String| DevTenantError::AddressTaken { addr: listen, why };
    let discovery = format!("{issuer}.well-known/openid-configuration");
    let answer = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .no_proxy()
        .build()
        .map_err(|e| taken(e.to_string()))?
        .get(&discovery)
        .send()
        .await
        .map_err(|_| taken("something else listens there and does not answer HTTP".into()))?;
    let document: serde_json::Value = answer.json().await.unwrap_or_default();
    match document["issuer"].as_str() {
        Some(found) if found == issuer => Ok(Running::of(&config, false)),
        _ => Err(taken(format!(
            "something that is not a development tenant answers there ({discovery} does not name the issuer {issuer})"
        ))),
    }
}

impl Running {
    fn of(config: &TenantConfig, started_here: bool) -> Self {
        let users = config
            .users
            .iter()
            .map(|u| {
                let reads = u.permissions.iter().any(|p| p == shared::READ_MESSAGES);
                (format!("{} / {}", u.email, u.password), reads)
            })
            .collect();
        let spa = config
            .applications
            .iter()
            .find(|a| a.app_type == AppType::Spa)
            .map(|a| a.client_id.clone())
            .unwrap_or_default();
        Self {
            issuer: config.issuer(),
            audience: config.api.identifier.clone(),
            client_id: spa,
            started_here,
            users,
        }
    }

    /// The API's tenant settings become this tenant's.
    pub fn configure(&self, config: &mut Config) {
        config.auth0_issuer = Some(self.issuer.clone());
        config.auth0_audience = Some(self.audience.clone());
        config.auth0_client_id = Some(self.client_id.clone());
    }

    /// What `cargo run -p api` prints: which tenant, who can log in, how to use a real one.
    pub fn banner(&self) -> String {
        let how = match self.started_here {
            true => "started in this process",
            false => "already running, used as it is",
        };
        let users: Vec<String> = self
            .users
            .iter()
            .map(|(login, reads)| match reads {
                true => format!("{login} (may call /api/private-scoped)"),
                false => login.clone(),
            })
            .collect();
        format!(
            "No tenant configured: using the development tenant at {issuer} ({how}; not Auth0, for development only).\n\
             \x20 Log in as {users}.\n\
             \x20 The SPA: `trunk serve`, then open http://localhost:3000 (it proxies /api and /auth_config.json here).\n\
             \x20 Your own tenant instead: set AUTH0_DOMAIN=your-tenant.us.auth0.com (with AUTH0_AUDIENCE and AUTH0_CLIENT_ID) in .env.",
            issuer = self.issuer,
            users = users.join(", or "),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn starts_a_tenant_whose_settings_the_api_takes() {
        let scratch = tempfile::Builder::new()
            .prefix("api-devtenant-")
            .tempdir()
            .unwrap();
        let dir = scratch.path();
        let running = start("127.0.0.1:0".parse().unwrap(), dir).await.unwrap();
        assert!(running.started_here);
        assert!(
            running.issuer.starts_with("http://localhost:"),
            "{running:?}"
        );
        assert_eq!(running.audience, "https://quickstarts/api");
        let mut config = Config::default();
        running.configure(&mut config);
        let settings = config.settings().unwrap();
        assert_eq!(settings.validation.issuer, running.issuer);
        assert_eq!(
            settings.client_id.as_deref(),
            Some(running.client_id.as_str())
        );
        let banner = running.banner();
        assert!(
            banner.contains("reader@example.com / reader (may call /api/private-scoped)"),
            "{banner}"
        );
        assert!(banner.contains("AUTH0_DOMAIN="), "{banner}");
        // A second API finds this one's tenant at the same address and uses it.
        let port = running
            .issuer
            .rsplit(':')
            .next()
            .unwrap()
            .trim_end_matches('/');
        let again = start(format!("127.0.0.1:{port}").parse().unwrap(), dir)
            .await
            .unwrap();
        assert!(!again.started_here);
        assert_eq!(again.issuer, running.issuer);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn an_address_held_by_something_else_is_named() {
        let stranger = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = stranger.local_addr().unwrap();
        // It accepts and answers nothing that is HTTP.
        std::thread::spawn(move || {
            for stream in stranger.incoming().flatten() {
                drop(stream);
            }
        });
        let error = start(addr, Path::new("/nonexistent")).await.unwrap_err();
        assert!(
            matches!(error, DevTenantError::AddressTaken { addr: a, .. } if a == addr),
            "{error}"
        );
        assert!(error.to_string().contains("DEVTENANT_LISTEN="), "{error}");
    }
}
