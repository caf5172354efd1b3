use k8s_openapi::api::core::v1::Service;
use serde_json::{Value, json};

use super::Entry;
use crate::controller::diff::contains;

fn service(metadata: Value) -> Service {
    serde_json::from_value(json!({"metadata": metadata})).expect("a Service")
}

fn cached() -> Value {
    json!({
        "name": "demo-api", "namespace": "team", "uid": "u1", "resourceVersion": "7",
        "labels": {"app.kubernetes.io/name": "xagent", "app.kubernetes.io/component": "api", "n": "1"},
        "annotations": {"xagent.io/applied": "00ff"},
        "ownerReferences": [{"apiVersion": "xagent.io/v1alpha1", "kind": "XAgent", "name": "demo",
                             "uid": "owner-1", "controller": true, "blockOwnerDeletion": true}],
    })
}

/// Desired metadata, each judged by the entry exactly as `contains` judges it
/// against the whole cached metadata.
fn desired_cases() -> Vec<Value> {
    let owner = json!({"apiVersion": "xagent.io/v1alpha1", "kind": "XAgent", "name": "demo",
                       "uid": "owner-1", "controller": true, "blockOwnerDeletion": true});
    vec![
        json!({"name": "demo-api", "namespace": "team"}),
        json!({"labels": {"app.kubernetes.io/name": "xagent"}}),
        json!({"labels": {"app.kubernetes.io/name": "other"}}),
        json!({"labels": {"missing": "x"}}),
        json!({"labels": {"n": "1"}}),
        json!({"labels": {"n": 1}}),
        json!({"labels": {}}),
        json!({"labels": null}),
        json!({"labels": {"n": null}}),
        json!({"annotations": {"xagent.io/applied": "00ff"}}),
        json!({"annotations": {"xagent.io/applied": "00fe"}}),
        json!({"ownerReferences": [owner.clone()]}),
        json!({"ownerReferences": [{"uid": "owner-1"}]}),
        json!({"ownerReferences": [{"uid": "owner-2"}]}),
        json!({"ownerReferences": [owner.clone(), owner]}),
        json!({"ownerReferences": []}),
        json!({"ownerReferences": [{"controller": false}]}),
        json!({"name": "demo-api", "labels": {"app.kubernetes.io/component": "api"},
               "annotations": {"xagent.io/applied": "00ff"}, "ownerReferences": [{"uid": "owner-1", "controller": true}]}),
    ]
}

/// Whether every owner reference of `desired` sets all six fields, as the
/// builders' always do.
fn whole_references(desired: &Value) -> bool {
    let fields = ["apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion"];
    let references = desired.get("ownerReferences").and_then(Value::as_array).into_iter().flatten();
    references.into_iter().all(|r| fields.iter().all(|f| r.get(f).is_some_and(|v| !v.is_null())))
}

#[test]
fn holds_judges_metadata_as_contains_does() {
    let entry = Entry::of(&service(cached()), None);
    let mut partial = 0;
    for desired in desired_cases() {
        let contained = contains(&cached(), &desired);
        if whole_references(&desired) {
            assert_eq!(entry.holds(&desired), contained, "desired {desired}");
        } else {
            // A reference is compared whole: part of one is never taken as held.
            assert!(!entry.holds(&desired), "desired {desired}");
            partial += usize::from(contained);
        }
    }
    assert_eq!(partial, 2, "the cases where only a partial reference tells the two apart");
}

#[test]
fn an_owner_reference_is_kept_as_one_leaf() {
    let entry = Entry::of(&service(cached()), None);
    // Three labels and their map, one annotation and its map, the list's
    // length and the one reference; the two maps and the length as bits.
    assert_eq!(kept_leaves(&entry).len(), 4 + 2 + 2);
    assert_eq!((entry.metadata.len(), entry.common), (3 + 1 + 1, 0b111));
    let mut changed = cached();
    changed["ownerReferences"][0]["blockOwnerDeletion"] = false.into();
    let desired = json!({"ownerReferences": cached()["ownerReferences"].clone()});
    assert!(entry.holds(&desired));
    assert!(!Entry::of(&service(changed), None).holds(&desired));
}

#[test]
fn a_cache_without_labels_holds_no_desired_label() {
    let mut bare = cached();
    bare.as_object_mut().unwrap().remove("labels");
    let entry = Entry::of(&service(bare.clone()), None);
    for desired in [json!({"labels": {}}), json!({"labels": {"n": "1"}})] {
        assert!(!entry.holds(&desired), "{desired}");
        assert!(!contains(&bare, &desired), "{desired}");
    }
}

#[test]
fn fields_the_entry_does_not_keep_are_never_taken_as_held() {
    let entry = Entry::of(&service(cached()), None);
    assert!(!entry.holds(&json!({"finalizers": ["x"]})), "unknown: read the object instead");
    assert!(entry.holds(&json!({"finalizers": null})), "null means unset");
    assert!(!entry.holds(&json!("not an object")));
}

#[test]
fn keys_and_values_cannot_be_shifted_into_one_another() {
    let entry = Entry::of(&service(json!({"name": "a", "labels": {"ab": "c"}})), None);
    assert!(entry.holds(&json!({"labels": {"ab": "c"}})));
    assert!(!entry.holds(&json!({"labels": {"a": "bc"}})));
}

#[test]
fn only_a_new_resource_version_is_no_difference() {
    let entry = |rv: &str, label: &str| {
        let mut meta = cached();
        meta["resourceVersion"] = rv.into();
        meta["generation"] = 1.into();
        meta["labels"]["n"] = label.into();
        Entry::of(&service(meta), None)
    };
    assert!(!entry("7", "1").differs_from(&entry("8", "1")), "the generation vouches for the spec");
    assert!(entry("7", "1").differs_from(&entry("7", "2")));
    assert!(entry("7", "1").controlled_by("owner-1"));
    assert!(!entry("7", "1").controlled_by("owner-2"));
}

#[test]
fn the_name_and_namespace_come_back_apart_from_their_one_key() {
    let of = |metadata: Value| Entry::of(&service(metadata), None);
    let namespaced = of(json!({"name": "demo-api", "namespace": "team"}));
    assert_eq!((namespaced.namespace(), namespaced.name()), (Some("team"), "demo-api"));
    let cluster = of(json!({"name": "demo-api"}));
    assert_eq!((cluster.namespace(), cluster.name()), (None, "demo-api"));
    let empty = of(json!({"name": "demo-api", "namespace": ""}));
    assert_eq!((empty.namespace(), empty.name()), (Some(""), "demo-api"));
    // The same text split elsewhere is another object.
    let shifted = of(json!({"name": "mo-api", "namespace": "teamde"}));
    assert!(shifted.differs_from(&namespaced));
    assert_eq!((shifted.namespace(), shifted.name()), (Some("teamde"), "mo-api"));
}

#[test]
fn an_entry_and_its_counts_fill_one_128_byte_block() {
    // An `Arc<Entry>` per cached child (13,000 at 1,000 XAgents) holds two
    // counts before the entry; 128 bytes is one of the allocator's block sizes,
    // the next one up is 160.
    assert!(std::mem::size_of::<Entry<Service>>() + 2 * std::mem::size_of::<usize>() <= 128);
}

/// Every leaf digest `entry` keeps, the common ones (kept as bits) included, sorted.
fn kept_leaves(entry: &Entry<Service>) -> Vec<u64> {
    let common = super::COMMON.iter().enumerate().filter(|(i, _)| entry.common & (1 << i) != 0);
    let mut all: Vec<u64> = entry.metadata.iter().copied().chain(common.map(|(_, &c)| c)).collect();
    all.sort_unstable();
    all
}

#[test]
fn the_common_leaves_are_bits_that_judge_as_digests_would() {
    let two_owners = json!({"ownerReferences": [{"uid": "a"}, {"uid": "b"}], "labels": {}});
    let entry = Entry::of(&service(two_owners), None);
    // Labels but no annotations; two references are no common leaf.
    assert_eq!(entry.common, 0b001);
    assert!(entry.holds(&json!({"labels": {}})));
    assert!(!entry.holds(&json!({"annotations": {}})));
    assert!(!entry.holds(&json!({"ownerReferences": [{"uid": "a"}]})));
}

/// What `Entry::of` kept of metadata before it read the typed fields: the
/// leaves of the compared fields' JSON.
fn json_leaves(metadata: &Value) -> Vec<u64> {
    let mut out = Vec::new();
    for field in super::COMPARED {
        if let Some(value) = metadata.get(field).filter(|v| !v.is_null()) {
            super::field_leaves(field, value, &mut out);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[test]
fn the_typed_metadata_leaves_are_those_of_its_json() {
    let mut cases = desired_cases();
    cases.push(cached());
    cases.push(json!({"labels": {}, "annotations": {}, "ownerReferences": [{"apiVersion": "v1", "kind": "K", "name": "n", "uid": "u"}]}));
    let mut compared = 0;
    for metadata in cases {
        // Only metadata that is valid as typed metadata (no numbers for strings).
        let Ok(service) = serde_json::from_value::<Service>(json!({"metadata": metadata})) else { continue };
        let typed = serde_json::to_value(&service.metadata).expect("serializes");
        assert_eq!(kept_leaves(&Entry::of(&service, None)), json_leaves(&typed), "{typed}");
        compared += 1;
    }
    assert!(compared >= 15, "{compared}");
}

#[test]
fn the_version_digest_is_that_of_the_version_text() {
    let mut object = service(cached());
    for generation in [None, Some(0), Some(7), Some(-3), Some(i64::MAX), Some(i64::MIN)] {
        object.metadata.generation = generation;
        let text = crate::controller::apply::version(&object);
        assert_eq!(Entry::of(&object, None).version(), super::digest_of_version(&text), "{text}");
    }
}
