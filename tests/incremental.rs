//! Reruns equal full builds: a seeded sequence of random edits to the `calls` fixture (files and
//! modules added, removed and renamed, items added and removed, `use` lines and calls changed,
//! files rewritten unchanged), and after each, a rerun on the same graph must export exactly what
//! a full build (`--rebuild`, another graph) exports. A rerun that is skipped when it should not
//! be (an input the up-to-date check misses) fails here.

mod common;

use std::path::{Path, PathBuf};

use common::{Fixture, describe};

/// A small deterministic generator: the same seed gives the same edits on every machine.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

fn build_and_export(dir: &Path, db: &Path, extra: &[&str]) -> (String, bool) {
    let mut args = vec!["--offline", "--workspace", "--message-format", "json", "--db", db.to_str().unwrap()];
    args.extend_from_slice(extra);
    let output = common::run_in(dir, &args);
    assert!(matches!(output.status.code(), Some(0 | 3)), "{}", describe(&output));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let export = common::run_in(dir, &["export", "--db", db.to_str().unwrap()]);
    assert!(export.status.success(), "{}", describe(&export));
    (String::from_utf8(export.stdout).unwrap(), summary["fresh"] == true)
}

fn append(path: &Path, text: &str) {
    let mut content = std::fs::read_to_string(path).unwrap();
    content.push_str(text);
    std::fs::write(path, content).unwrap();
}

#[test]
fn reruns_after_random_edits_equal_full_builds() {
    let fixture = Fixture::new("calls");
    let root = fixture.path().to_path_buf();
    let app = root.join("crates/app/src");
    let lib = app.join("lib.rs");
    let report = app.join("report/mod.rs");
    let scratch = tempfile::tempdir().unwrap();
    let (rerun_db, full_db) = (scratch.path().join("rerun.msgpack"), scratch.path().join("full.msgpack"));
    build_and_export(&root, &rerun_db, &[]);

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Modules this test added, as (name, its file).
    let mut added: Vec<(String, PathBuf)> = Vec::new();
    let mut skipped = 0;
    for step in 0..24 {
        // Every fifth step rewrites a file unchanged: a rerun that must be skipped.
        let what = match if step % 5 == 4 { 6 } else { rng.below(8) } {
            0 => {
                let name = format!("extra{step}");
                let file = app.join(format!("{name}.rs"));
                std::fs::write(&file, format!("pub fn made_{step}() -> f64 {{ crate::report::helper(1.0) }}\n"))
                    .unwrap();
                append(&lib, &format!("pub mod {name};\n"));
                added.push((name.clone(), file));
                format!("add module {name}")
            }
            1 if !added.is_empty() => {
                let (name, file) = added.remove(rng.below(added.len()));
                std::fs::remove_file(&file).unwrap();
                let text = std::fs::read_to_string(&lib).unwrap().replace(&format!("pub mod {name};\n"), "");
                std::fs::write(&lib, text).unwrap();
                format!("remove module {name}")
            }
            2 if !added.is_empty() => {
                // The declaration stays; the file moves to where `mod x;` also looks.
                let index = rng.below(added.len());
                let (name, file) = added[index].clone();
                let moved = app.join(&name).join("mod.rs");
                if file.ends_with("mod.rs") {
                    continue;
                }
                std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
                std::fs::rename(&file, &moved).unwrap();
                added[index].1 = moved;
                format!("rename {name}.rs to {name}/mod.rs")
            }
            3 => {
                append(&report, &format!("\npub fn added_{step}(x: f64) -> f64 {{\n    helper(x) + {step}.0\n}}\n"));
                format!("add a function to report at step {step}")
            }
            4 => {
                append(&report, &format!("use crate::shapes::Circle as Round{step};\n"));
                "add a use line".to_owned()
            }
            5 if !added.is_empty() => {
                let (name, file) = &added[rng.below(added.len())];
                append(file, &format!("pub fn call_{step}() -> f64 {{ super::report::helper({step}.0) }}\n"));
                format!("add a call in {name}")
            }
            6 => {
                // Rewritten with the same content: nothing to rebuild.
                let text = std::fs::read_to_string(&report).unwrap();
                std::fs::write(&report, text).unwrap();
                "rewrite report unchanged".to_owned()
            }
            _ => {
                // A `mod x;` with no file yet: the walk looks for it, and must notice it appear.
                let name = format!("later{step}");
                append(&lib, &format!("pub mod {name};\n"));
                let file = app.join(format!("{name}.rs"));
                let (before, _) = build_and_export(&root, &rerun_db, &[]);
                std::fs::write(&file, "pub fn appeared() {}\n").unwrap();
                added.push((name.clone(), file));
                assert!(!before.contains(&format!("{name}::appeared")));
                format!("declare {name}, then create its file")
            }
        };
        let (rerun, fresh) = build_and_export(&root, &rerun_db, &[]);
        let (full, _) = build_and_export(&root, &full_db, &["--rebuild"]);
        skipped += usize::from(fresh);
        eprintln!("step {step}: {what}: fresh {fresh}");
        assert!(rerun == full, "after step {step} ({what}), the rerun differs from a full build");
    }
    assert!(skipped >= 4, "the unchanged rewrites were skipped ({skipped})");
}
