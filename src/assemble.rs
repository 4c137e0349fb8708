//! The assembly stage: one file's facts in, vertices and edges out.
//!
//! Here facts meet ids: every vertex gets its key from its container's key, its kind and its
//! name, plus a disambiguator where siblings collide (see `disambiguators`). Canonical paths are
//! built here too. `mod x;` declarations are handed back to the caller, which finds and indexes
//! their files. The package and crate vertices come from `workspace_batch`. This module knows
//! nothing of threads, the file system or the store.

use std::collections::HashMap;
use std::sync::Arc;

use rustc_hash::FxHashSet;
use serde_json::Value;
use uuid::Uuid;

use crate::cfg::CfgContext;
use crate::ids::Key;
use crate::model::{Batch, Edge, EdgeKind, Props, Vertex, VertexKind};
use crate::parse::{Detail, ItemFacts, MacroCall, Refs};
use crate::resolve::{ItemRecord, Ns, Shape};
use crate::workspace::Workspace;

/// The file being assembled, as the graph names it.
#[derive(Clone, Debug)]
pub struct FileRef {
    pub id: Uuid,
    /// The file's name in the graph (relative, `/`-separated).
    pub name: Arc<str>,
}

/// The module whose body is being assembled.
pub struct ModuleRef<'a> {
    pub key: &'a Key,
    pub id: Uuid,
    /// The module's canonical path (`my_crate::a::b`).
    pub path: &'a str,
    /// The name paths written `crate::...` start with.
    pub crate_name: &'a str,
    /// The folders the inline modules around this body stand for (see `workspace::modules`).
    pub inline_dirs: &'a [String],
    /// Whether the module is compiled in this configuration.
    pub active: bool,
    pub cfg: &'a CfgContext,
    /// For items from macro expansions: the ids the module's other items already have. An item
    /// whose id is taken gets a disambiguator naming the macro (`name!`).
    pub taken: Option<(&'a FxHashSet<Uuid>, &'a str)>,
}

/// An item-position macro call in a module body, to expand once the crate's macros are known.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct MacroSite {
    pub module_key: Key,
    pub module_id: Uuid,
    pub module_path: String,
    pub inline_dirs: Vec<String>,
    pub active: bool,
    pub call: MacroCall,
    /// For a call among an impl's or a trait's members: that impl or trait.
    pub container: Option<Container>,
}

/// The impl or trait a macro call among members is in: what its members' keys and paths need.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Container {
    pub key: Key,
    pub id: Uuid,
    pub path: String,
    pub active: bool,
    /// For a trait: its visibility, which its members have.
    pub trait_visibility: Option<String>,
    /// For an impl: its trait as written, and its self type.
    pub impl_header: Option<(Option<String>, String)>,
    /// For a const or a static: the calls are statements of its initializer
    /// (`parse::expand_statements`), not members.
    pub statements: bool,
}

impl MacroSite {
    pub fn new(module: &ModuleRef<'_>, call: MacroCall) -> MacroSite {
        MacroSite {
            module_key: module.key.clone(),
            module_id: module.id,
            module_path: module.path.to_owned(),
            inline_dirs: module.inline_dirs.to_vec(),
            active: module.active,
            call,
            container: None,
        }
    }

    /// The module the call is in, for what its expansion makes: the inverse of `new`, with the
    /// crate, the configuration and the ids the expansion must not take (named by `via`).
    pub fn module_ref<'a>(
        &'a self,
        crate_name: &'a str,
        cfg: &'a CfgContext,
        taken: &'a FxHashSet<Uuid>,
        via: &'a str,
    ) -> ModuleRef<'a> {
        ModuleRef {
            key: &self.module_key,
            id: self.module_id,
            path: &self.module_path,
            crate_name,
            inline_dirs: &self.inline_dirs,
            active: self.active,
            cfg,
            taken: Some((taken, via)),
        }
    }
}

/// What assembling a module body gives.
#[derive(Debug, Default)]
pub struct BodyOut {
    pub batch: Batch,
    /// What resolution needs of each module and item.
    pub records: Vec<ItemRecord>,
    /// `mod x;` declarations, whose files the caller indexes.
    pub children: Vec<ChildModule>,
    /// Macro calls, which the caller expands once the crate's macros are known.
    pub sites: Vec<MacroSite>,
}

/// A `mod x;` declaration found in a module body: its file is indexed by the caller.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ChildModule {
    pub key: Key,
    /// The declaring module; `None` for a crate root.
    pub parent: Option<Uuid>,
    pub name: String,
    pub path: String,
    pub visibility: String,
    pub doc: Option<String>,
    pub cfg: Option<String>,
    /// The 1-based line of the declaration in the declaring file.
    pub decl_line: u32,
    pub path_attr: Option<String>,
    pub cfg_path_attrs: Vec<(String, String)>,
    pub inline_dirs: Vec<String>,
    /// Whether the declaration is compiled in this configuration.
    pub active: bool,
}

/// The key of a crate's root module, under the crate's key.
fn root_module_key(krate: &Key) -> Key {
    krate.child(VertexKind::Module, "")
}

impl ChildModule {
    /// The root module of the crate with `key`, named `crate_name`: public, active, declared
    /// nowhere.
    pub fn crate_root(key: &Key, crate_name: &str) -> ChildModule {
        ChildModule {
            key: root_module_key(key),
            parent: None,
            name: crate_name.to_owned(),
            path: crate_name.to_owned(),
            visibility: "pub".to_owned(),
            doc: None,
            cfg: None,
            decl_line: 0,
            path_attr: None,
            cfg_path_attrs: Vec::new(),
            inline_dirs: Vec::new(),
            active: true,
        }
    }
}

/// The common properties of a module or item vertex.
pub fn item_props(facts: &ItemFacts, path: &str, file: &str, active: bool) -> Props {
    let mut props = Props::new();
    props.insert("name", Value::from(facts.name.as_str()));
    props.insert("path", Value::from(path));
    props.insert("file", Value::from(file));
    props.insert("line", Value::from(facts.line));
    props.insert("end_line", Value::from(facts.end_line));
    props.insert("visibility", Value::from(facts.visibility.as_str()));
    props.insert("active", Value::from(active));
    if let Some(doc) = &facts.doc {
        props.insert("doc", Value::from(doc.as_str()));
    }
    if let Some(cfg) = &facts.cfg {
        props.insert("cfg", Value::from(cfg.as_str()));
    }
    props.insert("hash", Value::from(hash_text(facts.hash)));
    if let Some(name) = &facts.expanded_from {
        props.insert("expanded_from", Value::from(name.as_str()));
    }
    match &facts.detail {
        Detail::Impl { trait_, self_ty, .. } => {
            if let Some(trait_) = trait_ {
                props.insert("trait", Value::from(trait_.as_str()));
            }
            props.insert("self_ty", Value::from(self_ty.as_str()));
        }
        Detail::Function { signature, is_async, is_unsafe, is_const, .. } => {
            props.insert("signature", Value::from(signature.as_str()));
            props.insert("is_async", Value::from(*is_async));
            props.insert("is_unsafe", Value::from(*is_unsafe));
            props.insert("is_const", Value::from(*is_const));
        }
        Detail::None
        | Detail::Module { .. }
        | Detail::Field { .. }
        | Detail::TypeAlias { .. }
        | Detail::MacroRules { .. } => {}
    }
    props
}

/// How a hash is stored: 16 hex digits.
pub fn hash_text(hash: u64) -> String {
    format!("{hash:016x}")
}

/// What resolution needs of an item, taken from its facts (which are consumed); its calls those
/// `cfg` compiles (`keep_compiled_calls`).
fn take_record(
    mut facts: ItemFacts,
    cfg: &CfgContext,
    id: Uuid,
    parent: Uuid,
    path: String,
    active: bool,
    file: &FileRef,
) -> (ItemRecord, Vec<ItemFacts>) {
    let shape = match facts.detail {
        Detail::Function { returns, inputs, receiver, .. } => Shape::Function { returns, inputs, receiver },
        Detail::Impl { trait_, trait_path, self_type, .. } => {
            Shape::Impl { trait_path, self_type, negative: trait_.is_some_and(|t| t.starts_with('!')) }
        }
        Detail::Field { ty } => Shape::Field { ty },
        Detail::TypeAlias { target } => Shape::Alias { target },
        Detail::MacroRules { definition } => Shape::MacroRules { definition },
        Detail::None | Detail::Module { .. } => Shape::None,
    };
    keep_compiled_calls(&mut facts.refs, cfg);
    let record = ItemRecord {
        id,
        kind: facts.kind,
        name: facts.name,
        path,
        parent: Some(parent),
        visibility: facts.visibility,
        active,
        file: file.name.clone(),
        line: facts.line,
        shape,
        refs: facts.refs.into(),
    };
    (record, facts.children)
}

/// Drops from `refs` the calls its crate does not compile (under a `#[cfg]` that does not hold),
/// unless it has body macros, whose ranges of calls their expansion needs as parsed (it drops
/// them then, `index::expand_body_macros`). A record so kept needs nothing more before
/// resolution, and a rerun can leave it packed (`resolve::RecordRefs`).
pub fn keep_compiled_calls(refs: &mut Refs, cfg: &CfgContext) {
    if refs.body_macros.is_empty() {
        refs.calls.retain(|call| cfg.allows(call.cfg.as_deref()));
    }
}

/// Adds a module body's items to `out`: their vertices and edges, their records, its `mod x;`
/// declarations, and the macro calls of the inline modules in it.
pub fn module_body(file: &FileRef, module: &ModuleRef<'_>, items: Vec<ItemFacts>, out: &mut BodyOut) {
    let disambiguators = disambiguators(&items);
    module_body_with(file, module, items, disambiguators, out);
}

/// `module_body`, with the items' disambiguators given (`disambiguators` of a list they are part
/// of: several bodies of one module, told apart together).
pub fn module_body_with(
    file: &FileRef,
    module: &ModuleRef<'_>,
    items: Vec<ItemFacts>,
    disambiguators: Vec<Option<String>>,
    out: &mut BodyOut,
) {
    for (mut facts, disambiguator) in items.into_iter().zip(disambiguators) {
        let mut key = module.key.child(facts.kind, &facts.name);
        if let Some(disambiguator) = disambiguator {
            key = key.disambiguated(&disambiguator);
        }
        if let Some((taken, call)) = module.taken {
            key = untaken(key, taken, call);
        }
        let id = key.id();
        let path = format!("{}::{}", module.path, segment(&facts));
        let active = module.active && module.cfg.allows(facts.cfg.as_deref());
        out.batch.edges.push(Edge::new(module.id, EdgeKind::Contains, id));
        if facts.expanded_from.is_some() && module.taken.is_some() {
            // An expansion's own items (not those of modules it declares) hang off the module
            // the call is in.
            out.batch.edges.push(Edge::new(module.id, EdgeKind::ExpandsTo, id));
        }
        match &mut facts.detail {
            Detail::Module { inline: false, path_attr, cfg_path_attrs, .. } => out.children.push(ChildModule {
                key,
                parent: Some(module.id),
                name: facts.name.clone(),
                path,
                visibility: facts.visibility.clone(),
                doc: facts.doc.clone(),
                cfg: facts.cfg.clone(),
                decl_line: facts.line,
                path_attr: path_attr.clone(),
                cfg_path_attrs: cfg_path_attrs.clone(),
                inline_dirs: module.inline_dirs.to_vec(),
                active,
            }),
            Detail::Module { inline: true, path_attr, macro_calls, .. } => {
                let mut inline_dirs = module.inline_dirs.to_vec();
                inline_dirs.push(path_attr.clone().unwrap_or_else(|| facts.name.clone()));
                let calls = std::mem::take(macro_calls);
                push_vertex(&mut out.batch, file, id, facts.kind, item_props(&facts, &path, &file.name, active));
                let (record, body) = take_record(facts, module.cfg, id, module.id, path, active, file);
                let inner = ModuleRef {
                    key: &key,
                    id,
                    path: &record.path,
                    inline_dirs: &inline_dirs,
                    active,
                    taken: None,
                    ..*module
                };
                module_body(file, &inner, body, out);
                out.sites.extend(calls.into_iter().map(|call| MacroSite::new(&inner, call)));
                out.records.push(record);
            }
            _ => item_tree(file, module, facts, &key, id, module.id, path, active, out),
        }
    }
}

/// Adds an item and everything it contains (fields, variants, associated items, items declared
/// in a function body).
#[expect(clippy::too_many_arguments, reason = "the recursion's state; a struct would only rename it")]
fn item_tree(
    file: &FileRef,
    module: &ModuleRef<'_>,
    mut facts: ItemFacts,
    key: &Key,
    id: Uuid,
    parent: Uuid,
    path: String,
    active: bool,
    out: &mut BodyOut,
) {
    push_vertex(&mut out.batch, file, id, facts.kind, item_props(&facts, &path, &file.name, active));
    let impl_header = match &facts.detail {
        Detail::Impl { trait_, self_ty, .. } => Some((trait_.clone(), self_ty.clone())),
        _ => None,
    };
    let member_calls = std::mem::take(&mut facts.member_calls);
    if !member_calls.is_empty() {
        let container = Container {
            key: key.clone(),
            id,
            path: path.clone(),
            active,
            trait_visibility: (facts.kind == VertexKind::Trait).then(|| facts.visibility.clone()),
            impl_header: impl_header.clone(),
            statements: matches!(facts.kind, VertexKind::Const | VertexKind::Static),
        };
        out.sites.extend(
            member_calls
                .into_iter()
                .map(|call| MacroSite { container: Some(container.clone()), ..MacroSite::new(module, call) }),
        );
    }
    // `#[cfg_attr(predicate, derive(...))]`: derives where the predicate holds for the crate.
    let cfg_derives = std::mem::take(&mut facts.refs.cfg_derives);
    facts.refs.derives.extend(
        cfg_derives.into_iter().filter(|(predicate, _)| module.cfg.allows(Some(predicate))).map(|(_, named)| named),
    );
    let (record, children) = take_record(facts, module.cfg, id, parent, path, active, file);
    let path = record.path.as_str();
    let disambiguators = disambiguators(&children);
    for (child, disambiguator) in children.into_iter().zip(disambiguators) {
        let mut child_key = key.child(child.kind, &child.name);
        if let Some(disambiguator) = disambiguator {
            child_key = child_key.disambiguated(&disambiguator);
        }
        let child_id = child_key.id();
        let child_active = active && module.cfg.allows(child.cfg.as_deref());
        let child_path = match &impl_header {
            Some((trait_, self_ty)) => impl_member_path(module, trait_.as_deref(), self_ty, &child.name),
            None => format!("{path}::{}", segment(&child)),
        };
        out.batch.edges.push(Edge::new(id, EdgeKind::Contains, child_id));
        if let Detail::Module { .. } = child.detail {
            // An inline module inside a function body: its items are the module's. A `mod x;`
            // or a macro call there is not followed.
            let props = item_props(&child, &child_path, &file.name, child_active);
            push_vertex(&mut out.batch, file, child_id, child.kind, props);
            let (child_record, body) = take_record(child, module.cfg, child_id, id, child_path, child_active, file);
            let inner = ModuleRef {
                key: &child_key,
                id: child_id,
                path: &child_record.path,
                inline_dirs: &[],
                active: child_active,
                taken: None,
                ..*module
            };
            let mut inner_out = BodyOut::default();
            module_body(file, &inner, body, &mut inner_out);
            out.batch.append(&mut inner_out.batch);
            out.records.append(&mut inner_out.records);
            out.records.push(child_record);
        } else {
            item_tree(file, module, child, &child_key, child_id, id, child_path, child_active, out);
        }
    }
    out.records.push(record);
}

/// `key`, or when an earlier item has its id, `key` disambiguated by the macro (`name!`), and
/// further by a number while that is taken too (a recursive macro makes `const _` round after
/// round). Never by the call's line: an edit above the call would give the item another id.
fn untaken(key: Key, taken: &FxHashSet<Uuid>, call: &str) -> Key {
    if !taken.contains(&key.id()) {
        return key;
    }
    let mut candidate = key.clone().disambiguated(call);
    let mut n = 1;
    while taken.contains(&candidate.id()) {
        candidate = key.clone().disambiguated(&format!("{call}#{n}"));
        n += 1;
    }
    candidate
}

/// Adds the members a macro call among an impl's or a trait's members made: children of the
/// container, with `expands_to` edges from it.
pub fn members(
    file: &FileRef,
    module: &ModuleRef<'_>,
    container: &Container,
    items: Vec<ItemFacts>,
    out: &mut BodyOut,
) {
    let disambiguators = disambiguators(&items);
    for (child, disambiguator) in items.into_iter().zip(disambiguators) {
        let mut key = container.key.child(child.kind, &child.name);
        if let Some(disambiguator) = disambiguator {
            key = key.disambiguated(&disambiguator);
        }
        if let Some((taken, call)) = module.taken {
            key = untaken(key, taken, call);
        }
        let id = key.id();
        let active = container.active && module.cfg.allows(child.cfg.as_deref());
        let path = match &container.impl_header {
            Some((trait_, self_ty)) => impl_member_path(module, trait_.as_deref(), self_ty, &child.name),
            None => format!("{}::{}", container.path, segment(&child)),
        };
        out.batch.edges.push(Edge::new(container.id, EdgeKind::Contains, id));
        out.batch.edges.push(Edge::new(container.id, EdgeKind::ExpandsTo, id));
        item_tree(file, module, child, &key, id, container.id, path, active, out);
    }
}

fn push_vertex(batch: &mut Batch, file: &FileRef, id: Uuid, kind: VertexKind, props: Props) {
    batch.vertices.push(Vertex { id, kind, props });
    batch.edges.push(Edge::new(id, EdgeKind::DefinedIn, file.id));
}

/// An item's last path segment: its name, or `<impl Trait for Type>` for an impl.
fn segment(facts: &ItemFacts) -> String {
    if facts.kind == VertexKind::Impl { format!("<{}>", facts.name) } else { facts.name.clone() }
}

/// `my_crate::m::Type::method` for inherent impls, `<my_crate::m::Type as Trait>::method` for
/// trait impls. Until names are resolved across modules, a self type named by one identifier is
/// taken to live in the impl's module, and `crate::` is replaced by the crate's name.
fn impl_member_path(module: &ModuleRef<'_>, trait_: Option<&str>, self_ty: &str, member: &str) -> String {
    let qualified = qualify(module, self_ty);
    match trait_ {
        Some(trait_) => format!("<{qualified} as {trait_}>::{member}"),
        None => {
            // Generic arguments are no part of an inherent method's path.
            let base = qualified.split('<').next().unwrap_or(&qualified);
            if is_plain_path(base) { format!("{base}::{member}") } else { format!("<{qualified}>::{member}") }
        }
    }
}

fn qualify(module: &ModuleRef<'_>, ty: &str) -> String {
    let base = ty.split('<').next().unwrap_or(ty);
    if !is_plain_path(base) {
        return ty.to_owned();
    }
    if let Some(rest) = ty.strip_prefix("crate::") {
        format!("{}::{rest}", module.crate_name)
    } else if !base.contains("::") {
        format!("{}::{ty}", module.path)
    } else {
        ty.to_owned()
    }
}

fn is_plain_path(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_alphanumeric() || c == '_' || c == ':')
}

/// Tells siblings of one kind and name apart, stably: an item that collides with no sibling gets
/// no disambiguator; colliding ones get their `cfg` predicate (cfg-alternative definitions), and
/// `#n` for the n-th repeat of the same kind, name and predicate in source order (two `impl
/// Foo` blocks). Adding an unrelated item changes no existing id.
pub fn disambiguators(items: &[ItemFacts]) -> Vec<Option<String>> {
    let mut totals: HashMap<(VertexKind, &str), usize> = HashMap::new();
    for item in items {
        *totals.entry((item.kind, item.name.as_str())).or_default() += 1;
    }
    let mut seen: HashMap<(VertexKind, &str, Option<&str>), usize> = HashMap::new();
    items
        .iter()
        .map(|item| {
            let cfg = item.cfg.as_deref();
            let repeat = seen.entry((item.kind, item.name.as_str(), cfg)).or_default();
            let n = *repeat;
            *repeat += 1;
            if totals[&(item.kind, item.name.as_str())] == 1 {
                return None;
            }
            match (cfg, n) {
                (None, 0) => None,
                (None, n) => Some(format!("#{n}")),
                (Some(cfg), 0) => Some(cfg.to_owned()),
                (Some(cfg), n) => Some(format!("{cfg}#{n}")),
            }
        })
        .collect()
}

/// A second definition of a name in one namespace of a module (rustc's E0428: `mod a; mod a;`,
/// `fn f() {}` twice, a `struct` and an `enum` of one name), both compiled in this configuration.
/// Lines are 1-based lines of the file the module body is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duplicate {
    /// The canonical path of the module both are in.
    pub module: String,
    pub name: String,
    pub kind: VertexKind,
    pub line: u32,
    /// The first definition: its kind and line.
    pub first: (VertexKind, u32),
}

/// The duplicate definitions among a module body's items and those of the inline modules in it
/// (`path` is the module's canonical path, `active` whether it is compiled). Only items that are
/// compiled here count: cfg alternatives (`#[cfg(unix)] mod imp; #[cfg(windows)] mod imp;`) are
/// not duplicates. Macros are left out (a `macro_rules!` may be defined again, shadowing the
/// first), and so are `_` items (`const _: () = ...;` may repeat), impls and `use`s. Two `mod x;`
/// declarations with different `#[path]` files are left out too: each file's own `#![cfg]`
/// decides whether it exists, and that is only known once both are read. So are items an
/// attribute macro may rewrite (`ItemFacts::attribute_macro`: js-sys declares many `fn new` in
/// `#[wasm_bindgen] extern` blocks, which the macro turns into methods of different types).
pub fn duplicates(items: &[ItemFacts], cfg: &CfgContext, path: &str, active: bool) -> Vec<Duplicate> {
    let mut found = Vec::new();
    duplicates_into(items, cfg, path, active, &mut found);
    found
}

fn duplicates_into(items: &[ItemFacts], cfg: &CfgContext, path: &str, active: bool, found: &mut Vec<Duplicate>) {
    type FilePath<'a> = (&'a Option<String>, &'a [(String, String)]);
    fn file_path(item: &ItemFacts) -> Option<FilePath<'_>> {
        match &item.detail {
            Detail::Module { inline: false, path_attr, cfg_path_attrs, .. } => Some((path_attr, cfg_path_attrs)),
            _ => None,
        }
    }
    let mut first: HashMap<(Ns, &str), &ItemFacts> = HashMap::new();
    for item in items {
        let item_active = active && cfg.allows(item.cfg.as_deref());
        if let Detail::Module { inline: true, .. } = item.detail {
            duplicates_into(&item.children, cfg, &format!("{path}::{}", item.name), item_active, found);
        }
        // Macros may be defined again (see above): types and values only.
        let Some(namespace) = Ns::of(item.kind).filter(|ns| *ns != Ns::Macro) else { continue };
        // What an attribute macro may rewrite is rustc's to judge after expansion.
        if !item_active
            || item.name.is_empty()
            || item.name == "_"
            || item.expanded_from.is_some()
            || item.attribute_macro
        {
            continue;
        }
        match first.entry((namespace, item.name.as_str())) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(item);
            }
            std::collections::hash_map::Entry::Occupied(slot) => {
                let earlier = *slot.get();
                let other_files = matches!((file_path(earlier), file_path(item)), (Some(a), Some(b)) if a != b);
                if !other_files {
                    found.push(Duplicate {
                        module: path.to_owned(),
                        name: item.name.clone(),
                        kind: item.kind,
                        line: item.line,
                        first: (earlier.kind, earlier.line),
                    });
                }
            }
        }
    }
}

/// The package and crate vertices of a workspace, and the `contains` and `depends_on` edges
/// between them.
pub fn workspace_batch(workspace: &Workspace) -> Batch {
    let mut batch = Batch::default();
    // Each id once: a dependency names two crates, a crate its package (tokio's: 3,928
    // dependencies between 208 crates of 21 packages, a hash of the key each).
    let crate_ids: Vec<uuid::Uuid> = workspace.crates.iter().map(|krate| krate.key.id()).collect();
    let package_ids: Vec<uuid::Uuid> = workspace.packages.iter().map(|package| package.key.id()).collect();
    for (package, &id) in workspace.packages.iter().zip(&package_ids) {
        let mut props = Props::new();
        props.insert("name", Value::from(package.name.as_str()));
        props.insert("version", Value::from(package.version.as_str()));
        props.insert("source", Value::from(package.source.as_str()));
        batch.vertices.push(Vertex { id, kind: VertexKind::Package, props });
    }
    for (index, krate) in workspace.crates.iter().enumerate() {
        let package = &workspace.packages[krate.package];
        let mut props = Props::new();
        props.insert("name", Value::from(krate.name.as_str()));
        props.insert("path", Value::from(krate.crate_name.as_str()));
        props.insert("kind", Value::from(krate.kind.as_str()));
        props.insert("edition", Value::from(krate.edition.as_str()));
        props.insert("root", Value::from(workspace.display_path(package, &krate.root)));
        props.insert("indexed", Value::from(krate.indexed));
        let id = crate_ids[index];
        batch.vertices.push(Vertex { id, kind: VertexKind::Crate, props });
        batch.edges.push(Edge::new(package_ids[krate.package], EdgeKind::Contains, id));
    }
    for dep in &workspace.deps {
        let mut props = Props::new();
        props.insert("kind", Value::from(dep.kind.as_str()));
        if let Some(rename) = &dep.rename {
            props.insert("rename", Value::from(rename.as_str()));
        }
        batch.edges.push(Edge { from: crate_ids[dep.from], kind: EdgeKind::DependsOn, to: crate_ids[dep.to], props });
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(kind: VertexKind, name: &str, cfg: Option<&str>) -> ItemFacts {
        ItemFacts {
            kind,
            name: name.to_owned(),
            line: 1,
            end_line: 1,
            visibility: "private".to_owned(),
            doc: None,
            cfg: cfg.map(str::to_owned),
            hash: 0,
            detail: Detail::None,
            refs: Default::default(),
            children: Vec::new(),
            expanded_from: None,
            member_calls: Vec::new(),
            attribute_macro: false,
        }
    }

    #[test]
    fn only_colliding_siblings_are_disambiguated() {
        let items = [
            facts(VertexKind::Function, "os", Some("unix")),
            facts(VertexKind::Function, "os", Some("not(unix)")),
            facts(VertexKind::Impl, "impl S", None),
            facts(VertexKind::Impl, "impl S", None),
            facts(VertexKind::Struct, "os", None),
            facts(VertexKind::Function, "alone", Some("unix")),
        ];
        let got = disambiguators(&items);
        assert_eq!(
            got,
            [Some("unix".to_owned()), Some("not(unix)".to_owned()), None, Some("#1".to_owned()), None, None]
        );
    }

    #[test]
    fn duplicates_are_active_namesakes_of_one_namespace() {
        let cfg =
            CfgContext::new(std::sync::Arc::new(crate::cfg::Target::detect(None)), Default::default(), false, false);
        let at = |kind, name, cfg: Option<&str>, line| ItemFacts { line, ..facts(kind, name, cfg) };
        let file_module = |name, line, path: Option<&str>| ItemFacts {
            detail: Detail::Module {
                inline: false,
                path_attr: path.map(str::to_owned),
                cfg_path_attrs: Vec::new(),
                macro_calls: Vec::new(),
            },
            ..at(VertexKind::Module, name, None, line)
        };
        let inline = ItemFacts {
            detail: Detail::Module {
                inline: true,
                path_attr: None,
                cfg_path_attrs: Vec::new(),
                macro_calls: Vec::new(),
            },
            children: vec![at(VertexKind::Const, "C", None, 21), at(VertexKind::Static, "C", None, 22)],
            ..at(VertexKind::Module, "inner", None, 20)
        };
        let items = [
            file_module("a", 1, None),
            file_module("a", 2, None),
            // Another file for each: their own `#![cfg]` decides.
            file_module("imp", 3, Some("unix.rs")),
            file_module("imp", 4, Some("windows.rs")),
            at(VertexKind::Function, "f", Some("feature = \"x\""), 5),
            at(VertexKind::Function, "f", Some("not(feature = \"x\")"), 6),
            at(VertexKind::Struct, "S", None, 7),
            at(VertexKind::Enum, "S", None, 8),
            // Another namespace: not a clash.
            at(VertexKind::Function, "S", None, 9),
            at(VertexKind::Const, "_", None, 10),
            at(VertexKind::Const, "_", None, 11),
            at(VertexKind::Macro, "m", None, 12),
            at(VertexKind::Macro, "m", None, 13),
            at(VertexKind::Impl, "impl S", None, 14),
            at(VertexKind::Impl, "impl S", None, 15),
            inline,
        ];
        let got: Vec<_> = duplicates(&items, &cfg, "k", true)
            .into_iter()
            .map(|d| (d.module, d.name, d.kind, d.line, d.first))
            .collect();
        assert_eq!(
            got,
            [
                ("k".to_owned(), "a".to_owned(), VertexKind::Module, 2, (VertexKind::Module, 1)),
                ("k".to_owned(), "S".to_owned(), VertexKind::Enum, 8, (VertexKind::Struct, 7)),
                ("k::inner".to_owned(), "C".to_owned(), VertexKind::Static, 22, (VertexKind::Const, 21)),
            ]
        );
        // A module that is not compiled has no duplicates.
        assert!(duplicates(&items, &cfg, "k", false).is_empty());
    }

    #[test]
    fn impl_member_paths() {
        let key = Key::package("p", None);
        let cfg =
            CfgContext::new(std::sync::Arc::new(crate::cfg::Target::detect(None)), Default::default(), false, false);
        let module = ModuleRef {
            key: &key,
            id: key.id(),
            path: "krate::m",
            crate_name: "krate",
            inline_dirs: &[],
            active: true,
            cfg: &cfg,
            taken: None,
        };
        assert_eq!(impl_member_path(&module, None, "Foo<T>", "new"), "krate::m::Foo::new");
        assert_eq!(impl_member_path(&module, Some("Display"), "Foo", "fmt"), "<krate::m::Foo as Display>::fmt");
        assert_eq!(impl_member_path(&module, None, "crate::a::Bar", "f"), "krate::a::Bar::f");
        assert_eq!(impl_member_path(&module, Some("Tr"), "&'a str", "f"), "<&'a str as Tr>::f");
        assert_eq!(impl_member_path(&module, None, "[u8]", "f"), "<[u8]>::f");
    }
}
