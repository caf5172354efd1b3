//! The Kubernetes client the operator runs with: kube's, from the inferred
//! config (KUBECONFIG or in-cluster), behind a client-side request rate
//! limit like client-go's QPS, so that no bug or storm of watch events can
//! make the operator flood the API server, and with connect and read
//! timeouts, so that no hung connection (a stalled proxy or load balancer)
//! can hold a watch or a reconcile forever.

use std::time::Duration;

use kube::Client;
use kube::client::ClientBuilder;
use kube::runtime::watcher;
use tower::limit::RateLimitLayer;

/// Requests per second the operator sends at most, unless told otherwise.
pub const DEFAULT_QPS: u32 = 50;

/// How long a TCP connect to the API server may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request may wait for a byte from the API server before it
/// fails (kube sets none). Watches are guarded by the watcher's own idle
/// timeout, a few seconds past [`WATCH_TIMEOUT_SECONDS`].
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Seconds after which the API server ends each watch and the watcher
/// resumes it from its last resource version. kube's watcher gives up on a
/// watch that stays silent a little longer than this, so it also bounds how
/// long a hung watch connection holds the operator (the default, 290 s,
/// would be five minutes): below [`READ_TIMEOUT`].
pub const WATCH_TIMEOUT_SECONDS: u32 = 50;

/// Every watch of the operator: ended by the server within a minute.
pub fn watch_config() -> watcher::Config {
    watcher::Config::default().timeout(WATCH_TIMEOUT_SECONDS)
}

/// Why no client could be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Neither a kubeconfig nor the in-cluster environment was usable.
    #[error("finding the Kubernetes configuration failed: {0}")]
    Config(#[from] kube::config::InferConfigError),
    /// The configuration could not be turned into a client.
    #[error("building the Kubernetes client failed: {0}")]
    Build(#[from] kube::Error),
}

/// A client sending at most `qps` requests per second (a long-lived watch
/// counts once, when it starts); requests beyond wait their turn.
pub async fn rate_limited(qps: u32) -> Result<Client, ClientError> {
    let mut config = kube::Config::infer().await?;
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    config.write_timeout = Some(READ_TIMEOUT);
    // Count from each request, not from when its pooled connection went idle.
    config.reset_reader_on_write = true;
    let limit = RateLimitLayer::new(u64::from(qps.max(1)), Duration::from_secs(1));
    Ok(ClientBuilder::try_from(config)?.with_layer(&limit).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_ends_watches_before_the_read_timeout_would() {
        assert!(Duration::from_secs(WATCH_TIMEOUT_SECONDS.into()) + Duration::from_secs(5) < READ_TIMEOUT);
        assert_eq!(watch_config().timeout, Some(WATCH_TIMEOUT_SECONDS));
    }
}
