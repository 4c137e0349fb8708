//! The resolution stage: names to definitions, per crate, in wave order.
//!
//! `index` hands over one `ItemRecord` per module and item of a crate once all its files are
//! parsed. `scope_crate` builds the crate's scopes (`CrateDefs`): every module's items, then its
//! `use` declarations and globs iterated to a fixed point (cycles between modules are normal),
//! then every impl's trait and self type. `Scoped::edges` then turns what any of its items name
//! into edges (`edges.rs`): `imports`, `reexports`, `implements`, `impl_for`, `supertrait`,
//! `derives`, `calls`, `references`, `invokes`; an item's edges depend on the scopes, the
//! imports, the dependencies' scopes and its own `Refs` only, so that `index` may ask for some
//! items' edges and keep the others' from the last build. The finished `CrateDefs` is kept for
//! the crates that depend on this one: waves guarantee that a crate's dependencies are resolved
//! before it.
//!
//! Targets outside the indexed set (std, or dependencies not indexed) become `extern` vertices
//! keyed by their resolved path. This module knows nothing of files, threads or the store; it
//! knows syntax only through `parse`'s plain facts.

mod edges;
mod lookup;
pub mod names;
pub mod prelude;
mod record_refs;
mod strings;

// FxHash: names and ids are hashed at every step of resolution, and FxHash is several times
// cheaper than std's SipHash on them. Nothing depends on a map's order (`sorted` writes them in
// key order).
use rustc_hash::FxHashMap as HashMap;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::cfg::CfgContext;
use crate::model::{Edge, VertexKind};
use crate::parse::{PathRef, TypeExpr, UseFacts};

pub use edges::Externs;
pub use record_refs::RecordRefs;

/// A namespace: a module can hold a type, a value and a macro of one name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ns {
    Type,
    Value,
    Macro,
}

impl Ns {
    const ALL: [Ns; 3] = [Ns::Type, Ns::Value, Ns::Macro];

    /// The namespace an item of this kind defines its name in, if any.
    pub fn of(kind: VertexKind) -> Option<Ns> {
        match kind {
            VertexKind::Module
            | VertexKind::Struct
            | VertexKind::Enum
            | VertexKind::Union
            | VertexKind::Trait
            | VertexKind::TypeAlias => Some(Ns::Type),
            VertexKind::Function | VertexKind::Const | VertexKind::Static => Some(Ns::Value),
            VertexKind::Macro => Some(Ns::Macro),
            _ => None,
        }
    }
}

/// What resolution needs of one module or item, from `assemble`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ItemRecord {
    pub id: Uuid,
    pub kind: VertexKind,
    pub name: String,
    pub path: String,
    /// The vertex that contains this one; `None` for the crate's root module.
    pub parent: Option<Uuid>,
    pub visibility: String,
    pub active: bool,
    /// Where the item is, for messages: the file's name in the graph and the line.
    pub file: Arc<str>,
    pub line: u32,
    pub shape: Shape,
    pub refs: RecordRefs,
}

/// What only some kinds of items carry, for resolution.
#[derive(Debug, Clone, Default, Hash, Serialize, Deserialize)]
pub enum Shape {
    #[default]
    None,
    Function {
        returns: TypeExpr,
        /// The parameters' types, where the return or a parameter is generic: what arguments
        /// tell of the return, or the bound a closure given there has (`parse::Detail::Function`).
        inputs: Vec<TypeExpr>,
        /// Takes `self`.
        receiver: bool,
    },
    Impl {
        trait_path: Option<PathRef>,
        self_type: TypeExpr,
        negative: bool,
    },
    Field {
        ty: TypeExpr,
    },
    Alias {
        target: TypeExpr,
    },
    /// A `macro_rules!` definition, as positioned text (see `parse::expand`).
    MacroRules {
        definition: String,
    },
}

/// A definition a name resolves to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Def {
    /// An indexed module or item: its crate (index into `Workspace::crates`) and its index in
    /// that crate's `CrateDefs`.
    Item { krate: u32, item: u32 },
    /// Something outside the indexed set, by its path (`std::fmt::Debug`, `serde::Serialize`).
    Extern(Arc<str>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Vis {
    /// `pub`: visible to other crates.
    Public,
    /// `pub(crate)`, `pub(super)`, `pub(in path)`: visible inside the crate.
    Crate,
    /// Visible in the defining module and its descendants.
    Private,
}

impl Vis {
    fn parse(text: &str) -> Vis {
        match text {
            "pub" => Vis::Public,
            "private" => Vis::Private,
            _ => Vis::Crate,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Binding {
    def: Def,
    vis: Vis,
    /// Brought in by a glob: any explicit item or import of the name shadows it.
    glob: bool,
    /// Bound by an item or import that is compiled in this configuration.
    active: bool,
}

/// A module, or a function body (or a const's or static's initializer) with its own items or
/// `use` declarations.
#[derive(Debug, Default, Serialize, Deserialize, Clone)]
struct Scope {
    /// The module or function this scope belongs to (an index into `CrateDefs::items`).
    item: u32,
    /// The scope a name not found here is looked up in: a function body's enclosing scope.
    /// Modules have none (names do not leak into child modules).
    outer: Option<u32>,
    /// The module a module scope belongs to is its parent module's scope (for `super`).
    parent_module: Option<u32>,
    /// Names bound here, one map per namespace (indexed by `Ns as usize`).
    #[serde(with = "sorted::maps")]
    names: [HashMap<Box<str>, Binding>; 3],
    /// Counts the changes to `names`: a glob import copies a scope again only when it changed.
    version: u32,
    /// Globs of things whose names cannot be listed (`use std::*`, a glob from a crate that is
    /// not indexed), active ones first: a name found nowhere else is taken to come from them.
    extern_globs: Vec<(Arc<str>, Vis)>,
}

/// One indexed module or item.
#[derive(Debug, Serialize, Deserialize, Clone)]
struct ItemDef {
    id: Uuid,
    kind: VertexKind,
    name: Box<str>,
    parent: Option<u32>,
    vis: Vis,
    active: bool,
    /// The scope that names inside this item are looked up in.
    scope: u32,
    /// The scope this module or function body opens, if it does.
    own_scope: Option<u32>,
    children: Vec<u32>,
    shape: Shape,
    /// For impls: the trait and the self type, once resolved.
    impl_trait: Option<Def>,
    impl_self: Option<Def>,
    /// For traits: their supertraits, once resolved.
    supertraits: Vec<Def>,
}

/// One crate's resolved scopes, kept for the crates that depend on it.
///
/// Its serde form leaves out `items` and `scopes`, which `to_bytes` writes apart, in runs: read
/// and write it with `to_bytes` and `from_bytes` only.
#[derive(Debug, Serialize, Deserialize, Clone)]
pub struct CrateDefs {
    krate: u32,
    edition_2015: bool,
    /// Kept in the cache in runs of their own (`to_bytes`), as are `scopes`.
    #[serde(skip)]
    items: Vec<ItemDef>,
    #[serde(skip)]
    scopes: Vec<Scope>,
    root_scope: u32,
    /// Dependencies by the name the crate uses for them.
    #[serde(with = "sorted")]
    extern_prelude: HashMap<String, Def>,
    /// Every `macro_rules!` macro in the crate by name (textual scope, taken crate-wide), and
    /// the exported macros of `#[macro_use] extern crate` dependencies.
    #[serde(with = "sorted")]
    macros: HashMap<Box<str>, Def>,
    /// Impls by the id of their self type (an item's id, or an extern path's id).
    #[serde(with = "sorted")]
    impls_by_self: HashMap<Uuid, Vec<u32>>,
    /// Functions in impls and traits, by name: for the unique-name fallback of method calls.
    #[serde(with = "sorted")]
    methods_by_name: HashMap<Box<str>, Vec<u32>>,
    /// Crates whose impls may apply to this crate's types: its dependencies, transitively,
    /// that are indexed, nearest first.
    impl_crates: Vec<u32>,
    /// The items `exported_macros` gives, found once: every crate that depends on this one asks
    /// (a test target of a large library scanned all its items).
    #[serde(skip)]
    exported: OnceLock<Vec<u32>>,
    /// `shape_mentions`, found once: a rerun asks for the shapes of a crate indexed again both
    /// for its own edges and for the crates that depend on it.
    #[serde(skip)]
    shapes: OnceLock<names::ShapeMentions>,
}

impl CrateDefs {
    fn item(&self, index: u32) -> &ItemDef {
        &self.items[index as usize]
    }

    /// The id of the item at `index`.
    pub fn id(&self, index: u32) -> Uuid {
        self.items[index as usize].id
    }

    /// How many modules and items the crate has.
    pub fn item_count(&self) -> usize {
        self.items.len()
    }

    /// The ids of the crate's modules and items, in runs of at most `len` to hand to threads.
    pub fn id_runs(&self, len: usize) -> impl rayon::iter::ParallelIterator<Item = impl Iterator<Item = Uuid> + '_> {
        use rayon::prelude::*;
        self.items.par_chunks(len.max(1)).map(|run| run.iter().map(|item| item.id))
    }

    /// The crate's compiled `#[macro_export]` macros: (name, definition as positioned text), for
    /// the crates that call them (`index` expands those calls). Definitions are part of the
    /// crate's interface, so that an edit to one re-expands the calls in dependent crates.
    pub fn exported_macros(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        let exported = self.exported.get_or_init(|| {
            let exported = |item: &ItemDef| {
                item.kind == VertexKind::Macro
                    && item.vis == Vis::Public
                    && item.active
                    && matches!(item.shape, Shape::MacroRules { .. })
            };
            (0..self.items.len() as u32).filter(|&index| exported(self.item(index))).collect()
        });
        exported.iter().filter_map(|&index| {
            let item = self.item(index);
            match &item.shape {
                Shape::MacroRules { definition } => Some((&*item.name, definition.as_str())),
                _ => None,
            }
        })
    }

    /// The crate's index in `Workspace::crates`.
    pub fn krate(&self) -> u32 {
        self.krate
    }

    /// The defs as kept between builds (see `incremental`): canonical bytes (maps sorted), with
    /// the crate indices they hold (which change when the workspace's crates do) replaced by
    /// positions in a table of `key_of(index)`. Equal defs give equal bytes, so their hash tells
    /// dependents whether what they see changed.
    ///
    /// The defs are remapped in place and back, not copied (they are most of a crate's
    /// resolution data).
    pub fn to_bytes(&mut self, key_of: impl Fn(u32) -> String) -> Vec<u8> {
        let mut crates = std::collections::BTreeSet::new();
        self.remap(&mut |krate| {
            crates.insert(krate);
            None
        });
        let mut keys: Vec<(String, u32)> = crates.into_iter().map(|krate| (key_of(krate), krate)).collect();
        keys.sort();
        let position: HashMap<u32, u32> =
            keys.iter().enumerate().map(|(position, &(_, krate))| (krate, position as u32)).collect();
        self.remap(&mut |krate| position.get(&krate).copied());
        let names: Vec<&str> = keys.iter().map(|(key, _)| key.as_str()).collect();
        // Serializing plain data into a Vec cannot fail. Postcard's form, as the cache's records
        // (see `Cargo.toml`): a crate indexed again encodes its defs whole. The items and scopes
        // go in runs (`DEFS_RUN`), each encoded apart, so that reading them back is spread over
        // threads: windows-sys's defs, 27 MB, took one thread 0.16 s to read whole, and a crate
        // that depends on it waited for that thread.
        let (item_runs, scope_runs) = rayon::join(|| encode_runs(&self.items), || encode_runs(&self.scopes));
        let item_runs: Vec<RunBytes<'_>> = item_runs.iter().map(|run| RunBytes(run)).collect();
        let scope_runs: Vec<RunBytes<'_>> = scope_runs.iter().map(|run| RunBytes(run)).collect();
        let bytes = postcard::to_allocvec(&(names, &*self, item_runs, scope_runs)).unwrap_or_default();
        self.remap(&mut |position| keys.get(position as usize).map(|&(_, krate)| krate));
        bytes
    }

    /// Reads `to_bytes`' output back; `None` when it is not readable or names a crate that
    /// `index_of` does not know.
    pub fn from_bytes(bytes: &[u8], index_of: impl Fn(&str) -> Option<u32>) -> Option<CrateDefs> {
        // Only the cache's bytes, read back intact, come here.
        let (keys, mut defs, item_runs, scope_runs): DefsRead<'_> =
            crate::incremental::read_back(postcard::from_bytes(bytes).ok(), "a crate's scopes")?;
        let (items, scopes) = rayon::join(|| decode_runs(&item_runs), || decode_runs(&scope_runs));
        (defs.items, defs.scopes) = (items?, scopes?);
        let indices: Vec<Option<u32>> = keys.iter().map(|key| index_of(key)).collect();
        let mut complete = true;
        defs.remap(&mut |local| {
            let index = indices.get(local as usize).copied().flatten();
            complete &= index.is_some();
            index
        });
        complete.then_some(defs)
    }

    /// Replaces every crate index by `map(index)` (kept as is where `map` gives `None`).
    fn remap(&mut self, map: &mut dyn FnMut(u32) -> Option<u32>) {
        let mut def = |def: &mut Def| {
            if let Def::Item { krate, .. } = def {
                *krate = map(*krate).unwrap_or(*krate);
            }
        };
        for item in &mut self.items {
            item.impl_trait
                .iter_mut()
                .chain(item.impl_self.iter_mut())
                .chain(item.supertraits.iter_mut())
                .for_each(&mut def);
        }
        for scope in &mut self.scopes {
            for names in &mut scope.names {
                names.values_mut().for_each(|binding| def(&mut binding.def));
            }
        }
        self.extern_prelude.values_mut().for_each(&mut def);
        self.macros.values_mut().for_each(def);
        self.krate = map(self.krate).unwrap_or(self.krate);
        for krate in &mut self.impl_crates {
            *krate = map(*krate).unwrap_or(*krate);
        }
    }
}

/// Hash maps (de)serialized as sequences sorted by key, so that equal maps give equal bytes.
mod sorted {
    use std::collections::HashMap;
    use std::hash::{BuildHasher, Hash};

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<K: Ord + Serialize, V: Serialize, H, S: Serializer>(
        map: &HashMap<K, V, H>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut entries: Vec<(&K, &V)> = map.iter().collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        entries.serialize(serializer)
    }

    pub fn deserialize<
        'de,
        K: Eq + Hash + Deserialize<'de>,
        V: Deserialize<'de>,
        H: BuildHasher + Default,
        D: Deserializer<'de>,
    >(
        deserializer: D,
    ) -> Result<HashMap<K, V, H>, D::Error> {
        Ok(Vec::<(K, V)>::deserialize(deserializer)?.into_iter().collect())
    }

    /// The same for a scope's three namespaces.
    pub mod maps {
        use super::*;

        type Names = [rustc_hash::FxHashMap<Box<str>, crate::resolve::Binding>; 3];

        pub fn serialize<S: Serializer>(maps: &Names, serializer: S) -> Result<S::Ok, S::Error> {
            // An array, as `deserialize` reads it (a tuple of three, without a length).
            let sorted: [Vec<(&Box<str>, &crate::resolve::Binding)>; 3] = maps.each_ref().map(|map| {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                entries
            });
            sorted.serialize(serializer)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Names, D::Error> {
            let [a, b, c]: [Vec<(Box<str>, crate::resolve::Binding)>; 3] = Deserialize::deserialize(deserializer)?;
            Ok([a.into_iter().collect(), b.into_iter().collect(), c.into_iter().collect()])
        }
    }
}

/// How many items, or scopes, `CrateDefs::to_bytes` encodes together.
const DEFS_RUN: usize = 8 * 1024;

/// `CrateDefs::to_bytes`' output as read back: the crates' keys, the defs without their items
/// and scopes, and the runs of those.
type DefsRead<'a> = (Vec<String>, CrateDefs, Vec<&'a [u8]>, Vec<&'a [u8]>);

/// Encoded bytes, written as one byte string (postcard writes a `Vec<u8>` byte by byte, and
/// reads a byte string back borrowed).
struct RunBytes<'a>(&'a [u8]);

impl Serialize for RunBytes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// `values` in runs of `DEFS_RUN`, each encoded on its own, on the current rayon pool.
fn encode_runs<T: Serialize + Sync>(values: &[T]) -> Vec<Vec<u8>> {
    use rayon::prelude::*;
    // Serializing plain data into a Vec cannot fail.
    values.par_chunks(DEFS_RUN).map(|run| postcard::to_allocvec(run).unwrap_or_default()).collect()
}

/// `encode_runs`' runs read back and joined; `None` when one does not read.
fn decode_runs<T: for<'de> Deserialize<'de> + Send>(runs: &[&[u8]]) -> Option<Vec<T>> {
    use rayon::prelude::*;
    let mut runs: Vec<Vec<T>> = runs
        .par_iter()
        .map(|run| crate::incremental::read_back(postcard::from_bytes(run).ok(), "a crate's scopes"))
        .collect::<Option<_>>()?;
    if runs.len() == 1 {
        // Most crates: one run, taken as it is.
        return runs.pop();
    }
    let mut values = Vec::with_capacity(runs.iter().map(Vec::len).sum());
    for run in runs {
        values.extend(run);
    }
    Some(values)
}

/// The crate being resolved and what it can see.
pub struct CrateInput<'a> {
    pub krate: u32,
    pub edition: &'a str,
    pub cfg: &'a CfgContext,
    /// Its dependencies: the name the crate uses, and the crate index.
    pub deps: Vec<(String, u32)>,
    /// Its indexed dependencies, transitively, nearest first.
    pub transitive: Vec<u32>,
    pub records: Vec<ItemRecord>,
}

/// Every crate's `CrateDefs`, set once the wave that resolves it has ended (never during it, so
/// that what a crate sees does not depend on which of its wave's crates finished first).
pub struct World {
    crates: Vec<OnceLock<Arc<CrateDefs>>>,
}

impl World {
    pub fn new(n_crates: usize) -> World {
        World { crates: (0..n_crates).map(|_| OnceLock::new()).collect() }
    }

    pub fn publish(&self, defs: Arc<CrateDefs>) {
        // A crate is resolved once: a second `set` cannot happen, and would change nothing.
        let _ = self.crates[defs.krate as usize].set(defs);
    }

    pub fn get(&self, krate: u32) -> Option<&Arc<CrateDefs>> {
        self.crates.get(krate as usize).and_then(OnceLock::get)
    }
}

/// A crate whose scopes are resolved (`scope_crate`): its `CrateDefs` final, its `use`
/// declarations resolved, and what each item names, from which `Scoped::edges` makes any of its
/// items' edges. An item's edges depend on nothing else: on the crate's defs, its dependencies'
/// (the `World`), its own `Refs` and the imports it owns, so that a crate whose defs, imports
/// and dependencies are as the last build saw them need not resolve again the items whose
/// `Refs` are unchanged (see `index`).
pub struct Scoped {
    pub defs: Arc<CrateDefs>,
    /// By item index, as `defs.items`.
    refs: Vec<RecordRefs>,
    /// Each import as (scope, owner item, index in the owner's `uses`, active), in the order
    /// the fixed point took them.
    imports: Vec<(u32, u32, u32, bool)>,
    resolved_imports: Vec<Vec<Def>>,
    /// What resolving the imports counted.
    pub import_stats: ResolveStats,
}

impl Scoped {
    /// The crate's defs, for the crates that depend on it. What else resolution kept (every
    /// item's names, the imports) is freed on a thread of its own when the crate is large: it is
    /// freed item by item, and a rerun that indexes one large crate again waited for it.
    pub fn into_defs(self) -> Arc<CrateDefs> {
        let Scoped { defs, refs, .. } = self;
        free_apart(refs);
        defs
    }
}

/// Frees `items` on a thread of its own when there are many (each frees what it holds, one by
/// one, and the build need not wait for that), else here.
pub fn free_apart<T: Send + 'static>(items: Vec<T>) {
    const MANY: usize = 4096;
    if items.len() >= MANY {
        free_on_own_thread(items);
    }
}

/// Frees `value` on a thread of its own. Were no thread to be had, the closure, and `value` with
/// it, is dropped here.
pub fn free_on_own_thread<T: Send + 'static>(value: T) {
    let _ = std::thread::Builder::new().name("codegraph-free".to_owned()).spawn(move || drop(value));
}

/// Counts for `-v`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResolveStats {
    pub imports: usize,
    pub imports_unresolved: usize,
    pub calls_exact: usize,
    pub calls_inferred: usize,
    pub calls_unresolved: usize,
}

impl std::ops::AddAssign for ResolveStats {
    fn add_assign(&mut self, other: ResolveStats) {
        self.imports += other.imports;
        self.imports_unresolved += other.imports_unresolved;
        self.calls_exact += other.calls_exact;
        self.calls_inferred += other.calls_inferred;
        self.calls_unresolved += other.calls_unresolved;
    }
}

/// Resolves one crate's scopes; `Scoped::edges` then gives its items' edges. `world` holds the
/// crates of earlier waves.
pub fn scope_crate(input: CrateInput<'_>, world: &World) -> Scoped {
    use rayon::slice::ParallelSliceMut as _;
    let CrateInput { krate, edition, cfg, deps, transitive, mut records } = input;
    // Records arrive in the order threads finished their files; sorting makes every index, and
    // so every tie broken by index, the same in every run. The keys are sorted, not the records
    // (hundreds of bytes each, half a million on a large graph: a merge sort of them moved them
    // all and took a fresh buffer of half their size), and each record's fields are then taken
    // from it in that order.
    let mut order: Vec<(&str, Uuid, u32)> =
        records.iter().enumerate().map(|(at, record)| (record.path.as_str(), record.id, at as u32)).collect();
    // The position breaks ties, as the stable sort did: the keys are unique, so the order is
    // the one order, found on the pool (a rerun that indexes a large crate again waits for it).
    order.par_sort_unstable();
    let order: Vec<u32> = order.into_iter().map(|(_, _, at)| at).collect();
    let mut refs: Vec<RecordRefs> = Vec::with_capacity(records.len());
    let mut defs = CrateDefs {
        krate,
        edition_2015: edition == "2015",
        items: Vec::with_capacity(records.len()),
        scopes: Vec::new(),
        root_scope: 0,
        extern_prelude: HashMap::default(),
        macros: HashMap::default(),
        impls_by_self: HashMap::default(),
        methods_by_name: HashMap::default(),
        impl_crates: transitive,
        exported: OnceLock::new(),
        shapes: OnceLock::new(),
    };
    let mut parents = Vec::with_capacity(records.len());
    // Each item's index by its id, to find the parents by: the later of two items with one id
    // wins. Needed here only, not kept with the defs.
    let mut by_id: HashMap<Uuid, u32> = HashMap::with_capacity_and_hasher(records.len(), Default::default());
    for (index, at) in order.into_iter().enumerate() {
        let record = &mut records[at as usize];
        by_id.insert(record.id, index as u32);
        parents.push(record.parent);
        refs.push(std::mem::take(&mut record.refs));
        defs.items.push(ItemDef {
            id: record.id,
            kind: record.kind,
            name: std::mem::take(&mut record.name).into_boxed_str(),
            parent: None,
            vis: Vis::parse(&record.visibility),
            active: record.active,
            scope: 0,
            own_scope: None,
            children: Vec::new(),
            shape: std::mem::take(&mut record.shape),
            impl_trait: None,
            impl_self: None,
            supertraits: Vec::new(),
        });
    }
    // What resolution does not need (paths, visibilities as written, files) goes now.
    free_apart(records);
    for (index, parent) in parents.iter().enumerate() {
        let parent = parent.and_then(|id| by_id.get(&id).copied());
        defs.items[index].parent = parent;
        if let Some(parent) = parent {
            defs.items[parent as usize].children.push(index as u32);
        }
    }
    drop(by_id);
    for (name, to) in deps {
        let def = match world.get(to) {
            Some(dep) => Def::Item { krate: to, item: dep.scopes[dep.root_scope as usize].item },
            None => Def::Extern(Arc::from(name.as_str())),
        };
        defs.extern_prelude.insert(name, def);
    }
    open_scopes(&mut defs, &refs);
    bind_items(&mut defs);
    let mut import_stats = ResolveStats::default();
    let imports = collect_imports(&defs, &refs, cfg);
    let resolved_imports = lookup::fixed_point(&mut defs, world, &imports, &mut import_stats);
    let imports = imports.iter().map(|import| (import.scope, import.owner, import.at, import.active)).collect();
    lookup::resolve_impls_and_traits(&mut defs, world, &refs);
    Scoped { defs: Arc::new(defs), refs, imports, resolved_imports, import_stats }
}

impl Scoped {
    /// `CrateDefs::to_bytes` of the defs (which nothing else holds yet), and beside it, on the
    /// current rayon pool, `with` of the items' ids (in `defs.items` order) and names: what a
    /// rerun needs to know which items to resolve again is worked out while the defs are encoded.
    pub fn defs_bytes_with<T: Send>(
        &mut self,
        key_of: impl Fn(u32) -> String + Send,
        with: impl FnOnce(&[Uuid], &[RecordRefs]) -> T + Send,
    ) -> (Vec<u8>, T) {
        let ids: Vec<Uuid> = self.defs.items.iter().map(|item| item.id).collect();
        let Scoped { defs, refs, .. } = self;
        let encode = || match Arc::get_mut(defs) {
            Some(defs) => defs.to_bytes(key_of),
            None => (**defs).clone().to_bytes(key_of),
        };
        rayon::join(encode, || with(&ids, refs))
    }

    /// What each item names, by item index.
    pub fn refs(&self) -> &[RecordRefs] {
        &self.refs
    }

    /// The edges of the items at `items` (indices into `defs.items`), each item's with what it
    /// counted, in the order asked. Items are resolved in parallel.
    pub fn edges(&self, world: &World, externs: &Externs, items: &[u32]) -> Vec<(Vec<Edge>, ResolveStats)> {
        let imports: Vec<Import<'_>> = self
            .imports
            .iter()
            .map(|&(scope, owner, at, active)| Import {
                scope,
                owner,
                at,
                facts: &self.refs[owner as usize].uses()[at as usize],
                active,
            })
            .collect();
        edges::item_edges_of(&self.defs, world, &self.refs, &imports, &self.resolved_imports, externs, items)
    }
}

/// Gives every module, and every function whose body (or const or static whose initializer)
/// declares items or imports, a scope; and every item the scope its names are looked up in.
fn open_scopes(defs: &mut CrateDefs, refs: &[RecordRefs]) {
    // Parents before children (paths do not order them: an impl's members' paths start with `<`).
    let mut order: Vec<u32> =
        (0..defs.items.len() as u32).filter(|&i| defs.items[i as usize].parent.is_none()).collect();
    let mut next = 0;
    while next < order.len() {
        let children = defs.items[order[next] as usize].children.clone();
        order.extend(children);
        next += 1;
    }
    for index in order {
        let index = index as usize;
        let parent = defs.items[index].parent;
        let parent_scope = parent.map(|p| {
            let parent = &defs.items[p as usize];
            parent.own_scope.unwrap_or(parent.scope)
        });
        let kind = defs.items[index].kind;
        let opens = match kind {
            VertexKind::Module => true,
            // `const _: () = { use a::Trait; impl Trait for X {} };`, as zerocopy writes it.
            VertexKind::Function | VertexKind::Const | VertexKind::Static => {
                !refs[index].uses().is_empty()
                    || defs.items[index].children.iter().any(|&c| Ns::of(defs.items[c as usize].kind).is_some())
            }
            _ => false,
        };
        defs.items[index].scope = parent_scope.unwrap_or(0);
        if opens {
            let scope = defs.scopes.len() as u32;
            let (outer, parent_module) = if kind == VertexKind::Module {
                (None, parent_scope.map(|s| module_scope_of(defs, s)))
            } else {
                (parent_scope, None)
            };
            defs.scopes.push(Scope {
                item: index as u32,
                outer,
                parent_module,
                names: Default::default(),
                version: 0,
                extern_globs: Vec::new(),
            });
            defs.items[index].own_scope = Some(scope);
            if parent.is_none() && kind == VertexKind::Module {
                defs.root_scope = scope;
            }
        }
    }
}

/// The module scope a scope belongs to (itself, or the module around a function body or a
/// const's initializer).
fn module_scope_of(defs: &CrateDefs, mut scope: u32) -> u32 {
    while let Some(outer) = defs.scopes[scope as usize].outer {
        scope = outer;
    }
    scope
}

/// Binds every item in the scope of its module or function body. An item compiled in this
/// configuration wins over a cfg'd-out one of the same name.
fn bind_items(defs: &mut CrateDefs) {
    let krate = defs.krate;
    for index in 0..defs.items.len() {
        let item = &defs.items[index];
        let Some(ns) = Ns::of(item.kind) else { continue };
        let Some(parent) = item.parent else { continue };
        let parent_item = &defs.items[parent as usize];
        let Some(scope) = parent_item.own_scope else {
            // Associated items and fields are reached through their type, not a scope.
            if item.kind == VertexKind::Function && matches!(parent_item.kind, VertexKind::Impl | VertexKind::Trait) {
                defs.methods_by_name.entry(item.name.clone()).or_default().push(index as u32);
            }
            continue;
        };
        let binding =
            Binding { def: Def::Item { krate, item: index as u32 }, vis: item.vis, glob: false, active: item.active };
        let name = item.name.clone();
        if item.kind == VertexKind::Macro {
            // `macro_rules!` scoping is textual; crate-wide is the approximation, and an exported
            // macro also lives at the crate root.
            defs.macros.entry(name.clone()).or_insert_with(|| binding.def.clone());
            if item.vis == Vis::Public {
                let root = defs.root_scope as usize;
                bind(&mut defs.scopes[root].names[Ns::Macro as usize], name.clone(), binding.clone());
            }
        }
        bind(&mut defs.scopes[scope as usize].names[ns as usize], name, binding);
    }
}

/// Adds a binding unless a better one holds the name: explicit over glob, active over inactive,
/// first over later.
fn bind(names: &mut HashMap<Box<str>, Binding>, name: Box<str>, binding: Binding) -> bool {
    use std::collections::hash_map::Entry;
    match names.entry(name) {
        Entry::Vacant(vacant) => {
            vacant.insert(binding);
            true
        }
        Entry::Occupied(mut occupied) => {
            let old = occupied.get();
            let better = (!binding.glob && old.glob) || (binding.active && !old.active && binding.glob == old.glob);
            if better {
                occupied.insert(binding);
            }
            better
        }
    }
}

/// A `use` declaration (or `extern crate`) to resolve.
struct Import<'a> {
    /// The scope it binds into.
    scope: u32,
    /// The module or function that declares it (the edges' source).
    owner: u32,
    /// Its index in the owner's `uses`.
    at: u32,
    facts: &'a UseFacts,
    active: bool,
}

fn collect_imports<'a>(defs: &CrateDefs, refs: &'a [RecordRefs], cfg: &CfgContext) -> Vec<Import<'a>> {
    let mut imports = Vec::new();
    for (index, item_refs) in refs.iter().enumerate() {
        let item = &defs.items[index];
        let Some(scope) = item.own_scope else { continue };
        for (at, facts) in item_refs.uses().iter().enumerate() {
            let active = item.active && cfg.allows(facts.cfg.as_deref());
            imports.push(Import { scope, owner: index as u32, at: at as u32, facts, active });
        }
    }
    imports
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A public, active item of `kind` named `name`, its id made of `n`, with nothing else.
    pub(super) fn item(n: u8, kind: VertexKind, name: &str, shape: Shape) -> ItemDef {
        ItemDef {
            id: Uuid::from_bytes([n; 16]),
            kind,
            name: name.into(),
            parent: None,
            vis: Vis::Public,
            active: true,
            scope: 0,
            own_scope: None,
            children: Vec::new(),
            shape,
            impl_trait: None,
            impl_self: None,
            supertraits: Vec::new(),
        }
    }

    /// The crate `krate` with `items` and nothing else.
    pub(super) fn crate_of(krate: u32, items: Vec<ItemDef>) -> CrateDefs {
        CrateDefs {
            krate,
            edition_2015: false,
            items,
            scopes: Vec::new(),
            root_scope: 0,
            extern_prelude: HashMap::default(),
            macros: HashMap::default(),
            impls_by_self: HashMap::default(),
            methods_by_name: HashMap::default(),
            impl_crates: Vec::new(),
            exported: OnceLock::new(),
            shapes: OnceLock::new(),
        }
    }

    /// A crate (index 5) whose item names an item of crate 7 and whose scope binds one of crate 3.
    fn defs() -> CrateDefs {
        let item = |n: u8, name: &str| ItemDef {
            impl_trait: Some(Def::Item { krate: 7, item: 2 }),
            impl_self: Some(Def::Extern(Arc::from("std::string::String"))),
            ..item(n, VertexKind::Impl, name, Shape::None)
        };
        let mut scope = Scope::default();
        let binding = Binding { def: Def::Item { krate: 3, item: 0 }, vis: Vis::Public, glob: false, active: true };
        scope.names[0].insert("Dep".into(), binding);
        let mut defs =
            CrateDefs { scopes: vec![scope], impl_crates: vec![7, 3], ..crate_of(5, vec![item(1, "a"), item(2, "b")]) };
        defs.extern_prelude.insert("dep".to_owned(), Def::Item { krate: 3, item: 0 });
        defs
    }

    #[test]
    fn scopes_keep_their_bytes_and_their_crates_through_a_round_trip() {
        let key_of = |krate: u32| format!("crate-{krate}");
        let mut original = defs();
        let bytes = original.to_bytes(key_of);
        // The defs themselves are as they were (they are remapped in place and back).
        assert_eq!(format!("{:?}", original.items), format!("{:?}", defs().items));
        assert_eq!((original.krate, &original.impl_crates), (5, &vec![7, 3]));
        assert_eq!(original.scopes[0].names[0]["Dep"].def, Def::Item { krate: 3, item: 0 });
        assert_eq!(bytes, defs().to_bytes(key_of), "equal defs give equal bytes");
        // Read back in a workspace where the crates have other indices: the crates are the same
        // ones, by key, and the bytes too.
        let index_of = |key: &str| key.strip_prefix("crate-")?.parse::<u32>().ok().map(|krate| krate + 10);
        let mut read = CrateDefs::from_bytes(&bytes, index_of).unwrap();
        assert_eq!((read.krate, &read.impl_crates), (15, &vec![17, 13]));
        assert_eq!(read.items[0].impl_trait, Some(Def::Item { krate: 17, item: 2 }));
        assert_eq!(read.to_bytes(|krate| key_of(krate - 10)), bytes);
        // A crate the workspace no longer has: not readable.
        assert!(CrateDefs::from_bytes(&bytes, |key| (key != "crate-3").then_some(0)).is_none());
    }

    #[test]
    fn a_large_crates_defs_read_back_from_their_runs() {
        // More items and scopes than two runs hold, the last run not full.
        let count = 2 * DEFS_RUN + 5;
        let items: Vec<ItemDef> = (0..count)
            .map(|n| ItemDef {
                id: Uuid::from_u128(n as u128 + 1),
                ..item(0, VertexKind::Struct, &format!("S{n}"), Shape::None)
            })
            .collect();
        let scopes: Vec<Scope> = (0..count).map(|n| Scope { item: n as u32, ..Scope::default() }).collect();
        let mut original = CrateDefs { scopes, ..crate_of(4, items) };
        let bytes = original.to_bytes(|krate| format!("crate-{krate}"));
        let read = CrateDefs::from_bytes(&bytes, |key| (key == "crate-4").then_some(4)).unwrap();
        assert_eq!(format!("{:?}", read.items), format!("{:?}", original.items));
        assert_eq!(
            read.scopes.iter().map(|scope| scope.item).collect::<Vec<_>>(),
            (0..count as u32).collect::<Vec<_>>()
        );
    }
}
