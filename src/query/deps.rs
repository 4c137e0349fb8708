//! `deps`, `rdeps`, `path`, `cycles`.
use super::{Answer, QueryError};
use crate::store::{Direction, Graph};
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Module,
    Crate,
}
pub(super) fn deps(_g: &Graph, _t: &str, _d: u32, _dir: Direction) -> Result<Answer, QueryError> {
    Ok(Answer::new("deps", vec![], vec![]))
}
pub(super) fn path(_g: &Graph, _f: &str, _t: &str) -> Result<Answer, QueryError> {
    Ok(Answer::new("path", vec![], vec![]))
}
pub(super) fn cycles(_g: &Graph, _l: Level) -> Result<Answer, QueryError> {
    Ok(Answer::new("cycles", vec![], vec![]))
}
