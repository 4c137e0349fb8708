//! `check`: the team's architecture rules, checked against a stored graph.
//!
//! Rules come from the `codegraph` tables of `[workspace.metadata]` and `[package.metadata]`
//! (`rules`: `forbid`, `layers`, `deny-cycles`, `allow-only`, `independent`, `implement`,
//! `derive`, `call`, `invoke`). `check` gives sorted `Violation`s, each with its evidence;
//! `baseline` keeps today's violations so that only new ones fail; `human`, `sarif`, `github`
//! and `junit` render one result for people and CI (JSON is `Violation`'s serde form).
//!
//! A dependency is an `imports`, `reexports`, `calls` or `references` edge from an active item;
//! its evidence is the file and line of the `use`, call or type reference. Patterns are canonical
//! paths with `*` (one segment) and `**` (any number of segments, none included). This module
//! reads `store::Graph` only: nothing of the sources, syn or IndraDB.

pub mod baseline;
pub mod github;
pub mod human;
pub mod junit;
pub mod memo;
mod rules;
pub mod sarif;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::model::{EdgeKind, VertexKind};
use crate::store::{Graph, V};
use petgraph::graph::{DiGraph, NodeIndex};
use serde::{Deserialize, Deserializer, Serialize};

pub use rules::{AllowOnly, CycleScope, Forbid, Independent, Only, Pattern, RuleInfo, Rules, RulesError, rules};

/// Where a dependency (or an impl, derive, call or macro invocation) is written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Evidence {
    pub file: String,
    pub line: u64,
    /// `use`, `call`, `reference`, `impl`, `derive` or `invoke`.
    #[serde(deserialize_with = "evidence_kind")]
    pub kind: Name,
    /// The item that depends (its canonical path) and the one it depends on.
    pub from: String,
    pub to: String,
}

/// One dependency of a cycle whose removal (with the others of its violation) breaks it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cut {
    /// The module (or crate) that depends, and the one it depends on.
    pub from: String,
    pub to: String,
    pub evidence: Vec<Evidence>,
}

/// A broken rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Violation {
    /// `forbid`, `layers`, `cycle`, `allow-only`, `independent`, `implement`, `derive`, `call`
    /// or `invoke`.
    #[serde(deserialize_with = "rule_kind")]
    pub rule: Name,
    /// Where the rule was written.
    pub origin: String,
    /// The module (or crate) that depends, and the one it must not depend on (for `implement`,
    /// `derive`, `call` and `invoke`: the trait, function or macro); for a cycle, its first
    /// member.
    pub from: String,
    pub to: String,
    /// A cycle's members, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Where it is written: sorted, or for a chain (`independent`, transitive `forbid`) its
    /// hops in order.
    pub evidence: Vec<Evidence>,
    /// For a cycle: dependencies whose removal breaks it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breaks: Vec<Cut>,
}

/// A name from a fixed set (`Violation::rule`, `Evidence::kind`). An alias, so that serde's derive
/// does not take a `&'static str` field for one borrowed from the input: names are read back
/// (`memo`) as the same static strings, and anything else is refused.
pub type Name = &'static str;

/// The names `Violation::rule` and `Evidence::kind` take.
const RULE_KINDS: &[&str] =
    &["forbid", "layers", "cycle", "allow-only", "independent", "implement", "derive", "call", "invoke"];
const EVIDENCE_KINDS: &[&str] = &["use", "call", "reference", "impl", "derive", "invoke"];

fn one_of<'de, D: Deserializer<'de>>(
    names: &'static [&'static str],
    deserializer: D,
) -> Result<&'static str, D::Error> {
    let name = String::deserialize(deserializer)?;
    names.iter().copied().find(|known| *known == name).ok_or_else(|| serde::de::Error::unknown_variant(&name, names))
}

fn rule_kind<'de, D: Deserializer<'de>>(deserializer: D) -> Result<&'static str, D::Error> {
    one_of(RULE_KINDS, deserializer)
}

fn evidence_kind<'de, D: Deserializer<'de>>(deserializer: D) -> Result<&'static str, D::Error> {
    one_of(EVIDENCE_KINDS, deserializer)
}

/// One dependency between two items, with where it is written, borrowed from the graph: an
/// `Evidence` is made (`View::evidence`) only for the few that a rule reports.
struct Dependency<'g> {
    from: usize,
    to: usize,
    file: &'g str,
    line: u64,
    kind: Name,
}

/// The graph as `check` sees it: vertices with their paths, the path they are matched by, their
/// module and crate, and the dependencies between them. Vertices are `V` ranks as `usize`; what
/// is asked of every vertex is read from the graph once, not once per edge.
struct View<'g> {
    graph: &'g Graph,
    /// Each vertex's canonical path (`""` for none).
    paths: Vec<&'g str>,
    /// The path rules match: an item's canonical path, or its module's path and its name for
    /// members whose path starts with `<` (trait-impl members).
    match_path: Vec<Cow<'g, str>>,
    /// Whether a vertex is compiled in this configuration (its `active` flag is not false).
    active: Vec<bool>,
    module: Vec<Option<usize>>,
    krate: Vec<Option<usize>>,
    dependencies: Vec<Dependency<'g>>,
}

fn vertex(i: usize) -> V {
    V(i as u32)
}

impl<'g> View<'g> {
    fn new(graph: &'g Graph) -> View<'g> {
        let n = graph.vertex_count();
        let nearest = |i: usize, kind: VertexKind| graph.nearest(vertex(i), kind).map(V::index);
        let module: Vec<Option<usize>> = (0..n).map(|i| nearest(i, VertexKind::Module)).collect();
        let krate: Vec<Option<usize>> = (0..n).map(|i| nearest(i, VertexKind::Crate)).collect();
        let paths: Vec<&str> = (0..n).map(|i| graph.path(vertex(i))).collect();
        let active: Vec<bool> = (0..n).map(|i| graph.flag(vertex(i), "active") != Some(false)).collect();
        let match_path = (0..n)
            .map(|i| match module[i] {
                Some(m) if paths[i].starts_with('<') => {
                    Cow::Owned(format!("{}::{}", paths[m], graph.text(vertex(i), "name").unwrap_or_default()))
                }
                _ => Cow::Borrowed(paths[i]),
            })
            .collect();
        // A vertex's file, read once for all the edges it starts.
        let mut files: Vec<Option<&str>> = vec![None; n];
        let mut dependencies = Vec::new();
        for e in graph.edges() {
            let edge = graph.edge(e);
            let kind = match edge.kind {
                EdgeKind::Imports | EdgeKind::Reexports => "use",
                EdgeKind::Calls => "call",
                EdgeKind::References => "reference",
                _ => continue,
            };
            let from = edge.from.index();
            if !active[from] {
                continue;
            }
            let file = *files[from].get_or_insert_with(|| graph.text(edge.from, "file").unwrap_or_default());
            let line = graph.edge_uint(e, "line").unwrap_or(0);
            dependencies.push(Dependency { from, to: edge.to.index(), file, line, kind });
        }
        View { graph, paths, match_path, active, module, krate, dependencies }
    }

    fn segments(&self, vertex: usize) -> Vec<&str> {
        self.match_path[vertex].split("::").collect()
    }

    fn path(&self, i: usize) -> &'g str {
        self.paths[i]
    }

    /// The module an item is in (a module is its own), for reporting.
    fn module_path(&self, vertex: usize) -> &str {
        match self.module[vertex] {
            Some(module) => self.paths[module],
            None => &self.match_path[vertex],
        }
    }

    /// Where a dependency is written, as reported.
    fn evidence(&self, dependency: &Dependency<'_>) -> Evidence {
        Evidence {
            file: dependency.file.to_owned(),
            line: dependency.line,
            kind: dependency.kind,
            from: self.paths[dependency.from].to_owned(),
            to: self.paths[dependency.to].to_owned(),
        }
    }

    /// What orders the dependency at `index` as its `Evidence` would be ordered, without making it.
    fn place(&self, index: usize) -> (&str, u64, Name, &str, &str) {
        let dependency = &self.dependencies[index];
        (dependency.file, dependency.line, dependency.kind, self.paths[dependency.from], self.paths[dependency.to])
    }

    fn is_ancestor(&self, ancestor: usize, v: usize) -> bool {
        self.graph.ancestors(vertex(v)).any(|at| at.index() == ancestor)
    }
}

/// Violations being gathered: (rule, where it was written, from, to) → (reason, evidence).
type Found = BTreeMap<(&'static str, String, String, String), (Option<String>, BTreeSet<Evidence>)>;

fn note(found: &mut Found, key: (&'static str, &str, String, String), reason: &Option<String>, evidence: Evidence) {
    let (rule, origin, from, to) = key;
    let entry = found.entry((rule, origin.to_owned(), from, to)).or_insert_with(|| (reason.clone(), BTreeSet::new()));
    entry.1.insert(evidence);
}

/// Checks `rules` against `graph`; violations come sorted.
pub fn check(rules: &Rules, graph: &Graph) -> Vec<Violation> {
    let view = View::new(graph);
    let mut found: Found = BTreeMap::new();
    let direct =
        rules.forbid.iter().any(|rule| !rule.transitive) || !rules.layers.is_empty() || !rules.allow_only.is_empty();
    for dependency in view.dependencies.iter().filter(|_| direct) {
        let from = view.segments(dependency.from);
        let to = view.segments(dependency.to);
        let modules = || (view.module_path(dependency.from).to_owned(), view.module_path(dependency.to).to_owned());
        for rule in rules.forbid.iter().filter(|rule| !rule.transitive) {
            if rule.from.matches(&from) && rule.to.matches(&to) {
                let (from, to) = modules();
                note(&mut found, ("forbid", &rule.origin, from, to), &rule.reason, view.evidence(dependency));
            }
        }
        for (layers, origin) in &rules.layers {
            let layer_of = |path: &[&str]| layers.iter().position(|layer| layer.matches(path));
            if let (Some(from_layer), Some(to_layer)) = (layer_of(&from), layer_of(&to))
                && to_layer < from_layer
            {
                let reason = format!(
                    "layer `{}` may not depend on `{}`, a layer above it",
                    layers[from_layer].text, layers[to_layer].text
                );
                let (from, to) = modules();
                note(&mut found, ("layers", origin, from, to), &Some(reason), view.evidence(dependency));
            }
        }
        for rule in &rules.allow_only {
            // What `to` names may depend on itself; only the others must be listed.
            if rule.to.matches(&to)
                && !rule.to.matches(&from)
                && !rule.from.iter().any(|allowed| allowed.matches_within(&from))
            {
                let (from, to) = modules();
                note(&mut found, ("allow-only", &rule.origin, from, to), &rule.reason, view.evidence(dependency));
            }
        }
    }
    uses(rules, &view, &mut found);
    let mut violations: Vec<Violation> = found
        .into_iter()
        .map(|((rule, origin, from, to), (reason, evidence))| Violation {
            rule,
            origin,
            from,
            to,
            members: Vec::new(),
            reason,
            evidence: evidence.into_iter().collect(),
            breaks: Vec::new(),
        })
        .collect();
    let modules = ModuleGraph::new(&view);
    for rule in rules.forbid.iter().filter(|rule| rule.transitive) {
        violations.extend(reaches(&view, &modules, rule));
    }
    for rule in &rules.independent {
        violations.extend(independent(&view, &modules, rule));
    }
    for scope in &rules.deny_cycles {
        violations.extend(cycles(&view, *scope));
    }
    violations.sort();
    violations
}

/// `implement`, `derive`, `call` and `invoke`: edges of one kind to a target, allowed only from
/// some places.
fn uses(rules: &Rules, view: &View<'_>, found: &mut Found) {
    let graph = view.graph;
    for e in graph.edges() {
        let edge = graph.edge(e);
        let (kind, rule_name, list) = match edge.kind {
            EdgeKind::Implements => ("impl", "implement", &rules.implement),
            EdgeKind::Derives => ("derive", "derive", &rules.derive),
            EdgeKind::Calls => ("call", "call", &rules.call),
            EdgeKind::Invokes => ("invoke", "invoke", &rules.invoke),
            _ => continue,
        };
        let (from, to) = (edge.from.index(), edge.to.index());
        if list.is_empty() || !view.active[from] {
            continue;
        }
        let from_segments = view.segments(from);
        let to_segments: Vec<&str> = view.path(to).split("::").collect();
        let module = view.module_path(from);
        let module_segments: Vec<&str> = module.split("::").collect();
        for rule in list {
            let broken = match edge.kind {
                // An impl is placed by its module: its own path is the self type and trait.
                EdgeKind::Implements => {
                    rule.target.matches(&to_segments)
                        && !rule.allowed.iter().any(|allowed| allowed.matches_within(&module_segments))
                }
                EdgeKind::Derives => {
                    rule.target.matches_within(&from_segments)
                        && rule.allowed.iter().any(|forbidden| forbidden.matches(&to_segments))
                }
                _ => {
                    rule.target.matches(&to_segments)
                        && !rule.allowed.iter().any(|allowed| allowed.matches_within(&from_segments))
                }
            };
            if broken {
                let line = graph.edge_uint(e, "line").or_else(|| graph.uint(edge.from, "line")).unwrap_or(0);
                let evidence = Evidence {
                    file: graph.text(edge.from, "file").unwrap_or_default().to_owned(),
                    line,
                    kind,
                    from: graph.path(edge.from).to_owned(),
                    to: graph.path(edge.to).to_owned(),
                };
                let key = (rule_name, rule.origin.as_str(), module.to_owned(), view.path(to).to_owned());
                note(found, key, &rule.reason, evidence);
            }
        }
    }
}

/// The module dependency graph: for each module, the modules its items depend on, each with
/// the first place (in evidence order) the dependency is written. A module's dependencies on
/// itself are left out.
/// Dependencies are their indices in `View::dependencies`.
struct ModuleGraph {
    out: BTreeMap<usize, BTreeMap<usize, usize>>,
}

impl ModuleGraph {
    fn new(view: &View<'_>) -> ModuleGraph {
        let mut out: BTreeMap<usize, BTreeMap<usize, usize>> = BTreeMap::new();
        for (index, dependency) in view.dependencies.iter().enumerate() {
            let (Some(from), Some(to)) = (view.module[dependency.from], view.module[dependency.to]) else { continue };
            if from == to {
                continue;
            }
            let slot = out.entry(from).or_default().entry(to).or_insert(index);
            if view.place(index) < view.place(*slot) {
                *slot = index;
            }
        }
        ModuleGraph { out }
    }

    /// Breadth-first from `starts`: for each module reached, the module it was reached from, the
    /// dependency of that hop, and its distance. Only modules `enter` admits are entered, and only
    /// those `expand` admits are followed further; neighbours are visited in vertex order, so
    /// the chains are deterministic.
    fn bfs(
        &self,
        starts: &BTreeSet<usize>,
        enter: impl Fn(usize) -> bool,
        expand: impl Fn(usize) -> bool,
    ) -> BTreeMap<usize, (usize, usize, usize)> {
        let mut reached: BTreeMap<usize, (usize, usize, usize)> = BTreeMap::new();
        let mut queue: VecDeque<(usize, usize)> = starts.iter().map(|&start| (start, 0)).collect();
        while let Some((at, depth)) = queue.pop_front() {
            let Some(next) = self.out.get(&at) else { continue };
            for (&to, &dependency) in next {
                if starts.contains(&to) || reached.contains_key(&to) || !enter(to) {
                    continue;
                }
                reached.insert(to, (at, dependency, depth + 1));
                if expand(to) {
                    queue.push_back((to, depth + 1));
                }
            }
        }
        reached
    }

    /// The chain that reached `end`, first hop first, and the module it starts from.
    fn chain(view: &View<'_>, reached: &BTreeMap<usize, (usize, usize, usize)>, end: usize) -> (usize, Vec<Evidence>) {
        let mut hops = Vec::new();
        let mut at = end;
        while let Some(&(previous, dependency, _)) = reached.get(&at) {
            hops.push(view.evidence(&view.dependencies[dependency]));
            at = previous;
        }
        hops.reverse();
        (at, hops)
    }
}

/// The modules of the graph, in vertex order.
fn modules(view: &View<'_>) -> Vec<usize> {
    view.graph.of_kind(VertexKind::Module).map(|v| v.index()).collect()
}

/// A transitive `forbid`: every module matching `to` that a module matching `from` reaches,
/// with the shortest chain.
fn reaches(view: &View<'_>, graph: &ModuleGraph, rule: &Forbid) -> Vec<Violation> {
    let matches = |pattern: &Pattern, module: usize| pattern.matches(&view.segments(module));
    let starts: BTreeSet<usize> = modules(view).into_iter().filter(|&m| matches(&rule.from, m)).collect();
    let reached = graph.bfs(&starts, |_| true, |m| !matches(&rule.to, m));
    reached
        .keys()
        .filter(|&&m| matches(&rule.to, m))
        .map(|&end| {
            let (start, evidence) = ModuleGraph::chain(view, &reached, end);
            Violation {
                rule: "forbid",
                origin: rule.origin.clone(),
                from: view.path(start).to_owned(),
                to: view.path(end).to_owned(),
                members: Vec::new(),
                reason: rule.reason.clone(),
                evidence,
                breaks: Vec::new(),
            }
        })
        .collect()
}

/// An `independent` set: for each member, the other members it reaches through modules of the
/// set's crates that belong to no other member, each with the shortest chain.
fn independent(view: &View<'_>, graph: &ModuleGraph, rule: &Independent) -> Vec<Violation> {
    let all = modules(view);
    let member_of = |module: usize| {
        let segments = view.segments(module);
        rule.modules.iter().position(|pattern| pattern.matches(&segments))
    };
    let crates: BTreeSet<usize> =
        all.iter().filter(|&&m| member_of(m).is_some()).filter_map(|&m| view.krate[m]).collect();
    let mut out = Vec::new();
    for (index, member) in rule.modules.iter().enumerate() {
        let starts: BTreeSet<usize> = all.iter().copied().filter(|&m| member_of(m) == Some(index)).collect();
        let reached = graph.bfs(
            &starts,
            |m| view.krate[m].is_some_and(|krate| crates.contains(&krate)),
            |m| member_of(m).is_none_or(|other| other == index),
        );
        // For each other member, the shortest chain (the first module in vertex order on a tie).
        let mut best: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
        for (&module, (_, _, depth)) in &reached {
            if let Some(other) = member_of(module).filter(|&other| other != index) {
                let slot = best.entry(other).or_insert((*depth, module));
                if *depth < slot.0 {
                    *slot = (*depth, module);
                }
            }
        }
        for (other, (_, end)) in best {
            let (_, evidence) = ModuleGraph::chain(view, &reached, end);
            out.push(Violation {
                rule: "independent",
                origin: rule.origin.clone(),
                from: member.text.clone(),
                to: rule.modules[other].text.clone(),
                members: Vec::new(),
                reason: Some(rule.reason.clone().unwrap_or_else(|| {
                    format!("`{}` and `{}` must stay independent of each other", member.text, rule.modules[other].text)
                })),
                evidence,
                breaks: Vec::new(),
            });
        }
    }
    out
}

/// The strongly connected components of the module (or crate) dependency graph with more than
/// one member, each with the evidence of the dependencies inside it and a set of them whose
/// removal breaks it (`feedback_arcs`). A module depending on its own ancestor or descendant is
/// no cycle here: `use super::*` in a child module is how Rust code is written.
fn cycles(view: &View<'_>, scope: CycleScope) -> Vec<Violation> {
    let unit = |vertex: usize| match scope {
        CycleScope::Modules => view.module[vertex],
        CycleScope::Crates => view.krate[vertex],
    };
    let mut nodes: BTreeMap<usize, NodeIndex> = BTreeMap::new();
    let mut graph: DiGraph<usize, ()> = DiGraph::new();
    // The dependencies between two units, as indices: evidence is made only for cycles.
    let mut arcs: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
    for (index, dependency) in view.dependencies.iter().enumerate() {
        let (Some(from), Some(to)) = (unit(dependency.from), unit(dependency.to)) else { continue };
        if from == to || (scope == CycleScope::Modules && (view.is_ancestor(from, to) || view.is_ancestor(to, from))) {
            continue;
        }
        arcs.entry((from, to)).or_default().push(index);
    }
    for &(from, to) in arcs.keys() {
        for unit in [from, to] {
            nodes.entry(unit).or_insert_with(|| graph.add_node(unit));
        }
        graph.update_edge(nodes[&from], nodes[&to], ());
    }
    let mut out = Vec::new();
    for component in petgraph::algo::tarjan_scc(&graph) {
        if component.len() < 2 {
            continue;
        }
        let members: BTreeSet<usize> = component.iter().map(|&node| graph[node]).collect();
        let mut names: Vec<String> = members.iter().map(|&m| view.path(m).to_owned()).collect();
        names.sort();
        let inside: BTreeMap<(usize, usize), BTreeSet<Evidence>> = arcs
            .iter()
            .filter(|((from, to), _)| members.contains(from) && members.contains(to))
            .map(|(&arc, found)| (arc, found.iter().map(|&index| view.evidence(&view.dependencies[index])).collect()))
            .collect();
        let arcs: BTreeSet<(usize, usize)> = inside.keys().copied().collect();
        let mut breaks: Vec<Cut> = feedback_arcs(&members, &arcs)
            .into_iter()
            .map(|(from, to)| Cut {
                from: view.path(from).to_owned(),
                to: view.path(to).to_owned(),
                evidence: inside.get(&(from, to)).map(|found| found.iter().cloned().collect()).unwrap_or_default(),
            })
            .collect();
        breaks.sort();
        let what = scope.name();
        out.push(Violation {
            rule: "cycle",
            origin: scope.origin(),
            from: names[0].clone(),
            to: names[0].clone(),
            members: names,
            reason: Some(format!("these {what} depend on each other in a cycle")),
            evidence: {
                let mut first: Vec<Evidence> =
                    inside.values().filter_map(|found| found.iter().next().cloned()).collect();
                first.sort();
                first
            },
            breaks,
        });
    }
    out
}

/// A small set of arcs whose removal leaves `arcs` acyclic: the greedy heuristic of Eades, Lin
/// and Smyth (1993). Nodes are ordered by repeatedly taking sinks to the end and sources to the
/// front, and otherwise the node with the most outgoing minus incoming arcs to the front; the
/// arcs that point backwards in that order are the answer. It is an approximation (finding the
/// smallest such set is NP-hard), deterministic here because ties go to the lowest node.
fn feedback_arcs(nodes: &BTreeSet<usize>, arcs: &BTreeSet<(usize, usize)>) -> Vec<(usize, usize)> {
    let mut left: BTreeSet<usize> = nodes.clone();
    let mut front: Vec<usize> = Vec::new();
    let mut back: Vec<usize> = Vec::new();
    // Each node's arcs and its (out, in) degree among the nodes left, self-loops aside, kept up to
    // date as nodes are taken: the arcs are walked once in all, not once per step.
    let mut successors: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut predecessors: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut degree: BTreeMap<usize, (i64, i64)> = nodes.iter().map(|&node| (node, (0, 0))).collect();
    for &(from, to) in arcs.iter().filter(|(from, to)| from != to && nodes.contains(from) && nodes.contains(to)) {
        successors.entry(from).or_default().push(to);
        predecessors.entry(to).or_default().push(from);
        degree.entry(from).or_default().0 += 1;
        degree.entry(to).or_default().1 += 1;
    }
    while !left.is_empty() {
        let of = |node: usize| degree.get(&node).copied().unwrap_or_default();
        let sink = left.iter().copied().find(|&node| of(node).0 == 0);
        let source = || left.iter().copied().find(|&node| of(node).1 == 0);
        // Highest difference first; on a tie the lowest node (max_by_key keeps the last).
        let best = || left.iter().copied().max_by_key(|&node| (of(node).0 - of(node).1, std::cmp::Reverse(node)));
        let node = match (sink, sink.is_none().then(source).flatten()) {
            (Some(sink), _) => {
                back.push(sink);
                sink
            }
            (None, Some(source)) => {
                front.push(source);
                source
            }
            (None, None) => match best() {
                Some(best) => {
                    front.push(best);
                    best
                }
                None => break,
            },
        };
        left.remove(&node);
        for &to in successors.get(&node).into_iter().flatten() {
            if left.contains(&to) {
                degree.entry(to).or_default().1 -= 1;
            }
        }
        for &from in predecessors.get(&node).into_iter().flatten() {
            if left.contains(&from) {
                degree.entry(from).or_default().0 -= 1;
            }
        }
    }
    back.reverse();
    front.extend(back);
    let position: BTreeMap<usize, usize> = front.iter().enumerate().map(|(i, &node)| (node, i)).collect();
    arcs.iter().copied().filter(|(from, to)| position.get(from) > position.get(to)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_arcs_break_every_cycle() {
        // Two cycles sharing the arc 1 → 2: 0 → 1 → 2 → 0 and 1 → 2 → 3 → 1.
        let nodes: BTreeSet<usize> = (0..4).collect();
        let arcs: BTreeSet<(usize, usize)> = [(0, 1), (1, 2), (2, 0), (2, 3), (3, 1)].into_iter().collect();
        let cut = feedback_arcs(&nodes, &arcs);
        assert!(!cut.is_empty() && cut.len() <= 2, "{cut:?}");
        let mut graph: DiGraph<usize, ()> = DiGraph::new();
        let index: Vec<NodeIndex> = (0..4).map(|n| graph.add_node(n)).collect();
        for arc in arcs.iter().filter(|arc| !cut.contains(arc)) {
            graph.add_edge(index[arc.0], index[arc.1], ());
        }
        assert!(!petgraph::algo::is_cyclic_directed(&graph), "{cut:?} leaves a cycle");
        // A two-cycle needs one arc.
        let two: BTreeSet<(usize, usize)> = [(0, 1), (1, 0)].into_iter().collect();
        assert_eq!(feedback_arcs(&(0..2).collect(), &two).len(), 1);
    }
}
