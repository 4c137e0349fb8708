//! The indexing stage: crates in parallel as their dependencies allow (a full build,
//! `index_flowing`) or in waves (a rerun), and within a crate its files, in parallel; then the
//! crate's names are resolved.
//!
//! A crate's module tree is walked from its root file: each file is read, parsed, assembled into
//! a batch for the writer, and the files of its `mod x;` declarations are spawned as new tasks on
//! the same rayon scope. What resolution needs of each item (`resolve::ItemRecord`) is kept until
//! the crate's walk ends; then the crate is resolved (`resolve`), its items registered and its
//! edges checked (`validate`), and its scopes kept for the crates that depend on it. A file that
//! cannot be found, read or parsed becomes a diagnostic and the walk goes on; a panic while
//! handling one file is contained to that file.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use camino::{Utf8Path, Utf8PathBuf};
use rayon::prelude::*;
use serde_json::Value;

use crate::assemble::{self, BodyOut, ChildModule, Container, FileRef, MacroSite, ModuleRef};
use crate::cfg::CfgContext;
pub use crate::diagnostic::{Diagnostic, Severity};
use crate::incremental::{
    BatchKeys, FileCache, FileOutput, FileOutputRef, OutputBuilder, Parts, UnitSummary, encode_batch, read_back,
};
use crate::incremental::{Input, Stamp};
use crate::model::{Batch, Edge, EdgeKind, Props, Vertex, VertexKind};
use crate::parse;
use crate::resolve::names::{self, NameDigest, Names};
use crate::resolve::{self, CrateDefs, Externs, ItemRecord, RecordRefs, Shape, World};
use crate::schedule;
use crate::validate::{Origin, Registry, ValidationError};
use crate::workspace::modules::{self, ModDecl, ModuleFile};
use crate::workspace::{CrateInfo, CrateKind, PackageInfo, Workspace};

mod patch;
mod resolved;
mod shift;

/// Resolved edges go to the writer in batches of at most this many.
const EDGE_BATCH: usize = 10_000;

/// A segment of a crate's items, whose resolved edges are batches of their own, ends after an
/// item whose id's last byte is below this (one item in 64, a few hundred edges), so that where
/// batches end depends on the items, not on how many edges came before (see `resolved`).
const EDGE_BATCH_CUT: u8 = 4;

/// Macro calls that expand to further macro calls are followed this many levels deep: rustc's
/// default `recursion_limit` (a crate root's `#![recursion_limit]` sets its own, `Walk`).
const MAX_EXPANSION_ROUNDS: usize = 128;

/// What a crate's item-position macro calls may make, counted in the bytes the cache keeps of
/// each expansion (`encode_expansion`): a round that would go past it is not expanded (one
/// warning says so), and expansion stops there. rustc bounds how deep calls nest, not how many
/// there are: a macro that calls itself twice (`($h:ident $($t:ident)*) => { m!{$($t)*}
/// m!{$($t)*} }`) makes 2^n calls from a line of n names, and used all 24 GiB of this machine
/// in 91 s. The largest crates of the `e2e` corpus and of a probe of 88 other crates make 9.3 and
/// 17.4 MB (winapi with every feature; a throwaway print).
const MAX_CRATE_EXPANSION: usize = 64 << 20;

/// syn recurses on nested expressions; deeply nested generated code overflows the default 2 MiB
/// thread stack. Workers get this much (reserved, not committed, until used).
pub(crate) const WORKER_STACK: usize = 64 * 1024 * 1024;

/// Deeper module nesting (in files) than this is taken for a `#[path]` loop that the file
/// system hides (a path that grows through a symlink to its own folder); a loop through one file
/// twice is found as such at any depth.
const MAX_MODULE_DEPTH: usize = 4096;

/// Source files larger than this are not read (a diagnostic names them; the rest is indexed):
/// the largest generated files of the most-used crates stay below 16 MiB, and each file is held
/// in memory whole while it is parsed.
pub const MAX_FILE_SIZE: u64 = 64 << 20;

/// How to index.
#[derive(Clone, Debug, Default)]
pub struct IndexOptions {
    /// Evaluate `cfg(test)` as true, as `cargo test` compiles.
    pub cfg_test: bool,
    /// Leave macro calls unexpanded (`--no-expand`, for comparisons): neither `macro_rules!`
    /// calls nor `include!` are followed.
    pub no_expand: bool,
    /// What the build scripts said (`--build-scripts`), when they were run.
    pub build_scripts: Option<Arc<crate::build_scripts::BuildScripts>>,
}

fn internal_error(panic: &str) -> String {
    format!("internal error while indexing this file (please report it): {panic}")
}

/// Told of progress while indexing; called from worker threads.
pub trait Progress: Sync {
    /// `n` more files were found to index.
    fn files_found(&self, n: usize);
    /// One file is done.
    fn file_done(&self);
    /// The build moved on to another stage (`Writing`, `Saving`).
    fn stage(&self, name: &str);
    /// The build waits for another run to release the graph at `path`.
    fn blocked(&self, path: &str);
}

/// Progress that is not shown.
pub struct NoProgress;

impl Progress for NoProgress {
    fn files_found(&self, _: usize) {}
    fn file_done(&self) {}
    fn stage(&self, _: &str) {}
    fn blocked(&self, _: &str) {}
}

pub struct IndexOutcome {
    /// The crates indexed in this build, by index into `Workspace::crates`, with their outputs
    /// (none in a full build, which hands them over as they come: `Mode::Full`).
    pub units: Vec<CrateOutput>,
    /// Every file parsed in this build, absolute, sorted, each once (for benchmarks and tools;
    /// never stored).
    pub parsed_paths: Vec<Utf8PathBuf>,
    /// Macro calls whose expansion was read back from the last build's cache, not expanded.
    pub expansions_reused: usize,
    /// Items whose edges were resolved, not kept from the last build (see `resolved`).
    pub items_resolved: usize,
    /// Crates reused although their dependencies' interfaces changed, as they name nothing
    /// whose meaning changed (`resolve::names`), with the hash of those interfaces now: the
    /// hash their recorded output now stands for.
    pub retargeted: Vec<(usize, String)>,
    /// Crates whose changed files changed only what nothing else reads (`patch`): their outputs
    /// are among `units`, patched, not indexed again.
    pub patched: usize,
    /// What the build held that nothing reads once it is indexed, to free after the save.
    pub leftovers: Leftovers,
}

/// Every crate's scopes, the ids of every item, the externs and the facts of files parsed once
/// for several readers: what indexing held for the crates that depend on others, for validation
/// and for the files' other readers (dropped where the build ends, they held the save up on one
/// core while the other waited). Freed item by item, they held up a rerun's diff and save; freed
/// on a thread of their own beside the save, the save's threads paid for it
/// (mimalloc hands a block freed on another thread back to the thread that allocated it, which
/// takes the blocks back at its next allocation: 0.2 s on one thread of the `e2e` corpus's save,
/// while the other waited). So they are freed on a thread of their own once the graph is saved
/// (`free`): a command that exits then does not wait for it.
pub struct Leftovers(Box<dyn Send>);

impl Leftovers {
    /// Frees what is held on a thread of its own.
    pub fn free(self) {
        resolve::free_on_own_thread(self.0);
    }
}

/// What indexing one crate gave: its output (every batch it sent, encoded as the incremental
/// cache keeps it), its resolved scopes for later builds, and its summary.
#[derive(Debug)]
pub struct CrateOutput {
    pub krate: usize,
    pub output: Parts,
    /// `CrateDefs::to_bytes`, when the crate was resolved.
    pub defs: Option<Vec<u8>>,
    /// Its files' outputs for the next build (`FileCache::encode`).
    pub files: Parts,
    pub summary: UnitSummary,
    /// What its scopes mean, name by name, when it was resolved; and as the last build recorded
    /// it (`resolve::names`).
    pub names: Option<NameDigest>,
    pub previous_names: Option<NameDigest>,
    /// Its scopes are the last build's, unchanged (`patch`): `defs` and `names` are `None`.
    pub scopes_as_recorded: bool,
    /// What its output changed by since the last build, when that is known without comparing
    /// the outputs whole (`patch`: the batches it swapped).
    pub change: Option<crate::incremental::Change>,
    /// Its last build's output, when it was read for this one (`Reuse::files`): the comparison
    /// with the new output need not read it again.
    pub previous_output: Option<Bytes>,
}

/// What an incremental build may keep from the last one (see `incremental`).
pub struct Reuse<'a> {
    /// Per crate: when its own inputs are as the last build saw them, that build's interface
    /// hash and the hash of its dependencies' interfaces then. The crate is reused when its
    /// dependencies' interfaces are still the same.
    pub unchanged: Vec<Option<(Option<String>, String)>>,
    /// The recorded inputs that changed, by path (`plan`).
    pub changed: HashSet<Utf8PathBuf>,
    /// A reused crate's resolved scopes, read back for the crates indexed again that depend on it.
    pub defs: &'a (dyn Fn(usize) -> Option<CrateDefs> + Sync),
    /// The files of a crate's last build, when the crate is indexed again with the fingerprint
    /// it had then: those unchanged, in the same place in the module tree, are not parsed again.
    pub files: &'a (dyn Fn(usize) -> Option<FileCache> + Sync),
    /// Per crate: its last build's summary, when its fingerprint is as it was then.
    pub summaries: Vec<Option<&'a UnitSummary>>,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("failed to start {jobs} worker threads: {source}")]
    ThreadPool {
        jobs: usize,
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
    #[error("the store stopped accepting batches")]
    StoreGone,
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// An incremental build could not read back what it meant to reuse.
    #[error("the incremental cache has no readable scopes for crate `{krate}`")]
    CacheMiss { krate: String },
}

struct Ctx<'a> {
    workspace: &'a Workspace,
    options: IndexOptions,
    /// The writer; `None` when an incremental build only gathers the outputs, to compare them
    /// with the last build's.
    sink: Option<SyncSender<Batch>>,
    progress: &'a dyn Progress,
    store_gone: AtomicBool,
    parsed_paths: Mutex<Vec<Utf8PathBuf>>,
    expansions_reused: AtomicUsize,
    items_resolved: AtomicUsize,
    parses: SharedParses,
    /// Each crate's dependencies (indices into `workspace.crates`).
    deps_of: Vec<Vec<usize>>,
    /// Whether an indexed crate depends on it.
    has_dependents: Vec<bool>,
    world: World,
    externs: Externs,
    registry: Registry,
    validation_errors: Mutex<Vec<ValidationError>>,
}

impl Ctx<'_> {
    /// Adds `batch` to the crate's output, and sends it to the writer.
    fn send(&self, walk: &Walk, batch: Batch) {
        if batch.is_empty() {
            return;
        }
        let encoded = encode_batch(&batch);
        self.send_encoded(walk, batch, encoded);
    }

    /// `send`, for a batch already encoded (`encode_batch`).
    fn send_encoded(&self, walk: &Walk, batch: Batch, encoded: Bytes) {
        walk.output.lock().unwrap_or_else(|poison| poison.into_inner()).add_encoded(&batch, encoded);
        if !walk.unsent.push(batch) {
            self.store_gone.store(true, Ordering::Relaxed);
        }
    }

    /// `send`, for a batch read back from the cache, known by its keys and its bytes.
    fn send_reused(&self, walk: &Walk, keys: &BatchKeys, encoded: Bytes) {
        // Only a rerun reuses files (`Mode::Reuse`), and a rerun's output goes to the diff, not
        // to a writer: the batch itself is not needed.
        debug_assert!(self.sink.is_none(), "a full build reuses no file");
        walk.output.lock().unwrap_or_else(|poison| poison.into_inner()).add_keys(keys, encoded);
    }

    /// The key by which a crate is known between builds.
    fn key_of(&self, krate: u32) -> String {
        crate::incremental::crate_key(self.workspace, krate as usize)
    }
}

/// The build's thread pool: `jobs` workers with stacks deep enough for syn.
pub fn worker_pool(jobs: usize) -> Result<rayon::ThreadPool, IndexError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .stack_size(WORKER_STACK)
        .thread_name(|i| format!("codegraph-worker-{i}"))
        .build()
        .map_err(|source| IndexError::ThreadPool { jobs, source })
}

/// How `index` runs.
pub enum Mode<'a> {
    /// A full build: every file's batch goes to `sink` (the store's writer), and each crate's
    /// output to `hand_over` as soon as the crate is done; crates start as their dependencies
    /// are done (`index_flowing`), not wave by wave.
    Full { sink: SyncSender<Batch>, hand_over: &'a dyn Fn(CrateOutput) },
    /// An incremental build: a crate whose inputs and dependencies' interfaces are as the last
    /// build saw them is not indexed (its scopes are read back when a crate that is indexed
    /// depends on it); the outputs of those indexed are gathered into the outcome.
    Update(&'a Reuse<'a>),
}

/// Indexes the crates of `workspace` on `pool`, as `mode` says: a rerun wave by wave
/// (`schedule::waves`), a full build as dependencies allow (`index_flowing`).
pub fn index(
    workspace: &Workspace,
    pool: &rayon::ThreadPool,
    options: IndexOptions,
    mode: Mode<'_>,
    progress: &dyn Progress,
) -> Result<IndexOutcome, IndexError> {
    let (sink, reuse, hand_over) = match mode {
        Mode::Full { sink, hand_over } => (Some(sink), None, Some(hand_over)),
        Mode::Update(reuse) => (None, Some(reuse), None),
    };
    let mut deps_of = vec![Vec::new(); workspace.crates.len()];
    let mut has_dependents = vec![false; workspace.crates.len()];
    for dep in &workspace.deps {
        deps_of[dep.from].push(dep.to);
        has_dependents[dep.to] |= workspace.crates[dep.from].indexed;
    }
    let ctx = Ctx {
        workspace,
        options,
        sink,
        progress,
        store_gone: AtomicBool::new(false),
        parsed_paths: Mutex::new(Vec::new()),
        expansions_reused: AtomicUsize::new(0),
        items_resolved: AtomicUsize::new(0),
        parses: SharedParses::default(),
        deps_of,
        has_dependents,
        world: World::new(workspace.crates.len()),
        externs: Externs::default(),
        // A rerun's registry is sized for the items the last build recorded: most of them are
        // admitted from reused crates at once, and growing it to that size rehashed it many times.
        registry: Registry::with_capacity(reuse.map_or(0, |reuse| {
            reuse.summaries.iter().flatten().map(|summary| summary.vertices.values().sum::<usize>()).sum()
        })),
        validation_errors: Mutex::new(Vec::new()),
    };
    // Each crate's interface hash as this build knows it: new for the crates indexed, recorded
    // for the ones reused.
    let mut interfaces: Vec<Option<String>> = vec![None; workspace.crates.len()];
    let mut in_world = vec![false; workspace.crates.len()];
    let mut units = Vec::new();
    // A rerun's: which names the crates indexed again changed.
    let mut names = reuse.map(|reuse| NamesChanged::new(&ctx, reuse));
    let mut retargeted = Vec::new();
    // The crates whose recorded scopes are this build's (reused, or patched): read back for the
    // crates indexed again that depend on them.
    let mut reusable: Vec<bool> = match reuse {
        Some(reuse) => reuse
            .unchanged
            .iter()
            .map(|unchanged| unchanged.as_ref().is_some_and(|(interface, _)| interface.is_some()))
            .collect(),
        None => Vec::new(),
    };
    let mut patched = 0;
    // A full build's crates go as their dependencies allow; a rerun's, wave by wave (`mode`
    // gives one or the other).
    if let Some(hand_over) = hand_over {
        index_flowing(&ctx, pool, hand_over)?;
    }
    if let Some(reuse) = reuse {
        let waves = schedule::waves(workspace.crates.len(), workspace.deps.iter().map(|dep| (dep.from, dep.to)));
        for wave in &waves {
            let mut todo = Vec::new();
            for &krate in wave.iter().filter(|&&krate| workspace.crates[krate].indexed) {
                let deps = Deps::of(&ctx, krate, &interfaces);
                match reuse.unchanged[krate].as_ref() {
                    Some((interface, recorded)) if *recorded == deps.interface => interfaces[krate] = interface.clone(),
                    Some((interface, _))
                        if names.as_mut().is_some_and(|names| names.keep(krate, &deps, &interfaces)) =>
                    {
                        interfaces[krate] = interface.clone();
                        retargeted.push((krate, deps.interface));
                    }
                    _ => {
                        let deps_changed = names.as_mut().and_then(|names| names.since(krate, &deps, &interfaces));
                        todo.push((krate, deps, deps_changed))
                    }
                }
            }
            // First each crate whose own files changed is patched if its recorded output can be:
            // patched, or to be indexed.
            let tried: Vec<Result<CrateOutput, Box<ToIndex>>> = pool.install(|| {
                todo.into_par_iter()
                    .map(|(krate, deps, deps_changed)| {
                        // Read now only for a crate that may be patched: the others' are read
                        // as each is indexed, not all the wave's at once.
                        if !patch::worth_trying(reuse, krate, &deps) {
                            return Err(Box::new((krate, deps, deps_changed, None)));
                        }
                        let cached = (reuse.files)(krate);
                        match cached.as_ref().and_then(|cached| patch::patch(&ctx, reuse, krate, &deps, cached)) {
                            Some(output) => Ok(output),
                            None => Err(Box::new((krate, deps, deps_changed, cached))),
                        }
                    })
                    .collect()
            });
            let mut todo: Vec<ToIndex> = Vec::new();
            for tried in tried {
                match tried {
                    Ok(output) => {
                        interfaces[output.krate] = output.summary.interface.clone();
                        reusable[output.krate] = true;
                        patched += 1;
                        units.push(output);
                    }
                    Err(krate) => todo.push(*krate),
                }
            }
            load_reused_defs(&ctx, pool, reuse, &reusable, &todo, &mut in_world)?;
            let outputs: Vec<(CrateOutput, Option<Arc<CrateDefs>>)> = pool.install(|| {
                todo.into_par_iter()
                    .map(|(krate, deps, deps_changed, cached)| {
                        let cached = cached.or_else(|| (reuse.files)(krate));
                        index_crate(&ctx, krate, deps, deps_changed, cached)
                    })
                    .collect()
            });
            // Published only now: a crate never sees another of its own wave, whatever finished
            // first.
            for (output, defs) in outputs {
                interfaces[output.krate] = output.summary.interface.clone();
                // What a rerun compares of a crate that others depend on (`NamesChanged`).
                if let Some(names) = &mut names
                    && ctx.has_dependents[output.krate]
                {
                    names.indexed(output.krate, output.names.clone(), output.previous_names.clone());
                }
                if let Some(defs) = defs {
                    in_world[output.krate] = true;
                    ctx.world.publish(defs);
                }
                units.push(output);
            }
            if ctx.store_gone.load(Ordering::Relaxed) {
                return Err(IndexError::StoreGone);
            }
        }
    }
    let leftovers = Leftovers(Box::new((ctx.world, ctx.registry, ctx.externs, ctx.parses)));
    let mut errors = ctx.validation_errors.into_inner().unwrap_or_else(|poison| poison.into_inner());
    errors.sort_by_key(|err| err.to_string());
    if let Some(err) = errors.into_iter().next() {
        return Err(IndexError::Validation(err));
    }
    let mut parsed_paths = ctx.parsed_paths.into_inner().unwrap_or_else(|poison| poison.into_inner());
    // A file two jobs parsed at once (`SharedParses` keeps one parse's facts for the other, unless
    // both are under way together) is one of the files parsed.
    parsed_paths.sort();
    parsed_paths.dedup();
    units.sort_by_key(|unit| unit.krate);
    Ok(IndexOutcome {
        units,
        parsed_paths,
        expansions_reused: ctx.expansions_reused.into_inner(),
        items_resolved: ctx.items_resolved.into_inner(),
        retargeted,
        patched,
        leftovers,
    })
}

/// A crate to index: its dependencies, the names that changed in them, and its recorded files
/// when they were read already (`patch`).
type ToIndex = (usize, Deps, Option<Names>, Option<FileCache>);

/// A full build's crates, each started once the crates it depends on are done, its output
/// handed over as it finishes: a wave waited for its slowest crate, whose last steps (a large
/// crate's resolution, much of it on one thread) left cores idle that crates not depending on it
/// could have used. A crate still sees only what it depends on: its dependencies are published
/// before it starts, and every crate a crate's defs name is itself or one of its dependencies.
/// Crates on one dependency cycle start together and are published together, so that none of
/// them sees another, as within a wave.
///
/// The worker that finishes a crate publishes it and starts the crates that this made ready
/// (`Flow::finish`), those with the longest chain of crates waiting on them first, at most as
/// many running as the pool has threads: a worker waiting for its crate's files takes other jobs
/// meanwhile, and a crate it took then would hold up the one it waits for. Only the handing over
/// (to the cache's thread) is left to the calling thread.
fn index_flowing(ctx: &Ctx<'_>, pool: &rayon::ThreadPool, hand_over: &dyn Fn(CrateOutput)) -> Result<(), IndexError> {
    let crates = &ctx.workspace.crates;
    let components = schedule::components(crates.len(), ctx.workspace.deps.iter().map(|dep| (dep.from, dep.to)));
    let mut dependents = vec![Vec::new(); components.members.len()];
    for (group, before) in components.deps.iter().enumerate() {
        for &dep in before {
            dependents[dep].push(group);
        }
    }
    // The longest chain of groups that wait on each (a group comes after its dependencies).
    let mut chain = vec![0usize; components.members.len()];
    for group in (0..components.members.len()).rev() {
        chain[group] = 1 + dependents[group].iter().map(|&next| chain[next]).max().unwrap_or(0);
    }
    let indexed: Vec<usize> =
        components.members.iter().map(|group| group.iter().filter(|&&krate| crates[krate].indexed).count()).collect();
    let plan = FlowPlan { members: &components.members, dependents, chain, limit: pool.current_num_threads().max(1) };
    let state = Mutex::new(Flow {
        waiting: components.deps.iter().map(Vec::len).collect(),
        left: indexed,
        finished: components.members.iter().map(|_| Vec::new()).collect(),
        ready: Vec::new(),
        interfaces: vec![None; crates.len()],
        running: 0,
        stopped: false,
        panic: None,
    });
    let (sender, receiver) = std::sync::mpsc::channel::<CrateOutput>();
    // The crates that do not wait start at once (`release` below).
    let ahead = ReadAhead::of(ctx, &plan, &state.lock().unwrap_or_else(|poison| poison.into_inner()).waiting);
    std::thread::scope(|threads| {
        // With one thread for the build, no core is meant to be left over.
        if plan.limit > 1 {
            // Were no thread to be had, the roots are parsed by their crates, as they would be;
            // and so they are if it panics (the scope would pass the panic on).
            let _ = std::thread::Builder::new()
                .name("codegraph-ahead".to_owned())
                .spawn_scoped(threads, || catch_unwind(AssertUnwindSafe(|| ahead.run(ctx, &state))));
        }
        // Set when the crates are done, and as a panic leaves: the scope waits for the thread.
        let _done = ahead.done_on_drop();
        pool.in_place_scope(|scope| {
            let mut flow = state.lock().unwrap_or_else(|poison| poison.into_inner());
            let roots: Vec<usize> = (0..plan.members.len()).filter(|&group| flow.waiting[group] == 0).collect();
            flow.release(&plan, roots);
            flow.start(&plan, ctx, scope, &state, &sender);
            drop(flow);
            // The jobs hold the other senders: the loop ends when the last crate has finished.
            drop(sender);
            for output in receiver {
                hand_over(output);
            }
        });
    });
    let flow = state.into_inner().unwrap_or_else(|poison| poison.into_inner());
    if let Some(panic) = flow.panic {
        // As a wave's `collect` did: the crates running finished, then the panic goes on.
        std::panic::resume_unwind(panic);
    }
    if flow.stopped { Err(IndexError::StoreGone) } else { Ok(()) }
}

/// The root files of the crates that wait for others, parsed ahead (`SharedParses::read_ahead`)
/// on a thread of idle priority: a crate's narrow stretches (the first files of a walk, its last
/// rounds of expansion, much of its resolution) leave cores idle that the crates waiting on it
/// cannot use yet, and their roots' parse (most of a test or example target's work) does not need
/// what they wait for. The operating system runs the thread only on a core that nothing else
/// wants (Linux's `SCHED_IDLE`), so the crates under way are not held up; where that cannot be
/// asked for, nothing is read ahead. A job of the pool would not do: rayon runs a job inside the
/// wait of another, and a crate waiting for its files would wait for the reading ahead too.
struct ReadAhead {
    /// Those of the crates that start first come first.
    roots: Vec<Utf8PathBuf>,
    /// Set once every crate is done.
    done: AtomicBool,
}

impl ReadAhead {
    fn of(ctx: &Ctx<'_>, plan: &FlowPlan<'_>, waiting: &[usize]) -> ReadAhead {
        let crates = &ctx.workspace.crates;
        let mut later: Vec<(usize, usize)> = (0..plan.members.len())
            .filter(|&group| waiting[group] > 0)
            .flat_map(|group| plan.members[group].iter().map(move |&krate| (group, krate)))
            .filter(|&(_, krate)| crates[krate].indexed)
            .collect();
        later.sort_by_key(|&(group, krate)| (std::cmp::Reverse(plan.chain[group]), krate));
        let mut seen = HashSet::new();
        let roots = later
            .into_iter()
            .map(|(_, krate)| crates[krate].root.clone())
            .filter(|root| seen.insert(root.clone()))
            .collect();
        ReadAhead { roots, done: AtomicBool::new(false) }
    }

    /// Sets `done` when dropped.
    fn done_on_drop(&self) -> impl Drop + '_ {
        struct Done<'a>(&'a AtomicBool);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        Done(&self.done)
    }

    /// Stops at the first root once every crate is done: the scope that holds the thread waits
    /// for it, for no more than the parse of one file, on cores that nothing else wants by then.
    fn run(&self, ctx: &Ctx<'_>, state: &Mutex<Flow>) {
        if self.roots.is_empty() || !crate::process::idle_priority_for_this_thread() {
            return;
        }
        for root in &self.roots {
            if self.done.load(Ordering::Relaxed) || state.lock().unwrap_or_else(|poison| poison.into_inner()).stopped {
                return;
            }
            ctx.parses.read_ahead(root);
            // As after a walk job's file: the thread's span table would hold every root.
            proc_macro2::extra::invalidate_current_thread_spans();
        }
    }
}

/// What `index_flowing` knows of the crates' groups (`schedule::Components`) from the start.
struct FlowPlan<'a> {
    members: &'a [Vec<usize>],
    dependents: Vec<Vec<usize>>,
    chain: Vec<usize>,
    limit: usize,
}

/// `index_flowing`'s state, behind its lock.
struct Flow {
    /// By group: how many groups it still waits for, its indexed crates not finished, and the
    /// outputs of those finished.
    waiting: Vec<usize>,
    left: Vec<usize>,
    finished: Vec<Vec<(CrateOutput, Option<Arc<CrateDefs>>)>>,
    /// Crates to start as (group, crate), the next one last.
    ready: Vec<(usize, usize)>,
    /// Each crate's interface hash, once it is done (what `Deps::of` reads of its dependencies).
    interfaces: Vec<Option<String>>,
    running: usize,
    /// The store went away, or a crate panicked: nothing more starts.
    stopped: bool,
    panic: Option<Box<dyn std::any::Any + Send>>,
}

impl Flow {
    /// `groups` have all they depend on: their crates are ready, and a group without indexed
    /// crates is done at once.
    fn release(&mut self, plan: &FlowPlan<'_>, mut groups: Vec<usize>) {
        let crates_before = self.ready.len();
        while let Some(group) = groups.pop() {
            if self.left[group] > 0 {
                self.ready.extend(plan.members[group].iter().map(|&krate| (group, krate)));
                continue;
            }
            for &next in &plan.dependents[group] {
                self.waiting[next] -= 1;
                if self.waiting[next] == 0 {
                    groups.push(next);
                }
            }
        }
        if self.ready.len() > crates_before {
            self.ready.sort_by_key(|&(group, krate)| (plan.chain[group], std::cmp::Reverse(krate)));
        }
    }

    /// Starts ready crates while fewer than the limit run.
    fn start<'scope>(
        &mut self,
        plan: &'scope FlowPlan<'scope>,
        ctx: &'scope Ctx<'scope>,
        scope: &rayon::Scope<'scope>,
        state: &'scope Mutex<Flow>,
        sender: &std::sync::mpsc::Sender<CrateOutput>,
    ) {
        while self.running < plan.limit && !self.stopped {
            let Some((group, krate)) = self.ready.pop() else { return };
            if !ctx.workspace.crates[krate].indexed {
                continue;
            }
            let deps = Deps::of(ctx, krate, &self.interfaces);
            let sender = sender.clone();
            self.running += 1;
            scope.spawn(move |scope| {
                let output = catch_unwind(AssertUnwindSafe(|| index_crate(ctx, krate, deps, None, None)));
                let mut flow = state.lock().unwrap_or_else(|poison| poison.into_inner());
                flow.running -= 1;
                match output {
                    Ok(output) => flow.finish(plan, ctx, group, output, &sender),
                    Err(panic) => {
                        flow.stopped = true;
                        flow.panic.get_or_insert(panic);
                    }
                }
                flow.start(plan, ctx, scope, state, &sender);
            });
        }
    }

    /// A crate of `group` finished: once the group's last has, its crates are published and
    /// handed over, and the groups waiting on it may start.
    fn finish(
        &mut self,
        plan: &FlowPlan<'_>,
        ctx: &Ctx<'_>,
        group: usize,
        output: (CrateOutput, Option<Arc<CrateDefs>>),
        sender: &std::sync::mpsc::Sender<CrateOutput>,
    ) {
        self.finished[group].push(output);
        self.left[group] -= 1;
        if self.left[group] > 0 {
            return;
        }
        let mut outputs = std::mem::take(&mut self.finished[group]);
        outputs.sort_by_key(|(output, _)| output.krate);
        for (output, defs) in outputs {
            self.interfaces[output.krate] = output.summary.interface.clone();
            if let Some(defs) = defs {
                ctx.world.publish(defs);
            }
            // The receiver outlives every job.
            let _ = sender.send(output);
        }
        self.stopped |= ctx.store_gone.load(Ordering::Relaxed);
        self.release(plan, vec![group]);
    }
}

/// Which names the crates indexed again in a rerun gave a new meaning to, for the crates that
/// depend on them and that nothing depends on (`resolve::names`). A rerun's only.
struct NamesChanged<'c, 'a> {
    /// The build, and what the rerun may keep from the last one.
    ctx: &'c Ctx<'a>,
    reuse: &'c Reuse<'c>,
    /// Per crate indexed in this build: its new `NameDigest` and its last build's, when it has
    /// them.
    digests: Vec<Option<(Option<NameDigest>, Option<NameDigest>)>>,
    /// The names changed for a set of dependencies, once worked out (`None`: more than names).
    changed: HashMap<Vec<u32>, Option<Names>>,
}

impl<'c, 'a> NamesChanged<'c, 'a> {
    fn new(ctx: &'c Ctx<'a>, reuse: &'c Reuse<'c>) -> Self {
        let crates = ctx.workspace.crates.len();
        NamesChanged { ctx, reuse, digests: vec![None; crates], changed: HashMap::new() }
    }

    fn indexed(&mut self, krate: usize, digest: Option<NameDigest>, previous: Option<NameDigest>) {
        self.digests[krate] = Some((digest, previous));
    }

    /// Whether `krate` (whose own inputs are unchanged, and whose dependencies' interfaces are
    /// not) can keep its last build's output: nothing depends on it, it names nothing whose
    /// meaning changed, and has the dependencies it had.
    fn keep(&mut self, krate: usize, deps: &Deps, interfaces: &[Option<String>]) -> bool {
        if self.ctx.has_dependents[krate] {
            return false;
        }
        let Some(mentions) = self.reuse.summaries[krate].and_then(|summary| summary.mentions.as_ref()) else {
            return false;
        };
        self.changed(krate, deps, interfaces).is_some_and(|changed| !mentions.meets(&changed))
    }

    /// The names that changed in `krate`'s dependencies since its last build (none when it saw
    /// them as it sees them now; `None` when that is not known by names).
    fn since(&mut self, krate: usize, deps: &Deps, interfaces: &[Option<String>]) -> Option<Names> {
        let recorded = self.reuse.summaries[krate]?;
        if recorded.deps_interface == deps.interface {
            return Some(Names::default());
        }
        self.changed(krate, deps, interfaces)
    }

    /// The names that changed in `krate`'s dependencies since its last build, when it has the
    /// dependencies it had then.
    fn changed(&mut self, krate: usize, deps: &Deps, interfaces: &[Option<String>]) -> Option<Names> {
        if self.reuse.summaries[krate]?.deps_keys != deps.keys {
            return None;
        }
        if let Some(changed) = self.changed.get(&deps.list) {
            return changed.clone();
        }
        let changed = self.changed_for(&deps.list, interfaces);
        self.changed.insert(deps.list.clone(), changed.clone());
        changed
    }

    /// The names whose meaning changed among `deps`; `None` when something else
    /// changed, or a dependency whose interface changed has no digest to compare.
    fn changed_for(&self, deps: &[u32], interfaces: &[Option<String>]) -> Option<Names> {
        let (ctx, reuse) = (self.ctx, self.reuse);
        let mut changed = Names::default();
        for &dep in deps {
            let dep = dep as usize;
            let before = reuse.summaries[dep]?;
            if before.interface == interfaces[dep] {
                continue;
            }
            let (Some(new), Some(old)) = self.digests[dep].as_ref()? else { return None };
            changed.extend(&old.changed(new)?);
        }
        if changed.is_empty() {
            return Some(changed);
        }
        // The types of the items indexed again may name what changed, in any of them.
        let shapes: Vec<&[(u64, Names)]> = deps
            .iter()
            .filter(|&&dep| self.digests[dep as usize].is_some())
            .filter_map(|&dep| Some(ctx.world.get(dep)?.shape_mentions()))
            .collect();
        names::close_over_shapes(&mut changed, &shapes);
        Some(changed)
    }
}

/// A crate's indexed dependencies, transitively, nearest first, with the hash of their keys
/// and the hash of what the crate sees of them (their keys and interfaces), each key made once.
struct Deps {
    list: Vec<u32>,
    keys: String,
    interface: String,
}

impl Deps {
    fn of(ctx: &Ctx<'_>, krate: usize, interfaces: &[Option<String>]) -> Deps {
        let list = transitive_deps(ctx, krate);
        let (mut keys, mut seen) = (String::new(), String::new());
        for &dep in &list {
            let key = ctx.key_of(dep);
            keys.push_str(&key);
            keys.push('\n');
            seen.push_str(&key);
            seen.push('=');
            seen.push_str(interfaces[dep as usize].as_deref().unwrap_or("-"));
            seen.push('\n');
        }
        let fingerprint = crate::incremental::fingerprint;
        Deps { list, keys: fingerprint(&keys), interface: fingerprint(&seen) }
    }
}

/// Reads back the scopes of the reused crates that the crates of `todo` depend on, and admits
/// their items for validation.
fn load_reused_defs(
    ctx: &Ctx<'_>,
    pool: &rayon::ThreadPool,
    reuse: &Reuse<'_>,
    reusable: &[bool],
    todo: &[ToIndex],
    in_world: &mut [bool],
) -> Result<(), IndexError> {
    let mut needed: Vec<usize> = todo
        .iter()
        .flat_map(|(_, deps, _, _)| deps.list.iter())
        .map(|&dep| dep as usize)
        .filter(|&dep| !in_world[dep] && reusable[dep])
        .collect();
    needed.sort_unstable();
    needed.dedup();
    // Each crate's items are admitted on the pool as soon as it is read, in runs: a crate that
    // depends on windows-sys admits its 250,000 items, which took one thread 0.15 s after all
    // reading was done.
    const ADMIT_RUN: usize = 16 * 1024;
    let loaded: Vec<Result<CrateDefs, usize>> = pool.install(|| {
        needed
            .par_iter()
            .map(|&dep| {
                let defs = (reuse.defs)(dep).ok_or(dep)?;
                defs.id_runs(ADMIT_RUN).for_each(|ids| ctx.registry.admit(ids));
                Ok(defs)
            })
            .collect()
    });
    for defs in loaded {
        let defs = defs.map_err(|dep| IndexError::CacheMiss { krate: ctx.key_of(dep as u32) })?;
        in_world[defs.krate() as usize] = true;
        ctx.world.publish(Arc::new(defs));
    }
    Ok(())
}

/// A module whose body is a file still to be indexed.
struct FileJob<'a> {
    krate: &'a CrateInfo,
    package: &'a PackageInfo,
    cfg: &'a CfgContext,
    candidates: Vec<ModuleFile>,
    module: ChildModule,
    /// Where the module was declared (`None` for a crate root): file name and line.
    decl: Option<(String, u32)>,
    /// The files from the crate root down to the declaring file, to catch `#[path]` loops.
    ancestors: Vec<Utf8PathBuf>,
    /// Declared by a macro expansion, or under a module that was: such a module's file is often
    /// declared again, under the opposite `cfg` (see `SharedParses`).
    under_expansion: bool,
    walk: &'a Walk,
}

impl FileJob<'_> {
    fn candidate_paths(&self) -> impl Iterator<Item = &Utf8PathBuf> {
        self.candidates.iter().map(|candidate| &candidate.path)
    }
}

/// A crate's batches on their way to the writer, sent some thousands of items at a time. A send
/// per batch (one for each file, more for expansions and resolution: over 834 in a build of
/// tokio's package) woke the writer's thread each time, a futex call and often a reschedule of
/// the other core: 7% of the CPU of a package of 500 small test targets. What is left is sent
/// when the walk is dropped, at the end of its crate (one that panicked too), before any crate
/// that depends on it starts.
#[derive(Default)]
struct Unsent {
    /// The writer; `None` where nothing is written (a rerun's indexing).
    sink: Option<SyncSender<Batch>>,
    batch: Mutex<Batch>,
}

impl Unsent {
    /// How many vertices and edges are held before they are sent.
    const ITEMS: usize = 4096;

    fn to(sink: Option<SyncSender<Batch>>) -> Unsent {
        Unsent { sink, batch: Mutex::default() }
    }

    /// Holds `batch` for the writer, and sends what is held once it is `ITEMS` or more; false
    /// when the writer is gone.
    fn push(&self, mut batch: Batch) -> bool {
        let Some(sink) = &self.sink else { return true };
        let full = {
            let mut unsent = self.batch.lock().unwrap_or_else(|poison| poison.into_inner());
            if unsent.is_empty() {
                *unsent = batch;
            } else {
                unsent.append(&mut batch);
            }
            (unsent.vertices.len() + unsent.edges.len() >= Self::ITEMS).then(|| std::mem::take(&mut *unsent))
        };
        full.is_none_or(|batch| sink.send(batch).is_ok())
    }
}

impl Drop for Unsent {
    fn drop(&mut self) {
        let batch = std::mem::take(self.batch.get_mut().unwrap_or_else(|poison| poison.into_inner()));
        if let Some(sink) = &self.sink
            && !batch.is_empty()
        {
            // A writer that is gone reports why when it is joined.
            let _ = sink.send(batch);
        }
    }
}

/// What the walk of one crate gathers from all its files.
#[derive(Default)]
struct Walk {
    /// What resolution needs of each module and item, as each file or expansion gave them (one
    /// vector each, put together once the walk is done: appending to one vector copied a large
    /// crate's records at every doubling).
    records: Mutex<Vec<Vec<ItemRecord>>>,
    /// Item-position macro calls, expanded once the walk has found the crate's macros.
    sites: Mutex<Vec<PendingSite>>,
    /// Calls whose macro no round has found yet (see `index_crate`).
    deferred: Mutex<Vec<PendingSite>>,
    /// The `use` declarations and macro calls that expansions add to a module.
    module_refs: Mutex<Vec<(uuid::Uuid, parse::Refs)>>,
    /// The crate's output so far.
    output: Mutex<OutputBuilder>,
    /// Its batches not sent to the writer yet.
    unsent: Unsent,
    diagnostics: Mutex<Vec<Diagnostic>>,
    /// Every path the walk read or looked for in vain, for the next build's checks.
    inputs: Mutex<Vec<Input>>,
    /// The files `include!` read.
    included: Mutex<Vec<Utf8PathBuf>>,
    files_parsed: AtomicUsize,
    /// Macro calls whose expansion came from `cached`.
    expansions_reused: AtomicUsize,
    /// The bytes of what the crate's item-position calls made (`MAX_CRATE_EXPANSION`).
    expansion_bytes: AtomicUsize,
    /// Files that could not be read or parsed.
    files_failed: AtomicUsize,
    /// The crate root's `#![recursion_limit]` (0: none, `MAX_EXPANSION_ROUNDS` applies).
    recursion_limit: AtomicU32,
    /// The files of the crate's last build (see `Reuse::files`).
    cached: Option<FileCache>,
    /// Each file's output, by key, for the next build.
    files: Mutex<Vec<(String, Parts)>>,
    /// The files whose facts are kept until the walk is done (`SharedParses::release`).
    kept: Mutex<Vec<Utf8PathBuf>>,
    /// The expansions this walk made, encoded, by key (`expansion_key`): a call met again (in
    /// a module's twin) is read back, not expanded again.
    expanded: dashmap::DashMap<String, Bytes>,
}

impl Walk {
    /// How many rounds of expansion the crate gets: its root's `#![recursion_limit]`, or rustc's
    /// default.
    fn recursion_limit(&self) -> usize {
        match self.recursion_limit.load(Ordering::Relaxed) {
            0 => MAX_EXPANSION_ROUNDS,
            limit => limit as usize,
        }
    }

    fn keep(&self, records: Vec<ItemRecord>) {
        if !records.is_empty() {
            self.records.lock().unwrap_or_else(|poison| poison.into_inner()).push(records);
        }
    }

    /// Counts the records kept since the last call into `known`.
    fn count_in(&self, known: &mut Known) {
        let chunks = self.records.lock().unwrap_or_else(|poison| poison.into_inner());
        for chunk in chunks.get(known.seen..).unwrap_or_default() {
            known.update(chunk);
        }
        known.seen = chunks.len();
    }

    /// Every record kept, in the order they were kept.
    fn take_records(&self) -> Vec<ItemRecord> {
        let chunks = std::mem::take(&mut *self.records.lock().unwrap_or_else(|poison| poison.into_inner()));
        let mut records = Vec::with_capacity(chunks.iter().map(Vec::len).sum());
        for chunk in chunks {
            records.extend(chunk);
        }
        records
    }

    fn report(&self, diagnostic: Diagnostic) {
        self.diagnostics.lock().unwrap_or_else(|poison| poison.into_inner()).push(diagnostic);
    }

    fn input(&self, input: Input) {
        self.inputs.lock().unwrap_or_else(|poison| poison.into_inner()).push(input);
    }

    fn failed(&self, diagnostic: Diagnostic) {
        self.files_failed.fetch_add(1, Ordering::Relaxed);
        self.report(diagnostic);
    }

    /// The crate's output and summary, once it is done; `summary.interface` is the hash of
    /// `defs`.
    fn finish(self, krate: usize, defs: Option<Vec<u8>>, mut summary: UnitSummary) -> CrateOutput {
        let output = self.output.into_inner().unwrap_or_else(|poison| poison.into_inner()).finish(&mut summary);
        let mut diagnostics = self.diagnostics.into_inner().unwrap_or_else(|poison| poison.into_inner());
        diagnostics.sort();
        diagnostics.dedup();
        let mut inputs = self.inputs.into_inner().unwrap_or_else(|poison| poison.into_inner());
        inputs.sort();
        inputs.dedup();
        let mut included = self.included.into_inner().unwrap_or_else(|poison| poison.into_inner());
        included.sort();
        included.dedup();
        summary.diagnostics = diagnostics;
        summary.inputs = inputs;
        summary.included = included;
        summary.files_parsed = self.files_parsed.into_inner();
        summary.files_failed = self.files_failed.into_inner();
        let mut files = self.files.into_inner().unwrap_or_else(|poison| poison.into_inner());
        files.sort_by(|a, b| a.0.cmp(&b.0));
        files.dedup_by(|a, b| a.0 == b.0);
        let files = FileCache::encode(files, &output);
        CrateOutput {
            krate,
            output,
            defs,
            files,
            summary,
            names: None,
            previous_names: None,
            scopes_as_recorded: false,
            change: None,
            previous_output: self.cached.as_ref().map(|cached| cached.output().clone()),
        }
    }
}

/// A macro call and the file it is in.
#[derive(Clone)]
struct PendingSite {
    site: MacroSite,
    file: ModuleFile,
    file_ref: FileRef,
    /// The files from the crate root down to this one.
    ancestors: Vec<Utf8PathBuf>,
}

/// Indexes and resolves one crate; returns its output, and its scopes for the crates that depend
/// on it.
fn index_crate(
    ctx: &Ctx<'_>,
    krate_index: usize,
    indexed_deps: Deps,
    deps_changed: Option<Names>,
    cached: Option<FileCache>,
) -> (CrateOutput, Option<Arc<CrateDefs>>) {
    let krate = &ctx.workspace.crates[krate_index];
    let package = &ctx.workspace.packages[krate.package];
    let walk = Walk { cached, unsent: Unsent::to(ctx.sink.clone()), ..Walk::default() };
    let root = ChildModule::crate_root(&krate.key, &krate.crate_name);
    let root_edge = Edge::new(krate.key.id(), EdgeKind::Contains, root.key.id());
    ctx.send(&walk, Batch { vertices: Vec::new(), edges: vec![root_edge] });
    let cfg = crate_cfg(ctx, krate, package);
    if krate.kind == CrateKind::CustomBuild
        && let Some(why) = ctx.options.build_scripts.as_ref().and_then(|scripts| scripts.failed.get(&package.dir))
    {
        walk.report(Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(
                display(ctx, package, &krate.root),
                0,
                0,
                format!("the build script of `{}` did not run: {why}", package.name),
            )
        });
    }
    let job = FileJob {
        krate,
        package,
        cfg: &cfg,
        candidates: vec![ModuleFile::crate_root(krate.root.clone())],
        module: root,
        decl: None,
        ancestors: Vec::new(),
        under_expansion: false,
        walk: &walk,
    };
    ctx.progress.files_found(1);
    rayon::scope(|scope| index_file(scope, ctx, job));
    let deps: Vec<(String, u32)> = ctx.deps_of[krate_index]
        .iter()
        .map(|&to| {
            let dep = ctx.workspace.deps.iter().find(|dep| dep.from == krate_index && dep.to == to);
            let name =
                dep.and_then(|dep| dep.rename.clone()).unwrap_or_else(|| ctx.workspace.crates[to].crate_name.clone());
            (name, to as u32)
        })
        .collect();
    let dep_macros = DepMacros::new(ctx, &deps);
    let mut known = Known::default();
    // Macro calls wait until the walk has found every `macro_rules!` of the crate: a definition
    // may be in any file. Their items may declare modules, whose files are walked in turn.
    let limit = walk.recursion_limit();
    for round in 0..=limit {
        let mut pending = std::mem::take(&mut *walk.sites.lock().unwrap_or_else(|poison| poison.into_inner()));
        // Calls whose macro was not known wait until no expansion is left that could define it
        // (a macro that defines a macro); then they pass their items through.
        let last_chance = pending.is_empty();
        if last_chance {
            pending = std::mem::take(&mut *walk.deferred.lock().unwrap_or_else(|poison| poison.into_inner()));
        }
        if ctx.options.no_expand {
            // `include!` pastes a file and expands no macro: it is still followed.
            pending.retain(|site| is_include(&site.site.call));
        }
        if pending.is_empty() {
            break;
        }
        if round == limit {
            // What is still pending came from expansions nested this deep: rustc stops there too.
            for site in pending {
                let message = format!("recursion limit ({limit}) reached while expanding `{}!`", site.site.call.name());
                walk.report(Diagnostic {
                    severity: Severity::Warning,
                    ..Diagnostic::error(site.file_ref.name.to_string(), site.site.call.line, 1, message)
                });
            }
            break;
        }
        walk.count_in(&mut known);
        let expansion = Expansion::new(&known, pending, &dep_macros, last_chance);
        // Every call of the round is expanded before any is indexed, so that a round past the
        // budget is left out whole, whichever calls were expanded first.
        let outcomes: Vec<Vec<CallOutcome>> = expansion
            .groups
            .par_iter()
            .map(|group| expand_calls_of(ctx, package, &cfg, &walk, &expansion, group))
            .collect();
        if walk.expansion_bytes.load(Ordering::Relaxed) > MAX_CRATE_EXPANSION {
            if let Some(warning) = over_budget(&expansion) {
                walk.report(warning);
            }
            break;
        }
        rayon::scope(|scope| {
            for (group, outcomes) in expansion.groups.iter().zip(outcomes) {
                let expansion = &expansion;
                let (walk, cfg) = (&walk, &cfg);
                scope.spawn(move |scope| {
                    expand_group(scope, ctx, krate, package, cfg, walk, expansion, group, outcomes)
                });
            }
        });
    }

    ctx.parses.release(std::mem::take(&mut *walk.kept.lock().unwrap_or_else(|poison| poison.into_inner())));
    ctx.expansions_reused.fetch_add(walk.expansions_reused.load(Ordering::Relaxed), Ordering::Relaxed);
    walk.count_in(&mut known);
    let mut records = walk.take_records();
    let module_refs = std::mem::take(&mut *walk.module_refs.lock().unwrap_or_else(|poison| poison.into_inner()));
    let expansion = (!ctx.options.no_expand).then(|| Expansion::new(&known, Vec::new(), &dep_macros, true));
    // Both open records read back from the cache (`RecordRefs::open_mut`): a bug there costs
    // this crate what expansions add to its records, not the run.
    let merged = catch_unwind(AssertUnwindSafe(|| {
        merge_module_refs(&mut records, module_refs, &cfg);
        expand_body_macros(&walk, &cfg, expansion.as_ref(), &mut records);
    }));
    if let Err(panic) = merged {
        let root = display(ctx, package, &krate.root);
        walk.failed(Diagnostic::error(root, 0, 0, internal_error(&panic_message(&*panic))));
    }
    let Deps { list: transitive, keys: deps_keys, interface: deps_interface } = indexed_deps;
    let recursion_limit = Some(walk.recursion_limit.load(Ordering::Relaxed)).filter(|&limit| limit > 0);
    let mut summary = UnitSummary { deps_interface, deps_keys, recursion_limit, ..UnitSummary::default() };
    summary.validation.items = records.len();
    for record in &records {
        let origin = Origin { path: record.path.clone(), file: record.file.clone(), line: record.line };
        if let Err(err) = ctx.registry.register(record.id, origin) {
            ctx.validation_errors.lock().unwrap_or_else(|poison| poison.into_inner()).push(err);
        }
    }
    let input = resolve::CrateInput {
        krate: krate_index as u32,
        edition: &krate.edition,
        cfg: &cfg,
        deps,
        transitive,
        records,
    };
    // Every file's batch is in: resolution's go after them, in their own order.
    walk.output.lock().unwrap_or_else(|poison| poison.into_inner()).sort_batches();
    // A bug in resolution costs this crate its resolved edges, not the run: its items are written,
    // the crates that depend on it see it as outside the indexed set, and the file is reported.
    let resolved = catch_unwind(AssertUnwindSafe(|| {
        let mut scoped = resolve::scope_crate(input, &ctx.world);
        let (defs, keyed) = scoped.defs_bytes_with(|krate| ctx.key_of(krate), resolved::keyed);
        let interface = crate::incremental::hash(&defs);
        let digest = scoped.defs.name_digest(&ctx.world, &|krate| ctx.key_of(krate));
        let names_now = resolved::NamesNow { digest: &digest, deps_changed: deps_changed.as_ref() };
        resolved::send_resolved(ctx, &walk, &scoped, &interface, names_now, keyed, &mut summary);
        if !ctx.has_dependents[krate_index] {
            summary.mentions = Some(names::mentions(&scoped.defs, scoped.refs()));
        }
        (scoped.into_defs(), defs, interface, digest)
    }));
    let previous_names = walk.cached.as_ref().and_then(|cached| cached.recorded_names().cloned());
    match resolved {
        Ok((scoped, defs, interface, digest)) => {
            summary.interface = Some(interface);
            let mut output = walk.finish(krate_index, Some(defs), summary);
            (output.names, output.previous_names) = (Some(digest), previous_names);
            (output, Some(scoped))
        }
        Err(panic) => {
            let root = display(ctx, package, &krate.root);
            let message =
                format!("internal error while resolving names (please report it): {}", panic_message(&*panic));
            walk.failed(Diagnostic::error(root, 0, 0, message));
            (walk.finish(krate_index, None, summary), None)
        }
    }
}

/// What `cfg` means in a crate.
fn crate_cfg(ctx: &Ctx<'_>, krate: &CrateInfo, package: &PackageInfo) -> CfgContext {
    // Test and bench targets are compiled with `--test`: `cfg(test)` holds in them.
    let test_target = matches!(krate.kind, CrateKind::Test | CrateKind::Bench);
    let cfg = CfgContext::new(
        ctx.workspace.target.clone(),
        package.features.clone(),
        ctx.options.cfg_test || test_target,
        krate.kind == CrateKind::ProcMacro,
    );
    let script = ctx.options.build_scripts.as_ref().and_then(|scripts| scripts.of(&package.dir));
    match script {
        Some(script) => cfg.with_build_script_cfgs(&script.cfgs),
        None => cfg,
    }
}

/// A crate's indexed dependencies, transitively, nearest first.
fn transitive_deps(ctx: &Ctx<'_>, krate: usize) -> Vec<u32> {
    let mut seen = vec![false; ctx.workspace.crates.len()];
    seen[krate] = true;
    let mut order = vec![krate];
    let mut next = 0;
    while next < order.len() {
        for &dep in &ctx.deps_of[order[next]] {
            if !seen[dep] {
                seen[dep] = true;
                order.push(dep);
            }
        }
        next += 1;
    }
    order.into_iter().skip(1).filter(|&k| ctx.workspace.crates[k].indexed).map(|k| k as u32).collect()
}

fn index_file<'s>(scope: &rayon::Scope<'s>, ctx: &'s Ctx<'s>, job: FileJob<'s>) {
    // Panics in parsing are contained in `index_file_contained`; this one is for anything else,
    // so that a bug costs one file, not the run.
    let children = match catch_unwind(AssertUnwindSafe(|| index_file_contained(ctx, &job))) {
        Ok(children) => children,
        Err(panic) => {
            let message = panic_message(&*panic);
            let file = job.candidates.first().map(|c| display(ctx, job.package, &c.path)).unwrap_or_default();
            job.walk.failed(Diagnostic::error(file, 0, 0, internal_error(&message)));
            Vec::new()
        }
    };
    // Spans of this file are no longer needed: free proc-macro2's per-thread source map, which
    // would otherwise hold every file this thread ever parsed.
    proc_macro2::extra::invalidate_current_thread_spans();
    ctx.progress.files_found(children.len());
    ctx.progress.file_done();
    ctx.parses.will_read(children.iter().flat_map(FileJob::candidate_paths));
    for child in children {
        scope.spawn(move |scope| index_file(scope, ctx, child));
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

fn display(ctx: &Ctx<'_>, package: &PackageInfo, path: &Utf8Path) -> String {
    ctx.workspace.display_path(package, path)
}

/// Indexes one file and returns the jobs for its child modules' files.
fn index_file_contained<'a>(ctx: &Ctx<'_>, job: &FileJob<'a>) -> Vec<FileJob<'a>> {
    let mut batch = Batch::default();
    let module = &job.module;
    let module_id = module.key.id();
    let mut props = Props::new();
    props.insert("name", Value::from(module.name.as_str()));
    props.insert("path", Value::from(module.path.as_str()));
    props.insert("visibility", Value::from(module.visibility.as_str()));
    props.insert("active", Value::from(module.active));
    if let Some(cfg) = &module.cfg {
        props.insert("cfg", Value::from(cfg.as_str()));
    }
    let diagnostic_at_decl = |severity, message: String| match &job.decl {
        Some((file, line)) => Diagnostic { file: file.clone(), line: *line, column: 0, severity, message },
        None => Diagnostic { file: display(ctx, job.package, &job.krate.root), line: 0, column: 0, severity, message },
    };

    // The module's record for resolution; its file's references are added once parsed.
    let mut record = ItemRecord {
        id: module_id,
        kind: VertexKind::Module,
        name: module.name.clone(),
        path: module.path.clone(),
        parent: module.parent,
        visibility: module.visibility.clone(),
        active: module.active,
        file: Arc::from(job.decl.as_ref().map_or("", |(file, _)| file.as_str())),
        line: module.decl_line,
        shape: Shape::None,
        refs: RecordRefs::default(),
    };
    let keep = |record: ItemRecord| job.walk.keep(vec![record]);

    // Ends the file when it cannot be indexed (see `abandon`).
    let give_up = |batch: Batch, props: Props, why: Diagnostic| {
        keep(ItemRecord { refs: RecordRefs::default(), ..clone_record(&record) });
        abandon(ctx, job.walk, batch, module_id, props, module.doc.clone(), why)
    };

    let lookup = modules::lookup(&job.candidates);
    let found = match &lookup {
        modules::Lookup::Found(found) | modules::Lookup::Ambiguous { found, .. } => Some(*found),
        modules::Lookup::Unusable { candidate, .. } => Some(*candidate),
        modules::Lookup::Missing => None,
    };
    // The candidates looked for in vain: one of them appearing would change the graph.
    {
        let absent = job.candidates.iter().take_while(|candidate| Some(*candidate) != found);
        let mut inputs = job.walk.inputs.lock().unwrap_or_else(|poison| poison.into_inner());
        inputs.extend(absent.map(|candidate| Input::absent(candidate.path.clone())));
    }
    let Some(file) = found else {
        let tried: Vec<String> =
            job.candidates.iter().map(|c| format!("`{}`", display(ctx, job.package, &c.path))).collect();
        let (severity, what) = match job.decl {
            Some(_) => (Severity::Warning, format!("file not found for module `{}`", module.name)),
            None => (Severity::Error, format!("crate root of `{}` not found", job.krate.name)),
        };
        if severity == Severity::Error {
            job.walk.files_failed.fetch_add(1, Ordering::Relaxed);
        }
        // A module that is not compiled in this configuration may well have no file here.
        if module.active {
            job.walk.report(diagnostic_at_decl(severity, format!("{what} (looked for {})", tried.join(", "))));
        }
        finish_module(&mut batch, module_id, props, module.doc.clone());
        ctx.send(job.walk, batch);
        keep(record);
        return Vec::new();
    };
    match lookup {
        modules::Lookup::Unusable { why, .. } => {
            // Looked at again by the next build (`Input::unchanged`), as a path that held no file.
            job.walk.input(Input::absent(file.path.clone()));
            let what =
                format!("the file of module `{}`, `{}`, {why}", module.path, display(ctx, job.package, &file.path));
            give_up(batch, props, diagnostic_at_decl(Severity::Error, what));
            return Vec::new();
        }
        modules::Lookup::Ambiguous { found, other } => {
            // Which one is indexed depends on both.
            if let Ok(bytes) = std::fs::read(&other.path) {
                job.walk.input(Input::read(other.path.clone(), &bytes));
            }
            job.walk.failed(diagnostic_at_decl(
                Severity::Error,
                format!(
                    "file for module `{}` found at both `{}` and `{}` (rustc's E0761): `{}` is indexed",
                    module.name,
                    display(ctx, job.package, &found.path),
                    display(ctx, job.package, &other.path),
                    display(ctx, job.package, &found.path),
                ),
            ));
        }
        modules::Lookup::Found(_) | modules::Lookup::Missing => {}
    }
    // Symlinks can make one file appear under ever longer paths: loops are found on real paths.
    let real_path = std::fs::canonicalize(&file.path)
        .ok()
        .and_then(|real| Utf8PathBuf::from_path_buf(real).ok())
        .unwrap_or_else(|| file.path.clone());
    if job.ancestors.contains(&real_path) || job.ancestors.len() >= MAX_MODULE_DEPTH {
        give_up(
            batch,
            props,
            diagnostic_at_decl(
                Severity::Error,
                format!("module `{}` includes `{}` inside itself", module.path, display(ctx, job.package, &file.path)),
            ),
        );
        return Vec::new();
    }

    let name = display(ctx, job.package, &file.path);
    let file_id = job.package.file_key(&file.path).id();
    let mut file_props = Props::new();
    file_props.insert("name", Value::from(file.path.file_name().unwrap_or_default()));
    file_props.insert("path", Value::from(name.as_str()));
    batch.vertices.push(Vertex { id: file_id, kind: VertexKind::File, props: file_props });
    batch.edges.push(Edge::new(module_id, EdgeKind::DefinedIn, file_id));
    props.insert("file", Value::from(name.as_str()));

    let read = read_source(&file.path);
    let input = match &read {
        Ok(source) => Input::read_stamped(file.path.clone(), &source.bytes, source.stamp),
        // Unreadable now, so never taken for unchanged; too large, as long as its stamp holds.
        Err(not_read) => Input::unread(file.path.clone(), not_read.stamp),
    };
    let content_hash = input.hash.clone().unwrap_or_default();
    job.walk.input(input);
    let text = match read {
        Ok(Source { bytes, bad: None, .. }) => String::from_utf8(bytes).unwrap_or_default(),
        Ok(Source { bytes, bad: Some(bad), .. }) => {
            // rustc refuses the file; its items are indexed all the same.
            job.walk.failed(Diagnostic::error(
                name.clone(),
                bad.line,
                bad.column,
                "the file is not valid UTF-8 (rustc refuses it): indexed with the bad bytes replaced by U+FFFD"
                    .to_owned(),
            ));
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Err(NotRead { why, .. }) => {
            give_up(batch, props, Diagnostic::error(name, 0, 0, why));
            return Vec::new();
        }
    };
    if job.decl.is_none()
        && let Some(limit) = parse::recursion_limit(&text, |predicate| job.cfg.eval(predicate))
    {
        // Read whether the file comes from the cache or is parsed: it decides the rounds below.
        job.walk.recursion_limit.store(limit, Ordering::Relaxed);
    }
    let mut ancestors = job.ancestors.clone();
    ancestors.push(real_path);
    let key = format!("{}{content_hash}", file_context(&file.path, &job.module, &job.decl));
    if let Some(cached) = &job.walk.cached
        && let Some(entry) = cached.get(&key)
        && let Some((kept, pieces)) = read_back(FileOutput::decode(entry), "a file's cache entry")
    {
        // The batch's bytes, shared by the crate's output and the file's next cached entry (and
        // with the recorded ones: not copied).
        let batch_bytes = cached.share(pieces.batch);
        let parts = cached.entry_parts(pieces, batch_bytes.clone());
        job.walk.files.lock().unwrap_or_else(|poison| poison.into_inner()).push((key, parts));
        job.walk.files_parsed.fetch_add(1, Ordering::Relaxed);
        let FileOutput { keys, records, sites, children, origin: _ } = kept;
        ctx.send_reused(job.walk, &keys, batch_bytes);
        job.walk.keep(records);
        return file_done(job, file, &file_ref_of(file_id, &name), &name, sites, children, &ancestors);
    }
    // syn and our extraction are where a panic could come from: one is contained here, where the
    // module and file vertices can still be sent (the parent already sent an edge to the module).
    let module_ref = ModuleRef {
        key: &module.key,
        id: module_id,
        path: &module.path,
        crate_name: &job.krate.crate_name,
        inline_dirs: &[],
        // Replaced below once the file's own `#![cfg]` is known.
        active: module.active,
        cfg: job.cfg,
        taken: None,
    };
    let file_ref = file_ref_of(file_id, &name);
    // Assembled on the stack the file was parsed on: the facts nest as deep as the file.
    let mut parsed_now = false;
    let contents = catch_unwind(AssertUnwindSafe(|| {
        let walk_kept = job.under_expansion.then_some(&job.walk.kept);
        ctx.parses.parse_then(&file.path, &content_hash, &text, walk_kept, &mut parsed_now, |facts| {
            facts.map(|facts| {
                let mut out = BodyOut::default();
                let active = module.active && job.cfg.allows(facts.cfg.as_deref());
                let module_ref = ModuleRef { active, ..module_ref };
                let duplicates = assemble::duplicates(&facts.items, job.cfg, &module.path, active);
                assemble::module_body(&file_ref, &module_ref, facts.items, &mut out);
                out.sites.extend(facts.macro_calls.into_iter().map(|call| MacroSite::new(&module_ref, call)));
                (facts.line_count, facts.hash, facts.doc, facts.cfg, facts.refs, active, (facts.lost, duplicates), out)
            })
        })
    }));
    let (line_count, hash, inner_doc, inner_cfg, refs, active, (lost, duplicates), out) = match contents {
        Ok(Ok(contents)) => contents,
        Ok(Err(err)) => {
            give_up(batch, props, Diagnostic::error(name, err.line, err.column, err.message));
            return Vec::new();
        }
        Err(panic) => {
            give_up(batch, props, Diagnostic::error(name, 0, 0, internal_error(&panic_message(&*panic))));
            return Vec::new();
        }
    };
    job.walk.files_parsed.fetch_add(1, Ordering::Relaxed);
    if parsed_now {
        ctx.parsed_paths.lock().unwrap_or_else(|poison| poison.into_inner()).push(file.path.clone());
    }
    if !lost.is_empty() || !duplicates.is_empty() {
        job.walk.files_failed.fetch_add(1, Ordering::Relaxed);
    }
    for assemble::Duplicate { module, name: item, kind, line, first: (first_kind, first_line) } in &duplicates {
        // rustc refuses the crate; both definitions are indexed (the second one's id
        // disambiguated), so that nothing of the file is lost.
        job.walk.report(Diagnostic::error(
            name.clone(),
            *line,
            0,
            format!(
                "`{item}` is defined more than once in module `{module}` (rustc's E0428): this {} and the {} at line \
                 {first_line}; both are indexed",
                kind.as_str(),
                first_kind.as_str(),
            ),
        ));
    }
    for lost in &lost {
        job.walk.report(lost_items(&name, lost));
    }

    props.insert("line", Value::from(1));
    props.insert("end_line", Value::from(line_count.max(1)));
    props.insert("active", Value::from(active));
    props.insert("hash", Value::from(assemble::hash_text(hash)));
    if let Some(inner) = inner_cfg {
        let cfg = match &module.cfg {
            Some(outer) => format!("{outer}, {inner}"),
            None => inner,
        };
        props.insert("cfg", Value::from(cfg));
    }
    let doc = match (&module.doc, inner_doc) {
        (Some(outer), Some(inner)) => Some(format!("{outer}\n{inner}")),
        (outer, inner) => outer.clone().or(inner),
    };
    let BodyOut { batch: mut body, mut records, children, sites } = out;
    finish_module(&mut batch, module_id, props, doc);
    batch.append(&mut body);
    let mut refs = refs;
    assemble::keep_compiled_calls(&mut refs, job.cfg);
    record.refs = refs.into();
    record.active = active;
    records.push(record);
    // The batch is encoded once, for the file's output and the crate's.
    let batch_bytes = encode_batch(&batch);
    // A file with lost items or duplicate definitions is not kept for reuse: its diagnostics are
    // made by parsing it.
    if lost.is_empty() && duplicates.is_empty() {
        let origin = (job.candidates.as_slice(), &job.module, &job.decl, job.ancestors.as_slice());
        let encoded =
            FileOutputRef { records: &records, sites: &sites, children: &children, origin }.encode(batch_bytes.clone());
        job.walk.files.lock().unwrap_or_else(|poison| poison.into_inner()).push((key, encoded));
    }
    ctx.send_encoded(job.walk, batch, batch_bytes);
    job.walk.keep(records);
    file_done(job, file, &file_ref, &name, sites, children, &ancestors)
}

/// A file reached more than once in a build is parsed once. A package's test, bench and example
/// targets share modules (`#[path = "support/mod.rs"] mod support;` in each of tokio's test
/// targets), and parsing them again for every target made a target's cost grow with what it
/// shares. A crate may declare one module's file twice, under opposite `cfg`s, most often through
/// macros (`cfg_sync! { mod mutex; }` and `cfg_not_sync! { cfg_fs! { mod mutex; } }`, one round of
/// expansion apart): the 380 files of tokio's library took 598 parses.
///
/// A path that was parsed before, or that two walk jobs will read (`will_read`), keeps its facts
/// (by content hash) for the rest of the build. A file of a module declared by an expansion, or
/// under one, keeps them until its crate's walk is done (`release`). Any other file keeps
/// nothing, so memory grows with the shared files only. Facts are a function of the text alone,
/// so a copy is what a parse would give.
#[derive(Default)]
struct SharedParses {
    seen: dashmap::DashMap<Utf8PathBuf, Seen>,
}

/// What a build knows of one path (`SharedParses`).
enum Seen {
    /// One walk job will read it; it was not parsed yet.
    Awaited,
    /// Parsed before with nothing kept, or more than one read is expected: its next parse keeps
    /// its facts.
    Again,
    /// Parsed, its facts kept with their content hash: for the rest of the build when `lasting`,
    /// else until the walk that parsed it is done.
    Kept { hash: String, facts: Arc<Parsed>, lasting: bool },
    /// Parsed before any walk looked for it (`read_ahead`): its facts and their content hash, for
    /// the first walk job that reads it to take; `None` while the parse is under way.
    Ahead(Option<Box<(String, Parsed)>>),
}

type Parsed = Result<parse::FileFacts, parse::SyntaxError>;

/// What `parse_then` found of a path's earlier parse.
enum Found {
    Kept(Arc<Parsed>),
    /// With the content hash it was read ahead with.
    Ahead(Box<(String, Parsed)>),
}

impl SharedParses {
    /// Marks `path` as one this build may parse again: its next parse keeps its facts.
    fn expect_again(&self, path: &Utf8Path) {
        let mut seen = self.seen.entry(path.to_owned()).or_insert(Seen::Again);
        if let Seen::Awaited = *seen {
            *seen = Seen::Again;
        }
    }

    /// Notes the files walk jobs will look for, all of a batch's before any is read: a path
    /// that two jobs will read (of one batch, or one of it and an earlier one) is parsed once.
    fn will_read<'p>(&self, paths: impl IntoIterator<Item = &'p Utf8PathBuf>) {
        for path in paths {
            match self.seen.entry(path.clone()) {
                dashmap::Entry::Vacant(slot) => {
                    slot.insert(Seen::Awaited);
                }
                dashmap::Entry::Occupied(mut slot) => {
                    if let Seen::Awaited = slot.get() {
                        slot.insert(Seen::Again);
                    }
                }
            }
        }
    }

    /// `then` on the facts of `text`, the file at `path` whose content hash is `hash`: a copy of
    /// kept facts, or a parse (`parsed_now` set), kept when the path is read more than once, or,
    /// until `release`, when `walk_kept` is given (the path is added to it). Facts of a file that
    /// nests deeper than a worker's stack allows are never kept: they are parsed, used and
    /// dropped on a grown stack (`parse::parse_file_then_deep`).
    fn parse_then<R>(
        &self,
        path: &Utf8Path,
        hash: &str,
        text: &str,
        walk_kept: Option<&Mutex<Vec<Utf8PathBuf>>>,
        parsed_now: &mut bool,
        then: impl FnOnce(Parsed) -> R,
    ) -> R {
        let found = self.seen.get_mut(path).and_then(|mut seen| match &mut *seen {
            Seen::Kept { hash: kept_hash, facts, .. } if kept_hash == hash => Some(Found::Kept(Arc::clone(facts))),
            Seen::Ahead(ahead @ Some(_)) => {
                let ahead = ahead.take();
                // A first reader, as far as what is kept goes (`note_parsed`).
                *seen = Seen::Awaited;
                ahead.filter(|ahead| ahead.0 == hash).map(Found::Ahead)
            }
            _ => None,
        });
        match found {
            Some(Found::Kept(facts)) => then((*facts).clone()),
            Some(Found::Ahead(ahead)) => {
                let (_, facts) = *ahead;
                *parsed_now = true;
                self.note_parsed(path, hash, &facts, walk_kept, false);
                then(facts)
            }
            None => {
                *parsed_now = true;
                parse::parse_file_then_deep(text, |facts, deep| {
                    self.note_parsed(path, hash, &facts, walk_kept, deep);
                    then(facts)
                })
            }
        }
    }

    /// Notes that `path` was parsed into `facts`, and keeps them as `parse_then` says.
    fn note_parsed(
        &self,
        path: &Utf8Path,
        hash: &str,
        facts: &Parsed,
        walk_kept: Option<&Mutex<Vec<Utf8PathBuf>>>,
        deep: bool,
    ) {
        let keep = |lasting| Seen::Kept { hash: hash.to_owned(), facts: Arc::new(facts.clone()), lasting };
        let mut seen = self.seen.entry(path.to_owned()).or_insert(Seen::Awaited);
        // A parse ahead still under way is dropped when it ends (`read_ahead`).
        match (&*seen, walk_kept) {
            (_, _) if deep => {
                if let Seen::Awaited | Seen::Ahead(_) = *seen {
                    *seen = Seen::Again;
                }
            }
            (Seen::Awaited | Seen::Ahead(_), Some(walk_kept)) => {
                *seen = keep(false);
                walk_kept.lock().unwrap_or_else(|poison| poison.into_inner()).push(path.to_owned());
            }
            (Seen::Awaited | Seen::Ahead(_), None) => *seen = Seen::Again,
            (Seen::Again | Seen::Kept { .. }, _) => *seen = keep(true),
        }
    }

    /// Parses the file at `path` before any walk job looks for it, for the first one that reads
    /// it to take (`parse_then`): a waiting crate's root, on a core nothing else wants. Nothing
    /// is kept when a walk job got to the path first (it parses the file itself), nor for a file
    /// that is not there, not UTF-8, or nests deeper than a worker's stack allows: its walk job
    /// reads it and reports it as usual.
    fn read_ahead(&self, path: &Utf8Path) {
        match self.seen.entry(path.to_owned()) {
            dashmap::Entry::Vacant(slot) => {
                slot.insert(Seen::Ahead(None));
            }
            dashmap::Entry::Occupied(_) => return,
        }
        let parsed = match read_source(path) {
            Ok(Source { bytes, bad: None, .. }) => {
                let hash = crate::incremental::hash(&bytes);
                let text = String::from_utf8(bytes).unwrap_or_default();
                // A panic is left to the walk job, which parses the file again and reports it.
                catch_unwind(AssertUnwindSafe(|| {
                    parse::parse_file_then_deep(&text, |facts, deep| (!deep).then_some(facts))
                }))
                .ok()
                .flatten()
                .map(|facts| Box::new((hash, facts)))
            }
            _ => None,
        };
        match parsed {
            Some(parsed) => {
                if let Some(mut seen) = self.seen.get_mut(path)
                    && let Seen::Ahead(ahead @ None) = &mut *seen
                {
                    *ahead = Some(parsed);
                }
            }
            None => {
                self.seen.remove_if(path, |_, seen| matches!(seen, Seen::Ahead(None)));
            }
        }
    }

    /// Drops the facts kept for a walk that is done (`paths`, its `walk_kept`); those that
    /// became lasting stay.
    fn release(&self, paths: Vec<Utf8PathBuf>) {
        for path in paths {
            if let Some(mut seen) = self.seen.get_mut(&path)
                && let Seen::Kept { lasting: false, .. } = *seen
            {
                *seen = Seen::Again;
            }
        }
    }
}

/// Where a file stops being UTF-8, 1-based.
struct NotUtf8 {
    line: u32,
    column: u32,
}

/// A source file's bytes, where they are not UTF-8, and its stamp (`Stamp::settled`).
struct Source {
    bytes: Vec<u8>,
    bad: Option<NotUtf8>,
    stamp: Option<Stamp>,
}

/// Why a file was not read, and its stamp when it is there but larger than `MAX_FILE_SIZE`
/// (`Input::unread`).
struct NotRead {
    why: String,
    stamp: Option<Stamp>,
}

impl NotRead {
    fn because(why: String) -> NotRead {
        NotRead { why, stamp: None }
    }
}

/// A module file's bytes, and where they stop being UTF-8 if they do; or why they could not be
/// read (too large, or the operating system's reason).
fn read_source(path: &Utf8Path) -> Result<Source, NotRead> {
    use std::io::Read;
    let failed = |err: std::io::Error| NotRead::because(format!("failed to read: {err}"));
    let file = std::fs::File::open(path).map_err(failed)?;
    // Looked at before the file is read: a write meanwhile moves its times past the stamp.
    let metadata = file.metadata().ok();
    let stamp = metadata.as_ref().and_then(Stamp::settled);
    let size = metadata.map_or(0, |metadata| metadata.len());
    if size > MAX_FILE_SIZE {
        let why = format!("not read: {size} bytes is larger than the limit of {MAX_FILE_SIZE} bytes");
        return Err(NotRead { why, stamp });
    }
    // Read no more than the limit even if the file grows meanwhile.
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(MAX_FILE_SIZE + 1).read_to_end(&mut bytes).map_err(failed)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(NotRead::because(format!("not read: larger than the limit of {MAX_FILE_SIZE} bytes")));
    }
    let bad = std::str::from_utf8(&bytes).err().map(|err| {
        let before = &bytes[..err.valid_up_to()];
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |newline| newline + 1);
        NotUtf8 {
            line: before.iter().filter(|&&b| b == b'\n').count() as u32 + 1,
            column: String::from_utf8_lossy(&before[line_start..]).chars().count() as u32 + 1,
        }
    });
    Ok(Source { bytes, bad, stamp })
}

/// An `include!`d file, as `read_source` reads a module's: never opened unless it is a regular
/// file (a FIFO would block the build, `/dev/zero` would fill memory), and no larger than
/// `MAX_FILE_SIZE`.
fn read_included(path: &Utf8Path) -> Result<Source, NotRead> {
    match std::fs::metadata(path) {
        Ok(metadata) if !metadata.is_file() => {
            Err(NotRead::because("not read: not a regular file (a folder, a device, a FIFO or a socket)".to_owned()))
        }
        Ok(_) => read_source(path),
        Err(err) => Err(NotRead::because(format!("failed to read: {err}"))),
    }
}

/// The error for top-level items of the file `name` that did not parse.
fn lost_items(name: &str, lost: &parse::LostItems) -> Diagnostic {
    let parse::LostItems { line, end_line, error } = lost;
    let message = format!("{} (lines {line}-{end_line} are not indexed; the rest of the file is)", error.message);
    Diagnostic::error(name.to_owned(), error.line, error.column, message)
}

fn file_ref_of(id: uuid::Uuid, name: &str) -> FileRef {
    FileRef { id, name: Arc::from(name) }
}

/// Queues a file's macro calls and returns the jobs for its child modules' files.
fn file_done<'a>(
    job: &FileJob<'a>,
    file: &ModuleFile,
    file_ref: &FileRef,
    name: &str,
    sites: Vec<MacroSite>,
    children: Vec<ChildModule>,
    ancestors: &[Utf8PathBuf],
) -> Vec<FileJob<'a>> {
    if !sites.is_empty() {
        let pending = sites.into_iter().map(|site| PendingSite {
            site,
            file: file.clone(),
            file_ref: file_ref.clone(),
            ancestors: ancestors.to_vec(),
        });
        job.walk.sites.lock().unwrap_or_else(|poison| poison.into_inner()).extend(pending);
    }
    child_jobs(job.krate, job.package, job.cfg, job.walk, file, name, children, ancestors, job.under_expansion)
}

/// The first part of a file's key in its crate's cache, before the hash of its text: everything
/// the file's output depends on besides the crate's fingerprint (which `Reuse` checked) and the
/// text. `path` is the file the walk found for `module`, declared at `decl`.
fn file_context(path: &Utf8Path, module: &ChildModule, decl: &Option<(String, u32)>) -> String {
    crate::incremental::hash(format!("{path}\n{module:?}\n{decl:?}").as_bytes())
}

/// The jobs that index the files of `mod x;` declarations found in `file`.
#[expect(clippy::too_many_arguments, reason = "a file job's context, spelled out")]
fn child_jobs<'a>(
    krate: &'a CrateInfo,
    package: &'a PackageInfo,
    cfg: &'a CfgContext,
    walk: &'a Walk,
    file: &ModuleFile,
    name: &str,
    children: Vec<ChildModule>,
    ancestors: &[Utf8PathBuf],
    under_expansion: bool,
) -> Vec<FileJob<'a>> {
    children
        .into_iter()
        .map(|child| {
            let (cfg_paths, inactive_cfg_paths): (Vec<_>, Vec<_>) =
                child.cfg_path_attrs.iter().partition(|(predicate, _)| cfg.eval(predicate));
            let paths = |pairs: Vec<&(String, String)>| -> Vec<String> {
                pairs.into_iter().map(|(_, path)| path.clone()).collect()
            };
            let candidates = modules::candidates(
                file,
                ModDecl {
                    name: &child.name,
                    path_attr: child.path_attr.as_deref(),
                    cfg_paths: &paths(cfg_paths),
                    inactive_cfg_paths: &paths(inactive_cfg_paths),
                    inline_dirs: &child.inline_dirs,
                },
            );
            FileJob {
                krate,
                package,
                cfg,
                candidates,
                decl: Some((name.to_owned(), child.decl_line)),
                module: child,
                ancestors: ancestors.to_vec(),
                under_expansion,
                walk,
            }
        })
        .collect()
}

/// The macro calls of one round, grouped by module, and the crate's `macro_rules!` definitions.
struct Expansion<'d> {
    /// Sites of one module together, in line order: their items are disambiguated together.
    groups: Vec<Vec<PendingSite>>,
    /// The crate's definitions and the ids its modules' items have, as of this round.
    known: &'d Known,
    deps: &'d DepMacros<'d>,
    /// The last round for calls whose macro is not known: they pass their items through rather
    /// than wait.
    last_chance: bool,
}

/// The `#[macro_export]` macros of a crate's indexed dependencies, by the name the crate uses for
/// each dependency (sorted, for a deterministic pick when two export one name). Names and
/// definitions are borrowed from the dependencies' published `CrateDefs`: each of a library's
/// test targets copied them all (tokio's `select!` alone is a thousand lines).
#[derive(Default)]
struct DepMacros<'w> {
    by_dep: Vec<(String, HashMap<&'w str, &'w str>)>,
}

impl<'w> DepMacros<'w> {
    fn new(ctx: &'w Ctx<'_>, deps: &[(String, u32)]) -> DepMacros<'w> {
        let mut by_dep: Vec<(String, HashMap<&'w str, &'w str>)> = deps
            .iter()
            .filter_map(|(name, krate)| {
                let defs = ctx.world.get(*krate)?;
                let macros: HashMap<&'w str, &'w str> = defs.exported_macros().collect();
                (!macros.is_empty()).then(|| (name.clone(), macros))
            })
            .collect();
        by_dep.sort_by(|a, b| a.0.cmp(&b.0));
        DepMacros { by_dep }
    }

    /// `name` as `dep` exports it, or as the first dependency that exports it when `dep` is `None`.
    fn find(&self, dep: Option<&str>, name: &str) -> Option<(&str, &'w str)> {
        self.by_dep
            .iter()
            .filter(|(krate, _)| dep.is_none_or(|dep| dep == krate))
            .find_map(|(krate, macros)| macros.get(name).map(|&text| (krate.as_str(), text)))
    }
}

/// A `macro_rules!` definition of the crate, and where it is.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct MacroDef {
    /// The defining module's path.
    module: String,
    file: Arc<str>,
    line: u32,
    text: String,
    /// Whether the definition is compiled: an inactive one (in a module `cfg`'d out for the
    /// target) serves only calls that are inactive too, so that the code of another platform
    /// expands with its own macros rather than failing on this one's.
    active: bool,
}

/// A `use` declaration as macro lookup reads it: the name it binds (`None` for a glob) and its
/// path as written.
type Import = (Option<String>, Vec<String>);

/// What expansion needs to know of the records a crate has so far: its `macro_rules!`
/// definitions, its modules' `use` declarations, and the ids each module's (or impl's, or
/// trait's) items have. Kept across rounds
/// and brought up to date with the records added since the last round only, so that a round's
/// serial work is proportional to what the previous round made, not to the crate.
#[derive(Default)]
struct Known {
    /// Definitions by name, sorted by (module path, file, line).
    definitions: HashMap<String, Vec<MacroDef>>,
    /// The ids the items of each module (or impl, or trait) already have. Every record is
    /// counted in, a rerun's whole crate at once before its first round: Fx, not SipHash.
    taken: rustc_hash::FxHashMap<uuid::Uuid, rustc_hash::FxHashSet<uuid::Uuid>>,
    /// By module path, its `use` declarations: the name each binds (`None` for a glob) and its
    /// path as written (`stdx::impl_from`, `self::macros`). A set, so that which round brought a
    /// declaration in does not change which is first.
    imports: HashMap<String, BTreeSet<Import>>,
    /// How many of the walk's vectors of records are counted in (`Walk::count_in`).
    seen: usize,
}

impl Known {
    /// Counts in `records`, ones not counted before (the walk only ever adds). Whatever order
    /// the new records come in, the result is the same: definitions are kept sorted and ids are
    /// a set.
    fn update(&mut self, records: &[ItemRecord]) {
        let mut changed = HashSet::new();
        for record in records {
            if let Some(parent) = record.parent {
                self.taken.entry(parent).or_default().insert(record.id);
            }
            if record.kind == VertexKind::Module && !record.refs.uses().is_empty() {
                let imports = self.imports.entry(record.path.clone()).or_default();
                for import in record.refs.uses() {
                    imports.insert((import.name.clone(), import.path.segments.clone()));
                }
            }
            if let Shape::MacroRules { definition } = &record.shape {
                let module = record.path.rsplit_once("::").map_or("", |(module, _)| module);
                self.definitions.entry(record.name.clone()).or_default().push(MacroDef {
                    module: module.to_owned(),
                    file: record.file.clone(),
                    line: record.line,
                    text: definition.clone(),
                    active: record.active,
                });
                changed.insert(record.name.clone());
            }
        }
        for name in changed {
            if let Some(found) = self.definitions.get_mut(&name) {
                found.sort();
            }
        }
    }
}

impl<'d> Expansion<'d> {
    fn new(
        known: &'d Known,
        mut pending: Vec<PendingSite>,
        deps: &'d DepMacros<'d>,
        last_chance: bool,
    ) -> Expansion<'d> {
        // Calls among an impl's or a trait's members are grouped by that container.
        let container = |site: &PendingSite| site.site.container.as_ref().map(|c| (c.path.clone(), c.id));
        pending.sort_by_cached_key(|site| {
            (site.site.module_path.clone(), site.site.module_id, container(site), site.site.call.line)
        });
        let mut groups: Vec<Vec<PendingSite>> = Vec::new();
        for site in pending {
            match groups.last_mut() {
                Some(group)
                    if group[0].site.module_id == site.site.module_id
                        && container(&group[0]).map(|c| c.1) == container(&site).map(|c| c.1) =>
                {
                    group.push(site)
                }
                _ => groups.push(vec![site]),
            }
        }
        Expansion { groups, known, deps, last_chance }
    }

    /// The definition a call in `module` (in `file`, at `line`) uses, as textual scoping picks
    /// it: of those in the nearest enclosing module, the last one above the call in its file
    /// (a macro may be defined again further down), else the first of that module. `None` when
    /// no enclosing module defines it (see `anywhere`).
    fn local(&self, name: &str, module: &str, file: &str, line: u32, active: bool) -> Option<&str> {
        let encloses =
            |outer: &str| module == outer || (module.starts_with(outer) && module[outer.len()..].starts_with("::"));
        let depth = self.visible(name, active).filter(|def| encloses(&def.module)).map(|def| def.module.len()).max()?;
        let candidates = || self.visible(name, active).filter(|def| def.module.len() == depth && encloses(&def.module));
        candidates()
            .filter(|def| &*def.file == file && def.line <= line)
            .max_by_key(|def| def.line)
            .or_else(|| candidates().next())
            .map(|def| def.text.as_str())
    }

    /// The first definition of `name` anywhere in the crate (a `#[macro_use]` module, or a
    /// definition an expansion made elsewhere).
    fn anywhere(&self, name: &str, active: bool) -> Option<&str> {
        self.visible(name, active).next().map(|def| def.text.as_str())
    }

    /// The crate's definitions of `name` a call sees: of those `cfg`'d out, only an inactive
    /// call sees any.
    fn visible<'s>(&'s self, name: &str, active: bool) -> impl Iterator<Item = &'s MacroDef> {
        self.known.definitions.get(name).into_iter().flatten().filter(move |def| def.active || !active)
    }

    /// The definition `call` in `module` expands through: the crate's own (textual scope), or a
    /// dependency's exported macro when the path names the dependency or nothing local has the
    /// name (`#[macro_use] extern crate`, `use dep::name;`). `active`: whether the call is
    /// compiled (its module is).
    fn definition<'a>(
        &'a self,
        call: &'a parse::MacroCall,
        module: &str,
        file: &str,
        active: bool,
    ) -> Option<parse::Definition<'a>> {
        let own = |text| parse::Definition { text, dollar_crate: "crate" };
        // Made by an expansion right below its own macro: that one, as textual scope has it.
        if let Some(text) = &call.local_definition {
            return Some(own(text));
        }
        let name = call.name();
        let first = (call.path.segments.len() > 1).then(|| call.path.segments[0].as_str());
        let local = || self.local(name, module, file, call.line, active).map(own);
        let anywhere = || self.anywhere(name, active).map(own);
        let dep = |dep: Option<&str>| {
            self.deps.find(dep, name).map(|(krate, text)| parse::Definition { text, dollar_crate: krate })
        };
        // A macro the module imports (`use stdx::impl_from;`, `use self::macros::*;`): after the
        // crate's own in textual scope, before one anywhere else in the crate (which may be
        // another module's private macro of the same name).
        let imported = || self.imported(name, module, active);
        let found = match first {
            // A dependency's macro named like one of std's prelude (`assert!`) is not taken
            // unimported: std's is the one in scope.
            None => local()
                .or_else(imported)
                .or_else(anywhere)
                .or_else(|| if parse::is_std_macro(name) { None } else { dep(None) }),
            // `super::types::define_type_id!` names the macro of that module (a `pub(crate) use`
            // of it there, as wasmparser writes it), not the one in textual scope here, which may
            // be a wrapper of the same name that calls it.
            Some("crate" | "self" | "super") => self
                .in_module(name, &call.path.segments, module, active)
                .map(own)
                .or_else(|| local().or_else(anywhere))
                .or_else(|| dep(None)),
            Some(krate) => dep(Some(krate)).or_else(|| local().or_else(anywhere)),
        };
        found.or_else(|| parse::std_definition(&call.path.segments))
    }

    /// The definition of `name` made in the module a call's path (`crate::`, `self::`, `super::`,
    /// then module names) leads to from `module`: the last made there.
    fn in_module(&self, name: &str, segments: &[String], module: &str, active: bool) -> Option<&str> {
        let target = target_module(module, segments[..segments.len().saturating_sub(1)].iter().map(String::as_str))?;
        self.made_in(name, &target, active)
    }

    /// The last definition of `name` made in the module `target`.
    fn made_in(&self, name: &str, target: &str, active: bool) -> Option<&str> {
        self.visible(name, active)
            .filter(|def| def.module == target)
            .max_by_key(|def| (def.line, &def.file))
            .map(|def| def.text.as_str())
    }

    /// The macro `name` as `module`'s `use` declarations bring it in: one importing it by name
    /// first, then globs (which a name shadows). A path that starts with a dependency's name is
    /// that dependency's (its `#[macro_export]` macros are at its root); any other is the crate's,
    /// from its root (`crate::`), from the module (`self::`, `super::`, or a child's name).
    fn imported(&self, name: &str, module: &str, active: bool) -> Option<parse::Definition<'_>> {
        let imports = self.known.imports.get(module)?;
        let from = |path: &[String], original: &str| -> Option<parse::Definition<'_>> {
            let first = path.first()?;
            if self.deps.by_dep.iter().any(|(krate, _)| krate == first) {
                // `use dep::name;` or `use dep::*;`: the dependency's exported macros.
                return (path.len() == 1)
                    .then(|| self.deps.find(Some(first), original))
                    .flatten()
                    .map(|(krate, text)| parse::Definition { text, dollar_crate: krate });
            }
            // A path that starts with a module's name is relative to this one (edition 2018).
            let relative = !matches!(first.as_str(), "crate" | "self" | "super");
            let start = relative.then_some("self");
            let target = target_module(module, start.into_iter().chain(path.iter().map(String::as_str)))?;
            self.made_in(original, &target, active).map(|text| parse::Definition { text, dollar_crate: "crate" })
        };
        let named = imports.iter().filter_map(|(bound, path)| {
            let (original, prefix) = path.split_last()?;
            (bound.as_deref() == Some(name)).then(|| from(prefix, original)).flatten()
        });
        let globs = imports.iter().filter(|(bound, _)| bound.is_none()).filter_map(|(_, path)| from(path, name));
        named.chain(globs).next()
    }
}

/// The module a path of modules (`crate`, `self`, `super`, then names) leads to from `module`;
/// `None` past the crate's root.
fn target_module<'a>(module: &'a str, path: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut target: Vec<&str> = module.split("::").collect();
    for segment in path {
        match segment {
            "crate" => target.truncate(1),
            "self" => {}
            "super" if target.len() > 1 => drop(target.pop()),
            "super" => return None,
            name => target.push(name),
        }
    }
    Some(target.join("::"))
}

/// Expands the macro calls written in function bodies (and initializers), now that every
/// definition is known (unless `expansion` is `None`: `--no-expand`): the calls an expansion
/// makes replace those read from the call's arguments, and the macro calls it makes are expanded
/// in turn, as deep as item-position ones. A call whose macro is not known, or that does not
/// expand (an arm the engine cannot match, an expansion that is no statements), keeps the calls
/// of its arguments. Calls under a `#[cfg]` that does not hold for the crate are dropped.
fn expand_body_macros(walk: &Walk, cfg: &CfgContext, expansion: Option<&Expansion<'_>>, records: &mut [ItemRecord]) {
    let index_of: HashMap<uuid::Uuid, usize> = records.iter().enumerate().map(|(at, r)| (r.id, at)).collect();
    // A definition is looked up from the module the body is in (textual scope).
    let module_of = |mut at: usize| loop {
        let record = &records[at];
        if record.kind == VertexKind::Module {
            break record.path.clone();
        }
        match record.parent.and_then(|parent| index_of.get(&parent)) {
            Some(&parent) => at = parent,
            None => break record.path.clone(),
        }
    };
    let modules: Vec<Option<String>> = records
        .iter()
        .enumerate()
        .map(|(at, record)| (expansion.is_some() && !record.refs.body_macros().is_empty()).then(|| module_of(at)))
        .collect();
    records.par_iter_mut().zip(modules).for_each(|(record, module)| {
        // Most records need nothing: without body macros, their calls are those the crate
        // compiles already (`assemble::keep_compiled_calls`, where records are made and where
        // expansions' refs are merged into them), and a packed record stays packed.
        if record.refs.body_macros().is_empty() {
            return;
        }
        let (file, active) = (&record.file, record.active);
        let left = std::cell::Cell::new(BODY_MADE);
        expand_in_body(record.refs.open_mut(), cfg, |body_macro| {
            let definition = expansion?.definition(&body_macro.call, module.as_deref()?, file, active)?;
            let expanded = catch_unwind(AssertUnwindSafe(|| {
                parse::with_thread_definitions(|cache| parse::expand_in_body(body_macro, definition, cache, left.get()))
            }));
            proc_macro2::extra::invalidate_current_thread_spans();
            Some(match expanded {
                Ok(result) => result.ok().map(|(refs, made)| {
                    left.set(left.get().saturating_sub(made));
                    refs
                }),
                Err(panic) => {
                    let message = internal_error(&panic_message(&*panic));
                    walk.report(Diagnostic::error(file.to_string(), body_macro.call.line, 1, message));
                    None
                }
            })
        });
    });
}

/// How many macro calls one body's expansion expands, nested ones included. Expanding a body's
/// macros is for the calls they make, and a few levels find them (`tri!`, `buf_get_impl!`); a
/// token muncher (`quote!`, which expands once per token of its input) would otherwise cost the
/// build more than the calls it makes are worth: 1.9 s of CPU on the `e2e` corpus, for calls of
/// `quote`'s own helpers. What is left unexpanded keeps the calls of its arguments. Against 32,
/// 8 loses 2 of the 11,464 calls the MIR harness scores and makes a cold build of the `e2e`
/// corpus about 2% faster (README, "Calls against the compiler").
const BODY_EXPANSIONS: usize = 8;

/// How many tokens one body's macro expansions may make together (counted as `mbe::MAX_MADE`
/// counts them), and how long the text of a call still to expand may be: an expansion past it
/// is not made. The largest body transcription of the `e2e` corpus, of a probe of 88 other
/// crates and of the accuracy corpora makes 9,152 (`quote`'s `quote_tokens_with_context!`; a
/// throwaway print). Without it, a macro that calls itself with four copies of its input made
/// 8.7 million tokens in each body, nested eight deep (`BODY_EXPANSIONS`): 0.6 s of a build for
/// each body that calls it, from a line of source.
const BODY_MADE: usize = 1 << 18;

/// `refs` with its body macros expanded by `expand` (`None`: no definition is known;
/// `Some(None)`: it did not expand), at most `BODY_EXPANSIONS` of them (which also bounds how
/// deep they nest, far below `MAX_EXPANSION_ROUNDS`), and its calls under a `cfg` that does not
/// hold dropped.
fn expand_in_body(
    refs: &mut parse::Refs,
    cfg: &CfgContext,
    expand: impl Fn(&parse::BodyMacro) -> Option<Option<parse::Refs>>,
) {
    // (macros of one expansion, where that expansion's calls start in `refs.calls`)
    let mut work = vec![(std::mem::take(&mut refs.body_macros), 0usize)];
    let mut keep = vec![true; refs.calls.len()];
    let mut budget = BODY_EXPANSIONS;
    while let Some((macros, base)) = work.pop() {
        let mut next = 0;
        for (at, body_macro) in macros.iter().enumerate() {
            // The macros in the arguments of one that expanded are part of its expansion.
            if at < next || !cfg.allows(body_macro.cfg.as_deref()) || budget == 0 {
                continue;
            }
            let Some(expanded) = expand(body_macro) else { continue };
            budget -= 1;
            let Some(mut inner) = expanded else { continue };
            let (start, end) = (body_macro.calls.0 as usize, body_macro.calls.1 as usize);
            for kept in keep.iter_mut().take(base + end).skip(base + start) {
                *kept = false;
            }
            next = at + 1 + body_macro.nested as usize;
            let inner_base = refs.calls.len();
            refs.calls.append(&mut inner.calls);
            keep.resize(refs.calls.len(), true);
            work.push((std::mem::take(&mut inner.body_macros), inner_base));
        }
    }
    let mut kept = keep.into_iter();
    refs.calls.retain(|call| kept.next().unwrap_or(true) && cfg.allows(call.cfg.as_deref()));
}

/// What one call's expansion gives the module, its `cfg` added; `None` when it gives nothing, or
/// failed (a warning at the call) or panicked (an internal error, contained to this call). Its
/// bytes join the crate's cached files.
fn expanded_body(walk: &Walk, pending: &PendingSite, expanded: Expanding) -> Option<parse::Body> {
    let Expanding { key, result: expanded, bytes } = expanded;
    if let Some(bytes) = bytes {
        walk.files.lock().unwrap_or_else(|poison| poison.into_inner()).push((key, Parts::from(bytes)));
    }
    let call = &pending.site.call;
    let file = || pending.file_ref.name.to_string();
    let mut inner = match expanded {
        Ok(Ok(parse::Expanded::Macro(inner) | parse::Expanded::PassedThrough(inner))) => inner,
        Ok(Ok(parse::Expanded::Nothing)) => return None,
        Ok(Err(err)) => {
            let error = Diagnostic::error(file(), err.line, err.column, err.message);
            walk.report(Diagnostic { severity: Severity::Warning, ..error });
            return None;
        }
        Err(panic) => {
            walk.report(Diagnostic::error(file(), call.line, 1, internal_error(&panic_message(&*panic))));
            return None;
        }
    };
    if let Some(predicate) = &call.cfg {
        parse::add_cfg(&mut inner, predicate);
    }
    Some(inner)
}

/// The warning for a round of calls left unexpanded (`MAX_CRATE_EXPANSION`), at its first call.
fn over_budget(expansion: &Expansion<'_>) -> Option<Diagnostic> {
    let calls: usize = expansion.groups.iter().map(Vec::len).sum();
    let first = expansion.groups.first()?.first()?;
    let message = format!(
        "stopped expanding macros at `{}!`: the crate's macro calls made more than {} MiB of code; \
         {calls} calls nested this deep are left unexpanded",
        first.site.call.name(),
        MAX_CRATE_EXPANSION >> 20,
    );
    Some(Diagnostic {
        severity: Severity::Warning,
        ..Diagnostic::error(first.file_ref.name.to_string(), first.site.call.line, 1, message)
    })
}

/// Expands the calls of one group of a round (`Expansion::groups`): items, or an impl's or a
/// trait's members, or a const's statements.
fn expand_calls_of(
    ctx: &Ctx<'_>,
    package: &PackageInfo,
    cfg: &CfgContext,
    walk: &Walk,
    expansion: &Expansion<'_>,
    group: &[PendingSite],
) -> Vec<CallOutcome> {
    let Some(first) = group.first() else { return Vec::new() };
    let Some(container) = &first.site.container else {
        return expand_calls(
            walk,
            cfg,
            expansion,
            group,
            "items",
            |pending| {
                is_include(&pending.site.call).then(|| CallOutcome::Included(include_file(ctx, package, walk, pending)))
            },
            parse::expand,
        );
    };
    let visibility = container.trait_visibility.as_deref();
    let how = match visibility {
        _ if container.statements => "statements".to_owned(),
        None => "impl members".to_owned(),
        Some(visibility) => format!("trait members, {visibility}"),
    };
    expand_calls(
        walk,
        cfg,
        expansion,
        group,
        &how,
        |_| None,
        |call, definition, cache| {
            if container.statements {
                parse::expand_statements(call, definition, cache)
            } else {
                parse::expand_members(call, definition, cache, visibility)
            }
        },
    )
}

/// Indexes what the calls of one module expanded to (`outcomes`, `expand_calls_of`): items,
/// `mod x;` files (walked on `scope`), further calls (for the next round).
#[expect(clippy::too_many_arguments, reason = "a file job's context, spelled out")]
fn expand_group<'s>(
    scope: &rayon::Scope<'s>,
    ctx: &'s Ctx<'s>,
    krate: &'s CrateInfo,
    package: &'s PackageInfo,
    cfg: &'s CfgContext,
    walk: &'s Walk,
    expansion: &Expansion<'_>,
    group: &[PendingSite],
    outcomes: Vec<CallOutcome>,
) {
    let Some(first) = group.first() else { return };
    let site = &first.site;
    if let Some(container) = &site.container {
        return expand_members(ctx, krate, cfg, walk, expansion, group, container, outcomes);
    }
    let mut body = parse::Body::default();
    // `include!`d files: their items are the module's, with their own file and lines.
    let mut included: Vec<Included> = Vec::new();
    for (pending, outcome) in group.iter().zip(outcomes) {
        let call = &pending.site.call;
        match outcome {
            CallOutcome::Included(Ok(Some((file_ref, ancestors, mut inner)))) => {
                if let Some(predicate) = &call.cfg {
                    parse::add_cfg(&mut inner, predicate);
                }
                included.push((file_ref, ancestors, inner));
            }
            CallOutcome::Included(Ok(None)) | CallOutcome::Deferred | CallOutcome::OverBudget => {}
            CallOutcome::Included(Err(message)) => {
                let file = pending.file_ref.name.to_string();
                let warning = Diagnostic::error(file, call.line, 1, message);
                walk.report(Diagnostic { severity: Severity::Warning, ..warning });
            }
            CallOutcome::Expanded(expanding) => {
                if let Some(mut inner) = expanded_body(walk, pending, expanding) {
                    body.items.append(&mut inner.items);
                    body.refs.append(inner.refs);
                    body.calls.append(&mut inner.calls);
                }
            }
        }
    }
    let empty = rustc_hash::FxHashSet::default();
    let taken = expansion.known.taken.get(&site.module_id).unwrap_or(&empty);
    // Named by the macro, not by where the call is: an id must not move with the lines above it.
    let via = format!("{}!", site.call.name());
    let module_ref = site.module_ref(&krate.crate_name, cfg, taken, &via);
    // rustc looks the `mod x;` of an included file up beside that file, as if it were a `mod.rs`
    // (windows-sys's `include!("Windows/mod.rs")` declares `pub mod Win32;`, in `Windows/Win32/`);
    // those of an expansion, as if written in the module's own file.
    let included = included.into_iter().map(|(file_ref, ancestors, body)| {
        let file = ModuleFile { path: ancestors.last().cloned().unwrap_or_default(), owns_dir: true };
        (file, file_ref, ancestors, body)
    });
    let mut parts: Vec<_> =
        std::iter::once((first.file.clone(), first.file_ref.clone(), first.ancestors.clone(), body))
            .chain(included)
            .collect();
    // The parts' items are one module's, told apart together: two files included under opposite
    // `cfg`s (zstd-sys's `bindings_zstd.rs` and `bindings_zstd_experimental.rs`) define the same
    // names, which their predicates disambiguate as if written side by side.
    let lengths: Vec<usize> = parts.iter().map(|(.., body)| body.items.len()).collect();
    let all: Vec<parse::ItemFacts> = parts.iter_mut().flat_map(|(.., body)| std::mem::take(&mut body.items)).collect();
    let mut disambiguators = assemble::disambiguators(&all).into_iter();
    let mut all = all.into_iter();
    for (part, ((module_file, file_ref, ancestors, body), length)) in parts.into_iter().zip(lengths).enumerate() {
        let items: Vec<parse::ItemFacts> = all.by_ref().take(length).collect();
        let disambiguators: Vec<Option<String>> = disambiguators.by_ref().take(length).collect();
        if items.is_empty() && body.refs.is_empty() && body.calls.is_empty() {
            continue;
        }
        let mut out = BodyOut::default();
        assemble::module_body_with(&file_ref, &module_ref, items, disambiguators, &mut out);
        out.sites.extend(body.calls.into_iter().map(|call| MacroSite::new(&module_ref, call)));
        let BodyOut { batch, records, children, sites } = out;
        ctx.send(walk, batch);
        walk.keep(records);
        if !body.refs.is_empty() {
            walk.module_refs.lock().unwrap_or_else(|poison| poison.into_inner()).push((site.module_id, body.refs));
        }
        let pending = sites.into_iter().map(|site| PendingSite {
            site,
            file: module_file.clone(),
            file_ref: file_ref.clone(),
            ancestors: ancestors.clone(),
        });
        walk.sites.lock().unwrap_or_else(|poison| poison.into_inner()).extend(pending);
        // Modules an expansion declares, not an `include!`d file (windows-sys's whole tree).
        let under_expansion = part == 0;
        let jobs =
            child_jobs(krate, package, cfg, walk, &module_file, &file_ref.name, children, &ancestors, under_expansion);
        ctx.progress.files_found(jobs.len());
        ctx.parses.will_read(jobs.iter().flat_map(FileJob::candidate_paths));
        for job in jobs {
            scope.spawn(move |scope| index_file(scope, ctx, job));
        }
    }
}

/// What became of one call of a group.
enum CallOutcome {
    /// An `include!`: the file's items, nothing (an argument that is not a path we can follow),
    /// or why the file could not be included.
    Included(Result<Option<Included>, String>),
    /// No definition is known yet: the call waits for a later round (`expand_calls` has queued it).
    Deferred,
    /// Not expanded: the crate's calls made more than `MAX_CRATE_EXPANSION` already, and the
    /// round is left out.
    OverBudget,
    Expanded(Expanding),
}

/// A call's expansion, not yet indexed (`expanded_body`): its key among the cached files, the
/// result, and the result's bytes for the cache (`None` when expanding panicked).
struct Expanding {
    key: String,
    result: std::thread::Result<ExpandResult>,
    bytes: Option<Bytes>,
}

/// What each call of a group becomes, in the group's order (which decides the items' order and
/// disambiguators): `special`'s outcome when it has one (`include!`), else deferred to a later
/// round when its macro is not known yet (it is queued here), else read back from the last
/// build when it expanded the same call by the same definition (`expansion_key`; `how` names
/// `expand`), else expanded by `expand`. The calls are expanded in parallel: a module may hold
/// hundreds of calls, and a round waits for its largest module.
fn expand_calls(
    walk: &Walk,
    cfg: &CfgContext,
    expansion: &Expansion<'_>,
    group: &[PendingSite],
    how: &str,
    special: impl Fn(&PendingSite) -> Option<CallOutcome> + Sync,
    expand: impl Fn(&parse::MacroCall, Option<parse::Definition<'_>>, &mut parse::Definitions) -> ExpandResult + Sync,
) -> Vec<CallOutcome> {
    let Some(module) = group.first().map(|first| &first.site.module_path) else { return Vec::new() };
    let outcomes: Vec<CallOutcome> = group
        .par_iter()
        .map(|pending| {
            if let Some(outcome) = special(pending) {
                return outcome;
            }
            let call = &pending.site.call;
            // Compiled when its module (or impl, trait, const) is and its own `cfg` holds (a
            // `cfg_if!` branch's condition is the call's: encoding_rs defines and calls a macro
            // one way per branch).
            let active = pending.site.container.as_ref().map_or(pending.site.active, |container| container.active)
                && cfg.allows(call.cfg.as_deref());
            let definition = expansion.definition(call, module, &pending.file_ref.name, active);
            if definition.is_none() && !expansion.last_chance {
                return CallOutcome::Deferred;
            }
            if walk.expansion_bytes.load(Ordering::Relaxed) > MAX_CRATE_EXPANSION {
                return CallOutcome::OverBudget;
            }
            // What the last build's expansion of the same call by the same definition gave, when
            // the crate was indexed with the fingerprint it has now (`Walk::cached`).
            let key = expansion_key(how, call, definition);
            let cached = walk.cached.as_ref().and_then(|cached| cached.get(&key)).map(|entry| entry.whole());
            let reused = cached.and_then(with_expansion);
            // The same call expanded earlier in this build: the twin of a module whose file is
            // declared twice, under opposite `cfg`s (see `SharedParses`).
            let earlier = || walk.expanded.get(&key).map(|bytes| bytes.clone());
            let (expanded, bytes) = if let Some((result, cached)) = reused {
                walk.expansions_reused.fetch_add(1, Ordering::Relaxed);
                let bytes = match (cached, &walk.cached) {
                    (std::borrow::Cow::Borrowed(bytes), Some(cache)) => cache.share(bytes),
                    (bytes, _) => Bytes::copy_from_slice(&bytes),
                };
                (Ok(result), Some(bytes))
            } else if let Some((result, bytes)) = earlier().and_then(with_expansion) {
                (Ok(result), Some(bytes))
            } else {
                // Expansion parses: a panic there costs this call, not the run.
                let expanded = catch_unwind(AssertUnwindSafe(|| {
                    parse::with_thread_definitions(|cache| expand(call, definition, cache))
                }));
                proc_macro2::extra::invalidate_current_thread_spans();
                let bytes = expanded.as_ref().ok().map(|result| crate::incremental::exact(encode_expansion(result)));
                if let Some(bytes) = &bytes {
                    walk.expanded.insert(key.clone(), bytes.clone());
                }
                (expanded, bytes)
            };
            if let Some(bytes) = &bytes {
                walk.expansion_bytes.fetch_add(bytes.len(), Ordering::Relaxed);
            }
            CallOutcome::Expanded(Expanding { key, result: expanded, bytes })
        })
        .collect();
    let mut deferred = walk.deferred.lock().unwrap_or_else(|poison| poison.into_inner());
    for (pending, outcome) in group.iter().zip(&outcomes) {
        if let CallOutcome::Deferred = outcome {
            deferred.push(pending.clone());
        }
    }
    outcomes
}

type ExpandResult = Result<parse::Expanded, parse::SyntaxError>;

/// A call's expansion as the cache keeps it: postcard's form, as a file's records (a rerun
/// decodes every expansion of a crate indexed again; see `Cargo.toml`).
fn encode_expansion(result: &ExpandResult) -> Vec<u8> {
    // Plain data into a `Vec`: encoding cannot fail.
    postcard::to_allocvec(result).unwrap_or_default()
}

/// `encode_expansion`'s bytes read back; `None` when damaged.
fn decode_expansion(bytes: &[u8]) -> Option<ExpandResult> {
    postcard::from_bytes(bytes).ok()
}

/// The expansion that bytes this build wrote, or read back intact, hold, with the bytes
/// (`incremental::read_back`).
fn with_expansion<B: AsRef<[u8]>>(bytes: B) -> Option<(ExpandResult, B)> {
    Some((read_back(decode_expansion(bytes.as_ref()), "an expansion")?, bytes))
}

/// How the keys of cached expansions start, apart from files' keys (which are hashes).
const EXPANSION_KEY: &str = "expansion ";

/// The key of a call's expansion among the crate's cached files (`FileCache`, beside the files'
/// own keys): a hash of everything the expansion is a function of. `how` names the expansion
/// (`parse::expand`, or `parse::expand_members` and its trait's visibility); the call's `cfg` is
/// added to the result afterwards, and is not part of it.
fn expansion_key(how: &str, call: &parse::MacroCall, definition: Option<parse::Definition<'_>>) -> String {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let (text, dollar_crate) = definition.map_or(("", "\0"), |definition| (definition.text, definition.dollar_crate));
    // 0xff is in no UTF-8 text: the parts cannot run into each other.
    let parts = std::iter::once(how).chain(call.path.segments.iter().map(String::as_str));
    for part in parts.chain([call.body.as_str(), text, dollar_crate]) {
        hasher.update(part.as_bytes());
        hasher.update(&[0xff]);
    }
    hasher.update(&call.line.to_le_bytes());
    for (text_line, line) in &call.jumps {
        hasher.update(&text_line.to_le_bytes());
        hasher.update(&line.to_le_bytes());
    }
    format!("{EXPANSION_KEY}{:032x}", hasher.digest128())
}

/// Indexes the members (the items) that the calls among one impl's or trait's members (or in a
/// const's initializer) made (`outcomes`); further calls among those wait for the next round.
#[expect(clippy::too_many_arguments, reason = "a file job's context, spelled out")]
fn expand_members(
    ctx: &Ctx<'_>,
    krate: &CrateInfo,
    cfg: &CfgContext,
    walk: &Walk,
    expansion: &Expansion<'_>,
    group: &[PendingSite],
    container: &Container,
    outcomes: Vec<CallOutcome>,
) {
    let Some(first) = group.first() else { return };
    let site = &first.site;
    let mut items = Vec::new();
    let mut calls = Vec::new();
    for (pending, outcome) in group.iter().zip(outcomes) {
        if let CallOutcome::Expanded(expanding) = outcome
            && let Some(mut inner) = expanded_body(walk, pending, expanding)
        {
            items.append(&mut inner.items);
            calls.append(&mut inner.calls);
        }
    }
    let empty = rustc_hash::FxHashSet::default();
    let taken = expansion.known.taken.get(&container.id).unwrap_or(&empty);
    // Named by the macro, not by where the call is: an id must not move with the lines above it.
    let via = format!("{}!", site.call.name());
    let module_ref = site.module_ref(&krate.crate_name, cfg, taken, &via);
    let mut out = BodyOut::default();
    assemble::members(&first.file_ref, &module_ref, container, items, &mut out);
    out.sites.extend(
        calls
            .into_iter()
            .map(|call| MacroSite { container: Some(container.clone()), ..MacroSite::new(&module_ref, call) }),
    );
    let BodyOut { batch, records, sites, .. } = out;
    ctx.send(walk, batch);
    walk.keep(records);
    let pending = sites.into_iter().map(|site| PendingSite {
        site,
        file: first.file.clone(),
        file_ref: first.file_ref.clone(),
        ancestors: first.ancestors.clone(),
    });
    walk.sites.lock().unwrap_or_else(|poison| poison.into_inner()).extend(pending);
}

/// An `include!`d file: its name in the graph, the files from the crate root down to it, and
/// what it declares.
type Included = (FileRef, Vec<Utf8PathBuf>, parse::Body);

/// Whether the call is `include!` (also `std::include!`, `core::include!`).
fn is_include(call: &parse::MacroCall) -> bool {
    call.name() == "include"
        && match call.path.segments.as_slice() {
            [_] => true,
            [root, _] => root == "std" || root == "core",
            _ => false,
        }
}

/// Reads and parses the file an `include!("path")` names, relative to the folder of the file
/// the call is in: its file vertex goes to the writer, its text to the crate's inputs. `Ok(None)`
/// for an argument that is not a plain string (`concat!(env!("OUT_DIR"), ...)` needs the build
/// script's output, see `--build-scripts`).
fn include_file(
    ctx: &Ctx<'_>,
    package: &PackageInfo,
    walk: &Walk,
    pending: &PendingSite,
) -> Result<Option<Included>, String> {
    let script = ctx.options.build_scripts.as_ref().and_then(|scripts| scripts.of(&package.dir));
    let env = |name: &str| script.and_then(|script| script.var(name));
    let Some(relative) = parse::include_path(&pending.site.call, &env) else { return Ok(None) };
    let Some(source) = pending.ancestors.last() else { return Ok(None) };
    let path = source.parent().map_or_else(|| Utf8PathBuf::from(&relative), |dir| dir.join(&relative));
    // Loops are found on real paths, as modules' are (`./lib.rs`, `../src/lib.rs`, a symlink);
    // an included file's own path stays among the ancestors, for what it declares is looked up
    // beside it.
    let real =
        |path: &Utf8Path| std::fs::canonicalize(path).ok().and_then(|real| Utf8PathBuf::from_path_buf(real).ok());
    let real_path = real(&path).unwrap_or_else(|| path.clone());
    if pending.ancestors.iter().any(|ancestor| *ancestor == path || real(ancestor).is_some_and(|a| a == real_path)) {
        return Err(format!("`include!(\"{relative}\")` includes a file inside itself"));
    }
    let name = display(ctx, package, &path);
    let text = match read_included(&path) {
        Ok(Source { bytes, bad, stamp }) => {
            walk.input(Input::read_stamped(path.clone(), &bytes, stamp));
            if let Some(NotUtf8 { line, column }) = bad {
                return Err(format!("cannot include `{name}`: not UTF-8 at {line}:{column}"));
            }
            String::from_utf8(bytes).unwrap_or_default()
        }
        Err(NotRead { why, stamp }) => {
            walk.input(Input::unread(path.clone(), stamp));
            return Err(format!("cannot include `{name}`: {why}"));
        }
    };
    walk.included.lock().unwrap_or_else(|poison| poison.into_inner()).push(path.clone());
    let parsed = catch_unwind(AssertUnwindSafe(|| parse::parse_file(&text)));
    proc_macro2::extra::invalidate_current_thread_spans();
    let facts = match parsed {
        Ok(Ok(facts)) => facts,
        Ok(Err(err)) => {
            return Err(format!(
                "failed to parse `{name}` for `include!`: {}:{}: {}",
                err.line, err.column, err.message
            ));
        }
        Err(panic) => return Err(internal_error(&panic_message(&*panic))),
    };
    // As in a module's file: what did not parse is named, the rest indexed.
    for lost in &facts.lost {
        walk.report(lost_items(&name, lost));
    }
    if !facts.lost.is_empty() {
        walk.files_failed.fetch_add(1, Ordering::Relaxed);
    }
    walk.files_parsed.fetch_add(1, Ordering::Relaxed);
    ctx.parsed_paths.lock().unwrap_or_else(|poison| poison.into_inner()).push(path.clone());
    let file_id = package.file_key(&path).id();
    let mut file_props = Props::new();
    file_props.insert("name", Value::from(path.file_name().unwrap_or_default()));
    file_props.insert("path", Value::from(name.as_str()));
    ctx.send(
        walk,
        Batch { vertices: vec![Vertex { id: file_id, kind: VertexKind::File, props: file_props }], edges: Vec::new() },
    );
    let mut ancestors = pending.ancestors.clone();
    ancestors.push(path);
    let body = parse::Body { items: facts.items, refs: facts.refs, calls: facts.macro_calls };
    Ok(Some((file_ref_of(file_id, &name), ancestors, body)))
}

/// Adds to each module's record what expansions added to its body, keeping the calls `cfg`
/// compiles (`assemble::keep_compiled_calls`).
fn merge_module_refs(records: &mut [ItemRecord], mut added: Vec<(uuid::Uuid, parse::Refs)>, cfg: &CfgContext) {
    if added.is_empty() {
        return;
    }
    // Deterministic whatever order the expansions finished in.
    added.sort_by_key(|(id, refs)| (*id, refs.uses.first().map(|u| u.line)));
    let mut by_id: rustc_hash::FxHashMap<uuid::Uuid, parse::Refs> = Default::default();
    for (id, refs) in added {
        by_id.entry(id).or_default().append(refs);
    }
    // A few modules among all the crate's records: done once each has its refs.
    for record in records {
        if by_id.is_empty() {
            break;
        }
        if let Some(refs) = by_id.remove(&record.id) {
            let merged = record.refs.open_mut();
            merged.append(refs);
            assemble::keep_compiled_calls(merged, cfg);
        }
    }
}

/// A record's copy without its references (which a module that could not be indexed has none of).
fn clone_record(record: &ItemRecord) -> ItemRecord {
    ItemRecord {
        id: record.id,
        kind: record.kind,
        name: record.name.clone(),
        path: record.path.clone(),
        parent: record.parent,
        visibility: record.visibility.clone(),
        active: record.active,
        file: record.file.clone(),
        line: record.line,
        shape: Shape::None,
        refs: RecordRefs::default(),
    }
}

/// Ends a file that could not be indexed: counts it as failed and reports why, and still writes
/// its module, to which the parent module already sent an edge.
fn abandon(
    ctx: &Ctx<'_>,
    walk: &Walk,
    mut batch: Batch,
    module_id: uuid::Uuid,
    props: Props,
    doc: Option<String>,
    why: Diagnostic,
) {
    walk.failed(why);
    finish_module(&mut batch, module_id, props, doc);
    ctx.send(walk, batch);
}

fn finish_module(batch: &mut Batch, id: uuid::Uuid, mut props: Props, doc: Option<String>) {
    if let Some(doc) = doc {
        props.insert("doc", Value::from(doc));
    }
    batch.vertices.push(Vertex { id, kind: VertexKind::Module, props });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What an expansion makes (items of every kind, with their details, members, references and
    /// the calls for the next round) is read back from the cache as it was made.
    #[test]
    fn an_expansion_is_read_back_as_made() {
        let file: syn::File = syn::parse_str(
            "macro_rules! make { ($($name:ident: $ty:ty),*) => { $(pub struct $name { pub v: $ty } \
             impl $name { pub fn get(&self) -> &$ty { &self.v } } \
             impl std::fmt::Debug for $name { fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result { \
             write!(f, \"x\") } })* pub enum E { A(u8), B { c: Vec<u8> } } \
             pub const N: usize = 3; pub type T = Vec<A>; other!(A); } }\n\
             make!(A: u8, B: Vec<String>);",
        )
        .unwrap();
        let syn::Item::Macro(made) = &file.items[1] else { panic!("not a call") };
        let call = parse::MacroCall::new(&made.mac, None);
        // The definition as parsing keeps it.
        let facts = parse::parse_file(&quote::quote!(#file).to_string()).unwrap();
        let Some(parse::Detail::MacroRules { definition: text }) = facts.items.first().map(|item| &item.detail) else {
            panic!("no definition")
        };
        let definition = parse::Definition { text, dollar_crate: "crate" };
        let result = parse::with_thread_definitions(|cache| parse::expand(&call, Some(definition), cache));
        let Ok(parse::Expanded::Macro(body)) = &result else { panic!("not expanded: {:?}", result.err()) };
        assert!(body.items.len() >= 8 && !body.calls.is_empty(), "{} items", body.items.len());
        let bytes = encode_expansion(&result);
        let Some(Ok(parse::Expanded::Macro(read))) = decode_expansion(&bytes) else { panic!("not read back") };
        assert_eq!(read.items, body.items);
        assert_eq!(read.calls, body.calls);
        assert_eq!(encode_expansion(&Ok(parse::Expanded::Macro(read))), bytes);
        assert!(decode_expansion(&bytes[..bytes.len() - 1]).is_none(), "cut short");
    }

    /// Which definition a call takes: textual scope, then an import, then anywhere in the crate,
    /// then a dependency's; through a crate path, the module's own; `cfg`'d-out definitions only
    /// for calls that are out too.
    #[test]
    fn a_call_takes_the_definition_rustc_would() {
        let def = |module: &str, line: u32, text: &str, active: bool| MacroDef {
            module: module.to_owned(),
            file: Arc::from(format!("{module}.rs")),
            line,
            text: text.to_owned(),
            active,
        };
        let mut known = Known::default();
        known.definitions.insert(
            "impl_from".to_owned(),
            vec![def("k::undo_log", 1, "undo_log's", true), def("k::other", 1, "other's", false)],
        );
        known.definitions.insert(
            "define_id".to_owned(),
            vec![def("k::wrapper::types", 1, "the inner one", true), def("k::wrapper", 1, "the wrapper", true)],
        );
        known.definitions.insert("mac".to_owned(), vec![def("k::platform", 1, "the platform's", false)]);
        known.definitions.insert(
            "foreach_set".to_owned(),
            vec![def("k::de::macros", 1, "de's", true), def("k::ser::macros", 1, "ser's", true)],
        );
        let import = |bound: Option<&str>, path: &str| {
            (bound.map(str::to_owned), path.split("::").map(str::to_owned).collect::<Vec<_>>())
        };
        known.imports.insert("k".to_owned(), BTreeSet::from([import(Some("impl_from"), "stdx::impl_from")]));
        known.imports.insert("k::ser".to_owned(), BTreeSet::from([import(None, "self::macros")]));
        known
            .imports
            .insert("k::ser2".to_owned(), BTreeSet::from([import(Some("each"), "crate::ser::macros::foreach_set")]));
        let exported = |name: &'static str, text: &'static str| HashMap::from_iter([(name, text)]);
        let deps = DepMacros {
            by_dep: vec![
                ("assertions".to_owned(), exported("assert", "a dependency's assert")),
                ("stdx".to_owned(), exported("impl_from", "stdx's")),
            ],
        };
        let expansion = Expansion { groups: Vec::new(), known: &known, deps: &deps, last_chance: true };
        let chosen = |path: &str, module: &str, active: bool| {
            let segments: Vec<String> = path.split("::").map(str::to_owned).collect();
            let call = parse::MacroCall {
                path: parse::PathRef { global: false, segments },
                body: String::new(),
                line: 5,
                cfg: None,
                jumps: Vec::new(),
                local_definition: None,
            };
            expansion.definition(&call, module, &format!("{module}.rs"), active).map(|found| found.text.to_owned())
        };
        // In its own module, the textual one; at the root, which imports stdx's, not another
        // module's private macro of the same name.
        assert_eq!(chosen("impl_from", "k::undo_log", true).as_deref(), Some("undo_log's"));
        assert_eq!(chosen("impl_from", "k", true).as_deref(), Some("stdx's"));
        // A glob of a module of the crate (`use self::macros::*;`, serde_with's), and a name
        // imported from one, renamed: not the module first in order with a macro of that name.
        assert_eq!(chosen("foreach_set", "k::ser", true).as_deref(), Some("ser's"));
        assert_eq!(chosen("each", "k::ser2", true).as_deref(), Some("ser's"));
        assert_eq!(chosen("foreach_set", "k", true).as_deref(), Some("de's"));
        // A path leads to its module's macro, past the wrapper of the same name in scope.
        assert_eq!(chosen("self::types::define_id", "k::wrapper", true).as_deref(), Some("the inner one"));
        assert_eq!(chosen("super::types::define_id", "k::wrapper::inner", true).as_deref(), Some("the inner one"));
        assert_eq!(chosen("crate::wrapper::types::define_id", "k::other", true).as_deref(), Some("the inner one"));
        assert_eq!(chosen("define_id", "k::wrapper", true).as_deref(), Some("the wrapper"));
        // A definition `cfg`'d out serves calls that are out too, and only them.
        assert_eq!(chosen("mac", "k::platform", false).as_deref(), Some("the platform's"));
        assert_eq!(chosen("mac", "k::platform", true).as_deref(), None);
        assert_eq!(chosen("impl_from", "k::other", false).as_deref(), Some("other's"));
        assert_eq!(chosen("impl_from", "k::other", true).as_deref(), Some("undo_log's"));
        // std's `assert!` is not a dependency's unimported one; `dep::assert!` is.
        assert_eq!(chosen("assert", "k", true).as_deref(), None);
        assert_eq!(chosen("assertions::assert", "k", true).as_deref(), Some("a dependency's assert"));
    }

    fn call(name: &str, cfg: Option<&str>) -> parse::Call {
        parse::Call {
            callee: parse::Callee::Path(parse::PathRef::single(name), Vec::new()),
            line: 1,
            in_macro: false,
            cfg: cfg.map(str::to_owned),
        }
    }

    fn body_macro(name: &str, calls: (u32, u32), nested: u32) -> parse::BodyMacro {
        let syn::Stmt::Macro(mac) = syn::parse_str::<syn::Stmt>(&format!("{name}!(x);")).unwrap() else {
            panic!("not a macro call")
        };
        parse::BodyMacro {
            call: parse::MacroCall::new(&mac.mac, None),
            locals: Vec::new(),
            generics: Default::default(),
            calls,
            nested,
            in_macro: false,
            cfg: None,
        }
    }

    fn names(refs: &parse::Refs) -> Vec<String> {
        refs.calls
            .iter()
            .map(|call| match &call.callee {
                parse::Callee::Path(path, _) => path.segments.join("::"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn body_expansions_replace_their_arguments_calls_and_stop_at_the_budget() {
        let cfg = CfgContext::new(Arc::new(crate::cfg::Target::detect(None)), Default::default(), false, false);
        // `outer!(inner!(a()), b())` then `off()` under a `cfg` that never holds.
        let mut refs = parse::Refs {
            calls: vec![call("a", None), call("b", None), call("off", Some("any()"))],
            body_macros: vec![body_macro("outer", (0, 2), 1), body_macro("inner", (0, 1), 0)],
            ..parse::Refs::default()
        };
        let tried = std::cell::Cell::new(Vec::new());
        expand_in_body(&mut refs, &cfg, |m| {
            let mut seen = tried.take();
            seen.push(m.call.name().to_owned());
            tried.set(seen);
            match m.call.name() {
                // Expands to a call of its own and to a call of `inner!` again.
                "outer" => Some(Some(parse::Refs {
                    calls: vec![call("made", None)],
                    body_macros: vec![body_macro("inner", (0, 0), 0)],
                    ..parse::Refs::default()
                })),
                // A muncher: expands to itself forever.
                "inner" => Some(Some(parse::Refs {
                    calls: vec![call("step", None)],
                    body_macros: vec![body_macro("inner", (0, 0), 0)],
                    ..parse::Refs::default()
                })),
                _ => None,
            }
        });
        let tried = tried.take();
        // The `inner!` in `outer!`'s arguments is part of `outer!`'s expansion, not tried alone.
        assert_eq!(tried.first().map(String::as_str), Some("outer"));
        assert_eq!(tried.len(), BODY_EXPANSIONS, "the muncher stops at the budget");
        let names = names(&refs);
        // `a()` and `b()` were read from `outer!`'s arguments: its expansion replaces them; `off()`
        // is under a `cfg` that does not hold.
        assert!(!names.iter().any(|n| n == "a" || n == "b" || n == "off"), "{names:?}");
        assert_eq!(names.iter().filter(|n| *n == "made").count(), 1);
        assert_eq!(names.iter().filter(|n| *n == "step").count(), BODY_EXPANSIONS - 1);
    }

    #[test]
    fn a_body_macro_without_a_definition_keeps_its_arguments_calls() {
        let cfg = CfgContext::new(Arc::new(crate::cfg::Target::detect(None)), Default::default(), false, false);
        let mut refs = parse::Refs {
            calls: vec![call("a", None)],
            body_macros: vec![body_macro("unknown", (0, 1), 0)],
            ..parse::Refs::default()
        };
        expand_in_body(&mut refs, &cfg, |_| None);
        assert_eq!(names(&refs), ["a"]);
    }

    #[test]
    fn an_expansion_is_keyed_by_everything_it_depends_on() {
        let call = |path: &str, body: &str, line: u32| parse::MacroCall {
            path: parse::PathRef { global: false, segments: path.split("::").map(str::to_owned).collect() },
            body: body.to_owned(),
            line,
            cfg: None,
            jumps: Vec::new(),
            local_definition: None,
        };
        let definition = |text| parse::Definition { text, dollar_crate: "crate" };
        let base = expansion_key("items", &call("m", "a", 3), Some(definition("(x) => {}")));
        assert_eq!(base, expansion_key("items", &call("m", "a", 3), Some(definition("(x) => {}"))));
        let others = [
            expansion_key("impl members", &call("m", "a", 3), Some(definition("(x) => {}"))),
            expansion_key("items", &call("n::m", "a", 3), Some(definition("(x) => {}"))),
            expansion_key("items", &call("m", "b", 3), Some(definition("(x) => {}"))),
            expansion_key("items", &call("m", "a", 4), Some(definition("(x) => {}"))),
            expansion_key("items", &call("m", "a", 3), Some(definition("(y) => {}"))),
            expansion_key(
                "items",
                &call("m", "a", 3),
                Some(parse::Definition { text: "(x) => {}", dollar_crate: "dep" }),
            ),
            expansion_key("items", &call("m", "a", 3), None),
            expansion_key(
                "items",
                &parse::MacroCall { jumps: vec![(2, 1)], ..call("m", "a", 3) },
                Some(definition("(x) => {}")),
            ),
        ];
        let mut all: Vec<&String> = others.iter().chain([&base]).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), others.len() + 1, "every input changes the key");
        // A call's `cfg` is added to what it expands to afterwards: not part of the key.
        let with_cfg = parse::MacroCall { cfg: Some("test".to_owned()), ..call("m", "a", 3) };
        assert_eq!(base, expansion_key("items", &with_cfg, Some(definition("(x) => {}"))));
    }

    #[test]
    fn batches_go_to_the_writer_a_few_thousand_items_at_a_time_and_the_rest_at_the_end() {
        let (sink, writer) = std::sync::mpsc::sync_channel(16);
        let edges = |n: usize| Batch {
            vertices: Vec::new(),
            edges: (0..n)
                .map(|i| Edge::new(uuid::Uuid::from_u128(i as u128), EdgeKind::Calls, uuid::Uuid::nil()))
                .collect(),
        };
        let unsent = Unsent::to(Some(sink));
        assert!(unsent.push(edges(Unsent::ITEMS - 1)));
        assert!(writer.try_recv().is_err(), "sent before it is full");
        assert!(unsent.push(edges(2)));
        assert_eq!(writer.try_recv().map(|batch| batch.edges.len()), Ok(Unsent::ITEMS + 1));
        assert!(unsent.push(edges(3)));
        assert!(writer.try_recv().is_err());
        drop(unsent);
        let rest = writer.try_recv().map(|batch| batch.edges);
        assert_eq!(rest.as_ref().map(Vec::len), Ok(3), "what is held is sent when the walk is dropped");
        assert_eq!(rest.unwrap()[2].from, uuid::Uuid::from_u128(2), "in the order pushed");
        assert!(writer.try_recv().is_err(), "sent once");

        // No writer (a rerun's indexing): nothing is held.
        let unsent = Unsent::to(None);
        assert!(unsent.push(edges(5)));
        assert!(unsent.batch.lock().unwrap().is_empty());
        // A writer that is gone is told.
        let (sink, writer) = std::sync::mpsc::sync_channel(16);
        drop(writer);
        assert!(!Unsent::to(Some(sink)).push(edges(Unsent::ITEMS)));
    }

    #[test]
    fn a_file_parsed_twice_is_not_parsed_again() {
        let parses = SharedParses::default();
        let path = Utf8Path::new("tests/support/mod.rs");
        let text = "pub fn helper() -> u32 { 1 }\n";
        let parse = |hash: &str, text: &str| {
            let mut parsed_now = false;
            let names = parses.parse_then(path, hash, text, None, &mut parsed_now, |facts| {
                facts.unwrap().items.iter().map(|item| item.name.clone()).collect::<Vec<_>>()
            });
            (parsed_now, names)
        };
        let helper = vec!["helper".to_owned()];
        assert_eq!(parse("h1", text), (true, helper.clone()));
        assert_eq!(parse("h1", text), (true, helper.clone()), "a file parsed once keeps nothing");
        assert_eq!(parse("h1", text), (false, helper.clone()));
        assert_eq!(parse("h1", text), (false, helper));
        // Other content at the same path is parsed, whatever was kept.
        assert_eq!(parse("h2", "pub fn other() {}\n"), (true, vec!["other".to_owned()]));
        // A syntax error is kept like facts.
        let other = Utf8Path::new("tests/support/broken.rs");
        for expected in [true, true, false] {
            let mut parsed_now = false;
            assert!(parses.parse_then(other, "h3", "fn (", None, &mut parsed_now, |facts| facts.is_err()));
            assert_eq!(parsed_now, expected);
        }
    }

    #[test]
    fn a_root_read_ahead_is_parsed_once_by_the_first_job_that_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, content: &[u8]| {
            let path = Utf8PathBuf::from_path_buf(dir.path().join(name)).unwrap();
            std::fs::write(&path, content).unwrap();
            (path, crate::incremental::hash(content))
        };
        let parses = SharedParses::default();
        // The facts come from what was read ahead, not from the text the job passes: the content
        // hash says they are the same.
        let parsed = |path: &Utf8Path, hash: &str, text: &str| {
            let mut parsed_now = false;
            let names = parses.parse_then(path, hash, text, None, &mut parsed_now, |facts| {
                facts.unwrap().items.iter().map(|item| item.name.clone()).collect::<Vec<_>>()
            });
            assert!(parsed_now, "a file read ahead is one this build parsed");
            names
        };
        let (root, hash) = file("main.rs", b"fn ahead() {}\n");
        parses.read_ahead(&root);
        assert_eq!(parsed(&root, &hash, "fn not_read() {}"), ["ahead"]);
        // Taken, not kept: a second job parses its text, as after any first parse.
        assert_eq!(parsed(&root, &hash, "fn parsed() {}"), ["parsed"]);
        // A file that changed since it was read ahead is parsed from what the job read.
        let (changed, _) = file("changed.rs", b"fn before() {}\n");
        parses.read_ahead(&changed);
        assert_eq!(parsed(&changed, "another hash", "fn after() {}"), ["after"]);
        // A path a walk job looked for first is left to it.
        let (looked_for, hash) = file("looked_for.rs", b"fn ahead() {}\n");
        parses.will_read([&looked_for]);
        parses.read_ahead(&looked_for);
        assert_eq!(parsed(&looked_for, &hash, "fn job() {}"), ["job"]);
        // Nothing is kept for a file that is missing or not UTF-8: its job reports it.
        let (bad, hash) = file("bad.rs", b"fn a() { \xff }\n");
        parses.read_ahead(&bad);
        parses.read_ahead(&root.with_file_name("missing.rs"));
        assert!(parses.seen.get(&bad).is_none() && parses.seen.get(&root.with_file_name("missing.rs")).is_none());
        assert_eq!(parsed(&bad, &hash, "fn lossy() {}"), ["lossy"]);
    }

    #[test]
    fn a_file_two_jobs_will_read_or_one_walk_reads_twice_is_parsed_once() {
        let parses = SharedParses::default();
        let parsed = |path: &str, walk_kept: Option<&Mutex<Vec<Utf8PathBuf>>>| {
            let mut parsed_now = false;
            let items =
                parses.parse_then(Utf8Path::new(path), "h", "pub struct S;\n", walk_kept, &mut parsed_now, |facts| {
                    facts.unwrap().items.len()
                });
            assert_eq!(items, 1);
            parsed_now
        };
        // Two jobs of a batch declare one file (and look for the same pair of candidates).
        let twins = [Utf8PathBuf::from("src/a.rs"), "src/a/mod.rs".into(), "src/a.rs".into(), "src/a/mod.rs".into()];
        parses.will_read(&twins);
        assert!(parsed("src/a.rs", None));
        assert!(!parsed("src/a.rs", None), "the second job copies the first one's facts");
        // A file one job reads keeps nothing; a job of a later batch then parses it again.
        parses.will_read(&[Utf8PathBuf::from("src/b.rs")]);
        assert!(parsed("src/b.rs", None));
        parses.will_read(&[Utf8PathBuf::from("src/b.rs")]);
        assert!(parsed("src/b.rs", None));
        // A walk that keeps what it parses under expansions reads it once until it is done.
        let walk_kept = Mutex::new(Vec::new());
        parses.will_read(&[Utf8PathBuf::from("src/c.rs")]);
        assert!(parsed("src/c.rs", Some(&walk_kept)));
        assert!(!parsed("src/c.rs", None));
        assert!(!parsed("src/c.rs", Some(&walk_kept)));
        parses.release(walk_kept.into_inner().unwrap());
        assert!(parsed("src/c.rs", None), "released once the walk is done");
        assert!(!parsed("src/c.rs", None), "a path parsed twice keeps its facts for the build");
    }
}
