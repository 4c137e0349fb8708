//! `callers`, `callees`.
use super::{Answer, QueryError};
use crate::store::{Direction, Graph};
pub(super) fn calls(_g: &Graph, _t: &str, _d: u32, _dir: Direction) -> Result<Answer, QueryError> {
    Ok(Answer::new("callers", vec![], vec![]))
}
