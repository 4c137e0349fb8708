//! `mcp`: the stored graph served to coding agents over the Model Context Protocol, on stdin and
//! stdout.
//!
//! Each `query` verb is one MCP tool of the same name (`find`, `show`, `callers`, `callees`,
//! `impls`, `refs`, `deps`, `rdeps`, `path`, `impact`, `cycles`, `stats`). A tool's arguments are
//! a struct whose JSON Schema (derived with schemars, doc comments as descriptions) is what the
//! agent sees in `tools/list`; they become a `query::Request`, whose `Answer` goes back as the
//! result's structured content and, serialized, as its text, with `"schema": QUERY_SCHEMA` and cut
//! to `limit` results (`truncated`, `total`).
//!
//! Failures follow the MCP specification (2025-11-25 and later, SEP-1303): whatever the agent can
//! correct, an argument that does not validate or a target that is not in the graph or names
//! several vertices, is a tool result with `isError: true` whose structured content names the
//! argument, so that the model sees it; so is a graph that changed on disk and cannot be read
//! again (a build mends it). An unknown tool or a malformed request is a JSON-RPC error (rmcp
//! answers those), and so is a fault of the server itself (a verb that panicked).
//!
//! The graph is read into memory once (`store::open_graph`) and answered from there. Before each
//! call the server compares `store::stamp` of the graph with the one it loaded: when a build has
//! replaced or updated the graph since, it reads it again, so answers follow builds without a
//! restart. It never waits for a build: while one holds the graph's lock, calls are answered from
//! the snapshot already in memory.
//!
//! This module knows rmcp, the verbs' arguments and the graph's stamp; it knows nothing of
//! IndraDB, of how a verb is answered, or of the terminal: stdout is the protocol's, and nothing
//! here prints.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};

use camino::{Utf8Path, Utf8PathBuf};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::Error;
use crate::index::Progress;
use crate::model::VertexKind;
use crate::query::{self, Answer, Change, Level, QUERY_SCHEMA, QueryError, Request};
use crate::store::{self, Graph, LockMode, StoreError};

/// Results per answer when the call gives no `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest `limit` a call may ask for: more would flood an agent's context anyway.
pub const MAX_LIMIT: usize = 10_000;
/// Hops of a transitive verb when the call gives no `depth`.
pub const DEFAULT_DEPTH: u32 = 1;
/// The largest `depth` a call may ask for.
pub const MAX_DEPTH: u32 = 64;

/// What the server tells an agent at initialization.
const INSTRUCTIONS: &str = "\
cargo-codegraph serves the code graph of this Rust workspace: its packages, crates, modules, \
files and items (functions, types, traits, impls, ...), and the edges between them (contains, \
imports, re-exports, calls, references, implements, derives, depends_on). Ask it instead of \
grepping when the question is structural: who calls this function (`callers`), what does it \
call (`callees`), what implements this trait (`impls`), where is this item used (`refs`), what \
does this module depend on or what depends on it (`deps`, `rdeps`, `path`, `cycles`), what could \
a change break (`impact`). Start with `find` to get an item's canonical path (`crate::module::Item`) \
or id; every other tool takes such a target (a bare name works when only one item has it). \
Answers are JSON: `targets` (what the target resolved to), `results` (each with `kind`, `path`, \
`file`, `line`, and for edges the edge and its evidence), `total`, and `truncated` when `limit` \
cut them. The server follows builds of the graph: after `cargo codegraph build`, the next call \
answers from the new graph.";

/// How `serve` behaves.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Fail with `StoreError::Locked` instead of waiting when a build holds the graph at start.
    pub no_wait: bool,
}

/// Serves the graph at `db` over MCP on stdin and stdout until the client closes the session.
/// `workspace_root` is what `impact`'s files are relative to (and where `git diff` runs); without
/// it, the current folder. The graph is read before the session starts: a missing or unreadable
/// graph is an error at once, with the store's exit code.
pub fn serve(
    db: Utf8PathBuf,
    workspace_root: Option<Utf8PathBuf>,
    options: &Options,
    progress: &dyn Progress,
) -> Result<(), Error> {
    let loaded = load(&db, !options.no_wait, || progress.blocked(db.as_str()))?;
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|dir| Utf8PathBuf::from_path_buf(dir).ok())
        .unwrap_or_else(|| Utf8PathBuf::from("."));
    let root = workspace_root.unwrap_or_else(|| cwd.clone());
    let server = Server::new(db, root, cwd, loaded);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| Error::Internal(format!("cannot start the async runtime: {err}")))?;
    runtime.block_on(async move {
        let running = server.serve(rmcp::transport::stdio()).await.map_err(|err| Error::Mcp(err.to_string()))?;
        running.waiting().await.map_err(|err| Error::Mcp(err.to_string()))?;
        Ok(())
    })
}

/// A graph in memory and the stamp of the files it was read from.
struct Loaded {
    graph: Arc<Graph>,
    stamp: Option<String>,
}

/// Reads the graph under a shared lock, so that no build replaces it halfway through.
fn load(db: &Utf8Path, wait: bool, on_wait: impl FnOnce()) -> Result<Loaded, StoreError> {
    // Before the lock: taking it would leave a lock file beside a graph that does not exist.
    if !store::may_exist(db) {
        return Err(StoreError::Missing { path: db.to_owned() });
    }
    let _lock = store::lock::lock(db, LockMode::Shared, wait, on_wait)?;
    // Under the lock, the stamp is that of the files read next.
    let stamp = store::stamp(db);
    let graph = store::open_graph(db)?;
    Ok(Loaded { graph: Arc::new(graph), stamp })
}

/// The MCP server: the graph, and the tools that ask it.
#[derive(Clone)]
pub struct Server {
    db: Arc<Utf8PathBuf>,
    root: Arc<Utf8PathBuf>,
    cwd: Arc<Utf8PathBuf>,
    loaded: Arc<Mutex<Loaded>>,
    tool_router: ToolRouter<Server>,
}

/// Why a call got no answer: something the agent can correct or act on (a tool error), or a fault
/// of the server (a protocol error).
enum CallError {
    Query {
        argument: Option<&'static str>,
        error: QueryError,
    },
    /// The graph changed on disk and cannot be read again: a build, not another call, mends it.
    Unavailable(String),
    Server(ErrorData),
}

impl From<QueryError> for CallError {
    fn from(error: QueryError) -> CallError {
        let argument = match &error {
            QueryError::BadArgument { name, .. } => Some(*name),
            QueryError::NotFound { .. } | QueryError::Ambiguous { .. } => None,
        };
        CallError::Query { argument, error }
    }
}

/// Arguments of `find`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindArgs {
    /// A name (`area`), a canonical path (`app::shapes::Circle`), or a path pattern where `*`
    /// matches one segment and `**` any number (`app::shapes::*::area`, `app::**::new`).
    pub pattern: String,
    /// Only vertices of these kinds: package, crate, module, file, function, struct, enum, union,
    /// variant, field, trait, impl, type_alias, const, static, macro, extern. Default: all.
    pub kinds: Option<Vec<String>>,
    /// At most this many results (1 to 10000, default 100).
    pub limit: Option<usize>,
}

/// Arguments of the verbs that take one target.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetArgs {
    /// The vertex asked about: a canonical path (`app::shapes::Circle`), a vertex id, or a bare
    /// name when only one vertex has it. `find` gives paths and ids.
    pub target: String,
    /// At most this many results (1 to 10000, default 100).
    pub limit: Option<usize>,
}

/// Arguments of the transitive verbs.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitiveArgs {
    /// The vertex asked about: a canonical path (`app::report::summary`), a vertex id, or a bare
    /// name when only one vertex has it. `find` gives paths and ids.
    pub target: String,
    /// How many hops to follow (1 to 64, default 1: direct edges only).
    pub depth: Option<u32>,
    /// At most this many results (1 to 10000, default 100).
    pub limit: Option<usize>,
}

/// Arguments of `path`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PathArgs {
    /// Where the dependency chain starts: a canonical path, a vertex id, or a unique name.
    pub from: String,
    /// Where it ends: a canonical path, a vertex id, or a unique name.
    pub to: String,
    /// At most this many results (1 to 10000, default 100).
    pub limit: Option<usize>,
}

/// Arguments of `impact`: the changed places, given as `changes`, as `diff`, or both.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImpactArgs {
    /// Changed places as `FILE[:LINE]`, the file relative to the workspace root (or absolute);
    /// without a line, the whole file.
    pub changes: Option<Vec<String>>,
    /// A git revision (`HEAD`, `main`, `HEAD~3`): the lines `git diff REV` shows changed.
    pub diff: Option<String>,
    /// How many hops of dependents to follow (1 to 64; default: all).
    pub depth: Option<u32>,
    /// At most this many results (1 to 10000, default 100).
    pub limit: Option<usize>,
}

/// The level of `cycles`.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CycleLevel {
    /// Cycles among modules.
    Module,
    /// Cycles among crates.
    Crate,
}

/// Arguments of `cycles`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CyclesArgs {
    /// `module` (default) or `crate`.
    pub level: Option<CycleLevel>,
    /// At most this many results (1 to 10000, default 100).
    pub limit: Option<usize>,
}

#[tool_router]
impl Server {
    fn new(db: Utf8PathBuf, root: Utf8PathBuf, cwd: Utf8PathBuf, loaded: Loaded) -> Server {
        Server {
            db: Arc::new(db),
            root: Arc::new(root),
            cwd: Arc::new(cwd),
            loaded: Arc::new(Mutex::new(loaded)),
            tool_router: Self::tool_router(),
        }
    }

    /// Find vertices (items, modules, crates, files) by name or by canonical-path pattern. Start
    /// here to get the path or id that the other tools take as a target.
    #[tool(name = "find")]
    fn find(&self, Parameters(args): Parameters<FindArgs>) -> Result<CallToolResult, ErrorData> {
        self.call(args.limit, || {
            let pattern = required("pattern", &args.pattern)?;
            let kinds = match &args.kinds {
                Some(kinds) => kinds.iter().map(|kind| vertex_kind(kind)).collect::<Result<_, _>>()?,
                None => Vec::new(),
            };
            Ok(Request::Find { pattern, kinds })
        })
    }

    /// Show one vertex: its properties, and its edges grouped by kind and direction.
    #[tool(name = "show")]
    fn show(&self, Parameters(args): Parameters<TargetArgs>) -> Result<CallToolResult, ErrorData> {
        self.call(args.limit, || Ok(Request::Show { target: required("target", &args.target)? }))
    }

    /// The functions that call a function, transitively up to `depth`, with each call's file and
    /// line.
    #[tool(name = "callers")]
    fn callers(&self, Parameters(args): Parameters<TransitiveArgs>) -> Result<CallToolResult, ErrorData> {
        self.call(args.limit, || {
            Ok(Request::Callers { target: required("target", &args.target)?, depth: depth(args.depth)? })
        })
    }

    /// The functions a function calls, transitively up to `depth`, with each call's file and line.
    #[tool(name = "callees")]
    fn callees(&self, Parameters(args): Parameters<TransitiveArgs>) -> Result<CallToolResult, ErrorData> {
        self.call(args.limit, || {
            Ok(Request::Callees { target: required("target", &args.target)?, depth: depth(args.depth)? })
        })
    }

    /// For a trait, its impls and the types that implement or derive it; for a type, the traits
    /// it implements (derives included).
    #[tool(name = "impls")]
    fn impls(&self, Parameters(args): Parameters<TargetArgs>) -> Result<CallToolResult, ErrorData> {
        self.call(args.limit, || Ok(Request::Impls { target: required("target", &args.target)? }))
    }

    /// Everything that names an item: imports, re-exports, calls, references (types named;
    /// functions, structs and variants taken as values, built or matched), macro invocations,
    /// impls, derives, supertraits.
    #[tool(name = "refs")]
    fn refs(&self, Parameters(args): Parameters<TargetArgs>) -> Result<CallToolResult, ErrorData> {
        self.call(args.limit, || Ok(Request::Refs { target: required("target", &args.target)? }))
    }

    /// What a module, crate or item depends on (imports, calls, references), transitively up to
    /// `depth`, with evidence.
    #[tool(name = "deps")]
    fn deps(&self, Parameters(args): Parameters<TransitiveArgs>) -> Result<CallToolResult, ErrorData> {
        self.call(args.limit, || {
            Ok(Request::Deps { target: required("target", &args.target)?, depth: depth(args.depth)? })
        })
    }

    /// What depends on a module, crate or item, transitively up to `depth`, with evidence.
    #[tool(name = "rdeps")]
    fn rdeps(&self, Parameters(args): Parameters<TransitiveArgs>) -> Result<CallToolResult, ErrorData> {
        self.call(args.limit, || {
            Ok(Request::Rdeps { target: required("target", &args.target)?, depth: depth(args.depth)? })
        })
    }

    /// One shortest dependency chain from one vertex to another, each step with its evidence.
    #[tool(name = "path")]
    fn path(&self, Parameters(args): Parameters<PathArgs>) -> Result<CallToolResult, ErrorData> {
        self.call(args.limit, || {
            Ok(Request::Path { from: required("from", &args.from)?, to: required("to", &args.to)? })
        })
    }

    /// What a change could break: the items that changed lines touch, and everything that depends
    /// on them, by crate.
    #[tool(name = "impact")]
    fn impact(&self, Parameters(args): Parameters<ImpactArgs>) -> Result<CallToolResult, ErrorData> {
        self.call(args.limit, || {
            let mut changes: Vec<Change> = Vec::new();
            for text in args.changes.iter().flatten() {
                changes.push(query::impact::parse_change(text, &self.root, &self.cwd)?);
            }
            if let Some(rev) = &args.diff {
                let rev = required("diff", rev)?;
                changes.extend(query::impact::git_diff(&self.root, &rev)?);
            }
            if args.changes.is_none() && args.diff.is_none() {
                return Err(bad_argument("changes", "give `changes` (FILE[:LINE] places) or `diff` (a git revision)"));
            }
            changes.sort();
            changes.dedup();
            let depth = args.depth.map(|d| depth(Some(d))).transpose()?;
            Ok(Request::Impact { changes, depth })
        })
    }

    /// Dependency cycles among modules or crates (strongly connected components), with the edges
    /// that close them.
    #[tool(name = "cycles")]
    fn cycles(&self, Parameters(args): Parameters<CyclesArgs>) -> Result<CallToolResult, ErrorData> {
        let level = match args.level.unwrap_or(CycleLevel::Module) {
            CycleLevel::Module => Level::Module,
            CycleLevel::Crate => Level::Crate,
        };
        self.call(args.limit, || Ok(Request::Cycles { level }))
    }

    /// Vertex and edge counts per kind: what the graph holds.
    #[tool(name = "stats")]
    fn stats(&self) -> Result<CallToolResult, ErrorData> {
        self.call(None, || Ok(Request::Stats))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("cargo-codegraph", env!("CARGO_PKG_VERSION")).with_title("cargo codegraph"),
            )
            .with_instructions(INSTRUCTIONS)
    }
}

impl Server {
    /// Answers one call: the request that `request` makes of the arguments, asked of the graph as
    /// it is now, cut to `limit`.
    fn call(
        &self,
        limit: Option<usize>,
        request: impl FnOnce() -> Result<Request, QueryError>,
    ) -> Result<CallToolResult, ErrorData> {
        match self.answer(limit, request) {
            Ok(answer) => {
                let mut value = serde_json::to_value(&answer)
                    .map_err(|err| ErrorData::internal_error(format!("cannot serialize the answer: {err}"), None))?;
                if let Value::Object(map) = &mut value {
                    map.insert("schema".to_owned(), QUERY_SCHEMA.into());
                }
                Ok(CallToolResult::structured(value))
            }
            Err(CallError::Query { argument, error }) => Ok(tool_error(argument, &error)),
            Err(CallError::Unavailable(message)) => Ok(CallToolResult::structured_error(json!({
                "schema": QUERY_SCHEMA,
                "error": { "kind": "unavailable", "message": message },
            }))),
            Err(CallError::Server(error)) => Err(error),
        }
    }

    fn answer(
        &self,
        limit: Option<usize>,
        request: impl FnOnce() -> Result<Request, QueryError>,
    ) -> Result<Answer, CallError> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
            Some(n) => return Err(bad_argument("limit", &format!("{n} is not between 1 and {MAX_LIMIT}")).into()),
        };
        let request = request()?;
        let graph = self.graph()?;
        // A verb that panics (a bug) costs this call, not the session.
        let answered = std::panic::catch_unwind(AssertUnwindSafe(|| query::run(&graph, &request)));
        let mut answer = match answered {
            Ok(answered) => {
                answered.map_err(|error| CallError::Query { argument: argument_of(&request, &error), error })?
            }
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let message = format!("internal error (please report it): `{}` panicked: {message}", request.verb());
                return Err(CallError::Server(ErrorData::internal_error(message, None)));
            }
        };
        answer.truncate(limit);
        Ok(answer)
    }

    /// The graph as it is now: the one in memory, or, when a build has replaced or updated it
    /// since it was read, the new one.
    fn graph(&self) -> Result<Arc<Graph>, CallError> {
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        if store::stamp(&self.db) == loaded.stamp {
            return Ok(Arc::clone(&loaded.graph));
        }
        match load(&self.db, false, || {}) {
            Ok(new) => {
                *loaded = new;
                Ok(Arc::clone(&loaded.graph))
            }
            // A build is saving the graph: answer from the snapshot, and read the new graph at a
            // later call (the stamp kept is still the old one).
            Err(StoreError::Locked { .. }) => Ok(Arc::clone(&loaded.graph)),
            Err(err) => Err(CallError::Unavailable(format!(
                "the graph `{}` changed since it was read, and cannot be read again: {err} \
                 (run `cargo codegraph build`)",
                self.db
            ))),
        }
    }
}

/// An argument that must not be blank.
fn required(name: &'static str, value: &str) -> Result<String, QueryError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(bad_argument(name, "must not be empty"));
    }
    Ok(value.to_owned())
}

/// `depth`, defaulted and checked.
fn depth(depth: Option<u32>) -> Result<u32, QueryError> {
    match depth {
        None => Ok(DEFAULT_DEPTH),
        Some(n) if (1..=MAX_DEPTH).contains(&n) => Ok(n),
        Some(n) => Err(bad_argument("depth", &format!("{n} is not between 1 and {MAX_DEPTH}"))),
    }
}

fn vertex_kind(name: &str) -> Result<VertexKind, QueryError> {
    let name = name.trim();
    VertexKind::ALL.iter().copied().find(|kind| kind.as_str() == name).ok_or_else(|| {
        let known: Vec<&str> = VertexKind::ALL.iter().map(|kind| kind.as_str()).collect();
        bad_argument("kinds", &format!("unknown kind `{name}` (known: {})", known.join(", ")))
    })
}

fn bad_argument(name: &'static str, message: &str) -> QueryError {
    QueryError::BadArgument { name, message: message.to_owned() }
}

/// Which argument of `request` a target error is about.
fn argument_of(request: &Request, error: &QueryError) -> Option<&'static str> {
    let target = match error {
        QueryError::NotFound { target, .. } | QueryError::Ambiguous { target, .. } => target.as_str(),
        QueryError::BadArgument { name, .. } => return Some(name),
    };
    match request {
        Request::Path { from, .. } if from.trim() == target => Some("from"),
        Request::Path { to, .. } if to.trim() == target => Some("to"),
        Request::Find { .. } => Some("pattern"),
        Request::Show { .. }
        | Request::Callers { .. }
        | Request::Callees { .. }
        | Request::Impls { .. }
        | Request::Refs { .. }
        | Request::Deps { .. }
        | Request::Rdeps { .. } => Some("target"),
        Request::Impact { .. } => Some("changes"),
        Request::Path { .. } | Request::Cycles { .. } | Request::Stats => None,
    }
}

/// A tool error the agent can act on: the message, the argument it is about, and for a target
/// that is not found or ambiguous, the similar paths or the candidates.
fn tool_error(argument: Option<&'static str>, error: &QueryError) -> CallToolResult {
    let (kind, message) = match error {
        QueryError::NotFound { .. } => ("not_found", error.to_string()),
        QueryError::Ambiguous { .. } => ("ambiguous", error.to_string()),
        QueryError::BadArgument { .. } => ("bad_argument", error.to_string()),
    };
    let message = match (argument, error) {
        (Some(argument), QueryError::NotFound { .. } | QueryError::Ambiguous { .. }) => {
            format!("`{argument}`: {message}")
        }
        _ => message,
    };
    let mut detail = json!({ "kind": kind, "message": message });
    if let Some(argument) = argument {
        detail["argument"] = argument.into();
    }
    match error {
        QueryError::NotFound { suggestions, .. } => detail["suggestions"] = json!(suggestions),
        QueryError::Ambiguous { candidates, .. } => {
            detail["candidates"] = serde_json::to_value(candidates).unwrap_or(Value::Null)
        }
        QueryError::BadArgument { .. } => {}
    }
    CallToolResult::structured_error(json!({ "schema": QUERY_SCHEMA, "error": detail }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_is_checked() {
        assert_eq!(depth(None), Ok(DEFAULT_DEPTH));
        assert_eq!(depth(Some(3)), Ok(3));
        for bad in [0, MAX_DEPTH + 1, u32::MAX] {
            let err = depth(Some(bad)).unwrap_err();
            assert!(matches!(err, QueryError::BadArgument { name: "depth", .. }), "{err}");
        }
    }

    #[test]
    fn kinds_are_the_models() {
        assert_eq!(vertex_kind("function"), Ok(VertexKind::Function));
        assert_eq!(vertex_kind(" type_alias "), Ok(VertexKind::TypeAlias));
        let err = vertex_kind("fn").unwrap_err();
        assert!(err.to_string().contains("`kinds`") && err.to_string().contains("unknown kind `fn`"), "{err}");
    }

    #[test]
    fn blank_arguments_are_refused() {
        assert_eq!(required("target", " a::b "), Ok("a::b".to_owned()));
        assert!(matches!(required("target", "  "), Err(QueryError::BadArgument { name: "target", .. })));
    }

    #[test]
    fn target_errors_name_their_argument() {
        let request = Request::Path { from: "a".into(), to: "b".into() };
        let not_found = |target: &str| QueryError::NotFound { target: target.into(), suggestions: vec![] };
        assert_eq!(argument_of(&request, &not_found("b")), Some("to"));
        assert_eq!(argument_of(&request, &not_found("a")), Some("from"));
        let request = Request::Callers { target: "f".into(), depth: 1 };
        let result = tool_error(argument_of(&request, &not_found("f")), &not_found("f"));
        assert_eq!(result.is_error, Some(true));
        let content = result.structured_content.unwrap();
        assert_eq!(content["error"]["argument"], "target");
        assert_eq!(content["error"]["kind"], "not_found");
    }

    /// Every tool of the module's list is routed, with a schema that has its documented
    /// properties.
    #[test]
    fn tools_have_their_schemas() {
        let router = Server::tool_router();
        let tools = router.list_all();
        let mut names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
        names.sort_unstable();
        let expected = [
            "callees", "callers", "cycles", "deps", "find", "impact", "impls", "path", "rdeps", "refs", "show", "stats",
        ];
        assert_eq!(names, expected);
        let callers = tools.iter().find(|tool| tool.name == "callers").unwrap();
        let properties = callers.input_schema.get("properties").unwrap();
        for property in ["target", "depth", "limit"] {
            assert!(properties.get(property).is_some(), "{property} in {properties}");
        }
        assert!(properties["target"]["description"].as_str().unwrap().contains("canonical path"));
    }
}
