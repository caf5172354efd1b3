//! The wakes of XAgents by their children, gathered for a moment.
//!
//! A workload controller updates the status of an XAgent's Deployments one
//! after another, a few hundred milliseconds apart under load, and each
//! update woke the XAgent at once: a reconcile per update, each of which
//! built every child to find it in place. Held for [`GATHER`], the wakes of
//! one XAgent that come together become one reconcile. Only a child's wake
//! waits: an XAgent's own create, spec change or annotation reconciles at
//! once, and a child deleted or edited by hand is put back a second later.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use futures::channel::mpsc;
use futures::{Stream, StreamExt};
use kube::Resource;
use kube::runtime::reflector::ObjectRef;
use tokio::time::Instant;

use crate::crd::XAgent;

/// How long a child's wake of its XAgent waits for others to join it.
pub const GATHER: Duration = Duration::from_secs(1);

/// Where the child watches send the XAgents their events wake.
#[derive(Clone)]
pub struct Wakes {
    sender: mpsc::UnboundedSender<(Instant, ObjectRef<XAgent>)>,
}

impl Wakes {
    /// A sender of wakes and the stream of the XAgents it woke: each
    /// XAgent `gather` after its first wake, once for all its wakes until then.
    pub fn new(gather: Duration) -> (Self, impl Stream<Item = ObjectRef<XAgent>> + Send + 'static) {
        let (sender, wakes) = mpsc::unbounded();
        let gathering = Gathering { wakes, due: VecDeque::new(), waiting: HashSet::new(), open: true };
        (Self { sender }, gathered(gathering, gather))
    }

    /// Wakes the XAgents that own `child`.
    pub fn owners_of<K: Resource>(&self, child: &K) {
        let meta = child.meta();
        for owner in meta.owner_references.iter().flatten() {
            if let Some(xagent) = ObjectRef::from_owner_ref(meta.namespace.as_deref(), owner, ()) {
                // Timed as sent: the stream may read it later. Refused only
                // when the controller, which reads the stream, has stopped.
                let _ = self.sender.unbounded_send((Instant::now(), xagent));
            }
        }
    }
}

/// The state of [`gathered`]: the wakes to read, and the XAgents woken and
/// not yet let through, by when they are due (the order they came in, as
/// every one waits as long).
struct Gathering {
    wakes: mpsc::UnboundedReceiver<(Instant, ObjectRef<XAgent>)>,
    due: VecDeque<(Instant, ObjectRef<XAgent>)>,
    waiting: HashSet<ObjectRef<XAgent>>,
    open: bool,
}

/// Each XAgent of `state.wakes`, `gather` after its first wake that is not
/// waiting already. Ends when every sender is gone and nothing waits.
fn gathered(state: Gathering, gather: Duration) -> impl Stream<Item = ObjectRef<XAgent>> + Send + 'static {
    futures::stream::unfold(state, move |mut state| async move {
        loop {
            if !state.open && state.due.is_empty() {
                return None;
            }
            let next = state.due.front().map(|(at, _)| *at);
            tokio::select! {
                biased;
                () = until(next) => {
                    if let Some((_, xagent)) = state.due.pop_front() {
                        state.waiting.remove(&xagent);
                        return Some((xagent, state));
                    }
                }
                wake = state.wakes.next(), if state.open => match wake {
                    Some((at, xagent)) => {
                        if state.waiting.insert(xagent.clone()) {
                            state.due.push_back((at + gather, xagent));
                        }
                    }
                    None => state.open = false,
                },
            }
        }
    })
}

/// Sleeps until `at`, or forever without one.
async fn until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

    /// A ConfigMap in `team` owned by `(kind, name)`s.
    fn child(owners: &[(&str, &str)]) -> ConfigMap {
        let owner_references = owners
            .iter()
            .map(|(kind, name)| OwnerReference {
                api_version: if *kind == "XAgent" { "xagent.io/v1alpha1" } else { "apps/v1" }.into(),
                kind: (*kind).into(),
                name: (*name).into(),
                uid: format!("uid-{name}"),
                controller: Some(true),
                ..OwnerReference::default()
            })
            .collect();
        let metadata = ObjectMeta {
            name: Some("child".into()),
            namespace: Some("team".into()),
            owner_references: Some(owner_references),
            ..ObjectMeta::default()
        };
        ConfigMap { metadata, ..ConfigMap::default() }
    }

    fn xagent(name: &str) -> ObjectRef<XAgent> {
        ObjectRef::new(name).within("team")
    }

    #[tokio::test(start_paused = true)]
    async fn wakes_of_one_xagent_within_the_moment_become_one() {
        let (wakes, woken) = Wakes::new(GATHER);
        let mut woken = Box::pin(woken);
        let started = Instant::now();
        wakes.owners_of(&child(&[("XAgent", "a")]));
        tokio::time::sleep(GATHER / 4).await;
        wakes.owners_of(&child(&[("XAgent", "b")]));
        wakes.owners_of(&child(&[("XAgent", "a")]));
        tokio::time::sleep(GATHER / 4).await;
        wakes.owners_of(&child(&[("XAgent", "a")]));
        assert_eq!(woken.next().await, Some(xagent("a")));
        assert_eq!(started.elapsed(), GATHER, "a waits from its first wake");
        assert_eq!(woken.next().await, Some(xagent("b")));
        assert_eq!(started.elapsed(), GATHER + GATHER / 4);
        drop(wakes);
        assert_eq!(woken.next().await, None, "nothing else was woken");
    }

    #[tokio::test(start_paused = true)]
    async fn a_wake_after_its_xagent_was_let_through_waits_again() {
        let (wakes, woken) = Wakes::new(GATHER);
        let mut woken = Box::pin(woken);
        wakes.owners_of(&child(&[("XAgent", "a")]));
        assert_eq!(woken.next().await, Some(xagent("a")));
        let again = Instant::now();
        wakes.owners_of(&child(&[("XAgent", "a")]));
        assert_eq!(woken.next().await, Some(xagent("a")));
        assert_eq!(again.elapsed(), GATHER);
    }

    #[tokio::test(start_paused = true)]
    async fn only_owners_that_are_xagents_are_woken() {
        let (wakes, woken) = Wakes::new(GATHER);
        wakes.owners_of(&child(&[("ReplicaSet", "rs"), ("XAgent", "a")]));
        wakes.owners_of(&child(&[("Deployment", "d")]));
        wakes.owners_of(&ConfigMap::default());
        drop(wakes);
        assert_eq!(woken.collect::<Vec<_>>().await, vec![xagent("a")]);
    }
}
