//! Real crates from crates.io: the benchmark corpus (`benches/corpus`: tokio, syn, serde, regex,
//! clap and their dependencies) is indexed with `--deps`, and must give zero failed files and
//! byte-identical exports across thread counts and folders.
//!
//! It needs the network (or a warm cargo cache) and takes a minute, so it is ignored by default:
//! `cargo test --release --test real_crates -- --ignored`.

mod common;

use std::path::Path;

use common::{copy_dir, describe, run_in};
use serde_json::Value;

fn build_and_export(dir: &Path, db: &Path, jobs: &str) -> String {
    let output = run_in(dir, &["--deps", "-j", jobs, "--db", db.to_str().unwrap(), "--message-format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["files_failed"], 0, "{summary:#}");
    assert!(summary["diagnostics"].as_array().unwrap().is_empty(), "{:#}", summary["diagnostics"]);
    assert!(summary["files_parsed"].as_u64().unwrap() > 1000, "{summary:#}");
    let output = run_in(dir, &["export", "--db", db.to_str().unwrap()]);
    assert!(output.status.success(), "{}", describe(&output));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
#[ignore = "needs crates.io (or a warm cargo cache) and a minute; run with --ignored"]
fn corpus_indexes_cleanly_and_deterministically() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/corpus");
    let fetch = std::process::Command::new("cargo")
        .args(["fetch", "--manifest-path"])
        .arg(corpus.join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(fetch.status.success(), "{}", describe(&fetch));

    // Copies, so that cargo's lock file and target folder stay out of the source tree.
    let here = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let first = here.path().join("corpus");
    let second = elsewhere.path().join("a/b/corpus");
    copy_dir(&corpus, &first);
    copy_dir(&corpus, &second);
    std::fs::copy(corpus.join("Cargo.lock"), first.join("Cargo.lock")).unwrap();
    std::fs::copy(corpus.join("Cargo.lock"), second.join("Cargo.lock")).unwrap();

    let one = build_and_export(&first, &here.path().join("one.msgpack"), "1");
    let all = build_and_export(&first, &here.path().join("all.msgpack"), "4");
    let moved = build_and_export(&second, &elsewhere.path().join("moved.msgpack"), "2");
    assert!(one == all, "-j1 and -j4 differ");
    assert!(one == moved, "a copy in another folder differs");
    // Canonical paths are where items are defined (`Runtime` is re-exported from `tokio::runtime`).
    for vertex in [
        "tokio::runtime::runtime::Runtime",
        "syn::item::Item",
        "serde_json::value::Value",
        "regex::regex::string::Regex",
        "clap_builder::builder::command::Command",
    ] {
        assert!(one.contains(&format!("\"path\":\"{vertex}\"")), "{vertex} is missing");
    }
}
