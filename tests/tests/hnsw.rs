//! HNSW through the public API: recall against an exact twin collection, filters that
//! never return fewer than k rows when k match, deleted rows skipped, and a graph that
//! survives reopen and compaction.

use std::collections::HashSet;

use strata::{
    Collection, Database, Doc, Filter, Metric, Options, Schema, Search, Strategy, VectorIndex,
};
use strata_tests::random_vectors;

const COUNT: usize = 3_000;
const DIM: usize = 32;

/// A database without background work, so segments stay as the test made them.
fn open(path: &std::path::Path) -> Database {
    Database::open_with(
        path,
        Options {
            background_work: false,
            ..Options::default()
        },
    )
    .unwrap()
}

fn collection(db: &Database, name: &str, metric: Metric, index: VectorIndex) -> Collection {
    let schema = Schema::builder()
        .numeric("u")
        .vector("v", DIM, metric, index)
        .build()
        .unwrap();
    db.create_collection(name, schema).unwrap()
}

fn fill(collections: &[&Collection], vectors: &[Vec<f32>]) {
    for docs in collections {
        docs.upsert_many(vectors.iter().enumerate().map(|(i, v)| {
            (
                format!("k{i}"),
                Doc::new()
                    .numeric("u", i as f64 / COUNT as f64)
                    .vector("v", v.clone()),
            )
        }))
        .unwrap();
    }
}

fn keys(docs: &Collection, search: &Search) -> Vec<String> {
    docs.search(search)
        .unwrap()
        .into_iter()
        .map(|hit| hit.key)
        .collect()
}

fn recall(got: &[String], truth: &[String]) -> f64 {
    let truth: HashSet<&String> = truth.iter().collect();
    got.iter().filter(|key| truth.contains(key)).count() as f64 / truth.len().max(1) as f64
}

#[test]
fn hnsw_matches_exact_search_closely_for_every_metric() {
    let vectors = random_vectors(3, COUNT, DIM);
    let queries = random_vectors(4, 40, DIM);
    for metric in [Metric::Cosine, Metric::L2, Metric::InnerProduct] {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        let graph = collection(&db, "graph", metric, VectorIndex::hnsw(16, 100));
        let exact = collection(&db, "exact", metric, VectorIndex::flat());
        fill(&[&graph, &exact], &vectors);
        db.flush().unwrap();
        let mut total = 0.0;
        for query in &queries {
            // Forced onto the graph: at 3,000 rows the planner would rightly scan.
            let request = Search::knn("v", query, 10)
                .ef_runtime(100)
                .brute_force(false)
                .no_content();
            let plan = graph.explain(&request).unwrap();
            assert!(
                plan.sources
                    .iter()
                    .any(|s| s.strategy == Strategy::GraphTraversal),
                "{plan}"
            );
            total += recall(&keys(&graph, &request), &keys(&exact, &request));
        }
        let mean = total / queries.len() as f64;
        assert!(mean >= 0.95, "{metric:?}: recall@10 {mean} at ef=100");
    }
}

#[test]
fn filtered_search_never_returns_fewer_than_k_and_keeps_recall() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let graph = collection(&db, "graph", Metric::L2, VectorIndex::hnsw(16, 100));
    let exact = collection(&db, "exact", Metric::L2, VectorIndex::flat());
    fill(&[&graph, &exact], &random_vectors(5, COUNT, DIM));
    db.flush().unwrap();
    for deleted in (0..COUNT).step_by(4) {
        graph.delete(&format!("k{deleted}")).unwrap();
        exact.delete(&format!("k{deleted}")).unwrap();
    }
    let queries = random_vectors(6, 20, DIM);
    // Both the planner's choice and the graph forced even where it is slow: a walk
    // through a graph whose rows mostly fail the filter must still find k matches.
    for (selectivity, forced) in [0.001, 0.005, 0.02, 0.05, 0.2, 0.5, 1.0]
        .into_iter()
        .flat_map(|s| [(s, false), (s, true)])
    {
        let filter = Filter::range("u", ..selectivity);
        let live_matches = (0..COUNT)
            .filter(|i| (*i as f64 / COUNT as f64) < selectivity && i % 4 != 0)
            .count();
        let mut total = 0.0;
        for query in &queries {
            let mut request = Search::knn("v", query, 10)
                .filter(filter.clone())
                .ef_runtime(64)
                .no_content();
            if forced {
                request = request.brute_force(false);
            }
            let got = keys(&graph, &request);
            assert_eq!(got.len(), live_matches.min(10), "selectivity {selectivity}");
            assert!(
                got.iter()
                    .all(|key| key[1..].parse::<usize>().unwrap() % 4 != 0),
                "a deleted row came back"
            );
            total += recall(&got, &keys(&exact, &request));
        }
        let mean = total / queries.len() as f64;
        assert!(
            mean >= 0.95,
            "selectivity {selectivity} (graph forced: {forced}): recall@10 {mean}"
        );
    }
}

#[test]
fn the_graph_survives_reopen_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let vectors = random_vectors(7, COUNT, DIM);
    let query = &random_vectors(8, 1, DIM)[0];
    let request = Search::knn("v", query, 10)
        .ef_runtime(200)
        .brute_force(false)
        .no_content();
    let before = {
        let db = open(dir.path());
        let graph = collection(&db, "graph", Metric::Cosine, VectorIndex::hnsw(8, 64));
        fill(&[&graph], &vectors);
        db.flush().unwrap();
        keys(&graph, &request)
    };
    let db = open(dir.path());
    let graph = db.collection("graph").unwrap();
    assert_eq!(
        keys(&graph, &request),
        before,
        "the graph read back from disk answers the same"
    );
    for i in 0..100 {
        graph.delete(&format!("k{i}")).unwrap();
    }
    db.compact().unwrap();
    let plan = graph.explain(&request).unwrap();
    assert_eq!(
        plan.sources
            .iter()
            .filter(|s| s.strategy == Strategy::GraphTraversal)
            .count(),
        1,
        "{plan}"
    );
    let after = keys(&graph, &request);
    let expected: Vec<String> = before
        .into_iter()
        .filter(|key| key[1..].parse::<usize>().unwrap() >= 100)
        .collect();
    assert!(
        recall(&after, &expected) >= 0.8,
        "{after:?} vs {expected:?}"
    );
    db.verify().unwrap();
}

#[test]
fn the_planner_scans_small_or_selective_segments_and_walks_large_ones() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let graph = collection(&db, "graph", Metric::L2, VectorIndex::hnsw(8, 32));
    fill(&[&graph], &random_vectors(9, COUNT, DIM));
    db.flush().unwrap();
    let query = &random_vectors(10, 1, DIM)[0];
    let strategy = |request: Search| graph.explain(&request).unwrap().sources[0].strategy;
    // 3,000 live rows of 32 floats: a walk pays while 3,000 * 32 >= 3,500 * ef, i.e.
    // up to ef = 27.
    assert_eq!(
        strategy(Search::knn("v", query, 10).ef_runtime(10)),
        Strategy::GraphTraversal
    );
    assert_eq!(
        strategy(Search::knn("v", query, 10).ef_runtime(500)),
        Strategy::ExactOverBitmap
    );
    assert_eq!(
        strategy(
            Search::knn("v", query, 10)
                .ef_runtime(10)
                .filter(Filter::range("u", ..0.01))
        ),
        Strategy::ExactOverBitmap
    );
    assert_eq!(
        strategy(Search::knn("v", query, 10).ef_runtime(10).brute_force(true)),
        Strategy::ExactOverBitmap
    );
    assert_eq!(
        strategy(
            Search::knn("v", query, 10)
                .ef_runtime(500)
                .brute_force(false)
        ),
        Strategy::GraphTraversal
    );
}

#[test]
fn rows_without_a_vector_leave_the_segment_graph_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let graph = collection(&db, "graph", Metric::Cosine, VectorIndex::hnsw(16, 100));
    let exact = collection(&db, "exact", Metric::Cosine, VectorIndex::flat());
    let vectors = random_vectors(11, COUNT, DIM);
    // 30% of the documents have no vector.
    let has_vector = |key: &str| key[1..].parse::<usize>().unwrap() % 10 >= 3;
    for docs in [&graph, &exact] {
        docs.upsert_many(vectors.iter().enumerate().map(|(i, v)| {
            let key = format!("k{i}");
            let mut doc = Doc::new().numeric("u", i as f64 / COUNT as f64);
            if has_vector(&key) {
                doc = doc.vector("v", v.clone());
            }
            (key, doc)
        }))
        .unwrap();
    }
    db.flush().unwrap();
    let queries = random_vectors(12, 40, DIM);
    let mut total = 0.0;
    for query in &queries {
        let request = Search::knn("v", query, 10)
            .ef_runtime(100)
            .brute_force(false)
            .no_content();
        let plan = graph.explain(&request).unwrap();
        assert_eq!(plan.sources[0].strategy, Strategy::GraphTraversal, "{plan}");
        let got = keys(&graph, &request);
        assert_eq!(got.len(), 10);
        assert!(got.iter().all(|key| has_vector(key)), "{got:?}");
        total += recall(&got, &keys(&exact, &request));

        // Six of the nine matching rows have a vector: the walk runs out of graph and
        // scans the rest, which must not bring back the three without one.
        let few = Search::knn("v", query, 10)
            .filter(Filter::range("u", ..0.003))
            .ef_runtime(100)
            .brute_force(false)
            .no_content();
        let got = keys(&graph, &few);
        assert_eq!(got, keys(&exact, &few));
        assert_eq!(got.len(), 6, "{got:?}");
    }
    let mean = total / queries.len() as f64;
    assert!(mean >= 0.95, "recall@10 {mean} at ef=100");
    db.verify().unwrap();
}

#[test]
fn a_compaction_keeps_the_largest_graph_and_adds_the_other_rows() {
    let dir = tempfile::tempdir().unwrap();
    let vectors = random_vectors(13, COUNT, DIM);
    let queries = random_vectors(14, 40, DIM);
    let has_vector = |i: usize| i < 2_000 || !i.is_multiple_of(5);
    let deleted = |i: usize| i % 10 == 1 || i % 50 == 2;
    {
        let db = open(dir.path());
        let graph = collection(&db, "graph", Metric::L2, VectorIndex::hnsw(16, 100));
        let exact = collection(&db, "exact", Metric::L2, VectorIndex::flat());
        // Two segments: 2,000 rows, then 1,000 of which a fifth have no vector.
        for range in [0..2_000, 2_000..COUNT] {
            for docs in [&graph, &exact] {
                docs.upsert_many(range.clone().map(|i| {
                    let mut doc = Doc::new().numeric("u", i as f64 / COUNT as f64);
                    if has_vector(i) {
                        doc = doc.vector("v", vectors[i].clone());
                    }
                    (format!("k{i}"), doc)
                }))
                .unwrap();
            }
            db.flush().unwrap();
        }
        for i in (0..COUNT).filter(|&i| deleted(i)) {
            graph.delete(&format!("k{i}")).unwrap();
            exact.delete(&format!("k{i}")).unwrap();
        }
        db.compact().unwrap();
        db.verify().unwrap();
    }
    let db = open(dir.path());
    let (graph, exact) = (
        db.collection("graph").unwrap(),
        db.collection("exact").unwrap(),
    );
    let mut total = 0.0;
    for query in &queries {
        let request = Search::knn("v", query, 10)
            .ef_runtime(100)
            .brute_force(false)
            .no_content();
        let plan = graph.explain(&request).unwrap();
        assert_eq!(plan.sources.len(), 2, "one merged segment and the memtable");
        assert_eq!(plan.sources[0].strategy, Strategy::GraphTraversal, "{plan}");
        assert_eq!(plan.sources[0].live_rows, graph.len().unwrap() as u64);
        let got = keys(&graph, &request);
        assert_eq!(got.len(), 10);
        for key in &got {
            let i: usize = key[1..].parse().unwrap();
            assert!(has_vector(i) && !deleted(i), "{key}");
        }
        total += recall(&got, &keys(&exact, &request));
    }
    let mean = total / queries.len() as f64;
    assert!(mean >= 0.95, "recall@10 {mean} at ef=100 after the merge");
}
