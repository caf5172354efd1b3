//! One operator, one namespace per scenario: create, steady state, drift,
//! removals, autoscaling, foreign objects, invalid stored specs, deletion.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use xagent_operator::crd::XAgent;

use crate::children::{self, default_set};
use crate::harness::{AuditEvent, Cluster, OPERATOR_USER, User};
use crate::install::install_monitoring_crds;
use crate::kit::{self, PodReadier, eventually};
use crate::operator::Operator;
use crate::runtime;

/// The scenarios of this module.
pub fn scenarios() -> Vec<crate::Scenario> {
    vec![
        ("lifecycle::create_converges_and_becomes_ready", create),
        ("lifecycle::steady_state_sends_no_writes_for_30s", steady_state),
        ("lifecycle::drift_of_every_kind_is_repaired", drift),
        ("lifecycle::fields_removed_from_the_spec_leave_the_children", removal),
        ("lifecycle::autoscaling_off_and_on_hands_replicas_over", autoscaling),
        ("lifecycle::foreign_object_is_never_adopted_and_is_reported", foreign),
        ("lifecycle::invalid_stored_xagent_leaves_children_untouched", invalid_stored),
        ("lifecycle::deleting_the_xagent_collects_its_children", garbage_collection),
    ]
}

/// The operator's mutating requests in `ns`, from the audit log.
pub fn operator_writes(cluster: &Cluster, ns: &str) -> Vec<AuditEvent> {
    cluster
        .audit()
        .into_iter()
        .filter(|e| e.username == OPERATOR_USER && e.namespace == ns && e.is_mutating())
        .collect()
}

fn describe(events: &[AuditEvent]) -> Vec<String> {
    events.iter().map(|e| format!("{} {}/{} {}", e.verb, e.resource, e.subresource, e.name)).collect()
}

/// Starts a namespace with an operator in it, the Prometheus Operator CRDs installed.
pub async fn setup(cluster: &Cluster, ns: &str) -> (Client, Operator) {
    install_monitoring_crds(cluster);
    let admin = cluster.client(User::Admin).await;
    kit::namespace(&admin, ns).await;
    let operator = Operator::start(cluster, User::Operator, ns, &[]);
    (admin, operator)
}

/// Waits until XAgent `name` owns exactly `expected` (Kind/name, sorted).
pub async fn wait_children(
    admin: &Client,
    ns: &str,
    name: &str,
    expected: &[String],
) -> Vec<(String, DynamicObject)> {
    let what = format!("children of {ns}/{name}: {expected:?}");
    eventually(&what, Duration::from_secs(60), || async {
        let objects = children::of(admin, ns, name).await;
        (children::references(&objects) == expected).then_some(objects)
    })
    .await
    .0
}

/// Watches every condition's lastTransitionTime of the XAgents in `ns` and
/// records any that moves backwards.
struct TransitionWatch {
    task: tokio::task::JoinHandle<()>,
    backwards: Arc<Mutex<Vec<String>>>,
    samples: Arc<Mutex<usize>>,
}

impl TransitionWatch {
    fn start(admin: &Client, ns: &str) -> TransitionWatch {
        let api = kit::xagents(admin, ns);
        let backwards = Arc::new(Mutex::new(Vec::new()));
        let samples = Arc::new(Mutex::new(0));
        let (b, s) = (backwards.clone(), samples.clone());
        let task = tokio::spawn(async move {
            let mut last: BTreeMap<String, String> = BTreeMap::new();
            loop {
                for xa in api.list(&Default::default()).await.map(|l| l.items).unwrap_or_default() {
                    let status = serde_json::to_value(&xa.status).unwrap_or_default();
                    for c in status["conditions"].as_array().into_iter().flatten() {
                        let key = format!("{}/{}", xa.name_any(), c["type"].as_str().unwrap_or_default());
                        let ltt = c["lastTransitionTime"].as_str().unwrap_or_default().to_string();
                        if let Some(prev) = last.get(&key).filter(|p| ltt < **p) {
                            b.lock().unwrap().push(format!("{key}: {prev} -> {ltt}"));
                        }
                        last.insert(key, ltt);
                    }
                }
                *s.lock().unwrap() += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
        TransitionWatch { task, backwards, samples }
    }

    fn finish(self) {
        self.task.abort();
        let backwards = self.backwards.lock().unwrap().clone();
        assert!(*self.samples.lock().unwrap() >= 2, "the transition watch took too few samples");
        assert!(backwards.is_empty(), "lastTransitionTime moved backwards: {backwards:?}");
    }
}

fn create(cluster: &Cluster) {
    runtime().block_on(async {
        let ns = "create";
        let (admin, _operator) = setup(cluster, ns).await;
        let transitions = TransitionWatch::start(&admin, ns);
        let started = Instant::now();
        let xa = kit::apply_xagent(&admin, ns, "demo", json!({})).await;
        let uid = xa.uid().expect("a uid");
        let objects = wait_children(&admin, ns, "demo", &default_set("demo")).await;
        eprintln!("13 children created in {:?}", started.elapsed());
        for (kind, obj) in &objects {
            assert_eq!(children::controller_uid(obj).as_deref(), Some(uid.as_str()), "{kind} owner");
            let labels = obj.labels();
            assert_eq!(
                labels.get("app.kubernetes.io/managed-by").map(String::as_str),
                Some("xagent-operator")
            );
            assert_eq!(labels.get("app.kubernetes.io/instance").map(String::as_str), Some("demo"));
        }
        // Autoscaled Deployments are created at the HPA's minimum, not 1.
        for name in ["demo-api", "demo-worker"] {
            let creation = operator_writes(cluster, ns)
                .into_iter()
                .find(|e| e.resource == "deployments" && e.name == name)
                .expect("the operator's first write of the Deployment");
            let replicas = creation.request.as_ref().and_then(|r| r.pointer("/spec/replicas")).cloned();
            assert_eq!(replicas, Some(json!(2)), "{name} created with replicas");
        }
        let xa = kit::wait_condition(&admin, ns, "demo", "Ready", "False").await;
        for type_ in ["Available", "Progressing", "Degraded", "Reconciling", "Stalled", "MonitoringReady"] {
            assert!(kit::condition(&xa, type_).is_some(), "condition {type_} missing");
        }
        let _pods = PodReadier::start(&admin, ns);
        let waited = Instant::now();
        let out = cluster.kubectl(
            User::Admin,
            &["wait", "--for=condition=Ready", "xagent/demo", "-n", ns, "--timeout=120s"],
        );
        assert!(out.status.success(), "kubectl wait: {}", String::from_utf8_lossy(&out.stderr));
        eprintln!(
            "kubectl wait --for=condition=Ready returned {:?} after pods were marked ready",
            waited.elapsed()
        );
        transitions.finish();
    });
}

fn steady_state(cluster: &Cluster) {
    runtime().block_on(async {
        let ns = "steady";
        let (admin, operator) = setup(cluster, ns).await;
        let transitions = TransitionWatch::start(&admin, ns);
        let _pods = PodReadier::start(&admin, ns);
        let names = ["alpha", "beta", "gamma"];
        for name in names {
            kit::apply_xagent(&admin, ns, name, json!({})).await;
        }
        for name in names {
            kit::wait_condition(&admin, ns, name, "Ready", "True").await;
        }
        // Let the last status writes and HPA first syncs settle.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let before = operator_writes(cluster, ns).len();
        let reconciles_before = operator.metric_sum("xagent_reconciles_total", "");
        let versions = |objects: Vec<(String, DynamicObject)>| -> BTreeMap<String, String> {
            objects.into_iter().map(|(k, o)| (format!("{k}/{}", o.name_any()), kit::rv(&o))).collect()
        };
        let status_writes = operator_status_times(&admin, ns).await;
        let mut child_rvs = BTreeMap::new();
        for name in names {
            child_rvs.extend(versions(children::of(&admin, ns, name).await));
        }
        // Three rounds of forced reconciles (an annotation moves no
        // generation but wakes the controller), 10 s apart.
        for round in 0..3 {
            for name in names {
                let patch = json!({"metadata": {"annotations": {"test/poke": round.to_string()}}});
                kit::xagents(&admin, ns).patch(name, &PatchParams::default(), &Patch::Merge(patch)).await.unwrap();
            }
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
        let writes = operator_writes(cluster, ns);
        assert_eq!(describe(&writes[before..]), Vec::<String>::new(), "operator writes in steady state");
        let reconciles = operator.metric_sum("xagent_reconciles_total", "") - reconciles_before;
        assert!(reconciles >= 9.0, "only {reconciles} reconciles during the window");
        assert_eq!(operator_status_times(&admin, ns).await, status_writes, "the operator rewrote a status");
        let mut moved = Vec::new();
        for name in names {
            for (reference, rv) in versions(children::of(&admin, ns, name).await) {
                if child_rvs.get(&reference) != Some(&rv) {
                    moved.push(reference);
                }
            }
        }
        // Only the controller-manager may have moved something: HPA status.
        assert!(moved.iter().all(|r| r.starts_with("HorizontalPodAutoscaler/")), "moved: {moved:?}");
        assert_hpas_worked_on(&admin, ns).await;
        eprintln!(
            "steady state: 0 operator writes in 30 s over {reconciles} reconciles of 3 XAgents; {} HPAs moved",
            moved.len()
        );
        transitions.finish();
    });
}

/// When the operator last wrote each XAgent's status (its managedFields entry).
async fn operator_status_times(admin: &Client, ns: &str) -> BTreeMap<String, String> {
    let list = kit::xagents(admin, ns).list(&Default::default()).await.expect("listing XAgents");
    list.items
        .iter()
        .map(|x| {
            let time = x
                .managed_fields()
                .iter()
                .find(|m| m.manager.as_deref() == Some("xagent-operator"))
                .and_then(|m| m.time.as_ref())
                .map(|t| t.0.to_string())
                .unwrap_or_default();
            (x.name_any(), time)
        })
        .collect()
}

/// Every HPA carries the controller-manager's status (it is processing them).
async fn assert_hpas_worked_on(admin: &Client, ns: &str) {
    let hpas = children::api(admin, ns, &children::kind("HorizontalPodAutoscaler"));
    for hpa in hpas.list(&Default::default()).await.expect("listing HPAs").items {
        let conditions = hpa.data.pointer("/status/conditions").and_then(Value::as_array).map(Vec::len);
        assert!(
            conditions.unwrap_or(0) > 0,
            "HPA {} has no status from the controller-manager",
            hpa.name_any()
        );
    }
}

/// An XAgent that owns one object of every kind.
fn every_kind_spec() -> Value {
    json!({
        "api": {"serviceAccount": {"create": true}},
        "chromadb": {"enabled": true},
        "networkPolicy": {"enabled": true},
        "ingress": {"host": "agents.example.com"},
    })
}

/// How one kind is disturbed, and how to tell it was put back.
struct Disturbance {
    kind: &'static str,
    name: &'static str,
    /// A merge patch by someone else, or `None` to delete the object.
    edit: Option<Value>,
    /// JSON pointer and value the operator sets, checked after an edit.
    restored: Option<(&'static str, Value)>,
}

fn disturbances() -> Vec<Disturbance> {
    let edit = |kind, name, patch: Value, pointer, value: Value| Disturbance {
        kind,
        name,
        edit: Some(patch),
        restored: Some((pointer, value)),
    };
    let delete = |kind, name| Disturbance { kind, name, edit: None, restored: None };
    vec![
        edit("Deployment", "demo-websocket", json!({"spec": {"replicas": 7}}), "/spec/replicas", json!(2)),
        delete("Service", "demo-api"),
        edit(
            "HorizontalPodAutoscaler",
            "demo-api",
            json!({"spec": {"maxReplicas": 50}}),
            "/spec/maxReplicas",
            json!(10),
        ),
        delete("PodDisruptionBudget", "demo-worker"),
        edit(
            "ServiceAccount",
            "demo-api",
            json!({"automountServiceAccountToken": true}),
            "/automountServiceAccountToken",
            json!(false),
        ),
        delete("StatefulSet", "demo-chromadb"),
        delete("NetworkPolicy", "demo-api"),
        edit(
            "Ingress",
            "demo",
            json!({"spec": {"rules": [{"host": "evil.example.com"}]}}),
            "/spec/rules/0/host",
            json!("agents.example.com"),
        ),
        edit(
            "ServiceMonitor",
            "demo",
            json!({"spec": {"endpoints": [{"port": "other"}]}}),
            "/spec/endpoints/0/port",
            json!("metrics"),
        ),
        delete("PrometheusRule", "demo"),
    ]
}

fn drift(cluster: &Cluster) {
    runtime().block_on(async {
        let ns = "drift";
        let (admin, _operator) = setup(cluster, ns).await;
        kit::apply_xagent(&admin, ns, "demo", every_kind_spec()).await;
        eventually("children of every kind", Duration::from_secs(60), || async {
            let objects = children::of(&admin, ns, "demo").await;
            let kinds: std::collections::BTreeSet<_> = objects.iter().map(|(k, _)| k.clone()).collect();
            (kinds.len() == children::kinds().len()).then_some(())
        })
        .await;
        for d in disturbances() {
            let took = disturb_and_wait(&admin, ns, &d).await;
            eprintln!(
                "{} {}/{} restored in {took:?}",
                if d.edit.is_some() { "edited" } else { "deleted" },
                d.kind,
                d.name
            );
            assert!(took < Duration::from_secs(15), "{}/{} took {took:?}", d.kind, d.name);
        }
    });
}

async fn disturb_and_wait(admin: &Client, ns: &str, d: &Disturbance) -> Duration {
    let api = children::api(admin, ns, &children::kind(d.kind));
    let before = api.get(d.name).await.unwrap_or_else(|e| panic!("{}/{}: {e}", d.kind, d.name));
    let old_uid = before.uid();
    match &d.edit {
        Some(patch) => {
            api.patch(d.name, &PatchParams::default(), &Patch::Merge(patch)).await.expect("editing");
        }
        None => {
            api.delete(d.name, &DeleteParams::background()).await.expect("deleting");
        }
    }
    let what = format!("{}/{} put back", d.kind, d.name);
    eventually(&what, Duration::from_secs(30), || async {
        let now = api.get_opt(d.name).await.ok()??;
        let back = match &d.restored {
            Some((pointer, value)) => serde_json::to_value(&now).ok()?.pointer(pointer) == Some(value),
            None => now.uid() != old_uid,
        };
        back.then_some(())
    })
    .await
    .1
}

fn removal(cluster: &Cluster) {
    runtime().block_on(async {
        let ns = "removal";
        let (admin, _operator) = setup(cluster, ns).await;
        let full = json!({
            "nodeSelector": {"disktype": "ssd"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "agents", "effect": "NoSchedule"}],
            "imagePullSecrets": ["registry-credentials"],
            "ingress": {"host": "agents.example.com", "tlsSecretName": "agents-tls", "annotations": {"team": "agents"}},
            "monitoring": {"serviceMonitor": {"labels": {"release": "prom"}}, "prometheusRule": {"labels": {"release": "prom"}}},
            "networkPolicy": {"enabled": true},
        });
        kit::apply_xagent(&admin, ns, "demo", full).await;
        let full_state = |objects: &[(String, DynamicObject)]| removable_fields(objects);
        let (present, _) = eventually("every removable field present", Duration::from_secs(60), || async {
            let found = full_state(&children::of(&admin, ns, "demo").await);
            (found.len() == REMOVABLE).then_some(found)
        })
        .await;
        eprintln!("present: {present:?}");
        let started = Instant::now();
        kit::apply_xagent(&admin, ns, "demo", json!({"ingress": {"host": "agents.example.com"}})).await;
        let (_, took) = eventually("every removed field gone", Duration::from_secs(30), || async {
            let found = full_state(&children::of(&admin, ns, "demo").await);
            found.is_empty().then_some(())
        })
        .await;
        eprintln!("{REMOVABLE} removed fields gone from the children {took:?} after the edit ({:?})", started.elapsed());
    });
}

/// How many removable fields the full spec puts on the children: three on
/// the API Deployment, two on the Ingress, a label on each monitoring object,
/// and the API's NetworkPolicy.
const REMOVABLE: usize = 8;

/// Which of the removable fields the children still carry.
fn removable_fields(objects: &[(String, DynamicObject)]) -> Vec<String> {
    let mut found = Vec::new();
    for (kind, obj) in objects {
        let v = serde_json::to_value(obj).unwrap_or_default();
        let name = format!("{kind}/{}", obj.name_any());
        let pod = v.pointer("/spec/template/spec");
        if kind == "Deployment" && name.ends_with("-api") {
            for field in ["nodeSelector", "tolerations", "imagePullSecrets"] {
                if pod.and_then(|p| p.get(field)).is_some() {
                    found.push(format!("{name} {field}"));
                }
            }
        }
        if kind == "Ingress" {
            if v.pointer("/spec/tls").is_some() {
                found.push(format!("{name} tls"));
            }
            if v.pointer("/metadata/annotations/team").is_some() {
                found.push(format!("{name} annotation"));
            }
        }
        if (kind == "ServiceMonitor" || kind == "PrometheusRule")
            && v.pointer("/metadata/labels/release").is_some()
        {
            found.push(format!("{name} label"));
        }
        if kind == "NetworkPolicy" && name.ends_with("-api") {
            found.push(name);
        }
    }
    found
}

/// Whether the operator's Apply entry in `obj`'s managedFields owns spec.replicas.
fn operator_owns_replicas(obj: &Value) -> bool {
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|m| m["manager"] == "xagent-operator" && m.pointer("/fieldsV1/f:spec/f:replicas").is_some())
}

fn autoscaling(cluster: &Cluster) {
    runtime().block_on(async {
        let ns = "scaling";
        let (admin, _operator) = setup(cluster, ns).await;
        let deployments: Api<DynamicObject> = children::api(&admin, ns, &children::kind("Deployment"));
        let hpas: Api<DynamicObject> = children::api(&admin, ns, &children::kind("HorizontalPodAutoscaler"));
        let fixed = json!({"api": {"replicas": 3, "autoscaling": {"enabled": false}}});
        kit::apply_xagent(&admin, ns, "demo", fixed).await;
        let replicas = |n: i64| {
            let deployments = deployments.clone();
            async move {
                let d = deployments.get_opt("demo-api").await.ok()??;
                let v = serde_json::to_value(&d).ok()?;
                (v.pointer("/spec/replicas") == Some(&json!(n))).then_some(v)
            }
        };
        eventually("3 fixed replicas", Duration::from_secs(60), || replicas(3)).await;
        assert!(hpas.get_opt("demo-api").await.unwrap().is_none(), "an HPA while autoscaling is off");

        let writes_before = operator_writes(cluster, ns).len();
        let on = json!({"api": {"replicas": 3, "autoscaling": {"enabled": true, "minReplicas": 2, "maxReplicas": 4}}});
        kit::apply_xagent(&admin, ns, "demo", on).await;
        eventually("the HPA", Duration::from_secs(30), || async { hpas.get_opt("demo-api").await.ok()? }).await;
        kit::wait_condition(&admin, ns, "demo", "Degraded", "False").await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (d, _) = eventually("3 replicas kept through the hand-off", Duration::from_secs(10), || replicas(3)).await;
        assert!(!operator_owns_replicas(&d), "the operator still owns spec.replicas");
        let since: Vec<AuditEvent> = operator_writes(cluster, ns)[writes_before..]
            .iter()
            .filter(|e| e.resource == "deployments" && e.name == "demo-api")
            .filter(|e| e.request.as_ref().is_some_and(|r| r["metadata"]["managedFields"].is_null()))
            .cloned()
            .collect();
        let main_applies: Vec<&AuditEvent> = since
            .iter()
            .filter(|e| e.request.as_ref().and_then(|r| r.pointer("/spec/template")).is_some())
            .collect();
        assert!(!main_applies.is_empty(), "no apply of demo-api after turning autoscaling on");
        for e in &main_applies {
            assert!(e.request.as_ref().unwrap().pointer("/spec/replicas").is_none(), "replicas written: {e:?}");
        }

        let off = json!({"api": {"replicas": 1, "autoscaling": {"enabled": false}}});
        kit::apply_xagent(&admin, ns, "demo", off).await;
        eventually("1 fixed replica", Duration::from_secs(30), || replicas(1)).await;
        eventually("the HPA gone", Duration::from_secs(30), || async {
            hpas.get_opt("demo-api").await.ok()?.is_none().then_some(())
        })
        .await;
    });
}

fn foreign(cluster: &Cluster) {
    runtime().block_on(async {
        let ns = "foreign";
        let (admin, _operator) = setup(cluster, ns).await;
        let services = children::api(&admin, ns, &children::kind("Service"));
        let theirs: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "demo-api", "namespace": ns, "labels": {"owner": "someone-else"}},
            "spec": {"ports": [{"port": 1234}], "selector": {"app": "theirs"}},
        }))
        .unwrap();
        let theirs =
            services.create(&Default::default(), &theirs).await.expect("creating the foreign Service");
        kit::apply_xagent(&admin, ns, "demo", json!({})).await;
        let xa = kit::wait_condition(&admin, ns, "demo", "Degraded", "True").await;
        assert_eq!(kit::condition(&xa, "Degraded").unwrap()["reason"], "ChildConflict");
        let conflicts = serde_json::to_value(&xa.status).unwrap()["conflicts"].clone();
        assert!(conflicts.to_string().contains("Service/demo-api"), "{conflicts}");
        // The rest converged; the foreign object is exactly as it was.
        let expected: Vec<String> =
            default_set("demo").into_iter().filter(|r| r != "Service/demo-api").collect();
        wait_children(&admin, ns, "demo", &expected).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let now = services.get("demo-api").await.unwrap();
        assert_eq!(kit::rv(&now), kit::rv(&theirs), "the foreign Service was changed");
        assert!(now.metadata.owner_references.is_none(), "the foreign Service was adopted");
        // The operator's only writes to it are applies that may only create
        // (their precondition fails on any stored object): each refused.
        let touched: Vec<_> = operator_writes(cluster, ns)
            .into_iter()
            .filter(|e| e.resource == "services" && e.name == "demo-api")
            .collect();
        let taken: Vec<_> = touched.iter().filter(|e| e.code != 409).cloned().collect();
        assert!(taken.is_empty(), "operator wrote the foreign Service: {:?}", describe(&taken));
        eprintln!("{} create-only applies of the foreign Service, each refused with 409", touched.len());
    });
}

/// Removes the spec.api CEL rules from the stored CRD, and puts the CRD back on drop.
struct LooserCrd<'a>(&'a Cluster);

impl<'a> LooserCrd<'a> {
    fn install(cluster: &'a Cluster) -> Self {
        let path =
            "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/api/x-kubernetes-validations";
        let patch = format!(r#"[{{"op": "remove", "path": "{path}"}}]"#);
        cluster.kubectl_ok(&["patch", "crd", "xagents.xagent.io", "--type=json", "-p", &patch]);
        LooserCrd(cluster)
    }
}

impl Drop for LooserCrd<'_> {
    fn drop(&mut self) {
        let crd = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crds/xagent.io_xagents.yaml");
        let _ = self.0.kubectl(
            User::Admin,
            &["apply", "--server-side", "--force-conflicts", "-f", &crd.display().to_string()],
        );
    }
}

/// Stores an XAgent `name` whose spec the CRD forbids (minReplicas above
/// maxReplicas), as an older CRD would have let through: the CRD's rule is
/// lifted for the write and put back after.
pub async fn store_invalid(cluster: &Cluster, admin: &Client, ns: &str, name: &str) -> XAgent {
    let _looser = LooserCrd::install(cluster);
    let bad = json!({"api": {"autoscaling": {"minReplicas": 5, "maxReplicas": 3}}});
    let body = json!({"apiVersion": "xagent.io/v1alpha1", "kind": "XAgent",
                      "metadata": {"name": name, "namespace": ns}, "spec": bad});
    for _ in 0..50 {
        // The CRD change takes a moment to reach the validating handler.
        let params = PatchParams::apply(kit::TESTER).force();
        match kit::xagents(admin, ns).patch(name, &params, &Patch::Apply(&body)).await {
            Ok(xa) => return xa,
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    panic!("the loosened CRD never accepted the invalid spec");
}

fn invalid_stored(cluster: &Cluster) {
    runtime().block_on(async {
        let ns = "invalid";
        let (admin, _operator) = setup(cluster, ns).await;
        kit::apply_xagent(&admin, ns, "demo", json!({})).await;
        let before = wait_children(&admin, ns, "demo", &default_set("demo")).await;
        kit::wait_condition(&admin, ns, "demo", "Degraded", "False").await;
        let identity = |objects: &[(String, DynamicObject)]| -> Vec<(String, Option<String>, Option<i64>)> {
            objects
                .iter()
                .map(|(k, o)| (format!("{k}/{}", o.name_any()), o.uid(), o.metadata.generation))
                .collect()
        };
        let writes_before = operator_writes(cluster, ns).len();
        // What an older CRD let through: minReplicas above maxReplicas.
        store_invalid(cluster, &admin, ns, "demo").await;
        let xa = kit::wait_condition(&admin, ns, "demo", "Degraded", "True").await;
        let degraded = kit::condition(&xa, "Degraded").unwrap();
        assert_eq!(degraded["reason"], "InvalidSpec");
        assert!(degraded["message"].to_string().contains("minReplicas"), "{degraded}");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let after = children::of(&admin, ns, "demo").await;
        assert_eq!(identity(&after), identity(&before), "children changed after an invalid spec");
        let child_writes: Vec<AuditEvent> = operator_writes(cluster, ns)[writes_before..]
            .iter()
            .filter(|e| e.resource != "xagents" && e.resource != "events")
            .cloned()
            .collect();
        assert!(child_writes.is_empty(), "children written: {:?}", describe(&child_writes));
    });
}

fn garbage_collection(cluster: &Cluster) {
    runtime().block_on(async {
        let ns = "gc";
        let (admin, _operator) = setup(cluster, ns).await;
        kit::apply_xagent(&admin, ns, "demo", json!({})).await;
        wait_children(&admin, ns, "demo", &default_set("demo")).await;
        let started = Instant::now();
        kit::xagents(&admin, ns)
            .delete("demo", &DeleteParams::background())
            .await
            .expect("deleting the XAgent");
        let (_, took) = eventually("every child collected", Duration::from_secs(90), || async {
            children::of(&admin, ns, "demo").await.is_empty().then_some(())
        })
        .await;
        eprintln!(
            "13 children garbage-collected {took:?} after the XAgent's deletion ({:?})",
            started.elapsed()
        );
    });
}
