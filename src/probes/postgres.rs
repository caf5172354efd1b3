//! PostgreSQL probe: connect with credentials, `SELECT 1`, then connections in
//! use against max_connections.

use std::str::FromStr;
use std::time::{Duration, Instant};

use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Config, NoTls};
use tracing::debug;

use super::{ProbeResult, millis, redact, timeout_message};

/// Where and how to reach one PostgreSQL.
#[derive(Clone)]
pub struct PostgresTarget {
    config: Config,
}

impl std::fmt::Debug for PostgresTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Config holds the password: print only where it points.
        let hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .map(|h| match h {
                Host::Tcp(h) => h.clone(),
                Host::Unix(p) => p.display().to_string(),
            })
            .collect();
        f.debug_struct("PostgresTarget").field("hosts", &hosts).finish_non_exhaustive()
    }
}

impl PostgresTarget {
    /// A target from its parts. `ssl_mode` is libpq's: disable, prefer or require.
    pub fn new(
        host: &str,
        port: u16,
        database: &str,
        user: &str,
        password: Option<&str>,
        ssl_mode: &str,
    ) -> Self {
        let mut config = Config::new();
        config.host(host).port(port).dbname(database).user(user).application_name("xagent-operator-probe");
        if let Some(p) = password {
            config.password(p);
        }
        config.ssl_mode(match ssl_mode {
            "disable" => SslMode::Disable,
            "require" => SslMode::Require,
            // The schema allows only disable, prefer and require.
            "prefer" => SslMode::Prefer,
            _ => SslMode::Require,
        });
        Self { config }
    }

    /// A target from a `postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=...` URL or key=value string.
    pub fn from_url(url: &str) -> Result<Self, String> {
        let config = Config::from_str(url).map_err(|e| format!("invalid PostgreSQL URL: {e}"))?;
        if config.get_hosts().is_empty() {
            return Err("invalid PostgreSQL URL: no host".into());
        }
        Ok(Self { config })
    }

    fn password(&self) -> Option<String> {
        self.config.get_password().map(|p| String::from_utf8_lossy(p).into_owned())
    }
}

/// Probes `target` within `timeout` (connect, authenticate and query together).
pub async fn probe(target: &PostgresTarget, timeout: Duration) -> ProbeResult {
    let started = Instant::now();
    let outcome = tokio::time::timeout(timeout, select_one(target)).await;
    let latency = started.elapsed();
    let password = target.password();
    match outcome {
        Err(_) => ProbeResult::unhealthy(latency, timeout_message(timeout)),
        Ok(Err(ProbeError::Postgres(e))) => {
            ProbeResult::unhealthy(latency, redact(&describe(&e), password.as_deref()))
        }
        Ok(Err(e @ ProbeError::Tls(_))) => ProbeResult::unhealthy(latency, e.to_string()),
        Ok(Ok(saturation)) => ProbeResult {
            healthy: true,
            latency_ms: millis(latency),
            message: "SELECT 1 answered".into(),
            saturation,
        },
    }
}

/// The server's own message when there is one (e.g. "password authentication
/// failed"), else the error with its causes ("error connecting to server:
/// Connection refused"). The caller redacts the password from it.
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut message = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        message.push_str(": ");
        message.push_str(&c.to_string());
        cause = c.source();
    }
    message
}

async fn select_one(target: &PostgresTarget) -> Result<Option<f64>, ProbeError> {
    let (client, driver) = match target.config.get_ssl_mode() {
        SslMode::Disable => connect_plain(&target.config).await?,
        // prefer: TLS when offered; like libpq, plaintext when the TLS handshake fails.
        SslMode::Prefer => match connect_tls(&target.config).await {
            Ok(connected) => connected,
            // The server answered (e.g. wrong password): that answer stands.
            Err(ProbeError::Postgres(e)) if e.as_db_error().is_some() => return Err(e.into()),
            Err(_) => {
                let mut plain = target.config.clone();
                plain.ssl_mode(SslMode::Disable);
                connect_plain(&plain).await?
            }
        },
        _ => connect_tls(&target.config).await?,
    };
    let result = query(&client).await;
    // Dropping the client sends Terminate; give the driver a moment to say
    // goodbye properly so the server logs no broken connection.
    drop(client);
    if tokio::time::timeout(std::time::Duration::from_millis(500), driver).await.is_err() {
        debug!("PostgreSQL connection did not close in time");
    }
    Ok(result?)
}

type Connected = (tokio_postgres::Client, tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>);

async fn connect_plain(config: &Config) -> Result<Connected, ProbeError> {
    let (client, connection) = config.connect(NoTls).await?;
    Ok((client, tokio::spawn(connection)))
}

async fn connect_tls(config: &Config) -> Result<Connected, ProbeError> {
    let tls = super::tls::require_connector().map_err(|e| ProbeError::Tls(e.to_string()))?;
    let (client, connection) = config.connect(tls).await?;
    Ok((client, tokio::spawn(connection)))
}

/// What can stop a PostgreSQL probe before the server answers.
#[derive(Debug, thiserror::Error)]
enum ProbeError {
    /// The driver or the server refused.
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
    /// No TLS configuration could be built.
    #[error("TLS setup failed: {0}")]
    Tls(String),
}

async fn query(client: &tokio_postgres::Client) -> Result<Option<f64>, tokio_postgres::Error> {
    client.simple_query("SELECT 1").await?;
    // Readable by any role; health does not depend on it.
    let ratio = client
        .query_one(
            "SELECT count(*)::float8 / current_setting('max_connections')::float8 FROM pg_stat_activity",
            &[],
        )
        .await
        .ok()
        .and_then(|row| row.try_get::<_, f64>(0).ok());
    Ok(ratio)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_debug_hides_the_password() {
        let t =
            PostgresTarget::from_url("postgres://app:hunter2@127.0.0.1:5433/xagent?sslmode=disable").unwrap();
        assert_eq!(t.password().as_deref(), Some("hunter2"));
        assert!(!format!("{t:?}").contains("hunter2"));
        assert!(PostgresTarget::from_url("postgres://").is_err());
        assert!(PostgresTarget::from_url("not a url at all ===").is_err());
    }
}
