//! `check`'s result as JUnit XML, for CI services that show test reports: one test case per rule,
//! failed with its violations (the human report as the failure's text) when it is broken.

use super::{RuleInfo, Violation};

/// The JUnit document of one check.
pub fn render(rules: &[RuleInfo], violations: &[Violation]) -> String {
    let failures = rules.iter().filter(|rule| violations.iter().any(|v| v.origin == rule.origin)).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"cargo-codegraph check\" tests=\"{}\" failures=\"{failures}\">\n",
        rules.len()
    ));
    out.push_str(&format!(
        "  <testsuite name=\"architecture rules\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">\n",
        rules.len()
    ));
    for rule in rules {
        let broken: Vec<&Violation> = violations.iter().filter(|v| v.origin == rule.origin).collect();
        let name = escape(&format!("{}: {}", rule.origin, rule.description));
        let classname = escape(&format!("codegraph.{}", rule.rule));
        if broken.is_empty() {
            out.push_str(&format!("    <testcase name=\"{name}\" classname=\"{classname}\"/>\n"));
            continue;
        }
        let text: String = broken.iter().map(|v| super::human::render(v)).collect::<Vec<_>>().join("\n");
        out.push_str(&format!("    <testcase name=\"{name}\" classname=\"{classname}\">\n"));
        out.push_str(&format!(
            "      <failure message=\"{}\" type=\"{}\">{}</failure>\n",
            escape(&format!("{} violation(s)", broken.len())),
            escape(rule.rule),
            escape(&text)
        ));
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Text as XML character data or an attribute value.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}
