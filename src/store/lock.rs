//! One writer or many readers per graph: an advisory lock on `<db>.lock` beside the graph file.
//!
//! The graph file itself is replaced by rename on every save, so the lock lives on a file of its
//! own that is never replaced. Builds take it exclusively; `stats` and `export` share it. The
//! operating system releases it when the process ends, however it ends: a killed build never
//! leaves a stale lock behind.
//!
//! A graph on a server (`grpc://`) has no file of its own: a build takes the server's lease
//! instead (`remote::acquire`), which keeps out builds on other machines too, and readers take
//! nothing (the graph's version record tells them whether a build is writing it).

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
    #[cfg(feature = "server")]
    _lease: Option<super::remote::Lease>,
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
    if super::is_remote(db) {
        return remote_lock(db, mode, wait, on_wait);
    }
    let path = lock_path(db);
    let file = match OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path) {
        Ok(file) => file,
        // A reader of a graph in a folder it cannot write to takes no lock: no build can write
        // there either.
        Err(_) if mode == LockMode::Shared => return Ok(DbLock::of(None)),
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
    Ok(DbLock::of(Some(file)))
}

impl DbLock {
    fn of(file: Option<File>) -> DbLock {
        DbLock {
            _file: file,
            #[cfg(feature = "server")]
            _lease: None,
        }
    }
}

#[cfg(feature = "server")]
fn remote_lock(db: &Utf8Path, mode: LockMode, wait: bool, on_wait: impl FnOnce()) -> Result<DbLock, StoreError> {
    let lease = match mode {
        LockMode::Exclusive => Some(super::remote::acquire(db.as_str(), wait, on_wait)?),
        LockMode::Shared => None,
    };
    Ok(DbLock { _file: None, _lease: lease })
}

#[cfg(not(feature = "server"))]
fn remote_lock(db: &Utf8Path, _: LockMode, _: bool, _: impl FnOnce()) -> Result<DbLock, StoreError> {
    Err(StoreError::Unsupported { path: db.to_owned(), backend: super::Backend::Remote.as_str() })
}
