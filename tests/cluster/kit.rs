//! What the scenarios share: namespaces, XAgents, waiting, and standing in
//! for the kubelet by marking Pods ready.

use std::future::Future;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use xagent_operator::crd::XAgent;

/// Field manager of everything the tests write.
pub const TESTER: &str = "cluster-test";

/// Creates namespace `name` (as admin).
pub async fn namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).expect("a Namespace");
    api.create(&PostParams::default(), &ns)
        .await
        .unwrap_or_else(|e| panic!("creating namespace {name}: {e}"));
}

/// Creates namespace `name` (as admin) with the `restricted` Pod Security
/// profile enforced, so a pod template outside it never gets a pod.
pub async fn restricted_namespace(client: &Client, name: &str) {
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": name, "labels": {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": "latest",
    }}}))
    .expect("a Namespace");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap_or_else(|e| panic!("creating namespace {name}: {e}"));
}

/// Applies an XAgent `name` in `ns` with `spec` (server-side apply, as `TESTER`).
pub async fn apply_xagent(client: &Client, ns: &str, name: &str, spec: Value) -> XAgent {
    let body = json!({
        "apiVersion": "xagent.io/v1alpha1",
        "kind": "XAgent",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    });
    xagents(client, ns)
        .patch(name, &PatchParams::apply(TESTER).force(), &Patch::Apply(body))
        .await
        .unwrap_or_else(|e| panic!("applying XAgent {ns}/{name}: {e}"))
}

/// The XAgents of `ns`.
pub fn xagents(client: &Client, ns: &str) -> Api<XAgent> {
    Api::namespaced(client.clone(), ns)
}

/// Polls `check` every 200 ms until it returns `Some`, or panics after `timeout`
/// saying what was awaited. Returns the value and how long it took.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> (T, Duration)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return (value, started.elapsed());
        }
        assert!(started.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The condition `type_` of an XAgent's status, as JSON.
pub fn condition(xagent: &XAgent, type_: &str) -> Option<Value> {
    let status = serde_json::to_value(xagent.status.as_ref()?).ok()?;
    status["conditions"].as_array()?.iter().find(|c| c["type"] == type_).cloned()
}

/// Whether condition `type_` has `status`.
pub fn has_condition(xagent: &XAgent, type_: &str, status: &str) -> bool {
    condition(xagent, type_).is_some_and(|c| c["status"] == status)
}

/// Waits until the XAgent's status describes its current generation and
/// condition `type_` is `status`; returns the XAgent.
pub async fn wait_condition(client: &Client, ns: &str, name: &str, type_: &str, status: &str) -> XAgent {
    let api = xagents(client, ns);
    let what = format!("XAgent {ns}/{name} {type_}={status}");
    eventually(&what, Duration::from_secs(90), || async {
        let xa = api.get_opt(name).await.ok().flatten()?;
        let observed = xa.status.as_ref().and_then(|s| s.observed_generation);
        (observed == xa.metadata.generation && has_condition(&xa, type_, status)).then_some(xa)
    })
    .await
    .0
}

/// Stands in for the kubelet: marks every Pod of `ns` Running and Ready
/// through its status subresource, until dropped.
pub struct PodReadier(tokio::task::JoinHandle<()>);

impl PodReadier {
    /// Starts marking the Pods of `ns` ready every 300 ms.
    pub fn start(client: &Client, ns: &str) -> PodReadier {
        Self::start_for(client, ns, "")
    }

    /// Starts marking the Pods of `ns` that match label `selector` ready.
    pub fn start_for(client: &Client, ns: &str, selector: &str) -> PodReadier {
        let api: Api<Pod> = Api::namespaced(client.clone(), ns);
        let list = ListParams::default().labels(selector);
        PodReadier(tokio::spawn(async move {
            loop {
                mark_ready(&api, &list).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }))
    }
}

/// Stands in for a kubelet whose containers keep crashing: marks the Pods
/// of `ns` matching `selector` Running but not Ready, each container waiting
/// in CrashLoopBackOff after five restarts.
pub async fn mark_crash_looping(client: &Client, ns: &str, selector: &str) -> usize {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pods = api.list(&ListParams::default().labels(selector)).await.expect("listing Pods");
    for pod in &pods.items {
        api.patch_status(&pod.name_any(), &PatchParams::default(), &Patch::Merge(kubelet_status(pod, false)))
            .await
            .unwrap_or_else(|e| panic!("marking {} crash-looping: {e}", pod.name_any()));
    }
    pods.items.len()
}

/// The status a kubelet would report for `pod`: Running with every container
/// ready, or (not `ready`) every container crash-looping after five restarts.
fn kubelet_status(pod: &Pod, ready: bool) -> Value {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let containers: Vec<Value> = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .map(|c| {
            let mut status = json!({"name": c.name, "image": c.image, "imageID": "", "ready": ready,
                                    "started": ready, "restartCount": 0, "state": {"running": {"startedAt": now}}});
            if !ready {
                status["restartCount"] = 5.into();
                status["state"] = json!({"waiting": {"reason": "CrashLoopBackOff",
                                                     "message": "back-off 2m40s restarting failed container"}});
                status["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error",
                                                            "startedAt": now, "finishedAt": now}});
            }
            status
        })
        .collect();
    let condition = |t: &str, s: bool| json!({"type": t, "status": if s { "True" } else { "False" }, "lastTransitionTime": now});
    json!({"status": {
        "phase": "Running",
        "conditions": [condition("PodScheduled", true), condition("Initialized", true),
                       condition("ContainersReady", ready), condition("Ready", ready)],
        "containerStatuses": containers,
        "startTime": now,
    }})
}

impl Drop for PodReadier {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn mark_ready(api: &Api<Pod>, list: &ListParams) {
    let Ok(pods) = api.list(list).await else { return };
    for pod in pods.items.iter().filter(|p| !pod_ready(p)) {
        let status = kubelet_status(pod, true);
        // A Pod deleted in between is no failure.
        let _ = api.patch_status(&pod.name_any(), &PatchParams::default(), &Patch::Merge(status)).await;
    }
}

fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// `resourceVersion` of `obj`.
pub fn rv<K: kube::Resource>(obj: &K) -> String {
    obj.meta().resource_version.clone().unwrap_or_default()
}

/// Creates ValidatingAdmissionPolicy `name` holding `rule` (one resourceRule)
/// and `validation`, bound with Deny to namespace `ns` only.
pub async fn policy_in_namespace(admin: &Client, name: &str, ns: &str, rule: Value, validation: Value) {
    use k8s_openapi::api::admissionregistration::v1::{
        ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
    };
    let policy: ValidatingAdmissionPolicy = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": [rule]}, "validations": [validation]},
    }))
    .expect("a policy");
    let binding: ValidatingAdmissionPolicyBinding = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"],
                 "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}},
    }))
    .expect("a binding");
    let policies: Api<ValidatingAdmissionPolicy> = Api::all(admin.clone());
    policies.create(&PostParams::default(), &policy).await.expect("creating the policy");
    let bindings: Api<ValidatingAdmissionPolicyBinding> = Api::all(admin.clone());
    bindings.create(&PostParams::default(), &binding).await.expect("creating the binding");
}
