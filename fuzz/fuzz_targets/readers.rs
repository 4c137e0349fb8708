//! The readers of what a build leaves on disk, on arbitrary bytes: the msgpack image (read by
//! `store::open_graph`'s own reader and by IndraDB's, `store::read_graph`), the delta log beside
//! it, and the incremental cache's files (its state, a unit's output, a unit's file cache, one
//! file's output, a crate's resolved scopes). The first byte picks the reader; the rest is the
//! file. Damage must be an
//! error (or, for caches, `None`: a rebuild), never a panic or an allocation the input's size
//! does not justify (libFuzzer's `-rss_limit_mb` and `-malloc_limit_mb` catch those).

#![no_main]

use std::sync::OnceLock;

use camino::{Utf8Path, Utf8PathBuf};
use cargo_codegraph::incremental::{self, Cache, FileCache, FileEntry, FileOutput};
use cargo_codegraph::resolve::CrateDefs;
use cargo_codegraph::store;
use libfuzzer_sys::fuzz_target;

/// A folder for this process's files, kept for its lifetime.
fn scratch() -> &'static Utf8Path {
    static DIR: OnceLock<(tempfile::TempDir, Utf8PathBuf)> = OnceLock::new();
    let (_, path) = DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = Utf8PathBuf::from_path_buf(dir.path().to_owned()).expect("a UTF-8 temporary folder");
        (dir, path)
    });
    path
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else { return };
    let dir = scratch();
    let db = dir.join("graph.msgpack");
    let _ = std::fs::remove_file(store_delta(&db));
    match which % 5 {
        0 => {
            std::fs::write(&db, bytes).expect("writing the image");
            let _ = store::open_graph(&db).map(|graph| graph.vertex_count());
            let _ = store::read_graph(&db);
        }
        1 => {
            // An image (its length in two bytes, little-endian, first) and the delta beside it.
            let (length, rest) = bytes.split_at(bytes.len().min(2));
            let length = length.iter().rev().fold(0usize, |n, &b| n << 8 | b as usize).min(rest.len());
            let (image, delta) = rest.split_at(length);
            std::fs::write(&db, image).expect("writing the image");
            std::fs::write(store_delta(&db), delta).expect("writing the delta");
            let _ = store::open_graph(&db).map(|graph| graph.vertex_count());
        }
        2 => {
            let _ = incremental::decode_output(bytes);
            let _ = FileOutput::decode(FileEntry { head: bytes, batch: &[], tail: &[] });
            // A unit's file cache and the crate output its entries splice their batches from
            // (the cache's length in two bytes, little-endian, first, as for case 1).
            let (length, rest) = bytes.split_at(bytes.len().min(2));
            let length = length.iter().rev().fold(0usize, |n, &b| n << 8 | b as usize).min(rest.len());
            let (files, output) = rest.split_at(length);
            if let Some(cache) = FileCache::decode(files.to_vec(), output.to_vec()) {
                for key in ["", "a", "0"] {
                    if let Some(entry) = cache.get(key) {
                        let _ = FileOutput::decode(entry);
                    }
                }
            }
        }
        4 => {
            // A crate's scopes (a unit's scopes blob), naming crates by key: every key known, or none.
            let _ = CrateDefs::from_bytes(bytes, |_| Some(0));
            let _ = CrateDefs::from_bytes(bytes, |_| None);
        }
        _ => {
            let cache_dir = incremental::cache_dir(&db);
            std::fs::create_dir_all(&cache_dir).expect("creating the cache folder");
            std::fs::write(cache_dir.join("state.msgpack"), bytes).expect("writing the state");
            let stamp = store::stamp(&db);
            let cache = Cache::new(&db);
            if let Some(state) = cache.load("", stamp.as_deref()) {
                for entry in state.units.values() {
                    let _ = cache.output(entry);
                    let _ = cache.files(entry);
                    let _ = cache.defs(entry);
                }
            }
        }
    }
});

fn store_delta(db: &Utf8Path) -> Utf8PathBuf {
    Utf8PathBuf::from(format!("{db}.delta"))
}
