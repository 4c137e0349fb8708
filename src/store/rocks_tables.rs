//! A new RocksDB generation written as sorted table files, not through RocksDB's write path.
//!
//! IndraDB's `bulk_insert` puts every key into a write batch, and RocksDB inserts each into its
//! memtable (a skip list, which random UUID keys make slow), writes it to the write-ahead log,
//! flushes memtables into level-0 tables and compacts those, while the build waits. A full build
//! knows everything it writes before it commits, so it keeps the keys and values of each column
//! family as IndraDB lays them out (`rdb::managers` in indradb-lib 5.0.0), sorts them once, writes
//! one table file per column family with RocksDB's `SstFileWriter`, and hands the files to the
//! database (`ingest_external_file`), which links them into its last level as they are: no
//! memtable, no log, no compaction.
//!
//! IndraDB's layout, one column family each (`[len]` is a byte, the length of what follows):
//!
//! ```text
//! vertices:v2                  id                                    -> [len] kind
//! edge_ranges:v2               out [len] kind in                     -> (empty)
//! reversed_edge_ranges:v2      in [len] kind out                     -> (empty)
//! vertex_properties:v2         id name                               -> value as JSON
//! edge_properties:v2           out [len] kind in name                -> value as JSON
//! vertex_property_values:v2    [len] name hash(value) id             -> (empty), indexed names only
//! edge_property_values:v2      [len] name hash(value) out [len] kind in -> (empty), indexed only
//! metadata:v2                  "indexed_properties"                  -> (IndraDB writes it)
//! ```
//!
//! Of a key put twice the last value stays, as in a write batch. An indexed property set twice
//! with different values keeps both index entries, as IndraDB's own `bulk_insert` does within one
//! batch (it deletes the old entry only when the old value was written by an earlier batch); the
//! writer never sets a vertex's property twice (each vertex is written once), and edges carry no
//! indexed property.
//!
//! `hash(value)` is IndraDB's own (`util::Component::Json`), taken from indradb-lib itself. A test
//! (`store::tests::rocksdb`) writes the same items both ways and compares every column family
//! byte for byte, so a change of layout in IndraDB cannot go unseen.

use camino::Utf8Path;
use indradb::{Edge, Identifier, Json};
use rayon::prelude::*;
use rocksdb::{DB, IngestExternalFileOptions, Options, SstFileWriter};
use uuid::Uuid;

use super::StoreError;

/// The column families a full build fills, in `Tables::families`' order.
const FAMILIES: [&str; 7] = [
    "vertices:v2",
    "edge_ranges:v2",
    "reversed_edge_ranges:v2",
    "vertex_properties:v2",
    "edge_properties:v2",
    "vertex_property_values:v2",
    "edge_property_values:v2",
];

/// Every column family IndraDB opens (`metadata:v2` is written by IndraDB itself, when the
/// generation is created and its properties indexed).
pub(super) const ALL_FAMILIES: [&str; 8] =
    [FAMILIES[0], FAMILIES[1], FAMILIES[2], FAMILIES[3], FAMILIES[4], FAMILIES[5], FAMILIES[6], "metadata:v2"];

const VERTICES: usize = 0;
const EDGE_RANGES: usize = 1;
const REVERSED_EDGE_RANGES: usize = 2;
const VERTEX_PROPERTIES: usize = 3;
const EDGE_PROPERTIES: usize = 4;
const VERTEX_PROPERTY_VALUES: usize = 5;
const EDGE_PROPERTY_VALUES: usize = 6;

/// One column family's entries as they came: keys and values in one buffer.
#[derive(Default)]
struct Family {
    bytes: Vec<u8>,
    entries: Vec<Entry>,
}

/// Where an entry's key and value are in `Family::bytes` (the value follows the key), with the
/// key's first 8 bytes, big-endian and zero-padded, which decide nearly every comparison of the
/// sort without reading the buffer. `start` grows with each entry: it orders equal keys as they
/// came.
#[derive(Clone, Copy)]
struct Entry {
    prefix: u64,
    start: u64,
    key_len: u32,
    value_len: u32,
}

impl Family {
    /// Adds an entry whose key `key` writes and whose value is `value`'s bytes.
    fn push(&mut self, key: impl FnOnce(&mut Vec<u8>), value: impl FnOnce(&mut Vec<u8>)) {
        let start = self.bytes.len();
        key(&mut self.bytes);
        let key_end = self.bytes.len();
        value(&mut self.bytes);
        let key_bytes = &self.bytes[start..key_end];
        let mut prefix = [0; 8];
        let head = key_bytes.len().min(8);
        prefix[..head].copy_from_slice(&key_bytes[..head]);
        self.entries.push(Entry {
            prefix: u64::from_be_bytes(prefix),
            start: start as u64,
            key_len: (key_end - start) as u32,
            value_len: (self.bytes.len() - key_end) as u32,
        });
    }

    fn key(&self, entry: &Entry) -> &[u8] {
        let start = entry.start as usize;
        &self.bytes[start..start + entry.key_len as usize]
    }

    fn value(&self, entry: &Entry) -> &[u8] {
        let start = entry.start as usize + entry.key_len as usize;
        &self.bytes[start..start + entry.value_len as usize]
    }

    /// Sorts the entries by key, RocksDB's bytewise order, and keeps the last of equal keys (a
    /// later put of a key replaces an earlier one, as in IndraDB's write batches).
    fn sort(&mut self) {
        let Family { bytes, entries } = self;
        let key = |entry: &Entry| {
            let start = entry.start as usize;
            &bytes[start..start + entry.key_len as usize]
        };
        entries.par_sort_unstable_by(|a, b| {
            a.prefix.cmp(&b.prefix).then_with(|| key(a).cmp(key(b))).then(a.start.cmp(&b.start))
        });
        // Of each run of equal keys, the last (the latest) stays.
        let mut kept = 0;
        for i in 0..entries.len() {
            if i + 1 < entries.len() && key(&entries[i]) == key(&entries[i + 1]) {
                continue;
            }
            entries[kept] = entries[i];
            kept += 1;
        }
        entries.truncate(kept);
    }
}

fn put_identifier(out: &mut Vec<u8>, identifier: &Identifier) {
    // IndraDB's identifiers are at most 255 bytes long.
    out.push(identifier.as_str().len() as u8);
    out.extend_from_slice(identifier.as_str().as_bytes());
}

/// `out [len] kind in`, or reversed `in [len] kind out`.
fn put_edge(out: &mut Vec<u8>, edge: &Edge, reversed: bool) {
    let (first, second) =
        if reversed { (edge.inbound_id, edge.outbound_id) } else { (edge.outbound_id, edge.inbound_id) };
    out.extend_from_slice(first.as_bytes());
    put_identifier(out, &edge.t);
    out.extend_from_slice(second.as_bytes());
}

/// `[len] name hash(value)`, the head of a property-value index key.
fn put_index_head(out: &mut Vec<u8>, name: &Identifier, value: &Json) {
    put_identifier(out, name);
    out.extend_from_slice(&indradb::util::build(&[indradb::util::Component::Json(value)]));
}

fn put_json(out: &mut Vec<u8>, value: &serde_json::Value) {
    // Writing plain data into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// What a full build writes into a new generation, kept by column family until `write`.
pub struct Tables {
    families: [Family; 7],
    /// The properties IndraDB indexes by value (`INDEXED_PROPERTIES`).
    indexed: Vec<Identifier>,
}

impl Tables {
    pub(super) fn new(indexed: Vec<Identifier>) -> Tables {
        Tables { families: Default::default(), indexed }
    }

    pub(super) fn vertex(&mut self, id: Uuid, kind: &Identifier) {
        self.families[VERTICES].push(|key| key.extend_from_slice(id.as_bytes()), |value| put_identifier(value, kind));
    }

    pub(super) fn edge(&mut self, edge: &Edge) {
        self.families[EDGE_RANGES].push(|key| put_edge(key, edge, false), |_| {});
        self.families[REVERSED_EDGE_RANGES].push(|key| put_edge(key, edge, true), |_| {});
    }

    pub(super) fn vertex_property(&mut self, id: Uuid, name: &Identifier, value: serde_json::Value) {
        let owner = |key: &mut Vec<u8>| key.extend_from_slice(id.as_bytes());
        self.property((VERTEX_PROPERTIES, VERTEX_PROPERTY_VALUES), owner, name, value);
    }

    pub(super) fn edge_property(&mut self, edge: &Edge, name: &Identifier, value: serde_json::Value) {
        let owner = |key: &mut Vec<u8>| put_edge(key, edge, false);
        self.property((EDGE_PROPERTIES, EDGE_PROPERTY_VALUES), owner, name, value);
    }

    /// A property of the vertex or edge whose key `owner` writes: `owner name -> value` in the
    /// first family, and, for an indexed name, `[len] name hash(value) owner` in the second.
    fn property(
        &mut self,
        (values, index): (usize, usize),
        owner: impl Fn(&mut Vec<u8>),
        name: &Identifier,
        value: serde_json::Value,
    ) {
        self.families[values].push(
            |key| {
                owner(key);
                key.extend_from_slice(name.as_str().as_bytes());
            },
            |out| put_json(out, &value),
        );
        if self.indexed.contains(name) {
            let value = Json::new(value);
            self.families[index].push(
                |key| {
                    put_index_head(key, name, &value);
                    owner(key);
                },
                |_| {},
            );
        }
    }

    /// Writes the tables into the generation at `dir`, which `rocks::Staging::create` made (with
    /// its column families and IndraDB's metadata), and ingests them. The families are sorted
    /// and written in parallel, on the current rayon pool. On return the database is closed and
    /// everything it holds is in table files.
    pub(super) fn write(self, dir: &Utf8Path, opts: &Options) -> Result<(), StoreError> {
        let write_error = |source| StoreError::Write { path: dir.to_owned(), source };
        let rocks_error = |err: rocksdb::Error| StoreError::Write {
            path: dir.to_owned(),
            source: std::io::Error::other(format!("RocksDB: {err}")),
        };
        let staged = dir.join("ingest");
        std::fs::create_dir_all(&staged).map_err(write_error)?;
        let files: Vec<Option<camino::Utf8PathBuf>> = self
            .families
            .into_par_iter()
            .enumerate()
            .map(|(index, mut family)| {
                if family.entries.is_empty() {
                    return Ok(None);
                }
                family.sort();
                let path = staged.join(format!("{index}.sst"));
                let mut writer = SstFileWriter::create(opts);
                writer.open(path.as_std_path())?;
                for entry in &family.entries {
                    writer.put(family.key(entry), family.value(entry))?;
                }
                writer.finish()?;
                Ok(Some(path))
            })
            .collect::<Result<_, rocksdb::Error>>()
            .map_err(rocks_error)?;
        let db = DB::open_cf(opts, dir.as_std_path(), ALL_FAMILIES).map_err(rocks_error)?;
        let mut ingest = IngestExternalFileOptions::default();
        // The files are linked into the database rather than copied.
        ingest.set_move_files(true);
        for (name, file) in FAMILIES.iter().zip(&files) {
            let Some(file) = file else { continue };
            let family = db.cf_handle(name).ok_or_else(|| StoreError::Write {
                path: dir.to_owned(),
                source: std::io::Error::other(format!("RocksDB: no column family `{name}`")),
            })?;
            db.ingest_external_file_cf_opts(family, &ingest, vec![file.as_std_path()]).map_err(rocks_error)?;
        }
        // What IndraDB wrote when it created the generation (the indexed properties) is still in
        // the write-ahead log: flushed into a table, so that no reader's open has to.
        for name in ALL_FAMILIES {
            if let Some(family) = db.cf_handle(name) {
                db.flush_cf(family).map_err(rocks_error)?;
            }
        }
        drop(db);
        std::fs::remove_dir_all(&staged).map_err(write_error)?;
        Ok(())
    }
}
