//! Tests of the per-component pod settings: probes, labels and annotations,
//! identity, priority, volumes, rollout strategy, autoscaling behavior and
//! custom metrics, and the security context (including OpenShift's mode).

use k8s_openapi::api::core::v1::{Container, PodSpec, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::json;

use super::{app_container, deployment, find, pod_templates, statefulset, xagent};
use crate::builders::{Child, ChildKind, build};

/// The pod spec of Deployment `name`.
fn pod<'a>(children: &'a [Child], name: &str) -> &'a PodSpec {
    deployment(children, name).spec.as_ref().unwrap().template.spec.as_ref().unwrap()
}

/// `(path, port, initialDelay, period, timeout, failures)` of a probe.
fn probe_of(p: &Option<Probe>) -> (String, IntOrString, Option<i32>, i32, i32, i32) {
    let p = p.as_ref().expect("a probe");
    let get = p.http_get.as_ref().expect("an HTTP probe");
    (
        get.path.clone().unwrap_or_default(),
        get.port.clone(),
        p.initial_delay_seconds,
        p.period_seconds.unwrap(),
        p.timeout_seconds.unwrap(),
        p.failure_threshold.unwrap(),
    )
}

fn http() -> IntOrString {
    IntOrString::String("http".into())
}

#[test]
fn probes_default_to_todays_paths_and_timings() {
    let children = build(&xagent(json!({})));
    for name in ["demo-api", "demo-websocket", "demo-worker"] {
        let c = app_container(deployment(&children, name));
        assert_eq!(probe_of(&c.liveness_probe), ("/health".into(), http(), None, 10, 5, 3), "{name}");
        assert_eq!(probe_of(&c.readiness_probe), ("/ready".into(), http(), None, 5, 5, 3), "{name}");
        assert_eq!(probe_of(&c.startup_probe), ("/health".into(), http(), None, 5, 5, 30), "{name}");
    }
}

#[test]
fn probes_are_set_per_component_and_a_partial_probe_keeps_its_other_defaults() {
    let children = build(&xagent(json!({"api": {"probes": {
        "liveness": {"path": "/health/live", "port": 9090, "initialDelaySeconds": 15, "periodSeconds": 20,
                     "timeoutSeconds": 2, "failureThreshold": 6},
        "readiness": {"path": "/health/ready"},
    }}})));
    let api = app_container(deployment(&children, "demo-api"));
    assert_eq!(
        probe_of(&api.liveness_probe),
        ("/health/live".into(), IntOrString::Int(9090), Some(15), 20, 2, 6)
    );
    assert_eq!(probe_of(&api.readiness_probe), ("/health/ready".into(), http(), None, 5, 5, 3));
    assert_eq!(probe_of(&api.startup_probe), ("/health".into(), http(), None, 5, 5, 30));
    let worker = app_container(deployment(&children, "demo-worker"));
    assert_eq!(probe_of(&worker.liveness_probe).0, "/health", "another component keeps its own");
}

#[test]
fn pod_labels_and_annotations_reach_the_pods_but_not_the_selector() {
    let children = build(&xagent(json!({
        "websocket": {"podLabels": {"team": "agents"}, "podAnnotations": {"sidecar.istio.io/inject": "true"}},
        "chromadb": {"enabled": true, "podLabels": {"backup": "daily"},
                     "podAnnotations": {"backup.velero.io/backup-volumes": "data"}},
    })));
    let ws = deployment(&children, "demo-websocket").spec.as_ref().unwrap();
    let meta = ws.template.metadata.as_ref().unwrap();
    assert_eq!(meta.labels.as_ref().unwrap().get("team").map(String::as_str), Some("agents"));
    assert_eq!(meta.labels.as_ref().unwrap()["app.kubernetes.io/component"], "websocket");
    assert_eq!(meta.annotations.as_ref().unwrap()["sidecar.istio.io/inject"], "true");
    assert!(!ws.selector.match_labels.as_ref().unwrap().contains_key("team"), "selectors are immutable");
    let sts = statefulset(&children, "demo-chromadb").spec.as_ref().unwrap();
    let meta = sts.template.metadata.as_ref().unwrap();
    assert_eq!(meta.labels.as_ref().unwrap()["backup"], "daily");
    assert_eq!(meta.annotations.as_ref().unwrap()["backup.velero.io/backup-volumes"], "data");
    let api = deployment(&children, "demo-api").spec.as_ref().unwrap();
    assert_eq!(api.template.metadata.as_ref().unwrap().annotations, None, "no empty map is sent");
}

#[test]
fn service_accounts_default_existing_or_created_with_their_annotations() {
    let children = build(&xagent(json!({
        "api": {"serviceAccount": {"create": true,
                                   "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/agents"}},
                "automountServiceAccountToken": true},
        "worker": {"serviceAccount": {"name": "shared-runner"}},
    })));
    assert_eq!(pod(&children, "demo-api").service_account_name.as_deref(), Some("demo-api"));
    assert_eq!(pod(&children, "demo-api").automount_service_account_token, Some(true));
    assert_eq!(pod(&children, "demo-worker").service_account_name.as_deref(), Some("shared-runner"));
    assert_eq!(pod(&children, "demo-worker").automount_service_account_token, Some(false));
    let websocket = pod(&children, "demo-websocket").service_account_name.as_deref();
    assert_eq!(websocket, Some("default"), "the namespace's default, spelled out so a removed name goes");
    let accounts: Vec<&Child> = children.iter().filter(|c| c.kind() == ChildKind::ServiceAccount).collect();
    assert_eq!(accounts.len(), 1, "only a created account is a child");
    let Child::ServiceAccount(account) = accounts[0] else { unreachable!() };
    assert_eq!(account.metadata.name.as_deref(), Some("demo-api"));
    let annotations = account.metadata.annotations.as_ref().unwrap();
    assert_eq!(annotations["eks.amazonaws.com/role-arn"], "arn:aws:iam::1:role/agents");
    assert_eq!(account.metadata.labels.as_ref().unwrap()["app.kubernetes.io/component"], "api");
    assert!(account.metadata.owner_references.is_some(), "garbage-collected with the XAgent");
}

#[test]
fn priority_class_reaches_the_pods_that_name_one() {
    let children = build(&xagent(json!({
        "worker": {"priorityClassName": "batch-low"},
        "chromadb": {"enabled": true, "priorityClassName": "data-high"},
    })));
    assert_eq!(pod(&children, "demo-worker").priority_class_name.as_deref(), Some("batch-low"));
    assert_eq!(pod(&children, "demo-api").priority_class_name, None);
    let sts = statefulset(&children, "demo-chromadb").spec.as_ref().unwrap();
    assert_eq!(sts.template.spec.as_ref().unwrap().priority_class_name.as_deref(), Some("data-high"));
}

fn mount<'a>(c: &'a Container, name: &str) -> Option<&'a k8s_openapi::api::core::v1::VolumeMount> {
    c.volume_mounts.iter().flatten().find(|m| m.name == name)
}

#[test]
fn extra_volumes_are_added_beside_the_operators_own_and_mounted() {
    let children = build(&xagent(json!({"api": {
        "volumes": [
            {"name": "config", "configMap": {"name": "agent-config"}},
            {"name": "creds", "secret": {"secretName": "cloud-creds"}},
            {"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"audience": "vault", "path": "t"}}]}},
            {"name": "vault", "csi": {"driver": "secrets-store.csi.k8s.io", "readOnly": true}},
        ],
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/agent", "readOnly": true},
            {"name": "creds", "mountPath": "/var/run/creds/key.json", "subPath": "key.json"},
            {"name": "cache", "mountPath": "/cache"},
        ],
    }})));
    let spec = pod(&children, "demo-api");
    let names: Vec<&str> = spec.volumes.iter().flatten().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["tmp", "config", "creds", "cache", "token", "vault"]);
    let volumes = spec.volumes.as_ref().unwrap();
    assert_eq!(volumes[1].config_map.as_ref().unwrap().name, "agent-config");
    assert_eq!(volumes[2].secret.as_ref().unwrap().secret_name.as_deref(), Some("cloud-creds"));
    assert!(volumes[3].empty_dir.is_some() && volumes[4].projected.is_some());
    assert_eq!(volumes[5].csi.as_ref().unwrap().driver, "secrets-store.csi.k8s.io");
    let c = app_container(deployment(&children, "demo-api"));
    let config = mount(c, "config").expect("config mounted");
    assert_eq!((config.mount_path.as_str(), config.read_only), ("/etc/agent", Some(true)));
    let creds = mount(c, "creds").expect("creds mounted");
    assert_eq!((creds.sub_path.as_deref(), creds.read_only), (Some("key.json"), None));
    assert!(mount(c, "tmp").is_some(), "the operator's /tmp stays");
    assert!(mount(app_container(deployment(&children, "demo-worker")), "config").is_none());
}

#[test]
fn rollouts_default_to_one_surge_one_unavailable_and_recreate_drops_rolling_update() {
    let children = build(&xagent(json!({
        "websocket": {"strategy": {"type": "Recreate"}},
        "worker": {"strategy": {"maxSurge": "50%", "maxUnavailable": 0}},
    })));
    let strategy = |name| deployment(&children, name).spec.as_ref().unwrap().strategy.clone().unwrap();
    let api = strategy("demo-api");
    assert_eq!(api.type_.as_deref(), Some("RollingUpdate"));
    let rolling = api.rolling_update.unwrap();
    assert_eq!(
        (rolling.max_surge, rolling.max_unavailable),
        (Some(IntOrString::Int(1)), Some(IntOrString::Int(1)))
    );
    let ws = strategy("demo-websocket");
    assert_eq!((ws.type_.as_deref(), ws.rolling_update), (Some("Recreate"), None));
    let worker = strategy("demo-worker").rolling_update.unwrap();
    assert_eq!(worker.max_surge, Some(IntOrString::String("50%".into())));
    assert_eq!(worker.max_unavailable, Some(IntOrString::Int(0)));
}

#[test]
fn autoscaling_takes_behavior_and_per_pod_custom_metrics() {
    let children = build(&xagent(json!({"api": {"autoscaling": {
        "targetMemoryUtilization": 0,
        "customMetrics": [{"name": "http_requests_per_second", "targetAverageValue": "1666m"}],
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 600,
                                   "policies": [{"type": "Pods", "value": 1, "periodSeconds": 120}]}},
    }}})));
    let Some(Child::Hpa(hpa)) = find(&children, ChildKind::Hpa, "demo-api") else { panic!("no HPA") };
    let spec = hpa.spec.as_ref().unwrap();
    let metrics = spec.metrics.as_ref().unwrap();
    let types: Vec<&str> = metrics.iter().map(|m| m.type_.as_str()).collect();
    assert_eq!(types, ["Resource", "Pods"], "CPU at 70 %, memory off, then the custom metric");
    let pods = metrics[1].pods.as_ref().unwrap();
    assert_eq!(pods.metric.name, "http_requests_per_second");
    assert_eq!(pods.target.type_, "AverageValue");
    assert_eq!(pods.target.average_value.as_ref().map(|q| q.0.as_str()), Some("1666m"));
    let down = spec.behavior.as_ref().unwrap().scale_down.as_ref().unwrap();
    assert_eq!(down.stabilization_window_seconds, Some(600));
    let Some(Child::Hpa(worker)) = find(&children, ChildKind::Hpa, "demo-worker") else { panic!("no HPA") };
    assert_eq!(worker.spec.as_ref().unwrap().behavior, None, "omitted: the HPA's defaults");
}

#[test]
fn security_context_defaults_to_10001_and_null_leaves_ids_to_the_platform() {
    let children = build(&xagent(json!({
        "api": {"podSecurityContext": {"runAsUser": null, "runAsGroup": null, "fsGroup": null}},
        "worker": {"podSecurityContext": {"runAsUser": 20000, "fsGroupChangePolicy": "OnRootMismatch",
                                          "supplementalGroups": [3000],
                                          "seccompProfile": {"type": "Localhost", "localhostProfile": "agents.json"}}},
        "chromadb": {"enabled": true, "podSecurityContext": {"runAsUser": null, "runAsGroup": null, "fsGroup": null}},
    })));
    let api = pod(&children, "demo-api").security_context.as_ref().unwrap();
    assert_eq!(
        (api.run_as_user, api.run_as_group, api.fs_group),
        (None, None, None),
        "OpenShift assigns them"
    );
    assert_eq!(api.run_as_non_root, Some(true), "never root, whoever picks the ID");
    let ws = pod(&children, "demo-websocket").security_context.as_ref().unwrap();
    assert_eq!((ws.run_as_user, ws.run_as_group, ws.fs_group), (Some(10001), Some(10001), Some(10001)));
    let worker = pod(&children, "demo-worker");
    let sc = worker.security_context.as_ref().unwrap();
    assert_eq!((sc.run_as_user, sc.run_as_group), (Some(20000), Some(10001)));
    assert_eq!(sc.fs_group_change_policy.as_deref(), Some("OnRootMismatch"));
    assert_eq!(sc.supplemental_groups.as_deref(), Some(&[3000][..]));
    for profile in [
        sc.seccomp_profile.as_ref(),
        worker.containers[0].security_context.as_ref().unwrap().seccomp_profile.as_ref(),
    ] {
        let profile = profile.unwrap();
        assert_eq!(
            (profile.type_.as_str(), profile.localhost_profile.as_deref()),
            ("Localhost", Some("agents.json"))
        );
    }
    let chroma = pod_templates(&children).into_iter().find(|(n, _)| n == "demo-chromadb").unwrap().1;
    let sc = chroma.spec.as_ref().unwrap().security_context.as_ref().unwrap();
    assert_eq!((sc.run_as_user, sc.fs_group), (None, None));
}

#[test]
fn chromadb_claims_are_retained_by_default_and_its_budget_lets_a_drain_through() {
    let children = build(&xagent(json!({"chromadb": {"enabled": true}})));
    let sts = statefulset(&children, "demo-chromadb").spec.as_ref().unwrap();
    let policy = sts.persistent_volume_claim_retention_policy.as_ref().unwrap();
    assert_eq!(
        (policy.when_deleted.as_deref(), policy.when_scaled.as_deref()),
        (Some("Retain"), Some("Retain"))
    );
    let Some(Child::Pdb(pdb)) = find(&children, ChildKind::Pdb, "demo-chromadb") else { panic!("no PDB") };
    let spec = pdb.spec.as_ref().unwrap();
    assert_eq!(spec.max_unavailable, Some(IntOrString::Int(1)));
    assert_eq!(
        spec.selector.as_ref().unwrap().match_labels.as_ref().unwrap()["app.kubernetes.io/component"],
        "chromadb"
    );

    let children = build(&xagent(json!({"chromadb": {"enabled": true,
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete"},
        "podDisruptionBudget": {"maxUnavailable": 0}}})));
    let sts = statefulset(&children, "demo-chromadb").spec.as_ref().unwrap();
    let policy = sts.persistent_volume_claim_retention_policy.as_ref().unwrap();
    assert_eq!(
        (policy.when_deleted.as_deref(), policy.when_scaled.as_deref()),
        (Some("Delete"), Some("Retain"))
    );
    let Some(Child::Pdb(pdb)) = find(&children, ChildKind::Pdb, "demo-chromadb") else { panic!("no PDB") };
    assert_eq!(
        pdb.spec.as_ref().unwrap().max_unavailable,
        Some(IntOrString::Int(0)),
        "no voluntary eviction"
    );

    let children =
        build(&xagent(json!({"chromadb": {"enabled": true, "podDisruptionBudget": {"enabled": false}}})));
    assert!(find(&children, ChildKind::Pdb, "demo-chromadb").is_none());
}

#[test]
fn host_aliases_and_dns_settings_reach_the_pods_that_set_them() {
    let children = build(&xagent(json!({"worker": {
        "hostAliases": [{"ip": "10.1.2.3", "hostnames": ["llm.internal", "llm"]}],
        "dnsConfig": {"searches": ["corp.example.com"], "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]},
    }})));
    let worker = pod(&children, "demo-worker");
    let aliases = worker.host_aliases.as_ref().unwrap();
    assert_eq!((aliases[0].ip.as_str(), aliases[0].hostnames.as_ref().unwrap().len()), ("10.1.2.3", 2));
    let dns = worker.dns_config.as_ref().unwrap();
    assert_eq!(dns.searches.as_deref(), Some(&["corp.example.com".to_string()][..]));
    assert_eq!(dns.nameservers, None, "no empty list is sent");
    let options = dns.options.as_ref().unwrap();
    assert_eq!((options[0].name.as_deref(), options[0].value.as_deref()), (Some("ndots"), Some("2")));
    assert_eq!((options[1].name.as_deref(), options[1].value.as_deref()), (Some("edns0"), None));
    assert_eq!(worker.dns_policy, None, "ClusterFirst, the default, merges these in");
    let api = pod(&children, "demo-api");
    assert_eq!((api.host_aliases.as_ref(), api.dns_config.as_ref()), (None, None));
}
