//! The prober: runs beside the controller, never inside a reconcile.
//!
//! Every tick it groups the cached XAgents' dependencies by endpoint (address,
//! database, user and credential reference), probes each endpoint that is due
//! exactly once however many XAgents share it, with bounded concurrency and a
//! hard timeout, publishes per-XAgent results and asks the controller to
//! reconcile the XAgents whose published health changed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::channel::mpsc::UnboundedSender;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{Timestamp, Unit};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use tracing::{debug, info};

use super::postgres::PostgresTarget;
use super::redis::RedisTarget;
use super::state::{ProbeState, XAgentKey};
use super::{Dependency, ProbeResult};
use crate::crd::{SecretKeyRef, XAgent};
use crate::metrics::{DependencyLabels, Metrics, ProbeLabels};

/// One distinct endpoint: XAgents that agree on all of this share one probe.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EndpointKey {
    /// Redis or PostgreSQL.
    pub dependency: Dependency,
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Redis database number or PostgreSQL database name.
    pub database: String,
    /// PostgreSQL user (empty for Redis).
    pub user: String,
    /// Redis TLS on/off, or PostgreSQL sslmode.
    pub transport: String,
    /// `namespace/name/key` of the password Secret; the password itself is never part of the key.
    pub secret: Option<(String, String, String)>,
}

/// What the XAgents sharing an endpoint ask of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    /// Shortest interval any of them asks for.
    pub interval: Duration,
    /// Longest timeout any of them allows, kept below the interval.
    pub timeout: Duration,
    /// The XAgents that depend on it.
    pub users: Vec<XAgentKey>,
}

/// Groups the dependencies of `xagents` by endpoint.
pub fn plan<'a>(xagents: impl IntoIterator<Item = &'a XAgent>) -> BTreeMap<EndpointKey, Wanted> {
    let mut plan: BTreeMap<EndpointKey, Wanted> = BTreeMap::new();
    for xa in xagents {
        let ns = xa.namespace().unwrap_or_default();
        let who = (ns.clone(), xa.name_any());
        for (key, settings) in endpoints_of(xa, &ns) {
            let interval = Duration::from_secs(settings.interval_seconds.into());
            let timeout = Duration::from_secs(settings.timeout_seconds.into());
            let wanted = plan.entry(key).or_insert_with(|| Wanted { interval, timeout, users: Vec::new() });
            wanted.interval = wanted.interval.min(interval);
            wanted.timeout = wanted.timeout.max(timeout).min(wanted.interval);
            wanted.users.push(who.clone());
        }
    }
    plan
}

fn secret_of(ns: &str, r: Option<&SecretKeyRef>) -> Option<(String, String, String)> {
    r.map(|r| (ns.to_string(), r.name.clone(), r.key.clone()))
}

fn endpoints_of(xa: &XAgent, ns: &str) -> Vec<(EndpointKey, crate::crd::ProbeSettings)> {
    let mut out = Vec::new();
    if let Some(r) = &xa.spec.redis {
        let key = EndpointKey {
            dependency: Dependency::Redis,
            host: r.host.clone(),
            port: u16::try_from(r.port).unwrap_or(6379),
            database: r.database.to_string(),
            user: String::new(),
            transport: if r.tls { "tls" } else { "tcp" }.into(),
            secret: secret_of(ns, r.password_secret_ref.as_ref()),
        };
        out.push((key, r.probe));
    }
    if let Some(p) = &xa.spec.postgres {
        let key = EndpointKey {
            dependency: Dependency::Postgres,
            host: p.host.clone(),
            port: u16::try_from(p.port).unwrap_or(5432),
            database: p.database.clone(),
            user: p.user.clone(),
            transport: p.ssl_mode.as_str().into(),
            secret: secret_of(ns, p.password_secret_ref.as_ref()),
        };
        out.push((key, p.probe));
    }
    out
}

/// Per-endpoint schedule and failure count.
#[derive(Debug, Clone)]
struct EndpointState {
    next_due: Instant,
    failures: u32,
}

/// Prober settings.
#[derive(Debug, Clone)]
pub struct ProberConfig {
    /// Most probes in flight at once.
    pub concurrency: usize,
    /// How often due endpoints are looked for.
    pub tick: Duration,
    /// The namespace whose XAgents this prober serves (`None`: all). Probers of
    /// other namespaces share the state, so each forgets only its own entries.
    pub namespace: Option<String>,
}

impl Default for ProberConfig {
    fn default() -> Self {
        Self { concurrency: 16, tick: Duration::from_secs(1), namespace: None }
    }
}

/// The background prober.
pub struct Prober {
    client: Client,
    xagents: Store<XAgent>,
    state: Arc<ProbeState>,
    metrics: Arc<Metrics>,
    trigger: UnboundedSender<ObjectRef<XAgent>>,
    config: ProberConfig,
    endpoints: HashMap<EndpointKey, EndpointState>,
    series: HashSet<DependencyLabels>,
}

impl Prober {
    /// A prober over the cached XAgents, publishing into `state` and `metrics`,
    /// and sending XAgents whose health changed to `trigger`.
    pub fn new(
        client: Client,
        xagents: Store<XAgent>,
        state: Arc<ProbeState>,
        metrics: Arc<Metrics>,
        trigger: UnboundedSender<ObjectRef<XAgent>>,
        config: ProberConfig,
    ) -> Self {
        Self {
            client,
            xagents,
            state,
            metrics,
            trigger,
            config,
            endpoints: HashMap::new(),
            series: HashSet::new(),
        }
    }

    /// Probes forever, one round per tick.
    pub async fn run(mut self) {
        info!(concurrency = self.config.concurrency, "dependency prober started");
        loop {
            self.round().await;
            tokio::time::sleep(self.config.tick).await;
        }
    }

    /// Makes every endpoint due at the next round, as if just started.
    pub fn reset_schedule(&mut self) {
        self.endpoints.values_mut().for_each(|s| s.next_due = Instant::now());
    }

    /// One round: probe every due endpoint once. Returns how many probes ran.
    pub async fn round(&mut self) -> usize {
        let xagents = self.xagents.state();
        let plan = plan(xagents.iter().map(|x| x.as_ref()));
        self.forget_unwanted(&plan);
        let now = Instant::now();
        let due: Vec<(EndpointKey, Wanted)> = plan
            .into_iter()
            .filter(|(key, _)| self.endpoints.get(key).is_none_or(|s| s.next_due <= now))
            .collect();
        let client = &self.client;
        let results: Vec<(EndpointKey, Wanted, ProbeResult)> = futures::stream::iter(due)
            .map(|(key, wanted)| async move {
                let result = probe_endpoint(client, &key, wanted.timeout).await;
                (key, wanted, result)
            })
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        let count = results.len();
        for (key, wanted, result) in results {
            self.publish(key, &wanted, &result, now);
        }
        count
    }

    fn forget_unwanted(&mut self, plan: &BTreeMap<EndpointKey, Wanted>) {
        self.endpoints.retain(|key, _| plan.contains_key(key));
        let wanted: HashSet<(XAgentKey, Dependency)> = plan
            .iter()
            .flat_map(|(key, w)| w.users.iter().map(move |u| (u.clone(), key.dependency)))
            .collect();
        let mine = |x: &XAgentKey| self.config.namespace.as_ref().is_none_or(|ns| *ns == x.0);
        for key in self.state.retain(|x, dep| !mine(x) || wanted.contains(&(x.clone(), dep))) {
            self.reconcile(&key);
        }
        let metrics = &self.metrics;
        self.series.retain(|labels| {
            let keep =
                wanted.contains(&((labels.namespace.clone(), labels.xagent.clone()), dependency(labels)));
            if !keep {
                metrics.dependency_up.remove(labels);
                metrics.dependency_saturation.remove(labels);
            }
            keep
        });
    }

    fn publish(&mut self, key: EndpointKey, wanted: &Wanted, result: &ProbeResult, started: Instant) {
        let dep = key.dependency;
        let entry = self.endpoints.entry(key).or_insert(EndpointState { next_due: started, failures: 0 });
        entry.failures = if result.healthy { 0 } else { entry.failures.saturating_add(1) };
        entry.next_due = started + wanted.interval;
        let failures = entry.failures;
        let outcome = if result.healthy { "healthy" } else { "unhealthy" };
        let probe_labels = ProbeLabels { dependency: dep.as_str(), result: outcome };
        self.metrics.probe_duration.get_or_create(&probe_labels).observe(result.latency_ms as f64 / 1000.0);
        debug!(dependency = dep.as_str(), healthy = result.healthy, latency_ms = result.latency_ms, "probed");
        let now = Time(Timestamp::now().round(Unit::Second).unwrap_or_else(|_| Timestamp::now()));
        for user in &wanted.users {
            self.export(user, dep, result);
            if self.state.record(user, dep, result, failures, now.clone()) {
                self.reconcile(user);
            }
        }
    }

    fn export(&mut self, user: &XAgentKey, dep: Dependency, result: &ProbeResult) {
        let labels =
            DependencyLabels { namespace: user.0.clone(), xagent: user.1.clone(), dependency: dep.as_str() };
        self.metrics.dependency_up.get_or_create(&labels).set(i64::from(result.healthy));
        match result.saturation {
            Some(ratio) => {
                self.metrics.dependency_saturation.get_or_create(&labels).set(ratio);
            }
            None => {
                self.metrics.dependency_saturation.remove(&labels);
            }
        }
        self.series.insert(labels);
    }

    fn reconcile(&self, key: &XAgentKey) {
        // The controller may have stopped; then nobody needs the nudge.
        let _ = self.trigger.unbounded_send(ObjectRef::new(&key.1).within(&key.0));
    }
}

fn dependency(labels: &DependencyLabels) -> Dependency {
    if labels.dependency == Dependency::Redis.as_str() { Dependency::Redis } else { Dependency::Postgres }
}

/// Reads the password, then probes, all within `timeout` plus a second for the
/// Secret read. A Secret problem is a failed probe with a clear message.
async fn probe_endpoint(client: &Client, key: &EndpointKey, timeout: Duration) -> ProbeResult {
    let started = Instant::now();
    let budget = timeout + Duration::from_secs(1);
    match tokio::time::timeout(budget, read_and_probe(client, key, timeout, started)).await {
        Ok(result) => result,
        Err(_) => ProbeResult::unhealthy(started.elapsed(), super::timeout_message(budget)),
    }
}

async fn read_and_probe(
    client: &Client,
    key: &EndpointKey,
    timeout: Duration,
    started: Instant,
) -> ProbeResult {
    let password = match &key.secret {
        None => None,
        Some((ns, name, field)) => match read_secret(client, ns, name, field).await {
            Ok(p) => Some(p),
            Err(message) => return ProbeResult::unhealthy(started.elapsed(), message),
        },
    };
    match key.dependency {
        Dependency::Redis => {
            let db = key.database.parse().unwrap_or(0);
            let target = RedisTarget::new(&key.host, key.port, db, key.transport == "tls", password);
            super::redis::probe(&target, timeout).await
        }
        Dependency::Postgres => {
            let target = PostgresTarget::new(
                &key.host,
                key.port,
                &key.database,
                &key.user,
                password.as_deref(),
                &key.transport,
            );
            super::postgres::probe(&target, timeout).await
        }
    }
}

/// The value of `field` in Secret `ns/name`. Errors name the Secret and key, never the value.
pub async fn read_secret(client: &Client, ns: &str, name: &str, field: &str) -> Result<String, String> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let secret = match api.get_opt(name).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(format!("Secret {ns}/{name} not found")),
        Err(e) => return Err(format!("reading Secret {ns}/{name} failed: {e}")),
    };
    let bytes =
        secret.data.as_ref().and_then(|d| d.get(field)).map(|b| b.0.clone()).or_else(|| {
            secret.string_data.as_ref().and_then(|d| d.get(field)).map(|s| s.clone().into_bytes())
        });
    match bytes {
        None => Err(format!("Secret {ns}/{name} has no key {field}")),
        Some(b) => {
            String::from_utf8(b).map_err(|_| format!("key {field} of Secret {ns}/{name} is not UTF-8"))
        }
    }
}

#[cfg(test)]
mod tests;
