//! Pure status computation: observed children in, `XAgentStatus` out.
//!
//! Kept free of I/O so every condition rule is unit-tested, and so the
//! reconciler can compare the result with the stored status and skip the write
//! when nothing changed.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use super::apply::{Applied, ChildReport, MonitoringObservation, Outcome, WorkloadState};
use super::storage::StorageReport;
use crate::builders::{ChildKind, Component};
use crate::crd::{ComponentStatus, ComponentsStatus, RetryStatus, XAgentStatus};
use crate::probes::state::{Published, PublishedDependencies};

/// Condition types the core controller owns.
pub mod types {
    /// Everything is available and nothing is degraded.
    pub const READY: &str = "Ready";
    /// Every workload has its desired replicas ready.
    pub const AVAILABLE: &str = "Available";
    /// A rollout is under way.
    pub const PROGRESSING: &str = "Progressing";
    /// Something is wrong: stalled, or a child failing for now.
    pub const DEGRADED: &str = "Degraded";
    /// kstatus: not Ready yet, and working on it (rolling out, waiting for
    /// replicas or a dependency, retrying a failed request).
    pub const RECONCILING: &str = "Reconciling";
    /// kstatus: progress needs a person (invalid spec, conflict, a child the
    /// server refuses on the merits, a rollout given up on).
    pub const STALLED: &str = "Stalled";
    /// The ServiceMonitor and PrometheusRule are in place (or turned off).
    pub const MONITORING_READY: &str = "MonitoringReady";
    /// ChromaDB's claims have the requested size, and none was refused.
    pub const STORAGE_READY: &str = "StorageReady";
    /// The configured Redis answers the operator's probe.
    pub const REDIS_READY: &str = "RedisReady";
    /// The configured PostgreSQL answers the operator's probe.
    pub const POSTGRES_READY: &str = "PostgresReady";
}

/// Dependency health as the prober last published it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DependencyObservation {
    /// spec.redis is set.
    pub redis_configured: bool,
    /// spec.postgres is set.
    pub postgres_configured: bool,
    /// What the prober published; a configured dependency may not be probed yet.
    pub published: PublishedDependencies,
}

/// What a reconcile saw of the XAgent and its dependencies, whatever became
/// of its spec.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// metadata.generation of the XAgent.
    pub generation: Option<i64>,
    /// Dependency health.
    pub dependencies: DependencyObservation,
    /// The retry scheduled because this reconcile failed, if it did.
    pub retry: Option<RetryStatus>,
}

/// What became of the desired state.
#[derive(Debug, Clone, Copy)]
pub enum Converged<'a> {
    /// The spec was valid and applied (as far as the API server accepted it).
    Applied(&'a Applied),
    /// The spec was invalid, for this reason; nothing was applied or deleted.
    Invalid(&'a str),
}

/// Everything [`compute`] reads, in one flat view (and the form the unit
/// tests describe their scenarios in).
#[derive(Debug, Clone, Default)]
struct Observation {
    /// metadata.generation of the XAgent.
    pub generation: Option<i64>,
    /// One report per desired child; empty when the spec was invalid.
    pub children: Vec<(Component, ChildReport)>,
    /// Why the spec is invalid, when it is.
    pub invalid_spec: Option<String>,
    /// Monitoring state; `None` when the spec was invalid and nothing was tried.
    pub monitoring: Option<MonitoringObservation>,
    /// ChromaDB's claims; `None` without ChromaDB or with an invalid spec.
    pub storage: Option<StorageReport>,
    /// Dependency health, independent of the spec being valid.
    pub dependencies: DependencyObservation,
    /// The scheduled retry of a failed reconcile.
    pub retry: Option<RetryStatus>,
}

impl Observation {
    fn new(converged: Converged<'_>, observed: &Observed) -> Self {
        let (generation, dependencies, retry) =
            (observed.generation, observed.dependencies.clone(), observed.retry.clone());
        match converged {
            Converged::Applied(applied) => Self {
                generation,
                children: applied.children.clone(),
                invalid_spec: None,
                monitoring: Some(applied.monitoring),
                storage: applied.storage.clone(),
                dependencies,
                retry,
            },
            Converged::Invalid(why) => Self {
                generation,
                children: Vec::new(),
                invalid_spec: Some(why.to_string()),
                monitoring: None,
                storage: None,
                dependencies,
                retry,
            },
        }
    }
}

/// A condition value before timestamps are attached.
struct Cond {
    type_: &'static str,
    status: bool,
    /// Neither True nor False: not known yet.
    unknown: bool,
    reason: &'static str,
    message: String,
}

impl Cond {
    fn unknown(type_: &'static str, reason: &'static str, message: String) -> Self {
        Self { type_, status: false, unknown: true, reason, message }
    }

    fn status_str(&self) -> &'static str {
        match (self.unknown, self.status) {
            (true, _) => "Unknown",
            (false, true) => "True",
            (false, false) => "False",
        }
    }
}

/// Computes the new status from what was applied and what was observed.
/// Conditions whose status did not flip keep their `lastTransitionTime` from
/// `previous`, so a steady state yields an identical status.
pub fn compute(
    previous: Option<&XAgentStatus>,
    converged: Converged<'_>,
    observed: &Observed,
    now: Timestamp,
) -> XAgentStatus {
    compute_observation(previous, &Observation::new(converged, observed), now)
}

fn compute_observation(previous: Option<&XAgentStatus>, obs: &Observation, now: Timestamp) -> XAgentStatus {
    let components = components(obs);
    let conflicts: Vec<String> = obs
        .children
        .iter()
        .filter_map(|(_, r)| match &r.outcome {
            Outcome::Conflict(msg) => Some(msg.clone()),
            _ => None,
        })
        .collect();
    let conds = conditions(obs, &conflicts);
    let old = previous.map(|p| p.conditions.as_slice()).unwrap_or_default();
    XAgentStatus {
        observed_generation: obs.generation,
        conditions: conds.into_iter().map(|c| stamp(c, old, obs.generation, now)).collect(),
        components,
        dependencies: obs.dependencies.published.status(),
        conflicts,
        retry: obs.retry.clone(),
    }
}

fn components(obs: &Observation) -> ComponentsStatus {
    let find = |component: Component| {
        obs.children
            .iter()
            .filter(|(c, _)| *c == component)
            .find_map(|(_, r)| r.workload)
            .map(|w| ComponentStatus::new(w.desired, w.ready, w.updated))
    };
    ComponentsStatus {
        api: find(Component::Api),
        websocket: find(Component::Websocket),
        worker: find(Component::Worker),
        chromadb: find(Component::Chromadb),
    }
}

fn conditions(obs: &Observation, conflicts: &[String]) -> Vec<Cond> {
    if let Some(why) = &obs.invalid_spec {
        let mut conds = invalid(why);
        conds.extend(dependency_conditions(&obs.dependencies).into_iter().map(|(c, _)| c));
        return conds;
    }
    let workloads: Vec<(Component, Option<WorkloadState>)> = obs
        .children
        .iter()
        .filter(|(_, r)| matches!(r.child.kind, ChildKind::Deployment | ChildKind::StatefulSet))
        .map(|(c, r)| (*c, r.workload))
        .collect();
    let names = |keep: &dyn Fn(Option<WorkloadState>) -> bool| -> Vec<&'static str> {
        workloads.iter().filter(|(_, w)| keep(*w)).map(|(c, _)| c.as_str()).collect()
    };
    let unavailable = names(&|w| !w.is_some_and(|w| w.ready >= w.desired && w.updated >= w.desired));
    let rolling = names(&|w| !w.is_some_and(|w| w.observed_current && w.updated >= w.desired));
    let given_up = names(&|w| w.is_some_and(|w| w.deadline_exceeded));
    let available = availability(&unavailable);
    let progressing = progress(&rolling);
    let trouble = Trouble::of(&obs.children, conflicts, &given_up);
    let stalled = trouble.stalled();
    let deps = dependency_conditions(&obs.dependencies);
    let ready = readiness(&available, &progressing, &trouble, &stalled, &deps);
    // Reconciling is False whenever Stalled is True: kstatus acts on the
    // first of the two that is True.
    let reconciling = if !ready.status && !stalled.status {
        cond(types::RECONCILING, true, ready.reason, ready.message.clone())
    } else {
        reconciled(&stalled)
    };
    let degraded = trouble.degraded(&stalled);
    // The summary and the kstatus pair first: `kubectl describe` shows them so.
    let mut conds = vec![ready, reconciling, stalled, available, progressing, degraded];
    conds.extend(obs.monitoring.map(|m| monitoring(m, &obs.children)));
    // Like MonitoringReady it does not feed Ready: ChromaDB runs on its
    // current volumes. A refused claim holds the StatefulSet back, which does.
    conds.extend(
        obs.storage.as_ref().map(|s| cond(types::STORAGE_READY, s.ready, s.reason, s.message.clone())),
    );
    conds.extend(deps.into_iter().map(|(c, _)| c));
    conds
}

/// `Reconciling` False: done, or stalled and waiting for a person.
fn reconciled(stalled: &Cond) -> Cond {
    if stalled.status {
        let message = format!("not retrying on its own, a change is needed: {}", stalled.message);
        cond(types::RECONCILING, false, "Stalled", message)
    } else {
        cond(types::RECONCILING, false, "ReconcileComplete", "the observed state matches the spec".into())
    }
}

/// What is wrong with the children, sorted by whether retrying can cure it.
struct Trouble {
    /// Refusals a retry cannot cure (400, 403, 404, 422, ...).
    rejected: Vec<String>,
    /// Failures a retry may cure (409, 429, 5xx, timeouts).
    transient: Vec<String>,
    /// Names taken by objects this XAgent does not control.
    conflicts: Vec<String>,
    /// Components whose rollout the Deployment controller gave up on.
    given_up: Vec<&'static str>,
}

impl Trouble {
    fn of(children: &[(Component, ChildReport)], conflicts: &[String], given_up: &[&'static str]) -> Self {
        let failed = |want_transient: bool| -> Vec<String> {
            children
                .iter()
                .filter_map(|(_, r)| match &r.outcome {
                    Outcome::Failed { message, transient } if *transient == want_transient => {
                        Some(message.clone())
                    }
                    _ => None,
                })
                .collect()
        };
        Self {
            rejected: failed(false),
            transient: failed(true),
            conflicts: conflicts.to_vec(),
            given_up: given_up.to_vec(),
        }
    }

    /// `Stalled`: True only for what will not fix itself without a person.
    fn stalled(&self) -> Cond {
        let deadline = (!self.given_up.is_empty()).then(|| {
            format!(
                "no rollout progress within the progress deadline: {} (pods not becoming ready: crash-looping, failing probes or unschedulable)",
                self.given_up.join(", ")
            )
        });
        let found = [
            ("ChildRejected", (!self.rejected.is_empty()).then(|| self.rejected.join("; "))),
            ("ChildConflict", (!self.conflicts.is_empty()).then(|| self.conflicts.join("; "))),
            ("ProgressDeadlineExceeded", deadline),
        ];
        let present: Vec<(&'static str, String)> =
            found.into_iter().filter_map(|(reason, message)| Some((reason, message?))).collect();
        match present.first() {
            Some((reason, _)) => {
                let messages: Vec<&str> = present.iter().map(|(_, m)| m.as_str()).collect();
                cond(types::STALLED, true, reason, messages.join("; "))
            }
            None => cond(types::STALLED, false, "NotStalled", "nothing waits for a person".into()),
        }
    }

    /// `Degraded`: stalled, or a child failing for now.
    fn degraded(&self, stalled: &Cond) -> Cond {
        if stalled.status {
            cond(types::DEGRADED, true, stalled.reason, stalled.message.clone())
        } else if !self.transient.is_empty() {
            cond(types::DEGRADED, true, "ApplyFailed", self.retrying())
        } else {
            cond(types::DEGRADED, false, "AsExpected", "no problems found".into())
        }
    }

    fn retrying(&self) -> String {
        format!("{}; retrying with backoff", self.transient.join("; "))
    }
}

/// RedisReady / PostgresReady for the configured dependencies, each with
/// whether it is known to be down (not yet probed is not down). The reason is
/// the probe's: ProbeSucceeded, or why it failed.
fn dependency_conditions(d: &DependencyObservation) -> Vec<(Cond, bool)> {
    let one = |type_, configured: bool, published: &Option<Published>| {
        configured.then(|| match published {
            None => (Cond::unknown(type_, "Probing", "waiting for the first probe".into()), false),
            Some(p) => (cond(type_, p.record.healthy, p.reason, p.record.message.clone()), !p.record.healthy),
        })
    };
    [
        one(types::REDIS_READY, d.redis_configured, &d.published.redis),
        one(types::POSTGRES_READY, d.postgres_configured, &d.published.postgres),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// MonitoringReady does not feed Ready: the platform runs fine without the
/// Prometheus Operator, it is just not watched.
fn monitoring(m: MonitoringObservation, children: &[(Component, ChildReport)]) -> Cond {
    let conflicts: Vec<&str> = children
        .iter()
        .filter(|(_, r)| r.child.kind.is_monitoring())
        .filter_map(|(_, r)| match &r.outcome {
            Outcome::Conflict(msg) => Some(msg.as_str()),
            _ => None,
        })
        .collect();
    if !m.wanted {
        cond(
            types::MONITORING_READY,
            true,
            "MonitoringDisabled",
            "ServiceMonitor and PrometheusRule are turned off".into(),
        )
    } else if !m.installed {
        let msg = "the monitoring.coreos.com CRDs (Prometheus Operator) are not installed; ServiceMonitor and PrometheusRule are skipped until they are";
        cond(types::MONITORING_READY, false, "PrometheusOperatorNotInstalled", msg.into())
    } else if !conflicts.is_empty() {
        cond(types::MONITORING_READY, false, "ChildConflict", conflicts.join("; "))
    } else if m.routing_missing {
        let msg = "spec.monitoring.alertmanagerConfig is set but the AlertmanagerConfig CRD (monitoring.coreos.com/v1alpha1) is not installed; it is skipped until it is";
        cond(types::MONITORING_READY, false, "AlertmanagerConfigNotInstalled", msg.into())
    } else {
        cond(types::MONITORING_READY, true, "Applied", "ServiceMonitor and PrometheusRule are applied".into())
    }
}

fn invalid(why: &str) -> Vec<Cond> {
    let message = format!("spec is invalid, children left as they were: {why}");
    let stalled = cond(types::STALLED, true, "InvalidSpec", message.clone());
    vec![
        cond(types::READY, false, "InvalidSpec", message.clone()),
        reconciled(&stalled),
        stalled,
        cond(types::AVAILABLE, false, "InvalidSpec", message.clone()),
        cond(types::PROGRESSING, false, "InvalidSpec", message.clone()),
        cond(types::DEGRADED, true, "InvalidSpec", message),
    ]
}

fn cond(type_: &'static str, status: bool, reason: &'static str, message: String) -> Cond {
    Cond { type_, status, unknown: false, reason, message }
}

fn availability(unavailable: &[&str]) -> Cond {
    if unavailable.is_empty() {
        cond(
            types::AVAILABLE,
            true,
            "AllComponentsAvailable",
            "every component has its desired replicas ready".into(),
        )
    } else {
        let list = unavailable.join(", ");
        cond(types::AVAILABLE, false, "ComponentsUnavailable", format!("waiting for ready replicas: {list}"))
    }
}

fn progress(rolling: &[&str]) -> Cond {
    if rolling.is_empty() {
        cond(types::PROGRESSING, false, "RolloutComplete", "every component runs its current template".into())
    } else {
        let list = rolling.join(", ");
        cond(types::PROGRESSING, true, "RollingOut", format!("rolling out: {list}"))
    }
}

/// `Ready`, the summary: the first of stalled, failing, a dependency
/// down, rolling out, short of ready replicas; else True.
fn readiness(
    available: &Cond,
    progressing: &Cond,
    trouble: &Trouble,
    stalled: &Cond,
    deps: &[(Cond, bool)],
) -> Cond {
    let down: Vec<String> = deps.iter().filter(|(_, down)| *down).map(|(c, _)| c.message.clone()).collect();
    if stalled.status {
        cond(types::READY, false, stalled.reason, stalled.message.clone())
    } else if !trouble.transient.is_empty() {
        cond(types::READY, false, "ApplyFailed", trouble.retrying())
    } else if !down.is_empty() {
        let names: Vec<&str> =
            deps.iter().filter(|(_, d)| *d).map(|(c, _)| dependency_name(c.type_)).collect();
        let message = format!("{} unavailable: {}", names.join(" and "), down.join("; "));
        cond(types::READY, false, "DependencyUnavailable", message)
    } else if progressing.status {
        cond(types::READY, false, progressing.reason, progressing.message.clone())
    } else if !available.status {
        cond(types::READY, false, available.reason, available.message.clone())
    } else {
        cond(types::READY, true, "Ready", "all components are available".into())
    }
}

fn dependency_name(condition_type: &str) -> &'static str {
    if condition_type == types::REDIS_READY { "Redis" } else { "PostgreSQL" }
}

fn stamp(c: Cond, old: &[Condition], generation: Option<i64>, now: Timestamp) -> Condition {
    let status = c.status_str();
    let last_transition_time = old
        .iter()
        .find(|o| o.type_ == c.type_ && o.status == status)
        .map(|o| o.last_transition_time.clone())
        .unwrap_or(Time(now));
    Condition {
        type_: c.type_.into(),
        status: status.into(),
        reason: c.reason.into(),
        message: c.message,
        observed_generation: generation,
        last_transition_time,
    }
}

/// A digest of what a status says rather than how it details it: the
/// generation it describes, each condition's type and status, and the
/// count of failed attempts. A change of the verdict is written at once; a
/// change of details only (replica counts, messages) may wait to be written
/// with what follows. Each failed attempt is news (its next attempt time
/// would otherwise be shown in the past), and backoff bounds how often it
/// comes.
pub fn verdict(status: &XAgentStatus) -> u64 {
    let mut text = format!("{:?}", status.observed_generation);
    for c in &status.conditions {
        text.push_str(&format!("|{}={}", c.type_, c.status));
    }
    if let Some(retry) = &status.retry {
        text.push_str(&format!("|retry={}", retry.failed_attempts));
    }
    crate::digest::fnv1a(&text)
}

/// Whether `status` says a rollout is in progress: `Progressing` True.
pub fn rolling_out(status: &XAgentStatus) -> bool {
    status.conditions.iter().any(|c| c.type_ == types::PROGRESSING && c.status == "True")
}

/// Whether a status write is needed.
pub fn changed(previous: Option<&XAgentStatus>, next: &XAgentStatus) -> bool {
    previous != Some(next)
}

#[cfg(test)]
mod tests;
