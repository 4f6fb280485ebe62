//! Readers racing a writer, flushes, compactions and the background thread: every read
//! succeeds, and everything it returns is something that was written, whole.
//!
//! The writer follows a schedule fixed in advance, and document `(key, version)` is a
//! pure function of its two numbers, so a reader can check any document it sees against
//! the set of `(key, version)` pairs the schedule writes. The handles being `Send +
//! Sync` is asserted in round_trip.rs.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata::{Collection, Database, Doc, Durability, Metric, Options, Schema, Search, VectorIndex};
use strata_tests::{oracle_distance, scratch_dir};

const KEYS: u64 = 150;
const STEPS: u64 = 10_000;
const DIM: usize = 8;
const READERS: usize = 3;

fn key(index: u64) -> String {
    format!("k{index}")
}

/// The document written at schedule step `version` under key `index`.
fn doc(index: u64, version: u64) -> Doc {
    let mut rng = StdRng::seed_from_u64(index << 32 | version);
    let vector: Vec<f32> = (0..DIM).map(|_| rng.gen_range(-1.0..1.0)).collect();
    Doc::new()
        .text("title", format!("{index}/{version}"))
        .numeric("version", version as f64)
        .vector("embedding", vector)
}

#[derive(Clone, Debug)]
enum Write {
    Upsert(u64),
    Delete(u64),
    /// Several keys in one `upsert_many`.
    Batch(Vec<u64>),
}

/// The writer's schedule: step `i` is the write of version `i`.
fn schedule() -> Vec<Write> {
    let mut rng = StdRng::seed_from_u64(7);
    (0..STEPS)
        .map(|_| match rng.gen_range(0..10) {
            0..=5 => Write::Upsert(rng.gen_range(0..KEYS)),
            6..=7 => Write::Delete(rng.gen_range(0..KEYS)),
            _ => Write::Batch(
                (0..rng.gen_range(2..6))
                    .map(|_| rng.gen_range(0..KEYS))
                    .collect(),
            ),
        })
        .collect()
}

/// Every `(key, version)` the schedule writes.
fn written(schedule: &[Write]) -> HashSet<(u64, u64)> {
    let mut out = HashSet::new();
    for (version, write) in schedule.iter().enumerate() {
        match write {
            Write::Upsert(index) => {
                out.insert((*index, version as u64));
            }
            Write::Batch(indexes) => out.extend(indexes.iter().map(|i| (*i, version as u64))),
            Write::Delete(_) => {}
        }
    }
    out
}

fn options() -> Options {
    Options {
        durability: Durability::Never,
        memtable_rows_max: 24,
        background_interval: Duration::from_millis(5),
        compaction_trigger: 2,
        ..Options::default()
    }
}

fn schema() -> Schema {
    Schema::builder()
        .text("title")
        .numeric("version")
        .vector("embedding", DIM, Metric::L2, VectorIndex::flat())
        .build()
        .unwrap()
}

/// Checks that `found` under `key_text` is a document the schedule wrote, whole.
fn check_doc(key_text: &str, found: &Doc, written: &HashSet<(u64, u64)>) -> Result<(), String> {
    let index: u64 = key_text
        .strip_prefix('k')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("a key that was never written: {key_text:?}"))?;
    let version = found
        .get_numeric("version")
        .ok_or_else(|| format!("{key_text}: no version in {found:?}"))? as u64;
    if !written.contains(&(index, version)) {
        return Err(format!(
            "{key_text}: version {version} was never written under it"
        ));
    }
    if *found != doc(index, version) {
        return Err(format!("{key_text}: torn document {found:?}"));
    }
    Ok(())
}

/// One reader: searches, gets and lens until `done`, returning the number of searches.
fn reader(
    docs: Collection,
    seed: u64,
    written: Arc<HashSet<(u64, u64)>>,
    done: Arc<AtomicBool>,
) -> Result<usize, String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut searches = 0;
    while !done.load(Ordering::Acquire) {
        let query: Vec<f32> = (0..DIM).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let k = rng.gen_range(1..30);
        let request =
            Search::knn("embedding", &query, k).return_fields(["title", "version", "embedding"]);
        let hits = docs.search(&request).map_err(|e| format!("search: {e}"))?;
        searches += 1;
        if hits.len() > k {
            return Err(format!("{} hits for k = {k}", hits.len()));
        }
        let mut seen = HashSet::new();
        for (position, hit) in hits.iter().enumerate() {
            if !seen.insert(hit.key.as_str()) {
                return Err(format!("{} twice in one result list", hit.key));
            }
            if position > 0 && hits[position - 1].distance > hit.distance {
                return Err(format!("results out of order at {position}: {hits:?}"));
            }
            check_doc(&hit.key, &hit.doc, &written)?;
            let vector = hit.doc.get_vector("embedding").unwrap();
            let truth = oracle_distance(Metric::L2, &query, vector);
            if (hit.distance as f64 - truth).abs() > 1e-4 * truth.max(1.0) {
                return Err(format!(
                    "{}: distance {} but {truth}",
                    hit.key, hit.distance
                ));
            }
        }
        for _ in 0..4 {
            let name = key(rng.gen_range(0..KEYS));
            if let Some(found) = docs.get(&name).map_err(|e| format!("get {name}: {e}"))? {
                check_doc(&name, &found, &written)?;
            }
        }
        let len = docs.len().map_err(|e| format!("len: {e}"))?;
        if len as u64 > KEYS {
            return Err(format!("len {len} with only {KEYS} keys"));
        }
    }
    Ok(searches)
}

#[test]
fn readers_see_only_whole_written_documents_while_writes_flushes_and_compactions_race() {
    let root = scratch_dir();
    let db = Database::open_with(root.path().join("db"), options()).unwrap();
    let docs = db.create_collection("docs", schema()).unwrap();
    let schedule = schedule();
    let written = Arc::new(written(&schedule));
    let done = Arc::new(AtomicBool::new(false));

    let readers: Vec<_> = (0..READERS)
        .map(|n| {
            let (docs, written, done) = (docs.clone(), Arc::clone(&written), Arc::clone(&done));
            thread::spawn(move || reader(docs, n as u64, written, done))
        })
        .collect();
    let writes_done = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (docs, schedule, writes_done) =
            (docs.clone(), schedule.clone(), Arc::clone(&writes_done));
        thread::spawn(move || -> Result<BTreeMap<u64, u64>, String> {
            let mut model = BTreeMap::new();
            for (version, write) in schedule.into_iter().enumerate() {
                let version = version as u64;
                match write {
                    Write::Upsert(index) => {
                        docs.upsert(key(index), doc(index, version))
                            .map_err(|e| e.to_string())?;
                        model.insert(index, version);
                    }
                    Write::Delete(index) => {
                        let existed = docs.delete(&key(index)).map_err(|e| e.to_string())?;
                        if existed != model.remove(&index).is_some() {
                            return Err(format!("delete {index} at step {version}: {existed}"));
                        }
                    }
                    Write::Batch(indexes) => {
                        let batch = indexes.iter().map(|i| (key(*i), doc(*i, version)));
                        docs.upsert_many(batch).map_err(|e| e.to_string())?;
                        model.extend(indexes.iter().map(|i| (*i, version)));
                    }
                }
                writes_done.store(version as usize + 1, Ordering::Release);
            }
            Ok(model)
        })
    };

    // Flush and compact for as long as the writer writes; the background thread
    // compacts too, every 5 ms.
    let mut rounds = 0;
    while !writer.is_finished() {
        db.flush().unwrap();
        db.compact().unwrap();
        rounds += 1;
        thread::sleep(Duration::from_millis(2));
    }
    let model = writer.join().unwrap().unwrap();
    done.store(true, Ordering::Release);
    for (n, handle) in readers.into_iter().enumerate() {
        let searches = handle
            .join()
            .unwrap()
            .unwrap_or_else(|e| panic!("reader {n}: {e}"));
        eprintln!("reader {n}: {searches} searches");
        assert!(searches > 10, "reader {n} ran only {searches} searches");
    }
    eprintln!("{rounds} flush and compact rounds");
    assert!(
        rounds > 5,
        "only {rounds} flush and compact rounds overlapped the writes"
    );
    assert_eq!(writes_done.load(Ordering::Acquire), STEPS as usize);

    // Afterwards the collection holds exactly the writer's last versions.
    assert_eq!(docs.len().unwrap(), model.len());
    for index in 0..KEYS {
        let expected = model.get(&index).map(|version| doc(index, *version));
        assert_eq!(docs.get(&key(index)).unwrap(), expected, "key {index}");
    }
    db.verify().unwrap();
}
