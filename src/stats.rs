//! `stats`: vertex and edge counts per kind of a stored graph.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{EdgeKind, VertexKind};
use crate::store::StoredGraph;

#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct GraphStats {
    pub vertices: usize,
    pub edges: usize,
    /// Every known kind, with zero counts too, so that the shape of the output is stable.
    pub vertices_by_kind: BTreeMap<String, usize>,
    pub edges_by_kind: BTreeMap<String, usize>,
}

pub fn count(graph: &StoredGraph) -> GraphStats {
    let mut stats = GraphStats {
        vertices: graph.vertices.len(),
        edges: graph.edges.len(),
        vertices_by_kind: VertexKind::ALL.iter().map(|k| (k.as_str().to_owned(), 0)).collect(),
        edges_by_kind: EdgeKind::ALL.iter().map(|k| (k.as_str().to_owned(), 0)).collect(),
    };
    for vertex in &graph.vertices {
        *stats.vertices_by_kind.entry(vertex.kind.clone()).or_default() += 1;
    }
    for edge in &graph.edges {
        *stats.edges_by_kind.entry(edge.kind.clone()).or_default() += 1;
    }
    stats
}
