//! Tests of the HorizontalPodAutoscalers and PodDisruptionBudgets.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::json;

use super::{deployment, find, kinds_and_names, match_labels, minimal, platform, xagent};
use crate::builders::{Child, ChildKind, build};

fn hpa<'a>(children: &'a [Child], name: &str) -> &'a HorizontalPodAutoscaler {
    match find(children, ChildKind::Hpa, name) {
        Some(Child::Hpa(h)) => h,
        _ => panic!("no HorizontalPodAutoscaler {name}"),
    }
}

fn pdb<'a>(children: &'a [Child], name: &str) -> &'a PodDisruptionBudget {
    match find(children, ChildKind::Pdb, name) {
        Some(Child::Pdb(p)) => p,
        _ => panic!("no PodDisruptionBudget {name}"),
    }
}

/// `(resource, type, averageUtilization)` of each HPA metric.
fn hpa_metrics(h: &HorizontalPodAutoscaler) -> Vec<(String, String, Option<i32>)> {
    h.spec
        .as_ref()
        .unwrap()
        .metrics
        .iter()
        .flatten()
        .map(|m| {
            assert_eq!(m.type_, "Resource");
            let r = m.resource.as_ref().expect("Resource metric");
            (r.name.clone(), r.target.type_.clone(), r.target.average_utilization)
        })
        .collect()
}

#[test]
fn default_hpas_scale_api_2_to_10_and_workers_2_to_5_on_cpu_and_memory() {
    let children = build(&minimal());
    for (name, min, max) in [("demo-api", 2, 10), ("demo-worker", 2, 5)] {
        let spec = hpa(&children, name).spec.as_ref().unwrap();
        assert_eq!(spec.min_replicas, Some(min), "{name}");
        assert_eq!(spec.max_replicas, max, "{name}");
        assert_eq!(spec.scale_target_ref.api_version.as_deref(), Some("apps/v1"));
        assert_eq!(spec.scale_target_ref.kind, "Deployment");
        assert_eq!(spec.scale_target_ref.name, name, "the HPA scales its own component's Deployment");
        assert_eq!(
            hpa_metrics(hpa(&children, name)),
            vec![
                ("cpu".to_string(), "Utilization".to_string(), Some(70)),
                ("memory".to_string(), "Utilization".to_string(), Some(80)),
            ],
            "{name}"
        );
    }
    assert!(find(&children, ChildKind::Hpa, "demo-websocket").is_none(), "websocket is not autoscaled");
}

#[test]
fn hpa_targets_follow_the_spec_and_a_zero_target_drops_its_metric() {
    // Both targets 0 is rejected by the schema; the builder still copes with it.
    let children = build(&xagent(json!({
        "api": {"autoscaling": {"minReplicas": 3, "maxReplicas": 7, "targetCpuUtilization": 55,
                                "targetMemoryUtilization": 0}},
        "worker": {"autoscaling": {"targetCpuUtilization": 0, "targetMemoryUtilization": 0}},
    })));
    let api = hpa(&children, "demo-api");
    assert_eq!(api.spec.as_ref().unwrap().min_replicas, Some(3));
    assert_eq!(api.spec.as_ref().unwrap().max_replicas, 7);
    assert_eq!(hpa_metrics(api), vec![("cpu".to_string(), "Utilization".to_string(), Some(55))]);
    let worker = hpa(&children, "demo-worker");
    assert_eq!(worker.spec.as_ref().unwrap().metrics, None, "no empty metrics list is sent");
}

#[test]
fn every_component_gets_a_pdb_allowing_one_unavailable_pod() {
    let children = build(&minimal());
    for component in ["api", "websocket", "worker"] {
        let spec = pdb(&children, &format!("demo-{component}")).spec.as_ref().unwrap();
        assert_eq!(spec.max_unavailable, Some(IntOrString::Int(1)), "{component}");
        assert_eq!(spec.min_available, None, "{component}: only one of the two may be set");
        assert_eq!(spec.selector.as_ref(), Some(&match_labels(component)), "{component}");
    }
}

#[test]
fn pdb_max_unavailable_follows_the_spec() {
    let children = build(&xagent(json!({"worker": {"podDisruptionBudget": {"maxUnavailable": 3}}})));
    assert_eq!(
        pdb(&children, "demo-worker").spec.as_ref().unwrap().max_unavailable,
        Some(IntOrString::Int(3))
    );
    assert_eq!(pdb(&children, "demo-api").spec.as_ref().unwrap().max_unavailable, Some(IntOrString::Int(1)));
}

#[test]
fn disabling_autoscaling_sets_replicas_and_drops_the_hpa() {
    let children = build(&xagent(json!({"api": {"autoscaling": {"enabled": false}, "replicas": 4}})));
    assert_eq!(deployment(&children, "demo-api").spec.as_ref().unwrap().replicas, Some(4));
    assert!(find(&children, ChildKind::Hpa, "demo-api").is_none());
    assert!(find(&children, ChildKind::Hpa, "demo-worker").is_some(), "other components keep theirs");
    assert_eq!(deployment(&children, "demo-worker").spec.as_ref().unwrap().replicas, None);
}

#[test]
fn enabling_websocket_autoscaling_adds_its_hpa_and_unsets_replicas() {
    let children = build(&xagent(json!({"websocket": {"autoscaling": {"enabled": true, "maxReplicas": 6}}})));
    assert_eq!(deployment(&children, "demo-websocket").spec.as_ref().unwrap().replicas, None);
    let spec = hpa(&children, "demo-websocket").spec.as_ref().unwrap();
    assert_eq!((spec.min_replicas, spec.max_replicas), (Some(2), 6));
    let names = kinds_and_names(&children);
    let at = names.iter().position(|(k, n)| *k == "Deployment" && n == "demo-websocket").unwrap();
    assert_eq!(
        names[at + 1],
        ("HorizontalPodAutoscaler", "demo-websocket".to_string()),
        "HPA follows its Deployment"
    );
}

#[test]
fn disabling_the_pdb_drops_only_that_components_pdb() {
    let children = build(&xagent(json!({"api": {"podDisruptionBudget": {"enabled": false}}})));
    assert!(find(&children, ChildKind::Pdb, "demo-api").is_none());
    assert!(find(&children, ChildKind::Pdb, "demo-websocket").is_some());
    assert!(find(&children, ChildKind::Pdb, "demo-worker").is_some());
    assert_eq!(platform(children).len(), 10);
}
