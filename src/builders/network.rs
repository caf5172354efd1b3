//! Services in front of the components.

use k8s_openapi::api::core::v1::{ClientIPConfig, Service, ServicePort, ServiceSpec, SessionAffinityConfig};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{Component, object_meta, selector_labels};
use crate::crd::{ComponentSpec, XAgent};

/// How long a WebSocket client stays pinned to one pod: three hours, the kube-proxy default.
pub const SESSION_AFFINITY_SECONDS: i32 = 10800;

fn port(name: &str, port: i32) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port,
        target_port: Some(IntOrString::String(name.into())),
        protocol: Some("TCP".into()),
        ..ServicePort::default()
    }
}

fn service(xagent: &XAgent, component: Component, spec: ServiceSpec) -> Service {
    Service {
        metadata: object_meta(xagent, component, component.child_name(xagent)),
        spec: Some(ServiceSpec { selector: Some(selector_labels(xagent, component)), ..spec }),
        ..Service::default()
    }
}

/// ClusterIP Service for the API: traffic and metrics ports.
pub fn api_service(xagent: &XAgent, spec: &ComponentSpec) -> Service {
    service(
        xagent,
        Component::Api,
        ServiceSpec {
            type_: Some("ClusterIP".into()),
            ports: Some(vec![port("http", spec.port), port("metrics", spec.metrics_port)]),
            ..ServiceSpec::default()
        },
    )
}

/// ClusterIP Service for the WebSocket gateway with ClientIP affinity, so a
/// client's reconnects land on the pod that holds its session.
pub fn websocket_service(xagent: &XAgent, spec: &ComponentSpec) -> Service {
    service(
        xagent,
        Component::Websocket,
        ServiceSpec {
            type_: Some("ClusterIP".into()),
            ports: Some(vec![port("http", spec.port), port("metrics", spec.metrics_port)]),
            session_affinity: Some("ClientIP".into()),
            session_affinity_config: Some(SessionAffinityConfig {
                client_ip: Some(ClientIPConfig { timeout_seconds: Some(SESSION_AFFINITY_SECONDS) }),
            }),
            ..ServiceSpec::default()
        },
    )
}

/// ClusterIP Service exposing only the workers' metrics port: workers take no
/// traffic, but a ServiceMonitor can only scrape through a Service.
pub fn worker_service(xagent: &XAgent, spec: &ComponentSpec) -> Service {
    service(
        xagent,
        Component::Worker,
        ServiceSpec {
            type_: Some("ClusterIP".into()),
            ports: Some(vec![port("metrics", spec.metrics_port)]),
            ..ServiceSpec::default()
        },
    )
}

/// Headless Service that gives the ChromaDB StatefulSet's pods stable DNS names.
pub fn chromadb_service(xagent: &XAgent) -> Service {
    service(
        xagent,
        Component::Chromadb,
        ServiceSpec {
            cluster_ip: Some("None".into()),
            ports: Some(vec![port("http", xagent.spec.chromadb.port)]),
            ..ServiceSpec::default()
        },
    )
}
