//! The store: the only part of cargo-codegraph that knows IndraDB.
//!
//! Two backends hold a graph, chosen by `Backend`: IndraDB's `MemoryDatastore` saved atomically
//! as its msgpack image, one file (`msgpack`, the default), and IndraDB's `RocksdbDatastore`, a
//! folder of generations (`rocks`, behind the cargo feature `rocksdb`). Vertices and edges are
//! written by one writer thread (`writer`), generic over the datastore, so that both get the same
//! items in the same order. Readers (`stats`, `export`) get plain data back (`StoredGraph`),
//! whatever the backend, so nothing outside this module names an IndraDB type; the backend of an
//! existing graph is read from its path (a file or a folder). Every graph carries a version
//! record (`meta_id`), checked on open; `lock` keeps builds and readers apart.
//!
//! A build writes a graph from scratch (`Staging::new`, `Staging::create`, the writer) or, when it
//! is incremental, changes a copy of the live one: `Staging::update` hands out the copy (msgpack:
//! the image decoded; RocksDB: a new generation made of the live one's files, tables
//! hard-linked), `update::apply` applies a `model::Diff` to it, checked against the graph first.
//! Either way `Staging::commit` replaces the graph atomically, and a staging dropped without it
//! leaves the live graph as it was. msgpack saves the whole image, except that an update of a
//! graph the build knows (`Staging::update_known`) goes to the graph's delta log (`delta`) while
//! that is small; RocksDB writes only what the diff changes.
//!
//! Readers that want a graph's shape and a few properties use `open_graph`, a `Graph` snapshot:
//! a msgpack graph is read straight from its image by `image` (IndraDB never decodes it), a RocksDB
//! graph through `read_graph`.
//!
//! A third backend, `remote` (cargo feature `server`), keeps the graph in IndraDB's gRPC server,
//! named by a `grpc://HOST:PORT` address where the others take a path. The server has no
//! transactions: a build marks the graph as being written in its version record and takes a lease
//! there to keep other builds (on any machine) out; readers refuse a graph so marked (see
//! `remote`). The caches a rerun needs stay on the local disk, beside the target folder
//! (`local_anchor`).

mod delta;
pub mod graph;
mod image;
pub mod lock;
mod msgpack;
#[cfg(feature = "server")]
mod quickack;
#[cfg(feature = "server")]
pub mod remote;
#[cfg(feature = "rocksdb")]
mod rocks;
#[cfg(feature = "rocksdb")]
mod rocks_tables;
#[cfg(feature = "server")]
pub mod served;
mod update;
mod writer;

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use indradb::{Database, Datastore, Identifier, MemoryDatastore, Transaction};
use serde_json::Value;
use uuid::Uuid;

pub use graph::{Direction, E, EdgeRef, Graph, V};
pub use lock::{DbLock, LockMode};
pub use update::{ApplyStats, apply};
pub use writer::{WriteStats, Writer, WriterConfig};

/// Where a graph is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// IndraDB's memory datastore, saved as its msgpack image: one file.
    Msgpack,
    /// IndraDB's RocksDB datastore: a folder (cargo feature `rocksdb`).
    Rocksdb,
    /// IndraDB's gRPC server, at a `grpc://HOST:PORT` address (cargo feature `server`).
    Remote,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Msgpack => "msgpack",
            Backend::Rocksdb => "rocksdb",
            // The cargo feature's name, which `StoreError::Unsupported` tells the user to turn on.
            Backend::Remote => "server",
        }
    }

    /// The graph's name in the target folder when `--db` is not given.
    pub fn default_file_name(self) -> &'static str {
        match self {
            Backend::Msgpack => "graph.msgpack",
            Backend::Rocksdb => "graph.rocksdb",
            // Never used: a remote graph is always named by `--db`.
            Backend::Remote => "graph.remote",
        }
    }

    /// Whether this build of cargo-codegraph can read and write it.
    pub fn is_supported(self) -> bool {
        match self {
            Backend::Msgpack => true,
            Backend::Rocksdb => cfg!(feature = "rocksdb"),
            Backend::Remote => cfg!(feature = "server"),
        }
    }

    fn require(self, path: &Utf8Path) -> Result<(), StoreError> {
        if self.is_supported() {
            Ok(())
        } else {
            Err(StoreError::Unsupported { path: path.to_owned(), backend: self.as_str() })
        }
    }
}

/// The backend of the graph at `path`, or `None` when nothing is there. A folder is a RocksDB
/// graph whether or not this build supports it, so that the error can say so.
pub fn detect(path: &Utf8Path) -> Result<Option<Backend>, StoreError> {
    if is_remote(path) {
        return Ok(Some(Backend::Remote));
    }
    match std::fs::metadata(path) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(StoreError::Unreadable { path: path.to_owned(), reason: err.to_string() }),
        Ok(meta) if meta.is_dir() => Ok(Some(Backend::Rocksdb)),
        Ok(_) => Ok(Some(Backend::Msgpack)),
    }
}

/// Whether `db` names a graph on a server (`grpc://HOST:PORT`) rather than a local path.
pub fn is_remote(db: &Utf8Path) -> bool {
    db.as_str().starts_with("grpc://")
}

/// Whether there may be a graph at `db`: a local path that exists, or any server address (which
/// only a read can tell).
pub fn may_exist(db: &Utf8Path) -> bool {
    is_remote(db) || db.exists()
}

/// Where the local files of the graph at `db` go (its lock, its build cache, as `<anchor>.lock`
/// and `<anchor>.cache/`): beside the graph for a local one; for a server, in the target folder's
/// `codegraph/`, named after its address, so that one workspace can push to several servers.
pub fn local_anchor(db: &Utf8Path, target_dir: &Utf8Path) -> Utf8PathBuf {
    if !is_remote(db) {
        return db.to_owned();
    }
    let name: String = db.as_str()["grpc://".len()..]
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect();
    target_dir.join("codegraph").join(format!("grpc-{name}"))
}

/// A stamp of the graph at `path` that changes whenever a build replaces it: the msgpack file's
/// size and time (and its delta log's), or the RocksDB folder's pointer (which names a new
/// generation on every commit) and its time. `None` when there is no graph. Caches kept beside a
/// graph record it, to tell whether they still describe it.
pub fn stamp(path: &Utf8Path) -> Option<String> {
    match detect(path).ok()?? {
        // The id of the build it holds, `None` while one writes it.
        #[cfg(feature = "server")]
        Backend::Remote => remote::stamp(path.as_str()),
        #[cfg(not(feature = "server"))]
        Backend::Remote => None,
        // An update of a msgpack graph may change its delta log alone.
        Backend::Msgpack => {
            Some(format!("{}:{}", file_stamp(path)?, file_stamp(&delta::path(path)).unwrap_or_default()))
        }
        Backend::Rocksdb => {
            let pointer = path.join("codegraph.current");
            let name = std::fs::read_to_string(&pointer).ok()?;
            Some(format!("{}:{}", file_stamp(&pointer)?, name.trim_end()))
        }
    }
}

/// A file's size and modification time (nanoseconds since the epoch), as `size:time`.
fn file_stamp(file: &Utf8Path) -> Option<String> {
    let metadata = std::fs::metadata(file).ok()?;
    let modified = metadata.modified().ok()?.duration_since(std::time::SystemTime::UNIX_EPOCH).ok()?;
    Some(format!("{}:{}", metadata.len(), modified.as_nanos()))
}

/// When the graph at `path` was last written: a msgpack graph's image or delta log, whichever is
/// newer; a RocksDB graph's pointer file (a reader's `open.lock` does not count). `None` when
/// there is no graph.
pub fn last_written(path: &Utf8Path) -> Option<std::time::SystemTime> {
    let modified = |file: &Utf8Path| std::fs::metadata(file).and_then(|meta| meta.modified()).ok();
    match detect(path).ok()?? {
        Backend::Msgpack => modified(path).max(modified(&delta::path(path))),
        Backend::Rocksdb => modified(&path.join("codegraph.current")),
        // Never compared: `default_db` chooses among local graphs.
        Backend::Remote => None,
    }
}

/// The backend a build writes `path` with: `wanted` (`--store`) if given, else the existing
/// graph's, else msgpack. A graph of one backend is never replaced by one of another: that would
/// delete a file or a folder the user may have meant to keep.
pub fn backend_for_build(path: &Utf8Path, wanted: Option<Backend>) -> Result<Backend, StoreError> {
    let existing = detect(path)?;
    let backend = match (wanted, existing) {
        (Some(wanted), Some(existing)) if wanted != existing => {
            return Err(StoreError::BackendMismatch {
                path: path.to_owned(),
                found: existing.as_str(),
                wanted: wanted.as_str(),
            });
        }
        (Some(backend), _) | (None, Some(backend)) => backend,
        (None, None) => Backend::Msgpack,
    };
    backend.require(path)?;
    Ok(backend)
}

/// A database being written by a build, whatever its backend.
pub enum WriteDb {
    Memory(Database<MemoryDatastore>),
    /// A new msgpack graph: the items the writer passes, gathered for an image written without
    /// IndraDB (see `msgpack::Collected`).
    Collected(msgpack::Collected),
    /// An update of a msgpack graph that goes to its delta log (see `delta`): the diffs applied.
    Delta(std::sync::Mutex<Vec<crate::model::Diff>>),
    /// An update of a RocksDB graph: IndraDB's datastore on a copy of the live generation.
    #[cfg(feature = "rocksdb")]
    Rocksdb(Database<indradb::RocksdbDatastore>),
    /// A new RocksDB graph: the items the writer passes, kept as the generation's keys and
    /// written as table files at the commit (see `rocks_tables`).
    #[cfg(feature = "rocksdb")]
    RocksTables(Box<rocks_tables::Tables>),
    #[cfg(feature = "server")]
    Remote(Database<remote::RemoteDatastore>),
}

/// Where a build's graph goes until it is committed: prepared before any work (so that an
/// unwritable target fails first), and dropped without `commit` it leaves the old graph as it was.
pub struct Staging {
    target: Utf8PathBuf,
    inner: StagingInner,
}

enum StagingInner {
    Msgpack(msgpack::Staging),
    /// An update of a msgpack graph recorded in its delta log.
    Delta,
    #[cfg(feature = "rocksdb")]
    Rocksdb(rocks::Staging),
    #[cfg(feature = "server")]
    Remote(remote::Staging),
}

impl Staging {
    /// The caller holds the graph's exclusive lock.
    pub fn new(target: &Utf8Path, backend: Backend) -> Result<Staging, StoreError> {
        let inner = match backend {
            Backend::Msgpack => StagingInner::Msgpack(msgpack::Staging::new(target)?),
            #[cfg(feature = "rocksdb")]
            Backend::Rocksdb => StagingInner::Rocksdb(rocks::Staging::new(target)?),
            #[cfg(feature = "server")]
            Backend::Remote => StagingInner::Remote(remote::Staging::begin(target.as_str(), true)?),
            #[cfg(not(feature = "rocksdb"))]
            Backend::Rocksdb => {
                return Err(StoreError::Unsupported { path: target.to_owned(), backend: backend.as_str() });
            }
            #[cfg(not(feature = "server"))]
            Backend::Remote => {
                return Err(StoreError::Unsupported { path: target.to_owned(), backend: backend.as_str() });
            }
        };
        Ok(Staging { target: target.to_owned(), inner })
    }

    /// Prepares an incremental build: a staging like `new`'s, and a writable copy of the graph at
    /// `target` for `apply`, which `commit` then makes the graph. The caller holds the graph's
    /// exclusive lock. The graph must be there and readable by this cargo-codegraph, else the
    /// error is the one a reader gets (`Missing`, `Foreign`, `Unreadable`, `Schema`,
    /// `Unsupported`), or `BackendMismatch` when `backend` is not the graph's. The copy's version
    /// record is rewritten, as a full build writes it.
    ///
    /// The copy is returned with the staging, rather than by a later call, because making it is
    /// what proves the graph readable: msgpack decodes the whole image once, here. RocksDB copies
    /// the live generation into the new one (tables hard-linked, see `rocks`), so the update
    /// writes only what changes; the live generation is never opened by the build.
    pub fn update(target: &Utf8Path, backend: Backend) -> Result<(Staging, WriteDb), StoreError> {
        Staging::update_with(target, backend, false)
    }

    /// `update` for a graph that the caller knows to be the one it last wrote (it recorded the
    /// graph's `stamp` then, and finds it unchanged): a msgpack graph is not decoded, and the
    /// update goes to its delta log while that is small (see `delta`).
    pub fn update_known(target: &Utf8Path, backend: Backend) -> Result<(Staging, WriteDb), StoreError> {
        Staging::update_with(target, backend, true)
    }

    fn update_with(target: &Utf8Path, backend: Backend, known: bool) -> Result<(Staging, WriteDb), StoreError> {
        let found = detect(target)?.ok_or_else(|| StoreError::Missing { path: target.to_owned() })?;
        found.require(target)?;
        if found != backend {
            return Err(StoreError::BackendMismatch {
                path: target.to_owned(),
                found: found.as_str(),
                wanted: backend.as_str(),
            });
        }
        let (inner, db) = match backend {
            // The caller wrote this graph and checked its stamp: it is not decoded to be checked
            // again.
            Backend::Msgpack if known && delta::has_room(target) => {
                return Ok((
                    Staging { target: target.to_owned(), inner: StagingInner::Delta },
                    WriteDb::Delta(std::sync::Mutex::new(Vec::new())),
                ));
            }
            Backend::Msgpack => {
                let db = open_msgpack(target)?;
                check_version(&db.datastore.transaction(), target)?;
                (StagingInner::Msgpack(msgpack::Staging::new(target)?), WriteDb::Memory(db))
            }
            #[cfg(feature = "rocksdb")]
            Backend::Rocksdb => {
                let (staging, db) = rocks::Staging::update(target)?;
                (StagingInner::Rocksdb(staging), WriteDb::Rocksdb(db))
            }
            #[cfg(feature = "server")]
            Backend::Remote => {
                // The update is checked against the server's graph, which must be one.
                read_state(target)?;
                let staging = remote::Staging::begin(target.as_str(), false)?;
                let db = Database::new(staging.datastore());
                (StagingInner::Remote(staging), WriteDb::Remote(db))
            }
            // `require` refused it above.
            #[cfg(not(feature = "rocksdb"))]
            Backend::Rocksdb => {
                return Err(StoreError::Unsupported { path: target.to_owned(), backend: backend.as_str() });
            }
            #[cfg(not(feature = "server"))]
            Backend::Remote => {
                return Err(StoreError::Unsupported { path: target.to_owned(), backend: backend.as_str() });
            }
        };
        let staging = Staging { target: target.to_owned(), inner };
        match &db {
            WriteDb::Memory(db) => db.bulk_insert(meta_items()?)?,
            #[cfg(feature = "rocksdb")]
            WriteDb::Rocksdb(db) => db.bulk_insert(meta_items()?)?,
            #[cfg(feature = "server")]
            WriteDb::Remote(db) => db.bulk_insert(meta_items()?)?,
            WriteDb::Delta(_) | WriteDb::Collected(_) => {}
            #[cfg(feature = "rocksdb")]
            WriteDb::RocksTables(_) => {}
        }
        Ok((staging, db))
    }

    pub fn target(&self) -> &Utf8Path {
        &self.target
    }

    /// A fresh, empty database for the writer. (A staging made by `update` comes with its
    /// database; for RocksDB, this would open that same generation again, which RocksDB refuses
    /// while the first handle is open.)
    pub fn create(&self) -> Result<WriteDb, StoreError> {
        Ok(match &self.inner {
            // No property is indexed in the live memory store: nothing looks it up while it is
            // written, and the save writes the index of `INDEXED_PROPERTIES` itself, in one pass.
            StagingInner::Msgpack(_) => WriteDb::Collected(msgpack::Collected::default()),
            StagingInner::Delta => WriteDb::Memory(MemoryDatastore::new_db()),
            #[cfg(feature = "rocksdb")]
            StagingInner::Rocksdb(staging) => WriteDb::RocksTables(Box::new(staging.create_tables()?)),
            #[cfg(feature = "server")]
            StagingInner::Remote(staging) => WriteDb::Remote(Database::new(staging.datastore())),
        })
    }

    /// Makes `db` the graph at the target, atomically, whether it was built from scratch or
    /// updated. The msgpack encoding runs on the current rayon pool (the build's, when called
    /// inside `ThreadPool::install`); msgpack writes the whole image either way, RocksDB only
    /// flushes what an update wrote (see `rocks::Staging::commit`).
    pub fn commit(self, db: WriteDb) -> Result<(), StoreError> {
        match (self.inner, db) {
            (StagingInner::Delta, WriteDb::Delta(diffs)) => {
                delta::append(&self.target, diffs.into_inner().unwrap_or_else(|poison| poison.into_inner()))
            }
            (StagingInner::Msgpack(staging), WriteDb::Memory(db)) => {
                staging.commit(&db, INDEXED_PROPERTIES)?;
                // The new image holds what the delta said.
                delta::remove(&self.target);
                // Freeing a large store takes about a second per million edges, and nothing waits
                // on it: a short-lived process exits before it is done, a long-lived one frees it
                // in the background.
                std::thread::spawn(move || drop(db));
                Ok(())
            }
            (StagingInner::Msgpack(staging), WriteDb::Collected(collected)) => {
                staging.commit_collected(collected, INDEXED_PROPERTIES)?;
                delta::remove(&self.target);
                Ok(())
            }
            #[cfg(feature = "rocksdb")]
            (StagingInner::Rocksdb(staging), WriteDb::Rocksdb(db)) => staging.commit(db),
            #[cfg(feature = "rocksdb")]
            (StagingInner::Rocksdb(staging), WriteDb::RocksTables(tables)) => staging.commit_tables(*tables),
            #[cfg(feature = "server")]
            (StagingInner::Remote(staging), WriteDb::Remote(_)) => staging.commit(),
            // Cannot happen: `db` comes from this staging's `create` or `update`.
            _ => Err(StoreError::WriterGone),
        }
    }
}

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
    #[error(
        "`{path}` is a {backend} graph, and this cargo-codegraph was built without {backend} support; \
         rebuild it with `cargo install cargo-codegraph --features {backend}`"
    )]
    Unsupported { path: Utf8PathBuf, backend: &'static str },
    #[error(
        "`{path}` holds a {found} graph, not a {wanted} one; remove it or choose another `--db` \
         to build a {wanted} graph"
    )]
    BackendMismatch { path: Utf8PathBuf, found: &'static str, wanted: &'static str },
    #[error(
        "`{path}` is a folder that holds no cargo-codegraph graph; point `--db` at a graph, or at a new path to build one"
    )]
    Foreign { path: Utf8PathBuf },
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
    #[error("cannot apply the changes to the stored graph: {reason}")]
    InvalidDiff { reason: String },
    #[error("cannot reach the IndraDB server at `{address}`: {reason}")]
    Unreachable { address: String, reason: String },
    #[error("a build is writing the graph `{path}` now; try again when it has finished")]
    Busy { path: Utf8PathBuf },
    #[error(
        "the graph `{path}` was left half-written by a build that did not finish; \
         rebuild it with `cargo codegraph build --db {path}`"
    )]
    HalfWritten { path: Utf8PathBuf },
    #[error(
        "the build lost its hold on `{path}` (another build took it over, or the server restarted); \
         the graph is left marked unfinished: run the build again"
    )]
    LeaseLost { path: Utf8PathBuf },
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

/// Reads the graph stored at `path`, whatever its backend.
pub fn read_graph(path: &Utf8Path) -> Result<StoredGraph, StoreError> {
    if is_remote(path) {
        return read_remote(path);
    }
    let result = match open(path)? {
        ReadDb::Memory(db) => read_all(&db.datastore.transaction()),
        #[cfg(feature = "rocksdb")]
        ReadDb::Rocksdb(reader) => read_all(&reader.db.datastore.transaction()),
    };
    result.map_err(|err| damaged(path, err))
}

/// A read-only snapshot of the graph stored at `path`, whatever its backend (see `Graph`).
///
/// A msgpack graph is read by `image`, straight from the file into the snapshot, its property
/// values left in the file's bytes until asked for: neither IndraDB's decoder nor a copy of every
/// property. A RocksDB graph is read whole, as `read_graph` reads it. Fails as `read_graph` does.
pub fn open_graph(path: &Utf8Path) -> Result<Graph, StoreError> {
    let size = match detect(path)? {
        Some(Backend::Remote) => {
            let stored = read_remote(path)?;
            return Graph::from_stored(stored)
                .map_err(|err| StoreError::Unreadable { path: path.to_owned(), reason: err.to_string() });
        }
        None => return Err(StoreError::Missing { path: path.to_owned() }),
        Some(Backend::Msgpack) => std::fs::metadata(path).map_or(0, |meta| meta.len()),
        Some(Backend::Rocksdb) => u64::MAX,
    };
    if size <= image::MAX_IMAGE {
        return image::open(path);
    }
    // RocksDB graphs, and images too large for `image`'s 32-bit offsets.
    let stored = read_graph(path)?;
    Graph::from_stored(stored).map_err(|err| StoreError::Unreadable { path: path.to_owned(), reason: err.to_string() })
}

/// Runs `reader` on the graph stored at `path` and returns what it returns.
///
/// For a local graph, that is `reader(&open_graph(path)?)`. A graph on a server is not read
/// whole for it: `reader` runs on a partial snapshot (`Graph::partial`) of what it asked for so
/// far, starting from nothing, and what it asked beyond that is fetched (`remote::Neighbourhood`)
/// before it runs again, until it asks for nothing more: its answer is then the one the whole
/// graph gives, from a few requests per round (a `query callers` takes a handful of rounds). A
/// reader that walks every vertex or edge (`find` with a pattern, `cycles`) gets the whole graph.
/// `reader` must be a pure function of the graph, cheap to run again.
pub fn answer<T>(path: &Utf8Path, reader: impl Fn(&Graph) -> T) -> Result<T, StoreError> {
    #[cfg(feature = "server")]
    if is_remote(path) {
        return answer_remote(path, reader);
    }
    Ok(reader(&open_graph(path)?))
}

/// `answer` for a graph on a server.
#[cfg(feature = "server")]
fn answer_remote<T>(path: &Utf8Path, reader: impl Fn(&Graph) -> T) -> Result<T, StoreError> {
    /// Past this many rounds a reader is walking far: the whole graph in one go is cheaper.
    const MAX_ROUNDS: usize = 32;
    let mut fetched = remote::Neighbourhood::open(path.as_str())?;
    for _ in 0..MAX_ROUNDS {
        let (stored, known) = fetched.snapshot();
        let graph = graph::Graph::partial(stored, &known)
            .map_err(|err| StoreError::Unreadable { path: path.to_owned(), reason: err.to_string() })?;
        let answer = reader(&graph);
        let wanted = graph.wanted();
        if wanted.whole {
            break;
        }
        if wanted.is_empty() {
            fetched.finish()?;
            return Ok(answer);
        }
        fetched.fetch(&wanted)?;
    }
    Ok(reader(&open_graph(path)?))
}

/// The vertices whose `path` is `wanted`, found through the property index, never a scan.
pub fn find_by_path(path: &Utf8Path, wanted: &str) -> Result<Vec<StoredVertex>, StoreError> {
    if is_remote(path) {
        let mut found = read_remote(path)?.vertices;
        found.retain(|v| v.props.get("path").and_then(Value::as_str) == Some(wanted));
        return Ok(found);
    }
    let result = match open(path)? {
        ReadDb::Memory(db) => look_up(&db.datastore.transaction(), path, "path", wanted),
        #[cfg(feature = "rocksdb")]
        ReadDb::Rocksdb(reader) => look_up(&reader.db.datastore.transaction(), path, "path", wanted),
    };
    result.map_err(|err| damaged(path, err))
}

/// Reads a graph from a server (`remote::read_graph`), or says that this build cannot.
fn read_remote(path: &Utf8Path) -> Result<StoredGraph, StoreError> {
    #[cfg(feature = "server")]
    return remote::read_graph(path.as_str());
    #[cfg(not(feature = "server"))]
    Err(StoreError::Unsupported { path: path.to_owned(), backend: Backend::Remote.as_str() })
}

/// Fails unless the server holds a finished graph (the check an update starts from).
#[cfg(feature = "server")]
fn read_state(path: &Utf8Path) -> Result<(), StoreError> {
    match remote::stamp(path.as_str()) {
        Some(_) => Ok(()),
        None => Err(StoreError::Missing { path: path.to_owned() }),
    }
}

/// An IndraDB error met while reading a graph that opened: the graph is damaged.
fn damaged(path: &Utf8Path, err: StoreError) -> StoreError {
    match err {
        StoreError::Indradb(err) => StoreError::Unreadable { path: path.to_owned(), reason: err.to_string() },
        other => other,
    }
}

/// An open graph, whatever its backend.
enum ReadDb {
    Memory(Database<MemoryDatastore>),
    #[cfg(feature = "rocksdb")]
    Rocksdb(rocks::Reader),
}

fn read_all<'a>(txn: &'a impl Transaction<'a>) -> Result<StoredGraph, StoreError> {
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

/// The vertices whose property `name` is `wanted`, through IndraDB's index. IndraDB's memory
/// datastore answers a look-up by value only from an index, and its RocksDB datastore from index
/// keys made of the value's 64-bit hash: so the hits are checked against the value (a collision
/// must not answer), and the version record's own indexed `name` is looked up first, to prove that
/// this binary hashes as the one that wrote the graph did (IndraDB hashes with std's
/// `DefaultHasher`, which Rust does not promise to keep across releases).
fn look_up<'a>(
    txn: &'a impl Transaction<'a>,
    path: &Utf8Path,
    name: &str,
    wanted: &str,
) -> Result<Vec<StoredVertex>, StoreError> {
    let unreadable = |reason: String| StoreError::Unreadable { path: path.to_owned(), reason };
    let probe = txn.vertex_ids_with_property_value(identifier("name")?, &indradb::Json::new(META_KIND.into()))?;
    let probe: Vec<Uuid> =
        probe.ok_or_else(|| unreadable("it has no index on `name`".to_owned()))?.collect::<Result<_, _>>()?;
    if !probe.contains(&meta_id()) {
        return Err(unreadable(
            "its index does not answer as this cargo-codegraph expects (written by another version, \
             or by one built with another Rust)"
                .to_owned(),
        ));
    }
    let Some(ids) = txn.vertex_ids_with_property_value(identifier(name)?, &indradb::Json::new(wanted.into()))? else {
        return Err(unreadable(format!("it has no index on `{name}`")));
    };
    let ids: Vec<Uuid> = ids.collect::<Result<_, _>>()?;
    let mut found = Vec::new();
    for vertex in txn.specific_vertices(ids)? {
        let vertex = vertex?;
        if vertex.t.as_str() == META_KIND {
            continue;
        }
        let props = stored_props(txn.all_vertex_properties_for_vertex(&vertex)?)?;
        if props.get(name).and_then(Value::as_str) == Some(wanted) {
            found.push(StoredVertex { id: vertex.id, kind: vertex.t.as_str().to_owned(), props });
        }
    }
    found.sort_by_key(|v| v.id);
    found.dedup_by_key(|v| v.id);
    Ok(found)
}

/// Opens the graph at `path`, whatever its backend, and checks its version.
fn open(path: &Utf8Path) -> Result<ReadDb, StoreError> {
    match detect(path)? {
        None => Err(StoreError::Missing { path: path.to_owned() }),
        Some(Backend::Msgpack) => {
            let db = open_msgpack(path)?;
            check_version(&db.datastore.transaction(), path)?;
            Ok(ReadDb::Memory(db))
        }
        Some(Backend::Rocksdb) => open_rocksdb(path),
        Some(Backend::Remote) => Err(StoreError::Unsupported { path: path.to_owned(), backend: "msgpack or rocksdb" }),
    }
}

#[cfg(feature = "rocksdb")]
fn open_rocksdb(path: &Utf8Path) -> Result<ReadDb, StoreError> {
    match rocks::folder_kind(path)? {
        rocks::FolderKind::Graph => {}
        // A first build that failed or was killed before its graph was saved.
        rocks::FolderKind::Empty => return Err(StoreError::Missing { path: path.to_owned() }),
        rocks::FolderKind::Foreign => return Err(StoreError::Foreign { path: path.to_owned() }),
    }
    let reader = rocks::open(path)?;
    check_version(&reader.db.datastore.transaction(), path).map_err(|err| damaged(path, err))?;
    Ok(ReadDb::Rocksdb(reader))
}

#[cfg(not(feature = "rocksdb"))]
fn open_rocksdb(path: &Utf8Path) -> Result<ReadDb, StoreError> {
    Err(StoreError::Unsupported { path: path.to_owned(), backend: Backend::Rocksdb.as_str() })
}

/// Opens a msgpack image: checked for damage before decoding.
fn open_msgpack(path: &Utf8Path) -> Result<Database<MemoryDatastore>, StoreError> {
    // Checked before IndraDB decodes it: a damaged or foreign file must give an error, never a
    // decode panic or an allocation of whatever size a corrupt length field claims.
    msgpack::check_image(path).map_err(|reason| StoreError::Unreadable { path: path.to_owned(), reason })?;
    let db = MemoryDatastore::read_msgpack_db(path.as_std_path())
        .map_err(|err| StoreError::Unreadable { path: path.to_owned(), reason: err.to_string() })?;
    let diffs = delta::read(path)?;
    if diffs.is_empty() {
        return Ok(db);
    }
    let db = WriteDb::Memory(db);
    for diff in diffs {
        apply(&db, diff).map_err(|err| StoreError::Unreadable {
            path: path.to_owned(),
            // Builds take a known graph's stamp for proof of its soundness, so only `--rebuild`
            // replaces a delta that does not apply.
            reason: format!("its delta log `{}` does not apply ({err}); `--rebuild` replaces it", delta::path(path)),
        })?;
    }
    match db {
        WriteDb::Memory(db) => Ok(db),
        _ => Err(StoreError::WriterGone),
    }
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
        // Indexed like every `name`: `look_up` finds the record through the index to prove that
        // the index is usable.
        ("name", serde_json::Value::from(META_KIND)),
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
mod image_tests;
#[cfg(test)]
mod tests;
