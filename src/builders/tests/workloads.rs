//! Tests of the Deployments and the ChromaDB StatefulSet: image, ports, replicas, selectors, claims.

use serde_json::json;

use super::{
    app_container, containers, deployment, find, match_labels, minimal, pod_templates, port, service,
    service_ports, statefulset, with_chromadb, xagent,
};
use crate::builders::{Child, ChildKind, Desired, build, desired};

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
fn workload_selectors_match_their_pod_template_labels() {
    for Desired { component, child } in &desired(&with_chromadb()) {
        let (selector, template) = match child {
            Child::Deployment(d) => (&d.spec.as_ref().unwrap().selector, &d.spec.as_ref().unwrap().template),
            Child::StatefulSet(s) => (&s.spec.as_ref().unwrap().selector, &s.spec.as_ref().unwrap().template),
            _ => continue,
        };
        assert_eq!(*selector, match_labels(component.as_str()), "{}", child.reference());
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
