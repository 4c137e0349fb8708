//! Incremental updates: a `model::Diff` applied to a copy of the live graph.
//!
//! `Staging::update` (in `mod.rs`) hands out that copy; `apply` changes it; `Staging::commit`
//! makes it live, atomically, as after a full build. The diff is checked against the graph before
//! IndraDB sees any of it, for the reason the writer checks its batches: IndraDB's datastores
//! differ exactly where a bad item would slip through (a memory datastore drops an edge with a
//! missing end, RocksDB stores it dangling; a memory datastore keeps the kind of a vertex written
//! twice, RocksDB takes the second). A diff that fails the check changes nothing.
//!
//! Two IndraDB 5.0.0 behaviours shape the order of the work:
//!
//! - RocksDB's `delete_vertices` removes a vertex's inbound edges under the wrong keys (it deletes
//!   the reversed edge as if it were a forward one), so they would survive, dangling, with their
//!   properties. So every edge of a removed vertex, both ways, is looked up here and deleted by
//!   `delete_edges` first; `delete_vertices` then finds none.
//! - Overwriting an indexed property (`name`, `path`) must move its index entry. Both datastores
//!   do it when the property is set in a separate write from the one that set the old value:
//!   RocksDB's `set` deletes the index key of the value it reads from the database (not from the
//!   write batch it is filling, so a second value for the same property in one batch would leave
//!   the first one's key behind: duplicates are refused), and the memory datastore's
//!   `set_vertex_properties` deletes the old property with its index entry first. The memory
//!   datastore's index is not what gets saved anyway: the msgpack save rebuilds it from the
//!   properties (and IndraDB removes the entry inside a `debug_assert!`, so a release build never
//!   does).
//!
//! This module knows IndraDB's datastore API and `model`; it knows nothing of files or backends.

use std::collections::{BTreeSet, HashMap, HashSet};

use indradb::{BulkInsertItem, Database, Datastore, Edge, Identifier, Json, Transaction, Vertex};
use uuid::Uuid;

use super::writer::Names;
use super::{INDEXED_PROPERTIES, StoreError, WriteDb};
use crate::model::{Diff, EdgeKind};

/// What `apply` changed: vertices and edges that were not in the graph and are now, and ones that
/// were and are no more (an edge that goes with a removed vertex counts as removed).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ApplyStats {
    pub vertices_added: usize,
    pub vertices_removed: usize,
    pub edges_added: usize,
    pub edges_removed: usize,
}

/// Applies `diff` to `db` (from `Staging::update`) in the order `model::Diff` gives: removed edges,
/// removed vertices with every edge they have, removed vertex properties, removed edge
/// properties, then `written` (vertices, their properties, edges, their properties). A vertex of
/// `written` that is in the graph keeps its edges and its other properties; one of its properties
/// written again replaces the old value, in the property index too.
///
/// Fails with `StoreError::InvalidDiff`, having changed nothing, when the diff does not fit the
/// graph: a vertex written twice, or with another kind than the graph's; an edge written twice,
/// or with an end in neither the graph nor `written`; an edge property named like an indexed
/// property (the msgpack save indexes vertices only, so IndraDB's memory datastore could not
/// update such a property in a graph it loaded).
pub fn apply(db: &WriteDb, diff: Diff) -> Result<ApplyStats, StoreError> {
    // Reads and writes take separate transactions: IndraDB's reads borrow a transaction for its
    // whole life, and the memory datastore's transaction holds its one mutex, so the read one
    // must be gone (at the end of its statement) before `execute` takes the other. It is a
    // temporary of a concrete type: borrowed like this, a generic one would not pass the drop
    // check.
    match db {
        WriteDb::Memory(db) => {
            let plan = plan(&db.datastore.transaction(), diff)?;
            execute(db, plan)
        }
        #[cfg(feature = "rocksdb")]
        WriteDb::Rocksdb(db) => {
            let plan = plan(&db.datastore.transaction(), diff)?;
            execute(db, plan)
        }
        #[cfg(feature = "server")]
        WriteDb::Remote(db) => {
            let plan = plan(&db.datastore.transaction(), diff)?;
            execute(db, plan)
        }
        // Only a new graph's writer makes one; an update never does.
        WriteDb::Collected(_) => Err(StoreError::WriterGone),
        #[cfg(feature = "rocksdb")]
        WriteDb::RocksTables(_) => Err(StoreError::WriterGone),
        // Recorded, to be applied by readers (see `delta`), which check it then.
        WriteDb::Delta(diffs) => {
            diffs.lock().unwrap_or_else(|poison| poison.into_inner()).push(diff);
            Ok(ApplyStats::default())
        }
    }
}

/// The IndraDB operations a diff comes to, worked out from a read of the graph.
#[derive(Default)]
struct Plan {
    edges: Vec<Edge>,
    vertices: Vec<Vertex>,
    vertex_props: Vec<(Uuid, Identifier)>,
    edge_props: Vec<(Edge, Identifier)>,
    items: Vec<BulkInsertItem>,
    stats: ApplyStats,
}

fn execute<D: Datastore>(db: &Database<D>, plan: Plan) -> Result<ApplyStats, StoreError> {
    let mut txn = db.datastore.transaction();
    if !plan.edges.is_empty() {
        txn.delete_edges(plan.edges)?;
    }
    if !plan.vertices.is_empty() {
        txn.delete_vertices(plan.vertices)?;
    }
    if !plan.vertex_props.is_empty() {
        txn.delete_vertex_properties(plan.vertex_props)?;
    }
    if !plan.edge_props.is_empty() {
        txn.delete_edge_properties(plan.edge_props)?;
    }
    if !plan.items.is_empty() {
        txn.bulk_insert(plan.items)?;
    }
    Ok(plan.stats)
}

fn invalid(reason: String) -> StoreError {
    StoreError::InvalidDiff { reason }
}

fn edge_text(from: Uuid, kind: EdgeKind, to: Uuid) -> String {
    format!("{from} -{kind}-> {to}")
}

fn plan<'a>(txn: &'a impl Transaction<'a>, diff: Diff) -> Result<Plan, StoreError> {
    let mut names = Names::default();
    let mut plan = Plan::default();

    // Removals. Edges are gathered in a set: one edge may be listed and also go with a vertex.
    let mut gone_edges = BTreeSet::new();
    let mut listed = Vec::with_capacity(diff.removed_edges.len());
    for (from, kind, to) in diff.removed_edges {
        listed.push(Edge::new(from, names.get(kind.as_str())?, to));
    }
    for edge in txn.specific_edges(listed)? {
        gone_edges.insert(edge?);
    }
    let mut removed = Vec::with_capacity(diff.removed_vertices.len());
    for (id, kind) in diff.removed_vertices {
        removed.push(Vertex::with_id(id, names.get(kind.as_str())?));
    }
    let removed_ids: Vec<Uuid> = removed.iter().map(|vertex| vertex.id).collect();
    let mut gone_vertices = HashSet::new();
    for vertex in txn.specific_vertices(removed_ids)? {
        let id = vertex?.id;
        if !gone_vertices.insert(id) {
            continue;
        }
        // The smallest edge key that starts at `id`, as IndraDB's own queries start their scans.
        let first = Edge::new(id, Identifier::default(), Uuid::nil());
        for edge in txn.range_edges(first.clone())? {
            let edge = edge?;
            if edge.outbound_id != id {
                break;
            }
            gone_edges.insert(edge);
        }
        for edge in txn.range_reversed_edges(first)? {
            let edge = edge?;
            if edge.outbound_id != id {
                break;
            }
            gone_edges.insert(edge.reversed());
        }
    }
    plan.stats.vertices_removed = gone_vertices.len();
    plan.stats.edges_removed = gone_edges.len();
    plan.vertices = removed.into_iter().filter(|vertex| gone_vertices.contains(&vertex.id)).collect();
    for (id, name) in diff.removed_vertex_props {
        plan.vertex_props.push((id, names.get(name)?));
    }
    for (from, kind, to, name) in diff.removed_edge_props {
        plan.edge_props.push((Edge::new(from, names.get(kind.as_str())?, to), names.get(name)?));
    }

    // What the graph holds once the removals are done, for the vertices and edges `written` names.
    let Diff { written, .. } = diff;
    let mut wanted: Vec<Uuid> = written.vertices.iter().map(|vertex| vertex.id).collect();
    wanted.extend(written.edges.iter().flat_map(|edge| [edge.from, edge.to]));
    wanted.sort_unstable();
    wanted.dedup();
    let mut kept: HashMap<Uuid, Identifier> = HashMap::new();
    for vertex in txn.specific_vertices(wanted)? {
        let vertex = vertex?;
        if !gone_vertices.contains(&vertex.id) {
            kept.insert(vertex.id, vertex.t);
        }
    }

    // Vertices, then their properties, then edges, then theirs: the writer's order.
    let mut vertices = Vec::new();
    let mut vertex_props = Vec::new();
    let mut written_ids = HashSet::new();
    for vertex in written.vertices {
        if !written_ids.insert(vertex.id) {
            return Err(invalid(format!("vertex {} is written twice", vertex.id)));
        }
        let kind = names.get(vertex.kind.as_str())?;
        match kept.get(&vertex.id) {
            // In the graph already: written again, it would lose its kind in the memory datastore
            // (which keeps the first) and be rewritten for nothing in RocksDB.
            Some(stored) if *stored == kind => {}
            Some(stored) => {
                return Err(invalid(format!(
                    "vertex {} is a {} in the graph and a {} in the update",
                    vertex.id,
                    stored.as_str(),
                    vertex.kind
                )));
            }
            None => {
                plan.stats.vertices_added += 1;
                vertices.push(BulkInsertItem::Vertex(Vertex::with_id(vertex.id, kind)));
            }
        }
        for (name, value) in vertex.props {
            vertex_props.push(BulkInsertItem::VertexProperty(vertex.id, names.get(name)?, Json::new(value)));
        }
    }
    let mut edges = Vec::new();
    let mut edge_props = Vec::new();
    let mut written_edges = HashSet::new();
    let mut stored_edges = Vec::with_capacity(written.edges.len());
    for edge in &written.edges {
        stored_edges.push(Edge::new(edge.from, names.get(edge.kind.as_str())?, edge.to));
    }
    let mut existing = HashSet::new();
    for edge in txn.specific_edges(stored_edges.clone())? {
        let edge = edge?;
        if !gone_edges.contains(&edge) {
            existing.insert(edge);
        }
    }
    for (edge, stored) in written.edges.into_iter().zip(stored_edges) {
        let text = || edge_text(edge.from, edge.kind, edge.to);
        if !written_edges.insert(stored.clone()) {
            return Err(invalid(format!("edge {} is written twice", text())));
        }
        for end in [edge.from, edge.to] {
            if !(written_ids.contains(&end) || kept.contains_key(&end)) {
                return Err(invalid(format!("edge {} has an end, {end}, in neither the graph nor the update", text())));
            }
        }
        for (name, value) in edge.props {
            if INDEXED_PROPERTIES.contains(&name) {
                return Err(invalid(format!(
                    "edge {} has a property named `{name}`, which only vertices may have",
                    text()
                )));
            }
            edge_props.push(BulkInsertItem::EdgeProperty(stored.clone(), names.get(name)?, Json::new(value)));
        }
        if !existing.contains(&stored) {
            plan.stats.edges_added += 1;
            edges.push(BulkInsertItem::Edge(stored));
        }
    }
    plan.edges = gone_edges.into_iter().collect();
    plan.items = vertices;
    plan.items.append(&mut vertex_props);
    plan.items.append(&mut edges);
    plan.items.append(&mut edge_props);
    Ok(plan)
}
