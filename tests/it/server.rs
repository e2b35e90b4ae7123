//! The server's manners with slow, greedy or hostile clients, over raw sockets: a trickled
//! request head is cut off while others are served, oversized heads get 431, connections are
//! bounded, slow answers time out; and the headers the SPA's pages carry.

use std::time::{Duration, Instant};

use integration_tests::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Everything the server sends until it closes the connection (or 10 s pass).
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer));
    let _ = read.await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_client_trickling_its_request_head_is_cut_off_while_others_are_served() {
    let app = TestApp::builder()
        .settings(|s| s.limits.header_read_timeout = Duration::from_secs(1))
        .spawn()
        .await;
    let mut slow = TcpStream::connect(addr(&app)).await.unwrap();
    slow.write_all(b"GET /api/public HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let trickle = async {
        // One byte every 100 ms, for as long as the server lets it.
        while slow.write_all(b"X").await.is_ok() && started.elapsed() < Duration::from_secs(10) {
            let mut byte = [0u8; 1];
            let closed = tokio::time::timeout(Duration::from_millis(100), slow.read(&mut byte));
            if let Ok(Ok(0) | Err(_)) = closed.await {
                break;
            }
        }
        started.elapsed()
    };
    let others = async {
        let mut served = 0;
        while started.elapsed() < Duration::from_millis(900) {
            assert_eq!(app.get("/api/public", None).await.status(), 200);
            served += 1;
        }
        served
    };
    let (cut_after, served) = tokio::join!(trickle, others);
    assert!(
        cut_after >= Duration::from_millis(900) && cut_after < Duration::from_secs(3),
        "cut off after {cut_after:?}"
    );
    assert!(served > 0);
}

#[tokio::test]
async fn a_request_head_over_64_kib_gets_431() {
    let app = TestApp::spawn().await;
    for size in [70 * 1024, 200 * 1024] {
        let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
        let head = format!(
            "GET /api/public HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "a".repeat(size)
        );
        // The server may close before reading it all: what it said first is what counts.
        let _ = stream.write_all(head.as_bytes()).await;
        let answer = read_to_close(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 431"), "{size}: {answer}");
    }
    let fine = app
        .client
        .get(format!("{}/api/public", app.base))
        .header("x-fine", "a".repeat(32 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(fine.status(), 200);
}

#[tokio::test]
async fn connections_past_the_bound_wait_until_one_closes() {
    let app = TestApp::builder()
        .settings(|s| {
            s.limits.max_connections = 2;
            s.limits.header_read_timeout = Duration::from_secs(1);
        })
        .spawn()
        .await;
    let idle = [
        TcpStream::connect(addr(&app)).await.unwrap(),
        TcpStream::connect(addr(&app)).await.unwrap(),
    ];
    // Both slots are taken: a third client waits, and is served once the idle ones are cut
    // off by the header-read timeout.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let third = reqwest::Client::new()
        .get(format!("{}/api/public", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(third.status(), 200);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(5),
        "served after {waited:?}"
    );
    drop(idle);
}

#[tokio::test]
async fn a_request_not_answered_in_time_gets_503() {
    let tenant = spawn_tenant(&[&KEY]).await;
    tenant.set_jwks_delay(Duration::from_secs(3));
    let app = TestApp::builder()
        .settings(|s| s.limits.request_timeout = Duration::from_millis(500))
        .spawn_for(tenant)
        .await;
    let started = Instant::now();
    let answer = app.get("/api/private", Some(&app.token(&[]))).await;
    assert_eq!(answer.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(answer.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn the_spa_is_served_with_its_isolation_headers_and_hsts_when_on_https() {
    let scratch = tempfile::Builder::new()
        .prefix("spa-headers-")
        .tempdir()
        .unwrap();
    let dist = scratch.path().to_owned();
    std::fs::write(dist.join("index.html"), "<!doctype html><title>spa</title>").unwrap();
    let app = TestApp::builder()
        .settings(move |s| {
            s.spa_dir = Some(dist);
            s.hsts = Some("max-age=31536000".parse().unwrap());
        })
        .spawn()
        .await;
    let page = app.get("/ping", None).await;
    let headers = page.headers();
    assert_eq!(headers["cross-origin-opener-policy"], "same-origin");
    assert_eq!(headers["permissions-policy"], api::PERMISSIONS_POLICY);
    assert_eq!(headers["strict-transport-security"], "max-age=31536000");
    let api_answer = app.get("/api/public", None).await;
    assert_eq!(
        api_answer.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let plain = TestApp::spawn().await;
    let answer = plain.get("/api/public", None).await;
    assert!(answer.headers().get("strict-transport-security").is_none());
}

/// Files named by their content are kept by the browser for a year without asking again; the
/// page (and anything answered with it) is revalidated at every load, so a new build shows.
#[tokio::test]
async fn fingerprinted_assets_are_immutable_and_the_page_is_revalidated() {
    let scratch = tempfile::Builder::new()
        .prefix("spa-cache-")
        .tempdir()
        .unwrap();
    let dist = scratch.path().to_owned();
    std::fs::write(dist.join("index.html"), "<!doctype html><title>spa</title>").unwrap();
    std::fs::write(dist.join("frontend-0123456789abcdef_bg.wasm"), b"\0asm").unwrap();
    std::fs::write(dist.join("style-0123456789abcdef.css"), "body{}").unwrap();
    std::fs::write(dist.join("robots.txt"), "").unwrap();
    let app = TestApp::builder()
        .settings(move |s| s.spa_dir = Some(dist))
        .spawn()
        .await;
    let cache_control = async |path: &str| {
        let answer = app.get(path, None).await;
        assert_eq!(answer.status(), 200, "{path}");
        answer.headers()["cache-control"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let immutable = "public, max-age=31536000, immutable";
    assert_eq!(
        cache_control("/frontend-0123456789abcdef_bg.wasm").await,
        immutable
    );
    assert_eq!(
        cache_control("/style-0123456789abcdef.css").await,
        immutable
    );
    for revalidated in [
        "/",
        "/index.html",
        "/ping",
        "/robots.txt",
        "/frontend-fedcba9876543210.js",
    ] {
        assert_eq!(
            cache_control(revalidated).await,
            "no-cache",
            "{revalidated}"
        );
    }
}

/// A client that pipelines requests and never reads its answers: once the socket's buffers
/// fill, the server's writes stall; the write timeout ends such connections, so that a few of
/// them cannot hold every connection the server allows.
#[tokio::test]
async fn clients_that_never_read_are_cut_off_and_others_are_served() {
    let app = TestApp::builder()
        .settings(|s| {
            s.limits.max_connections = 4;
            s.limits.write_timeout = Duration::from_secs(2);
        })
        .spawn()
        .await;
    let request = "GET /api/public HTTP/1.1\r\nHost: x\r\n\r\n".repeat(5000);
    let mut stalled = Vec::new();
    for _ in 0..4 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(1024).unwrap();
        let stream = socket.connect(addr(&app).parse().unwrap()).await.unwrap();
        let (mut reading, mut writing) = stream.into_split();
        let request = request.clone();
        // Writes until the server stops reading; never reads.
        tokio::spawn(async move {
            let _ = writing.write_all(request.as_bytes()).await;
            std::future::pending::<()>().await;
            drop(writing);
        });
        stalled.push(async move {
            tokio::time::sleep(Duration::from_secs(4)).await;
            // Only now read: what was sent, then the end the server put to it.
            let mut answer = Vec::new();
            let read =
                tokio::time::timeout(Duration::from_secs(10), reading.read_to_end(&mut answer));
            read.await.is_ok()
        });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let fifth = app.get("/api/public", None).await;
    assert_eq!(fifth.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    for closed in futures::future::join_all(stalled).await {
        assert!(closed, "a stalled connection was left open");
    }
}

/// No address holds more than its share of connections: past it, a connection is closed at
/// once, and the share comes back when one closes.
#[tokio::test]
async fn one_client_cannot_hold_more_than_its_share_of_connections() {
    let app = TestApp::builder()
        .settings(|s| s.limits.max_connections_per_client = 2)
        .spawn()
        .await;
    let first = TcpStream::connect(addr(&app)).await.unwrap();
    let _second = TcpStream::connect(addr(&app)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(addr(&app)).await.unwrap();
    third
        .write_all(b"GET /api/public HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .ok();
    assert_eq!(
        read_to_close(&mut third).await,
        "",
        "closed without an answer"
    );
    drop(first);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut again = TcpStream::connect(addr(&app)).await.unwrap();
    again
        .write_all(b"GET /api/public HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    assert!(read_to_close(&mut again).await.starts_with("HTTP/1.1 200"));
}

/// SIGTERM (here: the shutdown future) finishes what is under way, but waits no longer than
/// the shutdown timeout for a connection that will not finish.
#[tokio::test]
async fn a_shutdown_waits_for_a_stuck_connection_no_longer_than_its_deadline() {
    let tenant = spawn_tenant(&[&KEY]).await;
    let mut settings = settings_for(tenant.issuer());
    settings.limits.shutdown_timeout = Duration::from_secs(1);
    settings.limits.write_timeout = Duration::from_secs(60);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(api::serve(listener, settings, async {
        let _ = stopped.await;
    }));
    // A client that never reads, its answers stuck in the socket.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(1024).unwrap();
    let stream = socket.connect(at).await.unwrap();
    let (_reading, mut writing) = stream.into_split();
    let request = "GET /api/public HTTP/1.1\r\nHost: x\r\n\r\n".repeat(5000);
    tokio::spawn(async move { writing.write_all(request.as_bytes()).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    stop.send(()).unwrap();
    let stopped = tokio::time::timeout(Duration::from_secs(5), server).await;
    assert!(stopped.is_ok(), "the server did not stop within 5 s");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}
