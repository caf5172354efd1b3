//! API types: the `XAgent` custom resource (`xagent.io/v1alpha1`) and its status.

mod alerting;
pub mod defaulted;
mod monitoring;
mod pod;
mod spec;
mod status;

pub use alerting::*;
pub use defaulted::Defaulted;
pub use monitoring::*;
pub use pod::*;

pub use spec::*;
pub use status::*;

use kube::CustomResourceExt;

/// The CRD as `crds/` stores it, built into the binary: the operator
/// validates against it and `xagent-operator crd` prints it, so the binary
/// carries no schema generator. Generating the schema runs once, but its code
/// (schemars and a `JsonSchema` impl per type, most of a megabyte) is mapped
/// into every operator's memory. [`crd_yaml`] generates this text, and the
/// generated-files test holds the two equal.
pub const CRD_YAML: &str = include_str!("../../crds/xagent.io_xagents.yaml");

/// The CRD as YAML, generated from the types: what `crds/` must hold
/// ([`CRD_YAML`]), rewritten by `UPDATE_GENERATED=1 cargo test --test generated`.
pub fn crd_yaml() -> String {
    let crd = XAgent::crd();
    // Serializing a k8s-openapi struct to YAML cannot fail: it is plain data.
    serde_yaml::to_string(&crd).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    /// The controller caches every XAgent of its namespace as a typed
    /// object, so each byte of the inline size is a kilobyte at 1,000. The
    /// parts most XAgents leave out (Redis, PostgreSQL, ingress,
    /// AlertmanagerConfig settings, HPA behavior, DNS settings) are boxed:
    /// absent, they cost a pointer; the blocks every XAgent has are
    /// [`Defaulted`]: at their defaults, they cost a pointer too. A field
    /// added inline that should have been boxed shows here (5,576 bytes
    /// before boxing, 3,848 after, 928 with the blocks `Defaulted`).
    #[test]
    fn the_typed_xagent_stays_small() {
        let sizes = [
            ("XAgent", size_of::<XAgent>(), 950),
            ("XAgentSpec", size_of::<XAgentSpec>(), 250),
            ("ApiSpec", size_of::<ApiSpec>(), 760),
            ("MonitoringSpec", size_of::<MonitoringSpec>(), 260),
        ];
        for (name, size, at_most) in sizes {
            assert!(size <= at_most, "{name} is {size} bytes inline, more than {at_most}");
        }
    }

    /// What boxing saves holds only while the boxed parts are absent from an
    /// XAgent that does not set them.
    #[test]
    fn the_boxed_parts_are_absent_by_default() {
        let spec: XAgentSpec = serde_json::from_value(serde_json::json!({})).expect("empty spec");
        assert!(spec.redis.is_none() && spec.postgres.is_none() && spec.ingress.is_none());
        assert!(spec.monitoring.alertmanager_config.is_none());
        for c in [spec.api.component(), spec.websocket.component(), spec.worker.component()] {
            assert!(c.autoscaling.behavior.is_none() && c.pod.dns_config.is_none());
        }
    }
}
