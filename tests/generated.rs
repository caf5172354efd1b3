//! Files generated from the code: the CRD copies in the chart and the kustomize
//! base, and the chart's RBAC rule lists. Each must hold exactly what the code
//! produces; `UPDATE_GENERATED=1 cargo test --test generated` rewrites them.
//!
//! The kustomize RBAC (`config/rbac/`) is written by hand and checked here
//! against the same rule lists, so the chart and kustomize grant the same set.

use std::path::{Path, PathBuf};

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule, Role};
use xagent_operator::builders::monitoring::{alerts, dashboard, operator};
use xagent_operator::{crd, policy, rbac};

/// The command that rewrites every generated file.
const FIX: &str = "UPDATE_GENERATED=1 cargo test --test generated";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether this run rewrites the generated files (`UPDATE_GENERATED=1`).
fn updating() -> bool {
    std::env::var_os("UPDATE_GENERATED").is_some_and(|v| v == "1")
}

/// An RBAC rule list as the chart stores it, with a header saying where it comes from.
fn rules_file(function: &str, rules: &[PolicyRule]) -> String {
    format!("# Generated from src/rbac.rs ({function}) by `{FIX}`. Do not edit.\n{}", rbac::to_yaml(rules))
}

/// Whole objects as a generated file, with a header saying where they come from.
fn generated_file(source: &str, yaml: &str) -> String {
    format!("# Generated from {source} by `{FIX}`. Do not edit.\n{yaml}")
}

/// Every generated file: path relative to the repository root, and its content.
fn generated() -> Vec<(&'static str, String)> {
    let crd = crd::crd_yaml();
    let user_roles = rbac::user_roles_yaml();
    let policy = policy::to_yaml();
    vec![
        ("crds/xagent.io_xagents.yaml", crd.clone()),
        ("charts/xagent-operator/crds/xagent.io_xagents.yaml", crd.clone()),
        ("config/crd/xagent.io_xagents.yaml", crd),
        (
            "charts/xagent-operator/files/rbac-rules.yaml",
            rules_file("namespaced_rules", &rbac::namespaced_rules()),
        ),
        (
            "charts/xagent-operator/files/rbac-cluster-rules.yaml",
            rules_file("cluster_rules", &rbac::cluster_rules()),
        ),
        (
            "charts/xagent-operator/files/rbac-leader-election-rules.yaml",
            rules_file("leader_election_rules", &rbac::leader_election_rules()),
        ),
        ("charts/xagent-operator/files/rbac-user-roles.yaml", generated_file("src/rbac.rs", &user_roles)),
        ("config/rbac/user_roles.yaml", generated_file("src/rbac.rs", &user_roles)),
        ("charts/xagent-operator/files/secret-access-policy.yaml", generated_file("src/policy.rs", &policy)),
        ("config/policy/secret_access_policy.yaml", generated_file("src/policy.rs", &policy)),
        ("charts/xagent-operator/files/operator-alerts.yaml", operator_alerts_file()),
        ("charts/xagent-operator/files/operator-dashboard.json", operator_dashboard_json()),
        ("config/prometheus/prometheus_rule.yaml", operator_rule_file()),
        ("config/prometheus/dashboard.yaml", operator_dashboard_file()),
    ]
}

const OPERATOR_SOURCE: &str = "src/builders/monitoring/operator.rs";

/// The operator's rule group for the chart, which puts its runbook base in
/// place of RUNBOOK_BASE_URL.
fn operator_alerts_file() -> String {
    let groups = vec![operator::rule_group("RUNBOOK_BASE_URL")];
    generated_file(OPERATOR_SOURCE, &serde_yaml::to_string(&groups).expect("rule groups serialize"))
}

/// The operator's PrometheusRule for `config/prometheus`.
fn operator_rule_file() -> String {
    let rule = operator::prometheus_rule("xagent-system", alerts::PROJECT_RUNBOOKS);
    generated_file(OPERATOR_SOURCE, &serde_yaml::to_string(&rule).expect("a PrometheusRule serializes"))
}

/// The operator's dashboard as Grafana imports it (JSON has no comments, so no header).
fn operator_dashboard_json() -> String {
    let json =
        serde_json::to_string_pretty(&dashboard::operator_dashboard()).expect("a dashboard serializes");
    format!("{json}\n")
}

/// The operator's dashboard as a ConfigMap for the Grafana sidecar, for `config/prometheus`.
fn operator_dashboard_file() -> String {
    let config_map = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "xagent-operator-dashboard",
            "namespace": "xagent-system",
            "labels": {"app.kubernetes.io/part-of": "xagent-operator", "grafana_dashboard": "1"},
        },
        "data": {"xagent-operator.json": operator_dashboard_json()},
    });
    let yaml = serde_yaml::to_string(&config_map).expect("a ConfigMap serializes");
    generated_file("src/builders/monitoring/dashboard.rs", &yaml)
}

/// Where `stored` and `generated` first differ, for the failure message.
fn first_difference(stored: &str, generated: &str) -> String {
    match stored.lines().zip(generated.lines()).position(|(s, g)| s != g) {
        Some(i) => format!(
            "first difference at line {}:\n    stored:    {}\n    generated: {}",
            i + 1,
            stored.lines().nth(i).unwrap_or_default(),
            generated.lines().nth(i).unwrap_or_default()
        ),
        None => format!(
            "stored has {} lines, generated has {} lines",
            stored.lines().count(),
            generated.lines().count()
        ),
    }
}

#[test]
fn generated_files_are_up_to_date() {
    let update = updating();
    let mut stale = Vec::new();
    for (relative, content) in generated() {
        let path = root().join(relative);
        if update {
            std::fs::create_dir_all(path.parent().expect("generated files live in a directory"))
                .unwrap_or_else(|e| panic!("cannot create the directory of {relative}: {e}"));
            std::fs::write(&path, &content).unwrap_or_else(|e| panic!("cannot write {relative}: {e}"));
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(stored) if stored == content => {}
            Ok(stored) => stale.push(format!("{relative} is stale; {}", first_difference(&stored, &content))),
            Err(e) => stale.push(format!("{relative} cannot be read: {e}")),
        }
    }
    assert!(stale.is_empty(), "{}\nrun `{FIX}` and review the diff", stale.join("\n"));
}

#[test]
fn crd_copies_equal_the_crds_directory() {
    if updating() {
        return; // generated_files_are_up_to_date is rewriting them right now
    }
    let original = std::fs::read(root().join("crds/xagent.io_xagents.yaml")).expect("reading crds/");
    for copy in ["charts/xagent-operator/crds/xagent.io_xagents.yaml", "config/crd/xagent.io_xagents.yaml"] {
        let bytes = std::fs::read(root().join(copy)).unwrap_or_else(|e| panic!("cannot read {copy}: {e}"));
        assert!(bytes == original, "{copy} differs from crds/xagent.io_xagents.yaml: run `{FIX}`");
    }
}

#[test]
fn generated_rule_files_parse_back_to_the_rules() {
    // The chart splices these files into `rules:`; they must read back as the same rules.
    let expected = [rbac::namespaced_rules(), rbac::cluster_rules(), rbac::leader_election_rules()];
    let files = generated().into_iter().filter(|(path, _)| path.contains("/files/rbac-"));
    for ((path, content), rules) in files.zip(expected) {
        let parsed: Vec<PolicyRule> =
            serde_yaml::from_str(&content).unwrap_or_else(|e| panic!("{path} does not parse: {e}"));
        assert_eq!(parsed, rules, "{path}");
    }
}

fn read_yaml<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()))
}

#[test]
fn kustomize_cluster_role_has_every_operator_rule() {
    let role: ClusterRole = read_yaml(&root().join("config/rbac/role.yaml"));
    assert_eq!(role.metadata.name.as_deref(), Some("xagent-operator"));
    let expected: Vec<PolicyRule> = [rbac::namespaced_rules(), rbac::cluster_rules()].concat();
    assert_eq!(
        role.rules.unwrap_or_default(),
        expected,
        "config/rbac/role.yaml must hold src/rbac.rs' namespaced_rules() followed by cluster_rules() \
         (the same lists as charts/xagent-operator/files/rbac-rules.yaml and rbac-cluster-rules.yaml)"
    );
}

#[test]
fn kustomize_leader_election_role_has_the_lease_rules() {
    let role: Role = read_yaml(&root().join("config/rbac/leader_election_role.yaml"));
    assert_eq!(role.metadata.name.as_deref(), Some("xagent-operator-leader-election"));
    assert_eq!(
        role.rules.unwrap_or_default(),
        rbac::leader_election_rules(),
        "config/rbac/leader_election_role.yaml must hold src/rbac.rs' leader_election_rules() \
         (the same list as charts/xagent-operator/files/rbac-leader-election-rules.yaml)"
    );
}
