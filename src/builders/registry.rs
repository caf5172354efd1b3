//! The registry of child kinds: the one list of every kind of object an
//! XAgent can own.
//!
//! Everything that must know each kind — the [`Child`](super::Child) and
//! [`ChildKind`](super::ChildKind) enums, the caches and their watches, apply,
//! prune, the RBAC rules, the test and benchmark cache fillers — is expanded
//! from this list by a macro of its own module, so adding a kind is one entry
//! here (plus its builder); a kind
//! cannot be built without being watched, applied, pruned and granted.
//!
//! Two sections:
//! - `cached`: kinds the operator lists and watches into slim caches (see
//!   `controller::stores`). Entry: `Variant(Type) store_field "Kind", slim:
//!   CLOSURE, skip: PATHS, state: FN, watch: FN;` — the closure drops what the cache need not keep
//!   (it runs in `controller::stores`, where `keep_own_annotations` is), the
//!   paths (`["spec.template"]`) are fields the closure drops that decoding
//!   may pass over unread (`controller::lean`; managedFields always are;
//!   none for kinds cached metadata-only, whose watch events and apply
//!   answers the API server sends as metadata alone), the
//!   function (`no_workload`, `deployment_state`, `statefulset_state` there)
//!   reads replica counts for status, and the watch function (`object_events`
//!   or `metadata_events` in `controller::run`) says what the watch asks the
//!   API server for: whole objects, or only the metadata of kinds whose slim
//!   form keeps nothing else, which makes each event a fraction of the bytes
//!   to send and decode.
//! - `watched`: kinds whose CRDs may be absent (the Prometheus Operator's):
//!   watched metadata-only into a cache once installed (read with a GET
//!   until that cache is filled), and named after the XAgent. Entry:
//!   `Variant(Type) store_field "Kind";`.
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
                    slim: |o| { keep_own_annotations(&mut o.metadata); o.spec = None; o.status = None; },
                    skip: &[],
                    state: no_workload, watch: metadata_events;
                /// A component's own ServiceAccount (`serviceAccount.create`). Its
                /// annotations are applied, but the stamp says when they changed.
                ServiceAccount(k8s_openapi::api::core::v1::ServiceAccount) service_accounts "ServiceAccount",
                    slim: |o| { keep_own_annotations(&mut o.metadata); o.secrets = None; o.image_pull_secrets = None; o.automount_service_account_token = None; },
                    skip: &[],
                    state: no_workload, watch: metadata_events;
                /// The XAgent's Grafana dashboard. Its data is not cached: it is
                /// tens of kilobytes, and the version memo says when it changed.
                ConfigMap(k8s_openapi::api::core::v1::ConfigMap) config_maps "ConfigMap",
                    slim: |o| { keep_own_annotations(&mut o.metadata); o.data = None; o.binary_data = None; },
                    skip: &[],
                    state: no_workload, watch: metadata_events;
                /// A stateless component's Deployment.
                Deployment(k8s_openapi::api::apps::v1::Deployment) deployments "Deployment",
                    slim: |o| {
                        keep_own_annotations(&mut o.metadata);
                        if let Some(spec) = o.spec.as_mut() {
                            spec.template = Default::default();
                            spec.selector = Default::default();
                            spec.strategy = None;
                        }
                        if let Some(status) = o.status.as_mut() {
                            // Counts no reconcile reads: left out, their churn wakes nobody.
                            status.available_replicas = None;
                            status.unavailable_replicas = None;
                            status.terminating_replicas = None;
                            status.replicas = None;
                            // Only a given-up rollout is read (see `deployment_state`).
                            status.conditions = status.conditions.take().map(|mut conditions| {
                                conditions.retain(progress_deadline_exceeded);
                                conditions
                            }).filter(|c| !c.is_empty());
                        }
                    },
                    skip: &["spec.template", "spec.selector", "spec.strategy"],
                    state: deployment_state, watch: object_events;
                /// ChromaDB's StatefulSet.
                StatefulSet(k8s_openapi::api::apps::v1::StatefulSet) statefulsets "StatefulSet",
                    slim: |o| {
                        keep_own_annotations(&mut o.metadata);
                        if let Some(spec) = o.spec.as_mut() {
                            spec.template = Default::default();
                            spec.selector = Default::default();
                            spec.volume_claim_templates = None;
                            spec.update_strategy = None;
                        }
                        if let Some(status) = o.status.as_mut() {
                            // Only the counts of `statefulset_state` are read.
                            status.conditions = None;
                            status.available_replicas = None;
                            status.current_replicas = None;
                            status.current_revision = None;
                            status.update_revision = None;
                            status.replicas = 0;
                        }
                    },
                    skip: &["spec.template", "spec.selector", "spec.volumeClaimTemplates", "spec.updateStrategy", "status.conditions"],
                    state: statefulset_state, watch: object_events;
                /// A component's autoscaler. It has no generation, and its status
                /// moves its resourceVersion every few seconds: its (small) spec
                /// is cached, and its digest tells a change of it.
                Hpa(k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler) hpas "HorizontalPodAutoscaler",
                    slim: |o| { keep_own_annotations(&mut o.metadata); o.status = None; },
                    skip: &["status"],
                    state: no_workload, watch: object_events;
                /// A component's disruption budget.
                Pdb(k8s_openapi::api::policy::v1::PodDisruptionBudget) pdbs "PodDisruptionBudget",
                    slim: |o| { keep_own_annotations(&mut o.metadata); o.spec = None; o.status = None; },
                    skip: &[],
                    state: no_workload, watch: metadata_events;
                /// A component's NetworkPolicy.
                NetworkPolicy(k8s_openapi::api::networking::v1::NetworkPolicy) network_policies "NetworkPolicy",
                    slim: |o| { keep_own_annotations(&mut o.metadata); o.spec = None; },
                    skip: &[],
                    state: no_workload, watch: metadata_events;
                /// The Ingress. Its annotations stay cached: they are part of what we apply.
                Ingress(k8s_openapi::api::networking::v1::Ingress) ingresses "Ingress",
                    slim: |o| { o.spec = None; o.status = None; },
                    skip: &[],
                    state: no_workload, watch: metadata_events;
            }
            watched {
                /// The Prometheus Operator scrape configuration.
                ServiceMonitor($crate::builders::monitoring::types::ServiceMonitor) service_monitors "ServiceMonitor";
                /// The Prometheus Operator alert catalog.
                PrometheusRule($crate::builders::monitoring::types::PrometheusRule) prometheus_rules "PrometheusRule";
                /// Alertmanager routing of the XAgent's alerts.
                AlertmanagerConfig($crate::builders::monitoring::types::AlertmanagerConfig) alertmanager_configs "AlertmanagerConfig";
            }
        }
    };
}

pub(crate) use child_kinds;
