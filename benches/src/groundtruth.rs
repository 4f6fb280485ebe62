//! Exact ground truth by brute force, for when the shipped `gt.ivecs` does not apply
//! (a `--limit`ed base). Distances are computed in f64, so the truth is not at the
//! mercy of the f32 rounding the engine under test does; ties break by row id.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use strata::Metric;

use crate::fvecs::Matrix;

/// The `k` nearest base rows of each query, nearest first, using `threads` threads
/// (at least one). Rows are split across threads by query, so the result does not
/// depend on the thread count.
pub fn exact_topk(
    metric: Metric,
    base: &Matrix<f32>,
    queries: &Matrix<f32>,
    k: usize,
    threads: usize,
) -> Vec<Vec<u32>> {
    let norms: Vec<f64> = match metric {
        Metric::Cosine => base.rows().map(|row| dot(row, row).sqrt()).collect(),
        Metric::L2 | Metric::InnerProduct => Vec::new(),
    };
    let nq = queries.len();
    let threads = threads.clamp(1, nq.max(1));
    let per_thread = nq.div_ceil(threads).max(1);
    let mut out = Vec::with_capacity(nq);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..nq)
            .step_by(per_thread)
            .map(|start| {
                let end = (start + per_thread).min(nq);
                let norms = &norms;
                scope.spawn(move || {
                    (start..end)
                        .map(|q| topk_one(metric, base, norms, queries.row(q), k))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for worker in workers {
            // A worker only computes arithmetic over checked slices; if it panicked
            // anyway, that is a bug here, and re-raising it is the honest report.
            match worker.join() {
                Ok(rows) => out.extend(rows),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    out
}

/// Distance of `query` (with norm `query_norm`) to `row` (with norm `row_norm`), with
/// the engine's conventions: COSINE `1 - cos` (1 against a zero vector, 0 between two
/// zero vectors), IP `1 - dot`, L2 squared.
fn distance(metric: Metric, query: &[f32], query_norm: f64, row: &[f32], row_norm: f64) -> f64 {
    match metric {
        Metric::Cosine => {
            if query_norm == 0.0 && row_norm == 0.0 {
                0.0
            } else if query_norm == 0.0 || row_norm == 0.0 {
                1.0
            } else {
                1.0 - dot(query, row) / (query_norm * row_norm)
            }
        }
        Metric::InnerProduct => 1.0 - dot(query, row),
        Metric::L2 => l2sq(query, row),
    }
}

fn topk_one(
    metric: Metric,
    base: &Matrix<f32>,
    norms: &[f64],
    query: &[f32],
    k: usize,
) -> Vec<u32> {
    let query_norm = dot(query, query).sqrt();
    // A max-heap of the best k so far: its top is the worst kept candidate.
    let mut heap: BinaryHeap<Candidate> = BinaryHeap::with_capacity(k + 1);
    for (id, row) in base.rows().enumerate() {
        let row_norm = norms.get(id).copied().unwrap_or(0.0);
        let candidate = Candidate {
            distance: distance(metric, query, query_norm, row, row_norm),
            id: id as u32,
        };
        if heap.len() < k {
            heap.push(candidate);
        } else if heap.peek().is_some_and(|worst| candidate < *worst) {
            heap.pop();
            heap.push(candidate);
        }
    }
    heap.into_sorted_vec().into_iter().map(|c| c.id).collect()
}

/// Four accumulators let the compiler vectorise the f64 sum (a single accumulator
/// would have to keep the sequential rounding order).
fn dot(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0f64; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = a4
        .remainder()
        .iter()
        .zip(b4.remainder())
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    for (x, y) in a4.zip(b4) {
        for lane in 0..4 {
            acc[lane] += f64::from(x[lane]) * f64::from(y[lane]);
        }
    }
    acc.iter().sum::<f64>() + tail
}

fn l2sq(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0f64; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = a4
        .remainder()
        .iter()
        .zip(b4.remainder())
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum();
    for (x, y) in a4.zip(b4) {
        for lane in 0..4 {
            let d = f64::from(x[lane]) - f64::from(y[lane]);
            acc[lane] += d * d;
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// A base row and its distance, ordered by distance then id (so ties are stable).
#[derive(Clone, Copy, Debug)]
struct Candidate {
    distance: f64,
    id: u32,
}

impl Ord for Candidate {
    fn cmp(&self, other: &Candidate) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then(self.id.cmp(&other.id))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Candidate) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Candidate) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate {}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Matrix<f32> {
        // Row 3 duplicates row 1, to check that ties break by id.
        Matrix::new(
            2,
            vec![1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0, 1.0, 0.7, 0.7, 0.0, 0.0],
        )
        .unwrap()
    }

    #[test]
    fn cosine_l2_and_ip_orders() {
        let queries = Matrix::new(2, vec![0.1, 1.0, 2.0, 0.1]).unwrap();
        for threads in [1, 2, 8] {
            let cosine = exact_topk(Metric::Cosine, &base(), &queries, 3, threads);
            assert_eq!(cosine, vec![vec![1, 3, 4], vec![0, 4, 1]]);
        }
        let l2 = exact_topk(Metric::L2, &base(), &queries, 2, 1);
        assert_eq!(l2, vec![vec![1, 3], vec![0, 4]]);
        let ip = exact_topk(Metric::InnerProduct, &base(), &queries, 2, 1);
        assert_eq!(ip, vec![vec![1, 3], vec![0, 4]]);
    }

    #[test]
    fn zero_vectors_follow_the_engine_convention() {
        // Against a zero query every non-zero row is at 1 and the zero row at 0.
        let queries = Matrix::new(2, vec![0.0, 0.0]).unwrap();
        let hits = exact_topk(Metric::Cosine, &base(), &queries, 2, 1);
        assert_eq!(hits, vec![vec![5, 0]]);
    }

    #[test]
    fn k_larger_than_the_base_returns_every_row() {
        let queries = Matrix::new(2, vec![1.0, 0.0]).unwrap();
        let hits = exact_topk(Metric::L2, &base(), &queries, 100, 3);
        assert_eq!(hits[0].len(), 6);
    }

    #[test]
    fn odd_dimensions_use_the_tail() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [1.0, 1.0, 1.0, 1.0, 2.0];
        assert_eq!(dot(&a, &b), 20.0);
        assert_eq!(l2sq(&a, &b), 0.0 + 1.0 + 4.0 + 9.0 + 9.0);
    }
}
