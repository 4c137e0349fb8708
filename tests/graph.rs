//! What the graph says about the fixture workspaces: module discovery, items, lines, paths,
//! crate targets and their dependencies. The whole fixture graph is also kept as a snapshot
//! (`tests/snapshots/`), refreshed deliberately with `INSTA_UPDATE=always cargo test`.

mod common;

use common::{Fixture, Graph, graph_of};

fn workspace_graph() -> Graph {
    let fixture = Fixture::new("workspace");
    fixture.build(&["--workspace"], 0);
    Graph::parse(&fixture.export())
}

#[test]
fn module_tree_follows_declarations() {
    let graph = workspace_graph();
    let files = [
        ("fx_core", "crates/core/src/lib.rs"),
        ("fx_core::shapes", "crates/core/src/shapes.rs"),
        // Nested non-mod-rs layout, and a mod.rs below it.
        ("fx_core::shapes::circle", "crates/core/src/shapes/circle.rs"),
        ("fx_core::shapes::polygon", "crates/core/src/shapes/polygon/mod.rs"),
        ("fx_core::shapes::polygon::edge", "crates/core/src/shapes/polygon/edge.rs"),
        // `#[path]` at file level, and inside an inline module of a non-mod-rs file.
        ("fx_core::platform", "crates/core/src/platform/linux_impl.rs"),
        ("fx_core::util::inner", "crates/core/src/util.rs"),
        ("fx_core::util::inner::extra", "crates/core/src/util/inner/extra_impl.rs"),
        // A bin root's child sits beside it.
        ("tool::helpers", "crates/app/src/bin/helpers.rs"),
    ];
    for (path, file) in files {
        let module = graph.one("module", path);
        assert_eq!(module["props"]["file"], file, "{path}");
    }
    let inner = graph.one("module", "fx_core::util::inner");
    assert_eq!((inner["props"]["line"].as_u64(), inner["props"]["end_line"].as_u64()), (Some(1), Some(6)));
    // Modules are never found by globbing: no file that no `mod` names is indexed.
    assert!(graph.vertices.values().filter(|v| v["kind"] == "file").all(|f| {
        let path = f["props"]["path"].as_str().unwrap();
        graph.vertices.values().any(|m| m["kind"] == "module" && m["props"]["file"] == path)
    }));
}

#[test]
fn items_carry_their_facts() {
    let graph = workspace_graph();
    let circle = graph.one("struct", "fx_core::shapes::circle::Circle");
    let props = &circle["props"];
    assert_eq!(props["line"], 3, "the line of `pub struct`, after the doc and derive lines");
    assert_eq!(props["end_line"], 5);
    assert_eq!(props["visibility"], "pub");
    assert_eq!(props["doc"], "A circle.");
    assert_eq!(props["file"], "crates/core/src/shapes/circle.rs");

    let diameter = graph.one("function", "fx_core::shapes::circle::Circle::diameter");
    assert_eq!(diameter["props"]["visibility"], "pub(crate)");
    graph.one("function", "<fx_core::shapes::circle::Circle as crate::Area>::area");
    let display = graph.one("impl", "fx_core::shapes::circle::<impl std::fmt::Display for Circle>");
    assert_eq!(display["props"]["trait"], "std::fmt::Display");
    assert_eq!(display["props"]["self_ty"], "Circle");

    for (kind, path) in [
        ("trait", "fx_core::Area"),
        ("const", "fx_core::VERSION"),
        ("static", "fx_core::COUNTER"),
        ("macro", "fx_core::square"),
        ("type_alias", "fx_core::Result"),
        ("union", "fx_core::Bits"),
        ("variant", "fx_core::Error::Invalid"),
        ("field", "fx_core::Error::Invalid::0"),
        ("field", "fx_core::Error::Other::code"),
        ("field", "fx_core::shapes::polygon::Polygon::0"),
        ("field", "fx_core::shapes::polygon::Polygon::1"),
        // Items nested in a function body belong to the function.
        ("function", "fx_core::util::outer::nested"),
        ("struct", "fx_core::util::outer::Local"),
    ] {
        graph.one(kind, path);
    }
    let contains = graph.edge_lines("contains");
    for line in [
        "function fx_core::util::outer -contains-> struct fx_core::util::outer::Local",
        "enum fx_core::Error -contains-> variant fx_core::Error::Other",
        "variant fx_core::Error::Other -contains-> field fx_core::Error::Other::code",
        "trait fx_core::Area -contains-> function fx_core::Area::area",
        "module fx_core::shapes -contains-> module fx_core::shapes::circle",
        "package fx-core -contains-> crate fx_core (lib)",
        "crate fx_core (lib) -contains-> module fx_core",
    ] {
        assert!(contains.iter().any(|l| l == line), "missing `{line}`");
    }
    assert_eq!(graph.one("field", "fx_core::shapes::polygon::Polygon::1")["props"]["visibility"], "private");
    assert_eq!(graph.one("field", "fx_core::Error::Other::code")["props"]["visibility"], "pub", "as its enum");
}

#[test]
fn every_target_is_a_crate_and_dependencies_follow_cargo() {
    let graph = workspace_graph();
    let mut kinds: Vec<String> = graph
        .vertices
        .values()
        .filter(|v| v["kind"] == "crate")
        .map(|v| format!("{} {}", v["props"]["name"].as_str().unwrap(), v["props"]["kind"].as_str().unwrap()))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "build-script-build custom-build",
            "demo example",
            "fx-app bin",
            "fx-cli bin",
            "fx_app lib",
            "fx_core lib",
            "fx_outside lib",
            "fx_testkit lib",
            "smoke test",
            "speed bench",
            "tool bin",
        ]
    );
    let deps = graph.edge_lines("depends_on");
    for line in [
        // A renamed dependency records its name in code.
        r#"crate fx_cli (bin) -depends_on-> crate fx_core (lib) {"kind":"normal","rename":"core2"}"#,
        // Dev-dependencies reach tests, benches and examples only.
        r#"crate smoke (test) -depends_on-> crate fx_testkit (lib) {"kind":"dev"}"#,
        r#"crate demo (example) -depends_on-> crate fx_testkit (lib) {"kind":"dev"}"#,
        // The dev-dependency cycle between fx-core and fx-testkit is no crate cycle.
        r#"crate fx_testkit (lib) -depends_on-> crate fx_core (lib) {"kind":"normal"}"#,
        // Binaries link their own library; a path dependency outside the members is shown.
        r#"crate fx_app (bin) -depends_on-> crate fx_app (lib) {"kind":"normal"}"#,
        r#"crate fx_app (lib) -depends_on-> crate fx_outside (lib) {"kind":"normal"}"#,
    ] {
        assert!(deps.iter().any(|l| l == line), "missing `{line}` in\n{}", deps.join("\n"));
    }
    assert!(!deps.iter().any(|l| l.starts_with("crate fx_cli (bin)") && l.contains("fx_testkit")));
    assert!(!deps.iter().any(|l| l.starts_with("crate build-script-build")), "the build script has no build-deps");
    let outside = graph.one("crate", "fx_outside");
    assert_eq!(outside["props"]["indexed"], false);
    assert_eq!(outside["props"]["root"], "vendor/outside/src/lib.rs");
    let package =
        graph.vertices.values().find(|v| v["kind"] == "package" && v["props"]["name"] == "fx-outside").unwrap();
    assert_eq!(package["props"]["source"], "path");
}

#[test]
fn colliding_names_get_distinct_stable_ids() {
    let fixture = Fixture::new("single");
    fixture.build(&[], 0);
    let graph = Graph::parse(&fixture.export());
    let os = graph.find("function", "single::os");
    assert_eq!(os.len(), 2, "both cfg alternatives");
    let mut cfgs: Vec<&str> = os.iter().map(|v| v["props"]["cfg"].as_str().unwrap()).collect();
    cfgs.sort();
    assert_eq!(cfgs, ["not(unix)", "unix"]);
    assert_eq!(graph.find("impl", "single::<impl S>").len(), 2, "two inherent impl blocks");
    graph.one("function", "single::S::one");
    graph.one("function", "single::S::two");
    graph.one("const", "<single::S as Shape>::SIDES");
    graph.one("type_alias", "single::Shape::Output");
}

#[test]
fn modules_declared_inside_macro_calls_are_followed() {
    let fixture = Fixture::new("single");
    fixture.build(&[], 0);
    let graph = Graph::parse(&fixture.export());
    assert_eq!(graph.one("module", "single::wrapped")["props"]["file"], "src/wrapped.rs");
    graph.one("function", "single::wrapped::inside");
    graph.one("macro", "single::wrap");
}

#[test]
fn a_module_declared_twice_under_opposite_cfgs_has_its_items_in_both() {
    // tokio's pattern: `cfg_sync! { mod mutex; }` and `cfg_not_sync! { cfg_fs! { mod mutex; } }`
    // declare one file twice, a round of expansion apart, and the same module twice in a file
    // under `#[cfg]`s. The build parses such a file once and expands its calls once, the twin
    // taking a copy (`index::SharedParses`, unit-tested there): both twins must still have every
    // item, each with its own `active`.
    let manifest = "[package]\nname = \"twins\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
                    [features]\nsync = []\n\n[workspace]\n";
    let lib = "macro_rules! cfg_sync { ($($item:item)*) => { $( #[cfg(feature = \"sync\")] $item )* } }\n\
               macro_rules! cfg_not_sync { ($($item:item)*) => { $( #[cfg(not(feature = \"sync\"))] $item )* } }\n\
               macro_rules! cfg_always { ($($item:item)*) => { $( $item )* } }\n\
               macro_rules! make { ($name:ident) => { pub struct $name; impl $name { pub fn new() -> Self { $name } } } }\n\
               cfg_sync! { pub mod mutex; }\n\
               cfg_not_sync! { cfg_always! { pub mod mutex; } }\n\
               #[cfg(unix)]\npub mod sys;\n#[cfg(not(unix))]\npub mod sys;\n";
    let mutex = "pub fn lock() -> Guard { Guard::new() }\nmake!(Guard);\n";
    let sys = "pub fn page() -> usize { crate::mutex::lock(); 4096 }\nmake!(Page);\n";
    let graph =
        graph_of(&[("Cargo.toml", manifest), ("src/lib.rs", lib), ("src/mutex.rs", mutex), ("src/sys.rs", sys)]);
    for (module, function, made) in [("mutex", "lock", "Guard"), ("sys", "page", "Page")] {
        let expected = [false, true];
        assert_eq!(active(&graph, "module", &format!("twins::{module}")), expected, "{module}");
        assert_eq!(active(&graph, "function", &format!("twins::{module}::{function}")), expected, "{function}");
        assert_eq!(active(&graph, "struct", &format!("twins::{module}::{made}")), expected, "{made}");
        assert_eq!(active(&graph, "function", &format!("twins::{module}::{made}::new")), expected);
        for item in graph.find("struct", &format!("twins::{module}::{made}")) {
            assert_eq!(item["props"]["expanded_from"], "make", "{item}");
            assert_eq!(item["props"]["line"], 2, "{item}");
        }
    }
    // Each twin's calls resolve in its own module.
    let calls = graph.edge_lines("calls");
    let lock_calls_new = calls
        .iter()
        .filter(|line| line.starts_with("function twins::mutex::lock -calls-> function twins::mutex::Guard::new"));
    assert_eq!(lock_calls_new.count(), 2, "{calls:#?}");
}

#[test]
fn fixture_graph_snapshot() {
    let graph = workspace_graph();
    insta::assert_snapshot!(graph.render());
}

fn active(graph: &Graph, kind: &str, path: &str) -> Vec<bool> {
    let mut found: Vec<bool> = graph.find(kind, path).iter().map(|v| v["props"]["active"].as_bool().unwrap()).collect();
    found.sort();
    found
}

#[test]
fn rustversion_attributes_keep_or_drop_items_by_the_toolchains_version() {
    // The rustversion crate's attributes are evaluated as `cfg`s are, against the version of the
    // `rustc` cargo runs (generic-array declares a trait twice, once for each side of 1.79); the
    // crate itself is not needed, nothing being compiled.
    let lib = "#[rustversion::since(1.0)]\npub fn new_enough() {}\n\
               #[rustversion::before(1.0)]\npub fn too_old() {}\n\
               #[rustversion::before(1.0)]\nmacro_rules! declare { () => { pub struct Old; }; }\n\
               #[rustversion::since(1.0)]\nmacro_rules! declare { () => { pub struct New; }; }\n\
               declare!();\n\
               #[cfg_attr(all(), rustversion::all(since(1.0), before(1.0)))]\npub fn never() {}\n\
               #[rustversion::attr(since(1.0), inline)]\npub fn kept() {}\n";
    let graph = common::lib_graph("versioned", lib);
    assert_eq!(active(&graph, "function", "versioned::new_enough"), [true]);
    assert_eq!(active(&graph, "function", "versioned::too_old"), [false]);
    assert_eq!(graph.one("function", "versioned::too_old")["props"]["cfg"], "rustversion = \"before(1.0)\"");
    assert_eq!(active(&graph, "function", "versioned::never"), [false]);
    // `attr(...)` adds attributes; it drops nothing.
    assert_eq!(active(&graph, "function", "versioned::kept"), [true]);
    // The definition for this compiler makes the call's items.
    assert_eq!(active(&graph, "struct", "versioned::New"), [true]);
    assert!(graph.find("struct", "versioned::Old").is_empty());
}

#[test]
fn literal_tables_count_for_their_items_hash_and_nothing_else_is_lost() {
    // A table of literals is blanked before parsing (`parse::tables`): the graph must be what it
    // would be, the table's item `hash` must still follow its values, and tables that name items
    // or that a macro reads must be read whole.
    let lib = |rows: &str| {
        format!(
            "pub trait Marker {{}}\n\
             macro_rules! arrays {{ ([$($n:literal),*]) => {{ $( impl Marker for [u8; $n] {{}} )* }}; }}\n\
             arrays!([{}]);\n\
             pub const TABLE: &[(char, &str)] = &[\n{rows}\n]; pub fn after() -> u8 {{ helper() }}\n\
             pub fn helper() -> u8 {{ TABLE.len() as u8 }}\n\
             pub const ONE: u8 = 1;\npub const NAMED: &[u8] = &[{}];\n",
            (1..=30).map(|n| n.to_string()).collect::<Vec<_>>().join(", "),
            vec!["ONE"; 20].join(", "),
        )
    };
    let rows: Vec<String> = (0..40).map(|n| format!("    ('\\u{{{n:x}}}', \"é{n}\"),")).collect();
    let build = |rows: &str| common::lib_graph("tabled", &lib(rows));
    let graph = build(&rows.join("\n"));
    // The macro's input was read whole: one impl for each of its 30 lengths.
    let implements = graph.edge_lines("implements");
    assert_eq!(implements.len(), 30, "{implements:#?}");
    // Lines after the table are where they are written.
    let after = graph.one("function", "tabled::after");
    assert_eq!(after["props"]["line"], 45);
    let calls = graph.edge_lines("calls");
    let call =
        "function tabled::after -calls-> function tabled::helper {\"confidence\":\"exact\",\"count\":1,\"line\":45}";
    assert_eq!(calls, [call]);
    // A table of names is read: its references stay.
    let references = graph.edge_lines("references");
    assert!(
        references.contains(&"const tabled::NAMED -references-> const tabled::ONE {\"line\":48}".to_owned()),
        "{references:#?}"
    );
    let hash = |graph: &Graph| graph.one("const", "tabled::TABLE")["props"]["hash"].as_str().unwrap().to_owned();
    // Laid out otherwise, with comments: the same hash. A value changed: another.
    let relaid = build(&format!(
        "{}  // two a line\n",
        rows.chunks(2).map(|pair| pair.join(" ")).collect::<Vec<_>>().join("\n")
    ));
    assert_eq!(hash(&relaid), hash(&graph));
    let changed = build(&rows.join("\n").replacen("é1\"", "è1\"", 1));
    assert_ne!(hash(&changed), hash(&graph));
}

#[test]
fn cfg_is_evaluated_for_the_target_features_and_test() {
    let fixture = Fixture::new("single");
    // The tests run on Linux hosts: `cfg(unix)` holds.
    let output = fixture.build(&[], 0);
    let err = common::stderr(&output);
    assert!(!err.contains("win_only"), "an inactive module without a file is no warning: {err}");
    let graph = Graph::parse(&fixture.export());
    assert_eq!(active(&graph, "function", "single::os"), [false, true]);
    let unix_os = graph.find("function", "single::os").into_iter().find(|v| v["props"]["cfg"] == "unix").unwrap();
    assert_eq!(unix_os["props"]["active"], true);
    assert_eq!(active(&graph, "function", "single::extra"), [false]);
    assert_eq!(active(&graph, "module", "single::win_only"), [false]);
    // Inside an inactive module, everything is inactive, whatever its own cfg.
    assert_eq!(active(&graph, "module", "single::tests"), [false]);
    assert_eq!(active(&graph, "function", "single::tests::greets"), [false]);
    assert_eq!(active(&graph, "function", "single::greet"), [true]);

    fixture.build(&["-F", "extra", "--cfg-test"], 0);
    let graph = Graph::parse(&fixture.export());
    assert_eq!(active(&graph, "function", "single::extra"), [true]);
    assert_eq!(active(&graph, "function", "single::tests::greets"), [true]);

    // Another target: the other `os` is the active one, and the Windows module's missing file
    // is now worth a warning.
    let output = fixture.build(&["--target", "x86_64-pc-windows-msvc"], 0);
    assert!(common::stderr(&output).contains("file not found for module `win_only`"), "{}", common::stderr(&output));
    let graph = Graph::parse(&fixture.export());
    let windows_os =
        graph.find("function", "single::os").into_iter().find(|v| v["props"]["cfg"] == "not(unix)").unwrap();
    assert_eq!(windows_os["props"]["active"], true);
    assert_eq!(active(&graph, "module", "single::win_only"), [true]);
}
