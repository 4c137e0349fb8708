//! `stats`: vertex and edge counts per kind of a stored graph.
//!
//! Knows `store`'s read API only, never how a graph is laid out.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{EdgeKind, VertexKind};
use crate::store::{Graph, StoredGraph};

#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct GraphStats {
    pub vertices: usize,
    pub edges: usize,
    /// Every known kind, with zero counts too, so that the shape of the output is stable.
    pub vertices_by_kind: BTreeMap<String, usize>,
    pub edges_by_kind: BTreeMap<String, usize>,
}

pub fn count(graph: &StoredGraph) -> GraphStats {
    let mut stats = GraphStats::empty(graph.vertices.len(), graph.edges.len());
    for vertex in &graph.vertices {
        *stats.vertices_by_kind.entry(vertex.kind.clone()).or_default() += 1;
    }
    for edge in &graph.edges {
        *stats.edges_by_kind.entry(edge.kind.clone()).or_default() += 1;
    }
    stats
}

/// `count` of a snapshot: kinds only, so no property is read.
pub fn count_graph(graph: &Graph) -> GraphStats {
    let mut vertices = [0usize; VertexKind::ALL.len()];
    for v in graph.vertices() {
        vertices[graph.kind(v) as usize] += 1;
    }
    let mut edges = [0usize; EdgeKind::ALL.len()];
    for e in graph.edges() {
        edges[graph.edge(e).kind as usize] += 1;
    }
    let mut stats = GraphStats::empty(graph.vertex_count(), graph.edge_count());
    for (kind, n) in VertexKind::ALL.iter().zip(vertices) {
        stats.vertices_by_kind.insert(kind.as_str().to_owned(), n);
    }
    for (kind, n) in EdgeKind::ALL.iter().zip(edges) {
        stats.edges_by_kind.insert(kind.as_str().to_owned(), n);
    }
    stats
}

impl GraphStats {
    fn empty(vertices: usize, edges: usize) -> GraphStats {
        GraphStats {
            vertices,
            edges,
            vertices_by_kind: VertexKind::ALL.iter().map(|k| (k.as_str().to_owned(), 0)).collect(),
            edges_by_kind: EdgeKind::ALL.iter().map(|k| (k.as_str().to_owned(), 0)).collect(),
        }
    }
}
