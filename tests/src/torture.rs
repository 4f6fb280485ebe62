//! The crash-torture workload shared by the SIGKILL, power-loss, disk-full and
//! durability-prefix tests: a seeded, deterministic sequence of operations, an exact
//! model of what they leave behind, and a check of a database against that model.
//!
//! A *phase* is the sequence of steps `step(seed, 0)`, `step(seed, 1)`, ... for one
//! seed. Each step is generated from `(seed, index)` alone, never from the database's
//! state, so a parent process can replay what a killed child did from the number of
//! steps it acknowledged. A test strings phases together on one database: it checks
//! the state after each crash, adopts the model that matched, and starts a fresh
//! phase from there, so the oracle stays exact across any number of crashes.
//!
//! Every step is a Redis-like command whose effect is fully determined by the state
//! before it: upserts (single and batches), deletes, `EXPIRE` with a far-future TTL
//! and `PERSIST` (which change only the TTL kind the model tracks), `EXPIRE` with a
//! zero TTL (gone for readers at once, later deleted by active expiry), and the
//! maintenance commands `flush` and `compact`, which must change nothing visible.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata::{Collection, Database, Doc, Durability, KeyTtl, Metric, Options, Search};

use crate::{oracle_distance, DIM};

/// Keys the workload touches: `t0` .. `t{KEYS-1}`. Small, so that steps keep hitting
/// keys that live in the memtable, in segments and in overlays at once.
pub const KEYS: u64 = 48;

/// The TTL of `Step::Expire`: far enough that nothing expires during any run, so the
/// model only has to know *that* a key expires.
pub const FAR_TTL: Duration = Duration::from_secs(24 * 3600);

/// The collection every torture test writes to.
pub const COLLECTION: &str = "docs";

/// The range of `memtable_rows_max` the tests pick from.
pub const MEMTABLE_ROWS: std::ops::RangeInclusive<usize> = 8..=40;

/// Nearest neighbours compared against the oracle per query.
const SEARCH_K: usize = 10;

/// Key number `index`.
pub fn key(index: u64) -> String {
    format!("t{index}")
}

/// One operation of the workload.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Upsert(String, Doc),
    UpsertMany(Vec<(String, Doc)>),
    Delete(String),
    /// `EXPIRE key FAR_TTL`.
    Expire(String),
    /// `PERSIST key`.
    Persist(String),
    /// `EXPIRE key 0`: invisible at once, deleted later by active expiry.
    ExpireNow(String),
    Flush,
    Compact,
}

impl Step {
    /// Whether the step syncs the WAL and publishes a manifest when it succeeds, so
    /// that everything before it survives a power cut under any durability.
    pub fn is_maintenance(&self) -> bool {
        matches!(self, Step::Flush | Step::Compact)
    }
}

fn step_rng(seed: u64, index: u64) -> StdRng {
    // SplitMix-style mixing, so that neighbouring (seed, index) pairs are unrelated.
    let mut z = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    StdRng::seed_from_u64(z ^ (z >> 31))
}

fn random_key(rng: &mut StdRng) -> String {
    key(rng.gen_range(0..KEYS))
}

/// A random document: a number, mostly a vector, sometimes a title and tags.
pub fn random_doc(rng: &mut StdRng) -> Doc {
    let mut doc = Doc::new().numeric("rank", rng.gen_range(-1000..1000) as f64);
    if rng.gen_bool(0.9) {
        let vector: Vec<f32> = (0..DIM).map(|_| rng.gen_range(-1.0..1.0)).collect();
        doc = doc.vector("embedding", vector);
    }
    if rng.gen_bool(0.5) {
        doc = doc.text("title", format!("title {}", rng.gen::<u32>()));
    }
    if rng.gen_bool(0.5) {
        doc = doc.tag("tags", if rng.gen_bool(0.5) { "a,b" } else { "c" });
    }
    doc
}

/// Step `index` of the phase `seed`.
pub fn step(seed: u64, index: u64) -> Step {
    let mut rng = step_rng(seed, index);
    match rng.gen_range(0..100) {
        0..=43 => Step::Upsert(random_key(&mut rng), random_doc(&mut rng)),
        44..=55 => {
            let count = rng.gen_range(2..=6);
            Step::UpsertMany(
                (0..count)
                    .map(|_| (random_key(&mut rng), random_doc(&mut rng)))
                    .collect(),
            )
        }
        56..=69 => Step::Delete(random_key(&mut rng)),
        70..=79 => Step::Expire(random_key(&mut rng)),
        80..=85 => Step::Persist(random_key(&mut rng)),
        86..=89 => Step::ExpireNow(random_key(&mut rng)),
        90..=95 => Step::Flush,
        _ => Step::Compact,
    }
}

/// What the model knows of a key.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub doc: Doc,
    /// Whether the key has a (far-future) TTL.
    pub expires: bool,
}

/// The visible state of the collection: every live key, its document and TTL kind.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Model {
    pub entries: BTreeMap<String, Entry>,
}

impl Model {
    /// Applies `step`; returns what the command returns (`delete`, `expire` and
    /// `persist` return whether they changed anything), `None` for the others.
    pub fn apply(&mut self, step: &Step) -> Option<bool> {
        let put = |entries: &mut BTreeMap<String, Entry>, key: &String, doc: &Doc| {
            let entry = Entry {
                doc: doc.clone(),
                expires: false,
            };
            entries.insert(key.clone(), entry);
        };
        match step {
            Step::Upsert(key, doc) => put(&mut self.entries, key, doc),
            Step::UpsertMany(batch) => {
                for (key, doc) in batch {
                    put(&mut self.entries, key, doc);
                }
            }
            Step::Delete(key) | Step::ExpireNow(key) => {
                return Some(self.entries.remove(key).is_some())
            }
            Step::Expire(key) => {
                let entry = self.entries.get_mut(key);
                let found = entry.is_some();
                if let Some(entry) = entry {
                    entry.expires = true;
                }
                return Some(found);
            }
            Step::Persist(key) => {
                let entry = self.entries.get_mut(key).filter(|e| e.expires);
                let changed = entry.is_some();
                if let Some(entry) = entry {
                    entry.expires = false;
                }
                return Some(changed);
            }
            Step::Flush | Step::Compact => {}
        }
        None
    }

    /// The model after this one and then steps `0..count` of phase `seed`.
    pub fn after(&self, seed: u64, count: u64) -> Model {
        let mut model = self.clone();
        for index in 0..count {
            model.apply(&step(seed, index));
        }
        model
    }

    /// The model after every prefix of phase `seed` up to `count` steps: element `i`
    /// is the state after `i` steps.
    pub fn prefixes(&self, seed: u64, count: u64) -> Vec<Model> {
        let mut models = vec![self.clone()];
        for index in 0..count {
            let mut next = models.last().expect("not empty").clone();
            next.apply(&step(seed, index));
            models.push(next);
        }
        models
    }

    /// Reads the collection's visible state over the whole key space.
    pub fn read(docs: &Collection) -> Result<Model, String> {
        let mut entries = BTreeMap::new();
        for index in 0..KEYS {
            let key = key(index);
            let doc = docs.get(&key).map_err(|e| format!("get {key}: {e}"))?;
            let ttl = docs.ttl(&key).map_err(|e| format!("ttl {key}: {e}"))?;
            let expires = match (&doc, ttl) {
                (None, KeyTtl::Missing) => continue,
                (Some(_), KeyTtl::Persistent) => false,
                (Some(_), KeyTtl::ExpiresIn(left)) if left <= FAR_TTL => true,
                (doc, ttl) => {
                    return Err(format!(
                        "{key}: get says {}, ttl says {ttl:?}",
                        if doc.is_some() { "present" } else { "absent" }
                    ))
                }
            };
            let doc = doc.expect("a missing key was skipped");
            entries.insert(key, Entry { doc, expires });
        }
        Ok(Model { entries })
    }

    /// How `self` (what the database holds) differs from `expected`, key by key.
    pub fn diff(&self, expected: &Model) -> String {
        let mut out = String::new();
        for index in 0..KEYS {
            let key = key(index);
            let (got, want) = (self.entries.get(&key), expected.entries.get(&key));
            if got != want {
                let _ = writeln!(out, "  {key}: database {got:?}\n  {key}: model    {want:?}");
            }
        }
        out
    }
}

/// Runs `step` through the public API; returns what the command returned (see
/// [`Model::apply`]).
pub fn execute(db: &Database, docs: &Collection, step: &Step) -> strata::Result<Option<bool>> {
    Ok(match step {
        Step::Upsert(key, doc) => {
            docs.upsert(key.clone(), doc.clone())?;
            None
        }
        Step::UpsertMany(batch) => {
            docs.upsert_many(batch.clone())?;
            None
        }
        Step::Delete(key) => Some(docs.delete(key)?),
        Step::Expire(key) => Some(docs.expire(key, FAR_TTL)?),
        Step::Persist(key) => Some(docs.persist(key)?),
        Step::ExpireNow(key) => Some(docs.expire(key, Duration::ZERO)?),
        Step::Flush => {
            db.flush()?;
            None
        }
        Step::Compact => {
            db.compact()?;
            None
        }
    })
}

/// Runs `step` and checks its return value against `model`, which it advances.
/// `Err(Ok(error))` is an engine error (nothing learnt about the model);
/// `Err(Err(message))` is a wrong return value.
pub fn execute_checked(
    db: &Database,
    docs: &Collection,
    model: &mut Model,
    step: &Step,
) -> Result<(), Result<strata::Error, String>> {
    let got = execute(db, docs, step).map_err(Ok)?;
    let want = model.apply(step);
    if got != want {
        return Err(Err(format!(
            "{step:?} returned {got:?}, the model says {want:?}"
        )));
    }
    Ok(())
}

/// The options the torture runs the engine with: flushes every few dozen rows (tests
/// pick `memtable_rows_max` in [`MEMTABLE_ROWS`], so that writes trigger flushes about
/// as often as the workload's own `Flush` steps do), background expiry and compaction
/// every few milliseconds, merging pairs.
pub fn options(durability: Durability, memtable_rows_max: usize) -> Options {
    Options {
        durability,
        memtable_rows_max,
        background_interval: Duration::from_millis(2),
        compaction_trigger: 2,
        ..Options::default()
    }
}

/// Seeded query vectors for [`check`].
pub fn queries(seed: u64, count: usize) -> Vec<Vec<f32>> {
    let mut rng = step_rng(seed, u64::MAX);
    (0..count)
        .map(|_| (0..DIM).map(|_| rng.gen_range(-1.0..1.0)).collect())
        .collect()
}

/// Checks the collection against the candidate models: its state over the key space
/// must equal one of them (returned by index); then `len` and exact search must agree
/// with that one.
pub fn check(
    docs: &Collection,
    candidates: &[&Model],
    queries: &[Vec<f32>],
) -> Result<usize, String> {
    let state = Model::read(docs)?;
    let Some(matched) = candidates.iter().position(|model| **model == state) else {
        let mut message = String::from("the database matches no allowed state\n");
        for (index, model) in candidates.iter().enumerate() {
            let _ = writeln!(message, " candidate {index}:\n{}", state.diff(model));
        }
        return Err(message);
    };
    let model = candidates[matched];
    let len = docs.len().map_err(|e| format!("len: {e}"))?;
    if len != model.entries.len() {
        return Err(format!(
            "len is {len}, the model holds {}",
            model.entries.len()
        ));
    }
    for query in queries {
        check_search(docs, model, query)?;
    }
    check_text(docs, model)?;
    Ok(matched)
}

/// Full-text search agrees with the model: `@title:title` finds exactly the live keys
/// that have a title, and each title's number finds its key (and only keys whose
/// title holds it), whether the row is in the memtable or a segment's text index.
fn check_text(docs: &Collection, model: &Model) -> Result<(), String> {
    let run = |query: &str| -> Result<Vec<String>, String> {
        let mut keys: Vec<String> = docs
            .query(query)
            .args(["NOCONTENT", "LIMIT", "0", "1000"])
            .run()
            .map_err(|e| format!("{query}: {e}"))?
            .into_iter()
            .map(|hit| hit.key)
            .collect();
        keys.sort();
        Ok(keys)
    };
    let titled: Vec<(&String, &str)> = model
        .entries
        .iter()
        .filter_map(|(key, entry)| Some((key, entry.doc.get_text("title")?)))
        .collect();
    let mut expected: Vec<String> = titled.iter().map(|(key, _)| (*key).clone()).collect();
    expected.sort();
    let found = run("@title:title")?;
    if found != expected {
        return Err(format!(
            "@title:title found {found:?}, the model has {expected:?}"
        ));
    }
    for (key, title) in titled.iter().take(8) {
        let word = title.rsplit(' ').next().unwrap_or_default();
        let mut expected: Vec<String> = titled
            .iter()
            .filter(|(_, other)| other.rsplit(' ').next() == Some(word))
            .map(|(key, _)| (*key).clone())
            .collect();
        expected.sort();
        let found = run(&format!("@title:{word}"))?;
        if found != expected {
            return Err(format!(
                "@title:{word} found {found:?}, expected {expected:?} ({key})"
            ));
        }
    }
    Ok(())
}

/// Exact k-NN against an f64 oracle over the model. Hits must be the true nearest
/// keys (a tie within rounding may come in either order), nearest first.
fn check_search(docs: &Collection, model: &Model, query: &[f32]) -> Result<(), String> {
    let hits = docs
        .search(&Search::knn("embedding", query, SEARCH_K).no_content())
        .map_err(|e| format!("search: {e}"))?;
    let mut truth: Vec<(f64, &String)> = model
        .entries
        .iter()
        .filter_map(|(key, entry)| {
            let vector = entry.doc.get_vector("embedding")?;
            Some((oracle_distance(Metric::L2, query, vector), key))
        })
        .collect();
    truth.sort_by(|a, b| a.0.total_cmp(&b.0));
    if hits.len() != truth.len().min(SEARCH_K) {
        return Err(format!(
            "search returned {} hits, the oracle {}",
            hits.len(),
            truth.len().min(SEARCH_K)
        ));
    }
    for (rank, (hit, (distance, _))) in hits.iter().zip(&truth).enumerate() {
        let own = model
            .entries
            .get(&hit.key)
            .and_then(|entry| entry.doc.get_vector("embedding"))
            .map(|vector| oracle_distance(Metric::L2, query, vector));
        let close = |a: f64, b: f64| (a - b).abs() < 1e-4;
        let duplicate = hits[..rank].iter().any(|h| h.key == hit.key);
        match own {
            Some(own) if close(own, hit.distance as f64) && close(own, *distance) && !duplicate => {}
            _ => {
                return Err(format!(
                    "hit {rank} is {} at {}, its true distance {own:?}, rank {rank} of the oracle is at {distance}",
                    hit.key, hit.distance
                ))
            }
        }
    }
    Ok(())
}

/// The base seed: `STRATA_TORTURE_SEED` if set (to reproduce a failure or explore
/// others), else `default`. Printed, since thread and kill timing vary between runs.
pub fn base_seed(test: &str, default: u64) -> u64 {
    let seed = std::env::var("STRATA_TORTURE_SEED")
        .map(|value| value.parse().expect("STRATA_TORTURE_SEED is a u64"))
        .unwrap_or(default);
    eprintln!("{test}: seed {seed} (STRATA_TORTURE_SEED={seed})");
    seed
}

/// Cycles to run: `STRATA_TORTURE_CYCLES` if set, else `default`.
pub fn cycles(default: u64) -> u64 {
    std::env::var("STRATA_TORTURE_CYCLES")
        .map(|value| value.parse().expect("STRATA_TORTURE_CYCLES is a number"))
        .unwrap_or(default)
}

/// The seed of phase `cycle` of a run with `base` seed.
pub fn phase_seed(base: u64, cycle: u64) -> u64 {
    step_rng(base, cycle).gen()
}

/// Where the simulated-disk tests put the database: `SIM_ROOT` exists durably (as a
/// disk's existing directory would), the database directory is created by the engine.
pub const SIM_ROOT: &str = "/sim";

/// The database directory on the simulated disk.
pub fn sim_db_path() -> std::path::PathBuf {
    std::path::Path::new(SIM_ROOT).join("db")
}

/// A fresh simulated disk with [`SIM_ROOT`] on it.
pub fn sim_disk() -> strata::fs::SimFileSystem {
    let sim = strata::fs::SimFileSystem::new();
    sim.create_durable_dir_all(std::path::Path::new(SIM_ROOT))
        .expect("create the simulated disk's root");
    sim
}

/// Opens the database at [`sim_db_path`] on `sim` with the torture [`options`].
pub fn open_sim(
    sim: &strata::fs::SimFileSystem,
    durability: Durability,
    memtable_rows_max: usize,
) -> strata::Result<Database> {
    Database::open_with(
        sim_db_path(),
        Options {
            file_system: Some(std::sync::Arc::new(sim.clone())),
            ..options(durability, memtable_rows_max)
        },
    )
}

/// What [`run_phase`] saw.
#[derive(Debug)]
pub struct PhaseRun {
    /// Steps that returned `Ok` (the first `acked` steps of the phase).
    pub acked: u64,
    /// The step that failed and its error; the phase stops there.
    pub failed: Option<(Step, strata::Error)>,
    /// One past the index of the last acknowledged flush or compaction (0 if none):
    /// every step before it was durable when it returned, whatever the durability.
    pub durable_floor: u64,
}

/// Runs steps `0..steps` of phase `seed` from the state `model`, stopping at the first
/// engine error. Panics on a wrong return value: that is a bug whatever happened.
pub fn run_phase(
    db: &Database,
    docs: &Collection,
    model: &Model,
    seed: u64,
    steps: u64,
) -> PhaseRun {
    let mut model = model.clone();
    let mut run = PhaseRun {
        acked: 0,
        failed: None,
        durable_floor: 0,
    };
    for index in 0..steps {
        let step = step(seed, index);
        match execute_checked(db, docs, &mut model, &step) {
            Ok(()) => {
                run.acked += 1;
                if step.is_maintenance() {
                    run.durable_floor = run.acked;
                }
            }
            Err(Ok(error)) => {
                run.failed = Some((step, error));
                break;
            }
            Err(Err(message)) => panic!("phase {seed} step {index}: {message}"),
        }
    }
    run
}

/// Cuts the power at the next file operation (if a scheduled cut has not happened
/// yet), drops the database while the machine is off, so that nothing of the dead
/// process's handles runs after the cut, and powers the disk back on.
pub fn cut_power_and_restart(sim: &strata::fs::SimFileSystem, db: Database, docs: Collection) {
    if !sim.is_powered_off() {
        sim.power_cut_after(0);
    }
    drop(docs);
    drop(db);
    if !sim.is_powered_off() {
        // Dropping did no file operation to cut at; nothing is left running.
        sim.power_cut();
    }
    sim.restart();
}

/// Options for [`sim_db_path`] on `sim` without background work and without
/// size-triggered flushes, so that the test alone decides when the disk is written.
pub fn quiet_sim_options(sim: &strata::fs::SimFileSystem) -> Options {
    Options {
        file_system: Some(std::sync::Arc::new(sim.clone())),
        background_work: false,
        ..options(Durability::Always, 10_000)
    }
}

/// Opens the database at [`sim_db_path`] with [`quiet_sim_options`].
pub fn open_quiet_sim(sim: &strata::fs::SimFileSystem) -> strata::Result<Database> {
    Database::open_with(sim_db_path(), quiet_sim_options(sim))
}

/// A fresh simulated disk with a quiet database on it: two segments, deletions and
/// TTL changes in both overlays (one persisted, one not), and unflushed upserts in the
/// memtable, some replacing segment rows. Returns the model of it.
pub fn seeded_segments() -> (strata::fs::SimFileSystem, Database, Collection, Model) {
    let sim = sim_disk();
    let db = open_quiet_sim(&sim).expect("open a fresh database");
    let docs = db
        .create_collection(COLLECTION, crate::full_schema(Metric::L2))
        .expect("create the collection");
    let mut model = Model::default();
    let mut rng = StdRng::seed_from_u64(77);
    let mut batch = |keys: std::ops::Range<u64>| {
        Step::UpsertMany(keys.map(|i| (key(i), random_doc(&mut rng))).collect())
    };
    let steps = [
        batch(0..24),
        Step::Flush,
        batch(16..40),
        Step::Delete(key(0)),
        Step::Delete(key(1)),
        Step::Expire(key(4)),
        Step::Expire(key(5)),
        Step::Flush,
        Step::Delete(key(20)),
        Step::Delete(key(30)),
        Step::Expire(key(31)),
        Step::Persist(key(4)),
        batch(38..46),
    ];
    for step in steps {
        if let Err(error) = execute_checked(&db, &docs, &mut model, &step) {
            panic!("{step:?}: {error:?}");
        }
    }
    (sim, db, docs, model)
}
