//! Renders syntax back to compact, deterministic text: types and paths as written (`Vec<T>`,
//! `impl Trait for Foo`), visibilities, doc comments and `cfg` predicates.
//!
//! The rendering depends only on the tokens, never on their spans or on the original whitespace,
//! so reformatting a file does not change a rendered name.

use std::fmt::Write as _;

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{Attribute, Expr, Lit, Meta, Visibility};

/// Renders any syntax node as compact text: `Vec<Option<T>>`, `&'a mut [u8]`, `dyn Fn(u8) -> u8`.
pub fn tokens(node: &impl ToTokens) -> String {
    let mut out = String::new();
    write_stream(&mut out, node.to_token_stream());
    out
}

fn write_stream(out: &mut String, stream: TokenStream) {
    // Punctuation arrives one character at a time; joint characters form one operator (`::`,
    // `->`, `>>`). A lifetime is a joint `'` followed by an identifier.
    let mut op = String::new();
    // What the last token written was: a word (identifier, literal, group) needs a space before
    // the next word; a keyword also before a bracket or parenthesis (`mut [u8]`), which an
    // identifier does not get (`f(x)`, `a[0]`).
    let mut prev_word = false;
    let mut prev_keyword = false;
    for tree in stream {
        let word = match tree {
            TokenTree::Punct(punct) => {
                op.push(punct.as_char());
                if punct.spacing() == Spacing::Alone {
                    write_op(out, &op);
                    op.clear();
                    prev_word = false;
                    prev_keyword = false;
                }
                continue;
            }
            TokenTree::Ident(ident) => Word::Ident(ident),
            TokenTree::Literal(literal) => Word::Literal(literal),
            TokenTree::Group(group) => {
                // The group let go, its trees are this stream's alone: iterating them moves them
                // rather than copying them (proc-macro2 copies the trees of a shared stream).
                let (delimiter, stream) = (group.delimiter(), group.stream());
                drop(group);
                if delimiter == Delimiter::None {
                    // An invisible group is rendered on its own: what it starts with is not to
                    // see what stands before it (a bracketed group's text starts with its
                    // bracket, as `out` would).
                    let mut text = String::new();
                    write_stream(&mut text, stream);
                    Word::Invisible(text)
                } else {
                    Word::Group(delimiter, stream)
                }
            }
        };
        let spaced = match &word {
            Word::Ident(_) | Word::Literal(_) | Word::Invisible(_) => true,
            Word::Group(delimiter, _) => *delimiter == Delimiter::Brace || prev_keyword,
        };
        let lifetime = op.ends_with('\'');
        if lifetime {
            op.pop();
        }
        if !op.is_empty() {
            write_op(out, &op);
            op.clear();
            prev_word = false;
        }
        // A word after a closing `>` is spaced too: `Option<u8> where`, `Vec<T> { .. }`.
        if spaced && !out.ends_with(' ') && (prev_word || out.ends_with('>')) {
            out.push(' ');
        }
        if lifetime {
            out.push('\'');
        }
        // Written in place, not through a `String` each (signatures are rendered for every
        // function).
        let start = out.len();
        let is_keyword = match word {
            Word::Ident(ident) => {
                let _ = write!(out, "{ident}");
                matches!(&out[start..], "mut" | "dyn" | "impl" | "const" | "in" | "as" | "for" | "where")
            }
            Word::Literal(literal) => {
                let _ = write!(out, "{literal}");
                false
            }
            Word::Invisible(text) => {
                out.push_str(&text);
                false
            }
            Word::Group(delimiter, stream) => {
                match delimiter {
                    Delimiter::Parenthesis => write_group(out, "(", stream, ")"),
                    Delimiter::Brace => write_group(out, "{ ", stream, " }"),
                    _ => write_group(out, "[", stream, "]"),
                }
                false
            }
        };
        prev_word = true;
        prev_keyword = is_keyword;
    }
    if !op.is_empty() {
        write_op(out, &op);
    }
    trim_end(out);
}

/// What `write_stream` writes as one word: all but punctuation.
enum Word {
    Ident(proc_macro2::Ident),
    Literal(proc_macro2::Literal),
    /// An invisible group's text.
    Invisible(String),
    /// A bracketed group, which has been let go of.
    Group(Delimiter, TokenStream),
}

/// A bracketed group, its text written after `open` as if it started a text of its own (the
/// rules look back no further than the bracket).
fn write_group(out: &mut String, open: &str, stream: TokenStream, close: &str) {
    out.push_str(open);
    write_stream(out, stream);
    out.push_str(close);
}

/// Writes one operator with the spacing rustfmt would give it in a type or path.
fn write_op(out: &mut String, op: &str) {
    match op {
        "," | ";" | ":" => {
            trim_end(out);
            out.push_str(op);
            out.push(' ');
        }
        "=" | "+" | "->" | "=>" | "==" | "!=" | "+=" | "-=" | "&&" | "||" | "<=" | ">=" => {
            trim_end(out);
            if !out.is_empty() && !out.ends_with(['(', '[', '<']) {
                out.push(' ');
            }
            out.push_str(op);
            out.push(' ');
        }
        _ => out.push_str(op),
    }
}

fn trim_end(out: &mut String) {
    while out.ends_with(' ') {
        out.pop();
    }
}

/// `pub`, `pub(crate)`, `pub(super)`, `pub(in a::b)`, or `private` for an inherited visibility.
pub fn visibility(vis: &Visibility) -> String {
    match vis {
        Visibility::Public(_) => "pub".to_owned(),
        // `pub(self)` is private (an empty `$vis` is transcribed so, see `mbe`).
        Visibility::Restricted(restricted) if restricted.in_token.is_none() && restricted.path.is_ident("self") => {
            "private".to_owned()
        }
        Visibility::Restricted(restricted) => {
            let path = tokens(&restricted.path);
            if restricted.in_token.is_some() { format!("pub(in {path})") } else { format!("pub({path})") }
        }
        Visibility::Inherited => "private".to_owned(),
    }
}

/// The doc comment (`///`, `//!` and `#[doc = "..."]` lines, outer and inner alike, as rustdoc
/// joins them), with the one space that follows `///` removed from each line, as rustdoc shows
/// it. `None` when there is none.
pub fn doc(attrs: &[Attribute]) -> Option<String> {
    let mut lines: Vec<String> = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let Meta::NameValue(nv) = &attr.meta
            && let Expr::Lit(expr) = &nv.value
            && let Lit::Str(text) = &expr.lit
        {
            // `split`, not `lines`: an empty `///` line is an empty paragraph break, kept.
            let value = text.value();
            lines.extend(value.split('\n').map(|line| {
                let line = line.strip_suffix('\r').unwrap_or(line);
                line.strip_prefix(' ').unwrap_or(line).to_owned()
            }));
        }
    }
    let doc = lines.join("\n");
    let doc = doc.trim_end();
    (!doc.is_empty()).then(|| doc.to_owned())
}

/// The value of a `#[path = "..."]` attribute, if the item has one.
pub fn path_attr(attrs: &[Attribute]) -> Option<String> {
    attrs.iter().find_map(|attr| path_value(&attr.meta))
}

/// The `#[cfg_attr(predicate, path = "...")]` attributes as (predicate, path), in source order.
pub fn cfg_path_attrs(attrs: &[Attribute]) -> Vec<(String, String)> {
    let mut paths = Vec::new();
    for attr in attrs {
        let Some((predicate, guarded)) = cfg_attr_parts(&attr.meta) else { continue };
        paths.extend(guarded.iter().filter_map(path_value).map(|path| (predicate.clone(), path)));
    }
    paths
}

/// `"x"` from `path = "x"`.
fn path_value(meta: &Meta) -> Option<String> {
    match meta {
        Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            Expr::Lit(syn::ExprLit { lit: Lit::Str(text), .. }) => Some(text.value()),
            _ => None,
        },
        _ => None,
    }
}

/// Whether one of `attrs` may be an attribute macro: it is none of rustc's built-in attributes
/// and no tool's (`rustfmt::skip`, `clippy::...`, `diagnostic::...`). Derive helpers
/// (`#[serde(...)]`) count too: which names a derive takes is not known here.
pub fn attribute_macro(attrs: &[Attribute]) -> bool {
    /// rustc's built-in attributes that may sit on an item (the Reference's list, and the
    /// unstable ones crates use behind `cfg_attr`).
    const BUILT_IN: &[&str] = &[
        "allow",
        "automatically_derived",
        "cfg",
        "cfg_attr",
        "cold",
        "collapse_debuginfo",
        "const_trait",
        "coverage",
        "crate_name",
        "crate_type",
        "debugger_visualizer",
        "deny",
        "deprecated",
        "derive",
        "doc",
        "expect",
        "export_name",
        "feature",
        "forbid",
        "global_allocator",
        "ignore",
        "inline",
        "instruction_set",
        "link",
        "link_name",
        "link_ordinal",
        "link_section",
        "macro_export",
        "macro_use",
        "must_use",
        "naked",
        "no_builtins",
        "no_implicit_prelude",
        "no_main",
        "no_mangle",
        "no_std",
        "non_exhaustive",
        "optimize",
        "panic_handler",
        "path",
        "proc_macro",
        "proc_macro_attribute",
        "proc_macro_derive",
        "recursion_limit",
        "repr",
        "rustc_const_stable",
        "rustc_const_unstable",
        "should_panic",
        "stable",
        "target_feature",
        "test",
        "bench",
        "track_caller",
        "type_length_limit",
        "unsafe",
        "unstable",
        "used",
        "warn",
        "windows_subsystem",
    ];
    const TOOLS: &[&str] = &["rustfmt", "clippy", "diagnostic", "rustdoc", "rust_analyzer", "miri"];
    attrs.iter().any(|attr| {
        let path = attr.path();
        match path.segments.first() {
            None => false,
            Some(first) if path.segments.len() > 1 => !TOOLS.iter().any(|tool| first.ident == tool),
            // Doc comments are `#[doc]` attributes, by far the most common: answered first.
            Some(first) => first.ident != "doc" && !BUILT_IN.iter().any(|name| first.ident == name),
        }
    })
}

/// The item's `cfg` predicates as written, joined by `, ` (several `#[cfg]` attributes all
/// apply), or `None`. Used to tell cfg-alternative definitions of one name apart.
pub fn cfg(attrs: &[Attribute]) -> Option<String> {
    let mut predicates = Vec::new();
    for attr in attrs {
        cfg_of(&attr.meta, &mut predicates);
    }
    (!predicates.is_empty()).then(|| predicates.join(", "))
}

/// The predicate an attribute puts on its item, if any: `cfg(p)` gives `p`, and
/// `cfg_attr(a, cfg(p))` gives `any(not(a), p)`: the `cfg` applies only where `a` holds
/// (portable-atomic chooses between two definitions of a module this way). `cfg_attr`s nest.
fn cfg_of(meta: &Meta, out: &mut Vec<String>) {
    if let Some(predicate) = rustversion(meta) {
        out.push(predicate);
        return;
    }
    let Meta::List(list) = meta else { return };
    if list.path.is_ident("cfg") {
        let mut text = String::new();
        write_stream(&mut text, list.tokens.clone());
        out.push(text);
        return;
    }
    let Some((condition, metas)) = cfg_attr_parts(meta) else { return };
    let mut guarded = Vec::new();
    for meta in &metas {
        cfg_of(meta, &mut guarded);
    }
    let guarded = match guarded.as_slice() {
        [] => return,
        [one] => one.clone(),
        several => format!("all({})", several.join(", ")),
    };
    out.push(format!("any(not({condition}), {guarded})"));
}

/// The rustversion crate's attributes that keep or drop their item by the compiler's version
/// (`#[rustversion::since(1.79)]`, `#[rustversion::nightly]`, ...), as the predicate
/// `rustversion = "since(1.79)"`, which `cfg::CfgContext` evaluates against the toolchain's
/// version (generic-array declares its `FallibleGenericSequence` twice, one for each side of 1.79).
fn rustversion(meta: &Meta) -> Option<String> {
    // Every attribute of every item comes here (doc comments too): the cheap test first.
    let segments = &meta.path().segments;
    if segments.len() != 2 || segments[0].ident != "rustversion" {
        return None;
    }
    let mut text = segments[1].ident.to_string();
    if !matches!(text.as_str(), "stable" | "beta" | "nightly" | "since" | "before" | "not" | "any" | "all") {
        return None;
    }
    match meta {
        Meta::Path(_) => {}
        Meta::List(list) => {
            let mut args = String::new();
            write_stream(&mut args, list.tokens.clone());
            text.push('(');
            text.extend(args.chars().filter(|c| !c.is_whitespace()));
            text.push(')');
        }
        Meta::NameValue(_) => return None,
    }
    // Its text goes inside a string literal of the predicate.
    (!text.contains(['"', '\\'])).then(|| format!("rustversion = \"{text}\""))
}

/// A `cfg_attr(predicate, attr, ...)`'s predicate, as text, and the attributes it guards.
pub(super) fn cfg_attr_parts(meta: &Meta) -> Option<(String, Vec<Meta>)> {
    let Meta::List(list) = meta else { return None };
    if !list.path.is_ident("cfg_attr") {
        return None;
    }
    let parser = syn::punctuated::Punctuated::<Meta, syn::Token![,]>::parse_terminated;
    let metas = list.parse_args_with(parser).ok()?;
    let mut metas = metas.into_iter();
    let predicate = metas.next()?;
    let mut text = String::new();
    write_stream(&mut text, predicate.to_token_stream());
    Some((text, metas.collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(text: &str) -> String {
        tokens(&syn::parse_str::<syn::Type>(text).unwrap())
    }

    #[test]
    fn types_render_compactly() {
        assert_eq!(ty("Vec < Option < T > >"), "Vec<Option<T>>");
        assert_eq!(ty("& 'a mut [ u8 ]"), "&'a mut [u8]");
        assert_eq!(ty("HashMap<K,V>"), "HashMap<K, V>");
        assert_eq!(ty("dyn Fn(u8)->u8 + Send"), "dyn Fn(u8) -> u8 + Send");
        assert_eq!(ty("<T as Trait>::Out"), "<T as Trait>::Out");
        assert_eq!(ty("[u8; 4]"), "[u8; 4]");
        assert_eq!(ty("impl Iterator<Item = &'static str>"), "impl Iterator<Item = &'static str>");
        assert_eq!(ty("(A, B)"), "(A, B)");
        assert_eq!(ty("Vec<u8>::Item"), "Vec<u8>::Item");
        assert_eq!(ty("fn(Box<u8>) -> u8"), "fn(Box<u8>) -> u8");
    }

    #[test]
    fn cfg_under_cfg_attr_holds_where_its_condition_does() {
        let cfg_of = |text: &str| cfg(&syn::parse_str::<syn::ItemStruct>(text).unwrap().attrs);
        assert_eq!(cfg_of("#[cfg(unix)] #[cfg(feature = \"x\")] struct A;").as_deref(), Some("unix, feature = \"x\""));
        assert_eq!(cfg_of("#[cfg_attr(a, cfg(b))] struct A;").as_deref(), Some("any(not(a), b)"));
        assert_eq!(
            cfg_of("#[cfg(x)] #[cfg_attr(not(a), allow(dead_code), cfg(b), cfg(c))] struct A;").as_deref(),
            Some("x, any(not(not(a)), all(b, c))")
        );
        assert_eq!(
            cfg_of("#[cfg_attr(a, cfg_attr(b, cfg(c)))] struct A;").as_deref(),
            Some("any(not(a), any(not(b), c))")
        );
        // A `cfg_attr` that guards no `cfg` puts no predicate on its item.
        assert_eq!(cfg_of("#[cfg_attr(a, derive(Debug))] #[derive(Clone)] struct A;"), None);
        // The predicate is one cfg-expr reads, and holds as rustc's would.
        let target = std::sync::Arc::new(crate::cfg::Target::detect(None));
        let context = crate::cfg::CfgContext::new(target, Default::default(), false, false)
            .with_build_script_cfgs(&["b".to_owned()]);
        assert!(context.allows(cfg_of("#[cfg_attr(a, cfg(b))] struct A;").as_deref()));
        assert!(context.allows(cfg_of("#[cfg_attr(b, cfg(b))] struct A;").as_deref()));
        assert!(!context.allows(cfg_of("#[cfg_attr(b, cfg(a))] struct A;").as_deref()));
        assert!(context.allows(cfg_of("#[cfg_attr(a, cfg(a))] struct A;").as_deref()));
    }

    #[test]
    fn visibilities() {
        let vis = |text: &str| visibility(&syn::parse_str::<Visibility>(text).unwrap());
        assert_eq!(vis("pub"), "pub");
        assert_eq!(vis("pub(crate)"), "pub(crate)");
        assert_eq!(vis("pub(in crate::a)"), "pub(in crate::a)");
        assert_eq!(vis(""), "private");
    }

    #[test]
    fn doc_and_cfg_and_path() {
        let item: syn::ItemFn = syn::parse_str(
            "/// First line.\n///\n///   indented\n#[cfg(unix)]\n#[cfg(feature = \"x\")]\n#[path = \"p.rs\"]\nfn f() {}",
        )
        .unwrap();
        assert_eq!(doc(&item.attrs).as_deref(), Some("First line.\n\n  indented"));
        assert_eq!(cfg(&item.attrs).as_deref(), Some("unix, feature = \"x\""));
        assert_eq!(path_attr(&item.attrs).as_deref(), Some("p.rs"));
        let item: syn::ItemMod = syn::parse_str(
            "#[cfg_attr(unix, path = \"sys/unix.rs\")]\n#[cfg_attr(windows, allow(x), path = \"sys/windows.rs\")]\nmod sys;",
        )
        .unwrap();
        let found = cfg_path_attrs(&item.attrs);
        assert_eq!(found[0], ("unix".to_owned(), "sys/unix.rs".to_owned()));
        assert_eq!(found[1], ("windows".to_owned(), "sys/windows.rs".to_owned()));
    }
}
