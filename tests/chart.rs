//! The Helm chart (`charts/xagent-operator`), checked with the real Helm
//! library: PyPI `helm-sdkpy`, driven by `tests/chart/lint.py` (helm lint) and
//! `tests/chart/render.py` (a real `helm install` against a stub API server,
//! which renders the chart exactly as a cluster install would).
//!
//! Nothing is skipped: without the virtual environment holding helm-sdkpy the tests fail and say
//! to run ./scripts/setup.sh.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Container, PodSecurityContext, SecurityContext, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::Deserialize as _;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use xagent_operator::builders::monitoring::types::RuleGroup;
use xagent_operator::builders::monitoring::{alerts, dashboard, operator};
use xagent_operator::rbac;

#[path = "support/tools.rs"]
mod tools;
use tools::SETUP_HINT;

const RELEASE: &str = "xagent-operator";
const NAMESPACE: &str = "xagent-system";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chart_dir() -> PathBuf {
    root().join("charts/xagent-operator")
}

fn read_yaml_as_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()))
}

/// `tests/chart/values-all.yaml`: every option on.
fn values_all() -> Value {
    read_yaml_as_json(&root().join("tests/chart/values-all.yaml"))
}

/// Helm's merge of user values over the chart's: maps merge key by key, anything else replaces.
fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(key) {
                    Some(slot) if slot.is_object() && value.is_object() => merge(slot, value),
                    _ => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, over) => *base = over.clone(),
    }
}

/// `value` in a temporary JSON file, removed on drop.
fn temp_json(value: &Value) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new()
        .prefix("xagent-chart-test-")
        .suffix(".json")
        .tempfile()
        .expect("a temp file");
    std::fs::write(file.path(), serde_json::to_vec(value).unwrap()).expect("writing a temporary values file");
    file
}

/// Runs one of the Python helpers; exit status 2 (helm-sdkpy missing, bad usage) fails the test.
fn python(script: &str, args: &[&Path]) -> Output {
    python_with(script, args, &[])
}

/// [`python`] with extra environment variables.
fn python_with(script: &str, args: &[&Path], env: &[(&str, &str)]) -> Output {
    let script = root().join("tests/chart").join(script);
    let output = Command::new(tools::python3())
        .arg(&script)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} ({e}): {SETUP_HINT}", tools::python3().display()));
    if output.status.code() == Some(2) {
        panic!(
            "{} could not run Helm: {}\n{SETUP_HINT}",
            script.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output
}

/// `helm lint` of the chart, with its own values.yaml or with `overrides` merged over it.
/// Ok(report) when lint passes, Err(report) when it finds errors.
fn lint(overrides: Option<&Value>) -> Result<String, String> {
    let chart = chart_dir();
    let output = match overrides {
        None => python("lint.py", &[&chart]),
        Some(overrides) => {
            let mut values = read_yaml_as_json(&chart.join("values.yaml"));
            merge(&mut values, overrides);
            let file = temp_json(&values);
            python("lint.py", &[&chart, file.path()])
        }
    };
    let report =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    if output.status.success() { Ok(report) } else { Err(report) }
}

/// What `helm install` produced.
struct Rendered {
    /// Every document of the release manifest (templates/), as JSON.
    objects: Vec<Value>,
    /// The CRDs Helm created from crds/ before the templates.
    crds: Vec<Value>,
    /// The rendered NOTES.txt.
    notes: String,
}

impl Rendered {
    fn all(&self, kind: &str) -> Vec<&Value> {
        self.objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    /// The one object of `kind` named `name`, as a typed k8s-openapi object.
    fn get<T: DeserializeOwned>(&self, kind: &str, name: &str) -> T {
        let matches: Vec<&Value> =
            self.all(kind).into_iter().filter(|o| o["metadata"]["name"] == name).collect();
        assert_eq!(matches.len(), 1, "expected one {kind} {name}, found {}", matches.len());
        serde_json::from_value(matches[0].clone()).unwrap_or_else(|e| panic!("{kind} {name}: {e}"))
    }

    fn has(&self, kind: &str) -> bool {
        !self.all(kind).is_empty()
    }

    fn deployment(&self, name: &str) -> Deployment {
        self.get("Deployment", name)
    }
}

/// `helm install RELEASE charts/xagent-operator -n xagent-system` with `values` as user values.
fn render(values: Option<&Value>) -> Result<Rendered, String> {
    render_on(values, &[])
}

/// [`render`] against a cluster that serves none of the API groups `without`
/// (as one without their CRDs).
fn render_on(values: Option<&Value>, without: &[&str]) -> Result<Rendered, String> {
    let chart = chart_dir();
    let (release, namespace) = (Path::new(RELEASE), Path::new(NAMESPACE));
    let groups = without.join(",");
    let env = [("STUB_WITHOUT_GROUPS", groups.as_str())];
    let output = match values {
        None => python_with("render.py", &[&chart, release, namespace], &env),
        Some(values) => {
            let file = temp_json(values);
            python_with("render.py", &[&chart, release, namespace, file.path()], &env)
        }
    };
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let result: Value = serde_json::from_slice(&output.stdout).expect("render.py prints JSON");
    let manifest = result["manifest"].as_str().expect("a manifest");
    let objects = serde_yaml::Deserializer::from_str(manifest)
        .map(|doc| Value::deserialize(doc).expect("the manifest is YAML"))
        .filter(|doc| !doc.is_null())
        .collect();
    Ok(Rendered {
        objects,
        crds: result["crds"].as_array().cloned().unwrap_or_default(),
        notes: result["notes"].as_str().unwrap_or_default().to_string(),
    })
}

fn render_ok(values: Option<&Value>) -> Rendered {
    render(values).unwrap_or_else(|e| panic!("helm install failed:\n{e}"))
}

fn operator_container(deployment: &Deployment) -> Container {
    let pod = deployment.spec.as_ref().and_then(|s| s.template.spec.as_ref()).expect("a pod spec");
    assert_eq!(pod.containers.len(), 1, "one container");
    pod.containers[0].clone()
}

fn args(deployment: &Deployment) -> Vec<String> {
    operator_container(deployment).args.unwrap_or_default()
}

fn all_rules() -> Vec<PolicyRule> {
    [rbac::namespaced_rules(), rbac::cluster_rules()].concat()
}

/// The `restricted` Pod Security profile, plus the chart's fixed user and read-only root.
fn assert_restricted(deployment: &Deployment) {
    let pod = deployment.spec.as_ref().and_then(|s| s.template.spec.as_ref()).expect("a pod spec");
    let PodSecurityContext { run_as_non_root, run_as_user, seccomp_profile, .. } =
        pod.security_context.clone().expect("a pod securityContext");
    assert_eq!(run_as_non_root, Some(true));
    assert_eq!(run_as_user, Some(65532));
    assert_eq!(seccomp_profile.map(|p| p.type_).as_deref(), Some("RuntimeDefault"));
    assert_eq!(pod.automount_service_account_token, Some(true), "the operator needs its token");

    let SecurityContext {
        run_as_non_root,
        run_as_user,
        read_only_root_filesystem,
        allow_privilege_escalation,
        capabilities,
        seccomp_profile,
        privileged,
        ..
    } = operator_container(deployment).security_context.expect("a container securityContext");
    assert_eq!(run_as_non_root, Some(true));
    assert_eq!(run_as_user, Some(65532));
    assert_eq!(read_only_root_filesystem, Some(true));
    assert_eq!(allow_privilege_escalation, Some(false));
    assert_ne!(privileged, Some(true));
    assert_eq!(capabilities.and_then(|c| c.drop), Some(vec!["ALL".to_string()]));
    assert_eq!(seccomp_profile.map(|p| p.type_).as_deref(), Some("RuntimeDefault"));
}

fn assert_probes(deployment: &Deployment) {
    let container = operator_container(deployment);
    let port =
        container.ports.unwrap_or_default().into_iter().find(|p| p.name.as_deref() == Some("http-metrics"));
    assert!(port.is_some(), "the container names its port http-metrics");
    for (probe, path) in [(container.liveness_probe, "/healthz"), (container.readiness_probe, "/readyz")] {
        let get = probe.and_then(|p| p.http_get).unwrap_or_else(|| panic!("an httpGet probe on {path}"));
        assert_eq!(get.path.as_deref(), Some(path));
        assert_eq!(serde_json::to_value(&get.port).unwrap(), json!("http-metrics"));
    }
}

// ------------------------------------------------------------------ lint

#[test]
fn lint_passes_with_default_values() {
    lint(None).unwrap_or_else(|report| panic!("helm lint failed: {report}"));
}

#[test]
fn lint_passes_with_every_option_on() {
    lint(Some(&values_all())).unwrap_or_else(|report| panic!("helm lint failed: {report}"));
}

#[test]
fn lint_rejects_values_that_violate_the_schema() {
    let invalid = read_yaml_as_json(&root().join("tests/chart/values-invalid.yaml"));
    let report = lint(Some(&invalid)).expect_err("helm lint accepted replicaCount: \"two\"");
    assert!(report.contains("\"path\": \"values.yaml\""), "the error is reported on values.yaml: {report}");
}

// ------------------------------------------------------------------ schema

#[test]
fn install_rejects_values_that_violate_the_schema() {
    let invalid = read_yaml_as_json(&root().join("tests/chart/values-invalid.yaml"));
    let cases = [
        (invalid, "/replicaCount"),
        (json!({"replicaCount": 0}), "/replicaCount"),
        (json!({"watchNamespaces": ["a", "a"]}), "/watchNamespaces"),
        (json!({"watchNamespaces": ["Not_A_Namespace"]}), "/watchNamespaces/0"),
        (json!({"logFormat": "xml"}), "/logFormat"),
        (json!({"image": {"pullPolicy": "Sometimes"}}), "/image/pullPolicy"),
        (json!({"resources": {"limits": {"memory": "lots"}}}), "/resources/limits/memory"),
        (json!({"metrics": {"port": 70000}}), "/metrics/port"),
        (json!({"replicas": 2}), "replicas"),
        (json!({"serviceMonitor": {"enabled": true, "honorLabels": false}}), "honorLabels"),
        (json!({"serviceMonitor": {"enabled": "yes"}}), "/serviceMonitor/enabled"),
        (json!({"prometheusRule": {"runbookBaseUrl": "not a url"}}), "/prometheusRule/runbookBaseUrl"),
        (json!({"dashboard": {"label": "not a label!"}}), "/dashboard/label"),
        (json!({"podDisruptionBudget": {"minAvailable": 1, "maxUnavailable": 1}}), "/podDisruptionBudget"),
        (json!({"xagent": {"enabled": true, "spec": []}}), "/xagent/spec"),
        (json!({"xagent": {"name": "x".repeat(54)}}), "/xagent/name"),
        (json!({"serviceAccount": {"create": false}}), "/serviceAccount/name"),
    ];
    // One `helm install` per case, in parallel.
    std::thread::scope(|scope| {
        let runs: Vec<_> =
            cases.iter().map(|(values, key)| (values, key, scope.spawn(|| render(Some(values))))).collect();
        for (values, key, run) in runs {
            let error = match run.join().expect("the render thread") {
                Ok(_) => panic!("helm install accepted {values}"),
                Err(e) => e,
            };
            assert!(error.contains("schema"), "{values}: not a schema error: {error}");
            assert!(error.contains(key), "{values}: the error does not name {key}: {error}");
        }
    });
}

// ------------------------------------------------------------------ default values

#[test]
fn default_install_creates_the_crd_from_crds_dir() {
    let rendered = render_ok(None);
    // Typed, so that 65535 and 65535.0 (Helm's re-encoding of numbers) compare equal.
    let stored: CustomResourceDefinition =
        serde_json::from_value(read_yaml_as_json(&root().join("crds/xagent.io_xagents.yaml"))).unwrap();
    let installed: Vec<CustomResourceDefinition> =
        rendered.crds.iter().map(|c| serde_json::from_value(c.clone()).unwrap()).collect();
    assert_eq!(installed.len(), 1, "Helm installs the one CRD in crds/");
    assert!(installed[0] == stored, "Helm installed a CRD other than crds/xagent.io_xagents.yaml");
    assert!(!rendered.has("CustomResourceDefinition"), "the CRD is not a template (Helm would delete it)");
}

#[test]
fn default_install_watches_all_namespaces_with_the_generated_rules() {
    let rendered = render_ok(None);
    let role: ClusterRole = rendered.get("ClusterRole", RELEASE);
    assert_eq!(
        role.rules.unwrap_or_default(),
        all_rules(),
        "ClusterRole = src/rbac.rs namespaced + cluster rules"
    );
    let binding: ClusterRoleBinding = rendered.get("ClusterRoleBinding", RELEASE);
    assert_eq!(binding.role_ref.name, RELEASE);
    let subject = &binding.subjects.unwrap_or_default()[0];
    assert_eq!((subject.kind.as_str(), subject.name.as_str()), ("ServiceAccount", RELEASE));
    assert_eq!(subject.namespace.as_deref(), Some(NAMESPACE));
    assert!(rendered.has("ServiceAccount"));
    assert!(!rendered.has("Role") && !rendered.has("RoleBinding"), "no Role without leader election");

    let deployment = rendered.deployment(RELEASE);
    assert!(!args(&deployment).iter().any(|a| a.starts_with("--namespace")), "all namespaces");
    assert!(rendered.notes.contains("every namespace"), "{}", rendered.notes);
}

#[test]
fn default_deployment_is_restricted_probed_and_sized() {
    let rendered = render_ok(None);
    let deployment = rendered.deployment(RELEASE);
    assert_eq!(deployment.metadata.namespace.as_deref(), Some(NAMESPACE));
    assert_eq!(deployment.spec.as_ref().and_then(|s| s.replicas), Some(1));
    assert_restricted(&deployment);
    assert_probes(&deployment);

    let container = operator_container(&deployment);
    assert_eq!(
        container.image.as_deref(),
        Some(format!("xagent/xagent-operator:{}", env!("CARGO_PKG_VERSION")).as_str())
    );
    assert_eq!(
        args(&deployment),
        [
            "run",
            "--log-format=json",
            "--metrics-address=0.0.0.0:8080",
            "--kube-api-qps=50",
            "--ingress-annotations-allow=*",
            "--ingress-annotations-deny=*-snippet",
        ]
    );
    let env: Vec<(String, Option<String>)> = container
        .env
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.name, e.value_from.and_then(|v| v.field_ref).map(|f| f.field_path)))
        .collect();
    assert!(env.contains(&("POD_NAME".into(), Some("metadata.name".into()))), "{env:?}");
    assert!(env.contains(&("POD_NAMESPACE".into(), Some("metadata.namespace".into()))), "{env:?}");

    let resources = serde_json::to_value(container.resources.expect("resources")).unwrap();
    assert_eq!(
        resources,
        json!({"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}})
    );

    let service: Service = rendered.get("Service", &format!("{RELEASE}-metrics"));
    let port = &service.spec.expect("a Service spec").ports.unwrap_or_default()[0];
    assert_eq!((port.name.as_deref(), port.port), (Some("http-metrics"), 8080));
    for kind in ["PodDisruptionBudget", "XAgent"] {
        assert!(!rendered.has(kind), "{kind} is off by default");
    }
}

// ------------------------------------------------------------------ monitoring

const MONITORING: &str = "monitoring.coreos.com";

/// The operator's monitoring objects a release holds: ServiceMonitors,
/// PrometheusRules, dashboard ConfigMaps.
fn monitoring_objects(rendered: &Rendered) -> (usize, usize, usize) {
    let dashboards =
        rendered.all("ConfigMap").into_iter().filter(|c| c["metadata"]["labels"]["grafana_dashboard"] == "1");
    (rendered.all("ServiceMonitor").len(), rendered.all("PrometheusRule").len(), dashboards.count())
}

#[test]
fn a_default_install_monitors_the_operator_when_the_prometheus_operator_crds_are_there() {
    let rendered = render_ok(None);
    assert_eq!(monitoring_objects(&rendered), (1, 1, 1));
    let monitor = rendered.all("ServiceMonitor")[0];
    assert_eq!(monitor["spec"]["jobLabel"], "app.kubernetes.io/part-of", "the job the alerts select");
    let service: Service = rendered.get("Service", &format!("{RELEASE}-metrics"));
    let part_of = service.metadata.labels.unwrap_or_default().remove("app.kubernetes.io/part-of");
    assert_eq!(part_of.as_deref(), Some(operator::JOB), "so job is {}", operator::JOB);
    // The rule group is the operator's catalog, with the project's runbooks.
    let rule = rendered.all("PrometheusRule")[0];
    let groups: Vec<RuleGroup> = serde_json::from_value(rule["spec"]["groups"].clone()).expect("rule groups");
    assert_eq!(groups, [operator::rule_group(alerts::PROJECT_RUNBOOKS)]);
    let values = read_yaml_as_json(&chart_dir().join("values.yaml"));
    assert_eq!(values["prometheusRule"]["runbookBaseUrl"], alerts::PROJECT_RUNBOOKS);
    // The dashboard is the operator's, as Grafana reads it.
    let dashboard: ConfigMap = rendered.get("ConfigMap", &format!("{RELEASE}-dashboard"));
    let json = dashboard.data.unwrap_or_default().remove("xagent-operator.json").expect("the dashboard JSON");
    let json: Value = serde_json::from_str(&json).expect("the dashboard is JSON");
    assert_eq!(json, dashboard::operator_dashboard());
}

#[test]
fn without_the_prometheus_operator_crds_a_default_install_skips_its_kinds() {
    let rendered = render_on(None, &[MONITORING]).unwrap_or_else(|e| panic!("helm install failed:\n{e}"));
    assert_eq!(monitoring_objects(&rendered), (0, 0, 1), "the dashboard ConfigMap needs no CRD");
    assert!(rendered.has("Deployment"), "the rest installs");
}

#[test]
fn monitoring_can_be_forced_on_or_off() {
    let on = json!({"serviceMonitor": {"enabled": true}, "prometheusRule": {"enabled": true,
        "runbookBaseUrl": "https://wiki.example.com/xagent/", "labels": {"release": "prom"}}});
    // `true` means true: without the CRDs Helm itself refuses the kinds.
    let refused = render_on(Some(&on), &[MONITORING]).err().unwrap_or_default();
    assert!(refused.contains("no matches for kind \"ServiceMonitor\""), "{refused}");
    let rendered = render_ok(Some(&on));
    assert_eq!(monitoring_objects(&rendered), (1, 1, 1));
    let rule = rendered.all("PrometheusRule")[0];
    assert_eq!(rule["metadata"]["labels"]["release"], "prom");
    let groups: Vec<RuleGroup> = serde_json::from_value(rule["spec"]["groups"].clone()).expect("rule groups");
    assert_eq!(groups, [operator::rule_group("https://wiki.example.com/xagent")]);
    let off = json!({"serviceMonitor": {"enabled": false}, "prometheusRule": {"enabled": false},
        "dashboard": {"enabled": false}});
    assert_eq!(monitoring_objects(&render_ok(Some(&off))), (0, 0, 0));
    let labelled = json!({"dashboard": {"label": "grafana.io/dashboard", "labelValue": "xagent",
        "annotations": {"grafana_folder": "X-Agent"}}});
    let rendered = render_ok(Some(&labelled));
    let dashboard = rendered.get::<ConfigMap>("ConfigMap", &format!("{RELEASE}-dashboard")).metadata;
    assert_eq!(
        dashboard.labels.unwrap_or_default().get("grafana.io/dashboard").map(String::as_str),
        Some("xagent")
    );
    assert_eq!(dashboard.annotations.unwrap_or_default()["grafana_folder"], "X-Agent");
}

#[test]
fn chart_app_version_is_the_crate_version() {
    let chart = read_yaml_as_json(&chart_dir().join("Chart.yaml"));
    assert_eq!(chart["appVersion"], env!("CARGO_PKG_VERSION"), "bump Chart.yaml appVersion with Cargo.toml");
    assert_eq!(chart["apiVersion"], "v2");
    assert_eq!(chart["kubeVersion"], ">=1.25.0-0");
}

#[test]
fn rbac_and_service_account_can_come_from_elsewhere() {
    let rendered = render_ok(Some(
        &json!({"serviceAccount": {"create": false, "name": "mine"}, "rbac": {"create": false}}),
    ));
    for kind in ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"] {
        assert!(!rendered.has(kind), "no {kind} when serviceAccount.create and rbac.create are false");
    }
    let pod = rendered.deployment(RELEASE).spec.and_then(|s| s.template.spec).expect("a pod spec");
    assert_eq!(pod.service_account_name.as_deref(), Some("mine"));
}

#[test]
fn default_install_ships_the_user_roles_and_the_secret_access_policy_as_generated() {
    let rendered = render_ok(None);
    let shipped: Vec<Value> = serde_yaml::Deserializer::from_str(&rbac::user_roles_yaml())
        .map(|doc| Value::deserialize(doc).expect("generated YAML"))
        .collect();
    for role in &shipped {
        let name = role["metadata"]["name"].as_str().expect("a name");
        let rendered_role: Value = rendered.get("ClusterRole", name);
        assert_eq!(&rendered_role, role, "ClusterRole {name}");
    }
    let policy: Value = rendered.get("ValidatingAdmissionPolicy", xagent_operator::policy::NAME);
    assert_eq!(policy, xagent_operator::policy::policy());
    let binding: Value = rendered.get("ValidatingAdmissionPolicyBinding", xagent_operator::policy::NAME);
    assert_eq!(binding, xagent_operator::policy::binding());

    let off = render_ok(Some(
        &json!({"rbac": {"aggregateToDefaultRoles": false}, "secretAccessPolicy": {"enabled": false}}),
    ));
    assert_eq!(off.all("ClusterRole").len(), 1, "only the operator's ClusterRole");
    assert!(!off.has("ValidatingAdmissionPolicy") && !off.has("ValidatingAdmissionPolicyBinding"));
}

// ------------------------------------------------------------------ leader election

#[test]
fn leader_election_is_on_exactly_when_replicas_exceed_one_or_asked_for() {
    let cases = [
        (json!({"replicaCount": 1}), false),
        (json!({"replicaCount": 2}), true),
        (json!({"replicaCount": 3}), true),
        (json!({"replicaCount": 1, "leaderElection": {"enabled": true}}), true),
    ];
    for (values, on) in cases {
        let rendered = render_ok(Some(&values));
        let args = args(&rendered.deployment(RELEASE));
        assert_eq!(args.contains(&"--leader-election".to_string()), on, "{values}: {args:?}");
        let lease_role = format!("{RELEASE}-leader-election");
        if on {
            assert!(args.contains(&format!("--lease-name={RELEASE}")), "{values}: {args:?}");
            assert!(args.contains(&format!("--lease-namespace={NAMESPACE}")), "{values}: {args:?}");
            let role: Role = rendered.get("Role", &lease_role);
            assert_eq!(role.metadata.namespace.as_deref(), Some(NAMESPACE));
            assert_eq!(role.rules.unwrap_or_default(), rbac::leader_election_rules());
            let binding: RoleBinding = rendered.get("RoleBinding", &lease_role);
            assert_eq!(binding.role_ref.name, lease_role);
        } else {
            assert!(!args.iter().any(|a| a.starts_with("--lease")), "{values}: {args:?}");
            assert!(!rendered.has("Role"), "{values}: no lease Role without leader election");
        }
    }
}

// ------------------------------------------------------------------ every option on

#[test]
fn every_option_renders() {
    let rendered = render_ok(Some(&values_all()));
    let deployment = rendered.deployment(RELEASE);
    assert_eq!(deployment.spec.as_ref().and_then(|s| s.replicas), Some(2));
    assert_restricted(&deployment);
    assert_probes(&deployment);
    assert_eq!(
        args(&deployment),
        [
            "run",
            "--log-format=text",
            "--metrics-address=0.0.0.0:9091",
            "--namespace=x-agent,x-agent-staging",
            "--leader-election",
            "--lease-name=xagent-operator-lease",
            &format!("--lease-namespace={NAMESPACE}"),
            "--kube-api-qps=20",
            "--ingress-annotations-allow=cert-manager.io/*,nginx.ingress.kubernetes.io/*",
            "--ingress-annotations-deny=*-snippet,nginx.ingress.kubernetes.io/auth-url",
        ]
    );
    let container = operator_container(&deployment);
    assert_eq!(container.image.as_deref(), Some("example/xagent-operator:0.1.0-test"));
    assert_eq!(container.image_pull_policy.as_deref(), Some("Always"));
    let pod = deployment.spec.and_then(|s| s.template.spec).expect("a pod spec");
    assert_eq!(pod.service_account_name.as_deref(), Some("xagent-operator-sa"));
    assert_eq!(pod.priority_class_name.as_deref(), Some("system-cluster-critical"));
    assert!(pod.node_selector.is_some() && pod.tolerations.is_some() && pod.affinity.is_some());
    let env: Vec<String> = container.env.unwrap_or_default().into_iter().map(|e| e.name).collect();
    assert_eq!(env, ["POD_NAME", "POD_NAMESPACE", "RUST_LOG", "EXTRA", "FROM_SECRET"]);

    // Namespaced mode: the ClusterRole keeps the cluster-wide rules, a Role in
    // the watched namespace holds the rest.
    let cluster_role: ClusterRole = rendered.get("ClusterRole", RELEASE);
    assert_eq!(cluster_role.rules.unwrap_or_default(), rbac::cluster_rules());
    let watch_roles: Vec<Role> = rendered
        .all("Role")
        .into_iter()
        .filter(|r| r["metadata"]["name"] == RELEASE)
        .map(|r| serde_json::from_value(r.clone()).unwrap())
        .collect();
    let role_namespaces: Vec<&str> =
        watch_roles.iter().filter_map(|r| r.metadata.namespace.as_deref()).collect();
    assert_eq!(role_namespaces, ["x-agent", "x-agent-staging"], "one Role per watched namespace");
    for role in &watch_roles {
        assert_eq!(role.rules.clone().unwrap_or_default(), rbac::namespaced_rules());
    }
    let watch_binding = rendered
        .all("RoleBinding")
        .into_iter()
        .find(|b| b["metadata"]["name"] == RELEASE)
        .expect("a RoleBinding in the watched namespace");
    let watch_binding: RoleBinding = serde_json::from_value(watch_binding.clone()).unwrap();
    assert_eq!(watch_binding.metadata.namespace.as_deref(), Some("x-agent"));
    let subject = &watch_binding.subjects.unwrap_or_default()[0];
    assert_eq!(
        (subject.name.as_str(), subject.namespace.as_deref()),
        ("xagent-operator-sa", Some(NAMESPACE))
    );
    let lease_role: Role = rendered.get("Role", &format!("{RELEASE}-leader-election"));
    assert_eq!(lease_role.rules.unwrap_or_default(), rbac::leader_election_rules());
    assert!(rendered.notes.contains("namespaces x-agent,x-agent-staging only"), "{}", rendered.notes);

    // ServiceMonitor keeps the operator's namespace/xagent labels.
    let monitor = rendered.all("ServiceMonitor");
    assert_eq!(monitor.len(), 1);
    assert_eq!(monitor[0]["apiVersion"], "monitoring.coreos.com/v1");
    let endpoint = &monitor[0]["spec"]["endpoints"][0];
    assert_eq!(endpoint["honorLabels"], true);
    assert_eq!(endpoint["port"], "http-metrics");
    assert_eq!(endpoint["path"], "/metrics");
    assert_eq!(monitor[0]["metadata"]["labels"]["release"], "kube-prometheus-stack");
    let service: Service = rendered.get("Service", &format!("{RELEASE}-metrics"));
    let service_labels = service.metadata.labels.unwrap_or_default();
    for (key, value) in monitor[0]["spec"]["selector"]["matchLabels"].as_object().expect("matchLabels") {
        assert_eq!(
            service_labels.get(key).map(String::as_str),
            value.as_str(),
            "ServiceMonitor selects the Service"
        );
    }

    let pdb: PodDisruptionBudget = rendered.get("PodDisruptionBudget", RELEASE);
    assert_eq!(serde_json::to_value(pdb.spec.and_then(|s| s.min_available)).unwrap(), json!(1));
    assert_eq!(rendered.all("PodDisruptionBudget")[0]["apiVersion"], "policy/v1");
}

#[test]
fn the_chart_xagent_is_valid_for_the_operator() {
    let rendered = render_ok(Some(&values_all()));
    let xagents = rendered.all("XAgent");
    assert_eq!(xagents.len(), 1);
    let xagent = xagents[0];
    assert_eq!(xagent["apiVersion"], "xagent.io/v1alpha1");
    assert_eq!(xagent["metadata"]["name"], "demo");
    assert_eq!(xagent["metadata"]["namespace"], "x-agent", "in the watched namespace");
    assert_eq!(xagent["spec"], values_all()["xagent"]["spec"]);
    // The operator's own validation (CRD schema + CEL rules) accepts it and builds its children.
    let children = xagent_operator::render::render(&serde_yaml::to_string(xagent).unwrap())
        .unwrap_or_else(|e| panic!("the chart's XAgent is invalid: {e}"));
    assert!(children.contains("name: demo-api"), "{children}");
}

#[test]
fn the_xagent_defaults_to_the_release_name_and_namespace() {
    let rendered = render_ok(Some(&json!({"xagent": {"enabled": true}})));
    let xagent = rendered.all("XAgent")[0].clone();
    assert_eq!(xagent["metadata"]["name"], RELEASE);
    assert_eq!(xagent["metadata"]["namespace"], NAMESPACE);
    assert_eq!(xagent["spec"], json!({}));
}
