//! Pure builders: an XAgent in, the exact child objects it should own out.
//!
//! Nothing here talks to a cluster, so `render`, the controller and the unit
//! tests all see the same desired state.

pub mod exposure;
pub mod identity;
pub mod meta;
pub mod monitoring;
pub mod network;
pub mod pod;
pub mod policy;
pub mod quantity;
pub mod registry;
pub mod settings;
pub mod trust;
pub mod workloads;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use crate::crd::{ComponentSpec, XAgent};
pub use meta::Component;
pub use settings::{AnnotationPolicy, Settings};

/// Expands the registry into [`Child`], [`ChildKind`] and their accessors.
macro_rules! define_children {
    (
        cached { $( $(#[$cdoc:meta])* $cv:ident($ct:ty) $field:ident $ckind:literal, slim: $slim:expr, skip: $skip:expr, state: $state:ident, watch: $watch:ident; )* }
        watched { $( $(#[$wdoc:meta])* $wv:ident($wt:ty) $wfield:ident $wkind:literal; )* }
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

            /// The child's metadata, to change: what the API server adds
            /// (a uid, a resourceVersion) in tests and benchmarks.
            pub fn meta_mut(&mut self) -> &mut ObjectMeta {
                match self {
                    $( Self::$cv(o) => &mut o.metadata, )*
                    $( Self::$wv(o) => &mut o.metadata, )*
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

    /// Which child this is, by kind and name.
    pub fn reference(&self) -> ChildRef {
        ChildRef { kind: self.kind(), name: self.name() }
    }

    /// The object as JSON, with apiVersion and kind, as it is sent to the API server.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// One desired child and the component it belongs to, as its builder knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// The component whose status the child reports into.
    pub component: Component,
    /// The object.
    pub child: Child,
}

/// [`desired_with`] under the default [`Settings`].
pub fn desired(xagent: &XAgent) -> Vec<Desired> {
    desired_with(xagent, &Settings::default())
}

/// Every child the XAgent should own with its component, in a stable order
/// (per component: Service, ServiceAccount, workload, HPA, PDB; then NetworkPolicies, Ingress,
/// the dashboard ConfigMap, ServiceMonitor, PrometheusRule and
/// AlertmanagerConfig), so renders diff cleanly.
pub fn desired_with(xagent: &XAgent, settings: &Settings) -> Vec<Desired> {
    let spec = &xagent.spec;
    let (api, websocket, worker) =
        (spec.api.component(), spec.websocket.component(), spec.worker.component());
    let mut out = Vec::with_capacity(16);
    let mut push = |component, child| out.push(Desired { component, child });
    push(Component::Api, Child::Service(network::api_service(xagent, &api)));
    stateless(xagent, Component::Api, &api, &mut push);
    push(Component::Websocket, Child::Service(network::websocket_service(xagent, &websocket)));
    stateless(xagent, Component::Websocket, &websocket, &mut push);
    push(Component::Worker, Child::Service(network::worker_service(xagent, &worker)));
    stateless(xagent, Component::Worker, &worker, &mut push);
    if spec.chromadb.enabled {
        push(Component::Chromadb, Child::Service(network::chromadb_service(xagent)));
        push(Component::Chromadb, Child::StatefulSet(workloads::chromadb_statefulset(xagent)));
        let budget = &spec.chromadb.pod_disruption_budget;
        if budget.enabled {
            push(
                Component::Chromadb,
                Child::Pdb(policy::pdb(xagent, Component::Chromadb, budget.max_unavailable)),
            );
        }
    }
    if spec.network_policy.enabled {
        for (component, policy) in exposure::network_policies(xagent) {
            push(component, Child::NetworkPolicy(policy));
        }
    }
    for (component, ingress) in exposure::ingresses(xagent, &settings.ingress_annotations) {
        push(component, Child::Ingress(ingress));
    }
    let monitoring = &spec.monitoring;
    if monitoring.dashboard.enabled {
        let dashboard = monitoring::dashboard_config_map(xagent, &monitoring.dashboard);
        push(Component::Monitoring, Child::ConfigMap(dashboard));
    }
    if monitoring.service_monitor.enabled {
        push(Component::Monitoring, Child::ServiceMonitor(monitoring::service_monitor(xagent)));
    }
    if monitoring.prometheus_rule.enabled {
        push(Component::Monitoring, Child::PrometheusRule(monitoring::prometheus_rule(xagent)));
    }
    if let Some(routing) = &monitoring.alertmanager_config {
        let config = monitoring::routing::alertmanager_config(xagent, routing);
        push(Component::Monitoring, Child::AlertmanagerConfig(config));
    }
    out
}

/// The children of [`desired`] alone.
pub fn build(xagent: &XAgent) -> Vec<Child> {
    build_with(xagent, &Settings::default())
}

/// The children of [`desired_with`] alone: what `render` prints.
pub fn build_with(xagent: &XAgent, settings: &Settings) -> Vec<Child> {
    desired_with(xagent, settings).into_iter().map(|d| d.child).collect()
}

fn stateless(
    xagent: &XAgent,
    component: Component,
    spec: &ComponentSpec,
    push: &mut impl FnMut(Component, Child),
) {
    if let Some(account) = identity::service_account(xagent, component, &spec.pod.service_account) {
        push(component, Child::ServiceAccount(account));
    }
    push(component, Child::Deployment(workloads::deployment(xagent, component, spec)));
    if spec.autoscaling.enabled {
        push(component, Child::Hpa(policy::hpa(xagent, component, spec)));
    }
    if spec.pod_disruption_budget.enabled {
        push(
            component,
            Child::Pdb(policy::pdb(xagent, component, spec.pod_disruption_budget.max_unavailable)),
        );
    }
}

#[cfg(test)]
mod tests;
