//! HNSW graph index (Malkov & Yashunin, "Efficient and robust approximate nearest
//! neighbor search using Hierarchical Navigable Small World graphs", 2016/2018).
//!
//! The graph holds row ids only; vectors stay with the caller (a segment's
//! `vectors.f32`, read through mmap) and are passed to every search. That keeps one
//! copy of the vectors on disk and in the page cache, and lets the index file be a
//! few bytes per edge.
//!
//! * [`HnswGraph::build`] builds over row-major vectors on any number of threads
//!   (per-node locks, as hnswlib does); [`HnswGraph::build_present`] leaves rows
//!   without a vector out of the graph.
//! * [`LiveGraph`] grows one row at a time from several threads while it is
//!   searched (a memtable's graph), and snapshots into an [`HnswGraph`].
//! * [`HnswGraph::merged`] starts a merged segment's graph from an input's graph.
//! * [`HnswGraph::write_to`] / [`HnswGraph::to_bytes`] serialise it; the layout is in
//!   [`format`](self::format) and is searched in place by [`HnswView`], so opening an
//!   index is O(1) (header and size checks) and never rebuilds or re-reads the body.
//! * [`HnswGraph::search`] and [`HnswView::search`] run the same code (a borrowed
//!   [`GraphRef`] underneath) and return row ids nearest first.
//!
//! Parameters follow Redis / hnswlib: `M` neighbours per node on upper levels, `2*M`
//! on level 0, level multiplier `1/ln(M)`, `EF_CONSTRUCTION` for the build beam and
//! `EF_RUNTIME` (the `ef` argument) for the search beam.
//!
//! COSINE is computed as `1 - dot(q, v) / (|q| |v|)` with `1/|v|` precomputed at build
//! and stored in the index (4 bytes per row): the caller need not normalise, the
//! distances keep the documented `1 - cos` meaning, and the hot loop is a dot product.

mod build;
pub mod format;
mod kernels;
mod live;
#[cfg(test)]
mod live_tests;
mod merge;
mod nodes;
mod prefetch;
mod range;
mod reach;
mod search;
mod space;
mod sq8;
#[cfg(test)]
mod sq8_tests;
#[cfg(test)]
mod tests;

use std::fmt;

use crate::distance::Metric;
use crate::topk::Neighbor;

pub use format::{HnswFormatError, HnswView};
pub use live::LiveGraph;
pub use search::{GraphRef, RowFilter};
pub use space::{SliceRows, VectorSource};

/// What the owned graph ([`HnswGraph`]) and the view over file bytes ([`HnswView`])
/// share: both lend the same [`GraphRef`], which every accessor and search reads.
pub trait HnswIndex {
    /// The borrowed form every search runs on.
    fn graph_ref(&self) -> GraphRef<'_>;

    /// The `k` rows nearest to `query`, nearest first; see [`GraphRef::search`].
    fn search(
        &self,
        vectors: &[f32],
        query: &[f32],
        k: usize,
        ef: usize,
        filter: Option<&dyn RowFilter>,
    ) -> Result<Vec<Neighbor>, HnswError> {
        self.graph_ref().search(vectors, query, k, ef, filter)
    }

    /// The rows within `radius` of `query`, nearest first; see
    /// [`GraphRef::range_search`].
    fn range_search(
        &self,
        vectors: &[f32],
        query: &[f32],
        radius: f32,
        epsilon: f32,
        filter: Option<&dyn RowFilter>,
    ) -> Result<Vec<Neighbor>, HnswError> {
        self.graph_ref()
            .range_search(vectors, query, radius, epsilon, filter)
    }

    /// Number of rows indexed.
    fn len(&self) -> usize {
        self.graph_ref().len()
    }

    /// Whether the graph has no rows.
    fn is_empty(&self) -> bool {
        self.graph_ref().len() == 0
    }

    /// Floats per row of the vectors the graph was built over.
    fn dim(&self) -> usize {
        self.graph_ref().dim()
    }

    /// The metric the graph was built (and is searched) with.
    fn metric(&self) -> Metric {
        self.graph_ref().metric()
    }

    /// The build parameters.
    fn params(&self) -> HnswParams {
        self.graph_ref().params()
    }
}

impl HnswIndex for HnswGraph {
    fn graph_ref(&self) -> GraphRef<'_> {
        GraphRef {
            meta: self.meta,
            level0: &self.level0,
            inv_norms: &self.inv_norms,
            upper_nodes: &self.upper_nodes,
            upper_offsets: &self.upper_offsets,
            upper_links: &self.upper_links,
            l0_stride: self.meta.m0 as usize + 1,
            codes: self.sq8.as_ref().map(|c| sq8::CodesRef {
                bytes: &c.codes,
                stride: self.meta.dim as usize,
                offset: 0,
                dim: self.meta.dim as usize,
                min: &c.min,
                scale: &c.scale,
            }),
        }
    }
}

/// Build parameters (Redis `M`, `EF_CONSTRUCTION`), plus the seed of the level draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HnswParams {
    /// Neighbours per node on levels above 0; level 0 keeps `2 * m`.
    pub m: usize,
    /// Beam width while inserting; larger builds slower and gives better graphs.
    pub ef_construction: usize,
    /// Seed of the random level of each row; the same seed and `threads = 1` give
    /// the same graph.
    pub seed: u64,
}

impl Default for HnswParams {
    /// Redis' defaults are M=16, EF_CONSTRUCTION=200.
    fn default() -> Self {
        HnswParams {
            m: 16,
            ef_construction: 200,
            seed: 100,
        }
    }
}

impl HnswParams {
    /// Largest `M` accepted: level-0 lists of 2*M ids must stay a few cache lines,
    /// and the file stores degrees as u32.
    pub const MAX_M: usize = 2048;
    /// Largest `EF_CONSTRUCTION` accepted (Redis has no bound; this only stops a
    /// typo from turning a build into a brute-force one).
    pub const MAX_EF_CONSTRUCTION: usize = 1 << 20;

    /// Parameters with the given `M` and `EF_CONSTRUCTION` and the default seed.
    pub fn new(m: usize, ef_construction: usize) -> Self {
        HnswParams {
            m,
            ef_construction,
            ..Default::default()
        }
    }

    fn validate(&self) -> Result<(), HnswError> {
        if self.m < 2 || self.m > Self::MAX_M {
            return Err(HnswError::InvalidParams("M must be in 2..=2048"));
        }
        if self.ef_construction == 0 || self.ef_construction > Self::MAX_EF_CONSTRUCTION {
            return Err(HnswError::InvalidParams(
                "EF_CONSTRUCTION must be in 1..=1048576",
            ));
        }
        Ok(())
    }
}

/// Errors of building or searching (bad inputs); file damage is [`HnswFormatError`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HnswError {
    /// A parameter is out of range.
    InvalidParams(&'static str),
    /// Vector data does not fit the index: `what` says which input.
    DimensionMismatch {
        /// `"vectors"` (length is not rows x dim) or `"query"`.
        what: &'static str,
        /// The length the index expects.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// More rows than u32 ids can name.
    TooManyRows(usize),
    /// A live graph was asked to insert an id it already holds.
    AlreadyInserted(u32),
    /// The row to insert has no vector in the source.
    MissingVector(u32),
}

impl fmt::Display for HnswError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HnswError::InvalidParams(why) => write!(f, "invalid HNSW parameters: {why}"),
            HnswError::DimensionMismatch {
                what,
                expected,
                got,
            } => {
                write!(
                    f,
                    "HNSW {what} length mismatch: expected {expected}, got {got}"
                )
            }
            HnswError::TooManyRows(n) => write!(f, "HNSW index over {n} rows exceeds u32 ids"),
            HnswError::AlreadyInserted(id) => {
                write!(
                    f,
                    "HNSW node {id} is already in the graph; insert each id once"
                )
            }
            HnswError::MissingVector(id) => {
                write!(f, "row {id} has no vector to insert into the HNSW graph")
            }
        }
    }
}

impl std::error::Error for HnswError {}

/// What the header records about a graph; shared by the owned graph and the view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Meta {
    pub n: u32,
    pub dim: u32,
    pub metric: Metric,
    pub m: u32,
    /// Level-0 capacity (2*M).
    pub m0: u32,
    pub ef_construction: u32,
    pub seed: u64,
    /// Entry point; meaningless when `n == 0`.
    pub entry: u32,
    pub max_level: u32,
}

/// An HNSW graph in memory: the result of a build, or a decoded file.
///
/// The arrays are exactly the sections of the file format, so writing is a copy and
/// the search runs the same code as on an [`HnswView`].
#[derive(Clone, Debug)]
pub struct HnswGraph {
    pub(crate) meta: Meta,
    /// `n * (1 + m0)` words: per node a count, then `m0` ids (unused slots are 0).
    pub(crate) level0: Vec<u32>,
    /// `1/|v|` per row for COSINE (0 for a zero row); empty for other metrics.
    pub(crate) inv_norms: Vec<f32>,
    /// Ascending ids of the nodes with level > 0.
    pub(crate) upper_nodes: Vec<u32>,
    /// `upper_nodes.len() + 1` word offsets into `upper_links`.
    pub(crate) upper_offsets: Vec<u32>,
    /// Per upper node, `level` blocks of `1 + m` words (count, then ids), level 1 first.
    pub(crate) upper_links: Vec<u32>,
    /// The rows' 8-bit codes and their quantiser, when [`Self::encode_sq8`] made them.
    pub(crate) sq8: Option<sq8::Sq8Codes>,
}

impl HnswGraph {
    /// Builds a graph over `vectors` (row-major, `dim` floats per row; row `i` gets
    /// id `i`) on `threads` threads (0 is taken as 1).
    ///
    /// With `threads == 1` the result depends only on the inputs and `params.seed`.
    /// Every row is reachable from the entry point (see `reach.rs`), whatever the
    /// thread count.
    pub fn build(
        vectors: &[f32],
        dim: usize,
        metric: Metric,
        params: &HnswParams,
        threads: usize,
    ) -> Result<HnswGraph, HnswError> {
        HnswGraph::build_present(vectors, dim, metric, params, threads, None)
    }

    /// [`Self::build`] over the rows in `present` only (all rows when `None`): the
    /// others (a segment's rows without a vector, stored as zeros) are never inserted
    /// or linked, keep id = row, an empty level-0 list and level 0, and are never
    /// returned by a search. The entry point is a present row. Every present row is
    /// reachable from the entry point and finds itself (repaired after the build).
    pub fn build_present(
        vectors: &[f32],
        dim: usize,
        metric: Metric,
        params: &HnswParams,
        threads: usize,
        present: Option<&roaring::RoaringBitmap>,
    ) -> Result<HnswGraph, HnswError> {
        let mut graph = build::build(vectors, dim, metric, params, threads, present)?;
        graph.repair_reachability(vectors, present);
        graph.repair_findability(vectors, present);
        Ok(graph)
    }

    /// Links every present row (all when `present` is `None`) so that it is reachable
    /// from the entry point and a search for its own vector finds it; `vectors` are
    /// the rows the graph is over. A full build does this already; a graph grown by
    /// incremental insertion (a memtable's) gets it before it is written.
    pub fn repair(&mut self, vectors: &[f32], present: Option<&roaring::RoaringBitmap>) {
        self.repair_reachability(vectors, present);
        self.repair_findability(vectors, present);
    }

    /// Adds 8-bit codes of the rows (`vectors`, the rows the graph is over; only the
    /// `present` ones train the quantiser): searches then walk the codes, a quarter
    /// of the memory traffic of the FLOAT32 rows, and re-rank the candidates they
    /// end with exactly, and the file carries the codes next to each node's
    /// level-0 list (format version 2). The quantiser is per dimension, trained on
    /// these rows (see `sq8.rs`). A graph built and written without this walks
    /// the FLOAT32 rows.
    ///
    /// ```
    /// use strata_index::hnsw::{HnswGraph, HnswIndex, HnswParams};
    /// use strata_index::Metric;
    ///
    /// let vectors: Vec<f32> = (0..200).map(|i| ((i * 37) % 101) as f32).collect();
    /// let mut graph = HnswGraph::build(&vectors, 4, Metric::L2, &HnswParams::default(), 1)?;
    /// graph.encode_sq8(&vectors, None)?;
    /// assert!(graph.graph_ref().has_codes());
    /// let hits = graph.search(&vectors, &vectors[8..12], 1, 10, None)?;
    /// assert_eq!((hits[0].id, hits[0].distance), (2, 0.0)); // re-ranked: exact
    /// # Ok::<(), strata_index::hnsw::HnswError>(())
    /// ```
    pub fn encode_sq8(
        &mut self,
        vectors: &[f32],
        present: Option<&roaring::RoaringBitmap>,
    ) -> Result<(), HnswError> {
        let dim = self.meta.dim as usize;
        let expected = (self.meta.n as usize) * dim;
        if vectors.len() != expected {
            return Err(HnswError::DimensionMismatch {
                what: "vectors",
                expected,
                got: vectors.len(),
            });
        }
        self.sq8 = Some(sq8::encode(vectors, dim, &self.inv_norms, present));
        Ok(())
    }

    /// Drops the codes: searches walk the FLOAT32 rows, the file is version 1.
    pub fn drop_codes(&mut self) {
        self.sq8 = None;
    }

    /// Highest level of any node (the entry point's).
    pub fn max_level(&self) -> usize {
        self.meta.max_level as usize
    }
}
