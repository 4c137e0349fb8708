//! Helpers for tests that run the real binary on fixture workspaces in temporary folders.

#![allow(dead_code, reason = "each test crate uses a different subset of these helpers")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_cargo-codegraph");

/// A file that a tool package ships (a schema), in `<target-dir>/tools/REL`, where `cargo xtask
/// test` installs it. Missing, it fails the test, naming `cargo xtask test`.
pub fn tool_file(rel: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("tools").join(rel);
    assert!(path.is_file(), "`{}` is needed by this test: run `cargo xtask test`, which installs it", path.display());
    path
}

/// A tool that a test drives from outside Rust, found on `PATH` or where `cargo xtask test`
/// installs tools (`<target-dir>/tools`). A missing tool fails the test, naming it and the one
/// command that provides it: a test is never skipped quietly.
pub fn tool(name: &str) -> PathBuf {
    tool_installed_by(
        name,
        "`cargo xtask test`, which installs it there (or `cargo xtask tools` to install the tools alone)",
    )
}

/// `tool`, for a tool that one command installs (`cargo xtask tools --features server`, say):
/// missing, it fails the test naming that command.
pub fn tool_installed_by(name: &str, command: &str) -> PathBuf {
    // `CARGO_TARGET_TMPDIR` is `<target-dir>/tmp`.
    let tools = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("tools");
    let mut dirs = vec![
        tools.join("venv").join("bin"),
        tools.join("node").join("node_modules").join(".bin"),
        tools.join("bin"),
        tools.join("cargo").join("bin"),
    ];
    dirs.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    match dirs.into_iter().map(|dir| dir.join(name)).find(|candidate| candidate.is_file()) {
        Some(found) => found,
        None => panic!(
            "`{name}` is needed by this test and was found neither on PATH nor in `{}`: run {command}",
            tools.display()
        ),
    }
}

/// A copy of `tests/fixtures/<name>` in a fresh temporary folder (cargo writes `Cargo.lock` and
/// `target/` into a workspace, and the fixtures stay clean).
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new(name: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&fixtures().join(name), dir.path());
        Fixture { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn manifest(&self) -> PathBuf {
        self.path().join("Cargo.toml")
    }

    pub fn db(&self) -> PathBuf {
        self.path().join("graph.msgpack")
    }

    /// Runs the binary in the fixture's folder.
    pub fn run(&self, args: &[&str]) -> Output {
        run_in(self.path(), args)
    }

    /// Builds the graph into `self.db()`, with extra arguments; panics unless the exit code is
    /// `expected_code`.
    pub fn build(&self, extra: &[&str], expected_code: i32) -> Output {
        let db = self.db();
        let mut args = vec!["build", "--offline", "--db", db.to_str().unwrap()];
        args.extend(extra);
        let output = self.run(&args);
        assert_eq!(output.status.code(), Some(expected_code), "{}", describe(&output));
        output
    }

    pub fn export(&self) -> String {
        let db = self.db();
        let output = self.run(&["export", "--db", db.to_str().unwrap()]);
        assert!(output.status.success(), "{}", describe(&output));
        String::from_utf8(output.stdout).unwrap()
    }
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("fixtures")
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || name == "Cargo.lock" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// Runs the binary in `dir` with a clean environment for the settings it reads.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_TERM_COLOR")
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .unwrap()
}

/// The graph of a workspace made of `files` (paths relative to its root, and their text) in a
/// temporary folder, built offline with default settings; the build must succeed.
pub fn graph_of(files: &[(&str, &str)]) -> Graph {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let output = run_in(dir.path(), &["build", "--offline"]);
    assert!(output.status.success(), "{}", describe(&output));
    let export = run_in(dir.path(), &["export"]);
    assert!(export.status.success(), "{}", describe(&export));
    Graph::parse(&String::from_utf8(export.stdout).unwrap())
}

/// The graph of a one-package workspace `name` whose library is `lib` (`graph_of`).
pub fn lib_graph(name: &str, lib: &str) -> Graph {
    let manifest = format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n");
    graph_of(&[("Cargo.toml", &manifest), ("src/lib.rs", lib)])
}

pub fn describe(output: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The one entry of the metadata cache (`workspace::cached`) under `root/target`; panics unless
/// there is exactly one.
pub fn metadata_cache_entry(root: &Path) -> PathBuf {
    let dir = root.join("target/codegraph/metadata-cache");
    let entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries.into_iter().next().unwrap()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A parsed export: vertices by id, and edges.
pub struct Graph {
    pub vertices: BTreeMap<String, Value>,
    pub edges: Vec<Value>,
}

impl Graph {
    pub fn parse(export: &str) -> Graph {
        let mut lines = export.lines();
        let header: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(header["type"], "header");
        let mut graph = Graph { vertices: BTreeMap::new(), edges: Vec::new() };
        for line in lines {
            let value: Value = serde_json::from_str(line).unwrap();
            match value["type"].as_str().unwrap() {
                "vertex" => {
                    graph.vertices.insert(value["id"].as_str().unwrap().to_owned(), value);
                }
                "edge" => graph.edges.push(value),
                other => panic!("unexpected line type {other}"),
            }
        }
        graph
    }

    /// The vertices of `kind` whose `path` property is `path`.
    pub fn find(&self, kind: &str, path: &str) -> Vec<&Value> {
        self.vertices.values().filter(|v| v["kind"] == kind && v["props"]["path"] == path).collect()
    }

    /// The one vertex of `kind` at `path`; panics if there is not exactly one.
    pub fn one(&self, kind: &str, path: &str) -> &Value {
        let found = self.find(kind, path);
        assert_eq!(found.len(), 1, "{kind} `{path}`: found {found:#?}");
        found[0]
    }

    /// A readable name for a vertex: `kind path` (or `kind name` where there is no path).
    pub fn label(&self, id: &str) -> String {
        let vertex = &self.vertices[id];
        let props = &vertex["props"];
        let name = props.get("path").or_else(|| props.get("name")).and_then(Value::as_str).unwrap_or("?");
        let kind = vertex["kind"].as_str().unwrap();
        match props.get("kind").and_then(Value::as_str) {
            Some(crate_kind) if kind == "crate" => format!("crate {name} ({crate_kind})"),
            _ => format!("{kind} {name}"),
        }
    }

    /// Edges as `from -kind-> to {props}` lines, sorted.
    pub fn edge_lines(&self, kind: &str) -> Vec<String> {
        let mut lines: Vec<String> = self
            .edges
            .iter()
            .filter(|e| e["kind"] == kind)
            .map(|e| {
                let props = e["props"].as_object().unwrap();
                let props = if props.is_empty() { String::new() } else { format!(" {}", e["props"]) };
                format!(
                    "{} -{kind}-> {}{props}",
                    self.label(e["from"].as_str().unwrap()),
                    self.label(e["to"].as_str().unwrap())
                )
            })
            .collect();
        lines.sort();
        lines
    }

    /// The whole graph as sorted, readable lines: one per vertex, then one per edge.
    pub fn render(&self) -> String {
        let mut vertices: Vec<String> = self
            .vertices
            .values()
            .map(|v| {
                let mut props = v["props"].as_object().unwrap().clone();
                props.remove("path");
                format!("{} {}", self.label(v["id"].as_str().unwrap()), Value::Object(props))
            })
            .collect();
        vertices.sort();
        let mut out = vertices.join("\n");
        let kinds: std::collections::BTreeSet<&str> = self.edges.iter().map(|e| e["kind"].as_str().unwrap()).collect();
        for kind in kinds {
            out.push('\n');
            out.push_str(&self.edge_lines(kind).join("\n"));
        }
        out
    }
}

/// In a copy of the `layered` fixture: adds a forbidden dependency (domain → infra), an upward one (infra → cli) and a module cycle
/// (a ↔ b) to the fixture.
pub fn break_layered_rules(root: &Path) {
    let app = root.join("app/src");
    let mut domain = std::fs::read_to_string(app.join("domain.rs")).unwrap();
    domain
        .push_str("\npub fn persist(user: &User) -> u32 {\n    crate::infra::connect() + user.name.len() as u32\n}\n");
    std::fs::write(app.join("domain.rs"), domain).unwrap();
    std::fs::write(
        app.join("infra.rs"),
        "use crate::cli;\n\npub fn connect() -> u32 {\n    cli::run().len() as u32\n}\n",
    )
    .unwrap();
    std::fs::write(app.join("a.rs"), "pub fn one() -> u32 {\n    crate::b::two() - 1\n}\n").unwrap();
}

/// A workspace big enough that a build of it takes a while; `extra_item` makes a second version.
pub fn write_large_workspace(dir: &Path, files: usize, extra_item: bool) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"large\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    let mut lib = String::new();
    for file in 0..files {
        lib.push_str(&format!("pub mod m{file};\n"));
        let mut text = String::new();
        for item in 0..100 {
            text.push_str(&format!(
                "/// Item {item}.\npub struct S{item} {{ pub a: u32, b: Vec<String> }}\n\
                 impl S{item} {{\n    pub fn get(&self) -> u32 {{ self.a + {item} }}\n}}\n"
            ));
        }
        std::fs::write(dir.join(format!("src/m{file}.rs")), text).unwrap();
    }
    if extra_item {
        lib.push_str("pub fn added() {}\n");
    }
    std::fs::write(dir.join("src/lib.rs"), lib).unwrap();
}
