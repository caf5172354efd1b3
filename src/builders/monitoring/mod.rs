//! Prometheus Operator integration: the ServiceMonitor and the PrometheusRule
//! alert catalog of an XAgent (pure builders, like [`crate::builders`]).

pub mod alerts;
pub mod dashboard;
pub mod operator;
pub mod routing;
pub mod types;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::ResourceExt;

use self::types::{
    Endpoint, NamespaceSelector, PrometheusRule, PrometheusRuleSpec, RelabelConfig, Rule, RuleGroup,
    ServiceMonitor, ServiceMonitorSpec,
};
use super::meta::{APP, Component, MANAGER, object_meta};
use crate::crd::{DashboardSettings, XAgent};

/// Name of the Service port every component serves /metrics on.
pub const METRICS_PORT_NAME: &str = "metrics";

fn meta(xagent: &XAgent, extra: &BTreeMap<String, String>) -> ObjectMeta {
    let mut meta = object_meta(xagent, Component::Monitoring, xagent.name_any());
    let labels = meta.labels.get_or_insert_with(BTreeMap::new);
    for (k, v) in extra {
        // Our own labels win: they are how the operator finds its objects.
        labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    meta
}

/// Copies a Service label of the target onto every scraped series under `target`.
fn copy_service_label(label: &str, target: &str) -> RelabelConfig {
    RelabelConfig {
        source_labels: vec![format!("__meta_kubernetes_service_label_{label}")],
        target_label: Some(target.into()),
        action: Some("replace".into()),
    }
}

/// ServiceMonitor NAME: scrapes the `metrics` port of every component Service of
/// this XAgent and labels each series with `xagent` and `component`, the labels
/// the alert expressions select on.
pub fn service_monitor(xagent: &XAgent) -> ServiceMonitor {
    let settings = &xagent.spec.monitoring.service_monitor;
    let selector = BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), APP.to_string()),
        ("app.kubernetes.io/instance".to_string(), xagent.name_any()),
        ("app.kubernetes.io/managed-by".to_string(), MANAGER.to_string()),
    ]);
    ServiceMonitor {
        metadata: meta(xagent, &settings.labels),
        spec: ServiceMonitorSpec {
            selector: LabelSelector { match_labels: Some(selector), ..LabelSelector::default() },
            namespace_selector: xagent.namespace().map(|ns| NamespaceSelector { match_names: vec![ns] }),
            target_labels: Vec::new(),
            endpoints: vec![Endpoint {
                port: Some(METRICS_PORT_NAME.into()),
                path: Some("/metrics".into()),
                interval: Some(settings.interval.clone()),
                scrape_timeout: Some(settings.scrape_timeout.clone()),
                relabelings: vec![
                    copy_service_label("app_kubernetes_io_instance", "xagent"),
                    copy_service_label("app_kubernetes_io_component", "component"),
                ],
            }],
        },
    }
}

/// PrometheusRule NAME: one group per enabled alert group, `xagent-GROUP`.
pub fn prometheus_rule(xagent: &XAgent) -> PrometheusRule {
    let settings = &xagent.spec.monitoring.prometheus_rule;
    // The catalog is ordered by group, so one pass moves each alert into its
    // group (render runs once per XAgent per reconcile and per `render`).
    let mut groups: Vec<RuleGroup> = Vec::with_capacity(alerts::Group::ALL.len());
    let mut current = None;
    for a in alerts::render(xagent, settings) {
        if current != Some(a.group) {
            current = Some(a.group);
            groups.push(RuleGroup { name: format!("xagent-{}", a.group.as_str()), rules: Vec::new() });
        }
        let rule = Rule {
            alert: a.name.into(),
            expr: a.expr,
            for_: a.for_,
            labels: a.labels,
            annotations: a.annotations,
        };
        if let Some(group) = groups.last_mut() {
            group.rules.push(rule);
        }
    }
    PrometheusRule { metadata: meta(xagent, &settings.labels), spec: PrometheusRuleSpec { groups } }
}

/// ConfigMap NAME-dashboard: the XAgent's Grafana dashboard, labelled for the
/// Grafana sidecar. Its key names the namespace too, because the sidecar
/// writes every dashboard of the cluster into one directory.
pub fn dashboard_config_map(xagent: &XAgent, settings: &DashboardSettings) -> ConfigMap {
    let name = xagent.name_any();
    let mut metadata = meta(xagent, &settings.labels);
    metadata.name = Some(format!("{name}-dashboard"));
    if !settings.annotations.is_empty() {
        metadata.annotations = Some(settings.annotations.clone());
    }
    let key = format!("xagent-{}-{name}.json", xagent.namespace().unwrap_or_default());
    let json = serde_json::to_string(&dashboard::xagent_dashboard(xagent)).unwrap_or_default();
    ConfigMap { metadata, data: Some(BTreeMap::from([(key, json)])), ..ConfigMap::default() }
}
