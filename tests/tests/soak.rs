//! Soak: a long mixed load checked continuously against an exact model
//! (`strata_tests::soak`), with time in it.
//!
//! Three collections: `docs` (every field kind, exact FLAT L2), `graph` (HNSW COSINE)
//! and `json` (JSON documents, FLAT COSINE). One thread drives upserts, batches,
//! deletes, TTLs that expire during the run (relative and absolute, set on upsert and
//! later), `PERSIST`, partial JSON updates (`set_json`), explicit flushes and
//! compactions, and reads; the engine's background threads flush, index, expire and
//! merge meanwhile (tiny memtables, merges of three). Every write's answer is checked
//! against the model; so is every `get`, `ttl`, `len`, `count`, text query and exact
//! k-NN (plain and pre-filtered); HNSW answers must hold only live keys at their true
//! distances, with recall measured against the exact answer. A reader thread
//! searches concurrently and checks what holds whatever the writer does. Full sweeps
//! re-read every key. Each epoch ends by closing the database and reopening it, and
//! every third by handing the database to a child process that runs the crash
//! torture workload (`strata_tests::torture`) until it is SIGKILLed: the parent
//! replays what the child acknowledged into the model and checks the recovered
//! database with `verify` and the model.
//!
//! CI runs it for 15 seconds. The long run (also in tests/README.md):
//!
//! ```text
//! STRATA_SOAK_SECS=1800 nice -n 10 taskset -c 0 cargo test --release -p strata-tests --test soak -- --nocapture
//! ```
//!
//! `STRATA_SOAK_SEED=<n>` picks another workload; the seed is printed at the start and
//! in every failure (thread and clock timing still vary between runs).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value as Json};
use strata::{Collection, Database, Doc, Durability, Error, Metric, Options, VectorIndex};
use strata_tests::json::{flat_doc, json_doc, json_schema, JSON_DIM};
use strata_tests::soak::{
    self, deadline_after, now_ms, timed, Knn, Life, Pred, Table, TortureChild, Window,
};
use strata_tests::torture;
use strata_tests::{full_schema, hnsw_schema, scratch_dir, DIM};

/// `docs` keys `t0..`; the first `torture::KEYS` are also the torture child's, so
/// they only ever get the torture's far-future TTL.
const DOC_KEYS: u64 = 320;
/// `graph` keys `g0..`.
const GRAPH_KEYS: u64 = 300;
/// `json` keys `item:0..`.
const JSON_KEYS: u64 = 120;
const K: usize = 10;
/// Operations between two full sweeps.
const SWEEP_EVERY: u64 = 300;
/// Operations per epoch (between reopens).
const EPOCH_OPS: std::ops::RangeInclusive<u64> = 1_500..=4_000;
/// ...or this long, whichever comes first.
const EPOCH_TIME: Duration = Duration::from_secs(3);
/// Every `KILL_EVERY`-th epoch (the first one included) ends with a kill cycle.
const KILL_EVERY: u64 = 3;
/// `EF_RUNTIME` of the HNSW checks, and the recall a sweep's queries must reach.
const GRAPH_EF: usize = 64;
const MIN_SWEEP_RECALL: f64 = 0.9;

struct Handles {
    db: Database,
    docs: Collection,
    graph: Collection,
    json: Collection,
}

impl Handles {
    fn open(path: &Path, memtable_rows_max: usize) -> Result<Handles, String> {
        let options = Options {
            durability: Durability::EverySec,
            memtable_rows_max,
            background_interval: Duration::from_millis(5),
            compaction_trigger: 3,
            ..Options::default()
        };
        let db = Database::open_with(path, options).map_err(|e| format!("open: {e}"))?;
        if let Some(cut) = &db.recovery_report().cut {
            return Err(format!("opening cut the WAL: {cut:?}"));
        }
        let get = |name| {
            db.collection(name)
                .map_err(|e| format!("collection {name}: {e}"))
        };
        Ok(Handles {
            docs: get("docs")?,
            graph: get("graph")?,
            json: get("json")?,
            db,
        })
    }
}

#[derive(Default)]
struct Model {
    docs: Table<Doc>,
    graph: Table<Doc>,
    json: Table<Json>,
}

struct Soak {
    seed: u64,
    rng: StdRng,
    model: Model,
    op: u64,
    counts: BTreeMap<&'static str, u64>,
    /// Graph recall over the run: (true neighbours found, asked for).
    recall: (usize, usize),
    worst_sweep_recall: f64,
}

fn engine(what: &str) -> impl FnOnce(Error) -> String + '_ {
    move |error| format!("{what}: {error}")
}

fn doc_key(index: u64) -> String {
    format!("t{index}")
}

fn graph_key(index: u64) -> String {
    format!("g{index}")
}

fn json_key(index: u64) -> String {
    format!("item:{index}")
}

fn as_json(doc: &Json) -> Doc {
    flat_doc(doc)
}

impl Soak {
    fn count(&mut self, what: &'static str) {
        *self.counts.entry(what).or_default() += 1;
    }

    /// A `docs` key; `short_ttl` keeps to the keys the torture child never touches.
    fn doc_key(&mut self, short_ttl: bool) -> String {
        let low = if short_ttl { torture::KEYS } else { 0 };
        doc_key(self.rng.gen_range(low..DOC_KEYS))
    }

    fn ttl(&mut self) -> Duration {
        // Some expire at once, most within the next few seconds of the run.
        Duration::from_millis(match self.rng.gen_range(0..10) {
            0 => 0,
            1..=6 => self.rng.gen_range(1..800),
            _ => self.rng.gen_range(800..4_000),
        })
    }

    fn vector(&mut self, dim: usize) -> Vec<f32> {
        (0..dim).map(|_| self.rng.gen_range(-1.0..1.0)).collect()
    }

    fn docs_pred(&mut self) -> Pred {
        let low = self.rng.gen_range(-1000.0..1000.0);
        let high = low + self.rng.gen_range(0.0..800.0);
        match self.rng.gen_range(0..8) {
            0 => Pred::All,
            1 => Pred::Tag("tags", "a"),
            2 => Pred::Tag("tags", "c"),
            3 => Pred::Range("rank", low, high),
            4 => Pred::Word("title", "title".into()),
            5 => Pred::And(
                Box::new(Pred::Tag("tags", "b")),
                Box::new(Pred::Range("rank", low, high)),
            ),
            6 => Pred::Not(Box::new(Pred::Tag("tags", "c"))),
            _ => {
                // The number of a title the model holds, when there is one.
                let word = self
                    .model
                    .docs
                    .entries
                    .values()
                    .filter_map(|entry| entry.value.get_text("title"))
                    .nth(self.rng.gen_range(0..8))
                    .and_then(|title| title.rsplit(' ').next())
                    .unwrap_or("12345")
                    .to_string();
                Pred::Word("title", word)
            }
        }
    }

    fn json_pred(&mut self) -> Pred {
        let low = self.rng.gen_range(0.0..100.0);
        match self.rng.gen_range(0..5) {
            0 => Pred::All,
            1 => Pred::Tag("category", "shoes"),
            2 => Pred::Tag("tags", "eco"),
            3 => Pred::Range("price", low, low + 40.0),
            _ => Pred::Word("body", "updated".into()),
        }
    }

    /// One random operation, its answer checked, then the touched keys re-read.
    fn step(&mut self, h: &Handles) -> Result<(), String> {
        self.op += 1;
        if self.op.is_multiple_of(64) {
            let now = now_ms();
            self.model.docs.prune(now);
            self.model.graph.prune(now);
            self.model.json.prune(now);
        }
        let roll = self.rng.gen_range(0..100);
        match roll {
            0..=27 => {
                self.count("upsert");
                let key = self.doc_key(false);
                let doc = torture::random_doc(&mut self.rng);
                h.docs
                    .upsert(key.clone(), doc.clone())
                    .map_err(engine("upsert"))?;
                self.model.docs.put(&key, doc);
                self.check_doc(h, &key)
            }
            28..=33 => {
                self.count("upsert_many");
                let short = self.rng.gen_bool(0.3);
                let ttl = self.ttl();
                let batch: Vec<(String, Doc)> = (0..self.rng.gen_range(2..=8))
                    .map(|_| (self.doc_key(short), torture::random_doc(&mut self.rng)))
                    .collect();
                let deadline = if short {
                    self.count("upsert_many_with_ttl");
                    let (result, window) =
                        timed(|| h.docs.upsert_many_with_ttl(batch.clone(), ttl));
                    result.map_err(engine("upsert_many_with_ttl"))?;
                    Some(deadline_after(window, ttl))
                } else {
                    h.docs
                        .upsert_many(batch.clone())
                        .map_err(engine("upsert_many"))?;
                    None
                };
                for (key, doc) in &batch {
                    self.model.docs.put_until(key, doc.clone(), deadline);
                }
                let keys: Vec<&str> = batch.iter().map(|(key, _)| key.as_str()).collect();
                let (got, window) = timed(|| h.docs.get_many(&keys));
                for (key, got) in keys.iter().zip(got.map_err(engine("get_many"))?) {
                    self.model.docs.check_read(key, window, got.as_ref())?;
                }
                Ok(())
            }
            34..=39 => {
                self.count("upsert_with_ttl");
                let key = self.doc_key(true);
                let doc = torture::random_doc(&mut self.rng);
                let ttl = self.ttl();
                let (result, window) =
                    timed(|| h.docs.upsert_with_ttl(key.clone(), doc.clone(), ttl));
                result.map_err(engine("upsert_with_ttl"))?;
                let deadline = deadline_after(window, ttl);
                self.model.docs.put_until(&key, doc, Some(deadline));
                self.check_doc(h, &key)
            }
            40..=46 => {
                self.count("delete");
                let key = self.doc_key(false);
                let (got, window) = timed(|| h.docs.delete(&key));
                let got = got.map_err(engine("delete"))?;
                self.model.docs.delete(&key, window, got)?;
                self.check_doc(h, &key)
            }
            47..=48 => {
                self.count("delete_many");
                let keys: Vec<String> = (0..self.rng.gen_range(1..=6))
                    .map(|_| self.doc_key(false))
                    .collect();
                let (got, window) = timed(|| h.docs.delete_many(&keys));
                let got = got.map_err(engine("delete_many"))?;
                let mut distinct = keys.clone();
                distinct.sort();
                distinct.dedup();
                let lives: Vec<Life> = distinct
                    .iter()
                    .map(|key| self.model.docs.life(key, window))
                    .collect();
                let live = lives.iter().filter(|l| **l == Life::Live).count();
                let unsure = lives.iter().filter(|l| **l == Life::Unsure).count();
                if got < live || got > live + unsure {
                    return Err(format!(
                        "delete_many {keys:?} deleted {got}; {live} were live, {unsure} \
                         about to expire"
                    ));
                }
                for key in &distinct {
                    self.model.docs.entries.remove(key);
                    self.check_doc(h, key)?;
                }
                Ok(())
            }
            49..=54 => {
                self.count("expire");
                let short = self.rng.gen_bool(0.8);
                let key = self.doc_key(short);
                let ttl = if short { self.ttl() } else { torture::FAR_TTL };
                let (got, window) = timed(|| h.docs.expire(&key, ttl));
                let got = got.map_err(engine("expire"))?;
                let deadline = deadline_after(window, ttl);
                self.model.docs.expire(&key, window, got, deadline)?;
                self.check_doc(h, &key)
            }
            55..=56 => {
                self.count("expire_at");
                let key = self.doc_key(true);
                // Sometimes in the past: gone at once.
                let at = (now_ms() + self.rng.gen_range(0..3_000)).saturating_sub(200);
                let when = UNIX_EPOCH + Duration::from_millis(at);
                let (got, window) = timed(|| h.docs.expire_at(&key, when));
                let got = got.map_err(engine("expire_at"))?;
                self.model.docs.expire(&key, window, got, (at, at))?;
                self.check_doc(h, &key)
            }
            57..=59 => {
                self.count("persist");
                let key = self.doc_key(false);
                let (got, window) = timed(|| h.docs.persist(&key));
                let got = got.map_err(engine("persist"))?;
                self.model.docs.persist(&key, window, got)?;
                self.check_doc(h, &key)
            }
            60..=65 => {
                self.count("graph upsert");
                let key = graph_key(self.rng.gen_range(0..GRAPH_KEYS));
                let doc = torture::random_doc(&mut self.rng);
                if self.rng.gen_bool(0.25) {
                    let ttl = self.ttl();
                    let (result, window) =
                        timed(|| h.graph.upsert_with_ttl(key.clone(), doc.clone(), ttl));
                    result.map_err(engine("graph upsert_with_ttl"))?;
                    let deadline = deadline_after(window, ttl);
                    self.model.graph.put_until(&key, doc, Some(deadline));
                } else {
                    h.graph
                        .upsert(key.clone(), doc.clone())
                        .map_err(engine("graph upsert"))?;
                    self.model.graph.put(&key, doc);
                }
                let (got, window) = timed(|| h.graph.get(&key));
                let got = got.map_err(engine("graph get"))?;
                self.model.graph.check_read(&key, window, got.as_ref())
            }
            66..=67 => {
                self.count("graph delete");
                let key = graph_key(self.rng.gen_range(0..GRAPH_KEYS));
                let (got, window) = timed(|| h.graph.delete(&key));
                let got = got.map_err(engine("graph delete"))?;
                self.model.graph.delete(&key, window, got)
            }
            68..=73 => {
                self.count("upsert_json");
                let key = json_key(self.rng.gen_range(0..JSON_KEYS));
                let doc = json_doc(self.rng.gen_range(0..100_000));
                h.json
                    .upsert_json(key.clone(), doc.clone())
                    .map_err(engine("upsert_json"))?;
                self.model.json.put(&key, doc);
                self.check_json(h, &key)
            }
            74..=79 => {
                self.count("set_json");
                self.set_json(h)
            }
            80..=81 => {
                let key = json_key(self.rng.gen_range(0..JSON_KEYS));
                if self.rng.gen_bool(0.5) {
                    self.count("json delete");
                    let (got, window) = timed(|| h.json.delete(&key));
                    let got = got.map_err(engine("json delete"))?;
                    self.model.json.delete(&key, window, got)?;
                } else {
                    self.count("json expire");
                    let ttl = self.ttl();
                    let (got, window) = timed(|| h.json.expire(&key, ttl));
                    let got = got.map_err(engine("json expire"))?;
                    let deadline = deadline_after(window, ttl);
                    self.model.json.expire(&key, window, got, deadline)?;
                }
                self.check_json(h, &key)
            }
            82 => {
                self.count("flush");
                h.db.flush().map_err(engine("flush"))
            }
            83 => {
                self.count("compact");
                h.db.compact().map_err(engine("compact"))
            }
            84..=88 => {
                self.count("get");
                let key = self.doc_key(false);
                self.check_doc(h, &key)
            }
            89..=92 => self.check_flat(h),
            93..=94 => self.check_graph(h).map(|_| ()),
            95 => self.check_text(h),
            96 => self.check_count(h),
            97 => self.check_json_search(h),
            _ => self.check_lens(h),
        }
    }

    fn set_json(&mut self, h: &Handles) -> Result<(), String> {
        let key = json_key(self.rng.gen_range(0..JSON_KEYS));
        let (path, value) = match self.rng.gen_range(0..4) {
            0 => ("$.price", json!(self.rng.gen_range(0..400) as f64 + 0.25)),
            1 => (
                "$.tags",
                Json::from(["eco", "sale"][..self.rng.gen_range(0..=2)].to_vec()),
            ),
            2 => ("$.metadata.category", json!("shoes")),
            _ => (
                "$.body",
                json!(format!("updated body {}", self.rng.gen_range(0..1000))),
            ),
        };
        let (got, window) = timed(|| h.json.set_json(&key, path, value.clone()));
        let life = self.model.json.life(&key, window);
        match (got, life) {
            (Ok(true), Life::Live | Life::Unsure) => {
                let entry = self.model.json.entries.get_mut(&key).expect("live");
                let mut target = &mut entry.value;
                for member in path.trim_start_matches("$.").split('.') {
                    target = &mut target[member];
                }
                *target = value;
            }
            (Err(Error::InvalidArgument { .. }), Life::Gone | Life::Unsure) => {
                self.model.json.entries.remove(&key);
            }
            (got, life) => {
                return Err(format!(
                    "set_json {key} {path} returned {got:?}; the model has the key {life:?}"
                ))
            }
        }
        self.check_json(h, &key)
    }

    fn check_doc(&mut self, h: &Handles, key: &str) -> Result<(), String> {
        let (got, window) = timed(|| h.docs.get(key));
        let got = got.map_err(engine("get"))?;
        self.model.docs.check_read(key, window, got.as_ref())?;
        let (ttl, window) = timed(|| h.docs.ttl(key));
        self.model
            .docs
            .check_ttl(key, window, ttl.map_err(engine("ttl"))?)
    }

    fn check_json(&mut self, h: &Handles, key: &str) -> Result<(), String> {
        let (got, window) = timed(|| h.json.get_json(key));
        let got = got.map_err(engine("get_json"))?;
        self.model.json.check_read(key, window, got.as_ref())
    }

    fn check_flat(&mut self, h: &Handles) -> Result<(), String> {
        self.count("knn (exact)");
        let pred = self.docs_pred();
        let query = self.vector(DIM);
        let ask = Knn {
            field: "embedding",
            metric: Metric::L2,
            query: &query,
            k: K,
        };
        let (hits, window) = soak::knn(&h.docs, ask, &pred, None);
        let hits = hits.map_err(engine("knn"))?;
        soak::check_exact_knn(&self.model.docs, window, ask, &hits, &pred, Doc::clone)
            .map_err(|e| format!("KNN filtered by {pred:?}: {e}"))
    }

    /// One HNSW query: its hits are checked exactly, its recall returned and added
    /// to the run's.
    fn check_graph(&mut self, h: &Handles) -> Result<(usize, usize), String> {
        self.count("knn (hnsw)");
        let query = self.vector(DIM);
        let ask = Knn {
            field: "embedding",
            metric: Metric::Cosine,
            query: &query,
            k: K,
        };
        let (hits, window) = soak::knn(&h.graph, ask, &Pred::All, Some(GRAPH_EF));
        let hits = hits.map_err(engine("graph knn"))?;
        let (found, asked) = soak::knn_recall(&self.model.graph, window, ask, &hits, Doc::clone)
            .map_err(|e| format!("HNSW KNN: {e}"))?;
        self.recall.0 += found;
        self.recall.1 += asked;
        Ok((found, asked))
    }

    fn check_text(&mut self, h: &Handles) -> Result<(), String> {
        self.count("text query");
        let pred = match self.docs_pred() {
            word @ Pred::Word(..) => word,
            _ => Pred::Word("title", "title".into()),
        };
        let Pred::Word(field, word) = &pred else {
            unreachable!("a word predicate")
        };
        let query = format!("@{field}:{word}");
        let (hits, window) = timed(|| {
            h.docs
                .query(&query)
                .args(["NOCONTENT", "LIMIT", "0", "1000"])
                .run()
        });
        let keys: Vec<String> = hits
            .map_err(engine(&query))?
            .into_iter()
            .map(|hit| hit.key)
            .collect();
        self.model
            .docs
            .check_keys(&query, window, &keys, |doc| pred.matches(doc))
    }

    fn check_count(&mut self, h: &Handles) -> Result<(), String> {
        self.count("count");
        let pred = self.docs_pred();
        let (got, window) = timed(|| h.docs.count(&pred.filter()));
        let got = got.map_err(engine("count"))?;
        self.model
            .docs
            .check_count(&format!("count {pred:?}"), window, got, |doc| {
                pred.matches(doc)
            })
    }

    fn check_json_search(&mut self, h: &Handles) -> Result<(), String> {
        self.count("json knn + count");
        let pred = self.json_pred();
        let query = self.vector(JSON_DIM);
        let ask = Knn {
            field: "embedding",
            metric: Metric::Cosine,
            query: &query,
            k: K,
        };
        let (hits, window) = soak::knn(&h.json, ask, &pred, None);
        let hits = hits.map_err(engine("json knn"))?;
        soak::check_exact_knn(&self.model.json, window, ask, &hits, &pred, as_json)
            .map_err(|e| format!("JSON KNN filtered by {pred:?}: {e}"))?;
        let (got, window) = timed(|| h.json.count(&pred.filter()));
        let got = got.map_err(engine("json count"))?;
        self.model
            .json
            .check_count(&format!("json count {pred:?}"), window, got, |doc| {
                pred.matches(&as_json(doc))
            })
    }

    fn check_lens(&mut self, h: &Handles) -> Result<(), String> {
        self.count("len");
        let all = |_: &_| true;
        let (got, window) = timed(|| h.docs.len());
        let got = got.map_err(engine("len"))?;
        self.model.docs.check_count("docs len", window, got, all)?;
        let (got, window) = timed(|| h.graph.len());
        let got = got.map_err(engine("graph len"))?;
        self.model
            .graph
            .check_count("graph len", window, got, all)?;
        let (got, window) = timed(|| h.json.len());
        let got = got.map_err(engine("json len"))?;
        self.model
            .json
            .check_count("json len", window, got, |_: &Json| true)
    }

    /// Every key of every collection, the counts, and a round of each query kind.
    fn sweep(&mut self, h: &Handles) -> Result<(), String> {
        self.count("full sweep");
        for index in 0..DOC_KEYS {
            self.check_doc(h, &doc_key(index))?;
        }
        for index in 0..GRAPH_KEYS {
            let key = graph_key(index);
            let (got, window) = timed(|| h.graph.get(&key));
            let got = got.map_err(engine("graph get"))?;
            self.model.graph.check_read(&key, window, got.as_ref())?;
        }
        for index in 0..JSON_KEYS {
            self.check_json(h, &json_key(index))?;
        }
        self.check_lens(h)?;
        let (mut found, mut asked) = (0, 0);
        for _ in 0..8 {
            self.check_flat(h)?;
            self.check_count(h)?;
            self.check_json_search(h)?;
            let (f, a) = self.check_graph(h)?;
            found += f;
            asked += a;
        }
        self.check_text(h)?;
        if asked > 0 {
            let recall = found as f64 / asked as f64;
            self.worst_sweep_recall = self.worst_sweep_recall.min(recall);
            if recall < MIN_SWEEP_RECALL {
                return Err(format!(
                    "HNSW recall@{K} over a sweep's 8 queries is {recall:.3} (EF_RUNTIME {GRAPH_EF})"
                ));
            }
        }
        Ok(())
    }

    /// `ops` operations (fewer if `until` comes first), a sweep every
    /// `SWEEP_EVERY`, beside a reader thread.
    fn epoch(&mut self, h: &Handles, ops: u64, until: Instant) -> Result<(), String> {
        let until = until.min(Instant::now() + EPOCH_TIME);
        let stop = AtomicBool::new(false);
        let reader_seed = self.rng.gen();
        std::thread::scope(|scope| {
            let reader = scope.spawn(|| concurrent_reader(h, &stop, reader_seed));
            let mut drive = || {
                for _ in 0..ops {
                    if Instant::now() >= until {
                        break;
                    }
                    self.step(h)?;
                    if self.op.is_multiple_of(SWEEP_EVERY) {
                        self.sweep(h)?;
                    }
                }
                self.sweep(h)
            };
            let result = drive();
            stop.store(true, Ordering::Relaxed);
            let reads = reader.join().expect("the reader thread does not panic")?;
            *self.counts.entry("concurrent reads").or_default() += reads;
            result
        })
    }

    /// Hands the (closed) database to a torture child, SIGKILLs it, reopens, and
    /// adopts into the model whichever of "what it acknowledged" and "that plus the
    /// step in flight" the database holds.
    fn kill_cycle(&mut self, path: &Path) -> Result<Handles, String> {
        self.count("kill cycle");
        let phase = self.rng.gen();
        let rows = self.rng.gen_range(torture::MEMTABLE_ROWS);
        let durability = ["always", "everysec", "never"][self.rng.gen_range(0..3)];
        let wait_acks = self.rng.gen_range(0..=60);
        let delay = Duration::from_micros(self.rng.gen_range(0..3_000));
        let start = now_ms();
        let child = TortureChild {
            exe: Path::new(env!("CARGO_BIN_EXE_crash_writer")),
            durability,
            phase,
            memtable_rows: rows,
        };
        let acked = child.run_and_kill(path, wait_acks, delay)?;
        let window = Window {
            start,
            end: now_ms(),
        };
        *self.counts.entry("torture steps acknowledged").or_default() += acked;
        let mut acknowledged = self.model.docs.clone();
        for index in 0..acked {
            soak::apply_torture(&mut acknowledged, &torture::step(phase, index), window);
        }
        let mut with_next = acknowledged.clone();
        soak::apply_torture(&mut with_next, &torture::step(phase, acked), window);

        let h = Handles::open(path, 64).map_err(|e| format!("after SIGKILL: {e}"))?;
        h.db.verify()
            .map_err(|e| format!("verify after SIGKILL: {e}"))?;
        let in_flight_changes = acknowledged != with_next;
        let mut errors = Vec::new();
        for candidate in [acknowledged, with_next] {
            let previous = std::mem::replace(&mut self.model.docs, candidate);
            match (0..torture::KEYS).try_for_each(|index| self.check_doc(&h, &doc_key(index))) {
                Ok(()) => {
                    if errors.len() == 1 && in_flight_changes {
                        self.count("kill kept the step in flight");
                    }
                    return Ok(h);
                }
                Err(error) => {
                    errors.push(error);
                    self.model.docs = previous;
                }
            }
        }
        Err(format!(
            "after SIGKILL ({acked} torture steps of phase {phase} acknowledged) the \
             database holds neither what was acknowledged ({}) nor that and the next \
             step ({})",
            errors[0], errors[1]
        ))
    }
}

/// Searches and reads beside the writer, checking what holds at any moment: no
/// error, at most k hits, nearest first, each key once, finite distances, keys of the
/// collection's key space. Returns how many calls it made.
fn concurrent_reader(h: &Handles, stop: &AtomicBool, seed: u64) -> Result<u64, String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut calls = 0;
    while !stop.load(Ordering::Relaxed) {
        let query: Vec<f32> = (0..DIM).map(|_| rng.gen_range(-1.0..1.0)).collect();
        for (collection, prefix) in [(&h.docs, "t"), (&h.graph, "g")] {
            let ask = Knn {
                field: "embedding",
                metric: Metric::L2,
                query: &query,
                k: K,
            };
            let (hits, _) = soak::knn(collection, ask, &Pred::All, None);
            let hits = hits.map_err(engine("concurrent knn"))?;
            let sorted = hits.windows(2).all(|p| p[0].distance <= p[1].distance);
            let mut keys: Vec<&str> = hits.iter().map(|hit| hit.key.as_str()).collect();
            keys.sort_unstable();
            keys.dedup();
            if hits.len() > K
                || !sorted
                || keys.len() != hits.len()
                || hits.iter().any(|hit| !hit.distance.is_finite())
                || keys.iter().any(|key| !key.starts_with(prefix))
            {
                return Err(format!("a concurrent KNN returned {hits:?}"));
            }
        }
        let key = doc_key(rng.gen_range(0..DOC_KEYS));
        h.docs.get(&key).map_err(engine("concurrent get"))?;
        calls += 3;
    }
    Ok(calls)
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .map(|value| {
            value
                .parse()
                .unwrap_or_else(|_| panic!("{name} is a number"))
        })
        .unwrap_or(default)
}

#[test]
fn a_mixed_load_with_expiry_reopens_and_kills_matches_the_exact_model() {
    let secs = env_u64("STRATA_SOAK_SECS", 15);
    let seed = env_u64("STRATA_SOAK_SEED", 0x50A4_0001);
    eprintln!("soak: seed {seed} (STRATA_SOAK_SEED={seed}), {secs} s");
    let dir = scratch_dir();
    let path = dir.path().join("soak.strata");
    {
        let db = Database::open(&path).expect("create the database");
        db.create_collection("docs", full_schema(Metric::L2))
            .expect("create docs");
        db.create_collection("graph", hnsw_schema(Metric::Cosine))
            .expect("create graph");
        db.create_collection("json", json_schema(VectorIndex::flat()))
            .expect("create json");
    }
    let mut soak = Soak {
        seed,
        rng: StdRng::seed_from_u64(seed),
        model: Model::default(),
        op: 0,
        counts: BTreeMap::new(),
        recall: (0, 0),
        worst_sweep_recall: 1.0,
    };
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let mut handles = None;
    let mut epoch = 0;
    let fail = |soak: &Soak, error: String| -> ! {
        panic!(
            "soak failed at operation {} (STRATA_SOAK_SEED={}): {error}",
            soak.op, soak.seed
        )
    };
    // At least a kill cycle and two plain reopens, however short the run.
    while epoch < KILL_EVERY || Instant::now() < until {
        let h = match handles.take() {
            Some(h) => h,
            None => {
                let rows = soak.rng.gen_range(16..=256);
                let h = Handles::open(&path, rows).unwrap_or_else(|e| fail(&soak, e));
                soak.count("reopen");
                // What the reopened database holds, before any new write.
                soak.sweep(&h)
                    .unwrap_or_else(|e| fail(&soak, format!("after reopen: {e}")));
                h
            }
        };
        let ops = soak.rng.gen_range(EPOCH_OPS);
        soak.epoch(&h, ops, until)
            .unwrap_or_else(|e| fail(&soak, e));
        drop(h);
        if epoch % KILL_EVERY == 0 {
            let h = soak.kill_cycle(&path).unwrap_or_else(|e| fail(&soak, e));
            soak.sweep(&h)
                .unwrap_or_else(|e| fail(&soak, format!("after SIGKILL: {e}")));
            handles = Some(h);
        }
        epoch += 1;
    }
    let h = match handles.take() {
        Some(h) => h,
        None => Handles::open(&path, 64).unwrap_or_else(|e| fail(&soak, e)),
    };
    soak.sweep(&h)
        .unwrap_or_else(|e| fail(&soak, format!("at the end: {e}")));
    h.db.verify()
        .unwrap_or_else(|e| fail(&soak, format!("verify at the end: {e}")));
    let recall = soak.recall.0 as f64 / soak.recall.1.max(1) as f64;
    eprintln!(
        "soak: {} operations in {epoch} epochs, {:.1?}; HNSW recall@{K} {recall:.4} \
         (worst sweep {:.3}); live keys at the end: {} docs, {} graph, {} json",
        soak.op,
        started.elapsed(),
        soak.worst_sweep_recall,
        soak.model.docs.entries.len(),
        soak.model.graph.entries.len(),
        soak.model.json.entries.len(),
    );
    for (what, count) in &soak.counts {
        eprintln!("soak:   {what}: {count}");
    }
}
