//! `strata::recommend::Sessions`: capped, expiring sessions of recent items (the
//! LPUSH / LTRIM / EXPIRE pattern), recommendations equal to an exact KNN around the
//! mean of the viewed items that leaves them out, nothing lost when threads record at
//! once, and bad input refused without a change.

use std::collections::BTreeSet;
use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata::recommend::{SessionOptions, Sessions};
use strata::{Collection, Database, Doc, Error, Filter, Metric, Schema, VectorIndex};
use strata_tests::{oracle_distance, scratch_dir};

const DIM: usize = 8;

/// A product: key, vector, category.
type Row = (String, Vec<f32>, &'static str);

fn products(db: &Database, index: VectorIndex) -> (Collection, Vec<Row>) {
    let products = db
        .create_collection(
            "products",
            Schema::builder()
                .tag("category")
                .vector("embedding", DIM, Metric::Cosine, index)
                .build()
                .unwrap(),
        )
        .unwrap();
    let mut rng = StdRng::seed_from_u64(3);
    let rows: Vec<Row> = (0..300)
        .map(|i| {
            let vector: Vec<f32> = (0..DIM).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let category = if i % 3 == 0 { "books" } else { "games" };
            (format!("product:{i}"), vector, category)
        })
        .collect();
    products
        .upsert_many(rows.iter().map(|(key, vector, category)| {
            (
                key.clone(),
                Doc::new()
                    .tag("category", *category)
                    .vector("embedding", vector.clone()),
            )
        }))
        .unwrap();
    (products, rows)
}

#[test]
fn sessions_keep_the_newest_items_and_expire() {
    let dir = scratch_dir();
    let db = Database::open(dir.path().join("db")).unwrap();
    let (products, _) = products(&db, VectorIndex::flat());
    let options = SessionOptions {
        max_items: 3,
        ttl: Some(Duration::from_millis(800)),
    };
    let sessions = Sessions::open(&db, "sessions", &products, "embedding", options).unwrap();
    assert!(sessions.recent("alice").unwrap().is_empty());
    for item in [
        "product:1",
        "product:2",
        "product:3",
        "product:4",
        "product:2",
    ] {
        sessions.record("alice", item).unwrap();
    }
    // Newest first, trimmed to 3, a repeat view pushed again (LPUSH + LTRIM).
    assert_eq!(
        sessions.recent("alice").unwrap(),
        ["product:2", "product:4", "product:3"]
    );
    // Items may hold any character, the separator included.
    sessions.record("bob", "odd:key,with\nnewline:1:").unwrap();
    assert_eq!(
        sessions.recent("bob").unwrap(),
        ["odd:key,with\nnewline:1:"]
    );

    // Each record restarts the TTL (EXPIRE): alice records at 500 ms and outlives
    // bob's deadline.
    thread::sleep(Duration::from_millis(500));
    sessions.record("alice", "product:5").unwrap();
    thread::sleep(Duration::from_millis(500));
    assert!(sessions.recent("bob").unwrap().is_empty());
    assert_eq!(sessions.recent("alice").unwrap()[0], "product:5");
    thread::sleep(Duration::from_millis(900));
    assert!(sessions.recent("alice").unwrap().is_empty());
    assert!(sessions.recommend("alice", 5, None).unwrap().is_empty());

    assert!(matches!(
        sessions.record("", "product:1"),
        Err(Error::InvalidKey { .. })
    ));
    assert!(matches!(
        sessions.record("carol", ""),
        Err(Error::InvalidKey { .. })
    ));
    assert!(matches!(
        sessions.record("carol", &"x".repeat(2_000)),
        Err(Error::InvalidKey { .. })
    ));
    assert!(sessions.recent("carol").unwrap().is_empty());
}

#[test]
fn recommendations_are_the_exact_neighbours_of_the_mean_minus_the_seen_items() {
    let dir = scratch_dir();
    let db = Database::open(dir.path().join("db")).unwrap();
    let (products, rows) = products(&db, VectorIndex::flat());
    let sessions = Sessions::open(
        &db,
        "sessions",
        &products,
        "embedding",
        SessionOptions::default(),
    )
    .unwrap();
    let viewed = [
        "product:10",
        "product:11",
        "product:42",
        "product:10",
        "gone",
    ];
    for item in viewed {
        sessions.record("alice", item).unwrap();
    }
    products.delete("product:42").unwrap();

    // The mean of the vectors of the viewed items that still exist (a repeat counts
    // twice, as it is twice in the list).
    let vector_of = |key: &str| rows.iter().find(|r| r.0 == key).map(|r| r.1.clone());
    let present: Vec<Vec<f32>> = ["product:10", "product:11", "product:10"]
        .iter()
        .filter_map(|k| vector_of(k))
        .collect();
    let mean: Vec<f32> = (0..DIM)
        .map(|d| present.iter().map(|v| v[d]).sum::<f32>() / present.len() as f32)
        .collect();
    let seen: BTreeSet<&str> = viewed.into_iter().collect();
    let oracle = |category: Option<&str>, k: usize| -> Vec<String> {
        let mut candidates: Vec<(f64, &String)> = rows
            .iter()
            .filter(|(key, _, c)| {
                !seen.contains(key.as_str())
                    && key != "product:42"
                    && category.is_none_or(|wanted| *c == wanted)
            })
            .map(|(key, vector, _)| (oracle_distance(Metric::Cosine, &mean, vector), key))
            .collect();
        candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
        candidates
            .into_iter()
            .take(k)
            .map(|(_, key)| key.clone())
            .collect()
    };

    let keys = |hits: Vec<strata::Hit>| hits.into_iter().map(|h| h.key).collect::<Vec<_>>();
    assert_eq!(
        keys(sessions.recommend("alice", 10, None).unwrap()),
        oracle(None, 10)
    );
    assert_eq!(
        keys(
            sessions
                .recommend("alice", 5, Some(Filter::tag("category", ["books"])))
                .unwrap()
        ),
        oracle(Some("books"), 5)
    );
    assert!(sessions.recommend("nobody", 5, None).unwrap().is_empty());
    assert!(sessions.recommend("alice", 0, None).unwrap().is_empty());
    assert!(matches!(
        sessions.recommend("alice", 5, Some(Filter::tag("nope", ["x"]))),
        Err(Error::UnknownField { .. })
    ));
}

#[test]
fn concurrent_records_lose_nothing() {
    const THREADS: usize = 8;
    const EACH: usize = 40;
    let dir = scratch_dir();
    let db = Database::open(dir.path().join("db")).unwrap();
    let (products, _) = products(&db, VectorIndex::hnsw(8, 50));
    let options = SessionOptions {
        max_items: THREADS * EACH,
        ttl: None,
    };
    // Two handles over the same sessions: they share the record locks.
    let first = Sessions::open(&db, "sessions", &products, "embedding", options).unwrap();
    let second = Sessions::open(&db, "sessions", &products, "embedding", options).unwrap();
    let barrier = Barrier::new(THREADS);
    thread::scope(|scope| {
        for thread in 0..THREADS {
            let sessions = if thread % 2 == 0 { &first } else { &second };
            let barrier = &barrier;
            scope.spawn(move || {
                barrier.wait();
                for i in 0..EACH {
                    sessions
                        .record("alice", &format!("product:{}", thread * EACH + i))
                        .unwrap();
                }
            });
        }
    });
    let recent = first.recent("alice").unwrap();
    let unique: BTreeSet<&String> = recent.iter().collect();
    assert_eq!(recent.len(), THREADS * EACH, "records were lost");
    assert_eq!(unique.len(), THREADS * EACH);
    // Each thread's items stay in the order it recorded them (newest first).
    for thread in 0..THREADS {
        let positions: Vec<usize> = (0..EACH)
            .map(|i| {
                let item = format!("product:{}", thread * EACH + i);
                recent.iter().position(|r| *r == item).unwrap()
            })
            .collect();
        assert!(positions.windows(2).all(|w| w[0] > w[1]));
    }
}

#[test]
fn sessions_survive_reopen_and_bad_options_are_refused() {
    let dir = scratch_dir();
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).unwrap();
        let (products, _) = products(&db, VectorIndex::flat());
        assert!(matches!(
            Sessions::open(&db, "s", &products, "category", SessionOptions::default()),
            Err(Error::QueryFieldType { .. })
        ));
        assert!(matches!(
            Sessions::open(&db, "s", &products, "nope", SessionOptions::default()),
            Err(Error::UnknownField { .. })
        ));
        let zero = SessionOptions {
            max_items: 0,
            ..SessionOptions::default()
        };
        assert!(matches!(
            Sessions::open(&db, "s", &products, "embedding", zero),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            Sessions::open(
                &db,
                "products",
                &products,
                "embedding",
                SessionOptions::default()
            ),
            Err(Error::InvalidSchema { .. })
        ));
        assert_eq!(db.list_collections(), ["products"]);
        let sessions = Sessions::open(
            &db,
            "sessions",
            &products,
            "embedding",
            SessionOptions::default(),
        )
        .unwrap();
        sessions.record("alice", "product:7").unwrap();
        sessions.record("bob", "product:8").unwrap();
        assert!(sessions.forget("bob").unwrap());
    }
    let db = Database::open(&path).unwrap();
    let products = db.collection("products").unwrap();
    let sessions = Sessions::open(
        &db,
        "sessions",
        &products,
        "embedding",
        SessionOptions::default(),
    )
    .unwrap();
    assert_eq!(sessions.recent("alice").unwrap(), ["product:7"]);
    assert!(sessions.recent("bob").unwrap().is_empty());
    assert_eq!(sessions.recommend("alice", 3, None).unwrap().len(), 3);
}
