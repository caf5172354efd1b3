//! Server-side apply of desired children, with the ownership and drift checks
//! that decide whether a request is needed at all.

use std::fmt::Debug;

use super::cache::Cache;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::core::PartialObjectMeta;
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::diff::contains;
use super::entry::Entry;
use super::lean::{Decode, Lean};
use super::owned::OwnedIndex;
use super::stores::{self, AppliedMemo, Cacheable, Stores, Written};
use super::uid::Uid;
use crate::builders::meta::MANAGER;
use crate::builders::{Child, ChildKind, ChildRef, Component};
use crate::digest;
use crate::error::{Error, Result};

/// What the typed apply, read and delete helpers need of a child kind.
pub trait ChildObject:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + DeserializeOwned
    + Decode
    + 'static
{
}

impl<K> ChildObject for K where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + DeserializeOwned
        + Decode
        + 'static
{
}

/// What happened to one child during a reconcile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The observed object already matched: no request was sent.
    Unchanged,
    /// The object did not exist and was created.
    Created,
    /// The object had drifted (or the spec changed) and was re-applied.
    Updated,
    /// An object of that name exists but is not controlled by this XAgent; it was left alone.
    Conflict(String),
    /// Reading or applying the child failed: the error, for status, and
    /// whether a retry can cure it (see [`Error::is_transient`]).
    Failed {
        /// The error, as status and events show it.
        message: String,
        /// Whether a retry can cure it.
        transient: bool,
    },
}

/// Observed replica counts of a workload, read from the applied or cached object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct WorkloadState {
    /// spec.replicas (as the HPA or the operator set it).
    pub desired: i32,
    /// status.readyReplicas.
    pub ready: i32,
    /// status.updatedReplicas.
    pub updated: i32,
    /// Whether the workload controller has seen the latest spec.
    pub observed_current: bool,
    /// The Deployment controller gave up waiting for progress
    /// (`Progressing` False, `ProgressDeadlineExceeded`): e.g. crash-looping
    /// pods. Retrying the same spec cannot cure it.
    pub deadline_exceeded: bool,
}

/// What the reconcile knows about the monitoring objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MonitoringObservation {
    /// The spec asks for a ServiceMonitor or a PrometheusRule.
    pub wanted: bool,
    /// The monitoring.coreos.com CRDs are installed.
    pub installed: bool,
    /// The spec asks for an AlertmanagerConfig, whose CRD is not installed.
    pub routing_missing: bool,
}

/// What applying a valid XAgent's desired state did: the input of the status.
#[derive(Debug)]
pub struct Applied {
    /// One report per child applied (monitoring ones only with their CRDs).
    pub children: Vec<(Component, ChildReport)>,
    /// Children deleted because the spec no longer asks for them.
    pub pruned: Vec<ChildRef>,
    /// Whether monitoring was wanted and could be applied.
    pub monitoring: MonitoringObservation,
    /// ChromaDB's claims, when ChromaDB is enabled.
    pub storage: Option<super::storage::StorageReport>,
    /// The first child the API server refused, if any.
    pub first_failure: Option<Error>,
}

/// The result of ensuring one child.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildReport {
    /// Which child.
    pub child: ChildRef,
    /// What was done.
    pub outcome: Outcome,
    /// Replica counts, for Deployments and StatefulSets that we control.
    pub workload: Option<WorkloadState>,
}

/// The XAgent that children must be controlled by.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    /// Namespace of the XAgent and its children.
    pub namespace: &'a str,
    /// metadata.uid of the XAgent.
    pub uid: &'a str,
}

/// How one child is applied: for which owner, as which kind, and at which
/// replica count a new autoscaled Deployment starts.
#[derive(Debug, Clone, Copy)]
struct How<'a> {
    owner: Owner<'a>,
    kind: ChildKind,
    initial_replicas: Option<i32>,
}

/// The controller owner's uid of `meta`, if any.
fn controller_uid<K: Resource>(obj: &K) -> Option<&str> {
    obj.meta().owner_references.iter().flatten().find(|o| o.controller == Some(true)).map(|o| o.uid.as_str())
}

/// Expands the registry into [`ensure`] and [`prune`]: every kind is applied
/// and pruned, cached kinds through their caches, watched kinds with a GET.
macro_rules! define_apply {
    (
        cached { $( $(#[$cdoc:meta])* $cv:ident($ct:ty) $field:ident $ckind:literal, slim: $slim:expr, skip: $skip:expr, state: $state:ident, watch: $watch:ident; )* }
        watched { $( $(#[$wdoc:meta])* $wv:ident($wt:ty) $wfield:ident $wkind:literal; )* }
    ) => {
        /// Makes the child exist as desired, unless a foreign object holds its name.
        ///
        /// `initial_replicas` is the replica count a new autoscaled Deployment starts
        /// at (its HPA's minimum), so it does not run a single pod until the HPA acts.
        /// `print` is the child's [`fingerprint_of`], which a child still in
        /// place is judged by without serializing it.
        pub async fn ensure(
            client: &Client,
            stores: &Stores,
            owner: Owner<'_>,
            (child, print): (&Child, u64),
            initial_replicas: Option<i32>,
        ) -> Result<ChildReport> {
            let (outcome, workload) = match child {
                $( Child::$cv(o) => {
                    let how = How { owner, kind: ChildKind::$cv, initial_replicas };
                    ensure_cached(client, &stores.$field, &stores.applied, how, (o, print)).await?
                } )*
                // Cached metadata-only once their CRDs are served; read with
                // a GET until then.
                $( Child::$wv(o) => {
                    stores.absent.forget(owner.uid, ChildKind::$wv);
                    let how = How { owner, kind: ChildKind::$wv, initial_replicas: None };
                    (ensure_watched(client, &stores.$wfield, &stores.applied, how, (o, print)).await?, None)
                } )*
            };
            Ok(ChildReport { child: child.reference(), outcome, workload })
        }

        /// Deletes children this XAgent controls that its spec no longer asks for
        /// (e.g. the HPA after autoscaling is turned off). Only ever called with a
        /// valid spec, so a bad edit can never remove running children. Watched
        /// kinds, named after the XAgent `xagent_name`, are only looked at when
        /// `crds` says the cluster serves them.
        pub async fn prune(
            client: &Client,
            stores: &Stores,
            owner: Owner<'_>,
            desired: &[ChildRef],
            xagent_name: &str,
            crds: &crate::controller::crds::MonitoringCrds,
        ) -> Result<Vec<ChildRef>> {
            let keep = |kind: ChildKind, name: &str| desired.iter().any(|c| c.kind == kind && c.name == name);
            let mut removed = Vec::new();
            $( removed.extend(
                prune_kind::<$ct, _>(client, (&stores.$field, &stores.owned), owner, ChildKind::$cv, |n| keep(ChildKind::$cv, n)).await?,
            ); )*
            $( if crds.serves(ChildKind::$wv) && stores.$wfield.is_ready() {
                removed.extend(
                    prune_kind::<$wt, _>(client, (&stores.$wfield, &stores.owned), owner, ChildKind::$wv, |n| keep(ChildKind::$wv, n)).await?,
                );
            } else if crds.serves(ChildKind::$wv)
                && !keep(ChildKind::$wv, xagent_name)
                && !stores.absent.knows(owner.uid, ChildKind::$wv)
            {
                let child = ChildRef { kind: ChildKind::$wv, name: xagent_name.to_string() };
                removed.extend(remove_uncached::<$wt>(client, owner, child).await?);
                stores.absent.mark(owner.uid, ChildKind::$wv);
            } )*
            Ok(removed)
        }
    };
}

crate::builders::registry::child_kinds!(define_apply);

/// What a cache says of a child.
enum Found<S> {
    /// Ours, and still what we last applied: nothing to send.
    Unchanged(std::sync::Arc<Entry<S>>),
    /// Written as desired by this process, and the watch has not caught up
    /// yet: nothing to send (the replica counts the write returned).
    Unechoed(Option<WorkloadState>),
    /// Present, but changed, foreign or not known to the memo: read it.
    Changed,
    /// Not there: create it.
    Absent,
}

/// Looks the desired object (its metadata and fingerprint `print`) up in
/// `store`: unchanged when the cached entry is
/// ours, still holds the metadata we set, and the object's version is the
/// one at which it last matched the same desired object (`print`); or when
/// the memo says we wrote that desired object and the watch has brought no
/// event of it since ([`AppliedMemo::unechoed`]), whatever the cache holds
/// (nothing yet after a create, the old object after an update).
fn look_up<S>(
    store: &Cache<S>,
    memo: &AppliedMemo,
    how: How<'_>,
    key: u64,
    (desired, print): (&ObjectMeta, u64),
) -> Found<S> {
    let name = desired.name.as_deref().unwrap_or_default();
    if let Some(workload) = memo.unechoed(key, print) {
        return Found::Unechoed(workload);
    }
    let Some(cached) = store.get(Some(how.owner.namespace), name) else { return Found::Absent };
    let ours = cached.controlled_by(how.owner.uid);
    if ours && memo.holds(key, print, cached.version()) && cached.holds_stamped(desired, print) {
        Found::Unchanged(cached)
    } else {
        Found::Changed
    }
}

/// The memo's key of child `name` of kind `K`: a digest, as the memo keeps
/// it, of `Kind/namespace/name`, hashed in parts: it is taken for every
/// watch event, and formatting the string first would allocate each time.
pub(crate) fn memo_key<K: Resource<DynamicType = ()>>(namespace: &str, name: &str) -> u64 {
    let kind = K::kind(&());
    [kind.as_ref(), "/", namespace, "/", name].into_iter().fold(digest::OFFSET, digest::fnv1a_from)
}

/// A cached child: unchanged per [`look_up`]; otherwise created without a
/// read when the cache has no such object, or read in full, compared and
/// applied if needed. Returns the outcome and the workload's replica counts.
async fn ensure_cached<K>(
    client: &Client,
    store: &Cache<K>,
    memo: &AppliedMemo,
    how: How<'_>,
    (desired, print): (&K, u64),
) -> Result<(Outcome, Option<WorkloadState>)>
where
    K: ChildObject + Serialize + Cacheable,
{
    let key = memo_key::<K>(how.owner.namespace, &desired.name_any());
    let absent = match look_up(store, memo, how, key, (desired.meta(), print)) {
        Found::Unchanged(cached) => return Ok((Outcome::Unchanged, cached.workload())),
        Found::Unechoed(workload) => return Ok((Outcome::Unchanged, workload)),
        Found::Changed => false,
        Found::Absent => true,
    };
    let cached = |mut object: K| {
        object.slim();
        let workload = object.workload();
        let entry = Entry::of(&object, workload);
        ((entry.version(), Written::of(&entry)), workload)
    };
    let (outcome, workload) =
        apply_and_remember(client, (memo, key), how, (desired, print), absent, cached).await?;
    Ok((outcome, workload.flatten()))
}

/// A watched child: like [`ensure_cached`] through its metadata cache once
/// that is filled; until then (its CRD just appeared) read with a GET.
async fn ensure_watched<K>(
    client: &Client,
    store: &Cache<PartialObjectMeta<K>>,
    memo: &AppliedMemo,
    how: How<'_>,
    (desired, print): (&K, u64),
) -> Result<Outcome>
where
    K: ChildObject + Serialize,
{
    let key = memo_key::<K>(how.owner.namespace, &desired.name_any());
    let absent = match store.is_ready().then(|| look_up(store, memo, how, key, (desired.meta(), print))) {
        Some(Found::Unchanged(_) | Found::Unechoed(_)) => return Ok(Outcome::Unchanged),
        Some(Found::Absent) => true,
        Some(Found::Changed) | None => false,
    };
    let cached = |mut object: K| {
        let mut meta = PartialObjectMeta::<K> {
            types: None,
            metadata: std::mem::take(object.meta_mut()),
            _phantom: std::marker::PhantomData,
        };
        stores::keep_own_annotations(&mut meta.metadata);
        let entry = Entry::of(&meta, None);
        ((entry.version(), Written::of(&entry)), ())
    };
    Ok(apply_and_remember(client, (memo, key), how, (desired, print), absent, cached).await?.0)
}

/// Creates the child (`absent`: the cache has no such object) or reads,
/// compares and applies it, then remembers under `key` in the memo what its
/// cached entry will be (`cached`: from the object as it now stands, which
/// it consumes, the version digest and [`Written`] of its entry, and what
/// the caller reads of it). The stamped object is made here, only for a
/// child that needs a request, and sent as it is typed: building a JSON
/// tree of it first cost as much again in allocations.
async fn apply_and_remember<K, R>(
    client: &Client,
    (memo, key): (&AppliedMemo, u64),
    how: How<'_>,
    (desired, print): (&K, u64),
    absent: bool,
    cached: impl FnOnce(K) -> ((u64, Written), R),
) -> Result<(Outcome, Option<R>)>
where
    K: ChildObject + Serialize,
{
    // The stamp is the fingerprint remembered for the generation
    // (`controller::prints`), which holds only while a child depends on
    // nothing of the XAgent but its name, namespace, uid and spec: every
    // apply of a test build checks it.
    debug_assert_eq!(print, fingerprint_of(desired), "the remembered fingerprint of {}", desired.name_any());
    let mark = memo.mark(key);
    let mut stamped = stamped_object(desired, print);
    let created = if absent { create_only(client, how, &mut stamped).await? } else { None };
    let (outcome, seen) = match created {
        Some(object) => (Outcome::Created, Some(object)),
        None => ensure_one(client, how, &mut stamped).await?,
    };
    let read = match seen {
        Some(object) => {
            let ((version, written), read) = cached(object);
            memo.record(key, print, version, written, mark);
            Some(read)
        }
        None => {
            memo.forget(key);
            None
        }
    };
    Ok((outcome, read))
}

/// What changes whenever an object's spec does: the generation where the kind
/// keeps one (not bumped by status updates); else a digest of the spec where
/// the cache keeps it (HorizontalPodAutoscalers, whose resourceVersion their
/// status moves every few seconds); else the resourceVersion (Services, whose
/// status rarely changes).
/// The uid is part of it: a child deleted and recreated starts at generation 1 again.
pub fn version<K: Resource + Serialize>(obj: &K) -> String {
    let uid = obj.meta().uid.as_deref().unwrap_or_default();
    if let Some(g) = obj.meta().generation {
        return format!("{uid}/g{g}");
    }
    match to_json(obj).get("spec").filter(|spec| !spec.is_null()) {
        Some(spec) => format!("{uid}/s{:016x}", fingerprint(spec)),
        None => format!("{uid}/rv{}", obj.meta().resource_version.as_deref().unwrap_or_default()),
    }
}

/// A digest of a desired object that is the same in every process and
/// release ([`crate::digest::json`] of its canonical JSON), so a restart or
/// a second replica reads the same stamp back.
fn fingerprint(value: &serde_json::Value) -> u64 {
    crate::digest::json(value)
}

/// Annotation holding the fingerprint of what the operator last applied to a child.
pub const APPLIED_ANNOTATION: &str = "xagent.io/applied";

/// The fingerprint of a desired object, which its stamp carries and the
/// memo keys by.
pub fn fingerprint_of<T: Serialize>(desired: &T) -> u64 {
    fingerprint(&to_json(desired))
}

/// `desired` stamped with `print`, its [`fingerprint_of`]: what every apply
/// of it sends.
///
/// Containment alone cannot see a field that the spec no longer sets: the
/// live object still holds it, so it still "contains" the desired one. The
/// stamp changes with every change of the desired object, removals included,
/// and a live object with an older stamp is re-applied, which is when
/// server-side apply drops the fields we no longer send.
fn stamped_object<K: Resource + Clone>(desired: &K, print: u64) -> K {
    let mut stamped = desired.clone();
    stamped
        .meta_mut()
        .annotations
        .get_or_insert_default()
        .insert(APPLIED_ANNOTATION.into(), stamp_text(print));
    stamped
}

/// The stamp annotation's value for fingerprint `print`.
fn stamp_text(print: u64) -> String {
    format!("{print:016x}")
}

/// The desired object as JSON, stamped with its own fingerprint, built
/// apart from [`stamped_object`]: what the tests hold every apply body to.
#[cfg(test)]
pub fn stamped<T: Serialize>(desired: &T) -> serde_json::Value {
    stamp(desired).0
}

/// [`stamped`] and the fingerprint in its stamp.
#[cfg(test)]
fn stamp<T: Serialize>(desired: &T) -> (serde_json::Value, u64) {
    let mut json = to_json(desired);
    let print = fingerprint(&json);
    if let Some(meta) = json.get_mut("metadata") {
        stamp_metadata(meta, print);
    }
    (json, print)
}

/// Adds the stamp annotation carrying `print` to `meta` (a JSON object).
#[cfg(test)]
fn stamp_metadata(meta: &mut serde_json::Value, print: u64) {
    let Some(meta) = meta.as_object_mut() else { return };
    let annotations = meta.entry("annotations").or_insert_with(|| serde_json::json!({}));
    if let Some(map) = annotations.as_object_mut() {
        map.insert(APPLIED_ANNOTATION.into(), stamp_text(print).into());
    }
}

/// Reads the child from the API server, then applies `stamped` (the desired
/// object, stamped) unless it is already in place or the object is foreign.
/// Returns the outcome and, unless there was a conflict, the object as it
/// now stands.
async fn ensure_one<K>(client: &Client, how: How<'_>, stamped: &mut K) -> Result<(Outcome, Option<K>)>
where
    K: ChildObject + Serialize,
{
    let name = stamped.name_any();
    let reference = ChildRef { kind: how.kind, name: name.clone() };
    let api: Api<K> = Api::namespaced(client.clone(), how.owner.namespace);
    // Always confirmed with the API server: the slim caches cannot tell a
    // foreign object from ours, nor hold the spec to compare.
    let mut observed =
        api.get_opt(&name).await.map_err(|source| Error::GetChild { child: reference.clone(), source })?;
    let existed = observed.is_some();
    if let Some(existing) = &observed {
        if controller_uid(existing) != Some(how.owner.uid) {
            return Ok((Outcome::Conflict(conflict_message(&reference, existing)), None));
        }
        let (existing_json, desired_json) = (to_json(existing), to_json(&*stamped));
        if contains(&existing_json, &desired_json) {
            return Ok((Outcome::Unchanged, observed));
        }
        if let Some(replicas) = replicas_to_hand_off(&existing_json, &desired_json) {
            hand_off_replicas(&api, &name, &reference, replicas).await?;
        }
        if claim_templates_changed(&existing_json, &desired_json) {
            recreate_orphaning(&api, existing, &reference).await?;
            observed = None;
        }
    }
    let applied = match &observed {
        None => apply_new(client, how, &name, stamped, None).await,
        Some(_) => apply_answered_lean(client, how.owner.namespace, &name, &*stamped).await,
    };
    let applied = applied.map_err(|source| Error::ApplyChild { child: reference, source })?;
    let outcome = if existed { Outcome::Updated } else { Outcome::Created };
    Ok((outcome, Some(applied)))
}

/// Applies `body` to the child `name` (with force, as [`MANAGER`]). What an
/// apply returns is only ever slimmed into an entry, so it is asked for and
/// decoded as the cache keeps it: metadata alone for the kinds cached
/// metadata-only, else the object without what its cache drops ([`Lean`]).
async fn apply_answered_lean<K: ChildObject>(
    client: &Client,
    namespace: &str,
    name: &str,
    body: &(impl Serialize + Debug),
) -> kube::Result<K> {
    let params = PatchParams::apply(MANAGER).force();
    if K::METADATA_ONLY {
        let api = Api::<Lean<PartialObjectMeta<K>>>::namespaced(client.clone(), namespace);
        api.patch(name, &params, &Patch::Apply(body)).await.map(|Lean(meta)| K::with_metadata(meta.metadata))
    } else {
        let api = Api::<Lean<K>>::namespaced(client.clone(), namespace);
        api.patch(name, &params, &Patch::Apply(body)).await.map(|Lean(object)| object)
    }
}

/// A resourceVersion no stored object can have (etcd's revision counter
/// would have to pass 2^64 - 1 first): as an apply's precondition it makes
/// the apply create the object or fail with 409 Conflict, never change one.
pub const NO_STORED_VERSION: &str = "18446744073709551615";

/// Creates a child the cache does not hold, without reading it first: an
/// apply that only creates. Any object of that name (ours, not yet in the
/// cache, or a foreign one, which caches never hold) makes the server answer
/// 409, and `None` sends the caller to [`ensure_one`] to read and judge it,
/// so nothing is ever adopted or overwritten unseen.
async fn create_only<K>(client: &Client, how: How<'_>, stamped: &mut K) -> Result<Option<K>>
where
    K: ChildObject + Serialize,
{
    let name = stamped.name_any();
    match apply_new(client, how, &name, stamped, Some(NO_STORED_VERSION)).await {
        Ok(created) => Ok(Some(created)),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(None),
        Err(source) => Err(Error::ApplyChild { child: ChildRef { kind: how.kind, name }, source }),
    }
}

/// Applies `stamped` as the body that creates the child `name`: with
/// `version` as its resourceVersion precondition, and, for an autoscaled
/// Deployment that sets no `spec.replicas`, at `how.initial_replicas` (its
/// HPA's minimum). `stamped` is changed for the request only and left as
/// it was, since a refused create goes on to compare it with what exists.
async fn apply_new<K>(
    client: &Client,
    how: How<'_>,
    name: &str,
    stamped: &mut K,
    version: Option<&str>,
) -> kube::Result<K>
where
    K: ChildObject + Serialize,
{
    let started = match (how.initial_replicas, replicas_of(stamped)) {
        (Some(initial), Some(replicas)) if replicas.is_none() => {
            *replicas = Some(initial);
            true
        }
        _ => false,
    };
    stamped.meta_mut().resource_version = version.map(str::to_owned);
    let answer = apply_answered_lean(client, how.owner.namespace, name, &*stamped).await;
    stamped.meta_mut().resource_version = None;
    if let Some(replicas) = replicas_of(stamped).filter(|_| started) {
        *replicas = None;
    }
    answer
}

/// `spec.replicas` of `object` when it is a Deployment, the only kind an
/// HPA of ours scales and so the only one created at an initial count.
fn replicas_of<K: 'static>(object: &mut K) -> Option<&mut Option<i32>> {
    let deployment =
        (object as &mut dyn std::any::Any).downcast_mut::<k8s_openapi::api::apps::v1::Deployment>()?;
    Some(&mut deployment.spec.as_mut()?.replicas)
}

/// Whether a StatefulSet's volumeClaimTemplates (immutable) no longer hold
/// the desired ones, e.g. a larger `storage.size`.
fn claim_templates_changed(existing: &serde_json::Value, desired: &serde_json::Value) -> bool {
    const TEMPLATES: &str = "/spec/volumeClaimTemplates";
    match (existing.pointer(TEMPLATES), desired.pointer(TEMPLATES)) {
        (Some(live), Some(want)) => !contains(live, want),
        _ => false,
    }
}

/// How long the garbage collector gets to finish an orphaning deletion.
const ORPHANING_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Deletes `existing` leaving its pods and claims in place (`Orphan`), so
/// it can be created again with new volumeClaimTemplates: the new
/// StatefulSet adopts the running pods, whose data stays where it is. Waits
/// for the garbage collector to let go of it; a retry finishes the job if
/// it is slower.
async fn recreate_orphaning<K>(api: &Api<K>, existing: &K, reference: &ChildRef) -> Result<()>
where
    K: ChildObject,
{
    let name = existing.name_any();
    let params = DeleteParams {
        propagation_policy: Some(kube::api::PropagationPolicy::Orphan),
        preconditions: Some(Preconditions { uid: existing.uid(), ..Preconditions::default() }),
        ..DeleteParams::default()
    };
    match api.delete(&name, &params).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {}
        Err(source) => return Err(Error::DeleteChild { child: reference.clone(), source }),
    }
    let started = tokio::time::Instant::now();
    while started.elapsed() < ORPHANING_WAIT {
        let now = api
            .get_opt(&name)
            .await
            .map_err(|source| Error::GetChild { child: reference.clone(), source })?;
        if now.is_none_or(|o| o.uid() != existing.uid()) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    Err(Error::RecreatePending { child: reference.clone() })
}

/// Field manager that keeps `spec.replicas` while it passes from us to an HPA.
pub const HANDOFF_MANAGER: &str = "xagent-operator-replicas-handoff";

/// The replica count to hand off when our apply would drop `spec.replicas` we
/// own (autoscaling just turned on): applied without it, the field would be
/// removed and default to 1 before the HPA acts.
fn replicas_to_hand_off(existing: &serde_json::Value, desired: &serde_json::Value) -> Option<i64> {
    if desired.pointer("/spec/replicas").is_some() {
        return None;
    }
    let ours = existing.pointer("/metadata/managedFields")?.as_array()?.iter().any(|entry| {
        entry["manager"] == MANAGER
            && entry["operation"] == "Apply"
            && entry.pointer("/fieldsV1/f:spec/f:replicas").is_some()
    });
    ours.then(|| existing.pointer("/spec/replicas").and_then(serde_json::Value::as_i64)).flatten()
}

/// Applies the current replica count under [`HANDOFF_MANAGER`], so the field
/// survives our next apply, which no longer sets it; the HPA takes it from there.
async fn hand_off_replicas<K>(api: &Api<K>, name: &str, reference: &ChildRef, replicas: i64) -> Result<()>
where
    K: ChildObject,
{
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "metadata": {"name": name},
        "spec": {"replicas": replicas},
    });
    api.patch(name, &PatchParams::apply(HANDOFF_MANAGER).force(), &Patch::Apply(patch))
        .await
        .map(|_| ())
        .map_err(|source| Error::ApplyChild { child: reference.clone(), source })
}

fn to_json<T: Serialize>(obj: &T) -> serde_json::Value {
    serde_json::to_value(obj).unwrap_or_default()
}

fn conflict_message<K: Resource<DynamicType = ()>>(reference: &ChildRef, existing: &K) -> String {
    match existing.meta().owner_references.iter().flatten().find(|o| o.controller == Some(true)) {
        Some(o) => format!("{reference} exists and is controlled by {} {}", o.kind, o.name),
        None => format!("{reference} exists and is not controlled by this XAgent"),
    }
}

/// Deletes the uncached child `K/name` if this XAgent controls it.
async fn remove_uncached<K>(client: &Client, owner: Owner<'_>, child: ChildRef) -> Result<Option<ChildRef>>
where
    K: ChildObject,
{
    let api: Api<K> = Api::namespaced(client.clone(), owner.namespace);
    let existing =
        api.get_opt(&child.name).await.map_err(|source| Error::GetChild { child: child.clone(), source })?;
    let Some(existing) = existing.filter(|o| controller_uid(o) == Some(owner.uid)) else {
        return Ok(None);
    };
    let uid = existing.uid();
    delete::<K>(&api, child, uid).await
}

/// Deletes `reference` only if it is still the object with `uid` that we checked:
/// one recreated in between (perhaps by someone else) is left alone.
async fn delete<K>(api: &Api<K>, reference: ChildRef, uid: Option<String>) -> Result<Option<ChildRef>>
where
    K: ChildObject,
{
    let params = DeleteParams {
        preconditions: Some(Preconditions { uid, resource_version: None }),
        ..DeleteParams::background()
    };
    match api.delete(&reference.name, &params).await {
        Ok(_) => Ok(Some(reference)),
        // Gone already, or replaced by another object since we looked.
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(None),
        Err(source) => Err(Error::DeleteChild { child: reference, source }),
    }
}

/// Deletes the children of kind `K` (cached as `S`) that `owner` controls
/// and `keep` does not want, found through the owner index.
async fn prune_kind<K, S>(
    client: &Client,
    (store, owned): (&Cache<S>, &OwnedIndex),
    owner: Owner<'_>,
    kind: ChildKind,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<ChildRef>>
where
    K: ChildObject,
    S: Resource<DynamicType = (), Scope = NamespaceResourceScope> + 'static,
{
    let stale: Vec<(String, Option<String>)> = owned
        .names::<S>(owner.uid, |name| !keep(name))
        .into_iter()
        .filter_map(|name| {
            let cached = store.get(Some(owner.namespace), &name)?;
            cached.controlled_by(owner.uid).then(|| (name, cached.uid().map(Uid::to_string)))
        })
        .collect();
    let mut removed = Vec::new();
    if stale.is_empty() {
        // The common case, every reconcile: building the Api allocates.
        return Ok(removed);
    }
    let api: Api<K> = Api::namespaced(client.clone(), owner.namespace);
    for (name, uid) in stale {
        removed.extend(delete::<K>(&api, ChildRef { kind, name }, uid).await?);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `meta` as JSON, stamped with `print` as [`stamp`] stamps the whole
    /// object: what the cached metadata must hold, without serializing the rest.
    fn stamped_metadata(meta: &ObjectMeta, print: u64) -> serde_json::Value {
        let mut json = to_json(meta);
        stamp_metadata(&mut json, print);
        json
    }

    /// Every child of the sample with everything on.
    fn every_child() -> Vec<Child> {
        let yaml = include_str!("../../config/samples/xagent-everything.yaml");
        let mut xagent = crate::render::parse_documents(yaml).expect("the sample is valid").remove(0);
        xagent.metadata.uid = Some("owner-1".into());
        xagent.spec.network_policy.enabled = true;
        xagent.spec.monitoring.dashboard.enabled = true;
        crate::builders::build(&xagent)
    }

    #[test]
    fn a_child_in_place_is_judged_by_the_metadata_its_whole_stamp_carries() {
        let children = every_child();
        assert!(children.len() >= 13, "{}", children.len());
        for child in &children {
            let (whole, print) = stamp(child);
            assert_eq!(print, fingerprint_of(child), "{}", child.reference());
            assert_eq!(
                whole["metadata"]["annotations"][APPLIED_ANNOTATION],
                format!("{print:016x}"),
                "{}",
                child.reference()
            );
            assert_eq!(stamped_metadata(child.meta(), print), whole["metadata"], "{}", child.reference());
        }
    }

    /// Desired metadata edited as a person or another controller might
    /// leave the live object, or as a new spec would want it.
    fn variants(meta: &ObjectMeta) -> Vec<ObjectMeta> {
        let edit = |f: &dyn Fn(&mut ObjectMeta)| {
            let mut m = meta.clone();
            f(&mut m);
            m
        };
        vec![
            meta.clone(),
            edit(&|m| drop(m.labels.get_or_insert_default().insert("added".into(), "x".into()))),
            edit(&|m| m.labels.iter_mut().flat_map(|l| l.values_mut()).for_each(|v| v.push('x'))),
            edit(&|m| m.labels = None),
            edit(&|m| m.labels = Some(Default::default())),
            edit(&|m| drop(m.annotations.get_or_insert_default().insert("note".into(), "y".into()))),
            edit(&|m| {
                drop(m.annotations.get_or_insert_default().insert(APPLIED_ANNOTATION.into(), "0".into()))
            }),
            edit(&|m| m.owner_references.iter_mut().flatten().for_each(|o| o.controller = Some(false))),
            edit(&|m| m.owner_references.iter_mut().flatten().for_each(|o| o.block_owner_deletion = None)),
            edit(&|m| m.owner_references = Some(vec![])),
            edit(&|m| m.name = Some("other".into())),
            edit(&|m| m.namespace = Some("elsewhere".into())),
            edit(&|m| m.namespace = None),
            edit(&|m| m.finalizers = Some(vec!["x".into()])),
            edit(&|m| m.generation = Some(3)),
        ]
    }

    #[test]
    fn the_typed_judgement_of_a_child_in_place_is_the_json_one() {
        let (mut held, mut not_held) = (0, 0);
        for child in every_child() {
            let (whole, print) = stamp(&child);
            let cached: k8s_openapi::api::core::v1::Service =
                serde_json::from_value(serde_json::json!({"metadata": whole["metadata"]})).expect("metadata");
            let entry = Entry::of(&cached, None);
            for desired in variants(child.meta()) {
                for print in [print, print ^ 1] {
                    let typed = entry.holds_stamped(&desired, print);
                    assert_eq!(typed, entry.holds(&stamped_metadata(&desired, print)), "{desired:?}");
                    if typed { held += 1 } else { not_held += 1 }
                }
            }
        }
        assert!(held >= 13 && not_held > held, "both verdicts seen: {held} held, {not_held} not");
    }

    /// The Accept header of the apply [`apply_answered_lean`] sends for `K`.
    async fn apply_accept<K: ChildObject + Send + 'static>() -> String {
        type Mock =
            tower_test::mock::Handle<http::Request<kube::client::Body>, http::Response<kube::client::Body>>;
        let (service, mut handle): (_, Mock) = tower_test::mock::pair();
        let client = Client::new(service, "team");
        let applying = tokio::spawn(async move {
            let _ = apply_answered_lean::<K>(&client, "team", "demo", &serde_json::json!({})).await;
        });
        let (request, _reply) = handle.next_request().await.expect("the apply is sent");
        applying.abort();
        assert_eq!(request.method(), http::Method::PATCH);
        let accept = request.headers().get(http::header::ACCEPT);
        accept.and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
    }

    #[tokio::test]
    async fn applies_are_answered_as_their_caches_keep_them() {
        use crate::builders::monitoring::types::PrometheusRule;
        use k8s_openapi::api::apps::v1::Deployment;
        use k8s_openapi::api::core::v1::{ConfigMap, Service};
        for metadata_only in [apply_accept::<Service>().await, apply_accept::<ConfigMap>().await] {
            assert!(metadata_only.contains("as=PartialObjectMetadata;"), "{metadata_only}");
        }
        assert!(apply_accept::<PrometheusRule>().await.contains("as=PartialObjectMetadata;"));
        let whole = apply_accept::<Deployment>().await;
        assert!(!whole.contains("PartialObjectMetadata"), "{whole}");
    }

    #[test]
    fn fingerprints_tell_children_apart_and_follow_the_spec() {
        let children = every_child();
        let prints: std::collections::HashSet<u64> = children.iter().map(fingerprint_of).collect();
        assert_eq!(prints.len(), children.len(), "every child its own fingerprint");
        let Some(Child::Deployment(deployment)) = children.iter().find(|c| c.kind() == ChildKind::Deployment)
        else {
            panic!("the sample has Deployments")
        };
        let mut edited = deployment.clone();
        edited.spec.as_mut().expect("a spec").min_ready_seconds = Some(7);
        assert_ne!(fingerprint_of(&edited), fingerprint_of(deployment));
    }
}
