//! `image` against IndraDB's own reader: `open_graph(path).to_stored()` must be `read_graph(path)`
//! for every graph, and every file `read_graph` refuses must be refused, never a panic.

use camino::{Utf8Path, Utf8PathBuf};
use indradb::MemoryDatastore;
use serde_json::{Value, json};
use uuid::Uuid;

use super::tests::{diff_a_to_b, graph_a, graph_path, item, sample_batch, saved, write, write_with};
use super::{Backend, Graph, META_KIND, StoreError, WriterConfig, apply, identifier, meta_id, open_graph, read_graph};
use crate::model::{Batch, Diff, Edge, EdgeKind, Props, Vertex, VertexKind};

/// `open_graph` reads what `read_graph` reads: every vertex, edge and property, in order, and the
/// typed accessors agree with the values.
fn assert_same(path: &Utf8Path) -> Graph {
    // `read_graph` lists an edge whose end is not a vertex (our writer never writes one, IndraDB
    // would keep one); a `Graph` has none.
    let expected = Graph::from_stored(read_graph(path).unwrap()).unwrap().to_stored();
    let graph = open_graph(path).unwrap();
    let got = graph.to_stored();
    assert_eq!(got.vertices, expected.vertices);
    assert_eq!(got.edges, expected.edges);
    for v in graph.vertices() {
        for (name, value) in graph.props(v) {
            assert_eq!(graph.prop(v, &name), Some(&value), "{name}");
            assert_eq!(graph.text(v, &name), value.as_str(), "{name}");
            assert_eq!(graph.uint(v, &name), value.as_u64(), "{name}");
            assert_eq!(graph.flag(v, &name), value.as_bool(), "{name}");
        }
        assert_eq!(graph.prop(v, "no_such_property"), None);
        assert_eq!(graph.text(v, "no_such_property"), None);
    }
    for e in graph.edges() {
        for (name, value) in graph.edge_props(e) {
            assert_eq!(graph.edge_prop(e, &name), Some(&value), "{name}");
            assert_eq!(graph.edge_text(e, &name), value.as_str(), "{name}");
            assert_eq!(graph.edge_uint(e, &name), value.as_u64(), "{name}");
        }
    }
    graph
}

/// `open_graph` fails where `read_graph` fails, with an error of the same kind.
fn assert_same_error(path: &Utf8Path) -> StoreError {
    let expected = read_graph(path).unwrap_err();
    let got = open_graph(path).err().unwrap();
    assert_eq!(std::mem::discriminant(&got), std::mem::discriminant(&expected), "{got} / {expected}");
    got
}

/// A graph with every kind of value msgpack has a marker for: strings of each length class,
/// integers of each width and sign, floats, booleans, null, arrays and maps, non-ASCII text.
fn varied_batch() -> Batch {
    let mut batch = sample_batch(30);
    let values = [
        json!(""),
        json!("é – ünïcode ✓"),
        json!("x".repeat(31)),
        json!("y".repeat(255)),
        json!("z".repeat(70_000)),
        json!(0),
        json!(127),
        json!(128),
        json!(65_536),
        json!(u64::MAX),
        json!(-1),
        json!(-129),
        json!(i64::MIN),
        json!(1.5),
        json!(true),
        json!(false),
        json!(null),
        json!([1, "two", [3.0, null]]),
        json!({"a": {"b": [true]}, "": 1}),
    ];
    for (i, value) in values.iter().enumerate() {
        let vertex = &mut batch.vertices[i + 1];
        vertex.props.insert("value", value.clone());
        vertex.props.insert("flag", json!(i % 2 == 0));
        let mut edge = Edge::new(item(i), EdgeKind::Calls, item(i + 1));
        edge.props.insert("value", value.clone());
        edge.props.insert("line", json!(i));
        batch.edges.push(edge);
    }
    batch
}

fn path_in(dir: &tempfile::TempDir, name: &str) -> Utf8PathBuf {
    Utf8PathBuf::from_path_buf(dir.path().join(name)).unwrap()
}

#[test]
fn a_snapshot_reads_what_indradb_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = graph_path(&dir, "graph", Backend::Msgpack);
    write_with(Backend::Msgpack, &path, varied_batch());
    let graph = assert_same(&path);
    let stored = read_graph(&path).unwrap();
    assert_eq!(graph.to_stored().edges, stored.edges, "no edge of a graph we wrote is left out");
    assert_eq!(graph.vertex_count(), 31, "the version record is left out");
    assert_eq!(graph.by_path("k::f7").len(), 1);
    let f1 = graph.by_path("k::f1")[0];
    let callers: Vec<_> = graph.edges_of_kind(f1, super::Direction::In, EdgeKind::Calls).collect();
    assert_eq!(callers.len(), 1);
    assert_eq!(graph.path(graph.edge(callers[0]).from), "k::f0");
    // Borrowed straight from the image, and the same text as the decoded value.
    assert_eq!(graph.text(graph.by_path("k::f1")[0], "value"), Some("é – ünïcode ✓"));
    assert_eq!(graph.uint(graph.by_path("k::f9")[0], "value"), Some(u64::MAX));
    assert_eq!(graph.uint(graph.by_path("k::f10")[0], "value"), None, "a negative number");
    assert_eq!(graph.uint(graph.by_path("k::f13")[0], "value"), None, "a float");
    assert_eq!(graph.flag(graph.by_path("k::f14")[0], "value"), Some(true));

    // An empty graph: the version record alone.
    let empty = path_in(&dir, "empty.msgpack");
    write_with(Backend::Msgpack, &empty, Batch::default());
    assert_eq!(assert_same(&empty).vertex_count(), 0);
}

/// Graphs IndraDB wrote with what our writer never writes: properties of vertices and edges
/// that are not there, an edge to the version record.
#[test]
fn invisible_properties_and_edges_to_the_record_are_left_out_as_indradb_leaves_them() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = write(sample_batch(5), WriterConfig::default());
    let txn_items = {
        let meta = meta_id();
        let record = indradb::Vertex::with_id(meta, identifier(META_KIND).unwrap());
        let schema = indradb::Json::new(json!(crate::model::SCHEMA_VERSION));
        vec![
            indradb::BulkInsertItem::Vertex(record),
            indradb::BulkInsertItem::VertexProperty(meta, identifier("schema").unwrap(), schema),
            indradb::BulkInsertItem::Edge(indradb::Edge::new(item(0), identifier("calls").unwrap(), meta)),
            // IndraDB's memory datastore stores properties of a missing vertex or edge as given.
            indradb::BulkInsertItem::VertexProperty(
                Uuid::nil(),
                identifier("path").unwrap(),
                indradb::Json::new(json!("x")),
            ),
            indradb::BulkInsertItem::EdgeProperty(
                indradb::Edge::new(item(1), identifier("calls").unwrap(), item(2)),
                identifier("line").unwrap(),
                indradb::Json::new(json!(1)),
            ),
        ]
    };
    db.bulk_insert(txn_items).unwrap();
    let path = saved(&dir, "graph.msgpack", &db);
    assert_same(&path);
}

#[test]
fn a_delta_log_is_applied_as_indradb_applies_it() {
    let dir = tempfile::tempdir().unwrap();
    let a = graph_path(&dir, "a", Backend::Msgpack);
    // Padded, so that the log stays small beside the image and every update goes to it.
    let mut batch = graph_a();
    for i in 0..300 {
        let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("padding{i}").as_bytes());
        batch.vertices.push(Vertex {
            id,
            kind: VertexKind::Const,
            props: Props::from([("doc", json!("p".repeat(100)))]),
        });
    }
    write_with(Backend::Msgpack, &a, batch);
    let (staging, db) = super::Staging::update_known(&a, Backend::Msgpack).unwrap();
    apply(&db, diff_a_to_b()).unwrap();
    staging.commit(db).unwrap();
    assert!(super::delta::path(&a).is_file());
    assert_same(&a);

    // More diffs on top: the same diff again (nothing changes), then one that removes and writes
    // again what the first added, changes kinds of nothing, and touches edges of both origins.
    let new = super::tests::named("new");
    let mut readded = Edge::new(item(0), EdgeKind::Calls, new);
    readded.props.insert("line", json!(7));
    let second = Diff {
        removed_edges: vec![(item(1), EdgeKind::Calls, new), (item(0), EdgeKind::References, item(1))],
        removed_vertices: vec![(new, VertexKind::Struct), (item(9), VertexKind::Function)],
        removed_vertex_props: vec![(item(0), "line"), (item(5), "name")],
        removed_edge_props: vec![(item(1), EdgeKind::Calls, item(2), "line")],
        written: Batch {
            vertices: vec![
                Vertex { id: new, kind: VertexKind::Struct, props: Props::from([("path", json!("k::S2"))]) },
                Vertex { id: item(9), kind: VertexKind::Enum, props: Props::from([("name", json!("E"))]) },
                Vertex { id: item(5), kind: VertexKind::Function, props: Props::new() },
            ],
            edges: vec![readded, Edge::new(new, EdgeKind::Contains, item(9))],
        },
    };
    for diff in [diff_a_to_b(), second] {
        let (staging, db) = super::Staging::update_known(&a, Backend::Msgpack).unwrap();
        assert!(matches!(db, super::WriteDb::Delta(_)));
        apply(&db, diff).unwrap();
        staging.commit(db).unwrap();
        assert_same(&a);
    }
}

#[test]
fn a_stale_delta_is_ignored_and_one_that_does_not_apply_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = graph_path(&dir, "a", Backend::Msgpack);
    write_with(Backend::Msgpack, &a, graph_a());
    let (staging, db) = super::Staging::update_known(&a, Backend::Msgpack).unwrap();
    apply(&db, diff_a_to_b()).unwrap();
    staging.commit(db).unwrap();
    let log = std::fs::read(super::delta::path(&a)).unwrap();
    // A new image makes the old log stale.
    write_with(Backend::Msgpack, &a, graph_a());
    std::fs::write(super::delta::path(&a), &log).unwrap();
    assert_same(&a);
    std::fs::write(super::delta::path(&a), b"damaged").unwrap();
    let err = assert_same_error(&a).to_string();
    assert!(err.contains(".delta"), "{err}");

    // A log whose diff does not fit the image: an edge to a vertex that is not there.
    std::fs::remove_file(super::delta::path(&a)).unwrap();
    let bad = Diff {
        written: Batch { vertices: vec![], edges: vec![Edge::new(item(0), EdgeKind::Calls, Uuid::nil())] },
        ..Diff::default()
    };
    super::delta::append(&a, vec![bad]).unwrap();
    let err = assert_same_error(&a).to_string();
    assert!(err.contains("does not apply") && err.contains("neither"), "{err}");
}

#[test]
fn other_schemas_foreign_images_and_unknown_kinds_fail_as_readers_fail() {
    let dir = tempfile::tempdir().unwrap();
    let other = MemoryDatastore::new_db();
    let id = meta_id();
    other.create_vertex(&indradb::Vertex::with_id(id, identifier(META_KIND).unwrap())).unwrap();
    let query = indradb::SpecificVertexQuery::single(id);
    other.set_properties(query.clone(), identifier("schema").unwrap(), &indradb::Json::new(json!(999))).unwrap();
    other.set_properties(query, identifier("tool_version").unwrap(), &indradb::Json::new(json!("9.9.9"))).unwrap();
    // A kind of that other schema: the schema is what the error names.
    other.create_vertex(&indradb::Vertex::new(identifier("gadget").unwrap())).unwrap();
    let path = saved(&dir, "other.msgpack", &other);
    let err = assert_same_error(&path);
    assert!(matches!(err, StoreError::Schema { .. }));
    assert_eq!(err.to_string(), read_graph(&path).unwrap_err().to_string());

    // No version record: an IndraDB image cargo-codegraph did not write.
    let foreign = saved(&dir, "foreign.msgpack", &MemoryDatastore::new_db());
    let err = assert_same_error(&foreign).to_string();
    assert!(err.contains("no cargo-codegraph version record"), "{err}");

    // This schema, and a kind it does not have.
    let (db, _) = write(sample_batch(2), WriterConfig::default());
    db.create_vertex(&indradb::Vertex::new(identifier("gadget").unwrap())).unwrap();
    let path = saved(&dir, "unknown.msgpack", &db);
    let err = open_graph(&path).err().unwrap().to_string();
    assert!(err.contains("unknown vertex kind `gadget`"), "{err}");
}

/// A property value nested deeper than rmp_serde decodes is refused, by both readers, without
/// recursion.
#[test]
fn a_value_nested_too_deeply_is_refused() {
    // serde_json and rmp_serde recurse on the value while the test writes it.
    std::thread::Builder::new().stack_size(64 << 20).spawn(nested_too_deeply).unwrap().join().unwrap();
}

fn nested_too_deeply() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = write(sample_batch(2), WriterConfig::default());
    let mut value = json!(1);
    for _ in 0..1100 {
        value = json!([value]);
    }
    let query = indradb::SpecificVertexQuery::single(item(0));
    db.set_properties(query, identifier("deep").unwrap(), &indradb::Json::new(value)).unwrap();
    let path = saved(&dir, "deep.msgpack", &db);
    assert_same_error(&path);
}

fn small_image(dir: &tempfile::TempDir) -> Vec<u8> {
    let path = graph_path(dir, "good", Backend::Msgpack);
    let mut batch = varied_batch();
    // Keep it small: every prefix is tried.
    for vertex in &mut batch.vertices {
        if vertex.props.get("value").and_then(Value::as_str).is_some_and(|text| text.len() > 300) {
            vertex.props.remove("value");
        }
    }
    for edge in &mut batch.edges {
        if edge.props.get("value").and_then(Value::as_str).is_some_and(|text| text.len() > 300) {
            edge.props.remove("value");
        }
    }
    write_with(Backend::Msgpack, &path, batch);
    std::fs::read(&path).unwrap()
}

#[test]
fn every_prefix_of_an_image_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = small_image(&dir);
    let path = path_in(&dir, "cut.msgpack");
    for len in 0..bytes.len() {
        std::fs::write(&path, &bytes[..len]).unwrap();
        let err = open_graph(&path).err();
        assert!(matches!(err, Some(StoreError::Unreadable { .. })), "prefix of {len} bytes: {err:?}");
    }
    // And the whole image with bytes after it.
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"tail");
    std::fs::write(&path, &longer).unwrap();
    assert!(assert_same_error(&path).to_string().contains("unexpected bytes"));
}

/// Flipped bytes give an error or a graph, never a panic; where IndraDB reads a graph, the
/// snapshot is that graph. (IndraDB also refuses a few flips in the two sections a snapshot only
/// walks over, the reversed edges and the property index, whose contents it never reads.)
#[test]
fn flipped_bytes_give_errors_or_the_graph_indradb_reads() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = small_image(&dir);
    let path = path_in(&dir, "flipped.msgpack");
    // A fixed linear congruential generator: the same flips on every run.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    let (mut same, mut refused) = (0, 0);
    for _ in 0..400 {
        let mut damaged = bytes.clone();
        for _ in 0..1 + next() % 3 {
            let at = next() % damaged.len();
            damaged[at] ^= 1 << (next() % 8);
        }
        std::fs::write(&path, &damaged).unwrap();
        match (open_graph(&path), read_graph(&path).map(Graph::from_stored)) {
            (Ok(graph), Ok(Ok(expected))) => {
                let expected = expected.to_stored();
                let got = graph.to_stored();
                assert_eq!(got.vertices, expected.vertices);
                assert_eq!(got.edges, expected.edges);
                same += 1;
            }
            (Err(err), _) => {
                assert!(matches!(err, StoreError::Unreadable { .. } | StoreError::Schema { .. }), "{err:?}");
                refused += 1;
            }
            (Ok(_), _) => {}
        }
    }
    assert!(same > 0 && refused > 0, "{same} read alike, {refused} refused");
}

#[test]
fn files_that_are_not_images_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = path_in(&dir, "graph.msgpack");
    assert!(matches!(open_graph(&path), Err(StoreError::Missing { .. })));
    let mut state: u64 = 7;
    let mut noise = Vec::new();
    for _ in 0..4096 {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        noise.push((state >> 56) as u8);
    }
    let heads: [&[u8]; 8] = [
        b"",
        b"this is not msgpack",
        &[0x96],
        // An image whose first field claims a 4 GiB map, then one of 2^32 - 1 entries.
        &[0x96, 0xdb, 0xff, 0xff, 0xff, 0xff, b'x'],
        &[0x96, 0xdf, 0xff, 0xff, 0xff, 0xff, 0x00],
        // Deeply nested arrays where the vertices belong.
        &[0x96; 100_000],
        &[0x96, 0x80, 0x90, 0x90, 0x80, 0x80, 0xc1],
        &noise,
    ];
    for head in heads {
        std::fs::write(&path, head).unwrap();
        assert!(matches!(open_graph(&path), Err(StoreError::Unreadable { .. })), "{:?}", &head[..head.len().min(8)]);
    }
    // The noise after a valid start, too.
    let mut noisy = vec![0x96];
    noisy.extend_from_slice(&noise);
    std::fs::write(&path, &noisy).unwrap();
    assert!(matches!(open_graph(&path), Err(StoreError::Unreadable { .. })));
}

#[test]
fn the_snapshot_outlives_a_rebuild_of_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = graph_path(&dir, "graph", Backend::Msgpack);
    write_with(Backend::Msgpack, &path, sample_batch(10));
    let graph = open_graph(&path).unwrap();
    // A build replaces the file by rename: the mapped image keeps the old bytes.
    write_with(Backend::Msgpack, &path, sample_batch(3));
    assert_eq!(graph.vertex_count(), 11);
    assert_eq!(graph.text(graph.by_path("k::f9")[0], "name"), Some("f9"));
    assert_eq!(open_graph(&path).unwrap().vertex_count(), 4);
}
