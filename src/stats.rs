//! `stats`: vertex and edge counts per kind of a stored graph.

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

pub fn count(graph: &Graph) -> GraphStats {
    let mut stats = GraphStats {
        vertices: graph.vertex_count(),
        edges: graph.edge_count(),
        vertices_by_kind: VertexKind::ALL.iter().map(|k| (k.as_str().to_owned(), 0)).collect(),
        edges_by_kind: EdgeKind::ALL.iter().map(|k| (k.as_str().to_owned(), 0)).collect(),
    };
    for v in graph.vertices() {
        *stats.vertices_by_kind.entry(graph.kind(v).as_str().to_owned()).or_default() += 1;
    }
    for e in graph.edges() {
        *stats.edges_by_kind.entry(graph.edge(e).kind.as_str().to_owned()).or_default() += 1;
    }
    stats
}
