//! Our view of one crate: the modules and items our export holds under one lib crate vertex,
//! with files made relative to the package root, and the targets of their `implements` and
//! `derives` edges. It knows nothing about rustdoc.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::common::Graph;
use crate::compare::Key;
use crate::sources::Sources;

/// The item kinds compared (modules are compared apart; `extern` vertices stand for targets
/// outside the indexed set, not for items).
const ITEM_KINDS: &[&str] = &[
    "function",
    "struct",
    "enum",
    "union",
    "variant",
    "field",
    "trait",
    "impl",
    "type_alias",
    "const",
    "static",
    "macro",
];

#[derive(Debug, Default)]
pub struct Ours {
    pub modules: Vec<OurModule>,
    /// Active items; inactive ones are in `inactive`.
    pub items: Vec<OurItem>,
    /// Items cfg'd out for this target and these features (or under a cfg'd-out parent).
    pub inactive: Vec<Key>,
    /// Per vertex id: the `path` of each target of its `implements` edges.
    pub implements: BTreeMap<String, Vec<String>>,
    /// Per vertex id: the `path` of each target of its `derives` edges.
    pub derives: BTreeMap<String, Vec<String>>,
}

#[derive(Debug)]
pub struct OurModule {
    pub path: String,
    pub file: String,
    /// Declared in a function, const or static body.
    pub in_body: bool,
}

#[derive(Debug)]
pub struct OurItem {
    pub key: Key,
    pub id: String,
    /// Declared in a function, const or static body (rustdoc documents only the trait impls
    /// there).
    pub in_body: bool,
    /// Inside an item or macro call whose `#[cfg]` names `doc`.
    pub cfg_doc: bool,
}

/// The lib crate of package `name` `version` in `graph`. `root_src` is the crate root's path
/// relative to the package folder (`src/lib.rs`), from cargo metadata: the display path of our
/// root module ends with it, and what comes before is the prefix of every file of the package.
pub fn load(graph: &Graph, name: &str, version: &str, root_src: &str, sources: &mut Sources) -> Ours {
    let contains = adjacency(graph, "contains");
    let package = graph
        .vertices
        .values()
        .find(|v| v["kind"] == "package" && v["props"]["name"] == name && v["props"]["version"] == version)
        .unwrap_or_else(|| panic!("no package vertex {name} {version}"));
    let krate = contains[package["id"].as_str().unwrap()]
        .iter()
        .map(|id| &graph.vertices[id])
        .find(|v| v["kind"] == "crate" && v["props"]["kind"] == "lib")
        .unwrap_or_else(|| panic!("package {name} {version} has no lib crate vertex"));
    let roots = &contains[krate["id"].as_str().unwrap()];
    assert_eq!(roots.len(), 1, "crate {name} should contain exactly its root module");
    let root_file = graph.vertices[&roots[0]]["props"]["file"].as_str().unwrap();
    let prefix = root_file
        .strip_suffix(root_src)
        .unwrap_or_else(|| panic!("root module file `{root_file}` does not end with `{root_src}`"));
    let relative = |props: &Value| -> String {
        let file = props["file"].as_str().unwrap_or("");
        file.strip_prefix(prefix).unwrap_or(file).to_owned()
    };

    let mut ours = Ours::default();
    // (vertex, under a function/const/static body, under an inactive item)
    let mut stack: Vec<(&str, bool, bool)> = vec![(roots[0].as_str(), false, false)];
    while let Some((id, in_body, parent_inactive)) = stack.pop() {
        let vertex = &graph.vertices[id];
        let kind = vertex["kind"].as_str().unwrap();
        let props = &vertex["props"];
        let inactive = parent_inactive || props["active"] == false;
        if kind == "module" {
            if !inactive {
                ours.modules.push(OurModule {
                    path: props["path"].as_str().unwrap().to_owned(),
                    file: relative(props),
                    in_body,
                });
            }
        } else if let Some(kind) = ITEM_KINDS.iter().find(|k| **k == kind) {
            let name = if *kind == "impl" { String::new() } else { props["name"].as_str().unwrap_or("").to_owned() };
            let key = Key { kind, name, file: relative(props), line: props["line"].as_u64().unwrap_or(0) as u32 };
            if inactive {
                ours.inactive.push(key);
            } else {
                let cfg_doc = sources.under_doc_cfg(&key.file, key.line);
                ours.items.push(OurItem { key, id: id.to_owned(), in_body, cfg_doc });
            }
        }
        let body = in_body || matches!(kind, "function" | "const" | "static");
        for child in contains.get(id).into_iter().flatten() {
            stack.push((child, body, inactive));
        }
    }
    for (edge_kind, targets) in [("implements", &mut ours.implements), ("derives", &mut ours.derives)] {
        for (from, tos) in adjacency(graph, edge_kind) {
            let paths = tos.iter().map(|to| graph.vertices[to]["props"]["path"].as_str().unwrap_or("").to_owned());
            targets.entry(from.to_owned()).or_default().extend(paths);
        }
    }
    ours
}

/// Edges of `kind` as from-id -> to-ids.
fn adjacency<'g>(graph: &'g Graph, kind: &str) -> BTreeMap<&'g str, Vec<String>> {
    let mut out: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for edge in graph.edges.iter().filter(|e| e["kind"] == kind) {
        out.entry(edge["from"].as_str().unwrap()).or_default().push(edge["to"].as_str().unwrap().to_owned());
    }
    out
}
