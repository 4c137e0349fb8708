//! Item-position macro calls (and calls in statement position in a const's initializer), and
//! their expansion.
//!
//! A call is kept as text (`MacroCall`) whose tokens sit at their original lines and columns, so
//! that it can be expanded once the crate's `macro_rules!` definitions are all known (they may be
//! in any file, or in a dependency), on any thread, and still give items their real lines. The
//! engine (`mbe`) matches the call against the definition's arms and transcribes the first that
//! matches; what the definition itself writes is placed at the call's line, what the call passed
//! in keeps its own lines (as rustdoc places them). A call whose macro is not known passes its
//! body through when it parses as items, as most wrappers do. This module knows nothing of
//! where a definition is found: the caller (`index`) looks it up.

use std::fmt::Write as _;

use proc_macro2::{Delimiter, Ident, Punct, Spacing, Span, TokenStream, TokenTree};

use super::mbe::{MAX_MADE, MacroRules, MbeError};
use super::refs::{BodyMacro, Collector, Refs};
use super::{Body, LineMap, PathRef, SyntaxError, file_line, items, line, parse_syntax_with, regroup, with_lines};

/// An item-position macro call (`name! { ... }`), with its body as positioned text.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MacroCall {
    pub path: PathRef,
    /// The tokens between the delimiters, at their original columns and at their lines counted
    /// from the call's: the text's first line is `line`. Lexing it costs the body's size, not the
    /// size of the file above the call (`with_lines` maps the lines back).
    pub body: String,
    /// The line of the macro's path, in the file.
    pub line: u32,
    /// The call's own `#[cfg(...)]` predicates.
    pub cfg: Option<String>,
    /// Where the body's text goes back to an earlier line of the file, or skips more than
    /// `MAX_GAP` lines down (`LineMap::jumps`): back only in calls an expansion made, whose tokens
    /// come from the definition and the outer call.
    pub jumps: Vec<(u32, u32)>,
    /// The `macro_rules!` that the expansion which made this call defined before it, without a
    /// `cfg` of its own: textual scope makes it the call's macro, whatever other definitions of
    /// the name the module has (diesel's `static_cond!` defines `__static_cond!` anew at each
    /// call and calls it at once, so one module holds many of them, all at one line).
    pub local_definition: Option<String>,
}

impl MacroCall {
    pub fn new(mac: &syn::Macro, cfg: Option<String>) -> MacroCall {
        let start = mac.path.segments.first().map_or_else(proc_macro2::Span::call_site, |s| s.ident.span());
        let line = line(start);
        let (body, jumps) = positioned_text(&mac.tokens, line);
        MacroCall { path: PathRef::from_path(&mac.path), body, line, cfg, jumps, local_definition: None }
    }

    /// Where the lines of the body's text lie in the file.
    fn lines(&self) -> LineMap {
        LineMap { base: self.line.saturating_sub(1), jumps: self.jumps.clone() }
    }

    /// How many lines below the call's line its text reaches in the file: its line breaks, or,
    /// when the text jumps (`jumps`), the furthest line any of its text lines stands for.
    pub fn lines_below(&self) -> u32 {
        let breaks = memchr::memchr_iter(b'\n', self.body.as_bytes()).count();
        let last = u32::try_from(breaks).unwrap_or(u32::MAX).saturating_add(1);
        let lines = self.lines();
        // A text line before each jump ends a run of consecutive lines, as the last line does.
        let ends = self.jumps.iter().map(|&(text_line, _)| text_line.saturating_sub(1)).filter(|&end| end > 0);
        ends.chain([last]).map(|end| lines.file_line(end)).max().unwrap_or(self.line).saturating_sub(self.line)
    }

    /// Calls `f` with the call's line (and how many lines below it its text reaches) and with
    /// each file line its text jumps to (see `Refs::visit_lines`).
    pub fn visit_lines(&mut self, f: &mut dyn FnMut(&mut u32, u32)) {
        let span = self.lines_below();
        f(&mut self.line, span);
        for (_, line) in &mut self.jumps {
            f(line, 0);
        }
    }

    /// The macro's name: the path's last segment.
    pub fn name(&self) -> &str {
        self.path.segments.last().map_or("", String::as_str)
    }
}

/// The file an `include!(...)` call names: a string literal, or `concat!` of string literals
/// and `env!("NAME")` (`include!(concat!(env!("OUT_DIR"), "/generated.rs"))`), the variables
/// looked up through `env`. `None` when the argument is anything else or names a variable `env`
/// does not know.
pub fn include_path(call: &MacroCall, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let tokens = call.body.parse::<TokenStream>().ok()?;
    let parts = syn::parse::Parser::parse2(include_argument, tokens).ok()?;
    let mut path = String::new();
    for part in parts {
        match part {
            Part::Text(text) => path.push_str(&text),
            Part::Env(name) => path.push_str(&env(&name)?),
        }
    }
    Some(path)
}

enum Part {
    Text(String),
    Env(String),
}

fn include_argument(input: syn::parse::ParseStream<'_>) -> syn::Result<Vec<Part>> {
    let parts = include_part(input)?;
    let _ = input.parse::<Option<syn::Token![,]>>()?;
    Ok(parts)
}

/// A string literal, `env!("NAME")`, or `concat!(...)` of those.
fn include_part(input: syn::parse::ParseStream<'_>) -> syn::Result<Vec<Part>> {
    if input.peek(syn::LitStr) {
        return Ok(vec![Part::Text(input.parse::<syn::LitStr>()?.value())]);
    }
    let mac: syn::Macro = input.parse()?;
    if mac.path.is_ident("env") {
        let name: syn::LitStr = mac.parse_body()?;
        return Ok(vec![Part::Env(name.value())]);
    }
    if mac.path.is_ident("concat") {
        return mac.parse_body_with(|input: syn::parse::ParseStream<'_>| {
            let mut parts = Vec::new();
            while !input.is_empty() {
                parts.extend(include_part(input)?);
                if !input.is_empty() {
                    input.parse::<syn::Token![,]>()?;
                }
            }
            Ok(parts)
        });
    }
    Err(input.error("not a path `include!` can follow"))
}

/// A `macro_rules!` definition's body (its arms), as text laid out as written (its lines counted
/// from the definition's: where a definition's tokens were written never reaches an expansion,
/// which places them at the call).
///
/// A definition exported with `#[macro_export(local_inner_macros)]` (`local_inner_macros`) names
/// the macros its expansions call as its own crate's: each single-segment call in its
/// transcribers is written `$crate::name!`, as rustc reads them (bitflags 1's recursive
/// `bitflags! { $($t)* }` is bitflags' own, not a same-named macro where it is called).
pub fn definition_text(mac: &syn::Macro, local_inner_macros: bool) -> String {
    let start = mac.path.segments.first().map_or_else(proc_macro2::Span::call_site, |s| s.ident.span());
    if !local_inner_macros {
        return positioned_text(&mac.tokens, line(start)).0;
    }
    // The arms: `(matcher) => {transcriber}`, separated by `;`.
    let trees: Vec<TokenTree> = mac.tokens.clone().into_iter().collect();
    let arrow = |at: usize| {
        matches!((at.checked_sub(2).map(|i| &trees[i]), at.checked_sub(1).map(|i| &trees[i])),
            (Some(TokenTree::Punct(eq)), Some(TokenTree::Punct(gt))) if eq.as_char() == '=' && gt.as_char() == '>')
    };
    let tokens = trees
        .iter()
        .enumerate()
        .map(|(at, tree)| match tree {
            TokenTree::Group(group) if arrow(at) => regroup(group, crate_qualified_calls),
            tree => tree.clone(),
        })
        .collect();
    positioned_text(&tokens, line(start)).0
}

/// Rust's keywords (strict and reserved) and `macro_rules`: no macro call is named so, and some
/// stand before a `!` that is no call (`if !done`, `return !ok`).
const NOT_MACRO_NAMES: &[&str] = &[
    "abstract",
    "as",
    "async",
    "await",
    "become",
    "box",
    "break",
    "const",
    "continue",
    "crate",
    "do",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "final",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "macro",
    "macro_rules",
    "match",
    "mod",
    "move",
    "mut",
    "override",
    "priv",
    "pub",
    "ref",
    "return",
    "self",
    "Self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "try",
    "type",
    "typeof",
    "unsafe",
    "unsized",
    "use",
    "virtual",
    "where",
    "while",
    "yield",
];

/// `tokens` with `$crate::` before each single-segment macro call (`name!`, not `$name!`,
/// `path::name!`, `macro_rules!`, nor a keyword before a `!`: `if !done`), at the name's position.
/// Recurses into groups as `positioned_text` does, on the stack the file is parsed on (sized for
/// its nesting, `parse::MAX_NESTING`).
fn crate_qualified_calls(tokens: TokenStream) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(trees.len());
    for (at, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Ident(name) => {
                let bang = matches!(trees.get(at + 1), Some(TokenTree::Punct(p)) if p.as_char() == '!' && p.spacing() == Spacing::Alone);
                let qualified = at.checked_sub(1).is_some_and(
                    |before| matches!(&trees[before], TokenTree::Punct(p) if p.as_char() == ':' || p.as_char() == '$'),
                );
                if bang && !qualified && !NOT_MACRO_NAMES.contains(&name.to_string().as_str()) {
                    let span = name.span();
                    let punct = |c, spacing| {
                        let mut punct = Punct::new(c, spacing);
                        punct.set_span(span);
                        TokenTree::Punct(punct)
                    };
                    out.push(punct('$', Spacing::Alone));
                    out.push(TokenTree::Ident(Ident::new("crate", span)));
                    out.push(punct(':', Spacing::Joint));
                    out.push(punct(':', Spacing::Alone));
                }
                out.push(tree.clone());
            }
            TokenTree::Group(group) => out.push(regroup(group, crate_qualified_calls)),
            tree => out.push(tree.clone()),
        }
    }
    out.into_iter().collect()
}

/// Writes `tokens` as text in which every token starts at its original column and at its line
/// in the file counted from `first_line` (the text's line 1), so that lexing the text again gives
/// the same layout; and the jumps (`LineMap::jumps`) where a token's line is above the text's
/// current one (in expansions, where a call's tokens come from several places), or more than
/// `MAX_GAP` lines below it: it starts a new text line, which stands for the token's line.
fn positioned_text(tokens: &TokenStream, first_line: u32) -> (String, Vec<(u32, u32)>) {
    let mut out = Writer { text: String::new(), text_line: 1, line: first_line.max(1), column: 0, jumps: Vec::new() };
    out.stream(tokens.clone());
    (out.text, out.jumps)
}

/// The most lines a call's text moves down by writing line breaks; a token further below starts a
/// text line that jumps to its line. A muncher's call carries tokens from far below the call that
/// made it (libc's `custom_struct!` takes a struct's attributes one a round, each round a call at
/// the line of the `s! {` that holds hundreds of structs, its body the struct's fields), and its
/// text held every line between, lexed again each round: 39 of the 61 MB of call text that a
/// build of the `e2e` corpus lexed were line breaks.
const MAX_GAP: u32 = 8;

struct Writer {
    text: String,
    /// The text's current line, from 1.
    text_line: u32,
    /// The file's line that the text's current line stands for.
    line: u32,
    column: usize,
    jumps: Vec<(u32, u32)>,
}

impl Writer {
    fn newline(&mut self) {
        self.text.push('\n');
        self.text_line += 1;
        self.line += 1;
        self.column = 0;
    }

    /// Moves to `column` of the file's `line`: down, or to a new text line that jumps back, or
    /// down past more than `MAX_GAP` lines.
    fn move_to(&mut self, line: u32, column: usize) {
        if line < self.line || line - self.line > MAX_GAP {
            self.newline();
            self.line = line;
            self.jumps.push((self.text_line, line));
        }
        while self.line < line {
            self.newline();
        }
        while self.column < column {
            self.text.push(' ');
            self.column += 1;
        }
    }

    fn write(&mut self, text: &str) {
        for c in text.chars() {
            if c == '\n' {
                self.text_line += 1;
                self.line += 1;
                self.column = 0;
            } else {
                self.column += 1;
            }
        }
        self.text.push_str(text);
    }

    /// Moves to `at` when it lies ahead on the same line or on a later one, or back to an earlier
    /// line; on the same line at or before the text's column (tokens whose positions collapse, as
    /// a doc comment's `#[doc = ...]` or a definition's tokens at the call do), separates the
    /// tokens with a space unless `joint`.
    fn advance(&mut self, at: proc_macro2::LineColumn, joint: bool) {
        let line = file_line(at.line);
        if line != self.line || at.column > self.column {
            self.move_to(line, at.column);
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
                    self.write(punct.as_char().encode_utf8(&mut [0; 4]));
                    joint = punct.spacing() == Spacing::Joint;
                }
                TokenTree::Ident(ident) => {
                    // Written in place (an identifier holds no line break): no `String` of its own.
                    let start = self.text.len();
                    let _ = write!(self.text, "{ident}");
                    self.column += self.text[start..].chars().count();
                }
                TokenTree::Literal(literal) => {
                    let text = literal.to_string();
                    // A string of several lines whose span is one line (a definition's doc
                    // string, placed at the call) would push every later token down: written
                    // on one line, with its line breaks escaped.
                    let lines = text.matches('\n').count() as u32;
                    if lines > 0 && file_line(literal.span().end().line) < self.line + lines {
                        self.write(&one_line(&text));
                    } else {
                        self.write(&text);
                    }
                }
            }
        }
    }
}

/// A string literal of several lines as one line of the same value: its line breaks escaped
/// (`\n`), a line continuation (`\` before a line break) dropped with the whitespace after it,
/// and a raw string written as an escaped one. Other literals have no line breaks to escape.
fn one_line(literal: &str) -> String {
    let (prefix, rest) = match literal.find(['"', '#']) {
        Some(quote) => literal.split_at(quote),
        None => return literal.to_owned(),
    };
    let mut out = String::with_capacity(literal.len() + 8);
    if let Some(kind) = prefix.strip_suffix('r') {
        // `r#"..."#`: the text between the quotes, taken as it is.
        let hashes = rest.len() - rest.trim_start_matches('#').len();
        let body = rest[hashes..].strip_prefix('"').and_then(|body| body.get(..body.len().checked_sub(hashes + 1)?));
        let Some(body) = body else { return literal.to_owned() };
        out.push_str(kind);
        out.push('"');
        for (index, c) in body.char_indices() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                // rustc reads a line break written `\r\n` as `\n`.
                '\r' if body.get(index + 1..).is_some_and(|rest| rest.starts_with('\n')) => {}
                '\r' => out.push_str("\\r"),
                c => out.push(c),
            }
        }
        out.push('"');
        return out;
    }
    out.push_str(prefix);
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\n') => while chars.next_if(|c| matches!(c, ' ' | '\t' | '\n' | '\r')).is_some() {},
                Some('\r') if chars.peek() == Some(&'\n') => {
                    chars.next();
                    while chars.next_if(|c| matches!(c, ' ' | '\t' | '\n' | '\r')).is_some() {}
                }
                Some(escaped) => {
                    out.push('\\');
                    out.push(escaped);
                }
                None => out.push('\\'),
            },
            '\n' => out.push_str("\\n"),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// A `macro_rules!` definition as a call site sees it.
#[derive(Clone, Copy, Debug)]
pub struct Definition<'a> {
    /// The definition's arms, as positioned text (`definition_text`).
    pub text: &'a str,
    /// What `$crate` stands for where the call is: `crate` for the call's own crate, else the
    /// defining crate's name as the calling crate knows it.
    pub dollar_crate: &'a str,
}

/// std's `thread_local!`, which the graph cannot read from std's sources (they are not indexed):
/// each `static` it declares is a `const` of type `LocalKey`, at the call, as rustdoc lists it
/// (`thread_local_inner!` writes `$vis const $name: LocalKey<$t>`). The initializer stays the
/// const's, so that the calls it makes are the const's calls.
const STD_THREAD_LOCAL: &str = "
    ($($(#[$attr:meta])* $vis:vis static $name:ident : $t:ty = $init:expr);* $(;)?) => {
        $($(#[$attr])* $vis const $name: ::std::thread::LocalKey<$t> = $init;)*
    };
";

/// The definition of one of std's macros that make items, when `path` names one: the graph has
/// no other (see `STD_THREAD_LOCAL`). A crate's own macro of the name is found before this.
pub fn std_definition(path: &[String]) -> Option<Definition<'static>> {
    let name = match path {
        [name] => name,
        [krate, name] if krate == "std" => name,
        _ => return None,
    };
    (name == "thread_local").then_some(Definition { text: STD_THREAD_LOCAL, dollar_crate: "std" })
}

/// What a call declares.
#[derive(serde::Serialize, serde::Deserialize)]
pub enum Expanded {
    /// Expanded through the macro's definition: the items carry `expanded_from`.
    Macro(Body),
    /// No definition is known: the call's body, when it parses as items, passed through as most
    /// wrappers do.
    PassedThrough(Body),
    /// Nothing we can see (no definition, and the body is no items).
    Nothing,
}

/// Definitions parsed once, by their text (a crate's calls use a few macros many times; a
/// definition's text runs to kilobytes and is hashed for each call, hence Fx, not SipHash).
#[derive(Default)]
pub struct Definitions {
    parsed: rustc_hash::FxHashMap<String, Result<MacroRules, MbeError>>,
    /// Body expansions made on this thread, by what they depend on but the call's line
    /// (`body_key`): the line of the call each was made for, and what it names.
    bodies: rustc_hash::FxHashMap<u128, (u32, Refs, usize)>,
}

/// Definitions a thread keeps before it starts afresh (a bound on memory, far above what one
/// crate's calls use at a time).
const THREAD_DEFINITIONS: usize = 512;

/// Body expansions a thread keeps before it starts afresh: each is a few names and calls.
const THREAD_BODIES: usize = 4096;

thread_local! {
    /// Each worker's parsed definitions. A parsed definition holds proc-macro2 tokens, which
    /// cannot leave their thread; their spans become stale when the thread's span table is freed
    /// after each call, but no span of a definition's token is ever read again: matching compares
    /// their text, and transcription gives each token the call's span.
    static THREAD_CACHE: std::cell::RefCell<Definitions> = std::cell::RefCell::new(Definitions::default());
}

/// Runs `f` with this thread's parsed definitions, so that a definition is parsed once per
/// thread rather than once per call or per group of calls.
pub fn with_thread_definitions<R>(f: impl FnOnce(&mut Definitions) -> R) -> R {
    THREAD_CACHE.with_borrow_mut(|cache| {
        if cache.parsed.len() > THREAD_DEFINITIONS {
            cache.parsed.clear();
        }
        if cache.bodies.len() > THREAD_BODIES {
            cache.bodies.clear();
        }
        f(cache)
    })
}

/// The items a call declares: through `definition` when there is one, else by passing the
/// call's body through when it parses as items. An error says why the definition did not
/// expand the call (no arm matches, or what it made is no items).
pub fn expand(
    call: &MacroCall,
    definition: Option<Definition<'_>>,
    cache: &mut Definitions,
) -> Result<Expanded, SyntaxError> {
    with_lines(call.lines(), || expand_here(call, definition, cache))
}

fn expand_here(
    call: &MacroCall,
    definition: Option<Definition<'_>>,
    cache: &mut Definitions,
) -> Result<Expanded, SyntaxError> {
    let Some(definition) = definition else {
        // A body that does not parse as items is not an error: the macro makes something else.
        return Ok(parse_items(lex(&call.body)?, None).map_or(Expanded::Nothing, Expanded::PassedThrough));
    };
    let (tokens, depth, _) = transcribe(call, definition, cache, MAX_MADE)?;
    let mut expanded = parse_items(tokens, Some(depth)).map_err(|err| not_made_of(call, "items", &err))?;
    mark(&mut expanded.items, call.name());
    Ok(Expanded::Macro(expanded))
}

/// What a call among an impl's members (`trait_visibility` `None`) or a trait's declares: their
/// members, and further calls among them. Without a definition nothing is known: members are no
/// items to pass through.
pub fn expand_members(
    call: &MacroCall,
    definition: Option<Definition<'_>>,
    cache: &mut Definitions,
    trait_visibility: Option<&str>,
) -> Result<Expanded, SyntaxError> {
    let Some(definition) = definition else { return Ok(Expanded::Nothing) };
    with_lines(call.lines(), || {
        let (tokens, depth, _) = transcribe(call, definition, cache, MAX_MADE)?;
        let (mut items, calls) = super::members(tokens, Some(depth), trait_visibility)
            .map_err(|err| not_made_of(call, "associated items", &err))?;
        mark(&mut items, call.name());
        Ok(Expanded::Macro(Body { items, calls, ..Body::default() }))
    })
}

/// What a call in statement position inside a const's or static's initializer declares (see
/// `initializer`): the items among the statements it expands to, and the statement-position
/// calls among them, for the next round. Without a definition nothing is known: a call there
/// stands for an expression as often as for items.
pub fn expand_statements(
    call: &MacroCall,
    definition: Option<Definition<'_>>,
    cache: &mut Definitions,
) -> Result<Expanded, SyntaxError> {
    let Some(definition) = definition else { return Ok(Expanded::Nothing) };
    with_lines(call.lines(), || {
        let (tokens, depth, _) = transcribe(call, definition, cache, MAX_MADE)?;
        let (mut items, calls) =
            super::statements(tokens, Some(depth)).map_err(|err| not_made_of(call, "statements", &err))?;
        mark(&mut items, call.name());
        Ok(Expanded::Macro(Body { items, calls, ..Body::default() }))
    })
}

/// What a macro call in a function body expands to, read as the body would read it there: the
/// calls (and further macro calls) of the statements or expression it makes (see `BodyMacro`).
///
/// A body repeats its calls (`w!("...")` in 5,022 of windows-sys's constants, `tri!(...)` in
/// serde_json's functions), and what one names depends on its text, its definition and what
/// `BodyMacro` knows of the body, not on where it is: the lines it holds are its own line plus
/// fixed offsets. So what this thread made of the same call before (`body_key`) is reused, its
/// lines moved to this call's.
///
/// It makes at most `limit` tokens (`mbe::MacroRules::expand`), and says how many it
/// made, a reused expansion as many as when it was made; a call whose text is longer than
/// `limit` is not lexed.
pub fn expand_in_body(
    body_macro: &BodyMacro,
    definition: Definition<'_>,
    cache: &mut Definitions,
    limit: usize,
) -> Result<(Refs, usize), SyntaxError> {
    let call = &body_macro.call;
    let key = body_key(body_macro, definition);
    if let Some((line, made, size)) = key.and_then(|key| cache.bodies.get(&key)) {
        if *size > limit {
            return Err(at_call(call, &MbeError::TooLarge));
        }
        let mut refs = made.clone();
        let moved = i64::from(call.line) - i64::from(*line);
        // Every line is at or below the one it was made for (kept so below): none goes under 1.
        refs.visit_lines(&mut |line, _| *line = u32::try_from(i64::from(*line) + moved).unwrap_or(u32::MAX));
        return Ok((refs, *size));
    }
    if call.body.len() > limit {
        return Err(at_call(call, &MbeError::TooLarge));
    }
    let (mut refs, size) = with_lines(call.lines(), || {
        let (tokens, depth, size) = transcribe(call, definition, cache, limit)?;
        let stmts =
            super::parse_statements(tokens, Some(depth)).map_err(|err| not_made_of(call, "statements", &err))?;
        made_text::record(made_text::Made::Body, || made_text::statements(&stmts));
        Ok((Collector::expansion(body_macro, &stmts), size))
    })?;
    if let Some(key) = key {
        let mut lowest = u32::MAX;
        refs.visit_lines(&mut |line, _| lowest = lowest.min(*line));
        // A line above the call's (a span the call's text did not give) would not move with it.
        if lowest >= call.line {
            cache.bodies.insert(key, (call.line, refs.clone(), size));
        }
    }
    Ok((refs, size))
}

/// Everything a body expansion depends on but its call's line, hashed (`expand_in_body`); `None`
/// for a call whose text jumps (see `LineMap`: its lines are not its own line plus offsets), and
/// while `made_text` records (the benchmark's floor reads what every call makes).
///
/// A call whose whole text is one string literal (`w!("CloudAP")`) is keyed without the
/// literal's value when the definition cannot see it: no string literal of its own (so no arm
/// tells one string from another: every fragment takes any), no macro call (`concat!`,
/// `include_str!`, `stringify!`: nothing can read the value or paste it into a name, and the
/// expansion makes no calls whose text would hold it) and no `cfg` (an attribute whose
/// predicate it would fill). What it names is then the same for every string: the refs hold no
/// literal's value, and a string literal is one token on one line whatever it holds.
fn body_key(body_macro: &BodyMacro, definition: Definition<'_>) -> Option<u128> {
    let BodyMacro { call, locals, generics, calls: _, nested: _, in_macro, cfg } = body_macro;
    let MacroCall { path, body, line: _, cfg: call_cfg, jumps, local_definition } = call;
    if !jumps.is_empty() || made_text::recording() {
        return None;
    }
    // The definition's text is looked at only for a body that is one string literal (a small
    // minority of calls): it runs to kilobytes.
    let blind = || !definition.text.contains(['"', '!']) && !definition.text.contains("cfg");
    let body = if one_string_literal(body) && blind() { "\"\"" } else { body.as_str() };
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    // The texts straight into the hash (a definition runs to kilobytes, hashed for every call),
    // each ended by 0xff, which no UTF-8 text holds; the rest, small, in postcard's form.
    for text in [definition.text, definition.dollar_crate, body] {
        hasher.update(text.as_bytes());
        hasher.update(&[0xff]);
    }
    // Plain data into a `Vec`: encoding cannot fail.
    hasher.update(&postcard::to_allocvec(&(path, call_cfg, local_definition, locals, generics, in_macro, cfg)).ok()?);
    Some(hasher.digest128())
}

/// Whether the text is one plain string literal on one line (`"a\"b"`, not `r"..."` or
/// `"..."suffix`), with nothing around it but spaces.
fn one_string_literal(text: &str) -> bool {
    let Some(inner) = text.trim().strip_prefix('"').and_then(|rest| rest.strip_suffix('"')) else {
        return false;
    };
    let mut bytes = inner.bytes();
    while let Some(byte) = bytes.next() {
        match byte {
            // An escape takes the next byte, which must not end the line (`\` then a line break
            // continues the string on the next line).
            b'\\' if bytes.next().is_some_and(|next| next != b'\n' && next != b'\r') => {}
            b'\\' | b'"' | b'\n' | b'\r' => return false,
            _ => {}
        }
    }
    true
}

/// What expansions make, as text, for the `e2e` benchmark (`benches/e2e.rs`): what the parse-only
/// floor would read had the code that macro calls make been written by hand. That is each
/// expansion's items, members or statements without the macro calls among them (a muncher's next
/// step is no code anyone writes: what a call makes is recorded where it is expanded, and a call
/// that nothing expands is left out, which keeps this floor on the low side). Off unless the
/// benchmark turns it on; nothing in a build reads it.
#[doc(hidden)]
pub mod made_text {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    use quote::ToTokens;

    static RECORDING: AtomicBool = AtomicBool::new(false);
    static MADE: Mutex<Vec<(Made, String)>> = Mutex::new(Vec::new());

    /// What an expansion is parsed as, and so how its text is wrapped to be a file.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub enum Made {
        /// Items (`expand`).
        Items,
        /// An impl's members, inside `impl Made { ... }` (`expand_members`).
        ImplMembers,
        /// A trait's members, inside `trait Made { ... }`.
        TraitMembers,
        /// Statements in a const's initializer, inside `const _: () = { ... };`
        /// (`expand_statements`).
        Initializer,
        /// What a macro call in a function body expands to, inside `fn made() { ... }`
        /// (`expand_in_body`).
        Body,
    }

    /// Records what every expansion makes from now until `finish`.
    pub fn start() {
        MADE.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        RECORDING.store(true, Ordering::SeqCst);
    }

    /// Stops recording; what each expansion since `start` made, as the text of a file that syn
    /// parses as the build parsed it (members inside an `impl` or a `trait`, statements inside a
    /// const or a function).
    pub fn finish() -> Vec<(Made, String)> {
        RECORDING.store(false, Ordering::SeqCst);
        std::mem::take(&mut *MADE.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Whether expansions are being recorded.
    pub(in crate::parse) fn recording() -> bool {
        RECORDING.load(Ordering::Relaxed)
    }

    /// Records the text `parts` gives, as `made` is parsed, when recording.
    pub(in crate::parse) fn record(made: Made, parts: impl FnOnce() -> String) {
        if !recording() {
            return;
        }
        let parts = parts();
        let text = match made {
            Made::Items => parts,
            Made::ImplMembers => format!("impl Made {{ {parts} }}"),
            Made::TraitMembers => format!("trait Made {{ {parts} }}"),
            Made::Initializer => format!("const _: () = {{ {parts} }};"),
            Made::Body => format!("fn made() {{ {parts} }}"),
        };
        MADE.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((made, text));
    }

    /// The statements' text without the macro calls in statement position (those inside an
    /// expression stay: they are the expression's).
    pub(in crate::parse) fn statements(stmts: &[syn::Stmt]) -> String {
        let call = |stmt: &&syn::Stmt| match stmt {
            syn::Stmt::Macro(_) | syn::Stmt::Expr(syn::Expr::Macro(_), _) => true,
            syn::Stmt::Item(item) => is_call(item),
            _ => false,
        };
        text(stmts.iter().filter(|stmt| !call(stmt)))
    }

    /// Whether the item is a macro call (not a `macro_rules!`, which has a name).
    pub(in crate::parse) fn is_call(item: &syn::Item) -> bool {
        matches!(item, syn::Item::Macro(item) if item.ident.is_none())
    }

    /// The syntax trees' text, one after another.
    pub(in crate::parse) fn text<T: ToTokens>(parts: impl IntoIterator<Item = T>) -> String {
        let mut tokens = proc_macro2::TokenStream::new();
        for part in parts {
            part.to_tokens(&mut tokens);
        }
        tokens.to_string()
    }
}

/// The call matched against the definition and transcribed, with how deep that nests at most
/// (`mbe::MacroRules::expand`); at most `limit` tokens made, and how many were.
fn transcribe(
    call: &MacroCall,
    definition: Definition<'_>,
    cache: &mut Definitions,
    limit: usize,
) -> Result<(TokenStream, usize, usize), SyntaxError> {
    let body = lex(&call.body)?;
    if !cache.parsed.contains_key(definition.text) {
        let parsed = lex(definition.text).map_err(|err| MbeError::Definition(err.message)).and_then(MacroRules::parse);
        cache.parsed.insert(definition.text.to_owned(), parsed);
    }
    let Some(rules) = cache.parsed.get(definition.text) else { unreachable!("inserted above") };
    let rules = rules.as_ref().map_err(|err| at_call(call, err))?;
    let site = site_span()?;
    let dollar_crate = dollar_crate_tokens(definition.dollar_crate, site);
    let call_depth = super::nesting::at_most_of_text(&call.body);
    rules.expand(body, call_depth, site, &dollar_crate, limit).map_err(|err| at_call(call, &err))
}

fn not_made_of(call: &MacroCall, what: &str, err: &SyntaxError) -> SyntaxError {
    SyntaxError {
        line: call.line,
        column: 1,
        message: format!("what `{}!` expands to is not {what}: {}", call.name(), err.message),
    }
}

fn at_call(call: &MacroCall, err: &MbeError) -> SyntaxError {
    SyntaxError { line: call.line, column: 1, message: format!("failed to expand `{}!`: {err}", call.name()) }
}

/// A span on the call's line (line 1 of the body's text): what the definition's own tokens get,
/// so that the items they make are placed at the call, as rustdoc places them.
fn site_span() -> Result<Span, SyntaxError> {
    let tokens = lex("x")?;
    Ok(tokens.into_iter().next().map_or_else(Span::call_site, |tree| tree.span()))
}

/// `crate`, or `::name` for another crate's macro.
fn dollar_crate_tokens(name: &str, site: Span) -> Vec<TokenTree> {
    if name == "crate" {
        return vec![TokenTree::Ident(Ident::new("crate", site))];
    }
    let mut colon = Punct::new(':', Spacing::Joint);
    colon.set_span(site);
    let mut second = Punct::new(':', Spacing::Alone);
    second.set_span(site);
    vec![TokenTree::Punct(colon), TokenTree::Punct(second), TokenTree::Ident(Ident::new(name, site))]
}

/// Names the macro on every item an expansion made.
fn mark(items: &mut [super::ItemFacts], name: &str) {
    for item in items {
        item.expanded_from = Some(name.to_owned());
        mark(&mut item.children, name);
    }
}

fn lex(text: &str) -> Result<TokenStream, SyntaxError> {
    super::lex(text)
}

/// The items `tokens` make. `made`, for what an expansion made (not a call's body passed
/// through): how deep the tokens nest at most (see `parse_syntax_with`); what is made is
/// recorded for `made_text`.
fn parse_items(tokens: TokenStream, made: Option<usize>) -> Result<Body, SyntaxError> {
    let file: syn::File = parse_syntax_with(tokens, made)?;
    if made.is_some() {
        made_text::record(made_text::Made::Items, || {
            made_text::text(file.items.iter().filter(|item| !made_text::is_call(item)))
        });
    }
    let mut body = items(&file.items);
    bind_local_definitions(&file.items, &mut body.calls);
    Ok(body)
}

/// Gives each call of `calls` (made from `items`, in their order) that a `macro_rules!` of the
/// same name defines above it among `items` that definition (`MacroCall::local_definition`). A
/// definition under a `cfg` is left to the crate-wide lookup, which weighs `cfg`s. The calls of
/// `items` come in `calls` in the items' order (between those of `cfg_if!` branches), so each is
/// looked for after the last one found.
fn bind_local_definitions(items: &[syn::Item], calls: &mut [MacroCall]) {
    if calls.is_empty() {
        return;
    }
    let mut defined: Vec<(String, String)> = Vec::new();
    let mut next = 0;
    for item in items {
        let syn::Item::Macro(item) = item else { continue };
        match &item.ident {
            Some(name) if item.mac.path.is_ident("macro_rules") && super::render::cfg(&item.attrs).is_none() => {
                let text = definition_text(&item.mac, super::local_inner_macros(&item.attrs));
                defined.retain(|(known, _)| *name != known);
                defined.push((name.to_string(), text));
            }
            Some(_) => {}
            None if item.mac.path.segments.len() == 1 => {
                let Some((_, text)) = defined.iter().find(|(name, _)| item.mac.path.is_ident(name)) else { continue };
                let call = MacroCall::new(&item.mac, super::render::cfg(&item.attrs));
                if let Some(at) = calls[next..].iter().position(|made| *made == call) {
                    calls[next + at].local_definition = Some(text.clone());
                    next += at + 1;
                }
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn call(text: &str) -> MacroCall {
        let file: syn::File = syn::parse_str(text).unwrap();
        let syn::Item::Macro(item) = &file.items[0] else { panic!("not a macro call") };
        MacroCall::new(&item.mac, None)
    }

    fn definition(text: &str) -> String {
        let file: syn::File = syn::parse_str(text).unwrap();
        let syn::Item::Macro(item) = &file.items[0] else { panic!("not a macro") };
        definition_text(&item.mac, false)
    }

    /// A call made by an expansion right below a `macro_rules!` of its name takes that one
    /// (`static_cond!`'s pattern); one under a `cfg`, or below the call, is left to the lookup.
    #[test]
    fn a_macro_defined_and_called_by_one_expansion_is_the_calls() {
        let outer = definition(
            "macro_rules! choose { ($a:tt $b:tt) => { \
             macro_rules! inner { ($a $a) => { pub struct Same; }; ($a $b) => { pub struct Other; }; } \
             inner!($a $b); \
             #[cfg(unix)] macro_rules! gated { () => {}; } \
             gated!(); \
             later!(); \
             macro_rules! later { () => {}; } \
             }; }",
        );
        let body = expanded(&call("choose!(x y);"), &outer);
        let calls: Vec<(&str, bool)> =
            body.calls.iter().map(|call| (call.name(), call.local_definition.is_some())).collect();
        assert_eq!(calls, [("inner", true), ("gated", false), ("later", false)]);
        let inner = body.calls[0].local_definition.as_deref().unwrap();
        assert!(inner.contains("x x") && inner.contains("x y"), "{inner}");
        let made = expanded(&body.calls[0], inner);
        assert_eq!(made.items.iter().map(|item| item.name.as_str()).collect::<Vec<_>>(), ["Other"]);
    }

    /// Held by the tests that start `made_text`'s recording, or that expect it off: it is the
    /// process's.
    static RECORDING: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn names(body: &Body) -> Vec<String> {
        body.items.iter().map(|item| format!("{} {} {} {:?}", item.kind, item.name, item.line, item.cfg)).collect()
    }

    fn expanded(call: &MacroCall, text: &str) -> Body {
        let definition = Definition { text, dollar_crate: "crate" };
        match expand(call, Some(definition), &mut Definitions::default()) {
            Ok(Expanded::Macro(body)) => body,
            Ok(_) => panic!("not expanded through the definition"),
            Err(err) => panic!("{}", err.message),
        }
    }

    /// What the `e2e` benchmark's floor of made code reads: an expansion's items without the calls
    /// expanded in turn, members inside an impl, statements inside a const, each a file syn parses;
    /// a body passed through (no definition) is written code, not recorded.
    #[test]
    fn made_text_records_what_expansions_make_as_files() {
        let _alone = RECORDING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        made_text::start();
        let make = definition(
            "macro_rules! make { ($name:ident) => { pub struct $name; impl $name { pub fn made_here() {} } \
             make_more!($name); }; }",
        );
        expanded(&call("make!(MadeTextProbe);"), &make);
        let _ = expand(&call("unknown_wrapper! { pub struct MadeTextPassed; }"), None, &mut Definitions::default());
        let members = definition("macro_rules! member { () => { pub fn made_member_probe() {} member_more!(); }; }");
        let definition_of = |text| Some(Definition { text, dollar_crate: "crate" });
        expand_members(&call("member!();"), definition_of(&members), &mut Definitions::default(), None).unwrap();
        let statements = definition("macro_rules! stmts { () => { struct MadeStatementProbe; stmts_more!(); }; }");
        expand_statements(&call("stmts!();"), definition_of(&statements), &mut Definitions::default()).unwrap();
        let made = made_text::finish();
        // Other tests of this process may expand at the same time: ours are found by their names.
        let find = |probe: &str| made.iter().find(|(_, text)| text.contains(probe)).cloned();
        let (kind, items) = find("MadeTextProbe").expect("the items are recorded");
        assert_eq!(kind, made_text::Made::Items);
        assert!(items.contains("made_here") && !items.contains("make_more"), "{items}");
        assert!(find("MadeTextPassed").is_none(), "a body passed through is written code");
        let (kind, members) = find("made_member_probe").expect("the members are recorded");
        assert_eq!(kind, made_text::Made::ImplMembers);
        assert!(members.starts_with("impl Made {") && !members.contains("member_more"), "{members}");
        let (kind, statements) = find("MadeStatementProbe").expect("the statements are recorded");
        assert_eq!(kind, made_text::Made::Initializer);
        assert!(!statements.contains("stmts_more"), "{statements}");
        for text in [items, members, statements] {
            syn::parse_file(&text).unwrap_or_else(|err| panic!("{err}: {text}"));
        }
        // Statements (an initializer's, a body's) lose their statement-position calls only.
        let block: syn::Block = syn::parse_str("{ let a = f(inner!(x)); outer!(y); struct S; last!() }").unwrap();
        let text = made_text::statements(&block.stmts);
        assert!(text.contains("inner") && text.contains("struct S"), "{text}");
        assert!(!text.contains("outer") && !text.contains("last"), "{text}");
        // Off again: nothing more is recorded.
        expanded(&call("make!(MadeAfterFinish);"), &make);
        assert!(made_text::finish().iter().all(|(_, text)| !text.contains("MadeAfterFinish")));
    }

    #[test]
    fn local_inner_macros_call_the_defining_crates_macros() {
        let file: syn::File = syn::parse_str(
            "macro_rules! flags {\n    () => {};\n    ($($t:tt)*) => { inner! { $($t)* } $m!(); a::b!(); if !x {} \
             let _ = x != y; macro_rules! local { () => {} } flags! {} };\n}",
        )
        .unwrap();
        let syn::Item::Macro(item) = &file.items[0] else { panic!("not a macro") };
        let text = definition_text(&item.mac, true);
        let tokens = text.parse::<TokenStream>().unwrap().to_string();
        for qualified in ["$ crate :: inner ! {", "$ crate :: flags ! { }"] {
            assert!(tokens.contains(qualified), "{qualified}: {tokens}");
        }
        // A metavariable's call, a path's, a keyword before `!`, `!=`, and `macro_rules!` stay.
        for kept in ["} $ m ! ()", "; a :: b ! ()", "if ! x", "x != y", "; macro_rules ! local"] {
            assert!(tokens.contains(kept), "{kept}: {tokens}");
        }
        assert_eq!(tokens.matches("crate").count(), 2, "{tokens}");
        // The matchers are left as they are, and lines stay where they were.
        assert_eq!(text.lines().count(), definition_text(&item.mac, false).lines().count());
        assert!(!definition_text(&item.mac, false).contains("crate"));
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
    fn a_long_run_of_lines_is_a_jump_not_line_breaks() {
        let at = |call: &MacroCall| -> Vec<(u32, usize)> {
            let tokens = lex(&call.body).unwrap();
            with_lines(call.lines(), || {
                tokens.into_iter().map(|tree| (line(tree.span()), tree.span().start().column)).collect()
            })
        };
        let gap = |lines: usize| format!("\n\nwrap! {{\n    a{}      b\n}}\n", "\n".repeat(lines));
        // Eight lines down are written as line breaks; nine or more are a jump.
        let near = call(&gap(MAX_GAP as usize));
        assert!(near.jumps.is_empty(), "{:?}", near.jumps);
        assert_eq!(at(&near), [(4, 4), (12, 6)]);
        assert_eq!(near.lines_below(), 9, "from the call's line to `b`'s");
        let far = call(&gap(5_000));
        assert_eq!(far.jumps.len(), 1, "{:?}", far.jumps);
        assert!(far.body.len() < 40, "{:?}", far.body);
        assert_eq!(at(&far), [(4, 4), (5_004, 6)], "the same lines and columns");
        assert_eq!(far.lines_below(), 5_001, "`b` is at line 5,004");
        // A text that jumps back reaches as far down as the furthest line it stands for.
        let back = MacroCall { jumps: vec![(3, 40), (5, 7)], ..call("m! {\n a\n b\n c\n d\n}") };
        assert_eq!(back.lines_below(), 41 - 1, "text line 4 is the file's line 41");
    }

    #[test]
    fn wrappers_add_their_attributes_to_each_item() {
        let definition =
            definition("macro_rules! cfg_rt { ($($item:item)*) => { $( #[cfg(feature = \"rt\")] $item )* } }");
        let call = call("cfg_rt! {\n    pub mod runtime;\n    pub fn spawn() {}\n}");
        let body = expanded(&call, &definition);
        assert_eq!(
            names(&body),
            ["module runtime 2 Some(\"feature = \\\"rt\\\"\")", "function spawn 3 Some(\"feature = \\\"rt\\\"\")"]
        );
        assert!(body.items.iter().all(|item| item.expanded_from.as_deref() == Some("cfg_rt")));
    }

    #[test]
    fn argument_less_macros_declare_their_own_items_at_the_call() {
        let definition = definition(
            "macro_rules! crate_root { () => { pub mod de; mod private; pub use $crate::de::X; \
             macro_rules! tri { ($e:expr) => { $e } } }; }",
        );
        let call = call("\n\ncrate_root!();");
        let body = expanded(&call, &definition);
        assert_eq!(names(&body), ["module de 3 None", "module private 3 None", "macro tri 3 None"]);
        assert_eq!(body.refs.uses.len(), 1);
    }

    #[test]
    fn items_the_definition_writes_are_at_the_call_and_passed_ones_keep_their_lines() {
        let definition = definition(
            "macro_rules! impls {\n ($($t:ty),*) => { $(impl Zero for $t { fn zero() -> Self { 0 } })* };\n \
             (wrap $i:item) => { $i pub struct Made; };\n}",
        );
        let body = expanded(&call("\n\n\nimpls!(u8,\n i8);"), &definition);
        assert_eq!(names(&body), ["impl impl Zero for u8 4 None", "impl impl Zero for i8 4 None"]);
        assert_eq!(body.items[0].children[0].name, "zero");
        assert_eq!(body.items[0].children[0].line, 4);
        assert_eq!(body.items[0].children[0].expanded_from.as_deref(), Some("impls"));
        let body = expanded(&call("impls! {\n    wrap\n    fn written() {}\n}"), &definition);
        assert_eq!(names(&body), ["function written 3 None", "struct Made 1 None"]);
    }

    #[test]
    fn calls_in_an_expansion_are_kept_for_the_next_round() {
        let definition = definition(
            "macro_rules! tuples { () => {}; ($h:ident $($t:ident)*) => { impl<$h, $($t),*> T for ($h, $($t),*) {} tuples!($($t)*); } }",
        );
        let body = expanded(&call("tuples!(A B C);"), &definition);
        assert_eq!(names(&body), ["impl impl T for (A, B, C) 1 None"]);
        assert_eq!(body.calls.len(), 1);
        assert_eq!(body.calls[0].name(), "tuples");
        let again = expanded(&body.calls[0], &definition);
        assert_eq!(names(&again), ["impl impl T for (B, C) 1 None"]);
    }

    #[test]
    fn a_doc_string_of_several_lines_from_the_definition_does_not_move_what_follows() {
        // zerocopy's `define_type!`: a nested `doc_comment!` call whose first argument is a
        // string of several lines written in the definition, then the item it documents.
        let define = definition(
            "macro_rules! define {\n ($name:ident) => {\n doc! {\n concat!(\"A\n type,\n of \\\n  lines\"),\n \
             pub struct $name;\n }\n };\n}",
        );
        let body = expanded(&call("\n\ndefine!(\n    Made\n);"), &define);
        assert!(body.items.is_empty());
        assert_eq!(body.calls.len(), 1);
        let nested = &body.calls[0];
        assert!(nested.body.contains(r#""A\n type,\n of lines""#), "{}", nested.body);
        let doc = definition("macro_rules! doc { ($doc:expr, $item:item) => { #[doc = $doc] $item } }");
        let made = expanded(nested, &doc);
        assert_eq!(names(&made), ["struct Made 3 None"], "at the call, not the string's lines below it");
    }

    #[test]
    fn a_call_made_by_an_expansion_keeps_the_definitions_tokens_at_the_outer_call() {
        // zerocopy's `define_type!`: the nested call passes tokens from later lines of the outer
        // call, then writes `pub struct` of its own, which is at the outer call's line.
        let define = definition(
            "macro_rules! define { ($doc:expr, $name:ident, $ty:ty) => { \
             doc! { concat!($doc, \"!\"), pub struct $name([$ty; 2], u8); } }; }",
        );
        let body = expanded(&call("\n\ndefine!(\n    \"A\",\n    Made,\n    u16\n);"), &define);
        let nested = &body.calls[0];
        assert!(!nested.jumps.is_empty(), "{}", nested.body);
        let doc = definition("macro_rules! doc { ($doc:expr, $item:item) => { #[doc = $doc] $item } }");
        let made = expanded(nested, &doc);
        assert_eq!(names(&made), ["struct Made 3 None"]);
        let fields: Vec<(&str, u32)> = made.items[0].children.iter().map(|f| (f.name.as_str(), f.line)).collect();
        assert_eq!(fields, [("0", 3), ("1", 3)], "`[` and `u8` are the definition's");
    }

    #[test]
    fn a_field_a_macro_puts_together_from_fragments_is_at_the_call() {
        // libc's `custom_struct!` takes fields apart as `$fvis:vis $fname:ident: $fty:ty` and
        // writes them again with its own `:`: rustc places such a field at the call, whatever
        // its visibility (an empty one is transcribed as `pub(self)`, private).
        let passed = definition("macro_rules! passed { ($($field:tt)*) => { pub struct P { $($field)* } } }");
        let body = expanded(&call("passed! {\n    pub a: u8,\n    b: u8\n}"), &passed);
        let lines: Vec<u32> = body.items[0].children.iter().map(|f| f.line).collect();
        assert_eq!(lines, [2, 3], "fields passed whole keep their lines");
        let define = definition(
            "macro_rules! fields { ($v:vis struct $n:ident { $($fv:vis $f:ident: $t:ty),* }) => \
             { $v struct $n { $($fv $f: $t),* } } }",
        );
        let body =
            expanded(&call("fields! {\n    pub struct S {\n        pub a: u8,\n        b: u8\n    }\n}"), &define);
        let fields: Vec<(String, u32, String)> =
            body.items[0].children.iter().map(|f| (f.name.clone(), f.line, f.visibility.clone())).collect();
        assert_eq!(fields, [("a".to_owned(), 1, "pub".to_owned()), ("b".to_owned(), 1, "private".to_owned())]);
    }

    #[test]
    fn a_variant_written_as_an_ident_fragment_is_at_the_call() {
        // url's `simple_enum_error!` writes `$name,` for each variant: rustc gives a transcribed
        // `ident` the span of the definition's `$name` (the name inside keeps the call's), so
        // rustdoc places the variants at the call. A `tt` keeps its own span, and its line.
        let define = definition(
            "macro_rules! errors { ($($name:ident => $text:expr,)+) => { pub enum E { $($name,)+ } }; \
             (tt $($name:tt)+) => { pub enum T { $($name,)+ } } }",
        );
        let variants = |body: &Body| -> Vec<(String, u32)> {
            body.items[0].children.iter().map(|variant| (variant.name.clone(), variant.line)).collect()
        };
        let body = expanded(&call("errors! {\n    Empty => \"empty\",\n    Long => \"long\",\n}"), &define);
        assert_eq!(variants(&body), [("Empty".to_owned(), 1), ("Long".to_owned(), 1)]);
        let body = expanded(&call("errors! {\n    tt\n    First\n    Second\n}"), &define);
        assert_eq!(variants(&body), [("First".to_owned(), 3), ("Second".to_owned(), 4)]);
    }

    #[test]
    fn stds_thread_local_declares_consts_at_the_call() {
        let path = |segments: &[&str]| segments.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let definition = std_definition(&path(&["thread_local"])).unwrap();
        assert!(std_definition(&path(&["std", "thread_local"])).is_some());
        assert!(std_definition(&path(&["mine", "thread_local"])).is_none());
        assert!(std_definition(&path(&["vec"])).is_none());
        let call = call(
            "thread_local! {\n    static A: Cell<u8> = Cell::new(0);\n    \
             #[allow(unused)]\n    static B: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) }\n}",
        );
        let body = match expand(&call, Some(definition), &mut Definitions::default()) {
            Ok(Expanded::Macro(body)) => body,
            _ => panic!("not expanded"),
        };
        assert_eq!(names(&body), ["const A 1 None", "const B 1 None"]);
        let calls: Vec<String> = body.items[0].refs.calls.iter().map(|call| format!("{:?}", call.callee)).collect();
        assert!(calls.iter().any(|call| call.contains("Cell") && call.contains("new")), "{calls:?}");
        assert_eq!(body.items[0].expanded_from.as_deref(), Some("thread_local"));
    }

    #[test]
    fn fields_a_muncher_takes_apart_are_at_the_outermost_call() {
        // libc's `s2!` -> `custom_struct!`, which takes one field a round and writes it again
        // with its own `:`; the struct comes out rounds later, from text that jumps back.
        let definitions: HashMap<&str, String> = [
            (
                "munch",
                "macro_rules! munch {\n (done: { $($p:tt)* }, rest: { }) => { emit! { $($p)* } };\n \
                 (done: { $($p:tt)* }, rest: { $v:vis $n:ident: $t:ty, $($tail:tt)* }) => \
                 { munch! { done: { $($p)* $v $n: $t, }, rest: { $($tail)* } } };\n}",
            ),
            ("emit", "macro_rules! emit { ($($f:tt)*) => { pub struct S { $($f)* } }; }"),
            ("s2", "macro_rules! s2 { ($($f:tt)*) => { munch! { done: { }, rest: { $($f)* } } }; }"),
        ]
        .into_iter()
        .map(|(name, text)| (name, definition(text)))
        .collect();
        let mut calls = vec![call("\n\ns2! {\n    pub a: u8,\n    b: u8,\n    pub c: u16,\n}")];
        let mut items = Vec::new();
        while let Some(next) = calls.pop() {
            let mut body = expanded(&next, &definitions[next.name()]);
            items.append(&mut body.items);
            calls.append(&mut body.calls);
        }
        assert_eq!(names(&Body { items: items.clone(), ..Body::default() }), ["struct S 3 None"]);
        let fields: Vec<(&str, u32)> = items[0].children.iter().map(|f| (f.name.as_str(), f.line)).collect();
        assert_eq!(fields, [("a", 3), ("b", 3), ("c", 3)]);
    }

    #[test]
    fn strings_of_several_lines_become_one_line_of_the_same_value() {
        let value = |text: &str| syn::parse_str::<syn::LitStr>(text).unwrap().value();
        let byte_value = |text: &str| syn::parse_str::<syn::LitByteStr>(text).unwrap().value();
        for text in ["\"a\nb\"", "\"a \\\n    b\\n\\\"c\"", "r#\"x\n\"y\\z\"#", "r\"\n\"", "\"a\r\nb\""] {
            let line = one_line(text);
            assert!(!line.contains('\n'), "{line}");
            assert_eq!(value(&line), value(text), "{text} as {line}");
        }
        assert_eq!(byte_value(&one_line("br\"a\nb\"")), b"a\nb");
        assert_eq!(one_line("42"), "42");
    }

    #[test]
    fn dollar_crate_names_the_defining_crate() {
        let definition = definition("macro_rules! m { () => { pub use $crate::x::Y; } }");
        let definition = Definition { text: &definition, dollar_crate: "dep" };
        let Ok(Expanded::Macro(body)) = expand(&call("m!();"), Some(definition), &mut Definitions::default()) else {
            panic!("not expanded")
        };
        assert_eq!(body.refs.uses[0].path.segments, ["dep", "x", "Y"]);
    }

    #[test]
    fn calls_no_arm_matches_are_errors_at_the_call() {
        let definition = definition("macro_rules! m { ($name:ident) => { struct $name; } }");
        let err = expand(
            &call("\nm!(1 + 1);"),
            Some(Definition { text: &definition, dollar_crate: "crate" }),
            &mut Definitions::default(),
        )
        .err()
        .unwrap();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("no rule of the macro matches"), "{}", err.message);
    }

    #[test]
    fn include_paths_from_literals_and_the_build_environment() {
        let env = |name: &str| (name == "OUT_DIR").then(|| "/out".to_owned());
        assert_eq!(include_path(&call("include!(\"gen.rs\");"), &env).as_deref(), Some("gen.rs"));
        let generated = call("include!(concat!(env!(\"OUT_DIR\"), \"/consts.rs\"));");
        assert_eq!(include_path(&generated, &env).as_deref(), Some("/out/consts.rs"));
        assert_eq!(include_path(&generated, &|_| None), None, "without the build script's output");
        assert_eq!(include_path(&call("include!(path());"), &env), None);
    }

    #[test]
    fn unknown_macros_pass_items_through_or_declare_nothing() {
        let mut cache = Definitions::default();
        let Ok(Expanded::PassedThrough(through)) = expand(&call("m! { fn f() {} }"), None, &mut cache) else {
            panic!("not passed through")
        };
        assert_eq!(names(&through), ["function f 1 None"]);
        assert!(through.items[0].expanded_from.is_none());
        assert!(matches!(
            expand(&call("lazy_static! { static ref X: u8 = 1; }"), None, &mut cache),
            Ok(Expanded::Nothing)
        ));
    }

    /// Calls of one macro in a body, at different lines, name what each would alone: a thread
    /// reuses its expansion of a call for the same call elsewhere, its lines moved, and of a
    /// string literal for another where the definition cannot see the literal's value. Where it
    /// can (an arm that matches one string, a `cfg` the string fills), each string is expanded
    /// on its own.
    #[test]
    fn a_reused_body_expansion_is_what_the_call_makes_alone() {
        let _alone = RECORDING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let text = "fn f() {\n    let a = w!(\"one\");\n    let b = w!(\"one\");\n\n    let c = w!(\"two\");\n    \
                    let d = pick!(\"a\");\n    let e = pick!(\"b\");\n    let g = pick!(\"a\");\n    \
                    let h = gated!(\"x\");\n    let i = gated!(\"y\");\n}\n";
        let w = definition(
            "macro_rules! w { ($s:literal) => {{ const INPUT: &[u8] = $s.as_bytes();\n $crate::utf16_of(INPUT) }}; }",
        );
        let pick = definition("macro_rules! pick { (\"a\") => { first() }; ($s:literal) => { second() }; }");
        let gated = definition("macro_rules! gated { ($s:literal) => {{ #[cfg(feature = $s)] gated_call(); }}; }");
        let facts = super::super::parse_file(text).unwrap();
        let body_macros = &facts.items[0].refs.body_macros;
        assert_eq!(body_macros.len(), 8);
        let mut cache = Definitions::default();
        let mut lines = Vec::new();
        for body_macro in body_macros {
            let text = match body_macro.call.name() {
                "w" => &w,
                "pick" => &pick,
                _ => &gated,
            };
            let definition = Definition { text, dollar_crate: "crate" };
            let reused = expand_in_body(body_macro, definition, &mut cache, MAX_MADE).unwrap();
            let alone = expand_in_body(body_macro, definition, &mut Definitions::default(), MAX_MADE).unwrap();
            assert_eq!(reused, alone, "{:?}", body_macro.call);
            // A reused expansion counts what it made, and is refused under a lower limit.
            let size = reused.1;
            assert!(size > 0 && expand_in_body(body_macro, definition, &mut cache, size - 1).is_err());
            let reused = reused.0;
            let called = |refs: &Refs| {
                refs.calls
                    .iter()
                    .map(|call| format!("{:?} {} {:?}", call.callee, call.line, call.cfg))
                    .collect::<Vec<_>>()
            };
            lines.push((body_macro.call.line, called(&reused)));
        }
        // `w`'s three calls share a key, `pick`'s two strings have one each, as `gated`'s do.
        assert_eq!(cache.bodies.len(), 5);
        assert!(lines[2].1.iter().all(|call| call.ends_with(" 5 None")), "{lines:?}");
        assert!(lines[3].1[0].contains("first") && lines[4].1[0].contains("second"), "{lines:?}");
        assert!(lines[5].1[0].contains("first") && lines[5].1[0].contains(" 8 "), "{lines:?}");
        assert!(lines[6].1[0].contains("\\\"x\\\"") && lines[7].1[0].contains("\\\"y\\\""), "{lines:?}");
        // While the benchmark records what expansions make, nothing is reused.
        made_text::start();
        let mut cache = Definitions::default();
        for body_macro in &body_macros[..3] {
            expand_in_body(body_macro, Definition { text: &w, dollar_crate: "crate" }, &mut cache, MAX_MADE).unwrap();
        }
        // (Other tests of this process may expand meanwhile.)
        let recorded = made_text::finish().into_iter().filter(|(_, text)| text.contains("utf16_of")).count();
        assert_eq!((recorded, cache.bodies.len()), (3, 0));
    }

    #[test]
    fn one_string_literal_is_one_plain_string_on_one_line() {
        for text in ["\"CloudAP\"", "  \"a \\\" b\"  ", "\"\"", "\"tab\\t\\\\\""] {
            assert!(one_string_literal(text), "{text}");
        }
        for text in ["\"a\" \"b\"", "r\"raw\"", "\"a\"suffix", "\"a\\\"", "\"a\nb\"", "\"a\\\nb\"", "1", "\"a\", x", ""]
        {
            assert!(!one_string_literal(text), "{text}");
        }
    }
}
