//! Read benchmark: opening a stored msgpack graph, the old way (IndraDB decodes the image, every
//! property is copied out: `store::read_graph`, then `Graph::from_stored`) against the new one
//! (`store::open_graph`, which reads the image in place), each in a fresh process so that its
//! time and peak memory are its own.
//!
//! For each corpus (`benches/corpus`, about a million lines, and `benches/corpus-large`, over two
//! million), it builds the graph with `--deps` once (kept in `target/read-bench/` and reused while
//! the build finds it up to date), checks once that both ways read the same graph, then runs,
//! alternately:
//!
//! - `stats` the old way (`read_probe old stats`) and the new way (`cargo-codegraph stats`);
//! - a one-shot look-up the old way and the new way (`read_probe old|new lookup`): open, find one
//!   path (the vertex with the most callers), list its in-edges of kind `calls`;
//! - a full read the new way (`read_probe new full`): every property decoded, for comparison.
//!
//! Peak memory comes from `/usr/bin/time -f %M` (Debian's `time` package) when it is installed;
//! times are wall-clock from spawn to exit. See `benches/README.md` for the figures. The last
//! line of the output is one JSON object for scripts.

mod common;

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use camino::Utf8PathBuf;
use cargo_codegraph::BuildConfig;
use cargo_codegraph::index::NoProgress;
use cargo_codegraph::model::EdgeKind;
use cargo_codegraph::store::{self, Direction};
use cargo_codegraph::workspace::WorkspaceConfig;

const DEFAULT_RUNS: usize = 3;
const TIME: &str = "/usr/bin/time";

/// One way of reading, as a command line after the binary.
struct Probe {
    name: &'static str,
    binary: PathBuf,
    args: Vec<String>,
}

/// The medians of one probe's runs.
struct Measured {
    name: &'static str,
    median: Duration,
    min: Duration,
    max: Duration,
    /// Peak resident memory, KiB (the median of the runs), when `/usr/bin/time` is there.
    peak_kib: Option<u64>,
}

fn main() -> ExitCode {
    common::exit(run())
}

fn run() -> Result<(), Box<dyn Error>> {
    // `cargo bench` passes `--bench`: nothing to filter here, so the arguments are ignored.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let runs = common::runs(DEFAULT_RUNS)?;
    let offline = common::offline();
    let corpora: Vec<String> = match std::env::var("CODEGRAPH_READ_CORPORA") {
        Ok(value) => value.split(',').map(str::to_owned).collect(),
        Err(_) => vec!["corpus".to_owned(), "corpus-large".to_owned()],
    };
    let timer = Path::new(TIME).is_file();
    if !timer {
        println!("{TIME} is not installed (`apt-get install time`): peak memory is not measured");
    }

    println!("building the release binaries");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .args(["build", "--release", "--bin", "cargo-codegraph", "--example", "read_probe"])
        .current_dir(&root)
        .status()?;
    if !status.success() {
        return Err("the release build failed".into());
    }
    let release = root.join("target/release");
    let (tool, probe) = (release.join("cargo-codegraph"), release.join("examples/read_probe"));

    let mut reports = Vec::new();
    for corpus in &corpora {
        let manifest = root.join("benches").join(corpus).join("Cargo.toml");
        if !offline {
            let status =
                Command::new(&cargo).arg("fetch").arg("--locked").arg("--manifest-path").arg(&manifest).status()?;
            if !status.success() {
                return Err(format!("`cargo fetch` failed for `{}`", manifest.display()).into());
            }
        }
        let dir = root.join("target/read-bench").join(corpus);
        std::fs::create_dir_all(&dir)?;
        let db = Utf8PathBuf::from_path_buf(dir.join("graph.msgpack")).map_err(|_| "the target folder is not UTF-8")?;
        let (files, lines) = graph(&manifest, &db, offline)?;
        let image = std::fs::metadata(&db)?.len();
        let wanted = most_called(&db)?;
        println!("\n{corpus}: {files} files, {lines} lines; image {:.1} MB; look-up of `{wanted}`", image as f64 / 1e6);

        // Proof that both ways read one graph (not timed).
        let same = Command::new(&probe).args(["both", "same", db.as_str()]).output()?;
        if !same.status.success() {
            return Err(
                format!("the two ways read `{db}` differently: {}", String::from_utf8_lossy(&same.stderr)).into()
            );
        }

        let text = |args: &[&str]| args.iter().map(|arg| (*arg).to_owned()).collect::<Vec<_>>();
        let probes = [
            Probe { name: "stats_old", binary: probe.clone(), args: text(&["old", "stats", db.as_str()]) },
            Probe { name: "stats_new", binary: tool.clone(), args: text(&["codegraph", "stats", "--db", db.as_str()]) },
            Probe { name: "lookup_old", binary: probe.clone(), args: text(&["old", "lookup", db.as_str(), &wanted]) },
            Probe { name: "lookup_new", binary: probe.clone(), args: text(&["new", "lookup", db.as_str(), &wanted]) },
            Probe { name: "full_new", binary: probe.clone(), args: text(&["new", "full", db.as_str()]) },
        ];
        // One untimed run of each warms the page cache; then they alternate.
        for p in &probes {
            measure(p, timer)?;
        }
        let mut samples: Vec<Vec<(Duration, Option<u64>)>> = probes.iter().map(|_| Vec::new()).collect();
        for run in 1..=runs {
            let mut line = Vec::new();
            for (p, samples) in probes.iter().zip(&mut samples) {
                let sample = measure(p, timer)?;
                line.push(format!("{} {:.3}s", p.name, sample.0.as_secs_f64()));
                samples.push(sample);
            }
            println!("run {run}/{runs}: {}", line.join(", "));
        }
        let measured: Vec<Measured> =
            probes.iter().zip(&samples).map(|(p, samples)| summarize(p.name, samples)).collect();
        report(corpus, &measured);
        reports.push(serde_json::json!({
            "corpus": corpus,
            "files": files,
            "lines": lines,
            "image_bytes": image,
            "lookup": wanted,
            "probes": measured.iter().map(|m| serde_json::json!({
                "name": m.name,
                "median_s": round(m.median),
                "min_s": round(m.min),
                "max_s": round(m.max),
                "peak_mib": m.peak_kib.map(|kib| kib / 1024),
            })).collect::<Vec<_>>(),
        }));
    }
    println!();
    println!("{}", serde_json::json!({ "bench": "read", "runs": runs, "corpora": reports }));
    Ok(())
}

/// Builds the graph of `manifest` into `db` with its dependencies, unless it is up to date, and
/// returns the number of files and lines indexed (recorded beside the graph when it is built, so
/// that an up-to-date graph still knows them).
fn graph(manifest: &Path, db: &Utf8PathBuf, offline: bool) -> Result<(usize, usize), Box<dyn Error>> {
    let counts = PathBuf::from(format!("{db}.corpus.json"));
    let config = BuildConfig {
        workspace: WorkspaceConfig {
            manifest_path: Some(manifest.to_owned()),
            deps: true,
            offline,
            locked: true,
            ..Default::default()
        },
        db: Some(db.clone()),
        ..Default::default()
    };
    let started = Instant::now();
    let summary = cargo_codegraph::build(&config, &NoProgress)?;
    if summary.fresh
        && let Ok(text) = std::fs::read_to_string(&counts)
    {
        let recorded: serde_json::Value = serde_json::from_str(&text)?;
        let number = |key: &str| recorded[key].as_u64().map(|n| n as usize).ok_or("a damaged corpus.json");
        return Ok((number("files")?, number("lines")?));
    }
    println!("built `{db}` in {:.1}s", started.elapsed().as_secs_f64());
    let mut lines = 0;
    for path in &summary.parsed_paths {
        let text = std::fs::read(path)?;
        // As `str::lines` counts: a last line without a newline still counts.
        lines += text.iter().filter(|&&b| b == b'\n').count() + usize::from(text.last().is_some_and(|&b| b != b'\n'));
    }
    let files = summary.parsed_paths.len();
    std::fs::write(&counts, serde_json::json!({ "files": files, "lines": lines }).to_string())?;
    Ok((files, lines))
}

/// The path of the vertex with the most callers: a look-up that has something to list.
fn most_called(db: &Utf8PathBuf) -> Result<String, Box<dyn Error>> {
    let graph = store::open_graph(db)?;
    let best = graph
        .vertices()
        .filter(|v| !graph.path(*v).is_empty())
        .max_by_key(|v| {
            (graph.edges_of_kind(*v, Direction::In, EdgeKind::Calls).count(), std::cmp::Reverse(graph.path(*v)))
        })
        .ok_or("the graph has no vertex with a path")?;
    Ok(graph.path(best).to_owned())
}

/// Runs one probe: its wall-clock time, and its peak memory when `/usr/bin/time` is there.
fn measure(probe: &Probe, timer: bool) -> Result<(Duration, Option<u64>), Box<dyn Error>> {
    let mut command = if timer {
        let mut command = Command::new(TIME);
        command.args(["-f", "codegraph-peak-kib %M"]).arg(&probe.binary);
        command
    } else {
        Command::new(&probe.binary)
    };
    command.args(&probe.args).stdout(Stdio::null()).stderr(Stdio::piped());
    let started = Instant::now();
    let output = command.output()?;
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("`{}` failed: {stderr}", probe.name).into());
    }
    let peak = stderr.lines().find_map(|line| line.strip_prefix("codegraph-peak-kib ")?.trim().parse().ok());
    Ok((elapsed, peak))
}

fn summarize(name: &'static str, samples: &[(Duration, Option<u64>)]) -> Measured {
    let mut times: Vec<Duration> = samples.iter().map(|s| s.0).collect();
    times.sort();
    let mut peaks: Vec<u64> = samples.iter().filter_map(|s| s.1).collect();
    peaks.sort();
    Measured {
        name,
        median: times[times.len() / 2],
        min: times[0],
        max: times[times.len() - 1],
        peak_kib: peaks.get(peaks.len() / 2).copied(),
    }
}

fn report(corpus: &str, measured: &[Measured]) {
    println!("\n  {corpus:<14} {:>9} {:>9} {:>9} {:>10}", "median s", "min s", "max s", "peak MiB");
    for m in measured {
        let peak = m.peak_kib.map_or_else(|| "-".to_owned(), |kib| (kib / 1024).to_string());
        println!(
            "  {:<14} {:>9.3} {:>9.3} {:>9.3} {peak:>10}",
            m.name,
            m.median.as_secs_f64(),
            m.min.as_secs_f64(),
            m.max.as_secs_f64()
        );
    }
    let ratio = |old: &str, new: &str| {
        let find = |name: &str| measured.iter().find(|m| m.name == name).map(|m| m.median.as_secs_f64());
        match (find(old), find(new)) {
            (Some(old), Some(new)) if new > 0.0 => format!("{:.1}x", old / new),
            _ => "-".to_owned(),
        }
    };
    println!(
        "  stats: {} faster; look-up: {} faster",
        ratio("stats_old", "stats_new"),
        ratio("lookup_old", "lookup_new")
    );
}

/// Milliseconds are as precise as a wall-clock benchmark on a shared machine gets.
fn round(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1000.0).round() / 1000.0
}
