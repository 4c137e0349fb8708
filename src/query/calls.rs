//! `callers` and `callees`: `calls` edges followed one way, transitively up to a depth.
//!
//! A call written on a generic receiver or a trait object is resolved to the trait's method, so
//! the callers of a trait-impl method `<T as Trait>::m` include the callers of `Trait::m`, marked
//! as reaching it through the trait.

use std::collections::HashSet;

use super::{Answer, QueryError, Record, edge_record, resolve, vertex_record};
use crate::model::{EdgeKind, VertexKind};
use crate::store::{Direction, Graph, V};

/// Deeper than this is no question a person or an agent asks, and it bounds the work.
pub(super) const MAX_DEPTH: u32 = 64;

pub(super) fn calls(graph: &Graph, target: &str, depth: u32, direction: Direction) -> Result<Answer, QueryError> {
    let verb = match direction {
        Direction::In => "callers",
        Direction::Out => "callees",
    };
    check_depth(depth)?;
    let start = resolve(graph, target, &[VertexKind::Function, VertexKind::Extern])?;
    let mut seen: HashSet<V> = HashSet::from([start]);
    let mut frontier = vec![start];
    let mut results: Vec<Record> = Vec::new();
    for level in 1..=depth {
        let mut next = Vec::new();
        for &v in &frontier {
            // The vertices whose calls count as calls of `v`, with a note for those that are not
            // `v` itself.
            let mut via: Vec<(V, Option<String>)> = vec![(v, None)];
            if direction == Direction::In
                && let Some(method) = trait_method_of(graph, v)
            {
                via.push((method, Some(format!("through trait method `{}`", graph.path(method)))));
            }
            for (callee, note) in via {
                for e in graph.edges_of_kind(callee, direction, EdgeKind::Calls) {
                    let other = graph.other(e, direction);
                    let mut record = edge_record(graph, e, direction);
                    record.depth = Some(level);
                    record.note = note.clone();
                    results.push(record);
                    if seen.insert(other) {
                        next.push(other);
                    }
                }
            }
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    results.sort_by(|a, b| {
        (a.depth, &a.path, &a.evidence, &a.from, &a.to).cmp(&(b.depth, &b.path, &b.evidence, &b.from, &b.to))
    });
    Ok(Answer::new(verb, vec![vertex_record(graph, start)], results))
}

pub(super) fn check_depth(depth: u32) -> Result<(), QueryError> {
    if depth == 0 || depth > MAX_DEPTH {
        return Err(QueryError::BadArgument {
            name: "depth",
            message: format!("{depth} is not between 1 and {MAX_DEPTH}"),
        });
    }
    Ok(())
}

/// For a method of a trait impl, the trait's method of the same name (when the trait is in the
/// graph): calls on generic receivers and trait objects are resolved to it.
fn trait_method_of(graph: &Graph, method: V) -> Option<V> {
    let imp = graph.parent(method).filter(|p| graph.kind(*p) == VertexKind::Impl)?;
    let name = graph.text(method, "name")?;
    let tr = graph.edges_of_kind(imp, Direction::Out, EdgeKind::Implements).next().map(|e| graph.edge(e).to)?;
    graph
        .edges_of_kind(tr, Direction::Out, EdgeKind::Contains)
        .map(|e| graph.edge(e).to)
        .find(|m| graph.kind(*m) == VertexKind::Function && graph.text(*m, "name") == Some(name))
}
