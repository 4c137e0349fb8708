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

/// A check with nothing changed reuses the last one's result (`<db>.check.json`); an edit, new
/// rules or a damaged record each make it look at the graph again.
#[test]
fn a_recorded_result_follows_edits_rules_and_damage() {
    let fixture = Fixture::new("layered");
    let db = fixture.db();
    let memo = std::path::PathBuf::from(format!("{}.check.json", db.display()));
    let run = || fixture.run(&["check", "--offline", "--db", db.to_str().unwrap(), "--message-format", "json"]);
    let violations = |output: &std::process::Output| -> Vec<String> {
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .filter(|line| line["type"] == "violation")
            .map(|line| format!("{} {} -> {}", line["rule"], line["from"], line["to"]))
            .collect()
    };

    let clean = run();
    assert_eq!(clean.status.code(), Some(0), "{}", describe(&clean));
    assert!(memo.is_file(), "the result is recorded beside the graph");
    let again = run();
    assert_eq!((again.status.code(), again.stdout.clone()), (Some(0), clean.stdout.clone()), "{}", describe(&again));

    // The code changes: the graph's stamp changes with it, and the new violations show.
    common::break_layered_rules(fixture.path());
    let broken = run();
    assert_eq!(broken.status.code(), Some(1), "{}", describe(&broken));
    assert_eq!(
        violations(&broken),
        [
            r#""cycle" "app::a" -> "app::a""#,
            r#""cycle" "app::cli" -> "app::cli""#,
            r#""forbid" "app::domain" -> "app::infra""#,
            r#""layers" "app::infra" -> "app::cli""#
        ]
    );
    let recorded = run();
    assert_eq!((recorded.status.code(), &recorded.stdout), (Some(1), &broken.stdout), "{}", describe(&recorded));

    // The rules change, the graph does not: the record is not reused.
    let manifest = fixture.manifest();
    let text = std::fs::read_to_string(&manifest).unwrap().replace("deny-cycles = [\"modules\"]\n", "");
    std::fs::write(&manifest, text).unwrap();
    let fewer = run();
    assert_eq!(fewer.status.code(), Some(1), "{}", describe(&fewer));
    assert_eq!(
        violations(&fewer),
        [r#""forbid" "app::domain" -> "app::infra""#, r#""layers" "app::infra" -> "app::cli""#]
    );

    // A damaged record is a miss, never a wrong answer.
    std::fs::write(&memo, b"{\"key\": [1, 2").unwrap();
    let damaged = run();
    assert_eq!((damaged.status.code(), &damaged.stdout), (Some(1), &fewer.stdout), "{}", describe(&damaged));
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

/// Runs `check` on the fixture with extra arguments.
fn check(fixture: &Fixture, extra: &[&str]) -> std::process::Output {
    let db = fixture.db();
    let mut args = vec!["check", "--offline", "--db", db.to_str().unwrap()];
    args.extend(extra);
    fixture.run(&args)
}

#[test]
fn a_baseline_fails_only_on_new_violations_and_reports_stale_ones() {
    let fixture = Fixture::new("rules");
    let baseline = fixture.path().join("codegraph-baseline.json");
    let baseline = baseline.to_str().unwrap();
    let written = check(&fixture, &["--write-baseline", baseline]);
    assert_eq!(written.status.code(), Some(0), "{}", describe(&written));
    let text = std::fs::read_to_string(baseline).unwrap();
    assert!(text.starts_with("{\n  \"version\": 1,\n  \"violations\": ["), "{text}");
    assert!(!text.contains("\"line\""), "keys hold no line numbers: {text}");
    // Deterministic: writing it again gives the same bytes.
    assert_eq!(check(&fixture, &["--write-baseline", baseline]).status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(baseline).unwrap(), text);

    let known = check(&fixture, &["--baseline", baseline]);
    assert_eq!(known.status.code(), Some(0), "{}", describe(&known));
    assert!(known.stdout.is_empty(), "{}", describe(&known));
    assert!(stderr(&known).contains("(9 known violation(s) in the baseline)"), "{}", describe(&known));

    // Moving code (a blank line first) changes lines, not keys; a new call to `exit` is new; the
    // search → shipping dependency removed leaves its entry stale.
    let src = fixture.path().join("app/src");
    std::fs::write(src.join("search.rs"), "\npub fn find() -> u32 {\n    2\n}\n").unwrap();
    let db = std::fs::read_to_string(src.join("billing.rs")).unwrap();
    std::fs::write(src.join("billing.rs"), format!("\n{db}\npub fn stop() {{\n    std::process::exit(2)\n}}\n"))
        .unwrap();
    let after = check(&fixture, &["--baseline", baseline]);
    assert_eq!(after.status.code(), Some(1), "{}", describe(&after));
    let report = String::from_utf8_lossy(&after.stdout);
    assert!(report.starts_with("error[call]: `app::billing` calls `std::process::exit`\n"), "{report}");
    assert_eq!(report.matches("error[").count(), 1, "{report}");
    let warning = "warning: stale baseline entry: independent `app::search` -> `app::shipping` (call, \
                   [workspace.metadata.codegraph] independent[0]) no longer occurs";
    assert!(stderr(&after).contains(warning), "{}", describe(&after));

    // Without the new violation, stale entries pass, unless --strict-baseline.
    std::fs::write(src.join("billing.rs"), format!("\n{db}")).unwrap();
    assert_eq!(check(&fixture, &["--baseline", baseline]).status.code(), Some(0));
    let strict = check(&fixture, &["--baseline", baseline, "--strict-baseline"]);
    assert_eq!(strict.status.code(), Some(1), "{}", describe(&strict));
    assert!(stderr(&strict).contains("1 stale baseline entries (--strict-baseline)"), "{}", describe(&strict));
}

#[test]
fn a_missing_malformed_or_foreign_baseline_is_exit_code_8() {
    let fixture = Fixture::new("rules");
    let path = fixture.path().join("baseline.json");
    let name = path.to_str().unwrap();
    for (text, expected) in [
        (None, "cannot read it"),
        (Some("{\"version\": 1, \"violations\": [{}]}"), "malformed at `violations[0]`"),
        (Some("{\"version\": 7, \"violations\": []}"), "version 7, and this cargo-codegraph reads version 1"),
        (Some(""), "not JSON"),
    ] {
        if let Some(text) = text {
            std::fs::write(&path, text).unwrap();
        }
        let output = check(&fixture, &["--baseline", name]);
        assert_eq!(output.status.code(), Some(8), "{}", describe(&output));
        assert!(stderr(&output).contains(&format!("baseline `{name}`: {expected}")), "{}", describe(&output));
        assert!(!fixture.db().exists(), "nothing is built when the baseline is bad");
    }
}

#[test]
fn ci_formats_render_the_same_violations() {
    let fixture = Fixture::new("rules");
    let github = check(&fixture, &["--message-format", "github"]);
    assert_eq!(github.status.code(), Some(1), "{}", describe(&github));
    let lines: Vec<String> = String::from_utf8_lossy(&github.stdout).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 9, "{lines:#?}");
    assert!(
        lines.contains(
            &"::error file=app/src/cli.rs,line=7,title=codegraph call%3A [workspace.metadata.codegraph] \
                         call[0]::`app::cli` calls `std::process::exit`%0Aapp/src/cli.rs:7: call of \
                         `std::process::exit` in `app::cli::quit`"
                .to_owned()
        ),
        "{lines:#?}"
    );

    let junit = check(&fixture, &["--message-format", "junit"]);
    assert_eq!(junit.status.code(), Some(1), "{}", describe(&junit));
    let xml = String::from_utf8_lossy(&junit.stdout);
    assert!(xml.contains("<testsuites name=\"cargo-codegraph check\" tests=\"8\" failures=\"8\">"), "{xml}");
    assert_eq!(xml.matches("<testcase ").count(), 8, "{xml}");
    assert!(xml.contains("<failure message=\"2 violation(s)\" type=\"independent\">"), "{xml}");

    let sarif = check(&fixture, &["--message-format", "sarif"]);
    assert_eq!(sarif.status.code(), Some(1), "{}", describe(&sarif));
    let log: Value = serde_json::from_slice(&sarif.stdout).unwrap();
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 8);
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 9);
    let forbid = results.iter().find(|r| r["ruleId"] == "[workspace.metadata.codegraph] forbid[0]").unwrap();
    let location = &forbid["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "app/src/cli.rs");
    assert_eq!(location["region"]["startLine"], 3);
    assert_eq!(forbid["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"], "app/src/repo.rs");
    let rule = &run["tool"]["driver"]["rules"][forbid["ruleIndex"].as_u64().unwrap() as usize];
    assert_eq!(rule["properties"]["reason"], "the command line goes through the repository");
}

#[test]
fn check_only_formats_are_refused_elsewhere() {
    let fixture = Fixture::new("rules");
    let output = fixture.run(&["stats", "--message-format", "sarif", "--db", fixture.db().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(stderr(&output).contains("`--message-format sarif` is only for `check`"), "{}", describe(&output));
}

/// The SARIF log validates against the official SARIF 2.1.0 JSON schema (as Microsoft's
/// `@microsoft/jest-sarif` ships it; `cargo xtask test` installs it), with Python's `jsonschema`.
#[test]
fn sarif_validates_against_the_official_schema() {
    let python = common::tool("python");
    let schema = common::tool_file("node/node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json");
    let fixture = Fixture::new("rules");
    let sarif = check(&fixture, &["--message-format", "sarif"]);
    assert_eq!(sarif.status.code(), Some(1), "{}", describe(&sarif));
    let log = fixture.path().join("check.sarif");
    std::fs::write(&log, &sarif.stdout).unwrap();
    let script = "import json, sys, jsonschema\n\
                  schema = json.load(open(sys.argv[1]))\n\
                  log = json.load(open(sys.argv[2]))\n\
                  jsonschema.Draft7Validator.check_schema(schema)\n\
                  errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(log), key=str)\n\
                  for error in errors: print(error.json_path, error.message)\n\
                  print(len(log['runs'][0]['results']), 'results')\n\
                  sys.exit(1 if errors else 0)\n";
    let output = std::process::Command::new(python).args(["-c", script]).arg(&schema).arg(&log).output().unwrap();
    assert!(output.status.success(), "the SARIF log does not validate:\n{}", describe(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "9 results");
}
