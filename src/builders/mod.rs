//! Pure builders: an XAgent in, the exact child objects it should own out.
//!
//! Nothing here talks to a cluster, so `render`, the controller and the unit
//! tests all see the same desired state.

pub mod exposure;
pub mod meta;
pub mod monitoring;
pub mod network;
pub mod pod;
pub mod policy;
pub mod quantity;
pub mod registry;
pub mod workloads;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

pub use meta::Component;

use crate::crd::{ComponentSpec, XAgent};

/// Expands the registry into [`Child`], [`ChildKind`] and their accessors.
macro_rules! define_children {
    (
        cached { $( $(#[$cdoc:meta])* $cv:ident($ct:ty) $field:ident $ckind:literal, $slim:ident, $state:ident; )* }
        watched { $( $(#[$wdoc:meta])* $wv:ident($wt:ty) $wkind:literal; )* }
    ) => {
        /// One desired child object, typed so the apply layer can pick the right API.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Child {
            $( $(#[$cdoc])* $cv($ct), )*
            $( $(#[$wdoc])* $wv($wt), )*
        }

        /// The kinds of object an XAgent can own, for watches, RBAC and status reports.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ChildKind {
            $( $(#[$cdoc])* $cv, )*
            $( $(#[$wdoc])* $wv, )*
        }

        impl ChildKind {
            /// Every kind, in registry order.
            pub const ALL: &'static [ChildKind] = &[$( Self::$cv, )* $( Self::$wv, )*];

            /// The Kubernetes kind name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Self::$cv => $ckind, )*
                    $( Self::$wv => $wkind, )*
                }
            }

            /// Whether the kind's CRD may be absent (watched, not cached).
            pub fn is_monitoring(self) -> bool {
                match self {
                    $( Self::$cv => false, )*
                    $( Self::$wv => true, )*
                }
            }

            /// API group and plural resource name, for RBAC.
            pub fn resource(self) -> (String, String) {
                fn of<K: kube::Resource<DynamicType = ()>>() -> (String, String) {
                    (K::group(&()).into_owned(), K::plural(&()).into_owned())
                }
                match self {
                    $( Self::$cv => of::<$ct>(), )*
                    $( Self::$wv => of::<$wt>(), )*
                }
            }
        }

        impl Child {
            /// Which kind of object this is.
            pub fn kind(&self) -> ChildKind {
                match self {
                    $( Self::$cv(_) => ChildKind::$cv, )*
                    $( Self::$wv(_) => ChildKind::$wv, )*
                }
            }

            /// The child's metadata.
            pub fn meta(&self) -> &ObjectMeta {
                match self {
                    $( Self::$cv(o) => &o.metadata, )*
                    $( Self::$wv(o) => &o.metadata, )*
                }
            }
        }

        /// A child serializes as the object it holds (apiVersion and kind included).
        impl Serialize for Child {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( Self::$cv(o) => o.serialize(serializer), )*
                    $( Self::$wv(o) => o.serialize(serializer), )*
                }
            }
        }
    };
}

registry::child_kinds!(define_children);

/// One child named by kind and name: what reports, events, metrics and
/// errors talk about. Displays as `Kind/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChildRef {
    /// The child's kind.
    pub kind: ChildKind,
    /// The child's name (its namespace is the XAgent's).
    pub name: String,
}

impl std::fmt::Display for ChildRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind.as_str(), self.name)
    }
}

impl Child {
    /// The object's name.
    pub fn name(&self) -> String {
        self.meta().name.clone().unwrap_or_default()
    }

    /// The component this child belongs to, read back from its component label.
    pub fn component(&self) -> Component {
        let label = self.meta().labels.as_ref().and_then(|l| l.get(meta::COMPONENT_LABEL));
        Component::ALL
            .into_iter()
            .find(|c| Some(c.as_str()) == label.map(String::as_str))
            .unwrap_or(Component::Api)
    }

    /// Which child this is, by kind and name.
    pub fn reference(&self) -> ChildRef {
        ChildRef { kind: self.kind(), name: self.name() }
    }

    /// The object as JSON, with apiVersion and kind, as it is sent to the API server.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
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
        children.push(Child::ServiceMonitor(crate::builders::monitoring::service_monitor(xagent)));
    }
    if monitoring.prometheus_rule.enabled {
        children.push(Child::PrometheusRule(crate::builders::monitoring::prometheus_rule(xagent)));
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
