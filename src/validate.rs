//! Offline validation of XAgent documents against the CRD's own schema.
//!
//! `render` and the controller must reject exactly what the API server rejects,
//! and an older API server may not enforce every rule, so the generated
//! `openAPIV3Schema` is the single source of truth: this module walks it
//! (types, unknown fields, required, enums, bounds, patterns), applies its
//! defaults as the API server does, then evaluates its CEL rules as kube's
//! client-side CEL engine does, with the programs that engine compiled.
//!
//! Everything taken from the schema is prepared once per process: the walk's
//! compiled nodes (`validate/schema.rs`), the CEL programs and the plan of
//! which fields each rule reads (`validate/rules.rs`). `render` validates thousands of documents in a
//! row, so a document costs only its own walk.

use std::sync::OnceLock;

use kube::Resource;
use kube::core::cel::{CompiledSchema, compile_schema};
use serde::Deserialize;
use serde_json::Value;

use crate::crd::{XAgent, XAgentSpec};

mod rules;
mod schema;

/// Runs `f` on the regex of `pattern` (`None` if it does not compile),
/// built once for the process: the schema's 74 patterns (about 20 distinct)
/// and CEL's `matches` share one compiled program per pattern.
fn with_regex<R>(pattern: &str, f: impl FnOnce(Option<&regex::Regex>) -> R) -> R {
    static BUILT: std::sync::LazyLock<
        std::sync::Mutex<std::collections::HashMap<String, Option<regex::Regex>>>,
    > = std::sync::LazyLock::new(Default::default);
    let mut built = BUILT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if !built.contains_key(pattern) {
        built.insert(pattern.to_string(), regex::Regex::new(pattern).ok());
    }
    f(built.get(pattern).and_then(Option::as_ref))
}

/// One field that breaks the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path of the field, e.g. `spec.api.autoscaling.minReplicas`.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// An XAgent that fails validation, with every offending field.
#[derive(Debug, Clone, thiserror::Error)]
#[error("XAgent {object} is invalid: {}", join(.errors))]
pub struct InvalidXAgent {
    /// `namespace/name` when known, otherwise a description of where it came from.
    pub object: String,
    /// The fields that break the schema, sorted by path.
    pub errors: Vec<FieldError>,
}

fn join(errors: &[FieldError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// The CRD's schema as plain JSON, read from the CRD built into the binary
/// ([`crate::crd::CRD_YAML`]). Not kept: once compiled (below) nothing
/// reads it, and with its descriptions it is most of a megabyte of heap.
fn schema() -> Value {
    let mut crd: Value = serde_yaml::from_str(crate::crd::CRD_YAML).unwrap_or(Value::Null);
    crd.pointer_mut("/spec/versions/0/schema/openAPIV3Schema").map(Value::take).unwrap_or(Value::Null)
}

/// What validation keeps of the schema: its CEL rules compiled, and the
/// spec's schema compiled for the walk, both from one copy of the schema.
struct Compiled {
    rules: CompiledSchema,
    spec: schema::Node,
    /// See [`implied_by_absence`].
    implied: Vec<String>,
}

fn compiled_all() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let schema = schema();
        let spec = schema.pointer("/properties/spec").unwrap_or(&Value::Null);
        let spec = schema::Node::compile(spec);
        let implied = implied_by_absence(&spec);
        Compiled { rules: compile_schema(&schema), spec, implied }
    })
}

/// The spec's fields whose default, as the walk inserts it, reads into the
/// same typed spec as the field left out (a [`crate::crd::defaulted::Defaulted`]
/// block, say), tried once per field here. A document that leaves them out
/// needs their defaults for its CEL rules but not in the typed XAgent: they
/// are taken out again before it is read, which spares reading each into a
/// block and comparing it with the shared default (about 5% of `render`).
fn implied_by_absence(spec: &schema::Node) -> Vec<String> {
    let read = |spec: Value| XAgentSpec::deserialize(spec).ok();
    let Some(absent) = read(serde_json::json!({})) else { return Vec::new() };
    let reads_as_absent = |name: &str, default: &Value| {
        read(Value::Object([(name.to_string(), default.clone())].into_iter().collect())).as_ref()
            == Some(&absent)
    };
    spec.walked_defaults()
        .filter(|(name, default)| reads_as_absent(name, default))
        .map(|(name, _)| name.into())
        .collect()
}

/// The CEL rules of the schema, compiled once.
fn compiled() -> &'static CompiledSchema {
    &compiled_all().rules
}

/// The spec's schema compiled for the walk, built once.
fn spec_node() -> &'static schema::Node {
    &compiled_all().spec
}

/// Compiles what validation keeps for the process (the schema walk, the
/// CEL programs and their plan, the schema's regexes) by validating the
/// default XAgent. The operator calls it once as it starts, before it
/// reports ready: else the first XAgent after a start waits for the
/// compilation, about 60 ms on 2 cores.
pub fn prepare() -> Result<(), InvalidXAgent> {
    let default = serde_json::json!({"apiVersion": "xagent.io/v1alpha1", "kind": "XAgent",
                                     "metadata": {"name": "default", "namespace": "default"}, "spec": {}});
    parse_xagent(default, "the default XAgent").map(drop)
}

/// Validates a raw XAgent document, applies schema defaults and returns the typed object.
///
/// `origin` names the document in errors when it has no name (e.g. `document 2`).
pub fn parse_xagent(value: Value, origin: &str) -> Result<XAgent, InvalidXAgent> {
    let label = object_label(&value, origin);
    // Defaults the typed read does not need (see `implied_by_absence`),
    // named before the walk fills them in and taken out after it.
    let implied: Vec<&String> = match value.get("spec") {
        Some(spec @ Value::Object(_)) => {
            compiled_all().implied.iter().filter(|name| spec.get(name.as_str()).is_none()).collect()
        }
        _ => Vec::new(),
    };
    let mut value = checked(value).map_err(|errors| InvalidXAgent { object: label.clone(), errors })?;
    if let Some(Value::Object(spec)) = value.get_mut("spec") {
        implied.into_iter().for_each(|name| drop(spec.remove(name)));
    }
    XAgent::deserialize(&value).map_err(|e| InvalidXAgent { object: label, errors: vec![unreadable(&e)] })
}

/// `value` held to the schema and its CEL rules, with the schema's
/// defaults applied, or every error, sorted.
fn checked(mut value: Value) -> Result<Value, Vec<FieldError>> {
    let mut errors = Vec::new();
    check_header(&value, &mut errors);
    if let Value::Object(obj) = &mut value {
        match obj.remove("spec") {
            Some(spec @ Value::Object(_)) => {
                let spec = spec_node().walk(spec, &schema::Path::Root("spec"), &mut errors);
                obj.insert("spec".into(), spec);
            }
            Some(Value::Null) | None => {
                push(&mut errors, "spec", "Required value (`spec: {}` takes every default)")
            }
            Some(other) => {
                push(&mut errors, "spec", format!("expected object, got {}", kind_of(&other)));
                obj.insert("spec".into(), other);
            }
        }
    } else {
        push(&mut errors, "spec", "Required value (`spec: {}` takes every default)");
    }
    if errors.is_empty() {
        check_cel(&value, &mut errors);
    }
    if !errors.is_empty() {
        return Err(sorted(errors));
    }
    Ok(value)
}

/// A document the schema and its rules accept but the operator's types do
/// not read: the schema is generated from those types, so this is a bug of
/// ours, not of the document, and the message says so. It names no field:
/// a reader that tracks the path (serde_path_to_error) was most of half a
/// megabyte of code in every operator for a failure no valid schema lets
/// through.
fn unreadable(e: &serde_json::Error) -> FieldError {
    FieldError {
        path: "spec".into(),
        message: format!(
            "passed the CRD's schema but not the operator's types (a bug, please report it): {e}"
        ),
    }
}

/// Errors sorted by path, so the same input always yields the same message
/// (the CEL engine reports in hash order).
fn sorted(mut errors: Vec<FieldError>) -> Vec<FieldError> {
    errors.sort_by(|a, b| (&a.path, &a.message).cmp(&(&b.path, &b.message)));
    errors.dedup();
    errors
}

/// Checks any value against an OpenAPI v3 schema of a CRD (types, unknown fields,
/// required, enums, bounds, patterns; no CEL) and returns it with defaults applied.
/// The test suite uses it to hold our ServiceMonitor and PrometheusRule to the
/// upstream Prometheus Operator schemas; `schema` is compiled for this call.
pub fn check_against_schema(schema: &Value, value: Value, path: &str) -> (Value, Vec<FieldError>) {
    let mut errors = Vec::new();
    let value = schema::Node::compile(schema).walk(value, &schema::Path::Root(path), &mut errors);
    (value, errors)
}

/// An XAgent whose spec passed every schema and CEL rule: what the reconciler
/// requires before it builds or applies anything.
#[derive(Debug, Clone, Copy)]
pub struct ValidXAgent<'a>(&'a XAgent);

impl<'a> ValidXAgent<'a> {
    /// The validated XAgent.
    pub fn xagent(&self) -> &'a XAgent {
        self.0
    }

    /// Vouches for an XAgent that passed [`revalidate`] at the same uid and
    /// generation before (its spec cannot have changed since).
    pub(crate) fn already_validated(xagent: &'a XAgent) -> Self {
        Self(xagent)
    }
}

/// Re-validates an XAgent read from the API server, which may be older than the rules.
///
/// The XAgent is typed already (the watch read it), so it is held to the
/// schema and the rules but not read into a second XAgent, which
/// [`parse_xagent`] would build only to drop it here; and its status, which
/// no schema walk or rule reads, is left out.
pub fn revalidate(xagent: &XAgent) -> Result<ValidXAgent<'_>, InvalidXAgent> {
    let fields = [
        ("apiVersion", Value::from(XAgent::api_version(&()).as_ref())),
        ("kind", Value::from(XAgent::kind(&()).as_ref())),
        ("metadata", json_of(&xagent.metadata)),
        ("spec", json_of(&xagent.spec)),
    ];
    let value = Value::Object(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
    checked(value).map(|_| ValidXAgent(xagent)).map_err(|errors| {
        let meta = xagent.meta();
        let (namespace, name) = (meta.namespace.as_deref(), meta.name.as_deref());
        let object = format!("{}/{}", namespace.unwrap_or_default(), name.unwrap_or_default());
        InvalidXAgent { object, errors }
    })
}

/// `value` as JSON; null if it cannot be (no type of ours is such).
fn json_of<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn object_label(value: &Value, origin: &str) -> String {
    let name = value.pointer("/metadata/name").and_then(Value::as_str);
    let ns = value.pointer("/metadata/namespace").and_then(Value::as_str);
    match (ns, name) {
        (Some(ns), Some(name)) => format!("{ns}/{name}"),
        (None, Some(name)) => name.to_string(),
        _ => origin.to_string(),
    }
}

/// The spec's schema as plain JSON, for tests that compare the walk with it.
#[cfg(test)]
fn spec_schema() -> Value {
    schema().pointer("/properties/spec").cloned().unwrap_or(Value::Null)
}

fn push(errors: &mut Vec<FieldError>, path: &str, message: impl Into<String>) {
    errors.push(FieldError { path: path.to_string(), message: message.into() });
}

/// apiVersion, kind and metadata.name: what the API server checks before the schema.
fn check_header(value: &Value, errors: &mut Vec<FieldError>) {
    let Some(obj) = value.as_object() else {
        push(errors, "<root>", "expected a mapping (an XAgent object)");
        return;
    };
    let api_version = XAgent::api_version(&());
    for (field, want) in [("apiVersion", api_version.as_ref()), ("kind", "XAgent")] {
        let got = obj.get(field);
        if got.and_then(Value::as_str) != Some(want) {
            push(errors, field, format!("must be {want}, got {}", shown(got)));
        }
    }
    check_metadata(value.get("metadata"), errors);
    match value.pointer("/metadata/name").and_then(Value::as_str) {
        None => push(errors, "metadata.name", "Required value"),
        Some(name) if !is_dns_label(name) => push(
            errors,
            "metadata.name",
            "must be a lowercase RFC 1123 label (a-z, 0-9, '-', starting and ending alphanumeric)",
        ),
        Some(_) => {}
    }
    for key in obj.keys() {
        if !matches!(key.as_str(), "apiVersion" | "kind" | "metadata" | "spec" | "status") {
            push(errors, key, "unknown field");
        }
    }
}

/// A header value as the error shows it: the string itself, or what it is.
fn shown(value: Option<&Value>) -> String {
    match value {
        None => "nothing (the field is missing)".into(),
        Some(Value::String(s)) => format!("{s:?}"),
        Some(other) => kind_of(other).to_string(),
    }
}

/// The parts of metadata a manifest sets: a mapping whose labels and annotations map strings to strings.
fn check_metadata(metadata: Option<&Value>, errors: &mut Vec<FieldError>) {
    let Some(metadata) = metadata else { return };
    let Some(obj) = metadata.as_object() else {
        push(errors, "metadata", format!("expected object, got {}", kind_of(metadata)));
        return;
    };
    for key in ["name", "namespace", "uid", "generateName", "resourceVersion"] {
        if let Some(v) = obj.get(key).filter(|v| !v.is_string()) {
            push(errors, &format!("metadata.{key}"), format!("expected string, got {}", kind_of(v)));
        }
    }
    for key in ["labels", "annotations"] {
        match obj.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (k, v) in map.iter().filter(|(_, v)| !v.is_string()) {
                    push(
                        errors,
                        &format!("metadata.{key}.{k}"),
                        format!("expected string, got {}", kind_of(v)),
                    );
                }
            }
            Some(v) => {
                push(errors, &format!("metadata.{key}"), format!("expected object, got {}", kind_of(v)))
            }
        }
    }
}

/// Child names are `NAME-suffix` DNS labels, so the XAgent name must be one too.
fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
}

fn check_cel(value: &Value, errors: &mut Vec<FieldError>) {
    for (field_path, message) in rules::check(value) {
        let (path, message) = cel_failure_path(&field_path, &message);
        push(errors, path, message);
    }
}

/// Where a CEL failure points. The API server accepts no `fieldPath` outside
/// the schema, so root rules about `metadata.name` name it in their message
/// ("metadata.name: ..."); here that prefix becomes the path again.
fn cel_failure_path<'a>(field_path: &'a str, message: &'a str) -> (&'a str, String) {
    if !field_path.is_empty() {
        return (field_path.trim_start_matches('.'), message.to_string());
    }
    match message.split_once(": ") {
        Some((path @ "metadata.name", rest)) => (path, rest.to_string()),
        _ => ("<root>", message.to_string()),
    }
}

/// What a value is, as errors name it.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests;
