//! What a build leaves beside a graph, damaged: its incremental cache (`<db>.cache/`: the state
//! file and the packs of units' files), its delta log (`<db>.delta`) and the metadata cache
//! (`<target-dir>/codegraph/metadata-cache/`), each truncated, overwritten with garbage,
//! with one byte changed, or from another version. The next build must make the graph a full
//! build makes, or stop with a clear error naming the file (exit 5) — never a wrong graph.

mod common;

use std::path::{Path, PathBuf};

use common::{Fixture, describe, metadata_cache_entry, stderr};

/// The ways a file is damaged.
const DAMAGES: &[&str] = &["truncated", "garbage", "flipped", "emptied"];

fn damage(path: &Path, how: &str) {
    let mut bytes = std::fs::read(path).unwrap();
    match how {
        "truncated" => bytes.truncate(bytes.len() / 2),
        "garbage" => bytes = b"\x93\xff\x00garbage\xc1".to_vec(),
        // A byte in the middle, changed: for a msgpack or JSON file, often still well-formed.
        "flipped" => {
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x01;
        }
        "emptied" => bytes.clear(),
        other => panic!("unknown damage {other}"),
    }
    std::fs::write(path, bytes).unwrap();
}

fn build(fixture: &Fixture, db: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["--offline", "--workspace", "--db", db.to_str().unwrap()];
    args.extend_from_slice(extra);
    common::run_in(fixture.path(), &args)
}

fn export(fixture: &Fixture, db: &Path) -> Result<String, std::process::Output> {
    let output = common::run_in(fixture.path(), &["export", "--db", db.to_str().unwrap()]);
    if output.status.success() { Ok(String::from_utf8(output.stdout).unwrap()) } else { Err(output) }
}

/// Builds `calls` into a graph, edits a file and builds again (the rerun writes a delta log),
/// damages what `pick` picks, edits again and builds: the result must be the full build's graph,
/// or a store error that names a file.
fn check_damage(pick: &dyn Fn(&Fixture, &Path) -> Vec<PathBuf>, what: &str) {
    for how in DAMAGES {
        let fixture = Fixture::new("calls");
        let db = fixture.path().join("graph.msgpack");
        let full_db = fixture.path().join("full.msgpack");
        let text = fixture.path().join("crates/util/src/text.rs");
        let append = |line: &str| {
            let mut content = std::fs::read_to_string(&text).unwrap();
            content.push_str(line);
            std::fs::write(&text, content).unwrap();
        };
        let first = build(&fixture, &db, &[]);
        assert_eq!(first.status.code(), Some(0), "{}", describe(&first));
        append("\npub fn first_edit() {}\n");
        let second = build(&fixture, &db, &[]);
        assert_eq!(second.status.code(), Some(0), "{}", describe(&second));
        let targets = pick(&fixture, &db);
        assert!(!targets.is_empty(), "{what}: nothing to damage");
        for target in &targets {
            damage(target, how);
        }
        append("\npub fn second_edit() {}\n");
        let rerun = build(&fixture, &db, &[]);
        let full = build(&fixture, &full_db, &["--rebuild"]);
        assert_eq!(full.status.code(), Some(0), "{}", describe(&full));
        let expected = export(&fixture, &full_db).unwrap();
        match rerun.status.code() {
            Some(0) => match export(&fixture, &db) {
                Ok(got) => assert!(got == expected, "{what} {how}: the rerun's graph is not the full build's"),
                Err(output) => {
                    assert_eq!(output.status.code(), Some(5), "{what} {how}: {}", describe(&output));
                }
            },
            Some(5) => {
                let err = stderr(&rerun);
                assert!(err.contains("graph.msgpack"), "{what} {how}: the error names the graph: {err}");
                // And the advice works: a rebuild replaces what is damaged.
                let again = build(&fixture, &db, &["--rebuild"]);
                assert_eq!(again.status.code(), Some(0), "{}", describe(&again));
                assert!(export(&fixture, &db).unwrap() == expected);
            }
            _ => panic!("{what} {how}: {}", describe(&rerun)),
        }
    }
}

fn cache_files(db: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let dir = PathBuf::from(format!("{}.cache", db.display()));
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| keep(path.file_name().unwrap().to_str().unwrap()))
        .collect();
    found.sort();
    found
}

#[test]
fn a_damaged_cache_state_file_makes_the_full_graph() {
    check_damage(&|_, db| cache_files(db, |name| name == "state.msgpack"), "state.msgpack");
}

/// The units' outputs, file caches and scopes, in the packs of the two builds. (Which of a
/// unit's blobs a damage hits is up to the layout; `incremental`'s unit tests damage each kind.)
#[test]
fn damaged_unit_packs_make_the_full_graph() {
    check_damage(&|_, db| cache_files(db, |name| name.starts_with("pack-")), "unit packs");
}

#[test]
fn a_damaged_delta_log_makes_the_full_graph_or_a_clear_error() {
    check_damage(
        &|_, db| {
            let delta = PathBuf::from(format!("{}.delta", db.display()));
            assert!(delta.is_file(), "the second build went to the delta log");
            vec![delta]
        },
        "delta log",
    );
}

#[test]
fn a_damaged_metadata_cache_makes_the_full_graph() {
    check_damage(&|fixture, _| vec![metadata_cache_entry(fixture.path())], "metadata cache");
}

#[test]
fn caches_from_another_version_are_not_used() {
    // The version fields, changed: the state file's and the metadata cache's.
    let fixture = Fixture::new("calls");
    let db = fixture.path().join("graph.msgpack");
    let first = build(&fixture, &db, &["--message-format", "json"]);
    assert_eq!(first.status.code(), Some(0), "{}", describe(&first));
    // The metadata cache's entry is a line of JSON, then `cargo metadata`'s answer.
    let metadata = metadata_cache_entry(fixture.path());
    let json = std::fs::read_to_string(&metadata).unwrap();
    let (line, answer) = json.split_once('\n').unwrap();
    let mut value: serde_json::Value = serde_json::from_str(line).unwrap();
    value["version"] = serde_json::json!(999);
    std::fs::write(&metadata, format!("{value}\n{answer}")).unwrap();
    let state = PathBuf::from(format!("{}.cache/state.msgpack", db.display()));
    let mut bytes = std::fs::read(&state).unwrap();
    // The state is a msgpack array (a struct without field names) whose first element is the
    // version, a small positive integer.
    assert_eq!(bytes[0] & 0xf0, 0x90, "a fixarray");
    assert!(bytes[1] < 0x80, "a positive fixint");
    bytes[1] = 0x7f;
    std::fs::write(&state, bytes).unwrap();
    let text = fixture.path().join("crates/util/src/text.rs");
    let mut content = std::fs::read_to_string(&text).unwrap();
    content.push_str("\npub fn edited() {}\n");
    std::fs::write(&text, content).unwrap();
    let rerun = build(&fixture, &db, &["--message-format", "json"]);
    assert_eq!(rerun.status.code(), Some(0), "{}", describe(&rerun));
    let summary: serde_json::Value = serde_json::from_slice(&rerun.stdout).unwrap();
    assert_eq!(summary["incremental"], false, "a state of another version is not used: {summary}");
    let full_db = fixture.path().join("full.msgpack");
    assert_eq!(build(&fixture, &full_db, &["--rebuild"]).status.code(), Some(0));
    assert!(export(&fixture, &db).unwrap() == export(&fixture, &full_db).unwrap());
}
