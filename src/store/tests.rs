use super::msgpack::Staging;
use super::*;
use crate::model::{Batch, Diff, Edge as ModelEdge, EdgeKind, Props, Vertex as ModelVertex, VertexKind};
use indradb::{QueryExt, VertexWithPropertyValueQuery};
use serde_json::json;

pub(super) fn sample_batch(n: usize) -> Batch {
    let mut batch = Batch::default();
    let root = Uuid::new_v5(&Uuid::NAMESPACE_OID, b"root");
    batch.vertices.push(ModelVertex { id: root, kind: VertexKind::Module, props: Props::from([("path", json!("k"))]) });
    for i in 0..n {
        let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("item{i}").as_bytes());
        let props = Props::from([
            ("name", json!(format!("f{i}"))),
            ("path", json!(format!("k::f{i}"))),
            ("line", json!(i + 1)),
            ("doc", json!("a \"quoted\"\\nline")),
        ]);
        batch.vertices.push(ModelVertex { id, kind: VertexKind::Function, props });
        let mut edge = ModelEdge::new(root, EdgeKind::Contains, id);
        edge.props.insert("count", json!(i));
        batch.edges.push(edge);
    }
    batch
}

pub(super) fn write(batch: Batch, config: WriterConfig) -> (Database<MemoryDatastore>, WriteStats) {
    let writer = Writer::spawn(WriteDb::Memory(MemoryDatastore::new_db()), config).unwrap();
    writer.sender().send(batch).unwrap();
    let (db, stats) = writer.finish().unwrap();
    (memory(db), stats)
}

fn memory(db: WriteDb) -> Database<MemoryDatastore> {
    match db {
        WriteDb::Memory(db) => db,
        #[cfg(feature = "rocksdb")]
        WriteDb::Rocksdb(_) | WriteDb::RocksTables(_) => unreachable!("the tests write memory datastores"),
        #[cfg(feature = "server")]
        WriteDb::Remote(_) => unreachable!("the tests write memory datastores"),
        WriteDb::Delta(_) | WriteDb::Collected(_) => unreachable!("the tests write memory datastores"),
    }
}

/// `sample_batch(300)` sent as a writer meets it at its worst: a shared vertex sent twice, an
/// edge sent twice with another property value (the later wins, as IndraDB's
/// `set_edge_properties`), edges before their vertices, and an edge with an indexed property.
pub(super) fn awkward_batches() -> Vec<Batch> {
    let mut first = sample_batch(300);
    let file = Uuid::new_v5(&Uuid::NAMESPACE_OID, b"file");
    let root = first.vertices[0].id;
    let shared = ModelVertex { id: file, kind: VertexKind::File, props: Props::from([("path", json!("src/x.rs"))]) };
    first.vertices.push(shared.clone());
    let mut again = ModelEdge::new(root, EdgeKind::Contains, first.vertices[5].id);
    again.props.insert("count", json!("changed"));
    let mut named = ModelEdge::new(root, EdgeKind::DefinedIn, file);
    named.props.insert("name", json!("x"));
    let early = Batch { vertices: Vec::new(), edges: std::mem::take(&mut first.edges) };
    let late = Batch { vertices: vec![shared], edges: vec![again, named] };
    vec![early, first, late]
}

/// `awkward_batches` through a writer on `db` that flushes every `flush_items` items; nothing is
/// refused.
pub(super) fn send_awkward(db: WriteDb, flush_items: usize) -> WriteDb {
    let writer = Writer::spawn(db, WriterConfig { flush_items, ..WriterConfig::default() }).unwrap();
    for batch in awkward_batches() {
        writer.sender().send(batch).unwrap();
    }
    let (db, stats) = writer.finish().unwrap();
    assert!(stats.duplicate_ids.is_empty() && stats.dangling_edges.is_empty(), "{stats:?}");
    db
}

/// A new msgpack graph's image is written from the writer's items without IndraDB: it must be
/// the image the memory datastore holding the same inserts gives, byte for byte, whatever the
/// flushes, with shared vertices sent twice, an edge sent twice with another property value
/// (the later wins, as IndraDB's `set_edge_properties`), edges before their vertices, and the
/// indexed properties.
#[test]
fn collected_image_is_the_datastore_image() {
    let dir = tempfile::tempdir().unwrap();
    let image = |db: WriteDb, name: &str| {
        let path = Utf8PathBuf::from_path_buf(dir.path().join(name)).unwrap();
        let staging = Staging::new(&path).unwrap();
        match db {
            WriteDb::Memory(db) => staging.commit(&db, INDEXED_PROPERTIES).unwrap(),
            WriteDb::Collected(items) => staging.commit_collected(items, INDEXED_PROPERTIES).unwrap(),
            _ => unreachable!(),
        }
        std::fs::read(&path).unwrap()
    };
    let expected = image(send_awkward(WriteDb::Memory(MemoryDatastore::new_db()), 10_000), "memory.msgpack");
    for flush_items in [1, 97, 10_000] {
        let got =
            image(send_awkward(WriteDb::Collected(msgpack::Collected::default()), flush_items), "collected.msgpack");
        assert!(got == expected, "flushes of {flush_items}: {} bytes against {}", got.len(), expected.len());
    }
    let graph = read_graph(Utf8Path::from_path(&dir.path().join("collected.msgpack")).unwrap()).unwrap();
    let changed = graph.edges.iter().filter(|edge| edge.props.get("count") == Some(&json!("changed"))).count();
    assert_eq!((graph.vertices.len(), graph.edges.len(), changed), (302, 301, 1));
}

#[test]
fn saved_image_reads_back_identically() {
    let dir = tempfile::tempdir().unwrap();
    let path = Utf8PathBuf::from_path_buf(dir.path().join("graph.msgpack")).unwrap();
    let (db, stats) = write(sample_batch(50), WriterConfig::default());
    assert_eq!(stats.vertices["function"], 50);
    assert_eq!(stats.edges["contains"], 50);
    Staging::new(&path).unwrap().commit(&db, INDEXED_PROPERTIES).unwrap();

    // Read through IndraDB's own reader: every vertex, edge and property is there.
    let graph = read_graph(&path).unwrap();
    assert_eq!(graph.vertices.len(), 51);
    assert_eq!(graph.edges.len(), 50);
    let f7 = graph.vertices.iter().find(|v| v.props.get("name") == Some(&json!("f7"))).unwrap();
    assert_eq!(f7.kind, "function");
    assert_eq!(f7.props["line"], json!(8));
    assert_eq!(f7.props["doc"], json!("a \"quoted\"\\nline"));
    let edge = graph.edges.iter().find(|e| e.to == f7.id).unwrap();
    assert_eq!(edge.props["count"], json!(7));

    // The property index was saved too: a look-up by path works on the reloaded store.
    let reloaded = MemoryDatastore::read_msgpack_db(path.as_std_path()).unwrap();
    let query = VertexWithPropertyValueQuery::new(identifier("path").unwrap(), indradb::Json::new(json!("k::f7")));
    let found = reloaded.get(query.clone()).unwrap();
    let indradb::QueryOutputValue::Vertices(vertices) = &found[0] else { panic!("expected vertices") };
    assert_eq!(vertices.iter().map(|v| v.id).collect::<Vec<_>>(), [f7.id]);
    let props = reloaded.get(query.properties().unwrap()).unwrap();
    assert!(matches!(&props[0], indradb::QueryOutputValue::VertexProperties(p) if p[0].props.len() == 4));
}

#[test]
fn small_flushes_give_the_same_graph() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for flush_items in [1, 7, 10_000] {
        let config = WriterConfig { flush_items, ..WriterConfig::default() };
        // Edges sent before their vertices must wait for them, not be dropped.
        let mut batch = sample_batch(30);
        let writer = Writer::spawn(WriteDb::Memory(MemoryDatastore::new_db()), config).unwrap();
        let edges = Batch { vertices: Vec::new(), edges: std::mem::take(&mut batch.edges) };
        writer.sender().send(edges).unwrap();
        writer.sender().send(batch).unwrap();
        let (db, stats) = writer.finish().unwrap();
        let db = memory(db);
        assert!(stats.dangling_edges.is_empty());
        let path = Utf8PathBuf::from_path_buf(dir.path().join(format!("g{flush_items}.msgpack"))).unwrap();
        Staging::new(&path).unwrap().commit(&db, INDEXED_PROPERTIES).unwrap();
        paths.push(path);
    }
    let graphs: Vec<StoredGraph> = paths.iter().map(|p| read_graph(p).unwrap()).collect();
    for graph in &graphs[1..] {
        assert_eq!(graph.vertices, graphs[0].vertices);
        assert_eq!(graph.edges, graphs[0].edges);
    }
}

#[test]
fn dangling_edges_and_duplicate_ids_are_reported_not_written() {
    let mut batch = sample_batch(2);
    let nowhere = Uuid::new_v5(&Uuid::NAMESPACE_OID, b"nowhere");
    batch.edges.push(ModelEdge::new(batch.vertices[1].id, EdgeKind::Contains, nowhere));
    let mut twin = batch.vertices[1].clone();
    twin.props.insert("line", json!(99));
    batch.vertices.push(twin);
    let first = batch.vertices[1].id;
    let (_, stats) = write(batch, WriterConfig::default());
    assert_eq!(stats.dangling_edges, [(first, "contains", nowhere)]);
    assert_eq!(stats.duplicate_ids.len(), 1);
    assert_eq!(stats.duplicate_ids[0].2, "k::f0");
}

#[test]
fn an_uncommitted_staging_leaves_the_target_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = Utf8PathBuf::from_path_buf(dir.path().join("graph.msgpack")).unwrap();
    std::fs::write(&path, b"old").unwrap();
    drop(Staging::new(&path).unwrap());
    assert_eq!(std::fs::read(&path).unwrap(), b"old");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "the temp file is removed");
}

#[test]
fn damaged_and_missing_graphs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = Utf8PathBuf::from_path_buf(dir.path().join("graph.msgpack")).unwrap();
    assert!(matches!(read_graph(&path), Err(StoreError::Missing { .. })));
    std::fs::write(&path, b"this is not msgpack").unwrap();
    let err = read_graph(&path).unwrap_err();
    assert!(matches!(err, StoreError::Unreadable { .. }), "{err:?}");
    assert!(err.to_string().contains("graph.msgpack"));

    // A valid graph cut short.
    let (db, _) = write(sample_batch(20), WriterConfig::default());
    Staging::new(&path).unwrap().commit(&db, INDEXED_PROPERTIES).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(read_graph(&path), Err(StoreError::Unreadable { .. })));
}

#[test]
fn every_kind_is_a_valid_identifier() {
    for kind in VertexKind::ALL {
        identifier(kind.as_str()).unwrap();
    }
    for kind in EdgeKind::ALL {
        identifier(kind.as_str()).unwrap();
    }
    for name in INDEXED_PROPERTIES {
        identifier(name).unwrap();
    }
}

#[test]
fn the_same_graph_gives_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for name in ["a.msgpack", "b.msgpack"] {
        // Different flush sizes insert in a different order; the file must not show it.
        let flush_items = if name == "a.msgpack" { 3 } else { 10_000 };
        let (db, _) = write(sample_batch(200), WriterConfig { flush_items, ..WriterConfig::default() });
        let path = Utf8PathBuf::from_path_buf(dir.path().join(name)).unwrap();
        Staging::new(&path).unwrap().commit(&db, INDEXED_PROPERTIES).unwrap();
        files.push(std::fs::read(&path).unwrap());
    }
    assert!(files[0] == files[1], "two saves of one graph differ");
}

pub(super) fn saved(dir: &tempfile::TempDir, name: &str, db: &Database<MemoryDatastore>) -> Utf8PathBuf {
    let path = Utf8PathBuf::from_path_buf(dir.path().join(name)).unwrap();
    Staging::new(&path).unwrap().commit(db, INDEXED_PROPERTIES).unwrap();
    path
}

#[test]
fn lengths_beyond_the_file_are_refused_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("graph.msgpack");
    let path = Utf8PathBuf::from_path_buf(path).unwrap();
    // An image whose first field claims a 4 GiB string: IndraDB's decoder would allocate it.
    std::fs::write(&path, [0x96, 0xdb, 0xff, 0xff, 0xff, 0xff, b'x']).unwrap();
    let err = read_graph(&path).unwrap_err().to_string();
    assert!(err.contains("claims more than the file holds"), "{err}");
    // A map of 2^32 - 1 entries in seven bytes.
    std::fs::write(&path, [0x96, 0xdf, 0xff, 0xff, 0xff, 0xff, 0x00]).unwrap();
    assert!(read_graph(&path).unwrap_err().to_string().contains("claims more"));
    // A good image with bytes after it.
    let (db, _) = write(sample_batch(3), WriterConfig::default());
    let good = saved(&dir, "good.msgpack", &db);
    let mut bytes = std::fs::read(&good).unwrap();
    bytes.extend_from_slice(b"tail");
    std::fs::write(&path, &bytes).unwrap();
    assert!(read_graph(&path).unwrap_err().to_string().contains("4 unexpected bytes"));
    // Every prefix of a good image is refused, none panics.
    let bytes = std::fs::read(&good).unwrap();
    for len in (0..bytes.len()).step_by(7) {
        std::fs::write(&path, &bytes[..len]).unwrap();
        assert!(matches!(read_graph(&path), Err(StoreError::Unreadable { .. })), "prefix of {len} bytes");
    }
}

#[test]
fn graphs_record_their_schema_and_other_schemas_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = write(sample_batch(2), WriterConfig::default());
    let path = saved(&dir, "graph.msgpack", &db);
    // The record is there, and hidden from readers.
    let reloaded = MemoryDatastore::read_msgpack_db(path.as_std_path()).unwrap();
    let txn = reloaded.datastore.transaction();
    assert_eq!(txn.vertex_count(), 4, "three vertices and the version record");
    assert_eq!(read_graph(&path).unwrap().vertices.len(), 3);

    // A graph of another schema.
    let other = MemoryDatastore::new_db();
    let id = meta_id();
    other.create_vertex(&indradb::Vertex::with_id(id, identifier(META_KIND).unwrap())).unwrap();
    let query = indradb::SpecificVertexQuery::single(id);
    other.set_properties(query.clone(), identifier("schema").unwrap(), &indradb::Json::new(json!(999))).unwrap();
    other.set_properties(query, identifier("tool_version").unwrap(), &indradb::Json::new(json!("9.9.9"))).unwrap();
    let path = saved(&dir, "other.msgpack", &other);
    let err = read_graph(&path).unwrap_err();
    assert!(matches!(err, StoreError::Schema { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("schema 999") && message.contains("9.9.9") && message.contains("rebuild"), "{message}");

    // An IndraDB image that cargo-codegraph did not write.
    let foreign = MemoryDatastore::new_db();
    let path = saved(&dir, "foreign.msgpack", &foreign);
    let err = read_graph(&path).unwrap_err().to_string();
    assert!(err.contains("no cargo-codegraph version record"), "{err}");
}

#[test]
fn stale_temp_files_of_killed_runs_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = Utf8PathBuf::from_path_buf(dir.path().join("graph.msgpack")).unwrap();
    let stale = dir.path().join(".graph.msgpack.abc123.tmp");
    let unrelated = dir.path().join(".other.abc123.tmp");
    std::fs::write(&stale, b"half a graph").unwrap();
    std::fs::write(&unrelated, b"not ours").unwrap();
    let (db, _) = write(sample_batch(1), WriterConfig::default());
    Staging::new(&path).unwrap().commit(&db, INDEXED_PROPERTIES).unwrap();
    assert!(!stale.exists());
    assert!(unrelated.exists());
}

#[test]
fn the_lock_keeps_a_writer_from_readers_and_writers() {
    let dir = tempfile::tempdir().unwrap();
    let db = Utf8PathBuf::from_path_buf(dir.path().join("graph.msgpack")).unwrap();
    let writer = lock::lock(&db, LockMode::Exclusive, false, || {}).unwrap();
    assert!(matches!(lock::lock(&db, LockMode::Shared, false, || {}), Err(StoreError::Locked { .. })));
    assert!(matches!(lock::lock(&db, LockMode::Exclusive, false, || {}), Err(StoreError::Locked { .. })));
    drop(writer);
    let reader = lock::lock(&db, LockMode::Shared, false, || {}).unwrap();
    let second_reader = lock::lock(&db, LockMode::Shared, false, || {}).unwrap();
    assert!(matches!(lock::lock(&db, LockMode::Exclusive, false, || {}), Err(StoreError::Locked { .. })));
    drop((reader, second_reader));
    lock::lock(&db, LockMode::Exclusive, false, || {}).unwrap();
}

#[test]
fn a_look_up_by_path_uses_the_index_on_a_large_graph() {
    let dir = tempfile::tempdir().unwrap();
    let mut batch = Batch::default();
    for i in 0..100_001 {
        let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("item{i}").as_bytes());
        let props =
            Props::from([("name", json!(format!("f{i}"))), ("path", json!(format!("k::f{i}"))), ("line", json!(1))]);
        batch.vertices.push(ModelVertex { id, kind: VertexKind::Function, props });
    }
    let (db, stats) = write(batch, WriterConfig::default());
    assert_eq!(stats.vertices["function"], 100_001);
    let path = saved(&dir, "large.msgpack", &db);

    let found = find_by_path(&path, "k::f99999").unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].props["name"], json!("f99999"));
    assert_eq!(find_by_path(&path, "k::nothing").unwrap(), []);

    // The memory datastore answers a look-up by value from its index map alone: for a property
    // that is not indexed it has no answer (`None`; IndraDB's query layer makes that
    // `NotIndexed`) rather than a scan. So the look-ups above were served by the saved index.
    let reloaded = MemoryDatastore::read_msgpack_db(path.as_std_path()).unwrap();
    {
        // A transaction holds the store's one mutex, until the end of this block.
        let txn = reloaded.datastore.transaction();
        let line = identifier("line").unwrap();
        assert!(matches!(txn.vertex_ids_with_property_value(line, &indradb::Json::new(json!(1))), Ok(None)));
    }
    let query = indradb::VertexWithPropertyValueQuery::new(identifier("line").unwrap(), indradb::Json::new(json!(1)));
    assert!(matches!(reloaded.get(query), Err(indradb::Error::NotIndexed)));
}

/// Writes `batch` through the public build path (`Staging`, `Writer`, `commit`) with `backend`.
pub(super) fn write_with(backend: Backend, path: &Utf8Path, batch: Batch) -> WriteStats {
    let staging = super::Staging::new(path, backend).unwrap();
    let writer =
        Writer::spawn(staging.create().unwrap(), WriterConfig { flush_items: 97, ..WriterConfig::default() }).unwrap();
    writer.sender().send(batch).unwrap();
    let (db, stats) = writer.finish().unwrap();
    staging.commit(db).unwrap();
    stats
}

/// The id `sample_batch` gives its `i`th function.
pub(super) fn item(i: usize) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("item{i}").as_bytes())
}

/// The id of `sample_batch`'s module, and of the struct that `diff_a_to_b` adds.
pub(super) fn named(name: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes())
}

/// The graph an update starts from: `sample_batch(10)`, with calls into and out of `f2` (which
/// the update removes) and a reference that the update removes alone.
pub(super) fn graph_a() -> Batch {
    let mut batch = sample_batch(10);
    let mut call = ModelEdge::new(item(1), EdgeKind::Calls, item(2));
    call.props.insert("line", json!(3));
    batch.edges.push(call);
    batch.edges.push(ModelEdge::new(item(3), EdgeKind::Calls, item(2)));
    batch.edges.push(ModelEdge::new(item(2), EdgeKind::Calls, item(4)));
    batch.edges.push(ModelEdge::new(item(5), EdgeKind::References, item(6)));
    batch
}

/// From `graph_a` to `graph_b`: every kind of change a `Diff` carries.
pub(super) fn diff_a_to_b() -> Diff {
    let (root, new) = (named("root"), named("new"));
    let mut added_contains = ModelEdge::new(root, EdgeKind::Contains, new);
    added_contains.props.insert("count", json!(99));
    let mut added_call = ModelEdge::new(item(1), EdgeKind::Calls, new);
    added_call.props.insert("confidence", json!("exact"));
    let mut changed_contains = ModelEdge::new(root, EdgeKind::Contains, item(9));
    changed_contains.props.insert("count", json!(1000));
    Diff {
        removed_edges: vec![(item(5), EdgeKind::References, item(6)), (root, EdgeKind::Contains, item(7))],
        removed_vertices: vec![(item(2), VertexKind::Function)],
        removed_vertex_props: vec![(item(3), "path"), (item(4), "doc")],
        removed_edge_props: vec![(root, EdgeKind::Contains, item(8), "count")],
        written: Batch {
            vertices: vec![
                // Indexed properties changed, and one that is not.
                ModelVertex {
                    id: item(0),
                    kind: VertexKind::Function,
                    props: Props::from([("name", json!("g0")), ("path", json!("k::g0")), ("line", json!(100))]),
                },
                // A property added.
                ModelVertex {
                    id: item(1),
                    kind: VertexKind::Function,
                    props: Props::from([("visibility", json!("pub"))]),
                },
                ModelVertex {
                    id: new,
                    kind: VertexKind::Struct,
                    props: Props::from([("name", json!("S")), ("path", json!("k::S"))]),
                },
            ],
            edges: vec![
                added_contains,
                added_call,
                ModelEdge::new(item(0), EdgeKind::References, item(1)),
                changed_contains,
            ],
        },
    }
}

/// `graph_a` with `diff_a_to_b`'s changes made by hand, to be written from scratch.
fn graph_b() -> Batch {
    let mut batch = graph_a();
    let root = named("root");
    batch.vertices.retain(|v| v.id != item(2));
    batch.edges.retain(|e| {
        e.from != item(2)
            && e.to != item(2)
            && (e.from, e.kind, e.to) != (item(5), EdgeKind::References, item(6))
            && (e.from, e.kind, e.to) != (root, EdgeKind::Contains, item(7))
    });
    for vertex in &mut batch.vertices {
        if vertex.id == item(0) {
            vertex.props.extend([("name", json!("g0")), ("path", json!("k::g0")), ("line", json!(100))]);
        } else if vertex.id == item(1) {
            vertex.props.insert("visibility", json!("pub"));
        } else if vertex.id == item(3) {
            vertex.props.remove("path");
        } else if vertex.id == item(4) {
            vertex.props.remove("doc");
        }
    }
    for edge in &mut batch.edges {
        if edge.to == item(8) {
            edge.props.remove("count");
        } else if edge.to == item(9) {
            edge.props.insert("count", json!(1000));
        }
    }
    let mut diff = diff_a_to_b();
    batch.vertices.push(diff.written.vertices.pop().unwrap());
    batch.edges.extend(diff.written.edges.drain(..3));
    batch
}

pub(super) fn graph_path(dir: &tempfile::TempDir, name: &str, backend: Backend) -> Utf8PathBuf {
    let extension = backend.as_str();
    Utf8PathBuf::from_path_buf(dir.path().join(format!("{name}.{extension}"))).unwrap()
}

/// The ids of the vertices whose `name` is `wanted`, through the index.
fn find_by_name(path: &Utf8Path, wanted: &str) -> Vec<Uuid> {
    let found = match open(path).unwrap() {
        ReadDb::Memory(db) => look_up(&db.datastore.transaction(), path, "name", wanted),
        #[cfg(feature = "rocksdb")]
        ReadDb::Rocksdb(reader) => look_up(&reader.db.datastore.transaction(), path, "name", wanted),
    };
    found.unwrap().into_iter().map(|v| v.id).collect()
}

fn ids(found: Vec<StoredVertex>) -> Vec<Uuid> {
    found.into_iter().map(|v| v.id).collect()
}

/// Updates graph A into B through `Staging::update`, `apply` and `commit`, and checks that the
/// result is B written from scratch, property index included. Returns A's path.
fn check_update(backend: Backend, dir: &tempfile::TempDir) -> Utf8PathBuf {
    let (a, b) = (graph_path(dir, "a", backend), graph_path(dir, "b", backend));
    write_with(backend, &a, graph_a());
    write_with(backend, &b, graph_b());
    let (staging, db) = super::Staging::update(&a, backend).unwrap();
    let stats = apply(&db, diff_a_to_b()).unwrap();
    // Removed: two edges listed, and `f2` with its four edges (two calls in, one out, and its
    // `contains`). Added: `S`, and three edges (the fourth written edge was there).
    assert_eq!(stats, ApplyStats { vertices_added: 1, vertices_removed: 1, edges_added: 3, edges_removed: 6 });
    staging.commit(db).unwrap();

    let (updated, expected) = (read_graph(&a).unwrap(), read_graph(&b).unwrap());
    assert_eq!(updated.vertices, expected.vertices);
    assert_eq!(updated.edges, expected.edges);
    assert_eq!((updated.vertices.len(), updated.edges.len()), (11, 11));

    // The index follows changed, removed and added values; no stale entry answers.
    assert_eq!(ids(find_by_path(&a, "k::g0").unwrap()), [item(0)]);
    assert_eq!(find_by_path(&a, "k::f0").unwrap(), []);
    assert_eq!(find_by_path(&a, "k::f3").unwrap(), [], "a removed property");
    assert_eq!(find_by_path(&a, "k::f2").unwrap(), [], "a removed vertex");
    assert_eq!(ids(find_by_path(&a, "k::S").unwrap()), [named("new")]);
    assert_eq!(ids(find_by_path(&a, "k::f5").unwrap()), [item(5)]);
    assert_eq!(find_by_name(&a, "g0"), [item(0)]);
    assert!(find_by_name(&a, "f0").is_empty());
    assert!(find_by_name(&a, "f2").is_empty());
    assert_eq!(find_by_name(&a, "S"), [named("new")]);
    a
}

/// A msgpack update of a graph the caller knows goes to the delta log: the image is not
/// rewritten, readers see the update (index included), the stamp moves, and once the log has
/// outgrown its share of the image, the next update writes a new image and drops the log.
#[test]
fn a_known_msgpack_graph_is_updated_through_its_delta_log() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Msgpack;
    let (a, b) = (graph_path(&dir, "a", backend), graph_path(&dir, "b", backend));
    write_with(backend, &a, graph_a());
    write_with(backend, &b, graph_b());
    let image = std::fs::read(&a).unwrap();
    let before = stamp(&a).unwrap();
    let (staging, db) = super::Staging::update_known(&a, backend).unwrap();
    assert!(matches!(db, WriteDb::Delta(_)), "a small update is logged");
    apply(&db, diff_a_to_b()).unwrap();
    staging.commit(db).unwrap();
    assert!(std::fs::read(&a).unwrap() == image, "the image is not rewritten");
    assert!(super::delta::path(&a).is_file());
    assert_ne!(stamp(&a).unwrap(), before, "the stamp says the graph changed");
    let logged = std::fs::metadata(super::delta::path(&a)).and_then(|meta| meta.modified()).ok();
    assert_eq!(last_written(&a), logged, "the graph was last written with its log");
    let (updated, expected) = (read_graph(&a).unwrap(), read_graph(&b).unwrap());
    assert_eq!(updated.vertices, expected.vertices);
    assert_eq!(updated.edges, expected.edges);
    assert_eq!(ids(find_by_path(&a, "k::g0").unwrap()), [item(0)]);
    assert_eq!(find_by_path(&a, "k::f0").unwrap(), []);
    assert_eq!(find_by_name(&a, "S"), [named("new")]);

    // The log now outweighs an eighth of this small image: the next update compacts.
    assert!(!super::delta::has_room(&a));
    let (staging, db) = super::Staging::update_known(&a, backend).unwrap();
    assert!(matches!(db, WriteDb::Memory(_)), "a full log is compacted");
    staging.commit(db).unwrap();
    assert!(!super::delta::path(&a).exists(), "the new image holds the log");
    assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(), "the same graph gives the same file");
}

/// A delta whose base is not the image (a run killed between a new image and the log's removal)
/// is ignored; a damaged one is an error naming the graph.
#[test]
fn a_stale_delta_is_ignored_and_a_damaged_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Msgpack;
    let a = graph_path(&dir, "a", backend);
    write_with(backend, &a, graph_a());
    let before = read_graph(&a).unwrap();
    let (staging, db) = super::Staging::update_known(&a, backend).unwrap();
    apply(&db, diff_a_to_b()).unwrap();
    staging.commit(db).unwrap();
    let log = std::fs::read(super::delta::path(&a)).unwrap();
    // A full build writes a new image (and removes the log); the old log put back is stale.
    write_with(backend, &a, graph_a());
    std::fs::write(super::delta::path(&a), &log).unwrap();
    assert_eq!(read_graph(&a).unwrap().edges, before.edges);
    std::fs::write(super::delta::path(&a), b"damaged").unwrap();
    let err = read_graph(&a).unwrap_err().to_string();
    assert!(err.contains("a.msgpack") && err.contains(".delta"), "{err}");
}

#[test]
fn an_update_equals_a_full_build_msgpack() {
    let dir = tempfile::tempdir().unwrap();
    let a = check_update(Backend::Msgpack, &dir);
    // Nothing is left beside the graph but its twin.
    let mut names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["a.msgpack", "b.msgpack"]);
    // The saved index is exactly a full build's: the same graph gives the same file.
    assert!(std::fs::read(&a).unwrap() == std::fs::read(graph_path(&dir, "b", Backend::Msgpack)).unwrap());
}

/// `Staging::update` fails on `path` exactly as a reader does.
fn assert_update_fails_like_a_reader(path: &Utf8Path, backend: Backend) -> StoreError {
    let read = read_graph(path).unwrap_err();
    let update = super::Staging::update(path, backend).err().unwrap();
    assert_eq!(update.to_string(), read.to_string());
    assert_eq!(std::mem::discriminant(&update), std::mem::discriminant(&read));
    update
}

#[test]
fn an_update_of_an_unreadable_msgpack_graph_fails_as_a_reader_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = graph_path(&dir, "graph", Backend::Msgpack);
    let err = assert_update_fails_like_a_reader(&path, Backend::Msgpack);
    assert!(matches!(err, StoreError::Missing { .. }), "{err:?}");
    assert!(!path.exists());
    std::fs::write(&path, b"this is not msgpack").unwrap();
    let err = assert_update_fails_like_a_reader(&path, Backend::Msgpack);
    assert!(matches!(err, StoreError::Unreadable { .. }), "{err:?}");
    let other = MemoryDatastore::new_db();
    let id = meta_id();
    other.create_vertex(&indradb::Vertex::with_id(id, identifier(META_KIND).unwrap())).unwrap();
    let query = indradb::SpecificVertexQuery::single(id);
    other.set_properties(query, identifier("schema").unwrap(), &indradb::Json::new(json!(999))).unwrap();
    let path = saved(&dir, "other.msgpack", &other);
    let err = assert_update_fails_like_a_reader(&path, Backend::Msgpack);
    assert!(matches!(err, StoreError::Schema { .. }), "{err:?}");
    // Nothing is left behind: no temp file.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    let err = super::Staging::update(&path, Backend::Rocksdb).err().unwrap();
    assert!(matches!(err, StoreError::BackendMismatch { .. }), "{err:?}");
}

#[test]
fn a_diff_that_does_not_fit_the_graph_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = graph_path(&dir, "graph", Backend::Msgpack);
    write_with(Backend::Msgpack, &path, graph_a());
    let before = read_graph(&path).unwrap();
    let function = |id, props| ModelVertex { id, kind: VertexKind::Function, props };
    let mut indexed_on_edge = ModelEdge::new(item(0), EdgeKind::Calls, item(1));
    indexed_on_edge.props.insert("path", json!("k::f1"));
    let bad = [
        // An edge to a vertex that is neither in the graph nor written.
        (
            Batch { vertices: vec![], edges: vec![ModelEdge::new(item(0), EdgeKind::Calls, named("nowhere"))] },
            "neither",
        ),
        // An edge to a vertex that the same diff removes.
        (Batch { vertices: vec![], edges: vec![ModelEdge::new(item(0), EdgeKind::Calls, item(2))] }, "neither"),
        (
            Batch { vertices: vec![function(item(1), Props::new()), function(item(1), Props::new())], edges: vec![] },
            "twice",
        ),
        (
            Batch {
                vertices: vec![ModelVertex { id: item(1), kind: VertexKind::Struct, props: Props::new() }],
                edges: vec![],
            },
            "a function in the graph and a struct",
        ),
        (Batch { vertices: vec![], edges: vec![indexed_on_edge] }, "`path`"),
    ];
    for (written, expected) in bad {
        let (staging, db) = super::Staging::update(&path, Backend::Msgpack).unwrap();
        let diff = Diff {
            removed_vertices: vec![(item(2), VertexKind::Function)],
            removed_edges: vec![(item(5), EdgeKind::References, item(6))],
            written,
            ..Diff::default()
        };
        let err = apply(&db, diff).unwrap_err();
        assert!(matches!(err, StoreError::InvalidDiff { .. }) && err.to_string().contains(expected), "{err}");
        // Checked before anything was changed: the copy is still the graph.
        staging.commit(db).unwrap();
        let after = read_graph(&path).unwrap();
        assert_eq!(after.vertices, before.vertices);
        assert_eq!(after.edges, before.edges);
    }
}

#[test]
fn an_empty_diff_and_a_repeated_diff_change_nothing_more() {
    let dir = tempfile::tempdir().unwrap();
    let a = check_update(Backend::Msgpack, &dir);
    let updated = read_graph(&a).unwrap();
    for diff in [Diff::default(), diff_a_to_b()] {
        let (staging, db) = super::Staging::update(&a, Backend::Msgpack).unwrap();
        // Written again, what is there already stays as it is, the new vertex with its edges.
        apply(&db, diff).unwrap();
        staging.commit(db).unwrap();
        let again = read_graph(&a).unwrap();
        assert_eq!(again.vertices, updated.vertices);
        assert_eq!(again.edges, updated.edges);
    }
}

#[cfg(not(feature = "rocksdb"))]
#[test]
fn rocksdb_without_the_feature_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = Utf8PathBuf::from_path_buf(dir.path().join("graph.rocksdb")).unwrap();
    let err = super::Staging::new(&path, Backend::Rocksdb).err().unwrap();
    assert!(matches!(err, StoreError::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("--features rocksdb"), "{err}");
    std::fs::create_dir(&path).unwrap();
    let err = read_graph(&path).unwrap_err();
    assert!(matches!(err, StoreError::Unsupported { .. }), "{err:?}");
}

#[cfg(feature = "rocksdb")]
mod rocksdb {
    use super::*;

    fn root(dir: &tempfile::TempDir) -> Utf8PathBuf {
        Utf8PathBuf::from_path_buf(dir.path().join("graph.rocksdb")).unwrap()
    }

    fn generations(root: &Utf8Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(root)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().into_string().unwrap())
            .filter(|name| name.starts_with("gen-"))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn both_backends_store_the_same_graph() {
        let dir = tempfile::tempdir().unwrap();
        let msgpack = Utf8PathBuf::from_path_buf(dir.path().join("graph.msgpack")).unwrap();
        let rocksdb = root(&dir);
        write_with(Backend::Msgpack, &msgpack, sample_batch(300));
        write_with(Backend::Rocksdb, &rocksdb, sample_batch(300));
        let (a, b) = (read_graph(&msgpack).unwrap(), read_graph(&rocksdb).unwrap());
        assert_eq!(a.vertices, b.vertices);
        assert_eq!(a.edges, b.edges);
        assert_eq!(a.vertices.len(), 301);
        assert_eq!(find_by_path(&msgpack, "k::f7").unwrap(), find_by_path(&rocksdb, "k::f7").unwrap());
    }

    type KeyValue = (Box<[u8]>, Box<[u8]>);

    /// Every key and value of a generation's column families but IndraDB's metadata (a
    /// `HashSet` encoded in its iteration order), read with RocksDB itself.
    fn families(root: &Utf8Path) -> Vec<(&'static str, Vec<KeyValue>)> {
        let opts = ::rocksdb::Options::default();
        let db = ::rocksdb::DB::open_cf_for_read_only(
            &opts,
            live_dir(root),
            super::super::rocks_tables::ALL_FAMILIES,
            false,
        )
        .unwrap();
        let metadata = db.cf_handle("metadata:v2").unwrap();
        let keys: Vec<Box<[u8]>> =
            db.iterator_cf(metadata, ::rocksdb::IteratorMode::Start).map(|kv| kv.unwrap().0).collect();
        assert_eq!(keys, [b"indexed_properties".to_vec().into_boxed_slice()]);
        super::super::rocks_tables::ALL_FAMILIES[..7]
            .iter()
            .map(|name| {
                let family = db.cf_handle(name).unwrap();
                (*name, db.iterator_cf(family, ::rocksdb::IteratorMode::Start).map(Result::unwrap).collect())
            })
            .collect()
    }

    /// A full build writes its generation as table files in IndraDB's layout (`rocks_tables`):
    /// every column family must hold, byte for byte, what IndraDB's own `bulk_insert` of the same
    /// items writes, whatever the writer's flushes; and the graph reads back through IndraDB,
    /// look-ups by indexed value included.
    #[test]
    fn tables_are_what_indradb_writes() {
        let dir = tempfile::tempdir().unwrap();
        let by_indradb = Utf8PathBuf::from_path_buf(dir.path().join("indradb.rocksdb")).unwrap();
        let staging = super::super::rocks::Staging::new(&by_indradb).unwrap();
        let WriteDb::Rocksdb(db) = send_awkward(WriteDb::Rocksdb(staging.create().unwrap()), 10_000) else {
            unreachable!()
        };
        staging.commit(db).unwrap();
        let expected = families(&by_indradb);
        let sizes: Vec<usize> = expected.iter().map(|(_, entries)| entries.len()).collect();
        // 303 vertices (with the version record), 301 edges (one sent twice), their properties,
        // and the indexes of `name` and `path`: every family has something to compare.
        assert_eq!(sizes, [303, 301, 301, 1207, 301, 603, 1]);
        for flush_items in [1, 97, 10_000] {
            let root = Utf8PathBuf::from_path_buf(dir.path().join(format!("tables-{flush_items}.rocksdb"))).unwrap();
            let staging = super::super::Staging::new(&root, Backend::Rocksdb).unwrap();
            let db = send_awkward(staging.create().unwrap(), flush_items);
            staging.commit(db).unwrap();
            let got = families(&root);
            for ((name, expected), (_, got)) in expected.iter().zip(&got) {
                assert!(
                    expected == got,
                    "{name}, flushes of {flush_items}: {} entries against {}",
                    got.len(),
                    expected.len()
                );
            }
            // Nothing is left outside the tables: no write-ahead log to replay, no staged file.
            let live = live_dir(&root);
            for entry in std::fs::read_dir(&live).unwrap().flatten() {
                let name = entry.file_name().into_string().unwrap();
                assert!(name != "ingest", "{name}");
                if name.ends_with(".log") {
                    assert_eq!(entry.metadata().unwrap().len(), 0, "{name}");
                }
            }
        }
        let root = Utf8PathBuf::from_path_buf(dir.path().join("tables-97.rocksdb")).unwrap();
        let (a, b) = (read_graph(&by_indradb).unwrap(), read_graph(&root).unwrap());
        assert_eq!(a.vertices, b.vertices);
        assert_eq!(a.edges, b.edges);
        let changed = b.edges.iter().filter(|edge| edge.props.get("count") == Some(&json!("changed"))).count();
        assert_eq!((b.vertices.len(), b.edges.len(), changed), (302, 301, 1));
        assert_eq!(find_by_path(&root, "k::f7").unwrap().len(), 1);
        let reader = super::super::rocks::open(&root).unwrap();
        let txn = reader.db.datastore.transaction();
        let named = txn.edges_with_property_value(identifier("name").unwrap(), &indradb::Json::new(json!("x")));
        assert_eq!(named.unwrap().unwrap().count(), 1);
    }

    #[test]
    fn each_build_is_a_new_generation_and_the_old_one_goes() {
        let dir = tempfile::tempdir().unwrap();
        let root = root(&dir);
        // What a first build killed before its commit leaves: no graph yet, and no obstacle.
        std::fs::create_dir_all(root.join("gen-0")).unwrap();
        std::fs::write(root.join(".codegraph.current.x1.tmp"), "gen-0").unwrap();
        assert!(matches!(read_graph(&root), Err(StoreError::Missing { .. })));
        write_with(Backend::Rocksdb, &root, sample_batch(3));
        assert_eq!(generations(&root), ["gen-1"]);
        assert!(!root.join(".codegraph.current.x1.tmp").exists());
        // A leftover of a killed build goes when the next build starts; a staging dropped without
        // a commit removes its own generation; the live one stays until a commit replaces it.
        std::fs::create_dir(root.join("gen-5")).unwrap();
        let staging = super::super::Staging::new(&root, Backend::Rocksdb).unwrap();
        drop(staging.create().unwrap());
        assert_eq!(generations(&root), ["gen-1", "gen-6"]);
        drop(staging);
        assert_eq!(generations(&root), ["gen-1"]);
        assert_eq!(read_graph(&root).unwrap().vertices.len(), 4);
        write_with(Backend::Rocksdb, &root, sample_batch(4));
        let live = std::fs::read_to_string(root.join("codegraph.current")).unwrap();
        assert_eq!(live.trim(), "gen-2");
        assert_eq!(generations(&root), ["gen-2"]);
        assert_eq!(read_graph(&root).unwrap().vertices.len(), 5);
    }

    #[test]
    fn a_look_up_by_path_uses_the_rocksdb_index() {
        let dir = tempfile::tempdir().unwrap();
        let root = root(&dir);
        let mut batch = Batch::default();
        for i in 0..20_000 {
            let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("item{i}").as_bytes());
            let props = Props::from([("name", json!(format!("f{i}"))), ("path", json!(format!("k::f{i}")))]);
            batch.vertices.push(ModelVertex { id, kind: VertexKind::Function, props });
        }
        write_with(Backend::Rocksdb, &root, batch);
        let found = find_by_path(&root, "k::f19999").unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].props["name"], json!("f19999"));
        assert_eq!(find_by_path(&root, "k::nothing").unwrap(), []);

        // IndraDB's RocksDB datastore answers a look-up by value only for an indexed property
        // (`None` otherwise, never a scan): the look-ups above were served by the index on `path`.
        let reader = super::super::rocks::open(&root).unwrap();
        let txn = reader.db.datastore.transaction();
        let value = indradb::Json::new(json!("f3"));
        assert!(matches!(txn.vertex_ids_with_property_value(identifier("line").unwrap(), &value), Ok(None)));
        assert!(matches!(txn.vertex_ids_with_property_value(identifier("name").unwrap(), &value), Ok(Some(_))));
    }

    #[test]
    fn other_schemas_and_damaged_folders_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let root = root(&dir);

        // Another schema: a generation whose version record says 999.
        let staging = super::super::Staging::new(&root, Backend::Rocksdb).unwrap();
        let WriteDb::RocksTables(mut tables) = staging.create().unwrap() else { unreachable!() };
        let id = meta_id();
        tables.vertex(id, &identifier(META_KIND).unwrap());
        tables.vertex_property(id, &identifier("schema").unwrap(), json!(999));
        tables.vertex_property(id, &identifier("tool_version").unwrap(), json!("9.9.9"));
        staging.commit(WriteDb::RocksTables(tables)).unwrap();
        let err = read_graph(&root).unwrap_err();
        assert!(matches!(err, StoreError::Schema { .. }), "{err:?}");
        assert!(err.to_string().contains("schema 999") && err.to_string().contains(root.as_str()), "{err}");

        // A RocksDB database that cargo-codegraph did not write.
        let staging = super::super::Staging::new(&root, Backend::Rocksdb).unwrap();
        let db = staging.create().unwrap();
        staging.commit(db).unwrap();
        let err = read_graph(&root).unwrap_err().to_string();
        assert!(err.contains("no cargo-codegraph version record"), "{err}");

        // A pointer that names nothing, or garbage.
        std::fs::write(root.join("codegraph.current"), "gen-41\n").unwrap();
        let err = read_graph(&root).unwrap_err().to_string();
        assert!(err.contains("`gen-41` is missing") && err.contains(root.as_str()), "{err}");
        std::fs::write(root.join("codegraph.current"), [0xff, 0x00, 0x13]).unwrap();
        let err = read_graph(&root).unwrap_err();
        assert!(matches!(err, StoreError::Unreadable { .. }), "{err:?}");

        // A folder that is not a graph: refused by readers and builds, and left alone.
        let foreign = Utf8PathBuf::from_path_buf(dir.path().join("photos")).unwrap();
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join("cat.jpg"), b"meow").unwrap();
        assert!(matches!(read_graph(&foreign), Err(StoreError::Foreign { .. })));
        assert!(matches!(super::super::Staging::new(&foreign, Backend::Rocksdb), Err(StoreError::Foreign { .. })));
        assert_eq!(std::fs::read(foreign.join("cat.jpg")).unwrap(), b"meow");

        // A file where a folder is wanted, and the reverse.
        let msgpack = Utf8PathBuf::from_path_buf(dir.path().join("graph.msgpack")).unwrap();
        write_with(Backend::Msgpack, &msgpack, sample_batch(1));
        let err = backend_for_build(&msgpack, Some(Backend::Rocksdb)).unwrap_err();
        assert!(matches!(err, StoreError::BackendMismatch { .. }), "{err:?}");
        assert!(matches!(backend_for_build(&root, Some(Backend::Msgpack)), Err(StoreError::BackendMismatch { .. })));
        assert_eq!(backend_for_build(&root, None).unwrap(), Backend::Rocksdb);
    }

    /// The edges of the live generation at `root` as its reversed-edge column family holds
    /// them (what inbound queries read), turned forward and sorted.
    fn reversed_edges(root: &Utf8Path) -> Vec<(Uuid, String, Uuid)> {
        let reader = super::super::rocks::open(root).unwrap();
        let txn = reader.db.datastore.transaction();
        let first = indradb::Edge::new(Uuid::nil(), Identifier::default(), Uuid::nil());
        let mut edges: Vec<(Uuid, String, Uuid)> = txn
            .range_reversed_edges(first)
            .unwrap()
            .map(|edge| {
                let edge = edge.unwrap().reversed();
                (edge.outbound_id, edge.t.as_str().to_owned(), edge.inbound_id)
            })
            .collect();
        edges.sort();
        edges
    }

    fn forward_edges(graph: &StoredGraph) -> Vec<(Uuid, String, Uuid)> {
        graph.edges.iter().map(|e| (e.from, e.kind.clone(), e.to)).collect()
    }

    fn live_dir(root: &Utf8Path) -> Utf8PathBuf {
        root.join(std::fs::read_to_string(root.join("codegraph.current")).unwrap().trim())
    }

    #[test]
    fn an_update_equals_a_full_build_rocksdb() {
        let dir = tempfile::tempdir().unwrap();
        let a = check_update(Backend::Rocksdb, &dir);
        assert_eq!(generations(&a).len(), 1);
        // Inbound queries read the reversed edges: they hold exactly the forward ones, so none of
        // the removed vertex's inbound edges survived there.
        let updated = read_graph(&a).unwrap();
        assert_eq!(reversed_edges(&a), forward_edges(&updated));
        let b = Utf8PathBuf::from_path_buf(dir.path().join("b.rocksdb")).unwrap();
        assert_eq!(reversed_edges(&a), reversed_edges(&b));
    }

    #[test]
    fn an_update_copies_the_live_generation_and_commits_without_compacting() {
        let dir = tempfile::tempdir().unwrap();
        let root = root(&dir);
        write_with(Backend::Rocksdb, &root, graph_a());
        let before = read_graph(&root).unwrap();
        let live = live_dir(&root);

        // Dropped without a commit: the copy goes, the live generation is as it was.
        let (staging, db) = super::super::Staging::update(&root, Backend::Rocksdb).unwrap();
        let copy = root.join(&generations(&root)[1]);
        assert_eq!(generations(&root).len(), 2);
        #[cfg(unix)]
        {
            // Tables are shared with the live generation, not copied.
            use std::os::unix::fs::MetadataExt;
            let mut tables = 0;
            for entry in std::fs::read_dir(&live).unwrap().flatten() {
                let name = entry.file_name().into_string().unwrap();
                if name.ends_with(".sst") {
                    assert_eq!(entry.metadata().unwrap().ino(), std::fs::metadata(copy.join(&name)).unwrap().ino());
                    tables += 1;
                }
            }
            assert!(tables > 0, "no tables in {live}");
        }
        apply(&db, diff_a_to_b()).unwrap();
        drop(db);
        drop(staging);
        assert_eq!(generations(&root), [live.file_name().unwrap()]);
        let after = read_graph(&root).unwrap();
        assert_eq!(after.vertices, before.vertices);
        assert_eq!(after.edges, before.edges);
        assert_eq!(reversed_edges(&root), forward_edges(&before));

        // Committed: one generation, which a reader opens at once, and whose write-ahead logs are
        // empty: the reopen in `commit` flushed the update into tables.
        let (staging, db) = super::super::Staging::update(&root, Backend::Rocksdb).unwrap();
        apply(&db, diff_a_to_b()).unwrap();
        staging.commit(db).unwrap();
        assert_eq!(generations(&root).len(), 1);
        assert_ne!(live_dir(&root), live);
        let mut logs = 0;
        for entry in std::fs::read_dir(live_dir(&root)).unwrap().flatten() {
            if entry.file_name().to_string_lossy().ends_with(".log") {
                assert_eq!(entry.metadata().unwrap().len(), 0, "{:?} holds unflushed writes", entry.path());
                logs += 1;
            }
        }
        assert!(logs > 0);
        let updated = read_graph(&root).unwrap();
        assert_eq!(reversed_edges(&root), forward_edges(&updated));
        assert_eq!(ids(find_by_path(&root, "k::g0").unwrap()), [item(0)]);
        assert_eq!(find_by_path(&root, "k::f0").unwrap(), []);
    }

    #[test]
    fn successive_updates_give_the_graph_a_full_build_gives() {
        let dir = tempfile::tempdir().unwrap();
        let root = root(&dir);
        let mut expected = graph_a();
        write_with(Backend::Rocksdb, &root, graph_a());
        // More updates than RocksDB lets level-0 tables pile up before compacting them.
        for round in 0..12 {
            let id = named(&format!("round{round}"));
            let props = Props::from([("name", json!(format!("r{round}"))), ("path", json!(format!("k::r{round}")))]);
            let vertex = ModelVertex { id, kind: VertexKind::Const, props };
            let edge = ModelEdge::new(named("root"), EdgeKind::Contains, id);
            expected.vertices.push(vertex.clone());
            expected.edges.push(edge.clone());
            let (staging, db) = super::super::Staging::update(&root, Backend::Rocksdb).unwrap();
            let diff = Diff { written: Batch { vertices: vec![vertex], edges: vec![edge] }, ..Diff::default() };
            apply(&db, diff).unwrap();
            staging.commit(db).unwrap();
        }
        let full = Utf8PathBuf::from_path_buf(dir.path().join("full.rocksdb")).unwrap();
        write_with(Backend::Rocksdb, &full, expected);
        let (updated, built) = (read_graph(&root).unwrap(), read_graph(&full).unwrap());
        assert_eq!(updated.vertices, built.vertices);
        assert_eq!(updated.edges, built.edges);
        assert_eq!(reversed_edges(&root), forward_edges(&built));
        assert_eq!(ids(find_by_path(&root, "k::r11").unwrap()), [named("round11")]);
        assert_eq!(generations(&root).len(), 1);
    }

    #[test]
    fn an_update_of_an_unreadable_rocksdb_graph_fails_as_a_reader_does() {
        let dir = tempfile::tempdir().unwrap();
        let root = root(&dir);
        let err = assert_update_fails_like_a_reader(&root, Backend::Rocksdb);
        assert!(matches!(err, StoreError::Missing { .. }), "{err:?}");
        assert!(!root.exists(), "an update does not create the graph");
        // What a first build killed before its commit leaves.
        std::fs::create_dir_all(root.join("gen-0")).unwrap();
        let err = assert_update_fails_like_a_reader(&root, Backend::Rocksdb);
        assert!(matches!(err, StoreError::Missing { .. }), "{err:?}");

        // Another schema.
        let staging = super::super::Staging::new(&root, Backend::Rocksdb).unwrap();
        let WriteDb::RocksTables(mut tables) = staging.create().unwrap() else { unreachable!() };
        let id = meta_id();
        tables.vertex(id, &identifier(META_KIND).unwrap());
        tables.vertex_property(id, &identifier("schema").unwrap(), json!(999));
        staging.commit(WriteDb::RocksTables(tables)).unwrap();
        let err = assert_update_fails_like_a_reader(&root, Backend::Rocksdb);
        assert!(matches!(err, StoreError::Schema { .. }), "{err:?}");
        assert_eq!(generations(&root).len(), 1, "the copy is removed");

        // A pointer that names nothing.
        std::fs::write(root.join("codegraph.current"), "gen-41\n").unwrap();
        let err = assert_update_fails_like_a_reader(&root, Backend::Rocksdb);
        assert!(err.to_string().contains("`gen-41` is missing"), "{err}");

        // A folder that is not a graph, left alone.
        let foreign = Utf8PathBuf::from_path_buf(dir.path().join("photos")).unwrap();
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join("cat.jpg"), b"meow").unwrap();
        let err = assert_update_fails_like_a_reader(&foreign, Backend::Rocksdb);
        assert!(matches!(err, StoreError::Foreign { .. }), "{err:?}");
        assert_eq!(std::fs::read_dir(&foreign).unwrap().count(), 1);

        let msgpack = Utf8PathBuf::from_path_buf(dir.path().join("graph.msgpack")).unwrap();
        write_with(Backend::Msgpack, &msgpack, sample_batch(1));
        assert!(matches!(
            super::super::Staging::update(&root, Backend::Msgpack),
            Err(StoreError::BackendMismatch { .. })
        ));
    }

    /// Why `apply` deletes a removed vertex's edges itself: IndraDB 5.0.0's RocksDB
    /// `delete_vertices` deletes inbound edges under the wrong keys, so they survive it. If this
    /// test fails, IndraDB has fixed it.
    #[test]
    fn indradb_rocksdb_keeps_the_inbound_edges_of_a_deleted_vertex() {
        let dir = tempfile::tempdir().unwrap();
        let root = root(&dir);
        let staging = super::super::rocks::Staging::new(&root).unwrap();
        let db = staging.create().unwrap();
        let t = identifier("function").unwrap();
        let (a, b) = (indradb::Vertex::with_id(item(0), t), indradb::Vertex::with_id(item(1), t));
        db.create_vertex(&a).unwrap();
        db.create_vertex(&b).unwrap();
        db.create_edge(&indradb::Edge::new(a.id, identifier("calls").unwrap(), b.id)).unwrap();
        db.datastore.transaction().delete_vertices(vec![b]).unwrap();
        let txn = db.datastore.transaction();
        let edges: Vec<indradb::Edge> = txn.all_edges().unwrap().map(Result::unwrap).collect();
        assert_eq!(edges.len(), 1, "the edge to the deleted vertex is still there");
    }

    #[test]
    fn damaged_tables_are_an_error_naming_the_graph() {
        let dir = tempfile::tempdir().unwrap();
        let root = root(&dir);
        write_with(Backend::Rocksdb, &root, sample_batch(200));
        let live = root.join(std::fs::read_to_string(root.join("codegraph.current")).unwrap().trim());
        let mut damaged = 0;
        for entry in std::fs::read_dir(&live).unwrap().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|ext| ext == "sst") {
                let mut bytes = std::fs::read(&path).unwrap();
                for byte in bytes.iter_mut().take(4096) {
                    *byte ^= 0x5a;
                }
                std::fs::write(&path, bytes).unwrap();
                damaged += 1;
            }
        }
        assert!(damaged > 0, "no table files in {live}");
        let err = read_graph(&root).unwrap_err();
        assert!(matches!(err, StoreError::Unreadable { .. }), "{err:?}");
        assert!(err.to_string().contains(root.as_str()), "{err}");
    }
}

#[test]
fn raw_values_are_the_bytes_json_writes() {
    let long = "x".repeat(100);
    let values = [
        json!(7),
        json!(-3),
        json!(u64::MAX),
        json!(true),
        json!(null),
        json!(1.5),
        json!(""),
        json!("pub(crate)"),
        json!(long),
        json!(["a", 1]),
        json!({"k": "v"}),
    ];
    for value in values {
        let raw = msgpack::Raw::new(&value);
        let json = indradb::Json::new(value.clone());
        assert_eq!(raw.bytes(), rmp_serde::to_vec(&json).unwrap(), "{value}");
        // Serialized (the property index's keys), it is what `Json` serializes to.
        assert_eq!(rmp_serde::to_vec(&raw).unwrap(), rmp_serde::to_vec(&json).unwrap(), "{value}");
        assert_eq!(raw.to_json(), json, "{value}");
    }
    // Short encodings are kept inline, long ones on the heap.
    assert!(matches!(msgpack::Raw::new(&json!(12345)), msgpack::Raw::Short { .. }));
    assert!(matches!(msgpack::Raw::new(&json!(long)), msgpack::Raw::Long(_)));
}
