//! Graph traversal: the greedy descent through upper levels, the beam search of a
//! level (hnswlib's `searchBaseLayerST`), and filtered search.
//!
//! The same functions serve queries (on a [`GraphRef`], borrowed from an owned graph
//! or from file bytes) and the build (on its lock-free in-progress graph), through the
//! [`Links`] trait.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

use roaring::RoaringBitmap;

use super::space::{inverse_norm, CosKernel, IpKernel, Kernel, L2Kernel, Query, RowStore, Rows};
use super::sq8::{CodeDist, CodesRef};
use super::{HnswError, HnswParams, Meta};
use crate::distance::Metric;
use crate::topk::Neighbor;

/// Which rows a search may return. Rows that do not match are still walked through,
/// so a restrictive filter (or many deleted rows) does not cut the graph apart.
pub trait RowFilter {
    /// Whether `row` may be returned.
    fn matches(&self, row: u32) -> bool;
}

impl RowFilter for RoaringBitmap {
    #[inline]
    fn matches(&self, row: u32) -> bool {
        self.contains(row)
    }
}

impl<F: Fn(u32) -> bool> RowFilter for F {
    #[inline]
    fn matches(&self, row: u32) -> bool {
        self(row)
    }
}

struct AcceptAll;

impl RowFilter for AcceptAll {
    #[inline(always)]
    fn matches(&self, _: u32) -> bool {
        true
    }
}

/// Read access to neighbour lists, whatever stores them.
pub(crate) trait Links {
    /// Number of nodes; ids at or above it (from a damaged file) are skipped.
    fn node_count(&self) -> u32;
    /// Replaces `out` with the neighbours of `node` on `level` (empty if it has none there).
    fn neighbors(&self, node: u32, level: u32, out: &mut Vec<u32>);
    /// Hints that `node`'s level-0 list is about to be read.
    fn prefetch_node(&self, _node: u32) {}
    /// Whether `node` is in the graph (has a vector and was inserted): the
    /// exhaustive fallback of a search returns only such nodes.
    fn is_node(&self, node: u32) -> bool;
}

/// A candidate: a node and its distance to the query.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cand {
    pub dist: f32,
    pub id: u32,
}

impl Cand {
    #[inline(always)]
    fn cmp(&self, other: &Cand) -> Ordering {
        self.dist
            .total_cmp(&other.dist)
            .then(self.id.cmp(&other.id))
    }
}

/// Max-heap order: the farthest candidate on top.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Far(pub Cand);
/// Min-heap order: the nearest candidate on top.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Near(pub Cand);

macro_rules! heap_order {
    ($t:ident, $a:ident, $b:ident, $e:expr) => {
        impl PartialEq for $t {
            fn eq(&self, other: &Self) -> bool {
                self.cmp(other) == Ordering::Equal
            }
        }
        impl Eq for $t {}
        impl PartialOrd for $t {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for $t {
            #[inline(always)]
            fn cmp(&self, other: &Self) -> Ordering {
                let ($a, $b) = (&self.0, &other.0);
                $e
            }
        }
    };
}
heap_order!(Far, a, b, a.cmp(b));
heap_order!(Near, a, b, b.cmp(a));

/// Nodes seen by the current search: a generation stamp per node, so clearing is
/// O(1) instead of O(n) per query (hnswlib's `VisitedList`).
#[derive(Debug, Default)]
pub(crate) struct Visited {
    marks: Vec<u16>,
    generation: u16,
}

impl Visited {
    pub(crate) fn reset(&mut self, n: usize) {
        if self.marks.len() < n {
            self.marks.resize(n, 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            // Wrapped: stale stamps could equal the new generation.
            self.marks.fill(0);
            self.generation = 1;
        }
    }

    /// Marks `id`; true if it was not marked yet. `id < n` of the last reset.
    #[inline(always)]
    pub(crate) fn insert(&mut self, id: u32) -> bool {
        let slot = &mut self.marks[id as usize];
        let fresh = *slot != self.generation;
        *slot = self.generation;
        fresh
    }

    /// Whether `id` was marked; false past the last reset's `n` (a live graph may
    /// have grown since).
    #[inline(always)]
    fn contains(&self, id: u32) -> bool {
        self.marks.get(id as usize) == Some(&self.generation)
    }
}

/// Per-thread buffers of a search, kept between queries: allocating them per query
/// costs more than a small search.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub(crate) visited: Visited,
    pub(crate) cand: BinaryHeap<Near>,
    pub(crate) top: BinaryHeap<Far>,
    pub(crate) links: Vec<u32>,
    batch: Vec<u32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch (a fresh one if it is in use, e.g. when a
/// filter callback itself searches).
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => f(&mut scratch),
        Err(_) => f(&mut Scratch::default()),
    })
}

/// Distances from one query to rows by id, however the rows are stored: exact over
/// FLOAT32 rows ([`Exact`]) or estimated over 8-bit codes (`sq8::CodeDist`).
pub(crate) trait Dist {
    /// The distance to row `id` (`id < n`).
    fn dist(&self, id: u32) -> f32;
    /// [`Self::dist`] to four rows at once.
    fn dist4(&self, ids: [u32; 4]) -> [f32; 4];
    /// Hints that the start of row `id` is about to be read.
    fn prefetch_head(&self, id: u32);
    /// Hints that all of row `id` is about to be read.
    fn prefetch(&self, id: u32);
}

/// Exact distances from `q` to FLOAT32 rows.
pub(crate) struct Exact<'r, 'a, 'q, K, S> {
    pub rows: &'r Rows<'a, K, S>,
    pub q: &'r Query<'q>,
}

impl<'a, K: Kernel, S: RowStore<'a>> Dist for Exact<'_, 'a, '_, K, S> {
    #[inline(always)]
    fn dist(&self, id: u32) -> f32 {
        self.rows.dist(self.q, id)
    }
    #[inline(always)]
    fn dist4(&self, ids: [u32; 4]) -> [f32; 4] {
        self.rows.dist4(self.q, ids)
    }
    #[inline(always)]
    fn prefetch_head(&self, id: u32) {
        self.rows.prefetch_head(id);
    }
    #[inline(always)]
    fn prefetch(&self, id: u32) {
        self.rows.prefetch(id);
    }
}

/// Greedy walk on one level: move to the nearest neighbour while it gets closer.
pub(crate) fn greedy<'a, K: Kernel, S: RowStore<'a>, L: Links>(
    rows: &Rows<'a, K, S>,
    links: &L,
    q: &Query<'_>,
    cur: Cand,
    level: u32,
    sc: &mut Scratch,
) -> Cand {
    greedy_by(&Exact { rows, q }, links, cur, level, sc)
}

/// [`greedy`] over any [`Dist`].
pub(crate) fn greedy_by<D: Dist, L: Links>(
    d: &D,
    links: &L,
    mut cur: Cand,
    level: u32,
    sc: &mut Scratch,
) -> Cand {
    let n = links.node_count();
    loop {
        let mut changed = false;
        links.neighbors(cur.id, level, &mut sc.links);
        for &id in &sc.links {
            if id >= n {
                continue;
            }
            let dist = d.dist(id);
            // Strictly decreasing, so this ends even on a damaged graph.
            if dist < cur.dist {
                cur = Cand { dist, id };
                changed = true;
            }
        }
        if !changed {
            return cur;
        }
    }
}

/// Where a beam search starts and how wide it is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Beam {
    pub entry: Cand,
    pub level: u32,
    pub ef: usize,
}

/// Beam search of one level from `beam.entry`, keeping the `ef` nearest nodes that pass
/// `filter` in `sc.top`. Returns true if the reachable graph was exhausted.
///
/// Non-matching nodes are expanded like any other; with `FILTERED` the search stops
/// only once `ef` matching nodes are held and no candidate can improve them, so a
/// restrictive filter widens the walk instead of shrinking the result.
pub(crate) fn search_layer<'a, K: Kernel, S: RowStore<'a>, L: Links, const FILTERED: bool>(
    rows: &Rows<'a, K, S>,
    links: &L,
    q: &Query<'_>,
    beam: Beam,
    filter: &dyn RowFilter,
    sc: &mut Scratch,
) -> bool {
    search_layer_by::<_, L, FILTERED>(&Exact { rows, q }, links, beam, filter, sc)
}

/// [`search_layer`] over any [`Dist`].
#[inline(never)]
pub(crate) fn search_layer_by<D: Dist, L: Links, const FILTERED: bool>(
    rows: &D,
    links: &L,
    beam: Beam,
    filter: &dyn RowFilter,
    sc: &mut Scratch,
) -> bool {
    let Beam { entry, level, ef } = beam;
    let n = links.node_count();
    sc.visited.reset(n as usize);
    sc.cand.clear();
    sc.top.clear();
    if entry.id >= n {
        return true;
    }
    sc.visited.insert(entry.id);
    sc.cand.push(Near(entry));
    if !FILTERED || filter.matches(entry.id) {
        sc.top.push(Far(entry));
    }
    let mut bound = sc.top.peek().map_or(f32::INFINITY, |f| f.0.dist);

    while let Some(Near(current)) = sc.cand.pop() {
        if current.dist > bound && sc.top.len() >= ef {
            return false;
        }
        if let Some(Near(next)) = sc.cand.peek() {
            links.prefetch_node(next.id);
        }
        links.neighbors(current.id, level, &mut sc.links);
        // Gather the unseen neighbours first and start loading all their vectors, so
        // the memory latency of one overlaps the arithmetic of the previous ones.
        sc.batch.clear();
        for &id in &sc.links {
            if id < n && sc.visited.insert(id) {
                rows.prefetch_head(id);
                sc.batch.push(id);
            }
        }
        // Four rows per kernel call; the rows of the next group are fetched whole
        // while this one is computed. (Fetching every row whole up front measured
        // slower: it overflows the core's outstanding-miss buffers and the prefetch
        // instructions themselves stall.)
        let batch = &sc.batch;
        let mut i = 0;
        while i < batch.len() {
            for &next in batch.iter().skip(i + 4).take(4) {
                rows.prefetch(next);
            }
            if let Some(&[a, b, c, d]) = batch.get(i..i + 4) {
                let ids = [a, b, c, d];
                let dists = rows.dist4(ids);
                for (id, dist) in ids.into_iter().zip(dists) {
                    offer::<FILTERED>(
                        &mut sc.cand,
                        &mut sc.top,
                        &mut bound,
                        ef,
                        filter,
                        Cand { dist, id },
                    );
                }
                i += 4;
            } else {
                let id = batch[i];
                let dist = rows.dist(id);
                offer::<FILTERED>(
                    &mut sc.cand,
                    &mut sc.top,
                    &mut bound,
                    ef,
                    filter,
                    Cand { dist, id },
                );
                i += 1;
            }
        }
    }
    true
}

/// Considers a freshly computed candidate: a hop target if it can improve the
/// beam, a result if it also passes the filter.
#[inline(always)]
fn offer<const FILTERED: bool>(
    cand: &mut BinaryHeap<Near>,
    top: &mut BinaryHeap<Far>,
    bound: &mut f32,
    ef: usize,
    filter: &dyn RowFilter,
    c: Cand,
) {
    if top.len() < ef || c.dist < *bound {
        cand.push(Near(c));
        if !FILTERED || filter.matches(c.id) {
            top.push(Far(c));
            if top.len() > ef {
                top.pop();
            }
            *bound = top.peek().map_or(f32::INFINITY, |f| f.0.dist);
        }
    }
}

/// A graph borrowed from an [`super::HnswGraph`] or an [`super::HnswView`]: what
/// every search runs on. Its arrays may come from an untrusted file: every id is
/// checked against `n` and every count against the list capacity before use.
#[derive(Clone, Copy, Debug)]
pub struct GraphRef<'a> {
    pub(crate) meta: Meta,
    pub(crate) level0: &'a [u32],
    pub(crate) inv_norms: &'a [f32],
    pub(crate) upper_nodes: &'a [u32],
    pub(crate) upper_offsets: &'a [u32],
    pub(crate) upper_links: &'a [u32],
    /// Words from one node's level-0 list to the next: `1 + M0`, or more where the
    /// file keeps each node's code after its list.
    pub(crate) l0_stride: usize,
    /// The rows' 8-bit codes, when the graph has them: the walk then runs on them.
    pub(crate) codes: Option<CodesRef<'a>>,
}

impl Links for GraphRef<'_> {
    #[inline(always)]
    fn node_count(&self) -> u32 {
        self.meta.n
    }

    #[inline]
    fn neighbors(&self, node: u32, level: u32, out: &mut Vec<u32>) {
        out.clear();
        if let Some(list) = self.list(node, level) {
            out.extend_from_slice(list);
        }
    }

    /// A row without a vector is a node with an empty level-0 list that is not the
    /// entry point: every other node got at least one neighbour when it was
    /// inserted, and pruning and repair never empty a list.
    #[inline]
    fn is_node(&self, node: u32) -> bool {
        node == self.meta.entry || self.list(node, 0).is_some_and(|l| !l.is_empty())
    }

    #[inline(always)]
    fn prefetch_node(&self, node: u32) {
        let start = node as usize * self.l0_stride;
        if let Some(list) = self.level0.get(start..start + self.meta.m0 as usize + 1) {
            super::prefetch::prefetch_lines(list, 3);
        }
    }
}

impl<'a> GraphRef<'a> {
    /// The neighbour ids of `node` on `level` (not yet checked against `n`).
    #[inline]
    pub(crate) fn list(&self, node: u32, level: u32) -> Option<&'a [u32]> {
        let (cap, block) = if level == 0 {
            let start = node as usize * self.l0_stride;
            let words = self.meta.m0 as usize + 1;
            (self.meta.m0, self.level0.get(start..start + words)?)
        } else {
            let slot = self.upper_nodes.binary_search(&node).ok()?;
            let start = *self.upper_offsets.get(slot)? as usize;
            let end = *self.upper_offsets.get(slot + 1)? as usize;
            let stride = self.meta.m as usize + 1;
            let at = start.checked_add((level as usize - 1).checked_mul(stride)?)?;
            if at.checked_add(stride)? > end {
                return None;
            }
            (self.meta.m, self.upper_links.get(at..at + stride)?)
        };
        let count = block[0].min(cap) as usize;
        Some(&block[1..1 + count])
    }

    /// Refuses vectors that are not `n x dim` floats and a query that is not `dim`.
    pub(crate) fn check_inputs(&self, vectors: &[f32], query: &[f32]) -> Result<(), HnswError> {
        let (n, dim) = (self.meta.n as usize, self.meta.dim as usize);
        let expected = n.checked_mul(dim).ok_or(HnswError::TooManyRows(n))?;
        if vectors.len() != expected {
            return Err(HnswError::DimensionMismatch {
                what: "vectors",
                expected,
                got: vectors.len(),
            });
        }
        if query.len() != dim {
            return Err(HnswError::DimensionMismatch {
                what: "query",
                expected: dim,
                got: query.len(),
            });
        }
        Ok(())
    }

    /// Number of rows (nodes).
    pub fn len(&self) -> usize {
        self.meta.n as usize
    }

    /// Whether the graph has no rows.
    pub fn is_empty(&self) -> bool {
        self.meta.n == 0
    }

    /// Floats per row of the vectors the graph was built over.
    pub fn dim(&self) -> usize {
        self.meta.dim as usize
    }

    /// The metric the graph was built (and is searched) with.
    pub fn metric(&self) -> Metric {
        self.meta.metric
    }

    /// The build parameters recorded with the graph.
    pub fn params(&self) -> HnswParams {
        HnswParams {
            m: self.meta.m as usize,
            ef_construction: self.meta.ef_construction as usize,
            seed: self.meta.seed,
        }
    }

    /// The `k` rows nearest to `query`, nearest first, among those `filter` accepts.
    ///
    /// `vectors` must be the rows the graph was built over (row-major, `n x dim`);
    /// distances follow the graph's metric. `ef` (EF_RUNTIME) is the beam width,
    /// raised to `k` if smaller. With a filter the walk continues through
    /// non-matching rows until `ef` matching rows are held or the graph is exhausted,
    /// and rows the walk never reached are then scanned, so the result always has
    /// `min(k, matching rows)` entries. Rows that are not in the graph (rows without
    /// a vector, see [`super::HnswGraph::build_present`]) are never returned.
    pub fn search(
        &self,
        vectors: &[f32],
        query: &[f32],
        k: usize,
        ef: usize,
        filter: Option<&dyn RowFilter>,
    ) -> Result<Vec<Neighbor>, HnswError> {
        self.check_inputs(vectors, query)?;
        let (n, dim) = (self.meta.n as usize, self.meta.dim as usize);
        if n == 0 || k == 0 {
            return Ok(Vec::new());
        }
        Ok(match self.meta.metric {
            Metric::Cosine => self.search_with(
                Rows::<CosKernel>::new(vectors, dim, self.inv_norms),
                query,
                k,
                ef,
                filter,
            ),
            Metric::L2 => self.search_with(
                Rows::<L2Kernel>::new(vectors, dim, &[]),
                query,
                k,
                ef,
                filter,
            ),
            Metric::InnerProduct => self.search_with(
                Rows::<IpKernel>::new(vectors, dim, &[]),
                query,
                k,
                ef,
                filter,
            ),
        })
    }

    fn search_with<K: Kernel>(
        &self,
        rows: Rows<'_, K>,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: Option<&dyn RowFilter>,
    ) -> Vec<Neighbor> {
        // A damaged header cannot point outside the rows: open() checks it, and this
        // keeps a hand-made GraphRef safe too.
        let entry = if self.meta.entry < self.meta.n {
            self.meta.entry
        } else {
            0
        };
        let entry = (entry, self.meta.max_level);
        match self.codes {
            Some(codes) => {
                let d = CodeDist::<K>::new(codes, query);
                knn_reranked(&rows, &d, self, entry, query, (k, ef), filter)
            }
            None => knn(&rows, self, entry, query, (k, ef), filter),
        }
    }

    /// Whether searches walk 8-bit codes (and re-rank exactly) rather than the
    /// FLOAT32 rows.
    pub fn has_codes(&self) -> bool {
        self.codes.is_some()
    }

    /// This graph walked over the FLOAT32 rows even if it has codes: the same
    /// links, the traversal of a graph written without them.
    pub fn without_codes(self) -> GraphRef<'a> {
        GraphRef {
            codes: None,
            ..self
        }
    }
}

/// The `k` nearest nodes to `query` passing `filter`, from `entry` (a node and its
/// level): the greedy descent, the level-0 beam of width `max(ef, k)`, then, if the
/// walk ran out of graph with fewer than `k` results, a scan of the nodes it never
/// reached. Shared by the segment graphs and the live graph.
pub(crate) fn knn<'a, K: Kernel, S: RowStore<'a>, L: Links>(
    rows: &Rows<'a, K, S>,
    links: &L,
    entry: (u32, u32),
    query: &[f32],
    (k, ef): (usize, usize),
    filter: Option<&dyn RowFilter>,
) -> Vec<Neighbor> {
    let q = Query {
        v: query,
        inv: if K::NORMS { inverse_norm(query) } else { 1.0 },
    };
    let mut out = walk(&Exact { rows, q: &q }, links, entry, (k, ef), filter);
    out.sort_by(Neighbor::cmp_by_distance);
    out.truncate(k);
    out
}

/// [`knn`] walking estimated distances `d` (over codes), then re-ranking the
/// `max(ef, k)` nodes the walk holds with the exact distances of `rows`.
pub(crate) fn knn_reranked<'a, K: Kernel, S: RowStore<'a>, L: Links, D: Dist>(
    rows: &Rows<'a, K, S>,
    d: &D,
    links: &L,
    entry: (u32, u32),
    query: &[f32],
    (k, ef): (usize, usize),
    filter: Option<&dyn RowFilter>,
) -> Vec<Neighbor> {
    let q = Query {
        v: query,
        inv: if K::NORMS { inverse_norm(query) } else { 1.0 },
    };
    let mut out = walk(d, links, entry, (k, ef), filter);
    for hit in &mut out {
        hit.distance = rows.dist(&q, hit.id);
    }
    out.sort_by(Neighbor::cmp_by_distance);
    out.truncate(k);
    out
}

/// The walk of [`knn`]: up to `max(ef, k)` nodes by `d`'s distances, unordered.
fn walk<D: Dist, L: Links>(
    d: &D,
    links: &L,
    entry: (u32, u32),
    (k, ef): (usize, usize),
    filter: Option<&dyn RowFilter>,
) -> Vec<Neighbor> {
    let ef = ef.max(k);
    with_scratch(|sc| {
        let mut cur = Cand {
            dist: d.dist(entry.0),
            id: entry.0,
        };
        for level in (1..=entry.1).rev() {
            cur = greedy_by(d, links, cur, level, sc);
        }
        let beam = Beam {
            entry: cur,
            level: 0,
            ef,
        };
        let exhausted = match filter {
            None => search_layer_by::<D, L, false>(d, links, beam, &AcceptAll, sc),
            Some(f) => search_layer_by::<D, L, true>(d, links, beam, f, sc),
        };
        if exhausted && sc.top.len() < k {
            // Part of the graph is unreachable from the entry point (it happens
            // after heavy pruning) and the walk found too few rows: scan the rest.
            let accept = filter.unwrap_or(&AcceptAll);
            for id in 0..links.node_count() {
                if !sc.visited.contains(id) && links.is_node(id) && accept.matches(id) {
                    sc.top.push(Far(Cand {
                        dist: d.dist(id),
                        id,
                    }));
                    if sc.top.len() > ef {
                        sc.top.pop();
                    }
                }
            }
        }
        sc.top
            .drain()
            .map(|Far(c)| Neighbor {
                id: c.id,
                distance: c.dist,
            })
            .collect()
    })
}
