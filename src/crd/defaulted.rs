//! [`Defaulted`]: a spec block kept only when it differs from its default.
//!
//! The API server applies every schema default, so a stored XAgent carries
//! every block of its spec in full, and most of them hold exactly their
//! defaults (an XAgent that sets a tag and a replica count leaves the rest
//! alone). The controller's cache keeps one typed XAgent per object: with
//! every block inline that was 3.8 KB before its strings, nearly all of it
//! copies of the same defaults. A `Defaulted` block equal to its default is
//! a null pointer and reads as one shared default; any other value is boxed.
//! It is transparent everywhere else: the same JSON both ways, the same
//! schema, `Deref` to the block.

use std::fmt;
use std::ops::{Deref, DerefMut};

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A spec block that has one shared default value for the whole process.
pub trait SharedDefault: Default + PartialEq + Sync + 'static {
    /// The default value, built once.
    fn shared_default() -> &'static Self;
}

/// Implements [`SharedDefault`] for each type from its `Default`.
macro_rules! shared_default {
    ($($ty:ty),+ $(,)?) => {$(
        impl $crate::crd::defaulted::SharedDefault for $ty {
            fn shared_default() -> &'static Self {
                static DEFAULT: std::sync::LazyLock<$ty> = std::sync::LazyLock::new(<$ty>::default);
                &DEFAULT
            }
        }
    )+};
}
pub(crate) use shared_default;

/// A block held only when it differs from its default (see the module docs).
#[derive(Clone, Default)]
pub struct Defaulted<T>(Option<Box<T>>);

impl<T: SharedDefault> Defaulted<T> {
    /// `value`, kept only if it is not the default.
    pub fn new(value: T) -> Self {
        if value == *T::shared_default() { Self(None) } else { Self(Some(Box::new(value))) }
    }

    /// Whether the value is the default and takes no memory of its own.
    pub fn is_shared(&self) -> bool {
        self.0.is_none()
    }
}

impl<T: SharedDefault> From<T> for Defaulted<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: SharedDefault> Deref for Defaulted<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.0.as_deref().unwrap_or_else(|| T::shared_default())
    }
}

/// A write takes a copy of the default first; the value stays boxed even if
/// it is written back to the default (only tests and builders of test
/// fixtures write to a spec).
impl<T: SharedDefault + Clone> DerefMut for Defaulted<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.get_or_insert_with(|| Box::new(T::shared_default().clone()))
    }
}

impl<T: SharedDefault> PartialEq for Defaulted<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: SharedDefault + fmt::Debug> fmt::Debug for Defaulted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: SharedDefault + Serialize> Serialize for Defaulted<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

impl<'de, T: SharedDefault + Deserialize<'de>> Deserialize<'de> for Defaulted<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self::new)
    }
}

/// The block's own schema, unchanged (as for `Box<T>`).
impl<T: JsonSchema> JsonSchema for Defaulted<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
    struct Block {
        #[serde(default)]
        size: u32,
        #[serde(default)]
        name: String,
    }
    shared_default!(Block);

    #[test]
    fn the_default_takes_no_memory_and_anything_else_is_kept() {
        let shared: Defaulted<Block> = serde_json::from_str(r#"{"size": 0, "name": ""}"#).unwrap();
        assert!(shared.is_shared());
        assert_eq!(*shared, Block::default());
        let own: Defaulted<Block> = serde_json::from_str(r#"{"size": 3}"#).unwrap();
        assert!(!own.is_shared());
        assert_eq!(own.size, 3);
        assert_ne!(shared, own);
    }

    #[test]
    fn it_reads_and_writes_the_same_json_as_the_block() {
        for text in [r#"{"size":0,"name":""}"#, r#"{"size":7,"name":"x"}"#] {
            let block: Block = serde_json::from_str(text).unwrap();
            let defaulted: Defaulted<Block> = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::to_string(&defaulted).unwrap(), serde_json::to_string(&block).unwrap());
        }
    }

    #[test]
    fn a_write_to_the_shared_default_changes_only_this_value() {
        let mut one = Defaulted::<Block>::new(Block::default());
        assert!(one.is_shared());
        one.size = 5;
        assert_eq!(one.size, 5);
        assert_eq!(Block::shared_default().size, 0);
        assert!(Defaulted::<Block>::default().is_shared());
    }

    #[test]
    fn its_schema_is_the_blocks() {
        let block = serde_json::to_value(schemars::schema_for!(Block)).unwrap();
        let defaulted = serde_json::to_value(schemars::schema_for!(Defaulted<Block>)).unwrap();
        assert_eq!(block, defaulted);
    }
}
