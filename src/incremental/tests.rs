use serde_json::json;

use super::*;
use crate::model::Edge;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn vertex(n: u128, kind: VertexKind, props: &[(&'static str, serde_json::Value)]) -> Vertex {
    Vertex { id: id(n), kind, props: props.iter().cloned().collect() }
}

fn edge(from: u128, kind: EdgeKind, to: u128, props: &[(&'static str, serde_json::Value)]) -> Edge {
    Edge { from: id(from), kind, to: id(to), props: props.iter().cloned().collect() }
}

fn batch(vertices: Vec<Vertex>, edges: Vec<Edge>) -> Vec<Batch> {
    vec![Batch { vertices, edges }]
}

#[test]
fn an_output_round_trips_through_its_encoding_with_its_counts() {
    let first = Batch {
        vertices: vec![
            vertex(1, VertexKind::Module, &[("name", json!("m")), ("line", json!(3))]),
            vertex(9, VertexKind::File, &[("path", json!("src/lib.rs"))]),
        ],
        edges: vec![edge(1, EdgeKind::DefinedIn, 9, &[])],
    };
    let second = Batch { vertices: vec![], edges: vec![edge(1, EdgeKind::Calls, 2, &[("count", json!(2))])] };
    let mut builder = OutputBuilder::default();
    builder.add(&first);
    builder.add(&second);
    let mut summary = UnitSummary::default();
    let bytes = builder.finish(&mut summary).to_vec();
    let decoded = decode_output(&bytes).unwrap();
    assert_eq!(decoded.len(), 2);
    assert_eq!(decoded[0].vertices, first.vertices);
    assert_eq!(decoded[1].edges, second.edges);
    assert_eq!(summary.shared, vec![(id(9), VertexKind::File)]);
    assert_eq!(summary.vertices, BTreeMap::from([(VertexKind::Module, 1)]));
    assert_eq!(summary.edges, BTreeMap::from([(EdgeKind::DefinedIn, 1), (EdgeKind::Calls, 1)]));
    assert!(decode_output(&bytes[..bytes.len() - 1]).is_none(), "a truncated output is refused");
}

#[test]
fn the_same_output_gives_an_empty_diff() {
    let output = || {
        batch(
            vec![vertex(1, VertexKind::Function, &[("name", json!("f"))])],
            vec![edge(1, EdgeKind::Calls, 2, &[("line", json!(4))])],
        )
    };
    let shared = [(id(9), VertexKind::File)];
    let diff = diff(vec![Change { old: output(), new: output() }], shared.iter(), shared.iter());
    assert!(diff.is_empty(), "{diff:?}");
}

#[test]
fn a_diff_removes_adds_and_changes_only_what_differs() {
    let old = batch(
        vec![
            vertex(1, VertexKind::Function, &[("name", json!("f")), ("doc", json!("old")), ("line", json!(1))]),
            vertex(2, VertexKind::Function, &[("name", json!("gone"))]),
        ],
        vec![
            edge(1, EdgeKind::Calls, 2, &[("line", json!(4))]),
            edge(1, EdgeKind::References, 5, &[("line", json!(5)), ("count", json!(1))]),
        ],
    );
    let new = batch(
        vec![
            vertex(1, VertexKind::Function, &[("name", json!("f")), ("line", json!(2))]),
            vertex(3, VertexKind::Struct, &[("name", json!("S"))]),
        ],
        vec![
            edge(1, EdgeKind::References, 5, &[("line", json!(5))]),
            edge(1, EdgeKind::References, 3, &[("line", json!(6))]),
        ],
    );
    let diff = diff(vec![Change { old, new }], [].iter(), [].iter());
    assert_eq!(diff.removed_vertices, vec![(id(2), VertexKind::Function)]);
    assert_eq!(diff.removed_edges, vec![(id(1), EdgeKind::Calls, id(2))]);
    assert_eq!(diff.removed_vertex_props, vec![(id(1), "doc")]);
    assert_eq!(diff.removed_edge_props, vec![(id(1), EdgeKind::References, id(5), "count")]);
    // Vertex 1 is written with its changed property only; vertex 3 whole.
    assert_eq!(
        diff.written.vertices,
        vec![
            vertex(1, VertexKind::Function, &[("line", json!(2))]),
            vertex(3, VertexKind::Struct, &[("name", json!("S"))])
        ]
    );
    assert_eq!(diff.written.edges, vec![edge(1, EdgeKind::References, 3, &[("line", json!(6))])]);
}

/// `batches` encoded as one output, with its summary.
fn encoded(batches: &[Batch]) -> (Vec<u8>, UnitSummary) {
    let mut builder = OutputBuilder::default();
    for batch in batches {
        builder.add(batch);
    }
    let mut summary = UnitSummary::default();
    (builder.finish(&mut summary).to_vec(), summary)
}

fn calls(from: u128, to: &[u128]) -> Batch {
    Batch { vertices: vec![], edges: to.iter().map(|&to| edge(from, EdgeKind::Calls, to, &[])).collect() }
}

fn function(n: u128, line: u64) -> Batch {
    batch(vec![vertex(n, VertexKind::Function, &[("line", json!(line))])], vec![edge(n, EdgeKind::DefinedIn, 9, &[])])
        .remove(0)
}

#[test]
fn an_output_is_disjoint_when_no_key_is_in_two_of_its_batches() {
    let file = batch(vec![vertex(9, VertexKind::File, &[])], vec![]).remove(0);
    // A shared vertex may be in any number of batches; one batch may name a key twice.
    let twice_in_one = Batch { vertices: vec![], edges: vec![edge(1, EdgeKind::Calls, 2, &[]); 2] };
    let (_, summary) = encoded(&[function(1, 1), file.clone(), file.clone(), twice_in_one, calls(2, &[1])]);
    assert!(summary.disjoint);
    // The same edge in two batches, or the same vertex.
    let (_, summary) = encoded(&[calls(1, &[2, 3]), calls(2, &[1]), calls(1, &[3])]);
    assert!(!summary.disjoint);
    let (_, summary) = encoded(&[function(1, 1), function(2, 1), function(1, 2)]);
    assert!(!summary.disjoint);
}

#[test]
fn batches_unchanged_byte_for_byte_are_left_out_of_a_disjoint_diff() {
    // Ten functions, each with its batch of calls; the rerun moves function 4 and changes what
    // function 7 calls. The batches come back in another order, as threads finish them.
    let old: Vec<Batch> = (1..=10).flat_map(|n| [function(n, n as u64), calls(n, &[n + 1, n + 2])]).collect();
    let mut new: Vec<Batch> = (1..=10)
        .rev()
        .flat_map(|n| match n {
            4 => [function(4, 40), calls(4, &[5, 6])],
            7 => [function(7, 7), calls(7, &[8, 1])],
            n => [function(n, n as u64), calls(n, &[n + 1, n + 2])],
        })
        .collect();
    new.swap(0, 5);
    let (old_bytes, old_summary) = encoded(&old);
    let (new_bytes, new_summary) = encoded(&new);
    assert!(old_summary.disjoint && new_summary.disjoint);

    let split = |bytes, summary: &UnitSummary| split_output(bytes, &summary.batches).unwrap();
    let (old_batches, new_batches) = (split(&old_bytes, &old_summary), split(&new_bytes, &new_summary));
    assert_eq!((old_batches.len(), new_batches.len()), (20, 20));
    let skipped = Change::between(old_batches.clone(), new_batches.clone(), true).unwrap();
    assert_eq!(skipped.old, vec![function(4, 4), calls(7, &[8, 9])], "only what changed is decoded");
    assert_eq!(skipped.new.len(), 2);
    let whole = Change::between(old_batches, new_batches.clone(), false).unwrap();
    assert_eq!((whole.old.len(), whole.new.len()), (20, 20));

    let expected = diff(vec![whole], [].iter(), [].iter());
    let got = diff(vec![skipped], [].iter(), [].iter());
    assert_eq!(got.removed_edges, vec![(id(7), EdgeKind::Calls, id(9))]);
    assert_eq!(got.written.edges, vec![edge(7, EdgeKind::Calls, 1, &[])]);
    assert_eq!(got.written.vertices, vec![vertex(4, VertexKind::Function, &[("line", json!(40))])]);
    assert_eq!(format!("{got:?}"), format!("{expected:?}"));
    // Damage is refused: an output shorter than its lengths, and lengths that cut it wrong.
    assert!(split_output(&old_bytes[..old_bytes.len() - 1], &old_summary.batches).is_none());
    let mut lengths = old_summary.batches.clone();
    (lengths[6], lengths[7]) = (lengths[6] + 1, lengths[7] - 1);
    let miscut = split_output(&old_bytes, &lengths).unwrap();
    assert!(Change::between(miscut, new_batches, true).is_none());
}

#[test]
fn batches_are_compared_whole_when_an_output_repeats_a_key() {
    // The edge 1 → 2 is in two batches of the old output; the new output drops one of them. Left
    // out as unchanged, the other would make the edge look removed.
    let old = [calls(1, &[2]), calls(1, &[2, 3])];
    let new = [calls(1, &[2])];
    let (old_bytes, old_summary) = encoded(&old);
    let (new_bytes, new_summary) = encoded(&new);
    assert!(!old_summary.disjoint && new_summary.disjoint);
    let (old_batches, new_batches) = (
        split_output(&old_bytes, &old_summary.batches).unwrap(),
        split_output(&new_bytes, &new_summary.batches).unwrap(),
    );
    let change = Change::between(old_batches, new_batches, old_summary.disjoint && new_summary.disjoint).unwrap();
    let diff = diff(vec![change], [].iter(), [].iter());
    assert_eq!(diff.removed_edges, vec![(id(1), EdgeKind::Calls, id(3))]);
}

#[test]
fn a_shared_vertex_stays_while_any_unit_writes_it() {
    let file = |n| vertex(n, VertexKind::File, &[("path", json!(format!("f{n}.rs")))]);
    // Unit A wrote files 8 and 9, unit B file 9; A now writes only 7 (new) .
    let old_shared = [(id(8), VertexKind::File), (id(9), VertexKind::File), (id(9), VertexKind::File)];
    let new_shared = [(id(7), VertexKind::File), (id(9), VertexKind::File)];
    let change = Change { old: batch(vec![file(8), file(9)], vec![]), new: batch(vec![file(7)], vec![]) };
    let diff = diff(vec![change], old_shared.iter(), new_shared.iter());
    assert_eq!(diff.removed_vertices, vec![(id(8), VertexKind::File)], "9 is still B's");
    assert_eq!(diff.written.vertices, vec![file(7)]);
}

#[test]
fn a_file_cache_gives_back_each_file_and_refuses_damage() {
    let files = vec![("a".to_owned(), vec![1, 2, 3]), ("b".to_owned(), vec![]), ("c".to_owned(), vec![9; 300])];
    let bytes =
        FileCache::encode(files.into_iter().map(|(key, bytes)| (key, bytes.into())).collect(), &Parts::default())
            .to_vec();
    let cache = FileCache::decode(bytes.clone(), Vec::new()).unwrap();
    assert_eq!(cache.get("a").unwrap().whole(), &[1u8, 2, 3][..]);
    assert!(cache.get("b").unwrap().whole().is_empty());
    assert_eq!(cache.get("c").map(|entry| entry.whole().len()), Some(300));
    assert_eq!(cache.get("d"), None);
    assert!(FileCache::decode(bytes[..bytes.len() - 1].to_vec(), Vec::new()).is_none(), "a truncated cache is refused");
}

fn module_batch(n: u128) -> Batch {
    Batch {
        vertices: vec![vertex(n, VertexKind::Module, &[("name", json!(format!("m{n}")))])],
        edges: vec![edge(n, EdgeKind::DefinedIn, 9, &[])],
    }
}

#[test]
fn a_file_output_decodes_from_its_batch_encoded_once() {
    let batch = module_batch(1);
    let batch_bytes = encode_batch(&batch);
    let parts =
        FileOutputRef { records: &[], sites: &[], children: &[], origin: test_origin() }.encode(batch_bytes.clone());
    let bytes = parts.to_vec();
    assert_eq!(parts.len(), bytes.len());
    assert_eq!(parts.hash(), hash(&bytes), "hashed part by part, the hash of the whole");
    // In one piece (not spliced), the batch is found in it.
    let (output, pieces) = FileOutput::decode(FileEntry { head: &bytes, batch: &[], tail: &[] }).unwrap();
    assert_eq!(pieces.batch, batch_bytes, "the batch's own bytes, to reuse");
    assert_eq!(pieces.whole(), bytes);
    let vertex = &batch.vertices[0];
    assert_eq!(output.keys.vertices, [(vertex.id, vertex.kind)]);
    let edge = &batch.edges[0];
    assert_eq!(output.keys.edges, [(edge.from, edge.kind, edge.to)]);
    assert!(output.records.is_empty() && output.sites.is_empty() && output.children.is_empty());
    let cut = FileEntry { head: &bytes[..bytes.len() - 1], batch: &[], tail: &[] };
    assert!(FileOutput::decode(cut).is_none(), "a truncated output is refused");
}

/// Records as a file's parse gives them (a body macro's call, types, a shape) are read back as
/// written, whatever their optional parts hold: the records' encoding has no self-description,
/// so a field left out when empty would shift every field after it.
#[test]
fn a_file_outputs_records_are_read_back_as_written() {
    use crate::resolve::{ItemRecord, Shape};
    let text = "pub fn f(v: Vec<u8>) -> Option<crate::a::B> { m!(v.len()); g::<u8>(v); None }\n\
                pub struct S { pub a: std::sync::Arc<str> }";
    let facts = crate::parse::parse_file(text).unwrap();
    let records: Vec<ItemRecord> = facts
        .items
        .iter()
        .enumerate()
        .map(|(n, item)| ItemRecord {
            id: uuid::Uuid::from_u128(n as u128 + 1),
            kind: item.kind,
            name: item.name.clone(),
            path: format!("crate::{}", item.name),
            parent: Some(uuid::Uuid::from_u128(9)),
            visibility: item.visibility.clone(),
            active: true,
            file: "src/lib.rs".into(),
            line: item.line,
            shape: Shape::Function {
                returns: crate::parse::TypeExpr::Path(crate::parse::PathRef::single("Option"), Vec::new()),
                inputs: vec![crate::parse::TypeExpr::Unknown],
                receiver: n == 0,
            },
            refs: item.refs.clone().into(),
        })
        .collect();
    assert!(!records[0].refs.body_macros().is_empty(), "the call of `m!` is kept for expansion");
    let encode = |records: &[ItemRecord]| {
        FileOutputRef { records, sites: &[], children: &[], origin: test_origin() }
            .encode(encode_batch(&module_batch(1)))
            .to_vec()
    };
    let bytes = encode(&records);
    let (output, _) = FileOutput::decode(FileEntry { head: &bytes, batch: &[], tail: &[] }).unwrap();
    assert_eq!(output.records.len(), 2);
    for (read, written) in output.records.iter().zip(&records) {
        assert_eq!(
            (read.id, &read.name, &read.path, read.line),
            (written.id, &written.name, &written.path, written.line)
        );
        assert_eq!(read.refs.names_hash(), written.refs.names_hash());
        assert_eq!(read.refs.body_macros(), written.refs.body_macros());
    }
    assert_eq!(encode(&output.records), bytes, "written again as read, byte for byte");
    assert!(FileOutput::origin(FileEntry { head: &bytes, batch: &[], tail: &[] }).is_some(), "stepped over");
}

#[test]
fn a_batch_counted_by_its_keys_counts_as_the_batch_itself() {
    let file = vertex(7, VertexKind::File, &[("path", json!("src/a.rs"))]);
    let batches = [
        module_batch(1),
        Batch {
            vertices: vec![file.clone(), vertex(2, VertexKind::Function, &[("name", json!("f")), ("line", json!(3))])],
            edges: vec![edge(2, EdgeKind::Calls, 1, &[("line", json!(4))]), edge(2, EdgeKind::DefinedIn, 7, &[])],
        },
        // The shared file vertex again, then an edge the first batch has: the batches overlap.
        Batch { vertices: vec![file], edges: vec![edge(1, EdgeKind::DefinedIn, 9, &[])] },
    ];
    let summaries = [false, true].map(|by_keys| {
        let mut builder = OutputBuilder::default();
        for batch in &batches {
            let encoded = encode_batch(batch);
            if by_keys {
                builder.add_keys(&BatchKeys::decode(&encoded).unwrap(), encoded);
            } else {
                builder.add_encoded(batch, encoded);
            }
        }
        let mut summary = UnitSummary::default();
        let output = builder.finish(&mut summary);
        (output.to_vec(), summary.vertices, summary.edges, summary.shared, summary.disjoint)
    });
    assert_eq!(summaries[0], summaries[1]);
    let (_, vertices, edges, shared, disjoint) = &summaries[1];
    assert_eq!(vertices.values().sum::<usize>(), 2, "{vertices:?}");
    assert_eq!(edges.values().sum::<usize>(), 4, "{edges:?}");
    assert_eq!(shared, &[(id(7), VertexKind::File)]);
    assert!(!disjoint, "the third batch names an edge of the first");
    let encoded = encode_batch(&batches[0]);
    assert!(BatchKeys::decode(&encoded[..encoded.len() - 1]).is_none(), "a cut batch is refused");
}

#[test]
fn batch_keys_step_over_properties_of_every_shape() {
    // Strings of each length class, numbers of each width, floats, nested arrays and maps.
    let props = [
        ("name", json!("f")),
        ("doc", json!("d".repeat(300))),
        ("signature", json!("s".repeat(70_000))),
        ("line", json!(3)),
        ("column", json!(300)),
        ("start", json!(70_000)),
        ("end", json!(5_000_000_000u64)),
        ("offset", json!(-1)),
        ("delta", json!(-40_000)),
        ("weight", json!(0.5)),
        ("public", json!(true)),
        ("alias", json!(null)),
        ("attrs", json!([["a", 1], [], {"k": [1.5, "v"]}])),
    ];
    let batch = Batch {
        vertices: vec![vertex(2, VertexKind::Function, &props), vertex(3, VertexKind::Struct, &[])],
        edges: vec![edge(2, EdgeKind::Calls, 3, &props), edge(3, EdgeKind::DefinedIn, 2, &[])],
    };
    let encoded = encode_batch(&batch);
    let keys = BatchKeys::decode(&encoded).unwrap();
    assert_eq!(keys.vertices, batch.vertices.iter().map(|v| (v.id, v.kind)).collect::<Vec<_>>());
    assert_eq!(keys.edges, batch.edges.iter().map(|e| (e.from, e.kind, e.to)).collect::<Vec<_>>());
    // Cut anywhere, or followed by anything, the bytes are not one batch.
    for end in (0..encoded.len()).step_by(97) {
        assert!(BatchKeys::decode(&encoded[..end]).is_none(), "cut at {end}");
    }
    assert!(BatchKeys::decode(&[&encoded[..], &[0xc0]].concat()).is_none());
}

#[test]
fn a_file_cache_keeps_each_files_batch_once_in_the_crates_output() {
    // A crate's output: a batch of its own, then two files' batches; the cache also holds a
    // macro call's expansion (one part, kept whole).
    let own = encode_batch(&module_batch(5));
    let (a, b) = (encode_batch(&module_batch(1)), encode_batch(&module_batch(2)));
    let mut output = Parts::default();
    for part in [&own, &a, &b] {
        output.push(part.clone());
    }
    let file = |batch: &bytes::Bytes| {
        FileOutputRef { records: &[], sites: &[], children: &[], origin: test_origin() }.encode(batch.clone())
    };
    let entries = || {
        vec![
            ("a.rs".to_owned(), file(&a)),
            ("b.rs".to_owned(), file(&b)),
            ("call".to_owned(), Parts::from(vec![7u8; 50])),
            // A batch the output does not hold is kept whole.
            ("c.rs".to_owned(), file(&encode_batch(&module_batch(3)))),
        ]
    };
    let whole: Vec<Vec<u8>> = entries().iter().map(|(_, parts)| parts.to_vec()).collect();
    let encoded = FileCache::encode(entries(), &output);
    // Against no output, nothing is spliced: the difference is the two batches (less the few
    // bytes each splice takes in the index).
    let unspliced = FileCache::encode(entries(), &Parts::default());
    assert!(unspliced.len() - encoded.len() + 20 >= a.len() + b.len(), "{} {}", unspliced.len(), encoded.len());
    assert!(unspliced.len() - encoded.len() <= a.len() + b.len());
    assert!(encoded.to_vec().windows(a.len()).all(|window| window != &a[..]), "a's batch is not in the cache");
    let cache = FileCache::decode(encoded.to_vec(), output.to_vec()).unwrap();
    for (key, whole) in ["a.rs", "b.rs", "call", "c.rs"].into_iter().zip(&whole) {
        assert_eq!(&cache.get(key).unwrap().whole()[..], &whole[..], "{key}");
    }
    let (kept, pieces) = FileOutput::decode(cache.get("b.rs").unwrap()).unwrap();
    assert_eq!(kept.keys.vertices[0].0, id(2));
    assert_eq!(pieces.batch, &b[..]);
    // Against an output too short for the ranges it names, the cache is refused.
    assert!(FileCache::decode(encoded.to_vec(), output.to_vec()[..own.len() + a.len()].to_vec()).is_none());
}

fn new_unit(key: &str, output: &[u8], defs: Option<&[u8]>) -> NewUnit {
    let summary = UnitSummary { interface: defs.map(hash), ..UnitSummary::default() };
    NewUnit {
        key: key.to_owned(),
        fingerprint: fingerprint(key),
        summary,
        output: output.to_vec().into(),
        defs: defs.map(<[u8]>::to_vec),
        names: None,
        scopes_as_recorded: false,
        files: FileCache::encode(vec![(format!("{key}.rs"), output.to_vec().into())], &Parts::default()),
    }
}

fn output_bytes(n: u128) -> Vec<u8> {
    let mut builder = OutputBuilder::default();
    builder.add(&Batch {
        vertices: vec![vertex(n, VertexKind::Function, &[("name", json!(format!("f{n}")))])],
        edges: vec![],
    });
    builder.finish(&mut UnitSummary::default()).to_vec()
}

fn pack_files(dir: &Utf8Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("pack-"))
        .collect();
    names.sort();
    names
}

#[test]
fn a_build_writes_one_pack_and_reruns_keep_what_is_live_within_twice_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let db = Utf8Path::from_path(dir.path()).unwrap().join("graph.msgpack");
    let cache = Cache::new(&db);
    let units: Vec<NewUnit> =
        (0..50).map(|n| new_unit(&format!("u{n}"), &output_bytes(n), Some(&[n as u8; 40]))).collect();
    cache.save("fp".into(), "stamp0".into(), BTreeMap::new(), cache.pack(None, units)).unwrap();
    assert_eq!(pack_files(&cache.dir), ["pack-0"], "fifty units, one pack");
    let mut state = cache.load("fp", Some("stamp0")).unwrap();
    for (n, entry) in state.units.values().enumerate() {
        assert!(cache.output(entry).is_some() && cache.files(entry).is_some(), "unit {n}");
        assert_eq!(cache.defs(entry).unwrap().len(), 40);
    }
    // A rerun indexes one unit again: a second pack with only that unit, the first kept.
    let kept: BTreeMap<String, UnitEntry> =
        state.units.iter().filter(|(key, _)| *key != "u7").map(|(k, v)| (k.clone(), v.clone())).collect();
    cache
        .save(
            "fp".into(),
            "stamp1".into(),
            kept,
            cache.pack(Some(&state), vec![new_unit("u7", &output_bytes(107), None)]),
        )
        .unwrap();
    assert_eq!(pack_files(&cache.dir), ["pack-0", "pack-1"]);
    state = cache.load("fp", Some("stamp1")).unwrap();
    let u7 = &state.units["u7"];
    assert_eq!(u7.output.pieces.iter().map(|piece| piece.pack).collect::<Vec<_>>(), [1]);
    assert_eq!(cache.output(u7).unwrap()[0].vertices[0].id, id(107));
    assert!(cache.defs(u7).is_none());
    // Reruns that index most units again, smaller (no scopes): the dead bytes of pack-0
    // outweigh all live ones, its live blobs move, and it goes.
    for round in 2..4u64 {
        let again: Vec<String> = (0..50).filter(|n| n % 10 != 0).map(|n| format!("u{n}")).collect();
        let kept =
            state.units.iter().filter(|(key, _)| !again.contains(key)).map(|(k, v)| (k.clone(), v.clone())).collect();
        let new = again.iter().map(|key| new_unit(key, &output_bytes(round as u128 * 1000), None)).collect();
        cache.save("fp".into(), format!("stamp{round}"), kept, cache.pack(Some(&state), new)).unwrap();
        state = cache.load("fp", Some(&format!("stamp{round}"))).unwrap();
    }
    assert!(!pack_files(&cache.dir).contains(&"pack-0".to_owned()), "{:?}", pack_files(&cache.dir));
    let (mut live, mut size) = (0, 0);
    for entry in state.units.values() {
        assert!(cache.output(entry).is_some() && cache.files(entry).is_some());
        live += entry.blobs().map(|blob| blob.len).sum::<u64>();
    }
    for name in pack_files(&cache.dir) {
        size += std::fs::metadata(cache.dir.join(name)).unwrap().len();
    }
    assert!(size <= 2 * live, "{size} bytes of packs for {live} live ones");
    assert_eq!(cache.defs(&state.units["u0"]).unwrap(), [0u8; 40], "a moved blob reads back");
}

#[test]
fn reruns_of_a_unit_larger_than_the_rest_copy_nothing() {
    // A package whose library is most of it: each rerun indexes the library again.
    let dir = tempfile::tempdir().unwrap();
    let db = Utf8Path::from_path(dir.path()).unwrap().join("graph.msgpack");
    let cache = Cache::new(&db);
    let mut units: Vec<NewUnit> =
        (0..10).map(|n| new_unit(&format!("t{n}"), &output_bytes(n), Some(&[1; 40]))).collect();
    units.push(new_unit("lib", &output_bytes(99), Some(&[0; 4000])));
    cache.save("fp".into(), "s0".into(), BTreeMap::new(), cache.pack(None, units)).unwrap();
    let mut state = cache.load("fp", Some("s0")).unwrap();
    for round in 1..6u8 {
        let kept = state.units.iter().filter(|(key, _)| *key != "lib").map(|(k, v)| (k.clone(), v.clone())).collect();
        let lib = new_unit("lib", &output_bytes(99), Some(&[round; 4000]));
        let stamp = format!("s{round}");
        cache.save("fp".into(), stamp.clone(), kept, cache.pack(Some(&state), vec![lib])).unwrap();
        state = cache.load("fp", Some(&stamp)).unwrap();
        // The small units stay in pack-0; each rerun's pack holds the library's new scopes
        // alone (its output, unchanged, stays where it was).
        let small = state.units.iter().filter(|(key, _)| *key != "lib");
        assert!(small.flat_map(|(_, entry)| entry.blobs()).all(|blob| blob.pack == 0));
        assert_eq!(state.units["lib"].defs.as_ref().unwrap().pack, u64::from(round));
        assert_eq!(pack_files(&cache.dir), ["pack-0".to_owned(), format!("pack-{round}")]);
        assert_eq!(cache.defs(&state.units["lib"]).unwrap(), [round; 4000]);
        let live: u64 = state.units.values().flat_map(|entry| entry.blobs().map(|blob| blob.len)).sum();
        let size: u64 =
            pack_files(&cache.dir).iter().map(|name| std::fs::metadata(cache.dir.join(name)).unwrap().len()).sum();
        assert!(size <= 2 * live, "{size} bytes of packs for {live} live ones");
    }
}

#[test]
fn pieces_are_cut_by_content_whatever_the_parts_end_with() {
    // Batches that end alike (the same property of the same kind of edge) and begin apart.
    let parts: Vec<Vec<u8>> = (0..600u32)
        .map(|n| {
            let mut part = n.to_le_bytes().repeat(16);
            part.extend(std::iter::repeat_n(7u8, 4000));
            part
        })
        .collect();
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let ends = super::piece_ends(&parts);
    assert!(ends.len() >= 6, "{} pieces for {} bytes", ends.len(), 600 * 4064);
    assert_eq!(ends.last(), Some(&parts.len()));
}

#[test]
fn a_unit_indexed_again_writes_only_the_pieces_that_changed() {
    // An output of 600 parts of about 4 KiB (2.4 MB): several pieces.
    let part = |n: usize, seed: usize| (0..4000 + n % 13).map(|i| (seed * 31 + i * 7) as u8).collect::<Vec<u8>>();
    let output = |parts: Vec<Vec<u8>>| {
        let mut output = Parts::default();
        parts.into_iter().for_each(|part| output.push(part));
        output
    };
    let unit = |parts: Vec<Vec<u8>>| NewUnit { output: output(parts), ..new_unit("lib", &[], None) };
    let before: Vec<Vec<u8>> = (0..600).map(|n| part(n, n)).collect();
    let dir = tempfile::tempdir().unwrap();
    let db = Utf8Path::from_path(dir.path()).unwrap().join("graph.msgpack");
    let cache = Cache::new(&db);
    cache.save("fp".into(), "s0".into(), BTreeMap::new(), cache.pack(None, vec![unit(before.clone())])).unwrap();
    let state = cache.load("fp", Some("s0")).unwrap();
    let recorded = state.units["lib"].output.clone();
    assert!(recorded.pieces.len() >= 6, "{} pieces", recorded.pieces.len());
    assert!(recorded.pieces.iter().all(|piece| piece.len as usize <= super::PIECE_MAX + 4100));
    // One part changed, then one inserted: the pieces around it are written, the others kept.
    let mut changed = before.clone();
    changed[300] = part(300, 1000);
    let mut inserted = before.clone();
    inserted.insert(450, part(7, 1001));
    for (round, parts) in [(1u64, changed), (2, inserted)] {
        let previous = cache.load("fp", Some(&format!("s{}", round - 1))).unwrap();
        let whole = output(parts.clone()).to_vec();
        let stamp = format!("s{round}");
        cache
            .save("fp".into(), stamp.clone(), BTreeMap::new(), cache.pack(Some(&previous), vec![unit(parts)]))
            .unwrap();
        let state = cache.load("fp", Some(&stamp)).unwrap();
        let pieces = &state.units["lib"].output.pieces;
        let written: Vec<&Blob> = pieces.iter().filter(|piece| piece.pack == round).collect();
        assert!(!written.is_empty() && written.len() <= 2, "{} of {} pieces written", written.len(), pieces.len());
        assert_eq!(cache.output_bytes(&state.units["lib"]).unwrap(), whole);
        let size = std::fs::metadata(cache.dir.join(format!("pack-{round}"))).unwrap().len();
        // The files' cache is as recorded: kept where it is.
        assert_eq!(size, written.iter().map(|piece| piece.len).sum::<u64>());
    }
}

#[test]
fn a_damaged_or_missing_blob_reads_as_none() {
    let dir = tempfile::tempdir().unwrap();
    let db = Utf8Path::from_path(dir.path()).unwrap().join("graph.msgpack");
    let cache = Cache::new(&db);
    let packed = cache.pack(None, vec![new_unit("a", &output_bytes(1), Some(b"scopes"))]);
    cache.save("fp".into(), "s".into(), BTreeMap::new(), packed).unwrap();
    let state = cache.load("fp", Some("s")).unwrap();
    let entry = &state.units["a"];
    let pack = cache.dir.join("pack-0");
    let bytes = std::fs::read(&pack).unwrap();
    // One byte changed inside each blob in turn: only that blob is refused.
    for blob in entry.blobs() {
        let mut damaged = bytes.clone();
        damaged[blob.offset as usize] ^= 0xff;
        std::fs::write(&pack, &damaged).unwrap();
        assert_eq!(cache.read(blob), None);
        assert_eq!(entry.blobs().filter(|other| cache.read(other).is_some()).count(), 2);
    }
    std::fs::write(&pack, &bytes[..bytes.len() - 1]).unwrap();
    assert!(cache.files(entry).is_none(), "the last blob, cut short");
    let mut lying = entry.clone();
    lying.output.len = u64::MAX;
    assert!(cache.output(&lying).is_none(), "a length beyond the file allocates nothing");
    let mut lying = entry.clone();
    lying.output.pieces[0].len = u64::MAX;
    lying.output.len = u64::MAX;
    assert!(cache.output(&lying).is_none(), "nor a piece's");
    std::fs::remove_file(&pack).unwrap();
    assert!(cache.output(entry).is_none() && cache.defs(entry).is_none());
}

#[test]
fn a_pack_that_cannot_be_written_records_no_state() {
    let dir = tempfile::tempdir().unwrap();
    let db = Utf8Path::from_path(dir.path()).unwrap().join("graph.msgpack");
    let cache = Cache::new(&db);
    // The cache's folder is taken by a file: no pack can be created in it.
    std::fs::write(&cache.dir, b"not a folder").unwrap();
    let packed = cache.pack(None, vec![new_unit("a", &output_bytes(1), None), new_unit("b", &output_bytes(2), None)]);
    assert_eq!(packed.units.len(), 2, "the units are still there to be counted");
    assert!(cache.save("fp".into(), "s".into(), BTreeMap::new(), packed).is_err());
    assert!(cache.load("fp", Some("s")).is_none());
}

#[test]
fn parts_hash_and_write_as_their_whole() {
    let pieces: Vec<Vec<u8>> = [0usize, 5, 240, 241, 1_000, 70_000]
        .iter()
        .enumerate()
        .map(|(i, &len)| (0..len).map(|n| (n * 31 + i * 7) as u8).collect())
        .collect();
    let mut parts = Parts::default();
    for piece in &pieces {
        parts.push(piece.clone());
    }
    let whole = pieces.concat();
    assert_eq!(parts.len(), whole.len());
    assert_eq!(parts.to_vec(), whole);
    assert_eq!(parts.hash(), hash(&whole), "xxh3 streamed over the parts is xxh3 of the whole");
    let mut written = Vec::new();
    parts.write_to(&mut written).unwrap();
    assert_eq!(written, whole);
    assert!(Parts::default().is_empty() && !parts.is_empty());
}

#[test]
fn a_packer_writes_what_it_was_handed_and_a_dropped_one_still_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = Utf8Path::from_path(dir.path()).unwrap().join("graph.msgpack");
    let cache = Cache::new(&db);
    let units: Vec<NewUnit> = (0..20).map(|n| new_unit(&format!("u{n}"), &output_bytes(n), Some(b"scopes"))).collect();
    let size: usize = units.iter().map(|unit| unit.output.len() + unit.files.len() + 6).sum();
    // Finished: the units it records read back.
    let packer = cache.packer(None).unwrap();
    for unit in units.clone() {
        packer.add(unit);
    }
    let packed = packer.finish().unwrap();
    assert_eq!(packed.units.len(), 20);
    cache.save("fp".into(), "s".into(), BTreeMap::new(), packed).unwrap();
    let state = cache.load("fp", Some("s")).unwrap();
    assert!(state.units.values().all(|entry| cache.output(entry).is_some() && cache.files(entry).is_some()));
    assert_eq!(std::fs::metadata(cache.dir.join("pack-0")).unwrap().len() as usize, size);
    // Dropped without `finish` (a build that failed): every unit is written before the drop ends.
    let packer = cache.packer(Some(&state)).unwrap();
    for unit in units {
        packer.add(unit);
    }
    drop(packer);
    assert_eq!(std::fs::metadata(cache.dir.join("pack-1")).unwrap().len() as usize, size);
}

#[test]
fn a_unit_indexed_again_as_it_was_keeps_its_blobs_where_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let db = Utf8Path::from_path(dir.path()).unwrap().join("graph.msgpack");
    let cache = Cache::new(&db);
    let units = || -> Vec<NewUnit> {
        (0..10).map(|n| new_unit(&format!("u{n}"), &output_bytes(n), Some(&[n as u8; 40]))).collect()
    };
    cache.save("fp".into(), "stamp0".into(), BTreeMap::new(), cache.pack(None, units())).unwrap();
    let before = cache.load("fp", Some("stamp0")).unwrap();
    // Every unit indexed again, one with another output (and so other files, in this test's
    // layout) and other scopes: only that unit's blobs are written.
    let mut again = units();
    again[3] = new_unit("u3", &output_bytes(103), Some(&[9; 41]));
    cache.save("fp".into(), "stamp1".into(), BTreeMap::new(), cache.pack(Some(&before), again)).unwrap();
    let after = cache.load("fp", Some("stamp1")).unwrap();
    for (key, entry) in &after.units {
        let old = &before.units[key];
        if key == "u3" {
            assert!(entry.blobs().all(|blob| blob.pack == 1), "{entry:?}");
            assert_eq!(cache.output(entry).unwrap()[0].vertices[0].id, id(103));
            assert_eq!(cache.defs(entry).unwrap(), [9; 41]);
        } else {
            assert!(entry.blobs().eq(old.blobs()), "{key}: {entry:?}");
            assert!(cache.output(entry).is_some() && cache.files(entry).is_some() && cache.defs(entry).is_some());
        }
    }
    let written: u64 = after.units["u3"].blobs().map(|blob| blob.len).sum();
    assert_eq!(std::fs::metadata(cache.dir.join("pack-1")).unwrap().len(), written);
}

/// A `FileOrigin`'s fields, for entries whose origin no test reads.
fn test_origin() -> super::unit::FileOriginRef<'static> {
    let module = crate::assemble::ChildModule::crate_root(&crate::ids::Key::package("demo", None), "demo");
    let candidates = vec![crate::workspace::modules::ModuleFile::crate_root("src/lib.rs".into())];
    (Box::leak(candidates.into_boxed_slice()), Box::leak(Box::new(module)), &None, &[])
}

#[test]
#[cfg(debug_assertions)]
fn bytes_read_back_intact_that_do_not_decode_stop_a_debug_build() {
    assert_eq!(super::read_back(Some(7), "a number"), Some(7));
    let stopped = std::panic::catch_unwind(|| super::read_back(None::<u8>, "a number"));
    let message = stopped.expect_err("a debug build stops").downcast::<String>().expect("a message");
    assert!(message.contains("a number"), "{message}");
}
