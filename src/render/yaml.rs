//! A YAML writer for rendered children that produces, byte for byte, what
//! `serde_yaml::to_string` produces, at a fraction of its cost.
//!
//! `serde_yaml` hands every node to libyaml as an event, and libyaml analyses
//! and copies each scalar through its own buffers: writing the ~33 KiB of
//! YAML of one XAgent's children took longer than parsing, validating and
//! building that XAgent together. This writer follows the same rules directly:
//! serde_yaml's choice of scalar style (a string that would read back as
//! something else is quoted, one with a line break is a literal block) and
//! libyaml's emitter as serde_yaml configures it (block style, indentless
//! sequences in mappings, empty collections as `{}` and `[]`, two-space
//! indentation, no line width, Unicode kept), down to the column and
//! whitespace bookkeeping that decides where line breaks go.
//!
//! What it does not reproduce it refuses with [`Unsupported`] before the
//! caller has used anything it wrote, and the caller falls back to
//! `serde_yaml`: tagged enums, floats, bytes, keys that are not short
//! single-line scalars, and line breaks other than `\n` (`\r`, U+0085,
//! U+2028, U+2029). The tests compare the two on the rendered samples and on
//! thousands of generated strings.

use std::fmt::{self, Display};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::ser::{self, Serialize};

/// Serializes `value` as one YAML document appended to `out`, as
/// `serde_yaml::to_string` would; on `Err` `out` holds a partial document the
/// caller must discard.
pub fn write(out: &mut String, value: &(impl Serialize + ?Sized)) -> Result<(), Unsupported> {
    let mut emitter = Emitter {
        out,
        indent: -1,
        indents: Vec::with_capacity(16),
        column: 0,
        whitespace: true,
        indention: true,
        next: Context::Root,
    };
    value.serialize(&mut emitter)?;
    // DOCUMENT-END: libyaml ends the document's last line.
    emitter.write_indent();
    Ok(())
}

/// Something this writer leaves to `serde_yaml`.
#[derive(Debug)]
pub struct Unsupported;

impl Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("left to serde_yaml")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: Display>(_: T) -> Self {
        Unsupported
    }
}

/// Where the next node goes, as libyaml's `emit_node` flags say it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Root,
    /// An item of a block sequence.
    Item,
    /// The key of a block mapping entry.
    Key,
    /// The value of a block mapping entry.
    Value,
}

/// The style serde_yaml asks libyaml for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Requested {
    Any,
    Plain,
    SingleQuoted,
    Literal,
}

/// The style libyaml writes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
}

/// libyaml's emitter state, for block output at flow level 0.
struct Emitter<'a> {
    out: &'a mut String,
    indent: i32,
    indents: Vec<i32>,
    /// Column in characters, as libyaml counts it.
    column: usize,
    whitespace: bool,
    indention: bool,
    next: Context,
}

// The small steps below run once or more per node and are marked
// `#[inline]`: the release build is optimised for size, which otherwise
// keeps each a call (inlined, `render` of 10,000 XAgents took 11% less time;
// docs/performance.md, "Render").
impl<'a> Emitter<'a> {
    #[inline]
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    #[inline]
    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    #[inline]
    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { 2 } else { 0 };
        } else if !indentless {
            self.indent += 2;
        }
    }

    #[inline]
    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    #[inline]
    fn write_indent(&mut self) {
        let indent = usize::try_from(self.indent).unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        if self.column < indent {
            let mut missing = indent - self.column;
            while missing > 0 {
                let step = missing.min(SPACES.len());
                self.out.push_str(&SPACES[..step]);
                missing -= step;
            }
            self.column = indent;
        }
        self.whitespace = true;
        self.indention = true;
    }

    #[inline]
    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        self.out.push_str(indicator);
        self.column += indicator.len();
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    /// Where the node about to be written goes.
    #[inline]
    fn node(&self) -> Context {
        self.next
    }

    /// A string, in the style serde_yaml asks for it: quoted when it would
    /// read back as something else (null, a boolean, a number), a literal
    /// block when it has a line break.
    fn string(&mut self, value: &str) -> Result<(), Unsupported> {
        let seen = classes(value.as_bytes());
        if seen & NOT_WORD == 0 && is_word(value.as_bytes()) {
            // Most keys and many values: plain whatever the context.
            return self.plain_scalar(value);
        }
        let analysis = Analysis::with_classes(value, seen)?;
        let requested = if analysis.multiline {
            Requested::Literal
        } else if reads_as_non_string(value) {
            Requested::SingleQuoted
        } else {
            Requested::Any
        };
        self.emit_scalar(value, requested, &analysis)
    }

    /// A scalar plain in any context, written without the analysis: a
    /// boolean, an integer, null, or a word [`is_word`] accepts (libyaml's
    /// analysis finds no indicator, space or special character in any of
    /// them; `-` followed by a digit is not an indicator).
    #[inline]
    fn plain_scalar(&mut self, text: &str) -> Result<(), Unsupported> {
        debug_assert!(
            Analysis::of(text).is_ok_and(|a| a.style(Requested::Plain, true, false) == Style::Plain)
        );
        self.write_plain(text, text.len());
        self.whitespace = false;
        self.indention = false;
        Ok(())
    }

    /// libyaml's `emit_scalar` for a scalar `value` with the style serde_yaml asks for.
    fn scalar(&mut self, value: &str, requested: Requested) -> Result<(), Unsupported> {
        let analysis = Analysis::of(value)?;
        self.emit_scalar(value, requested, &analysis)
    }

    fn emit_scalar(
        &mut self,
        value: &str,
        requested: Requested,
        analysis: &Analysis,
    ) -> Result<(), Unsupported> {
        let context = self.node();
        let simple_key = context == Context::Key;
        if simple_key && (analysis.multiline || value.len() > 128) {
            // libyaml writes a complex key (`? key`).
            return Err(Unsupported);
        }
        let style = analysis.style(requested, simple_key, value.is_empty());
        if analysis.multiline && style != Style::Literal && style != Style::DoubleQuoted {
            // A plain or single-quoted scalar with line breaks: libyaml folds
            // them in ways not reproduced here.
            return Err(Unsupported);
        }
        match style {
            Style::Plain => self.write_plain(value, analysis.columns),
            Style::SingleQuoted => self.write_single_quoted(value),
            Style::DoubleQuoted => self.write_double_quoted(value),
            Style::Literal => {
                // libyaml indents a scalar's continuation lines one step in.
                self.increase_indent(true, false);
                self.write_literal(value);
                self.pop_indent();
                return Ok(());
            }
        }
        self.whitespace = false;
        self.indention = false;
        Ok(())
    }

    #[inline]
    fn write_plain(&mut self, value: &str, columns: usize) {
        if !self.whitespace && !value.is_empty() {
            self.out.push(' ');
            self.column += 1;
        }
        self.out.push_str(value);
        self.column += columns;
    }

    /// Text without line breaks, its column counted in characters.
    #[inline]
    fn push_text(&mut self, text: &str) {
        self.out.push_str(text);
        self.column += chars(text);
    }

    fn write_single_quoted(&mut self, value: &str) {
        self.write_indicator("'", true, false, false);
        let mut rest = value;
        while let Some(at) = rest.find('\'') {
            self.push_text(&rest[..=at]);
            self.put('\'');
            rest = &rest[at + 1..];
        }
        self.push_text(rest);
        self.write_indicator("'", false, false, false);
    }

    fn write_double_quoted(&mut self, value: &str) {
        self.write_indicator("\"", true, false, false);
        let mut plain_from = 0;
        for (at, c) in value.char_indices() {
            if is_printable(c) && c != '\u{FEFF}' && !is_break(c) && c != '"' && c != '\\' {
                continue;
            }
            self.push_text(&value[plain_from..at]);
            plain_from = at + c.len_utf8();
            self.put('\\');
            match c {
                '\0' => self.put('0'),
                '\u{07}' => self.put('a'),
                '\u{08}' => self.put('b'),
                '\t' => self.put('t'),
                '\n' => self.put('n'),
                '\u{0B}' => self.put('v'),
                '\u{0C}' => self.put('f'),
                '\r' => self.put('r'),
                '\u{1B}' => self.put('e'),
                '"' => self.put('"'),
                '\\' => self.put('\\'),
                '\u{85}' => self.put('N'),
                '\u{A0}' => self.put('_'),
                '\u{2028}' => self.put('L'),
                '\u{2029}' => self.put('P'),
                c => {
                    let code = u32::from(c);
                    let (prefix, width) = match code {
                        0..=0xFF => ('x', 2),
                        0x100..=0xFFFF => ('u', 4),
                        _ => ('U', 8),
                    };
                    self.put(prefix);
                    for k in (0..width).rev() {
                        let digit = (code >> (k * 4)) & 0xF;
                        self.put(char::from_digit(digit, 16).unwrap_or('0').to_ascii_uppercase());
                    }
                }
            }
        }
        self.push_text(&value[plain_from..]);
        self.write_indicator("\"", false, false, false);
    }

    /// A literal block (`|`), its only line breaks `\n` (others are refused
    /// before).
    fn write_literal(&mut self, value: &str) {
        self.write_indicator("|", true, false, false);
        // Block scalar hints: an indentation indicator when the first line
        // starts with a space or break, the chomping indicator from how it ends.
        if value.starts_with([' ', '\n']) {
            self.write_indicator("2", false, false, false);
        }
        let chomp = if !value.ends_with('\n') {
            Some("-")
        } else if value.len() == 1 || value[..value.len() - 1].ends_with('\n') {
            Some("+")
        } else {
            None
        };
        if let Some(chomp) = chomp {
            self.write_indicator(chomp, false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for line in value.split_inclusive('\n') {
            let (text, ends) = match line.strip_suffix('\n') {
                Some(text) => (text, true),
                None => (line, false),
            };
            if !text.is_empty() {
                if breaks {
                    self.write_indent();
                }
                self.push_text(text);
                self.indention = false;
                breaks = false;
            }
            if ends {
                self.put_break();
                self.indention = true;
                breaks = true;
            }
        }
    }

    /// A collection's first entry: libyaml starts its block form here, or
    /// writes `{}`/`[]` when the collection ends first.
    fn open<'e>(&'e mut self, kind: Kind) -> Collection<'e, 'a> {
        let context = self.node();
        Collection { emitter: self, kind, context, started: false }
    }
}

const SPACES: &str = "                                                                ";

/// Byte classes, for the first pass over a string: anything not printable
/// ASCII, anything but a letter, a digit or `-`, `_`, `.`, `/`, and the two
/// indicators that matter inside a string.
const UNUSUAL: u8 = 1;
const COLON: u8 = 2;
const HASH: u8 = 4;
const NOT_WORD: u8 = 8;
const CLASS: [u8; 256] = {
    let mut class = [UNUSUAL | NOT_WORD; 256];
    let mut b = 0x20;
    while b < 0x7F {
        let word = (b as u8).is_ascii_alphanumeric() || matches!(b as u8, b'-' | b'_' | b'.' | b'/');
        class[b] = if word { 0 } else { NOT_WORD };
        b += 1;
    }
    class[b':' as usize] = COLON | NOT_WORD;
    class[b'#' as usize] = HASH | NOT_WORD;
    class
};

/// The union of the [`CLASS`]es of `bytes`: byte by byte for a short string,
/// eight bytes at a time for a long one (whose word class does not matter).
fn classes(bytes: &[u8]) -> u8 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    if bytes.len() <= 64 {
        return bytes.iter().fold(0, |seen, &b| seen | CLASS[usize::from(b)]);
    }
    // Exact for "some byte is zero" (it may misplace which one).
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let (mut unusual, mut colon, mut hash) = (0u64, 0u64, 0u64);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        // Beyond ASCII, below space (exact while no byte has its high bit,
        // and any that has is caught by the first term), or DEL.
        unusual |= (x & HIGH) | (x.wrapping_sub(ONES * 0x20) & !x & HIGH) | zero_byte(x ^ (ONES * 0x7F));
        colon |= zero_byte(x ^ (ONES * u64::from(b':')));
        hash |= zero_byte(x ^ (ONES * u64::from(b'#')));
    }
    let mut seen = NOT_WORD | chunks.remainder().iter().fold(0, |seen, &b| seen | CLASS[usize::from(b)]);
    if unusual != 0 {
        seen |= UNUSUAL;
    }
    if colon != 0 {
        seen |= COLON;
    }
    if hash != 0 {
        seen |= HASH;
    }
    seen
}

/// Of a string of letters, digits and `-`, `_`, `.`, `/` (no byte of class
/// [`NOT_WORD`]): whether it is a short word starting with a letter that is
/// none of the null and boolean words, plain in any context (no indicator,
/// space, break or special character; a letter cannot start a number).
/// Longer strings take the full analysis, as keys over 128 bytes must.
#[inline]
fn is_word(bytes: &[u8]) -> bool {
    bytes.len() <= 64
        && bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && !matches!(
            bytes,
            b"null" | b"Null" | b"NULL" | b"true" | b"True" | b"TRUE" | b"false" | b"False" | b"FALSE"
        )
}

#[inline]
fn chars(text: &str) -> usize {
    if text.is_ascii() { text.len() } else { text.chars().count() }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Mapping,
    Sequence,
}

/// An open mapping or sequence.
struct Collection<'e, 'a> {
    emitter: &'e mut Emitter<'a>,
    kind: Kind,
    /// The context the collection itself was emitted in.
    context: Context,
    started: bool,
}

impl Collection<'_, '_> {
    #[inline]
    fn start(&mut self) -> Result<(), Unsupported> {
        if self.started {
            return Ok(());
        }
        if self.context == Context::Key {
            // A collection as a key is a complex key.
            return Err(Unsupported);
        }
        self.started = true;
        let e = &mut *self.emitter;
        match self.kind {
            Kind::Mapping => e.increase_indent(false, false),
            Kind::Sequence => {
                let mapping_context = self.context == Context::Value;
                let indentless = mapping_context && !e.indention;
                e.increase_indent(false, indentless);
            }
        }
        Ok(())
    }

    #[inline]
    fn key(&mut self) -> Result<(), Unsupported> {
        self.start()?;
        self.emitter.write_indent();
        self.emitter.next = Context::Key;
        Ok(())
    }

    #[inline]
    fn value(&mut self) {
        self.emitter.write_indicator(":", false, false, false);
        self.emitter.next = Context::Value;
    }

    #[inline]
    fn item(&mut self) -> Result<(), Unsupported> {
        self.start()?;
        self.emitter.write_indent();
        self.emitter.write_indicator("-", true, false, true);
        self.emitter.next = Context::Item;
        Ok(())
    }

    #[inline]
    fn end(self) -> Result<(), Unsupported> {
        if self.started {
            self.emitter.pop_indent();
            return Ok(());
        }
        if self.context == Context::Key {
            return Err(Unsupported);
        }
        let (open, close) = match self.kind {
            Kind::Mapping => ("{", "}"),
            Kind::Sequence => ("[", "]"),
        };
        self.emitter.write_indicator(open, true, true, false);
        self.emitter.write_indicator(close, false, false, false);
        Ok(())
    }
}

/// libyaml's `yaml_emitter_analyze_scalar`, reduced to what block context reads.
struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
    /// Characters, as libyaml's column counts them.
    columns: usize,
}

/// What the analysis notes about spaces and breaks.
#[derive(Default)]
struct Flags {
    special: bool,
    line_breaks: bool,
    leading: bool,
    trailing_space: bool,
    trailing_break: bool,
    break_space: bool,
    space_break: bool,
    previous_space: bool,
    previous_break: bool,
}

impl Flags {
    fn space(&mut self, first: bool, last: bool) {
        self.leading |= first;
        self.trailing_space |= last;
        self.break_space |= self.previous_break;
        self.previous_space = true;
        self.previous_break = false;
    }

    fn line_break(&mut self, first: bool, last: bool) {
        self.line_breaks = true;
        self.leading |= first;
        self.trailing_break |= last;
        self.space_break |= self.previous_space;
        self.previous_space = false;
        self.previous_break = true;
    }

    fn other(&mut self) {
        self.previous_space = false;
        self.previous_break = false;
    }

    fn analysis(&self, block_indicators: bool, columns: usize) -> Analysis {
        let mut analysis = Analysis {
            multiline: self.line_breaks,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: true,
            columns,
        };
        if self.leading || self.trailing_space || self.trailing_break {
            analysis.block_plain_allowed = false;
        }
        if self.trailing_space {
            analysis.block_allowed = false;
        }
        if self.break_space {
            analysis.block_plain_allowed = false;
            analysis.single_quoted_allowed = false;
        }
        if self.space_break || self.special {
            analysis.block_plain_allowed = false;
            analysis.single_quoted_allowed = false;
            analysis.block_allowed = false;
        }
        if self.line_breaks || block_indicators {
            analysis.block_plain_allowed = false;
        }
        analysis
    }
}

impl Analysis {
    fn of(value: &str) -> Result<Analysis, Unsupported> {
        Self::with_classes(value, classes(value.as_bytes()))
    }

    /// The analysis of `value`, whose byte [`classes`] are `seen`.
    fn with_classes(value: &str, seen: u8) -> Result<Analysis, Unsupported> {
        if value.is_empty() {
            return Ok(Analysis {
                multiline: false,
                block_plain_allowed: true,
                single_quoted_allowed: true,
                block_allowed: false,
                columns: 0,
            });
        }
        let bytes = value.as_bytes();
        // Most strings hold none of the rare bytes, and need no more than a
        // look at their ends.
        if seen & UNUSUAL == 0 {
            return Ok(Self::of_printable_ascii(value, seen));
        }
        if value.is_ascii() { Self::of_ascii(bytes) } else { Self::of_unicode(value) }
    }

    /// Printable ASCII only: no break, no special character, so only the
    /// indicators and the leading and trailing spaces matter.
    fn of_printable_ascii(value: &str, seen: u8) -> Analysis {
        let bytes = value.as_bytes();
        let n = bytes.len();
        let followed_by_whitespace = |i: usize| i + 1 == n || bytes[i + 1] == b' ';
        let block_indicators = bytes.starts_with(b"---")
            || bytes.starts_with(b"...")
            || match bytes[0] {
                b'#' | b',' | b'[' | b']' | b'{' | b'}' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\'' | b'"'
                | b'%' | b'@' | b'`' => true,
                b'?' | b':' | b'-' => followed_by_whitespace(0),
                _ => false,
            }
            // A `: ` or a final `:` anywhere, a ` #` anywhere (at the start
            // they are the indicators above); `contains` searches many bytes
            // a step where a loop over positions took one.
            || (seen & COLON != 0 && (value.contains(": ") || value.ends_with(':')))
            || (seen & HASH != 0 && value.contains(" #"));
        let leading = bytes[0] == b' ';
        let trailing = bytes[n - 1] == b' ';
        Analysis {
            multiline: false,
            block_plain_allowed: !(leading || trailing || block_indicators),
            single_quoted_allowed: true,
            block_allowed: !trailing,
            columns: n,
        }
    }

    /// The common case, byte by byte.
    fn of_ascii(bytes: &[u8]) -> Result<Analysis, Unsupported> {
        let n = bytes.len();
        let blankz = |b: u8| matches!(b, b' ' | b'\t' | b'\0' | b'\r' | b'\n');
        let followed_by_whitespace = |i: usize| i + 1 == n || blankz(bytes[i + 1]);
        let mut block_indicators = bytes.starts_with(b"---")
            || bytes.starts_with(b"...")
            || match bytes[0] {
                b'#' | b',' | b'[' | b']' | b'{' | b'}' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\'' | b'"'
                | b'%' | b'@' | b'`' => true,
                b'?' | b':' | b'-' => followed_by_whitespace(0),
                _ => false,
            };
        let mut flags = Flags::default();
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b' ' => flags.space(i == 0, i + 1 == n),
                b'\n' => flags.line_break(i == 0, i + 1 == n),
                b':' if i > 0 && followed_by_whitespace(i) => {
                    block_indicators = true;
                    flags.other();
                }
                b'#' if i > 0 && blankz(bytes[i - 1]) => {
                    block_indicators = true;
                    flags.other();
                }
                0x21..=0x7E => flags.other(),
                b'\r' => return Err(Unsupported),
                _ => {
                    // Tab and the other control characters.
                    flags.special = true;
                    flags.other();
                }
            }
        }
        Ok(flags.analysis(block_indicators, n))
    }

    /// libyaml's analysis character by character.
    fn of_unicode(value: &str) -> Result<Analysis, Unsupported> {
        let mut block_indicators = value.starts_with("---") || value.starts_with("...");
        let mut flags = Flags::default();
        let mut preceded_by_whitespace = true;
        let mut chars = value.char_indices().peekable();
        let mut first = true;
        let mut columns = 0;
        while let Some((at, c)) = chars.next() {
            columns += 1;
            let next = chars.peek().map(|&(_, n)| n);
            // The byte after the scalar is libyaml's terminating NUL.
            let followed_by_whitespace = next.is_none_or(is_blankz);
            if first {
                match c {
                    '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%'
                    | '@' | '`' => block_indicators = true,
                    '?' | ':' | '-' if followed_by_whitespace => block_indicators = true,
                    _ => {}
                }
            } else {
                match c {
                    ':' if followed_by_whitespace => block_indicators = true,
                    '#' if preceded_by_whitespace => block_indicators = true,
                    _ => {}
                }
            }
            if !is_printable(c) {
                flags.special = true;
            }
            let last = at + c.len_utf8() == value.len();
            if c == ' ' {
                flags.space(first, last);
            } else if is_break(c) {
                if c != '\n' {
                    return Err(Unsupported);
                }
                flags.line_break(first, last);
            } else {
                flags.other();
            }
            preceded_by_whitespace = is_blankz(c);
            first = false;
        }
        Ok(flags.analysis(block_indicators, columns))
    }

    /// libyaml's `yaml_emitter_select_scalar_style` at flow level 0, untagged.
    fn style(&self, requested: Requested, simple_key: bool, empty: bool) -> Style {
        let mut style = match requested {
            Requested::Any | Requested::Plain => Style::Plain,
            Requested::SingleQuoted => Style::SingleQuoted,
            Requested::Literal => Style::Literal,
        };
        if simple_key && self.multiline {
            style = Style::DoubleQuoted;
        }
        if style == Style::Plain && (!self.block_plain_allowed || (empty && simple_key)) {
            style = Style::SingleQuoted;
        }
        if style == Style::SingleQuoted && !self.single_quoted_allowed {
            style = Style::DoubleQuoted;
        }
        if style == Style::Literal && (!self.block_allowed || simple_key) {
            style = Style::DoubleQuoted;
        }
        style
    }
}

/// libyaml's `IS_PRINTABLE`.
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{A0}'..='\u{D7FF}' | '\u{10000}'..)
        || (('\u{E000}'..='\u{FFFD}').contains(&c) && c != '\u{FEFF}')
}

/// libyaml's `IS_BREAK`.
fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// libyaml's `IS_BLANKZ`: a blank, a break or NUL.
fn is_blankz(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\0') || is_break(c)
}

/// serde_yaml's `visit_untagged_scalar` with its `InferScalarStyle` visitor:
/// whether a plain `value` would read back as anything but this string.
fn reads_as_non_string(value: &str) -> bool {
    let Some(&first) = value.as_bytes().first() else { return true };
    if first.is_ascii_alphabetic() {
        // No number starts with a letter: only the null and boolean words
        // (Rust's float parser takes "inf" and "nan", which are not finite).
        return matches!(
            value,
            "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
        );
    }
    // Beyond `~`, what reads as a number starts with a digit, a sign or a
    // dot; a PromQL expression or a template, starting with `(` or `{`, is
    // a string without trying the parsers.
    if !matches!(first, b'0'..=b'9' | b'+' | b'-' | b'.') {
        return value == "~";
    }
    // The parsers below read digits (hexadecimal ones after `0x`), signs,
    // dots, the radix letters and the exponent's `e`; of `.inf` and `.nan`
    // (Rust's float parser takes `infinity` too, but it is not finite):
    // any other byte (`10m`, `512Mi`, `5m`) makes a string of it at once.
    let numeric = |b: u8| matches!(b, b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' | b'x' | b'o' | b'+' | b'-' | b'.' | b'i' | b'n' | b'I' | b'N');
    if !value.bytes().all(numeric) {
        return false;
    }
    is_int(value) || digits_but_not_number(value) || parse_f64(value)
}

fn is_int(v: &str) -> bool {
    parse_unsigned_int(v, u64::from_str_radix).is_some()
        || parse_negative_int(v, i64::from_str_radix).is_some()
        || parse_unsigned_int(v, u128::from_str_radix).is_some()
        || parse_negative_int(v, i128::from_str_radix).is_some()
}

fn parse_unsigned_int<T>(
    scalar: &str,
    from_str_radix: fn(&str, u32) -> Result<T, std::num::ParseIntError>,
) -> Option<T> {
    let unpositive = scalar.strip_prefix('+').unwrap_or(scalar);
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = unpositive.strip_prefix(prefix) {
            if rest.starts_with(['+', '-']) {
                return None;
            }
            if let Ok(int) = from_str_radix(rest, radix) {
                return Some(int);
            }
        }
    }
    if unpositive.starts_with(['+', '-']) || digits_but_not_number(scalar) {
        return None;
    }
    from_str_radix(unpositive, 10).ok()
}

fn parse_negative_int<T>(
    scalar: &str,
    from_str_radix: fn(&str, u32) -> Result<T, std::num::ParseIntError>,
) -> Option<T> {
    for (prefix, radix) in [("-0x", 16), ("-0o", 8), ("-0b", 2)] {
        if let Some(rest) = scalar.strip_prefix(prefix)
            && let Ok(int) = from_str_radix(&format!("-{rest}"), radix)
        {
            return Some(int);
        }
    }
    if digits_but_not_number(scalar) {
        return None;
    }
    from_str_radix(scalar, 10).ok()
}

fn parse_f64(scalar: &str) -> bool {
    if digits_but_not_number(scalar) {
        return false;
    }
    let unpositive = match scalar.strip_prefix('+') {
        Some(unpositive) if unpositive.starts_with(['+', '-']) => return false,
        Some(unpositive) => unpositive,
        None => scalar,
    };
    matches!(unpositive, ".inf" | ".Inf" | ".INF")
        || matches!(scalar, "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN" | ".NAN")
        || unpositive.parse::<f64>().is_ok_and(f64::is_finite)
}

/// Writes `rest` in decimal at the end of `buffer` and returns where it
/// starts. Dividing a u128 is a library call: once the rest fits 64 bits
/// (every count, port and size from the start) the loop divides u64s.
fn decimal(buffer: &mut [u8; 40], mut rest: u128) -> usize {
    let mut at = buffer.len();
    let mut small = loop {
        match u64::try_from(rest) {
            Ok(small) => break small,
            Err(_) => {
                at -= 1;
                buffer[at] = b'0' + (rest % 10) as u8;
                rest /= 10;
            }
        }
    };
    loop {
        at -= 1;
        buffer[at] = b'0' + (small % 10) as u8;
        small /= 10;
        if small == 0 {
            return at;
        }
    }
}

fn digits_but_not_number(scalar: &str) -> bool {
    let scalar = scalar.strip_prefix(['-', '+']).unwrap_or(scalar);
    scalar.len() > 1 && scalar.starts_with('0') && scalar[1..].bytes().all(|b| b.is_ascii_digit())
}

impl<'e, 'a> ser::Serializer for &'e mut Emitter<'a> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Collection<'e, 'a>;
    type SerializeTuple = Collection<'e, 'a>;
    type SerializeTupleStruct = Collection<'e, 'a>;
    type SerializeTupleVariant = ser::Impossible<(), Unsupported>;
    type SerializeMap = Collection<'e, 'a>;
    type SerializeStruct = Collection<'e, 'a>;
    type SerializeStructVariant = ser::Impossible<(), Unsupported>;

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.plain_scalar(if v { "true" } else { "false" })
    }

    fn serialize_i8(self, v: i8) -> Result<(), Unsupported> {
        self.serialize_i64(v.into())
    }

    fn serialize_i16(self, v: i16) -> Result<(), Unsupported> {
        self.serialize_i64(v.into())
    }

    fn serialize_i32(self, v: i32) -> Result<(), Unsupported> {
        self.serialize_i64(v.into())
    }

    fn serialize_i64(self, v: i64) -> Result<(), Unsupported> {
        self.serialize_i128(v.into())
    }

    fn serialize_i128(self, v: i128) -> Result<(), Unsupported> {
        let mut buffer = [0; 40];
        let mut at = decimal(&mut buffer, v.unsigned_abs());
        if v < 0 {
            at -= 1;
            buffer[at] = b'-';
        }
        let text = std::str::from_utf8(&buffer[at..]).map_err(|_| Unsupported)?;
        self.plain_scalar(text)
    }

    fn serialize_u8(self, v: u8) -> Result<(), Unsupported> {
        self.serialize_u128(v.into())
    }

    fn serialize_u16(self, v: u16) -> Result<(), Unsupported> {
        self.serialize_u128(v.into())
    }

    fn serialize_u32(self, v: u32) -> Result<(), Unsupported> {
        self.serialize_u128(v.into())
    }

    fn serialize_u64(self, v: u64) -> Result<(), Unsupported> {
        self.serialize_u128(v.into())
    }

    fn serialize_u128(self, v: u128) -> Result<(), Unsupported> {
        if let Ok(v) = i128::try_from(v) {
            return self.serialize_i128(v);
        }
        self.plain_scalar(&v.to_string())
    }

    fn serialize_f32(self, _: f32) -> Result<(), Unsupported> {
        Err(Unsupported)
    }

    fn serialize_f64(self, _: f64) -> Result<(), Unsupported> {
        Err(Unsupported)
    }

    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        self.scalar(v.encode_utf8(&mut [0; 4]), Requested::SingleQuoted)
    }

    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        self.string(v)
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<(), Unsupported> {
        Err(Unsupported)
    }

    fn serialize_none(self) -> Result<(), Unsupported> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.plain_scalar("null")
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Unsupported> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Unsupported> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Unsupported> {
        // serde_yaml writes a tag (`!Variant`).
        Err(Unsupported)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Unsupported> {
        Ok(self.open(Kind::Sequence))
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Unsupported> {
        Ok(self.open(Kind::Sequence))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Unsupported> {
        Ok(self.open(Kind::Sequence))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        Err(Unsupported)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Unsupported> {
        Ok(self.open(Kind::Mapping))
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Unsupported> {
        Ok(self.open(Kind::Mapping))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        Err(Unsupported)
    }

    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        let text = value.to_string();
        if text.starts_with('!') {
            // serde_yaml may read it as a tag.
            return Err(Unsupported);
        }
        self.serialize_str(&text)
    }
}

impl ser::SerializeSeq for Collection<'_, '_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.item()?;
        value.serialize(&mut *self.emitter)
    }

    fn end(self) -> Result<(), Unsupported> {
        Collection::end(self)
    }
}

impl ser::SerializeTuple for Collection<'_, '_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<(), Unsupported> {
        Collection::end(self)
    }
}

impl ser::SerializeTupleStruct for Collection<'_, '_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<(), Unsupported> {
        Collection::end(self)
    }
}

impl ser::SerializeMap for Collection<'_, '_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Unsupported> {
        self.key()?;
        key.serialize(&mut *self.emitter)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.value();
        value.serialize(&mut *self.emitter)
    }

    fn end(self) -> Result<(), Unsupported> {
        Collection::end(self)
    }
}

impl ser::SerializeStruct for Collection<'_, '_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.key()?;
        self.emitter.serialize_str_key(key)?;
        self.value();
        value.serialize(&mut *self.emitter)
    }

    fn end(self) -> Result<(), Unsupported> {
        Collection::end(self)
    }
}

impl Emitter<'_> {
    /// A struct's field name. The same few hundred `&'static str`s come back
    /// for every child, so whether one is a plain word is remembered by its
    /// address and length; a hit writes it with no look at its bytes.
    fn serialize_str_key(&mut self, key: &'static str) -> Result<(), Unsupported> {
        if key.len() > 64 {
            // Never a plain word (see `is_word`), and past what a tag holds.
            return self.string(key);
        }
        let slot = &PLAIN_FIELD_NAMES[(key.as_ptr() as usize >> 3) % PLAIN_FIELD_NAMES.len()];
        let tag = field_tag(key);
        if slot.load(Ordering::Relaxed) == tag {
            return self.plain_scalar(key);
        }
        let bytes = key.as_bytes();
        if classes(bytes) & NOT_WORD == 0 && is_word(bytes) {
            slot.store(tag, Ordering::Relaxed);
            return self.plain_scalar(key);
        }
        self.string(key)
    }
}

/// Field names known to be plain words, each as its [`field_tag`], in a
/// slot chosen by its address (a collision only costs the full look).
static PLAIN_FIELD_NAMES: [AtomicU64; 1024] = [const { AtomicU64::new(0) }; 1024];

/// A `&'static str` of at most 64 bytes as one word: its address, its
/// length in bits 56 to 62 (user-space addresses stay below them, even with
/// five-level paging) and bit 63 set, so never 0, the empty slot.
fn field_tag(key: &'static str) -> u64 {
    (key.as_ptr() as u64 ^ ((key.len() as u64) << 56)) | 1 << 63
}

#[cfg(test)]
mod tests;
