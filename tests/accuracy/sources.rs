//! The source text of a package, as far as the comparison needs it: where a file's macro calls
//! are (the line ranges of every `name!(...)`, `name! { ... }` and `macro_rules!` definition: an
//! item rustdoc places on such a line came out of a macro expansion), which items carry a
//! `#[cfg]` that names `doc`, where the `derive` attributes are, and the text at a span. Files
//! are read and parsed with syn once, on first use.

use std::collections::BTreeMap;
use std::path::PathBuf;

use proc_macro2::{TokenStream, TokenTree};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Attribute, ForeignItem, ImplItem, Item, TraitItem};

pub struct Sources {
    package_dir: PathBuf,
    /// Per package-relative file; `None` when the file cannot be read.
    files: BTreeMap<String, Option<FileFacts>>,
}

struct FileFacts {
    text: String,
    /// `None` when syn cannot parse the file: then nothing in it counts as macro-expanded or
    /// `cfg(doc)`.
    ranges: Option<Ranges>,
}

/// (first, last) lines, sorted.
#[derive(Default)]
struct Ranges {
    macro_calls: Vec<(u32, u32)>,
    doc_cfg: Vec<(u32, u32)>,
    /// `#[derive(...)]` attributes, and `#[cfg_attr(..., derive(...))]` ones.
    derives: Vec<(u32, u32)>,
}

impl Sources {
    pub fn new(package_dir: PathBuf) -> Sources {
        Sources { package_dir, files: BTreeMap::new() }
    }

    /// The lines of the outermost macro call that `line` of `file` is in, if any.
    pub fn macro_call_at(&mut self, file: &str, line: u32) -> Option<(u32, u32)> {
        let ranges = self.file(file)?.ranges.as_ref()?;
        ranges.macro_calls.iter().copied().filter(|&(first, last)| first <= line && line <= last).min()
    }

    /// Whether `line` of `file` is inside an item (or a macro call) whose `#[cfg]` names `doc`:
    /// rustdoc sets `cfg(doc)`, a build does not, so the two disagree there by design.
    pub fn under_doc_cfg(&mut self, file: &str, line: u32) -> bool {
        self.file(file).and_then(|facts| facts.ranges.as_ref()).is_some_and(|ranges| covers(&ranges.doc_cfg, line))
    }

    /// Whether `line` of `file` is inside a `derive` attribute: rustdoc places the impls a derive
    /// macro makes at the derive's name, whether or not the macro marks them
    /// `#[automatically_derived]` (zerocopy's, for one, do not).
    pub fn in_derive(&mut self, file: &str, line: u32) -> bool {
        self.file(file).and_then(|facts| facts.ranges.as_ref()).is_some_and(|ranges| covers(&ranges.derives, line))
    }

    /// The text of a one-line span: `begin` and `end` are rustdoc's (line, column), 1-based, the
    /// end column just past the span, columns counted in characters.
    pub fn span_text(&mut self, file: &str, begin: (u32, u32), end: (u32, u32)) -> Option<String> {
        if begin.0 != end.0 || begin.0 == 0 || begin.1 == 0 || end.1 < begin.1 {
            return None;
        }
        let line = self.file(file)?.text.lines().nth(begin.0 as usize - 1)?;
        Some(line.chars().skip(begin.1 as usize - 1).take((end.1 - begin.1) as usize).collect())
    }

    fn file(&mut self, file: &str) -> Option<&FileFacts> {
        let package_dir = &self.package_dir;
        self.files
            .entry(file.to_owned())
            .or_insert_with(|| {
                let text = std::fs::read_to_string(package_dir.join(file)).ok()?;
                let ranges = syn::parse_file(&text).ok().map(|syntax| {
                    let mut ranges = Ranges::default();
                    ranges.visit_file(&syntax);
                    ranges.macro_calls.sort_unstable();
                    ranges.doc_cfg.sort_unstable();
                    ranges.derives.sort_unstable();
                    ranges
                });
                Some(FileFacts { text, ranges })
            })
            .as_ref()
    }
}

/// Whether one of the (first, last) line ranges holds `line`.
fn covers(ranges: &[(u32, u32)], line: u32) -> bool {
    ranges.iter().any(|&(first, last)| first <= line && line <= last)
}

fn lines(node: &impl Spanned) -> (u32, u32) {
    let span = node.span();
    (span.start().line as u32, span.end().line as u32)
}

/// Whether one of `attrs` is a `#[cfg(...)]` that names `doc` anywhere in its predicate.
fn names_doc(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|attr| attr.path().is_ident("cfg") && arguments_name(attr, "doc"))
}

/// Whether `attr` is `#[derive(...)]`, or a `#[cfg_attr(...)]` whose attributes hold one.
fn is_derive(attr: &Attribute) -> bool {
    attr.path().is_ident("derive") || (attr.path().is_ident("cfg_attr") && arguments_name(attr, "derive"))
}

/// Whether the identifier `name` is anywhere in the attribute's arguments.
fn arguments_name(attr: &Attribute, name: &str) -> bool {
    fn names(tokens: TokenStream, name: &str) -> bool {
        tokens.into_iter().any(|tree| match tree {
            TokenTree::Ident(ident) => ident == name,
            TokenTree::Group(group) => names(group.stream(), name),
            _ => false,
        })
    }
    attr.meta.require_list().is_ok_and(|list| names(list.tokens.clone(), name))
}

fn item_attrs(item: &Item) -> &[Attribute] {
    match item {
        Item::Const(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::ExternCrate(i) => &i.attrs,
        Item::Fn(i) => &i.attrs,
        Item::ForeignMod(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Struct(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::TraitAlias(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Union(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

fn impl_item_attrs(item: &ImplItem) -> &[Attribute] {
    match item {
        ImplItem::Const(i) => &i.attrs,
        ImplItem::Fn(i) => &i.attrs,
        ImplItem::Type(i) => &i.attrs,
        ImplItem::Macro(i) => &i.attrs,
        _ => &[],
    }
}

fn trait_item_attrs(item: &TraitItem) -> &[Attribute] {
    match item {
        TraitItem::Const(i) => &i.attrs,
        TraitItem::Fn(i) => &i.attrs,
        TraitItem::Type(i) => &i.attrs,
        TraitItem::Macro(i) => &i.attrs,
        _ => &[],
    }
}

fn foreign_item_attrs(item: &ForeignItem) -> &[Attribute] {
    match item {
        ForeignItem::Fn(i) => &i.attrs,
        ForeignItem::Static(i) => &i.attrs,
        ForeignItem::Type(i) => &i.attrs,
        ForeignItem::Macro(i) => &i.attrs,
        _ => &[],
    }
}

impl<'ast> Visit<'ast> for Ranges {
    fn visit_attribute(&mut self, attr: &'ast Attribute) {
        if is_derive(attr) {
            self.derives.push(lines(attr));
        }
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        let first = mac.path.segments.first().map_or(0, |segment| segment.ident.span().start().line);
        let last = mac.delimiter.span().close().end().line;
        self.macro_calls.push((first as u32, last as u32));
    }

    fn visit_item(&mut self, node: &'ast Item) {
        if names_doc(item_attrs(node)) {
            self.doc_cfg.push(lines(node));
        }
        syn::visit::visit_item(self, node);
    }

    fn visit_impl_item(&mut self, node: &'ast ImplItem) {
        if names_doc(impl_item_attrs(node)) {
            self.doc_cfg.push(lines(node));
        }
        syn::visit::visit_impl_item(self, node);
    }

    fn visit_trait_item(&mut self, node: &'ast TraitItem) {
        if names_doc(trait_item_attrs(node)) {
            self.doc_cfg.push(lines(node));
        }
        syn::visit::visit_trait_item(self, node);
    }

    fn visit_foreign_item(&mut self, node: &'ast ForeignItem) {
        if names_doc(foreign_item_attrs(node)) {
            self.doc_cfg.push(lines(node));
        }
        syn::visit::visit_foreign_item(self, node);
    }

    fn visit_field(&mut self, node: &'ast syn::Field) {
        if names_doc(&node.attrs) {
            self.doc_cfg.push(lines(node));
        }
        syn::visit::visit_field(self, node);
    }

    fn visit_variant(&mut self, node: &'ast syn::Variant) {
        if names_doc(&node.attrs) {
            self.doc_cfg.push(lines(node));
        }
        syn::visit::visit_variant(self, node);
    }
}
