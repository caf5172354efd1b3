use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::events::{Event, EventType, Reporter};

use super::{Book, Key, SERIES_TTL, Series, object};

fn regarding(uid: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some("xagent.io/v1alpha1".into()),
        kind: Some("XAgent".into()),
        name: Some("demo".into()),
        namespace: Some("team".into()),
        uid: Some(uid.into()),
        ..ObjectReference::default()
    }
}

fn event(reason: &str) -> Event {
    Event {
        type_: EventType::Warning,
        reason: reason.into(),
        note: Some("api: 0 of 2 ready".into()),
        action: "Reconcile".into(),
        secondary: None,
    }
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).expect("a timestamp")
}

#[test]
fn an_event_names_its_object_its_reporter_and_when() {
    let reporter = Reporter { controller: "xagent-operator".into(), instance: Some("pod-1".into()) };
    let now: Timestamp = "2026-12-06T05:00:00.000001Z".parse().expect("a timestamp");
    let written = object(&reporter, &event("Degraded"), &regarding("u1"), now);
    assert_eq!(written.metadata.name, Some(format!("demo.{:x}", now.as_nanosecond())));
    assert_eq!(written.metadata.namespace.as_deref(), Some("team"));
    assert_eq!(written.type_.as_deref(), Some("Warning"));
    assert_eq!((written.reason.as_deref(), written.action.as_deref()), (Some("Degraded"), Some("Reconcile")));
    assert_eq!(written.note.as_deref(), Some("api: 0 of 2 ready"));
    assert_eq!(written.regarding, Some(regarding("u1")));
    assert_eq!(written.event_time.map(|t| t.0), Some(now));
    assert_eq!(written.reporting_controller.as_deref(), Some("xagent-operator"));
    assert_eq!(written.reporting_instance.as_deref(), Some("pod-1"));
}

#[test]
fn a_repeat_within_the_ttl_continues_the_series_and_a_later_one_starts_anew() {
    let mut book = Book::default();
    let key = Key::of(&event("RedisUnavailable"), &regarding("u1"));
    assert_eq!(book.live(&key, at(0)), None, "nothing published yet");
    let first = Series { name: "demo.1".into(), count: 1, last: at(0) };
    book.record(key.clone(), first.clone());
    assert_eq!(book.live(&key, at(300)), Some(first), "five minutes later: a repeat");
    book.record(key.clone(), Series { name: "demo.1".into(), count: 2, last: at(300) });
    let ttl = SERIES_TTL.as_secs();
    assert_eq!(
        book.live(&key, at(300 + ttl - 1)).map(|s| s.count),
        Some(2),
        "the TTL runs from the last repeat"
    );
    assert_eq!(book.live(&key, at(300 + ttl)), None, "six minutes after the last one: a new Event");
    assert!(book.0.is_empty(), "an expired series is forgotten, not kept");
}

#[test]
fn only_the_same_object_type_reason_and_action_make_one_series() {
    let key = Key::of(&event("RedisUnavailable"), &regarding("u1"));
    let mut warning_as_normal = event("RedisUnavailable");
    warning_as_normal.type_ = EventType::Normal;
    let mut other_action = event("RedisUnavailable");
    other_action.action = "Probe".into();
    for other in [
        Key::of(&event("RedisRecovered"), &regarding("u1")),
        Key::of(&event("RedisUnavailable"), &regarding("u2")),
        Key::of(&warning_as_normal, &regarding("u1")),
        Key::of(&other_action, &regarding("u1")),
    ] {
        assert_ne!(key, other);
    }
    let mut newer = regarding("u1");
    newer.resource_version = Some("42".into());
    assert_eq!(
        key,
        Key::of(&event("RedisUnavailable"), &newer),
        "a newer version of the object is the same object"
    );
}
