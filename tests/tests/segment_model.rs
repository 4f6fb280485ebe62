//! Random operations, with flushes, compactions and reopens in between, against an
//! in-memory model: `get`, `len` and exact search always agree with it.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata::{Database, Doc, KeyTtl, Metric, Options, Search};
use strata_tests::{full_schema, oracle_distance, DIM};

fn options() -> Options {
    Options {
        memtable_rows_max: 40,
        // Compaction is driven by the test (compact()) and by the background thread.
        background_interval: Duration::from_millis(5),
        compaction_trigger: 2,
        ..Options::default()
    }
}

fn random_doc(rng: &mut StdRng) -> Doc {
    let vector: Vec<f32> = (0..DIM).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let mut doc = Doc::new().numeric("rank", rng.gen_range(0..1000) as f64);
    if rng.gen_bool(0.9) {
        doc = doc.vector("embedding", vector);
    }
    if rng.gen_bool(0.5) {
        doc = doc.text("title", format!("title {}", rng.gen::<u32>()));
    }
    doc
}

#[derive(Clone, Debug, PartialEq)]
struct Entry {
    doc: Doc,
    expires: bool,
}

fn check(db: &Database, model: &BTreeMap<String, Entry>, rng: &mut StdRng, step: usize) {
    let docs = db.collection("docs").unwrap();
    assert_eq!(docs.len().unwrap(), model.len(), "len at step {step}");
    for index in 0..60 {
        let key = format!("k{index}");
        let got = docs.get(&key).unwrap();
        assert_eq!(
            got.as_ref(),
            model.get(&key).map(|e| &e.doc),
            "get {key} at step {step}"
        );
        let ttl = docs.ttl(&key).unwrap();
        match model.get(&key) {
            None => assert_eq!(ttl, KeyTtl::Missing, "{key} step {step}"),
            Some(entry) if entry.expires => assert!(
                matches!(ttl, KeyTtl::ExpiresIn(_)),
                "{key} step {step}: {ttl:?}"
            ),
            Some(_) => assert_eq!(ttl, KeyTtl::Persistent, "{key} step {step}"),
        }
    }
    let query: Vec<f32> = (0..DIM).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let hits = docs
        .search(&Search::knn("embedding", &query, 5).no_content())
        .unwrap();
    let mut truth: Vec<(f64, &String)> = model
        .iter()
        .filter_map(|(key, entry)| {
            Some((
                oracle_distance(Metric::L2, &query, entry.doc.get_vector("embedding")?),
                key,
            ))
        })
        .collect();
    truth.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(hits.len(), truth.len().min(5), "hit count at step {step}");
    for (hit, (distance, _)) in hits.iter().zip(&truth) {
        assert!(
            (hit.distance as f64 - distance).abs() < 1e-4,
            "step {step}: {} vs {distance}",
            hit.distance
        );
    }
}

#[test]
fn random_operations_agree_with_a_model_across_flushes_compactions_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(2024);
    let mut model: BTreeMap<String, Entry> = BTreeMap::new();
    let mut db = Database::open_with(dir.path(), options()).unwrap();
    db.create_collection("docs", full_schema(Metric::L2))
        .unwrap();
    for step in 0..1_500 {
        let docs = db.collection("docs").unwrap();
        let key = format!("k{}", rng.gen_range(0..60));
        match rng.gen_range(0..100) {
            0..=44 => {
                let doc = random_doc(&mut rng);
                docs.upsert(key.clone(), doc.clone()).unwrap();
                model.insert(
                    key,
                    Entry {
                        doc,
                        expires: false,
                    },
                );
            }
            45..=54 => {
                let batch: Vec<(String, Doc)> = (0..rng.gen_range(1..8))
                    .map(|_| (format!("k{}", rng.gen_range(0..60)), random_doc(&mut rng)))
                    .collect();
                docs.upsert_many(batch.clone()).unwrap();
                for (key, doc) in batch {
                    model.insert(
                        key,
                        Entry {
                            doc,
                            expires: false,
                        },
                    );
                }
            }
            55..=69 => {
                assert_eq!(
                    docs.delete(&key).unwrap(),
                    model.remove(&key).is_some(),
                    "delete {key} at step {step}"
                );
            }
            70..=77 => {
                let changed = docs.expire(&key, Duration::from_secs(3600)).unwrap();
                assert_eq!(changed, model.contains_key(&key));
                if let Some(entry) = model.get_mut(&key) {
                    entry.expires = true;
                }
            }
            78..=82 => {
                let had = model.get(&key).is_some_and(|e| e.expires);
                assert_eq!(
                    docs.persist(&key).unwrap(),
                    had,
                    "persist {key} at step {step}"
                );
                if let Some(entry) = model.get_mut(&key) {
                    entry.expires = false;
                }
            }
            83..=86 => {
                // Expired at once: gone for readers, like a delete.
                let existed = docs.expire(&key, Duration::ZERO).unwrap();
                assert_eq!(existed, model.remove(&key).is_some());
            }
            87..=90 => db.flush().unwrap(),
            91..=93 => db.compact().unwrap(),
            94..=96 => {
                drop(docs);
                drop(db);
                db = Database::open_with(dir.path(), options()).unwrap();
            }
            _ => check(&db, &model, &mut rng, step),
        }
    }
    check(&db, &model, &mut rng, usize::MAX);
    db.compact().unwrap();
    check(&db, &model, &mut rng, usize::MAX);
    db.verify().expect("a healthy database verifies");
}
