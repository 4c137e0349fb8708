//! What the benchmarks share: their settings from the environment (`CODEGRAPH_BENCH_MANIFEST`,
//! `CODEGRAPH_BENCH_OFFLINE`, `CODEGRAPH_BENCH_RUNS`) and how they end.

#![allow(dead_code, reason = "each benchmark uses a different subset of these helpers")]

use std::error::Error;
use std::path::PathBuf;
use std::process::{ExitCode, Termination};

/// The benchmark's exit: its own on success, an error and its causes on stderr otherwise.
pub fn exit<T: Termination>(result: Result<T, Box<dyn Error>>) -> ExitCode {
    match result {
        Ok(done) => done.report(),
        Err(err) => {
            eprintln!("error: {err}");
            let mut source = err.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

/// The timed runs: `CODEGRAPH_BENCH_RUNS`, or `default`.
pub fn runs(default: usize) -> Result<usize, Box<dyn Error>> {
    match std::env::var("CODEGRAPH_BENCH_RUNS") {
        Ok(value) => match value.parse::<usize>() {
            Ok(runs) if runs > 0 => Ok(runs),
            _ => Err(format!("`CODEGRAPH_BENCH_RUNS` must be a positive number, not `{value}`").into()),
        },
        Err(_) => Ok(default),
    }
}

/// Whether cargo must not reach the network (`CODEGRAPH_BENCH_OFFLINE=1`).
pub fn offline() -> bool {
    std::env::var("CODEGRAPH_BENCH_OFFLINE").is_ok_and(|value| value == "1")
}

/// The corpus's manifest: `CODEGRAPH_BENCH_MANIFEST`, or `benches/corpus` (then `true`).
pub fn corpus_manifest() -> (PathBuf, bool) {
    match std::env::var_os("CODEGRAPH_BENCH_MANIFEST") {
        Some(path) if !path.is_empty() => (PathBuf::from(path), false),
        _ => (PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/corpus/Cargo.toml"), true),
    }
}
