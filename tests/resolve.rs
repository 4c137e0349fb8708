//! What name resolution adds to the graph, on the `calls` fixture: imports (renamed, glob,
//! cross-crate through a renamed dependency), re-exports, impls and their traits, supertraits,
//! derives, references, macro invocations, and `extern` vertices for what lies outside.
//! (`tests/calls.rs` scores the `calls` edges against their answer key.)

mod common;

use common::{Fixture, Graph};

fn calls_graph() -> Graph {
    let fixture = Fixture::new("calls");
    fixture.build(&["--workspace"], 0);
    Graph::parse(&fixture.export())
}

/// Whether `graph` has the edge, given as `from -kind-> to` (labels as `Graph::label` writes
/// them), with at least the properties in `props`.
fn has(graph: &Graph, line: &str, props: serde_json::Value) -> bool {
    let (from, rest) = line.split_once(" -").unwrap();
    let (kind, to) = rest.split_once("-> ").unwrap();
    graph.edges.iter().any(|edge| {
        edge["kind"] == kind
            && graph.label(edge["from"].as_str().unwrap()) == from
            && graph.label(edge["to"].as_str().unwrap()) == to
            && props.as_object().unwrap().iter().all(|(key, value)| edge["props"][key] == *value)
    })
}

#[track_caller]
fn assert_edge(graph: &Graph, line: &str, props: serde_json::Value) {
    let kind = line.split_once(" -").unwrap().1.split_once("->").unwrap().0;
    assert!(
        has(graph, line, props.clone()),
        "missing `{line}` {props}; the {kind} edges:\n{}",
        graph.edge_lines(kind).join("\n")
    );
}

#[test]
fn imports_resolve_across_modules_and_crates() {
    let graph = calls_graph();
    // A renamed import, a plain one through `super`, a glob, and one through the dependency's
    // name in the manifest (`util2`).
    assert_edge(
        &graph,
        "module calls_app -imports-> struct calls_app::shapes::square::Square",
        serde_json::json!({"alias": "Sq", "glob": false, "line": 14}),
    );
    assert_edge(
        &graph,
        "module calls_app::shapes::square -imports-> trait calls_app::shapes::Area",
        serde_json::json!({"glob": false}),
    );
    assert_edge(
        &graph,
        "module calls_app::report -imports-> module calls_util::text",
        serde_json::json!({"glob": true}),
    );
    assert_edge(&graph, "module calls_app::report -imports-> struct calls_util::meter::Meter", serde_json::json!({}));
    // `use crate::shapes::{Area, Circle}` reaches `Circle` through `shapes`' `pub use`.
    assert_edge(
        &graph,
        "module calls_app::report -imports-> struct calls_app::shapes::circle::Circle",
        serde_json::json!({}),
    );
    assert_edge(&graph, "module calls_app::shapes::circle -imports-> extern std::fmt", serde_json::json!({}));
}

#[test]
fn pub_use_is_a_reexport() {
    let graph = calls_graph();
    assert_edge(
        &graph,
        "module calls_util -reexports-> function calls_util::text::shout",
        serde_json::json!({"line": 7}),
    );
    assert_edge(
        &graph,
        "module calls_app::shapes -reexports-> struct calls_app::shapes::circle::Circle",
        serde_json::json!({}),
    );
    assert!(!has(
        &graph,
        "module calls_app::report -reexports-> struct calls_util::meter::Meter",
        serde_json::json!({})
    ));
}

#[test]
fn impls_traits_and_derives_resolve() {
    let graph = calls_graph();
    // Three spellings of a trait in an impl header: `crate::` path, imported `fmt::Display`, and
    // the renamed dependency's path.
    assert_edge(
        &graph,
        "impl calls_app::shapes::circle::<impl crate::shapes::Area for Circle> -implements-> trait calls_app::shapes::Area",
        serde_json::json!({}),
    );
    assert_edge(
        &graph,
        "impl calls_app::shapes::circle::<impl fmt::Display for Circle> -implements-> extern std::fmt::Display",
        serde_json::json!({}),
    );
    assert_edge(
        &graph,
        "impl calls_app::shapes::circle::<impl util2::Describe for Circle> -implements-> trait calls_util::Describe",
        serde_json::json!({}),
    );
    assert_edge(
        &graph,
        "impl calls_app::shapes::circle::<impl util2::Describe for Circle> -impl_for-> struct calls_app::shapes::circle::Circle",
        serde_json::json!({}),
    );
    // A self type behind two references is still the struct's.
    assert_edge(
        &graph,
        "impl calls_app::generics::<impl Marker for &&Bag> -impl_for-> struct calls_app::generics::Bag",
        serde_json::json!({}),
    );
    assert_edge(&graph, "trait calls_util::Loud -supertrait-> trait calls_util::Describe", serde_json::json!({}));
    assert_edge(
        &graph,
        "struct calls_app::shapes::square::Square -derives-> extern std::fmt::Debug",
        serde_json::json!({"line": 5}),
    );
    assert_edge(
        &graph,
        "struct calls_app::shapes::square::Square -derives-> extern std::marker::Copy",
        serde_json::json!({}),
    );
}

#[test]
fn references_and_invocations_resolve() {
    let graph = calls_graph();
    // A local `macro_rules!` and std's, and a parameter's type named through an import.
    assert_edge(&graph, "function calls_app::run -invokes-> extern std::vec", serde_json::json!({}));
    assert_edge(
        &graph,
        "function calls_app::print_report -invokes-> extern std::println",
        serde_json::json!({"line": 31}),
    );
    assert_edge(&graph, "function calls_app::self_check -invokes-> macro calls_app::both", serde_json::json!({}));
    assert_edge(
        &graph,
        "function calls_app::report::summary -references-> struct calls_app::shapes::circle::Circle",
        serde_json::json!({}),
    );
}

#[test]
fn every_outside_target_is_an_extern_vertex_named_by_its_path() {
    let graph = calls_graph();
    let externs: Vec<&serde_json::Value> = graph.vertices.values().filter(|v| v["kind"] == "extern").collect();
    assert!(!externs.is_empty());
    for vertex in externs {
        let path = vertex["props"]["path"].as_str().unwrap();
        assert!(path.starts_with("std::"), "the fixture uses std alone outside itself: {vertex}");
        assert_eq!(vertex["props"]["name"].as_str().unwrap(), path.rsplit("::").next().unwrap());
    }
    // Every edge's two ends are in the graph (the build fails before saving otherwise, but the
    // export is the contract).
    for edge in &graph.edges {
        for end in ["from", "to"] {
            assert!(graph.vertices.contains_key(edge[end].as_str().unwrap()), "dangling {edge}");
        }
    }
}

#[test]
fn derives_under_cfg_attr_count_where_their_predicate_holds() {
    // The `expansion` fixture's `Ranked`: `cfg_attr(feature = "extra", derive(Debug, Hash))` with
    // `extra` a default feature, `cfg_attr(feature = "absent", derive(Clone))` without `absent`.
    let fixture = Fixture::new("expansion");
    fixture.build(&[], 0);
    let graph = Graph::parse(&fixture.export());
    assert_edge(&graph, "struct expansion::Ranked -derives-> extern std::fmt::Debug", serde_json::json!({}));
    assert_edge(&graph, "struct expansion::Ranked -derives-> extern std::hash::Hash", serde_json::json!({}));
    assert_edge(&graph, "struct expansion::Ranked -derives-> extern std::cmp::Ord", serde_json::json!({}));
    assert!(!has(&graph, "struct expansion::Ranked -derives-> extern std::clone::Clone", serde_json::json!({})));
}

#[test]
fn calls_that_depend_on_what_syntax_cannot_see_are_inferred() {
    let graph = calls_graph();
    // An inherent method for some type arguments only, with a trait method of the same name:
    // which one runs depends on arguments the receiver's type does not tell.
    assert_edge(
        &graph,
        "function calls_app::projections::wrapped_len -calls-> function calls_app::projections::Wrap::first_len",
        serde_json::json!({"confidence": "inferred"}),
    );
    // A trait method called by path with no `Self` in its arguments.
    assert_edge(
        &graph,
        "function calls_app::projections::made_circle -calls-> function calls_app::projections::Name::made",
        serde_json::json!({"confidence": "inferred"}),
    );
    // With one, it is the impl's method, exactly.
    assert_edge(
        &graph,
        "function calls_app::projections::circle_name -calls-> function <calls_app::projections::Circle as Name>::name",
        serde_json::json!({"confidence": "exact"}),
    );
}

#[test]
fn another_crate_sees_only_what_a_crate_makes_public() {
    // bytemuck's shape: `pub use dep::Pod;` where `dep` (its derive crate) has only a private
    // `use traits::Pod;` in the type namespace and exports a macro `Pod`. The import brings the
    // macro alone, so `Pod` the trait is still the one the glob `pub use pod::*` brings.
    let dep = "mod traits {\n    pub trait Pod {}\n}\nuse traits::Pod;\n\
               #[macro_export]\nmacro_rules! Pod { () => {}; }\npub struct Open;\nimpl Pod for Open {}\n\
               #[cfg(any())]\npub mod twin {\n    pub struct Twin;\n}\n\
               #[cfg(not(any()))]\nmod twin {\n    pub struct Twin;\n}\n";
    let user = "mod pod {\n    pub trait Pod {}\n}\npub use pod::*;\npub use dep::Pod;\n\
                pub struct S;\nimpl Pod for S {}\n\
                #[cfg(any())]\npub fn twin(_: dep::twin::Twin) {}\n";
    let graph = common::graph_of(&[
        ("Cargo.toml", "[workspace]\nmembers = [\"user\", \"dep\"]\nresolver = \"2\"\n"),
        ("dep/Cargo.toml", "[package]\nname = \"dep\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
        ("dep/src/lib.rs", dep),
        (
            "user/Cargo.toml",
            "[package]\nname = \"user\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [dependencies]\ndep = { path = \"../dep\" }\n",
        ),
        ("user/src/lib.rs", user),
    ]);
    assert_edge(&graph, "impl user::<impl Pod for S> -implements-> trait user::pod::Pod", serde_json::json!({}));
    // Within its own crate, the private import is `dep`'s trait.
    assert_edge(&graph, "impl dep::<impl Pod for Open> -implements-> trait dep::traits::Pod", serde_json::json!({}));
    // A module's own private item is still found (rustc would refuse `dep::traits::Pod`), for
    // code `cfg`'d out here that another build compiles against its public twin.
    assert!(
        graph
            .edge_lines("references")
            .iter()
            .any(|line| line.starts_with("function user::twin -references-> struct dep::twin::Twin")),
        "{:#?}",
        graph.edge_lines("references")
    );
}

#[test]
fn stds_re_exporting_modules_meet_the_items_they_re_export() {
    // tokio implements `std::os::unix::io::AsRawFd`, which std re-exports from `std::os::fd`:
    // both spellings are one trait, where std documents it.
    let lib = "use std::os::unix::io::{AsRawFd, RawFd};\nuse std::io::prelude::*;\n\
               pub struct A;\nimpl AsRawFd for A {\n    fn as_raw_fd(&self) -> RawFd { 0 }\n}\n\
               pub struct B;\nimpl std::os::fd::AsRawFd for B {\n    fn as_raw_fd(&self) -> RawFd { 0 }\n}\n\
               pub struct C;\nimpl Read for C {\n    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> { Ok(0) }\n}\n\
               pub struct D;\nimpl std::os::unix::io::IntoRawFd for D {\n    fn into_raw_fd(self) -> RawFd { 0 }\n}\n\
               pub struct E;\nimpl std::os::unix::io::Other for E {}\n";
    let graph = common::lib_graph("fds", lib);
    assert_edge(
        &graph,
        "impl fds::<impl AsRawFd for A> -implements-> extern std::os::fd::AsRawFd",
        serde_json::json!({}),
    );
    assert_edge(
        &graph,
        "impl fds::<impl std::os::fd::AsRawFd for B> -implements-> extern std::os::fd::AsRawFd",
        serde_json::json!({}),
    );
    assert_edge(&graph, "impl fds::<impl Read for C> -implements-> extern std::io::Read", serde_json::json!({}));
    assert_edge(
        &graph,
        "impl fds::<impl std::os::unix::io::IntoRawFd for D> -implements-> extern std::os::fd::IntoRawFd",
        serde_json::json!({}),
    );
    // A name the module does not re-export keeps its path.
    assert_edge(
        &graph,
        "impl fds::<impl std::os::unix::io::Other for E> -implements-> extern std::os::unix::io::Other",
        serde_json::json!({}),
    );
}

#[test]
fn functions_variants_and_unit_structs_used_as_values_or_matched_are_referenced() {
    // rust-analyzer's "find references" of a function lists the places it is taken as a value,
    // not only its calls; of a variant or a struct, the places it is built or matched.
    let lib = "pub fn helper() -> u8 { 1 }\n\
               pub struct Unit;\npub struct Pair(pub u8, pub u8);\npub struct Named { pub x: u8 }\n\
               pub enum E { A, B(u8), C { y: u8 } }\n\
               impl Unit {\n    pub fn parse(_: u8) -> u8 { 0 }\n    \
               pub fn all(v: Vec<u8>) -> Vec<u8> { v.into_iter().map(Self::parse).collect() }\n}\n\
               pub const HANDLERS: &[fn() -> u8] = &[helper];\n\
               pub fn build() -> E {\n    let _unit = Unit;\n    let _f = helper;\n    let _g = Unit::parse;\n    \
               let _b = E::B(1);\n    let _c = E::C { y: 2 };\n    E::A\n}\n\
               pub fn read(e: E, p: Pair, n: Named) -> u8 {\n    let Pair(a, _) = p;\n    let Named { x } = n;\n    \
               match e {\n        E::A => a,\n        E::B(b) => b + x,\n        E::C { y } => y,\n    }\n}\n\
               pub fn pairs() -> Vec<Pair> { Vec::new() }\npub fn nameds() -> Vec<Named> { Vec::new() }\n\
               pub fn patterns_only() -> u8 {\n    \
               if let Some(Pair(a, _)) = pairs().first() { return *a; }\n    \
               if let Some(Named { x }) = nameds().first() { return *x; }\n    0\n}\n";
    let graph = common::lib_graph("vals", lib);
    for (edge, line) in [
        // Functions taken as values: in a table, by path, through `Self`.
        ("const vals::HANDLERS -references-> function vals::helper", 10),
        ("function vals::build -references-> function vals::helper", 13),
        ("function vals::build -references-> function vals::Unit::parse", 14),
        ("function vals::Unit::all -references-> function vals::Unit::parse", 8),
        // A unit struct and variants built (a braced one as a struct is).
        ("function vals::build -references-> struct vals::Unit", 12),
        ("function vals::build -references-> variant vals::E::B", 15),
        ("function vals::build -references-> variant vals::E::C", 16),
        ("function vals::build -references-> variant vals::E::A", 17),
        // Tuple and braced structs and variants matched (`read`'s signature names the structs).
        ("function vals::patterns_only -references-> struct vals::Pair", 31),
        ("function vals::patterns_only -references-> struct vals::Named", 32),
        ("function vals::read -references-> variant vals::E::A", 23),
        ("function vals::read -references-> variant vals::E::B", 24),
        ("function vals::read -references-> variant vals::E::C", 25),
    ] {
        assert_edge(&graph, edge, serde_json::json!({ "line": line }));
    }
    // Taking a function as a value is no call of it.
    assert!(
        !graph.edge_lines("calls").iter().any(|edge| edge.contains("vals::helper")),
        "{:#?}",
        graph.edge_lines("calls")
    );
}

#[test]
fn an_impl_written_for_a_type_alias_is_the_aliased_types() {
    // toml implements `Display` for `Table`, an alias of `Map<String, Value>`: the impl is
    // `Map`'s, and methods written in it are found through either name.
    let lib = "pub struct Map<K, V>(K, V);\npub type Table = Map<String, u8>;\n\
               impl std::fmt::Display for Table {\n    \
               fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { Ok(()) }\n}\n\
               impl Table {\n    pub fn only_tables(&self) {}\n}\n\
               pub type Id = u32;\npub trait Named {}\nimpl Named for Id {}\n\
               pub fn use_both(t: Table, m: Map<String, u8>) {\n    t.only_tables();\n    m.only_tables();\n}\n";
    let graph = common::lib_graph("aliased", lib);
    let impl_for = graph.edge_lines("impl_for");
    assert_eq!(
        impl_for,
        [
            "impl aliased::<impl Named for Id> -impl_for-> type_alias aliased::Id",
            "impl aliased::<impl Table> -impl_for-> struct aliased::Map",
            "impl aliased::<impl std::fmt::Display for Table> -impl_for-> struct aliased::Map",
        ],
        "an alias of a primitive keeps the alias"
    );
    // The impl still references the alias it names.
    assert_edge(
        &graph,
        "impl aliased::<impl Table> -references-> type_alias aliased::Table",
        serde_json::json!({ "line": 6 }),
    );
    assert_edge(
        &graph,
        "function aliased::use_both -calls-> function aliased::Table::only_tables",
        serde_json::json!({ "line": 13, "count": 2, "confidence": "exact" }),
    );
}

#[test]
fn methods_of_a_trait_object_are_found_and_its_impls_are_the_traits() {
    // tracing-core writes `impl dyn Subscriber { pub fn is<T>(&self) -> bool }`, called on a
    // `&dyn Subscriber`; rustdoc lists such impls on the trait's page.
    let lib = "pub trait Sub {\n    fn name(&self) -> u8;\n}\n\
               impl dyn Sub {\n    pub fn is(&self) -> bool { self.name() == 0 }\n}\n\
               impl dyn Sub + Send {\n    pub fn is_send(&self) -> bool { true }\n}\n\
               pub fn check(s: &dyn Sub, b: Box<dyn Sub + Send>) -> bool {\n    s.is() && b.is_send()\n}\n";
    let graph = common::lib_graph("objects", lib);
    assert_eq!(
        graph.edge_lines("impl_for"),
        [
            "impl objects::<impl dyn Sub + Send> -impl_for-> trait objects::Sub",
            "impl objects::<impl dyn Sub> -impl_for-> trait objects::Sub",
        ]
    );
    let exact = |line: u32| serde_json::json!({ "line": line, "count": 1, "confidence": "exact" });
    assert_edge(&graph, "function objects::check -calls-> function <dyn Sub>::is", exact(11));
    assert_edge(&graph, "function objects::check -calls-> function <dyn Sub + Send>::is_send", exact(11));
    // Inside the impl, `self` is the trait object: the trait's own methods are found.
    assert_edge(&graph, "function <dyn Sub>::is -calls-> function objects::Sub::name", exact(5));
}
