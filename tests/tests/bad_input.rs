//! Bad input gets a matchable error and changes nothing, in memory or on disk.

use std::time::{Duration, UNIX_EPOCH};

use strata::{
    Collection, Database, Doc, Error, KeyTtl, Limits, Metric, Options, Schema, Search, VectorIndex,
    MAX_KEY_BYTES,
};
use strata_tests::{doc_for, full_schema, key_for, DIM};

fn open(dir: &std::path::Path) -> (Database, Collection) {
    let limits = Limits {
        max_document_bytes: 64 * 1024,
        ..Limits::default()
    };
    let db = Database::open_with(
        dir,
        Options {
            limits,
            ..Options::default()
        },
    )
    .unwrap();
    let docs = match db.collection("docs") {
        Ok(docs) => docs,
        Err(_) => db
            .create_collection("docs", full_schema(Metric::Cosine))
            .unwrap(),
    };
    (db, docs)
}

/// The state every refused write must leave untouched.
fn assert_unchanged(docs: &Collection) {
    assert_eq!(docs.len().unwrap(), 2);
    assert_eq!(docs.get(&key_for(0)).unwrap(), Some(doc_for(0)));
    assert_eq!(docs.get(&key_for(1)).unwrap(), Some(doc_for(1)));
}

#[test]
fn every_bad_write_is_refused_with_its_own_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (db, docs) = open(dir.path());
    docs.upsert(key_for(0), doc_for(0)).unwrap();
    docs.upsert(key_for(1), doc_for(1)).unwrap();

    let good = || doc_for(9);
    let mut nan = vec![0.5; DIM];
    nan[3] = f32::NAN;
    let mut infinite = vec![0.5; DIM];
    infinite[0] = f32::INFINITY;
    let cases: Vec<(&str, Result<(), Error>)> = vec![
        (
            "short vector",
            docs.upsert(
                key_for(0),
                Doc::new().vector("embedding", vec![1.0; DIM - 1]),
            ),
        ),
        (
            "NaN component",
            docs.upsert(key_for(0), Doc::new().vector("embedding", nan)),
        ),
        (
            "infinite component",
            docs.upsert(key_for(0), Doc::new().vector("embedding", infinite)),
        ),
        (
            "NaN number",
            docs.upsert(key_for(0), Doc::new().numeric("rank", f64::NAN)),
        ),
        (
            "unknown field",
            docs.upsert(key_for(0), good().text("nope", "x")),
        ),
        (
            "wrong kind",
            docs.upsert(key_for(0), Doc::new().numeric("title", 1.0)),
        ),
        (
            "text for a vector",
            docs.upsert(key_for(0), Doc::new().text("embedding", "x")),
        ),
        (
            "duplicate field",
            docs.upsert(key_for(0), good().numeric("rank", 2.0)),
        ),
        ("empty key", docs.upsert("", good())),
        (
            "long key",
            docs.upsert("k".repeat(MAX_KEY_BYTES + 1), good()),
        ),
        (
            "oversized value",
            docs.upsert(key_for(0), Doc::new().text("title", "x".repeat(65 * 1024))),
        ),
        (
            "one bad document spoils the batch",
            docs.upsert_many([
                (key_for(0), good()),
                (key_for(5), good()),
                (String::new(), good()),
            ]),
        ),
    ];
    for (name, result) in cases {
        let error = result.expect_err(name);
        let expected = match name {
            "short vector" => {
                matches!(error, Error::DimensionMismatch { expected: DIM, found, .. } if found == DIM - 1)
            }
            "NaN component" => matches!(error, Error::NonFinite { index: 3, .. }),
            "infinite component" => matches!(error, Error::NonFinite { index: 0, .. }),
            "NaN number" => matches!(error, Error::NonFinite { .. }),
            "unknown field" => {
                matches!(&error, Error::UnknownField { field, .. } if field == "nope")
            }
            "wrong kind" | "text for a vector" => matches!(error, Error::FieldType { .. }),
            "duplicate field" => {
                matches!(&error, Error::DuplicateField { field } if field == "rank")
            }
            "empty key" | "long key" | "one bad document spoils the batch" => {
                matches!(error, Error::InvalidKey { .. })
            }
            "oversized value" => matches!(error, Error::TooLarge { .. }),
            _ => unreachable!(),
        };
        assert!(expected, "{name}: unexpected {error:?}");
        assert!(!error.to_string().is_empty());
        assert_unchanged(&docs);
    }
    drop((docs, db));
    let (_db, docs) = open(dir.path());
    assert_unchanged(&docs);
}

#[test]
fn bad_searches_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, docs) = open(dir.path());
    docs.upsert(key_for(0), doc_for(0)).unwrap();
    let query = vec![0.1; DIM];
    assert!(matches!(
        docs.search(&Search::knn("embedding", &query[1..], 3)),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        docs.search(&Search::knn("embedding", &[f32::NAN; DIM], 3)),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        docs.search(&Search::knn("nope", &query, 3)),
        Err(Error::UnknownField { .. })
    ));
    assert!(matches!(
        docs.search(&Search::knn("title", &query, 3)),
        Err(Error::QueryFieldType {
            used: "VECTOR",
            declared: "TEXT",
            ..
        })
    ));
    // `KNN 0` is no error in RediSearch: it matches nothing.
    assert_eq!(
        docs.search(&Search::knn("embedding", &query, 0)).unwrap(),
        Vec::new()
    );
    assert!(matches!(
        docs.search(&Search::knn("embedding", &query, 10_001)),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        docs.search(&Search::knn("embedding", &query, 3).return_fields(["nope"])),
        Err(Error::UnknownField { .. })
    ));
}

#[test]
fn bad_collections_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let schema = full_schema(Metric::L2);
    for name in ["", "../escape", "a/b", ".hidden", "with space"] {
        assert!(
            matches!(
                db.create_collection(name, schema.clone()),
                Err(Error::InvalidName { .. })
            ),
            "{name:?}"
        );
    }
    db.create_collection("docs", schema.clone()).unwrap();
    assert!(matches!(
        db.create_collection("docs", schema),
        Err(Error::CollectionExists { .. })
    ));
    assert!(matches!(
        db.drop_collection("missing"),
        Err(Error::CollectionNotFound { .. })
    ));
    assert!(matches!(
        Schema::builder().text("same").numeric("same").build(),
        Err(Error::DuplicateField { .. })
    ));
    assert!(matches!(
        Schema::builder().text("bad name").build(),
        Err(Error::InvalidName { .. })
    ));
    // IVF_PQ's M must divide the dimension.
    assert!(matches!(
        Schema::builder()
            .vector("v", 8, Metric::L2, VectorIndex::ivf_pq(16, 3))
            .build(),
        Err(Error::InvalidSchema { .. })
    ));
    assert!(matches!(
        Schema::builder()
            .vector("v", 8, Metric::L2, VectorIndex::hnsw(1, 200))
            .build(),
        Err(Error::InvalidSchema { .. })
    ));
    assert_eq!(db.list_collections(), vec!["docs".to_string()]);
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(entries
        .iter()
        .all(|name| !name.to_string_lossy().contains("escape")));
}

/// Bug: `expire_at` cast the deadline's milliseconds with `as u64`, so a time past
/// what a deadline can hold wrapped into the past: `Ok(true)`, then the key was gone.
#[test]
fn a_deadline_past_what_strata_stores_is_refused_and_the_latest_one_holds() {
    let dir = tempfile::tempdir().unwrap();
    let (db, docs) = open(dir.path());
    docs.upsert(key_for(0), doc_for(0)).unwrap();
    docs.upsert(key_for(1), doc_for(1)).unwrap();

    let latest = UNIX_EPOCH + Duration::from_millis(u64::MAX);
    for too_far in [
        UNIX_EPOCH + Duration::from_secs(1 << 62),
        latest + Duration::from_millis(1),
    ] {
        let refused = docs.expire_at(&key_for(0), too_far);
        assert!(
            matches!(refused, Err(Error::InvalidArgument { .. })),
            "{refused:?}"
        );
    }
    let refused = docs.expire(&key_for(0), Duration::MAX);
    assert!(
        matches!(refused, Err(Error::InvalidArgument { .. })),
        "{refused:?}"
    );
    assert_eq!(docs.ttl(&key_for(0)).unwrap(), KeyTtl::Persistent);
    assert_unchanged(&docs);

    // The latest storable deadline is kept, in the memtable and in a segment, and a
    // TTL query of it does not overflow.
    let far_ttl = |docs: &Collection| match docs.ttl(&key_for(1)).unwrap() {
        KeyTtl::ExpiresIn(left) => left,
        other => panic!("expected a TTL, got {other:?}"),
    };
    assert!(docs.expire_at(&key_for(1), latest).unwrap());
    let a_million_years = Duration::from_secs(1_000_000 * 365 * 24 * 3600);
    assert!(far_ttl(&docs) > a_million_years);
    assert_unchanged(&docs);
    drop(docs);
    drop(db);
    let (db, docs) = open(dir.path());
    assert_unchanged(&docs);
    assert!(far_ttl(&docs) > a_million_years);
    db.flush().unwrap();
    drop(docs);
    drop(db);
    let (_db, docs) = open(dir.path());
    assert_unchanged(&docs);
    assert!(far_ttl(&docs) > a_million_years);
}
