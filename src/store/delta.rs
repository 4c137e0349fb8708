//! The delta log of a msgpack graph: incremental updates without rewriting the image.
//!
//! A msgpack graph is one image, which IndraDB decodes whole and our save encodes whole: about
//! 20% of a cold build each on a million-line corpus, far above what a small update should cost.
//! So an update records its `model::Diff`s beside the image instead, in `<db>.delta`:
//!
//! ```text
//! graph.msgpack         the image, as the last full save wrote it
//! graph.msgpack.delta   { base: the image's stamp, diffs: every update since, in order }
//! ```
//!
//! Readers decode the image, then apply the diffs of a delta whose `base` is the image's stamp
//! (`store::apply`, on the memory datastore they read anyway). A delta of another base is stale
//! (left by a run killed after a full save, before it could remove it) and ignored. Each update
//! rewrites the delta whole (old diffs and the new one) through a temp file, fsync and rename, so
//! a reader or a killed run sees the old delta or the new one. Once the delta outgrows
//! `COMPACT_RATIO` of the image, the next update decodes image and delta, applies the new diff
//! and saves a new image (the delta goes): the log never costs readers more than a fraction of
//! the decode they do anyway.

use std::io::Write;

use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::model::Diff;

/// An update rewrites the image once the delta is larger than this fraction of it.
const COMPACT_RATIO: u64 = 8;

pub fn path(db: &Utf8Path) -> Utf8PathBuf {
    Utf8PathBuf::from(format!("{db}.delta"))
}

#[derive(Serialize, Deserialize)]
struct Log {
    base: String,
    diffs: Vec<Diff>,
}

/// The diffs to apply to the image at `db`: none when there is no delta or it is stale.
pub fn read(db: &Utf8Path) -> Result<Vec<Diff>, StoreError> {
    let path = path(db);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(StoreError::Unreadable { path: db.to_owned(), reason: format!("`{path}`: {err}") }),
    };
    let log: Log = rmp_serde::from_slice(&bytes)
        .map_err(|err| StoreError::Unreadable { path: db.to_owned(), reason: format!("`{path}`: {err}") })?;
    Ok(match super::file_stamp(db) {
        Some(stamp) if stamp == log.base => log.diffs,
        _ => Vec::new(),
    })
}

/// Whether the next update of `db` should go to the delta (else it rewrites the image).
pub fn has_room(db: &Utf8Path) -> bool {
    let image = std::fs::metadata(db).map_or(0, |m| m.len());
    let delta = std::fs::metadata(path(db)).map_or(0, |m| m.len());
    image > 0 && delta < image / COMPACT_RATIO
}

/// Appends `new` to the delta of `db`: the whole log is written to a temp file, fsynced and
/// renamed over the old one, then the folder is fsynced.
pub fn append(db: &Utf8Path, mut new: Vec<Diff>) -> Result<(), StoreError> {
    let write_error = |source| StoreError::Write { path: db.to_owned(), source };
    let base = super::file_stamp(db).ok_or_else(|| StoreError::Missing { path: db.to_owned() })?;
    let mut diffs = read(db)?;
    diffs.append(&mut new);
    let log = Log { base, diffs };
    let path = path(db);
    let dir = path.parent().filter(|dir| !dir.as_str().is_empty()).unwrap_or(Utf8Path::new("."));
    let mut temp =
        crate::replacement_file().prefix(".codegraph-delta").suffix(".tmp").tempfile_in(dir).map_err(write_error)?;
    let bytes = rmp_serde::to_vec(&log).map_err(|err| write_error(std::io::Error::other(err)))?;
    temp.write_all(&bytes).map_err(write_error)?;
    temp.as_file().sync_all().map_err(write_error)?;
    temp.persist(&path).map_err(|err| write_error(err.error))?;
    #[cfg(unix)]
    std::fs::File::open(dir).and_then(|dir| dir.sync_all()).map_err(write_error)?;
    Ok(())
}

/// Removes the delta of `db` once a new image holds it (best effort: a delta left behind is stale
/// for the new image, and ignored).
pub fn remove(db: &Utf8Path) {
    let _ = std::fs::remove_file(path(db));
}
