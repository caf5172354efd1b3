//! Leader election through a coordination.k8s.io/v1 Lease, so several
//! replicas can run and exactly one reconciles and probes.
//!
//! The holder renews the Lease every `renew_every`; a candidate takes it over
//! once the holder's record has not changed for `leaseDurationSeconds` on the
//! candidate's own clock (so clock skew cannot end a term early), or at once
//! when the Lease was released. Every write carries the
//! resourceVersion it read, so two candidates racing for an expired Lease
//! cannot both win: the loser gets a 409 and stays a follower.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::{Client, Error as KubeError};
use tracing::{info, warn};

/// Leader election settings.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a Lease stays valid without renewal.
    pub duration: Duration,
    /// How often the holder renews, and a follower retries.
    pub renew_every: Duration,
}

impl LeaseConfig {
    /// Defaults: 15 s lease, renewed every 5 s.
    pub fn new(namespace: String, name: String, identity: String) -> Self {
        Self {
            namespace,
            name,
            identity,
            duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
        }
    }
}

/// The result of one election attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// This replica holds the Lease.
    Leader,
    /// Another replica holds a valid Lease, or won the race for it.
    Follower,
}

/// Why an attempt could not be made at all.
#[derive(Debug, thiserror::Error)]
#[error("leader election on Lease {namespace}/{name} failed: {source}")]
pub struct LeaseError {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// The API error.
    #[source]
    pub source: KubeError,
}

/// Elects a leader among replicas sharing one Lease.
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaseConfig,
    /// The other holder's record (holder and renewTime) as last seen, and when
    /// this replica first saw it, on its own monotonic clock.
    observed: std::sync::Mutex<Option<(String, tokio::time::Instant)>>,
}

fn micro(t: Timestamp) -> MicroTime {
    MicroTime(t)
}

impl LeaderElector {
    /// An elector for `config` using `client`.
    pub fn new(client: Client, config: LeaseConfig) -> Self {
        Self { api: Api::namespaced(client, &config.namespace), config, observed: Default::default() }
    }

    /// Whether the other holder's record has stood unchanged for a whole lease
    /// duration on our clock. Comparing its renewTime with our wall clock would
    /// let clock skew between nodes end a healthy leader's term early.
    fn stale(&self, spec: &LeaseSpec) -> bool {
        let record = format!("{:?}/{:?}", spec.holder_identity, spec.renew_time);
        let duration = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(self.config.duration, Duration::from_secs);
        let mut observed = self.observed.lock().unwrap_or_else(|p| p.into_inner());
        match observed.as_ref() {
            Some((seen, since)) if *seen == record => since.elapsed() >= duration,
            _ => {
                *observed = Some((record, tokio::time::Instant::now()));
                false
            }
        }
    }

    fn error(&self, source: KubeError) -> LeaseError {
        LeaseError { namespace: self.config.namespace.clone(), name: self.config.name.clone(), source }
    }

    /// One attempt to acquire or renew the Lease at time `now`.
    pub async fn try_acquire(&self, now: Timestamp) -> Result<Role, LeaseError> {
        let current = self.api.get_opt(&self.config.name).await.map_err(|e| self.error(e))?;
        let Some(lease) = current else {
            return self
                .write(
                    |api, lease| async move { api.create(&PostParams::default(), &lease).await },
                    None,
                    now,
                )
                .await;
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let mine = spec.holder_identity.as_deref() == Some(self.config.identity.as_str());
        if !mine && !released(&spec) && !self.stale(&spec) {
            return Ok(Role::Follower);
        }
        let name = self.config.name.clone();
        self.write(
            |api, lease| async move { api.replace(&name, &PostParams::default(), &lease).await },
            Some(lease),
            now,
        )
        .await
    }

    /// Writes our claim; a 409 means another replica changed the Lease first.
    async fn write<F, Fut>(
        &self,
        send: F,
        previous: Option<Lease>,
        now: Timestamp,
    ) -> Result<Role, LeaseError>
    where
        F: FnOnce(Api<Lease>, Lease) -> Fut,
        Fut: std::future::Future<Output = Result<Lease, KubeError>>,
    {
        let claim = self.claim(previous, now);
        match send(self.api.clone(), claim).await {
            Ok(_) => Ok(Role::Leader),
            Err(KubeError::Api(e)) if e.code == 409 => Ok(Role::Follower),
            Err(e) => Err(self.error(e)),
        }
    }

    /// The Lease as we want it: held by us, renewed now.
    fn claim(&self, previous: Option<Lease>, now: Timestamp) -> Lease {
        let previous_spec = previous.as_ref().and_then(|l| l.spec.clone()).unwrap_or_default();
        let taking_over = previous_spec.holder_identity.as_deref() != Some(self.config.identity.as_str());
        let transitions =
            previous_spec.lease_transitions.unwrap_or(0) + i32::from(taking_over && previous.is_some());
        let acquire_time = if taking_over { Some(micro(now)) } else { previous_spec.acquire_time.clone() };
        Lease {
            metadata: ObjectMeta {
                name: Some(self.config.name.clone()),
                namespace: Some(self.config.namespace.clone()),
                // The resourceVersion makes the replace conditional.
                resource_version: previous.and_then(|l| l.metadata.resource_version),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.config.identity.clone()),
                lease_duration_seconds: Some(i32::try_from(self.config.duration.as_secs()).unwrap_or(15)),
                acquire_time,
                renew_time: Some(micro(now)),
                lease_transitions: Some(transitions),
                ..LeaseSpec::default()
            }),
        }
    }

    /// Gives the Lease up on shutdown so a follower takes over at once.
    pub async fn release(&self) -> Result<(), LeaseError> {
        let Some(lease) = self.api.get_opt(&self.config.name).await.map_err(|e| self.error(e))? else {
            return Ok(());
        };
        let mut spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.renew_time = None;
        spec.acquire_time = None;
        let released = Lease { spec: Some(spec), ..lease };
        self.api
            .replace(&self.config.name, &PostParams::default(), &released)
            .await
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// One attempt bounded by `renew_every`: a hung API request must not stall
    /// the election (the caller treats a timeout like a failed attempt).
    async fn attempt(&self) -> Result<Result<Role, LeaseError>, tokio::time::error::Elapsed> {
        tokio::time::timeout(self.config.renew_every, self.try_acquire(Timestamp::now())).await
    }

    /// Waits until this replica leads, retrying every `renew_every`.
    pub async fn acquire(&self) {
        loop {
            match self.attempt().await.unwrap_or(Ok(Role::Follower)) {
                Ok(Role::Leader) => {
                    info!(lease = %self.config.name, identity = %self.config.identity, "became leader");
                    return;
                }
                Ok(Role::Follower) => {}
                Err(e) => warn!(error = %e, "leader election attempt failed"),
            }
            tokio::time::sleep(self.config.renew_every).await;
        }
    }

    /// Renews the Lease until it cannot for the renew deadline (the lease
    /// duration less one renew period), then returns: the caller must stop
    /// working before a follower may take over.
    pub async fn keep(&self) {
        let deadline = self.config.duration.saturating_sub(self.config.renew_every);
        let mut last_renewed = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(self.config.renew_every).await;
            match self.attempt().await {
                Ok(Ok(Role::Leader)) => last_renewed = tokio::time::Instant::now(),
                Ok(Ok(Role::Follower)) => {
                    warn!(lease = %self.config.name, "lost the Lease to another replica");
                    return;
                }
                Ok(Err(e)) => warn!(error = %e, "renewing the Lease failed"),
                Err(_) => warn!(lease = %self.config.name, "renewing the Lease timed out"),
            }
            if last_renewed.elapsed() >= deadline {
                warn!(lease = %self.config.name, "could not renew the Lease in time");
                return;
            }
        }
    }
}

/// Whether nobody holds the Lease: released on shutdown, or never renewed.
pub fn released(spec: &LeaseSpec) -> bool {
    let held = spec.holder_identity.as_deref().is_some_and(|h| !h.is_empty());
    !held || spec.renew_time.is_none()
}

#[cfg(test)]
mod tests;
