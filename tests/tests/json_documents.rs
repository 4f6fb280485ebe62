//! JSON documents (`FT.CREATE ... ON JSON`) through the public API: nested documents
//! with a field of every kind answer every query exactly as the same data in a plain
//! schema does, before and after partial updates, flushes and a reopen; `get_json`
//! gives each document back whole; `RETURN $.path` reads the documents; bad documents,
//! paths and calls are refused with an error naming the problem and change nothing; a
//! writer killed with SIGKILL loses no acknowledged JSON write.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value as Json};
use strata::{
    Collection, Database, Doc, Durability, Error, Hit, Options, Schema, SourceKind, VectorIndex,
};
use strata_tests::json::{flat_doc, flat_schema, json_doc, json_key, json_schema, JSON_DIM};
use strata_tests::{random_vectors, scratch_dir};

const DOCS: u64 = 300;

/// The queries both collections answer, with the FT.SEARCH arguments after them.
fn queries() -> Vec<(String, Vec<String>)> {
    let sorted = |q: &str, field: &str| {
        (
            q.to_string(),
            ["SORTBY", field, "LIMIT", "0", "400"]
                .map(String::from)
                .to_vec(),
        )
    };
    vec![
        ("*=>[KNN 10 @embedding $v AS d]".into(), vec![]),
        (
            "(@category:{shoes|books})=>[KNN 15 @embedding $v AS d]".into(),
            vec![],
        ),
        (
            "(@tags:{premium} @price:[10 60])=>[KNN 5 @embedding $v AS d]".into(),
            vec![],
        ),
        ("(-@tags:{red})=>[KNN 20 @embedding $v AS d]".into(), vec![]),
        sorted("@category:{garden}", "price"),
        sorted("@tags:{sale|eco}", "price"),
        sorted("@price:[50 (100]", "price"),
        sorted("@price:[-inf +inf] -@category:{boats}", "price"),
    ]
}

/// Runs a query and keeps what both forms must agree on: the keys in order and the
/// distances.
fn answer(
    collection: &Collection,
    query: &str,
    args: &[String],
    vector: &[f32],
) -> Vec<(String, f32)> {
    let hits: Vec<Hit> = collection
        .query(query)
        .param("v", vector.to_vec())
        .args(args.iter().map(String::as_str).chain(["NOCONTENT"]))
        .run()
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    hits.into_iter()
        .map(|hit| (hit.key, hit.distance))
        .collect()
}

fn assert_same_answers(json: &Collection, flat: &Collection, when: &str) {
    let vectors = random_vectors(15, 6, JSON_DIM);
    for (query, args) in queries() {
        for vector in &vectors {
            let expected = answer(flat, &query, &args, vector);
            assert!(
                !expected.is_empty() || query.contains("premium"),
                "{when}: `{query}` matches nothing, so it checks nothing"
            );
            assert_eq!(
                answer(json, &query, &args, vector),
                expected,
                "{when}: {query}"
            );
        }
    }
    assert_eq!(json.len().unwrap(), flat.len().unwrap(), "{when}");
}

fn options() -> Options {
    Options {
        durability: Durability::Always,
        memtable_rows_max: 128,
        ..Options::default()
    }
}

/// Applies the partial updates to both forms and to the expected documents.
fn update(json: &Collection, flat: &Collection, expected: &mut [Json], round: u64) {
    for index in (round..DOCS).step_by(9) {
        let doc = &mut expected[index as usize];
        let (path, value) = match index % 4 {
            0 => ("$.price", json!(round as f64 * 10.0 + 1.5)),
            1 => ("$.metadata.category", json!("boats")),
            2 => ("$.tags", json!(["eco", "Premium"])),
            _ => ("$.embedding[2]", json!(0.625)),
        };
        assert!(json
            .set_json(&json_key(index), path, value.clone())
            .unwrap());
        match index % 4 {
            0 => doc["price"] = value,
            1 => doc["metadata"]["category"] = value,
            2 => doc["tags"] = value,
            _ => doc["embedding"][2] = value,
        }
        flat.upsert(json_key(index), flat_doc(doc)).unwrap();
    }
}

#[test]
fn json_documents_answer_as_the_same_data_in_a_plain_schema() {
    let dir = scratch_dir();
    let mut expected: Vec<Json> = (0..DOCS).map(json_doc).collect();
    for index in [VectorIndex::hnsw(16, 200), VectorIndex::flat()] {
        let path = dir.path().join(format!("{index:?}"));
        {
            let db = Database::open_with(&path, options()).unwrap();
            let json = db.create_collection("json", json_schema(index)).unwrap();
            let flat = db.create_collection("flat", flat_schema(index)).unwrap();
            for (i, doc) in expected.iter().enumerate() {
                json.upsert_json(json_key(i as u64), doc.clone()).unwrap();
                flat.upsert(json_key(i as u64), flat_doc(doc)).unwrap();
            }
            assert_same_answers(&json, &flat, "after ingest");
            update(&json, &flat, &mut expected, 1);
            assert_same_answers(&json, &flat, "after partial updates");
            db.flush().unwrap();
            update(&json, &flat, &mut expected, 2);
            assert_same_answers(&json, &flat, "after a flush and more updates");
            for (i, doc) in expected.iter().enumerate() {
                assert_eq!(
                    json.get_json(&json_key(i as u64)).unwrap().as_ref(),
                    Some(doc)
                );
            }
        }
        let db = Database::open_with(&path, options()).unwrap();
        let json = db.collection("json").unwrap();
        let flat = db.collection("flat").unwrap();
        assert_same_answers(&json, &flat, "after reopen");
        for (i, doc) in expected.iter().enumerate() {
            assert_eq!(
                json.get_json(&json_key(i as u64)).unwrap().as_ref(),
                Some(doc),
                "{i}"
            );
        }
        db.compact().unwrap();
        update(&json, &flat, &mut expected, 3);
        assert_same_answers(&json, &flat, "after compaction and updates");
        expected = (0..DOCS).map(json_doc).collect();
    }
}

/// Bytes of the database's WAL files.
fn wal_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("wal-"))
        .map(|entry| entry.metadata().unwrap().len())
        .sum()
}

#[test]
fn the_document_is_whole_and_the_vector_stored_once() {
    let dir = scratch_dir();
    let db = Database::open_with(dir.path(), options()).unwrap();
    let json = db
        .create_collection("json", json_schema(VectorIndex::flat()))
        .unwrap();
    let doc = json_doc(1);
    json.upsert_json("k", doc.clone()).unwrap();
    // `get` gives the indexed fields and `$`: the whole document.
    let row = json.get("k").unwrap().unwrap();
    assert_eq!(row.get_json("$"), Some(doc.clone()));
    assert_eq!(
        row.get_tag("category"),
        doc["metadata"]["category"].as_str()
    );
    db.flush().unwrap();
    assert_eq!(json.get("k").unwrap().unwrap().get_json("$"), Some(doc));

    // A 1,024-dimensional vector is 4 KiB as f32s and about 10 KiB as JSON text: the
    // write logs the f32s and a document without them.
    const DIM: usize = 1024;
    let big = db
        .create_collection(
            "big",
            Schema::builder()
                .json_vector("$.v", "v", DIM, strata::Metric::L2, VectorIndex::flat())
                .build()
                .unwrap(),
        )
        .unwrap();
    let vector: Vec<Json> = (0..DIM).map(|i| json!(0.123 + i as f64 / 4096.0)).collect();
    let doc = json!({"title": "big", "v": vector});
    let text = doc.to_string().len() as u64;
    assert!(text > 9 * 1024, "{text}");
    let before = wal_bytes(dir.path());
    big.upsert_json("b", doc.clone()).unwrap();
    let logged = wal_bytes(dir.path()) - before;
    assert!(
        (4 * DIM as u64..4 * DIM as u64 + 256).contains(&logged),
        "{logged} bytes logged for a {text}-byte document: the vector is not stored once"
    );
    let back = big.get_json("b").unwrap().unwrap();
    let got: Vec<f32> = back["v"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_f64().unwrap() as f32)
        .collect();
    let want: Vec<f32> = doc["v"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(got, want);
    assert_eq!(back["title"], json!("big"));
}

#[test]
fn return_reads_paths_of_the_documents() {
    let dir = scratch_dir();
    let db = Database::open_with(dir.path(), options()).unwrap();
    let json = db
        .create_collection("json", json_schema(VectorIndex::flat()))
        .unwrap();
    let doc = json!({
        "name": "red shoes", "metadata": {"category": "shoes"}, "tags": ["red", "Sport"],
        "price": 10, "embedding": [1.5, 0, 0, 0, 0, 0, 0, 0.25], "body": "red shoes"
    });
    json.upsert_json("d:1", doc.clone()).unwrap();
    let hits = json
        .query("@category:{shoes}")
        .args([
            "RETURN",
            "6",
            "$.price",
            "$.tags",
            "category",
            "$.nope",
            "$.tags[*]",
            "$.name",
        ])
        .run()
        .unwrap();
    let got = &hits[0].doc;
    let names: Vec<&str> = got.fields().map(|(name, _)| name).collect();
    assert_eq!(
        names,
        ["$.price", "$.tags", "category", "$.tags[*]", "$.name"]
    );
    assert_eq!(got.get_json("$.price"), Some(json!(10)));
    assert_eq!(got.get_json("$.tags"), Some(json!(["red", "Sport"])));
    assert_eq!(
        got.get_json("$.tags[*]"),
        Some(json!("red")),
        "DIALECT 2: the first match"
    );
    assert_eq!(got.get_json("$.name"), Some(json!("red shoes")));
    assert_eq!(got.get_tag("category"), Some("shoes"));
    // Aliases alone: the values indexed, typed.
    let hits = json
        .query("@category:{shoes}")
        .args(["RETURN", "2", "price", "category"])
        .run()
        .unwrap();
    assert_eq!(
        hits[0].doc,
        Doc::new().numeric("price", 10.0).tag("category", "shoes")
    );
    // DIALECT 3 returns every match; AS names the value.
    let hits = json
        .query("@category:{shoes}")
        .args(["RETURN", "3", "$.tags[*]", "AS", "t", "DIALECT", "3"])
        .run()
        .unwrap();
    assert_eq!(hits[0].doc.get_json("t"), Some(json!(["red", "Sport"])));
    // Without RETURN, as RediSearch: the whole document (vector included) and the score.
    let hits = json
        .query("*=>[KNN 1 @embedding $v]")
        .param("v", vec![1.0f32; JSON_DIM])
        .run()
        .unwrap();
    assert_eq!(hits[0].doc.get_json("$"), Some(doc.clone()));
    assert!(hits[0].doc.get("__embedding_score").is_some());
    assert_eq!(hits[0].doc.len(), 2, "{:?}", hits[0].doc);
    let hits = json.query("*").args(["RETURN", "1", "$"]).run().unwrap();
    assert_eq!(hits[0].doc.get_json("$"), Some(doc));
    // A path that does not parse is refused.
    assert!(matches!(
        json.query("*").args(["RETURN", "1", "$.a["]).run(),
        Err(Error::InvalidJsonPath { .. })
    ));
}

#[test]
fn missing_and_null_values_leave_the_field_out() {
    let dir = scratch_dir();
    let db = Database::open_with(dir.path(), options()).unwrap();
    let json = db
        .create_collection("json", json_schema(VectorIndex::flat()))
        .unwrap();
    let sparse = json!({"metadata": {"category": null}, "tags": "not an array", "price": null,
                        "embedding": null});
    json.upsert_json("sparse", sparse.clone()).unwrap();
    json.upsert_json("empty", json!({})).unwrap();
    json.upsert_json("scalar", json!(42)).unwrap();
    assert_eq!(json.get_json("sparse").unwrap(), Some(sparse));
    assert_eq!(json.get_json("scalar").unwrap(), Some(json!(42)));
    let row = json.get("sparse").unwrap().unwrap();
    assert_eq!(
        row.fields().map(|(name, _)| name).collect::<Vec<_>>(),
        ["$"]
    );
    assert_eq!(json.query("*").run_with_total().unwrap().total, 3);
    assert!(json.query("@price:[-inf +inf]").run().unwrap().is_empty());
    let knn = json
        .query("*=>[KNN 5 @embedding $v]")
        .param("v", vec![1.0f32; JSON_DIM])
        .run()
        .unwrap();
    assert!(
        knn.is_empty(),
        "documents without a vector are never KNN hits"
    );
}

#[test]
fn bad_documents_paths_and_calls_are_refused_and_change_nothing() {
    let dir = scratch_dir();
    let db = Database::open_with(dir.path(), options()).unwrap();
    let json = db
        .create_collection("json", json_schema(VectorIndex::flat()))
        .unwrap();
    let plain = db
        .create_collection("plain", flat_schema(VectorIndex::flat()))
        .unwrap();
    let original = json_doc(3);
    json.upsert_json("k", original.clone()).unwrap();
    let with = |path: &str, value: Json| {
        let mut doc = original.clone();
        *doc.pointer_mut(path).unwrap() = value;
        doc
    };
    let wrong_types = [
        (with("/metadata/category", json!(5)), "$.metadata.category"),
        (
            with("/metadata/category", json!({"a": 1})),
            "$.metadata.category",
        ),
        (with("/tags", json!(["a", 1])), "$.tags[*]"),
        (with("/price", json!("20")), "$.price"),
        (with("/price", json!(true)), "$.price"),
        (with("/price", json!([1, 2])), "$.price"),
        (with("/body", json!(5)), "$.body"),
        (with("/embedding", json!("abc")), "$.embedding"),
        (with("/embedding/3", json!("1")), "$.embedding"),
        (with("/embedding/3", json!(null)), "$.embedding"),
    ];
    for (doc, path) in &wrong_types {
        for key in ["k", "new"] {
            match json.upsert_json(key, doc.clone()) {
                Err(error @ Error::JsonType { .. }) => {
                    assert!(error.to_string().contains(path), "{error}");
                }
                other => panic!("{doc}: {other:?}"),
            }
        }
    }
    let mut short = original.clone();
    short["embedding"] = json!([0.5, 0.5]);
    assert!(matches!(
        json.upsert_json("k", short),
        Err(Error::DimensionMismatch { .. })
    ));
    let mut huge = original.clone();
    huge["embedding"][0] = json!(1e300);
    assert!(matches!(
        json.upsert_json("k", huge),
        Err(Error::NonFinite { .. })
    ));
    // Partial updates: a wrong type, a path that does not parse, an index out of range,
    // a new document not at the root.
    assert!(matches!(
        json.set_json("k", "$.price", json!("cheap")),
        Err(Error::JsonType { .. })
    ));
    assert!(matches!(
        json.set_json("k", "$.tags", json!([1])),
        Err(Error::JsonType { .. })
    ));
    assert!(matches!(
        json.set_json("k", "price", json!(1)),
        Err(Error::InvalidJsonPath { pos: 0, .. })
    ));
    assert!(matches!(
        json.set_json("k", "$.tags[?(@)]", json!(1)),
        Err(Error::InvalidJsonPath { .. })
    ));
    assert!(matches!(
        json.set_json("k", "$.embedding[99]", json!(1)),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        json.set_json("absent", "$.price", json!(1)),
        Err(Error::InvalidArgument { .. })
    ));
    // A path whose parent is missing sets nothing, as JSON.SET replies nil.
    assert!(!json.set_json("k", "$.no.such", json!(1)).unwrap());
    // Plain writes to a JSON collection and JSON writes to a plain one.
    assert!(matches!(
        json.upsert("k", Doc::new().tag("category", "x")),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        json.upsert_many([("k", Doc::new())]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        plain.upsert_json("k", original.clone()),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        plain.get_json("k"),
        Err(Error::InvalidArgument { .. })
    ));
    // Nothing changed, before and after a reopen.
    let check = |db: &Database| {
        let json = db.collection("json").unwrap();
        assert_eq!(json.len().unwrap(), 1);
        assert_eq!(json.get_json("k").unwrap(), Some(original.clone()));
        assert_eq!(json.get_json("new").unwrap(), None);
        assert_eq!(db.collection("plain").unwrap().len().unwrap(), 0);
    };
    check(&db);
    drop((json, plain, db));
    check(&Database::open_with(dir.path(), options()).unwrap());
}

#[test]
fn json_schemas_are_checked_and_survive_reopen() {
    for (builder, what) in [
        (
            Schema::builder().json_tag("$.a", "a").tag("b"),
            "a plain field among JSON fields",
        ),
        (Schema::builder().json_tag("a", "a"), "a path without `$`"),
        (Schema::builder().json_numeric("$.a[1:2]", "a"), "a slice"),
        (
            Schema::builder().json_vector(
                "$.v[*]",
                "v",
                2,
                strata::Metric::L2,
                VectorIndex::flat(),
            ),
            "a vector path to many locations",
        ),
        (
            Schema::builder().json_tag("$.a", "not a name"),
            "a bad alias",
        ),
    ] {
        assert!(builder.build().is_err(), "{what} accepted");
    }
    let dir = scratch_dir();
    let schema = json_schema(VectorIndex::hnsw(8, 40));
    {
        let db = Database::open(dir.path()).unwrap();
        db.create_collection("json", schema.clone()).unwrap();
        db.flush().unwrap();
    }
    let db = Database::open(dir.path()).unwrap();
    let json = db.collection("json").unwrap();
    assert_eq!(json.schema(), &schema);
    assert_eq!(
        json.schema().fields()[0].path.as_deref(),
        Some("$.metadata.category")
    );
}

/// The crash writer's JSON mode upserts document `i` and, every third step, sets a
/// path of document `i - 1`; each step is acknowledged after both.
fn expected_after(acknowledged: u64, index: u64) -> Json {
    let mut doc = json_doc(index);
    let next = index + 1;
    if next < acknowledged && next % 3 == 2 {
        doc["price"] = json!(next as f64);
        doc["tags"] = json!(["eco"]);
    }
    doc
}

#[test]
fn json_writes_survive_sigkill() {
    let dir = scratch_dir();
    for (round, acks) in [(0, 40), (1, 25)] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
            .args([dir.path().to_str().unwrap(), "always", "write-json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn crash_writer");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut acknowledged: u64 = 0;
        for _ in 0..acks {
            let line = lines.next().expect("writer exited early").unwrap();
            acknowledged = line.strip_prefix("ack ").unwrap().parse().unwrap();
        }
        child.kill().expect("SIGKILL the writer");
        child.wait().unwrap();
        let db = Database::open(dir.path()).expect("reopen after SIGKILL");
        let json = db.collection("json").unwrap();
        // The last acknowledged step's successor may have been logged, not acknowledged:
        // every document before it is exactly as written.
        for index in 0..acknowledged.saturating_sub(1) {
            assert_eq!(
                json.get_json(&json_key(index)).unwrap(),
                Some(expected_after(acknowledged, index)),
                "round {round}: document {index} of {acknowledged} acknowledged"
            );
        }
        let eco = json
            .query("@tags:{eco}")
            .args(["LIMIT", "0", "1000", "NOCONTENT"])
            .run()
            .unwrap();
        for hit in eco {
            let doc = json.get_json(&hit.key).unwrap().unwrap();
            assert!(
                doc["tags"].as_array().unwrap().contains(&json!("eco")),
                "{}",
                hit.key
            );
        }
    }
}

#[test]
fn partial_updates_keep_the_ttl_and_concurrent_ones_lose_nothing() {
    let dir = scratch_dir();
    let db = Database::open_with(dir.path(), options()).unwrap();
    let json = db
        .create_collection("json", json_schema(VectorIndex::hnsw(8, 40)))
        .unwrap();
    json.upsert_json("k", json!({"price": 1, "counters": {}}))
        .unwrap();
    assert!(json
        .expire("k", std::time::Duration::from_secs(3600))
        .unwrap());
    // Each thread sets its own member many times; every write re-reads the document
    // under the write lock, so the last value of every thread survives.
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let json = &json;
            scope.spawn(move || {
                for round in 0..50 {
                    let path = format!("$.counters.t{thread}");
                    assert!(json.set_json("k", &path, json!(round)).unwrap());
                }
            });
        }
    });
    let doc = json.get_json("k").unwrap().unwrap();
    assert_eq!(
        doc["counters"],
        json!({"t0": 49, "t1": 49, "t2": 49, "t3": 49})
    );
    assert_eq!(doc["price"], json!(1));
    assert!(
        matches!(json.ttl("k").unwrap(), strata::KeyTtl::ExpiresIn(left) if left.as_secs() > 3500),
        "set_json dropped the TTL"
    );
}

/// Nodes in the memtable's HNSW graph.
fn memtable_graph_nodes(collection: &Collection) -> u64 {
    let info = collection.info().unwrap();
    info.sources
        .iter()
        .find(|source| source.kind == SourceKind::Memtable)
        .map_or(0, |source| source.graph_nodes)
}

/// One random partial update of document `index`: the path and value set, applied to
/// `doc` as RedisJSON would. Returns whether the embedding changed.
fn random_partial_update(rng: &mut StdRng, doc: &mut Json) -> (String, Json, bool) {
    const WORDS: [&str; 5] = ["boats", "shoes", "garden", "red", "eco"];
    let word = |rng: &mut StdRng| json!(WORDS[rng.gen_range(0..WORDS.len())]);
    let rng2 = rng;
    match rng2.gen_range(0..9) {
        0 => {
            let price = if rng2.gen_range(0..5) == 0 {
                Json::Null
            } else {
                json!(rng2.gen_range(1..400) as f64 / 4.0)
            };
            doc["price"] = price.clone();
            ("$.price".into(), price, false)
        }
        1 => {
            let category = word(rng2);
            doc["metadata"]["category"] = category.clone();
            ("$.metadata.category".into(), category, false)
        }
        2 => {
            let tags: Vec<Json> = (0..rng2.gen_range(0..3)).map(|_| word(rng2)).collect();
            doc["tags"] = json!(tags);
            ("$.tags".into(), json!(tags), false)
        }
        // Paths no field maps.
        3 => {
            let name = json!(format!("renamed {}", rng2.gen::<u16>()));
            doc["name"] = name.clone();
            ("$.name".into(), name, false)
        }
        4 => {
            let stars = json!(rng2.gen_range(0..5));
            // JSON.SET sets nothing when the parent is gone (a replaced metadata).
            if let Some(rating) = doc["metadata"].get_mut("rating") {
                rating["stars"] = stars.clone();
            }
            ("$.metadata.rating.stars".into(), stars, false)
        }
        5 => {
            let body = json!(format!("rewritten {}", rng2.gen::<u16>()));
            doc["body"] = body.clone();
            ("$.body".into(), body, false)
        }
        // A path above an indexed one: the whole metadata object.
        6 => {
            let metadata = if rng2.gen_range(0..3) == 0 {
                json!({"source": "moved"})
            } else {
                json!({"category": word(rng2), "rating": {"stars": 1}})
            };
            doc["metadata"] = metadata.clone();
            ("$.metadata".into(), metadata, false)
        }
        // A wildcard that may match an indexed path.
        7 => {
            let category = word(rng2);
            if doc["metadata"].get("category").is_some() {
                doc["metadata"]["category"] = category.clone();
            }
            ("$..category".into(), category, false)
        }
        // Under the vector's path: one component.
        _ => {
            let component = rng2.gen_range(0..JSON_DIM);
            // Never integral (get_json gives those back as integers), and written as
            // get_json writes an f32: its shortest decimal.
            let component_value: f32 = match rng2.gen_range(-1000..1000) {
                0 => 0.375,
                n => n as f32 / 1024.0,
            };
            let value = json!(component_value.to_string().parse::<f64>().unwrap());
            let old = doc["embedding"][component].as_f64().unwrap() as f32;
            let changed = old.to_bits() != (value.as_f64().unwrap() as f32).to_bits();
            doc["embedding"][component] = value.clone();
            (format!("$.embedding[{component}]"), value, changed)
        }
    }
}

/// The KNN queries of `queries()` against the exact (FLAT) oracle: the HNSW side
/// searches with an EF_RUNTIME above the row count, so on these few rows it is
/// exhaustive and any difference is a wrong row, not an approximation.
fn assert_same_as_exact(json: &Collection, exact: &Collection, when: &str) {
    let vectors = random_vectors(15, 6, JSON_DIM);
    for (query, args) in queries() {
        let searched = query.replace(" AS d]", " EF_RUNTIME 1000 AS d]");
        for vector in &vectors {
            let expected = answer(exact, &query, &args, vector);
            let got = answer(json, &searched, &args, vector);
            let keys =
                |hits: &[(String, f32)]| hits.iter().map(|h| h.0.clone()).collect::<Vec<_>>();
            assert_eq!(keys(&got), keys(&expected), "{when}: {query}");
            for ((_, a), (_, b)) in got.iter().zip(&expected) {
                assert!((a - b).abs() <= 1e-5, "{when}: {query}: {a} against {b}");
            }
        }
    }
    assert_eq!(json.len().unwrap(), exact.len().unwrap(), "{when}");
}

/// `set_json` of a path that cannot change the vector keeps the row's HNSW node (the
/// graph does not grow); one under the vector's path adds a node. Either way every
/// query answers as a plain collection rewritten whole, with exact search, before and
/// after a flush and after a replay of the log.
#[test]
fn partial_updates_keep_the_graph_node_and_answer_as_whole_rewrites() {
    let dir = scratch_dir();
    let options = || Options {
        // The writer indexes its own rows, so the node count is exact after each write.
        background_work: false,
        ..Options::default()
    };
    const ROWS: u64 = 200;
    let mut rng = StdRng::seed_from_u64(0x15_0015);
    let mut expected: Vec<Json> = (0..ROWS).map(json_doc).collect();
    {
        let db = Database::open_with(dir.path(), options()).unwrap();
        let json = db
            .create_collection("json", json_schema(VectorIndex::hnsw(16, 200)))
            .unwrap();
        let exact = db
            .create_collection("exact", flat_schema(VectorIndex::flat()))
            .unwrap();
        for (i, doc) in expected.iter().enumerate() {
            json.upsert_json(json_key(i as u64), doc.clone()).unwrap();
            exact.upsert(json_key(i as u64), flat_doc(doc)).unwrap();
        }
        assert_eq!(memtable_graph_nodes(&json), ROWS);
        let round = |json: &Collection, expected: &mut [Json], rng: &mut StdRng| {
            let mut changed = 0;
            for _ in 0..300 {
                let index = rng.gen_range(0..ROWS);
                let doc = &mut expected[index as usize];
                let (path, value, moved) = random_partial_update(rng, doc);
                let set = json.set_json(&json_key(index), &path, value).unwrap();
                let parent = match path.as_str() {
                    "$..category" => doc["metadata"].get("category").is_some(),
                    "$.metadata.rating.stars" => doc["metadata"].get("rating").is_some(),
                    _ => true,
                };
                assert_eq!(set, parent, "{path}");
                exact.upsert(json_key(index), flat_doc(doc)).unwrap();
                changed += u64::from(moved);
            }
            changed
        };
        let changed = round(&json, &mut expected, &mut rng);
        assert!(changed > 10, "{changed} vector updates check little");
        // Old behaviour: one node per update, 300 more.
        assert_eq!(memtable_graph_nodes(&json), ROWS + changed);
        assert_same_as_exact(&json, &exact, "after partial updates");
        db.flush().unwrap();
        assert_same_as_exact(&json, &exact, "after a flush");
        round(&json, &mut expected, &mut rng);
        assert_same_as_exact(&json, &exact, "after a flush and more updates");
        for (i, doc) in expected.iter().enumerate() {
            assert_eq!(
                json.get_json(&json_key(i as u64)).unwrap().as_ref(),
                Some(doc)
            );
        }
    }
    // Unflushed updates come back from the log, sharing nodes as they did.
    let db = Database::open_with(dir.path(), options()).unwrap();
    let json = db.collection("json").unwrap();
    let exact = db.collection("exact").unwrap();
    assert_same_as_exact(&json, &exact, "after replay");
    for (i, doc) in expected.iter().enumerate() {
        assert_eq!(
            json.get_json(&json_key(i as u64)).unwrap().as_ref(),
            Some(doc),
            "{i}"
        );
    }
    db.flush().unwrap();
    db.compact().unwrap();
    assert_same_as_exact(&json, &exact, "after a flush of the replay and compaction");
}
