//! A local authorization server that behaves like an Auth0 tenant for everything the
//! quickstart touches, so the app runs and is tested with no account and no network.
//!
//! Endpoints, at the issuer's root as on Auth0: `/authorize` (with a login page),
//! `/oauth/token`, `/userinfo`, `/v2/logout`, `/.well-known/jwks.json` and
//! `/.well-known/openid-configuration`.
//!
//! Tests start it in-process with [`DevTenant::spawn`] on 127.0.0.1 port 0 and use it as the
//! token issuer and JWKS, with key rotation and fault switches for the JWKS.

pub mod authorize;
pub mod config;
pub mod discovery;
pub mod issue;
pub mod keys;
pub mod logout;
pub mod pages;
pub mod store;
pub mod token;
pub mod userinfo;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderName, HeaderValue, Method};
use serde_json::Value;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

pub use config::TenantConfig;
pub use keys::{KeyFile, KeyRing, SigningKey};

/// What the JWKS endpoint does, for tests of the API's JWKS client.
#[derive(Debug, Clone, Default)]
pub enum JwksBehaviour {
    /// Publish the key ring.
    #[default]
    Normal,
    /// Answer this HTTP status (the tenant is "down").
    Status(u16),
    /// Answer 200 with something that is not a key set.
    Garbage,
    /// Publish exactly this JSON instead of the key ring.
    Publish(Value),
}

/// The tenant: configuration, keys and memory, shared by every request.
#[derive(Clone)]
pub struct DevTenant {
    inner: Arc<Inner>,
}

struct Inner {
    config: TenantConfig,
    issuer: String,
    keys: RwLock<KeyRing>,
    key_file: Option<KeyFileWatch>,
    store: Mutex<store::Store>,
    jwks_behaviour: Mutex<JwksBehaviour>,
    jwks_delay: Mutex<Duration>,
    jwks_fetches: AtomicUsize,
}

/// The key file and when it was last read, so `devtenant rotate-key` run beside a serving
/// tenant takes effect without a restart.
struct KeyFileWatch {
    file: KeyFile,
    loaded: Mutex<Option<SystemTime>>,
}

/// A tenant serving on loopback, as tests start it.
pub struct RunningTenant {
    pub addr: SocketAddr,
    pub tenant: DevTenant,
}

impl std::ops::Deref for RunningTenant {
    type Target = DevTenant;

    fn deref(&self) -> &DevTenant {
        &self.tenant
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here is a few map operations that cannot leave the data half
    // updated, so a panic elsewhere does not make the data unusable.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl DevTenant {
    pub fn new(config: TenantConfig, keys: KeyRing) -> Self {
        Self::build(config, keys, None)
    }

    /// A tenant whose keys live in `data_dir` (created on first start).
    pub fn with_key_file(config: TenantConfig, data_dir: &Path) -> Result<Self, String> {
        let file = KeyFile::in_dir(data_dir);
        let keys = file.load_or_create()?;
        let modified = std::fs::metadata(file.path())
            .and_then(|m| m.modified())
            .ok();
        Ok(Self::build(
            config,
            keys,
            Some(KeyFileWatch {
                file,
                loaded: Mutex::new(modified),
            }),
        ))
    }

    fn build(config: TenantConfig, keys: KeyRing, key_file: Option<KeyFileWatch>) -> Self {
        let issuer = config.issuer();
        Self {
            inner: Arc::new(Inner {
                config,
                issuer,
                keys: RwLock::new(keys),
                key_file,
                store: Mutex::new(store::Store::default()),
                jwks_behaviour: Mutex::new(JwksBehaviour::Normal),
                jwks_delay: Mutex::new(Duration::ZERO),
                jwks_fetches: AtomicUsize::new(0),
            }),
        }
    }

    /// Starts a tenant with the built-in configuration on 127.0.0.1, port 0, and a fresh key.
    pub async fn spawn() -> RunningTenant {
        Self::spawn_with(
            TenantConfig::builtin(),
            KeyRing::new(SigningKey::generate()),
        )
        .await
    }

    /// Starts a tenant on 127.0.0.1, port 0; its issuer is `http://127.0.0.1:{port}/`.
    pub async fn spawn_with(config: TenantConfig, keys: KeyRing) -> RunningTenant {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        Self::spawn_on(listener, config, keys)
    }

    /// Starts a tenant on `listener`, with the issuer set to its address.
    pub fn spawn_on(
        listener: TcpListener,
        mut config: TenantConfig,
        keys: KeyRing,
    ) -> RunningTenant {
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        config.tenant.listen = addr;
        config.tenant.issuer = Some(format!("http://{addr}/"));
        let tenant = Self::new(config, keys);
        let router = tenant.router();
        tokio::spawn(async move { axum::serve(listener, router).await });
        RunningTenant { addr, tenant }
    }

    pub fn config(&self) -> &TenantConfig {
        &self.inner.config
    }

    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, store::Store> {
        lock(&self.inner.store)
    }

    /// The current key ring, re-read from the key file if another process rotated it.
    pub fn keys(&self) -> KeyRing {
        self.reload_keys_if_changed();
        self.inner
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn signing_key(&self) -> Arc<SigningKey> {
        self.keys().signing().clone()
    }

    fn reload_keys_if_changed(&self) {
        let Some(watch) = &self.inner.key_file else {
            return;
        };
        let modified = std::fs::metadata(watch.file.path())
            .and_then(|m| m.modified())
            .ok();
        let mut loaded = lock(&watch.loaded);
        if modified.is_none() || *loaded == modified {
            return;
        }
        match watch.file.load_or_create() {
            Ok(ring) => {
                tracing::info!(kids = ?ring.kids(), "signing keys reloaded from the key file");
                *self.inner.keys.write().unwrap_or_else(|e| e.into_inner()) = ring;
                *loaded = modified;
            }
            Err(error) => {
                tracing::warn!(%error, "the key file changed but cannot be read; keeping the current keys")
            }
        }
    }

    fn update_keys<R>(&self, change: impl FnOnce(&mut KeyRing) -> R) -> R {
        let mut ring = self.inner.keys.write().unwrap_or_else(|e| e.into_inner());
        let result = change(&mut ring);
        if let Some(watch) = &self.inner.key_file {
            match watch.file.save(&ring) {
                Ok(()) => {
                    *lock(&watch.loaded) = std::fs::metadata(watch.file.path())
                        .and_then(|m| m.modified())
                        .ok();
                }
                Err(error) => tracing::warn!(%error, "the rotated keys could not be saved"),
            }
        }
        result
    }

    /// Auth0's "Rotate signing key": a new key signs; the previous one stays published.
    pub fn rotate_key(&self) -> Arc<SigningKey> {
        self.update_keys(|ring| ring.rotate().clone())
    }

    /// Auth0's "Revoke" of the previous keys: they leave the JWKS.
    pub fn revoke_previous_keys(&self) -> Vec<String> {
        self.update_keys(KeyRing::revoke_previous)
    }

    /// Replaces the key ring (the first key signs). For tests.
    pub fn set_keys(&self, keys: Vec<Arc<SigningKey>>) {
        self.update_keys(|ring| *ring = KeyRing::from_keys(keys));
    }

    pub fn set_jwks_behaviour(&self, behaviour: JwksBehaviour) {
        *lock(&self.inner.jwks_behaviour) = behaviour;
    }

    pub fn set_jwks_delay(&self, delay: Duration) {
        *lock(&self.inner.jwks_delay) = delay;
    }

    /// How many times `/.well-known/jwks.json` was requested.
    pub fn jwks_fetches(&self) -> usize {
        self.inner.jwks_fetches.load(Ordering::SeqCst)
    }

    /// The whole HTTP app.
    pub fn router(&self) -> Router {
        // Browsers call /oauth/token and /userinfo from the apps' origins: the apps' Allowed
        // Web Origins, as on Auth0, and no other.
        let origins: Vec<HeaderValue> = self
            .inner
            .config
            .applications
            .iter()
            .flat_map(|a| &a.web_origins)
            .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
            .collect();
        let cors = CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                AUTHORIZATION,
                CONTENT_TYPE,
                HeaderName::from_static("auth0-client"),
            ]);
        Router::new()
            .merge(discovery::router())
            .merge(authorize::router())
            .merge(token::router())
            .merge(userinfo::router())
            .merge(logout::router())
            .merge(pages::router())
            .with_state(self.clone())
            .layer(cors)
            .layer(SetResponseHeaderLayer::if_not_present(
                X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
    }

    /// Serves until `shutdown` completes.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }
}
