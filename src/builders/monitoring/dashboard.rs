//! Grafana dashboards: one per XAgent, one for the operator (pure builders).
//!
//! Every expression reads only the series of docs/metrics.md and scopes itself
//! the way the alert catalog does ([`Scope`]), so a panel shows what the
//! alerts judge, and two XAgents never share a line.

use kube::ResourceExt;
use serde_json::{Value, json};

use super::alerts::Scope;
use crate::crd::XAgent;

/// The `job` matcher of the operator's own targets; its series are told apart by it.
/// (A literal, for `&'static str`; a test holds it to [`super::operator::JOB`].)
const OPERATOR_JOB: &str = r#"job="xagent-operator""#;

/// Grafana's grid is 24 columns wide.
const GRID_WIDTH: u64 = 24;

/// Longest uid Grafana accepts.
const MAX_UID_LEN: usize = 40;

/// Window of every rate: fixed, so each expression is plain PromQL.
const WINDOW: &str = "5m";

/// How a panel draws its targets.
#[derive(Clone, Copy)]
enum Kind {
    /// Lines over time: trends and spikes.
    Timeseries,
    /// One big number per series: state at a glance.
    Stat,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Timeseries => "timeseries",
            Self::Stat => "stat",
        }
    }

    /// Stats say little, so they take half the height of a graph.
    fn height(self) -> u64 {
        match self {
            Self::Timeseries => 8,
            Self::Stat => 4,
        }
    }
}

/// One query of a panel.
struct Target {
    expr: String,
    legend: &'static str,
}

/// A panel before layout: position and id are given by [`layout`].
struct Panel {
    kind: Kind,
    title: &'static str,
    description: &'static str,
    unit: Option<&'static str>,
    targets: Vec<Target>,
}

fn target(expr: String, legend: &'static str) -> Target {
    Target { expr, legend }
}

fn panel(kind: Kind, title: &'static str, description: &'static str, unit: Option<&'static str>) -> Panel {
    Panel { kind, title, description, unit, targets: Vec::new() }
}

impl Panel {
    fn with(mut self, expr: String, legend: &'static str) -> Self {
        self.targets.push(target(expr, legend));
        self
    }

    fn to_json(&self, id: u64, grid_pos: Value) -> Value {
        let datasource = datasource();
        let targets: Vec<Value> = self
            .targets
            .iter()
            .zip('A'..='Z')
            .map(|(t, ref_id)| {
                json!({
                    "datasource": datasource,
                    "expr": t.expr,
                    "refId": ref_id.to_string(),
                    "legendFormat": t.legend,
                })
            })
            .collect();
        let mut defaults = json!({});
        if let Some(unit) = self.unit {
            defaults["unit"] = json!(unit);
        }
        let mut value = json!({
            "id": id,
            "type": self.kind.as_str(),
            "title": self.title,
            "description": self.description,
            "datasource": datasource,
            "gridPos": grid_pos,
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "targets": targets,
        });
        if matches!(self.kind, Kind::Stat) {
            // The latest value, not an average over the whole time range.
            value["options"] =
                json!({"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false}});
        }
        value
    }
}

/// The data source every panel and target reads, chosen by the viewer through
/// the `datasource` variable, so one dashboard fits every Prometheus.
fn datasource() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

/// Places rows of panels top to bottom, each row split evenly across the
/// grid, and numbers the panels; overlaps are impossible by construction.
fn layout(rows: Vec<Vec<Panel>>) -> Vec<Value> {
    let mut panels = Vec::new();
    let mut y = 0;
    for row in rows {
        let width = GRID_WIDTH / row.len().max(1) as u64;
        let height = row.iter().map(|p| p.kind.height()).max().unwrap_or(0);
        for (column, p) in row.iter().enumerate() {
            let pos = json!({"h": p.kind.height(), "w": width, "x": column as u64 * width, "y": y});
            panels.push(p.to_json(panels.len() as u64 + 1, pos));
        }
        y += height;
    }
    panels
}

/// The dashboard model around `panels`: the settings both dashboards share.
fn dashboard(uid: String, title: String, tags: &[&str], panels: Vec<Value>) -> Value {
    json!({
        "id": null,
        "uid": uid,
        "title": title,
        "tags": tags,
        "schemaVersion": 39,
        "version": 1,
        "editable": true,
        "timezone": "browser",
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "annotations": {"list": []},
        "templating": {"list": [{
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
            "refresh": 1,
            "regex": "",
        }]},
        "panels": panels,
    })
}

/// `metric{m1,m2,...}`: one place that writes selectors.
fn select(metric: &str, matchers: &[&str]) -> String {
    format!("{metric}{{{}}}", matchers.join(","))
}

/// Per-second rate of a counter, summed by `by` (an empty `by` sums everything).
fn rate_by(by: &str, series: &str) -> String {
    let rate = format!("rate({series}[{WINDOW}])");
    if by.is_empty() { format!("sum({rate})") } else { format!("sum by ({by}) ({rate})") }
}

/// 95th percentile of a histogram's `_bucket` series, per `by` label set.
fn p95(by: &str, buckets: &str) -> String {
    let by = if by.is_empty() { "le".to_string() } else { format!("le, {by}") };
    format!("histogram_quantile(0.95, {})", rate_by(&by, buckets))
}

/// Count of targets up, 0 rather than no data when none exists.
fn targets_up(matchers: &[&str]) -> String {
    format!("sum(up{{{}}}) or vector(0)", matchers.join(","))
}

/// `uid` for a namespace and name: readable when short and plain, else a
/// readable prefix and a hash of both, so the uid stays stable, unique and
/// within Grafana's 40 characters and `[A-Za-z0-9_-]`.
fn xagent_uid(namespace: &str, name: &str) -> String {
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    // Namespaces hold no `_`, so `_` splits namespace from name unambiguously.
    let readable = format!("xagent-{namespace}_{name}");
    if readable.len() <= MAX_UID_LEN && plain(namespace) && plain(name) {
        return readable;
    }
    let prefix: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .take(16)
        .collect();
    format!(
        "xagent-{}-{:016x}",
        prefix.trim_end_matches('-'),
        crate::digest::fnv1a(&format!("{namespace}/{name}"))
    )
}

/// One XAgent's health on one page: traffic, errors, latency, queues, data
/// stores, resources and its firing alerts, scoped like its alert catalog.
pub fn xagent_dashboard(xagent: &XAgent) -> Value {
    let s = Scope::of(xagent);
    let ns = xagent.namespace().unwrap_or_default();
    let rows = vec![xagent_stats(&s), xagent_api(&s), xagent_backlog(&s), xagent_resources(&s)];
    dashboard(xagent_uid(&ns, &s.name), format!("X-Agent {ns}/{}", s.name), &["xagent"], layout(rows))
}

fn xagent_stats(s: &Scope) -> Vec<Panel> {
    let app = s.app.as_str();
    vec![
        panel(Kind::Stat, "Workers up", "Worker targets answering scrapes; 0 means tasks pile up.", None)
            .with(targets_up(&[app, r#"component="worker""#]), "workers"),
        panel(
            Kind::Stat,
            "Redis and PostgreSQL up",
            "The operator's last probe of each data store: 1 reachable, 0 down (XAgentRedisDown).",
            None,
        )
        .with(select("xagent_dependency_up", &[app]), "{{dependency}}"),
        panel(
            Kind::Stat,
            "Open WebSocket connections",
            "Clients connected to the websocket component now.",
            None,
        )
        .with(
            format!("sum({})", select("xagent_websocket_connections", &[app, r#"component="websocket""#])),
            "connections",
        ),
        panel(
            Kind::Stat,
            "Circuit breakers open",
            "Pods whose breaker towards a dependency is open, per breaker: calls to it fail fast.",
            None,
        )
        .with(format!("sum by (breaker) ({})", select("xagent_circuit_breaker_open", &[app])), "{{breaker}}"),
    ]
}

fn xagent_api(s: &Scope) -> Vec<Panel> {
    let requests = select("xagent_http_requests_total", &[&s.app, r#"component="api""#]);
    let errors = select("xagent_http_requests_total", &[&s.app, r#"component="api""#, r#"status=~"5..""#]);
    // By code, not by class: a class needs label_replace and `${1}`, which
    // Grafana would read as one of its own variables.
    let by_status = format!("sum by (status) (rate({requests}[{WINDOW}]))");
    let latency = select("xagent_http_request_duration_seconds_bucket", &[&s.app, r#"component="api""#]);
    vec![
        panel(
            Kind::Timeseries,
            "API request rate",
            "API requests per second by HTTP status code.",
            Some("reqps"),
        )
        .with(by_status, "{{status}}"),
        panel(
            Kind::Timeseries,
            "API 5xx error ratio",
            "Share of API requests answered 5xx (XAgentHighErrorRate).",
            Some("percentunit"),
        )
        .with(format!("{} / {}", rate_by("", &errors), rate_by("", &requests)), "5xx share"),
        panel(
            Kind::Timeseries,
            "API p95 latency",
            "95th percentile API request duration (XAgentHighLatency).",
            Some("s"),
        )
        .with(p95("", &latency), "p95"),
    ]
}

fn xagent_backlog(s: &Scope) -> Vec<Panel> {
    let app = s.app.as_str();
    let alerts = select("ALERTS", &[r#"alertstate="firing""#, app]);
    vec![
        panel(
            Kind::Timeseries,
            "Task queue depth",
            "Tasks waiting for a worker, by queue (XAgentHighTaskQueue).",
            Some("short"),
        )
        .with(format!("sum by (queue) ({})", select("xagent_task_queue_depth", &[app])), "{{queue}}"),
        panel(
            Kind::Timeseries,
            "Redis and PostgreSQL saturation",
            "Redis used_memory / maxmemory, PostgreSQL connections / max_connections (operator probes).",
            Some("percentunit"),
        )
        .with(select("xagent_dependency_saturation_ratio", &[app]), "{{dependency}}"),
        panel(
            Kind::Timeseries,
            "Alerts firing",
            "Alerts of this XAgent's catalog firing now, by name and severity.",
            Some("short"),
        )
        .with(format!("count by (alertname, severity) ({alerts})"), "{{alertname}} ({{severity}})"),
    ]
}

fn xagent_resources(s: &Scope) -> Vec<Panel> {
    let cpu = format!("rate({}[{WINDOW}])", pod_series(s, "container_cpu_usage_seconds_total"));
    let memory = pod_series(s, "container_memory_working_set_bytes");
    vec![
        panel(
            Kind::Timeseries,
            "CPU use against limits",
            "Each pod's CPU use as a share of its CPU limit (XAgentHighCPU).",
            Some("percentunit"),
        )
        .with(against_limit(s, &cpu, "cpu"), "{{pod}}"),
        panel(
            Kind::Timeseries,
            "Memory working set against limits",
            "Each pod's working set as a share of its memory limit (XAgentHighMemory); 100% means OOM kill.",
            Some("percentunit"),
        )
        .with(against_limit(s, &memory, "memory"), "{{pod}}"),
    ]
}

/// Container series of this XAgent's pods, without the pod-level total.
fn pod_series(s: &Scope, metric: &str) -> String {
    let pods = format!(r#"pod=~"{}""#, s.pods);
    select(metric, &[&s.namespace, &pods, r#"container!="""#])
}

/// Per-pod `usage` over the pod's limit of `resource`.
fn against_limit(s: &Scope, usage: &str, resource: &str) -> String {
    let pods = format!(r#"pod=~"{}""#, s.pods);
    let resource = format!(r#"resource="{resource}""#);
    let limits = select("kube_pod_container_resource_limits", &[&s.namespace, &pods, &resource]);
    format!("sum by (pod) ({usage}) / sum by (pod) ({limits})")
}

/// The operator's own health: is it up and leading, does reconciling succeed
/// and how fast, what it writes, how its probes fare, whether its memory
/// leaks, and which XAgents it sees in trouble.
pub fn operator_dashboard() -> Value {
    let rows = vec![operator_stats(), operator_reconciles(), operator_probes(), operator_fleet()];
    dashboard("xagent-operator".into(), "X-Agent operator".into(), &["xagent", "operator"], layout(rows))
}

/// `metric` of the operator's own targets.
fn operator(metric: &str) -> String {
    select(metric, &[OPERATOR_JOB])
}

fn operator_stats() -> Vec<Panel> {
    vec![
        panel(
            Kind::Stat,
            "Operator targets up",
            "Operator replicas answering scrapes; 0 means nothing reconciles.",
            None,
        )
        .with(targets_up(&[OPERATOR_JOB]), "replicas"),
        panel(Kind::Stat, "Leader", "1 for the replica that reconciles, 0 for those standing by.", None)
            .with(operator("xagent_operator_leader"), "{{instance}}"),
    ]
}

fn operator_reconciles() -> Vec<Panel> {
    vec![
        panel(
            Kind::Timeseries,
            "Reconciles by outcome",
            "Completed reconciles per second: success, error, backoff.",
            Some("ops"),
        )
        .with(rate_by("outcome", &operator("xagent_reconciles_total")), "{{outcome}}"),
        panel(
            Kind::Timeseries,
            "Reconcile errors by reason",
            "Failed reconciles per second, by reason.",
            Some("ops"),
        )
        .with(rate_by("reason", &operator("xagent_reconcile_errors_total")), "{{reason}}"),
        panel(
            Kind::Timeseries,
            "Reconcile p95 duration",
            "95th percentile reconcile wall time, by outcome.",
            Some("s"),
        )
        .with(p95("outcome", &operator("xagent_reconcile_duration_seconds_bucket")), "{{outcome}}"),
    ]
}

fn operator_probes() -> Vec<Panel> {
    vec![
        panel(
            Kind::Timeseries,
            "Objects applied by kind and action",
            "Child objects created, updated or deleted per second.",
            Some("ops"),
        )
        .with(rate_by("kind, action", &operator("xagent_objects_applied_total")), "{{kind}} {{action}}"),
        panel(
            Kind::Timeseries,
            "Probe failures by dependency and reason",
            "Failed Redis and PostgreSQL probes per second.",
            Some("ops"),
        )
        .with(
            rate_by("dependency, reason", &operator("xagent_dependency_probe_failures_total")),
            "{{dependency}} {{reason}}",
        ),
        panel(
            Kind::Timeseries,
            "Probe p95 duration",
            "95th percentile dependency probe latency, by dependency.",
            Some("s"),
        )
        .with(
            p95("dependency", &operator("xagent_dependency_probe_duration_seconds_bucket")),
            "{{dependency}}",
        ),
    ]
}

fn operator_fleet() -> Vec<Panel> {
    let down = select("xagent_dependency_up", &[OPERATOR_JOB]);
    let alerts = select("ALERTS", &[r#"alertstate="firing""#, r#"alertname=~"XAgent.*""#]);
    vec![
        panel(
            Kind::Timeseries,
            "Tracked entries by map",
            "Entries of the operator's in-memory maps: a line that only grows is a leak.",
            Some("short"),
        )
        .with(operator("xagent_operator_tracked_entries"), "{{map}} {{instance}}"),
        panel(
            Kind::Timeseries,
            "Dependencies down per XAgent",
            "Redis or PostgreSQL endpoints whose last probe failed, per XAgent.",
            Some("short"),
        )
        .with(format!("count by (namespace, xagent) ({down} == 0)"), "{{namespace}}/{{xagent}}"),
        panel(
            Kind::Timeseries,
            "Alerts firing",
            "X-Agent alerts firing across all XAgents, by alert and XAgent.",
            Some("short"),
        )
        .with(
            format!("count by (alertname, namespace, xagent) ({alerts})"),
            "{{alertname}} {{namespace}}/{{xagent}}",
        ),
    ]
}

/// Every query of a dashboard, so callers can check them as PromQL without
/// knowing the JSON model's layout.
pub fn expressions(dashboard: &Value) -> Vec<String> {
    let panels = dashboard["panels"].as_array().map(Vec::as_slice).unwrap_or_default();
    panels
        .iter()
        .flat_map(|p| p["targets"].as_array().map(Vec::as_slice).unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_operator_job_is_the_alerts_job() {
        assert_eq!(OPERATOR_JOB, format!(r#"job="{}""#, super::super::operator::JOB));
    }

    use super::*;

    fn xagent(namespace: &str, name: &str) -> XAgent {
        serde_json::from_value(json!({
            "apiVersion": "xagent.io/v1alpha1",
            "kind": "XAgent",
            "metadata": {"name": name, "namespace": namespace, "uid": "u-1"},
            "spec": {},
        }))
        .expect("test XAgent must deserialize")
    }

    fn both() -> [(&'static str, Value); 2] {
        [("xagent", xagent_dashboard(&xagent("ns", "demo"))), ("operator", operator_dashboard())]
    }

    fn panels(d: &Value) -> &[Value] {
        d["panels"].as_array().expect("panels is a list")
    }

    fn num(v: &Value, key: &str) -> u64 {
        v[key].as_u64().unwrap_or_else(|| panic!("{key} is not a number in {v}"))
    }

    #[test]
    fn panel_ids_are_unique() {
        for (what, d) in both() {
            let mut ids: Vec<u64> = panels(&d).iter().map(|p| num(p, "id")).collect();
            let count = ids.len();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), count, "{what}: duplicate panel ids");
            assert!(count >= 10, "{what}: only {count} panels");
        }
    }

    /// `(x, y, w, h)` of every panel.
    fn boxes(d: &Value) -> Vec<(u64, u64, u64, u64)> {
        panels(d)
            .iter()
            .map(|p| {
                let g = &p["gridPos"];
                (num(g, "x"), num(g, "y"), num(g, "w"), num(g, "h"))
            })
            .collect()
    }

    fn overlap(a: (u64, u64, u64, u64), b: (u64, u64, u64, u64)) -> bool {
        a.0 < b.0 + b.2 && b.0 < a.0 + a.2 && a.1 < b.1 + b.3 && b.1 < a.1 + a.3
    }

    #[test]
    fn the_overlap_check_sees_overlaps() {
        assert!(overlap((0, 0, 12, 8), (6, 4, 12, 8)));
        assert!(!overlap((0, 0, 12, 8), (12, 0, 12, 8)));
        assert!(!overlap((0, 0, 12, 4), (0, 4, 12, 8)));
    }

    #[test]
    fn panels_fit_the_grid_without_overlapping() {
        for (what, d) in both() {
            let boxes = boxes(&d);
            for (i, &a) in boxes.iter().enumerate() {
                assert!(a.2 > 0 && a.3 > 0, "{what}: panel {i} is empty: {a:?}");
                assert!(a.0 + a.2 <= GRID_WIDTH, "{what}: panel {i} leaves the grid: {a:?}");
                for (j, &b) in boxes.iter().enumerate().skip(i + 1) {
                    assert!(!overlap(a, b), "{what}: panels {i} {a:?} and {j} {b:?} overlap");
                }
            }
        }
    }

    fn valid_uid(uid: &str) -> bool {
        !uid.is_empty()
            && uid.len() <= MAX_UID_LEN
            && uid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }

    #[test]
    fn uids_are_stable_valid_and_short() {
        let long = "a-very-long-xagent-name-that-goes-on.and.on-well-past-forty-characters";
        let uid = xagent_dashboard(&xagent("team-payments", long))["uid"].as_str().unwrap().to_string();
        assert!(valid_uid(&uid), "invalid uid {uid:?}");
        assert!(uid.starts_with("xagent-a-very-long-xag"), "{uid}");
        assert_eq!(xagent_dashboard(&xagent("team-payments", long))["uid"], uid.as_str(), "stable");
        assert_ne!(xagent_dashboard(&xagent("team-billing", long))["uid"], uid.as_str(), "namespace counts");
        // Pinned: a change of uid orphans every imported copy of the dashboard.
        assert_eq!(
            xagent_uid("ns", "demo.v2"),
            format!("xagent-demo-v2-{:016x}", crate::digest::fnv1a("ns/demo.v2"))
        );
        // Short plain names stay readable, and `-` cannot make two XAgents meet.
        assert_eq!(xagent_uid("ns", "demo"), "xagent-ns_demo");
        assert_ne!(xagent_uid("a-b", "c"), xagent_uid("a", "b-c"));
        assert!(!valid_uid("xagent-demo.v2") && !valid_uid(&"x".repeat(41)), "the check can fail");
    }

    /// The `{...}` matcher lists of an expression, skipping braces inside strings.
    fn selectors(expr: &str) -> Vec<String> {
        let (mut out, mut current, mut in_string, mut escaped) = (Vec::new(), None::<String>, false, false);
        for c in expr.chars() {
            if let Some(sel) = current.as_mut()
                && (in_string || c != '}')
            {
                sel.push(c);
            }
            match c {
                _ if escaped => escaped = false,
                '\\' if in_string => escaped = true,
                '"' => in_string = !in_string,
                '{' if !in_string => current = Some(String::new()),
                '}' if !in_string => out.extend(current.take()),
                _ => {}
            }
        }
        out
    }

    /// Whether every selector of `expr` is scoped to XAgent `ns/name`: its
    /// application labels, or its namespace and its pods.
    fn scoped(expr: &str, ns: &str, name: &str) -> bool {
        let sels = selectors(expr);
        !sels.is_empty()
            && sels.iter().all(|sel| {
                let namespace = sel.contains(&format!(r#"namespace="{ns}""#));
                let app = sel.contains(&format!(r#"xagent="{name}""#));
                let pods = sel.contains(&format!(r#"pod=~"{name}-(api|websocket|worker)-"#));
                namespace && (app || pods)
            })
    }

    #[test]
    fn selectors_skip_braces_in_strings() {
        let expr = r#"sum(a{x="b{1,2}",y="c"}) / b{z="\"}"}"#;
        assert_eq!(selectors(expr), [r#"x="b{1,2}",y="c""#, r#"z="\"}""#]);
    }

    #[test]
    fn every_xagent_expression_is_scoped_to_its_xagent() {
        let exprs = expressions(&xagent_dashboard(&xagent("ns", "demo")));
        assert_eq!(exprs.len(), 12, "one query per panel: {exprs:?}");
        for expr in &exprs {
            assert!(scoped(expr, "ns", "demo"), "not scoped to ns/demo: {expr}");
        }
        // The same check refuses every expression of another XAgent, in
        // another namespace too: no panel shows someone else's series.
        for other in [xagent("ns", "other"), xagent("prod", "demo")] {
            for expr in expressions(&xagent_dashboard(&other)) {
                assert!(!scoped(&expr, "ns", "demo"), "{expr} passes for ns/demo");
            }
        }
    }

    #[test]
    fn every_operator_series_selects_the_operator_job() {
        for expr in expressions(&operator_dashboard()) {
            for sel in selectors(&expr).iter().filter(|s| !s.contains("alertstate")) {
                assert!(sel.contains(OPERATOR_JOB), "{expr}: {{{sel}}} misses {OPERATOR_JOB}");
            }
        }
    }

    #[test]
    fn every_panel_and_target_reads_the_chosen_data_source() {
        for (what, d) in both() {
            assert_eq!(d["templating"]["list"][0]["type"], "datasource", "{what}");
            for p in panels(&d) {
                assert_eq!(p["datasource"], datasource(), "{what}: {}", p["title"]);
                let targets = p["targets"].as_array().expect("targets");
                assert!(!targets.is_empty(), "{what}: {} has no target", p["title"]);
                for t in targets {
                    assert_eq!(t["datasource"], datasource(), "{what}: {}", p["title"]);
                    assert!(t["refId"].is_string() && t["legendFormat"].is_string(), "{t}");
                }
            }
        }
    }
}
