//! The Grafana dashboards against their references: `promtool check rules`
//! must parse every panel's PromQL, every series a panel reads must be part
//! of the metrics contract (docs/metrics.md), and each dashboard must show
//! every subject it promises.
//!
//! promtool comes from the Debian package `prometheus`; set PROMTOOL to use
//! another binary.

#[path = "support/tools.rs"]
mod tools;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use xagent_operator::builders::monitoring::dashboard::*;
use xagent_operator::crd::XAgent;

// ------------------------------------------------------------------ fixtures

fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read {}: {e}", full.display()))
}

/// The full sample XAgent, `x-agent/production`.
fn sample() -> XAgent {
    serde_yaml::from_str(&repo_file("config/samples/xagent.yaml"))
        .unwrap_or_else(|e| panic!("config/samples/xagent.yaml is not an XAgent: {e}"))
}

fn dashboards() -> [(&'static str, Value); 2] {
    [("xagent", xagent_dashboard(&sample())), ("operator", operator_dashboard())]
}

// ------------------------------------------------------------------ promtool

const NO_PROMTOOL: &str = "promtool is required by the dashboard tests: run ./scripts/setup.sh (Debian \
                           package `prometheus`), or point PROMTOOL at a promtool binary";

/// `$PROMTOOL`, else `promtool` on PATH. Missing promtool fails the test: the
/// dashboards must not pass unchecked.
fn promtool() -> PathBuf {
    tools::from_path("promtool", "PROMTOOL", NO_PROMTOOL)
}

/// A rule file recording each expression as `dashboard:panel_N`.
fn recording_rules(exprs: &[String]) -> String {
    let rules: Vec<Value> = exprs
        .iter()
        .enumerate()
        .map(|(n, expr)| json!({"record": format!("dashboard:panel_{}", n + 1), "expr": expr}))
        .collect();
    let file = json!({"groups": [{"name": "dashboards", "rules": rules}]});
    serde_yaml::to_string(&file).expect("the rule file serializes to YAML")
}

/// Runs `promtool check rules` on `exprs`; returns whether it passed and its output.
fn check_expressions(exprs: &[String]) -> (bool, String) {
    let dir = tempfile::Builder::new()
        .prefix("xagent-dashboards-")
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
    let file = dir.path().join("rules.yaml");
    std::fs::write(&file, recording_rules(exprs))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));
    let tool = promtool();
    let out = Command::new(&tool)
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}. {NO_PROMTOOL}", tool.display()));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn all_expressions() -> Vec<String> {
    dashboards().iter().flat_map(|(_, d)| expressions(d)).collect()
}

#[test]
fn promtool_parses_every_panel_expression() {
    let exprs = all_expressions();
    let panels: usize = dashboards().iter().map(|(_, d)| d["panels"].as_array().map_or(0, Vec::len)).sum();
    assert!(exprs.len() >= panels, "{} expressions for {panels} panels", exprs.len());
    let (ok, out) = check_expressions(&exprs);
    assert!(ok, "promtool check rules rejects a dashboard expression:\n{out}");
    let found = format!("SUCCESS: {} rules found", exprs.len());
    assert!(out.contains(&found), "expected `{found}` in:\n{out}");
}

#[test]
fn promtool_rejects_a_broken_expression() {
    for broken in [
        r#"sum(rate(xagent_http_requests_total{namespace="ns"}[5m])"#,
        r#"sum(rate(xagent_http_requests_total{namespace="ns"}[$__rate_interval]))"#,
    ] {
        let mut exprs = all_expressions();
        exprs.push(broken.to_string());
        let (ok, out) = check_expressions(&exprs);
        assert!(!ok, "promtool accepted {broken}:\n{out}");
        assert!(out.contains("dashboard:panel_") || out.contains("parse error"), "names the problem:\n{out}");
    }
}

// ------------------------------------------------------------------ series names

/// Aggregation operators: followed by `by`/`without` or `(`, never a series.
const AGGREGATIONS: [&str; 14] = [
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];

/// Keywords that take a parenthesized list of label names.
const LABEL_LISTS: [&str; 6] = ["by", "without", "on", "ignoring", "group_left", "group_right"];

/// Other words of the language (compared in lower case).
const KEYWORDS: [&str; 7] = ["and", "or", "unless", "bool", "offset", "inf", "nan"];

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_ident(c: char) -> bool {
    is_ident_start(c) || c.is_ascii_digit()
}

/// Index just past the string literal opening at `start`.
fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() && chars[i] != quote {
        // Backquoted strings are raw; the others escape with `\`.
        i += if chars[i] == '\\' && quote != '`' { 2 } else { 1 };
    }
    i + 1
}

/// Index just past the `close` that ends the bracket opening at `start`,
/// stepping over string literals (a regex may hold `}` or `)`).
fn skip_bracket(chars: &[char], start: usize, close: char) -> usize {
    let mut i = start + 1;
    while i < chars.len() && chars[i] != close {
        i = if matches!(chars[i], '"' | '\'' | '`') { skip_string(chars, i) } else { i + 1 };
    }
    i + 1
}

/// The series names an expression reads, in order: identifiers that are not
/// functions, operators, keywords or label names. Label matchers, ranges,
/// strings and numbers (durations included) are stepped over.
fn metric_names(expr: &str) -> Vec<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, '"' | '\'' | '`') {
            i = skip_string(&chars, i);
        } else if c == '{' {
            i = skip_bracket(&chars, i, '}');
        } else if c == '[' {
            i = skip_bracket(&chars, i, ']');
        } else if c.is_ascii_digit() || c == '.' {
            // A number or a duration: 0.95, 1e3, 5m, 0x1f.
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if is_ident_start(c) {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let call = chars.get(next) == Some(&'(');
            if LABEL_LISTS.contains(&word.as_str()) {
                if call {
                    i = skip_bracket(&chars, next, ')');
                }
            } else if !call
                && !AGGREGATIONS.contains(&word.as_str())
                && !KEYWORDS.contains(&word.to_lowercase().as_str())
            {
                names.push(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

/// The first backquoted text of `cell`, up to any `{labels}` suffix.
fn quoted_name(cell: &str) -> Option<String> {
    let rest = cell.split_once('`')?.1;
    let quoted = rest.split_once('`')?.0;
    let name = quoted.split('{').next().unwrap_or_default().trim();
    (!name.is_empty() && name.chars().all(is_ident)).then(|| name.to_string())
}

/// The series docs/metrics.md names, and which of them are histograms.
struct Contract {
    series: BTreeSet<String>,
    histograms: BTreeSet<String>,
}

/// The series the contract names: the first column of every table headed
/// `metric`, and the series a prose line opens with (`up`, `ALERTS`). Label
/// names and values, backquoted elsewhere, are not series.
fn documented_series(doc: &str) -> Contract {
    let mut contract = Contract { series: BTreeSet::new(), histograms: BTreeSet::new() };
    let mut header: Option<String> = None;
    for line in doc.lines().map(str::trim) {
        if let Some(row) = line.strip_prefix('|') {
            let mut cells = row.split('|').map(str::trim);
            let first = cells.next().unwrap_or_default();
            match &header {
                None => header = Some(first.to_string()),
                Some(h) if h == "metric" => {
                    let Some(name) = quoted_name(first) else { continue };
                    if cells.next() == Some("histogram") {
                        contract.histograms.insert(name.clone());
                    }
                    contract.series.insert(name);
                }
                Some(_) => {}
            }
        } else {
            header = None;
            if line.starts_with('`') {
                contract.series.extend(quoted_name(line));
            }
        }
    }
    contract
}

fn contract() -> Contract {
    documented_series(&repo_file("docs/metrics.md"))
}

/// Whether `name` is in the contract; a documented histogram also brings its
/// `_bucket`, `_sum` and `_count` series.
fn documented(name: &str, contract: &Contract) -> bool {
    contract.series.contains(name)
        || ["_bucket", "_sum", "_count"]
            .iter()
            .filter_map(|suffix| name.strip_suffix(suffix))
            .any(|base| contract.histograms.contains(base))
}

/// The series of `expr` the contract does not name.
fn undocumented(expr: &str, contract: &Contract) -> Vec<String> {
    metric_names(expr).into_iter().filter(|name| !documented(name, contract)).collect()
}

#[test]
fn the_tokenizer_finds_series_and_only_series() {
    let histogram = concat!(
        r#"histogram_quantile(0.95, sum by (le, route) "#,
        r#"(rate(xagent_http_request_duration_seconds_bucket{namespace="ns",le!="+Inf"}[5m] offset 1h)))"#,
    );
    assert_eq!(metric_names(histogram), ["xagent_http_request_duration_seconds_bucket"]);

    let joined = concat!(
        r#"sum without (pod) (label_replace(rate(a_total{pod=~"x-[a-z]{5}|y}"}[5m]), "#,
        r#""class", "${1}xx", "status", "([0-9]).."))"#,
        " / on (namespace) group_left (xagent) b and bool c or d unless count by (x) (e == 0) > Inf",
    );
    assert_eq!(metric_names(joined), ["a_total", "b", "c", "d", "e"]);

    let spaced = "max(up) or vector(0) + time() * 1e3 - sum (f) + max_over_time(g[1h:5m]) + h:recorded";
    assert_eq!(metric_names(spaced), ["up", "f", "g", "h:recorded"]);
}

#[test]
fn the_contract_names_series_not_labels() {
    let contract = contract();
    for name in [
        "up",
        "ALERTS",
        "xagent_http_requests_total",
        "xagent_http_request_duration_seconds",
        "container_cpu_usage_seconds_total",
        "kube_pod_container_resource_limits",
        "xagent_dependency_up",
        "xagent_operator_leader",
    ] {
        assert!(contract.series.contains(name), "{name} missing from the contract {:?}", contract.series);
    }
    for label in ["namespace", "xagent", "component", "status", "redis", "retries", "NAME"] {
        assert!(!contract.series.contains(label), "{label} is a label or a placeholder, not a series");
    }
    let histograms: Vec<&str> = contract.histograms.iter().map(String::as_str).collect();
    assert_eq!(
        histograms,
        [
            "xagent_dependency_probe_duration_seconds",
            "xagent_http_request_duration_seconds",
            "xagent_reconcile_duration_seconds",
            "xagent_task_duration_seconds",
        ]
    );
}

#[test]
fn an_undocumented_series_is_reported() {
    let contract = contract();
    let expr = concat!(
        r#"sum(rate(xagent_made_up_total{namespace="ns"}[5m])) / status"#,
        " + xagent_http_request_duration_seconds_count + xagent_task_queue_depth_bucket",
    );
    // A gauge has no `_bucket` series: only histograms bring the suffixes.
    assert_eq!(
        undocumented(expr, &contract),
        ["xagent_made_up_total", "status", "xagent_task_queue_depth_bucket"]
    );
}

#[test]
fn every_panel_reads_only_documented_series() {
    let contract = contract();
    for (what, d) in dashboards() {
        let exprs = expressions(&d);
        assert!(!exprs.is_empty(), "{what}: no expressions");
        for expr in exprs {
            let names = metric_names(&expr);
            assert!(!names.is_empty(), "{what}: no series found in {expr}");
            let missing = undocumented(&expr, &contract);
            assert!(missing.is_empty(), "{what}: {missing:?} not in docs/metrics.md, read by {expr}");
        }
    }
}

// ------------------------------------------------------------------ subjects

/// The title of the first panel whose title holds `title` (any case) and
/// whose expressions hold every one of `needles`.
fn panel_for(dashboard: &Value, title: &str, needles: &[&str]) -> Option<String> {
    let panels = dashboard["panels"].as_array()?;
    panels.iter().find_map(|p| {
        let name = p["title"].as_str()?;
        let exprs: Vec<&str> = p["targets"].as_array()?.iter().filter_map(|t| t["expr"].as_str()).collect();
        let fits = name.to_lowercase().contains(&title.to_lowercase())
            && needles.iter().all(|n| exprs.iter().any(|e| e.contains(n)));
        fits.then(|| name.to_string())
    })
}

fn assert_subjects(what: &str, dashboard: &Value, subjects: &[(&str, Vec<&str>)]) {
    for (title, needles) in subjects {
        assert!(
            panel_for(dashboard, title, needles).is_some(),
            "{what}: no panel titled like {title:?} reading {needles:?}"
        );
    }
    let count = dashboard["panels"].as_array().map_or(0, Vec::len);
    assert_eq!(count, subjects.len(), "{what}: one panel per subject");
}

#[test]
fn the_xagent_dashboard_shows_every_subject() {
    let d = xagent_dashboard(&sample());
    assert_eq!(d["title"], "X-Agent x-agent/production");
    assert_eq!(d["uid"], "xagent-x-agent_production");
    assert_eq!(d["tags"], json!(["xagent"]));
    assert_eq!(d["schemaVersion"], 39);
    assert_eq!(d["time"], json!({"from": "now-6h", "to": "now"}));
    assert_eq!(d["refresh"], "30s");
    let app = r#"namespace="x-agent",xagent="production""#;
    let pods = r#"pod=~"production-(api|websocket|worker)-"#;
    let subjects = [
        ("API request rate", vec!["xagent_http_requests_total{", app, "by (status)"]),
        ("5xx error ratio", vec![app, r#"status=~"5..""#]),
        ("p95 latency", vec!["xagent_http_request_duration_seconds_bucket{", app]),
        ("WebSocket connections", vec!["xagent_websocket_connections{", app]),
        ("Task queue depth", vec!["xagent_task_queue_depth{", app, "by (queue)"]),
        ("Workers up", vec!["up{", app, r#"component="worker""#]),
        ("Redis and PostgreSQL up", vec!["xagent_dependency_up{", app]),
        ("saturation", vec!["xagent_dependency_saturation_ratio{", app]),
        ("CPU", vec!["container_cpu_usage_seconds_total{", "kube_pod_container_resource_limits{", pods]),
        ("Memory", vec!["container_memory_working_set_bytes{", r#"resource="memory""#, pods]),
        ("Circuit breakers open", vec!["xagent_circuit_breaker_open{", app]),
        ("Alerts firing", vec![r#"ALERTS{alertstate="firing""#, app]),
    ];
    assert_subjects("xagent", &d, &subjects);
    // The lookup is strict: a right title reading the wrong series is no match.
    assert_eq!(panel_for(&d, "API request rate", &["xagent_goals_total"]), None);
    assert_eq!(panel_for(&d, "p95 latency", &[r#"xagent="staging""#]), None);
}

#[test]
fn the_operator_dashboard_shows_every_subject() {
    let d = operator_dashboard();
    assert_eq!(d["title"], "X-Agent operator");
    assert_eq!(d["uid"], "xagent-operator");
    let job = r#"job="xagent-operator""#;
    let subjects = [
        ("Operator targets up", vec!["up{", job]),
        ("Leader", vec!["xagent_operator_leader{", job]),
        ("Reconciles by outcome", vec!["xagent_reconciles_total{", job, "by (outcome)"]),
        ("Reconcile errors by reason", vec!["xagent_reconcile_errors_total{", job, "by (reason)"]),
        ("Reconcile p95 duration", vec!["xagent_reconcile_duration_seconds_bucket{", job]),
        ("Objects applied", vec!["xagent_objects_applied_total{", job, "kind, action"]),
        ("Probe failures", vec!["xagent_dependency_probe_failures_total{", job, "dependency, reason"]),
        ("Probe p95 duration", vec!["xagent_dependency_probe_duration_seconds_bucket{", job]),
        ("Tracked entries", vec!["xagent_operator_tracked_entries{", job]),
        ("Dependencies down per XAgent", vec!["xagent_dependency_up{", job, "== 0", "namespace, xagent"]),
        ("Alerts firing", vec![r#"ALERTS{alertstate="firing",alertname=~"XAgent.*"}"#]),
    ];
    assert_subjects("operator", &d, &subjects);
    assert_eq!(panel_for(&d, "Leader", &["xagent_reconciles_total"]), None);
}
