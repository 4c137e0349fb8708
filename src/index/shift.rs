//! Lines moved in a file, and nothing else: what `patch` needs for an edit that adds or removes
//! lines (a statement added to a function body) without changing what any record names.
//!
//! A file's lines are in its crate's output in three places only: its own batch (which the patch
//! makes again), the items its macro calls' expansions made (`line` and `end_line` are at the
//! call, or inside its text), and the edges from its items and from those (`line`, where the
//! target is first named). When the file's records, macro calls, `mod` declarations and origin
//! are the recorded ones but for the lines they hold, pairing their old and new lines gives how
//! lines moved (`LineShift`); moving the lines of those vertices and edges, batch by batch, gives
//! the output a full build would, for nothing else reads lines: the crate's scopes hold none, its
//! segments resolve to the same targets, its dependents see what they saw.

use std::collections::{BTreeMap, HashMap, HashSet};

use rayon::prelude::*;
use serde_json::Value;
use uuid::Uuid;

use crate::incremental::{FileEntry, FileOutput, FileOutputRef, decode_batches, read_back};
use crate::model::{Batch, Props};

/// How a file's lines moved: old lines and the new ones, from the pairs its records gave, both
/// strictly increasing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LineShift {
    pairs: Vec<(u32, u32)>,
}

impl LineShift {
    /// `None` when the pairs do not keep the lines' order (two lines joined, or an old line
    /// that went two ways).
    fn new(mut pairs: Vec<(u32, u32)>) -> Option<LineShift> {
        pairs.sort_unstable();
        pairs.dedup();
        pairs.windows(2).all(|pair| pair[0].0 < pair[1].0 && pair[0].1 < pair[1].1).then_some(LineShift { pairs })
    }

    /// Where the old `line` is now: a line some record held, or one between two lines that
    /// moved alike. A line an expansion gave lies in its call's text, whose first and last lines
    /// are paired and in which nothing moved (the text is the recorded one), so the nearest
    /// pairs around it are inside that text too. `None` for any other line.
    pub(super) fn map(&self, line: u32) -> Option<u32> {
        let at = self.pairs.partition_point(|&(old, _)| old < line);
        let &(old_after, new_after) = self.pairs.get(at)?;
        if old_after == line {
            return Some(new_after);
        }
        let &(old_before, new_before) = self.pairs.get(at.checked_sub(1)?)?;
        let moved = i64::from(new_after) - i64::from(old_after);
        (i64::from(new_before) - i64::from(old_before) == moved)
            .then(|| u32::try_from(i64::from(line) + moved).ok())
            .flatten()
    }

    /// Whether the line is where it was.
    pub(super) fn keeps(&self, line: u32) -> bool {
        self.map(line) == Some(line)
    }
}

/// How `file`'s lines moved between two entries of it (`FileOutputRef::encode`d), when the new
/// entry is the old one but for the lines of its records and macro calls; `None` otherwise.
/// `file` is its name in the graph.
pub(super) fn between(old: FileEntry<'_>, new: FileEntry<'_>, file: &str) -> Option<LineShift> {
    let (mut old, _) = read_back(FileOutput::decode(old), "a file's cache entry")?;
    let (mut new, _) = read_back(FileOutput::decode(new), "a file's cache entry")?;
    let mut old_lines = Vec::new();
    visit_lines(&mut old, file, &mut |line, span| old_lines.push((*line, span)));
    let mut new_lines = Vec::new();
    visit_lines(&mut new, file, &mut |line, span| new_lines.push((*line, span)));
    if old_lines.len() != new_lines.len() {
        return None;
    }
    // Given the old lines, the new entry must be the old one.
    let mut given = old_lines.iter();
    visit_lines(&mut new, file, &mut |line, _| {
        if let Some((old, _)) = given.next() {
            *line = *old;
        }
    });
    if encode(&old) != encode(&new) {
        return None;
    }
    let mut pairs = Vec::with_capacity(old_lines.len());
    for (&(old, span), &(new, _)) in old_lines.iter().zip(&new_lines) {
        pairs.push((old, new));
        // A call's text moved whole (it is the recorded one): its last line is paired too.
        if span > 0 {
            pairs.push((old.checked_add(span)?, new.checked_add(span)?));
        }
    }
    LineShift::new(pairs)
}

fn encode(output: &FileOutput) -> Vec<u8> {
    entry_of(output, bytes::Bytes::new()).to_vec()
}

/// The entry `output` encodes as, with `batch` as its batch (`FileOutputRef::encode`).
fn entry_of(output: &FileOutput, batch: bytes::Bytes) -> crate::incremental::Parts {
    let origin = &output.origin;
    let origin = (origin.candidates.as_slice(), &origin.module, &origin.decl, origin.ancestors.as_slice());
    FileOutputRef { records: &output.records, sites: &output.sites, children: &output.children, origin }.encode(batch)
}

/// Calls `f` with each line of `file` that the entry's records, macro calls and `mod`
/// declarations hold, in a fixed order, and with how many lines the text starting there spans
/// after it (a macro call's). A line left out here is compared as it is: a module's own record
/// (its line is where it was declared, in another file), and any line field not named here.
fn visit_lines(output: &mut FileOutput, file: &str, f: &mut dyn FnMut(&mut u32, u32)) {
    for record in &mut output.records {
        if *record.file == *file {
            f(&mut record.line, 0);
        }
        record.refs.open_mut().visit_lines(f);
    }
    for site in &mut output.sites {
        site.call.visit_lines(f);
    }
    for child in &mut output.children {
        f(&mut child.decl_line, 0);
    }
}

/// The entry of a file declared at a line of `file` that moved (a `mod x;` of it, written or
/// made by one of its macro calls), as the walk would now give it: its origin and its module's
/// record at the new line. Its key changes with them (`index::file_context`); its batch does not (a
/// module's vertex is at the first line of its own file). `None` when the line has no place in
/// the shift, or the key is not one the walk gave.
pub(super) fn redeclared(
    entry: FileEntry<'_>,
    key: &str,
    file: &str,
    shift: &LineShift,
    batch: bytes::Bytes,
) -> Option<(String, crate::incremental::Parts)> {
    let (mut output, _) = read_back(FileOutput::decode(entry), "a file's cache entry")?;
    let origin = &mut output.origin;
    let (declared_in, old) = origin.decl.as_mut()?;
    let (declared_in, old) = (declared_in.clone(), *old);
    let new = shift.map(old)?;
    // The candidate the walk found, which the key names, and the hash of the text after it.
    let (path, content) = origin.candidates.iter().find_map(|candidate| {
        let context = super::file_context(&candidate.path, &origin.module, &origin.decl);
        Some((candidate.path.clone(), key.strip_prefix(context.as_str())?.to_owned()))
    })?;
    origin.module.decl_line = new;
    origin.decl = Some((declared_in, new));
    for record in &mut output.records {
        if *record.file == *file {
            record.line = shift.map(record.line)?;
        }
    }
    let new_key = format!("{}{content}", super::file_context(&path, &output.origin.module, &output.origin.decl));
    Some((new_key, entry_of(&output, batch)))
}

/// A file whose lines moved, as `rewrite` needs it: its name in the graph, how its lines moved,
/// the indices of its own batches among the crate's (one per module whose body it is), and its
/// own vertices.
pub(super) struct Moved {
    pub name: String,
    pub shift: LineShift,
    pub batches: Vec<usize>,
    pub vertices: Vec<Uuid>,
}

/// The crate's batches, other than the moved files' own, that hold their lines, each as it was
/// and with the lines moved, by index: those with vertices an expansion of the file's macro calls
/// made (their `file` is the file) and those with edges from the file's vertices or those (with a
/// `line`). `owners` names the batches that are files' (`FileCache::batch_owners`). `None` when a
/// line has no place in its file's shift, or another file's batch holds vertices of the file.
pub(super) fn rewrite(
    batches: &[&[u8]],
    owners: &HashMap<usize, &str>,
    moved: &[Moved],
) -> Option<BTreeMap<usize, (Batch, Batch)>> {
    let own: HashSet<usize> = moved.iter().flat_map(|file| file.batches.iter().copied()).collect();
    let others = || (0..batches.len()).into_par_iter().filter(|i| !own.contains(i));
    let mut rewritten: BTreeMap<usize, (Batch, Batch)> = BTreeMap::new();
    // The batch at `i`, as it was and as it is being rewritten.
    let decode = |i: usize| -> Option<(Batch, Batch)> {
        let batch = read_back(decode_batches(&[batches[i]]), "a batch")?.pop()?;
        Some((batch.clone(), batch))
    };
    // The vertices of the moved files, and those their macro calls made, to the file's shift.
    let mut from: HashMap<Uuid, &LineShift> = HashMap::new();
    for file in moved {
        from.extend(file.vertices.iter().map(|&id| (id, &file.shift)));
    }
    let finders: Vec<_> = moved.iter().map(|file| memchr::memmem::Finder::new(file.name.as_bytes())).collect();
    let naming: Vec<usize> =
        others().filter(|&i| finders.iter().any(|finder| finder.find(batches[i]).is_some())).collect();
    for i in naming {
        let (_, batch) = rewritten.entry(i).or_insert(decode(i)?);
        for vertex in &mut batch.vertices {
            let file = vertex.props.get("file").and_then(Value::as_str);
            let Some(file) = moved.iter().find(|moved| Some(moved.name.as_str()) == file) else { continue };
            if owners.contains_key(&i) {
                return None;
            }
            move_line(&mut vertex.props, "line", &file.shift)?;
            move_line(&mut vertex.props, "end_line", &file.shift)?;
            from.insert(vertex.id, &file.shift);
        }
    }
    // Edges from those vertices: in the batches that are no file's (expansions, resolved edges).
    let holding: Vec<usize> = others()
        .filter(|i| !owners.contains_key(i) && !rewritten.contains_key(i) && may_hold_edge_from(batches[*i], &from))
        .collect();
    for i in holding {
        rewritten.insert(i, decode(i)?);
    }
    for (i, (_, batch)) in &mut rewritten {
        if owners.contains_key(i) {
            continue;
        }
        for edge in &mut batch.edges {
            if let Some(shift) = from.get(&edge.from) {
                move_line(&mut edge.props, "line", shift)?;
            }
        }
    }
    // Batches that named the file without holding its lines stay as they were.
    rewritten.retain(|_, (old, new)| old != new);
    Some(rewritten)
}

/// How an edge starts in a batch's bytes (`encode_batch`): an array of its four fields, the first
/// its `from` id, as 16 bytes of msgpack `bin`.
const EDGE_HEAD: [u8; 3] = [0x94, 0xc4, 0x10];

/// Whether the batch's bytes may hold an edge from one of `from`: somewhere an edge's head is
/// followed by one of those ids. The same bytes inside a property only cost a decoding.
fn may_hold_edge_from(bytes: &[u8], from: &HashMap<Uuid, &LineShift>) -> bool {
    memchr::memmem::find_iter(bytes, &EDGE_HEAD).any(|at| {
        let id = bytes.get(at + EDGE_HEAD.len()..at + EDGE_HEAD.len() + 16);
        id.and_then(|id| Uuid::from_slice(id).ok()).is_some_and(|id| from.contains_key(&id))
    })
}

/// Moves the line at `key`, when there is one.
fn move_line(props: &mut Props, key: &'static str, shift: &LineShift) -> Option<()> {
    let Some(value) = props.get_mut(key) else { return Some(()) };
    let line = u32::try_from(value.as_u64()?).ok()?;
    *value = Value::from(shift.map(line)?);
    Some(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use uuid::Uuid;

    use super::{LineShift, may_hold_edge_from};
    use crate::incremental::encode_batch;
    use crate::model::{Batch, Edge, EdgeKind};

    #[test]
    fn an_edge_is_found_by_its_from_in_a_batchs_bytes() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let mut edge = Edge::new(a, EdgeKind::Calls, b);
        edge.props.insert("line", serde_json::Value::from(7));
        let bytes = encode_batch(&Batch { vertices: Vec::new(), edges: vec![edge] });
        let shift = LineShift::new(vec![(1, 1)]).unwrap();
        assert!(may_hold_edge_from(&bytes, &HashMap::from([(a, &shift)])));
        assert!(!may_hold_edge_from(&bytes, &HashMap::from([(b, &shift), (c, &shift)])), "only by `from`");
    }

    #[test]
    fn a_shift_moves_lines_inside_what_moved_alike_and_no_others() {
        // Lines 1-10 stayed, a line was added after 10; 12 became 13 and so on.
        let shift = LineShift::new(vec![(1, 1), (10, 10), (12, 13), (20, 21), (30, 31)]).unwrap();
        assert_eq!(shift.map(10), Some(10));
        assert_eq!(shift.map(5), Some(5), "between two lines that stayed");
        assert_eq!(shift.map(25), Some(26), "between two lines that moved alike");
        assert_eq!(shift.map(11), None, "where the edit was");
        assert_eq!(shift.map(31), None, "after the last line known");
        assert_eq!(shift.map(0), None, "before the first");
        assert!(shift.keeps(1) && !shift.keeps(20));
        assert!(LineShift::new(vec![(3, 3), (4, 3)]).is_none(), "two lines joined");
        assert!(LineShift::new(vec![(3, 3), (3, 4)]).is_none(), "one line two ways");
        assert!(LineShift::new(vec![(3, 5), (4, 4)]).is_none(), "order changed");
    }
}
