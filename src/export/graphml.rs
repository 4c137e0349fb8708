//! `export --format graphml`: a `View` as GraphML, for Gephi, yEd, networkx and the like.
//!
//! Every node and edge with its kind and every property, each property a typed `<key>`
//! (`attr.type` `string`, `long`, `double` or `boolean`, from the JSON values it takes; a property
//! whose values disagree, or an array or object, is a `string` holding JSON). A property named
//! like one of the keys this format adds (`kind`, `label`, `cluster`, `count`, `evidence`) is
//! written as `prop.NAME`. Node ids are the graph's UUIDs (`extern:NAME` for folded externs);
//! edges are `e0`, `e1`, ... in the view's order, since the graph has no edge ids. At module and
//! crate level each edge carries its `count` and `evidence`. Text is escaped for XML, and
//! characters XML 1.0 forbids are replaced. A pure function of the view.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

use super::{View, evidence_text};

/// A GraphML attribute type.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Type {
    Boolean,
    Long,
    Double,
    String,
}

impl Type {
    fn of(value: &Value) -> Type {
        match value {
            Value::Bool(_) => Type::Boolean,
            Value::Number(n) if n.is_i64() || n.is_u64() => Type::Long,
            Value::Number(_) => Type::Double,
            _ => Type::String,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Type::Boolean => "boolean",
            Type::Long => "long",
            Type::Double => "double",
            Type::String => "string",
        }
    }
}

const NODE_KEYS: &[&str] = &["kind", "label", "cluster"];
const EDGE_KEYS: &[&str] = &["kind", "count", "evidence"];

/// The key name a property is written under.
fn key_name(name: &str, reserved: &[&str]) -> String {
    if reserved.contains(&name) { format!("prop.{name}") } else { name.to_owned() }
}

/// Every property name with the one type that holds all its values.
fn key_types<'a>(maps: impl Iterator<Item = &'a BTreeMap<String, Value>>, reserved: &[&str]) -> BTreeMap<String, Type> {
    let mut types: BTreeMap<String, Type> = BTreeMap::new();
    for map in maps {
        for (name, value) in map {
            let found = Type::of(value);
            types
                .entry(key_name(name, reserved))
                .and_modify(|known| {
                    if *known != found {
                        *known = match (*known, found) {
                            (Type::Long, Type::Double) | (Type::Double, Type::Long) => Type::Double,
                            _ => Type::String,
                        }
                    }
                })
                .or_insert(found);
        }
    }
    types
}

/// The view as GraphML text.
pub fn render(view: &View) -> String {
    let node_types = key_types(view.nodes.iter().map(|node| &node.props), NODE_KEYS);
    let edge_types = key_types(view.edges.iter().map(|edge| &edge.props), EDGE_KEYS);
    // Key ids: `n0`.. for nodes, `e0`.. for edges, in name order after the format's own keys.
    let mut node_keys: BTreeMap<String, String> = BTreeMap::new();
    let mut edge_keys: BTreeMap<String, String> = BTreeMap::new();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(
        "<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xsi:schemaLocation=\"http://graphml.graphdrawing.org/xmlns \
         http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd\">\n",
    );
    let own_node = [("kind", Type::String), ("label", Type::String), ("cluster", Type::String)];
    let own_edge = [("kind", Type::String), ("count", Type::Long), ("evidence", Type::String)];
    let node_all = own_node.iter().map(|(n, t)| ((*n).to_owned(), *t)).chain(node_types.clone());
    for (number, (name, ty)) in node_all.enumerate() {
        let id = format!("n{number}");
        key(&mut out, &id, "node", &name, ty);
        node_keys.insert(name, id);
    }
    let edge_all = own_edge.iter().map(|(n, t)| ((*n).to_owned(), *t)).chain(edge_types.clone());
    for (number, (name, ty)) in edge_all.enumerate() {
        let id = format!("e{number}");
        key(&mut out, &id, "edge", &name, ty);
        edge_keys.insert(name, id);
    }
    // Every name looked up below was given a key above (the format's own, and every property name
    // `key_types` saw), so the indexing cannot fail.
    let _ = writeln!(out, "  <graph id=\"codegraph\" edgedefault=\"directed\">");
    for node in &view.nodes {
        let _ = writeln!(out, "    <node id=\"{}\">", escape(&node.id));
        data(&mut out, &node_keys["kind"], node.kind);
        data(&mut out, &node_keys["label"], &node.label);
        if let Some(cluster) = &node.cluster {
            data(&mut out, &node_keys["cluster"], &cluster.label);
        }
        for (name, value) in &node.props {
            let name = key_name(name, NODE_KEYS);
            data(&mut out, &node_keys[&name], &text(value, node_types[&name]));
        }
        out.push_str("    </node>\n");
    }
    for (number, edge) in view.edges.iter().enumerate() {
        let _ = writeln!(
            out,
            "    <edge id=\"e{number}\" source=\"{}\" target=\"{}\">",
            escape(&view.nodes[edge.from].id),
            escape(&view.nodes[edge.to].id)
        );
        data(&mut out, &edge_keys["kind"], edge.kind.as_str());
        data(&mut out, &edge_keys["count"], &edge.count.to_string());
        let evidence = evidence_text(edge);
        if !evidence.is_empty() {
            data(&mut out, &edge_keys["evidence"], &evidence);
        }
        for (name, value) in &edge.props {
            let name = key_name(name, EDGE_KEYS);
            data(&mut out, &edge_keys[&name], &text(value, edge_types[&name]));
        }
        out.push_str("    </edge>\n");
    }
    out.push_str("  </graph>\n</graphml>\n");
    out
}

fn key(out: &mut String, id: &str, domain: &str, name: &str, ty: Type) {
    let _ = writeln!(
        out,
        "  <key id=\"{id}\" for=\"{domain}\" attr.name=\"{}\" attr.type=\"{}\"/>",
        escape(name),
        ty.as_str()
    );
}

fn data(out: &mut String, key: &str, value: &str) {
    let _ = writeln!(out, "      <data key=\"{key}\">{}</data>", escape(value));
}

/// A value as its key's type reads it: strings bare, everything else (and any value of a
/// `string` key that is not a string) as JSON.
fn text(value: &Value, ty: Type) -> String {
    match (value, ty) {
        (Value::String(s), _) => s.clone(),
        (Value::Bool(b), Type::Boolean) => b.to_string(),
        (value, _) => value.to_string(),
    }
}

/// Text escaped for XML content and attribute values; characters XML 1.0 does not allow become
/// U+FFFD.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\t' | '\n' | '\r' => escaped.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => escaped.push('\u{FFFD}'),
            c => escaped.push(c),
        }
    }
    escaped
}
