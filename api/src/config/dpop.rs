//! DPoP's settings: the mode (`DPOP`), where clients reach the API (`PUBLIC_URL`, for the
//! proofs' `htu`), how old a proof may be, how many proofs are remembered, and nonces.

use std::time::Duration;

use super::values::{DPOP_PROOF_MAX_AGE, set};
use super::{Config, ConfigError};
use shared::LoginFlow;

use crate::auth::{DpopMode, DpopSettings};

/// The most proofs remembered against replay: about 6 MB.
pub(super) const MAX_REPLAY_CACHE_SIZE: usize = 1_000_000;

impl Config {
    pub(super) fn dpop_settings(&self, leeway: Duration) -> Result<DpopSettings, ConfigError> {
        let defaults = DpopSettings::new();
        let mode = match set(&self.dpop) {
            Some(text) => text
                .parse()
                .map_err(|()| ConfigError::BadDpopMode(text.to_owned()))?,
            None => DpopMode::default(),
        };
        let replay_capacity = match set(&self.dpop_replay_cache_size) {
            Some(text) => text
                .parse()
                .ok()
                .filter(|size| (1..=MAX_REPLAY_CACHE_SIZE).contains(size))
                .ok_or_else(|| ConfigError::BadReplayCacheSize(text.to_owned()))?,
            None => defaults.replay_capacity,
        };
        let nonces = match set(&self.dpop_nonce) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => return Err(ConfigError::BadDpopNonce(other.to_owned())),
        };
        Ok(DpopSettings {
            mode,
            public_urls: set(&self.public_url).map(public_urls).transpose()?,
            max_age: DPOP_PROOF_MAX_AGE.parse(
                set(&self.dpop_proof_max_age),
                defaults.max_age,
                Duration::MAX,
            )?,
            leeway,
            replay_capacity,
            nonces,
        })
    }
}

impl Config {
    /// `SPA_DPOP`: only with the code flow (the implicit flow's tokens come from the
    /// authorization endpoint, where no proof can be sent), and only to an API that takes
    /// DPoP tokens.
    pub(super) fn spa_dpop(&self, flow: LoginFlow, mode: DpopMode) -> Result<bool, ConfigError> {
        let on = match set(&self.spa_dpop) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => return Err(ConfigError::BadSpaDpop(other.to_owned())),
        };
        match (on, flow, mode) {
            (true, LoginFlow::Implicit, _) => Err(ConfigError::SpaDpopNeedsCode),
            (true, _, DpopMode::Disabled) => Err(ConfigError::SpaDpopButDisabled),
            _ => Ok(on),
        }
    }
}

/// `PUBLIC_URL`: comma-separated base URLs, `scheme://host[:port][/prefix]`, normalised as a
/// proof's `htu` is (lower-case scheme and host, no default port), without a trailing slash.
fn public_urls(raw: &str) -> Result<Vec<String>, ConfigError> {
    let mut urls = Vec::new();
    for text in raw.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        let bad = |why| ConfigError::BadPublicUrl {
            value: text.to_owned(),
            why,
        };
        let url = url::Url::parse(text).map_err(|_| bad("is not a URL"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(bad("is not an http(s) URL"));
        }
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
            return Err(bad("has a query, a fragment or a user name"));
        }
        let normalised = shared::dpop::normalize_htu(text).ok_or_else(|| bad("is not a URL"))?;
        urls.push(normalised.trim_end_matches('/').to_owned());
    }
    match urls.is_empty() {
        true => Err(ConfigError::BadPublicUrl {
            value: raw.to_owned(),
            why: "lists no URL",
        }),
        false => Ok(urls),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_are_normalised_as_htu_is() {
        assert_eq!(
            public_urls("https://API.example.com:443/, http://localhost:3001").unwrap(),
            ["https://api.example.com", "http://localhost:3001"]
        );
        assert_eq!(
            public_urls("https://example.com/backend/").unwrap(),
            ["https://example.com/backend"]
        );
        for bad in [
            "api.example.com",
            "ftp://x",
            "https://x/?a=1",
            "https://u@x",
            " , ",
        ] {
            assert!(
                matches!(public_urls(bad), Err(ConfigError::BadPublicUrl { .. })),
                "{bad}"
            );
        }
    }
}
