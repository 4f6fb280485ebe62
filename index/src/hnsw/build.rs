//! Parallel HNSW construction (hnswlib's `addPoint`, with its per-node locks).
//!
//! Rows are inserted in id order by `threads` workers taking the next id from a
//! shared counter. Each neighbour list is a run of `AtomicU32` (a count, then ids):
//! writers change a list only under that node's lock, readers (other workers'
//! searches) read it without one. A reader may then see a list half-replaced, but
//! every word it can see is a valid id of an already linked node, so the worst case
//! is one slightly stale hop, which hnswlib accepts as well (it locks on reads too,
//! but the list it reads can be stale a moment later all the same).

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::Relaxed, Ordering::Release};

use parking_lot::Mutex;

use super::search::{greedy, search_layer, with_scratch, Beam, Cand, Links, RowFilter, Scratch};
use super::space::{inverse_norm, CosKernel, IpKernel, Kernel, L2Kernel, Rows};
use super::{HnswError, HnswGraph, HnswParams, Meta};
use crate::distance::Metric;

/// Levels above this are never drawn (with M >= 2 a level of 32 has probability
/// below 2^-32 per row); it bounds the descent and the header check.
pub(crate) const MAX_LEVEL: u32 = 32;

struct AcceptAll;
impl RowFilter for AcceptAll {
    #[inline(always)]
    fn matches(&self, _: u32) -> bool {
        true
    }
}

/// The entry point: the first node of the highest level.
#[derive(Clone, Copy)]
struct Entry {
    node: u32,
    level: u32,
}

struct BuildGraph {
    n: u32,
    m: u32,
    m0: u32,
    levels: Vec<u8>,
    /// `n * (1 + m0)` words, as in the file.
    level0: Vec<AtomicU32>,
    /// Per node with level > 0: `level * (1 + m)` words; empty for the others.
    upper: Vec<Box<[AtomicU32]>>,
    locks: Vec<Mutex<()>>,
    entry: Mutex<Option<Entry>>,
}

impl BuildGraph {
    fn block(&self, node: u32, level: u32) -> Option<&[AtomicU32]> {
        if level == 0 {
            let stride = self.m0 as usize + 1;
            self.level0
                .get(node as usize * stride..(node as usize + 1) * stride)
        } else {
            let stride = self.m as usize + 1;
            let at = (level as usize - 1) * stride;
            self.upper.get(node as usize)?.get(at..at + stride)
        }
    }

    /// Writes a list; the caller holds `node`'s lock. Ids first, count last, so a
    /// concurrent reader never sees a count covering slots not written yet.
    fn set_list(&self, node: u32, level: u32, ids: impl ExactSizeIterator<Item = u32>) {
        if let Some(block) = self.block(node, level) {
            let count = ids.len().min(block.len() - 1);
            for (slot, id) in block[1..].iter().zip(ids) {
                slot.store(id, Relaxed);
            }
            block[0].store(count as u32, Release);
        }
    }
}

impl Links for BuildGraph {
    fn node_count(&self) -> u32 {
        self.n
    }

    #[inline]
    fn neighbors(&self, node: u32, level: u32, out: &mut Vec<u32>) {
        out.clear();
        if let Some(block) = self.block(node, level) {
            let count =
                (block[0].load(std::sync::atomic::Ordering::Acquire) as usize).min(block.len() - 1);
            out.extend(block[1..1 + count].iter().map(|a| a.load(Relaxed)));
        }
    }
}

/// Buffers of one worker, beside the search scratch.
#[derive(Default)]
struct Work {
    found: Vec<Cand>,
    selected: Vec<Cand>,
    pool: Vec<Cand>,
    kept: Vec<Cand>,
    ids: Vec<u32>,
}

pub(crate) fn build(
    vectors: &[f32],
    dim: usize,
    metric: Metric,
    params: &HnswParams,
    threads: usize,
) -> Result<HnswGraph, HnswError> {
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
    let (m, m0) = (params.m as u32, 2 * params.m as u32);
    let levels = draw_levels(n, params.m, params.seed);
    // The file addresses upper lists with u32 word offsets.
    let upper_words: u64 = levels.iter().map(|&l| l as u64 * (m as u64 + 1)).sum();
    if upper_words > u32::MAX as u64 {
        return Err(HnswError::TooManyRows(n));
    }
    let inv_norms: Vec<f32> = if metric == Metric::Cosine {
        vectors.chunks_exact(dim).map(inverse_norm).collect()
    } else {
        Vec::new()
    };
    let graph = BuildGraph {
        n: n as u32,
        m,
        m0,
        level0: (0..n * (m0 as usize + 1))
            .map(|_| AtomicU32::new(0))
            .collect(),
        upper: levels
            .iter()
            .map(|&l| {
                (0..l as usize * (m as usize + 1))
                    .map(|_| AtomicU32::new(0))
                    .collect()
            })
            .collect(),
        locks: (0..n).map(|_| Mutex::new(())).collect(),
        levels,
        entry: Mutex::new(None),
    };
    let ef = params.ef_construction;
    match metric {
        Metric::Cosine => insert_all(
            &graph,
            Rows::<CosKernel>::new(vectors, dim, &inv_norms),
            ef,
            threads,
        ),
        Metric::L2 => insert_all(
            &graph,
            Rows::<L2Kernel>::new(vectors, dim, &[]),
            ef,
            threads,
        ),
        Metric::InnerProduct => insert_all(
            &graph,
            Rows::<IpKernel>::new(vectors, dim, &[]),
            ef,
            threads,
        ),
    }
    Ok(freeze(graph, dim as u32, metric, params, inv_norms))
}

/// Level of each row: `floor(-ln(U) / ln(M))`, U uniform in (0, 1], from SplitMix64.
fn draw_levels(n: usize, m: usize, seed: u64) -> Vec<u8> {
    let mult = 1.0 / (m as f64).ln();
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let u = ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
            ((-u.ln() * mult) as u32).min(MAX_LEVEL) as u8
        })
        .collect()
}

fn insert_all<K: Kernel>(graph: &BuildGraph, rows: Rows<'_, K>, ef: usize, threads: usize) {
    let n = graph.n as usize;
    let next = AtomicUsize::new(0);
    let worker = || {
        with_scratch(|sc| {
            let mut work = Work::default();
            loop {
                let i = next.fetch_add(1, Relaxed);
                if i >= n {
                    break;
                }
                insert(graph, &rows, i as u32, ef, sc, &mut work);
            }
        })
    };
    let threads = threads.clamp(1, n.max(1));
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

fn insert<K: Kernel>(
    graph: &BuildGraph,
    rows: &Rows<'_, K>,
    node: u32,
    ef: usize,
    sc: &mut Scratch,
    work: &mut Work,
) {
    let level = graph.levels[node as usize] as u32;
    let q = rows.row_query(node);
    let mut entry_guard = graph.entry.lock();
    let Some(entry) = *entry_guard else {
        *entry_guard = Some(Entry { node, level });
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
        cur = greedy(rows, graph, &q, cur, lv, sc);
    }
    for lv in (0..=level.min(entry.level)).rev() {
        search_layer::<K, _, false>(
            rows,
            graph,
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
        select_heuristic(rows, &work.found, graph.m as usize, &mut work.selected);
        connect(graph, rows, node, lv, work);
        if let Some(&closest) = work.selected.first() {
            cur = closest;
        }
    }
    if let Some(mut guard) = held {
        *guard = Some(Entry { node, level });
    }
}

/// The neighbour-selection heuristic (paper's Algorithm 4, hnswlib's
/// `getNeighborsByHeuristic2`): walking candidates nearest first, keep one only if
/// it is closer to the base than to every one kept, so edges spread in directions
/// instead of bunching in the nearest cluster. `sorted` is ascending by distance.
fn select_heuristic<K: Kernel>(rows: &Rows<'_, K>, sorted: &[Cand], m: usize, out: &mut Vec<Cand>) {
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
fn connect<K: Kernel>(
    graph: &BuildGraph,
    rows: &Rows<'_, K>,
    node: u32,
    level: u32,
    work: &mut Work,
) {
    let cap = if level == 0 { graph.m0 } else { graph.m } as usize;
    {
        let _lock = graph.locks[node as usize].lock();
        graph.set_list(node, level, work.selected.iter().map(|c| c.id));
    }
    for &other in &work.selected {
        let _lock = graph.locks[other.id as usize].lock();
        graph.neighbors(other.id, level, &mut work.ids);
        if work.ids.contains(&node) {
            continue;
        }
        if work.ids.len() < cap {
            work.ids.push(node);
            graph.set_list(other.id, level, work.ids.iter().copied());
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
        graph.set_list(other.id, level, work.kept.iter().map(|c| c.id));
    }
}

fn freeze(
    graph: BuildGraph,
    dim: u32,
    metric: Metric,
    params: &HnswParams,
    inv_norms: Vec<f32>,
) -> HnswGraph {
    let entry = graph.entry.into_inner().unwrap_or(Entry {
        node: u32::MAX,
        level: 0,
    });
    let mut upper_nodes = Vec::new();
    let mut upper_offsets = vec![0u32];
    let mut upper_links = Vec::new();
    for (node, block) in graph.upper.into_iter().enumerate() {
        if !block.is_empty() {
            upper_nodes.push(node as u32);
            upper_links.extend(block.into_vec().into_iter().map(AtomicU32::into_inner));
            upper_offsets.push(upper_links.len() as u32);
        }
    }
    HnswGraph {
        meta: Meta {
            n: graph.n,
            dim,
            metric,
            m: graph.m,
            m0: graph.m0,
            ef_construction: params.ef_construction as u32,
            seed: params.seed,
            entry: entry.node,
            max_level: entry.level,
        },
        level0: graph
            .level0
            .into_iter()
            .map(AtomicU32::into_inner)
            .collect(),
        inv_norms,
        upper_nodes,
        upper_offsets,
        upper_links,
    }
}
