//! IVF-PQ: an inverted file of coarse centroids whose lists hold product-quantised
//! residuals (Jégou, Douze & Schmid, "Product quantization for nearest neighbor
//! search", 2011), searched by asymmetric distance tables and re-ranked with exact
//! distances over the caller's FLOAT32 vectors.
//!
//! Only the codes (`m` bytes per row, plus a 4-byte id and, for L2, a 4-byte
//! correction term), the centroids and the codebooks are read on every query; the
//! full vectors are touched for the `k * refine` re-ranked candidates only, so a
//! segment whose vectors do not fit in memory is searched from the page cache with
//! a few page reads per query.
//!
//! * [`IvfPqIndex::build`] trains (k-means for the coarse quantiser and for each
//!   sub-quantiser, seeded, on a sample, on all cores) and encodes;
//!   [`IvfPqIndex::build_reusing`] encodes with a trained index's quantisers when the
//!   new rows fit them (a merge), and trains otherwise.
//! * [`IvfPqIndex::to_bytes`] serialises; [`IvfPqView::open`] searches the bytes in
//!   place after O(1) checks. The layout is in [`format`](self::format).
//!
//! # One table per query, for every metric
//!
//! A row `x` in list `l` is approximated by `c_l + r` with `r` the decoded residual
//! (one codeword per sub-space). With `T[j][c] = <q_j, codeword_jc>` computed once
//! per query (`256 * dim` multiply-adds):
//!
//! * IP: `1 - <q, x> ≈ (1 - <q, c_l>) - Σ_j T[j][code_j]`;
//! * COSINE: the same over unit vectors (rows are normalised before training and
//!   encoding, the query before searching): `1 - cos(q, x)`;
//! * L2: `|q - x|² ≈ |q - c_l|² + (|r|² + 2<c_l, r>) - 2 Σ_j T[j][code_j]`; the
//!   parenthesised term depends on the row only and is stored beside its code (4
//!   bytes), so no table depends on the list.
//!
//! Faiss instead builds one L2 table per probed list (or precomputes
//! `nlist * m * 256` floats, 50 MB for 1024 lists of 48 sub-quantisers); the stored
//! term costs 4 bytes per row and keeps both the memory and the per-list work small.

mod format;
mod kernels;
mod kmeans;
mod reuse;
mod search;
#[cfg(test)]
mod tests;
mod train;

use std::fmt;

use crate::distance::Metric;

pub use format::{IvfPqFormatError, IvfPqHeader, IvfPqView, HEADER_LEN};
pub use reuse::{Reuse, Seed, DRIFT_MAX, DRIFT_SAMPLE, MIN_HELD_OUT};
pub use search::IvfPqRef;

/// Codewords per sub-quantiser: 8-bit codes.
pub const KSUB: usize = 256;

/// Build parameters: RediSearch-style `NLIST` and `M`, plus the training seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IvfPqParams {
    /// Coarse lists requested. A segment trains at most one list per
    /// [`IvfPqParams::MIN_ROWS_PER_LIST`] rows, so small segments get fewer.
    pub nlist: usize,
    /// Sub-quantisers: bytes per code. Must divide the dimension.
    pub m: usize,
    /// Seed of every random choice of the training (samples, starts, splits).
    pub seed: u64,
}

impl IvfPqParams {
    /// Largest `NLIST` accepted.
    pub const MAX_NLIST: usize = 1 << 16;
    /// Largest `M` accepted (bytes per code).
    pub const MAX_M: usize = 4096;
    /// Fewest rows per coarse list a segment trains: below it k-means leaves lists
    /// empty or fits noise.
    pub const MIN_ROWS_PER_LIST: usize = 16;
    /// Training rows sampled per centroid (coarse) or per codeword (sub-quantisers):
    /// faiss warns below 39 and caps at 256; 64 keeps training a few seconds.
    pub const SAMPLE_PER_CENTROID: usize = 64;
    /// k-means iterations at most (it stops earlier once no assignment changes).
    pub const ITERATIONS: usize = 12;

    /// `NLIST` and `M` with the default seed.
    pub fn new(nlist: usize, m: usize) -> IvfPqParams {
        IvfPqParams { nlist, m, seed: 42 }
    }

    /// Checks the parameters against the dimension.
    pub fn validate(&self, dim: usize) -> Result<(), IvfPqError> {
        if self.nlist == 0 || self.nlist > Self::MAX_NLIST {
            return Err(IvfPqError::InvalidParams(format!(
                "NLIST is {}; it must be 1..={}",
                self.nlist,
                Self::MAX_NLIST
            )));
        }
        if self.m == 0 || self.m > Self::MAX_M {
            return Err(IvfPqError::InvalidParams(format!(
                "M is {}; it must be 1..={}",
                self.m,
                Self::MAX_M
            )));
        }
        if dim == 0 || !dim.is_multiple_of(self.m) {
            return Err(IvfPqError::InvalidParams(format!(
                "M is {} and the dimension {dim}; M must divide the dimension",
                self.m
            )));
        }
        Ok(())
    }
}

/// Search-time parameters: Faiss's `nprobe` and the re-rank factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IvfPqSearch {
    /// Lists probed (more lists are probed when these hold fewer than
    /// `k * refine` matching rows).
    pub nprobe: usize,
    /// Candidates re-ranked exactly, as a multiple of `k` (at least 1).
    pub refine: usize,
}

/// Errors of building or searching (bad inputs); file damage is [`IvfPqFormatError`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IvfPqError {
    /// A parameter is out of range: the message says which and why.
    InvalidParams(String),
    /// Vector data does not fit the index.
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
}

impl fmt::Display for IvfPqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IvfPqError::InvalidParams(why) => write!(f, "invalid IVF-PQ parameters: {why}"),
            IvfPqError::DimensionMismatch {
                what,
                expected,
                got,
            } => write!(
                f,
                "IVF-PQ {what} length mismatch: expected {expected}, got {got}"
            ),
            IvfPqError::TooManyRows(n) => write!(f, "IVF-PQ index over {n} rows exceeds u32 ids"),
        }
    }
}

impl std::error::Error for IvfPqError {}

/// What the header records; shared by the owned index and the view.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Meta {
    /// Row id space: ids are below it (rows without a vector are not encoded).
    pub n: u32,
    pub dim: u32,
    pub metric: Metric,
    /// Lists actually trained.
    pub nlist: u32,
    pub m: u32,
    pub seed: u64,
    /// Rows encoded.
    pub encoded: u32,
    /// Mean squared residual norm of the training sample (the coarse distortion),
    /// kept so a merge can tell whether new rows still fit the quantisers.
    pub distortion: f32,
}

impl Meta {
    pub fn dsub(&self) -> usize {
        (self.dim / self.m) as usize
    }
}

/// An IVF-PQ index in memory: the result of a build. Its arrays are exactly the
/// sections of the file, so writing is a copy and search runs the same code as on an
/// [`IvfPqView`].
#[derive(Clone, Debug)]
pub struct IvfPqIndex {
    pub(crate) meta: Meta,
    /// `dim * nlist`: the centroids transposed (component-major), so the distance
    /// from a query to every centroid is one vectorisable pass per component.
    pub(crate) centroids: Vec<f32>,
    /// Per sub-quantiser, `dsub * 256` codeword components, component-major.
    pub(crate) codebooks: Vec<f32>,
    /// `nlist + 1` positions into `ids`: list `l` is `offsets[l]..offsets[l + 1]`.
    pub(crate) offsets: Vec<u32>,
    /// The encoded rows' ids, grouped by list, ascending within a list.
    pub(crate) ids: Vec<u32>,
    /// L2 only: per encoded row (in `ids` order), `|r|² + 2<c, r>`; empty otherwise.
    pub(crate) terms: Vec<f32>,
    /// `m` bytes per encoded row, in `ids` order.
    pub(crate) codes: Vec<u8>,
}

impl IvfPqIndex {
    /// Trains on and encodes the rows `rows` (ascending, each below `n`) of the
    /// row-major `vectors` (`n * dim` floats), on `threads` threads (0 is taken as
    /// 1). The result depends only on the inputs and `params.seed`, not on `threads`.
    pub fn build(
        vectors: &[f32],
        dim: usize,
        metric: Metric,
        rows: &[u32],
        params: &IvfPqParams,
        threads: usize,
    ) -> Result<IvfPqIndex, IvfPqError> {
        train::build(vectors, dim, metric, rows, params, threads)
    }

    /// The borrowed form every search runs on.
    pub fn as_ref(&self) -> IvfPqRef<'_> {
        IvfPqRef {
            meta: self.meta,
            centroids: &self.centroids,
            codebooks: &self.codebooks,
            offsets: &self.offsets,
            ids: &self.ids,
            terms: &self.terms,
            codes: &self.codes,
        }
    }
}
