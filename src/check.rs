//! `check`: the team's architecture rules, checked against a stored graph.
//!
//! Rules come from the `codegraph` tables of `[workspace.metadata]` and `[package.metadata]`:
//!
//! ```toml
//! [workspace.metadata.codegraph]
//! deny-cycles = ["modules", "crates"]
//! forbid = [{ from = "app::domain::**", to = "app::infra::**", reason = "the domain knows no database" }]
//! layers = ["app::cli", "app::domain", "app::infra"]   # top first
//! ```
//!
//! A dependency is an `imports`, `reexports`, `calls` or `references` edge from an active item;
//! its evidence is the file and line of the `use`, call or type reference. Patterns are canonical
//! paths with `*` (one segment) and `**` (any number of segments, none included). This module
//! reads `store::Graph` only: nothing of the sources, syn or IndraDB.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{EdgeKind, VertexKind};
use crate::store::{Graph, V};
use crate::workspace::RuleTable;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::{Deserialize, Serialize};

/// A rule table that cannot be read: names the manifest, the table and the key.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid `{table}` in `{manifest}`: {key}: {message}")]
pub struct RulesError {
    pub manifest: String,
    pub table: String,
    pub key: String,
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawRules {
    #[serde(default)]
    deny_cycles: Vec<CycleScope>,
    #[serde(default)]
    forbid: Vec<RawForbid>,
    #[serde(default)]
    layers: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawForbid {
    from: String,
    to: String,
    reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CycleScope {
    Modules,
    Crates,
}

/// A path pattern: segments, `*` and `**`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    segments: Vec<String>,
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let segments: Vec<String> = text.split("::").map(str::to_owned).collect();
        for segment in &segments {
            let valid = segment == "*"
                || segment == "**"
                || (!segment.is_empty() && segment.chars().all(|c| c.is_alphanumeric() || c == '_'));
            if !valid {
                return Err(format!("`{text}` is not a path pattern (segments, `*` and `**`, joined by `::`)"));
            }
        }
        Ok(Pattern { text: text.to_owned(), segments })
    }

    /// A layer names a module and everything in it.
    fn layer(text: &str) -> Result<Pattern, String> {
        let mut pattern = Pattern::parse(text)?;
        if pattern.segments.last().is_none_or(|last| last != "**") {
            pattern.segments.push("**".to_owned());
        }
        Ok(pattern)
    }

    pub fn matches(&self, path: &[&str]) -> bool {
        fn go(pattern: &[String], path: &[&str]) -> bool {
            match pattern.split_first() {
                None => path.is_empty(),
                Some((first, rest)) if first == "**" => (0..=path.len()).any(|skip| go(rest, &path[skip..])),
                Some((first, rest)) => {
                    path.split_first().is_some_and(|(head, tail)| (first == "*" || first == head) && go(rest, tail))
                }
            }
        }
        go(&self.segments, path)
    }
}

#[derive(Debug, Clone)]
pub struct Forbid {
    pub from: Pattern,
    pub to: Pattern,
    pub reason: Option<String>,
    /// Where the rule was written: `forbid[0]` of a table.
    pub origin: String,
}

/// Every rule of a workspace.
#[derive(Debug, Default, Clone)]
pub struct Rules {
    pub deny_cycles: BTreeSet<CycleScope>,
    pub forbid: Vec<Forbid>,
    /// Top first; with where each list was written.
    pub layers: Vec<(Vec<Pattern>, String)>,
}

impl Rules {
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many rules: each `forbid` entry, each `layers` list, each scope of `deny-cycles`.
    pub fn len(&self) -> usize {
        self.deny_cycles.len() + self.forbid.len() + self.layers.len()
    }
}

/// Reads the rules of every table; the first bad key is an error.
pub fn rules(tables: &[RuleTable]) -> Result<Rules, RulesError> {
    let mut rules = Rules::default();
    for table in tables {
        let error = |key: String, message: String| RulesError {
            manifest: table.manifest.clone(),
            table: table.table.clone(),
            key,
            message,
        };
        let raw: RawRules = serde_path_to_error::deserialize(&table.value).map_err(|err| {
            let key = err.path().to_string();
            error(if key == "." { "codegraph".to_owned() } else { key }, err.inner().to_string())
        })?;
        rules.deny_cycles.extend(raw.deny_cycles);
        for (index, forbid) in raw.forbid.iter().enumerate() {
            let pattern =
                |key: &str, text: &str| Pattern::parse(text).map_err(|m| error(format!("forbid[{index}].{key}"), m));
            rules.forbid.push(Forbid {
                from: pattern("from", &forbid.from)?,
                to: pattern("to", &forbid.to)?,
                reason: forbid.reason.clone(),
                origin: format!("{} forbid[{index}]", table.table),
            });
        }
        if !raw.layers.is_empty() {
            let layers = raw
                .layers
                .iter()
                .enumerate()
                .map(|(index, text)| Pattern::layer(text).map_err(|m| error(format!("layers[{index}]"), m)))
                .collect::<Result<Vec<_>, _>>()?;
            rules.layers.push((layers, format!("{} layers", table.table)));
        }
    }
    Ok(rules)
}

/// Where a dependency is written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Evidence {
    pub file: String,
    pub line: u64,
    /// `use`, `call` or `reference`.
    pub kind: &'static str,
    /// The item that depends (its canonical path) and the one it depends on.
    pub from: String,
    pub to: String,
}

/// A broken rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Violation {
    /// `forbid`, `layers` or `cycle`.
    pub rule: &'static str,
    /// Where the rule was written.
    pub origin: String,
    /// The module (or crate) that depends, and the one it must not depend on; for a cycle, its
    /// members in order.
    pub from: String,
    pub to: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub evidence: Vec<Evidence>,
}

/// One dependency between two items, and what the check knows of its ends.
struct Dependency {
    from: usize,
    to: usize,
    evidence: Evidence,
}

/// The graph as `check` sees it: vertices with the path they are matched by, their module and
/// crate, and the dependencies between them. Vertices are `V` ranks as `usize`.
struct View<'g> {
    graph: &'g Graph,
    /// The path rules match: an item's canonical path, or its module's path and its name for
    /// members whose path starts with `<` (trait-impl members).
    match_path: Vec<String>,
    module: Vec<Option<usize>>,
    krate: Vec<Option<usize>>,
    parent: Vec<Option<usize>>,
    dependencies: Vec<Dependency>,
}

fn vertex(i: usize) -> V {
    V(i as u32)
}

impl<'g> View<'g> {
    fn new(graph: &'g Graph) -> View<'g> {
        let n = graph.vertex_count();
        let mut parent = vec![None; n];
        for e in graph.edges() {
            let edge = graph.edge(e);
            if edge.kind == EdgeKind::Contains {
                parent[edge.to.index()] = Some(edge.from.index());
            }
        }
        let kind = |i: usize| graph.kind(vertex(i));
        let nearest = |start: usize, wanted: VertexKind| {
            let mut at = Some(start);
            // Contains edges form a tree; the bound only guards against a damaged graph.
            for _ in 0..4096 {
                match at {
                    Some(i) if kind(i) == wanted => return Some(i),
                    Some(i) => at = parent[i],
                    None => return None,
                }
            }
            None
        };
        let module: Vec<Option<usize>> = (0..n).map(|i| nearest(i, VertexKind::Module)).collect();
        let krate: Vec<Option<usize>> = (0..n).map(|i| nearest(i, VertexKind::Crate)).collect();
        let match_path = (0..n)
            .map(|i| {
                let path = graph.path(vertex(i));
                match module[i] {
                    Some(m) if path.starts_with('<') => {
                        format!("{}::{}", graph.path(vertex(m)), graph.text(vertex(i), "name").unwrap_or_default())
                    }
                    _ => path.to_owned(),
                }
            })
            .collect();
        let mut view = View { graph, match_path, module, krate, parent, dependencies: Vec::new() };
        for e in graph.edges() {
            let edge = graph.edge(e);
            let kind = match edge.kind {
                EdgeKind::Imports | EdgeKind::Reexports => "use",
                EdgeKind::Calls => "call",
                EdgeKind::References => "reference",
                _ => continue,
            };
            if graph.flag(edge.from, "active") == Some(false) {
                continue;
            }
            let line = graph.edge_uint(e, "line").unwrap_or(0);
            let evidence = Evidence {
                file: graph.text(edge.from, "file").unwrap_or_default().to_owned(),
                line,
                kind,
                from: graph.path(edge.from).to_owned(),
                to: graph.path(edge.to).to_owned(),
            };
            view.dependencies.push(Dependency { from: edge.from.index(), to: edge.to.index(), evidence });
        }
        view
    }

    fn segments(&self, vertex: usize) -> Vec<&str> {
        self.match_path[vertex].split("::").collect()
    }

    fn path(&self, i: usize) -> &str {
        self.graph.path(vertex(i))
    }

    /// The module an item is in (a module is its own), for reporting.
    fn module_path(&self, vertex: usize) -> String {
        match self.module[vertex] {
            Some(module) => self.path(module).to_owned(),
            None => self.match_path[vertex].clone(),
        }
    }

    fn is_ancestor(&self, ancestor: usize, mut vertex: usize) -> bool {
        for _ in 0..4096 {
            if vertex == ancestor {
                return true;
            }
            match self.parent[vertex] {
                Some(parent) => vertex = parent,
                None => return false,
            }
        }
        false
    }
}

/// Checks `rules` against `graph`; violations come sorted.
pub fn check(rules: &Rules, graph: &Graph) -> Vec<Violation> {
    let view = View::new(graph);
    // (rule, where it was written, from module, to module) → (reason, evidence)
    type Key = (&'static str, String, String, String);
    let mut found: BTreeMap<Key, (Option<String>, BTreeSet<Evidence>)> = BTreeMap::new();
    for dependency in &view.dependencies {
        let from = view.segments(dependency.from);
        let to = view.segments(dependency.to);
        for rule in &rules.forbid {
            if rule.from.matches(&from) && rule.to.matches(&to) {
                let key =
                    ("forbid", rule.origin.clone(), view.module_path(dependency.from), view.module_path(dependency.to));
                let entry = found.entry(key).or_insert_with(|| (rule.reason.clone(), BTreeSet::new()));
                entry.1.insert(dependency.evidence.clone());
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
                let key =
                    ("layers", origin.clone(), view.module_path(dependency.from), view.module_path(dependency.to));
                let entry = found.entry(key).or_insert_with(|| (Some(reason), BTreeSet::new()));
                entry.1.insert(dependency.evidence.clone());
            }
        }
    }
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
        })
        .collect();
    for scope in &rules.deny_cycles {
        violations.extend(cycles(&view, *scope));
    }
    violations.sort();
    violations
}

/// The strongly connected components of the module (or crate) dependency graph with more than
/// one member, each with the evidence of the dependencies inside it. A module depending on its
/// own ancestor or descendant is no cycle here: `use super::*` in a child module is how Rust
/// code is written.
fn cycles(view: &View<'_>, scope: CycleScope) -> Vec<Violation> {
    let unit = |vertex: usize| match scope {
        CycleScope::Modules => view.module[vertex],
        CycleScope::Crates => view.krate[vertex],
    };
    let mut nodes: BTreeMap<usize, NodeIndex> = BTreeMap::new();
    let mut graph: DiGraph<usize, ()> = DiGraph::new();
    let mut evidence: BTreeMap<(usize, usize), BTreeSet<Evidence>> = BTreeMap::new();
    for dependency in &view.dependencies {
        let (Some(from), Some(to)) = (unit(dependency.from), unit(dependency.to)) else { continue };
        if from == to || (scope == CycleScope::Modules && (view.is_ancestor(from, to) || view.is_ancestor(to, from))) {
            continue;
        }
        evidence.entry((from, to)).or_default().insert(dependency.evidence.clone());
    }
    for &(from, to) in evidence.keys() {
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
        let inside: Vec<Evidence> = evidence
            .iter()
            .filter(|((from, to), _)| members.contains(from) && members.contains(to))
            .filter_map(|(_, found)| found.iter().next().cloned())
            .collect();
        let what = match scope {
            CycleScope::Modules => "modules",
            CycleScope::Crates => "crates",
        };
        out.push(Violation {
            rule: "cycle",
            origin: format!("deny-cycles = [\"{what}\"]"),
            from: names[0].clone(),
            to: names[0].clone(),
            members: names,
            reason: Some(format!("these {what} depend on each other in a cycle")),
            evidence: inside,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> Pattern {
        Pattern::parse(text).unwrap()
    }

    #[test]
    fn patterns_match_segments_and_any_depth() {
        let path = |text: &'static str| text.split("::").collect::<Vec<_>>();
        assert!(pattern("app::domain::**").matches(&path("app::domain")));
        assert!(pattern("app::domain::**").matches(&path("app::domain::user::User::new")));
        assert!(!pattern("app::domain::**").matches(&path("app::domains")));
        assert!(pattern("app::*::db").matches(&path("app::infra::db")));
        assert!(!pattern("app::*::db").matches(&path("app::db")));
        assert!(pattern("**::tests::**").matches(&path("app::a::tests::it_works")));
        assert!(Pattern::layer("app::cli").unwrap().matches(&path("app::cli::args::parse")));
        assert!(Pattern::parse("app::").is_err());
        assert!(Pattern::parse("app::do-main").is_err());
    }

    #[test]
    fn bad_keys_are_named() {
        let table = |value: serde_json::Value| RuleTable {
            table: "[workspace.metadata.codegraph]".to_owned(),
            manifest: "Cargo.toml".to_owned(),
            value,
        };
        let err = rules(&[table(serde_json::json!({"forbid": [{"from": "a::**"}]}))]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid `[workspace.metadata.codegraph]` in `Cargo.toml`: forbid[0]: missing field `to`"
        );
        let err = rules(&[table(serde_json::json!({"deny-cycles": ["files"]}))]).unwrap_err();
        assert!(err.to_string().contains("deny-cycles[0]: unknown variant `files`"), "{err}");
        let err = rules(&[table(serde_json::json!({"layers": ["a", "b::"]}))]).unwrap_err();
        assert!(err.to_string().contains(": layers[1]: `b::` is not a path pattern"), "{err}");
        let err = rules(&[table(serde_json::json!({"forbids": []}))]).unwrap_err();
        assert!(err.to_string().contains("unknown field `forbids`"), "{err}");
        assert!(rules(&[table(serde_json::json!({}))]).unwrap().is_empty());
    }
}
