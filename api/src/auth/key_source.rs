//! Where the tenant's keys come from, and one fetch of them: a fixed JWKS URL (Auth0's
//! `/.well-known/jwks.json`), or OpenID discovery from the issuer (its `jwks_uri`, or
//! `JWKS_URL` when set).
//!
//! A fetch follows no redirect, is capped in size, and parses the set key by key with the
//! shared rule ([`shared::jwt::JwkSet::rs256_keys`]). Discovery is done once and remembered
//! ([`ProviderMetadata`]); a failed key fetch forgets it, so a provider that moved its keys is
//! found again.

use std::fmt;
use std::sync::Arc;

use shared::jwt::{JwkSet, Rs256Key};
use url::Url;

use super::discovery::ProviderMetadata;

/// A JWKS or discovery document is a few kilobytes; anything far larger is not one.
const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

/// Where the key set is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// At this URL (Auth0's path under `AUTH0_DOMAIN`, or `JWKS_URL`).
    Jwks(Url),
    /// Found through this OpenID discovery document, whose `issuer` must be `issuer`: at its
    /// `jwks_uri`, or at `jwks` when given (`JWKS_URL`). The document's endpoints are what the
    /// SPA's login uses either way.
    Discovery {
        document: Url,
        issuer: String,
        jwks: Option<Url>,
    },
}

impl KeySource {
    /// OpenID Connect Discovery §4: `{issuer}/.well-known/openid-configuration`, any trailing
    /// `/` of the issuer removed first.
    pub fn discovery(issuer: &str, issuer_url: &Url) -> Self {
        let mut document = issuer_url.clone();
        let path = issuer_url.path().trim_end_matches('/');
        document.set_path(&format!("{path}/.well-known/openid-configuration"));
        KeySource::Discovery {
            document,
            issuer: issuer.to_owned(),
            jwks: None,
        }
    }
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Jwks(url)
            | KeySource::Discovery {
                jwks: Some(url), ..
            } => write!(f, "{url}"),
            KeySource::Discovery { document, .. } => write!(f, "the jwks_uri of {document}"),
        }
    }
}

/// Why a fetch of the keys failed, in a sentence for the operator (the log, `/readyz`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("{0} could not be reached: {1}")]
    Unreachable(Url, String),
    #[error("the keys did not come in time")]
    Timeout,
    #[error("{0} answered HTTP {1}")]
    Status(Url, u16),
    #[error("{0} answered more than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge(Url),
    #[error("{0} did not answer a JSON key set")]
    NotAKeySet(Url),
    #[error("the key set at {0} holds no RSA signing key usable for RS256")]
    NoUsableKeys(Url),
    #[error("{0} is not an OpenID discovery document with a jwks_uri")]
    NotADiscoveryDocument(Url),
    #[error(
        "the discovery document names the issuer {got:?}, not the configured {expected:?}: set AUTH0_ISSUER={got} (tokens carry it in iss exactly so)"
    )]
    IssuerMismatch { got: String, expected: String },
    #[error("the discovery document's jwks_uri {0:?} is not an https URL (http only on loopback)")]
    BadJwksUri(String),
    #[error("the discovery document's endpoint {0:?} is not an https URL (http only on loopback)")]
    BadEndpoint(String),
}

impl FetchError {
    /// Whether the tenant answered and the answer will not change by itself: a setting of the
    /// API's or the tenant's is wrong. Its sentence is then worth showing to a caller.
    pub fn is_definitive(&self) -> bool {
        match self {
            FetchError::Status(_, status) => (400..500).contains(status),
            FetchError::NotAKeySet(_)
            | FetchError::NoUsableKeys(_)
            | FetchError::NotADiscoveryDocument(_)
            | FetchError::IssuerMismatch { .. }
            | FetchError::BadJwksUri(_)
            | FetchError::BadEndpoint(_) => true,
            FetchError::Unreachable(..) | FetchError::Timeout | FetchError::TooLarge(_) => false,
        }
    }

    /// A stable name for the failure, as `/metrics` counts it.
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::Unreachable(..) => "unreachable",
            FetchError::Timeout => "timeout",
            FetchError::Status(..) => "status",
            FetchError::TooLarge(_) => "too_large",
            FetchError::NotAKeySet(_) => "not_a_key_set",
            FetchError::NoUsableKeys(_) => "no_usable_keys",
            FetchError::NotADiscoveryDocument(_) => "not_a_discovery_document",
            FetchError::IssuerMismatch { .. } => "issuer_mismatch",
            FetchError::BadJwksUri(_) => "bad_jwks_uri",
            FetchError::BadEndpoint(_) => "bad_endpoint",
        }
    }
}

/// Fetches with one HTTP client and remembers what discovery found.
pub struct KeyFetcher {
    source: KeySource,
    http: reqwest::Client,
}

impl KeyFetcher {
    pub fn new(source: KeySource, http: reqwest::Client) -> Self {
        Self { source, http }
    }

    /// A fetcher for `settings.source`, with its own HTTP client: no redirect followed, the
    /// settings' timeout, the API's name as user agent.
    pub fn for_settings(settings: &super::JwksSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(settings.fetch_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("quickstart-api/", env!("CARGO_PKG_VERSION")))
            .build()
            // Building a client only fails when the TLS backend cannot start, which is a
            // broken build, not a configuration a user can fix.
            .expect("the HTTP client for the JWKS cannot be built");
        Self::new(settings.source.clone(), http)
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// The usable keys, from the JWKS the source names. `discovered` is what an earlier
    /// discovery found, kept by the caller across fetches.
    pub async fn fetch(
        &self,
        discovered: &mut Option<Arc<ProviderMetadata>>,
    ) -> Result<Vec<Rs256Key>, FetchError> {
        let (url, found) = match &self.source {
            KeySource::Jwks(url) => (url.clone(), false),
            KeySource::Discovery { jwks, .. } => {
                let metadata = match discovered {
                    Some(metadata) => metadata.clone(),
                    None => discovered.insert(Arc::new(self.discover().await?)).clone(),
                };
                match jwks {
                    Some(url) => (url.clone(), false),
                    None => (metadata.jwks_url()?, true),
                }
            }
        };
        let keys = self.key_set(&url).await;
        if keys.is_err() && found {
            // The provider may have moved its keys: ask its document again next time.
            *discovered = None;
        }
        keys
    }

    /// The discovery document of an OpenID source, checked.
    pub async fn discover(&self) -> Result<ProviderMetadata, FetchError> {
        let KeySource::Discovery {
            document, issuer, ..
        } = &self.source
        else {
            return Err(FetchError::NotADiscoveryDocument(
                Url::parse("about:blank").expect("a valid URL"),
            ));
        };
        let metadata = ProviderMetadata::parse(&self.get(document).await?, document, issuer)?;
        tracing::info!(%document, jwks_uri = %metadata.jwks_uri, "read the provider's discovery document");
        Ok(metadata)
    }

    async fn key_set(&self, url: &Url) -> Result<Vec<Rs256Key>, FetchError> {
        let body = self.get(url).await?;
        let set: JwkSet =
            serde_json::from_slice(&body).map_err(|_| FetchError::NotAKeySet(url.clone()))?;
        let keys = set.rs256_keys();
        if keys.is_empty() {
            return Err(FetchError::NoUsableKeys(url.clone()));
        }
        Ok(keys)
    }

    /// A GET of JSON, capped at [`MAX_DOCUMENT_BYTES`].
    async fn get(&self, url: &Url) -> Result<Vec<u8>, FetchError> {
        let unreachable =
            |e: reqwest::Error| FetchError::Unreachable(url.clone(), e.without_url().to_string());
        let mut response = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(unreachable)?;
        if !response.status().is_success() {
            return Err(FetchError::Status(url.clone(), response.status().as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(FetchError::TooLarge(url.clone()));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// https, or http on loopback only: keys fetched in clear text could be swapped on the way.
pub fn is_safe_to_fetch(url: &Url) -> bool {
    let loopback = url.host_str().is_some_and(shared::oauth::is_loopback_host);
    url.host_str().is_some() && (url.scheme() == "https" || (url.scheme() == "http" && loopback))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stable names `/metrics` counts failed fetches by.
    #[test]
    fn each_failure_has_its_own_code() {
        let url = Url::parse("https://tenant.example/jwks").unwrap();
        let codes = [
            (
                FetchError::Unreachable(url.clone(), "refused".into()),
                "unreachable",
            ),
            (FetchError::Timeout, "timeout"),
            (FetchError::Status(url.clone(), 500), "status"),
            (FetchError::TooLarge(url.clone()), "too_large"),
            (FetchError::NotAKeySet(url.clone()), "not_a_key_set"),
            (FetchError::NoUsableKeys(url.clone()), "no_usable_keys"),
            (
                FetchError::NotADiscoveryDocument(url),
                "not_a_discovery_document",
            ),
            (
                FetchError::IssuerMismatch {
                    got: "a".into(),
                    expected: "b".into(),
                },
                "issuer_mismatch",
            ),
            (FetchError::BadJwksUri("x".into()), "bad_jwks_uri"),
            (FetchError::BadEndpoint("x".into()), "bad_endpoint"),
        ];
        for (error, code) in codes {
            assert_eq!(error.code(), code, "{error}");
        }
    }

    /// What the startup log and the fetch warnings say the keys come from.
    #[test]
    fn a_source_names_where_the_keys_are() {
        let jwks = Url::parse("https://tenant.example/.well-known/jwks.json").unwrap();
        assert_eq!(KeySource::Jwks(jwks.clone()).to_string(), jwks.as_str());
        let issuer = Url::parse("https://id.example.com/").unwrap();
        let discovery = KeySource::discovery("https://id.example.com/", &issuer);
        assert_eq!(
            discovery.to_string(),
            "the jwks_uri of https://id.example.com/.well-known/openid-configuration"
        );
        let KeySource::Discovery {
            document, issuer, ..
        } = discovery
        else {
            unreachable!()
        };
        let given = KeySource::Discovery {
            document,
            issuer,
            jwks: Some(jwks.clone()),
        };
        assert_eq!(given.to_string(), jwks.as_str());
    }

    #[test]
    fn discovery_is_at_the_issuer_with_or_without_a_trailing_slash() {
        for (issuer, document) in [
            (
                "http://127.0.0.1:4010",
                "http://127.0.0.1:4010/.well-known/openid-configuration",
            ),
            (
                "http://127.0.0.1:4010/",
                "http://127.0.0.1:4010/.well-known/openid-configuration",
            ),
            (
                "https://id.example.com/tenant/",
                "https://id.example.com/tenant/.well-known/openid-configuration",
            ),
        ] {
            let url = Url::parse(issuer).unwrap();
            let KeySource::Discovery {
                document: got,
                issuer: kept,
                ..
            } = KeySource::discovery(issuer, &url)
            else {
                panic!("a discovery source");
            };
            assert_eq!(got.as_str(), document);
            assert_eq!(kept, issuer, "the issuer is kept as written");
        }
    }

    #[test]
    fn keys_travel_over_https_or_loopback_http_only() {
        for (url, safe) in [
            ("https://id.example.com/jwks", true),
            ("http://127.0.0.1:4010/jwks", true),
            ("http://localhost:4010/jwks", true),
            ("http://[::1]:4010/jwks", true),
            ("http://id.example.com/jwks", false),
            ("http://127.0.0.1.nip.io/jwks", false),
            ("ftp://127.0.0.1/jwks", false),
        ] {
            assert_eq!(is_safe_to_fetch(&Url::parse(url).unwrap()), safe, "{url}");
        }
    }
}
