//! The API's configuration: one `clap` struct, every field a flag and an environment variable
//! (a `.env` file is loaded first by `main`), checked once at startup into [`Settings`].
//!
//! Every value is read as text and parsed here, not by clap, so that every mistake ends in
//! one line naming the variable and an example ([`ConfigError`]); an empty value counts as
//! unset, for every variable alike. The defaults live with the types they configure
//! ([`JwksSettings::new`], [`ValidationSettings::new`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::http::HeaderValue;
use clap::Parser;
use shared::{AuthConfig, LOGIN_SCOPE, LoginFlow, SessionStorage};
use url::Url;

use crate::ServerLimits;
use crate::auth::{JwksSettings, KeySource, ValidationSettings, is_safe_to_fetch};

#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "api",
    about = "The quickstart's protected API: validates Auth0 access tokens and serves /api/public, /api/private and /api/private-scoped."
)]
pub struct Config {
    /// Your Auth0 tenant's domain, e.g. `example.us.auth0.com`; the issuer is `https://{domain}/`
    /// and the keys are read from `https://{domain}/.well-known/jwks.json`.
    #[arg(long, env = "AUTH0_DOMAIN")]
    pub auth0_domain: Option<String>,

    /// A full issuer URL instead of a domain, exactly as tokens carry it in `iss`, for local or
    /// self-hosted issuers, e.g. `http://127.0.0.1:4010/`. The keys are found through OpenID
    /// discovery (`{issuer}/.well-known/openid-configuration`). http:// only on loopback.
    #[arg(long, env = "AUTH0_ISSUER")]
    pub auth0_issuer: Option<String>,

    /// Where the tenant's keys (JWKS) are, when not where the issuer says.
    #[arg(long, env = "JWKS_URL")]
    pub jwks_url: Option<String>,

    /// The identifier of this API in Auth0 (the `audience` the SPA asks for), e.g.
    /// `https://quickstarts/api`.
    #[arg(long, env = "AUTH0_AUDIENCE")]
    pub auth0_audience: Option<String>,

    /// The SPA's client ID; the API hands it to the SPA with the rest of the runtime config.
    #[arg(long, env = "AUTH0_CLIENT_ID")]
    pub auth0_client_id: Option<String>,

    /// Where the API listens. Defaults to 127.0.0.1:3001.
    #[arg(long, env = "API_ADDR")]
    pub api_addr: Option<String>,

    /// Browser origins allowed to call the API (CORS), comma-separated, e.g.
    /// `http://localhost:3000,https://app.example.com`. Defaults to http://localhost:3000.
    #[arg(long, env = "ALLOWED_ORIGINS")]
    pub allowed_origins: Option<String>,

    /// Serve the built SPA from this folder (Trunk's `dist/`), with deep links falling back to
    /// its `index.html`: one deployable for app and API.
    #[arg(long, env = "SPA_DIR")]
    pub spa_dir: Option<String>,

    /// Where the SPA keeps the session: `session` (sessionStorage, the default), `local`
    /// (localStorage, as Auth0's samples) or `memory` (lost on reload). See the README.
    #[arg(long, env = "SPA_SESSION_STORAGE")]
    pub spa_session_storage: Option<String>,

    /// How the SPA logs in: `implicit` (the default, as the quickstart teaches) or `code`
    /// (Authorization Code with PKCE, the choice for production). See the README.
    #[arg(long, env = "SPA_LOGIN_FLOW")]
    pub spa_login_flow: Option<String>,

    /// `true`: with the code flow, the SPA renews its session with refresh tokens (rotated at
    /// every use; kept in memory unless SPA_SESSION_STORAGE says otherwise). Defaults to false.
    #[arg(long, env = "SPA_REFRESH_TOKENS")]
    pub spa_refresh_tokens: Option<String>,

    /// How long a fetched key set is trusted before it is refreshed in the background.
    /// Defaults to 10m.
    #[arg(long, env = "JWKS_MAX_AGE")]
    pub jwks_max_age: Option<String>,

    /// The least time between two JWKS fetches, so tokens with made-up `kid`s cannot make the
    /// API hammer the tenant. Defaults to 10s.
    #[arg(long, env = "JWKS_REFETCH_COOLDOWN")]
    pub jwks_refetch_cooldown: Option<String>,

    /// How long one JWKS fetch may take. Defaults to 5s.
    #[arg(long, env = "JWKS_FETCH_TIMEOUT")]
    pub jwks_fetch_timeout: Option<String>,

    /// Clock skew tolerated on `exp` and `nbf`. Defaults to 5s.
    #[arg(long, env = "JWT_LEEWAY")]
    pub jwt_leeway: Option<String>,

    /// How many verified access tokens to remember, so a token sent again skips the RSA
    /// verification (its expiry is still checked every time); 0 turns this off. Defaults to
    /// 10000.
    #[arg(long, env = "TOKEN_CACHE_SIZE")]
    pub token_cache_size: Option<String>,

    /// When the API and the SPA are served over https (behind a TLS proxy), how long browsers
    /// must keep to https: sends `Strict-Transport-Security: max-age=...`, e.g. `1y`. Unset:
    /// none.
    #[arg(long, env = "HSTS_MAX_AGE")]
    pub hsts_max_age: Option<String>,
}

/// The configuration once checked: everything the server needs, in the types it needs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub addr: SocketAddr,
    pub allowed_origins: Vec<HeaderValue>,
    pub client_id: Option<String>,
    pub spa_dir: Option<PathBuf>,
    pub session_storage: SessionStorage,
    pub login_flow: LoginFlow,
    pub refresh_tokens: bool,
    pub validation: ValidationSettings,
    pub jwks: JwksSettings,
    /// `Strict-Transport-Security`, when served over https.
    pub hsts: Option<HeaderValue>,
    /// Timeouts and bounds of the server; not settings a deployment tunes.
    pub limits: ServerLimits,
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
            login_flow: self.login_flow,
            refresh_tokens: self.refresh_tokens,
        })
    }
}

/// A configuration mistake, worded as what to set, with an example: one line, as `main`
/// prints it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no tenant configured: set AUTH0_DOMAIN to your Auth0 domain (e.g. AUTH0_DOMAIN=example.us.auth0.com) or AUTH0_ISSUER to an issuer URL (e.g. AUTH0_ISSUER=http://127.0.0.1:4010/)"
    )]
    NoTenant,
    #[error(
        "AUTH0_DOMAIN and AUTH0_ISSUER are both set: set only one, e.g. AUTH0_DOMAIN=example.us.auth0.com"
    )]
    BothTenants,
    #[error(
        "AUTH0_DOMAIN={0:?} uses http://, but Auth0 tenants are served over https: set AUTH0_DOMAIN=example.us.auth0.com, or AUTH0_ISSUER for a local http issuer"
    )]
    HttpDomain(String),
    #[error(
        "AUTH0_DOMAIN={0:?} is not a domain: set the bare domain, e.g. AUTH0_DOMAIN=example.us.auth0.com"
    )]
    BadDomain(String),
    #[error(
        "AUTH0_ISSUER={value:?} {why}: set the issuer URL exactly as it appears in the tokens' `iss`, e.g. AUTH0_ISSUER=https://example.us.auth0.com/"
    )]
    BadIssuer { value: String, why: &'static str },
    #[error(
        "{name}={value:?} uses http:// for a host other than this machine, so the keys would travel unprotected: use https://, or http:// only on 127.0.0.1 or localhost, e.g. {name}=https://id.example.com/"
    )]
    PlainHttp { name: &'static str, value: String },
    #[error(
        "JWKS_URL={0:?} is not an http(s) URL: set the URL of the tenant's key set, e.g. JWKS_URL=https://id.example.com/jwks"
    )]
    BadJwksUrl(String),
    #[error(
        "AUTH0_AUDIENCE is not set: set it to your API's identifier in Auth0, e.g. AUTH0_AUDIENCE=https://quickstarts/api"
    )]
    NoAudience,
    #[error(
        "API_ADDR={0:?} is not an address to listen on: use IP:PORT, e.g. API_ADDR=127.0.0.1:3001"
    )]
    BadAddr(String),
    #[error(
        "ALLOWED_ORIGINS has {origin:?}, which {why}: list origins as scheme://host[:port], comma-separated, e.g. ALLOWED_ORIGINS=http://localhost:3000,https://app.example.com"
    )]
    BadOrigin { origin: String, why: &'static str },
    #[error(
        "ALLOWED_ORIGINS lists no origin: list the origins of your SPA, e.g. ALLOWED_ORIGINS=http://localhost:3000"
    )]
    NoOrigins,
    #[error(
        "{name}={value:?} is not a duration: write it like {name}={example} (units: ms, s, m, h)"
    )]
    NotADuration {
        name: &'static str,
        value: String,
        example: &'static str,
    },
    #[error(
        "{name}={value:?} is out of range: use between {} and {}, e.g. {name}={example}",
        humantime::format_duration(*min),
        humantime::format_duration(*max)
    )]
    DurationOutOfRange {
        name: &'static str,
        value: String,
        example: &'static str,
        min: Duration,
        max: Duration,
    },
    #[error(
        "SPA_SESSION_STORAGE={0:?} is not one of session, local, memory: e.g. SPA_SESSION_STORAGE=session"
    )]
    BadSessionStorage(String),
    #[error("SPA_LOGIN_FLOW={0:?} is not one of implicit, code: e.g. SPA_LOGIN_FLOW=code")]
    BadLoginFlow(String),
    #[error("SPA_REFRESH_TOKENS={0:?} is not true or false: e.g. SPA_REFRESH_TOKENS=true")]
    BadRefreshTokens(String),
    #[error(
        "SPA_REFRESH_TOKENS=true needs the code flow (refresh tokens are never given to the implicit flow): set SPA_LOGIN_FLOW=code"
    )]
    RefreshTokensNeedCode,
    #[error(
        "SPA_DIR={0} has no index.html: build the SPA first (trunk build --release) and point SPA_DIR at its dist folder, e.g. SPA_DIR=dist"
    )]
    NoSpaIndex(String),
    #[error(
        "TOKEN_CACHE_SIZE={0:?} is out of range: use a number up to {MAX_TOKEN_CACHE_SIZE} (0 turns the cache off), e.g. TOKEN_CACHE_SIZE=10000"
    )]
    BadCacheSize(String),
}

/// A duration setting: its variable, an example, and the range that makes sense.
struct DurationSetting {
    name: &'static str,
    example: &'static str,
    min: Duration,
    max: Duration,
}

/// Past these bounds the API would trust stale keys for too long, call the tenant too often,
/// or wait on it for too long.
const JWKS_MAX_AGE: DurationSetting = DurationSetting {
    name: "JWKS_MAX_AGE",
    example: "10m",
    min: Duration::from_secs(1),
    max: Duration::from_secs(24 * 60 * 60),
};
/// At most the max-age; at least a second, so made-up `kid`s cannot chain fetches.
const JWKS_REFETCH_COOLDOWN: DurationSetting = DurationSetting {
    name: "JWKS_REFETCH_COOLDOWN",
    example: "10s",
    min: Duration::from_secs(1),
    max: Duration::from_secs(24 * 60 * 60),
};
const JWKS_FETCH_TIMEOUT: DurationSetting = DurationSetting {
    name: "JWKS_FETCH_TIMEOUT",
    example: "5s",
    min: Duration::from_millis(1),
    max: Duration::from_secs(60),
};
/// A year is what HSTS preload lists ask for; less than a day protects little.
const HSTS_MAX_AGE: DurationSetting = DurationSetting {
    name: "HSTS_MAX_AGE",
    example: "1y",
    min: Duration::from_secs(24 * 60 * 60),
    max: Duration::from_secs(2 * 366 * 24 * 60 * 60),
};
const JWT_LEEWAY: DurationSetting = DurationSetting {
    name: "JWT_LEEWAY",
    example: "5s",
    min: Duration::ZERO,
    max: Duration::from_secs(5 * 60),
};
/// About 40 MB of remembered claims at the most.
const MAX_TOKEN_CACHE_SIZE: usize = 100_000;

impl DurationSetting {
    /// The value, or `default` when unset; within `min..=max.min(at_most)`.
    fn parse(
        &self,
        value: Option<&str>,
        default: Duration,
        at_most: Duration,
    ) -> Result<Duration, ConfigError> {
        let Some(text) = value else {
            return Ok(default);
        };
        let duration = humantime::parse_duration(text).map_err(|_| ConfigError::NotADuration {
            name: self.name,
            value: text.to_owned(),
            example: self.example,
        })?;
        let max = self.max.min(at_most);
        if duration < self.min || duration > max {
            return Err(ConfigError::DurationOutOfRange {
                name: self.name,
                value: text.to_owned(),
                example: self.example,
                min: self.min,
                max,
            });
        }
        Ok(duration)
    }
}

/// A variable's value, trimmed; `None` when unset or empty.
fn set(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl Config {
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let (issuer, source) = tenant(
            set(&self.auth0_domain),
            set(&self.auth0_issuer),
            set(&self.jwks_url),
        )?;
        let audience = set(&self.auth0_audience).ok_or(ConfigError::NoAudience)?;
        let addr = set(&self.api_addr).unwrap_or("127.0.0.1:3001");
        let jwks = self.jwks_settings(source)?;
        let (login_flow, refresh_tokens) = self.login()?;
        Ok(Settings {
            addr: addr
                .parse()
                .map_err(|_| ConfigError::BadAddr(addr.to_owned()))?,
            allowed_origins: parse_origins(
                set(&self.allowed_origins).unwrap_or("http://localhost:3000"),
            )?,
            client_id: set(&self.auth0_client_id).map(str::to_owned),
            spa_dir: set(&self.spa_dir).map(spa_dir).transpose()?,
            session_storage: self.session_storage(refresh_tokens)?,
            login_flow,
            refresh_tokens,
            validation: self.validation_settings(issuer, audience)?,
            hsts: self.hsts()?,
            limits: ServerLimits {
                request_timeout: jwks.fetch_timeout + Duration::from_secs(5),
                ..ServerLimits::default()
            },
            jwks,
        })
    }

    /// The SPA's login flow, and whether it renews with refresh tokens (code flow only).
    fn login(&self) -> Result<(LoginFlow, bool), ConfigError> {
        let flow = match set(&self.spa_login_flow) {
            Some(text) => text
                .parse()
                .map_err(|_| ConfigError::BadLoginFlow(text.to_owned()))?,
            None => LoginFlow::default(),
        };
        let refresh_tokens = match set(&self.spa_refresh_tokens) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => return Err(ConfigError::BadRefreshTokens(other.to_owned())),
        };
        match (flow, refresh_tokens) {
            (LoginFlow::Implicit, true) => Err(ConfigError::RefreshTokensNeedCode),
            _ => Ok((flow, refresh_tokens)),
        }
    }

    /// Where the SPA keeps the session: as set, else sessionStorage, or memory when it holds
    /// a refresh token (a long-lived credential no later script should find).
    fn session_storage(&self, refresh_tokens: bool) -> Result<SessionStorage, ConfigError> {
        match set(&self.spa_session_storage) {
            Some(text) => text
                .parse()
                .map_err(|_| ConfigError::BadSessionStorage(text.to_owned())),
            None if refresh_tokens => Ok(SessionStorage::Memory),
            None => Ok(SessionStorage::default()),
        }
    }

    fn hsts(&self) -> Result<Option<HeaderValue>, ConfigError> {
        let Some(text) = set(&self.hsts_max_age) else {
            return Ok(None);
        };
        let max_age = HSTS_MAX_AGE.parse(Some(text), Duration::ZERO, Duration::MAX)?;
        let value = format!("max-age={}", max_age.as_secs());
        Ok(Some(
            HeaderValue::from_str(&value).expect("digits are a header value"),
        ))
    }

    fn jwks_settings(&self, source: KeySource) -> Result<JwksSettings, ConfigError> {
        let defaults = JwksSettings::new(source);
        let max_age =
            JWKS_MAX_AGE.parse(set(&self.jwks_max_age), defaults.max_age, Duration::MAX)?;
        Ok(JwksSettings {
            max_age,
            refetch_cooldown: JWKS_REFETCH_COOLDOWN.parse(
                set(&self.jwks_refetch_cooldown),
                defaults.refetch_cooldown.min(max_age),
                max_age,
            )?,
            fetch_timeout: JWKS_FETCH_TIMEOUT.parse(
                set(&self.jwks_fetch_timeout),
                defaults.fetch_timeout,
                Duration::MAX,
            )?,
            ..defaults
        })
    }

    fn validation_settings(
        &self,
        issuer: String,
        audience: &str,
    ) -> Result<ValidationSettings, ConfigError> {
        let defaults = ValidationSettings::new(issuer, audience);
        let cache_size = match set(&self.token_cache_size) {
            Some(text) => text
                .parse()
                .ok()
                .filter(|size| *size <= MAX_TOKEN_CACHE_SIZE)
                .ok_or_else(|| ConfigError::BadCacheSize(text.to_owned()))?,
            None => defaults.cache_size,
        };
        Ok(ValidationSettings {
            leeway: JWT_LEEWAY.parse(set(&self.jwt_leeway), defaults.leeway, Duration::MAX)?,
            cache_size,
            ..defaults
        })
    }
}

/// The issuer tokens must carry, and where its keys are: from `AUTH0_DOMAIN` (Auth0's own
/// `https://{domain}/` and `/.well-known/jwks.json`) or `AUTH0_ISSUER` (kept exactly as written,
/// its keys found through OpenID discovery), with `JWKS_URL` overriding where the keys are.
pub fn tenant(
    domain: Option<&str>,
    issuer: Option<&str>,
    jwks_url: Option<&str>,
) -> Result<(String, KeySource), ConfigError> {
    let (issuer, source) = match (domain, issuer) {
        (Some(_), Some(_)) => return Err(ConfigError::BothTenants),
        (None, None) => return Err(ConfigError::NoTenant),
        (Some(domain), None) => {
            let issuer = issuer_from_domain(domain)?;
            let jwks = issuer.join(".well-known/jwks.json").expect("a path joins");
            (issuer.to_string(), KeySource::Jwks(jwks))
        }
        (None, Some(issuer)) => {
            let url = issuer_from_url(issuer)?;
            (issuer.to_owned(), KeySource::discovery(issuer, &url))
        }
    };
    let source = match jwks_url {
        Some(text) => KeySource::Jwks(jwks_url_from(text)?),
        None => source,
    };
    Ok((issuer, source))
}

fn issuer_from_domain(domain: &str) -> Result<Url, ConfigError> {
    // Accept what people paste from the dashboard: with `https://` and/or a trailing slash.
    let bare = domain.strip_prefix("https://").unwrap_or(domain);
    let bare = bare.strip_suffix('/').unwrap_or(bare);
    if bare.starts_with("http://") {
        return Err(ConfigError::HttpDomain(domain.to_owned()));
    }
    let bad = || ConfigError::BadDomain(domain.to_owned());
    if bare.is_empty() || bare.contains(['/', '?', '#', '@', ' ']) || bare.contains("://") {
        return Err(bad());
    }
    let url = Url::parse(&format!("https://{bare}/")).map_err(|_| bad())?;
    url.host_str().filter(|h| !h.is_empty()).ok_or_else(bad)?;
    Ok(url)
}

fn issuer_from_url(issuer: &str) -> Result<Url, ConfigError> {
    let bad = |why| ConfigError::BadIssuer {
        value: issuer.to_owned(),
        why,
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
    https_unless_loopback("AUTH0_ISSUER", issuer, &url)?;
    Ok(url)
}

fn jwks_url_from(text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text)
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http") && u.host_str().is_some())
        .ok_or_else(|| ConfigError::BadJwksUrl(text.to_owned()))?;
    https_unless_loopback("JWKS_URL", text, &url)?;
    Ok(url)
}

/// Keys fetched in clear text could be swapped by anyone on the way: http only on loopback,
/// where the development tenant runs.
fn https_unless_loopback(name: &'static str, text: &str, url: &Url) -> Result<(), ConfigError> {
    if is_safe_to_fetch(url) {
        Ok(())
    } else {
        Err(ConfigError::PlainHttp {
            name,
            value: text.to_owned(),
        })
    }
}

fn spa_dir(dir: &str) -> Result<PathBuf, ConfigError> {
    let path = PathBuf::from(dir);
    if path.join("index.html").is_file() {
        Ok(path)
    } else {
        Err(ConfigError::NoSpaIndex(dir.to_owned()))
    }
}

fn parse_origins(raw: &str) -> Result<Vec<HeaderValue>, ConfigError> {
    let mut origins = Vec::new();
    for origin in raw.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let bad = |why| ConfigError::BadOrigin {
            origin: origin.to_owned(),
            why,
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
        return Err(ConfigError::NoOrigins);
    }
    Ok(origins)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConfigError::*;

    fn config(args: &[&str]) -> Config {
        Config::try_parse_from(std::iter::once("api").chain(args.iter().copied())).unwrap()
    }

    fn error_of(args: &[&str]) -> ConfigError {
        config(args).settings().unwrap_err()
    }

    const DOMAIN: [&str; 4] = ["--auth0-domain", "a.auth0.com", "--auth0-audience", "x"];

    fn with<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = DOMAIN.to_vec();
        args.extend(extra);
        args
    }

    #[test]
    fn domain_becomes_auth0s_https_issuer_whatever_the_user_pasted() {
        for domain in [
            "example.us.auth0.com",
            "https://example.us.auth0.com",
            "https://example.us.auth0.com/",
            "example.us.auth0.com/",
        ] {
            let (issuer, keys) = tenant(Some(domain), None, None).unwrap();
            assert_eq!(issuer, "https://example.us.auth0.com/", "{domain}");
            assert_eq!(
                keys,
                KeySource::Jwks(
                    Url::parse("https://example.us.auth0.com/.well-known/jwks.json").unwrap()
                )
            );
        }
    }

    #[test]
    fn domain_with_http_or_a_path_is_refused() {
        assert_eq!(
            tenant(Some("http://example.auth0.com"), None, None),
            Err(HttpDomain("http://example.auth0.com".into()))
        );
        for domain in ["example.auth0.com/api", "ftp://x", "a b", "https://"] {
            assert_eq!(
                tenant(Some(domain), None, None),
                Err(BadDomain(domain.into())),
                "{domain}"
            );
        }
    }

    #[test]
    fn issuer_is_compared_as_written_and_its_keys_found_by_discovery() {
        for issuer in [
            "http://127.0.0.1:4010",
            "http://127.0.0.1:4010/",
            "https://id.example.com/t",
        ] {
            let (kept, keys) = tenant(None, Some(issuer), None).unwrap();
            assert_eq!(kept, issuer);
            assert!(matches!(keys, KeySource::Discovery { .. }), "{issuer}");
        }
        let jwks = "https://keys.example.com/jwks";
        let (_, keys) = tenant(None, Some("https://id.example.com/"), Some(jwks)).unwrap();
        assert_eq!(keys, KeySource::Jwks(Url::parse(jwks).unwrap()));
    }

    #[test]
    fn issuer_must_be_an_https_url_or_http_on_loopback() {
        for bad in ["not a url", "ftp://x/", "https://x/?a=b", "file:///etc/"] {
            assert!(
                matches!(tenant(None, Some(bad), None), Err(BadIssuer { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            tenant(None, Some("http://id.example.com/"), None),
            Err(PlainHttp {
                name: "AUTH0_ISSUER",
                value: "http://id.example.com/".into()
            })
        );
        for loopback in [
            "http://127.0.0.1:4010/",
            "http://localhost:4010/",
            "http://[::1]:4010/",
        ] {
            assert!(tenant(None, Some(loopback), None).is_ok(), "{loopback}");
        }
        let plain = tenant(
            None,
            Some("https://id.example.com/"),
            Some("http://keys.example.com/"),
        );
        assert!(matches!(
            plain,
            Err(PlainHttp {
                name: "JWKS_URL",
                ..
            })
        ));
        assert_eq!(
            tenant(None, Some("https://id.example.com/"), Some("keys")),
            Err(BadJwksUrl("keys".into()))
        );
    }

    #[test]
    fn both_or_neither_tenant_setting_is_an_error() {
        assert_eq!(
            tenant(Some("a.auth0.com"), Some("https://a.auth0.com/"), None),
            Err(BothTenants)
        );
        assert_eq!(tenant(None, None, None), Err(NoTenant));
        assert_eq!(error_of(&["--auth0-domain", "a.auth0.com"]), NoAudience);
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let settings = config(&DOMAIN).settings().unwrap();
        assert_eq!(settings.addr.to_string(), "127.0.0.1:3001");
        assert_eq!(settings.allowed_origins, ["http://localhost:3000"]);
        assert_eq!(settings.session_storage, SessionStorage::Session);
        assert_eq!(settings.spa_dir, None);
        assert_eq!(settings.client_id, None);
        assert_eq!(settings.jwks.max_age, Duration::from_secs(600));
        assert_eq!(settings.jwks.refetch_cooldown, Duration::from_secs(10));
        assert_eq!(settings.jwks.fetch_timeout, Duration::from_secs(5));
        assert_eq!(settings.validation.leeway, Duration::from_secs(5));
        assert_eq!(settings.validation.cache_size, 10_000);
        assert_eq!(settings.hsts, None);
        assert_eq!(settings.limits.request_timeout, Duration::from_secs(10));
    }

    #[test]
    fn hsts_is_sent_only_when_asked_for() {
        let settings = config(&with(&["--hsts-max-age", "1y"])).settings().unwrap();
        assert_eq!(settings.hsts.unwrap(), "max-age=31557600");
        assert!(matches!(
            error_of(&with(&["--hsts-max-age", "5m"])),
            DurationOutOfRange {
                name: "HSTS_MAX_AGE",
                ..
            }
        ));
    }

    #[test]
    fn an_empty_value_is_unset_for_every_variable() {
        let empty: Vec<&str> = [
            "--api-addr",
            "--allowed-origins",
            "--spa-dir",
            "--spa-session-storage",
            "--spa-login-flow",
            "--spa-refresh-tokens",
            "--jwks-max-age",
            "--jwks-refetch-cooldown",
            "--jwks-fetch-timeout",
            "--jwt-leeway",
            "--token-cache-size",
            "--auth0-client-id",
            "--jwks-url",
            "--hsts-max-age",
        ]
        .into_iter()
        .flat_map(|flag| [flag, " "])
        .collect();
        let settings = config(&with(&empty)).settings().unwrap();
        assert_eq!(settings.addr.to_string(), "127.0.0.1:3001");
        assert_eq!(settings.spa_dir, None);
        assert_eq!(settings.client_id, None);
        assert_eq!(settings.validation.cache_size, 10_000);
        assert_eq!(
            error_of(&["--auth0-domain", "", "--auth0-audience", "x"]),
            NoTenant
        );
        assert_eq!(
            error_of(&["--auth0-domain", "a.auth0.com", "--auth0-audience", " "]),
            NoAudience
        );
    }

    #[test]
    fn spa_settings_need_a_client_id_and_name_the_domain() {
        let base = [
            "--auth0-issuer",
            "http://127.0.0.1:4010",
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
        assert_eq!(spa.issuer, "http://127.0.0.1:4010", "as written");
        assert_eq!(spa.client_id, "abc");
        assert_eq!(spa.scope, "openid profile read:messages");
    }

    #[test]
    fn origins_are_canonical_and_never_a_wildcard() {
        let ok = parse_origins("http://localhost:3000/, https://app.example.com").unwrap();
        assert_eq!(ok, ["http://localhost:3000", "https://app.example.com"]);
        for bad in ["*", "localhost:3000", "http://localhost:3000/app"] {
            assert!(
                matches!(parse_origins(bad), Err(BadOrigin { .. })),
                "{bad:?}"
            );
        }
        assert_eq!(parse_origins(" , "), Err(NoOrigins));
    }

    #[test]
    fn values_are_checked() {
        let error = |flag: &str, value: &str| error_of(&with(&[flag, value]));
        assert!(matches!(
            error("--jwt-leeway", "soon"),
            NotADuration {
                name: "JWT_LEEWAY",
                ..
            }
        ));
        assert!(matches!(
            error("--jwks-fetch-timeout", "2h"),
            DurationOutOfRange {
                name: "JWKS_FETCH_TIMEOUT",
                ..
            }
        ));
        assert!(matches!(
            error("--jwks-refetch-cooldown", "1h"),
            DurationOutOfRange {
                name: "JWKS_REFETCH_COOLDOWN",
                ..
            }
        ));
        assert!(matches!(
            error("--jwks-refetch-cooldown", "0s"),
            DurationOutOfRange {
                name: "JWKS_REFETCH_COOLDOWN",
                ..
            }
        ));
        assert_eq!(
            error("--api-addr", "localhost"),
            BadAddr("localhost".into())
        );
        assert_eq!(
            error("--token-cache-size", "1000000"),
            BadCacheSize("1000000".into())
        );
        assert_eq!(
            error("--token-cache-size", "many"),
            BadCacheSize("many".into())
        );
        assert_eq!(
            error("--spa-session-storage", "cookie"),
            BadSessionStorage("cookie".into())
        );
        assert_eq!(
            error("--spa-dir", "/nonexistent"),
            NoSpaIndex("/nonexistent".into())
        );
        assert_eq!(
            error("--spa-login-flow", "hybrid"),
            BadLoginFlow("hybrid".into())
        );
        assert_eq!(
            error("--spa-refresh-tokens", "yes"),
            BadRefreshTokens("yes".into())
        );
        assert_eq!(error("--spa-refresh-tokens", "true"), RefreshTokensNeedCode);
    }

    #[test]
    fn the_login_flow_is_implicit_unless_set_and_refresh_tokens_live_in_memory() {
        let settings = config(&with(&[])).settings().unwrap();
        assert_eq!(settings.login_flow, LoginFlow::Implicit);
        assert!(!settings.refresh_tokens);
        let code = ["--spa-login-flow", "code", "--spa-refresh-tokens", "true"];
        let settings = config(&with(&code)).settings().unwrap();
        assert_eq!(settings.login_flow, LoginFlow::Code);
        assert!(settings.refresh_tokens);
        assert_eq!(settings.session_storage, SessionStorage::Memory);
        let local = [
            &code[..],
            &["--spa-session-storage", "local", "--auth0-client-id", "spa"],
        ]
        .concat();
        let settings = config(&with(&local)).settings().unwrap();
        assert_eq!(settings.session_storage, SessionStorage::Local);
        let auth_config = settings.auth_config().unwrap();
        assert_eq!(auth_config.login_flow, LoginFlow::Code);
        assert!(auth_config.refresh_tokens);
    }

    /// Every sentence of a configuration mistake, pinned here; the other tests match variants.
    #[test]
    fn every_mistake_reads_as_written() {
        let min = Duration::from_secs(1);
        let max = Duration::from_secs(600);
        let cases = [
            (
                NoTenant,
                "no tenant configured: set AUTH0_DOMAIN to your Auth0 domain (e.g. AUTH0_DOMAIN=example.us.auth0.com) or AUTH0_ISSUER to an issuer URL (e.g. AUTH0_ISSUER=http://127.0.0.1:4010/)",
            ),
            (
                BothTenants,
                "AUTH0_DOMAIN and AUTH0_ISSUER are both set: set only one, e.g. AUTH0_DOMAIN=example.us.auth0.com",
            ),
            (
                HttpDomain("http://a".into()),
                "AUTH0_DOMAIN=\"http://a\" uses http://, but Auth0 tenants are served over https: set AUTH0_DOMAIN=example.us.auth0.com, or AUTH0_ISSUER for a local http issuer",
            ),
            (
                BadDomain("a/b".into()),
                "AUTH0_DOMAIN=\"a/b\" is not a domain: set the bare domain, e.g. AUTH0_DOMAIN=example.us.auth0.com",
            ),
            (
                BadIssuer {
                    value: "x".into(),
                    why: "is not a URL",
                },
                "AUTH0_ISSUER=\"x\" is not a URL: set the issuer URL exactly as it appears in the tokens' `iss`, e.g. AUTH0_ISSUER=https://example.us.auth0.com/",
            ),
            (
                PlainHttp {
                    name: "AUTH0_ISSUER",
                    value: "http://a/".into(),
                },
                "AUTH0_ISSUER=\"http://a/\" uses http:// for a host other than this machine, so the keys would travel unprotected: use https://, or http:// only on 127.0.0.1 or localhost, e.g. AUTH0_ISSUER=https://id.example.com/",
            ),
            (
                BadJwksUrl("k".into()),
                "JWKS_URL=\"k\" is not an http(s) URL: set the URL of the tenant's key set, e.g. JWKS_URL=https://id.example.com/jwks",
            ),
            (
                NoAudience,
                "AUTH0_AUDIENCE is not set: set it to your API's identifier in Auth0, e.g. AUTH0_AUDIENCE=https://quickstarts/api",
            ),
            (
                BadAddr("x".into()),
                "API_ADDR=\"x\" is not an address to listen on: use IP:PORT, e.g. API_ADDR=127.0.0.1:3001",
            ),
            (
                BadOrigin {
                    origin: "*".into(),
                    why: "is not a URL",
                },
                "ALLOWED_ORIGINS has \"*\", which is not a URL: list origins as scheme://host[:port], comma-separated, e.g. ALLOWED_ORIGINS=http://localhost:3000,https://app.example.com",
            ),
            (
                NoOrigins,
                "ALLOWED_ORIGINS lists no origin: list the origins of your SPA, e.g. ALLOWED_ORIGINS=http://localhost:3000",
            ),
            (
                NotADuration {
                    name: "JWT_LEEWAY",
                    value: "soon".into(),
                    example: "5s",
                },
                "JWT_LEEWAY=\"soon\" is not a duration: write it like JWT_LEEWAY=5s (units: ms, s, m, h)",
            ),
            (
                DurationOutOfRange {
                    name: "JWKS_MAX_AGE",
                    value: "0s".into(),
                    example: "10m",
                    min,
                    max,
                },
                "JWKS_MAX_AGE=\"0s\" is out of range: use between 1s and 10m, e.g. JWKS_MAX_AGE=10m",
            ),
            (
                BadSessionStorage("c".into()),
                "SPA_SESSION_STORAGE=\"c\" is not one of session, local, memory: e.g. SPA_SESSION_STORAGE=session",
            ),
            (
                BadLoginFlow("x".into()),
                "SPA_LOGIN_FLOW=\"x\" is not one of implicit, code: e.g. SPA_LOGIN_FLOW=code",
            ),
            (
                BadRefreshTokens("x".into()),
                "SPA_REFRESH_TOKENS=\"x\" is not true or false: e.g. SPA_REFRESH_TOKENS=true",
            ),
            (
                RefreshTokensNeedCode,
                "SPA_REFRESH_TOKENS=true needs the code flow (refresh tokens are never given to the implicit flow): set SPA_LOGIN_FLOW=code",
            ),
            (
                NoSpaIndex("d".into()),
                "SPA_DIR=d has no index.html: build the SPA first (trunk build --release) and point SPA_DIR at its dist folder, e.g. SPA_DIR=dist",
            ),
            (
                BadCacheSize("9".into()),
                "TOKEN_CACHE_SIZE=\"9\" is out of range: use a number up to 100000 (0 turns the cache off), e.g. TOKEN_CACHE_SIZE=10000",
            ),
        ];
        for (error, sentence) in cases {
            assert_eq!(error.to_string(), sentence);
        }
    }
}
