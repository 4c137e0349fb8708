//! Opens a graph saved by `cargo codegraph` with indradb-lib and looks a vertex up by its path.
//!
//! ```sh
//! cargo run --example read_graph -- target/codegraph/graph.msgpack cargo_codegraph::build
//! ```

use indradb::{Identifier, Json, MemoryDatastore, QueryExt, QueryOutputValue, VertexWithPropertyValueQuery};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(db), Some(wanted)) = (args.next(), args.next()) else {
        return Err("usage: read_graph <graph.msgpack> <canonical path>".into());
    };
    let db = MemoryDatastore::read_msgpack_db(db)?;
    // `path` is indexed: this look-up does not scan the graph.
    let query = VertexWithPropertyValueQuery::new(Identifier::new("path")?, Json::new(wanted.into()));
    if let QueryOutputValue::Vertices(found) = &db.get(query.clone())?[0] {
        for vertex in found {
            println!("{} {}", vertex.id, vertex.t.as_str());
        }
    }
    if let QueryOutputValue::VertexProperties(props) = &db.get(query.properties()?)?[0] {
        for prop in props.iter().flat_map(|p| &p.props) {
            println!("  {} = {}", prop.name.as_str(), *prop.value.0);
        }
    }
    Ok(())
}
