//! What a rerun costs against a cold build, on the benchmark corpus (`benches/corpus`, indexed
//! with `--deps`: about 1 million lines), for each backend this build has (msgpack; RocksDB with
//! `--features rocksdb`), side by side in one run.
//!
//! The corpus is copied to a scratch folder, with one dependency, `regex-syntax` (about 35,000
//! lines, that `regex` depends on), vendored into it through `[patch.crates-io]`, so that its
//! files can be edited. Per backend, builds alternate so that the machine's drift hits all alike,
//! `CODEGRAPH_BENCH_RUNS` times (default 3) after a warm-up:
//!
//! - **cold**: `--rebuild`, the whole pipeline;
//! - **unchanged**: a rerun with nothing changed (the up-to-date check of `fresh`);
//! - **workspace file edited**: a rerun after a function is appended to the corpus's own
//!   `src/lib.rs` (a new public item: the crate's interface changes);
//! - **dependency body edited**: a rerun after the body of a function in one file of
//!   `regex-syntax` changes (its interface does not: `regex` and the corpus are kept);
//! - **dependency item added**: a rerun after a public function is appended to `regex-syntax`'s
//!   `src/lib.rs` (its interface changes: the crates that depend on it are resolved again, their
//!   files read back from the cache).
//!
//! The report gives medians and the ratios to the cold build; the last lines are JSON for
//! scripts. `cargo bench --bench incremental [--features rocksdb]`; `CODEGRAPH_BENCH_OFFLINE=1`
//! skips `cargo fetch`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use camino::Utf8PathBuf;
use cargo_codegraph::index::NoProgress;
use cargo_codegraph::store::Backend;
use cargo_codegraph::workspace::WorkspaceConfig;
use cargo_codegraph::{BuildConfig, BuildSummary, build};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The vendored dependency, and the file and text of the body edit.
const VENDORED: &str = "regex-syntax";
const EDITED_FILE: &str = "src/hir/literal.rs";

fn main() -> ExitCode {
    cargo_codegraph::process::no_transparent_huge_pages();
    common::exit(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let runs = common::runs(3)?;
    let offline = common::offline();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/corpus");
    let scratch = tempfile::Builder::new().prefix("codegraph-incremental-").tempdir().map_err(|e| e.to_string())?;
    let copy = scratch.path().join("corpus");
    std::fs::create_dir_all(copy.join("src")).map_err(|e| e.to_string())?;
    for file in ["Cargo.toml", "Cargo.lock", "src/lib.rs"] {
        std::fs::copy(corpus.join(file), copy.join(file)).map_err(|e| format!("{file}: {e}"))?;
    }
    if !offline {
        let fetch =
            Command::new("cargo").args(["fetch", "--locked", "--manifest-path"]).arg(copy.join("Cargo.toml")).status();
        if !fetch.is_ok_and(|status| status.success()) {
            return Err("`cargo fetch` failed for the corpus".into());
        }
    }
    let vendored = vendor(&copy)?;
    let edited = vendored.join(EDITED_FILE);
    let edited_original = std::fs::read_to_string(&edited).map_err(|e| format!("{}: {e}", edited.display()))?;
    let vendored_lib = vendored.join("src/lib.rs");
    let lib_rs_original = std::fs::read_to_string(&vendored_lib).map_err(|e| e.to_string())?;
    let lib = copy.join("src/lib.rs");
    let lib_original = std::fs::read_to_string(&lib).map_err(|e| e.to_string())?;

    let mut backends = vec![Backend::Msgpack];
    if Backend::Rocksdb.is_supported() {
        backends.push(Backend::Rocksdb);
    }
    let mut report = Vec::new();
    for backend in backends {
        let db = Utf8PathBuf::from_path_buf(scratch.path().join(backend.default_file_name()))
            .map_err(|_| "a UTF-8 temporary folder")?;
        let build = |rebuild: bool| -> Result<(Duration, BuildSummary), String> {
            let config = BuildConfig {
                workspace: WorkspaceConfig {
                    manifest_path: Some(copy.join("Cargo.toml")),
                    deps: true,
                    offline: true,
                    ..Default::default()
                },
                db: Some(db.clone()),
                store: Some(backend),
                rebuild,
                ..Default::default()
            };
            let started = Instant::now();
            let summary = build(&config, &NoProgress).map_err(|err| err.to_string())?;
            Ok((started.elapsed(), summary))
        };
        let mut times: [Vec<Duration>; 5] = Default::default();
        let mut reparsed = [0; 5];
        let mut reindexed = [0; 5];
        let mut edits = 0;
        for round in 0..=runs {
            let (cold, summary) = build(true)?;
            if summary.fresh || summary.incremental {
                return Err("a --rebuild build was not a full one".into());
            }
            let (unchanged, summary) = build(false)?;
            if !summary.fresh {
                return Err("a rerun with nothing changed was not skipped".into());
            }
            edits += 1;
            std::fs::write(&lib, format!("{lib_original}\npub fn edited_{edits}() -> u32 {{ {edits} }}\n"))
                .map_err(|e| e.to_string())?;
            let (workspace_edit, summary) = build(false)?;
            if !summary.incremental {
                return Err("a rerun after a workspace edit was not incremental".into());
            }
            reparsed[2] = summary.files_reparsed;
            reindexed[2] = summary.crates_reindexed;
            std::fs::write(&edited, body_edit(&edited_original, edits)?).map_err(|e| e.to_string())?;
            let (dependency_edit, summary) = build(false)?;
            if !summary.incremental {
                return Err("a rerun after a dependency edit was not incremental".into());
            }
            reparsed[0] = summary.files_parsed;
            reparsed[3] = summary.files_reparsed;
            reindexed[3] = summary.crates_reindexed;
            std::fs::write(&vendored_lib, format!("{lib_rs_original}\npub fn codegraph_bench_{edits}() {{}}\n"))
                .map_err(|e| e.to_string())?;
            let (item_added, summary) = build(false)?;
            if !summary.incremental {
                return Err("a rerun after a dependency's item was added was not incremental".into());
            }
            reparsed[4] = summary.files_reparsed;
            reindexed[4] = summary.crates_reindexed;
            if round > 0 {
                for (all, time) in times.iter_mut().zip([cold, unchanged, workspace_edit, dependency_edit, item_added])
                {
                    all.push(time);
                }
                println!(
                    "{} run {round}/{runs}: cold {:.3}s, unchanged {:.3}s, workspace file edited {:.3}s, \
                     dependency body edited {:.3}s, dependency item added {:.3}s",
                    backend.as_str(),
                    cold.as_secs_f64(),
                    unchanged.as_secs_f64(),
                    workspace_edit.as_secs_f64(),
                    dependency_edit.as_secs_f64(),
                    item_added.as_secs_f64()
                );
            }
        }
        let [cold, unchanged, workspace_edit, dependency_edit, item_added] = times.map(|mut times| {
            times.sort();
            times[times.len() / 2].as_secs_f64()
        });
        println!("\n{} medians ({} files):", backend.as_str(), reparsed[0]);
        println!("  cold                      {cold:.3}s");
        println!(
            "  unchanged                 {unchanged:.3}s  {:5.1}%  (target: at most 5%)",
            100.0 * unchanged / cold
        );
        println!(
            "  workspace file edited     {workspace_edit:.3}s  {:5.1}%  (target: at most 10%; {} files parsed, {} crates)",
            100.0 * workspace_edit / cold,
            reparsed[2],
            reindexed[2]
        );
        println!(
            "  dependency body edited    {dependency_edit:.3}s  {:5.1}%  (target: at most 10%; {} files parsed, {} crates)",
            100.0 * dependency_edit / cold,
            reparsed[3],
            reindexed[3]
        );
        println!(
            "  dependency item added     {item_added:.3}s  {:5.1}%  (target: at most 10%; {} files parsed, {} crates)\n",
            100.0 * item_added / cold,
            reparsed[4],
            reindexed[4]
        );
        report.push(format!(
            "{{\"bench\":\"incremental\",\"store\":\"{}\",\"runs\":{runs},\"cold_s\":{cold:.3},\"unchanged_s\":{unchanged:.3},\
             \"workspace_edit_s\":{workspace_edit:.3},\"dependency_edit_s\":{dependency_edit:.3},\"item_added_s\":{item_added:.3},\
             \"unchanged_ratio\":{:.4},\"workspace_edit_ratio\":{:.4},\"dependency_edit_ratio\":{:.4},\"item_added_ratio\":{:.4}}}",
            backend.as_str(),
            unchanged / cold,
            workspace_edit / cold,
            dependency_edit / cold,
            item_added / cold
        ));
    }
    for line in report {
        println!("{line}");
    }
    Ok(())
}

/// Copies `VENDORED`'s sources (as `cargo metadata` locates them) into `copy/vendor/` and patches
/// the copy's manifest to use them; returns the vendored folder.
fn vendor(copy: &Path) -> Result<PathBuf, String> {
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path(copy.join("Cargo.toml"))
        .other_options(vec!["--locked".to_owned(), "--offline".to_owned()])
        .exec()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    let package = metadata
        .packages
        .iter()
        .find(|package| package.name.as_str() == VENDORED)
        .ok_or_else(|| format!("the corpus does not depend on {VENDORED}"))?;
    let source = package.manifest_path.parent().ok_or("a manifest without a folder")?;
    let target = copy.join("vendor").join(VENDORED);
    copy_tree(source.as_std_path(), &target)?;
    let manifest = copy.join("Cargo.toml");
    let mut text = std::fs::read_to_string(&manifest).map_err(|e| e.to_string())?;
    text.push_str(&format!("\n[patch.crates-io]\n{VENDORED} = {{ path = \"vendor/{VENDORED}\" }}\n"));
    std::fs::write(&manifest, text).map_err(|e| e.to_string())?;
    // The lock file now names the patched source; offline, cargo resolves the same versions.
    let status = Command::new("cargo")
        .args(["metadata", "--offline", "--format-version", "1", "--manifest-path"])
        .arg(&manifest)
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("`cargo metadata` failed on the patched corpus".into());
    }
    Ok(target)
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path();
        let dest = to.join(entry.file_name());
        if entry.file_type().map_err(|e| e.to_string())?.is_dir() {
            copy_tree(&path, &dest)?;
        } else {
            std::fs::copy(&path, &dest).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// The edited file with the body of its first `fn` that has a block changed: a statement added at
/// the start of the block (its signature, and so the crate's interface, stay as they are).
fn body_edit(original: &str, edit: usize) -> Result<String, String> {
    let at = original.find("\n    pub fn ").ok_or("no method to edit in the vendored file")?;
    let open = at + original[at..].find("{\n").ok_or("no body to edit")?;
    Ok(format!("{}{{\n        let _edit = {edit};\n{}", &original[..open], &original[open + 2..]))
}
