//! The Kubernetes base (`deploy/base`), checked with no cluster: rendered by `kubectl
//! kustomize`, every object validated against Kubernetes' own schemas
//! (`kubernetes-validate --strict`, from PyPI, into `tools/venv`), and the rendered
//! Deployment's pod run by `podman kube play` with the image `cargo xtask image` built: it must
//! become ready against the development tenant and answer a token.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::image::podman;
use crate::servers::{Tenant, free_port, http, target_dir, wait_until_answering};
use crate::tools::tools_dir;
use crate::{root, step};

/// The kubernetes-validate release the check installs, and the oldest Kubernetes it checks
/// against: the first where `preStop: sleep` is on by default.
const KUBERNETES_VALIDATE: &str = "1.37.0";
const OLDEST_KUBERNETES: &str = "1.30";

fn kubectl_kustomize(dir: &Path) -> Result<String, String> {
    let output = Command::new("kubectl")
        .args(["kustomize"])
        .arg(dir)
        .output()
        .map_err(|e| format!("kubectl (to render the manifests): {e}"))?;
    match output.status.success() {
        true => Ok(String::from_utf8_lossy(&output.stdout).into_owned()),
        false => Err(format!(
            "kubectl kustomize {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        )),
    }
}

fn ensure_kubernetes_validate() -> Result<PathBuf, String> {
    let venv = tools_dir().join("venv");
    let validate = venv.join("bin").join("kubernetes-validate");
    let version = Command::new(&validate).arg("--version").output();
    if version.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(KUBERNETES_VALIDATE)) {
        return Ok(validate);
    }
    step(
        "making a Python environment in tools/venv",
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
    )?;
    step(
        &format!("installing kubernetes-validate {KUBERNETES_VALIDATE} from PyPI"),
        Command::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet"])
            .arg(format!("kubernetes-validate=={KUBERNETES_VALIDATE}")),
    )?;
    Ok(validate)
}

/// Renders and validates `deploy/base`; returns the rendered file.
pub fn check_manifests() -> Result<PathBuf, String> {
    println!("==> the Kubernetes manifests: rendered, then validated against Kubernetes' schemas");
    let rendered = kubectl_kustomize(&root().join("deploy/base"))?;
    let dir = target_dir().join("deploy");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let file = dir.join("rendered.yaml");
    std::fs::write(&file, &rendered).map_err(|e| e.to_string())?;
    let validate = ensure_kubernetes_validate()?;
    for version in [OLDEST_KUBERNETES, "1.34"] {
        step(
            &format!("kubernetes-validate --strict against Kubernetes {version}"),
            Command::new(&validate)
                .args(["--strict", "--quiet", "-k", version])
                .arg(&file),
        )?;
    }
    let kinds: Vec<&str> = rendered
        .lines()
        .filter_map(|line| line.strip_prefix("kind: "))
        .collect();
    for kind in [
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ConfigMap",
    ] {
        if !kinds.contains(&kind) {
            return Err(format!("deploy/base renders no {kind}"));
        }
    }
    println!("    {} objects: {}", kinds.len(), kinds.join(", "));
    Ok(file)
}

/// The base's Deployment and ConfigMap, with the image built here, the development tenant's
/// settings, loopback addresses and the host's network (so the pod reaches the tenant, which
/// listens on loopback only; podman maps no ports on the host's network, so none are declared),
/// one replica (two would share the host's ports):
/// an overlay of the base, as an operator would write one.
fn local_overlay(tenant: &Tenant, api: &str, metrics: &str) -> Result<String, String> {
    // kustomize takes bases by relative path only: a copy of the base beside the overlay.
    let base = target_dir().join("deploy").join("base");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).map_err(|e| e.to_string())?;
    for entry in std::fs::read_dir(root().join("deploy/base")).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        std::fs::copy(entry.path(), base.join(entry.file_name())).map_err(|e| e.to_string())?;
    }
    let dir = target_dir().join("deploy").join("local");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    // The base names the image as pushed to a registry; the overlay swaps it for the one here.
    let base_file =
        std::fs::read_to_string(base.join("kustomization.yaml")).map_err(|e| e.to_string())?;
    let pushed = base_file
        .lines()
        .find_map(|line| line.trim().strip_prefix("newName: "))
        .ok_or("deploy/base/kustomization.yaml names no image (newName)")?;
    let mut literals = vec![format!("API_ADDR={api}"), format!("METRICS_ADDR={metrics}")];
    literals.extend(tenant.api_env.iter().map(|(k, v)| format!("{k}={v}")));
    let literals: String = literals.iter().map(|l| format!("      - {l}\n")).collect();
    let kustomization = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../base\n\
         images:\n  - name: {pushed}\n    newName: localhost/quickstart-api\n    newTag: check\n\
         configMapGenerator:\n  - name: quickstart-api\n    behavior: replace\n    literals:\n{literals}\
         patches:\n  - target:\n      kind: Deployment\n    patch: |-\n      - op: add\n        path: /spec/template/spec/hostNetwork\n        value: true\n      - op: remove\n        path: /spec/template/spec/containers/0/ports\n      - op: replace\n        path: /spec/replicas\n        value: 1\n",
    );
    std::fs::write(dir.join("kustomization.yaml"), kustomization).map_err(|e| e.to_string())?;
    let rendered = kubectl_kustomize(&dir)?;
    // podman plays pods, deployments and config maps; the rest is for a cluster.
    let playable: Vec<&str> = rendered
        .split("\n---\n")
        .filter(|doc| doc.contains("\nkind: Deployment\n") || doc.contains("\nkind: ConfigMap\n"))
        .collect();
    Ok(playable.join("\n---\n"))
}

/// Runs the rendered Deployment's pod with `podman kube play` (image `cargo xtask image`
/// built): it must become ready and answer a token, then stop on `podman kube down`.
pub fn play(tenant: &Tenant) -> Result<(), String> {
    println!("==> the rendered Deployment's pod, played by podman");
    let (api, metrics) = (free_port()?, free_port()?);
    let file = target_dir().join("deploy").join("local.yaml");
    std::fs::write(&file, local_overlay(tenant, &api, &metrics)?).map_err(|e| e.to_string())?;
    // What an interrupted run left behind.
    let _ = podman().args(["kube", "down"]).arg(&file).output();
    step(
        "podman kube play",
        podman().args(["kube", "play", "--quiet"]).arg(&file),
    )?;
    let answered = answers(&api, &metrics, tenant);
    let down = step(
        "podman kube down",
        podman().args(["kube", "down"]).arg(&file),
    );
    answered.and(down)
}

fn answers(api: &str, metrics: &str, tenant: &Tenant) -> Result<(), String> {
    wait_until_answering(api, "/readyz", Duration::from_secs(30))?;
    let bearer = format!("Bearer {}", tenant.machine_token()?);
    let (status, body) = http(
        api,
        "GET",
        "/api/private-scoped",
        &[("Authorization", &bearer)],
        "",
    )
    .map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!(
            "the pod's /api/private-scoped answered {status}: {body}"
        ));
    }
    wait_until_answering(metrics, "/metrics", Duration::from_secs(5))?;
    println!("    the pod is ready and answers a token; its metrics are served");
    Ok(())
}
