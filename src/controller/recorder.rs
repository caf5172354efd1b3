//! Publishes `events.k8s.io/v1` Events about XAgents, and keeps none.
//!
//! kube's `Recorder` keeps every Event it published for six minutes, to turn
//! a repeat into a series (one Event whose count goes up). Its key holds the
//! XAgent's reference with its resourceVersion, and an XAgent's events follow
//! our status writes, which change that version: no repeat of ours ever
//! matched, and at 1,000 XAgents the kept Events were megabytes of heap.
//! Events of ours are transitions ([`super::notices`]), rare by design, so
//! each is published as an Event of its own, named as kube's recorder names
//! them (`<object>.<nanoseconds, hex>`).

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};
use kube::runtime::events::{Event, EventType, Reporter};

/// Publishes Events as `reporter` (see the module docs).
#[derive(Clone)]
pub struct Recorder {
    client: Client,
    reporter: Reporter,
}

impl Recorder {
    /// A recorder that reports as `reporter`.
    pub fn new(client: Client, reporter: Reporter) -> Self {
        Recorder { client, reporter }
    }

    /// Creates `event` about the object `regarding`, in its namespace.
    pub async fn publish(&self, event: &Event, regarding: &ObjectReference) -> Result<(), kube::Error> {
        let namespace = regarding.namespace.as_deref().unwrap_or("default");
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), namespace);
        api.create(&PostParams::default(), &object(&self.reporter, event, regarding, Timestamp::now()))
            .await?;
        Ok(())
    }
}

/// The Event object `reporter` publishes for `event` about `regarding`, at `now`.
fn object(reporter: &Reporter, event: &Event, regarding: &ObjectReference, now: Timestamp) -> K8sEvent {
    let Reporter { controller, instance } = reporter;
    let object = regarding.name.as_deref().unwrap_or(controller);
    K8sEvent {
        metadata: ObjectMeta {
            name: Some(format!("{object}.{:x}", now.as_nanosecond())),
            namespace: regarding.namespace.clone(),
            ..ObjectMeta::default()
        },
        action: Some(event.action.clone()),
        reason: Some(event.reason.clone()),
        note: event.note.clone(),
        type_: Some(match event.type_ {
            EventType::Normal => "Normal".into(),
            EventType::Warning => "Warning".into(),
        }),
        event_time: Some(MicroTime(now)),
        regarding: Some(regarding.clone()),
        related: event.secondary.clone(),
        reporting_controller: Some(controller.clone()),
        reporting_instance: Some(instance.clone().unwrap_or_else(|| controller.clone())),
        ..K8sEvent::default()
    }
}

#[cfg(test)]
mod tests {
    use kube::runtime::events::{Event, EventType, Reporter};

    use super::{ObjectReference, Timestamp, object};

    #[test]
    fn an_event_names_its_object_its_reporter_and_when() {
        let reporter = Reporter { controller: "xagent-operator".into(), instance: Some("pod-1".into()) };
        let regarding = ObjectReference {
            kind: Some("XAgent".into()),
            name: Some("demo".into()),
            namespace: Some("team".into()),
            ..ObjectReference::default()
        };
        let event = Event {
            type_: EventType::Warning,
            reason: "Degraded".into(),
            note: Some("api: 0 of 2 ready".into()),
            action: "Reconcile".into(),
            secondary: None,
        };
        let now: Timestamp = "2026-12-06T05:00:00.000001Z".parse().expect("a timestamp");
        let written = object(&reporter, &event, &regarding, now);
        assert_eq!(
            written.metadata.name.as_deref(),
            Some(format!("demo.{:x}", now.as_nanosecond()).as_str())
        );
        assert_eq!(written.metadata.namespace.as_deref(), Some("team"));
        assert_eq!(written.type_.as_deref(), Some("Warning"));
        assert_eq!(
            (written.reason.as_deref(), written.action.as_deref()),
            (Some("Degraded"), Some("Reconcile"))
        );
        assert_eq!(written.note.as_deref(), Some("api: 0 of 2 ready"));
        assert_eq!(written.regarding.as_ref(), Some(&regarding));
        assert_eq!(written.event_time.map(|t| t.0), Some(now));
        assert_eq!(written.reporting_controller.as_deref(), Some("xagent-operator"));
        assert_eq!(written.reporting_instance.as_deref(), Some("pod-1"));
    }
}
