//! The per-file pipeline on arbitrary bytes: parse (with item-by-item recovery), expand each
//! item-position macro call with the file's own `macro_rules!` of that name, and assemble the
//! module body and the expansions into a batch, as `index` does for one file. Any panic is a bug;
//! a syntax error is an expected result.

#![no_main]

use std::collections::BTreeSet;
use std::sync::Arc;

use cargo_codegraph::assemble::{self, BodyOut, FileRef, ModuleRef};
use cargo_codegraph::cfg::{CfgContext, Target};
use cargo_codegraph::ids::Key;
use cargo_codegraph::parse::{self, Definition, Definitions, Detail, Expanded};
use libfuzzer_sys::fuzz_target;

/// The indexing workers' stack (`index::WORKER_STACK`, which is not public).
const WORKER_STACK: usize = 64 * 1024 * 1024;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    // On a stack as large as an indexing worker's, as in a real run.
    std::thread::Builder::new()
        .stack_size(WORKER_STACK)
        .spawn(move || one_file(&text))
        .expect("spawning the fuzzing thread")
        .join()
        .expect("the pipeline panicked");
});

fn one_file(text: &str) {
    let target = Arc::new(Target::new("x86_64-unknown-linux-gnu".to_owned(), BTreeSet::new(), None));
    let cfg = CfgContext::new(target, BTreeSet::new(), false, false);
    let key = Key::package("fuzz", Some("0.1.0"));
    let module = ModuleRef {
        key: &key,
        id: key.id(),
        path: "fuzz",
        crate_name: "fuzz",
        inline_dirs: &[],
        active: true,
        cfg: &cfg,
        taken: None,
    };
    let file = FileRef { id: key.id(), name: Arc::from("src/lib.rs") };
    parse::parse_file_then(text, |facts| {
        let Ok(facts) = facts else { return };
        let definitions: Vec<(String, String)> = facts
            .items
            .iter()
            .filter_map(|item| match &item.detail {
                Detail::MacroRules { definition } => Some((item.name.clone(), definition.clone())),
                _ => None,
            })
            .collect();
        let calls = facts.macro_calls;
        let mut out = BodyOut::default();
        std::hint::black_box(assemble::duplicates(&facts.items, &cfg, "fuzz", true));
        assemble::module_body(&file, &module, facts.items, &mut out);
        let taken: rustc_hash::FxHashSet<_> = out.batch.vertices.iter().map(|vertex| vertex.id).collect();
        let mut cache = Definitions::default();
        for call in calls.iter().take(16) {
            let name = call.path.segments.last().map(String::as_str).unwrap_or_default();
            let definition = definitions
                .iter()
                .find(|(defined, _)| defined == name)
                .map(|(_, text)| Definition { text: text.as_str(), dollar_crate: "crate" });
            let body = match parse::expand(call, definition, &mut cache) {
                Ok(Expanded::Macro(body) | Expanded::PassedThrough(body)) => body,
                Ok(Expanded::Nothing) | Err(_) => continue,
            };
            let expanded = ModuleRef { taken: Some((&taken, name)), ..module };
            assemble::module_body(&file, &expanded, body.items, &mut BodyOut::default());
        }
    });
}
