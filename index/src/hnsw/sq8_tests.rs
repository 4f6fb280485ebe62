//! Graphs with 8-bit codes: the walk over codes keeps the recall of the FLOAT32
//! walk, returns exact distances, and the version-2 file round-trips, is read
//! beside version 1 and survives damage.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use roaring::RoaringBitmap;

use super::format::{HnswFormatError, FORMAT_VERSION, FORMAT_VERSION_PLAIN, HEADER_LEN};
use super::tests::{params, poke, random_rows, recall, reseal};
use super::*;
use crate::flat;

const METRICS: [Metric; 3] = [Metric::Cosine, Metric::L2, Metric::InnerProduct];

fn version(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes[8..12].try_into().unwrap())
}

/// The 2,000 real sentence embeddings (384 dimensions, stored int8 with a scale per
/// row) of the demo's sample of the dev set, `engine/examples/data/sample.i8`.
fn real_sample() -> (Vec<f32>, usize) {
    let path = format!(
        "{}/../engine/examples/data/sample.i8",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap();
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let (rows, dim) = (word(0), word(4));
    assert_eq!(bytes.len(), 8 + rows * (4 + dim), "{path}");
    let mut out = Vec::with_capacity(rows * dim);
    for row in bytes[8..].chunks_exact(4 + dim) {
        let scale = f32::from_le_bytes(row[..4].try_into().unwrap());
        out.extend(row[4..].iter().map(|&c| f32::from(c as i8) * scale));
    }
    (out, dim)
}

#[test]
fn walking_codes_keeps_the_float32_recall_at_equal_ef_on_real_embeddings() {
    let (rows, dim) = real_sample();
    let queries = 200;
    let (queries, base) = rows.split_at(queries * dim);
    let n = base.len() / dim;
    let p = HnswParams::new(16, 200);
    let mut graph = HnswGraph::build(base, dim, Metric::Cosine, &p, 1).unwrap();
    graph.encode_sq8(base, None).unwrap();
    let coded = graph.graph_ref();
    let plain = coded.without_codes();
    assert!(coded.has_codes() && !plain.has_codes());
    let want: Vec<_> = queries
        .chunks_exact(dim)
        .map(|q| flat::search(Metric::Cosine, q, base, dim, 0..n as u32, 10))
        .collect();
    for ef in [10, 20, 40, 80] {
        let (mut sq8, mut f32_walk) = (0.0, 0.0);
        for (q, want) in queries.chunks_exact(dim).zip(&want) {
            let got = coded.search(base, q, 10, ef, None).unwrap();
            sq8 += recall(&got, want);
            f32_walk += recall(&plain.search(base, q, 10, ef, None).unwrap(), want);
            // Re-ranked: the distances are the exact ones, nearest first.
            for hit in &got {
                let exact = Metric::Cosine.distance(q, &base[hit.id as usize * dim..][..dim]);
                assert!((hit.distance - exact).abs() < 1e-5, "{hit:?} vs {exact}");
            }
            assert!(got.windows(2).all(|w| w[0].distance <= w[1].distance));
        }
        let (sq8, f32_walk) = (sq8 / 200.0, f32_walk / 200.0);
        assert!(
            sq8 >= f32_walk - 0.005,
            "EF {ef}: recall@10 {sq8:.4} over codes, {f32_walk:.4} over FLOAT32"
        );
    }
}

#[test]
fn codes_keep_recall_for_every_metric_and_with_filters() {
    let n = 2000;
    for (i, metric) in METRICS.into_iter().enumerate() {
        let rows = random_rows(n + 40, 32, 30 + i as u64);
        let (base, queries) = rows.split_at(n * 32);
        let mut graph = HnswGraph::build(base, 32, metric, &params(), 1).unwrap();
        graph.encode_sq8(base, None).unwrap();
        let g = graph.graph_ref();
        let filter: RoaringBitmap = (0..n as u32).filter(|r| r % 3 != 0).collect();
        let (mut coded, mut plain) = (0.0, 0.0);
        for q in queries.chunks_exact(32) {
            let want = flat::search(metric, q, base, 32, filter.iter(), 10);
            let got = g.search(base, q, 10, 60, Some(&filter)).unwrap();
            assert_eq!(got.len(), 10);
            assert!(got.iter().all(|h| filter.contains(h.id)));
            coded += recall(&got, &want);
            let walk = g.without_codes().search(base, q, 10, 60, Some(&filter));
            plain += recall(&walk.unwrap(), &want);
        }
        let (coded, plain) = (coded / 40.0, plain / 40.0);
        assert!(coded >= plain - 0.01, "{metric:?}: {coded} vs {plain}");
    }
}

#[test]
fn a_graph_with_codes_is_version_2_and_round_trips_at_any_alignment() {
    let n = 600;
    for metric in METRICS {
        let rows = random_rows(n + 10, 20, 12);
        let (base, queries) = rows.split_at(n * 20);
        let mut graph = HnswGraph::build(base, 20, metric, &params(), 2).unwrap();
        let plain_bytes = graph.to_bytes();
        assert_eq!(version(&plain_bytes), FORMAT_VERSION_PLAIN);
        graph.encode_sq8(base, None).unwrap();
        let bytes = graph.to_bytes();
        assert_eq!(version(&bytes), FORMAT_VERSION);
        assert_eq!(bytes.len() as u64, graph.serialized_len());
        // The record of a node holds its list and its code: 4*(1+32) + 20 bytes,
        // rounded up to 64.
        assert!(bytes.len() >= n * 192);
        for shift in [0usize, 1, 4] {
            let mut buf = vec![0u8; shift];
            buf.extend_from_slice(&bytes);
            let view = HnswView::open(&buf[shift..]).unwrap();
            view.verify().unwrap();
            assert!(view.graph_ref().has_codes());
            for q in queries.chunks_exact(20) {
                let want = graph.search(base, q, 5, 30, None).unwrap();
                assert_eq!(view.search(base, q, 5, 30, None).unwrap(), want);
            }
            assert_eq!(view.to_graph().to_bytes(), bytes);
        }
        // Dropping the codes gives back the version-1 file, walked over FLOAT32.
        let mut again = HnswView::open(&bytes).unwrap().to_graph();
        again.drop_codes();
        assert_eq!(again.to_bytes(), plain_bytes);
        let old = HnswView::open(&plain_bytes).unwrap();
        assert!(!old.graph_ref().has_codes());
    }
}

#[test]
fn encoding_refuses_rows_that_do_not_fit_the_graph() {
    let rows = random_rows(50, 4, 1);
    let mut graph = HnswGraph::build(&rows, 4, Metric::L2, &params(), 1).unwrap();
    assert_eq!(
        graph.encode_sq8(&rows[..196], None),
        Err(HnswError::DimensionMismatch {
            what: "vectors",
            expected: 200,
            got: 196
        })
    );
    assert!(!graph.graph_ref().has_codes());
}

#[test]
fn rows_without_a_vector_are_never_returned_by_a_walk_over_codes() {
    let rows = random_rows(500, 8, 3);
    let present: RoaringBitmap = (0..500u32).filter(|r| r % 4 != 1).collect();
    let mut graph =
        HnswGraph::build_present(&rows, 8, Metric::L2, &params(), 1, Some(&present)).unwrap();
    graph.encode_sq8(&rows, Some(&present)).unwrap();
    let bytes = graph.to_bytes();
    let view = HnswView::open(&bytes).unwrap();
    view.verify().unwrap();
    for q in rows.chunks_exact(8).take(20) {
        let hits = view.search(&rows, q, 50, 50, None).unwrap();
        assert_eq!(hits.len(), 50);
        assert!(hits.iter().all(|h| present.contains(h.id)));
    }
}

#[test]
fn damaged_version_2_bytes_are_caught_never_panic() {
    let rows = random_rows(300, 8, 5);
    let mut graph = HnswGraph::build(
        &rows,
        8,
        Metric::Cosine,
        &HnswParams { m: 4, ..params() },
        1,
    )
    .unwrap();
    graph.encode_sq8(&rows, None).unwrap();
    let bytes = graph.to_bytes();
    poke(&bytes, &rows, 8).unwrap();
    for len in [HEADER_LEN, bytes.len() / 2, bytes.len() - 1] {
        assert!(HnswView::open(&bytes[..len]).is_err(), "truncated to {len}");
    }
    for at in 0..HEADER_LEN {
        let mut b = bytes.clone();
        b[at] ^= 0x5A;
        assert!(HnswView::open(&b).is_err(), "header byte {at} flipped");
    }
    let mut rng = StdRng::seed_from_u64(19);
    for _ in 0..300 {
        let mut b = bytes.clone();
        let at = rng.gen_range(HEADER_LEN..b.len());
        b[at] ^= 1 << rng.gen_range(0..8);
        assert_eq!(poke(&b, &rows, 8), Err(HnswFormatError::BodyChecksum));
    }
    // Sealed damage: any word, codes and quantiser included, searched without a
    // panic (verify may or may not object: a code byte has no invalid value).
    for _ in 0..300 {
        let mut b = bytes.clone();
        let at = rng.gen_range(HEADER_LEN / 4..b.len() / 4) * 4;
        let value: u32 = rng.gen();
        b[at..at + 4].copy_from_slice(&value.to_le_bytes());
        reseal(&mut b);
        let _ = poke(&b, &rows, 8);
    }
    // A NaN step in the quantiser is reported.
    let quantiser = HEADER_LEN.next_multiple_of(64) + 300 * 64;
    let quantiser = (quantiser + 300 * 4).next_multiple_of(64);
    let mut b = bytes.clone();
    b[quantiser + 32..quantiser + 36].copy_from_slice(&f32::NAN.to_le_bytes());
    reseal(&mut b);
    assert!(matches!(
        poke(&b, &rows, 8),
        Err(HnswFormatError::BadGraph { .. })
    ));
    // A code kind that does not go with the version is refused at open.
    for (v, kind) in [(FORMAT_VERSION, 0u32), (FORMAT_VERSION_PLAIN, 1), (2, 7)] {
        let mut b = bytes.clone();
        b[8..12].copy_from_slice(&v.to_le_bytes());
        b[60..64].copy_from_slice(&kind.to_le_bytes());
        reseal(&mut b);
        assert!(HnswView::open(&b).is_err(), "version {v}, codes {kind}");
    }
}
