//! Caches of the objects XAgents own, shared by the watches and the reconciler.
//!
//! Reading desired-vs-observed from these caches is what lets an unchanged
//! XAgent reconcile without a single request to the API server.

use std::sync::Arc;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::Resource;
use kube::runtime::reflector::{self, ObjectRef, Store};

/// One cache per child kind.
///
/// Children are cached slim: metadata, and replicas and status for workloads.
/// Their specs are checked through [`AppliedMemo`] and the object's
/// generation (or resourceVersion) instead of being held in memory.
#[derive(Clone)]
pub struct Stores {
    /// What the operator last found or applied for each workload.
    pub applied: Arc<AppliedMemo>,
    /// Services.
    pub services: Store<Service>,
    /// Deployments.
    pub deployments: Store<Deployment>,
    /// StatefulSets.
    pub statefulsets: Store<StatefulSet>,
    /// HorizontalPodAutoscalers.
    pub hpas: Store<HorizontalPodAutoscaler>,
    /// PodDisruptionBudgets.
    pub pdbs: Store<PodDisruptionBudget>,
    /// NetworkPolicies.
    pub network_policies: Store<NetworkPolicy>,
    /// Ingresses.
    pub ingresses: Store<Ingress>,
}

/// The writing halves of [`Stores`], fed by the watches (or by tests).
pub struct Writers {
    /// Services.
    pub services: reflector::store::Writer<Service>,
    /// Deployments.
    pub deployments: reflector::store::Writer<Deployment>,
    /// StatefulSets.
    pub statefulsets: reflector::store::Writer<StatefulSet>,
    /// HorizontalPodAutoscalers.
    pub hpas: reflector::store::Writer<HorizontalPodAutoscaler>,
    /// PodDisruptionBudgets.
    pub pdbs: reflector::store::Writer<PodDisruptionBudget>,
    /// NetworkPolicies.
    pub network_policies: reflector::store::Writer<NetworkPolicy>,
    /// Ingresses.
    pub ingresses: reflector::store::Writer<Ingress>,
}

/// Empty caches and their writers.
pub fn new() -> (Stores, Writers) {
    let (services, services_w) = reflector::store();
    let (deployments, deployments_w) = reflector::store();
    let (statefulsets, statefulsets_w) = reflector::store();
    let (hpas, hpas_w) = reflector::store();
    let (pdbs, pdbs_w) = reflector::store();
    let (network_policies, network_policies_w) = reflector::store();
    let (ingresses, ingresses_w) = reflector::store();
    (
        Stores {
            applied: Arc::default(),
            services,
            deployments,
            statefulsets,
            hpas,
            pdbs,
            network_policies,
            ingresses,
        },
        Writers {
            services: services_w,
            deployments: deployments_w,
            statefulsets: statefulsets_w,
            hpas: hpas_w,
            pdbs: pdbs_w,
            network_policies: network_policies_w,
            ingresses: ingresses_w,
        },
    )
}

/// The cached object `namespace/name`, if any.
pub fn lookup<K>(store: &Store<K>, namespace: &str, name: &str) -> Option<Arc<K>>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + 'static,
{
    store.get(&ObjectRef::new(name).within(namespace))
}

impl Stores {
    /// Waits until every cache holds its first full list, so a missing entry means "absent".
    pub async fn wait_until_ready(&self) -> Result<(), reflector::store::WriterDropped> {
        self.services.wait_until_ready().await?;
        self.deployments.wait_until_ready().await?;
        self.statefulsets.wait_until_ready().await?;
        self.hpas.wait_until_ready().await?;
        self.pdbs.wait_until_ready().await?;
        self.network_policies.wait_until_ready().await?;
        self.ingresses.wait_until_ready().await
    }
}

/// For each child: the fingerprint of the desired object last found in place
/// or applied, and the object's version then (its generation, which the API
/// server bumps on every spec change, or its resourceVersion for kinds without
/// one). The same fingerprint at the same version means the object still holds
/// what we want, without caching its spec. Lost on restart: each child is then
/// read once.
#[derive(Debug, Default)]
pub struct AppliedMemo {
    entries: std::sync::Mutex<std::collections::HashMap<String, (u64, String)>>,
}

impl AppliedMemo {
    fn entries(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, (u64, String)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `key` was last seen matching `fingerprint` at `version`.
    pub fn holds(&self, key: &str, fingerprint: u64, version: &str) -> bool {
        self.entries().get(key).is_some_and(|(f, v)| *f == fingerprint && v == version)
    }

    /// Records that `key` matched `fingerprint` at `version`.
    pub fn record(&self, key: String, fingerprint: u64, version: String) {
        self.entries().insert(key, (fingerprint, version));
    }

    /// Forgets `key`.
    pub fn forget(&self, key: &str) {
        self.entries().remove(key);
    }
}

/// Drops every annotation but the operator's stamp of what it last applied
/// (see [`super::apply::stamped`]): others' annotations (e.g. a last-applied
/// configuration) can be large and are never read. The Ingress keeps all of
/// its annotations, which are part of what we apply.
fn keep_own_annotations(meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) {
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.retain(|key, _| key == super::apply::APPLIED_ANNOTATION);
    }
}

/// Keeps only the metadata of a cached Service.
pub fn slim_service(s: &mut Service) {
    keep_own_annotations(&mut s.metadata);
    s.spec = None;
    s.status = None;
}

/// Keeps only the metadata of a cached HorizontalPodAutoscaler.
pub fn slim_hpa(h: &mut HorizontalPodAutoscaler) {
    keep_own_annotations(&mut h.metadata);
    h.spec = None;
    h.status = None;
}

/// Keeps only the metadata of a cached PodDisruptionBudget.
pub fn slim_pdb(p: &mut PodDisruptionBudget) {
    keep_own_annotations(&mut p.metadata);
    p.spec = None;
    p.status = None;
}

/// Keeps only the metadata of a cached NetworkPolicy.
pub fn slim_network_policy(n: &mut NetworkPolicy) {
    keep_own_annotations(&mut n.metadata);
    n.spec = None;
}

/// Keeps only the metadata of a cached Ingress, annotations included: they
/// are part of what we apply (controller settings).
pub fn slim_ingress(i: &mut Ingress) {
    i.spec = None;
    i.status = None;
}

/// Drops the parts of a cached Deployment the operator never reads.
pub fn slim_deployment(d: &mut Deployment) {
    keep_own_annotations(&mut d.metadata);
    if let Some(spec) = d.spec.as_mut() {
        spec.template = Default::default();
        spec.selector = Default::default();
        spec.strategy = None;
    }
    if let Some(status) = d.status.as_mut() {
        status.conditions = None;
    }
}

/// Drops the parts of a cached StatefulSet the operator never reads.
pub fn slim_statefulset(s: &mut StatefulSet) {
    keep_own_annotations(&mut s.metadata);
    if let Some(spec) = s.spec.as_mut() {
        spec.template = Default::default();
        spec.selector = Default::default();
        spec.volume_claim_templates = None;
        spec.update_strategy = None;
    }
    if let Some(status) = s.status.as_mut() {
        status.conditions = None;
    }
}
