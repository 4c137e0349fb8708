//! `export`: a stored graph written out, read from a `store::Graph` snapshot alone (never from the
//! sources).
//!
//! `jsonl` writes the whole graph, the stable wire format. The picture formats (`dot`, `mermaid`,
//! `graphml`) are drawn from a `View`, computed once here: the vertices a `Config` selects (kinds,
//! path patterns, externs, the neighbourhood of a focus), folded to a level (at `module` and
//! `crate` level every vertex counts as its nearest module or crate through `contains`, and the
//! edges between folded nodes are aggregated: a count per kind and the first place one is
//! written), with the clusters each node is drawn in. Each format is a pure function from that
//! view to text, as dependency-cruiser's reporters are, so adding a format touches nothing else.
//!
//! Everything is sorted before it is written: the same graph and config give the same bytes.
//! This module knows `store::Graph`, `model`'s kinds and `query`'s target resolution; nothing of
//! IndraDB or of the command line.

pub mod dot;
pub mod graphml;
pub mod html;
pub mod jsonl;
pub mod mermaid;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use serde_json::Value;

use crate::check::Pattern;
use crate::model::{EdgeKind, VertexKind};
use crate::query::{self, Evidence, QueryError};
use crate::store::{E, Graph, V};

pub use jsonl::write as write_jsonl;

/// What one node of a picture stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Level {
    /// One node per crate (grouped by package); externs by their first path segment
    Crate,
    /// One node per module (grouped by crate); externs by their first path segment
    Module,
    /// One node per vertex: every item, module, crate, package, file and extern
    Item,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Crate => "crate",
            Level::Module => "module",
            Level::Item => "item",
        }
    }
}

/// What a picture shows.
#[derive(Debug, Clone)]
pub struct Config {
    pub level: Level,
    /// The neighbourhood of this target (a path, id or name, as `query` takes them) only.
    pub focus: Option<String>,
    /// How many hops from the focus, over the selected edges, either way.
    pub depth: u32,
    /// The edge kinds drawn; empty for the level's default (`default_edges`).
    pub edges: Vec<EdgeKind>,
    /// The vertex kinds kept; empty for all.
    pub kinds: Vec<VertexKind>,
    /// Keep only vertices whose path matches one of these (when any are given).
    pub include: Vec<Pattern>,
    /// Drop vertices whose path matches one of these.
    pub exclude: Vec<Pattern>,
    pub no_externs: bool,
}

impl Config {
    pub fn new(level: Level) -> Config {
        Config {
            level,
            focus: None,
            depth: 1,
            edges: Vec::new(),
            kinds: Vec::new(),
            include: Vec::new(),
            exclude: Vec::new(),
            no_externs: false,
        }
    }
}

/// The edge kinds drawn when `--edges` is not given: every kind at item level; at module and crate
/// level every kind but `contains` and `defined_in`, which the clusters already show.
pub fn default_edges(level: Level) -> Vec<EdgeKind> {
    EdgeKind::ALL
        .iter()
        .copied()
        .filter(|kind| level == Level::Item || !matches!(kind, EdgeKind::Contains | EdgeKind::DefinedIn))
        .collect()
}

/// A view that cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Focus(#[from] QueryError),
    #[error("`{target}` has no node at {level} level ({kind}s are drawn at item level only); use `--level item`")]
    FocusUnplaced { target: String, kind: &'static str, level: &'static str },
    #[error("`{target}` is left out by `--kinds`, `--include`, `--exclude` or `--no-externs`")]
    FocusFiltered { target: String },
    #[error(
        "the picture would have {nodes} nodes, more than {max}: draw less with `--level module` or `--level crate`, \
         `--focus TARGET --depth N`, `--include`/`--exclude`, `--edges` or `--no-externs`, or raise the limit \
         with `--max-nodes N` (0: no limit)"
    )]
    TooLarge { nodes: usize, max: usize },
    #[error("`--format jsonl` writes the whole graph; `{flag}` applies to `dot`, `mermaid`, `graphml` and `html` only")]
    WholeGraphOnly { flag: &'static str },
}

/// A box that nodes are drawn in: a crate (a package at crate level), or a module at item level.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cluster {
    pub label: String,
    /// The vertex's UUID.
    pub id: String,
}

/// One node of a picture.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The vertex's UUID, or `extern:NAME` for the externs folded by their first path segment.
    pub id: String,
    /// The vertex kind (`extern` for folded externs).
    pub kind: &'static str,
    /// The canonical path (a crate's with its target kind, `fx_app (bin)`), else the name.
    pub label: String,
    /// The crate (or package, at crate level) it is drawn in, if any.
    pub cluster: Option<Cluster>,
    /// At item level, the module it is drawn in inside its crate.
    pub subcluster: Option<Cluster>,
    /// Every property of the vertex (a folded extern has only `name`).
    pub props: BTreeMap<String, Value>,
}

/// One edge of a picture: at item level a graph edge; at module and crate level every edge of one
/// kind between two folded nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewEdge {
    /// Indices into `View::nodes`.
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
    /// How many graph edges it stands for (1 at item level).
    pub count: u64,
    /// Where the first of them is written (file, then line order): the from-vertex's `file` and
    /// the edge's `line`, as `query` says it.
    pub evidence: Option<Evidence>,
    /// The graph edge's properties at item level; empty when folded.
    pub props: BTreeMap<String, Value>,
}

/// The nodes directly in one subcluster (or in none), as indices into `View::nodes`.
pub type Members<'a> = (Option<&'a Cluster>, Vec<usize>);

/// One cluster (or none) and its subclusters, in drawing order.
pub type Group<'a> = (Option<&'a Cluster>, Vec<Members<'a>>);

/// What a picture shows, sorted: nodes by (cluster, subcluster, label, id), edges by (from, to,
/// kind).
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub level: Level,
    pub nodes: Vec<Node>,
    pub edges: Vec<ViewEdge>,
}

impl View {
    /// The edge kinds the view draws, in `EdgeKind::ALL` order (for legends).
    pub fn edge_kinds(&self) -> Vec<EdgeKind> {
        let used: BTreeSet<EdgeKind> = self.edges.iter().map(|edge| edge.kind).collect();
        used.into_iter().collect()
    }

    /// The clusters in drawing order, each with its subclusters and the nodes directly in each;
    /// nodes outside every cluster come under `None`.
    pub fn grouped(&self) -> Vec<Group<'_>> {
        let mut groups: Vec<Group<'_>> = Vec::new();
        // Nodes are sorted by cluster, then subcluster, so each group is one run.
        for (index, node) in self.nodes.iter().enumerate() {
            let cluster = node.cluster.as_ref();
            let subcluster = node.subcluster.as_ref();
            if groups.last().is_none_or(|(last, _)| *last != cluster) {
                groups.push((cluster, Vec::new()));
            }
            if let Some((_, subs)) = groups.last_mut() {
                if subs.last().is_none_or(|(last, _)| *last != subcluster) {
                    subs.push((subcluster, Vec::new()));
                }
                if let Some((_, members)) = subs.last_mut() {
                    members.push(index);
                }
            }
        }
        groups
    }
}

/// Fails when a picture would have more than `max` nodes (0: no limit).
pub fn check_size(view: &View, max: usize) -> Result<(), ExportError> {
    if max > 0 && view.nodes.len() > max {
        return Err(ExportError::TooLarge { nodes: view.nodes.len(), max });
    }
    Ok(())
}

/// What a vertex counts as at a level.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Unit {
    Vertex(V),
    /// Externs folded by their first path segment (`std`).
    Extern(String),
}

/// What `v` is drawn as at `level`: itself, its module or crate, or its extern's first segment.
fn unit(graph: &Graph, v: V, level: Level) -> Option<Unit> {
    if level != Level::Item && graph.kind(v) == VertexKind::Extern {
        let path = query::display_path(graph, v);
        let first = path.split("::").next().unwrap_or_default();
        return Some(Unit::Extern(first.to_owned()));
    }
    match level {
        Level::Item => Some(Unit::Vertex(v)),
        Level::Module => graph.nearest(v, VertexKind::Module).map(Unit::Vertex),
        Level::Crate => graph.nearest(v, VertexKind::Crate).map(Unit::Vertex),
    }
}

/// Whether the config keeps a vertex (before folding).
fn selected(graph: &Graph, config: &Config, v: V) -> bool {
    let kind = graph.kind(v);
    if config.no_externs && kind == VertexKind::Extern {
        return false;
    }
    if !config.kinds.is_empty() && !config.kinds.contains(&kind) {
        return false;
    }
    if config.include.is_empty() && config.exclude.is_empty() {
        return true;
    }
    let path = query::display_path(graph, v);
    let segments: Vec<&str> = path.split("::").collect();
    (config.include.is_empty() || config.include.iter().any(|p| p.matches(&segments)))
        && !config.exclude.iter().any(|p| p.matches(&segments))
}

/// Aggregated edges between two units.
#[derive(Clone, Copy)]
struct Aggregate<'g> {
    count: u64,
    /// The first place (in file, line order) and the edge written there.
    first: (Option<(&'g str, u64)>, E),
}

impl<'g> Aggregate<'g> {
    fn add(&mut self, other: Aggregate<'g>) {
        self.count += other.count;
        if other.first < self.first {
            self.first = other.first;
        }
    }
}

/// The folded edges, keyed by (from node, to node, kind).
type Folded<'g> = FxHashMap<(u32, u32, EdgeKind), Aggregate<'g>>;

/// Adds `aggregate` to what `folded` holds for `key`.
fn fold_into<'g>(folded: &mut Folded<'g>, key: (u32, u32, EdgeKind), aggregate: Aggregate<'g>) {
    folded.entry(key).and_modify(|held| held.add(aggregate)).or_insert(aggregate);
}

/// Computes what a picture shows.
///
/// The two passes over the whole graph (each vertex's unit, each edge's fold) run on every core:
/// on a 2-million-line graph they are most of an export's time beside reading the image.
pub fn view<'g>(graph: &'g Graph, config: &Config) -> Result<View, ExportError> {
    const NONE: u32 = u32::MAX;
    let level = config.level;
    let edge_kinds = if config.edges.is_empty() { default_edges(level) } else { config.edges.clone() };
    let mut drawn = [false; EdgeKind::ALL.len()];
    for kind in &edge_kinds {
        drawn[*kind as usize] = true;
    }
    let vertex_count = u32::try_from(graph.vertex_count()).expect("a graph's vertices are numbered by u32");
    let units: Vec<Option<Unit>> = (0..vertex_count)
        .into_par_iter()
        .map(V)
        .map(|v| if selected(graph, config, v) { unit(graph, v, level) } else { None })
        .collect();

    // The nodes: every unit that a kept vertex counts as, numbered as first met, then sorted.
    let mut numbers: FxHashMap<&Unit, u32> = FxHashMap::default();
    let mut distinct: Vec<&Unit> = Vec::new();
    let numbered: Vec<u32> = units
        .iter()
        .map(|unit| match unit {
            None => NONE,
            Some(unit) => *numbers.entry(unit).or_insert_with(|| {
                distinct.push(unit);
                (distinct.len() - 1) as u32
            }),
        })
        .collect();
    let mut nodes: Vec<(Node, u32)> =
        distinct.par_iter().enumerate().map(|(n, unit)| (make_node(graph, level, unit), n as u32)).collect();
    nodes.par_sort_by(|(a, _), (b, _)| {
        (&a.cluster, &a.subcluster, &a.label, &a.id).cmp(&(&b.cluster, &b.subcluster, &b.label, &b.id))
    });
    let mut rank = vec![NONE; distinct.len()];
    for (at, (_, n)) in nodes.iter().enumerate() {
        rank[*n as usize] = at as u32;
    }
    // Each vertex's node, found once rather than once per edge.
    let node_of: Vec<u32> = numbered.iter().map(|&n| if n == NONE { NONE } else { rank[n as usize] }).collect();

    // The edges: graph edges of a drawn kind between kept vertices, folded.
    let file_of: Vec<Option<&str>> = (0..vertex_count)
        .into_par_iter()
        .map(|v| if units[v as usize].is_some() { graph.text(V(v), "file") } else { None })
        .collect();
    let edge_count = u32::try_from(graph.edge_count()).expect("a graph's edges are numbered by u32");
    let fold = |mut folded: Folded<'g>, e: E| -> Folded<'g> {
        let edge = graph.edge(e);
        if !drawn[edge.kind as usize] {
            return folded;
        }
        let (from, to) = (node_of[edge.from.index()], node_of[edge.to.index()]);
        // Edges inside one folded node are not drawn; at item level a self-loop is a real edge.
        if from == NONE || to == NONE || (level != Level::Item && from == to) {
            return folded;
        }
        // `query::place`, with the from-vertex's file read once per vertex.
        let place = file_of[edge.from.index()].and_then(|file| {
            let line = graph.edge_uint(e, "line").or_else(|| graph.uint(edge.from, "line"))?;
            Some((file, line))
        });
        fold_into(&mut folded, (from, to, edge.kind), Aggregate { count: 1, first: (place, e) });
        folded
    };
    let merge = |mut a: Folded<'g>, mut b: Folded<'g>| -> Folded<'g> {
        if a.len() < b.len() {
            std::mem::swap(&mut a, &mut b);
        }
        for (key, aggregate) in b {
            fold_into(&mut a, key, aggregate);
        }
        a
    };
    let aggregated: Vec<((u32, u32, EdgeKind), Aggregate<'g>)> = (0..edge_count)
        .into_par_iter()
        .with_min_len(1 << 16)
        .map(E)
        .fold(Folded::default, fold)
        .reduce(Folded::default, merge)
        .into_iter()
        .collect();
    let mut edges: Vec<ViewEdge> = aggregated
        .into_par_iter()
        .map(|((from, to, kind), aggregate)| {
            let (_, e) = aggregate.first;
            let evidence = query::evidence(graph, e);
            let props = if level == Level::Item { graph.edge_props(e) } else { BTreeMap::new() };
            ViewEdge { from: from as usize, to: to as usize, kind, count: aggregate.count, evidence, props }
        })
        .collect();
    edges.par_sort_unstable_by(|a, b| (a.from, a.to, a.kind.as_str()).cmp(&(b.from, b.to, b.kind.as_str())));
    let mut nodes: Vec<Node> = nodes.into_iter().map(|(node, _)| node).collect();

    if let Some(target) = &config.focus {
        let v = query::resolve(graph, target, focus_kinds(level))?;
        let Some(unit) = unit(graph, v, level) else {
            return Err(ExportError::FocusUnplaced {
                target: target.clone(),
                kind: graph.kind(v).as_str(),
                level: level.as_str(),
            });
        };
        let Some(&start) = numbers.get(&unit).filter(|_| units[v.index()].is_some()) else {
            return Err(ExportError::FocusFiltered { target: target.clone() });
        };
        (nodes, edges) = neighbourhood(nodes, edges, rank[start as usize] as usize, config.depth);
    }
    Ok(View { level, nodes, edges })
}

/// What a picture can be opened into, one level finer than its view (`html`'s expand): the
/// finer view of the same selection and edge kinds, and for each of its nodes the node of the
/// coarser view it folds into.
#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    pub view: View,
    /// For each node of `view`, the index of the node of the coarser view that holds it.
    pub parent: Vec<usize>,
}

/// The level below `level`, if any.
pub fn finer(level: Level) -> Option<Level> {
    match level {
        Level::Crate => Some(Level::Module),
        Level::Module => Some(Level::Item),
        Level::Item => None,
    }
}

/// The finer view under `top` (computed by `view(graph, config)`): the same selection and edge
/// kinds one level down, keeping the nodes that fold into a node of `top` (a module's own vertex
/// among them, with the same id as its node in `top`: the page draws it as the module's box), and
/// the edges between them. `None` at item level.
pub fn detail(graph: &Graph, config: &Config, top: &View) -> Result<Option<Detail>, ExportError> {
    let Some(level) = finer(config.level) else { return Ok(None) };
    let mut finer_config = config.clone();
    finer_config.level = level;
    finer_config.focus = None;
    if finer_config.edges.is_empty() {
        finer_config.edges = default_edges(config.level);
    }
    let all = view(graph, &finer_config)?;
    let top_index: HashMap<&str, usize> = top.nodes.iter().enumerate().map(|(i, node)| (node.id.as_str(), i)).collect();
    // Which node of `top` each finer node folds into: found through its vertex (finer externs
    // at crate-to-module level are folded already, and keep their own id).
    let holder = |node: &Node| -> Option<usize> {
        let unit = match uuid::Uuid::parse_str(&node.id).ok().and_then(|id| graph.vertex(id)) {
            Some(v) => unit(graph, v, config.level)?,
            None => return top_index.get(node.id.as_str()).copied(),
        };
        let id = match unit {
            Unit::Vertex(v) => graph.id(v).to_string(),
            Unit::Extern(name) => format!("extern:{name}"),
        };
        top_index.get(id.as_str()).copied()
    };
    let mut renumber: Vec<Option<usize>> = vec![None; all.nodes.len()];
    let mut nodes = Vec::new();
    let mut parent = Vec::new();
    for (index, node) in all.nodes.into_iter().enumerate() {
        if let Some(at) = holder(&node) {
            renumber[index] = Some(nodes.len());
            nodes.push(node);
            parent.push(at);
        }
    }
    let edges = all
        .edges
        .into_iter()
        .filter_map(|mut edge| {
            edge.from = renumber[edge.from]?;
            edge.to = renumber[edge.to]?;
            Some(edge)
        })
        .collect();
    Ok(Some(Detail { view: View { level, nodes, edges }, parent }))
}

/// The kinds a focus target prefers when its name is shared, at each level.
fn focus_kinds(level: Level) -> &'static [VertexKind] {
    match level {
        Level::Crate => &[VertexKind::Crate, VertexKind::Module],
        Level::Module => &[VertexKind::Module, VertexKind::Crate],
        Level::Item => &[],
    }
}

/// The nodes within `depth` hops of `start` (edges followed either way), and the edges between
/// them; indices renumbered, order kept.
fn neighbourhood(nodes: Vec<Node>, edges: Vec<ViewEdge>, start: usize, depth: u32) -> (Vec<Node>, Vec<ViewEdge>) {
    let mut adjacent: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for edge in &edges {
        adjacent[edge.from].push(edge.to);
        adjacent[edge.to].push(edge.from);
    }
    let mut hops: Vec<Option<u32>> = vec![None; nodes.len()];
    hops[start] = Some(0);
    let mut queue = VecDeque::from([start]);
    while let Some(at) = queue.pop_front() {
        let Some(hop) = hops[at] else { continue };
        if hop >= depth {
            continue;
        }
        for &next in &adjacent[at] {
            if hops[next].is_none() {
                hops[next] = Some(hop + 1);
                queue.push_back(next);
            }
        }
    }
    let mut renumber: Vec<Option<usize>> = vec![None; nodes.len()];
    let mut kept = Vec::new();
    for (index, node) in nodes.into_iter().enumerate() {
        if hops[index].is_some() {
            renumber[index] = Some(kept.len());
            kept.push(node);
        }
    }
    let edges = edges
        .into_iter()
        .filter_map(|mut edge| {
            edge.from = renumber[edge.from]?;
            edge.to = renumber[edge.to]?;
            Some(edge)
        })
        .collect();
    (kept, edges)
}

fn make_node(graph: &Graph, level: Level, unit: &Unit) -> Node {
    let v = match unit {
        Unit::Extern(name) => {
            return Node {
                id: format!("extern:{name}"),
                kind: VertexKind::Extern.as_str(),
                label: name.clone(),
                cluster: None,
                subcluster: None,
                props: BTreeMap::from([("name".to_owned(), Value::from(name.clone()))]),
            };
        }
        Unit::Vertex(v) => *v,
    };
    let cluster_of = |c: V| Cluster { label: label(graph, c), id: graph.id(c).to_string() };
    let (cluster, subcluster) = match level {
        Level::Crate => (graph.parent(v).filter(|p| graph.kind(*p) == VertexKind::Package).map(cluster_of), None),
        Level::Module => (graph.nearest(v, VertexKind::Crate).map(cluster_of), None),
        Level::Item => {
            let krate = graph.nearest(v, VertexKind::Crate);
            let module = graph.nearest(v, VertexKind::Module);
            (krate.map(cluster_of), module.map(cluster_of))
        }
    };
    Node {
        id: graph.id(v).to_string(),
        kind: graph.kind(v).as_str(),
        label: label(graph, v),
        cluster,
        subcluster,
        props: graph.props(v),
    }
}

/// What a vertex is called in a picture: its canonical path (or name); a crate's with its target
/// kind, since a package's lib and bin share a path.
fn label(graph: &Graph, v: V) -> String {
    let path = query::display_path(graph, v);
    match (graph.kind(v), graph.text(v, "kind")) {
        (VertexKind::Crate, Some(kind)) => format!("{path} ({kind})"),
        (VertexKind::Package, _) => format!("package {path}"),
        _ => path,
    }
}

/// `calls`, or `calls ×3` for an aggregated edge.
pub(crate) fn edge_label(edge: &ViewEdge) -> String {
    if edge.count > 1 { format!("{} ×{}", edge.kind.as_str(), edge.count) } else { edge.kind.as_str().to_owned() }
}

/// `file:line`, or `""` where an edge has no evidence.
pub(crate) fn evidence_text(edge: &ViewEdge) -> String {
    edge.evidence.as_ref().map(|e| format!("{}:{}", e.file, e.line)).unwrap_or_default()
}

/// How each edge kind is drawn: a colour, and a line style (`solid`, `dashed`, `dotted`, `bold`).
pub(crate) fn edge_style(kind: EdgeKind) -> (&'static str, &'static str) {
    match kind {
        EdgeKind::Contains => ("#9e9e9e", "solid"),
        EdgeKind::DependsOn => ("#6a1b9a", "bold"),
        EdgeKind::DefinedIn => ("#bdbdbd", "dotted"),
        EdgeKind::Imports => ("#1565c0", "solid"),
        EdgeKind::Reexports => ("#00838f", "dashed"),
        EdgeKind::Implements => ("#2e7d32", "solid"),
        EdgeKind::ImplFor => ("#558b2f", "dashed"),
        EdgeKind::Supertrait => ("#1b5e20", "bold"),
        EdgeKind::Derives => ("#827717", "dashed"),
        EdgeKind::Calls => ("#c62828", "solid"),
        EdgeKind::References => ("#ef6c00", "dashed"),
        EdgeKind::Invokes => ("#ad1457", "dotted"),
        EdgeKind::ExpandsTo => ("#5d4037", "dotted"),
    }
}

#[cfg(test)]
pub(crate) mod tests;
