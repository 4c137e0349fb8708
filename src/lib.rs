//! cargo-codegraph: turn a Rust workspace into a queryable code graph stored in IndraDB.
//!
//! The pipeline of `build`, each stage knowing only the one before it:
//!
//! 1. `workspace`: `cargo metadata` → the packages and crates to index, and their dependencies;
//! 2. `schedule`: the crate DAG → topological waves;
//! 3. `index`: per wave, crates in parallel; per crate, files in parallel, each file going
//!    through `parse` (syn → facts) and `assemble` (facts → vertices and edges, ids from `ids`);
//! 4. `store`: a writer thread puts batches into IndraDB, then the graph is saved atomically.
//!
//! `stats` and `export` read a stored graph back through `store`. See ARCHITECTURE.md.

pub mod assemble;
pub mod cfg;
pub mod check;
pub mod cli;
pub mod error;
pub mod export;
pub mod fresh;
pub mod ids;
pub mod incremental;
pub mod index;
pub mod model;
pub mod parse;
pub mod report;
pub mod resolve;
pub mod schedule;
pub mod stats;
pub mod store;
pub mod validate;
pub mod workspace;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::{Duration, Instant};

use camino::Utf8PathBuf;
use rayon::prelude::*;
use serde::Serialize;

use crate::cli::{BuildArgs, Command, ExportArgs, GlobalArgs, ManifestArgs, StatsArgs};
use crate::error::{Error, exit};
use crate::incremental::{Cache, UnitSummary};
use crate::index::{Diagnostic, Progress};
use crate::model::Batch;
use crate::model::VertexKind;
use crate::report::Reporter;
use crate::store::{Backend, LockMode, Staging, StoreError, Writer, WriterConfig};
use crate::workspace::{Workspace, WorkspaceConfig};

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
    /// Build even when the graph is up to date (see `fresh`).
    pub rebuild: bool,
    pub index: index::IndexOptions,
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
    pub files: usize,
    pub edges: usize,
    pub files_parsed: usize,
    pub files_failed: usize,
    /// The files this build parsed: all of them in a full build; in an incremental one, those
    /// that changed in the crates indexed again; none when skipped.
    pub files_reparsed: usize,
    /// The crates this build indexed: all of them in a full build; in an incremental one, those
    /// whose files, fingerprint or dependencies' interfaces changed.
    pub crates_reindexed: usize,
    pub vertices_by_kind: BTreeMap<&'static str, usize>,
    pub edges_by_kind: BTreeMap<&'static str, usize>,
    pub batches_written: usize,
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

/// Where the time of a build went (wall clock, milliseconds).
#[derive(Debug, Default, Serialize)]
pub struct Timings {
    /// `cargo metadata` and package selection.
    pub metadata_ms: u64,
    /// Reading, parsing and assembling every file, until the last batch was sent.
    pub index_ms: u64,
    /// Waiting for the writer to write what was still queued after indexing.
    pub write_ms: u64,
    /// The atomic save of the graph file.
    pub save_ms: u64,
}

fn millis_since(start: Instant) -> u64 {
    start.elapsed().as_millis() as u64
}

fn as_millis<S: serde::Serializer>(elapsed: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(elapsed.as_millis() as u64)
}

/// Indexes the workspace and saves its graph. Files that fail are in the summary's diagnostics;
/// only failures that leave no graph to save are errors.
pub fn build(config: &BuildConfig, progress: &dyn Progress) -> Result<BuildSummary, Error> {
    let started = Instant::now();
    let workspace = Workspace::load(&config.workspace)?;
    build_workspace(&workspace, config, progress, started)
}

/// `build` for a workspace already loaded (`started` is when its loading began).
fn build_workspace(
    workspace: &Workspace,
    config: &BuildConfig,
    progress: &dyn Progress,
    started: Instant,
) -> Result<BuildSummary, Error> {
    let mut timings = Timings { metadata_ms: millis_since(started), ..Timings::default() };
    let db_path = config.db.clone().unwrap_or_else(|| default_db(&workspace.target_dir, config.store));
    let backend = store::backend_for_build(&db_path, config.store)?;
    // Before any work: a folder that cannot be written, or a graph in use with `--no-wait`, fails
    // the build at once. The lock is held until the new graph is saved.
    if let Some(dir) = db_path.parent().filter(|dir| !dir.as_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Write { path: db_path.clone(), source })?;
    }
    let _lock =
        store::lock::lock(&db_path, LockMode::Exclusive, !config.no_wait, || progress.blocked(db_path.as_str()))?;
    let jobs = config.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let pool = index::worker_pool(jobs)?;
    // Everything besides the sources that decides the graph.
    let fingerprint = fresh::fingerprint(&format!("{workspace:#?}\n{:?}\n{:?}", config.index, backend));
    if !config.rebuild
        && let Some(recorded) = pool.install(|| fresh::up_to_date(&db_path, &fingerprint))
    {
        return Ok(BuildSummary::fresh(db_path, recorded, started, timings));
    }
    fresh::forget(&db_path);

    let cache = Cache::new(&db_path);
    let cache_fingerprint = incremental::global_fingerprint(workspace, &format!("{:?}\n{:?}", config.index, backend));
    let previous = match config.rebuild {
        true => None,
        false => cache.load(&cache_fingerprint, store::stamp(&db_path).as_deref()),
    };
    let fingerprints = incremental::crate_fingerprints(workspace);
    let job = Job { workspace, config, backend, db_path: &db_path, pool: &pool, progress, fingerprints };
    let mut built = None;
    if let Some(previous) = &previous {
        // `None` when the cache cannot give back what it should: a full build makes it.
        built = job.update(previous, &cache, &mut timings)?;
    }
    let built = match built {
        Some(built) => built,
        None => {
            cache.forget();
            job.full(&mut timings)?
        }
    };

    let Built { kept, new, parsed_paths, batches_written, incremental } = built;
    // Every unit built now but the workspace's own.
    let crates_reindexed = new.len().saturating_sub(1);
    let mut all: Vec<&UnitSummary> = kept.values().map(|entry| &entry.summary).collect();
    all.extend(new.iter().map(|unit| &unit.summary));
    let mut summary = BuildSummary::of_units(&all, db_path.clone(), started, parsed_paths);
    summary.batches_written = batches_written;
    summary.incremental = incremental;
    summary.crates_reindexed = crates_reindexed;
    let inputs: Vec<fresh::Input> = all.iter().flat_map(|unit| unit.inputs.iter().cloned()).collect();
    summary.timings = timings;
    // The cache and the up-to-date state are only shortcuts for the next build: failing to write
    // them is a warning.
    let stamp = store::stamp(&db_path).unwrap_or_default();
    let recorded = match cache.save(previous.as_ref(), cache_fingerprint, stamp, kept, new) {
        Ok(()) => fresh::record(&summary.db, fingerprint, inputs, summary.recorded()),
        Err(err) => Err(err),
    };
    if let Err(err) = recorded {
        let state = fresh::state_path(&summary.db).to_string();
        let message = format!("cannot record the build's state (the next build will be a full one): {err}");
        summary
            .diagnostics
            .push(Diagnostic { severity: index::Severity::Warning, ..Diagnostic::error(state, 0, 0, message) });
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// One build's fixed context.
struct Job<'a> {
    workspace: &'a Workspace,
    config: &'a BuildConfig,
    backend: Backend,
    db_path: &'a Utf8PathBuf,
    pool: &'a rayon::ThreadPool,
    progress: &'a dyn Progress,
    /// Each crate's `incremental::crate_fingerprints`.
    fingerprints: Vec<String>,
}

/// What a build made, for the cache and the summary.
struct Built {
    /// The units carried over from the last build, as recorded.
    kept: BTreeMap<String, incremental::UnitEntry>,
    /// The units built now.
    new: Vec<incremental::NewUnit>,
    parsed_paths: Vec<Utf8PathBuf>,
    batches_written: usize,
    incremental: bool,
}

impl Job<'_> {
    fn waves(&self) -> Vec<Vec<usize>> {
        let deps = self.workspace.deps.iter().map(|dep| (dep.from, dep.to));
        schedule::waves(self.workspace.crates.len(), deps)
    }

    /// The workspace unit: packages, crates and `depends_on` edges.
    fn workspace_unit(&self) -> (Batch, incremental::NewUnit) {
        let batch = assemble::workspace_batch(self.workspace);
        let mut builder = incremental::OutputBuilder::default();
        builder.add(&batch);
        let mut summary = UnitSummary::default();
        let output = builder.finish(&mut summary);
        let fingerprint = fresh::fingerprint("");
        let key = incremental::WORKSPACE_UNIT.to_owned();
        (batch, incremental::NewUnit { key, fingerprint, summary, output, defs: None, files: Vec::new() })
    }

    fn new_units(&self, units: Vec<index::CrateOutput>) -> Vec<incremental::NewUnit> {
        units
            .into_iter()
            .map(|unit| incremental::NewUnit {
                key: incremental::crate_key(self.workspace, unit.krate),
                fingerprint: self.fingerprints[unit.krate].clone(),
                summary: unit.summary,
                output: unit.output,
                defs: unit.defs,
                files: unit.files,
            })
            .collect()
    }

    /// Indexes everything into a new graph.
    fn full(&self, timings: &mut Timings) -> Result<Built, Error> {
        let staging = Staging::new(self.db_path, self.backend)?;
        let writer = Writer::spawn(staging.create()?, self.config.writer)?;
        let sink = writer.sender();
        let (batch, workspace_unit) = self.workspace_unit();
        if sink.send(batch).is_err() {
            return Err(writer
                .finish()
                .err()
                .map_or_else(|| Error::Internal("the writer stopped".into()), Error::from));
        }
        let phase = Instant::now();
        let indexed =
            index::index(self.workspace, &self.waves(), self.pool, self.config.index, Some(sink), None, self.progress);
        timings.index_ms = millis_since(phase);
        self.progress.stage("Writing");
        let phase = Instant::now();
        // The writer's own error, if it stopped, says more than the workers' "store gone".
        let (db, stats) = writer.finish()?;
        timings.write_ms = millis_since(phase);
        let outcome = indexed?;

        if let Some((id, kind, path)) = stats.duplicate_ids.first() {
            return Err(Error::Internal(format!(
                "{} vertices share an id with another vertex, the first {id} ({kind} `{path}`); the graph was not saved",
                stats.duplicate_ids.len()
            )));
        }
        if let Some((from, kind, to)) = stats.dangling_edges.first() {
            return Err(Error::Internal(format!(
                "{} edges have a missing end, the first {from} -{kind}-> {to}; the graph was not saved",
                stats.dangling_edges.len()
            )));
        }
        self.progress.stage("Saving");
        let phase = Instant::now();
        self.pool.install(|| staging.commit(db))?;
        timings.save_ms = millis_since(phase);
        let mut new = vec![workspace_unit];
        new.extend(self.new_units(outcome.units));
        Ok(Built {
            kept: BTreeMap::new(),
            new,
            parsed_paths: outcome.parsed_paths,
            batches_written: stats.flushes,
            incremental: false,
        })
    }

    /// Indexes the crates that changed, and updates the graph by difference.
    fn update(
        &self,
        previous: &incremental::CacheState,
        cache: &Cache,
        timings: &mut Timings,
    ) -> Result<Option<Built>, Error> {
        let (workspace, fingerprints) = (self.workspace, &self.fingerprints);
        let keys: Vec<String> = (0..workspace.crates.len()).map(|k| incremental::crate_key(workspace, k)).collect();
        let recorded: Vec<Option<&incremental::UnitEntry>> = (0..workspace.crates.len())
            .map(|k| previous.units.get(&keys[k]).filter(|entry| entry.fingerprint == fingerprints[k]))
            .collect();
        let unchanged: Vec<Option<(Option<String>, String)>> = self.pool.install(|| {
            recorded
                .par_iter()
                .map(|entry| {
                    let entry = (*entry)?;
                    entry
                        .summary
                        .inputs
                        .par_iter()
                        .all(fresh::Input::unchanged)
                        .then(|| (entry.summary.interface.clone(), entry.summary.deps_interface.clone()))
                })
                .collect()
        });
        let index_of: HashMap<&str, u32> = keys.iter().enumerate().map(|(i, key)| (key.as_str(), i as u32)).collect();
        let load_defs = |krate: usize| {
            let bytes = cache.defs(recorded[krate]?)?;
            resolve::CrateDefs::from_bytes(&bytes, |key| index_of.get(key).copied())
        };
        let load_files = |krate: usize| {
            let entry = previous.units.get(&keys[krate]).filter(|entry| entry.fingerprint == fingerprints[krate])?;
            cache.files(entry)
        };
        let reuse = index::Reuse { unchanged, defs: &load_defs, files: &load_files };
        let phase = Instant::now();
        let outcome = match index::index(
            workspace,
            &self.waves(),
            self.pool,
            self.config.index,
            None,
            Some(&reuse),
            self.progress,
        ) {
            Ok(outcome) => outcome,
            Err(index::IndexError::CacheMiss { .. }) => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        timings.index_ms = millis_since(phase);

        let (_, workspace_unit) = self.workspace_unit();
        let mut new = vec![workspace_unit];
        new.extend(self.new_units(outcome.units));
        // Every unit recorded and not built now is kept if it is still indexed, and gone if not.
        let built: std::collections::HashSet<&str> = new.iter().map(|unit| unit.key.as_str()).collect();
        let indexed: std::collections::HashSet<&str> = workspace
            .crates
            .iter()
            .zip(&keys)
            .filter(|(krate, _)| krate.indexed)
            .map(|(_, key)| key.as_str())
            .collect();
        let mut kept = BTreeMap::new();
        let mut changes = Vec::new();
        for (key, entry) in &previous.units {
            if built.contains(key.as_str()) {
                continue;
            }
            if indexed.contains(key.as_str()) {
                kept.insert(key.clone(), entry.clone());
            } else {
                let Some(old) = cache.output(entry) else { return Ok(None) };
                changes.push(incremental::Change { old, new: Vec::new() });
            }
        }
        for unit in &new {
            let old = match previous.units.get(&unit.key) {
                // Byte-identical outputs change nothing (the workspace unit, mostly).
                Some(entry) if entry.output_hash == fresh::hash(&unit.output) => continue,
                Some(entry) => match cache.output(entry) {
                    Some(old) => old,
                    None => return Ok(None),
                },
                None => Vec::new(),
            };
            let Some(new) = incremental::decode_output(&unit.output) else { return Ok(None) };
            changes.push(incremental::Change { old, new });
        }
        let old_shared = previous.units.values().flat_map(|entry| entry.summary.shared.iter());
        let new_shared = kept
            .values()
            .flat_map(|entry| entry.summary.shared.iter())
            .chain(new.iter().flat_map(|unit| unit.summary.shared.iter()));
        let diff = incremental::diff(changes, old_shared, new_shared);
        if !diff.is_empty() {
            self.progress.stage("Saving");
            let phase = Instant::now();
            let (staging, db) = Staging::update_known(self.db_path, self.backend)?;
            store::apply(&db, diff)?;
            self.pool.install(|| staging.commit(db))?;
            timings.save_ms = millis_since(phase);
        }
        Ok(Some(Built { kept, new, parsed_paths: outcome.parsed_paths, batches_written: 0, incremental: true }))
    }
}

impl BuildSummary {
    /// The summary of a build whose units are `units`.
    fn of_units(
        units: &[&UnitSummary],
        db: Utf8PathBuf,
        started: Instant,
        parsed_paths: Vec<Utf8PathBuf>,
    ) -> BuildSummary {
        let mut vertices_by_kind: BTreeMap<&'static str, usize> = BTreeMap::new();
        let mut edges_by_kind: BTreeMap<&'static str, usize> = BTreeMap::new();
        let mut shared = std::collections::BTreeSet::new();
        let mut diagnostics = Vec::new();
        let (mut files_parsed, mut files_failed) = (0, 0);
        let mut resolve = resolve::ResolveStats::default();
        let mut validation = validate::ValidationStats::default();
        for unit in units {
            for (kind, n) in &unit.vertices {
                *vertices_by_kind.entry(kind.as_str()).or_default() += n;
            }
            for (kind, n) in &unit.edges {
                *edges_by_kind.entry(kind.as_str()).or_default() += n;
            }
            shared.extend(unit.shared.iter().copied());
            diagnostics.extend(unit.diagnostics.iter().cloned());
            files_parsed += unit.files_parsed;
            files_failed += unit.files_failed;
            resolve += unit.resolve;
            validation += unit.validation;
        }
        for (_, kind) in shared {
            *vertices_by_kind.entry(kind.as_str()).or_default() += 1;
        }
        diagnostics.sort();
        diagnostics.dedup();
        let count = |kind: VertexKind| vertices_by_kind.get(kind.as_str()).copied().unwrap_or(0);
        let structural = [VertexKind::Package, VertexKind::Crate, VertexKind::Module, VertexKind::File];
        BuildSummary {
            db,
            fresh: false,
            incremental: false,
            packages: count(VertexKind::Package),
            crates: count(VertexKind::Crate),
            modules: count(VertexKind::Module),
            files: count(VertexKind::File),
            items: vertices_by_kind
                .iter()
                .filter(|(kind, _)| !structural.iter().any(|s| s.as_str() == **kind))
                .map(|(_, n)| n)
                .sum(),
            edges: edges_by_kind.values().sum(),
            files_parsed,
            files_failed,
            files_reparsed: parsed_paths.len(),
            crates_reindexed: 0,
            vertices_by_kind,
            edges_by_kind,
            batches_written: 0,
            elapsed: started.elapsed(),
            timings: Timings::default(),
            resolve,
            validation,
            diagnostics,
            parsed_paths,
        }
    }

    /// What a later build skipped as up to date reports again.
    fn recorded(&self) -> fresh::Recorded {
        let owned = |map: &BTreeMap<&'static str, usize>| map.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        fresh::Recorded {
            packages: self.packages,
            crates: self.crates,
            modules: self.modules,
            items: self.items,
            files: self.files,
            edges: self.edges,
            files_parsed: self.files_parsed,
            files_failed: self.files_failed,
            vertices_by_kind: owned(&self.vertices_by_kind),
            edges_by_kind: owned(&self.edges_by_kind),
            resolve: self.resolve,
            validation: self.validation,
            diagnostics: self.diagnostics.clone(),
        }
    }

    /// The summary of a build skipped because nothing changed.
    fn fresh(db: Utf8PathBuf, recorded: fresh::Recorded, started: Instant, timings: Timings) -> BuildSummary {
        // Kind names come back as the model's own names (a name this version does not know
        // would have changed the fingerprint).
        let known = |name: &str| -> &'static str {
            VertexKind::ALL
                .iter()
                .map(|kind| kind.as_str())
                .chain(model::EdgeKind::ALL.iter().map(|kind| kind.as_str()))
                .find(|known| *known == name)
                .unwrap_or("unknown")
        };
        let interned = |map: BTreeMap<String, usize>| map.into_iter().map(|(k, v)| (known(&k), v)).collect();
        BuildSummary {
            db,
            fresh: true,
            incremental: false,
            packages: recorded.packages,
            crates: recorded.crates,
            modules: recorded.modules,
            items: recorded.items,
            files: recorded.files,
            edges: recorded.edges,
            files_parsed: recorded.files_parsed,
            files_failed: recorded.files_failed,
            files_reparsed: 0,
            crates_reindexed: 0,
            vertices_by_kind: interned(recorded.vertices_by_kind),
            edges_by_kind: interned(recorded.edges_by_kind),
            batches_written: 0,
            elapsed: started.elapsed(),
            timings,
            resolve: recorded.resolve,
            validation: recorded.validation,
            diagnostics: recorded.diagnostics,
            parsed_paths: Vec::new(),
        }
    }
}

/// The graph without `--db`: `<target dir>/codegraph/graph.msgpack` (or `graph.rocksdb`). With no
/// backend asked for, the more recently written of the two that exist, so that `stats` and
/// `export` read what the last build wrote, whichever backend it used.
fn default_db(target_dir: &camino::Utf8Path, backend: Option<Backend>) -> Utf8PathBuf {
    let dir = target_dir.join("codegraph");
    if let Some(backend) = backend {
        return dir.join(backend.default_file_name());
    }
    let msgpack = dir.join(Backend::Msgpack.default_file_name());
    let rocksdb = dir.join(Backend::Rocksdb.default_file_name());
    match (store::last_written(&msgpack), store::last_written(&rocksdb)) {
        (Some(m), Some(r)) if r > m => rocksdb,
        (None, Some(_)) => rocksdb,
        _ => msgpack,
    }
}

/// Runs one command; returns the process exit code.
pub fn run(command: Command, global: &GlobalArgs) -> u8 {
    let reporter = Reporter::new(global);
    let result = match command {
        Command::Build(args) => run_build(&args, &reporter),
        Command::Stats(args) => run_stats(&args, &reporter),
        Command::Export(args) => run_export(&args, &reporter),
        Command::Check(args) => run_check(&args, &reporter),
    };
    reporter.finish_progress();
    match result {
        Ok(code) => code,
        Err(Error::Output { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => exit::SUCCESS,
        Err(err) => {
            reporter.error(&err);
            err.exit_code()
        }
    }
}

fn build_config(args: &BuildArgs) -> BuildConfig {
    BuildConfig {
        workspace: WorkspaceConfig {
            manifest_path: args.manifest.manifest_path.clone(),
            selection: args.workspace.clone(),
            features: args.features.clone(),
            target: args.target.clone(),
            offline: args.manifest.offline,
            locked: args.manifest.locked,
            frozen: args.manifest.frozen,
            deps: args.deps,
        },
        jobs: args.jobs.map(|n| n.get()),
        db: args.db.db.clone(),
        store: args.store.map(|kind| match kind {
            cli::StoreKind::Msgpack => Backend::Msgpack,
            cli::StoreKind::Rocksdb => Backend::Rocksdb,
        }),
        no_wait: args.db.no_wait,
        rebuild: args.rebuild,
        index: index::IndexOptions { cfg_test: args.cfg_test },
        writer: WriterConfig::default(),
    }
}

fn run_build(args: &BuildArgs, reporter: &Reporter) -> Result<u8, Error> {
    let config = build_config(args);
    let summary = build(&config, reporter)?;
    reporter.finish_progress();
    for diagnostic in &summary.diagnostics {
        reporter.diagnostic(diagnostic);
    }
    if reporter.is_json() {
        let mut value = serde_json::to_value(&summary).map_err(|err| Error::Internal(err.to_string()))?;
        value["type"] = "summary".into();
        print_stdout(&value.to_string())?;
    } else {
        let t = &summary.timings;
        let (r, v) = (&summary.resolve, &summary.validation);
        reporter.verbose(&format!(
            "vertices by kind: {:?}\nedges by kind: {:?}\nbatches written: {}\n\
             resolution: {} imports ({} unresolved), calls {} exact, {} inferred, {} unresolved\n\
             validation: {} items with unique ids, {} resolved edges checked, {} dropped\n\
             time: metadata {} ms, index {} ms, write {} ms, save {} ms",
            summary.vertices_by_kind,
            summary.edges_by_kind,
            summary.batches_written,
            r.imports,
            r.imports_unresolved,
            r.calls_exact,
            r.calls_inferred,
            r.calls_unresolved,
            v.items,
            v.edges_checked,
            v.edges_dropped,
            t.metadata_ms,
            t.index_ms,
            t.write_ms,
            t.save_ms
        ));
        let failed = match summary.files_failed {
            0 => String::new(),
            n => format!(", {n} failed"),
        };
        reporter.status(
            "Finished",
            &format!(
                "{}, {}, {}, {}, {} from {}{failed} in {:.2}s",
                count(summary.packages, "package"),
                count(summary.crates, "crate"),
                count(summary.modules, "module"),
                count(summary.items, "item"),
                count(summary.edges, "edge"),
                count(summary.files_parsed, "file"),
                summary.elapsed.as_secs_f64()
            ),
        );
        if summary.fresh {
            reporter.status("Fresh", &format!("{} (nothing changed since it was built)", summary.db));
        } else {
            reporter.status("Saved", summary.db.as_str());
        }
    }
    Ok(if summary.files_failed > 0 { exit::PARTIAL } else { exit::SUCCESS })
}

/// `1 crate`, `2 crates`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// The graph file of `stats` and `export`: `--db`, else the default in the target folder.
fn stored_db(db: &cli::DbArgs, manifest: &ManifestArgs) -> Result<Utf8PathBuf, Error> {
    if let Some(db) = &db.db {
        return Ok(db.clone());
    }
    let target_dir = workspace::target_dir(manifest.manifest_path.as_deref(), manifest.offline)?;
    Ok(default_db(&target_dir, None))
}

/// Reads the stored graph under a shared lock: a build in progress finishes first.
fn read_stored(
    db: &cli::DbArgs,
    manifest: &ManifestArgs,
    reporter: &Reporter,
) -> Result<(Utf8PathBuf, store::StoredGraph), Error> {
    let path = stored_db(db, manifest)?;
    // Before the lock: taking it would leave a lock file beside a graph that does not exist.
    if !path.exists() {
        return Err(StoreError::Missing { path }.into());
    }
    let _lock = store::lock::lock(&path, LockMode::Shared, !db.no_wait, || reporter.blocked(path.as_str()))?;
    let graph = store::read_graph(&path)?;
    Ok((path, graph))
}

fn run_stats(args: &StatsArgs, reporter: &Reporter) -> Result<u8, Error> {
    let path = stored_db(&args.db, &args.manifest)?;
    // Before the lock: taking it would leave a lock file beside a graph that does not exist.
    if !path.exists() {
        return Err(StoreError::Missing { path }.into());
    }
    let stats = {
        let _lock = store::lock::lock(&path, LockMode::Shared, !args.db.no_wait, || reporter.blocked(path.as_str()))?;
        // Kinds alone: the snapshot never decodes a property for this.
        stats::count_graph(&store::open_graph(&path)?)
    };
    if reporter.is_json() {
        let value = serde_json::json!({ "type": "stats", "db": path, "stats": stats });
        print_stdout(&value.to_string())?;
    } else {
        let mut text = format!("{path}\n\n{:<14} {:>9}\n", "vertices", stats.vertices);
        for (kind, n) in &stats.vertices_by_kind {
            text.push_str(&format!("  {kind:<12} {n:>9}\n"));
        }
        text.push_str(&format!("\n{:<14} {:>9}\n", "edges", stats.edges));
        for (kind, n) in &stats.edges_by_kind {
            text.push_str(&format!("  {kind:<12} {n:>9}\n"));
        }
        print_stdout(text.trim_end())?;
    }
    Ok(exit::SUCCESS)
}

fn run_export(args: &ExportArgs, reporter: &Reporter) -> Result<u8, Error> {
    let (_, graph) = read_stored(&args.db, &args.manifest, reporter)?;
    match &args.output {
        Some(output) => {
            let output_error = |source| Error::Output { path: output.to_string(), source };
            // Written beside the target and renamed, so that a reader never sees half an export.
            let dir = output.parent().filter(|d| !d.as_str().is_empty()).unwrap_or(camino::Utf8Path::new("."));
            let mut file = tempfile::NamedTempFile::new_in(dir).map_err(output_error)?;
            {
                let mut out = std::io::BufWriter::new(file.as_file_mut());
                export::write_jsonl(&graph, &mut out).map_err(output_error)?;
            }
            file.persist(output).map_err(|err| output_error(err.error))?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            export::write_jsonl(&graph, &mut out).map_err(|source| Error::Output { path: "stdout".into(), source })?;
        }
    }
    Ok(exit::SUCCESS)
}

/// `check`: the rules first (a bad one fails before any work), then the graph, then the rules
/// against the graph as stored.
fn run_check(args: &BuildArgs, reporter: &Reporter) -> Result<u8, Error> {
    let config = build_config(args);
    let started = Instant::now();
    let workspace = Workspace::load(&config.workspace)?;
    let rules = check::rules(&workspace.rule_tables)?;
    let summary = build_workspace(&workspace, &config, reporter, started)?;
    reporter.finish_progress();
    for diagnostic in &summary.diagnostics {
        reporter.diagnostic(diagnostic);
    }
    let graph = {
        let _lock = store::lock::lock(&summary.db, LockMode::Shared, !config.no_wait, || {
            reporter.blocked(summary.db.as_str())
        })?;
        store::read_graph(&summary.db)?
    };
    let violations = check::check(&rules, &graph);
    if reporter.is_json() {
        for violation in &violations {
            let mut value = serde_json::to_value(violation).map_err(|err| Error::Internal(err.to_string()))?;
            value["type"] = "violation".into();
            print_stdout(&value.to_string())?;
        }
        let value = serde_json::json!({
            "type": "check",
            "rules": rules.len(),
            "violations": violations.len(),
            "files_failed": summary.files_failed,
        });
        print_stdout(&value.to_string())?;
    } else {
        for violation in &violations {
            print_stdout(&check_report(violation))?;
        }
        if rules.is_empty() {
            reporter.status("Checked", "no rules: add `[workspace.metadata.codegraph]` to Cargo.toml");
        } else if violations.is_empty() {
            let message = format!("{} rules against {} files: none broken", rules.len(), summary.files_parsed);
            reporter.status("Checked", &message);
        }
    }
    if !violations.is_empty() {
        reporter.error(&RulesBroken(violations.len()));
        return Ok(exit::RULES_BROKEN);
    }
    Ok(if summary.files_failed > 0 { exit::PARTIAL } else { exit::SUCCESS })
}

#[derive(Debug, thiserror::Error)]
#[error("{0} architecture rule violation(s) found")]
struct RulesBroken(usize);

/// A violation for people: what depends on what, the rule, and the evidence as `file:line`.
fn check_report(violation: &check::Violation) -> String {
    let what = match violation.rule {
        "cycle" => format!(
            "cycle between {}",
            violation.members.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
        ),
        _ => format!("`{}` depends on `{}`", violation.from, violation.to),
    };
    let mut text = format!("error[{}]: {what}", violation.rule);
    if let Some(reason) = &violation.reason {
        text.push_str(&format!(": {reason}"));
    }
    text.push_str(&format!("\n  rule: {}", violation.origin));
    for evidence in &violation.evidence {
        text.push_str(&format!(
            "\n  --> {}:{}: {} of `{}` in `{}`",
            evidence.file, evidence.line, evidence.kind, evidence.to, evidence.from
        ));
    }
    text.push('\n');
    text
}

fn print_stdout(text: &str) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}").map_err(|source| Error::Output { path: "stdout".into(), source })
}
