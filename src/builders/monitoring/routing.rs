//! AlertmanagerConfig NAME: this XAgent's alerts routed by severity, as the
//! seeds route theirs (critical pages, high goes to chat, warning to email or
//! chat), grouped by alert and XAgent, warnings silenced while a critical
//! alert of the same XAgent fires.

use kube::ResourceExt;

use super::alerts::Severity;
use super::types::{
    AlertmanagerConfig, AlertmanagerConfigSpec, EmailConfig, InhibitRule, Matcher, PagerDutyConfig, Receiver,
    Route, SecretKeySelector, SlackConfig, WebhookConfig,
};
use crate::crd::{AlertmanagerConfigSettings, ReceiverKind, SecretKeyRef, XAgent};

/// The receiver of alerts no severity route takes: it notifies no one, and
/// the Prometheus Operator lets them go on to the Alertmanager's other routes.
pub const UNROUTED: &str = "unrouted";

/// Where each severity goes when `routes` does not say: the first configured.
fn preference(severity: Severity) -> &'static [ReceiverKind] {
    use ReceiverKind::*;
    match severity {
        Severity::Critical => &[Pagerduty, Slack, Webhook, Email],
        Severity::High => &[Slack, Webhook, Email],
        Severity::Warning => &[Email, Slack, Webhook],
    }
}

fn configured(settings: &AlertmanagerConfigSettings, kind: ReceiverKind) -> bool {
    match kind {
        ReceiverKind::Pagerduty => settings.pagerduty.is_some(),
        ReceiverKind::Slack => settings.slack.is_some(),
        ReceiverKind::Email => settings.email.is_some(),
        ReceiverKind::Webhook => settings.webhook.is_some(),
    }
}

/// The receivers of `severity`: the XAgent's list, else the first configured
/// by [`preference`].
pub fn receivers_of(settings: &AlertmanagerConfigSettings, severity: Severity) -> Vec<ReceiverKind> {
    let routes = settings.routes.as_ref();
    let chosen = routes.and_then(|r| match severity {
        Severity::Critical => r.critical.clone(),
        Severity::High => r.high.clone(),
        Severity::Warning => r.warning.clone(),
    });
    chosen.unwrap_or_else(|| {
        preference(severity).iter().copied().filter(|k| configured(settings, *k)).take(1).collect()
    })
}

fn secret(reference: &SecretKeyRef) -> SecretKeySelector {
    SecretKeySelector { name: reference.name.clone(), key: reference.key.clone() }
}

/// Chat messages name the alert and the XAgent and link the runbook.
const SLACK_TITLE: &str = "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} {{ .CommonLabels.namespace }}/{{ .CommonLabels.xagent }}";
const SLACK_TEXT: &str = "{{ range .Alerts }}{{ .Annotations.summary }}: {{ .Annotations.description }} {{ .Annotations.runbook_url }}\n{{ end }}";

fn receiver(settings: &AlertmanagerConfigSettings, kind: ReceiverKind) -> Option<Receiver> {
    let mut out = Receiver { name: kind.as_str().to_string(), ..Receiver::default() };
    match kind {
        ReceiverKind::Pagerduty => out.pagerduty_configs.push(PagerDutyConfig {
            routing_key: secret(&settings.pagerduty.as_ref()?.routing_key_secret_ref),
            send_resolved: true,
            description: Some("{{ .CommonLabels.alertname }}: {{ .CommonAnnotations.summary }}".into()),
        }),
        ReceiverKind::Slack => {
            let slack = settings.slack.as_ref()?;
            out.slack_configs.push(SlackConfig {
                api_url: secret(&slack.api_url_secret_ref),
                channel: slack.channel.clone(),
                send_resolved: true,
                title: Some(SLACK_TITLE.into()),
                text: Some(SLACK_TEXT.into()),
            });
        }
        ReceiverKind::Email => {
            let email = settings.email.as_ref()?;
            out.email_configs.push(EmailConfig {
                to: email.to.clone(),
                from: email.from.clone(),
                smarthost: email.smarthost.clone(),
                auth_username: email.auth_username.clone(),
                auth_password: email.auth_password_secret_ref.as_ref().map(secret),
                require_tls: email.require_tls,
                send_resolved: true,
            });
        }
        ReceiverKind::Webhook => out.webhook_configs.push(WebhookConfig {
            url_secret: secret(&settings.webhook.as_ref()?.url_secret_ref),
            send_resolved: true,
        }),
    }
    Some(out)
}

/// One route per severity and receiver; every route of a severity but its
/// last continues, so each of its receivers is notified.
fn severity_routes(settings: &AlertmanagerConfigSettings) -> Vec<Route> {
    let mut routes = Vec::new();
    for severity in [Severity::Critical, Severity::High, Severity::Warning] {
        let receivers = receivers_of(settings, severity);
        for (i, kind) in receivers.iter().enumerate() {
            routes.push(Route {
                receiver: kind.as_str().to_string(),
                matchers: vec![Matcher::equal("severity", severity.as_str())],
                continue_: (i + 1 < receivers.len()).then_some(true),
                ..Route::default()
            });
        }
    }
    routes
}

/// AlertmanagerConfig NAME for `settings`.
pub fn alertmanager_config(xagent: &XAgent, settings: &AlertmanagerConfigSettings) -> AlertmanagerConfig {
    let mut metadata = super::meta(xagent, &settings.labels);
    metadata.name = Some(xagent.name_any());
    let mut receivers = vec![Receiver { name: UNROUTED.to_string(), ..Receiver::default() }];
    let kinds = [ReceiverKind::Pagerduty, ReceiverKind::Slack, ReceiverKind::Email, ReceiverKind::Webhook];
    receivers.extend(kinds.into_iter().filter_map(|kind| receiver(settings, kind)));
    let route = Route {
        receiver: UNROUTED.to_string(),
        group_by: settings.group_by.clone(),
        group_wait: Some(settings.group_wait.clone()),
        group_interval: Some(settings.group_interval.clone()),
        repeat_interval: Some(settings.repeat_interval.clone()),
        matchers: vec![Matcher::equal("xagent", &xagent.name_any())],
        continue_: None,
        routes: severity_routes(settings),
    };
    let inhibit_rules = vec![InhibitRule {
        source_match: vec![Matcher::equal("severity", Severity::Critical.as_str())],
        target_match: vec![Matcher::equal("severity", Severity::Warning.as_str())],
        // The Prometheus Operator adds the namespace to both matchers.
        equal: vec!["namespace".into(), "xagent".into()],
    }];
    AlertmanagerConfig { metadata, spec: AlertmanagerConfigSpec { route, receivers, inhibit_rules } }
}
