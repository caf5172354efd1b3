//! Pod-level settings of a component: probes, identity, placement, extra
//! volumes, rollout and security context, in the shapes platform teams know
//! from Helm charts. Each is bounded here (schema or CEL), so a value the API
//! server would refuse in a child is refused in the XAgent instead, where the
//! user sees it, and never turns into a child that keeps failing to apply.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    CSIVolumeSource, ConfigMapVolumeSource, EmptyDirVolumeSource, ProjectedVolumeSource, SecretVolumeSource,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::spec::default_one;

/// A DNS-1123 subdomain: ServiceAccount, PriorityClass names.
pub const DNS_SUBDOMAIN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// A DNS-1123 label: volume names.
pub const DNS_LABEL: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// A label or annotation key: an optional DNS-subdomain prefix and `/`, then
/// a name of up to 63 alphanumerics, `-`, `_` and `.`.
pub const QUALIFIED_NAME: &str = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$";

/// A label value: empty, or up to 63 alphanumerics, `-`, `_` and `.` that
/// start and end alphanumeric (also a valid Prometheus label value).
pub const LABEL_VALUE: &str = r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$";

/// The labels the operator sets on every pod; selectors rely on them, so
/// `podLabels` may not take them over.
pub const RESERVED_LABELS: [&str; 5] = [
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
];

/// Volume names the operator's own volumes use.
pub const RESERVED_VOLUMES: [&str; 4] = ["tmp", "data", "redis-ca", "postgres-ca"];

/// Defines one HTTP probe type with its own defaults: schema defaults live on
/// fields, so liveness and readiness cannot share a type and still default
/// to different paths and periods.
macro_rules! probe_spec {
    (
        $(#[$doc:meta])*
        $name:ident, path = $path:literal, period = $period:literal, failures = $failures:literal
    ) => {
        $(#[$doc])*
        #[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
        #[serde(default, rename_all = "camelCase")]
        pub struct $name {
            /// HTTP path the kubelet requests; any status from 200 to 399 passes.
            #[schemars(length(min = 1, max = 1024), regex(pattern = r"^/[^\s?#]*$"))]
            pub path: String,
            /// Container port probed; omit for the component's traffic port.
            #[serde(skip_serializing_if = "Option::is_none")]
            #[schemars(range(min = 1, max = 65535))]
            pub port: Option<i32>,
            /// Seconds after the container starts before the first probe.
            #[schemars(range(min = 0, max = 3600))]
            pub initial_delay_seconds: i32,
            /// Seconds between probes.
            #[schemars(range(min = 1, max = 300))]
            pub period_seconds: i32,
            /// Seconds a probe may take before it counts as failed.
            #[schemars(range(min = 1, max = 60))]
            pub timeout_seconds: i32,
            /// Failures in a row before the probe's action: restart (liveness, startup) or out of the Service (readiness).
            #[schemars(range(min = 1, max = 100))]
            pub failure_threshold: i32,
        }

        impl<'a> From<&'a $name> for HttpProbe<'a> {
            fn from(p: &'a $name) -> Self {
                HttpProbe {
                    path: &p.path,
                    port: p.port,
                    initial_delay_seconds: p.initial_delay_seconds,
                    period_seconds: p.period_seconds,
                    timeout_seconds: p.timeout_seconds,
                    failure_threshold: p.failure_threshold,
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    path: $path.into(),
                    port: None,
                    initial_delay_seconds: 0,
                    period_seconds: $period,
                    timeout_seconds: 5,
                    failure_threshold: $failures,
                }
            }
        }
    };
}

/// Any of the three probes, as the pod builder reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpProbe<'a> {
    /// HTTP path.
    pub path: &'a str,
    /// Port number, or `None` for the traffic port.
    pub port: Option<i32>,
    /// Seconds before the first probe.
    pub initial_delay_seconds: i32,
    /// Seconds between probes.
    pub period_seconds: i32,
    /// Seconds a probe may take.
    pub timeout_seconds: i32,
    /// Failures in a row that count.
    pub failure_threshold: i32,
}

probe_spec!(
    /// Liveness probe: the kubelet restarts the container when it fails.
    LivenessProbe, path = "/health", period = 10, failures = 3
);
probe_spec!(
    /// Readiness probe: the pod leaves its Service's endpoints while it fails.
    ReadinessProbe, path = "/ready", period = 5, failures = 3
);
probe_spec!(
    /// Startup probe: liveness waits until it passes (by default up to 5 s x 30 = 150 s).
    StartupProbe, path = "/health", period = 5, failures = 30
);

/// The container's three probes.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ProbesSpec {
    /// Restarts a container that stops answering.
    pub liveness: LivenessProbe,
    /// Takes a pod out of its Service while it cannot serve.
    pub readiness: ReadinessProbe,
    /// Gives a slow start time before liveness counts.
    pub startup: StartupProbe,
}

/// The identity the component's pods run as.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!self.create || !has(self.name)").message("serviceAccount.name names an existing ServiceAccount: with create: true the operator names its own NAME-COMPONENT"),
    validation = Rule::new("self.create || !has(self.annotations)").message("serviceAccount.annotations apply only with create: true: an existing ServiceAccount is not the operator's to annotate"),
)]
pub struct ServiceAccountSpec {
    /// Whether the operator creates a ServiceAccount NAME-COMPONENT for this component and runs its pods as it (e.g. to bind it to a cloud role by workload identity).
    #[serde(default)]
    pub create: bool,
    /// An existing ServiceAccount to run the pods as; omit for the namespace's `default` (or, with create, the operator's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    pub name: Option<String>,
    /// Annotations of the created ServiceAccount, e.g. `eks.amazonaws.com/role-arn`, `iam.gke.io/gcp-service-account` or `azure.workload.identity/client-id`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[x_kube(validation = Rule::new(keys_rule()).message("annotation keys must be qualified names, e.g. example.com/key"))]
    #[schemars(extend("maxProperties" = 32))]
    pub annotations: BTreeMap<String, String>,
}

/// `pattern` as the content of a CEL single-quoted string: backslashes doubled.
fn cel_string(pattern: &str) -> String {
    pattern.replace('\\', "\\\\")
}

/// CEL: every key of the map is a qualified name (label and annotation keys).
pub fn keys_rule() -> String {
    format!("self.all(k, k.matches('{}'))", cel_string(QUALIFIED_NAME))
}

/// CEL: every value of the map is a valid label value.
pub fn label_values_rule() -> String {
    format!("self.all(k, self[k].matches('{}'))", cel_string(LABEL_VALUE))
}

/// CEL: no key is one of the operator's own labels.
pub fn reserved_labels_rule() -> String {
    let keys: Vec<String> = RESERVED_LABELS.iter().map(|k| format!("'{k}'")).collect();
    format!("!self.exists(k, k in [{}])", keys.join(", "))
}

/// When a spread constraint cannot be met.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Unsatisfiable {
    /// Schedule anyway, preferring the least skewed place: a small cluster still runs every replica.
    #[default]
    ScheduleAnyway,
    /// Leave the pod pending rather than exceed maxSkew.
    DoNotSchedule,
}

impl Unsatisfiable {
    /// The string the pod spec expects.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ScheduleAnyway => "ScheduleAnyway",
            Self::DoNotSchedule => "DoNotSchedule",
        }
    }
}

/// One topology spread constraint over the component's own pods (of the
/// current rollout: `matchLabelKeys: [pod-template-hash]`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpreadConstraint {
    /// Node label whose values are the domains to spread over, e.g. topology.kubernetes.io/zone.
    #[schemars(length(min = 1, max = 316), regex(pattern = QUALIFIED_NAME))]
    pub topology_key: String,
    /// Largest allowed difference in pod count between two domains.
    #[serde(default = "default_one")]
    #[schemars(range(min = 1, max = 100))]
    pub max_skew: i32,
    /// What to do when the constraint cannot be met.
    #[serde(default)]
    pub when_unsatisfiable: Unsatisfiable,
}

/// Zones, then nodes, both best-effort.
pub fn default_spread() -> Vec<SpreadConstraint> {
    ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
        .into_iter()
        .map(|key| SpreadConstraint {
            topology_key: key.into(),
            max_skew: 1,
            when_unsatisfiable: Unsatisfiable::ScheduleAnyway,
        })
        .collect()
}

/// An extra pod volume of a kind the restricted Pod Security profile allows.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.configMap) ? 1 : 0) + (has(self.secret) ? 1 : 0) + (has(self.emptyDir) ? 1 : 0) + (has(self.projected) ? 1 : 0) + (has(self.csi) ? 1 : 0) == 1").message("set exactly one of configMap, secret, emptyDir, projected and csi"))]
pub struct PodVolume {
    /// Volume name, which volumeMounts refer to. tmp, data, redis-ca and postgres-ca are the operator's own.
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS_LABEL))]
    #[x_kube(validation = Rule::new("!(self in ['tmp', 'data', 'redis-ca', 'postgres-ca'])").message("tmp, data, redis-ca and postgres-ca are the operator's own volumes"))]
    pub name: String,
    /// Files from a ConfigMap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ConfigMapVolumeSource>,
    /// Files from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretVolumeSource>,
    /// Scratch space that lives as long as the pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<EmptyDirVolumeSource>,
    /// Several sources in one directory (e.g. a bound ServiceAccount token for an audience).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projected: Option<ProjectedVolumeSource>,
    /// A CSI driver's inline volume (e.g. the Secrets Store CSI driver).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csi: Option<CSIVolumeSource>,
}

/// Where the container sees one of the component's volumes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodVolumeMount {
    /// Name of a volume in the component's volumes.
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS_LABEL))]
    pub name: String,
    /// Absolute path in the container. /tmp is the operator's own.
    #[schemars(length(min = 2, max = 1024), regex(pattern = r"^/[^:]*[^/:]$"))]
    #[x_kube(validation = Rule::new("self != '/tmp'").message("/tmp is the operator's own scratch volume"))]
    pub mount_path: String,
    /// Mount read-only.
    #[serde(default)]
    pub read_only: bool,
    /// Path inside the volume to mount instead of its root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024), regex(pattern = r"^[^/]([^.]|\.[^.]|\.\.[^/])*$"))]
    pub sub_path: Option<String>,
}

/// How a Deployment replaces its pods.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum StrategyType {
    /// Replace pods a few at a time (maxSurge, maxUnavailable).
    #[default]
    RollingUpdate,
    /// Stop every old pod before starting new ones.
    Recreate,
}

/// The rollout strategy of a component's Deployment.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "string(self.maxSurge).matches('^([0-9]+|[0-9]+%)$') && string(self.maxUnavailable).matches('^([0-9]+|([0-9]|[1-9][0-9]|100)%)$')",
    "message": "maxSurge and maxUnavailable are counts or percentages (maxUnavailable at most 100%)"
}, {
    "rule": "self.type == 'Recreate' || !(string(self.maxSurge) in ['0', '0%'] && string(self.maxUnavailable) in ['0', '0%'])",
    "message": "maxSurge and maxUnavailable may not both be 0: the rollout could never make progress"
}]))]
pub struct RolloutStrategy {
    /// RollingUpdate or Recreate.
    #[serde(rename = "type")]
    pub type_: StrategyType,
    /// Pods above the desired count during a rolling update: a count or a percentage. Ignored with Recreate.
    pub max_surge: IntOrString,
    /// Pods below the desired count during a rolling update: a count or a percentage. Ignored with Recreate.
    pub max_unavailable: IntOrString,
}

impl Default for RolloutStrategy {
    fn default() -> Self {
        Self {
            type_: StrategyType::RollingUpdate,
            max_surge: IntOrString::Int(1),
            max_unavailable: IntOrString::Int(1),
        }
    }
}

/// The numeric non-root user and group the containers run as by default;
/// images need not declare one.
pub const DEFAULT_UID: i64 = 10001;

fn default_uid() -> Option<i64> {
    Some(DEFAULT_UID)
}

/// How the kubelet applies fsGroup to a volume.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum FsGroupChangePolicy {
    /// Change ownership only when the volume's root does not match (fast on large volumes).
    OnRootMismatch,
    /// Change ownership on every mount.
    Always,
}

impl FsGroupChangePolicy {
    /// The string the pod spec expects.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnRootMismatch => "OnRootMismatch",
            Self::Always => "Always",
        }
    }
}

/// The seccomp profile the containers run under: the restricted profile allows these two.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(self.type == 'Localhost') == has(self.localhostProfile)").message("localhostProfile is required with type Localhost and applies only to it"))]
pub struct SeccompSpec {
    /// RuntimeDefault (the container runtime's) or Localhost (a file on the node).
    #[serde(default, rename = "type")]
    pub type_: SeccompType,
    /// Path of the profile below the kubelet's seccomp directory, with type Localhost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub localhost_profile: Option<String>,
}

/// The seccomp profile kinds of the restricted profile.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum SeccompType {
    /// The container runtime's default profile.
    #[default]
    RuntimeDefault,
    /// A profile file on the node.
    Localhost,
}

impl SeccompType {
    /// The string the pod spec expects.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RuntimeDefault => "RuntimeDefault",
            Self::Localhost => "Localhost",
        }
    }
}

/// The pod-level security settings that stay inside the restricted Pod
/// Security profile: containers always run as non-root, without privilege
/// escalation or added capabilities, so those are not settings at all.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurity {
    /// User ID the containers run as (never 0). `null` leaves it to the platform: OpenShift's restricted-v2 assigns one from the namespace's range.
    #[serde(default = "default_uid")]
    #[schemars(range(min = 1, max = 2147483647))]
    pub run_as_user: Option<i64>,
    /// Primary group ID of the containers (never 0). `null` leaves it to the platform.
    #[serde(default = "default_uid")]
    #[schemars(range(min = 1, max = 2147483647))]
    pub run_as_group: Option<i64>,
    /// Group that owns mounted volumes (never 0). `null` leaves it to the platform.
    #[serde(default = "default_uid")]
    #[schemars(range(min = 1, max = 2147483647))]
    pub fs_group: Option<i64>,
    /// How fsGroup is applied to volumes; omit for the kubelet's default (Always).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fs_group_change_policy: Option<FsGroupChangePolicy>,
    /// Extra group IDs of the containers (never 0).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(range(min = 1, max = 2147483647)))]
    pub supplemental_groups: Vec<i64>,
    /// Seccomp profile of the pod.
    #[serde(default)]
    pub seccomp_profile: SeccompSpec,
}

impl Default for PodSecurity {
    fn default() -> Self {
        Self {
            run_as_user: default_uid(),
            run_as_group: default_uid(),
            fs_group: default_uid(),
            fs_group_change_policy: None,
            supplemental_groups: Vec::new(),
            seccomp_profile: SeccompSpec::default(),
        }
    }
}

/// Scaling on a per-pod metric served by the custom metrics API (e.g. by the
/// Prometheus Adapter from the component's own `/metrics`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodsMetric {
    /// Metric name as the custom metrics API serves it, e.g. http_requests_per_second.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[a-zA-Z_:][a-zA-Z0-9_:.-]*$"))]
    pub name: String,
    /// Average value per pod to keep, as a quantity, e.g. 10 or 1500m.
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$"))]
    pub target_average_value: String,
}

/// Loosely an IPv4 or IPv6 address: digits, hex, dots and colons. The API
/// server parses it exactly; this keeps a host name out of the field.
const IP_ADDRESS: &str = r"^[0-9a-fA-F:.]{2,45}$";

/// One /etc/hosts entry.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostAliasSpec {
    /// IP address the host names resolve to.
    #[schemars(regex(pattern = IP_ADDRESS))]
    pub ip: String,
    /// Host names for the address.
    #[schemars(length(min = 1, max = 16), inner(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN)))]
    pub hostnames: Vec<String>,
}

/// One resolver option, e.g. `ndots: "2"`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct DnsOptionSpec {
    /// Option name.
    #[schemars(length(min = 1, max = 64))]
    pub name: String,
    /// Option value, if it takes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub value: Option<String>,
}

/// DNS settings merged into the cluster's (the pods keep `dnsPolicy: ClusterFirst`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct DnsConfigSpec {
    /// Extra nameserver addresses (with the cluster's, at most 3 in all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 2), inner(regex(pattern = IP_ADDRESS)))]
    pub nameservers: Vec<String>,
    /// Extra search domains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(length(min = 1, max = 253)))]
    pub searches: Vec<String>,
    /// Resolver options, e.g. ndots.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub options: Vec<DnsOptionSpec>,
}
