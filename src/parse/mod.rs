//! The syntax stage: one Rust source file in, that file's facts out.
//!
//! `parse_file` never panics on bad input and never fails for a reason other than the file's
//! own syntax: a syntax error is returned as data (`SyntaxError`) for the caller to report. The
//! facts are plain data: names, kinds, lines and the text of what was written. This module knows
//! nothing about crates, ids or the store, and nothing about other files: a `mod x;` is recorded
//! with its `#[path]`, and `workspace::modules` decides which file it means.

mod expand;
pub mod mbe;
mod nesting;
mod refs;
mod render;
mod tables;

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Attribute, Field, Fields, ForeignItem, ImplItem, Item, Signature, TraitItem, Variant, Visibility};

use crate::model::VertexKind;

pub use expand::{
    Definition, Definitions, Expanded, MacroCall, expand, expand_in_body, expand_members, expand_statements,
    include_path, made_text, std_definition, with_thread_definitions,
};

pub use refs::{
    BodyMacro, BoundsExpr, Call, Callee, ClosureParam, Named, PathRef, Refs, TypeExpr, UseFacts, is_std_macro,
};
use refs::{Collector, Generics};

/// Everything the graph needs from one file.
#[derive(Debug, Default, Clone)]
pub struct FileFacts {
    /// The items at the top level of the file, in source order.
    pub items: Vec<ItemFacts>,
    /// The file's inner doc comment (`//!`), for the module it is the body of.
    pub doc: Option<String>,
    /// The file's inner `#![cfg(...)]` predicates, which apply to the module it is the body of.
    pub cfg: Option<String>,
    /// The hash of the whole file's syntax tree (see `ItemFacts::hash`).
    pub hash: u64,
    /// What the module body names outside its items: its `use` declarations and macro calls.
    pub refs: Refs,
    /// Item-position macro calls, to expand once the crate's macros are known (`expand`).
    pub macro_calls: Vec<MacroCall>,
    /// Lines in the file (the last line counts even without a trailing newline).
    pub line_count: u32,
    /// Top-level items that did not parse, in source order: the file did not parse whole, and the
    /// rest of it was parsed without them (empty when the file parsed whole).
    pub lost: Vec<LostItems>,
}

/// One item, with what it contains (fields, variants, associated items, the items of an inline
/// module, items declared inside a function body).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ItemFacts {
    pub kind: VertexKind,
    pub name: String,
    /// 1-based line of the item's first token after its outer attributes.
    pub line: u32,
    /// 1-based line of the item's last token.
    pub end_line: u32,
    pub visibility: String,
    pub doc: Option<String>,
    /// The item's own `#[cfg(...)]` predicates as written, if any.
    pub cfg: Option<String>,
    /// A hash of the item's syntax tree: it changes with the item's tokens, not with formatting
    /// or comments (doc comments are attributes, and count).
    pub hash: u64,
    pub detail: Detail,
    /// What the item names (for a module: its `use` declarations and macro calls).
    pub refs: Refs,
    pub children: Vec<ItemFacts>,
    /// The macro whose expansion made the item, if one did.
    pub expanded_from: Option<String>,
    /// Macro calls among an impl's or a trait's members, to expand once the crate's macros are
    /// known (see `expand_members`).
    pub member_calls: Vec<MacroCall>,
    /// The item, or the `extern` block it is declared in, carries an attribute that is not one of
    /// rustc's own (`#[wasm_bindgen]`, `#[tokio::main]`): an attribute macro may rewrite it, so
    /// what rustc checks after expansion (E0428's duplicate names) is not checked on it.
    pub attribute_macro: bool,
}

/// What only some kinds of items carry.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Detail {
    None,
    Function {
        /// The signature as written, without visibility: `async fn get<T>(&self, key: T) -> u8`.
        signature: String,
        is_async: bool,
        is_unsafe: bool,
        is_const: bool,
        /// What is known of the return type, for calls chained on the result.
        returns: TypeExpr,
        /// The parameters' types (a receiver's unknown), where the return type or a parameter has
        /// a generic parameter: arguments may tell what it stands for (`fn sign<T>(input: T) ->
        /// IResult<T, bool>`), or it bounds a closure given there (`P: Fn(Self::Item) -> bool`);
        /// empty otherwise.
        inputs: Vec<TypeExpr>,
        /// Takes `self`: a method, whose first argument, called by path, is `Self`.
        receiver: bool,
    },
    Impl {
        /// The trait as written (`fmt::Display`, `!Send`), for trait impls.
        trait_: Option<String>,
        /// The self type as written (`Vec<T>`).
        self_ty: String,
        /// The trait's path, for trait impls (also negative ones).
        trait_path: Option<PathRef>,
        self_type: TypeExpr,
    },
    /// A struct, union or variant field.
    Field {
        ty: TypeExpr,
    },
    /// A type alias, or an associated type with a value.
    TypeAlias {
        target: TypeExpr,
    },
    Module {
        /// `mod x { ... }` rather than `mod x;`.
        inline: bool,
        /// The value of a `#[path = "..."]` attribute.
        path_attr: Option<String>,
        /// `#[cfg_attr(predicate, path = "...")]` attributes: (predicate, path), in source order.
        cfg_path_attrs: Vec<(String, String)>,
        /// The inline module's item-position macro calls (see `FileFacts::macro_calls`).
        macro_calls: Vec<MacroCall>,
    },
    /// A `macro_rules!` definition: its arms, as positioned text (see `expand`).
    MacroRules {
        definition: String,
    },
}

/// A file that cannot be indexed: syn rejects it, or it nests too deeply to parse safely. Lines
/// and columns are 1-based, as editors and rustc show them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SyntaxError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl SyntaxError {
    fn at(span: Span, message: String) -> SyntaxError {
        let start = span.start();
        SyntaxError { line: file_line(start.line), column: start.column as u32 + 1, message }
    }
}

/// Top-level items of a file that could not be parsed, while the rest of the file was: the lines
/// they span (1-based, inclusive) and why (the position of the first error inside them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostItems {
    pub line: u32,
    pub end_line: u32,
    pub error: SyntaxError,
}

/// Code that nests brackets, parentheses, braces and generic arguments deeper than this is parsed
/// on a stack grown for it (see `MAX_GROWN_NESTING`), never on the worker's own. syn recurses once
/// per level (about 16 KiB of stack per level in a debug build, 32 KiB for generics), and a stack
/// overflow aborts the whole process: it cannot be caught. With the workers' 64 MiB stack this
/// leaves a margin of four or more in any build; real code stays far below it. Macro expansions
/// (`expand`) are held to this limit.
pub const MAX_NESTING: usize = 256;

/// Deeper than `MAX_NESTING`, a file is parsed on a stack of `STACK_PER_LEVEL` bytes per level,
/// allocated for it (`stacker`: reserved address space, committed only as far as it is used) and
/// freed after. Deeper than this, the top-level item that nests so deep is not indexed (the rest
/// of the file is): 16,384 levels reserve 1 GiB.
pub const MAX_GROWN_NESTING: usize = 16_384;

/// Stack reserved per level of nesting on a grown stack: twice the deepest cost measured (a debug
/// build, generic arguments).
const STACK_PER_LEVEL: usize = 64 * 1024;

/// Whether a file's nesting is measured before it is parsed (`nesting`, and a grown stack for a
/// deep one). For `benches/stack.rs` alone, which measures what the check costs by turning it
/// off: without it every file is parsed whole on the caller's stack, and a deep one overflows
/// that stack and aborts the process.
#[doc(hidden)]
pub static NESTING_CHECK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Parses one file's text into its facts.
///
/// A file whose tokens do not lex (an unclosed bracket or string) is an error. Otherwise the file
/// is parsed whole, and if that fails, top-level item by top-level item (`recover`): what parses
/// is kept, and what does not is listed in `FileFacts::lost`.
pub fn parse_file(text: &str) -> Result<FileFacts, SyntaxError> {
    parse_file_then(text, |facts| facts)
}

/// `parse_file`, then `then` on its result, both on a stack deep enough for the file: what
/// `then` does with the facts (assemble them, drop them) recurses as deep as the file nests.
pub fn parse_file_then<R>(text: &str, then: impl FnOnce(Result<FileFacts, SyntaxError>) -> R) -> R {
    parse_file_then_deep(text, |facts, _| then(facts))
}

/// `parse_file_then`, also telling `then` whether the file nests deeper than `MAX_NESTING`, so
/// that its facts were made on a grown stack: a copy of them must be made, assembled and
/// dropped on one too (a caller that keeps facts keeps only shallow ones).
pub fn parse_file_then_deep<R>(text: &str, then: impl FnOnce(Result<FileFacts, SyntaxError>, bool) -> R) -> R {
    let text = strip_shebang(text);
    let blanked = tables::blank(text);
    let text = blanked.as_deref().unwrap_or(text);
    let tokens = match lex(text) {
        Ok(tokens) => tokens,
        Err(err) => return then(Err(err), false),
    };
    if !NESTING_CHECK.load(std::sync::atomic::Ordering::Relaxed) {
        return then(parse_tokens(text, tokens, Ok(0)), false);
    }
    // The text's nesting when it is shallow (almost always), else the tokens' with its limit.
    let depth = match nesting::of_text(text) {
        Some(levels) if levels <= MAX_NESTING => Ok(levels),
        _ => nesting::of_tokens(&tokens, MAX_GROWN_NESTING),
    };
    let deep = !matches!(depth, Ok(levels) if levels <= MAX_NESTING);
    on_stack_for(depth, move || then(parse_tokens(text, tokens, depth), deep))
}

/// Runs `f` on the current stack if `depth` is within `MAX_NESTING`, else on a stack with room
/// for it: the current one if it has that much left (a grown one already), or a new one.
fn on_stack_for<R>(depth: Result<usize, Span>, f: impl FnOnce() -> R) -> R {
    let levels = match depth {
        Ok(levels) => levels,
        // The file is parsed item by item (`recover`), and an item may nest this deep.
        Err(_) => MAX_GROWN_NESTING,
    };
    if levels <= MAX_NESTING {
        return f();
    }
    let size = levels.saturating_mul(STACK_PER_LEVEL) + (4 << 20);
    stacker::maybe_grow(size, size, f)
}

fn parse_tokens(text: &str, tokens: TokenStream, depth: Result<usize, Span>) -> Result<FileFacts, SyntaxError> {
    let line_count = text.lines().count() as u32;
    let whole = match depth {
        Ok(_) => parse_retrying(tokens.clone()),
        Err(span) => Err(too_deep_error(span)),
    };
    let file = match whole {
        Ok(file) => file,
        Err(_) => return Ok(recover(tokens, line_count)),
    };
    // A file's attributes are all inner ones (`//!`, `#![cfg]`): they belong to its module.
    let doc = render::doc(&file.attrs);
    let cfg = render::cfg(&file.attrs);
    let (Body { items, refs, calls }, items_hash) = items_hashed(&file.items);
    let hash = hash_of(&("file", &file.shebang, &file.attrs, items_hash));
    Ok(FileFacts { items, doc, cfg, hash, refs, macro_calls: calls, line_count, lost: Vec::new() })
}

/// Parses a file's tokens. Edition 2015 allows bare trait objects: syn parses `Box<Trait + Send>`,
/// but not the `Fn(..)` sugar without `dyn`; and trait methods' parameters without a pattern
/// (`fn hash_word(&mut self, Self);`, fxhash's), which syn does not parse either. So a failure is
/// retried once with `dyn` added there and `_: ` before each such parameter. If that fails too,
/// the error further into the file is the real one (the retry got past the first).
fn parse_retrying(tokens: TokenStream) -> Result<syn::File, SyntaxError> {
    syn::parse2::<syn::File>(tokens.clone()).map_err(syntax_error).or_else(|first| {
        syn::parse2(named_anonymous_parameters(dyn_before_bare_fn_traits(tokens)))
            .map_err(syntax_error)
            .map_err(|retry| if (retry.line, retry.column) > (first.line, first.column) { retry } else { first })
    })
}

fn syntax_error(err: syn::Error) -> SyntaxError {
    SyntaxError::at(err.span(), err.to_string())
}

const TOO_DEEP: &str = "nesting deeper than";

fn too_deep_error(span: Span) -> SyntaxError {
    SyntaxError::at(span, format!("{TOO_DEEP} {MAX_GROWN_NESTING} levels is not indexed"))
}

/// How many top-level segments a run of failing ones may be joined across before the first of
/// them is given up (`recover`): an item that the split cut in two (`const X: u8 = if a { 1 }`
/// `else { 2 };`) parses once joined again.
const MAX_JOINED_SEGMENTS: usize = 8;

/// The facts of a file that did not parse whole: its top level is cut into segments that each end
/// an item (`segments`), and runs of them are parsed alone. A segment that parses neither alone
/// nor joined with the next few is lost, with its lines and its error; the rest is kept, with the
/// lines of the file (tokens keep their spans).
fn recover(tokens: TokenStream, line_count: u32) -> FileFacts {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let segments = segments(&trees);
    let mut facts = FileFacts { line_count, ..FileFacts::default() };
    let mut hasher_input: Vec<u64> = Vec::new();
    let mut start = 0;
    while start < segments.len() {
        let mut first_error = None;
        let mut parsed = None;
        for end in start + 1..=(start + MAX_JOINED_SEGMENTS).min(segments.len()) {
            let chunk: TokenStream = trees[segments[start].start..segments[end - 1].end].iter().cloned().collect();
            let depth = nesting::of_tokens(&chunk, MAX_GROWN_NESTING);
            let result = match depth {
                Ok(_) => on_stack_for(depth, || {
                    parse_retrying(chunk).map(|file| {
                        let body = items(&file.items);
                        let attrs = (start == 0).then(|| (render::doc(&file.attrs), render::cfg(&file.attrs)));
                        (body, attrs, hash_of(&file))
                    })
                }),
                Err(span) => Err(too_deep_error(span)),
            };
            match result {
                Ok(ok) => {
                    parsed = Some((end, ok));
                    break;
                }
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        match parsed {
            Some((end, (mut body, attrs, hash))) => {
                if let Some((doc, cfg)) = attrs {
                    facts.doc = doc;
                    facts.cfg = cfg;
                }
                facts.items.append(&mut body.items);
                facts.refs.append(body.refs);
                facts.macro_calls.append(&mut body.calls);
                hasher_input.push(hash);
                start = end;
            }
            None => {
                let segment = &segments[start];
                let error = first_error.unwrap_or_else(|| SyntaxError { line: 0, column: 0, message: String::new() });
                facts.lost.push(LostItems { line: segment.line, end_line: segment.end_line, error });
                start += 1;
            }
        }
    }
    facts.hash = hash_of(&hasher_input);
    facts
}

/// A run of top-level token trees that ends where an item can end: `trees[start..end]`, on lines
/// `line..=end_line`.
struct Segment {
    start: usize,
    end: usize,
    line: u32,
    end_line: u32,
}

/// Cuts a file's top-level token trees after each `;` (at the top level it only ever ends an
/// item) and after each `{ ... }` that is not followed by what continues an expression (an
/// operator, `.`, `?`, `;`, a group, `else`, `as`): each segment holds whole items, or a part of
/// one that its neighbours complete. The file's own `#![...]` attributes stay with the first.
fn segments(trees: &[TokenTree]) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut start = 0;
    for (index, tree) in trees.iter().enumerate() {
        let ends = match tree {
            TokenTree::Punct(punct) => punct.as_char() == ';',
            TokenTree::Group(group) if group.delimiter() == proc_macro2::Delimiter::Brace => match trees.get(index + 1)
            {
                None => true,
                // What can go on an expression (in a `const` or `static` value) after a block.
                Some(TokenTree::Punct(punct)) => !".?+-*/%&|^<>=!;,:".contains(punct.as_char()),
                Some(TokenTree::Ident(word)) => word != "else" && word != "as",
                Some(_) => false,
            },
            _ => false,
        };
        if ends || index + 1 == trees.len() {
            segments.push(Segment {
                start,
                end: index + 1,
                line: trees[start].span().start().line as u32,
                end_line: tree.span().end().line as u32,
            });
            start = index + 1;
        }
    }
    segments
}

/// proc-macro2's lexer is iterative (it keeps open groups on a heap stack), and its token
/// streams drop without recursion, so lexing is safe at any depth.
fn lex(text: &str) -> Result<TokenStream, SyntaxError> {
    text.parse().map_err(|err: proc_macro2::LexError| SyntaxError::at(err.span(), err.to_string()))
}

/// Checks the depth against `MAX_NESTING`, then parses on the current stack (macro expansions:
/// `expand`). The check walks proc-macro2's stream, before syn sees it: syn builds its own token
/// buffer recursively too. `at_most` is how deep the tokens nest at most, when whoever made them
/// knows (a transcription counts as it goes: `mbe::MacroRules::expand`); under the limit, the
/// walk, which copies every token, is not needed.
fn parse_syntax_with<T: syn::parse::Parse>(tokens: TokenStream, at_most: Option<usize>) -> Result<T, SyntaxError> {
    if at_most.is_none_or(|depth| depth >= MAX_NESTING)
        && let Err(span) = nesting::of_tokens(&tokens, MAX_NESTING)
    {
        return Err(SyntaxError::at(span, format!("{TOO_DEEP} {MAX_NESTING} levels is not indexed")));
    }
    syn::parse2(tokens).map_err(syntax_error)
}

/// The most rounds of expansion a crate's `#![recursion_limit]` may ask for: rustc takes any
/// number, but a macro that calls itself without end would then keep a build busy for as long.
pub const MAX_RECURSION_LIMIT: u32 = 2048;

/// A crate root's `#![recursion_limit = "N"]` (at most `MAX_RECURSION_LIMIT`, and not zero): how
/// deep rustc expands the crate's macro calls. It may stand under `#![cfg_attr(predicate, ...)]`,
/// which counts where `holds` says the predicate does (the crate's `cfg`); the last one that
/// counts wins. Only a text that names the attribute is lexed, and only its inner attributes (the
/// token trees up to its first item) are parsed.
pub fn recursion_limit(text: &str, holds: impl Fn(&str) -> bool) -> Option<u32> {
    memchr::memmem::find(text.as_bytes(), b"recursion_limit")?;
    let mut trees = lex(strip_shebang(text)).ok()?.into_iter().peekable();
    let mut inner = TokenStream::new();
    // `#`, `!`, `[...]` (doc comments `//!` are lexed as such attributes too).
    while let Some(TokenTree::Punct(hash)) = trees.peek()
        && hash.as_char() == '#'
    {
        let attr: Vec<TokenTree> = trees.by_ref().take(3).collect();
        let is_inner = matches!(&attr[..], [_, TokenTree::Punct(bang), TokenTree::Group(group)]
            if bang.as_char() == '!' && group.delimiter() == proc_macro2::Delimiter::Bracket);
        if !is_inner {
            break;
        }
        inner.extend(attr);
    }
    nesting::of_tokens(&inner, MAX_NESTING).ok()?;
    let attrs = syn::parse::Parser::parse2(Attribute::parse_inner, inner).ok()?;
    // A stack, the next attribute on top, so that a `cfg_attr`'s attributes take its place.
    let mut pending: Vec<syn::Meta> = attrs.into_iter().rev().map(|attr| attr.meta).collect();
    let mut limit = None;
    while let Some(meta) = pending.pop() {
        if let Some((predicate, guarded)) = render::cfg_attr_parts(&meta) {
            if holds(&predicate) {
                pending.extend(guarded.into_iter().rev());
            }
            continue;
        }
        let syn::Meta::NameValue(meta) = &meta else { continue };
        let syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(value), .. }) = &meta.value else { continue };
        if let Some(value) = meta.path.is_ident("recursion_limit").then(|| value.value().parse::<u32>().ok()).flatten()
            // Zero would expand nothing; rustc's default stands for it.
            && value > 0
        {
            limit = Some(value.min(MAX_RECURSION_LIMIT));
        }
    }
    limit
}

/// The text without a byte-order mark and without a `#!` line (but its newline, so that lines
/// keep their numbers), as rustc reads it. `#![attr]` is no shebang.
fn strip_shebang(text: &str) -> &str {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match text.strip_prefix("#!") {
        Some(rest) if !rest.trim_start().starts_with('[') => text.find('\n').map_or("", |newline| &text[newline..]),
        _ => text,
    }
}

/// `tokens` with `dyn` inserted before each `Fn(..)`, `FnMut(..)` and `FnOnce(..)` that stands
/// where a type starts (after `=`, `<`, `,`, `(`, `[`, `&`, `&'a`, `&mut`, `*const`, `*mut` or
/// `->`), rather than where a bound does (after `:`, `+`, `impl`, `dyn`). The added token takes
/// the span of the trait's name, so lines and columns stay those of the file. Recursion is bounded
/// by the nesting checked before, on a stack with room for it (`on_stack_for`).
fn dyn_before_bare_fn_traits(tokens: TokenStream) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(trees.len());
    for (index, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Group(group) => {
                out.push(regroup(group, dyn_before_bare_fn_traits));
                continue;
            }
            TokenTree::Ident(ident)
                if matches!(ident.to_string().as_str(), "Fn" | "FnMut" | "FnOnce")
                    && matches!(trees.get(index + 1), Some(TokenTree::Group(g)) if g.delimiter() == proc_macro2::Delimiter::Parenthesis)
                    && starts_type(&trees[..index]) =>
            {
                out.push(TokenTree::Ident(proc_macro2::Ident::new("dyn", ident.span())));
            }
            _ => {}
        }
        out.push(tree.clone());
    }
    out.into_iter().collect()
}

/// `tokens` with `_: ` before each parameter of a `fn` that is a type alone (edition 2015's
/// anonymous parameters of trait methods): a parameter list's comma-separated parts (commas
/// inside `<...>` are the type's) that have no `:` of their own and are no `self`. The added
/// tokens take the span of the parameter's first token.
fn named_anonymous_parameters(tokens: TokenStream) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(trees.len());
    // After `fn` and its name (not a `fn(..)` pointer type): the `<` not yet closed of its
    // generics, whose bounds may hold `Fn(..)` groups; the parameters are the first parenthesized
    // group outside them.
    let mut signature: Option<usize> = None;
    for (index, tree) in trees.iter().enumerate() {
        let after_fn = index.checked_sub(1).is_some_and(|i| matches!(&trees[i], TokenTree::Ident(i) if i == "fn"));
        match tree {
            TokenTree::Ident(_) if after_fn => signature = Some(0),
            TokenTree::Punct(punct) if signature.is_some() => {
                let angles = signature.get_or_insert(0);
                match punct.as_char() {
                    '<' => *angles += 1,
                    '>' if closes_angle(&trees, index) => *angles = angles.saturating_sub(1),
                    _ => {}
                }
            }
            TokenTree::Group(group)
                if signature == Some(0) && group.delimiter() == proc_macro2::Delimiter::Parenthesis =>
            {
                signature = None;
                out.push(regroup(group, named_parameters));
                continue;
            }
            TokenTree::Group(group) => {
                if signature == Some(0) {
                    signature = None;
                }
                out.push(regroup(group, named_anonymous_parameters));
                continue;
            }
            _ => {}
        }
        out.push(tree.clone());
    }
    out.into_iter().collect()
}

/// A parameter list with `_: ` before each part that is a type alone (see
/// `named_anonymous_parameters`).
fn named_parameters(list: TokenStream) -> TokenStream {
    let trees: Vec<TokenTree> = list.into_iter().collect();
    // The parts, each with the comma after it (kept as written, with its span).
    let mut parts: Vec<(&[TokenTree], Option<&TokenTree>)> = Vec::new();
    let (mut start, mut angles) = (0, 0usize);
    for (index, tree) in trees.iter().enumerate() {
        if let TokenTree::Punct(punct) = tree {
            match punct.as_char() {
                '<' => angles += 1,
                '>' if closes_angle(&trees, index) => angles = angles.saturating_sub(1),
                ',' if angles == 0 => {
                    parts.push((&trees[start..index], Some(tree)));
                    start = index + 1;
                }
                _ => {}
            }
        }
    }
    parts.push((&trees[start..], None));
    let mut out: Vec<TokenTree> = Vec::with_capacity(trees.len() + 4);
    for (part, comma) in parts {
        let named = part.iter().enumerate().any(|(at, tree)| {
            matches!(tree, TokenTree::Punct(p) if p.as_char() == ':')
                && !matches!(part.get(at + 1), Some(TokenTree::Punct(p)) if p.as_char() == ':')
                && !matches!(at.checked_sub(1).map(|i| &part[i]), Some(TokenTree::Punct(p)) if p.as_char() == ':')
        });
        let is_self = matches!(part.last(), Some(TokenTree::Ident(i)) if i == "self");
        if let (false, false, Some(first)) = (named, is_self, part.first()) {
            let span = first.span();
            out.push(TokenTree::Ident(proc_macro2::Ident::new("_", span)));
            let mut colon = proc_macro2::Punct::new(':', proc_macro2::Spacing::Alone);
            colon.set_span(span);
            out.push(TokenTree::Punct(colon));
        }
        out.extend(part.iter().cloned());
        out.extend(comma.cloned());
    }
    out.into_iter().collect()
}

/// `group` with its tokens rewritten by `rewrite`, its delimiter and span kept (the token
/// rewrites here and in `expand` recurse into groups through it).
fn regroup(group: &proc_macro2::Group, rewrite: impl FnOnce(TokenStream) -> TokenStream) -> TokenTree {
    let mut rewritten = proc_macro2::Group::new(group.delimiter(), rewrite(group.stream()));
    rewritten.set_span(group.span());
    TokenTree::Group(rewritten)
}

/// Whether the `>` at `index` closes an angle bracket: the `>` of `->` (`Fn(A) -> B` inside a
/// type) does not.
fn closes_angle(trees: &[TokenTree], index: usize) -> bool {
    !matches!(index.checked_sub(1).map(|i| &trees[i]), Some(TokenTree::Punct(p)) if p.as_char() == '-')
}

/// Whether a type starts after `before` (see `dyn_before_bare_fn_traits`).
fn starts_type(before: &[TokenTree]) -> bool {
    let punct = |tree: Option<&TokenTree>| match tree {
        Some(TokenTree::Punct(p)) => Some((p.as_char(), p.spacing())),
        _ => None,
    };
    let ident = |tree: Option<&TokenTree>, word: &str| matches!(tree, Some(TokenTree::Ident(i)) if i == word);
    let n = before.len();
    let last = before.last();
    match punct(last) {
        // `=` alone (not the end of `==`, `<=`, `!=`), `->` ends in `>` after a joint `-`.
        Some(('=', _)) => !matches!(punct(before.get(n.wrapping_sub(2))), Some((_, proc_macro2::Spacing::Joint))),
        Some(('>', _)) => matches!(punct(before.get(n.wrapping_sub(2))), Some(('-', proc_macro2::Spacing::Joint))),
        Some(('<' | ',' | '&', _)) => true,
        _ => match last {
            // `&'a Fn()`: a lifetime is a joint `'` and an identifier.
            Some(TokenTree::Ident(_)) if matches!(punct(before.get(n.wrapping_sub(2))), Some(('\'', _))) => {
                matches!(punct(before.get(n.wrapping_sub(3))), Some(('&', _)))
            }
            // `&mut Fn()`, `*mut Fn()`, `*const Fn()`.
            Some(TokenTree::Ident(_)) if ident(last, "mut") || ident(last, "const") => {
                matches!(punct(before.get(n.wrapping_sub(2))), Some(('&' | '*', _)))
            }
            // The start of a group: `(Fn())`, `[Fn(); 2]`.
            None => true,
            _ => false,
        },
    }
}

/// An identifier's name without the `r#` of a raw identifier: `mod r#ref;` is the module `ref`,
/// in `ref.rs`, as rustc and rustdoc name it.
fn unraw(ident: &syn::Ident) -> String {
    let name = ident.to_string();
    match name.strip_prefix("r#") {
        Some(bare) => bare.to_owned(),
        None => name,
    }
}

/// A hash of a syntax tree that depends on its tokens only: syn's `Hash` (with `extra-traits`)
/// skips spans, and FxHasher has no random seed, so the same item hashes alike in every run.
fn hash_of(node: &impl std::hash::Hash) -> u64 {
    use std::hash::Hasher;
    let mut hasher = rustc_hash::FxHasher::default();
    node.hash(&mut hasher);
    hasher.finish()
}

fn function(sig: &Signature, generics: &Generics) -> Detail {
    let returns = refs::return_type(&sig.output, generics);
    let mut inputs: Vec<TypeExpr> = sig
        .inputs
        .iter()
        .map(|input| match input {
            syn::FnArg::Typed(typed) => refs::type_expr(&typed.ty, generics),
            syn::FnArg::Receiver(_) => TypeExpr::Unknown,
        })
        .collect();
    // Kept where arguments tell something: a generic return, or a generic input (whose bound
    // types a closure given there: `P: Fn(Self::Item) -> bool`).
    if !returns.is_generic() && !inputs.iter().any(TypeExpr::is_generic) {
        inputs = Vec::new();
    }
    Detail::Function {
        signature: render::tokens(sig),
        is_async: sig.asyncness.is_some(),
        is_unsafe: matches!(sig.safety, syn::Safety::Unsafe(_)),
        is_const: sig.constness.is_some(),
        returns,
        inputs,
        receiver: sig.receiver().is_some(),
    }
}

thread_local! {
    /// How a span's line maps to the line in the file (see `with_lines`).
    static LINES: std::cell::RefCell<LineMap> = std::cell::RefCell::new(LineMap::default());
}

/// Where the lines of a text lexed for a macro call lie in its file: the text's line `n` is the
/// file's line `base + n`, but from each jump's text line on, the count restarts at the jump's
/// file line. A call that an expansion made holds the definition's tokens, placed at the outer
/// call, between tokens the outer call passed in from later lines: its text cannot keep them
/// all at their own lines in order, so it goes back with a jump (see `expand::positioned_text`).
#[derive(Clone, Debug, Default)]
pub struct LineMap {
    pub base: u32,
    /// (text line, file line), by text line.
    pub jumps: Vec<(u32, u32)>,
}

impl LineMap {
    fn file_line(&self, text_line: u32) -> u32 {
        // The last jump at or above the line (a muncher's text may hold thousands of jumps).
        match self.jumps.partition_point(|&(text, _)| text <= text_line).checked_sub(1) {
            Some(last) => {
                let (text, file) = self.jumps[last];
                file.saturating_add(text_line - text)
            }
            None => text_line.saturating_add(self.base),
        }
    }
}

/// Runs `f` with every line read from a span mapped through `lines`: a macro call's body is lexed
/// from text whose first line is the call's line (`base + 1`), not from text padded with every
/// line of the file above it, so lexing it costs its own size only.
fn with_lines<R>(lines: LineMap, f: impl FnOnce() -> R) -> R {
    /// Puts the previous map back, also when `f` panics (expansion panics are caught above).
    struct Restore(Option<LineMap>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(previous) = self.0.take() {
                LINES.with_borrow_mut(|current| *current = previous);
            }
        }
    }
    let _restore = Restore(Some(LINES.with_borrow_mut(|current| std::mem::replace(current, lines))));
    f()
}

/// The file's line of a span's line.
fn file_line(line: usize) -> u32 {
    let line = u32::try_from(line).unwrap_or(u32::MAX);
    LINES.with_borrow(|lines| lines.file_line(line))
}

fn line(span: Span) -> u32 {
    file_line(span.start().line)
}

fn end_line(span: Span) -> u32 {
    file_line(span.end().line)
}

/// The line of the earliest of the given tokens (the caller lists every token that can open the
/// item after its attributes: visibility, qualifiers, keyword).
fn first_line(spans: &[Option<Span>]) -> u32 {
    spans
        .iter()
        .flatten()
        .map(|span| span.start())
        // By the file's lines: a text that jumps back has an earlier line on a later text line.
        .map(|start| (file_line(start.line), start.column))
        .min()
        .map_or(0, |(line, _)| line)
}

fn vis_span(vis: &Visibility) -> Option<Span> {
    match vis {
        Visibility::Public(token) => Some(token.span),
        Visibility::Restricted(restricted) => Some(restricted.pub_token.span),
        Visibility::Inherited => None,
    }
}

fn sig_spans(vis: &Visibility, sig: &Signature) -> [Option<Span>; 6] {
    let safety = match &sig.safety {
        syn::Safety::Safe(token) => Some(token.span),
        syn::Safety::Unsafe(token) => Some(token.span),
        _ => None,
    };
    [
        vis_span(vis),
        sig.constness.map(|t| t.span),
        sig.asyncness.map(|t| t.span),
        safety,
        sig.abi.as_ref().map(|abi| abi.extern_token.span),
        Some(sig.fn_token.span),
    ]
}

/// Builds the facts of an item from its common parts; `detail` and `children` are filled by the
/// caller where they apply.
struct Common<'a> {
    attrs: &'a [Attribute],
    hash: u64,
    kind: VertexKind,
    name: String,
    visibility: String,
    line: u32,
    end_line: u32,
}

impl Common<'_> {
    fn finish(self, detail: Detail, children: Vec<ItemFacts>) -> ItemFacts {
        self.finish_with(detail, Refs::default(), children)
    }

    /// A const or static: what its type and initializer name, what the initializer declares, and
    /// its macro calls in statement position (`initializer`).
    fn finish_value(self, ty: &syn::Type, expr: &syn::Expr) -> ItemFacts {
        let (items, calls) = initializer(expr);
        self.finish_with(Detail::None, typed_value_refs(ty, expr), items).with_member_calls(calls.into_iter())
    }

    fn finish_with(self, detail: Detail, refs: Refs, children: Vec<ItemFacts>) -> ItemFacts {
        ItemFacts {
            kind: self.kind,
            name: self.name,
            line: self.line,
            end_line: self.end_line,
            visibility: self.visibility,
            doc: render::doc(self.attrs),
            cfg: with_test_cfg(render::cfg(self.attrs), self.attrs),
            hash: self.hash,
            detail,
            refs,
            children,
            expanded_from: None,
            member_calls: Vec::new(),
            attribute_macro: render::attribute_macro(self.attrs),
        }
    }

    fn leaf(self) -> ItemFacts {
        self.finish(Detail::None, Vec::new())
    }
}

/// The items of a module body, what the body names outside them, and its macro calls.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct Body {
    pub items: Vec<ItemFacts>,
    pub refs: Refs,
    pub calls: Vec<MacroCall>,
}

/// `items_hashed` without the hash: an item whose facts keep no hash of their own (a `use`, a
/// macro call, an `extern` block) is not hashed (a muncher's call is its whole remaining input).
fn items(items: &[Item]) -> Body {
    items_with(items, false).0
}

/// `items`, and a hash of the items' syntax trees, each tree walked once: an item's hash comes
/// from `push_item`, which puts a container's together from its members'.
fn items_hashed(items: &[Item]) -> (Body, u64) {
    items_with(items, true)
}

fn items_with(items: &[Item], hash_wanted: bool) -> (Body, u64) {
    use std::hash::Hasher;
    let mut body = Body { items: Vec::with_capacity(items.len()), ..Body::default() };
    let mut hasher = rustc_hash::FxHasher::default();
    hasher.write_usize(items.len());
    for node in items {
        hasher.write_u64(push_item(&mut body, node, hash_wanted));
    }
    (body, hasher.finish())
}

/// Appends the facts of `item` to `body`: one item, none (a `use`, a macro call: these go to
/// the body's references), or several (the functions and statics of an `extern` block, which is
/// no item of its own). Returns the item's hash (`ItemFacts::hash`): an impl's, a trait's and an
/// inline module's are put together from their members' (`hash_of` walks a tree whole, and the
/// members are hashed for their own facts anyway), the rest are `hash_of` the item. An item whose
/// facts keep no hash is hashed only when `hash_wanted` (else 0 is returned).
fn push_item(body: &mut Body, item: &Item, hash_wanted: bool) -> u64 {
    let unstored = || if hash_wanted { hash_of(item) } else { 0 };
    let no_generics = Generics::default();
    let out = &mut body.items;
    let facts = match item {
        Item::Use(item_use) => {
            let cfg = render::cfg(&item_use.attrs);
            refs::use_item(item_use, &render::visibility(&item_use.vis), cfg.as_deref(), &mut body.refs.uses);
            return unstored();
        }
        Item::ExternCrate(krate) => {
            let name = unraw(&krate.ident);
            let bound = krate.rename.as_ref().map_or_else(|| name.clone(), |(_, rename)| unraw(rename));
            body.refs.uses.push(UseFacts {
                path: PathRef::single(&name),
                renamed: bound != name,
                name: Some(bound),
                visibility: render::visibility(&krate.vis),
                line: line(krate.extern_token.span),
                macro_use: has_attr(&krate.attrs, "macro_use"),
                cfg: render::cfg(&krate.attrs),
            });
            return unstored();
        }
        Item::Fn(f) => Common {
            attrs: &f.attrs,
            hash: hash_of(f),
            kind: VertexKind::Function,
            name: unraw(&f.sig.ident),
            visibility: render::visibility(&f.vis),
            line: first_line(&sig_spans(&f.vis, &f.sig)),
            end_line: end_line(f.block.brace_token.span.close()),
        }
        .finish_with(
            {
                let generics = Generics::extend(&no_generics, &f.sig.generics);
                function(&f.sig, &generics)
            },
            {
                let generics = Generics::extend(&no_generics, &f.sig.generics);
                Collector::new(&generics).function(&f.sig, Some(&f.block))
            },
            body_items(&f.block),
        ),
        Item::Struct(s) => {
            let end = match (&s.semi_token, &s.fields) {
                (Some(semi), _) => semi.span,
                (None, Fields::Named(named)) => named.brace_token.span.close(),
                (None, Fields::Unnamed(unnamed)) => unnamed.paren_token.span.close(),
                (None, Fields::Unit) => s.ident.span(),
            };
            Common {
                attrs: &s.attrs,
                hash: hash_of(s),
                kind: VertexKind::Struct,
                name: unraw(&s.ident),
                visibility: render::visibility(&s.vis),
                line: first_line(&[vis_span(&s.vis), Some(s.struct_token.span)]),
                end_line: end_line(end),
            }
            .finish_with(
                Detail::None,
                derives(&s.attrs),
                fields(&s.fields, "private", &Generics::extend(&no_generics, &s.generics)),
            )
        }
        Item::Enum(e) => {
            let visibility = render::visibility(&e.vis);
            let generics = Generics::extend(&no_generics, &e.generics);
            let variants = e.variants.iter().map(|v| variant(v, &visibility, &generics)).collect();
            Common {
                attrs: &e.attrs,
                hash: hash_of(e),
                kind: VertexKind::Enum,
                name: unraw(&e.ident),
                visibility,
                line: first_line(&[vis_span(&e.vis), Some(e.enum_token.span)]),
                end_line: end_line(e.brace_token.span.close()),
            }
            .finish_with(Detail::None, derives(&e.attrs), variants)
        }
        Item::Union(u) => Common {
            attrs: &u.attrs,
            hash: hash_of(u),
            kind: VertexKind::Union,
            name: unraw(&u.ident),
            visibility: render::visibility(&u.vis),
            line: first_line(&[vis_span(&u.vis), Some(u.union_token.span)]),
            end_line: end_line(u.fields.brace_token.span.close()),
        }
        .finish_with(
            Detail::None,
            derives(&u.attrs),
            fields(&u.fields.named, "private", &Generics::extend(&no_generics, &u.generics)),
        ),
        Item::Trait(t) => {
            let visibility = render::visibility(&t.vis);
            let generics = Generics::extend(&no_generics, &t.generics);
            let hashes: Vec<u64> = t.items.iter().map(hash_of).collect();
            let children = t
                .items
                .iter()
                .zip(&hashes)
                .filter_map(|(i, hash)| trait_item(i, *hash, &visibility, &generics))
                .collect();
            let mut collector = Collector::new(&generics);
            for bound in &t.supertraits {
                if let syn::TypeParamBound::Trait(bound) = bound {
                    collector
                        .refs
                        .supertraits
                        .push(Named { path: PathRef::from_path(&bound.path), line: line(bound.path.span()) });
                }
            }
            Common {
                attrs: &t.attrs,
                hash: hash_of(&(
                    "trait",
                    &t.attrs,
                    &t.vis,
                    t.unsafety.is_some(),
                    &t.modifiers,
                    &t.ident,
                    &t.generics,
                    &t.supertraits,
                    &hashes,
                )),
                kind: VertexKind::Trait,
                name: unraw(&t.ident),
                visibility: visibility.clone(),
                line: first_line(&[
                    vis_span(&t.vis),
                    t.unsafety.map(|t| t.span),
                    t.modifiers.auto_token.map(|t| t.span),
                    Some(t.trait_token.span),
                ]),
                end_line: end_line(t.brace_token.span.close()),
            }
            .finish_with(Detail::None, collector.finish(), children)
            .with_member_calls(t.items.iter().filter_map(|item| match item {
                TraitItem::Macro(m) => Some(MacroCall::new(&m.mac, render::cfg(&m.attrs))),
                _ => None,
            }))
        }
        Item::Impl(i) => {
            let self_ty = render::tokens(&*i.self_ty);
            let trait_ = i.trait_.as_ref().map(|(path, _)| {
                let bang = if i.modifiers.polarity.is_some() { "!" } else { "" };
                format!("{bang}{}", render::tokens(path))
            });
            let name = match &trait_ {
                Some(trait_) => format!("impl {trait_} for {self_ty}"),
                None => format!("impl {self_ty}"),
            };
            let generics = Generics::extend(&no_generics, &i.generics);
            let hashes: Vec<u64> = i.items.iter().map(hash_of).collect();
            let children =
                i.items.iter().zip(&hashes).filter_map(|(item, hash)| impl_item(item, *hash, &generics)).collect();
            let mut collector = Collector::new(&generics);
            collector.visit_generics(&i.generics);
            collector.visit_type(&i.self_ty);
            if let Some((path, _)) = &i.trait_ {
                for segment in &path.segments {
                    collector.visit_path_arguments(&segment.arguments);
                }
            }
            let detail = Detail::Impl {
                trait_,
                self_ty,
                trait_path: i.trait_.as_ref().map(|(path, _)| PathRef::from_path(path)),
                self_type: refs::type_expr(&i.self_ty, &generics),
            };
            Common {
                attrs: &i.attrs,
                hash: hash_of(&(
                    "impl",
                    &i.attrs,
                    &i.modifiers,
                    i.unsafety.is_some(),
                    &i.generics,
                    &i.trait_,
                    &i.self_ty,
                    &hashes,
                )),
                kind: VertexKind::Impl,
                name,
                visibility: "private".to_owned(),
                line: first_line(&[
                    i.modifiers.defaultness.map(|t| t.span),
                    i.unsafety.map(|t| t.span),
                    Some(i.impl_token.span),
                ]),
                end_line: end_line(i.brace_token.span.close()),
            }
            .finish_with(detail, collector.finish(), children)
            .with_member_calls(i.items.iter().filter_map(|item| match item {
                ImplItem::Macro(m) => Some(MacroCall::new(&m.mac, render::cfg(&m.attrs))),
                _ => None,
            }))
        }
        Item::Type(t) => Common {
            attrs: &t.attrs,
            hash: hash_of(t),
            kind: VertexKind::TypeAlias,
            name: unraw(&t.ident),
            visibility: render::visibility(&t.vis),
            line: first_line(&[vis_span(&t.vis), Some(t.type_token.span)]),
            end_line: end_line(t.semi_token.span),
        }
        .finish_with(
            Detail::TypeAlias { target: refs::type_expr(&t.ty, &Generics::extend(&no_generics, &t.generics)) },
            {
                let generics = Generics::extend(&no_generics, &t.generics);
                let mut collector = Collector::new(&generics);
                collector.visit_type(&t.ty);
                collector.finish()
            },
            Vec::new(),
        ),
        Item::Const(c) => Common {
            attrs: &c.attrs,
            hash: hash_of(c),
            kind: VertexKind::Const,
            name: unraw(&c.ident),
            visibility: render::visibility(&c.vis),
            line: first_line(&[vis_span(&c.vis), Some(c.const_token.span)]),
            end_line: end_line(c.semi_token.span),
        }
        .finish_value(&c.ty, &c.expr),
        Item::Static(s) => Common {
            attrs: &s.attrs,
            hash: hash_of(s),
            kind: VertexKind::Static,
            name: unraw(&s.ident),
            visibility: render::visibility(&s.vis),
            line: first_line(&[vis_span(&s.vis), Some(s.static_token.span)]),
            end_line: end_line(s.semi_token.span),
        }
        .finish_value(&s.ty, &s.expr),
        Item::Macro(m) if m.ident.is_none() => {
            body.refs.macros.push(Named { path: PathRef::from_path(&m.mac.path), line: line(m.mac.path.span()) });
            // `cfg_if!` and std's `cfg_select!` have grammars of their own; any other call waits
            // for the crate's macros.
            let grammar: Option<fn(syn::parse::ParseStream<'_>) -> syn::Result<Body>> =
                match m.mac.path.segments.last().map(|segment| segment.ident.to_string()).as_deref() {
                    Some("cfg_if") => Some(cfg_if_items),
                    Some("cfg_select") => Some(cfg_select_items),
                    _ => None,
                };
            match grammar.map(|grammar| m.mac.parse_body_with(grammar)) {
                Some(Ok(mut inner)) => {
                    if let Some(predicate) = render::cfg(&m.attrs) {
                        add_cfg(&mut inner, &predicate);
                    }
                    out.append(&mut inner.items);
                    body.refs.append(inner.refs);
                    body.calls.append(&mut inner.calls);
                }
                _ => body.calls.push(MacroCall::new(&m.mac, render::cfg(&m.attrs))),
            }
            return unstored();
        }
        Item::Macro(m) => {
            // Only `macro_rules!` defines a macro.
            let Some(name) = &m.ident else { return unstored() };
            if !m.mac.path.is_ident("macro_rules") {
                return unstored();
            }
            let end = match &m.semi_token {
                Some(semi) => semi.span,
                None => m.mac.delimiter.span().close(),
            };
            Common {
                attrs: &m.attrs,
                hash: hash_of(m),
                kind: VertexKind::Macro,
                name: unraw(name),
                visibility: if has_attr(&m.attrs, "macro_export") { "pub" } else { "private" }.to_owned(),
                line: line(m.mac.path.span()),
                end_line: end_line(end),
            }
            .finish(
                Detail::MacroRules { definition: expand::definition_text(&m.mac, local_inner_macros(&m.attrs)) },
                Vec::new(),
            )
        }
        Item::Mod(m) => {
            let end = match (&m.content, &m.semi) {
                (Some((brace, _)), _) => brace.span.close(),
                (None, Some(semi)) => semi.span,
                (None, None) => m.ident.span(),
            };
            let (Body { items: children, refs, calls }, content_hash) = match &m.content {
                Some((_, content)) => items_hashed(content),
                None => (Body::default(), 0),
            };
            Common {
                attrs: &m.attrs,
                hash: hash_of(&(
                    "mod",
                    &m.attrs,
                    &m.vis,
                    m.unsafety.is_some(),
                    &m.ident,
                    m.content.is_some(),
                    content_hash,
                )),
                kind: VertexKind::Module,
                name: unraw(&m.ident),
                visibility: render::visibility(&m.vis),
                line: first_line(&[vis_span(&m.vis), m.unsafety.map(|t| t.span), Some(m.mod_token.span)]),
                end_line: end_line(end),
            }
            .finish_with(
                Detail::Module {
                    inline: m.content.is_some(),
                    path_attr: render::path_attr(&m.attrs),
                    cfg_path_attrs: render::cfg_path_attrs(&m.attrs),
                    macro_calls: calls,
                },
                refs,
                children,
            )
        }
        Item::ForeignMod(f) => {
            let block_cfg = render::cfg(&f.attrs);
            let block_macro = render::attribute_macro(&f.attrs);
            out.extend(f.items.iter().filter_map(foreign_item).map(|mut facts| {
                facts.attribute_macro |= block_macro;
                facts.cfg = match (block_cfg.clone(), facts.cfg.take()) {
                    (Some(outer), Some(own)) => Some(format!("{outer}, {own}")),
                    (outer, own) => outer.or(own),
                };
                facts
            }));
            return unstored();
        }
        _ => return unstored(),
    };
    let hash = facts.hash;
    out.push(facts);
    hash
}

/// `if #[cfg(a)] { items } else if #[cfg(b)] { items } else { items }`, possibly several chains.
fn cfg_if_items(input: syn::parse::ParseStream<'_>) -> syn::Result<Body> {
    let mut out = Body::default();
    while !input.is_empty() {
        input.parse::<syn::Token![if]>()?;
        let mut earlier: Vec<String> = Vec::new();
        loop {
            // A branch holds when its own predicate does and no earlier one did.
            let predicate = if input.peek(syn::token::Brace) {
                format!("not(any({}))", earlier.join(", "))
            } else {
                let attrs = input.call(Attribute::parse_outer)?;
                first_that_holds(render::cfg(&attrs).unwrap_or_default(), &mut earlier)
            };
            braced_items(input, &predicate, &mut out)?;
            if !input.peek(syn::Token![else]) {
                break;
            }
            input.parse::<syn::Token![else]>()?;
            if input.peek(syn::Token![if]) {
                input.parse::<syn::Token![if]>()?;
            } else if !input.peek(syn::token::Brace) {
                return Err(input.error("expected `if` or `{` after `else`"));
            }
        }
    }
    Ok(out)
}

/// std's `cfg_select! { predicate => { items } ... _ => { items } }` (Rust 1.95): the first arm
/// whose predicate holds is compiled, as `cfg_if!`'s first branch is (parking_lot_core picks its
/// thread parker so). `true` and `false` are predicates too; an arm after `_` is never compiled.
fn cfg_select_items(input: syn::parse::ParseStream<'_>) -> syn::Result<Body> {
    let mut out = Body::default();
    let mut earlier: Vec<String> = Vec::new();
    while !input.is_empty() {
        let predicate = cfg_select_predicate(input, &mut earlier)?;
        braced_items(input, &predicate, &mut out)?;
        input.parse::<Option<syn::Token![,]>>()?;
    }
    Ok(out)
}

/// The condition of a branch of `cfg_if!` or an arm of `cfg_select!` whose own predicate is
/// `own`: it holds, and none of the `earlier` ones does (`own` joins them).
fn first_that_holds(own: String, earlier: &mut Vec<String>) -> String {
    let condition =
        if earlier.is_empty() { own.clone() } else { format!("all({own}, not(any({})))", earlier.join(", ")) };
    earlier.push(own);
    condition
}

/// `{ items }`, under `condition`, into `out`.
fn braced_items(input: syn::parse::ParseStream<'_>, condition: &str, out: &mut Body) -> syn::Result<()> {
    let body;
    syn::braced!(body in input);
    let mut branch = Body::default();
    while !body.is_empty() {
        push_item(&mut branch, &body.parse::<Item>()?, false);
    }
    add_cfg(&mut branch, condition);
    out.items.append(&mut branch.items);
    out.calls.append(&mut branch.calls);
    out.refs.append(branch.refs);
    Ok(())
}

/// A `cfg_select!` arm's `predicate =>`: the condition under which the arm is compiled, its own
/// predicate holding and no earlier one's (`earlier`, which it joins). `_` and `true` always hold,
/// `false` never.
pub(super) fn cfg_select_predicate(
    input: syn::parse::ParseStream<'_>,
    earlier: &mut Vec<String>,
) -> syn::Result<String> {
    let own = if input.peek(syn::Token![_]) {
        input.parse::<syn::Token![_]>()?;
        "all()".to_owned()
    } else if input.peek(syn::LitBool) {
        if input.parse::<syn::LitBool>()?.value { "all()".to_owned() } else { "any()".to_owned() }
    } else {
        render::tokens(&input.parse::<syn::Meta>()?)
    };
    input.parse::<syn::Token![=>]>()?;
    Ok(first_that_holds(own, earlier))
}

/// `#[test]` and `#[bench]` functions (also `#[tokio::test]` and the like) are compiled only
/// with `cfg(test)`, as if they said so.
fn with_test_cfg(cfg: Option<String>, attrs: &[Attribute]) -> Option<String> {
    let is_test = attrs.iter().any(|attr| {
        attr.path().segments.last().is_some_and(|segment| segment.ident == "test" || segment.ident == "bench")
    });
    if !is_test {
        return cfg;
    }
    Some(match cfg {
        Some(own) => format!("test, {own}"),
        None => "test".to_owned(),
    })
}

/// Adds `predicate` (the `cfg` of the macro call, or of the `cfg_if!` branch, that declares
/// them) to the `cfg` of each item, `use` and macro call.
pub fn add_cfg(body: &mut Body, predicate: &str) {
    let and = |cfg: &mut Option<String>| {
        *cfg = Some(match cfg.take() {
            Some(own) => format!("{predicate}, {own}"),
            None => predicate.to_owned(),
        });
    };
    body.items.iter_mut().for_each(|item| and(&mut item.cfg));
    body.refs.uses.iter_mut().for_each(|use_facts| and(&mut use_facts.cfg));
    body.calls.iter_mut().for_each(|call| and(&mut call.cfg));
}

fn has_attr(attrs: &[Attribute], name: &str) -> bool {
    attrs.iter().any(|attr| attr.path().is_ident(name))
}

/// `#[macro_export(local_inner_macros)]`.
pub(crate) fn local_inner_macros(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("macro_export")
            && attr.parse_args::<syn::Ident>().is_ok_and(|argument| argument == "local_inner_macros")
    })
}

/// The fields of a struct, union or variant. `inherited` is the visibility of a field written
/// without one: private for structs and unions, the enum's for variants.
fn fields<'a>(fields: impl IntoIterator<Item = &'a Field>, inherited: &str, generics: &Generics) -> Vec<ItemFacts> {
    fields
        .into_iter()
        .enumerate()
        .map(|(index, field)| {
            let ty_span = field.ty.span();
            Common {
                attrs: &field.attrs,
                hash: hash_of(field),
                kind: VertexKind::Field,
                name: field.ident.as_ref().map_or_else(|| index.to_string(), unraw),
                visibility: match field.vis {
                    Visibility::Inherited => inherited.to_owned(),
                    _ => render::visibility(&field.vis),
                },
                // The colon counts: in a field a macro puts together (`$fvis $fname: $fty`, libc's
                // `custom_struct!`), it is the definition's, at the call, where rustc places a
                // span whose tokens come from several expansions.
                line: first_line(&[
                    vis_span(&field.vis),
                    field.ident.as_ref().map(|i| i.span()),
                    field.colon_token.map(|colon| colon.span),
                    Some(ty_span),
                ]),
                end_line: end_line(ty_span),
            }
            .finish_with(
                Detail::Field { ty: refs::type_expr(&field.ty, generics) },
                {
                    let mut collector = Collector::new(generics);
                    collector.visit_type(&field.ty);
                    collector.finish()
                },
                Vec::new(),
            )
        })
        .collect()
}

fn variant(variant: &Variant, enum_visibility: &str, generics: &Generics) -> ItemFacts {
    let end = match (&variant.discriminant, &variant.fields) {
        (Some((_, expr)), _) => expr.span(),
        (None, Fields::Named(named)) => named.brace_token.span.close(),
        (None, Fields::Unnamed(unnamed)) => unnamed.paren_token.span.close(),
        (None, Fields::Unit) => variant.ident.span(),
    };
    Common {
        attrs: &variant.attrs,
        hash: hash_of(variant),
        kind: VertexKind::Variant,
        name: unraw(&variant.ident),
        // Variants are exactly as visible as their enum.
        visibility: enum_visibility.to_owned(),
        line: line(variant.ident.span()),
        end_line: end_line(end),
    }
    .finish(Detail::None, fields(&variant.fields, enum_visibility, generics))
}

impl ItemFacts {
    fn with_member_calls(mut self, calls: impl Iterator<Item = MacroCall>) -> ItemFacts {
        self.member_calls = calls.collect();
        self
    }
}

/// The members of an impl (`trait_visibility` `None`) or of a trait, with the macro calls among
/// them; for what a macro call in an impl or trait body expands to (`at_most`: see
/// `parse_syntax_with`).
fn members(
    tokens: TokenStream,
    at_most: Option<usize>,
    trait_visibility: Option<&str>,
) -> Result<(Vec<ItemFacts>, Vec<MacroCall>), SyntaxError> {
    let no_generics = Generics::default();
    let mut calls = Vec::new();
    let items = match trait_visibility {
        None => {
            let parsed: Vec<ImplItem> = parse_members(tokens, at_most)?;
            made_text::record(made_text::Made::ImplMembers, || {
                made_text::text(parsed.iter().filter(|item| !matches!(item, ImplItem::Macro(_))))
            });
            for item in &parsed {
                if let ImplItem::Macro(m) = item {
                    calls.push(MacroCall::new(&m.mac, render::cfg(&m.attrs)));
                }
            }
            parsed.iter().filter_map(|item| impl_item(item, hash_of(item), &no_generics)).collect()
        }
        Some(visibility) => {
            let parsed: Vec<TraitItem> = parse_members(tokens, at_most)?;
            made_text::record(made_text::Made::TraitMembers, || {
                made_text::text(parsed.iter().filter(|item| !matches!(item, TraitItem::Macro(_))))
            });
            for item in &parsed {
                if let TraitItem::Macro(m) = item {
                    calls.push(MacroCall::new(&m.mac, render::cfg(&m.attrs)));
                }
            }
            parsed.iter().filter_map(|item| trait_item(item, hash_of(item), visibility, &no_generics)).collect()
        }
    };
    Ok((items, calls))
}

fn parse_members<T: syn::parse::Parse>(tokens: TokenStream, at_most: Option<usize>) -> Result<Vec<T>, SyntaxError> {
    struct Members<T>(Vec<T>);
    impl<T: syn::parse::Parse> syn::parse::Parse for Members<T> {
        fn parse(input: syn::parse::ParseStream<'_>) -> syn::Result<Self> {
            let mut out = Vec::new();
            while !input.is_empty() {
                out.push(input.parse()?);
            }
            Ok(Members(out))
        }
    }
    parse_syntax_with::<Members<T>>(tokens, at_most).map(|members| members.0)
}

/// The facts of a trait's member, whose hash (`hash_of` the member) its trait has taken already.
fn trait_item(item: &TraitItem, hash: u64, trait_visibility: &str, outer: &Generics) -> Option<ItemFacts> {
    // Associated items are exactly as visible as their trait.
    let visibility = trait_visibility.to_owned();
    let facts = match item {
        TraitItem::Fn(f) => {
            let end = match (&f.default, &f.semi_token) {
                (Some(block), _) => block.brace_token.span.close(),
                (None, Some(semi)) => semi.span,
                (None, None) => f.sig.ident.span(),
            };
            Common {
                attrs: &f.attrs,
                hash,
                kind: VertexKind::Function,
                name: unraw(&f.sig.ident),
                visibility,
                line: first_line(&sig_spans(&Visibility::Inherited, &f.sig)),
                end_line: end_line(end),
            }
            .finish_with(
                function(&f.sig, &Generics::extend(outer, &f.sig.generics)),
                Collector::new(&Generics::extend(outer, &f.sig.generics)).function(&f.sig, f.default.as_ref()),
                f.default.as_ref().map(body_items).unwrap_or_default(),
            )
        }
        TraitItem::Const(c) => Common {
            attrs: &c.attrs,
            hash,
            kind: VertexKind::Const,
            name: unraw(&c.ident),
            visibility,
            line: line(c.const_token.span),
            end_line: end_line(c.semi_token.span),
        }
        .leaf(),
        TraitItem::Type(t) => Common {
            attrs: &t.attrs,
            hash,
            kind: VertexKind::TypeAlias,
            name: unraw(&t.ident),
            visibility,
            line: line(t.type_token.span),
            end_line: end_line(t.semi_token.span),
        }
        // What is known of it wherever the trait is: its bounds (`type IterElem:
        // Iterator<Item = Self::Item>`).
        .finish(Detail::TypeAlias { target: refs::bounded_type(&t.bounds, outer) }, Vec::new()),
        _ => return None,
    };
    Some(facts)
}

/// The facts of an impl's member, whose hash (`hash_of` the member) its impl has taken already.
fn impl_item(item: &ImplItem, hash: u64, outer: &Generics) -> Option<ItemFacts> {
    let facts = match item {
        ImplItem::Fn(f) => Common {
            attrs: &f.attrs,
            hash,
            kind: VertexKind::Function,
            name: unraw(&f.sig.ident),
            visibility: render::visibility(&f.vis),
            line: first_line(&{
                let mut spans = sig_spans(&f.vis, &f.sig).to_vec();
                spans.push(f.modifiers.defaultness.map(|t| t.span));
                spans
            }),
            end_line: end_line(f.block.brace_token.span.close()),
        }
        .finish_with(
            function(&f.sig, &Generics::extend(outer, &f.sig.generics)),
            Collector::new(&Generics::extend(outer, &f.sig.generics)).function(&f.sig, Some(&f.block)),
            body_items(&f.block),
        ),
        ImplItem::Const(c) => Common {
            attrs: &c.attrs,
            hash,
            kind: VertexKind::Const,
            name: unraw(&c.ident),
            visibility: render::visibility(&c.vis),
            line: first_line(&[vis_span(&c.vis), c.modifiers.defaultness.map(|t| t.span), Some(c.const_token.span)]),
            end_line: end_line(c.semi_token.span),
        }
        .finish_value(&c.ty, &c.expr),
        ImplItem::Type(t) => Common {
            attrs: &t.attrs,
            hash,
            kind: VertexKind::TypeAlias,
            name: unraw(&t.ident),
            visibility: render::visibility(&t.vis),
            line: first_line(&[vis_span(&t.vis), t.modifiers.defaultness.map(|t| t.span), Some(t.type_token.span)]),
            end_line: end_line(t.semi_token.span),
        }
        .finish_with(
            Detail::TypeAlias { target: refs::type_expr(&t.ty, outer) },
            {
                let mut collector = Collector::new(outer);
                collector.visit_type(&t.ty);
                collector.finish()
            },
            Vec::new(),
        ),
        _ => return None,
    };
    Some(facts)
}

fn foreign_item(item: &ForeignItem) -> Option<ItemFacts> {
    let facts = match item {
        ForeignItem::Fn(f) => Common {
            attrs: &f.attrs,
            hash: hash_of(f),
            kind: VertexKind::Function,
            name: unraw(&f.sig.ident),
            visibility: render::visibility(&f.vis),
            line: first_line(&sig_spans(&f.vis, &f.sig)),
            end_line: end_line(f.semi_token.span),
        }
        .finish_with(
            function(&f.sig, &Generics::default()),
            Collector::new(&Generics::default()).function(&f.sig, None),
            Vec::new(),
        ),
        ForeignItem::Static(s) => Common {
            attrs: &s.attrs,
            hash: hash_of(s),
            kind: VertexKind::Static,
            name: unraw(&s.ident),
            visibility: render::visibility(&s.vis),
            line: first_line(&[vis_span(&s.vis), Some(s.static_token.span)]),
            end_line: end_line(s.semi_token.span),
        }
        .leaf(),
        _ => return None,
    };
    Some(facts)
}

/// Items declared anywhere inside a function body (nested blocks and closures included); items
/// nested in those items are theirs, not the function's.
fn body_items(block: &syn::Block) -> Vec<ItemFacts> {
    let mut collector = BodyItems::default();
    collector.visit_block(block);
    collector.items
}

/// What the initializer of a const or static declares (`const X: T = { struct S; ... }`), and its
/// macro calls in statement position (`const _: () = unsafe { impl_traits!(u8: A, B); };`): what
/// those make (impls, mostly) is declared there too, and is expanded once the crate's macros are
/// known (`expand_statements`). Calls in function bodies are not collected: what they make is
/// local to the body, and a body's `println!`s would cost every file its text.
fn initializer(expr: &syn::Expr) -> (Vec<ItemFacts>, Vec<MacroCall>) {
    let mut collector = BodyItems { calls: Some(Vec::new()), ..BodyItems::default() };
    collector.visit_expr(expr);
    (collector.items, collector.calls.unwrap_or_default())
}

/// The items and the statement-position macro calls of what a call in statement position
/// expands to (a block's statements, as `Block::parse_within` reads them), outside the items
/// themselves (`at_most`: see `parse_syntax_with`).
fn statements(tokens: TokenStream, at_most: Option<usize>) -> Result<(Vec<ItemFacts>, Vec<MacroCall>), SyntaxError> {
    let parsed = parse_statements(tokens, at_most)?;
    made_text::record(made_text::Made::Initializer, || made_text::statements(&parsed));
    let mut collector = BodyItems { calls: Some(Vec::new()), ..BodyItems::default() };
    for stmt in &parsed {
        collector.visit_stmt(stmt);
    }
    Ok((collector.items, collector.calls.unwrap_or_default()))
}

/// A block's statements, as `Block::parse_within` reads them (a last expression without `;`
/// among them; `at_most`: see `parse_syntax_with`).
fn parse_statements(tokens: TokenStream, at_most: Option<usize>) -> Result<Vec<syn::Stmt>, SyntaxError> {
    struct Statements(Vec<syn::Stmt>);
    impl syn::parse::Parse for Statements {
        fn parse(input: syn::parse::ParseStream<'_>) -> syn::Result<Self> {
            syn::Block::parse_within(input).map(Statements)
        }
    }
    parse_syntax_with(tokens, at_most).map(|Statements(stmts)| stmts)
}

/// The items a body or an initializer declares, outside items; and, when `calls` is `Some`, its
/// statement-position macro calls (`m!(...);`, and a block's last `m!(...)`) outside closures.
#[derive(Default)]
struct BodyItems {
    items: Vec<ItemFacts>,
    calls: Option<Vec<MacroCall>>,
    /// How many closures the walk is in: a closure's body runs later, elsewhere, and what a call
    /// there makes is no concern of the initializer's.
    closures: usize,
}

impl<'ast> Visit<'ast> for BodyItems {
    fn visit_item(&mut self, node: &'ast Item) {
        // Not recursing: `push_item` collects the nested item's own children. The `use`
        // declarations of a body are the function's own references (see `refs::Collector`).
        let mut body = Body::default();
        push_item(&mut body, node, false);
        self.items.append(&mut body.items);
        // No crate macros are known here: a macro call's items pass through if they parse.
        for call in body.calls {
            if let Ok(Expanded::PassedThrough(mut inner)) = expand(&call, None, &mut Definitions::default()) {
                if let Some(predicate) = &call.cfg {
                    add_cfg(&mut inner, predicate);
                }
                self.items.append(&mut inner.items);
            }
        }
    }

    fn visit_expr_closure(&mut self, node: &'ast syn::ExprClosure) {
        self.closures += 1;
        syn::visit::visit_expr_closure(self, node);
        self.closures -= 1;
    }

    fn visit_stmt(&mut self, node: &'ast syn::Stmt) {
        let mac = match node {
            syn::Stmt::Macro(m) => Some((&m.mac, &m.attrs)),
            syn::Stmt::Expr(syn::Expr::Macro(m), _) => Some((&m.mac, &m.attrs)),
            _ => None,
        };
        match (mac, &mut self.calls) {
            (Some((mac, attrs)), Some(calls)) if self.closures == 0 => {
                calls.push(MacroCall::new(mac, render::cfg(attrs)));
            }
            _ => syn::visit::visit_stmt(self, node),
        }
    }
}

/// The derive list of an item, as its references.
fn derives(attrs: &[Attribute]) -> Refs {
    let generics = Generics::default();
    let mut collector = Collector::new(&generics);
    collector.derives(attrs);
    collector.finish()
}

/// What a const or static names in its type and initializer.
fn typed_value_refs(ty: &syn::Type, expr: &syn::Expr) -> Refs {
    let generics = Generics::default();
    let mut collector = Collector::new(&generics);
    collector.visit_type(ty);
    collector.visit_expr(expr);
    collector.finish()
}

#[cfg(test)]
mod tests;
