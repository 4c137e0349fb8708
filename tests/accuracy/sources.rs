//! The source text of a package, as far as the comparison needs it: where the macro calls of a
//! file are (the line ranges of every `name!(...)`, `name! { ... }` and `macro_rules!`
//! definition, read with syn; an item rustdoc places on such a line came out of a macro
//! expansion), and the text at a span. Files are read once, on first use.

use std::collections::BTreeMap;
use std::path::PathBuf;

use syn::visit::Visit;

pub struct Sources {
    package_dir: PathBuf,
    /// Per package-relative file: the (first, last) lines of its macro calls, sorted; `None` when
    /// the file cannot be read or parsed (then nothing in it counts as macro-expanded).
    files: BTreeMap<String, Option<Vec<(u32, u32)>>>,
    texts: BTreeMap<String, Option<String>>,
}

impl Sources {
    pub fn new(package_dir: PathBuf) -> Sources {
        Sources { package_dir, files: BTreeMap::new(), texts: BTreeMap::new() }
    }

    /// The lines of the outermost macro call that `line` of `file` is in, if any.
    pub fn macro_call_at(&mut self, file: &str, line: u32) -> Option<(u32, u32)> {
        let text = self.text(file)?.to_owned();
        let ranges = self.files.entry(file.to_owned()).or_insert_with(|| {
            let syntax = syn::parse_file(&text).ok()?;
            let mut calls = MacroCalls::default();
            calls.visit_file(&syntax);
            calls.ranges.sort_unstable();
            Some(calls.ranges)
        });
        ranges.as_ref()?.iter().copied().filter(|&(first, last)| first <= line && line <= last).min()
    }

    /// The text of a one-line span: `begin` and `end` are rustdoc's (line, column), 1-based, the
    /// end column just past the span, columns counted in characters.
    pub fn span_text(&mut self, file: &str, begin: (u32, u32), end: (u32, u32)) -> Option<String> {
        if begin.0 != end.0 || begin.1 == 0 || end.1 < begin.1 {
            return None;
        }
        let line = self.text(file)?.lines().nth(begin.0 as usize - 1)?;
        Some(line.chars().skip(begin.1 as usize - 1).take((end.1 - begin.1) as usize).collect())
    }

    fn text(&mut self, file: &str) -> Option<&str> {
        let package_dir = &self.package_dir;
        self.texts
            .entry(file.to_owned())
            .or_insert_with(|| std::fs::read_to_string(package_dir.join(file)).ok())
            .as_deref()
    }
}

#[derive(Default)]
struct MacroCalls {
    ranges: Vec<(u32, u32)>,
}

impl<'ast> Visit<'ast> for MacroCalls {
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        let first = mac.path.segments.first().map_or(0, |segment| segment.ident.span().start().line);
        let last = mac.delimiter.span().close().end().line;
        self.ranges.push((first as u32, last as u32));
    }
}
