//! `check`'s result as SARIF 2.1.0, for code-scanning services: one rule per rule of the
//! tables (its description and reason), one result per violation, located at its first piece of
//! evidence, the rest as related locations.
//!
//! Written with serde_json rather than the `serde-sarif` crate: the few objects needed are plain,
//! and the crate's generated types (and their builder and enum-string macros) would cost more to
//! build than they save; a test validates the output against the official schema instead.
//! Locations are relative to the workspace root (`uriBaseId` `%SRCROOT%`), never absolute, so the
//! same workspace gives the same bytes in any folder.

use serde_json::{Value, json};

use super::{RuleInfo, Violation};

/// The SARIF log of one check.
pub fn render(rules: &[RuleInfo], violations: &[Violation]) -> String {
    let descriptors: Vec<Value> = rules
        .iter()
        .map(|rule| {
            let mut descriptor = json!({
                "id": rule.origin,
                "name": rule.rule,
                "shortDescription": { "text": rule.description },
                "fullDescription": { "text": match &rule.reason {
                    Some(reason) => format!("{}: {reason}", rule.description),
                    None => rule.description.clone(),
                } },
                "defaultConfiguration": { "level": "error" },
            });
            if let Some(reason) = &rule.reason {
                descriptor["properties"] = json!({ "reason": reason });
            }
            descriptor
        })
        .collect();
    let results: Vec<Value> = violations
        .iter()
        .map(|violation| {
            let mut locations = violation.evidence.iter().map(|evidence| {
                let mut physical = json!({
                    "artifactLocation": { "uri": evidence.file, "uriBaseId": "%SRCROOT%" },
                });
                if evidence.line > 0 {
                    physical["region"] = json!({ "startLine": evidence.line });
                }
                json!({
                    "physicalLocation": physical,
                    "message": { "text": format!("{} of `{}` in `{}`", evidence.kind, evidence.to, evidence.from) },
                })
            });
            let first: Vec<Value> = locations.next().into_iter().collect();
            let related: Vec<Value> = locations
                .enumerate()
                .map(|(index, mut location)| {
                    location["id"] = json!(index + 1);
                    location
                })
                .collect();
            let mut result = json!({
                "ruleId": violation.origin,
                "level": "error",
                "message": { "text": super::human::message(violation) },
                "locations": first,
            });
            if let Some(index) = rules.iter().position(|rule| rule.origin == violation.origin) {
                result["ruleIndex"] = json!(index);
            }
            if !related.is_empty() {
                result["relatedLocations"] = json!(related);
            }
            result
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "cargo-codegraph",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/cargo-codegraph/cargo-codegraph",
                "rules": descriptors,
            } },
            "results": results,
        }],
    });
    // A JSON value built above: serializing it cannot fail.
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_default();
    text.push('\n');
    text
}
