//! Seeded synthetic data sets, so that scale runs (a million vectors and more) need no
//! half-gigabyte `.fvecs` file: `--synthetic N:DIM[:SEED]`.
//!
//! The vectors are a Gaussian mixture: `CLUSTERS` centres with N(0, 1) components, and
//! each row a centre plus N(0, `SPREAD`²) noise per component. Uniform random vectors
//! in 128 dimensions are nearly equidistant from each other, which no embedding is and
//! which would make any future approximate index look worse than it is on real data;
//! clusters give neighbourhoods some structure while staying trivially reproducible.
//!
//! Every row comes from its own random stream, derived from the seed and the row
//! number, so that:
//! - a data set is the same on every machine, whatever the thread count;
//! - `100000:128:S` is exactly the first 100,000 rows of `1000000:128:S`;
//! - queries (from a disjoint range of stream numbers) are never base rows.

use crate::fvecs::Matrix;
use crate::{BenchError, Result};

/// Mixture components.
const CLUSTERS: u64 = 64;
/// Standard deviation of a row around its centre (centres spread with deviation 1).
const SPREAD: f32 = 0.5;
/// Stream numbers of queries start here, far above any base row.
const QUERY_STREAMS: u64 = 1 << 48;
/// Stream numbers of centres start here.
const CENTRE_STREAMS: u64 = 1 << 56;
/// Seed used when `--synthetic` names none.
pub const DEFAULT_SEED: u64 = 42;

/// What `--synthetic N:DIM[:SEED]` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    /// Base rows.
    pub n: usize,
    /// Components per vector.
    pub dim: usize,
    /// Seed of every stream.
    pub seed: u64,
}

impl Spec {
    /// Parses `N:DIM[:SEED]`; `N` may use `k`/`m` suffixes (`1m` = 1,000,000).
    pub fn parse(value: &str) -> Result<Spec> {
        let bad = |why: &str| {
            BenchError::new(format!(
                "--synthetic {value:?}: {why} (expected N:DIM[:SEED], e.g. 1m:128:42)"
            ))
        };
        let parts: Vec<&str> = value.split(':').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(bad("wrong number of parts"));
        }
        let n = parse_count(parts[0]).ok_or_else(|| bad("N is not a positive count"))?;
        let dim = parts[1]
            .parse::<usize>()
            .ok()
            .filter(|d| (1..=crate::fvecs::MAX_FILE_DIM).contains(d))
            .ok_or_else(|| bad("DIM is not a dimension"))?;
        let seed = match parts.get(2) {
            Some(seed) => seed.parse::<u64>().map_err(|_| bad("SEED is not a u64"))?,
            None => DEFAULT_SEED,
        };
        if n > u32::MAX as usize {
            return Err(bad("N is over 2^32 rows"));
        }
        Ok(Spec { n, dim, seed })
    }

    /// A short name for reports: `synthetic-1000000x128-s42`.
    pub fn name(&self) -> String {
        format!("synthetic-{}x{}-s{}", self.n, self.dim, self.seed)
    }

    /// The base rows, generated on `threads` threads.
    pub fn base(&self, threads: usize) -> Matrix<f32> {
        self.generate(0, self.n, threads)
    }

    /// `count` query vectors from the same mixture, disjoint from the base.
    pub fn queries(&self, count: usize) -> Matrix<f32> {
        self.generate(QUERY_STREAMS, count, 1)
    }

    fn generate(&self, first_stream: u64, rows: usize, threads: usize) -> Matrix<f32> {
        let dim = self.dim;
        let centres: Vec<Vec<f32>> = (0..CLUSTERS)
            .map(|c| {
                let mut rng = Rng::stream(self.seed, CENTRE_STREAMS + c);
                (0..dim).map(|_| rng.normal()).collect()
            })
            .collect();
        let mut data = vec![0f32; rows * dim];
        let per_thread = rows.div_ceil(threads.max(1)).max(1);
        std::thread::scope(|scope| {
            for (chunk_index, chunk) in data.chunks_mut(per_thread * dim).enumerate() {
                let centres = &centres;
                let seed = self.seed;
                scope.spawn(move || {
                    let first_row = chunk_index * per_thread;
                    for (offset, row) in chunk.chunks_exact_mut(dim).enumerate() {
                        let stream = first_stream + (first_row + offset) as u64;
                        let mut rng = Rng::stream(seed, stream);
                        let centre = &centres[(rng.next() % CLUSTERS) as usize];
                        for (value, mean) in row.iter_mut().zip(centre) {
                            *value = mean + SPREAD * rng.normal();
                        }
                    }
                });
            }
        });
        Matrix::new(dim, data).expect("rows * dim values form a matrix of dimension dim")
    }
}

/// `1000`, `100k`, `1m`: a positive count.
fn parse_count(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    let (digits, scale) = match lower.strip_suffix('k') {
        Some(digits) => (digits, 1_000),
        None => match lower.strip_suffix('m') {
            Some(digits) => (digits, 1_000_000),
            None => (lower.as_str(), 1),
        },
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|n| *n > 0)
}

/// A vector of `dim` components in [-1, 1) drawn from `seed` alone (SplitMix64): the
/// cheap data of the write benches, where the writer's own work must stay small.
pub fn splitmix_vector(seed: u64, dim: usize) -> Vec<f32> {
    let mut rng = Rng {
        state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        spare: None,
    };
    (0..dim)
        .map(|_| (rng.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0)
        .collect()
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough to draw test data;
/// its output function also derives independent per-row streams from `(seed, stream)`.
/// Written here so that the data never changes with a dependency's version.
struct Rng {
    state: u64,
    spare: Option<f32>,
}

impl Rng {
    fn stream(seed: u64, stream: u64) -> Rng {
        let mut mixer = Rng {
            state: seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03),
            spare: None,
        };
        Rng {
            state: mixer.next(),
            spare: None,
        }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1]: never 0, so that its logarithm is finite.
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal draw (Box–Muller; the second value of each pair is kept).
    fn normal(&mut self) -> f32 {
        if let Some(value) = self.spare.take() {
            return value;
        }
        let radius = (-2.0 * self.unit().ln()).sqrt();
        let angle = std::f64::consts::TAU * self.unit();
        self.spare = Some((radius * angle.sin()) as f32);
        (radius * angle.cos()) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let spec = Spec::parse("1m:128").unwrap();
        assert_eq!(
            (spec.n, spec.dim, spec.seed),
            (1_000_000, 128, DEFAULT_SEED)
        );
        assert_eq!(Spec::parse("100K:8:7").unwrap().n, 100_000);
        assert_eq!(Spec::parse("250:3:7").unwrap().seed, 7);
        for bad in ["", "10", "0:8", "10:0", "10:8:x", "1:2:3:4", "x:8"] {
            assert!(Spec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn data_is_reproducible_prefix_stable_and_thread_independent() {
        let small = Spec::parse("100:16:3").unwrap();
        let large = Spec::parse("1000:16:3").unwrap();
        let a = small.base(1);
        assert_eq!(a, small.base(4));
        let b = large.base(3);
        assert_eq!(a.row(0), b.row(0));
        assert_eq!(a.row(99), b.row(99));
        assert_ne!(a.row(0), a.row(1));
        let other_seed = Spec::parse("100:16:4").unwrap().base(1);
        assert_ne!(a.row(0), other_seed.row(0));
        let queries = small.queries(10);
        assert_eq!(queries.len(), 10);
        assert!(a.rows().all(|row| row != queries.row(0)));
        assert!(b.rows().flatten().all(|v| v.is_finite()));
    }

    #[test]
    fn values_look_like_the_mixture() {
        // Centre components are N(0, 1) and noise N(0, 0.25): each component has
        // variance 1.25 over many rows and clusters.
        let data = Spec::parse("20000:4:1").unwrap().base(2);
        let values: Vec<f64> = data.rows().flatten().map(|v| f64::from(*v)).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
        assert!(mean.abs() < 0.5, "{mean}");
        assert!((0.5..2.5).contains(&variance), "{variance}");
    }
}
