//! Everything acknowledged survives a reopen: collections, schemas, documents,
//! replacements, deletions and drops.

use strata::{Database, Doc, Error, FieldKind, Metric, Schema, Search, TagOptions, VectorIndex};
use strata_tests::{doc_for, full_schema, key_for};

#[test]
fn documents_and_schemas_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Schema::builder()
        .text("title")
        .tag_with(
            "tags",
            TagOptions {
                separator: ';',
                case_sensitive: true,
            },
        )
        .numeric("rank")
        .vector(
            "embedding",
            strata_tests::DIM,
            Metric::InnerProduct,
            VectorIndex::flat(),
        )
        .build()
        .unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        let docs = db.create_collection("docs", schema.clone()).unwrap();
        docs.upsert_many((0..50).map(|index| (key_for(index), doc_for(index))))
            .unwrap();
        docs.upsert(key_for(3), Doc::new().text("title", "replaced"))
            .unwrap();
        assert!(docs.delete(&key_for(4)).unwrap());
        assert!(!docs.delete("never-there").unwrap());
        db.create_collection("scratch", full_schema(Metric::L2))
            .unwrap();
        db.drop_collection("scratch").unwrap();
    }
    let db = Database::open(dir.path()).unwrap();
    assert_eq!(db.list_collections(), vec!["docs".to_string()]);
    let docs = db.collection("docs").unwrap();
    assert_eq!(docs.schema(), &schema);
    assert_eq!(docs.len().unwrap(), 49);
    assert_eq!(
        docs.get(&key_for(3)).unwrap(),
        Some(Doc::new().text("title", "replaced")),
        "upsert replaces whole"
    );
    assert_eq!(docs.get(&key_for(4)).unwrap(), None);
    assert_eq!(docs.get(&key_for(7)).unwrap(), Some(doc_for(7)));
    assert!(matches!(
        db.collection("scratch"),
        Err(Error::CollectionNotFound { .. })
    ));
}

#[test]
fn a_document_without_its_vector_is_stored_but_never_a_search_hit() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let docs = db
        .create_collection("docs", full_schema(Metric::L2))
        .unwrap();
    docs.upsert("with", doc_for(1)).unwrap();
    docs.upsert(
        "without",
        Doc::new().text("title", "no vector").numeric("rank", 1.0),
    )
    .unwrap();
    let hits = docs
        .search(&Search::knn("embedding", &strata_tests::vector_for(1), 10))
        .unwrap();
    let keys: Vec<&str> = hits.iter().map(|hit| hit.key.as_str()).collect();
    assert_eq!(keys, vec!["with"]);
    assert_eq!(
        docs.get("without").unwrap().unwrap().get_text("title"),
        Some("no vector")
    );
    // Replacing a document without its vector takes it out of vector search.
    docs.upsert("with", Doc::new().text("title", "vector gone"))
        .unwrap();
    assert!(docs
        .search(&Search::knn("embedding", &strata_tests::vector_for(1), 10))
        .unwrap()
        .is_empty());
}

#[test]
fn dropped_names_can_be_reused_and_old_handles_stop_working() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let old = db
        .create_collection("docs", full_schema(Metric::L2))
        .unwrap();
    old.upsert("a", doc_for(0)).unwrap();
    db.drop_collection("docs").unwrap();
    let text_only = Schema::builder().text("body").build().unwrap();
    let new = db.create_collection("docs", text_only).unwrap();
    assert!(matches!(
        old.upsert("b", doc_for(1)),
        Err(Error::CollectionNotFound { .. })
    ));
    assert!(matches!(
        old.get("a"),
        Err(Error::CollectionNotFound { .. })
    ));
    assert_eq!(new.len().unwrap(), 0);
    drop((old, new, db));
    let db = Database::open(dir.path()).unwrap();
    let docs = db.collection("docs").unwrap();
    assert_eq!(docs.len().unwrap(), 0);
    assert!(matches!(docs.schema().fields()[0].kind, FieldKind::Text(_)));
}

#[test]
fn search_returns_requested_fields() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let docs = db
        .create_collection("docs", full_schema(Metric::L2))
        .unwrap();
    docs.upsert("a", doc_for(5)).unwrap();
    let query = strata_tests::vector_for(5);
    let hit = &docs.search(&Search::knn("embedding", &query, 1)).unwrap()[0];
    assert_eq!(hit.distance, 0.0);
    assert_eq!(
        hit.doc.get_vector("embedding"),
        None,
        "vectors only when asked for"
    );
    assert_eq!(hit.doc.get_numeric("rank"), Some(5.0));
    let hit = &docs
        .search(&Search::knn("embedding", &query, 1).return_fields(["title", "embedding"]))
        .unwrap()[0];
    assert_eq!(hit.doc.len(), 2);
    assert_eq!(hit.doc.get_vector("embedding"), Some(query.as_slice()));
    let hit = &docs
        .search(&Search::knn("embedding", &query, 1).no_content())
        .unwrap()[0];
    assert!(hit.doc.is_empty());
}

#[test]
fn handles_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Database>();
    assert_send_sync::<strata::Collection>();
}
