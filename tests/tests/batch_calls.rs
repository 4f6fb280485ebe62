//! Batch and housekeeping calls against an in-memory model: `get_many`,
//! `delete_many` (all or nothing, across reopen), `upsert_many_with_ttl`, `count` and
//! the `scan` cursor over memtable, frozen memtables and segments alike, plus the
//! input each refuses without changing anything.

use std::collections::{BTreeMap, BTreeSet};
use std::thread;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata::{
    Database, Doc, Error, Filter, KeyTtl, Metric, Options, Param, Schema, VectorIndex,
    MAX_BATCH_KEYS, MAX_KEY_BYTES,
};
use strata_tests::scratch_dir;

const KINDS: [&str; 3] = ["book", "film", "game"];

fn schema() -> Schema {
    Schema::builder()
        .tag("kind")
        .numeric("price")
        .vector("v", 2, Metric::L2, VectorIndex::hnsw(8, 50))
        .build()
        .unwrap()
}

fn options() -> Options {
    Options {
        memtable_rows_max: 150,
        background_work: false,
        ..Options::default()
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Row {
    kind: &'static str,
    price: f64,
}

fn doc(row: &Row) -> Doc {
    Doc::new()
        .tag("kind", row.kind)
        .numeric("price", row.price)
        .vector("v", vec![row.price as f32, 1.0])
}

/// Writes random rows over several flushes (so keys live in segments, frozen and
/// active memtables, some rewritten or deleted) and returns the model.
fn populate(collection: &strata::Collection, db: &Database) -> BTreeMap<String, Row> {
    let mut rng = StdRng::seed_from_u64(15);
    let mut model = BTreeMap::new();
    for round in 0..4 {
        let batch: Vec<(String, Row)> = (0..120)
            .map(|_| {
                let prefix = if rng.gen_bool(0.5) { "user:" } else { "order:" };
                let key = format!("{prefix}{}", rng.gen_range(0..300));
                let row = Row {
                    kind: KINDS[rng.gen_range(0..KINDS.len())],
                    price: f64::from(rng.gen_range(0..100)),
                };
                (key, row)
            })
            .collect();
        collection
            .upsert_many(batch.iter().map(|(key, row)| (key.clone(), doc(row))))
            .unwrap();
        for (key, row) in batch {
            model.insert(key, row);
        }
        let doomed: Vec<String> = model.keys().step_by(7 + round).cloned().collect();
        for key in doomed {
            collection.delete(&key).unwrap();
            model.remove(&key);
        }
        if round % 2 == 0 {
            db.flush().unwrap();
        }
    }
    model
}

#[test]
fn get_many_count_and_scan_match_the_model() {
    let dir = scratch_dir();
    let db = Database::open_with(dir.path().join("db"), options()).unwrap();
    let items = db.create_collection("items", schema()).unwrap();
    let model = populate(&items, &db);
    assert!(
        items.info().unwrap().sources.len() > 1,
        "the data must span several sources"
    );

    let mut keys: Vec<String> = model.keys().take(50).cloned().collect();
    keys.push("user:missing".to_string());
    keys.push(keys[0].clone());
    let docs = items.get_many(&keys).unwrap();
    assert_eq!(docs.len(), keys.len());
    for (key, got) in keys.iter().zip(&docs) {
        assert_eq!(got.as_ref(), model.get(key).map(doc).as_ref(), "{key}");
    }

    let filters = [
        (Filter::all(), None, None),
        (Filter::tag("kind", ["book"]), Some("book"), None),
        (Filter::range("price", 10.0..50.0), None, Some((10.0, 50.0))),
        (
            Filter::tag("kind", ["film"]).and(Filter::range("price", 10.0..50.0)),
            Some("film"),
            Some((10.0, 50.0)),
        ),
    ];
    for (filter, kind, range) in filters {
        let matches = |row: &Row| {
            kind.is_none_or(|k| row.kind == k)
                && range.is_none_or(|(low, high)| row.price >= low && row.price < high)
        };
        let expected: BTreeSet<&String> = model
            .iter()
            .filter(|(_, row)| matches(row))
            .map(|(key, _)| key)
            .collect();
        assert_eq!(items.count(&filter).unwrap(), expected.len(), "{filter}");
        for prefix in ["", "user:", "order:1"] {
            let mut cursor = items.scan(prefix, &filter).unwrap();
            let mut seen = Vec::new();
            loop {
                let page = cursor.next_page(17).unwrap();
                if page.is_empty() {
                    break;
                }
                assert!(page.len() <= 17);
                seen.extend(page);
            }
            let unique: BTreeSet<&String> = seen.iter().collect();
            assert_eq!(unique.len(), seen.len(), "a key came twice");
            let wanted: BTreeSet<&String> = expected
                .iter()
                .copied()
                .filter(|key| key.starts_with(prefix))
                .collect();
            assert_eq!(unique, wanted, "{filter} prefix {prefix}");
        }
    }
}

#[test]
fn scan_returns_the_version_it_started_on_while_writers_change_it() {
    let dir = scratch_dir();
    let db = Database::open_with(dir.path().join("db"), options()).unwrap();
    let items = db.create_collection("items", schema()).unwrap();
    let before: BTreeSet<String> = (0..400).map(|i| format!("k:{i:04}")).collect();
    items
        .upsert_many(before.iter().map(|key| {
            (
                key.clone(),
                doc(&Row {
                    kind: "book",
                    price: 1.0,
                }),
            )
        }))
        .unwrap();
    db.flush().unwrap();

    let cursor = items.scan("k:", &Filter::all()).unwrap();
    // While the cursor is open, a writer deletes half the keys, adds others and
    // flushes: none of it shows.
    let writer = {
        let items = items.clone();
        let db = db.clone();
        thread::spawn(move || {
            let doomed: Vec<String> = (0..400).step_by(2).map(|i| format!("k:{i:04}")).collect();
            items.delete_many(&doomed).unwrap();
            items
                .upsert_many((400..600).map(|i| {
                    (
                        format!("k:{i:04}"),
                        doc(&Row {
                            kind: "book",
                            price: 2.0,
                        }),
                    )
                }))
                .unwrap();
            db.flush().unwrap();
            db.compact().unwrap();
        })
    };
    writer.join().unwrap();
    let seen: Vec<String> = cursor.map(Result::unwrap).collect();
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len());
    assert_eq!(unique, before);
    // A new cursor sees the writes.
    assert_eq!(items.scan("k:", &Filter::all()).unwrap().count(), 400);
}

#[test]
fn delete_many_is_all_or_nothing_and_survives_reopen() {
    let dir = scratch_dir();
    let path = dir.path().join("db");
    {
        let db = Database::open_with(&path, options()).unwrap();
        let items = db.create_collection("items", schema()).unwrap();
        let row = Row {
            kind: "game",
            price: 5.0,
        };
        items
            .upsert_many((0..10).map(|i| (format!("k{i}"), doc(&row))))
            .unwrap();
        db.flush().unwrap();
        items.upsert("k10", doc(&row)).unwrap();

        // One bad key refuses the whole call.
        let long = "x".repeat(MAX_KEY_BYTES + 1);
        for bad in [vec!["k1", ""], vec!["k1", long.as_str()]] {
            assert!(matches!(
                items.delete_many(&bad),
                Err(Error::InvalidKey { .. })
            ));
        }
        let too_many: Vec<String> = (0..=MAX_BATCH_KEYS).map(|i| format!("k{i}")).collect();
        assert!(matches!(
            items.delete_many(&too_many),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            items.get_many(&too_many),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            items.get_many(&["k1", ""]),
            Err(Error::InvalidKey { .. })
        ));
        assert_eq!(items.len().unwrap(), 11);

        // A segment key, a memtable key, a repeat and a missing key.
        assert_eq!(items.delete_many(&["k1", "k10", "k1", "nope"]).unwrap(), 2);
        assert_eq!(items.delete_many(&["nope"]).unwrap(), 0);
        assert_eq!(items.len().unwrap(), 9);
    }
    let db = Database::open_with(&path, options()).unwrap();
    let items = db.collection("items").unwrap();
    let docs = items.get_many(&["k0", "k1", "k10", "k2"]).unwrap();
    assert_eq!(
        docs.iter().map(Option::is_some).collect::<Vec<_>>(),
        [true, false, false, true]
    );
    assert_eq!(items.len().unwrap(), 9);
}

#[test]
fn upsert_many_with_ttl_expires_the_batch_and_refuses_bad_documents() {
    let dir = scratch_dir();
    let db = Database::open_with(dir.path().join("db"), options()).unwrap();
    let items = db.create_collection("items", schema()).unwrap();
    let row = Row {
        kind: "film",
        price: 3.0,
    };
    let bad = Doc::new().vector("v", vec![1.0, 2.0, 3.0]);
    assert!(matches!(
        items.upsert_many_with_ttl([("a", doc(&row)), ("b", bad)], Duration::from_secs(60)),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        items.upsert_many_with_ttl([("", doc(&row))], Duration::from_secs(60)),
        Err(Error::InvalidKey { .. })
    ));
    assert!(matches!(
        items.upsert_many_with_ttl([("a", doc(&row))], Duration::MAX),
        Err(Error::InvalidArgument { .. })
    ));
    assert_eq!(items.len().unwrap(), 0);

    items.upsert("forever", doc(&row)).unwrap();
    items
        .upsert_many_with_ttl(
            [("a", doc(&row)), ("b", doc(&row))],
            Duration::from_millis(300),
        )
        .unwrap();
    assert!(
        matches!(items.ttl("a").unwrap(), KeyTtl::ExpiresIn(left) if left <= Duration::from_millis(300))
    );
    assert_eq!(items.count(&Filter::tag("kind", ["film"])).unwrap(), 3);
    thread::sleep(Duration::from_millis(350));
    assert_eq!(items.count(&Filter::tag("kind", ["film"])).unwrap(), 1);
    assert_eq!(
        items.get_many(&["a", "b", "forever"]).unwrap()[2],
        Some(doc(&row))
    );
    assert!(items
        .get_many(&["a", "b"])
        .unwrap()
        .iter()
        .all(Option::is_none));
    assert_eq!(
        items
            .scan("", &Filter::all())
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap(),
        ["forever"]
    );
}

#[test]
fn count_and_scan_refuse_bad_filters_and_pages() {
    let dir = scratch_dir();
    let db = Database::open_with(dir.path().join("db"), options()).unwrap();
    let items = db.create_collection("items", schema()).unwrap();
    assert!(matches!(
        items.count(&Filter::tag("nope", ["x"])),
        Err(Error::UnknownField { .. })
    ));
    assert!(matches!(
        items.scan("", &Filter::tag("price", ["x"])),
        Err(Error::QueryFieldType { .. })
    ));
    let mut deep = Filter::tag("kind", ["a"]);
    for _ in 0..300 {
        deep = deep.not().and(Filter::all());
    }
    assert!(matches!(items.count(&deep), Err(Error::QueryLimit { .. })));
    let mut cursor = items.scan("", &Filter::all()).unwrap();
    assert!(matches!(
        cursor.next_page(0),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn float32_blob_params_search_like_vectors() {
    let dir = scratch_dir();
    let db = Database::open_with(dir.path().join("db"), options()).unwrap();
    let items = db.create_collection("items", schema()).unwrap();
    for i in 0..20 {
        let row = Row {
            kind: "book",
            price: f64::from(i),
        };
        items.upsert(format!("k{i}"), doc(&row)).unwrap();
    }
    let query = [7.2f32, 1.0];
    let blob: Vec<u8> = query.iter().flat_map(|x| x.to_le_bytes()).collect();
    let by_blob = items
        .query("*=>[KNN 3 @v $q]")
        .param("q", Param::from_f32_le_bytes(&blob).unwrap())
        .run()
        .unwrap();
    let by_vector = items
        .query("*=>[KNN 3 @v $q]")
        .param("q", &query[..])
        .run()
        .unwrap();
    assert_eq!(by_blob, by_vector);
    assert_eq!(by_blob[0].key, "k7");
    for bad in [&blob[..0], &blob[..7]] {
        assert!(matches!(
            Param::from_f32_le_bytes(bad),
            Err(Error::InvalidArgument { .. })
        ));
    }
    // The right length for another dimension is refused when the query runs.
    let three: Vec<u8> = [1.0f32, 2.0, 3.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    assert!(matches!(
        items
            .query("*=>[KNN 3 @v $q]")
            .param("q", Param::from_f32_le_bytes(&three).unwrap())
            .run(),
        Err(Error::DimensionMismatch { .. })
    ));
}
