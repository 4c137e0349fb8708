//! The store: the only part of cargo-codegraph that knows IndraDB.
//!
//! Vertices and edges are written by a writer thread (`writer`) into an in-memory IndraDB
//! `MemoryDatastore`, then saved atomically as IndraDB's msgpack image (`msgpack`). Readers
//! (`stats`, `export`) open that image with IndraDB's own reader and get plain data back
//! (`StoredGraph`), so nothing outside this module names an IndraDB type. Every graph carries a
//! version record (`meta_id`), checked on open; `lock` keeps builds and readers apart.

pub mod lock;
mod msgpack;
mod writer;

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use indradb::{Database, Datastore, Identifier, MemoryDatastore, Transaction};
use serde_json::Value;
use uuid::Uuid;

pub use lock::{DbLock, LockMode};
pub use msgpack::Staging;
pub use writer::{WriteStats, Writer, WriterConfig};

/// Properties that readers look vertices up by: indexed in IndraDB so that a look-up by value does
/// not scan the graph.
pub const INDEXED_PROPERTIES: &[&str] = &["name", "path"];

/// The IndraDB version whose msgpack image `msgpack` writes (indradb-lib is pinned to it).
pub const INDRADB_VERSION: &str = "5.0.0";

/// The kind of the one vertex that records which schema, tool and IndraDB wrote a graph. It is
/// no part of the code graph: `read_graph` checks it and leaves it out.
const META_KIND: &str = "codegraph_meta";

/// The id of the version record.
fn meta_id() -> Uuid {
    Uuid::new_v5(&crate::ids::NAMESPACE, META_KIND.as_bytes())
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no graph at `{path}`: run `cargo codegraph build` first")]
    Missing { path: Utf8PathBuf },
    #[error("`{path}` is not a readable cargo-codegraph graph ({reason}); rebuild it with `cargo codegraph build`")]
    Unreadable { path: Utf8PathBuf, reason: String },
    #[error(
        "`{path}` holds a graph of schema {found} (written by cargo-codegraph {tool}), and this cargo-codegraph \
         reads schema {expected}; rebuild it with `cargo codegraph build`"
    )]
    Schema { path: Utf8PathBuf, found: String, tool: String, expected: u32 },
    #[error("the graph `{path}` is in use by another cargo-codegraph run (and `--no-wait` was given)")]
    Locked { path: Utf8PathBuf },
    #[error("cannot write the graph to `{path}`: {source}")]
    Write {
        path: Utf8PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("IndraDB failed: {0}")]
    Indradb(#[from] indradb::Error),
    #[error("`{name}` cannot be stored as an IndraDB identifier (letters, digits, `-` and `_` only)")]
    InvalidName { name: String },
    #[error("the writer thread stopped unexpectedly")]
    WriterGone,
}

/// A vertex as read back from a stored graph.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVertex {
    pub id: Uuid,
    pub kind: String,
    pub props: BTreeMap<String, Value>,
}

/// An edge as read back from a stored graph.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEdge {
    pub from: Uuid,
    pub kind: String,
    pub to: Uuid,
    pub props: BTreeMap<String, Value>,
}

/// A whole stored graph: vertices ordered by id, edges by (from, kind, to).
#[derive(Debug, Default)]
pub struct StoredGraph {
    pub vertices: Vec<StoredVertex>,
    pub edges: Vec<StoredEdge>,
}

/// Reads the graph stored at `path`.
pub fn read_graph(path: &Utf8Path) -> Result<StoredGraph, StoreError> {
    let db = open(path)?;
    let txn = db.datastore.transaction();
    let mut graph = StoredGraph::default();
    for vertex in txn.all_vertices()? {
        let vertex = vertex?;
        if vertex.t.as_str() == META_KIND {
            continue;
        }
        let props = stored_props(txn.all_vertex_properties_for_vertex(&vertex)?)?;
        graph.vertices.push(StoredVertex { id: vertex.id, kind: vertex.t.as_str().to_owned(), props });
    }
    for edge in txn.all_edges()? {
        let edge = edge?;
        let props = stored_props(txn.all_edge_properties_for_edge(&edge)?)?;
        graph.edges.push(StoredEdge {
            from: edge.outbound_id,
            kind: edge.t.as_str().to_owned(),
            to: edge.inbound_id,
            props,
        });
    }
    graph.vertices.sort_by_key(|v| v.id);
    graph.edges.sort_by(|a, b| (a.from, &a.kind, a.to).cmp(&(b.from, &b.kind, b.to)));
    Ok(graph)
}

/// The vertices whose `path` is `wanted`, found through the property index (IndraDB's memory
/// datastore answers a look-up by value only from an index, never by scanning).
pub fn find_by_path(path: &Utf8Path, wanted: &str) -> Result<Vec<StoredVertex>, StoreError> {
    let db = open(path)?;
    let txn = db.datastore.transaction();
    let Some(ids) = txn.vertex_ids_with_property_value(identifier("path")?, &indradb::Json::new(wanted.into()))? else {
        return Err(StoreError::Unreadable { path: path.to_owned(), reason: "it has no index on `path`".to_owned() });
    };
    let ids: Vec<Uuid> = ids.collect::<Result<_, _>>()?;
    let mut found = Vec::new();
    for vertex in txn.specific_vertices(ids)? {
        let vertex = vertex?;
        let props = stored_props(txn.all_vertex_properties_for_vertex(&vertex)?)?;
        found.push(StoredVertex { id: vertex.id, kind: vertex.t.as_str().to_owned(), props });
    }
    found.sort_by_key(|v| v.id);
    Ok(found)
}

/// Opens the graph at `path`: checked for damage before decoding, and for its version after.
fn open(path: &Utf8Path) -> Result<Database<MemoryDatastore>, StoreError> {
    match std::fs::metadata(path) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(StoreError::Missing { path: path.to_owned() });
        }
        Err(err) => return Err(StoreError::Unreadable { path: path.to_owned(), reason: err.to_string() }),
        Ok(meta) if !meta.is_file() => {
            return Err(StoreError::Unreadable { path: path.to_owned(), reason: "not a file".to_owned() });
        }
        Ok(_) => {}
    }
    // Checked before IndraDB decodes it: a damaged or foreign file must give an error, never a
    // decode panic or an allocation of whatever size a corrupt length field claims.
    msgpack::check_image(path).map_err(|reason| StoreError::Unreadable { path: path.to_owned(), reason })?;
    let db = MemoryDatastore::read_msgpack_db(path.as_std_path())
        .map_err(|err| StoreError::Unreadable { path: path.to_owned(), reason: err.to_string() })?;
    check_version(&db.datastore.transaction(), path)?;
    Ok(db)
}

/// Properties as plain data.
fn stored_props(
    props: impl Iterator<Item = indradb::Result<(Identifier, indradb::Json)>>,
) -> Result<BTreeMap<String, Value>, StoreError> {
    let mut stored = BTreeMap::new();
    for prop in props {
        let (name, value) = prop?;
        stored.insert(name.as_str().to_owned(), (*value.0).clone());
    }
    Ok(stored)
}

/// The version record of a new graph.
fn meta_items() -> Result<Vec<indradb::BulkInsertItem>, StoreError> {
    let id = meta_id();
    let props = [
        ("schema", serde_json::Value::from(crate::model::SCHEMA_VERSION)),
        ("tool", serde_json::Value::from(env!("CARGO_PKG_NAME"))),
        ("tool_version", serde_json::Value::from(env!("CARGO_PKG_VERSION"))),
        ("indradb", serde_json::Value::from(INDRADB_VERSION)),
    ];
    let mut items = vec![indradb::BulkInsertItem::Vertex(indradb::Vertex::with_id(id, identifier(META_KIND)?))];
    for (name, value) in props {
        items.push(indradb::BulkInsertItem::VertexProperty(id, identifier(name)?, indradb::Json::new(value)));
    }
    Ok(items)
}

/// Fails unless the graph carries a version record of this schema.
fn check_version<'a>(txn: &'a impl Transaction<'a>, path: &Utf8Path) -> Result<(), StoreError> {
    let unreadable = |reason: &str| StoreError::Unreadable { path: path.to_owned(), reason: reason.to_owned() };
    let Some(meta) = txn.specific_vertices(vec![meta_id()])?.next().transpose()? else {
        return Err(unreadable("it has no cargo-codegraph version record"));
    };
    let prop = |name: &str| -> Result<Option<serde_json::Value>, StoreError> {
        Ok(txn.vertex_property(&meta, identifier(name)?)?.map(|json| (*json.0).clone()))
    };
    let schema = prop("schema")?;
    if schema.as_ref().and_then(serde_json::Value::as_u64) != Some(u64::from(crate::model::SCHEMA_VERSION)) {
        let tool = prop("tool_version")?.and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_else(|| "?".into());
        return Err(StoreError::Schema {
            path: path.to_owned(),
            found: schema.map_or_else(|| "?".to_owned(), |s| s.to_string()),
            tool,
            expected: crate::model::SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// An IndraDB identifier for one of our names (kinds and property names).
fn identifier(name: &str) -> Result<Identifier, StoreError> {
    Identifier::new(name).map_err(|_| StoreError::InvalidName { name: name.to_owned() })
}

#[cfg(test)]
mod tests;
