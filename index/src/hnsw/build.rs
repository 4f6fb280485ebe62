//! HNSW insertion (hnswlib's `addPoint`, with its per-node locks), and the bulk
//! build on top of it.
//!
//! One insertion path serves the bulk build, the merge and the live graph: a node is
//! inserted into a [`Nodes`] store by [`insert`], whatever the rows are read from
//! (a [`RowStore`]). The bulk build inserts rows in id order from `threads` workers
//! taking the next id from a shared counter, then [`freeze`]s the store into the
//! arrays of the file format.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use roaring::RoaringBitmap;

use super::nodes::{draw_level, Entry, Levels, Nodes};
use super::search::{greedy, search_layer, with_scratch, Beam, Cand, Links, RowFilter, Scratch};
use super::space::{inverse_norm, CosKernel, IpKernel, Kernel, L2Kernel, RowStore, Rows};
use super::{HnswError, HnswGraph, HnswParams, Meta};
use crate::distance::Metric;

pub(crate) use super::nodes::MAX_LEVEL;

struct AcceptAll;
impl RowFilter for AcceptAll {
    #[inline(always)]
    fn matches(&self, _: u32) -> bool {
        true
    }
}

/// Buffers of one worker, beside the search scratch.
#[derive(Default)]
pub(crate) struct Work {
    found: Vec<Cand>,
    pub selected: Vec<Cand>,
    pub pool: Vec<Cand>,
    pub kept: Vec<Cand>,
    ids: Vec<u32>,
}

/// Checks what every build and merge needs of its inputs; returns the row count.
pub(crate) fn check_inputs(
    vectors: &[f32],
    dim: usize,
    params: &HnswParams,
) -> Result<usize, HnswError> {
    params.validate()?;
    if dim == 0 || dim > u32::MAX as usize {
        return Err(HnswError::InvalidParams("dim must be in 1..=u32::MAX"));
    }
    if !vectors.len().is_multiple_of(dim) {
        let expected = vectors.len() / dim * dim;
        return Err(HnswError::DimensionMismatch {
            what: "vectors",
            expected,
            got: vectors.len(),
        });
    }
    let n = vectors.len() / dim;
    // u32::MAX stays free as "no node".
    if n >= u32::MAX as usize {
        return Err(HnswError::TooManyRows(n));
    }
    Ok(n)
}

/// The file addresses upper lists with u32 word offsets.
pub(crate) fn check_upper_words(levels: &[u8], m: usize) -> Result<(), HnswError> {
    let words: u64 = levels.iter().map(|&l| l as u64 * (m as u64 + 1)).sum();
    if words > u32::MAX as u64 {
        return Err(HnswError::TooManyRows(levels.len()));
    }
    Ok(())
}

/// `1/|v|` per row for COSINE (0 for rows without a vector, whose stored floats are
/// zeros anyway); empty for the other metrics.
pub(crate) fn inverse_norms(vectors: &[f32], dim: usize, metric: Metric) -> Vec<f32> {
    if metric == Metric::Cosine {
        vectors.chunks_exact(dim).map(inverse_norm).collect()
    } else {
        Vec::new()
    }
}

pub(crate) fn build(
    vectors: &[f32],
    dim: usize,
    metric: Metric,
    params: &HnswParams,
    threads: usize,
    present: Option<&RoaringBitmap>,
) -> Result<HnswGraph, HnswError> {
    let n = check_inputs(vectors, dim, params)?;
    let is_present = |id: u32| present.is_none_or(|p| p.contains(id));
    // Rows without a vector get level 0: they never appear on an upper level.
    let levels: Vec<u8> = (0..n as u32)
        .map(|id| {
            if is_present(id) {
                draw_level(params.seed, params.m, id)
            } else {
                0
            }
        })
        .collect();
    check_upper_words(&levels, params.m)?;
    let inv_norms = inverse_norms(vectors, dim, metric);
    let nodes = Nodes::new(params.m as u32, n, Levels::Table(levels));
    if n > 0 {
        nodes.ensure(n as u32 - 1);
    }
    let ids: Vec<u32> = match present {
        None => (0..n as u32).collect(),
        Some(p) => p.iter().take_while(|&id| (id as usize) < n).collect(),
    };
    let ef = params.ef_construction;
    match metric {
        Metric::Cosine => insert_all(
            &nodes,
            &Rows::<CosKernel>::new(vectors, dim, &inv_norms),
            &ids,
            ef,
            threads,
        ),
        Metric::L2 => insert_all(
            &nodes,
            &Rows::<L2Kernel>::new(vectors, dim, &[]),
            &ids,
            ef,
            threads,
        ),
        Metric::InnerProduct => insert_all(
            &nodes,
            &Rows::<IpKernel>::new(vectors, dim, &[]),
            &ids,
            ef,
            threads,
        ),
    }
    Ok(freeze(
        &nodes, n as u32, dim as u32, metric, params, inv_norms,
    ))
}

/// Inserts `ids` (each not inserted yet) on `threads` workers, in about id order.
pub(crate) fn insert_all<'a, K: Kernel, S: RowStore<'a>>(
    nodes: &Nodes,
    rows: &Rows<'a, K, S>,
    ids: &[u32],
    ef: usize,
    threads: usize,
) {
    let next = AtomicUsize::new(0);
    let worker = || {
        with_scratch(|sc| {
            let mut work = Work::default();
            while let Some(&id) = ids.get(next.fetch_add(1, Relaxed)) {
                if nodes.claim(id) {
                    insert(nodes, rows, id, ef, sc, &mut work);
                }
            }
        })
    };
    let threads = threads.clamp(1, ids.len().max(1));
    if threads == 1 {
        worker();
    } else {
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(worker);
            }
        });
    }
}

/// Links `node` (claimed by the caller, its vector and norm in place) into the graph.
pub(crate) fn insert<'a, K: Kernel, S: RowStore<'a>>(
    nodes: &Nodes,
    rows: &Rows<'a, K, S>,
    node: u32,
    ef: usize,
    sc: &mut Scratch,
    work: &mut Work,
) {
    let level = nodes.level(node);
    let q = rows.row_query(node);
    let mut entry_guard = nodes.entry.lock();
    let Some(entry) = *entry_guard else {
        nodes.publish_entry(&mut entry_guard, Entry { node, level });
        return;
    };
    // A node that raises the top level keeps the entry lock until it is linked, so no
    // one starts from it half-built (hnswlib's `global` lock); all others let go now.
    let raises = level > entry.level;
    let held = if raises {
        Some(entry_guard)
    } else {
        // Explicit: a guard merely not moved would live to the end of the function.
        drop(entry_guard);
        None
    };

    let mut cur = Cand {
        dist: rows.dist(&q, entry.node),
        id: entry.node,
    };
    for lv in (level + 1..=entry.level).rev() {
        cur = greedy(rows, nodes, &q, cur, lv, sc);
    }
    for lv in (0..=level.min(entry.level)).rev() {
        search_layer::<K, S, _, false>(
            rows,
            nodes,
            &q,
            Beam {
                entry: cur,
                level: lv,
                ef,
            },
            &AcceptAll,
            sc,
        );
        work.found.clear();
        work.found
            .extend(sc.top.drain().map(|f| f.0).filter(|c| c.id != node));
        work.found
            .sort_by(|a, b| a.dist.total_cmp(&b.dist).then(a.id.cmp(&b.id)));
        select_heuristic(rows, &work.found, nodes.m as usize, &mut work.selected);
        connect(nodes, rows, node, lv, work);
        if let Some(&closest) = work.selected.first() {
            cur = closest;
        }
    }
    if let Some(mut guard) = held {
        nodes.publish_entry(&mut guard, Entry { node, level });
    }
}

/// The neighbour-selection heuristic (paper's Algorithm 4, hnswlib's
/// `getNeighborsByHeuristic2`): walking candidates nearest first, keep one only if
/// it is closer to the base than to every one kept, so edges spread in directions
/// instead of bunching in the nearest cluster. `sorted` is ascending by distance.
/// Keeps at least one candidate when there is any, so no list it makes is empty.
pub(crate) fn select_heuristic<'a, K: Kernel, S: RowStore<'a>>(
    rows: &Rows<'a, K, S>,
    sorted: &[Cand],
    m: usize,
    out: &mut Vec<Cand>,
) {
    out.clear();
    if sorted.len() < m {
        out.extend_from_slice(sorted);
        return;
    }
    for &c in sorted {
        if out.len() >= m {
            break;
        }
        let cq = rows.row_query(c.id);
        if out.iter().all(|s| rows.dist(&cq, s.id) >= c.dist) {
            out.push(c);
        }
    }
}

/// Links `node` to `work.selected` on `level`, and each of them back to `node`,
/// shrinking a full list with the heuristic.
fn connect<'a, K: Kernel, S: RowStore<'a>>(
    nodes: &Nodes,
    rows: &Rows<'a, K, S>,
    node: u32,
    level: u32,
    work: &mut Work,
) {
    let cap = if level == 0 { nodes.m0 } else { nodes.m } as usize;
    {
        let _lock = nodes.lock(node);
        nodes.set_list(node, level, work.selected.iter().map(|c| c.id));
    }
    for &other in &work.selected {
        let _lock = nodes.lock(other.id);
        nodes.neighbors(other.id, level, &mut work.ids);
        if work.ids.contains(&node) {
            continue;
        }
        if work.ids.len() < cap {
            work.ids.push(node);
            nodes.set_list(other.id, level, work.ids.iter().copied());
            continue;
        }
        // Full: re-select among the old neighbours and the new node.
        let oq = rows.row_query(other.id);
        work.pool.clear();
        work.pool.extend(work.ids.iter().map(|&id| Cand {
            dist: rows.dist(&oq, id),
            id,
        }));
        work.pool.push(Cand {
            dist: other.dist,
            id: node,
        });
        work.pool
            .sort_by(|a, b| a.dist.total_cmp(&b.dist).then(a.id.cmp(&b.id)));
        select_heuristic(rows, &work.pool, cap, &mut work.kept);
        nodes.set_list(other.id, level, work.kept.iter().map(|c| c.id));
    }
}

/// The graph over ids `0..n` as the file lays it out. Ids that were never inserted
/// are rows without a vector: an empty level-0 list and no upper levels. Safe to call
/// while insertions run (the live graph's snapshot): lists keep only inserted ids
/// below `n`, and levels are capped at the entry point's, so the result is always a
/// well-formed graph, if one missing the insertions in flight.
pub(crate) fn freeze(
    nodes: &Nodes,
    n: u32,
    dim: u32,
    metric: Metric,
    params: &HnswParams,
    inv_norms: Vec<f32>,
) -> HnswGraph {
    let current = *nodes.entry.lock();
    let entry = match current {
        Some(e) if e.node < n => e,
        // Only when the caller broke the contract (an inserted id at or past `n`):
        // the highest inserted node below `n` stands in.
        _ => (0..n)
            .filter(|&id| nodes.is_inserted(id))
            .map(|node| Entry {
                node,
                level: nodes.level(node),
            })
            .max_by_key(|e| (e.level, std::cmp::Reverse(e.node)))
            .unwrap_or(Entry {
                node: if n > 0 { 0 } else { u32::MAX },
                level: 0,
            }),
    };
    let (m, m0) = (nodes.m as usize, nodes.m0 as usize);
    let mut level0 = vec![0u32; n as usize * (m0 + 1)];
    let mut upper_nodes = Vec::new();
    let mut upper_offsets = vec![0u32];
    let mut upper_links = Vec::new();
    let mut list = Vec::new();
    let keep = |id: &u32| *id < n && nodes.is_inserted(*id);
    for node in 0..n {
        if !nodes.is_inserted(node) {
            continue;
        }
        nodes.neighbors(node, 0, &mut list);
        list.retain(keep);
        let block = &mut level0[node as usize * (m0 + 1)..(node as usize + 1) * (m0 + 1)];
        block[0] = list.len() as u32;
        block[1..1 + list.len()].copy_from_slice(&list);
        let level = nodes.level(node).min(entry.level);
        if level > 0 {
            upper_nodes.push(node);
            for lv in 1..=level {
                nodes.neighbors(node, lv, &mut list);
                list.retain(keep);
                upper_links.push(list.len() as u32);
                upper_links.extend_from_slice(&list);
                upper_links.resize(upper_links.len() + m - list.len(), 0);
            }
            upper_offsets.push(upper_links.len() as u32);
        }
    }
    HnswGraph {
        meta: Meta {
            n,
            dim,
            metric,
            m: nodes.m,
            m0: nodes.m0,
            ef_construction: params.ef_construction as u32,
            seed: params.seed,
            entry: entry.node,
            max_level: entry.level,
        },
        level0,
        inv_norms,
        upper_nodes,
        upper_offsets,
        upper_links,
        sq8: None,
    }
}
