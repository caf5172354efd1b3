//! Autoscaling (autoscaling/v2) and disruption budgets (policy/v1).

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricIdentifier,
    MetricSpec, MetricTarget, PodsMetricSource, ResourceMetricSource,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{Component, object_meta, selector};
use super::quantity::canonical;
use crate::crd::{ComponentSpec, PodsMetric, XAgent};

/// HPA for a component's Deployment, scaling on the configured utilization
/// targets and custom metrics, with the configured behavior.
pub fn hpa(xagent: &XAgent, component: Component, spec: &ComponentSpec) -> HorizontalPodAutoscaler {
    let scaling = &spec.autoscaling;
    let metrics: Vec<MetricSpec> =
        [("cpu", scaling.target_cpu_utilization), ("memory", scaling.target_memory_utilization)]
            .into_iter()
            .filter(|(_, target)| *target > 0)
            .map(|(name, target)| utilization(name, target))
            .chain(scaling.custom_metrics.iter().map(pods_metric))
            .collect();
    let name = component.child_name(xagent);
    HorizontalPodAutoscaler {
        metadata: object_meta(xagent, component, name.clone()),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name,
            },
            min_replicas: Some(scaling.min_replicas),
            max_replicas: scaling.max_replicas,
            metrics: (!metrics.is_empty()).then_some(metrics),
            behavior: scaling.behavior.as_deref().cloned(),
        }),
        ..HorizontalPodAutoscaler::default()
    }
}

fn utilization(resource: &str, percent: i32) -> MetricSpec {
    MetricSpec {
        type_: "Resource".into(),
        resource: Some(ResourceMetricSource {
            name: resource.into(),
            target: MetricTarget {
                type_: "Utilization".into(),
                average_utilization: Some(percent),
                ..MetricTarget::default()
            },
        }),
        ..MetricSpec::default()
    }
}

/// A Pods metric: the average of `metric.name` over the component's pods,
/// served by the custom metrics API, kept at `targetAverageValue`.
fn pods_metric(metric: &PodsMetric) -> MetricSpec {
    MetricSpec {
        type_: "Pods".into(),
        pods: Some(PodsMetricSource {
            metric: MetricIdentifier { name: metric.name.clone(), selector: None },
            target: MetricTarget {
                type_: "AverageValue".into(),
                average_value: Some(Quantity(canonical(&metric.target_average_value))),
                ..MetricTarget::default()
            },
        }),
        ..MetricSpec::default()
    }
}

/// PDB that lets drains take at most `max_unavailable` pods of the component at once.
pub fn pdb(xagent: &XAgent, component: Component, max_unavailable: i32) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: object_meta(xagent, component, component.child_name(xagent)),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(max_unavailable)),
            selector: Some(selector(xagent, component)),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}
