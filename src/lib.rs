#![warn(missing_docs)]
//! xagent-operator: runs the X-Agent platform from one `XAgent` custom resource.
//!
//! Data flows one way: [`crd`] types → [`validate`] → [`builders`] (desired
//! children, pure) → [`controller`] (apply, observe, status).

pub mod builders;
pub mod client;
pub mod controller;
pub mod crd;
pub mod digest;
pub mod error;
pub mod http;
pub mod leader;
pub mod metrics;
#[cfg(test)]
mod mock_api;
pub mod policy;
pub mod probes;
pub mod rbac;
pub mod render;
pub mod telemetry;
pub mod validate;
