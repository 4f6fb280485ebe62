//! HNSW tests: recall against the exact oracle, the file format (round trip,
//! alignment, damage), and filtered search guarantees.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use roaring::RoaringBitmap;

use super::format::{HnswFormatError, HEADER_LEN};
use super::*;
use crate::flat;

const DIM: usize = 32;
const METRICS: [Metric; 3] = [Metric::Cosine, Metric::L2, Metric::InnerProduct];

pub(super) fn random_rows(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n * dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

/// Rows on the unit sphere, so IP ranks as cosine does (IP is meant for those).
fn normalized(mut rows: Vec<f32>, dim: usize) -> Vec<f32> {
    for row in rows.chunks_exact_mut(dim) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        row.iter_mut().for_each(|x| *x /= norm);
    }
    rows
}

pub(super) fn params() -> HnswParams {
    HnswParams {
        m: 16,
        ef_construction: 100,
        seed: 7,
    }
}

pub(super) fn recall(got: &[Neighbor], want: &[Neighbor]) -> f64 {
    let hits = got
        .iter()
        .filter(|g| want.iter().any(|w| w.id == g.id))
        .count();
    hits as f64 / want.len().max(1) as f64
}

#[test]
fn recall_against_flat_for_every_metric() {
    let n = 2000;
    for (i, metric) in METRICS.into_iter().enumerate() {
        let mut rows = random_rows(n + 100, DIM, 1 + i as u64);
        if metric == Metric::InnerProduct {
            rows = normalized(rows, DIM);
        }
        let (base, queries) = rows.split_at(n * DIM);
        // Two threads for one metric, so the concurrent build is measured too.
        let threads = if metric == Metric::L2 { 2 } else { 1 };
        let graph = HnswGraph::build(base, DIM, metric, &params(), threads).unwrap();
        let mut total = 0.0;
        for q in queries.chunks_exact(DIM) {
            let got = graph.search(base, q, 10, 100, None).unwrap();
            let want = flat::search(metric, q, base, DIM, 0..n as u32, 10);
            assert_eq!(got.len(), 10);
            for hit in &got {
                let exact = metric.distance(q, &base[hit.id as usize * DIM..][..DIM]);
                assert!(
                    (hit.distance - exact).abs() <= 1e-4 * (1.0 + exact.abs()),
                    "{metric:?}"
                );
            }
            assert!(got.windows(2).all(|w| w[0].distance <= w[1].distance));
            total += recall(&got, &want);
        }
        let mean = total / 100.0;
        assert!(mean >= 0.95, "{metric:?}: recall@10 at ef=100 is {mean}");
    }
}

#[test]
fn single_thread_build_is_deterministic() {
    let rows = random_rows(500, 8, 3);
    let a = HnswGraph::build(&rows, 8, Metric::L2, &params(), 1).unwrap();
    let b = HnswGraph::build(&rows, 8, Metric::L2, &params(), 1).unwrap();
    assert_eq!(a.to_bytes(), b.to_bytes());
    let other_seed = HnswParams {
        seed: 8,
        ..params()
    };
    let c = HnswGraph::build(&rows, 8, Metric::L2, &other_seed, 1).unwrap();
    assert_ne!(a.to_bytes(), c.to_bytes());
}

#[test]
fn view_searches_like_the_graph_at_any_alignment() {
    let n = 1000;
    for metric in METRICS {
        let rows = random_rows(n + 20, 16, 11);
        let (base, queries) = rows.split_at(n * 16);
        let graph = HnswGraph::build(base, 16, metric, &params(), 2).unwrap();
        let bytes = graph.to_bytes();
        assert_eq!(bytes.len() as u64, graph.serialized_len());
        let mut vec = Vec::new();
        graph.write_to(&mut vec).unwrap();
        assert_eq!(vec, bytes);
        // Offsets 0, 4 (aligned for u32: borrowed) and 1, 3 (copied).
        for shift in [0usize, 1, 3, 4] {
            let mut buf = vec![0u8; shift];
            buf.extend_from_slice(&bytes);
            let view = HnswView::open(&buf[shift..]).unwrap();
            view.verify().unwrap();
            assert_eq!(
                (view.len(), view.dim(), view.metric(), view.params()),
                (n, 16, metric, params())
            );
            for q in queries.chunks_exact(16) {
                let want = graph.search(base, q, 10, 40, None).unwrap();
                assert_eq!(view.search(base, q, 10, 40, None).unwrap(), want);
            }
            assert_eq!(view.to_graph().to_bytes(), bytes);
        }
    }
}

#[test]
fn small_and_degenerate_inputs() {
    // Empty.
    let empty = HnswGraph::build(&[], 4, Metric::L2, &params(), 4).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.search(&[], &[0.0; 4], 10, 10, None).unwrap(), vec![]);
    let bytes = empty.to_bytes();
    let view = HnswView::open(&bytes).unwrap();
    view.verify().unwrap();
    assert_eq!(view.search(&[], &[0.0; 4], 10, 10, None).unwrap(), vec![]);
    // One row, k larger than n, k = 0.
    let one = HnswGraph::build(&[1.0, 2.0], 2, Metric::Cosine, &params(), 1).unwrap();
    let hits = one.search(&[1.0, 2.0], &[2.0, 4.0], 5, 1, None).unwrap();
    assert_eq!(hits.len(), 1);
    assert!(hits[0].distance.abs() < 1e-6);
    assert!(one
        .search(&[1.0, 2.0], &[2.0, 4.0], 0, 1, None)
        .unwrap()
        .is_empty());
    // Identical rows and zero rows: every row still comes back.
    let same = vec![0.5f32; 300 * 4];
    let graph = HnswGraph::build(&same, 4, Metric::Cosine, &params(), 2).unwrap();
    assert_eq!(
        graph.search(&same, &[0.5; 4], 300, 10, None).unwrap().len(),
        300
    );
    let zeros = vec![0.0f32; 50 * 4];
    let graph = HnswGraph::build(&zeros, 4, Metric::Cosine, &params(), 1).unwrap();
    let hits = graph.search(&zeros, &[1.0; 4], 3, 10, None).unwrap();
    assert!(hits.iter().all(|h| h.distance == 1.0) && hits.len() == 3);
}

#[test]
fn bad_inputs_are_errors() {
    let rows = random_rows(10, 4, 1);
    let bad_m = HnswParams { m: 1, ..params() };
    assert!(matches!(
        HnswGraph::build(&rows, 4, Metric::L2, &bad_m, 1),
        Err(HnswError::InvalidParams(_))
    ));
    let bad_ef = HnswParams {
        ef_construction: 0,
        ..params()
    };
    assert!(HnswGraph::build(&rows, 4, Metric::L2, &bad_ef, 1).is_err());
    assert!(HnswGraph::build(&rows, 0, Metric::L2, &params(), 1).is_err());
    assert!(matches!(
        HnswGraph::build(&rows[..7], 4, Metric::L2, &params(), 1),
        Err(HnswError::DimensionMismatch { .. })
    ));
    let graph = HnswGraph::build(&rows, 4, Metric::L2, &params(), 1).unwrap();
    assert!(graph.search(&rows[..8], &[0.0; 4], 1, 1, None).is_err());
    assert!(graph.search(&rows, &[0.0; 3], 1, 1, None).is_err());
}

/// Rewrites both CRCs, so a deliberate body change gets past the checksums and
/// exercises the structural checks instead.
pub(super) fn reseal(bytes: &mut [u8]) {
    let body = crc32fast::hash(&bytes[HEADER_LEN..]);
    bytes[80..84].copy_from_slice(&body.to_le_bytes());
    let header = crc32fast::hash(&bytes[..124]);
    bytes[124..128].copy_from_slice(&header.to_le_bytes());
}

/// Opening and searching damaged bytes: an error or some result, never a panic.
pub(super) fn poke(bytes: &[u8], base: &[f32], dim: usize) -> Result<(), HnswFormatError> {
    let view = HnswView::open(bytes)?;
    let filter = |row: u32| row.is_multiple_of(3);
    for q in base.chunks_exact(dim).take(5) {
        let _ = view.search(base, q, 10, 20, None);
        let _ = view.search(base, q, 10, 20, Some(&filter));
    }
    view.verify()
}

#[test]
fn damaged_bytes_are_caught_never_panic() {
    let rows = random_rows(300, 8, 5);
    let graph = HnswGraph::build(
        &rows,
        8,
        Metric::Cosine,
        &HnswParams { m: 4, ..params() },
        1,
    )
    .unwrap();
    assert!(
        graph.max_level() > 0,
        "the test wants upper levels to damage"
    );
    let bytes = graph.to_bytes();
    poke(&bytes, &rows, 8).unwrap();

    for len in [
        0,
        1,
        64,
        HEADER_LEN - 1,
        HEADER_LEN,
        HEADER_LEN + 1,
        bytes.len() / 2,
        bytes.len() - 1,
    ] {
        assert!(HnswView::open(&bytes[..len]).is_err(), "truncated to {len}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        HnswView::open(&longer),
        Err(HnswFormatError::SizeMismatch { .. })
    ));

    for at in 0..HEADER_LEN {
        let mut b = bytes.clone();
        b[at] ^= 0x5A;
        assert!(HnswView::open(&b).is_err(), "header byte {at} flipped");
    }
    let mut rng = StdRng::seed_from_u64(9);
    for _ in 0..300 {
        let mut b = bytes.clone();
        let at = rng.gen_range(HEADER_LEN..b.len());
        b[at] ^= 1 << rng.gen_range(0..8);
        assert_eq!(
            poke(&b, &rows, 8),
            Err(HnswFormatError::BodyChecksum),
            "body byte {at} flipped"
        );
    }
    // Damage with valid checksums: the structural checks and the search's own
    // bounds checks must hold. Random words overwritten with random values...
    for _ in 0..300 {
        let mut b = bytes.clone();
        let at = rng.gen_range(HEADER_LEN / 4..b.len() / 4) * 4;
        let value: u32 = if rng.gen_bool(0.5) {
            rng.gen()
        } else {
            rng.gen_range(0..400)
        };
        b[at..at + 4].copy_from_slice(&value.to_le_bytes());
        reseal(&mut b);
        let _ = poke(&b, &rows, 8);
    }
    // ...and a few that must be reported.
    let stride = 2 * 4 + 1;
    let mut b = bytes.clone();
    b[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&(stride as u32 + 5).to_le_bytes());
    reseal(&mut b);
    assert!(
        matches!(poke(&b, &rows, 8), Err(HnswFormatError::BadGraph { .. })),
        "count above M0"
    );
    let mut b = bytes.clone();
    b[HEADER_LEN + 4..HEADER_LEN + 8].copy_from_slice(&1_000_000u32.to_le_bytes());
    reseal(&mut b);
    assert!(
        matches!(poke(&b, &rows, 8), Err(HnswFormatError::BadGraph { .. })),
        "id out of range"
    );
    // Header fields that are wrong but sealed.
    for (at, value) in [
        (16usize, 301u32),
        (28, 1),
        (48, 300),
        (52, 40),
        (56, 301),
        (24, 9),
        (12, 64),
    ] {
        let mut b = bytes.clone();
        b[at..at + 4].copy_from_slice(&value.to_le_bytes());
        reseal(&mut b);
        assert!(
            HnswView::open(&b).is_err(),
            "header field at {at} = {value}"
        );
    }
}

#[test]
fn filtered_search_returns_min_k_matching() {
    let n = 2000;
    let rows = random_rows(n + 40, 16, 21);
    let (base, queries) = rows.split_at(n * 16);
    let graph = HnswGraph::build(base, 16, Metric::L2, &params(), 2).unwrap();
    let bytes = graph.to_bytes();
    let view = HnswView::open(&bytes).unwrap();
    let mut rng = StdRng::seed_from_u64(4);
    let mut recall_sum = 0.0;
    let mut recall_count = 0;
    for (qi, q) in queries.chunks_exact(16).enumerate() {
        // Selectivity from 0.1% to 100%, spread on a log scale.
        let share = 10f64.powf(-3.0 + 3.0 * qi as f64 / 39.0);
        let bitmap: RoaringBitmap = (0..n as u32).filter(|_| rng.gen_bool(share)).collect();
        let matching = bitmap.len() as usize;
        for k in [1, 10, 50] {
            let got = view.search(base, q, k, 20, Some(&bitmap)).unwrap();
            assert_eq!(got.len(), k.min(matching), "share {share:.4}, k {k}");
            assert!(got.iter().all(|h| bitmap.contains(h.id)));
            let mut ids: Vec<u32> = got.iter().map(|h| h.id).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), got.len(), "duplicates");
            if matching <= k {
                assert_eq!(
                    ids,
                    bitmap.iter().collect::<Vec<_>>(),
                    "small filter: exactly its rows"
                );
            }
            if k == 10 && matching >= 200 {
                let want = flat::search(Metric::L2, q, base, 16, bitmap.iter(), 10);
                recall_sum += recall(&got, &want);
                recall_count += 1;
            }
        }
        // A closure filter gives the same answer as the bitmap.
        let by_fn = |row: u32| bitmap.contains(row);
        assert_eq!(
            graph.search(base, q, 10, 20, Some(&by_fn)).unwrap(),
            view.search(base, q, 10, 20, Some(&bitmap)).unwrap()
        );
    }
    let mean = recall_sum / recall_count as f64;
    assert!(mean >= 0.9, "filtered recall@10 at ef=20 is {mean}");
}

#[test]
fn a_filter_rejecting_everything_returns_nothing() {
    let rows = random_rows(200, 4, 2);
    let graph = HnswGraph::build(&rows, 4, Metric::L2, &params(), 1).unwrap();
    let none = |_: u32| false;
    assert!(graph
        .search(&rows, &rows[..4], 10, 10, Some(&none))
        .unwrap()
        .is_empty());
}
