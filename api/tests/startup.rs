//! The `api` binary as a person starts it: with nothing configured (a debug build) it runs
//! against the development tenant it starts itself; configuration mistakes end in one line
//! that says what to set (no panic, no backtrace); `.env` is read; SIGTERM shuts it down
//! cleanly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A scratch directory (so no developer's `.env` is read) and the binary with no tenant
/// settings inherited from the environment.
fn api(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_api"));
    command.current_dir(dir).env("RUST_BACKTRACE", "1");
    for var in [
        "AUTH0_DOMAIN",
        "AUTH0_ISSUER",
        "AUTH0_AUDIENCE",
        "AUTH0_CLIENT_ID",
        "JWKS_URL",
        "API_ADDR",
        "ALLOWED_ORIGINS",
        "SPA_DIR",
        "SPA_SESSION_STORAGE",
        "JWKS_MAX_AGE",
        "JWKS_REFETCH_COOLDOWN",
        "JWKS_FETCH_TIMEOUT",
        "JWT_LEEWAY",
        "TOKEN_CACHE_SIZE",
        "SPA_LOGIN_FLOW",
        "SPA_REFRESH_TOKENS",
        "HSTS_MAX_AGE",
        "DEVTENANT",
        "DEVTENANT_LISTEN",
        "DEVTENANT_DATA_DIR",
        "LOG_FORMAT",
        "METRICS_ADDR",
        "RUST_LOG",
        "DPOP",
        "PUBLIC_URL",
        "DPOP_PROOF_MAX_AGE",
        "DPOP_REPLAY_CACHE_SIZE",
        "DPOP_NONCE",
        "SPA_DPOP",
    ] {
        command.env_remove(var);
    }
    command
}

/// A directory of its own for one run, removed when the test ends (passed or not).
fn scratch_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("api-startup-{name}-"))
        .tempdir()
        .unwrap()
}

/// Runs the binary with `env` and returns its exit code and stderr, asserting the error is
/// exactly one line, with no panic or backtrace.
fn startup_error(name: &str, env: &[(&str, &str)]) -> String {
    let dir = scratch_dir(name);
    let output = api(dir.path()).envs(env.iter().copied()).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{name}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
    assert!(stderr.starts_with("error: "), "{name}: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    stderr
}

#[test]
fn no_tenant_configured_and_the_development_tenant_off_says_what_to_set() {
    let error = startup_error("none", &[("DEVTENANT", "off")]);
    assert!(
        error.contains("AUTH0_DOMAIN=example.us.auth0.com"),
        "{error}"
    );
    assert!(error.contains("AUTH0_ISSUER="), "{error}");
}

#[test]
fn the_development_tenant_is_never_started_for_an_api_beyond_this_machine() {
    // Refused before anything listens: 0.0.0.0 is never bound.
    let error = startup_error("beyond", &[("API_ADDR", "0.0.0.0:3001")]);
    assert!(error.contains("API_ADDR=127.0.0.1:3001"), "{error}");
    assert!(error.contains("AUTH0_DOMAIN="), "{error}");
}

/// The first line of `child`'s output that contains `marker`, from where it starts.
fn line_with(stdout: &mut impl BufRead, marker: &str) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the API exited before printing {marker:?}"
        );
        if let Some(at) = line.find(marker) {
            return line[at + marker.len()..].trim_end().to_owned();
        }
    }
}

/// A GET over loopback, as `(status, body)`.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

#[test]
fn with_nothing_configured_it_starts_the_development_tenant_and_says_so() {
    let dir = scratch_dir("devtenant");
    let mut child = api(dir.path())
        .envs([
            ("API_ADDR", "127.0.0.1:0"),
            ("DEVTENANT_LISTEN", "127.0.0.1:0"),
            ("DEVTENANT_DATA_DIR", dir.path().to_str().unwrap()),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let issuer = line_with(&mut stdout, "using the development tenant at ");
    assert!(issuer.starts_with("http://localhost:"), "{issuer}");
    line_with(&mut stdout, "Log in as reader@example.com / reader");
    line_with(&mut stdout, "AUTH0_DOMAIN=");
    let addr = line_with(&mut stdout, "listening on http://");
    let addr = addr.split_whitespace().next().unwrap().to_owned();
    // Its keys load without any request asking for them, and the SPA's settings are its.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while get(&addr, "/readyz").0 != 200 {
        assert!(std::time::Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, settings) = get(&addr, "/auth_config.json");
    assert_eq!(status, 200);
    assert!(
        settings.contains("\"clientId\":\"rustquickstartspa000000000000000\""),
        "{settings}"
    );
    assert!(dir.path().join("signing-keys.json").is_file());
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn missing_audience_says_what_to_set() {
    let error = startup_error("audience", &[("AUTH0_DOMAIN", "example.us.auth0.com")]);
    assert!(
        error.contains("AUTH0_AUDIENCE=https://quickstarts/api"),
        "{error}"
    );
}

#[test]
fn malformed_values_are_named_with_an_example() {
    let base = [("AUTH0_AUDIENCE", "https://quickstarts/api")];
    for (var, value, example) in [
        (
            "AUTH0_DOMAIN",
            "http://example.auth0.com",
            "AUTH0_DOMAIN=example.us.auth0.com",
        ),
        (
            "AUTH0_DOMAIN",
            "example.auth0.com/path",
            "AUTH0_DOMAIN=example.us.auth0.com",
        ),
        ("AUTH0_ISSUER", "127.0.0.1:4010", "AUTH0_ISSUER=https://"),
    ] {
        let mut env = base.to_vec();
        env.push((var, value));
        let error = startup_error(var, &env);
        assert!(error.contains(example), "{var}={value}: {error}");
    }
    for (var, value, example) in [
        (
            "ALLOWED_ORIGINS",
            "*",
            "ALLOWED_ORIGINS=http://localhost:3000",
        ),
        ("API_ADDR", "localhost", "API_ADDR=127.0.0.1:3001"),
        ("JWKS_MAX_AGE", "forever", "JWKS_MAX_AGE=10m"),
        ("JWT_LEEWAY", "1h", "JWT_LEEWAY=5s"),
    ] {
        let mut env = base.to_vec();
        env.extend([("AUTH0_DOMAIN", "example.us.auth0.com"), (var, value)]);
        let error = startup_error(var, &env);
        assert!(error.contains(example), "{var}={value}: {error}");
    }
}

/// A provider on loopback whose discovery document is `document(issuer)`, answering every
/// request with it: `http://127.0.0.1:{port}`, its issuer as it should be.
fn discovery_server(document: fn(&str) -> String) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let body = document(&issuer);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    issuer
}

/// A provider's document that a test changes with `changes` (JSON members, replacing).
fn provider_document(issuer: &str, changes: &str) -> String {
    format!(
        r#"{{"issuer":"{issuer}","authorization_endpoint":"{issuer}/auth","token_endpoint":"{issuer}/token","jwks_uri":"{issuer}/jwks","response_types_supported":["code"],"code_challenge_methods_supported":["S256"]{changes}}}"#
    )
}

#[test]
fn a_provider_that_cannot_serve_the_configured_login_stops_the_start_in_one_line() {
    // Its document names another issuer: whatever the rest, nothing from it is trusted.
    let issuer = discovery_server(|issuer| {
        provider_document(issuer, "").replace(
            &format!(r#""issuer":"{issuer}""#),
            r#""issuer":"https://other.example.com""#,
        )
    });
    let audience = ("AUTH0_AUDIENCE", "https://quickstarts/api");
    let error = startup_error("other-issuer", &[("AUTH0_ISSUER", &issuer), audience]);
    assert!(error.contains("https://other.example.com"), "{error}");
    assert!(error.contains(&issuer), "{error}");
    // No S256 for the code flow: the line names both ways out.
    let issuer =
        discovery_server(|issuer| provider_document(issuer, "").replace(r#""S256""#, r#""plain""#));
    let code = [
        ("AUTH0_ISSUER", issuer.as_str()),
        audience,
        ("AUTH0_CLIENT_ID", "spa"),
        ("SPA_LOGIN_FLOW", "code"),
    ];
    let error = startup_error("no-s256", &code);
    assert!(error.contains("S256"), "{error}");
    assert!(error.contains("SPA_LOGIN_FLOW=implicit"), "{error}");
    // The implicit flow (the default) from a provider that only answers codes.
    let implicit = [
        ("AUTH0_ISSUER", issuer.as_str()),
        audience,
        ("AUTH0_CLIENT_ID", "spa"),
    ];
    let error = startup_error("no-implicit", &implicit);
    assert!(error.contains("SPA_LOGIN_FLOW=code"), "{error}");
}

#[test]
fn address_in_use_is_reported_not_a_panic() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let error = startup_error(
        "in-use",
        &[
            ("AUTH0_DOMAIN", "example.us.auth0.com"),
            ("AUTH0_AUDIENCE", "https://quickstarts/api"),
            ("API_ADDR", &addr),
        ],
    );
    assert!(error.contains("cannot listen"), "{error}");
}

#[test]
fn dotenv_is_read_and_sigterm_shuts_down_gracefully() {
    let dir = scratch_dir("dotenv");
    // Nothing listens at this issuer: the API must start anyway.
    std::fs::write(
        dir.path().join(".env"),
        "AUTH0_ISSUER=http://127.0.0.1:9/\nAUTH0_AUDIENCE=https://quickstarts/api\nAPI_ADDR=127.0.0.1:0\n",
    )
    .unwrap();
    let mut child = api(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the API exited before listening"
        );
        if let Some(at) = line.find("listening on http://") {
            let rest = &line[at + "listening on http://".len()..];
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /api/public?access_token=secret-in-query HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret-in-header\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("Hello from a public endpoint!"));

    // The access log (on at the default level) has the request, by its path only.
    let logged = loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "no access log line"
        );
        if line.contains("/api/public") {
            break line.clone();
        }
    };
    assert!(logged.contains("status=200"), "{logged}");
    assert!(!logged.contains("secret"), "{logged}");

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// `LOG_FORMAT=json`: one JSON object per line, the access line with the request's id (the
/// proxy's), its status and the refusal's reason code, never the token; `/metrics` on its own
/// port.
#[test]
fn json_logs_carry_the_request_id_and_reason_and_metrics_have_their_own_port() {
    let dir = scratch_dir("json");
    let metrics = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let metrics_addr = metrics.local_addr().unwrap().to_string();
    drop(metrics);
    let mut child = api(dir.path())
        .envs([
            ("AUTH0_ISSUER", "http://127.0.0.1:9/"),
            ("AUTH0_AUDIENCE", "https://quickstarts/api"),
            ("API_ADDR", "127.0.0.1:0"),
            ("LOG_FORMAT", "json"),
            ("METRICS_ADDR", metrics_addr.as_str()),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let listening = line_with(&mut stdout, "listening on http://");
    let addr = listening.split('"').next().unwrap().to_owned();
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .write_all(b"GET /api/private HTTP/1.1\r\nHost: x\r\nX-Request-Id: proxy-42\r\nAuthorization: Bearer secret.token.here\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    assert!(
        response.contains("\"request_id\":\"proxy-42\""),
        "{response}"
    );
    let line = line_with(&mut stdout, "\"request_id\":\"proxy-42\"");
    let line = format!("{{\"request_id\":\"proxy-42\"{line}");
    let logged: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(logged["status"], 401);
    assert_eq!(logged["path"], "/api/private");
    assert_eq!(logged["reason"], "malformed_header");
    assert!(!line.contains("secret"), "{line}");
    let (status, metrics) = get(&metrics_addr, "/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("api_refusals_total{reason=\"malformed_header\"} 1"),
        "{metrics}"
    );
    assert_eq!(get(&addr, "/metrics").0, 404);
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(child.wait().unwrap().code(), Some(0));
}
