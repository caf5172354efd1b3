//! Whether the Prometheus Operator CRDs are installed, tracked by watching
//! their CustomResourceDefinitions (metadata only), so ServiceMonitors and
//! PrometheusRules appear without an operator restart once the CRDs do.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::{Stream, StreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use tracing::info;

/// CRD names the monitoring objects need.
pub const SERVICE_MONITOR_CRD: &str = "servicemonitors.monitoring.coreos.com";
/// CRD name of PrometheusRule.
pub const PROMETHEUS_RULE_CRD: &str = "prometheusrules.monitoring.coreos.com";

/// Presence flags, shared between the watch and the reconciler.
#[derive(Debug, Default)]
pub struct MonitoringCrds {
    service_monitor: AtomicBool,
    prometheus_rule: AtomicBool,
}

impl MonitoringCrds {
    /// Flags with a known state, for tests and for clusters checked up front.
    pub fn new(installed: bool) -> Self {
        Self { service_monitor: AtomicBool::new(installed), prometheus_rule: AtomicBool::new(installed) }
    }

    /// Whether both CRDs are installed.
    pub fn installed(&self) -> bool {
        self.service_monitor.load(Ordering::Acquire) && self.prometheus_rule.load(Ordering::Acquire)
    }

    fn flag(&self, name: &str) -> Option<&AtomicBool> {
        match name {
            SERVICE_MONITOR_CRD => Some(&self.service_monitor),
            PROMETHEUS_RULE_CRD => Some(&self.prometheus_rule),
            _ => None,
        }
    }

    /// Records that CRD `name` exists (or not); true when monitoring just became available.
    pub fn set(&self, name: &str, present: bool) -> bool {
        let before = self.installed();
        if let Some(flag) = self.flag(name) {
            flag.store(present, Ordering::Release);
        }
        !before && self.installed()
    }
}

/// Presence updates of CRD `name`: an empty relist means it was deleted meanwhile.
fn presence(
    api: Api<PartialObjectMeta<CustomResourceDefinition>>,
    name: &'static str,
) -> impl Stream<Item = (&'static str, bool)> {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    // Metadata only: CRD schemas are large and never read here.
    watcher(api, config)
        .default_backoff()
        .scan(false, move |seen, event| {
            let update = match event {
                Ok(watcher::Event::Init) => {
                    *seen = false;
                    None
                }
                Ok(watcher::Event::InitApply(_)) => {
                    *seen = true;
                    None
                }
                Ok(watcher::Event::InitDone) => Some(*seen),
                Ok(watcher::Event::Apply(_)) => Some(true),
                Ok(watcher::Event::Delete(_)) => Some(false),
                Err(_) => None,
            };
            futures::future::ready(Some(update.map(|present| (name, present))))
        })
        .filter_map(futures::future::ready)
}

/// A stream that yields `()` each time both CRDs become present, for `reconcile_all_on`.
pub fn watch(client: Client, crds: Arc<MonitoringCrds>) -> impl Stream<Item = ()> + Send + 'static {
    let api: Api<PartialObjectMeta<CustomResourceDefinition>> = Api::all(client);
    let updates = futures::stream::select(
        presence(api.clone(), SERVICE_MONITOR_CRD),
        presence(api, PROMETHEUS_RULE_CRD),
    );
    updates.filter_map(move |(name, present)| {
        let appeared = crds.set(name, present);
        if appeared {
            info!("Prometheus Operator CRDs found; reconciling every XAgent");
        }
        futures::future::ready(appeared.then_some(()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitoring_appears_only_when_both_crds_are_present() {
        let crds = MonitoringCrds::default();
        assert!(!crds.installed());
        assert!(!crds.set(SERVICE_MONITOR_CRD, true), "one of two is not enough");
        assert!(crds.set(PROMETHEUS_RULE_CRD, true), "the second one completes the pair");
        assert!(!crds.set(PROMETHEUS_RULE_CRD, true), "no news is no trigger");
        assert!(crds.installed());
        assert!(!crds.set(SERVICE_MONITOR_CRD, false));
        assert!(!crds.installed(), "deleting a CRD takes monitoring away");
        assert!(!crds.set("other.example.com", true), "unrelated CRDs are ignored");
        assert!(crds.set(SERVICE_MONITOR_CRD, true), "and back");
    }
}
