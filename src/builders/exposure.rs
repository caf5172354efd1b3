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
use crate::crd::{IngressSpec, XAgent};

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

/// The IngressClass whose controller (ingress-nginx) the operator writes annotations for.
pub const NGINX_CLASS: &str = "nginx";

/// Name of ingress-nginx's affinity cookie for the WebSocket path.
pub const AFFINITY_COOKIE: &str = "xagent-websocket";

/// The Ingresses: NAME routes the WebSocket path to NAME-websocket and
/// everything else to NAME-api; with className nginx the WebSocket path
/// moves to an Ingress of its own, NAME-websocket, because ingress-nginx
/// applies affinity and timeouts to every path of one Ingress, and the API
/// needs neither. Each carries the annotations `annotations` lets through.
pub fn ingresses(xagent: &XAgent, annotations: &AnnotationPolicy) -> Vec<(Component, Ingress)> {
    let Some(spec) = xagent.spec.ingress.as_ref() else { return Vec::new() };
    let (passed, _) = annotations.split(&spec.annotations);
    let websocket = route(&spec.websocket_path, Component::Websocket.child_name(xagent));
    let api = route("/", Component::Api.child_name(xagent));
    if spec.class_name.as_deref() != Some(NGINX_CLASS) {
        return vec![(Component::Api, ingress(xagent, spec, Component::Api, vec![websocket, api], passed))];
    }
    let mut own = nginx_websocket_annotations(spec);
    own.extend(passed.clone());
    vec![
        (Component::Api, ingress(xagent, spec, Component::Api, vec![api], passed)),
        (Component::Websocket, ingress(xagent, spec, Component::Websocket, vec![websocket], own)),
    ]
}

/// ingress-nginx's cookie affinity, scoped to the WebSocket path, and its
/// read and send timeouts, so idle connections stay open.
fn nginx_websocket_annotations(spec: &IngressSpec) -> BTreeMap<String, String> {
    let key = |k: &str| format!("nginx.ingress.kubernetes.io/{k}");
    let timeout = spec.websocket.read_timeout_seconds.to_string();
    let mut out =
        BTreeMap::from([(key("proxy-read-timeout"), timeout.clone()), (key("proxy-send-timeout"), timeout)]);
    if spec.websocket.sticky_sessions {
        out.extend([
            (key("affinity"), "cookie".to_string()),
            (key("affinity-mode"), "persistent".to_string()),
            (key("session-cookie-name"), AFFINITY_COOKIE.to_string()),
            (key("session-cookie-path"), spec.websocket_path.clone()),
        ]);
    }
    out
}

/// The Ingress of `component`: NAME for the API (and, in the single-Ingress
/// form, the WebSocket path too), NAME-websocket for the WebSocket path.
fn ingress(
    xagent: &XAgent,
    spec: &IngressSpec,
    component: Component,
    paths: Vec<HTTPIngressPath>,
    annotations: BTreeMap<String, String>,
) -> Ingress {
    let name = match component {
        Component::Websocket => component.child_name(xagent),
        _ => xagent.name_any(),
    };
    let mut metadata = object_meta(xagent, component, name);
    metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    Ingress {
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
    }
}
