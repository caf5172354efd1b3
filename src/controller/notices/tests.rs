//! Unit tests of the event rules.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::runtime::events::EventType;

use super::{Notice, transitions};
use crate::crd::XAgentStatus;

/// A status holding `(type, status, reason)` conditions.
fn status(conditions: &[(&str, &str, &str)]) -> XAgentStatus {
    let conditions = conditions
        .iter()
        .map(|(type_, status, reason)| Condition {
            type_: (*type_).into(),
            status: (*status).into(),
            reason: (*reason).into(),
            message: format!("{type_} is {status} because {reason}"),
            observed_generation: Some(1),
            last_transition_time: Time(Timestamp::UNIX_EPOCH),
        })
        .collect();
    XAgentStatus { conditions, ..XAgentStatus::default() }
}

fn reasons(notices: &[Notice]) -> Vec<(EventType, &str)> {
    notices.iter().map(|n| (n.type_, n.reason)).collect()
}

#[test]
fn nothing_changed_means_no_event() {
    for s in [
        status(&[("Degraded", "True", "ApplyFailed"), ("RedisReady", "False", "ConnectionRefused")]),
        status(&[("Degraded", "False", "AsExpected"), ("RedisReady", "True", "ProbeSucceeded")]),
    ] {
        assert_eq!(transitions(Some(&s), &s), [], "{s:?}");
    }
}

#[test]
fn trouble_appearing_is_a_warning_named_after_its_cause() {
    let ok = status(&[("Degraded", "False", "AsExpected")]);
    for reason in ["InvalidSpec", "ApplyFailed", "ChildRejected", "ProgressDeadlineExceeded"] {
        let bad = status(&[("Degraded", "True", reason)]);
        let notices = transitions(Some(&ok), &bad);
        assert_eq!(reasons(&notices), [(EventType::Warning, reason)]);
        assert!(notices[0].note.contains(reason), "the note is the condition's message");
        assert_eq!(reasons(&transitions(None, &bad)), [(EventType::Warning, reason)], "first status");
    }
}

#[test]
fn a_new_cause_of_the_same_trouble_is_announced() {
    let before = status(&[("Degraded", "True", "ApplyFailed")]);
    let after = status(&[("Degraded", "True", "ChildRejected")]);
    assert_eq!(reasons(&transitions(Some(&before), &after)), [(EventType::Warning, "ChildRejected")]);
}

#[test]
fn recovery_is_a_normal_event() {
    let bad = status(&[("Degraded", "True", "ApplyFailed")]);
    let ok = status(&[("Degraded", "False", "AsExpected")]);
    assert_eq!(reasons(&transitions(Some(&bad), &ok)), [(EventType::Normal, "Recovered")]);
    assert_eq!(transitions(None, &ok), [], "a healthy first status is no recovery");
}

#[test]
fn conflicts_are_left_to_the_per_object_announcement() {
    let ok = status(&[("Degraded", "False", "AsExpected")]);
    let conflict = status(&[("Degraded", "True", "ChildConflict")]);
    assert_eq!(transitions(Some(&ok), &conflict), []);
}

#[test]
fn a_dependency_going_down_and_coming_back_is_announced_once_each() {
    let up = status(&[("RedisReady", "True", "ProbeSucceeded"), ("PostgresReady", "True", "ProbeSucceeded")]);
    let down =
        status(&[("RedisReady", "False", "ConnectionRefused"), ("PostgresReady", "True", "ProbeSucceeded")]);
    assert_eq!(reasons(&transitions(Some(&up), &down)), [(EventType::Warning, "RedisUnavailable")]);
    assert_eq!(transitions(Some(&down), &down), [], "still down");
    assert_eq!(reasons(&transitions(Some(&down), &up)), [(EventType::Normal, "RedisRecovered")]);
    let pg_down = status(&[("PostgresReady", "False", "AuthFailed")]);
    assert_eq!(reasons(&transitions(None, &pg_down)), [(EventType::Warning, "PostgresUnavailable")]);
}

#[test]
fn a_first_probe_is_no_event() {
    let probing = status(&[("RedisReady", "Unknown", "Probing")]);
    let up = status(&[("RedisReady", "True", "ProbeSucceeded")]);
    assert_eq!(transitions(None, &probing), []);
    assert_eq!(transitions(Some(&probing), &up), [], "healthy from the start is not a recovery");
}
