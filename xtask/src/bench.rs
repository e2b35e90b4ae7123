//! `cargo xtask bench`: the API under load, in release mode, against the development tenant on
//! loopback, driven by `wrk` (Debian's). Prints one table: requests/s, p50/p99 latency, server
//! CPU time per request (from /proc), peak RSS, and private-scoped / public from the same run;
//! then the cold start (100 concurrent first requests: JWKS fetches) and an unknown-`kid`
//! storm (JWKS fetches bounded by the cooldown).

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use std::path::Path;

use crate::servers::{
    Profile, Tenant, build_servers, free_port, http, start_tenant, wait_until_answering,
};
use crate::{root, step};

const ENDPOINTS: [&str; 3] = ["/api/public", "/api/private", "/api/private-scoped"];
const CONNECTIONS: [u32; 3] = [16, 64, 256];
const SECONDS_PER_RUN: u32 = 2;
/// Rounds per row, interleaving the endpoints; the row is the median round. Two cores shared
/// by wrk and the API make single runs vary by ±15 %.
const ROUNDS: usize = 5;
/// The API's default, which the storm is bounded by.
const REFETCH_COOLDOWN: Duration = Duration::from_secs(10);

struct Run {
    endpoint: &'static str,
    connections: u32,
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_us_per_request: f64,
}

/// A process stopped when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn bench() -> Result<(), String> {
    ensure_wrk()?;
    let bin_dir = build_servers(Profile::Release)?;
    let (child, tenant) = start_tenant(&bin_dir, &free_port()?)?;
    let _tenant = Process(child);
    let token = tenant.machine_token()?;
    let servers = Servers {
        bin_dir: &bin_dir,
        tenant: &tenant,
        token: &token,
    };
    let cold = servers.cold_start()?;
    let mut report = servers.throughput()?;
    report.runs.push(servers.cache_off()?);
    report.print(&cold);
    Ok(())
}

/// What the measurements run against: the release binaries, the tenant, a token.
struct Servers<'a> {
    bin_dir: &'a Path,
    tenant: &'a Tenant,
    token: &'a str,
}

/// One API process, stopped when dropped.
struct Api {
    process: Process,
    addr: String,
}

impl Servers<'_> {
    /// A fresh API against the tenant, with its defaults but the token cache size.
    fn start_api(&self, cache_size: &str) -> Result<Api, String> {
        let addr = free_port()?;
        let child = Command::new(self.bin_dir.join("api"))
            .current_dir(root())
            .envs(self.tenant.api_env.iter().map(|(k, v)| (k, v)))
            .env("API_ADDR", &addr)
            .env("RUST_LOG", "warn")
            .env("TOKEN_CACHE_SIZE", cache_size)
            .spawn()
            .map_err(|e| format!("cannot start the API: {e}"))?;
        Ok(Api {
            process: Process(child),
            addr,
        })
    }

    fn jwks_fetches(&self) -> Result<u64, String> {
        jwks_fetches(&self.tenant.addr)
    }

    /// 100 concurrent first requests on a fresh API: time, answers, JWKS fetches.
    fn cold_start(&self) -> Result<ColdStart, String> {
        let before = self.jwks_fetches()?;
        let api = self.start_api("10000")?;
        let (time, ok) = cold_start(&api.addr, self.token)?;
        Ok(ColdStart {
            time,
            ok,
            fetches: self.jwks_fetches()? - before,
        })
    }

    /// Every endpoint at every concurrency, interleaved rounds; then the unknown-kid storm
    /// on the same warm API.
    fn throughput(&self) -> Result<Report, String> {
        let api = self.start_api("10000")?;
        wait_until_answering(&api.addr, "/healthz", Duration::from_secs(30))?;
        let pid = api.process.0.id();
        let (mut runs, mut paired_ratios, mut peaks) = (Vec::new(), Vec::new(), Vec::new());
        for connections in CONNECTIONS {
            reset_peak_rss(pid);
            let rounds = self.rounds(&api.addr, pid, connections)?;
            paired_ratios.push((connections, paired_ratio(&rounds[0], &rounds[2])));
            runs.extend(rounds.into_iter().map(median));
            peaks.push((connections, peak_rss_kib(pid)?));
        }
        let before = self.jwks_fetches()?;
        let (requests, elapsed) = unknown_kid_storm(&api.addr)?;
        let storm = Storm {
            requests,
            elapsed,
            fetches: self.jwks_fetches()? - before,
        };
        Ok(Report {
            runs,
            paired_ratios,
            peaks,
            storm,
        })
    }

    /// [`ROUNDS`] rounds of every endpoint in turn, so the machine's drift spreads evenly.
    fn rounds(&self, addr: &str, pid: u32, connections: u32) -> Result<Vec<Vec<Run>>, String> {
        let mut rounds: Vec<Vec<Run>> = ENDPOINTS.iter().map(|_| Vec::new()).collect();
        for _ in 0..ROUNDS {
            for (i, endpoint) in ENDPOINTS.into_iter().enumerate() {
                rounds[i].push(measure(addr, pid, endpoint, self.token, connections)?);
            }
        }
        Ok(rounds)
    }

    /// What the cache saves: the scoped endpoint with every request paying the RSA check.
    fn cache_off(&self) -> Result<Run, String> {
        let api = self.start_api("0")?;
        wait_until_answering(&api.addr, "/healthz", Duration::from_secs(30))?;
        let pid = api.process.0.id();
        let run = measure(&api.addr, pid, "/api/private-scoped", self.token, 64)?;
        Ok(Run {
            endpoint: "/api/private-scoped (cache off)",
            ..run
        })
    }
}

/// private-scoped / public, round by round: the two runs of a round are adjacent in time, so
/// the machine's drift cancels out of their ratio. The median of the rounds' ratios.
fn paired_ratio(public: &[Run], scoped: &[Run]) -> f64 {
    let mut ratios: Vec<f64> = public
        .iter()
        .zip(scoped)
        .map(|(public, scoped)| scoped.requests_per_sec / public.requests_per_sec)
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios[ratios.len() / 2]
}

struct ColdStart {
    time: Duration,
    ok: usize,
    fetches: u64,
}

struct Storm {
    requests: usize,
    elapsed: Duration,
    fetches: u64,
}

fn ensure_wrk() -> Result<(), String> {
    if Command::new("wrk").arg("--version").output().is_ok() {
        return Ok(());
    }
    step(
        "apt-get update",
        Command::new("apt-get").args(["update", "-qq"]),
    )?;
    step(
        "installing wrk from Debian",
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "wrk"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn jwks_fetches(tenant_addr: &str) -> Result<u64, String> {
    let (_, body) = http(tenant_addr, "GET", "/_devtenant/stats", &[], "")
        .map_err(|e| format!("tenant stats: {e}"))?;
    body.split("\"jwks_fetches\":")
        .nth(1)
        .and_then(|rest| rest.trim_end_matches('}').trim().parse().ok())
        .ok_or_else(|| format!("tenant stats: {body}"))
}

/// 100 concurrent first requests to `/api/private` as soon as the API listens: how long until
/// all are answered, and whether all got 200.
fn cold_start(api_addr: &str, token: &str) -> Result<(Duration, usize), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(api_addr).is_err() {
        if Instant::now() > deadline {
            return Err("the API did not start".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let started = Instant::now();
    let bearer = format!("Bearer {token}");
    let answers: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..100)
            .map(|_| {
                let bearer = bearer.as_str();
                scope.spawn(move || {
                    http(
                        api_addr,
                        "GET",
                        "/api/private",
                        &[("Authorization", bearer)],
                        "",
                    )
                    .map(|(status, _)| status)
                    .unwrap_or(0)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
    });
    Ok((
        started.elapsed(),
        answers.iter().filter(|&&s| s == 200).count(),
    ))
}

/// 8 clients sending tokens with made-up `kid`s for 3 seconds.
fn unknown_kid_storm(api_addr: &str) -> Result<(usize, Duration), String> {
    let started = Instant::now();
    let payload = URL_SAFE_NO_PAD.encode(r#"{"iss":"x","sub":"x","aud":"x","exp":9999999999}"#);
    let sent: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|client| {
                let payload = payload.as_str();
                scope.spawn(move || {
                    let mut sent = 0;
                    while started.elapsed() < Duration::from_secs(3) {
                        let header = URL_SAFE_NO_PAD.encode(format!(
                            r#"{{"alg":"RS256","kid":"storm-{client}-{sent}"}}"#
                        ));
                        let bearer = format!("Bearer {header}.{payload}.c2ln");
                        let _ = http(
                            api_addr,
                            "GET",
                            "/api/private",
                            &[("Authorization", &bearer)],
                            "",
                        );
                        sent += 1;
                    }
                    sent
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    Ok((sent, started.elapsed()))
}

/// One row: a short warm-up, then a measured run with the API's CPU time per request.
fn measure(
    addr: &str,
    pid: u32,
    endpoint: &'static str,
    token: &str,
    connections: u32,
) -> Result<Run, String> {
    // Warm-up: connections, caches, the JWKS.
    wrk(addr, endpoint, token, connections, 1)?;
    let cpu_before = cpu_ticks(pid)?;
    let (requests, mut run) = wrk(addr, endpoint, token, connections, SECONDS_PER_RUN)?;
    let cpu = cpu_ticks(pid)? - cpu_before;
    run.cpu_us_per_request = cpu as f64 * 1e6 / ticks_per_second() / requests.max(1) as f64;
    Ok(run)
}

/// The round with the median throughput.
fn median(mut rounds: Vec<Run>) -> Run {
    rounds.sort_by(|a, b| a.requests_per_sec.total_cmp(&b.requests_per_sec));
    rounds.swap_remove(rounds.len() / 2)
}

/// Runs wrk; returns the request count and the run's figures.
fn wrk(
    addr: &str,
    endpoint: &'static str,
    token: &str,
    connections: u32,
    seconds: u32,
) -> Result<(u64, Run), String> {
    let output = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
        ])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .arg(format!("http://{addr}{endpoint}"))
        .output()
        .map_err(|e| format!("wrk: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if text.contains("Non-2xx") {
        return Err(format!("{endpoint} answered errors under load:\n{text}"));
    }
    let value_after = |label: &str| {
        text.lines().find_map(|line| {
            line.trim()
                .strip_prefix(label)
                .map(|rest| rest.trim().to_owned())
        })
    };
    let latency = |label: &str| value_after(label).and_then(|v| parse_duration_ms(&v));
    let requests: u64 = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("wrk printed no request count:\n{text}"))?;
    let run = Run {
        endpoint,
        connections,
        requests_per_sec: value_after("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("wrk printed no Requests/sec:\n{text}"))?,
        p50_ms: latency("50%").ok_or("wrk printed no p50")?,
        p99_ms: latency("99%").ok_or("wrk printed no p99")?,
        cpu_us_per_request: 0.0,
    };
    Ok((requests, run))
}

/// `812.00us`, `1.23ms`, `2.01s` → milliseconds.
fn parse_duration_ms(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    match unit {
        "us" => Some(number / 1000.0),
        "ms" => Some(number),
        "s" => Some(number * 1000.0),
        _ => None,
    }
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    Ok(field(11) + field(12))
}

fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Linux: writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS, so each
/// concurrency level gets its own peak.
fn reset_peak_rss(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

fn peak_rss_kib(pid: u32) -> Result<u64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmHWM in /proc/PID/status".to_owned())
}

/// What the bench measured on one warm API.
struct Report {
    runs: Vec<Run>,
    paired_ratios: Vec<(u32, f64)>,
    peaks: Vec<(u32, u64)>,
    storm: Storm,
}

impl Report {
    fn print(&self, cold: &ColdStart) {
        let Report {
            runs,
            paired_ratios,
            peaks,
            storm,
        } = self;
        let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
        println!("\n## API benchmark (cargo xtask bench)\n");
        println!(
            "Release build, {cpus} CPUs shared by wrk (-t1) and the API, loopback; each row the median of {ROUNDS} interleaved {SECONDS_PER_RUN}-second runs; API with its defaults (token cache on); a machine token with read:messages.\n"
        );
        println!("| endpoint | conns | req/s | p50 ms | p99 ms | CPU µs/req |");
        println!("|---|---:|---:|---:|---:|---:|");
        for run in runs {
            println!(
                "| `{}` | {} | {:.0} | {:.2} | {:.2} | {:.1} |",
                run.endpoint,
                run.connections,
                run.requests_per_sec,
                run.p50_ms,
                run.p99_ms,
                run.cpu_us_per_request
            );
        }
        println!();
        for (connections, ratio) in paired_ratios {
            let find = |endpoint: &str| {
                runs.iter()
                    .find(|r| r.endpoint == endpoint && r.connections == *connections)
            };
            if let (Some(public), Some(scoped)) = (find("/api/public"), find("/api/private-scoped"))
            {
                println!(
                    "- {connections} connections: private-scoped / public throughput = {ratio:.2} (median of the rounds' ratios), p99 {:+.2} ms",
                    scoped.p99_ms - public.p99_ms
                );
            }
        }
        for (connections, kib) in peaks {
            println!(
                "- peak RSS of the API under {connections} connections: {:.1} MiB",
                *kib as f64 / 1024.0
            );
        }
        println!(
            "- cold start: 100 concurrent first requests, {} answered 200 in {} ms, {} JWKS fetch(es)",
            cold.ok,
            cold.time.as_millis(),
            cold.fetches
        );
        let bound = 1 + storm.elapsed.as_secs() / REFETCH_COOLDOWN.as_secs();
        println!(
            "- unknown-kid storm: {} tokens with made-up kids in {:.1} s, {} JWKS fetch(es) (bound by the {} s cooldown: {bound})",
            storm.requests,
            storm.elapsed.as_secs_f64(),
            storm.fetches,
            REFETCH_COOLDOWN.as_secs()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_durations_are_read_in_milliseconds() {
        assert_eq!(parse_duration_ms("812.00us"), Some(0.812));
        assert_eq!(parse_duration_ms("1.23ms"), Some(1.23));
        assert_eq!(parse_duration_ms("2.00s"), Some(2000.0));
        assert_eq!(parse_duration_ms("fast"), None);
    }
}
