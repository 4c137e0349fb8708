//! A crate whose edited files changed nothing that is read beyond their own vertices.
//!
//! A rerun indexes a crate again when one of its files changed. But an edit often changes only
//! what a file's own vertices hold: a comment added at the end moves the module's last line, a
//! literal changed in a function body changes the function's `hash`, a doc comment its `doc`. The
//! records resolution reads (items, names, `use`s, calls, lines), the macro calls expansion
//! reads and the `mod` declarations the walk follows are then as they were, and so is everything
//! made from them: the crate's scopes, its resolved edges, its expansions, what its dependents
//! see. `patch` indexes each changed file on its own, from where the last walk reached it
//! (`FileOrigin`), and when the file's entry differs from the recorded one in its batch's
//! properties only, takes the crate's recorded output with the file's new batch in the old one's
//! place: no walk of the other files, no expansion, no resolution.
//!
//! An edit that adds or removes lines (a statement added to a body) also moves the lines of the
//! records: when they are all that changed, `shift` finds how the lines moved and moves them in
//! the other batches that hold the file's lines (what its macro calls made, the edges from its
//! items), the segments of resolved edges it rewrote are forgotten for later reruns, and the
//! files declared at a line that moved get the entries (and keys) a walk would give them.

use std::panic::{AssertUnwindSafe, catch_unwind};

use uuid::Uuid;

use super::shift::{self, LineShift, Moved};
use super::{CrateOutput, Ctx, Deps, FileJob, Reuse, Walk, crate_cfg, display, index_file_contained};
use crate::cfg::CfgContext;
use crate::incremental::{
    BatchKeys, Change, FileCache, FileEntry, FileOrigin, FileOutput, Input, Parts, UnitSummary, decode_batches,
    encode_batch, read_back,
};
use crate::workspace::CrateInfo;

/// Whether `patch` may succeed for `krate`, known without reading its recorded files: some of its
/// own files changed, and its dependencies are as they were.
pub(super) fn worth_trying(reuse: &Reuse<'_>, krate: usize, deps: &Deps) -> bool {
    reuse.summaries[krate].is_some_and(|recorded| {
        recorded.deps_interface == deps.interface
            && recorded.interface.is_some()
            && recorded.inputs.iter().any(|input| reuse.changed.contains(&input.path))
    })
}

/// `krate`'s output, its recorded one patched, when every file of it that changed since the last
/// build (`Reuse::changed`) gives the records, macro calls, `mod` declarations and vertex and edge
/// keys it gave then, and its dependencies are what they were; `None` otherwise, and the crate is
/// indexed again. `cached` is its recorded files (`Reuse::files`).
pub(super) fn patch(
    ctx: &Ctx<'_>,
    reuse: &Reuse<'_>,
    krate_index: usize,
    deps: &Deps,
    cached: &FileCache,
) -> Option<CrateOutput> {
    if !worth_trying(reuse, krate_index, deps) {
        return None;
    }
    let recorded = reuse.summaries[krate_index]?;
    let changed: Vec<&Input> = recorded.inputs.iter().filter(|input| reuse.changed.contains(&input.path)).collect();
    let krate = &ctx.workspace.crates[krate_index];
    let package = &ctx.workspace.packages[krate.package];
    let cfg = crate_cfg(ctx, krate, package);
    let mut inputs: Vec<Input> =
        recorded.inputs.iter().filter(|input| !reuse.changed.contains(&input.path)).cloned().collect();
    let mut replaced = Vec::new();
    // The files whose lines moved, with the keys of their old entries.
    let mut moved: Vec<(Moved, Vec<String>)> = Vec::new();
    // Each file's old batch and its new one.
    let mut swapped = Vec::new();
    for input in changed {
        // A path that held no file then (one that appeared) is not patched.
        let old_hash = input.hash.as_deref()?;
        // A file also `include!`d somewhere gives items to the module that includes it.
        if recorded.included.binary_search(&input.path).is_ok() {
            return None;
        }
        // The root's `#![recursion_limit]` decides how deep every macro call of the crate expands.
        if input.path == krate.root
            && crate::parse::recursion_limit(&std::fs::read_to_string(&input.path).ok()?, |predicate| {
                cfg.eval(predicate)
            }) != recorded.recursion_limit
        {
            return None;
        }
        // What the walk said of the file may depend on more than its records (where its text
        // stops being UTF-8).
        let name = display(ctx, package, &input.path);
        if recorded.diagnostics.iter().any(|diagnostic| diagnostic.file == name) {
            return None;
        }
        // The file's entries: one per module whose body it is (`mod`s under opposite `cfg`s).
        let mut entries = 0;
        let mut shifted: Option<(LineShift, Vec<Uuid>, Vec<String>)> = None;
        for old_key in cached.keys_with_content(old_hash) {
            let (old_keys, origin, old_entry) = FileOutput::origin(cached.get(old_key)?)?;
            if !origin.candidates.iter().any(|candidate| candidate.path == input.path) {
                // Another file that had the same text.
                continue;
            }
            let (new_key, new_entry) = index_alone(ctx, krate, &cfg, origin, input, recorded, &mut inputs)?;
            let [head, batch, tail] = new_entry.parts().try_into().ok()?;
            // The same vertices and edges; the same records, macro calls, declarations and origin,
            // or those but for lines that moved (alike in each of the file's entries).
            if head != old_entry.head || read_back(BatchKeys::decode(batch), "a file's batch")? != old_keys {
                return None;
            }
            if tail != old_entry.tail {
                if !recorded.included.is_empty() {
                    // An `include!`d file's `use`s are the including module's, with its lines.
                    return None;
                }
                let shift = shift::between(old_entry, FileEntry { head, batch, tail }, &name)?;
                let (first, vertices, keys) = shifted.get_or_insert_with(|| (shift.clone(), Vec::new(), Vec::new()));
                if *first != shift {
                    return None;
                }
                vertices.extend(old_keys.vertices.iter().map(|(id, _)| *id));
                keys.push(old_key.to_owned());
            }
            swapped.push((old_entry.batch, batch.to_vec()));
            replaced.push((old_key.to_owned(), new_key, new_entry));
            entries += 1;
        }
        if entries == 0 {
            return None;
        }
        if let Some((shift, vertices, keys)) = shifted {
            replaced.extend(redeclared(cached, &keys, &name, &shift)?);
            moved.push((Moved { name, shift, batches: Vec::new(), vertices }, keys));
        }
    }
    // A file both changed and declared at a line that moved would be given two new entries.
    let mut old_keys: Vec<&str> = replaced.iter().map(|(old, ..)| old.as_str()).collect();
    old_keys.sort_unstable();
    if old_keys.windows(2).any(|pair| pair[0] == pair[1]) {
        return None;
    }
    // The batches of the crate that hold lines of a file whose lines moved, with them moved.
    let mut rewritten = std::collections::BTreeMap::new();
    if !moved.is_empty() {
        let owners = cached.batch_owners(&recorded.batches);
        let mut files = Vec::with_capacity(moved.len());
        for (mut file, keys) in moved {
            let own = owners.iter().filter(|(_, owner)| keys.iter().any(|key| key == *owner));
            file.batches = own.map(|(&i, _)| i).collect();
            if file.batches.len() != keys.len() {
                return None;
            }
            files.push(file);
        }
        rewritten = shift::rewrite(&cached.output_batches(&recorded.batches)?, &owners, &files)?;
    }
    // When no key is in two batches of the output, the batches swapped are all that changed.
    let change = recorded.disjoint.then(|| {
        let (old, new): (Vec<&[u8]>, Vec<&[u8]>) = swapped.iter().map(|(old, new)| (*old, new.as_slice())).unzip();
        let (mut old, mut new) =
            (read_back(decode_batches(&old), "recorded batches")?, read_back(decode_batches(&new), "batches")?);
        for (was, is) in rewritten.values() {
            old.push(was.clone());
            new.push(is.clone());
        }
        Some(Change { old, new })
    });
    let forgotten: Vec<usize> = rewritten.keys().copied().collect();
    let rewritten = rewritten.into_iter().map(|(i, (_, batch))| (i, encode_batch(&batch))).collect();
    let (output, batches, files) = cached.patched(&recorded.batches, replaced, rewritten)?;
    let mut summary = recorded.clone();
    if let Some(segments) = &mut summary.edge_segments {
        segments.forget(forgotten);
    }
    inputs.sort();
    inputs.dedup();
    summary.inputs = inputs;
    summary.batches = batches;
    Some(CrateOutput {
        krate: krate_index,
        output,
        defs: None,
        files,
        summary,
        names: None,
        previous_names: None,
        scopes_as_recorded: true,
        change: change.flatten(),
        previous_output: Some(cached.output().clone()),
    })
}

/// The entry the file at `input` gives now, indexed on its own from where the last walk reached
/// it (`origin`); `None` when that is not the entry a walk of the crate would give it: the file
/// has diagnostics now, or it read other files than it did. Notes the file's new input.
fn index_alone(
    ctx: &Ctx<'_>,
    krate: &CrateInfo,
    cfg: &CfgContext,
    origin: FileOrigin,
    input: &Input,
    recorded: &UnitSummary,
    inputs: &mut Vec<Input>,
) -> Option<(String, Parts)> {
    // A file the fallback would parse again is parsed once (`SharedParses`).
    ctx.parses.expect_again(&input.path);
    let walk = Walk::default();
    let job = FileJob {
        krate,
        package: &ctx.workspace.packages[krate.package],
        cfg,
        candidates: origin.candidates,
        module: origin.module,
        decl: origin.decl,
        ancestors: origin.ancestors,
        under_expansion: false,
        walk: &walk,
    };
    let indexed = catch_unwind(AssertUnwindSafe(|| index_file_contained(ctx, &job))).is_ok();
    proc_macro2::extra::invalidate_current_thread_spans();
    drop(job);
    let diagnostics = walk.diagnostics.into_inner().unwrap_or_else(|poison| poison.into_inner());
    if !indexed || !diagnostics.is_empty() || walk.files_failed.into_inner() > 0 {
        return None;
    }
    // It read the file it read then (and looked in vain where it looked then).
    for read in walk.inputs.into_inner().unwrap_or_else(|poison| poison.into_inner()) {
        match read.hash {
            Some(_) if read.path == input.path => inputs.push(read),
            _ if recorded.inputs.contains(&read) => {}
            _ => return None,
        }
    }
    let mut files = walk.files.into_inner().unwrap_or_else(|poison| poison.into_inner());
    files.pop().filter(|_| files.is_empty())
}

/// The entries of the files declared at a line of the file `name` that moved (`shift::redeclared`),
/// by their old key: the old key, the new one and the new entry. `keys` are the file's own
/// entries; `None` when one cannot be redeclared.
fn redeclared(
    cached: &FileCache,
    keys: &[String],
    name: &str,
    shift: &LineShift,
) -> Option<Vec<(String, String, Parts)>> {
    let mut redeclared = Vec::new();
    for key in cached.keys_holding(name.as_bytes()) {
        if keys.iter().any(|own| own == key) || key.starts_with(super::EXPANSION_KEY) {
            continue;
        }
        let entry = cached.get(key)?;
        let (_, origin, _) = FileOutput::origin(entry)?;
        match &origin.decl {
            Some((file, line)) if file == name && !shift.keeps(*line) => {
                let (new_key, parts) = shift::redeclared(entry, key, name, shift, cached.share(entry.batch))?;
                redeclared.push((key.to_owned(), new_key, parts));
            }
            _ => {}
        }
    }
    Some(redeclared)
}
