//! 64-bit FNV-1a: the one digest the operator writes into objects (stamps,
//! dashboard uids) and keys its memos by. Fixed by its definition, so a
//! digest is the same in every process, release and toolchain (std's hasher
//! promises no stable output), and a restarted operator or a second replica
//! reads the same stamps back.

use std::io;

/// FNV-1a's starting state.
pub const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a's prime.
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a of `text`.
pub fn fnv1a(text: &str) -> u64 {
    fnv1a_from(OFFSET, text)
}

/// FNV-1a of `text` continued from `hash`: hashing parts one after another
/// gives the digest of their concatenation, without building it.
pub fn fnv1a_from(hash: u64, text: &str) -> u64 {
    bytes_from(hash, text.as_bytes())
}

/// FNV-1a of `bytes` continued from `hash`; `const`, so fixed digests can be
/// constants.
pub const fn bytes_from(mut hash: u64, bytes: &[u8]) -> u64 {
    let mut at = 0;
    while at < bytes.len() {
        hash = (hash ^ bytes[at] as u64).wrapping_mul(PRIME);
        at += 1;
    }
    hash
}

/// FNV-1a of `value`'s compact JSON (serde_json sorts object keys, so equal
/// values give equal digests), hashed as it is written: no string is built.
pub fn json(value: &serde_json::Value) -> u64 {
    let mut sink = Sink(OFFSET);
    // Writing into `Sink` cannot fail, nor can serializing a `Value`.
    let _ = serde_json::to_writer(&mut sink, value);
    sink.0
}

/// A writer that keeps only the FNV-1a of what is written to it.
struct Sink(u64);

impl io::Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0 = bytes_from(self.0, bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_fnv1a_by_its_definition() {
        assert_eq!(fnv1a(""), OFFSET);
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c, "FNV-1a 64 of \"a\"");
        assert_eq!(fnv1a("foobar"), 0x8594_4171_f739_67e8, "FNV-1a 64 of \"foobar\"");
    }

    #[test]
    fn parts_hash_to_the_digest_of_their_concatenation() {
        assert_eq!(fnv1a_from(fnv1a("Deployment/"), "team/demo"), fnv1a("Deployment/team/demo"));
    }

    #[test]
    fn a_json_digest_is_that_of_the_compact_text_it_would_write() {
        let value = serde_json::json!({"spec": {"b": [1, 2.5, "x\"y"], "a": null}, "kind": "K"});
        assert_eq!(json(&value), fnv1a(&value.to_string()));
        assert_ne!(json(&value), json(&serde_json::json!({"kind": "K"})));
    }
}
