//! `spec.monitoring`: the Prometheus Operator objects an XAgent gets.

use std::collections::BTreeMap;

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::pod::LABEL_VALUE;

/// Names of every alert in the catalog, in catalog order; overrides may only name these.
pub const ALERT_NAMES: [&str; 23] = [
    "XAgentAPIDown",
    "XAgentHighErrorRate",
    "XAgentHighLatency",
    "XAgentHighRequestRate",
    "XAgentAuthenticationFailures",
    "XAgentCognitiveLoopStuck",
    "XAgentHighFailureRate",
    "XAgentLowGoalCompletionRate",
    "XAgentCircuitBreakerOpen",
    "XAgentRedisDown",
    "XAgentPostgreSQLDown",
    "XAgentChromaDBDown",
    "XAgentHighDBConnections",
    "XAgentRedisHighMemory",
    "XAgentHighCPU",
    "XAgentHighMemory",
    "XAgentLowDiskSpace",
    "XAgentToolExecutionFailures",
    "XAgentToolExecutionTimeout",
    "XAgentSandboxUnavailable",
    "XAgentWorkerDown",
    "XAgentHighTaskQueue",
    "XAgentSlowTaskProcessing",
];

/// CEL rule that rejects override keys naming no alert of the catalog.
fn known_alerts_rule() -> String {
    let names: Vec<String> = ALERT_NAMES.iter().map(|n| format!("'{n}'")).collect();
    format!("self.all(name, name in [{}])", names.join(", "))
}

/// Prometheus duration, as the Prometheus Operator CRDs spell it.
pub(super) const DURATION_PATTERN: &str =
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$";

/// Prometheus Operator integration. Needs the monitoring.coreos.com CRDs; without
/// them both objects are skipped and condition MonitoringReady says so.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringSpec {
    /// ServiceMonitor NAME scraping every component's metrics port.
    #[serde(default)]
    pub service_monitor: ServiceMonitorSettings,
    /// PrometheusRule NAME holding the alert catalog.
    #[serde(default)]
    pub prometheus_rule: PrometheusRuleSettings,
    /// The `team` label on every alert, for Alertmanager routes by team; omit for the namespace's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), regex(pattern = LABEL_VALUE))]
    pub team: Option<String>,
    /// AlertmanagerConfig NAME routing this XAgent's alerts by severity; omit
    /// to leave routing to the cluster's Alertmanager configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alertmanager_config: Option<Box<super::AlertmanagerConfigSettings>>,
    /// ConfigMap NAME-dashboard holding a Grafana dashboard of this XAgent.
    #[serde(default)]
    pub dashboard: super::DashboardSettings,
}

/// ServiceMonitor settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorSettings {
    /// Whether to create the ServiceMonitor.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Scrape interval, e.g. 30s.
    #[serde(default = "ServiceMonitorSettings::default_interval")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub interval: String,
    /// Scrape timeout, e.g. 10s; must not exceed the interval.
    #[serde(default = "ServiceMonitorSettings::default_timeout")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub scrape_timeout: String,
    /// Extra labels on the ServiceMonitor, e.g. `release: kube-prometheus-stack` so a Prometheus selects it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

pub(super) fn yes() -> bool {
    true
}

impl ServiceMonitorSettings {
    fn default_interval() -> String {
        "30s".into()
    }
    fn default_timeout() -> String {
        "10s".into()
    }
}

impl Default for ServiceMonitorSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Self::default_interval(),
            scrape_timeout: Self::default_timeout(),
            labels: BTreeMap::new(),
        }
    }
}

/// PrometheusRule settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusRuleSettings {
    /// Whether to create the PrometheusRule.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Extra labels on the PrometheusRule, e.g. `release: kube-prometheus-stack` so a Prometheus selects it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Base URL of the runbooks; each alert links to BASE/ALERT_NAME.md. The
    /// default is the project's own `docs/runbooks`.
    #[serde(default = "PrometheusRuleSettings::default_runbook_base_url")]
    #[schemars(length(min = 1, max = 2048))]
    pub runbook_base_url: String,
    /// Turn whole alert groups on or off.
    #[serde(default)]
    pub groups: AlertGroups,
    /// Per-alert overrides, keyed by alert name (e.g. XAgentHighErrorRate).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    // maxProperties bounds the rule's estimated cost: without it the API
    // server refuses the CRD (cost budget exceeded).
    #[x_kube(validation = Rule::new(known_alerts_rule()).message("keys must be alert names of the catalog, e.g. XAgentHighErrorRate"))]
    #[schemars(extend("maxProperties" = ALERT_NAMES.len()))]
    pub alerts: BTreeMap<String, AlertOverride>,
}

impl PrometheusRuleSettings {
    fn default_runbook_base_url() -> String {
        crate::builders::monitoring::alerts::PROJECT_RUNBOOKS.into()
    }
}

impl Default for PrometheusRuleSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            labels: BTreeMap::new(),
            runbook_base_url: Self::default_runbook_base_url(),
            groups: AlertGroups::default(),
            alerts: BTreeMap::new(),
        }
    }
}

/// On/off switch per alert group.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertGroups {
    /// API availability, errors, latency, traffic, authentication.
    #[serde(default = "yes")]
    pub api: bool,
    /// Cognitive loop and goal outcomes.
    #[serde(default = "yes")]
    pub agent: bool,
    /// Redis, PostgreSQL and ChromaDB.
    #[serde(default = "yes")]
    pub database: bool,
    /// CPU, memory and disk of the pods.
    #[serde(default = "yes")]
    pub resource: bool,
    /// Tool execution and the sandbox.
    #[serde(default = "yes")]
    pub tool: bool,
    /// Workers and the task queue.
    #[serde(default = "yes")]
    pub worker: bool,
}

impl Default for AlertGroups {
    fn default() -> Self {
        Self { api: true, agent: true, database: true, resource: true, tool: true, worker: true }
    }
}

/// Overrides for one alert.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertOverride {
    /// Set false to drop just this alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Replaces the alert's threshold (its unit is given in the alert's description and docs/metrics.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Replaces the alert's `for` duration, e.g. 10m.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub for_: Option<String>,
}
