//! Unit tests of the pure builders: an XAgent document in, the exact children out.

mod build;
mod exposure;
mod network;
mod pod;
mod pod_settings;
mod policy;
mod quantity;
mod workloads;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Container, EnvVar, PodTemplateSpec, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

use super::{Child, ChildKind};
use crate::crd::XAgent;

// ---------------------------------------------------------------------------
// Fixtures and accessors
// ---------------------------------------------------------------------------

/// An XAgent `ns/demo` (uid `u-1`) with `spec`, deserialized so every serde default applies.
fn xagent(spec: Value) -> XAgent {
    serde_json::from_value(json!({
        "apiVersion": "xagent.io/v1alpha1",
        "kind": "XAgent",
        "metadata": {"name": "demo", "namespace": "ns", "uid": "u-1"},
        "spec": spec,
    }))
    .expect("test XAgent must deserialize")
}

fn minimal() -> XAgent {
    xagent(json!({}))
}

fn with_chromadb() -> XAgent {
    xagent(json!({"chromadb": {"enabled": true}}))
}

/// The platform's own children, without the Prometheus Operator objects (tested with `crate::monitoring`).
fn platform(children: Vec<Child>) -> Vec<Child> {
    children.into_iter().filter(|c| !c.kind().is_monitoring()).collect()
}

/// `(kind, name)` of each child, in build order.
fn kinds_and_names(children: &[Child]) -> Vec<(&'static str, String)> {
    children.iter().map(|c| (c.kind().as_str(), c.name())).collect()
}

fn find<'a>(children: &'a [Child], kind: ChildKind, name: &str) -> Option<&'a Child> {
    children.iter().find(|c| c.kind() == kind && c.name() == name)
}

fn service<'a>(children: &'a [Child], name: &str) -> &'a Service {
    match find(children, ChildKind::Service, name) {
        Some(Child::Service(s)) => s,
        _ => panic!("no Service {name}"),
    }
}

fn deployment<'a>(children: &'a [Child], name: &str) -> &'a Deployment {
    match find(children, ChildKind::Deployment, name) {
        Some(Child::Deployment(d)) => d,
        _ => panic!("no Deployment {name}"),
    }
}

fn statefulset<'a>(children: &'a [Child], name: &str) -> &'a StatefulSet {
    match find(children, ChildKind::StatefulSet, name) {
        Some(Child::StatefulSet(s)) => s,
        _ => panic!("no StatefulSet {name}"),
    }
}

/// Every pod template of every workload, with the workload's name.
fn pod_templates(children: &[Child]) -> Vec<(String, &PodTemplateSpec)> {
    children
        .iter()
        .filter_map(|c| match c {
            Child::Deployment(d) => d.spec.as_ref().map(|s| (c.name(), &s.template)),
            Child::StatefulSet(s) => s.spec.as_ref().map(|s| (c.name(), &s.template)),
            _ => None,
        })
        .collect()
}

/// Every container (init and regular) of every workload, with the workload's name.
fn containers(children: &[Child]) -> Vec<(String, &Container)> {
    pod_templates(children)
        .into_iter()
        .flat_map(|(name, template)| {
            let spec = template.spec.as_ref().expect("pod template has a spec");
            spec.init_containers.iter().flatten().chain(&spec.containers).map(move |c| (name.clone(), c))
        })
        .collect()
}

/// The single container of a Deployment.
fn app_container(d: &Deployment) -> &Container {
    let containers = &d.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers;
    assert_eq!(containers.len(), 1, "one container per pod");
    &containers[0]
}

fn env(c: &Container) -> &[EnvVar] {
    c.env.as_deref().unwrap_or_default()
}

fn env_named<'a>(c: &'a Container, name: &str) -> Vec<&'a EnvVar> {
    env(c).iter().filter(|e| e.name == name).collect()
}

/// The literal value of the only variable `name` of `c`.
fn env_value<'a>(c: &'a Container, name: &str) -> Option<&'a str> {
    let vars = env_named(c, name);
    assert!(vars.len() <= 1, "{name} set {} times on {}", vars.len(), c.name);
    vars.first().and_then(|e| e.value.as_deref())
}

fn selector_labels(component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "x-agent".to_string()),
        ("app.kubernetes.io/instance".to_string(), "demo".to_string()),
        ("app.kubernetes.io/component".to_string(), component.to_string()),
    ])
}

fn match_labels(component: &str) -> LabelSelector {
    LabelSelector { match_labels: Some(selector_labels(component)), ..LabelSelector::default() }
}

/// `(cpu, memory)` of a container's requests or limits.
fn amounts(c: &Container, limits: bool) -> (String, String) {
    let resources = c.resources.as_ref().expect("resources set");
    let map = if limits { resources.limits.as_ref() } else { resources.requests.as_ref() };
    let map = map.expect("requests and limits set");
    assert_eq!(map.len(), 2, "exactly cpu and memory on {}", c.name);
    (map["cpu"].0.clone(), map["memory"].0.clone())
}

fn service_ports(s: &Service) -> Vec<(String, i32, IntOrString, String)> {
    s.spec
        .as_ref()
        .unwrap()
        .ports
        .iter()
        .flatten()
        .map(|p| {
            (
                p.name.clone().unwrap_or_default(),
                p.port,
                p.target_port.clone().expect("targetPort set"),
                p.protocol.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn port(name: &str, number: i32) -> (String, i32, IntOrString, String) {
    (name.into(), number, IntOrString::String(name.into()), "TCP".into())
}

fn with_dependencies() -> XAgent {
    xagent(json!({
        "redis": {"host": "redis.data", "port": 6380, "database": 3, "tls": true,
                  "passwordSecretRef": {"name": "redis-auth", "key": "password"}},
        "postgres": {"host": "pg.data", "database": "agents", "user": "xa", "sslMode": "require",
                     "passwordSecretRef": {"name": "pg-auth", "key": "pw"}},
        "chromadb": {"enabled": true},
    }))
}
