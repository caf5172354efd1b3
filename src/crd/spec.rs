//! The `XAgent` custom resource: one spec block per component and dependency.
//!
//! Every field carries a doc comment because the derive turns it into the schema
//! description that `kubectl explain` prints, and a `serde` default because the
//! derive turns that into the schema default the API server applies: a minimal
//! XAgent is a few lines and the stored object still shows every setting.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerBehavior;
use k8s_openapi::api::core::v1::{EnvFromSource, EnvVar, Toleration};
use k8s_openapi::api::networking::v1::NetworkPolicyPeer;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::defaulted::{Defaulted, shared_default};
use super::monitoring::MonitoringSpec;
use super::pod::*;
use super::status::XAgentStatus;

/// Desired state of one X-Agent installation.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "xagent.io",
    version = "v1alpha1",
    kind = "XAgent",
    plural = "xagents",
    singular = "xagent",
    shortname = "xa",
    namespaced,
    status = "XAgentStatus",
    derive = "PartialEq",
    doc = "XAgent runs one X-Agent platform: API, WebSocket gateway, workers and an optional ChromaDB, with their dependencies on Redis and PostgreSQL.",
    validation = Rule::new("self.metadata.name.size() <= 53").message("metadata.name: must be at most 53 characters: child names append up to 10 characters and must stay valid DNS labels"),
    validation = Rule::new("!self.spec.chromadb.enabled || self.metadata.name.size() <= 43").message("metadata.name: must be at most 43 characters with chromadb enabled: the StatefulSet's pod revision label appends 20 characters"),
    validation = Rule::new("self.metadata.name.matches('^[a-z]')").message("metadata.name: must start with a letter: child Service names must be DNS-1035 labels"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status", description = "Whether every component is available and every configured dependency is healthy"),
    printcolumn(name = "Reason", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].reason", description = "Why it is or is not Ready"),
    printcolumn(name = "API", type_ = "string", json_path = ".status.components.api.summary", description = "Ready/desired replicas of the API"),
    printcolumn(name = "Workers", type_ = "string", json_path = ".status.components.worker.summary", description = "Ready/desired replicas of the workers"),
    printcolumn(name = "Redis", type_ = "string", json_path = ".status.conditions[?(@.type==\"RedisReady\")].status", description = "Redis health"),
    printcolumn(name = "Postgres", type_ = "string", json_path = ".status.conditions[?(@.type==\"PostgresReady\")].status", description = "PostgreSQL health"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(name = "Message", type_ = "string", priority = 1, json_path = ".status.conditions[?(@.type==\"Ready\")].message", description = "What Ready says, in full (kubectl get -o wide)")
)]
#[serde(rename_all = "camelCase")]
pub struct XAgentSpec {
    /// Container image shared by the API, WebSocket and worker components.
    #[serde(default)]
    pub image: Defaulted<ImageSpec>,

    /// Names of Secrets in this namespace used to pull the images.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<String>,

    /// The HTTP API (Deployment + Service NAME-api). Autoscaled 2-10 replicas by default.
    #[serde(default)]
    pub api: Defaulted<ApiSpec>,

    /// The WebSocket gateway for live agent updates (Deployment + Service NAME-websocket with sticky ClientIP sessions). 2 replicas by default.
    #[serde(default)]
    pub websocket: Defaulted<WebsocketSpec>,

    /// Background workers that run goals and tools (Deployment NAME-worker). Autoscaled 2-5 replicas by default.
    #[serde(default)]
    pub worker: Defaulted<WorkerSpec>,

    /// Optional ChromaDB vector store (StatefulSet + headless Service NAME-chromadb).
    #[serde(default)]
    pub chromadb: Defaulted<ChromaDbSpec>,

    /// Redis used for cache, rate limits and queues. Its address is passed to every component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<Box<RedisSpec>>,

    /// PostgreSQL used for state. Its address is passed to every component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<Box<PostgresSpec>>,

    /// Prometheus Operator ServiceMonitor and PrometheusRule (alert catalog).
    #[serde(default)]
    pub monitoring: Defaulted<MonitoringSpec>,

    /// Extra environment variables for the API, WebSocket and worker containers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,

    /// Extra environment sources (ConfigMaps, Secrets) for the API, WebSocket and worker containers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<EnvFromSource>,

    /// Node labels every pod of this XAgent must match.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,

    /// Tolerations added to every pod of this XAgent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,

    /// NetworkPolicies (networking.k8s.io/v1) that admit only the traffic each component serves.
    #[serde(default)]
    pub network_policy: Defaulted<NetworkPolicySpec>,

    /// An Ingress (networking.k8s.io/v1) NAME routing a host to the API and the WebSocket gateway. Omit for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<Box<IngressSpec>>,
}

/// NetworkPolicy settings. Egress stays open: Redis and PostgreSQL may live anywhere.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    /// Whether to create one NetworkPolicy per component (NAME-api, NAME-websocket, NAME-worker, NAME-chromadb).
    #[serde(default)]
    pub enabled: bool,
    /// Who may reach the API and WebSocket traffic ports; empty admits every source (e.g. an ingress controller anywhere). Metrics ports stay open to every source for Prometheus; ChromaDB admits only this XAgent's pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_from: Vec<NetworkPolicyPeer>,
}

/// Ingress settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngressSpec {
    /// Host name clients use, e.g. agents.example.com.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub host: String,
    /// IngressClass to use; omit for the cluster default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// Secret (type kubernetes.io/tls) with the certificate for the host; omit to serve plain HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_secret_name: Option<String>,
    /// Path prefix routed to the WebSocket gateway; everything else goes to the API.
    #[serde(default = "IngressSpec::default_websocket_path")]
    #[schemars(regex(pattern = r"^(/[A-Za-z0-9._~-]+)+$"))]
    pub websocket_path: String,
    /// Annotations for the Ingress controller (certificate issuers, ...). They go on every Ingress of the XAgent and win over the operator's own.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Sticky sessions and the read timeout of the WebSocket path. With className nginx the path gets an Ingress of its own, NAME-websocket, carrying the ingress-nginx annotations for both; other controllers need their own annotations (see docs/websocket.md).
    #[serde(default)]
    pub websocket: IngressWebsocketSpec,
}

impl IngressSpec {
    fn default_websocket_path() -> String {
        "/ws".into()
    }
}

/// How the Ingress controller treats the WebSocket path.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngressWebsocketSpec {
    /// Whether a client's WebSocket connections keep reaching the same pod (a cookie scoped to the WebSocket path). The Service's ClientIP affinity does not help behind an Ingress controller, which connects to pod IPs itself.
    #[serde(default = "default_true")]
    pub sticky_sessions: bool,
    /// Seconds a WebSocket may stay silent before the Ingress controller closes it.
    #[serde(default = "IngressWebsocketSpec::default_read_timeout")]
    #[schemars(range(min = 60, max = 86400))]
    pub read_timeout_seconds: i32,
}

impl IngressWebsocketSpec {
    fn default_read_timeout() -> i32 {
        3600
    }
}

impl Default for IngressWebsocketSpec {
    fn default() -> Self {
        Self { sticky_sessions: true, read_timeout_seconds: Self::default_read_timeout() }
    }
}

/// Where the platform image comes from.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageSpec {
    /// Image repository, without tag.
    #[serde(default = "ImageSpec::default_repository")]
    #[schemars(length(min = 1))]
    pub repository: String,

    /// Image tag.
    #[serde(default = "ImageSpec::default_tag")]
    #[schemars(length(min = 1, max = 128))]
    pub tag: String,

    /// When the kubelet pulls the image.
    #[serde(default)]
    pub pull_policy: PullPolicy,
}

impl ImageSpec {
    fn default_repository() -> String {
        "xagent/x-agent".into()
    }
    fn default_tag() -> String {
        "latest".into()
    }
    /// The `repository:tag` reference the containers run.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }
}

impl Default for ImageSpec {
    fn default() -> Self {
        Self {
            repository: Self::default_repository(),
            tag: Self::default_tag(),
            pull_policy: PullPolicy::default(),
        }
    }
}

/// Kubernetes image pull policy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum PullPolicy {
    /// Always pull.
    Always,
    /// Pull only when the image is not on the node.
    #[default]
    IfNotPresent,
    /// Never pull.
    Never,
}

impl PullPolicy {
    /// The string the pod spec expects.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "Always",
            Self::IfNotPresent => "IfNotPresent",
            Self::Never => "Never",
        }
    }
}

/// Defines the spec block of one stateless component and its autoscaling block.
///
/// Each component gets its own types because schema defaults live on fields: a
/// shared type could carry only one set, so `websocket: {replicas: 3}` would
/// silently pick up another component's defaults (autoscaling on, port 8000).
/// Container-level `#[serde(default)]` makes serde fill missing fields from the
/// `Default` impl, and schemars publish those same values as schema defaults.
macro_rules! component_spec {
    (
        $(#[$doc:meta])*
        $spec:ident, $autoscaling:ident,
        replicas = $replicas:expr, port = $port:expr,
        autoscaling = ($enabled:expr, $min:expr, $max:expr)
    ) => {
        $(#[$doc])*
        // JsonSchema, not KubeSchema: the latter's shadow type cannot carry a
        // container-level serde default, so the CEL rule goes in via `extend`.
        #[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
        #[serde(default, rename_all = "camelCase")]
        #[schemars(extend("x-kubernetes-validations" = [{
            "rule": "!self.autoscaling.enabled || self.autoscaling.minReplicas <= self.autoscaling.maxReplicas",
            "message": "autoscaling.minReplicas must be less than or equal to autoscaling.maxReplicas"
        }, {
            "rule": "self.port != self.metricsPort",
            "message": "port and metricsPort must differ: the Service exposes both"
        }, {
            "rule": "!has(self.volumeMounts) || self.volumeMounts.all(m, has(self.volumes) && self.volumes.exists(v, v.name == m.name))",
            "message": "every volumeMounts entry must name one of the component's volumes"
        }]))]
        pub struct $spec {
            /// Replica count when autoscaling is disabled. Ignored while an HPA owns the replica count.
            #[schemars(range(min = 0, max = 1000))]
            pub replicas: i32,
            /// Horizontal pod autoscaling (autoscaling/v2). When enabled the operator never writes the Deployment's replicas.
            pub autoscaling: $autoscaling,
            /// Port the component serves HTTP (or WebSocket) traffic and its /health and /ready probes on.
            #[schemars(range(min = 1, max = 65535))]
            pub port: i32,
            /// Port the component serves Prometheus metrics on (/metrics).
            #[schemars(range(min = 1, max = 65535))]
            pub metrics_port: i32,
            /// CPU and memory requests and limits of the component's container.
            pub resources: Resources,
            /// PodDisruptionBudget (policy/v1) for the component.
            pub pod_disruption_budget: PdbSpec,
            /// Extra environment variables for this component only; they override spec.env entries of the same name.
            #[serde(skip_serializing_if = "Vec::is_empty")]
            pub env: Vec<EnvVar>,
            /// HTTP liveness, readiness and startup probes of the container.
            pub probes: ProbesSpec,
            /// Annotations on the pods (service mesh injection, Vault agent, cost allocation, ...).
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            #[schemars(extend("maxProperties" = 64, "x-kubernetes-validations" = [{
                "rule": keys_rule(), "message": "podAnnotations keys must be qualified names, e.g. example.com/key"
            }]))]
            pub pod_annotations: BTreeMap<String, String>,
            /// Extra labels on the pods. The app.kubernetes.io labels the operator sets select the pods and stay its own.
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            // The values' maxLength bounds the values rule's estimated cost: without
            // it the API server refuses the CRD (cost budget exceeded).
            #[schemars(extend("maxProperties" = 64, "additionalProperties" = {"type": "string", "maxLength": 63}, "x-kubernetes-validations" = [{
                "rule": keys_rule(), "message": "podLabels keys must be qualified names, e.g. example.com/key"
            }, {
                "rule": label_values_rule(), "message": "podLabels values must be at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric"
            }, {
                "rule": reserved_labels_rule(), "message": "podLabels may not set the app.kubernetes.io labels the operator selects its pods by"
            }]))]
            pub pod_labels: BTreeMap<String, String>,
            /// The ServiceAccount the pods run as: the namespace's default, an existing one, or one the operator creates.
            pub service_account: ServiceAccountSpec,
            /// Whether the pods get their ServiceAccount's API token mounted. Off unless the component calls the Kubernetes API.
            pub automount_service_account_token: bool,
            /// PriorityClass of the pods; omit for the cluster's default.
            #[serde(skip_serializing_if = "Option::is_none")]
            #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
            pub priority_class_name: Option<String>,
            /// How the pods spread over topology domains, each over this component's pods. Default: across zones, then nodes, best-effort; [] for none.
            #[schemars(length(max = 8))]
            #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["topologyKey", "whenUnsatisfiable"]))]
            pub topology_spread_constraints: Vec<SpreadConstraint>,
            /// Extra pod volumes: configMap, secret, emptyDir, projected or csi.
            #[serde(skip_serializing_if = "Vec::is_empty")]
            #[schemars(length(max = 32))]
            #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
            pub volumes: Vec<PodVolume>,
            /// Where the container mounts the extra volumes.
            #[serde(skip_serializing_if = "Vec::is_empty")]
            #[schemars(length(max = 32))]
            #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["mountPath"]))]
            pub volume_mounts: Vec<PodVolumeMount>,
            /// How the Deployment replaces its pods.
            pub strategy: RolloutStrategy,
            /// User, groups and seccomp profile of the pods, within the restricted Pod Security profile.
            pub pod_security_context: PodSecurity,
            /// Extra /etc/hosts entries of the pods (e.g. a private endpoint without DNS).
            #[serde(skip_serializing_if = "Vec::is_empty")]
            #[schemars(length(max = 16))]
            pub host_aliases: Vec<HostAliasSpec>,
            /// DNS settings merged into the cluster's (nameservers, search domains, resolver options such as ndots).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub dns_config: Option<Box<DnsConfigSpec>>,
        }

        impl Default for $spec {
            fn default() -> Self {
                Self {
                    replicas: $replicas,
                    autoscaling: $autoscaling::default(),
                    port: $port,
                    metrics_port: default_metrics_port(),
                    resources: Resources::default(),
                    pod_disruption_budget: PdbSpec::default(),
                    env: Vec::new(),
                    probes: ProbesSpec::default(),
                    pod_annotations: BTreeMap::new(),
                    pod_labels: BTreeMap::new(),
                    service_account: ServiceAccountSpec::default(),
                    automount_service_account_token: false,
                    priority_class_name: None,
                    topology_spread_constraints: default_spread(),
                    volumes: Vec::new(),
                    volume_mounts: Vec::new(),
                    strategy: RolloutStrategy::default(),
                    pod_security_context: PodSecurity::default(),
                    host_aliases: Vec::new(),
                    dns_config: None,
                }
            }
        }

        impl $spec {
            /// The component-neutral view the builders work from.
            pub fn component(&self) -> ComponentSpec {
                ComponentSpec {
                    replicas: self.replicas,
                    autoscaling: AutoscalingSpec {
                        enabled: self.autoscaling.enabled,
                        min_replicas: self.autoscaling.min_replicas,
                        max_replicas: self.autoscaling.max_replicas,
                        target_cpu_utilization: self.autoscaling.target_cpu_utilization,
                        target_memory_utilization: self.autoscaling.target_memory_utilization,
                        custom_metrics: self.autoscaling.custom_metrics.clone(),
                        behavior: self.autoscaling.behavior.clone(),
                    },
                    port: self.port,
                    metrics_port: self.metrics_port,
                    resources: self.resources.clone(),
                    pod_disruption_budget: self.pod_disruption_budget.clone(),
                    env: self.env.clone(),
                    probes: self.probes.clone(),
                    pod: PodSettings {
                        annotations: self.pod_annotations.clone(),
                        labels: self.pod_labels.clone(),
                        service_account: self.service_account.clone(),
                        automount_service_account_token: self.automount_service_account_token,
                        priority_class_name: self.priority_class_name.clone(),
                        topology_spread_constraints: self.topology_spread_constraints.clone(),
                        volumes: self.volumes.clone(),
                        volume_mounts: self.volume_mounts.clone(),
                        security: self.pod_security_context.clone(),
                        host_aliases: self.host_aliases.clone(),
                        dns_config: self.dns_config.clone(),
                    },
                    strategy: self.strategy.clone(),
                }
            }
        }

        /// Horizontal pod autoscaler settings.
        #[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
        #[serde(default, rename_all = "camelCase")]
        #[schemars(extend("x-kubernetes-validations" = [{
            "rule": "!self.enabled || self.targetCpuUtilization > 0 || self.targetMemoryUtilization > 0 || has(self.customMetrics)",
            "message": "autoscaling needs targetCpuUtilization or targetMemoryUtilization above 0, or customMetrics"
        }]))]
        pub struct $autoscaling {
            /// Whether an HPA owns the replica count.
            pub enabled: bool,
            /// Lowest replica count the HPA may choose.
            #[schemars(range(min = 1, max = 1000))]
            pub min_replicas: i32,
            /// Highest replica count the HPA may choose.
            #[schemars(range(min = 1, max = 1000))]
            pub max_replicas: i32,
            /// Target average CPU utilization, percent of requests; 0 does not scale on CPU.
            #[schemars(range(min = 0, max = 100))]
            pub target_cpu_utilization: i32,
            /// Target average memory utilization, percent of requests; 0 does not scale on memory.
            #[schemars(range(min = 0, max = 100))]
            pub target_memory_utilization: i32,
            /// Per-pod metrics from the custom metrics API to scale on as well (HPA Pods metrics), e.g. http_requests_per_second served by the Prometheus Adapter.
            #[serde(skip_serializing_if = "Vec::is_empty")]
            #[schemars(length(min = 1, max = 8))]
            #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
            pub custom_metrics: Vec<PodsMetric>,
            /// Scale-up and scale-down behavior (autoscaling/v2 HorizontalPodAutoscalerBehavior); omit for the HPA's defaults.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub behavior: Option<Box<HorizontalPodAutoscalerBehavior>>,
        }

        impl Default for $autoscaling {
            fn default() -> Self {
                Self {
                    enabled: $enabled,
                    min_replicas: $min,
                    max_replicas: $max,
                    target_cpu_utilization: 70,
                    target_memory_utilization: 80,
                    custom_metrics: Vec::new(),
                    behavior: None,
                }
            }
        }
    };
}

component_spec!(
    /// The HTTP API: Deployment + Service NAME-api, autoscaled 2-10 replicas by default.
    ApiSpec, ApiAutoscaling, replicas = 2, port = 8000, autoscaling = (true, 2, 10)
);

component_spec!(
    /// The WebSocket gateway: Deployment + Service NAME-websocket with sticky ClientIP sessions,
    /// 2 fixed replicas by default (sticky sessions move badly under autoscaling).
    WebsocketSpec, WebsocketAutoscaling, replicas = 2, port = 8001, autoscaling = (false, 2, 10)
);

component_spec!(
    /// Background workers that run goals and tools: Deployment NAME-worker, autoscaled 2-5 replicas by default.
    WorkerSpec, WorkerAutoscaling, replicas = 2, port = 8000, autoscaling = (true, 2, 5)
);

fn default_metrics_port() -> i32 {
    9090
}

fn default_http_port() -> i32 {
    8000
}

/// One stateless component as the builders see it, whichever spec block it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct ComponentSpec {
    /// Replica count when autoscaling is disabled.
    pub replicas: i32,
    /// Autoscaling settings.
    pub autoscaling: AutoscalingSpec,
    /// Traffic and probe port.
    pub port: i32,
    /// Metrics port.
    pub metrics_port: i32,
    /// Container resources.
    pub resources: Resources,
    /// Disruption budget.
    pub pod_disruption_budget: PdbSpec,
    /// Component-only environment.
    pub env: Vec<EnvVar>,
    /// HTTP probes of the container.
    pub probes: ProbesSpec,
    /// Pod-level settings.
    pub pod: PodSettings,
    /// Rollout strategy.
    pub strategy: RolloutStrategy,
}

/// The pod-level settings of a component as the pod builder sees them,
/// whichever spec block (or ChromaDB's fixed choices) they came from.
#[derive(Clone, Debug, PartialEq)]
pub struct PodSettings {
    /// Pod annotations.
    pub annotations: BTreeMap<String, String>,
    /// Extra pod labels.
    pub labels: BTreeMap<String, String>,
    /// The pods' ServiceAccount.
    pub service_account: ServiceAccountSpec,
    /// Whether the API token is mounted.
    pub automount_service_account_token: bool,
    /// PriorityClass, if any.
    pub priority_class_name: Option<String>,
    /// Spread over topology domains.
    pub topology_spread_constraints: Vec<SpreadConstraint>,
    /// Extra volumes.
    pub volumes: Vec<PodVolume>,
    /// Their mounts in the container.
    pub volume_mounts: Vec<PodVolumeMount>,
    /// Pod security context overrides.
    pub security: PodSecurity,
    /// Extra /etc/hosts entries.
    pub host_aliases: Vec<HostAliasSpec>,
    /// DNS settings merged into the cluster's.
    pub dns_config: Option<Box<DnsConfigSpec>>,
}

/// Autoscaling as the builders see it.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoscalingSpec {
    /// Whether an HPA owns the replica count.
    pub enabled: bool,
    /// HPA minimum.
    pub min_replicas: i32,
    /// HPA maximum.
    pub max_replicas: i32,
    /// CPU utilization target in percent; 0 means none.
    pub target_cpu_utilization: i32,
    /// Memory utilization target in percent; 0 means none.
    pub target_memory_utilization: i32,
    /// Per-pod custom metrics.
    pub custom_metrics: Vec<PodsMetric>,
    /// HPA behavior, if set.
    pub behavior: Option<Box<HorizontalPodAutoscalerBehavior>>,
}

/// Container CPU and memory. Quantities use Kubernetes notation (e.g. 250m, 1, 512Mi, 2Gi).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    /// Guaranteed resources, used by the scheduler and as the base of HPA utilization.
    #[serde(default = "ResourceAmounts::default_requests")]
    pub requests: ResourceAmounts,
    /// Upper bounds enforced at run time.
    #[serde(default = "ResourceAmounts::default_limits")]
    pub limits: ResourceAmounts,
}

impl Default for Resources {
    fn default() -> Self {
        Self { requests: ResourceAmounts::default_requests(), limits: ResourceAmounts::default_limits() }
    }
}

/// A CPU and memory pair.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceAmounts {
    /// CPU quantity, e.g. 250m or 1.
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?|[0-9]+m)$"))]
    pub cpu: String,
    /// Memory quantity, e.g. 512Mi or 2Gi.
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$"))]
    pub memory: String,
}

impl ResourceAmounts {
    fn default_requests() -> Self {
        Self { cpu: "250m".into(), memory: "512Mi".into() }
    }
    fn default_limits() -> Self {
        Self { cpu: "1".into(), memory: "1Gi".into() }
    }
}

/// PodDisruptionBudget settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PdbSpec {
    /// Whether to create the PodDisruptionBudget.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Pods that voluntary disruptions (drains) may take down at once. A count, not a percentage, so a drain can always make progress.
    #[serde(default = "default_max_unavailable")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_unavailable: i32,
}

fn default_max_unavailable() -> i32 {
    1
}

impl Default for PdbSpec {
    fn default() -> Self {
        Self { enabled: true, max_unavailable: default_max_unavailable() }
    }
}

/// The optional ChromaDB vector store.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChromaDbSpec {
    /// Whether to run ChromaDB (StatefulSet + headless Service NAME-chromadb).
    #[serde(default)]
    pub enabled: bool,
    /// ChromaDB image repository, without tag.
    #[serde(default = "ChromaDbSpec::default_repository")]
    #[schemars(length(min = 1))]
    pub repository: String,
    /// ChromaDB image tag.
    #[serde(default = "ChromaDbSpec::default_tag")]
    #[schemars(length(min = 1, max = 128))]
    pub tag: String,
    /// ChromaDB replicas. ChromaDB single-node persistence does not share data between replicas.
    #[serde(default = "default_one")]
    #[schemars(range(min = 1, max = 1))]
    pub replicas: i32,
    /// Port ChromaDB serves its HTTP API on.
    #[serde(default = "default_http_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Persistent volume claimed for each replica.
    #[serde(default)]
    pub storage: StorageSpec,
    /// CPU and memory of the ChromaDB container.
    #[serde(default)]
    pub resources: Resources,
    /// Annotations on the ChromaDB pod (service mesh injection, backup agents, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[x_kube(validation = Rule::new(keys_rule()).message("podAnnotations keys must be qualified names, e.g. example.com/key"))]
    #[schemars(extend("maxProperties" = 64))]
    pub pod_annotations: BTreeMap<String, String>,
    /// Extra labels on the ChromaDB pod. The app.kubernetes.io labels the operator sets select the pods and stay its own.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[x_kube(
        validation = Rule::new(keys_rule()).message("podLabels keys must be qualified names, e.g. example.com/key"),
        validation = Rule::new(label_values_rule()).message("podLabels values must be at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric"),
        validation = Rule::new(reserved_labels_rule()).message("podLabels may not set the app.kubernetes.io labels the operator selects its pods by"),
    )]
    #[schemars(extend("maxProperties" = 64, "additionalProperties" = {"type": "string", "maxLength": 63}))]
    pub pod_labels: BTreeMap<String, String>,
    /// PriorityClass of the ChromaDB pod; omit for the cluster's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN))]
    pub priority_class_name: Option<String>,
    /// User, groups and seccomp profile of the ChromaDB pod, within the restricted Pod Security profile.
    #[serde(default)]
    pub pod_security_context: PodSecurity,
    /// What happens to ChromaDB's PersistentVolumeClaims when the XAgent (and so the StatefulSet) is deleted, or ChromaDB scaled down. Retain by default: the data outlives a mistaken delete.
    #[serde(default)]
    pub persistent_volume_claim_retention_policy: ClaimRetentionPolicy,
    /// PodDisruptionBudget (policy/v1) NAME-chromadb.
    #[serde(default)]
    pub pod_disruption_budget: ChromaDbPdbSpec,
}

/// What the StatefulSet controller does with a replica's claim.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ClaimRetention {
    /// Keep the claim and its volume; delete them yourself when the data is no longer wanted.
    #[default]
    Retain,
    /// Delete the claim, and with most StorageClasses the volume and its data.
    Delete,
}

impl ClaimRetention {
    /// The string the StatefulSet expects.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retain => "Retain",
            Self::Delete => "Delete",
        }
    }
}

/// The StatefulSet's persistentVolumeClaimRetentionPolicy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClaimRetentionPolicy {
    /// When the StatefulSet is deleted (with the XAgent).
    #[serde(default)]
    pub when_deleted: ClaimRetention,
    /// When a replica is removed by scaling down.
    #[serde(default)]
    pub when_scaled: ClaimRetention,
}

/// ChromaDB's disruption budget. It runs one replica, so the choice is
/// whether a node drain may evict it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChromaDbPdbSpec {
    /// Whether to create the PodDisruptionBudget.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// 1 lets a drain evict ChromaDB (a short outage while it restarts elsewhere); 0 refuses every voluntary eviction, so a drain waits until you move ChromaDB yourself.
    #[serde(default = "default_max_unavailable")]
    #[schemars(range(min = 0, max = 1))]
    pub max_unavailable: i32,
}

impl Default for ChromaDbPdbSpec {
    fn default() -> Self {
        Self { enabled: true, max_unavailable: default_max_unavailable() }
    }
}

/// Serde default of the fields that default to 1.
pub(super) fn default_one() -> i32 {
    1
}

impl ChromaDbSpec {
    fn default_repository() -> String {
        "chromadb/chroma".into()
    }
    fn default_tag() -> String {
        "0.5.23".into()
    }
    /// The `repository:tag` reference the ChromaDB container runs.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }

    /// ChromaDB's pod settings: its own labels, annotations, priority and
    /// security context; the namespace's ServiceAccount without a token, no
    /// spread (one replica) and no extra volumes.
    pub fn pod(&self) -> PodSettings {
        PodSettings {
            annotations: self.pod_annotations.clone(),
            labels: self.pod_labels.clone(),
            service_account: ServiceAccountSpec::default(),
            automount_service_account_token: false,
            priority_class_name: self.priority_class_name.clone(),
            topology_spread_constraints: Vec::new(),
            volumes: Vec::new(),
            volume_mounts: Vec::new(),
            security: self.pod_security_context.clone(),
            host_aliases: Vec::new(),
            dns_config: None,
        }
    }
}

impl Default for ChromaDbSpec {
    fn default() -> Self {
        Self {
            enabled: false,
            repository: Self::default_repository(),
            tag: Self::default_tag(),
            replicas: 1,
            port: default_http_port(),
            storage: StorageSpec::default(),
            resources: Resources::default(),
            pod_annotations: BTreeMap::new(),
            pod_labels: BTreeMap::new(),
            priority_class_name: None,
            pod_security_context: PodSecurity::default(),
            persistent_volume_claim_retention_policy: ClaimRetentionPolicy::default(),
            pod_disruption_budget: ChromaDbPdbSpec::default(),
        }
    }
}

/// A persistent volume claim template.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// Requested size, e.g. 10Gi.
    #[serde(default = "StorageSpec::default_size")]
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$"))]
    pub size: String,
    /// StorageClass to claim from; omit for the cluster default. Growing `size` later expands the claims in place when this class allows volume expansion; volumes never shrink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// Use claims (data-NAME-chromadb-N) left by an earlier XAgent of the same name, and the data on them. Off: such claims are refused, ChromaDB is not started, and StorageReady says why, so a new XAgent never silently inherits another's data.
    #[serde(default)]
    pub adopt_existing_claims: bool,
}

impl StorageSpec {
    fn default_size() -> String {
        "10Gi".into()
    }
}

impl Default for StorageSpec {
    fn default() -> Self {
        Self { size: Self::default_size(), storage_class_name: None, adopt_existing_claims: false }
    }
}

/// A key of a Secret in the XAgent's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Secret name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key inside the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// A key of a ConfigMap in the XAgent's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapKeyRef {
    /// ConfigMap name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key inside the ConfigMap.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// Where the CA certificates (PEM, one or more) that a dependency's server
/// certificate must chain to are kept. A CA is not secret, so a ConfigMap
/// does; a Secret (for example the `ca.crt` of a cert-manager Certificate)
/// does too.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.secretRef) != has(self.configMapRef)").message("set exactly one of ca.secretRef and ca.configMapRef"))]
pub struct CaSource {
    /// Secret key holding the CA certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyRef>,
    /// ConfigMap key holding the CA certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<ConfigMapKeyRef>,
}

/// How the platform reaches Redis.
///
/// A password travels only over TLS whose certificate the operator verifies
/// (chain to `ca` and name `serverName`, default `host`), unless
/// `allowInsecurePassword` says otherwise.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.passwordSecretRef) || (self.tls && !self.insecureSkipVerify) || self.allowInsecurePassword").message("the password would travel over plaintext or over TLS whose certificate is not verified: turn tls on (with ca when the server's CA is private), or set allowInsecurePassword: true to accept that anyone on the network path can read it"),
    validation = Rule::new("self.tls || !(has(self.ca) || has(self.serverName) || self.insecureSkipVerify)").message("ca, serverName and insecureSkipVerify apply only with tls: true"),
    validation = Rule::new("!self.insecureSkipVerify || !(has(self.ca) || has(self.serverName))").message("insecureSkipVerify checks no certificate, so ca and serverName would be ignored: set one or the other"),
)]
pub struct RedisSpec {
    /// Host name or IP address of the Redis server.
    #[schemars(length(min = 1, max = 253))]
    pub host: String,
    /// Redis port.
    #[serde(default = "RedisSpec::default_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Redis logical database number.
    #[serde(default)]
    #[schemars(range(min = 0, max = 15))]
    pub database: i32,
    /// Whether to connect with TLS. On by default; a server without TLS needs `tls: false`, and, with a password, `allowInsecurePassword: true`.
    #[serde(default = "default_true")]
    pub tls: bool,
    /// CA certificates the server's certificate must chain to; omit to trust the operator's system CA bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<CaSource>,
    /// Name the server's certificate must be valid for, when it differs from `host` (e.g. `host` is an IP address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub server_name: Option<String>,
    /// INSECURE: use TLS but accept any certificate, so anyone on the path can pose as the server.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// INSECURE: allow the password to travel over plaintext or over TLS whose certificate is not verified.
    #[serde(default)]
    pub allow_insecure_password: bool,
    /// Secret key holding the Redis password; omit for a server without AUTH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<SecretKeyRef>,
    /// How often and how patiently the operator checks this Redis.
    #[serde(default)]
    pub probe: ProbeSettings,
}

fn default_true() -> bool {
    true
}

impl RedisSpec {
    fn default_port() -> i32 {
        6379
    }
}

/// How the platform reaches PostgreSQL.
///
/// A password travels only with `sslMode` `verify-ca` or `verify-full`
/// (the default), unless `allowInsecurePassword` says otherwise; and never
/// in cleartext over an unencrypted connection, whatever the server asks.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.passwordSecretRef) || self.sslMode in ['verify-ca', 'verify-full'] || self.allowInsecurePassword").message("the password would go to a server that is not verified: use sslMode verify-full or verify-ca (with ca when the server's CA is private), or set allowInsecurePassword: true to accept that anyone on the network path can pose as the server"),
    validation = Rule::new("self.sslMode in ['verify-ca', 'verify-full'] || !has(self.ca)").message("ca applies only with sslMode verify-ca or verify-full"),
    validation = Rule::new("self.sslMode == 'verify-full' || !has(self.serverName)").message("serverName applies only with sslMode verify-full"),
)]
pub struct PostgresSpec {
    /// Host name or IP address of the PostgreSQL server.
    #[schemars(length(min = 1, max = 253))]
    pub host: String,
    /// PostgreSQL port.
    #[serde(default = "PostgresSpec::default_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Database name.
    #[serde(default = "PostgresSpec::default_name")]
    #[schemars(length(min = 1, max = 63))]
    pub database: String,
    /// User name.
    #[serde(default = "PostgresSpec::default_name")]
    #[schemars(length(min = 1, max = 63))]
    pub user: String,
    /// libpq sslmode: `verify-full` (the default) checks the certificate's chain and name, `verify-ca` its chain only; `require` encrypts without checking, `disable` does not encrypt, and `prefer` (deprecated) may fall back to plaintext.
    #[serde(default)]
    pub ssl_mode: SslMode,
    /// CA certificates the server's certificate must chain to; omit to trust the operator's system CA bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<CaSource>,
    /// Name the server's certificate must be valid for, when it differs from `host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub server_name: Option<String>,
    /// INSECURE: allow the password to travel to a server whose certificate is not verified (sslMode disable, prefer or require).
    #[serde(default)]
    pub allow_insecure_password: bool,
    /// Secret key holding the user's password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<SecretKeyRef>,
    /// How often and how patiently the operator checks this PostgreSQL.
    #[serde(default)]
    pub probe: ProbeSettings,
}

/// Health probe schedule of a dependency.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.timeoutSeconds < self.intervalSeconds").message("probe.timeoutSeconds must be less than probe.intervalSeconds"))]
pub struct ProbeSettings {
    /// Seconds between probes. XAgents sharing an endpoint share its probe, at the shortest interval among them.
    #[serde(default = "ProbeSettings::default_interval")]
    #[schemars(range(min = 5, max = 3600))]
    pub interval_seconds: u32,
    /// Seconds a probe (connect, authenticate and query together) may take before it counts as failed.
    #[serde(default = "ProbeSettings::default_timeout")]
    #[schemars(range(min = 1, max = 60))]
    pub timeout_seconds: u32,
}

impl ProbeSettings {
    fn default_interval() -> u32 {
        30
    }
    fn default_timeout() -> u32 {
        5
    }
}

impl Default for ProbeSettings {
    fn default() -> Self {
        Self { interval_seconds: Self::default_interval(), timeout_seconds: Self::default_timeout() }
    }
}

impl PostgresSpec {
    fn default_port() -> i32 {
        5432
    }
    fn default_name() -> String {
        "xagent".into()
    }
}

/// PostgreSQL TLS modes, as libpq names them.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// Never use TLS.
    Disable,
    /// Deprecated: TLS when the server offers it, else plaintext, so an
    /// attacker on the path can downgrade it. Kept so stored XAgents load.
    Prefer,
    /// Require TLS, without verifying the certificate.
    Require,
    /// Require TLS and a certificate that chains to the CA.
    VerifyCa,
    /// Require TLS and a certificate that chains to the CA and is valid for the server's name.
    #[default]
    VerifyFull,
}

impl SslMode {
    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

// The blocks an XAgent holds only when they differ from their defaults.
shared_default!(
    ImageSpec,
    ApiSpec,
    WebsocketSpec,
    WorkerSpec,
    ChromaDbSpec,
    MonitoringSpec,
    NetworkPolicySpec
);
