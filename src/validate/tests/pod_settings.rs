//! The bounds of the per-component pod settings: each bad value is refused
//! by the schema or a CEL rule, at the field that holds it, with a message
//! that says what to write instead.

use super::{assert_single, doc, invalid, valid};

#[test]
fn a_probe_path_must_be_absolute_and_timings_bounded() {
    let e = invalid(&doc("{api: {probes: {liveness: {path: health}}}}"));
    assert_single(&e, "spec.api.probes.liveness.path", "does not match");
    let e = invalid(&doc("{worker: {probes: {startup: {failureThreshold: 0}}}}"));
    assert_single(&e, "spec.worker.probes.startup.failureThreshold", "greater than or equal to 1");
}

#[test]
fn pod_labels_are_valid_labels_and_leave_the_operators_alone() {
    let e = invalid(&doc("{api: {podLabels: {app.kubernetes.io/instance: other}}}"));
    assert_single(&e, "spec.api.podLabels", "may not set the app.kubernetes.io labels");
    let e = invalid(&doc("{worker: {podLabels: {team: 'two words'}}}"));
    assert_single(&e, "spec.worker.podLabels", "values must be at most 63");
    let e = invalid(&doc("{chromadb: {podLabels: {'-bad': x}}}"));
    assert_single(&e, "spec.chromadb.podLabels", "keys must be qualified names");
    let e = invalid(&doc("{websocket: {podAnnotations: {'has space': x}}}"));
    assert_single(&e, "spec.websocket.podAnnotations", "keys must be qualified names");
    let xa = valid(&doc(
        "{api: {podLabels: {example.com/team: agents, tier: ''}, podAnnotations: {a/b: 'any text'}}}",
    ));
    assert_eq!(xa.spec.api.pod_labels.len(), 2);
}

#[test]
fn a_created_service_account_is_named_by_the_operator_and_only_it_is_annotated() {
    let e = invalid(&doc("{api: {serviceAccount: {create: true, name: mine}}}"));
    assert_single(&e, "spec.api.serviceAccount", "with create: true the operator names its own");
    let e = invalid(&doc("{api: {serviceAccount: {name: mine, annotations: {a/b: c}}}}"));
    assert_single(&e, "spec.api.serviceAccount", "apply only with create: true");
    let e = invalid(&doc("{api: {serviceAccount: {name: Not_A_Name}}}"));
    assert_single(&e, "spec.api.serviceAccount.name", "does not match");
}

#[test]
fn a_volume_has_one_source_a_name_of_its_own_and_every_mount_a_volume() {
    let e = invalid(&doc("{api: {volumes: [{name: c, configMap: {name: x}, emptyDir: {}}]}}"));
    assert_single(&e, "spec.api.volumes[0]", "exactly one of configMap, secret, emptyDir, projected and csi");
    let e = invalid(&doc("{api: {volumes: [{name: tmp, emptyDir: {}}]}}"));
    assert_single(&e, "spec.api.volumes[0].name", "the operator's own volumes");
    let e = invalid(&doc("{api: {volumes: [{name: c, emptyDir: {}}, {name: c, emptyDir: {}}]}}"));
    assert_single(&e, "spec.api.volumes[1]", "Duplicate value");
    let e = invalid(&doc("{api: {volumes: [{name: c, hostPath: {path: /}}]}}"));
    assert_single(&e, "spec.api.volumes[0].hostPath", "unknown field");
    let e = invalid(&doc("{worker: {volumeMounts: [{name: nowhere, mountPath: /x}]}}"));
    assert_single(&e, "spec.worker", "every volumeMounts entry must name one of the component's volumes");
    let e = invalid(&doc(
        "{worker: {volumes: [{name: c, emptyDir: {}}], volumeMounts: [{name: c, mountPath: /tmp}]}}",
    ));
    assert_single(&e, "spec.worker.volumeMounts[0].mountPath", "/tmp is the operator's own");
    let e = invalid(&doc(
        "{worker: {volumes: [{name: c, emptyDir: {}}], volumeMounts: [{name: c, mountPath: /a}, {name: c, mountPath: /a}]}}",
    ));
    assert_single(&e, "spec.worker.volumeMounts[1]", "Duplicate value");
}

#[test]
fn a_rollout_must_be_able_to_make_progress() {
    let e = invalid(&doc("{api: {strategy: {maxSurge: 0, maxUnavailable: '0%'}}}"));
    assert_single(&e, "spec.api.strategy", "may not both be 0");
    let e = invalid(&doc("{api: {strategy: {maxUnavailable: '150%'}}}"));
    assert_single(&e, "spec.api.strategy", "counts or percentages");
    let e = invalid(&doc("{api: {strategy: {maxSurge: 'lots'}}}"));
    assert_single(&e, "spec.api.strategy", "counts or percentages");
    let xa = valid(&doc("{api: {strategy: {type: Recreate, maxSurge: 0, maxUnavailable: 0}}}"));
    assert_eq!(xa.spec.api.strategy.type_, crate::crd::StrategyType::Recreate);
}

#[test]
fn spread_constraints_are_unique_per_key_and_bounded() {
    let e = invalid(&doc(
        "{api: {topologySpreadConstraints: [{topologyKey: kubernetes.io/hostname}, {topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway}]}}",
    ));
    assert_single(&e, "spec.api.topologySpreadConstraints[1]", "Duplicate value");
    let e = invalid(&doc("{api: {topologySpreadConstraints: [{topologyKey: zone, maxSkew: 0}]}}"));
    assert_single(&e, "spec.api.topologySpreadConstraints[0].maxSkew", "greater than or equal to 1");
}

#[test]
fn the_security_context_refuses_root_and_a_localhost_profile_needs_its_file() {
    for field in ["runAsUser", "runAsGroup", "fsGroup"] {
        let e = invalid(&doc(&format!("{{api: {{podSecurityContext: {{{field}: 0}}}}}}")));
        assert_single(&e, &format!("spec.api.podSecurityContext.{field}"), "greater than or equal to 1");
    }
    let e = invalid(&doc("{api: {podSecurityContext: {supplementalGroups: [0]}}}"));
    assert_single(&e, "spec.api.podSecurityContext.supplementalGroups[0]", "greater than or equal to 1");
    let e = invalid(&doc("{api: {podSecurityContext: {seccompProfile: {type: Localhost}}}}"));
    assert_single(&e, "spec.api.podSecurityContext.seccompProfile", "localhostProfile is required");
    let e = invalid(&doc("{api: {podSecurityContext: {seccompProfile: {type: Unconfined}}}}"));
    assert_single(&e, "spec.api.podSecurityContext.seccompProfile.type", "Unsupported value");
    let e = invalid(&doc("{api: {podSecurityContext: {privileged: true}}}"));
    assert_single(&e, "spec.api.podSecurityContext.privileged", "unknown field");
}

#[test]
fn null_ids_are_kept_for_the_platform_to_assign_and_absent_ones_default() {
    let xa = valid(&doc("{api: {podSecurityContext: {runAsUser: null, fsGroup: null}}}"));
    let sc = &xa.spec.api.pod_security_context;
    assert_eq!((sc.run_as_user, sc.run_as_group, sc.fs_group), (None, Some(10001), None));
    assert_eq!(xa.spec.worker.pod_security_context.run_as_user, Some(10001));
}

#[test]
fn custom_metrics_alone_are_a_scaling_target_and_are_well_formed() {
    let xa = valid(&doc(
        "{api: {autoscaling: {targetCpuUtilization: 0, targetMemoryUtilization: 0, customMetrics: [{name: http_requests_per_second, targetAverageValue: 1500m}]}}}",
    ));
    assert_eq!(xa.spec.api.autoscaling.custom_metrics.len(), 1);
    let e = invalid(&doc("{api: {autoscaling: {customMetrics: []}}}"));
    assert_single(&e, "spec.api.autoscaling.customMetrics", "at least 1");
    let e = invalid(&doc("{api: {autoscaling: {customMetrics: [{name: rps, targetAverageValue: lots}]}}}"));
    assert_single(&e, "spec.api.autoscaling.customMetrics[0].targetAverageValue", "does not match");
    let e = invalid(&doc(
        "{api: {autoscaling: {customMetrics: [{name: rps, targetAverageValue: '1'}, {name: rps, targetAverageValue: '2'}]}}}",
    ));
    assert_single(&e, "spec.api.autoscaling.customMetrics[1]", "Duplicate value");
}

#[test]
fn the_websocket_read_timeout_is_bounded() {
    let e = invalid(&doc("{ingress: {host: a.example.com, websocket: {readTimeoutSeconds: 5}}}"));
    assert_single(&e, "spec.ingress.websocket.readTimeoutSeconds", "greater than or equal to 60");
    let xa = valid(&doc("{ingress: {host: a.example.com}}"));
    let websocket = &xa.spec.ingress.unwrap().websocket;
    assert_eq!((websocket.sticky_sessions, websocket.read_timeout_seconds), (true, 3600));
}

#[test]
fn chromadb_claim_retention_and_budget_are_bounded() {
    let e = invalid(&doc("{chromadb: {persistentVolumeClaimRetentionPolicy: {whenDeleted: Forget}}}"));
    assert_single(&e, "spec.chromadb.persistentVolumeClaimRetentionPolicy.whenDeleted", "Unsupported value");
    let e = invalid(&doc("{chromadb: {podDisruptionBudget: {maxUnavailable: 2}}}"));
    assert_single(&e, "spec.chromadb.podDisruptionBudget.maxUnavailable", "less than or equal to 1");
}

#[test]
fn host_aliases_take_addresses_and_dns_settings_stay_within_the_resolvers_limits() {
    let e = invalid(&doc("{api: {hostAliases: [{ip: llm.internal, hostnames: [llm]}]}}"));
    assert_single(&e, "spec.api.hostAliases[0].ip", "does not match");
    let e = invalid(&doc("{api: {hostAliases: [{ip: 10.0.0.1, hostnames: []}]}}"));
    assert_single(&e, "spec.api.hostAliases[0].hostnames", "at least 1");
    let e = invalid(&doc("{api: {dnsConfig: {nameservers: [10.0.0.1, 10.0.0.2, 10.0.0.3]}}}"));
    assert_single(&e, "spec.api.dnsConfig.nameservers", "at most 2");
    let xa = valid(&doc(
        "{api: {hostAliases: [{ip: 'fd00::1', hostnames: [llm]}], dnsConfig: {options: [{name: ndots, value: '2'}]}}}",
    ));
    assert_eq!(xa.spec.api.host_aliases[0].ip, "fd00::1");
}
