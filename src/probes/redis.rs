//! Redis probe: connect (TCP or TLS), AUTH, PING, then memory use from INFO.

use std::time::{Duration, Instant};

use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo};

use super::{ProbeResult, millis, redact, timeout_message};

/// Where and how to reach one Redis.
#[derive(Clone)]
pub struct RedisTarget {
    info: ConnectionInfo,
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection info holds the password: never print it.
        f.debug_struct("RedisTarget").field("addr", &self.info.addr.to_string()).finish_non_exhaustive()
    }
}

impl RedisTarget {
    /// A target from its parts.
    pub fn new(host: &str, port: u16, db: i64, tls: bool, password: Option<String>) -> Self {
        let addr = if tls {
            ConnectionAddr::TcpTls { host: host.into(), port, insecure: false, tls_params: None }
        } else {
            ConnectionAddr::Tcp(host.into(), port)
        };
        let redis = RedisConnectionInfo { db, password, ..RedisConnectionInfo::default() };
        Self { info: ConnectionInfo { addr, redis } }
    }

    /// A target from a `redis://[:PASSWORD@]HOST[:PORT][/DB]` (or `rediss://`) URL.
    pub fn from_url(url: &str) -> Result<Self, String> {
        let info = url.into_connection_info().map_err(|e| format!("invalid Redis URL: {e}"))?;
        match info.addr {
            ConnectionAddr::Tcp(..) | ConnectionAddr::TcpTls { .. } => Ok(Self { info }),
            _ => Err("invalid Redis URL: only redis:// and rediss:// are supported".into()),
        }
    }

    fn password(&self) -> Option<&str> {
        self.info.redis.password.as_deref()
    }
}

/// Probes `target` within `timeout` (connect, AUTH, PING and INFO together).
pub async fn probe(target: &RedisTarget, timeout: Duration) -> ProbeResult {
    let started = Instant::now();
    let outcome = tokio::time::timeout(timeout, ping(target)).await;
    let latency = started.elapsed();
    match outcome {
        Err(_) => ProbeResult::unhealthy(latency, timeout_message(timeout)),
        Ok(Err(e)) => ProbeResult::unhealthy(latency, redact(&e.to_string(), target.password())),
        Ok(Ok(saturation)) => ProbeResult {
            healthy: true,
            latency_ms: millis(latency),
            message: "PING answered".into(),
            saturation,
        },
    }
}

async fn ping(target: &RedisTarget) -> redis::RedisResult<Option<f64>> {
    let client = redis::Client::open(target.info.clone())?;
    // AUTH and SELECT happen during the connection handshake.
    let mut con = client.get_multiplexed_async_connection().await?;
    let _: String = redis::cmd("PING").query_async(&mut con).await?;
    // INFO may be forbidden by an ACL; health does not depend on it.
    let info: redis::RedisResult<String> = redis::cmd("INFO").arg("memory").query_async(&mut con).await;
    Ok(info.ok().as_deref().and_then(memory_saturation))
}

/// used_memory / maxmemory from an INFO memory reply; none when maxmemory is 0 (unlimited).
pub fn memory_saturation(info: &str) -> Option<f64> {
    let field = |name: &str| {
        info.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    let (used, max) = (field("used_memory")?, field("maxmemory")?);
    (max > 0.0).then(|| used / max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturation_reads_used_over_max() {
        let info = "# Memory\r\nused_memory:250\r\nused_memory_human:250B\r\nmaxmemory:1000\r\n";
        assert_eq!(memory_saturation(info), Some(0.25));
    }

    #[test]
    fn unlimited_or_missing_maxmemory_has_no_saturation() {
        assert_eq!(memory_saturation("used_memory:250\r\nmaxmemory:0\r\n"), None);
        assert_eq!(memory_saturation("used_memory:250\r\n"), None);
    }

    #[test]
    fn urls_parse_and_debug_hides_the_password() {
        let t = RedisTarget::from_url("redis://:hunter2@127.0.0.1:6390/3").unwrap();
        assert_eq!(t.info.redis.db, 3);
        assert!(!format!("{t:?}").contains("hunter2"));
        assert!(RedisTarget::from_url("http://x").is_err());
        assert!(RedisTarget::from_url("redis+unix:///tmp/x.sock").is_err());
    }
}
