//! Literal tables, blanked before a file is lexed: the graph reads nothing in them.
//!
//! Crates keep data as arrays of literals: regex-syntax's Unicode tables (34 k of its 58 k lines),
//! and 914 of the 25,373 files of one machine's cargo registry hold some. Lexing them, parsing
//! every tuple with syn and walking the trees for references is most of what such a file costs,
//! and none of it makes a vertex or an edge: a literal names no item. So `blank` finds each array
//! whose elements are only literals (numbers, characters, strings, `true`, `false`, negated or
//! combined with `+`, `-` and `.`, in tuples and arrays of them) and replaces its contents with
//! spaces, keeping every line break, and a digest of its tokens, so that the item's `hash` still
//! changes with them (and not with their layout or comments): `[('a', 'b'), ...]` becomes
//! `[0x5c0e,0x77a1,0x0b3f,0x9d12,    ]`, four numbers of 16 bits where lines have room, and what
//! follows keeps its lines and columns. A table whose lines have no room for them is left as
//! written.
//!
//! Tokens a macro reads are left alone, as a macro may match them one by one: nothing inside a
//! group after `!` (a macro call's arguments, `macro_rules! name { .. }`'s rules), after `#` (an
//! attribute) or after `macro name` is blanked, nor any table with a doc comment (an attribute on
//! an element). Each character becomes one space, as proc-macro2 counts columns in characters:
//! byte offsets after a table with characters outside ASCII move, and nothing reads them.
//!
//! The scan reads the text's `nesting::Pieces`, as `nesting::of_text` does, and where the text
//! does not lex it gives up: the file is then lexed as written, and the lexer's error is the
//! one reported.

use std::hash::Hasher;

use rustc_hash::FxHasher;

use super::nesting::{
    Piece, Pieces, after_quote, block_comment_end, is_doc_comment, is_word_byte, line_end, opens_raw_string,
    raw_string_end, string_end,
};

/// Tables shorter than this are left as written: blanking them would save less than the copy of
/// the file costs.
const MIN_TABLE_BYTES: usize = 64;

/// How deep the check of a table follows nested tuples and arrays. It bounds the work of the
/// scan: an opening bracket is checked once for each table it may be an element of.
const MAX_TABLE_DEPTH: usize = 8;

/// `text` with the contents of its literal tables blanked, or `None` if it has none.
pub(super) fn blank(text: &str) -> Option<String> {
    // Most files have no table: a look at each `[` alone tells, before the scan of every token.
    let bytes = text.as_bytes();
    memchr::memchr_iter(b'[', bytes).find(|&at| table_at(bytes, at + 1).is_some())?;
    let tables = tables(bytes)?;
    if tables.is_empty() {
        return None;
    }
    let mut blanked = String::with_capacity(text.len());
    let mut copied = 0;
    for Table { contents, digest, pieces } in tables {
        blanked.push_str(&text[copied..contents.start]);
        // One space a character, so that columns stay (proc-macro2 counts them in characters).
        let start = blanked.len();
        blanked.extend(text[contents.clone()].chars().map(|c| if matches!(c, '\n' | '\r') { c } else { ' ' }));
        // The blanked text is ASCII: the pieces' offsets in characters are offsets in bytes.
        for (n, at) in pieces.into_iter().enumerate() {
            let piece = format!("{:#06x},", (digest >> (48 - 16 * n)) & 0xFFFF);
            blanked.replace_range(start + at..start + at + PIECE_LEN, &piece);
        }
        copied = contents.end;
    }
    blanked.push_str(&text[copied..]);
    Some(blanked)
}

/// A literal table found: the byte range of its contents, a digest of its tokens, and where the
/// digest's pieces go, in characters from the contents' start.
struct Table {
    contents: std::ops::Range<usize>,
    digest: u64,
    pieces: [usize; PIECES],
}

/// How many pieces a digest is written in: four hex numbers of 16 bits, each with its comma (7
/// characters), fit in the lines of a table of short rows (`    ('A', 'Z'),`), and being always
/// four, where they stand does not change the item's `hash`.
const PIECES: usize = 4;

/// The characters a piece of a digest takes: `0x`, 4 hex digits and a comma.
const PIECE_LEN: usize = 7;

/// Where the pieces of a digest go in `contents`, in characters from its start; `None` if its
/// lines have no room for them.
fn pieces(contents: &[u8]) -> Option<[usize; PIECES]> {
    let mut pieces = [0; PIECES];
    let mut placed = 0;
    // A character starts at each byte that does not continue one.
    let (mut chars, mut run) = (0, 0);
    for byte in contents.iter().filter(|&&byte| byte & 0xC0 != 0x80) {
        chars += 1;
        run = if matches!(byte, b'\n' | b'\r') { 0 } else { run + 1 };
        if run == PIECE_LEN {
            pieces[placed] = chars - PIECE_LEN;
            placed += 1;
            if placed == PIECES {
                return Some(pieces);
            }
            run = 0;
        }
    }
    None
}

/// What the scan remembers of a piece: what decides whether a group is a macro's input.
#[derive(Clone, Copy, PartialEq)]
enum Token {
    /// Nothing yet (the text's start).
    None,
    /// A punctuation byte.
    Punct(u8),
    /// A word: an identifier, a keyword or a number. `macro` is told apart.
    Word,
    Macro,
    /// The closed parameters of `macro name(..)`, whose body follows.
    MacroParameters,
    /// A literal, a closed group, a lifetime or a doc comment: nothing that opens a macro's input.
    Other,
}

/// The literal tables of `bytes`, in order, each with a digest of its tokens; `None` where the
/// text does not read as tokens.
fn tables(bytes: &[u8]) -> Option<Vec<Table>> {
    let mut found = Vec::new();
    // Per open group, whether it is a macro's input, and whether it holds the parameters of a
    // `macro name(..)`; the first entry is the top level.
    let mut opaque: Vec<(bool, bool)> = vec![(false, false)];
    let (mut last, mut before) = (Token::None, Token::None);
    let mut pieces = Pieces::new(bytes);
    while let Some(piece) = pieces.next() {
        let token = match piece? {
            Piece::Open(byte) => {
                let parameters = last == Token::Word && before == Token::Macro;
                let inside = opaque.last()?.0
                    || parameters
                    || matches!(last, Token::Punct(b'!' | b'#') | Token::MacroParameters)
                    || (last == Token::Word && before == Token::Punct(b'!'));
                if let Some(table) = (byte == b'[' && !inside).then(|| table_at(bytes, pieces.at)).flatten() {
                    pieces.at = table.contents.end + 1;
                    found.push(table);
                    (before, last) = (last, Token::Other);
                    continue;
                }
                opaque.push((inside, parameters && byte == b'('));
                Token::Punct(byte)
            }
            Piece::Close => {
                if opaque.len() == 1 {
                    return None;
                }
                let (_, parameters) = opaque.pop()?;
                if parameters { Token::MacroParameters } else { Token::Other }
            }
            Piece::Word(start, end) if &bytes[start..end] == b"macro" => Token::Macro,
            Piece::Word(..) => Token::Word,
            Piece::Punct(byte) => Token::Punct(byte),
            Piece::Literal | Piece::DocComment => Token::Other,
        };
        (before, last) = (last, token);
    }
    (opaque.len() == 1).then_some(found)
}

/// The table whose contents start at `at` (past its `[`), if it is one, long enough and with room
/// for its digest.
fn table_at(bytes: &[u8], at: usize) -> Option<Table> {
    let mut digest = FxHasher::default();
    let end = table_end(bytes, at, b']', 0, &mut digest)?;
    let contents = at..end - 1;
    if contents.len() < MIN_TABLE_BYTES {
        return None;
    }
    let pieces = pieces(&bytes[contents.clone()])?;
    Some(Table { contents, digest: digest.finish(), pieces })
}

/// Where the table whose contents start at `at` ends (past its `close`), if its elements are all
/// literals, tuples or arrays of literals, separated by commas. Its tokens go into `digest`.
fn table_end(bytes: &[u8], mut at: usize, close: u8, depth: usize, digest: &mut FxHasher) -> Option<usize> {
    if depth >= MAX_TABLE_DEPTH {
        return None;
    }
    loop {
        at = past_trivia(bytes, at)?;
        if *bytes.get(at)? == close {
            digest.write_u8(close);
            return Some(at + 1);
        }
        at = element_end(bytes, at, depth, digest)?;
        at = past_trivia(bytes, at)?;
        let byte = *bytes.get(at)?;
        digest.write_u8(byte);
        match byte {
            b',' => at += 1,
            _ if byte == close => return Some(at + 1),
            _ => return None,
        }
    }
}

/// Past one element of a table: operands joined by `+`, `-` or `.` (`-1`, `1.5e-3`, `1 + 2`), each
/// perhaps borrowed (`&[1, 2]`).
fn element_end(bytes: &[u8], mut at: usize, depth: usize, digest: &mut FxHasher) -> Option<usize> {
    while let Some(&prefix @ (b'-' | b'&')) = bytes.get(at) {
        digest.write_u8(prefix);
        at = past_trivia(bytes, at + 1)?;
    }
    loop {
        at = operand_end(bytes, at, depth, digest)?;
        let after = past_trivia(bytes, at)?;
        match bytes.get(after) {
            Some(&byte @ (b'+' | b'-' | b'.')) => {
                digest.write_u8(byte);
                at = past_trivia(bytes, after + 1)?;
            }
            _ => return Some(at),
        }
    }
}

/// Past one literal, or one tuple or array of literals, whose text goes into `digest`.
fn operand_end(bytes: &[u8], at: usize, depth: usize, digest: &mut FxHasher) -> Option<usize> {
    let end = match *bytes.get(at)? {
        b'(' => {
            digest.write_u8(b'(');
            return table_end(bytes, at + 1, b')', depth + 1, digest);
        }
        b'[' => {
            digest.write_u8(b'[');
            return table_end(bytes, at + 1, b']', depth + 1, digest);
        }
        b'"' => string_end(bytes, at + 1),
        b'\'' => char_end(bytes, at),
        byte if is_word_byte(byte) => {
            let end = at + bytes[at..].iter().take_while(|&&b| is_word_byte(b)).count();
            match &bytes[at..end] {
                b"true" | b"false" => Some(end),
                word if word[0].is_ascii_digit() => Some(end),
                b"b" | b"c" if bytes.get(end) == Some(&b'"') => string_end(bytes, end + 1),
                b"b" if bytes.get(end) == Some(&b'\'') => char_end(bytes, end),
                b"r" | b"br" | b"cr" if opens_raw_string(&bytes[end..]) => raw_string_end(bytes, end),
                _ => None,
            }
        }
        _ => None,
    }?;
    // The literal's length first, so that two literals never read as one.
    digest.write_usize(end - at);
    digest.write(&bytes[at..end]);
    Some(end)
}

/// Past the character literal whose `'` is at `at`; `None` for a lifetime or a label.
fn char_end(bytes: &[u8], at: usize) -> Option<usize> {
    let end = after_quote(bytes, at)?;
    (end > at + 1).then_some(end)
}

/// Past whitespace and comments; `None` at a doc comment, which is an attribute.
fn past_trivia(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let end = match (bytes.get(at), bytes.get(at + 1)) {
            (Some(byte), _) if byte.is_ascii_whitespace() => at + 1,
            (Some(b'/'), Some(b'/')) => line_end(bytes, at),
            (Some(b'/'), Some(b'*')) => block_comment_end(bytes, at)?,
            _ => return Some(at),
        };
        if end > at + 1 && is_doc_comment(&bytes[at..end]) {
            return None;
        }
        at = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: usize, row: &str) -> String {
        vec![row; rows].join(", ")
    }

    #[test]
    fn a_table_of_literals_is_blanked_keeping_lines_and_offsets() {
        let rows = table(40, "('\\u{300}', '\\u{36f}')");
        let text = format!("pub const T: &[(char, char)] = &[\n{rows},\n{rows}\n];\nfn after() {{}}\n");
        let blanked = blank(&text).unwrap();
        assert_eq!(blanked.len(), text.len());
        assert_eq!(blanked.lines().count(), text.lines().count());
        assert!(blanked.contains("&[\n0x"));
        assert!(!blanked.contains("u{300}"));
        assert_eq!(blanked.find("fn after"), text.find("fn after"));
        syn::parse_file(&blanked).unwrap();
    }

    #[test]
    fn characters_outside_ascii_keep_the_columns_after_them() {
        let text = format!("const T: X = &[{}]; fn after() {{}}\n", table(40, "('é', \"ü€\")"));
        let blanked = blank(&text).unwrap();
        assert!(blanked.is_ascii());
        let column_of_fn = |text: &str| {
            let tokens: proc_macro2::TokenStream = text.parse().unwrap();
            let fn_token = tokens.into_iter().find(|tree| tree.to_string() == "fn").unwrap();
            fn_token.span().start()
        };
        let (before, after) = (column_of_fn(&text), column_of_fn(&blanked));
        assert_eq!((before.line, before.column), (after.line, after.column));
    }

    #[test]
    fn the_digest_follows_the_tokens_not_their_layout() {
        let digest = |rows: &str| {
            let text = blank(&format!("const T: X = [\n{rows}\n];")).unwrap();
            text.split_whitespace().filter(|word| word.starts_with("0x")).collect::<String>()
        };
        let rows = table(40, "(1, 'a')");
        let same = digest(&rows);
        assert_eq!(digest(&format!("{}  /* note */", rows.replace(", ", ",\n  "))), same);
        assert_ne!(digest(&rows.replacen("'a'", "'b'", 1)), same);
        assert_ne!(digest(&rows.replacen('1', "12", 1)), same);
        // Short lines take the digest's pieces one by one; lines too short for one leave the
        // table as written.
        let short = blank(&format!("const T: X = [\n{}];", table(40, "(1, 2)\n"))).unwrap();
        assert_eq!(short.matches("0x").count(), 4, "{short}");
        assert_eq!(blank(&format!("const T: X = [\n{}];", table(100, "1\n"))), None);
    }

    #[test]
    fn numbers_strings_and_nested_arrays_are_literals() {
        for row in ["-1.5e-3", "0x1F_u8", "b'a'", "b\"ab\"", "r#\"a\"#", "[1, (2, true)]", "(1 + 2, \"x\\\"\")"] {
            let text = format!("static S: X = [{}];", table(60, row));
            assert!(blank(&text).is_some(), "{row}");
        }
    }

    #[test]
    fn names_macro_input_attributes_and_small_tables_stay() {
        let rows = table(60, "(1, 2)");
        for text in [
            format!("const T: X = [{}];", table(60, "(1, A)")),
            format!("const T: X = [{}];", table(60, "Some(1)")),
            format!("const T: X = [{}];", table(60, "'a")),
            format!("const T: X = vec![{rows}];"),
            format!("m! {{ [{rows}] }}"),
            format!("macro_rules! m {{ () => {{ [{rows}] }} }}"),
            format!("macro m() {{ [{rows}] }}"),
            format!("#[doc = [{rows}]] fn f() {{}}"),
            format!("const T: X = [/// doc\n{rows}];"),
            "const T: X = [1, 2, 3];".to_owned(),
        ] {
            assert_eq!(blank(&text), None, "{text}");
        }
    }

    #[test]
    fn a_table_inside_a_body_or_beside_names_is_blanked() {
        let rows = table(60, "(1, 2)");
        let text = format!("fn f() {{ let x = (A, [{rows}]); g(&[{rows}]); }}");
        let blanked = blank(&text).unwrap();
        assert_eq!(blanked.matches("(1, 2)").count(), 0);
        syn::parse_file(&blanked).unwrap();
    }

    /// A random text: items, groups and tables nested at random, with near misses (a name or a
    /// doc comment in a table, a macro's input, an attribute) and, now and then, a bracket or a
    /// quote left open.
    struct Random(u64);

    impl Random {
        fn below(&mut self, bound: usize) -> usize {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 33) as usize % bound
        }

        fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
            words[self.below(words.len())]
        }

        fn element(&mut self, depth: usize) -> String {
            const LITERALS: &[&str] = &[
                "1",
                "-2",
                "0x1F_u8",
                "2.5e-3",
                "1 + 2",
                "'a'",
                "'é'",
                "'\\''",
                "'\\u{300}'",
                "\"text é\"",
                "b\"bytes\"",
                "b'x'",
                "r#\"raw\"#",
                "true",
                "&[1]",
                "\n1",
                "/* c */ 3",
                "name",
                "'a",
                "/// doc\n4",
            ];
            match self.below(8) {
                0 if depth < 4 => format!("({})", self.elements(depth + 1, 3)),
                1 if depth < 4 => format!("[{}]", self.elements(depth + 1, 3)),
                _ => self.pick(LITERALS).to_owned(),
            }
        }

        fn elements(&mut self, depth: usize, most: usize) -> String {
            let count = self.below(most) + 1;
            (0..count).map(|_| self.element(depth)).collect::<Vec<_>>().join(self.pick(&[", ", ",\n", ","]))
        }

        fn text(&mut self, depth: usize) -> String {
            const WORDS: &[&str] =
                &["fn", "name", "=", ";", ",", "!", "#", "macro", "m!", "&", "1", "\"s\"", "// note\n", "\n", "'a"];
            let mut text = String::new();
            for _ in 0..self.below(6) + 1 {
                let piece = match self.below(10) {
                    0..=2 => format!("const T: X = &[{}];\n", self.elements(depth, 40)),
                    3 => format!(
                        "{} [{}]",
                        self.pick(&["m!", "#", "#!", "macro_rules! m", "macro m()"]),
                        self.elements(depth, 40)
                    ),
                    4 if depth < 3 => {
                        let (open, close) = [("(", ")"), ("[", "]"), ("{", "}")][self.below(3)];
                        format!("{open}{}{close}", self.text(depth + 1))
                    }
                    5 if self.below(20) == 0 => self.pick(&["(", "]", "\"", "/*"]).to_owned(),
                    _ => self.pick(WORDS).to_owned(),
                };
                text.push_str(&piece);
                text.push(' ');
            }
            text
        }
    }

    #[test]
    fn random_texts_keep_their_lines_columns_and_whether_they_parse() {
        // Blanking must keep every line's length in characters, and whether the text lexes and
        // parses; and it must blank some.
        let mut random = Random(0x9E37_79B9_7F4A_7C15);
        let mut blanked_texts = 0;
        for _ in 0..8000 {
            let text = random.text(0);
            let Some(blanked) = blank(&text) else { continue };
            blanked_texts += 1;
            let lengths = |text: &str| text.split('\n').map(|line| line.chars().count()).collect::<Vec<_>>();
            assert_eq!(lengths(&blanked), lengths(&text), "{text}");
            let lexes = |text: &str| text.parse::<proc_macro2::TokenStream>().is_ok();
            assert_eq!(lexes(&blanked), lexes(&text), "{text}");
            assert_eq!(syn::parse_file(&blanked).is_ok(), syn::parse_file(&text).is_ok(), "{text}\n---\n{blanked}");
        }
        assert!(blanked_texts > 300, "only {blanked_texts} texts had a table");
    }

    #[test]
    fn text_that_does_not_lex_is_left_to_the_lexer() {
        let rows = table(60, "(1, 2)");
        assert_eq!(blank(&format!("const T: X = [{rows}]; }}")), None);
        assert_eq!(blank(&format!("const T: X = [{rows}]; \"open")), None);
        assert_eq!(blank(&format!("const T: X = [{rows}")), None);
    }
}
