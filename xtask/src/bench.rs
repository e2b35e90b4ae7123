//! `cargo xtask bench`: the API under load, in release mode, against the development tenant on
//! loopback, driven by `wrk` (Debian's). Prints one table: requests/s, p50/p99 latency, server
//! CPU time per request (from /proc), peak RSS, and private-scoped / public from the same run,
//! for the API with logs at `warn` and for the API with the production defaults (the access
//! log at `info`, in JSON, to a file; `/metrics` on); then DPoP (a fresh proof per request,
//! made beforehand by `tests/src/bin/dpop-proofs.rs`, against the same endpoint with a bearer
//! token); then the cold start (100 concurrent first requests: JWKS fetches) and an
//! unknown-`kid` storm (JWKS fetches bounded by the backoff).

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use std::path::Path;

use crate::servers::{
    Profile, Tenant, build_servers, free_port, http, start_tenant, wait_until_answering,
};
use crate::{root, step};

const CONNECTIONS: [u32; 3] = [16, 64, 256];
const SECONDS_PER_RUN: u32 = 2;
/// Rounds per row, interleaving the servers and endpoints; the row is the median round. Two
/// cores shared by wrk and the server make single runs vary by ±15 %.
const ROUNDS: usize = 5;
/// The API's defaults, which bound the storm: the least pause between fetches, doubled by
/// each fruitless one up to the cooldown.
const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(1);
const REFETCH_COOLDOWN: Duration = Duration::from_secs(10);

/// One measured run of wrk against one target.
struct Run {
    target: &'static str,
    connections: u32,
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_us_per_request: f64,
}

/// What wrk is pointed at: a server process and a path.
#[derive(Clone)]
struct Target {
    name: &'static str,
    addr: String,
    pid: u32,
    path: &'static str,
}

/// A process stopped when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn bench(args: &[String]) -> Result<(), String> {
    let dpop_only = match args {
        [] => false,
        [flag] if flag == "--dpop-only" => true,
        _ => return Err("usage: cargo xtask bench [--dpop-only]".into()),
    };
    ensure_wrk()?;
    let bin_dir = build_servers(Profile::Release)?;
    step(
        "building the floor (api/examples/floor.rs) and the DPoP proof maker",
        crate::cargo().args([
            "build",
            "--locked",
            "--release",
            "-p",
            "api",
            "--example",
            "floor",
            "-p",
            "integration-tests",
            "--bin",
            "dpop-proofs",
        ]),
    )?;
    let (child, tenant) = start_tenant(&bin_dir, &free_port()?)?;
    let _tenant = Process(child);
    let token = tenant.machine_token()?;
    let servers = Servers {
        bin_dir: &bin_dir,
        tenant: &tenant,
        token: &token,
    };
    if dpop_only {
        let report = Report {
            dpop: servers.dpop()?,
            ..Report::default()
        };
        report.print_dpop();
        return Ok(());
    }
    let cold = servers.cold_start()?;
    let mut report = servers.throughput()?;
    report.runs.push(servers.cache_off()?);
    report.dpop = servers.dpop()?;
    report.print(&cold);
    Ok(())
}

/// What the measurements run against: the release binaries, the tenant, a token.
struct Servers<'a> {
    bin_dir: &'a Path,
    tenant: &'a Tenant,
    token: &'a str,
}

/// How the API is run: quiet (logs at `warn`, no metrics), or as deployed.
#[derive(Clone, Copy, PartialEq)]
enum Telemetry {
    Quiet,
    /// The access log at `info`, in JSON, written to a file as a log collector's pipe would
    /// take it; `/metrics` on its own port.
    Production,
}

impl Servers<'_> {
    /// A fresh API against the tenant, with its defaults but the token cache size.
    fn start_api(
        &self,
        cache_size: &str,
        telemetry: Telemetry,
    ) -> Result<(Process, String), String> {
        self.start_api_with(cache_size, telemetry, &[])
    }

    fn start_api_with(
        &self,
        cache_size: &str,
        telemetry: Telemetry,
        env: &[(&str, &str)],
    ) -> Result<(Process, String), String> {
        let addr = free_port()?;
        let mut api = Command::new(self.bin_dir.join("api"));
        api.current_dir(root())
            .envs(self.tenant.api_env.iter().map(|(k, v)| (k, v)))
            .env("API_ADDR", &addr)
            .env("TOKEN_CACHE_SIZE", cache_size)
            .envs(env.iter().copied());
        match telemetry {
            Telemetry::Quiet => api.env("RUST_LOG", "warn"),
            Telemetry::Production => {
                let dir = crate::servers::target_dir().join("bench");
                std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
                let log = std::fs::File::create(dir.join("api-access.log"))
                    .map_err(|e| format!("target/bench/api-access.log: {e}"))?;
                api.env("RUST_LOG", "info")
                    .env("LOG_FORMAT", "json")
                    .env("METRICS_ADDR", free_port()?)
                    .stdout(log)
            }
        };
        let child = api
            .spawn()
            .map_err(|e| format!("cannot start the API: {e}"))?;
        Ok((Process(child), addr))
    }

    /// The floor: a bare axum server answering `/api/public` (`api/examples/floor.rs`).
    fn start_floor(&self) -> Result<(Process, String), String> {
        let addr = free_port()?;
        let child = Command::new(self.bin_dir.join("examples").join("floor"))
            .arg(&addr)
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the floor server: {e}"))?;
        Ok((Process(child), addr))
    }

    fn jwks_fetches(&self) -> Result<u64, String> {
        jwks_fetches(&self.tenant.addr)
    }

    /// 100 concurrent first requests on a fresh API: time, answers, JWKS fetches.
    fn cold_start(&self) -> Result<ColdStart, String> {
        let before = self.jwks_fetches()?;
        let (_api, addr) = self.start_api("10000", Telemetry::Quiet)?;
        let (time, ok) = cold_start(&addr, self.token)?;
        Ok(ColdStart {
            time,
            ok,
            fetches: self.jwks_fetches()? - before,
        })
    }

    /// The floor and the API's three endpoints at every concurrency, in interleaved rounds,
    /// and two of them again on an API with the production defaults; then the unknown-kid
    /// storm on the same warm API.
    fn throughput(&self) -> Result<Report, String> {
        let (floor, floor_addr) = self.start_floor()?;
        let (api, api_addr) = self.start_api("10000", Telemetry::Quiet)?;
        let (deployed, deployed_addr) = self.start_api("10000", Telemetry::Production)?;
        wait_until_answering(&floor_addr, "/api/public", Duration::from_secs(30))?;
        wait_until_answering(&api_addr, "/healthz", Duration::from_secs(30))?;
        wait_until_answering(&deployed_addr, "/healthz", Duration::from_secs(30))?;
        let on = |name, addr: &str, pid, path| Target {
            name,
            addr: addr.to_owned(),
            pid,
            path,
        };
        let (floor_pid, api_pid, deployed_pid) = (floor.0.id(), api.0.id(), deployed.0.id());
        let scoped = "/api/private-scoped";
        let targets = [
            on("floor /api/public", &floor_addr, floor_pid, "/api/public"),
            on("/api/public", &api_addr, api_pid, "/api/public"),
            on("/api/private", &api_addr, api_pid, "/api/private"),
            on(scoped, &api_addr, api_pid, scoped),
            on(
                PRODUCTION_PUBLIC,
                &deployed_addr,
                deployed_pid,
                "/api/public",
            ),
            on(PRODUCTION_SCOPED, &deployed_addr, deployed_pid, scoped),
        ];
        let mut report = Report::default();
        for connections in CONNECTIONS {
            reset_peak_rss(api_pid);
            reset_peak_rss(deployed_pid);
            let rounds = self.rounds(&targets, connections)?;
            report.add(connections, rounds);
            report.peaks.push((connections, peak_rss_kib(api_pid)?));
            report
                .production_peaks
                .push((connections, peak_rss_kib(deployed_pid)?));
        }
        let before = self.jwks_fetches()?;
        let (requests, elapsed) = unknown_kid_storm(&api_addr, &self.tenant.issuer)?;
        report.storm = Storm {
            requests,
            elapsed,
            fetches: self.jwks_fetches()? - before,
        };
        Ok(report)
    }

    /// [`ROUNDS`] rounds of every target in turn, so the machine's drift spreads evenly: for
    /// each target, its run of each round.
    fn rounds(&self, targets: &[Target], connections: u32) -> Result<Vec<Vec<Run>>, String> {
        let mut rounds: Vec<Vec<Run>> = targets.iter().map(|_| Vec::new()).collect();
        for _ in 0..ROUNDS {
            for (i, target) in targets.iter().enumerate() {
                rounds[i].push(measure(target, self.token, connections)?);
            }
        }
        Ok(rounds)
    }

    /// DPoP at 64 connections, in paired rounds: the floor, the scoped endpoint with the
    /// bearer token, and with a DPoP-bound token and a fresh proof per request (each proof
    /// made beforehand, used once). The API remembers every proof of the run (a replay cache
    /// of a million) for ten minutes, so that none is refused while the run uses them up.
    fn dpop(&self) -> Result<Vec<DpopRound>, String> {
        let (floor, floor_addr) = self.start_floor()?;
        let env = [
            ("DPOP_REPLAY_CACHE_SIZE", "1000000"),
            ("DPOP_PROOF_MAX_AGE", "10m"),
        ];
        let (api, addr) = self.start_api_with("10000", Telemetry::Quiet, &env)?;
        wait_until_answering(&floor_addr, "/api/public", Duration::from_secs(30))?;
        wait_until_answering(&addr, "/healthz", Duration::from_secs(30))?;
        let dir = crate::servers::target_dir().join("bench").join("dpop");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let (client_id, secret) = self.tenant.m2m_client();
        let uri = format!("http://{addr}/api/private-scoped");
        let files = (2 * DPOP_ROUNDS).to_string();
        // As the tenant names it (its issuer's host): the proof's htu must be that.
        let token_url = format!("{}oauth/token", self.tenant.issuer);
        let maker = crate::servers::target_dir()
            .join("release")
            .join("dpop-proofs");
        step(
            "making DPoP proofs for the benchmark (outside the measured process)",
            Command::new(maker)
                .args([
                    token_url.as_str(),
                    client_id,
                    secret,
                    self.tenant.env("AUTH0_AUDIENCE"),
                    &uri,
                    &PROOFS_PER_RUN.to_string(),
                    &files,
                ])
                .arg(&dir),
        )?;
        let script = dir.join("dpop.lua");
        std::fs::write(&script, DPOP_SCRIPT).map_err(|e| e.to_string())?;
        let target = |name, addr: &str, pid| Target {
            name,
            addr: addr.to_owned(),
            pid,
            path: "/api/private-scoped",
        };
        let floor = Target {
            path: "/api/public",
            ..target("floor /api/public", &floor_addr, floor.0.id())
        };
        let bearer = target("/api/private-scoped (bearer)", &addr, api.0.id());
        let dpop = target(DPOP_ROW, &addr, api.0.id());
        let mut rounds = Vec::new();
        for round in 0..DPOP_ROUNDS {
            let file = |n: usize| dir.join(format!("proofs-{n}.txt"));
            let with_proofs = Auth::Script {
                script: &script,
                warm_up: file(2 * round),
                measured: file(2 * round + 1),
            };
            rounds.push(DpopRound {
                floor: measure_with(&floor, &Auth::Bearer(self.token), 64)?,
                bearer: measure_with(&bearer, &Auth::Bearer(self.token), 64)?,
                dpop: measure_with(&dpop, &with_proofs, 64)?,
            });
        }
        Ok(rounds)
    }

    /// What the cache saves: the scoped endpoint with every request paying the RSA check.
    fn cache_off(&self) -> Result<Run, String> {
        let (api, addr) = self.start_api("0", Telemetry::Quiet)?;
        wait_until_answering(&addr, "/healthz", Duration::from_secs(30))?;
        let target = Target {
            name: "/api/private-scoped (cache off)",
            addr,
            pid: api.0.id(),
            path: "/api/private-scoped",
        };
        measure(&target, self.token, 64)
    }
}

/// `b / a`, round by round: the two runs of a round are adjacent in time, so the machine's
/// drift cancels out of their ratio. The median of the rounds' ratios.
fn paired_ratio(a: &[Run], b: &[Run], value: impl Fn(&Run) -> f64) -> f64 {
    let mut ratios: Vec<f64> = a.iter().zip(b).map(|(a, b)| value(b) / value(a)).collect();
    ratios.sort_by(f64::total_cmp);
    ratios[ratios.len() / 2]
}

struct ColdStart {
    time: Duration,
    ok: usize,
    fetches: u64,
}

#[derive(Default)]
struct Storm {
    requests: usize,
    elapsed: Duration,
    fetches: u64,
}

pub fn ensure_wrk() -> Result<(), String> {
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

/// 8 clients sending tokens with made-up `kid`s for 3 seconds: of the right issuer and issued
/// now, so that the API cannot rule their keys out as old or foreign.
fn unknown_kid_storm(api_addr: &str, issuer: &str) -> Result<(usize, Duration), String> {
    let started = Instant::now();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let payload = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"iss":"{issuer}","sub":"x","aud":"x","iat":{now},"exp":9999999999}}"#
    ));
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

/// How wrk presents the token: one bearer token, or a DPoP token with a fresh proof per
/// request, read by a Lua script from the file of the warm-up and of the measured run.
enum Auth<'a> {
    Bearer(&'a str),
    Script {
        script: &'a Path,
        warm_up: std::path::PathBuf,
        measured: std::path::PathBuf,
    },
}

/// DPoP's rounds, and the proofs each run may use (a run uses each once; more than wrk can
/// send in a run here).
const DPOP_ROUNDS: usize = 3;
const PROOFS_PER_RUN: usize = 60_000;
const DPOP_ROW: &str = "/api/private-scoped (DPoP, a fresh proof per request)";

/// wrk's script for DPoP: the file's first line is the token, each next line a proof, each
/// used once; when they run out, the API's refusals stop the benchmark ("answered errors").
const DPOP_SCRIPT: &str = r#"local token, proofs, i = nil, {}, 0
function init(args)
  local file = assert(io.open(args[1]))
  token = file:read("*l")
  for line in file:lines() do proofs[#proofs + 1] = line end
  file:close()
end
function request()
  i = i + 1
  local proof = proofs[i] or "exhausted"
  return wrk.format("GET", nil, { ["Authorization"] = "DPoP " .. token, ["DPoP"] = proof })
end
"#;

/// One DPoP round: the floor, the bearer row and the DPoP row, run one after the other.
struct DpopRound {
    floor: Run,
    bearer: Run,
    dpop: Run,
}

/// One run: a short warm-up, then a measured run with the server's CPU time per request.
fn measure(target: &Target, token: &str, connections: u32) -> Result<Run, String> {
    measure_with(target, &Auth::Bearer(token), connections)
}

fn measure_with(target: &Target, auth: &Auth<'_>, connections: u32) -> Result<Run, String> {
    // Warm-up: connections, caches, the JWKS.
    let (warm_up, measured) = match auth {
        Auth::Bearer(token) => (WrkAuth::Header(token), WrkAuth::Header(token)),
        Auth::Script {
            script,
            warm_up,
            measured,
        } => (
            WrkAuth::Script(script, warm_up),
            WrkAuth::Script(script, measured),
        ),
    };
    wrk(target, &warm_up, connections, 1)?;
    let cpu_before = cpu_ticks(target.pid)?;
    let (requests, mut run) = wrk(target, &measured, connections, SECONDS_PER_RUN)?;
    let cpu = cpu_ticks(target.pid)? - cpu_before;
    run.cpu_us_per_request = cpu as f64 * 1e6 / ticks_per_second() / requests.max(1) as f64;
    Ok(run)
}

/// What one wrk run sends: a bearer header, or a script and its proofs.
enum WrkAuth<'a> {
    Header(&'a str),
    Script(&'a Path, &'a Path),
}

/// The round with the median throughput.
fn median(mut rounds: Vec<Run>) -> Run {
    rounds.sort_by(|a, b| a.requests_per_sec.total_cmp(&b.requests_per_sec));
    rounds.swap_remove(rounds.len() / 2)
}

/// Runs wrk; returns the request count and the run's figures.
fn wrk(
    target: &Target,
    auth: &WrkAuth<'_>,
    connections: u32,
    seconds: u32,
) -> Result<(u64, Run), String> {
    let mut command = Command::new("wrk");
    command.args([
        "-t1",
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--latency",
    ]);
    match auth {
        WrkAuth::Header(token) => command.args(["-H", &format!("Authorization: Bearer {token}")]),
        WrkAuth::Script(script, _) => command.arg("-s").arg(script),
    };
    command.arg(format!("http://{}{}", target.addr, target.path));
    if let WrkAuth::Script(_, proofs) = auth {
        command.arg("--").arg(proofs);
    }
    let output = command.output().map_err(|e| format!("wrk: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if text.contains("Non-2xx") {
        let name = target.name;
        return Err(format!("{name} answered errors under load:\n{text}"));
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
        target: target.name,
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

/// What the bench measured.
#[derive(Default)]
struct Report {
    /// The median run of each target at each concurrency, then the cache-off run.
    runs: Vec<Run>,
    /// `(connections, target, req/s ÷ floor, CPU ÷ floor)`, paired round by round.
    floor_ratios: Vec<(u32, &'static str, f64, f64)>,
    /// `(connections, private-scoped ÷ public throughput)`, paired round by round.
    scoped_ratios: Vec<(u32, f64)>,
    peaks: Vec<(u32, u64)>,
    production_peaks: Vec<(u32, u64)>,
    storm: Storm,
    dpop: Vec<DpopRound>,
}

/// The rows of the API run with the production defaults.
const PRODUCTION_PUBLIC: &str = "/api/public (production defaults)";
const PRODUCTION_SCOPED: &str = "/api/private-scoped (production defaults)";

/// Targets at 64 connections: the API's CPU per request against the floor's.
const PUBLIC_CPU_TARGET: f64 = 1.15;
const SCOPED_CPU_TARGET: f64 = 1.25;
/// Peak RSS under 256 connections, MiB.
const RSS_TARGET_MIB: f64 = 16.0;

impl Report {
    /// One concurrency's rounds: the floor's first, then the API's public, private, scoped,
    /// then public and scoped with the production defaults.
    fn add(&mut self, connections: u32, rounds: Vec<Vec<Run>>) {
        let floor = &rounds[0];
        for runs in &rounds[1..] {
            let rps = paired_ratio(floor, runs, |r| r.requests_per_sec);
            let cpu = paired_ratio(floor, runs, |r| r.cpu_us_per_request);
            self.floor_ratios
                .push((connections, runs[0].target, rps, cpu));
        }
        let scoped = paired_ratio(&rounds[1], &rounds[3], |r| r.requests_per_sec);
        self.scoped_ratios.push((connections, scoped));
        self.runs.extend(rounds.into_iter().map(median));
    }

    fn versus_floor(&self, connections: u32, target: &str) -> Option<(f64, f64)> {
        self.floor_ratios
            .iter()
            .find(|(c, t, ..)| *c == connections && *t == target)
            .map(|(.., rps, cpu)| (*rps, *cpu))
    }

    fn print(&self, cold: &ColdStart) {
        let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
        println!("\n## API benchmark (cargo xtask bench)\n");
        println!(
            "Release builds, {cpus} CPUs shared by wrk (-t1) and the server, loopback; each row the median of {ROUNDS} interleaved {SECONDS_PER_RUN}-second runs, the ratios the median of each round's ratio to the floor run beside it. The floor is a bare axum server from the same crates (api/examples/floor.rs); the API runs with its defaults (token cache on) and a machine token with read:messages.\n"
        );
        println!("| target | conns | req/s | ÷ floor | p50 ms | p99 ms | CPU µs/req | ÷ floor |");
        println!("|---|---:|---:|---:|---:|---:|---:|---:|");
        for run in &self.runs {
            let (rps, cpu) = match self.versus_floor(run.connections, run.target) {
                Some((rps, cpu)) => (format!("{rps:.2}"), format!("{cpu:.2}")),
                None => ("—".into(), "—".into()),
            };
            println!(
                "| `{}` | {} | {:.0} | {rps} | {:.2} | {:.2} | {:.1} | {cpu} |",
                run.target,
                run.connections,
                run.requests_per_sec,
                run.p50_ms,
                run.p99_ms,
                run.cpu_us_per_request,
            );
        }
        println!();
        self.print_dpop();
        self.print_targets();
        self.print_jwks(cold);
    }

    /// DPoP's row, the median round, with its CPU per request against the floor's and the
    /// bearer row's, paired round by round.
    fn print_dpop(&self) {
        if self.dpop.is_empty() {
            return;
        }
        let ratio = |value: fn(&DpopRound) -> f64| {
            let mut ratios: Vec<f64> = self.dpop.iter().map(value).collect();
            ratios.sort_by(f64::total_cmp);
            ratios[ratios.len() / 2]
        };
        let over_floor = ratio(|r| r.dpop.cpu_us_per_request / r.floor.cpu_us_per_request);
        let over_bearer = ratio(|r| r.dpop.cpu_us_per_request / r.bearer.cpu_us_per_request);
        let bearer_over_floor = ratio(|r| r.bearer.cpu_us_per_request / r.floor.cpu_us_per_request);
        let mut runs: Vec<&Run> = self.dpop.iter().map(|r| &r.dpop).collect();
        runs.sort_by(|a, b| a.requests_per_sec.total_cmp(&b.requests_per_sec));
        let run = runs[runs.len() / 2];
        println!(
            "| `{}` | 64 | {:.0} | — | {:.2} | {:.2} | {:.1} | {over_floor:.2} |",
            run.target, run.requests_per_sec, run.p50_ms, run.p99_ms, run.cpu_us_per_request
        );
        println!();
        println!(
            "- 64 connections, DPoP: CPU per request = {over_floor:.2} × the floor's, {over_bearer:.2} × the same endpoint's with a bearer token ({bearer_over_floor:.2} × the floor's in these {DPOP_ROUNDS} rounds)"
        );
    }

    fn print_targets(&self) {
        let verdict = |met: bool| if met { "met" } else { "NOT met" };
        for (target, limit) in [
            ("/api/public", PUBLIC_CPU_TARGET),
            ("/api/private-scoped", SCOPED_CPU_TARGET),
            (PRODUCTION_PUBLIC, PUBLIC_CPU_TARGET),
            (PRODUCTION_SCOPED, SCOPED_CPU_TARGET),
        ] {
            if let Some((_, cpu)) = self.versus_floor(64, target) {
                println!(
                    "- 64 connections: {target} CPU per request = {cpu:.2} × the floor's (target ≤ {limit}: {})",
                    verdict(cpu <= limit)
                );
            }
        }
        for (connections, ratio) in &self.scoped_ratios {
            println!(
                "- {connections} connections: private-scoped / public throughput = {ratio:.2} (target ≥ 0.9 at 64: {})",
                verdict(*ratio >= 0.9 || *connections != 64)
            );
        }
        for (which, peaks) in [
            ("", &self.peaks),
            (" with the production defaults", &self.production_peaks),
        ] {
            for (connections, kib) in peaks {
                let mib = *kib as f64 / 1024.0;
                let note = match connections {
                    256 => format!(
                        " (target ≤ {RSS_TARGET_MIB} MiB: {})",
                        verdict(mib <= RSS_TARGET_MIB)
                    ),
                    _ => String::new(),
                };
                println!(
                    "- peak RSS of the API{which} under {connections} connections: {mib:.1} MiB{note}"
                );
            }
        }
    }

    fn print_jwks(&self, cold: &ColdStart) {
        println!(
            "- cold start: 100 concurrent first requests, {} answered 200 in {} ms, {} JWKS fetch(es)",
            cold.ok,
            cold.time.as_millis(),
            cold.fetches
        );
        let storm = &self.storm;
        println!(
            "- unknown-kid storm: {} tokens with made-up kids in {:.1} s, {} JWKS fetch(es) (bound by the backoff, 1 s doubling to the {} s cooldown: {})",
            storm.requests,
            storm.elapsed.as_secs_f64(),
            storm.fetches,
            REFETCH_COOLDOWN.as_secs(),
            storm_bound(storm.elapsed)
        );
    }
}

/// How many fetches made-up `kid`s can cause in `elapsed`: one at once, then, each finding
/// nothing, after pauses of 2 s, 4 s, 8 s, … up to the cooldown.
fn storm_bound(elapsed: Duration) -> u64 {
    let (mut at, mut pause, mut fetches) = (Duration::ZERO, MIN_REFETCH_INTERVAL * 2, 0);
    while at <= elapsed {
        fetches += 1;
        pause = pause.min(REFETCH_COOLDOWN);
        at += pause;
        pause *= 2;
    }
    fetches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_storm_bound_follows_the_backoff() {
        assert_eq!(storm_bound(Duration::from_millis(500)), 1);
        assert_eq!(storm_bound(Duration::from_secs(3)), 2);
        assert_eq!(storm_bound(Duration::from_secs(7)), 3);
        assert_eq!(storm_bound(Duration::from_secs(27)), 5);
    }

    #[test]
    fn wrk_durations_are_read_in_milliseconds() {
        assert_eq!(parse_duration_ms("812.00us"), Some(0.812));
        assert_eq!(parse_duration_ms("1.23ms"), Some(1.23));
        assert_eq!(parse_duration_ms("2.00s"), Some(2000.0));
        assert_eq!(parse_duration_ms("fast"), None);
    }
}
