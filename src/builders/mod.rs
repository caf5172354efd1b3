//! Pure builders: an XAgent in, the exact child objects it should own out.
//!
//! Nothing here talks to a cluster, so `render`, the controller and the unit
//! tests all see the same desired state.

pub mod exposure;
pub mod meta;
pub mod network;
pub mod pod;
pub mod policy;
pub mod quantity;
pub mod workloads;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use crate::monitoring::types::{PrometheusRule, ServiceMonitor};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

pub use meta::Component;

use crate::crd::{ComponentSpec, XAgent};

/// One desired child object, typed so the apply layer can pick the right API.
#[derive(Debug, Clone, PartialEq)]
pub enum Child {
    /// A component Service.
    Service(Service),
    /// A stateless component's Deployment.
    Deployment(Deployment),
    /// ChromaDB's StatefulSet.
    StatefulSet(StatefulSet),
    /// A component's autoscaler.
    Hpa(HorizontalPodAutoscaler),
    /// A component's disruption budget.
    Pdb(PodDisruptionBudget),
    /// A component's NetworkPolicy.
    NetworkPolicy(NetworkPolicy),
    /// The Ingress.
    Ingress(Ingress),
    /// The Prometheus Operator scrape configuration.
    ServiceMonitor(ServiceMonitor),
    /// The Prometheus Operator alert catalog.
    PrometheusRule(PrometheusRule),
}

/// The kinds of object an XAgent can own, for watches, RBAC and status reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChildKind {
    /// core/v1 Service.
    Service,
    /// apps/v1 Deployment.
    Deployment,
    /// apps/v1 StatefulSet.
    StatefulSet,
    /// autoscaling/v2 HorizontalPodAutoscaler.
    Hpa,
    /// policy/v1 PodDisruptionBudget.
    Pdb,
    /// networking.k8s.io/v1 NetworkPolicy.
    NetworkPolicy,
    /// networking.k8s.io/v1 Ingress.
    Ingress,
    /// monitoring.coreos.com/v1 ServiceMonitor.
    ServiceMonitor,
    /// monitoring.coreos.com/v1 PrometheusRule.
    PrometheusRule,
}

impl ChildKind {
    /// Whether the kind comes from the Prometheus Operator CRDs.
    pub fn is_monitoring(self) -> bool {
        matches!(self, Self::ServiceMonitor | Self::PrometheusRule)
    }

    /// The kind name at the front of a `Kind/name` reference, or "unknown".
    pub fn from_reference(reference: &str) -> &'static str {
        let kind = reference.split('/').next().unwrap_or_default();
        Self::ALL.into_iter().map(Self::as_str).find(|k| *k == kind).unwrap_or("unknown")
    }

    /// Every kind.
    pub const ALL: [ChildKind; 9] = [
        Self::Service,
        Self::Deployment,
        Self::StatefulSet,
        Self::Hpa,
        Self::Pdb,
        Self::NetworkPolicy,
        Self::Ingress,
        Self::ServiceMonitor,
        Self::PrometheusRule,
    ];

    /// The Kubernetes kind name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Service => "Service",
            Self::Deployment => "Deployment",
            Self::StatefulSet => "StatefulSet",
            Self::Hpa => "HorizontalPodAutoscaler",
            Self::Pdb => "PodDisruptionBudget",
            Self::NetworkPolicy => "NetworkPolicy",
            Self::Ingress => "Ingress",
            Self::ServiceMonitor => "ServiceMonitor",
            Self::PrometheusRule => "PrometheusRule",
        }
    }
}

impl Child {
    /// Which kind of object this is.
    pub fn kind(&self) -> ChildKind {
        match self {
            Self::Service(_) => ChildKind::Service,
            Self::Deployment(_) => ChildKind::Deployment,
            Self::StatefulSet(_) => ChildKind::StatefulSet,
            Self::Hpa(_) => ChildKind::Hpa,
            Self::Pdb(_) => ChildKind::Pdb,
            Self::NetworkPolicy(_) => ChildKind::NetworkPolicy,
            Self::Ingress(_) => ChildKind::Ingress,
            Self::ServiceMonitor(_) => ChildKind::ServiceMonitor,
            Self::PrometheusRule(_) => ChildKind::PrometheusRule,
        }
    }

    /// The object's name.
    pub fn name(&self) -> String {
        self.meta().name.clone().unwrap_or_default()
    }

    /// The child's metadata.
    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Self::Service(o) => &o.metadata,
            Self::Deployment(o) => &o.metadata,
            Self::StatefulSet(o) => &o.metadata,
            Self::Hpa(o) => &o.metadata,
            Self::Pdb(o) => &o.metadata,
            Self::NetworkPolicy(o) => &o.metadata,
            Self::Ingress(o) => &o.metadata,
            Self::ServiceMonitor(o) => &o.metadata,
            Self::PrometheusRule(o) => &o.metadata,
        }
    }

    /// The component this child belongs to, read back from its component label.
    pub fn component(&self) -> Component {
        let label = self.meta().labels.as_ref().and_then(|l| l.get(meta::COMPONENT_LABEL));
        Component::ALL
            .into_iter()
            .find(|c| Some(c.as_str()) == label.map(String::as_str))
            .unwrap_or(Component::Api)
    }

    /// `Kind/name`, for messages and status.
    pub fn reference(&self) -> String {
        format!("{}/{}", self.kind().as_str(), self.name())
    }

    /// The object as JSON, with apiVersion and kind, as it is sent to the API server.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// A child serializes as the object it holds (apiVersion and kind included).
impl Serialize for Child {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Service(o) => o.serialize(serializer),
            Self::Deployment(o) => o.serialize(serializer),
            Self::StatefulSet(o) => o.serialize(serializer),
            Self::Hpa(o) => o.serialize(serializer),
            Self::Pdb(o) => o.serialize(serializer),
            Self::NetworkPolicy(o) => o.serialize(serializer),
            Self::Ingress(o) => o.serialize(serializer),
            Self::ServiceMonitor(o) => o.serialize(serializer),
            Self::PrometheusRule(o) => o.serialize(serializer),
        }
    }
}

/// Every child the XAgent should own, in a stable order (per component:
/// Service, workload, HPA, PDB; then NetworkPolicies, Ingress, ServiceMonitor
/// and PrometheusRule), so
/// renders diff cleanly.
pub fn build(xagent: &XAgent) -> Vec<Child> {
    let spec = &xagent.spec;
    let (api, websocket, worker) =
        (spec.api.component(), spec.websocket.component(), spec.worker.component());
    let mut children = Vec::with_capacity(13);
    children.push(Child::Service(network::api_service(xagent, &api)));
    stateless(xagent, Component::Api, &api, &mut children);
    children.push(Child::Service(network::websocket_service(xagent, &websocket)));
    stateless(xagent, Component::Websocket, &websocket, &mut children);
    children.push(Child::Service(network::worker_service(xagent, &worker)));
    stateless(xagent, Component::Worker, &worker, &mut children);
    if spec.chromadb.enabled {
        children.push(Child::Service(network::chromadb_service(xagent)));
        children.push(Child::StatefulSet(workloads::chromadb_statefulset(xagent)));
    }
    if spec.network_policy.enabled {
        children.extend(exposure::network_policies(xagent).into_iter().map(Child::NetworkPolicy));
    }
    children.extend(exposure::ingress(xagent).map(Child::Ingress));
    let monitoring = &spec.monitoring;
    if monitoring.service_monitor.enabled {
        children.push(Child::ServiceMonitor(crate::monitoring::service_monitor(xagent)));
    }
    if monitoring.prometheus_rule.enabled {
        children.push(Child::PrometheusRule(crate::monitoring::prometheus_rule(xagent)));
    }
    children
}

fn stateless(xagent: &XAgent, component: Component, spec: &ComponentSpec, out: &mut Vec<Child>) {
    out.push(Child::Deployment(workloads::deployment(xagent, component, spec)));
    if spec.autoscaling.enabled {
        out.push(Child::Hpa(policy::hpa(xagent, component, spec)));
    }
    if spec.pod_disruption_budget.enabled {
        out.push(Child::Pdb(policy::pdb(xagent, component, spec)));
    }
}

#[cfg(test)]
mod tests;
