//! Redis probe: connect (TCP or TLS), AUTH, PING, then memory use from INFO.

use std::time::Duration;

use redis::{ConnectionAddr, ConnectionInfo, ErrorKind, IntoConnectionInfo, RedisConnectionInfo, RedisError};

use super::endpoint::RedisEndpoint;
use super::error::{ProbeError, Redacted};
use super::{Dependency, ProbeResult};

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
    /// The target for `endpoint`, logging in with `password`.
    pub fn new(endpoint: &RedisEndpoint, password: Option<String>) -> Self {
        let (host, port) = (endpoint.host.clone(), endpoint.port);
        let addr = if endpoint.tls {
            ConnectionAddr::TcpTls { host, port, insecure: false, tls_params: None }
        } else {
            ConnectionAddr::Tcp(host, port)
        };
        let db = i64::from(endpoint.database);
        let redis = RedisConnectionInfo { db, password, ..RedisConnectionInfo::default() };
        Self { info: ConnectionInfo { addr, redis } }
    }

    /// A target from a `redis://[:PASSWORD@]HOST[:PORT][/DB]` (or `rediss://`) URL.
    pub fn from_url(url: &str) -> Result<Self, ProbeError> {
        let invalid = |detail: String| ProbeError::InvalidUrl { dependency: Dependency::Redis, detail };
        let info = url.into_connection_info().map_err(|e| invalid(e.to_string()))?;
        match info.addr {
            ConnectionAddr::Tcp(..) | ConnectionAddr::TcpTls { .. } => Ok(Self { info }),
            _ => Err(invalid("only redis:// and rediss:// are supported".into())),
        }
    }

    fn password(&self) -> Option<&str> {
        self.info.redis.password.as_deref()
    }
}

/// Probes `target` within `timeout` (connect, AUTH, PING and INFO together).
pub async fn probe(target: &RedisTarget, timeout: Duration) -> ProbeResult {
    let check = async { ping(target).await.map_err(|e| failure(&e, target.password())) };
    super::timed(timeout, "PING answered", check).await
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

/// The typed failure behind `e`, its message without `password`. NOAUTH and
/// WRONGPASS are server replies redis-rs leaves as plain error codes.
fn failure(e: &RedisError, password: Option<&str>) -> ProbeError {
    let detail = Redacted::new(&e.to_string(), password);
    if e.kind() == ErrorKind::AuthenticationFailed || matches!(e.code(), Some("NOAUTH" | "WRONGPASS")) {
        return ProbeError::AuthenticationFailed(detail);
    }
    ProbeError::from_chain(e, detail, ProbeError::CommandFailed)
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
    fn endpoints_become_targets() {
        let endpoint = RedisEndpoint { host: "r".into(), port: 6380, database: 2, tls: true, secret: None };
        let t = RedisTarget::new(&endpoint, Some("pw".into()));
        assert_eq!((t.info.redis.db, t.password()), (2, Some("pw")));
        let tls = ConnectionAddr::TcpTls { host: "r".into(), port: 6380, insecure: false, tls_params: None };
        assert_eq!(t.info.addr, tls);
        let plain = RedisTarget::new(&RedisEndpoint { tls: false, ..endpoint }, None);
        assert_eq!(plain.info.addr, ConnectionAddr::Tcp("r".into(), 6380));
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
