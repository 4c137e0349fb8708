//! The build job: runs the pipeline for one workspace, as `plan` decided (skip, update or full),
//! and records what the next build needs (`incremental::Cache`).
//!
//! A full build streams every crate's batches to the store's writer and saves a new graph; an
//! incremental one indexes the crates that changed without a writer, compares their outputs
//! with the recorded ones (`incremental::diff`) and applies the difference to the stored graph.
//! Either way the cache is written after the graph is committed. Knows the stages' entry points;
//! nothing of syntax or IndraDB.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use camino::Utf8PathBuf;

use crate::error::Error;
use crate::incremental::{self, Cache, UnitSummary};
use crate::index::{self, Diagnostic, Progress};
use crate::model::{Batch, VertexKind};
use crate::plan::{self, Plan, PlanInputs};
use crate::store::{self, Backend, LockMode, Staging, StoreError, Writer};
use crate::workspace::Workspace;
use crate::{BuildConfig, BuildSummary, Timings, assemble, resolve, validate};

fn millis_since(start: Instant) -> u64 {
    start.elapsed().as_millis() as u64
}

/// `build` for a workspace already loaded (`started` is when its loading began).
pub(crate) fn build_workspace(
    workspace: &Workspace,
    config: &BuildConfig,
    progress: &dyn Progress,
    started: Instant,
) -> Result<BuildSummary, Error> {
    let mut timings = Timings { metadata_ms: millis_since(started), ..Timings::default() };
    let phase = Instant::now();
    let db_path = config.db.clone().unwrap_or_else(|| default_db(&workspace.target_dir, config.store));
    let backend = store::backend_for_build(&db_path, config.store)?;
    // The graph's local files (lock, cache): beside it, or for a graph on a server, in the target
    // folder.
    let anchor = store::local_anchor(&db_path, &workspace.target_dir);
    // Before any work: a folder that cannot be written, or a graph in use with `--no-wait`, fails
    // the build at once. The lock is held until the new graph is saved.
    if let Some(dir) = anchor.parent().filter(|dir| !dir.as_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Write { path: db_path.clone(), source })?;
    }
    let _lock =
        store::lock::lock(&db_path, LockMode::Exclusive, !config.no_wait, || progress.blocked(db_path.as_str()))?;
    let jobs = config.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let pool = index::worker_pool(jobs)?;
    // The up-to-date state of versions before the plan read the cache alone: a leftover is
    // removed (best effort: it is read by nobody).
    let _ = std::fs::remove_file(format!("{anchor}.state.json"));

    let cache = Cache::new(&anchor);
    let global_fingerprint = incremental::global_fingerprint(workspace, &format!("{:?}\n{:?}", config.index, backend));
    let fingerprints = incremental::crate_fingerprints(workspace);
    let keys: Vec<String> = (0..workspace.crates.len()).map(|k| incremental::crate_key(workspace, k)).collect();
    let indexed: Vec<bool> = workspace.crates.iter().map(|krate| krate.indexed).collect();
    let job = Job { workspace, config, backend, db_path: &db_path, pool: &pool, progress, fingerprints, keys };
    let (workspace_batch, workspace_unit) = job.workspace_unit();
    let workspace_output_hash = workspace_unit.output.hash();
    let inputs = PlanInputs {
        global_fingerprint: &global_fingerprint,
        keys: &job.keys,
        fingerprints: &job.fingerprints,
        indexed: &indexed,
        workspace_output_hash: &workspace_output_hash,
        rebuild: config.rebuild,
    };
    let (plan, hashing) = pool.install(|| plan::plan(&cache, &db_path, &inputs));
    timings.hash_ms = hashing.as_millis() as u64;
    timings.plan_ms = millis_since(phase).saturating_sub(timings.hash_ms);

    let built = match plan {
        Plan::Skip(previous) => {
            let units: Vec<&UnitSummary> = previous.units.values().map(|entry| &entry.summary).collect();
            let mut summary = BuildSummary::of_units(&units, db_path, started, Vec::new());
            summary.fresh = true;
            summary.timings = timings;
            summary.elapsed = started.elapsed();
            return Ok(summary);
        }
        Plan::Update { previous, unchanged, changed } => {
            // `None` when the cache cannot give back what it should: a full build makes it.
            match job.update(&previous, unchanged, changed, workspace_unit.clone(), &cache, &mut timings)? {
                Some(built) => built,
                None => {
                    cache.forget();
                    job.full(workspace_batch, workspace_unit, &cache, &mut timings)?
                }
            }
        }
        Plan::Full => {
            cache.forget();
            job.full(workspace_batch, workspace_unit, &cache, &mut timings)?
        }
    };

    let Built {
        kept,
        packed,
        parsed_paths,
        batches_written,
        batches_compared,
        expansions_reused,
        items_resolved,
        crates_unaffected,
        crates_patched,
        incremental,
    } = built;
    // Every unit built now but the workspace's own and those patched.
    let crates_reindexed = packed.units.len().saturating_sub(1 + crates_patched);
    let mut all: Vec<&UnitSummary> = kept.values().map(|entry| &entry.summary).collect();
    all.extend(packed.units.iter().map(|(_, entry)| &entry.summary));
    let mut summary = BuildSummary::of_units(&all, db_path.clone(), started, parsed_paths);
    summary.batches_written = batches_written;
    summary.batches_compared = batches_compared;
    summary.expansions_reused = expansions_reused;
    summary.items_resolved = items_resolved;
    summary.incremental = incremental;
    summary.crates_reindexed = crates_reindexed;
    summary.crates_unaffected = crates_unaffected;
    summary.crates_patched = crates_patched;
    // The cache is only a shortcut for the next build: failing to write it is a warning.
    let phase = Instant::now();
    let stamp = store::stamp(&db_path).unwrap_or_default();
    if let Err(err) = cache.save(global_fingerprint, stamp, kept, packed) {
        let state = incremental::cache_dir(&summary.db).to_string();
        let message = format!("cannot record the build's state (the next build will be a full one): {err}");
        summary
            .diagnostics
            .push(Diagnostic { severity: index::Severity::Warning, ..Diagnostic::error(state, 0, 0, message) });
    }
    timings.cache_ms += millis_since(phase);
    summary.timings = timings;
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
    /// Each crate's `incremental::crate_key`.
    keys: Vec<String>,
}

/// What a build made, for the cache and the summary.
struct Built {
    /// The units carried over from the last build, as recorded.
    kept: BTreeMap<String, incremental::UnitEntry>,
    /// The units built now, their blobs in this build's pack.
    packed: incremental::Packed,
    parsed_paths: Vec<Utf8PathBuf>,
    batches_written: usize,
    batches_compared: usize,
    expansions_reused: usize,
    items_resolved: usize,
    crates_unaffected: usize,
    crates_patched: usize,
    incremental: bool,
}

impl Job<'_> {
    /// The workspace unit: packages, crates and `depends_on` edges.
    fn workspace_unit(&self) -> (Batch, incremental::NewUnit) {
        let batch = assemble::workspace_batch(self.workspace);
        let mut builder = incremental::OutputBuilder::default();
        builder.add(&batch);
        let mut summary = UnitSummary::default();
        let output = builder.finish(&mut summary);
        let fingerprint = incremental::fingerprint("");
        let key = incremental::WORKSPACE_UNIT.to_owned();
        let files = Default::default();
        let unit = incremental::NewUnit {
            key,
            fingerprint,
            summary,
            output,
            defs: None,
            names: None,
            scopes_as_recorded: false,
            files,
        };
        (batch, unit)
    }

    fn new_unit(&self, unit: index::CrateOutput) -> incremental::NewUnit {
        incremental::NewUnit {
            key: self.keys[unit.krate].clone(),
            fingerprint: self.fingerprints[unit.krate].clone(),
            summary: unit.summary,
            output: unit.output,
            defs: unit.defs,
            // Plain data into a `Vec`: encoding cannot fail.
            names: unit.names.map(|names| rmp_serde::to_vec(&names).unwrap_or_default()),
            scopes_as_recorded: unit.scopes_as_recorded,
            files: unit.files,
        }
    }

    /// Indexes everything into a new graph.
    fn full(
        &self,
        batch: Batch,
        workspace_unit: incremental::NewUnit,
        cache: &Cache,
        timings: &mut Timings,
    ) -> Result<Built, Error> {
        let staging = Staging::new(self.db_path, self.backend)?;
        let writer = Writer::spawn(staging.create()?, self.config.writer)?;
        let sink = writer.sender();
        if sink.send(batch).is_err() {
            return Err(writer
                .finish()
                .err()
                .map_or_else(|| Error::Internal("the writer stopped".into()), Error::from));
        }
        // Each crate's output goes to the cache's pack as the crate is done: written while the
        // indexing goes on, and not held until the end.
        let packer = cache.packer(None).map_err(|err| Error::Internal(format!("cannot start a thread: {err}")))?;
        packer.add(workspace_unit);
        let phase = Instant::now();
        let indexed = index::index(
            self.workspace,
            self.pool,
            self.config.index.clone(),
            index::Mode::Full { sink, hand_over: &|unit| packer.add(self.new_unit(unit)) },
            self.progress,
        );
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
        // What is left of the pack's writing once the graph is saved: the cache's time.
        let phase = Instant::now();
        let packed = packer.finish().ok_or_else(|| Error::Internal("the cache's thread panicked".into()))?;
        timings.cache_ms = millis_since(phase);
        outcome.leftovers.free();
        Ok(Built {
            kept: BTreeMap::new(),
            packed,
            parsed_paths: outcome.parsed_paths,
            batches_written: stats.flushes,
            batches_compared: 0,
            expansions_reused: outcome.expansions_reused,
            items_resolved: outcome.items_resolved,
            crates_unaffected: 0,
            crates_patched: 0,
            incremental: false,
        })
    }

    /// Indexes the crates that changed, and updates the graph by difference.
    fn update(
        &self,
        previous: &incremental::CacheState,
        unchanged: Vec<plan::Unchanged>,
        changed: std::collections::HashSet<Utf8PathBuf>,
        workspace_unit: incremental::NewUnit,
        cache: &Cache,
        timings: &mut Timings,
    ) -> Result<Option<Built>, Error> {
        let (workspace, fingerprints, keys) = (self.workspace, &self.fingerprints, &self.keys);
        let recorded: Vec<Option<&incremental::UnitEntry>> = (0..workspace.crates.len())
            .map(|k| previous.units.get(&keys[k]).filter(|entry| entry.fingerprint == fingerprints[k]))
            .collect();
        let index_of: HashMap<&str, u32> = keys.iter().enumerate().map(|(i, key)| (key.as_str(), i as u32)).collect();
        let load_defs = |krate: usize| {
            let bytes = cache.defs(recorded[krate]?)?;
            resolve::CrateDefs::from_bytes(&bytes, |key| index_of.get(key).copied())
        };
        let load_files = |krate: usize| {
            let entry = previous.units.get(&keys[krate]).filter(|entry| entry.fingerprint == fingerprints[krate])?;
            cache.files(entry)
        };
        let summaries = recorded.iter().map(|entry| entry.map(|entry| &entry.summary)).collect();
        let reuse = index::Reuse { unchanged, changed, defs: &load_defs, files: &load_files, summaries };
        let phase = Instant::now();
        let outcome = match index::index(
            workspace,
            self.pool,
            self.config.index.clone(),
            index::Mode::Update(&reuse),
            self.progress,
        ) {
            Ok(outcome) => outcome,
            Err(index::IndexError::CacheMiss { .. }) => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        timings.index_ms = millis_since(phase);

        let phase = Instant::now();
        let mut new = vec![workspace_unit];
        // The changes known without comparing outputs whole (`index::patch`), by unit.
        let mut known: HashMap<&str, incremental::Change> = HashMap::new();
        // The last outputs the indexing read already (checked against their hashes then).
        let mut read: HashMap<&str, bytes::Bytes> = HashMap::new();
        for mut unit in outcome.units {
            if let Some(change) = unit.change.take() {
                known.insert(&keys[unit.krate], change);
            }
            if let Some(old) = unit.previous_output.take() {
                read.insert(&keys[unit.krate], old);
            }
            new.push(self.new_unit(unit));
        }
        // Every unit recorded and not built now is kept if it is still indexed, and gone if not.
        let built: std::collections::HashSet<&str> = new.iter().map(|unit| unit.key.as_str()).collect();
        let indexed: std::collections::HashSet<&str> = workspace
            .crates
            .iter()
            .zip(keys.iter())
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
            if let Some(change) = known.remove(unit.key.as_str()) {
                changes.push(change);
                continue;
            }
            let change = match previous.units.get(&unit.key) {
                // Byte-identical outputs change nothing (the workspace unit, mostly).
                Some(entry) if entry.output.hash == unit.output.hash() => continue,
                Some(entry) => {
                    let old =
                        read.remove(unit.key.as_str()).or_else(|| cache.output_bytes(entry).map(bytes::Bytes::from));
                    old.and_then(|old| {
                        let disjoint = entry.summary.disjoint && unit.summary.disjoint;
                        let old = incremental::split_output(&old, &entry.summary.batches)?;
                        // The new output is this build's; the old one was read back intact and cut at
                        // its recorded batch lengths: a diff that does not decode is a cache fault.
                        incremental::read_back(
                            incremental::Change::between(old, unit.output.parts(), disjoint),
                            "a unit's output",
                        )
                    })
                }
                None => incremental::read_back(incremental::decode_batches(&unit.output.parts()), "a unit's output")
                    .map(|new| incremental::Change { old: Vec::new(), new }),
            };
            let Some(change) = change else { return Ok(None) };
            changes.push(change);
        }
        // A crate kept although its dependencies changed (it names nothing whose meaning changed)
        // now stands for their new interfaces. Its scopes go: they point at its dependencies'
        // items by position, which may have moved, and nothing reads them (nothing depends on
        // it); were something to, the missing scopes send the build back to a full one.
        let crates_unaffected = outcome.retargeted.len();
        for (krate, deps_interface) in outcome.retargeted {
            if let Some(entry) = kept.get_mut(&keys[krate]) {
                entry.summary.deps_interface = deps_interface;
                entry.defs = None;
            }
        }
        let old_shared = previous.units.values().flat_map(|entry| entry.summary.shared.iter());
        let new_shared = kept
            .values()
            .flat_map(|entry| entry.summary.shared.iter())
            .chain(new.iter().flat_map(|unit| unit.summary.shared.iter()));
        let batches_compared = changes.iter().map(|change| change.old.len() + change.new.len()).sum();
        let diff = incremental::diff(changes, old_shared, new_shared);
        timings.diff_ms = millis_since(phase);
        let packed = if diff.is_empty() {
            cache.pack(Some(previous), new)
        } else {
            self.progress.stage("Saving");
            let phase = Instant::now();
            let (staging, db) = Staging::update_known(self.db_path, self.backend)?;
            store::apply(&db, diff)?;
            timings.apply_ms = millis_since(phase);
            let phase = Instant::now();
            let (committed, packed) =
                self.pool.install(|| rayon::join(|| staging.commit(db), || cache.pack(Some(previous), new)));
            committed?;
            timings.save_ms = millis_since(phase);
            packed
        };
        outcome.leftovers.free();
        Ok(Some(Built {
            kept,
            packed,
            parsed_paths: outcome.parsed_paths,
            batches_written: 0,
            batches_compared,
            expansions_reused: outcome.expansions_reused,
            items_resolved: outcome.items_resolved,
            crates_unaffected,
            crates_patched: outcome.patched,
            incremental: true,
        }))
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
            crates_unaffected: 0,
            crates_patched: 0,
            vertices_by_kind,
            edges_by_kind,
            batches_written: 0,
            batches_compared: 0,
            expansions_reused: 0,
            items_resolved: 0,
            elapsed: started.elapsed(),
            timings: Timings::default(),
            resolve,
            validation,
            diagnostics,
            parsed_paths,
        }
    }
}

/// The graph without `--db`: `<target dir>/codegraph/graph.msgpack` (or `graph.rocksdb`). With no
/// backend asked for, the more recently written of the two that exist, so that `stats` and
/// `export` read what the last build wrote, whichever backend it used.
pub(crate) fn default_db(target_dir: &camino::Utf8Path, backend: Option<Backend>) -> Utf8PathBuf {
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
