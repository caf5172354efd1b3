//! Tests of the NetworkPolicies and the Ingress.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::json;

use super::{find, minimal, xagent};
use crate::builders::{Child, ChildKind, build};

#[test]
fn no_network_policy_or_ingress_unless_asked_for() {
    let children = build(&minimal());
    assert!(children.iter().all(|c| !matches!(c.kind(), ChildKind::NetworkPolicy | ChildKind::Ingress)));
}

#[test]
fn network_policies_admit_only_what_each_component_serves() {
    let peer =
        json!({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}});
    let x = xagent(
        json!({"networkPolicy": {"enabled": true, "allowFrom": [peer]}, "chromadb": {"enabled": true}}),
    );
    let children = build(&x);
    let policy = |name: &str| match find(&children, ChildKind::NetworkPolicy, name) {
        Some(Child::NetworkPolicy(p)) => p.spec.clone().unwrap(),
        _ => panic!("no NetworkPolicy {name}"),
    };
    let ports = |rule: &k8s_openapi::api::networking::v1::NetworkPolicyIngressRule| -> Vec<String> {
        rule.ports
            .iter()
            .flatten()
            .filter_map(|p| match &p.port {
                Some(IntOrString::String(s)) => Some(s.clone()),
                _ => None,
            })
            .collect()
    };
    for name in ["demo-api", "demo-websocket"] {
        let spec = policy(name);
        assert_eq!(spec.policy_types, Some(vec!["Ingress".to_string()]), "egress stays open");
        let rules = spec.ingress.unwrap();
        assert_eq!(ports(&rules[0]), ["http"]);
        let own = json!({"podSelector": {"matchLabels": {
            "app.kubernetes.io/instance": "demo", "app.kubernetes.io/name": "x-agent"}}});
        assert_eq!(
            serde_json::to_value(&rules[0].from).unwrap(),
            json!([peer, own]),
            "{name}: traffic only from allowFrom and this XAgent's own pods"
        );
        assert_eq!(ports(&rules[1]), ["metrics"]);
        assert_eq!(rules[1].from, None, "{name}: metrics from anywhere");
        let component = name.trim_start_matches("demo-");
        assert_eq!(
            spec.pod_selector.unwrap().match_labels.unwrap()["app.kubernetes.io/component"],
            component
        );
    }
    let worker = policy("demo-worker").ingress.unwrap();
    assert_eq!(worker.len(), 1);
    assert_eq!(ports(&worker[0]), ["metrics"], "workers take no traffic");
    let chroma = policy("demo-chromadb").ingress.unwrap();
    let from = serde_json::to_value(&chroma[0].from).unwrap();
    assert_eq!(
        from[0]["podSelector"]["matchLabels"]["app.kubernetes.io/instance"], "demo",
        "only this XAgent's pods"
    );
}

/// `(path, backend Service)` of each route of Ingress `name`, its annotations, and the Ingress.
fn routes_of<'a>(
    children: &'a [Child],
    name: &str,
) -> (Vec<(String, String)>, BTreeMap<String, String>, &'a k8s_openapi::api::networking::v1::Ingress) {
    let Some(Child::Ingress(ingress)) = find(children, ChildKind::Ingress, name) else {
        panic!("no Ingress {name}");
    };
    let spec = ingress.spec.as_ref().unwrap();
    let rule = &spec.rules.as_ref().unwrap()[0];
    assert_eq!(rule.host.as_deref(), Some("agents.example.com"));
    let routes = rule.http.as_ref().unwrap().paths.iter();
    let routes = routes.map(|p| (p.path.clone().unwrap(), p.backend.service.as_ref().unwrap().name.clone()));
    (routes.collect(), ingress.metadata.annotations.clone().unwrap_or_default(), ingress)
}

#[test]
fn ingress_routes_the_websocket_path_and_everything_else_to_the_api() {
    let x = xagent(json!({"ingress": {"host": "agents.example.com", "className": "traefik",
        "tlsSecretName": "agents-tls", "annotations": {"cert-manager.io/cluster-issuer": "public"}}}));
    let children = build(&x);
    let (routes, annotations, ingress) = routes_of(&children, "demo");
    let spec = ingress.spec.clone().unwrap();
    assert_eq!(spec.ingress_class_name.as_deref(), Some("traefik"));
    let tls = spec.tls.unwrap();
    assert_eq!(tls[0].secret_name.as_deref(), Some("agents-tls"));
    assert_eq!(tls[0].hosts, Some(vec!["agents.example.com".to_string()]));
    assert_eq!(
        routes,
        [("/ws".to_string(), "demo-websocket".to_string()), ("/".to_string(), "demo-api".to_string())]
    );
    assert_eq!(annotations.len(), 1, "no controller-specific annotation for another class: {annotations:?}");
    assert!(ingress.metadata.owner_references.is_some());
    assert_eq!(children.iter().filter(|c| c.kind() == ChildKind::Ingress).count(), 1);
}

#[test]
fn with_ingress_nginx_the_websocket_path_gets_its_own_sticky_long_lived_ingress() {
    let x = xagent(
        json!({"ingress": {"host": "agents.example.com", "className": "nginx", "websocketPath": "/live",
        "tlsSecretName": "agents-tls", "annotations": {
            "cert-manager.io/cluster-issuer": "public", "nginx.ingress.kubernetes.io/proxy-send-timeout": "600"}}}),
    );
    let children = build(&x);
    let (api, api_annotations, _) = routes_of(&children, "demo");
    assert_eq!(api, [("/".to_string(), "demo-api".to_string())]);
    assert_eq!(
        api_annotations.keys().collect::<Vec<_>>(),
        ["cert-manager.io/cluster-issuer", "nginx.ingress.kubernetes.io/proxy-send-timeout"]
    );
    let (ws, ws_annotations, ingress) = routes_of(&children, "demo-websocket");
    assert_eq!(ws, [("/live".to_string(), "demo-websocket".to_string())]);
    assert!(ingress.spec.as_ref().unwrap().tls.is_some(), "the same host, the same certificate");
    let nginx = |k: &str| ws_annotations.get(&format!("nginx.ingress.kubernetes.io/{k}")).map(String::as_str);
    assert_eq!(nginx("affinity"), Some("cookie"));
    assert_eq!(nginx("affinity-mode"), Some("persistent"));
    assert_eq!(nginx("session-cookie-name"), Some("xagent-websocket"));
    assert_eq!(nginx("session-cookie-path"), Some("/live"), "the cookie goes only with WebSocket requests");
    assert_eq!(nginx("proxy-read-timeout"), Some("3600"));
    assert_eq!(nginx("proxy-send-timeout"), Some("600"), "the user's annotation wins");
    assert_eq!(ws_annotations["cert-manager.io/cluster-issuer"], "public");

    let x = xagent(json!({"ingress": {"host": "agents.example.com", "className": "nginx",
        "websocket": {"stickySessions": false, "readTimeoutSeconds": 86400}}}));
    let children = build(&x);
    let (_, ws_annotations, _) = routes_of(&children, "demo-websocket");
    assert_eq!(
        ws_annotations.keys().collect::<Vec<_>>(),
        ["nginx.ingress.kubernetes.io/proxy-read-timeout", "nginx.ingress.kubernetes.io/proxy-send-timeout"]
    );
    assert_eq!(ws_annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"], "86400");
}
