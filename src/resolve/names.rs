//! What a crate's scopes mean, name by name, so that a rerun can tell which names an edit gave a
//! new meaning to, and which crates name none of them.
//!
//! Resolution looks names up: every lookup of an item's edges starts from a name the item
//! mentions (a path's segments, a method, a field, a macro, a derive; the types of its own shape)
//! and goes through scopes keyed by name. A crate's `NameDigest` hashes, per name, everything such
//! a lookup can meet under it: the items of that name, the bindings of that name in every scope,
//! the methods and macros by that name, the scopes the items of that name open. What no name
//! keys (impls by self type, the dependencies' order, the edition) is hashed apart (`rest`). Two
//! digests of a crate that differ only in some names, with `rest` equal, mean that only lookups
//! of those names can give another answer, and the types of items whose shapes name them
//! (`close_over_shapes` adds those items' names).
//!
//! An item that mentions none of the changed names keeps the edges it had (a glob import's edge
//! goes to the module it names, whatever that holds): `index::resolved` keeps such items' edges in
//! the crate that changed, and `index` keeps a crate that nothing depends on and that mentions
//! none (`mentions`: a test, bench or example target whose library gained an item it does not
//! name). Names are compared by a 64-bit hash of each: two names of one hash could only make
//! something resolved again that need not be.

use std::hash::Hash;

use rayon::prelude::*;
use uuid::Uuid;
use xxhash_rust::xxh3::{Xxh3, xxh3_64};

use super::{CrateDefs, Def, RecordRefs, Shape, World};

/// A set of names, by `name_key`, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Names(Vec<u64>);

impl Names {
    fn from_keys(mut keys: Vec<u64>) -> Names {
        keys.sort_unstable();
        keys.dedup();
        Names(keys)
    }

    fn contains(&self, key: u64) -> bool {
        self.0.binary_search(&key).is_ok()
    }

    /// Adds every name of `other`.
    pub fn extend(&mut self, other: &Names) {
        let mut keys = std::mem::take(&mut self.0);
        keys.extend_from_slice(&other.0);
        *self = Names::from_keys(keys);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a name is in both.
    pub fn meets(&self, other: &Names) -> bool {
        let (small, large) = if self.0.len() <= other.0.len() { (self, other) } else { (other, self) };
        small.0.iter().any(|&key| large.contains(key))
    }
}

/// The names a crate mentions, as a Bloom filter of their keys (three bits set for each, in about
/// ten bits of filter for each): a name it does not mention may be taken for one it does (a
/// crate indexed again that need not be), never the other way. A few hundred bytes for a test target, where the
/// keys themselves took a few kilobytes of the state every rerun reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mentions(Vec<u64>);

impl Mentions {
    const HASHES: u32 = 3;

    fn of(keys: &[u64]) -> Mentions {
        let bits = (keys.len() * 10).next_power_of_two().clamp(256, 1 << 21);
        let mut words = Mentions(vec![0; bits / 64]);
        for &key in keys {
            for bit in words.bits(key) {
                words.0[bit / 64] |= 1 << (bit % 64);
            }
        }
        words
    }

    fn bits(&self, key: u64) -> impl Iterator<Item = usize> + use<> {
        let mask = (self.0.len() * 64).max(1) - 1;
        (0..Self::HASHES).map(move |i| (key >> (21 * i)) as usize & mask)
    }

    /// Whether it may mention one of `names` (always, when damaged).
    pub fn meets(&self, names: &Names) -> bool {
        if self.0.is_empty() || !self.0.len().is_power_of_two() {
            return true;
        }
        names.0.iter().any(|&key| self.bits(key).all(|bit| self.0[bit / 64] & (1 << (bit % 64)) != 0))
    }
}

/// The key of a name (a raw identifier's `r#` taken off): names are compared by it.
fn name_key(name: &str) -> u64 {
    let name = name.strip_prefix("r#").unwrap_or(name);
    xxh3_64(name.as_bytes())
}

/// Each identifier in `text`: split at anything an identifier does not hold (a path written
/// whole, a type with its arguments), `r#` kept (`name_key` takes it off).
fn for_each_token(text: &str, each: &mut dyn FnMut(&str)) {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '#'))
        .filter(|token| !token.is_empty())
        .for_each(each);
}

/// Calls `each` with the key of every identifier `shape` names.
fn shape_keys(shape: &Shape, each: &mut dyn FnMut(u64)) {
    if matches!(shape, Shape::None | Shape::MacroRules { .. }) {
        return;
    }
    super::strings::for_each_string(shape, &mut |text| for_each_token(text, &mut |token| each(name_key(token))));
}

/// Calls `each` with the key of every identifier a record's refs name.
fn refs_keys(refs: &RecordRefs, each: &mut dyn FnMut(u64)) {
    refs.visit_name_strings(&mut |text| for_each_token(text, &mut |token| each(name_key(token))));
}

/// A crate's scopes, name by name (see the module's comment): each name's key and a hash of
/// what a lookup of it can meet, sorted by key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NameDigest {
    rest: u64,
    names: Vec<(u64, u64)>,
}

impl NameDigest {
    /// The names that may mean something else in `new` than in `self`; `None` when more
    /// changed than names (an impl, the dependencies).
    pub fn changed(&self, new: &NameDigest) -> Option<Names> {
        if self.rest != new.rest {
            return None;
        }
        let mut changed = Vec::new();
        let (mut old, mut new) = (self.names.iter().peekable(), new.names.iter().peekable());
        loop {
            match (old.peek(), new.peek()) {
                (Some(a), Some(b)) if a.0 == b.0 => {
                    if a.1 != b.1 {
                        changed.push(a.0);
                    }
                    old.next();
                    new.next();
                }
                (Some(a), Some(b)) if a.0 < b.0 => changed.extend(old.next().map(|a| a.0)),
                (Some(_), Some(_)) | (None, Some(_)) => changed.extend(new.next().map(|b| b.0)),
                (Some(_), None) => changed.extend(old.next().map(|a| a.0)),
                (None, None) => break,
            }
        }
        Some(Names::from_keys(changed))
    }
}

/// Adds a `Def` as it stays from build to build to `buf`: an item's id (indices move when items
/// are added), or an extern path.
fn stable_def(defs: &CrateDefs, world: &World, def: &Def, buf: &mut Vec<u8>) {
    match def {
        Def::Item { krate, item } => {
            let id = if *krate == defs.krate {
                defs.items.get(*item as usize).map(|item| item.id)
            } else {
                world.get(*krate).and_then(|dep| dep.items.get(*item as usize)).map(|item| item.id)
            };
            buf.push(1);
            buf.extend_from_slice(id.unwrap_or(Uuid::nil()).as_bytes());
        }
        Def::Extern(path) => {
            buf.push(2);
            buf.extend_from_slice(path.as_bytes());
            buf.push(0xff);
        }
    }
}

impl CrateDefs {
    /// The crate's `NameDigest`; `world` holds its dependencies' defs (what its bindings to
    /// their items point to), `key_of` gives a crate's key. Each entry is laid out in one buffer
    /// and hashed whole (strings end with `0xff`, which UTF-8 never holds).
    pub fn name_digest(&self, world: &World, key_of: &dyn Fn(u32) -> String) -> NameDigest {
        let id_of = |index: u32| self.items.get(index as usize).map_or(Uuid::nil(), |item| item.id);
        let scope_owner = |scope: u32| self.scopes.get(scope as usize).map_or(Uuid::nil(), |scope| id_of(scope.item));
        let entry = |name: &str, buf: &[u8]| (name_key(name), xxh3_64(buf));
        // Items and scopes in parallel (a large crate is often alone in its wave); the entries
        // are summed per name after, in any order.
        let items: Vec<((u64, u64), bool)> = self
            .items
            .par_iter()
            .map_init(
                || Vec::with_capacity(256),
                |buf, item| {
                    buf.clear();
                    buf.push(1);
                    buf.extend_from_slice(item.id.as_bytes());
                    buf.extend_from_slice(item.kind.as_str().as_bytes());
                    buf.push(0xff);
                    buf.extend_from_slice(item.parent.map_or(Uuid::nil(), id_of).as_bytes());
                    buf.extend_from_slice(&[item.vis as u8, item.active as u8, item.own_scope.is_some() as u8]);
                    buf.extend_from_slice(scope_owner(item.scope).as_bytes());
                    if !matches!(item.shape, Shape::None) {
                        let mut shape = Xxh3::new();
                        item.shape.hash(&mut shape);
                        buf.extend_from_slice(&shape.digest().to_le_bytes());
                    }
                    for def in item.impl_trait.iter().chain(&item.impl_self).chain(&item.supertraits) {
                        stable_def(self, world, def, buf);
                    }
                    // What an impl implements, for what, and a trait's supertraits decide lookups
                    // that no name of the caller's leads to (a method found through the impl): a
                    // change to them is more than names.
                    let related = item.impl_trait.is_some() || item.impl_self.is_some() || !item.supertraits.is_empty();
                    (entry(&item.name, buf), related)
                },
            )
            .collect();
        let mut relations: u64 = 0;
        let mut entries: Vec<(u64, u64)> = Vec::with_capacity(items.len() * 2);
        for (item, related) in items {
            if related {
                relations = relations.wrapping_add(item.1);
            }
            entries.push(item);
        }
        entries.par_extend(self.scopes.par_iter().flat_map_iter(|scope| {
            let owner = id_of(scope.item);
            let mut buf = Vec::with_capacity(128);
            buf.push(2);
            buf.extend_from_slice(owner.as_bytes());
            buf.extend_from_slice(scope.outer.map_or(Uuid::nil(), scope_owner).as_bytes());
            buf.extend_from_slice(scope.parent_module.map_or(Uuid::nil(), scope_owner).as_bytes());
            for (path, vis) in &scope.extern_globs {
                buf.extend_from_slice(path.as_bytes());
                buf.extend_from_slice(&[0xff, *vis as u8]);
            }
            let mut out = vec![entry(self.items.get(scope.item as usize).map_or("", |owner| &owner.name), &buf)];
            for (ns, names) in scope.names.iter().enumerate() {
                for (name, binding) in names {
                    buf.clear();
                    buf.extend_from_slice(&[3, ns as u8]);
                    buf.extend_from_slice(owner.as_bytes());
                    buf.extend_from_slice(name.as_bytes());
                    buf.push(0xff);
                    stable_def(self, world, &binding.def, &mut buf);
                    buf.extend_from_slice(&[binding.vis as u8, binding.glob as u8, binding.active as u8]);
                    out.push(entry(name, &buf));
                }
            }
            out
        }));
        let mut buf = Vec::with_capacity(256);
        for (name, methods) in &self.methods_by_name {
            let mut ids: Vec<Uuid> = methods.iter().map(|&index| id_of(index)).collect();
            ids.sort_unstable();
            buf.clear();
            buf.push(4);
            ids.iter().for_each(|id| buf.extend_from_slice(id.as_bytes()));
            entries.push(entry(name, &buf));
        }
        for (name, def) in &self.extern_prelude {
            buf.clear();
            buf.push(5);
            stable_def(self, world, def, &mut buf);
            entries.push(entry(name, &buf));
        }
        for (name, def) in &self.macros {
            buf.clear();
            buf.push(6);
            stable_def(self, world, def, &mut buf);
            entries.push(entry(name, &buf));
        }
        entries.par_sort_unstable_by_key(|&(key, _)| key);
        let mut names: Vec<(u64, u64)> = Vec::new();
        for (key, hash) in entries {
            match names.last_mut() {
                Some((last, sum)) if *last == key => *sum = sum.wrapping_add(hash),
                _ => names.push((key, hash)),
            }
        }
        // What no name keys: summed, as the maps' order is not fixed.
        let mut rest: u64 = relations;
        for (self_id, impls) in &self.impls_by_self {
            let mut ids: Vec<Uuid> = impls.iter().map(|&index| id_of(index)).collect();
            ids.sort_unstable();
            buf.clear();
            buf.extend_from_slice(self_id.as_bytes());
            ids.iter().for_each(|id| buf.extend_from_slice(id.as_bytes()));
            rest = rest.wrapping_add(xxh3_64(&buf));
        }
        buf.clear();
        buf.extend_from_slice(&rest.to_le_bytes());
        buf.push(self.edition_2015 as u8);
        buf.extend_from_slice(scope_owner(self.root_scope).as_bytes());
        for &krate in &self.impl_crates {
            buf.extend_from_slice(key_of(krate).as_bytes());
            buf.push(0xff);
        }
        NameDigest { rest: xxh3_64(&buf), names }
    }

    /// For each item with a shape (a function's types, a field's, an alias's target, an
    /// impl's): the key of its name and the names its shape mentions.
    pub fn shape_mentions(&self) -> &[(u64, Names)] {
        &self.shapes().mentions
    }

    fn shapes(&self) -> &ShapeMentions {
        self.shapes.get_or_init(|| {
            let (items, mentions) = self
                .items
                .par_iter()
                .enumerate()
                .filter(|(_, item)| !matches!(item.shape, Shape::None | Shape::MacroRules { .. }))
                .map(|(index, item)| {
                    let mut keys = Vec::new();
                    shape_keys(&item.shape, &mut |key| keys.push(key));
                    (index as u32, (name_key(&item.name), Names::from_keys(keys)))
                })
                .unzip();
            ShapeMentions { items, mentions }
        })
    }
}

/// `CrateDefs::shape_mentions`, with the index of each entry's item (ascending).
#[derive(Debug, Clone, Default)]
pub struct ShapeMentions {
    items: Vec<u32>,
    mentions: Vec<(u64, Names)>,
}

/// Adds to `changed` the names of the items whose shapes mention a changed name (a function
/// that returns a type whose name now means another gives its callers another type), until no
/// more is added.
pub fn close_over_shapes(changed: &mut Names, shapes: &[&[(u64, Names)]]) {
    loop {
        let mut grew = Vec::new();
        for shapes in shapes {
            for (own, mentions) in shapes.iter() {
                if !changed.contains(*own) && mentions.meets(changed) {
                    grew.push(*own);
                }
            }
        }
        if grew.is_empty() {
            return;
        }
        changed.extend(&Names::from_keys(grew));
    }
}

/// The names a crate's items mention (their refs, `use` declarations and shapes). A glob import
/// needs no more: its own edge goes to the module it names, and what it binds is looked up by
/// the names that mention it.
pub fn mentions(defs: &CrateDefs, refs: &[RecordRefs]) -> Mentions {
    let mut keys = Vec::new();
    for refs in refs {
        refs_keys(refs, &mut |key| keys.push(key));
    }
    for item in &defs.items {
        shape_keys(&item.shape, &mut |key| keys.push(key));
    }
    Mentions::of(&Names::from_keys(keys).0)
}

/// Whether the item at `index` mentions one of `changed` (in its refs, `use` declarations or
/// shape). The crate's shapes are found on the first call that needs them, on the pool: from a
/// parallel loop, ask for them first (`shape_mentions`), as `index::resolved` does by closing
/// the changed names over them, lest a thread that waits for the pool's work take another call
/// that waits for the same shapes.
pub fn item_mentions_any(defs: &CrateDefs, refs: &[RecordRefs], index: u32, changed: &Names) -> bool {
    let Some(refs) = refs.get(index as usize) else { return true };
    if changed.is_empty() {
        return false;
    }
    let mut mentions = false;
    refs_keys(refs, &mut |key: u64| mentions |= changed.contains(key));
    let shapes = defs.shapes();
    mentions || shapes.items.binary_search(&index).is_ok_and(|at| shapes.mentions[at].1.meets(changed))
}

/// Calls `on_str` with every string of the MessagePack values in `bytes` (each as UTF-8,
/// lossily) but their maps' keys; `None` when they are not whole values. The values are packed
/// records' names as the cache wrote them (`rmp_serde`'s compact form: structs as arrays), in
/// which a map is an enum's variant and its key the variant's name (`Path` of `TypeExpr::Path`):
/// a word of ours, not of the code, which would otherwise stand for a name the code mentions.
/// What is not encoded is read through `strings::for_each_string`.
pub fn visit_strings(bytes: &[u8], on_str: &mut dyn FnMut(&str)) -> Option<()> {
    let mut rest = bytes;
    let mut on_bytes = |data: &[u8]| match std::str::from_utf8(data) {
        Ok(text) => on_str(text),
        Err(_) => on_str(&String::from_utf8_lossy(data)),
    };
    while !rest.is_empty() {
        walk(&mut rest, 0, false, &mut on_bytes)?;
    }
    Some(())
}

/// Steps past one MessagePack value, calling `on_str` with each string's bytes; `None` when
/// the bytes end first, or nest deeper than 64.
pub fn walk_value<F: FnMut(&[u8])>(bytes: &mut &[u8], depth: u32, on_str: &mut F) -> Option<()> {
    walk(bytes, depth, true, on_str)
}

/// `walk_value`, which passes the strings that are a map's keys to `on_str` only when `keys`.
fn walk<F: FnMut(&[u8])>(bytes: &mut &[u8], depth: u32, keys: bool, on_str: &mut F) -> Option<()> {
    use rmp::Marker;
    /// A map key's callback when `keys` is false (a function, not a closure: a closure made
    /// here would be a new type at each level of the recursion).
    fn ignore(_: &[u8]) {}
    fn len(bytes: &mut &[u8], width: usize) -> Option<usize> {
        let (be, rest) = bytes.split_at_checked(width)?;
        *bytes = rest;
        Some(be.iter().fold(0, |len, &byte| len << 8 | byte as usize))
    }
    if depth > 64 {
        return None;
    }
    let marker = rmp::decode::read_marker(bytes).ok()?;
    let (data, elements, string) = match marker {
        Marker::FixPos(_) | Marker::FixNeg(_) | Marker::Null | Marker::True | Marker::False => (0, 0, false),
        Marker::U8 | Marker::I8 => (1, 0, false),
        Marker::U16 | Marker::I16 => (2, 0, false),
        Marker::U32 | Marker::I32 | Marker::F32 => (4, 0, false),
        Marker::U64 | Marker::I64 | Marker::F64 => (8, 0, false),
        Marker::FixStr(n) => (n as usize, 0, true),
        Marker::Str8 => (len(bytes, 1)?, 0, true),
        Marker::Str16 => (len(bytes, 2)?, 0, true),
        Marker::Str32 => (len(bytes, 4)?, 0, true),
        Marker::Bin8 => (len(bytes, 1)?, 0, false),
        Marker::Bin16 => (len(bytes, 2)?, 0, false),
        Marker::Bin32 => (len(bytes, 4)?, 0, false),
        Marker::FixArray(n) => (0, n as usize, false),
        Marker::Array16 => (0, len(bytes, 2)?, false),
        Marker::Array32 => (0, len(bytes, 4)?, false),
        Marker::FixMap(n) => (0, 2 * n as usize, false),
        Marker::Map16 => (0, 2 * len(bytes, 2)?, false),
        Marker::Map32 => (0, 2 * len(bytes, 4)?, false),
        // The type, then the data.
        Marker::FixExt1 => (2, 0, false),
        Marker::FixExt2 => (3, 0, false),
        Marker::FixExt4 => (5, 0, false),
        Marker::FixExt8 => (9, 0, false),
        Marker::FixExt16 => (17, 0, false),
        Marker::Ext8 => (len(bytes, 1)? + 1, 0, false),
        Marker::Ext16 => (len(bytes, 2)? + 1, 0, false),
        Marker::Ext32 => (len(bytes, 4)? + 1, 0, false),
        Marker::Reserved => return None,
    };
    let (value, rest) = bytes.split_at_checked(data)?;
    *bytes = rest;
    if string {
        on_str(value);
    }
    let map = matches!(marker, Marker::FixMap(_) | Marker::Map16 | Marker::Map32);
    for element in 0..elements {
        if map && !keys && element % 2 == 0 {
            walk(bytes, depth + 1, keys, &mut ignore)?;
        } else {
            walk(bytes, depth + 1, keys, on_str)?;
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Names {
        Names::from_keys(list.iter().map(|name| name_key(name)).collect())
    }

    #[test]
    fn changed_names_are_those_added_removed_or_hashed_otherwise() {
        let digest = |rest, entries: &[(&str, u64)]| {
            let mut names: Vec<(u64, u64)> = entries.iter().map(|&(name, hash)| (name_key(name), hash)).collect();
            names.sort_unstable();
            NameDigest { rest, names }
        };
        let old = digest(7, &[("kept", 1), ("edited", 2), ("removed", 3)]);
        let new = digest(7, &[("kept", 1), ("edited", 9), ("added", 4)]);
        assert_eq!(old.changed(&new), Some(names(&["edited", "removed", "added"])));
        assert_eq!(old.changed(&old), Some(Names::default()));
        assert_eq!(old.changed(&digest(8, &[("kept", 1), ("edited", 2), ("removed", 3)])), None);
    }

    #[test]
    fn mentions_never_miss_a_name_they_hold() {
        let held: Vec<String> = (0..3000).map(|n| format!("name_{n}")).collect();
        let keys: Vec<u64> = held.iter().map(|name| name_key(name)).collect();
        let mentions = Mentions::of(&keys);
        assert!(held.iter().all(|name| mentions.meets(&names(&[name]))));
        assert!(!mentions.meets(&Names::default()));
        // About ten bits a name: few of the names it does not hold are taken for held ones.
        let strangers = (0..3000).filter(|n| mentions.meets(&names(&[&format!("other_{n}")]))).count();
        assert!(strangers < 300, "{strangers} false matches of 3000");
        // `r#` is not part of a name.
        assert!(Mentions::of(&[name_key("r#type")]).meets(&names(&["type"])));
        assert!(Mentions(Vec::new()).meets(&names(&["anything"])), "a damaged filter matches all");
    }

    #[test]
    fn an_item_mentions_what_its_shape_names_and_shapes_are_found_once() {
        use super::super::tests::{crate_of, item};
        use crate::model::VertexKind;
        use crate::parse::{PathRef, TypeExpr};
        let returns = |ty: &str| Shape::Function {
            returns: TypeExpr::Path(PathRef::single(ty), Vec::new()),
            inputs: Vec::new(),
            receiver: false,
        };
        let function = VertexKind::Function;
        let defs = crate_of(
            0,
            vec![
                item(1, function, "make", returns("Thing")),
                item(2, function, "plain", Shape::None),
                item(3, function, "other", returns("U")),
            ],
        );
        let refs: Vec<RecordRefs> = (0..3).map(|_| RecordRefs::default()).collect();
        let mentions = |index: u32, changed: &[&str]| item_mentions_any(&defs, &refs, index, &names(changed));
        assert!(mentions(0, &["Thing"]), "`make` returns a `Thing`");
        assert!(!mentions(1, &["Thing"]), "`plain` has no shape");
        assert!(!mentions(2, &["Thing"]) && mentions(2, &["U"]));
        assert!(!mentions(0, &[]));
        assert!(mentions(7, &["Thing"]), "an item out of range counts as mentioning");
        // Keyed by the items' names, in item order; the variants' names in the shapes' encoding
        // (`Function`, `Path`) are not mentions.
        assert_eq!(defs.shape_mentions(), [(name_key("make"), names(&["Thing"])), (name_key("other"), names(&["U"]))]);
        assert!(!mentions(0, &["Path", "Function"]));
        assert!(std::ptr::eq(defs.shape_mentions(), defs.shape_mentions()), "found once");
    }

    #[test]
    fn a_name_whose_shape_names_a_changed_one_changes_in_turn() {
        let shape = |own: &str, mentioned: &[&str]| (name_key(own), names(mentioned));
        // `make() -> Thing`, `build() -> Wrapper<Made>` where `Made = Thing` by alias, `other() -> U`.
        let shapes = [
            shape("make", &["Thing"]),
            shape("Made", &["Thing"]),
            shape("build", &["Wrapper", "Made"]),
            shape("other", &["U"]),
        ];
        let mut changed = names(&["Thing"]);
        close_over_shapes(&mut changed, &[&shapes]);
        assert_eq!(changed, names(&["Thing", "make", "Made", "build"]));
    }

    #[test]
    fn every_string_of_a_value_is_visited_and_the_value_stepped_over() {
        let value = (vec!["std::fmt", "Debug"], 42u32, Some(("inner", vec![1u8, 2])), "last");
        let bytes = rmp_serde::to_vec(&value).unwrap();
        let mut seen = Vec::new();
        assert!(visit_strings(&bytes, &mut |text| seen.push(text.to_owned())).is_some());
        assert_eq!(seen, ["std::fmt", "Debug", "inner", "last"]);
        let mut tokens = Vec::new();
        for_each_token("std::fmt::Result<Vec<r#type>, E>", &mut |token| tokens.push(token.to_owned()));
        assert_eq!(tokens, ["std", "fmt", "Result", "Vec", "r#type", "E"]);
        assert!(visit_strings(&bytes[..bytes.len() - 2], &mut |_| {}).is_none(), "cut short");
        // An enum's variant is a map whose key is the variant's name: a word of ours, not a name
        // the code mentions; a plain step over a value passes it on.
        use crate::parse::{PathRef, TypeExpr};
        let typed =
            TypeExpr::Path(PathRef::single("Thing"), vec![TypeExpr::Path(PathRef::single("Inner"), Vec::new())]);
        let bytes = rmp_serde::to_vec(&typed).unwrap();
        let mut seen = Vec::new();
        assert!(visit_strings(&bytes, &mut |text| seen.push(text.to_owned())).is_some());
        assert_eq!(seen, ["Thing", "Inner"]);
        let (mut rest, mut all) = (bytes.as_slice(), Vec::new());
        assert!(walk_value(&mut rest, 0, &mut |data| all.push(data.to_vec())).is_some() && rest.is_empty());
        assert_eq!(all.len(), 4, "both variants' names and both paths");
    }
}
