//! IVF-PQ through the public API: recall against an exact twin collection for every
//! metric, filters that never return fewer than k rows when k match, deleted rows
//! skipped, NPROBE and REFINE from the builder and the query string, an index that
//! is read back (not retrained) at reopen and rebuilt by compaction, and segments too
//! small to train searched exactly.

use std::collections::HashSet;

use strata::{
    Collection, Database, Doc, Error, Filter, Metric, Options, Schema, Search, Strategy,
    VectorIndex, IVF_PQ_MIN_ROWS,
};
use strata_tests::{oracle_distance, random_vectors};

/// Vectors around 64 random centres, clustered like real embeddings (uniform random
/// vectors have no structure for a coarse quantiser to find, which no embedding
/// model produces); queries are drawn the same way.
fn clustered(seed: u64, count: usize, dim: usize) -> Vec<Vec<f32>> {
    let centres = random_vectors(1_000, 64, dim);
    random_vectors(seed, count, dim)
        .into_iter()
        .enumerate()
        .map(|(i, noise)| {
            let centre = &centres[(i * 7 + seed as usize) % centres.len()];
            centre
                .iter()
                .zip(noise)
                .map(|(c, n)| c + 0.25 * n)
                .collect()
        })
        .collect()
}

const COUNT: usize = 5_000;
const DIM: usize = 32;

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
                    .numeric("u", i as f64 / vectors.len() as f64)
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

fn strategies(docs: &Collection, search: &Search) -> Vec<Strategy> {
    docs.explain(search)
        .unwrap()
        .sources
        .iter()
        .map(|s| s.strategy)
        .collect()
}

#[test]
fn ivfpq_matches_exact_search_closely_for_every_metric() {
    let vectors = clustered(3, COUNT, DIM);
    let queries = clustered(4, 30, DIM);
    for metric in [Metric::Cosine, Metric::L2, Metric::InnerProduct] {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        let ivf = collection(&db, "ivf", metric, VectorIndex::ivf_pq(32, 8));
        let exact = collection(&db, "exact", metric, VectorIndex::flat());
        fill(&[&ivf, &exact], &vectors);
        db.flush().unwrap();
        let mut total = 0.0;
        for query in &queries {
            let request = Search::knn("v", query, 10)
                .nprobe(8)
                .refine(10)
                .no_content();
            assert_eq!(
                strategies(&ivf, &request)[0],
                Strategy::IvfPqScan,
                "the planner scans the lists of a 5,000-row segment"
            );
            let hits = ivf.search(&request).unwrap();
            let truth = exact.search(&request).unwrap();
            // Re-ranked: every distance returned is the exact one.
            for hit in &hits {
                if let Some(twin) = truth.iter().find(|t| t.key == hit.key) {
                    assert_eq!(hit.distance, twin.distance);
                }
            }
            let got: Vec<String> = hits.into_iter().map(|h| h.key).collect();
            let want: Vec<String> = truth.into_iter().map(|h| h.key).collect();
            total += recall(&got, &want);
        }
        let mean = total / queries.len() as f64;
        assert!(
            mean >= 0.9,
            "{metric:?}: recall@10 {mean} at NPROBE 8 REFINE 10"
        );
    }
}

#[test]
fn filtered_search_never_returns_fewer_than_k_and_skips_deleted_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let ivf = collection(&db, "ivf", Metric::L2, VectorIndex::ivf_pq(32, 8));
    let exact = collection(&db, "exact", Metric::L2, VectorIndex::flat());
    fill(&[&ivf, &exact], &clustered(5, COUNT, DIM));
    db.flush().unwrap();
    for deleted in (0..COUNT).step_by(4) {
        ivf.delete(&format!("k{deleted}")).unwrap();
        exact.delete(&format!("k{deleted}")).unwrap();
    }
    let queries = clustered(6, 15, DIM);
    for (selectivity, forced) in [0.002, 0.01, 0.05, 0.2, 1.0]
        .into_iter()
        .flat_map(|s| [(s, false), (s, true)])
    {
        let filter = Filter::range("u", ..selectivity);
        let live_matches = (0..COUNT)
            .filter(|i| (*i as f64 / COUNT as f64) < selectivity && i % 4 != 0)
            .count();
        let mut total = 0.0;
        for query in &queries {
            // 6 of 32 lists: 0.98 unfiltered with this seed's training; at 4 lists it
            // was 0.947, under the bar by one neighbour in 150.
            let mut request = Search::knn("v", query, 10)
                .filter(filter.clone())
                .nprobe(6)
                .refine(10)
                .no_content();
            if forced {
                request = request.brute_force(false);
                assert_eq!(strategies(&ivf, &request)[0], Strategy::IvfPqScan);
            }
            let got = keys(&ivf, &request);
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
            "selectivity {selectivity} (index forced: {forced}): recall@10 {mean}"
        );
    }
    // Selective filters are answered exactly over the filter's bitmap.
    let selective = Search::knn("v", &queries[0], 10).filter(Filter::range("u", ..0.002));
    assert_eq!(strategies(&ivf, &selective)[0], Strategy::ExactOverBitmap);
}

#[test]
fn nprobe_and_refine_come_from_the_builder_and_the_query_string() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let ivf = collection(&db, "ivf", Metric::L2, VectorIndex::ivf_pq(64, 4));
    let exact = collection(&db, "exact", Metric::L2, VectorIndex::flat());
    fill(&[&ivf, &exact], &clustered(11, COUNT, DIM));
    db.flush().unwrap();
    let queries = clustered(12, 20, DIM);
    let mean_recall = |nprobe: usize, refine: usize, text: bool| {
        let mut total = 0.0;
        for query in &queries {
            let truth = keys(&exact, &Search::knn("v", query, 10));
            let got: Vec<String> = if text {
                ivf.query(&format!(
                    "*=>[KNN 10 @v $q NPROBE {nprobe} REFINE {refine}]"
                ))
                .param("q", query.as_slice())
                .args(["NOCONTENT"])
                .run()
                .unwrap()
                .into_iter()
                .map(|h| h.key)
                .collect()
            } else {
                keys(
                    &ivf,
                    &Search::knn("v", query, 10).nprobe(nprobe).refine(refine),
                )
            };
            total += recall(&got, &truth);
        }
        total / queries.len() as f64
    };
    let (narrow, wide) = (mean_recall(1, 1, true), mean_recall(64, 20, true));
    assert!(
        wide > narrow,
        "NPROBE/REFINE change nothing: {narrow} vs {wide}"
    );
    assert!(wide >= 0.99, "every list and 200 candidates: {wide}");
    assert_eq!(mean_recall(1, 1, false), narrow, "builder and string agree");
    assert_eq!(mean_recall(64, 20, false), wide);
    let bad = ivf
        .query("*=>[KNN 10 @v $q NPROBE 0]")
        .param("q", queries[0].as_slice())
        .run();
    assert!(matches!(bad, Err(Error::InvalidQuery { .. })), "{bad:?}");
}

#[test]
fn the_index_is_read_back_at_reopen_and_rebuilt_by_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let vectors = clustered(7, COUNT, DIM);
    let query = &clustered(8, 1, DIM)[0];
    let request = Search::knn("v", query, 10).nprobe(4).no_content();
    let index_files = |dir: &std::path::Path| -> Vec<Vec<u8>> {
        let mut files = Vec::new();
        for segment in std::fs::read_dir(dir.join("segments")).unwrap() {
            let path = segment.unwrap().path().join("ivfpq-1");
            if path.exists() {
                files.push(std::fs::read(path).unwrap());
            }
        }
        files
    };
    let before = {
        let db = open(dir.path());
        let ivf = collection(&db, "ivf", Metric::Cosine, VectorIndex::ivf_pq(16, 8));
        fill(&[&ivf], &vectors);
        db.flush().unwrap();
        keys(&ivf, &request)
    };
    let written = index_files(dir.path());
    assert_eq!(written.len(), 1);
    let db = open(dir.path());
    let ivf = db.collection("ivf").unwrap();
    assert_eq!(keys(&ivf, &request), before, "the same answer from disk");
    assert_eq!(
        index_files(dir.path()),
        written,
        "nothing retrained at open"
    );
    db.verify().unwrap();
    for i in 0..100 {
        ivf.delete(&format!("k{i}")).unwrap();
    }
    db.compact().unwrap();
    assert_eq!(
        strategies(&ivf, &request),
        vec![Strategy::IvfPqScan, Strategy::ExactOverBitmap]
    );
    let after = keys(&ivf, &request);
    assert!(after
        .iter()
        .all(|key| key[1..].parse::<usize>().unwrap() >= 100));
    // The merged segment was trained afresh: compare with the exact answer.
    let mut truth: Vec<(f64, String)> = vectors
        .iter()
        .enumerate()
        .skip(100)
        .map(|(i, v)| (oracle_distance(Metric::Cosine, query, v), format!("k{i}")))
        .collect();
    truth.sort_by(|a, b| a.0.total_cmp(&b.0));
    let expected: Vec<String> = truth.into_iter().take(10).map(|(_, key)| key).collect();
    assert!(
        recall(&after, &expected) >= 0.8,
        "{after:?} vs {expected:?}"
    );
    db.verify().unwrap();
}

#[test]
fn segments_too_small_to_train_are_searched_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let ivf = collection(&db, "ivf", Metric::L2, VectorIndex::ivf_pq(16, 8));
    let exact = collection(&db, "exact", Metric::L2, VectorIndex::flat());
    fill(&[&ivf, &exact], &clustered(13, IVF_PQ_MIN_ROWS - 1, DIM));
    db.flush().unwrap();
    for entry in std::fs::read_dir(dir.path().join("segments")).unwrap() {
        assert!(!entry.unwrap().path().join("ivfpq-1").exists());
    }
    for query in clustered(14, 5, DIM) {
        let request = Search::knn("v", &query, 10).brute_force(false);
        assert_eq!(strategies(&ivf, &request)[0], Strategy::ExactOverBitmap);
        assert_eq!(keys(&ivf, &request), keys(&exact, &request));
    }
}

#[test]
fn a_filtered_query_without_nprobe_probes_more_lists_and_keeps_its_recall() {
    // Rows carry their cluster's number; the filter keeps 6 of the 64 clusters (9%),
    // and the queries come from the other clusters, so the nearest matches lie far
    // from the query, in lists an unfiltered query's NPROBE never reaches. That is
    // what the default NPROBE adapts to; an explicit NPROBE is taken as given.
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let ivf = collection(&db, "ivf", Metric::L2, VectorIndex::ivf_pq(256, 8));
    let exact = collection(&db, "exact", Metric::L2, VectorIndex::flat());
    let (seed, count) = (13u64, 8_000);
    let vectors = clustered(seed, count, DIM);
    let cluster = |i: usize| (i * 7 + seed as usize) % 64;
    for docs in [&ivf, &exact] {
        docs.upsert_many(vectors.iter().enumerate().map(|(i, v)| {
            (
                format!("k{i}"),
                Doc::new()
                    .numeric("u", cluster(i) as f64)
                    .vector("v", v.clone()),
            )
        }))
        .unwrap();
    }
    db.flush().unwrap();
    let filter = Filter::range("u", 0.0..6.0);
    let queries: Vec<Vec<f32>> = clustered(14, 60, DIM)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| (i * 7 + 14) % 64 >= 6)
        .map(|(_, q)| q)
        .take(30)
        .collect();
    let mean_recall = |nprobe: Option<usize>| {
        let mut total = 0.0;
        for query in &queries {
            let base = Search::knn("v", query, 10).filter(filter.clone());
            let truth = keys(&exact, &base);
            // The index, not the planner's exact answer, is what is measured.
            let mut request = base.brute_force(false);
            if let Some(nprobe) = nprobe {
                request = request.nprobe(nprobe);
            }
            total += recall(&keys(&ivf, &request), &truth);
        }
        total / queries.len() as f64
    };
    // `explain` shows the lists the segment probes (the memtable, empty, none).
    let probed = |request: &Search| ivf.explain(request).unwrap().sources[0].nprobe;
    let plain = Search::knn("v", &queries[0], 10).brute_force(false);
    let filtered = plain.clone().filter(filter.clone());
    assert_eq!(probed(&plain), Some(32), "unfiltered default");
    assert_eq!(probed(&filtered), Some(128), "a 9% filter probes 4x");
    assert_eq!(probed(&filtered.clone().nprobe(7)), Some(7), "as given");
    let (default, unfiltered_default) = (mean_recall(None), mean_recall(Some(32)));
    assert!(default >= 0.95, "recall@10 {default} at the default NPROBE");
    assert!(
        unfiltered_default < default,
        "NPROBE 32 (the unfiltered default) reached {unfiltered_default}, the default \
         {default}: the test no longer shows what the default adapts to"
    );
}

/// The centroids section of the one IVF-PQ file of collection `docs`'s segment (the
/// data starts the file; the header is 128 bytes, the centroids follow).
fn centroids(dir: &std::path::Path, dim: usize, lists: usize) -> Vec<Vec<u8>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir.join("segments")).unwrap() {
        let path = entry.unwrap().path().join("ivfpq-1");
        if let Ok(bytes) = std::fs::read(&path) {
            found.push(bytes[128..128 + dim * lists * 4].to_vec());
        }
    }
    found
}

#[test]
fn a_merge_reuses_its_largest_inputs_quantisers_unless_the_rows_drifted() {
    // The largest input needs rows it did not train on (its sub-quantisers train on
    // 256 x 64 rows) to tell drift from its fit; 8 dimensions keep it quick.
    const DIM: usize = 8;
    const LISTS: usize = 16;
    let (large, small) = (20_000, 6_000);
    for drifted in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        let schema = |index| {
            Schema::builder()
                .numeric("u")
                .vector("v", DIM, Metric::L2, index)
                .build()
                .unwrap()
        };
        let ivf = db
            .create_collection("ivf", schema(VectorIndex::ivf_pq(LISTS, 2)))
            .unwrap();
        let exact = db
            .create_collection("exact", schema(VectorIndex::flat()))
            .unwrap();
        let mut vectors = clustered(21, large + small, DIM);
        if drifted {
            // The second segment's rows move to a region the first never covered.
            for vector in &mut vectors[large..] {
                vector.iter_mut().for_each(|x| *x = *x * 3.0 + 4.0);
            }
        }
        for (start, end) in [(0, large), (large, large + small)] {
            for docs in [&ivf, &exact] {
                docs.upsert_many((start..end).map(|i| {
                    (
                        format!("k{i}"),
                        Doc::new().numeric("u", 0.0).vector("v", vectors[i].clone()),
                    )
                }))
                .unwrap();
            }
            db.flush().unwrap();
        }
        let before = centroids(dir.path(), DIM, LISTS);
        assert_eq!(before.len(), 2, "one index per segment");
        db.compact().unwrap();
        let after = centroids(dir.path(), DIM, LISTS);
        assert_eq!(after.len(), 1, "one merged segment");
        // The large segment's index is the one of the two with a drifted or undrifted
        // twin; it is the one whose centroids a reusing merge keeps.
        assert_eq!(
            before.contains(&after[0]),
            !drifted,
            "drifted: {drifted}: the merge {} the quantisers",
            if drifted { "reused" } else { "retrained" }
        );
        db.verify().unwrap();
        let queries = clustered(22, 20, DIM);
        let mut total = 0.0;
        for query in queries.iter().chain(&vectors[large..large + 20]) {
            let request = Search::knn("v", query, 10).nprobe(4).refine(20);
            total += recall(&keys(&ivf, &request), &keys(&exact, &request));
        }
        let mean = total / 40.0;
        assert!(mean >= 0.9, "drifted: {drifted}: recall@10 {mean}");
    }
}

#[test]
fn an_ivfpq_query_reads_only_its_candidates_vectors() {
    // A column larger than memory must not be read whole by the first query: the
    // re-ranking reads (and block-checks) the candidates' rows only. Damage a 64 KiB
    // block of the vectors file that holds no candidate: the index query still answers,
    // while an exact scan and `verify` name the damaged file.
    let dir = tempfile::tempdir().unwrap();
    let vectors = clustered(31, COUNT, DIM);
    {
        let db = open(dir.path());
        let ivf = collection(&db, "ivf", Metric::L2, VectorIndex::ivf_pq(32, 8));
        fill(&[&ivf], &vectors);
        db.flush().unwrap();
    }
    let query = Search::knn("v", &vectors[0], 1)
        .nprobe(1)
        .refine(1)
        .brute_force(false);
    let answer = {
        let db = open(dir.path());
        keys(&db.collection("ivf").unwrap(), &query)
    };
    assert_eq!(answer.len(), 1);
    let row: usize = answer[0][1..].parse().unwrap();
    // 512 rows of 32 floats per block; the block farthest from the answer's.
    let rows_per_block = 64 * 1024 / (DIM * 4);
    let block = if row / rows_per_block < COUNT / rows_per_block / 2 {
        COUNT / rows_per_block - 1
    } else {
        0
    };
    let segment = std::fs::read_dir(dir.path().join("segments"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.join("ivfpq-1").exists())
        .unwrap();
    let path = segment.join("vectors-1");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[block * 64 * 1024 + 100] ^= 0x20;
    std::fs::write(&path, bytes).unwrap();

    let db = open(dir.path());
    let ivf = db.collection("ivf").unwrap();
    assert_eq!(
        keys(&ivf, &query),
        answer,
        "the index query reads row {row} only"
    );
    let names_vectors = |error: Error| matches!(error, Error::Corrupt { file, .. } if file == path);
    let exact = Search::knn("v", &vectors[0], 1).brute_force(true);
    assert!(names_vectors(ivf.search(&exact).unwrap_err()));
    assert!(names_vectors(db.verify().unwrap_err()));
}
