//! The validation stage: before anything is saved, every vertex id belongs to one item only, and
//! every resolved edge has both its ends.
//!
//! Workers register the modules and items of their crates as resolution begins, concurrently (a
//! `DashMap`), and check each crate's resolved edges against what is registered: the crate's own
//! items, those of earlier waves, and the `extern` vertices. Two different items with one id are a
//! bug in key construction, reported with both places; an edge with a missing end is dropped and
//! counted. This module knows ids and origins only: nothing of syntax or the store.

use std::sync::Arc;

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use uuid::Uuid;

use crate::model::Edge;

/// Where a vertex comes from, to name both places of a collision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub path: String,
    pub file: Arc<str>,
    pub line: u32,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` ({}:{})", self.path, self.file, self.line)
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ValidationError {
    #[error("two items have the same id {id}: {first} and {second}")]
    DuplicateId { id: Uuid, first: Origin, second: Origin },
}

/// What the stage counted, for `-v`: the sum of what it counted for each crate.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ValidationStats {
    pub items: usize,
    pub edges_checked: usize,
    pub edges_dropped: usize,
}

impl std::ops::AddAssign for ValidationStats {
    fn add_assign(&mut self, other: ValidationStats) {
        self.items += other.items;
        self.edges_checked += other.edges_checked;
        self.edges_dropped += other.edges_dropped;
    }
}

#[derive(Default)]
pub struct Registry {
    items: DashMap<Uuid, Origin, rustc_hash::FxBuildHasher>,
}

impl Registry {
    /// A registry with room for `items` items.
    pub fn with_capacity(items: usize) -> Registry {
        Registry { items: DashMap::with_capacity_and_hasher(items, Default::default()) }
    }

    /// Registers an item; a different item already holding the id is an error. The same item
    /// registered twice (a file that two crates include) is not.
    pub fn register(&self, id: Uuid, origin: Origin) -> Result<(), ValidationError> {
        match self.items.entry(id) {
            Entry::Vacant(vacant) => {
                vacant.insert(origin);
                Ok(())
            }
            Entry::Occupied(occupied) if occupied.get().path == origin.path => Ok(()),
            Entry::Occupied(occupied) => {
                // Reported in a stable order, whichever thread came first.
                let (first, second) = if *occupied.get() <= origin {
                    (occupied.get().clone(), origin)
                } else {
                    (origin, occupied.get().clone())
                };
                Err(ValidationError::DuplicateId { id, first, second })
            }
        }
    }

    /// Admits the items of a crate that an incremental build did not index again (it kept their
    /// vertices), so that edges to them pass `check_edges`. Their origins are unknown: such ids
    /// are never compared with another crate's, since every id holds its crate's key.
    pub fn admit(&self, ids: impl Iterator<Item = Uuid>) {
        // One empty name shared by all: a large dependency admits hundreds of thousands of ids.
        let file: Arc<str> = Arc::from("");
        for id in ids {
            self.items.entry(id).or_insert_with(|| Origin { path: String::new(), file: file.clone(), line: 0 });
        }
    }

    pub fn contains(&self, id: &Uuid) -> bool {
        self.items.contains_key(id)
    }

    /// Keeps the edges whose ends are registered items or satisfy `also` (extern vertices);
    /// returns how many were checked and dropped.
    pub fn check_edges(&self, edges: &mut Vec<Edge>, also: impl Fn(&Uuid) -> bool) -> ValidationStats {
        let before = edges.len();
        edges.retain(|edge| self.contains(&edge.from) && (self.contains(&edge.to) || also(&edge.to)));
        ValidationStats { items: 0, edges_checked: before, edges_dropped: before - edges.len() }
    }
}

impl PartialOrd for Origin {
    fn partial_cmp(&self, other: &Origin) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Origin {
    fn cmp(&self, other: &Origin) -> std::cmp::Ordering {
        (&self.path, &self.file, self.line).cmp(&(&other.path, &other.file, other.line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EdgeKind;

    fn origin(path: &str, line: u32) -> Origin {
        Origin { path: path.to_owned(), file: Arc::from("src/lib.rs"), line }
    }

    #[test]
    fn a_collision_names_both_places_in_a_stable_order() {
        let registry = Registry::default();
        let id = Uuid::from_u128(7);
        registry.register(id, origin("k::b", 9)).unwrap();
        registry.register(id, origin("k::b", 9)).unwrap();
        let err = registry.register(id, origin("k::a", 3)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("two items have the same id {id}: `k::a` (src/lib.rs:3) and `k::b` (src/lib.rs:9)")
        );
    }

    #[test]
    fn errors_cross_threads() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<ValidationError>();
        send_sync::<crate::index::IndexError>();
        send_sync::<crate::error::Error>();
    }

    #[test]
    fn edges_with_a_missing_end_are_dropped_and_counted() {
        let registry = Registry::default();
        let (a, b, outside) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        registry.register(a, origin("k::a", 1)).unwrap();
        registry.register(b, origin("k::b", 2)).unwrap();
        let mut edges = vec![
            Edge::new(a, EdgeKind::Calls, b),
            Edge::new(a, EdgeKind::Calls, outside),
            Edge::new(a, EdgeKind::References, Uuid::from_u128(4)),
        ];
        let stats = registry.check_edges(&mut edges, |id| *id == outside);
        assert_eq!(edges.len(), 2);
        assert_eq!((stats.edges_checked, stats.edges_dropped), (3, 1));
    }
}
