//! Incremental builds: index again only the crates whose inputs changed, and update the stored
//! graph by difference.
//!
//! A build's work is cut into units: one per indexed crate, and one for the workspace's own
//! vertices (packages, crates, `depends_on`). Beside the graph, `<db>.cache/` keeps for every unit
//! what it wrote (its output: the batches it sent, msgpack-encoded, in `model`'s serde form), its
//! files' outputs (`FileCache`: each file's batch, records, macro calls and `mod` declarations,
//! keyed by the file's content and its place in the module tree), its resolved scopes
//! (`CrateDefs::to_bytes`) and a summary (`UnitSummary`: the files it read with their hashes, its
//! counts, diagnostics, and two hashes: its interface, what dependents see of it, and its
//! dependencies' interfaces when it was built).
//!
//! A rerun reuses a crate when its fingerprint (its target, package, features, dependencies and
//! the options), its files and its dependencies' interfaces are all as recorded: it is not read,
//! parsed or resolved, and its scopes are read back only if a crate indexed again depends on it.
//! A crate whose interface changes (an item added, renamed, made public...) makes its
//! dependents index again; a change inside a function body does not. A crate indexed again with
//! the fingerprint it had parses only the files whose key is not in its `FileCache` (the others'
//! outputs are read back), then expands, resolves and validates as in a full build. The crates
//! indexed again give new outputs; `diff` compares them with the recorded ones (and drops the outputs of crates
//! that are gone) and gives the `model::Diff` that `store` applies to a copy of the live graph.
//! Vertices that several units write (files, externs) are counted by unit, and leave the graph
//! with the last unit that wrote them.
//!
//! The result is the graph a full build would write, byte for byte in `export` (the property
//! tests in `tests/incremental.rs` hold it to that). Anything the cache cannot vouch for (another
//! tool or schema version, options, backend or target, a graph replaced behind its back, a damaged
//! file) makes a full build, which writes a new cache.
//!
//! Crash safety: unit files are named by generation and never overwritten by the build that
//! reads them (a full build, which forgot the state first, may reuse names); the state file that
//! names them is replaced atomically after the graph is committed, and records the graph's stamp
//! (`store::stamp`). A run killed in between leaves a state whose stamp no longer matches: the
//! next build is a full one.

mod input;
mod unit;

use std::collections::{BTreeMap, HashMap};

use camino::{Utf8Path, Utf8PathBuf};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{Batch, Diff, EdgeKind, Props, Vertex, VertexKind};
use crate::workspace::Workspace;

pub use input::{Input, fingerprint, hash};
pub use unit::{FileCache, FileOutput, FileOutputRef, OutputBuilder, UnitSummary, decode_output, encode_batch};

/// Bump when the cache's meaning or format changes: an old cache then makes a full build.
const CACHE_VERSION: u32 = 3;

/// The key of the workspace unit (crate keys start with `Key(`).
pub const WORKSPACE_UNIT: &str = "workspace";

/// Where the cache of the graph at `db` is kept.
pub fn cache_dir(db: &Utf8Path) -> Utf8PathBuf {
    Utf8PathBuf::from(format!("{db}.cache"))
}

const STATE_FILE: &str = "state.msgpack";

/// One unit as the cache records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnitEntry {
    /// What decides the unit's output besides its files and its dependencies' interfaces.
    pub fingerprint: String,
    pub summary: UnitSummary,
    /// The file (in the cache folder) holding its output, and that output's hash.
    pub output: String,
    pub output_hash: String,
    /// The file holding its scopes (their hash is `summary.interface`).
    pub defs: Option<String>,
    /// The file holding its files' outputs (`FileCache`), and its hash.
    pub files: Option<(String, String)>,
}

/// The cache's state file.
#[derive(Debug, Serialize, Deserialize)]
pub struct CacheState {
    version: u32,
    /// What decides every unit: tool and schema versions, options, backend, target, workspace
    /// root.
    fingerprint: String,
    /// The graph this cache describes (`store::stamp`).
    db_stamp: String,
    /// Numbers the unit files of each build.
    generation: u64,
    pub units: BTreeMap<String, UnitEntry>,
}

/// The cache of one graph.
pub struct Cache {
    dir: Utf8PathBuf,
}

impl Cache {
    pub fn new(db: &Utf8Path) -> Cache {
        Cache { dir: cache_dir(db) }
    }

    /// The recorded state, if it describes the graph whose stamp is `db_stamp` and was made with
    /// `fingerprint`.
    pub fn load(&self, fingerprint: &str, db_stamp: Option<&str>) -> Option<CacheState> {
        let bytes = std::fs::read(self.dir.join(STATE_FILE)).ok()?;
        let state: CacheState = rmp_serde::from_slice(&bytes).ok()?;
        (state.version == CACHE_VERSION
            && state.fingerprint == fingerprint
            && Some(state.db_stamp.as_str()) == db_stamp)
            .then_some(state)
    }

    /// Reads a file of the cache, checking it against its recorded hash.
    fn read_checked(&self, name: &str, expected: &str) -> Option<Vec<u8>> {
        let bytes = std::fs::read(self.dir.join(name)).ok()?;
        (hash(&bytes) == expected).then_some(bytes)
    }

    /// A unit's recorded output.
    pub fn output(&self, entry: &UnitEntry) -> Option<Vec<Batch>> {
        decode_output(&self.read_checked(&entry.output, &entry.output_hash)?)
    }

    /// A unit's recorded file outputs.
    pub fn files(&self, entry: &UnitEntry) -> Option<FileCache> {
        let (name, expected) = entry.files.as_ref()?;
        FileCache::decode(self.read_checked(name, expected)?)
    }

    /// A unit's recorded scopes, as bytes.
    pub fn defs(&self, entry: &UnitEntry) -> Option<Vec<u8>> {
        self.read_checked(entry.defs.as_deref()?, entry.summary.interface.as_deref()?)
    }

    /// Forgets the cache (before a full build replaces the graph it describes).
    pub fn forget(&self) {
        // Best effort: a state left behind no longer matches the graph's stamp.
        let _ = std::fs::remove_file(self.dir.join(STATE_FILE));
    }

    /// Records a new state: writes the files of the units built now (`new`: key, output, defs)
    /// under a new generation, keeps the files of the units carried over from `previous`, then
    /// replaces the state file and removes the files nothing names any more.
    pub fn save(
        &self,
        previous: Option<&CacheState>,
        fingerprint: String,
        db_stamp: String,
        mut units: BTreeMap<String, UnitEntry>,
        new: Vec<NewUnit>,
    ) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let generation = previous.map_or(0, |state| state.generation + 1);
        let written: Vec<std::io::Result<(String, UnitEntry)>> = new
            .into_par_iter()
            .map(|unit| {
                let stem = format!("{}-{generation}", &hash(unit.key.as_bytes())[..16]);
                let output = format!("{stem}.out");
                unit::write_new(&self.dir.join(&output), &unit.output)?;
                let defs = match &unit.defs {
                    Some(bytes) => {
                        let name = format!("{stem}.defs");
                        unit::write_new(&self.dir.join(&name), bytes)?;
                        Some(name)
                    }
                    None => None,
                };
                let files = match unit.files.is_empty() {
                    true => None,
                    false => {
                        let name = format!("{stem}.files");
                        unit::write_new(&self.dir.join(&name), &unit.files)?;
                        Some((name, hash(&unit.files)))
                    }
                };
                let entry = UnitEntry {
                    fingerprint: unit.fingerprint,
                    summary: unit.summary,
                    output_hash: hash(&unit.output),
                    output,
                    defs,
                    files,
                };
                Ok((unit.key, entry))
            })
            .collect();
        for unit in written {
            let (key, entry) = unit?;
            units.insert(key, entry);
        }
        let state = CacheState { version: CACHE_VERSION, fingerprint, db_stamp, generation, units };
        let mut temp = tempfile::Builder::new().prefix(".state").tempfile_in(&self.dir)?;
        rmp_serde::encode::write(&mut temp, &state).map_err(std::io::Error::other)?;
        temp.persist(self.dir.join(STATE_FILE)).map_err(|err| err.error)?;
        let named: std::collections::HashSet<&str> = state
            .units
            .values()
            .flat_map(|entry| {
                let files = entry.files.as_ref().map(|(name, _)| name.as_str());
                std::iter::once(entry.output.as_str()).chain(entry.defs.as_deref()).chain(files)
            })
            .collect();
        for entry in std::fs::read_dir(&self.dir)?.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name != STATE_FILE && !named.contains(&*name) {
                // Best effort: a file left behind is removed by the next save.
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    }
}

/// A unit built now, to be recorded.
#[derive(Clone)]
pub struct NewUnit {
    pub key: String,
    pub fingerprint: String,
    pub summary: UnitSummary,
    pub output: Vec<u8>,
    pub defs: Option<Vec<u8>>,
    /// `FileCache::encode`d file outputs (empty for none).
    pub files: Vec<u8>,
}

/// The fingerprint of everything that decides every unit.
pub fn global_fingerprint(workspace: &Workspace, facts: &str) -> String {
    fingerprint(&format!("{}\n{:#?}\n{facts}", workspace.root, workspace.target))
}

/// The key of each crate between builds.
pub fn crate_key(workspace: &Workspace, krate: usize) -> String {
    format!("{:?}", workspace.crates[krate].key)
}

/// Each crate's fingerprint: what decides its output besides its files and its dependencies'
/// interfaces. Indices into the workspace's lists are left out (they shift when a crate is
/// added); keys stand for them.
pub fn crate_fingerprints(workspace: &Workspace) -> Vec<String> {
    (0..workspace.crates.len())
        .map(|index| {
            let krate = &workspace.crates[index];
            let package = &workspace.packages[krate.package];
            let mut text = format!(
                "{:?}\n{:?}\n{}\n{}\n{}\n{}\n{:?}\n{:#?}\n",
                krate.kind, krate.key, krate.name, krate.crate_name, krate.edition, krate.root, krate.indexed, package
            );
            for dep in workspace.deps.iter().filter(|dep| dep.from == index) {
                text.push_str(&format!("{:?} {:?} {:?}\n", workspace.crates[dep.to].key, dep.kind, dep.rename));
            }
            fingerprint(&text)
        })
        .collect()
}

/// The vertices and edges of an output, by identity.
#[derive(Default)]
struct Items {
    vertices: HashMap<Uuid, Vertex>,
    edges: HashMap<(Uuid, EdgeKind, Uuid), Props>,
    shared: HashMap<Uuid, Vertex>,
}

impl Items {
    fn of(batches: Vec<Batch>) -> Items {
        let mut items = Items::default();
        for batch in batches {
            for vertex in batch.vertices {
                if vertex.kind.is_shared() {
                    items.shared.insert(vertex.id, vertex);
                } else {
                    items.vertices.insert(vertex.id, vertex);
                }
            }
            for edge in batch.edges {
                items.edges.insert((edge.from, edge.kind, edge.to), edge.props);
            }
        }
        items
    }
}

/// A unit whose output changed: what it wrote last time, and what it writes now (empty for a
/// unit that is gone, or new).
pub struct Change {
    pub old: Vec<Batch>,
    pub new: Vec<Batch>,
}

/// What turns the graph of `old_shared` into that of `new_shared`, given the units that changed.
/// `old_shared` and `new_shared` are every unit's shared vertices, before and after.
pub fn diff<'a>(
    changes: Vec<Change>,
    old_shared: impl Iterator<Item = &'a (Uuid, VertexKind)>,
    new_shared: impl Iterator<Item = &'a (Uuid, VertexKind)>,
) -> Diff {
    let mut diff = Diff::default();
    let mut shared_vertices: HashMap<Uuid, Vertex> = HashMap::new();
    // Sorted at the end: the diff does not depend on hash order.
    for change in changes {
        let old = Items::of(change.old);
        let new = Items::of(change.new);
        shared_vertices.extend(new.shared);
        for (id, vertex) in &old.vertices {
            if !new.vertices.contains_key(id) {
                diff.removed_vertices.push((*id, vertex.kind));
            }
        }
        for (id, vertex) in new.vertices {
            match old.vertices.get(&id) {
                None => diff.written.vertices.push(vertex),
                Some(before) if before.kind != vertex.kind => {
                    diff.removed_vertices.push((id, before.kind));
                    diff.written.vertices.push(vertex);
                }
                Some(before) => {
                    let (removed, changed) = props_diff(&before.props, vertex.props);
                    diff.removed_vertex_props.extend(removed.into_iter().map(|name| (id, name)));
                    if !changed.is_empty() {
                        diff.written.vertices.push(Vertex { id, kind: vertex.kind, props: changed });
                    }
                }
            }
        }
        for key in old.edges.keys() {
            if !new.edges.contains_key(key) {
                diff.removed_edges.push(*key);
            }
        }
        for ((from, kind, to), props) in new.edges {
            match old.edges.get(&(from, kind, to)) {
                None => diff.written.edges.push(crate::model::Edge { from, kind, to, props }),
                Some(before) => {
                    let (removed, changed) = props_diff(before, props);
                    diff.removed_edge_props.extend(removed.into_iter().map(|name| (from, kind, to, name)));
                    if !changed.is_empty() {
                        diff.written.edges.push(crate::model::Edge { from, kind, to, props: changed });
                    }
                }
            }
        }
    }
    let mut counts: HashMap<Uuid, (VertexKind, i64, i64)> = HashMap::new();
    for &(id, kind) in old_shared {
        counts.entry(id).or_insert((kind, 0, 0)).1 += 1;
    }
    for &(id, kind) in new_shared {
        counts.entry(id).or_insert((kind, 0, 0)).2 += 1;
    }
    for (id, (kind, before, after)) in counts {
        if before > 0 && after == 0 {
            diff.removed_vertices.push((id, kind));
        } else if before == 0
            && after > 0
            && let Some(vertex) = shared_vertices.remove(&id)
        {
            diff.written.vertices.push(vertex);
        }
    }
    diff.removed_vertices.sort();
    diff.removed_edges.sort();
    diff.removed_vertex_props.sort();
    diff.removed_edge_props.sort();
    diff.written.vertices.sort_by_key(|vertex| vertex.id);
    diff.written.edges.sort_by_key(|edge| (edge.from, edge.kind, edge.to));
    diff
}

/// The property names `before` has and `after` lacks, and the properties of `after` that are new
/// or changed.
fn props_diff(before: &Props, after: Props) -> (Vec<&'static str>, Props) {
    let removed = before.keys().filter(|name| !after.contains_key(*name)).copied().collect();
    let changed = after.into_iter().filter(|(name, value)| before.get(name) != Some(value)).collect();
    (removed, changed)
}

#[cfg(test)]
mod tests;
