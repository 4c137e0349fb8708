//! The last `check`'s result, kept beside the graph (`<anchor>.check.json`), so that a check with
//! nothing changed (a pre-commit hook run again, CI run twice on one commit) reads its violations
//! back instead of reading and walking the whole graph: on a 2-million-line graph that is the
//! difference between milliseconds and seconds.
//!
//! A record is used only when it was made by this version of the tool and schema, from the graph whose
//! `store::stamp` is the current one (every build that changes the graph changes its stamp) and
//! from the same rules (their `Debug` form, which holds every pattern, reason and the manifest each
//! was written in). Anything else, a damaged file included, is a miss: the check runs and writes a
//! new record. What a check filters afterwards (`--changed`, `--staged`, the baseline) is applied
//! to the recorded violations, so one record serves them all. Writing is best effort: a record
//! that cannot be written costs the next check its shortcut, nothing else.

use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

use super::{Rules, Violation};

/// Bump when `Violation`'s serde form or the meaning of a record changes.
const FORMAT: u32 = 1;

/// Where the record of the graph whose local files are at `anchor` (`store::local_anchor`) goes.
pub fn path(anchor: &Utf8Path) -> Utf8PathBuf {
    Utf8PathBuf::from(format!("{anchor}.check.json"))
}

/// What a record must match to be used.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Key {
    format: u32,
    stamp: String,
    /// A fingerprint of the rules (it holds the tool's and the schema's versions too).
    rules: String,
}

impl Key {
    /// The key of checking `rules` against the graph whose stamp is `stamp`.
    pub fn new(stamp: String, rules: &Rules) -> Key {
        Key { format: FORMAT, stamp, rules: crate::incremental::fingerprint(&format!("{rules:?}")) }
    }
}

#[derive(Deserialize)]
struct Record {
    key: Key,
    violations: Vec<Violation>,
}

#[derive(Serialize)]
struct RecordRef<'a> {
    key: &'a Key,
    violations: &'a [Violation],
}

/// The recorded violations, if the record at `path` was made under `key`.
pub fn load(path: &Utf8Path, key: &Key) -> Option<Vec<Violation>> {
    let bytes = std::fs::read(path).ok()?;
    let record: Record = serde_json::from_slice(&bytes).ok()?;
    (record.key == *key).then_some(record.violations)
}

/// Records `violations` under `key`, replacing the file atomically (two checks that race write
/// the same record).
pub fn save(path: &Utf8Path, key: &Key, violations: &[Violation]) -> std::io::Result<()> {
    let dir = path.parent().filter(|dir| !dir.as_str().is_empty()).unwrap_or(Utf8Path::new("."));
    let temp = crate::replacement_file().prefix(".check").tempfile_in(dir)?;
    let mut out = std::io::BufWriter::new(temp);
    serde_json::to_writer(&mut out, &RecordRef { key, violations }).map_err(std::io::Error::other)?;
    out.into_inner().map_err(|err| err.into_error())?.persist(path).map_err(|err| err.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Evidence;

    fn violation() -> Violation {
        Violation {
            rule: "allow-only",
            origin: "Cargo.toml".into(),
            from: "app::ui".into(),
            to: "app::db".into(),
            members: vec![],
            reason: Some("only the repository layer".into()),
            evidence: vec![Evidence {
                file: "src/ui.rs".into(),
                line: 3,
                kind: "reference",
                from: "app::ui::show".into(),
                to: "app::db::Pool".into(),
            }],
            breaks: vec![],
        }
    }

    #[test]
    fn a_record_is_read_back_only_under_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = path(Utf8Path::from_path(dir.path()).unwrap().join("graph.msgpack").as_path());
        let rules = Rules::default();
        let key = || Key::new("10:20".into(), &rules);
        assert!(load(&path, &key()).is_none(), "no record yet");
        save(&path, &key(), &[violation()]).unwrap();
        assert_eq!(load(&path, &key()), Some(vec![violation()]));
        assert!(load(&path, &Key::new("10:21".into(), &rules)).is_none(), "another graph");
        let other = Rules { deny_cycles: [crate::check::CycleScope::Modules].into(), ..Rules::default() };
        assert!(load(&path, &Key::new("10:20".into(), &other)).is_none(), "other rules");
        std::fs::write(&path, b"{\"key\":").unwrap();
        assert!(load(&path, &key()).is_none(), "a damaged record is a miss");
    }
}
