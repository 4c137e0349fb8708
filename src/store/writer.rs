//! The writer thread: batches in from a bounded channel, IndraDB `bulk_insert` out.
//!
//! Workers send one `Batch` per file; the writer gathers them and flushes when 10,000 items are
//! pending or 100 ms have passed since the first of them, whichever comes first. Vertices are
//! always written before the edges that need them: an edge waits until both its ends are in the
//! store (IndraDB's memory datastore would silently drop it, and RocksDB would store it
//! dangling). Whatever still waits when the channel closes is reported, never written. The same
//! checks run before anything reaches IndraDB, whatever the datastore, so that every backend is
//! given the same items: a vertex id is written once (the memory datastore keeps the first, RocksDB
//! would overwrite it with the second), and a property only with its vertex or edge.

use std::collections::BTreeMap;
use std::collections::hash_map::Entry;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indradb::{BulkInsertItem, Database, Datastore, Edge, Identifier, Json};
use rustc_hash::FxHashMap;
use uuid::Uuid;

use super::msgpack::{Collected, Raw};
use super::{StoreError, WriteDb, identifier};
use crate::model::{self, Batch, VertexKind};

#[derive(Clone, Copy, Debug)]
pub struct WriterConfig {
    /// Flush once this many vertices and edges are pending.
    pub flush_items: usize,
    /// Flush once the oldest pending item has waited this long.
    pub flush_interval: Duration,
    /// Batches the channel holds before workers wait for the writer.
    pub channel_capacity: usize,
}

impl Default for WriterConfig {
    fn default() -> WriterConfig {
        WriterConfig { flush_items: 10_000, flush_interval: Duration::from_millis(100), channel_capacity: 1024 }
    }
}

/// What the writer wrote, and what it refused.
#[derive(Debug, Default)]
pub struct WriteStats {
    pub vertices: BTreeMap<&'static str, usize>,
    pub edges: BTreeMap<&'static str, usize>,
    pub flushes: usize,
    /// Vertices whose id was already taken by another vertex (a bug in key construction: ids
    /// must be unique). The first vertex is kept.
    pub duplicate_ids: Vec<(Uuid, &'static str, String)>,
    /// Edges with an end that never arrived.
    pub dangling_edges: Vec<(Uuid, &'static str, Uuid)>,
}

pub struct Writer {
    sender: SyncSender<Batch>,
    handle: JoinHandle<Result<(WriteDb, WriteStats), StoreError>>,
}

impl Writer {
    /// Starts the writer thread on `db` (from `Staging::create`).
    pub fn spawn(db: WriteDb, config: WriterConfig) -> Result<Writer, StoreError> {
        let (sender, receiver) = sync_channel(config.channel_capacity);
        let handle = std::thread::Builder::new()
            .name("codegraph-writer".to_owned())
            .spawn(move || match db {
                WriteDb::Memory(db) => run(db, receiver, config).map(|(db, stats)| (WriteDb::Memory(db), stats)),
                WriteDb::Collected(items) => {
                    run(items, receiver, config).map(|(items, stats)| (WriteDb::Collected(items), stats))
                }
                #[cfg(feature = "rocksdb")]
                WriteDb::Rocksdb(db) => run(db, receiver, config).map(|(db, stats)| (WriteDb::Rocksdb(db), stats)),
                #[cfg(feature = "rocksdb")]
                WriteDb::RocksTables(tables) => run(*tables, receiver, config)
                    .map(|(tables, stats)| (WriteDb::RocksTables(Box::new(tables)), stats)),
                #[cfg(feature = "server")]
                WriteDb::Remote(db) => run(db, receiver, config).map(|(db, stats)| (WriteDb::Remote(db), stats)),
                // `Staging::create` never makes one: a delta records diffs, not batches.
                WriteDb::Delta(_) => Err(StoreError::WriterGone),
            })
            .map_err(|source| StoreError::Write { path: "writer thread".into(), source })?;
        Ok(Writer { sender, handle })
    }

    /// Where workers send their batches. A send fails only when the writer has stopped on an
    /// error, which `finish` then returns.
    pub fn sender(&self) -> SyncSender<Batch> {
        self.sender.clone()
    }

    /// Waits for everything sent to be written and returns the database.
    pub fn finish(self) -> Result<(WriteDb, WriteStats), StoreError> {
        drop(self.sender);
        self.handle.join().map_err(|_| StoreError::WriterGone)?
    }
}

/// The identifiers of the few fixed names (kinds and property names), looked up by a short linear
/// scan: cheaper than hashing the name for every property, as `Identifier::new` does to intern it.
#[derive(Default)]
pub(super) struct Names(Vec<(&'static str, Identifier)>);

impl Names {
    /// A name is nearly always the very `&'static str` it was first seen as: every listed address
    /// is compared before any text (comparing, name by name, the address and then the text of
    /// each listed before the one looked up cost a tenth of the writer's time). A name met at a
    /// new address is listed again at that one.
    pub(super) fn get(&mut self, name: &'static str) -> Result<Identifier, StoreError> {
        if let Some((_, identifier)) = self.0.iter().find(|(known, _)| std::ptr::eq(*known, name)) {
            return Ok(*identifier);
        }
        let identifier = match self.0.iter().find(|(known, _)| *known == name) {
            Some((_, identifier)) => *identifier,
            None => identifier(name)?,
        };
        self.0.push((name, identifier));
        Ok(identifier)
    }
}

/// Where the writer puts what passed its checks: an IndraDB datastore, or a new msgpack graph's
/// `Collected` items.
trait Sink {
    /// How the sink holds a property value.
    type Value;

    /// A property value as the sink holds it.
    fn value(value: serde_json::Value) -> Self::Value;

    fn insert(&mut self, items: Vec<BulkInsertItem>) -> Result<(), StoreError>;

    /// `insert` of a flush's items, which come sorted by what they are.
    fn insert_collected(&mut self, items: Collected<Self::Value>) -> Result<(), StoreError>;
}

impl<D: Datastore> Sink for Database<D> {
    type Value = Json;

    fn value(value: serde_json::Value) -> Json {
        Json::new(value)
    }

    fn insert(&mut self, items: Vec<BulkInsertItem>) -> Result<(), StoreError> {
        Ok(self.bulk_insert(items)?)
    }

    fn insert_collected(&mut self, items: Collected<Json>) -> Result<(), StoreError> {
        self.insert(items.into_bulk())
    }
}

impl Sink for Collected {
    type Value = Raw;

    fn value(value: serde_json::Value) -> Raw {
        Raw::new(&value)
    }

    fn insert(&mut self, items: Vec<BulkInsertItem>) -> Result<(), StoreError> {
        Collected::insert(self, items);
        Ok(())
    }

    fn insert_collected(&mut self, items: Collected) -> Result<(), StoreError> {
        self.append(items);
        Ok(())
    }
}

#[cfg(feature = "rocksdb")]
impl Sink for super::rocks_tables::Tables {
    type Value = serde_json::Value;

    fn value(value: serde_json::Value) -> serde_json::Value {
        value
    }

    fn insert(&mut self, items: Vec<BulkInsertItem>) -> Result<(), StoreError> {
        for item in items {
            match item {
                BulkInsertItem::Vertex(vertex) => self.vertex(vertex.id, &vertex.t),
                BulkInsertItem::Edge(edge) => self.edge(&edge),
                BulkInsertItem::VertexProperty(id, name, value) => self.vertex_property(id, &name, (*value).clone()),
                BulkInsertItem::EdgeProperty(edge, name, value) => self.edge_property(&edge, &name, (*value).clone()),
            }
        }
        Ok(())
    }

    fn insert_collected(&mut self, items: Collected<serde_json::Value>) -> Result<(), StoreError> {
        // In `Collected::into_bulk`'s order, which is the order IndraDB would be given them in.
        for (id, kind) in &items.vertices {
            self.vertex(*id, kind);
        }
        for ((id, name), value) in items.vertex_props {
            self.vertex_property(id, &name, value);
        }
        for edge in &items.edges {
            self.edge(edge);
        }
        for ((edge, name), value) in items.edge_props {
            self.edge_property(&edge, &name, value);
        }
        Ok(())
    }
}

struct State<D: Sink> {
    db: D,
    names: Names,
    /// Every vertex written, with its kind.
    written: FxHashMap<Uuid, VertexKind>,
    pending_vertices: Vec<model::Vertex>,
    pending_edges: Vec<model::Edge>,
    /// Edges received whose ends were not both written yet. Kept apart from `pending_edges`, so
    /// that neither the flush threshold nor each flush's work grows with them: they are looked
    /// at again only when a flush wrote new vertices.
    waiting_edges: Vec<model::Edge>,
    stats: WriteStats,
    /// What `stats` counts by kind, counted here by the kinds' order (`VertexKind::ALL`,
    /// `EdgeKind::ALL`): a map entry per item cost the writer more than the count is worth.
    vertex_counts: Vec<usize>,
    edge_counts: Vec<usize>,
}

fn run<D: Sink>(mut db: D, receiver: Receiver<Batch>, config: WriterConfig) -> Result<(D, WriteStats), StoreError> {
    db.insert(super::meta_items()?)?;
    let mut state = State {
        db,
        names: Names::default(),
        written: FxHashMap::default(),
        pending_vertices: Vec::new(),
        pending_edges: Vec::new(),
        waiting_edges: Vec::new(),
        stats: WriteStats::default(),
        vertex_counts: vec![0; VertexKind::ALL.len()],
        edge_counts: vec![0; model::EdgeKind::ALL.len()],
    };
    let mut deadline: Option<Instant> = None;
    loop {
        let received = match deadline {
            Some(deadline) => receiver.recv_timeout(deadline.saturating_duration_since(Instant::now())),
            None => receiver.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(mut batch) => {
                state.pending_vertices.append(&mut batch.vertices);
                state.pending_edges.append(&mut batch.edges);
                deadline.get_or_insert_with(|| Instant::now() + config.flush_interval);
                if state.pending_vertices.len() + state.pending_edges.len() >= config.flush_items {
                    state.flush()?;
                    deadline = None;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                state.flush()?;
                deadline = None;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    state.flush()?;
    for edge in std::mem::take(&mut state.waiting_edges) {
        state.stats.dangling_edges.push((edge.from, edge.kind.as_str(), edge.to));
    }
    for (kind, count) in VertexKind::ALL.iter().zip(&state.vertex_counts) {
        if *count > 0 {
            state.stats.vertices.insert(kind.as_str(), *count);
        }
    }
    for (kind, count) in model::EdgeKind::ALL.iter().zip(&state.edge_counts) {
        if *count > 0 {
            state.stats.edges.insert(kind.as_str(), *count);
        }
    }
    state.stats.dangling_edges.sort();
    state.stats.duplicate_ids.sort();
    Ok((state.db, state.stats))
}

impl<D: Sink> State<D> {
    fn flush(&mut self) -> Result<(), StoreError> {
        let pending_vertices = std::mem::take(&mut self.pending_vertices);
        let new_vertices = !pending_vertices.is_empty();
        let mut items = Collected::<D::Value>::default();
        items.vertices.reserve(pending_vertices.len());
        let mut vertex_props = Vec::with_capacity(pending_vertices.iter().map(|vertex| vertex.props.len()).sum());
        for vertex in pending_vertices {
            match self.written.entry(vertex.id) {
                Entry::Occupied(first) => {
                    // A file included by two crates, or an extern two crates point to, is one
                    // vertex, identical by construction.
                    if !(*first.get() == vertex.kind && vertex.kind.is_shared()) {
                        let path = vertex.props.get("path").and_then(|p| p.as_str()).unwrap_or_default().to_owned();
                        self.stats.duplicate_ids.push((vertex.id, vertex.kind.as_str(), path));
                    }
                    continue;
                }
                Entry::Vacant(slot) => {
                    slot.insert(vertex.kind);
                }
            }
            self.vertex_counts[vertex.kind as usize] += 1;
            items.vertices.push((vertex.id, self.names.get(vertex.kind.as_str())?));
            for (name, value) in vertex.props {
                vertex_props.push(((vertex.id, self.names.get(name)?), D::value(value)));
            }
        }
        items.vertex_props.push_flush(vertex_props);
        let mut candidates = std::mem::take(&mut self.pending_edges);
        if new_vertices {
            candidates.append(&mut self.waiting_edges);
        }
        items.edges.reserve(candidates.len());
        let mut edge_props = Vec::new();
        let mut waiting = Vec::new();
        for edge in candidates {
            if !(self.written.contains_key(&edge.from) && self.written.contains_key(&edge.to)) {
                waiting.push(edge);
                continue;
            }
            self.edge_counts[edge.kind as usize] += 1;
            let stored = Edge::new(edge.from, self.names.get(edge.kind.as_str())?, edge.to);
            for (name, value) in edge.props {
                edge_props.push(((stored.clone(), self.names.get(name)?), D::value(value)));
            }
            items.edges.push(stored);
        }
        items.edge_props.push_flush(edge_props);
        self.waiting_edges.append(&mut waiting);
        if !items.is_empty() {
            self.db.insert_collected(items)?;
            self.stats.flushes += 1;
        }
        Ok(())
    }
}
