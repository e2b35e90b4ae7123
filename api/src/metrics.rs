//! `/metrics`, in Prometheus' text format (0.0.4), on a listener of its own (`METRICS_ADDR`,
//! off by default, never the public port).
//!
//! The hot path only adds to atomics laid out in advance, one set per thread
//! ([`crate::sharded`]): requests by route and status, a latency histogram per route with fixed
//! buckets, refusals by reason, open connections. No lock, no allocation and no shared cache
//! line per request, and no sample is kept: exporters that buffer every
//! observation, or a labelled family's map behind a lock (prometheus-client's `Family`, the
//! `prometheus` crate's `*Vec`), would cost every request what a scrape can pay instead. At
//! scrape time the text is written here, with what is read from the token validator and the
//! key cache then: JWKS fetches by outcome, the key set's age and generation, the token
//! caches' hits and misses.
//!
//! The text is written by hand (about forty lines, [`Text`]) rather than by prometheus-client,
//! which writes OpenMetrics only: the text format is what every scraper reads and what
//! `promtool check metrics` lints (it reads OpenMetrics' counters as unhelped metrics).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use crate::auth::TokenValidator;
use crate::sharded::Sharded;

/// The routes requests are counted by; everything else (the SPA's files, unknown paths) is
/// `other`, so that no request can add a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Public,
    Private,
    PrivateScoped,
    Healthz,
    Readyz,
    AuthConfig,
    Other,
}

impl Route {
    const ALL: [Route; 7] = [
        Route::Public,
        Route::Private,
        Route::PrivateScoped,
        Route::Healthz,
        Route::Readyz,
        Route::AuthConfig,
        Route::Other,
    ];

    pub fn of(path: &str) -> Route {
        match path {
            "/api/public" => Route::Public,
            "/api/private" => Route::Private,
            "/api/private-scoped" => Route::PrivateScoped,
            "/healthz" => Route::Healthz,
            "/readyz" => Route::Readyz,
            "/auth_config.json" => Route::AuthConfig,
            _ => Route::Other,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Route::Public => "/api/public",
            Route::Private => "/api/private",
            Route::PrivateScoped => "/api/private-scoped",
            Route::Healthz => "/healthz",
            Route::Readyz => "/readyz",
            Route::AuthConfig => "/auth_config.json",
            Route::Other => "other",
        }
    }
}

/// The statuses the API answers with; any other is counted as `other`.
const STATUSES: [u16; 15] = [
    200, 204, 206, 304, 400, 401, 403, 404, 405, 408, 413, 414, 431, 500, 503,
];

/// Every refusal reason ([`crate::ApiError::reason`]); a test keeps the list whole.
const REASONS: [&str; 65] = [
    "opaque",
    "encrypted",
    "malformed_header",
    "crit",
    "unsigned",
    "hmac",
    "not_rs256",
    "no_kid",
    "unknown_kid",
    "not_an_access_token",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "wrong_issuer",
    "missing_claim",
    "bad_claims",
    "malformed",
    "id_token",
    "wrong_audience",
    "missing_token",
    "other_scheme",
    "repeated_header",
    "not_ascii",
    "empty_token",
    "not_b64token",
    "token_in_query",
    "insufficient_scope",
    "keys_unavailable",
    "key_not_fetchable_yet",
    "not_ready",
    "request_timeout",
    "not_found",
    "not_configured",
    "login_not_ready",
    "login_unsupported",
    "invalid_request",
    "dpop_missing",
    "dpop_several",
    "dpop_not_a_jws",
    "dpop_bad_header",
    "dpop_wrong_type",
    "dpop_algorithm",
    "dpop_no_key",
    "dpop_private_key",
    "dpop_bad_key",
    "dpop_bad_signature",
    "dpop_bad_claims",
    "dpop_method",
    "dpop_uri",
    "dpop_too_old",
    "dpop_from_the_future",
    "dpop_no_ath",
    "dpop_wrong_ath",
    "dpop_replayed",
    "dpop_key_mismatch",
    "dpop_nonce_required",
    "dpop_stale_nonce",
    "bound_as_bearer",
    "not_bound",
    "proof_with_bearer",
    "dpop_required",
    "dpop_disabled",
    "dpop_unconfigured",
    "dpop_replay_cache_full",
    "other",
];

/// Upper bounds of the latency buckets, in microseconds (100 µs to 10 s).
const BUCKETS_US: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// A latency histogram of atomics: each observation adds to one bucket and to the sum (the
/// count is the buckets' total).
#[derive(Debug, Default)]
struct Histogram {
    /// Per bucket (not cumulative); the last one is `+Inf`.
    buckets: [AtomicU64; BUCKETS_US.len() + 1],
    sum_us: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let bucket = BUCKETS_US
            .iter()
            .position(|bound| us <= *bound)
            .unwrap_or(BUCKETS_US.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }
}

/// What one thread counts.
struct Shard {
    requests: [[AtomicU64; STATUSES.len() + 1]; Route::ALL.len()],
    latency: [Histogram; Route::ALL.len()],
    refusals: [AtomicU64; REASONS.len()],
    connections: AtomicI64,
}

impl Default for Shard {
    fn default() -> Self {
        Self {
            requests: Default::default(),
            latency: Default::default(),
            refusals: std::array::from_fn(|_| AtomicU64::new(0)),
            connections: AtomicI64::new(0),
        }
    }
}

/// Everything `/metrics` reports.
pub struct Metrics {
    shards: Sharded<Shard>,
    validator: Arc<TokenValidator>,
}

impl Metrics {
    pub fn new(validator: Arc<TokenValidator>) -> Self {
        Self {
            shards: Sharded::default(),
            validator,
        }
    }

    /// One answered request.
    pub fn record(&self, route: Route, status: u16, elapsed: Duration, reason: Option<&str>) {
        let shard = self.shards.local();
        let route = route as usize;
        let status = STATUSES
            .iter()
            .position(|s| *s == status)
            .unwrap_or(STATUSES.len());
        shard.requests[route][status].fetch_add(1, Ordering::Relaxed);
        shard.latency[route].observe(elapsed);
        if let Some(reason) = reason {
            let slot = REASONS.iter().position(|r| *r == reason);
            shard.refusals[slot.unwrap_or(REASONS.len() - 1)].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A connection opened (`+1`) or closed (`-1`).
    pub fn connections(&self, change: i64) {
        self.shards
            .local()
            .connections
            .fetch_add(change, Ordering::Relaxed);
    }

    /// The sum over every thread of what `read` picks out of its counts.
    fn sum(&self, read: impl Fn(&Shard) -> &AtomicU64) -> u64 {
        self.shards
            .all()
            .map(|shard| read(shard).load(Ordering::Relaxed))
            .sum()
    }

    /// The text a scrape gets, and its content type.
    pub fn encode(&self) -> (String, &'static str) {
        let mut text = Text(String::with_capacity(8 * 1024));
        self.encode_requests(&mut text);
        self.encode_refusals(&mut text);
        self.encode_keys(&mut text);
        self.encode_token_cache(&mut text);
        text.family(
            "http_connections_open",
            "gauge",
            "Connections being served now.",
        );
        let open: i64 = self
            .shards
            .all()
            .map(|shard| shard.connections.load(Ordering::Relaxed))
            .sum();
        text.sample("http_connections_open", &[], open);
        (text.0, "text/plain; version=0.0.4; charset=utf-8")
    }
}

/// `GET /metrics` on its own listener, until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, metrics: Arc<Metrics>) {
    use axum::http::header::CONTENT_TYPE;
    let scrape = move || {
        let metrics = metrics.clone();
        async move {
            let (text, content_type) = metrics.encode();
            ([(CONTENT_TYPE, content_type)], text)
        }
    };
    let app = axum::Router::new().route("/metrics", axum::routing::get(scrape));
    if let Err(error) = axum::serve(listener, app).await {
        tracing::error!(%error, "the metrics listener stopped");
    }
}

impl Metrics {
    fn encode_requests(&self, text: &mut Text) {
        let name = "http_requests_total";
        text.family(name, "counter", "Requests answered, by route and status.");
        for route in Route::ALL {
            let statuses = STATUSES
                .iter()
                .map(|s| s.to_string())
                .chain(["other".into()]);
            for (i, status) in statuses.enumerate() {
                let count = self.sum(|shard| &shard.requests[route as usize][i]);
                if count > 0 {
                    let labels = [("route", route.label()), ("status", status.as_str())];
                    text.sample(name, &labels, count);
                }
            }
        }
        let name = "http_request_duration_seconds";
        text.family(
            name,
            "histogram",
            "How long requests took to answer, by route.",
        );
        for route in Route::ALL {
            let r = route as usize;
            let (mut cumulative, route) = (0, route.label());
            let bounds = BUCKETS_US.iter().map(|us| (*us as f64 / 1e6).to_string());
            for (i, bound) in bounds.chain(["+Inf".into()]).enumerate() {
                cumulative += self.sum(|shard| &shard.latency[r].buckets[i]);
                let labels = [("route", route), ("le", bound.as_str())];
                text.sample("http_request_duration_seconds_bucket", &labels, cumulative);
            }
            let sum = self.sum(|shard| &shard.latency[r].sum_us) as f64 / 1e6;
            text.sample(
                "http_request_duration_seconds_sum",
                &[("route", route)],
                sum,
            );
            text.sample(
                "http_request_duration_seconds_count",
                &[("route", route)],
                cumulative,
            );
        }
    }

    fn encode_refusals(&self, text: &mut Text) {
        let name = "api_refusals_total";
        text.family(
            name,
            "counter",
            "Requests refused, by reason (the TokenRejection's code for an invalid token).",
        );
        for (i, reason) in REASONS.iter().enumerate() {
            let count = self.sum(|shard| &shard.refusals[i]);
            if count > 0 {
                text.sample(name, &[("reason", reason)], count);
            }
        }
    }

    fn encode_keys(&self, text: &mut Text) {
        let jwks = self.validator.jwks();
        let name = "api_jwks_fetches_total";
        text.family(name, "counter", "Fetches of the tenant's keys, by outcome.");
        for (outcome, count) in jwks.fetch_outcomes() {
            text.sample(name, &[("outcome", outcome)], count);
        }
        let name = "api_jwks_generation";
        text.family(
            name,
            "gauge",
            "The key set's generation: it changes whenever the keys do (0: none loaded yet).",
        );
        text.sample(name, &[], jwks.current_generation());
        if let Some(age) = jwks.age() {
            let name = "api_jwks_age_seconds";
            text.family(
                name,
                "gauge",
                "Since the key set was last fetched successfully.",
            );
            text.sample(name, &[], age.as_secs_f64());
        }
    }

    fn encode_token_cache(&self, text: &mut Text) {
        let counts = self.validator.cache_counts();
        let name = "api_token_cache_lookups_total";
        text.family(
            name,
            "counter",
            "Verified-token lookups: a connection's memo hit, a shared-cache hit, or a miss (verified in full).",
        );
        for (result, count) in [
            ("memo_hit", &counts.memo_hits),
            ("hit", &counts.hits),
            ("miss", &counts.misses),
        ] {
            text.sample(name, &[("result", result)], count.get());
        }
        let name = "api_token_cache_entries";
        text.family(name, "gauge", "Verified tokens remembered now.");
        text.sample(name, &[], self.validator.cached_tokens());
    }
}

/// Prometheus' text exposition format, 0.0.4: `# HELP` and `# TYPE` for each family, then
/// one line per sample. Label values are escaped (`\\`, `\"`, `\n`).
struct Text(String);

impl Text {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        for (i, (label, text)) in labels.iter().enumerate() {
            let opening = if i == 0 { '{' } else { ',' };
            let _ = write!(self.0, "{opening}{label}=\"");
            for c in text.chars() {
                match c {
                    '\\' => self.0.push_str("\\\\"),
                    '"' => self.0.push_str("\\\""),
                    '\n' => self.0.push_str("\\n"),
                    c => self.0.push(c),
                }
            }
            self.0.push('"');
        }
        if !labels.is_empty() {
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ApiError;
    use crate::auth::{
        FetchError, JwksCache, JwksSettings, KeySource, TokenRejection, ValidationSettings,
    };
    use shared::oauth::BearerError;

    fn metrics() -> Arc<Metrics> {
        let source = KeySource::Jwks(url::Url::parse("http://127.0.0.1:9/jwks").unwrap());
        let jwks = JwksCache::new(JwksSettings::new(source));
        let validator = TokenValidator::new(ValidationSettings::new("https://t/", "a"), jwks, None);
        Arc::new(Metrics::new(Arc::new(validator)))
    }

    #[test]
    fn every_refusal_reason_has_its_own_series() {
        use TokenRejection::*;
        let rejections = [
            Opaque,
            Encrypted,
            MalformedHeader,
            Crit,
            Unsigned,
            Hmac("HS256".into()),
            NotRs256,
            NoKid,
            UnknownKid,
            NotAnAccessToken { typ: "x".into() },
            BadSignature,
            Expired,
            NotYetValid,
            WrongIssuer {
                trusted: "t".into(),
                got: None,
            },
            MissingClaim("sub".into()),
            BadClaims,
            Malformed,
            IdToken {
                audience: "a".into(),
            },
            WrongAudience {
                got: "g".into(),
                expected: "e".into(),
            },
            BoundAsBearer,
            NotBound,
            ProofWithBearer,
            DpopRequired,
            DpopDisabled,
        ]
        .into_iter()
        .chain(crate::error::tests::every_proof_error().map(Proof));
        let bearer = [
            BearerError::Missing,
            BearerError::OtherScheme,
            BearerError::Repeated,
            BearerError::NotAscii,
            BearerError::Empty,
            BearerError::NotB64Token,
        ];
        let errors = rejections
            .into_iter()
            .map(ApiError::InvalidToken)
            .chain(bearer.into_iter().map(ApiError::Credentials))
            .chain([
                ApiError::TokenInQuery,
                ApiError::InsufficientScope("read:messages"),
                ApiError::KeysUnavailable(Some(FetchError::Timeout)),
                ApiError::KeyNotFetchableYet(Duration::from_secs(1)),
                ApiError::NotReady(None),
                ApiError::RequestTimeout,
                ApiError::NotFound,
                ApiError::NotConfigured,
                ApiError::LoginNotReady(None),
                ApiError::LoginUnsupported(crate::error::Unsupported::NoS256),
                ApiError::DpopUnconfigured,
                ApiError::ReplayCacheFull(Duration::from_secs(1)),
                ApiError::NotFound.challenged(crate::auth::DpopMode::Allowed, None, None),
            ]);
        for error in errors {
            let reason = error.reason();
            assert!(
                REASONS[..REASONS.len() - 1].contains(&reason),
                "{reason} ({error:?}) is not in REASONS"
            );
        }
    }

    #[test]
    fn label_values_are_escaped() {
        let mut text = Text(String::new());
        text.sample("m", &[("a", "x\"y\\z\nw"), ("b", "")], 1.5);
        assert_eq!(text.0, "m{a=\"x\\\"y\\\\z\\nw\",b=\"\"} 1.5\n");
    }

    #[test]
    fn requests_and_latencies_are_counted_by_route_and_status() {
        let metrics = metrics();
        metrics.record(
            Route::of("/api/public"),
            200,
            Duration::from_micros(150),
            None,
        );
        metrics.record(
            Route::of("/api/private"),
            401,
            Duration::from_millis(2),
            Some("expired"),
        );
        metrics.record(
            Route::of("/nowhere"),
            418,
            Duration::from_secs(20),
            Some("unheard-of"),
        );
        metrics.connections(1);
        let (text, content_type) = metrics.encode();
        assert!(content_type.starts_with("text/plain; version=0.0.4"));
        for line in [
            "http_requests_total{route=\"/api/public\",status=\"200\"} 1",
            "http_requests_total{route=\"/api/private\",status=\"401\"} 1",
            "http_requests_total{route=\"other\",status=\"other\"} 1",
            "http_request_duration_seconds_bucket{route=\"/api/public\",le=\"0.00025\"} 1",
            "http_request_duration_seconds_bucket{route=\"/api/public\",le=\"0.0001\"} 0",
            "http_request_duration_seconds_bucket{route=\"/api/public\",le=\"10\"} 1",
            "http_request_duration_seconds_bucket{route=\"other\",le=\"10\"} 0",
            "http_request_duration_seconds_bucket{route=\"other\",le=\"+Inf\"} 1",
            "http_request_duration_seconds_count{route=\"/api/private\"} 1",
            "api_refusals_total{reason=\"expired\"} 1",
            "api_refusals_total{reason=\"other\"} 1",
            "http_connections_open 1",
            "api_jwks_generation 0",
            "api_token_cache_lookups_total{result=\"miss\"} 0",
            "api_jwks_fetches_total{outcome=\"issuer_mismatch\"} 0",
        ] {
            assert!(text.contains(line), "{line} not in:\n{text}");
        }
        assert!(text.ends_with("http_connections_open 1\n"));
    }
}
