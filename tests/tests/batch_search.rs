//! `Collection::search_many` answers a batch on all cores with exactly what
//! `Collection::search` answers for each request, in order, across segments and the
//! memtable; a bad request fails the batch with that request's error.

use strata::{Database, Error, Filter, Metric, Options, Search};
use strata_tests::{doc_for, hnsw_schema, key_for, random_vectors, scratch_dir, DIM};

fn requests(count: usize) -> Vec<Search> {
    random_vectors(7, count, DIM)
        .into_iter()
        .enumerate()
        .map(|(i, vector)| {
            let request = Search::knn("embedding", &vector, 10);
            match i % 3 {
                0 => request,
                1 => request.filter(Filter::tag("tags", ["even"])).ef_runtime(64),
                _ => request.filter(Filter::range("rank", 100.0..400.0)),
            }
        })
        .collect()
}

#[test]
fn a_batch_answers_each_request_as_search_does_in_order() {
    let dir = scratch_dir();
    let db = Database::open_with(dir.path(), Options::default()).unwrap();
    let docs = db
        .create_collection("docs", hnsw_schema(Metric::L2))
        .unwrap();
    for index in 0..300 {
        docs.upsert(key_for(index), doc_for(index)).unwrap();
    }
    db.flush().unwrap();
    // A second segment, rows replaced in it, and rows left in the memtable.
    for index in 250..450 {
        docs.upsert(key_for(index), doc_for(index + 1000)).unwrap();
    }
    db.flush().unwrap();
    for index in 440..520 {
        docs.upsert(key_for(index), doc_for(index)).unwrap();
    }

    let batch = requests(101);
    let answers = docs.search_many(&batch).unwrap();
    assert_eq!(answers.len(), batch.len());
    for (i, (request, answer)) in batch.iter().zip(&answers).enumerate() {
        let single = docs.search(request).unwrap();
        assert!(!single.is_empty(), "request {i} finds something");
        assert_eq!(answer, &single, "request {i}");
    }
    assert_eq!(docs.search_many(&[]).unwrap(), Vec::<Vec<_>>::new());
    assert_eq!(docs.search_many(&batch[..1]).unwrap(), answers[..1]);
}

#[test]
fn a_bad_request_fails_the_batch_with_its_own_error() {
    let dir = scratch_dir();
    let db = Database::open_with(dir.path(), Options::default()).unwrap();
    let docs = db
        .create_collection("docs", hnsw_schema(Metric::L2))
        .unwrap();
    for index in 0..50 {
        docs.upsert(key_for(index), doc_for(index)).unwrap();
    }
    let mut batch = requests(40);
    batch[33] = Search::knn("embedding", &[1.0; DIM + 1], 10);
    batch[35] = Search::knn("nowhere", &[1.0; DIM], 10);
    let error = docs.search_many(&batch).unwrap_err();
    assert!(
        matches!(
            &error,
            Error::DimensionMismatch { field, expected, found }
                if field == "embedding" && *expected == DIM && *found == DIM + 1
        ),
        "the first bad request's error, in batch order: {error:?}"
    );
    assert_eq!(docs.len().unwrap(), 50, "a search changes nothing");
}
