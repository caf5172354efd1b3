//! ChromaDB's PersistentVolumeClaims. The StatefulSet controller makes them
//! from the claim template and then nobody changes them, so the operator
//! does two things a template cannot:
//! - a claim left by an earlier XAgent of the same name (claims are retained
//!   by default) is refused, unless the XAgent adopts it: a new XAgent never
//!   silently inherits another's data;
//! - a larger `storage.size` is written to each claim whose StorageClass
//!   allows expansion, and reported where it does not.
//!
//! Claims are read, not cached: one GET per claim (one by default) per
//! reconcile of an XAgent with ChromaDB.

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::builders::quantity::{canonical, millis};
use crate::builders::workloads::{CLAIM_OWNER_LABEL, chromadb_claim_names};
use crate::crd::XAgent;
use crate::error::{Error, Result};

/// What the claims look like, as the `StorageReady` condition reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageReport {
    /// Every claim has the requested size.
    pub ready: bool,
    /// CamelCase reason.
    pub reason: &'static str,
    /// What a person reads.
    pub message: String,
}

/// How soon claims that are growing, binding or refused are looked at
/// again: nothing watches them.
pub const RECHECK: std::time::Duration = std::time::Duration::from_secs(30);

impl StorageReport {
    /// Whether the claims are worth another look soon: on their way to the
    /// size (growing, or not bound yet), or refused, where deleting the old
    /// claim is the person's other way out and no watch would tell.
    pub fn settling(&self) -> bool {
        matches!(self.reason, EXPANDING | WAITING | REFUSED)
    }

    fn new(ready: bool, reason: &'static str, message: String) -> Self {
        Self { ready, reason, message }
    }
}

/// The claims of `xagent` in `namespace`.
fn claims(client: &Client, namespace: &str) -> Api<PersistentVolumeClaim> {
    Api::namespaced(client.clone(), namespace)
}

fn failed(action: &'static str, object: String) -> impl FnOnce(kube::Error) -> Error {
    move |source| Error::Storage { action, object, source }
}

async fn read(api: &Api<PersistentVolumeClaim>, name: &str) -> Result<Option<PersistentVolumeClaim>> {
    api.get_opt(name).await.map_err(failed("reading", format!("PersistentVolumeClaim/{name}")))
}

/// Labels claim `name` as made for the XAgent of `uid`.
async fn relabel(api: &Api<PersistentVolumeClaim>, name: &str, uid: &str) -> Result<()> {
    let patch = json!({"metadata": {"labels": {CLAIM_OWNER_LABEL: uid}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(failed("relabelling", format!("PersistentVolumeClaim/{name}")))?;
    Ok(())
}

/// Called before ChromaDB's StatefulSet is created: why it must not be,
/// if a claim it would use was made for another XAgent (or is being
/// deleted). Adopted claims are relabelled as this XAgent's.
pub async fn refusal(client: &Client, namespace: &str, uid: &str, xagent: &XAgent) -> Result<Option<String>> {
    let api = claims(client, namespace);
    for name in chromadb_claim_names(xagent) {
        let Some(claim) = read(&api, &name).await? else { continue };
        let made_for = claim.labels().get(CLAIM_OWNER_LABEL).cloned();
        if made_for.as_deref() == Some(uid) {
            continue;
        }
        if claim.metadata.deletion_timestamp.is_some() {
            return Ok(Some(format!(
                "PersistentVolumeClaim {name} is being deleted; ChromaDB starts once it is gone"
            )));
        }
        if xagent.spec.chromadb.storage.adopt_existing_claims {
            relabel(&api, &name, uid).await?;
            continue;
        }
        let whose = made_for
            .map_or_else(|| "no XAgent the operator knows".to_string(), |u| format!("XAgent uid {u}"));
        return Ok(Some(format!(
            "PersistentVolumeClaim {name} holds data of an earlier XAgent ({whose}): set \
             chromadb.storage.adoptExistingClaims: true to use it, or delete the claim to start empty"
        )));
    }
    Ok(None)
}

/// The storage of a claim: requested, and what the volume has now.
fn sizes(claim: &PersistentVolumeClaim) -> (Option<u128>, Option<u128>) {
    let requested = claim.spec.as_ref().and_then(|s| s.resources.as_ref()).and_then(|r| r.requests.as_ref());
    let capacity = claim.status.as_ref().and_then(|s| s.capacity.as_ref());
    let of = |map: Option<
        &std::collections::BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    >| { map.and_then(|m| m.get("storage")).and_then(|q| millis(&q.0)) };
    (of(requested), of(capacity))
}

/// Whether StorageClass `class` lets its volumes grow.
async fn expandable(client: &Client, class: Option<&str>) -> Result<bool> {
    let Some(class) = class else { return Ok(false) };
    let api: Api<StorageClass> = Api::all(client.clone());
    let found = api.get_opt(class).await.map_err(failed("reading", format!("StorageClass/{class}")))?;
    Ok(found.and_then(|c| c.allow_volume_expansion).unwrap_or(false))
}

/// Claims by what they need, gathered over one pass.
#[derive(Default)]
struct Tally {
    expanding: Vec<String>,
    unbound: Vec<String>,
    unsupported: Vec<String>,
    larger: Vec<String>,
}

/// Called after the StatefulSet is applied: grows every existing claim to
/// `storage.size` where its StorageClass allows, labels unlabelled claims
/// (made before claims carried the label) as this XAgent's, and reports.
pub async fn grow(client: &Client, namespace: &str, uid: &str, xagent: &XAgent) -> Result<StorageReport> {
    let size = canonical(&xagent.spec.chromadb.storage.size);
    let want = millis(&size);
    let api = claims(client, namespace);
    let mut tally = Tally::default();
    for name in chromadb_claim_names(xagent) {
        let Some(claim) = read(&api, &name).await? else { continue };
        if !claim.labels().contains_key(CLAIM_OWNER_LABEL) {
            relabel(&api, &name, uid).await?;
        }
        let (requested, capacity) = sizes(&claim);
        if requested >= want {
            if requested > want {
                tally.larger.push(name);
            } else if capacity.is_some_and(|c| Some(c) < requested) {
                tally.expanding.push(name);
            }
            continue;
        }
        let bound = claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
        let class = claim.spec.as_ref().and_then(|s| s.storage_class_name.clone());
        if !bound {
            tally.unbound.push(name);
        } else if !expandable(client, class.as_deref()).await? {
            tally.unsupported.push(format!("{name} (StorageClass {})", class.as_deref().unwrap_or("none")));
        } else {
            let patch = json!({"spec": {"resources": {"requests": {"storage": size}}}});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(failed("resizing", format!("PersistentVolumeClaim/{name}")))?;
            tally.expanding.push(name);
        }
    }
    Ok(report(&size, tally))
}

fn report(size: &str, tally: Tally) -> StorageReport {
    if !tally.unsupported.is_empty() {
        let message = format!(
            "cannot grow to {size}: {} does not allow volume expansion (allowVolumeExpansion); the claims keep \
             their size and ChromaDB keeps running on them",
            tally.unsupported.join(", ")
        );
        return StorageReport::new(false, "ExpansionNotSupported", message);
    }
    if !tally.unbound.is_empty() {
        let message =
            format!("{} not bound to a volume yet: grown to {size} once bound", tally.unbound.join(", "));
        return StorageReport::new(false, WAITING, message);
    }
    if !tally.expanding.is_empty() {
        let message = format!("growing {} to {size}", tally.expanding.join(", "));
        return StorageReport::new(false, EXPANDING, message);
    }
    let message = if tally.larger.is_empty() {
        format!("every claim requests {size}")
    } else {
        format!("{} larger than {size}: volumes do not shrink", tally.larger.join(", "))
    };
    StorageReport::new(true, SIZED, message)
}

/// The last report, when it said Sized for the XAgent's current generation:
/// nobody but the operator resizes claims, so until the spec changes there
/// is nothing to read again (and a steady state sends no request at all).
pub fn still_sized(xagent: &XAgent) -> Option<StorageReport> {
    let conditions = xagent.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    let last = conditions.iter().find(|c| c.type_ == super::status::types::STORAGE_READY)?;
    let current = last.status == "True" && last.observed_generation == xagent.metadata.generation;
    current.then(|| StorageReport::new(true, SIZED, last.message.clone()))
}

/// The reason of a StorageReady that is True.
const SIZED: &str = "Sized";
/// Claims asked to grow, their volumes not there yet.
const EXPANDING: &str = "Expanding";
/// Claims to grow that have no volume yet.
const WAITING: &str = "WaitingForVolume";
/// A claim of an earlier XAgent holds ChromaDB back.
const REFUSED: &str = "PreviousClaimsFound";

/// The report when ChromaDB was not started because of `why` (see [`refusal`]).
pub fn refused(why: String) -> StorageReport {
    StorageReport::new(false, REFUSED, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_that_cannot_grow_outranks_one_that_is_growing() {
        let tally = Tally {
            expanding: vec!["data-a-chromadb-0".into()],
            unsupported: vec!["data-a-chromadb-1 (StorageClass standard)".into()],
            ..Tally::default()
        };
        let r = report("20Gi", tally);
        assert_eq!((r.ready, r.reason), (false, "ExpansionNotSupported"));
        assert!(r.message.contains("data-a-chromadb-1 (StorageClass standard)"), "{}", r.message);
    }

    #[test]
    fn claims_at_the_size_or_larger_are_sized() {
        assert_eq!(report("10Gi", Tally::default()).reason, "Sized");
        let r = report("10Gi", Tally { larger: vec!["data-a-chromadb-0".into()], ..Tally::default() });
        assert_eq!((r.ready, r.reason), (true, "Sized"));
        assert!(r.message.contains("volumes do not shrink"), "{}", r.message);
        let r = report("10Gi", Tally { unbound: vec!["data-a-chromadb-0".into()], ..Tally::default() });
        assert_eq!((r.ready, r.reason), (false, "WaitingForVolume"));
    }
}
