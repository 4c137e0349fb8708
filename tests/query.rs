//! `cargo codegraph query`, end to end on the `query` fixture (see tests/fixtures/README.md): every
//! verb against answers written by hand, snapshots of the human and JSON forms, `impact --diff`
//! through real git, and bad input with its exit codes.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use common::{Fixture, describe, tool};
use serde_json::Value;

/// The fixture with its graph built.
fn fixture() -> Fixture {
    let fixture = Fixture::new("query");
    fixture.build(&[], 0);
    fixture
}

/// `query ARGS --no-update` on the built graph.
fn query(fixture: &Fixture, args: &[&str]) -> Output {
    let db = fixture.db();
    let mut all = vec!["query"];
    all.extend(args);
    all.extend(["--no-update", "--offline", "--db", db.to_str().unwrap()]);
    fixture.run(&all)
}

/// The JSON Lines answer: (header, results, summary).
fn json(fixture: &Fixture, args: &[&str]) -> (Value, Vec<Value>, Value) {
    let mut all = args.to_vec();
    all.extend(["--message-format", "json"]);
    let output = query(fixture, &all);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let lines: Vec<Value> =
        String::from_utf8(output.stdout).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let (header, rest) = lines.split_first().unwrap();
    let (summary, results) = rest.split_last().unwrap();
    assert_eq!(header["type"], "query");
    assert_eq!(header["schema"], 1);
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["results"].as_u64().unwrap() as usize, results.len());
    for result in results {
        for key in ["id", "kind", "path", "file", "line"] {
            assert!(result.get(key).is_some(), "`{key}` missing from {result}");
        }
        if result["type"] == "edge" {
            for key in ["edge", "from", "to", "evidence"] {
                assert!(result.get(key).is_some(), "`{key}` missing from {result}");
            }
        }
    }
    (header.clone(), results.to_vec(), summary.clone())
}

fn paths(results: &[Value]) -> BTreeSet<String> {
    results.iter().map(|r| r["path"].as_str().unwrap().to_owned()).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn place(result: &Value) -> String {
    format!("{}:{}", result["evidence"]["file"].as_str().unwrap(), result["evidence"]["line"])
}

#[test]
fn callers_across_crates_and_through_trait_methods() {
    let fixture = fixture();
    let (_, results, _) = json(&fixture, &["callers", "qcore::helper"]);
    assert_eq!(paths(&results), set(&["<qapp::AppStore as Store>::get", "<qcore::MemStore as Store>::get"]));
    let sites: BTreeSet<String> = results.iter().map(place).collect();
    assert_eq!(sites, set(&["crates/qapp/src/lib.rs:11", "crates/qcore/src/lib.rs:13"]));
    assert!(results.iter().all(|r| r["confidence"] == "exact" && r["edge"] == "calls"));

    // `fetch` calls `get` on a generic receiver bounded by `Store`: it reaches every impl's
    // method through the trait's.
    let (header, results, _) = json(&fixture, &["callers", "<qapp::AppStore as Store>::get"]);
    assert_eq!(header["targets"][0]["path"], "<qapp::AppStore as Store>::get");
    assert_eq!(paths(&results), set(&["qapp::fetch"]));
    assert_eq!(results[0]["note"], "through trait method `qcore::Store::get`");
    assert_eq!(place(&results[0]), "crates/qapp/src/lib.rs:16");
}

#[test]
fn callees_follow_the_depth() {
    let fixture = fixture();
    let (_, results, _) = json(&fixture, &["callees", "qapp::ui::render"]);
    assert_eq!(paths(&results), set(&["qapp::service::run"]));
    let (_, results, _) = json(&fixture, &["callees", "qapp::ui::render", "--depth", "3"]);
    let by_depth: Vec<(u64, &str)> =
        results.iter().map(|r| (r["depth"].as_u64().unwrap(), r["path"].as_str().unwrap())).collect();
    assert_eq!(by_depth, [(1, "qapp::service::run"), (2, "qapp::db::load"), (3, "qapp::fetch")]);
}

#[test]
fn impls_of_a_trait_in_two_crates_and_traits_of_a_type() {
    let fixture = fixture();
    let (_, results, _) = json(&fixture, &["impls", "qcore::Store"]);
    assert_eq!(paths(&results), set(&["qapp::AppStore", "qcore::MemStore"]));
    let sites: BTreeSet<String> = results.iter().map(place).collect();
    assert_eq!(sites, set(&["crates/qapp/src/lib.rs:9", "crates/qcore/src/lib.rs:11"]));
    let (_, results, _) = json(&fixture, &["impls", "AppStore"]);
    assert_eq!(paths(&results), set(&["qcore::Store"]));
}

#[test]
fn path_across_three_modules() {
    let fixture = fixture();
    let (header, hops, summary) = json(&fixture, &["path", "qapp::ui", "qapp::db"]);
    assert_eq!(header["targets"][0]["path"], "qapp::ui");
    let chain: Vec<(&str, &str, String)> =
        hops.iter().map(|h| (h["from"].as_str().unwrap(), h["to"].as_str().unwrap(), place(h))).collect();
    assert_eq!(
        chain,
        [
            ("qapp::ui", "qapp::service", "crates/qapp/src/ui.rs:2".to_owned()),
            ("qapp::service", "qapp::db", "crates/qapp/src/service.rs:2".to_owned())
        ]
    );
    assert!(summary.get("message").is_none());

    // Nothing in `db` leads back to `ui`.
    let (_, hops, summary) = json(&fixture, &["path", "qapp::db", "qapp::ui"]);
    assert!(hops.is_empty());
    assert_eq!(summary["message"], "no dependency path from `qapp::db` to `qapp::ui`");
}

#[test]
fn deps_and_rdeps_of_modules_and_crates() {
    let fixture = fixture();
    let (_, results, _) = json(&fixture, &["deps", "qapp::service"]);
    assert_eq!(paths(&results), set(&["qapp::db"]));
    let (_, results, _) = json(&fixture, &["rdeps", "qapp::service"]);
    assert_eq!(paths(&results), set(&["qapp::ui"]));
    let (_, results, _) = json(&fixture, &["rdeps", "qapp::service", "--depth", "2"]);
    // `ui` is used by qcore's test target, whose root module is `uses_app`.
    assert_eq!(paths(&results), set(&["qapp::ui", "uses_app"]));
    let (_, results, _) = json(&fixture, &["rdeps", "qcore"]);
    assert_eq!(paths(&results), set(&["qapp"]));
    assert!(results.iter().all(|r| r["kind"] == "crate"));
}

#[test]
fn cycles_of_modules_and_of_crates_through_a_dev_dependency() {
    let fixture = fixture();
    let (_, results, _) = json(&fixture, &["cycles"]);
    let pairs: BTreeSet<(String, String)> = results
        .iter()
        .map(|r| (r["from"].as_str().unwrap().to_owned(), r["to"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        pairs,
        BTreeSet::from([
            ("qcore::a".to_owned(), "qcore::b".to_owned()),
            ("qcore::b".to_owned(), "qcore::a".to_owned())
        ])
    );
    assert!(results.iter().all(|r| r["group"] == "cycle 1: qcore::a, qcore::b"));

    let (_, results, _) = json(&fixture, &["cycles", "--level", "crate"]);
    let pairs: BTreeSet<(String, String, String)> = results
        .iter()
        .map(|r| (r["from"].as_str().unwrap().to_owned(), r["to"].as_str().unwrap().to_owned(), place(r)))
        .collect();
    assert_eq!(
        pairs,
        BTreeSet::from([
            ("qapp".to_owned(), "qcore".to_owned(), "crates/qapp/src/lib.rs:5".to_owned()),
            ("qcore".to_owned(), "qapp".to_owned(), "crates/qcore/tests/uses_app.rs:3".to_owned()),
        ])
    );
}

#[test]
fn find_by_pattern_name_and_kind() {
    let fixture = fixture();
    let (_, results, _) = json(&fixture, &["find", "qapp::*"]);
    assert_eq!(
        paths(&results),
        // A trait-impl member is matched as its module's path and its name, as `check` does.
        set(&[
            "<qapp::AppStore as Store>::get",
            "qapp::AppStore",
            "qapp::db",
            "qapp::fetch",
            "qapp::service",
            "qapp::ui",
            "qapp::<impl Store for AppStore>"
        ])
    );
    let (_, results, _) = json(&fixture, &["find", "qapp::**", "--kind", "function"]);
    assert_eq!(
        paths(&results),
        set(&[
            "<qapp::AppStore as Store>::get",
            "qapp::db::load",
            "qapp::fetch",
            "qapp::service::run",
            "qapp::ui::render"
        ])
    );
    let (_, results, _) = json(&fixture, &["find", "get", "--kind", "function"]);
    assert_eq!(results.len(), 3);
    let (_, results, _) = json(&fixture, &["find", "p*ng"]);
    assert_eq!(paths(&results), set(&["qcore::a::ping", "qcore::b::pong"]));
}

#[test]
fn show_and_refs() {
    let fixture = fixture();
    let (header, results, _) = json(&fixture, &["show", "qcore::Store"]);
    assert_eq!(header["targets"][0]["props"]["doc"], "A key-value store.");
    let edges: BTreeSet<(String, String, String)> = results
        .iter()
        .map(|r| {
            (
                r["direction"].as_str().unwrap().to_owned(),
                r["edge"].as_str().unwrap().to_owned(),
                r["path"].as_str().unwrap().to_owned(),
            )
        })
        .filter(|(_, edge, _)| edge != "defined_in")
        .collect();
    let expected = [
        ("out", "contains", "qcore::Store::get"),
        ("in", "contains", "qcore"),
        ("in", "implements", "qcore::<impl Store for MemStore>"),
        ("in", "implements", "qapp::<impl Store for AppStore>"),
        ("in", "imports", "qapp"),
        ("in", "references", "qapp::fetch"),
    ];
    let expected: BTreeSet<(String, String, String)> =
        expected.iter().map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned())).collect();
    assert_eq!(edges, expected);

    let (_, results, _) = json(&fixture, &["refs", "qcore::helper"]);
    let refs: BTreeSet<(String, String)> =
        results.iter().map(|r| (r["edge"].as_str().unwrap().to_owned(), place(r))).collect();
    assert_eq!(
        refs,
        BTreeSet::from([
            ("calls".to_owned(), "crates/qapp/src/lib.rs:11".to_owned()),
            ("calls".to_owned(), "crates/qcore/src/lib.rs:13".to_owned())
        ])
    );
}

#[test]
fn impact_of_an_edit_found_through_git_diff() {
    let git = tool("git");
    let fixture = fixture();
    let dir = fixture.path();
    let git_run = |args: &[&str]| {
        let output = Command::new(&git)
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", describe(&output));
    };
    git_run(&["init", "-q"]);
    git_run(&["add", "crates", "Cargo.toml"]);
    git_run(&["commit", "-q", "-m", "base"]);
    // An edit inside `load`'s body.
    let db_rs = dir.join("crates/qapp/src/db.rs");
    let text = std::fs::read_to_string(&db_rs).unwrap();
    std::fs::write(&db_rs, text.replace("unwrap_or_default()", "unwrap_or_else(String::new)")).unwrap();

    // The query brings the graph up to date first, then reads the diff.
    let db = fixture.db();
    let output = fixture.run(&[
        "query",
        "impact",
        "--diff",
        "HEAD",
        "--offline",
        "--db",
        db.to_str().unwrap(),
        "--message-format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let results: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|value| value["type"] == "vertex" || value["type"] == "edge")
        .collect();
    let found: Vec<(String, String, u64, String)> = results
        .iter()
        .map(|r| {
            (
                r["group"].as_str().unwrap().to_owned(),
                r["path"].as_str().unwrap().to_owned(),
                r["depth"].as_u64().unwrap(),
                r["note"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let row =
        |group: &str, path: &str, depth: u64, note: &str| (group.to_owned(), path.to_owned(), depth, note.to_owned());
    assert_eq!(
        found,
        [
            row("qapp (lib)", "qapp::db::load", 0, "changed"),
            row("qapp (lib)", "qapp::service::run", 1, ""),
            row("qapp (lib)", "qapp::ui::render", 2, ""),
            row("uses_app (test)", "uses_app::app_renders", 3, "test"),
        ]
    );

    // The same change named by file and line.
    let (_, results, _) = json(&fixture, &["impact", "crates/qapp/src/db.rs:5", "--depth", "1"]);
    assert_eq!(paths(&results), set(&["qapp::db::load", "qapp::service::run"]));
}

#[test]
fn human_and_json_snapshots() {
    let fixture = fixture();
    for (name, args) in [
        ("callers", &["callers", "qcore::helper"][..]),
        ("callees", &["callees", "qapp::ui::render", "--depth", "3"][..]),
        ("impls", &["impls", "qcore::Store"][..]),
        ("path", &["path", "qapp::ui", "qapp::db"][..]),
        ("cycles_crate", &["cycles", "--level", "crate"][..]),
        ("show", &["show", "qapp::fetch"][..]),
    ] {
        let output = query(&fixture, args);
        assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
        insta::assert_snapshot!(format!("{name}_human"), String::from_utf8(output.stdout).unwrap());
        let mut json_args = args.to_vec();
        json_args.extend(["--message-format", "json"]);
        let output = query(&fixture, &json_args);
        insta::assert_snapshot!(format!("{name}_json"), String::from_utf8(output.stdout).unwrap());
    }
}

#[test]
fn bad_targets_and_arguments_have_their_exit_codes() {
    let fixture = fixture();
    let output = query(&fixture, &["callers", "qapp::nothing_here"]);
    assert_eq!(output.status.code(), Some(10), "{}", describe(&output));
    assert!(common::stderr(&output).contains("no vertex `qapp::nothing_here` in the graph"), "{}", describe(&output));

    let output = query(&fixture, &["show", "get"]);
    assert_eq!(output.status.code(), Some(11), "{}", describe(&output));
    let stderr = common::stderr(&output);
    assert!(stderr.contains("`get` names 3 vertices"), "{stderr}");
    for path in ["qcore::Store::get", "<qcore::MemStore as Store>::get", "<qapp::AppStore as Store>::get"] {
        assert!(stderr.contains(path), "{stderr}");
    }

    let output = query(&fixture, &["callers", "qcore::helper", "--depth", "0"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(common::stderr(&output).contains("invalid `depth`"), "{}", describe(&output));

    let output = query(&fixture, &["find", "qapp::bad-name"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));

    let output = query(&fixture, &["frobnicate", "x"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));

    let output = query(&fixture, &["find", "x", "--kind", "gadget"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(common::stderr(&output).contains("unknown kind `gadget`"), "{}", describe(&output));
}

#[test]
fn missing_and_damaged_graphs_are_store_errors() {
    let fixture = Fixture::new("query");
    let output = query(&fixture, &["stats"]);
    assert_eq!(output.status.code(), Some(5), "{}", describe(&output));
    assert!(common::stderr(&output).contains("no graph at"), "{}", describe(&output));

    std::fs::write(fixture.db(), b"\x96not a graph at all").unwrap();
    let output = query(&fixture, &["find", "helper"]);
    assert_eq!(output.status.code(), Some(5), "{}", describe(&output));
    assert!(common::stderr(&output).contains("is not a readable cargo-codegraph graph"), "{}", describe(&output));
    assert!(Path::new(&fixture.db()).exists());
}

#[test]
fn limit_cuts_and_says_so() {
    let fixture = fixture();
    let (_, results, summary) = json(&fixture, &["find", "qapp::**", "--kind", "function", "--limit", "2"]);
    assert_eq!(results.len(), 2);
    assert_eq!(summary["truncated"], true);
    assert_eq!(summary["total"], 5);
    let output = query(&fixture, &["find", "qapp::**", "--kind", "function", "--limit", "2"]);
    assert!(String::from_utf8(output.stdout).unwrap().contains("… 3 more (raise --limit)"));
}
