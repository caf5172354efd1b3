//! The Kubernetes client the operator runs with: kube's, from the inferred
//! config (KUBECONFIG or in-cluster), behind a client-side request rate
//! limit like client-go's QPS, so that no bug or storm of watch events can
//! make the operator flood the API server.

use std::time::Duration;

use kube::Client;
use kube::client::ClientBuilder;
use tower::limit::RateLimitLayer;

/// Requests per second the operator sends at most, unless told otherwise.
pub const DEFAULT_QPS: u32 = 50;

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
    let config = kube::Config::infer().await?;
    let limit = RateLimitLayer::new(u64::from(qps.max(1)), Duration::from_secs(1));
    Ok(ClientBuilder::try_from(config)?.with_layer(&limit).build())
}
