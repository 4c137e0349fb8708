//! The stored graph under real processes, on every backend this build has: locks between
//! concurrent runs (and readers at once), and builds killed at random moments.

mod common;

use std::collections::hash_map::DefaultHasher;
use std::fs::{File, OpenOptions};
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, Fixture, describe, metadata_cache_entry, stderr, write_large_workspace};

/// The backends this build of cargo-codegraph has: `--store` value and the graph's name.
fn backends() -> Vec<(&'static str, &'static str)> {
    let mut backends = vec![("msgpack", "graph.msgpack")];
    if cfg!(feature = "rocksdb") {
        backends.push(("rocksdb", "graph.rocksdb"));
    }
    backends
}

/// Builds `fixture` into `db` with `store`; panics unless it exits 0.
fn build_into(fixture: &Fixture, db: &Path, store: &str, extra: &[&str]) {
    let mut args = vec!["build", "--offline", "--store", store, "--db", db.to_str().unwrap()];
    args.extend(extra);
    let output = fixture.run(&args);
    assert_eq!(output.status.code(), Some(0), "{store}: {}", describe(&output));
}

fn export_of(fixture: &Fixture, db: &Path) -> String {
    let output = fixture.run(&["export", "--db", db.to_str().unwrap()]);
    assert!(output.status.success(), "{}", describe(&output));
    String::from_utf8(output.stdout).unwrap()
}

fn lock_file(db: &Path) -> File {
    let mut name = db.file_name().unwrap().to_owned();
    name.push(".lock");
    OpenOptions::new().read(true).write(true).create(true).truncate(false).open(db.with_file_name(name)).unwrap()
}

#[test]
fn a_held_graph_makes_others_wait_or_fail_at_once() {
    for (store, name) in backends() {
        a_held_graph_makes_others_wait_or_fail_at_once_on(store, name);
    }
}

fn a_held_graph_makes_others_wait_or_fail_at_once_on(store: &str, name: &str) {
    let fixture = Fixture::new("single");
    let db = fixture.path().join(name);
    build_into(&fixture, &db, store, &[]);
    let db_arg = db.to_str().unwrap();
    let held = lock_file(&db);
    held.lock().unwrap();

    for args in [&["build", "--offline", "--db", db_arg, "--no-wait"][..], &["stats", "--db", db_arg, "--no-wait"][..]]
    {
        let output = fixture.run(args);
        assert_eq!(output.status.code(), Some(7), "{}", describe(&output));
        assert!(stderr(&output).contains("in use by another cargo-codegraph run"), "{}", describe(&output));
    }

    let waiting = Command::new(BIN)
        .args(["build", "--offline", "--db", db_arg])
        .current_dir(fixture.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    held.unlock().unwrap();
    let output = waiting.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let err = stderr(&output);
    assert!(err.contains("Blocking waiting for the lock"), "{err}");
    assert!(err.find("Blocking").unwrap() < err.find("Finished").unwrap(), "{err}");
}

#[test]
fn concurrent_builds_and_readers_leave_one_good_graph() {
    for (store, name) in backends() {
        concurrent_builds_and_readers_leave_one_good_graph_on(store, name);
    }
}

fn concurrent_builds_and_readers_leave_one_good_graph_on(store: &str, name: &str) {
    let fixture = Fixture::new("workspace");
    let db = fixture.path().join(name);
    build_into(&fixture, &db, store, &["--workspace"]);
    let expected = export_of(&fixture, &db);
    let db_arg = db.to_str().unwrap();
    let spawn = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .current_dir(fixture.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let runs: Vec<_> = (0..6)
        .map(|i| match i % 3 {
            2 => spawn(&["export", "--db", db_arg]),
            _ => spawn(&["build", "--workspace", "--offline", "--rebuild", "--db", db_arg]),
        })
        .collect();
    for (i, run) in runs.into_iter().enumerate() {
        let output = run.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(0), "run {i}: {}", describe(&output));
        if i % 3 == 2 {
            assert!(output.stdout == expected.as_bytes(), "an export during builds saw another graph");
        }
    }
    assert_eq!(export_of(&fixture, &db), expected);

    // Readers alone, many at once: all succeed, all see the graph. (RocksDB lets one process
    // open a database at a time; readers take turns.)
    let readers: Vec<_> = (0..4)
        .map(|i| if i % 2 == 0 { spawn(&["export", "--db", db_arg]) } else { spawn(&["stats", "--db", db_arg]) })
        .collect();
    for (i, reader) in readers.into_iter().enumerate() {
        let output = reader.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{store} reader {i}: {}", describe(&output));
        if i % 2 == 0 {
            assert!(output.stdout == expected.as_bytes(), "{store}: concurrent readers saw another graph");
        }
    }
}

fn digest(text: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

fn export_digest(dir: &Path, db: &Path) -> Result<u64, String> {
    let output = Command::new(BIN).args(["export", "--db", db.to_str().unwrap()]).current_dir(dir).output().unwrap();
    if output.status.success() { Ok(digest(&output.stdout)) } else { Err(describe(&output)) }
}

#[test]
fn a_build_killed_at_any_moment_leaves_the_old_graph_or_the_new_one() {
    for (store, name) in backends() {
        a_build_killed_at_any_moment_leaves_the_old_graph_or_the_new_one_on(store, name);
    }
}

fn a_build_killed_at_any_moment_leaves_the_old_graph_or_the_new_one_on(store: &str, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let db = dir.path().join(name);
    let build = || {
        Command::new(BIN)
            // `--rebuild`: a build of unchanged sources would be skipped, and never killed mid-way.
            .args(["build", "--offline", "-q", "--rebuild", "--store", store, "--db", db.to_str().unwrap()])
            .current_dir(&ws)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };

    // Two versions of the sources, and the graph of each.
    const FILES: usize = 30;
    let mut graphs = [0; 2];
    let mut duration = Duration::ZERO;
    for (version, graph) in graphs.iter_mut().enumerate() {
        write_large_workspace(&ws, FILES, version == 1);
        let started = Instant::now();
        assert!(build().wait().unwrap().success());
        duration = duration.max(started.elapsed());
        *graph = export_digest(&ws, &db).unwrap();
    }
    assert_ne!(graphs[0], graphs[1]);

    // Each round switches the sources and kills a build of them at a moment spread over the
    // whole run (a fixed pseudo-random sequence): the graph left must be the one before or the
    // one after, readable either way.
    let mut current = 1;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut kept = [0usize; 2];
    for round in 0..12 {
        let target = 1 - current;
        write_large_workspace(&ws, FILES, target == 1);
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let at = duration.mul_f64((state % 1000) as f64 / 1000.0 * 1.2);
        let mut child = build();
        std::thread::sleep(at);
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let left =
            export_digest(&ws, &db).unwrap_or_else(|err| panic!("{store} round {round}, killed at {at:?}: {err}"));
        assert!(left == graphs[current] || left == graphs[target], "{store} round {round}: a graph that is neither");
        if left == graphs[target] {
            current = target;
            kept[1] += 1;
        } else {
            kept[0] += 1;
        }
    }
    eprintln!(
        "{store}: a build took up to {duration:?}; kills kept the old graph {} times, found the new one {} times",
        kept[0], kept[1]
    );
    assert!(kept[0] > 0, "{store}: no kill interrupted a build: the test shows nothing");

    // Temp files and unfinished generations of killed runs are removed by the next build.
    assert!(build().wait().unwrap().success());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    if db.is_dir() {
        let names: Vec<String> =
            std::fs::read_dir(&db).unwrap().flatten().map(|e| e.file_name().into_string().unwrap()).collect();
        assert_eq!(names.iter().filter(|n| n.starts_with("gen-")).count(), 1, "{names:?}");
        assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    }
}

/// What a build, an update and `export -o` leave (the graph, its delta log, the cache's state and
/// pack, the metadata cache, the export) are ordinary files: as readable as the umask lets a new
/// file be (one written with `std::fs::write` beside them), not tempfile's private `0600`, which
/// the rename would hand on to a graph a team or a CI artifact shares.
#[cfg(unix)]
#[test]
fn written_files_have_the_permissions_of_ordinary_files() {
    use std::os::unix::fs::PermissionsExt;
    let fixture = Fixture::new("calls");
    let root = fixture.path();
    let db = root.join("graph.msgpack");
    let build = || {
        let output = common::run_in(root, &["--offline", "--db", db.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    };
    build();
    let text = root.join("crates/util/src/text.rs");
    let source = std::fs::read_to_string(&text).unwrap();
    std::fs::write(&text, format!("{source}\npub fn added() {{}}\n")).unwrap();
    build();
    let exported = root.join("graph.dot");
    let export = common::run_in(
        root,
        &["export", "--db", db.to_str().unwrap(), "--format", "dot", "-o", exported.to_str().unwrap()],
    );
    assert_eq!(export.status.code(), Some(0), "{}", describe(&export));
    let ordinary = root.join("ordinary");
    std::fs::write(&ordinary, "").unwrap();
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let cache = root.join("graph.msgpack.cache");
    for path in [
        db.clone(),
        root.join("graph.msgpack.delta"),
        cache.join("state.msgpack"),
        cache.join("pack-1"),
        metadata_cache_entry(root),
        exported,
    ] {
        assert_eq!(mode(&path), mode(&ordinary), "{}", path.display());
    }
}
