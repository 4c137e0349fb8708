//! The RocksDB backend (cargo feature `rocksdb`): a graph is a folder of generations.
//!
//! ```text
//! graph.rocksdb/
//!   codegraph.current   "gen-7": the live generation, replaced atomically
//!   gen-7/              a RocksDB database written by IndraDB's `RocksdbDatastore`
//!   open.lock           serialises the processes that open a generation
//! ```
//!
//! Every build writes a fresh generation, makes it durable, then replaces `codegraph.current`
//! (temp file, fsync, rename, fsync of the folder). A full build writes its table files itself
//! and has RocksDB ingest them (`create_tables`, `commit_tables`, see `rocks_tables`); an
//! incremental one starts it as a copy of the live generation, table
//! files hard-linked and the small rest copied (`Staging::update`), writes the diff into it, and
//! only flushes what it wrote, by a reopen (RocksDB's recovery writes the log into tables). A process killed at any moment leaves the old
//! pointer (the old graph) or the new one; unfinished generations are deleted by the next build,
//! which holds the graph's exclusive lock. Our pointer is not named `CURRENT`: that is the name of
//! RocksDB's own pointer file, and a RocksDB database someone points `--db` at must not look like
//! one of our graphs.
//!
//! RocksDB lets one process open a database at a time (its `LOCK` file), and IndraDB 5.0.0 offers
//! no read-only or secondary open. So readers, which share `<db>.lock`, also take `open.lock`
//! exclusively while they have the generation open: two readers at once both succeed, one after
//! the other. Builds never open a live generation; an incremental build takes `open.lock` only
//! while it copies the live generation's files, which a reader's open rewrites.
//!
//! This module knows RocksDB's folder layout and IndraDB's `RocksdbDatastore`; it knows nothing of
//! what the graph means.

use std::fs::{File, OpenOptions};
use std::io::Write;

use camino::{Utf8Path, Utf8PathBuf};
use indradb::{Database, Datastore, RocksdbDatastore};

use super::rocks_tables::Tables;
use super::{INDEXED_PROPERTIES, StoreError, identifier};

/// The file that names the live generation.
pub const POINTER: &str = "codegraph.current";
/// Serialises the processes that open a generation (see the module docs).
const OPEN_LOCK: &str = "open.lock";
const GENERATION_PREFIX: &str = "gen-";

/// What a folder at a graph's path holds.
#[derive(Debug, PartialEq, Eq)]
pub enum FolderKind {
    /// One of our graphs (it has `codegraph.current`).
    Graph,
    /// No graph yet: nothing, or only what a first build that was killed leaves (generations, the
    /// pointer's temp file, `open.lock`). A build may use it.
    Empty,
    /// Something else, which a build must not touch.
    Foreign,
}

pub fn folder_kind(path: &Utf8Path) -> Result<FolderKind, StoreError> {
    let unreadable = |err: std::io::Error| StoreError::Unreadable { path: path.to_owned(), reason: err.to_string() };
    if path.join(POINTER).exists() {
        return Ok(FolderKind::Graph);
    }
    for entry in std::fs::read_dir(path).map_err(unreadable)? {
        let name = entry.map_err(unreadable)?.file_name();
        let name = name.to_string_lossy();
        if !(generation_number(&name).is_some() || name == OPEN_LOCK || is_pointer_temp(&name)) {
            return Ok(FolderKind::Foreign);
        }
    }
    Ok(FolderKind::Empty)
}

/// The temp file a commit writes the new pointer into.
const POINTER_TEMP_PREFIX: &str = ".codegraph.current.";

fn is_pointer_temp(name: &str) -> bool {
    name.starts_with(POINTER_TEMP_PREFIX) && name.ends_with(".tmp")
}

/// The live generation's folder, as `codegraph.current` names it.
fn live_generation(root: &Utf8Path) -> Result<Utf8PathBuf, StoreError> {
    let unreadable = |reason: String| StoreError::Unreadable { path: root.to_owned(), reason };
    let text = std::fs::read_to_string(root.join(POINTER))
        .map_err(|err| unreadable(format!("cannot read `{POINTER}`: {err}")))?;
    let name = text.trim_end_matches('\n');
    if generation_number(name).is_none() {
        return Err(unreadable(format!("`{POINTER}` does not name a generation")));
    }
    let dir = root.join(name);
    if !dir.is_dir() {
        return Err(unreadable(format!("its live generation `{name}` is missing")));
    }
    Ok(dir)
}

/// `Some(7)` for `gen-7`.
fn generation_number(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(GENERATION_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The generation at `dir` opened through IndraDB, with `options`.
fn open_db(dir: &Utf8Path, create: bool) -> indradb::Result<Database<RocksdbDatastore>> {
    RocksdbDatastore::new_db_with_options(dir.as_std_path(), &options(create))
}

/// RocksDB options for our generations, for IndraDB's opens and for the table files a full build
/// writes. IndraDB's defaults, except that a missing database is an error when reading (IndraDB's
/// `new_db` creates one: a reader must never turn a damaged or foreign folder into an empty graph)
/// and that RocksDB keeps one info log, not a thousand, since every reader's open starts a new one.
fn options(create: bool) -> rocksdb::Options {
    let mut opts = RocksdbDatastore::get_options(None);
    opts.create_if_missing(create);
    opts.set_keep_log_file_num(1);
    opts
}

/// A live generation opened for reading. Fields drop in order: the database closes before the
/// open lock is released.
pub struct Reader {
    pub db: Database<RocksdbDatastore>,
    _open_lock: File,
}

/// Opens the live generation of the graph at `root`. The caller holds the graph's shared lock.
pub fn open(root: &Utf8Path) -> Result<Reader, StoreError> {
    let dir = live_generation(root)?;
    let open_lock = lock_open(root)?;
    let db = open_db(&dir, false)
        .map_err(|err| StoreError::Unreadable { path: root.to_owned(), reason: format!("RocksDB: {err}") })?;
    Ok(Reader { db, _open_lock: open_lock })
}

/// Takes `open.lock`, exclusively, until the file is dropped. Always waits: readers hold it only
/// while they open and read, and a build only while it copies the live generation.
fn lock_open(root: &Utf8Path) -> Result<File, StoreError> {
    let lock_path = root.join(OPEN_LOCK);
    let open_lock =
        OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&lock_path).map_err(|err| {
            StoreError::Unreadable { path: root.to_owned(), reason: format!("cannot open `{lock_path}`: {err}") }
        })?;
    open_lock.lock().map_err(|err| StoreError::Unreadable {
        path: root.to_owned(),
        reason: format!("cannot lock `{lock_path}`: {err}"),
    })?;
    Ok(open_lock)
}

/// A generation being written. Dropped without `commit`, its folder is removed (best effort; the
/// next build removes it otherwise) and the live graph is untouched.
pub struct Staging {
    root: Utf8PathBuf,
    dir: Utf8PathBuf,
    name: String,
    /// The generation is a copy of the live one, changed by an incremental build (`update`).
    update: bool,
    committed: bool,
}

impl Staging {
    /// Prepares a new generation in `root`, creating `root` if needed. The caller holds the graph's
    /// exclusive lock, so every generation but the live one is a leftover of a killed or failed
    /// build: they are removed here.
    pub fn new(root: &Utf8Path) -> Result<Staging, StoreError> {
        let write_error = |source| StoreError::Write { path: root.to_owned(), source };
        std::fs::create_dir_all(root).map_err(write_error)?;
        if folder_kind(root)? == FolderKind::Foreign {
            return Err(StoreError::Foreign { path: root.to_owned() });
        }
        let live = live_generation(root).ok().and_then(|dir| dir.file_name().map(str::to_owned));
        let mut next = 0;
        for entry in std::fs::read_dir(root).map_err(write_error)?.flatten() {
            let Ok(name) = entry.file_name().into_string() else { continue };
            if is_pointer_temp(&name) {
                // Best effort, as for generations.
                let _ = std::fs::remove_file(root.join(&name));
                continue;
            }
            let Some(number) = generation_number(&name) else { continue };
            next = next.max(number + 1);
            if live.as_deref() != Some(name.as_str()) {
                remove_generation(&root.join(&name));
            }
        }
        let name = format!("{GENERATION_PREFIX}{next}");
        Ok(Staging { root: root.to_owned(), dir: root.join(&name), name, update: false, committed: false })
    }

    /// Prepares a new generation that starts as a copy of the live one, and opens it. The caller
    /// holds the graph's exclusive lock. Errors are the ones a reader of `root` gets.
    ///
    /// RocksDB never changes a table file (`*.sst`) once written, so the copy hard-links them,
    /// which is cheap whatever the graph's size, and copies the rest (manifest, `CURRENT`,
    /// options, write-ahead logs, identity): small files, which RocksDB rewrites or appends to.
    /// `LOCK` is made afresh by RocksDB, and the info logs (`LOG*`) are left behind. The copy is
    /// made holding `open.lock`, since a reader's open writes into the live generation (a new
    /// manifest and log, and old ones deleted); readers are kept out by the graph's lock already,
    /// so this only guards against a process that ignores it. The live generation itself is
    /// never opened: RocksDB writes into any database it opens.
    pub fn update(root: &Utf8Path) -> Result<(Staging, Database<RocksdbDatastore>), StoreError> {
        match folder_kind(root)? {
            FolderKind::Graph => {}
            FolderKind::Empty => return Err(StoreError::Missing { path: root.to_owned() }),
            FolderKind::Foreign => return Err(StoreError::Foreign { path: root.to_owned() }),
        }
        // Found before `new`, which would take a folder whose pointer names nothing for leftovers.
        let live = live_generation(root)?;
        let mut staging = Staging::new(root)?;
        staging.update = true;
        {
            let _open_lock = lock_open(root)?;
            copy_generation(&live, &staging.dir)
                .map_err(|source| StoreError::Write { path: staging.dir.clone(), source })?;
        }
        let db = open_db(&staging.dir, false)
            .map_err(|err| StoreError::Unreadable { path: root.to_owned(), reason: format!("RocksDB: {err}") })?;
        super::check_version(&db.datastore.transaction(), root).map_err(|err| super::damaged(root, err))?;
        Ok((staging, db))
    }

    /// Creates the generation's database, with the looked-up properties indexed before anything
    /// is written (RocksDB then indexes each value as it is inserted, in the same write batch,
    /// rather than in a second pass over every vertex).
    pub fn create(&self) -> Result<Database<RocksdbDatastore>, StoreError> {
        let db = open_db(&self.dir, true)?;
        for name in INDEXED_PROPERTIES {
            db.index_property(identifier(name)?)?;
        }
        Ok(db)
    }

    /// Creates the generation's database as `create` does, closes it, and returns the tables a
    /// full build fills instead (see `rocks_tables`), for `commit_tables`.
    pub fn create_tables(&self) -> Result<Tables, StoreError> {
        drop(self.create()?);
        let indexed = INDEXED_PROPERTIES.iter().map(|name| identifier(name)).collect::<Result<_, _>>()?;
        Ok(Tables::new(indexed))
    }

    /// Writes a full build's tables into the generation (`create_tables` made it), makes it
    /// durable and live, then removes the previous one. The tables are written on the current
    /// rayon pool.
    pub fn commit_tables(self, tables: Tables) -> Result<(), StoreError> {
        tables.write(&self.dir, &options(false))?;
        self.swap()
    }

    /// Makes the generation durable and live, then removes the previous one. Builds come here
    /// with an update (`update`); a generation `create` made and IndraDB filled is what
    /// `rocks_tables`' test compares the tables with.
    pub fn commit(self, db: Database<RocksdbDatastore>) -> Result<(), StoreError> {
        if self.update {
            // An update wrote little, into a copy of a compacted generation: compacting it all
            // again (IndraDB's `sync`) would cost as much as the full build it replaces. So the
            // database is closed and opened once more: RocksDB's recovery replays the write-ahead
            // log and, as `avoid_flush_during_recovery` is off (RocksDB's default, and IndraDB's
            // options keep it), writes what it replayed into level-0 tables of every column
            // family, and starts an empty log. `store::tests` checks that the logs are empty
            // after a commit. The level-0 tables of successive updates pile up until RocksDB compacts
            // them, in the background while an update has the database open (8 tables in a
            // column family start a compaction; at 24, writes wait for it).
            drop(db);
            drop(open_db(&self.dir, false)?);
            return self.swap();
        }
        // IndraDB writes with RocksDB's default write options: the write-ahead log is not fsynced,
        // and without a flush the graph would live in that log only, replayed (and flushed into
        // the generation) by every reader's open. `sync` is IndraDB's only way to flush: it
        // compacts the column families (a compaction flushes the memtable first), a cost paid
        // once here, on a database that nobody else has open and that is never changed after,
        // and it leaves readers the fewest files to open. It is not enough for durability on its
        // own: IndraDB 5.0.0 compacts `edge_ranges` twice and `reversed_edge_ranges` never, and
        // its final `flush` is RocksDB's `Flush` of the default column family, which IndraDB does
        // not use; so the reversed edges are still only in the log here.
        db.sync()?;
        // Closed before the pointer names it: a reader must be able to open it at once.
        drop(db);
        // Opened and closed once more, so that RocksDB's recovery flushes what is left in the log
        // into a table here, rather than in the first reader's open.
        drop(open_db(&self.dir, false)?);
        self.swap()
    }

    /// Fsyncs the generation and makes it the live one, then removes the previous one.
    fn swap(mut self) -> Result<(), StoreError> {
        let write_error = |source| StoreError::Write { path: self.root.clone(), source };
        // Every file of the generation (tables, manifest, the log) and the folder itself are
        // fsynced before the swap, whatever RocksDB left to the page cache.
        sync_tree(&self.dir).map_err(write_error)?;
        let mut temp = crate::replacement_file()
            .prefix(POINTER_TEMP_PREFIX)
            .suffix(".tmp")
            .tempfile_in(&self.root)
            .map_err(write_error)?;
        writeln!(temp, "{}", self.name).map_err(write_error)?;
        temp.as_file().sync_all().map_err(write_error)?;
        let previous = live_generation(&self.root).ok();
        temp.persist(self.root.join(POINTER)).map_err(|err| write_error(err.error))?;
        File::open(&self.root).and_then(|dir| dir.sync_all()).map_err(write_error)?;
        if let Some(previous) = previous.filter(|previous| *previous != self.dir) {
            remove_generation(&previous);
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            remove_generation(&self.dir);
        }
    }
}

/// Best effort: a generation that cannot be removed now is removed by the next build.
fn remove_generation(dir: &Utf8Path) {
    let _ = std::fs::remove_dir_all(dir);
}

/// Copies the RocksDB database in `from` into `to`, a new folder: tables hard-linked (copied where
/// the file system cannot link them), other files copied, `LOCK` and the info logs left out.
fn copy_generation(from: &Utf8Path, to: &Utf8Path) -> std::io::Result<()> {
    std::fs::create_dir(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name == "LOCK" || name.starts_with("LOG") {
            continue;
        }
        let (source, target) = (from.join(name), to.join(name));
        // Tables and blob files are immutable in RocksDB.
        if (name.ends_with(".sst") || name.ends_with(".blob")) && std::fs::hard_link(&source, &target).is_ok() {
            continue;
        }
        std::fs::copy(&source, &target)?;
    }
    Ok(())
}

/// Fsyncs every file in `dir`, then `dir`.
fn sync_tree(dir: &Utf8Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            File::open(entry.path())?.sync_all()?;
        }
    }
    File::open(dir)?.sync_all()
}
