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

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{CrateOutput, Ctx, Deps, FileJob, Reuse, Walk, crate_cfg, display, index_file_contained};
use crate::incremental::{BatchKeys, Change, FileCache, FileOutput, Input, decode_batches};

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
    // Each file's old batch and its new one.
    let mut swapped = Vec::new();
    for input in changed {
        // A path that held no file then (one that appeared) is not patched.
        let old_hash = input.hash.as_deref()?;
        // A file also `include!`d somewhere gives items to the module that includes it.
        if recorded.included.binary_search(&input.path).is_ok() {
            return None;
        }
        // What the walk said of the file may depend on more than its records (where its text
        // stops being UTF-8).
        let name = display(ctx, package, &input.path);
        if recorded.diagnostics.iter().any(|diagnostic| diagnostic.file == name) {
            return None;
        }
        let mut found = false;
        for old_key in cached.keys_with_content(old_hash) {
            let (old_keys, origin, old_entry) = FileOutput::origin(cached.get(old_key)?)?;
            if !origin.candidates.iter().any(|candidate| candidate.path == input.path) {
                // Another file that had the same text.
                continue;
            }
            // A file the fallback would parse again is parsed once (`SharedParses`).
            ctx.parses.expect_again(&input.path);
            let walk = Walk::default();
            let job = FileJob {
                krate,
                package,
                cfg: &cfg,
                candidates: origin.candidates,
                module: origin.module,
                decl: origin.decl,
                ancestors: origin.ancestors,
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
            let (new_key, new_entry) = files.pop().filter(|_| files.is_empty())?;
            let [head, batch, tail] = new_entry.parts().try_into().ok()?;
            // The same records, macro calls, declarations and origin; the same vertices and edges.
            if head != old_entry.head || tail != old_entry.tail || BatchKeys::decode(batch)? != old_keys {
                return None;
            }
            swapped.push((old_entry.batch, batch.to_vec()));
            replaced.push((old_key.to_owned(), new_key, new_entry));
            found = true;
        }
        if !found {
            return None;
        }
    }
    // When no key is in two batches of the output, the batches swapped are all that changed.
    let change = recorded.disjoint.then(|| {
        let (old, new): (Vec<&[u8]>, Vec<&[u8]>) = swapped.iter().map(|(old, new)| (*old, new.as_slice())).unzip();
        Some(Change { old: decode_batches(&old)?, new: decode_batches(&new)? })
    });
    let (output, batches, files) = cached.patched(&recorded.batches, replaced)?;
    let mut summary = recorded.clone();
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
    })
}
