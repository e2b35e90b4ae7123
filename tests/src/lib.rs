//! Helpers for the integration tests: a mock JWKS server on loopback, RSA keys that mint
//! tokens the way a tenant does, and `spawn_app` to run the real API on port 0 against them.

use std::future::pending;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use api::auth::{JwksSettings, ValidationSettings};
use api::config::{Settings, jwks_url};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use url::Url;

pub const AUDIENCE: &str = "https://quickstarts/api";
pub const CLIENT_ID: &str = "k5u3o2fiAA8XweXEEX604KCwCjzjtMU6";
pub const ALLOWED_ORIGIN: &str = "http://localhost:3000";

/// An RSA signing key of a (mock) tenant.
pub struct TestKey {
    pub kid: String,
    pair: KeyPair,
}

impl TestKey {
    pub fn generate(kid: &str) -> Self {
        Self {
            kid: kid.to_owned(),
            pair: KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation"),
        }
    }

    /// The public half as a JWKS entry, as Auth0 publishes it.
    pub fn jwk(&self) -> Value {
        let public = self.pair.public_key();
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        })
    }

    /// The raw modulus, for attacks that misuse the public key as an HMAC secret.
    pub fn modulus(&self) -> Vec<u8> {
        self.pair
            .public_key()
            .modulus()
            .big_endian_without_leading_zero()
            .to_vec()
    }

    /// A token with the usual header: `{"alg":"RS256","typ":"JWT","kid":...}`.
    pub fn token(&self, claims: &Value) -> String {
        self.sign(
            &json!({"alg": "RS256", "typ": "JWT", "kid": self.kid}),
            claims,
        )
    }

    /// A token with any header at all, RS256-signed with this key.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        self.sign_payload(header, &claims.to_string())
    }

    /// A token whose payload is exactly `payload`, JSON or not.
    pub fn sign_payload(&self, header: &Value, payload: &str) -> String {
        let message = format!("{}.{}", b64_json(header), URL_SAFE_NO_PAD.encode(payload));
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message.as_bytes(),
                &mut signature,
            )
            .expect("RSA signing");
        format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

pub fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// Keys made once per test binary: RSA key generation is the slow part of a test.
pub static KEY: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("key-1"));
pub static ROTATED_KEY: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("key-2"));
pub static ATTACKER_KEY: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("attacker"));

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// What the mock tenant answers at its JWKS endpoint.
#[derive(Debug, Clone)]
pub enum JwksMode {
    /// The key set, as JSON.
    Serve,
    /// An HTTP error status.
    Status(u16),
    /// A 200 that is not a key set.
    Garbage,
}

struct MockState {
    keys: Mutex<Vec<Value>>,
    mode: Mutex<JwksMode>,
    delay: Mutex<Duration>,
    fetches: AtomicUsize,
}

/// A tenant's JWKS endpoint on loopback: its keys, its failures and its latency are the
/// test's to set, and it counts how often it is fetched.
#[derive(Clone)]
pub struct MockJwks {
    pub addr: SocketAddr,
    state: Arc<MockState>,
}

impl MockJwks {
    pub async fn start(keys: &[&TestKey]) -> Self {
        let state = Arc::new(MockState {
            keys: Mutex::new(keys.iter().map(|k| k.jwk()).collect()),
            mode: Mutex::new(JwksMode::Serve),
            delay: Mutex::new(Duration::ZERO),
            fetches: AtomicUsize::new(0),
        });
        let router = Router::new()
            .route("/.well-known/jwks.json", get(serve_jwks))
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { addr, state }
    }

    /// The issuer this mock tenant stands for.
    pub fn issuer(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    pub fn set_keys(&self, keys: &[&TestKey]) {
        *self.state.keys.lock().unwrap() = keys.iter().map(|k| k.jwk()).collect();
    }

    pub fn set_raw_keys(&self, keys: Vec<Value>) {
        *self.state.keys.lock().unwrap() = keys;
    }

    pub fn set_mode(&self, mode: JwksMode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    pub fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }
}

async fn serve_jwks(axum::extract::State(state): axum::extract::State<Arc<MockState>>) -> Response {
    state.fetches.fetch_add(1, Ordering::SeqCst);
    let delay = *state.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let mode = state.mode.lock().unwrap().clone();
    match mode {
        JwksMode::Serve => {
            let keys = state.keys.lock().unwrap().clone();
            axum::Json(json!({ "keys": keys })).into_response()
        }
        JwksMode::Status(code) => StatusCode::from_u16(code)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(),
        JwksMode::Garbage => "<html>not a key set</html>".into_response(),
    }
}

/// The knobs a test may turn; everything else is the documented default.
#[derive(Debug, Clone)]
pub struct AppOptions {
    pub max_age: Duration,
    pub refetch_cooldown: Duration,
    pub fetch_timeout: Duration,
    pub leeway: Duration,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(600),
            refetch_cooldown: Duration::from_millis(200),
            fetch_timeout: Duration::from_secs(5),
            leeway: Duration::from_secs(5),
        }
    }
}

/// The real API, served on 127.0.0.1 port 0, trusting `issuer`.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
}

pub async fn spawn_app_for(issuer: &str, options: AppOptions) -> TestApp {
    let issuer = Url::parse(issuer).expect("issuer URL");
    let settings = Settings {
        addr: "127.0.0.1:0".parse().unwrap(),
        allowed_origins: vec![ALLOWED_ORIGIN.parse().unwrap()],
        client_id: Some(CLIENT_ID.to_owned()),
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
        },
    };
    let listener = TcpListener::bind(settings.addr).await.expect("bind");
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(api::serve(listener, settings, pending()));
    TestApp {
        base,
        client: reqwest::Client::new(),
    }
}

/// The API against a fresh mock tenant publishing [`KEY`].
pub async fn spawn_app() -> (TestApp, MockJwks) {
    spawn_app_with(AppOptions::default()).await
}

pub async fn spawn_app_with(options: AppOptions) -> (TestApp, MockJwks) {
    let jwks = MockJwks::start(&[&KEY]).await;
    let app = spawn_app_for(&jwks.issuer(), options).await;
    (app, jwks)
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

/// The claims of an access token the mock tenant at `issuer` would issue to a user who
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

/// Polls `check` every 20 ms until it holds, for at most `within`.
pub async fn eventually(within: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
