//! Which status changes a person should hear about as Kubernetes events.
//!
//! Pure: derived from the previous and the next status, so an event is
//! published on a transition only, never once per reconcile, and every rule
//! is unit-tested. Identical repeats (a flapping Redis) are folded further by
//! the events API's series mechanism in the recorder.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::runtime::events::EventType;

use super::status::types;
use crate::crd::XAgentStatus;

/// One event to publish about an XAgent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Normal or Warning.
    pub type_: EventType,
    /// CamelCase reason, as `kubectl get events` shows it.
    pub reason: &'static str,
    /// What happened, for a person.
    pub note: String,
}

/// The events that going from `previous` to `next` calls for.
pub fn transitions(previous: Option<&XAgentStatus>, next: &XAgentStatus) -> Vec<Notice> {
    let before = |type_: &str| previous.and_then(|p| find(&p.conditions, type_));
    let mut notices = Vec::new();
    notices.extend(trouble(before(types::DEGRADED), find(&next.conditions, types::DEGRADED)));
    for (type_, down, up) in [
        (types::REDIS_READY, "RedisUnavailable", "RedisRecovered"),
        (types::POSTGRES_READY, "PostgresUnavailable", "PostgresRecovered"),
    ] {
        notices.extend(dependency(before(type_), find(&next.conditions, type_), down, up));
    }
    notices
}

fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// A Warning when `Degraded` turns True or its cause changes; a Normal
/// `Recovered` when it turns False. Conflicts are announced elsewhere, once
/// per conflicting object, with the object named.
fn trouble(before: Option<&Condition>, after: Option<&Condition>) -> Option<Notice> {
    let after = after?;
    let was_true = before.is_some_and(|b| b.status == "True");
    let same_cause = before.is_some_and(|b| b.reason == after.reason);
    match after.status.as_str() {
        "True" if after.reason == "ChildConflict" => None,
        "True" if !(was_true && same_cause) => Some(Notice {
            type_: EventType::Warning,
            reason: degraded_reason(&after.reason),
            note: after.message.clone(),
        }),
        "False" if was_true => Some(Notice {
            type_: EventType::Normal,
            reason: "Recovered",
            note: "the problem reported before is gone".into(),
        }),
        _ => None,
    }
}

/// The event reason for a `Degraded` reason: the same word, from a fixed set
/// (an event reason is a label, not free text).
fn degraded_reason(reason: &str) -> &'static str {
    match reason {
        "InvalidSpec" => "InvalidSpec",
        "ChildRejected" => "ChildRejected",
        "ProgressDeadlineExceeded" => "ProgressDeadlineExceeded",
        _ => "ApplyFailed",
    }
}

/// A Warning when a dependency is found down, a Normal when it is back.
/// Not yet probed (Unknown) is neither.
fn dependency(
    before: Option<&Condition>,
    after: Option<&Condition>,
    down: &'static str,
    up: &'static str,
) -> Option<Notice> {
    let after = after?;
    let was = before.map(|b| b.status.as_str());
    match (was, after.status.as_str()) {
        (Some("False"), "False") | (_, "Unknown") => None,
        (_, "False") => Some(Notice { type_: EventType::Warning, reason: down, note: after.message.clone() }),
        (Some("False"), "True") => {
            Some(Notice { type_: EventType::Normal, reason: up, note: after.message.clone() })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
