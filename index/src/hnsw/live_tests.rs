//! Tests of graphs over part of the rows (rows without a vector), the live graph
//! (concurrent inserts and searches, snapshots) and merges, each against the exact
//! oracle.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use roaring::RoaringBitmap;

use super::*;
use crate::flat;

const DIM: usize = 32;

fn random_rows(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n * DIM).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

fn params() -> HnswParams {
    HnswParams {
        m: 16,
        ef_construction: 100,
        seed: 7,
    }
}

/// Mean recall@10 over `queries` of `search` against exact search over `ids`.
fn mean_recall(
    metric: Metric,
    base: &[f32],
    ids: &RoaringBitmap,
    queries: &[f32],
    search: impl Fn(&[f32]) -> Vec<Neighbor>,
) -> f64 {
    let mut total = 0.0;
    for q in queries.chunks_exact(DIM) {
        let got = search(q);
        let want = flat::search(metric, q, base, DIM, ids.iter(), 10);
        let hits = got
            .iter()
            .filter(|g| want.iter().any(|w| w.id == g.id))
            .count();
        total += hits as f64 / want.len().max(1) as f64;
    }
    total / (queries.len() / DIM) as f64
}

/// Rows 0..n with every third row (and some more) lacking a vector, stored as zeros.
fn partial_rows(n: usize, seed: u64) -> (Vec<f32>, RoaringBitmap) {
    let mut rows = random_rows(n, seed);
    let mut rng = StdRng::seed_from_u64(seed + 1);
    let mut present = RoaringBitmap::new();
    for id in 0..n as u32 {
        if rng.gen_bool(0.7) {
            present.insert(id);
        } else {
            rows[id as usize * DIM..(id as usize + 1) * DIM].fill(0.0);
        }
    }
    (rows, present)
}

fn round_trip(graph: &HnswGraph) -> HnswGraph {
    let bytes = graph.to_bytes();
    let view = HnswView::open(&bytes).unwrap();
    view.verify().unwrap();
    view.to_graph()
}

#[test]
fn rows_without_a_vector_are_not_in_the_graph() {
    let n = 2000;
    let (base, present) = partial_rows(n, 1);
    let queries = random_rows(50, 2);
    for metric in [Metric::Cosine, Metric::L2] {
        let graph =
            HnswGraph::build_present(&base, DIM, metric, &params(), 2, Some(&present)).unwrap();
        let graph = round_trip(&graph);
        assert_eq!(graph.len(), n);
        let g = graph.graph_ref();
        assert!(present.contains(g.meta.entry));
        for id in 0..n as u32 {
            if !present.contains(id) {
                assert_eq!(g.list(id, 0), Some(&[][..]), "row {id}");
                assert!(graph.upper_nodes.binary_search(&id).is_err());
            }
        }
        assert!(graph
            .level0
            .chunks_exact(33)
            .all(|block| block[1..1 + block[0] as usize]
                .iter()
                .all(|&id| present.contains(id))));
        let recall = mean_recall(metric, &base, &present, &queries, |q| {
            let got = graph.search(&base, q, 10, 100, None).unwrap();
            assert!(got.iter().all(|hit| present.contains(hit.id)), "{got:?}");
            got
        });
        assert!(recall >= 0.95, "{metric:?}: recall@10 {recall}");
        // Five rows accepted, two of them without a vector: the walk cannot reach
        // the three others through the filter alone, and the fallback scan must
        // still skip the two.
        let absent: Vec<u32> = (0..n as u32).filter(|id| !present.contains(*id)).collect();
        let accepted: RoaringBitmap = present
            .iter()
            .take(3)
            .chain(absent.iter().copied().take(2))
            .collect();
        let got = graph
            .search(&base, &queries[..DIM], 10, 10, Some(&accepted))
            .unwrap();
        let ids: RoaringBitmap = got.iter().map(|hit| hit.id).collect();
        assert_eq!(ids, &accepted & &present);
    }
}

#[test]
fn live_graph_takes_concurrent_inserts_while_searched() {
    let n = 3000;
    let base = random_rows(n, 3);
    let queries = random_rows(50, 4);
    let source = SliceRows::new(&base, DIM, None);
    // Capacity well below n, so the storage grows while searches run.
    let live = LiveGraph::new(DIM, Metric::Cosine, &params(), 500).unwrap();
    let next = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    let searches = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let inserters: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    while let Some(id) =
                        Some(next.fetch_add(1, Ordering::Relaxed)).filter(|&i| i < n)
                    {
                        live.insert(id as u32, &source).unwrap();
                    }
                })
            })
            .collect();
        for t in 0..2 {
            let (live, source, queries, done, searches) =
                (&live, &source, &queries, &done, &searches);
            scope.spawn(move || {
                let mut i = t;
                while !done.load(Ordering::Acquire) {
                    let q = &queries[(i % 50) * DIM..][..DIM];
                    let got = live.search(source, q, 10, 40, None).unwrap();
                    assert!(got.len() <= 10);
                    assert!(got.iter().all(|hit| live.contains(hit.id)), "{got:?}");
                    assert!(got.windows(2).all(|w| w[0].distance <= w[1].distance));
                    searches.fetch_add(1, Ordering::Relaxed);
                    i += 2;
                }
            });
        }
        for inserter in inserters {
            inserter.join().unwrap();
        }
        done.store(true, Ordering::Release);
    });
    assert!(searches.load(Ordering::Relaxed) > 0);
    assert_eq!(live.len(), n);
    let all: RoaringBitmap = (0..n as u32).collect();
    let recall = mean_recall(Metric::Cosine, &base, &all, &queries, |q| {
        live.search(&source, q, 10, 100, None).unwrap()
    });
    assert!(recall >= 0.95, "recall@10 {recall}");
}

#[test]
fn live_graph_refuses_bad_inserts_and_changes_nothing() {
    let base = random_rows(10, 5);
    let mut present = RoaringBitmap::new();
    present.insert_range(0..9);
    let source = SliceRows::new(&base, DIM, Some(&present));
    let live = LiveGraph::new(DIM, Metric::L2, &params(), 4).unwrap();
    live.insert(0, &source).unwrap();
    assert_eq!(live.insert(0, &source), Err(HnswError::AlreadyInserted(0)));
    assert_eq!(live.insert(9, &source), Err(HnswError::MissingVector(9)));
    assert_eq!(live.insert(42, &source), Err(HnswError::MissingVector(42)));
    let narrow = SliceRows::new(&base, DIM / 2, None);
    assert!(matches!(
        live.insert(1, &narrow),
        Err(HnswError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        live.search(&source, &[0.0; 3], 1, 10, None),
        Err(HnswError::DimensionMismatch { what: "query", .. })
    ));
    assert_eq!(live.len(), 1);
    assert!(LiveGraph::new(0, Metric::L2, &params(), 4).is_err());
    assert!(LiveGraph::new(DIM, Metric::L2, &HnswParams::new(1, 10), 4).is_err());
    let empty = LiveGraph::new(DIM, Metric::L2, &params(), 4).unwrap();
    assert!(empty
        .search(&source, &base[..DIM], 5, 10, None)
        .unwrap()
        .is_empty());

    // A snapshot shorter than the inserted ids (a broken contract) is still a
    // well-formed graph over the rows it covers, whichever node was the entry.
    for id in 1..9 {
        live.insert(id, &source).unwrap();
    }
    for n_rows in [1, 4, 9] {
        let graph = round_trip(&live.to_graph(n_rows));
        assert_eq!(graph.len(), n_rows as usize);
        let got = graph.search(&base[..n_rows as usize * DIM], &base[..DIM], 3, 10, None);
        assert_eq!(got.unwrap()[0].id, 0);
    }
}

#[test]
fn live_snapshot_round_trips_and_searches_the_same() {
    let n = 1500;
    let (base, present) = partial_rows(n, 6);
    let queries = random_rows(30, 7);
    let source = SliceRows::new(&base, DIM, Some(&present));
    for metric in [Metric::Cosine, Metric::L2, Metric::InnerProduct] {
        let live = LiveGraph::new(DIM, metric, &params(), 256).unwrap();
        let mut ids: Vec<u32> = present.iter().collect();
        ids.shuffle(&mut StdRng::seed_from_u64(8));
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    while let Some(&id) = ids.get(next.fetch_add(1, Ordering::Relaxed)) {
                        live.insert(id, &source).unwrap();
                    }
                });
            }
        });
        let graph = round_trip(&live.to_graph(n as u32));
        assert_eq!(graph.len(), n);
        assert!(present.contains(graph.graph_ref().meta.entry));
        for q in queries.chunks_exact(DIM) {
            let from_live = live.search(&source, q, 10, 50, None).unwrap();
            let from_file = graph.search(&base, q, 10, 50, None).unwrap();
            assert_eq!(from_live, from_file, "{metric:?}");
            assert!(from_file.iter().all(|hit| present.contains(hit.id)));
        }
    }
}

/// A 3,000-row graph, 10% of it deleted (its entry point among them), merged with
/// 1,000 new rows numbered after the survivors.
#[test]
fn a_merged_graph_searches_like_a_fresh_one() {
    let (old_n, new_n) = (3000, 1000);
    let old_base = random_rows(old_n, 9);
    let extra = random_rows(new_n, 10);
    let queries = random_rows(50, 11);
    for metric in [Metric::Cosine, Metric::L2] {
        let old = HnswGraph::build(&old_base, DIM, metric, &params(), 2).unwrap();
        let mut rng = StdRng::seed_from_u64(12);
        let entry = old.graph_ref().meta.entry;
        let mut map = Vec::with_capacity(old_n);
        let mut merged_base = Vec::new();
        for id in 0..old_n as u32 {
            if id == entry || rng.gen_bool(0.1) {
                map.push(None);
            } else {
                map.push(Some((merged_base.len() / DIM) as u32));
                merged_base.extend_from_slice(&old_base[id as usize * DIM..][..DIM]);
            }
        }
        merged_base.extend_from_slice(&extra);
        let n = merged_base.len() / DIM;
        let merged =
            HnswGraph::merged(old.graph_ref(), &map, &merged_base, None, &params(), 2).unwrap();
        let merged = round_trip(&merged);
        assert_eq!(merged.len(), n);
        let fresh = HnswGraph::build(&merged_base, DIM, metric, &params(), 2).unwrap();
        let all: RoaringBitmap = (0..n as u32).collect();
        for ef in [20, 100] {
            let got = mean_recall(metric, &merged_base, &all, &queries, |q| {
                merged.search(&merged_base, q, 10, ef, None).unwrap()
            });
            let want = mean_recall(metric, &merged_base, &all, &queries, |q| {
                fresh.search(&merged_base, q, 10, ef, None).unwrap()
            });
            assert!(
                got >= want - 0.02,
                "{metric:?} ef {ef}: merged {got}, fresh {want}"
            );
            if ef == 100 {
                assert!(got >= 0.95, "{metric:?}: merged recall@10 {got}");
            }
        }
    }
}

#[test]
fn a_merge_skips_rows_without_a_vector_and_refuses_bad_maps() {
    let (base, present) = partial_rows(1200, 13);
    let old =
        HnswGraph::build_present(&base, DIM, Metric::L2, &params(), 1, Some(&present)).unwrap();
    // Same rows, reversed, half of the old nodes deleted; 200 new rows, some without
    // a vector.
    let (extra, extra_present) = partial_rows(200, 14);
    let mut map = vec![None; 1200];
    let mut merged_base = Vec::new();
    let mut merged_present = RoaringBitmap::new();
    for old_id in (0..1200u32).rev().filter(|id| id % 2 == 0) {
        let new_id = (merged_base.len() / DIM) as u32;
        map[old_id as usize] = Some(new_id);
        if present.contains(old_id) {
            merged_present.insert(new_id);
        }
        merged_base.extend_from_slice(&base[old_id as usize * DIM..][..DIM]);
    }
    let offset = (merged_base.len() / DIM) as u32;
    merged_present.extend(extra_present.iter().map(|id| id + offset));
    merged_base.extend_from_slice(&extra);
    let merged = HnswGraph::merged(
        old.graph_ref(),
        &map,
        &merged_base,
        Some(&merged_present),
        &params(),
        2,
    )
    .unwrap();
    let merged = round_trip(&merged);
    let queries = random_rows(30, 15);
    let recall = mean_recall(Metric::L2, &merged_base, &merged_present, &queries, |q| {
        let got = merged.search(&merged_base, q, 10, 100, None).unwrap();
        assert!(got.iter().all(|hit| merged_present.contains(hit.id)));
        got
    });
    assert!(recall >= 0.95, "recall@10 {recall}");

    let g = old.graph_ref();
    let short = HnswGraph::merged(g, &map[1..], &merged_base, None, &params(), 1);
    assert!(matches!(
        short,
        Err(HnswError::DimensionMismatch { what: "map", .. })
    ));
    let mut twice = map.clone();
    twice[1] = twice[0];
    assert!(HnswGraph::merged(g, &twice, &merged_base, None, &params(), 1).is_err());
    let mut past = map.clone();
    past[0] = Some(u32::MAX - 1);
    assert!(HnswGraph::merged(g, &past, &merged_base, None, &params(), 1).is_err());
    let other_m = HnswParams { m: 8, ..params() };
    assert!(HnswGraph::merged(g, &map, &merged_base, None, &other_m, 1).is_err());
}
