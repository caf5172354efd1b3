//! Unit tests of `parse_xagent` and `revalidate`: defaults, every kind of schema
//! violation, the CEL rules and how errors are labelled and collected.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use super::{FieldError, InvalidXAgent, parse_xagent, prepare, revalidate};
use crate::crd::{
    ApiSpec, ChromaDbSpec, ImageSpec, PullPolicy, SslMode, WebsocketSpec, WorkerSpec, XAgent, XAgentSpec,
};

const ORIGIN: &str = "in test document";
const MIN_GT_MAX: &str = "autoscaling.minReplicas must be less than or equal to autoscaling.maxReplicas";
const NAME_TOO_LONG: &str =
    "must be at most 53 characters: child names append up to 10 characters and must stay valid DNS labels";

/// A complete XAgent `default/bad` whose spec is the flow-style YAML `spec`.
fn doc(spec: &str) -> String {
    format!(
        "apiVersion: xagent.io/v1alpha1\nkind: XAgent\nmetadata:\n  name: bad\n  namespace: default\nspec: {spec}\n"
    )
}

fn parse(yaml: &str) -> Result<XAgent, InvalidXAgent> {
    let value: Value = serde_yaml::from_str(yaml).expect("the test YAML itself must parse");
    parse_xagent(value, ORIGIN)
}

fn valid(yaml: &str) -> XAgent {
    parse(yaml).unwrap_or_else(|e| panic!("expected a valid XAgent, got: {e}"))
}

fn invalid(yaml: &str) -> InvalidXAgent {
    match parse(yaml) {
        Ok(x) => panic!("expected an invalid XAgent, got: {:#?}", x.spec),
        Err(e) => e,
    }
}

fn paths(e: &InvalidXAgent) -> Vec<&str> {
    e.errors.iter().map(|f| f.path.as_str()).collect()
}

/// Asserts `e` holds exactly one error, at `path`, whose message contains `message`.
fn assert_single(e: &InvalidXAgent, path: &str, message: &str) {
    assert_eq!(paths(e), vec![path], "{e}");
    assert!(e.errors[0].message.contains(message), "message of {path} lacks {message:?}: {e}");
}

fn name_of(len: usize) -> String {
    "a".repeat(len)
}

// ---------------------------------------------------------------- defaults

/// Validation reads the CRD built into the binary, not one generated from
/// the types: the two must say the same, or the operator would validate
/// against a schema the types no longer have.
#[test]
fn the_built_in_crd_is_the_one_the_types_generate() {
    use kube::CustomResourceExt;
    let built_in: Value = serde_yaml::from_str(crate::crd::CRD_YAML).expect("the built-in CRD is YAML");
    let generated = serde_json::to_value(XAgent::crd()).expect("the CRD serializes");
    assert!(
        built_in == generated,
        "crds/xagent.io_xagents.yaml is stale: run `UPDATE_GENERATED=1 cargo test --test generated`"
    );
}

#[test]
fn the_start_up_compilation_passes_the_default_xagent() {
    // The operator logs a warning and goes on if this fails; a failure here
    // is a schema that rejects its own defaults.
    prepare().unwrap_or_else(|e| panic!("the default XAgent fails validation: {e}"));
}

#[test]
fn empty_spec_takes_every_default() {
    let xa = valid(&doc("{}"));
    let spec = &xa.spec;

    assert_eq!(spec.image.reference(), "xagent/x-agent:latest");
    assert_eq!(spec.image.pull_policy, PullPolicy::IfNotPresent);
    assert!(spec.image_pull_secrets.is_empty());

    let api = &spec.api;
    assert!(api.autoscaling.enabled);
    assert_eq!((api.autoscaling.min_replicas, api.autoscaling.max_replicas), (2, 10));
    assert_eq!(api.autoscaling.target_cpu_utilization, 70);
    assert_eq!(api.autoscaling.target_memory_utilization, 80);
    assert_eq!((api.replicas, api.port, api.metrics_port), (2, 8000, 9090));
    assert_eq!(api.resources.requests.cpu, "250m");
    assert_eq!(api.resources.requests.memory, "512Mi");
    assert_eq!(api.resources.limits.cpu, "1");
    assert_eq!(api.resources.limits.memory, "1Gi");
    assert!(api.pod_disruption_budget.enabled);
    assert_eq!(api.pod_disruption_budget.max_unavailable, 1);

    let ws = &spec.websocket;
    assert!(!ws.autoscaling.enabled, "the WebSocket gateway is not autoscaled by default");
    assert_eq!((ws.replicas, ws.port), (2, 8001));

    let worker = &spec.worker;
    assert!(worker.autoscaling.enabled);
    assert_eq!((worker.autoscaling.min_replicas, worker.autoscaling.max_replicas), (2, 5));

    assert!(!spec.chromadb.enabled);
    assert_eq!(spec.chromadb.reference(), "chromadb/chroma:0.5.23");
    assert_eq!(spec.chromadb.storage.size, "10Gi");
    assert_eq!(spec.chromadb.replicas, 1);
    assert!(spec.redis.is_none());
    assert!(spec.postgres.is_none());
    assert!(spec.env.is_empty() && spec.env_from.is_empty());

    // The schema defaults agree with the Rust defaults the builders were written against.
    assert_eq!(*spec.api, ApiSpec::default());
    assert_eq!(*spec.websocket, WebsocketSpec::default());
    assert_eq!(*spec.worker, WorkerSpec::default());
    assert_eq!(*spec.image, ImageSpec::default());
    assert_eq!(*spec.chromadb, ChromaDbSpec::default());
    // So an XAgent the API server defaulted keeps none of them in memory of its own.
    let shared = [spec.api.is_shared(), spec.websocket.is_shared(), spec.worker.is_shared()];
    assert_eq!(shared, [true; 3]);
    let shared = [spec.image.is_shared(), spec.chromadb.is_shared(), spec.monitoring.is_shared()];
    assert_eq!(shared, [true; 3]);
    assert!(spec.network_policy.is_shared());
}

#[test]
fn name_and_namespace_are_kept() {
    let xa = valid(&doc("{}"));
    assert_eq!(xa.metadata.name.as_deref(), Some("bad"));
    assert_eq!(xa.metadata.namespace.as_deref(), Some("default"));
}

#[test]
fn defaults_fill_the_gaps_of_a_partial_block() {
    let xa = valid(&doc("{api: {autoscaling: {minReplicas: 3}}}"));
    let api = &xa.spec.api;
    assert_eq!(api.autoscaling.min_replicas, 3);
    assert_eq!(api.autoscaling.max_replicas, 10);
    assert!(api.autoscaling.enabled);
    assert_eq!(api.autoscaling.target_cpu_utilization, 70);
    assert_eq!(api.port, 8000);
    assert_eq!(api.resources.limits.memory, "1Gi");
}

#[test]
fn dependency_defaults_apply_once_the_block_is_given() {
    let xa = valid(&doc("{redis: {host: redis}, postgres: {host: pg}}"));
    let redis = xa.spec.redis.expect("redis");
    assert_eq!((redis.host.as_str(), redis.port, redis.database, redis.tls), ("redis", 6379, 0, true));
    assert!(redis.password_secret_ref.is_none());
    let pg = xa.spec.postgres.expect("postgres");
    assert_eq!((pg.host.as_str(), pg.port), ("pg", 5432));
    assert_eq!((pg.database.as_str(), pg.user.as_str()), ("xagent", "xagent"));
    assert_eq!(pg.ssl_mode, SslMode::VerifyFull);
}

#[test]
fn partial_websocket_block_keeps_the_websocket_defaults() {
    // Setting only the replica count must not switch the gateway to an HPA on port 8000.
    let ws = valid(&doc("{websocket: {replicas: 3}}")).spec.websocket;
    assert!(!ws.autoscaling.enabled, "websocket autoscaling must stay disabled");
    assert_eq!(ws.port, 8001);
    assert_eq!(ws.replicas, 3);
}

#[test]
fn partial_worker_block_keeps_the_worker_defaults() {
    let worker = valid(&doc("{worker: {autoscaling: {minReplicas: 3}}}")).spec.worker;
    assert_eq!(worker.autoscaling.max_replicas, 5);
}

#[test]
fn explicit_values_of_the_full_sample_are_kept() {
    let xa = valid(include_str!("../../config/samples/xagent.yaml"));
    let spec = &xa.spec;
    assert_eq!(spec.image.reference(), "xagent/x-agent:1.4.2");
    assert_eq!(spec.image_pull_secrets, vec!["registry-credentials".to_string()]);
    assert_eq!((spec.api.autoscaling.min_replicas, spec.api.autoscaling.max_replicas), (3, 12));
    assert_eq!(spec.api.resources.requests.cpu, "500m");
    assert_eq!(spec.api.env[0].name, "LOG_LEVEL");
    assert!(!spec.websocket.autoscaling.enabled);
    assert_eq!(spec.websocket.replicas, 3);
    assert_eq!(spec.worker.autoscaling.target_cpu_utilization, 75);
    assert_eq!(spec.worker.autoscaling.target_memory_utilization, 80, "defaulted");
    assert!(spec.chromadb.enabled);
    assert_eq!(spec.chromadb.storage.size, "20Gi");
    assert_eq!(spec.chromadb.storage.storage_class_name.as_deref(), Some("standard"));
    let redis = spec.redis.as_ref().expect("redis");
    assert_eq!(redis.password_secret_ref.as_ref().map(|r| r.name.as_str()), Some("x-agent-redis"));
    let pg = spec.postgres.as_ref().expect("postgres");
    assert_eq!(pg.ssl_mode, SslMode::VerifyFull);
    assert!(redis.tls && pg.ca.as_ref().and_then(|c| c.config_map_ref.as_ref()).is_some());
    assert_eq!(spec.node_selector.get("kubernetes.io/os").map(String::as_str), Some("linux"));
    assert_eq!(spec.tolerations[0].key.as_deref(), Some("dedicated"));
}

#[test]
fn parsing_is_idempotent() {
    let first = valid(include_str!("../../config/samples/xagent.yaml"));
    let again = parse_xagent(serde_json::to_value(&first).unwrap(), ORIGIN).expect("re-parse");
    assert_eq!(again, first);
}

// ---------------------------------------------------------------- nulls

#[test]
fn null_for_a_non_nullable_field_is_treated_as_absent() {
    let xa = valid(&doc("{api: {replicas: null, port: null}, image: null, redis: null}"));
    assert_eq!(xa.spec.api.replicas, 2);
    assert_eq!(xa.spec.api.port, 8000);
    assert_eq!(*xa.spec.image, ImageSpec::default());
    assert!(xa.spec.redis.is_none());
}

#[test]
fn zero_target_turns_a_metric_off_and_null_means_default() {
    let xa = valid(&doc("{api: {autoscaling: {targetCpuUtilization: 0}}}"));
    assert_eq!(xa.spec.api.autoscaling.target_cpu_utilization, 0);
    assert_eq!(xa.spec.api.autoscaling.target_memory_utilization, 80);
    // kubectl drops nulls and the API server then defaults: so do we.
    let xa = valid(&doc("{api: {autoscaling: {targetCpuUtilization: null}}}"));
    assert_eq!(xa.spec.api.autoscaling.target_cpu_utilization, 70);
}

#[test]
fn autoscaling_without_any_target_is_rejected() {
    let e = invalid(&doc("{worker: {autoscaling: {targetCpuUtilization: 0, targetMemoryUtilization: 0}}}"));
    assert_eq!(e.errors.len(), 1, "{e}");
    assert_eq!(e.errors[0].path, "spec.worker.autoscaling");
    assert!(e.errors[0].message.contains("above 0"), "{e}");
}

#[test]
fn null_spec_is_reported_as_a_missing_spec() {
    let e = invalid(&doc("null"));
    assert_single(&e, "spec", "Required value");
}

#[test]
fn missing_spec_is_rejected_like_the_api_server_does() {
    let e =
        invalid("apiVersion: xagent.io/v1alpha1\nkind: XAgent\nmetadata: {name: bad, namespace: default}\n");
    assert_single(&e, "spec", "Required value");
}

// ---------------------------------------------------------------- unknown fields

#[test]
fn unknown_field_is_rejected_with_its_dotted_path() {
    let e = invalid(&doc("{api: {replica: 3}}"));
    assert_single(&e, "spec.api.replica", "unknown field");
    assert_eq!(e.object, "default/bad");
    assert_eq!(e.to_string(), "XAgent default/bad is invalid: spec.api.replica: unknown field");
}

#[test]
fn unknown_field_inside_a_list_item_names_the_index() {
    let e = invalid(&doc("{env: [{name: A, value: b}, {name: B, valu: c}]}"));
    assert_single(&e, "spec.env[1].valu", "unknown field");
}

#[test]
fn unknown_top_level_field_is_rejected() {
    let e = invalid(&format!("{}specs: {{}}\n", doc("{}")));
    assert_single(&e, "specs", "unknown field");
}

// ---------------------------------------------------------------- types

#[test]
fn wrong_type_names_the_path_and_the_expected_type() {
    let e = invalid(&doc("{api: {replicas: \"two\"}}"));
    assert_single(&e, "spec.api.replicas", "expected integer");
    assert!(e.errors[0].message.contains("got string"), "{e}");
}

#[test]
fn fraction_for_an_integer_is_rejected() {
    let e = invalid(&doc("{api: {replicas: 2.5}}"));
    assert_single(&e, "spec.api.replicas", "expected integer, got number");
}

#[test]
fn wrong_type_of_a_whole_block_is_rejected() {
    assert_single(&invalid(&doc("3")), "spec", "expected object, got integer");
    assert_single(&invalid(&doc("{api: [1]}")), "spec.api", "expected object, got array");
    assert_single(&invalid(&doc("{imagePullSecrets: secret}")), "spec.imagePullSecrets", "expected array");
    assert_single(
        &invalid(&doc("{chromadb: {enabled: \"yes\"}}")),
        "spec.chromadb.enabled",
        "expected boolean",
    );
}

#[test]
fn root_that_is_not_a_mapping_is_rejected() {
    let e = invalid("- a\n- b\n");
    assert_eq!(e.object, ORIGIN);
    assert!(paths(&e).contains(&"<root>"), "{e}");
}

// ---------------------------------------------------------------- bounds

#[test]
fn out_of_range_values_are_rejected() {
    let cases = [
        (
            "{api: {autoscaling: {maxReplicas: 0}}}",
            "spec.api.autoscaling.maxReplicas",
            "greater than or equal to 1",
        ),
        ("{api: {port: 70000}}", "spec.api.port", "less than or equal to 65535"),
        ("{worker: {metricsPort: 0}}", "spec.worker.metricsPort", "greater than or equal to 1"),
        ("{websocket: {replicas: -1}}", "spec.websocket.replicas", "greater than or equal to 0"),
        (
            "{api: {autoscaling: {targetCpuUtilization: 101}}}",
            "spec.api.autoscaling.targetCpuUtilization",
            "less than or equal to 100",
        ),
        ("{chromadb: {replicas: 2}}", "spec.chromadb.replicas", "less than or equal to 1"),
        ("{redis: {host: r, database: 16}}", "spec.redis.database", "less than or equal to 15"),
        (
            "{api: {podDisruptionBudget: {maxUnavailable: 0}}}",
            "spec.api.podDisruptionBudget.maxUnavailable",
            "greater than or equal to 1",
        ),
    ];
    for (spec, path, message) in cases {
        assert_single(&invalid(&doc(spec)), path, message);
    }
}

#[test]
fn integer_beyond_int32_is_rejected() {
    let e = invalid(&doc("{api: {port: 99999999999}}"));
    assert!(paths(&e).iter().all(|p| *p == "spec.api.port"), "{e}");
    assert!(e.errors.iter().any(|f| f.message == "must fit in a 32-bit integer"), "{e}");
}

#[test]
fn string_lengths_are_enforced() {
    assert_single(&invalid(&doc("{image: {tag: \"\"}}")), "spec.image.tag", "must not be empty");
    let long_tag = "t".repeat(129);
    assert_single(
        &invalid(&doc(&format!("{{image: {{tag: {long_tag}}}}}"))),
        "spec.image.tag",
        "at most 128",
    );
    assert_single(&invalid(&doc("{redis: {host: \"\"}}")), "spec.redis.host", "must not be empty");
}

// ---------------------------------------------------------------- enums and patterns

#[test]
fn enum_violation_lists_the_supported_values() {
    let e = invalid(&doc("{image: {pullPolicy: Sometimes}}"));
    assert_single(&e, "spec.image.pullPolicy", "Unsupported value \"Sometimes\"");
    assert!(e.errors[0].message.contains("Always, IfNotPresent, Never"), "{e}");

    let e = invalid(&doc("{postgres: {host: pg, sslMode: verify-everything}}"));
    assert_single(
        &e,
        "spec.postgres.sslMode",
        "supported values: disable, prefer, require, verify-ca, verify-full",
    );
}

// ---------------------------------------------------------------- dependency TLS

const REDIS_PW: &str = "passwordSecretRef: {name: r, key: pw}";
const PG_PW: &str = "passwordSecretRef: {name: p, key: pw}";

#[test]
fn passwords_default_to_verified_tls() {
    let xa = valid(&doc(&format!("{{redis: {{host: r, {REDIS_PW}}}, postgres: {{host: p, {PG_PW}}}}}")));
    let (redis, postgres) = (xa.spec.redis.unwrap(), xa.spec.postgres.unwrap());
    assert!(redis.tls && !redis.insecure_skip_verify && !redis.allow_insecure_password);
    assert_eq!(postgres.ssl_mode, crate::crd::SslMode::VerifyFull);
    valid(&doc(&format!("{{postgres: {{host: p, sslMode: verify-ca, {PG_PW}}}}}")));
}

#[test]
fn a_password_over_an_unverified_transport_needs_the_insecure_opt_in() {
    let refused = [
        (format!("{{redis: {{host: r, tls: false, {REDIS_PW}}}}}"), "spec.redis"),
        (format!("{{redis: {{host: r, insecureSkipVerify: true, {REDIS_PW}}}}}"), "spec.redis"),
        (format!("{{postgres: {{host: p, sslMode: require, {PG_PW}}}}}"), "spec.postgres"),
        (format!("{{postgres: {{host: p, sslMode: prefer, {PG_PW}}}}}"), "spec.postgres"),
        (format!("{{postgres: {{host: p, sslMode: disable, {PG_PW}}}}}"), "spec.postgres"),
    ];
    for (spec, path) in &refused {
        assert_single(&invalid(&doc(spec)), path, "set allowInsecurePassword: true");
        let opted_in = spec.replacen("host:", "allowInsecurePassword: true, host:", 1);
        valid(&doc(&opted_in));
    }
    // Without a password there is nothing to leak.
    valid(&doc("{redis: {host: r, tls: false}, postgres: {host: p, sslMode: disable}}"));
}

#[test]
fn trust_settings_that_would_be_ignored_are_refused() {
    let cases = [
        ("{redis: {host: r, tls: false, serverName: x}}", "spec.redis", "apply only with tls: true"),
        (
            "{redis: {host: r, insecureSkipVerify: true, ca: {configMapRef: {name: c, key: k}}}}",
            "spec.redis",
            "would be ignored",
        ),
        (
            "{postgres: {host: p, sslMode: require, ca: {configMapRef: {name: c, key: k}}}}",
            "spec.postgres",
            "ca applies only",
        ),
        (
            "{postgres: {host: p, sslMode: verify-ca, serverName: x}}",
            "spec.postgres",
            "serverName applies only",
        ),
        ("{redis: {host: r, ca: {}}}", "spec.redis.ca", "exactly one of ca.secretRef and ca.configMapRef"),
        (
            "{redis: {host: r, ca: {secretRef: {name: s, key: k}, configMapRef: {name: c, key: k}}}}",
            "spec.redis.ca",
            "exactly one",
        ),
    ];
    for (spec, path, message) in cases {
        assert_single(&invalid(&doc(spec)), path, message);
    }
    valid(&doc("{postgres: {host: 10.0.0.5, serverName: pg.data, ca: {secretRef: {name: s, key: ca.crt}}}}"));
}

#[test]
fn pattern_violation_names_the_value_and_the_pattern() {
    let e = invalid(&doc("{api: {resources: {requests: {cpu: 250m, memory: lots}}}}"));
    assert_single(&e, "spec.api.resources.requests.memory", "\"lots\" does not match the pattern");
    let e = invalid(&doc("{worker: {resources: {limits: {cpu: 2 cores, memory: 1Gi}}}}"));
    assert_single(&e, "spec.worker.resources.limits.cpu", "does not match the pattern");
    let e = invalid(&doc("{chromadb: {storage: {size: 20 gigs}}}"));
    assert_single(&e, "spec.chromadb.storage.size", "does not match the pattern");
}

#[test]
fn valid_quantities_pass_the_patterns() {
    let xa = valid(&doc(
        "{api: {resources: {requests: {cpu: \"0.5\", memory: 1.5Gi}, limits: {cpu: 1500m, memory: \"2048\"}}}}",
    ));
    assert_eq!(xa.spec.api.resources.requests.memory, "1.5Gi");
    assert_eq!(xa.spec.api.resources.limits.cpu, "1500m");
}

#[test]
fn required_fields_of_a_given_block_are_enforced() {
    let e = invalid(&doc("{redis: {port: 6380}}"));
    assert_single(&e, "spec.redis.host", "Required value");
    let e = invalid(&doc("{api: {resources: {requests: {memory: 1Gi}}}}"));
    assert_single(&e, "spec.api.resources.requests.cpu", "Required value");
}

// ---------------------------------------------------------------- CEL rules

#[test]
fn cel_rejects_min_replicas_above_max_replicas() {
    let e = invalid(&doc("{api: {autoscaling: {minReplicas: 5, maxReplicas: 3}}}"));
    assert_eq!(paths(&e), vec!["spec.api"], "{e}");
    assert_eq!(e.errors[0].message, MIN_GT_MAX);
    assert_eq!(e.object, "default/bad");
}

#[test]
fn cel_rule_applies_to_every_component() {
    let e = invalid(&doc(
        "{api: {autoscaling: {minReplicas: 5, maxReplicas: 3}}, websocket: {autoscaling: {enabled: true, minReplicas: 11}}}",
    ));
    // Sorted: kube's CEL engine reports failures in hash-map order (see tests/render.rs).
    let mut got = paths(&e);
    got.sort_unstable();
    assert_eq!(got, vec!["spec.api", "spec.websocket"], "{e}");
    assert!(e.errors.iter().all(|f| f.message == MIN_GT_MAX), "{e}");
}

#[test]
fn cel_min_replicas_rule_is_skipped_while_autoscaling_is_disabled() {
    let xa = valid(&doc("{api: {autoscaling: {enabled: false, minReplicas: 5, maxReplicas: 3}}}"));
    assert!(!xa.spec.api.autoscaling.enabled);
}

#[test]
fn cel_accepts_min_replicas_equal_to_max_replicas() {
    let xa = valid(&doc("{api: {autoscaling: {minReplicas: 4, maxReplicas: 4}}}"));
    assert_eq!(xa.spec.api.autoscaling.min_replicas, 4);
}

// ---------------------------------------------------------------- header

#[test]
fn name_of_54_characters_breaks_the_cel_length_rule() {
    let name = name_of(54);
    let e = invalid(&format!(
        "apiVersion: xagent.io/v1alpha1\nkind: XAgent\nmetadata: {{name: {name}, namespace: default}}\nspec: {{}}\n"
    ));
    assert_eq!(e.errors.len(), 1, "{e}");
    assert_eq!(e.errors[0].message, NAME_TOO_LONG);
    assert_eq!(e.errors[0].path, "metadata.name");
    assert_eq!(e.object, format!("default/{name}"));
}

#[test]
fn name_of_53_characters_is_accepted() {
    let name = name_of(53);
    let xa = valid(&format!(
        "apiVersion: xagent.io/v1alpha1\nkind: XAgent\nmetadata: {{name: {name}}}\nspec: {{}}\n"
    ));
    assert_eq!(xa.metadata.name, Some(name));
}

#[test]
fn name_that_is_not_a_dns_label_is_rejected() {
    for name in ["Bad", "bad_name", "bad-", "-bad", "\"\"", "bad.name"] {
        let e = invalid(&format!(
            "apiVersion: xagent.io/v1alpha1\nkind: XAgent\nmetadata: {{name: {name}}}\nspec: {{}}\n"
        ));
        assert_single(&e, "metadata.name", "lowercase RFC 1123 label");
    }
}

#[test]
fn wrong_api_version_and_kind_are_rejected() {
    let e = invalid("apiVersion: xagent.io/v1\nkind: XAgent\nmetadata: {name: bad}\nspec: {}\n");
    assert_single(&e, "apiVersion", "must be xagent.io/v1alpha1, got \"xagent.io/v1\"");
    let e = invalid("apiVersion: xagent.io/v1alpha1\nkind: Agent\nmetadata: {name: bad}\nspec: {}\n");
    assert_single(&e, "kind", "must be XAgent, got \"Agent\"");
    let e = invalid("apiVersion: 1\nkind: XAgent\nmetadata: {name: bad}\nspec: {}\n");
    assert_single(&e, "apiVersion", "got integer");
    let e = invalid("metadata: {name: bad}\nspec: {}\n");
    assert_eq!(paths(&e), vec!["apiVersion", "kind"], "{e}");
    assert!(e.errors[0].message.contains("the field is missing"), "{e}");
}

#[test]
fn missing_name_is_required_and_the_origin_labels_the_error() {
    let e =
        invalid("apiVersion: xagent.io/v1alpha1\nkind: XAgent\nmetadata: {namespace: default}\nspec: {}\n");
    assert_single(&e, "metadata.name", "Required value");
    assert_eq!(e.object, ORIGIN);
    assert!(e.to_string().starts_with(&format!("XAgent {ORIGIN} is invalid: ")), "{e}");

    let e = invalid("apiVersion: xagent.io/v1alpha1\nkind: XAgent\nspec: {}\n");
    assert_single(&e, "metadata.name", "Required value");
}

#[test]
fn name_without_namespace_labels_the_error_by_name() {
    let e = invalid(
        "apiVersion: xagent.io/v1alpha1\nkind: XAgent\nmetadata: {name: lonely}\nspec: {api: {port: 0}}\n",
    );
    assert_eq!(e.object, "lonely");
}

#[test]
fn wrong_metadata_type_is_reported_under_metadata() {
    let e = invalid(
        "apiVersion: xagent.io/v1alpha1\nkind: XAgent\nmetadata: {name: bad, labels: [1]}\nspec: {}\n",
    );
    assert!(paths(&e).iter().all(|p| p.starts_with("metadata")), "{e}");
}

// ---------------------------------------------------------------- collecting errors

#[test]
fn several_errors_are_reported_together() {
    let e = invalid(
        "apiVersion: v1\nkind: XAgent\nmetadata: {name: Bad, namespace: default}\n\
         spec: {api: {replica: 3, port: 0}, image: {pullPolicy: Sometimes}, worker: {resources: {requests: {cpu: x, memory: 1Gi}}}}\n",
    );
    let mut got = paths(&e);
    assert_eq!(&got[..2], ["apiVersion", "metadata.name"], "header errors first: {e}");
    got.sort_unstable();
    assert_eq!(
        got,
        vec![
            "apiVersion",
            "metadata.name",
            "spec.api.port",
            "spec.api.replica",
            "spec.image.pullPolicy",
            "spec.worker.resources.requests.cpu",
        ],
        "{e}"
    );
    let text = e.to_string();
    assert!(text.starts_with("XAgent default/Bad is invalid: "), "{text}");
    assert_eq!(text.matches("; ").count(), 5, "errors are joined with `; `: {text}");
}

#[test]
fn field_error_displays_as_path_and_message() {
    let f =
        FieldError { path: "spec.api.port".into(), message: "must be less than or equal to 65535".into() };
    assert_eq!(f.to_string(), "spec.api.port: must be less than or equal to 65535");
}

// ---------------------------------------------------------------- revalidate

fn typed(name: &str, spec: XAgentSpec) -> XAgent {
    let mut xa = XAgent::new(name, spec);
    xa.metadata = ObjectMeta { namespace: Some("ns".into()), ..xa.metadata };
    xa
}

/// The all-defaults spec built by serde alone, the way the controller's typed client builds it.
fn default_spec() -> XAgentSpec {
    serde_json::from_value(serde_json::json!({})).expect("every spec field has a serde default")
}

#[test]
fn serde_defaults_match_the_schema_defaults() {
    assert_eq!(default_spec(), valid(&doc("{}")).spec);
}

#[test]
fn revalidate_accepts_a_valid_typed_xagent() {
    revalidate(&typed("demo", default_spec())).expect("a Rust-built default XAgent is valid");
    let sample = valid(include_str!("../../config/samples/xagent.yaml"));
    revalidate(&sample).expect("the parsed full sample stays valid");
}

#[test]
fn revalidate_rejects_what_an_older_api_server_let_through() {
    let mut spec = default_spec();
    spec.worker.autoscaling.min_replicas = 8;
    spec.worker.autoscaling.max_replicas = 3;
    spec.api.port = 0;
    let e = revalidate(&typed("demo", spec.clone())).expect_err("port 0 breaks the schema");
    assert_eq!(e.object, "ns/demo");
    assert_eq!(paths(&e), vec!["spec.api.port"], "schema errors are reported before CEL runs: {e}");

    spec.api.port = 8000;
    let e = revalidate(&typed("demo", spec)).expect_err("min > max breaks the CEL rule");
    assert_eq!(paths(&e), vec!["spec.worker"], "{e}");
    assert_eq!(e.errors[0].message, MIN_GT_MAX);

    let e = revalidate(&typed(&name_of(60), default_spec())).expect_err("60 characters is too long");
    assert_eq!(e.errors[0].message, NAME_TOO_LONG);
}

#[test]
fn a_component_port_equal_to_its_metrics_port_is_rejected() {
    let e = invalid(&doc("{api: {port: 9090}}"));
    assert_eq!(e.errors.len(), 1, "{e}");
    assert_eq!(e.errors[0].path, "spec.api");
    assert!(e.errors[0].message.contains("port and metricsPort must differ"), "{e}");
}

#[test]
fn names_must_start_with_a_letter() {
    let e = invalid(
        "apiVersion: xagent.io/v1alpha1\nkind: XAgent\nmetadata: {name: 1agent, namespace: default}\nspec: {}\n",
    );
    assert_eq!(e.errors[0].path, "metadata.name");
    assert!(e.errors[0].message.contains("must start with a letter"), "{e}");
}

#[test]
fn chromadb_needs_a_name_of_at_most_43_characters() {
    let manifest = |name: &str, enabled: bool| {
        format!(
            "apiVersion: xagent.io/v1alpha1\nkind: XAgent\nmetadata: {{name: {name}, namespace: default}}\n\
             spec: {{chromadb: {{enabled: {enabled}}}}}\n"
        )
    };
    let e = invalid(&manifest(&name_of(44), true));
    assert!(e.errors[0].message.contains("at most 43 characters with chromadb enabled"), "{e}");
    valid(&manifest(&name_of(43), true));
    valid(&manifest(&name_of(44), false));
}

#[test]
fn unknown_fields_are_rejected_by_validation_but_tolerated_when_reading_from_the_cluster() {
    // A newer CRD may store fields this operator does not know: the watch must
    // still read the object (a failed decode would stall the whole list) ...
    let stored = serde_json::json!({
        "apiVersion": "xagent.io/v1alpha1", "kind": "XAgent",
        "metadata": {"name": "demo", "namespace": "default"},
        "spec": {"api": {"futureKnob": true}}
    });
    let typed: XAgent = serde_json::from_value(stored.clone()).expect("lenient decode");
    assert_eq!(typed.spec.api.port, 8000);
    // ... while render and kubectl-style validation still name the field.
    let e = parse_xagent(stored, "x").unwrap_err();
    assert_eq!(e.errors[0].path, "spec.api.futureKnob");
}

mod equivalence;
mod pod_settings;
mod reference;

#[test]
fn defaulted_blocks_left_out_are_not_read_back_and_read_as_if_they_were() {
    let implied = &super::compiled_all().implied;
    for block in ["image", "api", "websocket", "worker", "chromadb", "monitoring", "networkPolicy"] {
        assert!(implied.iter().any(|name| name == block), "{block} is not in {implied:?}");
    }
    // Each default spelled out reads into the same spec as all of them left out.
    let spelled: serde_json::Map<String, Value> = super::spec_node()
        .walked_defaults()
        .filter(|(name, _)| implied.iter().any(|i| i == name))
        .map(|(name, default)| (name.to_string(), default.clone()))
        .collect();
    assert_eq!(spelled.len(), implied.len());
    let document = serde_json::json!({"apiVersion": "xagent.io/v1alpha1", "kind": "XAgent",
        "metadata": {"name": "bad", "namespace": "default"}, "spec": spelled});
    let spelled = parse_xagent(document, ORIGIN).expect("the defaults are valid");
    assert_eq!(spelled.spec, valid(&doc("{}")).spec);
}
