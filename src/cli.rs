//! Command-line types: cargo's flag names and habits, nothing else.
//!
//! Cargo runs a subcommand as `cargo-codegraph codegraph ARGS`; run directly, the binary sees
//! `cargo-codegraph ARGS`. `normalize_args` makes both look like the first, and clap's
//! `bin_name = "cargo"` with a one-variant enum parses it (the pattern cargo-nextest uses).

use std::ffi::OsString;
use std::path::PathBuf;

use camino::Utf8PathBuf;
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "cargo", bin_name = "cargo", styles = clap_cargo::style::CLAP_STYLING)]
pub enum CargoCli {
    /// Turn a Rust workspace into a queryable code graph stored in IndraDB
    #[command(version, args_conflicts_with_subcommands = true)]
    Codegraph(Cli),
}

#[derive(Debug, Args)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags of `build`, the command run when none is named
    #[command(flatten)]
    pub build: BuildArgs,
    #[command(flatten)]
    pub global: GlobalArgs,
}

impl Cli {
    /// The command to run: `build` with the top-level flags when none is named.
    pub fn into_command(self) -> (Command, GlobalArgs) {
        (self.command.unwrap_or(Command::Build(self.build)), self.global)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Index the workspace and store its graph (the default command)
    Build(BuildArgs),
    /// Print vertex and edge counts per kind of a stored graph
    Stats(StatsArgs),
    /// Print a stored graph in a stable, versioned format
    Export(ExportArgs),
    /// Build the graph, then check the architecture rules of `[workspace.metadata.codegraph]`
    /// and `[package.metadata.codegraph]`; exit 1 when one is broken
    Check(CheckArgs),
    /// Ask the stored graph: find items, who calls what, what implements what, what depends on
    /// what, what a change touches
    Query(QueryArgs),
    /// Serve the graph to coding agents over the Model Context Protocol (stdio)
    Mcp(McpArgs),
    /// Serve the stored graph over IndraDB's gRPC API, following new builds of it (needs the
    /// `server` feature)
    Serve(ServeArgs),
}

/// `serve`: the local graph to serve and where.
#[derive(Clone, Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on (loopback by default: the API has no authentication)
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:27615")]
    pub addr: std::net::SocketAddr,
    /// How often to look for a new build of the graph, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub poll_ms: u64,
    #[command(flatten)]
    pub manifest: ManifestArgs,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(subcommand)]
    pub verb: QueryVerb,
}

/// The questions `query` answers. TARGET is a canonical path (`app::shapes::Circle::area`), a
/// vertex id, or a bare name.
#[derive(Debug, Subcommand)]
pub enum QueryVerb {
    /// Vertices whose canonical path matches PATTERN (`*` one segment, `**` any depth), or whose
    /// name is PATTERN when it has no `::` (`*` there matches any characters)
    Find {
        pattern: String,
        /// Only vertices of this kind (repeatable): function, struct, trait, module, ...
        #[arg(long = "kind", value_name = "KIND", value_parser = parse_vertex_kind)]
        kinds: Vec<crate::model::VertexKind>,
        #[command(flatten)]
        common: QueryCommon,
    },
    /// A vertex's properties and its edges, grouped by kind and direction
    Show {
        #[arg(value_name = "TARGET")]
        item: String,
        #[command(flatten)]
        common: QueryCommon,
    },
    /// What calls TARGET, transitively up to --depth, with each call site
    Callers {
        #[arg(value_name = "TARGET")]
        item: String,
        #[arg(long, value_name = "N", default_value_t = 1)]
        depth: u32,
        #[command(flatten)]
        common: QueryCommon,
    },
    /// What TARGET calls, transitively up to --depth, with each call site
    Callees {
        #[arg(value_name = "TARGET")]
        item: String,
        #[arg(long, value_name = "N", default_value_t = 1)]
        depth: u32,
        #[command(flatten)]
        common: QueryCommon,
    },
    /// For a trait, its impls and their self types (derives included); for a type, its traits
    Impls {
        #[arg(value_name = "TARGET")]
        item: String,
        #[command(flatten)]
        common: QueryCommon,
    },
    /// Everything that imports, re-exports, calls, references, invokes, implements or derives TARGET
    Refs {
        #[arg(value_name = "TARGET")]
        item: String,
        #[command(flatten)]
        common: QueryCommon,
    },
    /// What a module, crate or item depends on, transitively up to --depth, with evidence
    Deps {
        #[arg(value_name = "TARGET")]
        item: String,
        #[arg(long, value_name = "N", default_value_t = 1)]
        depth: u32,
        #[command(flatten)]
        common: QueryCommon,
    },
    /// What depends on a module, crate or item, transitively up to --depth, with evidence
    Rdeps {
        #[arg(value_name = "TARGET")]
        item: String,
        #[arg(long, value_name = "N", default_value_t = 1)]
        depth: u32,
        #[command(flatten)]
        common: QueryCommon,
    },
    /// One shortest dependency chain from FROM to TO, each hop with its evidence
    Path {
        from: String,
        to: String,
        #[command(flatten)]
        common: QueryCommon,
    },
    /// The items that changed lines touch, and everything that depends on them, by crate
    Impact {
        /// Changed places, relative to the current folder or absolute
        #[arg(value_name = "FILE[:LINE]", required_unless_present = "diff")]
        changes: Vec<String>,
        /// The lines `git diff REV` shows changed, instead of FILE[:LINE]
        #[arg(long, value_name = "REV", conflicts_with = "changes")]
        diff: Option<String>,
        /// Follow dependents at most N steps (default: all the way)
        #[arg(long, value_name = "N")]
        depth: Option<u32>,
        #[command(flatten)]
        common: QueryCommon,
    },
    /// Strongly connected components of the dependency graph, with the dependencies inside each
    Cycles {
        #[arg(long, value_enum, default_value_t = crate::query::Level::Module)]
        level: crate::query::Level,
        #[command(flatten)]
        common: QueryCommon,
    },
    /// Vertex and edge counts per kind
    Stats {
        #[command(flatten)]
        common: QueryCommon,
    },
}

impl QueryVerb {
    pub fn common(&self) -> &QueryCommon {
        match self {
            QueryVerb::Find { common, .. }
            | QueryVerb::Show { common, .. }
            | QueryVerb::Callers { common, .. }
            | QueryVerb::Callees { common, .. }
            | QueryVerb::Impls { common, .. }
            | QueryVerb::Refs { common, .. }
            | QueryVerb::Deps { common, .. }
            | QueryVerb::Rdeps { common, .. }
            | QueryVerb::Path { common, .. }
            | QueryVerb::Impact { common, .. }
            | QueryVerb::Cycles { common, .. }
            | QueryVerb::Stats { common } => common,
        }
    }
}

/// What every query verb takes besides its own arguments.
#[derive(Clone, Debug, Args)]
pub struct QueryCommon {
    /// Read the graph as it is, without bringing it up to date first
    #[arg(long)]
    pub no_update: bool,
    /// Show at most N results (the answer says how many there were)
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub build: BuildArgs,
}

fn parse_edge_kind(text: &str) -> Result<crate::model::EdgeKind, String> {
    crate::model::EdgeKind::ALL.iter().copied().find(|kind| kind.as_str() == text).ok_or_else(|| {
        let known: Vec<&str> = crate::model::EdgeKind::ALL.iter().map(|kind| kind.as_str()).collect();
        format!("unknown edge kind `{text}` (one of {})", known.join(", "))
    })
}

fn parse_pattern(text: &str) -> Result<crate::check::Pattern, String> {
    crate::check::Pattern::parse(text)
}

fn parse_vertex_kind(text: &str) -> Result<crate::model::VertexKind, String> {
    crate::model::VertexKind::ALL.iter().copied().find(|kind| kind.as_str() == text).ok_or_else(|| {
        let known: Vec<&str> = crate::model::VertexKind::ALL.iter().map(|kind| kind.as_str()).collect();
        format!("unknown kind `{text}` (one of {})", known.join(", "))
    })
}

#[derive(Clone, Debug, Default, Args)]
pub struct BuildArgs {
    #[command(flatten, next_help_heading = "Package Selection")]
    pub workspace: clap_cargo::Workspace,
    /// Also index the selected packages' dependencies (registry, git and path sources)
    #[arg(long, help_heading = "Package Selection")]
    pub deps: bool,
    #[command(flatten)]
    pub targets: TargetArgs,
    #[command(flatten, next_help_heading = "Feature Selection")]
    pub features: clap_cargo::Features,
    /// Index for the target triple (default: all platforms' dependencies)
    #[arg(long, value_name = "TRIPLE", help_heading = "Compilation Options")]
    pub target: Option<String>,
    /// Evaluate `cfg(test)` as true: test code counts as active
    #[arg(long, help_heading = "Compilation Options")]
    pub cfg_test: bool,
    /// Leave `macro_rules!` calls unexpanded (`include!` is still followed), for comparisons
    #[arg(long, help_heading = "Compilation Options")]
    pub no_expand: bool,
    /// Run the build scripts first (`cargo check`): their cfgs count, and code they generate
    /// into `OUT_DIR` is followed through `include!`
    #[arg(long, help_heading = "Compilation Options")]
    pub build_scripts: bool,
    /// Build the graph even if nothing changed since the last build
    #[arg(long)]
    pub rebuild: bool,
    /// Number of parallel jobs (default: all cores)
    #[arg(short, long, value_name = "N", help_heading = "Compilation Options")]
    pub jobs: Option<std::num::NonZeroUsize>,
    #[command(flatten)]
    pub manifest: ManifestArgs,
    #[command(flatten)]
    pub db: DbArgs,
    /// Where the graph is kept: one msgpack file, or a RocksDB folder (a build with the `rocksdb`
    /// feature) [default: the existing graph's, else msgpack]
    #[arg(long, value_enum, value_name = "BACKEND", help_heading = "Store Options")]
    pub store: Option<StoreKind>,
}

/// `check`: the build's flags, the baseline and what part of the workspace to report on.
#[derive(Clone, Debug, Default, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// Record today's violations in FILE (JSON) and succeed; later checks with `--baseline FILE`
    /// fail only on new ones
    #[arg(long, value_name = "FILE", conflicts_with = "baseline", help_heading = "Check Options")]
    pub write_baseline: Option<Utf8PathBuf>,
    /// Fail only on violations that FILE (written by `--write-baseline`) does not hold; report its
    /// entries that no longer occur as stale
    #[arg(long, value_name = "FILE", help_heading = "Check Options")]
    pub baseline: Option<Utf8PathBuf>,
    /// With `--baseline`: stale entries are an error (exit 1), not a warning
    #[arg(long, requires = "baseline", help_heading = "Check Options")]
    pub strict_baseline: bool,
    /// Report only violations with evidence in files changed since REV (`git diff --name-only REV`)
    #[arg(long, value_name = "REV", conflicts_with = "staged", help_heading = "Check Options")]
    pub changed: Option<String>,
    /// Report only violations with evidence in staged files (`git diff --name-only --cached`)
    #[arg(long, help_heading = "Check Options")]
    pub staged: bool,
}

/// `mcp`: the build's flags (the graph is brought up to date before serving it), and `--no-update`.
#[derive(Clone, Debug, Default, Args)]
pub struct McpArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// Serve the stored graph as it is, without bringing it up to date first
    #[arg(long, conflicts_with = "rebuild")]
    pub no_update: bool,
}

/// Cargo's target selection. Without any, every target is indexed (see the README).
#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = "Target Selection")]
pub struct TargetArgs {
    /// Index only the selected packages' libraries
    #[arg(long)]
    pub lib: bool,
    /// Index all binary targets
    #[arg(long)]
    pub bins: bool,
    /// Index only the named binary
    #[arg(long, value_name = "NAME")]
    pub bin: Vec<String>,
    /// Index all test targets
    #[arg(long)]
    pub tests: bool,
    /// Index only the named test target
    #[arg(long, value_name = "NAME")]
    pub test: Vec<String>,
    /// Index all bench targets
    #[arg(long)]
    pub benches: bool,
    /// Index only the named bench target
    #[arg(long, value_name = "NAME")]
    pub bench: Vec<String>,
    /// Index all examples
    #[arg(long)]
    pub examples: bool,
    /// Index only the named example
    #[arg(long, value_name = "NAME")]
    pub example: Vec<String>,
    /// Index all targets (the default)
    #[arg(long)]
    pub all_targets: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// IndraDB's memory datastore, saved as one msgpack file
    Msgpack,
    /// IndraDB's RocksDB datastore, a folder
    Rocksdb,
}

#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = "Manifest Options")]
pub struct ManifestArgs {
    /// Path to Cargo.toml
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Run without accessing the network
    #[arg(long)]
    pub offline: bool,
    /// Assert that `Cargo.lock` will remain unchanged
    #[arg(long)]
    pub locked: bool,
    /// Equivalent to specifying both --locked and --offline
    #[arg(long)]
    pub frozen: bool,
}

#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = "Store Options")]
pub struct DbArgs {
    /// The graph: a msgpack file, a RocksDB folder, or an IndraDB server as `grpc://HOST:PORT`
    /// [default: <target-dir>/codegraph/graph.msgpack, or graph.rocksdb]
    #[arg(long, value_name = "PATH")]
    pub db: Option<Utf8PathBuf>,
    /// Fail at once if another run holds the graph, instead of waiting for it
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Clone, Debug, Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Clone, Debug, Args)]
pub struct ExportArgs {
    /// The output format
    #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
    pub format: ExportFormat,
    /// Write to this file instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<Utf8PathBuf>,
    #[command(flatten)]
    pub picture: PictureArgs,
    #[command(flatten)]
    pub manifest: ManifestArgs,
    #[command(flatten)]
    pub db: DbArgs,
}

/// What `dot`, `mermaid`, `graphml` and `html` draw (`jsonl` always writes the whole graph).
#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = "Picture Options")]
pub struct PictureArgs {
    /// One node per crate, module or item [default: module for dot, mermaid and html, item for graphml]
    #[arg(long, value_enum)]
    pub level: Option<crate::export::Level>,
    /// Only the neighbourhood of TARGET (a path, id or name, as `query` takes them)
    #[arg(long, value_name = "TARGET")]
    pub focus: Option<String>,
    /// How many hops from `--focus`, over the drawn edges, either way
    #[arg(long, value_name = "N", requires = "focus")]
    pub depth: Option<u32>,
    /// The edge kinds drawn [default: all; at module and crate level all but contains and defined_in]
    #[arg(long, value_name = "KIND,...", value_delimiter = ',', value_parser = parse_edge_kind)]
    pub edges: Vec<crate::model::EdgeKind>,
    /// The vertex kinds kept [default: all]
    #[arg(long, value_name = "KIND,...", value_delimiter = ',', value_parser = parse_vertex_kind)]
    pub kinds: Vec<crate::model::VertexKind>,
    /// Keep only vertices whose path matches PATTERN (`*` one segment, `**` any; repeatable)
    #[arg(long, value_name = "PATTERN", value_parser = parse_pattern)]
    pub include: Vec<crate::check::Pattern>,
    /// Leave out vertices whose path matches PATTERN (repeatable)
    #[arg(long, value_name = "PATTERN", value_parser = parse_pattern)]
    pub exclude: Vec<crate::check::Pattern>,
    /// Leave out `extern` vertices (std and dependencies that are not indexed)
    #[arg(long)]
    pub no_externs: bool,
    /// Refuse a dot, mermaid or html picture of more than N nodes (0: no limit)
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub max_nodes: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// JSON Lines: a header, then vertices by id, then edges by (from, kind, to)
    Jsonl,
    /// Graphviz DOT: clusters per crate, edge kinds styled apart, a legend
    Dot,
    /// A Mermaid flowchart with a subgraph per crate
    Mermaid,
    /// GraphML: every node and edge with its properties as typed keys
    Graphml,
    /// One self-contained HTML page: the picture laid out, with pan and zoom, search, a panel
    /// of each node's properties and edges, expand and collapse, and an edge-kind filter
    Html,
}

#[derive(Clone, Debug, Args)]
#[command(next_help_heading = "Display Options")]
pub struct GlobalArgs {
    /// Coloring
    #[arg(long, value_enum, global = true, env = "CARGO_TERM_COLOR", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Do not print progress or the summary (errors and warnings still go to stderr)
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Use verbose output
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The output format for messages
    #[arg(long, value_enum, global = true, value_name = "FMT", default_value_t = MessageFormat::Human)]
    pub message_format: MessageFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    /// Human-readable text on stderr
    Human,
    /// JSON on stdout: one object (`build`, `stats`), or JSON Lines (`check`, `query`)
    Json,
    /// `check` only: a SARIF 2.1.0 log on stdout
    Sarif,
    /// `check` only: GitHub Actions annotations (`::error file=...,line=...::...`) on stdout
    Github,
    /// `check` only: JUnit XML on stdout, one test case per rule
    Junit,
}

impl MessageFormat {
    /// Whether only `check` has this format.
    pub fn is_check_only(self) -> bool {
        matches!(self, MessageFormat::Sarif | MessageFormat::Github | MessageFormat::Junit)
    }

    pub fn name(self) -> &'static str {
        match self {
            MessageFormat::Human => "human",
            MessageFormat::Json => "json",
            MessageFormat::Sarif => "sarif",
            MessageFormat::Github => "github",
            MessageFormat::Junit => "junit",
        }
    }
}

/// Makes `cargo-codegraph ARGS` look like `cargo-codegraph codegraph ARGS`, as cargo calls it.
pub fn normalize_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    if args.get(1).is_none_or(|arg| arg != "codegraph") {
        args.insert(1.min(args.len()), OsString::from("codegraph"));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        CargoCli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> (Command, GlobalArgs) {
        let args = normalize_args(args.iter().map(OsString::from));
        let CargoCli::Codegraph(cli) = CargoCli::try_parse_from(args).unwrap();
        cli.into_command()
    }

    #[test]
    fn build_is_the_default_command() {
        let (command, _) = parse(&["cargo-codegraph", "-p", "foo", "-j2"]);
        let Command::Build(build) = command else { panic!("expected build") };
        assert_eq!(build.workspace.package, ["foo"]);
        assert_eq!(build.jobs.map(|j| j.get()), Some(2));
    }

    #[test]
    fn both_invocations_parse_alike() {
        let (direct, _) = parse(&["cargo-codegraph", "build", "--workspace"]);
        let (via_cargo, _) = parse(&["cargo-codegraph", "codegraph", "build", "--workspace"]);
        assert_eq!(format!("{direct:?}"), format!("{via_cargo:?}"));
    }

    #[test]
    fn mcp_takes_the_build_flags() {
        let (command, _) = parse(&["cargo-codegraph", "mcp", "--manifest-path", "a/Cargo.toml", "--no-update"]);
        let Command::Mcp(mcp) = command else { panic!("expected mcp") };
        assert!(mcp.no_update);
        assert_eq!(mcp.build.manifest.manifest_path.as_deref(), Some(std::path::Path::new("a/Cargo.toml")));
    }

    #[test]
    fn global_flags_go_anywhere() {
        let (command, global) = parse(&["cargo-codegraph", "stats", "--message-format", "json", "-q"]);
        assert!(matches!(command, Command::Stats(_)));
        assert_eq!(global.message_format, MessageFormat::Json);
        assert!(global.quiet);
    }
}
