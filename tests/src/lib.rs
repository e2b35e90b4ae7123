//! The test harness: the real API against the development tenant, both in-process on
//! 127.0.0.1 port 0, and the people who use them.
//!
//! - [`TestApp::spawn`] starts both; [`TestApp::builder`] turns the knobs (the API's settings,
//!   which start from its real configuration, the tenant's configuration and keys).
//! - Personas log in as the tenant's users do: [`TestApp::reader`] (has `read:messages`),
//!   [`TestApp::guest`] (does not), [`TestApp::m2m`] (the machine-to-machine client).
//! - [`TestApp::token`] signs an access token of any shape with the tenant's key, for the
//!   tests of what the API refuses.

use std::collections::HashMap;
use std::future::pending;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use api::config::{Config, Settings};
pub use devtenant::testing::{
    AUDIENCE, M2M_CLIENT_ID, M2M_CLIENT_SECRET, SPA_CLIENT_ID, csrf_of, now,
};
pub use devtenant::{DevTenant, JwksBehaviour, KeyRing, RunningTenant, SigningKey, TenantConfig};
use serde_json::{Value, json};
use tokio::net::TcpListener;

pub const ALLOWED_ORIGIN: &str = "http://localhost:3000";
pub const CALLBACK: &str = "http://localhost:3000/callback";
/// Short, so that tests of a key rotation do not wait the default 10 s.
pub const TEST_REFETCH_COOLDOWN: Duration = Duration::from_millis(200);

/// Keys made once per test binary: RSA key generation is the slow part of a test.
pub static KEY: LazyLock<Arc<SigningKey>> =
    LazyLock::new(|| Arc::new(SigningKey::generate_with_kid("key-1")));
pub static ROTATED_KEY: LazyLock<Arc<SigningKey>> =
    LazyLock::new(|| Arc::new(SigningKey::generate_with_kid("key-2")));
pub static ATTACKER_KEY: LazyLock<Arc<SigningKey>> =
    LazyLock::new(|| Arc::new(SigningKey::generate_with_kid("attacker")));

pub fn ring(keys: &[&Arc<SigningKey>]) -> KeyRing {
    KeyRing::from_keys(keys.iter().map(|k| Arc::clone(k)).collect())
}

/// A development tenant on 127.0.0.1:0 whose key ring is `keys` (the first signs).
pub async fn spawn_tenant(keys: &[&Arc<SigningKey>]) -> RunningTenant {
    DevTenant::spawn_with(TenantConfig::builtin(), ring(keys)).await
}

/// The API's settings for a tenant at `issuer`, from its real configuration (so its
/// documented defaults), with the test refetch cooldown.
pub fn settings_for(issuer: &str) -> Settings {
    let config = Config {
        auth0_issuer: Some(issuer.to_owned()),
        auth0_audience: Some(AUDIENCE.to_owned()),
        auth0_client_id: Some(SPA_CLIENT_ID.to_owned()),
        api_addr: Some("127.0.0.1:0".to_owned()),
        ..Config::default()
    };
    let mut settings = config.settings().expect("the test configuration is valid");
    settings.jwks.refetch_cooldown = TEST_REFETCH_COOLDOWN;
    settings
}

/// The real API, served on `listener`.
pub fn serve_api(listener: TcpListener, settings: Settings) -> String {
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(api::serve(listener, settings, pending()));
    base
}

/// The real API, served on `listener`, with `/metrics` on a listener of its own: the API's
/// base URL and the metrics' URL.
pub async fn serve_api_with_metrics(listener: TcpListener, settings: Settings) -> (String, String) {
    let base = format!("http://{}", listener.local_addr().unwrap());
    let metrics = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let metrics_url = format!("http://{}/metrics", metrics.local_addr().unwrap());
    tokio::spawn(api::serve_with_metrics(
        listener,
        Some(metrics),
        settings,
        pending(),
    ));
    (base, metrics_url)
}

/// The API and the tenant it trusts.
pub struct TestApp {
    /// `http://127.0.0.1:{port}`, the API.
    pub base: String,
    /// Where the API's `/metrics` are.
    pub metrics: String,
    pub tenant: RunningTenant,
    pub client: reqwest::Client,
}

/// A change to the API's settings, made before it starts.
type SettingsChange = Box<dyn FnOnce(&mut Settings)>;

/// What to start: the API's settings and the tenant's configuration and keys.
pub struct TestAppBuilder {
    tenant: TenantConfig,
    keys: Vec<Arc<SigningKey>>,
    settings: Vec<SettingsChange>,
    listener: Option<TcpListener>,
    issuer: Option<String>,
    tenant_host: Option<String>,
}

impl TestAppBuilder {
    pub fn keys(mut self, keys: &[&Arc<SigningKey>]) -> Self {
        self.keys = keys.iter().map(|k| Arc::clone(k)).collect();
        self
    }

    pub fn tenant(mut self, change: impl FnOnce(&mut TenantConfig)) -> Self {
        change(&mut self.tenant);
        self
    }

    pub fn settings(mut self, change: impl FnOnce(&mut Settings) + 'static) -> Self {
        self.settings.push(Box::new(change));
        self
    }

    /// Configure the API with this issuer (`AUTH0_ISSUER`) instead of the tenant's.
    pub fn trust_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Serve the API on this listener (bound first when the tenant must know its origin).
    pub fn listener(mut self, listener: TcpListener) -> Self {
        self.listener = Some(listener);
        self
    }

    /// The API's key set refreshed after `max_age`, refetched at most every `cooldown`: key
    /// rotation and outages within a test's seconds.
    pub fn key_refresh(self, max_age: Duration, cooldown: Duration) -> Self {
        self.settings(move |s| {
            s.jwks.max_age = max_age;
            s.jwks.refetch_cooldown = cooldown;
        })
    }

    /// Reach the tenant as `http://{host}:{port}/` (its issuer), e.g. `localhost`, which is
    /// another site than the `127.0.0.1` the API and the SPA are served from.
    pub fn tenant_host(mut self, host: &str) -> Self {
        self.tenant_host = Some(host.to_owned());
        self
    }

    pub async fn spawn(self) -> TestApp {
        let keys = KeyRing::from_keys(self.keys.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let mut config = self.tenant.clone();
        if let Some(host) = &self.tenant_host {
            let port = listener.local_addr().expect("bound").port();
            config.tenant.issuer = Some(format!("http://{host}:{port}/"));
        }
        let tenant = DevTenant::spawn_on(listener, config, keys);
        self.spawn_for(tenant).await
    }

    /// The API against a tenant already running (its configuration and keys are its own).
    pub async fn spawn_for(self, tenant: RunningTenant) -> TestApp {
        let mut settings = settings_for(self.issuer.as_deref().unwrap_or(tenant.issuer()));
        for change in self.settings {
            change(&mut settings);
        }
        let listener = match self.listener {
            Some(listener) => listener,
            None => TcpListener::bind("127.0.0.1:0").await.expect("bind"),
        };
        let (base, metrics) = serve_api_with_metrics(listener, settings).await;
        TestApp {
            base,
            metrics,
            tenant,
            client: reqwest::Client::new(),
        }
    }
}

impl TestApp {
    /// The API against a fresh tenant signing with [`KEY`], everything else by default.
    pub async fn spawn() -> Self {
        Self::builder().spawn().await
    }

    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            tenant: TenantConfig::builtin(),
            keys: vec![KEY.clone()],
            settings: Vec::new(),
            listener: None,
            issuer: None,
            tenant_host: None,
        }
    }

    pub fn issuer(&self) -> &str {
        self.tenant.issuer()
    }

    /// The API's `/metrics`, as scraped.
    pub async fn scrape(&self) -> String {
        let answer = self
            .client
            .get(&self.metrics)
            .send()
            .await
            .expect("metrics");
        assert_eq!(answer.status(), 200);
        answer.text().await.unwrap()
    }

    /// The value of one sample of the API's metrics, e.g.
    /// `api_token_cache_lookups_total{result="hit"}`; 0 when it is not there (yet).
    pub async fn metric(&self, sample: &str) -> f64 {
        let text = self.scrape().await;
        text.lines()
            .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' '))
            .map_or(0.0, |value| value.parse().expect("a number"))
    }

    /// One private call that must pass: the API has loaded the tenant's keys.
    pub async fn assert_keys_loaded(&self) {
        let answer = self.get("/api/private", Some(&self.token(&[]))).await;
        assert_eq!(answer.status(), 200, "the first private call");
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("the API answers")
    }

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

    /// `reader@example.com`, logged in at the tenant: has `read:messages`.
    pub async fn reader(&self) -> Persona<'_> {
        self.user("reader@example.com", "reader").await
    }

    /// `guest@example.com`, logged in at the tenant: no `read:messages`.
    pub async fn guest(&self) -> Persona<'_> {
        self.user("guest@example.com", "guest").await
    }

    async fn user(&self, email: &str, password: &str) -> Persona<'_> {
        let answer = log_in(&self.tenant, email, password, Some(AUDIENCE)).await;
        Persona {
            app: self,
            access_token: answer["access_token"].clone(),
            id_token: answer.get("id_token").cloned(),
        }
    }

    /// The machine-to-machine client, with a client-credentials token (granted
    /// `read:messages`).
    pub async fn m2m(&self) -> Persona<'_> {
        let tokens: Value = self
            .client
            .post(self.tenant.endpoint("oauth/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", M2M_CLIENT_ID),
                ("client_secret", M2M_CLIENT_SECRET),
                ("audience", AUDIENCE),
            ])
            .send()
            .await
            .expect("the tenant answers")
            .json()
            .await
            .expect("a token response");
        Persona {
            app: self,
            access_token: tokens["access_token"].as_str().unwrap().to_owned(),
            id_token: None,
        }
    }

    /// The claims of an access token the tenant would issue to a user who consented to
    /// `openid profile read:messages`, with `changes`.
    pub fn claims(&self, changes: &[(&str, Value)]) -> Value {
        access_claims(self.issuer(), changes)
    }

    /// An access token with those claims, signed with [`KEY`].
    pub fn token(&self, changes: &[(&str, Value)]) -> String {
        KEY.sign(&self.claims(changes))
    }

    /// An access token without these claims, signed with [`KEY`].
    pub fn token_without(&self, claims: &[&str]) -> String {
        let mut all = self.claims(&[]);
        for claim in claims {
            all.as_object_mut().unwrap().remove(*claim);
        }
        KEY.sign(&all)
    }
}

/// The claims of a user's access token from the tenant at `issuer`, with `changes`.
pub fn access_claims(issuer: &str, changes: &[(&str, Value)]) -> Value {
    let now = now();
    let mut claims = json!({
        "iss": issuer,
        "sub": "auth0|5f7c8ec7c33c6c004bbafe82",
        "aud": [AUDIENCE, format!("{issuer}userinfo")],
        "azp": SPA_CLIENT_ID,
        "iat": now,
        "exp": now + 3600,
        "scope": "openid profile read:messages",
    });
    for (key, value) in changes {
        claims[*key] = value.clone();
    }
    claims
}

/// Someone holding tokens from the tenant, calling the API with the access token.
pub struct Persona<'a> {
    app: &'a TestApp,
    pub access_token: String,
    pub id_token: Option<String>,
}

impl Persona<'_> {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.app.get(path, Some(&self.access_token)).await
    }
}

/// A decoded error answer of the API.
pub struct ErrorAnswer {
    pub status: u16,
    pub challenge: Option<String>,
    pub retry_after: Option<String>,
    pub body: shared::ErrorBody,
}

pub async fn error_answer(response: reqwest::Response) -> ErrorAnswer {
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (challenge, retry_after) = (header("www-authenticate"), header("retry-after"));
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("error body is not the JSON error shape: {text}"));
    ErrorAnswer {
        status,
        challenge,
        retry_after,
        body,
    }
}

/// Logs `email` in on the tenant the way a browser does (implicit flow, the login form) and
/// returns the parameters the tenant sends back to the app's callback.
pub async fn log_in(
    tenant: &RunningTenant,
    email: &str,
    password: &str,
    audience: Option<&str>,
) -> HashMap<String, String> {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut params = vec![
        ("client_id", SPA_CLIENT_ID),
        ("redirect_uri", CALLBACK),
        ("response_type", "token id_token"),
        ("scope", "openid profile read:messages"),
        ("state", "state-1"),
        ("nonce", "nonce-1"),
    ];
    if let Some(audience) = audience {
        params.push(("audience", audience));
    }
    let page = browser
        .get(tenant.endpoint("authorize"))
        .query(&params)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&page).expect("the login form");
    let back = browser
        .post(tenant.endpoint("u/login"))
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
