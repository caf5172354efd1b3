//! The operator's own alerts (`builders::monitoring::operator`) against
//! promtool, with the table harness of the per-XAgent catalog: every alert
//! fires on a misbehaving operator and stays silent on a healthy one, whatever
//! the targets of another job beside it do.

use super::*;
use xagent_operator::builders::monitoring::alerts::PROJECT_RUNBOOKS;
use xagent_operator::builders::monitoring::operator as catalog;

/// The namespace the operator runs in; its PrometheusRule lives there too.
const NAMESPACE: &str = "xagent-system";

/// The operator's two replicas (leader election keeps one active).
const POD: &str = "xagent-operator-6b8f9c7d5-h2k4m";
const POD_2: &str = "xagent-operator-6b8f9c7d5-p9r7t";

/// Another scrape job exporting the same metric names, e.g. a second copy of
/// the operator installed under another name or a fork of it.
const OTHER_JOB: &str = "other-operator";

fn job_matcher(job: &str) -> String {
    format!(r#"job="{job}""#)
}

/// A series of job `job`'s replica `pod`, with the extra `labels` (may be empty).
fn series_of(job: &str, metric: &str, pod: &str, labels: &str) -> String {
    let extra = if labels.is_empty() { String::new() } else { format!(",{labels}") };
    format!(r#"{metric}{{{},namespace="{NAMESPACE}",pod="{pod}"{extra}}}"#, job_matcher(job))
}

/// A series of our operator's replica `pod`.
fn op(metric: &str, pod: &str, labels: &str) -> String {
    series_of(catalog::JOB, metric, pod, labels)
}

fn up_of(pod: &str, value: f64) -> Series {
    gauge(op("up", pod, ""), value)
}

fn leader(pod: &str, value: f64) -> Series {
    gauge(op("xagent_operator_leader", pod, ""), value)
}

fn reconciles(outcome: &str, values: Values) -> Series {
    Series { selector: op("xagent_reconciles_total", POD, &format!(r#"outcome="{outcome}""#)), values }
}

fn reconcile_errors(reason: &str, per_minute: f64) -> Series {
    counter(op("xagent_reconcile_errors_total", POD, &format!(r#"reason="{reason}""#)), per_minute)
}

/// Reconciles per minute by outcome, errors all with reason ApplyFailed (a
/// failed reconcile counts both as outcome `error` and in the errors counter).
fn reconciling(success: f64, error: f64, backoff: f64) -> Vec<Series> {
    vec![
        reconciles("success", Values::Counter(success)),
        reconciles("error", Values::Counter(error)),
        reconciles("backoff", Values::Counter(backoff)),
        reconcile_errors("ApplyFailed", error),
    ]
}

fn tracked(map: &str, entries: f64) -> Series {
    gauge(op("xagent_operator_tracked_entries", POD, &format!(r#"map="{map}""#)), entries)
}

/// A counter that stopped long before the test's clock: flat for all samples.
const FLAT: Values = Values::Notation("1200+0x60");

fn probe_count(values: Values) -> Series {
    let labels = r#"dependency="redis",result="success""#;
    Series { selector: op("xagent_dependency_probe_duration_seconds_count", POD, labels), values }
}

fn probe_failures(dependency: &str, reason: &str, per_minute: f64) -> Series {
    let labels = format!(r#"dependency="{dependency}",reason="{reason}""#);
    counter(op("xagent_dependency_probe_failures_total", POD, &labels), per_minute)
}

/// An alert raised with `labels`; the operator's annotations show no
/// `{{ $value }}`, so its value expands to nothing.
fn raised(labels: &[(&'static str, &'static str)]) -> Vec<Fired> {
    vec![fires_with(labels, "")]
}

/// The same series for the targets of job [`OTHER_JOB`] (pods renamed too).
fn of_other_job(s: &Series) -> Series {
    let selector = s
        .selector
        .replace(&job_matcher(catalog::JOB), &job_matcher(OTHER_JOB))
        .replace(r#"pod="xagent-operator-"#, &format!(r#"pod="{OTHER_JOB}-"#));
    assert_ne!(selector, s.selector, "{} is not a series of job {}", s.selector, catalog::JOB);
    Series { selector, ..s.clone() }
}

/// The operator has no other XAgents beside it, but may have targets of
/// another job exporting the same metrics: healthy while ours misbehaves (they
/// must not mask its alert), misbehaving while ours is healthy (they must not
/// raise it).
fn other_job(series: &[Series]) -> Vec<Series> {
    series.iter().map(of_other_job).collect()
}

/// The operator's alerts carry `severity` and what their expression keeps:
/// nothing of an XAgent.
const OPERATOR: Scope = Scope { labels: &[], neighbours: other_job };

/// Firing and healthy series for the six operator alerts, in catalog order.
fn operator_cases() -> Vec<Case> {
    vec![
        Case {
            more: vec![Scenario {
                // The Deployment or the ServiceMonitor is gone: no target of
                // the job at all, only the other job's.
                what: "no up series of the job, only the other job's",
                series: vec![gauge(series_of(OTHER_JOB, "up", "other-operator-7c4d9f8b6-x5w2q", ""), 1.0)],
                fires: raised(&[]),
            }],
            ..case(
                "XAgentOperatorDown",
                vec![up_of(POD, 0.0), up_of(POD_2, 0.0)],
                raised(&[]),
                // One replica of two answering is enough: the other stands by.
                vec![up_of(POD, 1.0), up_of(POD_2, 0.0)],
            )
        },
        case(
            "XAgentOperatorLeaderMissing",
            vec![leader(POD, 0.0), leader(POD_2, 0.0)],
            raised(&[]),
            vec![leader(POD, 1.0), leader(POD_2, 0.0)],
        ),
        Case {
            more: vec![Scenario {
                // Backoff wake-ups are not attempts: counted, 30 errors per
                // 1040 reconciles would be 2.9 %.
                what: "few successes, many backoff wake-ups, many errors",
                series: reconciling(10.0, 30.0, 1000.0),
                fires: vec![fires_with(&[("reason", "ApplyFailed")], "75%")],
            }],
            ..case(
                "XAgentOperatorReconcileErrors",
                reconciling(70.0, 30.0, 5.0),
                vec![fires_with(&[("reason", "ApplyFailed")], "30%")],
                // A large healthy volume, so that the other job's copy of it
                // dilutes our 30 % below the threshold if the job is ignored.
                reconciling(980.0, 20.0, 5.0),
            )
        },
        Case {
            more: vec![
                Scenario {
                    what: "flat, with no XAgent to reconcile",
                    series: vec![reconciles("success", FLAT), tracked("validations", 0.0)],
                    fires: Vec::new(),
                },
                Scenario {
                    // Wake-ups that leave the XAgent alone complete no work.
                    what: "only backoff wake-ups grow",
                    series: vec![
                        reconciles("success", FLAT),
                        reconciles("backoff", Values::Counter(10.0)),
                        tracked("validations", 3.0),
                    ],
                    fires: raised(&[]),
                },
            ],
            ..case(
                "XAgentOperatorReconcileStalled",
                vec![reconciles("success", FLAT), reconciles("error", FLAT), tracked("validations", 3.0)],
                raised(&[]),
                vec![reconciles("success", Values::Counter(2.0)), tracked("validations", 3.0)],
            )
        },
        Case {
            more: vec![Scenario {
                what: "flat, with no endpoint to probe",
                series: vec![probe_count(FLAT), tracked("probed_endpoints", 0.0)],
                fires: Vec::new(),
            }],
            ..case(
                "XAgentOperatorProbesNotRunning",
                vec![probe_count(FLAT), tracked("probed_endpoints", 2.0)],
                raised(&[]),
                vec![probe_count(Values::Counter(4.0)), tracked("probed_endpoints", 2.0)],
            )
        },
        case(
            "XAgentOperatorProbeInputsUnreadable",
            vec![
                probe_failures("redis", "SecretUnreadable", 2.0),
                probe_failures("postgres", "ConnectionRefused", 2.0),
            ],
            raised(&[("dependency", "redis"), ("reason", "SecretUnreadable")]),
            // The dependency is down: the per-XAgent alerts report that.
            vec![probe_failures("redis", "ConnectionRefused", 2.0)],
        ),
    ]
}

/// The operator's PrometheusRule, runbooks under the project's default base.
fn operator_rule() -> Value {
    serde_json::to_value(catalog::prometheus_rule(NAMESPACE, PROJECT_RUNBOOKS))
        .expect("a PrometheusRule serializes")
}

fn operator_alerts() -> BTreeSet<String> {
    catalog::CATALOG.iter().map(|a| a.name.to_string()).collect()
}

/// Runs the operator table against `rules` and returns the alerts with a failed check.
fn operator_failures(rules: &Value) -> BTreeSet<String> {
    let (ok, out, _) = test_rules(rules, &operator_rule(), &operator_cases(), &OPERATOR);
    assert!(!ok, "promtool test rules passed against broken operator rules:\n{out}");
    failed_alerts(&out)
}

#[test]
fn the_operator_table_covers_every_alert_with_a_firing_and_a_silent_case() {
    let pr = operator_rule();
    assert_eq!(alert_names(&pr).len(), 6);
    assert_table_covers(&pr, &operator_cases());
}

#[test]
fn promtool_check_rules_accepts_the_operator_rules() {
    let pr = operator_rule();
    let (ok, out) = check_rules(&pr);
    assert!(ok, "promtool check rules rejects the operator's PrometheusRule:\n{out}");
    assert!(out.contains("SUCCESS: 6 rules found"), "expected six rules in:\n{out}");
    let errors = schema_errors(PROMETHEUS_RULE_CRD, "PrometheusRule", pr);
    assert!(errors.is_empty(), "the operator's PrometheusRule breaks the upstream schema:{}", show(&errors));
}

#[test]
fn promtool_test_rules_shows_every_operator_alert_firing_and_silent() {
    let pr = operator_rule();
    let (ok, out, yaml) = test_rules(&pr, &pr, &operator_cases(), &OPERATOR);
    if !ok {
        eprintln!("generated promtool test file:\n{yaml}");
    }
    assert!(ok, "promtool test rules failed:\n{out}");
    assert!(out.contains("SUCCESS"), "promtool reports success:\n{out}");
}

#[test]
fn every_operator_firing_case_fails_when_its_alert_cannot_fire() {
    let never = mutated(&operator_rule(), |r| {
        let expr = format!("({}) and on() (vector(1) < 0)", text(r, "expr"));
        set_expr(r, expr);
    });
    assert_eq!(operator_failures(&never), operator_alerts());
}

#[test]
fn every_operator_firing_case_fails_when_for_is_dropped() {
    // Each firing case also checks that the alert is still pending one minute
    // before its `for` has elapsed.
    let no_for = mutated(&operator_rule(), |r| r["for"] = json!("0s"));
    assert_eq!(operator_failures(&no_for), operator_alerts());
}

#[test]
fn every_operator_case_fails_when_its_alert_ignores_the_job() {
    let unscoped = mutated(&operator_rule(), |r| {
        let expr = without_matcher(text(r, "expr"), &job_matcher(catalog::JOB));
        assert!(!expr.contains("job="), "{expr}");
        set_expr(r, expr);
    });
    assert_eq!(operator_failures(&unscoped), operator_alerts());
}

#[test]
fn every_operator_alert_has_a_runbook_that_names_it() {
    let pr = operator_rule();
    // The default base of the chart and of config/prometheus.
    assert_eq!(PROJECT_RUNBOOKS, concat!(env!("CARGO_PKG_REPOSITORY"), "/blob/main/docs/runbooks"));
    let rendered = rules(&pr);
    assert_eq!(rendered.len(), operator_alerts().len());
    for (_, rule) in rendered {
        let name = text(&rule, "alert");
        assert_runbook_names(name);
        let url = text(&rule["annotations"], "runbook_url");
        let page = url.strip_prefix(concat!(env!("CARGO_PKG_REPOSITORY"), "/blob/main/"));
        let page = page.unwrap_or_else(|| panic!("{name}: {url} is not under the repository's docs"));
        assert_eq!(page, format!("docs/runbooks/{name}.md"), "{name}");
        assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join(page).is_file(), "{name}: {url} names no file");
    }
}
