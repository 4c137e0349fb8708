//! One writer or many readers per graph: an advisory lock on `<db>.lock` beside the graph file.
//!
//! The graph file itself is replaced by rename on every save, so the lock lives on a file of its
//! own that is never replaced. Builds take it exclusively; `stats` and `export` share it. The
//! operating system releases it when the process ends, however it ends: a killed build never
//! leaves a stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};

use camino::{Utf8Path, Utf8PathBuf};

use super::StoreError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    /// For builds: no one else reads or writes.
    Exclusive,
    /// For readers: others may read too.
    Shared,
}

/// Held until dropped.
#[derive(Debug)]
pub struct DbLock {
    _file: Option<File>,
}

/// The lock file of the graph at `db`.
pub fn lock_path(db: &Utf8Path) -> Utf8PathBuf {
    let mut name = db.file_name().unwrap_or("graph").to_owned();
    name.push_str(".lock");
    db.with_file_name(name)
}

/// Takes the lock of the graph at `db`. When another process holds it: fails at once with
/// `StoreError::Locked` if `wait` is false, else calls `on_wait` once and blocks until it is free.
pub fn lock(db: &Utf8Path, mode: LockMode, wait: bool, on_wait: impl FnOnce()) -> Result<DbLock, StoreError> {
    let path = lock_path(db);
    let file = match OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path) {
        Ok(file) => file,
        // A reader of a graph in a folder it cannot write to takes no lock: no build can write
        // there either.
        Err(_) if mode == LockMode::Shared => return Ok(DbLock { _file: None }),
        Err(source) => return Err(StoreError::Write { path, source }),
    };
    let attempt = match mode {
        LockMode::Exclusive => file.try_lock(),
        LockMode::Shared => file.try_lock_shared(),
    };
    match attempt {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) if !wait => return Err(StoreError::Locked { path: db.to_owned() }),
        Err(TryLockError::WouldBlock) => {
            on_wait();
            let locked = match mode {
                LockMode::Exclusive => file.lock(),
                LockMode::Shared => file.lock_shared(),
            };
            locked.map_err(|source| StoreError::Write { path: path.clone(), source })?;
        }
        Err(TryLockError::Error(source)) => return Err(StoreError::Write { path, source }),
    }
    Ok(DbLock { _file: Some(file) })
}
