//! A unit of incremental work: one crate, or the workspace's own vertices (packages, crates and
//! the `depends_on` edges between them). What a unit wrote, and what it needs to be reused.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasher;
use std::io::Write;

use bytes::Bytes;
use rustc_hash::{FxBuildHasher, FxHashSet};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::diagnostic::Diagnostic;
use crate::incremental::Input;
use crate::model::{Batch, EdgeKind, VertexKind};
use crate::resolve::ResolveStats;
use crate::validate::ValidationStats;

/// What a unit's last build gave besides its output: enough to report it again, to tell whether
/// it can be reused, and to count the graph without reading it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UnitSummary {
    /// The files its module walk read (with their hashes) and the paths it looked for in vain.
    pub inputs: Vec<Input>,
    /// The vertices it shares with other units (files, externs), sorted.
    pub shared: Vec<(Uuid, VertexKind)>,
    /// Its own vertices by kind (shared ones are counted once, for the whole graph).
    pub vertices: BTreeMap<VertexKind, usize>,
    pub edges: BTreeMap<EdgeKind, usize>,
    pub files_parsed: usize,
    pub files_failed: usize,
    /// Sorted.
    pub diagnostics: Vec<Diagnostic>,
    pub resolve: ResolveStats,
    pub validation: ValidationStats,
    /// The hash of its resolved scopes (`CrateDefs::to_bytes`), what dependents see of it; `None`
    /// when it has none (not resolved, or resolution failed).
    pub interface: Option<String>,
    /// The hash of its indexed dependencies' interfaces when it was built.
    pub deps_interface: String,
    /// No vertex (other than a shared one) and no edge is in two batches of its output: the
    /// batches a rerun gives byte for byte as before can then be left out of the diff
    /// (`incremental::Change::between`). Unknown (`false`) for an output this was not checked for.
    #[serde(default)]
    pub disjoint: bool,
    /// The length of each batch of its output, in order: a rerun's diff cuts the recorded
    /// output at them (`split_output`) instead of reading its way through the bytes.
    pub batches: Vec<u64>,
    /// How its resolved edges were cut, for a rerun that may keep them (`EdgeSegments`); `None`
    /// when it was not resolved.
    #[serde(default)]
    pub edge_segments: Option<EdgeSegments>,
    /// The fingerprint of its indexed dependencies' keys, transitively, nearest first: with
    /// the same, a rerun can tell what changed in them by names (`resolve::names`).
    #[serde(default)]
    pub deps_keys: String,
    /// What it names, when no indexed crate depends on it: a rerun keeps it, dependencies
    /// changed, when it names nothing whose meaning changed.
    #[serde(default)]
    pub mentions: Option<crate::resolve::names::Mentions>,
    /// The files `include!` pasted, sorted (also among `inputs`): an edit to one of them is never
    /// patched (`index::patch`), for what it gives is the including module's.
    #[serde(default)]
    pub included: Vec<camino::Utf8PathBuf>,
    /// The crate root's `#![recursion_limit]`, when it sets one: a root edited to change it is not
    /// patched (`index::patch`), for it decides how deep the crate's macro calls expand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursion_limit: Option<u32>,
}

/// How a crate's resolved edges were cut into batches, and what each piece counted. The crate's
/// items (in `CrateDefs` order) are cut into segments after the items whose id `index` picks
/// (one in 64); a segment's edges are its own batches. A rerun whose crate comes out with the
/// same scopes (its interface), the same `use` declarations and the same dependencies'
/// interfaces gives every item the edges it had if it names what it named: a segment whose key
/// is as recorded keeps its batches, as bytes, and only the others are resolved again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeSegments {
    /// The sum of the hashes of each item's `use` declarations with its id (items without any
    /// add nothing: an item added leaves it as it was).
    pub uses: u64,
    /// Where the batch of extern vertices is among the output's batches, when there is one.
    pub externs: Option<u32>,
    /// Where the segments' batches start among the output's batches.
    pub first: u32,
    pub segments: Vec<Segment>,
}

impl EdgeSegments {
    /// Makes the segments that any of `batches` (indices among the output's batches) belong to
    /// keep nothing in a later rerun: those batches were rewritten (`index::shift`), and their
    /// segment's key no longer says what they hold. A forgotten key is 0, which no segment's
    /// key (a 64-bit xxh3 digest) is but by a chance of 2^-64.
    pub fn forget(&mut self, batches: impl IntoIterator<Item = usize>) {
        let mut starts = Vec::with_capacity(self.segments.len());
        let mut next = self.first as usize;
        for segment in &self.segments {
            starts.push(next);
            next += segment.batches as usize;
        }
        for batch in batches {
            if batch < self.first as usize || batch >= next {
                continue;
            }
            // The last segment starting at or before the batch (segments without edges take none).
            let at = starts.partition_point(|&start| start <= batch) - 1;
            self.segments[at].key = 0;
        }
    }
}

/// One segment of `EdgeSegments`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// A hash of its items' ids and of what each names.
    pub key: u64,
    /// How many batches its edges took (none when it has no edges).
    pub batches: u32,
    pub resolve: ResolveStats,
    pub validation: ValidationStats,
}

/// The last build's edges of a crate, as `FileCache::recorded_edges` finds them.
pub struct RecordedEdges<'a> {
    /// The crate's interface then, its dependencies' interfaces' hash, and its `NameDigest`.
    pub interface: &'a str,
    pub deps_interface: &'a str,
    pub names: Option<&'a crate::resolve::names::NameDigest>,
    /// The extern vertices they point to, when there were any.
    pub externs: Option<&'a [u8]>,
    /// Per segment: what it recorded, and its batches' bytes (slices of the recorded output,
    /// which a rerun that keeps them hands on without a copy).
    pub segments: Vec<(&'a Segment, Vec<Bytes>)>,
}

/// Bytes kept as the shared parts they are made of, one after another: a file's batch is encoded
/// once and is a part of both its crate's output and its file's cached output, and neither is
/// copied into one buffer (a crate of generated declarations has hundreds of megabytes of them).
/// Hashed and written part by part, with the hash and the bytes of the whole.
#[derive(Debug, Clone, Default)]
pub struct Parts(Vec<Bytes>);

impl Parts {
    pub fn push(&mut self, part: impl Into<Bytes>) {
        self.0.push(part.into());
    }

    pub fn len(&self) -> usize {
        self.0.iter().map(|part| part.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|part| part.is_empty())
    }

    /// `incremental::hash` of the whole.
    pub fn hash(&self) -> String {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for part in &self.0 {
            hasher.update(part);
        }
        format!("{:032x}", hasher.digest128())
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.0.concat()
    }

    /// The parts at `range`, sharing their bytes.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Parts {
        Parts(self.0[range].to_vec())
    }

    /// The parts, in order (an `OutputBuilder`'s: its batches).
    pub fn parts(&self) -> Vec<&[u8]> {
        self.0.iter().map(|part| &part[..]).collect()
    }

    pub fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        self.0.iter().try_for_each(|part| out.write_all(part))
    }
}

impl From<Bytes> for Parts {
    fn from(bytes: Bytes) -> Parts {
        Parts(vec![bytes])
    }
}

impl From<Vec<u8>> for Parts {
    fn from(bytes: Vec<u8>) -> Parts {
        Parts(vec![exact(bytes)])
    }
}

/// A unit's output as it is built: batches encoded one after another (the cache's format), and
/// counted.
#[derive(Debug, Default)]
pub struct OutputBuilder {
    encoded: Parts,
    shared: BTreeSet<(Uuid, VertexKind)>,
    vertices: BTreeMap<VertexKind, usize>,
    edges: BTreeMap<EdgeKind, usize>,
    /// A hash of every vertex id and edge key added so far, to tell whether batches overlap (see
    /// `UnitSummary::disjoint`); a collision only makes the output look overlapping.
    keys: FxHashSet<u64>,
    overlapping: bool,
}

/// A batch as the cache keeps it, in an allocation of its size (see `exact`). Encoded into a
/// buffer each thread keeps, which saves a fresh `Vec` growing by doubling for each batch.
pub fn encode_batch(batch: &Batch) -> Bytes {
    std::thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUFFER.with_borrow_mut(|buffer| {
        buffer.clear();
        // Encoding plain data into a `Vec` cannot fail.
        let _ = rmp_serde::encode::write(buffer, batch);
        let encoded = Bytes::copy_from_slice(buffer);
        // The buffer of a batch of generated declarations is not kept.
        if buffer.capacity() > 1 << 20 {
            *buffer = Vec::new();
        }
        encoded
    })
}

/// The bytes as a part, in an allocation of their size: a `Vec`'s spare capacity (up to as much
/// again, as it grew by doubling) would stay allocated as long as the part lives, and shrinking
/// it in place does not return it (the allocator keeps a block that shrinks by less than half).
pub fn exact(bytes: Vec<u8>) -> Bytes {
    if bytes.len() == bytes.capacity() { Bytes::from(bytes) } else { Bytes::copy_from_slice(&bytes) }
}

impl OutputBuilder {
    pub fn add(&mut self, batch: &Batch) {
        self.add_encoded(batch, encode_batch(batch));
    }

    /// `add`, for a batch already encoded (`encode_batch`).
    pub fn add_encoded(&mut self, batch: &Batch, encoded: Bytes) {
        let vertices = batch.vertices.iter().map(|vertex| (vertex.id, vertex.kind));
        let edges = batch.edges.iter().map(|edge| (edge.from, edge.kind, edge.to));
        self.add_keyed(vertices, edges, encoded);
    }

    /// `add`, for a batch known by its keys and its bytes (a file's output read back from the
    /// cache, whose properties need not be decoded: they are in the bytes).
    pub fn add_keys(&mut self, keys: &BatchKeys, encoded: Bytes) {
        let vertices = keys.vertices.iter().copied();
        let edges = keys.edges.iter().copied();
        self.add_keyed(vertices, edges, encoded);
    }

    fn add_keyed(
        &mut self,
        vertices: impl Iterator<Item = (Uuid, VertexKind)> + Clone,
        edges: impl Iterator<Item = (Uuid, EdgeKind, Uuid)> + Clone,
        encoded: Bytes,
    ) {
        for (id, kind) in vertices.clone() {
            if kind.is_shared() {
                self.shared.insert((id, kind));
            } else {
                *self.vertices.entry(kind).or_default() += 1;
            }
        }
        for (_, kind, _) in edges.clone() {
            *self.edges.entry(kind).or_default() += 1;
        }
        if !self.overlapping {
            // One batch may name a key twice (the diff reads a batch whole); two batches may not.
            let own = vertices.filter(|(_, kind)| !kind.is_shared()).map(|(id, _)| id);
            let added: Vec<u64> =
                own.map(|id| FxBuildHasher.hash_one(id)).chain(edges.map(|key| FxBuildHasher.hash_one(key))).collect();
            self.overlapping = added.iter().any(|key| self.keys.contains(key));
            if self.overlapping {
                // Settled: the set is not needed any more.
                self.keys = FxHashSet::default();
            } else {
                self.keys.extend(added);
            }
        }
        self.encoded.push(encoded);
    }

    /// Puts the batches added so far in the order of their bytes. Files' batches arrive in the
    /// order their threads finish; in a deterministic order, a rerun that changes one file's
    /// batch changes the pieces of the crate's recorded output around it only
    /// (`incremental::Pieces`). The counts and keys do not depend on the order.
    pub fn sort_batches(&mut self) {
        self.encoded.0.sort_unstable();
    }

    /// How many batches it has.
    pub fn batches(&self) -> usize {
        self.encoded.0.len()
    }

    /// The encoded output, and the summary's counts filled in.
    pub fn finish(self, summary: &mut UnitSummary) -> Parts {
        summary.shared = self.shared.into_iter().collect();
        summary.vertices = self.vertices;
        summary.edges = self.edges;
        summary.disjoint = !self.overlapping;
        summary.batches = self.encoded.0.iter().map(|part| part.len() as u64).collect();
        self.encoded
    }
}

/// Decodes an output written by `OutputBuilder`; `None` when it is damaged.
pub fn decode_output(mut bytes: &[u8]) -> Option<Vec<Batch>> {
    let mut batches = Vec::new();
    while !bytes.is_empty() {
        batches.push(rmp_serde::decode::from_read(&mut bytes).ok()?);
    }
    Some(batches)
}

/// The bytes of each batch of an output written by `OutputBuilder`, cut at the lengths its
/// summary recorded (`UnitSummary::batches`); `None` when they do not add up to the output.
pub fn split_output<'a>(bytes: &'a [u8], lengths: &[u64]) -> Option<Vec<&'a [u8]>> {
    let mut batches = Vec::with_capacity(lengths.len());
    let mut rest = bytes;
    for &len in lengths {
        let (batch, after) = rest.split_at_checked(usize::try_from(len).ok()?)?;
        batches.push(batch);
        rest = after;
    }
    rest.is_empty().then_some(batches)
}

/// Decodes the batches `split_output` found; `None` unless each is one whole batch.
pub fn decode_batches(batches: &[&[u8]]) -> Option<Vec<Batch>> {
    batches
        .iter()
        .map(|&bytes| {
            let mut bytes = bytes;
            let batch = rmp_serde::decode::from_read(&mut bytes).ok()?;
            bytes.is_empty().then_some(batch)
        })
        .collect()
}

/// A file's share of a crate's output, kept so that when the crate is indexed again, a file whose
/// content and place in the module tree are unchanged is not parsed again: its batch (module and
/// file vertices, items, edges), its records for resolution, its macro calls, its `mod x;`
/// declarations, and how the walk reached it.
#[derive(Debug)]
pub struct FileOutput {
    /// The batch's keys: a reused file's batch goes on as the bytes it was read from.
    pub keys: BatchKeys,
    pub records: Vec<crate::resolve::ItemRecord>,
    pub sites: Vec<crate::assemble::MacroSite>,
    pub children: Vec<crate::assemble::ChildModule>,
    pub origin: FileOrigin,
}

/// How the walk reached a file: the module whose body it is, the paths looked up for it, where
/// the module was declared and the files above it. A file's key is made of them and its text,
/// and a rerun can index the file on its own with them (`index::patch`).
#[derive(Debug, Serialize, Deserialize)]
pub struct FileOrigin {
    pub candidates: Vec<crate::workspace::modules::ModuleFile>,
    pub module: crate::assemble::ChildModule,
    pub decl: Option<(String, u32)>,
    pub ancestors: Vec<camino::Utf8PathBuf>,
}

impl FileOutput {
    /// Decodes `FileOutputRef::encode`'s bytes, as the cache gives them back (`FileCache::get`).
    /// Also gives the bytes around the batch and the batch's own bytes (as `encode_batch` made
    /// them), so that a file reused is neither encoded again for the crate's output nor copied
    /// whole for the next cache. `None` when the bytes are damaged.
    pub fn decode(entry: FileEntry<'_>) -> Option<(FileOutput, FileEntry<'_>)> {
        let (keys, pieces) = FileOutput::pieces(entry)?;
        let mut rest = pieces.tail;
        let records = postcard::from_bytes(take_bin(&mut rest)?).ok()?;
        let sites = rmp_serde::decode::from_read(&mut rest).ok()?;
        let children = rmp_serde::decode::from_read(&mut rest).ok()?;
        let origin = rmp_serde::decode::from_read(&mut rest).ok()?;
        rest.is_empty().then_some((FileOutput { keys, records, sites, children, origin }, pieces))
    }

    /// `decode`'s batch keys and origin, and the entry's pieces; the records, macro calls and
    /// declarations stepped over, not decoded.
    pub fn origin(entry: FileEntry<'_>) -> Option<(BatchKeys, FileOrigin, FileEntry<'_>)> {
        let (keys, pieces) = FileOutput::pieces(entry)?;
        let mut rest = pieces.tail;
        for _ in 0..3 {
            skip_value(&mut rest, 0)?;
        }
        let origin = rmp_serde::decode::from_read(&mut rest).ok()?;
        rest.is_empty().then_some((keys, origin, pieces))
    }

    /// The entry's batch keys, and its pieces: the array's header, the batch, the rest.
    fn pieces(entry: FileEntry<'_>) -> Option<(BatchKeys, FileEntry<'_>)> {
        let (head, batch, tail, keys) = if entry.batch.is_empty() {
            // The whole output in one piece: the batch follows the array's header.
            let bytes = entry.head;
            let mut rest = bytes;
            rmp::decode::read_array_len(&mut rest).ok()?;
            let start = bytes.len() - rest.len();
            let keys = BatchKeys::decode_prefix(&mut rest)?;
            let end = bytes.len() - rest.len();
            (&bytes[..start], &bytes[start..end], &bytes[end..], keys)
        } else {
            (entry.head, entry.batch, entry.tail, BatchKeys::decode(entry.batch)?)
        };
        let mut rest = head;
        if rmp::decode::read_array_len(&mut rest).ok()? != 5 || !rest.is_empty() {
            return None;
        }
        Some((keys, FileEntry { head, batch, tail }))
    }
}

/// What `OutputBuilder` counts of a batch, read from `encode_batch`'s bytes without the
/// properties: each vertex's id and kind, each edge's key. A batch encodes as arrays of its
/// fields (`Batch`, then each `Vertex` and `Edge`); the properties are stepped over
/// (`skip_value`), neither decoded nor copied.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BatchKeys {
    pub vertices: Vec<(Uuid, VertexKind)>,
    pub edges: Vec<(Uuid, EdgeKind, Uuid)>,
}

impl BatchKeys {
    /// `None` when the bytes are not one whole batch.
    pub fn decode(mut bytes: &[u8]) -> Option<BatchKeys> {
        let keys = BatchKeys::decode_prefix(&mut bytes)?;
        bytes.is_empty().then_some(keys)
    }

    /// The keys of the batch at the front of `bytes`, which is moved past it.
    fn decode_prefix(bytes: &mut &[u8]) -> Option<BatchKeys> {
        fn field<'a, T: Deserialize<'a>>(bytes: &mut &'a [u8]) -> Option<T> {
            rmp_serde::from_slice(take_value(bytes)?).ok()
        }
        let array = |bytes: &mut &[u8]| rmp::decode::read_array_len(bytes).ok();
        if array(bytes)? != 2 {
            return None;
        }
        // Each element takes a byte at least: no allocation beyond what the bytes can hold.
        let count = array(bytes)? as usize;
        let mut vertices = Vec::with_capacity(count.min(bytes.len()));
        for _ in 0..count {
            if array(bytes)? != 3 {
                return None;
            }
            vertices.push((field(bytes)?, field(bytes)?));
            skip_value(bytes, 0)?;
        }
        let count = array(bytes)? as usize;
        let mut edges = Vec::with_capacity(count.min(bytes.len()));
        for _ in 0..count {
            if array(bytes)? != 4 {
                return None;
            }
            edges.push((field(bytes)?, field(bytes)?, field(bytes)?));
            skip_value(bytes, 0)?;
        }
        Some(BatchKeys { vertices, edges })
    }
}

/// The bytes of the msgpack value at the front of `bytes`, which is moved past it.
fn take_value<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
    let start = *bytes;
    skip_value(bytes, 0)?;
    Some(&start[..start.len() - bytes.len()])
}

/// The bytes of the msgpack `bin` at the front of `bytes`, which is moved past it.
fn take_bin<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = rmp::decode::read_bin_len(bytes).ok()? as usize;
    let (data, rest) = bytes.split_at_checked(len)?;
    *bytes = rest;
    Some(data)
}

/// Moves `bytes` past the msgpack value at its front, without decoding it; `None` when it is
/// cut short or malformed, or nests deeper than a property value does.
fn skip_value(bytes: &mut &[u8], depth: u32) -> Option<()> {
    crate::resolve::names::walk_value(bytes, depth, &mut |_| {})
}

/// `FileOutput` by reference, to encode it without a copy, around its batch encoded once for
/// both the file's output and the crate's.
pub struct FileOutputRef<'a> {
    pub records: &'a [crate::resolve::ItemRecord],
    pub sites: &'a [crate::assemble::MacroSite],
    pub children: &'a [crate::assemble::ChildModule],
    pub origin: FileOriginRef<'a>,
}

/// `FileOrigin`'s fields, by reference.
pub type FileOriginRef<'a> = (
    &'a [crate::workspace::modules::ModuleFile],
    &'a crate::assemble::ChildModule,
    &'a Option<(String, u32)>,
    &'a [camino::Utf8PathBuf],
);

impl FileOutputRef<'_> {
    /// The bytes `FileOutput` decodes from, given its batch's `encode_batch` (kept as a part, not
    /// copied): rmp_serde writes a struct as an array of its fields, and a msgpack array's
    /// elements simply follow its header.
    pub fn encode(&self, batch: Bytes) -> Parts {
        let mut head = Vec::new();
        // Encoding plain data into a `Vec` cannot fail.
        let _ = rmp::encode::write_array_len(&mut head, 5);
        let mut tail = Vec::new();
        // The records in postcard's form (see `Cargo.toml`), as a msgpack `bin`, which
        // `FileOutput::origin` steps over as it steps over the other values.
        let records = postcard::to_allocvec(self.records).unwrap_or_default();
        let _ = rmp::encode::write_bin(&mut tail, &records);
        let _ = rmp_serde::encode::write(&mut tail, self.sites);
        let _ = rmp_serde::encode::write(&mut tail, self.children);
        // A tuple encodes as an array of its fields, as `FileOrigin` does.
        let _ = rmp_serde::encode::write(&mut tail, &self.origin);
        Parts(vec![exact(head), batch, exact(tail)])
    }
}

/// The files of one crate's last build, by key (see `index`): an index, msgpack-encoded, then the
/// entries one after another, read only when asked for. An entry is a file's encoded
/// `FileOutput` or a macro call's cached expansion. A file's batch is also a part of the crate's
/// output, so its entry leaves it out and names its range in the output instead (a splice): the
/// pack holds each batch once, and reading a file back needs the output too.
#[derive(Debug, Default)]
pub struct FileCache {
    /// By key: the entry's range in `data`, and its splice (where in the entry the batch goes,
    /// and its range in `output`).
    index: std::collections::HashMap<String, (usize, usize, Option<Splice>)>,
    data: Bytes,
    output: Bytes,
    /// What the crate's summary recorded of its resolution (`with_summary`).
    recorded: Option<Recorded>,
}

/// What `FileCache::recorded_edges` needs of the last build's summary.
#[derive(Debug)]
struct Recorded {
    interface: String,
    deps_interface: String,
    batches: Vec<u64>,
    segments: EdgeSegments,
    names: Option<crate::resolve::names::NameDigest>,
}

/// A batch left out of a cached entry: where it goes in the entry, and where it is in the crate's
/// output.
type Splice = (usize, usize, usize);

/// One entry of a `FileCache`, in up to three pieces: `head`, then `batch` (from the crate's
/// output), then `tail`. An entry without a splice is all in `head`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileEntry<'a> {
    pub head: &'a [u8],
    pub batch: &'a [u8],
    pub tail: &'a [u8],
}

impl<'a> FileEntry<'a> {
    /// The entry's bytes in one piece (borrowed when it is in one already).
    pub fn whole(self) -> std::borrow::Cow<'a, [u8]> {
        if self.batch.is_empty() && self.tail.is_empty() {
            std::borrow::Cow::Borrowed(self.head)
        } else {
            std::borrow::Cow::Owned([self.head, self.batch, self.tail].concat())
        }
    }
}

impl FileCache {
    /// Lays out `entries` (key, encoded entry) as a cache file's bytes. An entry made of three
    /// parts whose middle one is a part of `output` (a file's batch, `FileOutputRef::encode`) is
    /// kept without it, and names its range in `output`. Entries are laid out by key, whatever
    /// order the files were indexed in, so that a rerun that changes one file changes the pieces
    /// around its entry only (`incremental::Pieces`).
    pub fn encode(mut entries: Vec<(String, Parts)>, output: &Parts) -> Parts {
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut in_output = std::collections::HashMap::with_capacity(output.0.len());
        let mut offset = 0;
        for part in &output.0 {
            in_output.entry((part.as_ptr() as usize, part.len())).or_insert(offset);
            offset += part.len();
        }
        let mut index = Vec::with_capacity(entries.len());
        let mut kept = Vec::with_capacity(entries.len());
        let mut offset = 0;
        for (key, parts) in &entries {
            let splice = match parts.0.as_slice() {
                [head, batch, _] if !batch.is_empty() => in_output
                    .get(&(batch.as_ptr() as usize, batch.len()))
                    .map(|&start| (head.len(), start, batch.len())),
                _ => None,
            };
            let pieces: Vec<&Bytes> = match splice {
                Some(_) => vec![&parts.0[0], &parts.0[2]],
                None => parts.0.iter().collect(),
            };
            let len = pieces.iter().map(|piece| piece.len()).sum::<usize>();
            index.push((key.as_str(), offset, len, splice));
            offset += len;
            kept.extend(pieces.into_iter().cloned());
        }
        let mut out = Parts::from(rmp_serde::to_vec(&index).unwrap_or_default());
        out.0.extend(kept);
        out
    }

    /// Reads `encode`'s output, with the crate's output it was encoded against; `None` when
    /// either is damaged.
    pub fn decode(bytes: Vec<u8>, output: Vec<u8>) -> Option<FileCache> {
        let mut rest = bytes.as_slice();
        let index: Vec<(String, usize, usize, Option<Splice>)> = rmp_serde::decode::from_read(&mut rest).ok()?;
        let start = bytes.len() - rest.len();
        let mut map = std::collections::HashMap::with_capacity(index.len());
        for (key, offset, len, splice) in index {
            if start.checked_add(offset)?.checked_add(len)? > bytes.len() {
                return None;
            }
            if let Some((at, from, batch_len)) = splice
                && (at > len || from.checked_add(batch_len)? > output.len())
            {
                return None;
            }
            map.insert(key, (start + offset, len, splice));
        }
        Some(FileCache { index: map, data: bytes.into(), output: output.into(), recorded: None })
    }

    /// The crate's last output, as recorded (read and checked when the cache was).
    pub fn output(&self) -> &Bytes {
        &self.output
    }

    /// Adds what the crate's last build recorded of its resolution, from its summary.
    pub fn with_summary(mut self, summary: &UnitSummary) -> FileCache {
        self.recorded = match (&summary.interface, &summary.edge_segments) {
            (Some(interface), Some(segments)) => Some(Recorded {
                interface: interface.clone(),
                deps_interface: summary.deps_interface.clone(),
                batches: summary.batches.clone(),
                segments: segments.clone(),
                names: None,
            }),
            _ => None,
        };
        self
    }

    /// Adds the crate's last `NameDigest` (`Cache::names`).
    pub fn with_names(mut self, names: Option<crate::resolve::names::NameDigest>) -> FileCache {
        if let Some(recorded) = &mut self.recorded {
            recorded.names = names;
        }
        self
    }

    /// The crate's last `NameDigest`, when it was recorded.
    pub fn recorded_names(&self) -> Option<&crate::resolve::names::NameDigest> {
        self.recorded.as_ref()?.names.as_ref()
    }

    /// The last build's resolved edges, cut as they were sent, with what they were resolved
    /// against, when that build resolved the crate with the same `use` declarations; `None`
    /// otherwise, or when the record does not match the output. `index::resolved` keeps those
    /// whose items name what they named, when nothing they name changed meaning since.
    pub fn recorded_edges(&self, uses: u64) -> Option<RecordedEdges<'_>> {
        let recorded = self.recorded.as_ref()?;
        if recorded.segments.uses != uses {
            return None;
        }
        let segments = recorded.segments.segments.len();
        let batches = split_output(&self.output, &recorded.batches)?;
        let externs = match recorded.segments.externs {
            Some(at) => Some(*batches.get(at as usize)?),
            None => None,
        };
        let mut next = recorded.segments.first as usize;
        let mut out = Vec::with_capacity(segments);
        for segment in &recorded.segments.segments {
            let end = next.checked_add(segment.batches as usize)?;
            out.push((segment, batches.get(next..end)?.iter().map(|batch| self.output.slice_ref(batch)).collect()));
            next = end;
        }
        Some(RecordedEdges {
            interface: &recorded.interface,
            deps_interface: &recorded.deps_interface,
            names: recorded.names.as_ref(),
            externs,
            segments: out,
        })
    }

    /// The keys of the files' entries whose text had the content hash `hash` (`Input::hash`): a
    /// file's key ends with it (`index`), after the hash of its place in the module tree.
    pub fn keys_with_content<'a>(&'a self, hash: &'a str) -> impl Iterator<Item = &'a str> {
        self.index.keys().map(String::as_str).filter(move |key| key.len() > hash.len() && key.ends_with(hash))
    }

    /// The crate's output cut into its batches at `batches` (the summary's lengths).
    pub fn output_batches(&self, batches: &[u64]) -> Option<Vec<&[u8]>> {
        split_output(&self.output, batches)
    }

    /// The keys of the files' entries whose batch is a batch of the output, by the batch's index
    /// among the output's `batches` (the summary's lengths).
    pub fn batch_owners(&self, batches: &[u64]) -> std::collections::HashMap<usize, &str> {
        let batch_at = self.batch_at(batches);
        self.index.iter().filter_map(|(key, &(_, _, splice))| Some((batch_at(splice?)?, key.as_str()))).collect()
    }

    /// The keys of the entries whose own bytes (those around a file's batch, which is the
    /// output's) hold `needle`.
    pub fn keys_holding<'a>(&'a self, needle: &'a [u8]) -> impl Iterator<Item = &'a str> {
        let finder = memchr::memmem::Finder::new(needle);
        self.index.iter().filter_map(move |(key, &(offset, len, _))| {
            let bytes = self.data.get(offset..offset + len)?;
            finder.find(bytes).map(|_| key.as_str())
        })
    }

    /// The index among the output's `batches` of the batch a splice names.
    fn batch_at(&self, batches: &[u64]) -> impl Fn(Splice) -> Option<usize> {
        let mut starts = std::collections::HashMap::with_capacity(batches.len());
        let mut offset = 0;
        for (i, &len) in batches.iter().enumerate() {
            starts.insert(offset, i);
            offset += len as usize;
        }
        let lengths = batches.to_vec();
        move |(_, from, len): Splice| starts.get(&from).copied().filter(|&i| lengths[i] == len as u64)
    }

    /// The crate's output and this cache, with the entries of `replaced` (an old key, a new key,
    /// and the new entry, `FileOutputRef::encode`d) in the place of the old ones, each new
    /// entry's batch in the place of the old one's in the output, and the batches of `rewritten`
    /// (by index) in the place of those. `batches` (the summary's lengths) cut the output into
    /// batches. Gives the output, its batches' lengths and the cache encoded (`encode`); `None`
    /// when an old entry is missing or its batch is not one of the output's.
    pub fn patched(
        &self,
        batches: &[u64],
        replaced: Vec<(String, String, Parts)>,
        rewritten: Vec<(usize, Bytes)>,
    ) -> Option<(Parts, Vec<u64>, Parts)> {
        // Slices of the recorded bytes, not copies: only what changed is new.
        let mut output: Vec<Bytes> =
            split_output(&self.output, batches)?.into_iter().map(|batch| self.output.slice_ref(batch)).collect();
        let batch_at = self.batch_at(batches);
        for (i, batch) in rewritten {
            *output.get_mut(i)? = batch;
        }
        let mut new_entries = Vec::with_capacity(replaced.len());
        let mut gone = std::collections::HashSet::with_capacity(replaced.len());
        for (old, new, mut parts) in replaced {
            let i = batch_at(self.index.get(&old)?.2?)?;
            let [_, batch, _] = parts.0.as_mut_slice() else { return None };
            output[i] = batch.clone();
            gone.insert(old);
            new_entries.push((new, parts));
        }
        let mut entries = Vec::with_capacity(self.index.len());
        for (key, &(offset, len, splice)) in &self.index {
            if gone.contains(key) {
                continue;
            }
            let bytes = self.data.get(offset..offset + len)?;
            let bytes = self.data.slice_ref(bytes);
            let parts = match splice {
                None => Parts(vec![bytes]),
                Some(splice) => {
                    let (head, tail) = (bytes.get(..splice.0)?, bytes.get(splice.0..)?);
                    Parts(vec![bytes.slice_ref(head), output[batch_at(splice)?].clone(), bytes.slice_ref(tail)])
                }
            };
            entries.push((key.clone(), parts));
        }
        entries.extend(new_entries);
        let output = Parts(output);
        let lengths = output.0.iter().map(|batch| batch.len() as u64).collect();
        let files = FileCache::encode(entries, &output);
        Some((output, lengths, files))
    }

    /// `bytes` (an entry's piece, or a batch of the output, as `get` gave them) as a part that
    /// shares the cache's bytes: no copy.
    pub fn share(&self, bytes: &[u8]) -> Bytes {
        let within = |of: &Bytes| {
            let (start, end) = (of.as_ptr() as usize, of.as_ptr() as usize + of.len());
            let at = bytes.as_ptr() as usize;
            start <= at && at + bytes.len() <= end
        };
        match [&self.data, &self.output].into_iter().find(|of| within(of)) {
            Some(of) if !bytes.is_empty() => of.slice_ref(bytes),
            _ => Bytes::copy_from_slice(bytes),
        }
    }

    /// The entry (as `get` gave it) as parts, sharing the cache's bytes, its batch `batch`.
    pub fn entry_parts(&self, entry: FileEntry<'_>, batch: Bytes) -> Parts {
        Parts(vec![self.share(entry.head), batch, self.share(entry.tail)])
    }

    /// The entry with `key`, if it was kept.
    pub fn get(&self, key: &str) -> Option<FileEntry<'_>> {
        let &(offset, len, splice) = self.index.get(key)?;
        let bytes = self.data.get(offset..offset + len)?;
        Some(match splice {
            None => FileEntry { head: bytes, batch: &[], tail: &[] },
            Some((at, from, batch_len)) => {
                FileEntry { head: &bytes[..at], batch: self.output.get(from..from + batch_len)?, tail: &bytes[at..] }
            }
        })
    }
}
