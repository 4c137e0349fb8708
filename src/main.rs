//! The `cargo-codegraph` binary: parse the command line, run, exit with a documented code (see
//! `error.rs`).

use std::process::ExitCode;

use cargo_codegraph::cli::{CargoCli, normalize_args};
use clap::Parser;

// Indexing allocates many small objects on worker threads that the writer thread frees; glibc's
// allocator spends a large share of the run on that traffic (measured in benches/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    cargo_codegraph::process::no_transparent_huge_pages();
    let args = normalize_args(std::env::args_os());
    let CargoCli::Codegraph(cli) = match CargoCli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            // `--help` and `--version` are "errors" that print to stdout and exit 0.
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { cargo_codegraph::error::exit::USAGE } else { 0 });
        }
    };
    let (command, global) = cli.into_command();
    ExitCode::from(cargo_codegraph::run(command, &global))
}
