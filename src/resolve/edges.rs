//! What each item names, resolved into edges.
//!
//! Items are handled in parallel, each on its own: an item's edges all start at the item (or,
//! for `use` declarations, at the module or function that declares them), so no two items can
//! make the same edge, and the per-item order of references makes the result deterministic.
//! Repeated references to one target become one edge: a call's `count` says how many, and
//! `line` is the first.

use std::collections::BTreeMap;

// FxHash, as in `resolve`: ids are hashed for every edge.
use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use dashmap::DashMap;
use rayon::prelude::*;
use serde_json::Value;
use uuid::Uuid;

use super::lookup::{Bounds, Confidence, FnCx, Loc, Resolver, Ty, extern_id};
use super::{CrateDefs, Def, Import, ItemDef, Ns, RecordRefs, ResolveStats, Shape, Vis, World, prelude};
use crate::model::{Edge, EdgeKind, Props, Vertex, VertexKind};
use crate::parse::{Named, Refs, TypeExpr};

/// The `extern` vertices edges point to, gathered across crates. Each crate's output holds the
/// ones its own edges point to (`vertices`), so that what a crate writes does not depend on what
/// other crates noted first; the writer keeps one of each.
#[derive(Default)]
pub struct Externs {
    paths: DashMap<Uuid, Arc<str>, rustc_hash::FxBuildHasher>,
}

impl Externs {
    fn note(&self, path: &Arc<str>) -> Uuid {
        let id = extern_id(path);
        self.paths.entry(id).or_insert_with(|| path.clone());
        id
    }

    /// Notes the extern vertices of a batch `vertices` made (a rerun's edges kept from the last
    /// build point to them).
    pub fn admit(&self, vertices: &[Vertex]) {
        for vertex in vertices.iter().filter(|vertex| vertex.kind == VertexKind::Extern) {
            if let Some(Value::String(path)) = vertex.props.get("path") {
                self.paths.entry(vertex.id).or_insert_with(|| Arc::from(path.as_str()));
            }
        }
    }

    /// Whether `id` is an extern vertex noted so far.
    pub fn contains(&self, id: &Uuid) -> bool {
        self.paths.contains_key(id)
    }

    /// The vertices of the noted externs among `ids`, sorted by path, each once.
    pub fn vertices(&self, ids: impl Iterator<Item = Uuid>) -> Vec<Vertex> {
        let mut found: Vec<(Arc<str>, Uuid)> =
            ids.filter_map(|id| self.paths.get(&id).map(|path| (path.clone(), id))).collect();
        found.sort();
        found.dedup();
        found
            .into_iter()
            .map(|(path, id)| {
                let mut props = Props::new();
                props.insert("name", Value::from(path.rsplit("::").next().unwrap_or_default()));
                props.insert("path", Value::from(&*path));
                Vertex { id, kind: VertexKind::Extern, props }
            })
            .collect()
    }
}

/// One item's edges, merged by (kind, target).
struct Out<'a> {
    from: Uuid,
    resolver: Resolver<'a>,
    externs: &'a Externs,
    index: HashMap<(EdgeKind, Uuid), usize>,
    edges: Vec<Edge>,
    stats: ResolveStats,
}

impl Out<'_> {
    fn target(&self, def: &Def) -> Option<Uuid> {
        match def {
            Def::Extern(path) => Some(self.externs.note(path)),
            Def::Item { .. } => self.resolver.id(def),
        }
    }

    /// Adds an edge, or counts one more occurrence of it; returns its index in `edges` (`None`
    /// for a target that is no vertex, or the item itself, except for the calls of a recursive
    /// function).
    fn add(&mut self, kind: EdgeKind, def: &Def, line: u32, props: impl FnOnce(&mut Props)) -> Option<usize> {
        let to = self.target(def)?;
        if to == self.from && kind != EdgeKind::Calls {
            return None;
        }
        match self.index.get(&(kind, to)) {
            Some(&existing) => {
                let edge = &mut self.edges[existing];
                // Names are read kind by kind (types, values, calls): the first line is the least.
                if line > 0
                    && edge.props.get("line").and_then(Value::as_u64).is_none_or(|first| u64::from(line) < first)
                {
                    edge.props.insert("line", Value::from(line));
                }
                if let Some(Value::Number(count)) = edge.props.get("count") {
                    let count = count.as_u64().unwrap_or(1) + 1;
                    edge.props.insert("count", Value::from(count));
                }
                Some(existing)
            }
            None => {
                let mut edge = Edge::new(self.from, kind, to);
                if line > 0 {
                    edge.props.insert("line", Value::from(line));
                }
                props(&mut edge.props);
                self.index.insert((kind, to), self.edges.len());
                self.edges.push(edge);
                Some(self.edges.len() - 1)
            }
        }
    }
}

/// The edges of the items at `items` (indices into `defs.items`), each with the counts behind
/// them, in the order asked.
pub(super) fn item_edges_of(
    defs: &Arc<CrateDefs>,
    world: &World,
    refs: &[RecordRefs],
    imports: &[Import<'_>],
    resolved: &[Vec<Def>],
    externs: &Externs,
    items: &[u32],
) -> Vec<(Vec<Edge>, ResolveStats)> {
    let resolver = Resolver { current: defs, world };
    let mut by_owner: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (index, import) in imports.iter().enumerate() {
        by_owner.entry(import.owner).or_default().push(index);
    }
    items
        .par_iter()
        .map(|&index| {
            let item = defs.item(index);
            let mut out = Out {
                from: item.id,
                resolver,
                externs,
                index: HashMap::default(),
                edges: Vec::new(),
                stats: ResolveStats::default(),
            };
            if let Some(owned) = by_owner.get(&index) {
                for &import in owned {
                    import_edges(&mut out, &imports[import], &resolved[import]);
                }
            }
            item_edges(&mut out, defs, item, &refs[index as usize].for_edges());
            (out.edges, out.stats)
        })
        .collect()
}

fn import_edges(out: &mut Out<'_>, import: &Import<'_>, resolved: &[Def]) {
    let facts = import.facts;
    let reexport = Vis::parse(&facts.visibility) != Vis::Private;
    for def in resolved {
        let props = |props: &mut Props| {
            props.insert("glob", Value::from(facts.name.is_none()));
            if facts.renamed || facts.name.as_deref() == Some("_") {
                props.insert("alias", Value::from(facts.name.as_deref().unwrap_or_default()));
            }
        };
        out.add(EdgeKind::Imports, def, facts.line, props);
        if reexport {
            out.add(EdgeKind::Reexports, def, facts.line, props);
        }
    }
}

/// What `Self` is inside `item`'s body: the self type of the impl it belongs to, or its trait.
fn self_ty(resolver: &Resolver<'_>, defs: &CrateDefs, item: &ItemDef) -> Ty {
    let Some(parent) = item.parent else { return Ty::Unknown };
    let parent_item = defs.item(parent);
    match parent_item.kind {
        VertexKind::Impl => impl_self_ty(resolver, defs, parent_item),
        VertexKind::Trait => Bounds::of_trait(Def::Item { krate: defs.krate, item: parent }),
        _ => Ty::Unknown,
    }
}

/// An impl's self type with its arguments as written, its parameters known by their bounds:
/// `impl<B: Flags> Iter<B>` gives `Iter<{Flags}>`, so that a field written `remaining: B` is
/// known as a `Flags`; `impl<T: Buf> Buf for Box<T>` keeps the `T` that `**self` reaches; and
/// `impl<T: Buf> Buf for &mut T` is a `Buf`.
fn impl_self_ty(resolver: &Resolver<'_>, defs: &CrateDefs, imp: &ItemDef) -> Ty {
    let Shape::Impl { self_type, .. } = &imp.shape else { return Ty::Unknown };
    let cx = FnCx::new(Loc { krate: defs.krate, scope: imp.scope }, Ty::Unknown);
    match (&imp.impl_self, resolver.eval(self_type, &cx, 0)) {
        (Some(def), Ty::Def(evaluated, args)) if evaluated == *def => Ty::Def(evaluated, args),
        (Some(def), _) => Ty::Def(def.clone(), Vec::new()),
        (None, bounds @ Ty::Bounds(_)) => bounds,
        (None, _) => Ty::Unknown,
    }
}

/// `refs` as `RecordRefs::for_edges` gives them: the imports' edges are `import_edges`', from
/// the crate's resolved imports, so that `uses` is not read here.
fn item_edges(out: &mut Out<'_>, defs: &CrateDefs, item: &ItemDef, refs: &Refs) {
    let resolver = out.resolver;
    let mut cx = FnCx::new(
        Loc { krate: defs.krate, scope: item.own_scope.unwrap_or(item.scope) },
        match item.kind {
            VertexKind::Impl => item.impl_self.clone().map_or(Ty::Unknown, |def| Ty::Def(def, Vec::new())),
            _ => self_ty(&resolver, defs, item),
        },
    );
    if let Some(parent) = item.parent
        && let Shape::Impl { self_type: TypeExpr::Ref(_), .. } = &defs.item(parent).shape
    {
        cx.self_ref = true;
    }
    match item.kind {
        VertexKind::Impl => {
            let negative = matches!(item.shape, Shape::Impl { negative: true, .. });
            if let Some(trait_def) = &item.impl_trait
                && !negative
            {
                out.add(EdgeKind::Implements, trait_def, 0, |_| {});
            }
            if let Some(self_def) = &item.impl_self {
                out.add(EdgeKind::ImplFor, self_def, 0, |_| {});
            }
        }
        VertexKind::Trait => {
            for (supertrait, named) in item.supertraits.iter().zip(&refs.supertraits) {
                out.add(EdgeKind::Supertrait, supertrait, named.line, |_| {});
            }
        }
        _ => {}
    }
    for named in &refs.derives {
        if let Some(def) = derived(&resolver, cx.loc, named) {
            out.add(EdgeKind::Derives, &def, named.line, |_| {});
        }
    }
    let references = matches!(
        item.kind,
        VertexKind::Function
            | VertexKind::Field
            | VertexKind::TypeAlias
            | VertexKind::Impl
            | VertexKind::Const
            | VertexKind::Static
    );
    if references {
        for named in &refs.types {
            let resolved = if named.path.as_ident() == Some("Self") {
                match &cx.self_ty {
                    Ty::Def(def, _) => Some(def.clone()),
                    _ => None,
                }
            } else {
                resolver.path(cx.loc, &named.path, Ns::Type, false)
            };
            // A braced variant is named where a struct would be (`E::V { x }`, built or matched).
            if let Some(def) = resolved
                && (is_type_like(&resolver, &def) || resolver.kind(&def) == Some(VertexKind::Variant))
            {
                out.add(EdgeKind::References, &def, named.line, |_| {});
            }
        }
        // A path in an expression or a pattern: a const or static read, a function taken as a
        // value (`map(parse)`, `&[handler]`, `Self::parse`), a unit struct or variant, or the
        // tuple struct or variant a pattern matches. Structs are found in the type namespace,
        // where the resolver keeps them (as a constructor call finds a tuple struct).
        for named in &refs.values {
            let def = resolver
                .path(cx.loc, &named.path, Ns::Value, false)
                .or_else(|| resolver.path(cx.loc, &named.path, Ns::Type, false))
                .or_else(|| resolver.self_member(&named.path, &cx));
            if let Some(def) = def
                && matches!(
                    resolver.kind(&def),
                    Some(
                        VertexKind::Const
                            | VertexKind::Static
                            | VertexKind::Function
                            | VertexKind::Struct
                            | VertexKind::Variant
                    )
                )
            {
                out.add(EdgeKind::References, &def, named.line, |_| {});
            }
        }
    }
    if item.kind == VertexKind::Function {
        for call in &refs.calls {
            let target = resolver.call(&call.callee, &cx, 0).or_else(|| match &call.callee {
                crate::parse::Callee::Method { name, .. } => {
                    resolver.unique_method(name).map(super::lookup::Target::guess)
                }
                _ => None,
            });
            let Some(target) = target else {
                out.stats.calls_unresolved += 1;
                continue;
            };
            if target.constructor {
                if matches!(target.def, Def::Item { .. })
                    && matches!(resolver.kind(&target.def), Some(VertexKind::Struct | VertexKind::Variant))
                {
                    out.add(EdgeKind::References, &target.def, call.line, |_| {});
                }
                continue;
            }
            // A function calling itself is recursion when the call resolved exactly; a guess by
            // name that lands on the caller is more likely a std method of the same name
            // (`fn len(&self) { self.inner.len() }`), and a call of its own name inside another
            // macro's arguments is more likely one the macro makes elsewhere
            // (`fn accept(..) { syscall!(accept(..)) }` calls `libc::accept`).
            if (target.confidence == Confidence::Inferred || call.in_macro) && out.target(&target.def) == Some(out.from)
            {
                continue;
            }
            match target.confidence {
                Confidence::Exact => out.stats.calls_exact += 1,
                Confidence::Inferred => out.stats.calls_inferred += 1,
            }
            let confidence = target.confidence;
            let edge = out.add(EdgeKind::Calls, &target.def, call.line, |props| {
                props.insert("count", Value::from(1));
                props.insert("confidence", Value::from(confidence.as_str()));
            });
            // One exact call site makes the edge exact, whatever guesses found it too.
            if let Some(edge) = edge
                && confidence == Confidence::Exact
            {
                out.edges[edge].props.insert("confidence", Value::from(Confidence::Exact.as_str()));
            }
        }
    }
    for named in &refs.macros {
        if let Some(def) = resolver.path(cx.loc, &named.path, Ns::Macro, false) {
            out.add(EdgeKind::Invokes, &def, named.line, |_| {});
        }
    }
}

/// What `#[derive(Name)]` implements: a built-in derive's trait unless a macro in scope takes
/// its name (a derive names a macro: typenum's own trait `Ord` does not shadow `derive(Ord)`),
/// else the trait `Name` resolves to in scope, or else the derive macro itself.
fn derived(resolver: &Resolver<'_>, loc: Loc, named: &Named) -> Option<Def> {
    let built_in = named.path.as_ident().and_then(prelude::derived_trait).map(|path| Def::Extern(Arc::from(path)));
    let shadowed = || {
        resolver
            .path(loc, &named.path, Ns::Macro, false)
            .is_some_and(|def| !matches!(&def, Def::Extern(extern_path) if extern_path.starts_with("std::")))
    };
    if built_in.is_some() && !shadowed() {
        return built_in;
    }
    if let Some(def) = resolver.path(loc, &named.path, Ns::Type, false)
        && is_trait_like(resolver, &def)
    {
        return Some(def);
    }
    if built_in.is_some() {
        return built_in;
    }
    // `#[derive(std::fmt::Debug)]` and friends.
    resolver.path(loc, &named.path, Ns::Macro, false)
}

fn is_trait_like(resolver: &Resolver<'_>, def: &Def) -> bool {
    match def {
        Def::Extern(_) => true,
        Def::Item { .. } => resolver.kind(def) == Some(VertexKind::Trait),
    }
}

/// Types, traits and extern items: what a type position can name.
fn is_type_like(resolver: &Resolver<'_>, def: &Def) -> bool {
    match def {
        Def::Extern(path) => &**path != "std",
        Def::Item { .. } => matches!(
            resolver.kind(def),
            Some(VertexKind::Struct | VertexKind::Enum | VertexKind::Union | VertexKind::TypeAlias | VertexKind::Trait)
        ),
    }
}
