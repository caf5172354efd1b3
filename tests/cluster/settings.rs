//! The per-component pod settings on the real API server. The "everything"
//! sample sets each of them; its children must be stored as built (the
//! server adds its defaults, nothing we set is dropped or changed) and their
//! pods admitted under the `restricted` Pod Security profile. Then the spec
//! drops every setting and each child must lose it: server-side apply removes
//! what the operator no longer sends. The OpenShift sample's pods, which
//! leave user and group IDs to the platform, must be admitted too.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use xagent_operator::builders::{Child, build};
use xagent_operator::controller::apply::APPLIED_ANNOTATION;
use xagent_operator::crd::XAgent;

use crate::children;
use crate::harness::{Cluster, User};
use crate::install::install_monitoring_crds;
use crate::kit;
use crate::operator::Operator;
use crate::runtime;

/// The scenarios of this module.
pub fn scenarios() -> Vec<crate::Scenario> {
    vec![
        ("settings::every_pod_setting_is_stored_as_built_then_removed_again", round_trip),
        ("settings::the_openshift_sample_leaves_ids_to_the_platform_and_is_admitted", openshift),
    ]
}

/// The `spec` of a sample in `config/samples/`.
fn sample_spec(file: &str) -> Value {
    let path = format!("{}/config/samples/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    doc["spec"].clone()
}

/// Why `stored` does not hold everything of `desired`: each key of an
/// object, each item of a list (same length), each scalar equal. The server
/// may add fields (its defaults); it may not drop or change ours.
fn missing(desired: &Value, stored: &Value, path: &str) -> Vec<String> {
    match (desired, stored) {
        (Value::Object(d), Value::Object(s)) => d
            .iter()
            .flat_map(|(k, v)| match s.get(k) {
                Some(got) => missing(v, got, &format!("{path}/{k}")),
                None => vec![format!("{path}/{k}: dropped")],
            })
            .collect(),
        (Value::Array(d), Value::Array(s)) if d.len() == s.len() => d
            .iter()
            .zip(s)
            .enumerate()
            .flat_map(|(i, (d, s))| missing(d, s, &format!("{path}/{i}")))
            .collect(),
        _ if desired == stored => vec![],
        _ => vec![format!("{path}: sent {desired}, stored {stored}")],
    }
}

/// Fields of a pod template the settings write, under `/spec/template`.
const POD_FIELDS: &[&str] = &[
    "/metadata/labels",
    "/metadata/annotations",
    "/spec/serviceAccountName",
    "/spec/automountServiceAccountToken",
    "/spec/priorityClassName",
    "/spec/topologySpreadConstraints",
    "/spec/volumes",
    "/spec/securityContext",
    "/spec/hostAliases",
    "/spec/dnsConfig",
    "/spec/containers/0/volumeMounts",
    "/spec/containers/0/livenessProbe",
    "/spec/containers/0/readinessProbe",
    "/spec/containers/0/startupProbe",
    "/spec/containers/0/securityContext",
];

/// The fields each kind's settings write, as JSON pointers.
fn written_fields(kind: &str) -> Vec<String> {
    let template =
        |base: &str| POD_FIELDS.iter().map(|f| format!("{base}/spec/template{f}")).collect::<Vec<_>>();
    match kind {
        "Deployment" => [template(""), vec!["/spec/strategy".into()]].concat(),
        "StatefulSet" => template(""),
        // Not /spec/behavior: the server fills the direction left out with
        // its defaults. It is checked as sent, and as gone once not sent.
        "HorizontalPodAutoscaler" => vec!["/spec/metrics".into()],
        "ServiceAccount" | "Ingress" => vec!["/metadata/annotations".into()],
        _ => vec![],
    }
}

/// Why the field at `pointer` of `stored` is not exactly what `desired`
/// holds there: absent when we send nothing, and no key or item beyond ours
/// (at its first level; deeper the server may add its defaults).
fn leftover(desired: &Value, stored: &Value, pointer: &str) -> Vec<String> {
    match (desired.pointer(pointer), stored.pointer(pointer)) {
        (None, None) => vec![],
        (None, Some(got)) => vec![format!("{pointer}: not sent, still stored as {got}")],
        (Some(d), None) => vec![format!("{pointer}: sent {d}, not stored")],
        (Some(d), Some(s)) => {
            let mut wrong = missing(d, s, pointer);
            if let (Value::Object(d), Value::Object(s)) = (d, s) {
                wrong.extend(
                    s.keys().filter(|k| !d.contains_key(*k)).map(|k| format!("{pointer}/{k}: left over")),
                );
            }
            wrong
        }
    }
}

/// Waits until XAgent `xagent`'s children are the built ones, each stored
/// with every field as built and no written field beyond it; returns them.
async fn wait_stored_as_built(admin: &Client, xagent: &XAgent) -> Vec<(String, Value)> {
    let (ns, name) = (xagent.namespace().unwrap(), xagent.name_any());
    let desired: Vec<Child> = build(xagent);
    let mut expected: Vec<String> = desired.iter().map(|c| c.reference().to_string()).collect();
    expected.sort();
    let what = format!("the children of {ns}/{name}, stored as built");
    let mut last = Vec::new();
    let outcome = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let objects = children::of(admin, &ns, &name).await;
            last = compare(&desired, &objects, &expected);
            if last.is_empty() {
                return objects.into_iter().map(|(k, o)| (k, serde_json::to_value(o).unwrap())).collect();
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await;
    outcome.unwrap_or_else(|_| panic!("timed out waiting for {what}:\n{}", last.join("\n")))
}

/// What differs between the built children and the stored objects.
fn compare(
    desired: &[Child],
    objects: &[(String, kube::api::DynamicObject)],
    expected: &[String],
) -> Vec<String> {
    let got = children::references(objects);
    if got != expected {
        return vec![format!("children {got:?}, want {expected:?}")];
    }
    let mut wrong = Vec::new();
    for child in desired {
        let reference = child.reference().to_string();
        let Some((kind, object)) = objects.iter().find(|(k, o)| format!("{k}/{}", o.name_any()) == reference)
        else {
            continue;
        };
        let want = child.to_value();
        let mut stored = serde_json::to_value(object).unwrap();
        // The operator's stamp of what it applied is its own, not a setting.
        if let Some(annotations) = stored.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut)
        {
            annotations.remove(APPLIED_ANNOTATION);
            if annotations.is_empty() {
                stored["metadata"].as_object_mut().unwrap().remove("annotations");
            }
        }
        wrong.extend(missing(&want["spec"], &stored["spec"], &format!("{reference} spec")));
        if want.pointer("/spec/behavior").is_none() && stored.pointer("/spec/behavior").is_some() {
            wrong.push(format!("{reference} /spec/behavior: not sent, still stored"));
        }
        for pointer in written_fields(kind) {
            wrong.extend(leftover(&want, &stored, &pointer).into_iter().map(|w| format!("{reference} {w}")));
        }
    }
    wrong
}

/// Waits until each workload of `name` has at least one pod: the ReplicaSet
/// and StatefulSet controllers got them past admission (Pod Security
/// `restricted`, PriorityClass resolution). Returns the pods by component.
async fn wait_admitted(
    cluster: &Cluster,
    admin: &Client,
    ns: &str,
    name: &str,
    components: &[&str],
) -> Vec<Pod> {
    let pods: Api<Pod> = Api::namespaced(admin.clone(), ns);
    let selector = format!("app.kubernetes.io/instance={name}");
    let found = tokio::time::timeout(Duration::from_secs(90), async {
        loop {
            let list = pods
                .list(&ListParams::default().labels(&selector))
                .await
                .map(|l| l.items)
                .unwrap_or_default();
            let of = |c: &str| {
                list.iter()
                    .any(|p| p.labels().get("app.kubernetes.io/component").map(String::as_str) == Some(c))
            };
            if components.iter().all(|c| of(c)) {
                return list;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await;
    found.unwrap_or_else(|_| {
        let events = cluster.kubectl_ok(&["get", "events", "-n", ns]);
        panic!("not every component of {ns}/{name} got a pod within 90 s; events:\n{events}")
    })
}

/// The cluster-scoped and namespaced objects the "everything" sample names.
async fn prerequisites(admin: &Client, ns: &str) {
    let classes: Api<PriorityClass> = Api::all(admin.clone());
    for (class, value) in [("x-agent-high", 100_000), ("x-agent-batch", 1_000)] {
        let body: PriorityClass =
            serde_json::from_value(json!({"metadata": {"name": class}, "value": value})).unwrap();
        classes
            .create(&PostParams::default(), &body)
            .await
            .unwrap_or_else(|e| panic!("PriorityClass {class}: {e}"));
    }
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), ns);
    let runner: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "x-agent-runner"}})).unwrap();
    accounts.create(&PostParams::default(), &runner).await.expect("ServiceAccount x-agent-runner");
}

/// A namespace `ns` enforcing the `restricted` profile, with an operator in it.
async fn restricted_setup(cluster: &Cluster, ns: &str) -> (Client, Operator) {
    install_monitoring_crds(cluster);
    let admin = cluster.client(User::Admin).await;
    kit::restricted_namespace(&admin, ns).await;
    (admin, Operator::start(cluster, User::Operator, ns, &[]))
}

fn round_trip(cluster: &Cluster) {
    runtime().block_on(async {
        let (ns, name) = ("settings", "everything");
        let (admin, _operator) = restricted_setup(cluster, ns).await;
        prerequisites(&admin, ns).await;

        let xagent = kit::apply_xagent(&admin, ns, name, sample_spec("xagent-everything.yaml")).await;
        let stored = wait_stored_as_built(&admin, &xagent).await;
        let kinds: Vec<&str> = stored.iter().map(|(k, _)| k.as_str()).collect();
        assert!(kinds.contains(&"ServiceAccount"), "the created ServiceAccount is a child: {kinds:?}");
        let pods =
            wait_admitted(cluster, &admin, ns, name, &["api", "websocket", "worker", "chromadb"]).await;
        let api = pods.iter().find(|p| p.labels()["app.kubernetes.io/component"] == "api").unwrap();
        let spec = api.spec.as_ref().unwrap();
        assert_eq!(spec.service_account_name.as_deref(), Some("everything-api"));
        assert_eq!(spec.priority, Some(100_000), "the PriorityClass was resolved");
        eprintln!(
            "{} children stored as built; {} pods admitted under Pod Security restricted",
            stored.len(),
            pods.len()
        );

        // Everything the sample set is dropped; ChromaDB stays on so its pod settings can be seen to go.
        let xagent = kit::apply_xagent(&admin, ns, name, json!({"chromadb": {"enabled": true}})).await;
        let stored = wait_stored_as_built(&admin, &xagent).await;
        let kinds: Vec<&str> = stored.iter().map(|(k, _)| k.as_str()).collect();
        assert!(!kinds.contains(&"ServiceAccount"), "the ServiceAccount went with its setting: {kinds:?}");
        eprintln!("after the settings were removed, {} children hold none of them", stored.len());
    });
}

fn openshift(cluster: &Cluster) {
    runtime().block_on(async {
        let (ns, name) = ("openshift", "openshift");
        let (admin, _operator) = restricted_setup(cluster, ns).await;
        let xagent = kit::apply_xagent(&admin, ns, name, sample_spec("xagent-openshift.yaml")).await;
        wait_stored_as_built(&admin, &xagent).await;
        let pods =
            wait_admitted(cluster, &admin, ns, name, &["api", "websocket", "worker", "chromadb"]).await;
        for pod in &pods {
            let context = pod.spec.as_ref().unwrap().security_context.clone().unwrap_or_default();
            let ids = (context.run_as_user, context.run_as_group, context.fs_group);
            assert_eq!(ids, (None, None, None), "{}: the platform assigns the IDs", pod.name_any());
            assert_eq!(context.run_as_non_root, Some(true), "{}", pod.name_any());
        }
    });
}
