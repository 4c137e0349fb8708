//! `cargo codegraph check` on the `layered` fixture: a clean workspace passes, and each kind of
//! rule (forbid, layers, module cycles) fails with its evidence; bad rules have their own exit code.

mod common;

use common::{Fixture, describe, stderr};
use serde_json::Value;

#[test]
fn a_clean_workspace_passes() {
    let fixture = Fixture::new("layered");
    let output = fixture.run(&["check", "--offline", "--db", fixture.db().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(stderr(&output).contains("Checked 3 rules against 6 files: none broken"), "{}", describe(&output));
    assert!(output.stdout.is_empty(), "{}", describe(&output));
}

#[test]
fn broken_rules_fail_with_their_evidence() {
    let fixture = Fixture::new("layered");
    common::break_layered_rules(fixture.path());
    let output = fixture.run(&["check", "--offline", "--db", fixture.db().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let report = String::from_utf8(output.stdout.clone()).unwrap();
    for expected in [
        "error[forbid]: `app::domain` depends on `app::infra`: the domain knows no database",
        "  rule: [workspace.metadata.codegraph] forbid[0]",
        "  --> app/src/domain.rs:16: call of `app::infra::connect` in `app::domain::persist`",
        "error[layers]: `app::infra` depends on `app::cli`: layer `app::infra` may not depend on `app::cli`, a layer above it",
        "  --> app/src/infra.rs:1: use of `app::cli` in `app::infra`",
        "error[cycle]: cycle between `app::a`, `app::b`: these modules depend on each other in a cycle",
        "  --> app/src/a.rs:2: call of `app::b::two` in `app::a::one`",
        "  --> app/src/b.rs:2: call of `app::a::one` in `app::b::two`",
    ] {
        assert!(report.contains(expected), "missing `{expected}` in:\n{report}");
    }
    assert!(stderr(&output).contains("architecture rule violation(s) found"), "{}", describe(&output));

    // The same for machines: one JSON object per violation, then a summary; sorted, so stable.
    let json = fixture.run(&["check", "--offline", "--db", fixture.db().to_str().unwrap(), "--message-format", "json"]);
    assert_eq!(json.status.code(), Some(1), "{}", describe(&json));
    let lines: Vec<Value> =
        String::from_utf8(json.stdout).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let rules: Vec<&str> =
        lines.iter().filter(|l| l["type"] == "violation").map(|l| l["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, ["cycle", "cycle", "forbid", "layers"]);
    let summary = lines.last().unwrap();
    assert_eq!(
        (summary["type"].as_str(), summary["violations"].as_u64(), summary["rules"].as_u64()),
        (Some("check"), Some(4), Some(3))
    );
    let forbid = lines.iter().find(|l| l["rule"] == "forbid").unwrap();
    assert_eq!(forbid["evidence"][0]["file"], "app/src/domain.rs");
    assert_eq!(forbid["evidence"][0]["line"], 16);
}

#[test]
fn invalid_rules_name_the_key_before_any_work() {
    let fixture = Fixture::new("layered");
    let manifest = fixture.manifest();
    let text = std::fs::read_to_string(&manifest).unwrap().replace("to = \"app::infra::**\", ", "");
    std::fs::write(&manifest, text).unwrap();
    let output = fixture.run(&["check", "--offline", "--db", fixture.db().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(8), "{}", describe(&output));
    assert!(
        stderr(&output)
            .contains("invalid `[workspace.metadata.codegraph]` in `Cargo.toml`: forbid[0]: missing field `to`"),
        "{}",
        describe(&output)
    );
    assert!(!fixture.db().exists(), "nothing is built when the rules are bad");
}

/// The `rules` fixture breaks each of the richer rule kinds once (twice for `independent`); the
/// expected report is written by hand from its sources (see `tests/fixtures/README.md`).
#[test]
fn each_rule_kind_reports_its_violations_with_evidence() {
    let fixture = Fixture::new("rules");
    let output = fixture.run(&["check", "--offline", "--db", fixture.db().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let expected = "\
error[allow-only]: `app::billing` depends on `app::db`: only the repository talks to the database
  rule: [workspace.metadata.codegraph] allow-only[0]
  --> app/src/billing.rs:2: call of `app::db::query` in `app::billing::bill`

error[call]: `app::cli` calls `std::process::exit`
  rule: [workspace.metadata.codegraph] call[0]
  --> app/src/cli.rs:7: call of `std::process::exit` in `app::cli::quit`

error[cycle]: cycle between `app::x`, `app::y`, `app::z`: these modules depend on each other in a cycle
  rule: deny-cycles = [\"modules\"]
  --> app/src/x.rs:2: call of `app::y::y1` in `app::x::x`
  --> app/src/y.rs:2: call of `app::z::z` in `app::y::y1`
  --> app/src/y.rs:6: call of `app::x::x` in `app::y::y2`
  --> app/src/z.rs:2: call of `app::x::x` in `app::z::z`
  break: `app::x` -> `app::y`
    at app/src/x.rs:2: call of `app::y::y1` in `app::x::x`

error[derive]: `app::domain` derives `std::fmt::Debug`: domain types do not print themselves
  rule: [workspace.metadata.codegraph] derive[0]
  --> app/src/domain.rs:5: derive of `std::fmt::Debug` in `app::domain::Order`

error[forbid]: `app::cli` depends on `app::db`: the command line goes through the repository
  rule: [workspace.metadata.codegraph] forbid[0]
  --> app/src/cli.rs:3: call of `app::repo::load` in `app::cli::run`
  --> app/src/repo.rs:2: call of `app::db::query` in `app::repo::load`

error[implement]: `app::shipping` implements `app::domain::Repository`: storage lives in adapters
  rule: [workspace.metadata.codegraph] implement[0]
  --> app/src/shipping.rs:3: impl of `app::domain::Repository` in `app::shipping::<impl crate::domain::Repository for Memory>`

error[independent]: `app::billing` depends on `app::shipping`: `app::billing` and `app::shipping` must stay independent of each other
  rule: [workspace.metadata.codegraph] independent[0]
  --> app/src/billing.rs:2: call of `app::shared::helper` in `app::billing::bill`
  --> app/src/shared.rs:2: call of `app::shipping::ship` in `app::shared::helper`

error[independent]: `app::search` depends on `app::shipping`: `app::search` and `app::shipping` must stay independent of each other
  rule: [workspace.metadata.codegraph] independent[0]
  --> app/src/search.rs:2: call of `app::shipping::ship` in `app::search::find`

error[invoke]: `app::cli` invokes `std::println`: output goes through report
  rule: [workspace.metadata.codegraph] invoke[0]
  --> app/src/cli.rs:2: invoke of `std::println` in `app::cli::run`

";
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected, "{}", describe(&output));
    assert!(stderr(&output).contains("9 architecture rule violation(s) found"), "{}", describe(&output));
}

#[test]
fn a_bad_key_of_a_new_rule_kind_is_exit_code_8() {
    let fixture = Fixture::new("rules");
    let manifest = fixture.manifest();
    let text = std::fs::read_to_string(&manifest).unwrap().replace("only-in = ", "only-within = ");
    std::fs::write(&manifest, text).unwrap();
    let output = fixture.run(&["check", "--offline", "--db", fixture.db().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(8), "{}", describe(&output));
    assert!(stderr(&output).contains("implement[0].only-within: unknown field `only-within`"), "{}", describe(&output));
}
