//! The cache of one child kind: [`Entry`]s found by namespace and name.
//!
//! kube's reflector store keys every object by an `ObjectRef` holding its
//! own copies of the name, namespace, uid and resourceVersion, beside the
//! object that already holds them: at 13,000 children that key alone is
//! about 3 MiB. Here the entry is its own key: the table holds one pointer
//! per child and hashes and compares the entry's own name and namespace.
//!
//! The writer follows a watch's events as kube's reflector does: `Apply`
//! and `Delete` change the cache at once, a (re)list (`Init`, `InitApply`…,
//! `InitDone`) is gathered aside and replaces the cache whole when it is
//! complete, and the first complete list makes the cache ready.

use std::hash::BuildHasher;
use std::sync::{Arc, PoisonError, RwLock};

use hashbrown::HashTable;
use kube::runtime::watcher;
use tokio::sync::watch;

use super::entry::Entry;

/// The entries of one kind, keyed by their own namespace and name.
type Table<K> = HashTable<Arc<Entry<K>>>;

/// The reading half of a child cache (cheap to clone, shared by every reconcile).
pub struct Cache<K> {
    shared: Arc<Shared<K>>,
    ready: watch::Receiver<bool>,
}

/// The writing half of a child cache, fed by its watch.
pub struct CacheWriter<K> {
    shared: Arc<Shared<K>>,
    /// The list being gathered, from `Init` until its `InitDone`.
    relist: Option<Table<K>>,
    ready: watch::Sender<bool>,
}

struct Shared<K> {
    table: RwLock<Table<K>>,
    hasher: std::hash::RandomState,
}

/// The writer of a cache went away before the cache was ever filled.
#[derive(Debug, thiserror::Error)]
#[error("the cache's watch stopped before its first list was complete")]
pub struct WriterDropped;

/// An empty cache and its writer.
pub fn cache<K>() -> (Cache<K>, CacheWriter<K>) {
    let shared = Arc::new(Shared { table: RwLock::new(HashTable::new()), hasher: Default::default() });
    let (ready, readiness) = watch::channel(false);
    (Cache { shared: shared.clone(), ready: readiness }, CacheWriter { shared, relist: None, ready })
}

impl<K> Clone for Cache<K> {
    fn clone(&self) -> Self {
        Cache { shared: self.shared.clone(), ready: self.ready.clone() }
    }
}

impl<K> Shared<K> {
    fn hash(&self, namespace: Option<&str>, name: &str) -> u64 {
        self.hasher.hash_one((namespace, name))
    }

    fn hash_of(&self, entry: &Entry<K>) -> u64 {
        self.hash(entry.namespace(), entry.name())
    }

    /// Puts `entry` into `table`, in place of the entry of the same object.
    fn insert(&self, table: &mut Table<K>, entry: Arc<Entry<K>>) {
        let hash = self.hash_of(&entry);
        match table.find_mut(hash, is(entry.namespace(), entry.name())) {
            Some(slot) => *slot = entry,
            None => {
                table.insert_unique(hash, entry, |e| self.hash_of(e));
            }
        }
    }

    fn remove(&self, table: &mut Table<K>, entry: &Entry<K>) {
        if let Ok(found) = table.find_entry(self.hash_of(entry), is(entry.namespace(), entry.name())) {
            found.remove();
        }
    }
}

/// Whether an entry is that of the object `namespace/name`.
fn is<'a, K>(namespace: Option<&'a str>, name: &'a str) -> impl Fn(&Arc<Entry<K>>) -> bool + 'a {
    move |e| e.name() == name && e.namespace() == namespace
}

impl<K> Cache<K> {
    /// The entry of the object `namespace/name`, if it is cached.
    pub fn get(&self, namespace: Option<&str>, name: &str) -> Option<Arc<Entry<K>>> {
        let table = self.shared.table.read().unwrap_or_else(PoisonError::into_inner);
        let hash = self.shared.hash(namespace, name);
        table.find(hash, is(namespace, name)).cloned()
    }

    /// Every cached entry, in no particular order.
    pub fn state(&self) -> Vec<Arc<Entry<K>>> {
        self.shared.table.read().unwrap_or_else(PoisonError::into_inner).iter().cloned().collect()
    }

    /// How many entries the cache holds.
    pub fn len(&self) -> usize {
        self.shared.table.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until the cache holds its first complete list.
    pub async fn wait_until_ready(&self) -> Result<(), WriterDropped> {
        let mut ready = self.ready.clone();
        ready.wait_for(|ready| *ready).await.map(drop).map_err(|_| WriterDropped)
    }

    /// Whether the cache holds its first complete list.
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }
}

impl<K> CacheWriter<K> {
    /// A reader of this writer's cache.
    pub fn as_reader(&self) -> Cache<K> {
        Cache { shared: self.shared.clone(), ready: self.ready.subscribe() }
    }

    /// Follows one event of the kind's watch (see the module docs).
    pub fn apply_watcher_event(&mut self, event: watcher::Event<Entry<K>>) {
        let shared = &self.shared;
        let table = || shared.table.write().unwrap_or_else(PoisonError::into_inner);
        match event {
            watcher::Event::Apply(entry) => shared.insert(&mut table(), Arc::new(entry)),
            watcher::Event::Delete(entry) => shared.remove(&mut table(), &entry),
            watcher::Event::Init => self.relist = Some(HashTable::new()),
            watcher::Event::InitApply(entry) => {
                let relist = self.relist.get_or_insert_with(HashTable::new);
                shared.insert(relist, Arc::new(entry));
            }
            watcher::Event::InitDone => {
                let listed = self.relist.take().unwrap_or_default();
                *table() = listed;
                self.ready.send_replace(true);
            }
        }
    }
}

#[cfg(test)]
mod tests;
