//! `cargo xtask image`: the deployable image, built on this machine with no registry.
//!
//! The artifacts go to `target/image/rootfs/`, the image's whole filesystem: the API built
//! without the development tenant (`--no-default-features`) with the shared objects it links
//! (glibc's loader, libc, libm, libgcc_s, as distroless/cc ships them), the SPA's release build,
//! and the roots of trust for an https JWKS. `--artifacts-only` stops there (the
//! `Containerfile`'s build stage runs that).
//!
//! glibc rather than a static musl build: on `/api/private-scoped` musl's allocator cost 1.6x
//! glibc's CPU per request, and musl with mimalloc, 1.07x the CPU, held 21.9 MiB at 256
//! connections against glibc's 14.2 (docs/performance.md). Otherwise the image is built with podman from the `Containerfile`'s own runtime
//! stage (its `COPY --from=build` lines read from `target/image/` instead), and `check` runs it
//! as an orchestrator would: read-only, non-root, no capabilities, against the development
//! tenant; the three endpoints, the SPA and `/metrics` answer; SIGTERM stops it cleanly. Then
//! the Kubernetes base's pod is played with it (`deploy::play`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::servers::{free_port, http, start_tenant, target_dir, wait_until_answering};
use crate::{cargo, root, step};

/// Named explicitly, so that this build keeps its own folder and never replaces the
/// development build's `target/release/api` (whose features differ).
pub const TARGET: &str = "x86_64-unknown-linux-gnu";
pub const TAG: &str = "localhost/quickstart-api:check";

pub fn image(args: &[String]) -> Result<(), String> {
    match args {
        [] => {
            let dir = artifacts()?;
            build(&dir)?;
            println!("==> built {TAG} ({})", size()?);
            Ok(())
        }
        [flag] if flag == "--artifacts-only" => artifacts().map(drop),
        [flag] if flag == "--check" => {
            crate::servers::build_servers(crate::servers::Profile::Debug)?;
            check()
        }
        other => Err(format!(
            "`cargo xtask image` takes --artifacts-only or --check (got {other:?})"
        )),
    }
}

fn image_dir() -> PathBuf {
    target_dir().join("image")
}

/// Builds the API (no development tenant) and the SPA into `target/image/rootfs/`.
pub fn artifacts() -> Result<PathBuf, String> {
    crate::spa::build()?;
    step(
        "building the deployable API (release, --no-default-features)",
        cargo()
            .args(["build", "--locked", "--release", "--package", "api"])
            .args(["--no-default-features", "--target", TARGET])
            // Symbols are for debuggers, not for the image.
            .env("CARGO_PROFILE_RELEASE_STRIP", "symbols"),
    )?;
    let dir = image_dir();
    let rootfs = dir.join("rootfs");
    let _ = std::fs::remove_dir_all(&dir);
    let api = target_dir().join(TARGET).join("release").join("api");
    place(&api, &rootfs.join("api"))?;
    for library in shared_objects(&api)? {
        let inside = library.strip_prefix("/").unwrap_or(&library);
        place(&library, &rootfs.join(inside))?;
    }
    let certificates = Path::new("/etc/ssl/certs/ca-certificates.crt");
    place(
        certificates,
        &rootfs.join("etc/ssl/certs/ca-certificates.crt"),
    )?;
    step(
        "copying the SPA's release build",
        Command::new("cp")
            .args(["-r"])
            .arg(root().join("dist"))
            .arg(rootfs.join("dist")),
    )?;
    Ok(dir)
}

/// Copies `from` to `to`, making its folder.
fn place(from: &Path, to: &Path) -> Result<(), String> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::copy(from, to)
        .map(drop)
        .map_err(|e| format!("{}: {e}", from.display()))
}

/// The shared objects `binary` loads, the loader included, as `ldd` finds them.
fn shared_objects(binary: &Path) -> Result<Vec<PathBuf>, String> {
    let output = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|e| format!("ldd: {e}"))?;
    let listed = String::from_utf8_lossy(&output.stdout);
    let objects: Vec<PathBuf> = listed
        .lines()
        .filter_map(|line| {
            let path = match line.split_once("=>") {
                Some((_, after)) => after.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect();
    match objects
        .iter()
        .any(|o| o.to_string_lossy().contains("ld-linux"))
    {
        true => Ok(objects),
        false => Err(format!("ldd found no loader for the API: {listed}")),
    }
}

/// podman with runc (crun does not start containers under this machine's cgroups), and
/// limits below this machine's: podman's defaults (a million open files, as many processes as
/// the host) are more than this sandbox lets a container raise to. The API needs a file per
/// connection, up to 4096.
pub fn podman() -> Command {
    let config = target_dir().join("containers.conf");
    let _ = std::fs::create_dir_all(target_dir());
    let _ = std::fs::write(
        &config,
        "[containers]\ndefault_ulimits = [\"nofile=16384:16384\", \"nproc=1024:1024\"]\n",
    );
    let mut command = Command::new("podman");
    command
        .env("CONTAINERS_CONF", config)
        .args(["--runtime", "runc"]);
    command
}

/// The `Containerfile`'s runtime stage (from its last `FROM` on), reading what it copies from
/// the build stage out of `target/image/` instead.
pub fn runtime_stage(containerfile: &str) -> Result<String, String> {
    let lines: Vec<&str> = containerfile.lines().collect();
    let start = lines
        .iter()
        .rposition(|line| line.starts_with("FROM "))
        .ok_or("the Containerfile has no FROM")?;
    let mut stage = String::new();
    for line in &lines[start..] {
        let line = match line.strip_prefix("COPY --from=build ") {
            Some(rest) => {
                let (from, to) = rest
                    .split_once(' ')
                    .ok_or_else(|| format!("a COPY without a destination: {line}"))?;
                let local = from
                    .strip_prefix("/src/target/image/")
                    .ok_or_else(|| format!("a COPY not from target/image/: {line}"))?;
                format!("COPY {local} {to}")
            }
            None => (*line).to_owned(),
        };
        stage.push_str(&line);
        stage.push('\n');
    }
    Ok(stage)
}

fn build(dir: &Path) -> Result<(), String> {
    crate::tools::ensure_podman()?;
    let containerfile = std::fs::read_to_string(root().join("Containerfile"))
        .map_err(|e| format!("Containerfile: {e}"))?;
    let local = dir.join("Containerfile.runtime");
    std::fs::write(&local, runtime_stage(&containerfile)?).map_err(|e| e.to_string())?;
    step(
        &format!("building the image {TAG} with podman (FROM scratch)"),
        podman()
            .args(["build", "--quiet", "--tag", TAG, "--file"])
            .arg(&local)
            .arg(dir),
    )
}

/// The image's size, as podman reports it.
fn size() -> Result<String, String> {
    let output = podman()
        .args(["image", "inspect", "--format", "{{.Size}}", TAG])
        .output()
        .map_err(|e| format!("podman: {e}"))?;
    let bytes: u64 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .map_err(|_| "podman did not say the image's size".to_owned())?;
    Ok(format!("{:.1} MB, {bytes} bytes", bytes as f64 / 1e6))
}

/// Builds the image and runs it as deployed: read-only, non-root, no capabilities.
pub fn check() -> Result<(), String> {
    println!("==> the deployable image: built here, run read-only, non-root, no capabilities");
    let dir = artifacts()?;
    build(&dir)?;
    println!("    {TAG}: {}", size()?);
    let (tenant_process, tenant) = start_tenant(&target_dir().join("debug"), &free_port()?)?;
    let _tenant = crate::run::Processes::from(("the development tenant", tenant_process));
    let (addr, metrics) = (free_port()?, free_port()?);
    let name = format!("quickstart-check-{}", std::process::id());
    let mut run = podman();
    run.args(["run", "--detach", "--name", &name, "--network", "host"])
        .args(["--read-only", "--user", "65532:65532", "--cap-drop", "ALL"])
        .args(["--security-opt", "no-new-privileges"])
        .args(["--env", &format!("API_ADDR={addr}")])
        .args(["--env", &format!("METRICS_ADDR={metrics}")]);
    for (key, value) in &tenant.api_env {
        run.args(["--env", &format!("{key}={value}")]);
    }
    step("starting the container", run.arg(TAG))?;
    let container = Container(name);
    let checked = answers(&addr, &metrics, &tenant);
    let stopped = container.stop();
    checked.and(stopped)?;
    crate::deploy::play(&tenant)
}

/// The endpoints, the SPA and the metrics, from outside the container.
fn answers(addr: &str, metrics: &str, tenant: &crate::servers::Tenant) -> Result<(), String> {
    wait_until_answering(addr, "/readyz", Duration::from_secs(30))?;
    let bearer = format!("Bearer {}", tenant.machine_token()?);
    for (at, path, auth, expected) in [
        (addr, "/api/public", None, "Hello from a public endpoint!"),
        (
            addr,
            "/api/private",
            Some(bearer.as_str()),
            "You need to be authenticated",
        ),
        (
            addr,
            "/api/private-scoped",
            Some(bearer.as_str()),
            "read:messages",
        ),
        (addr, "/ping", None, "<script src=\"/init-"),
        (
            metrics,
            "/metrics",
            None,
            "http_requests_total{route=\"/api/private\",status=\"200\"} 1",
        ),
    ] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        let (status, body) =
            http(at, "GET", path, &headers, "").map_err(|e| format!("{path}: {e}"))?;
        if status != 200 || !body.contains(expected) {
            return Err(format!("the container's {path} answered {status}: {body}"));
        }
        println!("    {path}: {status}");
    }
    Ok(())
}

/// A container stopped (SIGTERM, then its exit code read) and removed when dropped.
struct Container(String);

impl Container {
    /// SIGTERM, as an orchestrator stops it: it must exit 0 within the shutdown timeout.
    fn stop(&self) -> Result<(), String> {
        step(
            "stopping it with SIGTERM",
            podman().args(["stop", "--time", "20", &self.0]),
        )?;
        let output = podman()
            .args(["inspect", "--format", "{{.State.ExitCode}}", &self.0])
            .output()
            .map_err(|e| format!("podman inspect: {e}"))?;
        let code = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        match code.as_str() {
            "0" => {
                println!("    stopped cleanly (exit code 0)");
                Ok(())
            }
            other => Err(format!("the container exited with {other} on SIGTERM")),
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman().args(["rm", "--force", &self.0]).output();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_stage_reads_the_build_stages_files_from_target_image() {
        let file = "FROM rust AS build\nRUN make\n\nFROM scratch\nCOPY --from=build /src/target/image/rootfs/ /\nUSER 1\n";
        assert_eq!(
            runtime_stage(file).unwrap(),
            "FROM scratch\nCOPY rootfs/ /\nUSER 1\n"
        );
        let elsewhere = "FROM scratch\nCOPY --from=build /etc/passwd /etc/passwd\n";
        assert!(runtime_stage(elsewhere).is_err());
    }

    #[test]
    fn ldd_gives_the_loader_and_the_libraries() {
        let objects = shared_objects(Path::new("/bin/ls")).unwrap();
        assert!(
            objects.iter().any(|o| o.ends_with("libc.so.6")),
            "{objects:?}"
        );
    }

    #[test]
    fn the_containerfile_is_built_from_scratch_as_a_non_root_user() {
        let file = std::fs::read_to_string(root().join("Containerfile")).unwrap();
        let stage = runtime_stage(&file).unwrap();
        assert!(stage.starts_with("FROM scratch\n"), "{stage}");
        assert!(stage.contains("\nUSER 65532:65532\n"), "{stage}");
        assert!(stage.contains("COPY rootfs/ /"), "{stage}");
    }
}
