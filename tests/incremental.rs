//! Reruns equal full builds: a seeded sequence of random edits to the `calls` fixture (files and
//! modules added, removed and renamed, items added and removed, `use` lines and calls changed,
//! function bodies changed in the dependency, its public items added, a feature switched in its
//! manifest, files rewritten unchanged, a `#[macro_export]` macro of the dependency and a local
//! macro redefined, an `include!`d file rewritten), and after each, an incremental rerun on the same graph
//! must export exactly what a full build (`--rebuild`, another graph) exports, and report the same
//! counts. A rerun that is skipped when it should not be (an input the up-to-date check misses)
//! fails here; so does one that indexes again what it could have kept (an edit to a function body
//! of the dependency parses that crate alone).

mod common;

use std::path::{Path, PathBuf};

use common::{Fixture, describe};

/// A small deterministic generator: the same seed gives the same edits on every machine.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

/// Builds (a rerun, or with `--rebuild` a full build) and exports; returns the export and the
/// build's JSON summary.
fn build_and_export(dir: &Path, db: &Path, extra: &[&str]) -> (String, serde_json::Value) {
    let mut args = vec!["--offline", "--workspace", "--message-format", "json", "--db", db.to_str().unwrap()];
    args.extend_from_slice(extra);
    let output = common::run_in(dir, &args);
    assert!(matches!(output.status.code(), Some(0 | 3)), "{}", describe(&output));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let export = common::run_in(dir, &["export", "--db", db.to_str().unwrap()]);
    assert!(export.status.success(), "{}", describe(&export));
    (String::from_utf8(export.stdout).unwrap(), summary)
}

/// What a summary says of the graph, without what says how it was built.
fn counts(summary: &serde_json::Value) -> serde_json::Value {
    let mut counts = summary.clone();
    let object = counts.as_object_mut().unwrap();
    let how_built = [
        "db",
        "fresh",
        "incremental",
        "files_reparsed",
        "crates_reindexed",
        "crates_unaffected",
        "crates_patched",
        "batches_written",
        "batches_compared",
        "expansions_reused",
        "items_resolved",
        "elapsed_ms",
        "timings",
    ];
    for how in how_built {
        object.remove(how);
    }
    counts
}

/// A rerun on `rerun_db` and a full build on `full_db`, of the workspace at `dir`: asserts that
/// they give the same graph and the same counts; gives the rerun's export and summary, and the
/// full build's summary.
fn rerun_equals_full(dir: &Path, rerun_db: &Path, full_db: &Path) -> (String, serde_json::Value, serde_json::Value) {
    let (rerun, summary) = build_and_export(dir, rerun_db, &[]);
    let (full, full_summary) = build_and_export(dir, full_db, &["--rebuild"]);
    assert!(rerun == full, "the rerun's graph is the full build's\n{summary}");
    assert_eq!(counts(&summary), counts(&full_summary), "{summary}");
    (rerun, summary, full_summary)
}

/// `rerun_equals_full`, for a rerun that patched and indexed again these many crates; gives its
/// summary and graph.
fn rerun_patched(
    dir: &Path,
    rerun_db: &Path,
    full_db: &Path,
    patched: u64,
    reindexed: u64,
) -> (serde_json::Value, String) {
    let (rerun, summary, _) = rerun_equals_full(dir, rerun_db, full_db);
    let how = (summary["crates_patched"].as_u64(), summary["crates_reindexed"].as_u64());
    assert_eq!(how, (Some(patched), Some(reindexed)), "{summary}");
    (summary, rerun)
}

/// Rewrites the file at `path` with `one` replaced by `other`, or `other` by `one` when `one` is
/// not there; returns what is written now.
fn toggle<'a>(path: &Path, one: &'a str, other: &'a str) -> &'a str {
    let content = std::fs::read_to_string(path).unwrap();
    let (from, to) = if content.contains(one) { (one, other) } else { (other, one) };
    std::fs::write(path, content.replace(from, to)).unwrap();
    to
}

fn append(path: &Path, text: &str) {
    let mut content = std::fs::read_to_string(path).unwrap();
    content.push_str(text);
    std::fs::write(path, content).unwrap();
}

#[test]
fn reruns_after_random_edits_equal_full_builds() {
    random_edits("msgpack");
}

#[cfg(feature = "rocksdb")]
#[test]
fn reruns_after_random_edits_equal_full_builds_on_rocksdb() {
    random_edits("rocksdb");
}

/// The seeded edits, on graphs of the `store` backend (the rerun's graph is the one updated).
fn random_edits(store: &str) {
    let fixture = Fixture::new("calls");
    let root = fixture.path().to_path_buf();
    let app = root.join("crates/app/src");
    let lib = app.join("lib.rs");
    let report = app.join("report/mod.rs");
    let util = root.join("crates/util");
    let text = util.join("src/text.rs");
    let scratch = tempfile::tempdir().unwrap();
    let (rerun_db, full_db) =
        (scratch.path().join(format!("rerun.{store}")), scratch.path().join(format!("full.{store}")));
    build_and_export(&root, &rerun_db, &["--store", store]);

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Modules this test added, as (name, its file).
    let mut added: Vec<(String, PathBuf)> = Vec::new();
    let mut skipped = 0;
    let mut incremental = 0;
    // Functions step 3 added to `report`, which step 9 removes again.
    let mut report_fns: Vec<String> = Vec::new();
    for step in 0..40 {
        // Body-only edits to the dependency: its dependents are kept, only its files parsed.
        let mut only_util = false;
        // Every fifth step rewrites a file unchanged: a rerun that must be skipped. The first
        // steps go through every kind of edit; then they are drawn at random.
        const FIRST: [usize; 20] = [0, 3, 8, 2, 12, 13, 5, 9, 1, 10, 4, 11, 7, 14, 15, 13, 16, 17, 16, 17];
        let kind = match step {
            _ if step % 5 == 4 => 6,
            _ if step < 25 => FIRST[step - step / 5],
            _ => rng.below(18),
        };
        let what = match kind {
            0 => {
                let name = format!("extra{step}");
                let file = app.join(format!("{name}.rs"));
                std::fs::write(&file, format!("pub fn made_{step}() -> f64 {{ crate::report::helper(1.0) }}\n"))
                    .unwrap();
                append(&lib, &format!("pub mod {name};\n"));
                added.push((name.clone(), file));
                format!("add module {name}")
            }
            1 if !added.is_empty() => {
                let (name, file) = added.remove(rng.below(added.len()));
                std::fs::remove_file(&file).unwrap();
                let text = std::fs::read_to_string(&lib).unwrap().replace(&format!("pub mod {name};\n"), "");
                std::fs::write(&lib, text).unwrap();
                format!("remove module {name}")
            }
            2 if !added.is_empty() => {
                // The declaration stays; the file moves to where `mod x;` also looks.
                let index = rng.below(added.len());
                let (name, file) = added[index].clone();
                let moved = app.join(&name).join("mod.rs");
                if file.ends_with("mod.rs") {
                    continue;
                }
                std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
                std::fs::rename(&file, &moved).unwrap();
                added[index].1 = moved;
                format!("rename {name}.rs to {name}/mod.rs")
            }
            3 => {
                let function = format!("\npub fn added_{step}(x: f64) -> f64 {{\n    helper(x) + {step}.0\n}}\n");
                append(&report, &function);
                report_fns.push(function);
                format!("add a function to report at step {step}")
            }
            4 => {
                append(&report, &format!("use crate::shapes::Circle as Round{step};\n"));
                "add a use line".to_owned()
            }
            5 if !added.is_empty() => {
                let (name, file) = &added[rng.below(added.len())];
                append(file, &format!("pub fn call_{step}() -> f64 {{ super::report::helper({step}.0) }}\n"));
                format!("add a call in {name}")
            }
            6 => {
                // Rewritten with the same content: nothing to rebuild.
                let text = std::fs::read_to_string(&report).unwrap();
                std::fs::write(&report, text).unwrap();
                "rewrite report unchanged".to_owned()
            }
            8 => {
                // A new public item in the dependency: its interface changes, `app` is indexed again.
                append(&text, &format!("\npub fn extra_{step}(s: &str) -> usize {{ s.len() + {step} }}\n"));
                append(
                    &report,
                    &format!("\npub fn uses_extra_{step}() -> usize {{ util2::text::extra_{step}(\"x\") }}\n"),
                );
                format!("add a public function to util, and a call to it from app, at step {step}")
            }
            9 if !report_fns.is_empty() => {
                let function = report_fns.remove(rng.below(report_fns.len()));
                let content = std::fs::read_to_string(&report).unwrap().replacen(&function, "", 1);
                std::fs::write(&report, content).unwrap();
                "remove a function from report".to_owned()
            }
            10 => {
                // Inside a function body of the dependency: nothing that `app` sees changes.
                let content = std::fs::read_to_string(&text).unwrap();
                let content =
                    content.replacen("s.trim_end()", &format!("s.trim_end().trim_end_matches('{}')", step % 10), 1);
                std::fs::write(&text, content).unwrap();
                only_util = true;
                "change a function body in util".to_owned()
            }
            11 => {
                // A feature switched on or off in the dependency's manifest changes what is active.
                let manifest = util.join("Cargo.toml");
                let content = std::fs::read_to_string(&manifest).unwrap();
                let content = match content.find("[features]") {
                    Some(at) => content[..at].to_owned(),
                    None => format!("{content}\n[features]\ndefault = [\"loud\"]\nloud = []\n"),
                };
                std::fs::write(&manifest, content).unwrap();
                if !std::fs::read_to_string(&text).unwrap().contains("gated") {
                    append(&text, "\n#[cfg(feature = \"loud\")]\npub fn gated() {}\n");
                }
                "switch a feature of util".to_owned()
            }
            12 => {
                // A binary target appears (cargo finds `src/bin/*.rs`) or goes: a crate added or
                // removed.
                let bin = root.join("crates/app/src/bin/tool.rs");
                if bin.exists() {
                    std::fs::remove_file(&bin).unwrap();
                    "remove the binary target".to_owned()
                } else {
                    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
                    std::fs::write(&bin, "fn main() { calls_app::report::helper(1.0); }\n").unwrap();
                    "add a binary target".to_owned()
                }
            }
            13 => {
                // A `#[macro_export]` macro of the dependency, called from `app`: redefining it
                // changes util's interface, and `app` expands the call again.
                let stamped = util.join("src/stamped.rs");
                if !stamped.exists() {
                    append(&util.join("src/lib.rs"), "\npub mod stamped;\n");
                    append(&lib, "\nutil2::stamp!(stamped_a, stamped_b);\n");
                }
                let definition = format!(
                    "#[macro_export]\nmacro_rules! stamp {{\n    ($($n:ident),*) => {{\n        \
                     $(pub fn $n() -> u32 {{ {step} }})*\n        pub struct Version{step};\n    }};\n}}\n"
                );
                std::fs::write(&stamped, definition).unwrap();
                format!("define util's exported macro `stamp` again at step {step}")
            }
            14 => {
                // An `include!`d file, rewritten: its items are the including module's.
                let included = app.join("report/generated.rs");
                if !included.exists() {
                    append(&report, "\ninclude!(\"generated.rs\");\n");
                }
                std::fs::write(&included, format!("pub fn generated_{step}() -> f64 {{ helper({step}.0) }}\n"))
                    .unwrap();
                format!("rewrite the included file at step {step}")
            }
            15 => {
                // A local macro, defined in one file and called in another: redefined.
                let made = app.join("made.rs");
                if !made.exists() {
                    append(&lib, "\n#[macro_use]\nmod made;\nmade_here!(Made);\n");
                }
                let definition = format!(
                    "macro_rules! made_here {{\n    ($name:ident) => {{\n        pub struct $name;\n        \
                     impl $name {{ pub fn step_{step}(&self) {{}} }}\n    }};\n}}\n"
                );
                std::fs::write(&made, definition).unwrap();
                format!("define the local macro `made_here` again at step {step}")
            }
            16 => {
                // util's exported macro that `app` calls in a function body (`util2::shout_it!`),
                // redefined to call another function: `app` expands the call again.
                let to = toggle(
                    &util.join("src/lib.rs"),
                    "$crate::text::shout($text)",
                    "$crate::text::join(&[$text.to_owned()], \"\")",
                );
                format!("make util's body macro `shout_it` call {to} at step {step}")
            }
            17 => {
                // A local macro called in a function body (`scaled_area!`), redefined to call
                // another method.
                let to = toggle(&app.join("bodies.rs"), "grown.area()", "grown.diameter()");
                format!("make the body macro `scaled_area` call {to} at step {step}")
            }
            _ => {
                // A `mod x;` with no file yet: the walk looks for it, and must notice it appear.
                let name = format!("later{step}");
                append(&lib, &format!("pub mod {name};\n"));
                let file = app.join(format!("{name}.rs"));
                let (before, _) = build_and_export(&root, &rerun_db, &[]);
                std::fs::write(&file, "pub fn appeared() {}\n").unwrap();
                added.push((name.clone(), file));
                assert!(!before.contains(&format!("{name}::appeared")));
                format!("declare {name}, then create its file")
            }
        };
        let (rerun, rerun_summary) = build_and_export(&root, &rerun_db, &[]);
        let (full, full_summary) = build_and_export(&root, &full_db, &["--rebuild", "--store", store]);
        let fresh = rerun_summary["fresh"] == true;
        skipped += usize::from(fresh);
        incremental += usize::from(rerun_summary["incremental"] == true);
        let resolved = &rerun_summary["items_resolved"];
        eprintln!(
            "step {step}: {what}: fresh {fresh}, incremental {}, files parsed again {}, items resolved {resolved}",
            rerun_summary["incremental"], rerun_summary["files_reparsed"]
        );
        assert!(rerun == full, "after step {step} ({what}), the rerun differs from a full build");
        assert_eq!(counts(&rerun_summary), counts(&full_summary), "after step {step} ({what})");
        if !fresh {
            assert_eq!(rerun_summary["incremental"], true, "after step {step} ({what}): a full build");
        }
        if only_util {
            // `app` is kept whole; of `util`, the edited file alone is parsed.
            assert_eq!(rerun_summary["crates_reindexed"], 1, "after step {step} ({what})");
            assert_eq!(rerun_summary["files_reparsed"], 1, "after step {step} ({what})");
        }
    }
    assert!(skipped >= 8, "the unchanged rewrites were skipped ({skipped})");
    assert!(incremental >= 20, "most reruns were incremental ({incremental})");
}

#[test]
fn a_damaged_cache_makes_a_full_build_that_is_still_right() {
    let fixture = Fixture::new("calls");
    let root = fixture.path().to_path_buf();
    let scratch = tempfile::tempdir().unwrap();
    let (rerun_db, full_db) = (scratch.path().join("rerun.msgpack"), scratch.path().join("full.msgpack"));
    build_and_export(&root, &rerun_db, &[]);
    // Every file of the cache but its state is damaged: the one pack of the first build, which
    // holds the outputs, scopes and files of every crate and the workspace.
    let cache = scratch.path().join("rerun.msgpack.cache");
    let mut damaged = Vec::new();
    for entry in std::fs::read_dir(&cache).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != "state.msgpack" {
            std::fs::write(&path, b"damaged").unwrap();
            damaged.push(path.file_name().unwrap().to_owned());
        }
    }
    assert_eq!(damaged, ["pack-0"]);
    append(&root.join("crates/util/src/text.rs"), "\npub fn added() {}\n");
    let (rerun, summary) = build_and_export(&root, &rerun_db, &[]);
    assert_eq!(summary["incremental"], false, "{summary}");
    let (full, _) = build_and_export(&root, &full_db, &["--rebuild"]);
    assert!(rerun == full);
    // The full build wrote a sound cache again: the next edit is incremental.
    append(&root.join("crates/util/src/text.rs"), "\npub fn added_again() {}\n");
    let (rerun, summary) = build_and_export(&root, &rerun_db, &[]);
    assert_eq!(summary["incremental"], true, "{summary}");
    let (full, _) = build_and_export(&root, &full_db, &["--rebuild"]);
    assert!(rerun == full);
}

/// An empty library package `name` in `dir`, with no dependencies: its folder.
fn new_package(dir: &Path, name: &str) -> PathBuf {
    let root = dir.join(name);
    std::fs::create_dir_all(root.join("src")).unwrap();
    let manifest = format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
    std::fs::write(root.join("Cargo.toml"), manifest).unwrap();
    root
}

#[test]
fn a_body_edit_in_a_large_crate_compares_only_the_batches_it_changes() {
    // One crate of 20 files of 50 functions, each calling the next: a library like tokio's,
    // where most of a package's items are.
    let scratch = tempfile::tempdir().unwrap();
    let root = new_package(scratch.path(), "big");
    let mut lib = String::new();
    for file in 0..20 {
        lib.push_str(&format!("pub mod m{file};\n"));
        // One file's functions below a `use`, which the comment added above them moves too.
        let mut text = if file == 12 { String::from("use crate::m13;\n") } else { String::new() };
        for f in 0..50 {
            text.push_str(&format!(
                "pub fn f{f}() -> u32 {{\n    crate::m{}::f{}() + 1\n}}\n",
                (file + 1) % 20,
                (f + 1) % 50
            ));
        }
        std::fs::write(root.join(format!("src/m{file}.rs")), text).unwrap();
    }
    std::fs::write(root.join("src/lib.rs"), lib).unwrap();
    let (rerun_db, full_db) = (scratch.path().join("rerun.msgpack"), scratch.path().join("full.msgpack"));
    build_and_export(&root, &rerun_db, &[]);

    // A call in one body now goes elsewhere; no line moves.
    let edited = root.join("src/m7.rs");
    let text = std::fs::read_to_string(&edited).unwrap();
    std::fs::write(&edited, text.replacen("crate::m8::f21()", "crate::m3::f2()", 1)).unwrap();
    let (rerun, summary) = build_and_export(&root, &rerun_db, &[]);
    assert_eq!(summary["incremental"], true, "{summary}");
    assert_eq!(summary["crates_reindexed"], 1, "{summary}");
    let (full, full_summary) = build_and_export(&root, &full_db, &["--rebuild"]);
    assert!(rerun == full, "the rerun's graph is the full build's");
    assert_eq!(counts(&summary), counts(&full_summary));
    // The edited file's batch and the one batch of resolved edges that holds the function's
    // calls, before and after: 4, where comparing the crate's outputs whole reads about 80 (one
    // batch per file, and resolved edges in about one batch per 64 items, on each side).
    let compared = summary["batches_compared"].as_u64().unwrap();
    assert!((2..=6).contains(&compared), "{summary}");
    // The crate's scopes and imports are as they were: only the segment of items around the
    // edited function (about 64 of the crate's 1,021) is resolved again, the rest keep their
    // edges. A full build resolves them all.
    let resolved = summary["items_resolved"].as_u64().unwrap();
    assert!((1..=200).contains(&resolved), "{summary}");
    assert_eq!(full_summary["items_resolved"], 1021, "{full_summary}");

    // A function added changes the crate's scopes in one name, which no other item mentions:
    // the segment that holds it is resolved, the others keep their edges, and the graph is still
    // the full build's.
    std::fs::write(&edited, std::fs::read_to_string(&edited).unwrap() + "pub fn added() -> u32 { f3() }\n").unwrap();
    let (rerun, summary) = build_and_export(&root, &rerun_db, &[]);
    let (full, full_summary) = build_and_export(&root, &full_db, &["--rebuild"]);
    assert!(rerun == full, "the rerun's graph is the full build's");
    assert_eq!(full_summary["items_resolved"], 1022, "{full_summary}");
    let resolved = summary["items_resolved"].as_u64().unwrap();
    assert!((1..=200).contains(&resolved), "{summary}");

    // Calls now name it from another file: their segments are resolved, and see it.
    let caller = root.join("src/m3.rs");
    let text = std::fs::read_to_string(&caller).unwrap();
    std::fs::write(&caller, text.replacen("crate::m4::f1()", "crate::m7::added()", 1)).unwrap();
    let (rerun, summary) = build_and_export(&root, &rerun_db, &[]);
    let (full, full_summary) = build_and_export(&root, &full_db, &["--rebuild"]);
    assert!(rerun == full, "the rerun's graph is the full build's");
    assert_eq!(counts(&summary), counts(&full_summary));

    // It is renamed: the item that calls it by its old name is resolved again (its call is now
    // unresolved), though its own refs did not change.
    toggle(&edited, "pub fn added()", "pub fn renamed()");
    let (rerun, summary) = build_and_export(&root, &rerun_db, &[]);
    let (full, full_summary) = build_and_export(&root, &full_db, &["--rebuild"]);
    assert!(rerun == full, "the rerun's graph is the full build's\n{summary}");
    assert_eq!(counts(&summary), counts(&full_summary), "a call kept as resolved would count as exact");
    assert_eq!(summary["resolve"]["calls_unresolved"], 1, "{summary}");

    // An impl added changes more than names: every item is resolved again.
    append(&edited, "pub struct S;\nimpl S { pub fn f1(&self) {} }\n");
    let (rerun, summary) = build_and_export(&root, &rerun_db, &[]);
    let (full, full_summary) = build_and_export(&root, &full_db, &["--rebuild"]);
    assert!(rerun == full, "the rerun's graph is the full build's");
    assert_eq!(summary["items_resolved"], full_summary["items_resolved"], "{summary}");

    // Lines moved in one file (a comment above its `use` and its functions), and nothing else:
    // the crate is patched, its edges' lines moved without resolving anything.
    let moved = root.join("src/m12.rs");
    std::fs::write(&moved, format!("// a comment\n\n{}", std::fs::read_to_string(&moved).unwrap())).unwrap();
    let (rerun, summary) = build_and_export(&root, &rerun_db, &[]);
    let (full, _) = build_and_export(&root, &full_db, &["--rebuild"]);
    assert!(rerun == full, "the rerun's graph is the full build's");
    assert_eq!((summary["crates_patched"].as_u64(), summary["items_resolved"].as_u64()), (Some(1), Some(0)));

    // Lines moved again, and a call changed: the segments that hold that file's 50 functions are
    // resolved again, for their edges' lines, and only those (the crate's imports resolve as they
    // did: a `use` that moved is not a `use` that changed); the graph is the full build's.
    let text = std::fs::read_to_string(&moved).unwrap().replacen("// a comment\n", "", 1);
    std::fs::write(&moved, text.replacen("crate::m13::f1()", "crate::m13::f2()", 1)).unwrap();
    let (rerun, summary) = build_and_export(&root, &rerun_db, &[]);
    let (full, _) = build_and_export(&root, &full_db, &["--rebuild"]);
    assert!(rerun == full, "the rerun's graph is the full build's");
    let resolved = summary["items_resolved"].as_u64().unwrap();
    assert!((50..1022).contains(&resolved), "{summary}");
}

/// A package `lib` with `lib_rs` as its library and `tests` (name, text) as its test targets,
/// built once into the rerun's graph: the scratch folder (kept alive), the package's folder, its
/// `src/lib.rs`, and the rerun's and the full build's graphs.
struct LibWithTests {
    scratch: tempfile::TempDir,
    root: PathBuf,
    lib: PathBuf,
    rerun_db: PathBuf,
    full_db: PathBuf,
}

fn lib_with_tests(lib_rs: &str, tests: &[(&str, &str)]) -> LibWithTests {
    let scratch = tempfile::tempdir().unwrap();
    let root = new_package(scratch.path(), "lib");
    let lib = root.join("src/lib.rs");
    std::fs::write(&lib, lib_rs).unwrap();
    std::fs::create_dir_all(root.join("tests")).unwrap();
    for (name, text) in tests {
        std::fs::write(root.join(format!("tests/{name}.rs")), text).unwrap();
    }
    let (rerun_db, full_db) = (scratch.path().join("rerun.msgpack"), scratch.path().join("full.msgpack"));
    build_and_export(&root, &rerun_db, &[]);
    LibWithTests { scratch, root, lib, rerun_db, full_db }
}

#[test]
fn targets_that_name_nothing_whose_meaning_changed_are_kept() {
    // A library and four test targets: one names a helper, one names what the library is about
    // to gain, one names a function whose return type is about to mean another type, and one
    // imports the library by a glob and calls what it gains.
    let LibWithTests { scratch: _scratch, root, lib, rerun_db, full_db } = lib_with_tests(
        "pub mod a { pub struct Thing; impl Thing { pub fn go(&self) {} } }\n\
         pub mod b { pub struct Thing; impl Thing { pub fn go(&self) {} } }\n\
         pub use a::Thing;\n\
         pub fn make() -> Thing { todo!() }\n\
         pub fn helper() {}\n",
        &[
            ("plain", "#[test]\nfn t() { lib::helper(); }\n"),
            ("names", "#[test]\nfn t() { lib::added(); }\n"),
            ("typed", "#[test]\nfn t() { lib::make().go(); }\n"),
            ("glob", "use lib::*;\n#[test]\nfn t() { helper(); }\nfn u() { added(); }\n"),
        ],
    );
    let check = |expected_unaffected: u64| {
        let (rerun, summary, _) = rerun_equals_full(&root, &rerun_db, &full_db);
        assert_eq!(summary["crates_unaffected"], expected_unaffected, "{summary}");
        let indexed = summary["crates_reindexed"].as_u64().unwrap();
        assert_eq!(indexed + expected_unaffected, 5, "{summary}");
        rerun
    };

    // An item added: the targets that name it are indexed again, the one that calls it through
    // its glob import too; `lib::added()` now resolves in the graph, from both.
    append(&lib, "pub fn added() {}\n");
    let graph = check(2);
    assert!(graph.contains("\"lib::added\""), "the new function is in the graph");

    // `Thing` now means `b::Thing`: `make` returns another type, and the target that calls `go`
    // on what it returns is indexed again, though it never names `Thing`; the others are kept,
    // the one with the glob import too.
    toggle(&lib, "pub use a::Thing;", "pub use b::Thing;");
    check(3);

    // A new impl (more than names changed): every target is indexed again.
    append(&lib, "impl b::Thing { pub fn other(&self) {} }\n");
    check(0);
}

/// The names a target mentions are the code's, not the words our encoding of its types holds: a
/// crate's own `Path` (the name of a `TypeExpr` variant, which every type written as a path
/// encodes) changing meaning leaves the targets that never name it.
#[test]
fn a_name_like_a_word_of_ours_changes_only_what_names_it() {
    let LibWithTests { scratch: _scratch, root, lib, rerun_db, full_db } = lib_with_tests(
        "pub mod a { pub struct Path; }\n\
         pub mod b { pub struct Path; }\n\
         pub use a::Path;\n\
         pub fn helper() -> u32 { 1 }\n\
         pub fn function(count: u32) -> Option<u32> { Some(count) }\n",
        &[
            ("plain", "#[test]\nfn t() { lib::helper(); lib::function(1); }\n"),
            ("pathy", "#[test]\nfn t() { let _ = lib::Path; }\n"),
        ],
    );
    toggle(&lib, "pub use a::Path;", "pub use b::Path;");
    let (_, summary, _) = rerun_equals_full(&root, &rerun_db, &full_db);
    assert_eq!(summary["crates_unaffected"], 1, "the target that never names `Path` is kept: {summary}");
    assert_eq!(summary["crates_reindexed"], 2, "{summary}");
}

#[test]
fn a_dependent_library_resolves_again_only_what_names_a_changed_name() {
    // `b` depends on `a`, and a test target on `b`: `b` is indexed again whenever `a`'s interface
    // changes, and keeps the edges of its items that name nothing that changed in `a`.
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(scratch.path().join("Cargo.toml"), "[workspace]\nmembers = [\"a\", \"b\"]\nresolver = \"2\"\n")
        .unwrap();
    let a = new_package(scratch.path(), "a");
    std::fs::write(a.join("src/lib.rs"), "pub fn helper() -> u32 { 1 }\npub fn other() -> u32 { 2 }\n").unwrap();
    let b = new_package(scratch.path(), "b");
    append(&b.join("Cargo.toml"), "\n[dependencies]\na = { path = \"../a\" }\n");
    let mut lib = String::new();
    for f in 0..300 {
        let callee = if f == 150 { "a::added()" } else { "a::helper()" };
        lib.push_str(&format!("pub fn f{f}() -> u32 {{ {callee} + 1 }}\n"));
    }
    std::fs::write(b.join("src/lib.rs"), lib).unwrap();
    std::fs::create_dir_all(b.join("tests")).unwrap();
    std::fs::write(b.join("tests/t.rs"), "#[test]\nfn t() { b::f1(); }\n").unwrap();
    let (rerun_db, full_db) = (scratch.path().join("rerun.msgpack"), scratch.path().join("full.msgpack"));
    build_and_export(scratch.path(), &rerun_db, &[]);
    let check = || {
        let (_, summary, full_summary) = rerun_equals_full(scratch.path(), &rerun_db, &full_db);
        assert_eq!((summary["crates_reindexed"].as_u64(), summary["crates_unaffected"].as_u64()), (Some(2), Some(1)));
        (summary["items_resolved"].as_u64().unwrap(), full_summary["items_resolved"].as_u64().unwrap())
    };

    // `a` gains what `b::f150` calls: the segment that holds it is resolved again (its call is
    // now exact), not `b`'s other 299 functions.
    append(&a.join("src/lib.rs"), "pub fn added() -> u32 { 3 }\n");
    let (resolved, all) = check();
    assert!(resolved < all / 2, "{resolved} of {all} items resolved");

    // Renamed, the call is unresolved again: kept, its recorded edge would still count as exact.
    toggle(&a.join("src/lib.rs"), "pub fn added()", "pub fn renamed()");
    let (resolved, all) = check();
    assert!(resolved < all / 2, "{resolved} of {all} items resolved");
}

#[test]
fn a_rerun_reads_back_the_expansions_of_unchanged_calls_and_definitions() {
    let scratch = tempfile::tempdir().unwrap();
    let root = new_package(scratch.path(), "macros");
    // 30 calls among items, and 2 among an impl's members, of the crate's own macros.
    let mut lib = String::from(
        "macro_rules! getter { ($name:ident) => { pub fn $name() -> u32 { 1 } }; }\n\
         macro_rules! method { ($name:ident) => { pub fn $name(&self) {} }; }\n\
         pub struct S;\nimpl S {\n    method!(first);\n    method!(second);\n}\npub mod other;\n",
    );
    for n in 0..30 {
        lib.push_str(&format!("getter!(get{n});\n"));
    }
    std::fs::write(root.join("src/lib.rs"), &lib).unwrap();
    std::fs::write(root.join("src/other.rs"), "pub fn body() -> u32 { crate::get1() }\n").unwrap();
    let (rerun_db, full_db) = (scratch.path().join("rerun.msgpack"), scratch.path().join("full.msgpack"));
    let (_, summary) = build_and_export(&root, &rerun_db, &[]);
    assert_eq!(summary["expansions_reused"], 0, "{summary}");

    // Another file's body changes: every call is the same, by the same definition.
    std::fs::write(root.join("src/other.rs"), "pub fn body() -> u32 { crate::get2() }\n").unwrap();
    let (rerun, summary) = build_and_export(&root, &rerun_db, &[]);
    assert_eq!((summary["incremental"].as_bool(), summary["expansions_reused"].as_u64()), (Some(true), Some(32)));
    let (full, _) = build_and_export(&root, &full_db, &["--rebuild"]);
    assert!(rerun == full);

    // The macro is redefined: its 30 calls are expanded again, into what the new definition makes.
    let redefined = lib.replace("pub fn $name() -> u32 { 1 }", "pub const $name: u32 = 1;");
    std::fs::write(root.join("src/lib.rs"), redefined).unwrap();
    let (rerun, summary) = build_and_export(&root, &rerun_db, &[]);
    assert_eq!((summary["incremental"].as_bool(), summary["expansions_reused"].as_u64()), (Some(true), Some(2)));
    let (full, _) = build_and_export(&root, &full_db, &["--rebuild"]);
    assert!(rerun == full);
    assert!(rerun.contains("\"path\":\"macros::get7\""));
    assert!(!rerun.contains("\"signature\":\"fn get7() -> u32\""), "no function get7 is left");
}

#[test]
fn a_crate_roots_recursion_limit_holds_on_reruns_and_a_changed_one_is_not_patched() {
    // A muncher that takes one token a round, called with 200, makes `Deep` at the bottom: only
    // under the root's limit of 256, not under rustc's default 128 nor a limit of 150.
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(scratch.path().join("Cargo.toml"), "[workspace]\nmembers = [\"a\"]\nresolver = \"2\"\n").unwrap();
    let a = new_package(scratch.path(), "a");
    let lib = a.join("src/lib.rs");
    let muncher =
        "macro_rules! count { () => { pub struct Deep; }; ($head:tt $($rest:tt)*) => { count!($($rest)*); }; }";
    let text = format!("#![recursion_limit = \"256\"]\n{muncher}\ncount!({});\npub mod other;\n", "x ".repeat(200));
    std::fs::write(&lib, text).unwrap();
    let other = a.join("src/other.rs");
    std::fs::write(&other, "pub fn f() -> u32 {\n    1\n}\n").unwrap();
    let (rerun_db, full_db) = (scratch.path().join("rerun.msgpack"), scratch.path().join("full.msgpack"));
    let deep = |graph: &str| graph.contains("\"a::Deep\"");
    let (first, _, _) = rerun_equals_full(scratch.path(), &rerun_db, &full_db);
    assert!(deep(&first));
    // A function added elsewhere: the crate is indexed again, its root read back from the cache,
    // and the limit still holds.
    append(&other, "pub fn g() {}\n");
    let (summary, graph) = rerun_patched(scratch.path(), &rerun_db, &full_db, 0, 1);
    assert!(deep(&graph), "{summary}");
    assert_eq!(summary["files_reparsed"], 1, "{summary}");
    // Only the limit changed: the root's records are the same, but the crate is indexed again.
    for (limit, made) in [("150", false), ("256", true)] {
        let now = std::fs::read_to_string(&lib).unwrap();
        let from = if limit == "150" { "\"256\"" } else { "\"150\"" };
        std::fs::write(&lib, now.replace(from, &format!("\"{limit}\""))).unwrap();
        let (summary, graph) = rerun_patched(scratch.path(), &rerun_db, &full_db, 0, 1);
        assert_eq!(deep(&graph), made, "limit {limit}: {summary}");
    }
}

#[test]
fn edits_that_change_only_their_files_vertices_patch_the_crate() {
    // `a`: modules in files (two with the same text, one also `include!`d), a macro that makes a
    // function, a struct, and a support module that two test targets share; `b` depends on `a`.
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(scratch.path().join("Cargo.toml"), "[workspace]\nmembers = [\"a\", \"b\"]\nresolver = \"2\"\n")
        .unwrap();
    let a = new_package(scratch.path(), "a");
    let lib = a.join("src/lib.rs");
    std::fs::write(
        &lib,
        "macro_rules! make { ($name:ident) => { pub fn $name() -> u32 { 0 } }; }\n\
         make!(made);\n\
         pub mod body;\npub mod same1;\npub mod same2;\npub mod inc;\npub mod pasted;\n\
         pub struct Shape { pub x: u32 }\n",
    )
    .unwrap();
    let body = a.join("src/body.rs");
    std::fs::write(
        &body,
        "/// Adds one.\npub fn add(x: u32) -> u32 {\n    x + 1\n}\npub fn twice(x: u32) -> u32 { add(add(x)) }\n",
    )
    .unwrap();
    // A module's file that another module also pastes with `include!`.
    let inc = a.join("src/inc.rs");
    std::fs::write(&inc, "/// One.\npub fn one() -> u32 { 1 }\n").unwrap();
    std::fs::write(a.join("src/pasted.rs"), "include!(\"inc.rs\");\n").unwrap();
    for same in ["same1", "same2"] {
        std::fs::write(a.join(format!("src/{same}.rs")), "pub fn f() -> u32 { crate::made() }\n").unwrap();
    }
    std::fs::create_dir_all(a.join("tests/support")).unwrap();
    let support = a.join("tests/support/mod.rs");
    std::fs::write(&support, "pub fn help() -> u32 { a::body::add(1) }\n").unwrap();
    for test in ["one", "two"] {
        let text = "#[path = \"support/mod.rs\"]\nmod support;\n#[test]\nfn t() { support::help(); }\n";
        std::fs::write(a.join(format!("tests/{test}.rs")), text).unwrap();
    }
    let b = new_package(scratch.path(), "b");
    append(&b.join("Cargo.toml"), "\n[dependencies]\na = { path = \"../a\" }\n");
    let b_lib = b.join("src/lib.rs");
    std::fs::write(&b_lib, "pub fn g() -> u32 {\n    a::body::twice(2)\n}\n").unwrap();
    let (rerun_db, full_db) = (scratch.path().join("rerun.msgpack"), scratch.path().join("full.msgpack"));
    build_and_export(scratch.path(), &rerun_db, &[]);
    let check = |patched, reindexed| rerun_patched(scratch.path(), &rerun_db, &full_db, patched, reindexed);

    // A comment at the end of a file moves the module's last line only: `a`'s library is
    // patched, nothing is resolved, `b` is not touched.
    append(&body, "// a note\n");
    let (summary, _) = check(1, 0);
    assert_eq!(summary["items_resolved"], 0, "{summary}");
    assert_eq!(summary["files_reparsed"], 1, "{summary}");

    // A literal in a body (the function's hash), a doc comment's words (its doc); again, after
    // the patched cache.
    toggle(&body, "x + 1", "x + 0x1");
    check(1, 0);
    toggle(&body, "/// Adds one.", "/// Adds 1.");
    let (_, graph) = check(1, 0);
    assert!(graph.contains("Adds 1."), "the new doc is in the graph");

    // A file with the same text as another: only its own entry is patched.
    append(&a.join("src/same1.rs"), "// only here\n");
    check(1, 0);

    // The support module two test targets share: both are patched.
    append(&support, "// shared\n");
    check(2, 0);

    // `a` patched, and `b` indexed again in the same rerun (a call added in it): `b` reads `a`'s
    // recorded scopes.
    append(&body, "// another\n");
    toggle(&b_lib, "twice(2)", "twice(a::body::add(2))");
    check(1, 1);

    // Lines moved in `b`: patched, its call's line moved.
    toggle(&b_lib, "pub fn g() -> u32 {\n", "// moved\npub fn g() -> u32 {\n");
    check(1, 0);

    // A file both a module's and `include!`d: what it gives the including module changes too.
    toggle(&inc, "/// One.", "/// Uno.");
    let (_, graph) = check(0, 1);
    assert_eq!(graph.matches("Uno.").count(), 2, "both copies of the function have the new doc");

    // What resolution reads changed: lines moved in a crate that `include!`s a file (whose `use`s
    // a module holds with that file's lines), a call added, a field added on its line, the
    // macro's definition (what the call makes): indexed again, never patched.
    let never_patched = [
        (&body, "/// Adds 1.\n", "\n/// Adds 1.\n"),
        (&body, "add(add(x))", "add(add(add(x)))"),
        (&lib, "pub x: u32 }", "pub x: u32, pub y: u32 }"),
        (&lib, "-> u32 { 0 }", "-> u64 { 0 }"),
    ];
    for (file, one, other) in never_patched {
        toggle(file, one, other);
        check(0, 1);
    }
}

#[test]
fn lines_moved_in_a_file_patch_its_crate() {
    // `shapes.rs` has what holds lines beyond its own vertices: macro calls whose functions call
    // (their lines are the call's, or those in its text), a macro called in a body, an inline
    // module, a `use`. `twice.rs` is the body of two modules (opposite `cfg`s), `decl.rs`
    // declares a module by a macro call, `extra.rs` is never patched (it defines a name twice),
    // and `many.rs` has enough functions that the crate's resolved edges take several segments.
    let scratch = tempfile::tempdir().unwrap();
    let root = new_package(scratch.path(), "lines");
    let src = root.join("src");
    let lib = "pub mod decl;\npub mod extra;\npub mod many;\npub mod shapes;\n\
               #[cfg(unix)]\n#[path = \"twice.rs\"]\npub mod twice_a;\n\
               #[cfg(not(unix))]\n#[path = \"twice.rs\"]\npub mod twice_b;\n";
    std::fs::write(src.join("lib.rs"), lib).unwrap();
    let shapes = src.join("shapes.rs");
    std::fs::write(
        &shapes,
        "use crate::many::f1;\n\
         macro_rules! getters { ($($name:ident),*) => { $(pub fn $name() -> u32 { base() + f1() })* }; }\n\
         macro_rules! plus { ($e:expr) => { $e + crate::many::f2() }; }\n\
         pub fn base() -> u32 {\n    let x = 1;\n    x + 1\n}\n\
         getters!(\n    width,\n    height\n);\n\
         macro_rules! wrap { ($($i:item)*) => { $($i)* }; }\n\
         wrap! {\n    pub fn inside() -> u32 {\n        base()\n    }\n}\n\
         pub struct Square;\n\
         impl Square {\n    pub fn area(&self) -> u32 {\n        width()\n            * height()\n    }\n}\n\
         pub fn logged() -> u32 {\n    plus!(base())\n}\n\
         mod inline {\n    pub fn deep() -> u32 {\n        super::base()\n    }\n}\n",
    )
    .unwrap();
    let twice = src.join("twice.rs");
    std::fs::write(&twice, "pub fn two() -> u32 {\n    crate::shapes::base() * 2\n}\n").unwrap();
    let decl = src.join("decl.rs");
    std::fs::write(&decl, "macro_rules! declare { () => { pub mod declared; }; }\ndeclare!();\n").unwrap();
    std::fs::create_dir_all(src.join("decl")).unwrap();
    std::fs::write(src.join("decl/declared.rs"), "pub fn here() -> u32 { crate::shapes::base() }\n").unwrap();
    let extra = src.join("extra.rs");
    // Defined twice (rustc's E0428): an edit of this file is never patched.
    std::fs::write(&extra, "pub fn one() -> u32 { 1 }\npub fn dup() {}\npub fn dup() {}\n").unwrap();
    let many: String = (0..300).map(|f| format!("pub fn f{f}() -> u32 {{\n    f{}()\n}}\n", (f + 1) % 300)).collect();
    std::fs::write(src.join("many.rs"), many).unwrap();
    let (rerun_db, full_db) = (scratch.path().join("rerun.msgpack"), scratch.path().join("full.msgpack"));
    let (first, _) = build_and_export(&root, &rerun_db, &[]);
    let check = |patched, reindexed| rerun_patched(&root, &rerun_db, &full_db, patched, reindexed);

    // A statement added to a body above the rest: lines move in the file's vertices, in what the
    // macro call made, in the edges from both; nothing is resolved.
    toggle(&shapes, "    let x = 1;\n", "    let x = 1;\n    let y = 2;\n");
    let (summary, graph) = check(1, 0);
    assert_eq!(summary["items_resolved"], 0, "{summary}");
    assert_ne!(graph, first, "lines moved");
    // A line above the `use`, then both edits undone: patched each time.
    toggle(&shapes, "use crate::many::f1;\n", "\nuse crate::many::f1;\n");
    check(1, 0);
    toggle(&shapes, "\nuse crate::many::f1;\n", "use crate::many::f1;\n");
    toggle(&shapes, "    let x = 1;\n    let y = 2;\n", "    let x = 1;\n");
    let (_, graph) = check(1, 0);
    assert_eq!(graph, first, "the first graph again");
    // Each edited, then undone, patched each time: a file that is the body of two modules (both
    // its entries moved alike); a line added just below a macro call (the function it made has
    // the lines it has in the call's text, which stayed); a line above `mod` declarations, and
    // above a macro call that declares a module (the files declared there are declared at the
    // new lines).
    let lib = src.join("lib.rs");
    let there_and_back = [
        (&twice, "pub fn two", "// two\npub fn two"),
        (&shapes, "}\npub struct Square;", "}\n\npub struct Square;"),
        (&lib, "pub mod decl;", "//! Lines.\npub mod decl;"),
        (&decl, "declare!();", "\ndeclare!();"),
    ];
    for (file, one, other) in there_and_back {
        for _ in 0..2 {
            toggle(file, one, other);
            check(1, 0);
        }
    }

    // Lines patched, then moved back while a comment in the file that is never patched makes the
    // crate indexed again: the segments whose edges the patch moved are resolved again, not kept
    // by the keys the first build gave them (which their items have again).
    toggle(&shapes, "    let x = 1;\n", "    let x = 1;\n    let y = 2;\n");
    check(1, 0);
    toggle(&shapes, "    let x = 1;\n    let y = 2;\n", "    let x = 1;\n");
    append(&extra, "// a note\n");
    let (summary, _) = check(0, 1);
    assert!(summary["items_resolved"].as_u64() > Some(0), "{summary}");

    // Files declared at lines that moved are known by their new keys when the crate is indexed
    // again: they are not parsed again. Not patched: a file that moved and is declared at a line
    // of another that moved.
    toggle(&lib, "pub mod decl;", "//! Lines.\npub mod decl;");
    check(1, 0);
    toggle(&decl, "declare!();", "\ndeclare!();");
    check(1, 0);
    append(&extra, "// another note\n");
    let (summary, _) = check(0, 1);
    assert_eq!(summary["files_reparsed"], 1, "only the edited file\n{summary}");
    toggle(&lib, "pub mod decl;", "//! Lines.\npub mod decl;");
    toggle(&decl, "declare!();", "\ndeclare!();");
    check(0, 1);

    // Not patched: two calls joined on one line (lines no longer in order).
    toggle(&shapes, "width()\n            * height()", "width() * height()");
    check(0, 1);
}

#[test]
fn ids_do_not_move_with_the_lines_above_a_macro_call() {
    // A macro call makes an `impl S` beside the written one: its id is disambiguated by the
    // macro, not by the line of the call, so a line added above leaves every id as it was.
    let scratch = tempfile::tempdir().unwrap();
    let root = new_package(scratch.path(), "ids");
    let lib = root.join("src/lib.rs");
    std::fs::write(
        &lib,
        "pub struct S;\nimpl S { pub fn a(&self) {} }\n\
         macro_rules! more { ($t:ty) => { impl $t { pub fn b(&self) {} } }; }\n\
         more!(S);\n",
    )
    .unwrap();
    let ids = |graph: &str| -> std::collections::BTreeSet<String> {
        graph
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .filter(|value| value["type"] == "vertex")
            .map(|value| value["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (rerun_db, full_db) = (scratch.path().join("rerun.msgpack"), scratch.path().join("full.msgpack"));
    let (before, _) = build_and_export(&root, &rerun_db, &[]);
    assert_eq!(before.matches("\"kind\":\"impl\"").count(), 2, "{before}");
    std::fs::write(&lib, format!("// a line above\n{}", std::fs::read_to_string(&lib).unwrap())).unwrap();
    let (after, _) = build_and_export(&root, &rerun_db, &[]);
    let (full, _) = build_and_export(&root, &full_db, &["--rebuild"]);
    assert!(after == full, "the rerun's graph is the full build's");
    assert_eq!(ids(&before), ids(&after), "the same vertices, whatever their lines");
    assert_ne!(before, after, "the lines moved");
}
