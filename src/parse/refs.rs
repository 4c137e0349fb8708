//! What an item's syntax names, as written: `use` declarations, the types and traits in its
//! signature, fields and body, the calls it makes, the macros it invokes, the traits it derives.
//!
//! Nothing here is resolved: a path is kept as its segments, and a method call's receiver as a
//! small expression of what is known about its type (`TypeExpr`), which `resolve` evaluates once
//! names can be looked up. The local knowledge that only syntax has is taken here: the types of
//! parameters and annotated or constructed locals, the bounds of generic parameters, and which
//! function body a closure or macro argument belongs to.

use syn::visit::{self, Visit};
use syn::{Expr, FnArg, GenericArgument, Pat, PathArguments, ReturnType, Type, TypeParamBound};

use serde::{Deserialize, Serialize};

use super::expand::MacroCall;
use super::{line, unraw};

/// A path as written, without generic arguments: `crate::a::B`, `::std::fmt`, `Self::new`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PathRef {
    /// Written with a leading `::`.
    pub global: bool,
    pub segments: Vec<String>,
}

impl PathRef {
    pub fn from_path(path: &syn::Path) -> PathRef {
        PathRef {
            global: path.leading_colon.is_some(),
            segments: path.segments.iter().map(|s| unraw(&s.ident)).collect(),
        }
    }

    pub fn single(name: &str) -> PathRef {
        PathRef { global: false, segments: vec![name.to_owned()] }
    }

    /// The path's one segment, if it has only one.
    pub fn as_ident(&self) -> Option<&str> {
        match self.segments.as_slice() {
            [only] if !self.global => Some(only),
            _ => None,
        }
    }
}

/// What is known, from syntax alone, about the type of a value.
#[derive(Debug, Clone, Default, PartialEq, Hash, Serialize, Deserialize)]
pub enum TypeExpr {
    #[default]
    Unknown,
    /// A named type with its generic type arguments (`Vec<Foo>`: `Vec`, [`Foo`]). `Self` is one.
    Path(PathRef, Vec<TypeExpr>),
    /// A type known only by the traits it implements: `impl Trait`, `dyn Trait`, a trait's
    /// associated type (`type IterElem: Iterator<Item = Self::Item>`).
    Bounds(BoundsExpr),
    /// A generic type parameter of the item (`T` in `struct Wrapper<T>`, `impl<K, V> Map<K, V>`,
    /// `fn get<T>`): its position among the type parameters in scope (an impl's or trait's
    /// first, then the function's own), and its trait bounds. Where the item is reached through
    /// a value whose type arguments are known (a field of `Wrapper<Inner>`, a method of `Map<A,
    /// B>`), it stands for the argument at that position; elsewhere only its bounds are known.
    Param(u32, BoundsExpr),
    /// An associated type of a type: `<I as InputIter>::Item`, `I::Item`, `Self::Item`.
    Assoc(Box<Projection>),
    /// What a call returns.
    Returns(Box<Callee>),
    /// `value?`: the success type of an `Option` or `Result`.
    Try(Box<TypeExpr>),
    /// `value.field`.
    Field(Box<TypeExpr>, String),
    /// A binding of a pattern over a struct, tuple struct or enum variant (`Flavor::Array(chan)`,
    /// `Point { x, .. }`): the field (`0`, `x`) of the struct or variant the path names, whose
    /// type is written in its declaration.
    PatField(PathRef, String),
    /// What iterating over a value yields: `for x in value`, the closure argument of
    /// `value.map(|x| ..)`.
    Item(Box<TypeExpr>),
    /// A slice or array of the element type (`&[T]`, `[T; N]`).
    Slice(Box<TypeExpr>),
    /// A tuple of the elements' types (`(I, usize)`); its elements are its fields `0`, `1`, ...
    Tuple(Vec<TypeExpr>),
    /// A reference to a value of the inner type (`&T`, `&mut T`, `&value`, `&self`). Lookups see
    /// through it; it tells a method of `impl Tr for &Map` from the same method of `impl Tr for
    /// Map` when both exist.
    Ref(Box<TypeExpr>),
    /// A parameter of a closure passed to a function or method (`input.split_at_position(|item|
    /// ..)`): what the callee's bound on that argument says (`P: Fn(Self::Item) -> bool`).
    ClosureParam(Box<ClosureParam>),
    /// `*value`: what a std smart pointer points to (`**self` in `impl Trait for Box<T>` is the
    /// `T`), or the value's own type where the `*` only removes a reference.
    Deref(Box<TypeExpr>),
}

/// `<base as trait_>::name`.
#[derive(Debug, Clone, PartialEq, Hash, Serialize, Deserialize)]
pub struct Projection {
    pub base: TypeExpr,
    /// The trait, where the path names it.
    pub trait_: Option<PathRef>,
    pub name: String,
}

/// The parameter `param` of the closure given as input `input` of `callee` (a method's receiver
/// is its input 0).
#[derive(Debug, Clone, PartialEq, Hash, Serialize, Deserialize)]
pub struct ClosureParam {
    pub callee: Callee,
    pub input: u32,
    pub param: u32,
}

impl TypeExpr {
    fn assoc(base: TypeExpr, trait_: Option<PathRef>, name: String) -> TypeExpr {
        TypeExpr::Assoc(Box::new(Projection { base, trait_, name }))
    }

    /// Whether the expression has at most `budget` nodes (bounds and callees included), counted
    /// with `budget` spent as it goes.
    fn fits(&self, budget: &mut i32) -> bool {
        *budget -= 1;
        if *budget < 0 {
            return false;
        }
        match self {
            TypeExpr::Unknown | TypeExpr::PatField(..) => true,
            TypeExpr::Path(_, args) | TypeExpr::Tuple(args) => args.iter().all(|arg| arg.fits(budget)),
            TypeExpr::Bounds(bounds) | TypeExpr::Param(_, bounds) => bounds.fits(budget),
            TypeExpr::Assoc(projection) => projection.base.fits(budget),
            TypeExpr::Returns(callee) => callee.fits(budget),
            TypeExpr::ClosureParam(given) => given.callee.fits(budget),
            TypeExpr::Try(inner)
            | TypeExpr::Field(inner, _)
            | TypeExpr::Item(inner)
            | TypeExpr::Slice(inner)
            | TypeExpr::Ref(inner)
            | TypeExpr::Deref(inner) => inner.fits(budget),
        }
    }

    /// Whether a generic parameter, or an `impl Trait`, is part of the type (`Vec<T>`, `(I,
    /// bool)`, `impl Fn(&Circle)`).
    pub fn is_generic(&self) -> bool {
        match self {
            TypeExpr::Param(..) | TypeExpr::Bounds(_) => true,
            TypeExpr::Path(_, args) | TypeExpr::Tuple(args) => args.iter().any(TypeExpr::is_generic),
            TypeExpr::Ref(inner) | TypeExpr::Slice(inner) => inner.is_generic(),
            TypeExpr::Assoc(projection) => projection.base.is_generic(),
            _ => false,
        }
    }
}

impl BoundsExpr {
    fn fits(&self, budget: &mut i32) -> bool {
        self.traits.iter().all(|(_, args)| args.iter().all(|arg| arg.fits(budget)))
            && self.assoc.iter().all(|(_, ty)| ty.fits(budget))
    }
}

impl Callee {
    fn fits(&self, budget: &mut i32) -> bool {
        match self {
            Callee::Path(_, args) => args.iter().all(|arg| arg.fits(budget)),
            Callee::Assoc { ty, .. } => ty.fits(budget),
            Callee::Method { receiver, .. } => receiver.fits(budget),
        }
    }
}

/// What a call site calls.
#[derive(Debug, Clone, PartialEq, Hash, Serialize, Deserialize)]
pub enum Callee {
    /// `f()`, `m::f()`, `Type::assoc()`, `Self::f()`, `f::<T>()`, with what is known of its
    /// arguments' types, trailing unknown ones left out: they tell a trait method called by path
    /// (`SerializeSeq::end(self)`) which impl it is, and a generic function what it returns.
    Path(PathRef, Vec<TypeExpr>),
    /// `<T as Trait>::f()`, `<T>::f()`, or `T::f()` where `T` is a generic parameter.
    Assoc { ty: TypeExpr, trait_: Option<PathRef>, name: String },
    /// `receiver.name()`.
    Method { receiver: TypeExpr, name: String },
}

#[derive(Debug, Clone, PartialEq, Hash, Serialize, Deserialize)]
pub struct Call {
    pub callee: Callee,
    pub line: u32,
    /// Written in the arguments of a macro other than std's, which may paste the tokens
    /// anywhere (`syscall!(accept(fd))` calls `libc::accept`).
    pub in_macro: bool,
    /// The `#[cfg(...)]` predicates of the statements and expressions around the call in its
    /// body, joined (`#[cfg(target_os = "linux")] let s = accept4(..);`): the call is made only
    /// where they hold.
    pub cfg: Option<String>,
}

/// One name a `use` declaration (or `extern crate`) brings in: `use a::b::{c as d, e::*}` gives
/// two.
#[derive(Debug, Clone, PartialEq, Hash, Serialize, Deserialize)]
pub struct UseFacts {
    pub path: PathRef,
    /// The name bound (`d`, `_`); `None` for a glob.
    pub name: Option<String>,
    /// Bound under another name than the path's last segment.
    pub renamed: bool,
    pub visibility: String,
    pub line: u32,
    /// A `#[macro_use] extern crate`: the crate's exported macros are in scope everywhere.
    pub macro_use: bool,
    /// The declaration's own `#[cfg(...)]` predicates, if any.
    pub cfg: Option<String>,
}

/// A path named at a line.
#[derive(Debug, Clone, PartialEq, Hash, Serialize, Deserialize)]
pub struct Named {
    pub path: PathRef,
    pub line: u32,
}

/// Everything one item names. Nested items have their own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Refs {
    pub uses: Vec<UseFacts>,
    /// Types and traits named in signatures, fields, bounds and bodies.
    pub types: Vec<Named>,
    /// Paths used as values without being called (constants, statics, unit structs).
    pub values: Vec<Named>,
    pub calls: Vec<Call>,
    pub macros: Vec<Named>,
    /// The names in `#[derive(...)]`.
    pub derives: Vec<Named>,
    /// The names in `#[cfg_attr(predicate, derive(...))]`, with the predicate: the item's
    /// assembly keeps those whose predicate holds for the crate as its `derives`.
    pub cfg_derives: Vec<(String, Named)>,
    /// A trait's supertraits.
    pub supertraits: Vec<Named>,
    /// Calls of macros other than std's in a body, to expand once the crate's macros are known.
    pub body_macros: Vec<BodyMacro>,
}

/// A call of a macro other than std's in a function body (or an initializer), with what its
/// expansion needs to be read as the body would read it: the locals its tokens name and the
/// generic parameters in scope. Once expanded, the calls its expansion makes replace those read
/// from its arguments (`calls`), and the macro calls in its arguments (the `nested` ones after
/// it) are expanded as part of it, not on their own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BodyMacro {
    pub call: MacroCall,
    /// The locals in scope at the call whose names its tokens have (`$this` given `self`), with
    /// what is known of their types.
    pub locals: Vec<(String, TypeExpr)>,
    pub generics: Generics,
    /// The range of `Refs::calls` read from the call's arguments.
    pub calls: (u32, u32),
    /// How many of the next `Refs::body_macros` are in the call's arguments.
    pub nested: u32,
    /// The call is itself in the arguments of another macro other than std's.
    pub in_macro: bool,
    /// The `cfg` predicates around the call in its body (see `Call::cfg`).
    pub cfg: Option<String>,
}

impl Refs {
    pub fn append(&mut self, mut other: Refs) {
        // `other`'s body macros' ranges are into its calls, which go after these.
        let base = u32::try_from(self.calls.len()).unwrap_or(u32::MAX);
        self.uses.append(&mut other.uses);
        self.types.append(&mut other.types);
        self.values.append(&mut other.values);
        self.calls.append(&mut other.calls);
        self.macros.append(&mut other.macros);
        self.derives.append(&mut other.derives);
        self.cfg_derives.append(&mut other.cfg_derives);
        self.supertraits.append(&mut other.supertraits);
        self.body_macros.extend(other.body_macros.drain(..).map(|mut body_macro| {
            body_macro.calls = (body_macro.calls.0.saturating_add(base), body_macro.calls.1.saturating_add(base));
            body_macro
        }));
    }

    /// Calls `f` with every line the refs hold (each with how many lines below it the text there
    /// reaches: a body macro's call, see `MacroCall::visit_lines`), in a fixed order: what moves
    /// when lines move (`index::shift`, a reused body expansion in `expand::expand_in_body`).
    pub fn visit_lines(&mut self, f: &mut dyn FnMut(&mut u32, u32)) {
        let Refs { uses, types, values, calls, macros, derives, cfg_derives, supertraits, body_macros } = self;
        for used in uses {
            f(&mut used.line, 0);
        }
        let named = types.iter_mut().chain(values.iter_mut()).chain(macros.iter_mut()).chain(derives.iter_mut());
        let named = named.chain(cfg_derives.iter_mut().map(|(_, named)| named)).chain(supertraits.iter_mut());
        for named in named {
            f(&mut named.line, 0);
        }
        for call in calls {
            f(&mut call.line, 0);
        }
        for body_macro in body_macros {
            body_macro.call.visit_lines(f);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.uses.is_empty()
            && self.types.is_empty()
            && self.values.is_empty()
            && self.calls.is_empty()
            && self.macros.is_empty()
            && self.derives.is_empty()
            && self.cfg_derives.is_empty()
            && self.supertraits.is_empty()
            && self.body_macros.is_empty()
    }
}

/// What is known of a type by its traits (`impl Iterator<Item = Entry>`, `T: Parser<I, O, E>`,
/// `where T::Item: AsChar`).
#[derive(Debug, Clone, Default, PartialEq, Hash, Serialize, Deserialize)]
pub struct BoundsExpr {
    /// The traits, with their type arguments (`Parser<I, O, E>`: `I`, `O` and `E`).
    pub traits: Vec<(PathRef, Vec<TypeExpr>)>,
    /// What its associated types are (`Iterator<Item = Entry>`), or are bounded by (`where
    /// T::Item: AsChar`, `I: Iterator<Item: Debug>`).
    pub assoc: Vec<(String, TypeExpr)>,
}

impl BoundsExpr {
    fn read<'a>(bounds: impl IntoIterator<Item = &'a TypeParamBound>, generics: &Generics) -> BoundsExpr {
        let mut out = BoundsExpr::default();
        out.add(bounds, generics);
        out
    }

    fn add<'a>(&mut self, bounds: impl IntoIterator<Item = &'a TypeParamBound>, generics: &Generics) {
        for bound in bounds {
            let TypeParamBound::Trait(bound) = bound else { continue };
            let mut args = Vec::new();
            match bound.path.segments.last().map(|s| &s.arguments) {
                // `Fn(Self::Item) -> bool`: the closure's parameters are the arguments.
                Some(PathArguments::Parenthesized(parens)) => {
                    args.extend(parens.inputs.iter().map(|input| type_expr(&input.ty, generics)));
                    if let ReturnType::Type(_, output) = &parens.output {
                        self.set_assoc("Output".to_owned(), type_expr(output, generics));
                    }
                }
                Some(PathArguments::AngleBracketed(angle)) => {
                    for arg in &angle.args {
                        match arg {
                            GenericArgument::Type(ty) => args.push(type_expr(ty, generics)),
                            GenericArgument::AssocType(assoc) => {
                                self.set_assoc(unraw(&assoc.ident), type_expr(&assoc.ty, generics));
                            }
                            GenericArgument::Constraint(constraint) => self.set_assoc(
                                unraw(&constraint.ident),
                                TypeExpr::Bounds(BoundsExpr::read(&constraint.bounds, generics)),
                            ),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
            self.traits.push((PathRef::from_path(&bound.path), args));
        }
    }

    /// Records what the associated type `name` is: a type written for it wins over bounds, and
    /// bounds add up.
    fn set_assoc(&mut self, name: String, ty: TypeExpr) {
        let Some(entry) = self.assoc.iter_mut().find(|(known, _)| *known == name) else {
            self.assoc.push((name, ty));
            return;
        };
        match (&mut entry.1, ty) {
            (TypeExpr::Bounds(known), TypeExpr::Bounds(more)) => {
                known.traits.extend(more.traits);
                known.assoc.extend(more.assoc);
            }
            (TypeExpr::Bounds(_), ty) => entry.1 = ty,
            _ => {}
        }
    }
}

/// Generic parameters in scope, with their trait bounds: a type named by one of them is known
/// only by its bounds.
#[derive(Debug, Clone, Default, PartialEq, Hash, Serialize, Deserialize)]
pub struct Generics {
    params: Vec<(String, BoundsExpr)>,
}

impl Generics {
    /// `outer` (an impl's or trait's parameters) extended with `generics`'s own.
    ///
    /// A bound's arguments name other parameters (`F: Parser<I, O, E>` with `I: InputLength`),
    /// so the bounds are read twice: the second time, the parameters they name carry the
    /// bounds of the first reading (whose own arguments name bare parameters). Two levels are
    /// what a method's return needs (`f.parse(input)` gives an `I` that has `input_len`).
    pub fn extend(outer: &Generics, generics: &syn::Generics) -> Generics {
        let mut base = outer.clone();
        base.params.extend(generics.type_params().map(|param| (unraw(&param.ident), BoundsExpr::default())));
        if generics.params.is_empty() && generics.where_clause.is_none() {
            return base;
        }
        let first = Generics::read_bounds(&base, generics, &base);
        let second = Generics::read_bounds(&base, generics, &first);
        // Every mention of a parameter carries its bounds: where they name many others (a
        // hundred parameters bounded by a trait of all of them), the second reading would be
        // cubic in their number, and the first is kept.
        let mut budget = GENERICS_BUDGET;
        match second.params.iter().all(|(_, bounds)| bounds.fits(&mut budget)) {
            true => second,
            false => first,
        }
    }

    /// `base` with the bounds `generics` declares, their types read in `scope`.
    fn read_bounds(base: &Generics, generics: &syn::Generics, scope: &Generics) -> Generics {
        let mut out = base.clone();
        let own = base.params.len() - generics.type_params().count();
        for (index, param) in generics.type_params().enumerate() {
            out.params[own + index].1.add(&param.bounds, scope);
        }
        let Some(clause) = &generics.where_clause else { return out };
        for predicate in &clause.predicates {
            let syn::WherePredicate::Type(predicate) = predicate else { continue };
            match type_expr(&predicate.bounded_ty, base) {
                // `T: Trait`
                TypeExpr::Param(index, _) => out.params[index as usize].1.add(&predicate.bounds, scope),
                // `T::Item: Trait`, `<T as Tr>::Item: Trait`
                TypeExpr::Assoc(projection) => {
                    if let TypeExpr::Param(index, _) = projection.base {
                        let bounds = TypeExpr::Bounds(BoundsExpr::read(&predicate.bounds, scope));
                        out.params[index as usize].1.set_assoc(projection.name, bounds);
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The parameter `name`, if one is in scope: its position and its bounds.
    fn param(&self, name: &str) -> Option<TypeExpr> {
        let index = self.params.iter().rposition(|(param, _)| param == name)?;
        Some(TypeExpr::Param(index as u32, self.params[index].1.clone()))
    }

    fn is_param(&self, name: &str) -> bool {
        self.params.iter().any(|(param, _)| param == name)
    }
}

/// A type known by the bounds written for it (a trait's associated type).
pub fn bounded_type<'a>(bounds: impl IntoIterator<Item = &'a TypeParamBound>, generics: &Generics) -> TypeExpr {
    TypeExpr::Bounds(BoundsExpr::read(bounds, generics))
}

/// What syntax says about a type as written.
pub fn type_expr(ty: &Type, generics: &Generics) -> TypeExpr {
    match ty {
        // `<I as InputIter>::Item`
        Type::Path(path) if path.qself.is_some() => {
            let Some(qself) = &path.qself else { return TypeExpr::Unknown };
            let mut rest = path.path.segments.iter().skip(qself.position);
            match (rest.next(), rest.next()) {
                (Some(name), None) if name.arguments.is_none() => {
                    let trait_ = (qself.position > 0).then(|| PathRef {
                        global: path.path.leading_colon.is_some(),
                        segments: path.path.segments.iter().take(qself.position).map(|s| unraw(&s.ident)).collect(),
                    });
                    TypeExpr::assoc(type_expr(&qself.ty, generics), trait_, unraw(&name.ident))
                }
                _ => TypeExpr::Unknown,
            }
        }
        Type::Path(path) => {
            let path_ref = PathRef::from_path(&path.path);
            if let Some(param) = path_ref.as_ident().and_then(|name| generics.param(name)) {
                return param;
            }
            // `I::Item`, `Self::Item`: an associated type of a parameter or of `Self`.
            if let [first, name] = path_ref.segments.as_slice()
                && !path_ref.global
                && path.path.segments.iter().all(|segment| segment.arguments.is_none())
            {
                let base = match generics.param(first) {
                    Some(param) => Some(param),
                    None => (first == "Self").then(self_type),
                };
                if let Some(base) = base {
                    return TypeExpr::assoc(base, None, name.clone());
                }
            }
            let args = match path.path.segments.last().map(|segment| &segment.arguments) {
                Some(PathArguments::AngleBracketed(args)) => args
                    .args
                    .iter()
                    .filter_map(|arg| match arg {
                        GenericArgument::Type(ty) => Some(type_expr(ty, generics)),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            TypeExpr::Path(path_ref, args)
        }
        Type::Reference(reference) => TypeExpr::Ref(Box::new(type_expr(&reference.elem, generics))),
        Type::Paren(paren) => type_expr(&paren.elem, generics),
        Type::Group(group) => type_expr(&group.elem, generics),
        Type::Slice(slice) => TypeExpr::Slice(Box::new(type_expr(&slice.elem, generics))),
        Type::Array(array) => TypeExpr::Slice(Box::new(type_expr(&array.elem, generics))),
        Type::Tuple(tuple) => TypeExpr::Tuple(tuple.elems.iter().map(|elem| type_expr(elem, generics)).collect()),
        Type::ImplTrait(ty) => TypeExpr::Bounds(BoundsExpr::read(&ty.bounds, generics)),
        Type::TraitObject(ty) => TypeExpr::Bounds(BoundsExpr::read(&ty.bounds, generics)),
        _ => TypeExpr::Unknown,
    }
}

pub fn return_type(output: &ReturnType, generics: &Generics) -> TypeExpr {
    match output {
        ReturnType::Default => TypeExpr::Unknown,
        ReturnType::Type(_, ty) => type_expr(ty, generics),
    }
}

/// The most nodes the bounds of a scope's generic parameters keep, read twice (`Generics::extend`).
const GENERICS_BUDGET: i32 = 4096;

/// The most nodes an argument's type keeps (`Callee::Path`).
const ARGUMENT_BUDGET: i32 = 48;

/// Collects what a piece of syntax names. Nested items are skipped (they collect their own),
/// except `use` declarations in function bodies, which apply to the body.
pub struct Collector<'g> {
    pub refs: Refs,
    generics: &'g Generics,
    /// Locals in scope with what is known of their types, innermost last.
    locals: Vec<(String, TypeExpr)>,
    /// How many calls of macros other than std's enclose what is visited.
    in_macros: u32,
    /// The `#[cfg(...)]` predicates of the statements and expressions that enclose what is
    /// visited.
    cfgs: Vec<String>,
}

impl<'g> Collector<'g> {
    pub fn new(generics: &'g Generics) -> Collector<'g> {
        Collector { refs: Refs::default(), generics, locals: Vec::new(), in_macros: 0, cfgs: Vec::new() }
    }

    /// A function: its signature's types, its parameters as locals, and its body.
    pub fn function(mut self, sig: &syn::Signature, body: Option<&syn::Block>) -> Refs {
        self.visit_generics(&sig.generics);
        self.visit_return_type(&sig.output);
        for input in &sig.inputs {
            match input {
                // `&self` is a `&Self`, `self: Box<Self>` a `Box<Self>`.
                FnArg::Receiver(receiver) => {
                    let ty = match &receiver.kind {
                        syn::ReceiverKind::Reference(..) => TypeExpr::Ref(Box::new(self_type())),
                        syn::ReceiverKind::Typed(_, ty) => type_expr(ty, self.generics),
                        _ => self_type(),
                    };
                    self.locals.push(("self".to_owned(), ty));
                }
                FnArg::Typed(typed) => self.bind_typed(&typed.pat, &typed.ty),
            }
        }
        if let Some(body) = body {
            self.visit_block(body);
        }
        self.refs
    }

    /// The derive list of an item's attributes, those under `cfg_attr` with their predicate.
    pub fn derives(&mut self, attrs: &[syn::Attribute]) {
        type Paths = syn::punctuated::Punctuated<syn::Path, syn::Token![,]>;
        type Metas = syn::punctuated::Punctuated<syn::Meta, syn::Token![,]>;
        for attr in attrs {
            let at = line(attr.pound_token.span);
            let named = |path: &syn::Path| Named { path: PathRef::from_path(path), line: at };
            if is_derive(attr.path()) {
                if let Ok(paths) = attr.parse_args_with(Paths::parse_terminated) {
                    self.refs.derives.extend(paths.iter().map(named));
                }
            } else if attr.path().is_ident("cfg_attr") {
                let parsed = attr.parse_args_with(|input: syn::parse::ParseStream<'_>| {
                    let predicate: syn::Meta = input.parse()?;
                    input.parse::<syn::Token![,]>()?;
                    Ok((predicate, Metas::parse_terminated(input)?))
                });
                let Ok((predicate, metas)) = parsed else { continue };
                let predicate = super::render::tokens(&predicate);
                for meta in metas.iter().filter(|meta| is_derive(meta.path())) {
                    let Ok(list) = meta.require_list() else { continue };
                    let Ok(paths) = list.parse_args_with(Paths::parse_terminated) else { continue };
                    self.refs.cfg_derives.extend(paths.iter().map(|path| (predicate.clone(), named(path))));
                }
            }
        }
    }

    pub fn finish(self) -> Refs {
        self.refs
    }

    /// What the statements a body's macro call expands to name, read with the locals and generic
    /// parameters the call had (`BodyMacro`).
    pub fn expansion(body_macro: &BodyMacro, stmts: &[syn::Stmt]) -> Refs {
        let mut collector = Collector::new(&body_macro.generics);
        // Innermost first in the snapshot; innermost last here.
        collector.locals = body_macro.locals.iter().rev().cloned().collect();
        collector.in_macros = u32::from(body_macro.in_macro);
        collector.cfgs.extend(body_macro.cfg.clone());
        for stmt in stmts {
            collector.visit_stmt(stmt);
        }
        collector.refs
    }

    fn bind_typed(&mut self, pat: &Pat, ty: &Type) {
        self.visit_type(ty);
        let ty = type_expr(ty, self.generics);
        self.bind(pat, ty);
    }

    /// Binds the names of `pat`, matched against a value of type `ty`, with what is known of
    /// their types: a struct's or variant's field has the type its declaration writes, `Some(x)`
    /// and `Ok(x)` unwrap the scrutinee's type. Patterns it does not take apart bind their names
    /// with unknown types (`visit_pat_ident`), which still shadow outer ones.
    fn bind(&mut self, pat: &Pat, ty: TypeExpr) {
        match pat {
            Pat::Ident(ident) => {
                if let Some((_, sub)) = &ident.subpat {
                    self.bind(sub, ty.clone());
                }
                self.locals.push((unraw(&ident.ident), ty));
            }
            // `&x` matched against a `&T`: `x` is the `T`.
            Pat::Reference(reference) => {
                let ty = match ty {
                    TypeExpr::Ref(inner) => *inner,
                    ty => ty,
                };
                self.bind(&reference.pat, ty);
            }
            Pat::Paren(paren) => self.bind(&paren.pat, ty),
            // `Some(x) if x.ready()`: the guard sees the bindings.
            Pat::Guard(guarded) => {
                self.bind(&guarded.pat, ty);
                self.visit_expr(&guarded.guard);
            }
            Pat::Type(typed) => self.bind_typed(&typed.pat, &typed.ty),
            Pat::Or(or) => {
                for case in &or.cases {
                    self.bind(case, ty.clone());
                }
            }
            Pat::TupleStruct(tuple) if tuple.qself.is_none() => {
                // The tuple struct or variant matched is named, as a path in an expression is.
                if let Some(named) = self.named(&tuple.path) {
                    self.refs.values.push(named);
                }
                let path = PathRef::from_path(&tuple.path);
                let unwraps = matches!(path.as_ident(), Some("Some" | "Ok"));
                // Positions are known up to a `..`; the elements after it are bound unknown.
                let mut known = true;
                for (index, elem) in tuple.elems.iter().enumerate() {
                    known &= !matches!(elem, Pat::Rest(_));
                    let field_ty = match (known, unwraps) {
                        (false, _) => TypeExpr::Unknown,
                        (true, true) if index == 0 => TypeExpr::Try(Box::new(ty.clone())),
                        (true, true) => TypeExpr::Unknown,
                        (true, false) => TypeExpr::PatField(path.clone(), index.to_string()),
                    };
                    self.bind(elem, field_ty);
                }
            }
            // `let (rest, value) = parse(input)?`: the elements are the tuple's fields, by position
            // up to a `..`.
            Pat::Tuple(tuple) => {
                let mut known = true;
                for (index, elem) in tuple.elems.iter().enumerate() {
                    known &= !matches!(elem, Pat::Rest(_));
                    let elem_ty = match known {
                        true => TypeExpr::Field(Box::new(ty.clone()), index.to_string()),
                        false => TypeExpr::Unknown,
                    };
                    self.bind(elem, elem_ty);
                }
            }
            Pat::Struct(strukt) if strukt.qself.is_none() => {
                // Named as a struct expression names it (`visit_expr_struct`).
                if let Some(named) = self.named(&strukt.path) {
                    self.refs.types.push(named);
                }
                let path = PathRef::from_path(&strukt.path);
                for field in &strukt.fields {
                    let name = match &field.member {
                        syn::Member::Named(name) => unraw(name),
                        syn::Member::Unnamed(index) => index.index.to_string(),
                    };
                    self.bind(&field.pat, TypeExpr::PatField(path.clone(), name));
                }
            }
            other => self.visit_pat(other),
        }
    }

    fn type_of(&self, expr: &Expr) -> TypeExpr {
        match expr {
            Expr::Path(path) if path.qself.is_none() => match path.path.get_ident() {
                Some(ident) => {
                    let name = unraw(ident);
                    self.locals
                        .iter()
                        .rev()
                        .find(|(local, _)| *local == name)
                        .map(|(_, ty)| ty.clone())
                        .unwrap_or_default()
                }
                None => TypeExpr::Unknown,
            },
            Expr::Struct(strukt) if strukt.qself.is_none() => {
                TypeExpr::Path(PathRef::from_path(&strukt.path), Vec::new())
            }
            Expr::Call(call) => match self.callee(&call.func, &call.args) {
                Some(callee) => TypeExpr::Returns(Box::new(callee)),
                None => TypeExpr::Unknown,
            },
            Expr::MethodCall(call) => TypeExpr::Returns(Box::new(Callee::Method {
                receiver: self.type_of(&call.receiver),
                name: unraw(&call.method),
            })),
            Expr::Reference(reference) => TypeExpr::Ref(Box::new(self.type_of(&reference.expr))),
            Expr::Paren(paren) => self.type_of(&paren.expr),
            Expr::Group(group) => self.type_of(&group.expr),
            Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Deref(_)) => {
                TypeExpr::Deref(Box::new(self.type_of(&unary.expr)))
            }
            Expr::Try(try_) => TypeExpr::Try(Box::new(self.type_of(&try_.expr))),
            Expr::Await(await_) => self.type_of(&await_.base),
            Expr::Cast(cast) => type_expr(&cast.ty, self.generics),
            Expr::Tuple(tuple) => TypeExpr::Tuple(tuple.elems.iter().map(|elem| self.type_of(elem)).collect()),
            // `items[i]`: an element of a sequence (a range index gives a slice, whose methods
            // are std's either way).
            Expr::Index(index) => TypeExpr::Item(Box::new(self.type_of(&index.expr))),
            Expr::Field(field) => match &field.member {
                syn::Member::Named(name) => TypeExpr::Field(Box::new(self.type_of(&field.base)), unraw(name)),
                syn::Member::Unnamed(index) => {
                    TypeExpr::Field(Box::new(self.type_of(&field.base)), index.index.to_string())
                }
            },
            _ => TypeExpr::Unknown,
        }
    }

    /// The callee of `func(args)` when `func` is a path.
    fn callee(&self, func: &Expr, args: &syn::punctuated::Punctuated<Expr, syn::Token![,]>) -> Option<Callee> {
        let Expr::Path(path) = func else { return None };
        let name = path.path.segments.last().map(|segment| unraw(&segment.ident))?;
        if let Some(qself) = &path.qself {
            // `<T as Trait>::f`: the trait is the path before the last segment; `<T>::f` has none.
            let trait_ = (qself.position > 0).then(|| PathRef {
                global: path.path.leading_colon.is_some(),
                segments: path.path.segments.iter().take(qself.position).map(|s| unraw(&s.ident)).collect(),
            });
            return Some(Callee::Assoc { ty: type_expr(&qself.ty, self.generics), trait_, name });
        }
        let path_ref = PathRef::from_path(&path.path);
        // A local (a closure, a function pointer) shadows any function of its name.
        if path_ref.as_ident().is_some_and(|name| self.is_local(name)) {
            return None;
        }
        // `T::f()` with `T` a generic parameter: `f` comes from one of `T`'s bounds.
        if let [first, _] = path_ref.segments.as_slice()
            && !path_ref.global
            && let Some(param) = self.generics.param(first)
        {
            return Some(Callee::Assoc { ty: param, trait_: None, name });
        }
        // An argument's type is kept only when it is small: locals hold what their initializers
        // say, so `let b = f(a, a)` would hold `a`'s twice, and a chain of such lets doubles at
        // each step.
        let mut args: Vec<TypeExpr> = args
            .iter()
            .map(|arg| {
                let ty = self.type_of(arg);
                if ty.fits(&mut { ARGUMENT_BUDGET }) { ty } else { TypeExpr::Unknown }
            })
            .collect();
        while args.last().is_some_and(|arg| *arg == TypeExpr::Unknown) {
            args.pop();
        }
        Some(Callee::Path(path_ref, args))
    }

    /// A closure whose arguments at `item_args` are items of a value of type `item`'s inner.
    fn closure_over_items(&mut self, closure: &syn::ExprClosure, item: &TypeExpr, item_args: &[usize]) {
        self.closure_with(closure, |index| if item_args.contains(&index) { item.clone() } else { TypeExpr::Unknown });
    }

    /// A closure given as input `input` of `callee`: its parameters are what the callee's bound
    /// on that input says.
    fn closure_given_to(&mut self, closure: &syn::ExprClosure, callee: &Callee, input: usize) {
        self.closure_with(closure, |param| {
            TypeExpr::ClosureParam(Box::new(ClosureParam {
                callee: callee.clone(),
                input: u32::try_from(input).unwrap_or(u32::MAX),
                param: u32::try_from(param).unwrap_or(u32::MAX),
            }))
        });
    }

    /// A closure whose parameter at each position has the type `param_ty` gives.
    fn closure_with(&mut self, closure: &syn::ExprClosure, param_ty: impl Fn(usize) -> TypeExpr) {
        let scope = self.locals.len();
        for (index, input) in closure.inputs.iter().enumerate() {
            self.bind(input, param_ty(index));
        }
        if let syn::ReturnType::Type(_, ty) = &closure.output {
            self.visit_type(ty);
        }
        self.visit_expr(&closure.body);
        self.locals.truncate(scope);
    }

    /// The locals in scope whose names are among `tokens`' identifiers, innermost first.
    fn locals_named_in(&self, tokens: &proc_macro2::TokenStream) -> Vec<(String, TypeExpr)> {
        fn idents(tokens: &proc_macro2::TokenStream, out: &mut std::collections::HashSet<String>) {
            for tree in tokens.clone() {
                match tree {
                    proc_macro2::TokenTree::Ident(ident) => {
                        out.insert(unraw(&ident));
                    }
                    proc_macro2::TokenTree::Group(group) => idents(&group.stream(), out),
                    _ => {}
                }
            }
        }
        if self.locals.is_empty() {
            return Vec::new();
        }
        let mut names = std::collections::HashSet::new();
        idents(tokens, &mut names);
        let mut found: Vec<(String, TypeExpr)> = Vec::new();
        for (name, ty) in self.locals.iter().rev() {
            if names.contains(name) && !found.iter().any(|(seen, _)| seen == name) {
                found.push((name.clone(), ty.clone()));
            }
        }
        found
    }

    /// The `cfg` predicates around what is visited, joined as `CfgContext::eval` reads them.
    fn cfg(&self) -> Option<String> {
        (!self.cfgs.is_empty()).then(|| self.cfgs.join(", "))
    }

    /// Visits `f` with the `#[cfg]` predicates of `attrs` around it.
    fn under_cfg(&mut self, attrs: &[syn::Attribute], f: impl FnOnce(&mut Self)) {
        self.under_predicate(super::render::cfg(attrs), f);
    }

    /// Visits `f` with `predicates` (as `#[cfg]` writes them), if any, around it.
    fn under_predicate(&mut self, predicates: Option<String>, f: impl FnOnce(&mut Self)) {
        match predicates {
            Some(predicates) => {
                self.cfgs.push(predicates);
                f(self);
                self.cfgs.pop();
            }
            None => f(self),
        }
    }

    fn is_local(&self, name: &str) -> bool {
        self.locals.iter().any(|(local, _)| local == name)
    }

    fn named(&self, path: &syn::Path) -> Option<Named> {
        let path_ref = PathRef::from_path(path);
        // A generic parameter names no item.
        if path_ref.as_ident().is_some_and(|name| self.generics.is_param(name)) {
            return None;
        }
        Some(Named {
            path: path_ref,
            line: line(path.segments.first().map_or_else(proc_macro2::Span::call_site, |s| s.ident.span())),
        })
    }

    /// std's `cfg_select!` in a body, whose arms are `predicate => { statements }` or `predicate
    /// => expression,`: every arm is read, and its calls carry the arm's condition (its predicate
    /// holds and no earlier one's does) as their `cfg` (parking_lot_core picks
    /// `libc::pthread_cond_timedwait` or Apple's variant so). `false` when it does not read so.
    fn cfg_select_arms(&mut self, mac: &syn::Macro) -> bool {
        use syn::parse::Parser;
        let arms = |input: syn::parse::ParseStream<'_>| {
            let mut arms = Vec::new();
            let mut earlier = Vec::new();
            while !input.is_empty() {
                let predicate = super::cfg_select_predicate(input, &mut earlier)?;
                let arm: Expr = if input.peek(syn::token::Brace) {
                    Expr::Block(syn::ExprBlock { attrs: Vec::new(), label: None, block: input.parse()? })
                } else {
                    input.parse()?
                };
                arms.push((predicate, arm));
                input.parse::<Option<syn::Token![,]>>()?;
            }
            Ok(arms)
        };
        let Ok(arms) = arms.parse2(mac.tokens.clone()) else { return false };
        for (predicate, arm) in &arms {
            self.under_predicate(Some(predicate.clone()), |this| this.visit_expr(arm));
        }
        true
    }

    /// The arguments of a macro call, when they parse as expressions (`println!("{}", f(x))`,
    /// `vec![a(); n]`): the calls in them are the caller's.
    fn macro_arguments(&mut self, mac: &syn::Macro) {
        use syn::parse::Parser;
        use syn::punctuated::Punctuated;
        let tokens = mac.tokens.clone();
        if let Ok(args) = Punctuated::<Expr, syn::Token![,]>::parse_terminated.parse2(tokens.clone()) {
            for arg in &args {
                self.visit_expr(arg);
            }
            return;
        }
        let repeat = |input: syn::parse::ParseStream<'_>| {
            let value: Expr = input.parse()?;
            input.parse::<syn::Token![;]>()?;
            let count: Expr = input.parse()?;
            Ok((value, count))
        };
        if let Ok((value, count)) = repeat.parse2(tokens) {
            self.visit_expr(&value);
            self.visit_expr(&count);
        }
    }
}

/// Which arguments of the closure given to the method `name` are the receiver's items: the
/// iterator adapters and consumers of std, `Option`'s and `Result`'s combinators, and the
/// slice and `Vec` methods that take one.
fn closure_item_args(name: &str) -> &'static [usize] {
    match name {
        "map"
        | "filter"
        | "for_each"
        | "any"
        | "all"
        | "find"
        | "filter_map"
        | "flat_map"
        | "position"
        | "rposition"
        | "take_while"
        | "skip_while"
        | "map_while"
        | "inspect"
        | "max_by_key"
        | "min_by_key"
        | "partition"
        | "find_map"
        | "try_for_each"
        | "and_then"
        | "is_some_and"
        | "is_none_or"
        | "is_ok_and"
        | "map_or"
        | "map_or_else"
        | "retain"
        | "retain_mut"
        | "sort_by_key"
        | "sort_unstable_by_key"
        | "sort_by_cached_key"
        | "binary_search_by"
        | "binary_search_by_key"
        | "group_by"
        | "chunk_by"
        | "dedup_by_key"
        | "take_if" => &[0],
        "fold" | "try_fold" | "rfold" | "scan" => &[1],
        "max_by" | "min_by" | "sort_by" | "sort_unstable_by" | "dedup_by" | "reduce" => &[0, 1],
        _ => &[],
    }
}

/// The type of `self`.
fn self_type() -> TypeExpr {
    TypeExpr::Path(PathRef::single("Self"), Vec::new())
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        // Nested items collect their own references; a `use` in a body applies to the body.
        if let syn::Item::Use(item_use) = item {
            use_item(item_use, "private", super::render::cfg(&item_use.attrs).as_deref(), &mut self.refs.uses);
        }
    }

    fn visit_block(&mut self, block: &'ast syn::Block) {
        let scope = self.locals.len();
        visit::visit_block(self, block);
        self.locals.truncate(scope);
    }

    fn visit_stmt(&mut self, stmt: &'ast syn::Stmt) {
        match stmt {
            // A `let`'s `cfg` is applied in `visit_local`.
            syn::Stmt::Macro(mac) => self.under_cfg(&mac.attrs, |this| visit::visit_stmt(this, stmt)),
            _ => visit::visit_stmt(self, stmt),
        }
    }

    fn visit_expr(&mut self, expr: &'ast Expr) {
        match expr_attrs(expr) {
            Some(attrs) if !attrs.is_empty() => self.under_cfg(attrs, |this| visit::visit_expr(this, expr)),
            _ => visit::visit_expr(self, expr),
        }
    }

    fn visit_arm(&mut self, arm: &'ast syn::Arm) {
        self.under_cfg(&arm.attrs, |this| visit::visit_arm(this, arm));
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        // The initializer is evaluated before the new binding shadows anything; the bindings
        // outlive the statement, so its `cfg` covers the initializer only.
        self.under_cfg(&local.attrs, |this| {
            if let Some(init) = &local.init {
                this.visit_expr(&init.expr);
                if let Some((_, diverge)) = &init.diverge {
                    this.visit_expr(diverge);
                }
            }
        });
        let ty = local.init.as_ref().map(|init| self.type_of(&init.expr)).unwrap_or_default();
        self.bind(&local.pat, ty);
    }

    fn visit_expr_match(&mut self, expr: &'ast syn::ExprMatch) {
        self.visit_expr(&expr.expr);
        let ty = self.type_of(&expr.expr);
        for arm in &expr.arms {
            // `#[cfg(feature = "raw_value")] Compound::RawValue { .. } => ..`
            self.under_cfg(&arm.attrs, |this| {
                let scope = this.locals.len();
                this.bind(&arm.pat, ty.clone());
                this.visit_expr(&arm.body);
                this.locals.truncate(scope);
            });
        }
    }

    fn visit_expr_let(&mut self, expr: &'ast syn::ExprLet) {
        // `if let` / `while let`: the bindings last until the end of the condition's `if` or
        // `while` (`visit_expr_if`, `visit_expr_while`).
        self.visit_expr(&expr.expr);
        let ty = self.type_of(&expr.expr);
        self.bind(&expr.pat, ty);
    }

    fn visit_expr_if(&mut self, expr: &'ast syn::ExprIf) {
        let scope = self.locals.len();
        self.visit_expr(&expr.cond);
        // `if cfg!(target_endian = "big") { .. } else { .. }`, `if false { .. }`: the compiler
        // keeps only the branch the constant condition takes, as if each were under a `#[cfg]`.
        let (then_cfg, else_cfg) = match constant_condition(&expr.cond) {
            Some(predicate) => (Some(predicate.clone()), Some(format!("not({predicate})"))),
            None => (None, None),
        };
        self.under_predicate(then_cfg, |this| this.visit_block(&expr.then_branch));
        self.locals.truncate(scope);
        if let Some((_, otherwise)) = &expr.else_branch {
            self.under_predicate(else_cfg, |this| this.visit_expr(otherwise));
        }
    }

    fn visit_expr_while(&mut self, expr: &'ast syn::ExprWhile) {
        let scope = self.locals.len();
        self.visit_expr(&expr.cond);
        self.visit_block(&expr.body);
        self.locals.truncate(scope);
    }

    fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
        // A binding whose type is unknown still shadows an outer one of the same name.
        self.locals.push((unraw(&pat.ident), TypeExpr::Unknown));
        visit::visit_pat_ident(self, pat);
    }

    fn visit_pat_type(&mut self, pat: &'ast syn::PatType) {
        self.bind_typed(&pat.pat, &pat.ty);
    }

    fn visit_expr_closure(&mut self, closure: &'ast syn::ExprClosure) {
        let scope = self.locals.len();
        visit::visit_expr_closure(self, closure);
        self.locals.truncate(scope);
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        match (&*call.func, self.callee(&call.func, &call.args)) {
            (Expr::Path(path), Some(callee)) => {
                if let Some(qself) = &path.qself {
                    self.visit_type(&qself.ty);
                }
                // Turbofish and other generic arguments name types too.
                for segment in &path.path.segments {
                    self.visit_path_arguments(&segment.arguments);
                }
                let given = call.args.iter().any(|arg| matches!(arg, Expr::Closure(_))).then(|| callee.clone());
                self.refs.calls.push(Call {
                    callee,
                    line: line(func_span(path)),
                    in_macro: self.in_macros > 0,
                    cfg: self.cfg(),
                });
                for (index, arg) in call.args.iter().enumerate() {
                    match (arg, &given) {
                        (Expr::Closure(closure), Some(callee)) => self.closure_given_to(closure, callee, index),
                        _ => self.visit_expr(arg),
                    }
                }
            }
            _ => {
                self.visit_expr(&call.func);
                for arg in &call.args {
                    self.visit_expr(arg);
                }
            }
        }
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        let receiver = self.type_of(&call.receiver);
        self.visit_expr(&call.receiver);
        if let Some(turbofish) = &call.turbofish {
            self.visit_angle_bracketed_generic_arguments(turbofish);
        }
        let name = unraw(&call.method);
        // The closure an iterator adapter (or `Option::map`, `Vec::retain`) is given takes the
        // receiver's items: which of its arguments, by the adapter's name.
        let item_args = closure_item_args(&name);
        let item = (!item_args.is_empty()).then(|| TypeExpr::Item(Box::new(receiver.clone())));
        let callee = Callee::Method { receiver, name };
        // Any other closure takes what the method's bound on it says.
        let given =
            (item.is_none() && call.args.iter().any(|arg| matches!(arg, Expr::Closure(_)))).then(|| callee.clone());
        self.refs.calls.push(Call {
            callee,
            line: line(call.method.span()),
            in_macro: self.in_macros > 0,
            cfg: self.cfg(),
        });
        for (index, arg) in call.args.iter().enumerate() {
            match (arg, &item, &given) {
                (Expr::Closure(closure), Some(item), _) => self.closure_over_items(closure, item, item_args),
                // The receiver is the method's input 0.
                (Expr::Closure(closure), None, Some(callee)) => self.closure_given_to(closure, callee, index + 1),
                _ => self.visit_expr(arg),
            }
        }
    }

    fn visit_expr_for_loop(&mut self, expr: &'ast syn::ExprForLoop) {
        self.visit_expr(&expr.expr);
        let item = TypeExpr::Item(Box::new(self.type_of(&expr.expr)));
        let scope = self.locals.len();
        self.bind(&expr.pat, item);
        self.visit_block(&expr.body);
        self.locals.truncate(scope);
    }

    fn visit_expr_path(&mut self, path: &'ast syn::ExprPath) {
        if let Some(qself) = &path.qself {
            self.visit_type(&qself.ty);
        } else if path.path.get_ident().is_none_or(|ident| !self.is_local(&unraw(ident)))
            && let Some(named) = self.named(&path.path)
        {
            self.refs.values.push(named);
        }
        for segment in &path.path.segments {
            self.visit_path_arguments(&segment.arguments);
        }
    }

    fn visit_expr_struct(&mut self, strukt: &'ast syn::ExprStruct) {
        if strukt.qself.is_none()
            && let Some(named) = self.named(&strukt.path)
        {
            self.refs.types.push(named);
        }
        for field in &strukt.fields {
            self.visit_expr(&field.expr);
        }
        if let Some(rest) = &strukt.rest {
            self.visit_expr(rest);
        }
    }

    fn visit_type_path(&mut self, ty: &'ast syn::TypePath) {
        if let Some(qself) = &ty.qself {
            self.visit_type(&qself.ty);
        } else if let Some(named) = self.named(&ty.path) {
            self.refs.types.push(named);
        }
        for segment in &ty.path.segments {
            self.visit_path_arguments(&segment.arguments);
        }
    }

    fn visit_trait_bound(&mut self, bound: &'ast syn::TraitBound) {
        if let Some(named) = self.named(&bound.path) {
            self.refs.types.push(named);
        }
        for segment in &bound.path.segments {
            self.visit_path_arguments(&segment.arguments);
        }
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        // A macro in a type or a pattern (`Token![;]`): its arguments only.
        self.macro_call(mac, false);
    }

    fn visit_expr_macro(&mut self, expr: &'ast syn::ExprMacro) {
        self.macro_call(&expr.mac, true);
    }

    fn visit_stmt_macro(&mut self, stmt: &'ast syn::StmtMacro) {
        self.macro_call(&stmt.mac, true);
    }
}

impl Collector<'_> {
    /// A macro call: its name, and the calls its arguments make; one in expression or statement
    /// position (`expandable`) of a macro other than std's is also kept for expansion once the
    /// crate's macros are known (`BodyMacro`), whose calls then replace its arguments' ones.
    fn macro_call(&mut self, mac: &syn::Macro, expandable: bool) {
        if let Some(named) = self.named(&mac.path) {
            self.refs.macros.push(named);
        }
        if mac.path.segments.last().is_some_and(|segment| segment.ident == "cfg_select") && self.cfg_select_arms(mac) {
            return;
        }
        // std's macros evaluate their arguments as written; another macro may paste them into
        // other code.
        let std_macro = mac.path.segments.last().is_some_and(|segment| is_std_macro(&unraw(&segment.ident)));
        if std_macro {
            self.macro_arguments(mac);
            return;
        }
        let at = self.refs.body_macros.len();
        let first_call = self.refs.calls.len();
        if expandable {
            let body_macro = BodyMacro {
                call: MacroCall::new(mac, None),
                locals: self.locals_named_in(&mac.tokens),
                generics: self.generics.clone(),
                calls: (0, 0),
                nested: 0,
                in_macro: self.in_macros > 0,
                cfg: self.cfg(),
            };
            self.refs.body_macros.push(body_macro);
        }
        self.in_macros += 1;
        self.macro_arguments(mac);
        self.in_macros -= 1;
        if expandable {
            let (calls, nested) = (self.refs.calls.len(), self.refs.body_macros.len() - at - 1);
            let body_macro = &mut self.refs.body_macros[at];
            body_macro.calls =
                (u32::try_from(first_call).unwrap_or(u32::MAX), u32::try_from(calls).unwrap_or(u32::MAX));
            body_macro.nested = u32::try_from(nested).unwrap_or(u32::MAX);
        }
    }
}

/// The `cfg` predicate a constant `if` condition stands for: `cfg!(pred)` is `pred`, `false` is
/// `any()` (never) and `true` is `all()` (always).
fn constant_condition(cond: &Expr) -> Option<String> {
    match cond {
        Expr::Lit(syn::ExprLit { lit: syn::Lit::Bool(value), .. }) => {
            Some(if value.value { "all()" } else { "any()" }.to_owned())
        }
        Expr::Macro(mac) if mac.mac.path.is_ident("cfg") => Some(super::render::tokens(&mac.mac.tokens)),
        Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Not(_)) => {
            constant_condition(&unary.expr).map(|predicate| format!("not({predicate})"))
        }
        Expr::Paren(paren) => constant_condition(&paren.expr),
        Expr::Group(group) => constant_condition(&group.expr),
        _ => None,
    }
}

/// The attributes of an expression, for the kinds that statements and arms start with.
fn expr_attrs(expr: &Expr) -> Option<&[syn::Attribute]> {
    let attrs = match expr {
        Expr::Assign(e) => &e.attrs,
        Expr::Block(e) => &e.attrs,
        Expr::Call(e) => &e.attrs,
        Expr::ForLoop(e) => &e.attrs,
        Expr::If(e) => &e.attrs,
        Expr::Loop(e) => &e.attrs,
        Expr::Macro(e) => &e.attrs,
        Expr::Match(e) => &e.attrs,
        Expr::MethodCall(e) => &e.attrs,
        Expr::Return(e) => &e.attrs,
        Expr::Try(e) => &e.attrs,
        Expr::Unsafe(e) => &e.attrs,
        Expr::While(e) => &e.attrs,
        Expr::Paren(e) => &e.attrs,
        Expr::Struct(e) => &e.attrs,
        Expr::Tuple(e) => &e.attrs,
        _ => return None,
    };
    Some(attrs)
}

/// The macros of std and core whose arguments are expressions evaluated as written.
pub fn is_std_macro(name: &str) -> bool {
    matches!(
        name,
        "format"
            | "format_args"
            | "print"
            | "println"
            | "eprint"
            | "eprintln"
            | "write"
            | "writeln"
            | "panic"
            | "assert"
            | "assert_eq"
            | "assert_ne"
            | "debug_assert"
            | "debug_assert_eq"
            | "debug_assert_ne"
            | "vec"
            | "dbg"
            | "todo"
            | "unimplemented"
            | "unreachable"
            | "matches"
    )
}

fn func_span(path: &syn::ExprPath) -> proc_macro2::Span {
    path.path.segments.first().map_or_else(proc_macro2::Span::call_site, |segment| segment.ident.span())
}

/// Flattens a `use` tree into the names it binds.
fn uses(tree: &syn::UseTree, prefix: &PathRef, visibility: &str, cfg: Option<&str>, out: &mut Vec<UseFacts>) {
    let with = |segment: &str| {
        let mut path = prefix.clone();
        path.segments.push(segment.to_owned());
        path
    };
    match tree {
        syn::UseTree::Path(path) => uses(&path.tree, &with(&unraw(&path.ident)), visibility, cfg, out),
        syn::UseTree::Name(name) => {
            let ident = unraw(&name.ident);
            // `use a::b::{self}` binds `b`.
            let (path, bound) = if ident == "self" {
                (prefix.clone(), prefix.segments.last().cloned().unwrap_or_default())
            } else {
                (with(&ident), ident)
            };
            out.push(UseFacts {
                path,
                name: Some(bound),
                renamed: false,
                visibility: visibility.to_owned(),
                line: line(name.ident.span()),
                macro_use: false,
                cfg: cfg.map(str::to_owned),
            });
        }
        syn::UseTree::Rename(rename) => {
            let ident = unraw(&rename.ident);
            let path = if ident == "self" { prefix.clone() } else { with(&ident) };
            out.push(UseFacts {
                path,
                name: Some(unraw(&rename.rename)),
                renamed: true,
                visibility: visibility.to_owned(),
                line: line(rename.ident.span()),
                macro_use: false,
                cfg: cfg.map(str::to_owned),
            });
        }
        syn::UseTree::Glob(glob) => out.push(UseFacts {
            path: prefix.clone(),
            name: None,
            renamed: false,
            visibility: visibility.to_owned(),
            line: line(glob.star_token.span),
            macro_use: false,
            cfg: cfg.map(str::to_owned),
        }),
        syn::UseTree::Group(group) => {
            for tree in &group.items {
                uses(tree, prefix, visibility, cfg, out);
            }
        }
    }
}

/// A `use` item at the top of a module: its leading `::` is kept on the paths.
pub fn use_item(item: &syn::ItemUse, visibility: &str, cfg: Option<&str>, out: &mut Vec<UseFacts>) {
    let prefix = PathRef { global: item.leading_colon.is_some(), segments: Vec::new() };
    uses(&item.tree, &prefix, visibility, cfg, out);
}

/// `derive`, or its path in the standard prelude (`::core::prelude::v1::derive`), as macros that
/// must not depend on their caller's names write it (libc's `s!`).
fn is_derive(path: &syn::Path) -> bool {
    let mut segments = path.segments.iter().map(|segment| segment.ident.to_string());
    match (segments.next(), segments.next(), segments.next(), segments.next(), segments.next()) {
        (Some(derive), None, ..) => derive == "derive" && path.leading_colon.is_none(),
        (Some(root), Some(prelude), Some(_edition), Some(derive), None) => {
            matches!(root.as_str(), "core" | "std") && prelude == "prelude" && derive == "derive"
        }
        _ => false,
    }
}
