//! HNSW quality through the public API: every stored row can be found (exact
//! duplicates, and every stored vector of real embeddings finding itself), and a
//! VECTOR_RANGE on an HNSW field walks the graph with the recall of the exact range.

use std::collections::HashSet;

use strata::{
    Collection, Database, Doc, Error, HnswCompression, Metric, Options, Schema, Search, VectorIndex,
};
use strata_tests::{oracle_distance, random_vectors};

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

fn collection(
    db: &Database,
    name: &str,
    dim: usize,
    metric: Metric,
    index: VectorIndex,
) -> Collection {
    let schema = Schema::builder()
        .vector("v", dim, metric, index)
        .build()
        .unwrap();
    db.create_collection(name, schema).unwrap()
}

fn fill(docs: &Collection, rows: &[Vec<f32>]) {
    docs.upsert_many(
        rows.iter()
            .enumerate()
            .map(|(i, v)| (format!("r{i}"), Doc::new().vector("v", v.clone()))),
    )
    .unwrap();
}

/// The 2,000 real sentence embeddings (384 dimensions, int8-quantised) of the demo's
/// sample of real-pypi-50k; the layout is in `benches/src/bin/make_sample.rs`.
fn sample(file: &str) -> Vec<Vec<f32>> {
    let path = format!(
        "{}/../engine/examples/data/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap();
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let (rows, dim) = (word(0), word(4));
    assert_eq!(bytes.len(), 8 + rows * (4 + dim), "{path}");
    bytes[8..]
        .chunks_exact(4 + dim)
        .map(|row| {
            let scale = f32::from_le_bytes(row[..4].try_into().unwrap());
            row[4..]
                .iter()
                .map(|&c| f32::from(c as i8) * scale)
                .collect()
        })
        .collect()
}

#[test]
fn every_copy_of_a_duplicated_vector_is_found() {
    const ROWS: usize = 2_000;
    const COPIES: usize = 7;
    const DIM: usize = 32;
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    // Several builds: the segment's graph is built on every core, so each one differs.
    for build in 0..4u64 {
        let distinct = random_vectors(100 + build, ROWS.div_ceil(COPIES), DIM);
        let rows: Vec<Vec<f32>> = (0..ROWS).map(|i| distinct[i / COPIES].clone()).collect();
        let docs = collection(
            &db,
            &format!("dups{build}"),
            DIM,
            Metric::L2,
            VectorIndex::hnsw(16, 200),
        );
        fill(&docs, &rows);
        db.flush().unwrap();
        for first in (0..ROWS).step_by(COPIES) {
            let group: HashSet<String> = (first..ROWS.min(first + COPIES))
                .map(|i| format!("r{i}"))
                .collect();
            let request = Search::knn("v", &rows[first], COPIES)
                .ef_runtime(1_000)
                .brute_force(false)
                .no_content();
            let got: HashSet<String> = docs
                .search(&request)
                .unwrap()
                .into_iter()
                .filter(|hit| hit.distance == 0.0)
                .map(|hit| hit.key)
                .collect();
            assert_eq!(got, group, "build {build}, group of r{first}");
        }
    }
    db.verify().unwrap();
}

#[test]
fn every_stored_vector_finds_itself() {
    let rows = sample("sample.i8");
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let docs = collection(
        &db,
        "pypi",
        rows[0].len(),
        Metric::Cosine,
        VectorIndex::hnsw(16, 200),
    );
    fill(&docs, &rows);
    db.flush().unwrap();
    let mut missed = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let request = Search::knn("v", row, 1)
            .ef_runtime(64)
            .brute_force(false)
            .no_content();
        let hits = docs.search(&request).unwrap();
        // Another row with the very same vector is as good an answer.
        let found = hits.first().is_some_and(|hit| {
            hit.key == format!("r{i}") || rows[hit.key[1..].parse::<usize>().unwrap()] == *row
        });
        if !found {
            missed.push(i);
        }
    }
    assert!(
        missed.is_empty(),
        "rows that did not find themselves: {missed:?}"
    );
}

/// Keys within the radius per the f64 oracle, and a radius that takes about `want`
/// rows and lies mid-way in a gap between two distances, so that rounding cannot
/// move a row across it.
fn exact_range(rows: &[Vec<f32>], query: &[f32], want: usize) -> (f64, HashSet<String>) {
    let mut by_distance: Vec<(f64, usize)> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| (oracle_distance(Metric::Cosine, query, row), i))
        .collect();
    by_distance.sort_by(|a, b| a.0.total_cmp(&b.0));
    let cut = (want..by_distance.len())
        .find(|&k| by_distance[k].0 - by_distance[k - 1].0 > 1e-5)
        .unwrap();
    let radius = (by_distance[cut - 1].0 + by_distance[cut].0) / 2.0;
    let keys = by_distance[..cut]
        .iter()
        .map(|(_, i)| format!("r{i}"))
        .collect();
    (radius, keys)
}

#[test]
fn vector_range_on_hnsw_keeps_the_exact_recall_and_flat_stays_exact() {
    let rows = sample("sample.i8");
    let dim = rows[0].len();
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let graph = collection(
        &db,
        "graph",
        dim,
        Metric::Cosine,
        VectorIndex::hnsw(16, 200),
    );
    let flat = collection(&db, "flat", dim, Metric::Cosine, VectorIndex::flat());
    fill(&graph, &rows);
    fill(&flat, &rows);
    db.flush().unwrap();
    // The demo's five queries (not stored) and stored rows spread over the sample.
    let mut queries = sample("queries.i8");
    queries.extend(rows.iter().step_by(45).cloned());
    let (mut found, mut wanted) = (0usize, 0usize);
    for (j, query) in queries.iter().enumerate() {
        let (radius, exact) = exact_range(&rows, query, 10 + 90 * j / queries.len());
        let request = Search::range("v", query, radius).limit(0, 1_000);
        let flat_hits = flat.search(&request).unwrap();
        let flat_keys: HashSet<String> = flat_hits.iter().map(|hit| hit.key.clone()).collect();
        assert_eq!(flat_keys, exact, "FLAT range of query {j}");
        for hit in graph.search(&request).unwrap() {
            assert!(
                exact.contains(&hit.key),
                "query {j}: {} is outside",
                hit.key
            );
            let twin = flat_hits.iter().find(|h| h.key == hit.key).unwrap();
            assert_eq!(
                hit.distance, twin.distance,
                "query {j}: distance of {}",
                hit.key
            );
            found += 1;
        }
        wanted += exact.len();
    }
    let recall = found as f64 / wanted as f64;
    assert!(
        recall >= 0.99,
        "VECTOR_RANGE recall {recall} ({found} of {wanted})"
    );
}

#[test]
fn epsilon_is_accepted_from_both_builders_and_bad_values_are_refused() {
    let rows = sample("sample.i8");
    let dim = rows[0].len();
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let docs = collection(
        &db,
        "graph",
        dim,
        Metric::Cosine,
        VectorIndex::hnsw(16, 200),
    );
    fill(&docs, &rows);
    db.flush().unwrap();
    let query = &rows[7];
    let (radius, exact) = exact_range(&rows, query, 50);
    // A wide epsilon walks far past the radius: the exact set.
    let request = Search::range("v", query, radius)
        .epsilon(1.0)
        .limit(0, 1_000);
    let keys: HashSet<String> = docs
        .search(&request)
        .unwrap()
        .into_iter()
        .map(|hit| hit.key)
        .collect();
    assert_eq!(keys, exact);
    let hits = docs
        .query("@v:[VECTOR_RANGE $r $q]=>{$EPSILON: $e; $YIELD_DISTANCE_AS: d}")
        .param("r", radius)
        .param("q", query.as_slice())
        .param("e", 1.0)
        .args(["LIMIT", "0", "1000"])
        .run()
        .unwrap();
    assert_eq!(hits.len(), exact.len());
    for epsilon in [-0.5, f64::NAN, f64::INFINITY] {
        let request = Search::range("v", query, radius).epsilon(epsilon);
        assert!(
            matches!(docs.search(&request), Err(Error::InvalidQuery { .. })),
            "epsilon {epsilon}"
        );
    }
    let bad = docs
        .query("@v:[VECTOR_RANGE 0.2 $q]=>{$EPSILON: $e}")
        .param("q", query.as_slice())
        .param("e", "wide")
        .run();
    assert!(matches!(bad, Err(Error::InvalidQuery { .. })), "{bad:?}");
}

/// The format version of the graph file of the field at position 0 in each segment
/// (the data of a block-checked file starts at byte 0; the version is bytes 8..12).
fn graph_versions(db_dir: &std::path::Path) -> Vec<u32> {
    let mut versions: Vec<u32> = std::fs::read_dir(db_dir.join("segments"))
        .unwrap()
        .map(|entry| std::fs::read(entry.unwrap().path().join("hnsw-0")).unwrap())
        .map(|bytes| u32::from_le_bytes(bytes[8..12].try_into().unwrap()))
        .collect();
    versions.sort_unstable();
    versions
}

fn recall_at_10(docs: &Collection, base: &[Vec<f32>], queries: &[Vec<f32>], ef: usize) -> f64 {
    let mut found = 0;
    for query in queries {
        let request = Search::knn("v", query, 10)
            .ef_runtime(ef)
            .brute_force(false)
            .no_content();
        let hits = docs.search(&request).unwrap();
        assert_eq!(hits.len(), 10);
        let mut exact: Vec<(f64, usize)> = base
            .iter()
            .enumerate()
            .map(|(i, row)| (oracle_distance(Metric::Cosine, query, row), i))
            .collect();
        exact.sort_by(|a, b| a.0.total_cmp(&b.0));
        let want: HashSet<String> = exact[..10].iter().map(|(_, i)| format!("r{i}")).collect();
        for hit in &hits {
            // The walk over codes re-ranks exactly: the distance is the row's own.
            let row = &base[hit.key[1..].parse::<usize>().unwrap()];
            let exact = oracle_distance(Metric::Cosine, query, row);
            assert!((f64::from(hit.distance) - exact).abs() < 1e-4, "{hit:?}");
            found += usize::from(want.contains(&hit.key));
        }
    }
    found as f64 / (10 * queries.len()) as f64
}

#[test]
fn segments_walk_sq8_codes_or_float32_as_asked() {
    let rows = sample("sample.i8");
    let (queries, base) = rows.split_at(100);
    let mut recalls = Vec::new();
    for compression in [HnswCompression::Sq8, HnswCompression::Float32] {
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            background_work: false,
            hnsw_compression: compression,
            ..Options::default()
        };
        let db = Database::open_with(dir.path(), options.clone()).unwrap();
        let docs = collection(&db, "pypi", 384, Metric::Cosine, VectorIndex::hnsw(16, 200));
        // Two flushes, then a merge: both ways of writing a graph carry the codes.
        fill(&docs, &base[..1000]);
        db.flush().unwrap();
        docs.upsert_many(
            base[1000..]
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("r{}", i + 1000), Doc::new().vector("v", v.clone()))),
        )
        .unwrap();
        db.flush().unwrap();
        let version = match compression {
            HnswCompression::Sq8 => 2,
            HnswCompression::Float32 => 1,
        };
        assert_eq!(graph_versions(dir.path()), vec![version; 2]);
        let before = recall_at_10(&docs, base, queries, 64);
        db.compact().unwrap();
        drop(docs);
        drop(db);
        assert_eq!(graph_versions(dir.path()), vec![version]);
        let db = Database::open_with(dir.path(), options).unwrap();
        db.verify().unwrap();
        let docs = db.collection("pypi").unwrap();
        let after = recall_at_10(&docs, base, queries, 64);
        assert!(
            before >= 0.95 && after >= 0.95,
            "{compression:?}: {before} {after}"
        );
        recalls.push(after);
    }
    // Different builds (threads race), so a looser bound than the same-graph one of
    // the index crate's test.
    assert!(recalls[0] >= recalls[1] - 0.02, "SQ8 {recalls:?} FLOAT32");
}
