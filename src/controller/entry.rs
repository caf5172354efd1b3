//! What a cache keeps of one child: a few hundred bytes instead of the object.
//!
//! A reconcile asks three things of a cached child: is it ours (its
//! controller's uid), does it still hold what we last applied (its version,
//! checked against [`super::stores::AppliedMemo`], and the metadata we set),
//! and what are its replica counts. An [`Entry`] answers exactly those. The
//! metadata we set is kept as digests of its leaves, so "does the cached
//! metadata contain the desired one" is a few binary searches, with the
//! semantics of [`super::diff::contains`], and no label string is held.

use std::marker::PhantomData;

use kube::Resource;
use serde::Serialize;
use serde_json::Value;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::apply::{WorkloadState, version};
use super::uid::Uid;

/// The metadata fields a desired child sets besides its name and namespace,
/// which the cache is keyed by.
const COMPARED: [&str; 3] = ["labels", "annotations", "ownerReferences"];

/// One cached child of kind `K` (see the module docs).
pub struct Entry<K> {
    /// The namespace (if any) and then the name, in one heap block: two
    /// short strings in two blocks cost a block and a pointer more for
    /// every child.
    key: Box<str>,
    /// Length of the namespace at the start of `key`, [`CLUSTER`] for an
    /// object without one.
    namespace_len: u32,
    uid: Option<Uid>,
    /// Digest of [`version`] of the cached (slim) object.
    version: u64,
    /// uid of the owner reference marked controller.
    controller: Option<Uid>,
    /// Sorted digests of the leaves of the metadata fields in [`COMPARED`],
    /// but those in [`COMMON`].
    metadata: Box<[u64]>,
    /// Which leaves of [`COMMON`] the metadata has, bit `i` for `COMMON[i]`.
    common: u8,
    /// Replica counts, for workloads.
    workload: Option<WorkloadState>,
    kind: PhantomData<fn() -> K>,
}

impl<K: Resource + Serialize> Entry<K> {
    /// The entry of `obj`, as the cache keeps it (already slimmed), with the
    /// replica counts `workload` read from it.
    pub fn of(obj: &K, workload: Option<WorkloadState>) -> Self {
        let meta = obj.meta();
        let controller = meta
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
            .map(|o| o.uid.as_str());
        let mut metadata = Vec::new();
        let mut common = 0;
        meta_leaves(meta, None, &mut |leaf| match common_index(leaf) {
            Some(i) => common |= 1 << i,
            None => metadata.push(leaf),
        });
        metadata.sort_unstable();
        metadata.dedup();
        let (key, namespace_len) = key(meta.namespace.as_deref(), meta.name.as_deref().unwrap_or_default());
        Entry {
            key,
            namespace_len,
            uid: meta.uid.as_deref().map(Uid::new),
            version: version_digest(obj),
            controller: controller.map(Uid::new),
            metadata: metadata.into_boxed_slice(),
            common,
            workload,
            kind: PhantomData,
        }
    }
}

impl<K> Entry<K> {
    /// The object's name.
    pub fn name(&self) -> &str {
        match self.namespace_len {
            CLUSTER => &self.key,
            len => &self.key[len as usize..],
        }
    }

    /// The object's namespace.
    pub fn namespace(&self) -> Option<&str> {
        match self.namespace_len {
            CLUSTER => None,
            len => Some(&self.key[..len as usize]),
        }
    }

    /// The object's uid.
    pub fn uid(&self) -> Option<&Uid> {
        self.uid.as_ref()
    }

    /// The uid of the object's controller, if it has one.
    pub fn controller(&self) -> Option<&Uid> {
        self.controller.as_ref()
    }

    /// Whether the object's controller is the object with uid `owner`.
    pub fn controlled_by(&self, owner: &str) -> bool {
        self.controller.as_ref().is_some_and(|c| c.is(owner))
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
                field_leaves(f, value, &mut wanted);
                wanted.iter().all(|&leaf| self.has(leaf))
            }
            _ => false,
        })
    }

    /// Whether the cached metadata contains `desired` stamped with `print`
    /// (its [`APPLIED_ANNOTATION`](super::apply::APPLIED_ANNOTATION)): what
    /// [`Entry::holds`] says of that metadata as JSON, read from the typed
    /// metadata without building the JSON. A reconcile asks it of every
    /// child in place.
    pub fn holds_stamped(&self, desired: &ObjectMeta, print: u64) -> bool {
        // Every field but the compared ones and the key must be unset (a
        // set one is not kept, so not held); exhaustive, so a field added
        // to ObjectMeta must be thought about here.
        let ObjectMeta {
            name,
            namespace,
            labels: _,
            annotations: _,
            owner_references: _,
            creation_timestamp: None,
            deletion_grace_period_seconds: None,
            deletion_timestamp: None,
            finalizers: None,
            generate_name: None,
            generation: None,
            managed_fields: None,
            resource_version: None,
            self_link: None,
            uid: None,
        } = desired
        else {
            return false;
        };
        if name.as_deref().is_some_and(|n| n != self.name())
            || namespace.is_some() && namespace.as_deref() != self.namespace()
        {
            return false;
        }
        let stamp = format!("{print:016x}");
        let mut held = true;
        meta_leaves(desired, Some(&stamp), &mut |leaf| held = held && self.has(leaf));
        held
    }

    /// Whether the metadata has the leaf whose digest is `leaf`.
    fn has(&self, leaf: u64) -> bool {
        match common_index(leaf) {
            Some(i) => self.common & (1 << i) != 0,
            None => self.metadata.binary_search(&leaf).is_ok(),
        }
    }

    /// A digest of everything [`Entry::differs_from`] compares but the
    /// name and namespace (the memo's key holds those): two entries of the
    /// same object with the same digest tell a reconcile the same things.
    /// Only compared within one process.
    pub fn digest(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        (&self.uid, self.version, &self.controller, &self.metadata, self.common, self.workload)
            .hash(&mut hasher);
        hasher.finish()
    }

    /// Whether `other` differs from this entry in more than its
    /// resourceVersion: in anything a reconcile reads.
    pub fn differs_from(&self, other: &Self) -> bool {
        self.key != other.key
            || self.namespace_len != other.namespace_len
            || self.uid != other.uid
            || self.version != other.version
            || self.controller != other.controller
            || self.metadata != other.metadata
            || self.common != other.common
            || self.workload != other.workload
    }
}

/// The `namespace_len` of an [`Entry`] of an object without a namespace.
const CLUSTER: u32 = u32::MAX;

/// An [`Entry`]'s `key` and `namespace_len` for `namespace` and `name`. A
/// namespace is at most 63 bytes, so its length always fits below
/// [`CLUSTER`]; one that did not would be kept as cluster-scoped, which
/// no object of ours is.
fn key(namespace: Option<&str>, name: &str) -> (Box<str>, u32) {
    match namespace.map(|ns| (ns, u32::try_from(ns.len()))) {
        Some((ns, Ok(len))) if len != CLUSTER => ([ns, name].concat().into_boxed_str(), len),
        _ => (name.into(), CLUSTER),
    }
}

/// The digest an [`Entry`] and the memo keep of an object's
/// [`version`](super::apply::version).
pub fn digest_of_version(version: &str) -> u64 {
    crate::digest::fnv1a(version)
}

/// [`digest_of_version`] of `obj`'s version, hashed in parts when the
/// version is its generation: every watch event takes it, and formatting
/// the string first would allocate each time.
fn version_digest<K: Resource + Serialize>(obj: &K) -> u64 {
    let meta = obj.meta();
    match meta.generation {
        Some(generation) => {
            use std::io::Write;
            let uid = meta.uid.as_deref().unwrap_or_default();
            let mut digits = [0u8; 20];
            let mut rest = &mut digits[..];
            let _ = write!(rest, "{generation}");
            let written = 20 - rest.len();
            let hash = [uid, "/g"].into_iter().fold(crate::digest::OFFSET, crate::digest::fnv1a_from);
            crate::digest::bytes_from(hash, &digits[..written])
        }
        None => digest_of_version(&version(obj)),
    }
}

impl<K> Clone for Entry<K> {
    fn clone(&self) -> Self {
        Entry {
            key: self.key.clone(),
            namespace_len: self.namespace_len,
            uid: self.uid.clone(),
            version: self.version,
            controller: self.controller.clone(),
            metadata: self.metadata.clone(),
            common: self.common,
            workload: self.workload,
            kind: PhantomData,
        }
    }
}

impl<K> std::fmt::Debug for Entry<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("name", &self.name())
            .field("namespace", &self.namespace())
            .field("version", &self.version)
            .field("controller", &self.controller)
            .field("metadata", &self.metadata.len())
            .field("workload", &self.workload)
            .finish_non_exhaustive()
    }
}

/// The leaves nearly every child's metadata has: that its labels and its
/// annotations exist, and that it has one owner reference. An entry keeps
/// them as bits, not as three of its eight to twelve digests.
const COMMON: [u64; 3] = [
    Path::root().then(b"labels").then(b"{}").0,
    Path::root().then(b"annotations").then(b"{}").0,
    Path::root().then(b"ownerReferences").then(b"[]").then(&1usize.to_le_bytes()).0,
];

/// The bit of `leaf` in an entry's `common`, if it is one of [`COMMON`].
fn common_index(leaf: u64) -> Option<usize> {
    COMMON.iter().position(|&c| c == leaf)
}

/// A running 64-bit FNV-1a digest of a position in a JSON tree.
#[derive(Clone, Copy)]
struct Path(u64);

impl Path {
    const fn root() -> Self {
        Path(crate::digest::OFFSET)
    }

    /// This path extended by one component; its length goes in first, so
    /// `ab`+`c` and `a`+`bc` differ.
    const fn then(self, component: &[u8]) -> Self {
        let hash = crate::digest::bytes_from(self.0, &(component.len() as u64).to_le_bytes());
        Path(crate::digest::bytes_from(hash, component))
    }
}

/// Hands `sink` the digest of every leaf of `meta`'s [`COMPARED`] fields,
/// exactly those [`leaves`] finds in the fields' JSON; with `stamp`, as if
/// the annotations also held it under
/// [`APPLIED_ANNOTATION`](super::apply::APPLIED_ANNOTATION) (annotations
/// then always exist).
fn meta_leaves(meta: &ObjectMeta, stamp: Option<&str>, sink: &mut impl FnMut(u64)) {
    use super::apply::APPLIED_ANNOTATION;
    let root = Path::root();
    if let Some(labels) = &meta.labels {
        string_map(labels.iter().map(strs), root.then(b"labels"), sink);
    }
    let annotations = root.then(b"annotations");
    match (&meta.annotations, stamp) {
        (Some(map), None) => string_map(map.iter().map(strs), annotations, sink),
        (map, Some(stamp)) => {
            let others = map.iter().flatten().map(strs).filter(|(k, _)| *k != APPLIED_ANNOTATION);
            string_map(others.chain([(APPLIED_ANNOTATION, stamp)]), annotations, sink);
        }
        (None, None) => {}
    }
    if let Some(references) = &meta.owner_references {
        owner_references(references, root.then(b"ownerReferences"), sink);
    }
}

/// A map entry as two `&str`.
fn strs<'m>((key, value): (&'m String, &'m String)) -> (&'m str, &'m str) {
    (key, value)
}

/// The leaves of a JSON object of strings at `path` (see [`leaves`]).
fn string_map<'m>(entries: impl Iterator<Item = (&'m str, &'m str)>, path: Path, sink: &mut impl FnMut(u64)) {
    sink(path.then(b"{}").0);
    for (key, value) in entries {
        sink(path.then(b".").then(key.as_bytes()).then(b"\"").then(value.as_bytes()).0);
    }
}

/// The leaves of a list of owner references at `path`, as
/// [`field_leaves`] finds them in their JSON (camelCase fields, unset
/// booleans left out).
fn owner_references(references: &[OwnerReference], path: Path, sink: &mut impl FnMut(u64)) {
    sink(path.then(b"[]").then(&references.len().to_le_bytes()).0);
    for (i, reference) in references.iter().enumerate() {
        let item = path.then(b"[").then(&i.to_le_bytes());
        // Its marker and at most six fields: on the stack, as every watch
        // event of every child takes this.
        let mut parts = [0u64; 7];
        let mut count = 0;
        let mut push = |leaf: Path| {
            parts[count] = leaf.0;
            count += 1;
        };
        push(item.then(b"{}"));
        let field = |name: &str| item.then(b".").then(name.as_bytes());
        let OwnerReference { api_version, block_owner_deletion, controller, kind, name, uid } = reference;
        for (key, value) in [("apiVersion", api_version), ("kind", kind), ("name", name), ("uid", uid)] {
            push(field(key).then(b"\"").then(value.as_bytes()));
        }
        for (key, value) in [("blockOwnerDeletion", block_owner_deletion), ("controller", controller)] {
            if let Some(value) = value {
                push(field(key).then(b"?").then(&[u8::from(*value)]));
            }
        }
        sink(whole(item, &mut parts[..count]));
    }
}

/// The leaves of the compared metadata field `field` holding `value`: those
/// of [`leaves`], except that each owner reference is one leaf, the digest
/// of all of its own ([`whole`]). A child has one owner reference of six
/// fields, which as leaves took a third of every cached entry. The builders
/// always set all six, and the API server keeps a reference as written,
/// so "the desired reference is the cached one" is then exactly "each of
/// its fields is there"; a desired reference with fewer fields (none is
/// ever built) is judged not held, which costs a write, never a wrong
/// verdict.
fn field_leaves(field: &str, value: &Value, out: &mut Vec<u64>) {
    let path = Path::root().then(field.as_bytes());
    match value {
        Value::Array(items) if field == "ownerReferences" => {
            out.push(path.then(b"[]").then(&items.len().to_le_bytes()).0);
            for (i, item) in items.iter().enumerate() {
                let at = path.then(b"[").then(&i.to_le_bytes());
                let mut parts = Vec::new();
                leaves(item, at, &mut parts);
                out.push(whole(at, &mut parts));
            }
        }
        _ => leaves(value, path, out),
    }
}

/// One digest of the leaves `parts` of the item at `item`, in any order.
fn whole(item: Path, parts: &mut [u64]) -> u64 {
    parts.sort_unstable();
    let start = item.then(b"whole").0;
    parts.iter().fold(start, |hash, part| crate::digest::bytes_from(hash, &part.to_le_bytes()))
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
