//! The three judges GitOps tools apply to an XAgent, run over whole XAgent
//! objects (as JSON):
//!
//! - [`kstatus`]: the published kstatus rules for custom resources, as Flux's
//!   health checks and cli-utils (`kubectl apply --wait` tooling) apply them;
//! - [`argocd`]: the shipped Argo CD health script
//!   (`config/gitops/argocd/health.lua`), run in a real Lua 5.1 interpreter,
//!   the dialect of Argo CD's gopher-lua;
//! - [`flux`]: the shipped Flux `healthCheckExprs` entry
//!   (`config/gitops/flux/health-check-exprs.yaml`), evaluated with a CEL
//!   interpreter the way kustomize-controller does.
//!
//! Used by `tests/gitops.rs` (statuses computed in-process) and by the
//! real-API-server suite (statuses the operator wrote), over one table.

#![allow(dead_code)]

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// A kstatus verdict (Flux and cli-utils use the same words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kstatus {
    /// Still moving towards the spec: wait.
    InProgress,
    /// The spec is realised.
    Current,
    /// Will not get there without a person.
    Failed,
    /// Being deleted.
    Terminating,
}

/// What each judge should say of one scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// The kstatus rules.
    pub kstatus: Kstatus,
    /// The Argo CD health status.
    pub argocd: &'static str,
    /// The Flux CEL health check.
    pub flux: Kstatus,
}

/// What the judges said of one XAgent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdicts {
    /// kstatus and its message.
    pub kstatus: (Kstatus, String),
    /// Argo CD's status and message.
    pub argocd: (String, String),
    /// Flux's verdict.
    pub flux: Kstatus,
}

impl Verdicts {
    /// Runs every judge over `xagent`.
    pub fn of(xagent: &Value) -> Self {
        Self { kstatus: kstatus(xagent), argocd: argocd(xagent), flux: flux(xagent) }
    }

    /// Whether the verdicts are `expected`; the error says which judge differed.
    pub fn check(&self, expected: &Expected) -> Result<(), String> {
        let agree = self.kstatus.0 == expected.kstatus
            && self.argocd.0 == expected.argocd
            && self.flux == expected.flux;
        if agree { Ok(()) } else { Err(format!("expected {expected:?}, judged {self}")) }
    }
}

impl fmt::Display for Verdicts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "kstatus {:?} ({}) | Argo CD {} ({}) | Flux {:?}",
            self.kstatus.0, self.kstatus.1, self.argocd.0, self.argocd.1, self.flux
        )
    }
}

fn conditions(xagent: &Value) -> &[Value] {
    xagent.pointer("/status/conditions").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

/// The kstatus rules for a custom resource without a kind-specific reader:
/// deletion → Terminating; `status.observedGeneration` present and behind
/// `metadata.generation` → InProgress; then the first condition of the list
/// that is `Reconciling` True (InProgress) or `Stalled` True (Failed);
/// otherwise Current. `Ready` is not read: that is why an XAgent must say
/// Reconciling or Stalled whenever it is not Ready.
pub fn kstatus(xagent: &Value) -> (Kstatus, String) {
    if xagent.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null()) {
        return (Kstatus::Terminating, "resource scheduled for deletion".into());
    }
    let generation = xagent.pointer("/metadata/generation").and_then(Value::as_i64);
    let observed = xagent.pointer("/status/observedGeneration").and_then(Value::as_i64);
    if let (Some(generation), Some(observed)) = (generation, observed)
        && observed != generation
    {
        let message = format!("generation is {generation}, but latest observed generation is {observed}");
        return (Kstatus::InProgress, message);
    }
    for c in conditions(xagent) {
        let message = c["message"].as_str().unwrap_or_default().to_string();
        match (c["type"].as_str(), c["status"].as_str()) {
            (Some("Reconciling"), Some("True")) => return (Kstatus::InProgress, message),
            (Some("Stalled"), Some("True")) => return (Kstatus::Failed, message),
            _ => {}
        }
    }
    (Kstatus::Current, "Resource is current".into())
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped Argo CD health script.
pub fn argocd_script() -> PathBuf {
    root().join("config/gitops/argocd/health.lua")
}

/// Runs the Argo CD health script over `xagent` in `lua5.1`, with `obj` bound
/// as Argo CD binds it (JSON null becomes nil); returns (status, message).
pub fn argocd(xagent: &Value) -> (String, String) {
    run_lua(&argocd_script(), xagent)
}

/// Runs `script` as an Argo CD health check over `obj`.
pub fn run_lua(script: &Path, obj: &Value) -> (String, String) {
    let program = format!(
        "obj = {}\nlocal hs = dofile({})\nio.write(hs.status, \"\\n\", hs.message or \"\")\n",
        lua_literal(obj),
        lua_string(&script.display().to_string())
    );
    let output = Command::new("lua5.1")
        .args(["-e", &program])
        .output()
        .unwrap_or_else(|e| panic!("running lua5.1 ({e}); ./scripts/setup.sh installs it"));
    assert!(output.status.success(), "lua5.1 failed: {}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let (status, message) = stdout.split_once('\n').unwrap_or((&stdout, ""));
    (status.to_string(), message.to_string())
}

/// `value` as a Lua table constructor.
pub fn lua_literal(value: &Value) -> String {
    match value {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => lua_string(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(lua_literal).collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Object(map) => {
            let fields: Vec<String> =
                map.iter().map(|(k, v)| format!("[{}] = {}", lua_string(k), lua_literal(v))).collect();
            format!("{{{}}}", fields.join(", "))
        }
    }
}

/// A Lua string literal: every byte outside printable ASCII, and the quote
/// and backslash, as a decimal escape.
fn lua_string(s: &str) -> String {
    let mut out = String::from("\"");
    for byte in s.bytes() {
        match byte {
            b'"' | b'\\' => out.push_str(&format!("\\{byte:03}")),
            0x20..=0x7e => out.push(byte as char),
            _ => out.push_str(&format!("\\{byte:03}")),
        }
    }
    out.push('"');
    out
}

/// The shipped Flux health check entry: (inProgress, failed, current).
pub fn flux_exprs() -> (String, String, String) {
    let path = root().join("config/gitops/flux/health-check-exprs.yaml");
    let text = std::fs::read_to_string(&path).expect("reading the Flux health check");
    let entries: Vec<Value> = serde_yaml::from_str(&text).expect("a YAML list");
    let entry = entries.iter().find(|e| e["kind"] == "XAgent").expect("an entry for XAgent");
    assert_eq!(entry["apiVersion"], "xagent.io/v1alpha1");
    let expr = |k: &str| entry[k].as_str().unwrap_or_else(|| panic!("{k} is missing")).to_string();
    (expr("inProgress"), expr("failed"), expr("current"))
}

/// kustomize-controller's reading of `healthCheckExprs`: an observed
/// generation behind the object's is InProgress; then `inProgress`,
/// `failed` and `current` are evaluated in that order with the object's
/// top-level fields as variables, and the first that is true decides;
/// none true, or an expression that cannot be evaluated yet (a field not
/// there), is InProgress: Flux keeps waiting.
pub fn flux(xagent: &Value) -> Kstatus {
    let generation = xagent.pointer("/metadata/generation").and_then(Value::as_i64);
    let observed = xagent.pointer("/status/observedGeneration").and_then(Value::as_i64);
    if matches!((generation, observed), (Some(g), Some(o)) if g != o) {
        return Kstatus::InProgress;
    }
    let (in_progress, failed, current) = flux_exprs();
    let mut context = cel::Context::default();
    for (name, value) in xagent.as_object().into_iter().flatten() {
        context.add_variable(name.as_str(), value.clone()).expect("a CEL value");
    }
    for (expr, verdict) in
        [(in_progress, Kstatus::InProgress), (failed, Kstatus::Failed), (current, Kstatus::Current)]
    {
        let program = cel::Program::compile(&expr).unwrap_or_else(|e| panic!("compiling {expr}: {e}"));
        if matches!(program.execute(&context), Ok(cel::Value::Bool(true))) {
            return verdict;
        }
    }
    Kstatus::InProgress
}

/// The scenario table: what a person expects each judge to say.
pub fn expected(scenario: &str) -> Expected {
    use Kstatus::{Current, Failed, InProgress};
    let e = |kstatus, argocd, flux| Expected { kstatus, argocd, flux };
    match scenario {
        "fresh" | "spec edited, not yet observed" => e(InProgress, "Progressing", InProgress),
        "rollout in progress" | "waiting for replicas" | "pods crash-looping" => {
            e(InProgress, "Progressing", InProgress)
        }
        "transient 5xx" => e(InProgress, "Progressing", InProgress),
        "all ready" => e(Current, "Healthy", Current),
        "Redis down" => e(InProgress, "Degraded", InProgress),
        "crash-looping past the progress deadline"
        | "invalid spec"
        | "foreign conflict"
        | "permanent 422" => e(Failed, "Degraded", Failed),
        other => panic!("no expectation for scenario {other:?}"),
    }
}
