//! The dependency CAs, mounted into the application containers: an XAgent
//! names its Redis and PostgreSQL CA once (`spec.redis.ca`,
//! `spec.postgres.ca`), and the platform verifies its own connections
//! against the same certificates the operator's probe does.
//!
//! Each CA key is projected as `ca.crt` into a directory of its own, and the
//! container learns the file from the environment (`REDIS_TLS_CA_FILE`;
//! `POSTGRES_SSLROOTCERT` and libpq's own `PGSSLROOTCERT`).

use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, EnvVar, KeyToPath, SecretVolumeSource, Volume, VolumeMount,
};

use super::pod::plain;
use crate::crd::{CaSource, PostgresSpec, RedisSpec, XAgent};

/// Where the Redis CA is mounted.
pub const REDIS_CA_DIR: &str = "/etc/xagent/tls/redis";
/// Where the PostgreSQL CA is mounted.
pub const POSTGRES_CA_DIR: &str = "/etc/xagent/tls/postgres";
/// The file name of each projected CA.
const CA_FILE: &str = "ca.crt";

/// One CA as a volume, its mount and the file it puts there.
struct Mounted {
    volume: Volume,
    mount: VolumeMount,
}

fn mounted(volume_name: &str, dir: &str, source: &CaSource) -> Option<Mounted> {
    let item = |key: &str| Some(vec![KeyToPath { key: key.into(), path: CA_FILE.into(), mode: None }]);
    let mut volume = Volume { name: volume_name.into(), ..Volume::default() };
    match (&source.secret_ref, &source.config_map_ref) {
        (Some(s), _) => {
            volume.secret = Some(SecretVolumeSource {
                secret_name: Some(s.name.clone()),
                items: item(&s.key),
                ..Default::default()
            })
        }
        (None, Some(c)) => {
            volume.config_map = Some(ConfigMapVolumeSource {
                name: c.name.clone(),
                items: item(&c.key),
                ..Default::default()
            })
        }
        (None, None) => return None,
    }
    let mount = VolumeMount {
        name: volume_name.into(),
        mount_path: dir.into(),
        read_only: Some(true),
        ..VolumeMount::default()
    };
    Some(Mounted { volume, mount })
}

fn redis_ca(redis: &RedisSpec) -> Option<Mounted> {
    redis.ca.as_ref().filter(|_| redis.tls).and_then(|ca| mounted("redis-ca", REDIS_CA_DIR, ca))
}

fn postgres_ca(postgres: &PostgresSpec) -> Option<Mounted> {
    postgres.ca.as_ref().and_then(|ca| mounted("postgres-ca", POSTGRES_CA_DIR, ca))
}

fn all(xagent: &XAgent) -> Vec<Mounted> {
    let spec = &xagent.spec;
    spec.redis
        .as_deref()
        .and_then(redis_ca)
        .into_iter()
        .chain(spec.postgres.as_deref().and_then(postgres_ca))
        .collect()
}

/// The CA volumes an application pod needs.
pub fn volumes(xagent: &XAgent) -> Vec<Volume> {
    all(xagent).into_iter().map(|m| m.volume).collect()
}

/// Their read-only mounts in the application container.
pub fn mounts(xagent: &XAgent) -> Vec<VolumeMount> {
    all(xagent).into_iter().map(|m| m.mount).collect()
}

/// How the container checks Redis's certificate.
pub fn redis_env(redis: &RedisSpec) -> Vec<EnvVar> {
    let mut env = Vec::new();
    if redis_ca(redis).is_some() {
        env.push(plain("REDIS_TLS_CA_FILE", &format!("{REDIS_CA_DIR}/{CA_FILE}")));
    }
    if let Some(name) = redis.server_name.as_deref().filter(|_| redis.tls) {
        env.push(plain("REDIS_TLS_SERVER_NAME", name));
    }
    if redis.tls && redis.insecure_skip_verify {
        env.push(plain("REDIS_TLS_INSECURE_SKIP_VERIFY", "true"));
    }
    env
}

/// How the container checks PostgreSQL's certificate.
pub fn postgres_env(postgres: &PostgresSpec) -> Vec<EnvVar> {
    let mut env = Vec::new();
    if postgres_ca(postgres).is_some() {
        let file = format!("{POSTGRES_CA_DIR}/{CA_FILE}");
        env.push(plain("POSTGRES_SSLROOTCERT", &file));
        env.push(plain("PGSSLROOTCERT", &file));
    }
    if let Some(name) = &postgres.server_name {
        env.push(plain("POSTGRES_SSL_SERVER_NAME", name));
    }
    env
}
