//! [`NodeId`]: a node's id, kept inline where it fits.
//!
//! A node's id and the ids of its relationship peers are most of the strings the store
//! makes: every node read back from its rows spells out an id per peer, and every write
//! copies the view it changes, peers included. As `String`s each was a heap allocation of
//! its own, made and freed again by the hundred per node write. The store's ids are
//! version 7 UUIDs in their 36-character text (see [`crate::node::new_id`]): a `NodeId`
//! holds such a text (and any other up to [`NodeId::INLINE`] bytes) in place, so copying
//! one copies 40 bytes and allocates nothing. A longer id — a create may name its own id,
//! in any text — is shared behind an `Arc`.
//!
//! A `NodeId` is its text to every reader: it dereferences to `str`, and compares, orders
//! and hashes exactly as that `str` does, so maps and sets keyed by `NodeId` are looked up
//! by `&str` (`Borrow<str>`) and keep the order a `String` key had.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// A node's id (see the module documentation).
#[derive(Clone)]
pub struct NodeId(Repr);

#[derive(Clone)]
enum Repr {
    /// The first `len` bytes of `bytes` are the id's text.
    Inline {
        len: u8,
        bytes: [u8; NodeId::INLINE],
    },
    /// An id longer than [`NodeId::INLINE`] bytes.
    Shared(Arc<str>),
}

impl NodeId {
    /// The longest id kept in place: a canonical UUID's 36 characters and a little more.
    pub const INLINE: usize = 38;

    /// The empty id (what a node not yet given one holds).
    pub const EMPTY: NodeId = NodeId(Repr::Inline {
        len: 0,
        bytes: [0; NodeId::INLINE],
    });

    /// The id `text`.
    pub fn new(text: &str) -> Self {
        match u8::try_from(text.len()) {
            Ok(len) if text.len() <= Self::INLINE => {
                let mut bytes = [0; Self::INLINE];
                bytes[..text.len()].copy_from_slice(text.as_bytes());
                NodeId(Repr::Inline { len, bytes })
            }
            _ => NodeId(Repr::Shared(text.into())),
        }
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline { len, bytes } => {
                let text = &bytes[..usize::from(*len)];
                // The bytes were copied from a `str` whole (`NodeId::new`), and are only
                // ever read up to its length.
                debug_assert!(std::str::from_utf8(text).is_ok());
                // SAFETY: `text` is the UTF-8 of the `str` the id was made from.
                unsafe { std::str::from_utf8_unchecked(text) }
            }
            Repr::Shared(text) => text,
        }
    }
}

impl Default for NodeId {
    fn default() -> Self {
        NodeId::EMPTY
    }
}

impl Deref for NodeId {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for NodeId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for NodeId {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for NodeId {
    fn from(text: &str) -> Self {
        NodeId::new(text)
    }
}

impl From<&String> for NodeId {
    fn from(text: &String) -> Self {
        NodeId::new(text)
    }
}

impl From<String> for NodeId {
    fn from(text: String) -> Self {
        NodeId::new(&text)
    }
}

impl From<&NodeId> for NodeId {
    fn from(id: &NodeId) -> Self {
        id.clone()
    }
}

impl From<NodeId> for String {
    fn from(id: NodeId) -> Self {
        id.as_str().to_owned()
    }
}

impl From<&NodeId> for String {
    fn from(id: &NodeId) -> Self {
        id.as_str().to_owned()
    }
}

impl PartialEq for NodeId {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            // Both in place: the unused bytes are zero in each, so the arrays are equal
            // exactly when the texts are (a fixed-size comparison, no call).
            (Repr::Inline { len: a, bytes: x }, Repr::Inline { len: b, bytes: y }) => {
                a == b && x == y
            }
            _ => self.as_str() == other.as_str(),
        }
    }
}

impl Eq for NodeId {}

impl PartialEq<str> for NodeId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for NodeId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for NodeId {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<NodeId> for str {
    fn eq(&self, other: &NodeId) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<NodeId> for &str {
    fn eq(&self, other: &NodeId) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<NodeId> for String {
    fn eq(&self, other: &NodeId) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialOrd for NodeId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// As the texts order.
impl Ord for NodeId {
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.0, &other.0) {
            (Repr::Inline { len: a, bytes: x }, Repr::Inline { len: b, bytes: y }) => {
                inline_order(x, y).then(a.cmp(b))
            }
            _ => self.as_str().cmp(other.as_str()),
        }
    }
}

/// The order of two texts kept in place, but for their lengths, read eight bytes at a time
/// rather than through a call to `memcmp`: ids are compared at every step of a B-tree
/// search. The bytes past each text are zero, so a text that is a prefix of the other
/// compares equal here or less (where the other goes on with a byte above zero), and the
/// lengths decide the rest, as they do for `str`. The last word overlaps the one before it
/// by two bytes, which are equal by then.
fn inline_order(x: &[u8; NodeId::INLINE], y: &[u8; NodeId::INLINE]) -> Ordering {
    const WORDS: [usize; 5] = [0, 8, 16, 24, NodeId::INLINE - 8];
    for at in WORDS {
        let (a, b) = (word(x, at), word(y, at));
        if a != b {
            return a.cmp(&b);
        }
    }
    Ordering::Equal
}

/// The eight bytes of `bytes` from `at`, as a big-endian number: numbers order as the
/// bytes do.
fn word(bytes: &[u8; NodeId::INLINE], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_be_bytes(word)
}

/// As the text hashes, so that a map keyed by `NodeId` is searched by `&str`.
impl Hash for NodeId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for NodeId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for NodeId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = NodeId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a node id")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<NodeId, E> {
                Ok(NodeId::new(text))
            }
        }
        deserializer.deserialize_str(Text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashMap};

    /// Ids of every length around the inline limit, UUIDs among them, and texts that
    /// differ only past a shared prefix or in a trailing NUL.
    fn samples() -> Vec<String> {
        let mut texts: Vec<String> = (0..=NodeId::INLINE + 3).map(|n| "x".repeat(n)).collect();
        texts.extend([
            crate::node::new_id(),
            crate::node::new_id(),
            "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
            "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c".into(),
            "ab".into(),
            "ab\0".into(),
            "ab\0x".into(),
            "é-node".into(),
            "a".repeat(NodeId::INLINE) + "é",
        ]);
        // One byte changed, up or down, at each edge of the eight-byte words compared.
        for at in [0, 7, 8, 15, 16, 23, 24, 29, 30, 31, 32, 33, 36, 37] {
            for byte in ['b', '\0'] {
                let mut text: Vec<char> = "a".repeat(NodeId::INLINE).chars().collect();
                text[at] = byte;
                texts.push(text.iter().collect());
                texts.push(text[..at + 1].iter().collect());
            }
        }
        texts.sort();
        texts.dedup();
        texts
    }

    #[test]
    fn an_id_reads_back_as_the_text_it_was_made_from() {
        for text in samples() {
            let id = NodeId::new(&text);
            assert_eq!(id.as_str(), text);
            assert_eq!(&*id, text.as_str());
            assert_eq!(String::from(id.clone()), text);
            assert_eq!(id.to_string(), text);
            assert_eq!(format!("{id:?}"), format!("{text:?}"));
        }
    }

    #[test]
    fn ids_compare_and_order_as_their_texts() {
        let texts = samples();
        for a in &texts {
            for b in &texts {
                let (x, y) = (NodeId::new(a), NodeId::new(b));
                assert_eq!(x == y, a == b, "{a:?} == {b:?}");
                assert_eq!(x.cmp(&y), a.cmp(b), "{a:?} cmp {b:?}");
                assert_eq!(x == *b.as_str(), a == b);
            }
        }
    }

    #[test]
    fn a_map_keyed_by_ids_is_searched_by_text_and_iterates_in_text_order() {
        let texts = samples();
        let by_id: HashMap<NodeId, usize> = texts
            .iter()
            .enumerate()
            .map(|(n, text)| (NodeId::new(text), n))
            .collect();
        for (n, text) in texts.iter().enumerate() {
            assert_eq!(by_id.get(text.as_str()), Some(&n), "{text:?}");
        }
        let ordered: BTreeSet<NodeId> = texts.iter().map(NodeId::from).collect();
        let expected: BTreeSet<&str> = texts.iter().map(String::as_str).collect();
        assert!(
            ordered
                .iter()
                .map(NodeId::as_str)
                .eq(expected.iter().copied())
        );
        assert!(ordered.contains("ab\0"));
    }

    #[test]
    fn an_id_is_json_text() {
        for text in samples() {
            let id = NodeId::new(&text);
            let json = serde_json::to_string(&id).expect("serializes");
            assert_eq!(json, serde_json::to_string(&text).expect("serializes"));
            let back: NodeId = serde_json::from_str(&json).expect("deserializes");
            assert_eq!(back, id);
        }
        assert!(serde_json::from_str::<NodeId>("7").is_err());
    }

    #[test]
    fn a_uuid_is_kept_in_place_and_takes_no_more_than_forty_bytes() {
        assert!(matches!(
            NodeId::new(&crate::node::new_id()).0,
            Repr::Inline { .. }
        ));
        assert!(matches!(
            NodeId::new(&"y".repeat(NodeId::INLINE + 1)).0,
            Repr::Shared(_)
        ));
        assert_eq!(std::mem::size_of::<NodeId>(), 40);
    }
}
