//! The operator's typed errors: one variant per failure point, so each becomes
//! a metric label, an event reason and a status reason.

use crate::builders::ChildRef;

/// Everything a reconcile can fail on. Each variant's `strum` name is its
/// reason: a stable CamelCase label for metrics, events and status.
#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum Error {
    /// Reading an existing child from the API server failed.
    #[error("reading {child} failed: {source}")]
    #[strum(serialize = "GetChildFailed")]
    GetChild {
        /// Which child.
        child: ChildRef,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Server-side apply of a child failed.
    #[error("applying {child} failed: {source}")]
    #[strum(serialize = "ApplyFailed")]
    ApplyChild {
        /// Which child.
        child: ChildRef,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Deleting a child the spec no longer asks for failed.
    #[error("deleting {child} failed: {source}")]
    #[strum(serialize = "DeleteFailed")]
    DeleteChild {
        /// Which child.
        child: ChildRef,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Writing the XAgent's status failed.
    #[error("writing status failed: {0}")]
    #[strum(serialize = "StatusWriteFailed")]
    WriteStatus(#[source] kube::Error),
    /// The XAgent lacks the namespace or name every namespaced object has.
    #[error("XAgent has no {0}")]
    #[strum(serialize = "MissingMetadata")]
    MissingMetadata(&'static str),
}

impl Error {
    /// Every value [`Error::reason`] can return.
    pub const REASONS: &'static [&'static str] = <Self as strum::VariantNames>::VARIANTS;

    /// A stable CamelCase label for metrics, events and status reasons.
    pub fn reason(&self) -> &'static str {
        self.into()
    }
}

/// Result of controller operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
