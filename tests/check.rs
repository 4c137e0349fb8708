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
