//! Vectors with huge finite components: refused at write and query time once their
//! squared length passes `MAX_VECTOR_NORM_SQUARED`; everything up to that limit is
//! searched exactly right (against an f64 oracle) by FLAT and HNSW, for every metric,
//! and no distance is ever NaN.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata::{Collection, Database, Doc, Error, Metric, Schema, Search, VectorIndex};

/// `strata::MAX_VECTOR_NORM_SQUARED`, spelled out: the rule the test pins.
const LIMIT: f64 = f32::MAX as f64 / 4.0;
const DIM: usize = 4;
const ROWS: u64 = 60;

fn key(index: u64) -> String {
    format!("v:{index}")
}

/// Components of mixed magnitudes, up to the limit: `|v|^2 <= DIM * 4.6e18^2 =
/// 8.5e37`, just inside `f32::MAX / 4`.
fn random_vector(rng: &mut StdRng) -> Vec<f32> {
    let scale = [1.0f32, 1e10, 1e18, 4.6e18][rng.gen_range(0..4)];
    (0..DIM)
        .map(|_| rng.gen_range(-1.0f32..1.0) * scale)
        .collect()
}

fn oracle(metric: Metric, a: &[f32], b: &[f32]) -> f64 {
    let (a, b): (Vec<f64>, Vec<f64>) = (
        a.iter().map(|x| f64::from(*x)).collect(),
        b.iter().map(|x| f64::from(*x)).collect(),
    );
    let dot: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
    match metric {
        Metric::L2 => a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum(),
        Metric::InnerProduct => 1.0 - dot,
        Metric::Cosine => {
            let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
            let (na, nb) = (norm(&a), norm(&b));
            if na == 0.0 || nb == 0.0 {
                1.0
            } else {
                1.0 - dot / (na * nb)
            }
        }
    }
}

fn is_refused_as_too_long<T: std::fmt::Debug>(result: strata::Result<T>) -> bool {
    match result {
        Err(Error::InvalidArgument { reason }) => reason.contains("squared length"),
        other => panic!("expected InvalidArgument about the length, got {other:?}"),
    }
}

/// Every write and query of an over-long vector is refused and changes nothing.
fn check_refusals(docs: &Collection, stored: &[Vec<f32>]) {
    let opposite_maxima = {
        let mut v = vec![0.0f32; DIM];
        v[0] = f32::MAX;
        v[1] = -f32::MAX;
        v
    };
    let all_max = vec![f32::MAX; DIM];
    // Finite in f32 when squared, yet over the limit: |v|^2 = 1e38.
    let just_over = vec![5e18f32; DIM];
    assert!(just_over.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() > LIMIT);
    for bad in [&opposite_maxima, &all_max, &just_over] {
        assert!(is_refused_as_too_long(
            docs.upsert(key(0), Doc::new().vector("v", bad.clone()))
        ));
        assert!(is_refused_as_too_long(docs.upsert_many([
            ("fresh:1", Doc::new().vector("v", vec![1.0; DIM])),
            ("fresh:2", Doc::new().vector("v", bad.clone())),
        ])));
        assert!(is_refused_as_too_long(
            docs.search(&Search::knn("v", bad, 5))
        ));
        assert!(is_refused_as_too_long(
            docs.query("*=>[KNN 5 @v $q]").param("q", bad.clone()).run()
        ));
        assert!(is_refused_as_too_long(
            docs.query("@v:[VECTOR_RANGE 1 $q]")
                .param("q", bad.clone())
                .run()
        ));
    }
    assert_eq!(docs.len().unwrap(), stored.len());
    assert_eq!(docs.get("fresh:1").unwrap(), None);
    assert_eq!(
        docs.get(&key(0)).unwrap(),
        Some(Doc::new().vector("v", stored[0].clone()))
    );
}

/// The hits of a KNN query are the oracle's nearest rows, with the oracle's
/// distances; none is NaN.
fn check_search(
    docs: &Collection,
    metric: Metric,
    stored: &[Vec<f32>],
    query: &[f32],
    graph: bool,
) {
    let k = 10;
    let mut request = Search::knn("v", query, k);
    if graph {
        request = request.brute_force(false).ef_runtime(200);
    }
    let hits = docs.search(&request).unwrap();
    assert_eq!(hits.len(), k);
    let mut truth: Vec<(f64, u64)> = stored
        .iter()
        .enumerate()
        .map(|(index, v)| (oracle(metric, query, v), index as u64))
        .collect();
    truth.sort_by(|a, b| a.0.total_cmp(&b.0));
    let tolerance = |want: f64| 1e-3 * want.abs().max(1.0);
    for (rank, hit) in hits.iter().enumerate() {
        let distance = f64::from(hit.distance);
        assert!(
            !hit.distance.is_nan(),
            "{metric:?}: NaN distance for {}",
            hit.key
        );
        let index: u64 = hit.key[2..].parse().unwrap();
        let want = oracle(metric, query, &stored[index as usize]);
        assert!(
            (distance - want).abs() <= tolerance(want),
            "{metric:?} graph={graph}: {} at distance {distance}, the oracle says {want}",
            hit.key
        );
        // The rank's distance is the oracle's, so the hit set is the true top k up to
        // ties within the tolerance.
        assert!(
            (distance - truth[rank].0).abs() <= tolerance(truth[rank].0),
            "{metric:?} graph={graph}: rank {rank} is {} at {distance}, the oracle's is v:{} at {}",
            hit.key,
            truth[rank].1,
            truth[rank].0
        );
    }
}

#[test]
fn huge_components_are_refused_past_the_limit_and_exact_up_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let stored: Vec<Vec<f32>> = (0..ROWS).map(|_| random_vector(&mut rng)).collect();
    let queries: Vec<Vec<f32>> = (0..12).map(|_| random_vector(&mut rng)).collect();
    for metric in [Metric::Cosine, Metric::L2, Metric::InnerProduct] {
        for (index_name, index) in [
            ("flat", VectorIndex::flat()),
            ("hnsw", VectorIndex::hnsw(8, 100)),
        ] {
            let name = format!("{}_{index_name}", metric.redis_name().to_lowercase());
            let schema = Schema::builder()
                .vector("v", DIM, metric, index)
                .build()
                .unwrap();
            let docs = db.create_collection(&name, schema).unwrap();
            for (index, vector) in stored.iter().enumerate() {
                docs.upsert(key(index as u64), Doc::new().vector("v", vector.clone()))
                    .unwrap();
            }
            check_refusals(&docs, &stored);
            for query in &queries {
                check_search(&docs, metric, &stored, query, false);
            }
            // Sealed into a segment (with a graph for HNSW), searched from the map.
            db.flush().unwrap();
            check_refusals(&docs, &stored);
            for query in &queries {
                check_search(&docs, metric, &stored, query, false);
                if index_name == "hnsw" {
                    check_search(&docs, metric, &stored, query, true);
                }
            }
        }
    }
}
