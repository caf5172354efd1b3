//! The observed state the operator writes into `XAgent.status`.
//!
//! Shaped for kstatus readers (Argo CD, Flux, `kubectl wait`): `observedGeneration`
//! plus `metav1.Condition`-shaped conditions.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Observed state of an XAgent.
///
/// Defaulted by the API server to `observedGeneration: 0` until the operator
/// writes it: an XAgent nobody has reconciled yet then reads as "generation
/// 1 not yet observed" (kstatus InProgress), not as a resource without
/// status, which kstatus calls Current.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("default" = {"observedGeneration": 0}))]
pub struct XAgentStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Ready, Available, Progressing and Degraded, each in metav1.Condition form.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,

    /// Replica counts of each component, read from its workload.
    #[serde(default)]
    pub components: ComponentsStatus,

    /// Health of the configured Redis and PostgreSQL, as of their last change.
    #[serde(default, skip_serializing_if = "DependenciesStatus::is_empty")]
    pub dependencies: DependenciesStatus,

    /// Child objects whose names are taken by objects this XAgent does not own; they are left untouched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<String>,

    /// Set while reconciles fail: how many failed in a row and when the
    /// operator tries again (5 s doubling to 5 min, ±10 %; a spec change is
    /// tried at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryStatus>,
}

/// The operator's backoff for a failing XAgent.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryStatus {
    /// Consecutive failed reconciles of this generation.
    pub failed_attempts: i32,
    /// When the next attempt is due.
    pub next_attempt_time: Time,
}

/// Replica counts per component.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentsStatus {
    /// The API Deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ComponentStatus>,
    /// The WebSocket Deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub websocket: Option<ComponentStatus>,
    /// The worker Deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<ComponentStatus>,
    /// The ChromaDB StatefulSet, when enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chromadb: Option<ComponentStatus>,
}

/// Replica counts of one workload.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentStatus {
    /// Replicas the workload wants (its spec.replicas, which an HPA may set).
    pub desired_replicas: i32,
    /// Replicas passing their readiness probe.
    pub ready_replicas: i32,
    /// Replicas running the current pod template.
    pub updated_replicas: i32,
    /// "ready/desired", for kubectl printer columns.
    pub summary: String,
}

impl ComponentStatus {
    /// Builds the counts and their printable summary together so they never disagree.
    pub fn new(desired: i32, ready: i32, updated: i32) -> Self {
        Self {
            desired_replicas: desired,
            ready_replicas: ready,
            updated_replicas: updated,
            summary: format!("{ready}/{desired}"),
        }
    }

    /// Whether every wanted replica is ready and current.
    pub fn is_available(&self) -> bool {
        self.ready_replicas >= self.desired_replicas && self.updated_replicas >= self.desired_replicas
    }
}

/// The metav1.Condition list schema, keyed by type so server-side apply merges entries.
fn conditions_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut schema = generator.subschema_for::<Vec<Condition>>();
    let obj = schema.ensure_object();
    obj.insert("x-kubernetes-list-type".into(), "map".into());
    obj.insert("x-kubernetes-list-map-keys".into(), serde_json::json!(["type"]));
    schema
}

/// Health of each configured dependency.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DependenciesStatus {
    /// Redis, when spec.redis is set and probed at least once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<DependencyStatus>,
    /// PostgreSQL, when spec.postgres is set and probed at least once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<DependencyStatus>,
}

impl DependenciesStatus {
    /// Whether nothing is known about any dependency.
    pub fn is_empty(&self) -> bool {
        self.redis.is_none() && self.postgres.is_none()
    }
}

/// One dependency's health. Rewritten when health flips, the message changes or
/// the failure count reaches 1, 2, 3, 5, 10, 30, 100, ...: not on every probe,
/// whose detail goes to the operator's metrics instead.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DependencyStatus {
    /// Whether the last probe succeeded.
    pub healthy: bool,
    /// Wall time of the probe that produced this record, in milliseconds.
    pub latency_ms: u64,
    /// When `healthy` last changed.
    pub last_transition_time: Time,
    /// What the probe found; never contains credentials.
    pub message: String,
    /// Failed probes in a row, as of this record.
    pub consecutive_failures: u32,
}
