//! Which file a `mod x;` declaration means, following the Rust reference's rules: `x.rs` or
//! `x/mod.rs` beside a `mod.rs`-like file, nested non-`mod.rs` layouts (`a.rs` with `a/x.rs`),
//! `#[path = "..."]` (relative to the declaring file's folder, or inside inline modules to the
//! folder the inline modules stand for), and inline `mod x { mod y; }`.
//!
//! Module trees are only ever found by following declarations from a crate's root file, never
//! by globbing folders. This module is pure path arithmetic: the caller says which candidates
//! exist.

use camino::{Utf8Path, Utf8PathBuf};

/// A file that is the body of a module.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    fn inline_modules_add_folders() {
        let root = ModuleFile::crate_root("src/lib.rs".into());
        assert_eq!(paths(&root, "c", None, &["a", "b"])[0].0, "src/a/b/c.rs");
        let util = ModuleFile { path: "src/util.rs".into(), owns_dir: false };
        assert_eq!(paths(&util, "extra", Some("extra_impl.rs"), &["inner"])[0].0, "src/util/inner/extra_impl.rs");
        assert_eq!(paths(&root, "x", Some("x.rs"), &["inner"])[0].0, "src/inner/x.rs");
    }
}
