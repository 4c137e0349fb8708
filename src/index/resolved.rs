//! A crate's resolved edges, sent in segments that a rerun can keep.
//!
//! An item's edges depend on the crate's scopes (its `CrateDefs`, whose hash is its interface),
//! its `use` declarations, its dependencies' interfaces and what the item itself names (its
//! `Refs`), and on nothing else (`resolve::Scoped`). The crate's items, in `CrateDefs` order,
//! are cut into segments after the items whose id `EDGE_BATCH_CUT` picks; each segment's edges
//! are batches of their own, and its key hashes its items' ids and `Refs`. A rerun that indexes
//! the crate again (one of its files changed) and finds the interface, the `use` declarations
//! and the dependencies as recorded resolves only the segments whose key changed: the others
//! keep the batches they had, as bytes (`incremental::EdgeSegments`). A function body edited in
//! a large crate then resolves the segment around it, and lines moved in a file the segments of
//! that file's items (their edges carry lines), not the whole crate. When the interface changed
//! but only in some names (`resolve::names`: an item added, removed or changed), the segments
//! recorded under the same key whose items mention none of those names keep theirs too
//! (`kept_segments`).

use std::hash::Hash;
use std::ops::Range;
use std::sync::atomic::Ordering;

use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;
use uuid::Uuid;
use xxhash_rust::xxh3::Xxh3;

use super::{Ctx, EDGE_BATCH, EDGE_BATCH_CUT, Walk};
use crate::incremental::{BatchKeys, EdgeSegments, RecordedEdges, Segment, UnitSummary, decode_batches, read_back};
use crate::model::{Batch, Edge};
use crate::resolve::names::{self, NameDigest, Names};
use crate::resolve::{RecordRefs, ResolveStats, Scoped};

/// A segment's edges: resolved now, or kept from the last build.
enum Edges {
    Resolved(Vec<Edge>),
    Kept(Batches),
}

/// Batches kept from the last build: their keys, and their bytes.
type Batches = Vec<(BatchKeys, bytes::Bytes)>;

/// Per segment: what the last build recorded of it and its batches, when it keeps them.
type Kept<'c> = Vec<Option<(&'c Segment, Batches)>>;

/// What the crate's names mean now (`resolve::names`): its `NameDigest`, and the names that
/// changed in its dependencies since its last build, when that is known.
pub(super) struct NamesNow<'a> {
    pub digest: &'a NameDigest,
    pub deps_changed: Option<&'a Names>,
}

/// The crate's items cut into segments, with each segment's key and the hash of the items' `use`
/// declarations: what decides which recorded edges a rerun keeps. Worked out from the items'
/// ids and names (`Scoped::defs_bytes_with`), while the crate's defs are encoded.
pub(super) struct Keyed {
    segments: Vec<Range<u32>>,
    keys: Vec<(u64, u64)>,
    uses: u64,
}

pub(super) fn keyed(ids: &[Uuid], refs: &[RecordRefs]) -> Keyed {
    let segments = segments(ids.iter().copied());
    let keys: Vec<(u64, u64)> = segments.par_iter().map(|items| segment_key(ids, refs, items.clone())).collect();
    let uses = keys.iter().fold(0u64, |sum, (_, segment_uses)| sum.wrapping_add(*segment_uses));
    Keyed { segments, keys, uses }
}

/// Resolves the crate's items (those a rerun cannot keep) and sends their edges, after the
/// extern vertices they point to; records in `summary` how they were cut and what they counted.
/// `interface` is the hash of the crate's `CrateDefs::to_bytes`.
pub(super) fn send_resolved(
    ctx: &Ctx<'_>,
    walk: &Walk,
    scoped: &Scoped,
    interface: &str,
    names: NamesNow<'_>,
    keyed: Keyed,
    summary: &mut UnitSummary,
) {
    let Keyed { segments, keys, uses } = keyed;
    let deps = (summary.deps_interface.as_str(), names.deps_changed);
    let found = walk.cached.as_ref().and_then(|cached| {
        let recorded = cached.recorded_edges(uses)?;
        kept_segments(scoped, (interface, names.digest), deps, recorded, &segments, &keys)
    });
    let (recorded, mut kept, by_names) = match found {
        Some((recorded, kept, by_names)) => (Some(recorded), kept, by_names),
        None => (None, segments.iter().map(|_| None).collect(), false),
    };
    // Kept edges point to the recorded extern vertices: without them, nothing is kept.
    if let Some(recorded) = &recorded
        && kept.iter().any(Option::is_some)
        && !admit_externs(ctx, recorded)
    {
        kept.iter_mut().for_each(|kept| *kept = None);
    }
    // Edges kept by names point to items that exist now, or the segment is resolved again: a
    // guard, were what `resolve::names` compares to miss an item gone.
    if by_names {
        kept.par_iter_mut().for_each(|kept| {
            let stale = kept.as_ref().is_some_and(|(_, batches)| {
                batches.iter().flat_map(|(keys, _)| &keys.edges).any(|(from, _, to)| {
                    !ctx.registry.contains(from) || !(ctx.registry.contains(to) || ctx.externs.contains(to))
                })
            });
            if stale {
                *kept = None;
            }
        });
    }
    let todo: Vec<u32> =
        segments.iter().zip(&kept).filter(|(_, kept)| kept.is_none()).flat_map(|(items, _)| items.clone()).collect();
    ctx.items_resolved.fetch_add(todo.len(), Ordering::Relaxed);
    let mut resolved = scoped.edges(&ctx.world, &ctx.externs, &todo).into_iter();

    let mut records = Vec::with_capacity(segments.len());
    let mut edges = Vec::with_capacity(segments.len());
    for ((items, (key, _)), kept) in segments.iter().zip(&keys).zip(&mut kept) {
        match kept.take() {
            Some((segment, batches)) => {
                records.push(segment.clone());
                edges.push(Edges::Kept(batches));
            }
            None => {
                let mut segment_edges = Vec::new();
                let mut stats = ResolveStats::default();
                for (mut item_edges, item_stats) in resolved.by_ref().take(items.len()) {
                    segment_edges.append(&mut item_edges);
                    stats += item_stats;
                }
                let validation = ctx.registry.check_edges(&mut segment_edges, |id| ctx.externs.contains(id));
                records.push(Segment { key: *key, batches: 0, resolve: stats, validation });
                edges.push(Edges::Resolved(segment_edges));
            }
        }
    }

    // The extern vertices first, so that the writer need not hold the edges that point to them.
    let targets = edges.iter().flat_map(|edges| -> Box<dyn Iterator<Item = Uuid> + '_> {
        match edges {
            Edges::Resolved(edges) => Box::new(edges.iter().map(|edge| edge.to)),
            Edges::Kept(batches) => Box::new(batches.iter().flat_map(|(keys, _)| keys.edges.iter().map(|edge| edge.2))),
        }
    });
    let externs = ctx.externs.vertices(targets);
    let output_batches = || walk.output.lock().unwrap_or_else(|poison| poison.into_inner()).batches() as u32;
    let externs_at = (!externs.is_empty()).then(output_batches);
    ctx.send(walk, Batch { vertices: externs, edges: Vec::new() });
    let first = output_batches();
    for (edges, record) in edges.into_iter().zip(&mut records) {
        match edges {
            Edges::Resolved(edges) => {
                let before = output_batches();
                for batch in batches(edges) {
                    ctx.send(walk, Batch { vertices: Vec::new(), edges: batch });
                }
                record.batches = output_batches() - before;
            }
            Edges::Kept(batches) => {
                for (keys, bytes) in batches {
                    ctx.send_reused(walk, &keys, bytes);
                }
            }
        }
    }

    summary.resolve = scoped.import_stats;
    for record in &records {
        summary.resolve += record.resolve;
        summary.validation += record.validation;
    }
    summary.edge_segments = Some(EdgeSegments { uses, externs: externs_at, first, segments: records });
}

/// The recorded segments a rerun keeps (`recorded`, resolved with the same `use` declarations):
/// those whose key is recorded (the same items, naming what they named) and whose items mention
/// none of the names whose meaning changed since (`resolve::names`): none when the crate's
/// interface and its dependencies' (`deps`: their hash now, and the names that changed in them
/// since, when known) are as recorded, else those its `NameDigest` (`now`, with the interface)
/// and its dependencies' give. Matched by key, not position: an item added may cut one more
/// segment. Also says whether names had to be compared (the kept edges are then checked).
fn kept_segments<'c>(
    scoped: &Scoped,
    (interface, digest): (&str, &NameDigest),
    (deps_interface, deps_changed): (&str, Option<&Names>),
    recorded: RecordedEdges<'c>,
    segments: &[Range<u32>],
    keys: &[(u64, u64)],
) -> Option<(RecordedEdges<'c>, Kept<'c>, bool)> {
    let by_names = recorded.interface != interface || recorded.deps_interface != deps_interface;
    let mut changed = Names::default();
    if by_names {
        changed = recorded.names?.changed(digest)?;
        if recorded.deps_interface != deps_interface {
            changed.extend(deps_changed?);
        }
        if !changed.is_empty() {
            names::close_over_shapes(&mut changed, &[scoped.defs.shape_mentions()]);
        }
    }
    let by_key: HashMap<u64, &(&Segment, Vec<bytes::Bytes>)> =
        recorded.segments.iter().map(|entry| (entry.0.key, entry)).collect();
    let kept = segments
        .par_iter()
        .zip(keys)
        .map(|(items, (key, _))| {
            let (segment, batches) = by_key.get(key)?;
            if items.clone().any(|item| names::item_mentions_any(&scoped.defs, scoped.refs(), item, &changed)) {
                return None;
            }
            Some((*segment, decode_batch_keys(batches)?))
        })
        .collect();
    Some((recorded, kept, by_names))
}

/// The crate's items, by their ids in `CrateDefs` order, cut into segments: after each item
/// whose id `EDGE_BATCH_CUT` picks (one in 64), so that an item added or removed moves no cut but
/// its own.
fn segments(ids: impl Iterator<Item = Uuid>) -> Vec<Range<u32>> {
    let mut segments = Vec::new();
    let mut start = 0;
    let mut len = 0;
    for (index, id) in ids.enumerate() {
        len = index as u32 + 1;
        if id.as_bytes()[15] < EDGE_BATCH_CUT {
            segments.push(start..len);
            start = len;
        }
    }
    if start < len {
        segments.push(start..len);
    }
    segments
}

/// A segment's edges cut into batches of at most `EDGE_BATCH`.
fn batches(edges: Vec<Edge>) -> Vec<Vec<Edge>> {
    let mut batches = Vec::new();
    let mut edges = edges.into_iter().peekable();
    while edges.peek().is_some() {
        batches.push(edges.by_ref().take(EDGE_BATCH).collect());
    }
    batches
}

/// A segment's key (its items' ids and what each names, as resolution reads it) and the sum of
/// the hashes of its items' `use` declarations (but their lines), each with the item's id:
/// summed over the crate, they give the same whatever the cuts, and items without any add
/// nothing, so that an item added leaves the crate's `uses` as they were (`kept_segments` needs
/// them so). The hashes are
/// `Hash`'s and the names' encoding's (`RecordRefs::names_hash`, which a record read back from
/// the cache has at hand): a cache is only read by the binary that wrote it
/// (`incremental::crate_fingerprints`), and each `Vec` and `String` writes its length or an end,
/// so that the concatenation is unambiguous.
fn segment_key(ids: &[Uuid], refs: &[RecordRefs], items: Range<u32>) -> (u64, u64) {
    let (mut key, mut uses) = (Xxh3::new(), 0u64);
    for index in items {
        key.update(ids[index as usize].as_bytes());
        let refs = &refs[index as usize];
        if !refs.uses().is_empty() {
            let mut item_uses = Xxh3::new();
            item_uses.update(ids[index as usize].as_bytes());
            // Without their lines: what imports resolve to does not depend on them, and a line
            // added above a `use` must not send every segment back to resolution (the segment
            // key, which has them, sends its own).
            for import in refs.uses() {
                let crate::parse::UseFacts { path, name, renamed, visibility, line: _, macro_use, cfg } = import;
                (path, name, renamed, visibility, macro_use, cfg).hash(&mut item_uses);
            }
            uses = uses.wrapping_add(item_uses.digest());
        }
        refs.uses().hash(&mut key);
        refs.supertraits().hash(&mut key);
        // Not `body_macros`, which resolution does not read (their calls were merged into
        // `calls` before it, `index::expand_body_macros`).
        key.update(&refs.names_hash().to_le_bytes());
    }
    (key.digest(), uses)
}

/// Notes the extern vertices the recorded edges point to; `false` when their batch is damaged,
/// and no recorded edge can then be kept.
fn admit_externs(ctx: &Ctx<'_>, recorded: &RecordedEdges<'_>) -> bool {
    let Some(bytes) = recorded.externs else { return true };
    match read_back(decode_batches(&[bytes]), "recorded extern vertices") {
        Some(batches) => {
            for batch in &batches {
                ctx.externs.admit(&batch.vertices);
            }
            true
        }
        None => false,
    }
}

/// The keys of each recorded batch, with its bytes; `None` when one is damaged.
fn decode_batch_keys(batches: &[bytes::Bytes]) -> Option<Batches> {
    batches
        .iter()
        .map(|bytes| Some((read_back(BatchKeys::decode(bytes), "a recorded batch")?, bytes.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EdgeKind;

    /// Every batch of a crate's resolved edges, cut as `send_resolved` cuts them.
    fn cut(items: &[Uuid], edges_of: impl Fn(usize) -> Vec<Edge>) -> Vec<Vec<Edge>> {
        segments(items.iter().copied())
            .into_iter()
            .flat_map(|segment| batches(segment.flat_map(|index| edges_of(index as usize)).collect()))
            .collect()
    }

    #[test]
    fn an_edit_to_one_items_edges_changes_one_batch_of_them() {
        // 5,000 items with 1 to 4 edges each, as resolution gives them: grouped by item, in order.
        let item = |n: u32| Uuid::new_v5(&Uuid::NAMESPACE_OID, &n.to_le_bytes());
        let items: Vec<Uuid> = (0..5000).map(item).collect();
        let edges_of = |n: u32, extra: u32| {
            (0..1 + n % 4 + extra).map(move |k| Edge::new(item(n), EdgeKind::Calls, item(n + k + 1))).collect()
        };
        let before = cut(&items, |n| edges_of(n as u32, 0));
        // Item 2,500 gains two edges: every batch after it shifts if batches are cut by count.
        let after = cut(&items, |n| edges_of(n as u32, if n == 2500 { 2 } else { 0 }));
        assert!(before.len() > 40, "a few hundred edges a batch: {} batches", before.len());
        assert!(before.iter().all(|batch| !batch.is_empty() && batch.len() <= EDGE_BATCH));
        let changed = after.iter().filter(|batch| !before.contains(batch)).count();
        assert_eq!((changed, after.len()), (1, before.len()));
        // An item's edges are never split between batches while they are fewer than EDGE_BATCH.
        let firsts: Vec<_> = after.iter().skip(1).map(|batch| batch[0].from).collect();
        assert!(after.iter().zip(&firsts).all(|(batch, next)| batch.last().unwrap().from != *next));
        // An item added moves no cut but its own: the batches of the segments around it stay.
        let mut more = items.clone();
        more.insert(2500, item(9999));
        let added = cut(&more, |n| match n {
            2500 => Vec::new(),
            _ if n < 2500 => edges_of(n as u32, 0),
            _ => edges_of(n as u32 - 1, 0),
        });
        assert!(added.iter().filter(|batch| !before.contains(batch)).count() <= 2);
        // One item with more edges than a batch holds is cut by count.
        let many = cut(&[item(0)], |_| {
            (0..EDGE_BATCH as u32 + 5).map(|k| Edge::new(item(0), EdgeKind::Calls, item(k))).collect()
        });
        assert_eq!(many.iter().map(Vec::len).collect::<Vec<_>>(), [EDGE_BATCH, 5]);
    }
}
