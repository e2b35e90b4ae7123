//! Which tenant the API trusts: from `AUTH0_DOMAIN` (Auth0) or `AUTH0_ISSUER` (any OpenID
//! provider), with `JWKS_URL` overriding where its keys are; or, with none of them, in a debug
//! build on this machine, the development tenant started in-process ([`Build`],
//! [`Config::development_tenant`]).

use std::net::SocketAddr;

use url::Url;

use super::values::set;
use super::{Config, ConfigError, DEFAULT_ADDR};
use crate::auth::{KeySource, is_safe_to_fetch};

/// Where `cargo run -p api` starts the development tenant: the address `cargo xtask run` gives
/// it too, whose issuer (`http://localhost:4010/`) the built-in SPA application and the
/// browser's same-site rules are set up for.
pub const DEV_TENANT_ADDR: &str = "127.0.0.1:4010";

/// What this binary was built as, for the development tenant's rails: only a debug build with
/// the `devtenant` feature (the default) may start one. A release build never does; the
/// deployable build (`--no-default-features`) does not even contain it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Build {
    pub debug: bool,
    pub with_dev_tenant: bool,
}

impl Build {
    /// This binary.
    pub const CURRENT: Build = Build {
        debug: cfg!(debug_assertions),
        with_dev_tenant: cfg!(feature = "devtenant"),
    };
}

impl Config {
    /// Where to start the development tenant for this configuration, if at all: only with no
    /// tenant setting whatsoever (`AUTH0_DOMAIN`, `AUTH0_ISSUER`, `JWKS_URL`, `AUTH0_AUDIENCE`,
    /// `AUTH0_CLIENT_ID`), unless `DEVTENANT=off`, in a debug build that has it, and for an API
    /// that listens on this machine only. `None` leaves the decision to [`Config::settings`],
    /// which then names what to set.
    pub fn development_tenant(&self, build: Build) -> Result<Option<SocketAddr>, ConfigError> {
        let enabled = match set(&self.devtenant) {
            None | Some("auto") => true,
            Some("off") => false,
            Some(other) => return Err(ConfigError::BadDevTenant(other.to_owned())),
        };
        let tenant_settings = [
            &self.auth0_domain,
            &self.auth0_issuer,
            &self.jwks_url,
            &self.auth0_audience,
            &self.auth0_client_id,
        ];
        if tenant_settings.into_iter().any(|s| set(s).is_some())
            || !enabled
            || !build.debug
            || !build.with_dev_tenant
        {
            return Ok(None);
        }
        let addr = set(&self.api_addr).unwrap_or(DEFAULT_ADDR);
        let api: SocketAddr = addr
            .parse()
            .map_err(|_| ConfigError::BadAddr(addr.to_owned()))?;
        if !api.ip().is_loopback() {
            return Err(ConfigError::DevTenantNeedsLoopback(addr.to_owned()));
        }
        let listen = set(&self.devtenant_listen).unwrap_or(DEV_TENANT_ADDR);
        match listen.parse::<SocketAddr>() {
            Ok(listen) if listen.ip().is_loopback() => Ok(Some(listen)),
            _ => Err(ConfigError::BadDevTenantListen(listen.to_owned())),
        }
    }
}

/// The issuer tokens must carry, and where its keys are: from `AUTH0_DOMAIN` (Auth0's own
/// `https://{domain}/` and `/.well-known/jwks.json`) or `AUTH0_ISSUER` (kept exactly as written,
/// its keys and endpoints found through OpenID discovery), with `JWKS_URL` overriding where
/// the keys are (the endpoints still come from discovery).
pub(super) fn tenant(
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
    let source = match (jwks_url.map(jwks_url_from).transpose()?, source) {
        (
            Some(jwks),
            KeySource::Discovery {
                document, issuer, ..
            },
        ) => KeySource::Discovery {
            document,
            issuer,
            jwks: Some(jwks),
        },
        (Some(jwks), KeySource::Jwks(_)) => KeySource::Jwks(jwks),
        (None, source) => source,
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use ConfigError::*;

    fn config(args: &[&str]) -> Config {
        Config::try_parse_from(std::iter::once("api").chain(args.iter().copied())).unwrap()
    }

    const DEBUG: Build = Build {
        debug: true,
        with_dev_tenant: true,
    };

    #[test]
    fn with_nothing_configured_a_debug_build_starts_the_development_tenant_on_4010() {
        let listen = config(&[]).development_tenant(DEBUG).unwrap();
        assert_eq!(listen, Some("127.0.0.1:4010".parse().unwrap()));
        let elsewhere = config(&["--devtenant-listen", "127.0.0.1:0", "--api-addr", "[::1]:0"]);
        assert_eq!(
            elsewhere.development_tenant(DEBUG).unwrap(),
            Some("127.0.0.1:0".parse().unwrap())
        );
        assert_eq!(
            config(&["--devtenant", "auto"]).development_tenant(DEBUG),
            Ok(Some("127.0.0.1:4010".parse().unwrap()))
        );
    }

    #[test]
    fn release_and_deployable_builds_never_start_it() {
        for build in [
            Build {
                debug: false,
                with_dev_tenant: true,
            },
            Build {
                debug: true,
                with_dev_tenant: false,
            },
        ] {
            assert_eq!(config(&[]).development_tenant(build), Ok(None), "{build:?}");
            // And the configuration then says what to set, as it always has.
            assert_eq!(config(&[]).settings().unwrap_err(), NoTenant);
        }
    }

    #[test]
    fn any_tenant_setting_or_devtenant_off_turns_it_off() {
        for setting in [
            "--auth0-domain",
            "--auth0-issuer",
            "--jwks-url",
            "--auth0-audience",
            "--auth0-client-id",
        ] {
            let config = config(&[setting, "https://id.example.com/"]);
            assert_eq!(config.development_tenant(DEBUG), Ok(None), "{setting}");
        }
        // Blank counts as unset, as for every variable.
        let blank = config(&["--auth0-domain", " "]);
        assert!(blank.development_tenant(DEBUG).unwrap().is_some());
        let off = config(&["--devtenant", "off"]);
        assert_eq!(off.development_tenant(DEBUG), Ok(None));
        assert_eq!(
            config(&["--devtenant", "yes"]).development_tenant(DEBUG),
            Err(BadDevTenant("yes".into()))
        );
    }

    #[test]
    fn it_is_refused_for_an_api_that_listens_beyond_this_machine() {
        for addr in ["0.0.0.0:3001", "192.168.1.2:3001", "[::]:3001"] {
            assert_eq!(
                config(&["--api-addr", addr]).development_tenant(DEBUG),
                Err(DevTenantNeedsLoopback(addr.into())),
                "{addr}"
            );
        }
        assert_eq!(
            config(&["--devtenant-listen", "0.0.0.0:4010"]).development_tenant(DEBUG),
            Err(BadDevTenantListen("0.0.0.0:4010".into()))
        );
        assert_eq!(
            config(&["--api-addr", "here"]).development_tenant(DEBUG),
            Err(BadAddr("here".into()))
        );
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
        let KeySource::Discovery {
            jwks: Some(elsewhere),
            ..
        } = keys
        else {
            panic!("the endpoints still come from discovery: {keys:?}")
        };
        assert_eq!(elsewhere, Url::parse(jwks).unwrap());
        let (_, keys) = tenant(Some("a.auth0.com"), None, Some(jwks)).unwrap();
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
        let no_audience = config(&["--auth0-domain", "a.auth0.com"]).settings();
        assert_eq!(no_audience.unwrap_err(), NoAudience);
    }
}
