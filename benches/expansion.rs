//! What one macro call costs to expand, against parsing what it makes as written code.
//!
//! Issue 13 bounds how much expansion may make the `e2e` ratio to the parse-only floor grow. The
//! floor parses files; what expansion adds (lexing a call's body, matching it, transcribing,
//! parsing what it makes, the facts of those items) has no part in it. This bench measures that
//! work per call, for shapes real crates use a lot, beside two references for the same items
//! written out: `syn::parse_file` (the floor's work) and `parse::parse_file` (the indexer's parse of
//! a file, facts included). Each case's calls are distinct (a name numbered per call), so nothing
//! is reused but the parsed definition, as in a build.
//!
//! Cases: windows-targets' `link!` (one foreign function per call: 20 k calls in the `e2e`
//! corpus), an impl per listed type, a `$($item:item)*` wrapper (tokio's `cfg_*!`), and one step
//! of a tt muncher (its output a struct and the call for the rest).
//!
//! Environment: `CODEGRAPH_BENCH_RUNS` (default 5): rounds, the three measurements alternated in
//! each; the median is printed. Figures in `benches/README.md`. This is not a timed test.

use std::error::Error;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use cargo_codegraph::parse::{self, Definition, Definitions, Detail, Expanded, ItemFacts, MacroCall};

// The binary's allocator (`src/main.rs`), so that the work is measured as users run it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DEFAULT_RUNS: usize = 5;

/// Calls per case and round.
const CALLS: usize = 2_000;

struct Case {
    name: &'static str,
    definition: &'static str,
    /// The `i`th call.
    call: fn(usize) -> String,
    /// What the `i`th call makes, written out.
    written: fn(usize) -> String,
}

const CASES: &[Case] = &[
    Case {
        name: "link! (windows-targets)",
        definition: r#"macro_rules! link {
    ($library:literal $abi:literal $($link_name:literal)? $(#[$doc:meta])? fn $($function:tt)*) => (
        #[link(name = "windows.0.52.0")]
        extern $abi {
            $(#[link_name=$link_name])?
            pub fn $($function)*;
        }
    )
}"#,
        call: |i| {
            format!(
                "link!(\"kernel32.dll\" \"system\" fn Duplicate{i}(source : HANDLE, target : *mut HANDLE, \
                 access : u32, inherit : BOOL) -> BOOL);"
            )
        },
        written: |i| {
            format!(
                "#[link(name = \"windows.0.52.0\")] extern \"system\" {{ pub fn Duplicate{i}(source : HANDLE, \
                 target : *mut HANDLE, access : u32, inherit : BOOL) -> BOOL; }}"
            )
        },
    },
    Case {
        name: "an impl per type",
        definition: "macro_rules! zero { ($name:ident: $($t:ty),*) => { $(impl $name for $t { \
                     fn zero() -> Self { 0 as $t } fn is_zero(&self) -> bool { *self == 0 } })* } }",
        call: |i| format!("zero!(Zero{i}: u8, u16, u32, u64, i8, i16, i32, i64);"),
        written: |i| {
            ["u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64"]
                .iter()
                .map(|t| {
                    format!(
                        "impl Zero{i} for {t} {{ fn zero() -> Self {{ 0 as {t} }} \
                         fn is_zero(&self) -> bool {{ *self == 0 }} }}\n"
                    )
                })
                .collect()
        },
    },
    Case {
        name: "$($item:item)* wrapper",
        definition: "macro_rules! cfg_rt { ($($item:item)*) => { $( #[cfg(feature = \"rt\")] \
                     #[cfg_attr(docsrs, doc(cfg(feature = \"rt\")))] $item )* } }",
        call: |i| {
            format!(
                "cfg_rt! {{ pub mod runtime{i}; pub fn spawn{i}<F: Future>(f: F) -> JoinHandle<F::Output> \
                 {{ runtime::spawn(f) }} pub struct Builder{i} {{ threads: usize, name: String }} }}"
            )
        },
        written: |i| {
            let attrs = "#[cfg(feature = \"rt\")] #[cfg_attr(docsrs, doc(cfg(feature = \"rt\")))]";
            format!(
                "{attrs} pub mod runtime{i}; {attrs} pub fn spawn{i}<F: Future>(f: F) -> JoinHandle<F::Output> \
                 {{ runtime::spawn(f) }} {attrs} pub struct Builder{i} {{ threads: usize, name: String }}"
            )
        },
    },
    Case {
        name: "one step of a tt muncher",
        definition: "macro_rules! structs { () => {}; ($head:ident $($rest:tt)*) => { \
                     pub struct $head; structs!($($rest)*); } }",
        call: |i| format!("structs!(S{i} {});", (0..20).map(|k| format!("T{k}")).collect::<Vec<_>>().join(" ")),
        written: |i| {
            format!("pub struct S{i}; structs!({});", (0..20).map(|k| format!("T{k}")).collect::<Vec<_>>().join(" "))
        },
    },
];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let runs = match std::env::var("CODEGRAPH_BENCH_RUNS") {
        Ok(runs) => runs.parse::<usize>().map_err(|_| format!("CODEGRAPH_BENCH_RUNS={runs}: not a number"))?,
        Err(_) => DEFAULT_RUNS,
    }
    .max(1);
    println!("{CALLS} calls per case, {runs} rounds (median), one thread; µs per call\n");
    println!(
        "{:<26} {:>8} {:>10} {:>12} {:>10} {:>10}",
        "case", "expand", "syn floor", "parse_file", "exp/floor", "parse/floor"
    );
    for case in CASES {
        let (definition, calls) = prepare(case)?;
        let written: Vec<String> = (0..CALLS).map(case.written).collect();
        same_items(case, &definition, &calls[0], &written[0])?;
        let (mut expand, mut floor, mut ours) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            expand.push(timed(|| {
                let mut definitions = Definitions::default();
                for call in &calls {
                    let made = parse::expand(
                        call,
                        Some(Definition { text: &definition, dollar_crate: "crate" }),
                        &mut definitions,
                    );
                    black_box(made.map_err(|err| err.message)?);
                    proc_macro2::extra::invalidate_current_thread_spans();
                }
                Ok(())
            })?);
            floor.push(timed(|| {
                for text in &written {
                    black_box(syn::parse_file(text).map_err(|err| err.to_string())?);
                    proc_macro2::extra::invalidate_current_thread_spans();
                }
                Ok(())
            })?);
            ours.push(timed(|| {
                for text in &written {
                    black_box(parse::parse_file(text).map_err(|err| err.message)?);
                    proc_macro2::extra::invalidate_current_thread_spans();
                }
                Ok(())
            })?);
        }
        let per_call = |times: &mut Vec<Duration>| median(times).as_secs_f64() * 1e6 / CALLS as f64;
        let (expand, floor, ours) = (per_call(&mut expand), per_call(&mut floor), per_call(&mut ours));
        println!(
            "{:<26} {expand:>8.2} {floor:>10.2} {ours:>12.2} {:>9.2}x {:>9.2}x",
            case.name,
            expand / floor,
            ours / floor
        );
    }
    Ok(())
}

/// The case's definition text (as the indexer records it) and its calls.
fn prepare(case: &Case) -> Result<(String, Vec<MacroCall>), Box<dyn Error>> {
    let facts = parse::parse_file(case.definition).map_err(|err| format!("{}: {}", case.name, err.message))?;
    let definition = facts
        .items
        .iter()
        .find_map(|item| match &item.detail {
            Detail::MacroRules { definition } => Some(definition.clone()),
            _ => None,
        })
        .ok_or_else(|| format!("{}: no macro_rules! definition", case.name))?;
    let text: String = (0..CALLS).map(|i| (case.call)(i) + "\n").collect();
    let calls = parse::parse_file(&text).map_err(|err| format!("{}: {}", case.name, err.message))?.macro_calls;
    if calls.len() != CALLS {
        return Err(format!("{}: {} calls parsed, {CALLS} written", case.name, calls.len()).into());
    }
    Ok((definition, calls))
}

/// Checks that the first call makes the items its written-out text holds (kinds, names, children):
/// the references measure the same items as the expansion.
fn same_items(case: &Case, definition: &str, call: &MacroCall, written: &str) -> Result<(), Box<dyn Error>> {
    fn shape(items: &[ItemFacts]) -> Vec<String> {
        items.iter().map(|item| format!("{} {} [{}]", item.kind, item.name, shape(&item.children).join(", "))).collect()
    }
    let made =
        parse::expand(call, Some(Definition { text: definition, dollar_crate: "crate" }), &mut Definitions::default())
            .map_err(|err| format!("{}: {}", case.name, err.message))?;
    let Expanded::Macro(made) = made else {
        return Err(format!("{}: not expanded by its definition", case.name).into());
    };
    let written = parse::parse_file(written).map_err(|err| format!("{}: {}", case.name, err.message))?;
    let (made_calls, written_calls) = (made.calls.len(), written.macro_calls.len());
    if shape(&made.items) != shape(&written.items) || made_calls != written_calls {
        return Err(format!(
            "{}: the call makes {:?} and {made_calls} calls, the written text {:?} and {written_calls}",
            case.name,
            shape(&made.items),
            shape(&written.items)
        )
        .into());
    }
    Ok(())
}

fn timed(f: impl FnOnce() -> Result<(), String>) -> Result<Duration, Box<dyn Error>> {
    let start = Instant::now();
    f()?;
    Ok(start.elapsed())
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}
