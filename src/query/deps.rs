//! `deps`, `rdeps`, `path` and `cycles`: dependencies between items, modules and crates.
//!
//! A dependency is what `check` counts: an `imports`, `reexports`, `calls` or `references` edge
//! from an item compiled in this configuration (`active` not false). A module or crate depends on
//! what anything inside it (its submodules included) depends on outside it; dependencies are
//! reported at the level of the vertex asked about (items, modules or crates), each with a count
//! and the first place it is written. `extern` vertices count at item level only: they belong to
//! no module or crate of the graph.
//!
//! `cycles --level crate` groups a package's targets into one unit, so that a dev-dependency
//! cycle (the tests of `a` use `b`, which uses `a`) shows: between single targets no cycle can
//! exist, since cargo refuses one.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use petgraph::graph::{DiGraph, NodeIndex};

use super::calls::check_depth;
use super::{
    Answer, DEPENDENCY_EDGES, Evidence, QueryError, Record, RecordType, display_path, evidence, resolve, vertex_record,
};
use crate::model::{EdgeKind, VertexKind};
use crate::store::{Direction, E, Graph, V};

/// The level `cycles` looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Modules (a module and its own ancestors or descendants are not counted as a cycle)
    Module,
    /// Crates (a package's targets count as one, so dev-dependency cycles show)
    Crate,
}

/// What one dependency counts as: an item, its module, or its crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Unit {
    Item,
    Module,
    Crate,
}

fn unit_level(kind: VertexKind) -> Unit {
    match kind {
        VertexKind::Crate | VertexKind::Package => Unit::Crate,
        VertexKind::Module => Unit::Module,
        _ => Unit::Item,
    }
}

/// The unit `v` counts as at `level`; `None` for vertices outside every module or crate.
fn unit(graph: &Graph, v: V, level: Unit) -> Option<V> {
    match level {
        Unit::Item => Some(v),
        Unit::Module => graph.nearest(v, VertexKind::Module),
        Unit::Crate => graph.nearest(v, VertexKind::Crate),
    }
}

fn is_ancestor(graph: &Graph, ancestor: V, v: V) -> bool {
    graph.ancestors(v).any(|at| at == ancestor)
}

/// `unit` and everything it contains.
fn members(graph: &Graph, unit: V) -> HashSet<V> {
    let mut found = HashSet::from([unit]);
    let mut stack = vec![unit];
    while let Some(v) = stack.pop() {
        for e in graph.edges_of_kind(v, Direction::Out, EdgeKind::Contains) {
            let child = graph.edge(e).to;
            if found.insert(child) {
                stack.push(child);
            }
        }
    }
    found
}

fn is_dependency(graph: &Graph, e: E) -> bool {
    let edge = graph.edge(e);
    DEPENDENCY_EDGES.contains(&edge.kind) && graph.flag(edge.from, "active") != Some(false)
}

/// The dependencies of one unit, one way, aggregated by the unit at their other end.
struct Found {
    count: u64,
    /// The first place (in file, line order) and the edge written there.
    first: (Option<Evidence>, E),
}

fn neighbours(graph: &Graph, unit: V, level: Unit, direction: Direction) -> BTreeMap<V, Found> {
    let inside = members(graph, unit);
    let mut found: BTreeMap<V, Found> = BTreeMap::new();
    for &m in &inside {
        for e in graph.edges_of(m, direction) {
            if !is_dependency(graph, e) {
                continue;
            }
            let other = graph.other(e, direction);
            if inside.contains(&other) {
                continue;
            }
            let Some(w) = self::unit(graph, other, level) else { continue };
            let place = (evidence(graph, e), e);
            let entry = found.entry(w).or_insert(Found { count: 0, first: place.clone() });
            entry.count += 1;
            if place < entry.first {
                entry.first = place;
            }
        }
    }
    found
}

/// A dependency between two units, as a record of the unit at `other`.
fn dependency_record(graph: &Graph, from: V, to: V, other: V, found: &Found, direction: Direction) -> Record {
    let mut record = vertex_record(graph, other);
    record.ty = RecordType::Edge;
    record.edge = Some("depends");
    record.direction = Some(direction);
    record.from = Some(display_path(graph, from));
    record.to = Some(display_path(graph, to));
    record.from_id = Some(graph.id(from).to_string());
    record.to_id = Some(graph.id(to).to_string());
    record.evidence = found.first.0.clone();
    record.count = Some(found.count);
    record.note = Some(describe(graph, found.first.1));
    record
}

/// `call of `b` in `a``: what the edge written at the evidence is.
fn describe(graph: &Graph, e: E) -> String {
    let edge = graph.edge(e);
    let what = match edge.kind {
        EdgeKind::Calls => "call",
        EdgeKind::References => "reference",
        _ => "use",
    };
    format!("{what} of `{}` in `{}`", display_path(graph, edge.to), display_path(graph, edge.from))
}

const UNIT_KINDS: &[VertexKind] = &[VertexKind::Crate, VertexKind::Module];

pub(super) fn deps(graph: &Graph, target: &str, depth: u32, direction: Direction) -> Result<Answer, QueryError> {
    check_depth(depth)?;
    let start = resolve(graph, target, UNIT_KINDS)?;
    let level = unit_level(graph.kind(start));
    let mut seen = HashSet::from([start]);
    let mut frontier = vec![start];
    let mut results = Vec::new();
    for hop in 1..=depth {
        let mut next = Vec::new();
        for &unit in &frontier {
            for (other, found) in neighbours(graph, unit, level, direction) {
                let (from, to) = match direction {
                    Direction::Out => (unit, other),
                    Direction::In => (other, unit),
                };
                let mut record = dependency_record(graph, from, to, other, &found, direction);
                record.depth = Some(hop);
                results.push(record);
                if seen.insert(other) {
                    next.push(other);
                }
            }
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    results
        .sort_by(|a: &Record, b: &Record| (a.depth, &a.path, &a.from, &a.id).cmp(&(b.depth, &b.path, &b.from, &b.id)));
    let verb = match direction {
        Direction::Out => "deps",
        Direction::In => "rdeps",
    };
    Ok(Answer::new(verb, vec![vertex_record(graph, start)], results))
}

pub(super) fn path(graph: &Graph, from: &str, to: &str) -> Result<Answer, QueryError> {
    let start = resolve(graph, from, UNIT_KINDS)?;
    let goal = resolve(graph, to, UNIT_KINDS)?;
    let level = unit_level(graph.kind(start)).max(unit_level(graph.kind(goal)));
    let targets = vec![vertex_record(graph, start), vertex_record(graph, goal)];
    let goal_members = members(graph, goal);
    // Breadth first over units: the first time the goal is reached is by a shortest chain.
    let mut previous: HashMap<V, (V, Found)> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    let mut seen = HashSet::from([start]);
    let mut reached = goal_members.contains(&start);
    'search: while let Some(unit) = queue.pop_front() {
        let inside = members(graph, unit);
        // Dependencies that land inside the goal end the search, whatever unit they count as.
        let mut into_goal: Option<Found> = None;
        for &m in &inside {
            for e in graph.edges_of(m, Direction::Out) {
                let other = graph.edge(e).to;
                if is_dependency(graph, e) && !inside.contains(&other) && goal_members.contains(&other) {
                    let place = (evidence(graph, e), e);
                    let entry = into_goal.get_or_insert(Found { count: 0, first: place.clone() });
                    entry.count += 1;
                    if place < entry.first {
                        entry.first = place;
                    }
                }
            }
        }
        if let Some(found) = into_goal {
            previous.insert(goal, (unit, found));
            reached = true;
            break 'search;
        }
        for (other, found) in neighbours(graph, unit, level, Direction::Out) {
            if seen.insert(other) {
                previous.insert(other, (unit, found));
                queue.push_back(other);
            }
        }
    }
    let mut hops = Vec::new();
    if reached && start != goal {
        let mut at = goal;
        while at != start {
            let Some((before, found)) = previous.remove(&at) else { break };
            hops.push(dependency_record(graph, before, at, at, &found, Direction::Out));
            at = before;
        }
        hops.reverse();
        for (index, hop) in hops.iter_mut().enumerate() {
            hop.depth = Some(index as u32 + 1);
        }
    }
    let mut answer = Answer::new("path", targets, hops);
    if !reached {
        answer.message = Some(format!(
            "no dependency path from `{}` to `{}`",
            display_path(graph, start),
            display_path(graph, goal)
        ));
    }
    Ok(answer)
}

pub(super) fn cycles(graph: &Graph, level: Level) -> Result<Answer, QueryError> {
    let unit = |v: V| match level {
        Level::Module => self::unit(graph, v, Unit::Module),
        // A package's targets count as one.
        Level::Crate => graph.nearest(v, VertexKind::Package),
    };
    let mut between: BTreeMap<(V, V), Found> = BTreeMap::new();
    for e in graph.edges() {
        if !is_dependency(graph, e) {
            continue;
        }
        let edge = graph.edge(e);
        let (Some(a), Some(b)) = (unit(edge.from), unit(edge.to)) else { continue };
        if a == b || (level == Level::Module && (is_ancestor(graph, a, b) || is_ancestor(graph, b, a))) {
            continue;
        }
        let place = (evidence(graph, e), e);
        let entry = between.entry((a, b)).or_insert(Found { count: 0, first: place.clone() });
        entry.count += 1;
        if place < entry.first {
            entry.first = place;
        }
    }
    let mut petgraph: DiGraph<V, ()> = DiGraph::new();
    let mut nodes: BTreeMap<V, NodeIndex> = BTreeMap::new();
    for &(a, b) in between.keys() {
        for v in [a, b] {
            nodes.entry(v).or_insert_with(|| petgraph.add_node(v));
        }
        petgraph.update_edge(nodes[&a], nodes[&b], ());
    }
    let mut components: Vec<BTreeSet<V>> = petgraph::algo::tarjan_scc(&petgraph)
        .into_iter()
        .filter(|component| component.len() > 1)
        .map(|component| component.into_iter().map(|node| petgraph[node]).collect())
        .collect();
    let names = |component: &BTreeSet<V>| {
        let mut names: Vec<String> = component.iter().map(|v| display_path(graph, *v)).collect();
        names.sort();
        names
    };
    components.sort_by_key(|component| names(component));
    let mut results = Vec::new();
    for (index, component) in components.iter().enumerate() {
        let group = format!("cycle {}: {}", index + 1, names(component).join(", "));
        let mut records: Vec<Record> = between
            .iter()
            .filter(|((a, b), _)| component.contains(a) && component.contains(b))
            .map(|((a, b), found)| {
                let mut record = dependency_record(graph, *a, *b, *b, found, Direction::Out);
                record.group = Some(group.clone());
                record
            })
            .collect();
        records.sort_by(|a, b| (&a.from, &a.to).cmp(&(&b.from, &b.to)));
        results.extend(records);
    }
    let mut answer = Answer::new("cycles", Vec::new(), results);
    if components.is_empty() {
        let what = match level {
            Level::Module => "modules",
            Level::Crate => "crates",
        };
        answer.message = Some(format!("no cycles between {what}"));
    }
    Ok(answer)
}
