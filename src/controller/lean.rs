//! Decoding only what a cache keeps.
//!
//! Every object the API server sends in a watch event or an apply's answer
//! carries `metadata.managedFields`, often half its size, and the
//! workloads carry their whole pod template. The caches drop both
//! ([`super::stores::Slim`]), so decoding them is work thrown away: into
//! `serde_json::Value` trees for managedFields, into thousands of small
//! allocations for a template. [`Lean`] decodes an object with such fields
//! passed over unread. serde_json still scans their text (it must find where
//! they end) but builds nothing of them.
//!
//! A skipped field decodes as absent, which k8s-openapi reads as its
//! default, the very value slimming leaves; so for every kind "decode lean,
//! then slim" is "decode whole, then slim" (tested per kind).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use kube::Resource;
use kube::api::ObjectMeta;
use kube::core::PartialObjectMeta;
use serde::Deserialize;
use serde::de::value::{BorrowedStrDeserializer, StringDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

/// Dotted paths below an object's top, e.g. `spec.template`.
pub type Paths = &'static [&'static str];

/// Skipped in every kind: the server's record of field ownership, which the
/// operator never reads (it applies with force).
const ALWAYS: &str = "metadata.managedFields";

/// A kind's fields that its cache drops and its decode may skip.
pub trait Decode {
    /// Paths skipped besides `metadata.managedFields`; each must be dropped
    /// by the kind's slimming, or the cache would see a difference.
    const SKIPPED: Paths = &[];
    /// Whether the kind's cache keeps nothing but metadata: the API server
    /// then answers its applies with metadata alone
    /// (`as=PartialObjectMetadata`), as it sends its watch events.
    const METADATA_ONLY: bool = false;

    /// The object of this kind that holds `metadata` and nothing else: what
    /// slimming leaves of a kind cached metadata-only.
    fn with_metadata(metadata: ObjectMeta) -> Self;
}

impl<K> Decode for PartialObjectMeta<K> {
    fn with_metadata(metadata: ObjectMeta) -> Self {
        PartialObjectMeta { types: None, metadata, _phantom: PhantomData }
    }
}

/// A `K` decoded without `metadata.managedFields` and `K::SKIPPED`; for
/// everything else it is `K` (same URL, same `Accept` header).
#[derive(Clone, Debug)]
pub struct Lean<K>(pub K);

impl<'de, K: Deserialize<'de> + Decode> Deserialize<'de> for Lean<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let level = Level { top: &[ALWAYS], kind: K::SKIPPED, prefix: "" };
        K::deserialize(Skipping { inner: deserializer, level }).map(Lean)
    }
}

impl<K: Resource> Resource for Lean<K> {
    type DynamicType = K::DynamicType;
    type Scope = K::Scope;

    fn kind(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::kind(dt)
    }

    fn group(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::group(dt)
    }

    fn version(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::version(dt)
    }

    fn api_version(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::api_version(dt)
    }

    fn plural(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::plural(dt)
    }

    fn metadata_api() -> bool {
        K::metadata_api()
    }

    fn url_path(dt: &Self::DynamicType, namespace: Option<&str>) -> String {
        K::url_path(dt, namespace)
    }

    fn meta(&self) -> &ObjectMeta {
        self.0.meta()
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        self.0.meta_mut()
    }
}

/// Where a decode stands: under `prefix` (empty at the object's top, else
/// ending in a dot) with the skipped paths of both lists.
#[derive(Clone, Copy)]
struct Level {
    top: Paths,
    kind: Paths,
    prefix: &'static str,
}

/// What to do with the value of one field.
enum Verdict {
    /// Read it as usual.
    Keep,
    /// Pass over it unread.
    Skip,
    /// Read it, skipping fields below it (the new prefix).
    Descend(&'static str),
}

impl Level {
    fn verdict(&self, key: &str) -> Verdict {
        let mut verdict = Verdict::Keep;
        for path in self.top.iter().chain(self.kind) {
            let Some(rest) = path.strip_prefix(self.prefix).and_then(|r| r.strip_prefix(key)) else {
                continue;
            };
            if rest.is_empty() {
                return Verdict::Skip;
            }
            if rest.starts_with('.') {
                verdict = Verdict::Descend(&path[..path.len() - rest.len() + 1]);
            }
        }
        verdict
    }
}

/// A deserializer that hands maps at its level to [`SkipMap`].
struct Skipping<D> {
    inner: D,
    level: Level,
}

/// A visitor that wraps the maps and options it is given.
struct Wrap<V> {
    visitor: V,
    level: Level,
}

/// Forwards `deserialize_*` methods to the inner deserializer, visitor wrapped.
macro_rules! forward {
    ($( $method:ident ( $( $arg:ident : $ty:ty ),* ) )*) => {
        $( fn $method<V: Visitor<'de>>(self, $( $arg: $ty, )* visitor: V) -> Result<V::Value, D::Error> {
            self.inner.$method($( $arg, )* Wrap { visitor, level: self.level })
        } )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Skipping<D> {
    type Error = D::Error;

    forward! {
        deserialize_any() deserialize_bool() deserialize_i8() deserialize_i16() deserialize_i32()
        deserialize_i64() deserialize_i128() deserialize_u8() deserialize_u16() deserialize_u32()
        deserialize_u64() deserialize_u128() deserialize_f32() deserialize_f64() deserialize_char()
        deserialize_str() deserialize_string() deserialize_bytes() deserialize_byte_buf()
        deserialize_option() deserialize_unit() deserialize_unit_struct(name: &'static str)
        deserialize_newtype_struct(name: &'static str) deserialize_seq() deserialize_tuple(len: usize)
        deserialize_tuple_struct(name: &'static str, len: usize) deserialize_map()
        deserialize_struct(name: &'static str, fields: &'static [&'static str])
        deserialize_enum(name: &'static str, variants: &'static [&'static str])
        deserialize_identifier() deserialize_ignored_any()
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// Forwards `visit_*` methods of one argument to the wrapped visitor.
macro_rules! pass {
    ($( $method:ident($ty:ty) )*) => {
        $( fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.visitor.$method(v)
        } )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        self.visitor.expecting(formatter)
    }

    pass! {
        visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64) visit_i128(i128)
        visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64) visit_u128(u128) visit_f32(f32)
        visit_f64(f64) visit_char(char) visit_str(&str) visit_borrowed_str(&'de str) visit_string(String)
        visit_bytes(&[u8]) visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visitor.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visitor.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<Self::Value, D::Error> {
        self.visitor.visit_some(Skipping { inner, level: self.level })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, inner: D) -> Result<Self::Value, D::Error> {
        self.visitor.visit_newtype_struct(Skipping { inner, level: self.level })
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_map(SkipMap { map, level: self.level, descend: None })
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_enum(data)
    }
}

/// A map whose skipped keys never reach the visitor, and whose values under
/// a skipped path's parent are decoded one level down.
struct SkipMap<A> {
    map: A,
    level: Level,
    /// The prefix the next value is decoded under, if it holds skipped paths.
    descend: Option<&'static str>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for SkipMap<A> {
    type Error = A::Error;

    fn next_key_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>, A::Error> {
        while let Some(key) = self.map.next_key::<Key<'de>>()? {
            match self.level.verdict(key.as_str()) {
                Verdict::Skip => {
                    self.map.next_value::<IgnoredAny>()?;
                    continue;
                }
                Verdict::Descend(prefix) => self.descend = Some(prefix),
                Verdict::Keep => self.descend = None,
            }
            return match key {
                Key::Borrowed(k) => seed.deserialize(BorrowedStrDeserializer::new(k)).map(Some),
                Key::Owned(k) => seed.deserialize(StringDeserializer::new(k)).map(Some),
            };
        }
        Ok(None)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        match self.descend.take() {
            Some(prefix) => self.map.next_value_seed(Below { seed, level: Level { prefix, ..self.level } }),
            None => self.map.next_value_seed(seed),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// A seed whose value is decoded at `level`.
struct Below<S> {
    seed: S,
    level: Level,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Below<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, inner: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Skipping { inner, level: self.level })
    }
}

/// A map key, borrowed from the input when it has no escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(k) => k,
            Key::Owned(k) => k,
        }
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Takes the key as the input offers it.
        struct KeyVisitor<'de>(PhantomData<&'de ()>);

        impl<'de> Visitor<'de> for KeyVisitor<'de> {
            type Value = Key<'de>;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a field name")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v))
            }
        }

        deserializer.deserialize_str(KeyVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests;
