//! How GitOps tools judge an XAgent: the scenario table run through the
//! three judges of `tests/health` (kstatus rules, the Argo CD script in real
//! Lua 5.1, the Flux CEL entry) over statuses the operator's own status
//! computation produces. The real-API-server suite runs the same table over
//! statuses the running operator wrote (`tests/cluster/gitops.rs`).

mod health;

use health::{Verdicts, expected};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};
use xagent_operator::builders::{ChildKind, ChildRef, Component};
use xagent_operator::controller::apply::{
    Applied, ChildReport, MonitoringObservation, Outcome, WorkloadState,
};
use xagent_operator::controller::status::{Converged, DependencyObservation, Observed, compute};
use xagent_operator::crd::DependencyStatus;
use xagent_operator::probes::state::{Published, PublishedDependencies};

const GENERATION: i64 = 3;

fn workload(desired: i32, ready: i32, updated: i32) -> WorkloadState {
    WorkloadState { desired, ready, updated, observed_current: true, deadline_exceeded: false }
}

/// The children of a default XAgent, every workload in `state`.
fn children(state: WorkloadState) -> Vec<(Component, ChildReport)> {
    let mut reports = Vec::new();
    for c in [Component::Api, Component::Websocket, Component::Worker] {
        for (kind, workload) in [(ChildKind::Service, None), (ChildKind::Deployment, Some(state))] {
            let child = ChildRef { kind, name: format!("demo-{}", c.as_str()) };
            reports.push((c, ChildReport { child, outcome: Outcome::Unchanged, workload }));
        }
    }
    reports
}

fn applied(children: Vec<(Component, ChildReport)>) -> Applied {
    let monitoring = MonitoringObservation { wanted: true, installed: true, routing_missing: false };
    Applied { children, pruned: Vec::new(), monitoring, storage: None, first_failure: None }
}

fn redis(healthy: bool) -> DependencyObservation {
    let record = DependencyStatus {
        healthy,
        latency_ms: 1,
        last_transition_time: Time(Timestamp::UNIX_EPOCH),
        message: if healthy { "PING answered".into() } else { "connection refused".into() },
        consecutive_failures: u32::from(!healthy),
    };
    let reason = if healthy { "ProbeSucceeded" } else { "ConnectionRefused" };
    let published = PublishedDependencies { redis: Some(Published { record, reason }), postgres: None };
    DependencyObservation { redis_configured: true, postgres_configured: false, published }
}

/// An XAgent object at `generation` whose status is computed from `converged`.
fn xagent(generation: i64, converged: Option<Converged<'_>>, dependencies: DependencyObservation) -> Value {
    let observed = Observed { generation: Some(GENERATION), dependencies, retry: None };
    // Before the first reconcile the API server shows the CRD's default status.
    let status = match converged {
        Some(c) => serde_json::to_value(compute(None, c, &observed, Timestamp::UNIX_EPOCH)).expect("JSON"),
        None => json!({"observedGeneration": 0}),
    };
    json!({
        "apiVersion": "xagent.io/v1alpha1",
        "kind": "XAgent",
        "metadata": {"name": "demo", "namespace": "ns", "generation": generation},
        "spec": {},
        "status": status,
    })
}

fn failing(mut children: Vec<(Component, ChildReport)>, transient: bool) -> Vec<(Component, ChildReport)> {
    let message = if transient {
        "applying Service/demo-api failed: ApiError: 503 Service Unavailable".to_string()
    } else {
        "applying Service/demo-api failed: ApiError: Invalid value (Invalid): 422".to_string()
    };
    children[0].1.outcome = Outcome::Failed { message, transient };
    children
}

/// Every scenario of the table, as (name, XAgent object).
fn scenarios() -> Vec<(&'static str, Value)> {
    let ready = workload(2, 2, 2);
    let none = DependencyObservation::default;
    let at = |children| xagent(GENERATION, Some(Converged::Applied(&applied(children))), none());
    let crash = children(workload(2, 0, 2));
    let mut deadline = children(workload(2, 0, 2));
    for (_, r) in &mut deadline {
        if let Some(w) = r.workload.as_mut() {
            w.deadline_exceeded = true;
        }
    }
    let mut conflict = children(ready);
    conflict[0].1.outcome =
        Outcome::Conflict("Service/demo-api exists and is not controlled by this XAgent".into());
    conflict[0].1.workload = None;
    vec![
        ("fresh", xagent(1, None, none())),
        ("rollout in progress", at(children(workload(2, 2, 1)))),
        ("waiting for replicas", at(children(workload(2, 1, 2)))),
        ("all ready", at(children(ready))),
        (
            "spec edited, not yet observed",
            xagent(GENERATION + 1, Some(Converged::Applied(&applied(children(ready)))), none()),
        ),
        ("pods crash-looping", at(crash)),
        ("crash-looping past the progress deadline", at(deadline)),
        ("Redis down", xagent(GENERATION, Some(Converged::Applied(&applied(children(ready)))), redis(false))),
        ("invalid spec", xagent(GENERATION, Some(Converged::Invalid("minReplicas > maxReplicas")), none())),
        ("foreign conflict", at(conflict)),
        ("transient 5xx", at(failing(children(ready), true))),
        ("permanent 422", at(failing(children(ready), false))),
    ]
}

#[test]
fn every_judge_reads_every_scenario_as_a_person_would() {
    let mut wrong = Vec::new();
    for (name, object) in scenarios() {
        let verdicts = Verdicts::of(&object);
        eprintln!("{name:42} {verdicts}");
        if let Err(e) = verdicts.check(&expected(name)) {
            wrong.push(format!("{name}: {e}"));
        }
    }
    assert!(wrong.is_empty(), "misjudged:\n{}", wrong.join("\n"));
}

#[test]
fn a_healthy_redis_is_no_reason_for_concern() {
    let ready = applied(children(workload(2, 2, 2)));
    let object = xagent(GENERATION, Some(Converged::Applied(&ready)), redis(true));
    assert!(Verdicts::of(&object).check(&expected("all ready")).is_ok(), "{}", Verdicts::of(&object));
}

#[test]
fn the_argocd_script_says_why_it_is_degraded() {
    let invalid = xagent(
        GENERATION,
        Some(Converged::Invalid("minReplicas > maxReplicas")),
        DependencyObservation::default(),
    );
    let (status, message) = health::argocd(&invalid);
    assert_eq!(status, "Degraded");
    assert!(
        message.starts_with("InvalidSpec: ") && message.contains("minReplicas > maxReplicas"),
        "{message}"
    );
}

#[test]
fn the_lua_literal_carries_quotes_backslashes_and_unicode_intact() {
    // The judges see exactly the strings the status holds.
    let tricky = "say \"hi\" \\ to ünïcode\nand a new line";
    let script = std::env::temp_dir().join(format!("echo-{}.lua", std::process::id()));
    std::fs::write(&script, "return { status = obj.s, message = obj.s }").expect("writing a script");
    let (status, _) = health::run_lua(&script, &json!({"s": tricky}));
    std::fs::remove_file(&script).ok();
    assert_eq!(status, tricky.split('\n').next().unwrap());
}

#[test]
fn the_argocd_configmap_patch_holds_the_script_verbatim() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let patch = std::fs::read_to_string(root.join("config/gitops/argocd/argocd-cm.yaml")).expect("the patch");
    let patch: Value = serde_yaml::from_str(&patch).expect("YAML");
    let script = std::fs::read_to_string(health::argocd_script()).expect("the script");
    assert_eq!(
        patch["data"]["resource.customizations.health.xagent.io_XAgent"].as_str(),
        Some(script.as_str())
    );
}

#[test]
fn the_docs_show_the_shipped_health_checks() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(root.join("docs/gitops.md")).expect("docs/gitops.md");
    let (in_progress, failed, current) = health::flux_exprs();
    for expr in [in_progress, failed, current] {
        assert!(docs.contains(&expr), "docs/gitops.md lacks {expr}");
    }
    let script = std::fs::read_to_string(health::argocd_script()).expect("the script");
    assert!(docs.contains(script.trim()), "docs/gitops.md lacks the Argo CD script as shipped");
}
