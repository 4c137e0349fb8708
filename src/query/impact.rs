//! `impact`.
use super::{Answer, QueryError};
use crate::store::Graph;
use camino::Utf8Path;
/// A changed place: a file relative to the workspace root, and a line (the whole file without).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Change {
    pub file: String,
    pub line: Option<u64>,
}
/// `FILE[:LINE]` as given by a user, relative to `cwd` or absolute, made relative to `root`.
pub fn parse_change(_text: &str, _root: &Utf8Path, _cwd: &Utf8Path) -> Result<Change, QueryError> {
    Err(QueryError::BadArgument { name: "changes", message: String::new() })
}
/// The lines that `git diff REV` shows changed in the workspace at `root`.
pub fn git_diff(_root: &Utf8Path, _rev: &str) -> Result<Vec<Change>, QueryError> {
    Ok(vec![])
}
pub(super) fn impact(_g: &Graph, _c: &[Change], _d: Option<u32>) -> Result<Answer, QueryError> {
    Ok(Answer::new("impact", vec![], vec![]))
}
