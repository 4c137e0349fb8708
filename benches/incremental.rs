//! What a rerun costs against a cold build, on the benchmark corpus (`benches/corpus`, indexed
//! with `--deps`: about 1 million lines).
//!
//! Three builds, alternated so that the machine's drift hits all alike, `CODEGRAPH_BENCH_RUNS`
//! times (default 3) after a warm-up:
//!
//! - **cold**: `--rebuild`, the whole pipeline;
//! - **unchanged**: a rerun with nothing changed (the up-to-date check of `fresh`);
//! - **one file edited**: a rerun after a function is appended to the corpus's own `src/lib.rs`
//!   (in a copy of the corpus, so the source tree stays clean).
//!
//! The report gives medians and the ratios to the cold build; the last line is JSON for scripts.
//! `cargo bench --bench incremental`; `CODEGRAPH_BENCH_OFFLINE=1` skips `cargo fetch`.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use camino::Utf8PathBuf;
use cargo_codegraph::index::NoProgress;
use cargo_codegraph::workspace::WorkspaceConfig;
use cargo_codegraph::{BuildConfig, build};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let runs: usize = std::env::var("CODEGRAPH_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let offline = std::env::var_os("CODEGRAPH_BENCH_OFFLINE").is_some();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/corpus");
    let scratch = tempfile::Builder::new().prefix("codegraph-incremental-").tempdir().expect("a temporary folder");
    let copy = scratch.path().join("corpus");
    std::fs::create_dir_all(copy.join("src")).expect("the copy's folders");
    for file in ["Cargo.toml", "Cargo.lock", "src/lib.rs"] {
        std::fs::copy(corpus.join(file), copy.join(file)).expect("a corpus file");
    }
    if !offline {
        let fetch =
            Command::new("cargo").args(["fetch", "--locked", "--manifest-path"]).arg(copy.join("Cargo.toml")).status();
        if !fetch.is_ok_and(|status| status.success()) {
            eprintln!("error: `cargo fetch` failed for the corpus");
            return ExitCode::FAILURE;
        }
    }
    let db = Utf8PathBuf::from_path_buf(scratch.path().join("graph.msgpack")).expect("a UTF-8 temporary folder");
    let config = |rebuild: bool| BuildConfig {
        workspace: WorkspaceConfig {
            manifest_path: Some(copy.join("Cargo.toml")),
            deps: true,
            offline,
            locked: true,
            ..Default::default()
        },
        db: Some(db.clone()),
        rebuild,
        ..Default::default()
    };
    let lib = copy.join("src/lib.rs");
    let original = std::fs::read_to_string(&lib).expect("the corpus's lib.rs");
    let mut edits = 0;
    let run = |rebuild: bool| -> Result<(Duration, bool, usize), String> {
        let started = Instant::now();
        let summary = build(&config(rebuild), &NoProgress).map_err(|err| err.to_string())?;
        Ok((started.elapsed(), summary.fresh, summary.files_parsed))
    };

    let mut cold = Vec::new();
    let mut unchanged = Vec::new();
    let mut edited = Vec::new();
    for round in 0..=runs {
        let result = (|| -> Result<(), String> {
            let (time, fresh, files) = run(true)?;
            if fresh {
                return Err("a --rebuild build was skipped".into());
            }
            let (same_time, same_fresh, _) = run(false)?;
            if !same_fresh {
                return Err("a rerun with nothing changed was not skipped".into());
            }
            edits += 1;
            std::fs::write(&lib, format!("{original}\npub fn edited_{edits}() -> u32 {{ {edits} }}\n"))
                .map_err(|err| err.to_string())?;
            let (edit_time, edit_fresh, _) = run(false)?;
            if edit_fresh {
                return Err("a rerun after an edit was skipped".into());
            }
            if round > 0 {
                cold.push(time);
                unchanged.push(same_time);
                edited.push(edit_time);
                println!(
                    "run {round}/{runs}: cold {:.3}s ({files} files), unchanged {:.3}s, one file edited {:.3}s",
                    time.as_secs_f64(),
                    same_time.as_secs_f64(),
                    edit_time.as_secs_f64()
                );
            }
            Ok(())
        })();
        if let Err(err) = result {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2].as_secs_f64()
    };
    let (cold, unchanged, edited) = (median(&mut cold), median(&mut unchanged), median(&mut edited));
    println!("\nmedians: cold {cold:.3}s, unchanged {unchanged:.3}s, one file edited {edited:.3}s");
    println!("unchanged / cold        {:.1}%  (target: at most 5%)", 100.0 * unchanged / cold);
    println!("one file edited / cold  {:.1}%  (target: at most 10%)", 100.0 * edited / cold);
    println!(
        "{{\"bench\":\"incremental\",\"runs\":{runs},\"cold_s\":{cold:.3},\"unchanged_s\":{unchanged:.3},\"edited_s\":{edited:.3},\"unchanged_ratio\":{:.4},\"edited_ratio\":{:.4}}}",
        unchanged / cold,
        edited / cold
    );
    ExitCode::SUCCESS
}
