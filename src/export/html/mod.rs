//! `export --format html`: a `View` (and the `Detail` one level finer) as one self-contained
//! HTML page: the picture laid out here, at export time (`layout`), its positions and the data
//! embedded as JSON, drawn by the page's own script (`page.js`, `page.css`, pulled in with
//! `include_str!`) as SVG with pan and zoom, a search over canonical paths, a panel with a
//! clicked node's properties and its edges in and out by kind, expand and collapse of a node
//! into the finer nodes it holds (a module into its items), and a filter on edge kinds.
//!
//! Nothing is fetched when the page opens: no CDN, no server. A pure function of its inputs:
//! the same view gives the same bytes (positions rounded to whole pixels, maps ordered).

pub mod layout;

use std::collections::HashMap;

use serde_json::{Value, json};

use super::{Detail, View, edge_style};
use crate::model::EdgeKind;

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// Node boxes: a monospace label of `CHAR_WIDTH` per character, padded; labels longer than
/// `MAX_LABEL` characters are shown with their head cut (`…::store::image`).
const CHAR_WIDTH: f64 = 7.2;
const NODE_HEIGHT: f64 = 24.0;
const MAX_LABEL: usize = 48;
/// Inside a cluster's box: its title above, a margin around.
const BOX_TITLE: f64 = 22.0;
const BOX_PAD: f64 = 10.0;

/// A node or cluster box placed on the page.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

/// One box of the nesting: the top level, a crate's cluster, or a module's at item level.
struct Tree {
    /// The index into `clusters` (none at the top).
    cluster: Option<usize>,
    children: Vec<Child>,
}

enum Child {
    Node(usize),
    Tree(Tree),
}

/// The page for the view; `detail` adds what expanding a node shows.
pub fn render(view: &View, detail: Option<&Detail>) -> String {
    let (clusters, tree) = nest(view);
    let (node_rects, cluster_rects, width, height) = place(view, &clusters, tree);
    let kinds = view_kinds(view, detail);
    let kind_index: HashMap<EdgeKind, usize> = kinds.iter().enumerate().map(|(i, k)| (*k, i)).collect();

    let nodes: Vec<Value> = view
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let r = node_rects[i];
            let cluster = node
                .subcluster
                .as_ref()
                .or(node.cluster.as_ref())
                .and_then(|c| clusters.iter().position(|(id, _, _)| *id == c.id));
            json!({
                "id": node.id,
                "kind": node.kind,
                "label": node.label,
                "cluster": cluster,
                "x": r.x.round(), "y": r.y.round(), "w": r.w.round(), "h": r.h.round(),
                "props": node.props,
            })
        })
        .collect();
    let cluster_values: Vec<Value> = clusters
        .iter()
        .zip(&cluster_rects)
        .map(|((id, label, parent), r)| {
            json!({
                "id": id, "label": label, "parent": parent,
                "x": r.x.round(), "y": r.y.round(), "w": r.w.round(), "h": r.h.round(),
            })
        })
        .collect();
    let edge_value = |edge: &super::ViewEdge| -> Value {
        let evidence = super::evidence_text(edge);
        json!([edge.from, edge.to, kind_index[&edge.kind], edge.count, evidence])
    };
    let edges: Vec<Value> = view.edges.iter().map(edge_value).collect();
    let kind_values: Vec<Value> = kinds
        .iter()
        .map(|kind| {
            let (colour, style) = edge_style(*kind);
            json!({"name": kind.as_str(), "colour": colour, "style": style})
        })
        .collect();
    let detail_value = detail.map(|detail| {
        let nodes: Vec<Value> = detail
            .view
            .nodes
            .iter()
            .zip(&detail.parent)
            .map(|(node, parent)| json!([node.id, node.kind, node.label, parent, node.props]))
            .collect();
        let edges: Vec<Value> = detail.view.edges.iter().map(edge_value).collect();
        json!({"level": detail.view.level.as_str(), "nodes": nodes, "edges": edges})
    });
    let data = json!({
        "format": "codegraph-html",
        "version": 1,
        "level": view.level.as_str(),
        "width": width.round(),
        "height": height.round(),
        "kinds": kind_values,
        "clusters": cluster_values,
        "nodes": nodes,
        "edges": edges,
        "detail": detail_value,
    });
    // `<` written as `\u003c` in the JSON (only ever inside its strings): no `</script>` or
    // `<!--` can end the data block early.
    let data = data.to_string().replace('<', "\\u003c");
    let title = format!("codegraph: {} level, {} nodes", view.level.as_str(), view.nodes.len());
    let mut page = String::with_capacity(data.len() + STYLE.len() + SCRIPT.len() + 2048);
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    page.push_str(&format!("<title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n", escape(&title)));
    page.push_str(BODY);
    page.push_str("<script type=\"application/json\" id=\"codegraph-data\">");
    page.push_str(&data);
    page.push_str("</script>\n<script>\n");
    page.push_str(SCRIPT);
    page.push_str("</script>\n</body>\n</html>\n");
    page
}

/// The page's fixed markup: the toolbar, the drawing and the side panel.
const BODY: &str = r#"<header id="toolbar">
<input id="search" type="search" placeholder="Search canonical paths…" autocomplete="off" aria-label="search">
<button id="fit" type="button" title="Fit the picture to the window">Fit</button>
<span id="summary"></span>
<ul id="results" hidden></ul>
</header>
<main>
<svg id="canvas" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="code graph"><defs id="markers"></defs><g id="viewport"></g></svg>
<aside id="panel"><div id="legend"></div><div id="details"><p class="hint">Click a node to see its properties and edges; double-click a module to expand it.</p></div></aside>
</main>
"#;

/// The edge kinds of the view and of its detail, in `EdgeKind::ALL` order.
fn view_kinds(view: &View, detail: Option<&Detail>) -> Vec<EdgeKind> {
    let mut kinds = view.edge_kinds();
    if let Some(detail) = detail {
        kinds.extend(detail.view.edge_kinds());
    }
    kinds.sort();
    kinds.dedup();
    kinds
}

/// The clusters (id, label, parent cluster) and the nesting of nodes in them, in the view's
/// drawing order.
fn nest(view: &View) -> (Vec<(String, String, Option<usize>)>, Tree) {
    let mut clusters: Vec<(String, String, Option<usize>)> = Vec::new();
    let mut top = Tree { cluster: None, children: Vec::new() };
    for (cluster, subs) in view.grouped() {
        let outer = cluster.map(|c| {
            clusters.push((c.id.clone(), c.label.clone(), None));
            clusters.len() - 1
        });
        let mut children = Vec::new();
        for (subcluster, members) in subs {
            let nodes = members.into_iter().map(Child::Node);
            match subcluster {
                Some(sub) => {
                    clusters.push((sub.id.clone(), sub.label.clone(), outer));
                    let inner = Tree { cluster: Some(clusters.len() - 1), children: nodes.collect() };
                    children.push(Child::Tree(inner));
                }
                None => children.extend(nodes),
            }
        }
        match outer {
            Some(index) => top.children.push(Child::Tree(Tree { cluster: Some(index), children })),
            None => top.children.extend(children),
        }
    }
    (clusters, top)
}

/// What a label looks like on the page (its head cut when long).
fn shown(label: &str) -> String {
    let count = label.chars().count();
    if count <= MAX_LABEL {
        label.to_owned()
    } else {
        let tail: String = label.chars().skip(count - (MAX_LABEL - 1)).collect();
        format!("…{tail}")
    }
}

/// Lays out every box from the inside out, then places them from the outside in.
fn place(view: &View, clusters: &[(String, String, Option<usize>)], tree: Tree) -> (Vec<Rect>, Vec<Rect>, f64, f64) {
    let sizes: Vec<(f64, f64)> = view
        .nodes
        .iter()
        .map(|node| (shown(&node.label).chars().count() as f64 * CHAR_WIDTH + 20.0, NODE_HEIGHT))
        .collect();
    // For each node, the child it is in at each depth of the nesting.
    let mut chains: Vec<Vec<usize>> = vec![Vec::new(); view.nodes.len()];
    fn walk(tree: &Tree, chain: &mut Vec<usize>, chains: &mut [Vec<usize>]) {
        for (i, child) in tree.children.iter().enumerate() {
            chain.push(i);
            match child {
                Child::Node(node) => chains[*node] = chain.clone(),
                Child::Tree(inner) => walk(inner, chain, chains),
            }
            chain.pop();
        }
    }
    walk(&tree, &mut Vec::new(), &mut chains);
    // Each edge belongs to the innermost box holding both ends, between the children there.
    let mut box_edges: HashMap<Vec<usize>, Vec<(usize, usize)>> = HashMap::new();
    for edge in &view.edges {
        let (a, b) = (&chains[edge.from], &chains[edge.to]);
        let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
        if common < a.len() && common < b.len() {
            box_edges.entry(a[..common].to_vec()).or_default().push((a[common], b[common]));
        }
    }
    for list in box_edges.values_mut() {
        list.sort_unstable();
        list.dedup();
    }
    let mut node_rects = vec![Rect { x: 0.0, y: 0.0, w: 0.0, h: 0.0 }; view.nodes.len()];
    let mut cluster_rects = vec![Rect { x: 0.0, y: 0.0, w: 0.0, h: 0.0 }; clusters.len()];

    /// A box's children laid out relative to its content's corner: (offsets, width, height).
    struct Laid {
        offsets: Vec<(f64, f64)>,
        inner: Vec<Option<Laid>>,
        width: f64,
        height: f64,
    }
    fn lay(
        tree: &Tree,
        path: &mut Vec<usize>,
        sizes: &[(f64, f64)],
        edges: &HashMap<Vec<usize>, Vec<(usize, usize)>>,
    ) -> Laid {
        let mut child_sizes = Vec::with_capacity(tree.children.len());
        let mut inner = Vec::with_capacity(tree.children.len());
        for (i, child) in tree.children.iter().enumerate() {
            match child {
                Child::Node(node) => {
                    child_sizes.push(sizes[*node]);
                    inner.push(None);
                }
                Child::Tree(sub) => {
                    path.push(i);
                    let laid = lay(sub, path, sizes, edges);
                    path.pop();
                    child_sizes.push((laid.width + 2.0 * BOX_PAD, laid.height + BOX_TITLE + BOX_PAD));
                    inner.push(Some(laid));
                }
            }
        }
        let none = Vec::new();
        let (offsets, width, height) = layout::layered(&child_sizes, edges.get(path.as_slice()).unwrap_or(&none));
        Laid { offsets, inner, width, height }
    }
    fn put(
        tree: &Tree,
        laid: &Laid,
        origin: (f64, f64),
        sizes: &[(f64, f64)],
        nodes: &mut [Rect],
        clusters: &mut [Rect],
    ) {
        for (i, child) in tree.children.iter().enumerate() {
            let (x, y) = (origin.0 + laid.offsets[i].0, origin.1 + laid.offsets[i].1);
            match (child, &laid.inner[i]) {
                (Child::Node(node), _) => {
                    nodes[*node] = Rect { x, y, w: sizes[*node].0, h: sizes[*node].1 };
                }
                (Child::Tree(sub), Some(inner)) => {
                    if let Some(cluster) = sub.cluster {
                        let w = inner.width + 2.0 * BOX_PAD;
                        let h = inner.height + BOX_TITLE + BOX_PAD;
                        clusters[cluster] = Rect { x, y, w, h };
                    }
                    put(sub, inner, (x + BOX_PAD, y + BOX_TITLE), sizes, nodes, clusters);
                }
                (Child::Tree(_), None) => {}
            }
        }
    }
    let laid = lay(&tree, &mut Vec::new(), &sizes, &box_edges);
    put(&tree, &laid, (0.0, 0.0), &sizes, &mut node_rects, &mut cluster_rects);
    (node_rects, cluster_rects, laid.width, laid.height)
}

/// Text for HTML element content.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests;
