//! The parsers every setting goes through: a value as text (empty is unset), durations
//! within a range, origins, the SPA's folder.

use std::path::PathBuf;
use std::time::Duration;

use axum::http::HeaderValue;
use url::Url;

use super::ConfigError;

/// A duration setting: its variable, an example, and the range that makes sense.
pub(super) struct DurationSetting {
    name: &'static str,
    example: &'static str,
    min: Duration,
    max: Duration,
}

/// Past these bounds the API would trust stale keys for too long, call the tenant too often,
/// or wait on it for too long.
pub(super) const JWKS_MAX_AGE: DurationSetting = DurationSetting {
    name: "JWKS_MAX_AGE",
    example: "10m",
    min: Duration::from_secs(1),
    max: Duration::from_secs(24 * 60 * 60),
};
/// At most the max-age; at least a second, so made-up `kid`s cannot chain fetches.
pub(super) const JWKS_REFETCH_COOLDOWN: DurationSetting = DurationSetting {
    name: "JWKS_REFETCH_COOLDOWN",
    example: "10s",
    min: Duration::from_secs(1),
    max: Duration::from_secs(24 * 60 * 60),
};
pub(super) const JWKS_FETCH_TIMEOUT: DurationSetting = DurationSetting {
    name: "JWKS_FETCH_TIMEOUT",
    example: "5s",
    min: Duration::from_millis(1),
    max: Duration::from_secs(60),
};
/// A year is what HSTS preload lists ask for; less than a day protects little.
pub(super) const HSTS_MAX_AGE: DurationSetting = DurationSetting {
    name: "HSTS_MAX_AGE",
    example: "1y",
    min: Duration::from_secs(24 * 60 * 60),
    max: Duration::from_secs(2 * 366 * 24 * 60 * 60),
};
/// A proof's age: long enough for a slow network, short enough that a copied one is soon
/// useless (and the replay cache small).
pub(super) const DPOP_PROOF_MAX_AGE: DurationSetting = DurationSetting {
    name: "DPOP_PROOF_MAX_AGE",
    example: "60s",
    min: Duration::from_secs(1),
    max: Duration::from_secs(10 * 60),
};
pub(super) const JWT_LEEWAY: DurationSetting = DurationSetting {
    name: "JWT_LEEWAY",
    example: "5s",
    min: Duration::ZERO,
    max: Duration::from_secs(5 * 60),
};
/// About 40 MB of remembered claims at the most.
pub(super) const MAX_TOKEN_CACHE_SIZE: usize = 100_000;

impl DurationSetting {
    /// The value, or `default` when unset; within `min..=max.min(at_most)`.
    pub(super) fn parse(
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
pub(super) fn set(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

pub(super) fn spa_dir(dir: &str) -> Result<PathBuf, ConfigError> {
    let path = PathBuf::from(dir);
    if path.join("index.html").is_file() {
        Ok(path)
    } else {
        Err(ConfigError::NoSpaIndex(dir.to_owned()))
    }
}

pub(super) fn parse_origins(raw: &str) -> Result<Vec<HeaderValue>, ConfigError> {
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
