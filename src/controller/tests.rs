//! Reconciler tests against kube's mock API service: every request the
//! reconciler sends is recorded and asserted, method and URL exactly.

use std::sync::Arc;

use http::Method;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus};
use kube::{Client, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::apply::{self, APPLIED_ANNOTATION, NO_STORED_VERSION};
use super::crds::MonitoringCrds;
use super::stores::{self, AbsentMemo, AppliedMemo};
use super::{Context, reconcile};
use crate::builders::{self, Child};
use crate::crd::XAgent;
use crate::error::Error;
use crate::mock_api::{self, Recorded};

const NS: &str = "ns";
/// The resourceVersion of the XAgent the reconciler is handed.
const XAGENT_RV: &str = "7";
const UID: &str = "uid-demo";
const FIELD_MANAGER: &str = "?&force=true&fieldManager=xagent-operator";

/// How the fake API server answers, and what the operator process remembers
/// between reconciles (clones share it, as one operator's reconciles do).
#[derive(Default, Clone)]
struct Server {
    /// Objects that exist on the server but may be missing from the caches, keyed by URL path.
    /// Cached children are served too: the caches mirror the server.
    existing: Vec<(String, Value)>,
    /// Make every child apply fail with this HTTP status.
    fail_apply: Option<u16>,
    /// Make the status write fail with this HTTP status.
    fail_status: Option<u16>,
    /// The operator's memo of workloads it found or applied.
    memo: Arc<AppliedMemo>,
    /// The operator's memo of watched children it found absent.
    absent: Arc<AbsentMemo>,
    /// The watched kinds' metadata caches hold their first list (of the
    /// watched children among the cached ones): their CRDs were served
    /// when the operator started.
    watched_synced: bool,
    /// The watches have brought nothing since the last reconcile: the
    /// caches are as given, and the earlier writes' echoes still pending.
    watch_behind: bool,
}

fn respond(server: &Server, method: &Method, path: &str, body: &Value) -> (u16, Value) {
    match *method {
        Method::GET => match server.existing.iter().find(|(p, _)| p == path) {
            Some((_, obj)) => (200, obj.clone()),
            None => (404, mock_api::status(404, "NotFound")),
        },
        Method::PATCH if path.ends_with("/status") => {
            if let Some(code) = server.fail_status {
                return (code, mock_api::status(code, "Conflict"));
            }
            let stored = json!({
                "apiVersion": "xagent.io/v1alpha1", "kind": "XAgent",
                "metadata": {"name": "demo", "namespace": NS, "uid": UID},
                "spec": {}, "status": body["status"]
            });
            (200, stored)
        }
        Method::PATCH => match server.fail_apply {
            Some(code) => (code, mock_api::status(code, "InternalError")),
            // A create-only apply of a name that exists: the precondition fails.
            None if body["metadata"]["resourceVersion"] == NO_STORED_VERSION
                && server.existing.iter().any(|(p, _)| p == path) =>
            {
                (409, mock_api::status(409, "Conflict"))
            }
            None => {
                let mut applied = body.clone();
                applied["metadata"]["resourceVersion"] = json!("1");
                applied["metadata"]["generation"] = json!(1);
                (200, applied)
            }
        },
        Method::POST => (201, body.clone()),
        Method::DELETE => (200, mock_api::status(200, "Success")),
        _ => (500, mock_api::status(500, "unexpected request")),
    }
}

/// A client whose requests are answered by `server` and recorded until every clone is dropped.
fn mock_client(server: Server) -> (Client, JoinHandle<Vec<Recorded>>) {
    mock_api::serve(NS, move |r| respond(&server, &r.method, &r.path, &r.body))
}

fn xagent(spec: Value) -> XAgent {
    serde_json::from_value(json!({
        "apiVersion": "xagent.io/v1alpha1",
        "kind": "XAgent",
        "metadata": {"name": "demo", "namespace": NS, "uid": UID, "generation": 1, "resourceVersion": XAGENT_RV},
        "spec": spec
    }))
    .unwrap()
}

/// Runs one reconcile with caches holding `cached`, and returns its result and every request sent.
async fn reconcile_with(
    xa: &XAgent,
    cached: &[Child],
    server: Server,
) -> (Result<kube::runtime::controller::Action, Error>, Vec<Recorded>) {
    reconcile_with_crds(xa, cached, server, false).await
}

/// Like [`reconcile_with`], with the Prometheus Operator CRDs installed or not.
async fn reconcile_with_crds(
    xa: &XAgent,
    cached: &[Child],
    server: Server,
    crds_installed: bool,
) -> (Result<kube::runtime::controller::Action, Error>, Vec<Recorded>) {
    let mut server = server;
    // Earlier entries win: a test's own `existing` overrides the cache mirror.
    let mirrored = cached.iter().filter(|c| !c.kind().is_monitoring());
    server.existing.extend(mirrored.map(|c| (path_of(c), c.to_value())));
    let (memo, absent, watched_synced) = (server.memo.clone(), server.absent.clone(), server.watched_synced);
    let watch_behind = server.watch_behind;
    let (client, recorder) = mock_client(server);
    let (mut stores, mut writers) = stores::new();
    // Unless the watches are behind, the caches are filled as a watch's
    // first list, which says what exists now: the writes of earlier
    // reconciles vouch for nothing more.
    if !watch_behind {
        memo.forget_echoes();
    }
    stores.applied = memo;
    stores.absent = absent;
    for child in cached {
        writers.cache_slim(child.clone());
    }
    if watched_synced {
        writers.sync_watched(cached);
    }
    let crds = Arc::new(MonitoringCrds::new(crds_installed));
    let ctx = Arc::new(Context::new(client, stores).with_crds(crds));
    let result = reconcile(Arc::new(xa.clone()), ctx).await;
    (result, recorder.await.unwrap())
}

/// The URL path of a child, spelled out independently of kube's URL builder.
fn path_of(child: &Child) -> String {
    let (prefix, plural) = match child {
        Child::Service(_) => ("/api/v1", "services"),
        Child::ServiceAccount(_) => ("/api/v1", "serviceaccounts"),
        Child::ConfigMap(_) => ("/api/v1", "configmaps"),
        Child::Deployment(_) => ("/apis/apps/v1", "deployments"),
        Child::StatefulSet(_) => ("/apis/apps/v1", "statefulsets"),
        Child::Hpa(_) => ("/apis/autoscaling/v2", "horizontalpodautoscalers"),
        Child::Pdb(_) => ("/apis/policy/v1", "poddisruptionbudgets"),
        Child::NetworkPolicy(_) => ("/apis/networking.k8s.io/v1", "networkpolicies"),
        Child::Ingress(_) => ("/apis/networking.k8s.io/v1", "ingresses"),
        Child::ServiceMonitor(_) => ("/apis/monitoring.coreos.com/v1", "servicemonitors"),
        Child::PrometheusRule(_) => ("/apis/monitoring.coreos.com/v1", "prometheusrules"),
        Child::AlertmanagerConfig(_) => ("/apis/monitoring.coreos.com/v1alpha1", "alertmanagerconfigs"),
    };
    format!("{prefix}/namespaces/{NS}/{plural}/{}", child.name())
}

/// The requests that create `children` from nothing: one create-only apply
/// each (no read first), then one "Created" event and the status write.
fn created_then_reported(children: &[Child]) -> Vec<String> {
    let mut expected = Vec::new();
    for child in children {
        expected.push(format!("PATCH {}{FIELD_MANAGER}", path_of(child)));
    }
    expected.push(EVENT_POST.to_string());
    expected.push(STATUS_PATCH.to_string());
    expected
}

const STATUS_PATCH: &str = "PATCH /apis/xagent.io/v1alpha1/namespaces/ns/xagents/demo/status?&force=true&fieldManager=xagent-operator";
const EVENT_POST: &str = "POST /apis/events.k8s.io/v1/namespaces/ns/events?";

/// The child as the operator applies it: stamped with the fingerprint of
/// the desired object (see [`apply::stamped`]).
fn stamped_child(child: &Child) -> Child {
    fn back<K: DeserializeOwned>(value: Value) -> K {
        serde_json::from_value(value).unwrap()
    }
    let json = apply::stamped(child);
    match child {
        Child::Service(_) => Child::Service(back(json)),
        Child::ServiceAccount(_) => Child::ServiceAccount(back(json)),
        Child::ConfigMap(_) => Child::ConfigMap(back(json)),
        Child::Deployment(_) => Child::Deployment(back(json)),
        Child::StatefulSet(_) => Child::StatefulSet(back(json)),
        Child::Hpa(_) => Child::Hpa(back(json)),
        Child::Pdb(_) => Child::Pdb(back(json)),
        Child::NetworkPolicy(_) => Child::NetworkPolicy(back(json)),
        Child::Ingress(_) => Child::Ingress(back(json)),
        Child::ServiceMonitor(_) => Child::ServiceMonitor(back(json)),
        Child::PrometheusRule(_) => Child::PrometheusRule(back(json)),
        Child::AlertmanagerConfig(_) => Child::AlertmanagerConfig(back(json)),
    }
}

/// The minReplicas of the HPA in `desired` that scales the Deployment `name`, if any.
fn hpa_min_replicas(desired: &[Child], name: &str) -> Option<i32> {
    desired.iter().find_map(|c| match c {
        Child::Hpa(h) => {
            let spec = h.spec.as_ref().unwrap();
            (spec.scale_target_ref.kind == "Deployment" && spec.scale_target_ref.name == name)
                .then(|| spec.min_replicas.unwrap())
        }
        _ => None,
    })
}

/// The apply body that creates `child`: the stamped child, with the
/// precondition that makes it create-only and, for a Deployment an HPA in
/// `desired` scales, the HPA's minimum as its first replica count.
fn created_body(child: &Child, desired: &[Child]) -> Value {
    let mut body = apply::stamped(child);
    body["metadata"]["resourceVersion"] = json!(NO_STORED_VERSION);
    if let Child::Deployment(d) = child
        && let Some(min) = hpa_min_replicas(desired, &d.name_any())
    {
        assert!(body["spec"].get("replicas").is_none(), "{} is autoscaled", child.reference());
        body["spec"]["replicas"] = json!(min);
    }
    body
}

/// Children as the API server would hold them after our apply: stamped,
/// server-side defaults added and, for workloads, every replica ready.
fn as_stored(children: &[Child]) -> Vec<Child> {
    children
        .iter()
        .map(stamped_child)
        .map(|mut child| {
            if let Child::Deployment(d) = &mut child {
                ready(d);
            }
            if let Child::Service(s) = &mut child {
                let spec = s.spec.as_mut().unwrap();
                spec.cluster_ip.get_or_insert_with(|| "10.96.0.10".into());
                spec.session_affinity.get_or_insert_with(|| "None".into());
            }
            child
        })
        .collect()
}

fn ready(d: &mut Deployment) {
    d.metadata.generation = Some(3);
    d.metadata.resource_version = Some("42".into());
    let spec = d.spec.as_mut().unwrap();
    let replicas = *spec.replicas.get_or_insert(2);
    let container = &mut spec.template.spec.as_mut().unwrap().containers[0];
    container.termination_message_path = Some("/dev/termination-log".into());
    d.status = Some(DeploymentStatus {
        observed_generation: Some(3),
        replicas: Some(replicas),
        ready_replicas: Some(replicas),
        updated_replicas: Some(replicas),
        available_replicas: Some(replicas),
        ..DeploymentStatus::default()
    });
}

fn status_of(requests: &[Recorded]) -> Value {
    let patch = requests.iter().find(|r| r.line() == STATUS_PATCH).expect("a status patch");
    patch.body["status"].clone()
}

fn condition<'a>(status: &'a Value, type_: &str) -> &'a Value {
    status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == type_).unwrap()
}

#[tokio::test]
async fn first_reconcile_creates_every_child_then_writes_status() {
    let xa = xagent(json!({}));
    // Without the Prometheus Operator CRDs the monitoring objects are skipped.
    let desired: Vec<Child> =
        builders::build(&xa).into_iter().filter(|c| !c.kind().is_monitoring()).collect();
    let (result, requests) = reconcile_with(&xa, &[], Server::default()).await;
    result.unwrap();

    let expected = created_then_reported(&desired);
    let lines: Vec<String> = requests.iter().map(Recorded::line).collect();
    assert_eq!(lines, expected);

    let event = requests.iter().find(|r| r.line() == EVENT_POST).unwrap();
    assert_eq!(event.body["reason"], "Created");
    let note = event.body["note"].as_str().unwrap();
    assert!(desired.iter().all(|c| note.contains(&c.reference().to_string())), "{note}");

    // The apply bodies are exactly the built children, stamped; autoscaled
    // Deployments start at their HPA's minimum.
    let patches: Vec<&Recorded> =
        requests.iter().filter(|r| r.method == Method::PATCH && !r.uri.contains("/status")).collect();
    assert_eq!(patches.len(), desired.len());
    for (patch, child) in patches.iter().zip(&desired) {
        assert_eq!(patch.body, created_body(child, &desired), "apply body of {}", child.reference());
        assert!(
            patch.body["metadata"]["annotations"][APPLIED_ANNOTATION].as_str().is_some_and(|s| s.len() == 16),
            "stamp of {}",
            child.reference()
        );
    }

    let status_write = requests.iter().find(|r| r.line() == STATUS_PATCH).unwrap();
    assert_eq!(status_write.body["metadata"]["resourceVersion"], XAGENT_RV, "a conditional write");
    let status = status_of(&requests);
    assert_eq!(status["observedGeneration"], 1);
    assert_eq!(condition(&status, "Ready")["status"], "False");
    assert_eq!(condition(&status, "Available")["status"], "False");
    assert_eq!(condition(&status, "Progressing")["status"], "True");
    assert_eq!(condition(&status, "Degraded")["status"], "False");
    assert_eq!(condition(&status, "MonitoringReady")["status"], "False");
    assert_eq!(condition(&status, "MonitoringReady")["reason"], "PrometheusOperatorNotInstalled");
    assert!(requests.iter().all(|r| !r.uri.contains("monitoring.coreos.com")));
    for c in status["conditions"].as_array().unwrap() {
        assert_eq!(c["observedGeneration"], 1, "{c}");
        assert!(c["lastTransitionTime"].as_str().is_some_and(|t| t.ends_with('Z')), "{c}");
    }
}

#[tokio::test]
async fn autoscaled_deployments_are_created_at_min_replicas_then_applied_without_replicas() {
    let spec = json!({
        "api": {"autoscaling": {"minReplicas": 3}},
        "worker": {"autoscaling": {"minReplicas": 4}}
    });
    let xa = xagent(spec.clone());
    let deployment_patch = |requests: &[Recorded], name: &str| {
        let uri = format!("/apis/apps/v1/namespaces/ns/deployments/{name}{FIELD_MANAGER}");
        let patches: Vec<Value> = requests
            .iter()
            .filter(|r| r.method == Method::PATCH && r.uri == uri)
            .map(|r| r.body.clone())
            .collect();
        assert_eq!(patches.len(), 1, "one apply of {name}");
        patches.into_iter().next().unwrap()
    };

    // Created: an autoscaled Deployment starts at its HPA's minimum, not at 1.
    let (result, requests) = reconcile_with(&xa, &[], Server::default()).await;
    result.unwrap();
    assert_eq!(deployment_patch(&requests, "demo-api")["spec"]["replicas"], 3);
    assert_eq!(deployment_patch(&requests, "demo-worker")["spec"]["replicas"], 4);
    assert_eq!(deployment_patch(&requests, "demo-websocket")["spec"]["replicas"], 2);

    // Existing (applied for an older image): re-applied without replicas, the HPA owns them.
    let mut older = spec;
    older["image"] = json!({"tag": "v0"});
    let stored = as_stored(&builders::build(&xagent(older)));
    let (result, requests) = reconcile_with(&xa, &stored, Server::default()).await;
    result.unwrap();
    for name in ["demo-api", "demo-worker"] {
        let body = deployment_patch(&requests, name);
        assert!(body["spec"].get("replicas").is_none(), "{name}: {body}");
        assert_eq!(body["spec"]["template"]["spec"]["containers"][0]["image"], "xagent/x-agent:latest");
    }
    assert_eq!(deployment_patch(&requests, "demo-websocket")["spec"]["replicas"], 2);
    assert!(!requests.iter().any(|r| r.uri.contains("handoff")), "nothing to hand off");
}

#[tokio::test]
async fn ready_children_make_the_xagent_ready() {
    let xa = xagent(json!({}));
    let stored = as_stored(&builders::build(&xa));
    let (result, requests) = reconcile_with(&xa, &stored, Server::default()).await;
    result.unwrap();
    let lines: Vec<String> = requests.iter().map(Recorded::line).collect();
    // A fresh operator reads each child once (they are cached slim), then
    // only the status changes.
    let workload_gets: Vec<String> =
        stored.iter().filter(|c| !c.kind().is_monitoring()).map(|c| format!("GET {}", path_of(c))).collect();
    let mut expected = workload_gets;
    expected.push(STATUS_PATCH.to_string());
    assert_eq!(lines, expected);
    let status = status_of(&requests);
    assert_eq!(condition(&status, "Ready")["status"], "True");
    assert_eq!(condition(&status, "Available")["status"], "True");
    assert_eq!(condition(&status, "Progressing")["status"], "False");
    assert_eq!(status["components"]["api"]["summary"], "2/2");
    assert_eq!(status["components"]["websocket"]["readyReplicas"], 2);
}

#[tokio::test]
async fn unchanged_fully_applied_xagent_sends_no_request_at_all() {
    let mut xa = xagent(json!({"chromadb": {"enabled": true}}));
    let mut stored = as_stored(&builders::build(&xa));
    for child in &mut stored {
        if let Child::StatefulSet(s) = child {
            s.status = Some(k8s_openapi::api::apps::v1::StatefulSetStatus {
                observed_generation: Some(1),
                replicas: 1,
                ready_replicas: Some(1),
                updated_replicas: Some(1),
                ..Default::default()
            });
        }
    }
    // First pass computes the status the operator would store and checks each workload once.
    let server = Server::default();
    let (result, requests) = reconcile_with(&xa, &stored, server.clone()).await;
    result.unwrap();
    xa.status = Some(serde_json::from_value(status_of(&requests)).unwrap());

    let (result, requests) = reconcile_with(&xa, &stored, server).await;
    result.unwrap();
    let lines: Vec<String> = requests.iter().map(Recorded::line).collect();
    assert!(lines.is_empty(), "expected no request, got {lines:#?}");
}

#[tokio::test]
async fn a_reconcile_before_the_watch_brings_the_new_children_sends_them_nothing() {
    let xa = xagent(json!({}));
    let server = Server::default();
    let (result, _) = reconcile_with(&xa, &[], server.clone()).await;
    result.unwrap();
    let child_requests = |requests: &[Recorded]| -> Vec<String> {
        let lines = requests.iter().map(Recorded::line);
        lines.filter(|l| *l != EVENT_POST && *l != STATUS_PATCH).collect()
    };
    // Woken again before the watches brought the children: the caches are still empty.
    let behind = Server { watch_behind: true, ..server.clone() };
    let (result, requests) = reconcile_with(&xa, &[], behind).await;
    result.unwrap();
    assert_eq!(child_requests(&requests), Vec::<String>::new(), "the writes vouch for the children");
    // The watches relisted and found none of them: they were deleted, and are created again.
    let (result, requests) = reconcile_with(&xa, &[], server).await;
    result.unwrap();
    let creates = child_requests(&requests);
    assert_eq!(creates.len(), builders::build(&xa).iter().filter(|c| !c.kind().is_monitoring()).count());
}

#[tokio::test]
async fn drifted_child_is_reapplied_and_nothing_else() {
    let mut xa = xagent(json!({}));
    let server = Server::default();
    let mut stored = steady_state(&mut xa, false, &server).await;
    // Someone edits the worker's pod template: the API server bumps its generation.
    let mut drifted_ref = String::new();
    for child in &mut stored {
        if let Child::Deployment(d) = child
            && d.name_any() == "demo-worker"
        {
            let containers = &mut d.spec.as_mut().unwrap().template.spec.as_mut().unwrap().containers;
            containers[0].image = Some("someone/else:edited".into());
            d.metadata.generation = Some(4);
            drifted_ref = path_of(child);
        }
    }
    let (result, requests) = reconcile_with(&xa, &stored, server).await;
    result.unwrap();
    let lines: Vec<String> = requests.iter().map(Recorded::line).collect();
    assert_eq!(
        lines[..3],
        [format!("GET {drifted_ref}"), format!("PATCH {drifted_ref}{FIELD_MANAGER}"), EVENT_POST.to_string()],
        "only the edited workload is read and re-applied"
    );
    // The mock echoes the apply without status, so the worker now looks unready.
    assert_eq!(lines[3..], [STATUS_PATCH.to_string()]);
    let image = &requests[1].body["spec"]["template"]["spec"]["containers"][0]["image"];
    assert_eq!(image, "xagent/x-agent:latest");
    assert_eq!(requests[2].body["reason"], "Updated");
}

#[tokio::test]
async fn status_churn_of_a_workload_sends_nothing() {
    let mut xa = xagent(json!({}));
    let server = Server::default();
    let mut stored = steady_state(&mut xa, false, &server).await;
    // The Deployment controller rewrites status (same generation): not our business.
    for child in &mut stored {
        if let Child::Deployment(d) = child {
            let status = d.status.as_mut().unwrap();
            status.available_replicas = Some(1);
            status.conditions = Some(vec![]);
        }
    }
    let (result, requests) = reconcile_with(&xa, &stored, server).await;
    result.unwrap();
    assert!(requests.is_empty(), "{:#?}", requests.iter().map(Recorded::line).collect::<Vec<_>>());
}

#[tokio::test]
async fn slim_cached_children_are_checked_through_the_memo() {
    let mut xa = xagent(json!({
        "chromadb": {"enabled": true},
        "networkPolicy": {"enabled": true},
        "ingress": {"host": "agents.example.com", "annotations": {"example.com/timeout": "3600"}}
    }));
    let server = Server::default();
    let mut stored = steady_state(&mut xa, false, &server).await;
    for child in &mut stored {
        stores::slim(child);
    }
    // The server still holds full objects; the cache only slim ones.
    let full = as_stored(&builders::build(&xa));
    let existing = full.iter().map(|c| (path_of(c), c.to_value())).collect();
    let (result, requests) = reconcile_with(&xa, &stored, Server { existing, ..server }).await;
    result.unwrap();
    assert!(requests.is_empty(), "{:#?}", requests.iter().map(Recorded::line).collect::<Vec<_>>());
}

#[tokio::test]
async fn foreign_object_with_a_child_name_is_left_alone_and_reported() {
    let xa = xagent(json!({}));
    let foreign = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "demo-api", "namespace": NS, "uid": "someone-else"},
        "spec": {"ports": [{"port": 80}]}
    });
    let server = Server {
        existing: vec![("/api/v1/namespaces/ns/services/demo-api".into(), foreign)],
        ..Server::default()
    };
    let (result, requests) = reconcile_with(&xa, &[], server).await;
    result.unwrap();
    let lines: Vec<String> = requests.iter().map(Recorded::line).collect();
    // Not in the cache, so first an apply that may only create: refused
    // (409), then the Service is read and found foreign.
    let service = "/api/v1/namespaces/ns/services/demo-api";
    let of_service: Vec<&String> = lines.iter().filter(|l| l.contains(service)).collect();
    assert_eq!(of_service, [&format!("PATCH {service}{FIELD_MANAGER}"), &format!("GET {service}")]);
    let service_patches: Vec<&Recorded> =
        requests.iter().filter(|r| r.method == Method::PATCH && r.path == service).collect();
    assert_eq!(service_patches.len(), 1, "the foreign Service must not be patched: {lines:#?}");
    assert_eq!(service_patches[0].body["metadata"]["resourceVersion"], NO_STORED_VERSION, "create-only");
    assert!(lines.iter().any(|l| l.starts_with("PATCH /apis/apps/v1/namespaces/ns/deployments/demo-api")));
    let warning = requests.iter().find(|r| r.body["type"] == "Warning").expect("a warning event");
    assert_eq!(warning.body["reason"], "ChildConflict");

    let status = status_of(&requests);
    let conflicts = status["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1);
    assert!(conflicts[0].as_str().unwrap().contains("Service/demo-api"));
    assert_eq!(condition(&status, "Degraded")["status"], "True");
    assert_eq!(condition(&status, "Degraded")["reason"], "ChildConflict");
    assert_eq!(condition(&status, "Ready")["status"], "False");
}

#[tokio::test]
async fn child_owned_by_another_xagent_is_a_conflict_even_when_cached() {
    let xa = xagent(json!({}));
    let mut stored = as_stored(&builders::build(&xa));
    for child in &mut stored {
        if let Child::Pdb(p) = child {
            p.metadata.owner_references.as_mut().unwrap()[0].uid = "other-uid".into();
        }
    }
    let (result, requests) = reconcile_with(&xa, &stored, Server::default()).await;
    result.unwrap();
    let pdb_writes =
        requests.iter().filter(|r| r.uri.contains("poddisruptionbudgets") && r.method != Method::GET);
    assert_eq!(pdb_writes.count(), 0, "PDBs untouched");
    let status = status_of(&requests);
    assert_eq!(status["conflicts"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn invalid_spec_touches_no_child_and_is_reported() {
    // An older API server without CEL support could have stored this.
    let xa = xagent(json!({"api": {"autoscaling": {"minReplicas": 8, "maxReplicas": 3}}}));
    let valid = xagent(json!({}));
    let stored = as_stored(&builders::build(&valid));
    let (result, requests) = reconcile_with(&xa, &stored, Server::default()).await;
    result.unwrap();
    let lines: Vec<String> = requests.iter().map(Recorded::line).collect();
    let event = "POST /apis/events.k8s.io/v1/namespaces/ns/events?".to_string();
    assert_eq!(lines, vec![STATUS_PATCH.to_string(), event], "no child request, no delete; one warning");
    let warning = &requests[1].body;
    assert_eq!(
        (warning["type"].as_str(), warning["reason"].as_str()),
        (Some("Warning"), Some("InvalidSpec"))
    );
    let status = status_of(&requests);
    let ready = condition(&status, "Ready");
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], "InvalidSpec");
    assert!(ready["message"].as_str().unwrap().contains("minReplicas must be less than or equal"));
    assert_eq!(condition(&status, "Degraded")["status"], "True");
}

#[tokio::test]
async fn validation_runs_once_per_uid_and_generation() {
    let (client, _recorder) = mock_client(Server::default());
    let ctx = Context::new(client, stores::new().0);
    let valid = xagent(json!({}));
    ctx.validate(&valid, UID).unwrap();
    // The same uid and generation with an invalid spec: not validated again,
    // which is sound because the spec cannot change without a new generation.
    let same_generation = xagent(json!({"api": {"autoscaling": {"minReplicas": 8, "maxReplicas": 3}}}));
    ctx.validate(&same_generation, UID).unwrap();
    // A new generation, or another object under the same name, is validated.
    let mut next = same_generation.clone();
    next.metadata.generation = Some(2);
    assert!(ctx.validate(&next, UID).is_err());
    assert!(ctx.validate(&same_generation, "another-uid").is_err());
    // A failure is not remembered as a pass.
    assert!(ctx.validate(&next, UID).is_err());
}

#[tokio::test]
async fn children_dropped_from_a_valid_spec_are_deleted() {
    let before = xagent(json!({}));
    let stored = as_stored(&builders::build(&before));
    let after = xagent(json!({"api": {"autoscaling": {"enabled": false}, "replicas": 3}}));
    let (result, requests) = reconcile_with(&after, &stored, Server::default()).await;
    result.unwrap();
    let writes: Vec<&Recorded> = requests.iter().filter(|r| r.method != Method::GET).collect();
    let lines: Vec<String> = writes.iter().map(|r| r.line()).collect();
    assert_eq!(lines[0], format!("PATCH /apis/apps/v1/namespaces/ns/deployments/demo-api{FIELD_MANAGER}"));
    assert_eq!(writes[0].body["spec"]["replicas"], 3);
    assert_eq!(lines[1], "DELETE /apis/autoscaling/v2/namespaces/ns/horizontalpodautoscalers/demo-api?");
    assert_eq!(lines.iter().filter(|l| l.starts_with("DELETE")).count(), 1, "{lines:#?}");
}

#[tokio::test]
async fn failed_applies_are_typed_reported_in_status_and_back_off() {
    let xa = xagent(json!({}));
    let server = Server { fail_apply: Some(500), ..Server::default() };
    let (result, requests) = reconcile_with(&xa, &[], server).await;
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::ApplyChild { ref child, .. } if child.to_string() == "Service/demo-api"),
        "{err}"
    );
    assert_eq!(err.reason(), "ApplyFailed");
    // One refused child does not hold back the others: every child was tried.
    let applies = requests.iter().filter(|r| r.method == Method::PATCH && !r.uri.contains("/status")).count();
    assert_eq!(applies, 11, "every core child is attempted");
    let status = status_of(&requests);
    assert_eq!(condition(&status, "Degraded")["status"], "True");
    assert_eq!(condition(&status, "Degraded")["reason"], "ApplyFailed");
    assert!(condition(&status, "Degraded")["message"].as_str().unwrap().contains("Deployment/demo-worker"));
    assert_eq!(condition(&status, "Ready")["status"], "False");
    // The retry is scheduled and shown.
    assert_eq!(status["retry"]["failedAttempts"], 1, "{status}");
    assert!(status["retry"]["nextAttemptTime"].is_string(), "{status}");
}

/// Core children stored and ready, and the status the operator wrote for them.
async fn steady_state(xa: &mut XAgent, crds_installed: bool, server: &Server) -> Vec<Child> {
    let stored = as_stored(&builders::build(xa));
    let (result, requests) = reconcile_with_crds(xa, &stored, server.clone(), crds_installed).await;
    result.unwrap();
    xa.status = Some(serde_json::from_value(status_of(&requests)).unwrap());
    stored
}

#[tokio::test]
async fn missing_prometheus_operator_does_not_hold_back_readiness() {
    let mut xa = xagent(json!({}));
    let server = Server::default();
    let stored = steady_state(&mut xa, false, &server).await;
    let status = serde_json::to_value(xa.status.as_ref().unwrap()).unwrap();
    assert_eq!(condition(&status, "Ready")["status"], "True");
    assert_eq!(condition(&status, "MonitoringReady")["reason"], "PrometheusOperatorNotInstalled");
    let (result, requests) = reconcile_with(&xa, &stored, server).await;
    result.unwrap();
    assert!(requests.is_empty(), "steady state without CRDs sends nothing: {:#?}", requests);
}

#[tokio::test]
async fn monitoring_objects_are_created_once_the_crds_appear() {
    let mut xa = xagent(json!({}));
    let server = Server::default();
    let stored = steady_state(&mut xa, false, &server).await;
    let (result, requests) = reconcile_with_crds(&xa, &stored, server, true).await;
    result.unwrap();
    let monitoring: Vec<Child> =
        builders::build(&xa).into_iter().filter(|c| c.kind().is_monitoring()).collect();
    // Their metadata caches are not filled yet (the CRDs just appeared):
    // each is read (404), then applied; the first to need a request goes
    // alone, as for any XAgent that has a status.
    let expected_for =
        |c: &Child| [format!("GET {}", path_of(c)), format!("PATCH {}{FIELD_MANAGER}", path_of(c))];
    let mut expected: Vec<String> = monitoring.iter().flat_map(expected_for).collect();
    // The unwanted AlertmanagerConfig is looked for once, now that its kind exists.
    expected.push("GET /apis/monitoring.coreos.com/v1alpha1/namespaces/ns/alertmanagerconfigs/demo".into());
    expected.extend([EVENT_POST.to_string(), STATUS_PATCH.to_string()]);
    let lines: Vec<String> = requests.iter().map(Recorded::line).collect();
    assert_eq!(lines, expected);
    assert_eq!(requests[1].body, apply::stamped(&monitoring[0]));
    assert_eq!(requests[3].body, apply::stamped(&monitoring[1]));
    let status = status_of(&requests);
    assert_eq!(condition(&status, "MonitoringReady")["status"], "True");
    assert_eq!(condition(&status, "MonitoringReady")["reason"], "Applied");
    assert_eq!(condition(&status, "Ready")["status"], "True");
}

#[tokio::test]
async fn with_filled_caches_monitoring_objects_are_created_without_a_read_then_left_alone() {
    let mut xa = xagent(json!({}));
    let server = Server { watched_synced: true, ..Server::default() };
    let children = builders::build(&xa);
    let (result, requests) = reconcile_with_crds(&xa, &[], server.clone(), true).await;
    result.unwrap();
    // Every child, the watched ones too, with one create-only apply; the
    // unwanted AlertmanagerConfig is known absent from its cache.
    assert_eq!(requests.iter().map(Recorded::line).collect::<Vec<_>>(), created_then_reported(&children));
    let monitoring = requests.iter().filter(|r| r.uri.contains("monitoring.coreos.com"));
    for request in monitoring {
        assert_eq!(request.body["metadata"]["resourceVersion"], NO_STORED_VERSION, "{}", request.line());
    }

    // Found in place (each read once, as after a restart), then vouched for
    // by the caches and the memo alone.
    let server = Server { watched_synced: true, ..server_with_monitoring(&xa) };
    let stored = steady_state(&mut xa, true, &server).await;
    let (result, requests) = reconcile_with_crds(&xa, &stored, server, true).await;
    result.unwrap();
    assert!(requests.is_empty(), "{:#?}", requests.iter().map(Recorded::line).collect::<Vec<_>>());
}

/// The server holding the monitoring objects exactly as applied (stamped).
fn server_with_monitoring(xa: &XAgent) -> Server {
    let existing = builders::build(xa)
        .iter()
        .filter(|c| c.kind().is_monitoring())
        .map(|c| (path_of(c), apply::stamped(c)))
        .collect();
    Server { existing, ..Server::default() }
}

#[tokio::test]
async fn steady_state_with_monitoring_only_reads() {
    let mut xa = xagent(json!({}));
    let server = server_with_monitoring(&xa);
    let stored = steady_state(&mut xa, true, &server).await;
    let (result, requests) = reconcile_with_crds(&xa, &stored, server, true).await;
    result.unwrap();
    let lines: Vec<String> = requests.iter().map(Recorded::line).collect();
    assert_eq!(
        lines,
        vec![
            "GET /apis/monitoring.coreos.com/v1/namespaces/ns/servicemonitors/demo".to_string(),
            "GET /apis/monitoring.coreos.com/v1/namespaces/ns/prometheusrules/demo".to_string(),
        ]
    );
}

#[tokio::test]
async fn turning_monitoring_off_deletes_the_owned_objects() {
    let on = xagent(json!({}));
    let server = server_with_monitoring(&on);
    let mut off = xagent(
        json!({"monitoring": {"serviceMonitor": {"enabled": false}, "prometheusRule": {"enabled": false}}}),
    );
    let stored = as_stored(&builders::build(&off));
    let (result, requests) = reconcile_with_crds(&off, &stored, server, true).await;
    result.unwrap();
    let lines: Vec<String> =
        requests.iter().map(Recorded::line).filter(|l| l.contains("monitoring.coreos.com")).collect();
    assert_eq!(lines[0], "GET /apis/monitoring.coreos.com/v1/namespaces/ns/servicemonitors/demo");
    assert_eq!(lines[1], "DELETE /apis/monitoring.coreos.com/v1/namespaces/ns/servicemonitors/demo?");
    assert_eq!(lines[2], "GET /apis/monitoring.coreos.com/v1/namespaces/ns/prometheusrules/demo");
    assert_eq!(lines[3], "DELETE /apis/monitoring.coreos.com/v1/namespaces/ns/prometheusrules/demo?");
    off.status = Some(serde_json::from_value(status_of(&requests)).unwrap());
    let status = serde_json::to_value(off.status.as_ref().unwrap()).unwrap();
    assert_eq!(condition(&status, "MonitoringReady")["reason"], "MonitoringDisabled");
}

/// A create refused because the object exists after all (the cache had not
/// brought it yet) goes on with the desired object as it was: the update
/// apply carries neither the create's precondition nor its first replica
/// count, which the HPA owns.
#[tokio::test]
async fn a_refused_create_is_followed_by_the_desired_object_without_what_only_a_create_sends() {
    let spec = json!({"api": {"autoscaling": {"minReplicas": 3}}});
    let mut older = spec.clone();
    older["image"] = json!({"tag": "v0"});
    let stored = as_stored(&builders::build(&xagent(older)));
    let server =
        Server { existing: stored.iter().map(|c| (path_of(c), c.to_value())).collect(), ..Server::default() };
    let (result, requests) = reconcile_with(&xagent(spec), &[], server).await;
    result.unwrap();
    let path = "/apis/apps/v1/namespaces/ns/deployments/demo-api";
    let of_api: Vec<&Recorded> = requests.iter().filter(|r| r.path == path).collect();
    let lines: Vec<String> = of_api.iter().map(|r| r.line()).collect();
    assert_eq!(
        lines,
        [
            format!("PATCH {path}{FIELD_MANAGER}"),
            format!("GET {path}"),
            format!("PATCH {path}{FIELD_MANAGER}")
        ]
    );
    let (create, update) = (&of_api[0].body, &of_api[2].body);
    assert_eq!(create["metadata"]["resourceVersion"], NO_STORED_VERSION);
    assert_eq!(create["spec"]["replicas"], 3);
    assert!(update["metadata"].get("resourceVersion").is_none(), "{update}");
    assert!(update["spec"].get("replicas").is_none(), "{update}");
    let mut sent_create = create.clone();
    sent_create["metadata"].as_object_mut().unwrap().remove("resourceVersion");
    sent_create["spec"].as_object_mut().unwrap().remove("replicas");
    assert_eq!(&sent_create, update, "the same stamped object, less what only a create sends");
    assert_eq!(update["spec"]["template"]["spec"]["containers"][0]["image"], "xagent/x-agent:latest");
}

#[tokio::test]
async fn turning_autoscaling_on_hands_replicas_over_instead_of_dropping_them() {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};
    let before = xagent(json!({"api": {"autoscaling": {"enabled": false}, "replicas": 3}}));
    let mut stored = as_stored(&builders::build(&before));
    for child in &mut stored {
        if let Child::Deployment(d) = child
            && d.name_any() == "demo-api"
        {
            d.metadata.managed_fields = Some(vec![ManagedFieldsEntry {
                manager: Some("xagent-operator".into()),
                operation: Some("Apply".into()),
                fields_v1: Some(FieldsV1(json!({"f:spec": {"f:replicas": {}, "f:template": {}}}))),
                ..ManagedFieldsEntry::default()
            }]);
        }
    }
    let after = xagent(json!({"api": {"autoscaling": {"enabled": true}}, "image": {"tag": "v2"}}));
    let (result, requests) = reconcile_with(&after, &stored, Server::default()).await;
    result.unwrap();
    let api_patches: Vec<&Recorded> = requests
        .iter()
        .filter(|r| {
            r.method == Method::PATCH
                && r.uri.starts_with("/apis/apps/v1/namespaces/ns/deployments/demo-api?")
        })
        .collect();
    assert_eq!(api_patches.len(), 2, "{:#?}", requests.iter().map(Recorded::line).collect::<Vec<_>>());
    assert!(api_patches[0].uri.ends_with("fieldManager=xagent-operator-replicas-handoff"));
    assert_eq!(api_patches[0].body["spec"], json!({"replicas": 3}));
    assert!(api_patches[1].uri.ends_with("fieldManager=xagent-operator"));
    assert!(api_patches[1].body["spec"].get("replicas").is_none(), "the HPA owns replicas from now on");
    // Workers never had fixed replicas: no hand-off there.
    let worker_handoffs =
        requests.iter().filter(|r| r.uri.contains("demo-worker") && r.uri.contains("handoff"));
    assert_eq!(worker_handoffs.count(), 0);
}

#[tokio::test]
async fn network_policies_and_ingress_are_created_and_pruned_like_other_children() {
    let spec = json!({"networkPolicy": {"enabled": true}, "ingress": {"host": "agents.example.com"}});
    let xa = xagent(spec);
    let (result, requests) = reconcile_with(&xa, &[], Server::default()).await;
    result.unwrap();
    let lines: Vec<String> = requests.iter().map(Recorded::line).collect();
    for name in ["demo-api", "demo-websocket", "demo-worker"] {
        let path = format!("/apis/networking.k8s.io/v1/namespaces/ns/networkpolicies/{name}");
        assert!(lines.contains(&format!("PATCH {path}{FIELD_MANAGER}")), "{name}: {lines:#?}");
    }
    assert!(
        lines.contains(&format!(
            "PATCH /apis/networking.k8s.io/v1/namespaces/ns/ingresses/demo{FIELD_MANAGER}"
        ))
    );

    // Turning both off deletes what this XAgent controls.
    let stored = as_stored(&builders::build(&xa));
    let off = xagent(json!({}));
    let (result, requests) = reconcile_with(&off, &stored, Server::default()).await;
    result.unwrap();
    let deletes: Vec<String> =
        requests.iter().filter(|r| r.method == Method::DELETE).map(Recorded::line).collect();
    assert_eq!(deletes.len(), 4, "three NetworkPolicies and the Ingress: {deletes:#?}");
    assert!(deletes.iter().any(|l| l.contains("/ingresses/demo?")));
}

#[tokio::test]
async fn stale_status_write_is_not_an_error_but_others_are() {
    let xa = xagent(json!({}));
    let stored = as_stored(&builders::build(&xa));
    // 409: the cached XAgent is older than the stored one; its watch event will follow.
    let server = Server { fail_status: Some(409), ..Server::default() };
    let (result, requests) = reconcile_with(&xa, &stored, server).await;
    result.unwrap();
    let status_write = requests.iter().find(|r| r.line() == STATUS_PATCH).expect("a status write");
    assert_eq!(status_write.body["metadata"]["resourceVersion"], XAGENT_RV);

    let server = Server { fail_status: Some(500), ..Server::default() };
    let (result, _) = reconcile_with(&xa, &stored, server).await;
    let err = result.unwrap_err();
    assert!(matches!(err, Error::WriteStatus(_)), "{err}");
}

/// A reconcile woken before the watch brought back the operator's own
/// status write holds an XAgent with the resourceVersion that write
/// replaced: a status computed from it would be refused (409), so it is not
/// sent, and is computed again soon. Once the cache has the write, the
/// next status goes out.
#[tokio::test]
async fn a_status_from_a_cache_behind_our_own_write_is_not_sent() {
    let xa = xagent(json!({}));
    let stored = as_stored(&builders::build(&xa));
    let server =
        Server { existing: stored.iter().map(|c| (path_of(c), c.to_value())).collect(), ..Server::default() };
    let (client, recorder) = mock_client(server);
    let (stores, mut writers) = stores::new();
    stored.iter().for_each(|child| writers.cache_slim(child.clone()));
    let ctx = Arc::new(Context::new(client, stores));
    // This operator wrote a status (another verdict) over the XAgent as cached.
    let over = crate::digest::fnv1a(XAGENT_RV);
    let written = super::StatusWrite { at: std::time::Instant::now(), verdict: 0, rolling: false, over };
    ctx.status_written.lock().unwrap().insert(UID.into(), written);
    let action = reconcile(Arc::new(xa.clone()), ctx.clone()).await.unwrap();
    assert_eq!(action, kube::runtime::controller::Action::requeue(super::STALE_STATUS_RETRY));
    // The watch brings the write back: a new resourceVersion.
    let mut caught_up = xa.clone();
    caught_up.metadata.resource_version = Some("8".into());
    reconcile(Arc::new(caught_up), ctx.clone()).await.unwrap();
    drop(ctx);
    let requests = recorder.await.unwrap();
    let writes: Vec<&Value> = requests
        .iter()
        .filter(|r| r.line() == STATUS_PATCH)
        .map(|r| &r.body["metadata"]["resourceVersion"])
        .collect();
    assert_eq!(writes, ["8"], "no write from the XAgent our own write replaced");
}

#[tokio::test]
async fn a_field_removed_from_the_spec_reaches_the_child() {
    let before = xagent(
        json!({"ingress": {"host": "agents.example.com", "annotations": {"example.com/timeout": "3600"}}}),
    );
    let stored = as_stored(&builders::build(&before));
    let after = xagent(json!({"ingress": {"host": "agents.example.com"}}));
    let (result, requests) = reconcile_with(&after, &stored, Server::default()).await;
    result.unwrap();
    // The live Ingress still holds the old annotation, so it "contains" the
    // desired one; only its stale stamp shows that it must be re-applied.
    let ingress = builders::build(&after).into_iter().find(|c| matches!(c, Child::Ingress(_))).unwrap();
    let path = path_of(&ingress);
    let writes: Vec<&Recorded> =
        requests.iter().filter(|r| r.method != Method::GET && r.line() != STATUS_PATCH).collect();
    let lines: Vec<String> = writes.iter().map(|r| r.line()).collect();
    assert_eq!(lines, [format!("PATCH {path}{FIELD_MANAGER}"), EVENT_POST.to_string()]);
    assert_eq!(writes[0].body, apply::stamped(&ingress));
    assert!(writes[0].body["metadata"]["annotations"].get("example.com/timeout").is_none());
    assert_eq!(writes[1].body["reason"], "Updated");
}

#[tokio::test]
async fn bookkeeping_of_deleted_xagents_is_dropped() {
    let (client, _recorder) = mock_client(Server::default());
    let ctx = Context::new(client, stores::new().0);
    let xagents: Vec<Arc<XAgent>> = (0..1000)
        .map(|i| {
            let mut xa = xagent(json!({}));
            xa.metadata.name = Some(format!("x{i}"));
            xa.metadata.uid = Some(format!("uid-{i}"));
            Arc::new(xa)
        })
        .collect();
    let now = std::time::Instant::now();
    for xa in &xagents {
        ctx.retries.failed(&format!("{NS}/{}", xa.name_any()), Some(1), now);
        ctx.validated.lock().unwrap().insert(xa.uid().unwrap(), Some(1));
        ctx.prints.of(&xa.uid().unwrap(), Some(1), 1, || vec![1]);
    }
    let remembered = |ctx: &Context| (ctx.retries.len(), ctx.validated_len(), ctx.prints.len());
    assert_eq!(remembered(&ctx), (1000, 1000, 1000));
    ctx.forget_gone(&xagents[..10]);
    assert_eq!(remembered(&ctx), (10, 10, 10), "only the live XAgents are remembered");
    ctx.forget_gone(&[]);
    assert_eq!(remembered(&ctx), (0, 0, 0));
}

#[tokio::test]
async fn details_soon_after_a_write_wait_but_a_new_verdict_does_not() {
    let (client, _recorder) = mock_client(Server::default());
    let ctx = Context::new(client, stores::new().0);
    let (start, delay) = (std::time::Instant::now(), super::STATUS_DETAIL_DELAY);
    assert_eq!(ctx.held_back("u1", 7, start), None, "never written: at once");
    let written = super::StatusWrite { at: start, verdict: 7, rolling: false, over: 0 };
    ctx.status_written.lock().unwrap().insert("u1".into(), written);
    let later = start + std::time::Duration::from_millis(500);
    assert_eq!(ctx.held_back("u1", 7, later), Some(delay - std::time::Duration::from_millis(500)));
    assert_eq!(ctx.held_back("u1", 8, later), None, "a condition flipped: at once");
    assert_eq!(ctx.held_back("u1", 7, start + delay), None, "the delay is over");
    assert_eq!(ctx.held_back("u2", 7, later), None, "another XAgent is not held back");
}

#[tokio::test]
async fn details_of_a_rollout_in_progress_wait_for_its_end_or_the_longer_delay() {
    let (client, _recorder) = mock_client(Server::default());
    let ctx = Context::new(client, stores::new().0);
    let start = std::time::Instant::now();
    let written = super::StatusWrite { at: start, verdict: 7, rolling: true, over: 0 };
    ctx.status_written.lock().unwrap().insert("u1".into(), written);
    let (short, long) = (super::STATUS_DETAIL_DELAY, super::STATUS_ROLLOUT_DETAIL_DELAY);
    assert!(long > short);
    assert_eq!(ctx.held_back("u1", 7, start + short), Some(long - short), "counts of a rollout wait");
    assert_eq!(ctx.held_back("u1", 8, start + short), None, "its end (a flip) is written at once");
    assert_eq!(ctx.held_back("u1", 7, start + long), None, "a long rollout still gets its counts");
}

/// The status write asks for the XAgent's metadata alone in its answer
/// (which the real-server suite shows the API server honours): the whole
/// object would be its spec and status again, never read.
#[test]
fn the_status_write_asks_for_metadata_alone_in_its_answer() {
    let request = super::status_request(NS, "demo", &kube::api::Patch::Apply(json!({"status": {}}))).unwrap();
    assert_eq!(request.method(), Method::PATCH);
    assert_eq!(format!("PATCH {}", request.uri()), STATUS_PATCH);
    let accept = request.headers().get(hyper::header::ACCEPT).and_then(|v| v.to_str().ok());
    assert_eq!(accept, Some("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"));
}
