//! Incremental builds: index again only the crates whose inputs changed, and update the stored
//! graph by difference.
//!
//! A build's work is cut into units: one per indexed crate, and one for the workspace's own
//! vertices (packages, crates, `depends_on`). Beside the graph, `<db>.cache/` keeps for every unit
//! what it wrote (its output: the batches it sent, msgpack-encoded, in `model`'s serde form), its
//! files' outputs (`FileCache`: each file's batch, records, macro calls and `mod` declarations,
//! keyed by the file's content and its place in the module tree; the batch is not stored again
//! there but named by its range in the output), its resolved scopes
//! (`CrateDefs::to_bytes`) and a summary (`UnitSummary`: the files it read with their hashes, its
//! counts, diagnostics, and two hashes: its interface, what dependents see of it, and its
//! dependencies' interfaces when it was built). The summaries are in the state file; the rest is
//! in pack files, one per build (`pack-<generation>`: the blobs of the units that build indexed,
//! one after another, each named in the state by its pack, offset, length and hash), so that a
//! build of 500 test targets writes one file, not 1,500.
//!
//! A rerun reuses a crate when its fingerprint (its target, package, features, dependencies and
//! the options), its files and its dependencies' interfaces are all as recorded: it is not read,
//! parsed or resolved, and its scopes are read back only if a crate indexed again depends on it.
//! A crate whose interface changes (an item added, renamed, made public...) makes its
//! dependents index again; a change inside a function body does not. A crate indexed again with
//! the fingerprint it had parses only the files whose key is not in its `FileCache` (the others'
//! outputs are read back), then expands, resolves and validates as in a full build. The crates
//! indexed again give new outputs; `diff` compares them with the recorded ones (and drops the outputs of crates
//! that are gone) and gives the `model::Diff` that `store` applies to a copy of the live graph.
//! Vertices that several units write (files, externs) are counted by unit, and leave the graph
//! with the last unit that wrote them.
//!
//! The result is the graph a full build would write, byte for byte in `export` (the property
//! tests in `tests/incremental.rs` hold it to that). Anything the cache cannot vouch for (another
//! tool or schema version, options, backend or target, a graph replaced behind its back, a damaged
//! file) makes a full build, which writes a new cache.
//!
//! Crash safety: packs are named by generation and never overwritten by the build that reads them
//! (a full build, which forgot the state first, may reuse names); the state file that names them
//! is replaced atomically after the graph is committed, and records the graph's stamp
//! (`store::stamp`). A run killed in between leaves a state whose stamp no longer matches: the
//! next build is a full one. Packs nobody names any more are removed after the state is replaced;
//! when the packs' dead bytes (blobs of units indexed again since) outweigh the live ones, the
//! packs most dead have their live blobs copied into the new pack, so that the cache stays within
//! twice what it holds.

mod input;
mod unit;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{Read, Seek, SeekFrom, Write};

use camino::{Utf8Path, Utf8PathBuf};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::direct_io::DirectWriter;
use crate::model::{Batch, Diff, EdgeKind, Props, Vertex, VertexKind};
use crate::workspace::Workspace;

pub use input::{Input, Stamp, fingerprint, hash};
pub use unit::{
    BatchKeys, EdgeSegments, FileCache, FileEntry, FileOrigin, FileOutput, FileOutputRef, OutputBuilder, Parts,
    RecordedEdges, Segment, UnitSummary, decode_batches, decode_output, encode_batch, exact, split_output,
};

/// Bump when the cache's meaning or format changes: an old cache then makes a full build.
const CACHE_VERSION: u32 = 25;

/// The key of the workspace unit (crate keys start with `Key(`).
pub const WORKSPACE_UNIT: &str = "workspace";

/// What a decoder made of bytes that this build made, or that its cache read back and found to
/// match their recorded hash. Such bytes were written by a binary of this `CACHE_VERSION`, so
/// `None` here is an encoding that does not read back as it was written: in a release build it
/// costs only speed, silently (the file is indexed again, on every rerun; two such asymmetries
/// went unseen for a while), so a debug build, the tests', stops on it. Damaged bytes never get
/// here: their hash does not match.
pub fn read_back<T>(decoded: Option<T>, what: &str) -> Option<T> {
    if decoded.is_none() && cfg!(debug_assertions) {
        panic!("{what} that this build wrote, or read back intact, does not decode");
    }
    decoded
}

/// Where the cache of the graph at `db` is kept.
pub fn cache_dir(db: &Utf8Path) -> Utf8PathBuf {
    Utf8PathBuf::from(format!("{db}.cache"))
}

const STATE_FILE: &str = "state.msgpack";

/// One unit as the cache records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnitEntry {
    /// What decides the unit's output besides its files and its dependencies' interfaces.
    pub fingerprint: String,
    pub summary: UnitSummary,
    /// Its output.
    pub output: Pieces,
    /// Its scopes (their hash is `summary.interface`).
    pub defs: Option<Blob>,
    /// What its scopes mean, name by name (`resolve::names::NameDigest`): a rerun that indexes
    /// it again tells which names changed, to its own items and to the crates that depend on it.
    /// Read only then, so kept out of the state every rerun reads.
    #[serde(default)]
    pub names: Option<Blob>,
    /// Its files' outputs (`FileCache`).
    pub files: Option<Pieces>,
}

/// Bytes kept as pieces, each a blob of its own: a unit indexed again writes only the pieces
/// that changed (`Packed::add`), where one blob made it write its whole output and file records
/// again when one file changed (19.7 MB for tokio's library, for a comment). Pieces are cut
/// between parts (an output's batches, a file cache's entries) by their content
/// (`piece_ends`), so that a part added or grown moves no cut but its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pieces {
    /// The whole's length and hash (`incremental::hash`).
    pub len: u64,
    pub hash: String,
    pub pieces: Vec<Blob>,
}

/// A piece is cut only once it is this long...
const PIECE_MIN: usize = 64 << 10;
/// ...and always once it is this long.
const PIECE_MAX: usize = 4 << 20;

/// Where `parts` are cut into pieces: after a part that ends a piece by its content alone (one
/// part in 32 of 64 bytes or more, by a hash of its first 64 bytes: a batch's first id is
/// there, where its last bytes are often another batch's, the same property of the same kind
/// of edge), once the piece has
/// `PIECE_MIN` bytes, or after the part that gives it `PIECE_MAX`. The cuts then stay where
/// they were around a part changed, added or removed: the next piece starts at the same part.
/// The ends, as indices one past a piece's last part; the last is `parts.len()`.
fn piece_ends(parts: &[&[u8]]) -> Vec<usize> {
    let ends_piece = |part: &[u8]| part.len() >= 64 && xxhash_rust::xxh3::xxh3_64(&part[..64]).is_multiple_of(32);
    let mut ends = Vec::new();
    let mut len = 0;
    for (at, part) in parts.iter().enumerate() {
        len += part.len();
        if (len >= PIECE_MIN && ends_piece(part)) || len >= PIECE_MAX {
            ends.push(at + 1);
            len = 0;
        }
    }
    if ends.last() != Some(&parts.len()) && !parts.is_empty() {
        ends.push(parts.len());
    }
    ends
}

/// Where a unit's bytes are: a range of a pack file, and the hash they must have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blob {
    /// The generation of the pack (`pack-<generation>`).
    pub pack: u64,
    pub offset: u64,
    pub len: u64,
    pub hash: String,
}

impl Blob {
    fn pack_name(generation: u64) -> String {
        format!("pack-{generation}")
    }
}

/// The cache's state file.
#[derive(Debug, Serialize, Deserialize)]
pub struct CacheState {
    version: u32,
    /// What decides every unit: tool and schema versions, options, backend, target, workspace
    /// root.
    fingerprint: String,
    /// The graph this cache describes (`store::stamp`).
    db_stamp: String,
    /// Numbers the unit files of each build.
    generation: u64,
    pub units: BTreeMap<String, UnitEntry>,
}

/// The cache of one graph.
pub struct Cache {
    dir: Utf8PathBuf,
}

impl Cache {
    pub fn new(db: &Utf8Path) -> Cache {
        Cache { dir: cache_dir(db) }
    }

    /// The recorded state, if it describes the graph whose stamp is `db_stamp` and was made with
    /// `fingerprint`.
    pub fn load(&self, fingerprint: &str, db_stamp: Option<&str>) -> Option<CacheState> {
        let bytes = std::fs::read(self.dir.join(STATE_FILE)).ok()?;
        let state: CacheState = rmp_serde::from_slice(&bytes).ok()?;
        (state.version == CACHE_VERSION
            && state.fingerprint == fingerprint
            && Some(state.db_stamp.as_str()) == db_stamp)
            .then_some(state)
    }

    /// Reads a blob, checking it against its recorded hash; `None` when it is missing or damaged.
    fn read(&self, blob: &Blob) -> Option<Vec<u8>> {
        let mut bytes = Vec::new();
        self.read_into(blob, &mut bytes)?;
        Some(bytes)
    }

    /// `read`, appending to `bytes`.
    fn read_into(&self, blob: &Blob, bytes: &mut Vec<u8>) -> Option<()> {
        let start = bytes.len();
        read_range(&self.dir.join(Blob::pack_name(blob.pack)), blob.offset, blob.len, bytes).ok()?;
        (hash(&bytes[start..]) == blob.hash).then_some(())
    }

    /// Reads pieces back into one, each checked against its hash; `None` when one is missing or
    /// damaged, or they do not add up to the whole's length.
    fn read_pieces(&self, pieces: &Pieces) -> Option<Vec<u8>> {
        // Read into one buffer of the whole's length (growing it piece by piece copied the bytes
        // again and again), once the pieces are seen to fit in their packs: a recorded length
        // allocates nothing beyond what is there.
        let mut sizes: HashMap<u64, u64> = HashMap::new();
        let mut total: u64 = 0;
        for piece in &pieces.pieces {
            let size = match sizes.get(&piece.pack) {
                Some(&size) => size,
                None => {
                    let size = std::fs::metadata(self.dir.join(Blob::pack_name(piece.pack))).ok()?.len();
                    *sizes.entry(piece.pack).or_insert(size)
                }
            };
            if piece.offset.checked_add(piece.len)? > size {
                return None;
            }
            total = total.checked_add(piece.len)?;
        }
        if total != pieces.len {
            return None;
        }
        let mut bytes = Vec::with_capacity(usize::try_from(total).ok()?);
        for piece in &pieces.pieces {
            self.read_into(piece, &mut bytes)?;
        }
        Some(bytes)
    }

    /// A unit's recorded output.
    pub fn output(&self, entry: &UnitEntry) -> Option<Vec<Batch>> {
        read_back(decode_output(&self.read_pieces(&entry.output)?), "a unit's output")
    }

    /// A unit's recorded output, encoded.
    pub fn output_bytes(&self, entry: &UnitEntry) -> Option<Vec<u8>> {
        self.read_pieces(&entry.output)
    }

    /// A unit's recorded file outputs (which need its output: the files' batches are there).
    pub fn files(&self, entry: &UnitEntry) -> Option<FileCache> {
        let files = entry.files.as_ref()?;
        // Both are read before anything of the crate can start (tokio's library: 25 MB), and the
        // rest of the pool is mostly idle then: side by side.
        let (files, output) = rayon::join(|| self.read_pieces(files), || self.read_pieces(&entry.output));
        let names = entry
            .names
            .as_ref()
            .and_then(|blob| read_back(rmp_serde::from_slice(&self.read(blob)?).ok(), "a unit's name digest"));
        let cache = read_back(FileCache::decode(files?, output?), "a unit's file cache")?;
        Some(cache.with_summary(&entry.summary).with_names(names))
    }

    /// A unit's recorded scopes, as bytes.
    pub fn defs(&self, entry: &UnitEntry) -> Option<Vec<u8>> {
        self.read(entry.defs.as_ref()?)
    }

    /// Forgets the cache (before a full build replaces the graph it describes).
    pub fn forget(&self) {
        // Best effort: a state left behind no longer matches the graph's stamp.
        let _ = std::fs::remove_file(self.dir.join(STATE_FILE));
    }

    /// Writes the blobs of the units built now into this build's pack (`pack-<generation>`, the
    /// generation after `previous`'s), dropping each unit's bytes once they are written; a blob
    /// `previous` holds already for the same unit stays where it is (`Packed::add`). The pack is
    /// named by no state yet: `save` records it.
    pub fn pack(&self, previous: Option<&CacheState>, new: Vec<NewUnit>) -> Packed {
        // A rerun's pack is small, and the next rerun reads it: through the page cache.
        let mut packed = Packed::new(&self.dir, previous, false);
        for unit in new {
            let recorded = previous.and_then(|state| state.units.get(&unit.key));
            packed.add(unit, recorded);
        }
        packed
    }

    /// `pack` on a thread of its own, fed as units are built: a full build hands each crate over
    /// as its wave ends, so that it holds the cache's bytes (as much as the graph on a large
    /// workspace) no longer than it takes to write them, and the writing overlaps the indexing.
    pub fn packer(&self, previous: Option<&CacheState>) -> std::io::Result<Packer> {
        let (sender, receiver) = std::sync::mpsc::channel::<NewUnit>();
        // A full build's pack is as large as the graph and written once; a rerun reads a few of
        // its units: past the page cache.
        let mut packed = Packed::new(&self.dir, previous, true);
        let handle = std::thread::Builder::new().name("codegraph-cache".to_owned()).spawn(move || {
            for unit in receiver {
                packed.add(unit, None);
            }
            packed
        })?;
        Ok(Packer { sender: Some(sender), handle: Some(handle) })
    }

    /// Records a new state: the units built now (`packed`, from `pack`), and those carried over
    /// from `previous` (`units`), whose blobs stay where they are, or are copied into the new pack
    /// when the packs' dead bytes outweigh their live ones (`packs_to_copy`); then replaces the
    /// state file and removes the packs nothing names any more.
    pub fn save(
        &self,
        fingerprint: String,
        db_stamp: String,
        mut units: BTreeMap<String, UnitEntry>,
        packed: Packed,
    ) -> std::io::Result<()> {
        let Packed { mut pack, units: new } = packed;
        let generation = pack.generation;
        units.extend(new);
        for pack_generation in self.packs_to_copy(&units, generation) {
            let old = self.dir.join(Blob::pack_name(pack_generation));
            for entry in units.values_mut() {
                for blob in entry.blobs_mut().filter(|blob| blob.pack == pack_generation) {
                    let mut bytes = Vec::new();
                    read_range(&old, blob.offset, blob.len, &mut bytes)?;
                    *blob = pack.add(&bytes, std::mem::take(&mut blob.hash));
                }
            }
        }
        pack.finish()?;
        let state = CacheState { version: CACHE_VERSION, fingerprint, db_stamp, generation, units };
        let mut temp = crate::replacement_file().prefix(".state").tempfile_in(&self.dir)?;
        // Encoded whole, then written at once: the encoder writes token by token, a system call
        // each on an unbuffered file (50,000 of them for 500 units).
        temp.write_all(&rmp_serde::to_vec(&state).map_err(std::io::Error::other)?)?;
        temp.persist(self.dir.join(STATE_FILE)).map_err(|err| err.error)?;
        let named: HashSet<String> = state
            .units
            .values()
            .flat_map(|entry| entry.blobs().map(|blob| Blob::pack_name(blob.pack)))
            .chain(std::iter::once(Blob::pack_name(generation)))
            .collect();
        for entry in std::fs::read_dir(&self.dir)?.flatten() {
            let file = entry.file_name();
            let file = file.to_string_lossy();
            if file != STATE_FILE && !named.contains(&*file) {
                // Best effort: a file left behind is removed by the next save.
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    }

    /// The older packs whose live blobs are to be copied into the new pack (of `generation`), so
    /// that the dead bytes of all packs never outweigh the live ones: none while they do not; else
    /// the packs most dead first, until they do not. (Packs that no unit names are removed
    /// without a copy, by `save`.) Bounding each pack instead copied the same blobs at every
    /// rerun of a package whose library is most of it: the library's new blobs outweigh the rest
    /// in each pack, so each rerun's pack was mostly dead at the next, and the rest copied again.
    fn packs_to_copy(&self, units: &BTreeMap<String, UnitEntry>, generation: u64) -> Vec<u64> {
        let mut live: BTreeMap<u64, u64> = BTreeMap::new();
        let mut all_live = 0;
        for entry in units.values() {
            for blob in entry.blobs() {
                all_live += blob.len;
                if blob.pack != generation {
                    *live.entry(blob.pack).or_default() += blob.len;
                }
            }
        }
        // Each older pack's dead bytes and size; one that cannot be looked at is copied from
        // (reading it then says what is wrong).
        let mut chosen = Vec::new();
        let mut packs: Vec<(u64, u64, u64)> = Vec::new();
        for (pack, live) in live {
            match std::fs::metadata(self.dir.join(Blob::pack_name(pack))) {
                Ok(meta) => packs.push((pack, meta.len().saturating_sub(live), meta.len().max(1))),
                Err(_) => chosen.push(pack),
            }
        }
        let mut dead: u64 = packs.iter().map(|&(_, dead, _)| dead).sum();
        // Most dead first (dead / size, compared without dividing), then oldest.
        packs.sort_by(|&(a, a_dead, a_size), &(b, b_dead, b_size)| {
            (u128::from(b_dead) * u128::from(a_size)).cmp(&(u128::from(a_dead) * u128::from(b_size))).then(a.cmp(&b))
        });
        for (pack, pack_dead, _) in packs {
            if dead <= all_live {
                break;
            }
            dead -= pack_dead;
            chosen.push(pack);
        }
        chosen
    }
}

impl UnitEntry {
    fn blobs(&self) -> impl Iterator<Item = &Blob> {
        let files = self.files.iter().flat_map(|files| &files.pieces);
        self.output.pieces.iter().chain(&self.defs).chain(&self.names).chain(files)
    }

    fn blobs_mut(&mut self) -> impl Iterator<Item = &mut Blob> {
        let files = self.files.iter_mut().flat_map(|files| &mut files.pieces);
        self.output.pieces.iter_mut().chain(&mut self.defs).chain(&mut self.names).chain(files)
    }
}

/// The units built now, their blobs written into this build's pack (`Cache::pack`).
pub struct Packed {
    pack: Pack,
    /// By key, as the state will record them.
    pub units: Vec<(String, UnitEntry)>,
}

impl Packed {
    /// A pack of the next generation, written past the page cache when `direct` (`DirectWriter`).
    fn new(dir: &Utf8Path, previous: Option<&CacheState>, direct: bool) -> Packed {
        let generation = previous.map_or(0, |state| state.generation + 1);
        Packed { pack: Pack::create(dir, generation, direct), units: Vec::new() }
    }

    /// Writes the unit's blobs, but for those `recorded` (the unit's entry in the previous state)
    /// holds already, with the same length and hash: the entry names those where they are. A
    /// rerun indexes many units again whose scopes, files and even outputs come out as they were,
    /// or as they were but for a piece or two.
    fn add(&mut self, unit: NewUnit, recorded: Option<&UnitEntry>) {
        let pack = &mut self.pack;
        let same = |blob: Option<&Blob>, len: usize, hash: &str| {
            blob.filter(|blob| blob.len == len as u64 && blob.hash == hash).cloned()
        };
        let output = pack.add_pieces(&unit.output, recorded.map(|entry| &entry.output));
        let (defs, names) = if unit.scopes_as_recorded {
            recorded.map(|entry| (entry.defs.clone(), entry.names.clone())).unwrap_or_default()
        } else {
            let defs = unit.defs.as_ref().map(|bytes| {
                // The interface is the scopes' hash (`index`).
                let hash = unit.summary.interface.clone().unwrap_or_else(|| hash(bytes));
                same(recorded.and_then(|entry| entry.defs.as_ref()), bytes.len(), &hash)
                    .unwrap_or_else(|| pack.add(bytes, hash))
            });
            let names = unit.names.as_ref().map(|bytes| {
                let hash = hash(bytes);
                same(recorded.and_then(|entry| entry.names.as_ref()), bytes.len(), &hash)
                    .unwrap_or_else(|| pack.add(bytes, hash))
            });
            (defs, names)
        };
        let files = (!unit.files.is_empty())
            .then(|| pack.add_pieces(&unit.files, recorded.and_then(|entry| entry.files.as_ref())));
        let entry = UnitEntry { fingerprint: unit.fingerprint, summary: unit.summary, output, defs, names, files };
        self.units.push((unit.key, entry));
    }
}

/// `Cache::packer`'s thread. Dropped without `finish` (a build that failed), it still waits for
/// the thread: no thread outlives its build, writing into a pack that the next build of the same
/// process may create again.
pub struct Packer {
    sender: Option<std::sync::mpsc::Sender<NewUnit>>,
    handle: Option<std::thread::JoinHandle<Packed>>,
}

impl Packer {
    pub fn add(&self, unit: NewUnit) {
        // The thread ends only when the sender is dropped (`finish`) or when it panicked, which
        // `finish` reports.
        if let Some(sender) = &self.sender {
            let _ = sender.send(unit);
        }
    }

    /// Waits for every unit handed over to be written; `None` when the thread panicked.
    pub fn finish(mut self) -> Option<Packed> {
        self.sender = None;
        self.handle.take()?.join().ok()
    }
}

impl Drop for Packer {
    fn drop(&mut self) {
        self.sender = None;
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// The pack a build writes. The first error is kept and every later write skipped: the blobs
/// then name nothing, and `finish` (in `Cache::save`, which then records no state) returns it.
struct Pack {
    generation: u64,
    /// Past the page cache or through it, as the pack's maker asked (`Packed::new`).
    file: std::io::Result<DirectWriter<std::fs::File>>,
    len: u64,
}

impl Pack {
    fn create(dir: &Utf8Path, generation: u64, direct: bool) -> Pack {
        let file = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::File::create(dir.join(Blob::pack_name(generation))))
            .map(|file| if direct { DirectWriter::new(file) } else { DirectWriter::ordinary(file) });
        Pack { generation, file, len: 0 }
    }

    fn add(&mut self, bytes: &[u8], hash: String) -> Blob {
        self.place(bytes.len(), hash, |file| file.write_all(bytes))
    }

    fn add_parts(&mut self, parts: &Parts, hash: String) -> Blob {
        self.place(parts.len(), hash, |file| parts.write_to(file))
    }

    /// `parts` as pieces (`piece_ends`), writing those that `recorded` does not hold already with
    /// the same length and hash.
    fn add_pieces(&mut self, parts: &Parts, recorded: Option<&Pieces>) -> Pieces {
        let (len, hash) = (parts.len() as u64, parts.hash());
        if let Some(recorded) = recorded.filter(|recorded| recorded.len == len && recorded.hash == hash) {
            return recorded.clone();
        }
        let kept: HashMap<(u64, &str), &Blob> = recorded
            .into_iter()
            .flat_map(|recorded| &recorded.pieces)
            .map(|blob| ((blob.len, blob.hash.as_str()), blob))
            .collect();
        let mut start = 0;
        let mut pieces = Vec::new();
        for end in piece_ends(&parts.parts()) {
            let piece = parts.slice(start..end);
            let piece_hash = piece.hash();
            pieces.push(match kept.get(&(piece.len() as u64, piece_hash.as_str())) {
                Some(&blob) => blob.clone(),
                None => self.add_parts(&piece, piece_hash),
            });
            start = end;
        }
        Pieces { len, hash, pieces }
    }

    fn place(
        &mut self,
        len: usize,
        hash: String,
        write: impl FnOnce(&mut DirectWriter<std::fs::File>) -> std::io::Result<()>,
    ) -> Blob {
        if let Ok(file) = &mut self.file
            && let Err(err) = write(file)
        {
            self.file = Err(err);
        }
        let blob = Blob { pack: self.generation, offset: self.len, len: len as u64, hash };
        self.len += len as u64;
        blob
    }

    fn finish(self) -> std::io::Result<()> {
        self.file?.finish()
    }
}

/// `len` bytes of the file at `path` from `offset`, appended to `bytes`.
fn read_range(path: &Utf8Path, offset: u64, len: u64, bytes: &mut Vec<u8>) -> std::io::Result<()> {
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if offset.checked_add(len).is_none_or(|end| end > size) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("{path} is shorter than its state says"),
        ));
    }
    file.seek(SeekFrom::Start(offset))?;
    // The length is checked against the file's: no allocation beyond what is there. Read into the
    // spare capacity, not into zeros written first (tokio's library reads 25 MB at a rerun).
    let start = bytes.len();
    bytes.reserve_exact(len as usize);
    file.take(len).read_to_end(bytes)?;
    if bytes.len() - start != len as usize {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("{path} is shorter than its state says"),
        ));
    }
    Ok(())
}

/// A unit built now, to be recorded.
#[derive(Clone)]
pub struct NewUnit {
    pub key: String,
    pub fingerprint: String,
    pub summary: UnitSummary,
    pub output: Parts,
    pub defs: Option<Vec<u8>>,
    /// Its `NameDigest`, encoded.
    pub names: Option<Vec<u8>>,
    /// Its scopes and `NameDigest` are the last build's (`defs` and `names` are `None`): the
    /// recorded blobs stay.
    pub scopes_as_recorded: bool,
    /// `FileCache::encode`d file outputs (empty for none).
    pub files: Parts,
}

/// The fingerprint of everything that decides every unit.
pub fn global_fingerprint(workspace: &Workspace, facts: &str) -> String {
    fingerprint(&format!("{}\n{:#?}\n{facts}", workspace.root, workspace.target))
}

/// The key of each crate between builds.
pub fn crate_key(workspace: &Workspace, krate: usize) -> String {
    format!("{:?}", workspace.crates[krate].key)
}

/// Each crate's fingerprint: what decides its output besides its files and its dependencies'
/// interfaces. Indices into the workspace's lists are left out (they shift when a crate is
/// added); keys stand for them.
pub fn crate_fingerprints(workspace: &Workspace) -> Vec<String> {
    // Each package's and each dependency's text once, not once per crate (tokio's package: 208
    // crates, 3,928 dependencies, one package printed whole for each of its crates).
    let packages: Vec<String> = workspace.packages.iter().map(|package| format!("{package:#?}")).collect();
    let mut deps: Vec<String> = vec![String::new(); workspace.crates.len()];
    for dep in &workspace.deps {
        // Writing into a `String` cannot fail.
        let _ = writeln!(deps[dep.from], "{:?} {:?} {:?}", workspace.crates[dep.to].key, dep.kind, dep.rename);
    }
    (0..workspace.crates.len())
        .map(|index| {
            let krate = &workspace.crates[index];
            let mut text = format!(
                "{:?}\n{:?}\n{}\n{}\n{}\n{}\n{:?}\n{}\n",
                krate.kind,
                krate.key,
                krate.name,
                krate.crate_name,
                krate.edition,
                krate.root,
                krate.indexed,
                packages[krate.package]
            );
            text.push_str(&deps[index]);
            fingerprint(&text)
        })
        .collect()
}

/// The vertices and edges of an output, by identity.
#[derive(Default)]
struct Items {
    vertices: HashMap<Uuid, Vertex>,
    edges: HashMap<(Uuid, EdgeKind, Uuid), Props>,
    shared: HashMap<Uuid, Vertex>,
}

impl Items {
    fn of(batches: Vec<Batch>) -> Items {
        let mut items = Items::default();
        for batch in batches {
            for vertex in batch.vertices {
                if vertex.kind.is_shared() {
                    items.shared.insert(vertex.id, vertex);
                } else {
                    items.vertices.insert(vertex.id, vertex);
                }
            }
            for edge in batch.edges {
                items.edges.insert((edge.from, edge.kind, edge.to), edge.props);
            }
        }
        items
    }
}

/// A unit whose output changed: what it wrote last time, and what it writes now (empty for a
/// unit that is gone, or new).
#[derive(Debug)]
pub struct Change {
    pub old: Vec<Batch>,
    pub new: Vec<Batch>,
}

impl Change {
    /// The change between a unit's recorded output and its new one, each as the bytes of its
    /// batches (`split_output`, `Parts::parts`); `None` when a batch is damaged. When both are
    /// `disjoint` (no key in two of
    /// their batches, `UnitSummary::disjoint`), a batch the new output has byte for byte as the old
    /// one did is left out of both sides without being decoded: what it holds is in the graph and
    /// stays, and no other batch of either side names it. A body edited in a crate of a thousand
    /// items then costs the batches that hold that item's vertices and edges, not the crate's.
    pub fn between(mut old: Vec<&[u8]>, mut new: Vec<&[u8]>, disjoint: bool) -> Option<Change> {
        if disjoint {
            // Takes one of `batch` from `left`, if any is left.
            fn take(left: &mut HashMap<&[u8], usize, rustc_hash::FxBuildHasher>, batch: &[u8]) -> bool {
                match left.get_mut(batch) {
                    Some(count) if *count > 0 => {
                        *count -= 1;
                        true
                    }
                    _ => false,
                }
            }
            let mut left: HashMap<&[u8], usize, rustc_hash::FxBuildHasher> = HashMap::default();
            for batch in &old {
                *left.entry(batch).or_default() += 1;
            }
            // A new batch the old output has is dropped; then `left` counts the old batches no new
            // one matched, and only those many copies of each are kept.
            new.retain(|batch| !take(&mut left, batch));
            old.retain(|batch| take(&mut left, batch));
        }
        Some(Change { old: unit::decode_batches(&old)?, new: unit::decode_batches(&new)? })
    }
}

/// What turns the graph of `old_shared` into that of `new_shared`, given the units that changed.
/// `old_shared` and `new_shared` are every unit's shared vertices, before and after.
pub fn diff<'a>(
    changes: Vec<Change>,
    old_shared: impl Iterator<Item = &'a (Uuid, VertexKind)>,
    new_shared: impl Iterator<Item = &'a (Uuid, VertexKind)>,
) -> Diff {
    let mut diff = Diff::default();
    let mut shared_vertices: HashMap<Uuid, Vertex> = HashMap::new();
    // Sorted at the end: the diff does not depend on hash order.
    for change in changes {
        let old = Items::of(change.old);
        let new = Items::of(change.new);
        shared_vertices.extend(new.shared);
        for (id, vertex) in &old.vertices {
            if !new.vertices.contains_key(id) {
                diff.removed_vertices.push((*id, vertex.kind));
            }
        }
        for (id, vertex) in new.vertices {
            match old.vertices.get(&id) {
                None => diff.written.vertices.push(vertex),
                Some(before) if before.kind != vertex.kind => {
                    diff.removed_vertices.push((id, before.kind));
                    diff.written.vertices.push(vertex);
                }
                Some(before) => {
                    let (removed, changed) = props_diff(&before.props, vertex.props);
                    diff.removed_vertex_props.extend(removed.into_iter().map(|name| (id, name)));
                    if !changed.is_empty() {
                        diff.written.vertices.push(Vertex { id, kind: vertex.kind, props: changed });
                    }
                }
            }
        }
        for key in old.edges.keys() {
            if !new.edges.contains_key(key) {
                diff.removed_edges.push(*key);
            }
        }
        for ((from, kind, to), props) in new.edges {
            match old.edges.get(&(from, kind, to)) {
                None => diff.written.edges.push(crate::model::Edge { from, kind, to, props }),
                Some(before) => {
                    let (removed, changed) = props_diff(before, props);
                    diff.removed_edge_props.extend(removed.into_iter().map(|name| (from, kind, to, name)));
                    if !changed.is_empty() {
                        diff.written.edges.push(crate::model::Edge { from, kind, to, props: changed });
                    }
                }
            }
        }
    }
    let mut counts: HashMap<Uuid, (VertexKind, i64, i64)> = HashMap::new();
    for &(id, kind) in old_shared {
        counts.entry(id).or_insert((kind, 0, 0)).1 += 1;
    }
    for &(id, kind) in new_shared {
        counts.entry(id).or_insert((kind, 0, 0)).2 += 1;
    }
    for (id, (kind, before, after)) in counts {
        if before > 0 && after == 0 {
            diff.removed_vertices.push((id, kind));
        } else if before == 0
            && after > 0
            && let Some(vertex) = shared_vertices.remove(&id)
        {
            diff.written.vertices.push(vertex);
        }
    }
    diff.removed_vertices.sort();
    diff.removed_edges.sort();
    diff.removed_vertex_props.sort();
    diff.removed_edge_props.sort();
    diff.written.vertices.sort_by_key(|vertex| vertex.id);
    diff.written.edges.sort_by_key(|edge| (edge.from, edge.kind, edge.to));
    diff
}

/// The property names `before` has and `after` lacks, and the properties of `after` that are new
/// or changed.
fn props_diff(before: &Props, after: Props) -> (Vec<&'static str>, Props) {
    let removed = before.keys().filter(|name| !after.contains_key(*name)).copied().collect();
    let changed = after.into_iter().filter(|(name, value)| before.get(name) != Some(value)).collect();
    (removed, changed)
}

#[cfg(test)]
mod tests;
