//! Reusing a trained index's quantisers for a larger set of rows: a merge re-encodes
//! the merged rows with its largest input's centroids and codebooks instead of
//! training again, when the other inputs' rows fit them as well as the input's own.
//!
//! The test compares quantisation errors (`|x - (c + r̂)|²`, the coarse and the
//! product quantiser together) of two seeded samples under the input's quantisers:
//! rows the input encoded but did not train on, and rows it never saw. k-means fits
//! its sample, so rows it trained on are quantised better than any others (on 3,000
//! rows of synthetic clusters, all of them the sample, 37% better): the training
//! picks are drawn from the seed alone (`train::training_picks`), so they are known and
//! left out. Rows of the same distribution then measure alike, within sampling noise;
//! rows from a region the quantisers never saw (a new topic, a shifted distribution)
//! measure worse.
//!
//! Where the training rows cannot be told (an index trained before the picks had
//! their own random stream, or one that itself reused another's quantisers, whose
//! header keeps the seed but not the rows that trained), the "held-out" rows may
//! include training rows; that biases the test towards retraining, never towards
//! reusing quantisers that do not fit.

use super::kernels::{argmin, l2_to_all};
use super::kmeans::{sample, transpose, Rng};
use super::search::IvfPqRef;
use super::train::{encode, read_row, training_picks};
use super::{IvfPqError, IvfPqIndex, IvfPqParams, Meta, KSUB};
use crate::distance::Metric;

/// Rows sampled from each side of the comparison. With 1,024 rows the mean error's
/// standard error is about 1% on real-pypi-50k, well inside [`DRIFT_MAX`].
pub const DRIFT_SAMPLE: usize = 1024;

/// Largest ratio of the other rows' mean quantisation error to the input's own
/// held-out rows' at which the quantisers are reused. Samples of one distribution
/// measure within a few percent of each other; rows from clusters the quantisers never
/// saw measure several times the error.
pub const DRIFT_MAX: f64 = 1.10;

/// Fewest held-out rows (encoded by the input, not in its training sample) for the
/// comparison: below it the input is mostly its own training sample, and is
/// retrained (cheaply: training costs what its samples cost).
pub const MIN_HELD_OUT: usize = 256;

/// A trained index to start from, and where its rows went.
#[derive(Clone, Copy, Debug)]
pub struct Seed<'a> {
    /// The trained index.
    pub index: IvfPqRef<'a>,
    /// One entry per row the index encoded, in ascending order of its ids there: the
    /// row's id in the new build, `None` when it is not among the new rows.
    pub rows: &'a [Option<u32>],
}

/// What a merge decided about reusing an input's quantisers, and why.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reuse {
    /// Mean quantisation error of a sample of the rows the input encoded.
    pub own_error: f64,
    /// The same over a sample of the other rows (0 when there are none).
    pub other_error: f64,
    /// Whether the quantisers were reused (`other_error <= own_error * DRIFT_MAX`).
    pub reused: bool,
}

impl IvfPqRef<'_> {
    /// Mean squared distance from each of `rows` (ids into the row-major `vectors`,
    /// normalised for COSINE) to its reconstruction by this index's quantisers: its
    /// nearest centroid plus the nearest codeword of each residual sub-vector.
    pub fn quantisation_error(&self, vectors: &[f32], rows: &[u32]) -> Result<f64, IvfPqError> {
        let (dim, nlist, m) = (self.dim(), self.nlist(), self.m());
        let dsub = dim / m;
        if let Some(&row) = rows
            .iter()
            .find(|&&r| (r as usize + 1) * dim > vectors.len())
        {
            return Err(IvfPqError::InvalidParams(format!(
                "row {row} is past the {} vectors given",
                vectors.len() / dim
            )));
        }
        let mut x = vec![0.0f32; dim];
        let mut scratch = vec![0.0f32; nlist.max(KSUB)];
        let mut total = 0.0f64;
        for &row in rows {
            read_row(vectors, dim, row, self.metric(), &mut x);
            l2_to_all(&x, self.centroids, nlist, &mut scratch);
            let list = argmin(&scratch[..nlist]).0;
            for (d, value) in x.iter_mut().enumerate() {
                *value -= self.centroids[d * nlist + list];
            }
            for j in 0..m {
                let book = &self.codebooks[j * dsub * KSUB..(j + 1) * dsub * KSUB];
                l2_to_all(&x[j * dsub..(j + 1) * dsub], book, KSUB, &mut scratch);
                total += argmin(&scratch[..KSUB]).1 as f64;
            }
        }
        Ok(total / rows.len().max(1) as f64)
    }
}

impl IvfPqIndex {
    /// As [`IvfPqIndex::build`], but starting from `seed`, a trained index over some
    /// of these rows: when the others fit its quantisers (see the module docs) every
    /// row is encoded with them and nothing is trained. Trains afresh when they do not,
    /// or when the seed differs in dimension, metric or `M`, has another number of
    /// lists than a fresh build would train, or keeps fewer than [`MIN_HELD_OUT`] rows
    /// it did not train on. Returns the decision when the errors were compared.
    pub fn build_reusing(
        vectors: &[f32],
        dim: usize,
        metric: Metric,
        rows: &[u32],
        params: &IvfPqParams,
        threads: usize,
        seed: Seed<'_>,
    ) -> Result<(IvfPqIndex, Option<Reuse>), IvfPqError> {
        let Seed {
            index: input,
            rows: input_rows,
        } = seed;
        params.validate(dim)?;
        if !vectors.len().is_multiple_of(dim) {
            return Err(IvfPqError::DimensionMismatch {
                what: "vectors",
                expected: vectors.len() / dim * dim,
                got: vectors.len(),
            });
        }
        if rows.windows(2).any(|w| w[0] >= w[1])
            || rows
                .last()
                .is_some_and(|&r| (r as usize + 1) * dim > vectors.len())
        {
            return Err(IvfPqError::InvalidParams(
                "the rows to encode must be ascending ids below the row count".to_string(),
            ));
        }
        let lists = params
            .nlist
            .min(rows.len() / IvfPqParams::MIN_ROWS_PER_LIST)
            .max(1);
        let fits = input.dim() == dim
            && input.metric() == metric
            && input.m() == params.m
            && input.nlist() == lists
            && input_rows.len() == input.encoded();
        // Rows the input encoded but never trained on, that the new build keeps.
        let held_out: Vec<u32> = if fits {
            let [coarse, pq] = training_picks(input.encoded(), input.nlist(), input.meta.seed);
            let mut trained = vec![false; input_rows.len()];
            coarse
                .into_iter()
                .chain(pq)
                .for_each(|at| trained[at] = true);
            input_rows
                .iter()
                .zip(&trained)
                .filter_map(|(row, trained)| row.filter(|_| !trained))
                .collect()
        } else {
            Vec::new()
        };
        if held_out.len() < MIN_HELD_OUT {
            return Ok((
                IvfPqIndex::build(vectors, dim, metric, rows, params, threads)?,
                None,
            ));
        }
        let mut from_input: Vec<u32> = input_rows.iter().flatten().copied().collect();
        from_input.sort_unstable();
        let others: Vec<u32> = rows
            .iter()
            .copied()
            .filter(|row| from_input.binary_search(row).is_err())
            .collect();
        let mut rng = Rng::new(params.seed);
        let mut pick = |from: &[u32]| -> Vec<u32> {
            sample(from.len(), DRIFT_SAMPLE, &mut rng)
                .into_iter()
                .map(|at| from[at])
                .collect()
        };
        let (own, other) = (pick(&held_out), pick(&others));
        let own_error = input.quantisation_error(vectors, &own)?;
        let other_error = input.quantisation_error(vectors, &other)?;
        let reused = other.is_empty() || other_error <= own_error * DRIFT_MAX;
        let decision = Reuse {
            own_error,
            other_error,
            reused,
        };
        if !reused {
            let built = IvfPqIndex::build(vectors, dim, metric, rows, params, threads)?;
            return Ok((built, Some(decision)));
        }
        let n = vectors.len() / dim;
        if n >= u32::MAX as usize {
            return Err(IvfPqError::TooManyRows(n));
        }
        let meta = Meta {
            n: n as u32,
            dim: dim as u32,
            metric,
            nlist: lists as u32,
            m: params.m as u32,
            seed: input.meta.seed,
            encoded: rows.len() as u32,
            distortion: input.distortion(),
        };
        let centroids = transpose(input.centroids, dim, lists);
        let built = encode(
            meta,
            vectors,
            rows,
            centroids,
            input.codebooks.to_vec(),
            threads,
        );
        Ok((built, Some(decision)))
    }
}
