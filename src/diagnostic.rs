//! Diagnostics: what a build tells the user about one file (a file that could not be found,
//! read or parsed; a `mod` without its file). Plain data, made by `index`, kept by `incremental`
//! for reruns, printed by `report`.

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// Something worth telling the user about one file. `line` and `column` are 1-based, 0 when the
/// diagnostic is about the whole file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub severity: Severity,
    pub message: String,
}

impl Diagnostic {
    pub fn error(file: String, line: u32, column: u32, message: String) -> Diagnostic {
        Diagnostic { file, line, column, severity: Severity::Error, message }
    }
}
