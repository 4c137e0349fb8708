//! Reads a stored graph one way, once, for `benches/read.rs`: each run is a fresh process, so that
//! its time and peak memory are its own.
//!
//! ```sh
//! read_probe <old|new> stats  <graph.msgpack>
//! read_probe <old|new> full   <graph.msgpack>
//! read_probe <old|new> lookup <graph.msgpack> <canonical path>
//! read_probe both same <graph.msgpack>
//! ```
//!
//! `old` reads as cargo-codegraph did before `store::open_graph` read msgpack images itself:
//! `store::read_graph` (IndraDB decodes the image, every property is copied out), then
//! `Graph::from_stored`. `new` is `store::open_graph`. `stats` counts vertices and edges by kind;
//! `full` also decodes every property (`Graph::to_stored`); `lookup` finds the vertices with a
//! `path` and lists the callers of each (in-edges of kind `calls`); `same` reads both ways and
//! fails unless they give the same graph.

use camino::Utf8PathBuf;
use cargo_codegraph::model::EdgeKind;
use cargo_codegraph::stats;
use cargo_codegraph::store::{self, Direction, Graph};

// The binary's allocator, so that the reads are measured as `cargo-codegraph` runs them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    cargo_codegraph::process::no_transparent_huge_pages();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (way, what, db) = match args.as_slice() {
        [way, what, db, ..] => (way.as_str(), what.as_str(), Utf8PathBuf::from(db)),
        _ => return Err("usage: read_probe <old|new> <stats|full|lookup> <graph.msgpack> [path]".into()),
    };
    let open = |db: &Utf8PathBuf| -> Result<Graph, Box<dyn std::error::Error>> {
        Ok(match way {
            "old" => Graph::from_stored(store::read_graph(db)?)?,
            "new" => store::open_graph(db)?,
            _ => return Err(format!("unknown way `{way}`: `old` or `new`").into()),
        })
    };
    match what {
        "stats" => {
            let graph = open(&db)?;
            println!("{}", serde_json::to_string(&stats::count(&graph))?);
        }
        "full" => {
            let stored = match way {
                "old" => store::read_graph(&db)?,
                _ => open(&db)?.to_stored(),
            };
            let props: usize = stored.vertices.iter().map(|v| v.props.len()).sum::<usize>()
                + stored.edges.iter().map(|e| e.props.len()).sum::<usize>();
            println!("{} vertices, {} edges, {props} properties", stored.vertices.len(), stored.edges.len());
        }
        "lookup" => {
            let wanted = args.get(3).ok_or("`lookup` needs a canonical path")?;
            let graph = open(&db)?;
            for v in graph.by_path(wanted) {
                let callers: Vec<&str> = graph
                    .edges_of_kind(v, Direction::In, EdgeKind::Calls)
                    .map(|e| graph.path(graph.edge(e).from))
                    .collect();
                println!("{} {} ({} callers)", graph.id(v), graph.kind(v), callers.len());
                for caller in callers {
                    println!("  {caller}");
                }
            }
        }
        "same" => {
            // Both ways, compared: the benchmark's proof that it measures two reads of one graph.
            let old = store::read_graph(&db)?;
            let new = store::open_graph(&db)?.to_stored();
            if old.vertices != new.vertices || old.edges != new.edges {
                return Err(format!("`{db}` reads differently the old way and the new way").into());
            }
            println!("same: {} vertices, {} edges", old.vertices.len(), old.edges.len());
        }
        _ => return Err(format!("unknown read `{what}`: `stats`, `full`, `lookup` or `same`").into()),
    }
    Ok(())
}
