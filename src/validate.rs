//! Offline validation of XAgent documents against the CRD's own schema.
//!
//! `render` and the controller must reject exactly what the API server rejects,
//! and an older API server may not enforce every rule, so the generated
//! `openAPIV3Schema` is the single source of truth: this module walks it
//! (types, unknown fields, required, enums, bounds, patterns), applies its
//! defaults as the API server does, then evaluates its CEL rules with kube's
//! client-side CEL engine.

use std::sync::OnceLock;

use kube::core::cel::{CompiledSchema, Validator, compile_schema};
use kube::{CustomResourceExt, Resource};
use serde_json::{Map, Value};

use crate::crd::XAgent;

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

/// The CRD's schema as plain JSON, built once.
fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let crd = XAgent::crd();
        let schema = crd.spec.versions[0].schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref());
        serde_json::to_value(schema).unwrap_or(Value::Null)
    })
}

/// The CEL rules of the schema, compiled once.
fn compiled() -> &'static CompiledSchema {
    static COMPILED: OnceLock<CompiledSchema> = OnceLock::new();
    COMPILED.get_or_init(|| compile_schema(schema()))
}

thread_local! {
    // The CEL function registry is built per thread: it is not Sync.
    static CEL: Validator = Validator::new();
}

/// Validates a raw XAgent document, applies schema defaults and returns the typed object.
///
/// `origin` names the document in errors when it has no name (e.g. `document 2`).
pub fn parse_xagent(value: Value, origin: &str) -> Result<XAgent, InvalidXAgent> {
    let label = object_label(&value, origin);
    let fail = |errors| InvalidXAgent { object: label.clone(), errors };
    let mut errors = Vec::new();
    check_header(&value, &mut errors);
    let mut defaulted = value.clone();
    match (value.get("spec"), &mut defaulted) {
        (Some(spec @ Value::Object(_)), Value::Object(obj)) => {
            let spec = walk(spec_schema(), spec.clone(), "spec", &mut errors);
            obj.insert("spec".into(), spec);
        }
        (Some(Value::Null) | None, _) => {
            push(&mut errors, "spec", "Required value (`spec: {}` takes every default)")
        }
        (Some(other), _) => push(&mut errors, "spec", format!("expected object, got {}", kind_of(other))),
    }
    if errors.is_empty() {
        check_cel(&defaulted, &mut errors);
    }
    if !errors.is_empty() {
        return Err(fail(sorted(errors)));
    }
    serde_path_to_error::deserialize(defaulted).map_err(|e| {
        let path = e.path().to_string();
        fail(vec![FieldError { path, message: e.into_inner().to_string() }])
    })
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
/// upstream Prometheus Operator schemas.
pub fn check_against_schema(schema: &Value, value: Value, path: &str) -> (Value, Vec<FieldError>) {
    let mut errors = Vec::new();
    let value = walk(schema, value, path, &mut errors);
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
pub fn revalidate(xagent: &XAgent) -> Result<ValidXAgent<'_>, InvalidXAgent> {
    let value = serde_json::to_value(xagent).unwrap_or(Value::Null);
    let origin = format!(
        "{}/{}",
        xagent.meta().namespace.as_deref().unwrap_or_default(),
        xagent.meta().name.as_deref().unwrap_or_default()
    );
    parse_xagent(value, &origin).map(|_| ValidXAgent(xagent))
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

fn spec_schema() -> &'static Value {
    schema().pointer("/properties/spec").unwrap_or(&Value::Null)
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
    let result = CEL.with(|v| v.validate_compiled(compiled(), value, None));
    if let Err(failures) = result {
        for f in failures.iter() {
            let (path, message) = cel_failure_path(&f.field_path, &f.message);
            push(errors, path, message);
        }
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

/// Checks `value` against `schema` and returns it with defaults applied.
fn walk(schema: &Value, value: Value, path: &str, errors: &mut Vec<FieldError>) -> Value {
    if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        if !(value.is_i64() || value.is_u64() || value.is_string()) {
            push(errors, path, "must be an integer or a string");
        }
        return value;
    }
    let ty = schema.get("type").and_then(Value::as_str);
    match (ty, value) {
        (_, Value::Null) => Value::Null,
        (Some("object"), Value::Object(map)) => Value::Object(walk_object(schema, map, path, errors)),
        (Some("array"), Value::Array(items)) => Value::Array(walk_array(schema, items, path, errors)),
        (Some("string"), Value::String(s)) => {
            check_string(schema, &s, path, errors);
            Value::String(s)
        }
        (Some("integer"), Value::Number(n)) if n.is_i64() || n.is_u64() => {
            check_number(schema, n.as_f64().unwrap_or_default(), path, errors);
            check_int32(schema, &n, path, errors);
            Value::Number(n)
        }
        (Some("number"), Value::Number(n)) => {
            check_number(schema, n.as_f64().unwrap_or_default(), path, errors);
            Value::Number(n)
        }
        (Some("boolean"), Value::Bool(b)) => Value::Bool(b),
        (None, v) => v,
        (Some(expected), v) => {
            push(errors, path, format!("expected {expected}, got {}", kind_of(&v)));
            v
        }
    }
}

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

fn walk_object(
    schema: &Value,
    mut map: Map<String, Value>,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Map<String, Value> {
    let props = schema.get("properties").and_then(Value::as_object);
    let extra = schema.get("additionalProperties").filter(|s| s.is_object());
    let preserve = schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    let mut out = Map::new();
    for (key, val) in std::mem::take(&mut map) {
        let child = format!("{path}.{key}");
        let sub = props.and_then(|p| p.get(&key)).or(extra);
        match sub {
            Some(sub) if val.is_null() && !is_nullable(sub) => {}
            Some(sub) => {
                out.insert(key, walk(sub, val, &child, errors));
            }
            None if preserve || (props.is_none() && extra.is_none()) => {
                out.insert(key, val);
            }
            None => push(errors, &child, "unknown field"),
        }
    }
    apply_defaults(props, &mut out, path, errors);
    check_required(schema, &out, path, errors);
    if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64).filter(|m| out.len() as u64 > *m) {
        push(errors, path, format!("must have at most {max} properties"));
    }
    out
}

fn is_nullable(schema: &Value) -> bool {
    schema.get("nullable") == Some(&Value::Bool(true))
}

fn apply_defaults(
    props: Option<&Map<String, Value>>,
    out: &mut Map<String, Value>,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    for (key, sub) in props.into_iter().flatten() {
        if out.contains_key(key) {
            continue;
        }
        if let Some(default) = sub.get("default") {
            let child = format!("{path}.{key}");
            out.insert(key.clone(), walk(sub, default.clone(), &child, errors));
        }
    }
}

fn check_required(schema: &Value, out: &Map<String, Value>, path: &str, errors: &mut Vec<FieldError>) {
    let required = schema.get("required").and_then(Value::as_array);
    for key in required.into_iter().flatten().filter_map(Value::as_str) {
        if !out.contains_key(key) {
            push(errors, &format!("{path}.{key}"), "Required value");
        }
    }
}

fn walk_array(schema: &Value, items: Vec<Value>, path: &str, errors: &mut Vec<FieldError>) -> Vec<Value> {
    let bound = |k: &str| schema.get(k).and_then(Value::as_u64);
    if let Some(min) = bound("minItems").filter(|m| (items.len() as u64) < *m) {
        push(errors, path, format!("must have at least {min} items"));
    }
    if let Some(max) = bound("maxItems").filter(|m| (items.len() as u64) > *m) {
        push(errors, path, format!("must have at most {max} items"));
    }
    match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => check_set(&items, path, errors),
        Some("map") => check_map_keys(schema, &items, path, errors),
        _ => {}
    }
    let item_schema = schema.get("items").unwrap_or(&Value::Null);
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| walk(item_schema, v, &format!("{path}[{i}]"), errors))
        .collect()
}

/// A set list holds each value once; the API server reports the first repeat
/// of each, as here.
fn check_set(items: &[Value], path: &str, errors: &mut Vec<FieldError>) {
    for (i, item) in items.iter().enumerate() {
        if items[..i].contains(item) {
            push(errors, &format!("{path}[{i}]"), format!("Duplicate value: {item}"));
        }
    }
}

/// A map list holds each combination of its key fields once; the API
/// server reports each repeat, as here (a key field the item leaves out
/// counts as its schema default, which is applied before the server checks).
fn check_map_keys(schema: &Value, items: &[Value], path: &str, errors: &mut Vec<FieldError>) {
    let keys: Vec<&str> = schema
        .get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .map(|keys| keys.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let item_props = schema.pointer("/items/properties");
    let key_of = |item: &Value| -> Vec<Value> {
        keys.iter()
            .map(|k| {
                let default = item_props.and_then(|p| p.pointer(&format!("/{k}/default")));
                item.get(*k).or(default).cloned().unwrap_or(Value::Null)
            })
            .collect()
    };
    let seen: Vec<Vec<Value>> = items.iter().map(key_of).collect();
    for (i, key) in seen.iter().enumerate() {
        if seen[..i].contains(key) {
            let shown: Vec<String> = keys.iter().zip(key).map(|(k, v)| format!("{k}={v}")).collect();
            push(errors, &format!("{path}[{i}]"), format!("Duplicate value: {}", shown.join(", ")));
        }
    }
}

fn check_string(schema: &Value, s: &str, path: &str, errors: &mut Vec<FieldError>) {
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.iter().any(|a| a.as_str() == Some(s))
    {
        let names: Vec<_> = allowed.iter().filter_map(Value::as_str).collect();
        push(errors, path, format!("Unsupported value \"{s}\": supported values: {}", names.join(", ")));
    }
    let len = s.chars().count() as u64;
    let bound = |k: &str| schema.get(k).and_then(Value::as_u64);
    match bound("minLength").filter(|m| len < *m) {
        Some(1) => push(errors, path, "must not be empty"),
        Some(min) => push(errors, path, format!("must be at least {min} characters long")),
        None => {}
    }
    if let Some(max) = bound("maxLength").filter(|m| len > *m) {
        push(errors, path, format!("must be at most {max} characters long"));
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
        && !pattern_matches(pattern, s)
    {
        push(errors, path, format!("\"{s}\" does not match the pattern {pattern}"));
    }
}

/// Regexes are compiled once per distinct pattern: the schema has only a handful.
fn pattern_matches(pattern: &str, s: &str) -> bool {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static CACHE: OnceLock<Mutex<HashMap<String, Option<regex::Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|poison| poison.into_inner());
    let re = cache.entry(pattern.to_string()).or_insert_with(|| regex::Regex::new(pattern).ok());
    re.as_ref().is_none_or(|re| re.is_match(s))
}

fn check_number(schema: &Value, n: f64, path: &str, errors: &mut Vec<FieldError>) {
    let bound = |k: &str| schema.get(k).and_then(Value::as_f64);
    if let Some(min) = bound("minimum").filter(|m| n < *m) {
        push(errors, path, format!("must be greater than or equal to {min}"));
    }
    if let Some(max) = bound("maximum").filter(|m| n > *m) {
        push(errors, path, format!("must be less than or equal to {max}"));
    }
}

fn check_int32(schema: &Value, n: &serde_json::Number, path: &str, errors: &mut Vec<FieldError>) {
    let is_int32 = schema.get("format").and_then(Value::as_str) == Some("int32");
    let fits = n.as_i64().is_some_and(|v| i32::try_from(v).is_ok());
    if is_int32 && !fits {
        push(errors, path, "must fit in a 32-bit integer");
    }
}

#[cfg(test)]
mod tests;
