//! The parse-only floor, as a process of its own, for benchmarks that compare whole processes
//! (`benches/peers.py`): read and `syn::parse_file` exactly the files a build parsed, on all
//! cores, nothing else.
//!
//! ```text
//! parse_floor list MANIFEST LIST [BUILD ARGS...]   build once, write the files it parsed to LIST
//! parse_floor parse LIST                            read and parse every file of LIST
//! ```
//!
//! `list` runs `cargo_codegraph::build` into a temporary graph (with `--deps`, `--lib` and
//! `--no-expand` when given) and writes one absolute path per line. `parse` uses rayon on every
//! core with 64 MiB stacks and frees proc-macro2's span table after each file, as the indexer
//! does.

use std::error::Error;

use camino::Utf8PathBuf;
use rayon::prelude::*;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("list") if args.len() >= 3 => list(&args[1], &args[2], &args[3..]),
        Some("parse") if args.len() == 2 => parse(&args[1]),
        _ => {
            Err("usage: parse_floor list MANIFEST LIST [--deps] [--lib] [--no-expand] | parse_floor parse LIST".into())
        }
    }
}

fn list(manifest: &str, out: &str, rest: &[String]) -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let db = Utf8PathBuf::from_path_buf(dir.path().join("graph.msgpack")).map_err(|_| "temp folder is not UTF-8")?;
    let mut config = cargo_codegraph::BuildConfig { db: Some(db), rebuild: true, ..Default::default() };
    config.workspace.manifest_path = Some(manifest.into());
    config.workspace.offline = true;
    config.workspace.deps = rest.iter().any(|arg| arg == "--deps");
    config.workspace.targets.lib = rest.iter().any(|arg| arg == "--lib");
    // A build without expansion reads fewer files (modules declared inside macro calls): the
    // floor of its own files.
    config.index.no_expand = rest.iter().any(|arg| arg == "--no-expand");
    let summary = cargo_codegraph::build(&config, &cargo_codegraph::index::NoProgress)?;
    let text: String = summary.parsed_paths.iter().map(|path| format!("{path}\n")).collect();
    std::fs::write(out, text)?;
    eprintln!("{} files", summary.parsed_paths.len());
    Ok(())
}

fn parse(list: &str) -> Result<(), Box<dyn Error>> {
    let paths: Vec<String> = std::fs::read_to_string(list)?.lines().map(str::to_owned).collect();
    let pool = rayon::ThreadPoolBuilder::new().stack_size(64 << 20).build()?;
    let failed: usize = pool.install(|| {
        paths
            .par_iter()
            .map(|path| {
                let parsed = std::fs::read_to_string(path).ok().map(|text| syn::parse_file(&text).is_ok());
                proc_macro2::extra::invalidate_current_thread_spans();
                usize::from(parsed != Some(true))
            })
            .sum()
    });
    println!("{} files, {failed} not parsed", paths.len());
    Ok(())
}
