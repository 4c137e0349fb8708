//! What the stack guard costs: builds of a normal corpus with and without the nesting check
//! that decides whether a file is parsed on a grown stack (`parse::NESTING_CHECK`), side by side.
//!
//! Every file is measured for nesting (one pass over its text, `parse::nesting`) before syn parses
//! it; only a file deeper than `parse::MAX_NESTING` is parsed on a stack grown for it (`stacker`).
//! Real code never is that deep, so on a normal corpus the guard's cost is the pass alone. Three
//! measurements, each alternating the two settings after an untimed warm-up of each, so that
//! noise and the page cache treat them alike:
//!
//! 1. `cargo_codegraph::build` of the corpus with `--deps` (as `benches/e2e.rs` does);
//! 2. `parse::parse_file` of every file the build parsed, on one thread (the guard's share of
//!    parsing, without the rest of the build's noise);
//! 3. one file nesting 3,000 levels deep: with the guard it is parsed on a grown stack; without,
//!    on a thread whose stack was made large enough in advance (what a grown stack costs).
//!
//! Environment: `CODEGRAPH_BENCH_MANIFEST` (another corpus), `CODEGRAPH_BENCH_OFFLINE=1`,
//! `CODEGRAPH_BENCH_RUNS` (default 5), as for `e2e`. Figures in `benches/README.md`. This is not a
//! timed test: it fails only when the corpus cannot be built.

mod common;

use std::error::Error;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use camino::Utf8PathBuf;
use cargo_codegraph::index::NoProgress;
use cargo_codegraph::parse::{self, NESTING_CHECK};
use cargo_codegraph::workspace::WorkspaceConfig;
use cargo_codegraph::{BuildConfig, BuildSummary};

// The binary's allocator (`src/main.rs`), so that builds are measured as users run them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DEFAULT_RUNS: usize = 5;

/// The indexing workers' stack (`index::WORKER_STACK`, which is not public).
const WORKER_STACK: usize = 64 * 1024 * 1024;

/// How deep the deep file nests, and the stack its unguarded parse gets: far more than it needs
/// (about 16 KiB per level in a debug build, less in a release one).
const DEEP_LEVELS: usize = 3_000;
const DEEP_STACK: usize = 1 << 30;
const DEEP_PARSES: usize = 20;

fn main() -> ExitCode {
    cargo_codegraph::process::no_transparent_huge_pages();
    common::exit(run())
}

fn run() -> Result<(), Box<dyn Error>> {
    // `cargo bench` passes `--bench`: nothing to filter here.
    let (manifest, default_corpus) = common::corpus_manifest();
    let offline = common::offline();
    let runs = common::runs(DEFAULT_RUNS)?;
    println!("corpus: {}", manifest.display());

    let scratch = tempfile::Builder::new().prefix("codegraph-stack-").tempdir()?;
    let db = Utf8PathBuf::from_path_buf(scratch.path().join("graph.msgpack"))
        .map_err(|path| format!("the temporary folder `{}` is not UTF-8", path.display()))?;
    let config = BuildConfig {
        workspace: WorkspaceConfig {
            manifest_path: Some(manifest),
            deps: true,
            offline,
            locked: default_corpus,
            ..Default::default()
        },
        db: Some(db.clone()),
        ..Default::default()
    };
    let build = |check: bool| -> Result<(BuildSummary, Duration), Box<dyn Error>> {
        NESTING_CHECK.store(check, Ordering::Relaxed);
        match std::fs::remove_file(&db) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(format!("failed to remove `{db}`: {err}").into()),
        }
        let started = Instant::now();
        let summary = cargo_codegraph::build(&config, &NoProgress)?;
        Ok((summary, started.elapsed()))
    };

    // Warm-up of each: the page cache, cargo's metadata cache, and the list of files parsed.
    let (summary, _) = build(true)?;
    let (unchecked, _) = build(false)?;
    if unchecked.parsed_paths != summary.parsed_paths || unchecked.edges != summary.edges {
        return Err("the build without the check made another graph: the corpus is not a normal one".into());
    }
    let texts: Arc<Vec<String>> = summary
        .parsed_paths
        .iter()
        .map(|path| std::fs::read_to_string(path).map_err(|err| format!("failed to read `{path}`: {err}")))
        .collect::<Result<Vec<_>, _>>()?
        .into();
    let bytes: usize = texts.iter().map(String::len).sum();
    println!("{} files, {:.1} MB; {runs} runs of each setting, alternating", texts.len(), bytes as f64 / 1e6);

    let mut builds = [Vec::new(), Vec::new()];
    let mut parses = [Vec::new(), Vec::new()];
    for run in 1..=runs {
        // Which setting goes first alternates too.
        let order = if run % 2 == 1 { [true, false] } else { [false, true] };
        for check in order {
            let (_, time) = build(check)?;
            builds[usize::from(!check)].push(time);
            let time = parse_all_timed(Arc::clone(&texts), check)?;
            parses[usize::from(!check)].push(time);
        }
        println!(
            "run {run}/{runs}: build {:.3}s with the check, {:.3}s without; parse {:.3}s with, {:.3}s without",
            secs(builds[0][run - 1]),
            secs(builds[1][run - 1]),
            secs(parses[0][run - 1]),
            secs(parses[1][run - 1]),
        );
    }
    NESTING_CHECK.store(true, Ordering::Relaxed);

    let deep_text = format!("pub fn deep() -> u8 {{ {}1{} }}\n", "(".repeat(DEEP_LEVELS), ")".repeat(DEEP_LEVELS));
    let mut deep = [Vec::new(), Vec::new()];
    for run in 0..DEEP_PARSES {
        for check in if run % 2 == 0 { [true, false] } else { [false, true] } {
            let text = deep_text.clone();
            // Guarded: on a worker's stack, grown for the file. Unguarded: on a stack already large.
            let stack = if check { WORKER_STACK } else { DEEP_STACK };
            let time = on_stack(stack, move || {
                NESTING_CHECK.store(check, Ordering::Relaxed);
                let started = Instant::now();
                let facts = parse::parse_file(&text);
                let time = started.elapsed();
                NESTING_CHECK.store(true, Ordering::Relaxed);
                match facts {
                    Ok(facts) if facts.items.len() == 1 => Ok(time),
                    other => Err(format!("the deep file gave {other:?}")),
                }
            })??;
            deep[usize::from(!check)].push(time);
        }
    }

    println!();
    println!("cargo-codegraph stack-guard benchmark ({runs} runs)");
    println!("  {:<34} {:>10} {:>10} {:>10}", "", "median s", "min s", "max s");
    let row = |name: &str, samples: &[Duration]| {
        let (median, min, max) = stats(samples);
        println!("  {name:<34} {median:>10.4} {min:>10.4} {max:>10.4}");
        median
    };
    let build_with = row("build, with the check", &builds[0]);
    let build_without = row("build, without", &builds[1]);
    let parse_with = row("parse (1 thread), with the check", &parses[0]);
    let parse_without = row("parse (1 thread), without", &parses[1]);
    let deep_with = row("deep file, grown stack", &deep[0]);
    let deep_without = row("deep file, 1 GiB thread stack", &deep[1]);
    println!();
    println!("  build: with / without = {:.3}", build_with / build_without);
    println!("  parse: with / without = {:.3}", parse_with / parse_without);
    println!("  deep file ({DEEP_LEVELS} levels): grown / preallocated = {:.3}", deep_with / deep_without);
    Ok(())
}

/// Parses every corpus text once with the check on or off, on one thread with a worker's stack;
/// the time taken.
fn parse_all_timed(texts: Arc<Vec<String>>, check: bool) -> Result<Duration, Box<dyn Error>> {
    let timed = on_stack(WORKER_STACK, move || {
        NESTING_CHECK.store(check, Ordering::Relaxed);
        let started = Instant::now();
        for text in texts.iter() {
            let facts = parse::parse_file(text).map_err(|err| format!("a corpus file does not parse: {err:?}"))?;
            std::hint::black_box(&facts);
            // As the indexer does after each file.
            proc_macro2::extra::invalidate_current_thread_spans();
        }
        let time = started.elapsed();
        NESTING_CHECK.store(true, Ordering::Relaxed);
        Ok::<_, String>(time)
    })?;
    Ok(timed?)
}

fn on_stack<R: Send + 'static>(stack: usize, f: impl FnOnce() -> R + Send + 'static) -> Result<R, Box<dyn Error>> {
    let handle = std::thread::Builder::new().stack_size(stack).spawn(f)?;
    handle.join().map_err(|_| "the measuring thread panicked".into())
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Median, min and max in seconds.
fn stats(samples: &[Duration]) -> (f64, f64, f64) {
    let mut sorted: Vec<f64> = samples.iter().map(|d| d.as_secs_f64()).collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
    (median, sorted[0], sorted[n - 1])
}
