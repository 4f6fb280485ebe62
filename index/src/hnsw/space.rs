//! Distances as the graph computes them: a query (or a row, during the build)
//! against rows addressed by id.
//!
//! Each metric is a zero-sized [`Kernel`] type so that the search loop is compiled
//! once per metric with the kernel inlined, instead of matching on the metric for
//! every one of the thousands of distances of a query.

use std::marker::PhantomData;

use roaring::RoaringBitmap;

use super::kernels::{self, Isa};
use super::prefetch::prefetch_lines;

/// One metric's distance, from the raw kernel value (a dot product, or the squared
/// L2 distance when `L2`). `qinv` and `rinv` are inverse norms, used by COSINE only.
pub(crate) trait Kernel: Copy + Send + Sync + 'static {
    /// Whether the kernel needs the stored inverse row norms.
    const NORMS: bool;
    /// Whether the raw value is a squared L2 distance (else a dot product).
    const L2: bool;
    fn finish(raw: f32, qinv: f32, rinv: f32) -> f32;
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct L2Kernel;
#[derive(Clone, Copy, Debug)]
pub(crate) struct IpKernel;
#[derive(Clone, Copy, Debug)]
pub(crate) struct CosKernel;

impl Kernel for L2Kernel {
    const NORMS: bool = false;
    const L2: bool = true;
    #[inline(always)]
    fn finish(raw: f32, _: f32, _: f32) -> f32 {
        raw
    }
}

impl Kernel for IpKernel {
    const NORMS: bool = false;
    const L2: bool = false;
    #[inline(always)]
    fn finish(raw: f32, _: f32, _: f32) -> f32 {
        1.0 - raw
    }
}

impl Kernel for CosKernel {
    const NORMS: bool = true;
    const L2: bool = false;
    #[inline(always)]
    fn finish(raw: f32, qinv: f32, rinv: f32) -> f32 {
        // A dot product is a third of the work of a cosine kernel (which also sums
        // both squared norms); the norms are known in advance.
        1.0 - raw * qinv * rinv
    }
}

/// `1/|v|`, or 0 for a zero (or non-finite) vector: a zero vector then has cosine
/// distance 1 to everything, as [`crate::distance`] documents.
///
/// Summed in f64, where squares of finite f32 components cannot overflow: in f32 a
/// vector such as `[f32::MAX, -f32::MAX]` had an infinite norm and was taken for a
/// zero vector.
pub(crate) fn inverse_norm(v: &[f32]) -> f32 {
    let sq: f64 = v.iter().map(|x| f64::from(*x) * f64::from(*x)).sum();
    if sq > 0.0 && sq.is_finite() {
        (1.0 / sq.sqrt()) as f32
    } else {
        0.0
    }
}

/// A query vector and its inverse norm.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Query<'q> {
    pub v: &'q [f32],
    pub inv: f32,
}

/// Where a graph's vectors come from, for the live graph and the merge: the engine
/// implements it over its append-only vector arena, [`SliceRows`] over row-major
/// floats.
///
/// `Sync` because a build searches the rows from several threads at once.
pub trait VectorSource: Sync {
    /// Row `id`'s vector (`dim()` floats), or `None` when the row has none.
    fn row(&self, id: u32) -> Option<&[f32]>;
    /// Floats per row.
    fn dim(&self) -> usize;
}

/// Row-major vectors (`dim` floats per row) with an optional presence bitmap: rows
/// outside it, and rows past the end, have no vector.
#[derive(Clone, Copy, Debug)]
pub struct SliceRows<'a> {
    data: &'a [f32],
    dim: usize,
    present: Option<&'a RoaringBitmap>,
}

impl<'a> SliceRows<'a> {
    /// Rows over `data`; every whole row counts as present unless `present` says
    /// otherwise.
    pub fn new(data: &'a [f32], dim: usize, present: Option<&'a RoaringBitmap>) -> Self {
        SliceRows { data, dim, present }
    }
}

impl VectorSource for SliceRows<'_> {
    #[inline]
    fn row(&self, id: u32) -> Option<&[f32]> {
        if self.present.is_some_and(|p| !p.contains(id)) {
            return None;
        }
        let start = (id as usize).checked_mul(self.dim)?;
        self.data.get(start..start.checked_add(self.dim)?)
    }

    fn dim(&self) -> usize {
        self.dim
    }
}

/// How [`Rows`] reaches a row and its inverse norm. Monomorphised, so the slice
/// form (segments, the bulk build) compiles to the same indexing it always did.
pub(crate) trait RowStore<'a>: Copy + Send + Sync {
    /// Row `id`: `dim` floats, or an empty slice when the store has none (the
    /// kernels then return a non-finite distance instead of reading out of bounds).
    fn row(&self, id: u32) -> &'a [f32];
    /// `1/|v|` of row `id` (0 when unknown); read only by COSINE.
    fn inv_norm(&self, id: u32) -> f32;
    /// Hints that row `id` (up to `lines` cache lines) and, with `norm`, its inverse
    /// norm are about to be read.
    fn prefetch(&self, id: u32, lines: usize, norm: bool);
}

/// Row-major floats and a norm slice: a mapped segment, or the bulk build's input.
///
/// Invariant (checked by every constructor's caller): `vectors.len() == n * dim`, so
/// any id below `n` addresses a whole row.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Flat<'a> {
    vectors: &'a [f32],
    dim: usize,
    inv_norms: &'a [f32],
}

impl<'a> RowStore<'a> for Flat<'a> {
    /// The caller has checked `id < n`.
    #[inline(always)]
    fn row(&self, id: u32) -> &'a [f32] {
        let start = id as usize * self.dim;
        &self.vectors[start..start + self.dim]
    }

    #[inline(always)]
    fn inv_norm(&self, id: u32) -> f32 {
        // A missing norm (damaged file) degrades to "orthogonal", never a panic.
        self.inv_norms.get(id as usize).copied().unwrap_or(0.0)
    }

    #[inline(always)]
    fn prefetch(&self, id: u32, lines: usize, norm: bool) {
        let start = id as usize * self.dim;
        if let Some(row) = self.vectors.get(start..start + self.dim) {
            prefetch_lines(row, lines);
        }
        if norm {
            if let Some(n) = self.inv_norms.get(id as usize..id as usize + 1) {
                prefetch_lines(n, 1);
            }
        }
    }
}

/// The rows a graph indexes, with what the kernel needs to compare against them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rows<'a, K, S = Flat<'a>> {
    store: S,
    /// Cache lines of a row worth prefetching (the whole row, capped).
    lines: usize,
    isa: Isa,
    _kernel: PhantomData<(K, &'a ())>,
}

impl<'a, K: Kernel> Rows<'a, K> {
    /// Rows over row-major `vectors`; the caller has checked `vectors.len() == n * dim`.
    pub fn new(vectors: &'a [f32], dim: usize, inv_norms: &'a [f32]) -> Self {
        Rows::with_store(
            Flat {
                vectors,
                dim,
                inv_norms,
            },
            dim,
        )
    }
}

impl<'a, K: Kernel, S: RowStore<'a>> Rows<'a, K, S> {
    pub fn with_store(store: S, dim: usize) -> Self {
        Rows {
            store,
            lines: (dim * 4).div_ceil(64).min(64),
            isa: Isa::detect(),
            _kernel: PhantomData,
        }
    }

    /// Row `id` (see [`RowStore::row`]).
    #[inline(always)]
    pub fn row(&self, id: u32) -> &'a [f32] {
        self.store.row(id)
    }

    #[inline(always)]
    fn inv(&self, id: u32) -> f32 {
        if K::NORMS {
            self.store.inv_norm(id)
        } else {
            1.0
        }
    }

    /// The query form of row `id` (for the build, which inserts rows as queries).
    #[inline]
    pub fn row_query(&self, id: u32) -> Query<'a> {
        Query {
            v: self.row(id),
            inv: self.inv(id),
        }
    }

    #[inline(always)]
    fn raw(&self, q: &[f32], r: &[f32]) -> f32 {
        if K::L2 {
            kernels::one::<true>(self.isa, q, r)
        } else {
            kernels::one::<false>(self.isa, q, r)
        }
    }

    #[inline(always)]
    pub fn dist(&self, q: &Query<'_>, id: u32) -> f32 {
        K::finish(self.raw(q.v, self.row(id)), q.inv, self.inv(id))
    }

    /// [`Self::dist`] to four rows at once (four independent accumulator chains).
    #[inline(always)]
    pub fn dist4(&self, q: &Query<'_>, ids: [u32; 4]) -> [f32; 4] {
        let rows = ids.map(|id| self.row(id));
        let raw = if K::L2 {
            kernels::four::<true>(self.isa, q.v, rows)
        } else {
            kernels::four::<false>(self.isa, q.v, rows)
        };
        std::array::from_fn(|j| K::finish(raw[j], q.inv, self.inv(ids[j])))
    }

    /// Starts loading the first two cache lines of row `id`: cheap enough to issue
    /// for every neighbour of a hop at once.
    #[inline(always)]
    pub fn prefetch_head(&self, id: u32) {
        self.store.prefetch(id, 2, false);
    }

    /// Starts loading row `id` (and its norm) into the cache.
    #[inline(always)]
    pub fn prefetch(&self, id: u32) {
        self.store.prefetch(id, self.lines, K::NORMS);
    }
}

#[cfg(test)]
mod tests {
    use super::inverse_norm;

    #[test]
    fn the_norm_of_huge_components_does_not_overflow() {
        let huge = [f32::MAX, -f32::MAX, 0.0];
        let want = 1.0 / (f64::from(f32::MAX) * 2f64.sqrt());
        let got = f64::from(inverse_norm(&huge));
        assert!((got - want).abs() <= want * 1e-6, "{got} vs {want}");
        assert_eq!(inverse_norm(&[0.0; 3]), 0.0);
    }
}
