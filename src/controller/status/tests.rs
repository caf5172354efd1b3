//! Unit tests of the pure status computation.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use super::{
    Converged, DependencyObservation, Observation, Observed, changed, compute, compute_observation,
    rolling_out, types, verdict,
};
use crate::builders::{ChildKind, ChildRef, Component};
use crate::controller::apply::{Applied, MonitoringObservation};
use crate::controller::apply::{ChildReport, Outcome, WorkloadState};
use crate::crd::{ComponentStatus, DependencyStatus, RetryStatus, XAgentStatus};
use crate::probes::state::{Published, PublishedDependencies};

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + second).expect("valid timestamp")
}

/// A report on child `reference` (`Kind/name`), its kind read from the reference.
fn report(reference: &str, outcome: Outcome, workload: Option<WorkloadState>) -> ChildReport {
    let (kind_name, name) = reference.split_once('/').unwrap_or_default();
    let kind = ChildKind::ALL
        .iter()
        .find(|k| k.as_str() == kind_name)
        .unwrap_or_else(|| panic!("unknown kind in {reference}"));
    ChildReport { child: ChildRef { kind: *kind, name: name.into() }, outcome, workload }
}

/// A workload with `ready` of `desired` replicas ready, all updated and observed.
fn state(desired: i32, ready: i32) -> WorkloadState {
    WorkloadState { desired, ready, updated: desired, observed_current: true, deadline_exceeded: false }
}

/// The reports of one stateless component: Service, Deployment (with `workload`), HPA, PDB.
fn component(c: Component, workload: WorkloadState) -> Vec<(Component, ChildReport)> {
    let name = format!("demo-{}", c.as_str());
    vec![
        (c, report(&format!("Service/{name}"), Outcome::Unchanged, None)),
        (c, report(&format!("Deployment/{name}"), Outcome::Unchanged, Some(workload))),
        (c, report(&format!("HorizontalPodAutoscaler/{name}"), Outcome::Unchanged, None)),
        (c, report(&format!("PodDisruptionBudget/{name}"), Outcome::Unchanged, None)),
    ]
}

/// Every component healthy: api 3/3, websocket 2/2, worker 2/2, at generation 4.
fn healthy() -> Observation {
    let mut children = component(Component::Api, state(3, 3));
    children.extend(component(Component::Websocket, state(2, 2)));
    children.extend(component(Component::Worker, state(2, 2)));
    Observation { generation: Some(4), children, ..Observation::default() }
}

/// Replaces the workload state of `c`'s Deployment or StatefulSet.
fn set_workload(obs: &mut Observation, c: Component, w: WorkloadState) {
    let (_, r) = obs
        .children
        .iter_mut()
        .find(|(comp, r)| *comp == c && r.workload.is_some())
        .expect("component has a workload");
    r.workload = Some(w);
}

fn condition<'a>(status: &'a XAgentStatus, type_: &str) -> &'a Condition {
    let matching: Vec<&Condition> = status.conditions.iter().filter(|c| c.type_ == type_).collect();
    assert_eq!(matching.len(), 1, "exactly one {type_} condition in {:?}", status.conditions);
    matching[0]
}

/// `(status, reason)` of condition `type_`.
fn sr<'a>(status: &'a XAgentStatus, type_: &str) -> (&'a str, &'a str) {
    let c = condition(status, type_);
    (c.status.as_str(), c.reason.as_str())
}

const ALL_TYPES: [&str; 6] =
    [types::READY, types::AVAILABLE, types::PROGRESSING, types::DEGRADED, types::RECONCILING, types::STALLED];

// ---------------------------------------------------------------------------
// Conditions
// ---------------------------------------------------------------------------

#[test]
fn all_workloads_ready_means_ready_and_available() {
    let status = compute_observation(None, &healthy(), at(0));
    assert_eq!(sr(&status, types::READY), ("True", "Ready"));
    assert_eq!(sr(&status, types::AVAILABLE), ("True", "AllComponentsAvailable"));
    assert_eq!(sr(&status, types::PROGRESSING), ("False", "RolloutComplete"));
    assert_eq!(sr(&status, types::DEGRADED), ("False", "AsExpected"));
    assert!(status.conflicts.is_empty());
}

#[test]
fn each_condition_type_appears_once_with_a_message() {
    for obs in [healthy(), Observation { invalid_spec: Some("bad".into()), ..healthy() }] {
        let status = compute_observation(None, &obs, at(0));
        assert_eq!(status.conditions.len(), ALL_TYPES.len());
        for type_ in ALL_TYPES {
            let c = condition(&status, type_);
            assert!(!c.message.is_empty(), "{type_} has no message");
            assert!(!c.reason.is_empty(), "{type_} has no reason");
            assert!(
                c.reason.chars().all(|ch| ch.is_ascii_alphanumeric())
                    && c.reason.starts_with(char::is_uppercase),
                "{type_} reason {:?} is not CamelCase as metav1.Condition requires",
                c.reason
            );
        }
    }
}

#[test]
fn observed_generation_is_set_on_the_status_and_every_condition() {
    let status = compute_observation(None, &healthy(), at(0));
    assert_eq!(status.observed_generation, Some(4));
    for c in &status.conditions {
        assert_eq!(c.observed_generation, Some(4), "{}", c.type_);
    }
    let unknown = compute_observation(None, &Observation { generation: None, ..healthy() }, at(0));
    assert_eq!(unknown.observed_generation, None);
    assert!(unknown.conditions.iter().all(|c| c.observed_generation.is_none()));
}

#[test]
fn a_workload_short_of_ready_replicas_makes_it_unavailable_and_not_ready() {
    let mut obs = healthy();
    set_workload(&mut obs, Component::Worker, state(2, 1));
    let status = compute_observation(None, &obs, at(0));
    let available = condition(&status, types::AVAILABLE);
    assert_eq!((available.status.as_str(), available.reason.as_str()), ("False", "ComponentsUnavailable"));
    assert!(available.message.contains("worker"), "message names the component: {}", available.message);
    assert!(!available.message.contains("api"), "healthy components are not named: {}", available.message);
    let ready = condition(&status, types::READY);
    assert_eq!(ready.status, "False");
    assert!(ready.message.contains("worker"), "Ready explains why: {}", ready.message);
    assert_eq!(sr(&status, types::DEGRADED), ("False", "AsExpected"), "waiting is not degraded");
}

#[test]
fn every_unavailable_component_is_named() {
    let mut obs = healthy();
    set_workload(&mut obs, Component::Api, state(3, 0));
    set_workload(&mut obs, Component::Websocket, state(2, 1));
    let status = compute_observation(None, &obs, at(0));
    let message = &condition(&status, types::AVAILABLE).message;
    assert!(message.contains("api") && message.contains("websocket"), "{message}");
    assert!(!message.contains("worker"), "{message}");
}

#[test]
fn replicas_not_yet_updated_are_unavailable_and_progressing() {
    let mut obs = healthy();
    set_workload(
        &mut obs,
        Component::Api,
        WorkloadState { desired: 3, ready: 3, updated: 1, observed_current: true, deadline_exceeded: false },
    );
    let status = compute_observation(None, &obs, at(0));
    assert_eq!(sr(&status, types::AVAILABLE).0, "False");
    let progressing = condition(&status, types::PROGRESSING);
    assert_eq!((progressing.status.as_str(), progressing.reason.as_str()), ("True", "RollingOut"));
    assert!(progressing.message.contains("api"), "{}", progressing.message);
    assert!(rolling_out(&status), "the status says a rollout is in progress");
    assert!(!rolling_out(&compute_observation(None, &healthy(), at(0))), "all rolled out");
}

#[test]
fn a_generation_the_workload_controller_has_not_observed_is_progressing() {
    let mut obs = healthy();
    set_workload(&mut obs, Component::Websocket, WorkloadState { observed_current: false, ..state(2, 2) });
    let status = compute_observation(None, &obs, at(0));
    let progressing = condition(&status, types::PROGRESSING);
    assert_eq!((progressing.status.as_str(), progressing.reason.as_str()), ("True", "RollingOut"));
    assert!(progressing.message.contains("websocket"), "{}", progressing.message);
    assert!(!progressing.message.contains("worker"), "{}", progressing.message);
    // Old pods still serve: availability is a separate question.
    assert_eq!(sr(&status, types::AVAILABLE).0, "True");
}

#[test]
fn more_ready_replicas_than_desired_still_counts_as_available() {
    let mut obs = healthy();
    // Scaling down from 5 to 2: extra pods are still terminating.
    set_workload(
        &mut obs,
        Component::Worker,
        WorkloadState { desired: 2, ready: 5, updated: 5, observed_current: true, deadline_exceeded: false },
    );
    let status = compute_observation(None, &obs, at(0));
    assert_eq!(sr(&status, types::AVAILABLE).0, "True");
    assert_eq!(sr(&status, types::READY).0, "True");
}

#[test]
fn only_workloads_count_towards_availability() {
    // Services, HPAs and PDBs carry no replica counts; they must not be reported as unavailable.
    let status = compute_observation(None, &healthy(), at(0));
    assert_eq!(sr(&status, types::AVAILABLE).0, "True");
    // A Deployment without observed counts is not available.
    let mut obs = healthy();
    let (_, r) = obs.children.iter_mut().find(|(_, r)| r.child.to_string() == "Deployment/demo-api").unwrap();
    r.workload = None;
    let status = compute_observation(None, &obs, at(0));
    assert_eq!(sr(&status, types::AVAILABLE).0, "False");
    assert!(condition(&status, types::AVAILABLE).message.contains("api"));
}

#[test]
fn the_chromadb_statefulset_counts_towards_availability() {
    let mut obs = healthy();
    obs.children.push((Component::Chromadb, report("Service/demo-chromadb", Outcome::Unchanged, None)));
    obs.children.push((
        Component::Chromadb,
        report("StatefulSet/demo-chromadb", Outcome::Created, Some(state(1, 0))),
    ));
    let status = compute_observation(None, &obs, at(0));
    let available = condition(&status, types::AVAILABLE);
    assert_eq!(available.status, "False");
    assert!(available.message.contains("chromadb"), "{}", available.message);
    assert_eq!(status.components.chromadb, Some(ComponentStatus::new(1, 0, 1)));
}

#[test]
fn a_conflict_degrades_and_is_listed() {
    let mut obs = healthy();
    let msg = "Service/demo-api exists and is controlled by Helm release";
    let (_, r) = obs.children.iter_mut().find(|(_, r)| r.child.to_string() == "Service/demo-api").unwrap();
    r.outcome = Outcome::Conflict(msg.into());
    let status = compute_observation(None, &obs, at(0));
    let degraded = condition(&status, types::DEGRADED);
    assert_eq!((degraded.status.as_str(), degraded.reason.as_str()), ("True", "ChildConflict"));
    assert!(degraded.message.contains(msg), "{}", degraded.message);
    assert_eq!(sr(&status, types::READY), ("False", "ChildConflict"));
    assert!(condition(&status, types::READY).message.contains(msg));
    assert_eq!(status.conflicts, vec![msg.to_string()]);
    // The workloads themselves are fine.
    assert_eq!(sr(&status, types::AVAILABLE).0, "True");
}

#[test]
fn every_conflict_is_reported() {
    let mut obs = healthy();
    for (i, (_, r)) in obs.children.iter_mut().filter(|(c, _)| *c == Component::Worker).enumerate().take(2) {
        r.outcome = Outcome::Conflict(format!("conflict {i}"));
    }
    let status = compute_observation(None, &obs, at(0));
    assert_eq!(status.conflicts, ["conflict 0", "conflict 1"]);
    let message = &condition(&status, types::DEGRADED).message;
    assert!(message.contains("conflict 0") && message.contains("conflict 1"), "{message}");
}

#[test]
fn a_conflicting_workload_is_degraded_not_merely_unavailable() {
    let mut obs = healthy();
    let (_, r) =
        obs.children.iter_mut().find(|(_, r)| r.child.to_string() == "Deployment/demo-worker").unwrap();
    r.outcome =
        Outcome::Conflict("Deployment/demo-worker exists and is not controlled by this XAgent".into());
    r.workload = None; // ensure() reports no counts for an object it does not control
    let status = compute_observation(None, &obs, at(0));
    assert_eq!(sr(&status, types::DEGRADED), ("True", "ChildConflict"));
    assert_eq!(
        sr(&status, types::READY),
        ("False", "ChildConflict"),
        "the conflict is the reason, not availability"
    );
    assert_eq!(sr(&status, types::AVAILABLE).0, "False");
    assert_eq!(status.components.worker, None);
}

#[test]
fn an_invalid_spec_is_degraded_and_not_ready() {
    let obs = Observation {
        generation: Some(9),
        children: Vec::new(),
        invalid_spec: Some("spec.api.replicas: must be at most 1000".into()),
        ..Observation::default()
    };
    let status = compute_observation(None, &obs, at(0));
    assert_eq!(sr(&status, types::READY), ("False", "InvalidSpec"));
    assert_eq!(sr(&status, types::DEGRADED), ("True", "InvalidSpec"));
    assert_eq!(sr(&status, types::AVAILABLE), ("False", "InvalidSpec"));
    assert_eq!(sr(&status, types::PROGRESSING), ("False", "InvalidSpec"));
    for type_ in ALL_TYPES {
        let c = condition(&status, type_);
        assert!(c.message.contains("spec.api.replicas: must be at most 1000"), "{type_}: {}", c.message);
        assert_eq!(c.observed_generation, Some(9));
    }
    assert_eq!(status.observed_generation, Some(9));
    assert!(status.conflicts.is_empty());
}

#[test]
fn an_invalid_spec_wins_over_healthy_children() {
    let obs = Observation { invalid_spec: Some("nope".into()), ..healthy() };
    let status = compute_observation(None, &obs, at(0));
    assert_eq!(sr(&status, types::READY), ("False", "InvalidSpec"));
    assert_eq!(sr(&status, types::DEGRADED), ("True", "InvalidSpec"));
}

// ---------------------------------------------------------------------------
// Components
// ---------------------------------------------------------------------------

#[test]
fn component_summaries_are_ready_over_desired() {
    let mut obs = healthy();
    set_workload(
        &mut obs,
        Component::Api,
        WorkloadState { desired: 5, ready: 3, updated: 4, observed_current: true, deadline_exceeded: false },
    );
    let status = compute_observation(None, &obs, at(0));
    let api = status.components.api.as_ref().expect("api status");
    assert_eq!((api.desired_replicas, api.ready_replicas, api.updated_replicas), (5, 3, 4));
    assert_eq!(api.summary, "3/5");
    assert_eq!(status.components.websocket.as_ref().map(|c| c.summary.as_str()), Some("2/2"));
    assert_eq!(status.components.worker.as_ref().map(|c| c.summary.as_str()), Some("2/2"));
    assert_eq!(status.components.chromadb, None, "no ChromaDB child, no ChromaDB status");
}

#[test]
fn component_status_availability_needs_ready_and_updated_replicas() {
    assert!(ComponentStatus::new(2, 2, 2).is_available());
    assert!(ComponentStatus::new(0, 0, 0).is_available());
    assert!(!ComponentStatus::new(2, 1, 2).is_available());
    assert!(!ComponentStatus::new(2, 2, 1).is_available());
    assert_eq!(ComponentStatus::new(7, 4, 6).summary, "4/7");
}

#[test]
fn an_invalid_spec_reports_no_components() {
    let obs = Observation {
        generation: Some(2),
        children: Vec::new(),
        invalid_spec: Some("x".into()),
        ..Observation::default()
    };
    let status = compute_observation(None, &obs, at(0));
    assert_eq!(status.components, Default::default());
}

// ---------------------------------------------------------------------------
// Transition times and change detection
// ---------------------------------------------------------------------------

#[test]
fn new_conditions_are_stamped_now() {
    let status = compute_observation(None, &healthy(), at(5));
    for c in &status.conditions {
        assert_eq!(c.last_transition_time, Time(at(5)), "{}", c.type_);
    }
}

#[test]
fn a_steady_state_keeps_transition_times_and_needs_no_write() {
    let first = compute_observation(None, &healthy(), at(0));
    let second = compute_observation(Some(&first), &healthy(), at(300));
    for type_ in ALL_TYPES {
        assert_eq!(condition(&second, type_).last_transition_time, Time(at(0)), "{type_}");
    }
    assert_eq!(second, first);
    assert!(!changed(Some(&first), &second));
}

#[test]
fn a_steady_degraded_state_needs_no_write_either() {
    let mut obs = healthy();
    obs.children[0].1.outcome = Outcome::Conflict("Service/demo-api is taken".into());
    set_workload(&mut obs, Component::Worker, WorkloadState { observed_current: false, ..state(2, 1) });
    let first = compute_observation(None, &obs, at(0));
    let second = compute_observation(Some(&first), &obs, at(60));
    assert!(!changed(Some(&first), &second));
    let invalid = Observation { invalid_spec: Some("bad".into()), ..healthy() };
    let first = compute_observation(None, &invalid, at(0));
    assert!(!changed(Some(&first), &compute_observation(Some(&first), &invalid, at(60))));
}

#[test]
fn a_flipped_condition_is_stamped_now_and_the_others_keep_their_time() {
    let before = compute_observation(None, &healthy(), at(0));
    let mut obs = healthy();
    set_workload(&mut obs, Component::Api, state(3, 2));
    let after = compute_observation(Some(&before), &obs, at(120));
    assert_eq!(sr(&after, types::AVAILABLE).0, "False");
    assert_eq!(condition(&after, types::AVAILABLE).last_transition_time, Time(at(120)));
    assert_eq!(condition(&after, types::READY).last_transition_time, Time(at(120)));
    assert_eq!(condition(&after, types::PROGRESSING).last_transition_time, Time(at(0)), "still False");
    assert_eq!(condition(&after, types::DEGRADED).last_transition_time, Time(at(0)), "still False");
    assert!(changed(Some(&before), &after));

    // And back: the recovery is a transition too.
    let recovered = compute_observation(Some(&after), &healthy(), at(240));
    assert_eq!(condition(&recovered, types::AVAILABLE).last_transition_time, Time(at(240)));
    assert_eq!(condition(&recovered, types::DEGRADED).last_transition_time, Time(at(0)));
}

#[test]
fn a_new_message_or_reason_without_a_flip_keeps_the_transition_time() {
    let mut obs = healthy();
    set_workload(&mut obs, Component::Api, state(3, 2));
    let before = compute_observation(None, &obs, at(0));
    // Still unavailable, now because of another component.
    let mut obs = healthy();
    set_workload(&mut obs, Component::Worker, state(2, 0));
    let after = compute_observation(Some(&before), &obs, at(30));
    let available = condition(&after, types::AVAILABLE);
    assert_eq!(available.status, "False");
    assert!(available.message.contains("worker"));
    assert_eq!(available.last_transition_time, Time(at(0)), "status did not flip");
    assert!(changed(Some(&before), &after), "the message changed, so it must be written");
}

#[test]
fn a_generation_bump_alone_needs_a_write_but_flips_nothing() {
    let before = compute_observation(None, &healthy(), at(0));
    let after = compute_observation(Some(&before), &Observation { generation: Some(5), ..healthy() }, at(60));
    assert_eq!(after.observed_generation, Some(5));
    assert!(after.conditions.iter().all(|c| c.observed_generation == Some(5)));
    assert!(after.conditions.iter().all(|c| c.last_transition_time == Time(at(0))));
    assert!(changed(Some(&before), &after));
}

#[test]
fn a_missing_previous_status_always_needs_a_write() {
    let next = compute_observation(None, &healthy(), at(0));
    assert!(changed(None, &next));
    assert!(changed(None, &XAgentStatus::default()));
}

#[test]
fn new_conflicts_need_a_write() {
    let before = compute_observation(None, &healthy(), at(0));
    let mut obs = healthy();
    obs.children[0].1.outcome = Outcome::Conflict("Service/demo-api is taken".into());
    let after = compute_observation(Some(&before), &obs, at(10));
    assert!(changed(Some(&before), &after));
    assert_eq!(condition(&after, types::DEGRADED).last_transition_time, Time(at(10)));
}

#[test]
fn the_status_round_trips_through_json_without_a_spurious_change() {
    // The reconciler compares against the status read back from the API server.
    let mut obs = healthy();
    obs.children[0].1.outcome = Outcome::Conflict("Service/demo-api is taken".into());
    let written = compute_observation(None, &obs, at(0));
    let stored: XAgentStatus = serde_json::from_value(serde_json::to_value(&written).unwrap()).unwrap();
    let next = compute_observation(Some(&stored), &obs, at(90));
    assert!(!changed(Some(&stored), &next));
}

// ---------------------------------------------------------------------------
// MonitoringReady
// ---------------------------------------------------------------------------

fn with_monitoring(wanted: bool, installed: bool) -> Observation {
    let mut obs = healthy();
    obs.monitoring = Some(MonitoringObservation { wanted, installed, routing_missing: false });
    if wanted && installed {
        obs.children.push((Component::Monitoring, report("ServiceMonitor/demo", Outcome::Unchanged, None)));
        obs.children.push((Component::Monitoring, report("PrometheusRule/demo", Outcome::Unchanged, None)));
    }
    obs
}

#[test]
fn monitoring_ready_is_reported_only_when_monitoring_was_observed() {
    assert!(
        compute_observation(None, &healthy(), at(0))
            .conditions
            .iter()
            .all(|c| c.type_ != types::MONITORING_READY)
    );
    let status = compute_observation(None, &with_monitoring(true, true), at(0));
    assert_eq!(status.conditions.len(), ALL_TYPES.len() + 1);
    assert_eq!(sr(&status, types::MONITORING_READY), ("True", "Applied"));
    assert_eq!(condition(&status, types::MONITORING_READY).observed_generation, Some(4));
    let status = compute_observation(None, &with_monitoring(false, false), at(0));
    assert_eq!(sr(&status, types::MONITORING_READY), ("True", "MonitoringDisabled"));
}

#[test]
fn a_missing_prometheus_operator_does_not_make_the_platform_unready() {
    let status = compute_observation(None, &with_monitoring(true, false), at(0));
    assert_eq!(sr(&status, types::MONITORING_READY), ("False", "PrometheusOperatorNotInstalled"));
    assert_eq!(sr(&status, types::READY), ("True", "Ready"));
    assert_eq!(sr(&status, types::DEGRADED).0, "False");
    // Steady while it stays missing.
    let again = compute_observation(Some(&status), &with_monitoring(true, false), at(300));
    assert!(!changed(Some(&status), &again));
    // Installing the CRDs flips only MonitoringReady.
    let installed = compute_observation(Some(&status), &with_monitoring(true, true), at(600));
    assert_eq!(condition(&installed, types::MONITORING_READY).last_transition_time, Time(at(600)));
    assert_eq!(condition(&installed, types::READY).last_transition_time, Time(at(0)));
}

#[test]
fn a_missing_alertmanager_config_crd_is_named_without_making_the_platform_unready() {
    let mut obs = with_monitoring(true, true);
    obs.monitoring = Some(MonitoringObservation { wanted: true, installed: true, routing_missing: true });
    let status = compute_observation(None, &obs, at(0));
    assert_eq!(sr(&status, types::MONITORING_READY), ("False", "AlertmanagerConfigNotInstalled"));
    assert!(condition(&status, types::MONITORING_READY).message.contains("alertmanagerConfig"));
    assert_eq!(sr(&status, types::READY), ("True", "Ready"));
}

#[test]
fn a_monitoring_conflict_is_named_in_monitoring_ready() {
    let mut obs = with_monitoring(true, true);
    let msg = "ServiceMonitor/demo exists and is controlled by Prometheus stack";
    let (_, r) = obs.children.iter_mut().find(|(_, r)| r.child.to_string() == "ServiceMonitor/demo").unwrap();
    r.outcome = Outcome::Conflict(msg.into());
    let status = compute_observation(None, &obs, at(0));
    let monitoring = condition(&status, types::MONITORING_READY);
    assert_eq!((monitoring.status.as_str(), monitoring.reason.as_str()), ("False", "ChildConflict"));
    assert!(monitoring.message.contains(msg), "{}", monitoring.message);
    assert_eq!(status.conflicts, vec![msg.to_string()]);
    // A workload conflict is not a monitoring problem.
    let mut obs = with_monitoring(true, true);
    obs.children[0].1.outcome = Outcome::Conflict("Service/demo-api is taken".into());
    let status = compute_observation(None, &obs, at(0));
    assert_eq!(sr(&status, types::MONITORING_READY), ("True", "Applied"));
}

fn with_deps(redis: Option<bool>, postgres: bool) -> Observation {
    let published = PublishedDependencies {
        redis: redis.map(|healthy| Published {
            record: DependencyStatus {
                healthy,
                latency_ms: 2,
                last_transition_time: Time(at(5)),
                message: if healthy {
                    "PING answered".into()
                } else {
                    "Connection refused (os error 111)".into()
                },
                consecutive_failures: u32::from(!healthy),
            },
            reason: if healthy { "ProbeSucceeded" } else { "ConnectionRefused" },
        }),
        postgres: None,
    };
    let dependencies =
        DependencyObservation { redis_configured: true, postgres_configured: postgres, published };
    Observation { dependencies, ..healthy() }
}

#[test]
fn an_unhealthy_dependency_makes_the_xagent_not_ready() {
    let status = compute_observation(None, &with_deps(Some(false), false), at(10));
    assert_eq!(sr(&status, types::REDIS_READY), ("False", "ConnectionRefused"), "the probe's own reason");
    assert_eq!(sr(&status, types::READY), ("False", "DependencyUnavailable"));
    let ready = status.conditions.iter().find(|c| c.type_ == types::READY).unwrap();
    assert!(ready.message.contains("Redis unavailable: Connection refused"), "{}", ready.message);
    assert_eq!(status.dependencies.redis.as_ref().unwrap().consecutive_failures, 1);
    assert!(status.conditions.iter().all(|c| c.type_ != types::POSTGRES_READY), "postgres not configured");
}

#[test]
fn healthy_and_not_yet_probed_dependencies_do_not_block_readiness() {
    let status = compute_observation(None, &with_deps(Some(true), true), at(10));
    assert_eq!(sr(&status, types::REDIS_READY), ("True", "ProbeSucceeded"));
    assert_eq!(sr(&status, types::POSTGRES_READY), ("Unknown", "Probing"));
    assert_eq!(sr(&status, types::READY), ("True", "Ready"));
}

/// A healthy observation whose API Deployment failed to apply.
fn failing(transient: bool) -> Observation {
    let mut obs = healthy();
    let (_, r) = obs.children.iter_mut().find(|(_, r)| r.child.kind == ChildKind::Service).unwrap();
    r.outcome = Outcome::Failed { message: "applying Service/demo-api failed: boom".into(), transient };
    obs
}

/// The (Ready, Reconciling, Stalled) statuses and reasons of `status`.
fn kstatus(status: &XAgentStatus) -> [(&str, &str); 3] {
    [sr(status, types::READY), sr(status, types::RECONCILING), sr(status, types::STALLED)]
}

#[test]
fn a_ready_xagent_is_neither_reconciling_nor_stalled() {
    let status = compute_observation(None, &healthy(), at(0));
    assert_eq!(
        kstatus(&status),
        [("True", "Ready"), ("False", "ReconcileComplete"), ("False", "NotStalled")]
    );
}

#[test]
fn a_rollout_is_reconciling_and_not_yet_ready() {
    let mut rolling = healthy();
    set_workload(
        &mut rolling,
        Component::Api,
        WorkloadState { desired: 3, ready: 3, updated: 1, observed_current: true, deadline_exceeded: false },
    );
    let status = compute_observation(None, &rolling, at(0));
    assert_eq!(kstatus(&status), [("False", "RollingOut"), ("True", "RollingOut"), ("False", "NotStalled")]);
}

#[test]
fn a_spec_the_workload_controller_has_not_seen_is_not_ready() {
    // Replica counts can still be full from the previous template.
    let mut obs = healthy();
    set_workload(&mut obs, Component::Worker, WorkloadState { observed_current: false, ..state(2, 2) });
    let status = compute_observation(None, &obs, at(0));
    assert_eq!(sr(&status, types::READY), ("False", "RollingOut"));
    assert_eq!(sr(&status, types::RECONCILING), ("True", "RollingOut"));
}

#[test]
fn waiting_for_replicas_is_reconciling() {
    let mut obs = healthy();
    set_workload(&mut obs, Component::Worker, state(2, 0));
    let status = compute_observation(None, &obs, at(0));
    assert_eq!(
        kstatus(&status),
        [("False", "ComponentsUnavailable"), ("True", "ComponentsUnavailable"), ("False", "NotStalled")]
    );
}

#[test]
fn a_dependency_down_is_reconciling_not_stalled() {
    // An outage outside the XAgent may end on its own: wait, do not give up.
    let status = compute_observation(None, &with_deps(Some(false), false), at(0));
    assert_eq!(
        kstatus(&status),
        [("False", "DependencyUnavailable"), ("True", "DependencyUnavailable"), ("False", "NotStalled")]
    );
    assert_eq!(sr(&status, types::DEGRADED), ("False", "AsExpected"));
}

#[test]
fn a_transient_failure_keeps_reconciling_and_says_it_retries() {
    let status = compute_observation(None, &failing(true), at(0));
    assert_eq!(
        kstatus(&status),
        [("False", "ApplyFailed"), ("True", "ApplyFailed"), ("False", "NotStalled")]
    );
    assert_eq!(sr(&status, types::DEGRADED), ("True", "ApplyFailed"));
    let ready = condition(&status, types::READY);
    assert!(ready.message.contains("boom") && ready.message.contains("retrying"), "{}", ready.message);
}

#[test]
fn a_refusal_retrying_cannot_cure_stalls() {
    let status = compute_observation(None, &failing(false), at(0));
    assert_eq!(
        kstatus(&status),
        [("False", "ChildRejected"), ("False", "Stalled"), ("True", "ChildRejected")]
    );
    assert_eq!(sr(&status, types::DEGRADED), ("True", "ChildRejected"));
    assert!(condition(&status, types::STALLED).message.contains("Service/demo-api"));
}

#[test]
fn a_rollout_given_up_on_stalls_and_names_the_component() {
    let mut obs = healthy();
    set_workload(&mut obs, Component::Api, WorkloadState { deadline_exceeded: true, ..state(3, 0) });
    let status = compute_observation(None, &obs, at(0));
    assert_eq!(
        kstatus(&status),
        [("False", "ProgressDeadlineExceeded"), ("False", "Stalled"), ("True", "ProgressDeadlineExceeded")]
    );
    let stalled = condition(&status, types::STALLED);
    assert!(
        stalled.message.contains("api") && stalled.message.contains("crash-looping"),
        "{}",
        stalled.message
    );
}

#[test]
fn every_stalling_cause_is_in_the_message_and_the_first_names_the_reason() {
    let mut obs = failing(false);
    set_workload(&mut obs, Component::Worker, WorkloadState { deadline_exceeded: true, ..state(2, 0) });
    let status = compute_observation(None, &obs, at(0));
    let stalled = condition(&status, types::STALLED);
    assert_eq!(stalled.reason, "ChildRejected");
    assert!(stalled.message.contains("boom") && stalled.message.contains("worker"), "{}", stalled.message);
}

#[test]
fn an_invalid_spec_stalls() {
    let status =
        compute_observation(None, &Observation { invalid_spec: Some("bad".into()), ..healthy() }, at(0));
    assert_eq!(kstatus(&status), [("False", "InvalidSpec"), ("False", "Stalled"), ("True", "InvalidSpec")]);
}

#[test]
fn reconciling_and_stalled_are_never_both_true_and_ready_means_both_false() {
    let mut deadline = healthy();
    set_workload(&mut deadline, Component::Api, WorkloadState { deadline_exceeded: true, ..state(3, 0) });
    let mut short = healthy();
    set_workload(&mut short, Component::Api, state(3, 1));
    let scenarios = [
        healthy(),
        short,
        deadline,
        failing(true),
        failing(false),
        with_deps(Some(false), true),
        with_deps(Some(true), true),
        Observation { invalid_spec: Some("bad".into()), ..healthy() },
    ];
    for obs in &scenarios {
        let status = compute_observation(None, obs, at(0));
        let [ready, reconciling, stalled] = kstatus(&status).map(|(s, _)| s == "True");
        assert!(!(reconciling && stalled), "{:?}", kstatus(&status));
        assert_eq!(ready, !reconciling && !stalled, "{:?}", kstatus(&status));
    }
}

#[test]
fn the_summary_and_the_kstatus_pair_come_first() {
    let status = compute_observation(None, &with_deps(Some(true), false), at(0));
    let order: Vec<&str> = status.conditions.iter().map(|c| c.type_.as_str()).take(3).collect();
    assert_eq!(order, [types::READY, types::RECONCILING, types::STALLED]);
}

#[test]
fn the_typed_entry_point_reads_what_was_applied_and_what_was_observed() {
    let view = healthy();
    let monitoring = MonitoringObservation { wanted: true, installed: false, routing_missing: false };
    let applied = Applied {
        children: view.children.clone(),
        pruned: Vec::new(),
        monitoring,
        storage: view.storage.clone(),
        first_failure: None,
    };
    let observed =
        Observed { generation: view.generation, dependencies: view.dependencies.clone(), retry: None };
    let from_applied = compute(None, Converged::Applied(&applied), &observed, at(0));
    let expected = compute_observation(None, &Observation { monitoring: Some(monitoring), ..view }, at(0));
    assert_eq!(from_applied, expected);
    assert_eq!(condition(&from_applied, types::MONITORING_READY).reason, "PrometheusOperatorNotInstalled");

    let invalid = compute(None, Converged::Invalid("min > max"), &observed, at(0));
    let expected = compute_observation(
        None,
        &Observation { invalid_spec: Some("min > max".into()), ..healthy() },
        at(0),
    );
    assert_eq!(invalid.conditions, expected.conditions);
    assert_eq!(condition(&invalid, types::READY).reason, "InvalidSpec");
    assert!(invalid.components.api.is_none(), "nothing applied, nothing reported");
}

#[test]
fn storage_ready_reports_the_claims_without_holding_ready_back() {
    let report = crate::controller::storage::StorageReport {
        ready: false,
        reason: "ExpansionNotSupported",
        message: "cannot grow to 20Gi".into(),
    };
    let obs = Observation { storage: Some(report), ..healthy() };
    let status = compute_observation(None, &obs, at(0));
    assert_eq!(sr(&status, types::STORAGE_READY), ("False", "ExpansionNotSupported"));
    assert_eq!(condition(&status, types::STORAGE_READY).message, "cannot grow to 20Gi");
    assert_eq!(sr(&status, types::READY).0, "True", "ChromaDB keeps running on its current volumes");
    let status = compute_observation(None, &healthy(), at(0));
    assert!(status.conditions.iter().all(|c| c.type_ != types::STORAGE_READY), "only with ChromaDB");
}

#[test]
fn each_failed_attempt_is_a_new_verdict_and_its_due_time_a_detail() {
    let retry = |attempts: i32, second: i64| RetryStatus {
        failed_attempts: attempts,
        next_attempt_time: Time(at(second)),
    };
    let status = |retry: Option<RetryStatus>| XAgentStatus {
        observed_generation: Some(2),
        retry,
        ..XAgentStatus::default()
    };
    let second = verdict(&status(Some(retry(2, 10))));
    assert_ne!(verdict(&status(None)), second, "failing is news");
    assert_ne!(verdict(&status(Some(retry(3, 30)))), second, "another failed attempt is news");
    assert_eq!(verdict(&status(Some(retry(2, 11)))), second, "the due time alone is a detail");
}
