//! cargo-codegraph: turn a Rust workspace into a queryable code graph stored in IndraDB.
//!
//! The pipeline of `build`, each stage knowing only the one before it:
//!
//! 1. `workspace`: `cargo metadata` → the packages and crates to index, and their dependencies;
//! 2. `schedule`: the crate DAG → topological waves and components;
//! 3. `index`: crates in parallel as their dependencies allow; per crate, files in parallel,
//!    each file going through `parse` (syn → facts) and `assemble` (facts → vertices and edges,
//!    ids from `ids`);
//! 4. `store`: a writer thread puts batches into IndraDB, then the graph is saved atomically.
//!
//! `job` runs it, after `plan` decided from what the last build recorded whether the build is
//! skipped, incremental (`incremental`: only what changed is indexed, and the graph updated by
//! difference) or full. The read side (`stats`, `export`, `check`, `query`, and `mcp`, which serves
//! the graph to coding agents) opens the stored graph as one `store::Graph`. `commands` runs each
//! command of the command line. See ARCHITECTURE.md.

pub mod assemble;
pub mod build_scripts;
pub mod cfg;
pub mod check;
pub mod cli;
mod commands;
pub mod diagnostic;
pub mod direct_io;
pub mod error;
pub mod export;
pub mod ids;
pub mod incremental;
pub mod index;
mod job;
pub mod mcp;
pub mod model;
pub mod parse;
pub mod plan;
pub mod process;
pub mod query;
pub mod report;
pub mod resolve;
pub mod schedule;
mod serve;
pub mod stats;
pub mod store;
pub mod validate;
pub mod workspace;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use camino::Utf8PathBuf;
use serde::Serialize;

use crate::error::Error;
use crate::index::{Diagnostic, Progress};
use crate::store::{Backend, WriterConfig};
use crate::workspace::{Workspace, WorkspaceConfig};

pub use crate::commands::run;

/// What `build` needs to know.
#[derive(Clone, Debug, Default)]
pub struct BuildConfig {
    pub workspace: WorkspaceConfig,
    /// Worker threads; `None` for one per core.
    pub jobs: Option<usize>,
    /// Where the graph goes; `None` for `default_db`.
    pub db: Option<Utf8PathBuf>,
    /// The backend; `None` for the existing graph's, else msgpack.
    pub store: Option<Backend>,
    /// Fail with `StoreError::Locked` instead of waiting when another run holds the graph.
    pub no_wait: bool,
    /// Build everything, even when the graph is up to date (see `plan`).
    pub rebuild: bool,
    pub index: index::IndexOptions,
    /// `--build-scripts`: run the build scripts first (`build_scripts`), for their cfgs and
    /// generated code.
    pub build_scripts: bool,
    pub writer: WriterConfig,
}

/// What `build` did.
#[derive(Debug, Serialize)]
pub struct BuildSummary {
    pub db: Utf8PathBuf,
    /// Nothing changed since the last build: the graph was left as it was, and the counts and
    /// diagnostics are those of that build.
    pub fresh: bool,
    /// Only what changed since the last build was indexed again, and the graph updated by
    /// difference (see `incremental`).
    pub incremental: bool,
    pub packages: usize,
    pub crates: usize,
    pub modules: usize,
    pub items: usize,
    /// The graph's files: every source file read once, however many crates read it.
    pub files: usize,
    pub edges: usize,
    /// The file jobs the build ran, parsed or read back from the cache: a file two crates (or
    /// two `cfg`'d declarations) read counts for each, an `include!`d one too.
    pub files_parsed: usize,
    pub files_failed: usize,
    /// The files this build parsed: all of them in a full build; in an incremental one, those
    /// that changed in the crates indexed again; none when skipped.
    pub files_reparsed: usize,
    /// The crates this build indexed: all of them in a full build; in an incremental one, those
    /// whose files, fingerprint or dependencies' interfaces changed (less `crates_patched`).
    pub crates_reindexed: usize,
    /// Incremental builds: crates whose changed files changed only their own vertices'
    /// properties (a comment, a literal, a doc comment) or only where lines are (a statement
    /// added to a body): their recorded outputs were patched with those files' new vertices and
    /// the lines moved, the crates not indexed again (`index::patch`, `index::shift`).
    pub crates_patched: usize,
    /// Incremental builds: crates whose dependencies' interfaces changed that were not indexed
    /// again, as nothing depends on them and they name nothing whose meaning changed
    /// (`resolve::names`).
    pub crates_unaffected: usize,
    pub vertices_by_kind: BTreeMap<&'static str, usize>,
    pub edges_by_kind: BTreeMap<&'static str, usize>,
    pub batches_written: usize,
    /// Incremental builds: the batches of the recorded and the new outputs that the diff read;
    /// those a crate indexed again gave byte for byte as before are left out
    /// (`incremental::Change::between`).
    pub batches_compared: usize,
    /// Macro calls in the crates indexed again whose expansion was read back from the last build
    /// (the same call, by the same definition), not expanded again.
    pub expansions_reused: usize,
    /// Items whose edges this build resolved: every item of the crates it indexed, except, in an
    /// incremental build, those whose edges it kept from the last one (`index::resolved`: the
    /// crate's scopes, imports and dependencies as they were, and the items naming what they did).
    pub items_resolved: usize,
    #[serde(serialize_with = "as_millis", rename = "elapsed_ms")]
    pub elapsed: Duration,
    pub timings: Timings,
    /// What resolution found and missed.
    pub resolve: resolve::ResolveStats,
    /// What the validation stage checked.
    pub validation: validate::ValidationStats,
    pub diagnostics: Vec<Diagnostic>,
    /// Every file parsed (absolute paths: for benchmarks and tools, never stored).
    #[serde(skip)]
    pub parsed_paths: Vec<Utf8PathBuf>,
}

/// Where the time of a build went (wall clock, milliseconds); with `elapsed`, they account for the
/// whole build.
#[derive(Debug, Default, Serialize)]
pub struct Timings {
    /// `cargo metadata`, package selection and detecting the target.
    pub metadata_ms: u64,
    /// Planning: taking the lock, reading the cache's state, fingerprints (besides hashing).
    pub plan_ms: u64,
    /// Checking the recorded inputs (hashing every file the last build read, once).
    pub hash_ms: u64,
    /// Reading, parsing, assembling and resolving, until the last batch was sent.
    pub index_ms: u64,
    /// Waiting for the writer to write what was still queued after indexing (full builds).
    pub write_ms: u64,
    /// Comparing the new outputs with the recorded ones (incremental builds).
    pub diff_ms: u64,
    /// Opening the stored graph for the update and applying the difference (incremental builds).
    pub apply_ms: u64,
    /// The atomic save of the graph.
    pub save_ms: u64,
    /// Writing the cache for the next build: its state, and in a full build what was left of
    /// writing its pack once the graph was saved (the rest overlaps the index phase).
    pub cache_ms: u64,
}

fn as_millis<S: serde::Serializer>(elapsed: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(elapsed.as_millis() as u64)
}

/// Indexes the workspace and saves its graph. Files that fail are in the summary's diagnostics;
/// only failures that leave no graph to save are errors.
pub fn build(config: &BuildConfig, progress: &dyn Progress) -> Result<BuildSummary, Error> {
    let started = Instant::now();
    let workspace = Workspace::load(&config.workspace)?;
    if config.build_scripts {
        progress.stage("Running build scripts");
        let scripts = build_scripts::run(&config.workspace, &workspace)?;
        let mut config = config.clone();
        config.index.build_scripts = Some(std::sync::Arc::new(scripts));
        return job::build_workspace(&workspace, &config, progress, started);
    }
    job::build_workspace(&workspace, config, progress, started)
}

/// A temporary file beside one it will replace (the graph, its delta log and cache, an export):
/// created as an ordinary file would be, `0666` less the umask on Unix, rather than with
/// tempfile's private `0600`, which the rename would hand on to a graph a team shares.
pub(crate) fn replacement_file<'a, 'b>() -> tempfile::Builder<'a, 'b> {
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    builder.permissions(<std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o666));
    builder
}
