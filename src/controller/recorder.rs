//! Publishes `events.k8s.io/v1` Events about XAgents, a repeat as a series.
//!
//! A repeat of an Event (same object, type, reason and action) within six
//! minutes of the last one is counted on the first Event (its `series`)
//! instead of becoming a new object, as kube's and client-go's recorders do.
//! kube's recorder keeps every Event it published, whole, for those six
//! minutes: at 1,000 XAgents that was megabytes of heap. This one keeps
//! only what a repeat needs: the Event's name, its count and when it was
//! last seen.

use std::collections::HashMap;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event as K8sEvent, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Reporter};
use serde_json::json;

/// How long after its last occurrence an Event still takes repeats.
const SERIES_TTL: SignedDuration = SignedDuration::from_mins(6);

/// Publishes Events as `reporter` (see the module docs).
pub struct Recorder {
    client: Client,
    reporter: Reporter,
    series: Mutex<Book>,
}

/// What makes two Events one series.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    regarding: [Option<Box<str>>; 5],
    warning: bool,
    reason: Box<str>,
    action: Box<str>,
}

impl Key {
    fn of(event: &Event, regarding: &ObjectReference) -> Self {
        let ObjectReference { api_version, kind, name, namespace, uid, .. } = regarding;
        Key {
            regarding: [api_version, kind, name, namespace, uid].map(|s| s.as_deref().map(Box::from)),
            warning: event.type_ == EventType::Warning,
            reason: event.reason.as_str().into(),
            action: event.action.as_str().into(),
        }
    }
}

/// The last Event of a series: its name, how often it happened, and when last.
#[derive(Debug, Clone, PartialEq)]
struct Series {
    name: Box<str>,
    count: i32,
    last: Timestamp,
}

/// The live series, by key.
#[derive(Debug, Default)]
struct Book(HashMap<Key, Series>);

impl Book {
    /// The series `key` continues at `now`, if one is live; forgets every
    /// series that is not.
    fn live(&mut self, key: &Key, now: Timestamp) -> Option<Series> {
        self.0.retain(|_, series| series.last + SERIES_TTL > now);
        self.0.get(key).cloned()
    }

    /// Records that the series of `key` stands at `series`.
    fn record(&mut self, key: Key, series: Series) {
        self.0.insert(key, series);
    }
}

impl Recorder {
    /// A recorder that reports as `reporter`.
    pub fn new(client: Client, reporter: Reporter) -> Self {
        Recorder { client, reporter, series: Mutex::default() }
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.series.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes `event` about the object `regarding`, in its namespace: a
    /// new Event, or a repeat counted on the live one.
    pub async fn publish(&self, event: &Event, regarding: &ObjectReference) -> Result<(), kube::Error> {
        let namespace = regarding.namespace.as_deref().unwrap_or("default");
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), namespace);
        let now = Timestamp::now();
        let key = Key::of(event, regarding);
        let live = self.book().live(&key, now);
        if let Some(Series { name, count, .. }) = live {
            let series = EventSeries { count: count + 1, last_observed_time: MicroTime(now) };
            match api.patch(&name, &PatchParams::default(), &Patch::Merge(json!({"series": series}))).await {
                Ok(_) => {
                    self.book().record(key, Series { name, count: count + 1, last: now });
                    return Ok(());
                }
                // Deleted meanwhile (Events expire): a new one starts the series again.
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        let created =
            api.create(&PostParams::default(), &object(&self.reporter, event, regarding, now)).await?;
        let name = created.metadata.name.unwrap_or_default().into();
        self.book().record(key, Series { name, count: 1, last: now });
        Ok(())
    }
}

/// The Event object `reporter` publishes for `event` about `regarding`, at
/// `now`, named as kube's recorder names them (`<object>.<nanoseconds, hex>`).
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
mod tests;
