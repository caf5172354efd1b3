//! Tests of `build()` as a whole: which children, in which order, their names, labels and owner.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{
    env_value, kinds_and_names, match_labels, minimal, platform, pod_templates, port, selector_labels,
    service, service_ports, statefulset, with_chromadb, with_dependencies, xagent,
};
use crate::builders::meta::COMPONENT_LABEL;
use crate::builders::{Child, Component, Desired, build, desired};
use crate::crd::XAgent;

/// The component a child should be labelled with: the suffix of its name, or
/// `monitoring` for the ServiceMonitor and PrometheusRule, which are named after the XAgent.
fn expected_component(child: &Child, xagent_name: &str) -> String {
    if child.kind().is_monitoring() {
        assert_eq!(child.name(), xagent_name, "{}", child.reference());
        return "monitoring".into();
    }
    let suffix = child.name().strip_prefix(&format!("{xagent_name}-")).map(str::to_string);
    suffix.unwrap_or_else(|| panic!("{} is not named after the XAgent", child.reference()))
}

fn full_labels(component: &str) -> BTreeMap<String, String> {
    let mut labels = selector_labels(component);
    labels.insert("app.kubernetes.io/part-of".into(), "x-agent".into());
    labels.insert("app.kubernetes.io/managed-by".into(), "xagent-operator".into());
    labels
}

#[test]
fn minimal_xagent_builds_every_default_child_in_order() {
    let children = build(&minimal());
    let names = kinds_and_names(&platform(children.clone()));
    let expected = [
        ("Service", "demo-api"),
        ("Deployment", "demo-api"),
        ("HorizontalPodAutoscaler", "demo-api"),
        ("PodDisruptionBudget", "demo-api"),
        ("Service", "demo-websocket"),
        ("Deployment", "demo-websocket"),
        ("PodDisruptionBudget", "demo-websocket"),
        ("Service", "demo-worker"),
        ("Deployment", "demo-worker"),
        ("HorizontalPodAutoscaler", "demo-worker"),
        ("PodDisruptionBudget", "demo-worker"),
    ];
    let expected: Vec<(&str, String)> = expected.iter().map(|(k, n)| (*k, n.to_string())).collect();
    assert_eq!(names, expected);
    // The platform's children come first; monitoring objects, if any, only after them.
    assert_eq!(kinds_and_names(&children[..expected.len()]), expected);
    assert!(children[expected.len()..].iter().all(|c| c.kind().is_monitoring()));

    // With monitoring turned off, those eleven are everything.
    let off =
        json!({"monitoring": {"serviceMonitor": {"enabled": false}, "prometheusRule": {"enabled": false}}});
    assert_eq!(kinds_and_names(&build(&xagent(off))), expected);
}

#[test]
fn chromadb_adds_a_headless_service_a_statefulset_and_its_budget_last() {
    let children = platform(build(&with_chromadb()));
    let names = kinds_and_names(&children);
    assert_eq!(names.len(), 14);
    assert_eq!(
        names[11..],
        [
            ("Service", "demo-chromadb".to_string()),
            ("StatefulSet", "demo-chromadb".to_string()),
            ("PodDisruptionBudget", "demo-chromadb".to_string())
        ]
    );
    // Everything before it is unchanged by enabling ChromaDB.
    assert_eq!(names[..11], kinds_and_names(&platform(build(&minimal())))[..]);

    let svc = service(&children, "demo-chromadb").spec.as_ref().unwrap();
    assert_eq!(svc.cluster_ip.as_deref(), Some("None"), "headless");
    assert_eq!(svc.selector.as_ref(), Some(&selector_labels("chromadb")));
    assert_eq!(service_ports(service(&children, "demo-chromadb")), vec![port("http", 8000)]);

    let sts = statefulset(&children, "demo-chromadb").spec.as_ref().unwrap();
    assert_eq!(sts.replicas, Some(1));
    assert_eq!(sts.service_name.as_deref(), Some("demo-chromadb"), "governing Service is the headless one");
    assert_eq!(sts.selector, match_labels("chromadb"));
    let container = &sts.template.spec.as_ref().unwrap().containers[0];
    assert_eq!(container.image.as_deref(), Some("chromadb/chroma:0.5.23"));
    assert_eq!(env_value(container, "IS_PERSISTENT"), Some("TRUE"));
    assert_eq!(env_value(container, "PERSIST_DIRECTORY"), Some("/data"));
    assert_eq!(env_value(container, "CHROMA_HOST_PORT"), Some("8000"));
    assert_eq!(container.working_dir.as_deref(), Some("/tmp"), "the root filesystem is read-only");
    assert!(
        container.volume_mounts.iter().flatten().any(|m| m.name == "data" && m.mount_path == "/data"),
        "the claim is mounted where ChromaDB persists"
    );
}

#[test]
fn every_child_serializes_with_its_api_version_and_kind() {
    for child in build(&with_chromadb()) {
        let value = child.to_value();
        // Matched on the kind's name, not the enum, so a new ChildKind does not break this file's build.
        let api_version = match child.kind().as_str() {
            "Service" => "v1",
            "Deployment" | "StatefulSet" => "apps/v1",
            "HorizontalPodAutoscaler" => "autoscaling/v2",
            "PodDisruptionBudget" => "policy/v1",
            "ServiceMonitor" | "PrometheusRule" => "monitoring.coreos.com/v1",
            other => panic!("no expected apiVersion for {other}"),
        };
        assert_eq!(value["apiVersion"], api_version, "{}", child.reference());
        assert_eq!(value["kind"], child.kind().as_str(), "{}", child.reference());
        assert_eq!(value["metadata"]["name"], child.name());
        assert_eq!(child.reference().to_string(), format!("{}/{}", child.kind().as_str(), child.name()));
    }
}

#[test]
fn everything_optional_off_leaves_services_and_deployments() {
    let off = json!({"autoscaling": {"enabled": false}, "podDisruptionBudget": {"enabled": false}});
    let children = platform(build(&xagent(json!({"api": off, "websocket": off, "worker": off}))));
    let names = kinds_and_names(&children);
    let expected: Vec<(&str, String)> = ["api", "websocket", "worker"]
        .iter()
        .flat_map(|c| [("Service", format!("demo-{c}")), ("Deployment", format!("demo-{c}"))])
        .collect();
    assert_eq!(names, expected);
}

#[test]
fn every_child_and_pod_template_carries_the_standard_labels() {
    let children = build(&with_chromadb());
    for Desired { component: carried, child } in &desired(&with_chromadb()) {
        let component = expected_component(child, "demo");
        assert_eq!(child.meta().labels.as_ref(), Some(&full_labels(&component)), "{}", child.reference());
        assert_eq!(child.meta().namespace.as_deref(), Some("ns"), "{}", child.reference());
        assert_eq!(carried.as_str(), component, "{}", child.reference());
    }
    let templates = pod_templates(&children);
    assert_eq!(templates.len(), 4);
    for (name, template) in templates {
        let component = name.strip_prefix("demo-").unwrap();
        let labels = template.metadata.as_ref().and_then(|m| m.labels.as_ref());
        assert_eq!(labels, Some(&full_labels(component)), "{name} pod template");
    }
}

#[test]
fn each_child_carries_the_component_its_builder_gave_it() {
    let all = desired(&with_chromadb());
    let components: Vec<Component> =
        all.iter().filter(|d| !d.child.kind().is_monitoring()).map(|d| d.component).collect();
    use Component::*;
    assert_eq!(
        components,
        [
            Api, Api, Api, Api, Websocket, Websocket, Websocket, Worker, Worker, Worker, Worker, Chromadb,
            Chromadb, Chromadb
        ]
    );
    for d in all.iter().filter(|d| d.child.kind().is_monitoring()) {
        assert_eq!(d.component, Monitoring, "{}", d.child.reference());
    }
    // The component label says the same, for selectors and dashboards.
    for d in &all {
        let label = d.child.meta().labels.as_ref().and_then(|l| l.get(COMPONENT_LABEL)).cloned();
        assert_eq!(label.as_deref(), Some(d.component.as_str()), "{}", d.child.reference());
    }
}

#[test]
fn every_child_is_controlled_by_the_xagent() {
    let children = build(&with_chromadb());
    assert_eq!(platform(children.clone()).len(), 14);
    for child in &children {
        let owners = child.meta().owner_references.as_ref().expect("owner references");
        assert_eq!(owners.len(), 1, "{}", child.reference());
        let o = &owners[0];
        assert_eq!(o.api_version, "xagent.io/v1alpha1", "{}", child.reference());
        assert_eq!(o.kind, "XAgent", "{}", child.reference());
        assert_eq!(o.name, "demo", "{}", child.reference());
        assert_eq!(o.uid, "u-1", "{}", child.reference());
        assert_eq!(o.controller, Some(true), "{}", child.reference());
        assert_eq!(o.block_owner_deletion, Some(true), "{}", child.reference());
    }
}

#[test]
fn an_xagent_without_uid_yields_children_without_owner() {
    let offline: XAgent = serde_json::from_value(json!({
        "apiVersion": "xagent.io/v1alpha1",
        "kind": "XAgent",
        "metadata": {"name": "demo", "namespace": "ns"},
        "spec": {"chromadb": {"enabled": true}},
    }))
    .unwrap();
    let children = build(&offline);
    assert_eq!(platform(children.clone()).len(), 14);
    for Desired { component, child } in &desired(&offline) {
        assert_eq!(child.meta().owner_references, None, "{}", child.reference());
        assert_eq!(child.meta().labels.as_ref(), Some(&full_labels(component.as_str())));
    }
}

#[test]
fn child_names_follow_the_xagent_name() {
    let mut other = minimal();
    other.metadata.name = Some("prod-agents".into());
    for Desired { component: carried, child } in desired(&other) {
        let component = expected_component(&child, "prod-agents");
        assert_eq!(carried.as_str(), component, "{}", child.reference());
        assert_eq!(child.meta().labels.as_ref().unwrap()["app.kubernetes.io/instance"], "prod-agents");
    }
}

#[test]
fn building_is_deterministic() {
    let x = with_dependencies();
    assert_eq!(build(&x), build(&x));
    let values: Vec<Value> = build(&x).iter().map(Child::to_value).collect();
    let again: Vec<Value> = build(&x.clone()).iter().map(Child::to_value).collect();
    assert_eq!(values, again);
}
