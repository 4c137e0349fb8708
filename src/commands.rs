//! The commands of the command line: each parses nothing (that is `cli`'s), runs its part of the
//! library, prints through the `Reporter`, and returns an exit code (`error::exit`).

use std::io::Write;
use std::time::Instant;

use camino::Utf8PathBuf;

use crate::cli::{
    self, BuildArgs, CheckArgs, Command, ExportArgs, ExportFormat, GlobalArgs, ManifestArgs, McpArgs, MessageFormat,
    QueryVerb, StatsArgs,
};
use crate::error::{Error, exit};
use crate::index::Progress;
use crate::job::{build_workspace, default_db};
use crate::report::Reporter;
use crate::store::{self, Backend, LockMode, StoreError, WriterConfig};
use crate::workspace::{self, Workspace, WorkspaceConfig};
use crate::{BuildConfig, build, check, export, index, mcp, query, stats};

/// Runs one command; returns the process exit code.
pub fn run(command: Command, global: &GlobalArgs) -> u8 {
    let reporter = Reporter::new(global);
    if global.message_format.is_check_only() && !matches!(command, Command::Check(_)) {
        let format = global.message_format.name();
        reporter.error(&Usage(format!("`--message-format {format}` is only for `check`; use `human` or `json` here")));
        return exit::USAGE;
    }
    let result = match command {
        Command::Build(args) => run_build(&args, &reporter),
        Command::Stats(args) => run_stats(&args, &reporter),
        Command::Export(args) => run_export(&args, &reporter),
        Command::Check(args) => run_check(&args, &reporter, global.message_format),
        Command::Query(args) => run_query(args.verb, &reporter),
        Command::Mcp(args) => run_mcp(&args, &reporter),
        Command::Serve(args) => crate::serve::run(&args, &reporter),
    };
    reporter.finish_progress();
    match result {
        Ok(code) => code,
        Err(Error::Output { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => exit::SUCCESS,
        Err(err) => {
            reporter.error(&err);
            err.exit_code()
        }
    }
}

fn build_config(args: &BuildArgs) -> BuildConfig {
    BuildConfig {
        workspace: WorkspaceConfig {
            manifest_path: args.manifest.manifest_path.clone(),
            selection: args.workspace.clone(),
            features: args.features.clone(),
            target: args.target.clone(),
            offline: args.manifest.offline,
            locked: args.manifest.locked,
            frozen: args.manifest.frozen,
            deps: args.deps,
            targets: workspace::TargetSelection {
                lib: args.targets.lib,
                bins: args.targets.bins,
                bin: args.targets.bin.clone(),
                tests: args.targets.tests,
                test: args.targets.test.clone(),
                benches: args.targets.benches,
                bench: args.targets.bench.clone(),
                examples: args.targets.examples,
                example: args.targets.example.clone(),
                all_targets: args.targets.all_targets,
            },
        },
        jobs: args.jobs.map(|n| n.get()),
        db: args.db.db.clone(),
        store: args.store.map(|kind| match kind {
            cli::StoreKind::Msgpack => Backend::Msgpack,
            cli::StoreKind::Rocksdb => Backend::Rocksdb,
        }),
        no_wait: args.db.no_wait,
        rebuild: args.rebuild,
        index: index::IndexOptions { cfg_test: args.cfg_test, no_expand: args.no_expand, build_scripts: None },
        build_scripts: args.build_scripts,
        writer: WriterConfig::default(),
    }
}

fn run_build(args: &BuildArgs, reporter: &Reporter) -> Result<u8, Error> {
    let config = build_config(args);
    let summary = build(&config, reporter)?;
    reporter.finish_progress();
    for diagnostic in &summary.diagnostics {
        reporter.diagnostic(diagnostic);
    }
    if reporter.is_json() {
        let mut value = serde_json::to_value(&summary).map_err(|err| Error::Internal(err.to_string()))?;
        value["type"] = "summary".into();
        print_stdout(&value.to_string())?;
    } else {
        let t = &summary.timings;
        let (r, v) = (&summary.resolve, &summary.validation);
        reporter.verbose(&format!(
            "vertices by kind: {:?}\nedges by kind: {:?}\nbatches written: {}, compared: {}; macro expansions reused: {}; items resolved: {}; \
             crates unaffected by their dependencies' changes: {}, patched: {}\n\
             resolution: {} imports ({} unresolved), calls {} exact, {} inferred, {} unresolved\n\
             validation: {} items with unique ids, {} resolved edges checked, {} dropped\n\
             time: metadata {} ms, plan {} ms, hashing {} ms, index {} ms, write {} ms, diff {} ms, \
             apply {} ms, save {} ms, cache {} ms; {} ms in all",
            summary.vertices_by_kind,
            summary.edges_by_kind,
            summary.batches_written,
            summary.batches_compared,
            summary.expansions_reused,
            summary.items_resolved,
            summary.crates_unaffected,
            summary.crates_patched,
            r.imports,
            r.imports_unresolved,
            r.calls_exact,
            r.calls_inferred,
            r.calls_unresolved,
            v.items,
            v.edges_checked,
            v.edges_dropped,
            t.metadata_ms,
            t.plan_ms,
            t.hash_ms,
            t.index_ms,
            t.write_ms,
            t.diff_ms,
            t.apply_ms,
            t.save_ms,
            t.cache_ms,
            summary.elapsed.as_millis()
        ));
        let failed = match summary.files_failed {
            0 => String::new(),
            n => format!(", {n} failed"),
        };
        reporter.status(
            "Finished",
            &format!(
                "{}, {}, {}, {}, {} from {}{failed} in {:.2}s",
                count(summary.packages, "package"),
                count(summary.crates, "crate"),
                count(summary.modules, "module"),
                count(summary.items, "item"),
                count(summary.edges, "edge"),
                count(summary.files, "file"),
                summary.elapsed.as_secs_f64()
            ),
        );
        if summary.fresh {
            reporter.status("Fresh", &format!("{} (nothing changed since it was built)", summary.db));
        } else {
            reporter.status("Saved", summary.db.as_str());
        }
    }
    Ok(if summary.files_failed > 0 { exit::PARTIAL } else { exit::SUCCESS })
}

/// `1 crate`, `2 crates`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// The graph file of `stats`, `export` and `serve`: `--db`, else the default in the target folder.
pub(crate) fn stored_db(db: &cli::DbArgs, manifest: &ManifestArgs) -> Result<Utf8PathBuf, Error> {
    if let Some(db) = &db.db {
        return Ok(db.clone());
    }
    let target_dir = workspace::target_dir(manifest.manifest_path.as_deref(), manifest.offline)?;
    Ok(default_db(&target_dir, None))
}

/// Reads the stored graph under a shared lock: a build in progress finishes first.
fn read_stored(
    db: &cli::DbArgs,
    manifest: &ManifestArgs,
    reporter: &Reporter,
) -> Result<(Utf8PathBuf, store::Graph), Error> {
    let path = stored_db(db, manifest)?;
    // Before the lock: taking it would leave a lock file beside a graph that does not exist.
    if !store::may_exist(&path) {
        return Err(StoreError::Missing { path }.into());
    }
    let _lock = store::lock::lock(&path, LockMode::Shared, !db.no_wait, || reporter.blocked(path.as_str()))?;
    let graph = store::open_graph(&path)?;
    Ok((path, graph))
}

fn run_stats(args: &StatsArgs, reporter: &Reporter) -> Result<u8, Error> {
    let (path, graph) = read_stored(&args.db, &args.manifest, reporter)?;
    let stats = stats::count(&graph);
    if reporter.is_json() {
        let value = serde_json::json!({ "type": "stats", "db": path, "stats": stats });
        print_stdout(&value.to_string())?;
    } else {
        let mut text = format!("{path}\n\n{:<14} {:>9}\n", "vertices", stats.vertices);
        for (kind, n) in &stats.vertices_by_kind {
            text.push_str(&format!("  {kind:<12} {n:>9}\n"));
        }
        text.push_str(&format!("\n{:<14} {:>9}\n", "edges", stats.edges));
        for (kind, n) in &stats.edges_by_kind {
            text.push_str(&format!("  {kind:<12} {n:>9}\n"));
        }
        print_stdout(text.trim_end())?;
    }
    Ok(exit::SUCCESS)
}

fn run_export(args: &ExportArgs, reporter: &Reporter) -> Result<u8, Error> {
    let picture = match args.format {
        ExportFormat::Jsonl => {
            refuse_picture_flags(&args.picture)?;
            None
        }
        format => Some(format),
    };
    let (_, graph) = read_stored(&args.db, &args.manifest, reporter)?;
    // The picture is computed (and refused when too large) before any output is opened.
    let text = match picture {
        None => None,
        Some(format) => {
            let config = export_config(format, &args.picture);
            let view = export::view(&graph, &config)?;
            Some(match format {
                ExportFormat::Html => {
                    export::check_size(&view, args.picture.max_nodes)?;
                    let detail = export::detail(&graph, &config, &view)?;
                    export::html::render(&view, detail.as_ref())
                }
                ExportFormat::Dot | ExportFormat::Mermaid => {
                    export::check_size(&view, args.picture.max_nodes)?;
                    if format == ExportFormat::Dot {
                        export::dot::render(&view)
                    } else {
                        export::mermaid::render(&view)
                    }
                }
                ExportFormat::Graphml | ExportFormat::Jsonl => export::graphml::render(&view),
            })
        }
    };
    let write = |out: &mut dyn std::io::Write| -> std::io::Result<()> {
        match &text {
            Some(text) => out.write_all(text.as_bytes())?,
            None => {
                let mut sink: &mut dyn std::io::Write = out;
                export::jsonl::write(&graph, &mut sink)?;
            }
        }
        out.flush()
    };
    match &args.output {
        Some(output) => {
            let output_error = |source| Error::Output { path: output.to_string(), source };
            // Written beside the target and renamed, so that a reader never sees half an export.
            let dir = output.parent().filter(|d| !d.as_str().is_empty()).unwrap_or(camino::Utf8Path::new("."));
            let mut file = crate::replacement_file().tempfile_in(dir).map_err(output_error)?;
            {
                let mut out = std::io::BufWriter::new(file.as_file_mut());
                write(&mut out).map_err(output_error)?;
            }
            file.persist(output).map_err(|err| output_error(err.error))?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            write(&mut out).map_err(|source| Error::Output { path: "stdout".into(), source })?;
        }
    }
    Ok(exit::SUCCESS)
}

/// `jsonl` is the whole graph: a selection flag given with it is a mistake, not something to
/// ignore quietly.
fn refuse_picture_flags(picture: &cli::PictureArgs) -> Result<(), Error> {
    let given = [
        ("--level", picture.level.is_some()),
        ("--focus", picture.focus.is_some()),
        ("--depth", picture.depth.is_some()),
        ("--edges", !picture.edges.is_empty()),
        ("--kinds", !picture.kinds.is_empty()),
        ("--include", !picture.include.is_empty()),
        ("--exclude", !picture.exclude.is_empty()),
        ("--no-externs", picture.no_externs),
    ];
    match given.iter().find(|(_, given)| *given) {
        Some((flag, _)) => Err(export::ExportError::WholeGraphOnly { flag }.into()),
        None => Ok(()),
    }
}

/// The picture a format draws by default, narrowed by the flags.
fn export_config(format: ExportFormat, picture: &cli::PictureArgs) -> export::Config {
    let default_level = if format == ExportFormat::Graphml { export::Level::Item } else { export::Level::Module };
    let mut config = export::Config::new(picture.level.unwrap_or(default_level));
    config.focus = picture.focus.clone();
    config.depth = picture.depth.unwrap_or(1);
    config.edges = picture.edges.clone();
    config.kinds = picture.kinds.clone();
    config.include = picture.include.clone();
    config.exclude = picture.exclude.clone();
    config.no_externs = picture.no_externs;
    config
}

/// `check`: the rules first (a bad one fails before any work), then the baseline and the
/// changed files, then the graph, then the rules against the graph as stored; the result is
/// rendered last, in the one format asked for.
fn run_check(args: &CheckArgs, reporter: &Reporter, format: MessageFormat) -> Result<u8, Error> {
    let config = build_config(&args.build);
    let started = Instant::now();
    let workspace = Workspace::load(&config.workspace)?;
    let rules = check::rules(&workspace.rule_tables)?;
    let baseline = args.baseline.as_deref().map(check::baseline::read).transpose()?;
    let changed = match (&args.changed, args.staged) {
        (Some(rev), _) => Some(changed_files(&workspace.root, &["diff", "--name-only", "--relative", rev])?),
        (None, true) => Some(changed_files(&workspace.root, &["diff", "--name-only", "--relative", "--cached"])?),
        (None, false) => None,
    };
    let summary = build_workspace(&workspace, &config, reporter, started)?;
    reporter.finish_progress();
    for diagnostic in &summary.diagnostics {
        reporter.diagnostic(diagnostic);
    }
    let mut violations = match rules.is_empty() {
        true => Vec::new(),
        false => {
            let _lock = store::lock::lock(&summary.db, LockMode::Shared, !config.no_wait, || {
                reporter.blocked(summary.db.as_str())
            })?;
            // The last check's result, when it was of this graph and these rules (`check::memo`).
            let memo = check::memo::path(&store::local_anchor(&summary.db, &workspace.target_dir));
            let key = store::stamp(&summary.db).map(|stamp| check::memo::Key::new(stamp, &rules));
            match key.as_ref().and_then(|key| check::memo::load(&memo, key)) {
                Some(violations) => violations,
                None => {
                    let violations = check::check(&rules, &store::open_graph(&summary.db)?);
                    if let Some(key) = &key
                        && let Err(err) = check::memo::save(&memo, key, &violations)
                    {
                        reporter.warning(&format!("could not record the check's result in `{memo}`: {err}"));
                    }
                    violations
                }
            }
        }
    };
    if let Some(changed) = &changed {
        // A violation is the commit's when a piece of its evidence is in a file it changed.
        violations.retain(|violation| violation.evidence.iter().any(|evidence| changed.contains(&evidence.file)));
    }
    if let Some(path) = &args.write_baseline {
        let count = check::baseline::write(path, &violations)?;
        reporter
            .status("Recorded", &format!("{} violation(s) as {count} baseline entries in `{path}`", violations.len()));
        return Ok(if summary.files_failed > 0 { exit::PARTIAL } else { exit::SUCCESS });
    }
    let mut stale = Vec::new();
    let mut known = 0;
    if let Some(baseline) = &baseline {
        let compared = check::baseline::compare(violations, baseline);
        violations = compared.new;
        known = compared.known;
        stale = compared.stale;
        if changed.is_some() {
            // Entries outside the changed files were not looked for: none of them is stale.
            stale.clear();
        }
    }
    let described = rules.describe();
    match format {
        MessageFormat::Json => {
            for violation in &violations {
                let mut value = serde_json::to_value(violation).map_err(|err| Error::Internal(err.to_string()))?;
                value["type"] = "violation".into();
                print_stdout(&value.to_string())?;
            }
            let mut value = serde_json::json!({
                "type": "check",
                "rules": rules.len(),
                "violations": violations.len(),
                "files_failed": summary.files_failed,
            });
            if baseline.is_some() {
                value["baselined"] = known.into();
                value["stale"] = serde_json::to_value(&stale).map_err(|err| Error::Internal(err.to_string()))?;
            }
            print_stdout(&value.to_string())?;
        }
        MessageFormat::Sarif => print_raw(&check::sarif::render(&described, &violations))?,
        MessageFormat::Github => print_raw(&check::github::render(&violations))?,
        MessageFormat::Junit => print_raw(&check::junit::render(&described, &violations))?,
        MessageFormat::Human => {
            for violation in &violations {
                print_stdout(&check::human::render(violation))?;
            }
            if rules.is_empty() {
                reporter.status("Checked", "no rules: add `[workspace.metadata.codegraph]` to Cargo.toml");
            } else if violations.is_empty() {
                let mut message = format!("{} rules against {} files: none broken", rules.len(), summary.files);
                if known > 0 {
                    message.push_str(&format!(" ({known} known violation(s) in the baseline)"));
                }
                reporter.status("Checked", &message);
            }
        }
    }
    for entry in &stale {
        reporter.warning(&format!(
            "stale baseline entry: {} `{}` -> `{}` ({}, {}) no longer occurs; rewrite the baseline with --write-baseline",
            entry.rule, entry.from, entry.to, entry.kind, entry.origin
        ));
    }
    if !violations.is_empty() {
        reporter.error(&RulesBroken(violations.len()));
        return Ok(exit::RULES_BROKEN);
    }
    if args.strict_baseline && !stale.is_empty() {
        reporter.error(&StaleBaseline(stale.len()));
        return Ok(exit::RULES_BROKEN);
    }
    Ok(if summary.files_failed > 0 { exit::PARTIAL } else { exit::SUCCESS })
}

/// The files `git ARGS` names (one per line, relative to the workspace root), run in `root`.
fn changed_files(root: &camino::Utf8Path, args: &[&str]) -> Result<std::collections::BTreeSet<String>, Error> {
    let output = std::process::Command::new("git")
        .args(args)
        .current_dir(root)
        .output()
        .map_err(|err| Error::Git(format!("cannot run `git {}`: {err}", args.join(" "))))?;
    if !output.status.success() {
        return Err(Error::Git(format!(
            "`git {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).filter(|line| !line.is_empty()).collect())
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Usage(String);

#[derive(Debug, thiserror::Error)]
#[error("{0} stale baseline entries (--strict-baseline): rewrite the baseline with --write-baseline")]
struct StaleBaseline(usize);

#[derive(Debug, thiserror::Error)]
#[error("{0} architecture rule violation(s) found")]
struct RulesBroken(usize);

/// Text that carries its own line ends.
fn print_raw(text: &str) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes()).map_err(|source| Error::Output { path: "stdout".into(), source })
}

fn print_stdout(text: &str) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}").map_err(|source| Error::Output { path: "stdout".into(), source })
}

/// The graph a reader asks about, brought up to date first unless `no_update` (as `check` does:
/// skipped when nothing changed, incremental otherwise); its path, and the workspace's root when
/// it was loaded.
fn prepare_graph(
    args: &BuildArgs,
    no_update: bool,
    reporter: &Reporter,
) -> Result<(Utf8PathBuf, Option<Utf8PathBuf>), Error> {
    if no_update {
        let db = stored_db(&args.db, &args.manifest)?;
        if !store::may_exist(&db) {
            return Err(StoreError::Missing { path: db }.into());
        }
        return Ok((db, None));
    }
    let config = build_config(args);
    let started = Instant::now();
    let workspace = Workspace::load(&config.workspace)?;
    let summary = build_workspace(&workspace, &config, reporter, started)?;
    reporter.finish_progress();
    for diagnostic in &summary.diagnostics {
        reporter.diagnostic(diagnostic);
    }
    Ok((summary.db, Some(workspace.root)))
}

/// `query`: the graph brought up to date, read under a shared lock, asked one question.
fn run_query(verb: QueryVerb, reporter: &Reporter) -> Result<u8, Error> {
    let common = verb.common().clone();
    let (db, root) = prepare_graph(&common.build, common.no_update, reporter)?;
    let root = || -> Result<Utf8PathBuf, Error> {
        match &root {
            Some(root) => Ok(root.clone()),
            None => {
                Ok(workspace::locate(common.build.manifest.manifest_path.as_deref(), common.build.manifest.offline)?.0)
            }
        }
    };
    let request = match verb {
        QueryVerb::Find { pattern, kinds, .. } => query::Request::Find { pattern, kinds },
        QueryVerb::Show { item, .. } => query::Request::Show { target: item },
        QueryVerb::Callers { item, depth, .. } => query::Request::Callers { target: item, depth },
        QueryVerb::Callees { item, depth, .. } => query::Request::Callees { target: item, depth },
        QueryVerb::Impls { item, .. } => query::Request::Impls { target: item },
        QueryVerb::Refs { item, .. } => query::Request::Refs { target: item },
        QueryVerb::Deps { item, depth, .. } => query::Request::Deps { target: item, depth },
        QueryVerb::Rdeps { item, depth, .. } => query::Request::Rdeps { target: item, depth },
        QueryVerb::Path { from, to, .. } => query::Request::Path { from, to },
        QueryVerb::Impact { changes, diff, depth, .. } => {
            let root = root()?;
            let changes = match diff {
                Some(rev) => query::impact::git_diff(&root, &rev)?,
                None => {
                    let cwd = std::env::current_dir()
                        .ok()
                        .and_then(|dir| Utf8PathBuf::from_path_buf(dir).ok())
                        .unwrap_or_else(|| root.clone());
                    changes
                        .iter()
                        .map(|text| query::impact::parse_change(text, &root, &cwd))
                        .collect::<Result<Vec<_>, _>>()?
                }
            };
            query::Request::Impact { changes, depth }
        }
        QueryVerb::Cycles { level, .. } => query::Request::Cycles { level },
        QueryVerb::Stats { .. } => query::Request::Stats,
    };
    let mut answer = {
        let _lock =
            store::lock::lock(&db, LockMode::Shared, !common.build.db.no_wait, || reporter.blocked(db.as_str()))?;
        // A graph on a server is asked only for what the query needs (`store::answer`).
        store::answer(&db, |graph| query::run(graph, &request))?
    }?;
    if let Some(limit) = common.limit {
        answer.truncate(limit);
    }
    let text = if reporter.is_json() { query::render::json_lines(&answer) } else { query::render::human(&answer) };
    print_stdout(text.trim())?;
    Ok(exit::SUCCESS)
}

/// `mcp`: the graph brought up to date as `query` does (unless `--no-update`), then served until
/// the client leaves. Everything said goes to stderr: stdout is the protocol's.
fn run_mcp(args: &McpArgs, reporter: &Reporter) -> Result<u8, Error> {
    let (db, root) = prepare_graph(&args.build, args.no_update, reporter)?;
    // Only `impact` needs the root; a graph given by `--db` outside any workspace is still served
    // (`impact` then takes files relative to the current folder).
    let manifest = &args.build.manifest;
    let root =
        root.or_else(|| workspace::locate(manifest.manifest_path.as_deref(), manifest.offline).ok().map(|l| l.0));
    reporter.status("Serving", &format!("{db} over the Model Context Protocol on stdin and stdout"));
    let options = mcp::Options { no_wait: args.build.db.no_wait };
    mcp::serve(db, root, &options, reporter)?;
    Ok(exit::SUCCESS)
}
