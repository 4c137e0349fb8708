//! The plan of a build: skipped, incremental or full, decided in one place from one pass over
//! the inputs.
//!
//! The cache beside the graph (`incremental::Cache`) records, for every unit of the last build
//! (each indexed crate, and the workspace's own vertices), its fingerprint, the files it read
//! with their hashes and the paths it looked for in vain, and its summary. The plan reads that
//! state, checks every recorded input once (a file read by several crates is hashed once, on all
//! cores), and decides:
//!
//! - **skip** when the cache describes the graph as it is (its stamp), every indexed crate has a
//!   unit recorded with its current fingerprint and unchanged inputs, no other crate was recorded,
//!   and the workspace's own vertices are what they were: the build would write the same graph,
//!   and its summary is the recorded units' (`BuildSummary::of_units`);
//! - **update** when the cache describes the graph but something changed: the crates whose unit
//!   is still valid are handed to `index` as unchanged (`Reuse`), and it decides, wave by wave,
//!   which of them must be indexed again because a dependency's interface changed;
//! - **full** otherwise (`--rebuild`, no cache, another tool version, options, target or
//!   backend, a graph replaced behind the cache's back).
//!
//! Knows the cache's records and the file system; nothing of syntax, indexing or IndraDB.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use rayon::prelude::*;

use crate::incremental::{Cache, CacheState, Input, WORKSPACE_UNIT};

/// What the plan needs to know of the build it plans.
pub struct PlanInputs<'a> {
    /// What decides every unit (`incremental::global_fingerprint`).
    pub global_fingerprint: &'a str,
    /// Each crate's key between builds, by crate index.
    pub keys: &'a [String],
    /// Each crate's fingerprint (`incremental::crate_fingerprints`), by crate index.
    pub fingerprints: &'a [String],
    /// Whether each crate is indexed (the others are shown, not built).
    pub indexed: &'a [bool],
    /// The hash of the workspace unit's output as this build makes it.
    pub workspace_output_hash: &'a str,
    /// `--rebuild`.
    pub rebuild: bool,
}

/// For a crate whose recorded unit is still valid: its interface and its dependencies'
/// interfaces, as recorded.
pub type Unchanged = Option<(Option<String>, String)>;

pub enum Plan {
    /// Nothing changed since the build the cache describes.
    Skip(CacheState),
    /// Something changed: `unchanged[k]` is set for each crate whose unit is still valid;
    /// `changed` holds the recorded inputs that changed, by path.
    Update { previous: CacheState, unchanged: Vec<Unchanged>, changed: HashSet<Utf8PathBuf> },
    /// Build everything.
    Full,
}

/// Decides what the build of the graph at `db` does, and says how long checking the inputs took.
/// Inputs are checked on the current rayon pool.
pub fn plan(cache: &Cache, db: &Utf8Path, inputs: &PlanInputs<'_>) -> (Plan, Duration) {
    if inputs.rebuild {
        return (Plan::Full, Duration::ZERO);
    }
    let Some(previous) = cache.load(inputs.global_fingerprint, crate::store::stamp(db).as_deref()) else {
        return (Plan::Full, Duration::ZERO);
    };
    // The units whose fingerprint is still the crate's.
    let recorded: Vec<Option<&crate::incremental::UnitEntry>> = (0..inputs.keys.len())
        .map(|k| previous.units.get(&inputs.keys[k]).filter(|entry| entry.fingerprint == inputs.fingerprints[k]))
        .collect();
    // Every input of those units, checked once.
    let distinct: HashSet<&Input> = recorded.iter().flatten().flat_map(|entry| entry.summary.inputs.iter()).collect();
    let distinct: Vec<&Input> = distinct.into_iter().collect();
    let hashing = Instant::now();
    let changed: HashSet<&Input> = distinct.par_iter().filter(|input| !input.unchanged()).map(|input| *input).collect();
    let hashing = hashing.elapsed();
    let unchanged: Vec<Unchanged> = recorded
        .iter()
        .map(|entry| {
            let entry = (*entry)?;
            entry
                .summary
                .inputs
                .iter()
                .all(|input| !changed.contains(input))
                .then(|| (entry.summary.interface.clone(), entry.summary.deps_interface.clone()))
        })
        .collect();
    let current: HashMap<&str, bool> =
        inputs.keys.iter().zip(inputs.indexed).map(|(key, indexed)| (key.as_str(), *indexed)).collect();
    let all_indexed_unchanged = (0..inputs.keys.len()).all(|k| !inputs.indexed[k] || unchanged[k].is_some());
    let nothing_gone =
        previous.units.keys().all(|key| key == WORKSPACE_UNIT || current.get(key.as_str()).copied().unwrap_or(false));
    let workspace_same =
        previous.units.get(WORKSPACE_UNIT).is_some_and(|entry| entry.output.hash == inputs.workspace_output_hash);
    let plan = if all_indexed_unchanged && nothing_gone && workspace_same {
        Plan::Skip(previous)
    } else {
        let changed = changed.into_iter().map(|input| input.path.clone()).collect();
        Plan::Update { previous, unchanged, changed }
    };
    (plan, hashing)
}
