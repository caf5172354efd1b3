//! `spec.monitoring.alertmanagerConfig` against its references: the
//! AlertmanagerConfig must fit the upstream Prometheus Operator schema
//! (v0.93.0, vendored in tests/alerts/), the CRD must refuse what cannot
//! work, and `amtool config routes test` (Debian package
//! `prometheus-alertmanager`) must route each severity of this XAgent to the
//! receivers the seeds route it to, and nothing of another XAgent.
//!
//! amtool reads Alertmanager's own configuration, so the test translates the
//! AlertmanagerConfig the way the Prometheus Operator does: receivers named
//! `NAMESPACE/NAME/RECEIVER`, the top route matching the namespace and
//! continuing, inhibit rules limited to the namespace, Secrets resolved.

#[path = "support/tools.rs"]
mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use xagent_operator::builders::monitoring::routing::alertmanager_config;
use xagent_operator::builders::monitoring::types::{AlertmanagerConfig, Matcher, Receiver, Route};
use xagent_operator::crd::XAgent;
use xagent_operator::validate::{check_against_schema, parse_xagent};

const NO_AMTOOL: &str = "amtool is required by the routing tests: run ./scripts/setup.sh (Debian package \
                         `prometheus-alertmanager`), or point AMTOOL at an amtool binary";

fn document(spec: Value) -> Value {
    json!({
        "apiVersion": "xagent.io/v1alpha1",
        "kind": "XAgent",
        "metadata": {"name": "demo", "namespace": "ns", "uid": "u-1"},
        "spec": spec,
    })
}

fn xagent(routing: Value) -> XAgent {
    parse_xagent(document(json!({"monitoring": {"alertmanagerConfig": routing}})), "test")
        .unwrap_or_else(|e| panic!("the test XAgent is invalid: {e}"))
}

/// Why the CRD (schema and CEL) refuses `routing`.
fn refused(routing: Value) -> String {
    let doc = document(json!({"monitoring": {"alertmanagerConfig": routing}}));
    match parse_xagent(doc, "test") {
        Ok(_) => panic!("accepted {routing}"),
        Err(e) => e.to_string(),
    }
}

fn secret(name: &str) -> Value {
    json!({"name": name, "key": "value"})
}

fn pagerduty() -> Value {
    json!({"routingKeySecretRef": secret("pd")})
}

fn slack() -> Value {
    json!({"apiUrlSecretRef": secret("slack"), "channel": "#xagent"})
}

fn email() -> Value {
    json!({"to": "ops@example.com", "from": "alerts@example.com", "smarthost": "smtp.example.com:587",
           "authUsername": "alerts", "authPasswordSecretRef": secret("smtp")})
}

fn webhook() -> Value {
    json!({"urlSecretRef": secret("hook")})
}

/// Every receiver configured, routes left to their defaults.
fn everything() -> Value {
    json!({"pagerduty": pagerduty(), "slack": slack(), "email": email(), "webhook": webhook()})
}

fn config_of(routing: Value) -> AlertmanagerConfig {
    let x = xagent(routing);
    alertmanager_config(&x, x.spec.monitoring.alertmanager_config.as_ref().expect("set"))
}

// ------------------------------------------------------------------ upstream schema

fn upstream_schema() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/alerts/monitoring.coreos.com_alertmanagerconfigs.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let crd: Value = serde_yaml::from_str(&text).expect("the upstream CRD is YAML");
    crd.pointer("/spec/versions/0/schema/openAPIV3Schema").cloned().expect("an openAPIV3Schema")
}

fn schema_errors(object: Value) -> Vec<String> {
    check_against_schema(&upstream_schema(), object, "AlertmanagerConfig")
        .1
        .iter()
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn alertmanager_configs_match_the_upstream_schema() {
    for (what, routing) in [
        ("every receiver", everything()),
        ("slack only", json!({"slack": slack()})),
        ("email without auth", json!({"email": {"to": "ops@example.com", "requireTls": false}})),
        (
            "explicit routes",
            json!({"pagerduty": pagerduty(), "slack": slack(),
            "routes": {"critical": ["pagerduty", "slack"], "high": ["slack"], "warning": []}}),
        ),
    ] {
        let object = serde_json::to_value(config_of(routing)).expect("serializes");
        assert_eq!(object["apiVersion"], "monitoring.coreos.com/v1alpha1", "{what}");
        assert_eq!(object["kind"], "AlertmanagerConfig", "{what}");
        let errors = schema_errors(object);
        assert!(errors.is_empty(), "{what} breaks the upstream schema: {errors:#?}");
    }
    // The check can fail: a broken object is reported.
    let mut broken = serde_json::to_value(config_of(everything())).expect("serializes");
    broken["spec"]["route"]["groupWait"] = json!("half a minute");
    broken["spec"]["receivers"][1]["slackConfigs"] = json!([{"apiURL": {"name": "x"}}]);
    let errors = schema_errors(broken);
    assert!(errors.iter().any(|e| e.contains("groupWait")), "{errors:#?}");
    assert!(errors.iter().any(|e| e.contains("apiURL.key")), "{errors:#?}");
}

#[test]
fn the_config_groups_scopes_and_inhibits_as_the_seeds_do() {
    let config = config_of(everything());
    assert_eq!(config.metadata.name.as_deref(), Some("demo"));
    let route = &config.spec.route;
    assert_eq!(route.group_by, ["alertname", "xagent"]);
    assert_eq!(route.matchers, [Matcher::equal("xagent", "demo")], "only this XAgent's alerts");
    let inhibit = &config.spec.inhibit_rules;
    assert_eq!(inhibit.len(), 1);
    assert_eq!(inhibit[0].source_match, [Matcher::equal("severity", "critical")]);
    assert_eq!(inhibit[0].target_match, [Matcher::equal("severity", "warning")]);
    assert_eq!(inhibit[0].equal, ["namespace", "xagent"], "for the same XAgent only");
    // Credentials are Secret references, never values.
    let text = serde_json::to_string(&config).expect("serializes");
    for name in ["\"pd\"", "\"slack\"", "\"smtp\"", "\"hook\""] {
        assert!(text.contains(&format!("\"name\":{name}")), "{name} is referenced: {text}");
    }
}

// ------------------------------------------------------------------ the CRD refuses

#[test]
fn the_crd_refuses_routing_that_cannot_work() {
    for (routing, message) in [
        (json!({}), "configure at least one receiver"),
        (
            json!({"slack": slack(), "routes": {"critical": ["pagerduty"]}}),
            "routes.critical names a receiver",
        ),
        (json!({"slack": slack(), "routes": {"high": ["email"]}}), "routes.high names a receiver"),
        (json!({"slack": slack(), "routes": {"warning": ["webhook"]}}), "routes.warning names a receiver"),
        (json!({"slack": slack(), "routes": {"critical": ["sms"]}}), "sms"),
        (json!({"slack": slack(), "routes": {"critical": ["slack", "slack"]}}), "Duplicate value"),
        (json!({"slack": slack(), "groupWait": "soon"}), "groupWait"),
        (json!({"slack": slack(), "groupBy": ["not a label"]}), "groupBy"),
        (json!({"slack": {"channel": "#x"}}), "apiUrlSecretRef"),
        (
            json!({"email": {"to": "a@b.c", "authUsername": "u"}}),
            "set authUsername and authPasswordSecretRef together",
        ),
        (
            json!({"email": {"to": "a@b.c", "authUsername": "u", "authPasswordSecretRef": secret("s"), "requireTls": false}}),
            "the SMTP password would travel over plaintext",
        ),
        (json!({"email": {"to": "a@b.c", "smarthost": "smtp.example.com"}}), "smarthost"),
    ] {
        let why = refused(routing.clone());
        assert!(why.contains(message), "{routing}: expected …{message}…, got: {why}");
    }
}

// ------------------------------------------------------------------ amtool

fn amtool() -> PathBuf {
    tools::from_path("amtool", "AMTOOL", NO_AMTOOL)
}

/// What the Prometheus Operator names a receiver of the object ns/demo.
fn qualified(name: &str) -> String {
    format!("ns/demo/{name}")
}

fn matchers(list: &[Matcher]) -> Vec<String> {
    list.iter().map(|m| format!("{}{}{:?}", m.name, m.match_type, m.value)).collect()
}

/// A route of the AlertmanagerConfig in Alertmanager's own terms.
fn am_route(route: &Route) -> Value {
    let mut out = json!({
        "receiver": qualified(&route.receiver),
        "matchers": matchers(&route.matchers),
        "routes": route.routes.iter().map(am_route).collect::<Vec<_>>(),
    });
    if let Some(c) = route.continue_ {
        out["continue"] = json!(c);
    }
    for (key, value) in [
        ("group_wait", &route.group_wait),
        ("group_interval", &route.group_interval),
        ("repeat_interval", &route.repeat_interval),
    ] {
        if let Some(v) = value {
            out[key] = json!(v);
        }
    }
    if !route.group_by.is_empty() {
        out["group_by"] = json!(route.group_by);
    }
    out
}

/// A receiver with its Secrets resolved to stand-in values.
fn am_receiver(receiver: &Receiver) -> Value {
    let mut out = json!({"name": qualified(&receiver.name)});
    let pagerduty: Vec<Value> = receiver
        .pagerduty_configs
        .iter()
        .map(|c| json!({"routing_key": "routing-key", "send_resolved": c.send_resolved, "description": c.description}))
        .collect();
    let slack: Vec<Value> = receiver
        .slack_configs
        .iter()
        .map(|c| {
            json!({"api_url": "https://hooks.slack.example/services/T/B/x", "channel": c.channel,
                        "send_resolved": c.send_resolved, "title": c.title, "text": c.text})
        })
        .collect();
    let email: Vec<Value> = receiver
        .email_configs
        .iter()
        .map(|c| {
            json!({"to": c.to, "from": c.from, "smarthost": c.smarthost, "auth_username": c.auth_username,
                        "auth_password": c.auth_password.as_ref().map(|_| "password"),
                        "require_tls": c.require_tls, "send_resolved": c.send_resolved})
        })
        .collect();
    let webhook: Vec<Value> = receiver
        .webhook_configs
        .iter()
        .map(|c| json!({"url": "https://hooks.example.com/alerts", "send_resolved": c.send_resolved}))
        .collect();
    for (key, list) in [
        ("pagerduty_configs", pagerduty),
        ("slack_configs", slack),
        ("email_configs", email),
        ("webhook_configs", webhook),
    ] {
        if !list.is_empty() {
            out[key] = Value::Array(list.into_iter().map(without_nulls).collect());
        }
    }
    out
}

fn without_nulls(mut v: Value) -> Value {
    if let Some(map) = v.as_object_mut() {
        map.retain(|_, value| !value.is_null());
    }
    v
}

/// The Alertmanager configuration the Prometheus Operator makes of `config`
/// in namespace ns: a catch-all root, and the object's tree under a route
/// that matches its namespace and always continues.
fn alertmanager_yaml(config: &AlertmanagerConfig) -> String {
    let mut top = am_route(&config.spec.route);
    let mut scoped = matchers(&[Matcher::equal("namespace", "ns")]);
    scoped.extend(matchers(&config.spec.route.matchers));
    top["matchers"] = json!(scoped);
    top["continue"] = json!(true);
    let namespaced = |list: &[Matcher]| {
        let mut m = matchers(list);
        m.push("namespace=\"ns\"".into());
        m
    };
    let inhibit: Vec<Value> = config
        .spec
        .inhibit_rules
        .iter()
        .map(|r| json!({"source_matchers": namespaced(&r.source_match), "target_matchers": namespaced(&r.target_match),
                        "equal": r.equal}))
        .collect();
    let mut receivers = vec![json!({"name": "null"})];
    receivers.extend(config.spec.receivers.iter().map(am_receiver));
    let am = json!({
        "route": {"receiver": "null", "routes": [top]},
        "receivers": receivers,
        "inhibit_rules": inhibit,
    });
    serde_yaml::to_string(&am).expect("the configuration serializes")
}

fn amtool_run(args: &[&str]) -> (bool, String) {
    let tool = amtool();
    let out = Command::new(&tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}. {NO_AMTOOL}", tool.display()));
    (
        out.status.success(),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

/// The Alertmanager configuration of `routing` in a file amtool accepts.
fn checked_config(routing: Value) -> tempfile::NamedTempFile {
    let yaml = alertmanager_yaml(&config_of(routing));
    let file = tempfile::Builder::new().suffix(".yaml").tempfile().expect("a temporary file");
    std::fs::write(file.path(), &yaml).expect("writing the configuration");
    let path = file.path().to_str().expect("a UTF-8 path");
    let (ok, out) = amtool_run(&["check-config", path]);
    assert!(ok && out.contains("SUCCESS"), "amtool check-config refused:\n{out}\n{yaml}");
    file
}

/// Whether amtool routes an alert with `labels` to exactly `receivers`.
fn routes_to(file: &tempfile::NamedTempFile, labels: &[&str], receivers: &[String]) -> (bool, String) {
    let config = format!("--config.file={}", file.path().display());
    let verify = format!("--verify.receivers={}", receivers.join(","));
    let mut args = vec!["config", "routes", "test", config.as_str(), verify.as_str()];
    args.extend_from_slice(labels);
    amtool_run(&args)
}

fn alert(severity: &str) -> Vec<String> {
    vec![
        format!("severity={severity}"),
        "namespace=ns".into(),
        "xagent=demo".into(),
        "alertname=XAgentAPIDown".into(),
    ]
}

/// Every (labels, receivers) case routes as expected.
fn assert_routes(routing: Value, cases: &[(Vec<String>, Vec<String>)]) {
    let file = checked_config(routing.clone());
    for (labels, receivers) in cases {
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        let (ok, out) = routes_to(&file, &labels, receivers);
        assert!(ok, "{routing}: {labels:?} should reach {receivers:?}:\n{out}");
    }
}

#[test]
fn amtool_routes_each_severity_as_the_seeds_do() {
    let q = |names: &[&str]| names.iter().map(|n| qualified(n)).collect::<Vec<_>>();
    assert_routes(
        everything(),
        &[
            (alert("critical"), q(&["pagerduty"])),
            (alert("high"), q(&["slack"])),
            (alert("warning"), q(&["email"])),
            (alert("info"), q(&["unrouted"])),
        ],
    );
    // With chat only, everything goes to chat.
    assert_routes(
        json!({"slack": slack()}),
        &[
            (alert("critical"), q(&["slack"])),
            (alert("high"), q(&["slack"])),
            (alert("warning"), q(&["slack"])),
        ],
    );
    // Explicit routes: critical to two receivers, warning nowhere.
    assert_routes(
        json!({"pagerduty": pagerduty(), "slack": slack(), "routes": {"critical": ["pagerduty", "slack"], "warning": []}}),
        &[
            (alert("critical"), q(&["pagerduty", "slack"])),
            (alert("high"), q(&["slack"])),
            (alert("warning"), q(&["unrouted"])),
        ],
    );
}

#[test]
fn amtool_keeps_other_xagents_out() {
    let file = checked_config(everything());
    let other_name = ["severity=critical", "namespace=ns", "xagent=other"];
    let other_namespace = ["severity=critical", "namespace=elsewhere", "xagent=demo"];
    for labels in [&other_name, &other_namespace] {
        let (ok, out) = routes_to(&file, labels, &["null".to_string()]);
        assert!(ok, "{labels:?} must reach only the catch-all:\n{out}");
    }
    // The check can fail: the wrong receiver is reported.
    let critical = alert("critical");
    let labels: Vec<&str> = critical.iter().map(String::as_str).collect();
    let (ok, out) = routes_to(&file, &labels, &[qualified("email")]);
    assert!(!ok, "amtool accepted a wrong receiver:\n{out}");
}
