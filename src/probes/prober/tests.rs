use serde_json::json;

use super::*;
use crate::crd::SslMode;
use crate::probes::endpoint::{Trust, Verify};

fn xagent(ns: &str, name: &str, spec: serde_json::Value) -> XAgent {
    serde_json::from_value(json!({
        "apiVersion": "xagent.io/v1alpha1", "kind": "XAgent",
        "metadata": {"name": name, "namespace": ns}, "spec": spec
    }))
    .unwrap()
}

fn redis(host: &str, interval: u32) -> serde_json::Value {
    json!({"redis": {"host": host, "passwordSecretRef": {"name": "r", "key": "pw"},
                     "probe": {"intervalSeconds": interval, "timeoutSeconds": 2}}})
}

#[test]
fn fifty_xagents_on_one_endpoint_make_one_planned_probe() {
    let xagents: Vec<XAgent> = (0..50).map(|i| xagent("ns", &format!("a{i}"), redis("redis", 30))).collect();
    let plan = plan(&xagents);
    assert_eq!(plan.len(), 1);
    let (key, wanted) = plan.iter().next().unwrap();
    assert_eq!(key.dependency(), Dependency::Redis);
    let secret = KeyRef { namespace: "ns".into(), name: "r".into(), key: "pw".into() };
    assert_eq!(key.secret(), Some(&secret));
    assert_eq!(wanted.users.len(), 50);
}

#[test]
fn shared_endpoint_takes_the_shortest_interval() {
    let xagents = [xagent("ns", "a", redis("redis", 30)), xagent("ns", "b", redis("redis", 10))];
    let plan = plan(&xagents);
    let wanted = plan.values().next().unwrap();
    assert_eq!(wanted.interval, Duration::from_secs(10));
    assert_eq!(wanted.timeout, Duration::from_secs(2));
}

#[test]
fn different_hosts_namespaces_or_dependencies_are_different_endpoints() {
    let xagents = [
        xagent("ns", "a", redis("redis-1", 30)),
        xagent("ns", "b", redis("redis-2", 30)),
        // Same host, but the Secret lives in another namespace: other credentials.
        xagent("other", "c", redis("redis-1", 30)),
        xagent("ns", "d", json!({"postgres": {"host": "redis-1"}})),
        xagent("ns", "e", json!({})),
    ];
    let plan = plan(&xagents);
    assert_eq!(plan.len(), 4);
    let postgres = plan
        .keys()
        .find_map(|k| match k {
            EndpointKey::Postgres(p) => Some(p),
            EndpointKey::Redis(_) => None,
        })
        .unwrap();
    assert_eq!(
        (postgres.port, postgres.database.as_str(), postgres.user.as_str()),
        (5432, "xagent", "xagent")
    );
    assert_eq!((postgres.ssl_mode, postgres.trust.verify), (SslMode::VerifyFull, Verify::ChainAndName));
    assert_eq!(postgres.secret, None);
}

#[test]
fn redis_endpoints_keep_database_tls_and_secret_typed() {
    let spec = json!({"redis": {"host": "10.0.0.7", "port": 6380, "database": 3,
                                "ca": {"configMapRef": {"name": "ca", "key": "ca.crt"}},
                                "serverName": "redis.data", "passwordSecretRef": {"name": "s", "key": "k"}}});
    let plan = plan(&[xagent("ns", "a", spec)]);
    let key = |name: &str, key: &str| KeyRef { namespace: "ns".into(), name: name.into(), key: key.into() };
    let tls = Trust {
        verify: Verify::ChainAndName,
        ca: Some(CaRef::ConfigMap(key("ca", "ca.crt"))),
        server_name: Some("redis.data".into()),
    };
    let expected = RedisEndpoint {
        host: "10.0.0.7".into(),
        port: 6380,
        database: 3,
        tls: Some(tls),
        secret: Some(key("s", "k")),
        allow_insecure_password: false,
    };
    assert_eq!(plan.keys().collect::<Vec<_>>(), [&EndpointKey::Redis(expected)]);
}

/// Probers of different namespaces share the state; neither may erase the other's.
#[tokio::test]
async fn probers_of_other_namespaces_keep_each_others_results() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let spec = json!({"redis": {"host": "127.0.0.1", "port": closed_port}});
    let state = Arc::new(ProbeState::default());
    let metrics = Arc::new(Metrics::unregistered());
    let prober_for = |ns: &str| {
        let (store, mut writer) = kube::runtime::reflector::store::<XAgent>();
        writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(xagent(ns, "x", spec.clone())));
        // No Secret is configured: any API request would be a bug, and fail.
        let (client, _requests) =
            crate::mock_api::serve(ns, |r| (500, crate::mock_api::status(500, &r.line())));
        let (tx, _rx) = futures::channel::mpsc::unbounded();
        let config = ProberConfig { namespace: Some(ns.to_string()), ..ProberConfig::default() };
        Prober::new(client, store, state.clone(), metrics.clone(), tx, config)
    };
    let (mut a, mut b) = (prober_for("a"), prober_for("b"));
    assert_eq!(a.round().await, 1);
    assert_eq!(b.round().await, 1);
    let first = state.get("a", "x").redis.expect("a's result");
    b.reset_schedule();
    b.round().await;
    assert_eq!(state.get("a", "x").redis, Some(first), "b's round left a's record alone");
    assert_eq!(state.get("b", "x").redis.map(|r| r.consecutive_failures), Some(2));
}
