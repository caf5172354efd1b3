//! Installing: the CRD (every generated copy), RBAC, kustomize, the Prometheus
//! Operator CRDs appearing after the operator started.

use std::path::PathBuf;
use std::time::Duration;

use kube::api::Api;
use xagent_operator::builders::monitoring::types::{PrometheusRule, ServiceMonitor};

use crate::harness::{Cluster, User, root};
use crate::kit::{self, eventually};
use crate::operator::Operator;
use crate::runtime;

/// The project's copy of the upstream Prometheus Operator CRDs (the alert
/// tests' fixtures), so a checkout anywhere has them.
pub fn monitoring_crds_dir() -> PathBuf {
    root().join("tests/alerts")
}

/// The upstream Prometheus Operator CRDs the operator uses.
fn monitoring_crd_files() -> Vec<PathBuf> {
    let dir = monitoring_crds_dir();
    [
        "monitoring.coreos.com_servicemonitors.yaml",
        "monitoring.coreos.com_prometheusrules.yaml",
        "monitoring.coreos.com_alertmanagerconfigs.yaml",
    ]
    .iter()
    .map(|f| dir.join(f))
    .collect()
}

/// Installs the XAgent CRD and the operator's RBAC, as a user would.
pub fn prepare(cluster: &Cluster) {
    apply_without_warnings(cluster, &root().join("crds/xagent.io_xagents.yaml"));
    wait_established(cluster, &["xagents.xagent.io"]);
    cluster.kubectl_ok(&["create", "namespace", "xagent-system"]);
    let rbac = root().join("config/rbac");
    cluster.kubectl_ok(&["apply", "--server-side", "-k", &rbac.display().to_string()]);
}

/// `kubectl apply --server-side -f FILE`, failing on any rejection or warning.
fn apply_without_warnings(cluster: &Cluster, file: &std::path::Path) {
    let out = cluster.kubectl(User::Admin, &["apply", "--server-side", "-f", &file.display().to_string()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the API server refused {}:\n{stderr}", file.display());
    assert!(!stderr.to_lowercase().contains("warning"), "warnings applying {}:\n{stderr}", file.display());
}

/// Ensures the Prometheus Operator CRDs are installed and established.
pub fn install_monitoring_crds(cluster: &Cluster) {
    for file in monitoring_crd_files() {
        apply_without_warnings(cluster, &file);
    }
    wait_established(
        cluster,
        &[
            "servicemonitors.monitoring.coreos.com",
            "prometheusrules.monitoring.coreos.com",
            "alertmanagerconfigs.monitoring.coreos.com",
        ],
    );
}

/// Polls until every named CRD is Established. Not `kubectl wait`: a CRD
/// read before the server's first status write has `conditions: null`,
/// which `kubectl wait` reports as an error instead of waiting.
fn wait_established(cluster: &Cluster, crds: &[&str]) {
    let jsonpath = r#"jsonpath={.status.conditions[?(@.type=="Established")].status}"#;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for crd in crds {
        loop {
            let out = cluster.kubectl(User::Admin, &["get", "crd", crd, "-o", jsonpath]);
            if out.status.success() && out.stdout == b"True" {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "CRD {crd} not Established within 60 s: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

/// The scenarios of this module.
pub fn scenarios() -> Vec<crate::Scenario> {
    vec![
        ("install::monitoring_crds_installed_after_start_are_used_without_restart", monitoring_crds_appear),
        ("install::every_crd_copy_is_accepted_without_warnings", crd_copies),
        ("install::kustomize_bases_are_accepted_by_server_dry_run", kustomize_dry_run),
    ]
}

fn crd_copies(cluster: &Cluster) {
    for copy in ["crds", "charts/xagent-operator/crds", "config/crd"] {
        apply_without_warnings(cluster, &root().join(copy).join("xagent.io_xagents.yaml"));
    }
    // What the server stored is what we generate: a rule it silently
    // dropped or rewrote would show here.
    let stored = cluster.kubectl_ok(&["get", "crd", "xagents.xagent.io", "-o", "json"]);
    let stored: serde_json::Value = serde_json::from_str(&stored).expect("CRD JSON");
    let ours: serde_json::Value = serde_yaml::from_str(&xagent_operator::crd::crd_yaml()).expect("CRD YAML");
    let schema = |crd: &serde_json::Value| crd["spec"]["versions"][0]["schema"].clone();
    if let Some(difference) = first_difference(&schema(&stored), &schema(&ours), "schema") {
        panic!("the stored CRD differs from the generated one at {difference}");
    }
}

/// The first path at which `a` and `b` differ, numbers compared by value
/// (the server stores `1000` as `1000.0`).
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                first_difference(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    &format!("{path}.{k}"),
                )
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, &format!("{path}[{i}]"))),
        (Value::Number(x), Value::Number(y)) if x.as_f64() == y.as_f64() => None,
        (x, y) if x == y => None,
        (x, y) => Some(format!("{path}: stored {x}, generated {y}")),
    }
}

fn kustomize_dry_run(cluster: &Cluster) {
    let dir = root().join("config/default");
    let out = cluster.kubectl(
        User::Admin,
        &["apply", "-k", &dir.display().to_string(), "--server-side", "--dry-run=server"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "config/default refused:\n{stderr}");
    assert!(!stderr.to_lowercase().contains("warning"), "warnings:\n{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for object in ["customresourcedefinition", "clusterrole", "deployment.apps/xagent-operator"] {
        assert!(stdout.contains(object), "{object} missing from the dry run:\n{stdout}");
    }
    // The operator's monitoring, against the upstream CRDs, strictly.
    install_monitoring_crds(cluster);
    let dir = root().join("config/prometheus");
    let dir = dir.display().to_string();
    let args = ["apply", "-k", &dir, "--server-side", "--dry-run=server", "--validate=strict"];
    let out = cluster.kubectl(User::Admin, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "config/prometheus refused:\n{stderr}");
    assert!(!stderr.to_lowercase().contains("warning"), "warnings:\n{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for object in [
        "service/xagent-operator-metrics",
        "servicemonitor.monitoring.coreos.com/xagent-operator",
        "prometheusrule.monitoring.coreos.com/xagent-operator",
        "configmap/xagent-operator-dashboard",
    ] {
        assert!(stdout.contains(object), "{object} missing from the dry run:\n{stdout}");
    }
}

fn monitoring_crds_appear(cluster: &Cluster) {
    // Absent at the operator's start, whatever ran before.
    for crd in [
        "servicemonitors.monitoring.coreos.com",
        "prometheusrules.monitoring.coreos.com",
        "alertmanagerconfigs.monitoring.coreos.com",
    ] {
        cluster.kubectl_ok(&["delete", "crd", crd, "--ignore-not-found", "--wait=true"]);
    }
    runtime().block_on(async {
        let admin = cluster.client(User::Admin).await;
        let ns = "monitoring-late";
        kit::namespace(&admin, ns).await;
        let _operator = Operator::start(cluster, User::Operator, ns, &[]);
        kit::apply_xagent(&admin, ns, "demo", serde_json::json!({})).await;
        let xa = kit::wait_condition(&admin, ns, "demo", "MonitoringReady", "False").await;
        let reason = kit::condition(&xa, "MonitoringReady").unwrap()["reason"].clone();
        assert_eq!(reason, "PrometheusOperatorNotInstalled");

        install_monitoring_crds(cluster);
        let (_, took) =
            eventually("ServiceMonitor and PrometheusRule demo", Duration::from_secs(60), || async {
                let sm =
                    Api::<ServiceMonitor>::namespaced(admin.clone(), ns).get_opt("demo").await.ok()??;
                let pr =
                    Api::<PrometheusRule>::namespaced(admin.clone(), ns).get_opt("demo").await.ok()??;
                Some((sm, pr))
            })
            .await;
        kit::wait_condition(&admin, ns, "demo", "MonitoringReady", "True").await;
        eprintln!("monitoring objects appeared {took:?} after the CRDs were installed, without a restart");
    });
}
