//! Names, labels and ownership shared by every child object.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::{Resource, ResourceExt};

use crate::crd::XAgent;

/// Value of `app.kubernetes.io/managed-by` on every child; also the field manager.
pub const MANAGER: &str = "xagent-operator";
/// Value of `app.kubernetes.io/name` and `app.kubernetes.io/part-of`.
pub const APP: &str = "x-agent";

/// Label naming the component a child belongs to.
pub const COMPONENT_LABEL: &str = "app.kubernetes.io/component";

/// The platform's parts, each with its own workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    /// The HTTP API.
    Api,
    /// The WebSocket gateway.
    Websocket,
    /// The background workers.
    Worker,
    /// The ChromaDB vector store.
    Chromadb,
    /// The Prometheus Operator objects (ServiceMonitor, PrometheusRule).
    Monitoring,
}

impl Component {
    /// Every component, in render order.
    pub const ALL: [Component; 5] =
        [Self::Api, Self::Websocket, Self::Worker, Self::Chromadb, Self::Monitoring];

    /// The `app.kubernetes.io/component` label and child-name suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Websocket => "websocket",
            Self::Worker => "worker",
            Self::Chromadb => "chromadb",
            Self::Monitoring => "monitoring",
        }
    }

    /// Name of this component's children for XAgent `xagent`.
    pub fn child_name(self, xagent: &XAgent) -> String {
        // Joined by hand: `format!` over a cloned name took three times as long.
        let (name, component) = (xagent_name(xagent), self.as_str());
        let mut child = String::with_capacity(name.len() + 1 + component.len());
        child.push_str(name);
        child.push('-');
        child.push_str(component);
        child
    }
}

/// The XAgent's name as `name_any` reads it, borrowed.
fn xagent_name(xagent: &XAgent) -> &str {
    let meta = &xagent.metadata;
    meta.name.as_deref().or(meta.generate_name.as_deref()).unwrap_or_default()
}

/// Labels that select one component's pods. Kept minimal because selectors are immutable.
pub fn selector_labels(xagent: &XAgent, component: Component) -> BTreeMap<String, String> {
    BTreeMap::from(selector_entries(xagent, component))
}

/// The entries of [`selector_labels`].
fn selector_entries(xagent: &XAgent, component: Component) -> [(String, String); 3] {
    [
        ("app.kubernetes.io/name".to_string(), APP.to_string()),
        ("app.kubernetes.io/instance".to_string(), xagent_name(xagent).to_string()),
        (COMPONENT_LABEL.to_string(), component.as_str().to_string()),
    ]
}

/// The full recommended label set every child and pod carries.
pub fn labels(xagent: &XAgent, component: Component) -> BTreeMap<String, String> {
    // The selector's three and two more, built in one go (two inserts into
    // the selector's map searched it twice, for every child and pod).
    let [name, instance, component] = selector_entries(xagent, component);
    BTreeMap::from([
        name,
        instance,
        component,
        ("app.kubernetes.io/part-of".to_string(), APP.to_string()),
        ("app.kubernetes.io/managed-by".to_string(), MANAGER.to_string()),
    ])
}

/// The label selector form of [`selector_labels`].
pub fn selector(xagent: &XAgent, component: Component) -> LabelSelector {
    LabelSelector { match_labels: Some(selector_labels(xagent, component)), ..LabelSelector::default() }
}

/// Controller owner reference to the XAgent, so deleting it garbage-collects the child.
///
/// Absent only for an XAgent the API server has not stored yet (offline `render`),
/// which has no uid to point at.
pub fn owner_reference(xagent: &XAgent) -> Option<OwnerReference> {
    xagent.controller_owner_ref(&()).map(|o| OwnerReference { block_owner_deletion: Some(true), ..o })
}

/// Metadata of a child object named `name` belonging to `component`.
pub fn object_meta(xagent: &XAgent, component: Component, name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: xagent.namespace(),
        labels: Some(labels(xagent, component)),
        owner_references: owner_reference(xagent).map(|o| vec![o]),
        ..ObjectMeta::default()
    }
}
