//! `check`'s result as GitHub Actions workflow commands: one `::error` annotation per violation,
//! at its first piece of evidence, so that the pull request shows it on the line. Paths are
//! relative to the workspace root, which GitHub takes as relative to the repository's: run
//! `check` from a workspace at the repository's root, or the annotations land elsewhere.

use super::Violation;

/// One line per violation: `::error file=F,line=L,title=T::message`.
pub fn render(violations: &[Violation]) -> String {
    let mut out = String::new();
    for violation in violations {
        let mut properties = Vec::new();
        if let Some(evidence) = violation.evidence.first() {
            properties.push(format!("file={}", property(&evidence.file)));
            if evidence.line > 0 {
                properties.push(format!("line={}", evidence.line));
            }
        }
        properties.push(format!("title={}", property(&format!("codegraph {}: {}", violation.rule, violation.origin))));
        let mut message = super::human::message(violation);
        for evidence in &violation.evidence {
            message.push_str(&format!(
                "\n{}:{}: {} of `{}` in `{}`",
                evidence.file, evidence.line, evidence.kind, evidence.to, evidence.from
            ));
        }
        out.push_str(&format!("::error {}::{}\n", properties.join(","), data(&message)));
    }
    out
}

/// A command's message, escaped as the runner expects.
fn data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A command's property value: also `:` and `,`.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        assert_eq!(property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
        assert_eq!(data("a:b\n"), "a:b%0A");
    }
}
