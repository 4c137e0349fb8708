//! Does indexing (and name resolution above all) stay linear in the size of a crate?
//!
//! Generates one crate of `n` modules, each with a few structs, impls, functions that call into
//! the module before it and across the crate, a trait, `use super::*` globs, re-exports and a
//! prelude module that every module glob-imports, for `n` = 250, 1,000 and 4,000 modules. Each
//! size is built several times (median), and the report gives the time per module: if resolution
//! were quadratic in crate size, the time per module would grow about fourfold with each step. The
//! last line is JSON for scripts.
//!
//! `cargo bench --bench scaling` (`CODEGRAPH_SCALING_RUNS`, default 3).

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use camino::Utf8PathBuf;
use cargo_codegraph::index::NoProgress;
use cargo_codegraph::workspace::WorkspaceConfig;
use cargo_codegraph::{BuildConfig, build};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SIZES: [usize; 3] = [250, 1_000, 4_000];

fn main() -> ExitCode {
    cargo_codegraph::process::no_transparent_huge_pages();
    let runs: usize = std::env::var("CODEGRAPH_SCALING_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let mut results = Vec::new();
    for n in SIZES {
        let dir = tempfile::Builder::new().prefix("codegraph-scaling-").tempdir().expect("a temporary folder");
        generate(dir.path(), n);
        let db = Utf8PathBuf::from_path_buf(dir.path().join("graph.msgpack")).expect("a UTF-8 temporary folder");
        let config = BuildConfig {
            workspace: WorkspaceConfig {
                manifest_path: Some(dir.path().join("Cargo.toml")),
                offline: true,
                ..Default::default()
            },
            db: Some(db),
            ..Default::default()
        };
        let mut times = Vec::new();
        let mut edges = 0;
        let mut items = 0;
        for _ in 0..=runs {
            let started = Instant::now();
            let summary = match build(&config, &NoProgress) {
                Ok(summary) => summary,
                Err(err) => {
                    eprintln!("error: {err:#}");
                    return ExitCode::FAILURE;
                }
            };
            times.push(started.elapsed());
            (edges, items) = (summary.edges, summary.items);
            let calls = summary.edges_by_kind.get("calls").copied().unwrap_or(0);
            if calls < n * 3 {
                eprintln!("error: only {calls} calls edges for {n} modules: resolution is broken");
                return ExitCode::FAILURE;
            }
        }
        // The first run warms the page cache and is not counted.
        times.remove(0);
        times.sort();
        let median = times[times.len() / 2];
        println!(
            "{n:>6} modules {items:>7} items {edges:>8} edges: median {:>7.3}s, {:>6.1} µs per module",
            median.as_secs_f64(),
            per_module(median, n)
        );
        results.push((n, median));
    }
    let (first_n, first) = results[0];
    let (last_n, last) = results[results.len() - 1];
    let growth = per_module(last, last_n) / per_module(first, first_n);
    println!("time per module, {last_n} vs {first_n} modules: {growth:.2}x (linear: about 1; quadratic: about 16)");
    let mut json = String::from("{\"bench\":\"scaling\"");
    for (n, median) in &results {
        let _ = write!(json, ",\"s_{n}\":{:.3}", median.as_secs_f64());
    }
    let _ = write!(json, ",\"growth\":{growth:.3}}}");
    println!("{json}");
    ExitCode::SUCCESS
}

fn per_module(time: Duration, n: usize) -> f64 {
    time.as_secs_f64() * 1e6 / n as f64
}

/// Writes a crate of `n` modules under `root`.
fn generate(root: &Path, n: usize) {
    let src = root.join("src");
    std::fs::create_dir_all(&src).expect("the source folder");
    std::fs::write(
        root.join("Cargo.toml"),
        "[package]\nname = \"scaling\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .expect("the manifest");
    let mut lib = String::from(
        "pub mod prelude {\n    pub use crate::m0::Thing0;\n    pub trait Shape { fn area(&self) -> f64; }\n}\n",
    );
    for i in 0..n {
        let _ = writeln!(lib, "pub mod m{i};");
    }
    std::fs::write(src.join("lib.rs"), lib).expect("lib.rs");
    for i in 0..n {
        let previous = i.saturating_sub(1);
        let far = (i * 7 + 3) % n;
        let mut module = String::new();
        let _ = writeln!(module, "use crate::prelude::*;");
        let _ = writeln!(module, "use crate::m{previous}::{{Thing{previous}, make{previous}}};");
        let _ = writeln!(module, "pub use crate::m{far}::Thing{far} as Far{i};");
        let _ = write!(
            module,
            "
#[derive(Debug, Clone, Default)]
pub struct Thing{i} {{ pub value: f64, pub next: Option<Box<Thing{previous}>> }}

impl Thing{i} {{
    pub fn new(value: f64) -> Self {{ Thing{i} {{ value, next: None }} }}
    pub fn grow(&self) -> Thing{i} {{ Thing{i}::new(self.value * 2.0) }}
}}

impl Shape for Thing{i} {{
    fn area(&self) -> f64 {{ self.grow().value + helper{i}(self.value) }}
}}

pub fn make{i}() -> Thing{i} {{
    let thing = Thing{i}::new(1.0);
    let before: Thing{previous} = make{previous}();
    let _far = crate::m{far}::make{far};
    let total = thing.area() + before.area() + Far{i}::new(2.0).value;
    Thing{i}::new(total)
}}

fn helper{i}(x: f64) -> f64 {{ x + crate::m{far}::make{far}().value }}

pub mod inner {{
    use super::*;
    pub fn twice() -> f64 {{ make{i}().area() * 2.0 }}
}}
"
        );
        std::fs::write(src.join(format!("m{i}.rs")), module).expect("a module file");
    }
}
