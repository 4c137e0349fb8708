//! A baseline that only shrinks: today's violations recorded under stable keys, so that `check
//! --baseline FILE` fails only on new ones and says which recorded ones no longer occur.
//!
//! A key is a violation's rule, origin, ends and the kind of one piece of its evidence (`call`,
//! `use`, ...), never a line number, so that moving code does not make a violation new. The file
//! is JSON, `{"version": 1, "violations": [...]}`, its entries sorted and deduplicated, so that the
//! same violations give the same bytes. A file that is missing, malformed or of another version
//! is an error naming it: never read as an empty baseline, which would hide every violation's
//! absence and pass everything new. This module knows `Violation` only.

use std::collections::BTreeSet;

use camino::Utf8Path;
use serde::{Deserialize, Serialize};

use super::Violation;

/// The version of the baseline format this build reads and writes.
pub const VERSION: u64 = 1;

/// A baseline that cannot be read or written; names the file.
#[derive(Debug, thiserror::Error)]
#[error("baseline `{path}`: {message}")]
pub struct BaselineError {
    pub path: String,
    pub message: String,
}

/// One recorded violation: its stable key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub rule: String,
    pub origin: String,
    /// For a cycle, its members joined by `, `.
    pub from: String,
    pub to: String,
    /// The kind of evidence: `use`, `call`, `reference`, `impl`, `derive` or `invoke`.
    pub kind: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u64,
    violations: Vec<Entry>,
}

/// The keys of one violation: one per kind of its evidence.
pub fn entries(violation: &Violation) -> BTreeSet<Entry> {
    let (from, to) = if violation.members.is_empty() {
        (violation.from.clone(), violation.to.clone())
    } else {
        (violation.members.join(", "), String::new())
    };
    let entry = |kind: &str| Entry {
        rule: violation.rule.to_owned(),
        origin: violation.origin.clone(),
        from: from.clone(),
        to: to.clone(),
        kind: kind.to_owned(),
    };
    let mut out: BTreeSet<Entry> = violation.evidence.iter().map(|evidence| entry(evidence.kind)).collect();
    if out.is_empty() {
        out.insert(entry(""));
    }
    out
}

/// The baseline file's text for these violations: sorted, deduplicated, ending in a newline.
pub fn render(violations: &[Violation]) -> String {
    let entries: BTreeSet<Entry> = violations.iter().flat_map(entries).collect();
    let file = File { version: VERSION, violations: entries.into_iter().collect() };
    // Plain data of strings and numbers: serializing it cannot fail.
    let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
    text.push('\n');
    text
}

/// Writes the baseline of these violations to `path`.
pub fn write(path: &Utf8Path, violations: &[Violation]) -> Result<usize, BaselineError> {
    let text = render(violations);
    let count = violations.iter().flat_map(entries).collect::<BTreeSet<_>>().len();
    std::fs::write(path, text)
        .map_err(|err| BaselineError { path: path.to_string(), message: format!("cannot write it: {err}") })?;
    Ok(count)
}

/// Reads a baseline; missing, malformed or of another version is an error.
pub fn read(path: &Utf8Path) -> Result<BTreeSet<Entry>, BaselineError> {
    let error = |message: String| BaselineError { path: path.to_string(), message };
    let text = std::fs::read_to_string(path).map_err(|err| error(format!("cannot read it: {err}")))?;
    parse(&text).map_err(error)
}

fn parse(text: &str) -> Result<BTreeSet<Entry>, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|err| format!("not JSON: {err}"))?;
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(VERSION) => {}
        Some(other) => {
            return Err(format!("version {other}, and this cargo-codegraph reads version {VERSION}"));
        }
        None => return Err("no `version`: not a cargo-codegraph baseline".to_owned()),
    }
    let file: File = serde_path_to_error::deserialize(value)
        .map_err(|err| format!("malformed at `{}`: {}", err.path(), err.inner()))?;
    Ok(file.violations.into_iter().collect())
}

/// Violations held against a baseline.
#[derive(Debug, Default)]
pub struct Compared {
    /// Violations with a key the baseline does not hold: these fail the check.
    pub new: Vec<Violation>,
    /// How many violations the baseline holds.
    pub known: usize,
    /// Baseline entries that no longer occur: the baseline can shrink.
    pub stale: Vec<Entry>,
}

pub fn compare(violations: Vec<Violation>, baseline: &BTreeSet<Entry>) -> Compared {
    let mut compared = Compared::default();
    let mut seen: BTreeSet<Entry> = BTreeSet::new();
    for violation in violations {
        let keys = entries(&violation);
        let known = keys.iter().all(|key| baseline.contains(key));
        seen.extend(keys);
        if known {
            compared.known += 1;
        } else {
            compared.new.push(violation);
        }
    }
    compared.stale = baseline.difference(&seen).cloned().collect();
    compared
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Evidence;

    fn violation(from: &str, kind: &'static str, line: u64) -> Violation {
        Violation {
            rule: "forbid",
            origin: "[workspace.metadata.codegraph] forbid[0]".to_owned(),
            from: from.to_owned(),
            to: "app::infra".to_owned(),
            members: Vec::new(),
            reason: None,
            evidence: vec![Evidence {
                file: "app/src/x.rs".to_owned(),
                line,
                kind,
                from: format!("{from}::f"),
                to: "app::infra::g".to_owned(),
            }],
            breaks: Vec::new(),
        }
    }

    #[test]
    fn lines_move_without_making_violations_new() {
        let baseline = parse(&render(&[violation("app::domain", "call", 3), violation("app::old", "use", 1)])).unwrap();
        let compared = compare(vec![violation("app::domain", "call", 40), violation("app::cli", "call", 2)], &baseline);
        assert_eq!(compared.known, 1);
        assert_eq!(compared.new.len(), 1);
        assert_eq!(compared.new[0].from, "app::cli");
        assert_eq!(compared.stale.len(), 1);
        assert_eq!(compared.stale[0].from, "app::old");
        // A new kind of evidence for a known pair is new.
        assert_eq!(compare(vec![violation("app::domain", "use", 3)], &baseline).new.len(), 1);
    }

    #[test]
    fn the_file_is_sorted_and_versioned() {
        let text = render(&[violation("b", "call", 1), violation("a", "call", 1), violation("a", "call", 9)]);
        assert_eq!(text, render(&[violation("a", "call", 2), violation("b", "call", 1)]));
        assert!(text.starts_with("{\n  \"version\": 1,"), "{text}");
        assert!(parse("{\"version\": 2, \"violations\": []}").unwrap_err().contains("version 2"));
        assert!(parse("{\"violations\": []}").unwrap_err().contains("no `version`"));
        assert!(parse("[").unwrap_err().contains("not JSON"));
        let err = parse("{\"version\": 1, \"violations\": [{\"rule\": 1}]}").unwrap_err();
        assert!(err.contains("violations[0].rule"), "{err}");
    }
}
