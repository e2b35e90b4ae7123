//! The tenant's state, shared by every request: its configuration and issuer, its signing
//! keys (re-read when `devtenant rotate-key` changes the key file), its memory, and the JWKS
//! fault switches tests turn.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use crate::config::TenantConfig;
use crate::dpop::Nonces;
use crate::faults::{AuthorizeFaults, JwksBehaviour, JwksFaults};
use crate::keys::{KeyFile, KeyFileError, KeyRing, SigningKey};
use crate::store::Store;

/// The tenant. Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct DevTenant {
    inner: Arc<Inner>,
}

struct Inner {
    /// Applications, API and users, as loaded.
    config: TenantConfig,
    /// What tokens carry in `iss`: ending in `/` as Auth0's do, unless configured otherwise.
    issuer: String,
    /// The first key signs; all are published.
    keys: RwLock<KeyRing>,
    /// Where the keys are kept between runs, when they are.
    key_file: Option<KeyFileWatch>,
    /// Sessions, logins, codes and tokens.
    store: Store,
    /// Test switches on the JWKS endpoint.
    faults: JwksFaults,
    authorize_faults: AuthorizeFaults,
    /// DPoP's nonce, and whether proofs must carry it.
    dpop_nonces: Nonces,
}

/// The key file and when it was last read, so `devtenant rotate-key` run beside a serving
/// tenant takes effect without a restart.
struct KeyFileWatch {
    file: KeyFile,
    loaded: Mutex<Option<SystemTime>>,
}

impl KeyFileWatch {
    fn modified(&self) -> Option<SystemTime> {
        std::fs::metadata(self.file.path())
            .and_then(|m| m.modified())
            .ok()
    }

    fn mark_loaded(&self, modified: Option<SystemTime>) {
        *self.loaded.lock().unwrap_or_else(|e| e.into_inner()) = modified;
    }
}

impl DevTenant {
    pub fn new(config: TenantConfig, keys: KeyRing) -> Self {
        Self::build(config, keys, None)
    }

    /// A tenant whose keys live in `data_dir` (created on first start).
    pub fn with_key_file(config: TenantConfig, data_dir: &Path) -> Result<Self, KeyFileError> {
        let file = KeyFile::in_dir(data_dir);
        let keys = file.load_or_create()?;
        let watch = KeyFileWatch {
            file,
            loaded: Mutex::new(None),
        };
        watch.mark_loaded(watch.modified());
        Ok(Self::build(config, keys, Some(watch)))
    }

    fn build(config: TenantConfig, keys: KeyRing, key_file: Option<KeyFileWatch>) -> Self {
        Self {
            inner: Arc::new(Inner {
                issuer: config.issuer(),
                dpop_nonces: Nonces::new(config.tenant.dpop_nonce),
                config,
                keys: RwLock::new(keys),
                key_file,
                store: Store::default(),
                faults: JwksFaults::default(),
                authorize_faults: AuthorizeFaults::default(),
            }),
        }
    }

    pub fn config(&self) -> &TenantConfig {
        &self.inner.config
    }

    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The URL of one of the tenant's endpoints: under the issuer, whether or not it ends in
    /// `/`.
    pub fn endpoint(&self, path: &str) -> String {
        let base = self.inner.issuer.trim_end_matches('/');
        format!("{base}/{}", path.trim_start_matches('/'))
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn faults(&self) -> &JwksFaults {
        &self.inner.faults
    }

    pub(crate) fn authorize_faults(&self) -> &AuthorizeFaults {
        &self.inner.authorize_faults
    }

    pub(crate) fn dpop_nonces(&self) -> &Nonces {
        &self.inner.dpop_nonces
    }

    /// Whether DPoP proofs at the token endpoint must carry the tenant's nonce (as an Auth0
    /// tenant can require); and a new nonce, so that a test sees a stale one refused.
    pub fn require_dpop_nonce(&self, required: bool) {
        self.inner.dpop_nonces.set_required(required);
    }

    pub fn rotate_dpop_nonce(&self) {
        self.inner.dpop_nonces.rotate();
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
        let modified = watch.modified();
        let mut loaded = watch.loaded.lock().unwrap_or_else(|e| e.into_inner());
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
                Ok(()) => watch.mark_loaded(watch.modified()),
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

    /// What the JWKS endpoint answers. For tests of a JWKS client.
    pub fn set_jwks_behaviour(&self, behaviour: JwksBehaviour) {
        self.inner.faults.set_behaviour(behaviour);
    }

    /// How long the JWKS endpoint waits before answering. For tests of a JWKS client.
    pub fn set_jwks_delay(&self, delay: Duration) {
        self.inner.faults.set_delay(delay);
    }

    /// How long `/authorize?prompt=none` waits before answering. For tests of a silent
    /// renewal's listener.
    pub fn set_silent_answer_delay(&self, delay: Duration) {
        self.inner.authorize_faults.set_silent_delay(delay);
    }

    /// How many times `/.well-known/jwks.json` was requested.
    pub fn jwks_fetches(&self) -> usize {
        self.inner.faults.fetches()
    }
}
