//! The monitoring objects against the real references: the ServiceMonitor and
//! the PrometheusRule must fit the upstream Prometheus Operator schemas,
//! `promtool check rules` must accept the rules, and `promtool test rules`
//! must show every alert of the catalog firing on a bad series and silent on a
//! healthy one, whatever other XAgents (another name, another namespace) do.
//!
//! The upstream CRDs (Prometheus Operator v0.93.0, Apache-2.0) are vendored
//! unchanged under tests/alerts/. promtool comes from the Debian package
//! `prometheus`; set PROMTOOL to use another binary.

#[path = "support/tools.rs"]
mod tools;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use xagent_operator::builders::monitoring::{prometheus_rule, service_monitor};
use xagent_operator::crd::XAgent;
use xagent_operator::validate::{FieldError, check_against_schema, parse_xagent};

/// The same checks for the operator's own alert catalog.
#[path = "alerts/operator.rs"]
mod operator;

// ------------------------------------------------------------------ XAgents

fn document(spec: Value) -> Value {
    json!({
        "apiVersion": "xagent.io/v1alpha1",
        "kind": "XAgent",
        "metadata": {"name": "demo", "namespace": "ns", "uid": "u1"},
        "spec": spec,
    })
}

fn xagent(spec: Value) -> XAgent {
    parse_xagent(document(spec), "test").unwrap_or_else(|e| panic!("the test XAgent is invalid: {e}"))
}

/// The minimal XAgent: every monitoring setting defaulted.
fn minimal() -> XAgent {
    xagent(json!({}))
}

/// An XAgent with `spec.monitoring.prometheusRule` set to `settings`.
fn with_rule_settings(settings: Value) -> XAgent {
    xagent(json!({"monitoring": {"prometheusRule": settings}}))
}

/// Every monitoring option set: labels, interval, timeout, runbooks, a disabled
/// group, a threshold + `for` override, a disabled alert.
fn full() -> XAgent {
    xagent(json!({"monitoring": {
        "serviceMonitor": {
            "enabled": true,
            "interval": "15s",
            "scrapeTimeout": "5s",
            "labels": {"release": "kube-prometheus-stack", "team": "agents"},
        },
        "prometheusRule": {
            "enabled": true,
            "labels": {"release": "kube-prometheus-stack", "role": "alert-rules"},
            "runbookBaseUrl": "https://runbooks.example.com/xagent/",
            "groups": {"api": true, "agent": true, "database": true, "resource": true, "tool": false, "worker": true},
            "alerts": {
                "XAgentHighErrorRate": {"threshold": 0.1, "for": "10m"},
                "XAgentHighTaskQueue": {"threshold": 500, "for": "1h30m"},
                "XAgentAPIDown": {"enabled": false},
                "XAgentHighLatency": {"enabled": true},
            },
        },
    }}))
}

/// 23 alerts minus the 3 of the tool group minus XAgentAPIDown.
const FULL_RULES: usize = 19;

fn service_monitor_json(x: &XAgent) -> Value {
    serde_json::to_value(service_monitor(x)).expect("a ServiceMonitor serializes")
}

fn prometheus_rule_json(x: &XAgent) -> Value {
    serde_json::to_value(prometheus_rule(x)).expect("a PrometheusRule serializes")
}

/// `(group name, rule)` for every rule of a serialized PrometheusRule, in order.
fn rules(rule: &Value) -> Vec<(String, Value)> {
    let groups = rule.pointer("/spec/groups").and_then(Value::as_array).expect("spec.groups is a list");
    groups
        .iter()
        .flat_map(|g| {
            let name = g["name"].as_str().expect("a group has a name").to_string();
            let rules = g["rules"].as_array().expect("a group has rules").clone();
            rules.into_iter().map(move |r| (name.clone(), r))
        })
        .collect()
}

fn alert_names(rule: &Value) -> Vec<String> {
    rules(rule).iter().map(|(_, r)| text(r, "alert").to_string()).collect()
}

/// The rule of alert `name`.
fn rule_of(rule: &Value, name: &str) -> Value {
    rules(rule)
        .into_iter()
        .map(|(_, r)| r)
        .find(|r| r["alert"] == name)
        .unwrap_or_else(|| panic!("no rule for {name}"))
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

// ------------------------------------------------------------------ upstream schemas

const SERVICE_MONITOR_CRD: &str = "monitoring.coreos.com_servicemonitors.yaml";
const PROMETHEUS_RULE_CRD: &str = "monitoring.coreos.com_prometheusrules.yaml";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("alerts")
}

/// `spec.versions[0].schema.openAPIV3Schema` of an upstream CRD file.
fn upstream_schema(file: &str) -> Value {
    let path = fixtures().join(file);
    let yaml =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let crd: Value =
        serde_yaml::from_str(&yaml).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()));
    let schema = crd.pointer("/spec/versions/0/schema/openAPIV3Schema").cloned();
    let schema = schema.unwrap_or_else(|| panic!("{} has no openAPIV3Schema", path.display()));
    assert_eq!(schema["type"], "object", "{file}: the schema describes an object");
    schema
}

fn schema_errors(file: &str, kind: &str, value: Value) -> Vec<FieldError> {
    check_against_schema(&upstream_schema(file), value, kind).1
}

fn show(errors: &[FieldError]) -> String {
    errors.iter().map(|e| format!("\n  {e}")).collect()
}

#[test]
fn service_monitors_match_the_upstream_schema() {
    for (what, x) in [("minimal", minimal()), ("full", full())] {
        let sm = service_monitor_json(&x);
        assert_eq!(sm["apiVersion"], "monitoring.coreos.com/v1", "{what}");
        assert_eq!(sm["kind"], "ServiceMonitor", "{what}");
        let errors = schema_errors(SERVICE_MONITOR_CRD, "ServiceMonitor", sm);
        assert!(errors.is_empty(), "{what} ServiceMonitor breaks the upstream schema:{}", show(&errors));
    }
    // The options reached the object that was checked.
    let sm = service_monitor_json(&full());
    assert_eq!(sm.pointer("/spec/endpoints/0/interval"), Some(&json!("15s")));
    assert_eq!(sm.pointer("/spec/endpoints/0/scrapeTimeout"), Some(&json!("5s")));
    assert_eq!(sm.pointer("/metadata/labels/release"), Some(&json!("kube-prometheus-stack")));
}

#[test]
fn prometheus_rules_match_the_upstream_schema() {
    for (what, x, count) in [("minimal", minimal(), 23), ("full", full(), FULL_RULES)] {
        let pr = prometheus_rule_json(&x);
        assert_eq!(pr["apiVersion"], "monitoring.coreos.com/v1", "{what}");
        assert_eq!(pr["kind"], "PrometheusRule", "{what}");
        assert_eq!(rules(&pr).len(), count, "{what}: rules checked");
        let errors = schema_errors(PROMETHEUS_RULE_CRD, "PrometheusRule", pr);
        assert!(errors.is_empty(), "{what} PrometheusRule breaks the upstream schema:{}", show(&errors));
    }
    let pr = prometheus_rule_json(&full());
    assert_eq!(pr.pointer("/metadata/labels/role"), Some(&json!("alert-rules")));
    assert_eq!(text(&rule_of(&pr, "XAgentHighTaskQueue"), "for"), "1h30m");
}

/// Asserts that `errors` holds one for `path` whose message contains `message`.
fn assert_error(errors: &[FieldError], path: &str, message: &str) {
    assert!(
        errors.iter().any(|e| e.path == path && e.message.contains(message)),
        "expected an error `{path}: …{message}…`, got:{}",
        show(errors)
    );
}

#[test]
fn the_schema_check_rejects_broken_objects() {
    let mut pr = prometheus_rule_json(&minimal());
    pr["spec"]["groups"][0]["rules"][0]["for"] = json!("5 minutes");
    pr["spec"]["groups"][1]["rules"][0]["severity"] = json!("critical");
    pr["spec"]["groups"][2]["rules"][0]["labels"]["team"] = json!(3);
    pr["spec"]["groups"][3]["rules"] = json!("not a list");
    pr["spec"]["groups"][4].as_object_mut().unwrap().remove("name");
    let errors = schema_errors(PROMETHEUS_RULE_CRD, "PrometheusRule", pr);
    assert_error(&errors, "PrometheusRule.spec.groups[0].rules[0].for", "does not match the pattern");
    assert_error(&errors, "PrometheusRule.spec.groups[1].rules[0].severity", "unknown field");
    assert_error(&errors, "PrometheusRule.spec.groups[2].rules[0].labels.team", "expected string");
    assert_error(&errors, "PrometheusRule.spec.groups[3].rules", "expected array");
    assert_error(&errors, "PrometheusRule.spec.groups[4].name", "Required value");
    assert_eq!(errors.len(), 5, "exactly the five breakages:{}", show(&errors));

    let mut sm = service_monitor_json(&minimal());
    sm["spec"]["endpoints"][0]["interval"] = json!("30 seconds");
    sm["spec"]["endpoints"][0]["relabelings"][0]["action"] = json!("rename");
    sm["spec"]["scrapeEverything"] = json!(true);
    sm["spec"].as_object_mut().unwrap().remove("selector");
    let errors = schema_errors(SERVICE_MONITOR_CRD, "ServiceMonitor", sm);
    assert_error(&errors, "ServiceMonitor.spec.endpoints[0].interval", "does not match the pattern");
    assert_error(&errors, "ServiceMonitor.spec.endpoints[0].relabelings[0].action", "Unsupported value");
    assert_error(&errors, "ServiceMonitor.spec.scrapeEverything", "unknown field");
    assert_error(&errors, "ServiceMonitor.spec.selector", "Required value");
    assert_eq!(errors.len(), 4, "exactly the four breakages:{}", show(&errors));
}

// ------------------------------------------------------------------ promtool

/// A directory under the system temp dir, removed on drop (also when a test panics).
fn temp_dir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("xagent-alerts-{tag}-"))
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"))
}

/// Writes `contents` to `dir/name` and returns the path.
fn write_file(dir: &tempfile::TempDir, name: &str, contents: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, contents).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

const NO_PROMTOOL: &str = "promtool is required by the alert tests: run ./scripts/setup.sh (Debian package \
                           `prometheus`), or point PROMTOOL at a promtool binary";

/// `$PROMTOOL`, else `promtool` on PATH. Missing promtool fails the test: the
/// catalog must not pass unchecked.
fn promtool() -> PathBuf {
    tools::from_path("promtool", "PROMTOOL", NO_PROMTOOL)
}

/// Runs promtool in `dir`; returns whether it succeeded and its stdout + stderr.
fn run_promtool(dir: &Path, args: &[&OsStr]) -> (bool, String) {
    let tool = promtool();
    let out = Command::new(&tool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}. {NO_PROMTOOL}", tool.display()));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The PrometheusRule's spec (`groups:`) as a Prometheus rule file.
fn rule_file(rule: &Value) -> String {
    serde_yaml::to_string(&rule["spec"]).expect("the rule spec serializes to YAML")
}

fn check_rules(rule: &Value) -> (bool, String) {
    let dir = temp_dir("check");
    let file = write_file(&dir, "rules.yaml", &rule_file(rule));
    run_promtool(dir.path(), &[OsStr::new("check"), OsStr::new("rules"), file.as_os_str()])
}

#[test]
fn promtool_check_rules_accepts_the_catalog() {
    for (what, x, count) in [("minimal", minimal(), 23), ("full", full(), FULL_RULES)] {
        let (ok, out) = check_rules(&prometheus_rule_json(&x));
        assert!(ok, "promtool check rules rejects the {what} PrometheusRule:\n{out}");
        let found = format!("SUCCESS: {count} rules found");
        assert!(out.contains(&found), "{what}: expected `{found}` in:\n{out}");
    }
}

#[test]
fn promtool_check_rules_rejects_a_broken_rule() {
    let mut pr = prometheus_rule_json(&minimal());
    pr["spec"]["groups"][0]["rules"][0]["expr"] = json!("sum(up{namespace=\"ns\"");
    let (ok, out) = check_rules(&pr);
    assert!(!ok, "promtool accepted a rule with an unbalanced expression:\n{out}");
    assert!(out.contains("XAgentAPIDown") || out.contains("parse error"), "names the problem:\n{out}");
}

// ------------------------------------------------------------------ promtool test rules: the table

/// A series as promtool's `input_series` gives it; values are generated with
/// promtool's expanding notation, one sample per minute.
#[derive(Clone, Debug)]
struct Series {
    selector: String,
    values: Values,
}

#[derive(Clone, Copy, Debug)]
enum Values {
    /// A counter growing by this much per minute from 0.
    Counter(f64),
    /// A gauge holding this value.
    Gauge(f64),
    /// Values in promtool's own notation, e.g. `1x30 0x40` (up, then down).
    Notation(&'static str),
}

impl Values {
    fn notation(self, samples: u64) -> String {
        match self {
            Self::Counter(step) => format!("0+{step}x{samples}"),
            Self::Gauge(v) => format!("{v}+0x{samples}"),
            Self::Notation(values) => values.to_string(),
        }
    }
}

const API_POD: &str = "demo-api-7d9c8b6f5-x2x9z";
const WEBSOCKET_POD: &str = "demo-websocket-6c7d8f9b5-q7w2r";
const WORKER_POD: &str = "demo-worker-5f6b7c8d9-k4m2p";
const WORKER_POD_2: &str = "demo-worker-5f6b7c8d9-z8n5t";
const CHROMADB_POD: &str = "demo-chromadb-0";
const CHROMADB_PVC: &str = "data-demo-chromadb-0";
const CHROMADB_PVC_2: &str = "data-demo-chromadb-1";

/// A series of the application, labelled by the ServiceMonitor's relabelings.
fn app(metric: &str, labels: &str) -> String {
    format!(r#"{metric}{{namespace="ns",xagent="demo",{labels}}}"#)
}

/// A kube-state-metrics / cAdvisor / kubelet series of namespace ns.
fn kube(metric: &str, labels: &str) -> String {
    format!(r#"{metric}{{namespace="ns",{labels}}}"#)
}

/// A series of the operator's dependency probes.
fn dependency(metric: &str, dep: &str) -> String {
    format!(r#"{metric}{{namespace="ns",xagent="demo",dependency="{dep}"}}"#)
}

fn counter(selector: String, per_minute: f64) -> Series {
    Series { selector, values: Values::Counter(per_minute) }
}

fn gauge(selector: String, value: f64) -> Series {
    Series { selector, values: Values::Gauge(value) }
}

/// Request counter of a component, for one status.
fn requests(component: &str, pod: &str, status: &str, per_minute: f64) -> Series {
    let labels =
        format!(r#"component="{component}",pod="{pod}",method="POST",route="/goals",status="{status}""#);
    counter(app("xagent_http_requests_total", &labels), per_minute)
}

/// Cumulative histogram buckets: `(le, observations per minute)`.
fn buckets(metric: &str, labels: &str, per_minute: &[(&str, f64)]) -> Vec<Series> {
    per_minute.iter().map(|(le, n)| counter(app(metric, &format!(r#"{labels},le="{le}""#)), *n)).collect()
}

fn up(component: &str, pod: &str, value: f64) -> Series {
    gauge(app("up", &format!(r#"component="{component}",pod="{pod}",job="demo-{component}""#)), value)
}

/// `up` of a target that answered for half an hour, then stopped.
fn up_then_down(component: &str, pod: &str) -> Series {
    let selector = app("up", &format!(r#"component="{component}",pod="{pod}",job="demo-{component}""#));
    Series { selector, values: Values::Notation("1x30 0x60") }
}

/// kube-state-metrics' creation time of `pod`, in seconds of the test's clock.
fn pod_created(pod: &str, at_second: f64) -> Series {
    gauge(kube("kube_pod_created", &format!(r#"pod="{pod}""#)), at_second)
}

/// Where the `up` alerts are evaluated: their 1h window, `for` and the margin.
const UP_ALERT_EVAL_SECONDS: f64 = 63.0 * 60.0;

/// A pod created five minutes before the `up` alerts are evaluated.
const YOUNG_POD: f64 = UP_ALERT_EVAL_SECONDS - 300.0;

/// A pod created an hour before the test's clock starts: past the grace from
/// the first sample, so the pending check before `for` means something.
const LONG_AGO: f64 = -3600.0;

/// A circuit breaker of one pod: 1 while open.
fn breaker(pod: &str, name: &str, open: f64) -> Series {
    gauge(app("xagent_circuit_breaker_open", &format!(r#"pod="{pod}",breaker="{name}""#)), open)
}

fn goals(outcome: &str, per_minute: f64) -> Series {
    let labels = format!(r#"component="worker",pod="{WORKER_POD}",outcome="{outcome}""#);
    counter(app("xagent_goals_total", &labels), per_minute)
}

fn tools(outcome: &str, per_minute: f64) -> Series {
    let labels = format!(r#"component="worker",pod="{WORKER_POD}",tool="python",outcome="{outcome}""#);
    counter(app("xagent_tool_executions_total", &labels), per_minute)
}

/// cAdvisor CPU of a pod (its container and the pod-level cgroup, `container=""`)
/// and kube-state-metrics limits (CPU 1 core, memory 1e9 bytes).
fn cpu(pod: &str, container: &str, cores: f64) -> Vec<Series> {
    let mut series = vec![
        counter(
            kube("container_cpu_usage_seconds_total", &format!(r#"pod="{pod}",container="{container}""#)),
            cores * 60.0,
        ),
        counter(
            kube("container_cpu_usage_seconds_total", &format!(r#"pod="{pod}",container="""#)),
            cores * 60.0,
        ),
    ];
    series.extend(limits(pod, container));
    series
}

/// cAdvisor working set of a pod (container and pod cgroup) and its limits.
fn memory(pod: &str, container: &str, bytes: f64) -> Vec<Series> {
    let mut series = vec![
        gauge(
            kube("container_memory_working_set_bytes", &format!(r#"pod="{pod}",container="{container}""#)),
            bytes,
        ),
        gauge(kube("container_memory_working_set_bytes", &format!(r#"pod="{pod}",container="""#)), bytes),
    ];
    series.extend(limits(pod, container));
    series
}

fn limits(pod: &str, container: &str) -> Vec<Series> {
    let limit = |resource: &str, unit: &str| {
        let labels = format!(r#"pod="{pod}",container="{container}",resource="{resource}",unit="{unit}""#);
        kube("kube_pod_container_resource_limits", &labels)
    };
    vec![gauge(limit("cpu", "core"), 1.0), gauge(limit("memory", "byte"), 1e9)]
}

fn volume(pvc: &str, available: f64, capacity: f64) -> Vec<Series> {
    let sel = |metric| kube(metric, &format!(r#"persistentvolumeclaim="{pvc}""#));
    vec![
        gauge(sel("kubelet_volume_stats_available_bytes"), available),
        gauge(sel("kubelet_volume_stats_capacity_bytes"), capacity),
    ]
}

/// One alert the scenario must raise: the labels the expression keeps (beyond
/// severity and the [`Scope`]'s labels) and what `{{ $value … }}` expands to.
#[derive(Clone, Debug)]
struct Fired {
    labels: Vec<(&'static str, &'static str)>,
    value: &'static str,
}

fn fires(value: &'static str) -> Vec<Fired> {
    vec![Fired { labels: Vec::new(), value }]
}

fn fires_with(labels: &[(&'static str, &'static str)], value: &'static str) -> Fired {
    Fired { labels: labels.to_vec(), value }
}

/// A further scenario of an alert.
struct Scenario {
    what: &'static str,
    series: Vec<Series>,
    fires: Vec<Fired>,
}

/// The promtool cases of one alert.
struct Case {
    alert: &'static str,
    /// XAgent demo misbehaving ...
    bad: Vec<Series>,
    /// ... raises exactly these alerts.
    fires: Vec<Fired>,
    /// XAgent demo healthy: the alert stays silent.
    good: Vec<Series>,
    /// Edge cases.
    more: Vec<Scenario>,
}

fn case(alert: &'static str, bad: Vec<Series>, fires: Vec<Fired>, good: Vec<Series>) -> Case {
    Case { alert, bad, fires, good, more: Vec::new() }
}

/// A resource alert's cases: `usage(pod, container, share × full)` at 95 %
/// fires, at 85 % (past the seeds' 80 %) fires, at 60 % stays silent.
fn resource_case(alert: &'static str, usage: fn(&str, &str, f64) -> Vec<Series>, full: f64) -> Case {
    let pods = |share: f64| {
        [
            usage(API_POD, "api", share * full),
            usage(CHROMADB_POD, "chromadb", share * full),
            usage(WORKER_POD, "worker", 0.3 * full),
        ]
        .concat()
    };
    Case {
        more: vec![Scenario {
            what: "85 %, past the seeds' 80 %",
            series: usage(API_POD, "api", 0.85 * full),
            fires: vec![fires_with(&[("pod", API_POD)], "85%")],
        }],
        ..case(
            alert,
            pods(0.95),
            vec![fires_with(&[("pod", API_POD)], "95%"), fires_with(&[("pod", CHROMADB_POD)], "95%")],
            pods(0.6),
        )
    }
}

/// Firing and healthy series for all 23 alerts.
fn cases() -> Vec<Case> {
    vec![
        // ---- api
        Case {
            more: vec![
                Scenario {
                    what: "a new XAgent: no API target and no API pod yet",
                    series: vec![up("worker", WORKER_POD, 1.0)],
                    fires: Vec::new(),
                },
                Scenario {
                    what: "API pods five minutes old that never answered (image still pulling)",
                    series: vec![up("api", API_POD, 0.0), pod_created(API_POD, YOUNG_POD)],
                    fires: Vec::new(),
                },
                Scenario {
                    what: "API pods past the grace that never answered",
                    series: vec![pod_created(API_POD, 0.0), up("worker", WORKER_POD, 1.0)],
                    fires: fires("0"),
                },
                Scenario {
                    what: "the API answered for half an hour, then stopped",
                    series: vec![up_then_down("api", API_POD), pod_created(API_POD, YOUNG_POD)],
                    fires: fires("0"),
                },
            ],
            ..case(
                "XAgentAPIDown",
                vec![
                    up("api", API_POD, 0.0),
                    pod_created(API_POD, LONG_AGO),
                    up("websocket", WEBSOCKET_POD, 1.0),
                    up("worker", WORKER_POD, 1.0),
                ],
                fires("0"),
                vec![
                    up("api", API_POD, 1.0),
                    up("websocket", WEBSOCKET_POD, 0.0),
                    up("worker", WORKER_POD, 0.0),
                ],
            )
        },
        case(
            "XAgentHighErrorRate",
            vec![requests("api", API_POD, "200", 10.0), requests("api", API_POD, "503", 10.0)],
            fires("50%"),
            vec![
                requests("api", API_POD, "200", 100.0),
                requests("api", API_POD, "500", 1.0),
                // The WebSocket gateway's errors are not the API's.
                requests("websocket", WEBSOCKET_POD, "502", 50.0),
            ],
        ),
        case(
            "XAgentHighLatency",
            buckets(
                "xagent_http_request_duration_seconds_bucket",
                &format!(r#"component="api",pod="{API_POD}",route="/goals""#),
                &[("0.5", 0.0), ("1", 0.0), ("5", 10.0), ("+Inf", 10.0)],
            ),
            fires("4.8s"),
            [
                buckets(
                    "xagent_http_request_duration_seconds_bucket",
                    &format!(r#"component="api",pod="{API_POD}",route="/goals""#),
                    &[("0.5", 8.0), ("1", 10.0), ("5", 10.0), ("+Inf", 10.0)],
                ),
                // A slow WebSocket gateway does not make the API slow.
                buckets(
                    "xagent_http_request_duration_seconds_bucket",
                    &format!(r#"component="websocket",pod="{WEBSOCKET_POD}",route="/ws""#),
                    &[("0.5", 0.0), ("1", 0.0), ("5", 10.0), ("+Inf", 10.0)],
                ),
            ]
            .concat(),
        ),
        case(
            "XAgentHighRequestRate",
            vec![requests("api", API_POD, "200", 120_000.0)],
            fires("2k"),
            vec![
                requests("api", API_POD, "200", 600.0),
                requests("websocket", WEBSOCKET_POD, "101", 120_000.0),
            ],
        ),
        case(
            "XAgentAuthenticationFailures",
            vec![counter(
                app(
                    "xagent_auth_failures_total",
                    &format!(r#"component="api",pod="{API_POD}",reason="invalid_token""#),
                ),
                300.0,
            )],
            fires("5"),
            vec![counter(
                app(
                    "xagent_auth_failures_total",
                    &format!(r#"component="api",pod="{API_POD}",reason="invalid_token""#),
                ),
                6.0,
            )],
        ),
        // ---- agent
        Case {
            more: vec![Scenario {
                what: "idle: no active goal, no iteration",
                series: vec![
                    gauge(
                        app(
                            "xagent_cognitive_loop_iterations_total",
                            &format!(r#"component="worker",pod="{WORKER_POD}""#),
                        ),
                        1000.0,
                    ),
                    gauge(
                        app("xagent_active_goals", &format!(r#"component="worker",pod="{WORKER_POD}""#)),
                        0.0,
                    ),
                ],
                fires: Vec::new(),
            }],
            ..case(
                "XAgentCognitiveLoopStuck",
                vec![
                    gauge(
                        app(
                            "xagent_cognitive_loop_iterations_total",
                            &format!(r#"component="worker",pod="{WORKER_POD}""#),
                        ),
                        1000.0,
                    ),
                    gauge(
                        app("xagent_active_goals", &format!(r#"component="worker",pod="{WORKER_POD}""#)),
                        3.0,
                    ),
                ],
                fires("0"),
                vec![
                    counter(
                        app(
                            "xagent_cognitive_loop_iterations_total",
                            &format!(r#"component="worker",pod="{WORKER_POD}""#),
                        ),
                        60.0,
                    ),
                    gauge(
                        app("xagent_active_goals", &format!(r#"component="worker",pod="{WORKER_POD}""#)),
                        3.0,
                    ),
                ],
            )
        },
        case(
            "XAgentHighFailureRate",
            vec![goals("failed", 10.0), goals("completed", 2.0)],
            fires("83.33%"),
            vec![goals("failed", 1.0), goals("completed", 20.0), goals("cancelled", 1.0)],
        ),
        Case {
            more: vec![Scenario {
                what: "no goal finished in the last hour",
                series: vec![goals("failed", 0.0), goals("completed", 0.0)],
                fires: Vec::new(),
            }],
            ..case(
                "XAgentLowGoalCompletionRate",
                vec![goals("completed", 1.0), goals("failed", 2.0)],
                fires("33.33%"),
                vec![goals("completed", 9.0), goals("failed", 1.0)],
            )
        },
        case(
            "XAgentCircuitBreakerOpen",
            // Open on one of two pods: that pod's calls fail fast.
            vec![
                breaker(API_POD, "llm", 1.0),
                breaker(WORKER_POD, "llm", 0.0),
                breaker(WORKER_POD, "vector-store", 0.0),
            ],
            vec![fires_with(&[("breaker", "llm")], "1")],
            vec![
                breaker(API_POD, "llm", 0.0),
                breaker(WORKER_POD, "llm", 0.0),
                breaker(WORKER_POD, "vector-store", 0.0),
            ],
        ),
        // ---- database
        case(
            "XAgentRedisDown",
            vec![
                gauge(dependency("xagent_dependency_up", "redis"), 0.0),
                gauge(dependency("xagent_dependency_up", "postgres"), 1.0),
            ],
            vec![fires_with(&[("dependency", "redis")], "0")],
            vec![
                gauge(dependency("xagent_dependency_up", "redis"), 1.0),
                gauge(dependency("xagent_dependency_up", "postgres"), 0.0),
            ],
        ),
        case(
            "XAgentPostgreSQLDown",
            vec![
                gauge(dependency("xagent_dependency_up", "postgres"), 0.0),
                gauge(dependency("xagent_dependency_up", "redis"), 1.0),
            ],
            vec![fires_with(&[("dependency", "postgres")], "0")],
            vec![
                gauge(dependency("xagent_dependency_up", "postgres"), 1.0),
                gauge(dependency("xagent_dependency_up", "redis"), 0.0),
            ],
        ),
        case(
            "XAgentChromaDBDown",
            vec![gauge(
                kube("kube_statefulset_status_replicas_ready", r#"statefulset="demo-chromadb""#),
                0.0,
            )],
            vec![fires_with(&[("statefulset", "demo-chromadb")], "0")],
            vec![gauge(
                kube("kube_statefulset_status_replicas_ready", r#"statefulset="demo-chromadb""#),
                1.0,
            )],
        ),
        case(
            "XAgentHighDBConnections",
            vec![gauge(dependency("xagent_dependency_saturation_ratio", "postgres"), 0.95)],
            vec![fires_with(&[("dependency", "postgres")], "95%")],
            vec![
                gauge(dependency("xagent_dependency_saturation_ratio", "postgres"), 0.5),
                gauge(dependency("xagent_dependency_saturation_ratio", "redis"), 0.95),
            ],
        ),
        case(
            "XAgentRedisHighMemory",
            vec![gauge(dependency("xagent_dependency_saturation_ratio", "redis"), 0.95)],
            vec![fires_with(&[("dependency", "redis")], "95%")],
            vec![
                gauge(dependency("xagent_dependency_saturation_ratio", "redis"), 0.5),
                gauge(dependency("xagent_dependency_saturation_ratio", "postgres"), 0.95),
            ],
        ),
        // ---- resource
        resource_case("XAgentHighCPU", cpu, 1.0),
        resource_case("XAgentHighMemory", memory, 1e9),
        case(
            "XAgentLowDiskSpace",
            [volume(CHROMADB_PVC, 5e9, 100e9), volume(CHROMADB_PVC_2, 50e9, 100e9)].concat(),
            vec![fires_with(&[("persistentvolumeclaim", CHROMADB_PVC)], "5%")],
            [volume(CHROMADB_PVC, 50e9, 100e9), volume(CHROMADB_PVC_2, 50e9, 100e9)].concat(),
        ),
        // ---- tool
        case(
            "XAgentToolExecutionFailures",
            vec![tools("error", 50.0), tools("success", 50.0)],
            fires("50%"),
            vec![tools("error", 1.0), tools("success", 99.0), tools("timeout", 20.0)],
        ),
        case(
            "XAgentToolExecutionTimeout",
            vec![tools("timeout", 20.0), tools("success", 80.0)],
            fires("20%"),
            vec![tools("timeout", 1.0), tools("success", 99.0), tools("error", 30.0)],
        ),
        case(
            "XAgentSandboxUnavailable",
            vec![
                gauge(
                    app("xagent_sandbox_available", &format!(r#"component="worker",pod="{WORKER_POD}""#)),
                    0.0,
                ),
                gauge(
                    app("xagent_sandbox_available", &format!(r#"component="worker",pod="{WORKER_POD_2}""#)),
                    1.0,
                ),
            ],
            fires("0"),
            vec![
                gauge(
                    app("xagent_sandbox_available", &format!(r#"component="worker",pod="{WORKER_POD}""#)),
                    1.0,
                ),
                gauge(
                    app("xagent_sandbox_available", &format!(r#"component="worker",pod="{WORKER_POD_2}""#)),
                    1.0,
                ),
            ],
        ),
        // ---- worker
        Case {
            more: vec![
                Scenario {
                    what: "a new XAgent: no worker target and no worker pod yet",
                    series: vec![up("api", API_POD, 1.0)],
                    fires: Vec::new(),
                },
                Scenario {
                    what: "no worker target, worker pods past the grace",
                    series: vec![up("api", API_POD, 1.0), pod_created(WORKER_POD, 0.0)],
                    fires: fires("0"),
                },
            ],
            ..case(
                "XAgentWorkerDown",
                vec![
                    up("worker", WORKER_POD, 0.0),
                    pod_created(WORKER_POD, LONG_AGO),
                    up("api", API_POD, 1.0),
                ],
                fires("0"),
                vec![up("worker", WORKER_POD, 1.0), up("api", API_POD, 0.0)],
            )
        },
        case(
            "XAgentHighTaskQueue",
            vec![
                gauge(
                    app(
                        "xagent_task_queue_depth",
                        &format!(r#"component="worker",pod="{WORKER_POD}",queue="goals""#),
                    ),
                    500.0,
                ),
                gauge(
                    app(
                        "xagent_task_queue_depth",
                        &format!(r#"component="worker",pod="{WORKER_POD}",queue="tools""#),
                    ),
                    3.0,
                ),
            ],
            fires("500"),
            vec![
                gauge(
                    app(
                        "xagent_task_queue_depth",
                        &format!(r#"component="worker",pod="{WORKER_POD}",queue="goals""#),
                    ),
                    10.0,
                ),
                gauge(
                    app(
                        "xagent_task_queue_depth",
                        &format!(r#"component="worker",pod="{WORKER_POD}",queue="tools""#),
                    ),
                    3.0,
                ),
            ],
        ),
        case(
            "XAgentSlowTaskProcessing",
            buckets(
                "xagent_task_duration_seconds_bucket",
                &format!(r#"component="worker",pod="{WORKER_POD}",task="goal""#),
                &[("60", 0.0), ("610", 10.0), ("+Inf", 10.0)],
            ),
            // 60 + 550 * 0.95 = 582.5 s.
            fires("9m 42s"),
            buckets(
                "xagent_task_duration_seconds_bucket",
                &format!(r#"component="worker",pod="{WORKER_POD}",task="goal""#),
                &[("60", 10.0), ("610", 10.0), ("+Inf", 10.0)],
            ),
        ),
    ]
}

/// Regression cases for the pod regex of XAgentHighCPU / XAgentHighMemory: the
/// ChromaDB pod `NAME-api-chromadb-0` of a sibling XAgent named `NAME-api` must
/// not count as a pod of XAgent NAME. Kubernetes name hashes use only
/// `bcdfghjklmnpqrstvwxz2456789`, which "chromadb" is not made of.
fn sibling_pod_cases() -> Vec<Case> {
    vec![
        Case {
            alert: "XAgentHighCPU",
            bad: Vec::new(),
            fires: Vec::new(),
            good: [
                cpu(API_POD, "api", 0.3),
                // XAgent "demo-api"'s ChromaDB pod, busy.
                cpu("demo-api-chromadb-0", "chromadb", 0.95),
            ]
            .concat(),
            more: Vec::new(),
        },
        Case {
            alert: "XAgentHighMemory",
            bad: Vec::new(),
            fires: Vec::new(),
            good: [
                memory(API_POD, "api", 0.3e9),
                // XAgent "demo-worker"'s ChromaDB pod, nearly out of memory.
                memory("demo-worker-chromadb-0", "chromadb", 0.95e9),
            ]
            .concat(),
            more: Vec::new(),
        },
    ]
}

/// The same series for XAgent `other` in namespace ns (names and labels renamed).
fn of_other_xagent(s: &Series) -> Series {
    let selector = s
        .selector
        .replace(r#"xagent="demo""#, r#"xagent="other""#)
        .replace(r#""demo-"#, r#""other-"#)
        .replace(r#""data-demo-"#, r#""data-other-"#);
    assert_ne!(selector, s.selector, "{} names nothing of XAgent demo", s.selector);
    Series { selector, ..s.clone() }
}

/// Deployment pods of the XAgent demo of namespace ns2: same names but for the
/// random suffix. (ChromaDB's StatefulSet pods have the same names in both.)
const NS2_PODS: [(&str, &str); 4] = [
    (API_POD, "demo-api-7d9c8b6f5-bq4lm"),
    (WEBSOCKET_POD, "demo-websocket-6c7d8f9b5-hn2vd"),
    (WORKER_POD, "demo-worker-5f6b7c8d9-wt8jx"),
    (WORKER_POD_2, "demo-worker-5f6b7c8d9-r7z4c"),
];

/// The same series for an XAgent also named demo, in namespace ns2.
fn in_other_namespace(s: &Series) -> Series {
    let mut selector = s.selector.replace(r#"namespace="ns""#, r#"namespace="ns2""#);
    assert_ne!(selector, s.selector, "{} has no namespace label", s.selector);
    for (pod, renamed) in NS2_PODS {
        selector = selector.replace(&format!(r#""{pod}""#), &format!(r#""{renamed}""#));
    }
    Series { selector, ..s.clone() }
}

/// `series` for two other XAgents: `other` in namespace ns, `demo` in ns2.
///
/// A healthy XAgent demo lives next to misbehaving neighbours (their series
/// must not raise its alert), a misbehaving one next to healthy neighbours
/// (their series must not mask its alert, e.g. their `up` targets).
fn neighbours(series: &[Series]) -> Vec<Series> {
    series.iter().map(of_other_xagent).chain(series.iter().map(in_other_namespace)).collect()
}

/// Whom a table of cases is about.
struct Scope {
    /// The labels every alert of the table carries beyond `severity` and the
    /// labels its expression keeps.
    labels: &'static [(&'static str, &'static str)],
    /// The series of the neighbours that run beside each case, made from the
    /// case's own series (see [`neighbours`]).
    neighbours: fn(&[Series]) -> Vec<Series>,
}

/// The per-XAgent catalog: XAgent demo of namespace ns, routed to team ns.
const XAGENT_DEMO: Scope =
    Scope { labels: &[("namespace", "ns"), ("xagent", "demo"), ("team", "ns")], neighbours };

// ------------------------------------------------------------------ promtool test rules: generation

/// Minutes of a Prometheus duration such as `1h30m` (seconds round up).
fn minutes(duration: &str) -> u64 {
    let mut total_seconds = 0;
    let mut number = String::new();
    let mut chars = duration.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            unit.push(chars.next().unwrap_or_default());
        }
        let n: u64 = number.parse().unwrap_or_else(|_| panic!("bad duration {duration}"));
        number.clear();
        total_seconds += n * match unit.as_str() {
            "ms" => 0,
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            "y" => 31_536_000,
            other => panic!("bad unit {other} in {duration}"),
        };
    }
    assert!(number.is_empty(), "duration {duration} lacks a unit");
    total_seconds.div_ceil(60)
}

/// The longest range selector (`[5m]`) of an expression, in minutes.
fn longest_range(expr: &str) -> u64 {
    let re = regex::Regex::new(r"\[((?:[0-9]+(?:ms|[smhdwy]))+)\]").expect("valid regex");
    re.captures_iter(expr).map(|c| minutes(&c[1])).max().unwrap_or(0)
}

/// Expands the `{{ … }}` actions of an annotation the way Prometheus does for
/// this alert: `$value` (whatever its formatting pipeline) becomes `value`,
/// `$labels.NAME` the alert's label.
fn expand(template: &str, value: &str, labels: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = start + rest[start..].find("}}").unwrap_or_else(|| panic!("unclosed action in {template}"));
        let action = rest[start + 2..end].trim();
        if action.starts_with("$value") {
            out.push_str(value);
        } else if let Some(name) = action.strip_prefix("$labels.") {
            let label =
                labels.get(name).unwrap_or_else(|| panic!("{template} uses label {name} the alert lacks"));
            out.push_str(label);
        } else {
            panic!("the test cannot expand `{{{{ {action} }}}}` in {template}");
        }
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// promtool's `exp_alerts` for `fired`: `severity`, the `base` labels and each
/// alert's own, annotations expanded.
fn exp_alerts(rule: &Value, fired: &[Fired], base: &[(&str, &str)]) -> Value {
    let alerts: Vec<Value> = fired
        .iter()
        .map(|f| {
            let mut labels =
                BTreeMap::from([("severity".to_string(), text(&rule["labels"], "severity").to_string())]);
            labels.extend(base.iter().chain(&f.labels).map(|(k, v)| (k.to_string(), v.to_string())));
            let annotations: BTreeMap<String, String> = rule["annotations"]
                .as_object()
                .expect("annotations")
                .iter()
                .map(|(k, v)| (k.clone(), expand(v.as_str().expect("string annotation"), f.value, &labels)))
                .collect();
            json!({"exp_labels": labels, "exp_annotations": annotations})
        })
        .collect();
    Value::Array(alerts)
}

fn input_series(series: &[Series], samples: u64) -> Value {
    series.iter().map(|s| json!({"series": s.selector, "values": s.values.notation(samples)})).collect()
}

/// When a firing case is evaluated: past the longest range plus `for`, with a margin.
fn eval_minutes(rule: &Value) -> u64 {
    longest_range(text(rule, "expr")) + minutes(text(rule, "for")) + 2
}

/// promtool test groups for `cases` of `scope`, timed and expected after the
/// rules of `rule`.
fn test_groups(rule: &Value, cases: &[Case], scope: &Scope) -> Vec<Value> {
    let mut groups = Vec::new();
    for case in cases {
        let alert = case.alert;
        let rule = rule_of(rule, alert);
        let eval = eval_minutes(&rule);
        let samples = eval + 5;
        // Misbehaving neighbours while demo is healthy, healthy ones while it misbehaves.
        let group = |name: String, series: &[Series], fired: &[Fired], checks: Vec<Value>| {
            let others = (scope.neighbours)(if fired.is_empty() { &case.bad } else { &case.good });
            json!({
                "name": name,
                "interval": "1m",
                "input_series": input_series(&[series, &others].concat(), samples),
                "alert_rule_test": checks,
            })
        };
        let check = |minute: u64, fired: &[Fired]| {
            json!({
                "eval_time": format!("{minute}m"),
                "alertname": alert,
                "exp_alerts": exp_alerts(&rule, fired, scope.labels),
            })
        };
        if !case.bad.is_empty() {
            let pending = minutes(text(&rule, "for")) - 1;
            groups.push(group(
                format!("{alert}: fires on a bad series"),
                &case.bad,
                &case.fires,
                // Still pending one minute before `for` has elapsed, firing afterwards.
                vec![check(pending, &[]), check(eval, &case.fires)],
            ));
        }
        groups.push(group(format!("{alert}: silent when healthy"), &case.good, &[], vec![check(eval, &[])]));
        for more in &case.more {
            let name = format!("{alert}: {}", more.what);
            groups.push(group(name, &more.series, &more.fires, vec![check(eval, &more.fires)]));
        }
    }
    groups
}

/// Writes `rules` as the rule file and a promtool test file for `cases` of
/// `scope` (timings and expected annotations taken from `expected`, usually the
/// same rules), runs `promtool test rules`; returns success, promtool's output
/// and the test file.
fn test_rules(rules: &Value, expected: &Value, cases: &[Case], scope: &Scope) -> (bool, String, String) {
    let dir = temp_dir("test");
    write_file(&dir, "rules.yaml", &rule_file(rules));
    let tests = json!({
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": test_groups(expected, cases, scope),
    });
    let yaml = serde_yaml::to_string(&tests).expect("the test file serializes");
    let file = write_file(&dir, "tests.yaml", &yaml);
    let (ok, out) = run_promtool(dir.path(), &[OsStr::new("test"), OsStr::new("rules"), file.as_os_str()]);
    (ok, out, yaml)
}

/// The alerts promtool reports a failed check for.
fn failed_alerts(out: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(r"alertname: (\w+),").expect("valid regex");
    re.captures_iter(out).map(|c| c[1].to_string()).collect()
}

/// `rule` with `change` applied to every alerting rule.
fn mutated(rule: &Value, change: impl Fn(&mut Value)) -> Value {
    let mut rule = rule.clone();
    for group in rule["spec"]["groups"].as_array_mut().expect("groups") {
        group["rules"].as_array_mut().expect("rules").iter_mut().for_each(&change);
    }
    rule
}

fn set_expr(rule: &mut Value, expr: String) {
    rule["expr"] = Value::String(expr);
}

/// `expr` without the label matcher `matcher` (e.g. `xagent="demo"`) in any
/// selector; a selector of that matcher alone (`up{job="x"}`) is left with the
/// bare metric name.
fn without_matcher(expr: &str, matcher: &str) -> String {
    expr.replace(&format!("{matcher},"), "")
        .replace(&format!(",{matcher}"), "")
        .replace(&format!("{{{matcher}}}"), "")
}

/// One case per alert of `pr`, in catalog order, each with a firing and a
/// healthy scenario, the firing one evaluated after the window and `for`.
fn assert_table_covers(pr: &Value, cases: &[Case]) {
    let covered: Vec<&str> = cases.iter().map(|c| c.alert).collect();
    assert_eq!(covered, alert_names(pr), "one case per alert, in catalog order");
    for case in cases {
        assert!(!case.bad.is_empty() && !case.fires.is_empty(), "{}: no firing case", case.alert);
        assert!(!case.good.is_empty(), "{}: no healthy case", case.alert);
        let rule = rule_of(pr, case.alert);
        let eval = eval_minutes(&rule);
        assert!(eval > minutes(text(&rule, "for")) + longest_range(text(&rule, "expr")), "{}", case.alert);
    }
}

#[test]
fn the_table_covers_every_alert_with_a_firing_and_a_silent_case() {
    assert_table_covers(&prometheus_rule_json(&minimal()), &cases());
    assert_eq!(longest_range("sum(rate(x[1h])) / sum(rate(x[5m]))"), 60);
    assert_eq!(longest_range(r#"rate(x{pod=~"a-[bc2]{5}"}[90s])"#), 2);
    assert_eq!(minutes("1h30m"), 90);
}

#[test]
fn promtool_test_rules_shows_every_alert_firing_and_silent() {
    let pr = prometheus_rule_json(&minimal());
    let (ok, out, yaml) = test_rules(&pr, &pr, &cases(), &XAGENT_DEMO);
    if !ok {
        eprintln!("generated promtool test file:\n{yaml}");
    }
    assert!(ok, "promtool test rules failed:\n{out}");
    assert!(out.contains("SUCCESS"), "promtool reports success:\n{out}");
}

/// The table catches broken rules: runs it against `rules` and returns the
/// alerts with a failed check.
fn table_failures(rules: &Value) -> BTreeSet<String> {
    let expected = prometheus_rule_json(&minimal());
    let (ok, out, _) = test_rules(rules, &expected, &cases(), &XAGENT_DEMO);
    assert!(!ok, "promtool test rules passed against broken rules:\n{out}");
    failed_alerts(&out)
}

fn all_alerts() -> BTreeSet<String> {
    CATALOG.iter().map(|(_, name, _)| name.to_string()).collect()
}

#[test]
fn every_firing_case_fails_when_its_alert_cannot_fire() {
    let never = mutated(&prometheus_rule_json(&minimal()), |r| {
        let expr = format!("({}) and on() (vector(1) < 0)", text(r, "expr"));
        set_expr(r, expr);
    });
    assert_eq!(table_failures(&never), all_alerts());
}

#[test]
fn every_firing_case_fails_when_for_is_dropped() {
    // Each firing case also checks that the alert is still pending one minute
    // before its `for` has elapsed.
    let no_for = mutated(&prometheus_rule_json(&minimal()), |r| r["for"] = json!("0s"));
    assert_eq!(table_failures(&no_for), all_alerts());
}

#[test]
fn every_case_fails_when_its_alert_ignores_the_namespace() {
    let unscoped = mutated(&prometheus_rule_json(&minimal()), |r| {
        let expr = without_matcher(text(r, "expr"), r#"namespace="ns""#);
        assert!(!expr.contains("namespace"), "{expr}");
        set_expr(r, expr);
    });
    assert_eq!(table_failures(&unscoped), all_alerts());
}

#[test]
fn every_application_case_fails_when_its_alert_ignores_the_xagent() {
    let pr = prometheus_rule_json(&minimal());
    let app_scoped: BTreeSet<String> = rules(&pr)
        .iter()
        .filter(|(_, r)| text(r, "expr").contains(r#"xagent="demo""#))
        .map(|(_, r)| text(r, "alert").to_string())
        .collect();
    // All but ChromaDBDown, HighCPU, HighMemory and LowDiskSpace (Kubernetes series).
    assert_eq!(app_scoped.len(), 19, "{app_scoped:?}");
    let unscoped = mutated(&pr, |r| {
        let expr = without_matcher(text(r, "expr"), r#"xagent="demo""#);
        assert!(!expr.contains("xagent="), "{expr}");
        set_expr(r, expr);
    });
    assert_eq!(table_failures(&unscoped), app_scoped);
}

#[test]
fn every_pod_case_fails_when_its_alert_ignores_the_pod_names() {
    let pr = prometheus_rule_json(&minimal());
    let unscoped = mutated(&pr, |r| {
        let expr = text(r, "expr").to_string();
        let start = expr.find(r#"pod=~""#);
        if let Some(start) = start {
            let end = start + 6 + expr[start + 6..].find('"').expect("closing quote");
            let pattern = &expr[start..=end];
            set_expr(r, expr.replace(pattern, r#"pod=~".+""#));
        }
    });
    // The resource alerts select pods by name, and so do the `up` alerts'
    // first-scrape grace (a neighbour's old pods must not end demo's grace).
    let expected: BTreeSet<String> =
        ["XAgentAPIDown", "XAgentHighCPU", "XAgentHighMemory", "XAgentWorkerDown"].map(String::from).into();
    assert_eq!(table_failures(&unscoped), expected);
}

#[test]
fn sibling_xagent_pods_do_not_trip_resource_alerts() {
    let pr = prometheus_rule_json(&minimal());
    let (ok, out, yaml) = test_rules(&pr, &pr, &sibling_pod_cases(), &XAGENT_DEMO);
    if !ok {
        eprintln!("generated promtool test file:\n{yaml}");
    }
    assert!(ok, "promtool test rules failed:\n{out}");
}

// ------------------------------------------------------------------ overrides

/// The rules that differ between two renderings, by alert name.
fn differing(a: &Value, b: &Value) -> Vec<String> {
    let b_rules = rules(b);
    rules(a)
        .into_iter()
        .filter(|(group, rule)| !b_rules.iter().any(|(g, r)| g == group && r == rule))
        .map(|(_, rule)| text(&rule, "alert").to_string())
        .collect()
}

#[test]
fn a_threshold_and_for_override_changes_just_that_rule() {
    let default = prometheus_rule_json(&minimal());
    let over = prometheus_rule_json(&with_rule_settings(json!({
        "alerts": {"XAgentHighErrorRate": {"threshold": 0.1, "for": "10m"}},
    })));
    assert_eq!(differing(&over, &default), ["XAgentHighErrorRate"]);
    assert_eq!(differing(&default, &over), ["XAgentHighErrorRate"]);
    let (before, after) = (rule_of(&default, "XAgentHighErrorRate"), rule_of(&over, "XAgentHighErrorRate"));
    assert!(text(&before, "expr").ends_with("> 0.05"), "{}", before["expr"]);
    assert!(text(&after, "expr").ends_with("> 0.1"), "{}", after["expr"]);
    assert_eq!(text(&after, "expr"), text(&before, "expr").replace("> 0.05", "> 0.1"));
    assert_eq!((text(&before, "for"), text(&after, "for")), ("5m", "10m"));
    assert_eq!(before["labels"], after["labels"]);
    assert_eq!(before["annotations"], after["annotations"]);
    let (ok, out) = check_rules(&over);
    assert!(ok && out.contains("SUCCESS: 23 rules found"), "{out}");
}

#[test]
fn a_disabled_group_removes_its_rules() {
    let default = prometheus_rule_json(&minimal());
    let no_tool = prometheus_rule_json(&with_rule_settings(json!({"groups": {"tool": false}})));
    let groups: Vec<String> = rules(&no_tool).into_iter().map(|(g, _)| g).collect();
    assert!(!groups.iter().any(|g| g == "xagent-tool"), "{groups:?}");
    let group_names: Vec<&str> =
        no_tool["spec"]["groups"].as_array().unwrap().iter().map(|g| text(g, "name")).collect();
    assert_eq!(
        group_names,
        ["xagent-api", "xagent-agent", "xagent-database", "xagent-resource", "xagent-worker"]
    );
    assert_eq!(rules(&no_tool).len(), 20);
    assert_eq!(
        differing(&default, &no_tool),
        ["XAgentToolExecutionFailures", "XAgentToolExecutionTimeout", "XAgentSandboxUnavailable"]
    );
    assert!(differing(&no_tool, &default).is_empty(), "the other rules are untouched");
}

#[test]
fn a_disabled_alert_drops_just_that_alert() {
    let default = prometheus_rule_json(&minimal());
    let no_api_down =
        prometheus_rule_json(&with_rule_settings(json!({"alerts": {"XAgentAPIDown": {"enabled": false}}})));
    assert_eq!(rules(&no_api_down).len(), 22);
    assert_eq!(differing(&default, &no_api_down), ["XAgentAPIDown"]);
    assert!(differing(&no_api_down, &default).is_empty(), "the other rules are untouched");
    let api: Vec<String> = rules(&no_api_down)
        .into_iter()
        .filter(|(g, _)| g == "xagent-api")
        .map(|(_, r)| text(&r, "alert").to_string())
        .collect();
    assert_eq!(
        api,
        ["XAgentHighErrorRate", "XAgentHighLatency", "XAgentHighRequestRate", "XAgentAuthenticationFailures"]
    );
    // Explicitly enabled is the default.
    let enabled =
        prometheus_rule_json(&with_rule_settings(json!({"alerts": {"XAgentAPIDown": {"enabled": true}}})));
    assert_eq!(enabled, default);
}

#[test]
fn an_unknown_alert_name_is_rejected() {
    let doc =
        document(json!({"monitoring": {"prometheusRule": {"alerts": {"XAgentTypo": {"threshold": 1}}}}}));
    let err = parse_xagent(doc, "test").expect_err("an unknown alert name must be rejected");
    assert!(
        err.errors.iter().any(|e| e.message.contains("keys must be alert names of the catalog")),
        "CEL message missing: {err}"
    );
    assert!(err.errors.iter().any(|e| e.path.contains("alerts")), "the error names the alerts field: {err}");
    // The same document with a known name is fine.
    let doc = document(
        json!({"monitoring": {"prometheusRule": {"alerts": {"XAgentHighLatency": {"threshold": 1}}}}}),
    );
    assert!(parse_xagent(doc, "test").is_ok());
}

// ------------------------------------------------------------------ the catalog

/// PRODUCT's table: group, alert, severity, in catalog order.
const CATALOG: [(&str, &str, &str); 23] = [
    ("api", "XAgentAPIDown", "critical"),
    ("api", "XAgentHighErrorRate", "high"),
    ("api", "XAgentHighLatency", "warning"),
    ("api", "XAgentHighRequestRate", "warning"),
    ("api", "XAgentAuthenticationFailures", "high"),
    ("agent", "XAgentCognitiveLoopStuck", "critical"),
    ("agent", "XAgentHighFailureRate", "high"),
    ("agent", "XAgentLowGoalCompletionRate", "warning"),
    ("agent", "XAgentCircuitBreakerOpen", "critical"),
    ("database", "XAgentRedisDown", "critical"),
    ("database", "XAgentPostgreSQLDown", "critical"),
    ("database", "XAgentChromaDBDown", "high"),
    ("database", "XAgentHighDBConnections", "warning"),
    ("database", "XAgentRedisHighMemory", "warning"),
    ("resource", "XAgentHighCPU", "warning"),
    ("resource", "XAgentHighMemory", "warning"),
    ("resource", "XAgentLowDiskSpace", "high"),
    ("tool", "XAgentToolExecutionFailures", "warning"),
    ("tool", "XAgentToolExecutionTimeout", "warning"),
    ("tool", "XAgentSandboxUnavailable", "high"),
    ("worker", "XAgentWorkerDown", "high"),
    ("worker", "XAgentHighTaskQueue", "warning"),
    ("worker", "XAgentSlowTaskProcessing", "warning"),
];

#[test]
fn every_rule_has_the_severity_annotations_and_scope_of_the_catalog() {
    let pr = prometheus_rule_json(&minimal());
    let rendered = rules(&pr);
    assert_eq!(rendered.len(), 23);
    assert_eq!(pr["spec"]["groups"].as_array().map(Vec::len), Some(6));
    for ((group, rule), (want_group, name, severity)) in rendered.iter().zip(CATALOG) {
        assert_eq!(text(rule, "alert"), name);
        assert_eq!(group, &format!("xagent-{want_group}"), "{name}");
        assert!(["critical", "high", "warning"].contains(&text(&rule["labels"], "severity")), "{name}");
        assert_eq!(text(&rule["labels"], "severity"), severity, "{name}");
        assert_eq!(text(&rule["labels"], "namespace"), "ns", "{name}");
        assert_eq!(text(&rule["labels"], "xagent"), "demo", "{name}");
        let for_ = text(rule, "for");
        assert!(minutes(for_) >= 1, "{name}: `for` {for_:?} must hold for at least a minute");
        for key in ["summary", "description", "runbook_url"] {
            assert!(!text(&rule["annotations"], key).trim().is_empty(), "{name}: empty {key}");
        }
        // By default, the project's own runbook page of the alert.
        let url = text(&rule["annotations"], "runbook_url");
        let page = url.strip_prefix(concat!(env!("CARGO_PKG_REPOSITORY"), "/blob/main/"));
        let page = page.unwrap_or_else(|| panic!("{name}: {url} is not under the repository's docs"));
        assert_eq!(page, format!("docs/runbooks/{name}.md"), "{name}");
        assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join(page).is_file(), "{name}: {url} names no file");
        let expr = text(rule, "expr");
        assert!(expr.contains(r#"namespace="ns""#), "{name} is not scoped to the namespace: {expr}");
        assert!(
            expr.contains(r#"xagent="demo""#) || expr.contains("\"demo-") || expr.contains("data-demo-"),
            "{name} is not scoped to the XAgent: {expr}"
        );
    }
    // The runbook base URL is configurable, without a doubled slash.
    let full = prometheus_rule_json(&full());
    let runbook = text(&rule_of(&full, "XAgentHighErrorRate")["annotations"], "runbook_url").to_string();
    assert_eq!(runbook, "https://runbooks.example.com/xagent/XAgentHighErrorRate.md");
}

#[test]
fn every_alert_carries_a_team_label_for_routing() {
    let team_of = |x: &XAgent| -> BTreeSet<String> {
        rules(&prometheus_rule_json(x)).iter().map(|(_, r)| text(&r["labels"], "team").to_string()).collect()
    };
    assert_eq!(team_of(&minimal()), BTreeSet::from(["ns".to_string()]), "the namespace by default");
    let payments = xagent(json!({"monitoring": {"team": "payments"}}));
    assert_eq!(team_of(&payments), BTreeSet::from(["payments".to_string()]));
    // A team must be a label value: the schema refuses anything else.
    let refused = parse_xagent(document(json!({"monitoring": {"team": "pay ments"}})), "test");
    assert!(refused.is_err(), "a team with a space must be refused");
}

/// Asserts that `docs/runbooks/<name>.md` opens with the alert's name and has
/// the sections an on-call engineer looks for.
fn assert_runbook_names(name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/runbooks");
    let page = std::fs::read_to_string(dir.join(format!("{name}.md")))
        .unwrap_or_else(|e| panic!("docs/runbooks/{name}.md: {e}"));
    assert!(
        page.starts_with(&format!("# {name}\n")),
        "docs/runbooks/{name}.md must open with its alert's name"
    );
    for section in ["## Meaning", "## Diagnosis", "## Mitigation"] {
        assert!(page.contains(section), "docs/runbooks/{name}.md lacks {section}");
    }
}

#[test]
fn every_alert_has_a_runbook_that_names_it() {
    for name in all_alerts() {
        assert_runbook_names(&name);
    }
}
