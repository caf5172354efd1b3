//! The operator's own Prometheus metrics.
//!
//! Label values are bounded (outcomes, reasons, kinds, XAgent names): never a
//! message, URL or anything else that could carry a secret.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::probes::Dependency;
use crate::probes::error::ProbeError;

/// Labels of reconcile counters and durations.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `success` or `error`.
    pub outcome: &'static str,
}

/// Labels of the reconcile error counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The error's stable reason, see [`crate::error::Error::reason`].
    pub reason: &'static str,
}

/// Labels of the applied-objects counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AppliedLabels {
    /// Kind of the child.
    pub kind: &'static str,
    /// `created`, `updated` or `deleted`.
    pub action: &'static str,
}

/// Labels of per-XAgent dependency series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DependencyLabels {
    /// Namespace of the XAgent.
    pub namespace: String,
    /// Name of the XAgent.
    pub xagent: String,
    /// `redis` or `postgres`.
    pub dependency: &'static str,
}

/// Labels of the probe duration histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProbeLabels {
    /// `redis` or `postgres`.
    pub dependency: &'static str,
    /// `healthy` or `unhealthy`.
    pub result: &'static str,
}

/// Labels of the probe failure counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProbeFailureLabels {
    /// `redis` or `postgres`.
    pub dependency: &'static str,
    /// The failure's stable reason, see [`crate::probes::error::ProbeError::reason`].
    pub reason: &'static str,
}

/// Every metric the operator exports, registered in one registry.
pub struct Metrics {
    /// Completed reconciles by outcome.
    pub reconciles: Family<OutcomeLabels, Counter>,
    /// Failed reconciles by error reason.
    pub reconcile_errors: Family<ErrorLabels, Counter>,
    /// Reconcile wall time by outcome.
    pub reconcile_duration: Family<OutcomeLabels, Histogram>,
    /// Child objects written, by kind and action.
    pub objects_applied: Family<AppliedLabels, Counter>,
    /// 1 when the XAgent's dependency answered its last probe, else 0.
    pub dependency_up: Family<DependencyLabels, Gauge>,
    /// Use against capacity: Redis used_memory/maxmemory, PostgreSQL connections/max_connections.
    pub dependency_saturation: Family<DependencyLabels, Gauge<f64, AtomicU64>>,
    /// Probe wall time by dependency and result.
    pub probe_duration: Family<ProbeLabels, Histogram>,
    /// Failed probes (per endpoint, not per XAgent) by dependency and reason.
    pub probe_failures: Family<ProbeFailureLabels, Counter>,
    /// Entries of each in-memory map the operator keeps per XAgent, so a
    /// leak shows as a line that only grows.
    pub tracked: Family<TrackedLabels, Gauge>,
    /// 1 while this replica reconciles (holds the Lease, or runs without
    /// leader election): the operator's leader-missing alert sums it.
    pub leader: Gauge,
}

/// Which per-XAgent map a [`Metrics::tracked`] series counts.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TrackedLabels {
    /// `retries`, `validations`, `fingerprints`, `probe_results`, `probed_endpoints`, `watched_absent` or `status_writes`.
    pub map: &'static str,
}

impl Metrics {
    /// Every value of [`TrackedLabels::map`].
    pub const TRACKED_MAPS: [&'static str; 7] = [
        "retries",
        "validations",
        "fingerprints",
        "probe_results",
        "probed_endpoints",
        "watched_absent",
        "status_writes",
    ];

    /// Sets the size of `map`.
    pub fn set_tracked(&self, map: &'static str, entries: usize) {
        self.tracked.get_or_create(&TrackedLabels { map }).set(i64::try_from(entries).unwrap_or(i64::MAX));
    }
}

fn reconcile_histogram() -> Histogram {
    // 1 ms .. ~16 s
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

fn probe_histogram() -> Histogram {
    // 0.5 ms .. ~8 s: a probe is bounded by its timeout.
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

impl Metrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            reconciles: Family::default(),
            reconcile_errors: Family::default(),
            reconcile_duration: Family::new_with_constructor(reconcile_histogram),
            objects_applied: Family::default(),
            dependency_up: Family::default(),
            dependency_saturation: Family::default(),
            probe_duration: Family::new_with_constructor(probe_histogram),
            probe_failures: Family::default(),
            tracked: Family::default(),
            leader: Gauge::default(),
        };
        metrics.zero_known_series();
        let r = registry;
        r.register("xagent_reconciles", "Completed reconciles", metrics.reconciles.clone());
        r.register(
            "xagent_reconcile_errors",
            "Failed reconciles by reason",
            metrics.reconcile_errors.clone(),
        );
        r.register(
            "xagent_reconcile_duration_seconds",
            "Reconcile duration",
            metrics.reconcile_duration.clone(),
        );
        r.register("xagent_objects_applied", "Child objects written", metrics.objects_applied.clone());
        r.register(
            "xagent_dependency_up",
            "Dependency answered its last probe",
            metrics.dependency_up.clone(),
        );
        r.register(
            "xagent_dependency_saturation_ratio",
            "Dependency use against its capacity",
            metrics.dependency_saturation.clone(),
        );
        r.register(
            "xagent_dependency_probe_duration_seconds",
            "Dependency probe duration",
            metrics.probe_duration.clone(),
        );
        r.register(
            "xagent_dependency_probe_failures",
            "Failed dependency probes by reason",
            metrics.probe_failures.clone(),
        );
        r.register(
            "xagent_operator_tracked_entries",
            "Entries of the operator's per-XAgent in-memory maps",
            metrics.tracked.clone(),
        );
        r.register(
            "xagent_operator_leader",
            "Whether this replica reconciles (holds the leader Lease)",
            metrics.leader.clone(),
        );
        metrics
    }

    /// Creates the series whose label values are known up front at zero, so a
    /// rate() over them works from the first scrape and dashboards show 0, not gaps.
    fn zero_known_series(&self) {
        for map in Self::TRACKED_MAPS {
            self.set_tracked(map, 0);
        }
        for outcome in ["success", "error"] {
            let _ = self.reconciles.get_or_create(&OutcomeLabels { outcome });
            let _ = self.reconcile_duration.get_or_create(&OutcomeLabels { outcome });
        }
        for reason in crate::error::Error::REASONS {
            let _ = self.reconcile_errors.get_or_create(&ErrorLabels { reason });
        }
        for kind in crate::builders::ChildKind::ALL {
            for action in ["created", "updated", "deleted"] {
                let _ = self.objects_applied.get_or_create(&AppliedLabels { kind: kind.as_str(), action });
            }
        }
        for dependency in Dependency::ALL.map(Dependency::as_str) {
            for result in ["healthy", "unhealthy"] {
                let _ = self.probe_duration.get_or_create(&ProbeLabels { dependency, result });
            }
            for reason in ProbeError::REASONS {
                let _ = self.probe_failures.get_or_create(&ProbeFailureLabels { dependency, reason });
            }
        }
    }

    /// Metrics registered in a throwaway registry, for tests and offline use.
    pub fn unregistered() -> Self {
        Self::register(&mut Registry::default())
    }
}
