//! `calls` edges scored against a hand-written answer key. `tests/fixtures/calls/expected_calls.txt`
//! lists the edges expected among the `calls` fixture's own functions, grouped by call kind, and
//! the sites that must yield no edge. The test builds and exports the fixture's graph, keeps the
//! `calls` edges between the fixture's functions, and measures precision and recall. To see the
//! table and the missing and unexpected edges:
//!
//! ```text
//! cargo test --test calls -- --nocapture
//! ```

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use common::{Fixture, Graph};

/// The share of exact edges that must be right.
const EXACT_PRECISION_TARGET: f64 = 0.95;
/// The share of expected edges that must be found, at any confidence.
const RECALL_TARGET: f64 = 0.85;

/// A `calls` edge named by the `path` properties of its ends: (caller, callee).
type Pair = (String, String);

/// The answer key.
#[derive(Debug, Default, PartialEq)]
struct Expected {
    /// Each expected edge, with the section (call kind) that lists it.
    calls: BTreeMap<Pair, String>,
    /// The sections that list expected edges, in file order.
    sections: Vec<String>,
    /// Sites that must yield no edge at all.
    not_calls: BTreeSet<Pair>,
}

/// Reads the answer key's format: `## kind` opens a section, other `#` lines are comments,
/// `caller -> callee` is an expected edge and `! caller -> callee` a forbidden one. Panics on a
/// malformed or repeated line, so that a typo cannot quietly change the score.
fn parse_expected(text: &str) -> Expected {
    let mut expected = Expected::default();
    let mut section = String::from("(no section)");
    for (idx, line) in text.lines().enumerate() {
        let line = line.trim();
        let line_no = idx + 1;
        if let Some(name) = line.strip_prefix("## ") {
            section = name.trim().to_owned();
        } else if line.is_empty() || line.starts_with('#') {
            continue;
        } else if let Some(rest) = line.strip_prefix('!') {
            let pair = parse_pair(rest, line_no);
            assert!(expected.not_calls.insert(pair), "line {line_no}: repeated `{line}`");
        } else {
            let pair = parse_pair(line, line_no);
            if !expected.sections.contains(&section) {
                expected.sections.push(section.clone());
            }
            assert!(expected.calls.insert(pair, section.clone()).is_none(), "line {line_no}: repeated `{line}`");
        }
    }
    for pair in &expected.not_calls {
        assert!(!expected.calls.contains_key(pair), "`{} -> {}` is both expected and forbidden", pair.0, pair.1);
    }
    expected
}

fn parse_pair(text: &str, line_no: usize) -> Pair {
    let (caller, callee) =
        text.split_once(" -> ").unwrap_or_else(|| panic!("line {line_no}: expected `caller -> callee`, got `{text}`"));
    let (caller, callee) = (caller.trim(), callee.trim());
    assert!(!caller.is_empty() && !callee.is_empty(), "line {line_no}: an empty path in `{text}`");
    (caller.to_owned(), callee.to_owned())
}

/// What the graph says about calls.
#[derive(Debug, Default)]
struct Found {
    /// `calls` edges between two of the fixture's functions, one per pair: `true` when exact.
    /// A pair with an exact and an inferred edge counts as exact (and as a duplicate).
    among_functions: BTreeMap<Pair, bool>,
    /// Every `calls` edge, whatever its ends, with its confidence as written.
    all: Vec<(Pair, String)>,
    /// Broken promises of the edge contract, one readable line each: constructors taken for
    /// calls, pairs with more than one edge, confidences other than `exact` and `inferred`.
    violations: Vec<String>,
}

/// Collects the `calls` edges of an exported graph. The fixture's functions are the `function`
/// vertices defined in one of its files: vertices that stand for code outside the workspace, if
/// the resolver makes any, have no `defined_in` edge.
fn collect_calls(graph: &Graph) -> Found {
    let defined: BTreeSet<&str> =
        graph.edges.iter().filter(|e| e["kind"] == "defined_in").filter_map(|e| e["from"].as_str()).collect();
    let vertex = |id: &str| {
        graph.vertices.get(id).unwrap_or_else(|| panic!("a `calls` edge ends at `{id}`, which is no vertex"))
    };
    let is_fixture_fn = |id: &str| vertex(id)["kind"] == "function" && defined.contains(id);
    let path = |id: &str| vertex(id)["props"]["path"].as_str().unwrap_or("?").to_owned();

    let mut found = Found::default();
    let mut edges_per_pair: BTreeMap<Pair, usize> = BTreeMap::new();
    for edge in graph.edges.iter().filter(|e| e["kind"] == "calls") {
        let (from, to) = (edge["from"].as_str().unwrap(), edge["to"].as_str().unwrap());
        let pair = (path(from), path(to));
        let confidence = edge["props"]["confidence"].as_str().unwrap_or("(none)").to_owned();
        if confidence != "exact" && confidence != "inferred" {
            found.violations.push(format!("`{} -> {}` has confidence `{confidence}`", pair.0, pair.1));
        }
        let target_kind = vertex(to)["kind"].as_str().unwrap_or("?");
        if matches!(target_kind, "struct" | "variant" | "enum" | "union") {
            found.violations.push(format!("`{} -> {}` calls a {target_kind}: a constructor", pair.0, pair.1));
        }
        found.all.push((pair.clone(), confidence.clone()));
        if is_fixture_fn(from) && is_fixture_fn(to) {
            *edges_per_pair.entry(pair.clone()).or_default() += 1;
            *found.among_functions.entry(pair).or_default() |= confidence == "exact";
        }
    }
    for ((caller, callee), n) in edges_per_pair {
        if n > 1 {
            found.violations.push(format!("`{caller} -> {callee}` has {n} edges, not one"));
        }
    }
    found
}

/// Precision and recall of found edges against expected ones.
#[derive(Debug, PartialEq)]
struct Score {
    n_expected: usize,
    n_exact: usize,
    n_exact_correct: usize,
    n_found: usize,
    n_found_correct: usize,
    n_recalled: usize,
    n_recalled_exact: usize,
    /// Per section: (expected, found at any confidence, found exact).
    per_section: BTreeMap<String, (usize, usize, usize)>,
    missing: Vec<Pair>,
    /// Unexpected pairs, with `true` when exact.
    unexpected: Vec<(Pair, bool)>,
}

impl Score {
    fn exact_precision(&self) -> Option<f64> {
        ratio(self.n_exact_correct, self.n_exact)
    }

    fn precision(&self) -> Option<f64> {
        ratio(self.n_found_correct, self.n_found)
    }

    fn recall(&self) -> Option<f64> {
        ratio(self.n_recalled, self.n_expected)
    }

    fn exact_recall(&self) -> Option<f64> {
        ratio(self.n_recalled_exact, self.n_expected)
    }
}

/// `None` for an empty denominator: the precision of no edges is unknown, not zero.
fn ratio(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn score(expected: &Expected, found: &BTreeMap<Pair, bool>) -> Score {
    let mut per_section: BTreeMap<String, (usize, usize, usize)> =
        expected.sections.iter().map(|s| (s.clone(), (0, 0, 0))).collect();
    let mut missing = Vec::new();
    for (pair, section) in &expected.calls {
        let counts = per_section.entry(section.clone()).or_default();
        counts.0 += 1;
        match found.get(pair) {
            Some(&exact) => {
                counts.1 += 1;
                counts.2 += usize::from(exact);
            }
            None => missing.push(pair.clone()),
        }
    }
    let unexpected: Vec<(Pair, bool)> = found
        .iter()
        .filter(|(pair, _)| !expected.calls.contains_key(*pair))
        .map(|(pair, &exact)| (pair.clone(), exact))
        .collect();
    let n_exact = found.values().filter(|&&exact| exact).count();
    let n_exact_wrong = unexpected.iter().filter(|(_, exact)| *exact).count();
    let n_recalled = expected.calls.len() - missing.len();
    Score {
        n_expected: expected.calls.len(),
        n_exact,
        n_exact_correct: n_exact - n_exact_wrong,
        n_found: found.len(),
        n_found_correct: found.len() - unexpected.len(),
        n_recalled,
        n_recalled_exact: per_section.values().map(|c| c.2).sum(),
        per_section,
        missing,
        unexpected,
    }
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_owned(), |v| format!("{:.1}%", v * 100.0))
}

/// The Markdown report: measures against targets, recall per call kind, then the edges that
/// are missing and those that are unexpected.
fn report(expected: &Expected, score: &Score) -> String {
    let mut out = String::new();
    let s = score;
    let target = |t: f64| format!("≥ {:.0}%", t * 100.0);
    out.push_str("| measure | value | target |\n|---|---:|---:|\n");
    for (name, value, part, whole, target) in [
        ("precision, exact edges", s.exact_precision(), s.n_exact_correct, s.n_exact, target(EXACT_PRECISION_TARGET)),
        ("precision, all edges", s.precision(), s.n_found_correct, s.n_found, String::new()),
        ("recall, any confidence", s.recall(), s.n_recalled, s.n_expected, target(RECALL_TARGET)),
        ("recall, exact only", s.exact_recall(), s.n_recalled_exact, s.n_expected, String::new()),
    ] {
        writeln!(out, "| {name} | {} ({part}/{whole}) | {target} |", percent(value)).unwrap();
    }
    out.push_str("\n| call kind | expected | found | exact |\n|---|---:|---:|---:|\n");
    for section in &expected.sections {
        let (n, found, exact) = s.per_section[section];
        writeln!(out, "| {section} | {n} | {found} | {exact} |").unwrap();
    }
    writeln!(out, "\nmissing ({}):", s.missing.len()).unwrap();
    for (caller, callee) in &s.missing {
        writeln!(out, "- {caller} -> {callee}  [{}]", expected.calls[&(caller.clone(), callee.clone())]).unwrap();
    }
    writeln!(out, "\nunexpected ({}):", s.unexpected.len()).unwrap();
    for ((caller, callee), exact) in &s.unexpected {
        writeln!(out, "- {caller} -> {callee}  ({})", if *exact { "exact" } else { "inferred" }).unwrap();
    }
    out
}

/// The targets `score` and `found` miss, one readable line each.
fn failures(expected: &Expected, score: &Score, found: &Found) -> Vec<String> {
    let mut failures = Vec::new();
    if found.all.is_empty() {
        failures.push("the graph has no `calls` edges at all".to_owned());
    }
    // With no exact edge there is no exact edge to be wrong: recall is the measure that fails.
    if score.exact_precision().is_some_and(|p| p < EXACT_PRECISION_TARGET) {
        failures.push(format!("exact precision {} is below the target", percent(score.exact_precision())));
    }
    if score.recall().unwrap_or(0.0) < RECALL_TARGET {
        failures.push(format!(
            "recall {} ({} of {} expected edges) is below the target",
            percent(score.recall()),
            score.n_recalled,
            score.n_expected
        ));
    }
    for (pair, confidence) in &found.all {
        if expected.not_calls.contains(pair) {
            failures.push(format!("`{} -> {}` ({confidence}) is listed as no call", pair.0, pair.1));
        }
    }
    failures.extend(found.violations.iter().cloned());
    failures
}

/// Every path the answer key names must be a vertex of the fixture's graph (expected edges join
/// two functions), so that a typo in the key fails here rather than as a missing edge.
fn check_key_against_graph(expected: &Expected, graph: &Graph) {
    let function_paths: BTreeSet<&str> = graph
        .vertices
        .values()
        .filter(|v| v["kind"] == "function")
        .filter_map(|v| v["props"]["path"].as_str())
        .collect();
    let all_paths: BTreeSet<&str> = graph.vertices.values().filter_map(|v| v["props"]["path"].as_str()).collect();
    let mut unknown = BTreeSet::new();
    for (caller, callee) in expected.calls.keys() {
        unknown.extend([caller, callee].into_iter().filter(|p| !function_paths.contains(p.as_str())));
    }
    for (caller, callee) in &expected.not_calls {
        unknown.extend(Some(caller).filter(|p| !function_paths.contains(p.as_str())));
        unknown.extend(Some(callee).filter(|p| !all_paths.contains(p.as_str())));
    }
    assert!(unknown.is_empty(), "the answer key names paths the graph does not have: {unknown:#?}");
}

#[test]
fn calls_match_the_answer_key() {
    let fixture = Fixture::new("calls");
    fixture.build(&["--workspace"], 0);
    let graph = Graph::parse(&fixture.export());
    let expected =
        parse_expected(&std::fs::read_to_string(common::fixtures().join("calls/expected_calls.txt")).unwrap());
    check_key_against_graph(&expected, &graph);

    let found = collect_calls(&graph);
    let score = score(&expected, &found.among_functions);
    let report = report(&expected, &score);
    println!("{report}");
    let failures = failures(&expected, &score, &found);
    // The report is on stdout, which the harness shows for a failing test.
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The answer key and the scoring, checked on a hand-made graph whose score is known.
#[test]
fn scoring_counts_what_it_should() {
    let key = "\
# a comment
## plain
a -> b
a -> c
## methods
b -> c
c -> d
## not calls
! d -> P
";
    let expected = parse_expected(key);
    assert_eq!(expected.sections, ["plain", "methods"]);
    assert_eq!(expected.calls[&("c".to_owned(), "d".to_owned())], "methods");
    assert_eq!(expected.not_calls, BTreeSet::from([("d".to_owned(), "P".to_owned())]));

    // Functions a..d are the fixture's; `ext` stands for code outside it (no `defined_in`), `P` is
    // a tuple struct. Found: a->b exact (right), a->c inferred (right), b->d exact (wrong), c->d
    // twice (right, a duplicate), a->ext (ignored), d->P (a constructor, and listed as no call).
    let vertex =
        |id: &str, kind: &str| format!(r#"{{"type":"vertex","id":"{id}","kind":"{kind}","props":{{"path":"{id}"}}}}"#);
    let edge = |from: &str, kind: &str, to: &str, props: &str| {
        format!(r#"{{"type":"edge","from":"{from}","kind":"{kind}","to":"{to}","props":{props}}}"#)
    };
    let exact = r#"{"count":1,"line":1,"confidence":"exact"}"#;
    let inferred = r#"{"count":2,"line":3,"confidence":"inferred"}"#;
    let mut lines = vec![r#"{"type":"header","schema":1}"#.to_owned(), vertex("file", "file")];
    for id in ["a", "b", "c", "d"] {
        lines.push(vertex(id, "function"));
        lines.push(edge(id, "defined_in", "file", "{}"));
    }
    lines.push(vertex("ext", "function"));
    lines.push(vertex("P", "struct"));
    lines.push(edge("P", "defined_in", "file", "{}"));
    for (from, to, props) in
        [("a", "b", exact), ("a", "c", inferred), ("b", "d", exact), ("c", "d", exact), ("c", "d", inferred)]
    {
        lines.push(edge(from, "calls", to, props));
    }
    lines.push(edge("a", "calls", "ext", exact));
    lines.push(edge("d", "calls", "P", exact));
    let graph = Graph::parse(&lines.join("\n"));

    let found = collect_calls(&graph);
    assert_eq!(found.all.len(), 7);
    let score = score(&expected, &found.among_functions);
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        score,
        Score {
            n_expected: 4,
            n_exact: 3,
            n_exact_correct: 2,
            n_found: 4,
            n_found_correct: 3,
            n_recalled: 3,
            n_recalled_exact: 2,
            per_section: BTreeMap::from([("plain".to_owned(), (2, 2, 1)), ("methods".to_owned(), (2, 1, 1)),]),
            missing: vec![pair("b", "c")],
            unexpected: vec![(pair("b", "d"), true)],
        }
    );
    assert_eq!(percent(score.exact_precision()), "66.7%");
    assert_eq!(percent(score.precision()), "75.0%");
    assert_eq!(percent(score.recall()), "75.0%");
    assert_eq!(percent(score.exact_recall()), "50.0%");

    let failures = failures(&expected, &score, &found);
    assert_eq!(
        failures,
        [
            "exact precision 66.7% is below the target",
            "recall 75.0% (3 of 4 expected edges) is below the target",
            "`d -> P` (exact) is listed as no call",
            "`d -> P` calls a struct: a constructor",
            "`c -> d` has 2 edges, not one",
        ]
    );
    let report = report(&expected, &score);
    assert!(report.contains("| precision, exact edges | 66.7% (2/3) | ≥ 95% |"), "{report}");
    assert!(report.contains("| methods | 2 | 1 | 1 |"), "{report}");
    assert!(report.contains("- b -> c  [methods]") && report.contains("- b -> d  (exact)"), "{report}");

    // No edges at all: precision is unknown rather than zero, and the failure says why.
    let score = crate::score(&expected, &BTreeMap::new());
    assert_eq!(score.exact_precision(), None);
    let failures = crate::failures(&expected, &score, &Found::default());
    assert_eq!(failures[0], "the graph has no `calls` edges at all");
    assert_eq!(failures[1], "recall 0.0% (0 of 4 expected edges) is below the target");
    assert_eq!(failures.len(), 2);
}
