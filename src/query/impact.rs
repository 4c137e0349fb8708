//! `impact`: what a change touches, and everything that depends on it.
//!
//! A change is a file (relative to the workspace root, as the graph names files) and optionally a
//! line. The items it touches are the innermost items whose lines span it (the whole file's
//! items without a line; the file's module when no item spans the line). Their dependents are
//! found by following, backwards and transitively, every edge by which code names an item (`use`,
//! call, reference, macro invocation, impl, derive, supertrait); a changed field or variant
//! touches its type too. Results are grouped by crate; crates that are test, bench or example
//! targets, and items compiled only for tests, are marked `test`.
//!
//! `git_diff` turns `git diff REV` into changes: the lines each hunk adds or rewrites, in the
//! files as they are now (which the graph, brought up to date first, describes).

use std::collections::{BTreeMap, HashSet};
use std::process::Command;

use camino::{Utf8Path, Utf8PathBuf};

use super::{Answer, QueryError, REFERENCE_EDGES, Record, RecordType, display_path, evidence, vertex_record};
use crate::model::VertexKind;
use crate::store::{Direction, Graph, V};

/// A changed place: a file relative to the workspace root (`/`-separated), and a line (the whole
/// file without one).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Change {
    pub file: String,
    pub line: Option<u64>,
}

/// `FILE[:LINE]` as a user gives it: relative to `cwd` or absolute, made relative to `root`.
pub fn parse_change(text: &str, root: &Utf8Path, cwd: &Utf8Path) -> Result<Change, QueryError> {
    let bad = |message: String| QueryError::BadArgument { name: "changes", message };
    let (file, line) = match text.rsplit_once(':') {
        Some((file, line)) if !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) => {
            let line: u64 = line.parse().map_err(|_| bad(format!("`{text}`: the line is too large")))?;
            if line == 0 {
                return Err(bad(format!("`{text}`: lines start at 1")));
            }
            (file, Some(line))
        }
        _ => (text, None),
    };
    if file.is_empty() {
        return Err(bad(format!("`{text}` names no file")));
    }
    let given = Utf8Path::new(file);
    let absolute = if given.is_absolute() { given.to_owned() } else { cwd.join(given) };
    let relative = normalize(&absolute)
        .strip_prefix(normalize(root))
        .map(|p| p.to_owned())
        .or_else(|_| {
            // Already relative to the workspace root, from elsewhere.
            if !given.is_absolute() && root.join(given).exists() { Ok(normalize(given)) } else { Err(()) }
        })
        .map_err(|()| bad(format!("`{file}` is not inside the workspace `{root}`")))?;
    Ok(Change { file: relative.as_str().replace('\\', "/"), line })
}

/// `a/./b/../c` as `a/c`, without asking the file system.
fn normalize(path: &Utf8Path) -> Utf8PathBuf {
    let mut out = Utf8PathBuf::new();
    for component in path.components() {
        match component {
            camino::Utf8Component::CurDir => {}
            camino::Utf8Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_str()),
        }
    }
    out
}

/// The lines that `git diff REV` shows added or rewritten in the workspace at `root`, in the
/// files as they are now. A hunk that only deletes counts as a change of the line after it.
pub fn git_diff(root: &Utf8Path, rev: &str) -> Result<Vec<Change>, QueryError> {
    let bad = |message: String| QueryError::BadArgument { name: "diff", message };
    if rev.starts_with('-') {
        return Err(bad(format!("`{rev}` is not a revision")));
    }
    let output = Command::new("git")
        .current_dir(root)
        .args(["diff", "--no-color", "--no-ext-diff", "--unified=0", "--relative", rev, "--"])
        .output()
        .map_err(|err| bad(format!("cannot run git: {err}")))?;
    if !output.status.success() {
        return Err(bad(format!(
            "`git diff {rev}` failed in `{root}`: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(parse_diff(&String::from_utf8_lossy(&output.stdout)))
}

/// Changes from a unified diff with no context lines.
fn parse_diff(diff: &str) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut file: Option<String> = None;
    for line in diff.lines() {
        if let Some(path) = line.strip_prefix("+++ ") {
            // `+++ /dev/null` for a deleted file: nothing of it is in the graph any more.
            file = path.strip_prefix("b/").map(str::to_owned);
        } else if let (Some(hunk), Some(file)) = (line.strip_prefix("@@ "), &file) {
            // `@@ -a,b +c,d @@`: `d` lines from `c` in the new file (`d` is 1 when left out).
            let Some(new) = hunk.split(' ').find_map(|part| part.strip_prefix('+')) else { continue };
            let (start, count) = match new.split_once(',') {
                Some((start, count)) => (start.parse::<u64>().ok(), count.parse::<u64>().ok()),
                None => (new.parse::<u64>().ok(), Some(1)),
            };
            let (Some(start), Some(count)) = (start, count) else { continue };
            if count == 0 {
                changes.push(Change { file: file.clone(), line: Some(start.max(1)) });
            }
            for line in start..start + count {
                changes.push(Change { file: file.clone(), line: Some(line) });
            }
        }
    }
    changes.sort();
    changes.dedup();
    changes
}

/// Items, by file, with their line spans.
fn items_by_file(graph: &Graph) -> BTreeMap<&str, Vec<V>> {
    let mut by_file: BTreeMap<&str, Vec<V>> = BTreeMap::new();
    for v in graph.vertices() {
        if matches!(graph.kind(v), VertexKind::File | VertexKind::Package | VertexKind::Crate | VertexKind::Extern) {
            continue;
        }
        if let Some(file) = graph.text(v, "file") {
            by_file.entry(file).or_default().push(v);
        }
    }
    by_file
}

/// The vertices a change touches.
fn touched(graph: &Graph, items: &[V], line: Option<u64>) -> Vec<V> {
    let Some(line) = line else {
        return items.iter().copied().filter(|v| graph.kind(*v) != VertexKind::Module).collect();
    };
    let spans = |v: V| match (graph.uint(v, "line"), graph.uint(v, "end_line")) {
        (Some(start), Some(end)) if start <= line && line <= end => Some(end - start),
        _ => None,
    };
    let inner_items: Vec<(u64, V)> = items
        .iter()
        .copied()
        .filter(|v| graph.kind(*v) != VertexKind::Module)
        .filter_map(|v| spans(v).map(|width| (width, v)))
        .collect();
    let pool = if inner_items.is_empty() {
        items.iter().copied().filter_map(|v| spans(v).map(|width| (width, v))).collect()
    } else {
        inner_items
    };
    let Some(narrowest) = pool.iter().map(|(width, _)| *width).min() else { return Vec::new() };
    let mut found: Vec<V> = pool.into_iter().filter(|(width, _)| *width == narrowest).map(|(_, v)| v).collect();
    // A field or variant is part of its type: whoever names the type is touched too.
    let owners: Vec<V> = found
        .iter()
        .filter(|v| matches!(graph.kind(**v), VertexKind::Field | VertexKind::Variant))
        .filter_map(|v| graph.parent(*v))
        .collect();
    found.extend(owners);
    found
}

/// Whether an item belongs to tests: its crate is a test, bench or example target, or it (or a
/// container of it) is compiled only under `cfg(test)`.
fn is_test(graph: &Graph, v: V) -> bool {
    if let Some(krate) = graph.nearest(v, VertexKind::Crate)
        && matches!(graph.text(krate, "kind"), Some("test" | "bench" | "example"))
    {
        return true;
    }
    let mut at = Some(v);
    for _ in 0..4096 {
        let Some(current) = at else { break };
        if graph.text(current, "cfg").is_some_and(|cfg| cfg.contains("test")) {
            return true;
        }
        at = graph.parent(current);
    }
    false
}

pub(super) fn impact(graph: &Graph, changes: &[Change], depth: Option<u32>) -> Result<Answer, QueryError> {
    if changes.is_empty() {
        return Err(QueryError::BadArgument { name: "changes", message: "no file or line was given".to_owned() });
    }
    if let Some(depth) = depth {
        super::calls::check_depth(depth)?;
    }
    let by_file = items_by_file(graph);
    let mut seen: HashSet<V> = HashSet::new();
    let mut results: Vec<Record> = Vec::new();
    let mut frontier = Vec::new();
    for change in changes {
        let items = by_file.get(change.file.as_str()).map(Vec::as_slice).unwrap_or_default();
        for v in touched(graph, items, change.line) {
            if seen.insert(v) {
                let mut record = vertex_record(graph, v);
                record.depth = Some(0);
                record.note = Some("changed".to_owned());
                results.push(record);
                frontier.push(v);
            }
        }
    }
    let mut hop = 0;
    while !frontier.is_empty() && depth.is_none_or(|depth| hop < depth) {
        hop += 1;
        let mut next = Vec::new();
        for &v in &frontier {
            for e in graph.edges_of(v, Direction::In) {
                if !REFERENCE_EDGES.contains(&graph.edge(e).kind) {
                    continue;
                }
                let dependent = graph.edge(e).from;
                if seen.insert(dependent) {
                    let mut record = vertex_record(graph, dependent);
                    record.ty = RecordType::Edge;
                    record.edge = Some(graph.edge(e).kind.as_str());
                    record.direction = Some(Direction::In);
                    record.from = Some(display_path(graph, dependent));
                    record.to = Some(display_path(graph, v));
                    record.from_id = Some(graph.id(dependent).to_string());
                    record.to_id = Some(graph.id(v).to_string());
                    record.evidence = evidence(graph, e);
                    record.depth = Some(hop);
                    results.push(record);
                    next.push(dependent);
                }
            }
        }
        frontier = next;
    }
    for record in &mut results {
        let Some(v) = uuid::Uuid::parse_str(&record.id).ok().and_then(|id| graph.vertex(id)) else { continue };
        record.group = Some(match graph.nearest(v, VertexKind::Crate) {
            Some(krate) => {
                let kind = graph.text(krate, "kind").unwrap_or("crate");
                format!("{} ({kind})", graph.text(krate, "name").unwrap_or_default())
            }
            None => "outside the indexed crates".to_owned(),
        });
        if is_test(graph, v) {
            record.note = Some(match record.note.take() {
                Some(note) => format!("{note}, test"),
                None => "test".to_owned(),
            });
        }
    }
    results.sort_by(|a, b| (&a.group, a.depth, &a.path, &a.id).cmp(&(&b.group, b.depth, &b.path, &b.id)));
    let mut answer = Answer::new("impact", Vec::new(), results);
    if answer.results.is_empty() {
        answer.message = Some("no item of the graph is at the changed places".to_owned());
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_hunks_give_new_lines() {
        let diff = "\
diff --git a/src/lib.rs b/src/lib.rs
--- a/src/lib.rs
+++ b/src/lib.rs
@@ -3,0 +4,2 @@ fn a() {
+    b();
+    c();
@@ -10 +12 @@ fn d() {
-old
+new
@@ -20,3 +23,0 @@
-gone
diff --git a/old.rs b/old.rs
--- a/old.rs
+++ /dev/null
@@ -1,2 +0,0 @@
";
        let changes = parse_diff(diff);
        let lines: Vec<(String, Option<u64>)> = changes.into_iter().map(|c| (c.file, c.line)).collect();
        let expect = |line| ("src/lib.rs".to_owned(), Some(line));
        assert_eq!(lines, vec![expect(4), expect(5), expect(12), expect(23)]);
    }

    #[test]
    fn changes_are_made_relative_to_the_root() {
        let root = Utf8Path::new("/ws");
        let change = |text: &str, cwd: &str| parse_change(text, root, Utf8Path::new(cwd));
        assert_eq!(change("src/lib.rs:12", "/ws"), Ok(Change { file: "src/lib.rs".into(), line: Some(12) }));
        assert_eq!(change("../lib.rs", "/ws/src/a"), Ok(Change { file: "src/lib.rs".into(), line: None }));
        assert_eq!(change("/ws/./src/x.rs:1", "/elsewhere"), Ok(Change { file: "src/x.rs".into(), line: Some(1) }));
        assert!(matches!(change("/other/x.rs", "/ws"), Err(QueryError::BadArgument { name: "changes", .. })));
        assert!(matches!(change("src/lib.rs:0", "/ws"), Err(QueryError::BadArgument { .. })));
    }
}
