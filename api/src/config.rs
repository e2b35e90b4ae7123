//! The API's configuration: one `clap` struct, every field a flag and an environment variable
//! (a `.env` file is loaded first by `main`), checked once at startup into [`Settings`].

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::HeaderValue;
use clap::Parser;
use shared::{AuthConfig, LOGIN_SCOPE, SessionStorage};
use url::Url;

use crate::auth::{JwksSettings, ValidationSettings};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "api",
    about = "The quickstart's protected API: validates Auth0 access tokens and serves /api/public, /api/private and /api/private-scoped."
)]
pub struct Config {
    /// Your Auth0 tenant's domain, e.g. `example.us.auth0.com`; the issuer is `https://{domain}/`.
    #[arg(long, env = "AUTH0_DOMAIN")]
    pub auth0_domain: Option<String>,

    /// A full issuer URL instead of a domain, for local or self-hosted issuers, e.g.
    /// `http://127.0.0.1:4010/`. The JWKS is read from `{issuer}.well-known/jwks.json`.
    #[arg(long, env = "AUTH0_ISSUER")]
    pub auth0_issuer: Option<String>,

    /// The identifier of this API in Auth0 (the `audience` the SPA asks for), e.g.
    /// `https://quickstarts/api`.
    #[arg(long, env = "AUTH0_AUDIENCE")]
    pub auth0_audience: Option<String>,

    /// The SPA's client ID; the API hands it to the SPA with the rest of the runtime config.
    #[arg(long, env = "AUTH0_CLIENT_ID")]
    pub auth0_client_id: Option<String>,

    /// Where the API listens.
    #[arg(long, env = "API_ADDR", default_value = "127.0.0.1:3001")]
    pub api_addr: String,

    /// Browser origins allowed to call the API (CORS), comma-separated, e.g.
    /// `http://localhost:3000,https://app.example.com`.
    #[arg(long, env = "ALLOWED_ORIGINS", default_value = "http://localhost:3000")]
    pub allowed_origins: String,

    /// Serve the built SPA from this folder (Trunk's `dist/`), with deep links falling back to
    /// its `index.html`: one deployable for app and API.
    #[arg(long, env = "SPA_DIR")]
    pub spa_dir: Option<std::path::PathBuf>,

    /// Where the SPA keeps the session: `session` (sessionStorage, the default), `local`
    /// (localStorage, as Auth0's samples) or `memory` (lost on reload). See the README.
    #[arg(long, env = "SPA_SESSION_STORAGE", default_value = "session")]
    pub spa_session_storage: String,

    /// How long a fetched key set is trusted before it is refreshed in the background.
    #[arg(long, env = "JWKS_MAX_AGE", default_value = "10m")]
    pub jwks_max_age: String,

    /// The least time between two JWKS fetches, so tokens with made-up `kid`s cannot make the
    /// API hammer the tenant.
    #[arg(long, env = "JWKS_REFETCH_COOLDOWN", default_value = "10s")]
    pub jwks_refetch_cooldown: String,

    /// How long one JWKS fetch may take.
    #[arg(long, env = "JWKS_FETCH_TIMEOUT", default_value = "5s")]
    pub jwks_fetch_timeout: String,

    /// Clock skew tolerated on `exp` and `nbf`.
    #[arg(long, env = "JWT_LEEWAY", default_value = "5s")]
    pub jwt_leeway: String,

    /// How many verified access tokens to remember, so a token sent again skips the RSA
    /// verification (its expiry is still checked every time); 0 turns this off.
    #[arg(long, env = "TOKEN_CACHE_SIZE", default_value_t = 10_000)]
    pub token_cache_size: usize,
}

/// The configuration once checked: everything the server needs, in the types it needs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub addr: SocketAddr,
    pub allowed_origins: Vec<HeaderValue>,
    pub client_id: Option<String>,
    pub spa_dir: Option<std::path::PathBuf>,
    pub session_storage: SessionStorage,
    pub validation: ValidationSettings,
    pub jwks: JwksSettings,
}

impl Settings {
    /// What the SPA needs to log in against the tenant this API trusts.
    pub fn auth_config(&self) -> Option<AuthConfig> {
        let issuer = Url::parse(&self.validation.issuer).ok()?;
        let host = issuer.host_str()?;
        let domain = match issuer.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        Some(AuthConfig {
            domain,
            issuer: self.validation.issuer.clone(),
            client_id: self.client_id.clone()?,
            audience: self.validation.audience.clone(),
            scope: LOGIN_SCOPE.to_owned(),
            session_storage: self.session_storage,
        })
    }
}

/// A configuration mistake, worded as what to set, with an example.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

fn config_error(message: impl Into<String>) -> ConfigError {
    ConfigError(message.into())
}

/// Upper bounds on the tunables: past these the API would trust stale keys for too long or
/// wait on the tenant for too long.
const MAX_JWKS_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);
const MAX_FETCH_TIMEOUT: Duration = Duration::from_secs(60);
const MAX_LEEWAY: Duration = Duration::from_secs(5 * 60);
/// About 40 MB of remembered claims at the most.
const MAX_TOKEN_CACHE_SIZE: usize = 100_000;

impl Config {
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let issuer = issuer_from(self.auth0_domain.as_deref(), self.auth0_issuer.as_deref())?;
        let audience = match self.auth0_audience.as_deref().map(str::trim) {
            Some(audience) if !audience.is_empty() => audience.to_owned(),
            _ => {
                return Err(config_error(
                    "AUTH0_AUDIENCE is not set: set it to your API's identifier in Auth0, e.g. AUTH0_AUDIENCE=https://quickstarts/api",
                ));
            }
        };
        let addr = self.api_addr.trim().parse().map_err(|_| {
            config_error(format!(
                "API_ADDR={:?} is not an address to listen on: use IP:PORT, e.g. API_ADDR=127.0.0.1:3001",
                self.api_addr
            ))
        })?;
        let allowed_origins = parse_origins(&self.allowed_origins)?;
        let max_age = parse_duration(
            "JWKS_MAX_AGE",
            &self.jwks_max_age,
            "10m",
            Duration::from_secs(1),
            MAX_JWKS_MAX_AGE,
        )?;
        let cooldown = parse_duration(
            "JWKS_REFETCH_COOLDOWN",
            &self.jwks_refetch_cooldown,
            "10s",
            Duration::ZERO,
            max_age,
        )?;
        let timeout = parse_duration(
            "JWKS_FETCH_TIMEOUT",
            &self.jwks_fetch_timeout,
            "5s",
            Duration::from_millis(1),
            MAX_FETCH_TIMEOUT,
        )?;
        let leeway = parse_duration(
            "JWT_LEEWAY",
            &self.jwt_leeway,
            "5s",
            Duration::ZERO,
            MAX_LEEWAY,
        )?;
        let session_storage = self.spa_session_storage.trim().parse().map_err(|why| {
            config_error(format!(
                "SPA_SESSION_STORAGE: {why}: e.g. SPA_SESSION_STORAGE=session"
            ))
        })?;
        let spa_dir = match &self.spa_dir {
            Some(dir) if !dir.join("index.html").is_file() => {
                return Err(config_error(format!(
                    "SPA_DIR={} has no index.html: build the SPA first (trunk build --release) and point SPA_DIR at its dist folder, e.g. SPA_DIR=dist",
                    dir.display()
                )));
            }
            other => other.clone(),
        };
        if self.token_cache_size > MAX_TOKEN_CACHE_SIZE {
            return Err(config_error(format!(
                "TOKEN_CACHE_SIZE={} is out of range: use at most {MAX_TOKEN_CACHE_SIZE} (0 turns the cache off), e.g. TOKEN_CACHE_SIZE=10000",
                self.token_cache_size
            )));
        }
        let client_id = self
            .auth0_client_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        Ok(Settings {
            addr,
            allowed_origins,
            client_id,
            spa_dir,
            session_storage,
            jwks: JwksSettings {
                url: jwks_url(&issuer),
                max_age,
                refetch_cooldown: cooldown,
                fetch_timeout: timeout,
            },
            validation: ValidationSettings {
                issuer: issuer.into(),
                audience,
                leeway,
                cache_size: self.token_cache_size,
            },
        })
    }
}

/// The issuer, from either `AUTH0_DOMAIN` (Auth0's own `https://{domain}/`) or `AUTH0_ISSUER`.
pub fn issuer_from(domain: Option<&str>, issuer: Option<&str>) -> Result<Url, ConfigError> {
    let domain = domain.map(str::trim).filter(|d| !d.is_empty());
    let issuer = issuer.map(str::trim).filter(|i| !i.is_empty());
    match (domain, issuer) {
        (Some(_), Some(_)) => Err(config_error(
            "AUTH0_DOMAIN and AUTH0_ISSUER are both set: set only one, e.g. AUTH0_DOMAIN=example.us.auth0.com",
        )),
        (None, None) => Err(config_error(
            "no tenant configured: set AUTH0_DOMAIN to your Auth0 domain (e.g. AUTH0_DOMAIN=example.us.auth0.com) or AUTH0_ISSUER to an issuer URL (e.g. AUTH0_ISSUER=http://127.0.0.1:4010/)",
        )),
        (Some(domain), None) => issuer_from_domain(domain),
        (None, Some(issuer)) => issuer_from_url(issuer),
    }
}

fn issuer_from_domain(domain: &str) -> Result<Url, ConfigError> {
    let bad = |why: &str| {
        config_error(format!(
            "AUTH0_DOMAIN={domain:?} {why}: set the bare domain, e.g. AUTH0_DOMAIN=example.us.auth0.com"
        ))
    };
    // Accept what people paste from the dashboard: with `https://` and/or a trailing slash.
    let bare = domain.strip_prefix("https://").unwrap_or(domain);
    let bare = bare.strip_suffix('/').unwrap_or(bare);
    if bare.starts_with("http://") {
        return Err(config_error(format!(
            "AUTH0_DOMAIN={domain:?} uses http://, but Auth0 tenants are served over https: set AUTH0_DOMAIN=example.us.auth0.com, or AUTH0_ISSUER for a local http issuer"
        )));
    }
    if bare.contains(['/', '?', '#', '@', ' ']) || bare.contains("://") {
        return Err(bad("is not a domain"));
    }
    let url = Url::parse(&format!("https://{bare}/")).map_err(|_| bad("is not a domain"))?;
    match url.host_str() {
        Some(host) if !host.is_empty() => Ok(url),
        _ => Err(bad("has no host")),
    }
}

fn issuer_from_url(issuer: &str) -> Result<Url, ConfigError> {
    let bad = |why: &str| {
        config_error(format!(
            "AUTH0_ISSUER={issuer:?} {why}: set the issuer URL exactly as it appears in the tokens' `iss`, e.g. AUTH0_ISSUER=https://example.us.auth0.com/"
        ))
    };
    let url = Url::parse(issuer).map_err(|_| bad("is not a URL"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(bad("is not an http(s) URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(bad("has a query, fragment or user name"));
    }
    Ok(url)
}

/// Auth0 publishes its keys at `{issuer}.well-known/jwks.json` (the issuer ends in `/`).
pub fn jwks_url(issuer: &Url) -> Url {
    let mut url = issuer.clone();
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{path}/.well-known/jwks.json"));
    url
}

fn parse_origins(raw: &str) -> Result<Vec<HeaderValue>, ConfigError> {
    let mut origins = Vec::new();
    for origin in raw.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let bad = |why: &str| {
            config_error(format!(
                "ALLOWED_ORIGINS has {origin:?}, which {why}: list origins as scheme://host[:port], comma-separated, e.g. ALLOWED_ORIGINS=http://localhost:3000,https://app.example.com"
            ))
        };
        if origin == "*" {
            return Err(bad(
                "would let any web page call the API with its users' tokens",
            ));
        }
        let url = Url::parse(origin).map_err(|_| bad("is not a URL"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(bad("is not an http(s) origin"));
        }
        let canonical = url.origin().ascii_serialization();
        // An origin has no path: "http://localhost:3000/" is accepted, "/app" is a mistake.
        if origin.trim_end_matches('/') != canonical {
            return Err(bad("is not an origin (it has a path, query or user name)"));
        }
        origins.push(HeaderValue::from_str(&canonical).map_err(|_| bad("is not ASCII"))?);
    }
    if origins.is_empty() {
        return Err(config_error(
            "ALLOWED_ORIGINS is empty: list the origins of your SPA, e.g. ALLOWED_ORIGINS=http://localhost:3000",
        ));
    }
    Ok(origins)
}

fn parse_duration(
    name: &str,
    raw: &str,
    example: &str,
    min: Duration,
    max: Duration,
) -> Result<Duration, ConfigError> {
    let value = humantime::parse_duration(raw.trim()).map_err(|_| {
        config_error(format!(
            "{name}={raw:?} is not a duration: write it like {name}={example} (units: ms, s, m, h)"
        ))
    })?;
    if value < min || value > max {
        return Err(config_error(format!(
            "{name}={raw:?} is out of range: use between {} and {}, e.g. {name}={example}",
            humantime::format_duration(min),
            humantime::format_duration(max)
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Config {
        Config::try_parse_from(std::iter::once("api").chain(args.iter().copied())).unwrap()
    }

    fn error_of(args: &[&str]) -> String {
        config(args).settings().unwrap_err().to_string()
    }

    #[test]
    fn domain_becomes_https_issuer_whatever_the_user_pasted() {
        for domain in [
            "example.us.auth0.com",
            "https://example.us.auth0.com",
            "https://example.us.auth0.com/",
            "example.us.auth0.com/",
            " example.us.auth0.com ",
        ] {
            let issuer = issuer_from(Some(domain), None).unwrap();
            assert_eq!(issuer.as_str(), "https://example.us.auth0.com/", "{domain}");
        }
    }

    #[test]
    fn domain_with_http_or_a_path_is_refused_with_an_example() {
        for domain in [
            "http://example.auth0.com",
            "example.auth0.com/api",
            "ftp://x",
            "a b",
        ] {
            let err = issuer_from(Some(domain), None).unwrap_err().to_string();
            assert!(err.contains("AUTH0_DOMAIN=example"), "{domain}: {err}");
        }
    }

    #[test]
    fn issuer_url_is_kept_as_written() {
        let issuer = issuer_from(None, Some("http://127.0.0.1:4010/")).unwrap();
        assert_eq!(issuer.as_str(), "http://127.0.0.1:4010/");
        assert_eq!(
            jwks_url(&issuer).as_str(),
            "http://127.0.0.1:4010/.well-known/jwks.json"
        );
        let nested = issuer_from(None, Some("https://id.example.com/tenant/")).unwrap();
        assert_eq!(
            jwks_url(&nested).as_str(),
            "https://id.example.com/tenant/.well-known/jwks.json"
        );
    }

    #[test]
    fn issuer_must_be_an_http_url() {
        for bad in ["not a url", "ftp://x/", "https://x/?a=b", "file:///etc/"] {
            assert!(issuer_from(None, Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn both_or_neither_tenant_setting_is_an_error() {
        assert!(
            issuer_from(Some("a.auth0.com"), Some("https://a.auth0.com/"))
                .unwrap_err()
                .to_string()
                .contains("set only one")
        );
        assert!(
            issuer_from(None, None)
                .unwrap_err()
                .to_string()
                .contains("AUTH0_DOMAIN=")
        );
    }

    #[test]
    fn missing_audience_says_what_to_set() {
        let err = error_of(&["--auth0-domain", "a.auth0.com"]);
        assert!(err.contains("AUTH0_AUDIENCE=https://"), "{err}");
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let settings = config(&["--auth0-domain", "a.auth0.com", "--auth0-audience", "x"])
            .settings()
            .unwrap();
        assert_eq!(settings.addr.to_string(), "127.0.0.1:3001");
        assert_eq!(settings.allowed_origins, ["http://localhost:3000"]);
        assert_eq!(settings.jwks.max_age, Duration::from_secs(600));
        assert_eq!(settings.jwks.refetch_cooldown, Duration::from_secs(10));
        assert_eq!(settings.jwks.fetch_timeout, Duration::from_secs(5));
        assert_eq!(settings.validation.leeway, Duration::from_secs(5));
        assert_eq!(
            settings.jwks.url.as_str(),
            "https://a.auth0.com/.well-known/jwks.json"
        );
    }

    #[test]
    fn spa_settings_need_a_client_id_and_name_the_domain() {
        let base = [
            "--auth0-issuer",
            "http://127.0.0.1:4010/",
            "--auth0-audience",
            "x",
        ];
        assert!(config(&base).settings().unwrap().auth_config().is_none());
        let mut with_client = base.to_vec();
        with_client.extend(["--auth0-client-id", "abc"]);
        let spa = config(&with_client)
            .settings()
            .unwrap()
            .auth_config()
            .unwrap();
        assert_eq!(spa.domain, "127.0.0.1:4010");
        assert_eq!(spa.issuer, "http://127.0.0.1:4010/");
        assert_eq!(spa.client_id, "abc");
        assert_eq!(spa.scope, "openid profile read:messages");
    }

    #[test]
    fn origins_are_canonical_and_never_a_wildcard() {
        let ok = parse_origins("http://localhost:3000/, https://app.example.com").unwrap();
        assert_eq!(ok, ["http://localhost:3000", "https://app.example.com"]);
        for bad in ["*", "localhost:3000", "http://localhost:3000/app", ""] {
            assert!(parse_origins(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_are_checked() {
        let base = ["--auth0-domain", "a.auth0.com", "--auth0-audience", "x"];
        let with = |flag: &str, value: &str| {
            let mut args = base.to_vec();
            args.extend([flag, value]);
            error_of(&args)
        };
        assert!(with("--jwt-leeway", "soon").contains("JWT_LEEWAY=5s"));
        assert!(with("--jwks-fetch-timeout", "2h").contains("out of range"));
        assert!(with("--jwks-refetch-cooldown", "1h").contains("out of range"));
        assert!(with("--api-addr", "localhost").contains("API_ADDR=127.0.0.1:3001"));
        assert!(with("--token-cache-size", "1000000").contains("TOKEN_CACHE_SIZE=10000"));
        assert!(with("--spa-session-storage", "cookie").contains("SPA_SESSION_STORAGE=session"));
        assert!(with("--spa-dir", "/nonexistent").contains("has no index.html"));
    }
}
