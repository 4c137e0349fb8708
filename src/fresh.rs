//! Whether a build can be skipped: what the last build read, kept beside its graph.
//!
//! After every successful build, `<db>.state.json` records a fingerprint of everything that
//! decides the graph besides the sources (the workspace as `cargo metadata` described it, the
//! target and its features, the options, the tool and schema versions), every source file the
//! module walk read with a hash of its content, every path it looked for and did not find (a
//! `mod x;` whose `x.rs` appears later changes the graph without changing any file read), the
//! graph's stamp (`store::stamp`: the file's or the live generation's, and a msgpack graph's
//! delta log), and the build's summary. A build whose fingerprint, files, absent paths and graph
//! are all as recorded would write the same graph: it is skipped, and the recorded summary is
//! reported again. Anything else builds (incrementally, when it can: see `incremental`).
//!
//! The state is local and never part of the graph: it holds absolute paths and times.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::index::Diagnostic;

/// Bump when the state's meaning changes: an old state is then simply not fresh.
const STATE_VERSION: u32 = 3;

/// A path the module walk looked at: read, with its content's hash, or looked for and absent.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Input {
    pub path: Utf8PathBuf,
    /// The xxh3-128 hash of the content, as 32 hex digits; `None` for a path that was absent.
    pub hash: Option<String>,
}

impl Input {
    pub fn read(path: Utf8PathBuf, content: &[u8]) -> Input {
        Input { path, hash: Some(hash(content)) }
    }

    pub fn absent(path: Utf8PathBuf) -> Input {
        Input { path, hash: None }
    }

    /// Whether the path is still as it was.
    pub fn unchanged(&self) -> bool {
        match (&self.hash, std::fs::read(&self.path)) {
            (Some(expected), Ok(content)) => hash(&content) == *expected,
            (None, Err(err)) => err.kind() == std::io::ErrorKind::NotFound,
            _ => false,
        }
    }
}

/// The xxh3-128 hash of `content`, as 32 hex digits.
pub fn hash(content: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(content))
}

/// What a build reports, kept to be reported again when the next build is skipped.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Recorded {
    pub packages: usize,
    pub crates: usize,
    pub modules: usize,
    pub items: usize,
    pub files: usize,
    pub edges: usize,
    pub files_parsed: usize,
    pub files_failed: usize,
    pub vertices_by_kind: BTreeMap<String, usize>,
    pub edges_by_kind: BTreeMap<String, usize>,
    pub resolve: crate::resolve::ResolveStats,
    pub validation: crate::validate::ValidationStats,
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, Serialize, Deserialize)]
struct State {
    version: u32,
    fingerprint: String,
    inputs: Vec<Input>,
    /// The graph's `store::stamp`.
    db_stamp: String,
    recorded: Recorded,
}

/// Where the state of the graph at `db` is kept.
pub fn state_path(db: &Utf8Path) -> Utf8PathBuf {
    Utf8PathBuf::from(format!("{db}.state.json"))
}

/// A fingerprint of what decides the graph besides the sources: `facts` is a description of
/// them (the workspace's `Debug` form, the options), hashed with the tool and schema versions.
pub fn fingerprint(facts: &str) -> String {
    let text = format!("{}\n{}\n{facts}", env!("CARGO_PKG_VERSION"), crate::model::SCHEMA_VERSION);
    hash(text.as_bytes())
}

/// The recorded summary, if the graph at `db` is what a build with `fingerprint` would write now.
/// Files are hashed in parallel on the current rayon pool.
pub fn up_to_date(db: &Utf8Path, fingerprint: &str) -> Option<Recorded> {
    let text = std::fs::read_to_string(state_path(db)).ok()?;
    let state: State = serde_json::from_str(&text).ok()?;
    if state.version != STATE_VERSION || state.fingerprint != fingerprint {
        return None;
    }
    if crate::store::stamp(db)? != state.db_stamp {
        return None;
    }
    state.inputs.par_iter().all(Input::unchanged).then_some(state.recorded)
}

/// Forgets the state of `db` (before a build replaces the graph).
pub fn forget(db: &Utf8Path) {
    // A state that cannot be removed is harmless: it no longer matches the graph file.
    let _ = std::fs::remove_file(state_path(db));
}

/// Records the state of the graph just saved at `db`. Written through a temp file and a rename,
/// so that a reader sees the old state or the new one. Failing to write it costs the next build
/// its shortcut only, so the error is returned for a warning, not a failure.
pub fn record(db: &Utf8Path, fingerprint: String, mut inputs: Vec<Input>, recorded: Recorded) -> std::io::Result<()> {
    inputs.sort();
    inputs.dedup();
    let db_stamp =
        crate::store::stamp(db).ok_or_else(|| std::io::Error::other(format!("cannot read the metadata of `{db}`")))?;
    let state = State { version: STATE_VERSION, fingerprint, inputs, db_stamp, recorded };
    let path = state_path(db);
    let dir = path.parent().filter(|dir| !dir.as_str().is_empty()).unwrap_or(Utf8Path::new("."));
    let mut temp = tempfile::Builder::new().prefix(".graph-state").tempfile_in(dir)?;
    serde_json::to_writer(&mut temp, &state)?;
    temp.persist(&path).map_err(|err| err.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_fresh_until_a_file_or_an_absent_path_changes() {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(dir.path()).unwrap();
        let db = root.join("graph.msgpack");
        std::fs::write(&db, b"graph").unwrap();
        let source = root.join("lib.rs");
        std::fs::write(&source, b"fn a() {}").unwrap();
        let absent = root.join("x.rs");
        let inputs = vec![Input::read(source.clone(), b"fn a() {}"), Input::absent(absent.clone())];
        let recorded = Recorded { items: 1, ..Recorded::default() };
        record(&db, fingerprint("workspace"), inputs, recorded).unwrap();

        assert_eq!(up_to_date(&db, &fingerprint("workspace")).map(|r| r.items), Some(1));
        assert!(up_to_date(&db, &fingerprint("another workspace")).is_none());

        std::fs::write(&absent, b"").unwrap();
        assert!(up_to_date(&db, &fingerprint("workspace")).is_none(), "an absent path appeared");
        std::fs::remove_file(&absent).unwrap();
        assert!(up_to_date(&db, &fingerprint("workspace")).is_some());

        std::fs::write(&source, b"fn b() {}").unwrap();
        assert!(up_to_date(&db, &fingerprint("workspace")).is_none(), "a file changed");
        std::fs::write(&source, b"fn a() {}").unwrap();
        assert!(up_to_date(&db, &fingerprint("workspace")).is_some(), "changed back: the same graph");

        std::fs::write(&db, b"another graph").unwrap();
        assert!(up_to_date(&db, &fingerprint("workspace")).is_none(), "the graph was replaced");
        forget(&db);
        assert!(!state_path(&db).exists());
    }
}
