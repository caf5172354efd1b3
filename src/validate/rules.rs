//! The CEL half of validation: the CRD's `x-kubernetes-validations` rules,
//! evaluated as kube's client-side engine evaluates them, at a cost that grows
//! with the fields the rules read rather than with the document's size times
//! its depth.
//!
//! kube's `Validator::validate_compiled` copies the whole object to default
//! it, then at every schema node the object reaches (several hundred for an
//! XAgent, rules or not) converts that node's whole subtree to a CEL value and
//! binds it as `self`, copying it once more; the interpreter copies a map
//! again each time a rule selects a field of it (`self.spec` copies the spec),
//! and CEL's `matches` builds its regex on every call. Here a [`Plan`] made
//! once from the compiled schema says which nodes have rules and which fields
//! of `self` those rules can read at all: the walk visits the object without
//! copying it, and a node's rules see a `self` that holds just those fields
//! (the whole value when a rule uses `self` other than by naming its fields).
//! The programs are the ones kube compiled once for the schema, each regex is
//! built once for the process, and a node whose `self` is one it saw before reuses
//! that value's failures (see [`Memo`]).
//!
//! Every step mirrors kube-cel 0.8 (`defaults::apply_defaults_compiled`,
//! `values::json_to_cel_with_compiled`, `Validator::walk_compiled` and
//! `evaluate_rule`, without an old object); the unit tests hold the two to the
//! same failures. A schema this does not reproduce (a rule that did not
//! compile, `allOf`/`oneOf`/`anyOf`, nesting past kube's depth limit) or a
//! value it does not convert alike (a `duration` or `byte` string) is left to
//! kube's engine.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use kube::core::cel::cel::common::ast::{EntryExpr, Expr, IdedExpr};
use kube::core::cel::cel::extractors::This;
use kube::core::cel::cel::objects::{Key, Map as CelMap};
use kube::core::cel::cel::{self as engine, Context, ExecutionError, FunctionContext, Value as Cel};
use kube::core::cel::{CompilationResult, CompiledSchema, KubeCelExt, SchemaFormat, Validator};
use serde_json::{Map, Value};

/// kube-cel's limit on schema nesting (`MAX_SCHEMA_DEPTH`, not exported).
const MAX_SCHEMA_DEPTH: usize = 64;

thread_local! {
    // CEL contexts are not Sync: one per thread, its functions registered once.
    static CONTEXT: Context<'static> = {
        let mut ctx = Context::default().with_all();
        ctx.add_function("matches", cached_matches);
        ctx
    };
    // kube's engine, for what this evaluator leaves to it.
    static KUBE: Validator = Validator::new();
}

/// CEL's `string.matches(regex)` with each regex built once
/// ([`super::with_regex`]); an invalid regex fails exactly as CEL's own
/// function fails.
fn cached_matches(
    ftx: &FunctionContext,
    This(this): This<Arc<String>>,
    regex: Arc<String>,
) -> Result<bool, ExecutionError> {
    let found = super::with_regex(&regex, |re| re.map(|re| re.is_match(&this)));
    match found {
        Some(found) => Ok(found),
        None => engine::functions::matches(ftx, This(this), regex),
    }
}

/// One failed rule: the field it names and its message, as kube reports them.
pub(super) type Failure = (String, String);

/// Evaluates every rule of the CRD's schema against `object`, defaulted as
/// kube defaults it, and returns the failures in no particular order.
pub(super) fn check(object: &Value) -> Vec<Failure> {
    if let Some(plan) = plan() {
        let mut failures = Vec::new();
        let done = CONTEXT
            .with(|ctx| Walk { ctx, failures: &mut failures }.visit(object, plan, true, &CelPath::Root));
        if done.is_ok() {
            return failures;
        }
    }
    with_kube(object)
}

/// The failures kube's own engine reports for `object`.
pub(super) fn with_kube(object: &Value) -> Vec<Failure> {
    match KUBE.with(|v| v.validate_compiled(super::compiled(), object, None)) {
        Ok(()) => Vec::new(),
        Err(failures) => failures.into_vec().into_iter().map(|f| (f.field_path, f.message)).collect(),
    }
}

/// The plan of the CRD's schema, made once; `None` when the schema uses what
/// this evaluator does not reproduce.
fn plan() -> Option<&'static Plan> {
    static PLAN: OnceLock<Option<Plan>> = OnceLock::new();
    PLAN.get_or_init(|| {
        let compiled = super::compiled();
        reproducible(compiled, 0).then(|| Plan::new(compiled))
    })
    .as_ref()
}

fn reproducible(node: &CompiledSchema, depth: usize) -> bool {
    depth <= MAX_SCHEMA_DEPTH
        && node.validations.iter().all(Result::is_ok)
        && node.all_of.is_empty()
        && node.one_of.is_empty()
        && node.any_of.is_empty()
        && node.properties.values().all(|p| reproducible(p, depth + 1))
        && node.items.as_deref().is_none_or(|i| reproducible(i, depth + 1))
        && node.additional_properties.as_deref().is_none_or(|a| reproducible(a, depth + 1))
}

/// One node of the compiled schema, with what the walk needs precomputed.
struct Plan {
    schema: &'static CompiledSchema,
    /// Declared fields, sorted by name as the object's map is.
    properties: Vec<Property>,
    additional: Option<Box<Plan>>,
    items: Option<Box<Plan>>,
    /// The fields of `self` this node's rules can read; `None` without rules.
    reads: Option<Selection>,
    /// Whether this node or any under it has rules.
    has_rules: bool,
}

struct Property {
    name: String,
    /// The name as the CEL map of the parent holds it (escaped unless the
    /// parent is a map, whose keys are data).
    key: Arc<String>,
    plan: Plan,
}

/// Which part of a value a node's rules can observe.
#[derive(Debug, PartialEq)]
enum Selection {
    /// All of it.
    Whole,
    /// Only these fields of a map (by CEL key, sorted); any other value whole.
    Fields(Vec<(String, Selection)>),
}

impl Plan {
    fn new(schema: &'static CompiledSchema) -> Plan {
        let mut properties: Vec<Property> = schema
            .properties
            .iter()
            .map(|(name, child)| Property {
                name: name.clone(),
                key: Arc::new(if schema.is_map { name.clone() } else { escape_field_name(name) }),
                plan: Plan::new(child),
            })
            .collect();
        properties.sort_by(|a, b| a.name.cmp(&b.name));
        let additional = schema.additional_properties.as_deref().map(|a| Box::new(Plan::new(a)));
        let items = schema.items.as_deref().map(|i| Box::new(Plan::new(i)));
        let reads = (!schema.validations.is_empty()).then(|| reads_of(schema));
        let has_rules = reads.is_some()
            || properties.iter().any(|p| p.plan.has_rules)
            || additional.as_ref().is_some_and(|a| a.has_rules)
            || items.as_ref().is_some_and(|i| i.has_rules);
        Plan { schema, properties, additional, items, reads, has_rules }
    }
}

/// The union of what the rules (and their message expressions) of a node read.
fn reads_of(schema: &CompiledSchema) -> Selection {
    let mut reads = Selection::Fields(Vec::new());
    for rule in schema.validations.iter().filter_map(|r| r.as_ref().ok()) {
        scan(rule.program.expression(), &mut reads);
        if let Some(message) = &rule.message_program {
            scan(message.expression(), &mut reads);
        }
    }
    reads
}

/// Adds to `reads` every use of `self` in `expr`: a chain of field names
/// (`self.a.b`, `has(self.a.b)`) reads just that field; any other use
/// (`self.all(..)`, `self[k]`, `size(self)`, `self == x`) reads all of it.
fn scan(expr: &IdedExpr, reads: &mut Selection) {
    match &expr.expr {
        Expr::Select(select) => match self_chain(expr) {
            Some(chain) => reads.add(&chain),
            None => scan(&select.operand, reads),
        },
        Expr::Ident(name) => {
            if name == "self" {
                *reads = Selection::Whole;
            }
        }
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                scan(target, reads);
            }
            call.args.iter().for_each(|a| scan(a, reads));
        }
        Expr::Comprehension(c) => {
            let binds_self =
                c.iter_var == "self" || c.accu_var == "self" || c.iter_var2.as_deref() == Some("self");
            if binds_self {
                *reads = Selection::Whole;
            }
            for e in [&c.iter_range, &c.accu_init, &c.loop_cond, &c.loop_step, &c.result] {
                scan(e, reads);
            }
        }
        Expr::List(list) => list.elements.iter().for_each(|e| scan(e, reads)),
        Expr::Map(map) => map.entries.iter().for_each(|e| scan_entry(&e.expr, reads)),
        Expr::Struct(s) => s.entries.iter().for_each(|e| scan_entry(&e.expr, reads)),
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}

fn scan_entry(entry: &EntryExpr, reads: &mut Selection) {
    match entry {
        EntryExpr::StructField(field) => scan(&field.value, reads),
        EntryExpr::MapEntry(entry) => {
            scan(&entry.key, reads);
            scan(&entry.value, reads);
        }
    }
}

/// `self.a.b` as `[a, b]`; `None` when the selection does not start at
/// `self` or tests presence (`has`) anywhere but at its end.
fn self_chain(expr: &IdedExpr) -> Option<Vec<&str>> {
    let mut chain = Vec::new();
    let mut at = expr;
    while let Expr::Select(select) = &at.expr {
        if select.test && !chain.is_empty() {
            return None;
        }
        chain.push(select.field.as_str());
        at = &select.operand;
    }
    chain.reverse();
    matches!(&at.expr, Expr::Ident(name) if name == "self").then_some(chain)
}

impl Selection {
    fn add(&mut self, chain: &[&str]) {
        let Selection::Fields(fields) = self else { return };
        let Some((first, rest)) = chain.split_first() else {
            *self = Selection::Whole;
            return;
        };
        let at = match fields.binary_search_by(|(k, _)| k.as_str().cmp(first)) {
            Ok(at) => at,
            Err(at) => {
                let new = if rest.is_empty() { Selection::Whole } else { Selection::Fields(Vec::new()) };
                fields.insert(at, (first.to_string(), new));
                if rest.is_empty() {
                    return;
                }
                at
            }
        };
        if rest.is_empty() {
            fields[at].1 = Selection::Whole;
        } else {
            fields[at].1.add(rest);
        }
    }

    fn get(&self, key: &str) -> Option<&Selection> {
        match self {
            Selection::Whole => Some(self),
            Selection::Fields(fields) => {
                fields.binary_search_by(|(k, _)| k.as_str().cmp(key)).ok().map(|at| &fields[at].1)
            }
        }
    }
}

/// A value kube converts in a way this evaluator does not reproduce.
struct Unsupported;

/// A node's path as kube-cel joins it: `spec.api`, `spec.volumes[0]`, no
/// leading dot.
enum CelPath<'a> {
    Root,
    Key(&'a CelPath<'a>, &'a str),
    Index(&'a CelPath<'a>, usize),
}

impl fmt::Display for CelPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CelPath::Root => Ok(()),
            CelPath::Key(CelPath::Root, key) => f.write_str(key),
            CelPath::Key(parent, key) => write!(f, "{parent}.{key}"),
            CelPath::Index(CelPath::Root, i) => write!(f, "[{i}]"),
            CelPath::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// One entry of an object as kube's defaulting leaves it: a field of the
/// document, or a missing declared field filled with its default.
enum Entry<'v> {
    Given { key: &'v str, value: &'v Value, property: Option<&'v Property> },
    Defaulted { property: &'v Property, value: &'v Value },
}

/// The entries of `fields` under `plan`, defaults included when `defaulting`,
/// in the order kube's defaulted map holds them (by name).
fn entries<'v>(
    fields: &'v Map<String, Value>,
    plan: &'v Plan,
    defaulting: bool,
    mut each: impl FnMut(Entry<'v>),
) {
    let mut properties = plan.properties.iter().peekable();
    for (key, value) in fields {
        while let Some(p) = properties.next_if(|p| p.name.as_str() < key.as_str()) {
            if let Some(default) = p.plan.schema.default.as_ref().filter(|_| defaulting) {
                each(Entry::Defaulted { property: p, value: default });
            }
        }
        let property = properties.next_if(|p| p.name == *key);
        each(Entry::Given { key, value, property });
    }
    for p in properties {
        if let Some(default) = p.plan.schema.default.as_ref().filter(|_| defaulting) {
            each(Entry::Defaulted { property: p, value: default });
        }
    }
}

struct Walk<'c, 'f> {
    ctx: &'c Context<'static>,
    failures: &'f mut Vec<Failure>,
}

impl Walk<'_, '_> {
    /// kube's `walk_compiled` over the defaulted object: evaluates the rules
    /// of `plan` on `value`, then of every node under it.
    fn visit(
        &mut self,
        value: &Value,
        plan: &Plan,
        defaulting: bool,
        path: &CelPath<'_>,
    ) -> Result<(), Unsupported> {
        if let Some(reads) = &plan.reads {
            self.evaluate(value, plan, defaulting, reads, path)?;
        }
        match value {
            Value::Object(fields) if plan.has_rules => {
                // Defaulting and the walk go into map values only without
                // preserve-unknown-fields.
                let into_additional = !plan.schema.preserve_unknown_fields;
                let mut result = Ok(());
                entries(fields, plan, defaulting, |entry| {
                    if result.is_err() {
                        return;
                    }
                    result = match entry {
                        Entry::Given { key, value, property: Some(p) } if p.plan.has_rules => {
                            self.visit(value, &p.plan, defaulting, &CelPath::Key(path, key))
                        }
                        Entry::Given { key, value, property: None } => match &plan.additional {
                            Some(extra) if into_additional && extra.has_rules => {
                                self.visit(value, extra, defaulting, &CelPath::Key(path, key))
                            }
                            _ => Ok(()),
                        },
                        Entry::Defaulted { property: p, value } if p.plan.has_rules => {
                            // Inserted as declared: kube defaults inside it no further.
                            self.visit(value, &p.plan, false, &CelPath::Key(path, &p.name))
                        }
                        _ => Ok(()),
                    };
                });
                result
            }
            Value::Array(items) => match &plan.items {
                Some(item) if item.has_rules => items
                    .iter()
                    .enumerate()
                    .try_for_each(|(i, v)| self.visit(v, item, defaulting, &CelPath::Index(path, i))),
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// kube's `evaluate_compiled_results` and `evaluate_rule` on a create,
    /// for the rules of `plan` on the part of `value` that `reads` selects,
    /// remembered per node and value (see [`Memo`]).
    fn evaluate(
        &mut self,
        value: &Value,
        plan: &Plan,
        defaulting: bool,
        reads: &Selection,
        path: &CelPath<'_>,
    ) -> Result<(), Unsupported> {
        let schema = plan.schema;
        let node = std::ptr::from_ref(schema) as usize;
        // The object's own rules read its name, which no other object in
        // its namespace shares: remembered, each value would only be kept
        // (about 1.7 KB an XAgent, up to the memo's limit) and never met again.
        let remember = !matches!(path, CelPath::Root)
            && MEMO.with(|memo| memo.borrow_mut().encode(value, plan, defaulting, reads));
        let known = remember.then(|| MEMO.with(|memo| memo.borrow().get(node).map(<[_]>::to_vec)));
        let failed = match known.flatten() {
            Some(failed) => failed,
            None => {
                let failed = self.run(schema, select(value, plan, defaulting, reads)?);
                if remember {
                    MEMO.with(|memo| memo.borrow_mut().insert(node, &failed));
                }
                failed
            }
        };
        let rules = &schema.validations;
        for (index, message) in failed {
            let field_path =
                rules.get(index).and_then(|r| r.as_ref().ok()).and_then(|r| r.rule.field_path.as_deref());
            self.failures.push((effective_path(&path.to_string(), field_path), message));
        }
        Ok(())
    }

    /// The rules of `schema` that fail on `this`: their index and message.
    fn run(&self, schema: &CompiledSchema, this: Cel) -> Vec<Failed> {
        let mut failed = Vec::new();
        let mut scope = self.ctx.new_inner_scope();
        scope.add_variable_from_value("self", this);
        for (index, rule) in schema.validations.iter().enumerate() {
            let Ok(rule) = rule else { continue };
            let optional_old_self = rule.rule.optional_old_self == Some(true);
            if rule.is_transition_rule && !optional_old_self {
                continue;
            }
            let null_old_self;
            let ctx = if optional_old_self {
                null_old_self = {
                    let mut s = scope.new_inner_scope();
                    s.add_variable_from_value("oldSelf", Cel::Null);
                    s
                };
                &null_old_self
            } else {
                &scope
            };
            let message = match rule.program.execute(ctx) {
                Ok(Cel::Bool(true)) => continue,
                Ok(Cel::Bool(false)) => message(rule, ctx),
                Ok(_) => format!("rule \"{}\" did not evaluate to bool", rule.rule.rule),
                Err(ExecutionError::UndeclaredReference(name)) => format!(
                    "rule references '{name}', which this kube-cel build does not support \
                     (an unsupported CEL macro, or a feature disabled at compile time); \
                     it cannot be evaluated client-side"
                ),
                Err(e) => format!("rule evaluation error: {e}"),
            };
            failed.push((index, message));
        }
        failed
    }
}

thread_local! {
    static MEMO: RefCell<Memo> = RefCell::new(Memo::default());
}

/// The failures of each node's rules for the `self` values seen lately.
///
/// The rules are pure functions of `self` (no old object on a create, and
/// every CEL function registered is deterministic), so a node whose `self`
/// is exactly one seen before fails exactly as it did then. XAgents share
/// most of their settings (the defaults, a team's conventions), so most
/// nodes hit: binding `self` and interpreting the rules cost more than
/// the rest of the validation together. A value is looked up by its
/// [`Memo::encode`]ing, written straight from the JSON with no CEL value
/// built; values compare strictly (type and content, unlike CEL's `==`,
/// for which `1 == 1.0`), and one holding a timestamp is never remembered.
/// At most [`Memo::LIMIT`] values are kept, then the memo starts over.
#[derive(Default)]
struct Memo {
    /// By node and hash of the encoded `self`: each value seen and its failures.
    entries: HashMap<(usize, u64), Vec<Seen>>,
    size: usize,
    /// The encoding of the value being looked up, its buffer reused.
    key: Vec<u8>,
}

/// A failed rule: its index among the node's validations, and its message.
type Failed = (usize, String);

/// The encoding of a value of `self` a node saw, and how its rules failed on it.
type Seen = (Box<[u8]>, Vec<Failed>);

impl Memo {
    const LIMIT: usize = 4096;

    /// Encodes what [`select`] would bind as `self` into the lookup key;
    /// `false` when that value is not to be remembered.
    fn encode(&mut self, value: &Value, plan: &Plan, defaulting: bool, reads: &Selection) -> bool {
        self.key.clear();
        encode(value, plan, defaulting, reads, &mut self.key)
    }

    /// The failures remembered for the encoded value at `node`.
    fn get(&self, node: usize) -> Option<&[Failed]> {
        let seen = self.entries.get(&(node, hash(&self.key)))?;
        seen.iter().find(|(key, _)| **key == *self.key).map(|(_, failed)| failed.as_slice())
    }

    fn insert(&mut self, node: usize, failed: &[Failed]) {
        if self.size >= Self::LIMIT {
            self.entries.clear();
            self.size = 0;
        }
        let seen = (self.key.as_slice().into(), failed.to_vec());
        self.entries.entry((node, hash(&self.key))).or_default().push(seen);
        self.size += 1;
    }
}

/// FNV-style mixing of the encoding's words: cheap, and collisions only
/// cost a comparison.
fn hash(data: &[u8]) -> u64 {
    let mix = |hash: u64, word: u64| (hash ^ word).wrapping_mul(0x0100_0000_01b3).rotate_left(17);
    data.chunks(8).fold(mix(0, data.len() as u64), |h, chunk| {
        let mut word = [0; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        mix(h, u64::from_le_bytes(word))
    })
}

/// The tags of [`encode`]: each value starts with one, a map's entries
/// each with [`KEY`] and the map with [`END`], so no encoding is the
/// prefix of another.
mod tag {
    pub const NULL: u8 = 0;
    pub const FALSE: u8 = 1;
    pub const TRUE: u8 = 2;
    pub const INT: u8 = 3;
    pub const UINT: u8 = 4;
    pub const FLOAT: u8 = 5;
    pub const STRING: u8 = 6;
    pub const LIST: u8 = 7;
    pub const MAP: u8 = 8;
    pub const KEY: u8 = 9;
    pub const END: u8 = 10;
}

/// Writes to `out` the value [`select`] would build, step for step: two
/// values with the same bytes convert to the same CEL value. `false` for a
/// value the memo does not keep: a `date-time` string (a CEL timestamp) or
/// a format `select` refuses, which it then reports.
fn encode(value: &Value, plan: &Plan, defaulting: bool, reads: &Selection, out: &mut Vec<u8>) -> bool {
    match (reads, value) {
        (Selection::Fields(_), Value::Object(fields)) => {
            encode_object(fields, plan, defaulting, Some(reads), out)
        }
        _ => encode_converted(value, plan, defaulting, out),
    }
}

/// [`convert`], encoded.
fn encode_converted(value: &Value, plan: &Plan, defaulting: bool, out: &mut Vec<u8>) -> bool {
    match value {
        Value::String(s) => match plan.schema.format {
            SchemaFormat::None | SchemaFormat::IntOrString => encode_text(tag::STRING, s, out),
            _ => return false,
        },
        Value::Array(items) => match &plan.items {
            Some(item) => {
                encode_len(tag::LIST, items.len(), out);
                return items.iter().all(|v| encode_converted(v, item, defaulting, out));
            }
            None => encode_plain(value, out),
        },
        Value::Object(fields) => return encode_object(fields, plan, defaulting, None, out),
        Value::Null | Value::Bool(_) | Value::Number(_) => encode_plain(value, out),
    }
    true
}

/// [`object`], encoded.
fn encode_object(
    fields: &Map<String, Value>,
    plan: &Plan,
    defaulting: bool,
    reads: Option<&Selection>,
    out: &mut Vec<u8>,
) -> bool {
    out.push(tag::MAP);
    let mut kept = true;
    entries(fields, plan, defaulting, |entry| {
        let Some(member) = member(entry, plan, defaulting, reads).filter(|_| kept) else { return };
        encode_text(tag::KEY, &member.key, out);
        kept = match member.schema {
            Some((plan, defaulting, sub)) => encode(member.value, plan, defaulting, sub, out),
            None => {
                encode_plain(member.value, out);
                true
            }
        };
    });
    // The fields an embedded resource gains when absent follow from the
    // node and the keys written: nothing more to encode.
    out.push(tag::END);
    kept
}

/// [`plain`], encoded; a map's keys as written, which is no coarser than
/// their escaped form.
fn encode_plain(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(tag::NULL),
        Value::Bool(b) => out.push(if *b { tag::TRUE } else { tag::FALSE }),
        // As `number` converts it.
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => encode_word(tag::INT, i as u64, out),
            (None, Some(u)) => encode_word(tag::UINT, u, out),
            (None, None) => encode_word(tag::FLOAT, n.as_f64().unwrap_or(f64::NAN).to_bits(), out),
        },
        Value::String(s) => encode_text(tag::STRING, s, out),
        Value::Array(items) => {
            encode_len(tag::LIST, items.len(), out);
            items.iter().for_each(|v| encode_plain(v, out));
        }
        Value::Object(fields) => {
            out.push(tag::MAP);
            for (key, value) in fields {
                encode_text(tag::KEY, key, out);
                encode_plain(value, out);
            }
            out.push(tag::END);
        }
    }
}

fn encode_word(tag: u8, word: u64, out: &mut Vec<u8>) {
    out.push(tag);
    out.extend_from_slice(&word.to_le_bytes());
}

fn encode_text(tag: u8, text: &str, out: &mut Vec<u8>) {
    encode_len(tag, text.len(), out);
    out.extend_from_slice(text.as_bytes());
}

/// `tag`, then `len` seven bits a byte (LEB128).
fn encode_len(tag: u8, mut len: usize, out: &mut Vec<u8>) {
    out.push(tag);
    while len >= 0x80 {
        out.push((len as u8) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
}

/// `messageExpression` when it yields a string, else the static message.
fn message(rule: &CompilationResult, ctx: &Context<'_>) -> String {
    if let Some(program) = &rule.message_program
        && let Ok(Cel::String(s)) = program.execute(ctx)
    {
        return (*s).clone();
    }
    rule.rule.message.clone().unwrap_or_else(|| format!("failed rule: {}", rule.rule.rule))
}

fn effective_path(base: &str, rule_field_path: Option<&str>) -> String {
    match rule_field_path {
        Some(fp) if fp.starts_with('.') => format!("{base}{fp}"),
        Some(fp) if !base.is_empty() => format!("{base}.{fp}"),
        Some(fp) => fp.to_string(),
        None => base.to_string(),
    }
}

/// The part of `value`'s CEL form that `reads` selects: of a map, the fields
/// it names; anything else whole.
fn select(value: &Value, plan: &Plan, defaulting: bool, reads: &Selection) -> Result<Cel, Unsupported> {
    match (reads, value) {
        (Selection::Fields(_), Value::Object(fields)) => object(fields, plan, defaulting, Some(reads)),
        _ => convert(value, plan, defaulting),
    }
}

/// `json_to_cel_with_compiled` of `value` after `apply_defaults_compiled`
/// (when `defaulting`).
fn convert(value: &Value, plan: &Plan, defaulting: bool) -> Result<Cel, Unsupported> {
    Ok(match value {
        Value::Null => Cel::Null,
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(n) => number(n),
        Value::String(s) => match plan.schema.format {
            SchemaFormat::None | SchemaFormat::IntOrString => Cel::String(Arc::new(s.clone())),
            SchemaFormat::DateTime => engine::functions::timestamp(Arc::new(s.clone()))
                .unwrap_or_else(|_| Cel::String(Arc::new(s.clone()))),
            _ => return Err(Unsupported),
        },
        Value::Array(items) => Cel::List(Arc::new(match &plan.items {
            Some(item) => items.iter().map(|v| convert(v, item, defaulting)).collect::<Result<_, _>>()?,
            None => items.iter().map(plain).collect(),
        })),
        Value::Object(fields) => object(fields, plan, defaulting, None)?,
    })
}

/// The CEL map of an object: every field, or those `reads` names.
fn object(
    fields: &Map<String, Value>,
    plan: &Plan,
    defaulting: bool,
    reads: Option<&Selection>,
) -> Result<Cel, Unsupported> {
    let mut map = HashMap::with_capacity(if reads.is_none() { fields.len() } else { 0 });
    let mut result = Ok(());
    entries(fields, plan, defaulting, |entry| {
        let Some(member) = member(entry, plan, defaulting, reads).filter(|_| result.is_ok()) else { return };
        let converted = match member.schema {
            Some((plan, defaulting, sub)) => select(member.value, plan, defaulting, sub),
            None => Ok(plain(member.value)),
        };
        // A declared field's key is shared; any other is made here.
        let key = member.property.map_or_else(|| Arc::new(member.key.into_owned()), |p| p.key.clone());
        match converted {
            Ok(converted) => {
                map.insert(Key::String(key), converted);
            }
            Err(e) => result = Err(e),
        }
    });
    result?;
    if plan.schema.embedded_resource {
        let mut absent = |name: &str, value: Cel| {
            if wanted(reads, name).is_some() {
                map.entry(Key::String(Arc::new(name.into()))).or_insert(value);
            }
        };
        absent("apiVersion", Cel::String(Arc::new(String::new())));
        absent("kind", Cel::String(Arc::new(String::new())));
        absent("metadata", Cel::Map(CelMap { map: Arc::new(HashMap::new()) }));
    }
    Ok(Cel::Map(CelMap { map: Arc::new(map) }))
}

/// What `reads` selects of the field `key` of a map: all of it without a
/// selection; `None` when the selection leaves the field out.
fn wanted<'s>(reads: Option<&'s Selection>, key: &str) -> Option<&'s Selection> {
    match reads {
        None => Some(&Selection::Whole),
        Some(reads) => reads.get(key),
    }
}

/// One entry of an object as `self` sees it, for [`object`] and
/// [`encode_object`] alike.
struct Member<'v> {
    /// The declared field, if it is one.
    property: Option<&'v Property>,
    /// Its key in the CEL map.
    key: Cow<'v, str>,
    value: &'v Value,
    /// The plan the value converts under, whether defaults apply in it,
    /// and what of it is read; `None`: converted plainly.
    schema: Option<(&'v Plan, bool, &'v Selection)>,
}

/// `entry` of an object under `plan` as `self` sees it; `None` when
/// `reads` leaves it out.
fn member<'v>(
    entry: Entry<'v>,
    plan: &'v Plan,
    defaulting: bool,
    reads: Option<&'v Selection>,
) -> Option<Member<'v>> {
    let declared = |p: &'v Property, value, defaulting| {
        let sub = wanted(reads, &p.key)?;
        let key = Cow::Borrowed(p.key.as_str());
        Some(Member { property: Some(p), key, value, schema: Some((&p.plan, defaulting, sub)) })
    };
    match entry {
        Entry::Given { value, property: Some(p), .. } => declared(p, value, defaulting),
        Entry::Given { key, value, property: None } => {
            let key = if plan.schema.is_map { Cow::Borrowed(key) } else { escaped(key) };
            let sub = wanted(reads, &key)?;
            // Defaulting goes into map values only without preserve-unknown-fields.
            let into_additional = !plan.schema.preserve_unknown_fields;
            let schema = plan.additional.as_deref().map(|extra| (extra, defaulting && into_additional, sub));
            Some(Member { property: None, key, value, schema })
        }
        // Inserted as declared: kube defaults inside it no further.
        Entry::Defaulted { property: p, value } => declared(p, value, false),
    }
}

/// A value outside the schema's declared fields, converted without one.
fn plain(value: &Value) -> Cel {
    match value {
        Value::Null => Cel::Null,
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(n) => number(n),
        Value::String(s) => Cel::String(Arc::new(s.clone())),
        Value::Array(items) => Cel::List(Arc::new(items.iter().map(plain).collect())),
        Value::Object(fields) => {
            let map =
                fields.iter().map(|(k, v)| (Key::String(Arc::new(escape_field_name(k))), plain(v))).collect();
            Cel::Map(CelMap { map: Arc::new(map) })
        }
    }
}

fn number(n: &serde_json::Number) -> Cel {
    if let Some(i) = n.as_i64() {
        Cel::Int(i)
    } else if let Some(u) = n.as_u64() {
        Cel::UInt(u)
    } else {
        Cel::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// CEL reserved words, escaped as `__word__` when they name a field.
const RESERVED: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// [`escape_field_name`], borrowed when nothing needs escaping.
fn escaped(name: &str) -> Cow<'_, str> {
    if RESERVED.contains(&name) || name.contains(['_', '.', '-', '/']) {
        Cow::Owned(escape_field_name(name))
    } else {
        Cow::Borrowed(name)
    }
}

/// A field name as the API server's CEL sees it.
fn escape_field_name(name: &str) -> String {
    if RESERVED.contains(&name) {
        return format!("__{name}__");
    }
    if !name.contains(['_', '.', '-', '/']) {
        return name.to_string();
    }
    let mut escaped = String::with_capacity(name.len() * 2);
    for c in name.chars() {
        match c {
            '_' => escaped.push_str("__"),
            '.' => escaped.push_str("__dot__"),
            '-' => escaped.push_str("__dash__"),
            '/' => escaped.push_str("__slash__"),
            c => escaped.push(c),
        }
    }
    escaped
}
