//! The HTTP app: the routes and, around them once, what every answer needs (security headers,
//! CORS for cross-origin requests, the request timeout). [`crate::serve`] puts the request's
//! id, its log line and its metrics around it ([`crate::telemetry`]).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ORIGIN, REFERRER_POLICY,
    STRICT_TRANSPORT_SECURITY, WWW_AUTHENTICATE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue, Method, Request, Response};
use axum::response::IntoResponse;
use futures_util::future::Either;
use tower::{Layer, Service, ServiceBuilder};
use tower_http::cors::{AllowOrigin, Cors, CorsLayer};

use crate::config::Settings;
use crate::error::ApiError;
use crate::server::HttpService;
use crate::telemetry::X_REQUEST_ID;
use crate::{AppState, routes};

/// A DPoP proof (RFC 9449 §4.1), and the server's nonce (§8).
const DPOP: HeaderName = HeaderName::from_static(shared::dpop::DPOP_HEADER);
const DPOP_NONCE: HeaderName = HeaderName::from_static(shared::dpop::NONCE_HEADER);

/// The whole HTTP app: routes, the SPA if there is one, and around them, once, security
/// headers, CORS and the request timeout. [`crate::serve`] adds the telemetry and marks the
/// credentials sensitive, outermost.
///
/// Measured with callgrind and perf, per request to `/api/public` (`cargo xtask bench` has the
/// CPU times); every layer here was a cost, and this arrangement keeps each for little:
/// - the layers wrap the router once, not through `Router::layer`, which wraps every route in
///   every layer behind a box: nine boxed services were cloned for each request;
/// - the static headers go in as one step that makes room once ([`with_security_headers`]);
///   five `SetResponseHeader` layers grew the response's header map one by one;
/// - CORS runs for requests that carry an `Origin` only ([`CrossOriginOnly`]): tower-http's
///   layer builds a header map and joins its `Vary` list for every request it sees, four
///   allocations a request without `Origin` (curl, a server, a same-origin GET) does not need;
/// - the request timeout asks the answer first and arms its timer only when it has to wait;
/// - each connection owns one copy of the stack (`server::ConnectionService`), and remembers
///   its last token (`auth::ConnectionMemo`).
pub fn app(state: AppState, settings: &Settings) -> impl HttpService<Body = Body> {
    let allowed: Arc<[HeaderValue]> = settings.allowed_origins.clone().into();
    let cors = CorsLayer::new()
        // A fixed allow-list: an origin not on it gets no CORS headers, and none is reflected.
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            allowed.contains(origin)
        }))
        .allow_methods([Method::GET])
        .allow_headers([AUTHORIZATION, CONTENT_TYPE, DPOP])
        // Lets the SPA read the RFC 6750 reason of a 401/403, the request's id, and the
        // server's DPoP nonce.
        .expose_headers([WWW_AUTHENTICATE, X_REQUEST_ID, DPOP_NONCE])
        .max_age(Duration::from_secs(600));
    let router = routes::router(settings.spa_dir.as_deref(), state.login.clone()).with_state(state);
    let hsts = settings.hsts.clone();
    let request_timeout = settings.limits.request_timeout;
    ServiceBuilder::new()
        .map_response(move |response| with_security_headers(response, hsts.as_ref()))
        .layer(CrossOriginOnlyLayer(cors))
        .map_future(move |answer| within(request_timeout, answer))
        .service(router)
}

/// The answer, or a 503 once `deadline` has passed. The answer is asked first, and the timer
/// is made only when it has to wait: most answers are ready at once, and making a timer (even
/// unarmed, as `tokio::time::timeout` does up front) takes the runtime's handle, a count both
/// cores write (`cargo xtask bench`).
fn within<F>(deadline: Duration, answer: F) -> Within<F> {
    Within {
        answer,
        deadline,
        timer: None,
    }
}

pin_project_lite::pin_project! {
    struct Within<F> {
        #[pin]
        answer: F,
        deadline: Duration,
        timer: Option<Pin<Box<tokio::time::Sleep>>>,
    }
}

impl<F> Future for Within<F>
where
    F: Future<Output = Result<Response<Body>, Infallible>>,
{
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(answer) = this.answer.poll(cx) {
            return Poll::Ready(answer);
        }
        let deadline = *this.deadline;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(deadline)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Ok(ApiError::RequestTimeout.into_response())),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Headers every answer carries and no route sets: they are appended.
const SECURITY_HEADERS: [(HeaderName, &str); 3] = [
    (X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (X_FRAME_OPTIONS, "DENY"),
    (REFERRER_POLICY, "no-referrer"),
];

/// The SPA's pages set their own: these go in where the route set none.
const DEFAULT_HEADERS: [(HeaderName, &str); 2] = [
    (
        CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'",
    ),
    // Answers depend on who asks: no shared cache may keep them (so `Vary` has no cache to
    // speak to).
    (CACHE_CONTROL, "no-store"),
];

/// Adds the security headers, and HSTS when served over https, making room for them once.
fn with_security_headers<B>(mut response: Response<B>, hsts: Option<&HeaderValue>) -> Response<B> {
    let headers = response.headers_mut();
    headers.reserve(SECURITY_HEADERS.len() + DEFAULT_HEADERS.len() + 1);
    for (name, value) in SECURITY_HEADERS {
        headers.append(name, HeaderValue::from_static(value));
    }
    for (name, value) in DEFAULT_HEADERS {
        headers
            .entry(name)
            .or_insert_with(|| HeaderValue::from_static(value));
    }
    if let Some(hsts) = hsts {
        headers.insert(STRICT_TRANSPORT_SECURITY, hsts.clone());
    }
    response
}

/// CORS for the requests that carry an `Origin`; the others go straight through.
#[derive(Clone)]
struct CrossOriginOnlyLayer(CorsLayer);

impl<S: Clone> Layer<S> for CrossOriginOnlyLayer {
    type Service = CrossOriginOnly<S>;

    fn layer(&self, inner: S) -> CrossOriginOnly<S> {
        CrossOriginOnly {
            cors: self.0.layer(inner.clone()),
            inner,
        }
    }
}

#[derive(Clone)]
struct CrossOriginOnly<S> {
    cors: Cors<S>,
    inner: S,
}

impl<S, B, R> Service<Request<B>> for CrossOriginOnly<S>
where
    S: Service<Request<B>, Response = Response<R>> + Clone,
    R: Default,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Either<<Cors<S> as Service<Request<B>>>::Future, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if request.headers().contains_key(ORIGIN) {
            // Cors<S> is ready whenever S is: it only wraps it.
            Either::Left(self.cors.call(request))
        } else {
            Either::Right(self.inner.call(request))
        }
    }
}
