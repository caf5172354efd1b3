//! Caches of the objects XAgents own, shared by the watches and the reconciler.
//!
//! Reading desired-vs-observed from these caches is what lets an unchanged
//! XAgent reconcile without a single request to the API server.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, StatefulSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::watcher;

use super::apply::WorkloadState;
use super::cache::{Cache, CacheWriter, WriterDropped, cache};
pub use super::entry::Entry;
use super::owned::OwnedIndex;
use crate::builders::Child;
use kube::Resource;
use kube::core::PartialObjectMeta;

/// Whether a registry `watch:` function caches metadata alone.
macro_rules! metadata_only {
    (metadata_events) => {
        true
    };
    (object_events) => {
        false
    };
}

/// Expands the registry into the caches of the cached kinds, their writers
/// and what reads or fills them.
macro_rules! define_stores {
    (
        cached { $( $(#[$cdoc:meta])* $cv:ident($ct:ty) $field:ident $ckind:literal, slim: $slim:expr, skip: $skip:expr, state: $state:ident, watch: $watch:ident; )* }
        watched { $( $(#[$wdoc:meta])* $wv:ident($wt:ty) $wfield:ident $wkind:literal; )* }
    ) => {
        /// One cache per child kind, of [`Entry`]s rather than objects.
        ///
        /// An entry keeps what a reconcile reads of a child: ownership, the
        /// version its spec is vouched for by (through [`AppliedMemo`]), the
        /// metadata we set, and replica counts for workloads.
        #[derive(Clone)]
        pub struct Stores {
            /// What the operator last found or applied for each child.
            pub applied: Arc<AppliedMemo>,
            /// Watched children known not to exist as ours.
            pub absent: Arc<AbsentMemo>,
            /// Which cached children each XAgent controls, per kind.
            pub owned: Arc<OwnedIndex>,
            $( $(#[$cdoc])* pub $field: Cache<$ct>, )*
            $( $(#[$wdoc])*
            #[doc = "(From a metadata watch, filled once its CRD is served.)"]
            pub $wfield: Cache<PartialObjectMeta<$wt>>, )*
        }

        /// The writing halves of [`Stores`], fed by the watches (or by tests).
        pub struct Writers {
            /// The index the writes below keep up to date, as the watches do.
            pub owned: Arc<OwnedIndex>,
            $( $(#[$cdoc])* pub $field: CacheWriter<$ct>, )*
            $( $(#[$wdoc])* pub $wfield: CacheWriter<PartialObjectMeta<$wt>>, )*
        }

        /// Empty caches and their writers.
        pub fn new() -> (Stores, Writers) {
            $( let $field = cache(); )*
            $( let $wfield = cache(); )*
            let owned = Arc::<OwnedIndex>::default();
            (
                Stores {
                    applied: Arc::default(),
                    absent: Arc::default(),
                    owned: owned.clone(),
                    $( $field: $field.0.clone(), )*
                    $( $wfield: $wfield.0.clone(), )*
                },
                Writers { owned, $( $field: $field.1, )* $( $wfield: $wfield.1, )* },
            )
        }

        impl Stores {
            /// Waits until every cache of a cached kind holds its first full
            /// list, so a missing entry means "absent". The watched kinds'
            /// caches fill only once their CRDs are served: see [`Cache::is_ready`].
            pub async fn wait_until_ready(&self) -> Result<(), WriterDropped> {
                $( self.$field.wait_until_ready().await?; )*
                Ok(())
            }
        }

        impl Stores {
            /// Waits until the cache of every watched kind that `crds` says
            /// is served holds its first list, so the first reconciles vouch
            /// for those children without a GET.
            pub async fn wait_until_watched_ready(&self, crds: &crate::controller::crds::MonitoringCrds) {
                $( if crds.serves(crate::builders::ChildKind::$wv) {
                    let _ = self.$wfield.wait_until_ready().await;
                } )*
            }
        }

        impl Writers {
            /// Fills the watched kinds' metadata caches with the watched
            /// children among `children`, as a first list of their watches
            /// would (for tests and benchmarks).
            pub fn sync_watched(&mut self, children: &[Child]) {
                $(
                    let mut events = vec![watcher::Event::Init];
                    for child in children {
                        if let Child::$wv(o) = child {
                            let meta = PartialObjectMeta::<$wt> {
                                types: Some(kube::core::TypeMeta::resource::<$wt>()),
                                metadata: o.metadata.clone(),
                                _phantom: std::marker::PhantomData,
                            };
                            events.push(watcher::Event::InitApply(Entry::of(&meta, None)));
                        }
                    }
                    events.push(watcher::Event::InitDone);
                    for event in events {
                        self.owned.follow(&event, None);
                        self.$wfield.apply_watcher_event(event);
                    }
                )*
            }
        }

        impl Writers {
            /// Puts `child` into its cache as the watch would deliver it:
            /// without managedFields, slimmed, as an entry (for tests and
            /// benchmarks); watched kinds are filled by [`Writers::sync_watched`].
            pub fn cache_slim(&mut self, child: Child) {
                match child {
                    $( Child::$cv(mut o) => {
                        o.metadata.managed_fields = None;
                        o.slim();
                        let event = watcher::Event::Apply(Entry::of(&o, $state(&o)));
                        self.owned.follow(&event, None);
                        self.$field.apply_watcher_event(event);
                    } )*
                    $( Child::$wv(_) => {} )*
                }
            }
        }

        $(
            impl crate::controller::lean::Decode for $ct {
                const SKIPPED: crate::controller::lean::Paths = $skip;
                const METADATA_ONLY: bool = metadata_only!($watch);

                fn with_metadata(metadata: ObjectMeta) -> Self {
                    Self { metadata, ..Default::default() }
                }
            }
        )*

        $( impl crate::controller::lean::Decode for $wt {
            const METADATA_ONLY: bool = true;

            fn with_metadata(metadata: ObjectMeta) -> Self {
                // kube's derive gives the kind no Default; its spec has one.
                let mut object = <$wt>::new("", Default::default());
                object.metadata = metadata;
                object
            }
        } )*

        $(
            impl Cacheable for $ct {
                fn workload(&self) -> Option<WorkloadState> {
                    $state(self)
                }
            }
        )*

        $(
            impl Slim for $ct {
                fn slim(&mut self) {
                    let slim: fn(&mut $ct) = $slim;
                    slim(self)
                }
            }
        )*

        /// `json` (an object of `child`'s kind) decoded lean and whole, each
        /// slimmed as its cache would keep it, as JSON: equal for every kind
        /// when its skipped paths are among what its slimming drops.
        #[cfg(test)]
        pub fn slim_both_ways(child: &Child, json: &[u8]) -> (serde_json::Value, serde_json::Value) {
            use crate::controller::lean::Lean;
            fn both<K>(json: &[u8], slim: fn(&mut K)) -> (serde_json::Value, serde_json::Value)
            where
                K: serde::de::DeserializeOwned + serde::Serialize + crate::controller::lean::Decode + Resource,
            {
                let Lean(mut lean) = serde_json::from_slice::<Lean<K>>(json).expect("decodes lean");
                let mut whole = serde_json::from_slice::<K>(json).expect("decodes whole");
                assert!(whole.meta().managed_fields.is_some(), "the test object has managedFields");
                whole.meta_mut().managed_fields = None;
                slim(&mut lean);
                slim(&mut whole);
                (serde_json::to_value(lean).expect("serializes"), serde_json::to_value(whole).expect("serializes"))
            }
            match child {
                $( Child::$cv(_) => both::<$ct>(json, <$ct as Slim>::slim), )*
                $( Child::$wv(_) => both::<PartialObjectMeta<$wt>>(json, |o| keep_own_annotations(&mut o.metadata)), )*
            }
        }

        /// Drops from `child` what its cache would not keep (see [`Stores`]).
        pub fn slim(child: &mut Child) {
            match child {
                $( Child::$cv(o) => o.slim(), )*
                $( Child::$wv(_) => {} )*
            }
        }
    };
}

/// What the cache of a kind keeps of each object: the registry says, per kind.
pub trait Slim {
    /// Drops what the reconciler never reads from the cached copy.
    fn slim(&mut self);
}

/// A cached kind: what its [`Entry`] keeps of its status.
pub trait Cacheable: Slim {
    /// Replica counts of a workload, read from its slim object; `None` for other kinds.
    fn workload(&self) -> Option<WorkloadState>;
}

crate::builders::registry::child_kinds!(define_stores);

/// Whether a watch event that turns the cached `previous` into `next`
/// should wake the owning XAgent: only when something a reconcile reads
/// changed. A status-only update of a kind whose status the cache drops
/// (HorizontalPodAutoscalers every few seconds, PodDisruptionBudgets as pods
/// come and go) moves just the resourceVersion, which wakes nobody unless it
/// is what vouches for the object's spec (kinds with neither a generation
/// nor a cached spec).
pub fn wakes_owner<K>(previous: Option<&Entry<K>>, next: &Entry<K>) -> bool {
    previous.is_none_or(|previous| previous.differs_from(next))
}

/// The [`AppliedMemo`] key of the child `entry` is of.
pub fn memo_key_of<K: Resource<DynamicType = ()>>(entry: &Entry<K>) -> u64 {
    super::apply::memo_key::<K>(entry.namespace().unwrap_or_default(), entry.name())
}

/// Whether the update of a cached child from `previous` to `next` wakes its
/// owner: when it changed in more than its resourceVersion
/// ([`wakes_owner`]), unless it is the watch's echo of the operator's own
/// last write of it ([`AppliedMemo::echoes`]): the reconcile that wrote it
/// has read that object already, from the response. Status written by
/// others since (a workload controller's counts) makes the entry differ
/// from the echo, and wakes.
pub fn wakes_owner_of<K: Resource<DynamicType = ()>>(
    previous: Option<&Entry<K>>,
    next: &Entry<K>,
    memo: &AppliedMemo,
) -> bool {
    let echo = memo.echoes(memo_key_of(next), next.digest());
    wakes_owner(previous, next) && !echo
}

/// For each child: the fingerprint of the desired object last found in place
/// or applied, and the object's version then (its generation, which the API
/// server bumps on every spec change, or its resourceVersion for kinds without
/// one). The same fingerprint at the same version means the object still holds
/// what we want, without caching its spec. Also the [`Entry::digest`] of the
/// object as the operator last read or wrote it, which tells the watch echo
/// of our own write from news ([`wakes_owner_of`]). Lost on restart: each
/// child is then read once. Keys and versions are kept as 64-bit digests
/// ([`super::apply::memo_key`], [`super::entry::digest_of_version`]): a
/// thousand XAgents' 13,000 children fit in well under a megabyte.
#[derive(Debug, Default)]
pub struct AppliedMemo {
    inner: std::sync::Mutex<MemoInner>,
}

#[derive(Debug, Default)]
struct MemoInner {
    applied: std::collections::HashMap<u64, Applied>,
    /// Until the watch's next event of the object: the [`Entry::digest`] of
    /// what the last write returned, and its replica counts. Apart from
    /// `applied`, whose every child would otherwise keep room for one: an
    /// echo arrives a moment after its write, so this map is nearly always
    /// nearly empty (half of the memo's memory at 13,000 children).
    echoes: std::collections::HashMap<u64, Echo>,
    /// Watches started over ([`AppliedMemo::forget_echoes`]).
    relists: u64,
}

/// What [`AppliedMemo`] keeps of one child.
#[derive(Debug, Clone, Copy)]
struct Applied {
    fingerprint: u64,
    version: u64,
    /// Watch events of the object so far (wrapping).
    events: u32,
}

/// The echo a write of a child awaits: the [`Entry::digest`] of what the
/// write returned, and its replica counts.
type Echo = (u64, Option<WorkloadState>);

impl Applied {
    /// A child about to be written for the first time: nothing vouched for.
    const UNKNOWN: Applied = Applied { fingerprint: 0, version: 0, events: 0 };
}

/// What the operator last wrote (or read) of a child, as the memo keeps it:
/// the [`Entry::digest`] of the object then, and its replica counts.
#[derive(Debug, Clone, Copy)]
pub struct Written {
    /// [`Entry::digest`] of the object as the write returned it.
    pub entry: u64,
    /// Its replica counts, for workloads.
    pub workload: Option<WorkloadState>,
}

impl Written {
    /// What the memo keeps of `entry`, the object a write returned.
    pub fn of<K>(entry: &Entry<K>) -> Self {
        Written { entry: entry.digest(), workload: entry.workload() }
    }
}

/// Where the watches stood when a write of a child was sent
/// ([`AppliedMemo::mark`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    relists: u64,
    events: u32,
}

impl AppliedMemo {
    fn inner(&self) -> std::sync::MutexGuard<'_, MemoInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `key` was last seen matching `fingerprint` at `version`.
    pub fn holds(&self, key: u64, fingerprint: u64, version: u64) -> bool {
        self.inner().applied.get(&key).is_some_and(|a| a.fingerprint == fingerprint && a.version == version)
    }

    /// Whether the watch event with entry digest `entry` is the echo of the
    /// operator's last write (or read) of `key`. A write has one echo, the
    /// watch's next event of the object (unless the watch lags behind, when
    /// the echo is missed and wakes an owner needlessly, which is harmless),
    /// so the write's digest is forgotten here: a later event that brings
    /// the object back to the same state is news, and wakes.
    pub fn echoes(&self, key: u64, entry: u64) -> bool {
        self.take_echo(key).is_some_and(|(digest, _)| digest == entry)
    }

    /// Counts a watch event of `key` that cannot be an echo (a list item,
    /// a deletion): the last write vouches for the object no more.
    pub fn saw(&self, key: u64) {
        self.take_echo(key);
    }

    /// Counts a watch event of `key`, and takes the last write's echo.
    fn take_echo(&self, key: u64) -> Option<Echo> {
        let mut inner = self.inner();
        let applied = inner.applied.get_mut(&key)?;
        applied.events = applied.events.wrapping_add(1);
        inner.echoes.remove(&key)
    }

    /// The replica counts of `key` as the operator last wrote it matching
    /// `fingerprint`, while the watch has brought no event of it since: the
    /// object stands as written, as far as anything the operator watches
    /// can tell (a deletion in between arrives as events, which wake the
    /// owner). `None` when there is no such write.
    pub fn unechoed(&self, key: u64, fingerprint: u64) -> Option<Option<WorkloadState>> {
        let inner = self.inner();
        inner.applied.get(&key).filter(|a| a.fingerprint == fingerprint)?;
        inner.echoes.get(&key).map(|(_, workload)| *workload)
    }

    /// Where the watches stand for `key`, taken before a write of it is
    /// sent: an event of the object that arrives while the write is in
    /// flight (someone else's edit may overtake our reading of the
    /// response) must not be taken for older than the write.
    pub fn mark(&self, key: u64) -> Mark {
        let mut inner = self.inner();
        let relists = inner.relists;
        let applied = inner.applied.entry(key).or_insert(Applied::UNKNOWN);
        Mark { relists, events: applied.events }
    }

    /// Forgets every write's echo: a watch starting over lists what exists
    /// now, and says nothing of what was deleted while it was away.
    pub fn forget_echoes(&self) {
        let mut inner = self.inner();
        inner.relists += 1;
        inner.echoes = Default::default();
    }

    /// Records that `key` matched `fingerprint` at `version`, and what the
    /// object then was ([`Written`]). The write vouches for the object
    /// ([`AppliedMemo::unechoed`]) only if no watch event of it, and no
    /// relist, came since `mark` (taken before the write was sent): else
    /// the cache may already hold something newer, and it is the judge.
    pub fn record(&self, key: u64, fingerprint: u64, version: u64, written: Written, mark: Mark) {
        let mut inner = self.inner();
        let events = inner.applied.get(&key).map_or(0, |a| a.events);
        let unmoved = mark == Mark { relists: inner.relists, events };
        if unmoved {
            inner.echoes.insert(key, (written.entry, written.workload));
        } else {
            inner.echoes.remove(&key);
        }
        inner.applied.insert(key, Applied { fingerprint, version, events });
    }

    /// Forgets `key`.
    pub fn forget(&self, key: u64) {
        let mut inner = self.inner();
        inner.applied.remove(&key);
        inner.echoes.remove(&key);
    }
}

/// Watched children (uncached, named after their XAgent) that a prune found
/// absent, by owner uid and kind, so an XAgent that does not want one is not
/// asked about it with a GET on every reconcile. Applying the kind forgets
/// the entry; a restart forgets them all, and each is then read once.
#[derive(Debug, Default)]
pub struct AbsentMemo {
    entries: std::sync::Mutex<std::collections::HashSet<(String, crate::builders::ChildKind)>>,
}

impl AbsentMemo {
    fn entries(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashSet<(String, crate::builders::ChildKind)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the child of `kind` owned by `uid` is known absent.
    pub fn knows(&self, uid: &str, kind: crate::builders::ChildKind) -> bool {
        self.entries().contains(&(uid.to_string(), kind))
    }

    /// Records that the child of `kind` owned by `uid` does not exist.
    pub fn mark(&self, uid: &str, kind: crate::builders::ChildKind) {
        self.entries().insert((uid.to_string(), kind));
    }

    /// Forgets what is known of the child of `kind` owned by `uid`: it is being applied.
    pub fn forget(&self, uid: &str, kind: crate::builders::ChildKind) {
        self.entries().remove(&(uid.to_string(), kind));
    }

    /// Keeps only the entries of owners `live` holds.
    pub fn retain_owners(&self, live: &std::collections::HashSet<String>) {
        self.entries().retain(|(uid, _)| live.contains(uid));
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }
}

/// Drops every annotation but the operator's stamp of what it last applied
/// (see [`super::apply::stamped`]): others' annotations (e.g. a last-applied
/// configuration) can be large and are never read. The Ingress keeps all of
/// its annotations, which are part of what we apply.
pub fn keep_own_annotations(meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) {
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.retain(|key, _| key == super::apply::APPLIED_ANNOTATION);
    }
}

/// Replica counts of a workload kind, read from its (slim) object; `None` for other kinds.
pub fn no_workload<K>(_: &K) -> Option<WorkloadState> {
    None
}

/// Replica counts of a Deployment, and whether its rollout was given up on.
pub fn deployment_state(d: &Deployment) -> Option<WorkloadState> {
    let status = d.status.clone().unwrap_or_default();
    let replicas = d.spec.as_ref().and_then(|s| s.replicas);
    let state = workload_state(
        replicas,
        status.ready_replicas,
        status.updated_replicas,
        (status.observed_generation, d.metadata.generation),
    );
    let deadline_exceeded = status.conditions.iter().flatten().any(progress_deadline_exceeded);
    Some(WorkloadState { deadline_exceeded, ..state })
}

/// Whether `condition` is the Deployment controller's verdict that a rollout
/// made no progress within `progressDeadlineSeconds`.
pub fn progress_deadline_exceeded(condition: &DeploymentCondition) -> bool {
    condition.type_ == "Progressing"
        && condition.status == "False"
        && condition.reason.as_deref() == Some("ProgressDeadlineExceeded")
}

/// Replica counts of a StatefulSet.
pub fn statefulset_state(s: &StatefulSet) -> Option<WorkloadState> {
    let status = s.status.clone().unwrap_or_default();
    let replicas = s.spec.as_ref().and_then(|s| s.replicas);
    Some(workload_state(
        replicas,
        status.ready_replicas,
        status.updated_replicas,
        (status.observed_generation, s.metadata.generation),
    ))
}

/// Counts from a workload's spec and status; `generations` is (observed, current).
fn workload_state(
    replicas: Option<i32>,
    ready: Option<i32>,
    updated: Option<i32>,
    generations: (Option<i64>, Option<i64>),
) -> WorkloadState {
    WorkloadState {
        // The API server defaults an unset replica count to 1.
        desired: replicas.unwrap_or(1),
        ready: ready.unwrap_or(0),
        updated: updated.unwrap_or(0),
        observed_current: generations.0 >= generations.1,
        deadline_exceeded: false,
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::Deployment;
    use serde_json::json;

    use super::{AppliedMemo, Entry, Slim, Written, deployment_state, wakes_owner, wakes_owner_of};
    use crate::controller::apply::memo_key;

    fn deployment(conditions: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "demo-api", "generation": 2},
            "spec": {"replicas": 3, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "readyReplicas": 0, "updatedReplicas": 3, "conditions": conditions},
        }))
        .expect("a Deployment")
    }

    #[test]
    fn a_rollout_past_its_deadline_survives_slimming_and_is_read() {
        let mut d = deployment(json!([
            {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "..."},
        ]));
        d.slim();
        let kept = d.status.as_ref().and_then(|s| s.conditions.as_ref()).map(Vec::len);
        assert_eq!(kept, Some(1), "only the verdict is cached");
        assert!(deployment_state(&d).is_some_and(|w| w.deadline_exceeded));
    }

    #[test]
    fn a_rollout_still_progressing_is_not_given_up_on() {
        let mut d = deployment(json!([
            {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"},
        ]));
        d.slim();
        assert_eq!(d.status.as_ref().and_then(|s| s.conditions.as_ref()), None, "nothing to keep");
        assert!(deployment_state(&d).is_some_and(|w| !w.deadline_exceeded));
    }

    /// An HPA as the watch caches it, at `rv`, with `min` replicas and a
    /// status the cache drops.
    fn hpa(rv: &str, min: i32) -> Entry<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler> {
        let mut o: k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler = serde_json::from_value(json!({
            "metadata": {"name": "demo-api", "uid": "u1", "resourceVersion": rv},
            "spec": {"minReplicas": min, "maxReplicas": 10,
                     "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "demo-api"}},
            "status": {"currentReplicas": 2, "desiredReplicas": 2},
        }))
        .expect("an HPA");
        o.slim();
        Entry::of(&o, None)
    }

    #[test]
    fn status_churn_of_an_autoscaler_wakes_nobody_but_a_spec_edit_does() {
        assert!(wakes_owner(None, &hpa("1", 2)), "a first sight wakes its owner");
        assert!(!wakes_owner(Some(&hpa("1", 2)), &hpa("2", 2)), "only the resourceVersion moved");
        assert!(wakes_owner(Some(&hpa("2", 2)), &hpa("3", 5)), "someone edited the spec");
    }

    #[test]
    fn a_service_is_vouched_for_by_its_resource_version_so_every_move_wakes() {
        let service = |rv: &str| {
            let mut o: k8s_openapi::api::core::v1::Service = serde_json::from_value(json!({
                "metadata": {"name": "demo-api", "uid": "u1", "resourceVersion": rv},
                "spec": {"ports": [{"port": 80}]},
            }))
            .expect("a Service");
            o.slim();
            Entry::of(&o, None)
        };
        // Its spec is not cached: an edit shows only as a new resourceVersion.
        assert!(wakes_owner(Some(&service("1")), &service("2")));
        assert!(!wakes_owner(Some(&service("2")), &service("2")));
    }

    #[test]
    fn a_deployment_wakes_on_counts_it_reports_not_on_others() {
        assert!(!wakes_owner(Some(&at("1", 1, 0)), &at("2", 1, 1)), "availableReplicas is not reported");
        assert!(wakes_owner(Some(&at("2", 1, 1)), &at("3", 2, 1)), "readyReplicas is");
    }

    /// A Deployment as its watch caches it, at `rv`, with `ready` and `available` replicas.
    fn at(rv: &str, ready: i32, available: i32) -> Entry<Deployment> {
        let mut d: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "demo-api", "uid": "u1", "generation": 1, "resourceVersion": rv},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": 1, "readyReplicas": ready, "updatedReplicas": 2,
                       "availableReplicas": available},
        }))
        .expect("a Deployment");
        d.slim();
        Entry::of(&d, deployment_state(&d))
    }

    /// A memo that says the operator's last write of the Deployment returned `written`.
    fn memo_of(written: &Entry<Deployment>) -> AppliedMemo {
        let memo = AppliedMemo::default();
        let key = memo_key::<Deployment>("", "demo-api");
        let mark = memo.mark(key);
        memo.record(key, 7, written.version(), Written::of(written), mark);
        memo
    }

    #[test]
    fn the_watch_echo_of_our_own_write_wakes_nobody() {
        let memo = memo_of(&at("5", 0, 0));
        assert!(!wakes_owner_of(None, &at("5", 0, 0), &memo), "the create, seen by the watch");
        let memo = memo_of(&at("6", 1, 0));
        assert!(!wakes_owner_of(Some(&at("5", 0, 0)), &at("6", 1, 0), &memo), "an update, seen by the watch");
    }

    #[test]
    fn an_awaited_echo_is_kept_only_until_the_next_event_or_relist() {
        let key = memo_key::<Deployment>("", "demo-api");
        let awaited = |memo: &AppliedMemo| memo.inner().echoes.len();
        let memo = memo_of(&at("5", 0, 0));
        assert_eq!(awaited(&memo), 1);
        memo.saw(key);
        assert_eq!(awaited(&memo), 0, "any event ends the wait");
        assert!(memo.holds(key, 7, at("5", 0, 0).version()), "what was applied is still remembered");
        let memo = memo_of(&at("5", 0, 0));
        memo.forget_echoes();
        assert_eq!(awaited(&memo), 0, "a relist ends every wait");
        let memo = memo_of(&at("5", 0, 0));
        memo.forget(key);
        assert_eq!(awaited(&memo), 0, "a deleted child is forgotten whole");
    }

    #[test]
    fn news_after_our_write_wakes_even_when_it_looks_like_the_echo() {
        let memo = memo_of(&at("5", 0, 0));
        assert!(wakes_owner_of(None, &at("6", 1, 0), &memo), "the workload controller counted since");
        assert!(
            wakes_owner_of(Some(&at("6", 1, 0)), &at("7", 0, 0), &memo),
            "the echo was the event before: back to the written state is news"
        );
        assert!(wakes_owner_of(None, &at("5", 0, 0), &AppliedMemo::default()), "nothing written");
    }

    #[test]
    fn a_memo_key_hashed_in_parts_is_the_digest_of_the_whole_reference() {
        let whole = crate::digest::fnv1a("Deployment/team/demo-api");
        assert_eq!(memo_key::<Deployment>("team", "demo-api"), whole);
        assert_ne!(memo_key::<Deployment>("team", "demo-ap"), whole);
    }

    #[test]
    fn a_write_vouches_for_its_object_until_the_watch_brings_any_event_of_it() {
        let key = memo_key::<Deployment>("", "demo-api");
        let memo = memo_of(&at("5", 0, 0));
        assert_eq!(memo.unechoed(key, 8), None, "another desired object");
        assert!(memo.unechoed(key, 7).is_some_and(|w| w.is_some_and(|w| w.desired == 2)));
        wakes_owner_of(None, &at("6", 1, 0), &memo);
        assert_eq!(memo.unechoed(key, 7), None, "the watch has brought news: the cache says");
        let memo = memo_of(&at("5", 0, 0));
        memo.forget_echoes();
        assert_eq!(memo.unechoed(key, 7), None, "a relist says what exists");
    }

    #[test]
    fn an_event_that_arrives_while_the_write_is_in_flight_keeps_the_cache_the_judge() {
        let key = memo_key::<Deployment>("", "demo-api");
        let written = at("5", 0, 0);
        let memo = AppliedMemo::default();
        let mark = memo.mark(key);
        // Someone's edit, brought by the watch before the response was read.
        assert!(wakes_owner_of(None, &at("6", 1, 0), &memo));
        memo.record(key, 7, written.version(), Written { entry: written.digest(), workload: None }, mark);
        assert_eq!(memo.unechoed(key, 7), None);
        assert!(memo.holds(key, 7, written.version()), "the version still vouches, through the cache");
        let mark = memo.mark(key);
        memo.forget_echoes();
        memo.record(key, 7, written.version(), Written { entry: written.digest(), workload: None }, mark);
        assert_eq!(memo.unechoed(key, 7), None, "nor while the watch started over");
    }
}
