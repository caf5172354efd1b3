//! The kustomize bases under `config/`, built with the real kustomize inside
//! kubectl (`kubectl kustomize`, offline). Nothing is skipped: without kubectl
//! the tests fail and say how to get it.

use std::process::Command;

#[path = "support/tools.rs"]
mod tools;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Namespace, PodSpec, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::Deserialize as _;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use xagent_operator::rbac;

const NAMESPACE: &str = "xagent-system";
const NAME: &str = "xagent-operator";
const LEASE_ROLE: &str = "xagent-operator-leader-election";

/// `kubectl kustomize config/DIR`, as one JSON value per document.
fn kustomize(dir: &str) -> Vec<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config").join(dir);
    let kubectl = tools::kubectl();
    let output = Command::new(&kubectl)
        .arg("kustomize")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} ({e}): {}", kubectl.display(), tools::SETUP_HINT));
    assert!(
        output.status.success(),
        "kubectl kustomize {} failed:\n{}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("kustomize prints UTF-8");
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).expect("kustomize prints YAML"))
        .filter(|doc| !doc.is_null())
        .collect()
}

/// The one object of `kind` named `name`, typed.
fn get<T: DeserializeOwned>(objects: &[Value], kind: &str, name: &str) -> T {
    let matches: Vec<&Value> =
        objects.iter().filter(|o| o["kind"] == kind && o["metadata"]["name"] == name).collect();
    assert_eq!(matches.len(), 1, "expected one {kind} {name}, found {}", matches.len());
    serde_json::from_value(matches[0].clone()).unwrap_or_else(|e| panic!("{kind} {name}: {e}"))
}

fn all_rules() -> Vec<PolicyRule> {
    [rbac::namespaced_rules(), rbac::cluster_rules()].concat()
}

fn pod_and_container(deployment: &Deployment) -> (PodSpec, Container) {
    let pod = deployment.spec.clone().and_then(|s| s.template.spec).expect("a pod spec");
    assert_eq!(pod.containers.len(), 1, "one container");
    let container = pod.containers[0].clone();
    (pod, container)
}

#[test]
fn default_has_every_object_once() {
    let objects = kustomize("default");
    let mut kinds: Vec<(String, String)> = objects
        .iter()
        .map(|o| {
            (o["kind"].as_str().unwrap().to_string(), o["metadata"]["name"].as_str().unwrap().to_string())
        })
        .collect();
    kinds.sort();
    let expected = [
        ("ClusterRole", NAME),
        ("ClusterRole", "xagent-operator-edit"),
        ("ClusterRole", "xagent-operator-view"),
        ("ClusterRoleBinding", NAME),
        ("CustomResourceDefinition", "xagents.xagent.io"),
        ("Deployment", NAME),
        ("Namespace", NAMESPACE),
        ("Role", LEASE_ROLE),
        ("RoleBinding", LEASE_ROLE),
        ("ServiceAccount", NAME),
        ("ValidatingAdmissionPolicy", xagent_operator::policy::NAME),
        ("ValidatingAdmissionPolicyBinding", xagent_operator::policy::NAME),
    ];
    let expected: Vec<(String, String)> =
        expected.iter().map(|(k, n)| (k.to_string(), n.to_string())).collect();
    assert_eq!(
        kinds, expected,
        "config/default holds the operator, its user roles and admission policy, and nothing else (no samples)"
    );

    for object in &objects {
        let kind = object["kind"].as_str().unwrap();
        let namespaced =
            !matches!(kind, "Namespace" | "CustomResourceDefinition" | "ClusterRole" | "ClusterRoleBinding");
        let namespace = object["metadata"].get("namespace");
        if namespaced {
            assert_eq!(namespace, Some(&json!(NAMESPACE)), "{kind} lives in {NAMESPACE}");
        } else {
            assert_eq!(namespace, None, "{kind} is cluster-scoped");
        }
    }
}

#[test]
fn default_installs_the_crd_from_crds_dir() {
    let objects = kustomize("default");
    let crd: CustomResourceDefinition = get(&objects, "CustomResourceDefinition", "xagents.xagent.io");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crds/xagent.io_xagents.yaml");
    let stored: CustomResourceDefinition =
        serde_yaml::from_str(&std::fs::read_to_string(path).expect("reading crds/")).expect("the CRD parses");
    assert!(crd == stored, "config/default's CRD differs from crds/xagent.io_xagents.yaml");
}

#[test]
fn default_rbac_grants_the_operator_rules() {
    let objects = kustomize("default");
    let namespace: Namespace = get(&objects, "Namespace", NAMESPACE);
    let labels = namespace.metadata.labels.unwrap_or_default();
    assert_eq!(labels.get("pod-security.kubernetes.io/enforce").map(String::as_str), Some("restricted"));
    let _: ServiceAccount = get(&objects, "ServiceAccount", NAME);

    let role: ClusterRole = get(&objects, "ClusterRole", NAME);
    assert_eq!(role.rules.unwrap_or_default(), all_rules());
    let binding: ClusterRoleBinding = get(&objects, "ClusterRoleBinding", NAME);
    assert_eq!((binding.role_ref.kind.as_str(), binding.role_ref.name.as_str()), ("ClusterRole", NAME));
    let subject = &binding.subjects.unwrap_or_default()[0];
    assert_eq!((subject.kind.as_str(), subject.name.as_str()), ("ServiceAccount", NAME));
    assert_eq!(subject.namespace.as_deref(), Some(NAMESPACE));

    let lease_role: Role = get(&objects, "Role", LEASE_ROLE);
    assert_eq!(lease_role.rules.unwrap_or_default(), rbac::leader_election_rules());
    let lease_binding: RoleBinding = get(&objects, "RoleBinding", LEASE_ROLE);
    assert_eq!(
        (lease_binding.role_ref.kind.as_str(), lease_binding.role_ref.name.as_str()),
        ("Role", LEASE_ROLE)
    );
    let subject = &lease_binding.subjects.unwrap_or_default()[0];
    assert_eq!((subject.name.as_str(), subject.namespace.as_deref()), (NAME, Some(NAMESPACE)));
}

#[test]
fn default_deployment_is_restricted_with_leader_election() {
    let objects = kustomize("default");
    let deployment: Deployment = get(&objects, "Deployment", NAME);
    assert_eq!(deployment.spec.as_ref().and_then(|s| s.replicas), Some(1));
    let (pod, container) = pod_and_container(&deployment);
    assert_eq!(pod.service_account_name.as_deref(), Some(NAME));
    assert_eq!(pod.automount_service_account_token, Some(true));

    let args = container.args.clone().unwrap_or_default();
    assert_eq!(args.first().map(String::as_str), Some("run"));
    assert!(args.contains(&"--leader-election".to_string()), "{args:?}");
    assert!(!args.iter().any(|a| a.starts_with("--namespace")), "watches all namespaces: {args:?}");
    let image = container.image.clone().unwrap_or_default();
    assert_eq!(image, format!("xagent/xagent-operator:{}", env!("CARGO_PKG_VERSION")));
    let env: Vec<(String, Option<String>)> = container
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.name, e.value_from.and_then(|v| v.field_ref).map(|f| f.field_path)))
        .collect();
    assert!(env.contains(&("POD_NAME".into(), Some("metadata.name".into()))), "{env:?}");
    assert!(env.contains(&("POD_NAMESPACE".into(), Some("metadata.namespace".into()))), "{env:?}");

    // The restricted Pod Security profile.
    let pod_context = pod.security_context.expect("a pod securityContext");
    assert_eq!(pod_context.run_as_non_root, Some(true));
    assert_eq!(pod_context.seccomp_profile.map(|p| p.type_).as_deref(), Some("RuntimeDefault"));
    let context = container.security_context.clone().expect("a container securityContext");
    assert_eq!(context.run_as_non_root, Some(true));
    assert_eq!(context.run_as_user, Some(65532));
    assert_eq!(context.read_only_root_filesystem, Some(true));
    assert_eq!(context.allow_privilege_escalation, Some(false));
    assert_eq!(context.capabilities.and_then(|c| c.drop), Some(vec!["ALL".to_string()]));
    assert_eq!(context.seccomp_profile.map(|p| p.type_).as_deref(), Some("RuntimeDefault"));

    // Probes on the metrics port, and resources.
    for (probe, path) in
        [(container.liveness_probe.clone(), "/healthz"), (container.readiness_probe.clone(), "/readyz")]
    {
        let get = probe.and_then(|p| p.http_get).unwrap_or_else(|| panic!("an httpGet probe on {path}"));
        assert_eq!(get.path.as_deref(), Some(path));
        assert_eq!(serde_json::to_value(&get.port).unwrap(), json!("http-metrics"));
    }
    let ports = container.ports.clone().unwrap_or_default();
    assert!(ports.iter().any(|p| p.name.as_deref() == Some("http-metrics") && p.container_port == 8080));
    let resources = container.resources.expect("resources");
    assert!(resources.requests.is_some() && resources.limits.is_some());
}

#[test]
fn samples_are_the_two_example_xagents() {
    let objects = kustomize("samples");
    let mut names: Vec<(String, String)> = objects
        .iter()
        .map(|o| {
            assert_eq!(o["apiVersion"], "xagent.io/v1alpha1");
            assert_eq!(o["kind"], "XAgent");
            (
                o["metadata"]["namespace"].as_str().unwrap().to_string(),
                o["metadata"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [("default".to_string(), "demo".to_string()), ("x-agent".to_string(), "production".to_string())]
    );
    // Both pass the operator's own validation (CRD schema + CEL rules).
    let yaml: Vec<String> = objects.iter().map(|o| serde_yaml::to_string(o).unwrap()).collect();
    xagent_operator::render::render(&yaml.join("---\n")).unwrap_or_else(|e| panic!("invalid sample: {e}"));
}

/// Whether every pair of `subset` is in `labels`.
fn selects(subset: &Value, labels: &Value) -> bool {
    subset.as_object().is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

#[test]
fn prometheus_scrapes_the_operator_as_the_job_its_alerts_select() {
    use xagent_operator::builders::monitoring::operator;
    let monitoring = kustomize("prometheus");
    let default = kustomize("default");
    let find = |objects: &[Value], kind: &str| -> Value {
        let found: Vec<&Value> = objects.iter().filter(|o| o["kind"] == kind).collect();
        assert_eq!(found.len(), 1, "one {kind}");
        found[0].clone()
    };
    let (service, monitor) = (find(&monitoring, "Service"), find(&monitoring, "ServiceMonitor"));
    let pods = &find(&default, "Deployment")["spec"]["template"]["metadata"]["labels"];
    assert!(selects(&service["spec"]["selector"], pods), "the Service selects the operator's pods");
    assert!(
        selects(&monitor["spec"]["selector"]["matchLabels"], &service["metadata"]["labels"]),
        "the ServiceMonitor selects the Service"
    );
    let job_label = monitor["spec"]["jobLabel"].as_str().expect("a jobLabel");
    assert_eq!(service["metadata"]["labels"][job_label], operator::JOB, "the job the alerts select");
    let endpoint = &monitor["spec"]["endpoints"][0];
    assert_eq!(endpoint["honorLabels"], true, "keeps the dependency series' namespace and xagent");
    let port = endpoint["port"].as_str().expect("a port name");
    assert_eq!(service["spec"]["ports"][0]["name"], port);
    let deployment: Deployment = get(&default, "Deployment", NAME);
    let (_, container) = pod_and_container(&deployment);
    let ports = container.ports.unwrap_or_default();
    assert!(ports.iter().any(|p| p.name.as_deref() == Some(port)), "the container serves {port}");
    let rule = find(&monitoring, "PrometheusRule");
    assert_eq!(rule["spec"]["groups"][0]["name"], operator::GROUP);
    assert!(monitoring.iter().all(|o| o["metadata"]["namespace"] == NAMESPACE), "all in {NAMESPACE}");
}
