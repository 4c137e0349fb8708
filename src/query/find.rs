//! `find`, `show`, `impls` and `refs`: vertices by pattern, and one vertex's own edges.

use super::{Answer, QueryError, REFERENCE_EDGES, Record, edge_record, resolve, vertex_record};
use crate::check::Pattern;
use crate::model::{EdgeKind, VertexKind};
use crate::store::{Direction, Graph, V};

/// The path a pattern is matched against: the canonical path, or for members whose path starts
/// with `<` (trait-impl members) their module's path and their name, as `check` matches them.
fn match_path(graph: &Graph, v: V) -> String {
    let path = graph.path(v);
    if path.starts_with('<')
        && let Some(module) = graph.nearest(v, VertexKind::Module)
    {
        return format!("{}::{}", graph.path(module), graph.text(v, "name").unwrap_or_default());
    }
    path.to_owned()
}

/// `*` matches any run of characters in a bare name.
fn wildcard(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            text.starts_with(head)
                && (head.len()..=text.len())
                    .filter(|at| text.is_char_boundary(*at))
                    .any(|at| wildcard(rest, &text[at..]))
        }
    }
}

pub(super) fn find(graph: &Graph, pattern: &str, kinds: &[VertexKind]) -> Result<Answer, QueryError> {
    let pattern = pattern.trim();
    if pattern.is_empty() {
        return Err(QueryError::BadArgument { name: "pattern", message: "it is empty".to_owned() });
    }
    let wanted = |v: V| kinds.is_empty() || kinds.contains(&graph.kind(v));
    let mut found: Vec<V> = if pattern.contains("::") {
        let parsed = Pattern::parse(pattern).map_err(|message| QueryError::BadArgument { name: "pattern", message })?;
        graph
            .vertices()
            .filter(|v| wanted(*v) && !graph.path(*v).is_empty())
            .filter(|v| parsed.matches(&match_path(graph, *v).split("::").collect::<Vec<_>>()))
            .collect()
    } else if pattern.contains('*') {
        graph
            .vertices()
            .filter(|v| wanted(*v) && graph.text(*v, "name").is_some_and(|n| wildcard(pattern, n)))
            .collect()
    } else {
        graph.by_name(pattern).into_iter().filter(|v| wanted(*v)).collect()
    };
    found.sort_by(|a, b| (graph.path(*a), graph.kind(*a), *a).cmp(&(graph.path(*b), graph.kind(*b), *b)));
    let results = found.into_iter().map(|v| vertex_record(graph, v)).collect();
    Ok(Answer::new("find", Vec::new(), results))
}

pub(super) fn show(graph: &Graph, target: &str) -> Result<Answer, QueryError> {
    let v = resolve(graph, target, &[])?;
    let mut head = vertex_record(graph, v);
    head.props = Some(graph.props(v));
    let mut results = Vec::new();
    for direction in [Direction::Out, Direction::In] {
        let mut records: Vec<Record> = graph.edges_of(v, direction).map(|e| edge_record(graph, e, direction)).collect();
        records.sort_by(|a, b| (a.edge, &a.path, &a.id).cmp(&(b.edge, &b.path, &b.id)));
        results.extend(records);
    }
    Ok(Answer::new("show", vec![head], results))
}

pub(super) fn impls(graph: &Graph, target: &str) -> Result<Answer, QueryError> {
    let v = resolve(
        graph,
        target,
        &[VertexKind::Trait, VertexKind::Struct, VertexKind::Enum, VertexKind::Union, VertexKind::Extern],
    )?;
    let has_in = |kind: EdgeKind| graph.edges_of_kind(v, Direction::In, kind).next().is_some();
    let is_trait = graph.kind(v) == VertexKind::Trait
        || (graph.kind(v) == VertexKind::Extern && (has_in(EdgeKind::Implements) || has_in(EdgeKind::Derives)));
    let mut results = Vec::new();
    if is_trait {
        // Each impl of the trait, shown as its self type (the impl itself when the self type is
        // not in the graph), with the impl's place as evidence.
        for e in graph.edges_of_kind(v, Direction::In, EdgeKind::Implements) {
            let imp = graph.edge(e).from;
            let mut record = match graph.edges_of_kind(imp, Direction::Out, EdgeKind::ImplFor).next() {
                Some(for_edge) => vertex_record(graph, graph.edge(for_edge).to),
                None => vertex_record(graph, imp),
            };
            into_edge(graph, &mut record, imp, EdgeKind::Implements, v);
            record.note = graph.text(imp, "self_ty").map(|ty| format!("impl for {ty}"));
            results.push(record);
        }
        for e in graph.edges_of_kind(v, Direction::In, EdgeKind::Derives) {
            let mut record = edge_record(graph, e, Direction::In);
            record.note = Some("derived".to_owned());
            results.push(record);
        }
    } else {
        for e in graph.edges_of_kind(v, Direction::In, EdgeKind::ImplFor) {
            let imp = graph.edge(e).from;
            for trait_edge in graph.edges_of_kind(imp, Direction::Out, EdgeKind::Implements) {
                let tr = graph.edge(trait_edge).to;
                let mut record = vertex_record(graph, tr);
                into_edge(graph, &mut record, imp, EdgeKind::Implements, tr);
                results.push(record);
            }
        }
        for e in graph.edges_of_kind(v, Direction::Out, EdgeKind::Derives) {
            let mut record = edge_record(graph, e, Direction::Out);
            record.note = Some("derived".to_owned());
            results.push(record);
        }
    }
    results.sort_by(|a, b| (&a.path, &a.evidence, &a.note).cmp(&(&b.path, &b.evidence, &b.note)));
    Ok(Answer::new("impls", vec![vertex_record(graph, v)], results))
}

/// Makes `record` an edge record for the edge `from -kind-> to`, with `from`'s place as evidence.
fn into_edge(graph: &Graph, record: &mut Record, from: V, kind: EdgeKind, to: V) {
    record.ty = super::RecordType::Edge;
    record.edge = Some(kind.as_str());
    record.direction = Some(Direction::In);
    record.from = Some(super::display_path(graph, from));
    record.to = Some(super::display_path(graph, to));
    record.from_id = Some(graph.id(from).to_string());
    record.to_id = Some(graph.id(to).to_string());
    record.evidence = match (graph.text(from, "file"), graph.uint(from, "line")) {
        (Some(file), Some(line)) => Some(super::Evidence { file: file.to_owned(), line }),
        _ => None,
    };
}

pub(super) fn refs(graph: &Graph, target: &str) -> Result<Answer, QueryError> {
    let v = resolve(graph, target, &[])?;
    let mut results: Vec<Record> = graph
        .edges_of(v, Direction::In)
        .filter(|e| REFERENCE_EDGES.contains(&graph.edge(*e).kind))
        .map(|e| edge_record(graph, e, Direction::In))
        .collect();
    results.sort_by(|a, b| (a.edge, &a.evidence, &a.path).cmp(&(b.edge, &b.evidence, &b.path)));
    Ok(Answer::new("refs", vec![vertex_record(graph, v)], results))
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    fn wildcards_match_runs() {
        assert!(wildcard("parse_*", "parse_file"));
        assert!(wildcard("*_file", "parse_file"));
        assert!(wildcard("p*e*e", "parse_file"));
        assert!(wildcard("*", ""));
        assert!(!wildcard("parse_*", "unparse_file"));
        assert!(!wildcard("*x", "parse"));
        assert!(wildcard("é*", "éa"));
    }
}
