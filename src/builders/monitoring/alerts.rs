//! The alert catalog: 6 groups, 23 alerts, each scoped to one XAgent.
//!
//! Expressions read the metrics contract in docs/metrics.md: the application's
//! own series (carrying the `xagent` and `component` labels the ServiceMonitor
//! adds), kube-state-metrics / cAdvisor / kubelet series, and the operator's
//! dependency probe series.

use std::collections::BTreeMap;

use super::types::Text;
use crate::crd::{AlertGroups, PrometheusRuleSettings, XAgent};
use kube::ResourceExt;

/// Alert severities, as the `severity` label spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Page someone now.
    Critical,
    /// Needs attention within hours.
    High,
    /// Look at it during working hours.
    Warning,
}

impl Severity {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Warning => "warning",
        }
    }
}

/// The six alert groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// API availability and traffic.
    Api,
    /// Agent behaviour.
    Agent,
    /// Data stores.
    Database,
    /// Pod resources.
    Resource,
    /// Tools and sandbox.
    Tool,
    /// Workers and queue.
    Worker,
}

impl Group {
    /// Every group, in catalog order.
    pub const ALL: [Group; 6] =
        [Self::Api, Self::Agent, Self::Database, Self::Resource, Self::Tool, Self::Worker];

    /// The group's name; the PrometheusRule group is `xagent-NAME`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Agent => "agent",
            Self::Database => "database",
            Self::Resource => "resource",
            Self::Tool => "tool",
            Self::Worker => "worker",
        }
    }

    /// Whether the XAgent turned this group on.
    pub fn enabled(self, groups: &AlertGroups) -> bool {
        match self {
            Self::Api => groups.api,
            Self::Agent => groups.agent,
            Self::Database => groups.database,
            Self::Resource => groups.resource,
            Self::Tool => groups.tool,
            Self::Worker => groups.worker,
        }
    }
}

/// Label matchers and name patterns that scope an expression to one XAgent.
#[derive(Debug, Clone)]
pub struct Scope {
    /// `namespace="NS",xagent="NAME"`: series scraped through our ServiceMonitor.
    pub app: String,
    /// `namespace="NS"`: for kube-state-metrics, cAdvisor and kubelet series.
    pub namespace: String,
    /// Regex matching the pods of this XAgent's workloads.
    pub pods: String,
    /// Name of the XAgent.
    pub name: String,
}

impl Scope {
    /// The scope of `xagent`.
    pub fn of(xagent: &XAgent) -> Self {
        let ns = xagent.namespace().unwrap_or_default();
        let name = xagent.name_any();
        Self {
            app: format!(r#"namespace="{ns}",xagent="{name}""#),
            namespace: format!(r#"namespace="{ns}""#),
            // Deployment pods are NAME-COMPONENT-<replicaset hash>-<pod suffix>,
            // StatefulSet pods NAME-chromadb-<ordinal>. Kubernetes draws both
            // hashes from a vowel-free alphabet, so a sibling XAgent named
            // NAME-api, whose pod NAME-api-chromadb-0 would fit a looser
            // pattern, cannot match.
            pods: format!("{name}-(api|websocket|worker)-{HASH}{{1,10}}-{HASH}{{5}}|{name}-chromadb-[0-9]+"),
            name,
        }
    }
}

/// Characters of Kubernetes-generated name hashes (no vowels, no 0, 1, 3).
const HASH: &str = "[bcdfghjklmnpqrstvwxz2456789]";

/// One alert of the catalog.
pub struct AlertDef {
    /// Alert name.
    pub name: &'static str,
    /// Group it belongs to.
    pub group: Group,
    /// Severity label.
    pub severity: Severity,
    /// Default threshold the expression compares against.
    pub threshold: f64,
    /// Default `for` duration.
    pub for_: &'static str,
    /// Builds the expression from the scope and the (possibly overridden)
    /// threshold, spelled as `f64`'s `Display` spells it.
    pub expr: fn(&Scope, &str) -> String,
    /// One-line summary.
    pub summary: &'static str,
    /// Longer description; `{{ $value }}` is filled in by Prometheus.
    pub description: &'static str,
}

/// `parts` joined, allocated once at their length. The catalog's 23
/// expressions are built for every XAgent on every reconcile and every
/// `render`: `format!` over nested `format!`s took several times as long
/// (docs/performance.md, "Render").
fn cat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    parts.iter().for_each(|p| out.push_str(p));
    out
}

/// `up` of one component, 0 when no target exists at all.
fn component_up(s: &Scope, component: &str) -> String {
    cat(&["(sum(up{", &s.app, ",component=\"", component, "\"}) or vector(0))"])
}

/// How long a component's pods may exist without ever answering a scrape
/// before "down" counts: an image pull or a slow first start of a new XAgent.
const FIRST_SCRAPE_GRACE_SECONDS: &str = "900";

/// Fewer than `t` targets of `component` are up, and it counts: a target of
/// it was up within the hour, or its oldest pod is past the first-scrape
/// grace. A new XAgent whose pods have not started yet stays silent, one
/// that never comes up fires once the grace is over.
fn down_after_grace(s: &Scope, component: &str, t: &str) -> String {
    cat(&[
        &component_up(s, component),
        " < ",
        t,
        " and on () (max(max_over_time(up{",
        &s.app,
        ",component=\"",
        component,
        "\"}[1h])) > 0 or time() - min(kube_pod_created{",
        &s.namespace,
        ",pod=~\"",
        &s.name,
        "-",
        component,
        "-",
        HASH,
        "{1,10}-",
        HASH,
        "{5}\"}) > ",
        FIRST_SCRAPE_GRACE_SECONDS,
        ")",
    ])
}

/// `numerator / denominator`, each in parentheses.
fn ratio(numerator: &[&str], denominator: &[&str]) -> String {
    let mut parts = Vec::with_capacity(numerator.len() + denominator.len() + 3);
    parts.push("(");
    parts.extend_from_slice(numerator);
    parts.push(") / (");
    parts.extend_from_slice(denominator);
    parts.push(")");
    cat(&parts)
}

/// Share of `metric`'s rate over `window` whose series match `filter`, e.g. the
/// 5xx share of requests.
fn share(s: &Scope, metric: &str, filter: &str, window: &str) -> String {
    ratio(
        &["sum(rate(", metric, "{", &s.app, ",", filter, "}[", window, "]))"],
        &["sum(rate(", metric, "{", &s.app, "}[", window, "]))"],
    )
}

/// Per-pod use of a resource against the pods' limits of it; `usage` is an
/// expression over the container series selected by `pod_series`.
fn pod_limit_ratio(s: &Scope, usage: &[&str], resource: &str) -> String {
    let mut numerator = vec!["sum by (pod) ("];
    numerator.extend_from_slice(usage);
    numerator.push(")");
    let limits = "sum by (pod) (kube_pod_container_resource_limits{";
    ratio(&numerator, &[limits, &s.namespace, ",pod=~\"", &s.pods, "\",resource=\"", resource, "\"})"])
}

/// `metric` of this XAgent's containers (the pod-level series has no container).
fn pod_series<'a>(s: &'a Scope, metric: &'a str) -> [&'a str; 6] {
    [metric, "{", &s.namespace, ",pod=~\"", &s.pods, "\",container!=\"\"}"]
}

/// The whole catalog, in group order.
pub const CATALOG: [AlertDef; 23] = [
    AlertDef {
        name: "XAgentAPIDown",
        group: Group::Api,
        severity: Severity::Critical,
        threshold: 1.0,
        for_: "1m",
        expr: |s, t| down_after_grace(s, "api", t),
        summary: "X-Agent API is down",
        description: "Fewer than the threshold of API pods answer Prometheus scrapes (currently {{ $value }}), after the API answered within the hour or its pods have existed for 15 minutes.",
    },
    AlertDef {
        name: "XAgentHighErrorRate",
        group: Group::Api,
        severity: Severity::High,
        threshold: 0.05,
        for_: "5m",
        expr: |s, t| {
            let api = cat(&[&s.app, r#",component="api""#]);
            let scope = Scope { app: api, ..s.clone() };
            cat(&[&share(&scope, "xagent_http_requests_total", r#"status=~"5..""#, "5m"), " > ", t])
        },
        summary: "X-Agent API answers too many requests with 5xx",
        description: "{{ $value | humanizePercentage }} of API requests failed with a 5xx status over 5 minutes.",
    },
    AlertDef {
        name: "XAgentHighLatency",
        group: Group::Api,
        severity: Severity::Warning,
        threshold: 2.0,
        for_: "10m",
        expr: |s, t| {
            cat(&[
                "histogram_quantile(0.95, sum by (le) (rate(xagent_http_request_duration_seconds_bucket{",
                &s.app,
                r#",component="api"}[5m]))) > "#,
                t,
            ])
        },
        summary: "X-Agent API p95 latency is high",
        description: "95th percentile API latency is {{ $value | humanizeDuration }} (threshold in seconds).",
    },
    AlertDef {
        name: "XAgentHighRequestRate",
        group: Group::Api,
        severity: Severity::Warning,
        threshold: 1000.0,
        for_: "10m",
        expr: |s, t| {
            cat(&["sum(rate(xagent_http_requests_total{", &s.app, r#",component="api"}[5m])) > "#, t])
        },
        summary: "X-Agent API request rate is unusually high",
        description: "The API serves {{ $value | humanize }} requests per second.",
    },
    AlertDef {
        name: "XAgentAuthenticationFailures",
        group: Group::Api,
        severity: Severity::High,
        threshold: 1.0,
        for_: "5m",
        expr: |s, t| cat(&["sum(rate(xagent_auth_failures_total{", &s.app, "}[5m])) > ", t]),
        summary: "Many failed authentication attempts against X-Agent",
        description: "{{ $value | humanize }} authentication failures per second: a misconfigured client or an attack.",
    },
    AlertDef {
        name: "XAgentCognitiveLoopStuck",
        group: Group::Agent,
        severity: Severity::Critical,
        threshold: 0.0,
        for_: "10m",
        expr: |s, t| {
            let app = &s.app;
            cat(&[
                "sum(rate(xagent_cognitive_loop_iterations_total{",
                app,
                "}[10m])) <= ",
                t,
                " and sum(xagent_active_goals{",
                app,
                "}) > 0",
            ])
        },
        summary: "X-Agent cognitive loop makes no progress",
        description: "Goals are active but the cognitive loop ran at most the threshold of iterations per second for 10 minutes.",
    },
    AlertDef {
        name: "XAgentHighFailureRate",
        group: Group::Agent,
        severity: Severity::High,
        threshold: 0.2,
        for_: "15m",
        expr: |s, t| cat(&[&share(s, "xagent_goals_total", r#"outcome="failed""#, "15m"), " > ", t]),
        summary: "Many X-Agent goals fail",
        description: "{{ $value | humanizePercentage }} of finished goals failed over 15 minutes.",
    },
    AlertDef {
        name: "XAgentLowGoalCompletionRate",
        group: Group::Agent,
        severity: Severity::Warning,
        threshold: 0.7,
        for_: "30m",
        expr: |s, t| cat(&[&share(s, "xagent_goals_total", r#"outcome="completed""#, "1h"), " < ", t]),
        summary: "Few X-Agent goals complete",
        description: "Only {{ $value | humanizePercentage }} of finished goals completed over the last hour.",
    },
    AlertDef {
        name: "XAgentCircuitBreakerOpen",
        group: Group::Agent,
        severity: Severity::Critical,
        threshold: 1.0,
        for_: "2m",
        // Any pod's breaker counts: calls through it fail fast on that pod.
        expr: |s, t| cat(&["max by (breaker) (xagent_circuit_breaker_open{", &s.app, "}) >= ", t]),
        summary: "X-Agent circuit breaker {{ $labels.breaker }} is open",
        description: "The {{ $labels.breaker }} circuit breaker has been open for 2 minutes: calls to it fail fast, and the goals that need it fail.",
    },
    AlertDef {
        name: "XAgentRedisDown",
        group: Group::Database,
        severity: Severity::Critical,
        threshold: 1.0,
        for_: "1m",
        expr: |s, t| cat(&["xagent_dependency_up{", &s.app, r#",dependency="redis"} < "#, t]),
        summary: "Redis is unreachable for X-Agent",
        description: "The operator's probe cannot PING Redis for this XAgent.",
    },
    AlertDef {
        name: "XAgentPostgreSQLDown",
        group: Group::Database,
        severity: Severity::Critical,
        threshold: 1.0,
        for_: "1m",
        expr: |s, t| cat(&["xagent_dependency_up{", &s.app, r#",dependency="postgres"} < "#, t]),
        summary: "PostgreSQL is unreachable for X-Agent",
        description: "The operator's probe cannot run SELECT 1 on PostgreSQL for this XAgent.",
    },
    AlertDef {
        name: "XAgentChromaDBDown",
        group: Group::Database,
        severity: Severity::High,
        threshold: 1.0,
        for_: "5m",
        expr: |s, t| {
            cat(&[
                "kube_statefulset_status_replicas_ready{",
                &s.namespace,
                r#",statefulset=""#,
                &s.name,
                r#"-chromadb"} < "#,
                t,
            ])
        },
        summary: "ChromaDB has no ready replica",
        description: "The ChromaDB StatefulSet has {{ $value }} ready replicas.",
    },
    AlertDef {
        name: "XAgentHighDBConnections",
        group: Group::Database,
        severity: Severity::Warning,
        threshold: 0.8,
        for_: "10m",
        expr: |s, t| {
            cat(&["xagent_dependency_saturation_ratio{", &s.app, r#",dependency="postgres"} > "#, t])
        },
        summary: "PostgreSQL connections are nearly exhausted",
        description: "{{ $value | humanizePercentage }} of PostgreSQL max_connections are in use.",
    },
    AlertDef {
        name: "XAgentRedisHighMemory",
        group: Group::Database,
        severity: Severity::Warning,
        threshold: 0.9,
        for_: "10m",
        expr: |s, t| cat(&["xagent_dependency_saturation_ratio{", &s.app, r#",dependency="redis"} > "#, t]),
        summary: "Redis memory is nearly full",
        description: "Redis uses {{ $value | humanizePercentage }} of its maxmemory.",
    },
    AlertDef {
        name: "XAgentHighCPU",
        group: Group::Resource,
        severity: Severity::Warning,
        threshold: 0.8,
        for_: "15m",
        expr: |s, t| {
            let series = pod_series(s, "container_cpu_usage_seconds_total");
            let mut usage = vec!["rate("];
            usage.extend_from_slice(&series);
            usage.push("[5m])");
            cat(&[&pod_limit_ratio(s, &usage, "cpu"), " > ", t])
        },
        summary: "X-Agent pod {{ $labels.pod }} is near its CPU limit",
        description: "Pod {{ $labels.pod }} uses {{ $value | humanizePercentage }} of its CPU limit.",
    },
    AlertDef {
        name: "XAgentHighMemory",
        group: Group::Resource,
        severity: Severity::Warning,
        threshold: 0.8,
        for_: "15m",
        expr: |s, t| {
            let usage = pod_series(s, "container_memory_working_set_bytes");
            cat(&[&pod_limit_ratio(s, &usage, "memory"), " > ", t])
        },
        summary: "X-Agent pod {{ $labels.pod }} is near its memory limit",
        description: "Pod {{ $labels.pod }} uses {{ $value | humanizePercentage }} of its memory limit.",
    },
    AlertDef {
        name: "XAgentLowDiskSpace",
        group: Group::Resource,
        severity: Severity::High,
        threshold: 0.1,
        for_: "5m",
        expr: |s, t| {
            let claims =
                cat(&[&s.namespace, r#",persistentvolumeclaim=~"data-"#, &s.name, r#"-chromadb-[0-9]+""#]);
            cat(&[
                "kubelet_volume_stats_available_bytes{",
                &claims,
                "} / kubelet_volume_stats_capacity_bytes{",
                &claims,
                "} < ",
                t,
            ])
        },
        summary: "ChromaDB volume {{ $labels.persistentvolumeclaim }} is almost full",
        description: "Only {{ $value | humanizePercentage }} of the volume is free.",
    },
    AlertDef {
        name: "XAgentToolExecutionFailures",
        group: Group::Tool,
        severity: Severity::Warning,
        threshold: 0.1,
        for_: "10m",
        expr: |s, t| cat(&[&share(s, "xagent_tool_executions_total", r#"outcome="error""#, "10m"), " > ", t]),
        summary: "Many X-Agent tool executions fail",
        description: "{{ $value | humanizePercentage }} of tool executions failed over 10 minutes.",
    },
    AlertDef {
        name: "XAgentToolExecutionTimeout",
        group: Group::Tool,
        severity: Severity::Warning,
        threshold: 0.05,
        for_: "10m",
        expr: |s, t| {
            cat(&[&share(s, "xagent_tool_executions_total", r#"outcome="timeout""#, "10m"), " > ", t])
        },
        summary: "X-Agent tool executions time out",
        description: "{{ $value | humanizePercentage }} of tool executions timed out over 10 minutes.",
    },
    AlertDef {
        name: "XAgentSandboxUnavailable",
        group: Group::Tool,
        severity: Severity::High,
        threshold: 1.0,
        for_: "5m",
        expr: |s, t| cat(&["min(xagent_sandbox_available{", &s.app, "}) < ", t]),
        summary: "The X-Agent tool sandbox is unavailable",
        description: "At least one pod reports its code-execution sandbox as unavailable.",
    },
    AlertDef {
        name: "XAgentWorkerDown",
        group: Group::Worker,
        severity: Severity::High,
        threshold: 1.0,
        for_: "5m",
        expr: |s, t| down_after_grace(s, "worker", t),
        summary: "No X-Agent worker is running",
        description: "Fewer than the threshold of worker pods answer Prometheus scrapes (currently {{ $value }}), after a worker answered within the hour or its pods have existed for 15 minutes.",
    },
    AlertDef {
        name: "XAgentHighTaskQueue",
        group: Group::Worker,
        severity: Severity::Warning,
        threshold: 100.0,
        for_: "10m",
        expr: |s, t| cat(&["max(xagent_task_queue_depth{", &s.app, "}) > ", t]),
        summary: "X-Agent task queue is backing up",
        description: "{{ $value }} tasks are waiting for a worker.",
    },
    AlertDef {
        name: "XAgentSlowTaskProcessing",
        group: Group::Worker,
        severity: Severity::Warning,
        threshold: 300.0,
        for_: "15m",
        expr: |s, t| {
            cat(&[
                "histogram_quantile(0.95, sum by (le) (rate(xagent_task_duration_seconds_bucket{",
                &s.app,
                "}[10m]))) > ",
                t,
            ])
        },
        summary: "X-Agent tasks take long",
        description: "95th percentile task duration is {{ $value | humanizeDuration }} (threshold in seconds).",
    },
];

/// One alert after the XAgent's overrides, ready to become a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedAlert {
    /// Alert name.
    pub name: &'static str,
    /// Group name.
    pub group: Group,
    /// PromQL.
    pub expr: String,
    /// `for` duration.
    pub for_: Text,
    /// Labels.
    pub labels: BTreeMap<Text, Text>,
    /// Annotations.
    pub annotations: BTreeMap<Text, Text>,
}

/// Where the runbook of `alert` lives under `base`: the file name of
/// `docs/runbooks/`, so a base that points at those docs in any copy of the
/// repository (or a wiki that keeps the names) needs nothing else.
pub fn runbook_url(base: &str, alert: &str) -> String {
    cat(&[base.trim_end_matches('/'), "/", alert, ".md"])
}

/// A rule's annotations: its summary, description and runbook.
pub fn annotations(
    summary: &'static str,
    description: &'static str,
    runbook_base: &str,
    alert: &str,
) -> BTreeMap<Text, Text> {
    BTreeMap::from([
        ("summary".into(), summary.into()),
        ("description".into(), description.into()),
        ("runbook_url".into(), runbook_url(runbook_base, alert).into()),
    ])
}

/// The project's own runbooks (`docs/runbooks`), the default runbook base.
pub const PROJECT_RUNBOOKS: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/blob/main/docs/runbooks");

/// Whether an alert can be right for this XAgent. The `up`-based alerts would
/// fire forever for a component scaled to zero on purpose, or when our
/// ServiceMonitor is off and no target carries the labels they select on.
fn meaningful(alert: &str, xagent: &XAgent) -> bool {
    let spec = &xagent.spec;
    let scraped = spec.monitoring.service_monitor.enabled;
    match alert {
        "XAgentAPIDown" => scraped && (spec.api.autoscaling.enabled || spec.api.replicas > 0),
        "XAgentWorkerDown" => scraped && (spec.worker.autoscaling.enabled || spec.worker.replicas > 0),
        _ => true,
    }
}

/// The alerts an XAgent gets: enabled groups, enabled alerts, overrides applied.
pub fn render(xagent: &XAgent, settings: &PrometheusRuleSettings) -> Vec<RenderedAlert> {
    let scope = Scope::of(xagent);
    let ns = xagent.namespace().unwrap_or_default();
    let team = xagent.spec.monitoring.team.clone().unwrap_or_else(|| ns.clone());
    CATALOG
        .iter()
        .filter(|def| def.group.enabled(&settings.groups))
        .filter_map(|def| {
            let over = settings.alerts.get(def.name);
            if over.and_then(|o| o.enabled) == Some(false) || !meaningful(def.name, xagent) {
                return None;
            }
            let threshold = over.and_then(|o| o.threshold).unwrap_or(def.threshold).to_string();
            let for_ = over.and_then(|o| o.for_.clone()).map_or(Text::Borrowed(def.for_), Text::Owned);
            Some(RenderedAlert {
                name: def.name,
                group: def.group,
                expr: (def.expr)(&scope, &threshold),
                for_,
                labels: BTreeMap::from([
                    ("severity".into(), def.severity.as_str().into()),
                    ("namespace".into(), ns.clone().into()),
                    ("xagent".into(), scope.name.clone().into()),
                    ("team".into(), team.clone().into()),
                ]),
                annotations: annotations(def.summary, def.description, &settings.runbook_base_url, def.name),
            })
        })
        .collect()
}
