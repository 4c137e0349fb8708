//! What a build read: source files with a hash of their content, and paths it looked for in vain
//! (a `mod x;` whose `x.rs` appears later changes the graph without changing any file read). The
//! cache records them per unit; `plan` checks them, each once, to decide what a rerun does.

use camino::Utf8PathBuf;
use serde::{Deserialize, Serialize};

/// A path the module walk looked at: read, with its content's hash, or looked for and absent.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Input {
    pub path: Utf8PathBuf,
    /// The xxh3-128 hash of the content, as 32 hex digits; `None` for a path that was absent.
    pub hash: Option<String>,
}

impl Input {
    pub fn read(path: Utf8PathBuf, content: &[u8]) -> Input {
        Input { path, hash: Some(hash(content)) }
    }

    pub fn absent(path: Utf8PathBuf) -> Input {
        Input { path, hash: None }
    }

    /// Whether the path is still as it was.
    pub fn unchanged(&self) -> bool {
        // A path that held no regular file (a folder, a FIFO) is looked at, never opened: opening
        // a FIFO would wait for a writer.
        if !std::fs::metadata(&self.path).is_ok_and(|metadata| metadata.is_file()) {
            return self.hash.is_none();
        }
        match (&self.hash, std::fs::read(&self.path)) {
            (Some(expected), Ok(content)) => hash(&content) == *expected,
            (None, Err(err)) => err.kind() == std::io::ErrorKind::NotFound,
            _ => false,
        }
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
}
