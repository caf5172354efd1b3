//! The operator's HTTP endpoint: `/metrics`, `/healthz`, `/readyz`.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::{debug, info};

/// What the endpoint serves.
pub struct Endpoint {
    /// The metrics registry rendered at /metrics.
    pub registry: Registry,
    /// Set once the caches are synced; /readyz answers 503 until then.
    pub ready: AtomicBool,
}

impl Endpoint {
    /// An endpoint over `registry`, not yet ready.
    pub fn new(registry: Registry) -> Arc<Self> {
        Arc::new(Self { registry, ready: AtomicBool::new(false) })
    }

    /// Marks the operator ready.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}

/// Answers one request.
pub fn respond(endpoint: &Endpoint, method: &Method, path: &str) -> Response<Full<Bytes>> {
    const TEXT: &str = "text/plain; charset=utf-8";
    if method != Method::GET && method != Method::HEAD {
        return reply(StatusCode::METHOD_NOT_ALLOWED, TEXT, "method not allowed\n".into());
    }
    match path {
        "/metrics" => {
            let mut out = String::new();
            match prometheus_client::encoding::text::encode(&mut out, &endpoint.registry) {
                Ok(()) => {
                    reply(StatusCode::OK, "application/openmetrics-text; version=1.0.0; charset=utf-8", out)
                }
                Err(_) => reply(StatusCode::INTERNAL_SERVER_ERROR, TEXT, "encoding failed\n".into()),
            }
        }
        "/healthz" => reply(StatusCode::OK, TEXT, "ok\n".into()),
        "/readyz" if endpoint.ready.load(Ordering::Acquire) => reply(StatusCode::OK, TEXT, "ok\n".into()),
        "/readyz" => reply(StatusCode::SERVICE_UNAVAILABLE, TEXT, "caches not synced\n".into()),
        _ => reply(StatusCode::NOT_FOUND, TEXT, "not found\n".into()),
    }
}

/// Bounds on the endpoint's connections, so that a scraper gone wrong (or
/// anyone who can reach the port) cannot exhaust the operator's memory or
/// file descriptors with connections that never finish a request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections at most; more are closed at once.
    pub max_connections: usize,
    /// How long a request's headers may take to arrive (also the longest a
    /// kept-alive connection may sit idle before its next request).
    pub header_read_timeout: Duration,
    /// The longest a connection lives, however busy.
    pub max_lifetime: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 64,
            header_read_timeout: Duration::from_secs(10),
            max_lifetime: Duration::from_secs(120),
        }
    }
}

/// Serves on an already bound listener until the task is dropped.
pub async fn serve_on(listener: TcpListener, endpoint: Arc<Endpoint>) -> std::io::Result<()> {
    serve_limited(listener, endpoint, Limits::default()).await
}

/// [`serve_on`] within `limits`.
pub async fn serve_limited(
    listener: TcpListener,
    endpoint: Arc<Endpoint>,
    limits: Limits,
) -> std::io::Result<()> {
    info!(address = %listener.local_addr()?, "serving /metrics, /healthz, /readyz");
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let (stream, peer) = listener.accept().await?;
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            debug!(%peer, "metrics connection refused: too many open");
            drop(stream);
            continue;
        };
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let response = respond(&endpoint, req.method(), req.uri().path());
                async move { Ok::<_, Infallible>(response) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(limits.max_lifetime, connection).await {
                Ok(Err(e)) => debug!(error = %e, "metrics connection ended with an error"),
                Err(_) => debug!("metrics connection closed: lived too long"),
                Ok(Ok(())) => {}
            }
            drop(slot);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn endpoint(limits: Limits) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(serve_limited(listener, Endpoint::new(Registry::default()), limits));
        address
    }

    /// Whether the server closes `stream` within `within`.
    async fn closed(stream: &mut TcpStream, within: Duration) -> bool {
        let mut buf = [0u8; 512];
        loop {
            match tokio::time::timeout(within, stream.read(&mut buf)).await {
                Err(_) => return false,
                Ok(Ok(0) | Err(_)) => return true,
                Ok(Ok(_)) => continue, // e.g. a 408 before the close
            }
        }
    }

    async fn healthz(address: std::net::SocketAddr) -> String {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    }

    #[tokio::test]
    async fn connections_beyond_the_cap_are_closed_at_once() {
        let limits = Limits { max_connections: 2, ..Limits::default() };
        let address = endpoint(limits).await;
        let _held: Vec<TcpStream> =
            vec![TcpStream::connect(address).await.unwrap(), TcpStream::connect(address).await.unwrap()];
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut third = TcpStream::connect(address).await.unwrap();
        assert!(closed(&mut third, Duration::from_secs(5)).await, "a third connection was kept");
    }

    #[tokio::test]
    async fn a_request_that_never_finishes_its_headers_is_cut_off_and_frees_its_slot() {
        let limits = Limits {
            max_connections: 1,
            header_read_timeout: Duration::from_millis(200),
            ..Limits::default()
        };
        let address = endpoint(limits).await;
        let mut slow = TcpStream::connect(address).await.unwrap();
        slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        assert!(closed(&mut slow, Duration::from_secs(5)).await, "a half-sent request was kept open");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(healthz(address).await.starts_with("HTTP/1.1 200"), "the slot was not freed");
    }

    #[tokio::test]
    async fn a_connection_lives_no_longer_than_its_lifetime() {
        let limits = Limits { max_lifetime: Duration::from_millis(300), ..Limits::default() };
        let address = endpoint(limits).await;
        let mut idle = TcpStream::connect(address).await.unwrap();
        assert!(closed(&mut idle, Duration::from_secs(5)).await, "an idle connection was kept");
        assert!(healthz(address).await.starts_with("HTTP/1.1 200"));
    }
}
