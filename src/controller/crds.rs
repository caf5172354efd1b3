//! Whether the Prometheus Operator CRDs are installed, tracked by watching
//! their CustomResourceDefinitions (metadata only), so ServiceMonitors,
//! PrometheusRules and AlertmanagerConfigs appear without an operator restart
//! once the CRDs do. ServiceMonitor and PrometheusRule come as a pair
//! ([`MonitoringCrds::installed`]); AlertmanagerConfig, which not every
//! install of the Prometheus Operator serves, on its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use futures::{Stream, StreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use tracing::info;

use crate::builders::ChildKind;

/// CRD names the monitoring objects need.
pub const SERVICE_MONITOR_CRD: &str = "servicemonitors.monitoring.coreos.com";
/// CRD name of PrometheusRule.
pub const PROMETHEUS_RULE_CRD: &str = "prometheusrules.monitoring.coreos.com";
/// CRD name of AlertmanagerConfig.
pub const ALERTMANAGER_CONFIG_CRD: &str = "alertmanagerconfigs.monitoring.coreos.com";

/// Every bit of [`MonitoringCrds::seen`].
const ALL: u8 = 7;

/// Presence flags, shared between the watch and the reconciler.
#[derive(Debug, Default)]
pub struct MonitoringCrds {
    service_monitor: AtomicBool,
    prometheus_rule: AtomicBool,
    alertmanager_config: AtomicBool,
    /// Which of the CRDs the watch has reported on (bits 1, 2, 4).
    seen: AtomicU8,
    synced: tokio::sync::Notify,
}

impl MonitoringCrds {
    /// Flags with a known state, for tests and for clusters checked up front.
    pub fn new(installed: bool) -> Self {
        Self {
            service_monitor: AtomicBool::new(installed),
            prometheus_rule: AtomicBool::new(installed),
            alertmanager_config: AtomicBool::new(installed),
            seen: AtomicU8::new(ALL),
            synced: tokio::sync::Notify::new(),
        }
    }

    /// Whether the watch has reported on every CRD, so [`Self::installed`] is known.
    pub fn is_synced(&self) -> bool {
        self.seen.load(Ordering::Acquire) == ALL
    }

    /// Waits until [`Self::is_synced`]: reconciling before would report monitoring
    /// as missing on every restart, and write status twice.
    pub async fn wait_synced(&self) {
        while !self.is_synced() {
            let notified = self.synced.notified();
            if self.is_synced() {
                return;
            }
            notified.await;
        }
    }

    /// Whether the ServiceMonitor and PrometheusRule CRDs are both installed.
    pub fn installed(&self) -> bool {
        self.service_monitor.load(Ordering::Acquire) && self.prometheus_rule.load(Ordering::Acquire)
    }

    /// Whether the AlertmanagerConfig CRD is installed.
    pub fn routing_installed(&self) -> bool {
        self.alertmanager_config.load(Ordering::Acquire)
    }

    /// Whether objects of `kind` can exist in the cluster now.
    pub fn serves(&self, kind: ChildKind) -> bool {
        match kind {
            ChildKind::AlertmanagerConfig => self.routing_installed(),
            kind if kind.is_monitoring() => self.installed(),
            _ => true,
        }
    }

    fn flag(&self, name: &str) -> Option<(&AtomicBool, u8)> {
        match name {
            SERVICE_MONITOR_CRD => Some((&self.service_monitor, 1)),
            PROMETHEUS_RULE_CRD => Some((&self.prometheus_rule, 2)),
            ALERTMANAGER_CONFIG_CRD => Some((&self.alertmanager_config, 4)),
            _ => None,
        }
    }

    /// Records that CRD `name` exists (or not); true when a kind just became
    /// available (the pair, or AlertmanagerConfig).
    pub fn set(&self, name: &str, present: bool) -> bool {
        let before = (self.installed(), self.routing_installed());
        if let Some((flag, bit)) = self.flag(name) {
            flag.store(present, Ordering::Release);
            if self.seen.fetch_or(bit, Ordering::AcqRel) | bit == ALL {
                self.synced.notify_waiters();
            }
        }
        (!before.0 && self.installed()) || (!before.1 && self.routing_installed())
    }
}

/// Presence updates of CRD `name`: an empty relist means it was deleted meanwhile.
fn presence(
    api: Api<PartialObjectMeta<CustomResourceDefinition>>,
    name: &'static str,
) -> impl Stream<Item = (&'static str, bool)> {
    let config = crate::client::watch_config().fields(&format!("metadata.name={name}"));
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

/// A stream that yields `()` each time a kind becomes available, for `reconcile_all_on`.
pub fn watch(client: Client, crds: Arc<MonitoringCrds>) -> impl Stream<Item = ()> + Send + 'static {
    let api: Api<PartialObjectMeta<CustomResourceDefinition>> = Api::all(client);
    let updates = futures::stream::select_all([
        presence(api.clone(), SERVICE_MONITOR_CRD).boxed(),
        presence(api.clone(), PROMETHEUS_RULE_CRD).boxed(),
        presence(api, ALERTMANAGER_CONFIG_CRD).boxed(),
    ]);
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
        assert!(!crds.serves(ChildKind::AlertmanagerConfig), "not yet reported");
        assert!(crds.serves(ChildKind::PrometheusRule) && crds.serves(ChildKind::Service));
        assert!(crds.set(ALERTMANAGER_CONFIG_CRD, true), "AlertmanagerConfig alone is news");
        assert!(crds.serves(ChildKind::AlertmanagerConfig));
        assert!(!crds.set(PROMETHEUS_RULE_CRD, false));
        assert!(!crds.serves(ChildKind::ServiceMonitor) && crds.serves(ChildKind::AlertmanagerConfig));
    }

    #[tokio::test]
    async fn synced_once_every_crd_was_reported_present_or_absent() {
        let crds = Arc::new(MonitoringCrds::default());
        assert!(!crds.is_synced());
        let waiter = tokio::spawn({
            let crds = crds.clone();
            async move { crds.wait_synced().await }
        });
        crds.set(SERVICE_MONITOR_CRD, false);
        assert!(!crds.is_synced());
        crds.set(PROMETHEUS_RULE_CRD, false);
        assert!(!crds.is_synced(), "AlertmanagerConfig not reported yet");
        crds.set(ALERTMANAGER_CONFIG_CRD, false);
        assert!(crds.is_synced());
        tokio::time::timeout(std::time::Duration::from_secs(1), waiter).await.unwrap().unwrap();
        assert!(MonitoringCrds::new(false).is_synced(), "known up front");
    }
}
