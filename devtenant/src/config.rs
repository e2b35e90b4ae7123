//! The tenant's configuration: its API, applications and demo users, from a TOML file or the
//! built-in default (`devtenant/devtenant.toml`).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;
use url::Url;

/// The built-in configuration: what `cargo xtask run` uses with nothing configured.
pub const DEFAULT_CONFIG: &str = include_str!("../devtenant.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    pub tenant: TenantSection,
    pub api: ApiConfig,
    pub applications: Vec<Application>,
    pub users: Vec<User>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSection {
    pub name: String,
    pub listen: SocketAddr,
    /// The issuer, exactly as tokens carry it in `iss`, when not `http://{listen}/` (behind a
    /// proxy, or to play a provider whose issuer has no trailing slash).
    pub issuer: Option<String>,
    /// Where the JWKS is served: Auth0's `/.well-known/jwks.json` unless set (discovery's
    /// `jwks_uri` follows), to play a provider that keeps its keys elsewhere.
    pub jwks_path: Option<String>,
    /// DPoP: every proof at the token endpoint must carry the tenant's nonce
    /// (`use_dpop_nonce`), as an Auth0 tenant can require.
    #[serde(default)]
    pub dpop_nonce: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    pub name: String,
    /// The API identifier: the `audience` clients ask for and the API checks.
    pub identifier: String,
    pub scopes: Vec<ScopeDefinition>,
    /// With RBAC, a user gets an API scope only if it is one of their permissions.
    #[serde(default)]
    pub rbac: bool,
    /// Auth0's "Add Permissions in the Access Token".
    #[serde(default)]
    pub permissions_in_token: bool,
    /// Lifetime of access tokens from /oauth/token (Auth0's default: 24 h).
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_secs: u64,
    /// Lifetime of access tokens from the implicit flow (Auth0's default: 2 h).
    #[serde(default = "default_browser_token_lifetime")]
    pub browser_token_lifetime_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeDefinition {
    pub value: String,
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppType {
    /// A browser app: a public client (no secret), implicit and code + PKCE.
    Spa,
    /// A machine-to-machine app: client_credentials with a secret.
    M2m,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    pub name: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    #[serde(rename = "type")]
    pub app_type: AppType,
    #[serde(default)]
    pub callbacks: Vec<String>,
    #[serde(default)]
    pub logout_urls: Vec<String>,
    #[serde(default)]
    pub web_origins: Vec<String>,
    /// For machine-to-machine apps: the API scopes the app is granted.
    #[serde(default)]
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub email: String,
    pub password: String,
    pub name: String,
    pub nickname: Option<String>,
    pub picture: Option<String>,
    /// `sub`; defaults to `auth0|` and the part of the email before `@`.
    pub user_id: Option<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
}

fn default_token_lifetime() -> u64 {
    86_400
}

fn default_browser_token_lifetime() -> u64 {
    7_200
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {error}")]
    Read { path: String, error: String },
    #[error("{0}")]
    Invalid(String),
}

impl TenantConfig {
    pub fn builtin() -> Self {
        Self::parse(DEFAULT_CONFIG).expect("the built-in development tenant config is valid")
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            error: e.to_string(),
        })?;
        Self::parse(&text).map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))
    }

    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let config: TenantConfig =
            toml::from_str(text).map_err(|e| ConfigError::Invalid(e.message().to_owned()))?;
        config.check()?;
        Ok(config)
    }

    /// The issuer, as configured; by default `http://{listen}/`, ending in `/` as Auth0's do,
    /// and named `localhost` when the tenant listens on a loopback address: browsers count
    /// `localhost` as the same site as the app at `http://localhost:3000`, so the tenant's
    /// session cookie reaches a silent renewal's iframe (127.0.0.1 would be another site).
    pub fn issuer(&self) -> String {
        let listen = self.tenant.listen;
        match &self.tenant.issuer {
            Some(issuer) => issuer.clone(),
            None if listen.ip().is_loopback() => format!("http://localhost:{}/", listen.port()),
            None => format!("http://{listen}/"),
        }
    }

    /// The path of the JWKS.
    pub fn jwks_path(&self) -> &str {
        self.tenant
            .jwks_path
            .as_deref()
            .unwrap_or("/.well-known/jwks.json")
    }

    pub fn application(&self, client_id: &str) -> Option<&Application> {
        self.applications.iter().find(|a| a.client_id == client_id)
    }

    /// The browser app the API and SPA are set up for: the first SPA.
    pub fn spa(&self) -> &Application {
        self.applications
            .iter()
            .find(|a| a.app_type == AppType::Spa)
            .expect("checked at load: there is an SPA")
    }

    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email.trim()))
    }

    pub fn user_by_id(&self, user_id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.user_id() == user_id)
    }

    pub fn api_defines(&self, scope: &str) -> bool {
        self.api.scopes.iter().any(|s| s.value == scope)
    }

    fn check(&self) -> Result<(), ConfigError> {
        self.check_tenant()?;
        self.applications
            .iter()
            .try_for_each(|app| self.check_application(app))?;
        let mut ids = HashSet::new();
        if let Some(app) = self.applications.iter().find(|a| !ids.insert(&a.client_id)) {
            return invalid(format!("client_id {:?} is used twice", app.client_id));
        }
        if !self.applications.iter().any(|a| a.app_type == AppType::Spa) {
            return invalid("no application of type \"spa\": the quickstart needs one".into());
        }
        self.check_users()
    }

    /// The issuer, the JWKS path and the API.
    fn check_tenant(&self) -> Result<(), ConfigError> {
        if let Some(issuer) = &self.tenant.issuer
            && Url::parse(issuer).is_err()
        {
            return invalid(format!("tenant.issuer {issuer:?} is not a URL"));
        }
        if let Some(path) = &self.tenant.jwks_path
            && (!path.starts_with('/') || path.starts_with("/.well-known/openid"))
        {
            return invalid(format!(
                "tenant.jwks_path {path:?} is not a path of its own, e.g. \"/keys\""
            ));
        }
        if self.api.identifier.trim().is_empty() {
            return invalid(
                "api.identifier is empty: set the API's audience, e.g. \"https://quickstarts/api\""
                    .into(),
            );
        }
        Ok(())
    }

    /// One application: its URLs, its secret, its scopes.
    fn check_application(&self, app: &Application) -> Result<(), ConfigError> {
        for url in app
            .callbacks
            .iter()
            .chain(&app.logout_urls)
            .chain(&app.web_origins)
        {
            if let Err(why) = check_app_url(url) {
                return invalid(format!("application {:?}: {url:?} {why}", app.name));
            }
        }
        if app.app_type == AppType::M2m && app.client_secret.is_none() {
            return invalid(format!(
                "application {:?} is m2m but has no client_secret",
                app.name
            ));
        }
        if let Some(scope) = app.scopes.iter().find(|s| !self.api_defines(s)) {
            return invalid(format!(
                "application {:?} is granted {scope:?}, which the API does not define",
                app.name
            ));
        }
        Ok(())
    }

    /// At least one user, each email once.
    fn check_users(&self) -> Result<(), ConfigError> {
        if self.users.is_empty() {
            return invalid("no users: add at least one [[users]] entry".into());
        }
        let mut emails = HashSet::new();
        match self
            .users
            .iter()
            .find(|u| !emails.insert(u.email.to_ascii_lowercase()))
        {
            Some(user) => invalid(format!("user {:?} is listed twice", user.email)),
            None => Ok(()),
        }
    }
}

/// A mistake in the configuration, as its one line says it.
fn invalid(message: String) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid(message))
}

/// RFC 6749 §3.1.2: a redirection URI has no fragment; OIDC Core §3.2.2.1: it is https,
/// except on this machine (http on loopback is what development needs).
fn check_app_url(text: &str) -> Result<(), &'static str> {
    let url = Url::parse(text).map_err(|_| "is not a URL")?;
    if url.fragment().is_some() || text.contains('#') {
        return Err("has a fragment, which a redirect URL may not have");
    }
    let host = url.host_str().ok_or("has no host")?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if shared::oauth::is_loopback_host(host) => Ok(()),
        "http" => Err("uses http:// on a host other than this machine: use https://"),
        _ => Err("is not an http(s) URL"),
    }
}

impl User {
    pub fn user_id(&self) -> String {
        self.user_id.clone().unwrap_or_else(|| {
            let local = self.email.split('@').next().unwrap_or(&self.email);
            format!("auth0|{local}")
        })
    }
}

impl Application {
    pub fn allows_callback(&self, redirect_uri: &str) -> bool {
        self.callbacks.iter().any(|c| c == redirect_uri)
    }

    pub fn allows_logout_url(&self, url: &str) -> bool {
        self.logout_urls.iter().any(|u| u == url)
    }

    pub fn allows_web_origin(&self, origin: &str) -> bool {
        self.web_origins
            .iter()
            .any(|o| o.trim_end_matches('/') == origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_config_is_valid_and_has_a_reader_and_a_guest() {
        let config = TenantConfig::builtin();
        assert_eq!(config.issuer(), "http://localhost:4010/");
        assert_eq!(config.api.identifier, "https://quickstarts/api");
        let reader = config.user_by_email("Reader@Example.com").unwrap();
        assert!(reader.permissions.contains(&"read:messages".to_owned()));
        assert_eq!(reader.user_id(), "auth0|reader");
        let guest = config.user_by_email("guest@example.com").unwrap();
        assert!(guest.permissions.is_empty());
        assert!(
            config
                .spa()
                .allows_callback("http://localhost:3000/callback")
        );
        assert!(
            !config
                .spa()
                .allows_callback("http://localhost:3000/callback/")
        );
    }

    #[test]
    fn mistakes_are_reported() {
        let broken = DEFAULT_CONFIG.replace("type = \"spa\"", "type = \"native\"");
        assert!(TenantConfig::parse(&broken).is_err());
        let no_secret =
            DEFAULT_CONFIG.replace("client_secret = \"dev-secret-not-for-production\"", "");
        let error = TenantConfig::parse(&no_secret).unwrap_err().to_string();
        assert!(error.contains("no client_secret"), "{error}");
        let typo = DEFAULT_CONFIG.replace("rbac = true", "rbca = true");
        assert!(TenantConfig::parse(&typo).is_err());
    }

    #[test]
    fn app_urls_have_no_fragment_and_use_http_only_on_loopback() {
        for (url, why) in [
            ("http://localhost:3000/cb#x", "fragment"),
            ("http://app.example.com/callback", "http://"),
            ("ftp://localhost/callback", "http(s)"),
            ("not a url", "not a URL"),
        ] {
            let broken = DEFAULT_CONFIG.replace("http://localhost:3000/callback", url);
            let error = TenantConfig::parse(&broken).unwrap_err().to_string();
            assert!(error.contains(why), "{url}: {error}");
        }
        for fine in [
            "https://app.example.com/callback",
            "http://127.0.0.1:3000/callback",
            "http://[::1]:3000/callback",
        ] {
            let config = DEFAULT_CONFIG.replace("http://localhost:3000/callback", fine);
            assert!(TenantConfig::parse(&config).is_ok(), "{fine}");
        }
    }
}
