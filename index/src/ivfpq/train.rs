//! Training and encoding.
//!
//! 1. Coarse quantiser: k-means on a seeded sample of `64 * nlist` rows.
//! 2. Sub-quantisers: residuals (row minus its nearest centroid) of a sample of
//!    `64 * 256` rows, split into `m` sub-vectors; k-means with 256 centroids each.
//! 3. Every row: nearest centroid, then the nearest codeword of each sub-vector of
//!    its residual; for L2 also the row's correction term (see the module docs).
//!
//! Only the samples are copied; the rows are read from the caller's vectors one at a
//! time while encoding, so building needs the codes' memory, not a second copy of the
//! vectors. COSINE rows are normalised as they are read.

use super::kernels::{argmin, l2_to_all};
use super::kmeans::{assign, kmeans, parallel, sample, transpose, Rng};
use super::{IvfPqError, IvfPqIndex, IvfPqParams, Meta, KSUB};
use crate::distance::Metric;

/// Row `row` of `vectors`, normalised when the metric is COSINE (a zero row stays
/// zero), into `out`.
pub(super) fn read_row(vectors: &[f32], dim: usize, row: u32, metric: Metric, out: &mut [f32]) {
    let start = row as usize * dim;
    out.copy_from_slice(&vectors[start..start + dim]);
    if metric == Metric::Cosine {
        let norm = out.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            out.iter_mut().for_each(|x| *x /= norm);
        }
    }
}

/// The rows at `picks` (indices into `rows`), read as [`read_row`] does.
fn gather(vectors: &[f32], dim: usize, rows: &[u32], picks: &[usize], metric: Metric) -> Vec<f32> {
    let mut out = vec![0.0; picks.len() * dim];
    for (slot, &pick) in out.chunks_exact_mut(dim).zip(picks) {
        read_row(vectors, dim, rows[pick], metric, slot);
    }
    out
}

/// Mixed into the seed for k-means' own random stream (starts, splits).
const KMEANS_STREAM: u64 = 0x6b6d_6561_6e73_5f31;

/// The training samples of a build over `encoded` rows with `nlist` lists: indices
/// into its rows, for the coarse quantiser and for the sub-quantisers, drawn from the
/// seed alone.
pub(super) fn training_picks(encoded: usize, nlist: usize, seed: u64) -> [Vec<usize>; 2] {
    let mut rng = Rng::new(seed);
    let coarse = sample(encoded, nlist * IvfPqParams::SAMPLE_PER_CENTROID, &mut rng);
    let pq = sample(encoded, KSUB * IvfPqParams::SAMPLE_PER_CENTROID, &mut rng);
    [coarse, pq]
}

pub(super) fn build(
    vectors: &[f32],
    dim: usize,
    metric: Metric,
    rows: &[u32],
    params: &IvfPqParams,
    threads: usize,
) -> Result<IvfPqIndex, IvfPqError> {
    params.validate(dim)?;
    if !vectors.len().is_multiple_of(dim) {
        return Err(IvfPqError::DimensionMismatch {
            what: "vectors",
            expected: vectors.len() / dim * dim,
            got: vectors.len(),
        });
    }
    let n = vectors.len() / dim;
    if n >= u32::MAX as usize {
        return Err(IvfPqError::TooManyRows(n));
    }
    if rows.windows(2).any(|w| w[0] >= w[1]) || rows.last().is_some_and(|&r| r as usize >= n) {
        return Err(IvfPqError::InvalidParams(
            "the rows to encode must be ascending ids below the row count".to_string(),
        ));
    }
    let (m, encoded) = (params.m, rows.len());
    let dsub = dim / m;
    let nlist = params
        .nlist
        .min(encoded / IvfPqParams::MIN_ROWS_PER_LIST)
        .max(1);
    let [coarse_picks, pq_picks] = training_picks(encoded, nlist, params.seed);
    // The samples have their own stream, so which rows trained can be told from the
    // seed alone (a merge measures drift on the others; see `reuse.rs`).
    let mut rng = Rng::new(params.seed ^ KMEANS_STREAM);

    let mut centroids = vec![0.0f32; nlist * dim];
    let mut codebooks = vec![0.0f32; m * dsub * KSUB];
    let mut distortion = 0.0f32;
    if encoded > 0 {
        let data = gather(vectors, dim, rows, &coarse_picks, metric);
        centroids = kmeans(
            &data,
            dim,
            nlist,
            IvfPqParams::ITERATIONS,
            &mut rng,
            threads,
        );
        drop(data);
        let centroids_t = transpose(&centroids, nlist, dim);

        let picks = pq_picks;
        let mut residuals = gather(vectors, dim, rows, &picks, metric);
        let nearest = assign(&residuals, dim, &centroids_t, nlist, threads);
        for (row, (list, _)) in residuals.chunks_exact_mut(dim).zip(&nearest) {
            let centroid = &centroids[*list as usize * dim..(*list as usize + 1) * dim];
            row.iter_mut().zip(centroid).for_each(|(x, c)| *x -= c);
        }
        distortion = (nearest.iter().map(|(_, d)| *d as f64).sum::<f64>()
            / nearest.len().max(1) as f64) as f32;
        let sample_rows = picks.len();
        let mut sub = vec![0.0f32; sample_rows * dsub];
        for j in 0..m {
            for (out, row) in sub.chunks_exact_mut(dsub).zip(residuals.chunks_exact(dim)) {
                out.copy_from_slice(&row[j * dsub..(j + 1) * dsub]);
            }
            let words = kmeans(&sub, dsub, KSUB, IvfPqParams::ITERATIONS, &mut rng, threads);
            codebooks[j * dsub * KSUB..(j + 1) * dsub * KSUB]
                .copy_from_slice(&transpose(&words, KSUB, dsub));
        }
    }
    let meta = Meta {
        n: n as u32,
        dim: dim as u32,
        metric,
        nlist: nlist as u32,
        m: m as u32,
        seed: params.seed,
        encoded: encoded as u32,
        distortion,
    };
    Ok(encode(meta, vectors, rows, centroids, codebooks, threads))
}

/// One encoded row: its list and (L2) correction term; the code goes to its own
/// buffer.
#[derive(Clone, Copy, Debug, Default)]
struct Encoded {
    list: u32,
    term: f32,
}

/// Encodes `rows` with trained quantisers: `centroids` row-major (`nlist x dim`),
/// `codebooks` as the file lays them out.
pub(super) fn encode(
    meta: Meta,
    vectors: &[f32],
    rows: &[u32],
    centroids: Vec<f32>,
    codebooks: Vec<f32>,
    threads: usize,
) -> IvfPqIndex {
    let (dim, m, nlist) = (meta.dim as usize, meta.m as usize, meta.nlist as usize);
    let dsub = dim / m;
    let centroids_t = transpose(&centroids, nlist, dim);
    let mut codes = vec![0u8; rows.len() * m];
    let mut encoded = vec![Encoded::default(); rows.len()];
    // Rows and their codes are split at the same boundaries: one pass per thread.
    let mut pairs: Vec<(&mut Encoded, &mut [u8])> =
        encoded.iter_mut().zip(codes.chunks_exact_mut(m)).collect();
    parallel(&mut pairs, threads, |first, part| {
        let mut x = vec![0.0f32; dim];
        let mut scratch = vec![0.0f32; nlist.max(KSUB)];
        for (offset, (out, code)) in part.iter_mut().enumerate() {
            read_row(vectors, dim, rows[first + offset], meta.metric, &mut x);
            l2_to_all(&x, &centroids_t, nlist, &mut scratch);
            let list = argmin(&scratch[..nlist]).0;
            let centroid = &centroids[list * dim..(list + 1) * dim];
            x.iter_mut().zip(centroid).for_each(|(v, c)| *v -= c);
            let mut term = 0.0f32;
            for j in 0..m {
                let book = &codebooks[j * dsub * KSUB..(j + 1) * dsub * KSUB];
                let residual = &x[j * dsub..(j + 1) * dsub];
                l2_to_all(residual, book, KSUB, &mut scratch);
                let word = argmin(&scratch[..KSUB]).0;
                code[j] = word as u8;
                for (d, &c) in centroid[j * dsub..(j + 1) * dsub].iter().enumerate() {
                    let r = book[d * KSUB + word];
                    term += r * r + 2.0 * c * r;
                }
            }
            **out = Encoded {
                list: list as u32,
                term,
            };
        }
    });
    drop(pairs);

    // Group by list (a counting sort, stable: ids stay ascending within a list).
    let mut offsets = vec![0u32; nlist + 1];
    for e in &encoded {
        offsets[e.list as usize + 1] += 1;
    }
    for l in 0..nlist {
        offsets[l + 1] += offsets[l];
    }
    let mut next: Vec<u32> = offsets[..nlist].to_vec();
    let mut ids = vec![0u32; rows.len()];
    let mut sorted_codes = vec![0u8; rows.len() * m];
    let mut terms = vec![
        0.0f32;
        if meta.metric == Metric::L2 {
            rows.len()
        } else {
            0
        }
    ];
    for (index, e) in encoded.iter().enumerate() {
        let at = next[e.list as usize] as usize;
        next[e.list as usize] += 1;
        ids[at] = rows[index];
        sorted_codes[at * m..(at + 1) * m].copy_from_slice(&codes[index * m..(index + 1) * m]);
        if let Some(slot) = terms.get_mut(at) {
            *slot = e.term;
        }
    }
    IvfPqIndex {
        meta,
        centroids: centroids_t,
        codebooks,
        offsets,
        ids,
        terms,
        codes: sorted_codes,
    }
}
