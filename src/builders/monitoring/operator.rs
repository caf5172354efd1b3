//! The operator's own alerts: is it running, leading, reconciling and
//! probing. Shipped as a PrometheusRule with the chart and in
//! `config/prometheus`, beside the per-XAgent catalog of [`super::alerts`].
//!
//! Every expression selects `job="xagent-operator"`: both ServiceMonitors
//! that scrape the operator take the job name from the Service label
//! `app.kubernetes.io/part-of`, which is that value whatever the release is
//! called.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::alerts::{Severity, annotations};
use super::types::{PrometheusRule, PrometheusRuleSpec, Rule, RuleGroup};

/// The `job` label of the operator's scrape targets.
pub const JOB: &str = "xagent-operator";

/// Name of the rule group (and of the PrometheusRule in `config/prometheus`).
pub const GROUP: &str = "xagent-operator";

/// One operator alert.
pub struct OperatorAlert {
    /// Alert name.
    pub name: &'static str,
    /// Severity label.
    pub severity: Severity,
    /// `for` duration.
    pub for_: &'static str,
    /// PromQL over the operator's series (`{job}` is [`JOB`]'s matcher).
    pub expr: fn(&str) -> String,
    /// One-line summary.
    pub summary: &'static str,
    /// Longer description.
    pub description: &'static str,
}

/// Every operator alert. Thresholds are fixed: they describe the operator,
/// which every install runs the same way.
pub const CATALOG: [OperatorAlert; 6] = [
    OperatorAlert {
        name: "XAgentOperatorDown",
        severity: Severity::Critical,
        for_: "5m",
        // absent() also fires when the target vanished altogether (the
        // Deployment or the ServiceMonitor was deleted), which `up == 0` misses.
        expr: |job| format!("absent(up{{{job}}} == 1)"),
        summary: "The X-Agent operator is down",
        description: "No X-Agent operator target has answered a scrape for 5 minutes: XAgents are not reconciled, and their Redis and PostgreSQL are not probed, so XAgentRedisDown and XAgentPostgreSQLDown cannot fire.",
    },
    OperatorAlert {
        name: "XAgentOperatorLeaderMissing",
        severity: Severity::Critical,
        for_: "1m",
        // A Lease lasts 15 s: a minute without a leader is four lease terms.
        expr: |job| format!("max(xagent_operator_leader{{{job}}}) < 1"),
        summary: "No X-Agent operator replica holds the leader Lease",
        description: "Operator replicas are running, but none has held the leader Lease for a minute, so none reconciles: check the Lease and the replicas' logs.",
    },
    OperatorAlert {
        name: "XAgentOperatorReconcileErrors",
        severity: Severity::High,
        for_: "15m",
        expr: |job| {
            format!(
                r#"sum by (reason) (rate(xagent_reconcile_errors_total{{{job}}}[5m])) / on () group_left () sum(rate(xagent_reconciles_total{{{job},outcome!="backoff"}}[5m])) > 0.1"#
            )
        },
        summary: "X-Agent reconciles fail with {{ $labels.reason }}",
        description: "{{ $value | humanizePercentage }} of reconciles failed with reason {{ $labels.reason }} over 5 minutes. `kubectl get xagents -A` shows which XAgents are not Ready.",
    },
    OperatorAlert {
        name: "XAgentOperatorReconcileStalled",
        severity: Severity::High,
        for_: "5m",
        // Every XAgent is reconciled at least every 5 minutes (the resync),
        // so 15 minutes without one means the work queue is stuck.
        expr: |job| {
            format!(
                r#"sum(increase(xagent_reconciles_total{{{job},outcome!="backoff"}}[15m])) == 0 and on () max(xagent_operator_tracked_entries{{{job},map="validations"}}) > 0"#
            )
        },
        summary: "The X-Agent operator has stopped reconciling",
        description: "XAgents exist but the operator completed no reconcile in 20 minutes, though each is resynced every 5: its work queue is stuck.",
    },
    OperatorAlert {
        name: "XAgentOperatorProbesNotRunning",
        severity: Severity::High,
        for_: "5m",
        expr: |job| {
            format!(
                r#"sum(increase(xagent_dependency_probe_duration_seconds_count{{{job}}}[10m])) == 0 and on () max(xagent_operator_tracked_entries{{{job},map="probed_endpoints"}}) > 0"#
            )
        },
        summary: "The X-Agent operator has stopped probing dependencies",
        description: "The operator has Redis and PostgreSQL endpoints to probe but finished no probe in 15 minutes: the dependency status and alerts of every XAgent are stale.",
    },
    OperatorAlert {
        name: "XAgentOperatorProbeInputsUnreadable",
        severity: Severity::Warning,
        for_: "10m",
        // Other failure reasons say the dependency is down, which the
        // per-XAgent alerts report; these say the probe could not even start.
        expr: |job| {
            format!(
                r#"sum by (dependency, reason) (rate(xagent_dependency_probe_failures_total{{{job},reason=~"SecretUnreadable|CaUnreadable"}}[5m])) > 0"#
            )
        },
        summary: "The X-Agent operator cannot read what a {{ $labels.dependency }} probe needs",
        description: "{{ $labels.dependency }} probes fail with {{ $labels.reason }}: the operator cannot read a password Secret or CA an XAgent names, so it cannot probe that dependency. Check the operator's RBAC in that namespace.",
    },
];

/// The rule group, with runbooks under `runbook_base_url`.
pub fn rule_group(runbook_base_url: &str) -> RuleGroup {
    let job = format!(r#"job="{JOB}""#);
    let rules = CATALOG
        .iter()
        .map(|alert| Rule {
            alert: alert.name.into(),
            expr: (alert.expr)(&job),
            for_: alert.for_.into(),
            labels: BTreeMap::from([("severity".into(), alert.severity.as_str().into())]),
            annotations: annotations(alert.summary, alert.description, runbook_base_url, alert.name),
        })
        .collect();
    RuleGroup { name: GROUP.to_string(), rules }
}

/// The PrometheusRule of `config/prometheus` (the chart wraps the same group
/// in a template of its own, for its release name and labels).
pub fn prometheus_rule(namespace: &str, runbook_base_url: &str) -> PrometheusRule {
    PrometheusRule {
        metadata: ObjectMeta {
            name: Some(GROUP.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(BTreeMap::from([
                ("app.kubernetes.io/name".to_string(), "xagent-operator".to_string()),
                ("app.kubernetes.io/part-of".to_string(), "xagent-operator".to_string()),
            ])),
            ..ObjectMeta::default()
        },
        spec: PrometheusRuleSpec { groups: vec![rule_group(runbook_base_url)] },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_expression_selects_the_operator_job_only() {
        let group = rule_group("https://example.test/runbooks");
        assert_eq!(group.rules.len(), CATALOG.len());
        for rule in &group.rules {
            let selectors = rule.expr.matches('{').count();
            let scoped = rule.expr.matches(r#"{job="xagent-operator""#).count();
            assert!(selectors > 0 && scoped == selectors, "{}: {}", rule.alert, rule.expr);
        }
    }

    #[test]
    fn runbooks_follow_the_base_url() {
        let group = rule_group("https://example.test/runbooks/");
        let rule = group.rules.iter().find(|r| r.alert == "XAgentOperatorDown").expect("listed");
        assert_eq!(rule.annotations["runbook_url"], "https://example.test/runbooks/XAgentOperatorDown.md");
    }
}
