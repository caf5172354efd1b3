//! The fingerprints of each XAgent's desired children, kept per generation.
//!
//! Every reconcile builds the desired children, but most reconciles (a
//! Deployment's counts moved, a resync) find them all in place, and proving
//! that needs each child's fingerprint: a serialization of the whole object
//! to canonical JSON and a digest of it, 13 times per reconcile. The children
//! are a function of the XAgent's name, namespace, uid and spec and of the
//! installation's settings, fixed for the process; the spec changes only
//! with the generation (the CRD has a status subresource). So the
//! fingerprints are taken once per uid and generation and read back after;
//! an XAgent without a generation (never one from the API server) is
//! fingerprinted every time.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

/// The fingerprints of each XAgent's desired children (see the module docs).
#[derive(Default)]
pub struct Prints {
    inner: Mutex<HashMap<String, Known>>,
}

/// One XAgent's fingerprints, in the order its children were built.
struct Known {
    generation: i64,
    prints: Arc<[u64]>,
}

impl Prints {
    /// The fingerprints of the `count` children of XAgent `uid` at
    /// `generation`: remembered, or taken by `take` (in the order the
    /// children were built) and remembered.
    pub fn of(
        &self,
        uid: &str,
        generation: Option<i64>,
        count: usize,
        take: impl FnOnce() -> Vec<u64>,
    ) -> Arc<[u64]> {
        let Some(generation) = generation else { return take().into() };
        if let Some(known) =
            self.inner().get(uid).filter(|k| k.generation == generation && k.prints.len() == count)
        {
            return Arc::clone(&known.prints);
        }
        // Taken outside the lock: reconciles of other XAgents go on meanwhile.
        let prints: Arc<[u64]> = take().into();
        let known = Known { generation, prints: Arc::clone(&prints) };
        self.inner().insert(uid.to_string(), known);
        prints
    }

    /// Forgets XAgent `uid` (deleted).
    pub fn forget(&self, uid: &str) {
        self.inner().remove(uid);
    }

    /// Forgets every XAgent whose uid is not in `live`.
    pub fn retain(&self, live: &HashSet<String>) {
        self.inner().retain(|uid, _| live.contains(uid));
    }

    /// How many XAgents are remembered.
    pub fn len(&self) -> usize {
        self.inner().len()
    }

    /// Whether no XAgent is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn inner(&self) -> MutexGuard<'_, HashMap<String, Known>> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn fingerprints_are_taken_once_per_uid_and_generation() {
        let prints = Prints::default();
        let taken = Cell::new(0);
        let take = |value: u64| {
            taken.set(taken.get() + 1);
            vec![value, value + 1]
        };
        assert_eq!(&*prints.of("a", Some(1), 2, || take(10)), &[10, 11]);
        assert_eq!(&*prints.of("a", Some(1), 2, || take(20)), &[10, 11], "the same generation: read back");
        assert_eq!(taken.get(), 1);
        assert_eq!(&*prints.of("a", Some(2), 2, || take(30)), &[30, 31], "a new generation: taken again");
        assert_eq!(&*prints.of("b", Some(2), 2, || take(40)), &[40, 41], "another XAgent: its own");
        assert_eq!(taken.get(), 3);
        assert_eq!(prints.len(), 2);
    }

    #[test]
    fn without_a_generation_or_with_another_count_nothing_is_read_back() {
        let prints = Prints::default();
        assert_eq!(&*prints.of("a", None, 1, || vec![1]), &[1]);
        assert_eq!(&*prints.of("a", None, 1, || vec![2]), &[2]);
        assert!(prints.is_empty(), "no generation, nothing remembered");
        prints.of("a", Some(1), 1, || vec![3]);
        assert_eq!(
            &*prints.of("a", Some(1), 2, || vec![4, 5]),
            &[4, 5],
            "a count that differs is taken again"
        );
    }

    #[test]
    fn gone_xagents_are_forgotten() {
        let prints = Prints::default();
        for uid in ["a", "b", "c"] {
            prints.of(uid, Some(1), 1, || vec![1]);
        }
        prints.forget("a");
        prints.retain(&HashSet::from(["c".to_string()]));
        assert_eq!(prints.len(), 1);
        assert_eq!(&*prints.of("c", Some(1), 1, || vec![9]), &[1]);
    }
}
