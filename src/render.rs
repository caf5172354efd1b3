//! Offline `render`: XAgent documents in, the children the operator would apply out.

use serde::Deserialize;

use crate::builders::{self, Child};
use crate::crd::XAgent;
use crate::validate::{self, InvalidXAgent};

/// Why a set of XAgent documents could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The input is not YAML.
    #[error("document {document}: invalid YAML: {source}")]
    Yaml {
        /// 1-based position of the document in the stream.
        document: usize,
        /// The parser's report, with line and column.
        source: serde_yaml::Error,
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
/// Empty documents (a stray `---`) are skipped, as kubectl does.
pub fn parse_documents(input: &str) -> Result<Vec<XAgent>, RenderError> {
    let mut xagents = Vec::new();
    for (i, doc) in serde_yaml::Deserializer::from_str(input).enumerate() {
        let document = i + 1;
        let value =
            serde_json::Value::deserialize(doc).map_err(|source| RenderError::Yaml { document, source })?;
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
    out.push_str(&serde_yaml::to_string(&child.to_value()).unwrap_or_default());
}
