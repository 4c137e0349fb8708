//! `stats`: vertex and edge counts per kind of a stored graph.
//!
//! Knows `store`'s read API only, never how a graph is laid out.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{EdgeKind, VertexKind};
use crate::store::Graph;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GraphStats {
    pub vertices: usize,
    pub edges: usize,
    /// Every known kind, with zero counts too, so that the shape of the output is stable.
    pub vertices_by_kind: BTreeMap<String, usize>,
    pub edges_by_kind: BTreeMap<String, usize>,
}

/// The counts of a snapshot: kinds only, so no property is read.
pub fn count(graph: &Graph) -> GraphStats {
    let mut vertices = [0usize; VertexKind::ALL.len()];
    for v in graph.vertices() {
        vertices[graph.kind(v) as usize] += 1;
    }
    let mut edges = [0usize; EdgeKind::ALL.len()];
    for e in graph.edges() {
        edges[graph.edge(e).kind as usize] += 1;
    }
    GraphStats {
        vertices: graph.vertex_count(),
        edges: graph.edge_count(),
        vertices_by_kind: VertexKind::ALL.iter().map(|k| k.as_str().to_owned()).zip(vertices).collect(),
        edges_by_kind: EdgeKind::ALL.iter().map(|k| k.as_str().to_owned()).zip(edges).collect(),
    }
}
