//! Merging keeps a graph: the merged segment's graph starts from one input's graph
//! instead of being built from nothing.
//!
//! 1. Every surviving node of the seed graph takes its new id and keeps its level
//!    and its lists, translated. A list that pointed at deleted nodes is repaired:
//!    its surviving edges stay, and the lost slots are refilled from the surviving
//!    neighbours of each deleted one (the nodes the deleted one connected it to):
//!    candidates the selection heuristic finds diverse from the kept edges first,
//!    then the nearest. Re-selecting the whole list with the heuristic instead (as
//!    hnswlib's `repairConnectionsForUpdate` does) shrinks lists: on real-pypi-50k
//!    (40k rows, 5% deleted, 10k added; `merge_bench`) recall@10 at EF_RUNTIME 10
//!    was 0.772 that way, 0.786 this way, 0.784 for a fresh build.
//! 2. A survivor left with no neighbour on a level (all of them and theirs deleted)
//!    is linked again by the insertion search.
//! 3. The rows that were not in the seed graph are inserted on all threads.
//!
//! Repairing a list costs a few dozen distances; inserting a row costs a beam search
//! of EF_CONSTRUCTION, so a merge costs about what inserting its new rows does.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use parking_lot::Mutex;
use roaring::RoaringBitmap;

use super::build::{
    check_inputs, check_upper_words, freeze, insert, insert_all, inverse_norms, Work,
};
use super::nodes::{draw_level, Entry, Levels, Nodes, MAX_LEVEL};
use super::search::{with_scratch, Cand, GraphRef, Links};
use super::space::{CosKernel, IpKernel, Kernel, L2Kernel, Rows};
use super::{HnswError, HnswGraph, HnswParams};
use crate::distance::Metric;

/// What a merge starts from and where its nodes go.
pub(crate) struct Seed<'s> {
    pub graph: GraphRef<'s>,
    /// Old id -> new id of the seed graph's nodes (`None`: deleted).
    pub map: &'s [Option<u32>],
}

pub(crate) fn merged(
    seed: Seed<'_>,
    vectors: &[f32],
    present: Option<&RoaringBitmap>,
    params: &HnswParams,
    threads: usize,
) -> Result<HnswGraph, HnswError> {
    let dim = seed.graph.dim();
    let metric = seed.graph.metric();
    let n = check_inputs(vectors, dim, params)?;
    if seed.graph.meta.m as usize != params.m {
        return Err(HnswError::InvalidParams(
            "a merge keeps the seed graph's M; build afresh to change it",
        ));
    }
    let old_n = seed.graph.len();
    if seed.map.len() != old_n {
        return Err(HnswError::DimensionMismatch {
            what: "map",
            expected: old_n,
            got: seed.map.len(),
        });
    }
    let is_present = |id: u32| present.is_none_or(|p| p.contains(id));
    // Old -> new for the nodes that survive: in the seed graph, mapped to a row
    // that has a vector. Each new id may be taken once.
    let mut taken = RoaringBitmap::new();
    let mut to_new: Vec<Option<u32>> = vec![None; old_n];
    for (old, new) in seed.map.iter().enumerate() {
        let Some(new) = *new else { continue };
        if new as usize >= n || !taken.insert(new) {
            return Err(HnswError::InvalidParams(
                "the merge map must send nodes to distinct rows below the row count",
            ));
        }
        if seed.graph.is_node(old as u32) && is_present(new) {
            to_new[old] = Some(new);
        }
    }
    let old_levels = levels_of(&seed.graph);
    let mut levels = vec![0u8; n];
    let mut fresh = Vec::new();
    for id in 0..n as u32 {
        if is_present(id) {
            levels[id as usize] = draw_level(params.seed, params.m, id);
        }
    }
    let mut survivors = Vec::new();
    for (old, new) in to_new.iter().enumerate() {
        if let Some(new) = *new {
            levels[new as usize] = old_levels[old];
            survivors.push(old as u32);
        }
    }
    let mut survivor_rows = RoaringBitmap::new();
    survivor_rows.extend(to_new.iter().flatten().copied());
    for id in 0..n as u32 {
        if is_present(id) && !survivor_rows.contains(id) {
            fresh.push(id);
        }
    }
    check_upper_words(&levels, params.m)?;
    let inv_norms = inverse_norms(vectors, dim, metric);
    let nodes = Nodes::new(params.m as u32, n, Levels::Table(levels));
    if n > 0 {
        nodes.ensure(n as u32 - 1);
    }
    let job = Job {
        seed: &seed.graph,
        to_new: &to_new,
        survivors: &survivors,
        nodes: &nodes,
        ef: params.ef_construction,
        threads,
        fresh: &fresh,
    };
    match metric {
        Metric::Cosine => job.run(&Rows::<CosKernel>::new(vectors, dim, &inv_norms)),
        Metric::L2 => job.run(&Rows::<L2Kernel>::new(vectors, dim, &[])),
        Metric::InnerProduct => job.run(&Rows::<IpKernel>::new(vectors, dim, &[])),
    }
    let mut graph = freeze(&nodes, n as u32, dim as u32, metric, params, inv_norms);
    // Removing nodes can strand others; linking them back is linear in the graph.
    graph.repair_reachability(vectors, present);
    Ok(graph)
}

/// Level of every node of `graph` (0 for level-0 nodes), as its upper lists say.
fn levels_of(graph: &GraphRef<'_>) -> Vec<u8> {
    let mut levels = vec![0u8; graph.len()];
    let words = graph.meta.m as usize + 1;
    let top = graph.meta.max_level.min(MAX_LEVEL) as usize;
    for (slot, &node) in graph.upper_nodes.iter().enumerate() {
        let (Some(&start), Some(&end)) = (
            graph.upper_offsets.get(slot),
            graph.upper_offsets.get(slot + 1),
        ) else {
            break;
        };
        if let Some(level) = levels.get_mut(node as usize) {
            *level = (end.saturating_sub(start) as usize / words).min(top) as u8;
        }
    }
    levels
}

struct Job<'j> {
    seed: &'j GraphRef<'j>,
    to_new: &'j [Option<u32>],
    survivors: &'j [u32],
    nodes: &'j Nodes,
    ef: usize,
    threads: usize,
    fresh: &'j [u32],
}

impl Job<'_> {
    fn run<K: Kernel>(&self, rows: &Rows<'_, K>) {
        let orphans = Mutex::new(Vec::new());
        let next = AtomicUsize::new(0);
        let worker = || {
            let mut work = Work::default();
            let mut lost = Vec::new();
            while let Some(&old) = self.survivors.get(next.fetch_add(1, Relaxed)) {
                if !self.carry(rows, old, &mut work, &mut lost) {
                    orphans.lock().push(old);
                }
            }
        };
        let threads = self.threads.clamp(1, self.survivors.len().max(1));
        if threads == 1 {
            worker();
        } else {
            std::thread::scope(|scope| {
                for _ in 0..threads {
                    scope.spawn(worker);
                }
            });
        }
        self.set_entry();
        let mut orphans = orphans.into_inner();
        orphans.sort_unstable();
        with_scratch(|sc| {
            let mut work = Work::default();
            for old in orphans {
                if let Some(new) = self.to_new[old as usize] {
                    insert(self.nodes, rows, new, self.ef, sc, &mut work);
                }
            }
        });
        insert_all(self.nodes, rows, self.fresh, self.ef, self.threads);
    }

    /// Gives survivor `old` its lists under its new id, repairing those that lost
    /// neighbours. False if a list ended empty while its level has other nodes.
    fn carry<K: Kernel>(
        &self,
        rows: &Rows<'_, K>,
        old: u32,
        work: &mut Work,
        lost: &mut Vec<u32>,
    ) -> bool {
        let Some(new) = self.to_new[old as usize] else {
            return true;
        };
        self.nodes.claim(new);
        let level = self.nodes.level(new);
        let translate = |id: u32| self.to_new.get(id as usize).copied().flatten();
        let mut linked = true;
        let q = rows.row_query(new);
        for lv in 0..=level {
            let list = self.seed.list(old, lv).unwrap_or(&[]);
            work.selected.clear();
            lost.clear();
            for &id in list {
                match translate(id) {
                    Some(to) if to != new => work.selected.push(Cand { dist: 0.0, id: to }),
                    Some(_) => {}
                    None if (id as usize) < self.to_new.len() => lost.push(id),
                    None => {}
                }
            }
            if !lost.is_empty() {
                // Every surviving edge stays (it passed the heuristic when made); the
                // lost slots are refilled from the deleted neighbours' lists: first
                // candidates the heuristic finds diverse from the kept edges, then the
                // nearest others, up to the list's old length.
                let want = list.len();
                work.pool.clear();
                for &dead in lost.iter() {
                    for &id in self.seed.list(dead, lv).unwrap_or(&[]) {
                        match translate(id) {
                            Some(to) if to != new && !work.selected.iter().any(|c| c.id == to) => {
                                work.pool.push(Cand { dist: 0.0, id: to })
                            }
                            _ => {}
                        }
                    }
                }
                work.pool.sort_unstable_by_key(|c| c.id);
                work.pool.dedup_by_key(|c| c.id);
                for c in work.pool.iter_mut() {
                    c.dist = rows.dist(&q, c.id);
                }
                work.pool
                    .sort_by(|a, b| a.dist.total_cmp(&b.dist).then(a.id.cmp(&b.id)));
                work.kept.clear();
                for &c in &work.pool {
                    if work.selected.len() >= want {
                        break;
                    }
                    let cq = rows.row_query(c.id);
                    if work.selected.iter().all(|s| rows.dist(&cq, s.id) >= c.dist) {
                        work.selected.push(c);
                    } else {
                        work.kept.push(c);
                    }
                }
                let room = want.saturating_sub(work.selected.len());
                work.selected.extend(work.kept.iter().take(room).copied());
                if work.selected.is_empty() {
                    linked = false;
                }
            }
            self.nodes
                .set_list(new, lv, work.selected.iter().map(|c| c.id));
        }
        linked
    }

    /// The seed's entry point if it survives, else a survivor on the highest level.
    fn set_entry(&self) {
        let entry = match self
            .to_new
            .get(self.seed.meta.entry as usize)
            .copied()
            .flatten()
        {
            Some(node) => Some(Entry {
                node,
                level: self.nodes.level(node),
            }),
            None => self
                .survivors
                .iter()
                .filter_map(|&old| self.to_new[old as usize])
                .map(|node| Entry {
                    node,
                    level: self.nodes.level(node),
                })
                .max_by_key(|e| (e.level, std::cmp::Reverse(e.node))),
        };
        if let Some(entry) = entry {
            let mut slot = self.nodes.entry.lock();
            self.nodes.publish_entry(&mut slot, entry);
        }
    }
}

impl HnswGraph {
    /// The graph of a merged segment, started from an input's graph instead of
    /// built from nothing (see the module docs of `merge`).
    ///
    /// `seed` is the starting graph (e.g. the largest input segment's, mapped);
    /// `map[old]` is the new id of its node `old` (`None`: deleted). `vectors` are
    /// the merged rows, row-major in the new numbering, and `present` the rows that
    /// have a vector (all when `None`). Rows that have a vector and no seed node are
    /// inserted on `threads` threads. The metric and dimension are the seed's; `M`
    /// must be too, EF_CONSTRUCTION and the level seed (for the new rows) are
    /// `params`'.
    pub fn merged(
        seed: GraphRef<'_>,
        map: &[Option<u32>],
        vectors: &[f32],
        present: Option<&RoaringBitmap>,
        params: &HnswParams,
        threads: usize,
    ) -> Result<HnswGraph, HnswError> {
        merged(Seed { graph: seed, map }, vectors, present, params, threads)
    }
}
