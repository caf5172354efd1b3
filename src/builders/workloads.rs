//! Deployments for the stateless components and the ChromaDB StatefulSet.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment, StatefulSet,
    StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::meta::{Component, object_meta, selector};
use super::pod::{app_env, base_container, container_port, plain, pod_template};
use super::quantity::canonical;
use crate::crd::{ClaimRetentionPolicy, ComponentSpec, ProbesSpec, RolloutStrategy, StrategyType, XAgent};

/// Deployment of a stateless component. `spec.replicas` is left out while an HPA
/// owns the component, so server-side apply never takes the field back from it.
pub fn deployment(xagent: &XAgent, component: Component, spec: &ComponentSpec) -> Deployment {
    let image = &xagent.spec.image;
    let mut container = base_container(
        component.as_str(),
        image.reference(),
        vec![container_port("http", spec.port), container_port("metrics", spec.metrics_port)],
        &spec.resources,
        &spec.probes,
    );
    container.image_pull_policy = Some(image.pull_policy.as_str().into());
    container.env = Some(app_env(xagent, component, &spec.env));
    container.env_from = (!xagent.spec.env_from.is_empty()).then(|| xagent.spec.env_from.clone());
    container.volume_mounts.get_or_insert_with(Vec::new).extend(super::trust::mounts(xagent));
    let mut template = pod_template(xagent, component, container, &spec.pod);
    if let Some(pod) = template.spec.as_mut() {
        pod.volumes.get_or_insert_with(Vec::new).extend(super::trust::volumes(xagent));
    }
    Deployment {
        metadata: object_meta(xagent, component, component.child_name(xagent)),
        spec: Some(DeploymentSpec {
            replicas: (!spec.autoscaling.enabled).then_some(spec.replicas),
            selector: selector(xagent, component),
            template,
            strategy: Some(strategy(&spec.strategy)),
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

/// The Deployment strategy; Recreate takes no rollingUpdate (the API server refuses one).
fn strategy(rollout: &RolloutStrategy) -> DeploymentStrategy {
    match rollout.type_ {
        StrategyType::Recreate => DeploymentStrategy { type_: Some("Recreate".into()), rolling_update: None },
        StrategyType::RollingUpdate => DeploymentStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateDeployment {
                max_surge: Some(rollout.max_surge.clone()),
                max_unavailable: Some(rollout.max_unavailable.clone()),
            }),
        },
    }
}

/// ChromaDB's probes: its heartbeat on the HTTP port, with the components' timings.
fn chromadb_probes() -> ProbesSpec {
    const HEARTBEAT: &str = "/api/v1/heartbeat";
    let mut probes = ProbesSpec::default();
    probes.liveness.path = HEARTBEAT.into();
    probes.readiness.path = HEARTBEAT.into();
    probes.startup.path = HEARTBEAT.into();
    probes
}

/// Where ChromaDB keeps its data inside the container.
pub const CHROMADB_DATA_PATH: &str = "/data";

/// The ChromaDB StatefulSet with one PersistentVolumeClaim per replica.
pub fn chromadb_statefulset(xagent: &XAgent) -> StatefulSet {
    let chroma = &xagent.spec.chromadb;
    let component = Component::Chromadb;
    let mut container = base_container(
        component.as_str(),
        chroma.reference(),
        vec![container_port("http", chroma.port)],
        &chroma.resources,
        &chromadb_probes(),
    );
    // The chromadb/chroma 0.5 image starts uvicorn from /chroma with
    // CHROMA_HOST_PORT and a log config that writes chroma.log into its working
    // directory. The root filesystem is read-only here, so it runs from /tmp
    // (an emptyDir), finding its code through PYTHONPATH and its log config by
    // absolute path.
    container.env = Some(vec![
        plain("IS_PERSISTENT", "TRUE"),
        plain("PERSIST_DIRECTORY", CHROMADB_DATA_PATH),
        plain("ANONYMIZED_TELEMETRY", "FALSE"),
        plain("CHROMA_HOST_PORT", &chroma.port.to_string()),
        plain("CHROMA_LOG_CONFIG", "/chroma/chromadb/log_config.yml"),
        plain("PYTHONPATH", "/chroma"),
    ]);
    container.working_dir = Some("/tmp".into());
    container.image_pull_policy = Some("IfNotPresent".into());
    container.volume_mounts.get_or_insert_with(Vec::new).push(VolumeMount {
        name: DATA_CLAIM.into(),
        mount_path: CHROMADB_DATA_PATH.into(),
        ..VolumeMount::default()
    });
    let name = component.child_name(xagent);
    StatefulSet {
        metadata: object_meta(xagent, component, name.clone()),
        spec: Some(StatefulSetSpec {
            replicas: Some(chroma.replicas),
            service_name: Some(name),
            selector: selector(xagent, component),
            template: pod_template(xagent, component, container, &chroma.pod()),
            volume_claim_templates: Some(vec![data_claim(xagent)]),
            persistent_volume_claim_retention_policy: Some(retention(
                &chroma.persistent_volume_claim_retention_policy,
            )),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

fn retention(policy: &ClaimRetentionPolicy) -> StatefulSetPersistentVolumeClaimRetentionPolicy {
    StatefulSetPersistentVolumeClaimRetentionPolicy {
        when_deleted: Some(policy.when_deleted.as_str().into()),
        when_scaled: Some(policy.when_scaled.as_str().into()),
    }
}

/// Label of ChromaDB's claims naming the uid of the XAgent they were made
/// for: claims outlive their XAgent (Retain), and a new XAgent of the same
/// name must not take them over unknowingly.
pub const CLAIM_OWNER_LABEL: &str = "xagent.io/owner-uid";

/// Name of the volumeClaimTemplate, and so the prefix of every claim.
pub const DATA_CLAIM: &str = "data";

/// The claims the StatefulSet controller makes for ChromaDB, one per replica.
pub fn chromadb_claim_names(xagent: &XAgent) -> Vec<String> {
    let sts = Component::Chromadb.child_name(xagent);
    (0..xagent.spec.chromadb.replicas).map(|i| format!("{DATA_CLAIM}-{sts}-{i}")).collect()
}

fn data_claim(xagent: &XAgent) -> PersistentVolumeClaim {
    let storage = &xagent.spec.chromadb.storage;
    let mut labels = super::meta::labels(xagent, Component::Chromadb);
    labels.extend(xagent.metadata.uid.clone().map(|uid| (CLAIM_OWNER_LABEL.to_string(), uid)));
    PersistentVolumeClaim {
        metadata: ObjectMeta { name: Some(DATA_CLAIM.into()), labels: Some(labels), ..ObjectMeta::default() },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: storage.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_string(), Quantity(canonical(&storage.size)))])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    }
}
