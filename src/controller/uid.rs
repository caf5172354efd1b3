//! An object's uid as the caches keep it: 16 bytes instead of a 36-byte
//! string on the heap.
//!
//! Each cached child holds two uids (its own and its controller's), so at
//! 13,000 children the strings alone were about a megabyte. The API server
//! assigns every uid as a canonical (lowercase, hyphenated) UUID; only that
//! form is packed, because it is the only one whose text can be rebuilt
//! exactly. Anything else (a uid written by a test, a future format) is kept
//! as text, so two uids compare equal exactly when their strings do: the
//! controller uid decides whether a child is ours, and a lossy form (a
//! digest) would let a crafted owner reference pass as ours.

use std::fmt;

/// A uid (see the module docs).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Uid {
    /// A canonical UUID's 16 bytes.
    Uuid([u8; 16]),
    /// Any other uid, verbatim.
    Text(Box<str>),
}

/// Where the hyphens of a canonical UUID are.
const HYPHENS: [usize; 4] = [8, 13, 18, 23];

impl Uid {
    /// The uid whose text is `text`.
    pub fn new(text: &str) -> Self {
        packed(text).map_or_else(|| Uid::Text(text.into()), Uid::Uuid)
    }

    /// Whether this is the uid whose text is `text`, without allocating.
    pub fn is(&self, text: &str) -> bool {
        match self {
            Uid::Uuid(bytes) => packed(text).as_ref() == Some(bytes),
            Uid::Text(own) => **own == *text,
        }
    }
}

/// The 16 bytes of `text` if it is a canonical UUID: 36 characters,
/// lowercase hex digits with hyphens at 8, 13, 18 and 23.
fn packed(text: &str) -> Option<[u8; 16]> {
    let text = text.as_bytes();
    if text.len() != 36 || HYPHENS.iter().any(|&at| text[at] != b'-') {
        return None;
    }
    let mut digits = text.iter().enumerate().filter(|(at, _)| !HYPHENS.contains(at)).map(|(_, &c)| c);
    let mut bytes = [0u8; 16];
    for byte in &mut bytes {
        *byte = nibble(digits.next()?)? << 4 | nibble(digits.next()?)?;
    }
    Some(bytes)
}

/// The value of a lowercase hex digit.
fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uid::Uuid(bytes) => {
                for (i, byte) in bytes.iter().enumerate() {
                    if matches!(i, 4 | 6 | 8 | 10) {
                        f.write_str("-")?;
                    }
                    write!(f, "{byte:02x}")?;
                }
                Ok(())
            }
            Uid::Text(text) => f.write_str(text),
        }
    }
}

impl fmt::Debug for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::Uid;

    const UUID: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

    #[test]
    fn a_canonical_uuid_is_packed_and_its_text_rebuilt_exactly() {
        let uid = Uid::new(UUID);
        assert!(matches!(uid, Uid::Uuid(_)), "{uid:?}");
        assert_eq!(uid.to_string(), UUID);
        assert!(uid.is(UUID));
    }

    #[test]
    fn any_other_text_is_kept_verbatim() {
        for text in [
            "",
            "owner-1",
            // Uppercase, braces, a missing or a moved hyphen, one digit too many:
            // none is the canonical text, so none may be packed.
            "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0",
            "{0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0}",
            "0f1e2d3c4b5a-6978-8796-a5b4c3d2e1f0",
            "0f1e2d3-c4b5a-6978-8796-a5b4c3d2e1f0",
            "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f00",
            "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1fg",
        ] {
            let uid = Uid::new(text);
            assert!(matches!(uid, Uid::Text(_)), "{text:?} was packed");
            assert_eq!(uid.to_string(), text);
            assert!(uid.is(text));
        }
    }

    #[test]
    fn uids_are_equal_exactly_when_their_texts_are() {
        let texts =
            [UUID, "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f1", "owner-1"];
        for a in texts {
            for b in texts {
                assert_eq!(Uid::new(a) == Uid::new(b), a == b, "{a} vs {b}");
                assert_eq!(Uid::new(a).is(b), a == b, "{a} is {b}");
            }
        }
    }

    #[test]
    fn a_packed_uid_is_two_pointers_wide() {
        assert_eq!(std::mem::size_of::<Option<Uid>>(), 24);
    }
}
