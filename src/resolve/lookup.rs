//! Looking names up: paths in scopes, imports to a fixed point, impls, and what syntax says about
//! a value's type (`TypeExpr`) evaluated to a definition (`Ty`), for method calls.

use std::sync::Arc;

use uuid::Uuid;

use super::{
    Binding, CrateDefs, Def, Import, ItemDef, Ns, RecordRefs, ResolveStats, Shape, Vis, World, bind, module_scope_of,
    prelude,
};
use crate::ids::Key;
use crate::model::VertexKind;
use crate::parse::{BoundsExpr, Callee, ClosureParam, PathRef, TypeExpr};

/// Evaluations give up this deep (type aliases of aliases, calls chained on calls).
const MAX_DEPTH: u8 = 24;

/// A scope of some crate.
#[derive(Clone, Copy, Debug)]
pub struct Loc {
    pub krate: u32,
    pub scope: u32,
}

/// What a value's type is known to be.
#[derive(Clone, Debug, Default)]
pub enum Ty {
    #[default]
    Unknown,
    /// A type (or trait, for `dyn Trait`) with its type arguments.
    Def(Def, Vec<Ty>),
    /// Known by its traits only.
    Bounds(Bounds),
}

/// What is known of a type by its traits.
#[derive(Clone, Debug, Default)]
pub struct Bounds {
    /// The traits, with their type arguments (`Parser<I, O, E>`).
    pub traits: Vec<(Def, Vec<Ty>)>,
    /// What its associated types are (`Iterator<Item = Entry>`, `where I::Item: AsChar`).
    pub assoc: Vec<(String, Ty)>,
}

impl Bounds {
    pub fn of_trait(def: Def) -> Ty {
        Ty::Bounds(Bounds { traits: vec![(def, Vec::new())], assoc: Vec::new() })
    }

    fn trait_defs(&self) -> Vec<Def> {
        self.traits.iter().map(|(def, _)| def.clone()).collect()
    }
}

/// Where a function body's names are looked up, what `Self` is there, and what its generic type
/// parameters stand for.
#[derive(Clone, Debug)]
pub struct FnCx {
    pub loc: Loc,
    pub self_ty: Ty,
    /// The types the parameters in scope stand for, by position (`TypeExpr::Param`), where the
    /// item was reached through a value whose type arguments are known: a field of
    /// `Wrapper<Inner>`, a method of `Map<u8, Entry>`. A parameter with none here is known by its
    /// bounds.
    pub params: Vec<Ty>,
    /// `Self` is a reference type (`impl Tr for &Map`).
    pub self_ref: bool,
}

impl FnCx {
    pub fn new(loc: Loc, self_ty: Ty) -> FnCx {
        FnCx { loc, self_ty, params: Vec::new(), self_ref: false }
    }

    /// Whether a value of type `expr` is a reference, where syntax tells: `&value`, `&self`, a
    /// parameter written `&T`; `self` in an impl for a reference type.
    fn is_ref(&self, expr: &TypeExpr) -> Option<bool> {
        match expr {
            TypeExpr::Ref(_) => Some(true),
            TypeExpr::Path(path, _) if path.as_ident() == Some("Self") => Some(self.self_ref),
            TypeExpr::Path(..) | TypeExpr::Tuple(_) | TypeExpr::Slice(_) => Some(false),
            // `*r` for a reference `r` is the referent.
            TypeExpr::Deref(inner) => match &**inner {
                TypeExpr::Ref(referent) => self.is_ref(referent),
                _ => None,
            },
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confidence {
    Exact,
    Inferred,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Exact => "exact",
            Confidence::Inferred => "inferred",
        }
    }
}

/// What a call site calls.
#[derive(Clone, Debug)]
pub struct Target {
    pub def: Def,
    pub confidence: Confidence,
    /// A tuple struct or variant built, not a function called.
    pub constructor: bool,
    /// `Self` for the callee: the receiver's type, or the type the path named.
    self_ty: Ty,
}

impl Target {
    /// A guess by name alone.
    pub fn guess(def: Def) -> Target {
        Target { def, confidence: Confidence::Inferred, constructor: false, self_ty: Ty::Unknown }
    }
}

/// The id of the vertex a definition stands for.
pub fn extern_id(path: &str) -> Uuid {
    Key::extern_item(path).id()
}

/// Lookups over the crate being resolved (`current`) and the crates of earlier waves.
#[derive(Clone, Copy)]
pub struct Resolver<'a> {
    pub current: &'a CrateDefs,
    pub world: &'a World,
}

impl<'a> Resolver<'a> {
    pub fn krate(&self, krate: u32) -> Option<&'a CrateDefs> {
        if krate == self.current.krate { Some(self.current) } else { self.world.get(krate).map(|defs| &**defs) }
    }

    pub fn item(&self, def: &Def) -> Option<(&'a CrateDefs, &'a ItemDef)> {
        match def {
            Def::Item { krate, item } => self.krate(*krate).map(|defs| (defs, defs.item(*item))),
            Def::Extern(_) => None,
        }
    }

    pub fn id(&self, def: &Def) -> Option<Uuid> {
        match def {
            Def::Item { .. } => self.item(def).map(|(_, item)| item.id),
            Def::Extern(path) => Some(extern_id(path)),
        }
    }

    pub fn kind(&self, def: &Def) -> Option<VertexKind> {
        self.item(def).map(|(_, item)| item.kind)
    }

    /// Resolves `path` in namespace `ns` from `loc`. `import` is set for `use` paths, which
    /// edition 2015 reads from the crate root.
    pub fn path(&self, loc: Loc, path: &PathRef, ns: Ns, import: bool) -> Option<Def> {
        let defs = self.krate(loc.krate)?;
        let segments = path.segments.as_slice();
        let (first, rest) = segments.split_first()?;
        let module = |scope: u32| Def::Item { krate: defs.krate, item: defs.scopes[scope as usize].item };
        let mut def;
        let mut rest = rest;
        if path.global {
            def = if defs.edition_2015 {
                rest = segments;
                module(defs.root_scope)
            } else {
                self.extern_crate(defs, first)?
            };
        } else {
            match first.as_str() {
                "crate" => def = module(defs.root_scope),
                "self" => def = module(module_scope_of(defs, loc.scope)),
                "super" => {
                    let mut scope = defs.scopes[module_scope_of(defs, loc.scope) as usize].parent_module?;
                    while let Some(("super", tail)) = rest.split_first().map(|(s, t)| (s.as_str(), t)) {
                        scope = defs.scopes[scope as usize].parent_module?;
                        rest = tail;
                    }
                    def = module(scope);
                }
                "Self" => return None,
                name => {
                    let first_ns = if rest.is_empty() { ns } else { Ns::Type };
                    let from = if import && defs.edition_2015 {
                        Loc { krate: loc.krate, scope: defs.root_scope }
                    } else {
                        loc
                    };
                    def = self.name(from, name, first_ns)?;
                }
            }
        }
        for (index, segment) in rest.iter().enumerate() {
            let segment_ns = if index + 1 == rest.len() { ns } else { Ns::Type };
            def = self.step(&def, segment, segment_ns, 0)?;
        }
        Some(def)
    }

    fn extern_crate(&self, defs: &CrateDefs, name: &str) -> Option<Def> {
        if let Some(def) = defs.extern_prelude.get(name) {
            return Some(def.clone());
        }
        prelude::is_std_crate(name).then(|| Def::Extern(Arc::from("std")))
    }

    /// A name looked up from a scope: the scope and the function bodies around it, then the
    /// crate's macros, the extern prelude, and the standard prelude.
    pub fn name(&self, loc: Loc, name: &str, ns: Ns) -> Option<Def> {
        let defs = self.krate(loc.krate)?;
        let mut scope = loc.scope;
        loop {
            let here = &defs.scopes[scope as usize];
            if let Some(binding) = here.names[ns as usize].get(name) {
                return Some(binding.def.clone());
            }
            match here.outer {
                Some(outer) => scope = outer,
                None => break,
            }
        }
        match ns {
            Ns::Macro => {
                if let Some(def) = defs.macros.get(name) {
                    return Some(def.clone());
                }
            }
            Ns::Type => {
                if let Some(def) = self.extern_crate(defs, name) {
                    return Some(def);
                }
            }
            Ns::Value => {}
        }
        if let Some(path) = prelude::lookup(ns, name) {
            return Some(Def::Extern(Arc::from(path)));
        }
        let mut scope = Some(loc.scope);
        while let Some(index) = scope {
            let here = &defs.scopes[index as usize];
            if let Some(def) = extern_glob(here, name) {
                return Some(def);
            }
            scope = here.outer;
        }
        None
    }

    /// `def::segment`.
    fn step(&self, def: &Def, segment: &str, ns: Ns, depth: u8) -> Option<Def> {
        if depth > MAX_DEPTH {
            return None;
        }
        let (defs, item) = match def {
            Def::Extern(path) => {
                if ns == Ns::Value
                    && let Some(found) = self.associated(def, segment)
                {
                    return Some(found);
                }
                let path = if &**path == "std" || path.is_empty() {
                    format!("std::{segment}")
                } else {
                    format!("{path}::{segment}")
                };
                let path = prelude::std_facade(&path).unwrap_or(path);
                return Some(Def::Extern(Arc::from(path)));
            }
            Def::Item { .. } => self.item(def)?,
        };
        match item.kind {
            VertexKind::Module => {
                let scope = &defs.scopes[item.own_scope? as usize];
                // Another crate sees only what a crate re-exports publicly: a proc-macro crate's
                // private `use crate::traits::Pod` is no `Pod` of its own (bytemuck's `pub use
                // bytemuck_derive::Pod` re-exports the derive macro alone). A private item of the
                // module itself is still found: it often has a public twin under the opposite
                // `cfg` (tokio's `cfg_sync! { pub mod sync; }` and `cfg_not_sync! { mod sync; }`),
                // which code `cfg`'d out for this build reaches. Macros are exported by
                // `#[macro_export]`, not by visibility.
                let own_item = |def: &Def| match def {
                    Def::Item { krate, item } => *krate == defs.krate && defs.item(*item).parent == Some(scope.item),
                    Def::Extern(_) => false,
                };
                let visible = |binding: &&super::Binding| {
                    defs.krate == self.current.krate
                        || ns == Ns::Macro
                        || binding.vis == super::Vis::Public
                        || own_item(&binding.def)
                };
                scope.names[ns as usize]
                    .get(segment)
                    .filter(visible)
                    .map(|binding| binding.def.clone())
                    .or_else(|| extern_glob(scope, segment))
            }
            VertexKind::Enum => self.child(defs, item, segment, None).or_else(|| self.associated(def, segment)),
            VertexKind::Trait => self.child(defs, item, segment, None),
            VertexKind::Struct | VertexKind::Union => self.associated(def, segment),
            VertexKind::TypeAlias => {
                let Ty::Def(target, _) = self.alias_target(defs, item, Vec::new(), depth + 1) else { return None };
                self.step(&target, segment, ns, depth + 1)
            }
            _ => None,
        }
    }

    /// A child of `item` named `name`, of kind `kind` if given.
    fn child(&self, defs: &CrateDefs, item: &ItemDef, name: &str, kind: Option<VertexKind>) -> Option<Def> {
        item.children
            .iter()
            .find(|&&child| {
                let child = defs.item(child);
                &*child.name == name && kind.is_none_or(|kind| child.kind == kind)
            })
            .map(|&child| Def::Item { krate: defs.krate, item: child })
    }

    /// What a type alias stands for, with `args` for its parameters (`type Map<V> = HashMap<Key,
    /// V>`).
    fn alias_target(&self, defs: &CrateDefs, item: &ItemDef, args: Vec<Ty>, depth: u8) -> Ty {
        match &item.shape {
            Shape::Alias { target } => {
                let cx = FnCx { params: args, ..FnCx::new(Loc { krate: defs.krate, scope: item.scope }, Ty::Unknown) };
                self.eval(target, &cx, depth + 1)
            }
            _ => Ty::Unknown,
        }
    }

    /// The crates whose impls can apply to a type of crate `owner`: that crate, the current one,
    /// then the current one's dependencies.
    fn impl_crates(&self, owner: Option<u32>) -> impl Iterator<Item = &'a CrateDefs> + '_ {
        let current = self.current.krate;
        owner
            .filter(|&owner| owner != current)
            .into_iter()
            .chain(std::iter::once(current))
            .chain(self.current.impl_crates.iter().copied().filter(move |&k| Some(k) != owner && k != current))
            .filter_map(|krate| self.krate(krate))
    }

    /// The impls of type `def` in the crates whose impls can apply to it (`impl_crates`), with
    /// their crate.
    fn impls_of(&self, def: &Def) -> impl Iterator<Item = (&'a CrateDefs, &'a ItemDef)> + '_ {
        let id = self.id(def);
        let owner = match def {
            Def::Item { krate, .. } => Some(*krate),
            Def::Extern(_) => None,
        };
        self.impl_crates(owner).flat_map(move |defs| {
            id.and_then(|id| defs.impls_by_self.get(&id))
                .into_iter()
                .flatten()
                .map(move |&index| (defs, defs.item(index)))
        })
    }

    /// An associated item of a type: from its inherent impls first, then its trait impls (and
    /// those traits' default members).
    pub fn associated(&self, ty: &Def, name: &str) -> Option<Def> {
        self.associated_candidates(ty, name, 1).into_iter().next()
    }

    /// Up to `limit` distinct associated items `name` of a type, from the first of its inherent
    /// impls and its trait impls that has any. More than one is an ambiguity that the type alone
    /// does not settle: two inherent impls (`impl Foo<u8>`, `impl Foo<u16>`), or impls for the
    /// type and for a reference to it (`impl Tr for Map`, `impl Tr for &Map`), which `method`
    /// settles when the receiver is known to be a reference or not.
    fn associated_candidates(&self, ty: &Def, name: &str, limit: usize) -> Vec<Def> {
        let Some(id) = self.id(ty) else { return Vec::new() };
        let owner = match ty {
            Def::Item { krate, .. } => Some(*krate),
            Def::Extern(_) => None,
        };
        // (candidate, whether it and its impl are compiled in this configuration)
        let mut found: Vec<(Def, bool)> = Vec::new();
        for inherent in [true, false] {
            for defs in self.impl_crates(owner) {
                let Some(impls) = defs.impls_by_self.get(&id) else { continue };
                for &index in impls {
                    let imp = defs.item(index);
                    if imp.impl_trait.is_none() != inherent {
                        continue;
                    }
                    let candidate = self.child(defs, imp, name, None).or_else(|| {
                        let (trait_defs, trait_item) = self.item(imp.impl_trait.as_ref()?)?;
                        self.child(trait_defs, trait_item, name, None)
                    });
                    if let Some(candidate) = candidate
                        && !found.iter().any(|(def, _)| *def == candidate)
                    {
                        let active = imp.active && self.item(&candidate).is_none_or(|(_, item)| item.active);
                        found.push((candidate, active));
                        // Enough compiled ones: the rest cannot change the answer.
                        if found.iter().filter(|(_, active)| *active).count() >= limit {
                            found.retain(|(_, active)| *active);
                            return found.into_iter().map(|(def, _)| def).collect();
                        }
                    }
                }
            }
            if !found.is_empty() {
                break;
            }
        }
        // An impl whose `cfg` is off is no rival of one that is compiled.
        if found.iter().any(|(_, active)| *active) {
            found.retain(|(_, active)| *active);
        }
        found.into_iter().take(limit).map(|(def, _)| def).collect()
    }

    /// The method `name` of trait `trait_def` implemented for `ty`, else the trait's own (or a
    /// supertrait's), else the one extern trait it can come from.
    fn trait_method(&self, ty: &Ty, trait_def: &Def, name: &str, depth: u8) -> Option<Def> {
        if let Ty::Def(self_def, _) = ty
            && let Some(Some(found)) = self.trait_impl_method(self_def, trait_def, name)
        {
            return Some(found);
        }
        self.bound_method(std::slice::from_ref(trait_def), name, depth)
    }

    /// The method `name` of a value known by the traits `traits`: declared by one of them or of
    /// their supertraits in the graph, else by the one extern trait they reach (markers left
    /// out); none when several extern traits could give it.
    fn bound_method(&self, traits: &[Def], name: &str, depth: u8) -> Option<Def> {
        if let Some(def) = traits.iter().find_map(|trait_def| self.declared_method(trait_def, name, depth)) {
            return Some(def);
        }
        // A method of the trait object itself (`impl dyn Subscriber { fn is(&self) }`, whose impl
        // is registered under the trait).
        let of_object = traits
            .iter()
            .filter(|trait_def| matches!(trait_def, Def::Item { .. }))
            .find_map(|trait_def| self.associated_candidates(trait_def, name, 1).into_iter().next());
        if let Some(def) = of_object
            && self.kind(&def) == Some(VertexKind::Function)
        {
            return Some(def);
        }
        let mut externs = Vec::new();
        for trait_def in traits {
            self.extern_traits(trait_def, &mut externs, depth);
        }
        match externs.as_slice() {
            [only] => Some(Def::Extern(Arc::from(format!("{only}::{name}")))),
            _ => None,
        }
    }

    /// The method `name` as a trait of the graph, or one of its supertraits of the graph,
    /// declares it.
    fn declared_method(&self, trait_def: &Def, name: &str, depth: u8) -> Option<Def> {
        if depth > MAX_DEPTH {
            return None;
        }
        let (defs, item) = self.item(trait_def)?;
        if item.kind != VertexKind::Trait {
            return None;
        }
        self.child(defs, item, name, Some(VertexKind::Function)).or_else(|| {
            item.supertraits.iter().find_map(|supertrait| self.declared_method(supertrait, name, depth + 1))
        })
    }

    /// The extern traits among `trait_def` and its supertraits, markers left out (`Sized`,
    /// `Send`, `Copy`: they have no methods to call), each once.
    fn extern_traits(&self, trait_def: &Def, out: &mut Vec<Arc<str>>, depth: u8) {
        if depth > MAX_DEPTH {
            return;
        }
        match trait_def {
            Def::Extern(path) => {
                if !prelude::is_marker_trait(path) && !out.contains(path) {
                    out.push(path.clone());
                }
            }
            Def::Item { .. } => {
                let Some((_, item)) = self.item(trait_def) else { return };
                if item.kind == VertexKind::Trait {
                    for supertrait in &item.supertraits {
                        self.extern_traits(supertrait, out, depth + 1);
                    }
                }
            }
        }
    }

    /// What `expr` says about a type, evaluated in `cx`.
    pub fn eval(&self, expr: &TypeExpr, cx: &FnCx, depth: u8) -> Ty {
        if depth > MAX_DEPTH {
            return Ty::Unknown;
        }
        match expr {
            TypeExpr::Unknown => Ty::Unknown,
            TypeExpr::Path(path, args) => {
                if path.as_ident() == Some("Self") {
                    return cx.self_ty.clone();
                }
                let Some(def) = self.path(cx.loc, path, Ns::Type, false) else { return Ty::Unknown };
                let args = args.iter().map(|arg| self.eval(arg, cx, depth + 1)).collect();
                if let Some((defs, item)) = self.item(&def)
                    && item.kind == VertexKind::TypeAlias
                {
                    return self.alias_target(defs, item, args, depth + 1);
                }
                Ty::Def(def, args)
            }
            TypeExpr::Bounds(bounds) => self.bounds(bounds, cx, depth + 1),
            TypeExpr::Param(index, bounds) => match cx.params.get(*index as usize) {
                Some(ty) if !matches!(ty, Ty::Unknown) => ty.clone(),
                _ => self.bounds(bounds, cx, depth + 1),
            },
            TypeExpr::Assoc(projection) => {
                let trait_def = projection.trait_.as_ref().and_then(|path| self.path(cx.loc, path, Ns::Type, false));
                let base = self.eval(&projection.base, cx, depth + 1);
                let by_ref = cx.is_ref(&projection.base);
                self.projection(base, by_ref, trait_def.as_ref(), &projection.name, depth + 1)
            }
            TypeExpr::Returns(callee) => self.returns(callee, cx, depth + 1),
            TypeExpr::Try(inner) => unwrapped(self.eval(inner, cx, depth + 1)),
            TypeExpr::Field(base, name) => self.field(self.eval(base, cx, depth + 1), name, depth + 1),
            TypeExpr::Item(iterable) => self.item_of(self.eval(iterable, cx, depth + 1), depth + 1),
            TypeExpr::Slice(elem) => slice_of(self.eval(elem, cx, depth + 1)),
            TypeExpr::Ref(inner) => self.eval(inner, cx, depth + 1),
            TypeExpr::Tuple(elems) => Ty::Def(
                Def::Extern(Arc::from(prelude::TUPLE)),
                elems.iter().map(|elem| self.eval(elem, cx, depth + 1)).collect(),
            ),
            TypeExpr::ClosureParam(given) => self.closure_param(given, cx, depth + 1),
            TypeExpr::Deref(inner) => match (cx.is_ref(inner), self.eval(inner, cx, depth + 1)) {
                // `*self` for `&self`: the referent.
                (Some(true), ty) => ty,
                (_, Ty::Def(Def::Extern(path), mut args)) if prelude::derefs_to_argument(&path) && !args.is_empty() => {
                    args.swap_remove(0)
                }
                // `**self` in `impl Hash for SmallVec<A>`: what the type's `Deref` impl gives.
                (Some(false), Ty::Def(def, args)) => match self.deref_target(&def, &args, depth + 1) {
                    Some(target) => target,
                    None => Ty::Def(def, args),
                },
                (_, ty) => ty,
            },
            TypeExpr::PatField(path, name) => match self.pattern_owner(path, cx) {
                Some(owner) => self.field(Ty::Def(owner, Vec::new()), name, depth + 1),
                None => Ty::Unknown,
            },
        }
    }

    fn bounds(&self, bounds: &BoundsExpr, cx: &FnCx, depth: u8) -> Ty {
        if depth > MAX_DEPTH {
            return Ty::Unknown;
        }
        let traits = bounds
            .traits
            .iter()
            .filter_map(|(path, args)| {
                let def = self.path(cx.loc, path, Ns::Type, false)?;
                Some((def, args.iter().map(|arg| self.eval(arg, cx, depth + 1)).collect()))
            })
            .collect();
        let assoc = bounds.assoc.iter().map(|(name, ty)| (name.clone(), self.eval(ty, cx, depth + 1))).collect();
        Ty::Bounds(Bounds { traits, assoc })
    }

    /// The associated type `name` of a value of type `base` (of trait `trait_def`, where the
    /// path names it): what its bounds say it is (`I: Iterator<Item = Entry>`, `where I::Item:
    /// AsChar`), else what a trait of its bounds declares it to be (`type IterElem:
    /// Iterator<Item = Self::Item>`); for a type, what an impl of it sets, the impl for a
    /// reference type where `by_ref` says the base is one (`<&'a Map as IntoIterator>::IntoIter`
    /// is not `<Map as IntoIterator>::IntoIter`).
    fn projection(&self, base: Ty, by_ref: Option<bool>, trait_def: Option<&Def>, name: &str, depth: u8) -> Ty {
        if depth > MAX_DEPTH {
            return Ty::Unknown;
        }
        match &base {
            Ty::Unknown => Ty::Unknown,
            Ty::Bounds(bounds) => {
                if let Some((_, ty)) = bounds.assoc.iter().find(|(known, _)| known == name) {
                    return ty.clone();
                }
                // The trait the path names first, then the others (it may be a supertrait of one).
                let named = bounds.traits.iter().filter(|(bound, _)| trait_def.is_none_or(|wanted| wanted == bound));
                let others = bounds.traits.iter().filter(|(bound, _)| trait_def.is_some_and(|wanted| wanted != bound));
                named
                    .chain(others)
                    .find_map(|(bound, args)| self.declared_assoc(bound, args, name, &base, depth + 1))
                    .unwrap_or_default()
            }
            Ty::Def(def, _) => {
                let trait_id = trait_def.and_then(|def| self.id(def));
                let mut other_kind = None;
                for (defs, imp) in self.impls_of(def) {
                    if trait_id.is_some() && imp.impl_trait.as_ref().and_then(|t| self.id(t)) != trait_id {
                        continue;
                    }
                    let Some(ty) = self.assoc_type(defs, imp, name, &base, depth + 1) else { continue };
                    let imp_ref = matches!(&imp.shape, Shape::Impl { self_type: TypeExpr::Ref(_), .. });
                    if by_ref.is_none_or(|by_ref| by_ref == imp_ref) {
                        return ty;
                    }
                    other_kind.get_or_insert(ty);
                }
                other_kind.unwrap_or_default()
            }
        }
    }

    /// The associated type `name` as trait `trait_def` (or a supertrait) declares it, for a
    /// `Self` of type `self_ty` and the trait's arguments `args`: its bounds.
    fn declared_assoc(&self, trait_def: &Def, args: &[Ty], name: &str, self_ty: &Ty, depth: u8) -> Option<Ty> {
        if depth > MAX_DEPTH {
            return None;
        }
        let (defs, item) = self.item(trait_def)?;
        if item.kind != VertexKind::Trait {
            return None;
        }
        if let Some(Def::Item { item: alias, .. }) = self.child(defs, item, name, Some(VertexKind::TypeAlias)) {
            let alias = defs.item(alias);
            let Shape::Alias { target } = &alias.shape else { return None };
            let cx = FnCx {
                params: args.to_vec(),
                ..FnCx::new(Loc { krate: defs.krate, scope: alias.scope }, self_ty.clone())
            };
            return match self.eval(target, &cx, depth + 1) {
                Ty::Unknown => None,
                ty => Some(ty),
            };
        }
        item.supertraits.iter().find_map(|supertrait| self.declared_assoc(supertrait, &[], name, self_ty, depth + 1))
    }

    /// What iterating over a value of type `ty` yields: the element of a std sequence or
    /// `Option` (`Vec<T>`, `&[T]`, `HashSet<T>`, the iterators made from them), the `Item` of a
    /// crate type's `Iterator` or `IntoIterator` impl, or the items of what it derefs to.
    fn item_of(&self, ty: Ty, depth: u8) -> Ty {
        if depth > MAX_DEPTH {
            return Ty::Unknown;
        }
        let (def, mut args) = match ty {
            Ty::Def(def, args) => (def, args),
            // `impl Iterator<Item = Entry>`, `I: IntoIterator<Item = T>`
            Ty::Bounds(bounds) => return self.projection(Ty::Bounds(bounds), None, None, "Item", depth + 1),
            Ty::Unknown => return Ty::Unknown,
        };
        match &def {
            Def::Extern(path) => {
                if args.is_empty() {
                    return Ty::Unknown;
                }
                if prelude::yields_argument(path) {
                    return args.swap_remove(0);
                }
                if prelude::derefs_to_argument(path) {
                    return self.item_of(args.swap_remove(0), depth + 1);
                }
                Ty::Unknown
            }
            Def::Item { .. } => {
                for trait_name in ["Iterator", "IntoIterator"] {
                    for (defs, imp) in self.impls_of(&def) {
                        let implements = match &imp.impl_trait {
                            Some(Def::Extern(path)) => {
                                path.rsplit("::").next() == Some(trait_name) && path.contains("iter")
                            }
                            _ => false,
                        };
                        if implements
                            && let Some(item) =
                                self.assoc_type(defs, imp, "Item", &Ty::Def(def.clone(), args.clone()), depth + 1)
                        {
                            return item;
                        }
                    }
                }
                match self.deref_target(&def, &args, depth + 1) {
                    Some(target) => self.item_of(target, depth + 1),
                    None => Ty::Unknown,
                }
            }
        }
    }

    /// The associated type `name` an impl sets (`type Item = Entry;`, `type Target = C;`),
    /// evaluated with `self_ty` as `Self` and the impl's parameters matched against it.
    fn assoc_type(&self, defs: &CrateDefs, imp: &ItemDef, name: &str, self_ty: &Ty, depth: u8) -> Option<Ty> {
        let Some(Def::Item { item: alias, .. }) = self.child(defs, imp, name, Some(VertexKind::TypeAlias)) else {
            return None;
        };
        let alias = defs.item(alias);
        let Shape::Alias { target } = &alias.shape else { return None };
        let cx = FnCx {
            params: impl_params(imp, self_ty),
            ..FnCx::new(Loc { krate: defs.krate, scope: alias.scope }, self_ty.clone())
        };
        match self.eval(target, &cx, depth + 1) {
            Ty::Unknown => None,
            ty => Some(ty),
        }
    }

    /// The struct or variant a pattern's path names (`Flavor::Array`, `Point`, `Self`,
    /// `Self::Array`).
    fn pattern_owner(&self, path: &PathRef, cx: &FnCx) -> Option<Def> {
        let def = match path.segments.as_slice() {
            [only] if only == "Self" && !path.global => match &cx.self_ty {
                Ty::Def(def, _) => def.clone(),
                _ => return None,
            },
            [first, variant] if first == "Self" && !path.global => {
                let Ty::Def(def, _) = &cx.self_ty else { return None };
                let (defs, item) = self.item(def)?;
                self.child(defs, item, variant, Some(VertexKind::Variant))?
            }
            _ => self.path(cx.loc, path, Ns::Value, false).or_else(|| self.path(cx.loc, path, Ns::Type, false))?,
        };
        matches!(self.kind(&def), Some(VertexKind::Struct | VertexKind::Variant | VertexKind::Union)).then_some(def)
    }

    /// The type a call returns.
    fn returns(&self, callee: &Callee, cx: &FnCx, depth: u8) -> Ty {
        let target = self.call(callee, cx, depth);
        if let Some(target) = &target {
            if target.constructor {
                return match self.item(&target.def) {
                    Some((defs, item)) if item.kind == VertexKind::Variant => {
                        item.parent.map_or(Ty::Unknown, |parent| {
                            Ty::Def(Def::Item { krate: defs.krate, item: parent }, Vec::new())
                        })
                    }
                    Some(_) => Ty::Def(target.def.clone(), Vec::new()),
                    None => Ty::Unknown,
                };
            }
            if let Some((defs, item)) = self.item(&target.def)
                && let Shape::Function { returns, .. } = &item.shape
            {
                let callee_cx = self.callee_cx(callee, target, defs, item, cx, depth);
                return self.eval(returns, &callee_cx, depth + 1);
            }
        }
        // Methods of std types that the graph cannot see, but whose result is plain.
        if let Callee::Method { receiver, name } = callee {
            let receiver = self.eval(receiver, cx, depth + 1);
            if prelude::is_unwrap(name) {
                return unwrapped(receiver);
            }
            if matches!(name.as_str(), "clone" | "to_owned") {
                return receiver;
            }
            // Iterator adapters that keep the items, and the methods that give one of them.
            if prelude::keeps_items(name) {
                return match self.item_of(receiver, depth + 1) {
                    Ty::Unknown => Ty::Unknown,
                    item => slice_of(item),
                };
            }
            if prelude::gives_an_item(name) {
                return match self.item_of(receiver, depth + 1) {
                    Ty::Unknown => Ty::Unknown,
                    item => Ty::Def(Def::Extern(Arc::from("std::option::Option")), vec![item]),
                };
            }
        }
        Ty::Unknown
    }

    /// Where the function `item` that `callee` calls (as `target`) has its types read: `Self`
    /// is the receiver's type or the type the path named, and its type parameters stand for
    /// what the call says of them.
    fn callee_cx(
        &self,
        callee: &Callee,
        target: &Target,
        defs: &CrateDefs,
        item: &ItemDef,
        cx: &FnCx,
        depth: u8,
    ) -> FnCx {
        let mut params = match item.parent.map(|parent| (parent, defs.item(parent))) {
            // A method of `impl<K, V> Map<K, V>` called on a `Map<u8, Entry>`: its `V` is `Entry`.
            Some((_, imp)) if imp.kind == VertexKind::Impl => impl_params(imp, &target.self_ty),
            // A method of `trait Parser<I, O, E>` called on an `F: Parser<Input, Out, Error>`:
            // its `I` is `Input`.
            Some((parent, trait_item)) if trait_item.kind == VertexKind::Trait => {
                let trait_def = Def::Item { krate: defs.krate, item: parent };
                match &target.self_ty {
                    Ty::Bounds(bounds) => bounds
                        .traits
                        .iter()
                        .find(|(bound, _)| *bound == trait_def)
                        .map(|(_, args)| args.clone())
                        .unwrap_or_default(),
                    _ => Vec::new(),
                }
            }
            _ => Vec::new(),
        };
        // `sign(input.clone())` with `fn sign<T>(input: T) -> IResult<T, bool>`: the arguments
        // tell what the parameters left unknown stand for.
        if let Callee::Path(_, args) = callee
            && let Shape::Function { inputs, .. } = &item.shape
            && !inputs.is_empty()
        {
            let mut given = Vec::new();
            for (pattern, arg) in inputs.iter().zip(args) {
                bind_params(pattern, &self.eval(arg, cx, depth + 1), &mut given);
            }
            if params.len() < given.len() {
                params.resize(given.len(), Ty::Unknown);
            }
            for (param, ty) in params.iter_mut().zip(given) {
                if matches!(param, Ty::Unknown) {
                    *param = ty;
                }
            }
        }
        FnCx { params, ..FnCx::new(Loc { krate: defs.krate, scope: item.scope }, target.self_ty.clone()) }
    }

    /// A parameter of a closure given to a call (`input.split_at_position(|item| ..)`): the
    /// parameter at that position of the callee's `Fn` bound on that input (`P: Fn(Self::Item)
    /// -> bool`), read where the callee is.
    fn closure_param(&self, given: &ClosureParam, cx: &FnCx, depth: u8) -> Ty {
        if depth > MAX_DEPTH {
            return Ty::Unknown;
        }
        let Some(target) = self.call(&given.callee, cx, depth + 1) else { return Ty::Unknown };
        let Some((defs, item)) = self.item(&target.def) else { return Ty::Unknown };
        let Shape::Function { inputs, .. } = &item.shape else { return Ty::Unknown };
        let Some(input) = inputs.get(given.input as usize) else { return Ty::Unknown };
        let callee_cx = self.callee_cx(&given.callee, &target, defs, item, cx, depth);
        let Ty::Bounds(bounds) = self.eval(input, &callee_cx, depth + 1) else { return Ty::Unknown };
        bounds
            .traits
            .into_iter()
            .find(|(bound, _)| matches!(bound, Def::Extern(path) if prelude::is_fn_trait(path)))
            .and_then(|(_, args)| args.into_iter().nth(given.param as usize))
            .unwrap_or_default()
    }

    fn field(&self, ty: Ty, name: &str, depth: u8) -> Ty {
        let Ty::Def(def, args) = ty else { return Ty::Unknown };
        if let Def::Extern(path) = &def {
            if &**path == prelude::TUPLE {
                return name.parse::<usize>().ok().and_then(|index| args.into_iter().nth(index)).unwrap_or_default();
            }
            if prelude::derefs_to_argument(path)
                && let Some(inner) = args.into_iter().next()
            {
                return self.field(inner, name, depth + 1);
            }
            return Ty::Unknown;
        }
        let Some((defs, item)) = self.item(&def) else { return Ty::Unknown };
        let Some(Def::Item { item: field, .. }) = self.child(defs, item, name, Some(VertexKind::Field)) else {
            // A field of what the type derefs to.
            return match self.deref_target(&def, &args, depth + 1) {
                Some(target) => self.field(target, name, depth + 1),
                None => Ty::Unknown,
            };
        };
        let field = defs.item(field);
        match &field.shape {
            Shape::Field { ty } => {
                // The field of a `Wrapper<Inner>` written `value: T` is an `Inner`.
                let cx = FnCx {
                    params: args,
                    ..FnCx::new(Loc { krate: defs.krate, scope: field.scope }, Ty::Def(def.clone(), Vec::new()))
                };
                self.eval(ty, &cx, depth + 1)
            }
            _ => Ty::Unknown,
        }
    }

    /// What `Self::name` names in a value (`map(Self::parse)`), which only the type `Self`
    /// stands for in `cx` tells; only an exact answer, as a reference carries no confidence.
    pub fn self_member(&self, path: &PathRef, cx: &FnCx) -> Option<Def> {
        match path.segments.as_slice() {
            [first, name] if first == "Self" && !path.global => self
                .method(&cx.self_ty, name, None, 0)
                .filter(|target| target.confidence == Confidence::Exact)
                .map(|target| target.def),
            _ => None,
        }
    }

    /// What a call site calls, when it can be told.
    pub fn call(&self, callee: &Callee, cx: &FnCx, depth: u8) -> Option<Target> {
        if depth > MAX_DEPTH {
            return None;
        }
        match callee {
            Callee::Path(path, args) => {
                if let [first, name] = path.segments.as_slice()
                    && first == "Self"
                    && !path.global
                {
                    return self.method(&cx.self_ty, name, None, depth + 1);
                }
                let def =
                    self.path(cx.loc, path, Ns::Value, false).or_else(|| self.path(cx.loc, path, Ns::Type, false))?;
                let self_ty = match path.segments.split_last() {
                    Some((_, prefix)) if !prefix.is_empty() => {
                        let prefix = PathRef { global: path.global, segments: prefix.to_vec() };
                        if prefix.as_ident() == Some("Self") {
                            cx.self_ty.clone()
                        } else {
                            self.eval(&TypeExpr::Path(prefix, Vec::new()), cx, depth + 1)
                        }
                    }
                    _ => Ty::Unknown,
                };
                match &def {
                    Def::Extern(path) => {
                        // `Some(x)`, `Ok(x)`, `Wrapper(x)`: a capitalised last segment names a
                        // tuple struct or variant.
                        let last = path.rsplit("::").next().unwrap_or_default();
                        let constructor = last.starts_with(|c: char| c.is_uppercase());
                        Some(Target { def, confidence: Confidence::Exact, constructor, self_ty })
                    }
                    Def::Item { .. } => match self.kind(&def)? {
                        VertexKind::Function => match self.trait_of(&def) {
                            // The path names the trait (`SerializeSeq::end`), not a type.
                            Some(trait_def) if matches!(&self_ty, Ty::Def(prefix, _) if *prefix == trait_def) => {
                                Some(self.trait_path_call(def, &trait_def, args.first(), cx, depth))
                            }
                            _ => {
                                // `Vec::extend_from_slice(self, other)` in `impl ExtendFromSlice
                                // for Vec<T>`.
                                let confidence = match &self_ty {
                                    Ty::Def(owner, _) if self.std_may_shadow(owner, &def) => Confidence::Inferred,
                                    _ => Confidence::Exact,
                                };
                                Some(Target { def, confidence, constructor: false, self_ty })
                            }
                        },
                        VertexKind::Struct | VertexKind::Variant => {
                            Some(Target { def, confidence: Confidence::Exact, constructor: true, self_ty })
                        }
                        _ => None,
                    },
                }
            }
            Callee::Assoc { ty, trait_, name } => {
                let ty = self.eval(ty, cx, depth + 1);
                match trait_.as_ref().and_then(|path| self.path(cx.loc, path, Ns::Type, false)) {
                    Some(trait_def) => {
                        let def = self.trait_method(&ty, &trait_def, name, depth + 1)?;
                        Some(Target { def, confidence: Confidence::Exact, constructor: false, self_ty: ty })
                    }
                    None => self.method(&ty, name, None, depth + 1),
                }
            }
            Callee::Method { receiver, name } => {
                let by_ref = cx.is_ref(receiver);
                let receiver = self.eval(receiver, cx, depth + 1);
                self.method(&receiver, name, by_ref, depth + 1)
            }
        }
    }

    /// Whether `found`, a member of a trait impl (or a trait's own), found for a type `owner`,
    /// may lose to one of std's inherent methods, which the graph cannot see and which come
    /// first: `owner` is a std type or primitive (`Self::floor(self)` in `impl Float for f32`
    /// calls `f32::floor`).
    fn std_may_shadow(&self, owner: &Def, found: &Def) -> bool {
        if !matches!(owner, Def::Extern(_)) {
            return false;
        }
        let Some((defs, item)) = self.item(found) else { return false };
        item.parent.is_some_and(|parent| {
            let parent = defs.item(parent);
            parent.kind == VertexKind::Trait || parent.impl_trait.is_some()
        })
    }

    /// The trait a trait's associated function belongs to.
    fn trait_of(&self, def: &Def) -> Option<Def> {
        let (defs, item) = self.item(def)?;
        let parent = item.parent?;
        (defs.item(parent).kind == VertexKind::Trait).then_some(Def::Item { krate: defs.krate, item: parent })
    }

    /// A trait's method `def` called by path (`SerializeSeq::end(self)`, `de::Error::custom(msg)`):
    /// which impl's method runs depends on `Self`. A first argument whose type implements the
    /// trait gives it (the impl's method, or the trait's own where the impl keeps it); one known
    /// by bounds that include the trait calls the trait's method on a generic; otherwise `Self`
    /// comes from the context (the type the result must have), and the trait's method is a
    /// guess.
    fn trait_path_call(&self, def: Def, trait_def: &Def, first: Option<&TypeExpr>, cx: &FnCx, depth: u8) -> Target {
        let Some((_, item)) = self.item(&def) else { return Target::guess(def) };
        let name = item.name.clone();
        // `Deserialize::deserialize(value)`: the first argument of a function without `self` is
        // no `Self`.
        let first = first.filter(|_| matches!(item.shape, Shape::Function { receiver: true, .. }));
        let self_ty = first.map(|first| self.eval(first, cx, depth + 1)).unwrap_or_default();
        let (def, confidence) = match &self_ty {
            Ty::Def(self_def, _) => match self.trait_impl_method(self_def, trait_def, &name) {
                Some(Some(found)) => (found, Confidence::Exact),
                Some(None) => (def, Confidence::Exact),
                None => (def, Confidence::Inferred),
            },
            Ty::Bounds(bounds) if bounds.traits.iter().any(|(bound, _)| bound == trait_def) => (def, Confidence::Exact),
            _ => (def, Confidence::Inferred),
        };
        Target { def, confidence, constructor: false, self_ty }
    }

    /// Whether the type `self_def` has an impl of trait `trait_def` in the graph (`None` if not),
    /// and that impl's method `name` if it defines one.
    fn trait_impl_method(&self, self_def: &Def, trait_def: &Def, name: &str) -> Option<Option<Def>> {
        let trait_id = self.id(trait_def)?;
        let mut found = None;
        for (defs, imp) in self.impls_of(self_def) {
            if imp.impl_trait.as_ref().and_then(|t| self.id(t)) == Some(trait_id) {
                match self.child(defs, imp, name, Some(VertexKind::Function)) {
                    Some(method) => return Some(Some(method)),
                    None => found = Some(None),
                }
            }
        }
        found
    }

    /// The method `name` called on a value of type `ty`, a reference or not if `by_ref` says.
    fn method(&self, ty: &Ty, name: &str, by_ref: Option<bool>, depth: u8) -> Option<Target> {
        if depth > MAX_DEPTH {
            return None;
        }
        let exact =
            |def: Def| Some(Target { def, confidence: Confidence::Exact, constructor: false, self_ty: ty.clone() });
        match ty {
            Ty::Unknown => None,
            Ty::Bounds(bounds) => exact(self.bound_method(&bounds.trait_defs(), name, depth + 1)?),
            Ty::Def(def, args) => {
                if self.kind(def) == Some(VertexKind::Trait) {
                    return exact(self.trait_method(&Ty::Unknown, def, name, depth + 1)?);
                }
                let mut candidates = self.associated_candidates(def, name, 4);
                // `impl Tr for Map` and `impl Tr for &Map` both define it: a receiver known to be a
                // reference (or not) takes the one for its kind of type.
                if candidates.len() > 1
                    && let Some(by_ref) = by_ref
                {
                    let matching: Vec<Def> =
                        candidates.iter().filter(|c| self.impl_is_ref(c) == Some(by_ref)).cloned().collect();
                    if matching.len() == 1 {
                        candidates = matching;
                    }
                }
                if let [found, rest @ ..] = candidates.as_slice()
                    && self.kind(found) == Some(VertexKind::Function)
                {
                    // Two impls of the type define it: which one syntax cannot tell.
                    let confidence = if rest.is_empty()
                        && !self.std_may_shadow(def, found)
                        && !self.has_trait_rival(def, args, found, name)
                    {
                        Confidence::Exact
                    } else {
                        Confidence::Inferred
                    };
                    return Some(Target { def: found.clone(), confidence, constructor: false, self_ty: ty.clone() });
                }
                if let Def::Extern(path) = def
                    && prelude::derefs_to_argument(path)
                    && let Some(inner) = args.first()
                {
                    return self.method(inner, name, None, depth + 1);
                }
                // Auto-deref through the type's own `Deref` impl (`type Target = Inner`).
                let target = self.deref_target(def, args, depth + 1)?;
                self.method(&target, name, None, depth + 1)
            }
        }
    }

    /// Whether the inherent method `found` of type `def` may not apply to a value whose type
    /// arguments `args` are not known, so that a trait method of the same name would run: its
    /// impl is for only some arguments (`impl<Src, Dst> Wrap<&Src, &Dst>`, `impl<T: Copy>
    /// Cell<T>`) and a trait impl of the type has a method of that name (zerocopy's
    /// `transmute_ref!`, whose `Wrap::transmute_ref` falls back to a trait's for unsized
    /// types).
    fn has_trait_rival(&self, def: &Def, args: &[Ty], found: &Def, name: &str) -> bool {
        if args.iter().any(|arg| !matches!(arg, Ty::Unknown)) {
            return false;
        }
        let Some((defs, item)) = self.item(found) else { return false };
        let Some(imp) = item.parent.map(|parent| defs.item(parent)) else { return false };
        let Shape::Impl { self_type: TypeExpr::Path(_, patterns), .. } = &imp.shape else { return false };
        let restricted = imp.impl_trait.is_none()
            && patterns
                .iter()
                .any(|pattern| !matches!(pattern, TypeExpr::Param(_, bounds) if bounds.traits.is_empty()));
        if !restricted {
            return false;
        }
        self.impls_of(def).any(|(defs, imp)| {
            imp.impl_trait.is_some() && self.child(defs, imp, name, Some(VertexKind::Function)).is_some()
        })
    }

    /// Whether the impl an associated item belongs to is for a reference type (`impl Tr for
    /// &Map`); `None` for an item of no impl (a trait's default method).
    fn impl_is_ref(&self, def: &Def) -> Option<bool> {
        let (defs, item) = self.item(def)?;
        let imp = defs.item(item.parent?);
        match &imp.shape {
            Shape::Impl { self_type, .. } => Some(matches!(self_type, TypeExpr::Ref(_))),
            _ => None,
        }
    }

    /// What a crate type with type arguments `args` derefs to: the `Target` of its `impl Deref`,
    /// if the graph has one (`impl<C> Deref for Receiver<C>` with `type Target = C`, for a
    /// `Receiver<Channel>`: `Channel`).
    fn deref_target(&self, def: &Def, args: &[Ty], depth: u8) -> Option<Ty> {
        if depth > MAX_DEPTH {
            return None;
        }
        if !matches!(def, Def::Item { .. }) {
            return None;
        }
        for (defs, imp) in self.impls_of(def) {
            let is_deref = match &imp.impl_trait {
                Some(Def::Extern(path)) => &**path == "Deref" || path.ends_with("ops::Deref"),
                _ => false,
            };
            if !is_deref {
                continue;
            }
            if let Some(target) = self.assoc_type(defs, imp, "Target", &Ty::Def(def.clone(), args.to_vec()), depth + 1)
            {
                return Some(target);
            }
        }
        None
    }

    /// The one method of that name in the crate and its dependencies, if there is exactly one:
    /// a guess, for receivers of unknown type.
    pub fn unique_method(&self, name: &str) -> Option<Def> {
        if is_common_method(name) {
            return None;
        }
        let mut found = None;
        for defs in self.impl_crates(None) {
            for &index in defs.methods_by_name.get(name).into_iter().flatten() {
                if found.is_some() {
                    return None;
                }
                found = Some(Def::Item { krate: defs.krate, item: index });
            }
        }
        found
    }
}

/// What an impl's type parameters stand for when its self type is `ty`: the self type as
/// written (`Map<K, V>`) matched against `ty` (`Map<u8, Entry>`: `K` is `u8`, `V` is `Entry`).
fn impl_params(imp: &ItemDef, ty: &Ty) -> Vec<Ty> {
    let mut params = Vec::new();
    if let Shape::Impl { self_type, .. } = &imp.shape {
        bind_params(self_type, ty, &mut params);
    }
    params
}

fn bind_params(pattern: &TypeExpr, ty: &Ty, params: &mut Vec<Ty>) {
    match (pattern, ty) {
        (_, Ty::Unknown) => {}
        (TypeExpr::Ref(pattern), ty) => bind_params(pattern, ty, params),
        (TypeExpr::Param(index, _), ty) => {
            let index = *index as usize;
            if params.len() <= index {
                params.resize(index + 1, Ty::Unknown);
            }
            params[index] = ty.clone();
        }
        (TypeExpr::Path(_, patterns), Ty::Def(_, args)) => {
            for (pattern, arg) in patterns.iter().zip(args) {
                bind_params(pattern, arg, params);
            }
        }
        (TypeExpr::Slice(pattern), Ty::Def(Def::Extern(path), args)) if &**path == prelude::SEQUENCE => {
            if let Some(arg) = args.first() {
                bind_params(pattern, arg, params);
            }
        }
        (TypeExpr::Tuple(patterns), Ty::Def(Def::Extern(path), args)) if &**path == prelude::TUPLE => {
            for (pattern, arg) in patterns.iter().zip(args) {
                bind_params(pattern, arg, params);
            }
        }
        _ => {}
    }
}

/// `name` from the first of a scope's extern globs.
fn extern_glob(scope: &super::Scope, name: &str) -> Option<Def> {
    let (path, _) = scope.extern_globs.first()?;
    let path = format!("{path}::{name}");
    Some(Def::Extern(Arc::from(prelude::std_facade(&path).unwrap_or(path))))
}

/// A sequence of `elem`s (a slice, an array, an iterator whose items are known): an `extern`
/// path no vertex stands for, which only `item_of` reads.
fn slice_of(elem: Ty) -> Ty {
    match elem {
        Ty::Unknown => Ty::Unknown,
        elem => Ty::Def(Def::Extern(Arc::from(prelude::SEQUENCE)), vec![elem]),
    }
}

/// The success type of an `Option` or `Result`.
fn unwrapped(ty: Ty) -> Ty {
    match ty {
        Ty::Def(Def::Extern(path), args) if prelude::unwraps_to_argument(&path) => {
            args.into_iter().next().unwrap_or_default()
        }
        _ => Ty::Unknown,
    }
}

/// Method names that std's own types have: a receiver of unknown type calling one of these is
/// more likely a std type than the one crate method that shares the name.
fn is_common_method(name: &str) -> bool {
    matches!(
        name,
        "new"
            | "default"
            | "len"
            | "is_empty"
            | "push"
            | "pop"
            | "insert"
            | "remove"
            | "get"
            | "get_mut"
            | "iter"
            | "iter_mut"
            | "into_iter"
            | "next"
            | "map"
            | "and_then"
            | "filter"
            | "collect"
            | "clone"
            | "to_string"
            | "to_owned"
            | "as_ref"
            | "as_mut"
            | "as_str"
            | "unwrap"
            | "expect"
            | "ok"
            | "err"
            | "is_some"
            | "is_none"
            | "is_ok"
            | "is_err"
            | "contains"
            | "contains_key"
            | "extend"
            | "clear"
            | "write"
            | "read"
            | "flush"
            | "fmt"
            | "eq"
            | "cmp"
            | "partial_cmp"
            | "hash"
            | "from"
            | "into"
            | "try_from"
            | "try_into"
            | "lock"
            | "borrow"
            | "borrow_mut"
            | "send"
            | "recv"
            | "join"
            | "split"
            | "trim"
            | "parse"
            | "keys"
            | "values"
            | "entry"
            | "or_insert"
            | "take"
            | "replace"
            | "drop"
            | "deref"
            | "deref_mut"
            | "index"
            | "call"
            | "with_capacity"
            | "capacity"
            | "reserve"
            | "truncate"
            | "first"
            | "last"
            | "sort"
            | "sort_by"
            | "append"
            | "drain"
            | "chars"
            | "bytes"
            | "lines"
            | "starts_with"
            | "ends_with"
            | "find"
            | "position"
            | "any"
            | "all"
            | "count"
            | "sum"
            | "min"
            | "max"
            | "rev"
            | "zip"
            | "enumerate"
            | "skip"
            | "chain"
            | "fold"
            | "for_each"
            | "copied"
            | "cloned"
            | "flatten"
            | "flat_map"
            | "unwrap_or"
            | "unwrap_or_default"
            | "unwrap_or_else"
            | "map_err"
            | "ok_or"
            | "ok_or_else"
            | "as_slice"
            | "as_bytes"
            | "to_vec"
            | "run"
            | "start"
            | "stop"
            | "close"
            | "poll"
            | "wait"
            | "set"
            | "load"
            | "store"
            | "swap"
            | "update"
            | "apply"
            | "build"
            | "finish"
            | "with"
            | "name"
            | "value"
            | "kind"
            | "size"
            | "data"
            | "state"
            | "id"
    )
}

/// Resolves `use` declarations to a fixed point: each round tries the imports not yet resolved
/// and copies what every glob's module now holds; rounds end when nothing changes. Returns what
/// each import resolved to, for the edges.
pub fn fixed_point(
    defs: &mut CrateDefs,
    world: &World,
    imports: &[Import<'_>],
    stats: &mut ResolveStats,
) -> Vec<Vec<Def>> {
    let mut resolved: Vec<Vec<Def>> = vec![Vec::new(); imports.len()];
    let mut found_ns: Vec<[bool; 3]> = vec![[false; 3]; imports.len()];
    // For each glob: the version of its target scope when it was last copied.
    let mut copied_version: Vec<Option<u32>> = vec![None; imports.len()];
    // A round adds at least one binding or ends the loop, and bindings are finite; the cap only
    // bounds pathological inputs.
    for _round in 0..64 {
        let mut changed = false;
        for (index, import) in imports.iter().enumerate() {
            let loc = Loc { krate: defs.krate, scope: import.scope };
            let vis = Vis::parse(&import.facts.visibility);
            match &import.facts.name {
                None => {
                    let resolver = Resolver { current: defs, world };
                    let Some(target) = resolver.path(loc, &import.facts.path, Ns::Type, true) else { continue };
                    // Another crate's scopes are final: one copy is enough. This crate's are
                    // copied again only when they changed since.
                    let version = match resolver.item(&target) {
                        Some((target_defs, item)) if target_defs.krate == defs.krate => {
                            item.own_scope.map_or(0, |scope| defs.scopes[scope as usize].version)
                        }
                        _ => 0,
                    };
                    if copied_version[index] == Some(version) {
                        continue;
                    }
                    let copied = glob_bindings(&resolver, &target, import.scope);
                    let globs = extern_globs(&resolver, &target);
                    copied_version[index] = Some(version);
                    if resolved[index].is_empty() {
                        resolved[index].push(target);
                    }
                    let scope = &mut defs.scopes[import.scope as usize];
                    for path in globs {
                        if !scope.extern_globs.iter().any(|(known, _)| *known == path) {
                            // Active globs first: they are the ones a name comes from.
                            let at = if import.active { 0 } else { scope.extern_globs.len() };
                            scope.extern_globs.insert(at, (path, vis));
                            scope.version += 1;
                            changed = true;
                        }
                    }
                    for (ns, name, binding) in copied {
                        let binding = Binding { vis, glob: true, active: import.active && binding.active, ..binding };
                        if bind(&mut scope.names[ns as usize], name, binding) {
                            scope.version += 1;
                            changed = true;
                        }
                    }
                }
                Some(name) => {
                    for ns in Ns::ALL {
                        if found_ns[index][ns as usize] {
                            continue;
                        }
                        let resolver = Resolver { current: defs, world };
                        let Some(def) = resolver.path(loc, &import.facts.path, ns, true) else { continue };
                        found_ns[index][ns as usize] = true;
                        if import.facts.macro_use {
                            add_macro_use(defs, world, &def);
                        }
                        if !resolved[index].contains(&def) {
                            resolved[index].push(def.clone());
                        }
                        if name != "_" {
                            let binding = Binding { def, vis, glob: false, active: import.active };
                            let scope = &mut defs.scopes[import.scope as usize];
                            if bind(&mut scope.names[ns as usize], name.as_str().into(), binding) {
                                scope.version += 1;
                            }
                        }
                        // A newly resolved import can make others resolvable, bound or not.
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    for found in &resolved {
        stats.imports += 1;
        if found.is_empty() {
            stats.imports_unresolved += 1;
        }
    }
    resolved
}

/// The bindings a glob import of `target` brings into `into`: a module's names that are visible
/// from there, or an enum's variants.
fn glob_bindings(resolver: &Resolver<'_>, target: &Def, into: u32) -> Vec<(Ns, Box<str>, Binding)> {
    let Some((defs, item)) = resolver.item(target) else { return Vec::new() };
    let same_crate = defs.krate == resolver.current.krate;
    match item.kind {
        VertexKind::Module => {
            let Some(scope) = item.own_scope else { return Vec::new() };
            let descendant = same_crate && is_descendant(defs, module_scope_of(defs, into), scope);
            let mut out = Vec::new();
            for ns in Ns::ALL {
                for (name, binding) in &defs.scopes[scope as usize].names[ns as usize] {
                    let visible = match binding.vis {
                        Vis::Public => true,
                        Vis::Crate => same_crate,
                        Vis::Private => descendant,
                    };
                    if visible {
                        out.push((ns, name.clone(), binding.clone()));
                    }
                }
            }
            // Sorted, so that which of two globs binds a name first does not depend on hashing.
            out.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
            out
        }
        VertexKind::Enum => item
            .children
            .iter()
            .map(|&child| {
                let variant = defs.item(child);
                let binding = Binding {
                    def: Def::Item { krate: defs.krate, item: child },
                    vis: Vis::Public,
                    glob: true,
                    active: variant.active,
                };
                (Ns::Value, variant.name.clone(), binding)
            })
            .flat_map(|(ns, name, binding)| [(Ns::Type, name.clone(), binding.clone()), (ns, name, binding)])
            .collect(),
        _ => Vec::new(),
    }
}

/// The extern globs a glob import of `target` brings: `target` itself when it is extern, else
/// the public ones of the module it names.
fn extern_globs(resolver: &Resolver<'_>, target: &Def) -> Vec<Arc<str>> {
    match target {
        Def::Extern(path) => vec![path.clone()],
        Def::Item { .. } => match resolver.item(target) {
            Some((defs, item)) if item.kind == VertexKind::Module => item
                .own_scope
                .map(|scope| {
                    defs.scopes[scope as usize]
                        .extern_globs
                        .iter()
                        .filter(|(_, vis)| *vis != Vis::Private)
                        .map(|(path, _)| path.clone())
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        },
    }
}

/// Whether module scope `scope` is `ancestor` or inside it.
fn is_descendant(defs: &CrateDefs, mut scope: u32, ancestor: u32) -> bool {
    loop {
        if scope == ancestor {
            return true;
        }
        match defs.scopes[scope as usize].parent_module {
            Some(parent) => scope = parent,
            None => return false,
        }
    }
}

/// `#[macro_use] extern crate dep;`: `dep`'s exported macros are in scope everywhere.
fn add_macro_use(defs: &mut CrateDefs, world: &World, def: &Def) {
    let Def::Item { krate, .. } = def else { return };
    let Some(dep) = world.get(*krate) else { return };
    for (name, binding) in &dep.scopes[dep.root_scope as usize].names[Ns::Macro as usize] {
        if binding.vis == Vis::Public {
            defs.macros.entry(name.clone()).or_insert_with(|| binding.def.clone());
        }
    }
}

/// Resolves every impl's trait and self type (registering the impl under its self type), and
/// every trait's supertraits.
pub fn resolve_impls_and_traits(defs: &mut CrateDefs, world: &World, refs: &[RecordRefs]) {
    let mut impls = Vec::new();
    let mut supertraits = Vec::new();
    {
        let resolver = Resolver { current: defs, world };
        for (index, item) in defs.items.iter().enumerate() {
            let loc = Loc { krate: defs.krate, scope: item.scope };
            match (&item.kind, &item.shape) {
                (VertexKind::Impl, Shape::Impl { trait_path, self_type, .. }) => {
                    let trait_def = trait_path.as_ref().and_then(|path| resolver.path(loc, path, Ns::Type, false));
                    // `impl Tr for &'a &'b Foo` is an impl of `Foo`'s.
                    let mut written = self_type;
                    while let TypeExpr::Ref(inner) = written {
                        written = inner;
                    }
                    let self_def = match written {
                        TypeExpr::Path(path, _) if path.as_ident() != Some("Self") => {
                            resolver.path(loc, path, Ns::Type, false)
                        }
                        // `impl dyn Subscriber` and `impl Debug for dyn Value + Send`: the trait
                        // object's one trait of the graph stands for it.
                        TypeExpr::Bounds(_) => match resolver.eval(written, &FnCx::new(loc, Ty::Unknown), 0) {
                            Ty::Bounds(bounds) => {
                                let mut traits = bounds.trait_defs().into_iter().filter(|def| {
                                    matches!(def, Def::Item { .. }) && resolver.kind(def) == Some(VertexKind::Trait)
                                });
                                match (traits.next(), traits.next()) {
                                    (Some(only), None) => Some(only),
                                    _ => None,
                                }
                            }
                            _ => None,
                        },
                        _ => None,
                    };
                    // Registered under the alias's target too, so that methods are found through either.
                    let alias_target = self_def.as_ref().and_then(|def| match resolver.item(def) {
                        Some((target_defs, target)) if target.kind == VertexKind::TypeAlias => {
                            match resolver.alias_target(target_defs, target, Vec::new(), 0) {
                                Ty::Def(def, _) => Some(def),
                                _ => None,
                            }
                        }
                        _ => None,
                    });
                    let ids: Vec<Uuid> =
                        [&self_def, &alias_target].into_iter().flatten().filter_map(|def| resolver.id(def)).collect();
                    // An impl written for an alias is the aliased type's (`impl Display for Table`
                    // implements `Display` for `Map<String, Value>`): its self type is that type,
                    // where the alias resolves to one.
                    impls.push((index, trait_def, alias_target.or(self_def), ids));
                }
                (VertexKind::Trait, _) => {
                    let resolved: Vec<Def> = refs[index]
                        .supertraits()
                        .iter()
                        .filter_map(|named| resolver.path(loc, &named.path, Ns::Type, false))
                        .collect();
                    supertraits.push((index, resolved));
                }
                _ => {}
            }
        }
    }
    for (index, trait_def, self_def, ids) in impls {
        for id in ids {
            defs.impls_by_self.entry(id).or_default().push(index as u32);
        }
        defs.items[index].impl_trait = trait_def;
        defs.items[index].impl_self = self_def;
    }
    for (index, resolved) in supertraits {
        defs.items[index].supertraits = resolved;
    }
}
