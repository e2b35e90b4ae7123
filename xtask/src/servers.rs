//! The servers the commands start: building the API and the development tenant, starting
//! the tenant and reading the settings it hands the API, waiting until a server answers, and
//! the minimal HTTP client the commands use to talk to them.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::{cargo, root, step};

#[derive(Clone, Copy)]
pub enum Profile {
    Release,
    Debug,
}

impl Profile {
    fn dir(self) -> &'static str {
        match self {
            Profile::Release => "release",
            Profile::Debug => "debug",
        }
    }
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// Builds the API and the tenant; returns where their binaries are.
pub fn build_servers(profile: Profile) -> Result<PathBuf, String> {
    let mut build = cargo();
    build.args([
        "build",
        "--locked",
        "--package",
        "api",
        "--package",
        "devtenant",
    ]);
    if let Profile::Release = profile {
        build.arg("--release");
    }
    step("building the API and the development tenant", &mut build)?;
    Ok(target_dir().join(profile.dir()))
}

/// A started development tenant: the settings the API takes from it, and its
/// machine-to-machine client.
pub struct Tenant {
    pub addr: String,
    pub issuer: String,
    /// `AUTH0_*`, as `devtenant env` prints them.
    pub api_env: Vec<(String, String)>,
    m2m_client_id: String,
    m2m_client_secret: String,
}

impl Tenant {
    /// A client-credentials token for the API, granted `read:messages`: what the README's curl
    /// recipe gets.
    pub fn machine_token(&self) -> Result<String, String> {
        let form = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&audience={}",
            form_value(&self.m2m_client_id),
            form_value(&self.m2m_client_secret),
            form_value(self.env("AUTH0_AUDIENCE")),
        );
        let content_type = ("Content-Type", "application/x-www-form-urlencoded");
        let (status, body) = http(&self.addr, "POST", "/oauth/token", &[content_type], &form)
            .map_err(|e| format!("the tenant did not answer: {e}"))?;
        body.split("\"access_token\":\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .filter(|_| status == 200)
            .map(str::to_owned)
            .ok_or_else(|| format!("no token from /oauth/token ({status}): {body}"))
    }

    /// The machine-to-machine client's ID and secret.
    pub fn m2m_client(&self) -> (&str, &str) {
        (&self.m2m_client_id, &self.m2m_client_secret)
    }

    pub fn env(&self, name: &str) -> &str {
        self.api_env
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// Starts `bin_dir/devtenant` on `addr`, its key kept in the checkout's `.devtenant/`, and
/// waits until it answers.
pub fn start_tenant(bin_dir: &Path, addr: &str) -> Result<(Child, Tenant), String> {
    start_tenant_in(bin_dir, addr, &root().join(".devtenant"))
}

/// [`start_tenant`], its key kept in `data_dir`.
pub fn start_tenant_in(
    bin_dir: &Path,
    addr: &str,
    data_dir: &Path,
) -> Result<(Child, Tenant), String> {
    let devtenant = |subcommand: &str| {
        let mut command = Command::new(bin_dir.join("devtenant"));
        command
            .current_dir(root())
            .env("DEVTENANT_LISTEN", addr)
            .env("DEVTENANT_DATA_DIR", data_dir)
            .arg(subcommand);
        command
    };
    // The API's settings come from the tenant's own configuration.
    let settings = devtenant("env")
        .output()
        .map_err(|e| format!("cannot run devtenant: {e}"))?;
    if !settings.status.success() {
        return Err(String::from_utf8_lossy(&settings.stderr).trim().to_owned());
    }
    let printed: Vec<(String, String)> = String::from_utf8_lossy(&settings.stdout)
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let value = |name: &str| {
        printed
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .ok_or(format!("devtenant env printed no {name}"))
    };
    let (issuer, m2m_client_id, m2m_client_secret) = (
        value("AUTH0_ISSUER")?,
        value("DEVTENANT_M2M_CLIENT_ID")?,
        value("DEVTENANT_M2M_CLIENT_SECRET")?,
    );
    let api_env = printed
        .into_iter()
        .filter(|(k, _)| k.starts_with("AUTH0_"))
        .collect();
    let child = devtenant("serve")
        .spawn()
        .map_err(|e| format!("cannot start devtenant: {e}"))?;
    let tenant = Tenant {
        addr: addr.to_owned(),
        issuer,
        api_env,
        m2m_client_id,
        m2m_client_secret,
    };
    // The API fetches the tenant's keys as it starts: let the tenant be up first.
    wait_until_answering(
        addr,
        "/.well-known/openid-configuration",
        Duration::from_secs(30),
    )?;
    Ok((child, tenant))
}

pub fn wait_until_answering(addr: &str, path: &str, within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if http(addr, "GET", path, &[], "").is_ok_and(|(status, _)| status == 200) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "http://{addr}{path} did not answer within {within:?}"
    ))
}

/// A minimal HTTP/1.1 exchange over loopback: enough for the smoke test, without pulling an
/// HTTP client into the crate every command builds first.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// A value for an `application/x-www-form-urlencoded` body: everything but RFC 3986's
/// unreserved characters percent-encoded.
fn form_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn free_port() -> Result<String, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
    Ok(addr.to_string())
}
