//! Pod templates: the restricted Pod Security profile, probes, resources,
//! anti-affinity and environment every container of an XAgent gets.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    HTTPGetAction, LocalObjectReference, PodAffinityTerm, PodAntiAffinity, PodSecurityContext, PodSpec,
    PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile, SecretKeySelector, SecurityContext, Volume,
    VolumeMount, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{Component, labels, selector};
use super::quantity::canonical;
use crate::crd::{Resources, SecretKeyRef, XAgent};

/// Numeric non-root user and group the containers run as; images need not declare one.
pub const RUN_AS_USER: i64 = 10001;

/// Paths the platform serves its probes on.
pub const LIVENESS_PATH: &str = "/health";
/// Readiness path: the component answers 200 only when it can serve traffic.
pub const READINESS_PATH: &str = "/ready";

/// One HTTP endpoint a container probes itself on.
pub struct ProbePaths {
    /// Path for liveness and startup probes.
    pub liveness: &'static str,
    /// Path for the readiness probe.
    pub readiness: &'static str,
    /// Named container port the probes target.
    pub port: &'static str,
}

/// Pod template for `component` with `container` as its single container.
pub fn pod_template(xagent: &XAgent, component: Component, container: Container) -> PodTemplateSpec {
    let spec = &xagent.spec;
    PodTemplateSpec {
        metadata: Some(ObjectMeta { labels: Some(labels(xagent, component)), ..ObjectMeta::default() }),
        spec: Some(PodSpec {
            containers: vec![container],
            automount_service_account_token: Some(false),
            security_context: Some(pod_security_context()),
            affinity: Some(spread_across_nodes(xagent, component)),
            node_selector: non_empty_map(&spec.node_selector),
            tolerations: non_empty(&spec.tolerations),
            image_pull_secrets: non_empty(&spec.image_pull_secrets)
                .map(|names| names.into_iter().map(|name| LocalObjectReference { name }).collect()),
            volumes: Some(vec![Volume {
                name: "tmp".into(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Volume::default()
            }]),
            ..PodSpec::default()
        }),
    }
}

fn non_empty<T: Clone>(items: &[T]) -> Option<Vec<T>> {
    (!items.is_empty()).then(|| items.to_vec())
}

fn non_empty_map(map: &BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!map.is_empty()).then(|| map.clone())
}

/// The pod-level half of the `restricted` Pod Security Standard.
pub fn pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS_USER),
        run_as_group: Some(RUN_AS_USER),
        fs_group: Some(RUN_AS_USER),
        seccomp_profile: Some(runtime_default()),
        ..PodSecurityContext::default()
    }
}

/// The container-level half of the `restricted` Pod Security Standard.
pub fn container_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), ..Capabilities::default() }),
        seccomp_profile: Some(runtime_default()),
        ..SecurityContext::default()
    }
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile { type_: "RuntimeDefault".into(), ..SeccompProfile::default() }
}

/// Preferred (not required) anti-affinity, so a small cluster can still schedule every replica.
fn spread_across_nodes(xagent: &XAgent, component: Component) -> Affinity {
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![WeightedPodAffinityTerm {
                weight: 100,
                pod_affinity_term: PodAffinityTerm {
                    label_selector: Some(selector(xagent, component)),
                    topology_key: "kubernetes.io/hostname".into(),
                    ..PodAffinityTerm::default()
                },
            }]),
            ..PodAntiAffinity::default()
        }),
        ..Affinity::default()
    }
}

/// A container with the security context, /tmp mount and probes every component shares.
pub fn base_container(
    name: &str,
    image: String,
    ports: Vec<ContainerPort>,
    resources: &Resources,
    probes: &ProbePaths,
) -> Container {
    Container {
        name: name.into(),
        image: Some(image),
        ports: Some(ports),
        resources: Some(resource_requirements(resources)),
        security_context: Some(container_security_context()),
        volume_mounts: Some(vec![VolumeMount {
            name: "tmp".into(),
            mount_path: "/tmp".into(),
            ..VolumeMount::default()
        }]),
        liveness_probe: Some(http_probe(probes.liveness, probes.port, 10, 3)),
        readiness_probe: Some(http_probe(probes.readiness, probes.port, 5, 3)),
        // Up to 5 s x 30 = 150 s to start before liveness takes over.
        startup_probe: Some(http_probe(probes.liveness, probes.port, 5, 30)),
        ..Container::default()
    }
}

/// A named TCP container port.
pub fn container_port(name: &str, port: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.into()),
        container_port: port,
        protocol: Some("TCP".into()),
        ..ContainerPort::default()
    }
}

fn http_probe(path: &str, port: &str, period: i32, failure_threshold: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String(port.into()),
            scheme: Some("HTTP".into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(5),
        failure_threshold: Some(failure_threshold),
        success_threshold: Some(1),
        ..Probe::default()
    }
}

/// Requests and limits in the API server's canonical quantity spelling.
pub fn resource_requirements(resources: &Resources) -> ResourceRequirements {
    let pair = |cpu: &str, memory: &str| {
        BTreeMap::from([
            ("cpu".to_string(), Quantity(canonical(cpu))),
            ("memory".to_string(), Quantity(canonical(memory))),
        ])
    };
    ResourceRequirements {
        requests: Some(pair(&resources.requests.cpu, &resources.requests.memory)),
        limits: Some(pair(&resources.limits.cpu, &resources.limits.memory)),
        ..ResourceRequirements::default()
    }
}

/// Environment of an application container: the component's role, how to reach
/// Redis and PostgreSQL (passwords by Secret reference, never by value), then the
/// user's variables, the component's own winning over the shared ones.
pub fn app_env(xagent: &XAgent, component: Component, own: &[EnvVar]) -> Vec<EnvVar> {
    let spec = &xagent.spec;
    let mut env = vec![plain("XAGENT_COMPONENT", component.as_str())];
    if let Some(redis) = &spec.redis {
        env.push(plain("REDIS_HOST", &redis.host));
        env.push(plain("REDIS_PORT", &redis.port.to_string()));
        env.push(plain("REDIS_DB", &redis.database.to_string()));
        env.push(plain("REDIS_TLS", if redis.tls { "true" } else { "false" }));
        env.extend(super::trust::redis_env(redis));
        env.extend(redis.password_secret_ref.as_ref().map(|r| secret("REDIS_PASSWORD", r)));
    }
    if let Some(pg) = &spec.postgres {
        env.push(plain("POSTGRES_HOST", &pg.host));
        env.push(plain("POSTGRES_PORT", &pg.port.to_string()));
        env.push(plain("POSTGRES_DB", &pg.database));
        env.push(plain("POSTGRES_USER", &pg.user));
        env.push(plain("POSTGRES_SSLMODE", pg.ssl_mode.as_str()));
        env.extend(super::trust::postgres_env(pg));
        env.extend(pg.password_secret_ref.as_ref().map(|r| secret("POSTGRES_PASSWORD", r)));
    }
    for var in spec.env.iter().chain(own) {
        env.retain(|e| e.name != var.name);
        env.push(var.clone());
    }
    env
}

/// A literal environment variable.
pub fn plain(name: &str, value: &str) -> EnvVar {
    EnvVar { name: name.into(), value: Some(value.into()), ..EnvVar::default() }
}

fn secret(name: &str, reference: &SecretKeyRef) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: reference.name.clone(),
                key: reference.key.clone(),
                ..SecretKeySelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}
