//! Per-XAgent dependency health shared by the prober (writer) and the
//! reconciler (reader), and the rule for when a probe result is worth a
//! status write.

use std::collections::HashMap;
use std::sync::RwLock;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{Dependency, ProbeResult};
use crate::crd::{DependenciesStatus, DependencyStatus};

/// `namespace/name` of an XAgent.
pub type XAgentKey = (String, String);

/// One dependency as last published. The reason travels beside the CRD's
/// record, which has no field for it, to become the condition's reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// What status.dependencies shows.
    pub record: DependencyStatus,
    /// The [`ProbeResult::reason`] of the probe behind the record.
    pub reason: &'static str,
}

/// Everything published about one XAgent's dependencies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PublishedDependencies {
    /// Redis, once probed.
    pub redis: Option<Published>,
    /// PostgreSQL, once probed.
    pub postgres: Option<Published>,
}

impl PublishedDependencies {
    /// The records as status.dependencies shows them.
    pub fn status(&self) -> DependenciesStatus {
        let record = |p: &Option<Published>| p.as_ref().map(|p| p.record.clone());
        DependenciesStatus { redis: record(&self.redis), postgres: record(&self.postgres) }
    }

    fn slot(&mut self, dep: Dependency) -> &mut Option<Published> {
        match dep {
            Dependency::Redis => &mut self.redis,
            Dependency::Postgres => &mut self.postgres,
        }
    }

    fn is_empty(&self) -> bool {
        self.redis.is_none() && self.postgres.is_none()
    }
}

/// Latest published dependency health of every XAgent.
#[derive(Debug, Default)]
pub struct ProbeState {
    inner: RwLock<HashMap<XAgentKey, PublishedDependencies>>,
}

impl ProbeState {
    /// What is known about `namespace/name`'s dependencies, as its status shows it.
    pub fn get(&self, namespace: &str, name: &str) -> DependenciesStatus {
        self.published(namespace, name).status()
    }

    /// What is known about `namespace/name`'s dependencies, reasons included.
    pub fn published(&self, namespace: &str, name: &str) -> PublishedDependencies {
        let map = self.inner.read().unwrap_or_else(|p| p.into_inner());
        map.get(&(namespace.to_string(), name.to_string())).cloned().unwrap_or_default()
    }

    /// Records a new probe result for one XAgent's dependency; returns true when
    /// the published record changed, i.e. when the XAgent's status should be rewritten.
    pub fn record(
        &self,
        key: &XAgentKey,
        dep: Dependency,
        result: &ProbeResult,
        failures: u32,
        now: Time,
    ) -> bool {
        let mut map = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let slot = map.entry(key.clone()).or_default().slot(dep);
        match next(slot.as_ref(), result, failures, now) {
            Some(published) => {
                *slot = Some(published);
                true
            }
            None => false,
        }
    }

    /// How many XAgents have a recorded result.
    pub fn len(&self) -> usize {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no XAgent has a recorded result.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets dependencies that are no longer configured; returns the XAgents that lost one.
    pub fn retain(&self, keep: impl Fn(&XAgentKey, Dependency) -> bool) -> Vec<XAgentKey> {
        let mut map = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let mut changed = Vec::new();
        for (key, deps) in map.iter_mut() {
            let mut lost = false;
            for dep in Dependency::ALL {
                if !keep(key, dep) {
                    lost |= deps.slot(dep).take().is_some();
                }
            }
            if lost {
                changed.push(key.clone());
            }
        }
        map.retain(|_, deps| !deps.is_empty());
        changed
    }
}

/// Failure counts at which the record is refreshed while a dependency stays down:
/// often enough to show it is still being tried, rarely enough not to flood the API.
fn is_milestone(failures: u32) -> bool {
    let mut step = 1u32;
    while step <= failures {
        if [step, step.saturating_mul(2), step.saturating_mul(3), step.saturating_mul(5)].contains(&failures)
        {
            return true;
        }
        step = step.saturating_mul(10);
    }
    false
}

/// The record to publish after `result`, or `None` when the current one still tells the truth.
pub fn next(
    previous: Option<&Published>,
    result: &ProbeResult,
    failures: u32,
    now: Time,
) -> Option<Published> {
    let flipped = previous.is_none_or(|p| p.record.healthy != result.healthy);
    let reworded = previous.is_some_and(|p| p.record.message != result.message || p.reason != result.reason);
    let milestone = !result.healthy && is_milestone(failures);
    if !(flipped || reworded || milestone) {
        return None;
    }
    let last_transition_time = match previous {
        Some(p) if !flipped => p.record.last_transition_time.clone(),
        _ => now,
    };
    let record = DependencyStatus {
        healthy: result.healthy,
        latency_ms: result.latency_ms,
        last_transition_time,
        message: result.message.clone(),
        consecutive_failures: failures,
    };
    Some(Published { record, reason: result.reason })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).unwrap())
    }

    fn result(healthy: bool, message: &str, latency_ms: u64) -> ProbeResult {
        let reason = if healthy { ProbeResult::SUCCEEDED } else { "ConnectionRefused" };
        ProbeResult { healthy, latency_ms, message: message.into(), reason, saturation: None }
    }

    #[test]
    fn first_result_is_published() {
        let rec = next(None, &result(true, "PING answered", 3), 0, at(10)).unwrap();
        assert!(rec.record.healthy);
        assert_eq!(rec.record.latency_ms, 3);
        assert_eq!(rec.record.last_transition_time, at(10));
        assert_eq!(rec.reason, "ProbeSucceeded");
    }

    #[test]
    fn steady_health_with_new_latency_publishes_nothing() {
        let prev = next(None, &result(true, "PING answered", 3), 0, at(10)).unwrap();
        assert_eq!(next(Some(&prev), &result(true, "PING answered", 40), 0, at(40)), None);
    }

    #[test]
    fn flip_publishes_with_a_new_transition_time() {
        let prev = next(None, &result(true, "PING answered", 3), 0, at(10)).unwrap();
        let down = next(Some(&prev), &result(false, "Connection refused", 1), 1, at(40)).unwrap();
        assert!(!down.record.healthy);
        assert_eq!(down.record.consecutive_failures, 1);
        assert_eq!(down.record.last_transition_time, at(40));
        assert_eq!(down.reason, "ConnectionRefused");
    }

    #[test]
    fn failures_are_republished_only_at_milestones_and_keep_the_transition_time() {
        let mut rec = next(None, &result(false, "Connection refused", 1), 1, at(0)).unwrap();
        let mut published = vec![1];
        for failures in 2..=120 {
            if let Some(r) =
                next(Some(&rec), &result(false, "Connection refused", 1), failures, at(failures.into()))
            {
                assert_eq!(r.record.last_transition_time, at(0));
                published.push(r.record.consecutive_failures);
                rec = r;
            }
        }
        assert_eq!(published, vec![1, 2, 3, 5, 10, 20, 30, 50, 100]);
    }

    #[test]
    fn a_new_message_is_published_without_a_transition() {
        let prev = next(None, &result(false, "Connection refused", 1), 1, at(0)).unwrap();
        let rec =
            next(Some(&prev), &result(false, "no answer within the 5 s timeout", 5000), 4, at(90)).unwrap();
        assert_eq!(rec.record.message, "no answer within the 5 s timeout");
        assert_eq!(rec.record.last_transition_time, at(0));
    }

    #[test]
    fn a_new_reason_is_published_without_a_transition() {
        let prev = next(None, &result(false, "Connection refused", 1), 1, at(0)).unwrap();
        let other = ProbeResult { reason: "ConnectFailed", ..result(false, "Connection refused", 1) };
        let rec = next(Some(&prev), &other, 4, at(90)).unwrap();
        assert_eq!(rec.reason, "ConnectFailed");
        assert_eq!(rec.record.last_transition_time, at(0));
    }

    #[test]
    fn state_records_and_forgets() {
        let state = ProbeState::default();
        let key = ("ns".to_string(), "a".to_string());
        assert!(state.record(&key, Dependency::Redis, &result(true, "ok", 1), 0, at(0)));
        assert!(!state.record(&key, Dependency::Redis, &result(true, "ok", 2), 0, at(1)));
        assert!(state.get("ns", "a").redis.is_some());
        assert_eq!(state.published("ns", "a").redis.map(|p| p.reason), Some("ProbeSucceeded"));
        assert_eq!(state.retain(|_, dep| dep != Dependency::Redis), vec![key.clone()]);
        assert!(state.get("ns", "a").is_empty());
    }
}
