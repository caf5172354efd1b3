//! Which cached children each controller (an XAgent, by uid) has, per kind,
//! kept beside the caches by the same watch events.
//!
//! A prune needs the children of one XAgent. Scanning every cache for them
//! made each reconcile's cost grow with the number of XAgents (13,000
//! entries read per reconcile at 1,000 XAgents); the index answers with the
//! names of that XAgent's children only. It may hold a name whose entry
//! has changed controller since (an adoption): readers confirm each name
//! against the cache, so a stale name costs a lookup, never a wrong delete.

use std::collections::HashMap;
use std::sync::Mutex;

use kube::Resource;
use kube::runtime::watcher;

use super::entry::Entry;
use super::uid::Uid;

/// Names by controller uid, for one kind. Each list is boxed to its exact
/// length: most owners have one or two children of a kind, and a `Vec`
/// would keep room for four.
type Names = HashMap<Uid, Box<[Box<str>]>>;

/// The index of one kind: the live one, and the one a relist is building.
#[derive(Debug, Default)]
struct KindIndex {
    live: Names,
    relisting: Option<Names>,
}

/// The children of every controller, per kind (see the module docs).
#[derive(Debug, Default)]
pub struct OwnedIndex {
    kinds: Mutex<HashMap<u64, KindIndex>>,
}

/// The index's key of kind `K` (a `PartialObjectMeta<K>` shares `K`'s).
fn kind_key<K: Resource<DynamicType = ()>>() -> u64 {
    crate::digest::fnv1a(&K::kind(&()))
}

fn insert(names: &mut Names, entry: &Entry<impl Sized>) {
    if let Some(controller) = entry.controller() {
        let list = names.entry(controller.clone()).or_default();
        if !list.iter().any(|n| **n == *entry.name()) {
            let mut grown = std::mem::take(list).into_vec();
            grown.push(entry.name().into());
            *list = grown.into_boxed_slice();
        }
    }
}

fn remove(names: &mut Names, entry: &Entry<impl Sized>) {
    let Some(controller) = entry.controller() else { return };
    if let Some(list) = names.get_mut(controller) {
        if list.iter().any(|n| **n == *entry.name()) {
            let mut shrunk = std::mem::take(list).into_vec();
            shrunk.retain(|n| **n != *entry.name());
            *list = shrunk.into_boxed_slice();
        }
        if list.is_empty() {
            names.remove(controller);
        }
    }
}

impl OwnedIndex {
    fn kinds(&self) -> std::sync::MutexGuard<'_, HashMap<u64, KindIndex>> {
        self.kinds.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Follows one watch event of a cache of kind `K`, as the reflector
    /// does: a relist replaces the kind's index when it is done. `previous`
    /// is the cached entry an update replaces.
    pub fn follow<K: Resource<DynamicType = ()>>(
        &self,
        event: &watcher::Event<Entry<K>>,
        previous: Option<&Entry<K>>,
    ) {
        let mut kinds = self.kinds();
        let index = kinds.entry(kind_key::<K>()).or_default();
        match event {
            watcher::Event::Apply(entry) => {
                if let Some(previous) = previous {
                    remove(&mut index.live, previous);
                }
                insert(&mut index.live, entry);
            }
            watcher::Event::Delete(entry) => remove(&mut index.live, entry),
            watcher::Event::Init => index.relisting = Some(Names::new()),
            watcher::Event::InitApply(entry) => insert(index.relisting.get_or_insert_default(), entry),
            watcher::Event::InitDone => index.live = index.relisting.take().unwrap_or_default(),
        }
    }

    /// The names of the children of kind `K` whose controller is `uid`, as
    /// the watch last said, that `pick` picks: prune asks every reconcile
    /// and almost always picks none, so nothing is copied unless picked.
    pub fn names<K: Resource<DynamicType = ()>>(
        &self,
        uid: &str,
        pick: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let kinds = self.kinds();
        let uid = Uid::new(uid);
        let list = kinds.get(&kind_key::<K>()).and_then(|index| index.live.get(&uid));
        let picked = list.into_iter().flatten().filter(|n| pick(n));
        picked.map(|n| n.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{ConfigMap, Service};
    use kube::runtime::watcher::Event;
    use serde_json::json;

    use super::{Entry, OwnedIndex};

    fn service(name: &str, controller: Option<&str>) -> Entry<Service> {
        let owners: Vec<_> = controller
            .iter()
            .map(|uid| json!({"apiVersion": "xagent.io/v1alpha1", "kind": "XAgent", "name": "x", "uid": uid, "controller": true}))
            .collect();
        let o: Service = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ns", "uid": format!("{name}-uid"), "ownerReferences": owners},
        }))
        .expect("a Service");
        Entry::of(&o, None)
    }

    fn all(_: &str) -> bool {
        true
    }

    #[test]
    fn picks_only_what_is_asked_for() {
        let index = OwnedIndex::default();
        for name in ["a-api", "a-web", "a-old"] {
            index.follow(&Event::Apply(service(name, Some("a"))), None);
        }
        assert_eq!(index.names::<Service>("a", |n| n.ends_with("-old")), ["a-old"]);
        assert!(index.names::<Service>("a", |_| false).is_empty());
        assert!(index.names::<Service>("nobody", all).is_empty());
    }

    #[test]
    fn follows_creates_updates_and_deletes() {
        let index = OwnedIndex::default();
        index.follow(&Event::Apply(service("a-api", Some("a"))), None);
        index.follow(&Event::Apply(service("a-web", Some("a"))), None);
        index.follow(&Event::Apply(service("b-api", Some("b"))), None);
        index.follow(&Event::Apply(service("stray", None)), None);
        assert_eq!(index.names::<Service>("a", all), ["a-api", "a-web"]);
        assert_eq!(index.names::<Service>("b", all), ["b-api"]);
        assert!(index.names::<ConfigMap>("a", all).is_empty(), "kinds are apart");
        let before = service("a-api", Some("a"));
        index.follow(&Event::Apply(service("a-api", Some("a"))), Some(&before));
        assert_eq!(index.names::<Service>("a", all), ["a-web", "a-api"], "an update lists a name once");
        index.follow(&Event::Apply(service("a-web", Some("b"))), Some(&service("a-web", Some("a"))));
        assert_eq!(index.names::<Service>("a", all), ["a-api"], "moved to another controller");
        assert_eq!(index.names::<Service>("b", all), ["b-api", "a-web"]);
        index.follow(&Event::Delete(service("b-api", Some("b"))), None);
        assert_eq!(index.names::<Service>("b", all), ["a-web"]);
    }

    #[test]
    fn a_relist_replaces_the_index_when_it_is_done() {
        let index = OwnedIndex::default();
        index.follow(&Event::Apply(service("gone", Some("a"))), None);
        index.follow::<Service>(&Event::Init, None);
        index.follow(&Event::InitApply(service("kept", Some("a"))), None);
        assert_eq!(index.names::<Service>("a", all), ["gone"], "the old list until the new one is whole");
        index.follow::<Service>(&Event::InitDone, None);
        assert_eq!(index.names::<Service>("a", all), ["kept"]);
    }
}
