//! Bounded selection of the k nearest candidates.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A candidate row and its distance to the query.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Neighbor {
    /// Row id inside the searched segment or memtable.
    pub id: u32,
    /// Distance under the searched metric; smaller is closer.
    pub distance: f32,
}

impl Neighbor {
    /// Total order: by distance (NaN last), ties broken by id so results are deterministic.
    #[inline]
    pub fn cmp_by_distance(&self, other: &Neighbor) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then(self.id.cmp(&other.id))
    }
}

#[derive(Clone, Copy, Debug)]
struct Farthest(Neighbor);

impl PartialEq for Farthest {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Farthest {}
impl PartialOrd for Farthest {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Farthest {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp_by_distance(&other.0)
    }
}

/// Keeps the `k` nearest neighbours pushed into it.
#[derive(Debug)]
pub struct TopK {
    k: usize,
    heap: BinaryHeap<Farthest>,
}

impl TopK {
    /// An empty selection of at most `k` neighbours.
    pub fn new(k: usize) -> TopK {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.saturating_add(1).min(1 << 16)),
        }
    }

    /// The distance a candidate must beat to enter, or `INFINITY` while not full.
    #[inline]
    pub fn threshold(&self) -> f32 {
        if self.heap.len() < self.k {
            f32::INFINITY
        } else {
            self.heap.peek().map_or(f32::INFINITY, |f| f.0.distance)
        }
    }

    /// Offers a candidate; keeps it if it is among the k nearest so far.
    #[inline]
    pub fn push(&mut self, candidate: Neighbor) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(Farthest(candidate));
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if candidate.cmp_by_distance(&worst.0) == Ordering::Less {
                *worst = Farthest(candidate);
            }
        }
    }

    /// Number of neighbours held.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing has been kept.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The kept neighbours, nearest first.
    pub fn into_sorted_vec(self) -> Vec<Neighbor> {
        let mut out: Vec<Neighbor> = self.heap.into_iter().map(|f| f.0).collect();
        out.sort_by(Neighbor::cmp_by_distance);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_k_smallest_in_order() {
        let mut top = TopK::new(3);
        for (id, distance) in [(0, 5.0), (1, 1.0), (2, 3.0), (3, 0.5), (4, 4.0), (5, 3.0)] {
            top.push(Neighbor { id, distance });
        }
        let ids: Vec<u32> = top.into_sorted_vec().iter().map(|n| n.id).collect();
        assert_eq!(ids, vec![3, 1, 2]);
    }

    #[test]
    fn zero_k_keeps_nothing() {
        let mut top = TopK::new(0);
        top.push(Neighbor {
            id: 1,
            distance: 0.0,
        });
        assert!(top.is_empty());
    }
}
