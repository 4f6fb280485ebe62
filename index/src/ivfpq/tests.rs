use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use roaring::RoaringBitmap;

use super::reuse::Seed;
use super::*;
use crate::hnsw::RowFilter;
use crate::topk::Neighbor;

/// `n` rows of `dim` floats around 32 random centres: clustered like real
/// embeddings, so a coarse quantiser has structure to find.
fn clustered(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let centres: Vec<f32> = (0..32 * dim).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let c = rng.gen_range(0..32);
        for d in 0..dim {
            out.push(centres[c * dim + d] + rng.gen_range(-0.3..0.3));
        }
    }
    out
}

/// The exact answer, in f64, among `rows` that `accept` lets through.
fn oracle(
    vectors: &[f32],
    dim: usize,
    metric: Metric,
    query: &[f32],
    k: usize,
    accept: impl Fn(u32) -> bool,
) -> Vec<u32> {
    let mut all: Vec<(f64, u32)> = vectors
        .chunks_exact(dim)
        .enumerate()
        .filter(|(row, _)| accept(*row as u32))
        .map(|(row, v)| {
            let dot: f64 = query
                .iter()
                .zip(v)
                .map(|(a, b)| *a as f64 * *b as f64)
                .sum();
            let nq: f64 = query
                .iter()
                .map(|a| (*a as f64).powi(2))
                .sum::<f64>()
                .sqrt();
            let nv: f64 = v.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
            let d = match metric {
                Metric::L2 => query
                    .iter()
                    .zip(v)
                    .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
                    .sum(),
                Metric::InnerProduct => 1.0 - dot,
                Metric::Cosine => 1.0 - dot / (nq * nv),
            };
            (d, row as u32)
        })
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    all.into_iter().take(k).map(|(_, row)| row).collect()
}

fn recall(got: &[Neighbor], want: &[u32]) -> f64 {
    let hits = got.iter().filter(|n| want.contains(&n.id)).count();
    hits as f64 / want.len().max(1) as f64
}

const METRICS: [Metric; 3] = [Metric::L2, Metric::Cosine, Metric::InnerProduct];

fn all_rows(n: usize) -> Vec<u32> {
    (0..n as u32).collect()
}

#[test]
fn recall_against_the_exact_oracle_rises_with_nprobe_and_refine() {
    let (n, dim, k) = (4_000, 32, 10);
    let vectors = clustered(n, dim, 1);
    let queries = clustered(40, dim, 2);
    for metric in METRICS {
        let index = IvfPqIndex::build(
            &vectors,
            dim,
            metric,
            &all_rows(n),
            &IvfPqParams::new(32, 8),
            2,
        )
        .unwrap();
        let mean = |nprobe, refine| {
            let total: f64 = queries
                .chunks_exact(dim)
                .map(|q| {
                    let got = index
                        .as_ref()
                        .search(&vectors, q, k, IvfPqSearch { nprobe, refine }, None)
                        .unwrap();
                    assert_eq!(got.len(), k);
                    assert!(got.windows(2).all(|w| w[0].distance <= w[1].distance));
                    recall(&got, &oracle(&vectors, dim, metric, q, k, |_| true))
                })
                .sum();
            total / 40.0
        };
        let (low, high) = (mean(1, 1), mean(32, 8));
        assert!(high >= 0.97, "{metric:?}: recall {high} probing every list");
        assert!(high >= low, "{metric:?}: {low} -> {high}");
    }
}

#[test]
fn distances_are_exact_and_the_build_is_deterministic_across_threads() {
    let (n, dim) = (2_000, 16);
    let vectors = clustered(n, dim, 3);
    let params = IvfPqParams::new(8, 4);
    let one = IvfPqIndex::build(&vectors, dim, Metric::L2, &all_rows(n), &params, 1).unwrap();
    let two = IvfPqIndex::build(&vectors, dim, Metric::L2, &all_rows(n), &params, 2).unwrap();
    assert_eq!(one.to_bytes(), two.to_bytes());
    let query = &vectors[..dim];
    let got = one
        .as_ref()
        .search(
            &vectors,
            query,
            5,
            IvfPqSearch {
                nprobe: 2,
                refine: 4,
            },
            None,
        )
        .unwrap();
    for neighbor in got {
        let row = &vectors[neighbor.id as usize * dim..][..dim];
        assert_eq!(neighbor.distance, Metric::L2.distance(query, row));
    }
}

#[test]
fn the_view_answers_like_the_owned_index() {
    let (n, dim) = (3_000, 24);
    let vectors = clustered(n, dim, 4);
    for metric in METRICS {
        let index = IvfPqIndex::build(
            &vectors,
            dim,
            metric,
            &all_rows(n),
            &IvfPqParams::new(16, 6),
            2,
        )
        .unwrap();
        let bytes = index.to_bytes();
        let view = IvfPqView::open(&bytes).unwrap();
        view.verify().unwrap();
        assert_eq!(view.as_ref().nlist(), 16);
        assert_eq!(view.as_ref().metric(), metric);
        let params = IvfPqSearch {
            nprobe: 3,
            refine: 2,
        };
        for q in clustered(5, dim, 5).chunks_exact(dim) {
            assert_eq!(
                index
                    .as_ref()
                    .search(&vectors, q, 10, params, None)
                    .unwrap(),
                view.as_ref().search(&vectors, q, 10, params, None).unwrap()
            );
        }
    }
}

#[test]
fn filters_apply_and_k_matching_rows_are_always_found() {
    let (n, dim, k) = (3_000, 16, 10);
    let vectors = clustered(n, dim, 6);
    let index = IvfPqIndex::build(
        &vectors,
        dim,
        Metric::L2,
        &all_rows(n),
        &IvfPqParams::new(32, 4),
        1,
    )
    .unwrap();
    // Exactly k rows match, scattered over lists; one probe is not enough, the
    // search must keep probing, and re-ranking all of them gives the exact order.
    let matching: RoaringBitmap = (0..k as u32).map(|i| i * 293 + 7).collect();
    let query = &vectors[100 * dim..101 * dim];
    let params = IvfPqSearch {
        nprobe: 1,
        refine: 1,
    };
    let got = index
        .as_ref()
        .search(
            &vectors,
            query,
            k,
            params,
            Some((&matching as &dyn RowFilter, k)),
        )
        .unwrap();
    let ids: Vec<u32> = got.iter().map(|n| n.id).collect();
    assert_eq!(
        ids,
        oracle(&vectors, dim, Metric::L2, query, k, |r| matching
            .contains(r))
    );
    // A half filter: every answer matches it.
    let even = |row: u32| row.is_multiple_of(2);
    let got = index
        .as_ref()
        .search(&vectors, query, k, params, Some((&even, n / 2)))
        .unwrap();
    assert_eq!(got.len(), k);
    assert!(got.iter().all(|n| n.id.is_multiple_of(2)));
}

#[test]
fn rows_without_vectors_are_never_returned() {
    let (n, dim) = (1_000, 8);
    let vectors = clustered(n, dim, 7);
    let rows: Vec<u32> = (0..n as u32).filter(|r| r % 3 != 0).collect();
    let index = IvfPqIndex::build(
        &vectors,
        dim,
        Metric::Cosine,
        &rows,
        &IvfPqParams::new(8, 2),
        2,
    )
    .unwrap();
    assert_eq!(index.as_ref().encoded(), rows.len());
    let got = index
        .as_ref()
        .search(
            &vectors,
            &vectors[..dim],
            n,
            IvfPqSearch {
                nprobe: 8,
                refine: 1,
            },
            None,
        )
        .unwrap();
    assert_eq!(got.len(), rows.len());
    assert!(got.iter().all(|n| n.id % 3 != 0));
}

#[test]
fn small_and_empty_inputs_build_and_search() {
    let dim = 4;
    for n in [0usize, 1, 5, 300] {
        let vectors = clustered(n, dim, 8);
        let index = IvfPqIndex::build(
            &vectors,
            dim,
            Metric::L2,
            &all_rows(n),
            &IvfPqParams::new(64, 2),
            2,
        )
        .unwrap();
        // At most one list per 16 rows.
        assert_eq!(index.as_ref().nlist(), (n / 16).clamp(1, 64));
        let bytes = index.to_bytes();
        IvfPqView::open(&bytes).unwrap().verify().unwrap();
        let got = index
            .as_ref()
            .search(
                &vectors,
                &[0.0; 4],
                3,
                IvfPqSearch {
                    nprobe: 1,
                    refine: 1,
                },
                None,
            )
            .unwrap();
        assert_eq!(got.len(), n.min(3));
    }
}

#[test]
fn bad_parameters_and_inputs_are_refused() {
    let vectors = clustered(100, 8, 9);
    let rows = all_rows(100);
    for (nlist, m) in [(0, 2), (16, 0), (16, 3), (IvfPqParams::MAX_NLIST + 1, 2)] {
        assert!(matches!(
            IvfPqIndex::build(
                &vectors,
                8,
                Metric::L2,
                &rows,
                &IvfPqParams::new(nlist, m),
                1
            ),
            Err(IvfPqError::InvalidParams(_))
        ));
    }
    assert!(matches!(
        IvfPqIndex::build(&vectors, 8, Metric::L2, &[3, 2], &IvfPqParams::new(4, 2), 1),
        Err(IvfPqError::InvalidParams(_))
    ));
    assert!(matches!(
        IvfPqIndex::build(
            &vectors[1..],
            8,
            Metric::L2,
            &[],
            &IvfPqParams::new(4, 2),
            1
        ),
        Err(IvfPqError::DimensionMismatch { .. })
    ));
    let index =
        IvfPqIndex::build(&vectors, 8, Metric::L2, &rows, &IvfPqParams::new(4, 2), 1).unwrap();
    let params = IvfPqSearch {
        nprobe: 1,
        refine: 1,
    };
    assert!(matches!(
        index.as_ref().search(&vectors, &[0.0; 7], 1, params, None),
        Err(IvfPqError::DimensionMismatch { what: "query", .. })
    ));
    assert!(matches!(
        index
            .as_ref()
            .search(&vectors[8..], &[0.0; 8], 1, params, None),
        Err(IvfPqError::DimensionMismatch {
            what: "vectors",
            ..
        })
    ));
}

#[test]
fn damage_is_refused_at_open_or_found_by_verify_and_never_panics() {
    let (n, dim) = (600, 8);
    let vectors = clustered(n, dim, 10);
    let index = IvfPqIndex::build(
        &vectors,
        dim,
        Metric::L2,
        &all_rows(n),
        &IvfPqParams::new(8, 4),
        1,
    )
    .unwrap();
    let bytes = index.to_bytes();
    assert_eq!(
        IvfPqView::open(&bytes[..100]).unwrap_err(),
        IvfPqFormatError::TooShort {
            len: 100,
            need: 128
        }
    );
    let mut magic = bytes.clone();
    magic[0] ^= 1;
    assert_eq!(
        IvfPqView::open(&magic).unwrap_err(),
        IvfPqFormatError::BadMagic
    );
    let mut header = bytes.clone();
    header[20] ^= 1;
    assert_eq!(
        IvfPqView::open(&header).unwrap_err(),
        IvfPqFormatError::HeaderChecksum
    );
    assert!(matches!(
        IvfPqView::open(&bytes[..bytes.len() - 1]),
        Err(IvfPqFormatError::SizeMismatch { .. })
    ));
    // Any body byte flipped: open (O(1)) accepts, verify refuses, search survives.
    let mut rng = StdRng::seed_from_u64(11);
    let params = IvfPqSearch {
        nprobe: 8,
        refine: 2,
    };
    for _ in 0..300 {
        let mut damaged = bytes.clone();
        let at = rng.gen_range(HEADER_LEN..damaged.len());
        damaged[at] ^= 1 << rng.gen_range(0..8);
        let view = IvfPqView::open(&damaged).unwrap();
        assert!(view.verify().is_err(), "flip at {at} not found");
        let got = view
            .as_ref()
            .search(&vectors, &vectors[..dim], 5, params, None)
            .unwrap();
        assert!(got.len() <= 5 && got.iter().all(|n| (n.id as usize) < n_rows(&vectors, dim)));
    }
    // Offsets past the entries, with a valid body CRC: verify names them.
    let mut twisted = index.clone();
    twisted.offsets[3] = u32::MAX;
    let bytes = twisted.to_bytes();
    let view = IvfPqView::open(&bytes).unwrap();
    assert!(matches!(
        view.verify(),
        Err(IvfPqFormatError::BadBody { .. })
    ));
    view.as_ref()
        .search(&vectors, &vectors[..dim], 5, params, None)
        .unwrap();
}

fn n_rows(vectors: &[f32], dim: usize) -> usize {
    vectors.len() / dim
}

#[test]
fn a_filter_correlated_with_the_lists_probes_past_a_list_full_of_worse_matches() {
    // Two clusters on a line, around x = 0 and x = 3; the query at x = 1.4 is nearer
    // the first centroid. The filter accepts the first cluster's far end (x < -0.8)
    // and the second cluster's near end (x < 2.5): the nearest list alone holds more
    // than k * REFINE matching rows, all worse than the second list's.
    let mut rng = StdRng::seed_from_u64(12);
    let mut vectors = Vec::new();
    for i in 0..2_000 {
        let centre = if i < 1_000 { 0.0 } else { 3.0 };
        vectors.extend([
            centre + rng.gen_range(-1.0..1.0f32),
            rng.gen_range(-0.01..0.01),
        ]);
    }
    let index = IvfPqIndex::build(
        &vectors,
        2,
        Metric::L2,
        &all_rows(2_000),
        &IvfPqParams::new(2, 2),
        1,
    )
    .unwrap();
    let accept = |row: u32| {
        let x = vectors[row as usize * 2];
        (row < 1_000 && x < -0.8) || (row >= 1_000 && x < 2.5)
    };
    let accepted = (0..2_000).filter(|&r| accept(r)).count();
    let query = [1.4, 0.0];
    let params = IvfPqSearch {
        nprobe: 1,
        refine: 2,
    };
    let got = index
        .as_ref()
        .search(&vectors, &query, 10, params, Some((&accept, accepted)))
        .unwrap();
    let ids: Vec<u32> = got.iter().map(|n| n.id).collect();
    assert_eq!(ids, oracle(&vectors, 2, Metric::L2, &query, 10, accept));
}

#[test]
fn a_merge_reuses_the_quantisers_when_the_other_rows_fit_them_and_retrains_when_not() {
    // 20,000 rows: 16,384 train the sub-quantisers, the rest are held out.
    let (dim, k) = (8, 10);
    let (input_count, other_count) = (20_000, 10_000);
    let total = input_count + other_count;
    let params = IvfPqParams::new(16, 2);
    let search = IvfPqSearch {
        nprobe: 4,
        refine: 4,
    };
    // One distribution split in two: the input encoded the first part, and keeps its
    // ids in the merge.
    let same = clustered(total, dim, 1);
    let input_rows = all_rows(input_count);
    let input = IvfPqIndex::build(&same, dim, Metric::L2, &input_rows, &params, 2).unwrap();
    let kept: Vec<Option<u32>> = input_rows.iter().map(|&row| Some(row)).collect();
    let seed = Seed {
        index: input.as_ref(),
        rows: &kept,
    };
    let merge = |vectors: &[f32], params: &IvfPqParams, seed: Seed<'_>| {
        IvfPqIndex::build_reusing(vectors, dim, Metric::L2, &all_rows(total), params, 2, seed)
            .unwrap()
    };
    let (merged, decision) = merge(&same, &params, seed);
    let decision = decision.expect("the errors were compared");
    assert!(decision.reused, "{decision:?}");
    assert_eq!(merged.centroids, input.centroids);
    assert_eq!(merged.codebooks, input.codebooks);
    assert_eq!(merged.as_ref().encoded(), total);
    IvfPqView::open(&merged.to_bytes())
        .unwrap()
        .verify()
        .unwrap();
    // As good as training afresh on the merged rows. 200 queries: two fresh trainings
    // with different seeds differ by about 0.01 in recall here, and 30 queries left
    // 0.06 of noise.
    let fresh = IvfPqIndex::build(&same, dim, Metric::L2, &all_rows(total), &params, 2).unwrap();
    let queries = clustered(200, dim, 1);
    let (mut reused_recall, mut fresh_recall) = (0.0, 0.0);
    for query in queries.chunks_exact(dim) {
        let want = oracle(&same, dim, Metric::L2, query, k, |_| true);
        let got = merged
            .as_ref()
            .search(&same, query, k, search, None)
            .unwrap();
        reused_recall += recall(&got, &want) / 200.0;
        let got = fresh
            .as_ref()
            .search(&same, query, k, search, None)
            .unwrap();
        fresh_recall += recall(&got, &want) / 200.0;
    }
    assert!(
        reused_recall >= fresh_recall - 0.03,
        "reused {reused_recall} against fresh {fresh_recall}"
    );

    // The other rows come from clusters the input never saw: retrained, exactly as a
    // fresh build.
    let mut drifted = same[..input_count * dim].to_vec();
    drifted.extend(clustered(other_count, dim, 9).iter().map(|x| x * 3.0));
    let (merged, decision) = merge(&drifted, &params, seed);
    let decision = decision.expect("the errors were compared");
    assert!(!decision.reused, "{decision:?}");
    assert!(
        decision.other_error > decision.own_error * 2.0,
        "{decision:?}"
    );
    let fresh = IvfPqIndex::build(&drifted, dim, Metric::L2, &all_rows(total), &params, 2).unwrap();
    assert_eq!(merged.to_bytes(), fresh.to_bytes());

    // Seeds that cannot serve are not compared: another M, or an input whose rows
    // were all its training sample (nothing held out to compare with).
    let (merged, decision) = merge(&same, &IvfPqParams::new(16, 4), seed);
    assert_eq!((decision, merged.as_ref().m()), (None, 4));
    let small_rows = all_rows(10_000);
    let small = IvfPqIndex::build(&same, dim, Metric::L2, &small_rows, &params, 2).unwrap();
    let kept: Vec<Option<u32>> = small_rows.iter().map(|&row| Some(row)).collect();
    let seed = Seed {
        index: small.as_ref(),
        rows: &kept,
    };
    assert_eq!(merge(&same, &params, seed).1, None);
}
