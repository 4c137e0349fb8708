//! End-to-end benchmark: `cargo_codegraph::build` over a real corpus, against a parse-only
//! baseline over exactly the files it parsed.
//!
//! The baseline is the floor for any syn-based indexer: read every file and `syn::parse_file` it,
//! on all cores, nothing else. The ratio e2e / baseline therefore says what everything that is not
//! parsing costs (`cargo metadata`, the module walk, facts, ids, the IndraDB writer, the save);
//! the build's own phase timings say where. The two are measured alternately, after one untimed
//! warm-up of each, so that noise and the page cache treat them alike, and no floor is timed
//! right after a build (see `settle`). See `benches/README.md` for the environment variables and
//! the figures measured.
//!
//! This is not a timed test: it fails only when the corpus cannot be indexed, or when a file of it
//! does not parse.

mod common;

use std::error::Error;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use cargo_codegraph::index::{NoProgress, Severity};
use cargo_codegraph::parse::made_text::Made;
use cargo_codegraph::workspace::WorkspaceConfig;
use cargo_codegraph::{BuildConfig, BuildSummary};
use rayon::prelude::*;

// The allocator of the `cargo-codegraph` binary (`src/main.rs`), so that the pipeline is measured
// as users run it; the baseline gets it too, so that the ratio compares like with like.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The same stack as the indexer's workers (`index::WORKER_STACK`): syn recurses on nested
/// expressions, and the baseline must not fail where the indexer succeeds.
const WORKER_STACK: usize = 64 * 1024 * 1024;

const DEFAULT_RUNS: usize = 5;

/// What the environment asks for.
struct Settings {
    manifest: PathBuf,
    /// The committed corpus, whose `Cargo.lock` must be used as it is.
    default_corpus: bool,
    offline: bool,
    runs: usize,
    /// Also time builds with `--no-expand`, alternating with the others (what expansion costs).
    compare_no_expand: bool,
}

/// The files the indexer parsed, and their size.
struct Corpus {
    paths: Vec<Utf8PathBuf>,
    lines: usize,
    bytes: usize,
}

/// The phases of the build, as `BuildSummary::timings` reports them.
const PHASES: [&str; 4] = ["metadata", "index", "write", "save"];

/// The median and spread of one measurement.
struct Timing {
    median: Duration,
    min: Duration,
    max: Duration,
}

/// What `--no-expand` builds measured, beside the others.
struct NoExpand {
    e2e: Timing,
    parse: Timing,
    files: usize,
    /// The parse-only floor of what the expanded build's macro calls make, written out
    /// (`parse::made_text`): what the same code would cost the floor had it been written by hand.
    made: Timing,
    made_texts: MadeTexts,
    /// The growth of the ratio from expansion within each run, by wall and by CPU time, so that
    /// the spread of the growth shows beside the growth of the medians.
    growth_by_run: Vec<(f64, f64)>,
}

/// What the expansions of one expanded build made, as the text of files (`parse::made_text`).
#[derive(Default)]
struct MadeTexts {
    texts: Vec<String>,
    /// Texts and bytes by what they were parsed as.
    by_kind: std::collections::BTreeMap<Made, (usize, usize)>,
    /// How many plain `syn::parse_file` rejects (the build parses the tokens, not their text).
    rejected: usize,
}

impl MadeTexts {
    fn bytes(&self) -> usize {
        self.by_kind.values().map(|&(_, bytes)| bytes).sum()
    }
}

/// Everything measured, for the report.
struct Measured {
    e2e: Timing,
    parse: Timing,
    /// Builds with `--no-expand`, when asked for, and the parse-only floor of the files they
    /// parse (fewer: modules declared inside macro calls are not walked), with their count.
    no_expand: Option<NoExpand>,
    /// The build's phases, in the order of `PHASES`.
    phases: [Timing; PHASES.len()],
    /// The files that plain `syn::parse_file` rejects, with why.
    rejected: Vec<String>,
    /// Medians of the CPU time the process spent (user and system, all its threads) in the same
    /// runs: e2e, parse-only, and with `--no-expand`, its build and its floor. Wall time on a
    /// shared VM follows its neighbours and the host's memory; CPU time less so.
    cpu: Cpu,
}

/// CPU-time medians (see `Measured::cpu`).
struct Cpu {
    e2e: Duration,
    parse: Duration,
    /// `--no-expand`'s build and its floor, and the floor of what expansions make.
    no_expand: Option<(Duration, Duration, Duration)>,
}

fn main() -> ExitCode {
    cargo_codegraph::process::no_transparent_huge_pages();
    common::exit(run())
}

fn run() -> Result<ExitCode, Box<dyn Error>> {
    // `cargo bench` passes `--bench` (and any filter) to harness-less benchmarks: there is
    // nothing to filter here, so the arguments are ignored.
    let settings = settings()?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("corpus: {}", settings.manifest.display());
    if settings.offline {
        println!("offline: `cargo fetch` skipped, `cargo metadata --offline`");
    } else {
        fetch(&settings)?;
    }

    let scratch = tempfile::Builder::new().prefix("codegraph-bench-").tempdir()?;
    let db = Utf8PathBuf::from_path_buf(scratch.path().join("graph.msgpack"))
        .map_err(|path| format!("the temporary folder `{}` is not UTF-8", path.display()))?;
    let config = BuildConfig {
        workspace: WorkspaceConfig {
            manifest_path: Some(settings.manifest.clone()),
            deps: true,
            offline: settings.offline,
            locked: settings.default_corpus,
            ..Default::default()
        },
        db: Some(db.clone()),
        ..Default::default()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .stack_size(WORKER_STACK)
        .thread_name(|i| format!("bench-parse-{i}"))
        .build()?;

    // Warm-up: fills the page cache with the corpus and tells which files the indexer parses.
    let (summary, warm_e2e) = timed(|| build(&config, &db))?;
    let corpus = corpus(&summary.parsed_paths)?;
    let (rejected, warm_parse) = timed(|| parse_all(&pool, &corpus.paths))?;
    println!(
        "warm-up: e2e {:.2}s, parse-only {:.2}s; {} files, {} runs of each follow",
        warm_e2e.as_secs_f64(),
        warm_parse.as_secs_f64(),
        corpus.paths.len(),
        settings.runs
    );

    let no_expand_config = BuildConfig {
        index: cargo_codegraph::index::IndexOptions { no_expand: true, ..Default::default() },
        ..config.clone()
    };
    // A build without expansion parses fewer files (modules declared inside macro calls are not
    // walked): its ratio is taken to the floor of its own files, parsed in the same loop.
    let no_expand_paths = if settings.compare_no_expand {
        let summary = build(&no_expand_config, &db)?;
        parse_all(&pool, &summary.parsed_paths)?;
        summary.parsed_paths
    } else {
        Vec::new()
    };
    // And what the expanded build's macro calls make, as text, for its own floor.
    let made_texts = if settings.compare_no_expand {
        cargo_codegraph::parse::made_text::start();
        let built = build(&config, &db);
        let made = cargo_codegraph::parse::made_text::finish();
        built?;
        let mut by_kind = std::collections::BTreeMap::<Made, (usize, usize)>::new();
        for (kind, text) in &made {
            let entry = by_kind.entry(*kind).or_default();
            entry.0 += 1;
            entry.1 += text.len();
        }
        let texts: Vec<String> = made.into_iter().map(|(_, text)| text).collect();
        let rejected = parse_texts(&pool, &texts);
        MadeTexts { texts, by_kind, rejected }
    } else {
        MadeTexts::default()
    };
    let mut e2e = Vec::with_capacity(settings.runs);
    let mut parse = Vec::with_capacity(settings.runs);
    let mut no_expand = Vec::with_capacity(settings.runs);
    let mut no_expand_parse = Vec::with_capacity(settings.runs);
    let mut made = Vec::with_capacity(settings.runs);
    let mut phases: [Vec<Duration>; PHASES.len()] = Default::default();
    let [mut e2e_cpu, mut parse_cpu, mut no_expand_cpu, mut no_expand_parse_cpu, mut made_cpu]: [Vec<Duration>; 5] =
        Default::default();
    let mut last = summary;
    for run in 1..=settings.runs {
        settle(&pool, &corpus.paths)?;
        let (_, parse_time, cpu) = timed_with_cpu(|| parse_all(&pool, &corpus.paths))?;
        parse_cpu.push(cpu);
        if settings.compare_no_expand {
            let (_, floor, floor_cpu) = timed_with_cpu(|| parse_all(&pool, &no_expand_paths))?;
            let (_, time, cpu) = timed_with_cpu(|| build(&no_expand_config, &db))?;
            settle(&pool, &corpus.paths)?;
            let (_, made_time, made_time_cpu) =
                timed_with_cpu(|| Ok::<_, Box<dyn Error>>(parse_texts(&pool, &made_texts.texts)))?;
            no_expand_parse_cpu.push(floor_cpu);
            no_expand_cpu.push(cpu);
            made_cpu.push(made_time_cpu);
            made.push(made_time);
            println!(
                "run {run}/{}: parse-only of its files {:.3}s, e2e --no-expand {:.3}s, parse-only of what expansions make {:.3}s",
                settings.runs,
                floor.as_secs_f64(),
                time.as_secs_f64(),
                made_time.as_secs_f64()
            );
            no_expand.push(time);
            no_expand_parse.push(floor);
        }
        let (summary, e2e_time, cpu) = timed_with_cpu(|| build(&config, &db))?;
        e2e_cpu.push(cpu);
        if summary.parsed_paths != last.parsed_paths {
            return Err(format!(
                "run {run} parsed {} files where the warm-up parsed {}: the corpus changed under the benchmark",
                summary.parsed_paths.len(),
                last.parsed_paths.len()
            )
            .into());
        }
        let t = &summary.timings;
        let run_phases = [t.metadata_ms, t.index_ms, t.write_ms, t.save_ms].map(Duration::from_millis);
        let shown: Vec<String> =
            PHASES.iter().zip(&run_phases).map(|(name, d)| format!("{name} {:.3}", d.as_secs_f64())).collect();
        println!(
            "run {run}/{}: parse-only {:.3}s, e2e {:.3}s ({})",
            settings.runs,
            parse_time.as_secs_f64(),
            e2e_time.as_secs_f64(),
            shown.join(", ")
        );
        parse.push(parse_time);
        e2e.push(e2e_time);
        for (samples, d) in phases.iter_mut().zip(run_phases) {
            samples.push(d);
        }
        last = summary;
    }
    let summary = last;
    let ratio_of = |a: &Duration, b: &Duration| a.as_secs_f64() / b.as_secs_f64();
    let growth_by_run: Vec<(f64, f64)> = (0..no_expand.len())
        .map(|run| {
            let wall = ratio_of(&e2e[run], &parse[run]) / ratio_of(&no_expand[run], &no_expand_parse[run]);
            let cpu =
                ratio_of(&e2e_cpu[run], &parse_cpu[run]) / ratio_of(&no_expand_cpu[run], &no_expand_parse_cpu[run]);
            (wall, cpu)
        })
        .collect();
    let measured = Measured {
        e2e: timing(&e2e),
        parse: timing(&parse),
        no_expand: (!no_expand.is_empty()).then(|| NoExpand {
            e2e: timing(&no_expand),
            parse: timing(&no_expand_parse),
            files: no_expand_paths.len(),
            made: timing(&made),
            made_texts,
            growth_by_run,
        }),
        phases: phases.map(|samples| timing(&samples)),
        rejected,
        cpu: Cpu {
            e2e: median(&e2e_cpu),
            parse: median(&parse_cpu),
            no_expand: (!no_expand_cpu.is_empty())
                .then(|| (median(&no_expand_cpu), median(&no_expand_parse_cpu), median(&made_cpu))),
        },
    };
    report(&settings, threads, &corpus, &summary, &measured);
    Ok(if summary.files_failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn settings() -> Result<Settings, Box<dyn Error>> {
    let (manifest, default_corpus) = common::corpus_manifest();
    let offline = common::offline();
    let runs = common::runs(DEFAULT_RUNS)?;
    let compare_no_expand = std::env::var("CODEGRAPH_BENCH_NO_EXPAND").is_ok_and(|value| value == "1");
    Ok(Settings { manifest, default_corpus, offline, runs, compare_no_expand })
}

/// Downloads the corpus's sources, so that the timed runs never touch the network.
fn fetch(settings: &Settings) -> Result<(), Box<dyn Error>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.arg("fetch").arg("--manifest-path").arg(&settings.manifest);
    if settings.default_corpus {
        command.arg("--locked");
    }
    let status = command.status().map_err(|err| format!("failed to run `cargo fetch`: {err}"))?;
    if !status.success() {
        return Err(format!("`cargo fetch` failed for `{}` ({status})", settings.manifest.display()).into());
    }
    Ok(())
}

/// One full build into a fresh database file.
fn build(config: &BuildConfig, db: &Utf8Path) -> Result<BuildSummary, Box<dyn Error>> {
    // Each run writes a new graph rather than replacing the last one, so that all do the same work.
    match std::fs::remove_file(db) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(format!("failed to remove `{db}`: {err}").into()),
    }
    Ok(cargo_codegraph::build(config, &NoProgress)?)
}

fn timed<T, E>(f: impl FnOnce() -> Result<T, E>) -> Result<(T, Duration), E> {
    let started = Instant::now();
    let value = f()?;
    Ok((value, started.elapsed()))
}

/// `timed`, with the CPU time the process spent meanwhile (user and system, all threads).
fn timed_with_cpu<T, E>(f: impl FnOnce() -> Result<T, E>) -> Result<(T, Duration, Duration), E> {
    let cpu_before = process_cpu();
    let (value, wall) = timed(f)?;
    Ok((value, wall, process_cpu().saturating_sub(cpu_before)))
}

/// The CPU time the process has used so far, user and system (`getrusage(RUSAGE_SELF)`).
fn process_cpu() -> Duration {
    // SAFETY: `getrusage` fills the zeroed struct it is given and touches nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

fn median(samples: &[Duration]) -> Duration {
    timing(samples).median
}

fn corpus(paths: &[Utf8PathBuf]) -> Result<Corpus, Box<dyn Error>> {
    let mut lines = 0;
    let mut bytes = 0;
    for path in paths {
        let text = std::fs::read(path).map_err(|err| format!("failed to read `{path}`: {err}"))?;
        bytes += text.len();
        // As `str::lines` counts: a last line without a newline still counts.
        lines += text.iter().filter(|&&b| b == b'\n').count() + usize::from(text.last().is_some_and(|&b| b != b'\n'));
    }
    Ok(Corpus { paths: paths.to_vec(), lines, bytes })
}

/// An untimed pass of the baseline, before a floor that would otherwise be timed right after a
/// build. The first pass after a build is slower than the next (on the `e2e` corpus by 0.2 to
/// 0.35 s of 1.4, a sixth, with three times the system time: the build freed its memory, which
/// the allocator has given back to the system and the pass takes again); a floor timed there
/// is inflated, and the ratios to it deflated, by that much. The builds follow a pass of the
/// baseline each, so they are timed alike.
fn settle(pool: &rayon::ThreadPool, paths: &[Utf8PathBuf]) -> Result<(), Box<dyn Error>> {
    parse_all(pool, paths).map(drop)
}

/// The baseline: read and parse every file, on all of `pool`'s threads, and nothing else.
/// Returns the files that plain `syn::parse_file` rejects, with why: the indexer parses some
/// files that syn alone does not (edition-2015 bare `Fn(..)` trait objects), so a rejection is
/// reported, not fatal. A file that cannot be read is: the corpus changed under the benchmark.
fn parse_all(pool: &rayon::ThreadPool, paths: &[Utf8PathBuf]) -> Result<Vec<String>, Box<dyn Error>> {
    let outcomes: Vec<Result<Option<String>, String>> = pool.install(|| {
        paths
            .par_iter()
            .map(|path| {
                let text = std::fs::read_to_string(path).map_err(|err| format!("failed to read `{path}`: {err}"))?;
                let rejected = match syn::parse_file(&text) {
                    // Dropped here, file by file, as the indexer does.
                    Ok(file) => {
                        std::hint::black_box(&file);
                        None
                    }
                    Err(err) => {
                        let start = err.span().start();
                        Some(format!("{path}:{}:{}: {err}", start.line, start.column + 1))
                    }
                };
                // As the indexer does after each file: proc-macro2 (with `span-locations`) keeps
                // every parsed file's text in a per-thread source map until told to drop it.
                proc_macro2::extra::invalidate_current_thread_spans();
                Ok(rejected)
            })
            .collect()
    });
    let mut rejected = Vec::new();
    for outcome in outcomes {
        if let Some(why) = outcome? {
            rejected.push(why);
        }
    }
    rejected.sort();
    Ok(rejected)
}

/// `syn::parse_file` of each text, on all cores, as `parse_all` does files: how many it rejects.
fn parse_texts(pool: &rayon::ThreadPool, texts: &[String]) -> usize {
    pool.install(|| {
        texts
            .par_iter()
            .filter(|text| {
                let parsed = syn::parse_file(text);
                let rejected = parsed.is_err();
                std::hint::black_box(&parsed);
                drop(parsed);
                // As the indexer does after each expansion.
                proc_macro2::extra::invalidate_current_thread_spans();
                rejected
            })
            .count()
    })
}

fn median_of(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn timing(samples: &[Duration]) -> Timing {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let n = sorted.len();
    let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2 };
    Timing { median, min: sorted[0], max: sorted[n - 1] }
}

fn report(settings: &Settings, threads: usize, corpus: &Corpus, summary: &BuildSummary, measured: &Measured) {
    let Measured { e2e, parse, no_expand, phases, rejected, cpu } = measured;
    let mb = corpus.bytes as f64 / 1e6;
    let e2e_s = e2e.median.as_secs_f64();
    let parse_s = parse.median.as_secs_f64();
    let [metadata, index, write, save] = phases;
    let ratio = e2e_s / parse_s;
    let ratio_without_metadata = (e2e_s - metadata.median.as_secs_f64()) / parse_s;
    let ratio_index = index.median.as_secs_f64() / parse_s;
    let vertices: usize = summary.vertices_by_kind.values().sum();
    let warnings = summary.diagnostics.iter().filter(|d| d.severity == Severity::Warning).count();

    println!();
    println!("cargo-codegraph end-to-end benchmark ({} runs, {threads} threads)", settings.runs);
    println!("  corpus          {} packages, {} crates", summary.packages, summary.crates);
    println!("  files           {}", corpus.paths.len());
    println!("  lines           {}", corpus.lines);
    println!("  size            {mb:.2} MB");
    println!("  graph           {vertices} vertices, {} edges", summary.edges);
    println!("  files_failed    {}", summary.files_failed);
    println!("  warnings        {warnings}");
    println!();
    println!("  {:<16} {:>9} {:>9} {:>9} {:>13}", "", "median s", "min s", "max s", "lines/s");
    let row = |name: &str, timing: &Timing, lines_per_s: &str| {
        println!(
            "  {name:<16} {:>9.3} {:>9.3} {:>9.3} {lines_per_s:>13}",
            timing.median.as_secs_f64(),
            timing.min.as_secs_f64(),
            timing.max.as_secs_f64(),
        );
    };
    let throughput = |timing: &Timing| format!("{:.0}", corpus.lines as f64 / timing.median.as_secs_f64());
    row("e2e", e2e, &throughput(e2e));
    for (name, timing) in PHASES.iter().zip(phases) {
        row(&format!("  {name}"), timing, "");
    }
    row("parse-only", parse, &throughput(parse));
    if let Some(no_expand) = no_expand {
        row("e2e --no-expand", &no_expand.e2e, "");
        row(&format!("  its floor ({} files)", no_expand.files), &no_expand.parse, "");
        row("what expansions make", &no_expand.made, "");
    }
    println!();
    println!("  ratio e2e / parse-only                 {ratio:.2}x");
    // What the issue bounds: how much expansion makes the ratio to the floor grow.
    let growth = no_expand.as_ref().map(|no_expand| {
        let own = no_expand.e2e.median.as_secs_f64() / no_expand.parse.median.as_secs_f64();
        println!("  ratio e2e --no-expand / its floor      {own:.2}x");
        println!("  growth of the ratio from expansion     {:.3}", ratio / own);
        let (by_wall, by_cpu): (Vec<f64>, Vec<f64>) = no_expand.growth_by_run.iter().copied().unzip();
        let shown = |growths: &[f64]| growths.iter().map(|g| format!("{g:.3}")).collect::<Vec<_>>().join(", ");
        println!(
            "  the same within each run: {} (median {:.3}); by CPU time: {} (median {:.3})",
            shown(&by_wall),
            median_of(&by_wall),
            shown(&by_cpu),
            median_of(&by_cpu)
        );
        println!("  e2e / e2e --no-expand                  {:.3}", e2e_s / no_expand.e2e.median.as_secs_f64());
        let made = &no_expand.made_texts;
        let with_made = e2e_s / (parse_s + no_expand.made.median.as_secs_f64());
        println!(
            "  what expansions make: {} texts, {:.2} MB, {} rejected by plain syn",
            made.texts.len(),
            made.bytes() as f64 / 1e6,
            made.rejected
        );
        for (kind, (texts, bytes)) in &made.by_kind {
            println!("    {kind:?}: {texts} texts, {:.2} MB", *bytes as f64 / 1e6);
        }
        println!("  ratio e2e / (parse-only + what expansions make, written out) {with_made:.2}x");
        println!("  growth of that ratio from expansion    {:.3}", with_made / own);
        (own, ratio / own, no_expand)
    });
    println!("  ratio (e2e - metadata) / parse-only    {ratio_without_metadata:.2}x");
    println!("  ratio index phase / parse-only         {ratio_index:.2}x");

    // The same ratios in CPU time (medians of the same runs).
    let cpu_ratio = cpu.e2e.as_secs_f64() / cpu.parse.as_secs_f64();
    println!();
    println!(
        "  CPU s (user + system): e2e {:.2}, parse-only {:.2}, ratio {cpu_ratio:.2}x",
        cpu.e2e.as_secs_f64(),
        cpu.parse.as_secs_f64()
    );
    let cpu_growth = cpu.no_expand.map(|(build, floor, made)| {
        let own = build.as_secs_f64() / floor.as_secs_f64();
        println!(
            "  CPU s --no-expand: e2e {:.2}, its floor {:.2}, ratio {own:.2}x; growth from expansion {:.3}",
            build.as_secs_f64(),
            floor.as_secs_f64(),
            cpu_ratio / own
        );
        let (e2e, parse, made) = (cpu.e2e.as_secs_f64(), cpu.parse.as_secs_f64(), made.as_secs_f64());
        println!(
            "  CPU s of what expansions make, written out: {made:.2}; e2e / (parse-only + that) {:.2}x, growth {:.3}",
            e2e / (parse + made),
            e2e / (parse + made) / own,
        );
        // What expansion adds to the build, `E`, beside what the growth's bound leaves it: the
        // growth is `1 + E / (own * parse-only)`, so 1.10 allows a tenth of `own * parse-only`.
        // And `E` against the floor of the code expansions make, beside what the build costs
        // written code against its floor (`own`): the growth is within 1.10 only when the first
        // is a tenth of the second times the files' floor over the made code's.
        let added = e2e - own * parse;
        let of_made = if made > 0.0 { format!("{:.2}x", added / made) } else { "no multiple".to_owned() };
        println!(
            "  CPU s expansion adds: {added:.2}, where a growth of 1.10 allows {:.2}; {of_made} the floor of \
             what expansions make (written code: {own:.2}x its floor)",
            0.1 * own * parse,
        );
        cpu_ratio / own
    });

    if !rejected.is_empty() {
        println!();
        println!(
            "plain syn::parse_file rejects {} of these files (the indexer's fallbacks parse them):",
            rejected.len()
        );
        for why in rejected {
            println!("  {why}");
        }
    }
    if summary.files_failed > 0 || warnings > 0 {
        println!();
        println!("diagnostics:");
        for diagnostic in &summary.diagnostics {
            let severity = match diagnostic.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            println!("  {severity}: {}:{}: {}", diagnostic.file, diagnostic.line, diagnostic.message);
        }
    }

    let json = serde_json::json!({
        "bench": "e2e",
        "runs": settings.runs,
        "threads": threads,
        "files": corpus.paths.len(),
        "lines": corpus.lines,
        "bytes": corpus.bytes,
        "vertices": vertices,
        "edges": summary.edges,
        "files_failed": summary.files_failed,
        "syn_rejected": rejected.len(),
        "e2e_s": round(e2e_s),
        "e2e_min_s": round(e2e.min.as_secs_f64()),
        "e2e_max_s": round(e2e.max.as_secs_f64()),
        "parse_s": round(parse_s),
        "parse_min_s": round(parse.min.as_secs_f64()),
        "parse_max_s": round(parse.max.as_secs_f64()),
        "metadata_s": round(metadata.median.as_secs_f64()),
        "index_s": round(index.median.as_secs_f64()),
        "write_s": round(write.median.as_secs_f64()),
        "save_s": round(save.median.as_secs_f64()),
        "ratio": round(ratio),
        "e2e_cpu_s": round(cpu.e2e.as_secs_f64()),
        "parse_cpu_s": round(cpu.parse.as_secs_f64()),
        "ratio_cpu": round(cpu_ratio),
    });
    let json = match (json, growth) {
        (serde_json::Value::Object(mut fields), Some((own, growth, no_expand))) => {
            fields.insert("no_expand_files".into(), no_expand.files.into());
            fields.insert("no_expand_s".into(), round(no_expand.e2e.median.as_secs_f64()).into());
            fields.insert("no_expand_parse_s".into(), round(no_expand.parse.median.as_secs_f64()).into());
            fields.insert("ratio_no_expand".into(), round(own).into());
            fields.insert("ratio_growth".into(), round(growth).into());
            let (by_wall, by_cpu): (Vec<f64>, Vec<f64>) = no_expand.growth_by_run.iter().copied().unzip();
            fields.insert("ratio_growth_run_median".into(), round(median_of(&by_wall)).into());
            fields.insert("ratio_growth_cpu_run_median".into(), round(median_of(&by_cpu)).into());
            fields.insert("made_texts".into(), no_expand.made_texts.texts.len().into());
            fields.insert("made_bytes".into(), no_expand.made_texts.bytes().into());
            fields.insert("made_parse_s".into(), round(no_expand.made.median.as_secs_f64()).into());
            if let (Some((build, floor, made)), Some(cpu_growth)) = (cpu.no_expand, cpu_growth) {
                fields.insert("no_expand_cpu_s".into(), round(build.as_secs_f64()).into());
                fields.insert("no_expand_parse_cpu_s".into(), round(floor.as_secs_f64()).into());
                fields.insert("ratio_growth_cpu".into(), round(cpu_growth).into());
                fields.insert("made_parse_cpu_s".into(), round(made.as_secs_f64()).into());
            }
            serde_json::Value::Object(fields)
        }
        (json, _) => json,
    };
    println!();
    println!("{json}");
}

/// Milliseconds are as precise as a wall-clock benchmark on a shared machine gets.
fn round(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}
