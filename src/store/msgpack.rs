//! Atomic saves of the memory datastore as IndraDB's msgpack image.
//!
//! IndraDB's own `sync` serialises into a temp file in the *system* temp folder and renames it
//! over the target: across file systems the rename fails (EXDEV), nothing is fsynced, and a
//! failed final flush of its `BufWriter` is silently ignored. So we write the image ourselves:
//! into a temp file in the target's own folder (created before any work, which also proves the
//! folder writable), flushed and fsynced, then renamed over the target, then the folder fsynced.
//! A reader, or a process killed at any moment, sees the old graph or the new one, never a part.
//!
//! The image must be exactly what `MemoryDatastore::read_msgpack_db` reads: `Image` writes
//! IndraDB 5.0.0's private `InternalMemory` field for field (msgpack encodes structs as arrays,
//! so order and types are the format). indradb-lib is pinned to that version in Cargo.toml, and
//! `store::tests::saved_image_reads_back_identically` guards the mirror.

use std::cmp::Ordering;
use std::fs::File;
use std::io::Write;
use std::sync::mpsc::SyncSender;

use rayon::prelude::*;

use camino::{Utf8Path, Utf8PathBuf};
use indradb::{BulkInsertItem, Database, Datastore, Edge, Identifier, Json, MemoryDatastore, Transaction};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use tempfile::NamedTempFile;
use uuid::Uuid;

use super::{StoreError, identifier};
use crate::direct_io::DirectWriter;

/// The memory datastore's transaction (its type is not exported by name).
type MemoryTransaction<'a> = <MemoryDatastore as Datastore>::Transaction<'a>;

/// Mirrors IndraDB 5.0.0's `IndexedPropertyMember` (only the vertex variant is written).
#[derive(Serialize)]
enum IndexedPropertyMember {
    Vertex(Uuid),
}

/// Writes IndraDB 5.0.0's `InternalMemory` straight from the datastore: its six fields in order
/// (`vertices`, `edges`, `reversed_edges`, `vertex_properties`, `edge_properties`,
/// `property_values`), as the array rmp_serde makes of a struct, each field as the map or
/// sequence serde makes of the original's `BTreeMap`, `BTreeSet` or `HashMap`. Streaming, rather
/// than building a copy of the store first, keeps the save to one pass. Entries need no order
/// (the reader inserts them into maps of its own), but they are written in the store's order so
/// that the same graph gives the same file.
fn write_image(out: &mut impl Write, txn: &MemoryTransaction<'_>, indexed: &[Identifier]) -> Result<(), EncodeError> {
    rmp::encode::write_array_len(out, 6).map_err(EncodeError::from)?;
    rmp_serde::encode::write(out, &Vertices(txn))?;
    rmp_serde::encode::write(out, &Edges { txn, reversed: false })?;
    rmp_serde::encode::write(out, &Edges { txn, reversed: true })?;
    let index = write_vertex_properties(out, txn, indexed)?;
    rmp_serde::encode::write(out, &EdgeProperties(txn))?;
    out.write_all(&property_values(&index)?).map_err(write_error)?;
    Ok(())
}

type EncodeError = rmp_serde::encode::Error;

/// For each indexed property, its (value, vertex) pairs.
type PropertyIndex<V = Json> = Vec<(Identifier, Vec<(V, Uuid)>)>;

/// Vertices per chunk of `vertex_properties` encoded on one thread (and elements, or edges, per
/// chunk of the other sections). Small in tests, so that their small graphs are cut into many
/// chunks and groups too.
const CHUNK: usize = if cfg!(test) { 16 } else { 4096 };

/// `vertex_properties`, the bulk of the image: chunks of vertices are encoded in parallel on the
/// current rayon pool into buffers, which are written in order after the map's length (a msgpack
/// map's entries simply follow its header). Returns the property index, gathered on the way.
fn write_vertex_properties(
    out: &mut impl Write,
    txn: &MemoryTransaction<'_>,
    indexed: &[Identifier],
) -> Result<PropertyIndex, EncodeError> {
    let vertices: Vec<indradb::Vertex> =
        txn.all_vertices().map_err(encode_error)?.collect::<Result<_, _>>().map_err(encode_error)?;
    let chunks: Vec<(Vec<u8>, usize, PropertyIndex)> = vertices
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut buf = Vec::new();
            let mut len = 0;
            let mut index: PropertyIndex = indexed.iter().map(|name| (*name, Vec::new())).collect();
            let mut serializer = rmp_serde::Serializer::new(&mut buf);
            for vertex in chunk {
                for prop in txn.all_vertex_properties_for_vertex(vertex).map_err(encode_error)? {
                    let (name, value) = prop.map_err(encode_error)?;
                    (vertex.id, name).serialize(&mut serializer)?;
                    value.serialize(&mut serializer)?;
                    len += 1;
                    if let Some((_, pairs)) = index.iter_mut().find(|(indexed, _)| *indexed == name) {
                        pairs.push((value, vertex.id));
                    }
                }
            }
            Ok((buf, len, index))
        })
        .collect::<Result<_, EncodeError>>()?;
    write_chunks(out, indexed, chunks)
}

/// Writes the map header of `vertex_properties` and the chunks encoded in parallel, in order, and
/// merges their shares of the property index.
fn write_chunks(
    out: &mut impl Write,
    indexed: &[Identifier],
    chunks: Vec<(Vec<u8>, usize, PropertyIndex)>,
) -> Result<PropertyIndex, EncodeError> {
    let len: usize = chunks.iter().map(|(_, len, _)| len).sum();
    rmp::encode::write_map_len(out, len as u32).map_err(EncodeError::from)?;
    let mut index: PropertyIndex = indexed.iter().map(|name| (*name, Vec::new())).collect();
    for (buf, _, chunk_index) in chunks {
        out.write_all(&buf)
            .map_err(|err| EncodeError::InvalidValueWrite(rmp::encode::ValueWriteError::InvalidDataWrite(err)))?;
        for ((_, pairs), (_, chunk_pairs)) in index.iter_mut().zip(chunk_index) {
            pairs.extend(chunk_pairs);
        }
    }
    Ok(index)
}

/// A new graph's items as the writer passed them, for an image written without IndraDB (see
/// `Collected::write_image`). Inserting into the memory datastore costs a B-tree insertion per
/// vertex, edge and property, and its save walks those trees again; a cold build needs neither:
/// the writer has already checked what it passes (each vertex once, properties with their
/// vertex or edge, edges with both ends), so its items only need sorting into the store's order.
///
/// Property values are `V`: `Raw` (their encoding) in the graph being collected, `Json` in a
/// flush bound for an IndraDB datastore (`into_bulk`). The writer hands each flush's items to its
/// sink in this shape (`append`): typed vectors, not an enum per item. The vertices and edges
/// are appended in the writer's thread as they come, which overlaps the vectors' growth with
/// indexing (keeping each flush's vectors and putting them together at the save instead put that
/// copy on the save's path and raised the e2e corpus's peak memory from about 1.46 to 1.63 GB);
/// the properties, which need no putting together, stay as the flushes made them (`Flushed`).
pub struct Collected<V = Raw> {
    pub(super) vertices: Vec<(Uuid, Identifier)>,
    pub(super) vertex_props: Flushed<((Uuid, Identifier), V)>,
    pub(super) edges: Vec<Edge>,
    pub(super) edge_props: Flushed<((Edge, Identifier), V)>,
}

impl<V> Default for Collected<V> {
    fn default() -> Collected<V> {
        Collected {
            vertices: Vec::new(),
            vertex_props: Flushed::default(),
            edges: Vec::new(),
            edge_props: Flushed::default(),
        }
    }
}

/// A section's properties as the writer's flushes passed them: a vector per flush, never put
/// together. Appended into one vector, the vertices' properties (4.3 million of the `e2e`
/// corpus, 200 MB) grew by doubling, copied again at each step with old and new held at once,
/// and nothing needs them in one piece: the save writes them run by run (`property_order`).
pub struct Flushed<T>(Vec<Vec<T>>);

impl<T> Default for Flushed<T> {
    fn default() -> Flushed<T> {
        Flushed(Vec::new())
    }
}

impl<T> Flushed<T> {
    /// Adds a flush's items after these.
    pub fn push_flush(&mut self, items: Vec<T>) {
        if !items.is_empty() {
            self.0.push(items);
        }
    }

    pub fn len(&self) -> usize {
        self.0.iter().map(Vec::len).sum()
    }

    /// The items of run `(flush, range)`.
    fn run(&self, (flush, range): &Run) -> &[T] {
        &self.0[*flush][range.clone()]
    }
}

impl<T> IntoIterator for Flushed<T> {
    type Item = T;
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<Vec<T>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter().flatten()
    }
}

impl<V> Collected<V> {
    /// Adds `other`'s items after these.
    pub fn append(&mut self, other: Collected<V>) {
        fn append<T>(into: &mut Vec<T>, mut from: Vec<T>) {
            if into.is_empty() {
                *into = from;
            } else {
                into.append(&mut from);
            }
        }
        append(&mut self.vertices, other.vertices);
        self.vertex_props.0.extend(other.vertex_props.0);
        append(&mut self.edges, other.edges);
        self.edge_props.0.extend(other.edge_props.0);
    }

    pub fn len(&self) -> usize {
        self.vertices.len() + self.vertex_props.len() + self.edges.len() + self.edge_props.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Collected<Json> {
    /// The items as one `bulk_insert`, in the order IndraDB's memory datastore needs them (it
    /// applies them in order, and a property needs its vertex or edge): vertices, their
    /// properties, edges, their properties. (RocksDB writes one batch and checks nothing.)
    pub fn into_bulk(self) -> Vec<BulkInsertItem> {
        let mut items = Vec::with_capacity(self.len());
        items.extend(self.vertices.into_iter().map(|(id, t)| BulkInsertItem::Vertex(indradb::Vertex::with_id(id, t))));
        items.extend(
            self.vertex_props.into_iter().map(|((id, name), value)| BulkInsertItem::VertexProperty(id, name, value)),
        );
        items.extend(self.edges.into_iter().map(BulkInsertItem::Edge));
        items.extend(
            self.edge_props.into_iter().map(|((edge, name), value)| BulkInsertItem::EdgeProperty(edge, name, value)),
        );
        items
    }
}

impl Collected {
    /// Takes what a `bulk_insert` would: the memory datastore's meaning, for items that passed
    /// the writer's checks.
    pub fn insert(&mut self, items: Vec<BulkInsertItem>) {
        let (mut vertex_props, mut edge_props) = (Vec::new(), Vec::new());
        for item in items {
            match item {
                BulkInsertItem::Vertex(vertex) => self.vertices.push((vertex.id, vertex.t)),
                BulkInsertItem::Edge(edge) => self.edges.push(edge),
                BulkInsertItem::VertexProperty(id, name, value) => vertex_props.push(((id, name), Raw::new(&value))),
                BulkInsertItem::EdgeProperty(edge, name, value) => edge_props.push(((edge, name), Raw::new(&value))),
            }
        }
        self.vertex_props.push_flush(vertex_props);
        self.edge_props.push_flush(edge_props);
    }

    /// Sorts the vertices and edges into the memory datastore's order (its `BTreeMap`s and
    /// `BTreeSet`s: by id, by edge, by property name as text), as it would hold the same inserts:
    /// an edge inserted twice is one edge. The properties are not moved: what comes back is the
    /// order to write them in (`property_order`).
    fn sort(&mut self) -> (Vec<Run>, Vec<Run>) {
        self.vertices.par_sort_unstable_by_key(|(id, _)| *id);
        self.vertices.dedup_by_key(|(id, _)| *id);
        let vertex_order = property_order(&mut self.vertex_props);
        self.edges.par_sort_unstable();
        self.edges.dedup();
        let edge_order = property_order(&mut self.edge_props);
        (vertex_order, edge_order)
    }

    /// Writes the image `write_image` would write of a memory datastore holding these items, byte
    /// for byte (`store::tests::collected_image_is_the_datastore_image` holds it to that).
    ///
    /// Every section is encoded in chunks on the current rayon pool, and the chunks go, in order,
    /// to a thread that writes them: the file's writing (half a gigabyte on a large graph, past
    /// the page cache where it can: `DirectWriter`) overlaps the encoding of what follows instead
    /// of waiting for it. The items are freed on a thread of their own, beside the caller's fsync.
    fn write_image(mut self, out: &mut (impl Write + Send), indexed: &[Identifier]) -> Result<(), EncodeError> {
        let order = self.sort();
        let result = std::thread::scope(|scope| {
            let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<u8>>(64);
            let writer = std::thread::Builder::new()
                .name("codegraph-save".to_owned())
                .spawn_scoped(scope, move || -> std::io::Result<()> {
                    for buf in receiver {
                        out.write_all(&buf)?;
                    }
                    Ok(())
                })
                .map_err(write_error)?;
            let encoded = self.encode_into(&sender, indexed, &order);
            drop(sender);
            // The writer's error says more than the encoder's "channel closed".
            match writer.join() {
                Ok(Ok(())) => encoded,
                Ok(Err(err)) => Err(write_error(err)),
                Err(_) => Err(write_error(std::io::Error::other("the image's writer panicked"))),
            }
        });
        // Were no thread to be had, the items would be freed here, when the closure is.
        let _ = std::thread::Builder::new().name("codegraph-free".to_owned()).spawn(move || drop(self));
        result
    }

    /// The image's sections, encoded in order into `sink`'s buffers; the properties in the order
    /// `sort` gave (the vertices' and the edges').
    fn encode_into(
        &self,
        sink: &SyncSender<Vec<u8>>,
        indexed: &[Identifier],
        (vertex_order, edge_order): &(Vec<Run>, Vec<Run>),
    ) -> Result<(), EncodeError> {
        let send = |buf: Vec<u8>| sink.send(buf).map_err(|_| write_error(std::io::ErrorKind::BrokenPipe.into()));
        let mut head = Vec::new();
        rmp::encode::write_array_len(&mut head, 6).map_err(EncodeError::from)?;
        send(head)?;
        let mut head = Vec::new();
        rmp::encode::write_map_len(&mut head, self.vertices.len() as u32).map_err(EncodeError::from)?;
        send(head)?;
        let vertex_size = |(_, kind): &(Uuid, Identifier)| ID_SIZE + name_size(kind);
        encode_chunks(&self.vertices, &send, vertex_size, |out, (id, kind)| {
            put_id(out, id)?;
            put_name(out, kind)
        })?;
        for reversed in [false, true] {
            let mut head = Vec::new();
            rmp::encode::write_array_len(&mut head, self.edges.len() as u32).map_err(EncodeError::from)?;
            send(head)?;
            encode_chunks(&self.edges, &send, edge_size, |out, edge| put_edge(out, edge, reversed))?;
        }
        let mut head = Vec::new();
        rmp::encode::write_map_len(&mut head, self.vertex_props.len() as u32).map_err(EncodeError::from)?;
        send(head)?;
        let mut index: PropertyIndex<Indexed<'_>> = indexed.iter().map(|name| (*name, Vec::new())).collect();
        for group in vertex_order.chunks(CHUNK * GROUP) {
            let chunks: Vec<(Vec<u8>, PropertyIndex<Indexed<'_>>)> = group
                .par_chunks(CHUNK)
                .map(|runs| {
                    let props = || runs.iter().flat_map(|run| self.vertex_props.run(run));
                    let size = props().map(|((_, name), value)| 1 + ID_SIZE + name_size(name) + value.bytes().len());
                    let expected = size.sum();
                    let mut buf = Vec::with_capacity(expected);
                    let mut index: PropertyIndex<Indexed<'_>> =
                        indexed.iter().map(|name| (*name, Vec::new())).collect();
                    for ((id, name), value) in props() {
                        rmp::encode::write_array_len(&mut buf, 2).map_err(EncodeError::from)?;
                        put_id(&mut buf, id)?;
                        put_name(&mut buf, name)?;
                        buf.extend_from_slice(value.bytes());
                        if let Some((_, pairs)) = index.iter_mut().find(|(indexed, _)| indexed == name) {
                            pairs.push((Indexed::new(value), *id));
                        }
                    }
                    debug_assert_eq!(buf.len(), expected, "the size is what is written");
                    Ok((buf, index))
                })
                .collect::<Result<_, EncodeError>>()?;
            for (buf, chunk_index) in chunks {
                send(buf)?;
                for ((_, pairs), (_, chunk_pairs)) in index.iter_mut().zip(chunk_index) {
                    pairs.extend(chunk_pairs);
                }
            }
        }
        let mut head = Vec::new();
        rmp::encode::write_map_len(&mut head, self.edge_props.len() as u32).map_err(EncodeError::from)?;
        send(head)?;
        let run_size = |run: &Run| {
            let props = self.edge_props.run(run).iter();
            props.map(|((edge, name), value)| 1 + edge_size(edge) + name_size(name) + value.bytes().len()).sum()
        };
        encode_chunks(edge_order, &send, run_size, |out, run| {
            for ((edge, name), value) in self.edge_props.run(run) {
                rmp::encode::write_array_len(out, 2).map_err(EncodeError::from)?;
                put_edge(out, edge, false)?;
                put_name(out, name)?;
                out.extend_from_slice(value.bytes());
            }
            Ok(())
        })?;
        send(property_values(&index)?)
    }
}

/// What rmp_serde writes for a `Uuid` (its bytes, the format being no human-readable one), written
/// straight into the buffer, as `put_name` and `put_edge` write theirs: serde's dispatch per
/// value was most of the cost of encoding the image's largest sections (and the tests hold these
/// to the memory datastore's image, which serde writes).
fn put_id(out: &mut Vec<u8>, id: &Uuid) -> Result<(), EncodeError> {
    rmp::encode::write_bin(out, id.as_bytes()).map_err(EncodeError::from)
}

/// The bytes `put_id` writes: msgpack's `bin` header (a marker and a length byte), then 16.
const ID_SIZE: usize = 2 + 16;

/// The bytes `put_name` writes: msgpack's `str` header, then the text.
fn name_size(name: &Identifier) -> usize {
    let len = name.as_str().len();
    len + match len {
        0..32 => 1,
        32..256 => 2,
        256..65536 => 3,
        _ => 5,
    }
}

/// The bytes `put_edge` writes, either way round.
fn edge_size(edge: &Edge) -> usize {
    1 + ID_SIZE + name_size(&edge.t) + ID_SIZE
}

/// An `Identifier`: its text.
fn put_name(out: &mut Vec<u8>, name: &Identifier) -> Result<(), EncodeError> {
    rmp::encode::write_str(out, name.as_str()).map_err(EncodeError::from)
}

/// An `Edge`, or the edge reversed: a struct, which rmp_serde writes as the array of its fields.
fn put_edge(out: &mut Vec<u8>, edge: &Edge, reversed: bool) -> Result<(), EncodeError> {
    let (from, to) =
        if reversed { (&edge.inbound_id, &edge.outbound_id) } else { (&edge.outbound_id, &edge.inbound_id) };
    rmp::encode::write_array_len(out, 3).map_err(EncodeError::from)?;
    put_id(out, from)?;
    put_name(out, &edge.t)?;
    put_id(out, to)
}

/// Chunks encoded per parallel group (so that a section is never all in memory at once).
const GROUP: usize = 8;

/// Encodes `items` (a section's elements, its header already sent) in parallel chunks, a group
/// at a time, and sends the chunks in order. `size` is the bytes `encode` writes for an item: a
/// chunk's buffer is allocated once, at its size (grown by doubling, the buffers' reallocations,
/// their copies and the page faults of the new memory were 2% of a cold build of tokio's
/// package, all of it in the save).
fn encode_chunks<T: Sync>(
    items: &[T],
    send: &(impl Fn(Vec<u8>) -> Result<(), EncodeError> + Sync),
    size: impl Fn(&T) -> usize + Sync,
    encode: impl Fn(&mut Vec<u8>, &T) -> Result<(), EncodeError> + Sync,
) -> Result<(), EncodeError> {
    for group in items.chunks(CHUNK * GROUP) {
        let chunks: Vec<Vec<u8>> = group
            .par_chunks(CHUNK)
            .map(|chunk| {
                let expected = chunk.iter().map(&size).sum();
                let mut buf = Vec::with_capacity(expected);
                for item in chunk {
                    encode(&mut buf, item)?;
                }
                debug_assert_eq!(buf.len(), expected, "`size` is what `encode` writes");
                Ok(buf)
            })
            .collect::<Result<_, EncodeError>>()?;
        chunks.into_iter().try_for_each(send)?;
    }
    Ok(())
}

fn write_error(err: std::io::Error) -> EncodeError {
    EncodeError::InvalidValueWrite(rmp::encode::ValueWriteError::InvalidDataWrite(err))
}

/// The properties of one vertex or edge: a range of one flush's properties (`Flushed`).
type Run = (usize, std::ops::Range<usize>);

/// The order in which a section's properties are written: their owners' runs (`runs`), by owner.
///
/// The writer pushes each vertex's or edge's properties together, by name (a `BTreeMap`'s
/// order, which is the names' order as text), so the section is already those runs and only
/// they need sorting, by their owner: half a million vertices rather than four million
/// properties, none of them moved (a merge sort of the properties took 0.45 s of the `e2e`
/// corpus's 1.75 s save, and a buffer as large as them). A run out of order (the graph's own
/// vertex, from `Collected::insert`) is sorted in place. When two runs have one owner (an edge
/// inserted twice) or a run names a property twice, the properties themselves are put together
/// and sorted, and the last insert of a property kept, as the memory datastore keeps it.
fn property_order<K: Ord + Clone + Send + Sync, V: Send + Sync>(props: &mut Flushed<((K, Identifier), V)>) -> Vec<Run> {
    if let Some(order) = runs_in_order(props) {
        return order;
    }
    let mut all: Vec<_> = std::mem::take(props).into_iter().collect();
    all.par_sort_by(|a, b| a.0.cmp(&b.0));
    keep_last(&mut all);
    let order = runs(&all).map(|range| (0, range)).collect();
    props.push_flush(all);
    order
}

/// The runs of properties with one owner, in a flush's order.
fn runs<K: PartialEq, V>(props: &[((K, Identifier), V)]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut start = 0;
    props.chunk_by(|a, b| a.0.0 == b.0.0).map(move |run| {
        start += run.len();
        start - run.len()..start
    })
}

/// The runs sorted by owner, each run's properties by name, if no run names a property twice and
/// no two runs have one owner. Sorting is stable, so that what is given up is still in the order
/// of the inserts.
fn runs_in_order<K: Ord + Clone + Send + Sync, V: Send + Sync>(
    props: &mut Flushed<((K, Identifier), V)>,
) -> Option<Vec<Run>> {
    let increasing = |run: &[((K, Identifier), V)]| run.windows(2).all(|pair| pair[0].0.1 < pair[1].0.1);
    let named_once = props.0.par_iter_mut().all(|flush| {
        flush.chunk_by_mut(|a, b| a.0.0 == b.0.0).all(|run| {
            if !increasing(run) {
                run.sort_by_key(|a| a.0.1);
            }
            increasing(run)
        })
    });
    if !named_once {
        return None;
    }
    // In parallel, as the steps below: on the `e2e` corpus each was tens of milliseconds of the
    // save on one core while the other waited.
    let mut by_owner: Vec<(K, Run)> = (props.0.par_iter().enumerate())
        .flat_map_iter(|(at, flush)| runs(flush).map(move |range| (flush[range.start].0.0.clone(), (at, range))))
        .collect();
    by_owner.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
    if by_owner.par_windows(2).any(|pair| pair[0].0 == pair[1].0) {
        return None;
    }
    Some(by_owner.into_par_iter().map(|(_, run)| run).collect())
}

/// Of sorted entries with equal keys, keeps the last (a later insert's value wins).
fn keep_last<K: PartialEq, V>(entries: &mut Vec<(K, V)>) {
    entries.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            std::mem::swap(&mut later.1, &mut kept.1);
        }
        same
    });
}

/// The edges again, each reversed, in the same order (the memory datastore's `reversed_edges`, as
/// `Edges { reversed: true }` writes them).
struct Vertices<'a>(&'a MemoryTransaction<'a>);

impl Serialize for Vertices<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.vertex_count() as usize))?;
        for vertex in self.0.all_vertices().map_err(custom)? {
            let vertex = vertex.map_err(custom)?;
            map.serialize_entry(&vertex.id, &vertex.t)?;
        }
        map.end()
    }
}

struct Edges<'a> {
    txn: &'a MemoryTransaction<'a>,
    reversed: bool,
}

impl Serialize for Edges<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.txn.edge_count() as usize))?;
        for edge in self.txn.all_edges().map_err(custom)? {
            let edge = edge.map_err(custom)?;
            seq.serialize_element(&if self.reversed { edge.reversed() } else { edge })?;
        }
        seq.end()
    }
}

struct EdgeProperties<'a>(&'a MemoryTransaction<'a>);

impl Serialize for EdgeProperties<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Gathered first (few edges carry properties), so that the map's length is known.
        let mut props = Vec::new();
        for edge in self.0.all_edges().map_err(custom)? {
            let edge = edge.map_err(custom)?;
            for prop in self.0.all_edge_properties_for_edge(&edge).map_err(custom)? {
                let (name, value) = prop.map_err(custom)?;
                props.push(((edge.clone(), name), value));
            }
        }
        Entries(&props).serialize(serializer)
    }
}

/// The property index (`property_values`, as gathered by `write_vertex_properties`), encoded: for
/// each property, a map from each value to the vertices that have it. Sorted by value (and the
/// vertices by id), so that the same graph gives the same file, byte for byte. Each property's
/// values are encoded in parallel chunks of `CHUNK` values (on the `e2e` corpus the section took
/// 0.4 s of the save, serially, with a vector allocated per value for its vertices).
fn property_values<V: IndexedValue>(index: &PropertyIndex<V>) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    rmp::encode::write_map_len(&mut out, index.len() as u32).map_err(EncodeError::from)?;
    for (name, pairs) in index {
        put_name(&mut out, name)?;
        let pairs = by_value(pairs);
        let starts = value_starts(&pairs);
        rmp::encode::write_map_len(&mut out, starts.len() as u32).map_err(EncodeError::from)?;
        let chunks: Vec<Vec<u8>> = starts
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(chunk, chunk_starts)| {
                let mut buf = Vec::new();
                let mut serializer = rmp_serde::Serializer::new(&mut buf);
                let ends = starts[chunk * CHUNK + 1..].iter().copied().chain([pairs.len()]);
                for (start, end) in chunk_starts.iter().copied().zip(ends) {
                    let group = &pairs[start..end];
                    group[0].0.serialize(&mut serializer)?;
                    rmp::encode::write_array_len(serializer.get_mut(), group.len() as u32)
                        .map_err(EncodeError::from)?;
                    for (_, id) in group {
                        IndexedPropertyMember::Vertex(*id).serialize(&mut serializer)?;
                    }
                }
                Ok(buf)
            })
            .collect::<Result<_, EncodeError>>()?;
        chunks.iter().for_each(|chunk| out.extend_from_slice(chunk));
    }
    Ok(out)
}

/// A property's (value, vertex) pairs sorted by value, then vertex.
///
/// The pairs are unique (a vertex has one value per property), so an unstable sort gives the one
/// order; in parallel, for it is half a million pairs per property on a large graph. What is
/// sorted holds each string's bytes and the vertex inline: a comparison reads the two strings and
/// nothing else (through references to the pairs it also read the pairs, each a cache miss once
/// the sort has shuffled them).
fn by_value<V: IndexedValue>(pairs: &[(V, Uuid)]) -> Vec<&(V, Uuid)> {
    let mut keys: Vec<(Option<&[u8]>, Uuid, u32)> =
        pairs.par_iter().enumerate().map(|(at, (value, id))| (value.text(), *id, at as u32)).collect();
    keys.par_sort_unstable_by(|a, b| {
        // As `IndexedValue::compare`, from the bytes at hand when both are strings.
        let by_value = match (a.0, b.0) {
            (Some(a), Some(b)) => a.cmp(b),
            _ => pairs[a.2 as usize].0.compare(&pairs[b.2 as usize].0).unwrap_or(Ordering::Equal),
        };
        by_value.then(a.1.cmp(&b.1))
    });
    keys.par_iter().map(|(_, _, at)| &pairs[*at as usize]).collect()
}

/// Where each value's run of sorted pairs starts.
fn value_starts<V: IndexedValue>(pairs: &[&(V, Uuid)]) -> Vec<usize> {
    let same = |a: &(V, Uuid), b: &(V, Uuid)| a.0.compare(&b.0) == Some(Ordering::Equal);
    (0..pairs.len()).into_par_iter().filter(|&at| at == 0 || !same(pairs[at - 1], pairs[at])).collect()
}

/// A property value the index is sorted by.
trait IndexedValue: Serialize + Sync {
    /// The string's UTF-8 bytes, when the value is a string (as every indexed value is): two
    /// strings compare as their bytes do.
    fn text(&self) -> Option<&[u8]>;

    /// IndraDB's order of property values (`Json`'s `PartialOrd`) where one is not a string.
    fn compare_json(&self, other: &Self) -> Option<Ordering>;

    /// IndraDB's order of property values: strings, which all indexed values are, by their bytes
    /// rather than through `serde_json::Value`'s dispatch.
    fn compare(&self, other: &Self) -> Option<Ordering> {
        match (self.text(), other.text()) {
            // `str`'s order is its bytes' order.
            (Some(a), Some(b)) => Some(a.cmp(b)),
            _ => self.compare_json(other),
        }
    }
}

impl IndexedValue for Json {
    fn text(&self) -> Option<&[u8]> {
        self.as_str().map(str::as_bytes)
    }

    fn compare_json(&self, other: &Json) -> Option<Ordering> {
        self.partial_cmp(other)
    }
}

/// A `Raw` value in the property index, with its text found once: the index is sorted by it.
#[derive(Clone, Copy)]
struct Indexed<'a> {
    raw: &'a Raw,
    /// The string's UTF-8 bytes, when the value is a string (as every indexed value is).
    text: Option<&'a [u8]>,
}

impl<'a> Indexed<'a> {
    fn new(raw: &'a Raw) -> Indexed<'a> {
        Indexed { raw, text: raw.str_bytes() }
    }
}

impl IndexedValue for Indexed<'_> {
    fn text(&self) -> Option<&[u8]> {
        self.text
    }

    fn compare_json(&self, other: &Indexed<'_>) -> Option<Ordering> {
        self.raw.to_json().compare(&other.raw.to_json())
    }
}

impl Serialize for Indexed<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

/// A map written from its entries, in their order.
struct Entries<'a, K, V>(&'a [(K, V)]);

impl<K: Serialize, V: Serialize> Serialize for Entries<'_, K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// A property value as a collected graph holds it: its msgpack encoding (the bytes `Json`'s
/// `Serialize` writes into the image), inline when it is short, as most are (lines, flags,
/// visibilities, short names: 160,290 of the 209,475 values of tokio's package's graph). A
/// `Json` costs a shared allocation per value and another for a string's text: about a hundred
/// bytes for a line number.
#[derive(Clone, Debug, PartialEq)]
pub enum Raw {
    Short { len: u8, bytes: [u8; Raw::INLINE] },
    Long(Box<[u8]>),
}

impl Raw {
    const INLINE: usize = 22;

    pub fn new(value: &serde_json::Value) -> Raw {
        thread_local! {
            static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BUFFER.with_borrow_mut(|buf| {
            buf.clear();
            // Encoding plain data into a `Vec` cannot fail.
            let _ = rmp_serde::encode::write(buf, value);
            Raw::from_bytes(buf)
        })
    }

    fn from_bytes(encoded: &[u8]) -> Raw {
        if encoded.len() <= Raw::INLINE {
            let mut bytes = [0; Raw::INLINE];
            bytes[..encoded.len()].copy_from_slice(encoded);
            Raw::Short { len: encoded.len() as u8, bytes }
        } else {
            Raw::Long(encoded.into())
        }
    }

    pub fn bytes(&self) -> &[u8] {
        match self {
            Raw::Short { len, bytes } => &bytes[..*len as usize],
            Raw::Long(bytes) => bytes,
        }
    }

    /// The text's bytes, when the value is a string.
    fn str_bytes(&self) -> Option<&[u8]> {
        let mut rest = self.bytes();
        let len = rmp::decode::read_str_len(&mut rest).ok()? as usize;
        rest.get(..len).filter(|text| text.len() == rest.len())
    }

    /// The value again (`Null` if the bytes are not an encoding, which `new` never makes).
    pub fn to_json(&self) -> Json {
        Json::new(rmp_serde::from_slice(self.bytes()).unwrap_or(serde_json::Value::Null))
    }
}

/// Writes the value as `Json` would: the index's keys (a string as itself, so that it is not
/// decoded first).
impl Serialize for Raw {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.str_bytes().and_then(|text| std::str::from_utf8(text).ok()) {
            Some(text) => serializer.serialize_str(text),
            None => self.to_json().serialize(serializer),
        }
    }
}

fn encode_error(err: indradb::Error) -> EncodeError {
    serde::ser::Error::custom(err)
}

fn custom<E: std::fmt::Display, T: serde::ser::Error>(err: E) -> T {
    T::custom(err)
}

/// A temp file beside the target, made before the work starts, that becomes the target on
/// `commit`. Dropped without `commit`, it is removed and the target is untouched.
pub struct Staging {
    file: NamedTempFile,
    target: Utf8PathBuf,
}

impl Staging {
    /// Creates the target's folder if needed and a temp file in it. The caller holds the graph's
    /// exclusive lock, so temp files of earlier runs that were killed before they could remove
    /// theirs are stale: they are removed here.
    pub fn new(target: &Utf8Path) -> Result<Staging, StoreError> {
        let write_error = |source| StoreError::Write { path: target.to_owned(), source };
        let dir = match target.parent() {
            Some(dir) if !dir.as_str().is_empty() => dir,
            _ => Utf8Path::new("."),
        };
        std::fs::create_dir_all(dir).map_err(write_error)?;
        let prefix = format!(".{}.", target.file_name().unwrap_or("graph"));
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with(&prefix) && name.ends_with(".tmp") {
                    // Best effort: a temp file that cannot be removed does no harm.
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        let file = crate::replacement_file().prefix(&prefix).suffix(".tmp").tempfile_in(dir).map_err(write_error)?;
        Ok(Staging { file, target: target.to_owned() })
    }

    /// Writes `db` into the temp file and atomically replaces the target with it. The encoding
    /// runs on the current rayon pool (the build's, when called inside `ThreadPool::install`).
    pub fn commit(self, db: &Database<MemoryDatastore>, indexed: &[&str]) -> Result<(), StoreError> {
        let txn = db.datastore.transaction();
        self.commit_with(indexed, |out, indexed| write_image(out, &txn, indexed))
    }

    /// `commit` for a new graph's items gathered without IndraDB.
    pub fn commit_collected(self, collected: Collected, indexed: &[&str]) -> Result<(), StoreError> {
        self.commit_with(indexed, |out, indexed| collected.write_image(out, indexed))
    }

    fn commit_with(
        self,
        indexed: &[&str],
        write: impl FnOnce(&mut DirectWriter<&File>, &[Identifier]) -> Result<(), EncodeError>,
    ) -> Result<(), StoreError> {
        let write_error = |source| StoreError::Write { path: self.target.clone(), source };
        let indexed: Vec<Identifier> = indexed.iter().map(|name| identifier(name)).collect::<Result<_, _>>()?;
        // Written once and fsynced, not read back by the build: past the page cache.
        let mut out = DirectWriter::new(self.file.as_file());
        write(&mut out, &indexed).map_err(|err| match err {
            EncodeError::InvalidValueWrite(rmp::encode::ValueWriteError::InvalidDataWrite(io))
            | EncodeError::InvalidValueWrite(rmp::encode::ValueWriteError::InvalidMarkerWrite(io)) => write_error(io),
            other => write_error(std::io::Error::other(other)),
        })?;
        out.finish().map_err(write_error)?;
        self.file.as_file().sync_all().map_err(write_error)?;
        self.file.persist(&self.target).map_err(|err| write_error(err.error))?;
        sync_dir(&self.target).map_err(write_error)
    }
}

/// Makes the rename durable. Folders cannot be opened for fsync on every platform; there, the
/// rename is as durable as the platform makes it.
fn sync_dir(target: &Utf8Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let dir = target.parent().filter(|d| !d.as_str().is_empty()).unwrap_or(Utf8Path::new("."));
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = target;
    Ok(())
}

/// Checks that `path` is one well-formed msgpack value of the image's shape (an array of six
/// fields) with nothing after it, and that no length inside claims more than the bytes left.
/// Streaming and iterative: any file, however damaged or foreign, is checked in constant memory,
/// so that IndraDB's decoder then never meets a length it would allocate blindly.
pub fn check_image(path: &Utf8Path) -> Result<(), String> {
    use rmp::Marker;

    let file = File::open(path).map_err(|err| err.to_string())?;
    let size = file.metadata().map_err(|err| err.to_string())?.len();
    let mut input = Input { reader: std::io::BufReader::with_capacity(1 << 16, file), pos: 0 };
    if Marker::from_u8(input.uint(1)? as u8) != Marker::FixArray(6) {
        return Err("it does not start like an IndraDB image".to_owned());
    }
    // Values still to read; each takes at least one byte, so a count above the bytes left is a lie.
    let mut pending: u64 = 6;
    while pending > 0 {
        pending -= 1;
        let (children, payload) = match Marker::from_u8(input.uint(1)? as u8) {
            Marker::FixPos(_) | Marker::FixNeg(_) | Marker::Null | Marker::True | Marker::False => (0, 0),
            Marker::U8 | Marker::I8 => (0, 1),
            Marker::U16 | Marker::I16 => (0, 2),
            Marker::U32 | Marker::I32 | Marker::F32 => (0, 4),
            Marker::U64 | Marker::I64 | Marker::F64 => (0, 8),
            Marker::FixStr(n) => (0, u64::from(n)),
            Marker::Str8 | Marker::Bin8 => (0, input.uint(1)?),
            Marker::Str16 | Marker::Bin16 => (0, input.uint(2)?),
            Marker::Str32 | Marker::Bin32 => (0, input.uint(4)?),
            Marker::FixExt1 => (0, 2),
            Marker::FixExt2 => (0, 3),
            Marker::FixExt4 => (0, 5),
            Marker::FixExt8 => (0, 9),
            Marker::FixExt16 => (0, 17),
            Marker::Ext8 => (0, input.uint(1)? + 1),
            Marker::Ext16 => (0, input.uint(2)? + 1),
            Marker::Ext32 => (0, input.uint(4)? + 1),
            Marker::FixArray(n) => (u64::from(n), 0),
            Marker::Array16 => (input.uint(2)?, 0),
            Marker::Array32 => (input.uint(4)?, 0),
            Marker::FixMap(n) => (2 * u64::from(n), 0),
            Marker::Map16 => (2 * input.uint(2)?, 0),
            Marker::Map32 => (2 * input.uint(4)?, 0),
            Marker::Reserved => return Err(format!("an invalid byte at offset {}", input.pos - 1)),
        };
        let left = size.saturating_sub(input.pos);
        if payload > left || children + pending > left {
            return Err(format!("a length at offset {} claims more than the file holds", input.pos));
        }
        pending += children;
        input.skip(payload)?;
    }
    if input.pos != size {
        return Err(format!("{} unexpected bytes after the graph", size - input.pos));
    }
    Ok(())
}

/// A file read front to back, with its position.
struct Input {
    reader: std::io::BufReader<File>,
    pos: u64,
}

impl Input {
    /// A big-endian unsigned integer of `n` bytes (at most 8).
    fn uint(&mut self, n: usize) -> Result<u64, String> {
        use std::io::Read;
        let mut buf = [0u8; 8];
        self.reader.read_exact(&mut buf[..n]).map_err(|_| "the file ends too early".to_owned())?;
        self.pos += n as u64;
        Ok(buf[..n].iter().fold(0, |acc, byte| (acc << 8) | u64::from(*byte)))
    }

    fn skip(&mut self, n: u64) -> Result<(), String> {
        use std::io::Read;
        let skipped =
            std::io::copy(&mut (&mut self.reader).take(n), &mut std::io::sink()).map_err(|err| err.to_string())?;
        self.pos += skipped;
        if skipped < n { Err("the file ends too early".to_owned()) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The property index as serde writes IndraDB's maps: the format `property_values` encodes
    /// in parallel chunks.
    struct PropertyValues<'a, V>(&'a PropertyIndex<V>);

    impl<V: IndexedValue> Serialize for PropertyValues<'_, V> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(Some(self.0.len()))?;
            for (name, pairs) in self.0 {
                map.serialize_entry(name, &ByValue(&by_value(pairs)))?;
            }
            map.end()
        }
    }

    /// Sorted (value, vertex) pairs, written as a map from each value to its vertices.
    struct ByValue<'a, V>(&'a [&'a (V, Uuid)]);

    impl<V: IndexedValue> Serialize for ByValue<'_, V> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let groups = self.0.chunk_by(|a, b| a.0.compare(&b.0) == Some(Ordering::Equal));
            let mut map = serializer.serialize_map(Some(groups.clone().count()))?;
            for group in groups {
                let members: Vec<IndexedPropertyMember> =
                    group.iter().map(|(_, id)| IndexedPropertyMember::Vertex(*id)).collect();
                map.serialize_entry(&group[0].0, &members)?;
            }
            map.end()
        }
    }

    /// Values shared by several vertices, values alone, more of them than a chunk holds (`CHUNK`
    /// is 16 in tests), and a value that is no string: the bytes serde writes.
    #[test]
    fn property_values_are_the_maps_serde_writes() {
        let id = |n: u128| Uuid::from_u128(n);
        let name = |text: &str| identifier(text).unwrap();
        let json = |at: u128| match at % 7 {
            0 => serde_json::json!(at % 3),
            _ => serde_json::json!(format!("value {}", at % 23)),
        };
        let index: PropertyIndex<Json> = vec![
            (name("name"), (0..100).rev().map(|at| (Json::new(json(at)), id(at))).collect()),
            (name("path"), Vec::new()),
            (name("file"), vec![(Json::new(serde_json::json!("one")), id(5))]),
        ];
        assert_eq!(property_values(&index).unwrap(), rmp_serde::to_vec(&PropertyValues(&index)).unwrap());
        let raws: Vec<Vec<(Raw, Uuid)>> =
            index.iter().map(|(_, pairs)| pairs.iter().map(|(value, id)| (Raw::new(value), *id)).collect()).collect();
        let indexed: PropertyIndex<Indexed<'_>> = (index.iter().zip(&raws))
            .map(|((name, _), pairs)| (*name, pairs.iter().map(|(raw, id)| (Indexed::new(raw), *id)).collect()))
            .collect();
        assert_eq!(property_values(&indexed).unwrap(), property_values(&index).unwrap());
    }

    /// The sizes the save allocates its buffers at are what it writes.
    #[test]
    fn the_sizes_of_names_ids_and_edges_are_what_is_written() {
        for len in [1, 31, 32, 200, 255] {
            let name = identifier(&"a".repeat(len)).unwrap();
            let mut out = Vec::new();
            put_name(&mut out, &name).unwrap();
            assert_eq!(out.len(), name_size(&name), "a name of {len} bytes");
            let edge = Edge::new(Uuid::from_u128(1), name, Uuid::from_u128(u128::MAX));
            for reversed in [false, true] {
                let mut out = Vec::new();
                put_edge(&mut out, &edge, reversed).unwrap();
                assert_eq!(out.len(), edge_size(&edge), "an edge named with {len} bytes");
            }
        }
        let mut out = Vec::new();
        put_id(&mut out, &Uuid::from_u128(7)).unwrap();
        assert_eq!(out.len(), ID_SIZE);
    }

    /// The order `property_order` gives is a stable sort by owner and name that keeps the last
    /// insert of a property, whichever way it gets there: runs already in order, a run out of
    /// order, a property named twice in a run, an owner in two runs.
    #[test]
    fn property_order_is_a_stable_sort_keeping_the_last_insert() {
        let name = |text: &str| identifier(text).unwrap();
        let cases: [&[(u8, &str)]; 4] = [
            &[(3, "a"), (3, "b"), (1, "a"), (1, "c"), (2, "b")],
            &[(3, "b"), (3, "a"), (1, "c"), (1, "a"), (2, "b")],
            &[(3, "a"), (3, "b"), (3, "a"), (1, "c")],
            &[(3, "a"), (1, "a"), (3, "b"), (3, "a")],
        ];
        for (case, props) in cases.iter().enumerate() {
            // Each property's value is its place among the inserts.
            let props: Vec<((u8, Identifier), usize)> =
                props.iter().enumerate().map(|(at, (owner, text))| ((*owner, name(text)), at)).collect();
            let mut expected = props.clone();
            expected.sort_by_key(|a| a.0);
            keep_last(&mut expected);
            // As one flush, and as flushes of two.
            for flush in [props.len(), 2] {
                let mut flushed = Flushed::default();
                props.chunks(flush).for_each(|chunk| flushed.push_flush(chunk.to_vec()));
                let order = property_order(&mut flushed);
                let got: Vec<_> = order.iter().flat_map(|run| flushed.run(run).iter().cloned()).collect();
                assert_eq!(got, expected, "case {case}, flushes of {flush}");
                let one_owner = |run: &[((u8, Identifier), usize)]| run.iter().all(|prop| prop.0.0 == run[0].0.0);
                assert!(order.iter().all(|run| one_owner(flushed.run(run))), "case {case}, flushes of {flush}");
            }
        }
    }
}
