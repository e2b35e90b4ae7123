//! `cargo xtask lb`: three API replicas (release builds) behind HAProxy (Debian's), health
//! checks on `/readyz`, `wrk` driving `/api/private-scoped` through it, while:
//!
//! 1. the replicas are restarted one by one (SIGTERM, then started again): a rolling restart;
//! 2. the tenant rotates its key (`devtenant rotate-key`) and tokens of the new key join those
//!    of the old one, both published;
//! 3. the tenant is down for 30 s (the replicas' keys age past `JWKS_MAX_AGE` meanwhile), then
//!    back.
//!
//! Each phase reports requests served and failures (non-2xx answers and socket errors); every
//! one must be zero. Too long for every test run: its figures are in docs/performance.md.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::run::Processes;
use crate::servers::{
    Profile, Tenant, build_servers, free_port, http, start_tenant_in, target_dir,
    wait_until_answering,
};
use crate::{root, step};

const REPLICAS: usize = 3;
const CONNECTIONS: u32 = 32;
/// Short, so that the outage outlasts the keys' age and the replicas' refreshes fail.
const JWKS_MAX_AGE: &str = "10s";

/// What wrk saw in one run.
#[derive(Debug, Default, Clone, Copy)]
struct Served {
    requests: u64,
    non_2xx: u64,
    socket_errors: u64,
}

impl Served {
    fn failures(&self) -> u64 {
        self.non_2xx + self.socket_errors
    }

    fn add(self, other: Served) -> Served {
        Served {
            requests: self.requests + other.requests,
            non_2xx: self.non_2xx + other.non_2xx,
            socket_errors: self.socket_errors + other.socket_errors,
        }
    }
}

pub fn lb() -> Result<(), String> {
    crate::bench::ensure_wrk()?;
    ensure_haproxy()?;
    let bin_dir = build_servers(Profile::Release)?;
    let dir = target_dir().join("lb");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let tenant_addr = free_port()?;
    let (tenant_child, tenant) = start_tenant_in(&bin_dir, &tenant_addr, &dir)?;
    let mut stack = Stack {
        bin_dir,
        dir,
        tenant,
        tenant_child: Some(tenant_child),
        replicas: Vec::new(),
        balancer: Processes::default(),
        front: free_port()?,
    };
    for _ in 0..REPLICAS {
        let addr = free_port()?;
        let child = stack.start_replica(&addr)?;
        stack.replicas.push((addr, Some(child)));
    }
    stack.start_balancer()?;
    let results = [
        (
            "rolling restart of the 3 replicas",
            stack.rolling_restart()?,
        ),
        (
            "tenant key rotation (old and new key's tokens)",
            stack.key_rotation()?,
        ),
        ("tenant down for 30 s, then back", stack.outage()?),
    ];
    println!("\n## Replicas behind HAProxy (cargo xtask lb)\n");
    println!(
        "{REPLICAS} API replicas (release), HAProxy 2.6 with health checks on /readyz, wrk -c{CONNECTIONS} on /api/private-scoped through it; JWKS_MAX_AGE={JWKS_MAX_AGE}.\n"
    );
    println!("| phase | requests | non-2xx | socket errors |");
    println!("|---|---:|---:|---:|");
    for (phase, served) in &results {
        println!(
            "| {phase} | {} | {} | {} |",
            served.requests, served.non_2xx, served.socket_errors
        );
    }
    let failed: u64 = results.iter().map(|(_, s)| s.failures()).sum();
    match failed {
        0 => Ok(()),
        n => Err(format!("{n} requests failed through the load balancer")),
    }
}

fn ensure_haproxy() -> Result<(), String> {
    if Command::new("haproxy").arg("-v").output().is_ok() {
        return Ok(());
    }
    crate::tools::apt_install(&["haproxy"])
}

/// The tenant, the replicas and the load balancer in front of them.
struct Stack {
    bin_dir: PathBuf,
    dir: PathBuf,
    tenant: Tenant,
    tenant_child: Option<Child>,
    replicas: Vec<(String, Option<Child>)>,
    balancer: Processes,
    front: String,
}

impl Drop for Stack {
    fn drop(&mut self) {
        let children = self.replicas.iter_mut().filter_map(|(_, c)| c.as_mut());
        for child in children.chain(self.tenant_child.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Stack {
    fn start_replica(&self, addr: &str) -> Result<Child, String> {
        let child = Command::new(self.bin_dir.join("api"))
            .current_dir(root())
            .envs(self.tenant.api_env.iter().map(|(k, v)| (k, v)))
            .env("API_ADDR", addr)
            .env("RUST_LOG", "warn")
            .env("JWKS_MAX_AGE", JWKS_MAX_AGE)
            .spawn()
            .map_err(|e| format!("cannot start a replica: {e}"))?;
        wait_until_answering(addr, "/readyz", Duration::from_secs(30))?;
        Ok(child)
    }

    fn start_balancer(&mut self) -> Result<(), String> {
        let config = self.dir.join("haproxy.cfg");
        std::fs::write(&config, haproxy_config(&self.front, &self.replicas))
            .map_err(|e| e.to_string())?;
        let child = Command::new("haproxy")
            .arg("-f")
            .arg(&config)
            .arg("-db")
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start haproxy: {e}"))?;
        self.balancer.add("haproxy", child);
        wait_until_answering(&self.front, "/readyz", Duration::from_secs(30))
    }

    /// wrk through the balancer with `token`, for `seconds`, in a thread.
    fn load(&self, token: &str, seconds: u32) -> JoinHandle<Result<Served, String>> {
        let (front, token) = (self.front.clone(), token.to_owned());
        std::thread::spawn(move || wrk(&front, &token, seconds))
    }

    fn rolling_restart(&mut self) -> Result<Served, String> {
        println!("==> phase 1: rolling restart under load");
        let token = self.tenant.machine_token()?;
        let load = self.load(&token, 20);
        for i in 0..self.replicas.len() {
            std::thread::sleep(Duration::from_secs(3));
            let addr = self.replicas[i].0.clone();
            if let Some(mut child) = self.replicas[i].1.take() {
                terminate(&mut child)?;
            }
            self.replicas[i].1 = Some(self.start_replica(&addr)?);
            println!("    replica {} restarted", i + 1);
        }
        load.join().map_err(|_| "wrk thread panicked")?
    }

    fn key_rotation(&mut self) -> Result<Served, String> {
        println!("==> phase 2: the tenant rotates its key under load");
        let old = self.tenant.machine_token()?;
        let before = self.load(&old, 12);
        std::thread::sleep(Duration::from_secs(3));
        step(
            "devtenant rotate-key",
            Command::new(self.bin_dir.join("devtenant"))
                .arg("rotate-key")
                .env("DEVTENANT_DATA_DIR", &self.dir)
                .stdout(Stdio::null()),
        )?;
        // The running tenant picks the new key up at once; its tokens carry the new kid.
        std::thread::sleep(Duration::from_millis(300));
        let new = self.tenant.machine_token()?;
        if kid(&new) == kid(&old) {
            return Err("the tenant did not sign with a new key after rotate-key".into());
        }
        let after = self.load(&new, 8);
        let old_served = before.join().map_err(|_| "wrk thread panicked")??;
        let new_served = after.join().map_err(|_| "wrk thread panicked")??;
        println!(
            "    old key's token: {} requests; new key's: {}",
            old_served.requests, new_served.requests
        );
        Ok(old_served.add(new_served))
    }

    fn outage(&mut self) -> Result<Served, String> {
        println!("==> phase 3: the tenant down for 30 s under load");
        let token = self.tenant.machine_token()?;
        let load = self.load(&token, 40);
        std::thread::sleep(Duration::from_secs(3));
        if let Some(mut child) = self.tenant_child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        std::thread::sleep(Duration::from_secs(30));
        let (child, _) = start_tenant_in(&self.bin_dir, &self.tenant.addr, &self.dir)?;
        self.tenant_child = Some(child);
        let served = load.join().map_err(|_| "wrk thread panicked")??;
        // Back to normal: a token issued now still passes every replica.
        let token = self.tenant.machine_token()?;
        let bearer = format!("Bearer {token}");
        for (addr, _) in &self.replicas {
            let (status, _) = http(
                addr,
                "GET",
                "/api/private-scoped",
                &[("Authorization", &bearer)],
                "",
            )
            .map_err(|e| e.to_string())?;
            if status != 200 {
                return Err(format!(
                    "after the outage, replica {addr} answered {status}"
                ));
            }
        }
        println!("    back to normal: every replica answers a fresh token with 200");
        Ok(served)
    }
}

/// SIGTERM, as an orchestrator stops a replica, and its exit.
fn terminate(child: &mut Child) -> Result<(), String> {
    step(
        "SIGTERM to a replica",
        Command::new("kill").args(["-TERM", &child.id().to_string()]),
    )?;
    let status = child.wait().map_err(|e| e.to_string())?;
    match status.success() {
        true => Ok(()),
        false => Err(format!("a replica stopped badly on SIGTERM ({status})")),
    }
}

/// The `kid` of a JWT's header.
fn kid(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap_or_default();
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&json).into_owned();
    text.split("\"kid\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

/// HAProxy in front of the replicas: health checks on `/readyz` every 200 ms; a request that
/// finds its replica gone (refused, or its connection closed without an answer) is retried on
/// another, as a production balancer should be set up.
fn haproxy_config(front: &str, replicas: &[(String, Option<Child>)]) -> String {
    let servers: String = replicas
        .iter()
        .enumerate()
        .map(|(i, (addr, _))| format!("  server api{i} {addr} check maxconn 512\n"))
        .collect();
    format!(
        "global\n  maxconn 4096\n\n\
         defaults\n  mode http\n  timeout connect 1s\n  timeout client 30s\n  timeout server 30s\n  \
         retries 3\n  option redispatch 1\n  retry-on conn-failure empty-response response-timeout\n\n\
         frontend front\n  bind {front}\n  default_backend api\n\n\
         backend api\n  balance roundrobin\n  option httpchk GET /readyz\n  http-check expect status 200\n  \
         default-server inter 200ms fall 1 rise 1\n{servers}"
    )
}

/// wrk against `front`'s `/api/private-scoped` with `token`.
fn wrk(front: &str, token: &str, seconds: u32) -> Result<Served, String> {
    let output = Command::new("wrk")
        .args(["-t1", &format!("-c{CONNECTIONS}"), &format!("-d{seconds}s")])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .arg(format!("http://{front}/api/private-scoped"))
        .output()
        .map_err(|e| format!("wrk: {e}"))?;
    parse_wrk(&String::from_utf8_lossy(&output.stdout))
}

/// Requests, non-2xx answers and socket errors from wrk's report.
fn parse_wrk(text: &str) -> Result<Served, String> {
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("wrk printed no request count:\n{text}"))?;
    let non_2xx = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let socket_errors = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Socket errors:"))
        .map(|rest| {
            rest.split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Ok(Served {
        requests,
        non_2xx,
        socket_errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrks_failures_are_read() {
        let text = "  1000 requests in 2.00s, 1.00MB read\n  Socket errors: connect 2, read 3, write 0, timeout 1\n  Non-2xx or 3xx responses: 7\nRequests/sec: 500.0\n";
        let served = parse_wrk(text).unwrap();
        assert_eq!(
            (served.requests, served.non_2xx, served.socket_errors),
            (1000, 7, 6)
        );
        let clean = parse_wrk("  10 requests in 1.00s, 1KB read\n").unwrap();
        assert_eq!(clean.failures(), 0);
    }
}
