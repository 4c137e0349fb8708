//! Conformance of the store's backends, through the real binary: the same workspace gives the
//! same export, byte for byte, whatever the backend; foreign, damaged and mismatched graphs are
//! clear errors with documented exit codes, on every backend.

mod common;

use std::path::Path;

use common::{Fixture, describe, stderr};

/// Builds `fixture` into `db` with `store`, with extra arguments; panics unless the exit code is
/// `expected`.
fn build(fixture: &Fixture, db: &Path, store: &str, extra: &[&str], expected: i32) -> std::process::Output {
    let mut args = vec!["build", "--offline", "--store", store, "--db", db.to_str().unwrap()];
    args.extend(extra);
    let output = fixture.run(&args);
    assert_eq!(output.status.code(), Some(expected), "{store}: {}", describe(&output));
    output
}

fn read(fixture: &Fixture, command: &str, db: &Path) -> std::process::Output {
    fixture.run(&[command, "--db", db.to_str().unwrap()])
}

#[cfg(feature = "rocksdb")]
#[test]
fn every_backend_stores_the_same_graph() {
    let fixture = Fixture::new("workspace");
    let mut exports = Vec::new();
    let mut stats = Vec::new();
    for (store, name) in [("msgpack", "graph.msgpack"), ("rocksdb", "graph.rocksdb")] {
        let db = fixture.path().join(name);
        build(&fixture, &db, store, &["--workspace"], 0);
        // Twice: a rebuild over an existing graph gives the same, too.
        build(&fixture, &db, store, &["--workspace"], 0);
        let output = read(&fixture, "export", &db);
        assert!(output.status.success(), "{}", describe(&output));
        exports.push(output.stdout);
        let output = read(&fixture, "stats", &db);
        assert!(output.status.success(), "{}", describe(&output));
        // The first line names the graph.
        let text = String::from_utf8(output.stdout).unwrap();
        stats.push(text.lines().skip(1).collect::<Vec<_>>().join("\n"));
    }
    assert!(exports[0] == exports[1], "the exports of the msgpack and RocksDB graphs differ");
    assert!(exports[0].len() > 1000);
    assert_eq!(stats[0], stats[1]);
}

#[cfg(feature = "rocksdb")]
#[test]
fn the_default_rocksdb_graph_is_a_folder_in_the_target_dir_that_readers_find() {
    let fixture = Fixture::new("single");
    let output = fixture.run(&["build", "--offline", "--store", "rocksdb"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let db = fixture.path().join("target/codegraph/graph.rocksdb");
    assert!(db.join("codegraph.current").is_file());
    let output = fixture.run(&["stats", "--offline"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with(db.to_str().unwrap()), "{}", describe(&output));
    // Without `--store`, a build keeps the backend of the graph it finds.
    let output = fixture.run(&["build", "--offline"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(!fixture.path().join("target/codegraph/graph.msgpack").exists());
}

#[cfg(feature = "rocksdb")]
#[test]
fn damaged_foreign_and_mismatched_rocksdb_graphs_are_clear_errors() {
    let fixture = Fixture::new("single");
    let db = fixture.path().join("graph.rocksdb");
    build(&fixture, &db, "rocksdb", &[], 0);

    // A file where a folder is wanted, and the reverse: exit 5, nothing replaced.
    let msgpack = fixture.path().join("graph.msgpack");
    build(&fixture, &msgpack, "msgpack", &[], 0);
    let output = build(&fixture, &msgpack, "rocksdb", &[], 5);
    assert!(stderr(&output).contains("holds a msgpack graph, not a rocksdb one"), "{}", describe(&output));
    let output = build(&fixture, &db, "msgpack", &[], 5);
    assert!(stderr(&output).contains("holds a rocksdb graph, not a msgpack one"), "{}", describe(&output));
    assert!(read(&fixture, "export", &msgpack).status.success());
    assert!(read(&fixture, "export", &db).status.success());

    // A folder that is not a graph: readers and builds refuse it and leave it alone.
    let foreign = fixture.path().join("photos");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("cat.jpg"), b"meow").unwrap();
    for output in [read(&fixture, "stats", &foreign), build(&fixture, &foreign, "rocksdb", &[], 5)] {
        assert_eq!(output.status.code(), Some(5), "{}", describe(&output));
        let err = stderr(&output);
        assert!(err.contains("holds no cargo-codegraph graph") && err.contains("photos"), "{err}");
    }
    assert_eq!(std::fs::read(foreign.join("cat.jpg")).unwrap(), b"meow");

    // A damaged pointer, then a missing generation: exit 5 naming the graph and saying to rebuild.
    std::fs::write(db.join("codegraph.current"), b"\xff\x00garbage").unwrap();
    let output = read(&fixture, "export", &db);
    assert_eq!(output.status.code(), Some(5), "{}", describe(&output));
    let err = stderr(&output);
    assert!(err.contains(db.to_str().unwrap()) && err.contains("rebuild it"), "{err}");
    std::fs::write(db.join("codegraph.current"), "gen-99\n").unwrap();
    let output = read(&fixture, "export", &db);
    assert_eq!(output.status.code(), Some(5), "{}", describe(&output));
    assert!(stderr(&output).contains("`gen-99` is missing"), "{}", describe(&output));

    // And the advice works: a build replaces the damaged graph.
    build(&fixture, &db, "rocksdb", &[], 0);
    assert!(read(&fixture, "export", &db).status.success());
}

#[cfg(not(feature = "rocksdb"))]
#[test]
fn rocksdb_without_the_feature_is_exit_9_with_the_remedy() {
    let fixture = Fixture::new("single");
    let db = fixture.path().join("graph.rocksdb");
    let output = build(&fixture, &db, "rocksdb", &[], 9);
    assert!(stderr(&output).contains("--features rocksdb"), "{}", describe(&output));
    assert!(!db.exists(), "nothing is created");
    // A folder given to a reader is taken for a RocksDB graph, which this build cannot read.
    std::fs::create_dir(&db).unwrap();
    let output = read(&fixture, "export", &db);
    assert_eq!(output.status.code(), Some(9), "{}", describe(&output));
    assert!(stderr(&output).contains("--features rocksdb"), "{}", describe(&output));
}

#[test]
fn a_folder_or_file_of_the_wrong_kind_is_never_replaced() {
    let fixture = Fixture::new("single");
    // Without `--store`, a build keeps the existing graph's backend; a file that is not a graph
    // is a damaged msgpack graph, refused by readers (and replaced only by a msgpack build, as
    // before).
    let junk = fixture.path().join("notes.txt");
    std::fs::write(&junk, "not a graph").unwrap();
    let output = read(&fixture, "export", &junk);
    assert_eq!(output.status.code(), Some(5), "{}", describe(&output));
    let output = build(&fixture, &junk, "rocksdb", &[], 5);
    assert!(std::fs::read_to_string(&junk).unwrap() == "not a graph", "{}", describe(&output));
}
