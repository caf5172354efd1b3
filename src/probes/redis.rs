//! Redis probe: connect (TCP, then TLS with our own verifier when asked),
//! AUTH, PING, then memory use from INFO.
//!
//! The TLS session is made here, not by redis-rs, so both probes share one
//! verifier (CA from the XAgent, `verify-ca`-style chain checks, a server
//! name other than the host) and redis-rs only speaks the protocol over it.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{ConnectionAddr, ErrorKind, IntoConnectionInfo, RedisConnectionInfo, RedisError};
use tokio::net::TcpStream;

use super::endpoint::{RedisEndpoint, Trust, Verify};
use super::error::{ProbeError, Redacted};
use super::tls::{self, TlsClient};
use super::{Dependency, ProbeResult};

/// Where and how to reach one Redis.
#[derive(Clone)]
pub struct RedisTarget {
    host: String,
    port: u16,
    /// TLS to use; `None` for plaintext.
    tls: Option<Tls>,
    redis: RedisConnectionInfo,
    /// Whether the password may travel without verified TLS.
    allow_insecure_password: bool,
}

/// A TLS client and the name the server's certificate is checked against.
#[derive(Clone, Debug)]
struct Tls {
    client: TlsClient,
    name: String,
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection info holds the password: never print it.
        f.debug_struct("RedisTarget")
            .field("addr", &format!("{}:{}", self.host, self.port))
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl RedisTarget {
    /// The target for `endpoint`, logging in with `password` and trusting the
    /// CA certificates in `ca_pem` (when the endpoint names a CA).
    pub fn new(
        endpoint: &RedisEndpoint,
        password: Option<String>,
        ca_pem: Option<&[u8]>,
    ) -> Result<Self, ProbeError> {
        let tls = endpoint.tls.as_ref().map(|trust| Tls::new(trust, &endpoint.host, ca_pem)).transpose()?;
        let db = i64::from(endpoint.database);
        Ok(Self {
            host: endpoint.host.clone(),
            port: endpoint.port,
            tls,
            redis: RedisConnectionInfo { db, password, ..RedisConnectionInfo::default() },
            allow_insecure_password: endpoint.allow_insecure_password,
        })
    }

    /// A target from a `redis://[:PASSWORD@]HOST[:PORT][/DB]` URL, or
    /// `rediss://` for TLS verified against the system CA bundle (or
    /// `ca_pem`), `rediss://…#insecure` for TLS without verification. The URL
    /// is the caller's own explicit choice, so its password may go anywhere
    /// it says.
    pub fn from_url(url: &str, ca_pem: Option<&[u8]>) -> Result<Self, ProbeError> {
        let invalid = |detail: String| ProbeError::InvalidUrl { dependency: Dependency::Redis, detail };
        let info = url.into_connection_info().map_err(|e| invalid(e.to_string()))?;
        let (host, port, verify) = match info.addr {
            ConnectionAddr::Tcp(host, port) => (host, port, None),
            ConnectionAddr::TcpTls { host, port, insecure, .. } => {
                (host, port, Some(if insecure { Verify::Nothing } else { Verify::ChainAndName }))
            }
            _ => return Err(invalid("only redis:// and rediss:// are supported".into())),
        };
        let tls = verify
            .map(|verify| Tls::new(&Trust { verify, ca: None, server_name: None }, &host, ca_pem))
            .transpose()?;
        Ok(Self { host, port, tls, redis: info.redis, allow_insecure_password: true })
    }

    fn password(&self) -> Option<&str> {
        self.redis.password.as_deref()
    }

    /// How the connection is secured, for the healthy message.
    fn transport(&self) -> &'static str {
        self.tls.as_ref().map_or("plaintext", |t| t.client.describe())
    }

    fn unverified(&self) -> bool {
        self.tls.as_ref().is_none_or(|t| t.client.verify == Verify::Nothing)
    }
}

impl Tls {
    fn new(trust: &Trust, host: &str, ca_pem: Option<&[u8]>) -> Result<Self, ProbeError> {
        let name = trust.server_name.clone().unwrap_or_else(|| host.to_string());
        Ok(Self { client: TlsClient::new(trust, ca_pem)?, name })
    }
}

/// Probes `target` within `timeout` (connect, AUTH, PING and INFO together).
/// A password that would travel unverified without the XAgent's leave is
/// refused before any connection is made.
pub async fn probe(target: &RedisTarget, timeout: Duration) -> ProbeResult {
    let healthy = format!("PING answered over {}", target.transport());
    let check = async {
        let exposed = target.password().is_some() && target.unverified();
        super::refuse_insecure_password(Dependency::Redis, exposed, target.allow_insecure_password)?;
        ping(target).await
    };
    super::timed(timeout, &healthy, check).await
}

async fn ping(target: &RedisTarget) -> Result<Option<f64>, ProbeError> {
    let mut con = connect(target).await?;
    let redis_failure = |e: RedisError| failure(&e, target.password());
    let _: String = redis::cmd("PING").query_async(&mut con).await.map_err(redis_failure)?;
    // INFO may be forbidden by an ACL; health does not depend on it.
    let info: redis::RedisResult<String> = redis::cmd("INFO").arg("memory").query_async(&mut con).await;
    Ok(info.ok().as_deref().and_then(memory_saturation))
}

/// A connection that has passed AUTH and SELECT (redis-rs sends both while
/// setting the connection up). Its driver runs until the connection drops.
async fn connect(target: &RedisTarget) -> Result<MultiplexedConnection, ProbeError> {
    let io_failure = |e: std::io::Error| {
        let detail = Redacted::new(&format!("{}:{}: {e}", target.host, target.port), target.password());
        ProbeError::from_chain(&e, detail, ProbeError::ConnectFailed)
    };
    let tcp = TcpStream::connect((target.host.as_str(), target.port)).await.map_err(io_failure)?;
    let setup = match &target.tls {
        None => speak_redis(&target.redis, tcp).await,
        Some(tls) => {
            let name = tls::server_name(&tls.name)?;
            let connector = tokio_rustls::TlsConnector::from(tls.client.config.clone());
            speak_redis(&target.redis, connector.connect(name, tcp).await.map_err(io_failure)?).await
        }
    };
    setup.map_err(|e| failure(&e, target.password()))
}

/// redis-rs over `stream` (AUTH and SELECT included), its driver running
/// until the connection drops.
async fn speak_redis<S>(info: &RedisConnectionInfo, stream: S) -> redis::RedisResult<MultiplexedConnection>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (con, driver) = MultiplexedConnection::new(info, stream).await?;
    tokio::spawn(driver);
    Ok(con)
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

    fn endpoint(tls: Option<Trust>) -> RedisEndpoint {
        RedisEndpoint {
            host: "r".into(),
            port: 6380,
            database: 2,
            tls,
            secret: None,
            allow_insecure_password: false,
        }
    }

    #[test]
    fn endpoints_become_targets() {
        let unchecked =
            Trust { verify: Verify::Nothing, ca: None, server_name: Some("redis.internal".into()) };
        let t = RedisTarget::new(&endpoint(Some(unchecked)), Some("pw".into()), None).unwrap();
        assert_eq!((t.redis.db, t.password(), t.port), (2, Some("pw"), 6380));
        assert_eq!(t.tls.as_ref().map(|t| t.name.as_str()), Some("redis.internal"));
        assert!(t.unverified());
        let plain = RedisTarget::new(&endpoint(None), None, None).unwrap();
        assert_eq!((plain.transport(), plain.unverified()), ("plaintext", true));
    }

    #[tokio::test]
    async fn a_password_without_verified_tls_is_refused_before_connecting() {
        // Port 1 on loopback: were a connection tried, the refusal would read differently.
        let e = RedisEndpoint { host: "127.0.0.1".into(), port: 1, ..endpoint(None) };
        let result =
            probe(&RedisTarget::new(&e, Some("pw".into()), None).unwrap(), Duration::from_secs(1)).await;
        assert_eq!(result.reason, "InsecurePasswordRefused", "{result:?}");
    }

    #[test]
    fn urls_parse_and_debug_hides_the_password() {
        let t = RedisTarget::from_url("redis://:hunter2@127.0.0.1:6390/3", None).unwrap();
        assert_eq!(t.redis.db, 3);
        assert!(!format!("{t:?}").contains("hunter2"));
        let insecure = RedisTarget::from_url("rediss://127.0.0.1:6390/#insecure", None).unwrap();
        assert_eq!(insecure.transport(), "TLS without certificate verification");
        assert!(RedisTarget::from_url("http://x", None).is_err());
        assert!(RedisTarget::from_url("redis+unix:///tmp/x.sock", None).is_err());
    }
}
