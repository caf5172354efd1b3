//! The operator's typed errors: one variant per failure point, so each becomes
//! a metric label, an event reason and a status reason.

use crate::builders::ChildRef;

/// Everything a reconcile can fail on. Each variant's `strum` name is its
/// reason: a stable CamelCase label for metrics, events and status.
#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum Error {
    /// Reading an existing child from the API server failed.
    #[error("reading {child} failed: {}", brief(.source))]
    #[strum(serialize = "GetChildFailed")]
    GetChild {
        /// Which child.
        child: ChildRef,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Server-side apply of a child failed.
    #[error("applying {child} failed: {}", brief(.source))]
    #[strum(serialize = "ApplyFailed")]
    ApplyChild {
        /// Which child.
        child: ChildRef,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Deleting a child the spec no longer asks for failed.
    #[error("deleting {child} failed: {}", brief(.source))]
    #[strum(serialize = "DeleteFailed")]
    DeleteChild {
        /// Which child.
        child: ChildRef,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Reading or resizing one of ChromaDB's PersistentVolumeClaims, or
    /// reading its StorageClass, failed.
    #[error("{action} {object} failed: {}", brief(.source))]
    #[strum(serialize = "StorageFailed")]
    Storage {
        /// What was being done: "reading", "resizing", "relabelling".
        action: &'static str,
        /// Which object, e.g. `PersistentVolumeClaim/data-demo-chromadb-0`.
        object: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// The StatefulSet did not finish its orphaning deletion in time to be
    /// recreated with new volumeClaimTemplates (retried).
    #[error("{child} is still being deleted to be recreated with new volumeClaimTemplates")]
    #[strum(serialize = "RecreatePending")]
    RecreatePending {
        /// Which child.
        child: ChildRef,
    },
    /// Writing the XAgent's status failed.
    #[error("writing status failed: {}", brief(.0))]
    #[strum(serialize = "StatusWriteFailed")]
    WriteStatus(#[source] kube::Error),
    /// The XAgent lacks the namespace or name every namespaced object has.
    #[error("XAgent has no {0}")]
    #[strum(serialize = "MissingMetadata")]
    MissingMetadata(&'static str),
    /// The reconcile did not finish within its deadline (a hung API response).
    #[error("reconcile did not finish within {0:?}")]
    #[strum(serialize = "ReconcileTimeout")]
    Timeout(std::time::Duration),
}

impl Error {
    /// Every value [`Error::reason`] can return.
    pub const REASONS: &'static [&'static str] = <Self as strum::VariantNames>::VARIANTS;

    /// A stable CamelCase label for metrics, events and status reasons.
    pub fn reason(&self) -> &'static str {
        self.into()
    }

    /// Whether retrying can cure it without a person changing anything: a
    /// conflict (409), throttling (429), a server error (5xx) or a request
    /// that never got an answer (connect failure, timeout). A refusal on the
    /// merits (400, 403, 404, 422, ...) is permanent: the same request gets
    /// the same answer until the spec, a policy or the RBAC changes.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::GetChild { source, .. }
            | Self::ApplyChild { source, .. }
            | Self::DeleteChild { source, .. }
            | Self::Storage { source, .. }
            | Self::WriteStatus(source) => transient(source),
            Self::RecreatePending { .. } => true,
            Self::MissingMetadata(_) => false,
            Self::Timeout(_) => true,
        }
    }

    /// Whether the API server refused because the namespace is being
    /// deleted: nothing can be created there again, so retrying only floods
    /// the server until the namespace controller deletes the XAgent too.
    pub fn is_namespace_terminating(&self) -> bool {
        match self {
            Self::GetChild { source, .. }
            | Self::ApplyChild { source, .. }
            | Self::DeleteChild { source, .. } => namespace_terminating(source),
            _ => false,
        }
    }
}

fn namespace_terminating(error: &kube::Error) -> bool {
    let kube::Error::Api(status) = error else { return false };
    status.details.as_ref().is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating"))
}

/// An API error as a person reads it in status and events: the server's
/// message, its HTTP code and reason; not the client's debug dump.
fn brief(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => format!("{} (HTTP {} {})", status.message, status.code, status.reason),
        other => other.to_string(),
    }
}

fn transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => transient_code(status.code),
        _ => true,
    }
}

/// The HTTP status codes a retry can cure.
pub fn transient_code(code: u16) -> bool {
    matches!(code, 409 | 429) || code >= 500
}

/// Result of controller operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::{Error, transient_code};
    use crate::builders::{ChildKind, ChildRef};

    fn apply_error(code: u16) -> Error {
        let status = kube::core::Status::failure("refused", "Test").with_code(code);
        let child = ChildRef { kind: ChildKind::Service, name: "demo-api".into() };
        Error::ApplyChild { child, source: kube::Error::Api(Box::new(status)) }
    }

    #[test]
    fn a_refusal_in_a_terminating_namespace_is_recognised_by_its_cause() {
        let mut status =
            kube::core::Status::failure("unable to create new content", "Forbidden").with_code(403);
        let child = ChildRef { kind: ChildKind::Service, name: "demo-api".into() };
        let refused = |status: &kube::core::Status| Error::ApplyChild {
            child: child.clone(),
            source: kube::Error::Api(Box::new(status.clone())),
        };
        assert!(!refused(&status).is_namespace_terminating(), "a plain 403");
        // As the API server sends it.
        let details = serde_json::json!({"causes": [{"reason": "NamespaceTerminating",
            "message": "namespace demo is being terminated", "field": "metadata.namespace"}]});
        status.details = Some(serde_json::from_value(details).expect("StatusDetails"));
        assert!(refused(&status).is_namespace_terminating());
    }

    #[test]
    fn conflicts_throttling_and_server_errors_are_transient() {
        for code in [409, 429, 500, 503, 504] {
            assert!(transient_code(code), "{code}");
            assert!(apply_error(code).is_transient(), "{code}");
        }
    }

    #[test]
    fn api_errors_read_as_the_servers_message_code_and_reason() {
        let status =
            kube::core::Status::failure("services \"x\" is forbidden: denied", "Invalid").with_code(422);
        let child = ChildRef { kind: ChildKind::Service, name: "x".into() };
        let error = Error::ApplyChild { child, source: kube::Error::Api(Box::new(status)) };
        assert_eq!(
            error.to_string(),
            "applying Service/x failed: services \"x\" is forbidden: denied (HTTP 422 Invalid)"
        );
    }

    #[test]
    fn refusals_on_the_merits_are_permanent() {
        for code in [400, 403, 404, 413, 422] {
            assert!(!transient_code(code), "{code}");
            assert!(!apply_error(code).is_transient(), "{code}");
        }
        assert!(!Error::MissingMetadata("uid").is_transient());
    }
}
