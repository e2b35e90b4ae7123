//! Every configuration mistake the API can report, as [`ConfigError`]: one line, naming the
//! variable to set and an example, as `main` prints it. The sentences are pinned in this
//! file's test; the other tests match variants.

use std::time::Duration;

use super::dpop::MAX_REPLAY_CACHE_SIZE;
use super::values::MAX_TOKEN_CACHE_SIZE;

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
    #[error("LOG_FORMAT={0:?} is not one of text, json: e.g. LOG_FORMAT=json")]
    BadLogFormat(String),
    #[error(
        "METRICS_ADDR={0:?} is not an address to listen on: use IP:PORT, e.g. METRICS_ADDR=0.0.0.0:9100"
    )]
    BadMetricsAddr(String),
    #[error(
        "METRICS_ADDR={0:?} is the API's own port, which faces its clients: give metrics a port of their own, e.g. METRICS_ADDR=0.0.0.0:9100"
    )]
    MetricsOnApiPort(String),
    #[error(
        "DEVTENANT={0:?} is not one of auto, off: e.g. DEVTENANT=off to start the API only against a configured tenant"
    )]
    BadDevTenant(String),
    #[error(
        "DEVTENANT_LISTEN={0:?} is not an address on this machine: use 127.0.0.1:PORT, e.g. DEVTENANT_LISTEN=127.0.0.1:4010"
    )]
    BadDevTenantListen(String),
    #[error(
        "no tenant configured, and the development tenant is started only for an API that listens on this machine (API_ADDR={0}): set API_ADDR=127.0.0.1:3001, or a tenant, e.g. AUTH0_DOMAIN=example.us.auth0.com"
    )]
    DevTenantNeedsLoopback(String),
    #[error(
        "TOKEN_CACHE_SIZE={0:?} is out of range: use a number up to {MAX_TOKEN_CACHE_SIZE} (0 turns the cache off), e.g. TOKEN_CACHE_SIZE=10000"
    )]
    BadCacheSize(String),
    #[error("DPOP={0:?} is not one of allowed, required, disabled: e.g. DPOP=required")]
    BadDpopMode(String),
    #[error(
        "PUBLIC_URL={value:?} {why}: set the URL(s) clients reach the API at, comma-separated, e.g. PUBLIC_URL=https://api.example.com"
    )]
    BadPublicUrl { value: String, why: &'static str },
    #[error(
        "DPOP_REPLAY_CACHE_SIZE={0:?} is out of range: use a number from 1 to {MAX_REPLAY_CACHE_SIZE}, e.g. DPOP_REPLAY_CACHE_SIZE=100000"
    )]
    BadReplayCacheSize(String),
    #[error("DPOP_NONCE={0:?} is not true or false: e.g. DPOP_NONCE=true")]
    BadDpopNonce(String),
    #[error("SPA_DPOP={0:?} is not true or false: e.g. SPA_DPOP=true")]
    BadSpaDpop(String),
    #[error(
        "SPA_DPOP=true needs the code flow (the implicit flow's tokens come from the authorization endpoint, where no DPoP proof can be sent): set SPA_LOGIN_FLOW=code"
    )]
    SpaDpopNeedsCode,
    #[error(
        "SPA_DPOP=true, but the API refuses DPoP tokens (DPOP=disabled): set DPOP=allowed or DPOP=required"
    )]
    SpaDpopButDisabled,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConfigError::*;

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
            (
                BadDpopMode("on".into()),
                "DPOP=\"on\" is not one of allowed, required, disabled: e.g. DPOP=required",
            ),
            (
                BadPublicUrl {
                    value: "x".into(),
                    why: "is not a URL",
                },
                "PUBLIC_URL=\"x\" is not a URL: set the URL(s) clients reach the API at, comma-separated, e.g. PUBLIC_URL=https://api.example.com",
            ),
            (
                BadReplayCacheSize("0".into()),
                "DPOP_REPLAY_CACHE_SIZE=\"0\" is out of range: use a number from 1 to 1000000, e.g. DPOP_REPLAY_CACHE_SIZE=100000",
            ),
            (
                BadDpopNonce("yes".into()),
                "DPOP_NONCE=\"yes\" is not true or false: e.g. DPOP_NONCE=true",
            ),
            (
                BadSpaDpop("1".into()),
                "SPA_DPOP=\"1\" is not true or false: e.g. SPA_DPOP=true",
            ),
            (
                SpaDpopNeedsCode,
                "SPA_DPOP=true needs the code flow (the implicit flow's tokens come from the authorization endpoint, where no DPoP proof can be sent): set SPA_LOGIN_FLOW=code",
            ),
            (
                SpaDpopButDisabled,
                "SPA_DPOP=true, but the API refuses DPoP tokens (DPOP=disabled): set DPOP=allowed or DPOP=required",
            ),
            (
                BadLogFormat("x".into()),
                "LOG_FORMAT=\"x\" is not one of text, json: e.g. LOG_FORMAT=json",
            ),
            (
                BadMetricsAddr("x".into()),
                "METRICS_ADDR=\"x\" is not an address to listen on: use IP:PORT, e.g. METRICS_ADDR=0.0.0.0:9100",
            ),
            (
                MetricsOnApiPort("0.0.0.0:3001".into()),
                "METRICS_ADDR=\"0.0.0.0:3001\" is the API's own port, which faces its clients: give metrics a port of their own, e.g. METRICS_ADDR=0.0.0.0:9100",
            ),
            (
                BadDevTenant("on".into()),
                "DEVTENANT=\"on\" is not one of auto, off: e.g. DEVTENANT=off to start the API only against a configured tenant",
            ),
            (
                BadDevTenantListen("0.0.0.0:4010".into()),
                "DEVTENANT_LISTEN=\"0.0.0.0:4010\" is not an address on this machine: use 127.0.0.1:PORT, e.g. DEVTENANT_LISTEN=127.0.0.1:4010",
            ),
            (
                DevTenantNeedsLoopback("0.0.0.0:3001".into()),
                "no tenant configured, and the development tenant is started only for an API that listens on this machine (API_ADDR=0.0.0.0:3001): set API_ADDR=127.0.0.1:3001, or a tenant, e.g. AUTH0_DOMAIN=example.us.auth0.com",
            ),
        ];
        for (error, sentence) in cases {
            assert_eq!(error.to_string(), sentence);
        }
    }
}
