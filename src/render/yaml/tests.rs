//! The fast writer against `serde_yaml`: on every child the samples render,
//! on strings chosen to reach each of libyaml's style rules, and on strings
//! generated at random, in every position a scalar can take.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use super::{CLASS, COLON, HASH, NOT_WORD, UNUSUAL, classes, write};
use crate::builders;
use crate::render::parse_documents;

/// Writes `value` with both; `true` when the fast writer took it (and then
/// wrote exactly what serde_yaml writes), `false` when it left it to serde_yaml.
fn same_as_serde_yaml(value: &(impl Serialize + ?Sized)) -> bool {
    let expected = serde_yaml::to_string(value).expect("serde_yaml writes every test value");
    let mut fast = String::new();
    match write(&mut fast, value) {
        Ok(()) => {
            assert_eq!(
                fast,
                expected,
                "for {}",
                serde_json::to_string(&serde_json::to_value(value).unwrap_or_default()).unwrap_or_default()
            );
            true
        }
        Err(_) => false,
    }
}

/// Every child of every sample, and of XAgents that turn on what the samples leave off.
#[test]
fn every_rendered_child_is_written_by_the_fast_writer_exactly_as_serde_yaml_writes_it() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut inputs: Vec<String> =
        ["xagent.yaml", "xagent-minimal.yaml", "xagent-everything.yaml", "xagent-openshift.yaml"]
            .iter()
            .map(|f| std::fs::read_to_string(root.join("config/samples").join(f)).expect("sample"))
            .collect();
    inputs.push(
        "apiVersion: xagent.io/v1alpha1\nkind: XAgent\nmetadata: {name: dash, namespace: ops}\nspec:\n  \
         monitoring: {dashboard: {enabled: true}, team: platform.core}\n  networkPolicy: {enabled: true}\n  \
         chromadb: {enabled: true}\n  ingress: {host: dash.example.com, annotations: {a.b/c: \"multi\\nline\", \
         d.e/f: \"0123\", g.h/i: 'yes: no', j.k/l: '#x', m.n/o: ' lead', p.q/r: 'true', s.t/u: ''}}\n"
            .to_string(),
    );
    let mut children = 0;
    for input in &inputs {
        for xagent in parse_documents(input).expect("valid input") {
            for child in builders::build(&xagent) {
                assert!(same_as_serde_yaml(&child), "{} fell back to serde_yaml", child.reference());
                children += 1;
            }
        }
    }
    assert!(children > 60, "{children} children");
}

/// Strings that reach the style rules: null, boolean and number look-alikes,
/// indicators at the start, inside and at the end, leading and trailing
/// spaces and breaks, quotes, escapes and non-ASCII text.
const TRICKY: &[&str] = &[
    "",
    " ",
    "  ",
    "a",
    "null",
    "Null",
    "NULL",
    "~",
    "nil",
    "true",
    "True",
    "TRUE",
    "false",
    "FALSE",
    "yes",
    "no",
    "on",
    "0",
    "00",
    "0123",
    "-0123",
    "+0123",
    "12",
    "-12",
    "+12",
    "1.5",
    "-1.5",
    ".5",
    "1e3",
    "1E-3",
    "1_000",
    "0x1F",
    "0x",
    "-0x1F",
    "0o17",
    "0b101",
    "0b",
    "+0x1",
    ".inf",
    "-.inf",
    "+.inf",
    ".nan",
    ".NaN",
    "inf",
    "nan",
    "infinity",
    "12a",
    "1.2.3",
    "340282366920938463463374607431768211456",
    "-",
    "--",
    "---",
    "---a",
    "--- a",
    "...",
    "....",
    "-a",
    "- a",
    "a-",
    "?",
    "?a",
    "? a",
    ":",
    ":a",
    ": a",
    "a:",
    "a:b",
    "a: b",
    "a :b",
    "http://x",
    "#",
    "#a",
    "a#b",
    "a #b",
    "a# b",
    ",",
    ",a",
    "a,b",
    "[",
    "[a]",
    "a[b]",
    "]",
    "{",
    "{a}",
    "a{b}",
    "}",
    "&a",
    "a&b",
    "*a",
    "!a",
    "a!",
    "|",
    "|a",
    "a|b",
    ">",
    ">a",
    "'",
    "'a",
    "a'b",
    "it's",
    "''",
    "\"",
    "\"a",
    "a\"b",
    "%a",
    "a%",
    "@a",
    "`a",
    "a b",
    " a",
    "a ",
    " a ",
    "a  b",
    "\t",
    "a\tb",
    "\\",
    "a\\b",
    "\n",
    "\n\n",
    "a\n",
    "a\nb",
    "a\n\nb",
    "a\n\n",
    "\na",
    "\n\na",
    " \na",
    "a \nb",
    "a\n b",
    "a\n\n b",
    "a\nb\n",
    "a\nb ",
    "\u{7}",
    "\u{1B}",
    "\u{7F}",
    "\0",
    "é",
    "naïve",
    "日本",
    "🎉",
    "a\u{A0}b",
    "\u{A0}",
    "\u{FEFF}a",
    "\u{FFFE}",
    "\u{E000}",
    "\u{10FFFF}",
    "tab\there",
    "key: value # comment",
    "{{ $value | humanize }}",
    "sum(rate(x[5m])) > 0.05",
    "xagent/x-agent:latest",
    "app.kubernetes.io/name",
    "250m",
    "1Gi",
    "30s",
    "0.5",
    "10001",
];

/// `s` as a value, a key, an item, and deeper, in mappings and sequences.
fn positions(s: &str) -> Vec<Value> {
    vec![
        json!({ "k": s }),
        json!({ s: "v" }),
        json!([s]),
        json!(s),
        json!({ "a": { "b": [s, { "c": s }], "d": { s: [s] } } }),
        json!({ "a": [[s, [s]], [], {}], "b": [{ "c": s, "d": [] }] }),
        json!([{ "a": { "b": { "c": s } } }, [{ s: s }]]),
    ]
}

/// Whether the fast writer may leave `s` in a key or elsewhere to serde_yaml.
fn may_fall_back(s: &str, in_key: bool) -> bool {
    s.contains(['\r', '\u{85}', '\u{2028}', '\u{2029}']) || (in_key && (s.contains('\n') || s.len() > 128))
}

#[test]
fn tricky_strings_are_written_as_serde_yaml_writes_them_in_every_position() {
    for s in TRICKY {
        for (i, value) in positions(s).iter().enumerate() {
            let taken = same_as_serde_yaml(value);
            assert!(taken || may_fall_back(s, i != 0), "{s:?} in position {i} fell back");
        }
    }
    // Long strings: keys past libyaml's simple-key limit fall back, values do not.
    let long = "x".repeat(200);
    assert!(same_as_serde_yaml(&json!({ "k": long })));
    assert!(!same_as_serde_yaml(&json!({ long.clone(): 1 })));
    assert!(same_as_serde_yaml(&json!({ "x".repeat(128): 1 })));
}

/// A small deterministic generator (xorshift), so a failure reproduces.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn generated_strings_are_written_as_serde_yaml_writes_them() {
    const PIECES: &[&str] = &[
        "a", "Z", "0", "1", "9", " ", "  ", "\n", "\t", ":", "#", "-", "?", "'", "\"", "\\", ".", "|", ">",
        "{", "[", ",", "!", "é", "~", "e", "+", "_", "/", "x", "null", "true", "0x", "0o", ".inf", "---",
        "...", "🎉", "\u{A0}", "\u{7F}", "%", "@", "&", "*", "0b", "E", "b", ".NaN", "m", "Mi",
    ];
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    let mut keys_taken = 0;
    for _ in 0..20_000 {
        let len = random.below(7);
        let s: String = (0..len).map(|_| PIECES[random.below(PIECES.len())]).collect();
        let values = json!({ "v": s, "l": [s, [s]], "n": { "o": { "p": s } }, "q": [{ "r": s }] });
        assert!(same_as_serde_yaml(&values), "{s:?} as a value fell back");
        let mut map = BTreeMap::new();
        map.insert(s.clone(), vec![s.clone()]);
        if same_as_serde_yaml(&json!({ "m": map })) {
            keys_taken += 1;
        } else {
            assert!(may_fall_back(&s, true), "{s:?} as a key fell back");
        }
    }
    // Only multi-line keys (libyaml's `? key`) are left to serde_yaml.
    assert!(keys_taken > 18_000, "only {keys_taken} of 20000 keys taken");
}

#[test]
fn numbers_booleans_nulls_and_empty_collections_are_written_as_serde_yaml_writes_them() {
    let value = json!({
        "a": {}, "b": [], "c": [{}, [], [[]], {"d": {}}], "e": null, "f": 1, "g": -5, "h": true, "i": false,
        "j": u64::MAX, "k": i64::MIN, "l": [null, 0, -0, {"m": [{}]}], "n": {"o": [], "p": {}}
    });
    assert!(same_as_serde_yaml(&value));
    assert!(same_as_serde_yaml(&json!({})));
    assert!(same_as_serde_yaml(&json!([])));
    assert!(same_as_serde_yaml(&json!(null)));
    assert!(same_as_serde_yaml(&json!(42)));
    assert!(same_as_serde_yaml(&(i128::MIN, u128::MAX, 'x', '\'', ())));
    // Either side of where the digits move from 128-bit to 64-bit division.
    let wide = i128::from(u64::MAX);
    assert!(same_as_serde_yaml(&(wide, wide + 1, -wide, -wide - 1, 10 * wide + 9, i128::MAX)));
}

#[test]
fn what_the_fast_writer_does_not_reproduce_is_left_to_serde_yaml() {
    #[derive(Serialize)]
    enum Tagged {
        Newtype(u8),
        Struct { a: u8 },
    }
    let mut out = String::new();
    assert!(write(&mut out, &json!({ "float": 1.5 })).is_err());
    assert!(write(&mut out, &Tagged::Newtype(1)).is_err());
    assert!(write(&mut out, &Tagged::Struct { a: 1 }).is_err());
    assert!(write(&mut out, &json!({ "a\rb": 1 })).is_err());
    assert!(write(&mut out, &json!({ "k": "line\u{2028}separator" })).is_err());
}

#[test]
fn every_byte_is_classed_alike_in_every_position_of_a_string() {
    // Byte by byte up to 64 bytes, eight at a time past them, where a
    // string is never a plain word.
    for len in (1..=17).chain(64..=81) {
        let long = if len > 64 { NOT_WORD } else { 0 };
        for byte in 0..=255u8 {
            for at in 0..len {
                let mut bytes = vec![b'a'; len];
                bytes[at] = byte;
                let expected = CLASS[usize::from(byte)] | long;
                assert_eq!(classes(&bytes), expected, "byte {byte:#04x} at {at} of {len}");
            }
        }
    }
    let all: Vec<u8> = (0..=255).collect();
    assert_eq!(classes(&all), UNUSUAL | NOT_WORD | COLON | HASH);
    assert_eq!(classes(b""), 0);
    assert_eq!(classes(b"app.kubernetes.io/name-0_9"), 0);
}
