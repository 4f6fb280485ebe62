//! Distance kernels.
//!
//! Every metric is a *distance*: smaller is closer, and the values match Redis so that
//! scores port unchanged:
//!
//! | metric        | distance                         | range          |
//! |---------------|----------------------------------|----------------|
//! | `Cosine`      | `1 - cos(a, b)`                  | `0 ..= 2`      |
//! | `InnerProduct`| `1 - dot(a, b)`                  | unbounded      |
//! | `L2`          | `sum((a_i - b_i)^2)` (squared)   | `0 ..`         |
//!
//! A zero vector has no direction; its cosine distance to any vector is `1`
//! (similarity 0), and `0` to another zero vector (simsimd's convention, kept here).
//!
//! The SIMD work is done by simsimd, which dispatches at run time to the best kernel
//! the CPU has (AVX2, AVX-512, NEON, SVE) and has a serial fallback of its own.

use simsimd::SpatialSimilarity;

/// How two vectors are compared. Names and semantics follow RediSearch's
/// `DISTANCE_METRIC` (`COSINE`, `L2`, `IP`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// `1 - cosine similarity`.
    Cosine,
    /// Squared Euclidean distance (no square root, as in Redis).
    L2,
    /// `1 - dot product`; meaningful for normalised vectors.
    InnerProduct,
}

impl Metric {
    /// The Redis spelling: `COSINE`, `L2` or `IP`.
    pub fn redis_name(self) -> &'static str {
        match self {
            Metric::Cosine => "COSINE",
            Metric::L2 => "L2",
            Metric::InnerProduct => "IP",
        }
    }

    /// Parses the Redis spelling, case-insensitively.
    pub fn from_redis_name(name: &str) -> Option<Metric> {
        match name.to_ascii_uppercase().as_str() {
            "COSINE" => Some(Metric::Cosine),
            "L2" => Some(Metric::L2),
            "IP" => Some(Metric::InnerProduct),
            _ => None,
        }
    }

    /// The kernel for this metric.
    pub fn kernel(self) -> Distance {
        Distance { metric: self }
    }

    /// Distance between `a` and `b`.
    ///
    /// Slices of different lengths are a caller bug; they yield `f32::INFINITY`
    /// (never a match) rather than reading out of bounds or panicking. The result is
    /// never NaN: where the f32 arithmetic overflows (vectors whose squared length
    /// passes `f32::MAX`, which the engine refuses) it is `INFINITY` instead.
    #[inline]
    pub fn distance(self, a: &[f32], b: &[f32]) -> f32 {
        debug_assert_eq!(
            a.len(),
            b.len(),
            "distance over vectors of different lengths"
        );
        let value = match self {
            Metric::Cosine => <f32 as SpatialSimilarity>::cos(a, b),
            Metric::L2 => f32::l2sq(a, b),
            Metric::InnerProduct => f32::dot(a, b).map(|dot| 1.0 - dot),
        };
        // NaN (huge components overflowing a norm to infinity, in data written before
        // the engine refused such vectors) would sort unpredictably; it never matches.
        value.map_or(f32::INFINITY, |d| {
            if d.is_nan() {
                f32::INFINITY
            } else {
                d as f32
            }
        })
    }
}

/// A distance function bound to a metric, cheap to copy into hot loops.
#[derive(Clone, Copy, Debug)]
pub struct Distance {
    metric: Metric,
}

impl Distance {
    /// The metric this kernel computes.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Distance between `a` and `b`; see [`Metric::distance`].
    #[inline]
    pub fn between(&self, a: &[f32], b: &[f32]) -> f32 {
        self.metric.distance(a, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(metric: Metric, a: &[f32], b: &[f32]) -> f64 {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
        match metric {
            Metric::L2 => a
                .iter()
                .zip(b)
                .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
                .sum(),
            Metric::InnerProduct => 1.0 - dot,
            Metric::Cosine => {
                let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
                let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
                if na == 0.0 && nb == 0.0 {
                    0.0
                } else if na == 0.0 || nb == 0.0 {
                    1.0
                } else {
                    1.0 - dot / (na * nb)
                }
            }
        }
    }

    fn pair() -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
        // Odd lengths exercise the kernels' scalar tails.
        (1usize..300).prop_flat_map(|n| {
            (
                prop::collection::vec(-10.0f32..10.0, n),
                prop::collection::vec(-10.0f32..10.0, n),
            )
        })
    }

    proptest! {
        #[test]
        fn kernels_match_f64_reference((a, b) in pair()) {
            for metric in [Metric::Cosine, Metric::L2, Metric::InnerProduct] {
                let got = metric.distance(&a, &b) as f64;
                let want = reference(metric, &a, &b);
                let scale = 1.0 + want.abs() + a.len() as f64 * 1e-3;
                prop_assert!((got - want).abs() <= 1e-4 * scale,
                    "{metric:?}: got {got}, want {want} (len {})", a.len());
            }
        }

        #[test]
        fn unaligned_slices_match(a in prop::collection::vec(-1.0f32..1.0, 2..200)) {
            // A slice starting one element in is never 16-byte aligned.
            let (x, y) = (&a[1..], &a[..a.len() - 1]);
            for metric in [Metric::Cosine, Metric::L2, Metric::InnerProduct] {
                let got = metric.distance(x, y) as f64;
                let want = reference(metric, x, y);
                prop_assert!((got - want).abs() <= 1e-4 * (1.0 + want.abs()));
            }
        }
    }

    #[test]
    fn overflowing_vectors_never_give_nan() {
        let huge = [f32::MAX, -f32::MAX, 0.0, 0.0];
        let all_max = [f32::MAX; 4];
        for metric in [Metric::Cosine, Metric::L2, Metric::InnerProduct] {
            for (a, b) in [(&huge, &all_max), (&all_max, &all_max), (&huge, &huge)] {
                assert!(!metric.distance(a, b).is_nan(), "{metric:?} {a:?} {b:?}");
            }
        }
    }

    #[test]
    fn zero_vectors_follow_the_documented_convention() {
        let zero = [0.0f32; 8];
        let one = [1.0f32; 8];
        assert_eq!(Metric::Cosine.distance(&zero, &zero), 0.0);
        assert_eq!(Metric::Cosine.distance(&zero, &one), 1.0);
    }

    #[test]
    fn mismatched_lengths_never_match() {
        if cfg!(debug_assertions) {
            return; // the debug assertion is the intended signal there
        }
        assert_eq!(Metric::L2.distance(&[1.0], &[1.0, 2.0]), f32::INFINITY);
    }

    #[test]
    fn redis_names_round_trip() {
        for metric in [Metric::Cosine, Metric::L2, Metric::InnerProduct] {
            assert_eq!(Metric::from_redis_name(metric.redis_name()), Some(metric));
        }
        assert_eq!(Metric::from_redis_name("cosine"), Some(Metric::Cosine));
        assert_eq!(Metric::from_redis_name("hamming"), None);
    }
}
