//! Dependency health: one-shot Redis and PostgreSQL probes, and the prober
//! that runs them beside the controller and publishes per-XAgent results.

pub mod cleartext;
pub mod endpoint;
pub mod error;
pub mod postgres;
pub mod prober;
pub mod redis;
pub mod state;
pub mod tls;

use std::future::Future;
use std::time::{Duration, Instant};

use serde::Serialize;

use self::error::ProbeError;

/// The dependencies an XAgent can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dependency {
    /// Redis.
    Redis,
    /// PostgreSQL.
    Postgres,
}

impl Dependency {
    /// Every dependency, in a fixed order.
    pub const ALL: [Self; 2] = [Self::Redis, Self::Postgres];

    /// Lower-case name used in metrics labels and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Redis => "redis",
            Self::Postgres => "postgres",
        }
    }

    /// The product's own spelling, for messages.
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Redis => "Redis",
            Self::Postgres => "PostgreSQL",
        }
    }
}

/// The result of one probe. Carries no credentials: messages are redacted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeResult {
    /// Whether the dependency answered correctly in time.
    pub healthy: bool,
    /// Wall time of the probe, in milliseconds.
    pub latency_ms: u64,
    /// What happened, for humans.
    pub message: String,
    /// [`ProbeResult::SUCCEEDED`] or the failure's [`ProbeError::reason`], for
    /// conditions and metrics; the CLI's JSON keeps to the three fields above.
    #[serde(skip)]
    pub reason: &'static str,
    /// Use against capacity (Redis used_memory/maxmemory, PostgreSQL
    /// connections/max_connections), when the server lets us read it.
    #[serde(skip)]
    pub saturation: Option<f64>,
}

impl ProbeResult {
    /// The reason of a healthy result.
    pub const SUCCEEDED: &'static str = "ProbeSucceeded";

    /// A successful probe.
    pub fn healthy(latency: Duration, message: &str, saturation: Option<f64>) -> Self {
        let latency_ms = millis(latency);
        Self { healthy: true, latency_ms, message: message.into(), reason: Self::SUCCEEDED, saturation }
    }

    /// A failed probe.
    pub fn failed(latency: Duration, error: &ProbeError) -> Self {
        let (message, reason) = (error.to_string(), error.reason());
        Self { healthy: false, latency_ms: millis(latency), message, reason, saturation: None }
    }
}

/// Runs `check` for at most `timeout`; a saturation from it means healthy,
/// reported with `healthy_message`.
pub(crate) async fn timed(
    timeout: Duration,
    healthy_message: &str,
    check: impl Future<Output = Result<Option<f64>, ProbeError>>,
) -> ProbeResult {
    let started = Instant::now();
    let outcome = tokio::time::timeout(timeout, check).await.unwrap_or(Err(ProbeError::Timeout(timeout)));
    match outcome {
        Ok(saturation) => ProbeResult::healthy(started.elapsed(), healthy_message, saturation),
        Err(e) => ProbeResult::failed(started.elapsed(), &e),
    }
}

/// Refuses, before any connection, a password that would travel `exposed`
/// (plaintext or unverified TLS) unless the XAgent allows it.
pub(crate) fn refuse_insecure_password(
    dependency: Dependency,
    exposed: bool,
    allowed: bool,
) -> Result<(), ProbeError> {
    if exposed && !allowed {
        return Err(ProbeError::InsecurePasswordRefused(dependency));
    }
    Ok(())
}

/// Whole milliseconds, saturating.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Removes every occurrence of `secret` from `message`: client libraries may
/// echo connection details, and a password must never reach logs or status.
pub fn redact(message: &str, secret: Option<&str>) -> String {
    match secret.filter(|s| !s.is_empty()) {
        Some(secret) => message.replace(secret, "***"),
        None => message.to_string(),
    }
}

/// The message for a probe that ran out of time.
pub fn timeout_message(timeout: Duration) -> String {
    format!("no answer within the {} s timeout", timeout.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_removes_every_occurrence() {
        assert_eq!(redact("auth s3cret failed for s3cret", Some("s3cret")), "auth *** failed for ***");
        assert_eq!(redact("nothing here", Some("s3cret")), "nothing here");
        assert_eq!(redact("empty secret", Some("")), "empty secret");
        assert_eq!(redact("no secret", None), "no secret");
    }

    #[test]
    fn timeout_message_names_the_timeout() {
        assert_eq!(timeout_message(Duration::from_millis(1500)), "no answer within the 1.5 s timeout");
    }
}
