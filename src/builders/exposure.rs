//! Optional exposure objects: per-component NetworkPolicies and the Ingress.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule, IngressServiceBackend,
    IngressSpec as K8sIngressSpec, IngressTLS, NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec as K8sNetworkPolicySpec, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::meta::{APP, Component, object_meta, selector};
use super::settings::AnnotationPolicy;
use crate::crd::XAgent;

fn port(name: &str) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::String(name.into())),
        protocol: Some("TCP".into()),
        ..NetworkPolicyPort::default()
    }
}

/// A rule admitting `from` (every source when `None`) to the named ports.
fn admit(ports: &[&str], from: Option<Vec<NetworkPolicyPeer>>) -> NetworkPolicyIngressRule {
    NetworkPolicyIngressRule { ports: Some(ports.iter().map(|p| port(p)).collect()), from }
}

fn policy(xagent: &XAgent, component: Component, rules: Vec<NetworkPolicyIngressRule>) -> NetworkPolicy {
    NetworkPolicy {
        metadata: object_meta(xagent, component, component.child_name(xagent)),
        spec: Some(K8sNetworkPolicySpec {
            pod_selector: Some(selector(xagent, component)),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(rules),
            ..K8sNetworkPolicySpec::default()
        }),
    }
}

/// The pods of this XAgent, whatever their component.
fn this_xagent(xagent: &XAgent) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([
                ("app.kubernetes.io/name".to_string(), APP.to_string()),
                ("app.kubernetes.io/instance".to_string(), xagent.name_any()),
            ])),
            ..LabelSelector::default()
        }),
        ..NetworkPolicyPeer::default()
    }
}

/// One NetworkPolicy per component: traffic ports from `allowFrom` and this
/// XAgent's pods (or anyone),
/// metrics from anyone (Prometheus), ChromaDB only from this XAgent's pods.
pub fn network_policies(xagent: &XAgent) -> Vec<(Component, NetworkPolicy)> {
    let spec = &xagent.spec;
    // The XAgent's own pods stay admitted: components may call each other.
    let allow = (!spec.network_policy.allow_from.is_empty()).then(|| {
        let mut peers = spec.network_policy.allow_from.clone();
        peers.push(this_xagent(xagent));
        peers
    });
    let mut rules = vec![
        (Component::Api, vec![admit(&["http"], allow.clone()), admit(&["metrics"], None)]),
        (Component::Websocket, vec![admit(&["http"], allow), admit(&["metrics"], None)]),
        (Component::Worker, vec![admit(&["metrics"], None)]),
    ];
    if spec.chromadb.enabled {
        rules.push((Component::Chromadb, vec![admit(&["http"], Some(vec![this_xagent(xagent)]))]));
    }
    rules.into_iter().map(|(component, rules)| (component, policy(xagent, component, rules))).collect()
}

fn route(path: &str, service: String) -> HTTPIngressPath {
    HTTPIngressPath {
        path: Some(path.into()),
        path_type: "Prefix".into(),
        backend: IngressBackend {
            service: Some(IngressServiceBackend {
                name: service,
                port: Some(ServiceBackendPort { name: Some("http".into()), ..ServiceBackendPort::default() }),
            }),
            ..IngressBackend::default()
        },
    }
}

/// Ingress NAME: the WebSocket path to NAME-websocket, everything else to
/// NAME-api; with the annotations `annotations` lets through.
pub fn ingress(xagent: &XAgent, annotations: &AnnotationPolicy) -> Option<Ingress> {
    let spec = xagent.spec.ingress.as_ref()?;
    let mut metadata = object_meta(xagent, Component::Api, xagent.name_any());
    let (passed, _) = annotations.split(&spec.annotations);
    metadata.annotations = (!passed.is_empty()).then_some(passed);
    let paths = vec![
        route(&spec.websocket_path, Component::Websocket.child_name(xagent)),
        route("/", Component::Api.child_name(xagent)),
    ];
    Some(Ingress {
        metadata,
        spec: Some(K8sIngressSpec {
            ingress_class_name: spec.class_name.clone(),
            rules: Some(vec![IngressRule {
                host: Some(spec.host.clone()),
                http: Some(HTTPIngressRuleValue { paths }),
            }]),
            tls: spec.tls_secret_name.as_ref().map(|secret| {
                vec![IngressTLS { hosts: Some(vec![spec.host.clone()]), secret_name: Some(secret.clone()) }]
            }),
            ..K8sIngressSpec::default()
        }),
        ..Ingress::default()
    })
}
