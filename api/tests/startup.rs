//! The `api` binary as a person starts it: configuration mistakes end in one line that says
//! what to set (no panic, no backtrace), `.env` is read, SIGTERM shuts it down cleanly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A scratch directory (so no developer's `.env` is read) and the binary with no tenant
/// settings inherited from the environment.
fn api(dir: &PathBuf) -> Command {
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
        "RUST_LOG",
    ] {
        command.env_remove(var);
    }
    command
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("api-startup-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the binary with `env` and returns its exit code and stderr, asserting the error is
/// exactly one line, with no panic or backtrace.
fn startup_error(name: &str, env: &[(&str, &str)]) -> String {
    let dir = scratch_dir(name);
    let output = api(&dir).envs(env.iter().copied()).output().unwrap();
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
fn no_tenant_configured_says_what_to_set() {
    let error = startup_error("none", &[]);
    assert!(
        error.contains("AUTH0_DOMAIN=example.us.auth0.com"),
        "{error}"
    );
    assert!(error.contains("AUTH0_ISSUER="), "{error}");
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
        dir.join(".env"),
        "AUTH0_ISSUER=http://127.0.0.1:9/\nAUTH0_AUDIENCE=https://quickstarts/api\nAPI_ADDR=127.0.0.1:0\n",
    )
    .unwrap();
    let mut child = api(&dir)
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
