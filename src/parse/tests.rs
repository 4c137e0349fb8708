use super::*;

/// A compact, line-per-item rendering of the facts: `kind name line-end vis [cfg] {detail}`.
fn render(text: &str) -> String {
    fn walk(out: &mut String, items: &[ItemFacts], depth: usize) {
        for item in items {
            out.push_str(&"  ".repeat(depth));
            out.push_str(&format!("{} {} {}-{} {}", item.kind, item.name, item.line, item.end_line, item.visibility));
            if let Some(cfg) = &item.cfg {
                out.push_str(&format!(" cfg({cfg})"));
            }
            if let Some(doc) = &item.doc {
                out.push_str(&format!(" doc={doc:?}"));
            }
            match &item.detail {
                Detail::None | Detail::Field { .. } | Detail::TypeAlias { .. } | Detail::MacroRules { .. } => {}
                Detail::Function { signature, .. } => out.push_str(&format!(" sig={signature}")),
                Detail::Impl { trait_, self_ty, .. } => out.push_str(&format!(" trait={trait_:?} self={self_ty}")),
                Detail::Module { inline, path_attr, .. } => {
                    out.push_str(&format!(" inline={inline} path={path_attr:?}"))
                }
            }
            out.push('\n');
            walk(out, &item.children, depth + 1);
        }
    }
    let facts = parse_file(text).unwrap();
    let mut out = String::new();
    walk(&mut out, &facts.items, 0);
    out
}

#[test]
fn items_with_lines_after_attributes() {
    let text = r#"
/// Doc.
#[derive(Debug)]
pub struct Point {
    /// X.
    pub x: i32,
    y: i32,
}

#[inline]
pub(crate) const unsafe fn f() {}

pub enum E { A, B(u8), C { x: u8 } = 3 }
"#;
    assert_eq!(
        render(text),
        "\
struct Point 4-8 pub doc=\"Doc.\"
  field x 6-6 pub doc=\"X.\"
  field y 7-7 private
function f 11-11 pub(crate) sig=const unsafe fn f()
enum E 13-13 pub
  variant A 13-13 pub
  variant B 13-13 pub
    field 0 13-13 pub
  variant C 13-13 pub
    field x 13-13 pub
"
    );
}

#[test]
fn impls_traits_and_associated_items() {
    let text = "\
trait T {
    type Out;
    const N: usize = 1;
    fn f(&self) -> Self::Out;
    fn g() {}
}
unsafe impl<X> T for Vec<X> {
    type Out = ();
    const N: usize = 2;
    fn f(&self) {}
}
impl !Send for S {}
";
    assert_eq!(
        render(text),
        "\
trait T 1-6 private
  type_alias Out 2-2 private
  const N 3-3 private
  function f 4-4 private sig=fn f(&self) -> Self::Out
  function g 5-5 private sig=fn g()
impl impl T for Vec<X> 7-11 private trait=Some(\"T\") self=Vec<X>
  type_alias Out 8-8 private
  const N 9-9 private
  function f 10-10 private sig=fn f(&self)
impl impl !Send for S 12-12 private trait=Some(\"!Send\") self=S
"
    );
}

#[test]
fn modules_macros_and_nested_items() {
    let text = "\
#[cfg(unix)]
#[path = \"sys/unix.rs\"]
mod sys;
pub mod inline {
    #[macro_export]
    macro_rules! m { () => {} }
    m!();
}
fn outer() {
    let _ = || { struct InClosure; };
    fn inner() {}
}
extern \"C\" {
    fn ext();
    static X: u8;
}
use std::fmt;
";
    assert_eq!(
        render(text),
        "\
module sys 3-3 private cfg(unix) inline=false path=Some(\"sys/unix.rs\")
module inline 4-8 pub inline=true path=None
  macro m 6-6 pub
function outer 9-12 private sig=fn outer()
  struct InClosure 10-10 private
  function inner 11-11 private sig=fn inner()
function ext 14-14 private sig=fn ext()
static X 15-15 private
"
    );
}

#[test]
fn syntax_errors_are_data_with_a_position() {
    let err = parse_file("fn ok() {}\n\nfn broken( {\n").unwrap_err();
    assert_eq!(err.line, 3);
    assert!(err.column > 0);
    assert!(!err.message.is_empty());
}

#[test]
fn file_facts_count_lines_and_read_the_inner_doc() {
    let facts = parse_file("//! Top.\n//! More.\n\nfn f() {}").unwrap();
    assert_eq!(facts.line_count, 4);
    assert_eq!(facts.doc.as_deref(), Some("Top.\nMore."));
}

/// Parses on a thread with the workers' stack, as `index` does.
fn parse_on_worker_stack(text: String) -> Result<usize, SyntaxError> {
    std::thread::Builder::new()
        .stack_size(crate::index::WORKER_STACK)
        .spawn(move || parse_file(&text).map(|facts| facts.items.len()))
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn nesting_up_to_the_limit_parses() {
    let depth = MAX_NESTING - 10;
    let parens = format!("fn f() {{ let x = {}1{}; }}", "(".repeat(depth), ")".repeat(depth));
    assert_eq!(parse_on_worker_stack(parens), Ok(1));
    let generics = format!("type T = {}u8{};", "Vec<".repeat(depth), ">".repeat(depth));
    assert_eq!(parse_on_worker_stack(generics), Ok(1));
}

#[test]
fn nesting_beyond_the_worker_stack_parses_on_a_grown_one() {
    let depth = 4 * MAX_NESTING;
    let parens = format!("fn f() {{ let x = {}1{}; }}", "(".repeat(depth), ")".repeat(depth));
    assert_eq!(parse_on_worker_stack(parens), Ok(1));
    let generics = format!("type T = {}u8{};", "Vec<".repeat(depth), ">".repeat(depth));
    assert_eq!(parse_on_worker_stack(generics), Ok(1));
}

#[test]
fn deep_inline_modules_are_facts_to_their_full_depth() {
    let depth = 3_000;
    let text = format!("{}fn leaf() {{}}{}", "pub mod m { ".repeat(depth), " }".repeat(depth));
    let levels = std::thread::Builder::new()
        .stack_size(crate::index::WORKER_STACK)
        .spawn(move || {
            parse_file_then(&text, |facts| {
                let facts = facts.unwrap();
                let mut item = &facts.items[0];
                let mut levels = 1;
                while let Some(child) = item.children.first() {
                    item = child;
                    levels += 1;
                }
                // Dropped here, on the stack the file was parsed on.
                (levels, item.name.clone())
            })
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(levels, (depth + 1, "leaf".to_owned()));
}

/// Parses on the workers' stack; returns the names of the top-level items and the lost ranges.
fn recovered(text: &str) -> (Vec<String>, Vec<(u32, u32, String)>) {
    let text = text.to_owned();
    std::thread::Builder::new()
        .stack_size(crate::index::WORKER_STACK)
        .spawn(move || {
            let facts = parse_file(&text).unwrap();
            let names = facts.items.iter().map(|item| format!("{} {}", item.name, item.line)).collect();
            let lost = facts.lost.into_iter().map(|lost| (lost.line, lost.end_line, lost.error.message)).collect();
            (names, lost)
        })
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn an_item_nested_too_deep_is_lost_alone() {
    let depth = MAX_GROWN_NESTING + 1;
    let text = format!(
        "fn before() {{}}
fn deep() {}{}

fn after() {{}}
",
        "{".repeat(depth),
        "}".repeat(depth)
    );
    let (names, lost) = recovered(&text);
    assert_eq!(names, ["before 1", "after 4"]);
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!((lost[0].0, lost[0].1), (2, 2));
    assert!(lost[0].2.contains("nesting deeper than"), "{lost:?}");
    let generics = format!(
        "struct A;
type T = {}u8{};
struct B;
",
        "Vec<".repeat(100_000),
        ">".repeat(100_000)
    );
    let (names, lost) = recovered(&generics);
    assert_eq!(names, ["A 1", "B 3"]);
    assert_eq!((lost[0].0, lost[0].1), (2, 2));
}

#[test]
fn a_broken_item_is_lost_alone() {
    let (names, lost) = recovered("//! Doc.\nfn ok() {}\nstruct S {\n    x:\n}\nfn after() {}\n");
    assert_eq!(names, ["ok 2", "after 6"]);
    assert_eq!(lost.len(), 1);
    assert_eq!((lost[0].0, lost[0].1), (3, 5));
    let facts = parse_file("//! Doc.\n#![cfg(unix)]\nfn ok() {}\nstruct S { x: }\n").unwrap();
    assert_eq!(facts.doc.as_deref(), Some("Doc."), "the file's attributes are kept");
    assert_eq!(facts.cfg.as_deref(), Some("unix"));
}

#[test]
fn items_are_not_cut_inside() {
    // `{ 1 }` followed by `else` or `as` is no item's end, nor is a struct literal before `;` or
    // a block before an operator.
    let text = "const A: u8 = if X { 1 } else { 2 };\nconst B: P = P { x: 1 };\nconst C: u8 = { 1 } as u8 + { 2 };\nfn broken() -> {}\nstatic D: u8 = 0;\n";
    let (names, lost) = recovered(text);
    assert_eq!(names, ["A 1", "B 2", "C 3", "D 5"]);
    assert_eq!(lost.iter().map(|l| (l.0, l.1)).collect::<Vec<_>>(), [(4, 4)]);
}

#[test]
fn a_file_that_does_not_lex_is_lost_whole() {
    let err = parse_file("fn ok() {}\nfn broken() { \"unterminated }\n").unwrap_err();
    assert_eq!(err.line, 2);
}

#[test]
fn comparisons_do_not_count_as_nesting() {
    let many = "let _ = a < b;\n".repeat(2 * MAX_NESTING);
    assert_eq!(parse_on_worker_stack(format!("fn f() {{ {many} }}")), Ok(1));
}

/// `nesting::of_text` against the token walk it stands in for, where both read the text.
fn text_nesting_agrees(text: &str) {
    let tokens = lex(text).unwrap_or_else(|err| panic!("{text:?} does not lex: {err:?}"));
    let walked = nesting::of_tokens(&tokens, usize::MAX).unwrap();
    assert_eq!(nesting::of_text(text), Some(walked), "{text:?}");
}

#[test]
fn text_nesting_is_the_tokens_nesting() {
    let cases = [
        "",
        "fn f() { g(a[1], (b)) }",
        "type T = Vec<Vec<u8>>; fn f() -> Option<Box<dyn Fn(u8) -> u8>> { if a < b && c > d { x >> 2 } else { y } }",
        "let s = \"(((\"; let r = r#\"\")]]\"#; let b = br##\"{\"#}\"##; let c = c\"[\\\"\"; let e = \"\\\\\";",
        "let c = '('; let d = '\\''; let e = '\\\\'; let f = b'['; let u = '\\u{1F600}'; let w = '√'; let x = '😀';",
        "fn f<'a, 'b: 'a>(x: &'a str) -> &'b str { 'outer: loop { break 'outer; } }",
        "// (((\n/* [[[ /* nested ((( */ still ))) */\n//// not doc (\n/**/ /***/ fn f() {}",
        "/// doc (\nfn f() { //! inner\n /** block doc */ /*! inner block */ { g() } }",
        "/// a doc at the end, no newline",
        "let r#type = r#match; let n = 1e10 + 0x1F + 1_000u32 + 2.5f64; x.0.1;",
        "impl<T: Iterator<Item = Vec<u8>>> A for B<T> where T: Into<C<D>> {}",
        "fn f() { a < b; c < d; { e < f } < g; h -> i => j >= k <= l << m >>= n }",
        "macro_rules! m { ($($x:tt)*) => { [$($x),*] } }",
        "let s = \"a\nb (\"; let t = b\"\\x7f)\";",
        "const X: [u8; 3] = [1, 2, 3]; static Y: &[&[(u8, char)]] = &[&[(1, ')')]];",
    ];
    for case in cases {
        text_nesting_agrees(case);
    }
    assert_eq!(nesting::of_text("fn f() { ("), None, "unbalanced");
    assert_eq!(nesting::of_text("let s = \"(;"), None, "unclosed string");
    assert_eq!(nesting::of_text("/* ( "), None, "unclosed comment");
    assert_eq!(nesting::of_text("let r = r#\"x\"; ("), None, "a raw string closed without its #");
}

/// Random texts made of pieces that are easy to misread (literals and comments holding
/// brackets and quotes, lifetimes beside character literals, `<` and `>` in every role), nested
/// at random: the text and the token walk agree on each.
#[test]
fn text_nesting_agrees_on_random_texts() {
    const PIECES: &[&str] = &[
        "x",
        "1.5e3",
        "'a",
        "'a'",
        "'\\''",
        "b'('",
        "'('",
        "'}'",
        "\"(\"",
        "\"\\\"{\"",
        "r\"[\"",
        "r#\"\"]\"#",
        "br##\"\"#)\"##",
        "c\"<\"",
        "r#ident",
        "// ((\n",
        "/// doc\n",
        "//! inner\n",
        "//// plain\n",
        "/* ( */",
        "/* /* ] */ ) */",
        "/** doc */",
        "/*! doc */",
        "/**/",
        "/***/",
        "<",
        ">",
        "->",
        "=>",
        ">=",
        "<<",
        ";",
        ",",
        "::",
        "&'a",
        "'lbl:",
        "'\\u{2F}'",
        "'é'",
        "\"é(\"",
    ];
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    let mut compared = 0;
    for _ in 0..2_000 {
        let mut text = String::new();
        let mut open = Vec::new();
        for _ in 0..next(60) {
            match next(10) {
                0 | 1 => {
                    let (opening, closing) = [('(', ')'), ('[', ']'), ('{', '}')][next(3)];
                    text.push(opening);
                    open.push(closing);
                }
                2 => {
                    if let Some(closing) = open.pop() {
                        text.push(closing);
                    }
                }
                _ => text.push_str(PIECES[next(PIECES.len())]),
            }
            text.push(' ');
        }
        while let Some(closing) = open.pop() {
            text.push(closing);
        }
        if lex(&text).is_ok() {
            text_nesting_agrees(&text);
            compared += 1;
        }
    }
    assert!(compared > 1_000, "only {compared} of the random texts lex");
}

/// Every `.rs` file under `CODEGRAPH_NESTING_FILES` (a folder; say cargo's registry sources):
/// the text and the token walk agree on each file that lexes. Run by hand:
/// `CODEGRAPH_NESTING_FILES=DIR cargo test --release --lib text_nesting -- --ignored`.
#[test]
#[ignore = "reads the folder named by CODEGRAPH_NESTING_FILES"]
fn text_nesting_agrees_on_real_files() {
    let root = std::env::var_os("CODEGRAPH_NESTING_FILES").expect("CODEGRAPH_NESTING_FILES names a folder");
    let mut stack = vec![std::path::PathBuf::from(root)];
    let (mut files, mut compared) = (0, 0);
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files += 1;
                let Ok(text) = std::fs::read_to_string(&path) else { continue };
                let text = strip_shebang(&text);
                if let Ok(tokens) = lex(text) {
                    let walked = nesting::of_tokens(&tokens, usize::MAX).unwrap();
                    assert_eq!(nesting::of_text(text), Some(walked), "{}", path.display());
                    compared += 1;
                }
            }
        }
    }
    eprintln!("{compared} of {files} files compared");
}

#[test]
fn shebang_lines_keep_line_numbers() {
    let facts = parse_file("#!/usr/bin/env run-cargo-script\nfn main() {}\n").unwrap();
    assert_eq!(facts.items[0].line, 2);
    let facts = parse_file("#![allow(dead_code)]\nfn main() {}\n").unwrap();
    assert_eq!(facts.items[0].line, 2);
}

#[test]
fn bare_fn_trait_objects_of_edition_2015_parse() {
    let text = "\
pub type Action = Fn(&siginfo_t) + Send + Sync;
type Boxed = Box<FnMut(u8) -> u8 + Send>;
fn f(x: &Fn(), y: &'a FnOnce(u8), z: &mut Fn(), w: *const Fn()) -> Box<Fn()> where F: Fn(u8) {}
fn g<F: Fn(u8) + Send>(f: F) -> bool { a == b }
";
    let facts = parse_file(text).unwrap();
    let names: Vec<(&str, u32)> = facts.items.iter().map(|i| (i.name.as_str(), i.line)).collect();
    assert_eq!(names, [("Action", 1), ("Boxed", 2), ("f", 3), ("g", 4)]);
}

#[test]
fn anonymous_parameters_of_edition_2015_parse() {
    // fxhash's `trait HashWord { fn hash_word(&mut self, Self); }`; types with commas and paths,
    // a generic bound with an `Fn(..)` group, a `fn(..)` pointer type, and named parameters beside.
    let text = "\
trait HashWord {
    fn hash_word(&mut self, Self);
    fn pair(&self, HashMap<u8, Vec<u8>>, std::io::Result<()>, x: u8);
    fn bound<F: Fn(u8) -> u8>(F, fn(u8) -> u8) -> u8;
}
pub struct After;
";
    let facts = parse_file(text).unwrap();
    assert!(facts.lost.is_empty(), "{:?}", facts.lost);
    let methods: Vec<(&str, u32)> = facts.items[0].children.iter().map(|i| (i.name.as_str(), i.line)).collect();
    assert_eq!(methods, [("hash_word", 2), ("pair", 3), ("bound", 4)]);
    assert_eq!(facts.items[1].name, "After");
}

#[test]
fn the_retry_reports_the_real_error() {
    // The bare `Fn` on line 1 is fine in edition 2015; line 3 is broken in any edition.
    let (names, lost) = recovered("type A = Fn(u8);\n\nfn broken() -> {}\n");
    assert_eq!(names, ["A 1"]);
    assert_eq!(lost.iter().map(|l| (l.0, l.1)).collect::<Vec<_>>(), [(3, 3)]);
    // With no bare `Fn` at all, the retry changes nothing and the error stays where it is.
    let facts = parse_file("fn ok() {}\nstruct S { x: }\n").unwrap();
    assert_eq!(facts.lost[0].error.line, 2, "{:?}", facts.lost);
}

#[test]
fn raw_identifiers_are_unrawed() {
    let facts = parse_file("mod r#ref;\nfn r#match() {}\nstruct S { r#type: u8 }\n").unwrap();
    let names: Vec<&str> = facts.items.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["ref", "match", "S"]);
    assert_eq!(facts.items[2].children[0].name, "type");
}

#[test]
fn items_declared_in_macro_calls() {
    let text = "\
cfg_rt! {
    pub mod runtime;
    pub fn spawn() {}
}
cfg_if::cfg_if! {
    if #[cfg(unix)] {
        mod unix;
    } else if #[cfg(windows)] {
        #[path = \"win.rs\"]
        mod windows;
    } else {
        mod other;
        inner! { fn f() {} }
    }
}
lazy_static! { static ref X: u8 = 1; }
#[cfg(windows)]
cfg_os! { mod sys; }
";
    // `cfg_if!` is read at once, by its grammar; other calls wait for the crate's macros.
    assert_eq!(
        render(text),
        "\
module unix 7-7 private cfg(unix) inline=false path=None
module windows 10-10 private cfg(all(windows, not(any(unix)))) inline=false path=Some(\"win.rs\")
module other 12-12 private cfg(not(any(unix, windows))) inline=false path=None
"
    );
    let facts = parse_file(text).unwrap();
    let calls: Vec<(&str, u32, Option<&str>)> =
        facts.macro_calls.iter().map(|call| (call.name(), call.line, call.cfg.as_deref())).collect();
    assert_eq!(
        calls,
        [
            ("cfg_rt", 1, None),
            ("inner", 13, Some("not(any(unix, windows))")),
            ("lazy_static", 16, None),
            ("cfg_os", 18, Some("windows")),
        ]
    );
    // Without a definition, a call's body passes through when it parses as items, with its lines.
    let mut cache = Definitions::default();
    let Ok(Expanded::PassedThrough(through)) = expand(&facts.macro_calls[0], None, &mut cache) else {
        panic!("not passed through")
    };
    let names: Vec<(String, u32)> = through.items.iter().map(|item| (item.name.clone(), item.line)).collect();
    assert_eq!(names, [("runtime".to_owned(), 2), ("spawn".to_owned(), 3)]);
    assert!(matches!(expand(&facts.macro_calls[2], None, &mut cache), Ok(Expanded::Nothing)));
}

#[test]
fn stds_cfg_select_compiles_its_first_arm_that_holds() {
    let text = "\
cfg_select! {
    any(target_os = \"linux\", target_os = \"android\") => {
        #[path = \"linux.rs\"]
        mod imp;
    }
    unix => {
        mod imp;
    },
    false => { fn never() {} }
    _ => {
        mod generic;
        inner! { fn f() {} }
    }
    windows => { fn after_the_fallback() {} }
}
#[cfg(feature = \"x\")]
core::cfg_select! { true => { fn always() {} } }
";
    // Each arm holds where its predicate does and no earlier one's; `_` and `true` always do.
    let linux = "any(target_os = \"linux\", target_os = \"android\")";
    assert_eq!(
        render(text),
        format!(
            "\
module imp 4-4 private cfg({linux}) inline=false path=Some(\"linux.rs\")
module imp 7-7 private cfg(all(unix, not(any({linux})))) inline=false path=None
function never 9-9 private cfg(all(any(), not(any({linux}, unix)))) sig=fn never()
module generic 11-11 private cfg(all(all(), not(any({linux}, unix, any())))) inline=false path=None
function after_the_fallback 14-14 private cfg(all(windows, not(any({linux}, unix, any(), all())))) \
sig=fn after_the_fallback()
function always 17-17 private cfg(feature = \"x\", all()) sig=fn always()
"
        )
    );
    let facts = parse_file(text).unwrap();
    let items: Vec<(&str, Option<&str>)> =
        facts.items.iter().map(|item| (item.name.as_str(), item.cfg.as_deref())).collect();
    let calls: Vec<&str> = facts.macro_calls.iter().map(|call| call.name()).collect();
    assert_eq!(calls, ["inner"], "both `cfg_select!` calls are read, not kept for expansion");
    // What the predicates say, evaluated on Linux.
    let target = std::sync::Arc::new(crate::cfg::Target::detect(Some("x86_64-unknown-linux-gnu")));
    let cfg = crate::cfg::CfgContext::new(target, Default::default(), false, false);
    let compiled: Vec<&str> =
        items.iter().filter(|(_, predicate)| cfg.allows(*predicate)).map(|(name, _)| *name).collect();
    assert_eq!(compiled, ["imp"], "the first arm alone, on Linux");
}

#[test]
fn calls_in_a_bodys_cfg_select_are_made_where_their_arm_holds() {
    let text = "\
fn clock() -> u64 {
    cfg_select! {
        target_os = \"linux\" => {
            let t = linux_clock();
            t + 1
        }
        unix => unix_clock(),
        _ => other_clock(),
    }
}
";
    let facts = parse_file(text).unwrap();
    let calls: Vec<(String, u32, Option<&str>)> = facts.items[0]
        .refs
        .calls
        .iter()
        .map(|call| match &call.callee {
            Callee::Path(path, _) => (path.segments.join("::"), call.line, call.cfg.as_deref()),
            other => panic!("{other:?}"),
        })
        .collect();
    let linux = "target_os = \"linux\"";
    assert_eq!(
        calls,
        [
            ("linux_clock".to_owned(), 4, Some(linux)),
            ("unix_clock".to_owned(), 7, Some(&*format!("all(unix, not(any({linux})))"))),
            ("other_clock".to_owned(), 8, Some(&*format!("all(all(), not(any({linux}, unix)))"))),
        ]
    );
    assert!(facts.items[0].refs.body_macros.is_empty(), "read, not kept for expansion");
}

#[test]
fn test_functions_are_cfg_test() {
    let text = "#[test]\nfn a() {}\n#[tokio::test]\n#[cfg(unix)]\nasync fn b() {}\n#[bench]\nfn c() {}\nfn d() {}\n";
    assert_eq!(
        render(text),
        "\
function a 2-2 private cfg(test) sig=fn a()
function b 5-5 private cfg(test, unix) sig=async fn b()
function c 7-7 private cfg(test) sig=fn c()
function d 8-8 private sig=fn d()
"
    );
}

#[test]
fn function_flags_and_signatures() {
    let facts =
        parse_file("pub async unsafe fn get<T: Clone>(&self, key: T) -> Option<u8> where T: Send { None }").unwrap();
    assert_eq!(
        facts.items[0].detail,
        Detail::Function {
            signature: "async unsafe fn get<T: Clone>(&self, key: T) -> Option<u8> where T: Send".to_owned(),
            is_async: true,
            is_unsafe: true,
            is_const: false,
            returns: TypeExpr::Path(PathRef::single("Option"), vec![TypeExpr::Path(PathRef::single("u8"), Vec::new())]),
            // `key: T` is generic: its bound would type a closure given there.
            inputs: vec![
                TypeExpr::Unknown,
                TypeExpr::Param(
                    0,
                    BoundsExpr {
                        traits: vec![(PathRef::single("Clone"), Vec::new()), (PathRef::single("Send"), Vec::new())],
                        assoc: Vec::new(),
                    }
                ),
            ],
            receiver: true,
        }
    );
}

/// The bounds a parameter carries: a bound's arguments, its associated types' bindings, where
/// clauses on its associated types, and an `Fn` bound's parameters.
#[test]
fn bounds_keep_arguments_associated_types_and_closure_parameters() {
    let facts = parse_file(
        "fn f<I: Input, P: Parser<I, u8>, F: Fn(I::Item) -> bool>(i: I, p: P, f: F) -> P \
         where <I as Input>::Item: AsChar, I: Iterator<Item = u8> { p }",
    )
    .unwrap();
    let Detail::Function { inputs, .. } = &facts.items[0].detail else { panic!("not a function") };
    let [TypeExpr::Param(0, i), TypeExpr::Param(1, p), TypeExpr::Param(2, f)] = inputs.as_slice() else {
        panic!("inputs: {inputs:?}")
    };
    let names =
        |bounds: &BoundsExpr| bounds.traits.iter().map(|(path, _)| path.segments.join("::")).collect::<Vec<_>>();
    assert_eq!(names(i), ["Input", "Iterator"]);
    // The binding wins over the `where` clause's bounds for the same name.
    assert_eq!(i.assoc, [("Item".to_owned(), TypeExpr::Path(PathRef::single("u8"), Vec::new()))]);
    // `Parser<I, u8>`: its first argument is `I`, with `I`'s own bounds.
    let [(_, args)] = p.traits.as_slice() else { panic!("{p:?}") };
    assert!(matches!(&args[0], TypeExpr::Param(0, bounds) if names(bounds) == ["Input", "Iterator"]), "{args:?}");
    // `Fn(I::Item) -> bool`: the closure's parameter is `I`'s associated type.
    let [(path, args)] = f.traits.as_slice() else { panic!("{f:?}") };
    assert_eq!(path.segments, ["Fn"]);
    assert!(matches!(&args[..], [TypeExpr::Assoc(projection)] if projection.name == "Item"), "{args:?}");
    assert_eq!(f.assoc[0].0, "Output");
}

#[test]
fn hashes_follow_tokens_not_formatting_or_comments() {
    let hash = |text: &str| parse_file(text).unwrap().items[0].hash;
    let plain = hash("fn f(a: u8) -> u8 { a + 1 }");
    assert_eq!(plain, hash("fn   f( a : u8 )->u8 {\n    // a comment\n    a+1\n}"));
    assert_ne!(plain, hash("fn f(a: u8) -> u8 { a + 2 }"));
    assert_ne!(plain, hash("/// Docs count.\nfn f(a: u8) -> u8 { a + 1 }"));
    // The same in every run: FxHasher has no random seed. A changed value here changes every
    // stored hash.
    assert_eq!(hash("struct S;"), hash("struct   S ;"));
}

/// An impl's, a trait's, an inline module's and a file's hash are put together from their
/// members' (`push_item`): they follow every member's tokens and their own, not comments.
#[test]
fn composed_hashes_follow_members_and_headers() {
    let item = |text: &str| parse_file(text).unwrap().items[0].hash;
    let file = |text: &str| parse_file(text).unwrap().hash;
    /// How a case's texts are hashed; the text; texts that hash otherwise; one that hashes alike.
    type Case = (fn(&str) -> u64, &'static str, &'static [&'static str], &'static str);
    let cases: [Case; 4] = [
        (
            item,
            "impl S { fn f() { 1 } const C: u8 = 0; }",
            &[
                "impl S { fn f() { 2 } const C: u8 = 0; }",
                "impl S { fn f() { 1 } const C: u8 = 1; }",
                "impl T { fn f() { 1 } const C: u8 = 0; }",
                "impl<X> S { fn f() { 1 } const C: u8 = 0; }",
                "unsafe impl S { fn f() { 1 } const C: u8 = 0; }",
                "#[cfg(a)] impl S { fn f() { 1 } const C: u8 = 0; }",
                "impl S { const C: u8 = 0; fn f() { 1 } }",
            ],
            "impl S {\n    // one\n    fn f() { 1 }\n    const C: u8 = 0;\n}",
        ),
        (
            item,
            "trait T { fn f(); type A; }",
            &[
                "trait T { fn g(); type A; }",
                "trait T: Send { fn f(); type A; }",
                "pub trait T { fn f(); type A; }",
                "trait U { fn f(); type A; }",
            ],
            "trait T {\n    fn f(); // one\n    type A;\n}",
        ),
        (
            item,
            "mod m { fn f() {} use a::b; }",
            &[
                "mod m { fn f() {} use a::c; }",
                "mod m { fn g() {} use a::b; }",
                "pub mod m { fn f() {} use a::b; }",
                "mod n { fn f() {} use a::b; }",
            ],
            "mod m {\n    fn f() {}\n    /* one */ use a::b;\n}",
        ),
        (
            file,
            "//! Docs.\nuse a::b;\nfn f() {}\nm!();",
            &[
                "//! Other docs.\nuse a::b;\nfn f() {}\nm!();",
                "//! Docs.\nuse a::c;\nfn f() {}\nm!();",
                "//! Docs.\nuse a::b;\nfn f() { 1 }\nm!();",
                "//! Docs.\nuse a::b;\nfn f() {}\nm!(x);",
                "//! Docs.\nfn f() {}\nuse a::b;\nm!();",
            ],
            "//! Docs.\n// one\nuse a::b;\n\nfn f() {}\nm!();",
        ),
    ];
    for (hash, plain, changed, commented) in cases {
        assert_eq!(hash(plain), hash(commented), "{plain}");
        for other in changed {
            assert_ne!(hash(plain), hash(other), "{plain} against {other}");
        }
    }
}

#[test]
fn derives_written_as_the_prelude_path_are_derives() {
    let facts = parse_file(
        "#[::core::prelude::v1::derive(::core::clone::Clone, Copy)]\nstruct A;\n\
         #[std::prelude::rust_2021::derive(Debug)]\nstruct B;\n#[my::derive(Debug)]\nstruct C;\n",
    )
    .unwrap();
    let derives = |index: usize| -> Vec<String> {
        facts.items[index].refs.derives.iter().map(|named| named.path.segments.join("::")).collect()
    };
    assert_eq!(derives(0), ["core::clone::Clone", "Copy"]);
    assert_eq!(derives(1), ["Debug"]);
    assert!(derives(2).is_empty(), "`my::derive` is some other attribute");
}

#[test]
fn pub_self_is_private() {
    assert_eq!(render("pub(self) fn f() {}\n"), "function f 1-1 private sig=fn f()\n");
}

#[test]
fn derives_under_cfg_attr_carry_their_predicate() {
    let facts = parse_file(
        "#[derive(Copy)]\n#[cfg_attr(feature = \"serde\", derive(serde::Serialize, Debug), allow(dead_code))]\n\
         #[cfg_attr(test, allow(unused))]\nstruct A;\n",
    )
    .unwrap();
    let refs = &facts.items[0].refs;
    assert_eq!(refs.derives.iter().map(|named| named.path.segments.join("::")).collect::<Vec<_>>(), ["Copy"]);
    let cfg_derives: Vec<(String, String)> =
        refs.cfg_derives.iter().map(|(predicate, named)| (predicate.clone(), named.path.segments.join("::"))).collect();
    assert_eq!(
        cfg_derives,
        [
            ("feature = \"serde\"".to_owned(), "serde::Serialize".to_owned()),
            ("feature = \"serde\"".to_owned(), "Debug".to_owned())
        ]
    );
}

#[test]
fn a_line_map_counts_from_its_base_then_from_each_jump() {
    let lines = LineMap { base: 9, jumps: vec![(3, 5), (6, 20)] };
    let mapped: Vec<u32> = (1..=8).map(|text_line| lines.file_line(text_line)).collect();
    assert_eq!(mapped, [10, 11, 5, 6, 7, 20, 21, 22]);
    assert_eq!(LineMap::default().file_line(u32::MAX), u32::MAX);
    assert_eq!(LineMap { base: 1, jumps: Vec::new() }.file_line(u32::MAX), u32::MAX, "saturates");
}

/// A local holds what its initializer says, and a call keeps its arguments' types: `let b =
/// f(a, a)` holds `a`'s twice, so a chain of such lets would double at each step (`a64` would
/// have 2^64 nodes). An argument's type past a budget is left unknown, so the chain stays small.
#[test]
fn argument_types_stay_small_along_chains_of_locals() {
    let mut body = String::from("fn f(a0: u8) {\n");
    for step in 1..=64 {
        body.push_str(&format!("    let a{step} = g(a{prev}, a{prev});\n", prev = step - 1));
    }
    body.push_str("    h(a64);\n}\n");
    let facts = parse_file(&body).unwrap();
    let calls = &facts.items[0].refs.calls;
    assert_eq!(calls.len(), 65);
    // The first call knows both arguments are `u8`s.
    let Callee::Path(_, first) = &calls[0].callee else { panic!("{:?}", calls[0]) };
    assert_eq!(first.len(), 2);
    // Every call's record stays within a few budgets' worth of nodes.
    for call in calls {
        let size = format!("{:?}", call.callee).len();
        assert!(size < 40_000, "{size} bytes of debug output for {:?}", call.line);
    }
}

/// A hundred parameters each bounded by a trait of all of them: read twice, every mention would
/// carry ten thousand nodes; the first reading is kept, whose arguments are bare parameters.
#[test]
fn many_parameters_bounded_by_each_other_stay_small() {
    let count = 100;
    let names: Vec<String> = (0..count).map(|i| format!("T{i}")).collect();
    let params: Vec<String> = names.iter().map(|name| format!("{name}: Tr<{}>", names.join(", "))).collect();
    let text = format!("fn f<{}>(a: T0) {{ a.m(); }}", params.join(", "));
    let facts = parse_file(&text).unwrap();
    let Detail::Function { inputs, .. } = &facts.items[0].detail else { panic!("not a function") };
    let [TypeExpr::Param(0, bounds)] = inputs.as_slice() else { panic!("{inputs:?}") };
    let [(_, args)] = bounds.traits.as_slice() else { panic!("{bounds:?}") };
    assert_eq!(args.len(), count);
    assert!(args.iter().all(|arg| matches!(arg, TypeExpr::Param(_, inner) if inner.traits.is_empty())));
}

#[test]
fn a_local_inner_macros_export_calls_its_own_crates_macros() {
    let text = "#[macro_export(local_inner_macros)]\nmacro_rules! outer { () => { inner! {} } }\n\
                #[macro_export]\nmacro_rules! plain { () => { inner! {} } }\n";
    let facts = parse_file(text).unwrap();
    let definitions: Vec<String> = facts
        .items
        .iter()
        .map(|item| match &item.detail {
            Detail::MacroRules { definition } => definition.parse::<proc_macro2::TokenStream>().unwrap().to_string(),
            other => panic!("not a macro: {other:?}"),
        })
        .collect();
    assert_eq!(definitions, ["() => { $ crate :: inner ! { } }", "() => { inner ! { } }"]);
}

#[test]
fn a_crate_roots_recursion_limit_is_read_from_its_inner_attributes() {
    let recursion_limit = |text| recursion_limit(text, |predicate| predicate == "feature = \"deep\"");
    assert_eq!(recursion_limit("#![recursion_limit = \"256\"]\nfn a() {}"), Some(256));
    let after_doc = "#!/usr/bin/env run\n//! Docs.\n#![no_std]\n#![recursion_limit=\"1024\"]\nmod a;";
    assert_eq!(recursion_limit(after_doc), Some(1024));
    assert_eq!(recursion_limit("#![recursion_limit = \"99999999\"]"), Some(MAX_RECURSION_LIMIT), "capped");
    // Under `cfg_attr`, where its predicate holds, nested too; the last that counts wins.
    let guarded = "#![cfg_attr(feature = \"deep\", recursion_limit = \"512\")]\nmod a;";
    assert_eq!(recursion_limit(guarded), Some(512));
    let nested = "#![cfg_attr(feature = \"deep\", cfg_attr(feature = \"deep\", no_std, recursion_limit = \"300\"))]";
    assert_eq!(recursion_limit(nested), Some(300));
    let both = "#![recursion_limit = \"200\"]\n#![cfg_attr(feature = \"deep\", recursion_limit = \"400\")]";
    assert_eq!(recursion_limit(both), Some(400));
    let off = "#![recursion_limit = \"200\"]\n#![cfg_attr(feature = \"shallow\", recursion_limit = \"400\")]";
    assert_eq!(recursion_limit(off), Some(200));
    for none in [
        "fn a() {}",
        "// #![recursion_limit = \"256\"]\nfn a() {}",
        "//! Set `#![recursion_limit = \"256\"]` for large calls.\nfn a() {}",
        "#![recursion_limit = \"many\"]",
        "#![recursion_limit = \"0\"]",
        "#![recursion_limit(256)]",
        "#[recursion_limit = \"256\"]\nfn a() {}",
        "#![recursion_limit = \"256\"] fn a() { \"unclosed }",
        "#![cfg_attr(feature = \"shallow\", recursion_limit = \"512\")]",
        "#![cfg_attr(feature = \"deep\")]\nconst A: &str = \"recursion_limit\";",
        "fn a() {}\n#![recursion_limit = \"256\"]",
    ] {
        assert_eq!(recursion_limit(none), None, "{none}");
    }
    // A hostile root: attributes nested past what is parsed, and items nested deeper still.
    let deep =
        format!("#![cfg_attr({}x{})]\n#![recursion_limit = \"256\"]", "all(".repeat(100_000), ")".repeat(100_000));
    assert_eq!(recursion_limit(&deep), None);
    let deep_items =
        format!("#![recursion_limit = \"256\"]\nconst A: () = {}{};", "[".repeat(200_000), "]".repeat(200_000));
    assert_eq!(recursion_limit(&deep_items), Some(256));
}
