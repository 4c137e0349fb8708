//! Our `calls` edges against the calls rustc resolved: the MIR of each lib crate
//! (`cargo rustc --lib -- -Zunpretty=mir`, stable toolchain) lists every function body with the
//! calls in it. `tests/mir/README.md` says how callers and callees are mapped to our vertices and
//! what is counted apart.
//!
//! The fixture test always runs (offline, in a temporary folder). The real-crate run over both
//! corpora of `tests/accuracy/` needs crates.io or a warm cargo cache and is opt-in:
//! `CODEGRAPH_MIR=1 cargo test --release --test mir_calls -- --nocapture` (a few minutes); it
//! writes `<target>/mir/report.md` and every mismatch to `<target>/mir/mismatches.txt`.

mod common;
#[path = "mir/mir.rs"]
mod mir;
#[path = "mir/score.rs"]
mod score;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Fixture, Graph, describe, run_in};
use mir::MirRun;
use score::{CrateScore, Ours, Sources, Subject};
use serde_json::Value;

/// (package, version) of the first corpus, `tests/accuracy/corpus`.
const CORPUS: &[(&str, &str)] = &[
    ("bitflags", "2.13.2"),
    ("nom", "7.1.3"),
    ("serde", "1.0.229"),
    ("serde_core", "1.0.229"),
    ("log", "0.4.35"),
    ("either", "1.19.0"),
    ("itertools", "0.13.0"),
    ("hashbrown", "0.16.1"),
    ("smallvec", "1.16.6"),
    ("memchr", "2.8.3"),
    ("once_cell", "1.21.4"),
    ("getrandom", "0.2.17"),
    ("socket2", "0.6.5"),
    ("mio", "1.2.5"),
    ("anyhow", "1.0.104"),
    ("regex-syntax", "0.8.12"),
];

/// The second corpus, `tests/accuracy/corpus-macros`: crates the project had not used before.
const CORPUS_MACROS: &[(&str, &str)] = &[
    ("num-traits", "0.2.19"),
    ("byteorder", "1.5.0"),
    ("itoa", "1.0.19"),
    ("half", "2.7.1"),
    ("zerocopy", "0.8.64"),
    ("typenum", "1.20.1"),
    ("proc-macro2", "1.0.107"),
    ("libc", "0.2.191"),
    ("crossbeam-channel", "0.5.17"),
    ("serde_json", "1.0.154"),
    ("bytes", "1.12.2"),
    ("semver", "1.0.28"),
];

/// The goals.
const MIN_RECALL_PER_CRATE: f64 = 0.85;
const MIN_RECALL_OVERALL: f64 = 0.92;
const MIN_EXACT_PRECISION: f64 = 0.99;

/// What cargo metadata says of a package's lib target and its dependencies.
struct Lib {
    crate_name: String,
    package_dir: PathBuf,
    deps: Vec<(String, String)>,
}

impl Lib {
    fn of(metadata: &Value, name: &str, version: &str) -> Lib {
        let packages = metadata["packages"].as_array().unwrap();
        let package = packages
            .iter()
            .find(|p| p["name"] == name && p["version"] == version)
            .unwrap_or_else(|| panic!("cargo metadata has no package {name} {version}"));
        let package_dir = Path::new(package["manifest_path"].as_str().unwrap()).parent().unwrap().to_owned();
        let lib_name = |package: &Value| {
            package["targets"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "lib" || k == "rlib" || k == "proc-macro"))
                .map(|t| t["name"].as_str().unwrap().replace('-', "_"))
        };
        let crate_name = lib_name(package).unwrap_or_else(|| panic!("package {name} has no lib target"));
        let node = metadata["resolve"]["nodes"].as_array().unwrap().iter().find(|n| n["id"] == package["id"]).unwrap();
        let deps = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"].is_null()))
            .filter_map(|d| {
                let dep = packages.iter().find(|p| p["id"] == d["pkg"])?;
                Some((d["name"].as_str()?.to_owned(), lib_name(dep)?))
            })
            .collect();
        let root = package["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"].as_str().map(|n| n.replace('-', "_")) == Some(crate_name.clone()))
            .and_then(|t| t["src_path"].as_str())
            .unwrap_or_default();
        let deps = with_extern_crate_renames(deps, &std::fs::read_to_string(root).unwrap_or_default());
        Lib { crate_name, package_dir, deps }
    }
}

/// Adds the names that the crate root's `extern crate dep as name;` gives its dependencies
/// (serde_json's `extern crate serde_core as serde;`): MIR prints paths through those names.
/// Such a name shadows a dependency of that name (serde_json depends on `serde` too, only to
/// constrain its version).
fn with_extern_crate_renames(mut deps: Vec<(String, String)>, root: &str) -> Vec<(String, String)> {
    for line in root.lines() {
        let line = line.trim();
        let line = line.strip_prefix("pub ").unwrap_or(line);
        let Some(rest) = line.strip_prefix("extern crate ").and_then(|rest| rest.strip_suffix(';')) else {
            continue;
        };
        let Some((dep, name)) = rest.split_once(" as ") else { continue };
        let (dep, name) = (dep.trim(), name.trim());
        if let Some((_, lib)) = deps.iter().find(|(code, lib)| code == dep || lib == dep) {
            let lib = lib.clone();
            if name != "_" {
                deps.retain(|(code, _)| code != name);
                deps.push((name.to_owned(), lib));
            }
        }
    }
    deps
}

#[test]
fn extern_crate_renames_name_dependencies() {
    let deps = vec![
        ("serde".to_owned(), "serde".to_owned()),
        ("serde_core".to_owned(), "serde_core".to_owned()),
        ("memchr".to_owned(), "memchr".to_owned()),
    ];
    let root = "extern crate alloc;\n#[macro_use]\nextern crate serde_core as serde;\nextern crate memchr as _;\n";
    assert_eq!(
        with_extern_crate_renames(deps, root),
        [
            ("serde_core".to_owned(), "serde_core".to_owned()),
            ("memchr".to_owned(), "memchr".to_owned()),
            ("serde".to_owned(), "serde_core".to_owned()),
        ]
    );
}

#[test]
fn generic_arguments_are_stripped_but_qualified_selves_kept() {
    use mir::strip_generics;
    assert_eq!(strip_generics("Foo::<T>::new"), "Foo::new");
    assert_eq!(strip_generics("core::fmt::Arguments<'_>::new"), "core::fmt::Arguments::new");
    // A turbofish whose argument is a projection is no qualified self.
    assert_eq!(strip_generics("ConstNonNull::<<A as Array>::Item>::as_ptr"), "ConstNonNull::as_ptr");
    assert_eq!(strip_generics("<Buffer<T> as Clone>::clone"), "<Buffer<T> as Clone>::clone");
    assert_eq!(strip_generics("error::<impl Error>::construct"), "error::<impl Error>::construct");
    // The turbofish of an `impl Trait` argument is no inherent impl's path.
    assert_eq!(strip_generics("RawTable::<T, A>::find::<impl FnMut(&T) -> bool>"), "RawTable::find");
}

#[test]
fn raw_identifiers_lose_their_prefix() {
    use mir::unraw;
    assert_eq!(unraw("r#ref::<impl r#ref::def::Ref<B, T>>::from_bytes"), "ref::<impl ref::def::Ref<B, T>>::from_bytes");
    assert_eq!(unraw("<r#type::Foo as Bar>::r#try"), "<type::Foo as Bar>::try");
    // Only at the start of an identifier.
    assert_eq!(unraw("for_r#x::bar::r#match"), "for_r#x::bar::match");
    assert_eq!(unraw("ptr::r#ref"), "ptr::ref");
}

fn cargo_metadata(workspace: &Path, flags: &[&str]) -> Value {
    let output =
        cargo().args(["metadata", "--format-version", "1"]).args(flags).current_dir(workspace).output().unwrap();
    assert!(output.status.success(), "cargo metadata: {}", describe(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.env_remove("CARGO_TARGET_DIR").env_remove("CARGO_BUILD_TARGET");
    command
}

/// Scores `packages` of the workspace at `workspace`, whose graph is `graph`.
fn measure(workspace: &Path, run: &MirRun, graph: &Graph, packages: &[(&str, &str)], set: &str) -> Vec<CrateScore> {
    let metadata = cargo_metadata(workspace, run.cargo_flags);
    let ours = Ours::new(graph);
    let mut sources = Sources::default();
    packages
        .iter()
        .map(|&(package, version)| {
            let lib = Lib::of(&metadata, package, version);
            let text = run.generate(&format!("{package}@{version}"));
            let bodies = mir::parse(&text, workspace);
            assert!(!bodies.is_empty(), "no function body in the MIR of {package}");
            let subject = Subject {
                package,
                version,
                crate_name: &lib.crate_name,
                package_dir: &lib.package_dir,
                deps: &lib.deps,
                set,
            };
            score::score(&ours, &subject, &bodies, &mut sources)
        })
        .collect()
}

/// A line per crate with every count, so that a change in any of them shows in the diff.
fn counts(scores: &[CrateScore]) -> Vec<String> {
    scores
        .iter()
        .map(|s| {
            format!(
                "{}: own {}/{}, deps {}/{}, exact {}/{}, inferred {}/{}; apart: inserted {}, caller unknown {}, \
                 callee unknown {}, foreign {}",
                s.krate,
                s.own.hit,
                s.own.total,
                s.deps.hit,
                s.deps.total,
                s.exact.hit,
                s.exact.total,
                s.inferred.hit,
                s.inferred.total,
                s.apart.inserted,
                s.apart.caller_unknown,
                s.apart.callee_unknown,
                s.apart.foreign,
            )
        })
        .collect()
}

#[test]
fn fixture_calls_against_mir() {
    let fixture = Fixture::new("calls");
    fixture.build(&["--workspace"], 0);
    let graph = Graph::parse(&fixture.export());
    let target_dir = fixture.path().join("target");
    let run = MirRun { workspace: fixture.path(), target_dir: &target_dir, cargo_flags: &["--offline"] };
    let packages = [("calls-util", "0.1.0"), ("calls-app", "0.1.0")];
    let scores = measure(fixture.path(), &run, &graph, &packages, "fixture");
    println!("{}", score::table(&scores));
    print!("{}", score::mismatch_listing(&scores, usize::MAX));
    // The MIR's own and cross-crate call pairs are edges of the hand-written answer key
    // (`tests/fixtures/calls/expected_calls.txt`, 119 edges), every exact edge is right, and
    // the graph finds all of them but one: `wrapped_len`'s `wrap.first_len()`, which rustc sends
    // to the trait's method (the inherent one is for sized referents only, which syntax cannot
    // tell), and for which the graph has an inferred edge to the inherent one. The two inserted calls are the `deref`s
    // of `Shelf` and `Counted`, which rustc adds for `self.scale(3.0)` and `chan.scale(2.0)`;
    // the foreign ones are std's (`format!`'s machinery, `f64::max`, `str` methods, the
    // `u64::count_ones` that `on_u64!` makes, ...).
    let expected = [
        "calls_util: own 7/7, deps 0/0, exact 7/7, inferred 0/0; apart: inserted 0, caller unknown 0, \
         callee unknown 0, foreign 14",
        "calls_app: own 99/100, deps 12/12, exact 109/109, inferred 2/3; apart: inserted 2, caller unknown 0, \
         callee unknown 0, foreign 110",
    ];
    assert_eq!(counts(&scores), expected, "{}", score::mismatch_listing(&scores, usize::MAX));
}

/// The target folder this test binary was built in (`<target>/<profile>/deps/mir_calls-*`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_owned()
}

/// Runs our binary, or the one `CODEGRAPH_MIR_BIN` names (to score another build side by side,
/// say `main`'s), in `dir`.
fn index_in(dir: &Path, args: &[&str]) -> std::process::Output {
    match std::env::var_os("CODEGRAPH_MIR_BIN") {
        Some(bin) => Command::new(bin)
            .args(args)
            .current_dir(dir)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_TERM_COLOR")
            .env_remove("CARGO_BUILD_TARGET")
            .output()
            .unwrap(),
        None => run_in(dir, args),
    }
}

/// Indexes one corpus with `--deps` (and `flags`) and scores its crates.
fn measure_corpus(folder: &str, packages: &[(&str, &str)], set: &str, flags: &[&str], out: &Path) -> Vec<CrateScore> {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/accuracy").join(folder);
    let fetch = cargo().args(["fetch", "--locked"]).current_dir(&corpus).output().unwrap();
    assert!(fetch.status.success(), "{}", describe(&fetch));
    let db = out.join(format!("{folder}.msgpack"));
    let db = db.to_str().unwrap();
    let mut args = vec!["build", "--deps", "--locked", "--db", db, "--message-format", "json"];
    args.extend(flags);
    let output = index_in(&corpus, &args);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let output = index_in(&corpus, &["export", "--db", db]);
    assert!(output.status.success(), "{}", describe(&output));
    let graph = Graph::parse(&String::from_utf8(output.stdout).unwrap());
    // rustc's target folder is kept between runs (beside this binary's).
    let mir_target = target_dir().join("mir").join(format!("{folder}-target"));
    let run = MirRun { workspace: &corpus, target_dir: &mir_target, cargo_flags: &["--locked"] };
    measure(&corpus, &run, &graph, packages, set)
}

#[test]
fn real_crates_calls_against_mir() {
    if std::env::var_os("CODEGRAPH_MIR").is_none() {
        eprintln!("real_crates_calls_against_mir: skipped; set CODEGRAPH_MIR=1 to run it (needs crates.io)");
        return;
    }
    // Another build's scores go beside ours, not over them; rustc's target folders are shared.
    let out = match std::env::var_os("CODEGRAPH_MIR_BIN") {
        Some(_) => target_dir().join("mir-other"),
        None => target_dir().join("mir"),
    };
    std::fs::create_dir_all(&out).unwrap();
    let mut scores = measure_corpus("corpus", CORPUS, "accuracy", &[], &out);
    // rustc runs the build scripts, whose cfgs decide which calls are compiled (proc-macro2's
    // `#[cfg(wrap_proc_macro)]` arms), as the rustdoc harness does for the same corpus.
    scores.extend(measure_corpus("corpus-macros", CORPUS_MACROS, "macros", &["--build-scripts"], &out));

    let table = score::table(&scores);
    let listing = score::mismatch_listing(&scores, usize::MAX);
    std::fs::write(out.join("report.md"), &table).unwrap();
    std::fs::write(out.join("mismatches.txt"), &listing).unwrap();
    println!("{table}");
    print!("{}", score::mismatch_listing(&scores, 3));
    println!("(every mismatch: {})", out.join("mismatches.txt").display());

    let mut failures = Vec::new();
    let mut total = score::Count::default();
    for s in &scores {
        total.hit += s.own.hit;
        total.total += s.own.total;
        for (what, value, min) in [
            ("recall of own calls", s.own.share(), MIN_RECALL_PER_CRATE),
            ("precision of exact edges", s.exact.share(), MIN_EXACT_PRECISION),
        ] {
            if let Some(value) = value.filter(|v| *v < min) {
                failures.push(format!("{} {}: {what} {:.1}% < {:.0}%", s.krate, s.version, value * 100.0, min * 100.0));
            }
        }
    }
    if let Some(value) = total.share().filter(|v| *v < MIN_RECALL_OVERALL) {
        failures.push(format!(
            "overall recall of own calls {:.1}% < {:.0}%",
            value * 100.0,
            MIN_RECALL_OVERALL * 100.0
        ));
    }
    if !failures.is_empty() {
        // The goals are the issue's; the run reports rather than fails while they are not met,
        // so that the table is written and read. `CODEGRAPH_MIR_STRICT=1` makes them binding.
        println!("below the goals:\n{}", failures.join("\n"));
        assert!(std::env::var_os("CODEGRAPH_MIR_STRICT").is_none(), "below the goals:\n{}", failures.join("\n"));
    }
}
