//! Seeded k-means (Lloyd's algorithm, L2) for the coarse quantiser and each
//! sub-quantiser.
//!
//! The start is `k` distinct sample rows drawn by the seeded generator (k-means++
//! costs `k` passes over the sample, as much as `k` iterations for 1024 lists, and
//! gains little once the sample holds 64 rows per centroid). Assignment runs on all
//! threads, each row independently; the centroid update sums rows in row order on
//! one thread, so the result depends on the seed only, never on the thread count.
//! An emptied centroid takes over half of the largest cluster (a copy of its
//! centroid nudged apart, as faiss does), so every centroid stays in use.

use super::kernels::{argmin, l2_to_all};

/// SplitMix64: a small, well-mixed generator; the training must not depend on a
/// crate's random number stream, which may change between versions.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (`bound > 0`); the modulo bias is below 2^-40 for the
    /// sizes used here.
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }
}

/// `count` distinct indices of `0..len`, ascending (all of them when `count >= len`).
pub(crate) fn sample(len: usize, count: usize, rng: &mut Rng) -> Vec<usize> {
    if count >= len {
        return (0..len).collect();
    }
    // Partial Fisher-Yates over a virtual identity array: only touched slots are stored.
    let mut swapped = std::collections::HashMap::new();
    let mut picked = Vec::with_capacity(count);
    for i in 0..count {
        let j = i + rng.below(len - i);
        let at_j = *swapped.get(&j).unwrap_or(&j);
        let at_i = *swapped.get(&i).unwrap_or(&i);
        swapped.insert(j, at_i);
        picked.push(at_j);
    }
    picked.sort_unstable();
    picked
}

/// Row-major `k x dim` to component-major `dim x k`.
pub(crate) fn transpose(rows: &[f32], k: usize, dim: usize) -> Vec<f32> {
    let mut out = vec![0.0; k * dim];
    for (c, row) in rows.chunks_exact(dim).enumerate().take(k) {
        for (d, &value) in row.iter().enumerate() {
            out[d * k + c] = value;
        }
    }
    out
}

/// Runs `work(first_index, chunk)` over `out` split into `threads` contiguous chunks.
pub(crate) fn parallel<T: Send>(
    out: &mut [T],
    threads: usize,
    work: impl Fn(usize, &mut [T]) + Sync,
) {
    let threads = threads.max(1);
    let chunk = out.len().div_ceil(threads).max(1);
    if threads == 1 || out.len() <= chunk {
        work(0, out);
        return;
    }
    std::thread::scope(|scope| {
        for (index, part) in out.chunks_mut(chunk).enumerate() {
            let work = &work;
            scope.spawn(move || work(index * chunk, part));
        }
    });
}

/// The nearest centroid of each row of `data` (and its squared distance), the
/// centroids given component-major.
pub(crate) fn assign(
    data: &[f32],
    dim: usize,
    centroids_t: &[f32],
    k: usize,
    threads: usize,
) -> Vec<(u32, f32)> {
    let mut out = vec![(0u32, 0.0f32); data.len() / dim];
    parallel(&mut out, threads, |first, part| {
        let mut scratch = vec![0.0f32; k];
        for (offset, slot) in part.iter_mut().enumerate() {
            let row = &data[(first + offset) * dim..(first + offset + 1) * dim];
            l2_to_all(row, centroids_t, k, &mut scratch);
            let (best, distance) = argmin(&scratch);
            *slot = (best as u32, distance);
        }
    });
    out
}

/// `k` centroids (row-major) trained on the rows of `data`; needs at least one row.
/// With fewer rows than `k`, the rows themselves are the centroids (repeated).
pub(crate) fn kmeans(
    data: &[f32],
    dim: usize,
    k: usize,
    iterations: usize,
    rng: &mut Rng,
    threads: usize,
) -> Vec<f32> {
    let rows = data.len() / dim;
    let mut centroids = Vec::with_capacity(k * dim);
    if rows <= k {
        for c in 0..k {
            let row = c % rows.max(1);
            centroids.extend_from_slice(&data[row * dim..(row + 1) * dim]);
        }
        return centroids;
    }
    for row in sample(rows, k, rng) {
        centroids.extend_from_slice(&data[row * dim..(row + 1) * dim]);
    }
    let mut previous: Vec<u32> = Vec::new();
    for _ in 0..iterations {
        let assigned = assign(data, dim, &transpose(&centroids, k, dim), k, threads);
        let labels: Vec<u32> = assigned.iter().map(|(c, _)| *c).collect();
        if labels == previous {
            break;
        }
        let mut sums = vec![0.0f64; k * dim];
        let mut counts = vec![0usize; k];
        for (row, &label) in labels.iter().enumerate() {
            let label = label as usize;
            counts[label] += 1;
            let sum = &mut sums[label * dim..(label + 1) * dim];
            for (s, &x) in sum.iter_mut().zip(&data[row * dim..(row + 1) * dim]) {
                *s += x as f64;
            }
        }
        for c in 0..k {
            if counts[c] > 0 {
                for d in 0..dim {
                    centroids[c * dim + d] = (sums[c * dim + d] / counts[c] as f64) as f32;
                }
            }
        }
        split_empty(&mut centroids, &mut counts, dim);
        previous = labels;
    }
    centroids
}

/// Gives every empty centroid half of the largest cluster: it and that cluster's
/// centroid move apart by a relative 1/1024 in alternating directions.
fn split_empty(centroids: &mut [f32], counts: &mut [usize], dim: usize) {
    const EPSILON: f32 = 1.0 / 1024.0;
    for empty in 0..counts.len() {
        if counts[empty] > 0 {
            continue;
        }
        let (donor, &size) = counts
            .iter()
            .enumerate()
            .max_by_key(|(index, &count)| (count, std::cmp::Reverse(*index)))
            .expect("k > 0");
        if size < 2 {
            return;
        }
        for d in 0..dim {
            let value = centroids[donor * dim + d];
            let sign = if d % 2 == 0 { 1.0 } else { -1.0 };
            centroids[empty * dim + d] = value * (1.0 + sign * EPSILON) + sign * EPSILON;
            centroids[donor * dim + d] = value * (1.0 - sign * EPSILON) - sign * EPSILON;
        }
        counts[empty] = size / 2;
        counts[donor] = size - size / 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_distinct_sorted_and_in_range() {
        let mut rng = Rng::new(7);
        let picked = sample(1000, 300, &mut rng);
        assert_eq!(picked.len(), 300);
        assert!(picked.windows(2).all(|w| w[0] < w[1]));
        assert!(picked.iter().all(|&i| i < 1000));
        assert_eq!(sample(5, 9, &mut rng), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn kmeans_finds_separated_clusters_and_is_deterministic() {
        // Four tight blobs far apart: every centroid must land on one blob.
        let mut data = Vec::new();
        let mut rng = Rng::new(1);
        for i in 0..400 {
            let center = [(i % 4) as f32 * 100.0, ((i % 4) / 2) as f32 * 100.0];
            for c in center {
                data.push(c + (rng.below(1000) as f32 / 1000.0));
            }
        }
        let run = |threads| kmeans(&data, 2, 4, 20, &mut Rng::new(3), threads);
        let centroids = run(1);
        assert_eq!(centroids, run(2));
        let mut xs: Vec<i64> = centroids
            .chunks_exact(2)
            .map(|c| (c[0] / 100.0).round() as i64)
            .collect();
        xs.sort_unstable();
        assert_eq!(xs, vec![0, 1, 2, 3]);
    }

    #[test]
    fn empty_clusters_are_refilled() {
        // Eight identical rows and one outlier, three centroids: the start may pick
        // duplicates, and no centroid may stay empty-handed at a NaN.
        let mut data = vec![1.0f32; 16];
        data.extend_from_slice(&[50.0, 50.0]);
        let centroids = kmeans(&data, 2, 3, 10, &mut Rng::new(5), 1);
        assert!(centroids.iter().all(|c| c.is_finite()));
    }
}
