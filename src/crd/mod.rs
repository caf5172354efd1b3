//! API types: the `XAgent` custom resource (`xagent.io/v1alpha1`) and its status.

mod alerting;
mod monitoring;
mod pod;
mod spec;
mod status;

pub use alerting::*;
pub use monitoring::*;
pub use pod::*;

pub use spec::*;
pub use status::*;

use kube::CustomResourceExt;

/// The CRD as YAML, exactly as `xagent-operator crd` prints it and `crds/` stores it.
pub fn crd_yaml() -> String {
    let crd = XAgent::crd();
    // Serializing a k8s-openapi struct to YAML cannot fail: it is plain data.
    serde_yaml::to_string(&crd).unwrap_or_default()
}
