//! The generated CRD: `crds/` must hold exactly what `xagent-operator crd`
//! prints, and the CRD must carry the names, columns, docs and rules users rely on.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionVersion,
};
use kube::CustomResourceExt;
use serde_json::Value;
use xagent_operator::crd::{XAgent, crd_yaml};

const CRD_FILE: &str = "crds/xagent.io_xagents.yaml";
const MIN_MAX_RULE: &str =
    "!self.autoscaling.enabled || self.autoscaling.minReplicas <= self.autoscaling.maxReplicas";

fn crd() -> CustomResourceDefinition {
    XAgent::crd()
}

fn version(crd: &CustomResourceDefinition) -> &CustomResourceDefinitionVersion {
    assert_eq!(crd.spec.versions.len(), 1, "one served version");
    &crd.spec.versions[0]
}

/// The openAPIV3Schema as plain JSON.
fn schema() -> Value {
    let crd = crd();
    let schema = version(&crd).schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref());
    serde_json::to_value(schema.expect("the CRD has a schema")).unwrap()
}

#[test]
fn crd_file_is_up_to_date() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(CRD_FILE);
    let stored = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let generated = crd_yaml();
    if stored != generated.as_bytes() {
        let stored = String::from_utf8_lossy(&stored);
        let line = stored.lines().zip(generated.lines()).position(|(s, g)| s != g);
        match line {
            Some(i) => eprintln!(
                "first difference at line {}:\n  stored:    {}\n  generated: {}",
                i + 1,
                stored.lines().nth(i).unwrap_or_default(),
                generated.lines().nth(i).unwrap_or_default()
            ),
            None => eprintln!(
                "stored has {} lines, generated has {} lines",
                stored.lines().count(),
                generated.lines().count()
            ),
        }
        // Not `xagent-operator crd > …`: the binary prints the file it was built with.
        panic!("crds/xagent.io_xagents.yaml is stale: run `UPDATE_GENERATED=1 cargo test --test generated`");
    }
}

#[test]
fn crd_subcommand_prints_crd_yaml() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xagent-operator"))
        .arg("crd")
        .output()
        .expect("run xagent-operator crd");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), crd_yaml());
}

#[test]
fn crd_yaml_round_trips_to_the_typed_crd() {
    let parsed: CustomResourceDefinition = serde_yaml::from_str(&crd_yaml()).expect("crd_yaml is a CRD");
    assert_eq!(parsed, crd());
}

#[test]
fn names_group_version_and_scope() {
    let crd = crd();
    assert_eq!(crd.metadata.name.as_deref(), Some("xagents.xagent.io"));
    assert_eq!(crd.spec.group, "xagent.io");
    assert_eq!(crd.spec.scope, "Namespaced");
    let names = &crd.spec.names;
    assert_eq!(names.kind, "XAgent");
    assert_eq!(names.plural, "xagents");
    assert_eq!(names.singular.as_deref(), Some("xagent"));
    assert_eq!(names.short_names.as_deref(), Some(&["xa".to_string()][..]));
    let v = version(&crd);
    assert_eq!(v.name, "v1alpha1");
    assert!(v.served && v.storage, "v1alpha1 is served and stored");
}

#[test]
fn an_unreconciled_xagent_defaults_to_generation_zero_observed() {
    // kstatus calls a resource without observedGeneration Current.
    assert_eq!(
        schema().pointer("/properties/status/default"),
        Some(&serde_json::json!({"observedGeneration": 0}))
    );
}

#[test]
fn status_is_a_subresource() {
    let crd = crd();
    let sub = version(&crd).subresources.as_ref().expect("subresources");
    assert!(sub.status.is_some(), "the status subresource is enabled");
    assert!(sub.scale.is_none());
    let schema = schema();
    assert_eq!(schema.pointer("/properties/status/type"), Some(&Value::from("object")));
}

#[test]
fn printer_columns() {
    let crd = crd();
    let columns = version(&crd).additional_printer_columns.as_ref().expect("printer columns");
    let got: Vec<(&str, &str, &str)> =
        columns.iter().map(|c| (c.name.as_str(), c.type_.as_str(), c.json_path.as_str())).collect();
    assert_eq!(
        got,
        vec![
            ("Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status"),
            ("Reason", "string", ".status.conditions[?(@.type==\"Ready\")].reason"),
            ("API", "string", ".status.components.api.summary"),
            ("Workers", "string", ".status.components.worker.summary"),
            ("Redis", "string", ".status.conditions[?(@.type==\"RedisReady\")].status"),
            ("Postgres", "string", ".status.conditions[?(@.type==\"PostgresReady\")].status"),
            ("Age", "date", ".metadata.creationTimestamp"),
            ("Message", "string", ".status.conditions[?(@.type==\"Ready\")].message"),
        ]
    );
    let wide: Vec<&str> =
        columns.iter().filter(|c| c.priority.unwrap_or(0) > 0).map(|c| c.name.as_str()).collect();
    assert_eq!(wide, ["Message"], "the long message only with -o wide");
    for c in columns.iter().filter(|c| c.name != "Age") {
        assert!(
            c.description.as_deref().is_some_and(|d| !d.is_empty()),
            "column {} has a description",
            c.name
        );
    }
}

/// Pushes the path of every property under `schema` that lacks a description.
fn undocumented(schema: &Value, path: &str, missing: &mut Vec<String>, seen: &mut usize) {
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (key, sub) in props {
            let child = format!("{path}.{key}");
            *seen += 1;
            let described =
                sub.get("description").and_then(Value::as_str).is_some_and(|d| !d.trim().is_empty());
            if !described {
                missing.push(child.clone());
            }
            undocumented(sub, &child, missing, seen);
        }
    }
    if let Some(items) = schema.get("items") {
        undocumented(items, &format!("{path}[]"), missing, seen);
    }
    if let Some(extra) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        undocumented(extra, &format!("{path}{{}}"), missing, seen);
    }
}

#[test]
fn every_spec_property_is_described() {
    let schema = schema();
    let spec = schema.pointer("/properties/spec").expect("spec schema");
    assert!(spec.get("description").and_then(Value::as_str).is_some_and(|d| !d.is_empty()));
    let (mut missing, mut seen) = (Vec::new(), 0);
    undocumented(spec, "spec", &mut missing, &mut seen);
    assert!(seen > 50, "the walk must reach nested properties, saw only {seen}");
    assert!(
        missing.is_empty(),
        "properties without a description (kubectl explain shows nothing): {missing:#?}"
    );
}

#[test]
fn every_component_carries_the_min_max_replicas_rule() {
    let schema = schema();
    for component in ["api", "websocket", "worker"] {
        let rules = schema
            .pointer(&format!("/properties/spec/properties/{component}/x-kubernetes-validations"))
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("spec.{component} has no x-kubernetes-validations"));
        let rule = rules
            .iter()
            .find(|r| r["rule"] == MIN_MAX_RULE)
            .unwrap_or_else(|| panic!("spec.{component} lacks the minReplicas<=maxReplicas rule: {rules:?}"));
        assert_eq!(
            rule["message"],
            "autoscaling.minReplicas must be less than or equal to autoscaling.maxReplicas"
        );
    }
}

#[test]
fn root_carries_the_name_length_rule() {
    let schema = schema();
    let rules = schema.get("x-kubernetes-validations").and_then(Value::as_array).expect("root rules");
    assert!(rules.iter().any(|r| r["rule"] == "self.metadata.name.size() <= 53"), "{rules:?}");
}

#[test]
fn spec_defaults_are_published() {
    let schema = schema();
    let api = schema.pointer("/properties/spec/properties/api/default").expect("spec.api default");
    assert_eq!(api["autoscaling"]["minReplicas"], 2);
    assert_eq!(api["autoscaling"]["maxReplicas"], 10);
    let ws = schema.pointer("/properties/spec/properties/websocket/default").expect("spec.websocket default");
    assert_eq!(ws["autoscaling"]["enabled"], false);
    assert_eq!(ws["port"], 8001);
    let pull = schema.pointer("/properties/spec/properties/image/properties/pullPolicy").unwrap();
    assert_eq!(pull["enum"], serde_json::json!(["Always", "IfNotPresent", "Never"]));
}

/// Paths below `spec` of every object shaped like a key reference (exactly
/// `name` and `key`) that is not a ConfigMap's, or named `…SecretRef` /
/// `secretRef`.
fn secret_references(schema: &Value, path: &str, found: &mut Vec<String>) {
    let Some(properties) = schema["properties"].as_object() else { return };
    for (field, child) in properties {
        let child_path = if path.is_empty() { field.clone() } else { format!("{path}.{field}") };
        let keys: Vec<&String> =
            child["properties"].as_object().map(|p| p.keys().collect()).unwrap_or_default();
        let config_map = field.to_lowercase().ends_with("configmapref");
        if field.ends_with("SecretRef") || field == "secretRef" || (keys == ["key", "name"] && !config_map) {
            found.push(child_path);
        } else {
            secret_references(child, &child_path, found);
        }
    }
}

#[test]
fn the_secret_access_policy_covers_every_secret_reference_of_the_spec() {
    let mut found = Vec::new();
    secret_references(&schema()["properties"]["spec"], "", &mut found);
    found.sort();
    let mut covered: Vec<String> =
        xagent_operator::policy::SECRET_REFERENCES.iter().map(|p| p.to_string()).collect();
    covered.sort();
    assert!(!found.is_empty(), "the walk found no Secret reference at all");
    assert_eq!(found, covered, "add new Secret references to policy::SECRET_REFERENCES");
}

/// What client-side `kubectl apply` (and so `kubectl apply -k config/default`)
/// stores of an object in its last-applied-configuration annotation: the
/// object as compact JSON. The API server refuses annotations above 256 KiB,
/// so a CRD above it installs only with `--server-side`.
const LAST_APPLIED_LIMIT: usize = 262_144;

#[test]
fn the_crd_still_installs_with_client_side_kubectl_apply() {
    let size = serde_json::to_string(&crd()).expect("the CRD serializes").len();
    assert!(
        size < LAST_APPLIED_LIMIT * 9 / 10,
        "the CRD is {size} bytes as compact JSON, within 10 % of the {LAST_APPLIED_LIMIT}-byte annotation \
         limit that `kubectl apply` without --server-side hits: share a schema, or trim upstream descriptions"
    );
}
