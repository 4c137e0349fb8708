//! What a build read: source files with a hash of their content, and paths it looked for in vain
//! (a `mod x;` whose `x.rs` appears later changes the graph without changing any file read). The
//! cache records them per unit; `plan` checks them, each once, to decide what a rerun does.

use camino::Utf8PathBuf;
use serde::{Deserialize, Serialize};

/// A path the module walk looked at: read, with its content's hash, or looked for and absent, or
/// there but not read (too large: its stamp, and no hash).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Input {
    pub path: Utf8PathBuf,
    /// The xxh3-128 hash of the content, as 32 hex digits; `None` for a path that was absent or
    /// not read.
    pub hash: Option<String>,
    /// What `stat` said of the file before it was read, when it had settled (`Stamp::settled`).
    pub stamp: Option<Stamp>,
}

/// A file's size, modification and status-change times and inode, as `stat` gives them. A file
/// whose stamp is the one it had when it was read is taken as unchanged without being read and
/// hashed again (most of a rerun with nothing changed), as cargo, make and git take files by
/// their times. Writing a file moves its modification time and the time of its status, which no
/// tool can set back (`rsync --inplace` and `touch -d` set the first); a file put in its place
/// is another inode.
///
/// A file's times move in the kernel's coarse ticks (a few milliseconds), so a file written
/// twice within one tick, the second time after it was read, to the same size, would keep its
/// stamp: only a file whose times were both at least `SETTLED` old when it was read is stamped
/// (git's answer to its "racy" files). A file written just before a build is hashed by the
/// next one, as every file was before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Stamp {
    len: u64,
    modified: (i64, i64),
    changed: (i64, i64),
    inode: u64,
}

/// How old a file's times must be when it is read for its stamp to be kept (see `Stamp`).
const SETTLED: std::time::Duration = std::time::Duration::from_secs(2);

impl Stamp {
    #[cfg(unix)]
    fn of(metadata: &std::fs::Metadata) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        Some(Stamp {
            len: metadata.len(),
            modified: (metadata.mtime(), metadata.mtime_nsec()),
            changed: (metadata.ctime(), metadata.ctime_nsec()),
            inode: metadata.ino(),
        })
    }

    /// Elsewhere every file is hashed, as it always was.
    #[cfg(not(unix))]
    fn of(_: &std::fs::Metadata) -> Option<Stamp> {
        None
    }

    /// The stamp of a file about to be read, from its `metadata` taken before reading it (a write
    /// meanwhile moves its times past the stamp); `None` unless both its times are at least
    /// `SETTLED` in the past.
    pub fn settled(metadata: &std::fs::Metadata) -> Option<Stamp> {
        let stamp = Stamp::of(metadata)?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?;
        let settled = |(secs, nanos): (i64, i64)| {
            let time = std::time::Duration::new(u64::try_from(secs).ok()?, u32::try_from(nanos).ok()?);
            now.checked_sub(time).map(|age| age >= SETTLED)
        };
        (settled(stamp.modified)? && settled(stamp.changed)?).then_some(stamp)
    }
}

impl Input {
    pub fn read(path: Utf8PathBuf, content: &[u8]) -> Input {
        Input { path, hash: Some(hash(content)), stamp: None }
    }

    /// `read`, stamped (`Stamp::settled`).
    pub fn read_stamped(path: Utf8PathBuf, content: &[u8], stamp: Option<Stamp>) -> Input {
        Input { stamp, ..Input::read(path, content) }
    }

    pub fn absent(path: Utf8PathBuf) -> Input {
        Input { path, hash: None, stamp: None }
    }

    /// A file that is there but was not read (larger than the walk reads), by its stamp: the
    /// same file is not read on every rerun to find it changed. Without a stamp it is always
    /// taken as changed.
    pub fn unread(path: Utf8PathBuf, stamp: Option<Stamp>) -> Input {
        Input { path, hash: None, stamp }
    }

    /// A folder's listing, watched as `dir/` with the hash of its entries' names.
    pub fn listing(dir: Utf8PathBuf, hash: Option<String>) -> Input {
        Input { path: dir, hash, stamp: None }
    }

    /// Whether the path is still as it was.
    pub fn unchanged(&self) -> bool {
        // A path that held no regular file (a folder, a FIFO) is looked at, never opened: opening
        // a FIFO would wait for a writer.
        let Some(metadata) = std::fs::metadata(&self.path).ok().filter(std::fs::Metadata::is_file) else {
            return self.hash.is_none() && self.stamp.is_none();
        };
        if self.stamp.is_some() && self.stamp == Stamp::of(&metadata) {
            return true;
        }
        // Nothing read to compare with (a file absent then, or not read, too large, whose stamp
        // moved): a regular file there now is a change, and is not read to find that out.
        let Some(expected) = &self.hash else { return false };
        std::fs::read(&self.path).is_ok_and(|content| hash(&content) == *expected)
    }
}

/// The xxh3-128 hash of `content`, as 32 hex digits.
pub fn hash(content: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(content))
}

/// A fingerprint of what decides (part of) the graph besides the sources: `facts` is a
/// description of them, hashed with the tool and schema versions and this build of the tool.
pub fn fingerprint(facts: &str) -> String {
    let text = format!("{}\n{}\n{}\n{facts}", env!("CARGO_PKG_VERSION"), crate::model::SCHEMA_VERSION, build_id());
    hash(text.as_bytes())
}

/// This build of the tool: the size and modification time of the running executable. Two builds
/// of one version (two commits between releases) parse and resolve differently, and one must not
/// take the other's cached outputs for its own; an executable installed again rebuilds its
/// graphs once. Empty when the executable cannot be looked at.
fn build_id() -> &'static str {
    static BUILD_ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BUILD_ID.get_or_init(|| {
        let Some(metadata) = std::env::current_exe().and_then(std::fs::metadata).ok() else { return String::new() };
        let modified = metadata.modified().ok().and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok());
        format!("{} {}", metadata.len(), modified.map_or(0, |time| time.as_nanos()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_notice_changes_and_paths_that_appear() {
        let dir = tempfile::tempdir().unwrap();
        let root = camino::Utf8Path::from_path(dir.path()).unwrap();
        let source = root.join("lib.rs");
        std::fs::write(&source, b"fn a() {}").unwrap();
        let read = Input::read(source.clone(), b"fn a() {}");
        let absent = Input::absent(root.join("x.rs"));
        assert!(read.unchanged() && absent.unchanged());
        std::fs::write(root.join("x.rs"), b"").unwrap();
        assert!(!absent.unchanged(), "an absent path appeared");
        std::fs::write(&source, b"fn b() {}").unwrap();
        assert!(!read.unchanged(), "a file changed");
        std::fs::write(&source, b"fn a() {}").unwrap();
        assert!(read.unchanged(), "changed back");
        assert_ne!(fingerprint("a"), fingerprint("b"));
    }

    /// A stamped file whose stamp is unchanged is not read again (a stamp taken now, with a hash
    /// that is not the content's, passes); a write of the same size moves the stamp, and the
    /// content decides again. A file is stamped only once it has settled.
    #[cfg(unix)]
    #[test]
    fn a_settled_file_is_taken_by_its_stamp_and_a_fresh_one_by_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let source = camino::Utf8Path::from_path(dir.path()).unwrap().join("lib.rs");
        std::fs::write(&source, b"fn a() {}").unwrap();
        let metadata = || std::fs::metadata(&source).unwrap();
        assert_eq!(Stamp::settled(&metadata()), None, "just written");
        let stamped =
            Input { stamp: Stamp::of(&metadata()), ..Input::read(source.clone(), b"not what the file holds") };
        assert!(stamped.unchanged(), "taken by its stamp, not read");
        // Past the kernel's coarse tick of file times.
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::fs::write(&source, b"fn b() {}").unwrap();
        assert!(!stamped.unchanged(), "a write of the same size moved the stamp");
        let read = Input::read_stamped(source.clone(), b"fn b() {}", Stamp::of(&metadata()));
        assert!(read.unchanged());
        // Old enough, the file is stamped when read.
        std::thread::sleep(SETTLED + std::time::Duration::from_millis(100));
        assert_eq!(Stamp::settled(&metadata()), Stamp::of(&metadata()));
        assert!(Stamp::settled(&metadata()).is_some());
    }
}
