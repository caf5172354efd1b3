//! PostgreSQL probe: connect with credentials, `SELECT 1`, then connections in
//! use against max_connections.

use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Config, NoTls};
use tracing::debug;

use super::endpoint::PostgresEndpoint;
use super::error::{ProbeError, Redacted};
use super::{Dependency, ProbeResult};
use crate::crd;

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
    /// The target for `endpoint`, logging in with `password`.
    pub fn new(endpoint: &PostgresEndpoint, password: Option<&str>) -> Self {
        let mut config = Config::new();
        config
            .host(&endpoint.host)
            .port(endpoint.port)
            .dbname(&endpoint.database)
            .user(&endpoint.user)
            .application_name("xagent-operator-probe")
            .ssl_mode(match endpoint.ssl_mode {
                crd::SslMode::Disable => SslMode::Disable,
                crd::SslMode::Prefer => SslMode::Prefer,
                crd::SslMode::Require => SslMode::Require,
            });
        if let Some(p) = password {
            config.password(p);
        }
        Self { config }
    }

    /// A target from a `postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=...` URL or key=value string.
    pub fn from_url(url: &str) -> Result<Self, ProbeError> {
        let invalid = |detail: String| ProbeError::InvalidUrl { dependency: Dependency::Postgres, detail };
        let config = Config::from_str(url).map_err(|e| invalid(e.to_string()))?;
        if config.get_hosts().is_empty() {
            return Err(invalid("no host".into()));
        }
        Ok(Self { config })
    }

    fn password(&self) -> Option<String> {
        self.config.get_password().map(|p| String::from_utf8_lossy(p).into_owned())
    }
}

/// Probes `target` within `timeout` (connect, authenticate and query together).
pub async fn probe(target: &PostgresTarget, timeout: Duration) -> ProbeResult {
    super::timed(timeout, "SELECT 1 answered", select_one(target)).await
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

/// The typed failure behind `e`, its message without `password`; `otherwise`
/// when neither the server nor the transport says more.
fn failure(
    e: &tokio_postgres::Error,
    password: Option<&str>,
    otherwise: fn(Redacted) -> ProbeError,
) -> ProbeError {
    let detail = Redacted::new(&describe(e), password);
    match e.code() {
        Some(code) if refuses_login(code) => ProbeError::AuthenticationFailed(detail),
        Some(code) if *code == SqlState::INVALID_CATALOG_NAME => ProbeError::DatabaseNotFound(detail),
        Some(_) => ProbeError::CommandFailed(detail),
        None => ProbeError::from_chain(e, detail, otherwise),
    }
}

/// Class 28: the server refused the login, for the password or by pg_hba.conf.
fn refuses_login(code: &SqlState) -> bool {
    [SqlState::INVALID_PASSWORD, SqlState::INVALID_AUTHORIZATION_SPECIFICATION].contains(code)
}

async fn select_one(target: &PostgresTarget) -> Result<Option<f64>, ProbeError> {
    let password = target.password();
    let (client, driver) = connect(&target.config).await.map_err(|e| match e {
        ConnectError::TlsSetup(e) => ProbeError::TlsSetup(e),
        ConnectError::Driver(e) => failure(&e, password.as_deref(), ProbeError::ConnectFailed),
    })?;
    let result = query(&client).await;
    // Dropping the client sends Terminate; give the driver a moment to say
    // goodbye properly so the server logs no broken connection.
    drop(client);
    if tokio::time::timeout(Duration::from_millis(500), driver).await.is_err() {
        debug!("PostgreSQL connection did not close in time");
    }
    result.map_err(|e| failure(&e, password.as_deref(), ProbeError::CommandFailed))
}

async fn connect(config: &Config) -> Result<Connected, ConnectError> {
    match config.get_ssl_mode() {
        SslMode::Disable => connect_plain(config).await,
        // prefer: TLS when offered; like libpq, plaintext when the TLS handshake fails.
        SslMode::Prefer => match connect_tls(config).await {
            // The server answered (e.g. wrong password): that answer stands.
            Err(ConnectError::Driver(e)) if e.as_db_error().is_some() => Err(ConnectError::Driver(e)),
            Err(_) => {
                let mut plain = config.clone();
                plain.ssl_mode(SslMode::Disable);
                connect_plain(&plain).await
            }
            connected => connected,
        },
        _ => connect_tls(config).await,
    }
}

type Connected = (tokio_postgres::Client, tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>);

async fn connect_plain(config: &Config) -> Result<Connected, ConnectError> {
    let (client, connection) = config.connect(NoTls).await?;
    Ok((client, tokio::spawn(connection)))
}

async fn connect_tls(config: &Config) -> Result<Connected, ConnectError> {
    let tls = super::tls::require_connector().map_err(ConnectError::TlsSetup)?;
    let (client, connection) = config.connect(tls).await?;
    Ok((client, tokio::spawn(connection)))
}

/// A failed connection attempt, kept raw because the prefer fallback depends
/// on whether the server itself answered.
#[derive(Debug)]
enum ConnectError {
    /// No TLS configuration could be built.
    TlsSetup(rustls::Error),
    /// The driver or the server refused.
    Driver(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for ConnectError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Driver(e)
    }
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
    fn endpoints_become_targets() {
        let endpoint = PostgresEndpoint {
            host: "pg".into(),
            port: 5433,
            database: "db".into(),
            user: "app".into(),
            ssl_mode: crd::SslMode::Require,
            secret: None,
        };
        let t = PostgresTarget::new(&endpoint, Some("pw"));
        assert_eq!(t.config.get_hosts(), &[Host::Tcp("pg".into())]);
        assert_eq!(
            (t.config.get_ports(), t.config.get_dbname(), t.config.get_user()),
            (&[5433][..], Some("db"), Some("app"))
        );
        assert_eq!((t.config.get_ssl_mode(), t.password().as_deref()), (SslMode::Require, Some("pw")));
        let modes = [(crd::SslMode::Disable, SslMode::Disable), (crd::SslMode::Prefer, SslMode::Prefer)];
        for (ours, libpq) in modes {
            let t = PostgresTarget::new(&PostgresEndpoint { ssl_mode: ours, ..endpoint.clone() }, None);
            assert_eq!((t.config.get_ssl_mode(), t.password()), (libpq, None));
        }
    }

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
