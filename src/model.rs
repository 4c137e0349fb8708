//! The graph's vocabulary: vertex and edge kinds, their properties, and the batch that carries them
//! from the indexing workers to the store.
//!
//! This module knows nothing of IndraDB: kinds are plain enums whose names become IndraDB
//! identifiers in `store`. It also knows nothing of syn: `assemble` fills these types from facts.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;
use uuid::Uuid;

/// The version of the graph schema: the set of kinds, properties and id keys below. Bump it when
/// any of them changes meaning, so that readers can tell graphs apart.
pub const SCHEMA_VERSION: u32 = 2;

macro_rules! kinds {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$variant_meta:meta])* $variant:ident => $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        $vis enum $name { $($(#[$variant_meta])* $variant,)* }

        impl $name {
            /// Every kind, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The kind's name as stored in the graph.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

kinds! {
    /// What a vertex stands for.
    pub enum VertexKind {
        Package => "package",
        Crate => "crate",
        Module => "module",
        File => "file",
        Function => "function",
        Struct => "struct",
        Enum => "enum",
        Union => "union",
        Variant => "variant",
        Field => "field",
        Trait => "trait",
        Impl => "impl",
        TypeAlias => "type_alias",
        Const => "const",
        Static => "static",
        Macro => "macro",
        /// Something outside the indexed set that an edge points to (std, or a dependency
        /// that is not indexed), known by its resolved path.
        Extern => "extern",
    }
}

kinds! {
    /// What an edge says about its two ends.
    pub enum EdgeKind {
        Contains => "contains",
        DependsOn => "depends_on",
        DefinedIn => "defined_in",
        Imports => "imports",
        Reexports => "reexports",
        Implements => "implements",
        ImplFor => "impl_for",
        Supertrait => "supertrait",
        Derives => "derives",
        Calls => "calls",
        References => "references",
        Invokes => "invokes",
        /// From the module an item-position macro call is in (or the impl or trait among whose
        /// members it is, or the const or static in whose initializer it is a statement) to each
        /// item its expansion made (those carry the property `expanded_from`, the macro's name).
        ExpandsTo => "expands_to",
    }
}

impl VertexKind {
    /// Whether vertices of this kind may come from several crates: a file that two crates include,
    /// an extern that many point to. They are identical by construction, and written once.
    pub fn is_shared(self) -> bool {
        matches!(self, VertexKind::File | VertexKind::Extern)
    }
}

/// Property names are a small fixed set (IndraDB interns identifiers and never frees them), so
/// they are `&'static str`; values are JSON. A `BTreeMap` keeps their order stable in output.
pub type Props = BTreeMap<&'static str, Value>;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Vertex {
    pub id: Uuid,
    pub kind: VertexKind,
    #[serde(deserialize_with = "deserialize_props")]
    pub props: Props,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Edge {
    pub from: Uuid,
    pub kind: EdgeKind,
    pub to: Uuid,
    #[serde(deserialize_with = "deserialize_props")]
    pub props: Props,
}

/// A property name read back (from the incremental cache, or a msgpack graph's delta) as
/// `&'static str` again: each distinct name is leaked once, and there are only as many as the
/// code writes.
pub fn intern(name: String) -> &'static str {
    static NAMES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(|poison| poison.into_inner());
    match names.iter().find(|known| **known == name) {
        Some(known) => known,
        None => {
            let leaked: &'static str = Box::leak(name.into_boxed_str());
            names.push(leaked);
            leaked
        }
    }
}

fn deserialize_props<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Props, D::Error> {
    use serde::Deserialize;
    let read = BTreeMap::<String, Value>::deserialize(deserializer)?;
    Ok(read.into_iter().map(|(name, value)| (intern(name), value)).collect())
}

fn deserialize_vertex_props<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<(Uuid, &'static str)>, D::Error> {
    use serde::Deserialize;
    let read = Vec::<(Uuid, String)>::deserialize(deserializer)?;
    Ok(read.into_iter().map(|(id, name)| (id, intern(name))).collect())
}

#[allow(clippy::type_complexity, reason = "the field's own type")]
fn deserialize_edge_props<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<(Uuid, EdgeKind, Uuid, &'static str)>, D::Error> {
    use serde::Deserialize;
    let read = Vec::<(Uuid, EdgeKind, Uuid, String)>::deserialize(deserializer)?;
    Ok(read.into_iter().map(|(from, kind, to, name)| (from, kind, to, intern(name))).collect())
}

impl Edge {
    pub fn new(from: Uuid, kind: EdgeKind, to: Uuid) -> Edge {
        Edge { from, kind, to, props: Props::new() }
    }
}

/// What one unit of work (a file, or the crate graph) adds to the graph.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Batch {
    pub vertices: Vec<Vertex>,
    pub edges: Vec<Edge>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.vertices.is_empty() && self.edges.is_empty()
    }

    pub fn append(&mut self, other: &mut Batch) {
        self.vertices.append(&mut other.vertices);
        self.edges.append(&mut other.edges);
    }
}

/// What an incremental build changes in a stored graph: applied by `store::apply` to the copy of
/// the live graph that `store::Staging::update` makes, in this order: removed edges, removed
/// vertices (IndraDB deletes their edges with them), removed properties, then `written`.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Diff {
    /// Edges to delete, by (from, kind, to).
    pub removed_edges: Vec<(Uuid, EdgeKind, Uuid)>,
    /// Vertices to delete, with their kind.
    pub removed_vertices: Vec<(Uuid, VertexKind)>,
    /// Properties to delete from vertices that stay.
    #[serde(deserialize_with = "deserialize_vertex_props")]
    pub removed_vertex_props: Vec<(Uuid, &'static str)>,
    /// Properties to delete from edges that stay: (from, kind, to, name).
    #[serde(deserialize_with = "deserialize_edge_props")]
    pub removed_edge_props: Vec<(Uuid, EdgeKind, Uuid, &'static str)>,
    /// Vertices and edges to write: new ones with all their properties, and ones that stay with
    /// just the properties that are new or changed. A vertex listed here that is already in the
    /// graph keeps its edges. An edge's ends are in the graph or in `written.vertices`.
    pub written: Batch,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.removed_edges.is_empty()
            && self.removed_vertices.is_empty()
            && self.removed_vertex_props.is_empty()
            && self.removed_edge_props.is_empty()
            && self.written.is_empty()
    }
}
