//! The operator's typed errors: one variant per failure point, so each becomes
//! a metric label, an event reason and a status reason.

use crate::builders::ChildRef;
use crate::validate::InvalidXAgent;

/// Everything a reconcile can fail on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The XAgent breaks a schema or CEL rule the API server did not enforce.
    #[error(transparent)]
    InvalidSpec(#[from] InvalidXAgent),
    /// Reading an existing child from the API server failed.
    #[error("reading {child} failed: {source}")]
    GetChild {
        /// Which child.
        child: ChildRef,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Server-side apply of a child failed.
    #[error("applying {child} failed: {source}")]
    ApplyChild {
        /// Which child.
        child: ChildRef,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Deleting a child the spec no longer asks for failed.
    #[error("deleting {child} failed: {source}")]
    DeleteChild {
        /// Which child.
        child: ChildRef,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Writing the XAgent's status failed.
    #[error("writing status failed: {0}")]
    WriteStatus(#[source] kube::Error),
    /// The XAgent lacks the namespace or name every namespaced object has.
    #[error("XAgent has no {0}")]
    MissingMetadata(&'static str),
}

impl Error {
    /// Every value [`Error::reason`] can return.
    pub const REASONS: [&'static str; 6] = [
        "InvalidSpec",
        "GetChildFailed",
        "ApplyFailed",
        "DeleteFailed",
        "StatusWriteFailed",
        "MissingMetadata",
    ];

    /// A stable CamelCase label for metrics, events and status reasons.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidSpec(_) => "InvalidSpec",
            Self::GetChild { .. } => "GetChildFailed",
            Self::ApplyChild { .. } => "ApplyFailed",
            Self::DeleteChild { .. } => "DeleteFailed",
            Self::WriteStatus(_) => "StatusWriteFailed",
            Self::MissingMetadata(_) => "MissingMetadata",
        }
    }
}

/// Result of controller operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
