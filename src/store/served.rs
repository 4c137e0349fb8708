//! `cargo codegraph serve`'s store side: a local graph held in IndraDB's memory datastore and
//! served over IndraDB's own gRPC API (indradb-proto's server), kept in step with the builds of
//! the local graph (cargo feature `server`).
//!
//! The served datastore holds the graph as a build of the remote backend leaves it: the code
//! graph, and a version record whose `build` is the local graph's `stamp`, so that our own
//! `grpc://` readers accept it. A new build of the local graph (its stamp changes) is loaded
//! whole and swapped in within one datastore transaction: IndraDB's memory datastore holds one
//! mutex per transaction, so a request sees the old graph or the new one, never a mix (a reader
//! that straddles the swap sees the version record change, and reads again).
//!
//! Knows IndraDB and the store's records; nothing of the command line.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use indradb::{BulkInsertItem, Database, Datastore, Edge, Json, MemoryDatastore, Transaction, Vertex};

use super::{INDEXED_PROPERTIES, StoreError, StoredGraph, identifier, meta_id, meta_items};

/// A graph being served.
pub struct Served {
    db: Arc<Database<MemoryDatastore>>,
    path: Utf8PathBuf,
    stamp: Option<String>,
}

/// What `follow` did on one look at the local graph.
#[derive(Debug, PartialEq, Eq)]
pub enum Followed {
    Unchanged,
    /// The graph was loaded again; its vertex and edge counts.
    Reloaded {
        vertices: usize,
        edges: usize,
    },
}

impl Served {
    /// Loads the graph at `path` (a local graph, of any local backend), read under its shared lock.
    pub fn load(path: &Utf8Path) -> Result<Served, StoreError> {
        let db = MemoryDatastore::new_db();
        {
            let mut txn = db.datastore.transaction();
            for name in INDEXED_PROPERTIES {
                txn.index_property(identifier(name)?)?;
            }
        }
        let mut served = Served { db: Arc::new(db), path: path.to_owned(), stamp: None };
        served.reload()?;
        Ok(served)
    }

    pub fn database(&self) -> Arc<Database<MemoryDatastore>> {
        self.db.clone()
    }

    /// Loads the graph again if a build changed it since it was loaded.
    pub fn follow(&mut self) -> Result<Followed, StoreError> {
        let stamp = super::stamp(&self.path);
        if stamp.is_none() || stamp == self.stamp {
            return Ok(Followed::Unchanged);
        }
        self.reload()
    }

    fn reload(&mut self) -> Result<Followed, StoreError> {
        if !super::may_exist(&self.path) {
            return Err(StoreError::Missing { path: self.path.clone() });
        }
        let (stored, stamp) = {
            let _lock = super::lock::lock(&self.path, super::LockMode::Shared, true, || {})?;
            (super::read_graph(&self.path)?, super::stamp(&self.path))
        };
        let counts = Followed::Reloaded { vertices: stored.vertices.len(), edges: stored.edges.len() };
        let build = stamp.clone().unwrap_or_default();
        let items = items(stored, &build)?;
        {
            // One transaction: requests wait for the swap, and see the old graph or the new one.
            let mut txn = self.db.datastore.transaction();
            let edges: Vec<Edge> = txn.all_edges()?.collect::<indradb::Result<_>>()?;
            txn.delete_edges(edges)?;
            // With no edge left, IndraDB's per-vertex scan of the edges is short.
            let vertices: Vec<Vertex> = txn.all_vertices()?.collect::<indradb::Result<_>>()?;
            txn.delete_vertices(vertices)?;
            txn.bulk_insert(items)?;
        }
        self.stamp = stamp;
        Ok(counts)
    }
}

/// The datastore's items for `stored`, in the order IndraDB's memory datastore needs them.
fn items(stored: StoredGraph, build: &str) -> Result<Vec<BulkInsertItem>, StoreError> {
    let mut items = meta_items()?;
    items.push(BulkInsertItem::VertexProperty(meta_id(), identifier("build")?, Json::new(build.into())));
    let mut props = Vec::new();
    for vertex in stored.vertices {
        let kind = identifier(&vertex.kind)?;
        items.push(BulkInsertItem::Vertex(Vertex::with_id(vertex.id, kind)));
        for (name, value) in vertex.props {
            props.push(BulkInsertItem::VertexProperty(vertex.id, identifier(&name)?, Json::new(value)));
        }
    }
    items.append(&mut props);
    for edge in stored.edges {
        let stored = Edge::new(edge.from, identifier(&edge.kind)?, edge.to);
        for (name, value) in edge.props {
            props.push(BulkInsertItem::EdgeProperty(stored.clone(), identifier(&name)?, Json::new(value)));
        }
        items.push(BulkInsertItem::Edge(stored));
    }
    items.append(&mut props);
    Ok(items)
}

/// Serves `served` on `listener` until the process ends, looking at the local graph every
/// `poll` and loading it again when a build changed it; `on_reload` is told of each reload (or of
/// a failed one: the graph served stays as it was).
pub fn run(
    mut served: Served,
    listener: std::net::TcpListener,
    poll: Duration,
    on_reload: impl Fn(Result<Followed, StoreError>) + Send + 'static,
) -> Result<(), StoreError> {
    let address = listener.local_addr().map_or_else(|_| "?".to_owned(), |addr| addr.to_string());
    let failed = |reason: String| StoreError::Unreachable { address: format!("grpc://{address}"), reason };
    listener.set_nonblocking(true).map_err(|err| failed(err.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("codegraph-serve")
        .enable_all()
        .build()
        .map_err(|err| failed(format!("cannot start the gRPC runtime: {err}")))?;
    let db = served.database();
    std::thread::Builder::new()
        .name("codegraph-follow".into())
        .spawn(move || {
            loop {
                std::thread::sleep(poll);
                match served.follow() {
                    Ok(Followed::Unchanged) => {}
                    other => on_reload(other),
                }
            }
        })
        .map_err(|err| failed(format!("cannot start the thread that follows builds: {err}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|err| failed(err.to_string()))?;
        grpc(db, listener).await.map_err(|err| failed(err.to_string()))
    })
}

/// Serves IndraDB's gRPC API over `db` on `listener`: indradb-proto's `run_server`, but with
/// `TCP_NODELAY` on every connection it accepts. Without it, Nagle's algorithm holds the last
/// frames of each answer until the client's delayed acknowledgement, about 40 ms a request
/// (`query callers` through `--db grpc://` took 0.32 s on the 2 M-line graph, nearly all of it
/// waiting).
pub async fn grpc<D>(db: std::sync::Arc<indradb::Database<D>>, listener: tokio::net::TcpListener) -> Result<(), String>
where
    D: indradb::Datastore + Send + Sync + 'static,
{
    let service = indradb_proto::indra_db_server::IndraDbServer::new(indradb_proto::Server::new(db));
    let incoming =
        tonic::transport::server::TcpIncoming::from_listener(listener, true, None).map_err(|err| err.to_string())?;
    tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming(incoming)
        .await
        .map_err(|err| err.to_string())
}

/// Binds `addr`: a clear error when it is taken.
pub fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, StoreError> {
    std::net::TcpListener::bind(addr).map_err(|err| StoreError::Unreachable {
        address: format!("grpc://{addr}"),
        reason: format!("cannot listen there: {err}"),
    })
}
