//! How GitOps tools judge XAgents whose status the running operator wrote:
//! each scenario of the table in `tests/health` is produced for real (Pods
//! marked ready or crash-looping through their status subresource, the real
//! Deployment controller giving up on a rollout, an admission webhook that
//! cannot be reached for a 5xx, a ValidatingAdmissionPolicy for a 422), and
//! the XAgent as the API server returns it goes through kstatus, the Argo CD
//! Lua script and the Flux CEL. Then a flapping real Redis, to bound events.

use std::time::{Duration, Instant};

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::events::v1::Event;
use kube::Client;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use xagent_operator::crd::XAgent;

use crate::harness::{Cluster, OPERATOR_USER, User, free_port};
use crate::health::{Verdicts, expected};
use crate::install::install_monitoring_crds;
use crate::kit::{self, PodReadier, eventually};
use crate::operator::Operator;
use crate::runtime;
use crate::support::RedisServer;

/// This module's scenarios.
pub fn scenarios() -> Vec<crate::Scenario> {
    vec![
        ("gitops::kstatus_argocd_and_flux_read_real_statuses_as_a_person_would", judged),
        ("gitops::a_flapping_redis_makes_a_bounded_number_of_events", flapping_redis),
    ]
}

/// The XAgent `name` exactly as the API server returns it.
async fn raw(client: &Client, ns: &str, name: &str) -> Value {
    let resource = ApiResource::erase::<XAgent>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource);
    serde_json::to_value(api.get(name).await.expect("reading the XAgent")).expect("JSON")
}

/// Waits until the operator has written status for the current generation
/// and `condition` has `status` and `reason`; returns the raw XAgent.
async fn settled(
    client: &Client,
    ns: &str,
    name: &str,
    condition: &str,
    status: &str,
    reason: &str,
) -> Value {
    let what = format!("{ns}/{name} {condition}={status} ({reason})");
    eventually(&what, Duration::from_secs(90), || async {
        let xa = raw(client, ns, name).await;
        let current = xa["status"]["observedGeneration"] == xa["metadata"]["generation"];
        let found = xa["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == condition && c["status"] == status && c["reason"] == reason);
        (current && found).then_some(xa)
    })
    .await
    .0
}

/// The scenario results, for the table printed at the end.
#[derive(Default)]
struct Table {
    rows: Vec<String>,
    wrong: Vec<String>,
}

impl Table {
    fn judge(&mut self, scenario: &str, xagent: &Value) {
        let verdicts = Verdicts::of(xagent);
        let ready = xagent["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "Ready")
            .map(|c| {
                format!("{} ({})", c["status"].as_str().unwrap_or("?"), c["reason"].as_str().unwrap_or("?"))
            })
            .unwrap_or_else(|| "no status yet".into());
        let row = format!(
            "| {scenario} | {ready} | {:?} | {} | {:?} |",
            verdicts.kstatus.0, verdicts.argocd.0, verdicts.flux
        );
        eprintln!("{row}\n    {verdicts}");
        self.rows.push(row);
        if let Err(e) = verdicts.check(&expected(scenario)) {
            self.wrong.push(format!("{scenario}: {e}"));
        }
    }
}

fn instance(name: &str) -> String {
    format!("app.kubernetes.io/instance={name}")
}

fn judged(cluster: &Cluster) {
    runtime().block_on(async {
        let ns = "gitops";
        install_monitoring_crds(cluster);
        let admin = cluster.client(User::Admin).await;
        kit::namespace(&admin, ns).await;
        let mut table = Table::default();

        // Created before any operator runs: what GitOps tools see first.
        kit::apply_xagent(&admin, ns, "demo", json!({})).await;
        table.judge("fresh", &raw(&admin, ns, "demo").await);
        let webhook_port = free_port();
        let unreachable = UnreachableWebhook::install(&admin, ns, "flaky", webhook_port).await;
        let _policy = RefusingPolicy::install(&admin, ns, "refused").await;
        let _operator = Operator::start(cluster, User::Operator, ns, &[]);

        crash_loop(&admin, ns, &mut table).await;
        lifecycle_of_demo(&admin, ns, &mut table).await;
        dependency_down(&admin, ns, &mut table).await;
        refusals(cluster, &admin, ns, &mut table).await;
        recovery_from_5xx(&admin, ns, unreachable).await;

        // What a person sees, for docs/status.md.
        let get = cluster.kubectl_ok(&["get", "xagents", "-n", ns, "-o", "wide"]);
        let describe = cluster.kubectl_ok(&["describe", "xagent", "-n", ns, "crash"]);
        eprintln!("\n$ kubectl get xagents -o wide\n{get}\n$ kubectl describe xagent crash\n{describe}");
        for (scenario, name) in [("ChildConflict", "foreign"), ("ProgressDeadlineExceeded", "crash")] {
            let line = get.lines().find(|l| l.starts_with(name)).unwrap_or_default();
            assert!(line.contains(scenario), "kubectl get shows the reason: {line}");
        }
        eprintln!("\n| scenario | Ready | kstatus | Argo CD | Flux |\n|---|---|---|---|---|");
        for row in &table.rows {
            eprintln!("{row}");
        }
        assert!(table.wrong.is_empty(), "misjudged:\n{}", table.wrong.join("\n"));
    });
}

/// Crash-looping pods, then the real Deployment controller giving up.
async fn crash_loop(admin: &Client, ns: &str, table: &mut Table) {
    kit::apply_xagent(admin, ns, "crash", json!({})).await;
    let selector = instance("crash");
    eventually("crash's pods", Duration::from_secs(60), || async {
        let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(admin.clone(), ns);
        let n = pods.list(&ListParams::default().labels(&selector)).await.ok()?.items.len();
        (n >= 3).then_some(())
    })
    .await;
    kit::mark_crash_looping(admin, ns, &selector).await;
    let xa = settled(admin, ns, "crash", "Reconciling", "True", "ComponentsUnavailable").await;
    table.judge("pods crash-looping", &xa);
    // Standing in for ten minutes of crash-looping: a short deadline lets the
    // Deployment controller reach its verdict now. Set by another field
    // manager, it is not the operator's to put back.
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), ns);
    let list = deployments.list(&ListParams::default().labels(&selector)).await.expect("listing");
    for d in &list.items {
        let name = d.metadata.name.clone().unwrap_or_default();
        let patch = json!({"spec": {"progressDeadlineSeconds": 1}});
        deployments.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await.expect("patching");
    }
    let xa = settled(admin, ns, "crash", "Stalled", "True", "ProgressDeadlineExceeded").await;
    table.judge("crash-looping past the progress deadline", &xa);
}

/// demo: waiting for replicas, all ready, then a rollout.
async fn lifecycle_of_demo(admin: &Client, ns: &str, table: &mut Table) {
    let xa = settled(admin, ns, "demo", "Reconciling", "True", "ComponentsUnavailable").await;
    table.judge("waiting for replicas", &xa);
    let readier = PodReadier::start_for(admin, ns, &instance("demo"));
    let xa = settled(admin, ns, "demo", "Ready", "True", "Ready").await;
    table.judge("all ready", &xa);
    drop(readier);
    let image = json!({"image": {"tag": "rollout-2"}});
    let applied = kit::apply_xagent(admin, ns, "demo", image).await;
    let generation = applied.metadata.generation;
    let xa = settled(admin, ns, "demo", "Reconciling", "True", "RollingOut").await;
    assert_eq!(xa["metadata"]["generation"].as_i64(), generation, "judged at the new generation");
    table.judge("rollout in progress", &xa);
}

/// Redis configured at a port nothing listens on; the pods are ready.
async fn dependency_down(admin: &Client, ns: &str, table: &mut Table) {
    let _readier = PodReadier::start_for(admin, ns, &instance("deps"));
    let spec = json!({"redis": {"host": "127.0.0.1", "port": free_port(),
                                "probe": {"intervalSeconds": 5, "timeoutSeconds": 1}}});
    kit::apply_xagent(admin, ns, "deps", spec).await;
    let xa = settled(admin, ns, "deps", "Ready", "False", "DependencyUnavailable").await;
    table.judge("Redis down", &xa);
}

/// An invalid stored spec, a foreign object, a 5xx and a 422.
async fn refusals(cluster: &Cluster, admin: &Client, ns: &str, table: &mut Table) {
    crate::lifecycle::store_invalid(cluster, admin, ns, "bad").await;
    let xa = settled(admin, ns, "bad", "Stalled", "True", "InvalidSpec").await;
    table.judge("invalid spec", &xa);

    let services: Api<Service> = Api::namespaced(admin.clone(), ns);
    let theirs: Service = serde_json::from_value(json!({
        "metadata": {"name": "foreign-api"},
        "spec": {"ports": [{"port": 80}]},
    }))
    .expect("a Service");
    services.create(&PostParams::default(), &theirs).await.expect("creating the foreign Service");
    kit::apply_xagent(admin, ns, "foreign", json!({})).await;
    let xa = settled(admin, ns, "foreign", "Stalled", "True", "ChildConflict").await;
    table.judge("foreign conflict", &xa);

    kit::apply_xagent(admin, ns, "flaky", json!({})).await;
    let xa = settled(admin, ns, "flaky", "Reconciling", "True", "ApplyFailed").await;
    let message = xa["status"]["conditions"][0]["message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains("failed calling webhook"), "{message}");
    table.judge("transient 5xx", &xa);

    kit::apply_xagent(admin, ns, "refused", json!({})).await;
    let xa = settled(admin, ns, "refused", "Stalled", "True", "ChildRejected").await;
    let message = xa["status"]["conditions"][0]["message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains("not allowed here"), "{message}");
    table.judge("permanent 422", &xa);
}

/// Once the webhook is gone, the retries (with backoff) create the children.
async fn recovery_from_5xx(admin: &Client, ns: &str, webhook: UnreachableWebhook) {
    webhook.remove().await;
    let services: Api<Service> = Api::namespaced(admin.clone(), ns);
    eventually("flaky's Services created after the 5xx stopped", Duration::from_secs(60), || async {
        services.get_opt("flaky-api").await.ok().flatten().map(|_| ())
    })
    .await;
    let xa = raw(admin, ns, "flaky").await;
    let stalled =
        xa["status"]["conditions"].as_array().into_iter().flatten().find(|c| c["type"] == "Stalled");
    assert_eq!(stalled.map(|c| c["status"].clone()), Some(json!("False")), "a 5xx never stalls: {xa}");
}

/// A webhook for `name`'s Services at a port nothing listens on: every
/// create or update of them gets a 500 from the API server.
pub struct UnreachableWebhook(Api<ValidatingWebhookConfiguration>, String);

impl UnreachableWebhook {
    pub async fn install(admin: &Client, ns: &str, name: &str, port: u16) -> Self {
        let api: Api<ValidatingWebhookConfiguration> = Api::all(admin.clone());
        let config_name = format!("unreachable-{ns}-{name}");
        let config: ValidatingWebhookConfiguration = serde_json::from_value(json!({
            "metadata": {"name": config_name},
            "webhooks": [{
                "name": "unreachable.xagent.test",
                "clientConfig": {"url": format!("https://127.0.0.1:{port}/validate")},
                "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                           "resources": ["services"], "scope": "Namespaced"}],
                "objectSelector": {"matchLabels": {"app.kubernetes.io/instance": name}},
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 2,
            }],
        }))
        .expect("a webhook configuration");
        api.create(&PostParams::default(), &config).await.expect("creating the webhook");
        refused_for(admin, ns, name, "failed calling webhook").await;
        UnreachableWebhook(api, config_name)
    }
}

impl UnreachableWebhook {
    pub async fn remove(self) {
        self.0.delete(&self.1, &DeleteParams::default()).await.expect("deleting the webhook");
    }
}

/// A ValidatingAdmissionPolicy refusing `name`'s Services as Invalid (422).
struct RefusingPolicy;

impl RefusingPolicy {
    async fn install(admin: &Client, ns: &str, name: &str) -> Self {
        let expression = format!(
            "!has(object.metadata.labels) || !('app.kubernetes.io/instance' in object.metadata.labels) || object.metadata.labels['app.kubernetes.io/instance'] != '{name}'"
        );
        let rule = json!({"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                          "resources": ["services"]});
        let validation = json!({"expression": expression, "reason": "Invalid",
                                "message": format!("Services of {name} are not allowed here")});
        kit::policy_in_namespace(admin, &format!("refuse-{ns}-{name}"), ns, rule, validation).await;
        refused_for(admin, ns, name, "not allowed here").await;
        RefusingPolicy
    }
}

/// Waits until a dry-run create of a Service labelled for `name` is refused
/// with a message containing `says`: admission configuration takes effect a
/// moment after it is created.
pub async fn refused_for(admin: &Client, ns: &str, name: &str, says: &str) {
    let services: Api<Service> = Api::namespaced(admin.clone(), ns);
    let probe: Service = serde_json::from_value(json!({
        "metadata": {"name": format!("{name}-admission-probe"),
                     "labels": {"app.kubernetes.io/instance": name}},
        "spec": {"ports": [{"port": 80}]},
    }))
    .expect("a Service");
    let params = PostParams { dry_run: true, ..PostParams::default() };
    eventually(&format!("admission refusing {name}'s Services"), Duration::from_secs(30), || async {
        match services.create(&params, &probe).await {
            Err(kube::Error::Api(e)) if e.message.contains(says) => Some(()),
            _ => None,
        }
    })
    .await;
}

/// The events about XAgent `name` with one of `reasons`: (reason, series
/// count or 1) per Event object.
pub async fn events_about(client: &Client, ns: &str, name: &str, reasons: &[&str]) -> Vec<(String, i32)> {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    let events = api.list(&ListParams::default()).await.expect("listing events");
    events
        .items
        .iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .filter_map(|e| {
            assert_eq!(e.reporting_controller.as_deref(), Some("xagent-operator"), "{e:?}");
            assert!(e.reporting_instance.as_deref().is_some_and(|i| !i.is_empty()), "{e:?}");
            let reason = e.reason.clone()?;
            let count = e.series.as_ref().map_or(1, |s| s.count);
            reasons.contains(&reason.as_str()).then_some((reason, count))
        })
        .collect()
}

fn flapping_redis(cluster: &Cluster) {
    runtime().block_on(async {
        let ns = "flapping";
        let admin = cluster.client(User::Admin).await;
        kit::namespace(&admin, ns).await;
        let mut redis = RedisServer::start(None);
        let port = redis.port;
        let _operator = Operator::start(cluster, User::Operator, ns, &[]);
        let _readier = PodReadier::start(&admin, ns);
        let spec = json!({"redis": {"host": "127.0.0.1", "port": port, "tls": false,
                                    "probe": {"intervalSeconds": 5, "timeoutSeconds": 1}}});
        kit::apply_xagent(&admin, ns, "flappy", spec).await;
        kit::wait_condition(&admin, ns, "flappy", "Ready", "True").await;
        let writes = |cluster: &Cluster| -> (usize, usize) {
            let ours: Vec<_> = cluster
                .audit()
                .into_iter()
                .filter(|e| e.username == OPERATOR_USER && e.namespace == ns && e.is_mutating())
                .collect();
            let events = ours.iter().filter(|e| e.resource == "events").count();
            let status = ours.iter().filter(|e| e.resource == "xagents" && e.subresource == "status").count();
            (events, status)
        };
        let (events_before, status_before) = writes(cluster);
        // A minute of Redis going away and coming back every 6 s.
        let started = Instant::now();
        let mut cycles = 0;
        while started.elapsed() < Duration::from_secs(60) {
            redis.stop();
            tokio::time::sleep(Duration::from_secs(6)).await;
            redis.restart();
            tokio::time::sleep(Duration::from_secs(6)).await;
            cycles += 1;
        }
        kit::wait_condition(&admin, ns, "flappy", "RedisReady", "True").await;
        let (events_after, status_after) = writes(cluster);
        let (event_writes, status_writes) = (events_after - events_before, status_after - status_before);
        let found = events_about(&admin, ns, "flappy", &["RedisUnavailable", "RedisRecovered"]).await;
        eprintln!(
            "{cycles} Redis flaps in 60 s: {event_writes} event writes, {status_writes} status writes; events {found:?}"
        );
        let objects = |reason: &str| found.iter().filter(|(r, _)| r == reason).count();
        let count = |reason: &str| found.iter().filter(|(r, _)| r == reason).map(|(_, c)| c).sum::<i32>();
        assert_eq!((objects("RedisUnavailable"), objects("RedisRecovered")), (1, 1), "one series each: {found:?}");
        assert!(count("RedisUnavailable") >= 2, "the outages were seen and counted: {found:?}");
        let most = i32::try_from(cycles).unwrap_or(i32::MAX) + 1;
        assert!(count("RedisUnavailable") <= most && count("RedisRecovered") <= most, "{found:?}");
        // At most one write per transition, each way: never one per reconcile or probe.
        assert!(event_writes <= 2 * (cycles + 1), "{event_writes} event writes for {cycles} flaps");
        // Down, a second failure counted, back up: three a cycle at most.
        assert!(status_writes <= 3 * (cycles + 1), "{status_writes} status writes for {cycles} flaps");
    });
}
