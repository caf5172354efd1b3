//! PostgreSQL probe: connect with credentials, `SELECT 1`, then connections in
//! use against max_connections.

use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

use tokio::net::{TcpStream, UnixStream};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;
use tracing::debug;

use super::cleartext::{CleartextGuard, Socket};
use super::endpoint::{PostgresEndpoint, Trust, Verify};
use super::error::{ProbeError, Redacted};
use super::tls::TlsClient;
use super::{Dependency, ProbeResult};
use crate::crd;

/// Where and how to reach one PostgreSQL.
#[derive(Clone)]
pub struct PostgresTarget {
    config: Config,
    /// The mode as libpq names it: tokio-postgres knows only the first three.
    mode: crd::SslMode,
    /// The TLS client for every mode but `disable`.
    tls: Option<TlsClient>,
    /// Whether the password may go to a server that is not verified.
    allow_insecure_password: bool,
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
        f.debug_struct("PostgresTarget")
            .field("hosts", &hosts)
            .field("sslmode", &self.mode.as_str())
            .finish_non_exhaustive()
    }
}

impl PostgresTarget {
    /// The target for `endpoint`, logging in with `password` and trusting the
    /// CA certificates in `ca_pem` (when the endpoint names a CA).
    pub fn new(
        endpoint: &PostgresEndpoint,
        password: Option<&str>,
        ca_pem: Option<&[u8]>,
    ) -> Result<Self, ProbeError> {
        let mut config = Config::new();
        config
            .host(&endpoint.host)
            .port(endpoint.port)
            .dbname(&endpoint.database)
            .user(&endpoint.user)
            .application_name("xagent-operator-probe");
        if let Some(p) = password {
            config.password(p);
        }
        let tls = match endpoint.ssl_mode {
            crd::SslMode::Disable => None,
            _ => Some(TlsClient::new(&endpoint.trust, ca_pem)?),
        };
        Ok(Self::with(config, endpoint.ssl_mode, tls, endpoint.allow_insecure_password))
    }

    /// A target from a `postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=...` URL
    /// or key=value string. `sslmode` takes libpq's values (`verify-ca` and
    /// `verify-full` check against `ca_pem`, else the system CA bundle); the
    /// URL is the caller's own explicit choice, so its password may go where
    /// it says, but never in cleartext over plaintext.
    pub fn from_url(url: &str, ca_pem: Option<&[u8]>) -> Result<Self, ProbeError> {
        let invalid = |detail: String| ProbeError::InvalidUrl { dependency: Dependency::Postgres, detail };
        let (rest, mode) = split_ssl_mode(url).map_err(invalid)?;
        let config = Config::from_str(&rest).map_err(|e| invalid(e.to_string()))?;
        if config.get_hosts().is_empty() {
            return Err(invalid("no host".into()));
        }
        let tls = match mode {
            crd::SslMode::Disable => None,
            _ => Some(TlsClient::new(
                &Trust { verify: Verify::of(mode), ca: None, server_name: None },
                ca_pem,
            )?),
        };
        Ok(Self::with(config, mode, tls, true))
    }

    fn with(
        mut config: Config,
        mode: crd::SslMode,
        tls: Option<TlsClient>,
        allow_insecure_password: bool,
    ) -> Self {
        config.ssl_mode(match mode {
            crd::SslMode::Disable => SslMode::Disable,
            crd::SslMode::Prefer => SslMode::Prefer,
            crd::SslMode::Require | crd::SslMode::VerifyCa | crd::SslMode::VerifyFull => SslMode::Require,
        });
        Self { config, mode, tls, allow_insecure_password }
    }

    fn password(&self) -> Option<String> {
        self.config.get_password().map(|p| String::from_utf8_lossy(p).into_owned())
    }

    fn unverified(&self) -> bool {
        self.tls.as_ref().is_none_or(|t| t.verify == Verify::Nothing)
    }
}

/// `url` without its `sslmode` parameter, and that mode (libpq's default,
/// `prefer`, when absent): tokio-postgres does not parse `verify-ca` and
/// `verify-full`, so the mode is taken out before it parses the rest.
fn split_ssl_mode(url: &str) -> Result<(String, crd::SslMode), String> {
    static PATTERN: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"(^|[?&\s])sslmode=([^&\s]*)").expect("a valid pattern"));
    let Some(found) = PATTERN.captures(url) else { return Ok((url.to_string(), crd::SslMode::Prefer)) };
    let mode = match &found[2] {
        "disable" => crd::SslMode::Disable,
        "prefer" => crd::SslMode::Prefer,
        "require" => crd::SslMode::Require,
        "verify-ca" => crd::SslMode::VerifyCa,
        "verify-full" => crd::SslMode::VerifyFull,
        other => return Err(format!("unknown sslmode {other:?}")),
    };
    let whole = found.get(0).expect("the whole match");
    let (before, after) = (&url[..whole.start()], &url[whole.end()..]);
    let rest = match &found[1] {
        // A URL parameter: keep its separator, drop the next one's.
        lead @ ("?" | "&") => format!("{before}{lead}{}", after.strip_prefix('&').unwrap_or(after)),
        lead => format!("{before}{lead}{after}"),
    };
    let rest = rest.trim_end_matches(['?', '&', ' ']).to_string();
    Ok((rest, mode))
}

/// Probes `target` within `timeout` (connect, authenticate and query together).
/// A password that would reach an unverified server without the XAgent's
/// leave is refused before any connection is made.
pub async fn probe(target: &PostgresTarget, timeout: Duration) -> ProbeResult {
    let check = async {
        let exposed = target.password().is_some() && target.unverified();
        super::refuse_insecure_password(Dependency::Postgres, exposed, target.allow_insecure_password)?;
        select_one(target).await
    };
    let transport = match &target.tls {
        Some(tls) if target.mode != crd::SslMode::Prefer => tls.describe(),
        Some(_) => "TLS or plaintext (sslmode prefer)",
        None => "plaintext",
    };
    super::timed(timeout, &format!("SELECT 1 answered over {transport}"), check).await
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
    let (client, driver) = connect(target).await.map_err(|e| match e {
        ConnectError::Probe(e) => e,
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

async fn connect(target: &PostgresTarget) -> Result<Connected, ConnectError> {
    let config = &target.config;
    match (&target.tls, target.mode) {
        (None, _) => connect_plain(config).await,
        // prefer: TLS when offered; like libpq, plaintext when the TLS handshake fails.
        (Some(tls), crd::SslMode::Prefer) => match connect_tls(config, tls).await {
            // The server answered (e.g. wrong password): that answer stands.
            Err(ConnectError::Driver(e)) if e.as_db_error().is_some() => Err(ConnectError::Driver(e)),
            Err(_) => {
                let mut plain = config.clone();
                plain.ssl_mode(SslMode::Disable);
                connect_plain(&plain).await
            }
            connected => connected,
        },
        (Some(tls), _) => connect_tls(config, tls).await,
    }
}

type Connected = (tokio_postgres::Client, tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>);

/// Plaintext, through the guard that fails the connection when the server
/// asks for the password in cleartext (which tokio-postgres would answer).
async fn connect_plain(config: &Config) -> Result<Connected, ConnectError> {
    let stream = guarded_stream(config).await.map_err(ConnectError::Probe)?;
    let (client, connection) = config.connect_raw(stream, NoTls).await?;
    Ok((client, tokio::spawn(connection)))
}

/// The first host's socket, TCP or Unix, behind the cleartext guard.
async fn guarded_stream(config: &Config) -> Result<CleartextGuard<Socket>, ProbeError> {
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let socket = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => {
            let tcp = TcpStream::connect((host.as_str(), port)).await;
            tcp.map(|s| Box::new(s) as Socket).map_err(|e| io_failure(&format!("{host}:{port}"), &e))?
        }
        Some(Host::Unix(dir)) => {
            let path = dir.join(format!(".s.PGSQL.{port}"));
            let unix = UnixStream::connect(&path).await;
            unix.map(|s| Box::new(s) as Socket).map_err(|e| io_failure(&path.display().to_string(), &e))?
        }
        None => {
            return Err(ProbeError::InvalidUrl {
                dependency: Dependency::Postgres,
                detail: "no host".into(),
            });
        }
    };
    Ok(CleartextGuard::new(socket))
}

fn io_failure(address: &str, e: &std::io::Error) -> ProbeError {
    // No password has been sent yet; nothing to redact.
    ProbeError::from_chain(e, Redacted::new(&format!("{address}: {e}"), None), ProbeError::ConnectFailed)
}

async fn connect_tls(config: &Config, tls: &TlsClient) -> Result<Connected, ConnectError> {
    let connector = MakeRustlsConnect::new((*tls.config).clone());
    let (client, connection) = config.connect(connector).await?;
    Ok((client, tokio::spawn(connection)))
}

/// A failed connection attempt, kept raw because the prefer fallback depends
/// on whether the server itself answered.
#[derive(Debug)]
enum ConnectError {
    /// Failed before the driver took over (socket or guard).
    Probe(ProbeError),
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
    use crate::probes::endpoint::Verify;

    fn endpoint(ssl_mode: crd::SslMode, verify: Verify) -> PostgresEndpoint {
        PostgresEndpoint {
            host: "pg".into(),
            port: 5433,
            database: "db".into(),
            user: "app".into(),
            ssl_mode,
            trust: Trust { verify, ca: None, server_name: None },
            secret: None,
            allow_insecure_password: false,
        }
    }

    #[test]
    fn endpoints_become_targets() {
        let t =
            PostgresTarget::new(&endpoint(crd::SslMode::Require, Verify::Nothing), Some("pw"), None).unwrap();
        assert_eq!(t.config.get_hosts(), &[Host::Tcp("pg".into())]);
        assert_eq!(
            (t.config.get_ports(), t.config.get_dbname(), t.config.get_user()),
            (&[5433][..], Some("db"), Some("app"))
        );
        assert_eq!((t.config.get_ssl_mode(), t.password().as_deref()), (SslMode::Require, Some("pw")));
        assert!(t.unverified());
        let plain =
            PostgresTarget::new(&endpoint(crd::SslMode::Disable, Verify::Nothing), None, None).unwrap();
        assert_eq!(
            (plain.config.get_ssl_mode(), plain.password(), plain.tls.is_none()),
            (SslMode::Disable, None, true)
        );
    }

    #[test]
    fn urls_parse_and_debug_hides_the_password() {
        let t =
            PostgresTarget::from_url("postgres://app:hunter2@127.0.0.1:5433/xagent?sslmode=disable", None)
                .unwrap();
        assert_eq!(t.password().as_deref(), Some("hunter2"));
        assert!(!format!("{t:?}").contains("hunter2"));
        assert!(PostgresTarget::from_url("postgres://", None).is_err());
        assert!(PostgresTarget::from_url("not a url at all ===", None).is_err());
    }

    #[test]
    fn libpq_modes_are_taken_out_of_urls_and_key_value_strings() {
        let cases = [
            ("postgres://h/db?sslmode=verify-full", "postgres://h/db", crd::SslMode::VerifyFull),
            (
                "postgres://h/db?sslmode=verify-ca&application_name=x",
                "postgres://h/db?application_name=x",
                crd::SslMode::VerifyCa,
            ),
            (
                "postgres://h/db?connect_timeout=3&sslmode=require",
                "postgres://h/db?connect_timeout=3",
                crd::SslMode::Require,
            ),
            ("postgres://h/db?a=1&sslmode=require&b=2", "postgres://h/db?a=1&b=2", crd::SslMode::Require),
            ("host=h sslmode=disable user=u", "host=h user=u", crd::SslMode::Disable),
            ("host=h user=u", "host=h user=u", crd::SslMode::Prefer),
        ];
        for (url, rest, mode) in cases {
            let (got_rest, got_mode) = split_ssl_mode(url).unwrap();
            assert_eq!(
                (got_rest.split_whitespace().collect::<Vec<_>>().join(" "), got_mode),
                (rest.to_string(), mode),
                "{url}"
            );
        }
        assert!(split_ssl_mode("host=h sslmode=sometimes").unwrap_err().contains("sometimes"));
    }
}
