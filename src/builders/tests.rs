//! Unit tests of the pure builders: an XAgent document in, the exact children out.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Container, EnvVar, PodTemplateSpec, Probe, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

use super::{Child, ChildKind, Component, build};
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

fn full_labels(component: &str) -> BTreeMap<String, String> {
    let mut labels = selector_labels(component);
    labels.insert("app.kubernetes.io/part-of".into(), "x-agent".into());
    labels.insert("app.kubernetes.io/managed-by".into(), "xagent-operator".into());
    labels
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

// ---------------------------------------------------------------------------
// Which children, in which order
// ---------------------------------------------------------------------------

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
fn chromadb_adds_a_headless_service_and_a_statefulset_last() {
    let children = platform(build(&with_chromadb()));
    let names = kinds_and_names(&children);
    assert_eq!(names.len(), 13);
    assert_eq!(
        names[11..],
        [("Service", "demo-chromadb".to_string()), ("StatefulSet", "demo-chromadb".to_string())]
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
fn chromadb_claim_template_uses_the_configured_size_and_class() {
    let configured = xagent(json!({
        "chromadb": {"enabled": true, "storage": {"size": "20480Mi", "storageClassName": "fast-ssd"}}
    }));
    let children = build(&configured);
    let sts = statefulset(&children, "demo-chromadb").spec.as_ref().unwrap();
    let claims = sts.volume_claim_templates.as_ref().expect("claim templates");
    assert_eq!(claims.len(), 1);
    let claim = &claims[0];
    assert_eq!(claim.metadata.name.as_deref(), Some("data"));
    let spec = claim.spec.as_ref().unwrap();
    assert_eq!(spec.access_modes.as_deref(), Some(&["ReadWriteOnce".to_string()][..]));
    assert_eq!(spec.storage_class_name.as_deref(), Some("fast-ssd"));
    let requests = spec.resources.as_ref().unwrap().requests.as_ref().unwrap();
    assert_eq!(requests["storage"].0, "20Gi", "size is canonicalised");

    // Defaults: 10Gi from the cluster's default StorageClass.
    let children = build(&with_chromadb());
    let spec = statefulset(&children, "demo-chromadb")
        .spec
        .as_ref()
        .unwrap()
        .volume_claim_templates
        .as_ref()
        .unwrap()[0]
        .spec
        .clone()
        .unwrap();
    assert_eq!(spec.storage_class_name, None);
    assert_eq!(spec.resources.unwrap().requests.unwrap()["storage"].0, "10Gi");
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

// ---------------------------------------------------------------------------
// Defaults: autoscaling, disruption budgets, services, image, resources
// ---------------------------------------------------------------------------

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
fn default_services_expose_the_component_ports_by_name() {
    let children = build(&minimal());
    assert_eq!(
        service_ports(service(&children, "demo-api")),
        vec![port("http", 8000), port("metrics", 9090)]
    );
    assert_eq!(
        service_ports(service(&children, "demo-websocket")),
        vec![port("http", 8001), port("metrics", 9090)]
    );
    assert_eq!(service_ports(service(&children, "demo-worker")), vec![port("metrics", 9090)], "metrics only");
    for component in ["api", "websocket", "worker"] {
        let spec = service(&children, &format!("demo-{component}")).spec.as_ref().unwrap();
        assert_eq!(spec.type_.as_deref(), Some("ClusterIP"), "{component}");
        assert_eq!(spec.selector.as_ref(), Some(&selector_labels(component)), "{component}");
    }
}

#[test]
fn service_target_ports_name_ports_the_selected_containers_declare() {
    let children = build(&with_chromadb());
    for child in &children {
        let Child::Service(svc) = child else { continue };
        let workload = containers(&children)
            .into_iter()
            .find(|(name, _)| *name == child.name())
            .map(|(_, c)| c)
            .unwrap_or_else(|| panic!("{} selects no workload", child.reference()));
        let declared: Vec<&str> = workload.ports.iter().flatten().filter_map(|p| p.name.as_deref()).collect();
        for (name, number, target, _) in service_ports(svc) {
            let IntOrString::String(target) = target else { panic!("numeric targetPort") };
            assert!(
                declared.contains(&target.as_str()),
                "{}: targetPort {target} not declared",
                child.name()
            );
            let container_port = workload.ports.iter().flatten().find(|p| p.name.as_deref() == Some(&target));
            assert_eq!(container_port.map(|p| p.container_port), Some(number), "{}: {name}", child.name());
        }
    }
}

#[test]
fn only_the_websocket_service_pins_clients_to_a_pod() {
    let children = build(&minimal());
    let ws = service(&children, "demo-websocket").spec.as_ref().unwrap();
    assert_eq!(ws.session_affinity.as_deref(), Some("ClientIP"));
    let timeout = ws
        .session_affinity_config
        .as_ref()
        .and_then(|c| c.client_ip.as_ref())
        .and_then(|c| c.timeout_seconds);
    assert_eq!(timeout, Some(10800));
    for name in ["demo-api", "demo-worker"] {
        let spec = service(&children, name).spec.as_ref().unwrap();
        assert_eq!(spec.session_affinity, None, "{name}");
        assert_eq!(spec.session_affinity_config, None, "{name}");
    }
}

#[test]
fn websocket_defaults_to_two_fixed_replicas() {
    let children = build(&minimal());
    assert_eq!(deployment(&children, "demo-websocket").spec.as_ref().unwrap().replicas, Some(2));
}

#[test]
fn containers_run_the_default_image_and_ports() {
    let children = build(&minimal());
    for (component, http) in [("api", 8000), ("websocket", 8001), ("worker", 8000)] {
        let c = app_container(deployment(&children, &format!("demo-{component}")));
        assert_eq!(c.name, component);
        assert_eq!(c.image.as_deref(), Some("xagent/x-agent:latest"));
        assert_eq!(c.image_pull_policy.as_deref(), Some("IfNotPresent"));
        let ports: Vec<(Option<&str>, i32)> =
            c.ports.iter().flatten().map(|p| (p.name.as_deref(), p.container_port)).collect();
        assert_eq!(ports, vec![(Some("http"), http), (Some("metrics"), 9090)], "{component}");
    }
}

#[test]
fn image_and_ports_follow_the_spec() {
    let children = build(&xagent(json!({
        "image": {"repository": "registry.example/xa", "tag": "1.2.3", "pullPolicy": "Always"},
        "imagePullSecrets": ["regcred"],
        "api": {"port": 9000, "metricsPort": 9100},
    })));
    for (name, c) in containers(&children) {
        assert_eq!(c.image.as_deref(), Some("registry.example/xa:1.2.3"), "{name}");
        assert_eq!(c.image_pull_policy.as_deref(), Some("Always"), "{name}");
    }
    for (name, template) in pod_templates(&children) {
        let secrets = template.spec.as_ref().unwrap().image_pull_secrets.as_ref();
        let secrets: Vec<&str> = secrets.into_iter().flatten().map(|s| s.name.as_str()).collect();
        assert_eq!(secrets, ["regcred"], "{name}");
    }
    assert_eq!(
        service_ports(service(&children, "demo-api")),
        vec![port("http", 9000), port("metrics", 9100)]
    );
    let api = app_container(deployment(&children, "demo-api"));
    let ports: Vec<i32> = api.ports.iter().flatten().map(|p| p.container_port).collect();
    assert_eq!(ports, [9000, 9100]);
}

#[test]
fn default_resources_on_every_container() {
    for (name, c) in containers(&build(&with_chromadb())) {
        assert_eq!(amounts(c, false), ("250m".to_string(), "512Mi".to_string()), "{name} requests");
        assert_eq!(amounts(c, true), ("1".to_string(), "1Gi".to_string()), "{name} limits");
    }
}

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

// ---------------------------------------------------------------------------
// Replicas versus HPA, and optional children
// ---------------------------------------------------------------------------

#[test]
fn an_autoscaled_deployment_leaves_replicas_to_its_hpa() {
    let specs = [
        json!({}),
        json!({"api": {"autoscaling": {"enabled": false}, "replicas": 4}}),
        json!({"websocket": {"autoscaling": {"enabled": true}}}),
        json!({"worker": {"autoscaling": {"enabled": false}, "replicas": 0}}),
    ];
    for spec in specs {
        let x = xagent(spec.clone());
        let children = build(&x);
        for (component, cs) in [
            ("api", x.spec.api.component()),
            ("websocket", x.spec.websocket.component()),
            ("worker", x.spec.worker.component()),
        ] {
            let name = format!("demo-{component}");
            let replicas = deployment(&children, &name).spec.as_ref().unwrap().replicas;
            let has_hpa = find(&children, ChildKind::Hpa, &name).is_some();
            assert_eq!(has_hpa, cs.autoscaling.enabled, "{spec}: {component} HPA");
            if cs.autoscaling.enabled {
                assert_eq!(replicas, None, "{spec}: {component} replicas must be left to the HPA");
            } else {
                assert_eq!(replicas, Some(cs.replicas), "{spec}: {component}");
            }
        }
    }
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

// ---------------------------------------------------------------------------
// Metadata: names, labels, ownership
// ---------------------------------------------------------------------------

#[test]
fn every_child_and_pod_template_carries_the_standard_labels() {
    let children = build(&with_chromadb());
    for child in &children {
        let component = expected_component(child, "demo");
        assert_eq!(child.meta().labels.as_ref(), Some(&full_labels(&component)), "{}", child.reference());
        assert_eq!(child.meta().namespace.as_deref(), Some("ns"), "{}", child.reference());
        assert_eq!(child.component().as_str(), component, "{}", child.reference());
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
fn child_component_is_read_back_from_the_label() {
    let children = build(&with_chromadb());
    let components: Vec<Component> = platform(children.clone()).iter().map(Child::component).collect();
    use Component::*;
    assert_eq!(
        components,
        [
            Api, Api, Api, Api, Websocket, Websocket, Websocket, Worker, Worker, Worker, Worker, Chromadb,
            Chromadb
        ]
    );
    for child in children.iter().filter(|c| c.kind().is_monitoring()) {
        assert_eq!(child.component(), Monitoring, "{}", child.reference());
    }
}

#[test]
fn workload_selectors_match_their_pod_template_labels() {
    let children = build(&with_chromadb());
    for child in &children {
        let (selector, template) = match child {
            Child::Deployment(d) => (&d.spec.as_ref().unwrap().selector, &d.spec.as_ref().unwrap().template),
            Child::StatefulSet(s) => (&s.spec.as_ref().unwrap().selector, &s.spec.as_ref().unwrap().template),
            _ => continue,
        };
        let component = child.component().as_str();
        assert_eq!(*selector, match_labels(component), "{}", child.reference());
        let pod_labels = template.metadata.as_ref().unwrap().labels.as_ref().unwrap();
        for (k, v) in selector.match_labels.as_ref().unwrap() {
            assert_eq!(
                pod_labels.get(k),
                Some(v),
                "{}: pod template must match its selector",
                child.reference()
            );
        }
    }
}

#[test]
fn every_child_is_controlled_by_the_xagent() {
    let children = build(&with_chromadb());
    assert_eq!(platform(children.clone()).len(), 13);
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
    assert_eq!(platform(children.clone()).len(), 13);
    for child in &children {
        assert_eq!(child.meta().owner_references, None, "{}", child.reference());
        assert_eq!(child.meta().labels.as_ref(), Some(&full_labels(child.component().as_str())));
    }
}

#[test]
fn child_names_follow_the_xagent_name() {
    let mut other = minimal();
    other.metadata.name = Some("prod-agents".into());
    for child in build(&other) {
        let component = expected_component(&child, "prod-agents");
        assert_eq!(child.component().as_str(), component, "{}", child.reference());
        assert_eq!(child.meta().labels.as_ref().unwrap()["app.kubernetes.io/instance"], "prod-agents");
    }
}

// ---------------------------------------------------------------------------
// Pod hardening, probes, scheduling
// ---------------------------------------------------------------------------

#[test]
fn every_pod_runs_the_restricted_profile() {
    let children = build(&with_chromadb());
    let templates = pod_templates(&children);
    assert_eq!(templates.len(), 4);
    for (name, template) in templates {
        let spec = template.spec.as_ref().unwrap();
        let sc = spec.security_context.as_ref().unwrap_or_else(|| panic!("{name}: no pod securityContext"));
        assert_eq!(sc.run_as_non_root, Some(true), "{name}");
        assert!(sc.run_as_user.is_some_and(|u| u > 0), "{name}: numeric non-root user");
        let seccomp = sc.seccomp_profile.as_ref().map(|p| p.type_.as_str());
        assert_eq!(seccomp, Some("RuntimeDefault"), "{name}");
        assert_eq!(spec.host_network, None, "{name}");
        assert_eq!(spec.host_pid, None, "{name}");
        assert_eq!(spec.automount_service_account_token, Some(false), "{name}");
    }
}

#[test]
fn every_container_runs_the_restricted_profile() {
    let children = build(&with_chromadb());
    let all = containers(&children);
    assert_eq!(all.len(), 4);
    for (name, c) in all {
        let sc = c.security_context.as_ref().unwrap_or_else(|| panic!("{name}: no securityContext"));
        assert_eq!(sc.run_as_non_root, Some(true), "{name}");
        assert_eq!(sc.read_only_root_filesystem, Some(true), "{name}");
        assert_eq!(sc.allow_privilege_escalation, Some(false), "{name}");
        assert_ne!(sc.privileged, Some(true), "{name}");
        let caps = sc.capabilities.as_ref().expect("capabilities");
        assert_eq!(caps.drop.as_deref(), Some(&["ALL".to_string()][..]), "{name}");
        assert!(caps.add.as_ref().is_none_or(Vec::is_empty), "{name}");
        let seccomp = sc.seccomp_profile.as_ref().map(|p| p.type_.as_str());
        assert_eq!(seccomp, Some("RuntimeDefault"), "{name}");
    }
}

#[test]
fn every_mount_is_backed_by_a_volume_so_a_read_only_root_still_has_tmp() {
    let children = build(&with_chromadb());
    for child in &children {
        let (template, claims) = match child {
            Child::Deployment(d) => (&d.spec.as_ref().unwrap().template, vec![]),
            Child::StatefulSet(s) => {
                let spec = s.spec.as_ref().unwrap();
                let claims = spec.volume_claim_templates.iter().flatten();
                (&spec.template, claims.filter_map(|c| c.metadata.name.clone()).collect())
            }
            _ => continue,
        };
        let spec = template.spec.as_ref().unwrap();
        let volumes: Vec<String> =
            spec.volumes.iter().flatten().map(|v| v.name.clone()).chain(claims).collect();
        for c in &spec.containers {
            let mounts = c.volume_mounts.as_ref().expect("mounts");
            assert!(mounts.iter().any(|m| m.mount_path == "/tmp"), "{}: writable /tmp", child.reference());
            for m in mounts {
                assert!(volumes.contains(&m.name), "{}: mount {} has no volume", child.reference(), m.name);
            }
        }
    }
}

#[test]
fn every_container_has_probes_and_resources() {
    fn http_get(p: &Option<Probe>, what: &str, name: &str) -> (String, IntOrString) {
        let probe = p.as_ref().unwrap_or_else(|| panic!("{name}: no {what} probe"));
        let get = probe.http_get.as_ref().unwrap_or_else(|| panic!("{name}: {what} probe is not HTTP"));
        (get.path.clone().unwrap_or_default(), get.port.clone())
    }
    let children = build(&with_chromadb());
    for (name, c) in containers(&children) {
        let liveness = http_get(&c.liveness_probe, "liveness", &name);
        let readiness = http_get(&c.readiness_probe, "readiness", &name);
        let startup = http_get(&c.startup_probe, "startup", &name);
        let expected = if name == "demo-chromadb" {
            ("/api/v1/heartbeat", "/api/v1/heartbeat")
        } else {
            ("/health", "/ready")
        };
        assert_eq!(liveness.0, expected.0, "{name}");
        assert_eq!(readiness.0, expected.1, "{name}");
        assert_eq!(startup.0, expected.0, "{name}");
        let declared: Vec<&str> = c.ports.iter().flatten().filter_map(|p| p.name.as_deref()).collect();
        for (_, port) in [liveness, readiness, startup] {
            let IntOrString::String(port) = port else { panic!("{name}: numeric probe port") };
            assert!(declared.contains(&port.as_str()), "{name}: probe port {port} not declared");
        }
        let resources = c.resources.as_ref().unwrap_or_else(|| panic!("{name}: no resources"));
        for map in [&resources.requests, &resources.limits] {
            let map = map.as_ref().unwrap_or_else(|| panic!("{name}: requests and limits"));
            assert!(map.contains_key("cpu") && map.contains_key("memory"), "{name}");
        }
    }
}

#[test]
fn startup_probe_gives_slow_starts_more_time_than_liveness() {
    for (name, c) in containers(&build(&with_chromadb())) {
        let budget = |p: &Option<Probe>| {
            let p = p.as_ref().unwrap();
            p.period_seconds.unwrap_or(10) * p.failure_threshold.unwrap_or(3)
        };
        assert!(budget(&c.startup_probe) > budget(&c.liveness_probe), "{name}");
    }
}

#[test]
fn pods_prefer_to_spread_across_nodes() {
    let children = build(&with_chromadb());
    for (name, template) in pod_templates(&children) {
        let component = name.strip_prefix("demo-").unwrap();
        let affinity = template.spec.as_ref().unwrap().affinity.as_ref().expect("affinity");
        let anti = affinity.pod_anti_affinity.as_ref().expect("pod anti-affinity");
        assert_eq!(anti.required_during_scheduling_ignored_during_execution, None, "{name}: only preferred");
        let terms = anti.preferred_during_scheduling_ignored_during_execution.as_ref().expect("preferred");
        assert_eq!(terms.len(), 1, "{name}");
        let term = &terms[0].pod_affinity_term;
        assert_eq!(term.topology_key, "kubernetes.io/hostname", "{name}");
        assert_eq!(term.label_selector.as_ref(), Some(&match_labels(component)), "{name}: its own pods");
        assert!((1..=100).contains(&terms[0].weight), "{name}");
    }
}

#[test]
fn scheduling_constraints_reach_every_pod() {
    let children = build(&xagent(json!({
        "chromadb": {"enabled": true},
        "nodeSelector": {"pool": "agents"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "agents", "effect": "NoSchedule"}],
    })));
    for (name, template) in pod_templates(&children) {
        let spec = template.spec.as_ref().unwrap();
        let selector = spec.node_selector.as_ref().unwrap_or_else(|| panic!("{name}: node selector"));
        assert_eq!(selector.get("pool").map(String::as_str), Some("agents"), "{name}");
        let tolerations = spec.tolerations.as_ref().unwrap_or_else(|| panic!("{name}: tolerations"));
        assert_eq!(tolerations.len(), 1, "{name}");
        assert_eq!(tolerations[0].key.as_deref(), Some("dedicated"), "{name}");
    }
    for (name, template) in pod_templates(&build(&minimal())) {
        let spec = template.spec.as_ref().unwrap();
        assert_eq!(spec.node_selector, None, "{name}: no empty map is sent");
        assert_eq!(spec.tolerations, None, "{name}: no empty list is sent");
        assert_eq!(spec.image_pull_secrets, None, "{name}: no empty list is sent");
    }
}

// ---------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------

fn with_dependencies() -> XAgent {
    xagent(json!({
        "redis": {"host": "redis.data", "port": 6380, "database": 3, "tls": true,
                  "passwordSecretRef": {"name": "redis-auth", "key": "password"}},
        "postgres": {"host": "pg.data", "database": "agents", "user": "xa", "sslMode": "require",
                     "passwordSecretRef": {"name": "pg-auth", "key": "pw"}},
        "chromadb": {"enabled": true},
    }))
}

#[test]
fn app_containers_get_their_component_and_connection_settings() {
    let children = build(&with_dependencies());
    for component in ["api", "websocket", "worker"] {
        let c = app_container(deployment(&children, &format!("demo-{component}")));
        let expected = [
            ("XAGENT_COMPONENT", component),
            ("REDIS_HOST", "redis.data"),
            ("REDIS_PORT", "6380"),
            ("REDIS_DB", "3"),
            ("REDIS_TLS", "true"),
            ("POSTGRES_HOST", "pg.data"),
            ("POSTGRES_PORT", "5432"),
            ("POSTGRES_DB", "agents"),
            ("POSTGRES_USER", "xa"),
            ("POSTGRES_SSLMODE", "require"),
        ];
        for (name, value) in expected {
            assert_eq!(env_value(c, name), Some(value), "{component}: {name}");
        }
    }
}

#[test]
fn passwords_come_only_from_secret_references() {
    let children = build(&with_dependencies());
    for component in ["api", "websocket", "worker"] {
        let c = app_container(deployment(&children, &format!("demo-{component}")));
        for (var, secret, key) in
            [("REDIS_PASSWORD", "redis-auth", "password"), ("POSTGRES_PASSWORD", "pg-auth", "pw")]
        {
            let vars = env_named(c, var);
            assert_eq!(vars.len(), 1, "{component}: {var}");
            assert_eq!(vars[0].value, None, "{component}: {var} must not be a literal");
            let selector = vars[0].value_from.as_ref().and_then(|v| v.secret_key_ref.as_ref());
            let selector = selector.unwrap_or_else(|| panic!("{component}: {var} is not a secretKeyRef"));
            assert_eq!((selector.name.as_str(), selector.key.as_str()), (secret, key), "{component}: {var}");
        }
    }
    // No container anywhere carries a password as a literal value.
    for (name, c) in containers(&children) {
        for e in env(c) {
            if e.name.contains("PASSWORD") {
                assert_eq!(e.value, None, "{name}: {} is a literal", e.name);
            }
        }
    }
}

#[test]
fn optional_dependencies_add_only_what_is_configured() {
    // Neither dependency: only the component variable.
    let children = build(&minimal());
    for component in ["api", "websocket", "worker"] {
        let c = app_container(deployment(&children, &format!("demo-{component}")));
        let names: Vec<&str> = env(c).iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["XAGENT_COMPONENT"], "{component}");
        assert_eq!(env_value(c, "XAGENT_COMPONENT"), Some(component));
        assert_eq!(c.env_from, None, "{component}: no empty envFrom is sent");
    }
    // Redis without AUTH, Postgres defaults.
    let children = build(&xagent(json!({"redis": {"host": "r"}, "postgres": {"host": "p"}})));
    let c = app_container(deployment(&children, "demo-api"));
    assert!(env_named(c, "REDIS_PASSWORD").is_empty());
    assert!(env_named(c, "POSTGRES_PASSWORD").is_empty());
    assert_eq!(env_value(c, "REDIS_PORT"), Some("6379"));
    assert_eq!(env_value(c, "REDIS_DB"), Some("0"));
    assert_eq!(env_value(c, "REDIS_TLS"), Some("false"));
    assert_eq!(env_value(c, "POSTGRES_PORT"), Some("5432"));
    assert_eq!(env_value(c, "POSTGRES_DB"), Some("xagent"));
    assert_eq!(env_value(c, "POSTGRES_USER"), Some("xagent"));
    assert_eq!(env_value(c, "POSTGRES_SSLMODE"), Some("prefer"));
}

#[test]
fn chromadb_does_not_receive_the_platform_environment() {
    let children = build(&with_dependencies());
    let sts = statefulset(&children, "demo-chromadb").spec.as_ref().unwrap();
    let c = &sts.template.spec.as_ref().unwrap().containers[0];
    for e in env(c) {
        assert!(!e.name.starts_with("REDIS_") && !e.name.starts_with("POSTGRES_"), "chromadb got {}", e.name);
    }
}

#[test]
fn component_env_overrides_shared_env_of_the_same_name() {
    let children = build(&xagent(json!({
        "redis": {"host": "redis.data"},
        "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "SHARED", "value": "s"},
                {"name": "REDIS_HOST", "value": "override.local"}],
        "api": {"env": [{"name": "LOG_LEVEL", "value": "debug"}, {"name": "API_ONLY", "value": "1"}]},
        "envFrom": [{"configMapRef": {"name": "extra"}}],
    })));
    let api = app_container(deployment(&children, "demo-api"));
    assert_eq!(env_value(api, "LOG_LEVEL"), Some("debug"), "component wins over spec.env");
    assert_eq!(env_value(api, "SHARED"), Some("s"));
    assert_eq!(env_value(api, "API_ONLY"), Some("1"));
    assert_eq!(
        env_value(api, "REDIS_HOST"),
        Some("override.local"),
        "user variables win over generated ones"
    );
    for component in ["websocket", "worker"] {
        let c = app_container(deployment(&children, &format!("demo-{component}")));
        assert_eq!(env_value(c, "LOG_LEVEL"), Some("info"), "{component}");
        assert_eq!(env_value(c, "SHARED"), Some("s"), "{component}");
        assert!(env_named(c, "API_ONLY").is_empty(), "{component}: another component's env leaked");
        let env_from = c.env_from.as_ref().unwrap_or_else(|| panic!("{component}: envFrom"));
        assert_eq!(env_from[0].config_map_ref.as_ref().map(|r| r.name.as_str()), Some("extra"));
    }
    // Every name appears once, whatever overrode what.
    for (name, c) in containers(&children) {
        let mut names: Vec<&str> = env(c).iter().map(|e| e.name.as_str()).collect();
        let total = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), total, "{name}: duplicate env names");
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

// ------------------------------------------------------------ exposure

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
