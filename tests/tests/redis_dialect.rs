//! What code ported from Redis Stack relies on, through the public API: RETURN aliases
//! and order, the implicit `__<field>_score`, totals, FLOAT32 blobs, tag wildcards,
//! SORTBY ties in insertion order, and the errors for predicates of the wrong kind.
//! `tests/redis_parity` checks the same behaviour against a real Redis Stack.

use strata::{Collection, Database, Doc, Error, Metric, Schema, VectorIndex};

/// Six documents on a line: `doc:i` has vector `[i, 0]` (L2, so distance = i²),
/// year 2020 + i % 2, and topic from the list below.
const TOPICS: [&str; 6] = ["finance", "web", "romance", "x", "finance,web", "Fintech"];

fn schema() -> Schema {
    Schema::builder()
        .text("name")
        .tag("topic")
        .numeric("year")
        .vector("v", 2, Metric::L2, VectorIndex::flat())
        .build()
        .unwrap()
}

fn doc(i: usize) -> Doc {
    Doc::new()
        .text("name", format!("name {i}"))
        .tag("topic", TOPICS[i])
        .numeric("year", 2020.0 + (i % 2) as f64)
        .vector("v", vec![i as f32, 0.0])
}

fn open(dir: &std::path::Path) -> (Database, Collection) {
    let db = Database::open(dir).unwrap();
    let docs = match db.collection("docs") {
        Ok(docs) => docs,
        Err(_) => db.create_collection("docs", schema()).unwrap(),
    };
    (db, docs)
}

/// The first `count` documents, written in order; those below `flushed` sealed into a
/// segment first, so queries cross a segment and the memtable.
fn filled(dir: &std::path::Path, count: usize, flushed: usize) -> (Database, Collection) {
    let (db, docs) = open(dir);
    for i in 0..count {
        if i == flushed {
            db.flush().unwrap();
        }
        docs.upsert(format!("doc:{i}"), doc(i)).unwrap();
    }
    (db, docs)
}

fn keys(hits: &[strata::Hit]) -> Vec<String> {
    hits.iter().map(|hit| hit.key.clone()).collect()
}

fn field_names(doc: &Doc) -> Vec<String> {
    doc.fields().map(|(name, _)| name.to_string()).collect()
}

#[test]
fn return_gives_fields_in_the_order_asked_under_their_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, docs) = filled(dir.path(), 6, 3);
    let hits = docs
        .query("*=>[KNN 2 @v $q]")
        .param("q", vec![0.0f32, 0.0])
        .args(["RETURN", "5", "year", "name", "AS", "title", "__v_score"])
        .run()
        .unwrap();
    assert_eq!(keys(&hits), ["doc:0", "doc:1"]);
    assert_eq!(field_names(&hits[1].doc), ["year", "title", "__v_score"]);
    assert_eq!(hits[1].doc.get_text("title"), Some("name 1"));
    assert_eq!(hits[1].doc.get("name"), None);
    assert_eq!(hits[1].doc.get_numeric("__v_score"), Some(1.0));
}

#[test]
fn knn_distance_has_redis_implicit_name_and_sorts() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, docs) = filled(dir.path(), 6, 6);
    let hits = docs
        .query("*=>[KNN 3 @v $q]")
        .param("q", vec![0.0f32, 0.0])
        .args(["SORTBY", "__v_score", "DESC"])
        .run()
        .unwrap();
    assert_eq!(keys(&hits), ["doc:2", "doc:1", "doc:0"]);
    for hit in &hits {
        assert_eq!(
            hit.doc.get_numeric("__v_score"),
            Some(f64::from(hit.distance))
        );
    }
    // VECTOR_RANGE has no implicit name: without $YIELD_DISTANCE_AS nothing is added.
    let hits = docs
        .query("@v:[VECTOR_RANGE 1 $q]")
        .param("q", vec![0.0f32, 0.0])
        .run()
        .unwrap();
    assert_eq!(keys(&hits), ["doc:0", "doc:1"]);
    assert!(hits
        .iter()
        .all(|hit| field_names(&hit.doc) == ["name", "topic", "year"]));
}

#[test]
fn rows_matched_by_another_branch_than_vector_range_carry_no_distance() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, docs) = filled(dir.path(), 6, 2);
    for sort in [&["SORTBY", "d"][..], &[]] {
        let hits = docs
            .query("@v:[VECTOR_RANGE 1 $q]=>{$YIELD_DISTANCE_AS: d} | @topic:{x}")
            .param("q", vec![0.0f32, 0.0])
            .args(sort.iter().copied())
            .run()
            .unwrap();
        // doc:3 matched only the tag: no `d`, after every measured row.
        assert_eq!(keys(&hits), ["doc:0", "doc:1", "doc:3"], "{sort:?}");
        assert_eq!(hits[1].doc.get_numeric("d"), Some(1.0));
        assert_eq!(hits[2].doc.get("d"), None);
        assert_eq!(hits[2].distance, f32::INFINITY);
    }
}

#[test]
fn totals_count_every_match_beside_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, docs) = filled(dir.path(), 6, 4);
    let count = docs
        .query("@topic:{finance | web}")
        .args(["LIMIT", "0", "0"])
        .run_with_total()
        .unwrap();
    assert_eq!((count.total, count.len()), (3, 0));
    let page = docs
        .query("*")
        .args(["LIMIT", "4", "10"])
        .run_with_total()
        .unwrap();
    assert_eq!((page.total, page.len()), (6, 2));
    let knn = |k: &str| {
        docs.query(&format!("(@year:[2020 2020])=>[KNN {k} @v $q]"))
            .param("q", vec![0.0f32, 0.0])
            .run_with_total()
            .unwrap()
    };
    // KNN's total is the neighbours found: at most k, at most the matches.
    assert_eq!(knn("2").total, 2);
    assert_eq!(knn("50").total, 3);
    let zero = knn("0");
    assert_eq!((zero.total, zero.len()), (0, 0));
}

#[test]
fn query_vectors_may_be_float32_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, docs) = filled(dir.path(), 6, 3);
    let vector = [2.2f32, 0.1];
    let blob: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
    let from_blob = docs
        .query("*=>[KNN 3 @v $q]")
        .param("q", &blob[..])
        .run()
        .unwrap();
    let from_floats = docs
        .query("*=>[KNN 3 @v $q]")
        .param("q", vector.to_vec())
        .run()
        .unwrap();
    assert_eq!(keys(&from_blob), ["doc:2", "doc:3", "doc:1"]);
    assert_eq!(from_blob, from_floats);
    let short = docs
        .query("*=>[KNN 3 @v $q]")
        .param("q", &blob[..7])
        .run()
        .unwrap_err();
    assert!(
        matches!(&short, Error::InvalidArgument { reason } if reason.contains("7-byte blob")),
        "{short}"
    );
    let wrong_dim = docs
        .query("@v:[VECTOR_RANGE 1 $q]")
        .param("q", &blob[..4])
        .run()
        .unwrap_err();
    assert!(
        matches!(
            wrong_dim,
            Error::DimensionMismatch {
                expected: 2,
                found: 1,
                ..
            }
        ),
        "{wrong_dim}"
    );
}

#[test]
fn a_predicate_of_the_wrong_kind_names_both_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, docs) = filled(dir.path(), 2, 2);
    let error = |query: &str| {
        docs.query(query)
            .param("q", vec![0.0f32, 0.0])
            .run()
            .unwrap_err()
    };
    let cases = [
        ("*=>[KNN 3 @name $q]", "name", "VECTOR", "TEXT"),
        ("@year:{1}", "year", "TAG", "NUMERIC"),
        ("@topic:[0 1]", "topic", "NUMERIC", "TAG"),
        ("@name:[VECTOR_RANGE 1 $q]", "name", "VECTOR", "TEXT"),
    ];
    for (query, field_name, used_kind, declared_kind) in cases {
        let error = error(query);
        match &error {
            Error::QueryFieldType {
                field,
                used,
                declared,
                ..
            } => assert_eq!(
                (field.as_str(), *used, *declared),
                (field_name, used_kind, declared_kind),
                "{query}"
            ),
            other => panic!("{query}: {other:?}"),
        }
        let message = error.to_string();
        assert!(
            message.contains(&format!("as a {used_kind} field"))
                && message.contains(&format!("is a {declared_kind} field")),
            "{message}"
        );
    }
}

/// Which tags a wildcard should match, for the oracle.
type TagTest = dyn Fn(&str) -> bool;

#[test]
fn tag_wildcards_match_prefixes_suffixes_and_infixes_in_every_source() {
    let dir = tempfile::tempdir().unwrap();
    let oracle = |matches: &TagTest| -> Vec<String> {
        let mut keys: Vec<String> = (0..6)
            .filter(|&i| TOPICS[i].split(',').any(|tag| matches(&tag.to_lowercase())))
            .map(|i| format!("doc:{i}"))
            .collect();
        keys.sort();
        keys
    };
    let cases: [(&str, &TagTest); 5] = [
        ("@topic:{fin*}", &|tag| tag.starts_with("fin")),
        ("@topic:{FIN*}", &|tag| tag.starts_with("fin")),
        ("@topic:{*ance}", &|tag| tag.ends_with("ance")),
        ("@topic:{*e*}", &|tag| tag.contains('e')),
        ("@topic:{x | *tech}", &|tag| {
            tag == "x" || tag.ends_with("tech")
        }),
    ];
    let (db, docs) = filled(dir.path(), 6, 3);
    for flushed in [false, true] {
        for (query, matches) in &cases {
            let mut got = keys(&docs.query(query).args(["LIMIT", "0", "100"]).run().unwrap());
            got.sort();
            assert_eq!(got, oracle(matches), "{query}, all flushed: {flushed}");
        }
        if !flushed {
            db.flush().unwrap();
        }
    }
}

#[test]
fn sortby_ties_follow_insertion_order_like_redis_document_ids() {
    let dir = tempfile::tempdir().unwrap();
    let sorted = |docs: &Collection, order: &str| {
        keys(
            &docs
                .query("*")
                .args(["SORTBY", "year", order, "RETURN", "0"])
                .run()
                .unwrap(),
        )
    };
    {
        let (_db, docs) = filled(dir.path(), 6, 3);
        // Ties (same year) ascend in insertion order for ASC and descend for DESC.
        assert_eq!(
            sorted(&docs, "ASC"),
            ["doc:0", "doc:2", "doc:4", "doc:1", "doc:3", "doc:5"]
        );
        assert_eq!(
            sorted(&docs, "DESC"),
            ["doc:5", "doc:3", "doc:1", "doc:4", "doc:2", "doc:0"]
        );
        // Writing a key again gives it a new place at the end, as an HSET gives a
        // Redis hash a new document id.
        docs.upsert("doc:0", doc(0)).unwrap();
    }
    {
        let (db, docs) = open(dir.path());
        assert_eq!(
            sorted(&docs, "ASC"),
            ["doc:2", "doc:4", "doc:0", "doc:1", "doc:3", "doc:5"]
        );
        assert_eq!(
            sorted(&docs, "DESC"),
            ["doc:5", "doc:3", "doc:1", "doc:0", "doc:4", "doc:2"]
        );
        // A key rewritten while its row is in the memtable moves to the end too, and
        // the order survives a flush and a compaction that merges every segment.
        docs.upsert("doc:3", doc(3)).unwrap();
        docs.upsert("doc:4", doc(4)).unwrap();
        db.flush().unwrap();
        docs.upsert("doc:2", doc(2)).unwrap();
        db.flush().unwrap();
        db.compact().unwrap();
    }
    let (_db, docs) = open(dir.path());
    assert_eq!(
        sorted(&docs, "ASC"),
        ["doc:0", "doc:4", "doc:2", "doc:1", "doc:5", "doc:3"]
    );
    assert_eq!(
        sorted(&docs, "DESC"),
        ["doc:3", "doc:5", "doc:1", "doc:2", "doc:4", "doc:0"]
    );
}

#[test]
fn dialects_and_options_redis_clients_send() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, docs) = filled(dir.path(), 6, 6);
    let run = |args: &[&str]| {
        docs.query("@topic:{web}")
            .args(args.iter().copied())
            .run_with_total()
    };
    for dialect in ["2", "3", "4"] {
        assert_eq!(run(&["DIALECT", dialect]).unwrap().total, 2);
    }
    let dialect_one = run(&["DIALECT", "1"]).unwrap_err();
    assert!(
        dialect_one.to_string().contains("Strata speaks DIALECT 2"),
        "{dialect_one}"
    );
    // A TAG-only query's score is 1 in Strata (Redis reports a TF-IDF value).
    let scored = run(&["WITHSCORES"]).unwrap();
    assert!(scored.hits.iter().all(|hit| hit.score == Some(1.0)));
}
