//! Folding, selection and escaping on a hand-made graph.

use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::store::{StoredEdge, StoredGraph, StoredVertex};

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

/// A crate `k` (lib) with root module `k` and its submodule `k::m`; `k::f` calls `k::m::g` twice
/// over (once from `k::f`, once from `k::h`), `k::m::g` calls itself, and `k::f` names
/// `std::fmt::Debug`.
pub(crate) fn graph() -> Graph {
    let vertex = |n: u128, kind: &str, props: serde_json::Value| StoredVertex {
        id: id(n),
        kind: kind.to_owned(),
        props: props.as_object().map(|o| o.clone().into_iter().collect()).unwrap_or_default(),
    };
    let edge = |from: u128, kind: &str, to: u128, line: Option<u64>| StoredEdge {
        from: id(from),
        kind: kind.to_owned(),
        to: id(to),
        props: line.map(|line| [("line".to_owned(), json!(line))].into_iter().collect()).unwrap_or_default(),
    };
    Graph::from_stored(StoredGraph {
        vertices: vec![
            vertex(1, "crate", json!({"path": "k", "name": "k", "kind": "lib"})),
            vertex(2, "module", json!({"path": "k", "name": "k", "file": "src/lib.rs", "line": 1})),
            vertex(3, "module", json!({"path": "k::m", "name": "m", "file": "src/m.rs", "line": 1})),
            vertex(4, "function", json!({"path": "k::f", "name": "f", "file": "src/lib.rs", "line": 3})),
            vertex(5, "function", json!({"path": "k::h", "name": "h", "file": "src/lib.rs", "line": 9})),
            vertex(6, "function", json!({"path": "k::m::g", "name": "g", "file": "src/m.rs", "line": 2})),
            vertex(7, "extern", json!({"path": "std::fmt::Debug", "name": "Debug \"<&>\""})),
        ],
        edges: vec![
            edge(1, "contains", 2, None),
            edge(2, "contains", 3, None),
            edge(2, "contains", 4, None),
            edge(2, "contains", 5, None),
            edge(3, "contains", 6, None),
            edge(4, "calls", 6, Some(5)),
            edge(5, "calls", 6, Some(10)),
            edge(4, "calls", 5, Some(4)),
            edge(6, "calls", 6, Some(3)),
            edge(4, "references", 7, Some(3)),
        ],
    })
    .unwrap()
}

fn labels(view: &View) -> Vec<&str> {
    view.nodes.iter().map(|node| node.label.as_str()).collect()
}

fn edges(view: &View) -> Vec<String> {
    view.edges
        .iter()
        .map(|e| {
            format!(
                "{} -{}x{}-> {} @{}",
                view.nodes[e.from].label,
                e.kind.as_str(),
                e.count,
                view.nodes[e.to].label,
                evidence_text(e)
            )
        })
        .collect()
}

#[test]
fn module_level_folds_and_aggregates() {
    let view = view(&graph(), &Config::new(Level::Module)).unwrap();
    assert_eq!(labels(&view), ["std", "k", "k::m"]);
    // Two calls into `k::m` aggregate; the call inside `k` and `g`'s call to itself are dropped.
    assert_eq!(edges(&view), ["k -referencesx1-> std @src/lib.rs:3", "k -callsx2-> k::m @src/lib.rs:5"]);
    assert_eq!(view.nodes[1].cluster.as_ref().map(|c| c.label.as_str()), Some("k (lib)"));
}

#[test]
fn item_level_keeps_every_vertex_and_edge() {
    let graph = graph();
    let view = view(&graph, &Config::new(Level::Item)).unwrap();
    assert_eq!(view.nodes.len(), graph.vertex_count());
    assert_eq!(view.edges.len(), graph.edge_count());
}

#[test]
fn selection_and_focus() {
    let graph = graph();
    let mut config = Config::new(Level::Item);
    config.no_externs = true;
    config.edges = vec![EdgeKind::Calls];
    config.exclude = vec![Pattern::parse("k::h").unwrap()];
    let view = view(&graph, &config).unwrap();
    assert!(!labels(&view).contains(&"k::h") && !labels(&view).contains(&"std::fmt::Debug"));
    assert_eq!(edges(&view), ["k::f -callsx1-> k::m::g @src/lib.rs:5", "k::m::g -callsx1-> k::m::g @src/m.rs:3"]);

    let mut config = Config::new(Level::Item);
    config.edges = vec![EdgeKind::Calls];
    config.focus = Some("k::h".to_owned());
    config.depth = 1;
    let mut focused = labels(&super::view(&graph, &config).unwrap()).join(" ");
    assert_eq!(focused, "k::f k::h k::m::g");
    config.focus = Some("k::m".to_owned());
    config.level = Level::Module;
    focused = labels(&super::view(&graph, &config).unwrap()).join(" ");
    assert_eq!(focused, "k k::m");
    config.focus = Some("nothing".to_owned());
    assert!(matches!(super::view(&graph, &config), Err(ExportError::Focus(QueryError::NotFound { .. }))));
}

#[test]
fn formats_escape_labels() {
    let mut config = Config::new(Level::Item);
    config.include = vec![Pattern::parse("std::**").unwrap(), Pattern::parse("k::f").unwrap()];
    let mut view = view(&graph(), &config).unwrap();
    view.nodes[1].label = "a \"quoted\" \\ <label> [x] #1 |y|".to_owned();
    let dot = dot::render(&view);
    assert!(dot.contains(r#"label="a \"quoted\" \\ <label> [x] #1 |y|""#), "{dot}");
    let mermaid = mermaid::render(&view);
    assert!(mermaid.contains(r#"["a #34;quoted#34; \ #60;label#62; #91;x#93; #35;1 #124;y#124;"]"#), "{mermaid}");
    let graphml = graphml::render(&view);
    assert!(graphml.contains("a &quot;quoted&quot; \\ &lt;label&gt; [x] #1 |y|"), "{graphml}");
    assert!(graphml.contains("Debug &quot;&lt;&amp;&gt;&quot;"), "{graphml}");
}

#[test]
fn size_limit() {
    let view = view(&graph(), &Config::new(Level::Item)).unwrap();
    assert!(check_size(&view, 0).is_ok());
    assert!(check_size(&view, 7).is_ok());
    assert!(matches!(check_size(&view, 6), Err(ExportError::TooLarge { nodes: 7, max: 6 })));
}
