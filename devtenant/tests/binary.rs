//! The `devtenant` binary as `cargo xtask run` starts it: it serves, prints what the API needs,
//! and stops cleanly on SIGTERM, as the API does.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

fn devtenant(data_dir: &std::path::Path, addr: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_devtenant"));
    command
        .env("DEVTENANT_LISTEN", addr)
        .env("DEVTENANT_DATA_DIR", data_dir)
        .env_remove("DEVTENANT_CONFIG")
        .env_remove("RUST_LOG");
    command
}

#[test]
fn env_prints_the_apis_settings_and_the_machine_client() {
    let dir = tempfile::Builder::new()
        .prefix("devtenant-env-")
        .tempdir()
        .unwrap();
    let output = devtenant(dir.path(), "127.0.0.1:4999")
        .arg("env")
        .output()
        .unwrap();
    let printed = String::from_utf8(output.stdout).unwrap();
    for line in [
        "AUTH0_ISSUER=http://localhost:4999/",
        "AUTH0_AUDIENCE=https://quickstarts/api",
        "AUTH0_CLIENT_ID=rustquickstartspa000000000000000",
        "DEVTENANT_M2M_CLIENT_ID=rustquickstartm2m000000000000000",
        "DEVTENANT_M2M_CLIENT_SECRET=dev-secret-not-for-production",
    ] {
        assert!(printed.lines().any(|l| l == line), "{line} in {printed}");
    }
}

#[test]
fn sigterm_stops_the_tenant_cleanly() {
    let dir = tempfile::Builder::new()
        .prefix("devtenant-term-")
        .tempdir()
        .unwrap();
    let addr = free_addr();
    let mut child = devtenant(dir.path(), &addr)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("Development tenant") {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "exited before serving"
        );
    }
    assert!(std::net::TcpStream::connect(&addr).is_ok());
    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(sent.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
}
