//! Per-XAgent retry schedule: exponential backoff with jitter that holds
//! whatever triggers a reconcile.
//!
//! The controller's own requeue delay is not enough: any watch event (a
//! Deployment's status changing, an HPA scaling) starts a reconcile at once,
//! and a child the server keeps refusing would be sent again on every one.
//! So a failed XAgent is not reconciled again before its attempt is due,
//! unless its spec changes (a person's fix is tried at once).

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// First retry delay; doubled per consecutive failure.
pub const BASE: Duration = Duration::from_secs(5);
/// The longest delay between two attempts.
pub const CAP: Duration = Duration::from_secs(300);

/// Where one failing XAgent stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    /// Consecutive failed reconciles of this generation.
    pub attempts: u32,
    /// The generation that failed.
    pub generation: Option<i64>,
    /// When the next attempt is due.
    pub due: Instant,
    /// The delay before `due`.
    pub delay: Duration,
}

/// The schedule of every failing XAgent, by `namespace/name`.
#[derive(Debug, Default)]
pub struct Schedule {
    entries: Mutex<HashMap<String, Retry>>,
}

impl Schedule {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Retry>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long `key` at `generation` must still wait; `None` when it may run.
    pub fn waiting(&self, key: &str, generation: Option<i64>, now: Instant) -> Option<Duration> {
        let entries = self.entries();
        let retry = entries.get(key).filter(|r| r.generation == generation)?;
        (retry.due > now).then(|| retry.due - now)
    }

    /// Records one more failure of `key` at `generation` and returns its
    /// next attempt. A failure at a new generation starts over at one.
    pub fn failed(&self, key: &str, generation: Option<i64>, now: Instant) -> Retry {
        let mut entries = self.entries();
        let attempts = entries.get(key).filter(|r| r.generation == generation).map_or(0, |r| r.attempts) + 1;
        let delay = jitter(backoff(attempts), random());
        let retry = Retry { attempts, generation, due: now + delay, delay };
        entries.insert(key.to_string(), retry);
        retry
    }

    /// Holds `key` at `generation` for `delay` without counting a failure
    /// (nothing to gain from trying sooner, e.g. its namespace is going).
    pub fn hold(&self, key: &str, generation: Option<i64>, now: Instant, delay: Duration) {
        let retry = Retry { attempts: 0, generation, due: now + delay, delay };
        self.entries().insert(key.to_string(), retry);
    }

    /// Forgets `key`: it succeeded, or the XAgent is gone.
    pub fn clear(&self, key: &str) {
        self.entries().remove(key);
    }

    /// Keeps only the keys `live` accepts: entries of deleted XAgents go.
    pub fn retain(&self, live: impl Fn(&str) -> bool) {
        self.entries().retain(|key, _| live(key));
    }

    /// How many XAgents have an entry.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether no XAgent has an entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Delay before attempt `attempt + 1`: 5 s doubling per failure, capped.
pub fn backoff(attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(16);
    BASE.saturating_mul(factor).min(CAP)
}

/// `delay` spread by ±10 % from `random`, so XAgents that failed together
/// (an API server outage) do not all retry in the same second.
pub fn jitter(delay: Duration, random: u64) -> Duration {
    let spread = (random % 2001) as f64 / 10_000.0 - 0.1;
    delay.mul_f64(1.0 + spread)
}

/// A random number from the standard library's per-instance hash keys.
fn random() -> u64 {
    RandomState::new().build_hasher().finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_from_five_seconds_up_to_five_minutes() {
        let delays: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(backoff(u32::MAX), CAP);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let base = Duration::from_secs(100);
        assert_eq!(jitter(base, 0), Duration::from_secs(90));
        assert_eq!(jitter(base, 2000), Duration::from_secs(110));
        for random in [1, 999, 1000, 12_345, u64::MAX] {
            let d = jitter(base, random);
            assert!(d >= Duration::from_secs(90) && d <= Duration::from_secs(110), "{d:?}");
        }
    }

    #[test]
    fn a_failed_xagent_waits_until_due_whatever_triggers_it() {
        let schedule = Schedule::default();
        let now = Instant::now();
        assert_eq!(schedule.waiting("ns/a", Some(1), now), None);
        let first = schedule.failed("ns/a", Some(1), now);
        assert_eq!(first.attempts, 1);
        let waiting = schedule.waiting("ns/a", Some(1), now + Duration::from_secs(1)).expect("backing off");
        assert!(waiting <= first.delay - Duration::from_secs(1));
        assert_eq!(schedule.waiting("ns/a", Some(1), first.due), None, "due now");
        let second = schedule.failed("ns/a", Some(1), first.due);
        assert_eq!(second.attempts, 2);
        assert!(second.delay >= Duration::from_secs(9), "doubled: {:?}", second.delay);
    }

    #[test]
    fn a_new_generation_is_tried_at_once_and_starts_over() {
        let schedule = Schedule::default();
        let now = Instant::now();
        schedule.failed("ns/a", Some(1), now);
        schedule.failed("ns/a", Some(1), now);
        assert_eq!(schedule.waiting("ns/a", Some(2), now), None, "a spec change is not held back");
        assert_eq!(schedule.failed("ns/a", Some(2), now).attempts, 1);
    }

    #[test]
    fn a_hold_delays_without_counting_a_failure() {
        let schedule = Schedule::default();
        let now = Instant::now();
        schedule.hold("ns/a", Some(1), now, Duration::from_secs(60));
        assert_eq!(schedule.waiting("ns/a", Some(1), now), Some(Duration::from_secs(60)));
        assert_eq!(schedule.failed("ns/a", Some(1), now).attempts, 1);
    }

    #[test]
    fn entries_of_deleted_xagents_are_dropped() {
        let schedule = Schedule::default();
        let now = Instant::now();
        for i in 0..1000 {
            schedule.failed(&format!("ns/x{i}"), Some(1), now);
        }
        schedule.retain(|key| key == "ns/x7");
        assert_eq!(schedule.len(), 1);
        schedule.clear("ns/x7");
        assert!(schedule.is_empty());
    }
}
