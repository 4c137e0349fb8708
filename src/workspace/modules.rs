//! Which file a `mod x;` declaration means, following the Rust reference's rules: `x.rs` or
//! `x/mod.rs` beside a `mod.rs`-like file, nested non-`mod.rs` layouts (`a.rs` with `a/x.rs`),
//! `#[path = "..."]` (relative to the declaring file's folder, or inside inline modules to the
//! folder the inline modules stand for), and inline `mod x { mod y; }`.
//!
//! Module trees are only ever found by following declarations from a crate's root file, never
//! by globbing folders. `candidates` is pure path arithmetic; `lookup` asks the file system which
//! of them exist, and says so when what it finds is not one readable file (rustc's E0761: both
//! `x.rs` and `x/mod.rs`; a folder; a symlink loop).

use camino::{Utf8Path, Utf8PathBuf};

/// A file that is the body of a module.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModuleFile {
    pub path: Utf8PathBuf,
    /// Whether the file owns its folder: crate roots, `mod.rs` files and files loaded through
    /// `#[path]`. The children of such a file sit beside it; those of `a.rs` sit in `a/`.
    pub owns_dir: bool,
}

impl ModuleFile {
    pub fn crate_root(path: Utf8PathBuf) -> ModuleFile {
        ModuleFile { path, owns_dir: true }
    }

    /// The folder the file's own (non-inline) child modules are looked up in.
    fn child_dir(&self) -> Utf8PathBuf {
        let dir = self.path.parent().unwrap_or(Utf8Path::new("")).to_owned();
        if self.owns_dir { dir } else { dir.join(self.path.file_stem().unwrap_or_default()) }
    }
}

/// A `mod name;` declaration, where it stands.
#[derive(Clone, Copy, Debug)]
pub struct ModDecl<'a> {
    pub name: &'a str,
    pub path_attr: Option<&'a str>,
    /// `#[cfg_attr(predicate, path = "...")]` values whose predicate holds: tried first, in
    /// order, when there is no `#[path]`.
    pub cfg_paths: &'a [String],
    /// Those whose predicate does not hold: tried last, so that the file of a module that is not
    /// compiled in this configuration is still found.
    pub inactive_cfg_paths: &'a [String],
    /// The folder names of the inline modules the declaration is nested in, outermost first
    /// (each inline module's `#[path]` if it has one, else its name).
    pub inline_dirs: &'a [String],
}

/// The files `decl` may mean, in the order rustc tries them, and how each would be loaded.
pub fn candidates(parent: &ModuleFile, decl: ModDecl<'_>) -> Vec<ModuleFile> {
    // Outside inline modules, `#[path]` is relative to the declaring file's folder even for a
    // non-mod.rs file; inside them, to the folder the inline modules stand for.
    let path_base = || {
        if decl.inline_dirs.is_empty() {
            parent.path.parent().unwrap_or(Utf8Path::new("")).to_owned()
        } else {
            inline_base(parent, decl.inline_dirs)
        }
    };
    if let Some(path_attr) = decl.path_attr {
        return vec![ModuleFile { path: path_base().join(path_attr), owns_dir: true }];
    }
    let by_path_attr = |paths: &[String]| -> Vec<ModuleFile> {
        paths.iter().map(|path| ModuleFile { path: path_base().join(path), owns_dir: true }).collect()
    };
    let mut candidates = by_path_attr(decl.cfg_paths);
    let base = inline_base(parent, decl.inline_dirs);
    candidates.push(ModuleFile { path: base.join(format!("{}.rs", decl.name)), owns_dir: false });
    candidates.push(ModuleFile { path: base.join(decl.name).join("mod.rs"), owns_dir: true });
    candidates.extend(by_path_attr(decl.inactive_cfg_paths));
    candidates
}

/// What a module's candidate files are on disk.
#[derive(Debug)]
pub enum Lookup<'a> {
    /// The first candidate that exists is a file.
    Found(&'a ModuleFile),
    /// Both `x.rs` and `x/mod.rs` exist (rustc's E0761): the first is indexed, and this is an error.
    Ambiguous { found: &'a ModuleFile, other: &'a ModuleFile },
    /// The first candidate that exists is no regular file (a folder, a FIFO, a socket), or cannot
    /// be looked at (a symlink loop, a folder without permission): `why` says which.
    Unusable { candidate: &'a ModuleFile, why: String },
    /// No candidate exists.
    Missing,
}

/// Looks `candidates` (from `candidates`) up on disk, in order, as rustc does: the first path that
/// exists decides, whatever it is.
pub fn lookup(candidates: &[ModuleFile]) -> Lookup<'_> {
    for (index, candidate) in candidates.iter().enumerate() {
        let metadata = match std::fs::metadata(&candidate.path) {
            Ok(metadata) => metadata,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            // A path through a file (`a.rs/x.rs`) does not exist either.
            Err(err) if err.kind() == std::io::ErrorKind::NotADirectory => continue,
            Err(err) => return Lookup::Unusable { candidate, why: format!("cannot be looked at: {err}") },
        };
        if metadata.is_dir() {
            return Lookup::Unusable { candidate, why: "is a folder, not a file".to_owned() };
        }
        if !metadata.is_file() {
            return Lookup::Unusable { candidate, why: "is not a regular file".to_owned() };
        }
        // Only the `x.rs` of a plain `mod x;` has a twin (`x/mod.rs`, the next candidate); paths
        // from `#[path]` own their folder.
        if !candidate.owns_dir
            && let Some(other) = candidates.get(index + 1)
            && other.path.is_file()
        {
            return Lookup::Ambiguous { found: candidate, other };
        }
        return Lookup::Found(candidate);
    }
    Lookup::Missing
}

fn inline_base(parent: &ModuleFile, inline_dirs: &[String]) -> Utf8PathBuf {
    let mut base = parent.child_dir();
    for dir in inline_dirs {
        base.push(dir);
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(parent: &ModuleFile, name: &str, path_attr: Option<&str>, inline: &[&str]) -> Vec<(String, bool)> {
        let inline: Vec<String> = inline.iter().map(|s| s.to_string()).collect();
        candidates(parent, ModDecl { name, path_attr, cfg_paths: &[], inactive_cfg_paths: &[], inline_dirs: &inline })
            .into_iter()
            .map(|file| (file.path.to_string(), file.owns_dir))
            .collect()
    }

    #[test]
    fn crate_root_children_sit_beside_it() {
        let root = ModuleFile::crate_root("src/lib.rs".into());
        assert_eq!(paths(&root, "a", None, &[]), [("src/a.rs".into(), false), ("src/a/mod.rs".into(), true)]);
    }

    #[test]
    fn non_mod_rs_children_sit_in_its_folder() {
        let a = ModuleFile { path: "src/a.rs".into(), owns_dir: false };
        assert_eq!(paths(&a, "b", None, &[])[0].0, "src/a/b.rs");
        let a_mod = ModuleFile { path: "src/a/mod.rs".into(), owns_dir: true };
        assert_eq!(paths(&a_mod, "b", None, &[])[1].0, "src/a/b/mod.rs");
    }

    #[test]
    fn path_attribute_is_relative_to_the_declaring_folder() {
        let a = ModuleFile { path: "src/a.rs".into(), owns_dir: false };
        assert_eq!(paths(&a, "x", Some("other.rs"), &[]), [("src/other.rs".into(), true)]);
        let root = ModuleFile::crate_root("src/main.rs".into());
        assert_eq!(paths(&root, "x", Some("sys/unix.rs"), &[]), [("src/sys/unix.rs".into(), true)]);
    }

    #[test]
    fn active_cfg_attr_paths_come_first_and_inactive_ones_last() {
        let root = ModuleFile::crate_root("src/lib.rs".into());
        let decl = ModDecl {
            name: "sys",
            path_attr: None,
            cfg_paths: &["sys/unix.rs".to_owned()],
            inactive_cfg_paths: &["sys/windows.rs".to_owned()],
            inline_dirs: &[],
        };
        let found: Vec<String> = candidates(&root, decl).into_iter().map(|file| file.path.to_string()).collect();
        assert_eq!(found, ["src/sys/unix.rs", "src/sys.rs", "src/sys/mod.rs", "src/sys/windows.rs"]);
    }

    #[test]
    fn lookup_reports_what_is_not_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
        let lib = ModuleFile::crate_root(root.join("lib.rs"));
        let decl = |name| ModDecl { name, path_attr: None, cfg_paths: &[], inactive_cfg_paths: &[], inline_dirs: &[] };
        std::fs::create_dir_all(root.join("both")).unwrap();
        std::fs::write(root.join("both.rs"), "").unwrap();
        std::fs::write(root.join("both/mod.rs"), "").unwrap();
        std::fs::create_dir_all(root.join("folder.rs")).unwrap();
        std::fs::write(root.join("plain.rs"), "").unwrap();

        let both = candidates(&lib, decl("both"));
        assert!(
            matches!(lookup(&both), Lookup::Ambiguous { found, other } if found.path.ends_with("both.rs") && other.path.ends_with("both/mod.rs"))
        );
        let folder = candidates(&lib, decl("folder"));
        assert!(
            matches!(lookup(&folder), Lookup::Unusable { candidate, why } if candidate.path.ends_with("folder.rs") && why.contains("folder"))
        );
        let plain = candidates(&lib, decl("plain"));
        assert!(matches!(lookup(&plain), Lookup::Found(found) if found.path.ends_with("plain.rs")));
        assert!(matches!(lookup(&candidates(&lib, decl("none"))), Lookup::Missing));
    }

    #[test]
    fn inline_modules_add_folders() {
        let root = ModuleFile::crate_root("src/lib.rs".into());
        assert_eq!(paths(&root, "c", None, &["a", "b"])[0].0, "src/a/b/c.rs");
        let util = ModuleFile { path: "src/util.rs".into(), owns_dir: false };
        assert_eq!(paths(&util, "extra", Some("extra_impl.rs"), &["inner"])[0].0, "src/util/inner/extra_impl.rs");
        assert_eq!(paths(&root, "x", Some("x.rs"), &["inner"])[0].0, "src/inner/x.rs");
    }
}
