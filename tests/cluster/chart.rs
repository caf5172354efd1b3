//! The Helm chart (`charts/xagent-operator`) installed into the real API
//! server by the real Helm library: PyPI `helm-sdkpy`, driven by
//! `tests/chart/install.py`, with the admin kubeconfig.
//!
//! `config/rbac` is applied already (ClusterRole, ClusterRoleBinding and
//! ServiceAccount `xagent-operator`), so the releases are named `chart-*`:
//! the chart names its objects `RELEASE-xagent-operator`, and nothing of
//! theirs collides with the project's. One release has the chart's defaults
//! (all namespaces), one every option on (`tests/chart/values-all.yaml`:
//! namespaced mode, leader election, ServiceMonitor, PodDisruptionBudget, an
//! XAgent). Each release's namespaces enforce the `restricted` Pod Security
//! profile. There is no kubelet: Pods are created, never run, and nothing
//! waits for readiness.

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authorization::v1::SubjectAccessReview;
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, Resource};
use serde::Deserialize;
use serde_json::{Value, json};
use xagent_operator::rbac;

use crate::harness::{Cluster, User, root};
use crate::install::install_monitoring_crds;
use crate::runtime;

use crate::support::tools::{self, SETUP_HINT};

/// A namespace no release watches, for permissions that must not reach it.
const ELSEWHERE: &str = "chart-unwatched";

/// The scenarios of this module.
pub fn scenarios() -> Vec<crate::Scenario> {
    vec![
        ("chart::helm_library_installs_the_chart_into_the_real_server", installs),
        ("chart::helm_library_reports_what_the_real_server_refuses", refused),
    ]
}

/// `python3 tests/chart/install.py ARGS`; fails the test when the script
/// could not run Helm at all (exit status 2).
fn install_py(args: &[String]) -> Output {
    let script = root().join("tests/chart/install.py");
    let output = Command::new(tools::python3())
        .arg(&script)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} ({e}): {SETUP_HINT}", tools::python3().display()));
    assert_ne!(
        output.status.code(),
        Some(2),
        "{} could not run Helm: {}\n{SETUP_HINT}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// What `install.py install` prints.
#[derive(Debug, Deserialize)]
struct Installed {
    name: String,
    namespace: String,
    revision: u64,
    status: String,
    manifest: String,
    notes: String,
}

/// What `install.py uninstall` prints.
#[derive(Debug, Deserialize)]
struct Uninstalled {
    name: String,
    status: String,
}

/// `helm install` of the chart; the script's output, whatever its exit status.
fn helm_install(cluster: &Cluster, release: &str, namespace: &str, values: Option<&Value>) -> Output {
    let mut args = vec![
        "install".to_string(),
        cluster.kubeconfig(User::Admin).display().to_string(),
        root().join("charts/xagent-operator").display().to_string(),
        release.to_string(),
        namespace.to_string(),
    ];
    if let Some(values) = values {
        let file = cluster.scratch("chart").join(format!("{release}-values.json"));
        std::fs::write(&file, serde_json::to_vec(values).expect("values as JSON")).expect("writing values");
        args.push(file.display().to_string());
    }
    install_py(&args)
}

/// `helm uninstall`; the script's output, whatever its exit status.
fn helm_uninstall(cluster: &Cluster, release: &str, namespace: &str) -> Output {
    install_py(&[
        "uninstall".to_string(),
        cluster.kubeconfig(User::Admin).display().to_string(),
        release.to_string(),
        namespace.to_string(),
    ])
}

/// Stdout as JSON of `T`, after checking the script succeeded.
fn parse_success<T: serde::de::DeserializeOwned>(output: &Output, what: &str) -> T {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{what} failed ({}):\n{stderr}", output.status);
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("{what} printed no JSON ({e}): {}", String::from_utf8_lossy(&output.stdout))
    })
}

/// `Kind namespace/name`, or `Kind name` for a cluster-scoped object.
fn reference(object: &Value) -> String {
    let field = |f: &str| object["metadata"][f].as_str().unwrap_or_default().to_string();
    let kind = object["kind"].as_str().unwrap_or("?");
    match field("namespace") {
        ns if ns.is_empty() => format!("{kind} {}", field("name")),
        ns => format!("{kind} {ns}/{}", field("name")),
    }
}

/// Every document of a release manifest.
fn documents(manifest: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(manifest)
        .map(|doc| Value::deserialize(doc).expect("Helm's manifest is YAML"))
        .filter(|doc| !doc.is_null())
        .collect()
}

/// The first place where `stored` lacks or differs from what was `written`.
/// The server may add fields (defaults, metadata), nothing else; numbers
/// compare by value.
fn first_change(written: &Value, stored: &Value, path: &str) -> Option<String> {
    match (written, stored) {
        (Value::Object(w), Value::Object(s)) => w.iter().find_map(|(key, value)| match s.get(key) {
            Some(kept) => first_change(value, kept, &format!("{path}.{key}")),
            None if value.is_null() => None,
            None => Some(format!("{path}.{key}: written {value}, not stored")),
        }),
        (Value::Array(w), Value::Array(s)) if w.len() == s.len() => {
            w.iter().zip(s).enumerate().find_map(|(i, (a, b))| first_change(a, b, &format!("{path}[{i}]")))
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => None,
        (a, b) if a == b => None,
        (a, b) => Some(format!("{path}: written {a}, stored {b}")),
    }
}

/// Every (API group, resource, verb) a rule list grants.
fn permissions(rules: &[PolicyRule]) -> Vec<(String, String, String)> {
    let mut all = Vec::new();
    for rule in rules {
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    all.push((group.clone(), resource.clone(), verb.clone()));
                }
            }
        }
    }
    all
}

/// One release of the chart and what it must consist of.
struct Case {
    /// The release name.
    release: &'static str,
    /// The release namespace.
    namespace: &'static str,
    /// The namespaces it watches; empty: all.
    watch: &'static [&'static str],
    /// Whether the operator is to elect a leader (a Lease Role and binding).
    leader_election: bool,
    /// Replicas of the Deployment.
    replicas: usize,
    /// The operator's ServiceAccount, in the release namespace.
    service_account: &'static str,
    /// User values (`helm install -f`); `None`: the chart's own.
    values: Option<Value>,
    /// Every object of the release, as [`reference`]s.
    expected: BTreeSet<String>,
}

impl Case {
    /// `RELEASE-xagent-operator`, the chart's name for its objects.
    fn fullname(&self) -> String {
        format!("{}-xagent-operator", self.release)
    }

    /// The chart's own values: every namespace, one replica.
    fn defaults() -> Case {
        let (release, ns) = ("chart-defaults", "chart-defaults");
        let full = format!("{release}-xagent-operator");
        Case {
            release,
            namespace: ns,
            watch: &[],
            leader_election: false,
            replicas: 1,
            service_account: "chart-defaults-xagent-operator",
            values: None,
            expected: [
                format!("ServiceAccount {ns}/{full}"),
                format!("ClusterRole {full}"),
                format!("ClusterRoleBinding {full}"),
                format!("Service {ns}/{full}-metrics"),
                format!("Deployment {ns}/{full}"),
                // The Prometheus Operator CRDs are installed: no values needed.
                format!("ServiceMonitor {ns}/{full}"),
                format!("PrometheusRule {ns}/{full}"),
                format!("ConfigMap {ns}/{full}-dashboard"),
            ]
            .into_iter()
            .chain(cluster_wide_for_people())
            .collect(),
        }
    }

    /// `tests/chart/values-all.yaml`, with names of this test's own and the
    /// options it counts on set explicitly.
    fn everything() -> Case {
        let (release, ns) = ("chart-all", "chart-all");
        let watch: &'static [&'static str] = &["chart-all-a", "chart-all-b"];
        let full = format!("{release}-xagent-operator");
        let file = root().join("tests/chart/values-all.yaml");
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut values: Value = serde_yaml::from_str(&text).expect("values-all.yaml parses");
        values["watchNamespaces"] = json!(watch);
        values["replicaCount"] = json!(2);
        values["leaderElection"]["enabled"] = json!(true);
        values["serviceAccount"]["create"] = json!(true);
        values["serviceAccount"]["name"] = json!("chart-all-operator");
        values["rbac"]["create"] = json!(true);
        values["serviceMonitor"]["enabled"] = json!(true);
        values["podDisruptionBudget"]["enabled"] = json!(true);
        values["xagent"]["enabled"] = json!(true);
        values["xagent"]["name"] = json!("chart-all-demo");
        let mut expected: BTreeSet<String> = [
            format!("ServiceAccount {ns}/chart-all-operator"),
            format!("ClusterRole {full}"),
            format!("ClusterRoleBinding {full}"),
            format!("Role {ns}/{full}-leader-election"),
            format!("RoleBinding {ns}/{full}-leader-election"),
            format!("Service {ns}/{full}-metrics"),
            format!("Deployment {ns}/{full}"),
            format!("ServiceMonitor {ns}/{full}"),
            format!("PrometheusRule {ns}/{full}"),
            format!("ConfigMap {ns}/{full}-dashboard"),
            format!("PodDisruptionBudget {ns}/{full}"),
            // The release namespace is not watched: the first watched one.
            format!("XAgent {}/chart-all-demo", watch[0]),
        ]
        .into_iter()
        .chain(cluster_wide_for_people())
        .collect();
        for watched in watch {
            expected.insert(format!("Role {watched}/{full}"));
            expected.insert(format!("RoleBinding {watched}/{full}"));
        }
        Case {
            release,
            namespace: ns,
            watch,
            leader_election: true,
            replicas: 2,
            service_account: "chart-all-operator",
            values: Some(values),
            expected,
        }
    }
}

/// resourceVersions of what must not change: the XAgent CRD (which the
/// chart's crds/ also holds) and what `kubectl apply -k config/rbac` created.
async fn untouched(client: &Client) -> Vec<(String, String)> {
    fn version<K: Resource>(what: &str, object: &K) -> (String, String) {
        let meta = object.meta();
        let uid = meta.uid.clone().unwrap_or_default();
        (
            what.to_string(),
            format!("uid {uid} resourceVersion {}", meta.resource_version.clone().unwrap_or_default()),
        )
    }
    fn got<K>(what: &str, result: Result<K, kube::Error>) -> K {
        result.unwrap_or_else(|e| panic!("getting {what}: {e}"))
    }
    let crd = Api::<CustomResourceDefinition>::all(client.clone()).get("xagents.xagent.io").await;
    let cluster_role = Api::<ClusterRole>::all(client.clone()).get("xagent-operator").await;
    let binding = Api::<ClusterRoleBinding>::all(client.clone()).get("xagent-operator").await;
    let account =
        Api::<ServiceAccount>::namespaced(client.clone(), "xagent-system").get("xagent-operator").await;
    vec![
        version("CRD xagents.xagent.io", &got("the CRD", crd)),
        version("ClusterRole xagent-operator", &got("the ClusterRole", cluster_role)),
        version("ClusterRoleBinding xagent-operator", &got("the ClusterRoleBinding", binding)),
        version("ServiceAccount xagent-system/xagent-operator", &got("the ServiceAccount", account)),
    ]
}

/// Whether the API server's RBAC authorizer lets `user` do `verb` on
/// `resource` (`plural` or `plural/subresource`) of `group` in `namespace`
/// (empty: cluster-wide).
async fn allowed(
    client: &Client,
    user: &(String, String),
    namespace: &str,
    permission: &(String, String, String),
) -> bool {
    let (group, resource, verb) = permission;
    let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
    let (account_namespace, account) = user;
    let review: SubjectAccessReview = serde_json::from_value(json!({"spec": {
        "user": format!("system:serviceaccount:{account_namespace}:{account}"),
        "groups": ["system:serviceaccounts", format!("system:serviceaccounts:{account_namespace}"),
                   "system:authenticated"],
        "resourceAttributes": {"namespace": namespace, "group": group, "resource": resource,
                               "subresource": subresource, "verb": verb},
    }}))
    .expect("a SubjectAccessReview");
    let answer = Api::<SubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .unwrap_or_else(|e| panic!("SubjectAccessReview for {user:?}: {e}"));
    answer.status.is_some_and(|s| s.allowed)
}

/// The permissions among `wanted` that the server answers other than `expect` for.
async fn wrongly_answered(
    client: &Client,
    user: &(String, String),
    namespace: &str,
    wanted: &[(String, String, String)],
    expect: bool,
) -> Vec<String> {
    let mut wrong = Vec::new();
    for permission in wanted {
        if allowed(client, user, namespace, permission).await != expect {
            let (group, resource, verb) = permission;
            wrong.push(format!("{verb} {group}/{resource} in {namespace:?}"));
        }
    }
    wrong
}

/// Asserts that the server grants `permissions` to `user` in `namespace`
/// exactly when `expect`.
async fn assert_grants(
    client: &Client,
    user: &(String, String),
    namespace: &str,
    permissions: &[(String, String, String)],
    expect: bool,
    when: &str,
) {
    assert!(!permissions.is_empty(), "no permissions to check {when}");
    let wrong = wrongly_answered(client, user, namespace, permissions, expect).await;
    let answer = if expect { "denied" } else { "allowed" };
    assert!(wrong.is_empty(), "{when}, the server {answer} ServiceAccount {user:?}:\n{}", wrong.join("\n"));
}

/// The only subject of a binding of the chart: its ServiceAccount.
fn assert_binds_service_account(subjects: Option<&Vec<Subject>>, case: &Case, what: &str) {
    let subjects: Vec<(String, String, String)> = subjects
        .into_iter()
        .flatten()
        .map(|s| (s.kind.clone(), s.namespace.clone().unwrap_or_default(), s.name.clone()))
        .collect();
    let want = ("ServiceAccount".to_string(), case.namespace.to_string(), case.service_account.to_string());
    assert_eq!(subjects, vec![want], "subjects of {what}");
}

/// The release's stored RBAC objects, Deployment and ServiceAccount, typed,
/// against src/rbac.rs and each other.
async fn check_typed_objects(client: &Client, case: &Case) {
    let full = case.fullname();
    let cluster_role =
        Api::<ClusterRole>::all(client.clone()).get(&full).await.expect("the release's ClusterRole");
    let cluster_rules = if case.watch.is_empty() {
        [rbac::namespaced_rules(), rbac::cluster_rules()].concat()
    } else {
        rbac::cluster_rules()
    };
    assert_eq!(cluster_role.rules.unwrap_or_default(), cluster_rules, "rules of ClusterRole {full}");
    let binding =
        Api::<ClusterRoleBinding>::all(client.clone()).get(&full).await.expect("the ClusterRoleBinding");
    assert_eq!(
        (binding.role_ref.kind.as_str(), binding.role_ref.name.as_str()),
        ("ClusterRole", full.as_str())
    );
    assert_binds_service_account(binding.subjects.as_ref(), case, &format!("ClusterRoleBinding {full}"));

    let mut roles: Vec<(String, String, Vec<PolicyRule>)> =
        case.watch.iter().map(|ns| (ns.to_string(), full.clone(), rbac::namespaced_rules())).collect();
    if case.leader_election {
        roles.push((
            case.namespace.to_string(),
            format!("{full}-leader-election"),
            rbac::leader_election_rules(),
        ));
    }
    for (ns, name, rules) in &roles {
        let role =
            Api::<Role>::namespaced(client.clone(), ns).get(name).await.expect("a Role of the release");
        assert_eq!(role.rules.as_ref(), Some(rules), "rules of Role {ns}/{name}");
        let binding = Api::<RoleBinding>::namespaced(client.clone(), ns)
            .get(name)
            .await
            .expect("a RoleBinding of the release");
        assert_eq!((binding.role_ref.kind.as_str(), binding.role_ref.name.as_str()), ("Role", name.as_str()));
        assert_binds_service_account(binding.subjects.as_ref(), case, &format!("RoleBinding {ns}/{name}"));
    }

    let account = Api::<ServiceAccount>::namespaced(client.clone(), case.namespace)
        .get_opt(case.service_account)
        .await
        .expect("getting the ServiceAccount");
    assert!(account.is_some(), "ServiceAccount {}/{} missing", case.namespace, case.service_account);
    let deployment = Api::<Deployment>::namespaced(client.clone(), case.namespace)
        .get(&full)
        .await
        .expect("the Deployment");
    let spec = deployment.spec.expect("a Deployment spec");
    assert_eq!(spec.replicas, Some(i32::try_from(case.replicas).expect("replicas fit")));
    let pod = spec.template.spec.expect("a pod spec");
    assert_eq!(
        pod.service_account_name.as_deref(),
        Some(case.service_account),
        "the Deployment's ServiceAccount"
    );
    let args = pod.containers[0].args.clone().unwrap_or_default();
    let namespace_arg = format!("--namespace={}", case.watch.join(","));
    assert_eq!(args.contains(&namespace_arg), !case.watch.is_empty(), "{namespace_arg} in {args:?}");
    assert_eq!(args.contains(&"--leader-election".to_string()), case.leader_election, "{args:?}");
    if case.leader_election {
        assert!(args.contains(&format!("--lease-namespace={}", case.namespace)), "{args:?}");
    }
}

/// What the release's ServiceAccount may do, asked of the server's authorizer.
async fn check_permissions(client: &Client, case: &Case, installed: bool) {
    let user = (case.namespace.to_string(), case.service_account.to_string());
    let namespaced = permissions(&rbac::namespaced_rules());
    let cluster = permissions(&rbac::cluster_rules());
    let leases = permissions(&rbac::leader_election_rules());
    let state = if installed { "installed" } else { "uninstalled" };
    let watched: Vec<&str> = if case.watch.is_empty() { vec![ELSEWHERE] } else { case.watch.to_vec() };
    for ns in &watched {
        assert_grants(client, &user, ns, &namespaced, installed, &format!("{} {state}", case.release)).await;
    }
    if !case.watch.is_empty() {
        let when = format!("{} {state}, outside its watched namespaces", case.release);
        assert_grants(client, &user, ELSEWHERE, &namespaced, false, &when).await;
    }
    assert_grants(client, &user, "", &cluster, installed, &format!("{} {state}", case.release)).await;
    let when = format!("{} {state}, leader election {}", case.release, case.leader_election);
    assert_grants(client, &user, case.namespace, &leases, installed && case.leader_election, &when).await;
}

/// Waits until the ReplicaSet controller created the Deployment's Pods: the
/// server's admission (Pod Security `restricted` included) accepted the pod
/// template. Returns how long that took.
async fn wait_for_pods(cluster: &Cluster, client: &Client, case: &Case) -> Duration {
    let started = Instant::now();
    let pods: Api<Pod> = Api::namespaced(client.clone(), case.namespace);
    let selector = format!("app.kubernetes.io/instance={}", case.release);
    loop {
        let count = pods.list(&ListParams::default().labels(&selector)).await.map_or(0, |l| l.items.len());
        if count == case.replicas {
            return started.elapsed();
        }
        if started.elapsed() > Duration::from_secs(60) {
            let events = cluster.kubectl_ok(&["get", "events", "-n", case.namespace]);
            panic!("{count} of {} Pods of {} after 60 s; events:\n{events}", case.replicas, case.release);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Installs `case`, checks the server holds the release as written and as
/// meant, uninstalls it, and checks it is gone.
fn install_and_check(cluster: &Cluster, client: &Client, case: &Case) {
    let scratch = cluster.scratch("chart");
    runtime().block_on(async {
        for ns in std::iter::once(&case.namespace).chain(case.watch) {
            crate::kit::restricted_namespace(client, ns).await;
        }
    });
    let before = runtime().block_on(untouched(client));

    let started = Instant::now();
    let output = helm_install(cluster, case.release, case.namespace, case.values.as_ref());
    let install_took = started.elapsed();
    let installed: Installed = parse_success(&output, &format!("helm install {}", case.release));
    let helm_stderr = String::from_utf8_lossy(&output.stderr).to_string();
    // client-go logs the server's warnings (deprecations, Pod Security) to stderr.
    assert!(!helm_stderr.to_lowercase().contains("warning"), "the server warned Helm:\n{helm_stderr}");
    assert_eq!((installed.name.as_str(), installed.namespace.as_str()), (case.release, case.namespace));
    assert_eq!((installed.status.as_str(), installed.revision), ("deployed", 1), "{helm_stderr}");
    let deployment_ref = format!("deployment/{}", case.fullname());
    assert!(
        installed.notes.contains(&deployment_ref),
        "NOTES.txt lacks {deployment_ref}:\n{}",
        installed.notes
    );

    // The release is what the chart should make of these values, no more, no less.
    let written = documents(&installed.manifest);
    let references: BTreeSet<String> = written.iter().map(reference).collect();
    assert_eq!(references.len(), written.len(), "an object twice in the manifest: {references:?}");
    assert_eq!(references, case.expected, "the objects of release {}", case.release);

    // Every object is in the server, as Helm wrote it, and Helm's.
    let manifest = scratch.join(format!("{}-manifest.yaml", case.release));
    std::fs::write(&manifest, &installed.manifest).expect("writing the manifest");
    let manifest = manifest.display().to_string();
    let stored: Value = serde_json::from_str(&cluster.kubectl_ok(&["get", "-f", &manifest, "-o", "json"]))
        .expect("kubectl get -f prints JSON");
    let stored = stored["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(stored.len(), written.len(), "objects stored of the release");
    for object in &written {
        let name = reference(object);
        let kept =
            stored.iter().find(|s| reference(s) == name).unwrap_or_else(|| panic!("{name} not stored"));
        if let Some(change) = first_change(object, kept, "") {
            panic!("the server did not keep {name} as Helm wrote it, at {change}");
        }
        let annotations = &kept["metadata"]["annotations"];
        assert_eq!(annotations["meta.helm.sh/release-name"], case.release, "{name}: {annotations}");
        assert_eq!(annotations["meta.helm.sh/release-namespace"], case.namespace, "{name}: {annotations}");
    }

    // Strict field validation, and no warnings (Pod Security's included),
    // for the whole manifest: a server-side dry run over the stored objects.
    let dry_run = cluster.kubectl(
        User::Admin,
        &[
            "apply",
            "--server-side",
            "--dry-run=server",
            "--validate=strict",
            "--force-conflicts",
            "--field-manager=chart-test",
            "-f",
            &manifest,
        ],
    );
    let dry_run_stderr = String::from_utf8_lossy(&dry_run.stderr);
    assert!(dry_run.status.success(), "strict server-side dry run of the manifest:\n{dry_run_stderr}");
    assert!(!dry_run_stderr.to_lowercase().contains("warning"), "warnings:\n{dry_run_stderr}");

    let release_secrets = ["get", "secrets", "-n", case.namespace, "-l", "owner=helm", "-o", "name"];
    let secret = format!("secret/sh.helm.release.v1.{}.v1", case.release);
    assert_eq!(cluster.kubectl_ok(&release_secrets).trim(), secret, "Helm's release record");

    let pods_took = runtime().block_on(async {
        check_typed_objects(client, case).await;
        check_permissions(client, case, true).await;
        wait_for_pods(cluster, client, case).await
    });
    assert_eq!(runtime().block_on(untouched(client)), before, "changed by installing {}", case.release);

    let started = Instant::now();
    let output = helm_uninstall(cluster, case.release, case.namespace);
    let uninstall_took = started.elapsed();
    let uninstalled: Uninstalled = parse_success(&output, &format!("helm uninstall {}", case.release));
    assert_eq!((uninstalled.name.as_str(), uninstalled.status.as_str()), (case.release, "uninstalled"));

    let left = cluster.kubectl_ok(&["get", "-f", &manifest, "--ignore-not-found", "-o", "name"]);
    assert!(left.trim().is_empty(), "left after uninstalling {}:\n{left}", case.release);
    let deployment = runtime().block_on(async {
        Api::<Deployment>::namespaced(client.clone(), case.namespace).get_opt(&case.fullname()).await
    });
    assert!(deployment.expect("getting the Deployment").is_none(), "the Deployment survived the uninstall");
    assert_eq!(cluster.kubectl_ok(&release_secrets).trim(), "", "Helm's release record after uninstalling");
    runtime().block_on(check_permissions(client, case, false));
    assert_eq!(runtime().block_on(untouched(client)), before, "changed by uninstalling {}", case.release);

    eprintln!(
        "{}: {} objects stored as written; helm install {install_took:?}; {} Pods admitted under \
         Pod Security restricted (waited {pods_took:?} more); helm uninstall {uninstall_took:?}, \
         nothing left",
        case.release,
        written.len(),
        case.replicas
    );
}

/// Removes the cluster-wide objects `config/` installed earlier (the
/// aggregated user roles, the secret-access policy): a cluster has them from
/// the kustomize install or from the chart, and Helm rightly refuses to take
/// over objects it did not create.
fn make_room_for_the_chart(cluster: &Cluster) {
    cluster.kubectl_ok(&[
        "delete",
        "clusterrole",
        "xagent-operator-view",
        "xagent-operator-edit",
        "--ignore-not-found",
    ]);
    let policy = xagent_operator::policy::NAME;
    for kind in ["validatingadmissionpolicybinding", "validatingadmissionpolicy"] {
        cluster.kubectl_ok(&["delete", kind, policy, "--ignore-not-found"]);
    }
}

/// What every release installs cluster-wide, whatever its name: the
/// aggregated user roles and the secret-access policy with its binding.
fn cluster_wide_for_people() -> [String; 4] {
    let policy = xagent_operator::policy::NAME;
    [
        "ClusterRole xagent-operator-view".to_string(),
        "ClusterRole xagent-operator-edit".to_string(),
        format!("ValidatingAdmissionPolicy {policy}"),
        format!("ValidatingAdmissionPolicyBinding {policy}"),
    ]
}

/// Both releases, one after the other; their namespaces are deleted at the end.
fn installs(cluster: &Cluster) {
    install_monitoring_crds(cluster);
    make_room_for_the_chart(cluster);
    let client = runtime().block_on(cluster.client(User::Admin));
    for case in [Case::defaults(), Case::everything()] {
        install_and_check(cluster, &client, &case);
    }
    let mut namespaces = vec!["delete", "namespace", "--wait=false"];
    namespaces.extend(["chart-defaults", "chart-all", "chart-all-a", "chart-all-b"]);
    cluster.kubectl_ok(&namespaces);
}

/// A refusal of the server reaches the test as exit status 1 with the
/// server's message, and uninstalling removes what a failed install created.
fn refused(cluster: &Cluster) {
    let (release, ns, absent) = ("chart-refused", "chart-refused", "chart-refused-absent");
    let full = format!("{release}-xagent-operator");
    make_room_for_the_chart(cluster);
    // Namespaced mode puts a Role into every watched namespace: one that does not exist.
    let output = helm_install(cluster, release, ns, Some(&json!({"watchNamespaces": [absent]})));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "installing with an absent watched namespace:\n{stderr}");
    let message = format!("namespaces \"{absent}\" not found");
    assert!(stderr.contains(&message), "the server's refusal ({message}) not reported:\n{stderr}");

    // Helm created what the server accepted and recorded a failed release.
    cluster.kubectl_ok(&["get", &format!("clusterrole/{full}")]);
    cluster.kubectl_ok(&["get", &format!("deployment/{full}"), "-n", ns]);
    let failed =
        cluster.kubectl_ok(&["get", "secrets", "-n", ns, "-l", "owner=helm,status=failed", "-o", "name"]);
    assert_eq!(failed.trim(), format!("secret/sh.helm.release.v1.{release}.v1"), "Helm's failed release");

    let uninstalled: Uninstalled = parse_success(&helm_uninstall(cluster, release, ns), "helm uninstall");
    assert_eq!(uninstalled.status, "uninstalled");
    for object in [format!("clusterrole/{full}"), format!("clusterrolebinding/{full}")] {
        let left = cluster.kubectl_ok(&["get", &object, "--ignore-not-found", "-o", "name"]);
        assert_eq!(left.trim(), "", "{object} left after uninstalling the failed release");
    }
    for object in
        [format!("deployment/{full}"), format!("serviceaccount/{full}"), format!("service/{full}-metrics")]
    {
        let left = cluster.kubectl_ok(&["get", &object, "-n", ns, "--ignore-not-found", "-o", "name"]);
        assert_eq!(left.trim(), "", "{object} left after uninstalling the failed release");
    }
    let again = helm_uninstall(cluster, release, ns);
    assert_eq!(again.status.code(), Some(1), "uninstalling a release that is gone");
    cluster.kubectl_ok(&["delete", "namespace", ns, "--wait=false"]);
}
