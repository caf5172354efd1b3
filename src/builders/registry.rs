//! The registry of child kinds: the one list of every kind of object an
//! XAgent can own.
//!
//! Everything that must know each kind — the [`Child`](super::Child) and
//! [`ChildKind`](super::ChildKind) enums, the caches and their watches, apply,
//! prune, the RBAC rules, the test and benchmark cache fillers — is expanded
//! from this list by a macro of its own module, so adding a kind is one entry
//! here (plus its builder, and its slim function if it is cached); a kind
//! cannot be built without being watched, applied, pruned and granted.
//!
//! Two sections:
//! - `cached`: kinds the operator lists and watches into slim caches (see
//!   `controller::stores`). Entry: `Variant(Type) store_field "Kind",
//!   slim_fn, workload_state_fn;` — both functions live in `controller::stores`.
//! - `watched`: kinds whose CRDs may be absent (the Prometheus Operator's):
//!   watched metadata-only once installed, read with a GET when applied, and
//!   named after the XAgent. Entry: `Variant(Type) "Kind";`.
//!
//! Use: `child_kinds!(some_expansion_macro);`, where the expansion macro
//! matches the two sections.

/// Calls `$then!` with the list of child kinds (see the module docs).
macro_rules! child_kinds {
    ($then:ident) => {
        $then! {
            cached {
                /// A component Service.
                Service(k8s_openapi::api::core::v1::Service) services "Service",
                    slim_service, no_workload;
                /// A stateless component's Deployment.
                Deployment(k8s_openapi::api::apps::v1::Deployment) deployments "Deployment",
                    slim_deployment, deployment_state;
                /// ChromaDB's StatefulSet.
                StatefulSet(k8s_openapi::api::apps::v1::StatefulSet) statefulsets "StatefulSet",
                    slim_statefulset, statefulset_state;
                /// A component's autoscaler.
                Hpa(k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler) hpas "HorizontalPodAutoscaler",
                    slim_hpa, no_workload;
                /// A component's disruption budget.
                Pdb(k8s_openapi::api::policy::v1::PodDisruptionBudget) pdbs "PodDisruptionBudget",
                    slim_pdb, no_workload;
                /// A component's NetworkPolicy.
                NetworkPolicy(k8s_openapi::api::networking::v1::NetworkPolicy) network_policies "NetworkPolicy",
                    slim_network_policy, no_workload;
                /// The Ingress.
                Ingress(k8s_openapi::api::networking::v1::Ingress) ingresses "Ingress",
                    slim_ingress, no_workload;
            }
            watched {
                /// The Prometheus Operator scrape configuration.
                ServiceMonitor($crate::builders::monitoring::types::ServiceMonitor) "ServiceMonitor";
                /// The Prometheus Operator alert catalog.
                PrometheusRule($crate::builders::monitoring::types::PrometheusRule) "PrometheusRule";
            }
        }
    };
}

pub(crate) use child_kinds;
