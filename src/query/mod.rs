//! `query`: questions asked of a stored graph, answered from a `store::Graph` snapshot.
//!
//! Each verb (`find`, `show`, `callers`, `callees`, `impls`, `refs`, `deps`, `rdeps`, `path`,
//! `impact`, `cycles`, `stats`) is a function from the snapshot and its arguments (`Request`) to an
//! `Answer`: a list of `Record`s, each naming a vertex with its place (`file:line`), and for edge
//! results the edge, its ends and its evidence. The answer is computed first and rendered last
//! (`render`: aligned text for people, JSON Lines for scripts), so that the two forms never
//! diverge; the MCP server (`mcp`) serves the same answers as JSON.
//!
//! A target is a canonical path (`app::shapes::Circle::area`), a vertex id, or a bare name; a name
//! or path that several vertices share is an error listing them (`QueryError::Ambiguous`), unless
//! the verb's own kinds (functions for `callers`) single one out.
//!
//! This module reads the graph through `store::Graph` only: nothing of IndraDB, of the sources or
//! of how the graph was built. `impact --diff` asks git which lines changed (`impact::git_diff`).

mod calls;
mod deps;
mod find;
pub mod impact;
pub mod render;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::model::{EdgeKind, VertexKind};
use crate::store::{Direction, E, Graph, V};

pub use deps::Level;
pub use impact::Change;

/// The version of the JSON form of query answers (`--message-format json`, and the MCP server's
/// results). A change to the records' meaning or shape comes with a new number.
pub const QUERY_SCHEMA: u32 = 1;

/// A question for the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Vertices whose canonical path matches a pattern (`*` one segment, `**` any depth), or whose
    /// name is the pattern when it has no `::`.
    Find { pattern: String, kinds: Vec<VertexKind> },
    /// A vertex's properties and its edges, grouped by kind and direction.
    Show { target: String },
    /// What calls the target, transitively up to `depth`.
    Callers { target: String, depth: u32 },
    /// What the target calls, transitively up to `depth`.
    Callees { target: String, depth: u32 },
    /// For a trait, its impls and their self types, and the types that derive it; for a type,
    /// the traits it implements (derives included).
    Impls { target: String },
    /// Everything that imports, re-exports, calls, references, invokes, implements or derives the
    /// target.
    Refs { target: String },
    /// What a module, crate or item depends on, transitively up to `depth`.
    Deps { target: String, depth: u32 },
    /// What depends on a module, crate or item, transitively up to `depth`.
    Rdeps { target: String, depth: u32 },
    /// One shortest dependency chain from one vertex to another.
    Path { from: String, to: String },
    /// The items that changed lines touch, and everything that depends on them, transitively
    /// (up to `depth` when given).
    Impact { changes: Vec<Change>, depth: Option<u32> },
    /// Strongly connected components of the dependency graph at a level.
    Cycles { level: Level },
    /// Vertex and edge counts per kind.
    Stats,
}

impl Request {
    pub fn verb(&self) -> &'static str {
        match self {
            Request::Find { .. } => "find",
            Request::Show { .. } => "show",
            Request::Callers { .. } => "callers",
            Request::Callees { .. } => "callees",
            Request::Impls { .. } => "impls",
            Request::Refs { .. } => "refs",
            Request::Deps { .. } => "deps",
            Request::Rdeps { .. } => "rdeps",
            Request::Path { .. } => "path",
            Request::Impact { .. } => "impact",
            Request::Cycles { .. } => "cycles",
            Request::Stats => "stats",
        }
    }
}

/// Where a dependency or an edge is written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Evidence {
    pub file: String,
    pub line: u64,
}

/// Whether a record stands for a vertex or for an edge that leads to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordType {
    Vertex,
    Edge,
}

/// One result: a vertex (`id`, `kind`, `path`, `file`, `line`), and for edge results the edge
/// that leads to it (`edge`, `direction`, `from`, `to`, `evidence`, ...). Fields that do not apply
/// are left out of the JSON form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    #[serde(rename = "type")]
    pub ty: RecordType,
    pub id: String,
    pub kind: &'static str,
    pub path: String,
    pub file: Option<String>,
    pub line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_line: Option<u64>,
    /// The edge's kind (`calls`, `imports`, ..., or `depends` for an aggregated dependency).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge: Option<&'static str>,
    /// Which way the edge goes from the vertex asked about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    /// `exact` or `inferred`, for calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<String>,
    /// How many call sites or dependencies the edge stands for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// How many hops from the vertex asked about (transitive verbs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth: Option<u32>,
    /// What the record belongs to: the crate (`impact`), the component (`cycles`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// A qualifier: `derived`, `through trait method ...`, `test`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Every property (`show` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub props: Option<BTreeMap<String, Value>>,
}

/// What a query found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    pub verb: &'static str,
    /// The vertices the request named, as resolved.
    pub targets: Vec<Record>,
    pub results: Vec<Record>,
    /// Whether `results` was cut to a limit.
    pub truncated: bool,
    /// The total before any cut.
    pub total: usize,
    /// A sentence for an answer that has no results to show it (`no dependency path ...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Counts (`stats` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<crate::stats::GraphStats>,
}

impl Answer {
    fn new(verb: &'static str, targets: Vec<Record>, results: Vec<Record>) -> Answer {
        let total = results.len();
        Answer { verb, targets, results, truncated: false, total, message: None, stats: None }
    }

    /// Keeps the first `limit` results.
    pub fn truncate(&mut self, limit: usize) {
        if self.results.len() > limit {
            self.results.truncate(limit);
            self.truncated = true;
        }
    }
}

/// A request that cannot be answered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    #[error("no vertex `{target}` in the graph{}", suggest(.suggestions))]
    NotFound { target: String, suggestions: Vec<String> },
    #[error("`{target}` names {} vertices; name one by its path or id:{}", .candidates.len(), list(.candidates))]
    Ambiguous { target: String, candidates: Vec<Record> },
    #[error("invalid `{name}`: {message}")]
    BadArgument { name: &'static str, message: String },
}

fn suggest(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!(" (similar: {})", suggestions.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "))
    }
}

fn list(candidates: &[Record]) -> String {
    candidates
        .iter()
        .map(|record| {
            let place = match (&record.file, record.line) {
                (Some(file), Some(line)) => format!("{file}:{line}"),
                (Some(file), None) => file.clone(),
                _ => "-".to_owned(),
            };
            format!("\n  {place}  {} {}  {}", record.kind, record.path, record.id)
        })
        .collect()
}

/// Answers `request` from `graph`.
pub fn run(graph: &Graph, request: &Request) -> Result<Answer, QueryError> {
    match request {
        Request::Find { pattern, kinds } => find::find(graph, pattern, kinds),
        Request::Show { target } => find::show(graph, target),
        Request::Callers { target, depth } => calls::calls(graph, target, *depth, Direction::In),
        Request::Callees { target, depth } => calls::calls(graph, target, *depth, Direction::Out),
        Request::Impls { target } => find::impls(graph, target),
        Request::Refs { target } => find::refs(graph, target),
        Request::Deps { target, depth } => deps::deps(graph, target, *depth, Direction::Out),
        Request::Rdeps { target, depth } => deps::deps(graph, target, *depth, Direction::In),
        Request::Path { from, to } => deps::path(graph, from, to),
        Request::Impact { changes, depth } => impact::impact(graph, changes, *depth),
        Request::Cycles { level } => deps::cycles(graph, *level),
        Request::Stats => {
            let mut answer = Answer::new("stats", Vec::new(), Vec::new());
            answer.stats = Some(crate::stats::count(graph));
            Ok(answer)
        }
    }
}

/// Resolves a target: a vertex id, a canonical path, or a bare name. Among several vertices of
/// that path or name, those of the first `preferred` kind that any of them has are taken;
/// several left is an error listing them.
pub(crate) fn resolve(graph: &Graph, target: &str, preferred: &[VertexKind]) -> Result<V, QueryError> {
    let target = target.trim();
    if let Ok(id) = uuid::Uuid::parse_str(target) {
        return graph.vertex(id).ok_or_else(|| QueryError::NotFound { target: target.to_owned(), suggestions: vec![] });
    }
    let mut found = graph.by_path(target);
    if found.is_empty() && !target.contains("::") {
        found = graph.by_name(target);
    }
    if found.is_empty() {
        return Err(QueryError::NotFound { target: target.to_owned(), suggestions: suggestions(graph, target) });
    }
    if found.len() > 1 {
        // The first preferred kind that any of them has wins.
        if let Some(kind) = preferred.iter().find(|kind| found.iter().any(|v| graph.kind(*v) == **kind)) {
            found.retain(|v| graph.kind(*v) == *kind);
        }
    }
    if found.len() > 1 {
        // Of a name that an item shares with the `extern` vertices that point at it, or a name
        // only one item of which is compiled, the active item is meant.
        let items: Vec<V> = found
            .iter()
            .copied()
            .filter(|v| graph.kind(*v) != VertexKind::Extern && graph.flag(*v, "active") != Some(false))
            .collect();
        if items.len() == 1 {
            found = items;
        }
    }
    match found.as_slice() {
        [one] => Ok(*one),
        _ => Err(QueryError::Ambiguous {
            target: target.to_owned(),
            candidates: found.iter().map(|v| vertex_record(graph, *v)).collect(),
        }),
    }
}

/// Up to five vertices whose name is the target's last segment, for a target not found.
fn suggestions(graph: &Graph, target: &str) -> Vec<String> {
    let name = target.rsplit("::").next().unwrap_or(target);
    let mut paths: Vec<String> =
        graph.by_name(name).into_iter().map(|v| graph.path(v).to_owned()).filter(|p| !p.is_empty()).collect();
    paths.sort();
    paths.dedup();
    paths.truncate(5);
    paths
}

/// A vertex as a record.
pub(crate) fn vertex_record(graph: &Graph, v: V) -> Record {
    Record {
        ty: RecordType::Vertex,
        id: graph.id(v).to_string(),
        kind: graph.kind(v).as_str(),
        path: display_path(graph, v),
        // A crate is written in its root file.
        file: graph.text(v, "file").or_else(|| graph.text(v, "root")).map(str::to_owned),
        line: graph.uint(v, "line"),
        end_line: graph.uint(v, "end_line"),
        edge: None,
        direction: None,
        from: None,
        to: None,
        from_id: None,
        to_id: None,
        evidence: None,
        confidence: None,
        count: None,
        depth: None,
        group: None,
        note: None,
        props: None,
    }
}

/// What a vertex is called in answers: its canonical path, else (files, packages) its name.
pub(crate) fn display_path(graph: &Graph, v: V) -> String {
    let path = graph.path(v);
    if !path.is_empty() {
        return path.to_owned();
    }
    graph.text(v, "name").unwrap_or_default().to_owned()
}

/// An edge as a record of the vertex at its other end, seen from `direction`.
pub(crate) fn edge_record(graph: &Graph, e: E, direction: Direction) -> Record {
    let edge = graph.edge(e);
    let other = graph.other(e, direction);
    let mut record = vertex_record(graph, other);
    record.ty = RecordType::Edge;
    record.edge = Some(edge.kind.as_str());
    record.direction = Some(direction);
    record.from = Some(display_path(graph, edge.from));
    record.to = Some(display_path(graph, edge.to));
    record.from_id = Some(graph.id(edge.from).to_string());
    record.to_id = Some(graph.id(edge.to).to_string());
    record.evidence = evidence(graph, e);
    record.confidence = graph.edge_text(e, "confidence").map(str::to_owned);
    record.count = graph.edge_uint(e, "count");
    record
}

/// Where an edge is written: the file of the vertex it starts from, at the edge's `line` (or the
/// vertex's own line, for edges without one).
pub(crate) fn evidence(graph: &Graph, e: E) -> Option<Evidence> {
    place(graph, e).map(|(file, line)| Evidence { file: file.to_owned(), line })
}

/// `evidence`, borrowed from the graph: ordered as `evidence` is, for finding the first place
/// among many edges without making each one's `Evidence`.
pub(crate) fn place(graph: &Graph, e: E) -> Option<(&str, u64)> {
    let edge = graph.edge(e);
    let file = graph.text(edge.from, "file")?;
    let line = graph.edge_uint(e, "line").or_else(|| graph.uint(edge.from, "line"))?;
    Some((file, line))
}

/// The edge kinds that make one item depend on another, as `check` counts them.
pub(crate) const DEPENDENCY_EDGES: &[EdgeKind] =
    &[EdgeKind::Imports, EdgeKind::Reexports, EdgeKind::Calls, EdgeKind::References];

/// The edge kinds `refs` lists: every way code names an item.
pub(crate) const REFERENCE_EDGES: &[EdgeKind] = &[
    EdgeKind::Imports,
    EdgeKind::Reexports,
    EdgeKind::Calls,
    EdgeKind::References,
    EdgeKind::Invokes,
    EdgeKind::Implements,
    EdgeKind::ImplFor,
    EdgeKind::Derives,
    EdgeKind::Supertrait,
];

#[cfg(test)]
mod tests;
