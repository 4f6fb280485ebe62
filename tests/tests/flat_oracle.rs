//! FLAT search is exact: it equals a brute-force f64 oracle for every metric, over
//! live documents only.

use std::collections::HashMap;

use strata::{Database, Doc, Metric, Schema, Search, VectorIndex};
use strata_tests::{oracle_distance, random_vectors};

const COUNT: usize = 1_500;
const DIM: usize = 37;

fn tolerance(distance: f64) -> f64 {
    1e-4 * (1.0 + distance.abs())
}

#[test]
fn flat_search_matches_the_oracle_for_every_metric() {
    let vectors = random_vectors(11, COUNT, DIM);
    let queries = random_vectors(12, 25, DIM);
    for metric in [Metric::Cosine, Metric::L2, Metric::InnerProduct] {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let schema = Schema::builder()
            .numeric("n")
            .vector("v", DIM, metric, VectorIndex::flat())
            .build()
            .unwrap();
        let docs = db.create_collection("docs", schema).unwrap();
        docs.upsert_many(vectors.iter().enumerate().map(|(i, v)| {
            (
                format!("k{i}"),
                Doc::new().numeric("n", i as f64).vector("v", v.clone()),
            )
        }))
        .unwrap();
        // Deleted and vector-less documents must never be returned.
        let mut live: HashMap<String, &Vec<f32>> = vectors
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("k{i}"), v))
            .collect();
        for i in (0..COUNT).step_by(7) {
            docs.delete(&format!("k{i}")).unwrap();
            live.remove(&format!("k{i}"));
        }
        for i in (3..COUNT).step_by(11) {
            docs.upsert(format!("k{i}"), Doc::new().numeric("n", 0.0))
                .unwrap();
            live.remove(&format!("k{i}"));
        }

        for query in &queries {
            let mut truth: Vec<(f64, &String)> = live
                .iter()
                .map(|(key, v)| (oracle_distance(metric, query, v), key))
                .collect();
            truth.sort_by(|a, b| a.0.total_cmp(&b.0));
            for k in [1, 10, 100, COUNT * 2] {
                let hits = docs
                    .search(&Search::knn("v", query, k).no_content())
                    .unwrap();
                assert_eq!(hits.len(), k.min(live.len()), "{metric:?} k={k}");
                let kth_true = truth[hits.len() - 1].0;
                let mut previous = f32::NEG_INFINITY;
                for hit in &hits {
                    let vector = live
                        .get(&hit.key)
                        .unwrap_or_else(|| panic!("{} is not live", hit.key));
                    let exact = oracle_distance(metric, query, vector);
                    assert!(
                        (hit.distance as f64 - exact).abs() <= tolerance(exact),
                        "{metric:?}: {} distance {} vs oracle {exact}",
                        hit.key,
                        hit.distance
                    );
                    assert!(
                        exact <= kth_true + tolerance(kth_true),
                        "{metric:?}: {} is not among the {k} nearest",
                        hit.key
                    );
                    assert!(hit.distance >= previous, "results are nearest first");
                    previous = hit.distance;
                }
            }
        }
    }
}

#[test]
fn search_sees_writes_immediately_and_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Schema::builder()
        .vector("v", 2, Metric::L2, VectorIndex::flat())
        .build()
        .unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        let docs = db.create_collection("docs", schema).unwrap();
        docs.upsert("a", Doc::new().vector("v", vec![0.0, 0.0]))
            .unwrap();
        docs.upsert("b", Doc::new().vector("v", vec![3.0, 4.0]))
            .unwrap();
        let hits = docs.search(&Search::knn("v", &[3.0, 4.0], 2)).unwrap();
        assert_eq!((hits[0].key.as_str(), hits[0].distance), ("b", 0.0));
        assert_eq!(
            (hits[1].key.as_str(), hits[1].distance),
            ("a", 25.0),
            "L2 is squared, as in Redis"
        );
        docs.upsert("b", Doc::new().vector("v", vec![10.0, 10.0]))
            .unwrap();
    }
    let db = Database::open(dir.path()).unwrap();
    let hits = db
        .collection("docs")
        .unwrap()
        .search(&Search::knn("v", &[3.0, 4.0], 2))
        .unwrap();
    assert_eq!(hits[0].key, "a");
    assert_eq!(hits[1].distance, 49.0 + 36.0);
}
