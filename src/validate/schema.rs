//! The structural half of validation: an OpenAPI v3 schema compiled once into
//! a tree of typed nodes, and the walk that checks a value against it and
//! applies its defaults.
//!
//! Walking the raw JSON schema looked every keyword up by name at every node,
//! allocated every child's dotted path whether or not it was ever reported, and
//! re-walked each default from scratch for every document. Compiling reads the
//! keywords once, builds each pattern's regex once, walks each default once,
//! and the walk builds a path only when it reports an error.

use std::collections::HashMap;
use std::fmt;

use serde_json::{Map, Number, Value};

use super::FieldError;

/// Where a value sits, built on the stack as the walk descends and turned into
/// text only when an error names it.
#[derive(Clone, Copy)]
pub(super) enum Path<'a> {
    /// The path the walk started from, e.g. `spec`.
    Root(&'a str),
    /// A field of an object.
    Key(&'a Path<'a>, &'a str),
    /// An item of a list.
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root(root) => f.write_str(root),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

fn push(errors: &mut Vec<FieldError>, path: &Path<'_>, message: impl Into<String>) {
    errors.push(FieldError { path: path.to_string(), message: message.into() });
}

/// `type` of a schema node; `Other` keeps a type this walk does not know, which
/// only ever matches `null`.
#[derive(Debug)]
enum Type {
    Object,
    Array,
    String,
    Integer,
    Number,
    Boolean,
    Other(String),
}

/// A schema node with every keyword the walk reads already looked up.
#[derive(Debug, Default)]
pub(super) struct Node {
    int_or_string: bool,
    ty: Option<Type>,
    nullable: bool,
    /// `properties`, when the node has them (an empty `properties` still
    /// refuses unknown fields, an absent one does not).
    properties: Option<Properties>,
    additional: Option<Box<Node>>,
    preserve_unknown: bool,
    required: Vec<String>,
    max_properties: Option<u64>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    list: ListType,
    /// `items`; a list without one passes its items through unchecked.
    items: Option<Box<Node>>,
    string: Option<StringRules>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    int32: bool,
}

/// The declared fields of an object node, in the schema's order.
#[derive(Debug, Default)]
struct Properties {
    fields: Vec<Field>,
    by_name: HashMap<String, usize>,
}

impl Properties {
    fn get(&self, name: &str) -> Option<&Field> {
        self.by_name.get(name).map(|&i| &self.fields[i])
    }
}

#[derive(Debug)]
struct Field {
    name: String,
    node: Node,
    default: Option<FieldDefault>,
}

/// A field's `default`, as the walk inserts it when the field is missing.
#[derive(Debug)]
enum FieldDefault {
    /// Walked once when the schema was compiled (its own nested defaults
    /// applied) and found valid: inserted as is.
    Walked(Value),
    /// Breaks its own schema: walked again for each document, so each reports
    /// the errors at its own path.
    Raw(Value),
}

#[derive(Debug, Default)]
enum ListType {
    #[default]
    Atomic,
    Set,
    /// A map list: its key fields, each with the item schema's default for it.
    Map(Vec<(String, Option<Value>)>),
}

#[derive(Debug, Default)]
struct StringRules {
    /// `enum`: the allowed values (strings match by value) and the names the
    /// error lists.
    allowed: Option<(Vec<Value>, String)>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    /// `pattern`, with its regex built once (`None`: it does not compile and,
    /// as before, matches anything).
    pattern: Option<(String, Option<regex::Regex>)>,
}

impl Node {
    /// The fields of this object node whose default the walk inserts as is
    /// when they are missing, each with that default.
    pub(super) fn walked_defaults(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.properties.iter().flat_map(|p| &p.fields).filter_map(|f| match &f.default {
            Some(FieldDefault::Walked(value)) => Some((f.name.as_str(), value)),
            _ => None,
        })
    }

    /// Compiles a schema node and, recursively, everything under it.
    pub(super) fn compile(schema: &Value) -> Node {
        let get = |k: &str| schema.get(k);
        let flag = |k: &str| get(k) == Some(&Value::Bool(true));
        let unsigned = |k: &str| get(k).and_then(Value::as_u64);
        let float = |k: &str| get(k).and_then(Value::as_f64);
        let ty = get("type").and_then(Value::as_str).map(|t| match t {
            "object" => Type::Object,
            "array" => Type::Array,
            "string" => Type::String,
            "integer" => Type::Integer,
            "number" => Type::Number,
            "boolean" => Type::Boolean,
            other => Type::Other(other.to_string()),
        });
        let properties = get("properties").and_then(Value::as_object).map(|props| {
            let fields: Vec<Field> = props
                .iter()
                .map(|(name, sub)| {
                    let node = Node::compile(sub);
                    let default = sub.get("default").map(|default| {
                        let mut errors = Vec::new();
                        let walked = node.walk(default.clone(), &Path::Root(""), &mut errors);
                        if errors.is_empty() {
                            FieldDefault::Walked(walked)
                        } else {
                            FieldDefault::Raw(default.clone())
                        }
                    });
                    Field { name: name.clone(), node, default }
                })
                .collect();
            let by_name = fields.iter().enumerate().map(|(i, f)| (f.name.clone(), i)).collect();
            Properties { fields, by_name }
        });
        let list = match get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => ListType::Set,
            Some("map") => {
                let keys: Vec<&str> = get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|keys| keys.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let item_props = schema.pointer("/items/properties");
                let keys = keys
                    .iter()
                    .map(|k| {
                        let default = item_props.and_then(|p| p.pointer(&format!("/{k}/default")));
                        (k.to_string(), default.cloned())
                    })
                    .collect();
                ListType::Map(keys)
            }
            _ => ListType::Atomic,
        };
        let string = StringRules {
            allowed: get("enum").and_then(Value::as_array).map(|allowed| {
                let names: Vec<_> = allowed.iter().filter_map(Value::as_str).collect();
                (allowed.clone(), names.join(", "))
            }),
            min_length: unsigned("minLength"),
            max_length: unsigned("maxLength"),
            pattern: get("pattern")
                .and_then(Value::as_str)
                .map(|p| (p.to_string(), super::with_regex(p, |re| re.cloned()))),
        };
        let has_string_rules = string.allowed.is_some()
            || string.min_length.is_some()
            || string.max_length.is_some()
            || string.pattern.is_some();
        Node {
            int_or_string: flag("x-kubernetes-int-or-string"),
            ty,
            nullable: flag("nullable"),
            properties,
            additional: get("additionalProperties")
                .filter(|s| s.is_object())
                .map(|s| Box::new(Node::compile(s))),
            preserve_unknown: flag("x-kubernetes-preserve-unknown-fields"),
            required: get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default(),
            max_properties: unsigned("maxProperties"),
            min_items: unsigned("minItems"),
            max_items: unsigned("maxItems"),
            list,
            items: get("items").map(|s| Box::new(Node::compile(s))),
            string: has_string_rules.then_some(string),
            minimum: float("minimum"),
            maximum: float("maximum"),
            int32: get("format").and_then(Value::as_str) == Some("int32"),
        }
    }

    /// Checks `value` against this node and returns it with defaults applied.
    pub(super) fn walk(&self, value: Value, path: &Path<'_>, errors: &mut Vec<FieldError>) -> Value {
        if self.int_or_string {
            if !(value.is_i64() || value.is_u64() || value.is_string()) {
                push(errors, path, "must be an integer or a string");
            }
            return value;
        }
        match (&self.ty, value) {
            (_, Value::Null) => Value::Null,
            (Some(Type::Object), Value::Object(map)) => Value::Object(self.walk_object(map, path, errors)),
            (Some(Type::Array), Value::Array(items)) => Value::Array(self.walk_array(items, path, errors)),
            (Some(Type::String), Value::String(s)) => {
                if let Some(rules) = &self.string {
                    rules.check(&s, path, errors);
                }
                Value::String(s)
            }
            (Some(Type::Integer), Value::Number(n)) if n.is_i64() || n.is_u64() => {
                self.check_number(n.as_f64().unwrap_or_default(), path, errors);
                self.check_int32(&n, path, errors);
                Value::Number(n)
            }
            (Some(Type::Number), Value::Number(n)) => {
                self.check_number(n.as_f64().unwrap_or_default(), path, errors);
                Value::Number(n)
            }
            (Some(Type::Boolean), Value::Bool(b)) => Value::Bool(b),
            (None, v) => v,
            (Some(expected), v) => {
                push(errors, path, format!("expected {}, got {}", expected.name(), super::kind_of(&v)));
                v
            }
        }
    }

    fn walk_object(
        &self,
        map: Map<String, Value>,
        path: &Path<'_>,
        errors: &mut Vec<FieldError>,
    ) -> Map<String, Value> {
        let props = self.properties.as_ref();
        let extra = self.additional.as_deref();
        let mut out = Map::new();
        for (key, val) in map {
            let sub = props.and_then(|p| p.get(&key)).map(|f| &f.node).or(extra);
            match sub {
                Some(sub) if val.is_null() && !sub.nullable => {}
                Some(sub) => {
                    let walked = sub.walk(val, &Path::Key(path, &key), errors);
                    out.insert(key, walked);
                }
                None if self.preserve_unknown || (props.is_none() && extra.is_none()) => {
                    out.insert(key, val);
                }
                None => push(errors, &Path::Key(path, &key), "unknown field"),
            }
        }
        for field in props.map(|p| p.fields.as_slice()).unwrap_or_default() {
            if out.contains_key(&field.name) {
                continue;
            }
            match &field.default {
                None => {}
                Some(FieldDefault::Walked(value)) => {
                    out.insert(field.name.clone(), value.clone());
                }
                Some(FieldDefault::Raw(value)) => {
                    let walked = field.node.walk(value.clone(), &Path::Key(path, &field.name), errors);
                    out.insert(field.name.clone(), walked);
                }
            }
        }
        for key in &self.required {
            if !out.contains_key(key) {
                push(errors, &Path::Key(path, key), "Required value");
            }
        }
        if let Some(max) = self.max_properties.filter(|m| out.len() as u64 > *m) {
            push(errors, path, format!("must have at most {max} properties"));
        }
        out
    }

    fn walk_array(&self, items: Vec<Value>, path: &Path<'_>, errors: &mut Vec<FieldError>) -> Vec<Value> {
        if let Some(min) = self.min_items.filter(|m| (items.len() as u64) < *m) {
            push(errors, path, format!("must have at least {min} items"));
        }
        if let Some(max) = self.max_items.filter(|m| (items.len() as u64) > *m) {
            push(errors, path, format!("must have at most {max} items"));
        }
        match &self.list {
            ListType::Atomic => {}
            ListType::Set => check_set(&items, path, errors),
            ListType::Map(keys) => check_map_keys(keys, &items, path, errors),
        }
        match &self.items {
            None => items,
            Some(item) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| item.walk(v, &Path::Index(path, i), errors))
                .collect(),
        }
    }

    fn check_number(&self, n: f64, path: &Path<'_>, errors: &mut Vec<FieldError>) {
        if let Some(min) = self.minimum.filter(|m| n < *m) {
            push(errors, path, format!("must be greater than or equal to {min}"));
        }
        if let Some(max) = self.maximum.filter(|m| n > *m) {
            push(errors, path, format!("must be less than or equal to {max}"));
        }
    }

    fn check_int32(&self, n: &Number, path: &Path<'_>, errors: &mut Vec<FieldError>) {
        let fits = n.as_i64().is_some_and(|v| i32::try_from(v).is_ok());
        if self.int32 && !fits {
            push(errors, path, "must fit in a 32-bit integer");
        }
    }
}

impl Type {
    fn name(&self) -> &str {
        match self {
            Type::Object => "object",
            Type::Array => "array",
            Type::String => "string",
            Type::Integer => "integer",
            Type::Number => "number",
            Type::Boolean => "boolean",
            Type::Other(name) => name,
        }
    }
}

impl StringRules {
    fn check(&self, s: &str, path: &Path<'_>, errors: &mut Vec<FieldError>) {
        if let Some((allowed, names)) = &self.allowed
            && !allowed.iter().any(|a| a.as_str() == Some(s))
        {
            push(errors, path, format!("Unsupported value \"{s}\": supported values: {names}"));
        }
        if self.min_length.is_some() || self.max_length.is_some() {
            let len = s.chars().count() as u64;
            match self.min_length.filter(|m| len < *m) {
                Some(1) => push(errors, path, "must not be empty"),
                Some(min) => push(errors, path, format!("must be at least {min} characters long")),
                None => {}
            }
            if let Some(max) = self.max_length.filter(|m| len > *m) {
                push(errors, path, format!("must be at most {max} characters long"));
            }
        }
        if let Some((pattern, regex)) = &self.pattern
            && !regex.as_ref().is_none_or(|re| re.is_match(s))
        {
            push(errors, path, format!("\"{s}\" does not match the pattern {pattern}"));
        }
    }
}

/// A set list holds each value once; the API server reports the first repeat
/// of each, as here.
fn check_set(items: &[Value], path: &Path<'_>, errors: &mut Vec<FieldError>) {
    for (i, item) in items.iter().enumerate() {
        if items[..i].contains(item) {
            push(errors, &Path::Index(path, i), format!("Duplicate value: {item}"));
        }
    }
}

/// A map list holds each combination of its key fields once; the API
/// server reports each repeat, as here (a key field the item leaves out
/// counts as its schema default, which is applied before the server checks).
fn check_map_keys(
    keys: &[(String, Option<Value>)],
    items: &[Value],
    path: &Path<'_>,
    errors: &mut Vec<FieldError>,
) {
    let key_of = |item: &Value| -> Vec<Value> {
        keys.iter()
            .map(|(k, default)| item.get(k).or(default.as_ref()).cloned().unwrap_or(Value::Null))
            .collect()
    };
    let seen: Vec<Vec<Value>> = items.iter().map(key_of).collect();
    for (i, key) in seen.iter().enumerate() {
        if seen[..i].contains(key) {
            let shown: Vec<String> = keys.iter().zip(key).map(|((k, _), v)| format!("{k}={v}")).collect();
            push(errors, &Path::Index(path, i), format!("Duplicate value: {}", shown.join(", ")));
        }
    }
}
