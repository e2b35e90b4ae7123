//! Helpers for the integration tests: the development tenant in-process on loopback as the
//! token issuer and JWKS (with its fault switches), signing keys that mint tokens of any
//! shape, and `spawn_app` to run the real API on port 0 against them.

use std::future::pending;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use api::auth::{JwksSettings, ValidationSettings};
use api::config::{Settings, jwks_url};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
pub use devtenant::{DevTenant, JwksBehaviour, KeyRing, RunningTenant, SigningKey, TenantConfig};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use url::Url;

pub const AUDIENCE: &str = "https://quickstarts/api";
/// The development tenant's SPA client ID (the built-in configuration's).
pub const CLIENT_ID: &str = "rustquickstartspa000000000000000";
pub const ALLOWED_ORIGIN: &str = "http://localhost:3000";

/// Keys made once per test binary: RSA key generation is the slow part of a test.
pub static KEY: LazyLock<Arc<SigningKey>> =
    LazyLock::new(|| Arc::new(SigningKey::generate_with_kid("key-1")));
pub static ROTATED_KEY: LazyLock<Arc<SigningKey>> =
    LazyLock::new(|| Arc::new(SigningKey::generate_with_kid("key-2")));
pub static ATTACKER_KEY: LazyLock<Arc<SigningKey>> =
    LazyLock::new(|| Arc::new(SigningKey::generate_with_kid("attacker")));

pub fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// A development tenant on 127.0.0.1:0 whose key ring is `keys` (the first signs).
pub async fn spawn_tenant(keys: &[&Arc<SigningKey>]) -> RunningTenant {
    DevTenant::spawn_with(TenantConfig::builtin(), ring(keys)).await
}

pub fn ring(keys: &[&Arc<SigningKey>]) -> KeyRing {
    KeyRing::from_keys(keys.iter().map(|k| Arc::clone(k)).collect())
}

/// The knobs a test may turn; everything else is the documented default.
#[derive(Debug, Clone)]
pub struct AppOptions {
    pub max_age: Duration,
    pub refetch_cooldown: Duration,
    pub fetch_timeout: Duration,
    pub leeway: Duration,
    /// Serve the built SPA from here.
    pub spa_dir: Option<std::path::PathBuf>,
    pub session_storage: shared::SessionStorage,
    pub token_cache_size: usize,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(600),
            refetch_cooldown: Duration::from_millis(200),
            fetch_timeout: Duration::from_secs(5),
            leeway: Duration::from_secs(5),
            spa_dir: None,
            session_storage: shared::SessionStorage::default(),
            token_cache_size: 10_000,
        }
    }
}

/// The real API, served on 127.0.0.1 port 0, trusting `issuer`.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
}

pub async fn spawn_app_for(issuer: &str, options: AppOptions) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    serve_app_on(listener, issuer, options)
}

/// The real API on `listener` (bound first when the tenant must know the app's address).
pub fn serve_app_on(listener: TcpListener, issuer: &str, options: AppOptions) -> TestApp {
    let issuer = Url::parse(issuer).expect("issuer URL");
    let settings = Settings {
        addr: "127.0.0.1:0".parse().unwrap(),
        allowed_origins: vec![ALLOWED_ORIGIN.parse().unwrap()],
        client_id: Some(CLIENT_ID.to_owned()),
        spa_dir: options.spa_dir.clone(),
        session_storage: options.session_storage,
        jwks: JwksSettings {
            url: jwks_url(&issuer),
            max_age: options.max_age,
            refetch_cooldown: options.refetch_cooldown,
            fetch_timeout: options.fetch_timeout,
        },
        validation: ValidationSettings {
            issuer: issuer.to_string(),
            audience: AUDIENCE.to_owned(),
            leeway: options.leeway,
            cache_size: options.token_cache_size,
        },
    };
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(api::serve(listener, settings, pending()));
    TestApp {
        base,
        client: reqwest::Client::new(),
    }
}

/// The API against a fresh development tenant signing with [`KEY`].
pub async fn spawn_app() -> (TestApp, RunningTenant) {
    spawn_app_with(AppOptions::default()).await
}

pub async fn spawn_app_with(options: AppOptions) -> (TestApp, RunningTenant) {
    let tenant = spawn_tenant(&[&KEY]).await;
    let app = spawn_app_for(tenant.issuer(), options).await;
    (app, tenant)
}

impl TestApp {
    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("the API answers")
    }
}

/// The claims of an access token the tenant at `issuer` would issue to a user who
/// consented to `openid profile read:messages`.
pub fn claims(issuer: &str) -> Value {
    let now = now();
    json!({
        "iss": issuer,
        "sub": "auth0|5f7c8ec7c33c6c004bbafe82",
        "aud": [AUDIENCE, format!("{issuer}userinfo")],
        "azp": CLIENT_ID,
        "iat": now,
        "exp": now + 3600,
        "scope": "openid profile read:messages",
    })
}

/// `claims` with some fields replaced (or removed, with `Value::Null` for `remove`).
pub fn claims_with(issuer: &str, changes: &[(&str, Value)]) -> Value {
    let mut claims = claims(issuer);
    for (key, value) in changes {
        claims[*key] = value.clone();
    }
    claims
}

pub fn claims_without(issuer: &str, keys: &[&str]) -> Value {
    let mut claims = claims(issuer);
    for key in keys {
        claims.as_object_mut().unwrap().remove(*key);
    }
    claims
}

/// A decoded error answer of the API.
pub struct ErrorAnswer {
    pub status: u16,
    pub challenge: Option<String>,
    pub body: shared::ErrorBody,
}

pub async fn error_answer(response: reqwest::Response) -> ErrorAnswer {
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("error body is not the JSON error shape: {text}"));
    ErrorAnswer {
        status,
        challenge,
        body,
    }
}

impl TestApp {
    /// Whether `path` with `token` answers `status` within 5 s, asking every 20 ms: for what
    /// the API reaches in the background (a JWKS recovered, a key set refreshed).
    pub async fn eventually_answers(&self, path: &str, token: &str, status: u16) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            if self.get(path, Some(token)).await.status() == status {
                return true;
            }
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Logs `email` in on the tenant the way a browser does (implicit flow, the login form) and
/// returns the parameters the tenant sends back to the app's callback.
pub async fn browser_login(
    tenant: &RunningTenant,
    email: &str,
    password: &str,
    audience: Option<&str>,
) -> std::collections::HashMap<String, String> {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut params = vec![
        ("client_id", CLIENT_ID),
        ("redirect_uri", "http://localhost:3000/callback"),
        ("response_type", "token id_token"),
        ("scope", "openid profile read:messages"),
        ("state", "state-1"),
        ("nonce", "nonce-1"),
    ];
    if let Some(audience) = audience {
        params.push(("audience", audience));
    }
    let page = browser
        .get(format!("{}authorize", tenant.issuer()))
        .query(&params)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"csrf\" value=\"";
    let at = page.find(marker).expect("the login form") + marker.len();
    let csrf = &page[at..at + page[at..].find('"').unwrap()];
    let back = browser
        .post(format!("{}u/login", tenant.issuer()))
        .form(&[("csrf", csrf), ("email", email), ("password", password)])
        .send()
        .await
        .unwrap();
    let location = back.headers()["location"].to_str().unwrap();
    let fragment = location.split_once('#').expect("tokens in the fragment").1;
    url::form_urlencoded::parse(fragment.as_bytes())
        .into_owned()
        .collect()
}
