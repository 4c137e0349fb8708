//! What an item names, as its `ItemRecord` carries it: open, or packed as the cache wrote it.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::strings::for_each_string;
use crate::parse::{BodyMacro, Call, Named, Refs, UseFacts};

/// What an item names (`parse::Refs`), as its record carries it.
///
/// An item's scopes need every item's `use` declarations and supertraits; the rest (types,
/// values, calls, macros, derives: its *names*) only its own edges. A record read back from the
/// cache, for a file that is not parsed again, keeps its names *packed*: the bytes the cache
/// wrote them as, and their hash. A rerun decodes them for the items whose edges it resolves
/// again (`Scoped::edges`) and keys the others' edges by the hash (`index::resolved`), so that
/// what it decodes, hashes and frees follows the edit rather than the size of the crate.
///
/// A packed record has no body macros (a record with some is read back open: expanding them
/// rewrites its calls), and its calls are those its crate compiles: `assemble` drops the others
/// from records without body macros (`keep_compiled_calls`), so that nothing is left to do to
/// its names before resolution.
#[derive(Debug)]
pub enum RecordRefs {
    /// `hash` is the names' `names_hash`, once known; anything that changes `refs` clears it.
    Open {
        refs: Refs,
        hash: OnceLock<u64>,
    },
    Packed(Packed),
}

#[derive(Debug)]
pub struct Packed {
    uses: Vec<UseFacts>,
    supertraits: Vec<Named>,
    /// `encode_names` of the names.
    names: Box<[u8]>,
    hash: u64,
}

/// The names as the cache writes them: resolution's input, and nothing else (`cfg_derives` are
/// folded into `derives` by `assemble`; `uses`, `supertraits` and `body_macros` are kept apart).
type NamesRef<'a> = (&'a [Named], &'a [Named], &'a [Call], &'a [Named], &'a [Named]);
type Names = (Vec<Named>, Vec<Named>, Vec<Call>, Vec<Named>, Vec<Named>);

fn names_of(refs: &Refs) -> NamesRef<'_> {
    (&refs.types, &refs.values, &refs.calls, &refs.macros, &refs.derives)
}

fn encode_names(refs: &Refs) -> Vec<u8> {
    // Plain data into a `Vec`: encoding cannot fail.
    rmp_serde::to_vec(&names_of(refs)).unwrap_or_default()
}

fn decode_names(bytes: &[u8], into: &mut Refs) {
    // The bytes are `encode_names`' own, from a cache blob whose hash was checked when it was
    // read: failing to decode them is a bug, contained to the crate being resolved.
    let (types, values, calls, macros, derives): Names =
        rmp_serde::from_slice(bytes).expect("a cached record's names decode as they were encoded");
    (into.types, into.values, into.calls, into.macros, into.derives) = (types, values, calls, macros, derives);
}

impl Default for RecordRefs {
    fn default() -> RecordRefs {
        Refs::default().into()
    }
}

impl From<Refs> for RecordRefs {
    fn from(refs: Refs) -> RecordRefs {
        RecordRefs::Open { refs, hash: OnceLock::new() }
    }
}

impl RecordRefs {
    pub fn uses(&self) -> &[UseFacts] {
        match self {
            RecordRefs::Open { refs, .. } => &refs.uses,
            RecordRefs::Packed(packed) => &packed.uses,
        }
    }

    pub fn supertraits(&self) -> &[Named] {
        match self {
            RecordRefs::Open { refs, .. } => &refs.supertraits,
            RecordRefs::Packed(packed) => &packed.supertraits,
        }
    }

    pub fn body_macros(&self) -> &[BodyMacro] {
        match self {
            RecordRefs::Open { refs, .. } => &refs.body_macros,
            RecordRefs::Packed(_) => &[],
        }
    }

    /// The refs, unless packed.
    pub fn open(&self) -> Option<&Refs> {
        match self {
            RecordRefs::Open { refs, .. } => Some(refs),
            RecordRefs::Packed(_) => None,
        }
    }

    pub fn is_packed(&self) -> bool {
        matches!(self, RecordRefs::Packed(_))
    }

    /// The refs, to change: a packed record's names are decoded first.
    pub fn open_mut(&mut self) -> &mut Refs {
        if let RecordRefs::Packed(packed) = self {
            let mut refs = Refs {
                uses: std::mem::take(&mut packed.uses),
                supertraits: std::mem::take(&mut packed.supertraits),
                ..Refs::default()
            };
            decode_names(&packed.names, &mut refs);
            *self = refs.into();
        }
        match self {
            RecordRefs::Open { refs, hash } => {
                hash.take();
                refs
            }
            RecordRefs::Packed(_) => unreachable!("opened above"),
        }
    }

    /// What resolution reads of the item's own edges: the refs, with a packed record's names
    /// decoded (and its `uses` left out: edges read the crate's resolved imports instead).
    pub fn for_edges(&self) -> Cow<'_, Refs> {
        match self {
            RecordRefs::Open { refs, .. } => Cow::Borrowed(refs),
            RecordRefs::Packed(packed) => {
                let mut refs = Refs { supertraits: packed.supertraits.clone(), ..Refs::default() };
                decode_names(&packed.names, &mut refs);
                Cow::Owned(refs)
            }
        }
    }

    /// Calls `on_str` with every string the record names (its `use` declarations, supertraits
    /// and names, packed or not): what `names::mentions` reads. A packed record's names are
    /// walked as the cache wrote them; the rest is read as it is (`strings::for_each_string`).
    pub fn visit_name_strings(&self, on_str: &mut dyn FnMut(&str)) {
        for_each_string(&(self.uses(), self.supertraits()), on_str);
        match self {
            RecordRefs::Open { refs, .. } => for_each_string(&names_of(refs), on_str),
            RecordRefs::Packed(packed) => {
                let _ = super::names::visit_strings(&packed.names, on_str);
            }
        }
    }

    /// The hash of the names' encoding: equal for equal names, whether open or packed.
    pub fn names_hash(&self) -> u64 {
        match self {
            RecordRefs::Open { refs, hash } => *hash.get_or_init(|| xxh3_64(&encode_names(refs))),
            RecordRefs::Packed(packed) => packed.hash,
        }
    }
}

/// As a tuple: `uses`, `supertraits`, `body_macros`, the names' encoding (msgpack `bin`) and its
/// hash. Encoding an open record notes the hash, which the segment keys need next.
impl Serialize for RecordRefs {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (uses, supertraits, body_macros) = (self.uses(), self.supertraits(), self.body_macros());
        let encoded;
        let (names, hash): (&[u8], u64) = match self {
            RecordRefs::Open { refs, hash } => {
                encoded = encode_names(refs);
                let digest = xxh3_64(&encoded);
                let _ = hash.set(digest);
                (&encoded, digest)
            }
            RecordRefs::Packed(packed) => (&packed.names, packed.hash),
        };
        let mut tuple = serializer.serialize_tuple(5)?;
        tuple.serialize_element(uses)?;
        tuple.serialize_element(supertraits)?;
        tuple.serialize_element(body_macros)?;
        tuple.serialize_element(&Bytes(names))?;
        tuple.serialize_element(&hash)?;
        tuple.end()
    }
}

/// Packed, but for a record with body macros (read back open, see `RecordRefs`).
impl<'de> Deserialize<'de> for RecordRefs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RecordRefs, D::Error> {
        struct Tuple;
        impl<'de> Visitor<'de> for Tuple {
            type Value = RecordRefs;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a record's refs")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RecordRefs, A::Error> {
                let missing = || de::Error::custom("a record's refs are cut short");
                let uses: Vec<UseFacts> = seq.next_element()?.ok_or_else(missing)?;
                let supertraits: Vec<Named> = seq.next_element()?.ok_or_else(missing)?;
                let body_macros: Vec<BodyMacro> = seq.next_element()?.ok_or_else(missing)?;
                let ByteBuf(names) = seq.next_element()?.ok_or_else(missing)?;
                let hash: u64 = seq.next_element()?.ok_or_else(missing)?;
                if body_macros.is_empty() {
                    return Ok(RecordRefs::Packed(Packed { uses, supertraits, names: names.into(), hash }));
                }
                let mut refs = Refs { uses, supertraits, body_macros, ..Refs::default() };
                let decoded: Names = rmp_serde::from_slice(&names).map_err(de::Error::custom)?;
                (refs.types, refs.values, refs.calls, refs.macros, refs.derives) = decoded;
                Ok(RecordRefs::Open { refs, hash: OnceLock::from(hash) })
            }
        }
        deserializer.deserialize_tuple(5, Tuple)
    }
}

/// Bytes written as msgpack `bin`, not as an array of integers.
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

struct ByteBuf(Vec<u8>);

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ByteBuf, D::Error> {
        struct Buf;
        impl<'de> Visitor<'de> for Buf {
            type Value = ByteBuf;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }

            fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<ByteBuf, E> {
                Ok(ByteBuf(bytes.to_vec()))
            }

            fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<ByteBuf, E> {
                Ok(ByteBuf(bytes))
            }
        }
        deserializer.deserialize_byte_buf(Buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The refs of the file's one item, as parsing gives them.
    fn refs_of(text: &str) -> Refs {
        let mut facts = crate::parse::parse_file(text).unwrap();
        facts.items.remove(0).refs
    }

    fn round_trip(refs: &RecordRefs) -> (Vec<u8>, RecordRefs) {
        let bytes = rmp_serde::to_vec(refs).unwrap();
        let read = rmp_serde::from_slice(&bytes).unwrap();
        (bytes, read)
    }

    #[test]
    fn a_record_read_back_is_packed_with_the_same_names_and_hash() {
        let refs =
            refs_of("pub fn f(v: Vec<u8>) -> crate::a::B { use std::fmt::Write; let _ = MAX; g(v.len()); h::<T>() }");
        assert!(!refs.uses.is_empty() && !refs.types.is_empty() && !refs.values.is_empty() && refs.calls.len() > 2);
        let open = RecordRefs::from(refs.clone());
        let (bytes, read) = round_trip(&open);
        assert!(read.is_packed());
        assert_eq!(read.names_hash(), open.names_hash());
        assert_eq!(read.uses(), &refs.uses[..]);
        // Decoded for edges: the names and supertraits, without the uses.
        assert_eq!(*read.for_edges(), Refs { uses: Vec::new(), ..refs.clone() });
        // Written again as read, byte for byte.
        assert_eq!(round_trip(&read).0, bytes);
        // Opened to change: everything back, and the hash follows the change.
        let mut read = read;
        let called = read.open_mut().calls.pop().unwrap();
        assert_ne!(read.names_hash(), open.names_hash());
        read.open_mut().calls.push(called);
        assert_eq!(read.names_hash(), open.names_hash());
        assert!(!read.is_packed());
        assert_eq!(*read.for_edges(), refs);
    }

    #[test]
    fn a_record_with_body_macros_is_read_back_open() {
        let refs = refs_of("pub trait T: Clone + Send { fn f(&self) { mine!(self.g()); } }");
        let method = refs_of("fn f(x: u8) { mine!(x.g()); }");
        assert_eq!(refs.supertraits.len(), 2);
        assert_eq!(method.body_macros.len(), 1);
        let (_, read) = round_trip(&RecordRefs::from(method.clone()));
        assert!(!read.is_packed());
        assert_eq!(read.body_macros(), &method.body_macros[..]);
        assert_eq!(*read.for_edges(), method);
        let (_, read) = round_trip(&RecordRefs::from(refs.clone()));
        assert_eq!(read.supertraits(), &refs.supertraits[..]);
    }
}
