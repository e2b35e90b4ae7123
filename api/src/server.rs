//! The server that runs the app, with the manners a server facing the internet needs: a client
//! must send its request head in time and within a size, requests are answered in time, and
//! connections are bounded.
//!
//! The accept loop is hyper's HTTP/1.1 server driven here rather than `axum::serve`, which
//! sets no timer (so hyper's header-read timeout never runs) and bounds nothing.

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::{Layer, Service, ServiceBuilder};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tracing::Level;

use crate::AppState;
use crate::app::{access_log, app};
use crate::auth::ConnectionMemo;
use crate::config::Settings;

/// How the server treats its clients. [`ServerLimits::default`] is what `serve` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// A client must send a request's whole head within this; an idle keep-alive connection
    /// is closed after it too. 10 s.
    pub header_read_timeout: Duration,
    /// A request head (request line and headers) larger than this is answered 431. 64 KiB.
    pub max_header_bytes: usize,
    /// At most this many connections are served at once; more wait in the listen queue.
    /// 4096, under the usual limit of open files.
    pub max_connections: usize,
    /// A request not answered within this gets a 503. Longer than the longest wait a handler
    /// has (the tenant's keys, within their fetch timeout): the configuration sets it to the
    /// JWKS fetch timeout and 5 s.
    pub request_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            max_connections: 4096,
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// What a hyper connection can serve: a cloneable tower service of HTTP requests that never
/// fails (errors are answers).
pub trait HttpService:
    Service<
        Request<Incoming>,
        Response = Response<Self::Body>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
    type Body: http_body::Body<Data: Send, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
        + 'static;
}

impl<S, B> HttpService for S
where
    S: Service<
            Request<Incoming>,
            Response = Response<B>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static,
    B: http_body::Body<Data: Send, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
        + 'static,
{
    type Body = B;
}

/// Serves the API on `listener` until `shutdown` completes, then finishes in-flight requests.
/// The tenant's keys are fetched in the background: the server answers `/api/public` at
/// once whether or not the tenant is reachable.
pub async fn serve(
    listener: TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = AppState::new(&settings);
    state.validator.jwks().warm_up();
    // Outermost, so that no layer, the access log included, ever sees the token.
    let sensitive = SetSensitiveRequestHeadersLayer::new([AUTHORIZATION, COOKIE]);
    let app = app(state, &settings);
    // The access log times every request even when its lines are off: it is there only when
    // they are on.
    let logged = tracing::enabled!(target: "tower_http::trace::on_response", Level::INFO);
    if logged {
        let app = ServiceBuilder::new()
            .layer(sensitive)
            .layer(access_log())
            .service(app);
        serve_app(listener, app, settings.limits, shutdown).await
    } else {
        serve_app(listener, sensitive.layer(app), settings.limits, shutdown).await
    }
}

/// Serves `app` on `listener` with `limits` until `shutdown` completes; then stops accepting,
/// lets the requests under way finish and closes idle connections.
pub async fn serve_app(
    listener: TcpListener,
    app: impl HttpService,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        // One write of head and body: the answers are small, and a vectored write of two
        // parts cost more (`cargo xtask bench`: /api/public went from 1.17 to 1.09 times the
        // floor's CPU per request).
        .writev(false);
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        // At the bound, stop accepting: the kernel's queue holds the rest.
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => permit.expect("never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: wait, do not exit.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = ConnectionService {
            app: RefCell::new(app.clone()),
            memo: Arc::default(),
        };
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// One connection's copy of the app, and its memo of the last token it sent. HTTP/1.1 answers
/// a connection's requests one at a time, so each connection clones the stack once and calls
/// it in turn, where hyper-util's `TowerToHyperService` clones the whole stack for every
/// request.
struct ConnectionService<S> {
    app: RefCell<S>,
    memo: Arc<ConnectionMemo>,
}

impl<S: HttpService> hyper::service::Service<Request<Incoming>> for ConnectionService<S> {
    type Response = Response<S::Body>;
    type Error = Infallible;
    type Future = S::Future;

    fn call(&self, mut request: Request<Incoming>) -> S::Future {
        if request.headers().contains_key(AUTHORIZATION) {
            request.extensions_mut().insert(self.memo.clone());
        }
        let mut app = self.app.borrow_mut();
        // axum's router is always ready, and every layer of the stack is ready when it is:
        // readiness is asked, as tower wants, and never waited for.
        let ready = app.poll_ready(&mut Context::from_waker(Waker::noop()));
        debug_assert!(matches!(ready, Poll::Ready(Ok(()))));
        app.call(request)
    }
}
