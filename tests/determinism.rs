//! The same source gives byte-identical exports and graph files: across runs, thread counts
//! and folders.

mod common;

use common::{Fixture, copy_dir, describe, run_in};

#[test]
fn runs_thread_counts_and_folders_agree() {
    let fixture = Fixture::new("workspace");
    fixture.build(&["--workspace", "-j1"], 0);
    let one_thread = fixture.export();
    let one_thread_db = std::fs::read(fixture.db()).unwrap();
    // `--rebuild`: a rerun with nothing changed would otherwise be skipped (see tests/fresh.rs).
    fixture.build(&["--workspace", "-j4", "--rebuild"], 0);
    let four_threads = fixture.export();
    assert!(std::fs::read(fixture.db()).unwrap() == one_thread_db, "the graph files differ");
    fixture.build(&["--workspace", "-j4", "--rebuild"], 0);
    let again = fixture.export();
    assert!(one_thread == four_threads, "-j1 and -j4 differ");
    assert!(four_threads == again, "two runs differ");

    // The same workspace in another folder, at another depth.
    let elsewhere = tempfile::tempdir().unwrap();
    let moved = elsewhere.path().join("deeper/still/ws");
    copy_dir(fixture.path(), &moved);
    let db = elsewhere.path().join("graph.msgpack");
    let output = run_in(&moved, &["--workspace", "--offline", "--db", db.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let output = run_in(&moved, &["export", "--db", db.to_str().unwrap()]);
    assert!(output.stdout == one_thread.as_bytes(), "a copy in another folder differs");
    // Nothing machine-specific leaks into the graph.
    for path in [fixture.path(), elsewhere.path()] {
        let needle = path.to_str().unwrap();
        assert!(!one_thread.contains(needle), "an absolute path reached the graph");
    }
}

#[test]
fn expansions_agree_across_thread_counts_and_runs() {
    // Macro calls expand in rounds, their groups on any thread: what they make (ids, disambiguators,
    // `expands_to` edges) must not depend on which finished first.
    let fixture = Fixture::new("expansion");
    fixture.build(&["-j1"], 0);
    let one_thread = fixture.export();
    let one_thread_db = std::fs::read(fixture.db()).unwrap();
    assert!(one_thread.contains("expands_to"), "the fixture's calls were expanded");
    for _ in 0..2 {
        fixture.build(&["-j4", "--rebuild"], 0);
        assert!(fixture.export() == one_thread, "-j1 and -j4 differ");
        assert!(std::fs::read(fixture.db()).unwrap() == one_thread_db, "the graph files differ");
    }
}

#[test]
fn no_expand_leaves_macro_calls_but_follows_include() {
    // `--no-expand` is the benchmark's comparison: no `macro_rules!` call is expanded, but an
    // `include!`d file is still pasted in, with the modules it declares.
    let fixture = Fixture::new("expansion");
    fixture.build(&["--no-expand"], 0);
    let graph = fixture.export();
    assert!(!graph.contains("expands_to"), "a macro call was expanded");
    assert!(graph.contains("\"path\":\"expansion::Included\""), "the included file's struct is missing");
    assert!(graph.contains("\"path\":\"expansion::beside::found\""), "the included file's module is missing");
    assert!(!graph.contains("\"path\":\"expansion::Made\""), "`unit!(Made)` made its struct");
}
