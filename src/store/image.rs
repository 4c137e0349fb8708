//! A msgpack graph read straight into a `Graph`, without IndraDB and without decoding property
//! values up front.
//!
//! `MemoryDatastore::read_msgpack_db` decodes the whole image into IndraDB's maps, and reading
//! those back copies every property again: about 13 s and 1.9 GB for a 349 MB image. A reader
//! wants the graph's shape at once and a few properties, so this module walks the image once
//! with a bounds-checked, iterative cursor and keeps, for each vertex, its kind and the byte
//! offsets of its property values, and for each edge its ends, kind and property offsets. The
//! values stay in the image's bytes until asked for (`ImageProps`): `text`, `uint` and `flag`
//! read them in place, `value` decodes one on first use and keeps it.
//!
//! The layout is the one `msgpack::write_image` writes, IndraDB 5.0.0's private `InternalMemory`
//! as rmp_serde encodes it (a struct is an array of its fields; a `Uuid` is a 16-byte bin; an
//! `Identifier` a str; `Json` the value's own msgpack):
//!
//! ```text
//! [ vertices:          map  uuid -> kind
//!   edges:             array of [from uuid, kind, to uuid], in (from, kind, to) order
//!   reversed_edges:    the same, each reversed            (walked over)
//!   vertex_properties: map  [uuid, name] -> value
//!   edge_properties:   map  [[from, kind, to], name] -> value
//!   property_values:   IndraDB's property index            (walked over) ]
//! ```
//!
//! Nothing in the file is trusted: every length is checked against the bytes left before
//! anything is sized by it, nesting is walked with an explicit, bounded stack, and strings are
//! checked as UTF-8 where IndraDB's decoder would check them, so any file gives a `Graph` or
//! `StoreError::Unreadable`, never a panic. Values are checked to be what `serde_json::Value`
//! accepts, so that one decoded later always decodes.
//!
//! A delta log (`delta`) is applied on top with the checks and the order of `update::apply`;
//! vertices and edges it touches get decoded property maps (an overlay); the rest keep theirs in
//! the image.
//!
//! This module knows the image's bytes and `model`; it knows nothing of IndraDB's API (the
//! version record is checked here as `check_version` checks it through IndraDB), and nothing of
//! what readers do with the graph.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use camino::Utf8Path;
use serde_json::Value;
use uuid::Uuid;

use super::graph::{self, EdgeRef, Graph, PropTable, V};
use super::{INDEXED_PROPERTIES, META_KIND, StoreError, delta, identifier, meta_id};
use crate::model::{Diff, EdgeKind, SCHEMA_VERSION, VertexKind};

/// The largest image this module reads: offsets into it are kept as `u32`, which halves the
/// memory of the property tables. Larger images are read through IndraDB (`open_graph`).
pub(super) const MAX_IMAGE: u64 = u32::MAX as u64;

/// How deep a property value may nest. rmp_serde refuses more than 1024 levels counted from the
/// top of the image, where values start three levels down; a value this module accepts must
/// decode later.
const MAX_DEPTH: usize = 1000;

/// The kind code of the version record's vertices (kinds of `VertexKind::ALL` are their index).
const META: u8 = 0xFE;
/// The kind code of a kind this cargo-codegraph does not know.
const UNKNOWN: u8 = 0xFF;

/// Reads the msgpack graph at `path` (and its delta log) into a snapshot. Fails as `read_graph`
/// followed by `Graph::from_stored` would: `Unreadable` for a damaged or foreign file or a delta
/// that does not apply, `Schema` for another schema.
pub(super) fn open(path: &Utf8Path) -> Result<Graph, StoreError> {
    let unreadable = |reason: String| StoreError::Unreadable { path: path.to_owned(), reason };
    let bytes = Bytes::open(path).map_err(|err| unreadable(err.to_string()))?;
    let image = decode(Arc::new(bytes)).map_err(|damage| unreadable(damage.to_string()))?;
    let diffs = delta::read(path)?;
    let mut state = State::new(image);
    for diff in diffs {
        state.apply(diff).map_err(|err| {
            // As `open_msgpack` says it: builds trust a known graph, so only `--rebuild` replaces
            // a delta that does not apply.
            unreadable(format!("its delta log `{}` does not apply ({err}); `--rebuild` replaces it", delta::path(path)))
        })?;
    }
    state.check_version(path)?;
    state.into_graph().map_err(unreadable)
}

/// The image's bytes: the file mapped into memory, or, where it cannot be mapped, read.
pub(crate) enum Bytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl Bytes {
    fn open(path: &Utf8Path) -> std::io::Result<Bytes> {
        let file = std::fs::File::open(path)?;
        // Mapped rather than read: reading copies the file out of the page cache into pages the
        // kernel must zero first, which took about 40% of a snapshot's time (benches/README.md).
        // Pre-faulting the whole mapping (`populate`) measured no better.
        let options = memmap2::MmapOptions::new();
        // SAFETY: a mapping is sound while nobody changes the file. cargo-codegraph never writes
        // a graph file in place: every save writes a temp file and renames it over the graph
        // (`msgpack::Staging::commit`), so a mapped image keeps its bytes, the old file's, even
        // while a build replaces the graph. Only another program writing into the file itself
        // could change them under the snapshot.
        match unsafe { options.map(&file) } {
            Ok(map) => Ok(Bytes::Mapped(map)),
            Err(_) => std::fs::read(path).map(Bytes::Read),
        }
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(map) => map,
            Bytes::Read(bytes) => bytes,
        }
    }
}

/// Where the cursor found the file wrong.
#[derive(Debug)]
struct Damage {
    at: usize,
    what: &'static str,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

/// A position in the image. Every read is checked against the end; nothing is sized by a length
/// the bytes left cannot hold.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn damage(&self, what: &'static str) -> Damage {
        Damage { at: self.pos, what }
    }

    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Damage> {
        match self.bytes.get(self.pos..self.pos.saturating_add(n)) {
            Some(taken) if n <= self.left() => {
                self.pos += n;
                Ok(taken)
            }
            _ => Err(self.damage("the file ends too early")),
        }
    }

    fn byte(&mut self) -> Result<u8, Damage> {
        Ok(self.take(1)?[0])
    }

    /// A big-endian unsigned integer of `n` bytes (at most 8).
    fn be(&mut self, n: usize) -> Result<u64, Damage> {
        Ok(self.take(n)?.iter().fold(0, |acc, byte| (acc << 8) | u64::from(*byte)))
    }

    /// A length read from the file, refused unless `min_size`-byte items of that count fit in
    /// what is left.
    fn count(&mut self, len: u64, min_size: usize) -> Result<usize, Damage> {
        match usize::try_from(len) {
            Ok(len) if len.saturating_mul(min_size) <= self.left() => Ok(len),
            _ => Err(self.damage("a length claims more than the file holds")),
        }
    }

    /// An array's length, each element at least `min_size` bytes.
    fn array(&mut self, min_size: usize) -> Result<usize, Damage> {
        let len = match self.byte()? {
            marker @ 0x90..=0x9f => u64::from(marker & 0x0f),
            0xdc => self.be(2)?,
            0xdd => self.be(4)?,
            _ => return Err(self.damage("an array expected")),
        };
        self.count(len, min_size)
    }

    /// A map's number of entries, each entry at least `min_size` bytes.
    fn map(&mut self, min_size: usize) -> Result<usize, Damage> {
        let len = match self.byte()? {
            marker @ 0x80..=0x8f => u64::from(marker & 0x0f),
            0xde => self.be(2)?,
            0xdf => self.be(4)?,
            _ => return Err(self.damage("a map expected")),
        };
        self.count(len, min_size)
    }

    fn tuple(&mut self, len: usize) -> Result<(), Damage> {
        if self.array(1)? == len { Ok(()) } else { Err(self.damage("an array of another length expected")) }
    }

    /// A uuid, as rmp_serde writes it: a bin of 16 bytes.
    fn uuid(&mut self) -> Result<Uuid, Damage> {
        if self.take(2)? != [0xc4, 16] {
            return Err(self.damage("a uuid expected"));
        }
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(self.take(16)?);
        Ok(Uuid::from_bytes(bytes))
    }

    /// The payload length of a str whose marker was just read, if it is one.
    fn str_len(&mut self, marker: u8) -> Result<Option<usize>, Damage> {
        let len = match marker {
            0xa0..=0xbf => u64::from(marker & 0x1f),
            0xd9 => self.be(1)?,
            0xda => self.be(2)?,
            0xdb => self.be(4)?,
            _ => return Ok(None),
        };
        self.count(len, 1).map(Some)
    }

    /// A UTF-8 string.
    fn str(&mut self) -> Result<&'a str, Damage> {
        let at = self.pos;
        utf8(self.str_bytes()?, at)
    }

    /// A string's bytes, not yet checked as UTF-8: kinds and property names repeat in every
    /// entry, and are checked once each (`Codes`).
    fn str_bytes(&mut self) -> Result<&'a [u8], Damage> {
        let marker = self.byte()?;
        let Some(len) = self.str_len(marker)? else {
            return Err(self.damage("a string expected"));
        };
        self.take(len)
    }

    /// Steps over one value of any kind. Iterative: a count of the values still to read.
    fn skip(&mut self) -> Result<(), Damage> {
        let mut pending: usize = 1;
        while pending > 0 {
            pending -= 1;
            let marker = self.byte()?;
            let (children, payload) = match marker {
                0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
                0x80..=0x8f => (2 * u64::from(marker & 0x0f), 0),
                0x90..=0x9f => (u64::from(marker & 0x0f), 0),
                0xa0..=0xbf => (0, u64::from(marker & 0x1f)),
                0xc4 | 0xd9 => (0, self.be(1)?),
                0xc5 | 0xda => (0, self.be(2)?),
                0xc6 | 0xdb => (0, self.be(4)?),
                0xc7 => (0, self.be(1)? + 1),
                0xc8 => (0, self.be(2)? + 1),
                0xc9 => (0, self.be(4)? + 1),
                0xcc | 0xd0 => (0, 1),
                0xcd | 0xd1 => (0, 2),
                0xca | 0xce | 0xd2 => (0, 4),
                0xcb | 0xcf | 0xd3 => (0, 8),
                0xd4 => (0, 2),
                0xd5 => (0, 3),
                0xd6 => (0, 5),
                0xd7 => (0, 9),
                0xd8 => (0, 17),
                0xdc => (self.be(2)?, 0),
                0xdd => (self.be(4)?, 0),
                0xde => (2 * self.be(2)?, 0),
                0xdf => (2 * self.be(4)?, 0),
                0xc1 => return Err(Damage { at: self.pos - 1, what: "an invalid byte" }),
            };
            // Each value still to read takes at least a byte.
            let children = self.count(children.saturating_add(pending as u64), 1)?;
            let payload = self.count(payload, 1)?;
            self.take(payload)?;
            pending = children;
        }
        Ok(())
    }

    /// Steps over one value that `serde_json::Value` accepts from rmp_serde: no bin and no ext,
    /// map keys that are strings, strings that are UTF-8, at most `MAX_DEPTH` levels. Iterative,
    /// with a stack as deep as the nesting (bounded by `MAX_DEPTH`, never by a length).
    fn skip_json(&mut self) -> Result<(), Damage> {
        // The containers open around the next value: (values still to read, is a map).
        let mut open: Vec<(usize, bool)> = Vec::new();
        let mut key = false;
        loop {
            let at = self.pos;
            let marker = self.byte()?;
            let mut children = None;
            if let Some(len) = self.str_len(marker)? {
                let text = self.take(len)?;
                if std::str::from_utf8(text).is_err() {
                    return Err(Damage { at, what: "invalid UTF-8" });
                }
            } else if key {
                return Err(Damage { at, what: "a map key that is not a string" });
            } else {
                match marker {
                    0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => {}
                    0xcc | 0xd0 => _ = self.take(1)?,
                    0xcd | 0xd1 => _ = self.take(2)?,
                    0xca | 0xce | 0xd2 => _ = self.take(4)?,
                    0xcb | 0xcf | 0xd3 => _ = self.take(8)?,
                    0x90..=0x9f => children = Some((u64::from(marker & 0x0f), false)),
                    0xdc => children = Some((self.be(2)?, false)),
                    0xdd => children = Some((self.be(4)?, false)),
                    0x80..=0x8f => children = Some((2 * u64::from(marker & 0x0f), true)),
                    0xde => children = Some((2 * self.be(2)?, true)),
                    0xdf => children = Some((2 * self.be(4)?, true)),
                    _ => return Err(Damage { at, what: "a value that is not JSON" }),
                }
            }
            if let Some((len, map)) = children {
                let len = self.count(len, 1)?;
                if len > 0 {
                    if open.len() >= MAX_DEPTH {
                        return Err(Damage { at, what: "a value nested too deeply" });
                    }
                    open.push((len, map));
                }
            }
            // The next value: the first one still to read in the innermost open container.
            loop {
                let Some((left, map)) = open.last_mut() else { return Ok(()) };
                if *left == 0 {
                    open.pop();
                    continue;
                }
                // A map's entries are counted as key and value: an even count left means a key.
                key = *map && *left % 2 == 0;
                *left -= 1;
                break;
            }
        }
    }
}

fn utf8(bytes: &[u8], at: usize) -> Result<&str, Damage> {
    std::str::from_utf8(bytes).map_err(|_| Damage { at, what: "invalid UTF-8" })
}

/// A vertex kind's code: its index in `VertexKind::ALL`, `META` or `UNKNOWN`.
fn vertex_code(name: &[u8]) -> u8 {
    match VertexKind::ALL.iter().position(|kind| kind.as_str().as_bytes() == name) {
        Some(index) => index as u8,
        None if name == META_KIND.as_bytes() => META,
        None => UNKNOWN,
    }
}

/// An edge kind's code: its index in `EdgeKind::ALL`, or `UNKNOWN`.
fn edge_code(name: &[u8]) -> u8 {
    EdgeKind::ALL.iter().position(|kind| kind.as_str().as_bytes() == name).map_or(UNKNOWN, |index| index as u8)
}

fn edge_kind(code: u8) -> Option<EdgeKind> {
    EdgeKind::ALL.get(usize::from(code)).copied()
}

/// The rank of an edge kind's name among all the kinds' names: edges are ordered by (from, kind
/// name, to), as IndraDB orders them and `Graph` numbers them. Unknown kinds come last.
fn name_rank(code: u8) -> u8 {
    edge_kind(code).map_or(UNKNOWN, |kind| graph::name_rank(kind) as u8)
}

/// An edge by vertex rows: `from` and `to` index the ids it was made with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RawEdge {
    from: u32,
    kind: u8,
    to: u32,
}

impl RawEdge {
    fn key(self) -> (u32, u8, u32) {
        (self.from, name_rank(self.kind), self.to)
    }
}

/// Property entries of rows (vertices or edges): each row's entries are a range of `names` and
/// `offsets`, sorted by name, one per name.
#[derive(Default)]
struct Entries {
    /// Row `r`'s entries are `starts[r]..starts[r + 1]`.
    starts: Vec<u32>,
    names: Vec<u16>,
    offsets: Vec<u32>,
}

impl Entries {
    fn range(&self, row: u32) -> std::ops::Range<usize> {
        let row = row as usize;
        match (self.starts.get(row), self.starts.get(row + 1)) {
            (Some(start), Some(end)) => *start as usize..*end as usize,
            _ => 0..0,
        }
    }

    /// Groups `(row, name, offset)` entries by row, for `rows` rows. `sorted` says they came by
    /// (row, name) without repeats, as the writer writes them; otherwise they are sorted here and
    /// of two entries for one name the later wins, as in the `BTreeMap` IndraDB decodes into.
    fn group(mut raw: Vec<(u32, u16, u32)>, rows: usize, sorted: bool, names: &[Box<str>]) -> Entries {
        if !sorted {
            // Stable: the later of two equal keys stays later, and the dedup keeps it.
            raw.sort_by(|a, b| (a.0, &names[usize::from(a.1)]).cmp(&(b.0, &names[usize::from(b.1)])));
            let mut kept: Vec<(u32, u16, u32)> = Vec::with_capacity(raw.len());
            for entry in raw {
                match kept.last_mut() {
                    Some(last) if (last.0, last.1) == (entry.0, entry.1) => *last = entry,
                    _ => kept.push(entry),
                }
            }
            raw = kept;
        }
        let mut starts = vec![0u32; rows + 1];
        for (row, _, _) in &raw {
            starts[*row as usize + 1] += 1;
        }
        for i in 0..rows {
            starts[i + 1] += starts[i];
        }
        let names = raw.iter().map(|entry| entry.1).collect();
        let offsets = raw.iter().map(|entry| entry.2).collect();
        Entries { starts, names, offsets }
    }
}

/// The image as decoded: rows of vertices (ids ascending) and edges (in (from, kind name, to)
/// order), their property entries, and the bytes those point into.
struct Image {
    bytes: Arc<Bytes>,
    /// The names of the vertices' properties, by the code `vertex_props` gives them.
    vertex_names: Arc<Vec<Box<str>>>,
    /// The same for edges.
    edge_names: Arc<Vec<Box<str>>>,
    ids: Vec<Uuid>,
    kinds: Vec<u8>,
    edges: Vec<RawEdge>,
    vertex_props: Entries,
    edge_props: Entries,
    /// A kind this cargo-codegraph does not know, if the image has one: an error if a vertex or
    /// edge of it is still there once the delta is applied (as `Graph::from_stored` fails on it).
    unknown_kind: Option<(&'static str, String)>,
}

impl Image {
    fn row(&self, id: &Uuid) -> Option<u32> {
        self.ids.binary_search(id).ok().map(|row| row as u32)
    }

    fn edge_index(&self, from: &Uuid, kind: u8, to: &Uuid) -> Option<u32> {
        let key = RawEdge { from: self.row(from)?, kind, to: self.row(to)? }.key();
        self.edges.binary_search_by_key(&key, |edge| edge.key()).ok().map(|index| index as u32)
    }

    /// A value of the image, decoded.
    fn value(&self, offset: u32) -> Result<Value, String> {
        decode_value(&self.bytes, offset).ok_or_else(|| format!("a property value at byte {offset} does not decode"))
    }

    fn decoded(&self, entries: &Entries, names: &[Box<str>], row: u32) -> Result<BTreeMap<String, Value>, String> {
        let mut props = BTreeMap::new();
        for i in entries.range(row) {
            props.insert(names[usize::from(entries.names[i])].to_string(), self.value(entries.offsets[i])?);
        }
        Ok(props)
    }
}

fn decode_value(bytes: &[u8], offset: u32) -> Option<Value> {
    rmp_serde::from_slice(bytes.get(offset as usize..)?).ok()
}

/// Interns the property names that the image repeats in every entry, each checked as UTF-8 once,
/// when first met.
struct Codes<'a> {
    codes: HashMap<&'a [u8], u16, rustc_hash::FxBuildHasher>,
    names: Vec<Box<str>>,
}

impl<'a> Codes<'a> {
    fn new() -> Codes<'a> {
        Codes { codes: HashMap::default(), names: Vec::new() }
    }

    fn code(&mut self, name: &'a [u8], at: usize) -> Result<u16, Damage> {
        if let Some(code) = self.codes.get(name) {
            return Ok(*code);
        }
        let text = utf8(name, at)?;
        let code = u16::try_from(self.names.len()).map_err(|_| Damage { at, what: "too many property names" })?;
        self.codes.insert(name, code);
        self.names.push(text.into());
        Ok(code)
    }
}

/// Walks the whole image: see the module docs for its layout.
///
/// Two threads share the walk: the vertex properties (the largest section) on one, the edges on
/// the other, then the edge properties on one while the other walks over the sections after them
/// (each thread steps over what the other reads, which costs little beside reading it). The two
/// stages are `rayon::join`s: the edges' section must be read before their properties, and where
/// the properties start is known only once the vertex properties before them are read.
fn decode(bytes: Arc<Bytes>) -> Result<Image, Damage> {
    let data: &[u8] = &bytes;
    let mut cur = Cursor { bytes: data, pos: 0 };
    if u64::try_from(data.len()).map_or(true, |len| len > MAX_IMAGE) {
        return Err(cur.damage("an image too large for offsets of 32 bits"));
    }
    if cur.byte()? != 0x96 {
        return Err(Damage { at: 0, what: "not an IndraDB image (an array of six fields)" });
    }
    let mut unknown_kind = None;
    let (ids, kinds) = vertices(&mut cur, &mut unknown_kind)?;
    let edges_at = cur.pos;

    let (edges, vertex_props) = rayon::join(
        || -> Result<_, Damage> {
            let mut cur = Cursor { bytes: data, pos: edges_at };
            let mut unknown_kind = None;
            let edges = edges(&mut cur, &ids, &mut unknown_kind)?;
            reversed_edges(&mut cur, &mut unknown_kind)?;
            Ok((edges, unknown_kind))
        },
        || -> Result<_, Damage> {
            let mut cur = Cursor { bytes: data, pos: edges_at };
            // The edges and their reverses, stepped over: the other thread reads them.
            for _ in 0..2 {
                let n = cur.array(38)?;
                for _ in 0..n {
                    cur.tuple(3)?;
                    cur.uuid()?;
                    cur.str_bytes()?;
                    cur.uuid()?;
                }
            }
            let props = vertex_props(&mut cur, &ids)?;
            Ok((props, cur.pos))
        },
    );
    let (edges, edge_unknown) = edges?;
    let ((vertex_props, vertex_names), edge_props_at) = vertex_props?;
    unknown_kind = unknown_kind.or(edge_unknown);

    let (edge_props, end) = rayon::join(
        || edge_props(&mut Cursor { bytes: data, pos: edge_props_at }, &ids, &edges),
        || -> Result<(), Damage> {
            let mut cur = Cursor { bytes: data, pos: edge_props_at };
            // The edge properties, stepped over: the other thread reads them.
            cur.skip()?;
            // property_values: IndraDB's index, which a snapshot does not use. Only walked over.
            cur.skip()?;
            if cur.left() > 0 {
                return Err(cur.damage("unexpected bytes after the graph"));
            }
            Ok(())
        },
    );
    // Both halves may find the file damaged: the error is the first damage in the file, whichever
    // thread found it, so that the same file always gives the same message.
    let (edge_props, edge_names) = match (edge_props, end) {
        (Ok(props), Ok(())) => props,
        (Err(a), Err(b)) => return Err(if a.at <= b.at { a } else { b }),
        (Err(damage), _) | (_, Err(damage)) => return Err(damage),
    };
    Ok(Image {
        bytes,
        vertex_names: Arc::new(vertex_names),
        edge_names: Arc::new(edge_names),
        ids,
        kinds,
        edges,
        vertex_props,
        edge_props,
        unknown_kind,
    })
}

type UnknownKind = Option<(&'static str, String)>;

/// `vertices`: uuid -> kind, ids ascending (sorted here if they are not).
fn vertices(cur: &mut Cursor<'_>, unknown_kind: &mut UnknownKind) -> Result<(Vec<Uuid>, Vec<u8>), Damage> {
    // An entry is at least a uuid (18 bytes) and a kind (1).
    let n = cur.map(19)?;
    let mut ids = Vec::with_capacity(n);
    let mut kinds = Vec::with_capacity(n);
    let mut sorted = true;
    let mut last: Option<(&[u8], u8)> = None;
    for _ in 0..n {
        let id = cur.uuid()?;
        let at = cur.pos;
        let kind = cur.str_bytes()?;
        let code = match last {
            Some((last, code)) if last == kind => code,
            _ => {
                let code = vertex_code(kind);
                if code == UNKNOWN {
                    let kind = utf8(kind, at)?;
                    unknown_kind.get_or_insert_with(|| ("vertex", kind.to_owned()));
                }
                last = Some((kind, code));
                code
            }
        };
        sorted &= ids.last().is_none_or(|last| *last < id);
        ids.push(id);
        kinds.push(code);
    }
    if !sorted {
        // Keys out of order or repeated: IndraDB's `BTreeMap` keeps the last value of a key. A
        // stable sort keeps repeats in their order, and the dedup keeps the last.
        let mut pairs: Vec<(Uuid, u8)> = ids.into_iter().zip(kinds).collect();
        pairs.sort_by_key(|pair| pair.0);
        let mut kept: Vec<(Uuid, u8)> = Vec::with_capacity(pairs.len());
        for pair in pairs {
            match kept.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => kept.push(pair),
            }
        }
        return Ok(kept.into_iter().unzip());
    }
    Ok((ids, kinds))
}

/// An edge kind's code, the name checked as UTF-8 (and noted) if it is not a known kind's.
fn edge_kind_at(name: &[u8], at: usize, unknown_kind: &mut UnknownKind) -> Result<u8, Damage> {
    let code = edge_code(name);
    if code == UNKNOWN {
        let name = utf8(name, at)?;
        unknown_kind.get_or_insert_with(|| ("edge", name.to_owned()));
    }
    Ok(code)
}

/// `edges`: [from, kind, to], in (from, kind name, to) order (sorted here if they are not).
fn edges(cur: &mut Cursor<'_>, ids: &[Uuid], unknown_kind: &mut UnknownKind) -> Result<Vec<RawEdge>, Damage> {
    let rows = Rows::new(ids);
    // Each at least 1 + 18 + 1 + 18 bytes.
    let n = cur.array(38)?;
    let mut edges = Vec::with_capacity(n);
    // The `to` ends are looked up in batches, in a loop that does nothing else: each is a cache
    // miss in a large table, and the processor overlaps independent misses only in a tight loop
    // (the edges' share of a snapshot's time went from 27% to 14% on a 386 MB image).
    const LOOK_UP_BATCH: usize = 4096;
    let mut read: Vec<(u32, u8, Uuid)> = Vec::with_capacity(LOOK_UP_BATCH.min(n));
    let resolve = |read: &mut Vec<(u32, u8, Uuid)>, edges: &mut Vec<RawEdge>| {
        let found = read.drain(..).filter_map(|(from, kind, to)| Some(RawEdge { from, kind, to: rows.get(&to)? }));
        edges.extend(found);
    };
    let mut last_from: Option<(Uuid, Option<u32>)> = None;
    let mut next_from = 0;
    let mut last_kind: Option<(&[u8], u8)> = None;
    for _ in 0..n {
        cur.tuple(3)?;
        let from = cur.uuid()?;
        let at = cur.pos;
        let kind = cur.str_bytes()?;
        let to = cur.uuid()?;
        let code = match last_kind {
            Some((last, code)) if last == kind => code,
            _ => {
                let code = edge_kind_at(kind, at, unknown_kind)?;
                last_kind = Some((kind, code));
                code
            }
        };
        // Edges come by `from`: its row is found once per vertex, from where the last one was.
        let from_row = match last_from {
            Some((id, row)) if id == from => row,
            _ => {
                let row = find_near(ids, &mut next_from, |id| id.cmp(&from));
                last_from = Some((from, row));
                row
            }
        };
        // An edge whose end is not a vertex is dropped, as `Graph::from_stored` drops it (every
        // backend refuses to write one).
        if let Some(from) = from_row {
            read.push((from, code, to));
        }
        if read.len() == LOOK_UP_BATCH {
            resolve(&mut read, &mut edges);
        }
    }
    resolve(&mut read, &mut edges);
    let sorted = edges.windows(2).all(|pair| pair[0].key() < pair[1].key());
    if !sorted {
        // IndraDB keeps edges in a set: a repeat is one edge.
        edges.sort_by_key(|edge| edge.key());
        edges.dedup_by_key(|edge| edge.key());
    }
    Ok(edges)
}

/// `reversed_edges`: the same edges again, for IndraDB's own look-ups. Only checked.
fn reversed_edges(cur: &mut Cursor<'_>, unknown_kind: &mut UnknownKind) -> Result<(), Damage> {
    let n = cur.array(38)?;
    let mut last_kind: Option<&[u8]> = None;
    for _ in 0..n {
        cur.tuple(3)?;
        cur.uuid()?;
        let at = cur.pos;
        let kind = cur.str_bytes()?;
        if last_kind != Some(kind) {
            edge_kind_at(kind, at, unknown_kind)?;
            last_kind = Some(kind);
        }
        cur.uuid()?;
    }
    Ok(())
}

/// `vertex_properties`: [uuid, name] -> value, by vertex row.
fn vertex_props(cur: &mut Cursor<'_>, ids: &[Uuid]) -> Result<(Entries, Vec<Box<str>>), Damage> {
    let mut names = Codes::new();
    // Each entry at least 1 + 18 + 1 + 1 bytes.
    let n = cur.map(21)?;
    let mut raw = Vec::with_capacity(n);
    let mut sorted = true;
    let mut last: Option<(Uuid, Option<u32>)> = None;
    let mut next_row = 0;
    let mut previous: Option<(u32, &[u8])> = None;
    for _ in 0..n {
        cur.tuple(2)?;
        let id = cur.uuid()?;
        let at = cur.pos;
        let name = cur.str_bytes()?;
        let offset = cur.pos as u32;
        cur.skip_json()?;
        // Entries come by vertex, in id order: a vertex's row is found from where the last was.
        let row = match last {
            Some((last_id, row)) if last_id == id => row,
            _ => {
                let row = find_near(ids, &mut next_row, |other| other.cmp(&id));
                last = Some((id, row));
                row
            }
        };
        let code = names.code(name, at)?;
        // Properties of a vertex that is not in the graph are invisible to IndraDB's readers.
        let Some(row) = row else { continue };
        // Byte order is str order: the names are UTF-8.
        sorted &= previous.is_none_or(|previous| previous < (row, name));
        previous = Some((row, name));
        raw.push((row, code, offset));
    }
    Ok((Entries::group(raw, ids.len(), sorted, &names.names), names.names))
}

/// `edge_properties`: [[from, kind, to], name] -> value, by edge index.
fn edge_props(cur: &mut Cursor<'_>, ids: &[Uuid], edges: &[RawEdge]) -> Result<(Entries, Vec<Box<str>>), Damage> {
    let mut names = Codes::new();
    let mut unknown_kind = None;
    // Each entry at least 1 + 39 + 1 + 1 bytes.
    let n = cur.map(42)?;
    let mut raw = Vec::with_capacity(n);
    let mut sorted = true;
    let mut next = 0usize;
    let mut last: Option<((Uuid, u8, Uuid), Option<u32>)> = None;
    let mut previous: Option<(u32, &[u8])> = None;
    let mut last_kind: Option<(&[u8], u8)> = None;
    for _ in 0..n {
        cur.tuple(2)?;
        cur.tuple(3)?;
        let from = cur.uuid()?;
        let at = cur.pos;
        let kind = cur.str_bytes()?;
        let kind = match last_kind {
            Some((last, code)) if last == kind => code,
            _ => {
                let code = edge_kind_at(kind, at, &mut unknown_kind)?;
                last_kind = Some((kind, code));
                code
            }
        };
        let to = cur.uuid()?;
        let at = cur.pos;
        let name = cur.str_bytes()?;
        let offset = cur.pos as u32;
        cur.skip_json()?;
        let code = names.code(name, at)?;
        let index = match last {
            Some((key, index)) if key == (from, kind, to) => index,
            _ => {
                // Entries come in the edges' order: found from where the last one was, by ids.
                // Compared end by end: the edges of one `from` are few and together, and each `to`
                // is a look-up far away in `ids`.
                let rank = name_rank(kind);
                let index = find_near(edges, &mut next, |edge| {
                    ids[edge.from as usize]
                        .cmp(&from)
                        .then_with(|| name_rank(edge.kind).cmp(&rank))
                        .then_with(|| ids[edge.to as usize].cmp(&to))
                });
                last = Some(((from, kind, to), index));
                index
            }
        };
        // Properties of an edge that is not in the graph are invisible to IndraDB's readers.
        let Some(index) = index else { continue };
        sorted &= previous.is_none_or(|previous| previous < (index, name));
        previous = Some((index, name));
        raw.push((index, code, offset));
    }
    Ok((Entries::group(raw, edges.len(), sorted, &names.names), names.names))
}

/// The index of the item that `cmp` finds equal to the one sought in `items` (sorted by it:
/// `cmp` orders an item against the one sought), if there is one. `next`
/// is where the last search ended: the image lists properties in the order of their owners, so
/// the answer is usually at or just past it, and is found without a search.
fn find_near<T>(items: &[T], next: &mut usize, cmp: impl Fn(&T) -> Ordering) -> Option<u32> {
    const NEAR: usize = 8;
    let ahead = items.get(*next..).unwrap_or_default();
    // Near only if it is not before `next` (it is, when the owners are out of order).
    let after = *next == 0 || items.get(*next - 1).is_some_and(|item| cmp(item) == Ordering::Less);
    let index = match ahead.iter().take(NEAR).position(|item| cmp(item) != Ordering::Less) {
        Some(step) if after => *next + step,
        _ => items.partition_point(|item| cmp(item) == Ordering::Less),
    };
    *next = index;
    items.get(index).filter(|item| cmp(item) == Ordering::Equal).map(|_| index as u32)
}

/// Vertex rows by id, for the edges' and properties' look-ups.
struct Rows {
    map: HashMap<Uuid, u32, rustc_hash::FxBuildHasher>,
}

impl Rows {
    fn new(ids: &[Uuid]) -> Rows {
        let mut map = HashMap::with_capacity_and_hasher(ids.len(), rustc_hash::FxBuildHasher);
        for (row, id) in ids.iter().enumerate() {
            map.insert(*id, row as u32);
        }
        Rows { map }
    }

    fn get(&self, id: &Uuid) -> Option<u32> {
        self.map.get(id).copied()
    }
}

/// Property values of one table (vertices or edges) in the image's bytes, by row, with decoded
/// maps for the rows a delta changed.
pub(crate) struct ImageProps {
    bytes: Arc<Bytes>,
    names: Arc<Vec<Box<str>>>,
    /// Row `r`'s entries are `names[spans[r][0]..spans[r][1]]` and the same of `offsets`.
    spans: Vec<[u32; 2]>,
    entry_names: Vec<u16>,
    offsets: Vec<u32>,
    overlay: HashMap<u32, BTreeMap<String, Value>>,
    /// Values decoded for `value`, by entry, in chunks allocated on first use: a reader that
    /// reads through `text`, `uint` and `flag` alone never pays for them.
    cache: Box<[OnceLock<CacheChunk>]>,
}

/// Entries per chunk of `ImageProps::cache`.
const CACHE_CHUNK: usize = 256;

/// Values decoded for one chunk of entries (`None`: not a value; never after `decode`'s checks).
type CacheChunk = Box<[OnceLock<Option<Value>>]>;

/// Where a property map comes from: a span of image entries, or a map the delta decoded.
type Source = Result<[u32; 2], BTreeMap<String, Value>>;

impl ImageProps {
    fn new(
        bytes: Arc<Bytes>,
        names: Arc<Vec<Box<str>>>,
        spans: Vec<[u32; 2]>,
        entries: Entries,
        overlay: HashMap<u32, BTreeMap<String, Value>>,
    ) -> ImageProps {
        let chunks = entries.offsets.len().div_ceil(CACHE_CHUNK);
        ImageProps {
            bytes,
            names,
            spans,
            entry_names: entries.names,
            offsets: entries.offsets,
            overlay,
            cache: (0..chunks).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The entry of `name` in row `row`.
    fn entry(&self, row: usize, name: &str) -> Option<usize> {
        let [start, end] = *self.spans.get(row)?;
        (start as usize..end as usize).find(|i| &*self.names[usize::from(self.entry_names[*i])] == name)
    }

    fn overlaid(&self, row: usize) -> Option<&BTreeMap<String, Value>> {
        if self.overlay.is_empty() { None } else { self.overlay.get(&(row as u32)) }
    }

    /// A value's bytes onwards.
    fn at(&self, entry: usize) -> Cursor<'_> {
        Cursor { bytes: &self.bytes, pos: self.offsets[entry] as usize }
    }

    pub(crate) fn value(&self, row: usize, name: &str) -> Option<&Value> {
        if let Some(map) = self.overlaid(row) {
            return map.get(name);
        }
        let entry = self.entry(row, name)?;
        let chunk = self.cache[entry / CACHE_CHUNK]
            .get_or_init(|| (0..CACHE_CHUNK).map(|_| OnceLock::new()).collect::<CacheChunk>());
        chunk[entry % CACHE_CHUNK].get_or_init(|| decode_value(&self.bytes, self.offsets[entry])).as_ref()
    }

    pub(crate) fn text(&self, row: usize, name: &str) -> Option<&str> {
        if let Some(map) = self.overlaid(row) {
            return map.get(name).and_then(Value::as_str);
        }
        self.at(self.entry(row, name)?).str().ok()
    }

    pub(crate) fn uint(&self, row: usize, name: &str) -> Option<u64> {
        if let Some(map) = self.overlaid(row) {
            return map.get(name).and_then(Value::as_u64);
        }
        let mut cur = self.at(self.entry(row, name)?);
        // As `serde_json::Value::as_u64` answers for what rmp_serde decodes: any integer that is
        // not negative, whatever its width or signedness on disk; never a float.
        match cur.byte().ok()? {
            marker @ 0x00..=0x7f => Some(u64::from(marker)),
            0xcc => cur.be(1).ok(),
            0xcd => cur.be(2).ok(),
            0xce => cur.be(4).ok(),
            0xcf => cur.be(8).ok(),
            0xd0 => u64::try_from(cur.be(1).ok()? as u8 as i8).ok(),
            0xd1 => u64::try_from(cur.be(2).ok()? as u16 as i16).ok(),
            0xd2 => u64::try_from(cur.be(4).ok()? as u32 as i32).ok(),
            0xd3 => u64::try_from(cur.be(8).ok()? as i64).ok(),
            _ => None,
        }
    }

    pub(crate) fn flag(&self, row: usize, name: &str) -> Option<bool> {
        if let Some(map) = self.overlaid(row) {
            return map.get(name).and_then(Value::as_bool);
        }
        match self.at(self.entry(row, name)?).byte().ok()? {
            0xc2 => Some(false),
            0xc3 => Some(true),
            _ => None,
        }
    }

    pub(crate) fn all(&self, row: usize) -> BTreeMap<String, Value> {
        if let Some(map) = self.overlaid(row) {
            return map.clone();
        }
        let Some([start, end]) = self.spans.get(row).copied() else { return BTreeMap::new() };
        (start as usize..end as usize)
            .filter_map(|i| {
                let value = decode_value(&self.bytes, self.offsets[i])?;
                Some((self.names[usize::from(self.entry_names[i])].to_string(), value))
            })
            .collect()
    }
}

/// An edge by its ends' ids and kind code, as a delta names it.
type EdgeKey = (Uuid, u8, Uuid);

/// A vertex as a delta leaves it: its kind code and every property.
type Vertex = (u8, BTreeMap<String, Value>);

/// The image with the delta applied so far. A vertex or edge is either untouched (its state is
/// the image's) or overridden: gone (`None`) or there with decoded properties (`Some`).
struct State {
    image: Image,
    vertices: HashMap<Uuid, Option<Vertex>>,
    edges: HashMap<EdgeKey, Option<BTreeMap<String, Value>>>,
    /// The image's edges ordered by `to` row, built when a vertex is first removed.
    in_edges: Option<Vec<u32>>,
    /// The edges the delta wrote, by each of their ends: a removed vertex's edges are found
    /// without a scan of every change.
    written_edges: HashMap<Uuid, Vec<EdgeKey>>,
}

impl State {
    fn new(image: Image) -> State {
        State { image, vertices: HashMap::new(), edges: HashMap::new(), in_edges: None, written_edges: HashMap::new() }
    }

    fn vertex_kind(&self, id: &Uuid) -> Option<u8> {
        match self.vertices.get(id) {
            Some(state) => state.as_ref().map(|(kind, _)| *kind),
            None => self.image.row(id).map(|row| self.image.kinds[row as usize]),
        }
    }

    fn edge_exists(&self, key: &EdgeKey) -> bool {
        match self.edges.get(key) {
            Some(state) => state.is_some(),
            None => self.image.edge_index(&key.0, key.1, &key.2).is_some(),
        }
    }

    /// The properties of a vertex that is there, decoded from the image on its first change.
    fn vertex_props(&mut self, id: Uuid) -> Result<Option<&mut BTreeMap<String, Value>>, String> {
        if !self.vertices.contains_key(&id) {
            let Some(row) = self.image.row(&id) else { return Ok(None) };
            let props = self.image.decoded(&self.image.vertex_props, &self.image.vertex_names, row)?;
            self.vertices.insert(id, Some((self.image.kinds[row as usize], props)));
        }
        Ok(self.vertices.get_mut(&id).and_then(Option::as_mut).map(|(_, props)| props))
    }

    fn edge_props(&mut self, key: EdgeKey) -> Result<Option<&mut BTreeMap<String, Value>>, String> {
        if !self.edges.contains_key(&key) {
            let Some(index) = self.image.edge_index(&key.0, key.1, &key.2) else { return Ok(None) };
            let props = self.image.decoded(&self.image.edge_props, &self.image.edge_names, index)?;
            self.edges.insert(key, Some(props));
        }
        Ok(self.edges.get_mut(&key).and_then(Option::as_mut))
    }

    /// Every edge of `id` that is there, both ways.
    fn edges_of(&mut self, id: Uuid) -> Vec<EdgeKey> {
        let mut found = Vec::new();
        let image = &self.image;
        if let Some(row) = image.row(&id) {
            let key = |edge: &RawEdge| (image.ids[edge.from as usize], edge.kind, image.ids[edge.to as usize]);
            let start = image.edges.partition_point(|edge| edge.from < row);
            found.extend(image.edges[start..].iter().take_while(|edge| edge.from == row).map(key));
            let in_edges = self.in_edges.get_or_insert_with(|| {
                let mut order: Vec<u32> = (0..image.edges.len() as u32).collect();
                order.sort_by_key(|index| image.edges[*index as usize].to);
                order
            });
            let start = in_edges.partition_point(|index| image.edges[*index as usize].to < row);
            let incoming = in_edges[start..].iter().map(|index| &image.edges[*index as usize]);
            found.extend(incoming.take_while(|edge| edge.to == row).map(key));
        }
        found.extend(self.written_edges.get(&id).into_iter().flatten().copied());
        found.retain(|key| self.edge_exists(key));
        found
    }

    /// Applies one diff as `update::apply` applies it to IndraDB's memory datastore: checked
    /// first against the graph (with its refusals, as `StoreError::InvalidDiff`), then removed
    /// edges, removed vertices with every edge they have, removed properties, then `written`.
    fn apply(&mut self, diff: Diff) -> Result<(), StoreError> {
        let invalid = |reason: String| StoreError::InvalidDiff { reason };
        // Names IndraDB could not store fail here as they fail there.
        for name in diff.removed_vertex_props.iter().map(|(_, name)| name) {
            identifier(name)?;
        }
        for name in diff.removed_edge_props.iter().map(|(.., name)| name) {
            identifier(name)?;
        }

        let mut gone_edges = BTreeSet::new();
        for (from, kind, to) in &diff.removed_edges {
            let key = (*from, edge_code(kind.as_str().as_bytes()), *to);
            if self.edge_exists(&key) {
                gone_edges.insert(key);
            }
        }
        let mut gone_vertices = HashSet::new();
        for (id, _) in &diff.removed_vertices {
            if self.vertex_kind(id).is_some() && gone_vertices.insert(*id) {
                gone_edges.extend(self.edges_of(*id));
            }
        }

        // `update::plan`'s checks, against the graph as the removals leave it.
        let Diff { removed_vertex_props, removed_edge_props, written, .. } = diff;
        let kept = |state: &State, id: &Uuid| state.vertex_kind(id).filter(|_| !gone_vertices.contains(id));
        let mut written_ids = HashSet::new();
        for vertex in &written.vertices {
            if !written_ids.insert(vertex.id) {
                return Err(invalid(format!("vertex {} is written twice", vertex.id)));
            }
            identifier(vertex.kind.as_str())?;
            for name in vertex.props.keys() {
                identifier(name)?;
            }
            let code = vertex_code(vertex.kind.as_str().as_bytes());
            if let Some(stored) = kept(self, &vertex.id).filter(|stored| *stored != code) {
                let stored = VertexKind::ALL.get(usize::from(stored)).map_or(META_KIND, |kind| kind.as_str());
                return Err(invalid(format!(
                    "vertex {} is a {stored} in the graph and a {} in the update",
                    vertex.id, vertex.kind
                )));
            }
        }
        let mut written_edges = HashSet::new();
        for edge in &written.edges {
            let text = || format!("{} -{}-> {}", edge.from, edge.kind, edge.to);
            if !written_edges.insert((edge.from, edge.kind, edge.to)) {
                return Err(invalid(format!("edge {} is written twice", text())));
            }
            for end in [edge.from, edge.to] {
                if !(written_ids.contains(&end) || kept(self, &end).is_some()) {
                    return Err(invalid(format!(
                        "edge {} has an end, {end}, in neither the graph nor the update",
                        text()
                    )));
                }
            }
            for name in edge.props.keys() {
                identifier(name)?;
                if INDEXED_PROPERTIES.contains(name) {
                    return Err(invalid(format!(
                        "edge {} has a property named `{name}`, which only vertices may have",
                        text()
                    )));
                }
            }
        }

        // Then the changes, in `update::execute`'s order.
        for key in gone_edges {
            self.edges.insert(key, None);
        }
        for id in gone_vertices {
            self.vertices.insert(id, None);
        }
        for (id, name) in removed_vertex_props {
            if let Some(props) = self.vertex_props(id).map_err(invalid)? {
                props.remove(name);
            }
        }
        for (from, kind, to, name) in removed_edge_props {
            if let Some(props) = self.edge_props((from, edge_code(kind.as_str().as_bytes()), to)).map_err(invalid)? {
                props.remove(name);
            }
        }
        for vertex in written.vertices {
            // A vertex that is there stays as it is, with its edges: only its properties change.
            if self.vertex_kind(&vertex.id).is_none() {
                self.vertices.insert(vertex.id, Some((vertex_code(vertex.kind.as_str().as_bytes()), BTreeMap::new())));
            }
            if let Some(props) = self.vertex_props(vertex.id).map_err(invalid)? {
                props.extend(vertex.props.into_iter().map(|(name, value)| (name.to_owned(), value)));
            }
        }
        for edge in written.edges {
            let key = (edge.from, edge_code(edge.kind.as_str().as_bytes()), edge.to);
            if !self.edge_exists(&key) {
                self.edges.insert(key, Some(BTreeMap::new()));
                self.written_edges.entry(key.0).or_default().push(key);
                self.written_edges.entry(key.2).or_default().push(key);
            }
            if let Some(props) = self.edge_props(key).map_err(invalid)? {
                props.extend(edge.props.into_iter().map(|(name, value)| (name.to_owned(), value)));
            }
        }
        Ok(())
    }

    /// Fails unless the graph carries a version record of this schema: `check_version`'s test,
    /// with its errors.
    fn check_version(&self, path: &Utf8Path) -> Result<(), StoreError> {
        let id = meta_id();
        if self.vertex_kind(&id).is_none() {
            return Err(StoreError::Unreadable {
                path: path.to_owned(),
                reason: "it has no cargo-codegraph version record".to_owned(),
            });
        }
        let image = &self.image;
        let prop = |name: &str| -> Option<Value> {
            match self.vertices.get(&id) {
                Some(state) => state.as_ref()?.1.get(name).cloned(),
                None => {
                    let row = image.row(&id)?;
                    let entries = &image.vertex_props;
                    let mut range = entries.range(row);
                    let entry = range.find(|i| &*image.vertex_names[usize::from(entries.names[*i])] == name)?;
                    decode_value(&image.bytes, entries.offsets[entry])
                }
            }
        };
        let schema = prop("schema");
        if schema.as_ref().and_then(Value::as_u64) != Some(u64::from(SCHEMA_VERSION)) {
            let tool = prop("tool_version").and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_else(|| "?".into());
            return Err(StoreError::Schema {
                path: path.to_owned(),
                found: schema.map_or_else(|| "?".to_owned(), |s| s.to_string()),
                tool,
                expected: SCHEMA_VERSION,
            });
        }
        Ok(())
    }

    /// The snapshot: vertices in id order (the version record left out, as `read_graph` leaves
    /// it), edges in (from, kind name, to) order, those with an end left out dropped (as
    /// `Graph::from_stored` drops an edge whose end is not a vertex). Fails on a kind this
    /// cargo-codegraph does not know, as `Graph::from_stored` does.
    fn into_graph(self) -> Result<Graph, String> {
        let State { image, vertices, edges, .. } = self;
        let Image {
            bytes,
            vertex_names,
            edge_names,
            ids: image_ids,
            kinds: image_kinds,
            edges: image_edges,
            vertex_props: image_vertex_props,
            edge_props: image_edge_props,
            unknown_kind,
        } = image;
        let unknown = |what: &str| match &unknown_kind {
            Some((what, kind)) => format!("unknown {what} kind `{kind}`"),
            None => format!("unknown {what} kind"),
        };

        // Vertices: the image's rows, each as it is or as overridden, merged in id order with
        // the ones the delta added.
        let mut overrides: Vec<(Uuid, Option<Vertex>)> = vertices.into_iter().collect();
        overrides.sort_unstable_by_key(|(id, _)| *id);
        let mut overrides = overrides.into_iter().peekable();
        let capacity = image_ids.len() + overrides.len();
        let mut ids = Vec::with_capacity(capacity);
        let mut kinds = Vec::with_capacity(capacity);
        let mut spans = Vec::with_capacity(capacity);
        let mut overlay = HashMap::new();
        let mut push = |id: Uuid, code: u8, source: Result<u32, BTreeMap<String, Value>>| {
            if code == META {
                return Ok(None);
            }
            let kind = VertexKind::ALL.get(usize::from(code)).ok_or_else(|| unknown("vertex"))?;
            let rank = ids.len() as u32;
            ids.push(id);
            kinds.push(*kind);
            match source {
                Ok(row) => {
                    let range = image_vertex_props.range(row);
                    spans.push([range.start as u32, range.end as u32]);
                }
                Err(props) => {
                    spans.push([0, 0]);
                    overlay.insert(rank, props);
                }
            }
            Ok::<_, String>(Some(rank))
        };
        // The final rank of each image row; `u32::MAX` for a row left out.
        let mut rank_of = vec![u32::MAX; image_ids.len()];
        for (row, id) in image_ids.iter().enumerate() {
            while let Some((added, state)) = overrides.next_if(|(other, _)| other < id) {
                if let Some((code, props)) = state {
                    push(added, code, Err(props))?;
                }
            }
            let rank = match overrides.next_if(|(other, _)| other == id) {
                Some((_, None)) => None,
                Some((_, Some((code, props)))) => push(*id, code, Err(props))?,
                None => push(*id, image_kinds[row], Ok(row as u32))?,
            };
            if let Some(rank) = rank {
                rank_of[row] = rank;
            }
        }
        for (added, state) in overrides {
            if let Some((code, props)) = state {
                push(added, code, Err(props))?;
            }
        }

        // Edges: the image's that are not overridden (already in order, ranks only shift), then
        // the delta's, then sorted again if there were any.
        let mut refs = Vec::with_capacity(image_edges.len() + edges.len());
        let mut edge_spans = Vec::with_capacity(refs.capacity());
        for (index, edge) in image_edges.iter().enumerate() {
            if !edges.is_empty() {
                let key = (image_ids[edge.from as usize], edge.kind, image_ids[edge.to as usize]);
                if edges.contains_key(&key) {
                    continue;
                }
            }
            let (from, to) = (rank_of[edge.from as usize], rank_of[edge.to as usize]);
            if from == u32::MAX || to == u32::MAX {
                continue;
            }
            let kind = edge_kind(edge.kind).ok_or_else(|| unknown("edge"))?;
            let range = image_edge_props.range(index as u32);
            refs.push(EdgeRef { from: V(from), kind, to: V(to) });
            edge_spans.push([range.start as u32, range.end as u32]);
        }
        let mut edge_overlay = HashMap::new();
        if !edges.is_empty() {
            let rank = |id: &Uuid| ids.binary_search(id).ok().map(|rank| V(rank as u32));
            let mut order: Vec<(EdgeRef, Source)> =
                refs.into_iter().zip(edge_spans).map(|(edge, span)| (edge, Ok(span))).collect();
            for ((from, code, to), state) in edges {
                let (Some(props), Some(from), Some(to)) = (state, rank(&from), rank(&to)) else { continue };
                let kind = edge_kind(code).ok_or_else(|| unknown("edge"))?;
                order.push((EdgeRef { from, kind, to }, Err(props)));
            }
            order.sort_unstable_by(|(a, _), (b, _)| {
                (a.from, a.kind.as_str(), a.to).cmp(&(b.from, b.kind.as_str(), b.to))
            });
            refs = Vec::with_capacity(order.len());
            edge_spans = Vec::with_capacity(order.len());
            for (edge, source) in order {
                match source {
                    Ok(span) => edge_spans.push(span),
                    Err(props) => {
                        edge_overlay.insert(refs.len() as u32, props);
                        edge_spans.push([0, 0]);
                    }
                }
                refs.push(edge);
            }
        }

        let vertex_props = ImageProps::new(bytes.clone(), vertex_names, spans, image_vertex_props, overlay);
        let edge_props = ImageProps::new(bytes, edge_names, edge_spans, image_edge_props, edge_overlay);
        Ok(Graph::assemble(ids, kinds, PropTable::Image(vertex_props), refs, PropTable::Image(edge_props)))
    }
}
