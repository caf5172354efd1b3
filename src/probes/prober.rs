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
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{Timestamp, Unit};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use tracing::{debug, info};

use super::endpoint::{CaRef, EndpointKey, KeyRef, PostgresEndpoint, RedisEndpoint};
use super::error::ProbeError;
use super::postgres::PostgresTarget;
use super::redis::RedisTarget;
use super::state::{ProbeState, XAgentKey};
use super::{Dependency, ProbeResult};
use crate::crd::{ProbeSettings, XAgent};
use crate::metrics::{DependencyLabels, Metrics, ProbeFailureLabels, ProbeLabels};

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

fn endpoints_of(xa: &XAgent, ns: &str) -> Vec<(EndpointKey, ProbeSettings)> {
    let redis = xa.spec.redis.iter().map(|r| (EndpointKey::Redis(RedisEndpoint::of(r, ns)), r.probe));
    let postgres =
        xa.spec.postgres.iter().map(|p| (EndpointKey::Postgres(PostgresEndpoint::of(p, ns)), p.probe));
    redis.chain(postgres).collect()
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
    /// The per-XAgent series this prober exported, to remove them once unwanted.
    series: HashSet<(XAgentKey, Dependency)>,
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
        self.metrics.set_tracked("probed_endpoints", self.endpoints.len());
        count
    }

    fn forget_unwanted(&mut self, plan: &BTreeMap<EndpointKey, Wanted>) {
        self.endpoints.retain(|key, _| plan.contains_key(key));
        let wanted: HashSet<(XAgentKey, Dependency)> = plan
            .iter()
            .flat_map(|(key, w)| w.users.iter().map(move |u| (u.clone(), key.dependency())))
            .collect();
        let mine = |x: &XAgentKey| self.config.namespace.as_ref().is_none_or(|ns| *ns == x.0);
        for key in self.state.retain(|x, dep| !mine(x) || wanted.contains(&(x.clone(), dep))) {
            self.reconcile(&key);
        }
        let metrics = &self.metrics;
        self.series.retain(|series| {
            let keep = wanted.contains(series);
            if !keep {
                let labels = dependency_labels(&series.0, series.1);
                metrics.dependency_up.remove(&labels);
                metrics.dependency_saturation.remove(&labels);
            }
            keep
        });
    }

    fn publish(&mut self, key: EndpointKey, wanted: &Wanted, result: &ProbeResult, started: Instant) {
        let dep = key.dependency();
        let entry = self.endpoints.entry(key).or_insert(EndpointState { next_due: started, failures: 0 });
        entry.failures = if result.healthy { 0 } else { entry.failures.saturating_add(1) };
        entry.next_due = started + wanted.interval;
        let failures = entry.failures;
        self.observe(dep, result);
        let now = Time(Timestamp::now().round(Unit::Second).unwrap_or_else(|_| Timestamp::now()));
        for user in &wanted.users {
            self.export(user, dep, result);
            if self.state.record(user, dep, result, failures, now.clone()) {
                self.reconcile(user);
            }
        }
    }

    /// Per-endpoint metrics and log of one probe.
    fn observe(&self, dep: Dependency, result: &ProbeResult) {
        let outcome = if result.healthy { "healthy" } else { "unhealthy" };
        let probe_labels = ProbeLabels { dependency: dep.as_str(), result: outcome };
        self.metrics.probe_duration.get_or_create(&probe_labels).observe(result.latency_ms as f64 / 1000.0);
        if !result.healthy {
            let labels = ProbeFailureLabels { dependency: dep.as_str(), reason: result.reason };
            self.metrics.probe_failures.get_or_create(&labels).inc();
        }
        debug!(
            dependency = dep.as_str(),
            healthy = result.healthy,
            reason = result.reason,
            latency_ms = result.latency_ms,
            "probed"
        );
    }

    fn export(&mut self, user: &XAgentKey, dep: Dependency, result: &ProbeResult) {
        let labels = dependency_labels(user, dep);
        self.metrics.dependency_up.get_or_create(&labels).set(i64::from(result.healthy));
        match result.saturation {
            Some(ratio) => {
                self.metrics.dependency_saturation.get_or_create(&labels).set(ratio);
            }
            None => {
                self.metrics.dependency_saturation.remove(&labels);
            }
        }
        self.series.insert((user.clone(), dep));
    }

    fn reconcile(&self, key: &XAgentKey) {
        // The controller may have stopped; then nobody needs the nudge.
        let _ = self.trigger.unbounded_send(ObjectRef::new(&key.1).within(&key.0));
    }
}

fn dependency_labels(user: &XAgentKey, dep: Dependency) -> DependencyLabels {
    DependencyLabels { namespace: user.0.clone(), xagent: user.1.clone(), dependency: dep.as_str() }
}

/// Reads the password, then probes, all within `timeout` plus a second for the
/// Secret read. A Secret problem is a failed probe with a clear message.
async fn probe_endpoint(client: &Client, key: &EndpointKey, timeout: Duration) -> ProbeResult {
    let started = Instant::now();
    let budget = timeout + Duration::from_secs(1);
    let outcome = tokio::time::timeout(budget, read_and_probe(client, key, timeout)).await;
    match outcome.unwrap_or(Err(ProbeError::Timeout(budget))) {
        Ok(result) => result,
        Err(e) => ProbeResult::failed(started.elapsed(), &e),
    }
}

async fn read_and_probe(
    client: &Client,
    key: &EndpointKey,
    timeout: Duration,
) -> Result<ProbeResult, ProbeError> {
    let password = match key.secret() {
        None => None,
        Some(secret) => Some(read_secret(client, secret).await?),
    };
    let ca = match key.ca() {
        None => None,
        Some(ca) => Some(read_ca(client, ca).await?),
    };
    let ca = ca.as_deref();
    Ok(match key {
        EndpointKey::Redis(r) => super::redis::probe(&RedisTarget::new(r, password, ca)?, timeout).await,
        EndpointKey::Postgres(p) => {
            super::postgres::probe(&PostgresTarget::new(p, password.as_deref(), ca)?, timeout).await
        }
    })
}

/// The value `secret` points at. Errors name the Secret and key, never the value.
pub async fn read_secret(client: &Client, secret: &KeyRef) -> Result<String, ProbeError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &secret.namespace);
    let found = match api.get_opt(&secret.name).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(ProbeError::SecretNotFound(secret.clone())),
        Err(e) => return Err(ProbeError::SecretUnreadable { secret: secret.clone(), source: Box::new(e) }),
    };
    let bytes =
        secret_value(&found, &secret.key).ok_or_else(|| ProbeError::SecretKeyMissing(secret.clone()))?;
    String::from_utf8(bytes).map_err(|_| ProbeError::SecretNotUtf8(secret.clone()))
}

/// The bytes under `key` of a Secret, from `data` or a not yet encoded `stringData`.
fn secret_value(secret: &Secret, key: &str) -> Option<Vec<u8>> {
    let data = secret.data.as_ref().and_then(|d| d.get(key)).map(|b| b.0.clone());
    data.or_else(|| secret.string_data.as_ref().and_then(|d| d.get(key)).map(|s| s.clone().into_bytes()))
}

/// The CA bundle `ca` points at, as PEM bytes.
pub async fn read_ca(client: &Client, ca: &CaRef) -> Result<Vec<u8>, ProbeError> {
    let k = ca.key_ref();
    let unreadable = |e: kube::Error| ProbeError::CaUnreadable { ca: ca.clone(), source: Box::new(e) };
    let value = match ca {
        CaRef::Secret(_) => {
            let api: Api<Secret> = Api::namespaced(client.clone(), &k.namespace);
            let found = api.get_opt(&k.name).await.map_err(unreadable)?;
            let secret = found.ok_or_else(|| ProbeError::CaNotFound(ca.clone()))?;
            secret_value(&secret, &k.key)
        }
        CaRef::ConfigMap(_) => {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), &k.namespace);
            let found = api.get_opt(&k.name).await.map_err(unreadable)?;
            let map = found.ok_or_else(|| ProbeError::CaNotFound(ca.clone()))?;
            let text = map.data.as_ref().and_then(|d| d.get(&k.key)).map(|s| s.clone().into_bytes());
            text.or_else(|| map.binary_data.as_ref().and_then(|d| d.get(&k.key)).map(|b| b.0.clone()))
        }
    };
    value.ok_or_else(|| ProbeError::CaKeyMissing(ca.clone()))
}

#[cfg(test)]
mod tests;
