//! `Graph`: a read-only snapshot of a stored graph, the one API that every reader uses (`stats`,
//! `export`, `check`, `query`, `mcp`).
//!
//! Vertices are numbered densely (`V`, in the order of their ids) and edges too (`E`, in the order
//! of (from, kind, to), with kinds ordered by name, as `export` writes them), so that readers work
//! on `u32` indices rather than hashing UUIDs. Out- and in-edges of each vertex are kept as
//! compressed adjacency lists; look-ups by `path` and by `name` go through indices built on first
//! use. Properties are read through typed accessors (`text`, `uint`, `flag`) that borrow from the
//! snapshot, so that a reader never clones a value it only looks at; `props` gives them all, owned.
//!
//! Readers see kinds as `model`'s enums and properties as JSON values; nothing here leaks an
//! IndraDB type or says how the bytes were laid out on disk. Where the properties live is
//! `PropTable`'s business: decoded maps (`Graph::from_stored`, RocksDB graphs), or spans of a
//! msgpack image read lazily.
//!
//! A snapshot may also be partial (`Graph::partial`): a few vertices of a graph kept by a server,
//! those whose edges are all there, and the look-ups it answers in full. A reader runs on it as
//! on a whole graph; whatever it asks beyond what is there is noted (`Graph::wanted`), so that
//! `store::answer` fetches that and runs the reader again, until it asks for nothing more.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, OnceLock};

use rustc_hash::FxHasher;
use serde_json::Value;
use uuid::Uuid;

use super::{StoredGraph, StoredVertex};
use crate::model::{EdgeKind, VertexKind};

/// A vertex of one `Graph`: its rank in id order. Meaningless in any other graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct V(pub u32);

/// An edge of one `Graph`: its rank in (from, kind, to) order. Meaningless in any other graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct E(pub u32);

impl V {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl E {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Which way an edge is followed from a vertex.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From the vertex to others: the edge's `from` is the vertex.
    Out,
    /// From others to the vertex: the edge's `to` is the vertex.
    In,
}

/// An edge's ends and kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdgeRef {
    pub from: V,
    pub kind: EdgeKind,
    pub to: V,
}

/// The properties of every vertex (or every edge) of a graph, by rank.
pub(crate) enum PropTable {
    /// Decoded maps, one per vertex or edge.
    Decoded(Vec<BTreeMap<String, Value>>),
    /// Values left in a msgpack image's bytes, read where they lie (`image`).
    Image(super::image::ImageProps),
}

impl PropTable {
    fn value(&self, index: usize, name: &str) -> Option<&Value> {
        match self {
            PropTable::Decoded(maps) => maps.get(index)?.get(name),
            PropTable::Image(props) => props.value(index, name),
        }
    }

    // `text`, `uint` and `flag` do not go through `value`: an image answers them from its bytes,
    // without decoding (or keeping) a `Value`.

    fn text(&self, index: usize, name: &str) -> Option<&str> {
        match self {
            PropTable::Decoded(_) => self.value(index, name).and_then(Value::as_str),
            PropTable::Image(props) => props.text(index, name),
        }
    }

    fn uint(&self, index: usize, name: &str) -> Option<u64> {
        match self {
            PropTable::Decoded(_) => self.value(index, name).and_then(Value::as_u64),
            PropTable::Image(props) => props.uint(index, name),
        }
    }

    fn flag(&self, index: usize, name: &str) -> Option<bool> {
        match self {
            PropTable::Decoded(_) => self.value(index, name).and_then(Value::as_bool),
            PropTable::Image(props) => props.flag(index, name),
        }
    }

    fn all(&self, index: usize) -> BTreeMap<String, Value> {
        match self {
            PropTable::Decoded(maps) => maps.get(index).cloned().unwrap_or_default(),
            PropTable::Image(props) => props.all(index),
        }
    }
}

/// A read-only snapshot of a stored graph (the version record left out).
pub struct Graph {
    ids: Vec<Uuid>,
    kinds: Vec<VertexKind>,
    vertex_props: PropTable,
    edges: Vec<EdgeRef>,
    edge_props: PropTable,
    /// Out-edges of `v` are `edges[out_start[v]..out_start[v + 1]]` (edges are sorted by `from`).
    out_start: Vec<u32>,
    /// In-edges, built on first use: an export reads only out-edges, and the two counting sorts
    /// took most of the 95–127 ms that assembling the 2.5 M-line corpus graph took.
    incoming: OnceLock<Incoming>,
    /// (hash of the value, vertex), sorted: a look-up index built on first use.
    by_path: OnceLock<Vec<(u64, V)>>,
    by_name: OnceLock<Vec<(u64, V)>>,
    /// Each vertex's `contains` parent (`NO_PARENT` for none), built on first use.
    parents: OnceLock<Vec<u32>>,
    /// What a partial snapshot holds; `None` for a whole graph.
    partial: Option<Partial>,
}

/// In-edges of `v` are `order[start[v]..start[v + 1]]`, by (kind name, from).
struct Incoming {
    order: Vec<E>,
    start: Vec<u32>,
}

impl Incoming {
    fn new(n: usize, edges: &[EdgeRef]) -> Incoming {
        let mut start = vec![0u32; n + 1];
        for edge in edges {
            start[edge.to.index() + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        // By (to, kind name, from): two stable counting sorts of the edges, which are in
        // (from, kind name, to) order: by kind name (giving (kind, from)), then by `to`. Linear,
        // where a comparison sort of a few million edges took most of a snapshot's assembly.
        let mut by_kind_start = [0u32; EdgeKind::ALL.len() + 1];
        for edge in edges {
            by_kind_start[name_rank(edge.kind) + 1] += 1;
        }
        for i in 0..EdgeKind::ALL.len() {
            by_kind_start[i + 1] += by_kind_start[i];
        }
        let mut by_kind = vec![E(0); edges.len()];
        for (rank, edge) in edges.iter().enumerate() {
            let slot = &mut by_kind_start[name_rank(edge.kind)];
            by_kind[*slot as usize] = E(rank as u32);
            *slot += 1;
        }
        let mut next = start.clone();
        let mut order = vec![E(0); edges.len()];
        for e in by_kind {
            let slot = &mut next[edges[e.index()].to.index()];
            order[*slot as usize] = e;
            *slot += 1;
        }
        Incoming { order, start }
    }
}

/// What a partial snapshot holds, and what was asked of it beyond that.
struct Partial {
    /// By vertex: whether all its edges, both ways, are in the snapshot.
    expanded: Vec<bool>,
    /// The (property, value) look-ups whose every vertex is in the snapshot.
    looked_up: HashSet<(String, String)>,
    /// Ids asked for by `vertex` and fetched: those not in the snapshot are in no graph.
    ids_fetched: HashSet<Uuid>,
    wanted: Mutex<Wanted>,
}

/// What a reader asked of a partial snapshot that it does not hold (`Graph::wanted`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// Vertices whose edges (both ways), and the vertices at their other ends, are wanted.
    pub expand: BTreeSet<Uuid>,
    /// (property, value) look-ups wanted: every vertex with that value (`path`, `name`).
    pub look_ups: BTreeSet<(String, String)>,
    /// Vertices wanted by id.
    pub ids: BTreeSet<Uuid>,
    /// The reader walked every vertex or edge: nothing short of the whole graph answers it.
    pub whole: bool,
}

impl Wanted {
    pub fn is_empty(&self) -> bool {
        *self == Wanted::default()
    }
}

/// What a partial snapshot is known to hold in full, besides its vertices' properties.
#[derive(Debug, Default, Clone)]
pub struct Known {
    /// The vertices whose every edge, both ways, is in the snapshot.
    pub expanded: HashSet<Uuid>,
    pub looked_up: HashSet<(String, String)>,
    pub ids_fetched: HashSet<Uuid>,
}

const NO_PARENT: u32 = u32::MAX;

/// A graph whose vertex or edge kind is not one this cargo-codegraph knows: it was written by
/// another schema (which the version record would have said) or it is damaged.
#[derive(Debug, thiserror::Error)]
#[error("unknown {what} kind `{kind}`")]
pub struct UnknownKind {
    pub what: &'static str,
    pub kind: String,
}

impl Graph {
    /// A snapshot of a graph read whole. Edges whose ends are not vertices of the graph are
    /// dropped (a stored graph has none: every backend refuses them on write).
    pub fn from_stored(stored: StoredGraph) -> Result<Graph, UnknownKind> {
        let StoredGraph { mut vertices, mut edges } = stored;
        vertices.sort_by_key(|v| v.id);
        vertices.dedup_by_key(|v| v.id);
        let mut ids = Vec::with_capacity(vertices.len());
        let mut kinds = Vec::with_capacity(vertices.len());
        let mut vertex_props = Vec::with_capacity(vertices.len());
        for StoredVertex { id, kind, props } in vertices {
            ids.push(id);
            kinds.push(vertex_kind(&kind)?);
            vertex_props.push(props);
        }
        let rank = |id: &Uuid| ids.binary_search(id).ok().map(|i| V(i as u32));
        edges.sort_by(|a, b| (a.from, &a.kind, a.to).cmp(&(b.from, &b.kind, b.to)));
        let mut refs = Vec::with_capacity(edges.len());
        let mut edge_props = Vec::with_capacity(edges.len());
        for edge in edges {
            let kind = edge_kind(&edge.kind)?;
            if let (Some(from), Some(to)) = (rank(&edge.from), rank(&edge.to)) {
                refs.push(EdgeRef { from, kind, to });
                edge_props.push(edge.props);
            }
        }
        Ok(Graph::assemble(ids, kinds, PropTable::Decoded(vertex_props), refs, PropTable::Decoded(edge_props)))
    }

    /// Builds the adjacency lists. `edges` must be sorted by (from, kind name, to), with
    /// `edge_props` in the same order.
    pub(crate) fn assemble(
        ids: Vec<Uuid>,
        kinds: Vec<VertexKind>,
        vertex_props: PropTable,
        edges: Vec<EdgeRef>,
        edge_props: PropTable,
    ) -> Graph {
        let n = ids.len();
        let mut out_start = vec![0u32; n + 1];
        for edge in &edges {
            out_start[edge.from.index() + 1] += 1;
        }
        for i in 0..n {
            out_start[i + 1] += out_start[i];
        }
        Graph {
            ids,
            kinds,
            vertex_props,
            edges,
            edge_props,
            out_start,
            incoming: OnceLock::new(),
            by_path: OnceLock::new(),
            parents: OnceLock::new(),
            by_name: OnceLock::new(),
            partial: None,
        }
    }

    /// A partial snapshot (see the module's comment): the vertices and edges fetched so far, and
    /// what of them is complete. Edges whose ends are not both there are dropped.
    pub fn partial(stored: StoredGraph, known: &Known) -> Result<Graph, UnknownKind> {
        let mut graph = Graph::from_stored(stored)?;
        let expanded = graph.ids.iter().map(|id| known.expanded.contains(id)).collect();
        graph.partial = Some(Partial {
            expanded,
            looked_up: known.looked_up.clone(),
            ids_fetched: known.ids_fetched.clone(),
            wanted: Mutex::new(Wanted::default()),
        });
        Ok(graph)
    }

    /// What readers asked of this snapshot that it does not hold; nothing for a whole graph.
    pub fn wanted(&self) -> Wanted {
        match &self.partial {
            Some(partial) => {
                partial.wanted.lock().map(|wanted| wanted.clone()).unwrap_or_else(|p| p.into_inner().clone())
            }
            None => Wanted::default(),
        }
    }

    /// Notes, on a partial snapshot, something a reader asked for that it may not hold.
    fn want(&self, note: impl FnOnce(&Partial, &mut Wanted)) {
        if let Some(partial) = &self.partial {
            // A reader that panicked holding the lock left it poisoned: what it noted still counts.
            let mut wanted = partial.wanted.lock().unwrap_or_else(|p| p.into_inner());
            note(partial, &mut wanted);
        }
    }

    fn want_whole(&self) {
        self.want(|_, wanted| wanted.whole = true);
    }

    fn want_edges(&self, v: V) {
        self.want(|partial, wanted| {
            if !partial.expanded[v.index()] {
                wanted.expand.insert(self.ids[v.index()]);
            }
        });
    }

    pub fn vertex_count(&self) -> usize {
        self.want_whole();
        self.ids.len()
    }

    pub fn edge_count(&self) -> usize {
        self.want_whole();
        self.edges.len()
    }

    /// Every vertex, in id order.
    pub fn vertices(&self) -> impl ExactSizeIterator<Item = V> + '_ {
        self.want_whole();
        self.all_vertices()
    }

    /// Every vertex held, for this module's own indices (which a partial snapshot builds over
    /// what it holds, without that meaning a reader walked the graph).
    fn all_vertices(&self) -> impl ExactSizeIterator<Item = V> + '_ {
        (0..self.ids.len() as u32).map(V)
    }

    /// Every edge, in (from, kind, to) order.
    pub fn edges(&self) -> impl ExactSizeIterator<Item = E> + '_ {
        self.want_whole();
        (0..self.edges.len() as u32).map(E)
    }

    pub fn id(&self, v: V) -> Uuid {
        self.ids[v.index()]
    }

    pub fn kind(&self, v: V) -> VertexKind {
        self.kinds[v.index()]
    }

    /// The vertex with this id.
    pub fn vertex(&self, id: Uuid) -> Option<V> {
        let found = self.ids.binary_search(&id).ok().map(|i| V(i as u32));
        if found.is_none() {
            self.want(|partial, wanted| {
                if !partial.ids_fetched.contains(&id) {
                    wanted.ids.insert(id);
                }
            });
        }
        found
    }

    /// The vertices of one kind, in id order.
    pub fn of_kind(&self, kind: VertexKind) -> impl Iterator<Item = V> + '_ {
        self.vertices().filter(move |v| self.kind(*v) == kind)
    }

    /// A vertex's property, whatever its type.
    pub fn prop(&self, v: V, name: &str) -> Option<&Value> {
        self.vertex_props.value(v.index(), name)
    }

    /// A vertex's string property.
    pub fn text(&self, v: V, name: &str) -> Option<&str> {
        self.vertex_props.text(v.index(), name)
    }

    /// A vertex's integer property.
    pub fn uint(&self, v: V, name: &str) -> Option<u64> {
        self.vertex_props.uint(v.index(), name)
    }

    /// A vertex's boolean property.
    pub fn flag(&self, v: V, name: &str) -> Option<bool> {
        self.vertex_props.flag(v.index(), name)
    }

    /// A vertex's canonical path (its `path` property), or `""` for vertices without one.
    pub fn path(&self, v: V) -> &str {
        self.text(v, "path").unwrap_or_default()
    }

    /// Every property of a vertex.
    pub fn props(&self, v: V) -> BTreeMap<String, Value> {
        self.vertex_props.all(v.index())
    }

    pub fn edge(&self, e: E) -> EdgeRef {
        self.edges[e.index()]
    }

    pub fn edge_prop(&self, e: E, name: &str) -> Option<&Value> {
        self.edge_props.value(e.index(), name)
    }

    pub fn edge_uint(&self, e: E, name: &str) -> Option<u64> {
        self.edge_props.uint(e.index(), name)
    }

    pub fn edge_text(&self, e: E, name: &str) -> Option<&str> {
        self.edge_props.text(e.index(), name)
    }

    /// Every property of an edge.
    pub fn edge_props(&self, e: E) -> BTreeMap<String, Value> {
        self.edge_props.all(e.index())
    }

    /// A vertex's edges one way, ordered by (kind name, other end).
    pub fn edges_of(&self, v: V, direction: Direction) -> impl ExactSizeIterator<Item = E> + '_ {
        self.want_edges(v);
        let i = v.index();
        let incoming = match direction {
            Direction::Out => None,
            Direction::In => Some(self.incoming.get_or_init(|| Incoming::new(self.ids.len(), &self.edges))),
        };
        let (start, end) = match incoming {
            None => (self.out_start[i], self.out_start[i + 1]),
            Some(incoming) => (incoming.start[i], incoming.start[i + 1]),
        };
        (start..end).map(move |rank| match incoming {
            None => E(rank),
            Some(incoming) => incoming.order[rank as usize],
        })
    }

    /// A vertex's edges of one kind, one way.
    pub fn edges_of_kind(&self, v: V, direction: Direction, kind: EdgeKind) -> impl Iterator<Item = E> + '_ {
        self.edges_of(v, direction).filter(move |e| self.edge(*e).kind == kind)
    }

    /// The other end of `e`, seen from the end that `direction` leaves.
    pub fn other(&self, e: E, direction: Direction) -> V {
        let edge = self.edge(e);
        match direction {
            Direction::Out => edge.to,
            Direction::In => edge.from,
        }
    }

    /// The vertices whose `path` is `path`, in id order.
    pub fn by_path(&self, path: &str) -> Vec<V> {
        self.look_up(&self.by_path, "path", path)
    }

    /// The vertices whose `name` is `name`, in id order.
    pub fn by_name(&self, name: &str) -> Vec<V> {
        self.look_up(&self.by_name, "name", name)
    }

    fn look_up(&self, index: &OnceLock<Vec<(u64, V)>>, prop: &str, wanted: &str) -> Vec<V> {
        self.want(|partial, asked| {
            let key = (prop.to_owned(), wanted.to_owned());
            if !partial.looked_up.contains(&key) {
                asked.look_ups.insert(key);
            }
        });
        // A sorted vector rather than a map of vectors: one allocation, not one per value, which
        // made building it most of a one-shot look-up's time on a large graph.
        let index = index.get_or_init(|| {
            let mut index: Vec<(u64, V)> =
                self.all_vertices().filter_map(|v| Some((hash(self.text(v, prop)?), v))).collect();
            index.sort_unstable();
            index
        });
        let key = hash(wanted);
        let start = index.partition_point(|(hash, _)| *hash < key);
        // A hash collision must not answer: the hits are checked against the value.
        index[start..]
            .iter()
            .take_while(|(hash, _)| *hash == key)
            .map(|(_, v)| *v)
            .filter(|v| self.text(*v, prop) == Some(wanted))
            .collect()
    }

    /// The vertex that `contains` `v` (a module's parent module, an item's module, a method's
    /// impl, a crate's package), if any. `contains` edges form a tree.
    pub fn parent(&self, v: V) -> Option<V> {
        // Its parent is the other end of its inbound `contains` edge.
        self.want_edges(v);
        let parents = self.parents.get_or_init(|| {
            let mut parents = vec![NO_PARENT; self.ids.len()];
            for edge in self.edges.iter().filter(|edge| edge.kind == EdgeKind::Contains) {
                parents[edge.to.index()] = edge.from.0;
            }
            parents
        });
        parents.get(v.index()).copied().filter(|p| *p != NO_PARENT).map(V)
    }

    /// `v` and its containers, nearest first. Bounded, so that a damaged graph's cycle ends.
    pub fn ancestors(&self, v: V) -> impl Iterator<Item = V> + '_ {
        std::iter::successors(Some(v), |at| self.parent(*at)).take(4096)
    }

    /// The nearest vertex of `kind` that contains `v`, or `v` itself.
    pub fn nearest(&self, v: V, kind: VertexKind) -> Option<V> {
        self.ancestors(v).find(|at| self.kind(*at) == kind)
    }

    /// The whole graph as plain data (for `export`'s tests and callers that want owned values).
    pub fn to_stored(&self) -> StoredGraph {
        StoredGraph {
            vertices: self
                .vertices()
                .map(|v| StoredVertex { id: self.id(v), kind: self.kind(v).as_str().to_owned(), props: self.props(v) })
                .collect(),
            edges: self
                .edges()
                .map(|e| {
                    let edge = self.edge(e);
                    super::StoredEdge {
                        from: self.id(edge.from),
                        kind: edge.kind.as_str().to_owned(),
                        to: self.id(edge.to),
                        props: self.edge_props(e),
                    }
                })
                .collect(),
        }
    }
}

fn hash(text: &str) -> u64 {
    let mut hasher = FxHasher::default();
    text.hash(&mut hasher);
    hasher.finish()
}

/// The rank of an edge kind's name among all kinds' names: edges are ordered by kind *name*.
pub(crate) fn name_rank(kind: EdgeKind) -> usize {
    static RANKS: OnceLock<[usize; EdgeKind::ALL.len()]> = OnceLock::new();
    let ranks = RANKS.get_or_init(|| {
        let mut ranks = [0; EdgeKind::ALL.len()];
        for (rank, kind) in ranks.iter_mut().zip(EdgeKind::ALL) {
            *rank = EdgeKind::ALL.iter().filter(|other| other.as_str() < kind.as_str()).count();
        }
        ranks
    });
    ranks[kind as usize]
}

pub(crate) fn vertex_kind(name: &str) -> Result<VertexKind, UnknownKind> {
    VertexKind::ALL
        .iter()
        .copied()
        .find(|k| k.as_str() == name)
        .ok_or_else(|| UnknownKind { what: "vertex", kind: name.to_owned() })
}

pub(crate) fn edge_kind(name: &str) -> Result<EdgeKind, UnknownKind> {
    EdgeKind::ALL
        .iter()
        .copied()
        .find(|k| k.as_str() == name)
        .ok_or_else(|| UnknownKind { what: "edge", kind: name.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoredEdge;

    fn vertex(n: u128, kind: &str, name: &str) -> StoredVertex {
        let props = BTreeMap::from([("name".to_owned(), Value::from(name)), ("path".to_owned(), Value::from(name))]);
        StoredVertex { id: Uuid::from_u128(n), kind: kind.to_owned(), props }
    }

    fn edge(from: u128, kind: &str, to: u128) -> StoredEdge {
        StoredEdge {
            from: Uuid::from_u128(from),
            kind: kind.to_owned(),
            to: Uuid::from_u128(to),
            props: BTreeMap::new(),
        }
    }

    /// A module containing `a` and `b`, and `b` calling `a`.
    fn whole() -> StoredGraph {
        StoredGraph {
            vertices: vec![vertex(1, "module", "m"), vertex(2, "function", "a"), vertex(3, "function", "b")],
            edges: vec![edge(1, "contains", 2), edge(1, "contains", 3), edge(3, "calls", 2)],
        }
    }

    /// A reader of a partial snapshot is told what it asked beyond what is there, and nothing
    /// once what it asked is there: then it answers as on the whole graph.
    #[test]
    fn a_partial_snapshot_notes_what_it_lacks() {
        let callers = |graph: &Graph| -> Vec<String> {
            let mut found = Vec::new();
            for v in graph.by_name("a") {
                found.extend(graph.parent(v).map(|p| graph.path(p).to_owned()));
                for e in graph.edges_of_kind(v, Direction::In, EdgeKind::Calls) {
                    found.push(graph.path(graph.other(e, Direction::In)).to_owned());
                }
            }
            found
        };
        let expected = callers(&Graph::from_stored(whole()).unwrap());
        assert_eq!(expected, ["m", "b"]);
        assert!(Graph::from_stored(whole()).unwrap().wanted().is_empty());

        let empty = Graph::partial(StoredGraph::default(), &Known::default()).unwrap();
        assert_eq!(callers(&empty), Vec::<String>::new());
        let wanted = empty.wanted();
        assert_eq!(wanted.look_ups, BTreeSet::from([("name".to_owned(), "a".to_owned())]));
        assert!(wanted.expand.is_empty() && !wanted.whole);

        // The look-up answered: vertex `a` alone, whose edges are not there yet.
        let mut known = Known::default();
        known.looked_up.insert(("name".to_owned(), "a".to_owned()));
        let found = StoredGraph { vertices: vec![vertex(2, "function", "a")], edges: vec![] };
        let graph = Graph::partial(found, &known).unwrap();
        callers(&graph);
        assert_eq!(graph.wanted().expand, BTreeSet::from([Uuid::from_u128(2)]));

        // Its edges and their other ends there: nothing more is wanted, and the answer is right.
        known.expanded.insert(Uuid::from_u128(2));
        let mut around = whole();
        around.edges.retain(|e| e.to == Uuid::from_u128(2));
        let graph = Graph::partial(around, &known).unwrap();
        assert_eq!(callers(&graph), expected);
        assert!(graph.wanted().is_empty(), "{:?}", graph.wanted());

        // Walking every vertex wants the whole graph; an id looked for and fetched is not wanted again.
        assert_eq!(graph.of_kind(VertexKind::Function).count(), 2);
        assert!(graph.wanted().whole);
        let mut known = Known::default();
        known.ids_fetched.insert(Uuid::from_u128(9));
        let graph = Graph::partial(StoredGraph::default(), &known).unwrap();
        assert_eq!(graph.vertex(Uuid::from_u128(9)), None);
        assert_eq!(graph.vertex(Uuid::from_u128(8)), None);
        assert_eq!(graph.wanted().ids, BTreeSet::from([Uuid::from_u128(8)]));
    }
}
