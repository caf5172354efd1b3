//! The schema walk as it was before the schema was compiled: a reference the
//! compiled walk must match on every document, value and errors alike.

use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::validate::{FieldError, kind_of};

fn push(errors: &mut Vec<FieldError>, path: &str, message: impl Into<String>) {
    errors.push(FieldError { path: path.to_string(), message: message.into() });
}

/// Checks `value` against `schema` and returns it with defaults applied.
pub(super) fn walk(schema: &Value, value: Value, path: &str, errors: &mut Vec<FieldError>) -> Value {
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
