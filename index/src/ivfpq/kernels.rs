//! The three loops IVF-PQ spends its time in, written so the compiler vectorises
//! them without `unsafe`: distances from one vector to `k` centroids stored
//! component-major (the inner loop runs over contiguous centroids, one lane each),
//! and the table lookups of a code.

/// `out[c] = |x - centroid_c|²` for the `k` centroids of `transposed`
/// (`x.len() * k` floats, component-major).
///
/// Four components per pass over `out`: the accumulators are loaded and stored a
/// quarter as often, which is what bounds this loop (measured with `ann`: the flush
/// that trains real-pypi-50k at NLIST 256, M 48 went from 39.5 s to 28.4 s).
#[inline]
pub(crate) fn l2_to_all(x: &[f32], transposed: &[f32], k: usize, out: &mut [f32]) {
    let out = &mut out[..k];
    out.fill(0.0);
    let mut xs = x.chunks_exact(4);
    let mut columns = transposed.chunks_exact(4 * k);
    for (x4, block) in (&mut xs).zip(&mut columns) {
        let (c0, rest) = block.split_at(k);
        let (c1, rest) = rest.split_at(k);
        let (c2, c3) = rest.split_at(k);
        for ((((o, &a), &b), &c), &d) in out.iter_mut().zip(c0).zip(c1).zip(c2).zip(c3) {
            let (da, db, dc, dd) = (x4[0] - a, x4[1] - b, x4[2] - c, x4[3] - d);
            *o += (da * da + db * db) + (dc * dc + dd * dd);
        }
    }
    for (&xd, column) in xs
        .remainder()
        .iter()
        .zip(columns.remainder().chunks_exact(k))
    {
        for (o, &c) in out.iter_mut().zip(column) {
            let diff = xd - c;
            *o += diff * diff;
        }
    }
}

/// `out[c] = <x, centroid_c>` for the `k` centroids of `transposed`.
/// Four components per pass, as [`l2_to_all`].
#[inline]
pub(crate) fn dot_to_all(x: &[f32], transposed: &[f32], k: usize, out: &mut [f32]) {
    let out = &mut out[..k];
    out.fill(0.0);
    let mut xs = x.chunks_exact(4);
    let mut columns = transposed.chunks_exact(4 * k);
    for (x4, block) in (&mut xs).zip(&mut columns) {
        let (c0, rest) = block.split_at(k);
        let (c1, rest) = rest.split_at(k);
        let (c2, c3) = rest.split_at(k);
        for ((((o, &a), &b), &c), &d) in out.iter_mut().zip(c0).zip(c1).zip(c2).zip(c3) {
            *o += (x4[0] * a + x4[1] * b) + (x4[2] * c + x4[3] * d);
        }
    }
    for (&xd, column) in xs
        .remainder()
        .iter()
        .zip(columns.remainder().chunks_exact(k))
    {
        for (o, &c) in out.iter_mut().zip(column) {
            *o += xd * c;
        }
    }
}

/// Index and value of the smallest of `values` (the first on ties); `(0, INF)` when
/// empty or all NaN.
#[inline]
pub(crate) fn argmin(values: &[f32]) -> (usize, f32) {
    let mut best = (0, f32::INFINITY);
    for (index, &value) in values.iter().enumerate() {
        if value < best.1 {
            best = (index, value);
        }
    }
    best
}

/// `Σ_j tables[j][code[j]]`: the asymmetric distance of one code. Four running sums
/// break the dependency chain of the additions.
#[inline(always)]
pub(crate) fn adc(tables: &[[f32; 256]], code: &[u8]) -> f32 {
    let mut sums = [0.0f32; 4];
    let mut table_quads = tables.chunks_exact(4);
    let mut code_quads = code.chunks_exact(4);
    for (t, c) in (&mut table_quads).zip(&mut code_quads) {
        sums[0] += t[0][c[0] as usize];
        sums[1] += t[1][c[1] as usize];
        sums[2] += t[2][c[2] as usize];
        sums[3] += t[3][c[3] as usize];
    }
    for (t, &c) in table_quads.remainder().iter().zip(code_quads.remainder()) {
        sums[0] += t[c as usize];
    }
    (sums[0] + sums[1]) + (sums[2] + sums[3])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposed_kernels_match_the_row_form() {
        let (k, dim) = (5, 7);
        let rows: Vec<f32> = (0..k * dim).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut transposed = vec![0.0; k * dim];
        for c in 0..k {
            for d in 0..dim {
                transposed[d * k + c] = rows[c * dim + d];
            }
        }
        let x = [0.5, -1.0, 2.0, 0.25, -3.0, 1.5, 0.0];
        let (mut l2, mut dot) = (vec![0.0; k], vec![0.0; k]);
        l2_to_all(&x, &transposed, k, &mut l2);
        dot_to_all(&x, &transposed, k, &mut dot);
        for c in 0..k {
            let row = &rows[c * dim..(c + 1) * dim];
            let want_l2: f32 = x.iter().zip(row).map(|(a, b)| (a - b) * (a - b)).sum();
            let want_dot: f32 = x.iter().zip(row).map(|(a, b)| a * b).sum();
            assert!((l2[c] - want_l2).abs() < 1e-5);
            assert!((dot[c] - want_dot).abs() < 1e-5);
        }
        assert_eq!(
            argmin(&l2).1,
            l2.iter().copied().fold(f32::INFINITY, f32::min)
        );
    }

    #[test]
    fn adc_sums_one_entry_per_table() {
        let tables: Vec<[f32; 256]> = (0..7)
            .map(|j| std::array::from_fn(|c| (j * 1000 + c) as f32))
            .collect();
        let code = [1u8, 2, 3, 4, 5, 6, 255];
        let want: f32 = code
            .iter()
            .enumerate()
            .map(|(j, &c)| (j * 1000 + c as usize) as f32)
            .sum();
        assert_eq!(adc(&tables, &code), want);
    }
}
