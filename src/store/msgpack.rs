//! Atomic saves of the memory datastore as IndraDB's msgpack image.
//!
//! IndraDB's own `sync` serialises into a temp file in the *system* temp folder and renames it
//! over the target: across file systems the rename fails (EXDEV), nothing is fsynced, and a
//! failed final flush of its `BufWriter` is silently ignored. So we write the image ourselves:
//! into a temp file in the target's own folder (created before any work, which also proves the
//! folder writable), flushed and fsynced, then renamed over the target, then the folder fsynced.
//! A reader, or a process killed at any moment, sees the old graph or the new one, never a part.
//!
//! The image must be exactly what `MemoryDatastore::read_msgpack_db` reads: `Image` mirrors
//! IndraDB 5.0.0's private `InternalMemory` field for field (msgpack encodes structs as arrays,
//! so order and types are the format). indradb-lib is pinned to that version in Cargo.toml, and
//! `store::tests::saved_image_reads_back_identically` guards the mirror.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};

use camino::{Utf8Path, Utf8PathBuf};
use indradb::{Database, Datastore, Edge, Identifier, Json, MemoryDatastore, Transaction};
use serde::Serialize;
use tempfile::NamedTempFile;
use uuid::Uuid;

use super::{StoreError, identifier};

/// Mirrors IndraDB 5.0.0's `IndexedPropertyMember`.
#[derive(Serialize, PartialEq, Eq, Hash)]
enum IndexedPropertyMember {
    Vertex(Uuid),
    #[expect(dead_code, reason = "mirrors IndraDB's enum; edges are not indexed by us")]
    Edge(Edge),
}

/// Mirrors IndraDB 5.0.0's `InternalMemory`.
#[derive(Serialize)]
struct Image {
    vertices: BTreeMap<Uuid, Identifier>,
    edges: BTreeSet<Edge>,
    reversed_edges: BTreeSet<Edge>,
    vertex_properties: BTreeMap<(Uuid, Identifier), Json>,
    edge_properties: BTreeMap<(Edge, Identifier), Json>,
    property_values: HashMap<Identifier, HashMap<Json, HashSet<IndexedPropertyMember>>>,
}

/// A temp file beside the target, made before the work starts, that becomes the target on
/// `commit`. Dropped without `commit`, it is removed and the target is untouched.
pub struct Staging {
    file: NamedTempFile,
    target: Utf8PathBuf,
}

impl Staging {
    /// Creates the target's folder if needed and a temp file in it.
    pub fn new(target: &Utf8Path) -> Result<Staging, StoreError> {
        let write_error = |source| StoreError::Write { path: target.to_owned(), source };
        let dir = match target.parent() {
            Some(dir) if !dir.as_str().is_empty() => dir,
            _ => Utf8Path::new("."),
        };
        std::fs::create_dir_all(dir).map_err(write_error)?;
        let file = tempfile::Builder::new()
            .prefix(&format!(".{}.", target.file_name().unwrap_or("graph")))
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(write_error)?;
        Ok(Staging { file, target: target.to_owned() })
    }

    pub fn target(&self) -> &Utf8Path {
        &self.target
    }

    /// Writes `db` into the temp file and atomically replaces the target with it.
    pub fn commit(self, db: &Database<MemoryDatastore>, indexed: &[&str]) -> Result<(), StoreError> {
        let write_error = |source| StoreError::Write { path: self.target.clone(), source };
        let image = image(db, indexed)?;
        let mut out = BufWriter::new(self.file.as_file());
        rmp_serde::encode::write(&mut out, &image).map_err(|err| write_error(std::io::Error::other(err)))?;
        out.flush().map_err(write_error)?;
        drop(out);
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

fn image(db: &Database<MemoryDatastore>, indexed: &[&str]) -> Result<Image, StoreError> {
    let txn = db.datastore.transaction();
    let indexed: Vec<Identifier> = indexed.iter().map(|name| identifier(name)).collect::<Result<_, _>>()?;
    let mut image = Image {
        vertices: BTreeMap::new(),
        edges: BTreeSet::new(),
        reversed_edges: BTreeSet::new(),
        vertex_properties: BTreeMap::new(),
        edge_properties: BTreeMap::new(),
        property_values: indexed.iter().map(|name| (*name, HashMap::new())).collect(),
    };
    for vertex in txn.all_vertices()? {
        let vertex = vertex?;
        for prop in txn.all_vertex_properties_for_vertex(&vertex)? {
            let (name, value) = prop?;
            if let Some(values) = image.property_values.get_mut(&name) {
                values.entry(value.clone()).or_default().insert(IndexedPropertyMember::Vertex(vertex.id));
            }
            image.vertex_properties.insert((vertex.id, name), value);
        }
        image.vertices.insert(vertex.id, vertex.t);
    }
    for edge in txn.all_edges()? {
        let edge = edge?;
        for prop in txn.all_edge_properties_for_edge(&edge)? {
            let (name, value) = prop?;
            image.edge_properties.insert((edge.clone(), name), value);
        }
        image.reversed_edges.insert(edge.reversed());
        image.edges.insert(edge);
    }
    Ok(image)
}
