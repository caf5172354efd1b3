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

/// One child in a controller's list: its kind's key and its name.
type Child = (u64, Box<str>);

/// The children of each controller, all kinds in one list boxed to its
/// exact length. One table of controllers, not one per kind: with a table
/// per kind, 1,000 XAgents took 13 tables of 2,048 slots (1.1 MiB) and a
/// list per slot; now one table and 1,000 lists of about 13.
type Lists = HashMap<Uid, Box<[Child]>>;

/// The children by controller uid (see the module docs), and the names of
/// each kind whose relist is under way, by controller uid.
#[derive(Debug, Default)]
struct Index {
    live: Lists,
    relisting: HashMap<u64, HashMap<Uid, Vec<Box<str>>>>,
}

/// The children of every controller, per kind (see the module docs).
#[derive(Debug, Default)]
pub struct OwnedIndex {
    index: Mutex<Index>,
}

/// The index's key of kind `K` (a `PartialObjectMeta<K>` shares `K`'s).
fn kind_key<K: Resource<DynamicType = ()>>() -> u64 {
    crate::digest::fnv1a(&K::kind(&()))
}

/// Adds `name` of kind `kind` to the list of `controller`, once.
fn insert(lists: &mut Lists, controller: &Uid, kind: u64, name: &str) {
    let list = lists.entry(controller.clone()).or_default();
    if !list.iter().any(|(k, n)| *k == kind && **n == *name) {
        let mut grown = std::mem::take(list).into_vec();
        grown.push((kind, name.into()));
        *list = grown.into_boxed_slice();
    }
}

/// Drops the children `gone` picks from `list`; whether any is left.
fn keep(list: &mut Box<[Child]>, gone: impl Fn(&Child) -> bool) -> bool {
    if list.iter().any(&gone) {
        let mut shrunk = std::mem::take(list).into_vec();
        shrunk.retain(|child| !gone(child));
        *list = shrunk.into_boxed_slice();
    }
    !list.is_empty()
}

/// Drops the children of `controller` that `gone` picks.
fn remove(lists: &mut Lists, controller: &Uid, gone: impl Fn(&Child) -> bool) {
    if let Some(list) = lists.get_mut(controller)
        && !keep(list, gone)
    {
        lists.remove(controller);
    }
}

fn add(lists: &mut Lists, kind: u64, entry: &Entry<impl Sized>) {
    if let Some(controller) = entry.controller() {
        insert(lists, controller, kind, entry.name());
    }
}

fn drop_entry(lists: &mut Lists, kind: u64, entry: &Entry<impl Sized>) {
    if let Some(controller) = entry.controller() {
        remove(lists, controller, |(k, n)| *k == kind && **n == *entry.name());
    }
}

impl Index {
    /// Replaces every child of kind `kind` with those of the relist `listed`.
    fn replace_kind(&mut self, kind: u64, listed: HashMap<Uid, Vec<Box<str>>>) {
        self.live.retain(|_, list| keep(list, |(k, _)| *k == kind));
        for (controller, names) in listed {
            for name in names {
                insert(&mut self.live, &controller, kind, &name);
            }
        }
    }
}

impl OwnedIndex {
    fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Follows one watch event of a cache of kind `K`, as the reflector
    /// does: a relist replaces the kind's children when it is done.
    /// `previous` is the cached entry an update replaces.
    pub fn follow<K: Resource<DynamicType = ()>>(
        &self,
        event: &watcher::Event<Entry<K>>,
        previous: Option<&Entry<K>>,
    ) {
        let kind = kind_key::<K>();
        let mut index = self.index();
        match event {
            watcher::Event::Apply(entry) => {
                if let Some(previous) = previous {
                    drop_entry(&mut index.live, kind, previous);
                }
                add(&mut index.live, kind, entry);
            }
            watcher::Event::Delete(entry) => drop_entry(&mut index.live, kind, entry),
            watcher::Event::Init => {
                index.relisting.insert(kind, HashMap::new());
            }
            watcher::Event::InitApply(entry) => {
                if let Some(controller) = entry.controller() {
                    let listed = index.relisting.entry(kind).or_default();
                    listed.entry(controller.clone()).or_default().push(entry.name().into());
                }
            }
            watcher::Event::InitDone => {
                let listed = index.relisting.remove(&kind).unwrap_or_default();
                index.replace_kind(kind, listed);
            }
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
        let kind = kind_key::<K>();
        let index = self.index();
        let list = index.live.get(&Uid::new(uid));
        let picked = list.into_iter().flatten().filter(|(k, n)| *k == kind && pick(n));
        picked.map(|(_, n)| n.to_string()).collect()
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

    #[test]
    fn a_relist_of_one_kind_leaves_the_other_kinds_alone() {
        let index = OwnedIndex::default();
        let map = |name: &str| {
            let o: ConfigMap = serde_json::from_value(json!({"metadata": {"name": name, "namespace": "ns",
                "ownerReferences": [{"apiVersion": "v1", "kind": "XAgent", "name": "x", "uid": "a", "controller": true}]}}))
            .expect("a ConfigMap");
            Entry::of(&o, None)
        };
        index.follow(&Event::Apply(map("a-config")), None);
        index.follow(&Event::Apply(service("a-api", Some("a"))), None);
        index.follow::<Service>(&Event::Init, None);
        index.follow::<Service>(&Event::InitDone, None);
        assert!(index.names::<Service>("a", all).is_empty(), "the relist found no Service");
        assert_eq!(index.names::<ConfigMap>("a", all), ["a-config"]);
        index.follow::<ConfigMap>(&Event::Init, None);
        index.follow(&Event::InitApply(map("a-config")), None);
        index.follow(&Event::InitApply(map("a-other")), None);
        index.follow::<ConfigMap>(&Event::InitDone, None);
        assert_eq!(index.names::<ConfigMap>("a", all), ["a-config", "a-other"]);
    }
}
