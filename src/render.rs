//! Offline `render`: XAgent documents in, the children the operator would apply out.

use serde::Deserialize;

use crate::builders::{self, Child};
use crate::crd::XAgent;
use crate::validate::{self, InvalidXAgent};

/// Why a set of XAgent documents could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The input is not YAML.
    #[error("document {document}: invalid YAML: {cause}")]
    Yaml {
        /// 1-based position of the document in the stream.
        document: usize,
        /// The parser's report, with line and column. Not a `#[source]`: it is
        /// already in the message, and `{:#}` would print it twice.
        cause: serde_yaml::Error,
    },
    /// A document parsed but is not a valid XAgent.
    #[error(transparent)]
    Invalid(#[from] InvalidXAgent),
    /// The input held no documents at all.
    #[error("no XAgent found in the input")]
    Empty,
}

/// Parses and validates every XAgent in a multi-document YAML stream.
///
/// Empty documents (a stray `---`) are skipped, as kubectl does. Each document
/// goes through `serde_yaml::Value` first because its mappings reject duplicate
/// keys, as kubectl does, where a direct JSON conversion keeps the last one.
pub fn parse_documents(input: &str) -> Result<Vec<XAgent>, RenderError> {
    let mut xagents = Vec::new();
    for (i, doc) in serde_yaml::Deserializer::from_str(input).enumerate() {
        let document = i + 1;
        let yaml =
            serde_yaml::Value::deserialize(doc).map_err(|cause| RenderError::Yaml { document, cause })?;
        let value = yaml_to_json(yaml).map_err(|cause| RenderError::Yaml { document, cause })?;
        if value.is_null() {
            continue;
        }
        xagents.push(validate::parse_xagent(value, &format!("in document {document}"))?);
    }
    if xagents.is_empty() {
        return Err(RenderError::Empty);
    }
    Ok(xagents)
}

fn yaml_to_json(yaml: serde_yaml::Value) -> Result<serde_json::Value, serde_yaml::Error> {
    // Re-reading the tree as JSON data catches non-string keys too.
    serde_json::Value::deserialize(yaml)
}

/// The children of every XAgent in `input`, as one multi-document YAML stream.
pub fn render(input: &str) -> Result<String, RenderError> {
    let xagents = parse_documents(input)?;
    let mut out = String::new();
    for xagent in &xagents {
        for child in builders::build(xagent) {
            write_document(&mut out, &child);
        }
    }
    Ok(out)
}

/// Appends one child as a YAML document.
pub fn write_document(out: &mut String, child: &Child) {
    out.push_str("---\n");
    // Serializing plain k8s-openapi data to YAML cannot fail.
    out.push_str(&serde_yaml::to_string(child).unwrap_or_default());
}
