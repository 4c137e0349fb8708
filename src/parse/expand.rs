//! Item-position macro calls, expanded where syntax alone can do it.
//!
//! A call is kept as text (`MacroCall`) whose tokens sit at their original lines and columns, so
//! that it can be expanded once the crate's `macro_rules!` definitions are all known (they may be
//! in any file), on any thread, and still give items their real lines. Two shapes of local
//! definitions are expanded: an arm without arguments (`() => { pub mod de; ... }`, serde's
//! `crate_root!`), and an arm that takes items and wraps each one (`($($item:item)*) => {
//! $( #[cfg(feature = "rt")] $item )* }`, tokio's and mio's `cfg_*!` wrappers). Any other call
//! whose body parses as items passes them through unchanged, as most wrappers do; anything else
//! declares nothing we can see.

use proc_macro2::{Delimiter, Group, Spacing, TokenStream, TokenTree};

use super::{Body, PathRef, SyntaxError, items, line, parse_syntax_with, unraw};

/// An item-position macro call (`name! { ... }`), with its body as positioned text.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MacroCall {
    pub path: PathRef,
    /// The tokens between the delimiters, at their original lines and columns.
    pub body: String,
    pub line: u32,
    /// The call's own `#[cfg(...)]` predicates.
    pub cfg: Option<String>,
}

impl MacroCall {
    pub fn new(mac: &syn::Macro, cfg: Option<String>) -> MacroCall {
        MacroCall {
            path: PathRef::from_path(&mac.path),
            body: positioned_text(&mac.tokens),
            line: line(mac.path.segments.first().map_or_else(proc_macro2::Span::call_site, |s| s.ident.span())),
            cfg,
        }
    }

    /// The macro's name: the path's last segment.
    pub fn name(&self) -> &str {
        self.path.segments.last().map_or("", String::as_str)
    }
}

/// A `macro_rules!` definition's body (its arms), as positioned text.
pub fn definition_text(mac: &syn::Macro) -> String {
    positioned_text(&mac.tokens)
}

/// Writes `tokens` as text in which every token starts at its original line and column, so that
/// lexing the text again gives the same spans.
fn positioned_text(tokens: &TokenStream) -> String {
    let mut out = Writer { text: String::new(), line: 1, column: 0 };
    out.stream(tokens.clone());
    out.text
}

struct Writer {
    text: String,
    line: usize,
    column: usize,
}

impl Writer {
    fn move_to(&mut self, at: proc_macro2::LineColumn) {
        while self.line < at.line {
            self.text.push('\n');
            self.line += 1;
            self.column = 0;
        }
        if self.line == at.line {
            while self.column < at.column {
                self.text.push(' ');
                self.column += 1;
            }
        }
    }

    fn write(&mut self, text: &str) {
        for c in text.chars() {
            if c == '\n' {
                self.line += 1;
                self.column = 0;
            } else {
                self.column += 1;
            }
        }
        self.text.push_str(text);
    }

    /// Moves to `at` when it lies ahead; when it does not (tokens whose positions collapse, as a
    /// doc comment's `#[doc = ...]` do), separates the tokens with a space unless `joint`.
    fn advance(&mut self, at: proc_macro2::LineColumn, joint: bool) {
        if (at.line, at.column) > (self.line, self.column) {
            self.move_to(at);
        } else if !joint && !self.text.is_empty() && !self.text.ends_with([' ', '\n']) {
            self.write(" ");
        }
    }

    fn stream(&mut self, tokens: TokenStream) {
        let mut joint = false;
        for tree in tokens {
            self.advance(tree.span().start(), joint);
            joint = false;
            match tree {
                TokenTree::Group(group) => {
                    let (open, close) = match group.delimiter() {
                        Delimiter::Parenthesis => ("(", ")"),
                        Delimiter::Brace => ("{", "}"),
                        Delimiter::Bracket => ("[", "]"),
                        Delimiter::None => ("", ""),
                    };
                    self.write(open);
                    self.stream(group.stream());
                    self.advance(group.span_close().start(), true);
                    self.write(close);
                }
                TokenTree::Punct(punct) => {
                    self.write(&punct.as_char().to_string());
                    joint = punct.spacing() == Spacing::Joint;
                }
                TokenTree::Ident(ident) => self.write(&ident.to_string()),
                TokenTree::Literal(literal) => self.write(&literal.to_string()),
            }
        }
    }
}

/// The items a call declares: through `definition` (a local `macro_rules!` body) when its
/// shape is one we expand, else by passing the call's body through when it parses as items.
/// `Ok(None)` when nothing can be seen.
pub fn expand(call: &MacroCall, definition: Option<&str>) -> Result<Option<Body>, SyntaxError> {
    let body = lex(&call.body)?;
    if let Some(definition) = definition
        && let Some(expansion) = transcribe(&lex(definition)?, &body)
    {
        let mut expanded = parse_items(expansion.tokens)?;
        if expansion.from_definition {
            // Items written in the definition are placed, as rustdoc places them, at the call.
            relocate(&mut expanded.items, call.line);
        }
        return Ok(Some(expanded));
    }
    // A body that does not parse as items is not an error: the macro makes something else.
    Ok(parse_items(body).ok())
}

fn lex(text: &str) -> Result<TokenStream, SyntaxError> {
    super::lex(text)
}

fn parse_items(tokens: TokenStream) -> Result<Body, SyntaxError> {
    let file: syn::File = parse_syntax_with(tokens)?;
    Ok(items(&file.items))
}

fn relocate(items: &mut [super::ItemFacts], line: u32) {
    for item in items {
        item.line = line;
        item.end_line = line;
        relocate(&mut item.children, line);
    }
}

struct Expansion {
    tokens: TokenStream,
    /// The items come from the definition's text, not from the call's.
    from_definition: bool,
}

/// Matches `body` against the definition's arms, in order, and transcribes the first that
/// matches, if its shape is one we handle.
fn transcribe(definition: &TokenStream, body: &TokenStream) -> Option<Expansion> {
    let trees: Vec<TokenTree> = definition.clone().into_iter().collect();
    // Arms: `(matcher) => {transcriber}` separated by `;`.
    let mut index = 0;
    while index + 3 < trees.len() + 1 {
        let (
            TokenTree::Group(matcher),
            Some(TokenTree::Punct(eq)),
            Some(TokenTree::Punct(gt)),
            Some(TokenTree::Group(transcriber)),
        ) = (&trees[index], trees.get(index + 1), trees.get(index + 2), trees.get(index + 3))
        else {
            return None;
        };
        if eq.as_char() != '=' || gt.as_char() != '>' {
            return None;
        }
        if let Some(expansion) = arm(matcher, transcriber, body) {
            return Some(expansion);
        }
        index += 4;
        if matches!(trees.get(index), Some(TokenTree::Punct(semi)) if semi.as_char() == ';') {
            index += 1;
        }
        if index >= trees.len() {
            break;
        }
    }
    None
}

fn arm(matcher: &Group, transcriber: &Group, body: &TokenStream) -> Option<Expansion> {
    let pattern: Vec<TokenTree> = matcher.stream().into_iter().collect();
    if pattern.is_empty() {
        if !body.is_empty() {
            return None;
        }
        // With no metavariables bound, `$x` is left as it is (as in a nested `macro_rules!`).
        return Some(Expansion { tokens: dollar_crate(transcriber.stream()), from_definition: true });
    }
    let name = item_repetition(&pattern)?;
    let body_items = split_items(body)?;
    let tokens = substitute(transcriber.stream(), &name, &body_items)?;
    Some(Expansion { tokens, from_definition: false })
}

/// The variable `x` of a matcher that is exactly `$($x:item)*`.
fn item_repetition(pattern: &[TokenTree]) -> Option<String> {
    let [TokenTree::Punct(dollar), TokenTree::Group(group), TokenTree::Punct(star)] = pattern else { return None };
    if dollar.as_char() != '$' || star.as_char() != '*' || group.delimiter() != Delimiter::Parenthesis {
        return None;
    }
    let inner: Vec<TokenTree> = group.stream().into_iter().collect();
    match inner.as_slice() {
        [TokenTree::Punct(d), TokenTree::Ident(name), TokenTree::Punct(colon), TokenTree::Ident(kind)]
            if d.as_char() == '$' && colon.as_char() == ':' && kind == "item" =>
        {
            Some(unraw(name))
        }
        _ => None,
    }
}

/// The call's items, each as its own tokens; `None` when the body is not all items.
fn split_items(body: &TokenStream) -> Option<Vec<TokenStream>> {
    use quote::ToTokens;
    let file: syn::File = syn::parse2(body.clone()).ok()?;
    Some(file.items.iter().map(|item| item.to_token_stream()).collect())
}

/// The transcriber with `$( ... $name ... )*` repeated once per item and `$crate` made `crate`.
/// Any other metavariable makes the shape one we do not handle.
fn substitute(transcriber: TokenStream, name: &str, items: &[TokenStream]) -> Option<TokenStream> {
    let trees: Vec<TokenTree> = transcriber.into_iter().collect();
    let mut out: Vec<TokenTree> = Vec::new();
    let mut index = 0;
    while index < trees.len() {
        match &trees[index] {
            TokenTree::Punct(dollar) if dollar.as_char() == '$' => match trees.get(index + 1) {
                Some(TokenTree::Ident(ident)) if ident == "crate" => {
                    out.push(TokenTree::Ident(proc_macro2::Ident::new("crate", ident.span())));
                    index += 2;
                }
                Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Parenthesis => {
                    // `$( ... )*`, possibly with a separator before the `*`.
                    let mut end = index + 2;
                    if !matches!(trees.get(end), Some(TokenTree::Punct(p)) if p.as_char() == '*') {
                        end += 1;
                    }
                    if !matches!(trees.get(end), Some(TokenTree::Punct(p)) if p.as_char() == '*') {
                        return None;
                    }
                    for item in items {
                        out.extend(substitute_one(group.stream(), name, item)?);
                    }
                    index = end + 1;
                }
                _ => return None,
            },
            TokenTree::Group(group) => {
                let mut inner = Group::new(group.delimiter(), substitute(group.stream(), name, items)?);
                inner.set_span(group.span());
                out.push(TokenTree::Group(inner));
                index += 1;
            }
            other => {
                out.push(other.clone());
                index += 1;
            }
        }
    }
    Some(out.into_iter().collect())
}

/// One repetition: `$name` replaced by `item`, `$crate` by `crate`.
fn substitute_one(tokens: TokenStream, name: &str, item: &TokenStream) -> Option<Vec<TokenTree>> {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::new();
    let mut index = 0;
    while index < trees.len() {
        match (&trees[index], trees.get(index + 1)) {
            (TokenTree::Punct(dollar), Some(TokenTree::Ident(ident))) if dollar.as_char() == '$' => {
                if ident == name {
                    out.extend(item.clone());
                } else if ident == "crate" {
                    out.push(TokenTree::Ident(proc_macro2::Ident::new("crate", ident.span())));
                } else {
                    return None;
                }
                index += 2;
            }
            (TokenTree::Punct(dollar), _) if dollar.as_char() == '$' => return None,
            (TokenTree::Group(group), _) => {
                let mut inner =
                    Group::new(group.delimiter(), substitute_one(group.stream(), name, item)?.into_iter().collect());
                inner.set_span(group.span());
                out.push(TokenTree::Group(inner));
                index += 1;
            }
            (other, _) => {
                out.push(other.clone());
                index += 1;
            }
        }
    }
    Some(out)
}

/// `tokens` with `$crate` made `crate`.
fn dollar_crate(tokens: TokenStream) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(trees.len());
    let mut index = 0;
    while index < trees.len() {
        match (&trees[index], trees.get(index + 1)) {
            (TokenTree::Punct(dollar), Some(TokenTree::Ident(ident)))
                if dollar.as_char() == '$' && ident == "crate" =>
            {
                out.push(TokenTree::Ident(proc_macro2::Ident::new("crate", ident.span())));
                index += 2;
                continue;
            }
            (TokenTree::Group(group), _) => {
                let mut inner = Group::new(group.delimiter(), dollar_crate(group.stream()));
                inner.set_span(group.span());
                out.push(TokenTree::Group(inner));
            }
            (other, _) => out.push(other.clone()),
        }
        index += 1;
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(text: &str) -> MacroCall {
        let file: syn::File = syn::parse_str(text).unwrap();
        let syn::Item::Macro(item) = &file.items[0] else { panic!("not a macro call") };
        MacroCall::new(&item.mac, None)
    }

    fn definition(text: &str) -> String {
        let file: syn::File = syn::parse_str(text).unwrap();
        let syn::Item::Macro(item) = &file.items[0] else { panic!("not a macro") };
        definition_text(&item.mac)
    }

    fn names(body: &Body) -> Vec<String> {
        body.items.iter().map(|item| format!("{} {} {} {:?}", item.kind, item.name, item.line, item.cfg)).collect()
    }

    #[test]
    fn positioned_text_keeps_lines_and_columns() {
        let call = call("wrap! {\n    /// Doc.\n    pub fn a() {}\n\n    mod b;\n}\n");
        let again = lex(&call.body).unwrap();
        let lines: Vec<(usize, usize)> =
            again.into_iter().map(|tree| (tree.span().start().line, tree.span().start().column)).collect();
        assert_eq!(lines[0], (2, 4), "the doc comment");
        assert!(lines.contains(&(3, 4)), "`pub` of `pub fn a`: {lines:?}");
        assert!(lines.contains(&(5, 4)), "`mod b`: {lines:?}");
    }

    #[test]
    fn wrappers_add_their_attributes_to_each_item() {
        let definition =
            definition("macro_rules! cfg_rt { ($($item:item)*) => { $( #[cfg(feature = \"rt\")] $item )* } }");
        let call = call("cfg_rt! {\n    pub mod runtime;\n    pub fn spawn() {}\n}");
        let body = expand(&call, Some(&definition)).unwrap().unwrap();
        assert_eq!(
            names(&body),
            ["module runtime 2 Some(\"feature = \\\"rt\\\"\")", "function spawn 3 Some(\"feature = \\\"rt\\\"\")"]
        );
    }

    #[test]
    fn argument_less_macros_declare_their_own_items_at_the_call() {
        let definition = definition(
            "macro_rules! crate_root { () => { pub mod de; mod private; pub use $crate::de::X; \
             macro_rules! tri { ($e:expr) => { $e } } }; }",
        );
        let call = call("\n\ncrate_root!();");
        let body = expand(&call, Some(&definition)).unwrap().unwrap();
        assert_eq!(names(&body), ["module de 3 None", "module private 3 None", "macro tri 3 None"]);
        assert_eq!(body.refs.uses.len(), 1);
    }

    #[test]
    fn other_shapes_pass_items_through_or_declare_nothing() {
        let definition = definition("macro_rules! m { ($name:ident) => { struct $name; } }");
        let through = expand(&call("m! { fn f() {} }"), Some(&definition)).unwrap().unwrap();
        assert_eq!(names(&through), ["function f 1 None"]);
        assert!(expand(&call("m!(Foo);"), Some(&definition)).unwrap().is_none());
        assert!(expand(&call("lazy_static! { static ref X: u8 = 1; }"), None).unwrap().is_none());
    }
}
