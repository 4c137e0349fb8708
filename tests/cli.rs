//! The command line as users meet it: help, invocation forms, output formats, errors and exit
//! codes. Each test runs the real binary on a copy of a fixture.

mod common;

use common::{Fixture, describe, run_in, stderr};
use serde_json::Value;

#[test]
fn help_for_every_command_names_its_flags() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &[&str])] = &[
        (&["--help"], &["build", "stats", "export", "--package", "--workspace", "--db", "--message-format"]),
        (
            &["build", "--help"],
            &[
                "--package",
                "--workspace",
                "--exclude",
                "--features",
                "--all-features",
                "--no-default-features",
                "--target",
                "--jobs",
                "--manifest-path",
                "--offline",
                "--locked",
                "--frozen",
                "--db",
                "--deps",
                "--lib",
                "--bins",
                "--tests",
                "--all-targets",
                "--color",
                "--quiet",
                "--verbose",
            ],
        ),
        (&["stats", "--help"], &["--db", "--manifest-path", "--message-format"]),
        (&["export", "--help"], &["--format", "jsonl", "--output", "--db"]),
    ];
    for (args, flags) in cases {
        for prefix in [&[][..], &["codegraph"][..]] {
            let args: Vec<&str> = prefix.iter().chain(args.iter()).copied().collect();
            let output = run_in(dir.path(), &args);
            assert_eq!(output.status.code(), Some(0), "{args:?}: {}", describe(&output));
            let help = String::from_utf8(output.stdout).unwrap();
            for flag in *flags {
                assert!(help.contains(flag), "`{}` help lacks {flag}:\n{help}", args.join(" "));
            }
        }
    }
}

#[test]
fn version_and_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_in(dir.path(), &["--version"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains(env!("CARGO_PKG_VERSION")));
    let output = run_in(dir.path(), &["--no-such-flag"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let output = run_in(dir.path(), &["-p", "x", "stats"]);
    assert_eq!(output.status.code(), Some(2), "build flags before a subcommand: {}", describe(&output));
}

#[test]
fn build_is_the_default_and_both_invocations_work() {
    let fixture = Fixture::new("single");
    let db = fixture.db();
    let db = db.to_str().unwrap();
    for args in [&["--offline", "--db", db, "-j2"][..], &["codegraph", "--offline", "--db", db][..]] {
        let output = fixture.run(args);
        assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
        assert!(stderr(&output).contains("Finished"), "{}", describe(&output));
    }
}

#[test]
fn json_summary_on_stdout() {
    let fixture = Fixture::new("workspace");
    let output = fixture.build(&["--workspace", "--message-format", "json"], 0);
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one JSON object: {stdout}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["packages"], 5);
    assert_eq!(summary["files_failed"], 0);
    assert_eq!(summary["files_parsed"], summary["files"]);
    assert!(summary["items"].as_u64().unwrap() > 30);
    assert!(summary["diagnostics"].as_array().unwrap().is_empty());
    assert!(stderr(&output).is_empty(), "nothing on stderr in JSON mode: {}", stderr(&output));
}

#[test]
fn the_summary_counts_a_file_that_targets_share_once() {
    // Two test targets declare `mod common;`: five file jobs, four files.
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("Cargo.toml", "[package]\nname = \"shared\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n"),
        ("src/lib.rs", "pub fn f() {}\n"),
        ("tests/a.rs", "mod common;\n"),
        ("tests/b.rs", "mod common;\n"),
        ("tests/common/mod.rs", "pub fn helper() {}\n"),
    ];
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let human = run_in(dir.path(), &["codegraph", "--offline", "--db", "graph.msgpack"]);
    assert!(stderr(&human).contains(" edges from 4 files in "), "{}", describe(&human));
    let json = run_in(
        dir.path(),
        &["codegraph", "--offline", "--rebuild", "--db", "graph.msgpack", "--message-format", "json"],
    );
    let summary: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!((summary["files"].as_u64(), summary["files_parsed"].as_u64()), (Some(4), Some(5)), "{summary:#}");
}

#[test]
fn stats_reads_the_stored_graph() {
    let fixture = Fixture::new("workspace");
    fixture.build(&["--workspace"], 0);
    let db = fixture.db();
    let output = fixture.run(&["stats", "--db", db.to_str().unwrap(), "--message-format", "json"]);
    assert!(output.status.success(), "{}", describe(&output));
    let stats: Value = serde_json::from_slice(&output.stdout).unwrap();
    let stats = &stats["stats"];
    assert_eq!(stats["vertices_by_kind"]["package"], 5);
    assert_eq!(stats["vertices_by_kind"]["union"], 1);
    assert!(stats["edges_by_kind"]["depends_on"].as_u64().unwrap() > 0);
    let total: u64 = stats["vertices_by_kind"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(stats["vertices"].as_u64(), Some(total));

    let human = fixture.run(&["stats", "--db", db.to_str().unwrap()]);
    let text = String::from_utf8(human.stdout).unwrap();
    assert!(text.contains("function") && text.contains("depends_on"), "{text}");
}

#[test]
fn default_db_lives_in_the_target_dir() {
    let fixture = Fixture::new("single");
    let output = fixture.run(&["--offline"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(fixture.path().join("target/codegraph/graph.msgpack").is_file());
    let output = fixture.run(&["stats", "--offline"]);
    assert!(output.status.success(), "stats finds the default db: {}", describe(&output));
    // Beside it only its lock file, its cache (for the next build's plan) and what `cargo metadata`
    // said (`workspace::cached`): no temp file is left.
    let mut names: Vec<String> = std::fs::read_dir(fixture.path().join("target/codegraph"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["graph.msgpack", "graph.msgpack.cache", "graph.msgpack.lock", "metadata-cache"]);
}

#[test]
fn export_to_a_file_matches_stdout() {
    let fixture = Fixture::new("single");
    fixture.build(&[], 0);
    let out = fixture.path().join("graph.jsonl");
    let db = fixture.db();
    let output =
        fixture.run(&["export", "--format", "jsonl", "--db", db.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(std::fs::read_to_string(out).unwrap(), fixture.export());
}

#[test]
fn export_header_is_versioned() {
    let fixture = Fixture::new("single");
    fixture.build(&[], 0);
    let export = fixture.export();
    let header: Value = serde_json::from_str(export.lines().next().unwrap()).unwrap();
    assert_eq!(
        header,
        serde_json::json!({"type": "header", "schema": 2, "tool": "cargo-codegraph", "version": env!("CARGO_PKG_VERSION")})
    );
    // Vertices by id, then edges by (from, kind, to).
    let lines: Vec<Value> = export.lines().skip(1).map(|l| serde_json::from_str(l).unwrap()).collect();
    let ids: Vec<&str> = lines.iter().filter(|l| l["type"] == "vertex").map(|l| l["id"].as_str().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    let edges: Vec<(&str, &str, &str)> = lines
        .iter()
        .filter(|l| l["type"] == "edge")
        .map(|l| (l["from"].as_str().unwrap(), l["kind"].as_str().unwrap(), l["to"].as_str().unwrap()))
        .collect();
    assert!(edges.windows(2).all(|w| w[0] < w[1]));
    let first_edge = lines.iter().position(|l| l["type"] == "edge").unwrap();
    assert!(lines[first_edge..].iter().all(|l| l["type"] == "edge"));
}

#[test]
fn a_file_that_does_not_parse_fails_alone() {
    let fixture = Fixture::new("broken");
    let output = fixture.build(&[], 3);
    let err = stderr(&output);
    assert!(err.contains("error: src/bad.rs:3:14: "), "{err}");
    assert!(err.contains("warning: src/lib.rs:3: file not found for module `missing`"), "{err}");
    assert!(err.contains("`src/missing.rs`") && err.contains("`src/missing/mod.rs`"), "{err}");
    assert!(err.contains("1 failed"), "{err}");
    let graph = common::Graph::parse(&fixture.export());
    // Everything else is indexed, and the failed and missing modules still exist.
    graph.one("struct", "broken::good::Fine");
    graph.one("function", "broken::root_fn");
    graph.one("module", "broken::bad");
    graph.one("module", "broken::missing");
}

#[test]
fn not_a_cargo_project() {
    let fixture = Fixture::new("not-a-project");
    let output = fixture.build(&[], 4);
    let err = stderr(&output);
    assert!(err.contains("Cargo.toml"), "{err}");
    assert!(err.contains(fixture.path().to_str().unwrap()), "names the folder: {err}");
    assert!(!fixture.db().exists());

    let missing = fixture.path().join("nowhere/Cargo.toml");
    let output = fixture.run(&["--manifest-path", missing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(4), "{}", describe(&output));
    assert!(stderr(&output).contains("nowhere/Cargo.toml"), "{}", describe(&output));
}

#[test]
fn a_broken_manifest_is_named() {
    let fixture = Fixture::new("bad-manifest");
    let manifest = fixture.manifest();
    let output = fixture.run(&["--offline", "--manifest-path", manifest.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(4), "{}", describe(&output));
    assert!(stderr(&output).contains(manifest.to_str().unwrap()), "{}", describe(&output));
    assert!(!stderr(&output).contains("panicked"));
}

#[test]
fn an_unknown_package_is_an_error() {
    let fixture = Fixture::new("workspace");
    let output = fixture.build(&["-p", "no-such-package"], 4);
    assert!(stderr(&output).contains("package `no-such-package` is not a member"), "{}", describe(&output));
}

#[test]
fn an_unwritable_db_fails_before_any_work() {
    let fixture = Fixture::new("single");
    let blocker = fixture.path().join("not-a-folder");
    std::fs::write(&blocker, "").unwrap();
    let db = blocker.join("graph.msgpack");
    let output = fixture.run(&["--offline", "--db", db.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(5), "{}", describe(&output));
    let err = stderr(&output);
    assert!(err.contains(db.to_str().unwrap()), "{err}");
    assert!(!err.contains("Finished"), "{err}");
}

#[test]
fn reading_a_missing_or_damaged_db() {
    let fixture = Fixture::new("single");
    let db = fixture.db();
    let db_arg = db.to_str().unwrap();
    for command in ["stats", "export"] {
        let output = fixture.run(&[command, "--db", db_arg]);
        assert_eq!(output.status.code(), Some(5), "{}", describe(&output));
        assert!(stderr(&output).contains("no graph at"), "{}", describe(&output));
    }
    std::fs::write(&db, b"\x93\xff garbage").unwrap();
    for command in ["stats", "export"] {
        let output = fixture.run(&[command, "--db", db_arg]);
        assert_eq!(output.status.code(), Some(5), "{}", describe(&output));
        let err = stderr(&output);
        assert!(err.contains(db_arg) && err.contains("rebuild"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn a_member_folder_selects_that_member() {
    let fixture = Fixture::new("workspace");
    let db = fixture.db();
    let output = run_in(&fixture.path().join("crates/core"), &["--offline", "--db", db.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let graph = common::Graph::parse(&fixture.export());
    let indexed: Vec<String> = graph
        .vertices
        .values()
        .filter(|v| v["kind"] == "crate" && v["props"]["indexed"] == true)
        .map(|v| v["props"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(indexed, ["fx_core"]);

    // At the root of a virtual workspace: all default members.
    fixture.build(&[], 0);
    let graph = common::Graph::parse(&fixture.export());
    let packages = graph.vertices.values().filter(|v| v["kind"] == "package").count();
    assert_eq!(packages, 5, "four members and the path dependency");
}

#[test]
fn exclude_and_package_select_members() {
    let fixture = Fixture::new("workspace");
    fixture.build(&["--workspace", "--exclude", "fx-cli"], 0);
    let graph = common::Graph::parse(&fixture.export());
    assert!(graph.find("crate", "fx_cli").is_empty());
    graph.one("module", "fx_testkit");

    fixture.build(&["-p", "fx-app", "-p", "fx-testkit"], 0);
    let graph = common::Graph::parse(&fixture.export());
    let mut roots: Vec<&str> = graph
        .vertices
        .values()
        .filter(|v| v["kind"] == "module" && !v["props"]["path"].as_str().unwrap().contains("::"))
        .map(|v| v["props"]["path"].as_str().unwrap())
        .collect();
    roots.sort();
    assert_eq!(roots, ["fx_app", "fx_app", "fx_testkit", "tool"]);
}

#[test]
fn color_quiet_and_verbose() {
    let fixture = Fixture::new("single");
    let db = fixture.db();
    let db = db.to_str().unwrap();
    let has_ansi = |output: &std::process::Output| stderr(output).contains("\u{1b}[");

    let always = fixture.run(&["--offline", "--db", db, "--color", "always"]);
    assert!(has_ansi(&always), "{}", describe(&always));
    let never = fixture.run(&["--offline", "--db", db, "--color", "never"]);
    assert!(!has_ansi(&never) && stderr(&never).contains("Finished"), "{}", describe(&never));
    // Not a terminal: no color by default, but CARGO_TERM_COLOR is honoured as cargo does.
    let auto = fixture.run(&["--offline", "--db", db]);
    assert!(!has_ansi(&auto));
    let from_env = std::process::Command::new(common::BIN)
        .args(["--offline", "--db", db])
        .current_dir(fixture.path())
        .env("CARGO_TERM_COLOR", "always")
        .output()
        .unwrap();
    assert!(has_ansi(&from_env), "{}", describe(&from_env));

    let quiet = fixture.run(&["--offline", "--db", db, "-q"]);
    assert_eq!(quiet.status.code(), Some(0));
    assert!(stderr(&quiet).is_empty(), "{}", describe(&quiet));
    let verbose = fixture.run(&["--offline", "--db", db, "-v"]);
    assert!(stderr(&verbose).contains("time: metadata"), "{}", describe(&verbose));
    // The validation stage's counts: every item registered, no resolved edge dropped.
    assert!(stderr(&verbose).contains("resolved edges checked, 0 dropped"), "{}", describe(&verbose));
}

/// The indexed crates of the graph, as `kind name`, sorted.
fn indexed_crates(fixture: &Fixture) -> Vec<String> {
    let graph = common::Graph::parse(&fixture.export());
    let mut crates: Vec<String> = graph
        .vertices
        .values()
        .filter(|v| v["kind"] == "crate" && v["props"]["indexed"] == true)
        .map(|v| format!("{} {}", v["props"]["kind"].as_str().unwrap(), v["props"]["name"].as_str().unwrap()))
        .collect();
    crates.sort();
    crates
}

#[test]
fn target_selection_follows_cargo() {
    let fixture = Fixture::new("workspace");
    // Without a flag every target is indexed, the build script too.
    fixture.build(&["-p", "fx-cli"], 0);
    assert_eq!(
        indexed_crates(&fixture),
        ["bench speed", "bin fx-cli", "custom-build build-script-build", "example demo", "test smoke"]
    );
    fixture.build(&["-p", "fx-cli", "--tests", "--example", "demo"], 0);
    assert_eq!(indexed_crates(&fixture), ["example demo", "test smoke"]);
    fixture.build(&["-p", "fx-cli", "--all-targets"], 0);
    assert_eq!(indexed_crates(&fixture).len(), 5);

    // A binary links its package's library, which comes along.
    fixture.build(&["-p", "fx-app", "--bin", "tool"], 0);
    assert_eq!(indexed_crates(&fixture), ["bin tool", "lib fx_app"]);
    fixture.build(&["-p", "fx-app", "--lib"], 0);
    assert_eq!(indexed_crates(&fixture), ["lib fx_app"]);

    let output = fixture.run(&["build", "-p", "fx-app", "--bin", "nope", "--db", fixture.db().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(4), "{}", describe(&output));
    let stderr = common::stderr(&output);
    assert!(stderr.contains("no bin target named `nope` in the selected packages (available: "), "{stderr}");
    assert!(stderr.contains("tool"), "{stderr}");
}

/// `main` turns transparent huge pages off for its process (`process::no_transparent_huge_pages`):
/// seen from outside in the kernel's own report of a running `mcp` server (it waits on its
/// standard input, which this test holds open).
#[cfg(target_os = "linux")]
#[test]
fn the_binary_runs_with_transparent_huge_pages_off() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(common::BIN)
        .args(["mcp", "--db", dir.path().join("graph.msgpack").to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut seen = String::new();
    // `main` may not have run yet when the process is first seen.
    while std::time::Instant::now() < deadline {
        seen = std::fs::read_to_string(&status).unwrap_or_default();
        if seen.lines().any(|line| line == "THP_enabled:\t0") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen.lines().any(|line| line == "THP_enabled:\t0"), "{seen}");
}
