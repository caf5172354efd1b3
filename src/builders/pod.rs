//! Pod templates: the restricted Pod Security profile, probes, resources,
//! placement, identity and environment every container of an XAgent gets.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource, HTTPGetAction,
    HostAlias, LocalObjectReference, PodDNSConfig, PodDNSConfigOption, PodSecurityContext, PodSpec,
    PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile, SecretKeySelector, SecurityContext,
    TopologySpreadConstraint, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{Component, labels, selector};
use super::quantity::canonical;
use crate::crd::{
    DnsConfigSpec, HostAliasSpec, HttpProbe, PodSecurity, PodSettings, PodVolume, PodVolumeMount, ProbesSpec,
    Resources, SeccompSpec, SecretKeyRef, ServiceAccountSpec, SpreadConstraint, XAgent,
};

/// Pod template for `component` with `container` as its single container.
///
/// The container gets the mounts of `pod.volume_mounts`; the pod, its
/// volumes, identity, placement and security context.
pub fn pod_template(
    xagent: &XAgent,
    component: Component,
    mut container: Container,
    pod: &PodSettings,
) -> PodTemplateSpec {
    let spec = &xagent.spec;
    container.volume_mounts.get_or_insert_with(Vec::new).extend(pod.volume_mounts.iter().map(volume_mount));
    container.security_context = Some(container_security_context(&pod.security.seccomp_profile));
    let mut volumes = vec![Volume {
        name: "tmp".into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }];
    volumes.extend(pod.volumes.iter().map(volume));
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(pod_labels(xagent, component, &pod.labels)),
            annotations: non_empty_map(&pod.annotations),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            containers: vec![container],
            service_account_name: Some(service_account_name(xagent, component, &pod.service_account)),
            automount_service_account_token: Some(pod.automount_service_account_token),
            security_context: Some(pod_security_context(&pod.security)),
            priority_class_name: pod.priority_class_name.clone(),
            topology_spread_constraints: non_empty(&pod.topology_spread_constraints)
                .map(|spread| spread.iter().map(|c| topology_spread(xagent, component, c)).collect()),
            node_selector: non_empty_map(&spec.node_selector),
            tolerations: non_empty(&spec.tolerations),
            image_pull_secrets: non_empty(&spec.image_pull_secrets)
                .map(|names| names.into_iter().map(|name| LocalObjectReference { name }).collect()),
            volumes: Some(volumes),
            host_aliases: non_empty(&pod.host_aliases)
                .map(|aliases| aliases.iter().map(host_alias).collect()),
            dns_config: pod.dns_config.as_deref().map(dns_config),
            ..PodSpec::default()
        }),
    }
}

/// The user's pod labels with the operator's on top: those select the pods.
fn pod_labels(
    xagent: &XAgent,
    component: Component,
    extra: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut all = extra.clone();
    all.extend(labels(xagent, component));
    all
}

/// The namespace's own ServiceAccount, which pods run as when none is named.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";

/// The ServiceAccount the pods run as: the operator's own with `create`,
/// else the named one, else `default`, always spelled out. The server
/// mirrors `serviceAccountName` into the deprecated `serviceAccount` and
/// reads it back when the former is missing, so a name the operator stopped
/// sending would otherwise stay: only sending `default` takes it back.
pub fn service_account_name(xagent: &XAgent, component: Component, account: &ServiceAccountSpec) -> String {
    match (&account.name, account.create) {
        (_, true) => component.child_name(xagent),
        (Some(name), false) => name.clone(),
        (None, false) => DEFAULT_SERVICE_ACCOUNT.into(),
    }
}

fn non_empty<T: Clone>(items: &[T]) -> Option<Vec<T>> {
    (!items.is_empty()).then(|| items.to_vec())
}

fn non_empty_map(map: &BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!map.is_empty()).then(|| map.clone())
}

/// The pod-level half of the `restricted` Pod Security Standard: non-root
/// always; user and groups as configured (`None` leaves them to the platform).
pub fn pod_security_context(security: &PodSecurity) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: security.run_as_user,
        run_as_group: security.run_as_group,
        fs_group: security.fs_group,
        fs_group_change_policy: security.fs_group_change_policy.map(|p| p.as_str().into()),
        supplemental_groups: non_empty(&security.supplemental_groups),
        seccomp_profile: Some(seccomp(&security.seccomp_profile)),
        ..PodSecurityContext::default()
    }
}

/// The container-level half of the `restricted` Pod Security Standard. The
/// seccomp profile repeats the pod's: a container-level one would win over it.
pub fn container_security_context(profile: &SeccompSpec) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), ..Capabilities::default() }),
        seccomp_profile: Some(seccomp(profile)),
        ..SecurityContext::default()
    }
}

fn seccomp(profile: &SeccompSpec) -> SeccompProfile {
    SeccompProfile {
        type_: profile.type_.as_str().into(),
        localhost_profile: profile.localhost_profile.clone(),
    }
}

/// One spread constraint over this component's pods of the current rollout
/// (`pod-template-hash`), so a rollout's new pods spread among themselves.
fn topology_spread(xagent: &XAgent, component: Component, c: &SpreadConstraint) -> TopologySpreadConstraint {
    TopologySpreadConstraint {
        topology_key: c.topology_key.clone(),
        max_skew: c.max_skew,
        when_unsatisfiable: c.when_unsatisfiable.as_str().into(),
        label_selector: Some(selector(xagent, component)),
        match_label_keys: Some(vec!["pod-template-hash".into()]),
        ..TopologySpreadConstraint::default()
    }
}

fn host_alias(alias: &HostAliasSpec) -> HostAlias {
    HostAlias { ip: alias.ip.clone(), hostnames: Some(alias.hostnames.clone()) }
}

fn dns_config(dns: &DnsConfigSpec) -> PodDNSConfig {
    PodDNSConfig {
        nameservers: non_empty(&dns.nameservers),
        searches: non_empty(&dns.searches),
        options: non_empty(&dns.options).map(|options| {
            options
                .iter()
                .map(|o| PodDNSConfigOption { name: Some(o.name.clone()), value: o.value.clone() })
                .collect()
        }),
    }
}

fn volume(v: &PodVolume) -> Volume {
    Volume {
        name: v.name.clone(),
        config_map: v.config_map.clone(),
        secret: v.secret.clone(),
        empty_dir: v.empty_dir.clone(),
        projected: v.projected.clone(),
        csi: v.csi.clone(),
        ..Volume::default()
    }
}

fn volume_mount(m: &PodVolumeMount) -> VolumeMount {
    VolumeMount {
        name: m.name.clone(),
        mount_path: m.mount_path.clone(),
        read_only: m.read_only.then_some(true),
        sub_path: m.sub_path.clone(),
        ..VolumeMount::default()
    }
}

/// A container with the /tmp mount, resources and probes every component shares.
/// [`pod_template`] adds its security context and the extra mounts.
pub fn base_container(
    name: &str,
    image: String,
    ports: Vec<ContainerPort>,
    resources: &Resources,
    probes: &ProbesSpec,
) -> Container {
    Container {
        name: name.into(),
        image: Some(image),
        ports: Some(ports),
        resources: Some(resource_requirements(resources)),
        volume_mounts: Some(vec![VolumeMount {
            name: "tmp".into(),
            mount_path: "/tmp".into(),
            ..VolumeMount::default()
        }]),
        liveness_probe: Some(probe(HttpProbe::from(&probes.liveness))),
        readiness_probe: Some(probe(HttpProbe::from(&probes.readiness))),
        startup_probe: Some(probe(HttpProbe::from(&probes.startup))),
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

/// An HTTP GET probe of the traffic port (named `http`) unless it names its own.
fn probe(p: HttpProbe<'_>) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(p.path.into()),
            port: p.port.map_or_else(|| IntOrString::String("http".into()), IntOrString::Int),
            scheme: Some("HTTP".into()),
            ..HTTPGetAction::default()
        }),
        initial_delay_seconds: (p.initial_delay_seconds > 0).then_some(p.initial_delay_seconds),
        period_seconds: Some(p.period_seconds),
        timeout_seconds: Some(p.timeout_seconds),
        failure_threshold: Some(p.failure_threshold),
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
