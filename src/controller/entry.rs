//! What a cache keeps of one child: a few hundred bytes instead of the object.
//!
//! A reconcile asks three things of a cached child: is it ours (its
//! controller's uid), does it still hold what we last applied (its version,
//! checked against [`super::stores::AppliedMemo`], and the metadata we set),
//! and what are its replica counts. An [`Entry`] answers exactly those. The
//! metadata we set is kept as digests of its leaves, so "does the cached
//! metadata contain the desired one" is a few binary searches, with the
//! semantics of [`super::diff::contains`], and no label string is held.

use std::borrow::Cow;
use std::marker::PhantomData;

use kube::Resource;
use kube::runtime::reflector::Lookup;
use serde::Serialize;
use serde_json::Value;

use super::apply::{WorkloadState, version};

/// The metadata fields a desired child sets besides its name and namespace,
/// which the cache is keyed by.
const COMPARED: [&str; 3] = ["labels", "annotations", "ownerReferences"];

/// One cached child of kind `K` (see the module docs).
pub struct Entry<K> {
    name: Box<str>,
    namespace: Option<Box<str>>,
    uid: Option<Box<str>>,
    resource_version: Option<Box<str>>,
    /// Digest of [`version`] of the cached (slim) object.
    version: u64,
    /// uid of the owner reference marked controller.
    controller: Option<Box<str>>,
    /// Sorted digests of the leaves of the metadata fields in [`COMPARED`].
    metadata: Box<[u64]>,
    /// Replica counts, for workloads.
    workload: Option<WorkloadState>,
    kind: PhantomData<fn() -> K>,
}

impl<K: Resource + Serialize> Entry<K> {
    /// The entry of `obj`, as the cache keeps it (already slimmed), with the
    /// replica counts `workload` read from it.
    pub fn of(obj: &K, workload: Option<WorkloadState>) -> Self {
        let meta = obj.meta();
        let boxed = |s: &Option<String>| s.as_deref().map(Box::from);
        let controller = meta
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
            .map(|o| o.uid.as_str());
        let json = serde_json::to_value(meta).unwrap_or_default();
        let mut metadata = Vec::new();
        for field in COMPARED {
            if let Some(value) = json.get(field).filter(|v| !v.is_null()) {
                leaves(value, Path::root().then(field.as_bytes()), &mut metadata);
            }
        }
        metadata.sort_unstable();
        metadata.dedup();
        Entry {
            name: meta.name.as_deref().unwrap_or_default().into(),
            namespace: boxed(&meta.namespace),
            uid: boxed(&meta.uid),
            resource_version: boxed(&meta.resource_version),
            version: digest_of_version(&version(obj)),
            controller: controller.map(Box::from),
            metadata: metadata.into_boxed_slice(),
            workload,
            kind: PhantomData,
        }
    }
}

impl<K> Entry<K> {
    /// The object's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The object's namespace.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The object's uid.
    pub fn uid(&self) -> Option<&str> {
        self.uid.as_deref()
    }

    /// The uid of the object's controller, if it has one.
    pub fn controller(&self) -> Option<&str> {
        self.controller.as_deref()
    }

    /// Digest of the object's version (see [`digest_of_version`]).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Replica counts, for workloads.
    pub fn workload(&self) -> Option<WorkloadState> {
        self.workload
    }

    /// Whether the cached metadata contains `desired` (a child's desired
    /// `metadata` as JSON) as [`super::diff::contains`] would judge it. A
    /// desired field the entry does not keep counts as not contained, which
    /// sends the reconcile to read the object: slower, never wrong.
    pub fn holds(&self, desired: &Value) -> bool {
        let Some(desired) = desired.as_object() else { return false };
        desired.iter().all(|(field, value)| match field.as_str() {
            _ if value.is_null() => true,
            "name" => value.as_str() == Some(self.name()),
            "namespace" => value.as_str() == self.namespace(),
            f if COMPARED.contains(&f) => {
                let mut wanted = Vec::new();
                leaves(value, Path::root().then(f.as_bytes()), &mut wanted);
                wanted.iter().all(|leaf| self.metadata.binary_search(leaf).is_ok())
            }
            _ => false,
        })
    }

    /// A digest of everything [`Entry::differs_from`] compares but the
    /// name and namespace (the memo's key holds those): two entries of the
    /// same object with the same digest tell a reconcile the same things.
    /// Only compared within one process.
    pub fn digest(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        (&self.uid, self.version, &self.controller, &self.metadata, self.workload).hash(&mut hasher);
        hasher.finish()
    }

    /// Whether `other` differs from this entry in more than its
    /// resourceVersion: in anything a reconcile reads.
    pub fn differs_from(&self, other: &Self) -> bool {
        self.name != other.name
            || self.namespace != other.namespace
            || self.uid != other.uid
            || self.version != other.version
            || self.controller != other.controller
            || self.metadata != other.metadata
            || self.workload != other.workload
    }
}

/// The digest an [`Entry`] and the memo keep of an object's
/// [`version`](super::apply::version).
pub fn digest_of_version(version: &str) -> u64 {
    crate::digest::fnv1a(version)
}

impl<K> Clone for Entry<K> {
    fn clone(&self) -> Self {
        Entry {
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            uid: self.uid.clone(),
            resource_version: self.resource_version.clone(),
            version: self.version,
            controller: self.controller.clone(),
            metadata: self.metadata.clone(),
            workload: self.workload,
            kind: PhantomData,
        }
    }
}

impl<K> std::fmt::Debug for Entry<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("name", &self.name)
            .field("namespace", &self.namespace)
            .field("resource_version", &self.resource_version)
            .field("version", &self.version)
            .field("controller", &self.controller)
            .field("metadata", &self.metadata.len())
            .field("workload", &self.workload)
            .finish_non_exhaustive()
    }
}

/// Keyed and listed by the reflector as `K` itself would be.
impl<K: Resource<DynamicType = ()>> Lookup for Entry<K> {
    type DynamicType = ();

    fn kind(dyntype: &()) -> Cow<'_, str> {
        K::kind(dyntype)
    }

    fn group(dyntype: &()) -> Cow<'_, str> {
        K::group(dyntype)
    }

    fn version(dyntype: &()) -> Cow<'_, str> {
        K::version(dyntype)
    }

    fn plural(dyntype: &()) -> Cow<'_, str> {
        K::plural(dyntype)
    }

    fn name(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.name))
    }

    fn namespace(&self) -> Option<Cow<'_, str>> {
        self.namespace.as_deref().map(Cow::Borrowed)
    }

    fn resource_version(&self) -> Option<Cow<'_, str>> {
        self.resource_version.as_deref().map(Cow::Borrowed)
    }

    fn uid(&self) -> Option<Cow<'_, str>> {
        self.uid.as_deref().map(Cow::Borrowed)
    }
}

/// A running 64-bit FNV-1a digest of a position in a JSON tree.
#[derive(Clone, Copy)]
struct Path(u64);

impl Path {
    fn root() -> Self {
        Path(crate::digest::OFFSET)
    }

    /// This path extended by one component; its length goes in first, so
    /// `ab`+`c` and `a`+`bc` differ.
    fn then(self, component: &[u8]) -> Self {
        let hash = crate::digest::bytes_from(self.0, &(component.len() as u64).to_le_bytes());
        Path(crate::digest::bytes_from(hash, component))
    }
}

/// Pushes one digest per leaf of `value` at `path`, such that `desired` is
/// contained in `observed` (per [`super::diff::contains`]) exactly when every
/// leaf digest of `desired` is among those of `observed`: objects leave a
/// marker (a desired `{}` still needs an object there), arrays their length
/// (lists match item for item), numbers their value as a float; a field
/// whose value is null leaves nothing (desired, it means "unset").
fn leaves(value: &Value, path: Path, out: &mut Vec<u64>) {
    match value {
        Value::Null => out.push(path.then(b"null").0),
        Value::Object(map) => {
            out.push(path.then(b"{}").0);
            for (key, v) in map.iter().filter(|(_, v)| !v.is_null()) {
                leaves(v, path.then(b".").then(key.as_bytes()), out);
            }
        }
        Value::Array(items) => {
            out.push(path.then(b"[]").then(&items.len().to_le_bytes()).0);
            for (i, v) in items.iter().enumerate() {
                leaves(v, path.then(b"[").then(&i.to_le_bytes()), out);
            }
        }
        Value::Number(n) => {
            out.push(path.then(b"#").then(&n.as_f64().unwrap_or(f64::NAN).to_bits().to_le_bytes()).0)
        }
        Value::String(s) => out.push(path.then(b"\"").then(s.as_bytes()).0),
        Value::Bool(b) => out.push(path.then(b"?").then(&[u8::from(*b)]).0),
    }
}

#[cfg(test)]
mod tests;
