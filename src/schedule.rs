//! Scheduling: the crate dependency DAG, its topological waves and its components.
//!
//! A wave holds the crates whose dependencies all sit in earlier waves, so the crates of one wave
//! can be indexed together while later stages (name resolution) can rely on everything a crate
//! depends on being done: a rerun goes wave by wave. A full build starts each crate once what it
//! depends on is done instead (`components`). Dependency cycles (legal between packages through
//! dev-dependencies, and never trusted to be absent) are condensed into strongly connected
//! components, whose crates share a wave, or start and finish together. This module knows crate
//! indices and edges, nothing else.

use petgraph::algo::{condensation, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

/// Groups `n_crates` crates into waves, given `deps` as `(dependent, dependency)` pairs. Every
/// crate appears in exactly one wave; within a wave, crates are in ascending order.
pub fn waves(n_crates: usize, deps: impl IntoIterator<Item = (usize, usize)>) -> Vec<Vec<usize>> {
    let (condensed, order) = condensed(n_crates, deps);
    let mut level = vec![0usize; condensed.node_count()];
    for &node in &order {
        let depth = condensed
            .neighbors_directed(node, petgraph::Direction::Incoming)
            .map(|pred| level[pred.index()] + 1)
            .max()
            .unwrap_or(0);
        level[node.index()] = depth;
    }
    let n_waves = level.iter().map(|l| l + 1).max().unwrap_or(0);
    let mut waves = vec![Vec::new(); n_waves];
    for node in condensed.node_indices() {
        waves[level[node.index()]].extend(condensed[node].iter().copied());
    }
    for wave in &mut waves {
        wave.sort_unstable();
    }
    waves
}

/// The crates grouped by dependency cycle (nearly always one crate a group), in an order where
/// each group comes after the groups it depends on.
#[derive(Debug, PartialEq, Eq)]
pub struct Components {
    /// Each group's crates, in ascending order.
    pub members: Vec<Vec<usize>>,
    /// By group, the groups it depends on (each before it in `members`), in ascending order.
    pub deps: Vec<Vec<usize>>,
}

/// `n_crates` crates' `Components`, given `deps` as `(dependent, dependency)` pairs.
pub fn components(n_crates: usize, deps: impl IntoIterator<Item = (usize, usize)>) -> Components {
    let (condensed, order) = condensed(n_crates, deps);
    let mut position = vec![0; condensed.node_count()];
    for (at, node) in order.iter().enumerate() {
        position[node.index()] = at;
    }
    let members = order
        .iter()
        .map(|&node| {
            let mut crates = condensed[node].clone();
            crates.sort_unstable();
            crates
        })
        .collect();
    let deps = order
        .iter()
        .map(|&node| {
            let mut before: Vec<usize> = condensed
                .neighbors_directed(node, petgraph::Direction::Incoming)
                .map(|dep| position[dep.index()])
                .collect();
            before.sort_unstable();
            before.dedup();
            before
        })
        .collect();
    Components { members, deps }
}

/// The crate graph with each dependency cycle condensed into one node (the crates on it), and
/// its nodes in a topological order. Edges point from a dependency to its dependents: the order
/// work flows in.
fn condensed(
    n_crates: usize,
    deps: impl IntoIterator<Item = (usize, usize)>,
) -> (DiGraph<Vec<usize>, ()>, Vec<NodeIndex>) {
    let mut graph: DiGraph<usize, ()> = DiGraph::with_capacity(n_crates, 0);
    let nodes: Vec<NodeIndex> = (0..n_crates).map(|krate| graph.add_node(krate)).collect();
    for (dependent, dependency) in deps {
        graph.add_edge(nodes[dependency], nodes[dependent], ());
    }
    let condensed = condensation(graph, true);
    // The condensed graph is acyclic by construction, so `toposort` cannot fail; an empty order
    // would only drop the crates, never loop or panic.
    let order = toposort(&condensed, None).unwrap_or_default();
    (condensed, order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_come_first() {
        // 0 depends on 1 and 2; 1 depends on 2; 3 is alone.
        let waves = waves(4, [(0, 1), (0, 2), (1, 2)]);
        assert_eq!(waves, vec![vec![2, 3], vec![1], vec![0]]);
    }

    #[test]
    fn cycles_share_a_wave() {
        // 0 and 1 depend on each other; 2 depends on 0.
        let waves = waves(3, [(0, 1), (1, 0), (2, 0)]);
        assert_eq!(waves, vec![vec![0, 1], vec![2]]);
    }

    #[test]
    fn every_crate_lands_in_exactly_one_wave_after_its_dependencies() {
        // A fixed pseudo-random DAG (dependency has the lower index) plus one two-crate cycle.
        let n = 200;
        let mut deps = Vec::new();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for dependent in 1..n {
            for _ in 0..3 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                deps.push((dependent, (state % dependent as u64) as usize));
            }
        }
        deps.push((5, 150));
        deps.push((150, 5));
        let waves = waves(n, deps.iter().copied());
        let mut wave_of = vec![usize::MAX; n];
        for (index, wave) in waves.iter().enumerate() {
            for &krate in wave {
                assert_eq!(wave_of[krate], usize::MAX, "crate {krate} is in two waves");
                wave_of[krate] = index;
            }
        }
        assert!(wave_of.iter().all(|&w| w != usize::MAX));
        for &(dependent, dependency) in &deps {
            // Crates on one cycle share a wave; all others come strictly after their dependency.
            assert!(wave_of[dependency] <= wave_of[dependent]);
        }
        assert_eq!(wave_of[5], wave_of[150], "a cycle shares one wave");
    }

    #[test]
    fn components_come_after_what_they_depend_on() {
        // 0 depends on 1 and 2; 1 depends on 2; 3 and 4 depend on each other and on 0.
        let Components { members, deps } = components(5, [(0, 1), (0, 2), (1, 2), (3, 4), (4, 3), (3, 0)]);
        assert_eq!(members.len(), 4);
        let group_of = |krate: usize| members.iter().position(|group| group.contains(&krate)).unwrap();
        assert_eq!(members[group_of(3)], [3, 4], "a cycle is one group");
        let mut both = vec![group_of(1), group_of(2)];
        both.sort_unstable();
        assert_eq!(deps[group_of(0)], both);
        assert_eq!(deps[group_of(1)], [group_of(2)]);
        assert!(deps[group_of(2)].is_empty());
        assert_eq!(deps[group_of(3)], [group_of(0)], "a cycle's own edges are no dependency");
        for (group, before) in deps.iter().enumerate() {
            assert!(before.iter().all(|&dep| dep < group), "{group} comes after {before:?}");
        }
    }
}
