//! Reachability: every node a search must be able to return can be walked to on
//! level 0 from the entry point.
//!
//! Why this is needed: the neighbour heuristic keeps an edge only if its target is
//! closer to the base than to every neighbour already kept, and a full list is
//! re-selected by the same rule each time a node links back to it. A node can so lose
//! every edge pointing at it. Exact duplicates are the common victims: seen from any
//! other node, a group of rows sharing one vector are all at the same distance, and
//! the heuristic keeps one of them at most; if later insertions evict that one edge
//! too, the whole group drops out of the graph. A concurrent build makes it worse and
//! random (which insertion sees which list depends on timing), which is how 1-3 rows
//! of a 2,000-row build could not even find themselves.
//!
//! The repair ([`HnswGraph::repair_reachability`]) walks level 0 from the entry point,
//! and links every present node the walk missed into the reached part: from those of
//! its `M` nearest reached nodes that have a free slot, or, when none has one, by
//! splicing it into the nearest one's edge to its neighbour closest to the node
//! (`c -> e` becomes `c -> u -> e`). A splice never strands anyone: the only edge it
//! takes away from `u` led out of an unreached node, so it carried no reached path,
//! and every path through `c -> e` now runs through `u`. Each step therefore reaches
//! at least one more node, and the repair ends after at most one step per node.
//! Upper levels are not changed: they only choose where the level-0 walk starts.
//!
//! Reachable is not yet findable: an outlier whose in-edges come from far away is
//! reachable, but a search heading for it stops in the nearest cluster. So the build
//! also runs [`HnswGraph::repair_findability`]: every node searches for its own vector
//! with a narrow beam, and one that is missed gets in-edges from where that search
//! ended. That costs one small search per node (a fraction of the build, which runs
//! one wide search per node); merges and single inserts should call the reachability
//! repair, which is linear in the graph, and leave this one to full builds.

use roaring::RoaringBitmap;

use super::search::GraphRef;
use super::{HnswGraph, HnswIndex};
use crate::topk::Neighbor;

/// Beam width of the search that finds where to link an unreached node: wide enough
/// to see a node with a free slot among many full ones, bounded so that a graph built
/// with a huge `EF_CONSTRUCTION` does not make the repair a scan.
const REPAIR_EF_MAX: usize = 256;

/// Beam of the self-search [`HnswGraph::repair_findability`] runs for every node:
/// narrower than the `EF_RUNTIME` users search with, so a node it finds is found by
/// them too.
const FIND_EF: usize = 32;

/// Marks every node reachable on level 0 from `start` that is not marked yet.
fn walk(graph: &GraphRef<'_>, start: u32, reached: &mut [bool], stack: &mut Vec<u32>) {
    let n = graph.meta.n;
    if start >= n || reached[start as usize] {
        return;
    }
    reached[start as usize] = true;
    stack.push(start);
    while let Some(node) = stack.pop() {
        for &id in graph.list(node, 0).unwrap_or(&[]) {
            if id < n && !reached[id as usize] {
                reached[id as usize] = true;
                stack.push(id);
            }
        }
    }
}

/// Level-0 reachability from the entry point, one flag per node.
fn reached_from_entry(graph: &GraphRef<'_>) -> Vec<bool> {
    let mut reached = vec![false; graph.meta.n as usize];
    walk(graph, graph.meta.entry, &mut reached, &mut Vec::new());
    reached
}

impl GraphRef<'_> {
    /// The nodes among `present` (every node when `None`) that a search cannot reach:
    /// no level-0 path leads to them from the entry point. Ids in `present` that are
    /// not nodes at all (`>= len()`) are listed too. Ascending.
    ///
    /// O(nodes + edges); a graph built or repaired by this crate has none.
    pub fn unreachable_nodes(&self, present: Option<&RoaringBitmap>) -> Vec<u32> {
        let reached = reached_from_entry(self);
        let missing = |id: &u32| !reached.get(*id as usize).copied().unwrap_or(false);
        match present {
            Some(rows) => rows.iter().filter(missing).collect(),
            None => (0..self.meta.n).filter(missing).collect(),
        }
    }
}

impl HnswGraph {
    /// Links every node of `present` (every node when `None`) that level 0 cannot
    /// reach from the entry point into the reached part; afterwards
    /// [`GraphRef::unreachable_nodes`] of the same set is empty. `vectors` are the rows
    /// the graph was built over (`len() x dim`). Nodes outside `present` (rows without
    /// a vector, deleted rows) are walked through but need not be reached.
    ///
    /// Deterministic: the same graph and vectors give the same result. Called at the
    /// end of every build; merges and incremental inserts call it too.
    pub(crate) fn repair_reachability(&mut self, vectors: &[f32], present: Option<&RoaringBitmap>) {
        let (n, dim) = (self.meta.n, self.meta.dim as usize);
        if n == 0 || self.meta.entry >= n || vectors.len() != n as usize * dim {
            return;
        }
        let mut reached = reached_from_entry(&self.graph_ref());
        let todo: Vec<u32> = match present {
            Some(rows) => rows.iter().take_while(|&id| id < n).collect(),
            None => (0..n).collect(),
        };
        let ef = self
            .meta
            .ef_construction
            .clamp(self.meta.m0, REPAIR_EF_MAX as u32) as usize;
        let mut stack = Vec::new();
        for node in todo {
            if reached[node as usize] {
                continue;
            }
            let row = &vectors[node as usize * dim..(node as usize + 1) * dim];
            let nearest = {
                let is_reached = |id: u32| reached[id as usize];
                // The filter keeps the answer inside the reached part even when the
                // search falls back to scanning what its walk did not see.
                self.graph_ref()
                    .search(vectors, row, ef, ef, Some(&is_reached))
                    .unwrap_or_default()
            };
            let Some(first) = nearest.first() else {
                // Nothing reached at all: impossible while the entry point is.
                continue;
            };
            self.link_from(node, false, &nearest, first.id, vectors);
            let graph = self.graph_ref();
            walk(&graph, node, &mut reached, &mut stack);
            // `node` is reached through its new in-edge, whatever its out-edges.
            reached[node as usize] = true;
        }
    }

    /// Makes every node of `present` (all when `None`) find itself: a search for
    /// its own vector with a beam of [`FIND_EF`] must return it among the `M`
    /// nearest (unless all `M` are rows with the very same vector: of more than `M`
    /// copies, a query cannot prefer one). A node the search misses gets in-edges from the nodes the
    /// search ended at, which are exactly where a query for it arrives. Call after
    /// [`Self::repair_reachability`]; it only adds edges (or splices), so everything
    /// reachable stays reachable.
    ///
    /// Why: reachability is not enough. An outlier whose only in-edges come from far
    /// away is reachable, yet a k-NN search heading for it stops in the nearest
    /// cluster; on the 2,000 real embeddings of the demo sample, 1 to 34 rows per
    /// two-thread build did not find themselves at `EF_RUNTIME 64`.
    pub(crate) fn repair_findability(&mut self, vectors: &[f32], present: Option<&RoaringBitmap>) {
        let (n, dim) = (self.meta.n, self.meta.dim as usize);
        if n == 0 || self.meta.entry >= n || vectors.len() != n as usize * dim {
            return;
        }
        let todo: Vec<u32> = match present {
            Some(rows) => rows.iter().take_while(|&id| id < n).collect(),
            None => (0..n).collect(),
        };
        let k = self.meta.m as usize;
        for node in todo {
            let row = &vectors[node as usize * dim..(node as usize + 1) * dim];
            let nearest = self
                .graph_ref()
                .search(vectors, row, k, FIND_EF.max(k), None)
                .unwrap_or_default();
            let Some(first) = nearest.first() else {
                continue;
            };
            // Found means the node itself comes back, not merely a copy of its vector:
            // of several identical rows, one reached only through far nodes is lost to
            // a query for their vector, which the copies' lists then answer without it.
            let same = |id: u32| &vectors[id as usize * dim..(id as usize + 1) * dim] == row;
            let all_copies = nearest.len() >= k && nearest.iter().all(|hit| same(hit.id));
            if all_copies || nearest.iter().any(|hit| hit.id == node) {
                continue;
            }
            self.link_from(node, true, &nearest, first.id, vectors);
        }
    }

    /// Gives `node` in-edges from the first `M` of `nearest` (ascending by distance)
    /// that have a free slot, or splices it into `first`'s list when none has (see
    /// [`Self::splice`] for `node_reached`). In-edges from the node's own neighbourhood matter: an edge from
    /// a far node makes it reachable but still lost to a search with a modest beam.
    fn link_from(
        &mut self,
        node: u32,
        node_reached: bool,
        nearest: &[Neighbor],
        first: u32,
        vectors: &[f32],
    ) {
        let mut linked = false;
        for near in nearest.iter().take(self.meta.m as usize) {
            if near.id != node
                && self.level0_count(near.id) < self.meta.m0
                && !self.level0_list(near.id).contains(&node)
            {
                self.push_level0(near.id, node);
                linked = true;
            }
        }
        if !linked && first != node && !self.level0_list(first).contains(&node) {
            self.splice(first, node, node_reached, vectors);
        }
    }

    fn level0_list(&self, node: u32) -> &[u32] {
        let stride = self.meta.m0 as usize + 1;
        let block = &self.level0[node as usize * stride..(node as usize + 1) * stride];
        &block[1..1 + block[0] as usize]
    }

    fn level0_block(&mut self, node: u32) -> &mut [u32] {
        let stride = self.meta.m0 as usize + 1;
        &mut self.level0[node as usize * stride..(node as usize + 1) * stride]
    }

    fn level0_count(&self, node: u32) -> u32 {
        self.level0[node as usize * (self.meta.m0 as usize + 1)]
    }

    /// Appends `id` to `node`'s level-0 list; the caller checked there is room.
    fn push_level0(&mut self, node: u32, id: u32) {
        let block = self.level0_block(node);
        let count = block[0] as usize;
        block[1 + count] = id;
        block[0] += 1;
    }

    /// `reached -> e` becomes `reached -> node -> e`, for `e` the neighbour of
    /// `reached` nearest to `node`; `reached`'s list is full. When `node`'s own list
    /// is full too, it gives up its neighbour farthest from it, which is safe only
    /// while `node` is unreached (`node_reached` false): its out-edges then carry no
    /// reached path. For a reached node that case is skipped instead.
    fn splice(&mut self, reached: u32, node: u32, node_reached: bool, vectors: &[f32]) {
        let (dim, metric, m0) = (self.meta.dim as usize, self.meta.metric, self.meta.m0);
        let row = |id: u32| &vectors[id as usize * dim..(id as usize + 1) * dim];
        let distance = |a: u32, b: u32| metric.distance(row(a), row(b));
        let nearest_slot = |list: &[u32], to: u32| {
            (0..list.len())
                .min_by(|&a, &b| {
                    distance(list[a], to)
                        .total_cmp(&distance(list[b], to))
                        .then(list[a].cmp(&list[b]))
                })
                .map(|slot| slot + 1)
        };
        let from = self.level0_block(reached).to_vec();
        let Some(slot) = nearest_slot(&from[1..1 + from[0] as usize], node) else {
            return;
        };
        if node_reached
            && self.level0_count(node) >= m0
            && !self.level0_list(node).contains(&from[slot])
        {
            return;
        }
        let evicted = from[slot];
        self.level0_block(reached)[slot] = node;
        let own = self.level0_block(node).to_vec();
        let list = &own[1..1 + own[0] as usize];
        if list.contains(&evicted) {
            return;
        }
        if own[0] < m0 {
            self.push_level0(node, evicted);
            return;
        }
        // Full: give up the neighbour farthest from `node`. Its edge left an
        // unreached node, so no reached path used it.
        let farthest = (0..list.len())
            .max_by(|&a, &b| {
                distance(list[a], node)
                    .total_cmp(&distance(list[b], node))
                    .then(list[b].cmp(&list[a]))
            })
            .map_or(1, |slot| slot + 1);
        self.level0_block(node)[farthest] = evicted;
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use roaring::RoaringBitmap;

    use super::super::{HnswGraph, HnswIndex, HnswParams, Meta};
    use crate::distance::Metric;

    /// Unit vectors of `dim` floats (so IP ranks as COSINE does), each stored in
    /// `copies` consecutive rows (the last group cut short: exactly `rows` rows).
    fn duplicated(rows: usize, copies: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut out = Vec::with_capacity(rows * dim);
        let mut vector = Vec::new();
        for row in 0..rows {
            if row % copies == 0 {
                vector = (0..dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
                let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
                vector.iter_mut().for_each(|x| *x /= norm);
            }
            out.extend_from_slice(&vector);
        }
        out
    }

    #[test]
    fn every_copy_of_a_duplicated_vector_is_found_after_concurrent_builds() {
        let (rows, copies, dim) = (2_000usize, 7usize, 16usize);
        let vectors = duplicated(rows, copies, dim, 5);
        for (build, metric) in [Metric::L2, Metric::Cosine, Metric::InnerProduct]
            .into_iter()
            .cycle()
            .take(6)
            .enumerate()
        {
            let params = HnswParams {
                m: 8,
                ef_construction: 100,
                seed: build as u64,
            };
            let graph = HnswGraph::build(&vectors, dim, metric, &params, 2).unwrap();
            assert_eq!(graph.graph_ref().unreachable_nodes(None), Vec::<u32>::new());
            for first in (0..rows).step_by(copies) {
                let group: Vec<u32> = (first..rows.min(first + copies))
                    .map(|r| r as u32)
                    .collect();
                let query = &vectors[first * dim..(first + 1) * dim];
                let mut got: Vec<u32> = graph
                    .search(&vectors, query, group.len(), 1_000, None)
                    .unwrap()
                    .iter()
                    .map(|hit| hit.id)
                    .collect();
                got.sort_unstable();
                assert_eq!(got, group, "build {build} ({metric:?})");
            }
        }
    }

    #[test]
    fn a_single_threaded_build_with_duplicates_is_reproducible() {
        let vectors = duplicated(1_500, 5, 8, 9);
        let params = HnswParams::new(6, 60);
        let a = HnswGraph::build(&vectors, 8, Metric::Cosine, &params, 1).unwrap();
        let b = HnswGraph::build(&vectors, 8, Metric::Cosine, &params, 1).unwrap();
        assert_eq!(a.to_bytes(), b.to_bytes());
    }

    /// Two cliques of five nodes with full level-0 lists (M0 = 4); the entry point is in
    /// the first, so the second is cut off and has to be spliced in.
    fn two_full_cliques() -> (HnswGraph, Vec<f32>) {
        let (n, m0) = (10u32, 4u32);
        let mut level0 = Vec::new();
        for node in 0..n {
            let base = node / 5 * 5;
            level0.push(m0);
            level0.extend((base..base + 5).filter(|&other| other != node));
        }
        let vectors: Vec<f32> = (0..n).flat_map(|i| [i as f32, (i % 3) as f32]).collect();
        let graph = HnswGraph {
            meta: Meta {
                n,
                dim: 2,
                metric: Metric::L2,
                m: 2,
                m0,
                ef_construction: 10,
                seed: 0,
                entry: 0,
                max_level: 0,
            },
            level0,
            inv_norms: Vec::new(),
            upper_nodes: Vec::new(),
            upper_offsets: vec![0],
            upper_links: Vec::new(),
            sq8: None,
        };
        (graph, vectors)
    }

    #[test]
    fn unreachable_nodes_are_found_and_spliced_in_without_stranding_anyone() {
        let (mut graph, vectors) = two_full_cliques();
        assert_eq!(
            graph.graph_ref().unreachable_nodes(None),
            vec![5, 6, 7, 8, 9]
        );
        let mut present = RoaringBitmap::new();
        present.insert_range(0..5);
        assert!(graph
            .graph_ref()
            .unreachable_nodes(Some(&present))
            .is_empty());
        // A present row that is not a node is unreachable too.
        present.insert(10);
        assert_eq!(
            graph.graph_ref().unreachable_nodes(Some(&present)),
            vec![10]
        );

        graph.repair_reachability(&vectors, None);
        assert!(graph.graph_ref().unreachable_nodes(None).is_empty());
        let stride = 5;
        for node in 0..10 {
            let block = &graph.level0[node * stride..(node + 1) * stride];
            assert_eq!(block[0], 4, "node {node} keeps a full list");
            let list = &block[1..];
            assert!(!list.contains(&(node as u32)), "node {node} links itself");
            let mut unique = list.to_vec();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), 4, "node {node} has a repeated neighbour");
        }
        // The view of the repaired graph passes the full structural check.
        let bytes = graph.to_bytes();
        super::super::HnswView::open(&bytes)
            .unwrap()
            .verify()
            .unwrap();
    }

    /// 200 points on a line, each linked to its two neighbours, except that 150 is
    /// skipped (149 and 151 link each other) and only the far end, 199, links to it:
    /// reachable, yet a search for it from 0 turns back long before 199.
    fn a_line_with_a_far_in_edge() -> (HnswGraph, Vec<f32>) {
        let (n, m0) = (200u32, 4u32);
        let mut level0 = Vec::new();
        for node in 0..n {
            let mut list: Vec<u32> = match node {
                150 => vec![149, 151],
                149 => vec![148, 151],
                151 => vec![149, 152],
                _ => [node.checked_sub(1), (node + 1 < n).then_some(node + 1)]
                    .into_iter()
                    .flatten()
                    .collect(),
            };
            if node == 199 {
                list.push(150);
            }
            level0.push(list.len() as u32);
            list.resize(m0 as usize, 0);
            level0.extend(list);
        }
        let vectors: Vec<f32> = (0..n).flat_map(|i| [i as f32, 0.0]).collect();
        let graph = HnswGraph {
            meta: Meta {
                n,
                dim: 2,
                metric: Metric::L2,
                m: 2,
                m0,
                ef_construction: 10,
                seed: 0,
                entry: 0,
                max_level: 0,
            },
            level0,
            inv_norms: Vec::new(),
            upper_nodes: Vec::new(),
            upper_offsets: vec![0],
            upper_links: Vec::new(),
            sq8: None,
        };
        (graph, vectors)
    }

    #[test]
    fn a_reachable_node_a_search_misses_gets_edges_from_where_the_search_ends() {
        let (mut graph, vectors) = a_line_with_a_far_in_edge();
        let query = &vectors[300..302];
        let first = |graph: &HnswGraph| graph.search(&vectors, query, 1, 64, None).unwrap()[0].id;
        assert!(graph.graph_ref().unreachable_nodes(None).is_empty());
        assert_ne!(first(&graph), 150, "the setup must hide row 150");
        graph.repair_findability(&vectors, None);
        assert_eq!(first(&graph), 150);
        assert!(graph.graph_ref().unreachable_nodes(None).is_empty());
        for node in 0..200u32 {
            let hit = graph.search(&vectors, &vectors[node as usize * 2..][..2], 1, 64, None);
            assert_eq!(hit.unwrap()[0].id, node);
        }
        super::super::HnswView::open(&graph.to_bytes())
            .unwrap()
            .verify()
            .unwrap();
    }

    #[test]
    fn only_present_nodes_must_be_reached() {
        let (mut graph, vectors) = two_full_cliques();
        let mut present = RoaringBitmap::new();
        present.insert_range(0..5);
        let before = graph.level0.clone();
        graph.repair_reachability(&vectors, Some(&present));
        assert_eq!(graph.level0, before, "nothing to repair");
        present.insert(7);
        graph.repair_reachability(&vectors, Some(&present));
        assert!(graph
            .graph_ref()
            .unreachable_nodes(Some(&present))
            .is_empty());
    }

    #[test]
    fn a_node_with_a_free_slot_takes_the_new_edge() {
        let (mut graph, vectors) = two_full_cliques();
        // Node 3 gets a free slot; the repair should use it rather than splice.
        graph.level0[3 * 5] = 3;
        graph.level0[3 * 5 + 4] = 0;
        graph.repair_reachability(&vectors, None);
        assert!(graph.graph_ref().unreachable_nodes(None).is_empty());
        assert_eq!(graph.level0[3 * 5], 4);
        for node in [0usize, 1, 2, 4] {
            let list = &graph.level0[node * 5 + 1..node * 5 + 5];
            assert!(
                list.iter().all(|&id| id < 5),
                "node {node} was spliced: {list:?}"
            );
        }
    }
}
