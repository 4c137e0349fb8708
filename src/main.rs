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
    no_transparent_huge_pages();
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

/// Transparent huge pages make a build slower, not faster: a fresh 2 MiB page is zeroed whole
/// when the first byte of it is touched, and the allocator returns parts of its pages to the
/// system and touches them again. On the e2e corpus with THP on (mimalloc advises it on its
/// own mappings, so the host's `madvise` setting is enough) the kernel zeroed pages for 24% of
/// the samples and a build took 1.40x as long as with it off (benches/README.md, "Sixth
/// pass"). The flag is per process and inherited by children (`cargo metadata`, build scripts).
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: `PR_SET_THP_DISABLE` takes integer arguments only and changes nothing but the
    // process's own THP flag; on a kernel without it the call fails and nothing changes.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
