//! Hand-vectorised dot product and squared L2 for the search loop.
//!
//! Why not simsimd here: its f32 kernels run one accumulator chain (a 384-d dot is
//! 24 dependent FMAs, ~100 cycles of latency), return through a dynamic-dispatch
//! call, and compare one row at a time. Comparing the query with four rows at once
//! gives four independent chains, loads each query chunk once for four rows, and is
//! inlined into the loop; on the real 384-d data set that measured ~1.3-1.4x the
//! queries per second of the simsimd path (see the HNSW issue's report). Elsewhere
//! (other CPUs, odd inputs) the simsimd kernels are used.
#![expect(
    unsafe_code,
    reason = "SIMD intrinsics behind runtime CPU feature detection"
)]

use simsimd::SpatialSimilarity;

/// The instruction set the kernels may use, detected once per search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Isa(Level);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Isa {
    /// The best level this CPU supports. The only constructor, so holding an `Isa`
    /// proves its features are present (the safety argument below relies on it).
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Isa(Level::Avx512);
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Isa(Level::Avx2);
            }
        }
        Isa(Level::Portable)
    }

    #[cfg(test)]
    pub fn portable() -> Isa {
        Isa(Level::Portable)
    }
}

fn portable<const L2: bool>(q: &[f32], r: &[f32]) -> f32 {
    let d = if L2 { f32::l2sq(q, r) } else { f32::dot(q, r) };
    d.map_or(f32::NAN, |d| d as f32)
}

/// `dot(q, r)`, or `|q - r|^2` when `L2`.
#[inline(always)]
pub(crate) fn one<const L2: bool>(isa: Isa, q: &[f32], r: &[f32]) -> f32 {
    if q.len() == r.len() {
        match isa.0 {
            // SAFETY: `isa` comes from `Isa::detect`, so the CPU has the features the
            // function is compiled for; the lengths are equal, as it requires.
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the offset is below the slice length (the loop bound above).
            Level::Avx512 => return unsafe { x86::one_512::<L2>(q, r) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the offset is below the slice length (the loop bound above).
            Level::Avx2 => return unsafe { x86::one_256::<L2>(q, r) },
            Level::Portable => {}
        }
    }
    portable::<L2>(q, r)
}

/// [`one`] of `q` against four rows at once.
#[inline(always)]
pub(crate) fn four<const L2: bool>(isa: Isa, q: &[f32], r: [&[f32]; 4]) -> [f32; 4] {
    if r.iter().all(|r| r.len() == q.len()) {
        match isa.0 {
            // SAFETY: as in `one`; all four rows have the query's length.
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the offset is below the slice length (the loop bound above).
            Level::Avx512 => return unsafe { x86::four_512::<L2>(q, r) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the offset is below the slice length (the loop bound above).
            Level::Avx2 => return unsafe { x86::four_256::<L2>(q, r) },
            Level::Portable => {}
        }
    }
    r.map(|r| portable::<L2>(q, r))
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU supports AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn sq8_dot_256(w: &[f32], c: &[u8]) -> f32 {
        super::sq8::dot::<true>(w, c)
    }

    /// # Safety
    /// The CPU supports AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn sq8_l2_256(r: &[f32], s: &[f32], c: &[u8]) -> f32 {
        super::sq8::l2::<true>(r, s, c)
    }

    /// One accumulation step: `acc += q*r`, or `acc += (q-r)^2`.
    macro_rules! step {
        ($l2:expr, $sub:ident, $fma:ident, $q:expr, $r:expr, $acc:expr) => {
            if $l2 {
                let d = $sub($q, $r);
                $fma(d, d, $acc)
            } else {
                $fma($q, $r, $acc)
            }
        };
    }

    /// # Safety
    /// The CPU supports AVX-512F and `q.len() == r.len()`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn one_512<const L2: bool>(q: &[f32], r: &[f32]) -> f32 {
        let n = q.len();
        let (qp, rp) = (q.as_ptr(), r.as_ptr());
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        // SAFETY: (all loads) every offset read is below `n`, the length of both
        // slices; the masked tail load touches only lanes below `n`.
        while i + 64 <= n {
            for (j, a) in acc.iter_mut().enumerate() {
                let at = i + 16 * j;
                *a = step!(
                    L2,
                    _mm512_sub_ps,
                    _mm512_fmadd_ps,
                    // SAFETY: the offset is below the slice length (the loop bound above).
                    unsafe { _mm512_loadu_ps(qp.add(at)) },
                    // SAFETY: the offset is below the slice length (the loop bound above).
                    unsafe { _mm512_loadu_ps(rp.add(at)) },
                    *a
                );
            }
            i += 64;
        }
        while i + 16 <= n {
            acc[0] = step!(
                L2,
                _mm512_sub_ps,
                _mm512_fmadd_ps,
                // SAFETY: the offset is below the slice length (the loop bound above).
                unsafe { _mm512_loadu_ps(qp.add(i)) },
                // SAFETY: the offset is below the slice length (the loop bound above).
                unsafe { _mm512_loadu_ps(rp.add(i)) },
                acc[0]
            );
            i += 16;
        }
        if i < n {
            let mask: __mmask16 = (1u16 << (n - i)) - 1;
            acc[1] = step!(
                L2,
                _mm512_sub_ps,
                _mm512_fmadd_ps,
                // SAFETY: the mask enables only lanes below the slice length.
                unsafe { _mm512_maskz_loadu_ps(mask, qp.add(i)) },
                // SAFETY: the mask enables only lanes below the slice length.
                unsafe { _mm512_maskz_loadu_ps(mask, rp.add(i)) },
                acc[1]
            );
        }
        let sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
        _mm512_reduce_add_ps(sum)
    }

    /// # Safety
    /// The CPU supports AVX-512F and every row has `q.len()` floats.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn four_512<const L2: bool>(q: &[f32], r: [&[f32]; 4]) -> [f32; 4] {
        let n = q.len();
        let qp = q.as_ptr();
        let rp = r.map(<[f32]>::as_ptr);
        let mut acc = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        // SAFETY: (all loads) offsets below `n`, the length of every slice.
        while i + 16 <= n {
            // SAFETY: the offset is below the slice length (the loop bound above).
            let qv = unsafe { _mm512_loadu_ps(qp.add(i)) };
            for (a, p) in acc.iter_mut().zip(rp) {
                *a = step!(
                    L2,
                    _mm512_sub_ps,
                    _mm512_fmadd_ps,
                    qv,
                    // SAFETY: the offset is below the slice length (the loop bound above).
                    unsafe { _mm512_loadu_ps(p.add(i)) },
                    *a
                );
            }
            i += 16;
        }
        if i < n {
            let mask: __mmask16 = (1u16 << (n - i)) - 1;
            // SAFETY: the mask enables only lanes below the slice length.
            let qv = unsafe { _mm512_maskz_loadu_ps(mask, qp.add(i)) };
            for (a, p) in acc.iter_mut().zip(rp) {
                *a = step!(
                    L2,
                    _mm512_sub_ps,
                    _mm512_fmadd_ps,
                    qv,
                    // SAFETY: the mask enables only lanes below the slice length.
                    unsafe { _mm512_maskz_loadu_ps(mask, p.add(i)) },
                    *a
                );
            }
        }
        [
            _mm512_reduce_add_ps(acc[0]),
            _mm512_reduce_add_ps(acc[1]),
            _mm512_reduce_add_ps(acc[2]),
            _mm512_reduce_add_ps(acc[3]),
        ]
    }

    #[target_feature(enable = "avx2,fma")]
    fn reduce_256(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }

    /// # Safety
    /// The CPU supports AVX2 and FMA, and `q.len() == r.len()`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn one_256<const L2: bool>(q: &[f32], r: &[f32]) -> f32 {
        let n = q.len();
        let (qp, rp) = (q.as_ptr(), r.as_ptr());
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        // SAFETY: (all loads) offsets below `n`, the length of both slices.
        while i + 32 <= n {
            for (j, a) in acc.iter_mut().enumerate() {
                let at = i + 8 * j;
                *a = step!(
                    L2,
                    _mm256_sub_ps,
                    _mm256_fmadd_ps,
                    // SAFETY: the offset is below the slice length (the loop bound above).
                    unsafe { _mm256_loadu_ps(qp.add(at)) },
                    // SAFETY: the offset is below the slice length (the loop bound above).
                    unsafe { _mm256_loadu_ps(rp.add(at)) },
                    *a
                );
            }
            i += 32;
        }
        while i + 8 <= n {
            acc[0] = step!(
                L2,
                _mm256_sub_ps,
                _mm256_fmadd_ps,
                // SAFETY: the offset is below the slice length (the loop bound above).
                unsafe { _mm256_loadu_ps(qp.add(i)) },
                // SAFETY: the offset is below the slice length (the loop bound above).
                unsafe { _mm256_loadu_ps(rp.add(i)) },
                acc[0]
            );
            i += 8;
        }
        let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let mut total = reduce_256(sum);
        for (x, y) in q[i..].iter().zip(&r[i..]) {
            total += if L2 { (x - y) * (x - y) } else { x * y };
        }
        total
    }

    /// # Safety
    /// The CPU supports AVX2 and FMA, and every row has `q.len()` floats.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn four_256<const L2: bool>(q: &[f32], r: [&[f32]; 4]) -> [f32; 4] {
        let n = q.len();
        let qp = q.as_ptr();
        let rp = r.map(<[f32]>::as_ptr);
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        // SAFETY: (all loads) offsets below `n`, the length of every slice.
        while i + 8 <= n {
            // SAFETY: the offset is below the slice length (the loop bound above).
            let qv = unsafe { _mm256_loadu_ps(qp.add(i)) };
            for (a, p) in acc.iter_mut().zip(rp) {
                *a = step!(
                    L2,
                    _mm256_sub_ps,
                    _mm256_fmadd_ps,
                    qv,
                    // SAFETY: the offset is below the slice length (the loop bound above).
                    unsafe { _mm256_loadu_ps(p.add(i)) },
                    *a
                );
            }
            i += 8;
        }
        let mut out = [
            reduce_256(acc[0]),
            reduce_256(acc[1]),
            reduce_256(acc[2]),
            reduce_256(acc[3]),
        ];
        for (o, row) in out.iter_mut().zip(r) {
            for (x, y) in q[i..].iter().zip(&row[i..]) {
                *o += if L2 { (x - y) * (x - y) } else { x * y };
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(l2: bool, q: &[f32], r: &[f32]) -> f64 {
        q.iter()
            .zip(r)
            .map(|(&x, &y)| {
                if l2 {
                    (x as f64 - y as f64).powi(2)
                } else {
                    x as f64 * y as f64
                }
            })
            .sum()
    }

    #[test]
    fn kernels_match_the_reference_at_every_length() {
        let isa = Isa::detect();
        let data: Vec<f32> = (0..5 * 400)
            .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
            .collect();
        for n in (0..140).chain([383, 384, 385]) {
            let q = &data[..n];
            let rows: [&[f32]; 4] =
                std::array::from_fn(|j| &data[(j + 1) * 400..(j + 1) * 400 + n]);
            for isa in [isa, Isa::portable()] {
                let tol = 1e-4 * (1.0 + n as f64);
                let (d4, l4) = (four::<false>(isa, q, rows), four::<true>(isa, q, rows));
                for (j, row) in rows.iter().enumerate() {
                    assert!(
                        (one::<false>(isa, q, row) as f64 - reference(false, q, row)).abs() < tol,
                        "n {n}"
                    );
                    assert!(
                        (one::<true>(isa, q, row) as f64 - reference(true, q, row)).abs() < tol,
                        "n {n}"
                    );
                    assert!(
                        (d4[j] as f64 - reference(false, q, row)).abs() < tol,
                        "n {n}"
                    );
                    assert!(
                        (l4[j] as f64 - reference(true, q, row)).abs() < tol,
                        "n {n}"
                    );
                }
            }
        }
        // Mismatched lengths take the checked path instead of reading past a row.
        assert!(one::<false>(isa, &data[..16], &data[..15]).is_nan());
    }
}

/// `sum w[d] * c[d]` over 8-bit codes (see `sq8.rs`); `w.len() == c.len()`.
#[inline(always)]
pub(crate) fn sq8_dot(isa: Isa, w: &[f32], c: &[u8]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if isa.0 != Level::Portable {
        // SAFETY: `isa` comes from `Isa::detect`, which saw AVX2 and FMA (AVX-512F
        // CPUs have both); the function only reads in bounds (safe code inside).
        return unsafe { x86::sq8_dot_256(w, c) };
    }
    let _ = isa;
    sq8::dot::<false>(w, c)
}

/// `sum (r[d] - s[d] * c[d])^2` over 8-bit codes; all three of one length.
#[inline(always)]
pub(crate) fn sq8_l2(isa: Isa, r: &[f32], s: &[f32], c: &[u8]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if isa.0 != Level::Portable {
        // SAFETY: as in `sq8_dot`.
        return unsafe { x86::sq8_l2_256(r, s, c) };
    }
    let _ = isa;
    sq8::l2::<false>(r, s, c)
}

/// The SQ8 kernels in safe code, written as 16 independent lanes so the compiler
/// vectorises them (widening the bytes to floats in registers); `FMA` fuses the
/// multiply-adds where the caller is compiled with the instruction.
mod sq8 {
    const LANES: usize = 16;

    #[inline(always)]
    fn madd<const FMA: bool>(a: f32, b: f32, acc: f32) -> f32 {
        if FMA {
            a.mul_add(b, acc)
        } else {
            acc + a * b
        }
    }

    #[inline(always)]
    pub(super) fn dot<const FMA: bool>(w: &[f32], c: &[u8]) -> f32 {
        let mut acc = [0f32; LANES];
        let (wc, cc) = (w.chunks_exact(LANES), c.chunks_exact(LANES));
        let tail: f32 = wc
            .remainder()
            .iter()
            .zip(cc.remainder())
            .map(|(w, c)| w * f32::from(*c))
            .sum();
        for (w, c) in wc.zip(cc) {
            for ((a, w), c) in acc.iter_mut().zip(w).zip(c) {
                *a = madd::<FMA>(*w, f32::from(*c), *a);
            }
        }
        acc.iter().sum::<f32>() + tail
    }

    #[inline(always)]
    pub(super) fn l2<const FMA: bool>(r: &[f32], s: &[f32], c: &[u8]) -> f32 {
        let mut acc = [0f32; LANES];
        let (rc, sc, cc) = (
            r.chunks_exact(LANES),
            s.chunks_exact(LANES),
            c.chunks_exact(LANES),
        );
        let tail: f32 = rc
            .remainder()
            .iter()
            .zip(sc.remainder())
            .zip(cc.remainder())
            .map(|((r, s), c)| {
                let t = r - s * f32::from(*c);
                t * t
            })
            .sum();
        for ((r, s), c) in rc.zip(sc).zip(cc) {
            for (((a, r), s), c) in acc.iter_mut().zip(r).zip(s).zip(c) {
                let t = madd::<FMA>(-*s, f32::from(*c), *r);
                *a = madd::<FMA>(t, t, *a);
            }
        }
        acc.iter().sum::<f32>() + tail
    }
}
