//! `export --format mermaid`: a `View` as a Mermaid `flowchart LR`.
//!
//! One `subgraph` per crate (per package at crate level), and inside it one per module at item
//! level; nodes named `n0`, `n1`, ... in the view's sorted order and subgraphs `g0`, `g1`, ...,
//! so that no path or UUID has to be a Mermaid identifier; labels quoted, with the characters
//! Mermaid reads inside them (`"`, `#`, `<`, `>`, brackets, `|`) written as entity codes. Edge
//! kinds are styled apart by `linkStyle` lines. A pure function of the view.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{View, edge_label, edge_style};
use crate::model::EdgeKind;

/// The view as Mermaid text.
pub fn render(view: &View) -> String {
    let mut out = String::from("flowchart LR\n");
    let mut group = 0usize;
    for (cluster, subs) in view.grouped() {
        let indent = if cluster.is_some() { "    " } else { "  " };
        if let Some(cluster) = cluster {
            let _ = writeln!(out, "  subgraph g{group}[{}]", quote(&cluster.label));
            group += 1;
        }
        for (subcluster, members) in subs {
            let inner = if subcluster.is_some() { format!("{indent}  ") } else { indent.to_owned() };
            if let Some(subcluster) = subcluster {
                let _ = writeln!(out, "{indent}subgraph g{group}[{}]", quote(&subcluster.label));
                group += 1;
            }
            for index in members {
                let _ = writeln!(out, "{inner}n{index}[{}]", quote(&view.nodes[index].label));
            }
            if subcluster.is_some() {
                let _ = writeln!(out, "{indent}end");
            }
        }
        if cluster.is_some() {
            out.push_str("  end\n");
        }
    }
    let mut by_kind: BTreeMap<EdgeKind, Vec<String>> = BTreeMap::new();
    for (number, edge) in view.edges.iter().enumerate() {
        let _ = writeln!(out, "  n{} -->|{}| n{}", edge.from, quote(&edge_label(edge)), edge.to);
        by_kind.entry(edge.kind).or_default().push(number.to_string());
    }
    for (kind, numbers) in by_kind {
        let (colour, style) = edge_style(kind);
        let line = match style {
            "dashed" => ",stroke-dasharray:6 3",
            "dotted" => ",stroke-dasharray:2 2",
            "bold" => ",stroke-width:3px",
            _ => "",
        };
        let _ = writeln!(out, "  linkStyle {} stroke:{colour}{line}", numbers.join(","));
    }
    out
}

/// A Mermaid quoted label: the characters Mermaid would read as syntax written as `#code;`.
pub fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' | '#' | '<' | '>' | '[' | ']' | '{' | '}' | '|' | '`' => {
                let _ = write!(quoted, "#{};", u32::from(c));
            }
            '\n' | '\r' => quoted.push(' '),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}
