//! What every request leaves behind: its id, one access-log line, and its count and latency in
//! `/metrics` — in one pass around the app ([`Telemetry`]), at a cost `cargo xtask bench`
//! measures (its "production defaults" rows).
//!
//! - The request id is the proxy's `X-Request-Id` when it is sane (up to 128 characters of
//!   `A-Z a-z 0-9 - _ . : = + /`), else made here: this process's random prefix, the thread's
//!   number and the thread's own count (unique, and cheaper than a random number or a shared
//!   counter per request). It is echoed in the answer's `X-Request-Id`, in the access-log line
//!   and in every error body ([`current_request_id`]).
//! - The access log is one event per request, target `access`, at INFO: id, method, path
//!   (never the query), status, latency, and the refusal's reason code when there is one
//!   ([`Refusal`]). No span per request: a span's fields cost more than the line itself in
//!   the JSON format.

use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response};
use tokio::task::futures::TaskLocalFuture;
use tower::Service;

use crate::metrics::{Metrics, Route};

tokio::task_local! {
    /// The id of the request this task serves.
    static REQUEST_ID: HeaderValue;
}

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served, for an error body; `None` outside a request.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID
        .try_with(|id| id.to_str().ok().map(str::to_owned))
        .ok()
        .flatten()
}

/// Why a request was refused, as a stable code ([`crate::ApiError::reason`]): put on the
/// response by the error, read by the access log and the metrics.
#[derive(Debug, Clone, Copy)]
pub struct Refusal(pub &'static str);

/// The proxy's id if it is one we may repeat in a header, a log line and a JSON body.
fn is_sane(id: &[u8]) -> bool {
    (1..=128).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:=+/".contains(b))
}

/// Ids made here: a random prefix for this process, then the thread's number and its count.
struct IdMaker {
    prefix: u64,
}

/// Each thread's number, given on its first id.
static THREADS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's number and how many ids it has made.
    static THREAD_IDS: (u64, Cell<u64>) = (THREADS.fetch_add(1, Ordering::Relaxed), Cell::new(0));
}

impl IdMaker {
    fn new() -> Self {
        let mut bytes = [0u8; 8];
        // Without randomness two replicas could repeat each other's ids: the counters still
        // keep them unique within this process.
        let _ = aws_lc_rs::rand::fill(&mut bytes);
        Self {
            prefix: u64::from_le_bytes(bytes),
        }
    }

    /// `{prefix, 16 hex digits}-{thread}-{count}`, written without `format!`.
    fn make(&self) -> HeaderValue {
        let (thread, count) = THREAD_IDS.with(|(thread, count)| {
            count.set(count.get() + 1);
            (*thread, count.get())
        });
        let mut id = [0u8; 52];
        let mut at = hex(&mut id, 0, self.prefix, 16);
        id[at] = b'-';
        at = hex(&mut id, at + 1, thread, 1);
        id[at] = b'-';
        at = hex(&mut id, at + 1, count, 1);
        HeaderValue::from_bytes(&id[..at]).expect("hex digits and dashes are a header value")
    }

    fn for_request(&self, headers: &HeaderMap) -> HeaderValue {
        match headers.get(X_REQUEST_ID) {
            Some(id) if is_sane(id.as_bytes()) => id.clone(),
            _ => self.make(),
        }
    }
}

/// `value` in lowercase hex into `out` from `at`, at least `digits` digits; where it ends.
fn hex(out: &mut [u8], at: usize, value: u64, digits: usize) -> usize {
    let len = ((64 - value.leading_zeros() as usize).div_ceil(4)).max(digits);
    for i in 0..len {
        let nibble = (value >> (4 * (len - 1 - i))) & 0xf;
        out[at + i] = b"0123456789abcdef"[nibble as usize];
    }
    at + len
}

/// What [`Telemetry`] does besides the id: the access log (when its lines are on) and the
/// metrics (when `METRICS_ADDR` is set).
pub struct Recorders {
    ids: IdMaker,
    access_log: bool,
    metrics: Option<Arc<Metrics>>,
}

impl Recorders {
    /// One per server, kept for the life of the process: each request then refers to it
    /// without counting references (a shared count would move between cores per request).
    pub fn new(metrics: Option<Arc<Metrics>>) -> &'static Self {
        Box::leak(Box::new(Self {
            ids: IdMaker::new(),
            access_log: tracing::enabled!(target: "access", tracing::Level::INFO),
            metrics,
        }))
    }

    /// Whether anything needs the request's duration.
    fn timed(&self) -> bool {
        self.access_log || self.metrics.is_some()
    }
}

/// The service around the app that gives each request its id, and records it once answered.
#[derive(Clone)]
pub struct Telemetry<S> {
    inner: S,
    recorders: &'static Recorders,
}

impl<S> Telemetry<S> {
    pub fn new(inner: S, recorders: &'static Recorders) -> Self {
        Self { inner, recorders }
    }
}

impl<S, B, ReqBody> Service<Request<ReqBody>> for Telemetry<S>
where
    S: Service<Request<ReqBody>, Response = Response<B>, Error = Infallible>,
{
    type Response = Response<B>;
    type Error = Infallible;
    type Future = Recorded<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let id = self.recorders.ids.for_request(request.headers());
        let path = request.uri().path();
        let seen = Seen {
            id: id.clone(),
            route: Route::of(path),
            // Copied only when a line will be written.
            logged: self
                .recorders
                .access_log
                .then(|| (request.method().clone(), path.to_owned())),
            started: self.recorders.timed().then(Instant::now),
            recorders: self.recorders,
        };
        Recorded {
            inner: REQUEST_ID.scope(id, self.inner.call(request)),
            seen: Some(seen),
        }
    }
}

/// What is known of a request before it is answered.
struct Seen {
    id: HeaderValue,
    route: Route,
    logged: Option<(Method, String)>,
    /// When it came, if anything records its duration.
    started: Option<Instant>,
    recorders: &'static Recorders,
}

pin_project_lite::pin_project! {
    /// The app's answer, with the request's id set for the app while it runs.
    pub struct Recorded<F: Future> {
        #[pin]
        inner: TaskLocalFuture<HeaderValue, F>,
        seen: Option<Seen>,
    }
}

impl<F, B> Future for Recorded<F>
where
    F: Future<Output = Result<Response<B>, Infallible>>,
{
    type Output = Result<Response<B>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = std::task::ready!(this.inner.poll(cx));
        if let Some(seen) = this.seen.take() {
            seen.record(&mut response);
        }
        Poll::Ready(Ok(response))
    }
}

impl Seen {
    fn record<B>(self, response: &mut Response<B>) {
        let status = response.status().as_u16();
        let reason = response.extensions().get::<Refusal>().map(|r| r.0);
        let elapsed = self.started.map(|at| at.elapsed()).unwrap_or_default();
        if let Some(metrics) = &self.recorders.metrics {
            metrics.record(self.route, status, elapsed, reason);
        }
        if let Some((method, path)) = &self.logged {
            let latency_us = elapsed.as_micros() as u64;
            let id = self.id.to_str().unwrap_or_default();
            match reason {
                Some(reason) => {
                    tracing::info!(target: "access", request_id = id, %method, path, status, latency_us, reason)
                }
                None => {
                    tracing::info!(target: "access", request_id = id, %method, path, status, latency_us)
                }
            }
        }
        response.headers_mut().insert(X_REQUEST_ID, self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxys_id_is_kept_only_when_sane() {
        let maker = IdMaker::new();
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(X_REQUEST_ID, HeaderValue::from_str(value).unwrap());
            maker.for_request(&headers)
        };
        for sane in [
            "f47ac10b-58cc-4372-a567-0e02b2c3d479",
            "7d3a:1",
            "Root=1-5e1b4151+x/y.z_",
        ] {
            assert_eq!(with(sane), sane);
        }
        for insane in [
            "",
            "has space",
            "quote\"d",
            "<script>",
            &"a".repeat(129),
            "é",
        ] {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(insane) {
                headers.insert(X_REQUEST_ID, value);
            }
            let made = maker.for_request(&headers);
            assert_ne!(made.as_bytes(), insane.as_bytes(), "{insane:?}");
            assert!(is_sane(made.as_bytes()));
        }
    }

    #[test]
    fn hex_is_written_with_its_least_digits() {
        let mut out = [0u8; 20];
        let end = hex(&mut out, 0, 0xabc, 1);
        assert_eq!(&out[..end], b"abc");
        let end = hex(&mut out, 0, 0, 1);
        assert_eq!(&out[..end], b"0");
        let end = hex(&mut out, 0, 0x1f, 16);
        assert_eq!(&out[..end], b"000000000000001f");
        let end = hex(&mut out, 0, u64::MAX, 1);
        assert_eq!(&out[..end], b"ffffffffffffffff");
    }

    #[test]
    fn made_ids_are_unique_and_share_the_process_prefix() {
        let maker = IdMaker::new();
        let (a, b) = (maker.make(), maker.make());
        assert_ne!(a, b);
        let prefix = |v: &HeaderValue| v.to_str().unwrap().split('-').next().unwrap().to_owned();
        assert_eq!(prefix(&a), prefix(&b));
        assert_eq!(prefix(&a).len(), 16);
    }

    #[tokio::test]
    async fn the_id_is_there_for_the_request_and_gone_after() {
        assert_eq!(current_request_id(), None);
        let seen = REQUEST_ID
            .scope(HeaderValue::from_static("abc"), async {
                current_request_id()
            })
            .await;
        assert_eq!(seen.as_deref(), Some("abc"));
    }
}
