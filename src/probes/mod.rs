//! Dependency health: one-shot Redis and PostgreSQL probes, and the prober
//! that runs them beside the controller and publishes per-XAgent results.

pub mod postgres;
pub mod prober;
pub mod redis;
pub mod state;
pub mod tls;

use std::time::Duration;

use serde::Serialize;

/// The dependencies an XAgent can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dependency {
    /// Redis.
    Redis,
    /// PostgreSQL.
    Postgres,
}

impl Dependency {
    /// Lower-case name used in metrics labels and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Redis => "redis",
            Self::Postgres => "postgres",
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
    /// Use against capacity (Redis used_memory/maxmemory, PostgreSQL
    /// connections/max_connections), when the server lets us read it.
    #[serde(skip)]
    pub saturation: Option<f64>,
}

impl ProbeResult {
    /// A failed probe.
    pub fn unhealthy(latency: Duration, message: impl Into<String>) -> Self {
        Self { healthy: false, latency_ms: millis(latency), message: message.into(), saturation: None }
    }
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
