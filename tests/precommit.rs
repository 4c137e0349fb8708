//! The hook, end to end, with real git: the pre-commit framework installs our hook by its id from
//! `.pre-commit-hooks.yaml`, a clean commit goes through, and a commit that adds a forbidden
//! dependency is rejected with the evidence printed. The plain git hook of the README does the
//! same without the framework.
//!
//! Needs `git` and the `pre-commit` tool: `cargo xtask test` installs it into the target folder,
//! where `common::tool` finds it. It fails, saying so, when either is missing: it is never skipped
//! quietly.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{BIN, Fixture, describe, tool};

/// PATH with the built binary's folder first, so that hooks find `cargo-codegraph`.
fn path_with_binary() -> std::ffi::OsString {
    let bin_dir = Path::new(BIN).parent().unwrap().to_path_buf();
    let mut paths = vec![bin_dir];
    paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    std::env::join_paths(paths).unwrap()
}

fn run(dir: &Path, program: &Path, args: &[&str], home: &Path) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("PATH", path_with_binary())
        .env("PRE_COMMIT_HOME", home.join("pre-commit-cache"))
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .unwrap()
}

#[track_caller]
fn ok(output: Output) -> Output {
    assert!(output.status.success(), "{}", describe(&output));
    output
}

/// A git repository holding the fixture, committed.
fn project(git: &Path, home: &Path) -> Fixture {
    let fixture = Fixture::new("layered");
    let dir = fixture.path();
    std::fs::write(dir.join(".gitignore"), "target/\nCargo.lock\n*.msgpack\n*.lock\n").unwrap();
    ok(run(dir, git, &["init", "-q", "-b", "main"], home));
    fixture
}

fn head(dir: &Path, git: &Path, home: &Path) -> String {
    String::from_utf8(ok(run(dir, git, &["rev-parse", "HEAD"], home)).stdout).unwrap().trim().to_owned()
}

fn commit_all(dir: &Path, git: &Path, home: &Path, message: &str) -> Output {
    ok(run(dir, git, &["add", "-A"], home));
    run(dir, git, &["commit", "-q", "-m", message], home)
}

#[test]
fn pre_commit_installs_the_hook_by_id_and_rejects_a_forbidden_dependency() {
    let git = tool("git");
    let pre_commit = tool("pre-commit");
    let home = tempfile::tempdir().unwrap();

    // The hook's repository: this project's `.pre-commit-hooks.yaml`, as a repository of its own
    // (pre-commit clones hook repositories; the working tree's file is the one under test).
    let hooks = tempfile::tempdir().unwrap();
    let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml");
    std::fs::copy(ours, hooks.path().join(".pre-commit-hooks.yaml")).unwrap();
    ok(run(hooks.path(), &git, &["init", "-q", "-b", "main"], home.path()));
    commit_all(hooks.path(), &git, home.path(), "hooks");
    let rev = head(hooks.path(), &git, home.path());

    let fixture = project(&git, home.path());
    let dir = fixture.path();
    let config = format!(
        "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: cargo-codegraph-check\n        args: [--offline]\n",
        hooks.path().display()
    );
    std::fs::write(dir.join(".pre-commit-config.yaml"), config).unwrap();
    ok(run(dir, &pre_commit, &["install"], home.path()));

    let clean = commit_all(dir, &git, home.path(), "a clean start");
    assert!(clean.status.success(), "the clean commit is accepted: {}", describe(&clean));
    let before = head(dir, &git, home.path());

    common::break_layered_rules(dir);
    let rejected = commit_all(dir, &git, home.path(), "a forbidden dependency");
    assert!(!rejected.status.success(), "the commit is rejected: {}", describe(&rejected));
    let shown = format!("{}{}", String::from_utf8_lossy(&rejected.stdout), String::from_utf8_lossy(&rejected.stderr));
    assert!(shown.contains("cargo codegraph check"), "{shown}");
    assert!(
        shown.contains("error[forbid]: `app::domain` depends on `app::infra`: the domain knows no database"),
        "{shown}"
    );
    assert!(shown.contains("--> app/src/domain.rs:16: call of `app::infra::connect`"), "{shown}");
    assert_eq!(head(dir, &git, home.path()), before, "nothing was committed");
}

#[test]
fn a_plain_git_hook_does_the_same() {
    let git = tool("git");
    let home = tempfile::tempdir().unwrap();
    let fixture = project(&git, home.path());
    let dir = fixture.path();
    // The README's hook, verbatim.
    let hook = dir.join(".git/hooks/pre-commit");
    std::fs::write(&hook, "#!/bin/sh\nexec cargo-codegraph codegraph check --offline --staged\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let clean = commit_all(dir, &git, home.path(), "a clean start");
    assert!(clean.status.success(), "{}", describe(&clean));
    common::break_layered_rules(dir);
    let rejected = commit_all(dir, &git, home.path(), "a forbidden dependency");
    assert!(!rejected.status.success(), "{}", describe(&rejected));
    // git shows a hook's output on stderr.
    assert!(String::from_utf8_lossy(&rejected.stderr).contains("--> app/src/domain.rs:16"), "{}", describe(&rejected));
}

/// `--staged` and `--changed REV` report only violations with evidence in the files git names.
#[test]
fn staged_and_changed_report_only_what_the_commit_touches() {
    let git = tool("git");
    let home = tempfile::tempdir().unwrap();
    let fixture = project(&git, home.path());
    let dir = fixture.path();
    assert!(commit_all(dir, &git, home.path(), "a clean start").status.success());
    common::break_layered_rules(dir);
    // Only `domain.rs` (the forbidden call) is staged; `infra.rs` (layers) and `a.rs` (cycle) are not.
    ok(run(dir, &git, &["add", "app/src/domain.rs"], home.path()));
    let db = fixture.db();
    let check = |extra: &[&str]| {
        let mut args = vec!["check", "--offline", "--db", db.to_str().unwrap()];
        args.extend(extra);
        run(dir, Path::new(BIN), &args, home.path())
    };
    let rules = |output: &Output| -> Vec<String> {
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.strip_prefix("error[").and_then(|rest| rest.split(']').next()).map(str::to_owned))
            .collect()
    };
    let staged = check(&["--staged"]);
    assert_eq!(staged.status.code(), Some(1), "{}", describe(&staged));
    // The forbidden call, and the cycle it closes (cli → domain → infra → cli); not the a ↔ b cycle.
    assert_eq!(rules(&staged), ["cycle", "forbid"], "{}", describe(&staged));
    assert!(!String::from_utf8_lossy(&staged.stdout).contains("app/src/a.rs"), "{}", describe(&staged));
    let changed = check(&["--changed", "HEAD"]);
    assert_eq!(changed.status.code(), Some(1), "{}", describe(&changed));
    assert_eq!(rules(&changed), ["cycle", "cycle", "forbid", "layers"], "{}", describe(&changed));
    let unknown = check(&["--changed", "no-such-rev"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", describe(&unknown));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("`git diff --name-only --relative no-such-rev` failed"));
}
