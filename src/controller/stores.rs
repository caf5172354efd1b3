//! Caches of the objects XAgents own, shared by the watches and the reconciler.
//!
//! Reading desired-vs-observed from these caches is what lets an unchanged
//! XAgent reconcile without a single request to the API server.

use std::sync::Arc;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::Resource;
use kube::runtime::reflector::{self, ObjectRef, Store};

/// One cache per child kind.
#[derive(Clone)]
pub struct Stores {
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
}

/// Empty caches and their writers.
pub fn new() -> (Stores, Writers) {
    let (services, services_w) = reflector::store();
    let (deployments, deployments_w) = reflector::store();
    let (statefulsets, statefulsets_w) = reflector::store();
    let (hpas, hpas_w) = reflector::store();
    let (pdbs, pdbs_w) = reflector::store();
    (
        Stores { services, deployments, statefulsets, hpas, pdbs },
        Writers {
            services: services_w,
            deployments: deployments_w,
            statefulsets: statefulsets_w,
            hpas: hpas_w,
            pdbs: pdbs_w,
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
        self.pdbs.wait_until_ready().await
    }
}
