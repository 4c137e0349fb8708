//! `find`, `show`, `impls`, `refs`: single vertices and their immediate edges.
use super::{Answer, QueryError};
use crate::model::VertexKind;
use crate::store::Graph;
pub(super) fn find(_g: &Graph, _p: &str, _k: &[VertexKind]) -> Result<Answer, QueryError> {
    Ok(Answer::new("find", vec![], vec![]))
}
pub(super) fn show(_g: &Graph, _t: &str) -> Result<Answer, QueryError> {
    Ok(Answer::new("show", vec![], vec![]))
}
pub(super) fn impls(_g: &Graph, _t: &str) -> Result<Answer, QueryError> {
    Ok(Answer::new("impls", vec![], vec![]))
}
pub(super) fn refs(_g: &Graph, _t: &str) -> Result<Answer, QueryError> {
    Ok(Answer::new("refs", vec![], vec![]))
}
