//! How deep code nests, which decides the stack it is parsed on (`parse_file_then_deep`): syn
//! recurses once per level, and a stack overflow aborts the process.
//!
//! Each group counts one level, and so does each `<` not yet closed within its group (generic
//! arguments are no token groups); `;` and `{` end any generic argument list, so comparisons
//! cannot pile up. `of_tokens` measures a token stream; `of_text` measures a file's text the same
//! way in one pass over its bytes, without the copy of every group's tokens that walking
//! proc-macro2's streams makes (they can only be iterated by value).

use proc_macro2::{Span, TokenStream, TokenTree};

/// How deep `tokens` nest, or where the nesting first exceeds `limit`.
pub(super) fn of_tokens(tokens: &TokenStream, limit: usize) -> Result<usize, Span> {
    let mut stack: Vec<(proc_macro2::token_stream::IntoIter, usize)> = vec![(tokens.clone().into_iter(), 0)];
    let mut deepest = 0;
    loop {
        let depth = stack.len();
        let Some((iter, angles)) = stack.last_mut() else {
            return Ok(deepest);
        };
        let Some(tree) = iter.next() else {
            stack.pop();
            continue;
        };
        match tree {
            TokenTree::Group(group) => {
                if depth + *angles >= limit {
                    return Err(group.span_open());
                }
                deepest = deepest.max(depth + *angles);
                if group.delimiter() == proc_macro2::Delimiter::Brace {
                    *angles = 0;
                }
                stack.push((group.stream().into_iter(), 0));
            }
            TokenTree::Punct(punct) => match punct.as_char() {
                '<' => {
                    *angles += 1;
                    if depth + *angles > limit {
                        return Err(punct.span());
                    }
                    deepest = deepest.max(depth + *angles);
                }
                '>' => *angles = angles.saturating_sub(1),
                ';' => *angles = 0,
                _ => {}
            },
            _ => {}
        }
    }
}

/// At least what `of_tokens` gives for the tokens of `text`, without reading them: each level
/// takes a bracket or a `<` of the text (some of them in comments or literals, which count all
/// the same), and a doc comment, a bracketed attribute without brackets in the text, one more.
/// A byte count, for a macro call's text that is lexed anyway (`mbe::MacroRules::expand`).
pub(super) fn at_most_of_text(text: &str) -> usize {
    text.bytes().filter(|&byte| matches!(byte, b'(' | b'[' | b'{' | b'<')).count() + 1
}

/// What `of_tokens` gives for the tokens of `text` (without a limit), read from the text's
/// `Pieces`: the brackets, `<`, `>` and `;` outside comments and literals, and each doc comment as
/// the bracketed attribute it stands for. `None` where the text does not read as tokens (an
/// unclosed literal or comment, an unbalanced bracket): the caller walks the tokens instead.
pub(super) fn of_text(text: &str) -> Option<usize> {
    // Per open group, the `<` not yet closed in it; the first entry is the file's top level.
    let mut angles: Vec<usize> = vec![0];
    let mut deepest = 0;
    for piece in Pieces::new(text.as_bytes()) {
        match piece? {
            Piece::Open(byte) => {
                let top = angles.last_mut()?;
                let depth = *top;
                if byte == b'{' {
                    *top = 0;
                }
                deepest = deepest.max(angles.len() + depth);
                angles.push(0);
            }
            Piece::Close => {
                if angles.len() == 1 {
                    return None;
                }
                angles.pop();
            }
            Piece::Punct(b'<') => {
                let top = angles.last_mut()?;
                *top += 1;
                let depth = *top;
                deepest = deepest.max(angles.len() + depth);
            }
            Piece::Punct(b'>') => {
                let top = angles.last_mut()?;
                *top = top.saturating_sub(1);
            }
            Piece::Punct(b';') => *angles.last_mut()? = 0,
            Piece::DocComment => deepest = deepest.max(angles.len() + angles.last()?),
            _ => {}
        }
    }
    (angles.len() == 1).then_some(deepest)
}

/// A token of a text, as far as the scans of a text tell them apart (`of_text`,
/// `tables::blank`); whitespace and plain comments make none.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Piece {
    /// `(`, `[` or `{`.
    Open(u8),
    /// `)`, `]` or `}`.
    Close,
    /// Any other punctuation byte.
    Punct(u8),
    /// An identifier, a keyword or a number: the bytes `start..end` of the text.
    Word(usize, usize),
    /// A string or character literal, or the `'` of a lifetime or a label.
    Literal,
    /// `///`, `//!`, `/**` or `/*!`: an attribute.
    DocComment,
}

/// The pieces of a text, read as proc-macro2's lexer reads it: a word (an identifier or a
/// number) is read whole, so `r`, `br` and `cr` open a raw string only as a word of their own,
/// and `'` opens a character literal when one character and a `'` follow it, else it is a
/// lifetime or a label. `None` as an item where a literal or a comment is not closed. `at` may be
/// moved forward between pieces.
pub(super) struct Pieces<'t> {
    pub bytes: &'t [u8],
    pub at: usize,
}

impl<'t> Pieces<'t> {
    pub(super) fn new(bytes: &'t [u8]) -> Self {
        Pieces { bytes, at: 0 }
    }
}

impl Iterator for Pieces<'_> {
    type Item = Option<Piece>;

    fn next(&mut self) -> Option<Option<Piece>> {
        let bytes = self.bytes;
        loop {
            let at = self.at;
            let byte = *bytes.get(at)?;
            let next = bytes.get(at + 1).copied();
            let (piece, end) = match byte {
                b'(' | b'[' | b'{' => (Piece::Open(byte), Some(at + 1)),
                b')' | b']' | b'}' => (Piece::Close, Some(at + 1)),
                b'/' if next == Some(b'/') => {
                    let end = line_end(bytes, at);
                    if !is_doc_comment(&bytes[at..end]) {
                        self.at = end;
                        continue;
                    }
                    (Piece::DocComment, Some(end))
                }
                b'/' if next == Some(b'*') => {
                    let Some(end) = block_comment_end(bytes, at) else { return Some(None) };
                    if !is_doc_comment(&bytes[at..end]) {
                        self.at = end;
                        continue;
                    }
                    (Piece::DocComment, Some(end))
                }
                b'"' => (Piece::Literal, string_end(bytes, at + 1)),
                b'\'' => (Piece::Literal, after_quote(bytes, at)),
                _ if is_word_byte(byte) => {
                    let end = at + bytes[at..].iter().take_while(|&&b| is_word_byte(b)).count();
                    // `r#name` is a raw identifier: its `#` and name are read next. (`b'x'` and
                    // `b"x"` read as a word and a literal.)
                    if matches!(&bytes[at..end], b"r" | b"br" | b"cr") && opens_raw_string(&bytes[end..]) {
                        (Piece::Literal, raw_string_end(bytes, end))
                    } else {
                        (Piece::Word(at, end), Some(end))
                    }
                }
                _ if byte.is_ascii_whitespace() => {
                    self.at += 1;
                    continue;
                }
                _ => (Piece::Punct(byte), Some(at + 1)),
            };
            let Some(end) = end else { return Some(None) };
            self.at = end;
            return Some(Some(piece));
        }
    }
}

/// Where the line comment starting at `at` ends: at its line break, or the text's end.
pub(super) fn line_end(bytes: &[u8], at: usize) -> usize {
    bytes[at..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |n| at + n)
}

/// Whether a whole comment (`//...` or `/*...*/`) is a doc comment: `///` and `//!` are, `////`
/// is not; `/**` and `/*!` are, `/***` and `/**/` are not.
pub(super) fn is_doc_comment(comment: &[u8]) -> bool {
    match (comment.get(1), comment.get(2), comment.get(3)) {
        (_, Some(b'!'), _) => true,
        (Some(b'/'), Some(b'/'), fourth) => fourth != Some(&b'/'),
        (Some(b'*'), Some(b'*'), fourth) => !matches!(fourth, Some(b'*' | b'/')),
        _ => false,
    }
}

/// Bytes of identifiers, keywords and numbers (non-ASCII ones are in identifiers, or in literals
/// and comments that are read as a whole).
pub(super) fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte >= 0x80
}

/// Past the `*/` that closes the block comment opening at `start` (they nest).
pub(super) fn block_comment_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut open = 0usize;
    let mut at = start;
    while at + 1 < bytes.len() {
        match (bytes[at], bytes[at + 1]) {
            (b'/', b'*') => {
                open += 1;
                at += 2;
            }
            (b'*', b'/') => {
                open -= 1;
                at += 2;
                if open == 0 {
                    return Some(at);
                }
            }
            _ => at += 1,
        }
    }
    None
}

/// Past the `"` that closes a string whose text starts at `at` (escapes skipped).
pub(super) fn string_end(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        match bytes.get(at)? {
            b'\\' => at += 2,
            b'"' => return Some(at + 1),
            _ => at += 1,
        }
    }
}

/// Whether `rest`, what follows `r`, `br` or `cr`, is `#`s and a `"` (else `r#name`).
pub(super) fn opens_raw_string(rest: &[u8]) -> bool {
    let hashes = rest.iter().take_while(|&&b| b == b'#').count();
    rest.get(hashes) == Some(&b'"')
}

/// For the `"` or `#`s and `"` at `at` after `r`, `br` or `cr`: past the raw string they open.
pub(super) fn raw_string_end(bytes: &[u8], at: usize) -> Option<usize> {
    let hashes = bytes[at..].iter().take_while(|&&b| b == b'#').count();
    let mut search = at + hashes + 1;
    loop {
        let quote = search + bytes.get(search..)?.iter().position(|&b| b == b'"')?;
        let closing = bytes.get(quote + 1..quote + 1 + hashes)?;
        if closing.iter().all(|&b| b == b'#') {
            return Some(quote + 1 + hashes);
        }
        search = quote + 1;
    }
}

/// For the `'` at `at`: past the character literal it opens, or past the `'` alone when it
/// starts a lifetime or a label (whose name is read next). `None` for an unclosed escape.
pub(super) fn after_quote(bytes: &[u8], at: usize) -> Option<usize> {
    let rest = bytes.get(at + 1..)?;
    if rest.first() == Some(&b'\\') {
        // `'\''`, `'\\'`, `'\n'`, `'\u{..}'`: the escaped character, then up to the `'`.
        let close = rest.get(2..)?.iter().position(|&b| b == b'\'')?;
        return Some(at + 1 + 2 + close + 1);
    }
    let width = rest.first().map_or(1, |&b| utf8_width(b));
    if rest.get(width) == Some(&b'\'') { Some(at + 1 + width + 1) } else { Some(at + 1) }
}

/// The length of the UTF-8 character whose first byte is `first`.
fn utf8_width(first: u8) -> usize {
    match first {
        0xF0.. => 4,
        0xE0.. => 3,
        0xC0.. => 2,
        _ => 1,
    }
}
