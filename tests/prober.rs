//! The prober against a real redis-server: one probe per shared endpoint per
//! round, health transitions published both ways, Secrets resolved through the
//! (mock) API, and the password kept out of state, metrics and logs.

// The crate's one mock API module, shared with its unit tests and the benchmark.
#[path = "../src/mock_api.rs"]
#[allow(dead_code)]
mod mock_api;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;
use kube::Client;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::watcher;
use prometheus_client::registry::Registry;
use serde_json::json;
use support::RedisServer;
use xagent_operator::crd::XAgent;
use xagent_operator::metrics::Metrics;
use xagent_operator::probes::prober::{Prober, ProberConfig};
use xagent_operator::probes::state::ProbeState;

const PASSWORD: &str = "pr0ber-s3cret-value";

/// A mock API server that serves Secret `ns/redis-auth` and counts how often it was read.
fn secret_server() -> (Client, Arc<AtomicUsize>) {
    let reads = Arc::new(AtomicUsize::new(0));
    let counter = reads.clone();
    let (client, _requests) = mock_api::serve("ns", move |r| {
        if r.path != "/api/v1/namespaces/ns/secrets/redis-auth" {
            return (404, mock_api::status(404, "NotFound"));
        }
        counter.fetch_add(1, Ordering::SeqCst);
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
                            "metadata": {"name": "redis-auth", "namespace": "ns"},
                            "data": {"password": base64_encode(PASSWORD.as_bytes())}});
        (200, secret)
    });
    (client, reads)
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn xagent(name: &str, port: u16, secret: &str) -> XAgent {
    serde_json::from_value(json!({
        "apiVersion": "xagent.io/v1alpha1", "kind": "XAgent",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"redis": {"host": "127.0.0.1", "port": port, "tls": false, "allowInsecurePassword": true,
                           "passwordSecretRef": {"name": secret, "key": "password"},
                           "probe": {"intervalSeconds": 30, "timeoutSeconds": 2}}}
    }))
    .unwrap()
}

struct Setup {
    prober: Prober,
    state: Arc<ProbeState>,
    registry: Registry,
    secret_reads: Arc<AtomicUsize>,
    triggered: futures::channel::mpsc::UnboundedReceiver<ObjectRef<XAgent>>,
}

fn setup(xagents: Vec<XAgent>) -> Setup {
    let (client, secret_reads) = secret_server();
    let (store, mut writer) = reflector::store::<XAgent>();
    for xa in xagents {
        writer.apply_watcher_event(&watcher::Event::Apply(xa));
    }
    let mut registry = Registry::default();
    let metrics = Arc::new(Metrics::register(&mut registry));
    let state = Arc::new(ProbeState::default());
    let (tx, triggered) = futures::channel::mpsc::unbounded();
    let config = ProberConfig { concurrency: 4, ..ProberConfig::default() };
    let prober = Prober::new(client, store, state.clone(), metrics, tx, config);
    Setup { prober, state, registry, secret_reads, triggered }
}

fn drain(rx: &mut futures::channel::mpsc::UnboundedReceiver<ObjectRef<XAgent>>) -> usize {
    let mut n = 0;
    while rx.try_recv().is_ok() {
        n += 1;
    }
    n
}

fn metrics_text(registry: &Registry) -> String {
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, registry).unwrap();
    out
}

#[tokio::test]
async fn fifty_xagents_sharing_an_endpoint_cost_one_probe_per_round() {
    let redis = RedisServer::start(Some(PASSWORD));
    let xagents = (0..50).map(|i| xagent(&format!("agent-{i}"), redis.port, "redis-auth")).collect();
    let mut s = setup(xagents);

    let before = redis.connections_received();
    assert_eq!(s.prober.round().await, 1, "one endpoint, one probe");
    let after = redis.connections_received();
    // Each connections_received() call is itself one redis-cli connection.
    assert_eq!(after - before, 2, "the server saw exactly one probe connection");
    assert_eq!(s.secret_reads.load(Ordering::SeqCst), 1, "the Secret is read once per probe");

    assert_eq!(drain(&mut s.triggered), 50, "every sharing XAgent is told about its first result");
    for i in 0..50 {
        let deps = s.state.get("ns", &format!("agent-{i}"));
        let redis_status = deps.redis.expect("published");
        assert!(redis_status.healthy, "{}", redis_status.message);
    }
    let text = metrics_text(&s.registry);
    let up = text.lines().filter(|l| l.starts_with("xagent_dependency_up{") && l.ends_with(" 1")).count();
    assert_eq!(up, 50, "one up series per XAgent:\n{text}");

    // Not due again for 30 s: a second round probes nothing and publishes nothing.
    assert_eq!(s.prober.round().await, 0);
    assert_eq!(drain(&mut s.triggered), 0);
}

#[tokio::test]
async fn health_transitions_are_published_both_ways_without_the_password() {
    let mut redis = RedisServer::start(Some(PASSWORD));
    let mut s = setup(vec![xagent("a", redis.port, "redis-auth"), xagent("b", redis.port, "redis-auth")]);
    s.prober.round().await;
    assert_eq!(drain(&mut s.triggered), 2);

    redis.stop();
    s.prober.reset_schedule();
    s.prober.round().await;
    assert_eq!(drain(&mut s.triggered), 2, "going down triggers a reconcile of both");
    let down = s.state.get("ns", "a").redis.unwrap();
    assert!(!down.healthy);
    assert_eq!(down.consecutive_failures, 1);
    assert!(down.message.to_lowercase().contains("refused"), "{}", down.message);
    assert_eq!(s.state.published("ns", "a").redis.map(|p| p.reason), Some("ConnectionRefused"));
    let failures =
        r#"xagent_dependency_probe_failures_total{dependency="redis",reason="ConnectionRefused"} 1"#;
    assert!(metrics_text(&s.registry).contains(failures), "one failed probe counted once, not per XAgent");

    s.prober.reset_schedule();
    s.prober.round().await;
    assert_eq!(drain(&mut s.triggered), 2, "the second failure is a milestone");
    s.prober.reset_schedule();
    s.prober.round().await;
    assert_eq!(drain(&mut s.triggered), 2, "the third failure is a milestone");
    s.prober.reset_schedule();
    s.prober.round().await;
    assert_eq!(drain(&mut s.triggered), 0, "the fourth failure changes nothing worth a write");

    redis.restart();
    s.prober.reset_schedule();
    s.prober.round().await;
    assert_eq!(drain(&mut s.triggered), 2, "coming back triggers a reconcile");
    let up = s.state.get("ns", "b").redis.unwrap();
    assert!(up.healthy);
    assert_eq!(up.consecutive_failures, 0);

    let everything = format!("{:?}{}", s.state, metrics_text(&s.registry));
    assert!(!everything.contains(PASSWORD), "password leaked: {everything}");
}

#[tokio::test]
async fn a_missing_secret_key_is_named_in_the_message() {
    let redis = RedisServer::start(Some(PASSWORD));
    let mut xa = xagent("a", redis.port, "redis-auth");
    xa.spec.redis.as_mut().unwrap().password_secret_ref.as_mut().unwrap().key = "pass".into();
    let mut s = setup(vec![xa]);
    s.prober.round().await;
    let status = s.state.get("ns", "a").redis.unwrap();
    assert!(!status.healthy);
    assert_eq!(status.message, "Secret ns/redis-auth has no key pass");
    assert_eq!(s.state.published("ns", "a").redis.map(|p| p.reason), Some("SecretKeyMissing"));
}

/// A writer that appends log output to a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary, at TRACE, from the first call on. A
/// global subscriber, because a thread-scoped one misses callsites that other
/// test threads registered first.
fn captured_logs() -> &'static Captured {
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
        captured
    })
}

#[tokio::test]
async fn trace_logs_of_a_failing_probe_never_show_the_password() {
    let captured = captured_logs();
    let mut redis = RedisServer::start(Some("a-different-password"));
    let mut s = setup(vec![xagent("logged", redis.port, "redis-auth")]);
    s.prober.round().await;
    redis.stop();
    s.prober.reset_schedule();
    s.prober.round().await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("probed"), "the prober logged its probes:\n{logs}");
    assert!(!logs.contains(PASSWORD), "password in logs:\n{logs}");
    let encoded = base64_encode(PASSWORD.as_bytes());
    assert!(!logs.contains(&encoded), "the Secret's data in logs:\n{logs}");
    let status = s.state.get("ns", "logged").redis.unwrap();
    assert!(!status.message.contains(PASSWORD));
}

#[tokio::test]
async fn a_missing_secret_is_an_unhealthy_dependency_with_a_clear_message() {
    let redis = RedisServer::start(Some(PASSWORD));
    let mut s = setup(vec![xagent("a", redis.port, "no-such-secret")]);
    let before = redis.connections_received();
    s.prober.round().await;
    let status = s.state.get("ns", "a").redis.unwrap();
    assert!(!status.healthy);
    assert_eq!(status.message, "Secret ns/no-such-secret not found");
    assert_eq!(s.state.published("ns", "a").redis.map(|p| p.reason), Some("SecretNotFound"));
    assert_eq!(redis.connections_received() - before, 1, "no probe without credentials");
}

#[tokio::test]
async fn removing_the_dependency_forgets_its_state_and_series() {
    let redis = RedisServer::start(Some(PASSWORD));
    let (client, _) = secret_server();
    let (store, mut writer) = reflector::store::<XAgent>();
    writer.apply_watcher_event(&watcher::Event::Apply(xagent("a", redis.port, "redis-auth")));
    let mut registry = Registry::default();
    let metrics = Arc::new(Metrics::register(&mut registry));
    let state = Arc::new(ProbeState::default());
    let (tx, mut rx) = futures::channel::mpsc::unbounded();
    let mut prober = Prober::new(client, store, state.clone(), metrics, tx, ProberConfig::default());
    prober.round().await;
    assert!(metrics_text(&registry).contains("xagent_dependency_up{"));

    let mut without: XAgent = xagent("a", redis.port, "redis-auth");
    without.spec.redis = None;
    writer.apply_watcher_event(&watcher::Event::Apply(without));
    prober.round().await;
    assert!(state.get("ns", "a").is_empty());
    assert!(!metrics_text(&registry).contains("xagent_dependency_up{"), "stale series removed");
    let refs: Vec<ObjectRef<XAgent>> = rx.by_ref().take(2).collect().await;
    assert_eq!(refs.len(), 2, "first result, then the removal, each trigger a reconcile");
}
