//! The operator against a real Kubernetes API server (etcd, kube-apiserver
//! and kube-controller-manager v1.33, started by [`harness`]), running as its
//! own ServiceAccount under only the RBAC that `config/rbac` declares.
//!
//! One control plane serves the whole binary; scenarios run one at a time,
//! each in namespaces of its own, in the order listed (the first one needs
//! the Prometheus Operator CRDs absent, the later ones present).
//!
//! Without the control-plane binaries every scenario is reported as ignored,
//! with the reason on stderr; under `CI=true` that is a failure instead.

mod alerting;
mod bounds;
mod chart;
mod children;
mod e2e;
mod failover;
mod gitops;
mod harness;
#[path = "../health/mod.rs"]
mod health;
mod image;
mod install;
mod kit;
mod lifecycle;
mod operator;
mod security;
mod settings;
mod stall;
mod storage;
#[path = "../support/mod.rs"]
mod support;
mod tls;

use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use harness::Cluster;
use libtest_mimic::{Arguments, Failed, Trial};

/// The runtime every scenario's async body runs on.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime")
    })
}

/// A scenario: a name and what it does with the cluster.
type Scenario = (&'static str, fn(&Cluster));

/// Every scenario, in the order they run.
fn scenarios() -> Vec<Scenario> {
    let mut all: Vec<Scenario> = Vec::new();
    all.extend(install::scenarios());
    all.extend(lifecycle::scenarios());
    all.extend(failover::scenarios());
    all.extend(gitops::scenarios());
    all.extend(bounds::scenarios());
    all.extend(security::scenarios());
    all.extend(tls::scenarios());
    all.extend(alerting::scenarios());
    all.extend(settings::scenarios());
    all.extend(storage::scenarios());
    all.extend(chart::scenarios());
    all.extend(e2e::scenarios());
    all.extend(image::scenarios());
    // Heavy (1,000 XAgents): late, so its load touches no other scenario.
    all.push((
        "bounds::per_xagent_maps_return_to_their_size_after_1000_xagents_come_and_go",
        bounds::thousand_come_and_go,
    ));
    // Last: judges every request the operator made in the scenarios above.
    all.push((
        "security::the_operator_was_never_refused_for_want_of_a_permission",
        security::never_refused_for_want_of_a_permission,
    ));
    all
}

fn main() -> ExitCode {
    let mut args = Arguments::from_args();
    // One control plane, shared: scenarios take turns (they count requests
    // and toggle cluster-wide CRDs).
    args.test_threads = Some(1);
    // Without the binaries each scenario is ignored (and says why), or under
    // CI=true fails with the reason, so the totals count it either way.
    let (cluster, missing) = match harness::find_assets() {
        Ok(assets) => (Some(Arc::new(Cluster::start(assets))), None),
        Err(harness::MissingAssets(why)) => {
            eprintln!("\n*** the real-API-server tests cannot run: {why} ***\n");
            (None, Some(why))
        }
    };
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if let Some(cluster) = &cluster {
        install::prepare(cluster);
    }
    let trials = scenarios()
        .into_iter()
        .map(|(name, run)| {
            let skipped = cluster.is_none() && !ci;
            let cluster = cluster.clone();
            let missing = missing.clone();
            let trial = Trial::test(name, move || match (&cluster, missing) {
                (Some(cluster), _) => {
                    run(cluster);
                    Ok(())
                }
                (None, why) => Err(Failed::from(format!("CI=true and {}", why.unwrap_or_default()))),
            });
            trial.with_ignored_flag(skipped)
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    // Every trial (and its clone of the cluster) is gone: this stops the processes.
    drop(cluster);
    conclusion.exit_code()
}
