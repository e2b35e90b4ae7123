//! The API's configuration: one `clap` struct, every field a flag and an environment variable
//! (a `.env` file is loaded first by `main`), checked once at startup into [`Settings`].
//!
//! Every value is read as text and parsed here, not by clap, so that every mistake ends in
//! one line naming the variable and an example ([`ConfigError`]); an empty value counts as
//! unset, for every variable alike. The defaults live with the types they configure
//! ([`JwksSettings::new`], [`ValidationSettings::new`]).
//!
//! - `tenant`: which tenant the API trusts, or the development tenant's rails;
//! - `values`: the parsers (text, durations, origins, the SPA's folder);
//! - `error`: every mistake as a [`ConfigError`], its sentences pinned in one test.

mod dpop;
mod error;
mod tenant;
mod values;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::http::HeaderValue;
use clap::Parser;
use shared::{LoginFlow, Provider, SessionStorage};

use crate::auth::{DpopSettings, JwksSettings, KeySource, ValidationSettings};
use crate::server::ServerLimits;

pub use error::ConfigError;
use tenant::tenant;
pub use tenant::{Build, DEV_TENANT_ADDR};
use values::{
    HSTS_MAX_AGE, JWKS_FETCH_TIMEOUT, JWKS_MAX_AGE, JWKS_REFETCH_COOLDOWN, JWT_LEEWAY,
    MAX_TOKEN_CACHE_SIZE, parse_origins, set, spa_dir,
};

/// Where the API listens unless `API_ADDR` says otherwise: where `trunk serve` proxies to.
const DEFAULT_ADDR: &str = "127.0.0.1:3001";

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

    /// `true`: with the code flow, the SPA binds its tokens to a key it holds (DPoP, RFC 9449)
    /// and proves it with every call. Defaults to false.
    #[arg(long, env = "SPA_DPOP")]
    pub spa_dpop: Option<String>,

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

    /// The log's format: `text` (the default, for a terminal) or `json` (one object per line,
    /// for a log collector).
    #[arg(long, env = "LOG_FORMAT")]
    pub log_format: Option<String>,

    /// Serve Prometheus metrics at `/metrics` on this address, e.g. `0.0.0.0:9100`: never the
    /// API's own port. Unset (the default): no metrics are kept.
    #[arg(long, env = "METRICS_ADDR")]
    pub metrics_addr: Option<String>,

    /// Which access tokens the API takes: `allowed` (the default: bearer tokens, and
    /// DPoP-bound tokens with their proof), `required` (DPoP-bound only) or `disabled` (bearer
    /// only). A DPoP-bound token is never taken as a bearer token.
    #[arg(long, env = "DPOP")]
    pub dpop: Option<String>,

    /// The URL(s) clients reach the API at, comma-separated, e.g. `https://api.example.com`:
    /// DPoP proofs name it (`htu`), and it is never taken from the request's `Host`. Unset: the
    /// API's own address when it listens on loopback (and the dev SPA's, localhost:3000).
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,

    /// How old a DPoP proof may be. Defaults to 60s.
    #[arg(long, env = "DPOP_PROOF_MAX_AGE")]
    pub dpop_proof_max_age: Option<String>,

    /// How many DPoP proofs are remembered against replay; when full, new proofs are refused
    /// (503) until the oldest expire, never an unexpired one forgotten. Defaults to 100000.
    #[arg(long, env = "DPOP_REPLAY_CACHE_SIZE")]
    pub dpop_replay_cache_size: Option<String>,

    /// `true`: every DPoP proof must carry the API's current nonce (`DPoP-Nonce`, RFC 9449
    /// §9), which it hands out with `use_dpop_nonce`. Defaults to false.
    #[arg(long, env = "DPOP_NONCE")]
    pub dpop_nonce: Option<String>,

    /// Debug builds only: with no tenant configured, `auto` (the default) starts the
    /// development tenant in this process, for `cargo run -p api`; `off` does not.
    #[arg(long, env = "DEVTENANT")]
    pub devtenant: Option<String>,

    /// Where that development tenant listens. Defaults to 127.0.0.1:4010 (its issuer is then
    /// http://localhost:4010/); loopback only.
    #[arg(long, env = "DEVTENANT_LISTEN")]
    pub devtenant_listen: Option<String>,

    /// Where that development tenant keeps its signing key. Defaults to the checkout's
    /// `.devtenant/`, which `cargo xtask run` uses too.
    #[arg(long, env = "DEVTENANT_DATA_DIR")]
    pub devtenant_data_dir: Option<String>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// For a person at a terminal.
    #[default]
    Text,
    /// One JSON object per line, for a log collector.
    Json,
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
    /// The SPA binds its tokens with DPoP.
    pub spa_dpop: bool,
    pub validation: ValidationSettings,
    pub jwks: JwksSettings,
    pub dpop: DpopSettings,
    /// `Strict-Transport-Security`, when served over https.
    pub hsts: Option<HeaderValue>,
    pub log_format: LogFormat,
    /// Where `/metrics` is served, if anywhere.
    pub metrics_addr: Option<SocketAddr>,
    /// Timeouts and bounds of the server; not settings a deployment tunes.
    pub limits: ServerLimits,
}

impl Settings {
    /// Whose conventions the tenant follows: Auth0's (`AUTH0_DOMAIN`) or OpenID's, found by
    /// discovery (`AUTH0_ISSUER`).
    pub fn provider(&self) -> Provider {
        match self.jwks.source {
            KeySource::Jwks(_) => Provider::Auth0,
            KeySource::Discovery { .. } => Provider::OpenId,
        }
    }
}

impl Config {
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let (issuer, source) = tenant(
            set(&self.auth0_domain),
            set(&self.auth0_issuer),
            set(&self.jwks_url),
        )?;
        let audience = set(&self.auth0_audience).ok_or(ConfigError::NoAudience)?;
        let addr = set(&self.api_addr).unwrap_or(DEFAULT_ADDR);
        let jwks = self.jwks_settings(source)?;
        let (login_flow, refresh_tokens) = self.login()?;
        let validation = self.validation_settings(issuer, audience)?;
        let dpop = self.dpop_settings(validation.leeway)?;
        let spa_dpop = self.spa_dpop(login_flow, dpop.mode)?;
        let addr: SocketAddr = addr
            .parse()
            .map_err(|_| ConfigError::BadAddr(addr.to_owned()))?;
        Ok(Settings {
            addr,
            log_format: self.log_format()?,
            metrics_addr: self.metrics_addr(addr)?,
            allowed_origins: parse_origins(
                set(&self.allowed_origins).unwrap_or("http://localhost:3000"),
            )?,
            client_id: set(&self.auth0_client_id).map(str::to_owned),
            spa_dir: set(&self.spa_dir).map(spa_dir).transpose()?,
            session_storage: self.session_storage(refresh_tokens)?,
            login_flow,
            refresh_tokens,
            spa_dpop,
            validation,
            dpop,
            hsts: self.hsts()?,
            limits: ServerLimits {
                request_timeout: jwks.fetch_timeout + Duration::from_secs(5),
                ..ServerLimits::default()
            },
            jwks,
        })
    }

    fn log_format(&self) -> Result<LogFormat, ConfigError> {
        match set(&self.log_format) {
            None | Some("text") => Ok(LogFormat::Text),
            Some("json") => Ok(LogFormat::Json),
            Some(other) => Err(ConfigError::BadLogFormat(other.to_owned())),
        }
    }

    /// Where `/metrics` goes: anywhere but the API's own address, whose port faces the world.
    fn metrics_addr(&self, api: SocketAddr) -> Result<Option<SocketAddr>, ConfigError> {
        let Some(text) = set(&self.metrics_addr) else {
            return Ok(None);
        };
        let addr: SocketAddr = text
            .parse()
            .map_err(|_| ConfigError::BadMetricsAddr(text.to_owned()))?;
        if addr.port() == api.port() && addr.port() != 0 {
            return Err(ConfigError::MetricsOnApiPort(text.to_owned()));
        }
        Ok(Some(addr))
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
        assert_eq!(settings.log_format, LogFormat::Text);
        assert_eq!(settings.metrics_addr, None);
        assert_eq!(settings.dpop.mode, crate::auth::DpopMode::Allowed);
        assert_eq!(settings.dpop.public_urls, None);
        assert_eq!(settings.dpop.max_age, Duration::from_secs(60));
        assert_eq!(settings.dpop.replay_capacity, 100_000);
        assert!(!settings.dpop.nonces);
    }

    #[test]
    fn dpop_settings_are_read_and_checked() {
        let settings = config(&with(&[
            "--dpop",
            "required",
            "--public-url",
            "https://api.example.com",
            "--dpop-proof-max-age",
            "30s",
            "--dpop-replay-cache-size",
            "5000",
            "--dpop-nonce",
            "true",
        ]))
        .settings()
        .unwrap();
        assert_eq!(settings.dpop.mode, crate::auth::DpopMode::Required);
        assert_eq!(
            settings.dpop.public_urls,
            Some(vec!["https://api.example.com".to_owned()])
        );
        assert_eq!(settings.dpop.max_age, Duration::from_secs(30));
        assert_eq!(settings.dpop.replay_capacity, 5000);
        assert!(settings.dpop.nonces);
        assert_eq!(error_of(&with(&["--dpop", "on"])), BadDpopMode("on".into()));
        assert_eq!(
            error_of(&with(&["--dpop-replay-cache-size", "0"])),
            BadReplayCacheSize("0".into())
        );
        assert_eq!(
            error_of(&with(&["--dpop-nonce", "1"])),
            BadDpopNonce("1".into())
        );
        assert_eq!(error_of(&with(&["--spa-dpop", "true"])), SpaDpopNeedsCode);
        let code = ["--spa-login-flow", "code", "--spa-dpop", "true"];
        assert!(config(&with(&code)).settings().unwrap().spa_dpop);
        let mut disabled = code.to_vec();
        disabled.extend(["--dpop", "disabled"]);
        assert_eq!(error_of(&with(&disabled)), SpaDpopButDisabled);
        assert_eq!(
            error_of(&with(&["--spa-dpop", "1"])),
            BadSpaDpop("1".into())
        );
        assert!(matches!(
            error_of(&with(&["--dpop-proof-max-age", "1h"])),
            DurationOutOfRange {
                name: "DPOP_PROOF_MAX_AGE",
                ..
            }
        ));
    }

    #[test]
    fn logs_may_be_json_and_metrics_never_share_the_apis_port() {
        let json = config(&with(&["--log-format", "json"])).settings().unwrap();
        assert_eq!(json.log_format, LogFormat::Json);
        assert_eq!(
            error_of(&with(&["--log-format", "yaml"])),
            BadLogFormat("yaml".into())
        );
        let on = config(&with(&["--metrics-addr", "0.0.0.0:9100"])).settings();
        assert_eq!(
            on.unwrap().metrics_addr,
            Some("0.0.0.0:9100".parse().unwrap())
        );
        assert_eq!(
            error_of(&with(&["--metrics-addr", "127.0.0.1:3001"])),
            MetricsOnApiPort("127.0.0.1:3001".into())
        );
        assert_eq!(
            error_of(&with(&["--metrics-addr", "9100"])),
            BadMetricsAddr("9100".into())
        );
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
            "--log-format",
            "--metrics-addr",
            "--dpop",
            "--public-url",
            "--dpop-proof-max-age",
            "--dpop-replay-cache-size",
            "--dpop-nonce",
            "--spa-dpop",
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
    fn a_domain_is_auth0_and_an_issuer_any_openid_provider() {
        assert_eq!(
            config(&DOMAIN).settings().unwrap().provider(),
            Provider::Auth0
        );
        let issuer = [
            "--auth0-issuer",
            "http://127.0.0.1:4010",
            "--auth0-audience",
            "x",
        ];
        assert_eq!(
            config(&issuer).settings().unwrap().provider(),
            Provider::OpenId
        );
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
    }
}
