//! Offline `render`: XAgent documents in, the children the operator would apply out.

use std::io;

use serde::Deserialize;

use crate::builders::{self, Child};
use crate::crd::XAgent;
use crate::validate::{self, InvalidXAgent};

mod yaml;

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
    /// Brackets nested deeper than any XAgent needs: refused before parsing,
    /// whose cost grows with the depth.
    #[error(
        "input nests [ ] or {{ }} more than {MAX_DEPTH} levels deep (line {line}); an XAgent needs fewer than 20"
    )]
    TooDeep {
        /// 1-based line where the limit was passed.
        line: usize,
    },
    /// An integer no field can hold.
    #[error(
        "document {document}: {at}: integer {literal} is out of range; no XAgent field holds more than 64 bits"
    )]
    IntegerOutOfRange {
        /// 1-based position of the document in the stream.
        document: usize,
        /// Where, as the parser says it.
        at: String,
        /// The integer as written.
        literal: String,
    },
    /// The rendered children could not be written out (e.g. a closed pipe).
    #[error("writing the rendered children: {0}")]
    Write(#[from] io::Error),
}

/// How deep flow collections may nest in the input.
pub const MAX_DEPTH: usize = 64;

/// Refuses input whose `[`/`{` nesting passes [`MAX_DEPTH`], outside quoted
/// strings and comments. Block nesting needs a line of indentation per level,
/// so its depth is bounded by the input's size anyway.
fn check_depth(input: &str) -> Result<(), RenderError> {
    let (mut depth, mut line, mut quote, mut comment) = (0usize, 1usize, None::<char>, false);
    let mut previous = ' ';
    for c in input.chars() {
        match (quote, c) {
            (_, '\n') => {
                line += 1;
                comment = false;
            }
            _ if comment => {}
            (Some(q), c) if c == q && previous != '\\' => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') if previous.is_whitespace() => comment = true,
            (None, '[' | '{') => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(RenderError::TooDeep { line });
                }
            }
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
        previous = c;
    }
    Ok(())
}

/// A parser error about an integer beyond 64 bits, said as such.
fn yaml_error(document: usize, cause: serde_yaml::Error) -> RenderError {
    let text = cause.to_string();
    let out_of_range = text.split_once(": invalid type: integer `").and_then(|(at, rest)| {
        let (literal, rest) = rest.split_once('`')?;
        (rest.starts_with(" as u128") || rest.starts_with(" as i128"))
            .then(|| (at.to_string(), literal.to_string()))
    });
    match out_of_range {
        Some((at, literal)) => RenderError::IntegerOutOfRange { document, at, literal },
        None => RenderError::Yaml { document, cause },
    }
}

/// Parses and validates every XAgent in a multi-document YAML stream.
///
/// Empty documents (a stray `---`) are skipped, as kubectl does. Each document
/// goes through `serde_yaml::Value` first because its mappings reject duplicate
/// keys, as kubectl does, where a direct JSON conversion keeps the last one.
pub fn parse_documents(input: &str) -> Result<Vec<XAgent>, RenderError> {
    check_depth(input)?;
    // Sized up front: an XAgent is several KiB inline, and regrowing a
    // vector of thousands copies all of them into freshly zeroed pages.
    let separators = input.lines().filter(|l| l.starts_with("---")).count();
    let mut xagents = Vec::with_capacity(separators + 1);
    for (i, doc) in serde_yaml::Deserializer::from_str(input).enumerate() {
        let document = i + 1;
        let yaml = serde_yaml::Value::deserialize(doc).map_err(|cause| yaml_error(document, cause))?;
        let value = yaml_to_json(yaml).map_err(|cause| yaml_error(document, cause))?;
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

/// [`render_with`] under the default settings.
pub fn render(input: &str) -> Result<String, RenderError> {
    render_with(input, &builders::Settings::default())
}

/// The children of every XAgent in `input` under `settings`, as one
/// multi-document YAML stream.
pub fn render_with(input: &str, settings: &builders::Settings) -> Result<String, RenderError> {
    let xagents = parse_documents(input)?;
    let mut out = String::new();
    for xagent in &xagents {
        for child in builders::build_with(xagent, settings) {
            write_document(&mut out, &child);
        }
    }
    Ok(out)
}

/// [`render_with`] written to `out` one document at a time, so a large input
/// never holds its whole output in memory. Every XAgent is validated before
/// the first byte is written: an invalid input writes nothing.
pub fn render_to(
    input: &str,
    settings: &builders::Settings,
    out: &mut impl io::Write,
) -> Result<(), RenderError> {
    let xagents = parse_documents(input)?;
    let mut document = String::new();
    for xagent in &xagents {
        for desired in builders::desired_with(xagent, settings) {
            document.clear();
            write_document(&mut document, &desired.child);
            out.write_all(document.as_bytes())?;
        }
    }
    Ok(())
}

/// Appends one child as a YAML document.
pub fn write_document(out: &mut String, child: &Child) {
    out.push_str("---\n");
    let start = out.len();
    if yaml::write(out, child).is_err() {
        // What the fast writer leaves to serde_yaml; serializing plain
        // k8s-openapi data to YAML cannot fail.
        out.truncate(start);
        out.push_str(&serde_yaml::to_string(child).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_DEPTH, RenderError, check_depth, render, render_to};
    use crate::builders::Settings;

    const GOOD: &str = "apiVersion: xagent.io/v1alpha1\nkind: XAgent\nmetadata: {name: a, namespace: n}\n\
        spec: {chromadb: {enabled: true}}\n";

    #[test]
    fn streaming_writes_exactly_what_render_returns() {
        let input = format!("{GOOD}---\n{}", GOOD.replace("name: a", "name: b"));
        let mut out = Vec::new();
        render_to(&input, &Settings::default(), &mut out).expect("valid input");
        assert_eq!(String::from_utf8(out).expect("UTF-8"), render(&input).expect("valid input"));
    }

    #[test]
    fn streaming_writes_nothing_when_a_later_document_is_invalid() {
        let input = format!("{GOOD}---\n{}", GOOD.replace("spec: {", "spec: {api: {port: 0}, "));
        let mut out = Vec::new();
        assert!(matches!(render_to(&input, &Settings::default(), &mut out), Err(RenderError::Invalid(_))));
        assert!(out.is_empty(), "{} bytes written", out.len());
    }

    #[test]
    fn a_failing_output_is_reported() {
        struct Closed;
        impl std::io::Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let err = render_to(GOOD, &Settings::default(), &mut Closed).expect_err("the pipe is closed");
        assert!(matches!(err, RenderError::Write(_)), "{err}");
        assert!(err.to_string().starts_with("writing the rendered children: "), "{err}");
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let deep = "[".repeat(MAX_DEPTH + 1);
        let input = format!("a: \"{deep}\"\nb: '{deep}'\nc: 1 # {deep}\nd: [[1], {{e: [2]}}]\n");
        assert!(check_depth(&input).is_ok());
    }

    #[test]
    fn the_limit_is_exact_and_names_the_line() {
        let at_limit = format!("x: {}{}\n", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(check_depth(&at_limit).is_ok());
        let over = format!("a: 1\nx: {}\n", "{a: ".repeat(MAX_DEPTH + 1));
        assert!(matches!(check_depth(&over), Err(RenderError::TooDeep { line: 2 })));
    }
}
