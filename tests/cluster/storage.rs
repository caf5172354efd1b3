//! ChromaDB's data on the real API server. No volume provisioner runs here,
//! so the tests bind claims the way one would: by writing their status. A
//! larger `storage.size` must reach the claim where its StorageClass allows
//! expansion (the StatefulSet recreated around its running pod, whose
//! volumeClaimTemplates are immutable), and be reported where it does not;
//! claims left by an earlier XAgent of the same name must be refused until
//! the new XAgent adopts them.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use xagent_operator::crd::XAgent;

use crate::harness::{Cluster, User};
use crate::kit::{self, eventually};
use crate::operator::Operator;
use crate::runtime;

/// The scenarios of this module.
pub fn scenarios() -> Vec<crate::Scenario> {
    vec![
        ("storage::a_larger_size_grows_the_claim_in_place_or_says_why_not", grow),
        ("storage::claims_of_an_earlier_xagent_are_refused_until_adopted", adoption),
    ]
}

const WAIT: Duration = Duration::from_secs(60);

/// A StorageClass `name` whose volumes may grow or not.
async fn storage_class(admin: &Client, name: &str, expandable: bool) {
    let class: StorageClass = serde_json::from_value(json!({
        "metadata": {"name": name},
        "provisioner": "example.com/none",
        "allowVolumeExpansion": expandable,
    }))
    .unwrap();
    Api::<StorageClass>::all(admin.clone())
        .create(&PostParams::default(), &class)
        .await
        .unwrap_or_else(|e| panic!("StorageClass {name}: {e}"));
}

fn chromadb(size: &str, class: &str, adopt: bool) -> Value {
    json!({"chromadb": {"enabled": true, "storage": {"size": size, "storageClassName": class, "adoptExistingClaims": adopt}}})
}

/// Waits for claim `name`, made by the StatefulSet controller.
async fn claim(admin: &Client, ns: &str, name: &str) -> PersistentVolumeClaim {
    let api: Api<PersistentVolumeClaim> = Api::namespaced(admin.clone(), ns);
    eventually(&format!("PersistentVolumeClaim {ns}/{name}"), WAIT, || async {
        api.get_opt(name).await.ok()?
    })
    .await
    .0
}

/// Binds claim `name` with a volume of `capacity`, as a provisioner would.
async fn bind(admin: &Client, ns: &str, name: &str, capacity: &str) {
    let api: Api<PersistentVolumeClaim> = Api::namespaced(admin.clone(), ns);
    let status = json!({"status": {"phase": "Bound", "capacity": {"storage": capacity}, "accessModes": ["ReadWriteOnce"]}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap_or_else(|e| panic!("binding {name}: {e}"));
}

/// The storage a claim requests.
fn requested(claim: &PersistentVolumeClaim) -> String {
    claim.spec.as_ref().unwrap().resources.as_ref().unwrap().requests.as_ref().unwrap()["storage"].0.clone()
}

/// Waits until StorageReady of `name` has `status` and `reason`.
async fn storage_ready(admin: &Client, ns: &str, name: &str, status: &str, reason: &str) -> XAgent {
    let what = format!("StorageReady {status} {reason} on {ns}/{name}");
    let api = kit::xagents(admin, ns);
    eventually(&what, WAIT, || async {
        let xagent = api.get(name).await.ok()?;
        let c = kit::condition(&xagent, "StorageReady")?;
        (c["status"] == status && c["reason"] == reason).then_some(xagent)
    })
    .await
    .0
}

/// Touches the XAgent's metadata: a watch event, so a reconcile, without a new generation.
async fn nudge(admin: &Client, ns: &str, name: &str, n: u32) {
    let patch = json!({"metadata": {"annotations": {"test.xagent.io/nudge": n.to_string()}}});
    kit::xagents(admin, ns)
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("nudging");
}

fn grow(cluster: &Cluster) {
    runtime().block_on(async {
        let admin = cluster.client(User::Admin).await;
        let ns = "storage";
        kit::namespace(&admin, ns).await;
        storage_class(&admin, "expandable", true).await;
        storage_class(&admin, "fixed", false).await;
        let _operator = Operator::start(cluster, User::Operator, ns, &[]);
        let statefulsets: Api<StatefulSet> = Api::namespaced(admin.clone(), ns);
        let pods: Api<Pod> = Api::namespaced(admin.clone(), ns);

        let xagent = kit::apply_xagent(&admin, ns, "grows", chromadb("1Gi", "expandable", false)).await;
        let data = claim(&admin, ns, "data-grows-chromadb-0").await;
        assert_eq!(data.labels().get("xagent.io/owner-uid"), xagent.uid().as_ref(), "made for this XAgent");
        bind(&admin, ns, "data-grows-chromadb-0", "1Gi").await;
        storage_ready(&admin, ns, "grows", "True", "Sized").await;
        let sts = statefulsets.get("grows-chromadb").await.unwrap();
        let pod =
            eventually("ChromaDB's pod", WAIT, || async { pods.get_opt("grows-chromadb-0").await.ok()? })
                .await
                .0;

        kit::apply_xagent(&admin, ns, "grows", chromadb("2Gi", "expandable", false)).await;
        let xagent = storage_ready(&admin, ns, "grows", "False", "Expanding").await;
        let message = kit::condition(&xagent, "StorageReady").unwrap()["message"].clone();
        assert_eq!(requested(&claim(&admin, ns, "data-grows-chromadb-0").await), "2Gi", "{message}");
        let (recreated, took) = eventually("the StatefulSet with a 2Gi template", WAIT, || async {
            let now = statefulsets.get_opt("grows-chromadb").await.ok()??;
            let template = &now.spec.as_ref()?.volume_claim_templates.as_ref()?[0];
            let size = template.spec.as_ref()?.resources.as_ref()?.requests.as_ref()?["storage"].0.clone();
            (size == "2Gi").then_some(now)
        })
        .await;
        assert_ne!(recreated.uid(), sts.uid(), "volumeClaimTemplates are immutable: the StatefulSet is new");
        let still = pods.get("grows-chromadb-0").await.expect("ChromaDB's pod");
        assert_eq!(still.uid(), pod.uid(), "the running pod was left alone and adopted");
        eprintln!("claim asked for 2Gi, StatefulSet recreated around its pod {took:?} after: {message}");

        bind(&admin, ns, "data-grows-chromadb-0", "2Gi").await;
        nudge(&admin, ns, "grows", 1).await;
        storage_ready(&admin, ns, "grows", "True", "Sized").await;

        kit::apply_xagent(&admin, ns, "fixed", chromadb("1Gi", "fixed", false)).await;
        claim(&admin, ns, "data-fixed-chromadb-0").await;
        bind(&admin, ns, "data-fixed-chromadb-0", "1Gi").await;
        kit::apply_xagent(&admin, ns, "fixed", chromadb("2Gi", "fixed", false)).await;
        let xagent = storage_ready(&admin, ns, "fixed", "False", "ExpansionNotSupported").await;
        let message = kit::condition(&xagent, "StorageReady").unwrap()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(message.contains("data-fixed-chromadb-0 (StorageClass fixed)"), "{message}");
        assert_eq!(requested(&claim(&admin, ns, "data-fixed-chromadb-0").await), "1Gi", "left as it was");
        assert!(
            !kit::has_condition(&xagent, "Stalled", "True"),
            "ChromaDB keeps running on the volume it has"
        );
    });
}

fn adoption(cluster: &Cluster) {
    runtime().block_on(async {
        let admin = cluster.client(User::Admin).await;
        let ns = "adopt";
        kit::namespace(&admin, ns).await;
        let _operator = Operator::start(cluster, User::Operator, ns, &[]);
        let statefulsets: Api<StatefulSet> = Api::namespaced(admin.clone(), ns);
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(admin.clone(), ns);

        let first = kit::apply_xagent(&admin, ns, "keep", chromadb("1Gi", "standard", false)).await;
        claim(&admin, ns, "data-keep-chromadb-0").await;
        kit::xagents(&admin, ns)
            .delete("keep", &DeleteParams::background())
            .await
            .expect("deleting the XAgent");
        eventually("the StatefulSet collected with its XAgent", WAIT, || async {
            statefulsets.get_opt("keep-chromadb").await.ok()?.is_none().then_some(())
        })
        .await;
        let left = claims.get("data-keep-chromadb-0").await.expect("the claim is retained");
        assert_eq!(left.labels().get("xagent.io/owner-uid"), first.uid().as_ref());

        let second = kit::apply_xagent(&admin, ns, "keep", chromadb("1Gi", "standard", false)).await;
        assert_ne!(second.uid(), first.uid());
        let xagent = storage_ready(&admin, ns, "keep", "False", "PreviousClaimsFound").await;
        assert!(kit::has_condition(&xagent, "Stalled", "True"), "a person must choose: adopt or delete");
        assert!(
            statefulsets.get_opt("keep-chromadb").await.unwrap().is_none(),
            "ChromaDB was not started on it"
        );
        let message = kit::condition(&xagent, "StorageReady").unwrap()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(message.contains("adoptExistingClaims"), "{message}");

        kit::apply_xagent(&admin, ns, "keep", chromadb("1Gi", "standard", true)).await;
        eventually("the StatefulSet on the adopted claim", WAIT, || async {
            statefulsets.get_opt("keep-chromadb").await.ok()?.map(|_| ())
        })
        .await;
        let adopted = claims.get("data-keep-chromadb-0").await.unwrap();
        assert_eq!(adopted.labels().get("xagent.io/owner-uid"), second.uid().as_ref(), "now this XAgent's");
        assert_eq!(adopted.uid(), left.uid(), "the same claim, and so the same data");
        eprintln!("the earlier XAgent's claim was refused, then adopted when asked");
    });
}
