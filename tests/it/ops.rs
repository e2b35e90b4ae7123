//! What an operator sees of the API: the request id on every answer and error body, and the
//! metrics, read the way Prometheus reads them (and checked by `promtool` where it is
//! installed; `cargo xtask test` installs it).

use std::process::{Command, Stdio};

use integration_tests::*;

fn request_id(response: &reqwest::Response) -> String {
    response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_error_bodies_repeat_it() {
    let app = TestApp::spawn().await;
    let made = request_id(&app.get("/api/public", None).await);
    let parts: Vec<&str> = made.split('-').collect();
    assert_eq!(parts.len(), 3, "{made}: prefix-thread-count");
    assert_eq!(parts[0].len(), 16, "{made}");
    assert!(
        parts.iter().all(|p| u64::from_str_radix(p, 16).is_ok()),
        "{made}"
    );
    assert_ne!(made, request_id(&app.get("/api/public", None).await));

    // A proxy's id is kept, in the header and in the body.
    let refused = app
        .client
        .get(format!("{}/api/private", app.base))
        .header("X-Request-Id", "lb-7f3a:9")
        .bearer_auth("x.y.z")
        .send()
        .await
        .unwrap();
    assert_eq!(request_id(&refused), "lb-7f3a:9");
    let answer = error_answer(refused).await;
    assert_eq!(answer.body.request_id.as_deref(), Some("lb-7f3a:9"));

    // One that cannot be repeated safely is replaced.
    let odd = app
        .client
        .get(format!("{}/api/nowhere", app.base))
        .header("X-Request-Id", "\"><script>")
        .send()
        .await
        .unwrap();
    let id = request_id(&odd);
    assert_ne!(id, "\"><script>");
    assert_eq!(error_answer(odd).await.body.request_id, Some(id));
}

#[tokio::test]
async fn metrics_count_requests_refusals_keys_and_cache_hits() {
    let app = TestApp::spawn().await;
    let reader = app.reader().await;
    let guest = app.guest().await;
    for _ in 0..3 {
        assert_eq!(reader.get("/api/private-scoped").await.status(), 200);
    }
    assert_eq!(guest.get("/api/private-scoped").await.status(), 403);
    assert_eq!(app.get("/api/private", None).await.status(), 401);
    let expired = app.token(&[("exp", serde_json::json!(now() - 600))]);
    assert_eq!(app.get("/api/private", Some(&expired)).await.status(), 401);
    for (sample, value) in [
        (
            r#"http_requests_total{route="/api/private-scoped",status="200"}"#,
            3.0,
        ),
        (
            r#"http_requests_total{route="/api/private-scoped",status="403"}"#,
            1.0,
        ),
        (
            r#"http_requests_total{route="/api/private",status="401"}"#,
            2.0,
        ),
        (r#"api_refusals_total{reason="insufficient_scope"}"#, 1.0),
        (r#"api_refusals_total{reason="missing_token"}"#, 1.0),
        (r#"api_refusals_total{reason="expired"}"#, 1.0),
        (r#"api_jwks_fetches_total{outcome="changed"}"#, 1.0),
        ("api_jwks_generation", 1.0),
        (
            r#"http_request_duration_seconds_count{route="/api/private-scoped"}"#,
            4.0,
        ),
    ] {
        assert_eq!(app.metric(sample).await, value, "{sample}");
    }
    // The reader's repeats skipped validation (on its keep-alive connection or not).
    let hits = app
        .metric(r#"api_token_cache_lookups_total{result="memo_hit"}"#)
        .await
        + app
            .metric(r#"api_token_cache_lookups_total{result="hit"}"#)
            .await;
    assert!(hits >= 2.0, "{hits}");
    // The key set's age is there once it is loaded, and grows.
    let age = app.metric("api_jwks_age_seconds").await;
    assert!(app.scrape().await.contains("\napi_jwks_age_seconds "));
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert!(app.metric("api_jwks_age_seconds").await > age);
}

/// `http_connections_open` counts connections while they are open, and no longer.
#[tokio::test]
async fn open_connections_are_counted_until_they_close() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let gauge = "http_connections_open";
    let before = app.metric(gauge).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: api\r\n\r\n")
            .await
            .unwrap();
        let mut answer = [0u8; 12];
        stream.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"HTTP/1.1 200");
        open.push(stream);
    }
    assert_eq!(app.metric(gauge).await, before + 3.0);
    drop(open);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while app.metric(gauge).await != before {
        assert!(
            std::time::Instant::now() < deadline,
            "the gauge never came back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn metrics_are_in_prometheus_text_format_and_not_on_the_public_port() {
    let app = TestApp::spawn().await;
    app.reader().await.get("/api/private").await;
    app.get("/api/private", None).await;
    let answer = app.client.get(&app.metrics).send().await.unwrap();
    assert_eq!(
        answer.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = answer.text().await.unwrap();
    assert_eq!(app.get("/metrics", None).await.status(), 404);
    match promtool_check(&text) {
        Ok(()) => {}
        Err(why) if std::env::var_os("E2E_REQUIRED").is_none() => {
            eprintln!("promtool did not check the metrics: {why}");
        }
        Err(why) => panic!("{why}\n{text}"),
    }
}

/// `promtool check metrics` on `text`: Prometheus' own parser and linter.
fn promtool_check(text: &str) -> Result<(), String> {
    use std::io::Write as _;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "promtool is not installed ({e}): `cargo xtask test` installs Debian's prometheus"
            )
        })?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    match output.status.success() {
        true => Ok(()),
        false => Err(format!(
            "promtool check metrics refused them: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )),
    }
}

/// The per-connection memo is wired to real connections: repeats on one keep-alive connection
/// are memo hits; the same token on a new connection is a shared-cache hit, and that
/// connection remembers it from then on.
#[tokio::test]
async fn a_keep_alive_connection_remembers_its_token_and_a_new_one_uses_the_shared_cache() {
    let app = TestApp::spawn().await;
    let token = app.token(&[]);
    let lookups = |result: &'static str| {
        let app = &app;
        async move {
            app.metric(&format!(
                r#"api_token_cache_lookups_total{{result="{result}"}}"#
            ))
            .await
        }
    };
    // One client, requests one after another: one connection.
    for _ in 0..3 {
        assert_eq!(app.get("/api/private", Some(&token)).await.status(), 200);
    }
    assert_eq!(lookups("miss").await, 1.0, "verified once");
    assert_eq!(
        lookups("memo_hit").await,
        2.0,
        "then remembered by the connection"
    );
    assert_eq!(lookups("hit").await, 0.0);
    let other = reqwest::Client::new();
    for _ in 0..2 {
        let answer = other
            .get(format!("{}/api/private", app.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    assert_eq!(
        lookups("hit").await,
        1.0,
        "a new connection finds it shared"
    );
    assert_eq!(lookups("memo_hit").await, 3.0, "and remembers it");
    assert_eq!(lookups("miss").await, 1.0);
}
