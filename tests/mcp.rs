//! `cargo codegraph mcp` as an agent sees it: rmcp's own client spawns the real binary on a copy
//! of the `calls` fixture, and talks the Model Context Protocol to it over stdio. The targets and
//! their callers come from the fixture's answer key (`tests/fixtures/calls/expected_calls.txt`).
//! The MCP Inspector's CLI (npm), installed by `cargo xtask test`, checks the same server from
//! outside Rust.

mod common;

use std::process::Command;

use common::{BIN, Fixture, describe};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

/// The tools and the properties each one's input schema must have.
const TOOLS: &[(&str, &[&str])] = &[
    ("find", &["pattern", "kinds", "limit"]),
    ("show", &["target", "limit"]),
    ("callers", &["target", "depth", "limit"]),
    ("callees", &["target", "depth", "limit"]),
    ("impls", &["target", "limit"]),
    ("refs", &["target", "limit"]),
    ("deps", &["target", "depth", "limit"]),
    ("rdeps", &["target", "depth", "limit"]),
    ("path", &["from", "to", "limit"]),
    ("impact", &["changes", "diff", "depth", "limit"]),
    ("cycles", &["level", "limit"]),
    ("stats", &[]),
];

type Client = RunningService<RoleClient, ()>;

/// The `mcp` command line for a fixture: its manifest, a graph in its folder.
fn mcp_args(fixture: &Fixture) -> Vec<String> {
    let manifest = fixture.manifest().to_str().unwrap().to_owned();
    let db = fixture.db().to_str().unwrap().to_owned();
    ["mcp", "--offline", "-q", "--manifest-path", &manifest, "--db", &db].map(str::to_owned).to_vec()
}

/// Starts the server on the fixture (it builds the graph first) and initializes a session.
async fn connect(fixture: &Fixture) -> Client {
    let command = tokio::process::Command::new(BIN).configure(|cmd| {
        cmd.args(mcp_args(fixture))
            .current_dir(fixture.path())
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_TERM_COLOR")
            .env_remove("CARGO_BUILD_TARGET");
    });
    let transport = TokioChildProcess::new(command).expect("spawn `cargo-codegraph mcp`");
    ().serve(transport).await.expect("initialize an MCP session")
}

async fn call(client: &Client, tool: &str, arguments: Value) -> CallToolResult {
    let Value::Object(arguments) = arguments else { panic!("arguments must be an object") };
    let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
    client.call_tool(params).await.unwrap_or_else(|err| panic!("`{tool}` failed at the protocol level: {err}"))
}

/// A successful call's structured answer, checked against its text form.
async fn answer(client: &Client, tool: &str, arguments: Value) -> Value {
    let result = call(client, tool, arguments.clone()).await;
    assert_eq!(result.is_error, Some(false), "`{tool}` {arguments}: {result:#?}");
    let structured = result.structured_content.clone().expect("structured content");
    let text = result.content.first().and_then(|content| content.as_text()).expect("a text content").text.clone();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), structured, "the text is the structured content");
    assert_eq!(structured["schema"], 1);
    assert_eq!(structured["verb"], tool);
    structured
}

/// A tool error's `error` object.
async fn tool_error(client: &Client, tool: &str, arguments: Value) -> Value {
    let result = call(client, tool, arguments.clone()).await;
    assert_eq!(result.is_error, Some(true), "`{tool}` {arguments} should fail: {result:#?}");
    match result.structured_content {
        Some(structured) => structured["error"].clone(),
        // Arguments that do not deserialize are refused by rmcp itself, with a text message.
        None => {
            let text = result.content.first().and_then(|content| content.as_text()).expect("a message");
            json!({ "message": text.text })
        }
    }
}

fn paths(records: &Value) -> Vec<String> {
    records.as_array().unwrap().iter().map(|record| record["path"].as_str().unwrap().to_owned()).collect()
}

/// The callers of `callee` that the answer key lists.
fn expected_callers(callee: &str) -> Vec<String> {
    let key = std::fs::read_to_string(common::fixtures().join("calls").join("expected_calls.txt")).unwrap();
    let mut callers: Vec<String> = key
        .lines()
        .filter(|line| !line.starts_with('#') && !line.starts_with('!'))
        .filter_map(|line| line.split_once(" -> "))
        .filter(|(_, to)| to.trim() == callee)
        .map(|(from, _)| from.trim().to_owned())
        .collect();
    callers.sort();
    callers
}

#[tokio::test]
async fn lists_every_tool_with_its_schema() {
    let fixture = Fixture::new("calls");
    let client = connect(&fixture).await;
    let info = client.peer_info().expect("server info");
    let server = info.server_info.as_ref().expect("an implementation");
    assert_eq!(server.name, "cargo-codegraph");
    assert_eq!(server.version, env!("CARGO_PKG_VERSION"));
    assert!(info.instructions.as_deref().unwrap_or_default().contains("callers"), "{info:#?}");

    let tools = client.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    names.sort_unstable();
    let mut expected: Vec<&str> = TOOLS.iter().map(|(name, _)| *name).collect();
    expected.sort_unstable();
    assert_eq!(names, expected);
    for (name, properties) in TOOLS {
        let tool = tools.iter().find(|tool| tool.name == *name).unwrap();
        assert!(tool.description.as_deref().is_some_and(|d| !d.is_empty()), "`{name}` has no description");
        let schema = &tool.input_schema;
        assert_eq!(schema.get("type"), Some(&json!("object")), "`{name}`: {schema:?}");
        let found = schema.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
        let mut found_names: Vec<&str> = found.keys().map(String::as_str).collect();
        found_names.sort_unstable();
        let mut wanted = properties.to_vec();
        wanted.sort_unstable();
        assert_eq!(found_names, wanted, "`{name}`'s properties");
        for (property, definition) in &found {
            let described = definition.get("description").and_then(Value::as_str).is_some_and(|d| !d.is_empty());
            assert!(described, "`{name}.{property}` has no description: {definition}");
        }
    }
    let callers = tools.iter().find(|tool| tool.name == "callers").unwrap();
    assert_eq!(callers.input_schema["required"], json!(["target"]));
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn stats_counts_the_graph() {
    let fixture = Fixture::new("calls");
    let client = connect(&fixture).await;
    let stats = answer(&client, "stats", json!({})).await["stats"].clone();
    assert!(stats["vertices"].as_u64().unwrap() > 0, "{stats}");
    for kind in ["crate", "module", "function", "struct", "trait"] {
        assert!(stats["vertices_by_kind"][kind].as_u64().unwrap() > 0, "no {kind}: {stats}");
    }
    assert!(stats["edges_by_kind"]["calls"].as_u64().unwrap() > 0, "{stats}");
    client.cancel().await.unwrap();
}

/// `find` answers by name (`query::find`).
#[tokio::test]
async fn find_gives_a_function_by_name() {
    let fixture = Fixture::new("calls");
    let client = connect(&fixture).await;
    let found = answer(&client, "find", json!({ "pattern": "shout", "kinds": ["function"] })).await;
    let results = found["results"].as_array().unwrap();
    let shout = results.iter().find(|record| record["path"] == "calls_util::text::shout");
    let shout = shout.unwrap_or_else(|| panic!("`calls_util::text::shout` is found: {found:#}"));
    assert_eq!(shout["kind"], "function");
    assert_eq!(shout["file"], "crates/util/src/text.rs");
    assert_eq!(shout["line"], 3);
    assert!(results.iter().all(|record| record["kind"] == "function"), "{found:#}");
    client.cancel().await.unwrap();
}

/// `callers` against the answer key (`query::calls`).
#[tokio::test]
async fn callers_are_those_of_the_answer_key() {
    let fixture = Fixture::new("calls");
    let client = connect(&fixture).await;
    for callee in ["calls_util::text::trim_end", "calls_app::shapes::circle::Circle::new"] {
        let expected = expected_callers(callee);
        assert!(expected.len() >= 2, "the answer key lists callers of `{callee}`");
        let found = answer(&client, "callers", json!({ "target": callee, "depth": 1 })).await;
        assert_eq!(paths(&found["targets"]), [callee], "{found}");
        let callers = paths(&found["results"]);
        for caller in &expected {
            assert!(callers.contains(caller), "`{caller}` calls `{callee}`: {found:#}");
        }
        assert!(found["results"].as_array().unwrap().iter().all(|record| record["edge"] == "calls"), "{found:#}");

        // `limit` cuts the results and says so.
        let cut = answer(&client, "callers", json!({ "target": callee, "limit": 1 })).await;
        assert_eq!(cut["results"].as_array().unwrap().len(), 1, "{cut}");
        assert_eq!(cut["truncated"], true);
        assert_eq!(cut["total"], found["total"]);
    }
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn bad_arguments_are_tool_errors_naming_the_argument() {
    let fixture = Fixture::new("calls");
    let client = connect(&fixture).await;
    let cases = [
        ("callers", json!({ "target": "calls_util::text::trim_end", "depth": 0 }), "depth"),
        ("deps", json!({ "target": "calls_util", "depth": 1_000_000 }), "depth"),
        ("find", json!({ "pattern": "shout", "kinds": ["fn"] }), "kinds"),
        ("find", json!({ "pattern": "shout", "limit": 0 }), "limit"),
        ("show", json!({ "target": "  " }), "target"),
        ("impact", json!({}), "changes"),
    ];
    for (tool, arguments, argument) in cases {
        let error = tool_error(&client, tool, arguments.clone()).await;
        assert_eq!(error["argument"], argument, "`{tool}` {arguments}: {error}");
        assert!(error["message"].as_str().unwrap().contains(&format!("`{argument}`")), "{error}");
    }
    // What does not deserialize is refused by rmcp, naming the field.
    let missing = tool_error(&client, "callers", json!({ "depth": 2 })).await;
    assert!(missing["message"].as_str().unwrap().contains("`target`"), "{missing}");
    let unknown = tool_error(&client, "callers", json!({ "target": "x", "dept": 2 })).await;
    assert!(unknown["message"].as_str().unwrap().contains("`dept`"), "{unknown}");
    let level = tool_error(&client, "cycles", json!({ "level": "package" })).await;
    assert!(level["message"].as_str().unwrap().contains("package"), "{level}");
    // An unknown tool is a protocol error.
    let params = CallToolRequestParams::new("grep").with_arguments(serde_json::Map::new());
    assert!(client.call_tool(params).await.is_err());

    // The session goes on.
    let stats = answer(&client, "stats", json!({})).await;
    assert!(stats["stats"]["vertices"].as_u64().unwrap() > 0);
    client.cancel().await.unwrap();
}

/// Target resolution (`query::resolve`) reaches the agent as tool errors.
#[tokio::test]
async fn unknown_and_ambiguous_targets_are_tool_errors() {
    let fixture = Fixture::new("calls");
    let client = connect(&fixture).await;
    let error = tool_error(&client, "callers", json!({ "target": "calls_util::text::no_such_fn" })).await;
    assert_eq!(error["kind"], "not_found", "{error}");
    assert_eq!(error["argument"], "target");
    assert!(error["message"].as_str().unwrap().contains("no_such_fn"), "{error}");
    let error = tool_error(&client, "path", json!({ "from": "calls_app", "to": "no_such_thing" })).await;
    assert_eq!(error["argument"], "to", "{error}");
    // `area` is a method of several types and traits.
    let error = tool_error(&client, "show", json!({ "target": "area" })).await;
    assert_eq!(error["kind"], "ambiguous", "{error}");
    assert!(error["candidates"].as_array().unwrap().len() >= 2, "{error}");
    let stats = answer(&client, "stats", json!({})).await;
    assert!(stats["stats"]["vertices"].as_u64().unwrap() > 0);
    client.cancel().await.unwrap();
}

/// Adds a function to the fixture's `util::text`.
fn add_function(fixture: &Fixture, name: &str) {
    let file = fixture.path().join("crates/util/src/text.rs");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(&format!("\npub fn {name}(s: &str) -> String {{\n    shout(s)\n}}\n"));
    std::fs::write(&file, text).unwrap();
}

fn functions(stats: &Value) -> u64 {
    stats["stats"]["vertices_by_kind"]["function"].as_u64().unwrap()
}

#[tokio::test]
async fn answers_follow_a_rebuild_without_a_restart() {
    let fixture = Fixture::new("calls");
    let client = connect(&fixture).await;
    let before = functions(&answer(&client, "stats", json!({})).await);
    add_function(&fixture, "whisper");
    fixture.build(&[], 0);
    let after = functions(&answer(&client, "stats", json!({})).await);
    assert_eq!(after, before + 1, "the new function is counted");
    // Twice: an incremental build updates a msgpack graph through its delta log.
    add_function(&fixture, "murmur");
    fixture.build(&[], 0);
    assert_eq!(functions(&answer(&client, "stats", json!({})).await), before + 2);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_removed_graph_is_a_tool_error_until_rebuilt() {
    let fixture = Fixture::new("calls");
    let client = connect(&fixture).await;
    let before = functions(&answer(&client, "stats", json!({})).await);
    std::fs::remove_file(fixture.db()).unwrap();
    let error = tool_error(&client, "stats", json!({})).await;
    assert_eq!(error["kind"], "unavailable", "{error}");
    assert!(error["message"].as_str().unwrap().contains("cargo codegraph build"), "{error}");
    fixture.build(&[], 0);
    assert_eq!(functions(&answer(&client, "stats", json!({})).await), before);
    client.cancel().await.unwrap();
}

/// `find` sees what a rebuild added, in the same session.
#[tokio::test]
async fn find_sees_a_new_function_after_a_rebuild() {
    let fixture = Fixture::new("calls");
    let client = connect(&fixture).await;
    let found = answer(&client, "find", json!({ "pattern": "whisper" })).await;
    assert_eq!(found["total"], 0, "{found}");
    add_function(&fixture, "whisper");
    fixture.build(&[], 0);
    let found = answer(&client, "find", json!({ "pattern": "whisper" })).await;
    assert!(paths(&found["results"]).contains(&"calls_util::text::whisper".to_owned()), "{found}");
    client.cancel().await.unwrap();
}

#[test]
fn no_graph_with_no_update_is_a_store_error() {
    let fixture = Fixture::new("calls");
    let db = fixture.path().join("missing.msgpack");
    let output = fixture.run(&["mcp", "--no-update", "--offline", "--db", db.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(5), "{}", describe(&output));
    assert!(output.stdout.is_empty(), "stdout is the protocol's: {}", describe(&output));
    let stderr = common::stderr(&output);
    assert!(stderr.contains("missing.msgpack"), "{stderr}");
    assert!(!db.exists() && !fixture.path().join("missing.msgpack.lock").exists(), "nothing is left behind");
}

/// The MCP Inspector's CLI mode (npm `@modelcontextprotocol/inspector`), run against the server:
/// its exit code (0, or 5 for a tool result with `isError`) and the JSON it prints.
fn inspector(fixture: &Fixture, method_args: &[&str]) -> (i32, Value) {
    let mut args: Vec<String> = vec!["--cli".into()];
    // The inspector starts the server with a small default environment (HOME, PATH, ...): where
    // cargo and rustup live, when the environment says, is passed on, or the server's `cargo
    // metadata` would find no toolchain.
    for name in ["CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "CARGO", "RUSTC"] {
        if let Ok(value) = std::env::var(name) {
            args.extend(["-e".to_owned(), format!("{name}={value}")]);
        }
    }
    args.push(BIN.into());
    args.extend(mcp_args(fixture));
    args.extend(method_args.iter().map(|arg| (*arg).to_owned()));
    let output = Command::new(common::tool("mcp-inspector"))
        .args(&args)
        .current_dir(fixture.path())
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    let code = output.status.code().unwrap_or(-1);
    assert!([0, 5].contains(&code), "mcp-inspector {args:?}\n{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let value = serde_json::from_str(&stdout)
        .unwrap_or_else(|err| panic!("not JSON ({err}): mcp-inspector {args:?}\n{}", describe(&output)));
    (code, value)
}

#[test]
fn inspector_lists_and_calls_tools() {
    let fixture = Fixture::new("calls");
    let (code, listed) = inspector(&fixture, &["--method", "tools/list"]);
    assert_eq!(code, 0);
    let mut names: Vec<&str> =
        listed["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    let mut expected: Vec<&str> = TOOLS.iter().map(|(name, _)| *name).collect();
    expected.sort_unstable();
    assert_eq!(names, expected, "{listed:#}");

    let (code, called) = inspector(&fixture, &["--method", "tools/call", "--tool-name", "stats"]);
    assert_eq!(code, 0);
    assert_eq!(called["isError"], false, "{called:#}");
    assert_eq!(called["structuredContent"]["verb"], "stats");
    assert!(called["structuredContent"]["stats"]["vertices"].as_u64().unwrap() > 0, "{called:#}");

    let (code, refused) =
        inspector(&fixture, &["--method", "tools/call", "--tool-name", "callers", "--tool-arg", "target=x", "depth=0"]);
    assert_eq!(code, 5, "the inspector's exit code for a tool error");
    assert_eq!(refused["isError"], true, "{refused:#}");
    assert_eq!(refused["structuredContent"]["error"]["argument"], "depth", "{refused:#}");
}
