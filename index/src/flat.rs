//! Exact (brute-force) search: the FLAT index, and the oracle every approximate
//! index is measured against.

use crate::distance::Metric;
use crate::topk::{Neighbor, TopK};

/// Exact k-nearest search over row-major `vectors` (`dim` floats per row),
/// restricted to the rows yielded by `candidates`.
///
/// Rows outside `vectors` are skipped, so a stale candidate can never read out of bounds.
pub fn search(
    metric: Metric,
    query: &[f32],
    vectors: &[f32],
    dim: usize,
    candidates: impl IntoIterator<Item = u32>,
    k: usize,
) -> Vec<Neighbor> {
    let mut top = TopK::new(k);
    if dim == 0 || query.len() != dim {
        return Vec::new();
    }
    for id in candidates {
        let start = id as usize * dim;
        let Some(row) = vectors.get(start..start + dim) else {
            continue;
        };
        let distance = metric.distance(query, row);
        if distance < top.threshold() || top.len() < k {
            top.push(Neighbor { id, distance });
        }
    }
    top.into_sorted_vec()
}

/// Every candidate row within `radius` of the query, nearest first.
pub fn range(
    metric: Metric,
    query: &[f32],
    vectors: &[f32],
    dim: usize,
    candidates: impl IntoIterator<Item = u32>,
    radius: f32,
) -> Vec<Neighbor> {
    if dim == 0 || query.len() != dim {
        return Vec::new();
    }
    let mut out = Vec::new();
    for id in candidates {
        let start = id as usize * dim;
        let Some(row) = vectors.get(start..start + dim) else {
            continue;
        };
        let distance = metric.distance(query, row);
        if distance <= radius {
            out.push(Neighbor { id, distance });
        }
    }
    out.sort_by(Neighbor::cmp_by_distance);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_exact_neighbours_among_candidates() {
        let vectors = [0.0, 0.0, 1.0, 0.0, 2.0, 0.0, 3.0, 0.0];
        let hits = search(Metric::L2, &[2.1, 0.0], &vectors, 2, [0, 1, 3], 2);
        let ids: Vec<u32> = hits.iter().map(|n| n.id).collect();
        assert_eq!(ids, vec![3, 1], "row 2 is nearest but not a candidate");
        assert!((hits[0].distance - 0.81).abs() < 1e-5);
    }

    #[test]
    fn out_of_range_candidates_are_ignored() {
        let hits = search(Metric::L2, &[0.0], &[1.0], 1, [0, 7], 5);
        assert_eq!(hits.len(), 1);
    }

    #[test]
    fn range_returns_everything_within_radius_sorted() {
        let vectors = [0.0, 1.0, 2.0, 3.0];
        let hits = range(Metric::L2, &[0.0], &vectors, 1, 0..4, 4.0);
        let ids: Vec<u32> = hits.iter().map(|n| n.id).collect();
        assert_eq!(ids, vec![0, 1, 2]);
    }
}
