//! Target resolution on a graph made by hand.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use uuid::Uuid;

use super::{QueryError, resolve};
use crate::model::VertexKind;
use crate::store::{Graph, StoredEdge, StoredGraph, StoredVertex};

fn vertex(n: u8, kind: &str, props: Value) -> StoredVertex {
    let props: BTreeMap<String, Value> = props.as_object().unwrap().clone().into_iter().collect();
    StoredVertex { id: Uuid::from_bytes([n; 16]), kind: kind.to_owned(), props }
}

fn graph() -> Graph {
    let stored = StoredGraph {
        vertices: vec![
            vertex(1, "module", json!({"name": "shapes", "path": "app::shapes"})),
            vertex(2, "function", json!({"name": "area", "path": "app::shapes::area"})),
            vertex(3, "module", json!({"name": "area", "path": "app::shapes::area"})),
            vertex(4, "function", json!({"name": "area", "path": "app::other::area", "active": false})),
            vertex(5, "extern", json!({"name": "Display", "path": "std::fmt::Display"})),
            vertex(6, "trait", json!({"name": "Display", "path": "app::Display"})),
        ],
        edges: vec![StoredEdge {
            from: Uuid::from_bytes([1; 16]),
            kind: "contains".to_owned(),
            to: Uuid::from_bytes([2; 16]),
            props: BTreeMap::new(),
        }],
    };
    Graph::from_stored(stored).unwrap()
}

fn path_of(graph: &Graph, found: Result<crate::store::V, QueryError>) -> String {
    let v = found.unwrap_or_else(|err| panic!("{err}"));
    format!("{} {}", graph.kind(v), graph.path(v))
}

#[test]
fn targets_resolve_by_id_path_and_name() {
    let graph = graph();
    let id = Uuid::from_bytes([6; 16]).to_string();
    assert_eq!(path_of(&graph, resolve(&graph, &id, &[])), "trait app::Display");
    assert_eq!(path_of(&graph, resolve(&graph, "app::shapes", &[])), "module app::shapes");
    assert_eq!(path_of(&graph, resolve(&graph, " shapes ", &[])), "module app::shapes");
}

#[test]
fn preferred_kinds_and_active_items_settle_ambiguity() {
    let graph = graph();
    // A module and a function share a path: the verb's kind decides, in its order.
    let err = resolve(&graph, "app::shapes::area", &[]).unwrap_err();
    assert!(matches!(&err, QueryError::Ambiguous { candidates, .. } if candidates.len() == 2), "{err}");
    let found = resolve(&graph, "app::shapes::area", &[VertexKind::Function]);
    assert_eq!(path_of(&graph, found), "function app::shapes::area");
    let found = resolve(&graph, "app::shapes::area", &[VertexKind::Crate, VertexKind::Module]);
    assert_eq!(path_of(&graph, found), "module app::shapes::area");
    // By name, the item beats the extern named like it.
    assert_eq!(path_of(&graph, resolve(&graph, "Display", &[])), "trait app::Display");
    // Of two functions named `area`, only one is compiled.
    assert_eq!(path_of(&graph, resolve(&graph, "area", &[VertexKind::Function])), "function app::shapes::area");
}

#[test]
fn unknown_targets_suggest_namesakes() {
    let graph = graph();
    let err = resolve(&graph, "app::nowhere::area", &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no vertex `app::nowhere::area` in the graph (similar: `app::other::area`, `app::shapes::area`)"
    );
    let missing = Uuid::from_bytes([9; 16]).to_string();
    assert!(matches!(resolve(&graph, &missing, &[]), Err(QueryError::NotFound { .. })));
}
