//! The compiler's view of a crate's calls: runs `cargo rustc --lib -- -Zunpretty=mir` (with
//! spans, untrimmed paths) and reads every function body's call terminators out of the text,
//! each with the span of the call and of the callee operand. It knows nothing about our graph;
//! `score` puts the two side by side.
//!
//! What a MIR dump looks like (rustc 1.95):
//!
//! ```text
//! fn <impl at /…/itoa-1.0.19/src/lib.rs:93:1: 93:12>::new() -> Buffer {
//!     bb0: {
//!         _2 = core::mem::MaybeUninit::<u8>::uninit() -> [return: bb1, unwind continue]; // scope 0 at /…/src/lib.rs:99:22: 99:49
//!                                          // mir::ConstOperand
//!                                          // + span: /…/src/lib.rs:99:22: 99:47
//!                                          // + const_: Const { ty: fn() -> … {…}, val: Value(core::mem::MaybeUninit::<u8>::uninit) }
//! ```
//!
//! Local paths are crate-relative (`u128_ext::mulhi`, `Buffer::new`), other crates' start with
//! the crate's name (`core::…`); impl methods are `<impl at FILE:L:C: L:C>::name`, trait calls
//! `<Type as Trait>::method`; closures are bodies of their own (`parent::{closure#0}`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A span as the MIR prints it: an absolute (or workspace-relative) file, 1-based line and
/// column of start and end (end column just past the span).
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub file: String,
    pub start: (u32, u32),
    pub end: (u32, u32),
}

/// Who a body belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Caller {
    /// A free function, a trait's default method or a function nested in a body: the
    /// crate-relative path (`u128_ext::mulhi`, `Sealed::write`).
    Path(String),
    /// A method of the impl whose header starts at `file`:`line`.
    Impl { file: String, line: u32, name: String },
}

#[derive(Debug)]
pub struct Call {
    /// The callee as printed (`Buffer::new`, `<u128 as core::convert::From<u64>>::from`).
    pub callee: String,
    /// The span of the whole call.
    pub site: Span,
    /// The span of the callee operand: the path of a path call, the method name of a method
    /// call, the whole expression of an operator.
    pub operand: Span,
}

/// A function's body; a closure's calls are in the body of the function it is written in.
#[derive(Debug)]
pub struct Body {
    pub caller: Caller,
    pub calls: Vec<Call>,
}

/// How to run `cargo rustc` in one workspace.
pub struct MirRun<'a> {
    pub workspace: &'a Path,
    pub target_dir: &'a Path,
    /// `--offline` for fixtures, `--locked` for the corpus.
    pub cargo_flags: &'a [&'a str],
}

impl MirRun<'_> {
    /// The MIR of the lib target of `package` (a `-p` spec), as text.
    pub fn generate(&self, package: &str) -> String {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command
            .args(["rustc", "--lib", "-p", package])
            .args(self.cargo_flags)
            .args(["--", "-Zunpretty=mir", "-Zmir-include-spans=yes", "-Ztrim-diagnostic-paths=no"])
            .current_dir(self.workspace)
            .env("CARGO_TARGET_DIR", self.target_dir)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("RUSTC_WORKSPACE_WRAPPER");
        bootstrap_unpretty_only(&mut command, self.target_dir);
        let output = command.output().unwrap();
        assert!(output.status.success(), "cargo rustc -p {package}: {}", crate::common::describe(&output));
        String::from_utf8(output.stdout).unwrap()
    }
}

/// Lets the one rustc run that prints the MIR take `-Z` flags on a stable toolchain. In cargo's
/// environment `RUSTC_BOOTSTRAP=1` would reach build scripts, whose nightly probes would turn on
/// `cfg`s a stable build (and our index) never sees; so a `RUSTC_WRAPPER` sets it only for the
/// invocation that carries `-Zunpretty=mir`.
#[cfg(unix)]
fn bootstrap_unpretty_only(command: &mut Command, dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    let wrapper = dir.join("rustc-mir-bootstrap.sh");
    let script = "#!/bin/sh\ncase \" $* \" in *\" -Zunpretty=mir \"*) RUSTC_BOOTSTRAP=1; export RUSTC_BOOTSTRAP;; esac\nexec \"$@\"\n";
    std::fs::write(&wrapper, script).unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    command.env("RUSTC_WRAPPER", wrapper);
}

/// Elsewhere the whole cargo run gets `RUSTC_BOOTSTRAP=1` (see the unix version for the cost).
#[cfg(not(unix))]
fn bootstrap_unpretty_only(command: &mut Command, _dir: &Path) {
    command.env("RUSTC_BOOTSTRAP", "1");
}

/// Every function body of a MIR dump (constants, statics and promoted bodies are skipped: they
/// are no function of ours). Relative span files are joined to `workspace`.
pub fn parse(text: &str, workspace: &Path) -> Vec<Body> {
    let lines: Vec<&str> = text.lines().collect();
    let mut bodies = Vec::new();
    let mut idx = 0;
    while idx < lines.len() {
        let line = lines[idx];
        idx += 1;
        let Some(header) = line.strip_prefix("fn ") else { continue };
        let Some(open) = top_level_paren(header) else { continue };
        let full = &header[..open];
        // `parent::{closure#0}`, `parent::{constant#0}`: the part before the first `::{`.
        let name = full.find("::{").map_or(full, |at| &full[..at]);
        let caller = caller_of(name, workspace);
        let mut calls = Vec::new();
        while idx < lines.len() && lines[idx] != "}" {
            if let Some(call) = call_at(&lines, idx, workspace) {
                calls.push(call);
            }
            idx += 1;
        }
        if let Some(caller) = caller {
            bodies.push(Body { caller, calls });
        }
    }
    bodies
}

/// A path as our graph spells it: raw identifiers without their `r#` (`r#ref::def::Ref` is the
/// module `ref`).
pub fn unraw(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut last = None;
    let mut chars = path.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let starts_ident = last.is_none_or(|l: char| !(l.is_alphanumeric() || l == '_'));
        if c == 'r' && starts_ident && path[at..].starts_with("r#") {
            chars.next();
            last = Some('#');
            continue;
        }
        out.push(c);
        last = Some(c);
    }
    out
}

fn caller_of(name: &str, workspace: &Path) -> Option<Caller> {
    match name.rfind("<impl at ") {
        Some(at) => {
            let rest = &name[at + "<impl at ".len()..];
            let close = rest.find('>')?;
            let span = parse_span(&rest[..close], workspace)?;
            let method = rest[close + 1..].strip_prefix("::")?;
            Some(Caller::Impl { file: span.file, line: span.start.0, name: method.to_owned() })
        }
        None => Some(Caller::Path(unraw(name))),
    }
}

/// The call terminator at `lines[idx]`, if it is one whose callee is a constant (a function
/// item): `_5 = PATH(args) -> [return: bb1, unwind continue]; // scope 0 at SPAN`, followed by
/// the operands' comments, the callee's first. Calls through function pointers and closures in
/// locals (`move _3(..)`) have no constant callee and are skipped, as are `drop`, `assert` and
/// the other terminators.
fn call_at(lines: &[&str], idx: usize, workspace: &Path) -> Option<Call> {
    let line = lines[idx].trim_start();
    let (code, comment) = line.split_once("; // scope ")?;
    let site = comment.split_once(" at ")?.1;
    let code = match code.split_once(" = ") {
        Some((place, rest)) if place.starts_with('_') && !place.contains(' ') => rest,
        _ => code,
    };
    let open = top_level_paren(code)?;
    let callee = &code[..open];
    if callee.is_empty() || callee.starts_with("move ") || callee.starts_with("copy ") || !code.contains(") -> ") {
        return None;
    }
    // The callee's own comment: the first `ConstOperand` whose value is the callee.
    let wanted = format!("val: Value({callee}) }}");
    let mut operand = None;
    let mut span = None;
    for next in &lines[idx + 1..] {
        let Some(comment) = next.trim_start().strip_prefix("// ") else { break };
        if let Some(text) = comment.strip_prefix("+ span: ") {
            span = Some(text);
        } else if comment.starts_with("+ const_: ") && comment.ends_with(&wanted) {
            operand = span;
            break;
        } else if comment == "mir::ConstOperand" {
            span = None;
        }
    }
    Some(Call { callee: unraw(callee), site: parse_span(site, workspace)?, operand: parse_span(operand?, workspace)? })
}

/// The byte offset of the first `(` outside `<…>` (a `->` does not close an angle bracket).
fn top_level_paren(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0i32;
    for (at, &b) in bytes.iter().enumerate() {
        match b {
            b'<' => depth += 1,
            b'>' if at > 0 && bytes[at - 1] == b'-' => {}
            b'>' => depth -= 1,
            b'(' if depth == 0 => return Some(at),
            _ => {}
        }
    }
    None
}

/// `FILE:L:C: L:C`.
fn parse_span(text: &str, workspace: &Path) -> Option<Span> {
    let text = text.trim();
    let (head, end) = text.rsplit_once(": ")?;
    let mut parts = head.rsplitn(3, ':');
    let column: u32 = parts.next()?.parse().ok()?;
    let line: u32 = parts.next()?.parse().ok()?;
    let file = parts.next()?;
    let (end_line, end_column) = end.split_once(':')?;
    let file = if Path::new(file).is_absolute() { PathBuf::from(file) } else { workspace.join(file) };
    Some(Span {
        file: file.to_string_lossy().into_owned(),
        start: (line, column),
        end: (end_line.parse().ok()?, end_column.trim().parse().ok()?),
    })
}

/// Splits a printed path at its top-level `::` (those outside `<…>`).
pub fn segments(path: &str) -> Vec<&str> {
    let bytes = path.as_bytes();
    let mut out = Vec::new();
    let (mut depth, mut start, mut at) = (0i32, 0, 0);
    while at < bytes.len() {
        match bytes[at] {
            b'<' => depth += 1,
            b'>' if at > 0 && bytes[at - 1] == b'-' => {}
            b'>' => depth -= 1,
            b':' if depth == 0 && bytes.get(at + 1) == Some(&b':') => {
                out.push(&path[start..at]);
                at += 2;
                start = at;
                continue;
            }
            _ => {}
        }
        at += 1;
    }
    out.push(&path[start..]);
    out
}

/// A path without its generic arguments: `Foo::<T>::new` → `Foo::new`,
/// `core::fmt::Arguments<'_>::new` → `core::fmt::Arguments::new`. A qualified-self segment
/// (`<X as Trait>`, first) and `<impl X>` segments before a name are kept whole; a turbofish whose
/// argument is a projection (`ConstNonNull::<<A as Array>::Item>::as_ptr`) or an `impl Trait`
/// (`RawTable::<T, A>::find::<impl FnMut(&T) -> bool>`) goes like any other.
pub fn strip_generics(path: &str) -> String {
    let mut kept = Vec::new();
    let segments = segments(path);
    let last = segments.len().saturating_sub(1);
    for (index, segment) in segments.into_iter().enumerate() {
        if segment.starts_with('<') {
            // `find::<impl FnMut(&T) -> bool>` is the turbofish of an `impl Trait` argument.
            let impl_path = segment.starts_with("<impl ") && index < last;
            if impl_path || index == 0 && segment.contains(" as ") {
                kept.push(segment.to_owned());
            }
            // Otherwise a turbofish's arguments.
        } else {
            kept.push(segment.find('<').map_or(segment, |at| &segment[..at]).to_owned());
        }
    }
    kept.join("::")
}
