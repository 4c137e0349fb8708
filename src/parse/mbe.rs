//! A `macro_rules!` engine on proc-macro2 token trees: the matcher and the transcriber.
//!
//! Why our own rather than rust-analyzer's (`ra_ap_mbe`): that crate works on its own token
//! trees (`ra_ap_tt`, spans interned through salsa) and parses fragments with its own parser
//! (`ra_ap_parser`, `ra_ap_syntax`, rowan); it pulls 96 crates (salsa, rowan, the parser, vfs)
//! into a build that has none of them, and our tokens would have to go through text and rowan
//! each way. Here the matcher walks proc-macro2 trees, the tokens we already lex, and hands
//! fragments that need a grammar (`expr`, `ty`, `path`, `pat`, `item`, `meta`, ...) to syn, which
//! we already build. README.md ("Macro expansion") has the figures.
//!
//! The matcher backtracks over repetition counts (`$($t:tt)* ;` gives the `;` back), tries arms
//! in order, and is bounded by a step budget so that no input makes it run away; a transcription
//! is bounded by how much it makes (`MAX_MADE`). It knows nothing
//! of where definitions come from or of the crate: the caller hands it a definition, a call body
//! and what `$crate` stands for.

use std::cell::{Cell, OnceCell};

use proc_macro2::{Delimiter, Group, Ident, Punct, Spacing, Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};

/// A fragment specifier (`$x:expr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fragment {
    Item,
    Block,
    Stmt,
    Pat,
    PatParam,
    Expr,
    Ty,
    Ident,
    Path,
    Tt,
    Meta,
    Lifetime,
    Vis,
    Literal,
}

impl Fragment {
    fn from_name(name: &str) -> Option<Fragment> {
        Some(match name {
            "item" => Fragment::Item,
            "block" => Fragment::Block,
            "stmt" => Fragment::Stmt,
            "pat" => Fragment::Pat,
            "pat_param" => Fragment::PatParam,
            // `expr_2021` is the 2024 edition's name for the 2021 meaning; we parse both alike.
            "expr" | "expr_2021" => Fragment::Expr,
            "ty" => Fragment::Ty,
            "ident" => Fragment::Ident,
            "path" => Fragment::Path,
            "tt" => Fragment::Tt,
            "meta" => Fragment::Meta,
            "lifetime" => Fragment::Lifetime,
            "vis" => Fragment::Vis,
            "literal" => Fragment::Literal,
            _ => return None,
        })
    }
}

/// Why a definition or an expansion failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MbeError {
    #[error("malformed `macro_rules!` definition: {0}")]
    Definition(String),
    #[error("no rule of the macro matches this call")]
    NoMatch,
    #[error("gave up matching the call after {STEP_BUDGET} steps (its rules backtrack too much on it)")]
    TooManySteps,
    #[error("the expansion would be larger than {MAX_MADE} tokens")]
    TooLarge,
    #[error("variables repeat a different number of times in one repetition: {0}")]
    Repetition(String),
}

/// A repetition operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// `*`
    Any,
    /// `+`
    OneOrMore,
    /// `?`
    Optional,
}

#[derive(Clone, Debug)]
enum Matcher {
    Token(TokenTree),
    Group(Delimiter, Vec<Matcher>),
    Var(String, Fragment),
    Rep { body: Vec<Matcher>, sep: Vec<TokenTree>, op: Op },
}

#[derive(Clone, Debug)]
enum Transcriber {
    Token(TokenTree),
    Group(Delimiter, Vec<Transcriber>),
    Var(String),
    Crate,
    Rep { body: Vec<Transcriber>, sep: Vec<TokenTree>, op: Op },
}

#[derive(Clone, Debug)]
struct Arm {
    matcher: Vec<Matcher>,
    transcriber: Vec<Transcriber>,
}

/// A parsed `macro_rules!` definition: its arms, in order.
#[derive(Clone, Debug)]
pub struct MacroRules {
    arms: Vec<Arm>,
}

/// What a metavariable is bound to: trees of the call, borrowed from its `Trees`.
#[derive(Clone, Debug)]
enum Binding<'a> {
    Leaf(&'a [TokenTree], Fragment),
    Seq(Vec<Binding<'a>>),
}

/// The variables bound so far, by their names in the matcher.
type Bindings<'a> = Vec<(&'a str, Binding<'a>)>;

/// A call's trees, with each group's trees collected when the matcher first looks into it.
/// proc-macro2's groups can only be iterated by value, which copies their trees (an identifier's
/// name too), and the matcher looks into a group once for each arm and repetition that tries it;
/// collected once, the trees are borrowed by the bindings rather than copied into them.
struct Trees {
    trees: Vec<TokenTree>,
    /// Beside each tree: a group's own trees, once looked into.
    groups: Box<[OnceCell<Trees>]>,
}

impl Trees {
    fn new(trees: Vec<TokenTree>) -> Trees {
        let groups = trees.iter().map(|_| OnceCell::new()).collect();
        Trees { trees, groups }
    }

    /// The group at `index` and its trees, when the tree there is a group.
    fn group(&self, index: usize) -> Option<(&Group, &Trees)> {
        let TokenTree::Group(group) = self.trees.get(index)? else { return None };
        let inner = self.groups[index].get_or_init(|| Trees::new(group.stream().into_iter().collect()));
        Some((group, inner))
    }
}

/// Matching steps one call may take before it is given up (tt munchers on long inputs stay far
/// below; exponential backtracking does not).
const STEP_BUDGET: usize = 1_000_000;

/// How many tokens one transcription may make, a group taken from the call counted by the length
/// of its text (an upper bound on the tokens in it). A call's tokens are shared, not copied, when
/// a variable is transcribed, so a variable transcribed in a repetition of another
/// (`$( $a $b )*`), or a definition that writes one many times, multiplies what syn must parse
/// without a copy to show for it: `($t:tt) => { m!{$t $t} }` doubles with each call. The largest
/// transcription of the `e2e` corpus and of a probe of 88 other crates makes 146,708 by this
/// count (a throwaway print); rustc has no such bound.
pub const MAX_MADE: usize = 1 << 23;

impl MacroRules {
    /// Parses a definition's body (`(matcher) => {transcriber}; ...`).
    pub fn parse(body: TokenStream) -> Result<MacroRules, MbeError> {
        let trees: Vec<TokenTree> = body.into_iter().collect();
        let mut arms = Vec::new();
        let mut index = 0;
        while index < trees.len() {
            let (
                Some(TokenTree::Group(matcher)),
                Some(TokenTree::Punct(eq)),
                Some(TokenTree::Punct(gt)),
                Some(TokenTree::Group(transcriber)),
            ) = (trees.get(index), trees.get(index + 1), trees.get(index + 2), trees.get(index + 3))
            else {
                return Err(MbeError::Definition("expected `(matcher) => {transcriber}`".to_owned()));
            };
            if eq.as_char() != '=' || gt.as_char() != '>' {
                return Err(MbeError::Definition("expected `=>` after a matcher".to_owned()));
            }
            let matcher = parse_matcher(&matcher.stream().into_iter().collect::<Vec<_>>())?;
            let transcriber = parse_transcriber(&transcriber.stream().into_iter().collect::<Vec<_>>())?;
            arms.push(Arm { matcher, transcriber });
            index += 4;
            if matches!(trees.get(index), Some(TokenTree::Punct(semi)) if semi.as_char() == ';') {
                index += 1;
            }
        }
        Ok(MacroRules { arms })
    }

    /// Expands a call whose body is `input`: the first arm that matches, transcribed. Tokens the
    /// definition writes get `site` as their span (rustdoc places what they make at the call);
    /// tokens taken from the call keep theirs. `$crate` becomes `dollar_crate`.
    ///
    /// With the tokens, how deep they nest at most (`nesting::of_tokens`'s measure), counted as
    /// they are made, given `input_depth`, as deep as `input` nests at most; and how many tokens
    /// it made, at most `limit` (counted as `MAX_MADE` counts them, and never more than it; more
    /// is `TooLarge`).
    pub fn expand(
        &self,
        input: TokenStream,
        input_depth: usize,
        site: Span,
        dollar_crate: &[TokenTree],
        limit: usize,
    ) -> Result<(TokenStream, usize, usize), MbeError> {
        let input = Trees::new(input.into_iter().collect());
        let mut steps = 0;
        for arm in &self.arms {
            let mut bindings = Bindings::new();
            if match_seq(&arm.matcher, &input, 0, true, &mut bindings, &mut steps) == Some(input.trees.len()) {
                let left = Cell::new(limit.min(MAX_MADE));
                let ctx = Transcribe { bindings: &bindings, site, dollar_crate, input_depth, left };
                let (trees, depth) = ctx.trees(&arm.transcriber, &mut Vec::new(), false)?;
                let made = limit.min(MAX_MADE) - ctx.left.get();
                return Ok((trees.into_iter().collect(), depth, made));
            }
            if steps > STEP_BUDGET {
                return Err(MbeError::TooManySteps);
            }
        }
        Err(MbeError::NoMatch)
    }
}

fn is_punct(tree: Option<&TokenTree>, c: char) -> bool {
    matches!(tree, Some(TokenTree::Punct(p)) if p.as_char() == c)
}

fn op_of(tree: Option<&TokenTree>) -> Option<Op> {
    match tree {
        Some(TokenTree::Punct(p)) => match p.as_char() {
            '*' => Some(Op::Any),
            '+' => Some(Op::OneOrMore),
            '?' => Some(Op::Optional),
            _ => None,
        },
        _ => None,
    }
}

/// After `$( ... )` at `trees[index]`: the separator (possibly empty) and the operator, and the
/// index after them.
fn repetition_tail(trees: &[TokenTree], mut index: usize) -> Result<(Vec<TokenTree>, Op, usize), MbeError> {
    if let Some(op) = op_of(trees.get(index)) {
        return Ok((Vec::new(), op, index + 1));
    }
    // rustc takes a token as the separator, never a delimited group (`$($x)(,)*`).
    if matches!(trees.get(index), None | Some(TokenTree::Group(_))) {
        return Err(MbeError::Definition("expected one of: `*`, `+`, or `?`".to_owned()));
    }
    let mut sep = Vec::new();
    // A separator is one token; a joint punctuation sequence (`=>`, `::`) is one token too.
    while let Some(tree) = trees.get(index) {
        sep.push(tree.clone());
        index += 1;
        let joint = matches!(tree, TokenTree::Punct(p) if p.spacing() == Spacing::Joint);
        if !(joint && matches!(trees.get(index), Some(TokenTree::Punct(_))) && op_of(trees.get(index)).is_none()) {
            break;
        }
    }
    // The separator's last punctuation is glued to the operator in the text (`),*`): that says
    // nothing of how it is spaced in calls.
    if let Some(last) = sep.last_mut() {
        *last = with_spacing(last, None);
    }
    match op_of(trees.get(index)) {
        Some(Op::Optional) | None => Err(MbeError::Definition("expected `*` or `+` after a separator".to_owned())),
        Some(op) => Ok((sep, op, index + 1)),
    }
}

/// A matcher's punctuation, joint only where it forms an operator with the next token (`=>`,
/// `::`, a lifetime's `'`): `=$x` is lexed with a joint `=` that a call's `= 1` must still match.
fn with_spacing(tree: &TokenTree, next: Option<&TokenTree>) -> TokenTree {
    let TokenTree::Punct(punct) = tree else { return tree.clone() };
    if punct.spacing() == Spacing::Alone {
        return tree.clone();
    }
    let glued = match next {
        Some(TokenTree::Ident(_)) => punct.as_char() == '\'',
        Some(TokenTree::Punct(next)) => {
            let text: String = [punct.as_char(), next.as_char()].into_iter().collect();
            OPERATORS.iter().any(|op| op.starts_with(&text))
        }
        _ => false,
    };
    if glued {
        return tree.clone();
    }
    let mut alone = Punct::new(punct.as_char(), Spacing::Alone);
    alone.set_span(punct.span());
    TokenTree::Punct(alone)
}

fn parse_matcher(trees: &[TokenTree]) -> Result<Vec<Matcher>, MbeError> {
    let mut out = Vec::new();
    let mut index = 0;
    while index < trees.len() {
        match (&trees[index], trees.get(index + 1)) {
            (TokenTree::Punct(dollar), Some(TokenTree::Group(group)))
                if dollar.as_char() == '$' && group.delimiter() == Delimiter::Parenthesis =>
            {
                let body = parse_matcher(&group.stream().into_iter().collect::<Vec<_>>())?;
                let (sep, op, next) = repetition_tail(trees, index + 2)?;
                out.push(Matcher::Rep { body, sep, op });
                index = next;
            }
            (TokenTree::Punct(dollar), Some(TokenTree::Ident(name))) if dollar.as_char() == '$' => {
                let name = name.to_string();
                if is_punct(trees.get(index + 2), ':')
                    && let Some(TokenTree::Ident(kind)) = trees.get(index + 3)
                {
                    let mut fragment = Fragment::from_name(&kind.to_string())
                        .ok_or_else(|| MbeError::Definition(format!("unknown fragment specifier `{kind}`")))?;
                    // A `pat` followed by `|` is written for the 2015 or 2018 edition (rustc refuses
                    // it in 2021 and later), where `pat` takes no top-level `|`: figment's
                    // `|$this:pat| $apply:expr`.
                    if fragment == Fragment::Pat && is_punct(trees.get(index + 4), '|') {
                        fragment = Fragment::PatParam;
                    }
                    out.push(Matcher::Var(name, fragment));
                    index += 4;
                } else {
                    return Err(MbeError::Definition(format!("missing fragment specifier for `${name}`")));
                }
            }
            (TokenTree::Group(group), _) => {
                out.push(Matcher::Group(
                    group.delimiter(),
                    parse_matcher(&group.stream().into_iter().collect::<Vec<_>>())?,
                ));
                index += 1;
            }
            (tree, next) => {
                out.push(Matcher::Token(with_spacing(tree, next)));
                index += 1;
            }
        }
    }
    Ok(out)
}

fn parse_transcriber(trees: &[TokenTree]) -> Result<Vec<Transcriber>, MbeError> {
    let mut out = Vec::new();
    let mut index = 0;
    while index < trees.len() {
        match (&trees[index], trees.get(index + 1)) {
            (TokenTree::Punct(dollar), Some(TokenTree::Group(group)))
                if dollar.as_char() == '$' && group.delimiter() == Delimiter::Parenthesis =>
            {
                let inner: Vec<TokenTree> = group.stream().into_iter().collect();
                let body = parse_transcriber(&inner)?;
                match repetition_tail(trees, index + 2) {
                    Ok((sep, op, next)) => {
                        out.push(Transcriber::Rep { body, sep, op });
                        index = next;
                    }
                    // `$(...)` not followed by an operator: the `$` and the group, as written.
                    Err(_) => {
                        out.push(Transcriber::Token(trees[index].clone()));
                        out.push(Transcriber::Group(Delimiter::Parenthesis, body));
                        index += 2;
                    }
                }
            }
            (TokenTree::Punct(dollar), Some(TokenTree::Ident(name))) if dollar.as_char() == '$' => {
                out.push(if name == "crate" { Transcriber::Crate } else { Transcriber::Var(name.to_string()) });
                index += 2;
            }
            (TokenTree::Group(group), _) => {
                out.push(Transcriber::Group(
                    group.delimiter(),
                    parse_transcriber(&group.stream().into_iter().collect::<Vec<_>>())?,
                ));
                index += 1;
            }
            (tree, _) => {
                out.push(Transcriber::Token(tree.clone()));
                index += 1;
            }
        }
    }
    Ok(out)
}

/// Whether the literal token `pattern` matches `input`.
fn token_matches(pattern: &TokenTree, input: &TokenTree) -> bool {
    match (pattern, input) {
        (TokenTree::Punct(a), TokenTree::Punct(b)) => {
            a.as_char() == b.as_char() && (a.spacing() == Spacing::Alone || b.spacing() == Spacing::Joint)
        }
        (TokenTree::Ident(a), TokenTree::Ident(b)) => a == b,
        (TokenTree::Literal(a), TokenTree::Literal(b)) => a.to_string() == b.to_string(),
        _ => false,
    }
}

/// Matches `pats` against `input` from `pos`; with `must_end`, only a match that takes the
/// input to its end counts. Returns the position after the match.
fn match_seq<'a>(
    pats: &'a [Matcher],
    trees: &'a Trees,
    mut pos: usize,
    must_end: bool,
    out: &mut Bindings<'a>,
    steps: &mut usize,
) -> Option<usize> {
    let input = &trees.trees;
    for (index, pat) in pats.iter().enumerate() {
        *steps += 1;
        if *steps > STEP_BUDGET {
            return None;
        }
        match pat {
            Matcher::Token(token) => {
                if !token_matches(token, input.get(pos)?) {
                    return None;
                }
                pos += 1;
            }
            Matcher::Group(delimiter, inner) => {
                let (group, group_trees) = trees.group(pos)?;
                if group.delimiter() != *delimiter {
                    return None;
                }
                match_seq(inner, group_trees, 0, true, out, steps)?;
                pos += 1;
            }
            Matcher::Var(name, fragment) => {
                let n = match_fragment(*fragment, &input[pos..])?;
                out.push((name, Binding::Leaf(&input[pos..pos + n], *fragment)));
                pos += n;
            }
            Matcher::Rep { body, sep, op } => {
                return match_repetition(body, sep, *op, &pats[index + 1..], trees, pos, must_end, out, steps);
            }
        }
    }
    if must_end && pos != input.len() { None } else { Some(pos) }
}

/// A repetition and what follows it: as many iterations as match, then fewer, until what
/// follows matches too.
#[expect(clippy::too_many_arguments, reason = "the matcher's state, spelled out")]
fn match_repetition<'a>(
    body: &'a [Matcher],
    sep: &[TokenTree],
    op: Op,
    rest: &'a [Matcher],
    trees: &'a Trees,
    start: usize,
    must_end: bool,
    out: &mut Bindings<'a>,
    steps: &mut usize,
) -> Option<usize> {
    let input = &trees.trees;
    // The iterations' bindings, one after another in `bound` (not a vector each: `$($t:tt)*`
    // binds one tree per iteration); each iteration's end in the input and in `bound`.
    let mut bound = Bindings::new();
    let mut iterations: Vec<(usize, usize)> = Vec::new();
    let mut pos = start;
    loop {
        if op == Op::Optional && !iterations.is_empty() {
            break;
        }
        let mut at = pos;
        if !iterations.is_empty() && !sep.is_empty() {
            if input.len() < at + sep.len() || !sep.iter().zip(&input[at..]).all(|(a, b)| token_matches(a, b)) {
                break;
            }
            at += sep.len();
        }
        let mark = bound.len();
        match match_seq(body, trees, at, false, &mut bound, steps) {
            // An iteration that takes nothing would repeat forever.
            Some(end) if end > pos => {
                iterations.push((end, bound.len()));
                pos = end;
            }
            _ => {
                bound.truncate(mark);
                break;
            }
        }
        if *steps > STEP_BUDGET {
            return None;
        }
    }
    let min = usize::from(op == Op::OneOrMore);
    let names = variables(body);
    for count in (min..=iterations.len()).rev() {
        let end = if count == 0 { start } else { iterations[count - 1].0 };
        let mut after = Bindings::new();
        if let Some(done) = match_seq(rest, trees, end, must_end, &mut after, steps) {
            for name in names {
                // Each iteration's binding of `name` moves into the sequence: a name is bound
                // once per iteration.
                let mut from = 0;
                let each = iterations[..count]
                    .iter()
                    .map(|&(_, to)| {
                        let iteration = &mut bound[from..to];
                        from = to;
                        iteration
                            .iter_mut()
                            .find(|(n, _)| *n == name)
                            .map_or(Binding::Seq(Vec::new()), |(_, b)| std::mem::replace(b, Binding::Seq(Vec::new())))
                    })
                    .collect();
                out.push((name, Binding::Seq(each)));
            }
            out.append(&mut after);
            return Some(done);
        }
        if *steps > STEP_BUDGET {
            return None;
        }
    }
    None
}

/// The metavariables a matcher binds at its own depth or deeper.
fn variables(pats: &[Matcher]) -> Vec<&str> {
    let mut out = Vec::new();
    for pat in pats {
        match pat {
            Matcher::Var(name, _) => out.push(name.as_str()),
            Matcher::Group(_, inner) | Matcher::Rep { body: inner, .. } => out.extend(variables(inner)),
            Matcher::Token(_) => {}
        }
    }
    out
}

/// Multi-character operators, which `tt` takes whole although proc-macro2 splits them.
const OPERATORS: &[&str] = &[
    "&&", "||", "==", "!=", "<=", ">=", "+=", "-=", "*=", "/=", "%=", "^=", "&=", "|=", "<<", ">>", "<<=", ">>=", "::",
    "->", "=>", "<-", "..", "...", "..=",
];

/// How many trees at the start of `input` the fragment takes; `None` when it does not match.
fn match_fragment(fragment: Fragment, input: &[TokenTree]) -> Option<usize> {
    let first = input.first();
    match fragment {
        Fragment::Ident => match first? {
            TokenTree::Ident(ident) if ident != "_" => Some(1),
            _ => None,
        },
        Fragment::Lifetime => lifetime_at(input).then_some(2),
        Fragment::Block => matches!(first?, TokenTree::Group(g) if g.delimiter() == Delimiter::Brace).then_some(1),
        Fragment::Tt => tt_len(input),
        Fragment::Literal => match (first?, input.get(1)) {
            (TokenTree::Literal(_), _) => Some(1),
            (TokenTree::Ident(ident), _) if ident == "true" || ident == "false" => Some(1),
            (TokenTree::Punct(minus), Some(TokenTree::Literal(_))) if minus.as_char() == '-' => Some(2),
            _ => None,
        },
        Fragment::Vis => match first {
            Some(TokenTree::Ident(ident)) if ident == "pub" => match input.get(1) {
                Some(TokenTree::Group(group))
                    if group.delimiter() == Delimiter::Parenthesis
                        && matches!(group.stream().into_iter().next(), Some(TokenTree::Ident(i))
                            if i == "crate" || i == "self" || i == "super" || i == "in") =>
                {
                    Some(2)
                }
                _ => Some(1),
            },
            Some(TokenTree::Ident(ident)) if ident == "crate" && !is_punct(input.get(1), ':') => Some(1),
            _ => Some(0),
        },
        _ => {
            first?;
            syn_fragment(fragment, input)
        }
    }
}

/// How many trees at the start of `input` syn's grammar for `fragment` takes, given all of them.
fn syn_whole(fragment: Fragment, input: &[TokenTree]) -> Option<usize> {
    with_syn(input, |stream| {
        match fragment {
            Fragment::Item => drop(stream.parse::<syn::Item>()?),
            Fragment::Stmt => stmt(stream)?,
            Fragment::Pat => drop(syn::Pat::parse_multi_with_leading_vert(stream)?),
            Fragment::PatParam => drop(syn::Pat::parse_single(stream)?),
            Fragment::Expr => drop(stream.parse::<syn::Expr>()?),
            Fragment::Ty => drop(stream.parse::<syn::Type>()?),
            Fragment::Path => {
                drop(stream.parse::<syn::Path>()?);
                // rustc reads a `path` fragment as a type's path, whose last segment may take
                // parenthesized arguments (`F: FnMut(St::Item) -> U` in a where clause, as
                // pin-project-lite matches it); syn's `Path` leaves those to its callers.
                if stream.peek(syn::token::Paren) {
                    drop(stream.parse::<syn::ParenthesizedGenericArguments>()?);
                }
            }
            Fragment::Meta => drop(stream.parse::<syn::Meta>()?),
            _ => unreachable!("fragments matched without syn are handled above"),
        }
        Ok(())
    })
}

/// Prefixes of the input tried before the whole of it (see `syn_fragment`).
const PREFIX_TRIES: usize = 8;

/// How many trees at the start of `input` a fragment that needs syn's grammar takes.
///
/// syn copies what it is handed into its own buffer, so handing it the whole rest of a call for
/// every fragment makes a repetition of fragments quadratic in the call's length (and a tt
/// muncher, which matches the shrinking rest once per level, cubic). So prefixes that end where
/// the fragment may end are tried first: just before a top-level `,`, `;` or `=>` (which end an
/// expression, a type, a pattern, a path or a meta and never continue one), and for an item just
/// after a top-level `;` or `{...}`. A prefix that syn takes whole is the fragment, since the
/// token after it cannot continue it; a prefix syn rejects may be cut inside the fragment
/// (`|a, b| a + b`, `HashMap<K, V>`, `impl X for Y<{ N }> {}`), so the next one is tried; when
/// syn stops inside a prefix, or after a few tries, the whole input decides, as it always did.
fn syn_fragment(fragment: Fragment, input: &[TokenTree]) -> Option<usize> {
    // A statement may be an item or an expression: it is left to the whole input.
    if fragment != Fragment::Stmt {
        for end in fragment_ends(fragment, input).take(PREFIX_TRIES) {
            match syn_whole(fragment, &input[..end]) {
                Some(n) if n == end => return Some(end),
                Some(_) => break,
                None => {}
            }
        }
    }
    syn_whole(fragment, input)
}

/// Where a fragment may end (exclusive indices, increasing, short of the whole input).
fn fragment_ends(fragment: Fragment, input: &[TokenTree]) -> impl Iterator<Item = usize> + '_ {
    let item = fragment == Fragment::Item;
    input.iter().enumerate().filter_map(move |(index, tree)| {
        let end = match tree {
            TokenTree::Punct(p) if p.as_char() == ';' => {
                if item {
                    index + 1
                } else {
                    index
                }
            }
            TokenTree::Punct(p) if !item && p.as_char() == ',' => index,
            TokenTree::Punct(p)
                if !item
                    && p.as_char() == '='
                    && p.spacing() == Spacing::Joint
                    && is_punct(input.get(index + 1), '>') =>
            {
                index
            }
            TokenTree::Group(g) if item && g.delimiter() == Delimiter::Brace => index + 1,
            _ => return None,
        };
        (end > 0 && end < input.len()).then_some(end)
    })
}

/// A statement without its trailing semicolon: an item, a `let`, or an expression.
fn stmt(stream: ParseStream<'_>) -> syn::Result<()> {
    use syn::parse::discouraged::Speculative;
    let fork = stream.fork();
    if fork.parse::<syn::Item>().is_ok() {
        stream.advance_to(&fork);
        return Ok(());
    }
    // A statement's outer attributes (`#[allow(unused)] let a = 1`).
    stream.call(syn::Attribute::parse_outer)?;
    if stream.peek(syn::Token![let]) {
        stream.parse::<syn::Token![let]>()?;
        syn::Pat::parse_single(stream)?;
        if stream.peek(syn::Token![:]) {
            stream.parse::<syn::Token![:]>()?;
            stream.parse::<syn::Type>()?;
        }
        if stream.peek(syn::Token![=]) {
            stream.parse::<syn::Token![=]>()?;
            stream.parse::<syn::Expr>()?;
        }
        return Ok(());
    }
    stream.parse::<syn::Expr>().map(drop)
}

/// Runs a syn parser on `input` and says how many of its trees the parser took.
fn with_syn(input: &[TokenTree], parse: impl FnOnce(ParseStream<'_>) -> syn::Result<()>) -> Option<usize> {
    let taken = Cell::new(None);
    let stream: TokenStream = input.iter().cloned().collect();
    // The parser stops where the fragment ends; `parse2` then complains of the tokens after it,
    // which are the next matchers' business: the count is what we keep.
    let _ = (|stream: ParseStream<'_>| {
        let start = stream.cursor();
        parse(stream)?;
        let end = stream.cursor();
        let mut cursor = start;
        let mut n = 0;
        while cursor != end {
            let Some((_, next)) = cursor.token_tree() else { break };
            cursor = next;
            n += 1;
        }
        taken.set(Some(n));
        Ok(())
    })
    .parse2(stream);
    taken.get().filter(|&n| n > 0 && n <= input.len())
}

fn lifetime_at(input: &[TokenTree]) -> bool {
    matches!((input.first(), input.get(1)), (Some(TokenTree::Punct(q)), Some(TokenTree::Ident(_))) if q.as_char() == '\'' && q.spacing() == Spacing::Joint)
}

/// One token tree as rustc counts them: a lifetime, or an operator, is one.
fn tt_len(input: &[TokenTree]) -> Option<usize> {
    match input.first()? {
        TokenTree::Punct(_) if lifetime_at(input) => Some(2),
        TokenTree::Punct(first) => {
            let mut text = first.as_char().to_string();
            let mut n = 1;
            while let (Some(TokenTree::Punct(last)), Some(TokenTree::Punct(next))) = (input.get(n - 1), input.get(n)) {
                if last.spacing() != Spacing::Joint {
                    break;
                }
                text.push(next.as_char());
                if !OPERATORS.contains(&text.as_str()) {
                    break;
                }
                n += 1;
            }
            Some(n)
        }
        _ => Some(1),
    }
}

struct Transcribe<'a> {
    bindings: &'a Bindings<'a>,
    site: Span,
    dollar_crate: &'a [TokenTree],
    /// How deep the call's tokens nest at most: a group taken from them nests no deeper inside.
    input_depth: usize,
    /// How many more tokens the transcription may make (`MacroRules::expand`'s limit).
    left: Cell<usize>,
}

impl<'a> Transcribe<'a> {
    /// The binding of `name` at the repetition indices `at` (outermost first).
    fn lookup(&self, name: &str, at: &[usize]) -> Option<&Binding<'a>> {
        let mut binding = &self.bindings.iter().rev().find(|(n, _)| *n == name)?.1;
        for &index in at {
            match binding {
                Binding::Seq(each) => binding = each.get(index)?,
                Binding::Leaf(..) => break,
            }
        }
        Some(binding)
    }

    /// How many times a repetition at `at` repeats: the length its variables agree on, or `None`
    /// when it names no variable that repeats there.
    fn count(&self, body: &[Transcriber], at: &[usize]) -> Result<Option<usize>, MbeError> {
        let mut found: Option<(usize, &str)> = None;
        for name in transcribed_variables(body) {
            let Some(Binding::Seq(each)) = self.lookup(name, at) else { continue };
            match found {
                Some((n, first)) if n != each.len() => {
                    return Err(MbeError::Repetition(format!("`${first}` {n} times, `${name}` {}", each.len())));
                }
                _ => found = Some((each.len(), name)),
            }
        }
        Ok(found.map(|(n, _)| n))
    }

    /// Counts `n` more tokens made; an error past the transcription's limit (`MAX_MADE` at most).
    fn spend(&self, n: usize) -> Result<(), MbeError> {
        let left = self.left.get().checked_sub(n).ok_or(MbeError::TooLarge)?;
        self.left.set(left);
        Ok(())
    }

    /// Counts the call's `tokens`, transcribed once more: a group by the length of its text,
    /// which is the call's, lexed on this thread (`Span::byte_range`).
    fn spend_on(&self, tokens: &[TokenTree]) -> Result<(), MbeError> {
        let weight = |tree: &TokenTree| match tree {
            TokenTree::Group(group) => group.span().byte_range().len().max(1),
            _ => 1,
        };
        self.spend(tokens.iter().map(weight).sum())
    }

    fn token(&self, tree: &TokenTree) -> TokenTree {
        let mut tree = tree.clone();
        tree.set_span(self.site);
        tree
    }

    /// A repetition's separator, into `out`: one token, never a group (`repetition_tail`), so
    /// it adds nothing to the depth.
    fn separator(&self, sep: &[TokenTree], out: &mut Vec<TokenTree>) -> Result<(), MbeError> {
        self.spend(sep.len())?;
        out.extend(sep.iter().map(|tree| self.token(tree)));
        Ok(())
    }

    /// The trees `body` makes as the contents of one group (or of the whole expansion).
    /// `block`: the group is a block's braces, not a macro call's (see `end_statements`).
    fn trees(
        &self,
        body: &[Transcriber],
        at: &mut Vec<usize>,
        block: bool,
    ) -> Result<(Vec<TokenTree>, usize), MbeError> {
        let mut out = Vec::new();
        let mut statement_ends = Vec::new();
        let mut made = Vec::new();
        self.seq(body, at, &mut out, &mut statement_ends, &mut made)?;
        // `end_statements` adds only `;`, which nests nothing and closes every `<`.
        let depth = depth(&out, &made, self.input_depth);
        end_statements(&mut out, &statement_ends, block);
        Ok((out, depth))
    }

    /// Transcribes `body` into `out`, and notes in `statement_ends` where a statement from a
    /// `stmt` fragment ends without its `;` (see `end_statements`), and in `made` the index and
    /// depth of each group the definition makes (see `depth`).
    fn seq(
        &self,
        body: &[Transcriber],
        at: &mut Vec<usize>,
        out: &mut Vec<TokenTree>,
        statement_ends: &mut Vec<(usize, Unended)>,
        made: &mut Vec<(usize, usize)>,
    ) -> Result<(), MbeError> {
        for part in body {
            match part {
                Transcriber::Token(tree) => {
                    self.spend(1)?;
                    out.push(self.token(tree));
                }
                Transcriber::Group(delimiter, inner) => {
                    self.spend(1)?;
                    let call = matches!(out.last(), Some(TokenTree::Punct(bang)) if bang.as_char() == '!');
                    let (tokens, depth) = self.trees(inner, at, *delimiter == Delimiter::Brace && !call)?;
                    let mut group = Group::new(*delimiter, tokens.into_iter().collect());
                    group.set_span(self.site);
                    made.push((out.len(), depth));
                    out.push(TokenTree::Group(group));
                }
                Transcriber::Crate => {
                    self.spend(self.dollar_crate.len())?;
                    out.extend(self.dollar_crate.iter().map(|tree| self.token(tree)));
                }
                Transcriber::Var(name) => match self.lookup(name, at) {
                    // An empty `vis` is no token, but rustc gives it a span at the macro, so a
                    // field written `$vis $name: $ty` starts at the call (rustdoc places it
                    // there). `pub(self)` is the same visibility, and carries the call's span.
                    Some(Binding::Leaf([], Fragment::Vis)) => {
                        self.spend(2)?;
                        out.push(TokenTree::Ident(Ident::new("pub", self.site)));
                        let mut group =
                            Group::new(Delimiter::Parenthesis, TokenTree::Ident(Ident::new("self", self.site)).into());
                        group.set_span(self.site);
                        out.push(TokenTree::Group(group));
                    }
                    Some(Binding::Leaf(tokens, fragment)) => {
                        self.spend_on(tokens)?;
                        // An expression keeps its precedence where it lands, as rustc's invisible
                        // delimiters keep it (`$a * 2` with `$a` = `1 + 1`); a type stays one
                        // type even as one token (`1 as $t << n` with `$t` = `u32` is a shift, not
                        // generic arguments: rand's `float_impls!`).
                        if *fragment == Fragment::Ty || *fragment == Fragment::Expr && tokens.len() > 1 {
                            out.push(TokenTree::Group(Group::new(Delimiter::None, tokens.iter().cloned().collect())));
                        } else if matches!(fragment, Fragment::Ident | Fragment::Lifetime) {
                            // rustc gives an `ident` or `lifetime` it transcribes the span of the
                            // `$name` in the definition (only the name inside keeps the call's), so
                            // a variant or field that starts with one starts at the call: rustdoc
                            // places url's `simple_enum_error!` variants (`$name,`) there. A `tt`
                            // keeps its own span.
                            out.extend(tokens.iter().map(|tree| self.token(tree)));
                        } else {
                            out.extend(tokens.iter().cloned());
                            if *fragment == Fragment::Stmt
                                && let Some(unended) = unended(tokens)
                            {
                                statement_ends.push((out.len(), unended));
                            }
                        }
                    }
                    // A variable still repeating here is used at too shallow a depth: rustc
                    // refuses the macro, and so do we.
                    Some(Binding::Seq(_)) => {
                        return Err(MbeError::Repetition(format!("`${name}` is still repeating here")));
                    }
                    // Not bound: the `$` and the name as written (a nested `macro_rules!`).
                    None => {
                        self.spend(2)?;
                        out.push(TokenTree::Punct(Punct::new('$', Spacing::Alone)));
                        out.push(TokenTree::Ident(Ident::new(name, self.site)));
                    }
                },
                Transcriber::Rep { body, sep, op } => match self.count(body, at)? {
                    Some(n) => {
                        if *op == Op::Optional && n > 1 {
                            return Err(MbeError::Repetition("`?` repeated more than once".to_owned()));
                        }
                        for index in 0..n {
                            if index > 0 {
                                self.separator(sep, out)?;
                            }
                            at.push(index);
                            self.seq(body, at, out, statement_ends, made)?;
                            at.pop();
                        }
                    }
                    // No variable repeats here: the repetition is for a macro this one defines.
                    None => {
                        self.spend(3)?;
                        out.push(TokenTree::Punct(Punct::new('$', Spacing::Alone)));
                        let (tokens, depth) = self.trees(body, at, false)?;
                        made.push((out.len(), depth));
                        out.push(TokenTree::Group(Group::new(Delimiter::Parenthesis, tokens.into_iter().collect())));
                        self.separator(sep, out)?;
                        let op = match op {
                            Op::Any => '*',
                            Op::OneOrMore => '+',
                            Op::Optional => '?',
                        };
                        out.push(TokenTree::Punct(Punct::new(op, Spacing::Alone)));
                    }
                },
            }
        }
        Ok(())
    }
}

/// How deep `trees` nest at most, by `nesting::of_tokens`'s measure at the top level: a group
/// counts one level, and each `<` not yet closed in its group one more. `made` gives the depth
/// inside of each group the definition made, by its index (in order); any other group was taken
/// from the call (or wraps a fragment of it), and nests no deeper inside than `taken`.
fn depth(trees: &[TokenTree], made: &[(usize, usize)], taken: usize) -> usize {
    let mut made = made.iter().peekable();
    let (mut angles, mut deepest) = (0usize, 0usize);
    for (index, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Group(group) => {
                let inside = match made.peek() {
                    Some(&&(at, depth)) if at == index => {
                        made.next();
                        depth
                    }
                    _ => taken,
                };
                deepest = deepest.max(1 + angles).max(1 + inside);
                if group.delimiter() == Delimiter::Brace {
                    angles = 0;
                }
            }
            TokenTree::Punct(punct) => match punct.as_char() {
                '<' => {
                    angles += 1;
                    deepest = deepest.max(1 + angles);
                }
                '>' => angles = angles.saturating_sub(1),
                ';' => angles = 0,
                _ => {}
            },
            TokenTree::Ident(_) | TokenTree::Literal(_) => {}
        }
    }
    deepest
}

/// A statement from a `stmt` fragment that lacks the `;` syn needs before another statement.
#[derive(Clone, Copy, PartialEq)]
enum Unended {
    /// A `let` statement: it needs its `;` at a block's end too.
    Let,
    /// An expression (a macro call too): at a block's end, it is the block's value.
    Expr,
}

/// What a `stmt` fragment lacks: `None` for an item, or a statement ending with `;`.
fn unended(tokens: &[TokenTree]) -> Option<Unended> {
    if matches!(tokens.last(), Some(TokenTree::Punct(semi)) if semi.as_char() == ';') {
        return None;
    }
    let mut rest = tokens;
    while let [TokenTree::Punct(hash), TokenTree::Group(_), after @ ..] = rest
        && hash.as_char() == '#'
    {
        rest = after;
    }
    let Some(TokenTree::Ident(first)) = rest.first() else { return Some(Unended::Expr) };
    let block_follows = matches!(rest.get(1), Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Brace);
    let item = match first.to_string().as_str() {
        "let" => return Some(Unended::Let),
        "fn" | "struct" | "enum" | "trait" | "impl" | "mod" | "use" | "static" | "type" | "macro_rules" | "pub" => true,
        "extern" => true,
        // A block (`unsafe { .. }`, `const { .. }`, `async move { .. }`) or an item (`unsafe fn`,
        // `const N: u8 = 1;`, `async fn`).
        "unsafe" | "const" => !block_follows,
        "async" => !block_follows && !matches!(rest.get(1), Some(TokenTree::Ident(word)) if word == "move"),
        "union" => matches!(rest.get(1), Some(TokenTree::Ident(_))),
        _ => false,
    };
    (!item).then_some(Unended::Expr)
}

/// In a block, ends with `;` each statement from a `stmt` fragment (ending at an index in `ends`)
/// that another statement follows, and a `let` statement at the block's end. rustc takes a
/// transcribed `stmt` fragment as a whole statement, so `$($init)*` of `let`s and calls is a
/// block's statements (itertools' benchmarks, `bench_specializations!`); syn needs their `;`.
/// Nothing is added in any other group: a macro call's arguments pass the fragments on, to be
/// matched as `stmt`s again.
fn end_statements(out: &mut Vec<TokenTree>, ends: &[(usize, Unended)], block: bool) {
    if !block {
        return;
    }
    for &(end, unended) in ends.iter().rev() {
        let ended = match out.get(end) {
            None => unended == Unended::Expr,
            Some(TokenTree::Punct(punct)) => punct.as_char() == ';',
            Some(_) => false,
        };
        if !ended {
            let mut semi = Punct::new(';', Spacing::Alone);
            if let Some(last) = end.checked_sub(1).and_then(|last| out.get(last)) {
                semi.set_span(last.span());
            }
            out.insert(end, TokenTree::Punct(semi));
        }
    }
}

fn transcribed_variables(body: &[Transcriber]) -> Vec<&str> {
    let mut out = Vec::new();
    for part in body {
        match part {
            Transcriber::Var(name) => out.push(name.as_str()),
            Transcriber::Group(_, inner) | Transcriber::Rep { body: inner, .. } => {
                out.extend(transcribed_variables(inner))
            }
            Transcriber::Token(_) | Transcriber::Crate => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::nesting;

    /// Expands `call` with the definition `rules` (the body of `macro_rules! m { ... }`) and
    /// prints the result as proc-macro2 does; and checks that the depth the expansion counted is
    /// no less than the depth of what it made.
    fn expand(rules: &str, call: &str) -> Result<String, MbeError> {
        let rules = MacroRules::parse(rules.parse().unwrap())?;
        let dollar_crate: Vec<TokenTree> = vec![TokenTree::Ident(Ident::new("crate", Span::call_site()))];
        let input_depth = nesting::at_most_of_text(call);
        let (tokens, depth, _) =
            rules.expand(call.parse().unwrap(), input_depth, Span::call_site(), &dollar_crate, MAX_MADE)?;
        let walked = nesting::of_tokens(&tokens, usize::MAX).unwrap();
        assert!(depth >= walked, "{call}: counted {depth}, walked {walked}");
        Ok(tokens.to_string())
    }

    /// The depth a transcription counts bounds what it makes, however deep the definition's
    /// groups, the call's groups and the `<` of both nest (`parse_syntax_with` skips the walk
    /// under the limit on that count).
    #[test]
    fn the_depth_an_expansion_counts_is_no_less_than_what_it_made() {
        let cases = [
            (
                "($($t:ty),*) => { $(impl<X: A<$t>> B<Vec<$t>> for C<X> { fn f() -> D<E<$t>> { g::<$t>() } })* }",
                "u8, Vec<Vec<u8>>, [[(u8,)]; 2]",
            ),
            ("($($x:tt)*) => { < < $($x)* < { ((($($x)*))) } }", "< < ( [ { < } ] ) /// doc\n x"),
            ("($e:expr) => { (((($e)))) }", "((((((((1))))))))"),
            ("($($a:ident)*) => { $( < $a )* }", "a b c d e f g h i j"),
            ("($($a:tt)*) => { $( ($a) )* ; f::< $( [$a] )* > }", "{ [ ( ) ] } x"),
        ];
        for (rules, call) in cases {
            ok(rules, call);
        }
        // Deeper than `MAX_NESTING`, counted from the call's text: the walk decides.
        let deep = format!("{}1{}", "(".repeat(300), ")".repeat(300));
        assert!(nesting::at_most_of_text(&deep) > super::super::MAX_NESTING);
        ok("($($x:tt)*) => { [$($x)*] }", &deep);
    }

    fn ok(rules: &str, call: &str) -> String {
        expand(rules, call).unwrap_or_else(|err| panic!("{call}: {err}"))
    }

    #[test]
    fn each_fragment_specifier_matches_its_syntax() {
        let cases = [
            ("item", "pub struct S { a: u8 }", "pub struct S { a : u8 }"),
            ("block", "{ let a = 1; a }", "{ let a = 1 ; a }"),
            ("stmt", "let a: u8 = 1", "let a : u8 = 1"),
            ("pat", "Some(x) | None", "Some (x) | None"),
            ("pat_param", "(a, b)", "(a , b)"),
            ("expr", "a + b * 2", "a + b * 2"),
            ("ty", "Vec<(u8, &'a str)>", "Vec < (u8 , &'a str) >"),
            ("ident", "r#type", "r#type"),
            ("path", "std::collections::HashMap<K, V>", "std :: collections :: HashMap < K , V >"),
            ("path", "FnMut(St::Item) -> U", "FnMut (St :: Item) -> U"),
            ("path", "Fn()", "Fn ()"),
            ("tt", "[1, 2]", "[1 , 2]"),
            ("meta", "derive(Debug, Clone)", "derive (Debug , Clone)"),
            ("lifetime", "'static", "'static"),
            ("vis", "pub(crate)", "pub (crate)"),
            ("literal", "-1.5e3", "- 1.5e3"),
        ];
        for (fragment, input, want) in cases {
            let rules = format!("($x:{fragment} ; end) => {{ [$x] }}");
            assert_eq!(ok(&rules, &format!("{input} ; end")), format!("[{want}]"), "fragment {fragment}");
        }
    }

    #[test]
    fn statements_from_stmt_fragments_are_ended_where_a_statement_follows() {
        // itertools' `bench_specializations!`: `$($init:stmt;)*` written again as `$($init)*`.
        let rules = "($($init:stmt;)* => $e:expr) => { fn f() { $($init)* let last = $e; } \
                     fn g() { $($init)* } m!($($init),*); n!($($init)* => x); }";
        let out = ok(rules, "let a = 1; #[allow(unused)] let b: u8 = 2; x(); => a + b");
        assert!(out.contains("let a = 1 ; # [allow (unused)] let b : u8 = 2 ; x () ; let last"), "{out}");
        // An expression at the end of a block is its value; passed on to a macro, the statements
        // are left as they were matched, to be matched again.
        assert!(out.contains("fn g () { let a = 1 ; # [allow (unused)] let b : u8 = 2 ; x () }"), "{out}");
        assert!(out.contains("m ! (let a = 1 , # [allow (unused)] let b : u8 = 2 , x ())"), "{out}");
        assert!(out.contains("n ! (let a = 1 # [allow (unused)] let b : u8 = 2 x () => x)"), "{out}");
        let file: syn::File = syn::parse2(out.parse().unwrap()).expect("statements syn can read");
        assert_eq!(file.items.len(), 4);
        // Items stand alone, where items go too; a block or a call is parted from what follows.
        let items = ok("($($s:stmt)*) => { $($s)* }", "fn a() {} pub struct B; unsafe fn c() {} const D: u8 = 1;");
        assert_eq!(items, "fn a () { } pub struct B ; unsafe fn c () { } const D : u8 = 1 ;");
        let body = ok("($($s:stmt)*) => { fn f() { $($s)* } }", "unsafe { a() } println!(\"x\") let c = 1");
        assert_eq!(body, "fn f () { unsafe { a () } ; println ! (\"x\") ; let c = 1 ; }");
        syn::parse_str::<syn::File>(&body).expect("statements syn can read");
        // Passed on to a macro that matches them as `stmt`s again, and written in its block.
        let passed = ok("($($s:stmt;)*) => { inner!($($s)*); }", "let a = 1; let b = 2;");
        assert_eq!(passed, "inner ! (let a = 1 let b = 2) ;");
        let made = ok("($($s:stmt)*) => { fn f() { $($s)* } }", "let a = 1 let b = 2");
        assert_eq!(made, "fn f () { let a = 1 ; let b = 2 ; }");
    }

    #[test]
    fn fragments_refuse_what_is_not_theirs() {
        for (fragment, input) in [
            ("ident", "_"),
            ("ident", "1"),
            ("lifetime", "a"),
            ("literal", "x"),
            ("block", "(1)"),
            ("ty", "=>"),
            ("expr", ";"),
            ("item", "1 + 1"),
            ("path", "1"),
            ("meta", "1"),
        ] {
            let rules = format!("($x:{fragment}) => {{ $x }}");
            assert_eq!(expand(&rules, input), Err(MbeError::NoMatch), "`{input}` as {fragment}");
        }
    }

    #[test]
    fn vis_may_be_empty() {
        // Transcribed as `pub(self)`, the same visibility, at the call (see `Transcriber::Var`).
        assert_eq!(ok("($v:vis fn $n:ident) => { $v fn $n() {} }", "fn f"), "pub (self) fn f () { }");
        assert_eq!(ok("($v:vis fn $n:ident) => { $v fn $n() {} }", "pub fn f"), "pub fn f () { }");
    }

    #[test]
    fn repetitions_with_and_without_separators() {
        let any = "($($t:ty),*) => { $(impl A for $t {})* }";
        assert_eq!(ok(any, ""), "");
        assert_eq!(ok(any, "u8, u16"), "impl A for u8 { } impl A for u16 { }");
        // A trailing separator is no iteration: this arm refuses it, as rustc does.
        assert_eq!(expand(any, "u8, u16,"), Err(MbeError::NoMatch));
        let trailing = "($($t:ty),* $(,)?) => { $($t);* }";
        assert_eq!(ok(trailing, "u8, u16,"), "u8 ; u16");
        let plus = "($($i:ident)+) => { $($i)-+ }";
        assert_eq!(expand(plus, ""), Err(MbeError::NoMatch));
        assert_eq!(ok(plus, "a b c"), "a - b - c");
        let optional = "($a:ident $(= $b:expr)?) => { $a $(+ $b)? }";
        assert_eq!(ok(optional, "x"), "x");
        assert_eq!(ok(optional, "x = 3"), "x + 3");
        let fat_arrow = "($($k:ident => $v:expr),*) => { $(($k, $v))* }";
        assert_eq!(ok(fat_arrow, "a => 1, b => 2"), "(a , 1) (b , 2)");
        let glued = "($a:ident =$b:expr) => { $b }";
        assert_eq!(ok(glued, "x = 1"), "1");
        let arrow_sep = "($($k:ident)=>*) => { $($k)* }";
        assert_eq!(ok(arrow_sep, "a => b => c"), "a b c");
    }

    #[test]
    fn nested_repetitions_keep_their_depth() {
        let rules = "($($t:ident: $($m:ident),*);*) => { $(impl $t { $(fn $m() {})* })* }";
        assert_eq!(ok(rules, "A: f, g; B: h"), "impl A { fn f () { } fn g () { } } impl B { fn h () { } }");
        // An outer variable used inside the inner repetition repeats with it.
        let outer = "($($t:ident [$($n:literal)*])*) => { $($(impl X<$n> for $t {})*)* }";
        assert_eq!(ok(outer, "A [1 2] B [3]"), "impl X <1 > for A { } impl X <2 > for A { } impl X <3 > for B { }");
        let mismatched = "($($a:ident)* ; $($b:ident)*) => { $($a $b)* }";
        assert!(matches!(expand(mismatched, "x y ; z"), Err(MbeError::Repetition(_))));
        assert_eq!(ok(mismatched, "x y ; z w"), "x z y w");
    }

    #[test]
    fn repetitions_give_back_what_follows_them() {
        assert_eq!(ok("($($t:tt)* ; $last:ident) => { $last }", "a b ; c ; d"), "d");
        assert_eq!(ok("($($a:ident)* $b:ident) => { $b }", "x y z"), "z");
    }

    #[test]
    fn arms_are_tried_in_order() {
        let rules = "(one) => { 1 }; ($x:ident) => { 2 }; ($($x:tt)*) => { 3 }";
        assert_eq!(ok(rules, "one"), "1");
        assert_eq!(ok(rules, "two"), "2");
        assert_eq!(ok(rules, "two three"), "3");
        assert_eq!(expand("(a) => {}", "b"), Err(MbeError::NoMatch));
    }

    #[test]
    fn literal_tokens_groups_and_operators() {
        let rules = "(impl [$($t:ty)*] for {$x:ident}) => { $($x::<$t>();)* }";
        assert_eq!(ok(rules, "impl [u8 i8] for {f}"), "f ::<u8 > () ; f ::<i8 > () ;");
        assert_eq!(expand(rules, "impl (u8) for {f}"), Err(MbeError::NoMatch));
        // `=>` is one tt, `= >` two.
        assert_eq!(ok("($a:tt $b:tt) => { $b }", "=> x"), "x");
        assert_eq!(ok("($a:tt $b:tt) => { $b }", "'a x"), "x");
        assert_eq!(expand("(=>) => {}", "= >"), Err(MbeError::NoMatch));
    }

    #[test]
    fn dollar_crate_and_definitions_of_macros() {
        assert_eq!(ok("() => { $crate::x() }", ""), "crate :: x ()");
        // An unbound variable and a repetition with none are left for the macro being defined.
        let rules = "($name:ident) => { macro_rules! $name { ($($x:tt)*) => { $($x)* } } }";
        assert_eq!(ok(rules, "inner"), "macro_rules ! inner { ($ ($ x : tt) *) => { $ ($ x) * } }");
    }

    #[test]
    fn expressions_keep_their_precedence() {
        let tokens = MacroRules::parse("($a:expr) => { $a * 2 }".parse().unwrap())
            .unwrap()
            .expand("1 + 1".parse().unwrap(), 1, Span::call_site(), &[], MAX_MADE)
            .unwrap()
            .0;
        let first = tokens.into_iter().next().unwrap();
        assert!(matches!(first, TokenTree::Group(g) if g.delimiter() == Delimiter::None));
    }

    #[test]
    fn a_pat_followed_by_a_bar_is_the_2018_editions_pat() {
        // figment (edition 2018): `|$this:pat| $apply:expr`. In 2021 `pat` takes top-level `|`
        // (and rustc refuses a `pat` followed by `|`), so only a 2018 definition is written so.
        let rules = "($($f:ident => |$this:pat| $apply:expr),*) => { $(fn $f() { let $this = 1; $apply; })* }";
        assert_eq!(
            ok(rules, "a => |de| de.x(1), b => |(p, q)| p | q"),
            "fn a () { let de = 1 ; de . x (1) ; } fn b () { let (p , q) = 1 ; p | q ; }"
        );
        // Elsewhere `pat` keeps its top-level alternatives.
        assert_eq!(ok("($p:pat => $e:expr) => { match 1 { $p => $e } }", "1 | 2 => 3"), "match 1 { 1 | 2 => 3 }");
    }

    #[test]
    fn a_type_stays_one_type_where_it_lands() {
        let rules = "($t:ty) => { const X: $t = 1 as $t << 2; }";
        let tokens = MacroRules::parse(rules.parse().unwrap()).unwrap().expand(
            "u32".parse().unwrap(),
            1,
            Span::call_site(),
            &[],
            MAX_MADE,
        );
        let item: syn::ItemConst = syn::parse2(tokens.unwrap().0).expect("a shift after a cast to the type");
        assert!(matches!(*item.expr, syn::Expr::Binary(syn::ExprBinary { op: syn::BinOp::Shl(_), .. })));
    }

    #[test]
    fn malformed_definitions_are_errors() {
        assert!(matches!(MacroRules::parse("($x) => {}".parse().unwrap()), Err(MbeError::Definition(_))));
        assert!(matches!(MacroRules::parse("($x:nope) => {}".parse().unwrap()), Err(MbeError::Definition(_))));
        assert!(matches!(MacroRules::parse("() {}".parse().unwrap()), Err(MbeError::Definition(_))));
        assert!(matches!(MacroRules::parse("($($x:tt),?) => {}".parse().unwrap()), Err(MbeError::Definition(_))));
        // A separator is one token: rustc refuses a group.
        assert!(matches!(MacroRules::parse("($($x:tt)(,)*) => {}".parse().unwrap()), Err(MbeError::Definition(_))));
    }

    #[test]
    fn a_group_after_a_transcribed_repetition_is_no_separator() {
        // As any `$(...)` a transcriber does not follow with an operator, it is taken as written,
        // and a variable that repeats is then used outside its repetition: no expansion, where
        // a group taken for a separator gave `b (a) c`.
        assert!(expand("($($x:tt)*) => { $($x)(a)* }", "b c").is_err());
        assert_eq!(ok("($($x:tt)*) => { $($x),* }", "b c"), "b , c");
    }

    #[test]
    fn fragments_cut_short_take_what_the_whole_input_gives() {
        // The prefixes tried first must give exactly what syn gives on the whole input.
        let cases = [
            ("expr", "1, 2"),
            ("expr", "|a, b| a + b, c"),
            ("expr", "f::<A, B>(x), y"),
            ("expr", "a < b, c > d"),
            ("expr", "x as Foo<A, B>; y"),
            ("expr", "match x { _ => 1 } => z"),
            ("expr", "a = b => c"),
            ("expr", "a b, c"),
            ("ty", "HashMap<K, V>, u8"),
            ("ty", "fn(A, B) -> C; x"),
            ("ty", "<T as Tr<A, B>>::Out, x"),
            ("path", "a::b<C, D>, e"),
            ("pat", "Some(x) | None, y"),
            ("pat", "x if y => z"),
            ("pat_param", "(a, b), c"),
            ("meta", "doc = \"x\", y"),
            ("item", "pub struct S { a: u8 } fn f() {}"),
            ("item", "impl<const N: usize> X for Y<{ N }> {} struct T;"),
            ("item", "const X: S = S {}; struct T;"),
            ("item", "use a::{b, c}; fn f() {}"),
            ("item", "fn f() -> Y<{ 1 }> { 1 } x"),
            ("item", "m! {} n! {}"),
            ("item", "type A = B<{ N }>; x"),
        ];
        for (name, input) in cases {
            let fragment = Fragment::from_name(name).unwrap();
            let trees: Vec<TokenTree> = input.parse::<TokenStream>().unwrap().into_iter().collect();
            let n = match_fragment(fragment, &trees).unwrap_or_else(|| panic!("{name}: `{input}`"));
            let full = syn_whole(fragment, &trees);
            assert_eq!(Some(n), full, "{name}: `{input}`: a prefix gave another length than the whole input");
        }
    }

    #[test]
    fn runaway_matching_is_bounded() {
        // Each `$($a:tt)*` backtracks over the others: exponential without the budget.
        let rules = "($($a:tt)* $($b:tt)* $($c:tt)* $($d:tt)* ; !) => {}";
        let input = "x ".repeat(400);
        assert_eq!(expand(rules, &input), Err(MbeError::TooManySteps));
    }

    #[test]
    fn a_transcription_that_multiplies_the_call_is_bounded() {
        // `$a`, a group of 20,002 bytes, once per `$b`: 400 of them stay under `MAX_MADE`, 500
        // do not, though the group is shared rather than copied each time.
        let rules = "($a:tt; $($b:tt)*) => { $( $a $b )* }";
        let group = format!("({})", "x ".repeat(10_000));
        assert!(expand(rules, &format!("{group}; {}", "y ".repeat(400))).is_ok());
        assert_eq!(expand(rules, &format!("{group}; {}", "y ".repeat(500))), Err(MbeError::TooLarge));
        // What the definition writes counts too.
        let rules = "($($b:tt)*) => { $( a b c d e f g h i j k l m n o p $b )* }";
        assert_eq!(expand(rules, &"y ".repeat(500_000)), Err(MbeError::TooLarge));
    }
}
