//! The compiled schema walk and the CEL evaluator against what they replace:
//! the walk over the raw schema as it was, and kube's own CEL engine. Both
//! must agree on every document of a corpus that breaks each rule.

use serde_json::{Value, json};

use super::super::schema::{Node, Path};
use super::super::{rules, schema, spec_schema};
use super::reference;
use crate::validate::FieldError;

/// Specs (flow-style YAML) that break, or nearly break, each schema keyword
/// and each CEL rule, with the samples' specs and some that are not even
/// objects where objects belong.
fn specs() -> Vec<String> {
    let mut specs: Vec<String> = [
        "{}",
        "{chromadb: {enabled: true}}",
        "{api: {replicas: 3, port: 8080}}",
        "{api: {replicas: two}}",
        "{api: {replicas: 1.5}}",
        "{api: 3}",
        "{api: null, worker: {port: null}}",
        "{api: {replica: 3}}",
        "{image: {pullPolicy: Sometimes}}",
        "{api: {port: 70000}, worker: {port: 0}}",
        "{api: {replicas: 99999999999}}",
        "{api: {autoscaling: {minReplicas: 5, maxReplicas: 3}}}",
        "{api: {autoscaling: {enabled: false, minReplicas: 5, maxReplicas: 3}}}",
        "{api: {autoscaling: {targetCpuUtilization: 0, targetMemoryUtilization: 0}}}",
        "{websocket: {autoscaling: {enabled: true, minReplicas: 11}}}",
        "{api: {port: 9090, metricsPort: 9090}}",
        "{api: {resources: {requests: {cpu: 1, memory: lots}}}}",
        "{api: {resources: {requests: {cpu: '0.5', memory: 1Gi}, limits: {cpu: 2, memory: 2Gi}}}}",
        "{api: {strategy: {maxSurge: '25%', maxUnavailable: 0}}}",
        "{api: {strategy: {maxSurge: 0, maxUnavailable: 0}}}",
        "{api: {strategy: {type: Recreate, maxSurge: 0, maxUnavailable: 0}}}",
        "{api: {strategy: {maxSurge: 'lots', maxUnavailable: '101%'}}}",
        "{api: {strategy: {maxSurge: true}}}",
        "{api: {podLabels: {app.kubernetes.io/instance: other}}}",
        "{worker: {podLabels: {team: 'two words'}}}",
        "{chromadb: {podLabels: {'-bad': x}}}",
        "{websocket: {podAnnotations: {'has space': x}}}",
        "{api: {podLabels: {example.com/team: agents, tier: ''}, podAnnotations: {a/b: 'any text'}}}",
        "{api: {podSecurityContext: {seccompProfile: {type: Localhost}}}}",
        "{api: {podSecurityContext: {seccompProfile: {type: RuntimeDefault, localhostProfile: x}}}}",
        "{api: {serviceAccount: {create: false, name: x, annotations: {a: b}}}}",
        "{api: {serviceAccount: {create: true, name: x, annotations: {'bad key': b}}}}",
        "{api: {volumeMounts: [{name: a, mountPath: /a}]}}",
        "{api: {volumes: [{name: a, configMap: {name: c}}, {name: a, secret: {secretName: s}}], \
          volumeMounts: [{name: a, mountPath: /tmp}, {name: a, mountPath: /tmp}]}}",
        "{api: {volumes: [{name: tmp, emptyDir: {}}, {name: b}, {name: c, configMap: {name: c}, emptyDir: {}}]}}",
        "{api: {topologySpreadConstraints: [{topologyKey: k, maxSkew: 1}, {topologyKey: k, maxSkew: 2}]}}",
        "{api: {topologySpreadConstraints: [{topologyKey: k, whenUnsatisfiable: ScheduleAnyway}, {topologyKey: k}]}}",
        "{api: {env: [{name: A, value: '1'}, {name: A, value: '2'}], probes: {liveness: {path: health}}}}",
        "{worker: {probes: {startup: {failureThreshold: 0}}}}",
        "{redis: {host: redis}, postgres: {host: pg}}",
        "{redis: {host: r, tls: false, passwordSecretRef: {name: s, key: k}}}",
        "{redis: {host: r, tls: false, insecureSkipVerify: true, serverName: x}}",
        "{redis: {host: r, ca: {secretRef: {name: a, key: b}, configMapRef: {name: c, key: d}}}}",
        "{redis: {host: r, probe: {intervalSeconds: 5, timeoutSeconds: 5}}}",
        "{postgres: {host: p, sslMode: disable, passwordSecretRef: {name: s, key: k}, serverName: x, ca: {}}}",
        "{postgres: {host: p, sslMode: verify-ca, serverName: x}}",
        "{monitoring: {alertmanagerConfig: {}}}",
        "{monitoring: {alertmanagerConfig: {slack: {channel: '#x', apiUrlSecretRef: {name: a, key: b}}, \
          routes: {critical: [pagerduty, slack, slack], high: [email], warning: [webhook]}}}}",
        "{monitoring: {alertmanagerConfig: {email: {to: a@b.c, from: x@y.z, smarthost: 'h:25', authUsername: u}}}}",
        "{monitoring: {prometheusRule: {alerts: {XAgentAPIDown: {threshold: 2}, NotAnAlert: {enabled: false}}}}}",
        "{monitoring: {prometheusRule: {groups: {api: false}}, dashboard: {enabled: true, labels: {a: b}}}}",
        "{monitoring: {team: 'platform: core', serviceMonitor: {interval: 15s}}}",
        "{networkPolicy: {enabled: true, allowFrom: [{namespaceSelector: {matchLabels: {a: b}}}]}}",
        "{ingress: {host: x.example.com, annotations: {a: '1'}, tls: {secretName: t}}}",
        "{envFrom: [{configMapRef: {name: c}}], imagePullSecrets: [{name: p}]}",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/samples");
    for sample in ["xagent.yaml", "xagent-minimal.yaml", "xagent-everything.yaml", "xagent-openshift.yaml"] {
        let text = std::fs::read_to_string(root.join(sample)).expect("sample");
        let doc: Value = serde_yaml::from_str(&text).expect("sample YAML");
        specs.push(serde_json::to_string(&doc["spec"]).expect("JSON is YAML"));
    }
    specs
}

fn spec(yaml: &str) -> Value {
    serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("test YAML {yaml}: {e}"))
}

fn sorted(mut errors: Vec<FieldError>) -> Vec<FieldError> {
    errors.sort_by(|a, b| (&a.path, &a.message).cmp(&(&b.path, &b.message)));
    errors
}

#[test]
fn the_compiled_walk_matches_the_raw_schema_walk() {
    let raw = spec_schema();
    let node = Node::compile(&raw);
    for yaml in specs() {
        let value = spec(&yaml);
        let mut compiled_errors = Vec::new();
        let compiled = node.walk(value.clone(), &Path::Root("spec"), &mut compiled_errors);
        let mut reference_errors = Vec::new();
        let expected = reference::walk(&raw, value, "spec", &mut reference_errors);
        assert_eq!(compiled, expected, "defaulted value of {yaml}");
        assert_eq!(sorted(compiled_errors), sorted(reference_errors), "errors of {yaml}");
    }
}

#[test]
fn the_compiled_walk_matches_on_any_schema() {
    // Keywords the XAgent schema does not use, as check_against_schema meets them.
    let schema = json!({
        "type": "object",
        "required": ["a"],
        "maxProperties": 3,
        "properties": {
            "a": {"type": "string", "enum": ["x", "y", 1], "pattern": "([", "minLength": 2},
            "b": {"type": "number", "minimum": 0.5, "maximum": 2.5, "default": 1},
            "c": {"type": "array", "minItems": 2, "items": true},
            "d": {"x-kubernetes-int-or-string": true, "type": "string", "default": true},
            "e": {"type": "wat"},
            "f": {"properties": {}, "x-kubernetes-preserve-unknown-fields": true, "type": "object"},
            "g": {"type": "object", "additionalProperties": {"type": "integer", "format": "int32"}},
            "h": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k/x", "j"],
                  "items": {"type": "object", "properties": {"j": {"type": "string", "default": "d"}}}}
        }
    });
    let node = Node::compile(&schema);
    let values = [
        json!({}),
        json!({"a": "x", "b": 3, "c": [1], "d": 1.5, "e": null, "f": {"z": 1}, "g": {"n": 3_000_000_000_i64}}),
        json!({"a": 1, "b": 0.1, "c": [1, 2], "e": 5, "g": {"n": "no"}, "h": [{"k/x": 1}, {"k/x": 1, "j": "d"}]}),
        json!({"a": "abc", "zz": 1, "h": [{"j": "a"}, {"j": "a"}, 3]}),
        json!([1]),
        json!("text"),
    ];
    for value in values {
        let mut compiled_errors = Vec::new();
        let compiled = node.walk(value.clone(), &Path::Root(""), &mut compiled_errors);
        let mut reference_errors = Vec::new();
        let expected = reference::walk(&schema, value.clone(), "", &mut reference_errors);
        assert_eq!(compiled, expected, "defaulted value of {value}");
        assert_eq!(sorted(compiled_errors), sorted(reference_errors), "errors of {value}");
    }
}

/// A whole XAgent around `spec`, defaulted by the walk as `parse_xagent` defaults it.
fn document(name: &str, spec: Value, status: Option<Value>) -> Value {
    let spec = schema::Node::compile(&spec_schema()).walk(spec, &Path::Root("spec"), &mut Vec::new());
    let mut doc = json!({
        "apiVersion": "xagent.io/v1alpha1", "kind": "XAgent",
        "metadata": {"name": name, "namespace": "default", "labels": {"a.b/c": "d"}},
        "spec": spec,
    });
    if let Some(status) = status {
        doc["status"] = status;
    }
    doc
}

fn failures(mut failures: Vec<rules::Failure>) -> Vec<rules::Failure> {
    failures.sort();
    failures
}

#[test]
fn the_cel_evaluator_fails_exactly_where_kube_fails() {
    // The root rules read the name and whether ChromaDB is on; a status
    // (whose timestamps convert to CEL timestamps, or fail to) rides along.
    let status = json!({"observedGeneration": 3, "conditions": [{"type": "Ready", "status": "True",
        "lastTransitionTime": "2026-01-02T03:04:05Z", "reason": "Ok", "message": "fine"}]});
    let broken = json!({"conditions": [{"lastTransitionTime": "not a time"}], "components": {}});
    let long = "a".repeat(44);
    let cases = [
        ("demo", None),
        ("a-name-of-fifty-four-characters-is-too-long-for-xagent", Some(status)),
        ("9lives", Some(broken)),
        (long.as_str(), None),
    ];
    let mut checked = 0;
    for yaml in specs() {
        for (name, status) in &cases {
            let doc = document(name, spec(&yaml), status.clone());
            let expected = failures(rules::with_kube(&doc));
            assert_eq!(failures(rules::check(&doc)), expected, "{name} with {yaml}");
            // Again, now that every node's value is remembered.
            assert_eq!(failures(rules::check(&doc)), expected, "{name} with {yaml}, remembered");
            checked += 1;
        }
    }
    assert!(checked > 200, "{checked}");
}

#[test]
fn the_cel_evaluator_agrees_on_values_the_schema_would_refuse() {
    // check() runs only after the walk passed, but must not depend on it.
    let docs = [
        json!({"metadata": {"name": 5}, "spec": {"api": "text", "chromadb": {"enabled": "yes"}}}),
        json!({"metadata": {"name": "x"}, "spec": {"api": {"autoscaling": {"enabled": true, "minReplicas": 3.5,
            "maxReplicas": 3}, "podLabels": ["not", "a", "map"], "port": 1, "metricsPort": 1.0}}}),
        json!({"metadata": {"name": "x"}, "spec": {"redis": {"host": "r", "tls": "no", "probe": null}}}),
        json!({"spec": null}),
        json!([1, 2]),
        json!("text"),
    ];
    for doc in docs {
        let expected = failures(rules::with_kube(&doc));
        assert_eq!(failures(rules::check(&doc)), expected, "{doc}");
        assert_eq!(failures(rules::check(&doc)), expected, "{doc}, remembered");
    }
}

#[test]
fn remembered_values_are_told_apart_by_type_and_by_how_entries_split_their_text() {
    // Each value follows one that a looser memo key would confuse it with:
    // the same number as an integer and a float, an int-or-string as either,
    // a label map whose key and value split the same text differently (the
    // value "_c" is refused, "b_c" is not).
    let specs = [
        json!({"api": {"port": 8000, "metricsPort": 8000}}),
        json!({"api": {"port": 8000, "metricsPort": 8000.0}}),
        json!({"api": {"port": 8000, "metricsPort": 9090.0}}),
        json!({"api": {"strategy": {"maxSurge": 0, "maxUnavailable": 0}}}),
        json!({"api": {"strategy": {"maxSurge": "0", "maxUnavailable": 0}}}),
        json!({"api": {"strategy": {"maxSurge": "0%", "maxUnavailable": "0"}}}),
        json!({"api": {"strategy": {"maxSurge": 1, "maxUnavailable": "0"}}}),
        json!({"api": {"podLabels": {"a": "b_c"}}}),
        json!({"api": {"podLabels": {"ab": "_c"}}}),
    ];
    for spec in specs {
        let doc = json!({"apiVersion": "xagent.io/v1alpha1", "kind": "XAgent",
            "metadata": {"name": "demo", "namespace": "default"}, "spec": spec});
        let expected = failures(rules::with_kube(&doc));
        assert_eq!(failures(rules::check(&doc)), expected, "{spec}");
        assert_eq!(failures(rules::check(&doc)), expected, "{spec}, remembered");
    }
}
