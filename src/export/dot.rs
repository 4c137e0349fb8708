//! `export --format dot`: a `View` as a Graphviz `digraph`.
//!
//! One cluster per crate (per package at crate level), and inside it one per module at item
//! level; nodes named by their UUID (stable across builds, since ids are); each edge kind with its
//! own colour and line style, explained by a legend node; an aggregated edge labelled with its
//! count (an `xlabel`, which does not slow the layout down) and its evidence (`file:line`) as its
//! tooltip. Labels are DOT quoted strings with `"` and `\` escaped. A pure function of the view:
//! it knows nothing of the graph or the store.

use std::fmt::Write;

use rayon::prelude::*;

use super::{Cluster, View, ViewEdge, edge_label, edge_style, evidence_text};

/// The view as DOT text.
pub fn render(view: &View) -> String {
    let mut out = String::new();
    out.push_str("digraph codegraph {\n");
    out.push_str("  graph [rankdir=LR, compound=true, fontname=\"Helvetica\", fontsize=11];\n");
    out.push_str(
        "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", fontname=\"Helvetica\", fontsize=10];\n",
    );
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for (cluster, subs) in view.grouped() {
        let indent = if cluster.is_some() { "    " } else { "  " };
        if let Some(cluster) = cluster {
            open_cluster(&mut out, "  ", cluster, "#f5f5f5");
        }
        for (subcluster, members) in subs {
            let inner = if subcluster.is_some() { format!("{indent}  ") } else { indent.to_owned() };
            if let Some(subcluster) = subcluster {
                open_cluster(&mut out, indent, subcluster, "#ffffff");
            }
            for index in members {
                let node = &view.nodes[index];
                let _ = writeln!(
                    out,
                    "{inner}{} [label={}, tooltip={}];",
                    quote(&node.id),
                    quote(&node.label),
                    quote(&format!("{} {}", node.kind, node.label))
                );
            }
            if subcluster.is_some() {
                let _ = writeln!(out, "{indent}}}");
            }
        }
        if cluster.is_some() {
            out.push_str("  }\n");
        }
    }
    // Edges are most of a large picture's text: written in chunks on every core, joined in order.
    let chunks: Vec<String> = view
        .edges
        .par_chunks(4096)
        .map(|edges| {
            let mut out = String::with_capacity(edges.len() * 200);
            for edge in edges {
                write_edge(&mut out, view, edge);
            }
            out
        })
        .collect();
    out.extend(chunks);
    legend(&mut out, view);
    out.push_str("}\n");
    out
}

/// One edge's line: `"from" -> "to" [color=..., style=..., xlabel="count", tooltip="kind ×count at file:line"];`.
fn write_edge(out: &mut String, view: &View, edge: &ViewEdge) {
    let (colour, style) = edge_style(edge.kind);
    out.push_str("  ");
    quote_into(out, &view.nodes[edge.from].id);
    out.push_str(" -> ");
    quote_into(out, &view.nodes[edge.to].id);
    let _ = write!(out, " [color=\"{colour}\", style={style}");
    if edge.count > 1 {
        // An external label, placed once the layout is done: a `label` makes each edge a node
        // of the layout, which took Graphviz's `dot` over ten minutes on this repository's module
        // graph (2,402 edges) against 11 s.
        let _ = write!(out, ", xlabel=\"{}\"", edge.count);
    }
    out.push_str(", tooltip=");
    let evidence = evidence_text(edge);
    if evidence.is_empty() {
        quote_into(out, &edge_label(edge));
    } else {
        quote_into(out, &format!("{} at {evidence}", edge_label(edge)));
    }
    out.push_str("];\n");
}

fn open_cluster(out: &mut String, indent: &str, cluster: &Cluster, fill: &str) {
    let _ = writeln!(out, "{indent}subgraph {} {{", quote(&format!("cluster_{}", cluster.id)));
    let _ = writeln!(out, "{indent}  label={};", quote(&cluster.label));
    let _ = writeln!(out, "{indent}  style=\"rounded,filled\"; fillcolor={}; color=\"#9e9e9e\";", quote(fill));
}

/// One node in a cluster of its own, listing the edge kinds drawn in their colours.
fn legend(out: &mut String, view: &View) {
    let kinds = view.edge_kinds();
    if kinds.is_empty() {
        return;
    }
    out.push_str("  subgraph \"cluster_legend\" {\n    label=\"legend\";\n    style=\"rounded\"; color=\"#9e9e9e\";\n");
    let mut rows = String::new();
    for kind in kinds {
        let (colour, style) = edge_style(kind);
        let _ = write!(
            rows,
            "<tr><td align=\"left\"><font color=\"{colour}\">{} ({style})</font></td></tr>",
            kind.as_str()
        );
    }
    let _ = writeln!(
        out,
        "    \"legend\" [shape=plain, style=\"\", label=<<table border=\"0\" cellspacing=\"2\">{rows}</table>>];"
    );
    out.push_str("  }\n");
}

/// A DOT quoted string: `"` and `\` escaped (a backslash would start an escape such as `\N`), line
/// breaks as `\n`.
pub fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quote_into(&mut quoted, text);
    quoted
}

/// `quote`, written onto `out`: the runs between characters to escape are copied whole.
fn quote_into(out: &mut String, text: &str) {
    out.push('"');
    let mut rest = text;
    while let Some(at) = rest.find(['"', '\\', '\n', '\r']) {
        out.push_str(&rest[..at]);
        match rest.as_bytes()[at] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            _ => {}
        }
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out.push('"');
}
