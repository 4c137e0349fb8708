//! The human form of `check`'s result: one block per violation, with its rule, reason and
//! evidence as `file:line`, for a terminal or a pre-commit hook's output.

use super::Violation;

/// A violation for people: what depends on what, the rule, and the evidence as `file:line`
/// (a chain's hops in order); for a cycle, the dependencies whose removal breaks it.
pub fn render(violation: &Violation) -> String {
    let mut text = headline(violation);
    text.push_str(&format!("\n  rule: {}", violation.origin));
    for evidence in &violation.evidence {
        text.push_str(&format!(
            "\n  --> {}:{}: {} of `{}` in `{}`",
            evidence.file, evidence.line, evidence.kind, evidence.to, evidence.from
        ));
    }
    for cut in &violation.breaks {
        text.push_str(&format!("\n  break: `{}` -> `{}`", cut.from, cut.to));
        for evidence in &cut.evidence {
            text.push_str(&format!(
                "\n    at {}:{}: {} of `{}` in `{}`",
                evidence.file, evidence.line, evidence.kind, evidence.to, evidence.from
            ));
        }
    }
    text.push('\n');
    text
}

/// The first line of a violation: `error[rule]: what: reason`.
pub fn headline(violation: &Violation) -> String {
    format!("error[{}]: {}", violation.rule, message(violation))
}

/// What is wrong, and why: `` `a` depends on `b`: reason ``.
pub fn message(violation: &Violation) -> String {
    let what = match violation.rule {
        "cycle" => format!(
            "cycle between {}",
            violation.members.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
        ),
        "implement" => format!("`{}` implements `{}`", violation.from, violation.to),
        "derive" => format!("`{}` derives `{}`", violation.from, violation.to),
        "call" => format!("`{}` calls `{}`", violation.from, violation.to),
        "invoke" => format!("`{}` invokes `{}`", violation.from, violation.to),
        _ => format!("`{}` depends on `{}`", violation.from, violation.to),
    };
    match &violation.reason {
        Some(reason) => format!("{what}: {reason}"),
        None => what,
    }
}
