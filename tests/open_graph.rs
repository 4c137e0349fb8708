//! `store::open_graph` on graphs the real binary builds from the fixture workspaces: the snapshot
//! is exactly what IndraDB reads (`store::read_graph`), after full builds, after incremental
//! reruns that went to the delta log, and with a stale log beside a new image.

mod common;

use std::path::Path;

use camino::Utf8Path;
use cargo_codegraph::store::{self, Graph};
use common::{Fixture, describe};

/// Builds `db` from the workspace at `dir` (a rerun unless `extra` says `--rebuild`).
fn build(dir: &Path, db: &Path, extra: &[&str]) {
    let mut args = vec!["build", "--offline", "--workspace", "--db", db.to_str().unwrap()];
    args.extend_from_slice(extra);
    let output = common::run_in(dir, &args);
    assert!(matches!(output.status.code(), Some(0 | 3)), "{}", describe(&output));
}

/// The snapshot of `db` is what IndraDB reads: every vertex, edge and property.
fn assert_same(db: &Path) {
    let db = Utf8Path::from_path(db).unwrap();
    let expected = store::read_graph(db).unwrap();
    let graph = store::open_graph(db).unwrap();
    let got = graph.to_stored();
    assert!(!expected.vertices.is_empty());
    assert_eq!(got.vertices, expected.vertices);
    assert_eq!(got.edges, expected.edges);
    // And what `Graph::from_stored` makes of it, look-ups included.
    let decoded = Graph::from_stored(expected).unwrap();
    for v in decoded.vertices().step_by(7) {
        let path = decoded.path(v);
        assert_eq!(graph.by_path(path), decoded.by_path(path), "{path}");
        assert_eq!(graph.edges_of(v, store::Direction::In).count(), decoded.edges_of(v, store::Direction::In).count());
    }
}

fn append(path: &Path, text: &str) {
    let mut content = std::fs::read_to_string(path).unwrap();
    content.push_str(text);
    std::fs::write(path, content).unwrap();
}

#[test]
fn fixture_graphs_read_alike() {
    for name in ["single", "workspace", "calls", "layered", "expansion", "broken"] {
        let fixture = Fixture::new(name);
        build(fixture.path(), &fixture.db(), &[]);
        assert_same(&fixture.db());
    }
}

#[test]
fn graphs_updated_through_the_delta_log_read_alike() {
    let fixture = Fixture::new("calls");
    let root = fixture.path().to_path_buf();
    let db = fixture.db();
    let delta = root.join("graph.msgpack.delta");
    build(&root, &db, &[]);
    assert_same(&db);

    // A body edit, a public item added, a caller added, a file's items removed: each rerun is
    // incremental and lands in the delta log.
    let text = root.join("crates/util/src/text.rs");
    append(&text, "\npub fn added() -> usize { 1 }\n");
    build(&root, &db, &[]);
    assert!(delta.is_file(), "the rerun went to the delta log");
    assert_same(&db);
    append(&text, "\npub fn calls_added() -> usize { added() + added() }\n");
    build(&root, &db, &[]);
    assert_same(&db);
    let original = std::fs::read_to_string(&text).unwrap();
    std::fs::write(&text, "pub fn only() {}\n").unwrap();
    build(&root, &db, &[]);
    assert_same(&db);
    std::fs::write(&text, &original).unwrap();
    build(&root, &db, &[]);
    assert!(delta.is_file());
    assert_same(&db);

    // A full build replaces the image and removes the log; the old log put back is stale.
    let log = std::fs::read(&delta).unwrap();
    build(&root, &db, &["--rebuild"]);
    assert!(!delta.exists());
    std::fs::write(&delta, &log).unwrap();
    assert_same(&db);
}
