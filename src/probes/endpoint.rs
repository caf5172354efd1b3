//! What identifies one probed endpoint. XAgents whose dependencies map to the
//! same key share one probe, so the key holds everything that could make two
//! probes answer differently, and nothing more (never the password itself).

use super::Dependency;
use crate::crd::{self, CaSource, PostgresSpec, RedisSpec, SslMode};

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
    /// How the server's certificate is checked; `None` for plaintext.
    pub tls: Option<Trust>,
    /// Where the password is; `None` for a server without AUTH.
    pub secret: Option<KeyRef>,
    /// Whether the XAgent allows its password over an unverified transport.
    pub allow_insecure_password: bool,
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
    /// CA and name for `verify-ca` / `verify-full` (its `verify` follows `ssl_mode`).
    pub trust: Trust,
    /// Where the password is; `None` to log in without one.
    pub secret: Option<KeyRef>,
    /// Whether the XAgent allows its password over an unverified transport.
    pub allow_insecure_password: bool,
}

/// How much of a server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verify {
    /// Nothing: encrypted, but anyone on the path can pose as the server.
    Nothing,
    /// That it chains to a trusted CA (libpq `verify-ca`).
    Chain,
    /// That it chains to a trusted CA and is valid for the server's name.
    ChainAndName,
}

impl Verify {
    /// What libpq's `mode` checks of the certificate.
    pub fn of(mode: SslMode) -> Self {
        match mode {
            SslMode::VerifyFull => Self::ChainAndName,
            SslMode::VerifyCa => Self::Chain,
            SslMode::Disable | SslMode::Prefer | SslMode::Require => Self::Nothing,
        }
    }
}

/// What a TLS connection to one endpoint trusts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Trust {
    /// How much is checked.
    pub verify: Verify,
    /// Where the CA certificates are; `None` for the system bundle.
    pub ca: Option<CaRef>,
    /// The name the certificate must carry, when not the host.
    pub server_name: Option<String>,
}

/// Where a CA bundle is kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CaRef {
    /// In a Secret.
    Secret(KeyRef),
    /// In a ConfigMap.
    ConfigMap(KeyRef),
}

/// A key of a Secret or ConfigMap, namespace included: the CRD's reference is
/// relative to the XAgent, but XAgents of different namespaces must not
/// share what they read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyRef {
    /// Namespace of the object (the XAgent's).
    pub namespace: String,
    /// Object name.
    pub name: String,
    /// Key inside the object's data.
    pub key: String,
}

impl KeyRef {
    /// The CRD's Secret reference, resolved in the XAgent's `namespace`.
    pub fn in_namespace(namespace: &str, r: &crd::SecretKeyRef) -> Self {
        Self { namespace: namespace.to_string(), name: r.name.clone(), key: r.key.clone() }
    }
}

impl CaRef {
    /// The CRD's CA source, resolved in the XAgent's `namespace`.
    pub fn of(source: &CaSource, namespace: &str) -> Option<Self> {
        let key = |name: &str, key: &str| KeyRef {
            namespace: namespace.into(),
            name: name.into(),
            key: key.into(),
        };
        match (&source.secret_ref, &source.config_map_ref) {
            (Some(s), _) => Some(Self::Secret(key(&s.name, &s.key))),
            (None, Some(c)) => Some(Self::ConfigMap(key(&c.name, &c.key))),
            (None, None) => None,
        }
    }
}

impl CaRef {
    /// The key reference, whichever kind holds it.
    pub fn key_ref(&self) -> &KeyRef {
        match self {
            Self::Secret(k) | Self::ConfigMap(k) => k,
        }
    }
}

impl std::fmt::Display for CaRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Self::Secret(_) => "Secret",
            Self::ConfigMap(_) => "ConfigMap",
        };
        let k = self.key_ref();
        write!(f, "{kind} {}/{}", k.namespace, k.name)
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
    pub fn secret(&self) -> Option<&KeyRef> {
        match self {
            Self::Redis(r) => r.secret.as_ref(),
            Self::Postgres(p) => p.secret.as_ref(),
        }
    }

    /// The CA bundle to read before probing, if any.
    pub fn ca(&self) -> Option<&CaRef> {
        match self {
            Self::Redis(r) => r.tls.as_ref().and_then(|t| t.ca.as_ref()),
            Self::Postgres(p) => p.trust.ca.as_ref(),
        }
    }
}

impl RedisEndpoint {
    /// The endpoint of an XAgent in `namespace` whose spec.redis is `spec`.
    pub fn of(spec: &RedisSpec, namespace: &str) -> Self {
        let verify = if spec.insecure_skip_verify { Verify::Nothing } else { Verify::ChainAndName };
        let trust = |verify| Trust {
            verify,
            ca: spec.ca.as_ref().and_then(|c| CaRef::of(c, namespace)),
            server_name: spec.server_name.clone(),
        };
        Self {
            host: spec.host.clone(),
            // The schema bounds the port; the default covers an unvalidated object.
            port: u16::try_from(spec.port).unwrap_or(6379),
            database: spec.database,
            tls: spec.tls.then(|| trust(verify)),
            secret: spec.password_secret_ref.as_ref().map(|r| KeyRef::in_namespace(namespace, r)),
            allow_insecure_password: spec.allow_insecure_password,
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
            trust: Trust {
                verify: Verify::of(spec.ssl_mode),
                ca: spec.ca.as_ref().and_then(|c| CaRef::of(c, namespace)),
                server_name: spec.server_name.clone(),
            },
            secret: spec.password_secret_ref.as_ref().map(|r| KeyRef::in_namespace(namespace, r)),
            allow_insecure_password: spec.allow_insecure_password,
        }
    }
}
