//! The reconciler: spec → validate → build desired state → apply → observe → status.

pub mod apply;
pub mod cache;
pub mod crds;
pub mod diff;
pub mod entry;
pub mod lean;
pub mod notices;
pub mod owned;
pub mod prints;
pub mod recorder;
pub mod retry;
pub mod run;
pub mod status;
pub mod storage;
pub mod stores;
pub mod uid;
pub mod wakes;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{Timestamp, Unit};
use kube::api::{Patch, PatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Reporter};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use tracing::{debug, info, warn};

use self::apply::{Applied, ChildReport, MonitoringObservation, Outcome, Owner};
use self::crds::MonitoringCrds;
use self::recorder::Recorder;
use self::status::{Converged, DependencyObservation, Observed};
use self::stores::Stores;
use crate::builders::meta::MANAGER;
use crate::builders::{self, Child, ChildKind, ChildRef, Component, Desired};
use crate::crd::{RetryStatus, XAgent, XAgentStatus};
use crate::error::{Error, Result};
use crate::metrics::{AppliedLabels, ErrorLabels, Metrics, OutcomeLabels};
use crate::probes::state::ProbeState;
use crate::validate::{self, ValidXAgent};

/// How often a healthy XAgent is re-checked even without watch events.
pub const RESYNC: Duration = Duration::from_secs(300);

/// Everything a reconcile needs, shared across reconciles.
pub struct Context {
    /// API client.
    pub client: Client,
    /// Caches of owned children.
    pub stores: Stores,
    /// Publishes Kubernetes events on real changes.
    pub recorder: Recorder,
    /// The backoff of every failing XAgent, held whatever triggers it.
    pub retries: retry::Schedule,
    /// The operator's metrics.
    pub metrics: Arc<Metrics>,
    /// Whether the Prometheus Operator CRDs are installed.
    pub crds: Arc<MonitoringCrds>,
    /// Dependency health published by the prober.
    pub probes: Arc<ProbeState>,
    /// The generation each XAgent (by uid) last passed validation at: the
    /// same spec is not validated again on every resync or child event.
    pub validated: Mutex<HashMap<String, Option<i64>>>,
    /// The fingerprints of each XAgent's desired children at its
    /// generation: children in place are judged without serializing them.
    pub prints: prints::Prints,
    /// The installation's settings the builders apply.
    pub settings: builders::Settings,
    /// The last status write of each XAgent (by uid): when, and its
    /// verdict, so changes of details that follow are written together
    /// ([`STATUS_DETAIL_DELAY`]).
    pub status_written: Mutex<HashMap<String, StatusWrite>>,
}

/// A status write the operator made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusWrite {
    /// When it was stored.
    pub at: Instant,
    /// [`status::verdict`] of what was stored.
    pub verdict: u64,
    /// Whether what was stored said a rollout is in progress
    /// ([`status::rolling_out`]).
    pub rolling: bool,
    /// A digest of the resourceVersion the write was conditional on: while
    /// the cached XAgent still has it, the cache has not brought the write
    /// back, and a write computed from it would be refused (409).
    pub over: u64,
}

/// How long after a status write a change of details only (replica counts,
/// messages; no condition flips and the same generation) waits before it is
/// written: a rollout's workload updates come one Deployment after another,
/// and are written as one. A new verdict is written at once.
pub const STATUS_DETAIL_DELAY: Duration = Duration::from_secs(30);

/// [`STATUS_DETAIL_DELAY`] while the last written status says a rollout is
/// in progress (`Progressing` True): its counts move with every pod the
/// workload controllers create, and the rollout's end flips `Progressing`,
/// which is written at once with the counts of that moment. Ten minutes is
/// the Deployment controller's default progress deadline: a rollout that
/// long without progress is declared failed, which is a flip too.
pub const STATUS_ROLLOUT_DETAIL_DELAY: Duration = Duration::from_secs(600);

/// How soon a status refused as stale (409), or not sent because the cache
/// has not brought back our own last write, is computed again: the newer
/// XAgent is in the cache by then, and status writes wake no reconcile.
const STALE_STATUS_RETRY: Duration = Duration::from_secs(1);

impl Context {
    /// A context over `client` and `stores`, reporting events as `xagent-operator`,
    /// with unregistered metrics and no Prometheus Operator CRDs until told otherwise.
    pub fn new(client: Client, stores: Stores) -> Self {
        // The pod's name tells replicas apart in `reportingInstance`; off
        // cluster, the host name does.
        let reporter = match std::env::var("POD_NAME") {
            Ok(pod) if !pod.is_empty() => Reporter { controller: MANAGER.into(), instance: Some(pod) },
            _ => Reporter::from(MANAGER),
        };
        let recorder = Recorder::new(client.clone(), reporter);
        Self {
            client,
            stores,
            recorder,
            retries: retry::Schedule::default(),
            metrics: Arc::new(Metrics::unregistered()),
            crds: Arc::new(MonitoringCrds::default()),
            probes: Arc::new(ProbeState::default()),
            validated: Mutex::default(),
            prints: prints::Prints::default(),
            settings: builders::Settings::default(),
            status_written: Mutex::default(),
        }
    }

    /// Builds children under `settings`.
    pub fn with_settings(mut self, settings: builders::Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Reads dependency health from `probes`.
    pub fn with_probes(mut self, probes: Arc<ProbeState>) -> Self {
        self.probes = probes;
        self
    }

    /// Uses `metrics` for this context.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Uses `crds` to know whether the monitoring objects can be applied.
    pub fn with_crds(mut self, crds: Arc<MonitoringCrds>) -> Self {
        self.crds = crds;
        self
    }

    /// Validates `xagent` unless this uid passed at this generation before.
    fn validate<'x>(
        &self,
        xagent: &'x XAgent,
        uid: &str,
    ) -> Result<ValidXAgent<'x>, validate::InvalidXAgent> {
        let generation = xagent.meta().generation;
        let mut validated = self.validated();
        if validated.get(uid) == Some(&generation) {
            return Ok(ValidXAgent::already_validated(xagent));
        }
        let valid = validate::revalidate(xagent)?;
        validated.insert(uid.to_string(), generation);
        Ok(valid)
    }

    /// Drops what is kept per XAgent (retry schedule, validation memo) for
    /// XAgents no longer in `live`: an XAgent deleted without a finalizer
    /// never reaches reconcile again to clean up after itself.
    pub fn forget_gone(&self, live: &[Arc<XAgent>]) {
        let keys: std::collections::HashSet<String> = live.iter().map(|x| key(x)).collect();
        let uids: std::collections::HashSet<String> = live.iter().filter_map(|x| x.uid()).collect();
        self.retries.retain(|k| keys.contains(k));
        self.validated().retain(|uid, _| uids.contains(uid));
        self.prints.retain(&uids);
        self.status_written().retain(|uid, _| uids.contains(uid));
        self.stores.absent.retain_owners(&uids);
        self.metrics.set_tracked("retries", self.retries.len());
        self.metrics.set_tracked("validations", self.validated_len());
        self.metrics.set_tracked("fingerprints", self.prints.len());
        self.metrics.set_tracked("status_writes", self.status_written().len());
        self.metrics.set_tracked("probe_results", self.probes.len());
        self.metrics.set_tracked("watched_absent", self.stores.absent.len());
    }

    /// How many XAgents the validation memo remembers.
    pub fn validated_len(&self) -> usize {
        self.validated().len()
    }

    fn validated(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<i64>>> {
        self.validated.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn status_written(&self) -> std::sync::MutexGuard<'_, HashMap<String, StatusWrite>> {
        self.status_written.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long a status with `verdict` for `uid` must still wait: only a
    /// change of details, within [`STATUS_DETAIL_DELAY`] of the last write.
    /// The last write, not the cached status, says what was written: the
    /// cache may not have brought it back yet.
    fn held_back(&self, uid: &str, verdict: u64, now: Instant) -> Option<Duration> {
        let last = *self.status_written().get(uid)?;
        if last.verdict != verdict {
            return None;
        }
        let delay = if last.rolling { STATUS_ROLLOUT_DETAIL_DELAY } else { STATUS_DETAIL_DELAY };
        delay.checked_sub(now.duration_since(last.at)).filter(|wait| !wait.is_zero())
    }

    /// Whether the XAgent `uid`, as cached at the resourceVersion of digest
    /// `version`, predates this operator's last status write of it: it still
    /// has the version that write replaced. A write from it is bound to be
    /// refused as stale, so it is not sent.
    fn behind_own_write(&self, uid: &str, version: u64) -> bool {
        self.status_written().get(uid).is_some_and(|last| last.over == version)
    }
}

fn key(xagent: &XAgent) -> String {
    format!("{}/{}", xagent.namespace().unwrap_or_default(), xagent.name_any())
}

/// The longest one reconcile may take: a hung API response fails it (and
/// it is retried with backoff) instead of holding the XAgent forever.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// One reconcile of one XAgent, timed and counted. The span puts the
/// XAgent's namespace and name on every log line. An XAgent whose last
/// reconcile failed waits for its retry, whatever woke it, unless its spec
/// changed.
#[tracing::instrument(skip_all, fields(namespace = %xagent.namespace().unwrap_or_default(), name = %xagent.name_any()))]
pub async fn reconcile(xagent: Arc<XAgent>, ctx: Arc<Context>) -> Result<Action> {
    if let Some(wait) = ctx.retries.waiting(&key(&xagent), xagent.meta().generation, Instant::now()) {
        debug!(retry_in_ms = wait.as_millis() as u64, "backing off");
        ctx.metrics.reconciles.get_or_create(&OutcomeLabels { outcome: "backoff" }).inc();
        return Ok(Action::requeue(wait));
    }
    let started = Instant::now();
    let result = tokio::time::timeout(DEADLINE, reconcile_inner(&xagent, &ctx))
        .await
        .unwrap_or(Err(Error::Timeout(DEADLINE)));
    let outcome = OutcomeLabels { outcome: if result.is_ok() { "success" } else { "error" } };
    ctx.metrics.reconciles.get_or_create(&outcome).inc();
    ctx.metrics.reconcile_duration.get_or_create(&outcome).observe(started.elapsed().as_secs_f64());
    result
}

async fn reconcile_inner(xagent: &XAgent, ctx: &Context) -> Result<Action> {
    if xagent.meta().deletion_timestamp.is_some() {
        // Owner references let the garbage collector remove the children.
        if let Some(uid) = xagent.uid() {
            ctx.validated().remove(&uid);
            ctx.prints.forget(&uid);
            ctx.status_written().remove(&uid);
        }
        return Ok(Action::await_change());
    }
    let namespace = xagent.namespace().ok_or(Error::MissingMetadata("namespace"))?;
    let uid = xagent.uid().ok_or(Error::MissingMetadata("uid"))?;
    let owner = Owner { namespace: &namespace, uid: &uid };
    let dependencies = DependencyObservation {
        redis_configured: xagent.spec.redis.is_some(),
        postgres_configured: xagent.spec.postgres.is_some(),
        published: ctx.probes.published(&namespace, &xagent.name_any()),
    };
    let generation = xagent.meta().generation;
    let mut observed = Observed { generation, dependencies, retry: None };
    let valid = match ctx.validate(xagent, &uid) {
        Ok(valid) => valid,
        Err(invalid) => {
            warn!(error = %invalid, "XAgent spec is invalid; children left untouched");
            let again =
                write_status(ctx, xagent, Converged::Invalid(&invalid.to_string()), &observed).await?;
            // Nothing to retry: the next attempt is a new generation.
            ctx.retries.clear(&key(xagent));
            return Ok(Action::requeue(again.unwrap_or(RESYNC)));
        }
    };
    let applied = converge(ctx, owner, valid).await?;
    count_applied(ctx, &applied);
    publish_changes(ctx, xagent, &applied).await;
    announce(ctx, xagent, refused_annotations(&ctx.settings, xagent, &applied)).await;
    let Some(error) = &applied.first_failure else {
        let again = write_status(ctx, xagent, Converged::Applied(&applied), &observed).await?;
        ctx.retries.clear(&key(xagent));
        let settling = applied.storage.as_ref().is_some_and(storage::StorageReport::settling);
        let next = if settling { storage::RECHECK } else { RESYNC };
        return Ok(Action::requeue(again.map_or(next, |again| again.min(next))));
    };
    if error.is_namespace_terminating() {
        // Nothing can be created there again; the namespace controller
        // deletes this XAgent next. Touch it only if its spec changes.
        info!("namespace is being deleted; leaving the XAgent alone");
        ctx.retries.hold(&key(xagent), generation, Instant::now(), RESYNC);
        return Ok(Action::await_change());
    }
    let retry = ctx.retries.failed(&key(xagent), generation, Instant::now());
    observed.retry = Some(retry_status(&retry));
    write_status(ctx, xagent, Converged::Applied(&applied), &observed).await?;
    // Reported in status above; returned so the error policy counts it.
    Err(applied.first_failure.expect("checked above"))
}

/// The retry as the status shows it.
fn retry_status(retry: &retry::Retry) -> RetryStatus {
    let due = Timestamp::now() + retry.delay;
    RetryStatus {
        failed_attempts: i32::try_from(retry.attempts).unwrap_or(i32::MAX),
        next_attempt_time: Time(due.round(Unit::Second).unwrap_or(due)),
    }
}

/// Build → apply → prune. Takes a [`ValidXAgent`]: nothing unvalidated is
/// ever applied, so a bad spec can never touch or delete running children.
async fn converge(ctx: &Context, owner: Owner<'_>, valid: ValidXAgent<'_>) -> Result<Applied> {
    let xagent = valid.xagent();
    let desired = builders::desired_with(xagent, &ctx.settings);
    let prints = ctx.prints.of(owner.uid, xagent.meta().generation, desired.len(), || {
        desired.iter().map(|d| apply::fingerprint_of(&d.child)).collect()
    });
    // Without the Prometheus Operator CRDs the monitoring objects cannot
    // exist; everything else goes ahead.
    let mut applicable: Vec<Stamped<'_>> =
        desired.iter().zip(prints.iter().copied()).filter(|(d, _)| ctx.crds.serves(d.child.kind())).collect();
    let refusal = chromadb_refusal(ctx, owner, xagent).await?;
    if refusal.is_some() {
        applicable.retain(|(d, _)| d.child.kind() != ChildKind::StatefulSet);
    }
    let (mut children, first_failure) = apply_all(ctx, owner, &applicable, xagent.status.is_none()).await;
    let storage = match refusal {
        Some(why) => {
            children.extend(held_statefulset(xagent, &why));
            Some(storage::refused(why))
        }
        None if xagent.spec.chromadb.enabled => match storage::still_sized(xagent) {
            Some(report) => Some(report),
            None => Some(storage::grow(&ctx.client, owner.namespace, owner.uid, xagent).await?),
        },
        None => None,
    };
    let wanted: Vec<ChildRef> = desired.iter().map(|d| d.child.reference()).collect();
    let pruned =
        apply::prune(&ctx.client, &ctx.stores, owner, &wanted, &xagent.name_any(), &ctx.crds).await?;
    let monitoring = MonitoringObservation {
        wanted: monitoring_wanted(xagent),
        installed: ctx.crds.installed(),
        routing_missing: xagent.spec.monitoring.alertmanager_config.is_some()
            && !ctx.crds.routing_installed(),
    };
    Ok(Applied { children, pruned, monitoring, storage, first_failure })
}

/// Why ChromaDB's StatefulSet must not be created, checked only while it
/// does not exist: a claim it would mount was left by an earlier XAgent.
async fn chromadb_refusal(ctx: &Context, owner: Owner<'_>, xagent: &XAgent) -> Result<Option<String>> {
    if !xagent.spec.chromadb.enabled {
        return Ok(None);
    }
    let name = Component::Chromadb.child_name(xagent);
    if ctx.stores.statefulsets.get(Some(owner.namespace), &name).is_some() {
        return Ok(None);
    }
    storage::refusal(&ctx.client, owner.namespace, owner.uid, xagent).await
}

/// The report of the StatefulSet held back for `why`: refused on the merits,
/// so the XAgent is Stalled until a person adopts or deletes the claims.
fn held_statefulset(xagent: &XAgent, why: &str) -> Option<(Component, ChildReport)> {
    let child = ChildRef { kind: ChildKind::StatefulSet, name: Component::Chromadb.child_name(xagent) };
    let outcome = Outcome::Failed { message: format!("{child} not created: {why}"), transient: false };
    Some((Component::Chromadb, ChildReport { child, outcome, workload: None }))
}

fn monitoring_wanted(xagent: &XAgent) -> bool {
    let m = &xagent.spec.monitoring;
    m.service_monitor.enabled || m.prometheus_rule.enabled
}

fn count_applied(ctx: &Context, applied: &Applied) {
    for (_, r) in &applied.children {
        let action = match r.outcome {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            _ => continue,
        };
        ctx.metrics
            .objects_applied
            .get_or_create(&AppliedLabels { kind: r.child.kind.as_str(), action })
            .inc();
    }
    for p in &applied.pruned {
        let labels = AppliedLabels { kind: p.kind.as_str(), action: "deleted" };
        ctx.metrics.objects_applied.get_or_create(&labels).inc();
    }
}

/// Ensures every child at once: they are independent objects, so a first
/// reconcile takes one round trip rather than one per child. An XAgent that
/// has a status already may be in a namespace being deleted, which would
/// refuse every write: its children are looked at one at a time until one
/// needs a request, which goes alone, and a refusal stops the rest. One child the API server refuses (e.g. an immutable field changed)
/// does not hold back the others: it is reported as failed, and the first
/// such error (in the order of `desired`) is returned beside the reports.
async fn apply_all(
    ctx: &Context,
    owner: Owner<'_>,
    desired: &[Stamped<'_>],
    fresh: bool,
) -> (Vec<(Component, ChildReport)>, Option<Error>) {
    let mut results = Vec::with_capacity(desired.len());
    let mut rest = desired;
    // One at a time until a child needed a request: children still in
    // place send nothing, and the first request tells whether the
    // namespace takes writes at all.
    while !fresh && let Some((first, others)) = rest.split_first() {
        let result = ensure_desired(ctx, owner, desired, first).await;
        let sent = !matches!(&result.2, Ok(report) if report.outcome == Outcome::Unchanged);
        let terminating = matches!(&result.2, Err(e) if e.is_namespace_terminating());
        results.push(result);
        rest = others;
        if terminating {
            return reports_of(results);
        }
        if sent {
            break;
        }
    }
    let others = rest.iter().map(|d| ensure_desired(ctx, owner, desired, d));
    results.extend(futures::future::join_all(others).await);
    reports_of(results)
}

/// The reports of ensured children, and the first error among them.
fn reports_of(
    results: Vec<(Component, &Child, Result<ChildReport>)>,
) -> (Vec<(Component, ChildReport)>, Option<Error>) {
    let mut reports = Vec::with_capacity(results.len());
    let mut first_failure = None;
    for (component, child, result) in results {
        let report = result.unwrap_or_else(|error| {
            warn!(error = %error, child = %child.reference(), "child not applied");
            let report = ChildReport {
                child: child.reference(),
                outcome: Outcome::Failed { message: error.to_string(), transient: error.is_transient() },
                workload: None,
            };
            first_failure.get_or_insert(error);
            report
        });
        reports.push((component, report));
    }
    (reports, first_failure)
}

/// A desired child and its fingerprint ([`apply::fingerprint_of`]).
type Stamped<'d> = (&'d Desired, u64);

/// [`apply::ensure`] of one of `desired`, with what it was about.
async fn ensure_desired<'d>(
    ctx: &Context,
    owner: Owner<'_>,
    desired: &[Stamped<'_>],
    &(d, print): &Stamped<'d>,
) -> (Component, &'d Child, Result<ChildReport>) {
    let initial = initial_replicas(desired, &d.child);
    (d.component, &d.child, apply::ensure(&ctx.client, &ctx.stores, owner, (&d.child, print), initial).await)
}

/// The replica count a new autoscaled Deployment starts at: the minimum of
/// the HPA in `desired` that scales it.
fn initial_replicas(desired: &[Stamped<'_>], child: &Child) -> Option<i32> {
    let Child::Deployment(deployment) = child else { return None };
    desired.iter().find_map(|(d, _)| match &d.child {
        Child::Hpa(hpa) => {
            let spec = hpa.spec.as_ref()?;
            (spec.scale_target_ref.name == deployment.name_any()).then_some(spec.min_replicas.unwrap_or(1))
        }
        _ => None,
    })
}

/// One event per kind of change, so a first reconcile makes one "Created"
/// event rather than a dozen. Conflicts are announced once, when they appear.
async fn publish_changes(ctx: &Context, xagent: &XAgent, applied: &Applied) {
    let (reports, pruned) = (&applied.children, &applied.pruned);
    let previous_conflicts = xagent.status.as_ref().map(|s| s.conflicts.clone()).unwrap_or_default();
    let pick = |want: &Outcome| -> Vec<String> {
        reports.iter().filter(|(_, r)| &r.outcome == want).map(|(_, r)| r.child.to_string()).collect()
    };
    let new_conflicts: Vec<String> = reports
        .iter()
        .filter_map(|(_, r)| match &r.outcome {
            Outcome::Conflict(msg) if !previous_conflicts.contains(msg) => Some(msg.clone()),
            _ => None,
        })
        .collect();
    let events = [
        (EventType::Normal, "Created", "created", pick(&Outcome::Created)),
        (EventType::Normal, "Updated", "applied", pick(&Outcome::Updated)),
        (
            EventType::Normal,
            "Deleted",
            "deleted, no longer in the spec:",
            pruned.iter().map(ToString::to_string).collect(),
        ),
        (EventType::Warning, "ChildConflict", "left alone:", new_conflicts),
    ];
    let notices = events
        .into_iter()
        .filter(|(_, _, _, items)| !items.is_empty())
        .map(|(type_, reason, verb, items)| notices::Notice {
            type_,
            reason,
            note: format!("{verb} {}", items.join(", ")),
        })
        .collect();
    announce(ctx, xagent, notices).await;
}

/// A warning, when the Ingress was just written, naming the annotations the
/// installation's policy kept off it: told once per change, not per resync.
fn refused_annotations(
    settings: &builders::Settings,
    xagent: &XAgent,
    applied: &Applied,
) -> Vec<notices::Notice> {
    let Some(ingress) = &xagent.spec.ingress else { return Vec::new() };
    let written = applied.children.iter().any(|(_, r)| {
        r.child.kind == builders::ChildKind::Ingress
            && matches!(r.outcome, Outcome::Created | Outcome::Updated)
    });
    let policy = &settings.ingress_annotations;
    let (_, refused) = policy.split(&ingress.annotations);
    if !written || refused.is_empty() {
        return Vec::new();
    }
    vec![notices::Notice {
        type_: EventType::Warning,
        reason: "IngressAnnotationsRefused",
        note: format!("not passed to the Ingress ({}): {}", policy.describe(), refused.join(", ")),
    }]
}

/// Event notes are limited to 1 kB by the API server.
fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max - 3;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

/// Writes status only when it differs from what is stored; a change of
/// details only, within [`STATUS_DETAIL_DELAY`] of the last write (or
/// [`STATUS_ROLLOUT_DETAIL_DELAY`] during a rollout), is held back.
/// Returns when to reconcile again to write what was held back (or
/// refused as stale), if anything was.
async fn write_status(
    ctx: &Context,
    xagent: &XAgent,
    converged: Converged<'_>,
    observed: &Observed,
) -> Result<Option<Duration>> {
    // Whole seconds: the API server stores no more, so a re-read compares equal.
    let now = Timestamp::now().round(Unit::Second).unwrap_or_else(|_| Timestamp::now());
    let next = status::compute(xagent.status.as_ref(), converged, observed, now);
    if !status::changed(xagent.status.as_ref(), &next) {
        return Ok(None);
    }
    let (uid, verdict) = (xagent.uid().unwrap_or_default(), status::verdict(&next));
    if let Some(wait) = ctx.held_back(&uid, verdict, Instant::now()) {
        debug!(wait_ms = wait.as_millis() as u64, "status details held back to be written with what follows");
        return Ok(Some(wait));
    }
    let over = crate::digest::fnv1a(&xagent.resource_version().unwrap_or_default());
    if ctx.behind_own_write(&uid, over) {
        debug!("status not written: the cached XAgent predates our last status write");
        return Ok(Some(STALE_STATUS_RETRY));
    }
    if !patch_status(&ctx.client, xagent, &next).await? {
        return Ok(Some(STALE_STATUS_RETRY));
    }
    let rolling = status::rolling_out(&next);
    ctx.status_written().insert(uid, StatusWrite { at: Instant::now(), verdict, rolling, over });
    // Only a status that was stored is announced: a refused write is
    // recomputed from the newer XAgent, which would announce it twice.
    announce(ctx, xagent, notices::transitions(xagent.status.as_ref(), &next)).await;
    Ok(None)
}

/// Publishes `notices` about `xagent`; a failure to publish is logged, never
/// a reason to fail the reconcile.
async fn announce(ctx: &Context, xagent: &XAgent, notices: Vec<notices::Notice>) {
    let reference = xagent.object_ref(&());
    for notice in notices {
        info!(reason = notice.reason, note = %notice.note, "publishing event");
        let event = Event {
            type_: notice.type_,
            reason: notice.reason.into(),
            note: Some(truncate(notice.note, 1000)),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&event, &reference).await {
            warn!(error = %e, "publishing event failed");
        }
    }
}

/// Writes `status`; `false` when the API server refused it because the
/// cached XAgent was stale.
async fn patch_status(client: &Client, xagent: &XAgent, status: &XAgentStatus) -> Result<bool> {
    let namespace = xagent.namespace().unwrap_or_default();
    // The resourceVersion makes the write conditional: status computed from
    // a cached XAgent older than the stored one (e.g. before our own last
    // write reached the cache) is refused instead of undoing newer status,
    // such as moving a condition's lastTransitionTime backwards.
    let body = json!({
        "apiVersion": XAgent::api_version(&()),
        "kind": XAgent::kind(&()),
        "metadata": {"resourceVersion": xagent.resource_version()},
        "status": status,
    });
    let request =
        status_request(&namespace, &xagent.name_any(), &Patch::Apply(body)).map_err(Error::WriteStatus)?;
    match client.request::<PartialObjectMeta<XAgent>>(request).await {
        Ok(_) => Ok(true),
        // The newer XAgent is on its way through the watch and will be reconciled.
        Err(kube::Error::Api(e)) if e.code == 409 => {
            debug!("status not written: the cached XAgent is stale");
            Ok(false)
        }
        Err(e) => Err(Error::WriteStatus(e)),
    }
}

/// The apply of `patch` to the status of XAgent `namespace/name`, answered
/// with the XAgent's metadata alone: the answer is never read, and the
/// whole object would be its spec and status again, sent and decoded for
/// nothing.
fn status_request(
    namespace: &str,
    name: &str,
    patch: &Patch<serde_json::Value>,
) -> kube::Result<hyper::Request<Vec<u8>>> {
    let url = XAgent::url_path(&(), Some(namespace));
    let params = PatchParams::apply(MANAGER).force();
    let mut request = kube::core::Request::new(url)
        .patch_subresource("status", name, &params, patch)
        .map_err(kube::Error::BuildRequest)?;
    request
        .headers_mut()
        .insert(hyper::header::ACCEPT, hyper::header::HeaderValue::from_static(METADATA_ONLY));
    request.extensions_mut().insert("patch_status");
    Ok(request)
}

/// The media type that asks the API server for an object's metadata alone.
const METADATA_ONLY: &str = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

/// Retries failed reconciles after 5 s, doubling per consecutive failure up
/// to 5 min, with jitter ([`retry`]).
pub fn error_policy(xagent: Arc<XAgent>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.reconcile_errors.get_or_create(&ErrorLabels { reason: error.reason() }).inc();
    let (key, generation, now) = (key(&xagent), xagent.meta().generation, Instant::now());
    // A failed apply scheduled its retry (and showed it in status) already;
    // any other failure is scheduled here.
    let delay = ctx
        .retries
        .waiting(&key, generation, now)
        .unwrap_or_else(|| ctx.retries.failed(&key, generation, now).delay);
    warn!(error = %error, reason = error.reason(), retry_in_s = delay.as_secs(), "reconcile failed");
    Action::requeue(delay)
}

#[cfg(test)]
mod tests;
