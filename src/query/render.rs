//! Answers as text: aligned lines for people, JSON Lines for scripts.
//!
//! The JSON form (schema `QUERY_SCHEMA`) is a contract, documented in the README:
//!
//! ```text
//! {"type":"query","schema":1,"verb":"callers","targets":[{...record...}]}
//! {"type":"edge","id":...,"kind":...,"path":...,"file":...,"line":...,"edge":"calls","from":...,"to":...,"evidence":{...},...}
//! {"type":"summary","verb":"callers","results":2,"total":2,"truncated":false}
//! ```
//!
//! Human output puts the place to open first (`file:line`, the evidence for edge results), so that
//! terminals and editors can follow it, then the kind and the path, then what the edge says.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{Answer, QUERY_SCHEMA, Record};

/// The answer as JSON Lines: a header, one line per result, a summary.
pub fn json_lines(answer: &Answer) -> String {
    let mut out = String::new();
    let header = json!({
        "type": "query",
        "schema": QUERY_SCHEMA,
        "verb": answer.verb,
        "targets": answer.targets,
    });
    let _ = writeln!(out, "{header}");
    if let Some(stats) = &answer.stats {
        let _ = writeln!(out, "{}", json!({ "type": "stats", "stats": stats }));
    }
    for record in &answer.results {
        let _ = writeln!(out, "{}", serde_json::to_value(record).unwrap_or(Value::Null));
    }
    let mut summary = json!({
        "type": "summary",
        "verb": answer.verb,
        "results": answer.results.len(),
        "total": answer.total,
        "truncated": answer.truncated,
    });
    if let Some(message) = &answer.message {
        summary["message"] = Value::from(message.as_str());
    }
    let _ = writeln!(out, "{summary}");
    out
}

/// Where a record points people: the evidence of an edge, else the vertex's own place.
fn place(record: &Record) -> String {
    if let Some(evidence) = &record.evidence {
        return format!("{}:{}", evidence.file, evidence.line);
    }
    match (&record.file, record.line) {
        (Some(file), Some(line)) => format!("{file}:{line}"),
        (Some(file), None) => file.clone(),
        _ => "-".to_owned(),
    }
}

/// What an edge record says beyond its vertex: `calls exact ×2 depth 2 (through ...)`.
fn detail(record: &Record, arrows: bool) -> String {
    let mut parts: Vec<String> = Vec::new();
    match (record.edge, record.direction) {
        // `show` lists both ways: `→ calls` leaves the vertex, `← calls` reaches it.
        (Some(edge), Some(crate::store::Direction::In)) if arrows => parts.push(format!("← {edge}")),
        (Some(edge), _) if arrows => parts.push(format!("→ {edge}")),
        (Some(edge), _) => parts.push(edge.to_owned()),
        (None, _) => {}
    }
    if let Some(confidence) = &record.confidence {
        parts.push(confidence.clone());
    }
    if let Some(count) = record.count.filter(|n| *n > 1) {
        parts.push(format!("×{count}"));
    }
    if let Some(depth) = record.depth.filter(|d| *d > 1) {
        parts.push(format!("depth {depth}"));
    }
    if let Some(note) = &record.note {
        parts.push(format!("({note})"));
    }
    parts.join(" ")
}

/// A heading for the vertex a question was about: `app::f (function, src/lib.rs:3)`.
fn heading(record: &Record) -> String {
    format!("{} ({}, {})", record.path, record.kind, place(record))
}

/// The answer for people.
pub fn human(answer: &Answer) -> String {
    let mut out = String::new();
    match answer.verb {
        "stats" => {
            if let Some(stats) = &answer.stats {
                let _ = writeln!(out, "{:<14} {:>9}", "vertices", stats.vertices);
                for (kind, n) in &stats.vertices_by_kind {
                    let _ = writeln!(out, "  {kind:<12} {n:>9}");
                }
                let _ = writeln!(out, "\n{:<14} {:>9}", "edges", stats.edges);
                for (kind, n) in &stats.edges_by_kind {
                    let _ = writeln!(out, "  {kind:<12} {n:>9}");
                }
            }
            return out;
        }
        "show" => {
            if let Some(head) = answer.targets.first() {
                let _ = writeln!(out, "{} {}\n  id: {}", head.kind, head.path, head.id);
                for (name, value) in head.props.iter().flatten() {
                    let value = match value {
                        Value::String(text) => text.replace('\n', "\n      "),
                        other => other.to_string(),
                    };
                    let _ = writeln!(out, "  {name}: {value}");
                }
                if !answer.results.is_empty() {
                    let _ = writeln!(out, "edges (→ from it, ← to it):");
                }
            }
        }
        verb => {
            for (index, target) in answer.targets.iter().enumerate() {
                let label = match (verb, index) {
                    ("path", 0) => "from",
                    ("path", _) => "to",
                    _ => verb,
                };
                let _ = writeln!(out, "{label} {}", heading(target));
            }
        }
    }
    let arrows = answer.verb == "show";
    let rows: Vec<[String; 3]> = answer
        .results
        .iter()
        .map(|r| [place(r), r.kind.to_owned(), format!("{}  {}", r.path, detail(r, arrows))])
        .collect();
    let width = |i: usize| rows.iter().map(|row| row[i].chars().count()).max().unwrap_or(0);
    let (w0, w1) = (width(0), width(1));
    let mut group: Option<&str> = None;
    for (record, row) in answer.results.iter().zip(&rows) {
        if record.group.as_deref() != group {
            group = record.group.as_deref();
            if let Some(group) = group {
                let _ = writeln!(out, "\n{group}");
            }
        }
        let _ = writeln!(out, "  {:<w0$}  {:<w1$}  {}", row[0], row[1], row[2].trim_end());
    }
    if let Some(message) = &answer.message {
        let _ = writeln!(out, "{message}");
    }
    if answer.truncated {
        let _ = writeln!(out, "… {} more (raise --limit)", answer.total - answer.results.len());
    } else if answer.results.is_empty() && answer.message.is_none() && answer.verb != "show" {
        let _ = writeln!(out, "no results");
    }
    out
}
