//! 8-bit scalar quantisation of a graph's rows, for the level-0 walk.
//!
//! At 384 dimensions a search touches some 300 MB of FLOAT32 rows at random on 200k
//! rows, and past EF_RUNTIME ~100 it is bound by that memory traffic rather than by
//! arithmetic. A byte per dimension is a quarter of the traffic; the walk runs on
//! the codes and the `ef` candidates it ends with are re-ranked with exact distances
//! from the FLOAT32 rows, so the returned distances are exact and the order among
//! the candidates is the exact one.
//!
//! The quantiser is **per dimension**: `min[d]` and `scale[d] = (max[d] - min[d]) /
//! 255`, trained on the segment's present rows (COSINE: the rows scaled to unit
//! norm, so the codes need no norm and long rows do not stretch every range).
//! Sentence-embedding dimensions have ranges that differ by a factor of several; one
//! global range would spend most of the 256 levels of a narrow dimension on values
//! it never takes.
//!
//! Distances stay asymmetric: the query is not quantised. Per query the kernel
//! folds the quantiser into the query once (`w[d] = q[d] * scale[d]` and a constant
//! for a dot product; `r[d] = q[d] - min[d]` for L2), so a distance is one pass of
//! fused multiply-adds over the codes.

use roaring::RoaringBitmap;

use super::kernels::{self, Isa};
use super::prefetch::prefetch_lines;
use super::search::Dist;
use super::space::{inverse_norm, Kernel};

/// Codes of every row of a graph with their quantiser (an owned graph's).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sq8Codes {
    /// Per dimension, the value of code 0.
    pub min: Vec<f32>,
    /// Per dimension, the step between codes (0 when the dimension is constant).
    pub scale: Vec<f32>,
    /// `n * dim` bytes, row-major; rows without a vector are zeros.
    pub codes: Vec<u8>,
}

/// Trains the quantiser on the present rows of `vectors` (`dim` floats per row) and
/// encodes every row. `inv_norms` non-empty means COSINE: rows are scaled by it.
pub(crate) fn encode(
    vectors: &[f32],
    dim: usize,
    inv_norms: &[f32],
    present: Option<&RoaringBitmap>,
) -> Sq8Codes {
    let n = vectors.len().checked_div(dim).unwrap_or(0);
    let is_present = |id: usize| present.is_none_or(|p| p.contains(id as u32));
    let scaled = |id: usize, d: usize| {
        let x = vectors[id * dim + d];
        match inv_norms.get(id) {
            Some(inv) => x * inv,
            None if inv_norms.is_empty() => x,
            None => 0.0,
        }
    };
    let mut bounds = vec![(f32::INFINITY, f32::NEG_INFINITY); dim];
    for id in (0..n).filter(|&id| is_present(id)) {
        for (d, (lo, hi)) in bounds.iter_mut().enumerate() {
            let x = scaled(id, d);
            // Non-finite components (only reachable through the crate API; the engine
            // refuses them) would make every step infinite: they get code 0 and the
            // exact re-ranking puts their rows where they belong.
            if x.is_finite() {
                *lo = lo.min(x);
                *hi = hi.max(x);
            }
        }
    }
    let (min, scale): (Vec<f32>, Vec<f32>) = bounds
        .iter()
        .map(|&(lo, hi)| {
            if lo > hi {
                // No finite component in this dimension.
                return (0.0, 0.0);
            }
            let step = (hi - lo) / 255.0;
            (lo, if step.is_finite() { step } else { 0.0 })
        })
        .unzip();
    let mut codes = vec![0u8; n * dim];
    for id in (0..n).filter(|&id| is_present(id)) {
        let row = &mut codes[id * dim..(id + 1) * dim];
        for (d, code) in row.iter_mut().enumerate() {
            *code = quantise(scaled(id, d), min[d], scale[d]);
        }
    }
    Sq8Codes { min, scale, codes }
}

/// The code of `x`: the nearest of the 256 levels, clamped into range.
fn quantise(x: f32, min: f32, scale: f32) -> u8 {
    if scale > 0.0 && x.is_finite() {
        ((x - min) / scale).round().clamp(0.0, 255.0) as u8
    } else {
        0
    }
}

/// Where a graph's codes are: node `id`'s `dim` bytes start at `id * stride +
/// offset` of `bytes` (an owned graph's code array, or a file's level-0 records,
/// where each code follows its node's neighbour list).
#[derive(Clone, Copy, Debug)]
pub(crate) struct CodesRef<'a> {
    pub bytes: &'a [u8],
    pub stride: usize,
    pub offset: usize,
    pub dim: usize,
    pub min: &'a [f32],
    pub scale: &'a [f32],
}

impl<'a> CodesRef<'a> {
    /// Node `id`'s code, or an empty slice past the end (damage: the kernel then
    /// answers INFINITY instead of reading out of bounds).
    #[inline(always)]
    fn code(&self, id: u32) -> &'a [u8] {
        let start = id as usize * self.stride + self.offset;
        self.bytes.get(start..start + self.dim).unwrap_or(&[])
    }
}

/// The distance from one query to coded rows, under kernel `K`'s metric.
pub(crate) struct CodeDist<'a, K> {
    codes: CodesRef<'a>,
    /// Dot products: `q[d] * scale[d]`; L2: `q[d] - min[d]`.
    w: Vec<f32>,
    /// Dot products: `sum q[d] * min[d]`.
    bias: f32,
    /// COSINE: the query's inverse norm.
    qinv: f32,
    lines: usize,
    isa: Isa,
    _kernel: std::marker::PhantomData<K>,
}

impl<'a, K: Kernel> CodeDist<'a, K> {
    /// Folds the quantiser into `query` (`codes.dim` floats; the caller checked).
    pub fn new(codes: CodesRef<'a>, query: &[f32]) -> Self {
        let (w, bias) = if K::L2 {
            let w = query.iter().zip(codes.min).map(|(q, m)| q - m).collect();
            (w, 0.0)
        } else {
            let w = query.iter().zip(codes.scale).map(|(q, s)| q * s).collect();
            let bias = query
                .iter()
                .zip(codes.min)
                .map(|(q, m)| f64::from(*q) * f64::from(*m))
                .sum::<f64>() as f32;
            (w, bias)
        };
        CodeDist {
            codes,
            w,
            bias,
            qinv: if K::NORMS { inverse_norm(query) } else { 1.0 },
            lines: codes.dim.div_ceil(64).min(64),
            isa: Isa::detect(),
            _kernel: std::marker::PhantomData,
        }
    }
}

impl<K: Kernel> Dist for CodeDist<'_, K> {
    #[inline(always)]
    fn dist(&self, id: u32) -> f32 {
        let code = self.codes.code(id);
        if code.len() != self.w.len() {
            return f32::INFINITY;
        }
        if K::L2 {
            kernels::sq8_l2(self.isa, &self.w, self.codes.scale, code)
        } else {
            // Codes of COSINE rows are of the unit rows: their norm is 1.
            K::finish(
                self.bias + kernels::sq8_dot(self.isa, &self.w, code),
                self.qinv,
                1.0,
            )
        }
    }

    #[inline(always)]
    fn dist4(&self, ids: [u32; 4]) -> [f32; 4] {
        ids.map(|id| self.dist(id))
    }

    #[inline(always)]
    fn prefetch_head(&self, id: u32) {
        prefetch_lines(self.codes.code(id), 2);
    }

    #[inline(always)]
    fn prefetch(&self, id: u32) {
        prefetch_lines(self.codes.code(id), self.lines);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hnsw::space::{CosKernel, IpKernel, L2Kernel};

    fn rows() -> (Vec<f32>, usize) {
        let dim = 19;
        let mut state = 7u64;
        let v = (0..40 * dim)
            .map(|i| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (state >> 40) as f32 / (1u64 << 24) as f32;
                (u - 0.5) * (1 + i % 5) as f32
            })
            .collect();
        (v, dim)
    }

    fn codes_ref<'a>(c: &'a Sq8Codes, dim: usize) -> CodesRef<'a> {
        CodesRef {
            bytes: &c.codes,
            stride: dim,
            offset: 0,
            dim,
            min: &c.min,
            scale: &c.scale,
        }
    }

    #[test]
    fn coded_distances_are_within_the_quantisation_error() {
        let (v, dim) = rows();
        let q: Vec<f32> = (0..dim).map(|d| d as f32 * 0.1 - 0.7).collect();
        let n = v.len() / dim;
        // L2 and IP over the raw rows.
        let c = encode(&v, dim, &[], None);
        let l2 = CodeDist::<L2Kernel>::new(codes_ref(&c, dim), &q);
        let ip = CodeDist::<IpKernel>::new(codes_ref(&c, dim), &q);
        for id in 0..n {
            let r = &v[id * dim..(id + 1) * dim];
            let exact_l2: f32 = q.iter().zip(r).map(|(a, b)| (a - b) * (a - b)).sum();
            let exact_ip: f32 = 1.0 - q.iter().zip(r).map(|(a, b)| a * b).sum::<f32>();
            // Each component is off by at most half a step.
            let err: f32 = c.scale.iter().map(|s| s / 2.0).sum();
            let got = l2.dist(id as u32);
            assert!(
                (got.sqrt() - exact_l2.sqrt()).abs() <= err * 1.01,
                "{got} {exact_l2}"
            );
            let bound: f32 = q.iter().zip(&c.scale).map(|(a, s)| a.abs() * s / 2.0).sum();
            assert!((ip.dist(id as u32) - exact_ip).abs() <= bound * 1.01 + 1e-4);
        }
        // COSINE over the unit rows.
        let inv: Vec<f32> = v.chunks_exact(dim).map(inverse_norm).collect();
        let c = encode(&v, dim, &inv, None);
        let cos = CodeDist::<CosKernel>::new(codes_ref(&c, dim), &q);
        let qinv = inverse_norm(&q);
        for id in 0..n {
            let r = &v[id * dim..(id + 1) * dim];
            let exact = 1.0 - q.iter().zip(r).map(|(a, b)| a * b).sum::<f32>() * qinv * inv[id];
            let bound: f32 = q
                .iter()
                .zip(&c.scale)
                .map(|(a, s)| a.abs() * s / 2.0)
                .sum::<f32>()
                * qinv;
            assert!((cos.dist(id as u32) - exact).abs() <= bound * 1.01 + 1e-4);
        }
    }

    #[test]
    fn absent_constant_and_non_finite_components_get_code_zero_and_no_panic() {
        let dim = 3;
        let v = vec![
            1.0,
            5.0,
            f32::NAN, // row 0
            2.0,
            5.0,
            1.0, // row 1
            9.0,
            9.0,
            9.0, // row 2: absent
        ];
        let present: RoaringBitmap = [0u32, 1].into_iter().collect();
        let c = encode(&v, dim, &[], Some(&present));
        assert_eq!(c.min, vec![1.0, 5.0, 1.0]);
        assert_eq!(c.scale[1], 0.0, "a constant dimension has no step");
        assert_eq!(&c.codes[6..9], &[0, 0, 0], "an absent row is zeros");
        assert_eq!(c.codes[2], 0, "NaN is code 0");
        assert_eq!(&c.codes[3..5], &[255, 0]);
        // A code past the end (a damaged file) is INFINITY, not a panic.
        let short = CodesRef {
            bytes: &c.codes[..4],
            ..codes_ref(&c, dim)
        };
        let d = CodeDist::<L2Kernel>::new(short, &[0.0; 3]);
        assert_eq!(d.dist(2), f32::INFINITY);
    }
}
