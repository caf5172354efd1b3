//! Wiring for `xagent-operator run`: watches, caches and the kube-runtime Controller.

use std::fmt::Debug;
use std::sync::Arc;

use std::time::Duration;

use futures::{FutureExt, Stream, StreamExt, TryStreamExt};
use k8s_openapi::NamespaceResourceScope;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::{Controller, Predicate, WatchStreamExt, controller, predicates, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{debug, info, warn};

use std::net::SocketAddr;

use prometheus_client::registry::Registry;

use super::apply::WorkloadState;
use super::cache::CacheWriter;
use super::crds::{self, MonitoringCrds};
use super::lean::{Decode, Lean};
use super::owned::OwnedIndex;
use super::wakes::{GATHER, Wakes};
use super::{Context, error_policy, reconcile, stores};
use crate::builders::meta::MANAGER;
use crate::crd::XAgent;
use crate::http::{self, Endpoint};
use crate::leader::{LeaderElector, LeaseConfig};
use crate::metrics::Metrics;
use crate::probes::prober::{Prober, ProberConfig};
use crate::probes::state::ProbeState;

/// Where the controller looks for XAgents.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Watch only these namespaces; empty watches all namespaces.
    pub namespaces: Vec<String>,
}

/// Settings of `xagent-operator run`.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Which namespaces to watch.
    pub scope: Scope,
    /// Address of /metrics, /healthz and /readyz.
    pub metrics_address: SocketAddr,
    /// Lease to hold before working; `None` runs without leader election.
    pub leader_election: Option<LeaseConfig>,
    /// The installation's settings the builders apply.
    pub settings: crate::builders::Settings,
    /// XAgents reconciled at the same time, per watched namespace.
    pub concurrency: u16,
}

/// XAgents reconciled at the same time by default (see docs/performance.md
/// for the curve it was chosen from).
pub const DEFAULT_CONCURRENCY: u16 = 8;

/// Why `run` ended other than by a shutdown signal.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The metrics address could not be bound.
    #[error("binding the metrics address failed: {0}")]
    Bind(#[source] std::io::Error),
    /// Leadership was lost; another replica may be reconciling now.
    #[error("lost leadership of the Lease; exiting so this replica restarts as a follower")]
    LostLease,
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

impl Scope {
    /// One controller per namespace (each with its own caches), or one for all.
    fn parts(&self) -> Vec<Option<String>> {
        if self.namespaces.is_empty() {
            vec![None]
        } else {
            let mut namespaces = self.namespaces.clone();
            namespaces.sort();
            namespaces.dedup();
            namespaces.into_iter().map(Some).collect()
        }
    }
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Marks the endpoint ready once every controller's caches are synced.
struct SyncGate {
    pending: std::sync::atomic::AtomicUsize,
    endpoint: Arc<Endpoint>,
}

impl SyncGate {
    fn synced(&self) {
        if self.pending.fetch_sub(1, std::sync::atomic::Ordering::AcqRel) == 1 {
            self.endpoint.set_ready();
        }
    }
}

/// The XAgent watch, cached. Each XAgent is cached without what the operator
/// never reads and that can outweigh the rest of it: its managedFields, and
/// the copy of the whole object that client-side `kubectl apply` keeps in
/// an annotation (nothing the operator builds carries an XAgent's
/// annotations, and a change of that copy comes with a change of the spec).
fn cached_xagents(
    api: Api<XAgent>,
    config: watcher::Config,
    writer: Writer<XAgent>,
) -> impl Stream<Item = Result<XAgent, watcher::Error>> + Send + 'static {
    watcher(api, config).default_backoff().modify(slim_xagent).reflect(writer).touched_objects()
}

/// Drops what [`cached_xagents`] does not keep.
fn slim_xagent(xagent: &mut XAgent) {
    xagent.managed_fields_mut().clear();
    if let Some(annotations) = xagent.metadata.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
    }
}

/// Where client-side `kubectl apply` keeps the object it last applied.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// How a child kind's watch reduces its objects: `slim` drops what the
/// cache need not keep, `workload` reads replica counts, and `shared` holds
/// the memo (which tells the echoes of the operator's own writes) and the
/// owner index, both kept up to date by the watch.
struct Reduce<K> {
    slim: fn(&mut K),
    workload: fn(&K) -> Option<WorkloadState>,
    shared: Bookkeeping,
}

/// What every child watch keeps up to date or reads besides its cache, and
/// where it sends the XAgents its events wake.
#[derive(Clone)]
struct Bookkeeping {
    memo: Arc<stores::AppliedMemo>,
    owned: Arc<OwnedIndex>,
    wakes: Wakes,
}

/// A cached watch of a child kind: each object is slimmed, and its cache
/// keeps only its [`stores::Entry`] (see [`Reduce`]). Its owner is woken by
/// every object of the first list, by every deletion, and by an update only
/// when the entry changed in more than its resourceVersion and is not the
/// echo of our own write ([`stores::wakes_owner_of`]): status churn the
/// cache drops wakes nobody. Wakes go to [`Wakes`], which gathers those of
/// one XAgent; the stream yields nothing but the watch's errors, and is
/// polled for its cache.
fn slim_watch<K>(
    events: impl Stream<Item = watcher::Result<watcher::Event<K>>> + Send + 'static,
    mut writer: CacheWriter<K>,
    reduce: Reduce<K>,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Serialize + Send + Sync + 'static,
{
    let cache = writer.as_reader();
    let Reduce { slim, workload, shared: Bookkeeping { memo, owned, wakes } } = reduce;
    let entry = move |o: &K| stores::Entry::of(o, workload(o));
    events
        .default_backoff()
        .modify(move |o: &mut K| {
            o.managed_fields_mut().clear();
            slim(o);
        })
        .map_ok(move |event| {
            let (cached, previous, woken) = match event {
                watcher::Event::Apply(o) => {
                    let next = entry(&o);
                    let previous = cache.get(next.namespace(), next.name());
                    let woken = stores::wakes_owner_of(previous.as_deref(), &next, &memo).then_some(o);
                    (watcher::Event::Apply(next), previous, woken)
                }
                watcher::Event::InitApply(o) => {
                    let listed = entry(&o);
                    memo.saw(stores::memo_key_of(&listed));
                    (watcher::Event::InitApply(listed), None, Some(o))
                }
                watcher::Event::Delete(o) => {
                    let gone = entry(&o);
                    memo.saw(stores::memo_key_of(&gone));
                    (watcher::Event::Delete(gone), None, Some(o))
                }
                watcher::Event::Init => {
                    memo.forget_echoes();
                    (watcher::Event::Init, None, None)
                }
                watcher::Event::InitDone => (watcher::Event::InitDone, None, None),
            };
            owned.follow(&cached, previous.as_deref());
            writer.apply_watcher_event(cached);
            if let Some(child) = woken {
                wakes.owners_of(&child);
            }
        })
        .try_filter_map(|()| std::future::ready(Ok(None)))
}

/// A namespaced kind the operator can watch.
trait Watchable:
    Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + Debug + DeserializeOwned + Send + 'static
{
}

impl<K> Watchable for K where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + DeserializeOwned
        + Send
        + 'static
{
}

/// The watch of a kind whose cache needs more than metadata: whole objects,
/// decoded without what the cache drops ([`Lean`]).
fn object_events<K: Watchable + Decode>(
    (client, ns): (&Client, Option<&str>),
    config: watcher::Config,
) -> impl Stream<Item = watcher::Result<watcher::Event<K>>> + Send + use<K> {
    watcher(api::<Lean<K>>(client, ns), config).map_ok(|event| unwrap_event(event, |Lean(o)| o))
}

/// The watch of a kind whose slim form keeps only metadata: the API server
/// sends `PartialObjectMetadata`, and each object is the kind holding that
/// metadata alone, which is what slimming the whole object leaves.
fn metadata_events<K: Watchable + Decode>(
    (client, ns): (&Client, Option<&str>),
    config: watcher::Config,
) -> impl Stream<Item = watcher::Result<watcher::Event<K>>> + Send + use<K> {
    // An Api of PartialObjectMeta asks for metadata-only lists and watches.
    watcher(api::<Lean<PartialObjectMeta<K>>>(client, ns), config)
        .map_ok(|event| unwrap_event(event, |Lean(o)| K::with_metadata(o.metadata)))
}

/// `event` with its object turned from what was decoded into what is cached.
fn unwrap_event<D, K>(event: watcher::Event<D>, object: impl Fn(D) -> K) -> watcher::Event<K> {
    match event {
        watcher::Event::Apply(o) => watcher::Event::Apply(object(o)),
        watcher::Event::Delete(o) => watcher::Event::Delete(object(o)),
        watcher::Event::Init => watcher::Event::Init,
        watcher::Event::InitApply(o) => watcher::Event::InitApply(object(o)),
        watcher::Event::InitDone => watcher::Event::InitDone,
    }
}

/// Runs the controller until SIGTERM or Ctrl-C, then lets in-flight reconciles finish.
pub async fn run(client: Client, config: RunConfig) -> Result<(), RunError> {
    let mut registry = Registry::default();
    let metrics = Arc::new(Metrics::register(&mut registry));
    let endpoint = Endpoint::new(registry);
    // Bind before anything else so a busy port fails the start, loudly.
    let listener = tokio::net::TcpListener::bind(config.metrics_address).await.map_err(RunError::Bind)?;
    tokio::spawn(http::serve_on(listener, endpoint.clone()));

    let Some(lease) = config.leader_election.clone() else {
        metrics.leader.set(1);
        work_all(client, &config, metrics, endpoint).await;
        return Ok(());
    };
    // A standby replica is healthy and ready: it is waiting, by design.
    endpoint.set_ready();
    let elector = LeaderElector::new(client.clone(), lease);
    tokio::select! {
        () = elector.acquire() => {}
        () = shutdown_signal() => return Ok(()),
    }
    metrics.leader.set(1);
    let outcome = tokio::select! {
        () = work_all(client, &config, metrics, endpoint) => Ok(()),
        () = elector.keep() => Err(RunError::LostLease),
    };
    if outcome.is_ok()
        && let Err(e) = elector.release().await
    {
        warn!(error = %e, "releasing the Lease failed; a follower takes over when it expires");
    }
    outcome
}

/// A controller and a prober per namespace of the scope, until a shutdown signal.
async fn work_all(client: Client, config: &RunConfig, metrics: Arc<Metrics>, endpoint: Arc<Endpoint>) {
    let parts = config.scope.parts();
    let gate = Arc::new(SyncGate { pending: parts.len().into(), endpoint });
    let probes = Arc::new(ProbeState::default());
    let workers = parts.into_iter().map(|namespace| {
        info!(namespace = namespace.as_deref().unwrap_or("<all>"), "watching");
        let shared = Shared {
            metrics: metrics.clone(),
            probes: probes.clone(),
            gate: gate.clone(),
            settings: config.settings.clone(),
            concurrency: config.concurrency,
        };
        work(client.clone(), namespace, shared)
    });
    futures::future::join_all(workers).await;
}

/// The XAgent watch, held back until every child cache is filled (so a cache
/// miss during a reconcile really means "not there") and the monitoring CRD
/// watch has reported (so a restart does not flap MonitoringReady).
fn gated_xagents(
    client: &Client,
    ns: Option<&str>,
    writer: Writer<XAgent>,
    caches: stores::Stores,
    crds: Arc<MonitoringCrds>,
    gate: Arc<SyncGate>,
) -> impl Stream<Item = Result<XAgent, watcher::Error>> + Send + 'static {
    // A new generation (a spec change, or a deletion) or new annotations
    // (how tools ask for a reconcile, e.g. `reconcile.fluxcd.io/requestedAt`)
    // wake an XAgent; status writes, ours above all, only refresh the cache.
    let wakes = predicates::generation.combine(predicates::annotations);
    let xagent_watch = cached_xagents(api::<XAgent>(client, ns), crate::client::watch_config(), writer)
        .predicate_filter(wakes, Default::default());
    futures::stream::once(async move {
        if caches.wait_until_ready().await.is_err() {
            warn!("a child cache stopped before it was filled");
        }
        // Bounded: without the right to list CRDs it would never come.
        if tokio::time::timeout(CRD_SYNC_WAIT, crds.wait_synced()).await.is_err() {
            warn!("could not tell whether the Prometheus Operator CRDs exist; assuming not for now");
        }
        // Bounded too: until they are filled, those children are read with a GET.
        if tokio::time::timeout(CRD_SYNC_WAIT, caches.wait_until_watched_ready(&crds)).await.is_err() {
            warn!(
                "the Prometheus Operator kinds' caches are not filled yet; reading those children meanwhile"
            );
        }
        gate.synced();
        info!("child caches synced; reconciling");
    })
    .filter_map(|()| async { None })
    .chain(xagent_watch)
}

/// A metadata-only cached watch of a watched (monitoring) kind, started
/// once its CRD is served (a watch of a missing kind only fails), so an
/// edited or deleted ServiceMonitor or PrometheusRule is put back at once,
/// and an unchanged one is vouched for without a GET.
fn monitoring_watch<K>(
    api: Api<Lean<PartialObjectMeta<K>>>,
    config: watcher::Config,
    writer: CacheWriter<PartialObjectMeta<K>>,
    crds: Arc<MonitoringCrds>,
    (kind, shared): (crate::builders::ChildKind, Bookkeeping),
) -> impl Stream<Item = Result<PartialObjectMeta<K>, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    futures::stream::once(async move {
        // The CRD watch flips this flag; a fifth of a second's delay is
        // nothing next to the time it takes to install CRDs.
        while !crds.serves(kind) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let slim = |o: &mut PartialObjectMeta<K>| stores::keep_own_annotations(&mut o.metadata);
        let reduce = Reduce { slim, workload: |_| None, shared };
        slim_watch(watcher(api, config).map_ok(|event| unwrap_event(event, |Lean(o)| o)), writer, reduce)
    })
    .flatten()
}

/// The Controller's backoff of its merged trigger stream: none, since every
/// watch backs off on its own (`default_backoff`). kube's default backs off
/// the merged stream on each error of any watch, so when one connection
/// carrying every watch dies, a dozen errors at once stop every trigger,
/// of the watches that work again too, for a minute or more.
struct EachWatchBacksOff;

impl Iterator for EachWatchBacksOff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        Some(Duration::ZERO)
    }
}

impl kube::runtime::utils::Backoff for EachWatchBacksOff {
    fn reset(&mut self) {}
}

/// Expands the registry into the Controller's watches of every child kind.
macro_rules! define_owned_watches {
    (
        cached { $( $(#[$cdoc:meta])* $cv:ident($ct:ty) $field:ident $ckind:literal, slim: $slim:expr, skip: $skip:expr, state: $state:ident, watch: $watch:ident; )* }
        watched { $( $(#[$wdoc:meta])* $wv:ident($wt:ty) $wfield:ident $wkind:literal; )* }
    ) => {
        /// A Controller over `xagent_stream` that owns every child kind: the cached
        /// ones through their caches, the watched ones through metadata watches.
        fn controller(
            client: &Client,
            ns: Option<&str>,
            xagent_stream: impl Stream<Item = Result<XAgent, watcher::Error>> + Send + 'static,
            xagents: reflector::Store<XAgent>,
            (w, shared): (stores::Writers, Bookkeeping),
            crds: Arc<MonitoringCrds>,
            concurrency: u16,
        ) -> Controller<XAgent> {
            let owned = crate::client::watch_config().labels(&format!("app.kubernetes.io/managed-by={MANAGER}"));
            Controller::for_stream(xagent_stream, xagents)
                $( .owns_stream(slim_watch($watch::<$ct>((client, ns), owned.clone()), w.$field, Reduce {
                    slim: <$ct as stores::Slim>::slim,
                    workload: <$ct as stores::Cacheable>::workload,
                    shared: shared.clone(),
                })) )*
                $( .owns_stream(monitoring_watch(api::<Lean<PartialObjectMeta<$wt>>>(client, ns), owned.clone(), w.$wfield, crds.clone(), (crate::builders::ChildKind::$wv, shared.clone()))) )*
                .with_config(controller::Config::default().concurrency(concurrency))
                .trigger_backoff(EachWatchBacksOff)
        }

        /// For a child of a kind watched metadata-only, as the API server
        /// would store it (uid, resourceVersion, generation): its slim form as
        /// the watch of whole objects would cache it, and as the metadata
        /// watch does. `None` for other kinds.
        #[cfg(test)]
        fn both_slim_forms(child: &crate::builders::Child) -> Option<(serde_json::Value, serde_json::Value)> {
            use stores::Slim;
            match child {
                $( crate::builders::Child::$cv(o) if stringify!($watch) == "metadata_events" => {
                    let mut whole = o.clone();
                    whole.metadata.uid = Some("uid-1".into());
                    whole.metadata.resource_version = Some("42".into());
                    whole.metadata.generation = Some(3);
                    let metadata = whole.metadata.clone();
                    whole.slim();
                    let mut from_meta = <$ct as Decode>::with_metadata(metadata);
                    from_meta.slim();
                    Some((serde_json::to_value(&whole).ok()?, serde_json::to_value(&from_meta).ok()?))
                } )*
                _ => None,
            }
        }
    };
}

crate::builders::registry::child_kinds!(define_owned_watches);

/// What every namespace's controller shares.
struct Shared {
    metrics: Arc<Metrics>,
    probes: Arc<ProbeState>,
    gate: Arc<SyncGate>,
    settings: crate::builders::Settings,
    concurrency: u16,
}

/// The controller and the prober of one namespace (or all), until a shutdown signal.
async fn work(client: Client, namespace: Option<String>, shared: Shared) {
    let Shared { metrics, probes, gate, settings, concurrency } = shared;
    let ns = namespace.as_deref();
    let (stores, writers) = stores::new();
    let (wakes, woken) = Wakes::new(GATHER);
    let shared = Bookkeeping { memo: stores.applied.clone(), owned: stores.owned.clone(), wakes };
    let (xagents, xagent_writer) = reflector::store::<XAgent>();
    let crds = Arc::new(MonitoringCrds::default());
    let xagent_stream = gated_xagents(&client, ns, xagent_writer, stores.clone(), crds.clone(), gate);
    let crds_appear = crds::watch(client.clone(), crds.clone());
    let (health_changed, health_changes) = futures::channel::mpsc::unbounded();
    let config = ProberConfig { namespace: namespace.clone(), ..ProberConfig::default() };
    let prober =
        Prober::new(client.clone(), xagents.clone(), probes.clone(), metrics.clone(), health_changed, config);
    let prober = tokio::spawn(prober.run());
    let ctx = Arc::new(
        Context::new(client.clone(), stores)
            .with_metrics(metrics)
            .with_crds(crds)
            .with_probes(probes)
            .with_settings(settings),
    );
    let janitor = tokio::spawn(forget_gone_periodically(ctx.clone(), xagents.clone()));
    let stop = shutdown_signal().shared();
    let run =
        controller(&client, ns, xagent_stream, xagents, (writers, shared), ctx.crds.clone(), concurrency)
            .reconcile_all_on(crds_appear)
            .reconcile_on(health_changes)
            .reconcile_on(woken)
            .graceful_shutdown_on(stop.clone())
            .run(reconcile, error_policy, ctx)
            .for_each(|result| async move {
                match result {
                    Ok((object, _)) => {
                        debug!(namespace = object.namespace.as_deref(), name = %object.name, "reconciled")
                    }
                    Err(e) => debug!(error = %e, "reconcile did not complete"),
                }
            });
    // After the signal, in-flight reconciles get a grace period; a controller
    // still blocked after it (e.g. on an unreachable API server) is abandoned.
    tokio::select! {
        () = run => {}
        () = async { stop.await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
            warn!("reconciles still running after the grace period; stopping anyway");
        }
    }
    prober.abort();
    janitor.abort();
    info!("controller stopped");
}

/// How often per-XAgent bookkeeping of deleted XAgents is dropped.
const FORGET_EVERY: Duration = Duration::from_secs(60);

/// Drops per-XAgent bookkeeping of XAgents gone from the cache, every minute.
async fn forget_gone_periodically(ctx: Arc<Context>, xagents: reflector::Store<XAgent>) {
    let mut every = tokio::time::interval(FORGET_EVERY);
    loop {
        every.tick().await;
        ctx.forget_gone(&xagents.state());
    }
}

/// How long the first reconciles wait to learn whether the monitoring CRDs exist.
const CRD_SYNC_WAIT: Duration = Duration::from_secs(10);

/// How long in-flight reconciles may finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_xagent_keeps_its_own_annotations_but_not_kubectls_copy_of_it() {
        let mut xagent: XAgent = serde_json::from_value(serde_json::json!({
            "apiVersion": "xagent.io/v1alpha1", "kind": "XAgent",
            "metadata": {"name": "demo", "annotations": {
                LAST_APPLIED: "{\"apiVersion\":\"xagent.io/v1alpha1\"}",
                "reconcile.fluxcd.io/requestedAt": "now"}},
            "spec": {},
        }))
        .expect("an XAgent");
        slim_xagent(&mut xagent);
        let kept: Vec<_> = xagent.annotations().keys().map(String::as_str).collect();
        assert_eq!(kept, ["reconcile.fluxcd.io/requestedAt"]);
    }

    #[test]
    fn an_empty_scope_is_one_controller_for_all_namespaces() {
        assert_eq!(Scope::default().parts(), vec![None]);
    }

    #[test]
    fn listed_namespaces_get_one_controller_each_without_duplicates() {
        let scope = Scope { namespaces: vec!["b".into(), "a".into(), "b".into()] };
        assert_eq!(scope.parts(), vec![Some("a".to_string()), Some("b".to_string())]);
    }

    /// The Accept header of the first request (the list) `watch` sends.
    async fn first_accept<S>(watch: impl FnOnce(&Client) -> S) -> String
    where
        S: Stream + Send + 'static,
    {
        type Mock = tower_test::mock::Handle<
            ::http::Request<kube::client::Body>,
            ::http::Response<kube::client::Body>,
        >;
        let (service, mut handle): (_, Mock) = tower_test::mock::pair();
        let client = Client::new(service, "team");
        let stream = watch(&client);
        // The watch yields `Init` before it sends anything: drive it on.
        let polling = tokio::spawn(async move { Box::pin(stream).for_each(|_| async {}).await });
        let (request, _reply) = handle.next_request().await.expect("the watch lists first");
        polling.abort();
        let accept = request.headers().get(::http::header::ACCEPT);
        accept.and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
    }

    #[tokio::test]
    async fn metadata_watches_ask_the_server_for_metadata_only() {
        use k8s_openapi::api::apps::v1::Deployment;
        use k8s_openapi::api::core::v1::Service;
        let config = crate::client::watch_config();
        let metadata = first_accept(|c| metadata_events::<Service>((c, Some("team")), config.clone())).await;
        assert!(metadata.contains("as=PartialObjectMetadataList"), "{metadata}");
        let whole = first_accept(|c| object_events::<Deployment>((c, Some("team")), config)).await;
        assert!(!whole.contains("PartialObjectMetadata"), "{whole}");
    }

    #[test]
    fn a_metadata_watch_caches_exactly_what_slimming_the_whole_object_would() {
        let yaml = include_str!("../../config/samples/xagent-everything.yaml");
        let mut xagent = crate::render::parse_documents(yaml).expect("the sample is valid").remove(0);
        xagent.spec.network_policy.enabled = true;
        xagent.spec.monitoring.dashboard.enabled = true;
        let mut compared = std::collections::BTreeSet::new();
        for child in crate::builders::build(&xagent) {
            if let Some((whole, from_metadata)) = both_slim_forms(&child) {
                assert_eq!(whole, from_metadata, "{}", child.reference());
                compared.insert(child.kind().as_str());
            }
        }
        let expected =
            ["ConfigMap", "Ingress", "NetworkPolicy", "PodDisruptionBudget", "Service", "ServiceAccount"];
        assert_eq!(compared, expected.into_iter().collect());
    }

    #[test]
    fn readiness_waits_for_every_controller() {
        let endpoint = Endpoint::new(Registry::default());
        let gate = SyncGate { pending: 2.into(), endpoint: endpoint.clone() };
        gate.synced();
        assert!(!endpoint.ready.load(std::sync::atomic::Ordering::Acquire));
        gate.synced();
        assert!(endpoint.ready.load(std::sync::atomic::Ordering::Acquire));
    }
}
