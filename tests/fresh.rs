//! Reruns with nothing changed are skipped, and report what the build they skip reported; any
//! change that could change the graph rebuilds it.

mod common;

use common::{Fixture, describe, metadata_cache_entry, stderr};

fn build(fixture: &Fixture, extra: &[&str]) -> std::process::Output {
    let db = fixture.db();
    let mut args = vec!["--offline", "--db", db.to_str().unwrap()];
    args.extend_from_slice(extra);
    fixture.run(&args)
}

fn modified(fixture: &Fixture) -> std::time::SystemTime {
    std::fs::metadata(fixture.db()).unwrap().modified().unwrap()
}

#[test]
fn a_rerun_with_nothing_changed_is_skipped_until_something_changes() {
    let fixture = Fixture::new("single");
    let first = build(&fixture, &[]);
    assert_eq!(first.status.code(), Some(0), "{}", describe(&first));
    assert!(stderr(&first).contains("Saved"), "{}", describe(&first));
    let export = fixture.export();
    let stamp = modified(&fixture);

    let again = build(&fixture, &["--message-format", "json"]);
    assert_eq!(again.status.code(), Some(0), "{}", describe(&again));
    let summary: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    let original: serde_json::Value =
        serde_json::from_slice(&build(&fixture, &["--message-format", "json", "--rebuild"]).stdout).unwrap();
    assert_eq!(summary["fresh"], true);
    assert_eq!(original["fresh"], false, "--rebuild builds");
    for key in ["items", "edges", "modules", "files_parsed", "vertices_by_kind", "edges_by_kind"] {
        assert_eq!(summary[key], original[key], "`{key}` is reported again");
    }
    let stamp = {
        let now = modified(&fixture);
        assert_ne!(now, stamp, "--rebuild wrote the graph");
        now
    };
    let skipped = build(&fixture, &[]);
    assert!(stderr(&skipped).contains("Fresh"), "{}", describe(&skipped));
    assert_eq!(modified(&fixture), stamp, "a skipped build leaves the graph untouched");
    assert_eq!(fixture.export(), export);

    // A path the walk looked for in vain appears: `#[cfg(windows)] mod win_only;` has no file.
    let win_only = fixture.path().join("src/win_only.rs");
    std::fs::write(&win_only, "pub fn on_windows() {}\n").unwrap();
    let rebuilt = build(&fixture, &[]);
    assert!(stderr(&rebuilt).contains("Saved"), "{}", describe(&rebuilt));
    assert!(fixture.export().contains("single::win_only::on_windows"));
    std::fs::remove_file(&win_only).unwrap();
    assert!(stderr(&build(&fixture, &[])).contains("Saved"));
    assert!(stderr(&build(&fixture, &[])).contains("Fresh"));
    assert_eq!(fixture.export(), export, "back to the same sources, back to the same graph");

    // A changed file, and a changed option.
    let lib = fixture.path().join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, format!("{text}\npub fn added() {{}}\n")).unwrap();
    assert!(stderr(&build(&fixture, &[])).contains("Saved"));
    assert!(fixture.export().contains("single::added"));
    assert!(stderr(&build(&fixture, &["--cfg-test"])).contains("Saved"));
    assert!(stderr(&build(&fixture, &["--cfg-test"])).contains("Fresh"));
}

#[test]
fn a_skipped_build_reports_the_failures_of_the_build_it_skips() {
    let fixture = Fixture::new("broken");
    let first = build(&fixture, &[]);
    assert_eq!(first.status.code(), Some(3), "{}", describe(&first));
    let again = build(&fixture, &[]);
    assert_eq!(again.status.code(), Some(3), "{}", describe(&again));
    assert!(stderr(&again).contains("Fresh"), "{}", describe(&again));
    let diagnostics = |output: &std::process::Output| -> Vec<String> {
        stderr(output)
            .lines()
            .filter(|line| line.starts_with("error:") || line.starts_with("warning:"))
            .map(str::to_owned)
            .collect()
    };
    assert!(!diagnostics(&first).is_empty());
    assert_eq!(diagnostics(&again), diagnostics(&first));
}

/// `cargo metadata` and rustc are not asked again while nothing they read changed; whatever they
/// read changing (a new target file, a manifest, a new member folder) asks them again.
#[test]
fn what_cargo_metadata_reads_is_watched() {
    let fixture = Fixture::new("workspace");
    let timings = |output: &std::process::Output| -> String {
        stderr(output).lines().find(|line| line.starts_with("time:")).unwrap_or_default().to_owned()
    };
    let crates = |fixture: &Fixture| {
        let output = build(fixture, &["--workspace", "--message-format", "json"]);
        assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
        let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        (summary["crates"].as_u64().unwrap(), summary["fresh"].as_bool().unwrap())
    };
    let (before, _) = crates(&fixture);
    assert!(metadata_cache_entry(fixture.path()).is_file());
    assert_eq!(crates(&fixture), (before, true));
    let skipped = build(&fixture, &["--workspace", "-v"]);
    assert!(stderr(&skipped).contains("Fresh"), "{}", describe(&skipped));
    assert!(timings(&skipped).starts_with("time: metadata "), "{}", describe(&skipped));

    // A new binary is found by its file alone.
    let bin = fixture.path().join("crates/cli/src/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("extra.rs"), "fn main() {}\n").unwrap();
    assert_eq!(crates(&fixture), (before + 1, false));
    assert_eq!(crates(&fixture), (before + 1, true));

    // A new member under `members = ["crates/*"]`.
    let member = fixture.path().join("crates/late");
    std::fs::create_dir_all(member.join("src")).unwrap();
    std::fs::write(
        member.join("Cargo.toml"),
        "[package]\nname = \"fx-late\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::write(member.join("src/lib.rs"), "pub fn late() {}\n").unwrap();
    assert_eq!(crates(&fixture), (before + 2, false));

    // A manifest edit: the binary's target is switched off.
    let manifest = fixture.path().join("crates/cli/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replacen("[package]", "[package]\nautobins = false", 1)).unwrap();
    let (after, fresh) = crates(&fixture);
    assert!(!fresh && after < before + 2, "{after}");
}

/// The folder a root package sits in (here the system's temporary folder, elsewhere `~/projects`)
/// changes all the time and is no part of the workspace: a new file there must not cost the next
/// run its `cargo metadata` shortcut.
#[test]
fn the_folder_around_a_root_package_is_not_watched() {
    let fixture = Fixture::new("single");
    let output = fixture.run(&["--offline"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let cache = metadata_cache_entry(fixture.path());
    let written = std::fs::metadata(&cache).unwrap().modified().unwrap();
    let neighbour = tempfile::NamedTempFile::new_in(fixture.path().parent().unwrap()).unwrap();
    // Nor does a file beside the manifest that cargo does not look for.
    std::fs::write(fixture.path().join("NOTES.md"), "notes\n").unwrap();
    let output = fixture.run(&["--offline"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert_eq!(std::fs::metadata(&cache).unwrap().modified().unwrap(), written, "the metadata cache was asked again");
    drop(neighbour);

    // A build script appearing is seen.
    std::fs::write(fixture.path().join("build.rs"), "fn main() {}\n").unwrap();
    let output = fixture.run(&["--offline"]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert_ne!(std::fs::metadata(&cache).unwrap().modified().unwrap(), written, "a new build script went unseen");
}
