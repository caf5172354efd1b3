//! Tests that resource quantities reach the built children in canonical form.

use serde_json::json;

use super::{amounts, app_container, deployment, statefulset, xagent};
use crate::builders::build;

#[test]
fn quantities_reach_the_output_in_canonical_form() {
    let children = build(&xagent(json!({
        "api": {"resources": {"requests": {"cpu": "500m", "memory": "1024Mi"},
                              "limits": {"cpu": "1000m", "memory": "2048Mi"}}},
        "chromadb": {"enabled": true, "storage": {"size": "1024Gi"},
                     "resources": {"requests": {"cpu": "2000m", "memory": "1048576Ki"},
                                   "limits": {"cpu": "4", "memory": "4096Mi"}}},
    })));
    let api = app_container(deployment(&children, "demo-api"));
    assert_eq!(amounts(api, false), ("500m".to_string(), "1Gi".to_string()));
    assert_eq!(amounts(api, true), ("1".to_string(), "2Gi".to_string()));
    let chroma = &statefulset(&children, "demo-chromadb").spec.as_ref().unwrap();
    let container = &chroma.template.spec.as_ref().unwrap().containers[0];
    assert_eq!(amounts(container, false), ("2".to_string(), "1Gi".to_string()));
    assert_eq!(amounts(container, true), ("4".to_string(), "4Gi".to_string()));
    let claim = chroma.volume_claim_templates.as_ref().unwrap()[0].spec.as_ref().unwrap();
    assert_eq!(claim.resources.as_ref().unwrap().requests.as_ref().unwrap()["storage"].0, "1Ti");
    // Other components keep their own (default) amounts.
    let worker = app_container(deployment(&children, "demo-worker"));
    assert_eq!(amounts(worker, true), ("1".to_string(), "1Gi".to_string()));
}

/// The schema accepts decimal CPU and memory ("0.5", "1.5Gi"), and the API server
/// stores them as "500m" and "1536Mi". Emitting them verbatim makes the stored
/// child differ from the desired one forever, so every reconcile re-applies it.
#[test]
fn decimal_quantities_allowed_by_the_schema_are_canonicalised() {
    let document = json!({
        "apiVersion": "xagent.io/v1alpha1",
        "kind": "XAgent",
        "metadata": {"name": "demo", "namespace": "ns", "uid": "u-1"},
        "spec": {"api": {"resources": {"requests": {"cpu": "0.5", "memory": "0.5Gi"},
                                       "limits": {"cpu": "1.5", "memory": "1.5Gi"}}}},
    });
    let valid =
        crate::validate::parse_xagent(document, "test").expect("the schema accepts decimal quantities");
    let children = build(&valid);
    let api = app_container(deployment(&children, "demo-api"));
    assert_eq!(amounts(api, false), ("500m".to_string(), "512Mi".to_string()));
    assert_eq!(amounts(api, true), ("1500m".to_string(), "1536Mi".to_string()));
}
