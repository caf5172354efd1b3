//! `spec.monitoring.alertmanagerConfig`: where this XAgent's alerts go.
//!
//! Rendered as a Prometheus Operator `AlertmanagerConfig` scoped to the
//! XAgent. Credentials are only ever Secret references: the Prometheus
//! Operator reads them, the operator never does, and the secret-access policy
//! (`src/policy.rs`) lets a requester name only Secrets they may read.

use std::collections::BTreeMap;

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::SecretKeyRef;
use super::monitoring::{DURATION_PATTERN, yes};

/// A Prometheus label name.
const LABEL_NAME_PATTERN: &str = r"^[a-zA-Z_][a-zA-Z0-9_]*$";

/// CEL: every receiver `routes.SEVERITY` names is configured.
macro_rules! routes_name_configured_receivers {
    ($($severity:literal),*) => {
        [$(concat!(
            "!has(self.routes) || !has(self.routes.", $severity, ") || self.routes.", $severity,
            ".all(r, (r == 'pagerduty' && has(self.pagerduty)) || (r == 'slack' && has(self.slack)) ",
            "|| (r == 'email' && has(self.email)) || (r == 'webhook' && has(self.webhook)))"
        )),*]
    };
}

/// The three route rules, critical, high and warning, in that order.
const ROUTE_RULES: [&str; 3] = routes_name_configured_receivers!("critical", "high", "warning");

/// Routing of this XAgent's alerts by severity to up to four receivers, as
/// the seeds route them: critical pages, high goes to chat, warning to email
/// or chat. Grouped by alert and XAgent; a critical alert of the XAgent
/// silences its warnings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.pagerduty) || has(self.slack) || has(self.email) || has(self.webhook)").message("configure at least one receiver: pagerduty, slack, email or webhook"),
    validation = Rule::new(ROUTE_RULES[0]).message("routes.critical names a receiver that is not configured"),
    validation = Rule::new(ROUTE_RULES[1]).message("routes.high names a receiver that is not configured"),
    validation = Rule::new(ROUTE_RULES[2]).message("routes.warning names a receiver that is not configured"),
)]
pub struct AlertmanagerConfigSettings {
    /// Labels on the AlertmanagerConfig, e.g. the ones your Alertmanager's
    /// `alertmanagerConfigSelector` selects.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Labels alerts are grouped by into one notification.
    #[serde(default = "AlertmanagerConfigSettings::default_group_by")]
    #[schemars(length(min = 1, max = 10), inner(regex(pattern = LABEL_NAME_PATTERN)))]
    pub group_by: Vec<String>,
    /// How long a new group waits for more alerts before its first notification.
    #[serde(default = "AlertmanagerConfigSettings::default_group_wait")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub group_wait: String,
    /// How long before a group's changes are notified.
    #[serde(default = "AlertmanagerConfigSettings::default_group_interval")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub group_interval: String,
    /// How long before a still-firing group is notified again.
    #[serde(default = "AlertmanagerConfigSettings::default_repeat_interval")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub repeat_interval: String,
    /// The pager: PagerDuty Events API v2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagerduty: Option<PagerDutyReceiver>,
    /// Chat: a Slack incoming webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<SlackReceiver>,
    /// Email over SMTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailReceiver>,
    /// Any HTTP endpoint that takes Alertmanager's webhook payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookReceiver>,
    /// Which receivers each severity goes to. Omitted severities take the
    /// first configured of: critical pagerduty, slack, webhook, email; high
    /// slack, webhook, email; warning email, slack, webhook. An empty list
    /// sends that severity nowhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<SeverityRoutes>,
}

impl AlertmanagerConfigSettings {
    fn default_group_by() -> Vec<String> {
        vec!["alertname".into(), "xagent".into()]
    }
    fn default_group_wait() -> String {
        "30s".into()
    }
    fn default_group_interval() -> String {
        "5m".into()
    }
    fn default_repeat_interval() -> String {
        "4h".into()
    }
}

/// A PagerDuty receiver.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PagerDutyReceiver {
    /// Secret key holding the integration's routing key.
    pub routing_key_secret_ref: SecretKeyRef,
}

/// A Slack receiver.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlackReceiver {
    /// Secret key holding the incoming webhook's URL (it is the credential).
    pub api_url_secret_ref: SecretKeyRef,
    /// Channel, e.g. #xagent-alerts; omit for the webhook's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 80))]
    pub channel: Option<String>,
}

/// An email receiver.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.authUsername) == has(self.authPasswordSecretRef)").message("set authUsername and authPasswordSecretRef together"),
    validation = Rule::new("!has(self.authPasswordSecretRef) || self.requireTls").message("the SMTP password would travel over plaintext: keep requireTls: true"),
)]
pub struct EmailReceiver {
    /// Recipient address(es), comma-separated.
    #[schemars(length(min = 3, max = 1024))]
    pub to: String,
    /// Sender address; omit for the Alertmanager's global one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 320))]
    pub from: Option<String>,
    /// SMTP server as host:port; omit for the Alertmanager's global one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[^\s:]+:[0-9]{1,5}$"))]
    pub smarthost: Option<String>,
    /// SMTP user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 320))]
    pub auth_username: Option<String>,
    /// Secret key holding the SMTP password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_password_secret_ref: Option<SecretKeyRef>,
    /// Require STARTTLS.
    #[serde(default = "yes")]
    pub require_tls: bool,
}

/// A webhook receiver.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookReceiver {
    /// Secret key holding the URL (URLs of such endpoints often carry a token).
    pub url_secret_ref: SecretKeyRef,
}

/// Receivers per severity.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeverityRoutes {
    /// Receivers of critical alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4), extend("x-kubernetes-list-type" = "set"))]
    pub critical: Option<Vec<ReceiverKind>>,
    /// Receivers of high alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4), extend("x-kubernetes-list-type" = "set"))]
    pub high: Option<Vec<ReceiverKind>>,
    /// Receivers of warning alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4), extend("x-kubernetes-list-type" = "set"))]
    pub warning: Option<Vec<ReceiverKind>>,
}

/// The receivers an XAgent can configure.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReceiverKind {
    /// `pagerduty`.
    Pagerduty,
    /// `slack`.
    Slack,
    /// `email`.
    Email,
    /// `webhook`.
    Webhook,
}

impl ReceiverKind {
    /// The receiver's name in the AlertmanagerConfig.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pagerduty => "pagerduty",
            Self::Slack => "slack",
            Self::Email => "email",
            Self::Webhook => "webhook",
        }
    }
}

/// The per-XAgent Grafana dashboard ConfigMap.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardSettings {
    /// Whether to create ConfigMap NAME-dashboard. Off by default: each is a
    /// few tens of kilobytes in etcd and in the operator's cache.
    #[serde(default)]
    pub enabled: bool,
    /// Labels the Grafana sidecar finds dashboards by.
    #[serde(default = "DashboardSettings::default_labels")]
    #[schemars(extend("minProperties" = 1, "maxProperties" = 16))]
    pub labels: BTreeMap<String, String>,
    /// Annotations, e.g. `grafana_folder: X-Agent` for the sidecar's folder annotation.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 16))]
    pub annotations: BTreeMap<String, String>,
}

impl DashboardSettings {
    fn default_labels() -> BTreeMap<String, String> {
        BTreeMap::from([("grafana_dashboard".to_string(), "1".to_string())])
    }
}

impl Default for DashboardSettings {
    fn default() -> Self {
        Self { enabled: false, labels: Self::default_labels(), annotations: BTreeMap::new() }
    }
}
