//! What identifies one probed endpoint. XAgents whose dependencies map to the
//! same key share one probe, so the key holds everything that could make two
//! probes answer differently, and nothing more (never the password itself).

use super::Dependency;
use crate::crd::{self, PostgresSpec, RedisSpec, SslMode};

/// One distinct endpoint: XAgents that agree on all of it share one probe.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndpointKey {
    /// A Redis server and logical database.
    Redis(RedisEndpoint),
    /// A PostgreSQL database, as one user.
    Postgres(PostgresEndpoint),
}

/// Where and how to reach one Redis.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RedisEndpoint {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Logical database selected after AUTH.
    pub database: i32,
    /// Whether to connect with TLS.
    pub tls: bool,
    /// Where the password is; `None` for a server without AUTH.
    pub secret: Option<SecretKeyRef>,
}

/// Where and how to reach one PostgreSQL database.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PostgresEndpoint {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Database name.
    pub database: String,
    /// Role to log in as.
    pub user: String,
    /// TLS mode, as libpq names it.
    pub ssl_mode: SslMode,
    /// Where the password is; `None` to log in without one.
    pub secret: Option<SecretKeyRef>,
}

/// A key of a Secret, namespace included: the CRD's reference is relative to
/// the XAgent, but XAgents of different namespaces must not share credentials.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretKeyRef {
    /// Namespace of the Secret (the XAgent's).
    pub namespace: String,
    /// Secret name.
    pub name: String,
    /// Key inside the Secret.
    pub key: String,
}

impl SecretKeyRef {
    /// The CRD's reference, resolved in the XAgent's `namespace`.
    pub fn in_namespace(namespace: &str, r: &crd::SecretKeyRef) -> Self {
        Self { namespace: namespace.to_string(), name: r.name.clone(), key: r.key.clone() }
    }
}

impl EndpointKey {
    /// Which dependency this endpoint serves.
    pub fn dependency(&self) -> Dependency {
        match self {
            Self::Redis(_) => Dependency::Redis,
            Self::Postgres(_) => Dependency::Postgres,
        }
    }

    /// The password Secret to read before probing, if any.
    pub fn secret(&self) -> Option<&SecretKeyRef> {
        match self {
            Self::Redis(r) => r.secret.as_ref(),
            Self::Postgres(p) => p.secret.as_ref(),
        }
    }
}

impl RedisEndpoint {
    /// The endpoint of an XAgent in `namespace` whose spec.redis is `spec`.
    pub fn of(spec: &RedisSpec, namespace: &str) -> Self {
        Self {
            host: spec.host.clone(),
            // The schema bounds the port; the default covers an unvalidated object.
            port: u16::try_from(spec.port).unwrap_or(6379),
            database: spec.database,
            tls: spec.tls,
            secret: spec.password_secret_ref.as_ref().map(|r| SecretKeyRef::in_namespace(namespace, r)),
        }
    }
}

impl PostgresEndpoint {
    /// The endpoint of an XAgent in `namespace` whose spec.postgres is `spec`.
    pub fn of(spec: &PostgresSpec, namespace: &str) -> Self {
        Self {
            host: spec.host.clone(),
            port: u16::try_from(spec.port).unwrap_or(5432),
            database: spec.database.clone(),
            user: spec.user.clone(),
            ssl_mode: spec.ssl_mode,
            secret: spec.password_secret_ref.as_ref().map(|r| SecretKeyRef::in_namespace(namespace, r)),
        }
    }
}
