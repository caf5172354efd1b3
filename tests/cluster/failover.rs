//! Operators that die: leader election between two replicas, and `kill -9`
//! in the middle of creating 50 XAgents.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use serde_json::json;

use crate::children::{self, default_set};
use crate::harness::{Cluster, OPERATOR_USER, User};
use crate::install::install_monitoring_crds;
use crate::kit::{self, eventually};
use crate::operator::Operator;
use crate::runtime;

/// The scenarios of this module.
pub fn scenarios() -> Vec<crate::Scenario> {
    vec![
        ("failover::only_the_leader_writes_and_a_follower_takes_over", leader_election),
        ("failover::kill_9_while_creating_50_xagents_then_restart_converges", crash_mid_create),
    ]
}

/// Lease duration of the operator's leader election, in seconds.
const LEASE_SECONDS: u64 = 15;

async fn holder(admin: &kube::Client, lease: &str) -> Option<String> {
    let api: Api<Lease> = Api::namespaced(admin.clone(), "xagent-system");
    api.get_opt(lease).await.ok()??.spec?.holder_identity
}

fn elected(cluster: &Cluster, user: User, ns: &str, identity: &str) -> Operator {
    let args = [
        "--leader-election",
        "--lease-namespace",
        "xagent-system",
        "--lease-name",
        "failover-test",
        "--identity",
        identity,
    ];
    Operator::start(cluster, user, ns, &args)
}

fn leader_election(cluster: &Cluster) {
    install_monitoring_crds(cluster);
    runtime().block_on(async {
        let ns = "leader";
        let admin = cluster.client(User::Admin).await;
        kit::namespace(&admin, ns).await;
        let mut a = elected(cluster, User::Operator, ns, "replica-a");
        eventually("replica-a holds the Lease", Duration::from_secs(30), || async {
            (holder(&admin, "failover-test").await.as_deref() == Some("replica-a")).then_some(())
        })
        .await;
        let b = elected(cluster, User::OperatorB, ns, "replica-b");
        kit::apply_xagent(&admin, ns, "first", json!({})).await;
        kit::wait_condition(&admin, ns, "first", "Degraded", "False").await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let by = |uid: &str| {
            cluster
                .audit()
                .into_iter()
                .filter(|e| e.username == OPERATOR_USER && e.user_uid == uid && e.namespace == ns && e.is_mutating())
                .count()
        };
        assert!(by(User::Operator.uid()) > 0, "the leader wrote nothing");
        assert_eq!(by(User::OperatorB.uid()), 0, "the follower wrote to the watched namespace");
        // What XAgentOperatorLeaderMissing sums: one leader, one standby.
        assert_eq!(a.metric_sum("xagent_operator_leader", ""), 1.0, "the leader reports itself");
        assert_eq!(b.metric_sum("xagent_operator_leader", ""), 0.0, "the follower stands by");

        a.kill9();
        let killed = Instant::now();
        kit::apply_xagent(&admin, ns, "second", json!({})).await;
        let objects = eventually("second reconciled by replica-b", Duration::from_secs(LEASE_SECONDS + 30), || async {
            let objects = children::of(&admin, ns, "second").await;
            (children::references(&objects) == default_set("second")).then_some(objects)
        })
        .await
        .0;
        let took = killed.elapsed();
        assert!(!objects.is_empty());
        kit::wait_condition(&admin, ns, "second", "Degraded", "False").await;
        assert_eq!(holder(&admin, "failover-test").await.as_deref(), Some("replica-b"));
        assert_eq!(b.metric_sum("xagent_operator_leader", ""), 1.0, "the new leader reports itself");
        assert!(by(User::OperatorB.uid()) > 0, "the new leader wrote nothing");
        eprintln!("after kill -9 of the leader, replica-b reconciled a new XAgent in {took:?} (lease {LEASE_SECONDS} s)");
        assert!(took < Duration::from_secs(LEASE_SECONDS + 10), "takeover took {took:?}");
    });
}

const CRASH_XAGENTS: usize = 50;

fn crash_mid_create(cluster: &Cluster) {
    install_monitoring_crds(cluster);
    runtime().block_on(async {
        let ns = "crash";
        let admin = cluster.client(User::Admin).await;
        kit::namespace(&admin, ns).await;
        let mut first = Operator::start(cluster, User::Operator, ns, &[]);
        let names: Vec<String> = (0..CRASH_XAGENTS).map(|i| format!("agent-{i:02}")).collect();
        for name in &names {
            kit::apply_xagent(&admin, ns, name, json!({})).await;
        }
        // Kill it while it is still creating children.
        let (created, _) = eventually("the operator halfway", Duration::from_secs(60), || async {
            let n = children::of_namespace(&admin, ns).await.len();
            (n > 20).then_some(n)
        })
        .await;
        first.kill9();
        let total = CRASH_XAGENTS * default_set("x").len();
        assert!(created < total, "the operator finished before it was killed ({created} children)");
        eprintln!("killed with {created} of {total} children created");
        let started = Instant::now();
        let second = Operator::start(cluster, User::Operator, ns, &[]);
        let (objects, took) = eventually("all 50 XAgents converged", Duration::from_secs(240), || async {
            let objects = children::of_namespace(&admin, ns).await;
            (objects.len() >= total).then_some(objects)
        })
        .await;
        let mut refs = children::references(&objects);
        let count = refs.len();
        refs.dedup();
        assert_eq!(refs.len(), count, "duplicate children");
        assert_eq!(count, total, "children: {count}");
        for name in &names {
            kit::wait_condition(&admin, ns, name, "Degraded", "False").await;
        }
        let errors = second.metric_sum("xagent_reconcile_errors_total", "");
        assert_eq!(errors, 0.0, "reconcile errors after the restart:\n{}", second.log_tail());
        eprintln!(
            "restart converged {total} children of {CRASH_XAGENTS} XAgents in {took:?} ({:?} total)",
            started.elapsed()
        );
    });
}
