//! The store: the only part of cargo-codegraph that knows IndraDB.
//!
//! Vertices and edges are written by a writer thread (`writer`) into an in-memory IndraDB
//! `MemoryDatastore`, then saved atomically as IndraDB's msgpack image (`msgpack`). Readers
//! (`stats`, `export`) open that image with IndraDB's own reader and get plain data back
//! (`StoredGraph`), so nothing outside this module names an IndraDB type.

mod msgpack;
mod writer;

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use indradb::{Database, Datastore, Identifier, MemoryDatastore, Transaction};
use serde_json::Value;
use uuid::Uuid;

pub use msgpack::Staging;
pub use writer::{WriteStats, Writer, WriterConfig};

/// Properties that readers look vertices up by: indexed in IndraDB so that a look-up by value does
/// not scan the graph.
pub const INDEXED_PROPERTIES: &[&str] = &["name", "path"];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no graph at `{path}`: run `cargo codegraph build` first")]
    Missing { path: Utf8PathBuf },
    #[error("`{path}` is not a readable cargo-codegraph graph ({reason}); rebuild it with `cargo codegraph build`")]
    Unreadable { path: Utf8PathBuf, reason: String },
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
        let mut props = BTreeMap::new();
        for prop in txn.all_vertex_properties_for_vertex(&vertex)? {
            let (name, value) = prop?;
            props.insert(name.as_str().to_owned(), (*value.0).clone());
        }
        graph.vertices.push(StoredVertex { id: vertex.id, kind: vertex.t.as_str().to_owned(), props });
    }
    for edge in txn.all_edges()? {
        let edge = edge?;
        let mut props = BTreeMap::new();
        for prop in txn.all_edge_properties_for_edge(&edge)? {
            let (name, value) = prop?;
            props.insert(name.as_str().to_owned(), (*value.0).clone());
        }
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
    MemoryDatastore::read_msgpack_db(path.as_std_path())
        .map_err(|err| StoreError::Unreadable { path: path.to_owned(), reason: err.to_string() })
}

/// An IndraDB identifier for one of our names (kinds and property names).
fn identifier(name: &str) -> Result<Identifier, StoreError> {
    Identifier::new(name).map_err(|_| StoreError::InvalidName { name: name.to_owned() })
}

#[cfg(test)]
mod tests;
