//! A layered (Sugiyama-style) layout, left to right, for `export --format html`: cycles broken
//! by a depth-first search, ranks by longest path (sources pulled next to their successors),
//! order within a rank by barycentre sweeps, and vertical places pulled towards the neighbours'
//! centres; boxes nest (a crate's box holds its modules, laid out first), so that the outer
//! layout places whole boxes.
//!
//! Hand-written on purpose: `rust-sugiyama` 0.4.0 did not finish within 100 s on this
//! repository's module graph (166 nodes, 863 edges; 79 ms at 120 nodes, then no answer at 140),
//! and `layout-rs` 0.1.3 took 14.8 s for its first 80 nodes (253 edges). The measurements are in
//! the README ("export --format html"). This one is linear-ish in nodes and edges per sweep and
//! deterministic: every choice is by index, never by hash order or time.
//!
//! It knows nothing of graphs or views: sizes in, positions out.

use std::collections::VecDeque;

/// Space between ranks (columns) and between neighbours in one rank.
const RANK_GAP: f64 = 60.0;
const NODE_GAP: f64 = 14.0;
/// Barycentre sweeps (each one down and one up).
const SWEEPS: usize = 4;

/// Where each of `sizes` goes (top-left corners), and the size of the whole, for these edges
/// (indices into `sizes`; self-loops and repeats are ignored).
pub fn layered(sizes: &[(f64, f64)], edges: &[(usize, usize)]) -> (Vec<(f64, f64)>, f64, f64) {
    let n = sizes.len();
    if n == 0 {
        return (Vec::new(), 0.0, 0.0);
    }
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(from, to) in edges {
        if from != to && from < n && to < n && !out[from].contains(&to) {
            out[from].push(to);
        }
    }
    let dag = acyclic(&out);
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (from, tos) in dag.iter().enumerate() {
        for &to in tos {
            preds[to].push(from);
        }
    }
    let connected: Vec<bool> = (0..n).map(|v| !dag[v].is_empty() || !preds[v].is_empty()).collect();
    let rank = ranks(&dag, &preds, &connected);

    // Ranks, each in order; nodes without edges go in extra columns at the end, in index order.
    let rank_count = rank.iter().zip(&connected).filter(|(_, c)| **c).map(|(r, _)| r + 1).max().unwrap_or(0);
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); rank_count];
    for v in (0..n).filter(|&v| connected[v]) {
        layers[rank[v]].push(v);
    }
    let isolated: Vec<usize> = (0..n).filter(|&v| !connected[v]).collect();
    if !isolated.is_empty() {
        let tallest = layers.iter().map(Vec::len).max().unwrap_or(0);
        let per_column = tallest.max((isolated.len() as f64).sqrt().ceil() as usize).max(1);
        for chunk in isolated.chunks(per_column) {
            layers.push(chunk.to_vec());
        }
    }
    order(&mut layers, &dag, &preds);
    place(sizes, &layers, &dag, &preds)
}

/// The edges with those that go against a good order turned around: the order of Eades, Lin
/// and Smyth's greedy heuristic for a small feedback arc set (sinks to the end, sources to the
/// front, else the node with the most more edges out than in), which leaves far fewer edges
/// reversed, and so far fewer ranks, than a depth-first search on the cyclic module graphs of
/// real crates. Ties go to the lowest index.
fn acyclic(out: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = out.len();
    let mut ins: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (from, tos) in out.iter().enumerate() {
        for &to in tos {
            ins[to].push(from);
        }
    }
    let mut outdeg: Vec<i64> = out.iter().map(|l| l.len() as i64).collect();
    let mut indeg: Vec<i64> = ins.iter().map(|l| l.len() as i64).collect();
    let mut removed = vec![false; n];
    let mut front: Vec<usize> = Vec::with_capacity(n);
    let mut back: Vec<usize> = Vec::new();
    let mut left = n;
    let remove = |v: usize, removed: &mut Vec<bool>, outdeg: &mut Vec<i64>, indeg: &mut Vec<i64>| {
        removed[v] = true;
        for &to in &out[v] {
            indeg[to] -= 1;
        }
        for &from in &ins[v] {
            outdeg[from] -= 1;
        }
    };
    while left > 0 {
        let mut changed = true;
        while changed {
            changed = false;
            for v in 0..n {
                if removed[v] {
                    continue;
                }
                if outdeg[v] == 0 {
                    back.push(v);
                } else if indeg[v] == 0 {
                    front.push(v);
                } else {
                    continue;
                }
                remove(v, &mut removed, &mut outdeg, &mut indeg);
                left -= 1;
                changed = true;
            }
        }
        if left == 0 {
            break;
        }
        let best = (0..n).filter(|&v| !removed[v]).max_by_key(|&v| (outdeg[v] - indeg[v], std::cmp::Reverse(v)));
        if let Some(v) = best {
            front.push(v);
            remove(v, &mut removed, &mut outdeg, &mut indeg);
            left -= 1;
        }
    }
    front.extend(back.into_iter().rev());
    let mut place = vec![0usize; n];
    for (i, &v) in front.iter().enumerate() {
        place[v] = i;
    }
    let mut dag: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (from, tos) in out.iter().enumerate() {
        for &to in tos {
            let (a, b) = if place[from] < place[to] { (from, to) } else { (to, from) };
            if !dag[a].contains(&b) {
                dag[a].push(b);
            }
        }
    }
    dag
}

/// Longest-path ranks; then a source (no predecessor) moves up to just before its nearest
/// successor, so that it does not sit far left of what it points at.
fn ranks(dag: &[Vec<usize>], preds: &[Vec<usize>], connected: &[bool]) -> Vec<usize> {
    let n = dag.len();
    let mut indegree: Vec<usize> = preds.iter().map(Vec::len).collect();
    let mut queue: VecDeque<usize> = (0..n).filter(|&v| indegree[v] == 0).collect();
    let mut topo = Vec::with_capacity(n);
    let mut rank = vec![0usize; n];
    while let Some(v) = queue.pop_front() {
        topo.push(v);
        for &to in &dag[v] {
            rank[to] = rank[to].max(rank[v] + 1);
            indegree[to] -= 1;
            if indegree[to] == 0 {
                queue.push_back(to);
            }
        }
    }
    for &v in topo.iter().rev() {
        if connected[v]
            && preds[v].is_empty()
            && let Some(nearest) = dag[v].iter().map(|&to| rank[to]).min()
        {
            rank[v] = nearest.saturating_sub(1);
        }
    }
    rank
}

/// Orders each rank by the mean position of its neighbours in the ranks before it, then after
/// it, a few times over; ties keep the current order (a stable sort).
fn order(layers: &mut [Vec<usize>], dag: &[Vec<usize>], preds: &[Vec<usize>]) {
    let n = dag.len();
    let mut position = vec![0.0f64; n];
    let update = |layers: &[Vec<usize>], position: &mut Vec<f64>| {
        for layer in layers {
            let len = layer.len().max(1) as f64;
            for (i, &v) in layer.iter().enumerate() {
                position[v] = (i as f64 + 0.5) / len;
            }
        }
    };
    update(layers, &mut position);
    for _ in 0..SWEEPS {
        for pass in 0..2 {
            let indices: Vec<usize> =
                if pass == 0 { (0..layers.len()).collect() } else { (0..layers.len()).rev().collect() };
            for at in indices {
                let neighbours = if pass == 0 { preds } else { dag };
                let keys: Vec<(usize, f64)> = layers[at]
                    .iter()
                    .map(|&v| {
                        let list = &neighbours[v];
                        let key = if list.is_empty() {
                            position[v]
                        } else {
                            list.iter().map(|&u| position[u]).sum::<f64>() / list.len() as f64
                        };
                        (v, key)
                    })
                    .collect();
                let mut sorted = keys;
                sorted.sort_by(|a, b| a.1.total_cmp(&b.1));
                layers[at] = sorted.into_iter().map(|(v, _)| v).collect();
                let len = layers[at].len().max(1) as f64;
                for (i, &v) in layers[at].iter().enumerate() {
                    position[v] = (i as f64 + 0.5) / len;
                }
            }
        }
    }
}

/// Columns side by side; in each, the nodes in order, each pulled towards the mean centre of its
/// neighbours in other columns while keeping the order and the gaps.
fn place(
    sizes: &[(f64, f64)],
    layers: &[Vec<usize>],
    dag: &[Vec<usize>],
    preds: &[Vec<usize>],
) -> (Vec<(f64, f64)>, f64, f64) {
    let n = sizes.len();
    let mut at = vec![(0.0f64, 0.0f64); n];
    let mut x = 0.0;
    let heights: Vec<f64> = layers
        .iter()
        .map(|layer| layer.iter().map(|&v| sizes[v].1).sum::<f64>() + NODE_GAP * layer.len().saturating_sub(1) as f64)
        .collect();
    let tallest = heights.iter().copied().fold(0.0, f64::max);
    for (layer, height) in layers.iter().zip(&heights) {
        let width = layer.iter().map(|&v| sizes[v].0).fold(0.0, f64::max);
        let mut y = (tallest - height) / 2.0;
        for &v in layer {
            at[v] = (x, y);
            y += sizes[v].1 + NODE_GAP;
        }
        x += width + RANK_GAP;
    }
    for _ in 0..2 {
        for layer in layers {
            let desired: Vec<f64> = layer
                .iter()
                .map(|&v| {
                    let centres: Vec<f64> =
                        dag[v].iter().chain(&preds[v]).map(|&u| at[u].1 + sizes[u].1 / 2.0).collect();
                    let own = at[v].1 + sizes[v].1 / 2.0;
                    if centres.is_empty() { own } else { centres.iter().sum::<f64>() / centres.len() as f64 }
                })
                .collect();
            // Forward: as close to the wish as the node above allows; then the whole column moved
            // so that its mean error is zero.
            let mut tops = Vec::with_capacity(layer.len());
            let mut floor = f64::NEG_INFINITY;
            for (&v, wish) in layer.iter().zip(&desired) {
                let top = (wish - sizes[v].1 / 2.0).max(floor);
                tops.push(top);
                floor = top + sizes[v].1 + NODE_GAP;
            }
            let error = layer
                .iter()
                .zip(&tops)
                .zip(&desired)
                .map(|((&v, top), wish)| top + sizes[v].1 / 2.0 - wish)
                .sum::<f64>()
                / layer.len().max(1) as f64;
            for (&v, top) in layer.iter().zip(&tops) {
                at[v].1 = top - error;
            }
        }
    }
    let min_y = at.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let min_y = if min_y.is_finite() { min_y } else { 0.0 };
    let mut width: f64 = 0.0;
    let mut height: f64 = 0.0;
    for (v, p) in at.iter_mut().enumerate() {
        p.1 -= min_y;
        width = width.max(p.0 + sizes[v].0);
        height = height.max(p.1 + sizes[v].1);
    }
    (at, width, height)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlaps(a: (f64, f64), sa: (f64, f64), b: (f64, f64), sb: (f64, f64)) -> bool {
        a.0 < b.0 + sb.0 && b.0 < a.0 + sa.0 && a.1 < b.1 + sb.1 && b.1 < a.1 + sa.1
    }

    #[test]
    fn edges_point_right_and_nothing_overlaps() {
        let sizes = vec![(40.0, 20.0); 6];
        let edges = [(0, 1), (1, 2), (0, 3), (3, 2), (2, 4)];
        let (at, width, height) = layered(&sizes, &edges);
        for &(from, to) in &edges {
            assert!(at[from].0 < at[to].0, "{from} -> {to}: {at:?}");
        }
        for a in 0..6 {
            for b in a + 1..6 {
                assert!(!overlaps(at[a], sizes[a], at[b], sizes[b]), "{a} and {b}: {at:?}");
            }
            assert!(at[a].0 + sizes[a].0 <= width && at[a].1 + sizes[a].1 <= height);
        }
        // 5 has no edge: a column of its own after the ranks.
        assert!(at[5].0 > at[4].0, "{at:?}");
    }

    #[test]
    fn cycles_are_laid_out_and_deterministic() {
        let sizes = vec![(30.0, 20.0); 4];
        let edges = [(0, 1), (1, 2), (2, 0), (2, 3), (3, 3)];
        let first = layered(&sizes, &edges);
        assert_eq!(first, layered(&sizes, &edges));
        assert!(first.0[0].0 < first.0[1].0 && first.0[1].0 < first.0[2].0, "{first:?}");
    }

    #[test]
    fn a_source_sits_next_to_its_target() {
        // 3 -> 2 only; 0 -> 1 -> 2: 3 goes in 1's column, not 0's.
        let sizes = vec![(30.0, 20.0); 4];
        let (at, _, _) = layered(&sizes, &[(0, 1), (1, 2), (3, 2)]);
        assert_eq!(at[3].0, at[1].0, "{at:?}");
    }
}
