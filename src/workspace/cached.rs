//! What `cargo metadata` and rustc said last time, kept while nothing they read has changed.
//!
//! A build with nothing to do, a `query` or a `check` in a pre-commit hook would otherwise spend
//! most of its time in three processes: `cargo metadata` (resolving the whole dependency graph) and
//! rustc twice (the host triple and version, then the target's features). Their answers depend
//! only on:
//!
//! - the options (`WorkspaceConfig`), the current folder and the environment (`CARGO*`, `RUST*`,
//!   `PATH`);
//! - files: every path package's `Cargo.toml`, `Cargo.lock`, each `Cargo.toml` on the way from the
//!   current folder to the root (a new one there would change what cargo finds), the names in
//!   every folder that holds a member (`members = ["crates/*"]` picks up new folders) and in the
//!   folders where cargo discovers targets (`src/`, `src/bin/`, `tests/`, `examples/`,
//!   `benches/` and their subfolders: a new `src/bin/x.rs` is a new binary), cargo's
//!   `config.toml` files, `rust-toolchain` files and rustup's settings;
//! - the toolchain: the `cargo` and `rustc` executables found, and rustup's toolchain folders.
//!
//! All of that is recorded, with the answers, in `<target-dir>/codegraph/metadata-cache/`, a file
//! per key (the hash of the options, the folder and the environment; the most recently written
//! few are kept). A later run looks for its key's file where the target folder usually is
//! (`$CARGO_TARGET_DIR`, else `target/` beside each `Cargo.toml` above the current folder), and
//! reads that entry alone: a look-up costs the same however many option sets the folder has
//! seen. An entry whose inputs are all unchanged answers without any process. Anything else, or
//! a cache that cannot be read, asks cargo and rustc again. Registry and git packages need no
//! watching: `Cargo.lock` pins them, and their contents never change under one version or commit.
//!
//! Knows cargo's and rustup's files; nothing of syntax or of the graph.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::time::UNIX_EPOCH;

use camino::{Utf8Path, Utf8PathBuf};
use cargo_metadata::Metadata;
use serde::{Deserialize, Serialize};

use super::WorkspaceConfig;
use crate::cfg::{Rustc, Target};
use crate::incremental::{Input, hash};

/// Bump when an entry's meaning or layout changes.
const VERSION: u32 = 4;
/// Entries kept per target folder (one per set of options and folder it was run from).
const MAX_ENTRIES: usize = 8;
/// The folder of the entries, in `<target-dir>/codegraph`.
const DIR: &str = "metadata-cache";
/// Where versions before 3 kept all their entries in one file, read whole by each look-up.
const OLD_FILE: &str = "metadata-cache.json";

/// An entry's file: this, as one line of JSON, then `cargo metadata`'s answer as JSON (close to a
/// megabyte for a package with a few dozen dependencies), read only once the inputs below are
/// seen unchanged, and then parsed straight into its types.
#[derive(Serialize, Deserialize)]
struct Entry {
    version: u32,
    /// The options, the current folder and the environment, hashed.
    key: String,
    /// Files (hash, or absent) and folder listings (`dir/` with the hash of the names in it).
    watched: Vec<Input>,
    /// The toolchain's executables and folders with their size and time.
    toolchain: Vec<(Utf8PathBuf, String)>,
    triple: String,
    features: BTreeSet<String>,
    /// The toolchain's version (since `VERSION` 2).
    rustc: Option<Rustc>,
}

/// `cargo metadata`'s answer and the target, from the cache when nothing they depend on changed.
pub fn metadata_and_target(
    config: &WorkspaceConfig,
    ask: impl FnOnce() -> Result<Metadata, super::WorkspaceError>,
) -> Result<(Metadata, Target), super::WorkspaceError> {
    let key = key(config);
    for dir in candidates(config) {
        if let Some(hit) = lookup(&entry_file(&dir, &key), &key) {
            return Ok(hit);
        }
    }
    let metadata = ask()?;
    let target = Target::detect(config.target.as_deref());
    // Best effort: a cache that cannot be written costs the next run its shortcut only.
    let _ = store(config, key, &metadata, &target);
    Ok((metadata, target))
}

fn cwd() -> Option<Utf8PathBuf> {
    Utf8PathBuf::from_path_buf(std::env::current_dir().ok()?).ok()
}

/// The options, the folder and the environment: what decides the answer besides files.
fn key(config: &WorkspaceConfig) -> String {
    let mut env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.to_string_lossy().into_owned())))
        .filter(|(name, _)| name.starts_with("CARGO") || name.starts_with("RUST") || name == "PATH" || name == "HOME")
        .collect();
    env.sort();
    hash(format!("{VERSION}\n{config:?}\n{:?}\n{env:?}", cwd()).as_bytes())
}

/// Where the cache's folder may be: `$CARGO_TARGET_DIR`, else `target/` beside each `Cargo.toml`
/// from the manifest's (or the current) folder up.
fn candidates(config: &WorkspaceConfig) -> Vec<Utf8PathBuf> {
    let cache_dir = |target: &Utf8Path| target.join("codegraph").join(DIR);
    let Some(cwd) = cwd() else { return Vec::new() };
    let mut found = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").and_then(|dir| dir.into_string().ok()) {
        found.push(cache_dir(&cwd.join(dir)));
    }
    let start = match &config.manifest_path {
        Some(manifest) => match Utf8PathBuf::from_path_buf(manifest.clone()) {
            Ok(manifest) => cwd.join(manifest).parent().map(Utf8Path::to_owned).unwrap_or(cwd),
            Err(_) => return found,
        },
        None => cwd,
    };
    for dir in start.ancestors() {
        if dir.join("Cargo.toml").is_file() {
            found.push(cache_dir(&dir.join("target")));
        }
    }
    found
}

/// The file of the entry whose key is `key` in the cache's folder `dir`.
fn entry_file(dir: &Utf8Path, key: &str) -> Utf8PathBuf {
    dir.join(format!("{key}.json"))
}

fn lookup(file: &Utf8Path, key: &str) -> Option<(Metadata, Target)> {
    let bytes = std::fs::read(file).ok()?;
    // Compact JSON holds no raw line break: the first one ends the entry's line.
    let (line, metadata) = bytes.split_at(memchr::memchr(b'\n', &bytes)?);
    let entry: Entry = serde_json::from_slice(line).ok()?;
    if entry.version != VERSION || entry.key != key {
        return None;
    }
    let fresh = entry.watched.iter().all(watched_unchanged)
        && entry.toolchain.iter().all(|(path, stamp)| stamp_of(path).as_deref() == Some(stamp.as_str()));
    if !fresh {
        return None;
    }
    let metadata = serde_json::from_slice(&metadata[1..]).ok()?;
    Some((metadata, Target::new(entry.triple, entry.features, entry.rustc)))
}

fn store(config: &WorkspaceConfig, key: String, metadata: &Metadata, target: &Target) -> std::io::Result<()> {
    let entry = Entry {
        version: VERSION,
        key: key.clone(),
        watched: watched(config, metadata),
        toolchain: toolchain(),
        triple: target.triple.clone(),
        features: target.features().clone(),
        rustc: target.rustc().cloned(),
    };
    let codegraph = metadata.target_directory.join("codegraph");
    let dir = codegraph.join(DIR);
    std::fs::create_dir_all(&dir)?;
    let mut temp = crate::replacement_file().prefix(".metadata-cache").tempfile_in(&dir)?;
    // Encoded whole, then written at once (the encoder writes token by token).
    let mut bytes = serde_json::to_vec(&entry)?;
    bytes.push(b'\n');
    serde_json::to_writer(&mut bytes, metadata)?;
    temp.write_all(&bytes)?;
    temp.persist(entry_file(&dir, &key)).map_err(|err| err.error)?;
    // Best effort, like the whole cache: the oldest entries beyond the few kept, and an older
    // version's single file.
    let _ = std::fs::remove_file(codegraph.join(OLD_FILE));
    prune(&dir);
    Ok(())
}

/// Removes the entries of `dir` beyond the `MAX_ENTRIES` most recently written.
fn prune(dir: &Utf8Path) {
    let Ok(listing) = dir.read_dir_utf8() else { return };
    let mut entries: Vec<(std::time::SystemTime, Utf8PathBuf)> = listing
        .flatten()
        .filter(|entry| !entry.file_name().starts_with('.') && entry.file_name().ends_with(".json"))
        .filter_map(|entry| Some((entry.metadata().ok()?.modified().ok()?, entry.into_path())))
        .collect();
    if entries.len() > MAX_ENTRIES {
        entries.sort_by(|a, b| b.cmp(a));
        for (_, path) in &entries[MAX_ENTRIES..] {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A folder's listing is watched as `dir/`, with the hash of its sorted entry names.
fn listing(dir: &Utf8Path) -> Option<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).ok()?.filter_map(|entry| entry.ok()?.file_name().into_string().ok()).collect();
    names.sort();
    Some(hash(names.join("\n").as_bytes()))
}

fn watched_unchanged(input: &Input) -> bool {
    match input.path.as_str().strip_suffix('/') {
        Some(dir) => listing(Utf8Path::new(dir)) == input.hash,
        None => input.unchanged(),
    }
}

fn watch_file(path: Utf8PathBuf) -> Input {
    match std::fs::read(&path) {
        Ok(content) => Input::read(path, &content),
        Err(_) => Input::absent(path),
    }
}

/// Every file and folder whose change could change the answer.
fn watched(config: &WorkspaceConfig, metadata: &Metadata) -> Vec<Input> {
    let mut files: BTreeSet<Utf8PathBuf> = BTreeSet::new();
    let mut dirs: BTreeSet<Utf8PathBuf> = BTreeSet::new();
    for package in &metadata.packages {
        if package.source.is_none() {
            files.insert(package.manifest_path.clone());
            // Cargo finds targets by their files (`src/main.rs`, `src/bin/*.rs`, `tests/*.rs`,
            // `examples/*/main.rs`...): the folders that hold them are watched by their names.
            if let Some(root) = package.manifest_path.parent() {
                // Not the root's whole listing: a graph, a log or a note written beside the
                // manifest changes nothing cargo discovers there.
                files.insert(root.join("build.rs"));
                dirs.insert(root.join("src"));
                for holder in ["src/bin", "tests", "examples", "benches"] {
                    let holder = root.join(holder);
                    if let Ok(entries) = std::fs::read_dir(&holder) {
                        for entry in entries.flatten() {
                            if entry.file_type().is_ok_and(|kind| kind.is_dir())
                                && let Ok(dir) = Utf8PathBuf::from_path_buf(entry.path())
                            {
                                dirs.insert(dir);
                            }
                        }
                    }
                    dirs.insert(holder);
                }
            }
        }
    }
    for member in metadata.workspace_packages() {
        // The folder that holds the member's folder: `members = ["crates/*"]` globs it. Globs are
        // relative to the workspace root, so a holder outside it (the folder a root package sits
        // in, such as `~/projects/`, which changes all the time) is never globbed.
        if let Some(holder) = member.manifest_path.parent().and_then(Utf8Path::parent)
            && holder.starts_with(&metadata.workspace_root)
        {
            dirs.insert(holder.to_owned());
        }
    }
    files.insert(metadata.workspace_root.join("Cargo.lock"));
    if let Some(manifest) = &config.manifest_path
        && let Ok(manifest) = Utf8PathBuf::from_path_buf(manifest.clone())
    {
        files.insert(cwd().map_or(manifest.clone(), |cwd| cwd.join(&manifest)));
    }
    let mut roots: Vec<Utf8PathBuf> = vec![metadata.workspace_root.clone()];
    roots.extend(cwd());
    for root in &roots {
        for dir in root.ancestors() {
            for name in ["Cargo.toml", "rust-toolchain", "rust-toolchain.toml"] {
                files.insert(dir.join(name));
            }
            for name in ["config", "config.toml"] {
                files.insert(dir.join(".cargo").join(name));
            }
        }
    }
    let home = std::env::var("HOME").ok().map(Utf8PathBuf::from);
    let cargo_home =
        std::env::var("CARGO_HOME").ok().map(Utf8PathBuf::from).or_else(|| home.as_ref().map(|h| h.join(".cargo")));
    if let Some(cargo_home) = cargo_home {
        files.insert(cargo_home.join("config"));
        files.insert(cargo_home.join("config.toml"));
    }
    if let Some(rustup) = rustup_home() {
        files.insert(rustup.join("settings.toml"));
    }
    let mut watched: Vec<Input> = files.into_iter().map(watch_file).collect();
    watched.extend(dirs.into_iter().map(|dir| Input::listing(Utf8PathBuf::from(format!("{dir}/")), listing(&dir))));
    watched
}

fn rustup_home() -> Option<Utf8PathBuf> {
    std::env::var("RUSTUP_HOME")
        .ok()
        .map(Utf8PathBuf::from)
        .or_else(|| std::env::var("HOME").ok().map(|home| Utf8PathBuf::from(home).join(".rustup")))
}

/// A file's or folder's size and modification time.
fn stamp_of(path: &Utf8Path) -> Option<String> {
    let metadata = std::fs::metadata(path).ok()?;
    let modified = metadata.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    Some(format!("{}:{}", metadata.len(), modified.as_nanos()))
}

/// The executables that answered (`$CARGO`, `$RUSTC`, else the first on `PATH`), and rustup's
/// toolchain folders: an update of a toolchain replaces the files in its `bin`.
fn toolchain() -> Vec<(Utf8PathBuf, String)> {
    let mut paths: Vec<Utf8PathBuf> = Vec::new();
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    for (variable, name) in [("CARGO", "cargo"), ("RUSTC", "rustc")] {
        let found = std::env::var(variable).ok().map(Utf8PathBuf::from).or_else(|| {
            std::env::split_paths(&path_var)
                .map(|dir| dir.join(name))
                .find(|candidate| candidate.is_file())
                .and_then(|found| Utf8PathBuf::from_path_buf(found).ok())
        });
        paths.extend(found);
    }
    if let Some(toolchains) = rustup_home().map(|home| home.join("toolchains")) {
        paths.push(toolchains.clone());
        if let Ok(entries) = std::fs::read_dir(&toolchains) {
            for entry in entries.flatten() {
                if let Ok(dir) = Utf8PathBuf::from_path_buf(entry.path().join("bin")) {
                    paths.push(dir);
                }
            }
        }
    }
    paths.sort();
    paths.into_iter().filter_map(|path| stamp_of(&path).map(|stamp| (path, stamp))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_listings_notice_new_entries() {
        let dir = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(dir.path()).unwrap();
        std::fs::create_dir(dir.join("a")).unwrap();
        let input = Input::listing(Utf8PathBuf::from(format!("{dir}/")), listing(dir));
        assert!(watched_unchanged(&input));
        std::fs::create_dir(dir.join("b")).unwrap();
        assert!(!watched_unchanged(&input), "a new member folder");
        let file = watch_file(dir.join("Cargo.toml"));
        assert!(file.hash.is_none() && watched_unchanged(&file));
        std::fs::write(dir.join("Cargo.toml"), "[package]").unwrap();
        assert!(!watched_unchanged(&file), "a manifest appeared");
    }

    #[test]
    fn the_most_recently_written_entries_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let dir = Utf8Path::from_path(dir.path()).unwrap();
        let epoch = UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let count = MAX_ENTRIES + 3;
        for i in 0..count {
            let file = std::fs::File::create(dir.join(format!("{i:02}.json"))).unwrap();
            file.set_modified(epoch + std::time::Duration::from_secs(i as u64)).unwrap();
        }
        std::fs::write(dir.join(".metadata-cache.tmp"), "").unwrap();
        prune(dir);
        let mut left: Vec<String> =
            dir.read_dir_utf8().unwrap().map(|entry| entry.unwrap().file_name().to_owned()).collect();
        left.sort();
        let mut expected: Vec<String> = (count - MAX_ENTRIES..count).map(|i| format!("{i:02}.json")).collect();
        expected.insert(0, ".metadata-cache.tmp".to_owned());
        assert_eq!(left, expected);
    }
}
