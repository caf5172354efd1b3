//! The Kubernetes client the operator runs with: kube's layers (base URL,
//! retries of 429/503/504, authentication, extra headers) from the inferred
//! config (KUBECONFIG or in-cluster), over one HTTP/2 connection where the
//! API server offers it, behind a client-side request rate limit like
//! client-go's QPS, so that no bug or storm of watch events can make the
//! operator flood the API server, and with connect and read timeouts and
//! HTTP/2 pings, so that no hung connection (a stalled proxy or load
//! balancer) can hold a watch or a reconcile forever.
//!
//! kube's own client speaks HTTP/1.1 only: a burst of concurrent applies
//! opens a TLS connection per request in flight, and the pool keeps them
//! all (about a hundred after 100 XAgents, each with its buffers and task).
//! client-go multiplexes everything on one HTTP/2 connection; so do we.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::Response;
use hyper::body::Incoming;

use hyper_rustls::{FixedServerNameResolver, HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::{self, connect::HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use kube::client::{Body, ClientBuilder, ConfigExt, retry::RetryPolicy};
use kube::runtime::watcher;
use kube::{Client, Config};
use tower::limit::RateLimitLayer;
use tower::retry::RetryLayer;
use tower::{BoxError, ServiceBuilder};

mod timed;

pub use timed::{Timed, TimedConnector};

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

/// How often an HTTP/2 connection is pinged, busy or idle: every request
/// shares it, so a dead one must be noticed before anything times out, and
/// an idle one must read a byte (the pong) within [`READ_TIMEOUT`].
pub const PING_INTERVAL: Duration = Duration::from_secs(20);

/// How long a ping may go unanswered before the connection, and every
/// request on it, is given up (and the next request connects anew).
pub const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// Flow-control window of one HTTP/2 stream (a watch, a response): what the
/// server may send on it before the operator reads, as client-go allows.
const STREAM_WINDOW: u32 = 4 << 20;

/// Flow-control window of the connection, far above the sum of the streams'
/// (client-go's): a watch the operator reads late must never hold up the
/// responses of the others sharing the connection.
const CONNECTION_WINDOW: u32 = 1 << 30;

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
    let mut config = Config::infer().await?;
    // The same timeouts for kube's own stack, used through a proxy.
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    config.write_timeout = Some(READ_TIMEOUT);
    // Count from each request, not from when its pooled connection went idle.
    config.reset_reader_on_write = true;
    let limit = RateLimitLayer::new(u64::from(qps.max(1)), Duration::from_secs(1));
    if config.proxy_url.is_some() {
        // Through a proxy, kube's own stack (HTTP/1.1), which knows proxies.
        return Ok(ClientBuilder::try_from(config)?.with_layer(&limit).build());
    }
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.default_retry.then(|| RetryLayer::new(RetryPolicy::server_retry())))
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(BoxError::from)
        .map_response(|response: Response<Incoming>| response.map(Fused::new))
        .service(multiplexed(&config)?);
    let builder = ClientBuilder::new(service, config.default_namespace.clone());
    let client = builder.with_layer(&limit).build();
    // One request before any other, so that the connection it opens has
    // negotiated HTTP/2 when the watches start together and share it; else
    // each of them opens its own while none knows the server speaks HTTP/2.
    // A server not up yet is the watches' to retry.
    if let Err(error) = client.apiserver_version().await {
        tracing::debug!(%error, "the API server did not answer its version");
    }
    Ok(client)
}

/// The connector: TLS from the config, offering HTTP/2 and HTTP/1.1 (the
/// server chooses), with the connect, read and write timeouts around it.
type Connector = TimedConnector<HttpsConnector<HttpConnector>>;

/// A pooled HTTP client that keeps one HTTP/2 connection to a server that
/// negotiates it, and pings it.
fn multiplexed(config: &Config) -> Result<legacy::Client<Connector, Body>, kube::Error> {
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    // Many small frames of many streams: without this, Nagle's algorithm
    // holds each write back until the last one is acknowledged.
    tcp.set_nodelay(true);
    let mut tls =
        HttpsConnectorBuilder::new().with_tls_config(config.rustls_client_config()?).https_or_http();
    if let Some(name) = config.tls_server_name.as_ref() {
        let name = name
            .clone()
            .try_into()
            .map_err(|e| kube::Error::RustlsTls(kube::client::RustlsTlsError::InvalidServerName(e)))?;
        tls = tls.with_server_name_resolver(FixedServerNameResolver::new(name));
    }
    let connector =
        TimedConnector::new(tls.enable_all_versions().wrap_connector(tcp), CONNECT_TIMEOUT, READ_TIMEOUT);
    Ok(legacy::Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .http2_keep_alive_interval(PING_INTERVAL)
        .http2_keep_alive_timeout(PING_TIMEOUT)
        .http2_keep_alive_while_idle(true)
        .http2_initial_stream_window_size(STREAM_WINDOW)
        .http2_initial_connection_window_size(CONNECTION_WINDOW)
        .build(connector))
}

/// A response body that ends after its first error, which it reports as
/// the body cut short ([`io::ErrorKind::UnexpectedEof`]).
///
/// An HTTP/1.1 watch on a dead connection ends in a read timeout, which
/// kube takes as the watch's end: the watcher resumes from its last
/// resourceVersion at once. When an HTTP/2 connection dies, every watch on
/// it fails at once with a broken pipe, which kube takes as an error: a
/// dozen watch errors, each backing off. Cut short is what the body was,
/// and so kube resumes each such watch as it does after a timeout; any
/// other request still fails (its body is incomplete JSON).
pub struct Fused<B> {
    inner: B,
    failed: bool,
}

impl<B> Fused<B> {
    /// Wraps `inner`.
    pub fn new(inner: B) -> Self {
        Self { inner, failed: false }
    }
}

impl<B> HttpBody for Fused<B>
where
    B: HttpBody + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        if self.failed {
            return Poll::Ready(None);
        }
        let polled = std::task::ready!(Pin::new(&mut self.inner).poll_frame(cx));
        self.failed = matches!(polled, Some(Err(_)));
        Poll::Ready(
            polled.map(|frame| frame.map_err(|e| io::Error::new(io::ErrorKind::UnexpectedEof, e.into()))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        if self.failed { SizeHint::with_exact(0) } else { self.inner.size_hint() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_ends_watches_before_the_read_timeout_would() {
        assert!(Duration::from_secs(WATCH_TIMEOUT_SECONDS.into()) + Duration::from_secs(5) < READ_TIMEOUT);
        assert_eq!(watch_config().timeout, Some(WATCH_TIMEOUT_SECONDS));
    }

    /// A body of `parts`, each a chunk or an error.
    fn body_of(
        parts: Vec<Result<&'static str, &'static str>>,
    ) -> impl HttpBody<Data = hyper::body::Bytes, Error = io::Error> + Unpin {
        let frames = parts.into_iter().map(|part| match part {
            Ok(chunk) => Ok(Frame::data(hyper::body::Bytes::from_static(chunk.as_bytes()))),
            Err(why) => Err(io::Error::new(io::ErrorKind::BrokenPipe, why)),
        });
        http_body_util::StreamBody::new(futures::stream::iter(frames))
    }

    #[tokio::test]
    async fn a_body_ends_after_its_first_error_which_reads_as_cut_short() {
        use http_body_util::BodyExt;
        let mut body = Fused::new(body_of(vec![Ok("{\"type\":"), Err("connection gone"), Ok("never read")]));
        let first = body.frame().await.expect("a frame").expect("the chunk");
        assert_eq!(first.into_data().expect("data"), "{\"type\":");
        let error = body.frame().await.expect("a frame").expect_err("the error");
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        assert!(error.to_string().contains("connection gone"), "{error}");
        assert!(body.is_end_stream());
        assert!(body.frame().await.is_none(), "nothing is read after the error");
    }

    #[tokio::test]
    async fn a_body_without_errors_passes_through_unchanged() {
        use http_body_util::BodyExt;
        let body = Fused::new(body_of(vec![Ok("a"), Ok("b")]));
        let all = body.collect().await.expect("the whole body").to_bytes();
        assert_eq!(all, "ab");
    }

    #[test]
    fn an_idle_connection_is_pinged_and_answers_before_the_read_timeout() {
        assert!(PING_INTERVAL + PING_TIMEOUT < READ_TIMEOUT);
    }
}
