//! Tests of the NetworkPolicies and the Ingress.

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

#[test]
fn ingress_routes_the_websocket_path_and_everything_else_to_the_api() {
    let x = xagent(json!({"ingress": {"host": "agents.example.com", "className": "nginx",
        "tlsSecretName": "agents-tls", "annotations": {"nginx.ingress.kubernetes.io/proxy-read-timeout": "3600"}}}));
    let children = build(&x);
    let Some(Child::Ingress(ingress)) = find(&children, ChildKind::Ingress, "demo") else {
        panic!("no Ingress demo");
    };
    let spec = ingress.spec.clone().unwrap();
    assert_eq!(spec.ingress_class_name.as_deref(), Some("nginx"));
    let tls = spec.tls.unwrap();
    assert_eq!(tls[0].secret_name.as_deref(), Some("agents-tls"));
    assert_eq!(tls[0].hosts, Some(vec!["agents.example.com".to_string()]));
    let rule = &spec.rules.unwrap()[0];
    assert_eq!(rule.host.as_deref(), Some("agents.example.com"));
    let routes: Vec<(String, String)> = rule
        .http
        .as_ref()
        .unwrap()
        .paths
        .iter()
        .map(|p| (p.path.clone().unwrap(), p.backend.service.as_ref().unwrap().name.clone()))
        .collect();
    assert_eq!(
        routes,
        [("/ws".to_string(), "demo-websocket".to_string()), ("/".to_string(), "demo-api".to_string())]
    );
    assert_eq!(
        ingress.metadata.annotations.as_ref().unwrap()["nginx.ingress.kubernetes.io/proxy-read-timeout"],
        "3600"
    );
    assert!(ingress.metadata.owner_references.is_some());
}
