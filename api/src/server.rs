//! The server that runs the app, with the manners a server facing the internet needs: a client
//! must send its request head in time and within a size, must read its answers (a write that
//! stalls ends the connection), is answered in time, and may hold only so many connections;
//! a shutdown finishes what is under way, within a deadline.
//!
//! The accept loop is hyper's HTTP/1.1 server driven here rather than `axum::serve`, which
//! sets no timer (so hyper's header-read timeout never runs) and bounds nothing. It knows
//! nothing of the app but [`HttpService`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::http::header::AUTHORIZATION;
use axum::http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::futures::TaskLocalFuture;
use tokio::time::Sleep;
use tower::Service;

use crate::auth::ConnectionMemo;
use crate::metrics::Metrics;

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
    /// A write (or flush) that makes no progress for this long ends the connection: a client
    /// that stopped reading its answers cannot hold it. 10 s.
    pub write_timeout: Duration,
    /// At most this many connections from one address; more are closed at once. A quarter of
    /// `max_connections`, so no single client can take them all. Behind a proxy every
    /// connection comes from the proxy: it must open fewer than this to one replica.
    pub max_connections_per_client: usize,
    /// After the shutdown signal, requests under way get this long to finish; then the
    /// connections left are dropped. More than the request timeout; less than what an
    /// orchestrator waits before it kills (Kubernetes: 30 s). 15 s.
    pub shutdown_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            max_connections: 4096,
            request_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_connections_per_client: 1024,
            shutdown_timeout: Duration::from_secs(15),
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

/// Serves `app` on `listener` with `limits` until `shutdown` completes; then stops accepting,
/// lets the requests under way finish (within `limits.shutdown_timeout`) and closes idle
/// connections. `metrics`, when on, counts the open connections.
pub(crate) async fn serve_app(
    listener: TcpListener,
    app: impl HttpService,
    limits: ServerLimits,
    metrics: Option<Arc<Metrics>>,
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
    let clients = Clients::new(limits.max_connections_per_client);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        // At the bound, stop accepting: the kernel's queue holds the rest.
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => permit.expect("never closed"),
            () = &mut shutdown => break,
        };
        let (stream, client) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match clients.admit(peer.ip()) {
                    Some(client) => (stream, client),
                    // Over its share: closed at once, the permit given back.
                    None => continue,
                },
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
        let io = TokioIo::new(WriteStallGuard::new(stream, limits.write_timeout));
        let connection = graceful.watch(http.serve_connection(io, service));
        let metrics = metrics.clone();
        tokio::spawn(async move {
            if let Some(metrics) = &metrics {
                metrics.connections(1);
            }
            let _ = connection.await;
            if let Some(metrics) = &metrics {
                metrics.connections(-1);
            }
            drop((permit, client));
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "shutting down: requests still under way after {:?} are dropped",
            limits.shutdown_timeout
        );
    }
    Ok(())
}

/// How many connections each client address holds, within a bound.
#[derive(Clone)]
struct Clients {
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
    max: usize,
}

/// One admitted connection of `ip`: counted until dropped.
struct Admitted {
    clients: Clients,
    ip: IpAddr,
}

impl Clients {
    fn new(max: usize) -> Self {
        Self {
            open: Arc::default(),
            max,
        }
    }

    fn admit(&self, ip: IpAddr) -> Option<Admitted> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(ip).or_default();
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Admitted {
            clients: self.clone(),
            ip,
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.clients.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// A connection whose writes must make progress: one that stays pending (the client's receive
/// window is full, it stopped reading) for longer than the timeout fails, and hyper closes the
/// connection. hyper itself times only the reading of a request's head. The timer is made
/// only when a write has to wait.
struct WriteStallGuard {
    stream: TcpStream,
    timeout: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl WriteStallGuard {
    fn new(stream: TcpStream, timeout: Duration) -> Self {
        Self {
            stream,
            timeout,
            stalled: None,
        }
    }

    /// `poll`'s answer, unless it has been pending for longer than the timeout.
    fn guard<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match poll(Pin::new(&mut self.stream), cx) {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                let timeout = self.timeout;
                let timer = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client stopped reading its answers",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncRead for WriteStallGuard {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteStallGuard {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.guard(cx, |stream, cx| stream.poll_write(cx, buf))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.guard(cx, |stream, cx| stream.poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.guard(cx, |stream, cx| stream.poll_shutdown(cx))
    }
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
    type Future = TaskLocalFuture<Option<Arc<ConnectionMemo>>, S::Future>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let memo = request
            .headers()
            .contains_key(AUTHORIZATION)
            .then(|| self.memo.clone());
        let mut app = self.app.borrow_mut();
        // axum's router is always ready, and every layer of the stack is ready when it is:
        // readiness is asked, as tower wants, and never waited for.
        let ready = app.poll_ready(&mut Context::from_waker(Waker::noop()));
        debug_assert!(matches!(ready, Poll::Ready(Ok(()))));
        ConnectionMemo::serving(memo, app.call(request))
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A client's connections are counted while they are open; closing one makes room for
    /// exactly one more, and a client with none left is forgotten.
    #[test]
    fn each_client_holds_its_share_of_connections() {
        let clients = Clients::new(2);
        let (ip, other): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "::1".parse().unwrap());
        let first = clients.admit(ip).unwrap();
        let second = clients.admit(ip).unwrap();
        assert!(clients.admit(ip).is_none(), "over its share");
        let elsewhere = clients.admit(other).unwrap();
        drop(first);
        let third = clients.admit(ip).unwrap();
        assert!(clients.admit(ip).is_none(), "one closed, one more");
        drop((second, third, elsewhere));
        assert!(clients.open.lock().unwrap().is_empty());
    }

    /// A connection the server shuts down tells the client so at once (FIN), before the
    /// socket is dropped.
    #[tokio::test]
    async fn shutting_down_a_guarded_stream_ends_the_clients_reads() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let mut guarded = WriteStallGuard::new(server, Duration::from_secs(5));
        guarded.write_all(b"bye").await.unwrap();
        guarded.flush().await.unwrap();
        guarded.shutdown().await.unwrap();
        let mut read = Vec::new();
        let ended = tokio::time::timeout(Duration::from_secs(2), client.read_to_end(&mut read));
        assert_eq!(ended.await.expect("the client sees the end").unwrap(), 3);
        assert_eq!(read, b"bye");
        drop(guarded);
    }
}
