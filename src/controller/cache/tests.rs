use super::*;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ObjectMeta;

/// The entry of ConfigMap `namespace/name` with uid `uid`, which tells
/// the entries of one object apart in these tests.
fn entry(namespace: &str, name: &str, uid: &str) -> Entry<ConfigMap> {
    let object = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            uid: Some(uid.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Entry::of(&object, None)
}

/// The uid of the cached entry of `namespace/name`, if any.
fn uid_of(cache: &Cache<ConfigMap>, namespace: &str, name: &str) -> Option<String> {
    let found = cache.get(Some(namespace), name)?;
    Some(found.uid().map(ToString::to_string).unwrap_or_default())
}

#[test]
fn applies_and_deletes_change_the_cache_at_once() {
    let (cache, mut writer) = cache::<ConfigMap>();
    writer.apply_watcher_event(watcher::Event::Apply(entry("a", "x", "1")));
    writer.apply_watcher_event(watcher::Event::Apply(entry("b", "x", "2")));
    assert_eq!(uid_of(&cache, "a", "x").as_deref(), Some("1"));
    assert_eq!(uid_of(&cache, "b", "x").as_deref(), Some("2"), "the same name in another namespace");
    writer.apply_watcher_event(watcher::Event::Apply(entry("a", "x", "3")));
    assert_eq!(uid_of(&cache, "a", "x").as_deref(), Some("3"), "an update replaces the entry");
    assert_eq!(cache.len(), 2);
    writer.apply_watcher_event(watcher::Event::Delete(entry("a", "x", "4")));
    assert_eq!(uid_of(&cache, "a", "x"), None);
    assert_eq!(uid_of(&cache, "b", "x").as_deref(), Some("2"));
    writer.apply_watcher_event(watcher::Event::Delete(entry("a", "gone", "5")));
    assert_eq!(cache.len(), 1, "deleting what is not cached changes nothing");
    assert_eq!(uid_of(&cache, "b", "y"), None);
}

#[test]
fn a_relist_replaces_the_cache_whole_once_complete() {
    let (cache, mut writer) = cache::<ConfigMap>();
    writer.apply_watcher_event(watcher::Event::Apply(entry("a", "old", "1")));
    writer.apply_watcher_event(watcher::Event::Init);
    writer.apply_watcher_event(watcher::Event::InitApply(entry("a", "new", "2")));
    assert_eq!(
        uid_of(&cache, "a", "old").as_deref(),
        Some("1"),
        "the old list serves until the new one is complete"
    );
    assert_eq!(uid_of(&cache, "a", "new"), None);
    writer.apply_watcher_event(watcher::Event::InitDone);
    assert_eq!(uid_of(&cache, "a", "old"), None, "gone from the new list");
    assert_eq!(uid_of(&cache, "a", "new").as_deref(), Some("2"));
    let names: Vec<String> = cache.state().iter().map(|e| e.name().to_string()).collect();
    assert_eq!(names, ["new"]);
}

#[test]
fn many_entries_are_all_found() {
    let (cache, mut writer) = cache::<ConfigMap>();
    writer.apply_watcher_event(watcher::Event::Init);
    for i in 0..2_000 {
        writer.apply_watcher_event(watcher::Event::InitApply(entry(
            "ns",
            &format!("cm-{i}"),
            &i.to_string(),
        )));
    }
    writer.apply_watcher_event(watcher::Event::InitDone);
    assert_eq!(cache.len(), 2_000);
    for i in 0..2_000 {
        assert_eq!(uid_of(&cache, "ns", &format!("cm-{i}")), Some(i.to_string()), "cm-{i}");
    }
    for i in (0..2_000).step_by(2) {
        writer.apply_watcher_event(watcher::Event::Delete(entry("ns", &format!("cm-{i}"), "0")));
    }
    assert_eq!(cache.len(), 1_000);
    assert!((0..2_000).all(|i| uid_of(&cache, "ns", &format!("cm-{i}")).is_some() == (i % 2 == 1)));
}

#[tokio::test]
async fn ready_after_the_first_complete_list_only() {
    let (cache, mut writer) = cache::<ConfigMap>();
    let reader = writer.as_reader();
    assert!(!cache.is_ready() && !reader.is_ready());
    writer.apply_watcher_event(watcher::Event::Init);
    writer.apply_watcher_event(watcher::Event::InitApply(entry("a", "x", "1")));
    assert!(!cache.is_ready(), "a list still being gathered");
    let waiting = tokio::spawn({
        let cache = cache.clone();
        async move { cache.wait_until_ready().await }
    });
    writer.apply_watcher_event(watcher::Event::InitDone);
    waiting.await.expect("joined").expect("ready");
    assert!(cache.is_ready() && reader.is_ready());
    writer.apply_watcher_event(watcher::Event::Init);
    assert!(cache.is_ready(), "a relist does not make the cache unready");
}

#[tokio::test]
async fn a_writer_gone_before_the_first_list_is_an_error() {
    let (cache, writer) = cache::<ConfigMap>();
    drop(writer);
    assert!(cache.wait_until_ready().await.is_err());
}
