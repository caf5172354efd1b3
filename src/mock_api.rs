//! The one mock API server of the unit tests, for tests whose point is the
//! exact request sequence (everything else runs against a real API server in
//! `tests/cluster`).
//!
//! A scenario gives [`serve`] a function that answers each request; every
//! request is recorded, method, URL and body, and handed back once every
//! clone of the client is dropped, so a test can assert the whole sequence.

use http::{Method, Request, Response, StatusCode};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// One request the code under test sent.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// HTTP method.
    pub method: Method,
    /// Path and query, as sent.
    pub uri: String,
    /// Path only, for matching objects.
    pub path: String,
    /// The JSON body (`Null` when there was none).
    pub body: Value,
}

impl Recorded {
    /// `METHOD URI`, the form the tests assert sequences in.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.uri)
    }
}

/// A `Status` object as the API server sends with an error.
pub fn status(code: u16, reason: &str) -> Value {
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": reason, "reason": reason, "code": code
    })
}

/// A client for `namespace` whose requests `answer` replies to with a status
/// code and a JSON body. The handle resolves to every request, in order, once
/// the client and all its clones are dropped.
pub fn serve<F>(namespace: &str, mut answer: F) -> (Client, JoinHandle<Vec<Recorded>>)
where
    F: FnMut(&Recorded) -> (u16, Value) + Send + 'static,
{
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let recorder = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some((request, send)) = handle.next_request().await {
            let (method, uri, path) =
                (request.method().clone(), request.uri().to_string(), request.uri().path().to_string());
            let bytes = request.into_body().collect_bytes().await.unwrap_or_default();
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let recorded = Recorded { method, uri, path, body };
            let (code, reply) = answer(&recorded);
            seen.push(recorded);
            let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = Body::from(serde_json::to_vec(&reply).unwrap_or_default());
            if let Ok(response) = Response::builder().status(code).body(body) {
                send.send_response(response);
            }
        }
        seen
    });
    (Client::new(service, namespace), recorder)
}
