//! `export --format dot|mermaid|graphml|html` on the `query` fixture: DOT rendered by the real
//! Graphviz, GraphML read by networkx, Mermaid checked for structure and parsed by Mermaid's own
//! parser (npm's `mermaid` under jsdom, `tests/html/mermaid-parse.mjs`), the HTML page driven in
//! headless Chromium (Playwright, `tests/html/drive.cjs`; also on this repository's own graph),
//! the selection flags, the node limit, determinism, and snapshots of small pictures; and every
//! format of this repository's own graph read by the same tools.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::OnceLock;

use common::{Fixture, describe, stderr, tool};

/// One build of the `query` fixture, shared by the tests (they only read it).
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let fixture = Fixture::new("query");
        fixture.build(&[], 0);
        fixture
    })
}

/// Runs `export` with these arguments; panics unless it succeeds.
fn export(args: &[&str]) -> String {
    let fixture = fixture();
    let db = fixture.db();
    let mut argv = vec!["export", "--db", db.to_str().unwrap()];
    argv.extend(args);
    let output = fixture.run(&argv);
    assert!(output.status.success(), "{}", describe(&output));
    String::from_utf8(output.stdout).unwrap()
}

/// Runs `export` expecting a failure with this exit code; its stderr.
fn export_fails(args: &[&str], code: i32) -> String {
    let fixture = fixture();
    let db = fixture.db();
    let mut argv = vec!["export", "--db", db.to_str().unwrap()];
    argv.extend(args);
    let output = fixture.run(&argv);
    assert_eq!(output.status.code(), Some(code), "{}", describe(&output));
    stderr(&output)
}

/// The Mermaid node ids declared (`nK[...]`) and the edges (`nA -->|...| nB`), checking that
/// every edge's ends are declared and that `subgraph`/`end` balance.
fn mermaid_structure(text: &str) -> (BTreeSet<String>, Vec<(String, String, String)>, usize) {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("flowchart LR"));
    let mut declared = BTreeSet::new();
    let mut edges = Vec::new();
    let mut depth = 0i32;
    let mut subgraphs = 0;
    for line in lines {
        let line = line.trim();
        if line.starts_with("subgraph ") {
            depth += 1;
            subgraphs += 1;
            assert!(line.contains("[\"") && line.ends_with("\"]"), "{line}");
        } else if line == "end" {
            depth -= 1;
            assert!(depth >= 0, "unbalanced `end`\n{text}");
        } else if line.starts_with("linkStyle ") {
            continue;
        } else if let Some((from, rest)) = line.split_once(" -->|") {
            let (label, to) = rest.rsplit_once("| ").unwrap();
            assert!(label.starts_with('"') && label.ends_with('"'), "{line}");
            edges.push((from.to_owned(), label.trim_matches('"').to_owned(), to.to_owned()));
        } else {
            let (id, label) = line.split_once('[').unwrap_or_else(|| panic!("unexpected line `{line}`"));
            assert!(label.starts_with('"') && label.ends_with("\"]"), "{line}");
            // Inside the quotes nothing may close the label early.
            assert!(!label[1..label.len() - 2].contains('"'), "{line}");
            assert!(declared.insert(id.to_owned()), "`{id}` declared twice");
        }
    }
    assert_eq!(depth, 0, "unbalanced subgraphs\n{text}");
    for (from, _, to) in &edges {
        assert!(declared.contains(from) && declared.contains(to), "`{from} --> {to}` has an undeclared end\n{text}");
    }
    (declared, edges, subgraphs)
}

/// The nodes of the DOT text other than the legend (`"id" [label=...]` lines).
fn dot_nodes(text: &str) -> usize {
    text.lines().filter(|line| line.trim_start().starts_with('"') && line.contains(" [label=")).count()
}

/// The DOT text rendered by Graphviz's `dot -Tsvg`, which must succeed without a word on stderr.
fn graphviz_svg(dot: &str) -> String {
    let output = Command::new(tool("dot"))
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(dot.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(output.status.success() && output.stderr.is_empty(), "{}\n{dot}", describe(&output));
    String::from_utf8(output.stdout).unwrap()
}

/// The GraphML text read by networkx: its node and edge counts and its vertex kinds (checking
/// that functions' lines are integers and `active` flags booleans, as their typed keys say).
fn networkx_read(graphml: &str) -> (usize, usize, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("graph.graphml");
    std::fs::write(&path, graphml).unwrap();
    let script = "import sys, networkx\n\
                  g = networkx.read_graphml(sys.argv[1], force_multigraph=True)\n\
                  kinds = sorted({d['kind'] for _, d in g.nodes(data=True)})\n\
                  lines = [d.get('line') for _, d in g.nodes(data=True) if d['kind'] == 'function']\n\
                  assert all(isinstance(l, int) for l in lines), lines\n\
                  assert all(isinstance(d['active'], bool) for _, d in g.nodes(data=True) if 'active' in d)\n\
                  print(g.number_of_nodes(), g.number_of_edges(), ','.join(kinds))\n";
    let output = Command::new(tool("python")).arg("-c").arg(script).arg(&path).output().unwrap();
    assert!(output.status.success(), "networkx could not read the export: {}", describe(&output));
    let said = String::from_utf8(output.stdout).unwrap();
    let mut words = said.split_whitespace();
    let mut count = || words.next().and_then(|word| word.parse().ok()).unwrap_or_else(|| panic!("{said}"));
    let (nodes, edges) = (count(), count());
    (nodes, edges, said.split_whitespace().nth(2).unwrap_or_default().to_owned())
}

/// Mermaid's own parser (npm's `mermaid`, under jsdom) on each file: one JSON line per file
/// (`ok`, and the diagram's `type`).
fn mermaid_parse(files: &[std::path::PathBuf]) -> Vec<serde_json::Value> {
    let modules = common::tool_file("node/node_modules/mermaid/package.json");
    let modules = modules.parent().unwrap().parent().unwrap();
    common::tool_file("node/node_modules/jsdom/package.json");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/html/mermaid-parse.mjs");
    let output = Command::new(tool("node")).arg(&script).arg(modules).args(files).output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    String::from_utf8(output.stdout).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

#[test]
fn dot_renders_with_graphviz() {
    let dot = export(&["--format", "dot"]);
    assert!(dot.starts_with("digraph codegraph {"), "{dot}");
    let nodes = dot_nodes(&dot);
    assert!(nodes > 5, "{dot}");
    let svg = graphviz_svg(&dot);
    // Graphviz writes each cluster's label as a <title> and each node as a `class="node"` group.
    for title in ["cluster_legend", "qcore (lib)", "qapp (lib)", "uses_app (test)"] {
        let wanted = if title.starts_with("cluster") { title.to_owned() } else { format!(">{title}</text>") };
        assert!(svg.contains(&wanted), "no `{title}` in the SVG\n{svg}");
    }
    assert_eq!(svg.matches("class=\"node\"").count(), nodes + 1, "the view's nodes and the legend\n{svg}");
    assert_eq!(svg.matches("class=\"cluster\"").count(), dot.matches("subgraph \"cluster_").count());
    // Module level: the modules, each in its crate.
    for module in [">qcore::a</text>", ">qapp::ui</text>", ">qapp::db</text>"] {
        assert!(svg.contains(module), "no `{module}`\n{svg}");
    }
}

#[test]
fn graphml_loads_in_networkx_with_the_jsonl_counts() {
    let jsonl = export(&[]);
    let graph = common::Graph::parse(&jsonl);
    let graphml = export(&["--format", "graphml"]);
    let (nodes, edges, kinds) = networkx_read(&graphml);
    assert_eq!((nodes, edges), (graph.vertices.len(), graph.edges.len()));
    assert!(kinds.contains("function"), "{kinds}");
}

#[test]
fn graphml_at_module_level_carries_counts() {
    let graphml = export(&["--format", "graphml", "--level", "module", "--no-externs"]);
    assert!(graphml.contains("attr.name=\"count\" attr.type=\"long\""), "{graphml}");
    assert!(graphml.contains("<data key=\"e1\">2</data>") || graphml.contains("<data key=\"e1\">1</data>"));
    assert!(graphml.contains("attr.name=\"evidence\""), "{graphml}");
}

#[test]
fn mermaid_is_well_formed() {
    let mermaid = export(&["--format", "mermaid"]);
    let (declared, edges, subgraphs) = mermaid_structure(&mermaid);
    assert!(declared.len() > 5 && !edges.is_empty(), "{mermaid}");
    assert!(subgraphs >= 3, "one per crate\n{mermaid}");
    let items = export(&["--format", "mermaid", "--level", "item", "--max-nodes", "0"]);
    let (_, _, subgraphs) = mermaid_structure(&items);
    assert!(subgraphs > 6, "crates and modules\n{items}");
}

/// Mermaid's own parser (npm's `mermaid`, under jsdom) reads the exports at every level, and
/// rejects a broken one (so that a pass means something).
#[test]
fn mermaid_parses_with_mermaid() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for level in ["crate", "module", "item"] {
        let path = dir.path().join(format!("{level}.mmd"));
        std::fs::write(&path, export(&["--format", "mermaid", "--level", level, "--max-nodes", "0"])).unwrap();
        files.push(path);
    }
    let broken = dir.path().join("broken.mmd");
    std::fs::write(&broken, "flowchart LR\n  n0[\"a\"] -->|\"x\"| n1[\"b\"\n").unwrap();
    files.push(broken);
    let lines = mermaid_parse(&files);
    assert_eq!(lines.len(), 4, "{lines:?}");
    for line in &lines[..3] {
        assert_eq!(line["ok"], true, "Mermaid's parser refused an export: {line}");
        assert_eq!(line["type"], "flowchart-v2", "{line}");
    }
    assert_eq!(lines[3]["ok"], false, "the broken file parsed: {}", lines[3]);
}

#[test]
fn exports_are_deterministic() {
    for format in ["dot", "mermaid", "graphml"] {
        for level in ["crate", "module", "item"] {
            let args = ["--format", format, "--level", level, "--max-nodes", "0"];
            assert_eq!(export(&args), export(&args), "{format} at {level} level");
        }
    }
}

#[test]
fn focus_and_depth() {
    let one = export(&["--format", "mermaid", "--level", "item", "--focus", "qapp::service::run", "--edges", "calls"]);
    let (declared, edges, _) = mermaid_structure(&one);
    assert_eq!(declared.len(), 3, "run, its caller and its callee\n{one}");
    assert!(one.contains("\"qapp::ui::render\"") && one.contains("\"qapp::db::load\""), "{one}");
    assert_eq!(edges.len(), 2, "{one}");
    let two = export(&[
        "--format",
        "mermaid",
        "--level",
        "item",
        "--focus",
        "qapp::service::run",
        "--depth",
        "2",
        "--edges",
        "calls",
    ]);
    assert!(two.contains("\"qapp::fetch\""), "{two}");
    assert!(mermaid_structure(&two).0.len() > declared.len());
    let unknown = export_fails(&["--format", "dot", "--focus", "qapp::nowhere"], 10);
    assert!(unknown.contains("no vertex `qapp::nowhere`"), "{unknown}");
}

#[test]
fn edges_kinds_and_patterns_select() {
    let calls = export(&["--format", "mermaid", "--edges", "calls"]);
    let (_, edges, _) = mermaid_structure(&calls);
    assert!(!edges.is_empty() && edges.iter().all(|(_, label, _)| label.starts_with("calls")), "{calls}");

    let only_qapp = export(&["--format", "mermaid", "--include", "qapp::**", "--no-externs"]);
    let (declared, _, _) = mermaid_structure(&only_qapp);
    assert!(only_qapp.contains("\"qapp::ui\"") && !only_qapp.contains("\"qcore::a\""), "{only_qapp}");
    let without_ui =
        export(&["--format", "mermaid", "--include", "qapp::**", "--exclude", "qapp::ui::**", "--no-externs"]);
    assert!(!without_ui.contains("\"qapp::ui\""), "{without_ui}");
    assert_eq!(mermaid_structure(&without_ui).0.len(), declared.len() - 1);

    let functions = export(&["--format", "graphml", "--kinds", "function"]);
    assert!(functions.contains(">function</data>") && !functions.contains(">struct</data>"), "{functions}");

    let with_externs = export(&["--format", "dot", "--level", "item", "--max-nodes", "0"]);
    let without = export(&["--format", "dot", "--level", "item", "--max-nodes", "0", "--no-externs"]);
    assert!(with_externs.contains("tooltip=\"extern "), "the fixture names std\n{with_externs}");
    assert!(!without.contains("tooltip=\"extern "), "{without}");
}

#[test]
fn node_limit() {
    let message = export_fails(&["--format", "dot", "--level", "item", "--max-nodes", "3"], 2);
    assert!(message.contains("more than 3") && message.contains("--level") && message.contains("--focus"), "{message}");
    let mermaid = export_fails(&["--format", "mermaid", "--max-nodes", "1"], 2);
    assert!(mermaid.contains("--max-nodes"), "{mermaid}");
    // GraphML is for tools, not eyes: no limit.
    export(&["--format", "graphml", "--max-nodes", "1"]);
}

#[test]
fn jsonl_refuses_picture_flags() {
    let message = export_fails(&["--level", "crate"], 2);
    assert!(message.contains("`--level`") && message.contains("whole graph"), "{message}");
    export_fails(&["--format", "jsonl", "--no-externs"], 2);
}

#[test]
fn crate_level_snapshots() {
    let args = ["--level", "crate", "--no-externs"];
    let dot = export(&[&["--format", "dot"], &args[..]].concat());
    let mermaid = export(&[&["--format", "mermaid"], &args[..]].concat());
    insta::assert_snapshot!("crate_level_dot", redact(&dot));
    insta::assert_snapshot!("crate_level_mermaid", mermaid);
}

#[test]
fn module_level_mermaid_snapshot() {
    let mermaid = export(&["--format", "mermaid", "--no-externs", "--include", "qapp::**"]);
    insta::assert_snapshot!("module_level_mermaid", mermaid);
}

/// UUIDs are stable, but a snapshot reads better with them numbered by first appearance.
fn redact(text: &str) -> String {
    let mut seen: Vec<String> = Vec::new();
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = find_uuid(rest) {
        out.push_str(&rest[..start]);
        let id = &rest[start..start + 36];
        let n = seen.iter().position(|s| s == id).unwrap_or_else(|| {
            seen.push(id.to_owned());
            seen.len() - 1
        });
        out.push_str(&format!("<id{n}>"));
        rest = &rest[start + 36..];
    }
    out.push_str(rest);
    out
}

fn find_uuid(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(35)).find(|&i| text.get(i..i + 36).is_some_and(|s| uuid::Uuid::parse_str(s).is_ok()))
}

/// What `tests/html/drive.cjs` saw of a page in headless Chromium.
fn drive_html(page: &std::path::Path, name: &str, search: &str, expand: &str) -> serde_json::Value {
    let screenshots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("html-screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    let plan = serde_json::json!({
        "search": search, "expand": expand, "filter": "calls",
        "screenshots": screenshots, "name": name,
    });
    let plan_path = page.with_extension("plan.json");
    std::fs::write(&plan_path, plan.to_string()).unwrap();
    let playwright = common::tool_file("node/node_modules/playwright-core/package.json");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/html/drive.cjs");
    let output = Command::new(tool("node"))
        .arg(&script)
        .arg(playwright.parent().unwrap())
        .arg(tool("chromium"))
        .arg(page)
        .arg(&plan_path)
        .output()
        .unwrap();
    assert!(output.status.success(), "the driver failed: {}", describe(&output));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| panic!("{err}: {}", describe(&output)))
}

/// The labels a report lists under `key` (an array of strings).
fn strings(value: &serde_json::Value) -> Vec<&str> {
    value.as_array().map(|list| list.iter().filter_map(|v| v.as_str()).collect()).unwrap_or_default()
}

/// The checks both pages pass: no console error, nothing fetched, the search's first hit
/// selected with its callers listed, expand and collapse, the edge-kind filter, pan and zoom.
fn assert_interactive(report: &serde_json::Value, search: &str, caller: &str, item: &str) {
    assert_eq!(report["errors"], serde_json::json!([]), "console errors: {report}");
    assert_eq!(report["requests"], serde_json::json!([]), "the page fetched something: {report}");
    assert!(report["nodes"].as_u64().unwrap() > 3 && report["edges"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(strings(&report["results"]).first(), Some(&search), "{report}");
    assert_eq!(report["selected"], search, "{report}");
    assert!(report["selectedKind"].as_str().unwrap().starts_with("function"), "{report}");
    assert!(strings(&report["incoming"]["calls"]).contains(&caller), "the callers of {search}: {report}");
    assert!(report["itemsAfterSearch"].as_u64().unwrap() > 0, "the search opened the module: {report}");
    assert_eq!(report["itemsAfterCollapseParent"], 0, "{report}");
    assert_eq!(report["expandFound"], 1, "{report}");
    assert!(report["expandButton"].as_str().unwrap().starts_with("Expand"), "{report}");
    assert!(strings(&report["expandedItems"]).contains(&item), "{report}");
    assert_eq!(report["expandedBoxes"], 1, "{report}");
    assert_eq!(report["itemsAfterCollapse"], 0, "{report}");
    assert_eq!(report["expandedBoxesAfterCollapse"], 0, "{report}");
    let (before, after) = (report["filterBefore"].as_u64().unwrap(), report["filterAfter"].as_u64().unwrap());
    assert!(before > 0 && after == 0, "{report}");
    assert_eq!(
        report["edgesAfter"].as_u64().unwrap(),
        report["edgesBefore"].as_u64().unwrap() - before,
        "only `calls` edges hidden: {report}"
    );
    assert_eq!(report["filterRestored"], before, "{report}");
    let transforms = strings(&report["transforms"]);
    assert!(transforms.len() == 3 && transforms[0] != transforms[1] && transforms[1] != transforms[2], "{report}");
}

#[test]
fn html_in_headless_chromium_on_the_fixture() {
    let html = export(&["--format", "html"]);
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..200.min(html.len())]);
    assert_eq!(html, export(&["--format", "html"]), "the same graph gives the same bytes");
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("query.html");
    std::fs::write(&page, &html).unwrap();
    let report = drive_html(&page, "query", "qapp::db::load", "qapp::service");
    assert_interactive(&report, "qapp::db::load", "qapp::service::run", "qapp::service::run");
}

#[test]
fn html_respects_the_node_limit_and_the_selection() {
    let message = export_fails(&["--format", "html", "--max-nodes", "2"], 2);
    assert!(message.contains("more than 2"), "{message}");
    let only_calls = export(&["--format", "html", "--edges", "calls", "--no-externs"]);
    let start = only_calls.find("id=\"codegraph-data\">").unwrap() + "id=\"codegraph-data\">".len();
    let end = start + only_calls[start..].find("</script>").unwrap();
    let data: serde_json::Value = serde_json::from_str(&only_calls[start..end]).unwrap();
    let kinds: Vec<&str> = data["kinds"].as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["calls"]);
    assert!(data["nodes"].as_array().unwrap().iter().all(|n| n["kind"] != "extern"), "{data}");
}

/// This repository's own graph, built once by the debug binary into a folder kept for the tests.
fn own_graph() -> &'static std::path::Path {
    static OWN: OnceLock<tempfile::TempDir> = OnceLock::new();
    OWN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("graph.msgpack");
        let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let build = common::run_in(
            dir.path(),
            &["build", "--offline", "-q", "--manifest-path", manifest.to_str().unwrap(), "--db", db.to_str().unwrap()],
        );
        assert!(build.status.success(), "{}", describe(&build));
        dir
    })
    .path()
}

/// Runs `export` on this repository's graph; panics unless it succeeds.
fn own_export(args: &[&str]) -> String {
    let dir = own_graph();
    let db = dir.join("graph.msgpack");
    let mut argv = vec!["export", "--db", db.to_str().unwrap()];
    argv.extend(args);
    let output = common::run_in(dir, &argv);
    assert!(output.status.success(), "{}", describe(&output));
    String::from_utf8(output.stdout).unwrap()
}

/// DOT, GraphML and Mermaid of this repository's own graph, read by the real tools.
#[test]
fn dot_graphml_and_mermaid_on_this_repository() {
    let dot = own_export(&["--format", "dot"]);
    let nodes = dot_nodes(&dot);
    let svg = graphviz_svg(&dot);
    assert_eq!(svg.matches("class=\"node\"").count(), nodes + 1, "the view's nodes and the legend");
    assert_eq!(svg.matches("class=\"cluster\"").count(), dot.matches("subgraph \"cluster_").count());
    for title in ["cargo_codegraph (lib)", "cargo_codegraph::export", "cargo_codegraph::store::graph", "export (test)"]
    {
        assert!(svg.contains(&format!(">{title}</text>")), "no `{title}` in the SVG");
    }

    let graph = common::Graph::parse(&own_export(&[]));
    let (nodes, edges, kinds) = networkx_read(&own_export(&["--format", "graphml"]));
    assert_eq!((nodes, edges), (graph.vertices.len(), graph.edges.len()));
    assert!(kinds.contains("function") && kinds.contains("impl"), "{kinds}");

    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for level in ["crate", "module"] {
        let text = own_export(&["--format", "mermaid", "--level", level]);
        let (declared, edges, _) = mermaid_structure(&text);
        assert!(declared.len() > 3 && !edges.is_empty(), "{text}");
        let path = dir.path().join(format!("{level}.mmd"));
        std::fs::write(&path, text).unwrap();
        files.push(path);
    }
    for line in mermaid_parse(&files) {
        assert_eq!(line["ok"], true, "Mermaid's parser refused an export: {line}");
    }
}

/// This repository's own graph, at module level: built by the debug binary, opened in Chromium;
/// its screenshot after the search (`target/tmp/html-screenshots/codegraph-search.jpg`) is the
/// README's picture, `docs/graph.jpg`.
#[test]
fn html_in_headless_chromium_on_this_repository() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("codegraph.html");
    own_export(&["--format", "html", "-o", page.to_str().unwrap()]);
    let report = drive_html(&page, "codegraph", "cargo_codegraph::export::view", "cargo_codegraph::export");
    assert_interactive(
        &report,
        "cargo_codegraph::export::view",
        "cargo_codegraph::commands::run_export",
        "cargo_codegraph::export::detail",
    );
    eprintln!("ready {} ms after navigation started", report["readyMs"]);
}
