//! The operator's HTTP endpoint: `/metrics`, `/healthz`, `/readyz`.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
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

/// Serves on an already bound listener until the task is dropped.
pub async fn serve_on(listener: TcpListener, endpoint: Arc<Endpoint>) -> std::io::Result<()> {
    info!(address = %listener.local_addr()?, "serving /metrics, /healthz, /readyz");
    loop {
        let (stream, _) = listener.accept().await?;
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let response = respond(&endpoint, req.method(), req.uri().path());
                async move { Ok::<_, Infallible>(response) }
            });
            if let Err(e) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                debug!(error = %e, "metrics connection ended with an error");
            }
        });
    }
}
