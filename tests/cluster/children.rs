//! The children of an XAgent as the API server holds them, read generically.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Service, ServiceAccount};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::{Client, ResourceExt};
use xagent_operator::builders::monitoring::types::{PrometheusRule, ServiceMonitor};

/// Every kind an XAgent can own.
pub fn kinds() -> Vec<ApiResource> {
    vec![
        ApiResource::erase::<Deployment>(&()),
        ApiResource::erase::<StatefulSet>(&()),
        ApiResource::erase::<Service>(&()),
        ApiResource::erase::<ServiceAccount>(&()),
        ApiResource::erase::<HorizontalPodAutoscaler>(&()),
        ApiResource::erase::<PodDisruptionBudget>(&()),
        ApiResource::erase::<NetworkPolicy>(&()),
        ApiResource::erase::<Ingress>(&()),
        ApiResource::erase::<ServiceMonitor>(&()),
        ApiResource::erase::<PrometheusRule>(&()),
    ]
}

/// The API of one kind in `ns`.
pub fn api(client: &Client, ns: &str, kind: &ApiResource) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, kind)
}

/// The `Kind` whose name is `kind` (e.g. "Deployment").
pub fn kind(name: &str) -> ApiResource {
    kinds().into_iter().find(|k| k.kind == name).unwrap_or_else(|| panic!("no kind {name}"))
}

/// Every object of XAgent `name` in `ns` (by instance label), as (Kind, object).
pub async fn of(client: &Client, ns: &str, name: &str) -> Vec<(String, DynamicObject)> {
    labelled(client, ns, &format!("app.kubernetes.io/instance={name}")).await
}

/// Every object of every owned kind in `ns` matching `selector`, as (Kind, object).
async fn labelled(client: &Client, ns: &str, selector: &str) -> Vec<(String, DynamicObject)> {
    let params = ListParams::default().labels(selector);
    let mut all = Vec::new();
    for kind in kinds() {
        let Ok(list) = api(client, ns, &kind).list(&params).await else { continue };
        all.extend(list.items.into_iter().map(|o| (kind.kind.clone(), o)));
    }
    all
}

/// `Kind/name` of each object, sorted.
pub fn references(objects: &[(String, DynamicObject)]) -> Vec<String> {
    let mut refs: Vec<String> = objects.iter().map(|(k, o)| format!("{k}/{}", o.name_any())).collect();
    refs.sort();
    refs
}

/// What a default XAgent `name` owns (Prometheus Operator CRDs installed).
pub fn default_set(name: &str) -> Vec<String> {
    let mut refs = vec![
        format!("Deployment/{name}-api"),
        format!("Deployment/{name}-websocket"),
        format!("Deployment/{name}-worker"),
        format!("Service/{name}-api"),
        format!("Service/{name}-websocket"),
        format!("Service/{name}-worker"),
        format!("HorizontalPodAutoscaler/{name}-api"),
        format!("HorizontalPodAutoscaler/{name}-worker"),
        format!("PodDisruptionBudget/{name}-api"),
        format!("PodDisruptionBudget/{name}-websocket"),
        format!("PodDisruptionBudget/{name}-worker"),
        format!("ServiceMonitor/{name}"),
        format!("PrometheusRule/{name}"),
    ];
    refs.sort();
    refs
}

/// The uid of the controller ownerReference, if any.
pub fn controller_uid(obj: &DynamicObject) -> Option<String> {
    obj.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true)).map(|o| o.uid.clone())
}

/// Every object of every owned kind in `ns` that the operator manages, as (Kind, object).
pub async fn of_namespace(client: &Client, ns: &str) -> Vec<(String, DynamicObject)> {
    labelled(client, ns, "app.kubernetes.io/managed-by=xagent-operator").await
}
