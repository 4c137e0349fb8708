//! The compiler's view of one crate: runs `cargo rustdoc` with JSON output and reads the local
//! items, modules, trait impls and derives out of it, with their files made relative to the
//! package root. It knows nothing about our graph; `compare` puts the two side by side.
//! Checked against the JSON of rustc 1.95 (format 57): see `MIN_FORMAT_VERSION`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::compare::{Key, Origin};
use crate::sources::Sources;

/// The oldest `format_version` whose shapes this reader knows: `attrs` is a list of
/// `"automatically_derived"`-style strings and `{"other": "#[...]"}` objects, impls carry
/// `is_synthetic`, `blanket_impl` and `is_negative`. rustc 1.95 writes 57.
pub const MIN_FORMAT_VERSION: u64 = 57;

/// How to run `cargo rustdoc` in one workspace.
pub struct RustdocRun<'a> {
    pub workspace: &'a Path,
    /// rustdoc writes `<target_dir>/doc/<crate>.json`.
    pub target_dir: &'a Path,
    /// `--offline` for fixtures, `--locked` for the corpus.
    pub cargo_flags: &'a [&'a str],
}

impl RustdocRun<'_> {
    /// Writes the JSON of the lib target of `package` (a `-p` spec: `fx-core`, `log@0.4.35`) and
    /// returns its path. Hidden items are documented too: `#[doc(hidden)]` items are items.
    pub fn generate(&self, package: &str, crate_name: &str) -> PathBuf {
        let json = self.target_dir.join("doc").join(format!("{crate_name}.json"));
        // A stale file from an earlier run must not pass for this one.
        let _ = std::fs::remove_file(&json);
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command
            .args(["rustdoc", "--lib", "-p", package])
            .args(self.cargo_flags)
            .args(["--", "-Z", "unstable-options", "--output-format", "json"])
            .args(["--document-private-items", "--document-hidden-items"])
            .current_dir(self.workspace)
            .env("CARGO_TARGET_DIR", self.target_dir)
            .env_remove("RUSTDOCFLAGS")
            .env_remove("CARGO_BUILD_TARGET");
        bootstrap_rustdoc_only(&mut command, self.target_dir);
        let output = command.output().unwrap();
        assert!(output.status.success(), "cargo rustdoc -p {package}: {}", crate::common::describe(&output));
        assert!(json.is_file(), "cargo rustdoc -p {package} wrote no `{}`", json.display());
        json
    }
}

/// Lets rustdoc, and only rustdoc, take `-Z` flags on a stable toolchain. `RUSTC_BOOTSTRAP=1` in
/// cargo's environment would reach build scripts too, and some (anyhow's) then probe for nightly
/// features, find them and turn on `cfg`s that a stable build never has: rustdoc would document
/// another configuration than the one we index. So cargo runs rustdoc through a wrapper that sets
/// it (`RUSTDOC`, which cargo honours for `cargo rustdoc`).
#[cfg(unix)]
fn bootstrap_rustdoc_only(command: &mut Command, dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let rustdoc = std::env::var("RUSTDOC").unwrap_or_else(|_| "rustdoc".to_owned());
    assert!(!rustdoc.contains('\''), "RUSTDOC with a quote: {rustdoc}");
    std::fs::create_dir_all(dir).unwrap();
    let wrapper = dir.join("rustdoc-bootstrap.sh");
    std::fs::write(&wrapper, format!("#!/bin/sh\nRUSTC_BOOTSTRAP=1 exec '{rustdoc}' \"$@\"\n")).unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    command.env("RUSTDOC", wrapper);
}

/// Elsewhere the whole cargo run gets `RUSTC_BOOTSTRAP=1` (see the unix version for the cost).
#[cfg(not(unix))]
fn bootstrap_rustdoc_only(command: &mut Command, _dir: &Path) {
    command.env("RUSTC_BOOTSTRAP", "1");
}

/// What rustdoc says of one crate.
#[derive(Debug, Default)]
pub struct Doc {
    /// Every module, by canonical path (found by walking the module tree from the root).
    pub modules: Vec<DocModule>,
    /// Every local item we could index: no `use`, no `extern crate`, no synthetic or blanket
    /// impl (the compiler makes those up).
    pub items: Vec<DocItem>,
    /// Hand-written trait impls (not derived, not negative).
    pub trait_impls: Vec<DocTraitImpl>,
    /// One per name in a `#[derive(...)]`: the derived trait impls (`#[automatically_derived]`)
    /// but those a derive adds beside the one it names (`StructuralPartialEq` for `PartialEq`,
    /// `TrivialClone` for `Clone`).
    pub derives: Vec<DocDerive>,
}

#[derive(Debug)]
pub struct DocModule {
    pub path: String,
    /// `None`: the file is outside the package.
    pub file: Option<String>,
    pub line: u32,
    pub origin: Origin,
}

#[derive(Debug)]
pub struct DocItem {
    pub key: Key,
    pub origin: Origin,
    /// The item (or an item or macro call around it) has a `#[cfg]` that names `doc`: rustdoc and
    /// a build may see different things there.
    pub cfg_doc: bool,
}

#[derive(Debug)]
pub struct DocTraitImpl {
    /// Index into `Doc::items`.
    pub item: usize,
    pub trait_path: String,
}

#[derive(Debug)]
pub struct DocDerive {
    /// Index into `Doc::items` of the deriving type; `None` when rustdoc does not document the
    /// type (a type declared in a function body).
    pub ty: Option<usize>,
    pub trait_path: String,
    /// Where the `derive` is, for listings.
    pub at: String,
}

/// JSON of any depth: rustdoc's of typenum's deeply nested types passes serde_json's default
/// limit of 128 levels, so the limit is off and the value is read on a thread with a stack large
/// enough for it.
fn deep_json(text: String) -> Value {
    use serde::Deserialize;
    std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(move || {
            let mut de = serde_json::Deserializer::from_str(&text);
            de.disable_recursion_limit();
            let value = Value::deserialize(&mut de).unwrap();
            de.end().unwrap();
            value
        })
        .unwrap()
        .join()
        .unwrap()
}

/// Reads `json`, written by rustdoc for the package in `package_dir` run from `workspace`
/// (rustdoc's file names are relative to the folder cargo ran it in, or absolute for packages
/// outside the workspace).
pub fn load(json: &Path, workspace: &Path, package_dir: &Path, sources: &mut Sources) -> Doc {
    let text = std::fs::read_to_string(json).unwrap();
    let root = deep_json(text);
    let version = root["format_version"].as_u64().unwrap();
    assert!(
        version >= MIN_FORMAT_VERSION,
        "rustdoc JSON format {version} is older than {MIN_FORMAT_VERSION}, which this harness reads"
    );
    let index = root["index"].as_object().unwrap();
    let item = |id: &Value| -> Option<&Value> { index.get(&id_string(id)) };
    let relative = |span: &Value| -> Option<String> {
        let name = Path::new(span["filename"].as_str()?);
        let absolute = if name.is_absolute() { name.to_owned() } else { workspace.join(name) };
        let absolute = without_dot_dots(&absolute);
        let inside = absolute.strip_prefix(package_dir).ok()?;
        Some(inside.to_str()?.replace('\\', "/"))
    };

    // Canonical paths of modules and of the items directly in them.
    let mut local_paths: BTreeMap<String, String> = BTreeMap::new();
    let mut modules = Vec::new();
    let mut stack = vec![(root["root"].clone(), String::new())];
    while let Some((id, parent)) = stack.pop() {
        let module = item(&id).unwrap();
        let name = module["name"].as_str().unwrap();
        let path = if parent.is_empty() { name.to_owned() } else { format!("{parent}::{name}") };
        let span = &module["span"];
        let file = relative(span);
        let line = span["begin"][0].as_u64().unwrap_or(0) as u32;
        let origin = origin(span, file.as_deref(), line, sources);
        modules.push(DocModule { path: path.clone(), file, line, origin });
        for child in module["inner"]["module"]["items"].as_array().unwrap() {
            let Some(value) = item(child) else { continue };
            if let Some(child_name) = value["name"].as_str() {
                local_paths.insert(id_string(child), format!("{path}::{child_name}"));
            }
            if value["inner"].get("module").is_some() {
                stack.push((child.clone(), path.clone()));
            }
        }
    }
    modules.sort_by(|a, b| a.path.cmp(&b.path));

    let trait_path = |id: &Value| -> String {
        let id = id_string(id);
        local_paths.get(&id).cloned().unwrap_or_else(|| {
            let path = root["paths"][&id]["path"].as_array();
            path.map(|segments| segments.iter().map(|s| s.as_str().unwrap()).collect::<Vec<_>>().join("::"))
                .unwrap_or_else(|| format!("<unknown trait id {id}>"))
        })
    };

    // Ids of the impls the compiler writes (derives) and of everything inside them.
    let mut derived: BTreeSet<String> = BTreeSet::new();
    for (id, value) in index {
        if value["crate_id"] == 0 && is_derived(value, relative(&value["span"]).as_deref(), sources) {
            derived.insert(id.clone());
            for child in value["inner"]["impl"]["items"].as_array().unwrap() {
                derived.insert(id_string(child));
            }
        }
    }

    let mut doc = Doc { modules, ..Doc::default() };
    let mut positions: BTreeMap<String, usize> = BTreeMap::new();
    let mut ids: Vec<(&String, &Value)> = index.iter().filter(|(_, v)| v["crate_id"] == 0).collect();
    ids.sort_by_key(|(id, _)| id.parse::<u64>().unwrap_or(u64::MAX));
    for (id, value) in &ids {
        let inner = value["inner"].as_object().unwrap();
        let (rustdoc_kind, details) = inner.iter().next().unwrap();
        let Some(kind) = our_kind(rustdoc_kind) else { continue };
        if kind == "impl" && (details["is_synthetic"] == true || !details["blanket_impl"].is_null()) {
            continue;
        }
        let span = &value["span"];
        let file = relative(span);
        let line = span["begin"][0].as_u64().unwrap_or(0) as u32;
        let origin = if derived.contains(*id) { Origin::Derive } else { origin(span, file.as_deref(), line, sources) };
        let name = if kind == "impl" { String::new() } else { value["name"].as_str().unwrap_or("").to_owned() };
        let file = file.unwrap_or_else(|| span["filename"].as_str().unwrap_or("<no span>").to_owned());
        let cfg_doc = value["attrs"].as_array().unwrap().iter().any(|attr| {
            attr["other"].as_str().is_some_and(|text| text.contains("CfgTrace") && text.contains("name: \"doc\""))
        }) || sources.under_doc_cfg(&file, line);
        positions.insert((*id).clone(), doc.items.len());
        doc.items.push(DocItem { key: Key { kind, name, file, line }, origin, cfg_doc });
    }

    for (id, value) in &ids {
        let Some(details) = value["inner"].get("impl") else { continue };
        let Some(position) = positions.get(*id) else { continue };
        if details["trait"].is_null() || details["is_negative"] == true {
            continue;
        }
        let path = trait_path(&details["trait"]["id"]);
        if !is_derived(value, relative(&value["span"]).as_deref(), sources) {
            doc.trait_impls.push(DocTraitImpl { item: *position, trait_path: path });
        } else if derive_name_matches(&value["span"], &doc.items[*position].key.file, &path, sources) {
            let for_id = &details["for"]["resolved_path"]["id"];
            let ty = if for_id.is_null() { None } else { positions.get(&id_string(for_id)).copied() };
            let at = format!("{}:{}", doc.items[*position].key.file, doc.items[*position].key.line);
            doc.derives.push(DocDerive { ty, trait_path: path, at });
        }
    }
    doc
}

/// Where an item comes from, by its span: rustdoc gives a macro-expanded item the span of the
/// outermost macro call (its `source_callsite`), and a derived impl the span of the derive.
fn origin(span: &Value, file: Option<&str>, line: u32, sources: &mut Sources) -> Origin {
    if span.is_null() {
        return Origin::Macro("no span".to_owned());
    }
    let Some(file) = file else {
        return Origin::Macro(format!("span outside the package: {}", span["filename"].as_str().unwrap_or("?")));
    };
    match sources.macro_call_at(file, line) {
        // An item on a later line than the call's first is written out in the call's input
        // (the call passes it on, perhaps changed); one on the first line is made by the macro.
        Some((start, end)) if line > start => {
            Origin::Macro(format!("written in the macro call at {file}:{start}-{end}"))
        }
        Some((start, end)) => Origin::Macro(format!("made by the macro call at {file}:{start}-{end}")),
        None => Origin::Source,
    }
}

/// Whether a derived impl of `trait_path` is the one its derive names: rustdoc's span of a derived
/// impl is the derive's name in the attribute (`Debug` in `#[derive(Debug)]`, or a path such as
/// `serde::Serialize`), and its last segment is the trait's name. When the text cannot be read (a
/// derive written inside a macro's definition has the call's span, libc's `s!`), the impl counts
/// unless its trait is one the standard derives add beside the one they name.
fn derive_name_matches(span: &Value, file: &str, trait_path: &str, sources: &mut Sources) -> bool {
    let at = |field: &str| (span[field][0].as_u64().unwrap_or(0) as u32, span[field][1].as_u64().unwrap_or(0) as u32);
    let Some(written) = sources.span_text(file, at("begin"), at("end")) else {
        return !matches!(
            trait_path,
            "core::marker::StructuralPartialEq" | "core::clone::TrivialClone" | "core::marker::StructuralEq"
        );
    };
    let trait_name = trait_path.rsplit("::").next().unwrap_or(trait_path);
    written.rsplit("::").next().is_none_or(|name| name.trim() == trait_name)
}

/// Whether an impl is a derive's: marked `#[automatically_derived]` (the standard derives, and
/// most derive macros), or placed by rustdoc inside a `derive` attribute (a derive macro's impl
/// that carries no mark).
fn is_derived(value: &Value, file: Option<&str>, sources: &mut Sources) -> bool {
    if value["inner"].get("impl").is_none() {
        return false;
    }
    if value["attrs"].as_array().unwrap().iter().any(|attr| attr == "automatically_derived") {
        return true;
    }
    let line = value["span"]["begin"][0].as_u64().unwrap_or(0) as u32;
    file.is_some_and(|file| sources.in_derive(file, line))
}

/// `path` with its `a/..` pairs taken out, as written (rustdoc keeps a `#[path = "../x.rs"]`
/// module's file as `dir/../x.rs`; we name the file it is).
fn without_dot_dots(path: &Path) -> std::path::PathBuf {
    let mut out = std::path::PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn id_string(id: &Value) -> String {
    match id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Our vertex kind for a rustdoc item kind; `None` for what we do not index as an item
/// (`use`, `extern crate`, primitives, extern types, trait aliases). Modules are compared apart.
fn our_kind(rustdoc_kind: &str) -> Option<&'static str> {
    Some(match rustdoc_kind {
        "function" | "proc_macro" => "function",
        "struct" => "struct",
        "struct_field" => "field",
        "enum" => "enum",
        "variant" => "variant",
        "union" => "union",
        "trait" => "trait",
        "impl" => "impl",
        "type_alias" | "assoc_type" => "type_alias",
        "constant" | "assoc_const" => "const",
        "static" => "static",
        "macro" => "macro",
        _ => return None,
    })
}
