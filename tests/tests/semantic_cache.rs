//! `strata::cache::SemanticCache` with RedisVL's semantics: a hit exactly when the
//! nearest stored prompt lies within the distance threshold, TTL refreshed by a hit,
//! filters on declared fields, drop / clear / delete, entries surviving a reopen, and
//! bad input refused without a change. Lookups over sealed segments walk the graph.

use std::thread;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata::cache::{CacheOptions, CheckOptions, SemanticCache, StoreOptions};
use strata::{Database, Doc, Error, Filter, KeyTtl, Options, Strategy, VectorIndex};
use strata_tests::scratch_dir;

/// A unit vector in the plane at `1 - cos(angle) = distance` from `[1, 0]`.
fn at_distance(distance: f32) -> [f32; 2] {
    let cos = 1.0 - distance;
    [cos, (1.0 - cos * cos).sqrt()]
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

#[test]
fn hits_within_the_threshold_and_misses_beyond_it() {
    let dir = scratch_dir();
    let db = Database::open(dir.path().join("db")).unwrap();
    let cache = SemanticCache::open(&db, "llmcache", CacheOptions::new(2)).unwrap();
    let key = cache
        .store(
            "capital of France?",
            &[1.0, 0.0],
            "Paris",
            Some(r#"{"model":"m1"}"#),
        )
        .unwrap();

    let itself = cache.check(&[1.0, 0.0], None).unwrap();
    assert_eq!(itself.len(), 1);
    assert_eq!(itself[0].key, key);
    assert_eq!(itself[0].prompt, "capital of France?");
    assert_eq!(itself[0].response, "Paris");
    assert_eq!(itself[0].metadata.as_deref(), Some(r#"{"model":"m1"}"#));
    assert!(itself[0].distance.abs() < 1e-6);
    assert!(itself[0].inserted_at > 1.6e9 && itself[0].inserted_at == itself[0].updated_at);

    let near = cache.check(&at_distance(0.09), None).unwrap();
    assert_eq!(near.len(), 1);
    assert!((near[0].distance - 0.09).abs() < 1e-4);
    assert!(cache.check(&at_distance(0.11), None).unwrap().is_empty());

    // A threshold for one lookup, and one for the handle.
    let wider = CheckOptions {
        distance_threshold: Some(0.2),
        ..CheckOptions::default()
    };
    assert_eq!(
        cache.check_with(&at_distance(0.11), wider).unwrap().len(),
        1
    );
    let mut cache = cache;
    cache.set_threshold(0.05).unwrap();
    assert!(cache.check(&at_distance(0.09), None).unwrap().is_empty());
    assert!(matches!(
        cache.set_threshold(2.5),
        Err(Error::InvalidArgument { .. })
    ));
    assert_eq!(cache.distance_threshold(), 0.05);

    // Storing the same prompt again replaces its entry.
    let again = cache
        .store("capital of France?", &[1.0, 0.0], "Paris, France", None)
        .unwrap();
    assert_eq!(again, key);
    assert_eq!(cache.len().unwrap(), 1);
    let hit = &cache.check(&[1.0, 0.0], None).unwrap()[0];
    assert_eq!(hit.response, "Paris, France");
    assert_eq!(hit.metadata, None);
}

/// Many entries over sealed segments, in clusters of near-duplicates: every stored
/// prompt hits itself; paraphrases (perturbed vectors) get the entries within the
/// threshold, nearest first, that an exact scan finds (the graph search may miss a
/// rare one, never returns one outside the threshold); unrelated vectors miss.
#[test]
fn lookups_match_an_exact_oracle_over_segments() {
    const DIM: usize = 128;
    const CENTRES: usize = 1_000;
    let dir = scratch_dir();
    let options = Options {
        memtable_rows_max: 2_100,
        background_work: false,
        ..Options::default()
    };
    let db = Database::open_with(dir.path().join("db"), options).unwrap();
    let cache = SemanticCache::open(&db, "llmcache", CacheOptions::new(DIM)).unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let random = |rng: &mut StdRng| unit((0..DIM).map(|_| rng.gen_range(-1.0..1.0)).collect());
    let perturb = |rng: &mut StdRng, v: &[f32], scale: f32| {
        unit(v.iter().map(|x| x + rng.gen_range(-scale..scale)).collect())
    };
    let mut stored: Vec<Vec<f32>> = Vec::new();
    for _ in 0..CENTRES {
        let centre = random(&mut rng);
        for scale in [0.001, 0.01, 0.02, 0.04] {
            stored.push(perturb(&mut rng, &centre, scale));
        }
    }
    for (i, vector) in stored.iter().enumerate() {
        cache
            .store(&format!("prompt {i}"), vector, &format!("answer {i}"), None)
            .unwrap();
    }
    db.flush().unwrap();

    let oracle = |query: &[f32]| -> Vec<(String, f32)> {
        let mut within: Vec<(String, f32)> = stored
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let cos = v.iter().zip(query).map(|(a, b)| a * b).sum::<f32>()
                    / query.iter().map(|x| x * x).sum::<f32>().sqrt();
                (format!("prompt {i}"), 1.0 - cos)
            })
            .filter(|(_, d)| *d <= 0.1)
            .collect();
        within.sort_by(|a, b| a.1.total_cmp(&b.1));
        within
    };

    for i in (0..stored.len()).step_by(7) {
        let hits = cache.check(&stored[i], None).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].prompt, format!("prompt {i}"));
        assert_eq!(hits[0].response, format!("answer {i}"));
    }

    let five = CheckOptions {
        num_results: 5,
        ..CheckOptions::default()
    };
    let (mut expected_total, mut found_total) = (0, 0);
    for centre in (0..CENTRES).step_by(5) {
        let query = perturb(&mut rng, &stored[centre * 4], 0.01);
        let expected = oracle(&query);
        assert!(expected.len() >= 3, "the clusters are tight");
        let hits = cache.check_with(&query, five.clone()).unwrap();
        assert!(hits.windows(2).all(|w| w[0].distance <= w[1].distance));
        for hit in &hits {
            let (_, distance) = expected
                .iter()
                .find(|(prompt, _)| *prompt == hit.prompt)
                .unwrap_or_else(|| panic!("{} is not within the threshold", hit.prompt));
            assert!((distance - hit.distance).abs() < 1e-4);
        }
        expected_total += expected.len().min(5);
        found_total += hits.len();
    }
    assert!(
        found_total * 100 >= expected_total * 98,
        "found {found_total} of {expected_total}"
    );
    for _ in 0..50 {
        let query = random(&mut rng);
        assert_eq!(
            cache.check(&query, None).unwrap().len(),
            oracle(&query).len().min(1)
        );
    }

    // Over sealed segments the lookup walks the HNSW graph.
    let explain = cache.explain(&stored[0], &CheckOptions::default()).unwrap();
    let segments: Vec<_> = explain
        .sources
        .iter()
        .filter(|source| source.source.starts_with("segment"))
        .collect();
    assert!(!segments.is_empty());
    assert!(
        segments
            .iter()
            .all(|source| source.strategy == Strategy::GraphTraversal),
        "{explain}"
    );
}

#[test]
fn a_hit_refreshes_the_ttl_and_an_idle_entry_expires() {
    let dir = scratch_dir();
    let db = Database::open(dir.path().join("db")).unwrap();
    let ttl = Duration::from_millis(1_500);
    let cache = SemanticCache::open(&db, "llmcache", CacheOptions::new(2).ttl(ttl)).unwrap();
    let hot = cache.store("hot", &[1.0, 0.0], "h", None).unwrap();
    let cold = cache.store("cold", &[0.0, 1.0], "c", None).unwrap();
    let entries = cache.collection();
    assert!(matches!(entries.ttl(&hot).unwrap(), KeyTtl::ExpiresIn(left) if left <= ttl));

    // Hit `hot` at 600 ms: its TTL starts again; `cold` keeps its deadline. (The
    // margins around each deadline are 300 ms or more, for a loaded machine.)
    thread::sleep(Duration::from_millis(600));
    assert_eq!(cache.check(&[1.0, 0.0], None).unwrap().len(), 1);
    assert!(
        matches!(entries.ttl(&hot).unwrap(), KeyTtl::ExpiresIn(left) if left > Duration::from_millis(1_000))
    );
    // At 1.8 s, past the first deadline: `cold` expired, `hot` lives.
    thread::sleep(Duration::from_millis(1_200));
    assert!(cache.check(&[0.0, 1.0], None).unwrap().is_empty());
    assert_eq!(entries.ttl(&cold).unwrap(), KeyTtl::Missing);
    assert_ne!(entries.ttl(&hot).unwrap(), KeyTtl::Missing);
    // Idle for longer than the TTL, `hot` expires too.
    thread::sleep(Duration::from_millis(1_600));
    assert!(cache.check(&[1.0, 0.0], None).unwrap().is_empty());
    assert!(cache.is_empty().unwrap());

    // A TTL of its own for one entry; without a cache TTL nothing expires.
    let mut forever = SemanticCache::open(&db, "forever", CacheOptions::new(2)).unwrap();
    let short = StoreOptions {
        ttl: Some(Duration::from_millis(100)),
        ..StoreOptions::default()
    };
    forever
        .store_with("brief", &[1.0, 0.0], "b", short)
        .unwrap();
    forever.store("kept", &[0.0, 1.0], "k", None).unwrap();
    thread::sleep(Duration::from_millis(150));
    assert!(forever.check(&[1.0, 0.0], None).unwrap().is_empty());
    assert_eq!(forever.check(&[0.0, 1.0], None).unwrap()[0].response, "k");
    forever.set_ttl(Some(Duration::from_secs(60)));
    assert_eq!(forever.ttl(), Some(Duration::from_secs(60)));
}

#[test]
fn filters_separate_entries_of_the_same_prompt() {
    let dir = scratch_dir();
    let db = Database::open(dir.path().join("db")).unwrap();
    let cache = SemanticCache::open(
        &db,
        "llmcache",
        CacheOptions::new(2).tag("user").numeric("version"),
    )
    .unwrap();
    let store = |user: &str, version: f64, response: &str| {
        cache
            .store_with(
                "what is my name?",
                &[1.0, 0.0],
                response,
                StoreOptions {
                    filters: Doc::new().tag("user", user).numeric("version", version),
                    ..StoreOptions::default()
                },
            )
            .unwrap()
    };
    let alice = store("alice", 1.0, "Alice");
    let bob = store("bob", 2.0, "Bob");
    assert_ne!(alice, bob);
    assert_eq!(cache.len().unwrap(), 2);

    let only = |filter: Filter| {
        cache
            .check(&[1.0, 0.0], Some(filter))
            .unwrap()
            .into_iter()
            .map(|hit| (hit.response, hit.filters))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        only(Filter::tag("user", ["bob"])),
        [(
            "Bob".to_string(),
            Doc::new().tag("user", "bob").numeric("version", 2.0)
        )]
    );
    assert_eq!(only(Filter::range("version", ..1.5))[0].0, "Alice");
    assert!(only(Filter::tag("user", ["carol"])).is_empty());

    // Undeclared fields are refused, storing nothing.
    assert!(matches!(
        cache.store_with(
            "x",
            &[1.0, 0.0],
            "y",
            StoreOptions {
                filters: Doc::new().tag("team", "a"),
                ..StoreOptions::default()
            }
        ),
        Err(Error::UnknownField { .. })
    ));
    assert!(matches!(
        cache.check(&[1.0, 0.0], Some(Filter::tag("team", ["a"]))),
        Err(Error::UnknownField { .. })
    ));
    assert_eq!(cache.len().unwrap(), 2);

    // drop removes the named entries, clear all of them; the cache stays usable.
    assert_eq!(cache.drop(&[alice.as_str(), "llmcache:nope"]).unwrap(), 1);
    assert_eq!(only(Filter::all()).len(), 1);
    store("carol", 3.0, "Carol");
    assert_eq!(cache.clear().unwrap(), 2);
    assert!(cache.is_empty().unwrap());
    store("dave", 4.0, "Dave");
    assert_eq!(cache.check(&[1.0, 0.0], None).unwrap()[0].response, "Dave");
    cache.clone().delete(&db).unwrap();
    assert!(db.list_collections().is_empty());
}

#[test]
fn entries_survive_reopen_and_bad_input_changes_nothing() {
    let dir = scratch_dir();
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).unwrap();
        let cache = SemanticCache::open(&db, "llmcache", CacheOptions::new(3)).unwrap();
        cache.store("q", &[0.0, 0.0, 1.0], "a", None).unwrap();

        assert!(matches!(
            cache.store("bad", &[1.0, 0.0], "x", None),
            Err(Error::DimensionMismatch { .. })
        ));
        assert!(matches!(
            cache.store("bad", &[f32::NAN, 0.0, 0.0], "x", None),
            Err(Error::NonFinite { .. })
        ));
        assert!(matches!(
            cache.check(&[1.0, 0.0], None),
            Err(Error::DimensionMismatch { .. })
        ));
        let none = CheckOptions {
            num_results: 0,
            ..CheckOptions::default()
        };
        assert!(matches!(
            cache.check_with(&[0.0, 0.0, 1.0], none),
            Err(Error::InvalidArgument { .. })
        ));
        assert_eq!(cache.len().unwrap(), 1);

        // Options that do not fit the existing collection, or reserved fields.
        assert!(matches!(
            SemanticCache::open(&db, "llmcache", CacheOptions::new(4)),
            Err(Error::InvalidSchema { .. })
        ));
        assert!(matches!(
            SemanticCache::open(
                &db,
                "llmcache",
                CacheOptions::new(3).index(VectorIndex::flat())
            ),
            Err(Error::InvalidSchema { .. })
        ));
        assert!(matches!(
            SemanticCache::open(&db, "other", CacheOptions::new(3).tag("prompt")),
            Err(Error::InvalidSchema { .. })
        ));
        assert!(matches!(
            SemanticCache::open(&db, "other", CacheOptions::new(3).distance_threshold(-0.1)),
            Err(Error::InvalidArgument { .. })
        ));
        assert_eq!(db.list_collections(), ["llmcache"]);
    }
    let db = Database::open(&path).unwrap();
    let cache = SemanticCache::open(&db, "llmcache", CacheOptions::new(3)).unwrap();
    assert_eq!(
        cache.check(&[0.0, 0.1, 1.0], None).unwrap()[0].response,
        "a"
    );
}
