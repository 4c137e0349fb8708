//! The remote backend: a graph kept by IndraDB's gRPC server (`--db grpc://HOST:PORT`, cargo
//! feature `server`).
//!
//! `RemoteDatastore` is an IndraDB `Datastore` whose transactions are requests to the server
//! (IndraDB's generated gRPC client, on a small tokio runtime of its own), so that the writer and
//! `update::apply` write to a server exactly what they write to the local datastores. Readers do
//! not go through it: `read_graph` pages through the server's vertices, with their properties and
//! their outbound edges, a few requests per ten thousand vertices.
//!
//! The server has no multi-request transactions, so two records in the graph itself say what it
//! holds, and keep builds apart:
//!
//! - The version record (`META_KIND`) carries `build`, the id of the last build that finished,
//!   and `writing`, the id of a build in progress. A build sets `writing` before it changes
//!   anything and, when it is done, sets `build` and removes `writing`. A reader refuses a graph
//!   with `writing` set (a build is running, or one died: `StoreError::Busy` or `HalfWritten`),
//!   and one whose record changed while it read; the next build repairs a half-written graph by a
//!   full build, since the graph's stamp (`stamp`) is then none that its cache recorded.
//! - Leases (`LEASE_KIND`): one vertex per lease, generation `n` at the id `lease_id(n)`. A build
//!   takes the next generation with `create_vertex`, which the server answers `false` for an id
//!   already taken, so of two builds that try at once exactly one gets it, whatever machine they
//!   run on. The holder renews its expiry every third of `lease_ttl` and marks it `released` when
//!   done; a generation that is released, or expired (its holder was killed, or lost the
//!   network), may be followed by the next. Before it commits, a build checks that its generation
//!   is still the newest (`check_lease`): a build that lost its lease never marks the graph done.
//!   Expiry compares clocks across machines: they must agree within a few seconds.
//!
//! This module knows IndraDB's client and datastore API and the store's records; nothing of
//! files, caches or the model beyond `StoredGraph`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use indradb::{
    AllEdgeQuery, AllVertexQuery, BulkInsertItem, CountQueryExt, Datastore, DynIter, Edge,
    EdgeWithPropertyPresenceQuery, EdgeWithPropertyValueQuery, Identifier, Json, Query, QueryExt, QueryOutputValue,
    RangeVertexQuery, SpecificEdgeQuery, SpecificVertexQuery, Transaction, Vertex, VertexWithPropertyPresenceQuery,
    VertexWithPropertyValueQuery, util,
};
use indradb_proto as proto;
use tonic::transport::{Channel, Endpoint};
use uuid::Uuid;

use super::{META_KIND, StoreError, StoredEdge, StoredGraph, StoredVertex, identifier, meta_id};

/// The kind of the lease vertices; like the version record, no part of the code graph.
pub(super) const LEASE_KIND: &str = "codegraph_lease";

/// Vertices asked for per request when a graph is read or cleared.
const PAGE: u32 = 10_000;

/// How long a lease lasts unless renewed. `CODEGRAPH_LEASE_SECS` shortens it (tests of killed
/// builds, which would otherwise wait for it).
fn lease_ttl() -> Duration {
    let secs = std::env::var("CODEGRAPH_LEASE_SECS").ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(30.0);
    Duration::from_secs_f64(secs.clamp(0.2, 3600.0))
}

/// `HOST:PORT` of a `grpc://HOST:PORT` address, or `None` when `db` is not one.
pub fn host_port(db: &str) -> Option<&str> {
    db.strip_prefix("grpc://")
}

/// The error an unreachable or misbehaving server gives, naming its address.
#[derive(Debug)]
struct RemoteError(String);

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RemoteError {}

/// A connection to one server: the gRPC channel and the runtime that drives it.
pub struct Remote {
    address: String,
    runtime: tokio::runtime::Runtime,
    client: proto::ProtoClient<Channel>,
}

impl Remote {
    /// Connects to `address` (`grpc://HOST:PORT`) and pings it.
    pub fn connect(address: &str) -> Result<Arc<Remote>, StoreError> {
        let unreachable =
            |reason: String| StoreError::Unreachable { address: address.to_owned(), reason: reason.to_owned() };
        let host_port = host_port(address).ok_or_else(|| unreachable("not a `grpc://HOST:PORT` address".into()))?;
        let endpoint = Endpoint::from_shared(format!("http://{host_port}"))
            .map_err(|err| unreachable(format!("not a `grpc://HOST:PORT` address ({err})")))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("codegraph-grpc")
            .enable_all()
            .build()
            .map_err(|err| unreachable(format!("cannot start the gRPC runtime: {err}")))?;
        let client = runtime.block_on(async {
            let connector = super::quickack::Connector { host_port: host_port.to_owned() };
            let channel =
                endpoint.connect_with_connector(connector).await.map_err(|err| unreachable(describe(&err)))?;
            let mut client =
                proto::ProtoClient::new(channel).max_decoding_message_size(1 << 30).max_encoding_message_size(1 << 30);
            client.ping(()).await.map_err(|status| unreachable(status.message().to_owned()))?;
            Ok::<_, StoreError>(client)
        })?;
        Ok(Arc::new(Remote { address: address.to_owned(), runtime, client }))
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    fn error(&self, status: tonic::Status) -> indradb::Error {
        // The server reports IndraDB's errors as their text; IndraDB's own client tests map this one.
        if status.code() == tonic::Code::Internal
            && status.message() == "query attempted on a property that isn't indexed"
        {
            return indradb::Error::NotIndexed;
        }
        let reason = if status.code() == tonic::Code::Unavailable || status.code() == tonic::Code::Unknown {
            format!("the connection failed ({})", status.message())
        } else {
            format!("{:?}: {}", status.code(), status.message())
        };
        indradb::Error::Datastore(Box::new(RemoteError(format!("the IndraDB server at `{}`: {reason}", self.address))))
    }

    fn conversion(&self, err: proto::ConversionError) -> indradb::Error {
        indradb::Error::Datastore(Box::new(RemoteError(format!(
            "the IndraDB server at `{}` sent an answer this client cannot read: {err}",
            self.address
        ))))
    }

    pub fn get(&self, q: impl Into<Query>) -> indradb::Result<Vec<QueryOutputValue>> {
        let q: proto::Query = q.into().into();
        let mut client = self.client.clone();
        self.runtime.block_on(async {
            let mut stream = client.get(q).await.map_err(|status| self.error(status))?.into_inner();
            let mut output = Vec::new();
            while let Some(value) = stream.message().await.map_err(|status| self.error(status))? {
                output.push(value.try_into().map_err(|err| self.conversion(err))?);
            }
            Ok(output)
        })
    }

    pub fn delete(&self, q: impl Into<Query>) -> indradb::Result<()> {
        let q: proto::Query = q.into().into();
        let mut client = self.client.clone();
        self.runtime.block_on(client.delete(q)).map_err(|status| self.error(status))?;
        Ok(())
    }

    pub fn set_properties(&self, q: impl Into<Query>, name: Identifier, value: &Json) -> indradb::Result<()> {
        let request = proto::SetPropertiesRequest {
            q: Some(q.into().into()),
            name: Some(name.into()),
            value: Some(value.clone().into()),
        };
        let mut client = self.client.clone();
        self.runtime.block_on(client.set_properties(request)).map_err(|status| self.error(status))?;
        Ok(())
    }

    pub fn create_vertex(&self, vertex: &Vertex) -> indradb::Result<bool> {
        let mut client = self.client.clone();
        let response = self
            .runtime
            .block_on(client.create_vertex(proto::Vertex::from(vertex.clone())))
            .map_err(|status| self.error(status))?;
        Ok(response.into_inner().created)
    }

    pub fn create_edge(&self, edge: &Edge) -> indradb::Result<bool> {
        let mut client = self.client.clone();
        let response = self
            .runtime
            .block_on(client.create_edge(proto::Edge::from(edge.clone())))
            .map_err(|status| self.error(status))?;
        Ok(response.into_inner().created)
    }

    /// One streamed request: the server applies the items in the order sent, in one datastore
    /// `bulk_insert`.
    pub fn bulk_insert(&self, items: Vec<BulkInsertItem>) -> indradb::Result<()> {
        let stream = tokio_stream::iter(items.into_iter().map(proto::BulkInsertItem::from));
        let mut client = self.client.clone();
        self.runtime.block_on(client.bulk_insert(stream)).map_err(|status| self.error(status))?;
        Ok(())
    }

    pub fn index_property(&self, name: Identifier) -> indradb::Result<()> {
        let request = proto::IndexPropertyRequest { name: Some(name.into()) };
        let mut client = self.client.clone();
        self.runtime.block_on(client.index_property(request)).map_err(|status| self.error(status))?;
        Ok(())
    }

    pub fn sync(&self) -> indradb::Result<()> {
        let mut client = self.client.clone();
        self.runtime.block_on(client.sync(())).map_err(|status| self.error(status))?;
        Ok(())
    }

    fn vertices(&self, q: impl Into<Query>) -> indradb::Result<Vec<Vertex>> {
        util::extract_vertices(self.get(q)?).ok_or(indradb::Error::Unsupported)
    }

    fn edges(&self, q: impl Into<Query>) -> indradb::Result<Vec<Edge>> {
        util::extract_edges(self.get(q)?).ok_or(indradb::Error::Unsupported)
    }

    fn count(&self, q: impl Into<Query>) -> indradb::Result<u64> {
        util::extract_count(self.get(q)?).ok_or(indradb::Error::Unsupported)
    }

    /// The properties of the version record, or `None` when the server holds none.
    fn meta(&self) -> indradb::Result<Option<Vec<(String, serde_json::Value)>>> {
        let q = SpecificVertexQuery::single(meta_id()).properties().map_err(indradb::Error::Invalid)?;
        let found = util::extract_vertex_properties(self.get(q)?).ok_or(indradb::Error::Unsupported)?;
        Ok(found
            .into_iter()
            .next()
            .map(|vp| vp.props.into_iter().map(|p| (p.name.as_str().to_owned(), (*p.value.0).clone())).collect()))
    }
}

/// A transport error's innermost cause, which says what failed (refused, timed out, no such host).
fn describe(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text = inner.to_string();
        source = inner.source();
    }
    text
}

/// An IndraDB datastore on a server (see the module's comment). Cheap to clone.
#[derive(Clone)]
pub struct RemoteDatastore(pub Arc<Remote>);

impl Datastore for RemoteDatastore {
    type Transaction<'a> = RemoteTransaction<'a>;

    fn transaction(&self) -> RemoteTransaction<'_> {
        RemoteTransaction { remote: &self.0 }
    }
}

/// Each call is one or a few requests; nothing is held between them (the server has no
/// transactions to hold).
pub struct RemoteTransaction<'a> {
    remote: &'a Remote,
}

fn boxed<'a, T: 'a>(items: Vec<T>) -> DynIter<'a, T> {
    Box::new(items.into_iter().map(Ok))
}

fn successor(id: Uuid) -> Option<Uuid> {
    id.as_u128().checked_add(1).map(Uuid::from_u128)
}

/// Edges in key order from `offset` on, fetched a vertex range at a time as they are asked for:
/// `update::apply` reads the edges of one vertex and stops at the first edge of the next, which
/// must not cost a read of the whole graph. `reversed` walks the reversed keys (inbound edges).
struct EdgePages<'a> {
    remote: &'a Remote,
    reversed: bool,
    offset: Edge,
    buffer: std::vec::IntoIter<Edge>,
    /// The next vertex whose edges are not read yet; `None` when every vertex was.
    next: Option<Uuid>,
    first: bool,
}

impl EdgePages<'_> {
    fn fill(&mut self) -> indradb::Result<()> {
        let Some(start) = self.next else { return Ok(()) };
        // The offset's own vertex alone first: that is all `update::apply` wants.
        let limit = if self.first { 1 } else { 64 };
        self.first = false;
        let vertices = RangeVertexQuery::new().start_id(start).limit(limit);
        let piped = if self.reversed { vertices.inbound() } else { vertices.outbound() };
        let piped = piped.map_err(indradb::Error::Invalid)?;
        let mut edges: Vec<Edge> = self.remote.edges(piped)?;
        let mut last = None;
        let ids = self.remote.vertices(RangeVertexQuery::new().start_id(start).limit(limit))?;
        if let Some(vertex) = ids.last() {
            last = Some(vertex.id);
        }
        if self.reversed {
            edges = edges.into_iter().map(|edge| edge.reversed()).collect();
        }
        edges.retain(|edge| *edge >= self.offset);
        edges.sort();
        self.next = match (ids.len() as u32) < limit {
            true => None,
            false => last.and_then(successor),
        };
        self.buffer = edges.into_iter();
        Ok(())
    }
}

impl Iterator for EdgePages<'_> {
    type Item = indradb::Result<Edge>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(edge) = self.buffer.next() {
                return Some(Ok(edge));
            }
            self.next?;
            if let Err(err) = self.fill() {
                self.next = None;
                return Some(Err(err));
            }
        }
    }
}

impl<'a> RemoteTransaction<'a> {
    fn edge_pages(&self, offset: Edge, reversed: bool) -> DynIter<'a, Edge> {
        let next = Some(offset.outbound_id);
        let remote = self.remote;
        Box::new(EdgePages { remote, reversed, offset, buffer: Vec::new().into_iter(), next, first: true })
    }

    fn single_property(output: Vec<QueryOutputValue>, vertex: bool) -> indradb::Result<Option<Json>> {
        let values: Vec<Json> = if vertex {
            util::extract_vertex_properties(output)
                .ok_or(indradb::Error::Unsupported)?
                .into_iter()
                .flat_map(|vp| vp.props.into_iter().map(|p| p.value))
                .collect()
        } else {
            util::extract_edge_properties(output)
                .ok_or(indradb::Error::Unsupported)?
                .into_iter()
                .flat_map(|ep| ep.props.into_iter().map(|p| p.value))
                .collect()
        };
        Ok(values.into_iter().next())
    }
}

impl<'a> Transaction<'a> for RemoteTransaction<'a> {
    fn vertex_count(&self) -> u64 {
        // The trait has no room for an error: an unreachable server counts nothing.
        self.remote.count(AllVertexQuery.count().expect("a count of all vertices is a valid query")).unwrap_or(0)
    }

    fn all_vertices(&'a self) -> indradb::Result<DynIter<'a, Vertex>> {
        Ok(boxed(self.remote.vertices(AllVertexQuery)?))
    }

    fn range_vertices(&'a self, offset: Uuid) -> indradb::Result<DynIter<'a, Vertex>> {
        Ok(boxed(self.remote.vertices(RangeVertexQuery::new().start_id(offset))?))
    }

    fn specific_vertices(&'a self, ids: Vec<Uuid>) -> indradb::Result<DynIter<'a, Vertex>> {
        Ok(boxed(self.remote.vertices(SpecificVertexQuery::new(ids))?))
    }

    fn vertex_ids_with_property(&'a self, name: Identifier) -> indradb::Result<Option<DynIter<'a, Uuid>>> {
        let vertices = self.remote.vertices(VertexWithPropertyPresenceQuery::new(name))?;
        Ok(Some(boxed(vertices.into_iter().map(|v| v.id).collect())))
    }

    fn vertex_ids_with_property_value(
        &'a self,
        name: Identifier,
        value: &Json,
    ) -> indradb::Result<Option<DynIter<'a, Uuid>>> {
        let vertices = self.remote.vertices(VertexWithPropertyValueQuery::new(name, value.clone()))?;
        Ok(Some(boxed(vertices.into_iter().map(|v| v.id).collect())))
    }

    fn edge_count(&self) -> u64 {
        self.remote.count(AllEdgeQuery.count().expect("a count of all edges is a valid query")).unwrap_or(0)
    }

    fn all_edges(&'a self) -> indradb::Result<DynIter<'a, Edge>> {
        let mut edges = self.remote.edges(AllEdgeQuery)?;
        edges.sort();
        Ok(boxed(edges))
    }

    fn range_edges(&'a self, offset: Edge) -> indradb::Result<DynIter<'a, Edge>> {
        Ok(self.edge_pages(offset, false))
    }

    fn range_reversed_edges(&'a self, offset: Edge) -> indradb::Result<DynIter<'a, Edge>> {
        Ok(self.edge_pages(offset, true))
    }

    fn specific_edges(&'a self, edges: Vec<Edge>) -> indradb::Result<DynIter<'a, Edge>> {
        Ok(boxed(self.remote.edges(SpecificEdgeQuery::new(edges))?))
    }

    fn edges_with_property(&'a self, name: Identifier) -> indradb::Result<Option<DynIter<'a, Edge>>> {
        Ok(Some(boxed(self.remote.edges(EdgeWithPropertyPresenceQuery::new(name))?)))
    }

    fn edges_with_property_value(
        &'a self,
        name: Identifier,
        value: &Json,
    ) -> indradb::Result<Option<DynIter<'a, Edge>>> {
        Ok(Some(boxed(self.remote.edges(EdgeWithPropertyValueQuery::new(name, value.clone()))?)))
    }

    fn vertex_property(&self, vertex: &Vertex, name: Identifier) -> indradb::Result<Option<Json>> {
        let q = SpecificVertexQuery::single(vertex.id).properties().map_err(indradb::Error::Invalid)?.name(name);
        Self::single_property(self.remote.get(q)?, true)
    }

    fn all_vertex_properties_for_vertex(&'a self, vertex: &Vertex) -> indradb::Result<DynIter<'a, (Identifier, Json)>> {
        let q = SpecificVertexQuery::single(vertex.id).properties().map_err(indradb::Error::Invalid)?;
        let found = util::extract_vertex_properties(self.remote.get(q)?).ok_or(indradb::Error::Unsupported)?;
        Ok(boxed(found.into_iter().flat_map(|vp| vp.props.into_iter().map(|p| (p.name, p.value))).collect()))
    }

    fn edge_property(&self, edge: &Edge, name: Identifier) -> indradb::Result<Option<Json>> {
        let q = SpecificEdgeQuery::single(edge.clone()).properties().map_err(indradb::Error::Invalid)?.name(name);
        Self::single_property(self.remote.get(q)?, false)
    }

    fn all_edge_properties_for_edge(&'a self, edge: &Edge) -> indradb::Result<DynIter<'a, (Identifier, Json)>> {
        let q = SpecificEdgeQuery::single(edge.clone()).properties().map_err(indradb::Error::Invalid)?;
        let found = util::extract_edge_properties(self.remote.get(q)?).ok_or(indradb::Error::Unsupported)?;
        Ok(boxed(found.into_iter().flat_map(|ep| ep.props.into_iter().map(|p| (p.name, p.value))).collect()))
    }

    fn delete_vertices(&mut self, vertices: Vec<Vertex>) -> indradb::Result<()> {
        self.remote.delete(SpecificVertexQuery::new(vertices.into_iter().map(|v| v.id).collect()))
    }

    fn delete_edges(&mut self, edges: Vec<Edge>) -> indradb::Result<()> {
        self.remote.delete(SpecificEdgeQuery::new(edges))
    }

    fn delete_vertex_properties(&mut self, props: Vec<(Uuid, Identifier)>) -> indradb::Result<()> {
        for (id, name) in props {
            let q = SpecificVertexQuery::single(id).properties().map_err(indradb::Error::Invalid)?.name(name);
            self.remote.delete(q)?;
        }
        Ok(())
    }

    fn delete_edge_properties(&mut self, props: Vec<(Edge, Identifier)>) -> indradb::Result<()> {
        for (edge, name) in props {
            let q = SpecificEdgeQuery::single(edge).properties().map_err(indradb::Error::Invalid)?.name(name);
            self.remote.delete(q)?;
        }
        Ok(())
    }

    fn sync(&self) -> indradb::Result<()> {
        self.remote.sync()
    }

    fn create_vertex(&mut self, vertex: &Vertex) -> indradb::Result<bool> {
        self.remote.create_vertex(vertex)
    }

    fn create_edge(&mut self, edge: &Edge) -> indradb::Result<bool> {
        self.remote.create_edge(edge)
    }

    fn bulk_insert(&mut self, items: Vec<BulkInsertItem>) -> indradb::Result<()> {
        self.remote.bulk_insert(items)
    }

    fn index_property(&mut self, name: Identifier) -> indradb::Result<()> {
        self.remote.index_property(name)
    }

    fn set_vertex_properties(&mut self, vertex_ids: Vec<Uuid>, name: Identifier, value: &Json) -> indradb::Result<()> {
        self.remote.set_properties(SpecificVertexQuery::new(vertex_ids), name, value)
    }

    fn set_edge_properties(&mut self, edges: Vec<Edge>, name: Identifier, value: &Json) -> indradb::Result<()> {
        self.remote.set_properties(SpecificEdgeQuery::new(edges), name, value)
    }
}

/// What the version record says of the graph's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// No version record: no graph (or not a cargo-codegraph one, which `read_graph` tells apart).
    Empty,
    /// A finished build, by its id.
    Built(String),
    /// A build was writing it, and had not finished when the record was read.
    Writing(String),
}

fn state_of(meta: &Option<Vec<(String, serde_json::Value)>>) -> State {
    let Some(props) = meta else { return State::Empty };
    let get = |name: &str| props.iter().find(|(n, _)| n == name).and_then(|(_, v)| v.as_str().map(str::to_owned));
    match (get("writing"), get("build")) {
        (Some(writing), _) => State::Writing(writing),
        (None, Some(build)) => State::Built(build),
        // A record without a build id was written by the writer of a build that never finished.
        (None, None) => State::Writing(String::new()),
    }
}

/// The graph's stamp for caches: the id of the finished build it holds, or `None` when it holds
/// none (missing, half-written, being written, or the server unreachable).
pub fn stamp(address: &str) -> Option<String> {
    let remote = Remote::connect(address).ok()?;
    match state_of(&remote.meta().ok()?) {
        State::Built(build) => Some(format!("grpc:{build}")),
        _ => None,
    }
}

fn indradb_err(address: &str, err: indradb::Error) -> StoreError {
    StoreError::Unreadable { path: address.into(), reason: err.to_string() }
}

/// The refusal of a graph that a build is writing or left half-written.
fn refusal(remote: &Remote) -> StoreError {
    let address = remote.address().into();
    match newest_lease(remote) {
        Ok(Some(lease)) if lease.is_live() => StoreError::Busy { path: address },
        _ => StoreError::HalfWritten { path: address },
    }
}

/// Reads the whole graph from the server: a few requests per `PAGE` vertices. Refuses a graph
/// that is being written or was left half-written, and one that a build changed while it was
/// read (the version record is read before and after).
pub fn read_graph(address: &str) -> Result<StoredGraph, StoreError> {
    let remote = Remote::connect(address)?;
    let err = |err| indradb_err(address, err);
    let before = remote.meta().map_err(err)?;
    let built = match state_of(&before) {
        State::Empty => {
            let any = remote.vertices(RangeVertexQuery::new().limit(1)).map_err(err)?;
            return Err(match any.is_empty() {
                true => StoreError::Missing { path: address.into() },
                false => StoreError::Unreadable {
                    path: address.into(),
                    reason: "it has no cargo-codegraph version record".into(),
                },
            });
        }
        State::Writing(_) => return Err(refusal(&remote)),
        State::Built(build) => build,
    };
    check_meta(&before, address)?;
    let mut graph = StoredGraph::default();
    let mut start = Some(Uuid::nil());
    let (meta_kind, lease_kind) = (identifier(META_KIND)?, identifier(LEASE_KIND)?);
    while let Some(from) = start {
        let range = RangeVertexQuery::new().start_id(from).limit(PAGE);
        // `include`: the vertices and edges themselves too, since IndraDB leaves those without
        // properties out of a properties query's answer.
        let invalid = |err| indradb_err(address, indradb::Error::Invalid(err));
        let vertices_q = range.clone().include().properties().map_err(invalid)?;
        let (vertices, vertex_props) = split(remote.get(vertices_q).map_err(err)?);
        let edges_q = range.outbound().map_err(invalid)?.include().properties().map_err(invalid)?;
        let (edges, edge_props) = split(remote.get(edges_q).map_err(err)?);
        let (Some(QueryOutputValue::Vertices(vertices)), Some(QueryOutputValue::VertexProperties(vertex_props))) =
            (vertices, vertex_props)
        else {
            return Err(indradb_err(address, indradb::Error::Unsupported));
        };
        let (Some(QueryOutputValue::Edges(edges)), Some(QueryOutputValue::EdgeProperties(edge_props))) =
            (edges, edge_props)
        else {
            return Err(indradb_err(address, indradb::Error::Unsupported));
        };
        start = match vertices.len() < PAGE as usize {
            true => None,
            false => vertices.last().and_then(|vertex| successor(vertex.id)),
        };
        let mut vertex_props: std::collections::HashMap<Uuid, Vec<indradb::NamedProperty>> =
            vertex_props.into_iter().map(|vp| (vp.vertex.id, vp.props)).collect();
        for vertex in vertices {
            if vertex.t == meta_kind || vertex.t == lease_kind {
                continue;
            }
            let props = vertex_props.remove(&vertex.id).unwrap_or_default();
            let props = props.into_iter().map(|p| (p.name.as_str().to_owned(), (*p.value.0).clone())).collect();
            graph.vertices.push(StoredVertex { id: vertex.id, kind: vertex.t.as_str().to_owned(), props });
        }
        let mut edge_props: std::collections::HashMap<Edge, Vec<indradb::NamedProperty>> =
            edge_props.into_iter().map(|ep| (ep.edge, ep.props)).collect();
        for edge in edges {
            let props = edge_props.remove(&edge).unwrap_or_default();
            let props = props.into_iter().map(|p| (p.name.as_str().to_owned(), (*p.value.0).clone())).collect();
            graph.edges.push(StoredEdge {
                from: edge.outbound_id,
                kind: edge.t.as_str().to_owned(),
                to: edge.inbound_id,
                props,
            });
        }
    }
    let after = remote.meta().map_err(err)?;
    if state_of(&after) != State::Built(built) {
        return Err(match state_of(&after) {
            State::Writing(_) => refusal(&remote),
            _ => StoreError::Busy { path: address.into() },
        });
    }
    graph.vertices.sort_by_key(|v| v.id);
    graph.edges.sort_by(|a, b| (a.from, &a.kind, a.to).cmp(&(b.from, &b.kind, b.to)));
    Ok(graph)
}

/// A graph on a server read a few vertices at a time, for readers that need only those
/// (`store::answer`): the vertices a partial snapshot (`Graph::partial`) was asked for, their
/// edges and the vertices at the other ends, each round a few requests. The version record is
/// read when it starts and again when it is done (`finish`), as `read_graph` does, so that a
/// graph a build changed in between is refused rather than read half old, half new.
pub struct Neighbourhood {
    remote: Arc<Remote>,
    built: String,
    vertices: std::collections::BTreeMap<Uuid, StoredVertex>,
    edges: std::collections::BTreeMap<(Uuid, String, Uuid), StoredEdge>,
    known: super::graph::Known,
}

impl Neighbourhood {
    /// Connects, and refuses a graph that is missing, being written or half-written, as
    /// `read_graph` does.
    pub fn open(address: &str) -> Result<Neighbourhood, StoreError> {
        let remote = Remote::connect(address)?;
        let meta = remote.meta().map_err(|err| indradb_err(address, err))?;
        let built = match state_of(&meta) {
            State::Built(build) => build,
            State::Writing(_) => return Err(refusal(&remote)),
            // Whether it holds nothing or a graph not ours, `read_graph` tells (and fails).
            State::Empty => {
                return Err(read_graph(address).err().unwrap_or(StoreError::Missing { path: address.into() }));
            }
        };
        check_meta(&meta, address)?;
        Ok(Neighbourhood {
            remote,
            built,
            vertices: Default::default(),
            edges: Default::default(),
            known: Default::default(),
        })
    }

    /// What is fetched so far, as a partial snapshot's parts.
    pub fn snapshot(&self) -> (StoredGraph, super::graph::Known) {
        let graph = StoredGraph {
            vertices: self.vertices.values().cloned().collect(),
            edges: self.edges.values().cloned().collect(),
        };
        (graph, self.known.clone())
    }

    /// Fetches what a reader wanted of the snapshot (`Graph::wanted`; `whole` is the caller's).
    pub fn fetch(&mut self, wanted: &super::graph::Wanted) -> Result<(), StoreError> {
        let address = self.remote.address().to_owned();
        let err = |err| indradb_err(&address, err);
        let invalid = |err| indradb_err(&address, indradb::Error::Invalid(err));
        for (prop, value) in &wanted.look_ups {
            let q = VertexWithPropertyValueQuery::new(identifier(prop)?, Json::new(value.clone().into()));
            self.add_vertices(q.include().properties().map_err(invalid)?)?;
            self.known.looked_up.insert((prop.clone(), value.clone()));
        }
        if !wanted.ids.is_empty() {
            let ids: Vec<Uuid> = wanted.ids.iter().copied().collect();
            self.add_vertices(SpecificVertexQuery::new(ids.clone()).include().properties().map_err(invalid)?)?;
            self.known.ids_fetched.extend(ids);
        }
        if !wanted.expand.is_empty() {
            let ids: Vec<Uuid> = wanted.expand.iter().copied().collect();
            let vertices = SpecificVertexQuery::new(ids.clone());
            // The vertices themselves too, should a reader have named one by an edge alone.
            self.add_vertices(vertices.clone().include().properties().map_err(invalid)?)?;
            let mut ends = std::collections::BTreeSet::new();
            for piped in [vertices.clone().outbound(), vertices.inbound()] {
                let q = piped.map_err(invalid)?.include().properties().map_err(invalid)?;
                let (Some(QueryOutputValue::Edges(edges)), Some(QueryOutputValue::EdgeProperties(props))) =
                    split(self.remote.get(q).map_err(err)?)
                else {
                    return Err(indradb_err(&address, indradb::Error::Unsupported));
                };
                let mut props: std::collections::HashMap<Edge, Vec<indradb::NamedProperty>> =
                    props.into_iter().map(|ep| (ep.edge, ep.props)).collect();
                for edge in edges {
                    let named = props.remove(&edge).unwrap_or_default();
                    ends.insert(edge.outbound_id);
                    ends.insert(edge.inbound_id);
                    let stored = StoredEdge {
                        from: edge.outbound_id,
                        kind: edge.t.as_str().to_owned(),
                        to: edge.inbound_id,
                        props: named.into_iter().map(|p| (p.name.as_str().to_owned(), (*p.value.0).clone())).collect(),
                    };
                    self.edges.insert((stored.from, stored.kind.clone(), stored.to), stored);
                }
            }
            let missing: Vec<Uuid> = ends.into_iter().filter(|id| !self.vertices.contains_key(id)).collect();
            if !missing.is_empty() {
                self.add_vertices(SpecificVertexQuery::new(missing).include().properties().map_err(invalid)?)?;
            }
            self.known.expanded.extend(ids);
        }
        Ok(())
    }

    fn add_vertices(&mut self, q: impl Into<Query>) -> Result<(), StoreError> {
        let address = self.remote.address();
        let (Some(QueryOutputValue::Vertices(vertices)), Some(QueryOutputValue::VertexProperties(props))) =
            split(self.remote.get(q).map_err(|err| indradb_err(address, err))?)
        else {
            return Err(indradb_err(address, indradb::Error::Unsupported));
        };
        let (meta_kind, lease_kind) = (identifier(META_KIND)?, identifier(LEASE_KIND)?);
        let mut props: std::collections::HashMap<Uuid, Vec<indradb::NamedProperty>> =
            props.into_iter().map(|vp| (vp.vertex.id, vp.props)).collect();
        for vertex in vertices {
            if vertex.t == meta_kind || vertex.t == lease_kind {
                continue;
            }
            let named = props.remove(&vertex.id).unwrap_or_default();
            let props = named.into_iter().map(|p| (p.name.as_str().to_owned(), (*p.value.0).clone())).collect();
            self.vertices.insert(vertex.id, StoredVertex { id: vertex.id, kind: vertex.t.as_str().to_owned(), props });
        }
        Ok(())
    }

    /// Fails unless the graph still holds the build it held when this started.
    pub fn finish(&self) -> Result<(), StoreError> {
        let address = self.remote.address();
        let after = self.remote.meta().map_err(|err| indradb_err(address, err))?;
        match state_of(&after) {
            State::Built(build) if build == self.built => Ok(()),
            State::Writing(_) => Err(refusal(&self.remote)),
            _ => Err(StoreError::Busy { path: address.into() }),
        }
    }
}

/// The two values of an `include`d query's answer: the included one, then the last.
fn split(mut output: Vec<QueryOutputValue>) -> (Option<QueryOutputValue>, Option<QueryOutputValue>) {
    let last = output.pop();
    (output.pop(), last)
}

/// The schema check of `check_version`, on the record's properties as read.
fn check_meta(meta: &Option<Vec<(String, serde_json::Value)>>, address: &str) -> Result<(), StoreError> {
    let props = meta.as_deref().unwrap_or_default();
    let get = |name: &str| props.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let schema = get("schema");
    if schema.as_ref().and_then(serde_json::Value::as_u64) != Some(u64::from(crate::model::SCHEMA_VERSION)) {
        return Err(StoreError::Schema {
            path: address.into(),
            found: schema.map_or_else(|| "?".to_owned(), |s| s.to_string()),
            tool: get("tool_version").and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_else(|| "?".into()),
            expected: crate::model::SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// A build's hold on a server's graph: taken by `store::lock` for builds, renewed on a thread of
/// its own, released when dropped (or, if the process dies, expired after `lease_ttl`).
pub struct Lease {
    remote: Arc<Remote>,
    generation: u64,
    stop: Arc<AtomicBool>,
    renewer: Option<std::thread::JoinHandle<()>>,
}

/// This process's name in the leases it takes: host, process id and start time.
fn owner() -> &'static str {
    static OWNER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    OWNER.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| "unknown-host".into());
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        format!("{host}:{}:{nanos}", std::process::id())
    })
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The id of a lease's generation: a fixed high half (from the namespace) and the generation as
/// the low half, so that a lease read back tells its generation even before its properties are
/// written.
fn lease_id(generation: u64) -> Uuid {
    let (high, _) = Uuid::new_v5(&crate::ids::NAMESPACE, LEASE_KIND.as_bytes()).as_u64_pair();
    Uuid::from_u64_pair(high, generation)
}

/// A lease vertex as read.
#[derive(Debug)]
struct LeaseRecord {
    generation: u64,
    owner: Option<String>,
    expires: Option<u64>,
    released: bool,
}

impl LeaseRecord {
    fn is_live(&self) -> bool {
        // A lease whose holder died between creating it and writing its expiry has none: it is
        // taken for live for one lease time after its generation was written (`created`).
        !self.released && self.expires.is_none_or(|expires| expires > now_ms())
    }
}

/// The lease of the highest generation, if any.
///
/// The vertices are listed, not only their properties: a build killed between creating its
/// lease's vertex and writing its first property leaves a vertex with none, which a properties
/// query does not return. Missed, that generation looked free to `acquire`, whose creating it
/// failed (it exists) again and again, a busy loop that no later build left. Then the newest
/// lease's properties alone are read (one lease is left per build).
fn newest_lease(remote: &Remote) -> indradb::Result<Option<LeaseRecord>> {
    let q = RangeVertexQuery::new().t(identifier(LEASE_KIND).map_err(|_| indradb::Error::Unsupported)?);
    let vertices = util::extract_vertices(remote.get(q)?).ok_or(indradb::Error::Unsupported)?;
    let generation_of = |id: Uuid| Some(id.as_u64_pair().1).filter(|&generation| id == lease_id(generation));
    let Some(generation) = vertices.iter().filter_map(|vertex| generation_of(vertex.id)).max() else {
        return Ok(None);
    };
    let q = SpecificVertexQuery::single(lease_id(generation)).properties().map_err(indradb::Error::Invalid)?;
    let found = util::extract_vertex_properties(remote.get(q)?).ok_or(indradb::Error::Unsupported)?;
    // None when the holder wrote none yet (or was killed first): `acquire` waits a lease time.
    let props = found.into_iter().next().map(|vp| vp.props);
    let get = |name: &str| props.as_ref()?.iter().find(|p| p.name.as_str() == name).map(|p| (*p.value.0).clone());
    Ok(Some(LeaseRecord {
        generation,
        owner: get("owner").and_then(|v| v.as_str().map(str::to_owned)),
        expires: get("expires").and_then(|v| v.as_u64()),
        released: get("released").and_then(|v| v.as_bool()).unwrap_or(false),
    }))
}

/// Takes the server's lease for a build: at once, or after waiting for the holder (calling
/// `on_wait` once) unless `wait` is false, which fails with `StoreError::Locked`.
pub fn acquire(address: &str, wait: bool, on_wait: impl FnOnce()) -> Result<Lease, StoreError> {
    let remote = Remote::connect(address)?;
    let err = |err| indradb_err(address, err);
    let mut on_wait = Some(on_wait);
    // A lease without an expiry, with the time it was first seen.
    let mut unexpiring: Option<(u64, std::time::Instant)> = None;
    loop {
        let newest = newest_lease(&remote).map_err(err)?;
        let free = match &newest {
            None => true,
            Some(lease) if lease.expires.is_none() && !lease.released => match unexpiring {
                Some((generation, seen)) if generation == lease.generation => seen.elapsed() > lease_ttl(),
                _ => {
                    unexpiring = Some((lease.generation, std::time::Instant::now()));
                    false
                }
            },
            Some(lease) => !lease.is_live(),
        };
        if free {
            let generation = newest.as_ref().map_or(1, |lease| lease.generation + 1);
            let vertex = Vertex::with_id(lease_id(generation), identifier(LEASE_KIND)?);
            if remote.create_vertex(&vertex).map_err(err)? {
                let id = vertex.id;
                let set = |name: &str, value: serde_json::Value| -> Result<(), StoreError> {
                    remote
                        .set_properties(SpecificVertexQuery::single(id), identifier(name)?, &Json::new(value))
                        .map_err(err)
                };
                set("owner", owner().into())?;
                set("expires", (now_ms() + lease_ttl().as_millis() as u64).into())?;
                // Earlier generations are history: removed, so that listing the leases stays short.
                if generation > 1 {
                    let old: Vec<Uuid> = (generation.saturating_sub(8).max(1)..generation).map(lease_id).collect();
                    remote.delete(SpecificVertexQuery::new(old)).map_err(err)?;
                }
                return Ok(Lease::start(remote, generation));
            }
            // Another build took this generation first.
            continue;
        }
        if !wait {
            return Err(StoreError::Locked { path: address.into() });
        }
        if let Some(on_wait) = on_wait.take() {
            on_wait();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").field("address", &self.remote.address).field("generation", &self.generation).finish()
    }
}

impl Lease {
    fn start(remote: Arc<Remote>, generation: u64) -> Lease {
        let stop = Arc::new(AtomicBool::new(false));
        let renewer = {
            let (remote, stop) = (remote.clone(), stop.clone());
            std::thread::Builder::new()
                .name("codegraph-lease".into())
                .spawn(move || {
                    let period = lease_ttl() / 3;
                    let id = lease_id(generation);
                    let step = Duration::from_millis(50).min(period);
                    let mut waited = Duration::ZERO;
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(step);
                        waited += step;
                        if waited < period {
                            continue;
                        }
                        waited = Duration::ZERO;
                        let expires = Json::new((now_ms() + lease_ttl().as_millis() as u64).into());
                        // A failed renewal is retried next time; `check_lease` catches a lost lease.
                        if let Ok(name) = identifier("expires") {
                            let _ = remote.set_properties(SpecificVertexQuery::single(id), name, &expires);
                        }
                    }
                })
                .ok()
        };
        Lease { remote, generation, stop, renewer }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(renewer) = self.renewer.take() {
            let _ = renewer.join();
        }
        if let Ok(name) = identifier("released") {
            let _ = self.remote.set_properties(
                SpecificVertexQuery::single(lease_id(self.generation)),
                name,
                &Json::new(true.into()),
            );
        }
    }
}

/// Fails unless this process holds the newest lease, live: a build checks it before it marks the
/// graph finished.
fn check_lease(remote: &Remote) -> Result<(), StoreError> {
    let newest = newest_lease(remote).map_err(|err| indradb_err(remote.address(), err))?;
    match newest {
        Some(lease) if lease.owner.as_deref() == Some(owner()) && lease.is_live() => Ok(()),
        _ => Err(StoreError::LeaseLost { path: remote.address().into() }),
    }
}

/// A build's graph on a server, from before its first write until `commit`.
pub struct Staging {
    remote: Arc<Remote>,
    build: String,
}

impl Staging {
    /// For a build that holds the server's lease (`acquire`): connects, checks the lease, and
    /// marks the graph as being written by a new build. With `clear`, a full build, everything
    /// but the version record and the leases is removed (edges first: IndraDB's memory datastore
    /// scans every edge for each vertex it deletes).
    pub fn begin(address: &str, clear: bool) -> Result<Staging, StoreError> {
        let remote = Remote::connect(address)?;
        let err = |err| indradb_err(address, err);
        check_lease(&remote)?;
        let build = Uuid::new_v4().to_string();
        let meta = Vertex::with_id(meta_id(), identifier(META_KIND)?);
        remote.create_vertex(&meta).map_err(err)?;
        remote
            .set_properties(
                SpecificVertexQuery::single(meta_id()),
                identifier("writing")?,
                &Json::new(build.clone().into()),
            )
            .map_err(err)?;
        if clear {
            remote.delete(AllEdgeQuery).map_err(err)?;
            let (meta_kind, lease_kind) = (identifier(META_KIND)?, identifier(LEASE_KIND)?);
            let mut start = Some(Uuid::nil());
            while let Some(from) = start {
                let page = remote.vertices(RangeVertexQuery::new().start_id(from).limit(PAGE)).map_err(err)?;
                start = match page.len() < PAGE as usize {
                    true => None,
                    false => page.last().and_then(|v| successor(v.id)),
                };
                let ids: Vec<Uuid> =
                    page.into_iter().filter(|v| v.t != meta_kind && v.t != lease_kind).map(|v| v.id).collect();
                if !ids.is_empty() {
                    remote.delete(SpecificVertexQuery::new(ids)).map_err(err)?;
                }
            }
            // Whatever the last build's version record said, but the marks, is written again by
            // the writer; `build` goes now, so that a half-written graph never names it.
            let q =
                SpecificVertexQuery::single(meta_id()).properties().map_err(indradb::Error::Invalid).map_err(err)?;
            remote.delete(q.name(identifier("build")?)).map_err(err)?;
            // Readers look vertices up by these. Indexed now, on a server that holds nothing
            // else, it is free, and the server keeps the index up to date as vertices arrive and
            // go (a RocksDB server keeps it on disk too): an update leaves it alone, since
            // IndraDB's memory datastore indexes a property again over the whole graph each time
            // it is asked (7 of the 8 s of an update after a one-line edit on the 2 M-line graph).
            for name in super::INDEXED_PROPERTIES {
                remote.index_property(identifier(name)?).map_err(err)?;
            }
        }
        Ok(Staging { remote, build })
    }

    pub fn datastore(&self) -> RemoteDatastore {
        RemoteDatastore(self.remote.clone())
    }

    /// Marks the graph finished: it now holds this build. Fails, leaving it marked as being
    /// written, when this process no longer holds the lease.
    pub fn commit(self) -> Result<(), StoreError> {
        let err = |err| indradb_err(self.remote.address(), err);
        check_lease(&self.remote)?;
        let id = SpecificVertexQuery::single(meta_id());
        self.remote
            .set_properties(id.clone(), identifier("build")?, &Json::new(self.build.clone().into()))
            .map_err(err)?;
        let writing = id.properties().map_err(indradb::Error::Invalid).map_err(err)?.name(identifier("writing")?);
        self.remote.delete(writing).map_err(err)?;
        Ok(())
    }
}
