//! `export --format jsonl`: the whole stored graph in a stable, versioned, line-oriented format.
//!
//! Unlike the picture formats, this one is not drawn from a `View`: it is the graph itself, every
//! vertex and edge with every property, so that nothing is selected, folded or left out.
//!
//! JSON Lines, schema 2: a header line, then every vertex ordered by id, then every edge ordered
//! by (from, kind, to). Keys inside each object are sorted. The same graph always gives the same
//! bytes. This format is a public contract: change it only with a new `schema` number.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::Value;

use crate::model::SCHEMA_VERSION;
use crate::store::Graph;

#[derive(Serialize)]
struct Header<'a> {
    r#type: &'a str,
    schema: u32,
    tool: &'a str,
    version: &'a str,
}

/// Writes `graph` as JSON Lines.
pub fn write(graph: &Graph, out: &mut impl Write) -> io::Result<()> {
    let header = Header {
        r#type: "header",
        schema: SCHEMA_VERSION,
        tool: env!("CARGO_PKG_NAME"),
        version: env!("CARGO_PKG_VERSION"),
    };
    serde_json::to_writer(&mut *out, &header)?;
    out.write_all(b"\n")?;
    // Field order is fixed here and properties are inserted in sorted order, so the bytes are the
    // same whether or not another crate in the build turns on serde_json's `preserve_order`.
    for v in graph.vertices() {
        let line: Vec<(&str, Value)> = vec![
            ("type", Value::from("vertex")),
            ("id", Value::from(graph.id(v).to_string())),
            ("kind", Value::from(graph.kind(v).as_str())),
            ("props", sorted(&graph.props(v))),
        ];
        write_object(out, &line)?;
    }
    for e in graph.edges() {
        let edge = graph.edge(e);
        let line: Vec<(&str, Value)> = vec![
            ("type", Value::from("edge")),
            ("from", Value::from(graph.id(edge.from).to_string())),
            ("kind", Value::from(edge.kind.as_str())),
            ("to", Value::from(graph.id(edge.to).to_string())),
            ("props", sorted(&graph.edge_props(e))),
        ];
        write_object(out, &line)?;
    }
    out.flush()
}

fn sorted(props: &std::collections::BTreeMap<String, Value>) -> Value {
    Value::Object(props.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

fn write_object(out: &mut impl Write, fields: &[(&str, Value)]) -> io::Result<()> {
    out.write_all(b"{")?;
    for (index, (key, value)) in fields.iter().enumerate() {
        if index > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, key)?;
        out.write_all(b":")?;
        serde_json::to_writer(&mut *out, value)?;
    }
    out.write_all(b"}\n")
}
