//! Lean forms of watched kinds: what a watch decodes of each object when
//! its cache keeps only a part of it. serde skips the rest of the JSON
//! without building it: a Deployment's pod template and selector, and every
//! object's managedFields, which are most of its bytes and which the
//! operator never reads. Each view turns into its kind holding exactly what
//! the view kept, which the cache then slims as it would the whole object
//! (`run::tests` holds both equal).

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kube::Resource;
use serde::{Deserialize, Deserializer};

/// Every field of `ObjectMeta` but managedFields, which serde skips.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanMeta {
    annotations: Option<BTreeMap<String, String>>,
    creation_timestamp: Option<Time>,
    deletion_grace_period_seconds: Option<i64>,
    deletion_timestamp: Option<Time>,
    finalizers: Option<Vec<String>>,
    generate_name: Option<String>,
    generation: Option<i64>,
    labels: Option<BTreeMap<String, String>>,
    name: Option<String>,
    namespace: Option<String>,
    owner_references: Option<Vec<OwnerReference>>,
    resource_version: Option<String>,
    self_link: Option<String>,
    uid: Option<String>,
}

/// An object's metadata without its managedFields.
fn lean_metadata<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ObjectMeta, D::Error> {
    let m = LeanMeta::deserialize(deserializer)?;
    Ok(ObjectMeta {
        annotations: m.annotations,
        creation_timestamp: m.creation_timestamp,
        deletion_grace_period_seconds: m.deletion_grace_period_seconds,
        deletion_timestamp: m.deletion_timestamp,
        finalizers: m.finalizers,
        generate_name: m.generate_name,
        generation: m.generation,
        labels: m.labels,
        managed_fields: None,
        name: m.name,
        namespace: m.namespace,
        owner_references: m.owner_references,
        resource_version: m.resource_version,
        self_link: m.self_link,
        uid: m.uid,
    })
}

/// What a Deployment's cache keeps of its spec: all but the pod template,
/// the selector and the strategy.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanDeploymentSpec {
    min_ready_seconds: Option<i32>,
    paused: Option<bool>,
    progress_deadline_seconds: Option<i32>,
    replicas: Option<i32>,
    revision_history_limit: Option<i32>,
}

/// A Deployment as its watch decodes it: its metadata, spec and status
/// without managedFields, pod template, selector and strategy.
#[derive(Clone, Debug, Deserialize)]
pub struct DeploymentView {
    #[serde(deserialize_with = "lean_metadata")]
    metadata: ObjectMeta,
    spec: Option<LeanDeploymentSpec>,
    status: Option<DeploymentStatus>,
}

impl Resource for DeploymentView {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(dt: &()) -> Cow<'_, str> {
        Deployment::kind(dt)
    }

    fn group(dt: &()) -> Cow<'_, str> {
        Deployment::group(dt)
    }

    fn version(dt: &()) -> Cow<'_, str> {
        Deployment::version(dt)
    }

    fn plural(dt: &()) -> Cow<'_, str> {
        Deployment::plural(dt)
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl From<DeploymentView> for Deployment {
    fn from(view: DeploymentView) -> Self {
        let spec = view.spec.map(|s| DeploymentSpec {
            min_ready_seconds: s.min_ready_seconds,
            paused: s.paused,
            progress_deadline_seconds: s.progress_deadline_seconds,
            replicas: s.replicas,
            revision_history_limit: s.revision_history_limit,
            ..DeploymentSpec::default()
        });
        Deployment { metadata: view.metadata, spec, status: view.status }
    }
}
