//! The operator run from its container image: `scripts/image.sh` builds it,
//! umoci unpacks it, and the static binary runs under `chroot` as the
//! image's numeric user against the real API server, with only the RBAC of
//! `config/rbac`. What the image holds is checked by `tests/image.rs`.

use std::time::{Duration, Instant};

use kube::ResourceExt;
use serde_json::json;

use crate::children::{self, default_set};
use crate::harness::{Cluster, User};
use crate::install::install_monitoring_crds;
use crate::kit::{self, PodReadier, eventually};
use crate::operator::Operator;
use crate::runtime;
use crate::support::image;

/// The scenarios of this module.
pub fn scenarios() -> Vec<crate::Scenario> {
    vec![("image::the_operator_runs_from_its_image_against_the_real_server", runs_from_image)]
}

fn runs_from_image(cluster: &Cluster) {
    let image = image::build();
    runtime().block_on(async {
        let ns = "image";
        install_monitoring_crds(cluster);
        let admin = cluster.client(User::Admin).await;
        kit::namespace(&admin, ns).await;
        let operator = Operator::start_from_image(cluster, User::Operator, ns, &image);
        let started = Instant::now();
        let xa = kit::apply_xagent(&admin, ns, "boxed", json!({})).await;
        let expected = default_set("boxed");
        let (objects, _) =
            eventually("the image's operator creates every child", Duration::from_secs(60), || async {
                let objects = children::of(&admin, ns, "boxed").await;
                (children::references(&objects) == expected).then_some(objects)
            })
            .await;
        eprintln!(
            "{} children created by the operator in the image in {:?}",
            objects.len(),
            started.elapsed()
        );
        for (kind, obj) in &objects {
            assert_eq!(children::controller_uid(obj), xa.uid(), "{kind} owner");
        }
        let _pods = PodReadier::start(&admin, ns);
        let ready = kit::wait_condition(&admin, ns, "boxed", "Ready", "True").await;
        assert_eq!(ready.status.as_ref().map(|s| s.observed_generation), Some(Some(1)));
        assert_eq!(operator.metric_sum("xagent_reconcile_errors_total", ""), 0.0, "{}", operator.log_tail());
    });
}
