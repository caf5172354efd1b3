//! Tests of the pod templates: resources, hardening, probes, scheduling and environment.

use k8s_openapi::api::core::v1::Probe;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::json;

use super::{
    amounts, app_container, containers, deployment, env, env_named, env_value, match_labels, minimal,
    pod_templates, statefulset, with_chromadb, with_dependencies, xagent,
};
use crate::builders::{Child, build};

// ---------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------

#[test]
fn default_resources_on_every_container() {
    for (name, c) in containers(&build(&with_chromadb())) {
        assert_eq!(amounts(c, false), ("250m".to_string(), "512Mi".to_string()), "{name} requests");
        assert_eq!(amounts(c, true), ("1".to_string(), "1Gi".to_string()), "{name} limits");
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
fn pods_spread_across_zones_then_nodes_by_default_each_over_its_own_rollout() {
    let children = build(&with_chromadb());
    for (name, template) in pod_templates(&children) {
        let component = name.strip_prefix("demo-").unwrap();
        let spec = template.spec.as_ref().unwrap();
        assert_eq!(spec.affinity, None, "{name}: spread constraints replace anti-affinity");
        let spread = spec.topology_spread_constraints.as_deref().unwrap_or_default();
        if component == "chromadb" {
            assert!(spread.is_empty(), "one ChromaDB replica has nothing to spread");
            continue;
        }
        let keys: Vec<&str> = spread.iter().map(|c| c.topology_key.as_str()).collect();
        assert_eq!(keys, ["topology.kubernetes.io/zone", "kubernetes.io/hostname"], "{name}");
        for c in spread {
            assert_eq!((c.max_skew, c.when_unsatisfiable.as_str()), (1, "ScheduleAnyway"), "{name}");
            assert_eq!(c.label_selector.as_ref(), Some(&match_labels(component)), "{name}: its own pods");
            assert_eq!(c.match_label_keys.as_deref(), Some(&["pod-template-hash".to_string()][..]));
        }
    }
}

#[test]
fn spread_constraints_are_replaced_or_turned_off_per_component() {
    let children = build(&xagent(json!({
        "api": {"topologySpreadConstraints": [
            {"topologyKey": "topology.kubernetes.io/zone", "maxSkew": 2, "whenUnsatisfiable": "DoNotSchedule"}]},
        "worker": {"topologySpreadConstraints": []},
    })));
    let spread = |name: &str| {
        let d = deployment(&children, name);
        d.spec.as_ref().unwrap().template.spec.as_ref().unwrap().topology_spread_constraints.clone()
    };
    let api = spread("demo-api").expect("the api's own constraint");
    assert_eq!(api.len(), 1);
    assert_eq!((api[0].max_skew, api[0].when_unsatisfiable.as_str()), (2, "DoNotSchedule"));
    assert_eq!(spread("demo-worker"), None, "[] sends no constraints");
    assert_eq!(spread("demo-websocket").map(|s| s.len()), Some(2), "the others keep the default");
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
    assert_eq!(env_value(c, "REDIS_TLS"), Some("true"));
    assert_eq!(env_value(c, "POSTGRES_PORT"), Some("5432"));
    assert_eq!(env_value(c, "POSTGRES_DB"), Some("xagent"));
    assert_eq!(env_value(c, "POSTGRES_USER"), Some("xagent"));
    assert_eq!(env_value(c, "POSTGRES_SSLMODE"), Some("verify-full"));
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

// ---------------------------------------------------------------------------
// Dependency CAs
// ---------------------------------------------------------------------------

fn with_cas() -> crate::crd::XAgent {
    xagent(json!({
        "redis": {"host": "10.0.0.7", "serverName": "redis.data",
                  "ca": {"configMapRef": {"name": "deps-ca", "key": "redis.pem"}}},
        "postgres": {"host": "pg.data", "ca": {"secretRef": {"name": "pg-tls", "key": "ca.crt"}}},
        "chromadb": {"enabled": true},
    }))
}

#[test]
fn the_dependency_cas_are_mounted_where_the_environment_says() {
    let children = build(&with_cas());
    for component in ["api", "websocket", "worker"] {
        let d = deployment(&children, &format!("demo-{component}"));
        let pod = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
        let volumes = pod.volumes.as_ref().unwrap();
        let redis = volumes.iter().find(|v| v.name == "redis-ca").expect("a Redis CA volume");
        let map = redis.config_map.as_ref().expect("from the ConfigMap");
        assert_eq!(map.name, "deps-ca");
        let item = &map.items.as_ref().unwrap()[0];
        assert_eq!((item.key.as_str(), item.path.as_str()), ("redis.pem", "ca.crt"));
        let pg = volumes.iter().find(|v| v.name == "postgres-ca").expect("a PostgreSQL CA volume");
        assert_eq!(pg.secret.as_ref().and_then(|s| s.secret_name.as_deref()), Some("pg-tls"));

        let c = app_container(d);
        let mounts = c.volume_mounts.as_ref().unwrap();
        for (volume, dir) in
            [("redis-ca", "/etc/xagent/tls/redis"), ("postgres-ca", "/etc/xagent/tls/postgres")]
        {
            let m =
                mounts.iter().find(|m| m.name == volume).unwrap_or_else(|| panic!("{component}: {volume}"));
            assert_eq!((m.mount_path.as_str(), m.read_only), (dir, Some(true)));
        }
        assert_eq!(env_value(c, "REDIS_TLS_CA_FILE"), Some("/etc/xagent/tls/redis/ca.crt"));
        assert_eq!(env_value(c, "REDIS_TLS_SERVER_NAME"), Some("redis.data"));
        assert_eq!(env_value(c, "PGSSLROOTCERT"), Some("/etc/xagent/tls/postgres/ca.crt"));
        assert_eq!(env_value(c, "POSTGRES_SSLROOTCERT"), Some("/etc/xagent/tls/postgres/ca.crt"));
    }
    // ChromaDB talks to neither.
    let chroma =
        statefulset(&children, "demo-chromadb").spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    assert!(chroma.volumes.iter().flatten().all(|v| !v.name.ends_with("-ca")));
}

#[test]
fn without_a_ca_nothing_is_mounted() {
    let children = build(&with_dependencies());
    let d = deployment(&children, "demo-api");
    let volumes = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap().volumes.as_ref().unwrap();
    assert_eq!(volumes.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(), ["tmp"]);
    let c = app_container(d);
    for name in ["REDIS_TLS_CA_FILE", "REDIS_TLS_SERVER_NAME", "PGSSLROOTCERT", "POSTGRES_SSLROOTCERT"] {
        assert!(env_named(c, name).is_empty(), "{name}");
    }
}
