//! The workspace stage: `cargo metadata` in, the packages and crates to index out.
//!
//! A *crate* here is one cargo target (lib, bin, proc-macro, test, bench, example, build script),
//! since each compiles to its own crate with its own module tree. This module decides which
//! packages are selected (cargo's `-p`/`--workspace`/`--exclude` rules), which are indexed,
//! how their files are named in the graph, and which crate depends on which. It knows nothing
//! about syntax, scheduling or the store.

mod cached;
pub mod modules;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use camino::{Utf8Component, Utf8Path, Utf8PathBuf};
use cargo_metadata::{DependencyKind, Metadata, Package, PackageId, TargetKind};

use crate::ids::Key;
use crate::model::VertexKind;

/// How to ask cargo for the workspace, with cargo's own flags.
#[derive(Clone, Debug, Default)]
pub struct WorkspaceConfig {
    pub manifest_path: Option<PathBuf>,
    pub selection: clap_cargo::Workspace,
    pub features: clap_cargo::Features,
    /// `--target`: the platform whose dependencies count (cargo's `--filter-platform`).
    pub target: Option<String>,
    pub offline: bool,
    pub locked: bool,
    pub frozen: bool,
    /// Index the selected packages' dependencies too, not only the selected members.
    pub deps: bool,
    /// Which targets of the selected packages to index (cargo's `--lib`, `--bins`, ...).
    pub targets: TargetSelection,
}

/// Cargo's target selection (`--lib`, `--bins`, `--bin NAME`, `--tests`, `--test NAME`,
/// `--benches`, `--bench NAME`, `--examples`, `--example NAME`, `--all-targets`), for the selected
/// packages. With none of them, every target is indexed, build scripts included: a code graph is
/// asked about tests and examples as much as about the library. A selected binary, test, bench or
/// example brings its package's library with it, since it links it (as cargo builds it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetSelection {
    pub lib: bool,
    pub bins: bool,
    pub bin: Vec<String>,
    pub tests: bool,
    pub test: Vec<String>,
    pub benches: bool,
    pub bench: Vec<String>,
    pub examples: bool,
    pub example: Vec<String>,
    pub all_targets: bool,
}

impl TargetSelection {
    /// Whether every target is indexed (no flag, or `--all-targets`).
    pub fn is_all(&self) -> bool {
        self.all_targets || *self == TargetSelection::default()
    }

    /// Whether a target of a selected package is asked for by name or kind (the library's
    /// coming along with the others is decided by the caller).
    fn wants(&self, kind: CrateKind, name: &str) -> bool {
        if self.is_all() {
            return true;
        }
        let named = |names: &[String]| names.iter().any(|n| n == name);
        match kind {
            CrateKind::Lib | CrateKind::ProcMacro => self.lib,
            CrateKind::Bin => self.bins || named(&self.bin),
            CrateKind::Test => self.tests || named(&self.test),
            CrateKind::Bench => self.benches || named(&self.bench),
            CrateKind::Example => self.examples || named(&self.example),
            CrateKind::CustomBuild => false,
        }
    }

    /// The targets named by `--bin NAME` and the like, with their kind.
    fn named(&self) -> Vec<(CrateKind, &str)> {
        [
            (CrateKind::Bin, &self.bin),
            (CrateKind::Test, &self.test),
            (CrateKind::Bench, &self.bench),
            (CrateKind::Example, &self.example),
        ]
        .into_iter()
        .flat_map(|(kind, names)| names.iter().map(move |name| (kind, name.as_str())))
        .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("`cargo metadata` failed for {manifest}:\n{}", indent(stderr))]
    Metadata { manifest: String, stderr: String },
    #[error("failed to run `cargo metadata` for {manifest}: {source}")]
    Cargo {
        manifest: String,
        #[source]
        source: cargo_metadata::Error,
    },
    #[error("package `{spec}` is not a member of the workspace at `{root}`")]
    UnknownPackage { spec: String, root: Utf8PathBuf },
    #[error("no package is selected in the workspace at `{root}` (check `--package` and `--exclude`)")]
    NothingSelected { root: Utf8PathBuf },
    #[error("no {kind} target named `{name}` in the selected packages{}", list_available(.available))]
    NoSuchTarget { kind: &'static str, name: String, available: Vec<String> },
}

fn list_available(names: &[String]) -> String {
    if names.is_empty() { String::new() } else { format!(" (available: {})", names.join(", ")) }
}

/// Where a package comes from, as the graph records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    Workspace,
    Registry,
    Git,
    Path,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Workspace => "workspace",
            SourceKind::Registry => "registry",
            SourceKind::Git => "git",
            SourceKind::Path => "path",
        }
    }
}

#[derive(Debug)]
pub struct PackageInfo {
    pub name: String,
    pub version: String,
    pub source: SourceKind,
    /// The folder that holds the package's `Cargo.toml`.
    pub dir: Utf8PathBuf,
    pub key: Key,
    /// Whether its crates' sources are indexed (else only the package and its library appear,
    /// as the far end of `depends_on` edges).
    pub indexed: bool,
    /// The features cargo resolved for it (what `feature = "..."` predicates see).
    pub features: BTreeSet<String>,
    /// How this package's files are named in the graph: relative to the workspace root for
    /// packages inside it, `name-version/...` for the others. Never absolute.
    display_base: DisplayBase,
}

#[derive(Debug)]
enum DisplayBase {
    WorkspaceRoot,
    Package(String),
}

/// The kind of a crate target, as the graph records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CrateKind {
    Lib,
    ProcMacro,
    Bin,
    Test,
    Bench,
    Example,
    CustomBuild,
}

impl CrateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CrateKind::Lib => "lib",
            CrateKind::ProcMacro => "proc-macro",
            CrateKind::Bin => "bin",
            CrateKind::Test => "test",
            CrateKind::Bench => "bench",
            CrateKind::Example => "example",
            CrateKind::CustomBuild => "custom-build",
        }
    }

    fn of(kinds: &[TargetKind]) -> Option<CrateKind> {
        // A target lists several kinds only for libraries (`["lib", "cdylib"]`): any library kind
        // makes it the package's library.
        kinds.iter().find_map(|kind| match kind {
            TargetKind::Lib | TargetKind::RLib | TargetKind::DyLib | TargetKind::CDyLib | TargetKind::StaticLib => {
                Some(CrateKind::Lib)
            }
            TargetKind::ProcMacro => Some(CrateKind::ProcMacro),
            TargetKind::Bin => Some(CrateKind::Bin),
            TargetKind::Test => Some(CrateKind::Test),
            TargetKind::Bench => Some(CrateKind::Bench),
            TargetKind::Example => Some(CrateKind::Example),
            TargetKind::CustomBuild => Some(CrateKind::CustomBuild),
            _ => None,
        })
    }

    /// Whether other packages can depend on this crate.
    pub fn is_library(self) -> bool {
        matches!(self, CrateKind::Lib | CrateKind::ProcMacro)
    }

    /// Which dependency kinds a crate of this kind is compiled with.
    fn uses(self, dep: DependencyKind) -> bool {
        match self {
            CrateKind::CustomBuild => dep == DependencyKind::Build,
            CrateKind::Test | CrateKind::Bench | CrateKind::Example => {
                matches!(dep, DependencyKind::Normal | DependencyKind::Development)
            }
            CrateKind::Lib | CrateKind::ProcMacro | CrateKind::Bin => dep == DependencyKind::Normal,
        }
    }
}

#[derive(Debug)]
pub struct CrateInfo {
    /// Index into `Workspace::packages`.
    pub package: usize,
    pub kind: CrateKind,
    /// The target's name as in `Cargo.toml` (`my-tool`).
    pub name: String,
    /// The name paths start with (`my_tool`).
    pub crate_name: String,
    pub edition: String,
    /// The crate's root file, absolute (never stored: see `Workspace::display_path`).
    pub root: Utf8PathBuf,
    pub key: Key,
    pub indexed: bool,
}

/// How a crate depends on another, as the `depends_on` edge records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DepKind {
    Normal,
    Dev,
    Build,
}

impl DepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DepKind::Normal => "normal",
            DepKind::Dev => "dev",
            DepKind::Build => "build",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CrateDep {
    pub from: usize,
    pub to: usize,
    pub kind: DepKind,
    /// The name the dependency is used by, when it is renamed in `Cargo.toml`.
    pub rename: Option<String>,
}

/// The workspace as the rest of the pipeline sees it. Packages and crates are sorted by key, so
/// their order (and every output derived from it) does not depend on `cargo metadata`'s order.
#[derive(Debug)]
pub struct Workspace {
    pub root: Utf8PathBuf,
    pub target_dir: Utf8PathBuf,
    pub packages: Vec<PackageInfo>,
    pub crates: Vec<CrateInfo>,
    pub deps: Vec<CrateDep>,
    /// The platform `cfg` predicates are evaluated for: `--target`, else the host.
    pub target: std::sync::Arc<crate::cfg::Target>,
    /// The `codegraph` tables of `[workspace.metadata]` and of the selected members'
    /// `[package.metadata]`, where `check` finds its rules.
    pub rule_tables: Vec<RuleTable>,
}

/// A `codegraph` metadata table, and where it was written.
#[derive(Debug, Clone)]
pub struct RuleTable {
    /// `[workspace.metadata.codegraph]` or `[package.metadata.codegraph]`.
    pub table: String,
    /// The manifest, as the graph names files.
    pub manifest: String,
    pub value: serde_json::Value,
}

impl Workspace {
    /// Asks cargo for the workspace and selects what to index.
    pub fn load(config: &WorkspaceConfig) -> Result<Workspace, WorkspaceError> {
        let (metadata, target) = cached::metadata_and_target(config, || metadata(config))?;
        Workspace::from_metadata(&metadata, config, target)
    }

    pub fn from_metadata(
        metadata: &Metadata,
        config: &WorkspaceConfig,
        target: crate::cfg::Target,
    ) -> Result<Workspace, WorkspaceError> {
        let selected = select(metadata, config)?;
        let resolve: HashMap<&PackageId, &cargo_metadata::Node> =
            metadata.resolve.iter().flat_map(|resolve| &resolve.nodes).map(|node| (&node.id, node)).collect();
        let by_id: HashMap<&PackageId, &Package> = metadata.packages.iter().map(|p| (&p.id, p)).collect();
        let members: BTreeSet<&PackageId> = metadata.workspace_members.iter().collect();

        // Indexed: the selection, and with `--deps` everything it builds with (dev-dependencies
        // only of the selected packages themselves: a dependency's tests are not built).
        let mut indexed: BTreeSet<&PackageId> = selected.iter().copied().collect();
        if config.deps {
            let mut stack: Vec<&PackageId> = indexed.iter().copied().collect();
            while let Some(id) = stack.pop() {
                let is_selected = selected.contains(&id);
                for dep in resolve.get(id).map(|node| node.deps.as_slice()).unwrap_or_default() {
                    let dev_only = !dep.dep_kinds.is_empty()
                        && dep.dep_kinds.iter().all(|k| k.kind == DependencyKind::Development);
                    if (is_selected || !dev_only) && indexed.insert(&dep.pkg) {
                        stack.push(&dep.pkg);
                    }
                }
            }
        }
        // Shown but not indexed: the direct dependencies of indexed packages.
        let mut shown: BTreeSet<&PackageId> = indexed.clone();
        for id in &indexed {
            for dep in resolve.get(id).map(|node| node.deps.as_slice()).unwrap_or_default() {
                shown.insert(&dep.pkg);
            }
        }

        let mut packages: Vec<(&Package, PackageInfo)> = shown
            .iter()
            .filter_map(|id| by_id.get(id).copied())
            .map(|package| {
                let member = members.contains(&package.id);
                let mut info = package_info(metadata, package, member, indexed.contains(&package.id));
                if let Some(node) = resolve.get(&package.id) {
                    info.features = node.features.iter().map(|f| f.to_string()).collect();
                }
                (package, info)
            })
            .collect();
        packages.sort_by(|a, b| a.1.key.cmp(&b.1.key));

        let selection = &config.targets;
        for (kind, name) in selection.named() {
            let targets_of_kind = || {
                packages
                    .iter()
                    .filter(|(package, _)| selected.contains(&&package.id))
                    .flat_map(|(package, _)| &package.targets)
                    .filter(move |target| CrateKind::of(&target.kind) == Some(kind))
            };
            if !targets_of_kind().any(|target| target.name == name) {
                let mut available: Vec<String> = targets_of_kind().map(|target| target.name.clone()).collect();
                available.sort();
                return Err(WorkspaceError::NoSuchTarget { kind: kind.as_str(), name: name.to_owned(), available });
            }
        }
        let mut crates = Vec::new();
        for (index, (package, info)) in packages.iter().enumerate() {
            let is_selected = selected.contains(&&package.id);
            // A selected binary, test, bench or example links its package's library.
            let library_needed = is_selected
                && package
                    .targets
                    .iter()
                    .any(|target| CrateKind::of(&target.kind).is_some_and(|kind| selection.wants(kind, &target.name)));
            for target in &package.targets {
                let Some(kind) = CrateKind::of(&target.kind) else { continue };
                // Of a package that is not selected, only its library takes part in the build.
                if !is_selected && !kind.is_library() {
                    continue;
                }
                let wanted = selection.wants(kind, &target.name) || (kind.is_library() && library_needed);
                if is_selected && !wanted {
                    continue;
                }
                crates.push(CrateInfo {
                    package: index,
                    kind,
                    name: target.name.clone(),
                    crate_name: target.name.replace('-', "_"),
                    edition: target.edition.as_str().to_owned(),
                    root: target.src_path.clone(),
                    key: info.key.child(VertexKind::Crate, &format!("{}:{}", kind.as_str(), target.name)),
                    indexed: info.indexed,
                });
            }
        }
        crates.sort_by(|a, b| a.key.cmp(&b.key));

        let deps = crate_deps(&packages, &crates, &resolve);
        let mut rule_tables = Vec::new();
        if let Some(value) = metadata.workspace_metadata.get("codegraph") {
            rule_tables.push(RuleTable {
                table: "[workspace.metadata.codegraph]".to_owned(),
                manifest: "Cargo.toml".to_owned(),
                value: value.clone(),
            });
        }
        for (package, _) in &packages {
            if selected.contains(&&package.id)
                && let Some(value) = package.metadata.get("codegraph")
            {
                rule_tables.push(RuleTable {
                    table: "[package.metadata.codegraph]".to_owned(),
                    manifest: relative_path(&package.manifest_path, &metadata.workspace_root),
                    value: value.clone(),
                });
            }
        }
        let packages = packages.into_iter().map(|(_, info)| info).collect();
        Ok(Workspace {
            root: metadata.workspace_root.clone(),
            target_dir: metadata.target_directory.clone(),
            packages,
            crates,
            deps,
            target: std::sync::Arc::new(target),
            rule_tables,
        })
    }

    /// The name of a file in the graph: relative to the workspace root with `/` separators for
    /// packages inside it, `name-version/relative` for the others.
    pub fn display_path(&self, package: &PackageInfo, path: &Utf8Path) -> String {
        match &package.display_base {
            DisplayBase::WorkspaceRoot => relative_path(path, &self.root),
            DisplayBase::Package(prefix) => format!("{prefix}/{}", relative_path(path, &package.dir)),
        }
    }
}

impl PackageInfo {
    /// A file's key within its package: its path relative to the package folder.
    pub fn file_key(&self, path: &Utf8Path) -> Key {
        self.key.child(VertexKind::File, &relative_path(path, &self.dir))
    }
}

fn metadata(config: &WorkspaceConfig) -> Result<Metadata, WorkspaceError> {
    exec(config, &metadata_command(config))
}

/// The target folder of the workspace that `manifest_path` (or the current folder) names, from a
/// quick `cargo metadata --no-deps`.
pub fn target_dir(manifest_path: Option<&std::path::Path>, offline: bool) -> Result<Utf8PathBuf, WorkspaceError> {
    locate(manifest_path, offline).map(|(_, target_dir)| target_dir)
}

/// The workspace's root and target folder, from `cargo metadata --no-deps`.
pub fn locate(
    manifest_path: Option<&std::path::Path>,
    offline: bool,
) -> Result<(Utf8PathBuf, Utf8PathBuf), WorkspaceError> {
    let config =
        WorkspaceConfig { manifest_path: manifest_path.map(Into::into), offline, ..WorkspaceConfig::default() };
    let mut command = metadata_command(&config);
    command.no_deps();
    exec(&config, &command).map(|metadata| (metadata.workspace_root, metadata.target_directory))
}

fn metadata_command(config: &WorkspaceConfig) -> cargo_metadata::MetadataCommand {
    let mut command = cargo_metadata::MetadataCommand::new();
    if let Some(path) = &config.manifest_path {
        command.manifest_path(path);
    }
    config.features.forward_metadata(&mut command);
    let mut options = Vec::new();
    if let Some(target) = &config.target {
        options.extend(["--filter-platform".to_owned(), target.clone()]);
    }
    for (flag, on) in [("--offline", config.offline), ("--locked", config.locked), ("--frozen", config.frozen)] {
        if on {
            options.push(flag.to_owned());
        }
    }
    command.other_options(options);
    command
}

/// Runs `cargo metadata`; a failure names the manifest and carries cargo's own message.
fn exec(config: &WorkspaceConfig, command: &cargo_metadata::MetadataCommand) -> Result<Metadata, WorkspaceError> {
    let manifest = match &config.manifest_path {
        Some(path) => format!("`{}`", path.display()),
        None => match std::env::current_dir() {
            Ok(dir) => format!("`Cargo.toml` in `{}` or a parent folder", dir.display()),
            Err(_) => "`Cargo.toml` in the current folder".to_owned(),
        },
    };
    command.exec().map_err(|source| match source {
        cargo_metadata::Error::CargoMetadata { stderr } => {
            WorkspaceError::Metadata { manifest, stderr: stderr.trim_end().to_owned() }
        }
        source => WorkspaceError::Cargo { manifest, source },
    })
}

/// The selected workspace members, following cargo: `-p`, `--workspace`, `--exclude`, or by
/// default the package whose manifest cargo found (from `--manifest-path` or the current folder),
/// else the workspace's default members.
fn select<'m>(metadata: &'m Metadata, config: &WorkspaceConfig) -> Result<Vec<&'m PackageId>, WorkspaceError> {
    let flags = &config.selection;
    let members: Vec<&Package> = metadata.workspace_packages();
    for spec in flags.package.iter().chain(&flags.exclude) {
        if !members.iter().any(|p| p.name.as_str() == spec) {
            return Err(WorkspaceError::UnknownPackage { spec: spec.clone(), root: metadata.workspace_root.clone() });
        }
    }
    let default = !flags.workspace && !flags.all && flags.package.is_empty() && flags.exclude.is_empty();
    let current = if default { current_member(metadata, config) } else { None };
    let selected: Vec<&PackageId> = match current {
        Some(package) => vec![&package.id],
        None => flags.partition_packages(metadata).0.into_iter().map(|p| &p.id).collect(),
    };
    if selected.is_empty() {
        return Err(WorkspaceError::NothingSelected { root: metadata.workspace_root.clone() });
    }
    Ok(selected)
}

/// The member whose own manifest cargo was pointed at, when that is not the workspace root's:
/// `cargo build` in a member's folder builds that member alone.
fn current_member<'m>(metadata: &'m Metadata, config: &WorkspaceConfig) -> Option<&'m Package> {
    let manifest: Utf8PathBuf = match &config.manifest_path {
        Some(path) => Utf8PathBuf::from_path_buf(std::path::absolute(path).ok()?).ok()?,
        None => {
            let cwd = Utf8PathBuf::from_path_buf(std::env::current_dir().ok()?).ok()?;
            cwd.ancestors().map(|dir| dir.join("Cargo.toml")).find(|path| path.is_file())?
        }
    };
    let manifest = normalize(&manifest);
    if manifest == normalize(&metadata.workspace_root.join("Cargo.toml")) {
        return None;
    }
    metadata.workspace_packages().into_iter().find(|p| normalize(&p.manifest_path) == manifest)
}

fn package_info(metadata: &Metadata, package: &Package, member: bool, indexed: bool) -> PackageInfo {
    let source = match &package.source {
        _ if member => SourceKind::Workspace,
        None => SourceKind::Path,
        Some(source) if source.repr.starts_with("git+") => SourceKind::Git,
        Some(_) => SourceKind::Registry,
    };
    let dir = package.manifest_path.parent().map_or_else(|| metadata.workspace_root.clone(), Utf8Path::to_owned);
    let inside_root = normalize(&dir).starts_with(normalize(&metadata.workspace_root));
    let display_base = if member || (source == SourceKind::Path && inside_root) {
        DisplayBase::WorkspaceRoot
    } else {
        DisplayBase::Package(format!("{}-{}", package.name, package.version))
    };
    let version = package.version.to_string();
    PackageInfo {
        key: Key::package(&package.name, (!member).then_some(version.as_str())),
        name: package.name.to_string(),
        version,
        source,
        dir,
        indexed,
        features: BTreeSet::new(),
        display_base,
    }
}

fn crate_deps(
    packages: &[(&Package, PackageInfo)],
    crates: &[CrateInfo],
    resolve: &HashMap<&PackageId, &cargo_metadata::Node>,
) -> Vec<CrateDep> {
    let package_index: HashMap<&PackageId, usize> =
        packages.iter().enumerate().map(|(index, (package, _))| (&package.id, index)).collect();
    // Each package's library crate, the one its dependents link to.
    let library: HashMap<usize, usize> = crates
        .iter()
        .enumerate()
        .filter(|(_, krate)| krate.kind.is_library())
        .map(|(index, krate)| (krate.package, index))
        .collect();

    let mut deps: BTreeMap<(usize, usize), CrateDep> = BTreeMap::new();
    let mut add = |dep: CrateDep| {
        // One edge per pair: a test target that uses a crate both normally and as a
        // dev-dependency records it as normal.
        deps.entry((dep.from, dep.to)).and_modify(|old| *old = (*old).clone().min(dep.clone())).or_insert(dep);
    };
    for (from, krate) in crates.iter().enumerate() {
        if !krate.indexed {
            continue;
        }
        // Binaries, tests, benches and examples link their own package's library.
        if let Some(&own) = library.get(&krate.package)
            && own != from
            && krate.kind != CrateKind::CustomBuild
        {
            add(CrateDep { from, to: own, kind: DepKind::Normal, rename: None });
        }
        let (package, _) = &packages[krate.package];
        let Some(node) = resolve.get(&package.id) else { continue };
        for dep in &node.deps {
            let Some(&to) = package_index.get(&dep.pkg).and_then(|index| library.get(index)) else { continue };
            let kinds: Vec<DependencyKind> = if dep.dep_kinds.is_empty() {
                vec![DependencyKind::Normal]
            } else {
                dep.dep_kinds.iter().map(|k| k.kind).collect()
            };
            let Some(kind) = kinds
                .iter()
                .filter(|&&k| krate.kind.uses(k))
                .map(|k| match k {
                    DependencyKind::Development => DepKind::Dev,
                    DependencyKind::Build => DepKind::Build,
                    _ => DepKind::Normal,
                })
                .min()
            else {
                continue;
            };
            let rename = (dep.name != crates[to].crate_name).then(|| dep.name.clone());
            add(CrateDep { from, to, kind, rename });
        }
    }
    deps.into_values().collect()
}

/// Cargo's own message, without its `error: ` labels, indented under ours.
fn indent(stderr: &str) -> String {
    stderr
        .lines()
        .map(|line| format!("  {}", line.strip_prefix("error: ").unwrap_or(line)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `path` relative to `base`, lexically, with `/` separators (`..` where `path` is outside).
pub fn relative_path(path: &Utf8Path, base: &Utf8Path) -> String {
    let path = normalize(path);
    let base = normalize(base);
    let path_parts: Vec<&str> = path.components().map(|c| c.as_str()).collect();
    let base_parts: Vec<&str> = base.components().map(|c| c.as_str()).collect();
    let common = path_parts.iter().zip(&base_parts).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; base_parts.len() - common];
    parts.extend(&path_parts[common..]);
    parts.join("/")
}

/// Removes `.` and resolves `..` lexically (no file system access, so no symlinks resolved).
pub fn normalize(path: &Utf8Path) -> Utf8PathBuf {
    let mut out = Utf8PathBuf::new();
    for component in path.components() {
        match component {
            Utf8Component::CurDir => {}
            Utf8Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            component => out.push(component.as_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_lexical_and_slashed() {
        let p = |s: &str| Utf8PathBuf::from(s);
        assert_eq!(relative_path(&p("/w/crates/a/src/lib.rs"), &p("/w")), "crates/a/src/lib.rs");
        assert_eq!(relative_path(&p("/w/a/./src/../lib.rs"), &p("/w/a")), "lib.rs");
        assert_eq!(relative_path(&p("/w/vendor/x.rs"), &p("/w/crates/a")), "../../vendor/x.rs");
    }
}
