//! No failing server is flooded by the operator: a child the server keeps
//! refusing is retried with per-XAgent backoff whatever wakes the XAgent, and
//! nothing is sent again into a namespace that is being deleted. Request
//! counts come from the API server's audit log.

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;

use crate::children::{self, default_set};
use crate::gitops::UnreachableWebhook;
use crate::harness::{Cluster, User, free_port};
use crate::install::install_monitoring_crds;
use crate::kit::{self, eventually};
use crate::lifecycle::{operator_writes, setup, wait_children};
use crate::operator::Operator;
use crate::runtime;
use crate::stall::StallingProxy;

/// The scenarios of this module.
pub fn scenarios() -> Vec<crate::Scenario> {
    vec![
        ("bounds::a_refused_child_is_retried_with_backoff_whatever_wakes_the_xagent", refused_child),
        ("bounds::nothing_is_sent_again_into_a_namespace_being_deleted", terminating_namespace),
        ("bounds::the_operator_keeps_to_its_request_rate", request_rate),
        ("bounds::a_stalled_api_connection_does_not_wedge_the_operator", stalled_api),
    ]
}

/// How long the refused child is watched.
const WATCH: Duration = Duration::from_secs(40);

/// Attempts backoff allows in [`WATCH`]: at 0, ~5, ~15 and ~35 s (5 s
/// doubling, ±10 %).
const ATTEMPTS: usize = 4;

/// Service writes (create or apply) by the operator in `ns`.
fn service_writes(cluster: &Cluster, ns: &str) -> usize {
    operator_writes(cluster, ns).iter().filter(|e| e.resource == "services").count()
}

/// Touches a label of `deployment` every 300 ms until dropped: every touch
/// is a watch event that wakes its XAgent.
fn keep_waking(admin: &Client, ns: &str, deployment: &str) -> tokio::task::JoinHandle<()> {
    let api: Api<Deployment> = Api::namespaced(admin.clone(), ns);
    let name = deployment.to_string();
    tokio::spawn(async move {
        for n in 0u64.. {
            let touch = json!({"metadata": {"labels": {"test.xagent.io/wake": n.to_string()}}});
            let _ = api.patch(&name, &PatchParams::default(), &Patch::Merge(&touch)).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    })
}

fn refused_child(cluster: &Cluster) {
    runtime().block_on(async {
        let (ns, name) = ("flood", "flood");
        let (admin, operator) = setup(cluster, ns).await;
        // Every write of this XAgent's three Services gets a 500.
        let webhook = UnreachableWebhook::install(&admin, ns, name, free_port()).await;
        kit::apply_xagent(&admin, ns, name, json!({})).await;
        eventually("the Deployments to exist", Duration::from_secs(30), || async {
            let deployments: Api<Deployment> = Api::namespaced(admin.clone(), ns);
            deployments.get_opt(&format!("{name}-api")).await.ok().flatten()
        })
        .await;
        let waking = keep_waking(&admin, ns, &format!("{name}-api"));
        tokio::time::sleep(WATCH).await;
        waking.abort();

        let writes = service_writes(cluster, ns);
        let held = operator.metric_sum("xagent_reconciles_total", "outcome=\"backoff\"");
        eprintln!(
            "{WATCH:?} of refused Services and ~130 wake-ups: {writes} Service writes, {held} reconciles held"
        );
        assert!(writes <= 3 * (ATTEMPTS + 1), "{writes} Service writes in {WATCH:?}: no backoff");
        assert!(writes >= 3 * 3, "only {writes} Service writes: the operator stopped retrying");
        assert!(held >= 20.0, "only {held} wake-ups held back: the test did not wake the XAgent");
        let xa = kit::xagents(&admin, ns).get(name).await.expect("the XAgent");
        let retry = xa.status.and_then(|s| s.retry).expect("status.retry while failing");
        assert!(retry.failed_attempts >= 3, "{retry:?}");

        // A person's fix (the webhook gone, the spec touched) is tried at once.
        webhook.remove().await;
        let started = Instant::now();
        kit::apply_xagent(&admin, ns, name, json!({"api": {"port": 8080}})).await;
        wait_children(&admin, ns, name, &default_set(name)).await;
        eprintln!("children complete {:?} after the spec change", started.elapsed());
        eventually("status.retry to clear after success", Duration::from_secs(15), || async {
            let xa = kit::xagents(&admin, ns).get(name).await.ok()?;
            xa.status.filter(|s| s.retry.is_none() && !s.conditions.is_empty()).map(|_| ())
        })
        .await;
    });
}

/// A ValidatingAdmissionPolicy refusing every delete of XAgents in `ns`: the
/// namespace controller cannot finish, so the namespace stays Terminating
/// with the XAgent in it, as it does when a namespace holds many objects.
async fn hold_xagents(admin: &Client, ns: &str) -> String {
    let name = format!("hold-xagents-{ns}");
    let rule = json!({"apiGroups": ["xagent.io"], "apiVersions": ["*"], "operations": ["DELETE"],
                      "resources": ["xagents"]});
    let validation = json!({"expression": "false", "message": "held by the test"});
    kit::policy_in_namespace(admin, &name, ns, rule, validation).await;
    name
}

async fn release_xagents(admin: &Client, name: &str) {
    let _ = Api::<ValidatingAdmissionPolicyBinding>::all(admin.clone())
        .delete(name, &DeleteParams::default())
        .await;
    let _ = Api::<ValidatingAdmissionPolicy>::all(admin.clone()).delete(name, &DeleteParams::default()).await;
}

fn terminating_namespace(cluster: &Cluster) {
    runtime().block_on(async {
        let (ns, name) = ("doomed", "doomed");
        let (admin, operator) = setup(cluster, ns).await;
        kit::apply_xagent(&admin, ns, name, json!({})).await;
        wait_children(&admin, ns, name, &default_set(name)).await;
        let hold = hold_xagents(&admin, ns).await;
        let xagents = kit::xagents(&admin, ns);
        let dry_run = DeleteParams { dry_run: true, ..DeleteParams::default() };
        eventually("the hold on XAgent deletes", Duration::from_secs(30), || async {
            xagents.delete(name, &dry_run).await.is_err().then_some(())
        })
        .await;

        let before = operator_writes(cluster, ns).len();
        cluster.kubectl_ok(&["delete", "namespace", ns, "--wait=false"]);
        // The namespace controller deletes the children; the XAgent stays.
        eventually("the namespace controller to delete the children", Duration::from_secs(60), || async {
            children::of(&admin, ns, name).await.is_empty().then_some(())
        })
        .await;
        tokio::time::sleep(Duration::from_secs(20)).await;
        let writes: Vec<String> = operator_writes(cluster, ns)[before..]
            .iter()
            .map(|e| format!("{} {}/{} {}", e.verb, e.resource, e.subresource, e.name))
            .collect();
        eprintln!("children deleted by the namespace controller; then the operator wrote: {writes:?}");
        // Status writes while the children disappear, then one refused child
        // write, and nothing after it.
        let child_writes = writes.iter().filter(|w| !w.contains(" xagents/")).count();
        assert!(child_writes <= 1, "{child_writes} child writes into a terminating namespace: {writes:?}");
        assert!(writes.len() <= 6, "{} writes into a terminating namespace: {writes:?}", writes.len());
        assert!(
            operator.log_tail().contains("namespace is being deleted"),
            "the operator did not notice:\n{}",
            operator.log_tail()
        );
        assert!(xagents.get_opt(name).await.expect("reading the XAgent").is_some(), "the hold did not hold");
        release_xagents(&admin, &hold).await;
    });
}

/// The most requests received in any `window` (a sliding window over sorted times).
fn busiest(times: &[k8s_openapi::jiff::Timestamp], window: Duration) -> usize {
    let window = k8s_openapi::jiff::SignedDuration::try_from(window).expect("a short window");
    let mut busiest = 0;
    let mut first = 0;
    for (last, t) in times.iter().enumerate() {
        while t.duration_since(times[first]) >= window {
            first += 1;
        }
        busiest = busiest.max(last + 1 - first);
    }
    busiest
}

fn request_rate(cluster: &Cluster) {
    const QPS: usize = 5;
    runtime().block_on(async {
        let ns = "throttled";
        install_monitoring_crds(cluster);
        let admin = cluster.client(User::Admin).await;
        kit::namespace(&admin, ns).await;
        let started = k8s_openapi::jiff::Timestamp::now();
        let qps = QPS.to_string();
        let _operator = Operator::start(cluster, User::Operator, ns, &["--kube-api-qps", &qps]);
        let names = ["r1", "r2", "r3"];
        for name in names {
            kit::apply_xagent(&admin, ns, name, json!({})).await;
        }
        for name in names {
            wait_children(&admin, ns, name, &default_set(name)).await;
        }
        let mut seen = std::collections::HashSet::new();
        let mut times: Vec<_> = cluster
            .audit()
            .into_iter()
            .filter(|e| e.user_uid == User::Operator.uid() && seen.insert(e.audit_id.clone()))
            .filter_map(|e| e.received.filter(|t| *t >= started))
            .collect();
        times.sort();
        let busiest = busiest(&times, Duration::from_secs(1));
        let span = times.last().zip(times.first()).map(|(l, f)| l.duration_since(*f));
        eprintln!(
            "{} requests at --kube-api-qps {QPS} over {span:?}; busiest second: {busiest}",
            times.len()
        );
        assert!(times.len() > 4 * QPS, "too few requests to judge: {}", times.len());
        // A fixed one-second window admits QPS, so any sliding second holds
        // at most twice that; two more allow for requests the server
        // received late. Unlimited, the start alone sends some 30 at once.
        assert!(busiest <= 2 * QPS + 2, "{busiest} requests in one second at --kube-api-qps {QPS}");
    });
}

/// How long the proxy hangs: less than the client's read timeout, so only
/// that timeout frees the connections hung at the start.
const STALL: Duration = Duration::from_secs(30);

/// The operator reaches the API server through a proxy that hangs every
/// connection for [`STALL`]: nothing reaches the server meanwhile, the
/// operator stays up and answers /healthz, and once the proxy works again
/// it reconnects by itself and reconciles what was created during the stall.
fn stalled_api(cluster: &Cluster) {
    runtime().block_on(async {
        let ns = "stalled";
        install_monitoring_crds(cluster);
        let admin = cluster.client(User::Admin).await;
        kit::namespace(&admin, ns).await;
        let proxy = StallingProxy::start(cluster.url.trim_start_matches("https://").to_string());
        let ca = cluster.ca_certificate().display().to_string();
        let via_proxy = cluster
            .kubeconfig_text(User::Operator, &ca)
            .replace(&cluster.url, &format!("https://127.0.0.1:{}", proxy.port));
        let kubeconfig = cluster.scratch("stall").join("kubeconfig");
        std::fs::write(&kubeconfig, via_proxy).expect("writing the proxy kubeconfig");
        let operator = Operator::start_with_kubeconfig(cluster, User::Operator, ns, &kubeconfig);
        kit::apply_xagent(&admin, ns, "before", json!({})).await;
        wait_children(&admin, ns, "before", &default_set("before")).await;
        // Every watch and write so far shared one HTTP/2 connection (HTTP/1.1
        // would have opened one per watch and per write in flight).
        let connections = proxy.accepted();
        assert!(connections <= 2, "{connections} connections before the stall: requests are not multiplexed");

        proxy.stall();
        kit::apply_xagent(&admin, ns, "during", json!({})).await;
        tokio::time::sleep(STALL).await;
        assert!(
            children::of(&admin, ns, "during").await.is_empty(),
            "a request got through the stalled proxy"
        );
        assert!(operator.http_get("/healthz").contains("ok"), "the operator must stay up through the stall");
        proxy.resume();
        let resumed = Instant::now();
        let limit = xagent_operator::client::READ_TIMEOUT + Duration::from_secs(60);
        let (_, waited) = eventually("the operator to recover from the stall", limit, || async {
            let expected = default_set("during");
            (children::references(&children::of(&admin, ns, "during").await) == expected).then_some(())
        })
        .await;
        eprintln!(
            "stalled {STALL:?}; children of the XAgent created meanwhile {waited:?} after the proxy resumed \
             ({:?} in all), {} connections through the proxy ({connections} before the stall)",
            resumed.elapsed() + STALL,
            proxy.accepted()
        );
    });
}

/// XAgents created, and deleted, at once.
const MANY: usize = 1000;

/// Of those, how many fail (their Services are refused) and so wait for a retry.
const FAILING: usize = 100;

/// Every map the operator keeps per XAgent, as `xagent_operator_tracked_entries` names them.
const MAPS: [&str; 7] = xagent_operator::metrics::Metrics::TRACKED_MAPS;

/// The entries map `map` holds with every XAgent created: one per XAgent,
/// but for the retries (only the failing ones), the probed endpoints (the
/// one Redis they share) and the watched kinds known absent (none: each
/// lean XAgent wants none of the three, and their caches are filled, so
/// none is looked for).
fn entries_with_every_xagent(map: &str) -> f64 {
    let n = match map {
        "retries" => FAILING,
        "probed_endpoints" => 1,
        "watched_absent" => 0,
        _ => MANY,
    };
    n as f64
}

/// An XAgent with as few children as the spec allows (three Deployments of
/// zero replicas and their Services), sharing one unreachable Redis.
fn lean_spec(redis_port: u16) -> serde_json::Value {
    let component = json!({"replicas": 0, "autoscaling": {"enabled": false},
                           "podDisruptionBudget": {"enabled": false}});
    json!({"api": component, "websocket": component, "worker": component,
           "monitoring": {"serviceMonitor": {"enabled": false}, "prometheusRule": {"enabled": false}},
           "redis": {"host": "127.0.0.1", "port": redis_port, "tls": false,
                     "probe": {"intervalSeconds": 5, "timeoutSeconds": 1}}})
}

/// 1,000 XAgents come and go: each is validated, fingerprinted, probed and
/// given a status, and the 100 whose Services the server refuses fail into
/// their retry schedule, so the maps hold 100 retries, 1,000 validations,
/// fingerprints, probe results and status writes, and one probed endpoint.
/// Once every XAgent is deleted, every map returns to its size before. Run late, and
/// left only once the 6,000 children and 3,000 ReplicaSets are gone, so its
/// load does not slow what runs after it.
pub fn thousand_come_and_go(cluster: &Cluster) {
    runtime().block_on(async {
        let ns = "thousand";
        install_monitoring_crds(cluster);
        let admin = cluster.client(User::Admin).await;
        kit::namespace(&admin, ns).await;
        refuse_services_of_failing_xagents(&admin, ns).await;
        let operator = Operator::start(cluster, User::Operator, ns, &["--kube-api-qps", "500"]);
        let sizes = || MAPS.map(|map| operator.metric_sum("xagent_operator_tracked_entries", &format!("map=\"{map}\"")));
        let before = sizes();

        let started = Instant::now();
        let spec = lean_spec(free_port());
        let names: Vec<String> =
            (0..MANY).map(|i| if i < FAILING { format!("f{i:04}") } else { format!("x{i:04}") }).collect();
        futures::stream::iter(&names)
            .for_each_concurrent(16, |name| {
                let (admin, spec) = (&admin, &spec);
                async move {
                    kit::apply_xagent(admin, ns, name, spec.clone()).await;
                }
            })
            .await;
        let want = MAPS.map(entries_with_every_xagent);
        let (full, waited) = eventually("every map to hold its XAgents", Duration::from_secs(1200), || async {
            let now = sizes();
            (now.iter().zip(&before).map(|(n, b)| n - b).collect::<Vec<_>>() == want).then_some(now)
        })
        .await;
        eprintln!(
            "{MANY} XAgents ({FAILING} failing) created in {:?}; tracked entries {full:?} (maps {MAPS:?}) {waited:?} later",
            started.elapsed() - waited
        );

        kit::xagents(&admin, ns)
            .delete_collection(&DeleteParams::default(), &Default::default())
            .await
            .expect("deleting the XAgents");
        let (after, waited) = eventually("every map back to its size", Duration::from_secs(240), || async {
            let now = sizes();
            (now == before).then_some(now)
        })
        .await;
        eprintln!("deleted; tracked entries back to {after:?} (before: {before:?}) after {waited:?}");
        // The controller-manager's garbage collector would take minutes over
        // 3,000 ReplicaSets at its request rate; one delete-collection each
        // clears them server-side.
        let everything = kube::api::ListParams::default();
        let background = DeleteParams::background();
        let replica_sets: Api<k8s_openapi::api::apps::v1::ReplicaSet> = Api::namespaced(admin.clone(), ns);
        let deployments: Api<Deployment> = Api::namespaced(admin.clone(), ns);
        deployments.delete_collection(&background, &everything).await.expect("deleting the Deployments");
        replica_sets.delete_collection(&background, &everything).await.expect("deleting the ReplicaSets");
        let (_, waited) = eventually("every child to be gone", Duration::from_secs(300), || async {
            let services: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(admin.clone(), ns);
            let one = kube::api::ListParams::default().limit(1);
            let empty = deployments.list_metadata(&one).await.ok()?.items.is_empty()
                && services.list_metadata(&one).await.ok()?.items.is_empty()
                && replica_sets.list_metadata(&one).await.ok()?.items.is_empty();
            empty.then_some(())
        })
        .await;
        eprintln!("every child gone {waited:?} later");
    });
}

/// Refuses the Services of XAgents whose names start with `f`, with reason
/// Invalid: a refusal on the merits, not for want of a permission.
async fn refuse_services_of_failing_xagents(admin: &Client, ns: &str) {
    let rule = json!({"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                      "resources": ["services"]});
    let expression = "!has(object.metadata.labels) || !('app.kubernetes.io/instance' in object.metadata.labels) \
                      || !object.metadata.labels['app.kubernetes.io/instance'].startsWith('f')";
    let validation =
        json!({"expression": expression, "reason": "Invalid", "message": "no Services for f-XAgents"});
    kit::policy_in_namespace(admin, &format!("refuse-f-services-{ns}"), ns, rule, validation).await;
    crate::gitops::refused_for(admin, ns, "f-probe", "no Services for f-XAgents").await;
}
