use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::{Value, json};

use super::*;
use crate::builders::ChildKind;
use crate::controller::stores;

/// What the API server records of two writers of an object.
fn managed_fields() -> Value {
    json!([
        {"manager": "xagent-operator", "operation": "Apply", "apiVersion": "v1",
         "time": "2026-12-05T20:00:00Z", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:replicas": {}}}},
        {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
         "subresource": "status", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:status": {"f:replicas": {}, "f:conditions": {".": {}}}}}
    ])
}

fn decode<T: serde::de::DeserializeOwned>(value: &Value) -> T {
    serde_json::from_slice(&serde_json::to_vec(value).expect("serializes")).expect("decodes")
}

#[test]
fn managed_fields_are_passed_over_and_the_rest_of_the_metadata_is_kept() {
    let object = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {
            "name": "dashboard", "namespace": "team", "uid": "u-1", "resourceVersion": "42",
            // A field named like a skipped one, elsewhere, is data.
            "labels": {"managedFields": "kept", "app": "x"},
            "annotations": {"xagent.io/applied": "00ff"},
            "managedFields": managed_fields(),
            "ownerReferences": [{"apiVersion": "xagent.io/v1alpha1", "kind": "XAgent", "name": "a",
                                 "uid": "owner", "controller": true}]
        },
        "data": {"managedFields": "also data"}
    });
    let Lean(lean) = decode::<Lean<ConfigMap>>(&object);
    let mut whole = decode::<ConfigMap>(&object);
    assert_eq!(whole.metadata.managed_fields.as_ref().map(Vec::len), Some(2));
    assert_eq!(lean.metadata.managed_fields, None);
    assert_eq!(
        lean.metadata.labels.as_ref().and_then(|l| l.get("managedFields")).map(String::as_str),
        Some("kept")
    );
    whole.metadata.managed_fields = None;
    assert_eq!(lean.metadata, whole.metadata);
    // Data that holds a field named like a skipped one is data too.
    assert_eq!(
        lean.data.as_ref().and_then(|d| d.get("managedFields")).map(String::as_str),
        Some("also data")
    );
}

#[test]
fn a_key_with_escapes_is_read_as_the_same_field() {
    // serde_json cannot lend an escaped key from the input: it is owned.
    let text = r#"{"metadata":{"name":"d","managedFields":[{"manager":"m"}],"labels":{"a\u002fb":"c"}},
                   "spec":{"replicas":3,"templ\u0061te":{"metadata":{"labels":{"x":"y"}}}}}"#;
    let Lean(lean) = serde_json::from_str::<Lean<Deployment>>(text).expect("decodes");
    assert_eq!(lean.metadata.managed_fields, None);
    assert_eq!(lean.metadata.labels.and_then(|mut l| l.remove("a/b")).as_deref(), Some("c"));
    let spec = lean.spec.expect("a spec");
    assert_eq!(spec.replicas, Some(3));
    assert_eq!(spec.template, Default::default(), "an escaped skipped key is skipped too");
}

#[test]
fn a_workload_keeps_its_counts_and_loses_its_template() {
    let object = json!({
        "metadata": {"name": "api", "generation": 4, "managedFields": managed_fields()},
        "spec": {"replicas": 2, "minReadySeconds": 5,
                 "selector": {"matchLabels": {"app": "api"}},
                 "template": {"spec": {"containers": [{"name": "api", "image": "x:1"}]}}},
        "status": {"readyReplicas": 1, "updatedReplicas": 2, "observedGeneration": 4}
    });
    let Lean(lean) = decode::<Lean<Deployment>>(&object);
    let spec = lean.spec.expect("a spec");
    assert_eq!((spec.replicas, spec.min_ready_seconds), (Some(2), Some(5)));
    assert_eq!(spec.template, Default::default());
    assert_eq!(spec.selector, Default::default());
    let status = lean.status.expect("a status");
    assert_eq!(
        (status.ready_replicas, status.updated_replicas, status.observed_generation),
        (Some(1), Some(2), Some(4))
    );
    assert_eq!(lean.metadata.generation, Some(4));
}

#[test]
fn a_malformed_object_is_still_an_error() {
    let text = r#"{"metadata":{"name":"d","managedFields":[}}"#;
    assert!(serde_json::from_str::<Lean<Deployment>>(text).is_err());
    let text = r#"{"metadata":{"name":7}}"#;
    assert!(serde_json::from_str::<Lean<Deployment>>(text).is_err());
}

#[test]
fn lean_then_slim_is_whole_then_slim_for_every_kind() {
    let yaml = include_str!("../../../config/samples/xagent-everything.yaml");
    let mut xagent = crate::render::parse_documents(yaml).expect("the sample is valid").remove(0);
    xagent.metadata.uid = Some("owner-1".into());
    xagent.spec.network_policy.enabled = true;
    xagent.spec.monitoring.dashboard.enabled = true;
    let mut kinds = std::collections::BTreeSet::new();
    for child in crate::builders::build(&xagent) {
        let mut object = serde_json::to_value(&child).expect("serializes");
        object["metadata"]["managedFields"] = managed_fields();
        object["metadata"]["annotations"]["someone.else/note"] = "dropped by slimming".into();
        object["status"] = status_of(child.kind());
        let (lean, whole) = stores::slim_both_ways(&child, &serde_json::to_vec(&object).expect("serializes"));
        assert_eq!(lean, whole, "{}", child.reference());
        kinds.insert(child.kind());
    }
    assert!(kinds.len() >= 11, "the sample has most kinds: {kinds:?}");
}

/// A status as the server would report it, for the kinds that have one.
fn status_of(kind: ChildKind) -> Value {
    match kind {
        ChildKind::Deployment => json!({"replicas": 2, "readyReplicas": 1, "updatedReplicas": 2,
            "observedGeneration": 1, "conditions": [
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"},
                {"type": "Available", "status": "True"}]}),
        ChildKind::StatefulSet => json!({"replicas": 1, "readyReplicas": 1, "currentRevision": "r1",
            "observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}),
        ChildKind::Hpa => json!({"currentReplicas": 2, "desiredReplicas": 2}),
        ChildKind::Pdb => {
            json!({"currentHealthy": 1, "desiredHealthy": 1, "disruptionsAllowed": 0, "expectedPods": 1})
        }
        ChildKind::Service => json!({"loadBalancer": {}}),
        _ => Value::Null,
    }
}

#[test]
fn the_lean_form_asks_for_what_its_kind_asks_for() {
    use kube::core::PartialObjectMeta;
    assert!(!Lean::<Deployment>::metadata_api());
    assert!(Lean::<PartialObjectMeta<Deployment>>::metadata_api());
    assert_eq!(Lean::<Deployment>::url_path(&(), Some("team")), Deployment::url_path(&(), Some("team")));
}
