//! Tests of the Services: ports, selectors and session affinity.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{containers, minimal, port, selector_labels, service, service_ports, with_chromadb};
use crate::builders::{Child, build};

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
