//! A typed subset of the Prometheus Operator's `monitoring.coreos.com/v1`
//! ServiceMonitor and PrometheusRule, checked field by field against the
//! upstream CRD schemas by the test suite.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use serde::{Deserialize, Serialize};

/// ServiceMonitor spec: which Services to scrape and how.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "monitoring.coreos.com",
    version = "v1",
    kind = "ServiceMonitor",
    namespaced,
    schema = "disabled",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorSpec {
    /// Services to scrape.
    pub selector: LabelSelector,
    /// Namespaces to look for the Services in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<NamespaceSelector>,
    /// Service labels copied onto every scraped series.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_labels: Vec<String>,
    /// Scrape endpoints (Service ports).
    pub endpoints: Vec<Endpoint>,
}

/// Namespaces a ServiceMonitor selects Services from.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSelector {
    /// Explicit namespace names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_names: Vec<String>,
}

/// One scraped Service port.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// Name of the Service port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// HTTP path of the metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Scrape interval, e.g. 30s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Scrape timeout, e.g. 10s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_timeout: Option<String>,
    /// Relabelings applied to targets before scraping.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relabelings: Vec<RelabelConfig>,
}

/// A Prometheus relabel rule.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RelabelConfig {
    /// Labels whose values are concatenated as input.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_labels: Vec<String>,
    /// Label that receives the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_label: Option<String>,
    /// Relabel action, e.g. replace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// PrometheusRule spec: groups of alerting rules.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "monitoring.coreos.com",
    version = "v1",
    kind = "PrometheusRule",
    namespaced,
    schema = "disabled",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusRuleSpec {
    /// Rule groups.
    pub groups: Vec<RuleGroup>,
}

/// A named group of rules evaluated together.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct RuleGroup {
    /// Group name, unique within the PrometheusRule.
    pub name: String,
    /// The group's rules.
    pub rules: Vec<Rule>,
}

/// Text of a rule: most of it (names, keys, summaries, descriptions) is the
/// catalog's own, borrowed rather than copied for each of an XAgent's 23
/// rules; what a deserialized rule holds is owned.
pub type Text = Cow<'static, str>;

/// One alerting rule.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Rule {
    /// Alert name.
    pub alert: Text,
    /// PromQL expression; the alert fires while it returns series.
    pub expr: String,
    /// How long the expression must hold before the alert fires.
    #[serde(rename = "for")]
    pub for_: Text,
    /// Labels added to the alert (severity, xagent, namespace).
    pub labels: BTreeMap<Text, Text>,
    /// summary, description and runbook_url.
    pub annotations: BTreeMap<Text, Text>,
}

/// AlertmanagerConfig spec (`monitoring.coreos.com/v1alpha1`): a routing
/// subtree the Prometheus Operator merges into an Alertmanager's
/// configuration, scoped to the object's namespace.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "monitoring.coreos.com",
    version = "v1alpha1",
    kind = "AlertmanagerConfig",
    namespaced,
    schema = "disabled",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerConfigSpec {
    /// The top route; the Prometheus Operator adds the namespace matcher.
    pub route: Route,
    /// Receivers the routes name.
    pub receivers: Vec<Receiver>,
    /// Alerts that silence others while they fire.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inhibit_rules: Vec<InhibitRule>,
}

/// A node of the routing tree.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    /// Receiver of the alerts this route matches and no child route does.
    pub receiver: String,
    /// Labels alerts are grouped by.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    /// Wait before a new group's first notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_wait: Option<String>,
    /// Wait before notifying a group's changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_interval: Option<String>,
    /// Wait before repeating a still-firing group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<String>,
    /// Which alerts the route takes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matchers: Vec<Matcher>,
    /// Whether matching goes on to the next sibling.
    #[serde(default, rename = "continue", skip_serializing_if = "Option::is_none")]
    pub continue_: Option<bool>,
    /// Child routes, tried in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

/// A label matcher.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// Value to compare with.
    pub value: String,
    /// `=`, `!=`, `=~` or `!~`.
    pub match_type: String,
}

impl Matcher {
    /// `name="value"`.
    pub fn equal(name: &str, value: &str) -> Self {
        Self { name: name.into(), value: value.into(), match_type: "=".into() }
    }
}

/// A key of a Secret in the object's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct SecretKeySelector {
    /// Secret name.
    pub name: String,
    /// Key in the Secret.
    pub key: String,
}

/// A named set of notification integrations.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Receiver {
    /// Receiver name, unique in the object.
    pub name: String,
    /// PagerDuty integrations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pagerduty_configs: Vec<PagerDutyConfig>,
    /// Slack integrations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slack_configs: Vec<SlackConfig>,
    /// Email integrations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub email_configs: Vec<EmailConfig>,
    /// Webhook integrations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhook_configs: Vec<WebhookConfig>,
}

/// A PagerDuty Events API v2 integration.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PagerDutyConfig {
    /// The integration's routing key.
    pub routing_key: SecretKeySelector,
    /// Whether resolved alerts are sent too.
    pub send_resolved: bool,
    /// Incident summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A Slack incoming-webhook integration.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SlackConfig {
    /// The webhook URL.
    #[serde(rename = "apiURL")]
    pub api_url: SecretKeySelector,
    /// Channel, when not the webhook's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Whether resolved alerts are sent too.
    pub send_resolved: bool,
    /// Message title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Message text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// An SMTP integration.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EmailConfig {
    /// Recipients.
    pub to: String,
    /// Sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// SMTP server, host:port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smarthost: Option<String>,
    /// SMTP user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_username: Option<String>,
    /// SMTP password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_password: Option<SecretKeySelector>,
    /// Require STARTTLS.
    #[serde(rename = "requireTLS")]
    pub require_tls: bool,
    /// Whether resolved alerts are sent too.
    pub send_resolved: bool,
}

/// A generic webhook integration.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WebhookConfig {
    /// The endpoint's URL.
    pub url_secret: SecretKeySelector,
    /// Whether resolved alerts are sent too.
    pub send_resolved: bool,
}

/// Silences alerts matching `target_match` while one matching `source_match`
/// fires with the same values of `equal`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InhibitRule {
    /// The silencing alert.
    pub source_match: Vec<Matcher>,
    /// The silenced alerts.
    pub target_match: Vec<Matcher>,
    /// Labels both must share.
    pub equal: Vec<String>,
}
