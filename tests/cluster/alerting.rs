//! Alert routing and the dashboard on the real API server: an XAgent that
//! sets `spec.monitoring.alertmanagerConfig` and `spec.monitoring.dashboard`
//! gets an AlertmanagerConfig (checked by the upstream CRD's schema, which the
//! server enforces) and a dashboard ConfigMap, stored as built, and loses both
//! when it stops asking for them.

use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::{Value, json};
use xagent_operator::builders::monitoring::dashboard::xagent_dashboard;
use xagent_operator::builders::monitoring::routing::alertmanager_config;
use xagent_operator::builders::monitoring::types::AlertmanagerConfig;

use crate::harness::{Cluster, User};
use crate::install::install_monitoring_crds;
use crate::kit::{self, eventually};
use crate::operator::Operator;
use crate::runtime;

/// The scenarios of this module.
pub fn scenarios() -> Vec<crate::Scenario> {
    vec![("alerting::routing_and_dashboard_are_accepted_then_removed", routing_and_dashboard)]
}

fn secret(name: &str) -> Value {
    json!({"name": name, "key": "value"})
}

/// Every receiver, critical to two of them, and a dashboard in a folder.
fn monitoring() -> Value {
    json!({
        "alertmanagerConfig": {
            "labels": {"alertmanager": "main"},
            "pagerduty": {"routingKeySecretRef": secret("pd")},
            "slack": {"apiUrlSecretRef": secret("slack"), "channel": "#xagent"},
            "email": {"to": "ops@example.com", "smarthost": "smtp.example.com:587",
                      "authUsername": "alerts", "authPasswordSecretRef": secret("smtp")},
            "webhook": {"urlSecretRef": secret("hook")},
            "routes": {"critical": ["pagerduty", "slack"]},
        },
        "dashboard": {"enabled": true, "annotations": {"grafana_folder": "X-Agent"}},
    })
}

fn routing_and_dashboard(cluster: &Cluster) {
    install_monitoring_crds(cluster);
    runtime().block_on(async {
        let admin = cluster.client(User::Admin).await;
        let ns = "alerting";
        kit::namespace(&admin, ns).await;
        let _operator = Operator::start(cluster, User::Operator, ns, &[]);
        let xagent = kit::apply_xagent(&admin, ns, "demo", json!({"monitoring": monitoring()})).await;
        let configs: Api<AlertmanagerConfig> = Api::namespaced(admin.clone(), ns);
        let maps: Api<ConfigMap> = Api::namespaced(admin.clone(), ns);
        let ((config, dashboard), took) = eventually(
            "AlertmanagerConfig demo and ConfigMap demo-dashboard",
            Duration::from_secs(60),
            || async {
                Some((configs.get_opt("demo").await.ok()??, maps.get_opt("demo-dashboard").await.ok()??))
            },
        )
        .await;
        eprintln!("AlertmanagerConfig and dashboard ConfigMap stored {took:?} after the XAgent");
        let settings = xagent.spec.monitoring.alertmanager_config.clone().expect("set");
        assert_eq!(config.spec, alertmanager_config(&xagent, &settings).spec, "stored as built");
        assert_eq!(config.metadata.labels.unwrap_or_default()["alertmanager"], "main");
        let labels = dashboard.metadata.labels.clone().unwrap_or_default();
        assert_eq!(labels.get("grafana_dashboard").map(String::as_str), Some("1"), "for the Grafana sidecar");
        assert_eq!(dashboard.metadata.annotations.clone().unwrap_or_default()["grafana_folder"], "X-Agent");
        let data = dashboard.data.unwrap_or_default();
        let json: Value = serde_json::from_str(&data["xagent-alerting-demo.json"]).expect("dashboard JSON");
        assert_eq!(json, xagent_dashboard(&xagent));
        kit::wait_condition(&admin, ns, "demo", "MonitoringReady", "True").await;

        kit::apply_xagent(&admin, ns, "demo", json!({})).await;
        let (_, took) = eventually("both to be pruned", Duration::from_secs(60), || async {
            let gone = configs.get_opt("demo").await.ok()?.is_none()
                && maps.get_opt("demo-dashboard").await.ok()?.is_none();
            gone.then_some(())
        })
        .await;
        eprintln!("both pruned {took:?} after the XAgent stopped asking for them");
    });
}
