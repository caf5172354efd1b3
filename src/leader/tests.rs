//! Leader election against kube's mock API service: the exact requests, and
//! who leads after each.

use std::sync::Arc;

use http::Method;
use serde_json::{Value, json};

use super::*;
use crate::mock_api;

const LEASE_PATH: &str = "/apis/coordination.k8s.io/v1/namespaces/ops/leases/xagent-operator";

fn config(identity: &str) -> LeaseConfig {
    LeaseConfig::new("ops".into(), "xagent-operator".into(), identity.into())
}

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + secs).unwrap()
}

fn lease(holder: &str, renewed: i64, transitions: i32) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "xagent-operator", "namespace": "ops", "resourceVersion": "7"},
        "spec": {
            "holderIdentity": holder, "leaseDurationSeconds": 15,
            "acquireTime": MicroTime(at(0)), "renewTime": MicroTime(at(renewed)),
            "leaseTransitions": transitions
        }
    })
}

fn status(code: u16) -> Value {
    let reason = match code {
        404 => "NotFound",
        409 => "Conflict",
        _ => "InternalError",
    };
    mock_api::status(code, reason)
}

/// Serves the stored lease (or 404), answers writes with `write_status`, and records every request.
async fn elect(
    identity: &str,
    stored: Option<Value>,
    write_status: u16,
    now: Timestamp,
) -> (Result<Role, LeaseError>, Vec<mock_api::Recorded>) {
    let (client, server) = mock_api::serve("ops", move |r| match (&r.method, &stored) {
        (&Method::GET, Some(l)) => (200, l.clone()),
        (&Method::GET, None) => (404, status(404)),
        _ if write_status == 200 => (200, r.body.clone()),
        _ => (write_status, status(write_status)),
    });
    let elector = LeaderElector::new(client, config(identity));
    let role = elector.try_acquire(now).await;
    drop(elector);
    (role, server.await.unwrap())
}

fn lines(requests: &[mock_api::Recorded]) -> Vec<String> {
    requests.iter().map(mock_api::Recorded::line).collect()
}

#[tokio::test]
async fn absent_lease_is_created_and_held() {
    let (role, requests) = elect("pod-a", None, 200, at(5)).await;
    assert_eq!(role.unwrap(), Role::Leader);
    assert_eq!(
        lines(&requests),
        vec![
            format!("GET {LEASE_PATH}"),
            "POST /apis/coordination.k8s.io/v1/namespaces/ops/leases?".to_string()
        ]
    );
    let spec = &requests[1].body["spec"];
    assert_eq!(spec["holderIdentity"], "pod-a");
    assert_eq!(spec["leaseDurationSeconds"], 15);
    assert_eq!(spec["leaseTransitions"], 0);
}

#[tokio::test]
async fn a_fresh_lease_of_another_replica_is_left_alone() {
    let (role, requests) = elect("pod-b", Some(lease("pod-a", 0, 0)), 200, at(10)).await;
    assert_eq!(role.unwrap(), Role::Follower);
    assert_eq!(lines(&requests), vec![format!("GET {LEASE_PATH}")], "a follower writes nothing");
}

#[tokio::test]
async fn the_holder_renews_and_keeps_its_acquire_time() {
    let (role, requests) = elect("pod-a", Some(lease("pod-a", 3, 1)), 200, at(8)).await;
    assert_eq!(role.unwrap(), Role::Leader);
    let spec = &requests[1].body["spec"];
    assert_eq!(spec["renewTime"], json!(MicroTime(at(8))));
    assert_eq!(spec["acquireTime"], json!(MicroTime(at(0))));
    assert_eq!(spec["leaseTransitions"], 1, "renewing is not a transition");
}

#[tokio::test]
async fn api_errors_are_typed_not_leadership() {
    let (role, _) = elect("pod-a", Some(lease("pod-a", 3, 1)), 500, at(8)).await;
    let err = role.unwrap_err();
    assert_eq!((err.namespace.as_str(), err.name.as_str()), ("ops", "xagent-operator"));
}

/// A leader whose renewals keep failing gives up before a follower could take over.
#[tokio::test(start_paused = true)]
async fn a_leader_that_cannot_renew_stops_before_the_lease_expires() {
    let (client, _requests) = mock_api::serve("ops", |_| (500, status(500)));
    let elector = LeaderElector::new(client, config("pod-a"));
    let started = tokio::time::Instant::now();
    elector.keep().await;
    let held = started.elapsed();
    assert!(held >= Duration::from_secs(10), "kept trying for the renew deadline: {held:?}");
    assert!(held < Duration::from_secs(15), "stopped before the 15 s lease could expire: {held:?}");
}

/// A long-lived follower facing a mock API: the stored Lease changes only when
/// the test says so; writes answer `write_status` and are recorded.
struct Session {
    elector: LeaderElector,
    stored: Arc<std::sync::Mutex<Value>>,
    writes: Arc<std::sync::Mutex<Vec<Value>>>,
}

fn session(identity: &str, stored: Value, write_status: u16) -> Session {
    let stored = Arc::new(std::sync::Mutex::new(stored));
    let writes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (lease, log) = (stored.clone(), writes.clone());
    let (client, _requests) = mock_api::serve("ops", move |r| {
        if r.method == Method::GET {
            return (200, lease.lock().unwrap().clone());
        }
        log.lock().unwrap().push(r.body.clone());
        if write_status == 200 { (200, r.body.clone()) } else { (write_status, status(write_status)) }
    });
    Session { elector: LeaderElector::new(client, config(identity)), stored, writes }
}

#[tokio::test(start_paused = true)]
async fn a_follower_takes_over_only_after_a_whole_lease_without_renewal() {
    let s = session("pod-b", lease("pod-a", 0, 2), 200);
    let mut roles = Vec::new();
    for _ in 0..4 {
        roles.push(s.elector.try_acquire(at(1000)).await.unwrap());
        tokio::time::advance(Duration::from_secs(5)).await;
    }
    // Seen at 0 s, unchanged at 5 and 10 s, stale at 15 s.
    assert_eq!(roles, [Role::Follower, Role::Follower, Role::Follower, Role::Leader]);
    let writes = s.writes.lock().unwrap();
    assert_eq!(writes.len(), 1, "followers write nothing");
    assert_eq!(writes[0]["metadata"]["resourceVersion"], "7", "the takeover is conditional");
    assert_eq!(writes[0]["spec"]["holderIdentity"], "pod-b");
    assert_eq!(writes[0]["spec"]["leaseTransitions"], 3);
    assert_eq!(writes[0]["spec"]["acquireTime"], json!(MicroTime(at(1000))));
}

#[tokio::test(start_paused = true)]
async fn a_renewing_leader_keeps_the_lease_whatever_the_clocks_say() {
    let s = session("pod-b", lease("pod-a", 0, 0), 200);
    for renewal in 1..=6 {
        // The leader's clock may be far behind ours: only the change counts.
        assert_eq!(s.elector.try_acquire(at(100_000)).await.unwrap(), Role::Follower);
        tokio::time::advance(Duration::from_secs(5)).await;
        *s.stored.lock().unwrap() = lease("pod-a", renewal, 0);
    }
    assert!(s.writes.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn losing_the_race_for_a_stale_lease_leaves_a_follower() {
    let s = session("pod-b", lease("pod-a", 0, 2), 409);
    assert_eq!(s.elector.try_acquire(at(0)).await.unwrap(), Role::Follower);
    tokio::time::advance(Duration::from_secs(16)).await;
    assert_eq!(s.elector.try_acquire(at(16)).await.unwrap(), Role::Follower);
    assert_eq!(s.writes.lock().unwrap().len(), 1, "it tried, and lost");
}

#[tokio::test]
async fn a_released_lease_is_taken_at_once() {
    let mut released_lease = lease("pod-a", 0, 1);
    released_lease["spec"]["holderIdentity"] = Value::Null;
    let s = session("pod-b", released_lease, 200);
    assert_eq!(s.elector.try_acquire(at(1)).await.unwrap(), Role::Leader);
}

#[test]
fn release_rules() {
    let spec = |holder: Option<&str>, renewed: Option<i64>| LeaseSpec {
        holder_identity: holder.map(Into::into),
        renew_time: renewed.map(|r| MicroTime(at(r))),
        lease_duration_seconds: Some(15),
        ..LeaseSpec::default()
    };
    assert!(!released(&spec(Some("a"), Some(0))));
    assert!(released(&spec(None, Some(0))));
    assert!(released(&spec(Some(""), Some(0))));
    assert!(released(&spec(Some("a"), None)), "never renewed");
}
