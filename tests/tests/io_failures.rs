//! I/O failures that do not crash the process, injected on the simulated disk: a
//! failed manifest publication and a failed fsync. The database must stay correct in
//! the handle that saw the failure and after a reopen.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata::fs::sim::Operation;
use strata::fs::{FileSystem, SimFileSystem};
use strata::{Collection, Database, Durability, Error, Metric, Options};
use strata_tests::full_schema;
use strata_tests::torture::{self, key, Model, Step, KEYS};

fn options(sim: &SimFileSystem, background_work: bool) -> Options {
    Options {
        file_system: Some(Arc::new(sim.clone())),
        background_work,
        ..torture::options(Durability::Always, 10_000)
    }
}

fn run(db: &Database, docs: &Collection, model: &mut Model, step: Step) {
    if let Err(error) = torture::execute_checked(db, docs, model, &step) {
        panic!("{step:?}: {error:?}");
    }
}

fn expect_state(docs: &Collection, model: &Model, what: &str) {
    if let Err(message) = torture::check(docs, &[model], &torture::queries(3, 2)) {
        panic!("{what}: {message}");
    }
}

fn segment_dirs(sim: &SimFileSystem) -> BTreeSet<String> {
    let dir = torture::sim_db_path().join("segments");
    sim.list_dir(Path::new(&dir))
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// Bug: a flush whose manifest failed to publish had already advanced the in-memory
/// "WAL covered up to" mark. The next manifest a background compaction published
/// claimed to cover the flush's writes, which were in no published segment (only in
/// the memtable and the WAL), so a reopen skipped them in the WAL: acknowledged
/// writes lost.
#[test]
fn a_flush_that_fails_to_publish_does_not_let_compaction_drop_its_writes() {
    let sim = torture::sim_disk();
    let db = Database::open_with(torture::sim_db_path(), options(&sim, true)).unwrap();
    let docs = db
        .create_collection(torture::COLLECTION, full_schema(Metric::L2))
        .unwrap();
    let mut model = Model::default();
    let mut rng = StdRng::seed_from_u64(11);
    let mut batch = |keys: std::ops::Range<u64>| {
        Step::UpsertMany(
            keys.map(|i| (key(i), torture::random_doc(&mut rng)))
                .collect(),
        )
    };
    run(&db, &docs, &mut model, batch(0..10));
    run(&db, &docs, &mut model, Step::Flush);
    let first_segment = segment_dirs(&sim);
    assert_eq!(first_segment.len(), 1);
    run(&db, &docs, &mut model, batch(10..15));

    // The flush writes its segment, then fails to rename its manifest into place.
    sim.fail_next(Operation::Rename, 1);
    let error = db.flush().expect_err("the manifest rename fails");
    assert!(matches!(error, Error::Io { .. }), "{error:?}");
    expect_state(&docs, &model, "after the failed flush");

    // Deleting most of the first segment's rows makes the background thread rewrite it
    // alone and publish a manifest.
    for index in 0..6 {
        run(&db, &docs, &mut model, Step::Delete(key(index)));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while segment_dirs(&sim).iter().any(|d| first_segment.contains(d)) {
        assert!(
            Instant::now() < deadline,
            "the background compaction never ran"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    expect_state(&docs, &model, "after the background compaction");
    drop(docs);
    drop(db);

    let db = Database::open_with(torture::sim_db_path(), options(&sim, false)).unwrap();
    db.verify().unwrap();
    expect_state(
        &db.collection(torture::COLLECTION).unwrap(),
        &model,
        "reopened",
    );
}

/// Fails the n-th file operation of `action` on the seeded database, for every n in
/// turn until the action succeeds. After each failure the handle holds exactly the
/// model and verifies; a write in it either works or is refused with
/// `Error::Poisoned` (after a failed fsync); the database reopens to exactly the
/// model, verifies, and then the action succeeds. Returns how many operations failed.
fn fail_every_operation(
    name: &str,
    flush_first: bool,
    action: fn(&Database) -> strata::Result<()>,
) -> u64 {
    let mut failures = 0;
    for n in 0u64.. {
        let what = |stage: &str| format!("{name}, operation {n} failing: {stage}");
        let (sim, db, docs, mut model) = torture::seeded_segments();
        if flush_first {
            db.flush().unwrap();
        }
        let before = sim.operations();
        sim.fail_after(n);
        let result = action(&db);
        let reached = sim.operations() - before > n;
        sim.clear_failures();
        if !reached {
            result.unwrap_or_else(|e| panic!("{}: {e}", what("no failure")));
            return failures;
        }
        match &result {
            // A best-effort step (removing an obsolete file) may fail quietly.
            Ok(()) => {}
            Err(Error::Io { .. } | Error::Poisoned { .. }) => failures += 1,
            Err(other) => panic!("{}: {other:?}", what("the error")),
        }
        expect_state(&docs, &model, &what("the handle"));
        db.verify()
            .unwrap_or_else(|e| panic!("{}: {e}", what("verify the handle")));
        let write = Step::Upsert(key(47), strata::Doc::new().numeric("rank", n as f64));
        match torture::execute_checked(&db, &docs, &mut model, &write) {
            Ok(()) | Err(Ok(Error::Poisoned { .. })) => {}
            Err(other) => panic!("{}: {other:?}", what("a write in the handle")),
        }
        expect_state(&docs, &model, &what("the handle after a write"));
        drop(docs);
        drop(db);
        let db =
            torture::open_quiet_sim(&sim).unwrap_or_else(|e| panic!("{}: {e}", what("reopen")));
        db.verify()
            .unwrap_or_else(|e| panic!("{}: {e}", what("verify after reopen")));
        let docs = db.collection(torture::COLLECTION).unwrap();
        expect_state(&docs, &model, &what("reopened"));
        action(&db).unwrap_or_else(|e| panic!("{}: {e}", what("again after reopen")));
        expect_state(&docs, &model, &what("reopened, after the action"));
    }
    unreachable!()
}

#[test]
fn every_file_operation_of_a_flush_may_fail() {
    let failures = fail_every_operation("flush", false, Database::flush);
    assert!(
        failures > 20,
        "a flush has dozens of operations, {failures} failed"
    );
}

#[test]
fn every_file_operation_of_a_compaction_may_fail() {
    let failures = fail_every_operation("compact", true, Database::compact);
    assert!(
        failures > 20,
        "a compaction has dozens of operations, {failures} failed"
    );
}

/// Bug: when a flush could not remove an old WAL file, the log forgot the file anyway;
/// the next flush removed only the files it remembered, leaving the forgotten one
/// behind with a gap in the sequence after it, and the database no longer opened.
#[test]
fn a_wal_file_that_could_not_be_removed_is_removed_by_the_next_flush() {
    let sim = torture::sim_disk();
    let db = torture::open_quiet_sim(&sim).unwrap();
    let docs = db
        .create_collection(torture::COLLECTION, full_schema(Metric::L2))
        .unwrap();
    let mut model = Model::default();
    let doc = |rank: f64| strata::Doc::new().numeric("rank", rank);
    run(&db, &docs, &mut model, Step::Upsert(key(0), doc(0.0)));
    // The flush publishes, starts a new WAL file, then fails to remove the old one.
    sim.fail_next(Operation::RemoveFile, 1);
    let error = db.flush().expect_err("removing the old WAL file fails");
    assert!(matches!(error, Error::Io { .. }), "{error:?}");
    for index in 1..3 {
        run(
            &db,
            &docs,
            &mut model,
            Step::Upsert(key(index), doc(index as f64)),
        );
        run(&db, &docs, &mut model, Step::Flush);
    }
    expect_state(&docs, &model, "the handle");
    drop(docs);
    drop(db);
    let db = torture::open_quiet_sim(&sim).unwrap();
    db.verify().unwrap();
    expect_state(
        &db.collection(torture::COLLECTION).unwrap(),
        &model,
        "reopened",
    );
}

/// A disk left by a power cut in the middle of a flush (a segment directory that no
/// manifest names) and of an append (a torn WAL tail).
fn interrupted_disk() -> (SimFileSystem, Model) {
    let segments = torture::sim_db_path().join("segments");
    // The first cut point at which the flush's new segment directory is durable but
    // no manifest names it yet.
    let (sim, model) = (0..)
        .find_map(|cut| {
            let (sim, db, docs, model) = torture::seeded_segments();
            let published = sim.list_dir(&segments).unwrap().len();
            sim.power_cut_after(cut);
            assert!(db.flush().is_err(), "the power cut lands inside the flush");
            sim.restart();
            drop(docs);
            drop(db);
            let left = sim.list_dir(&segments).unwrap().len();
            (left > published).then_some((sim, model))
        })
        .unwrap();
    // The first bytes of a record whose append the cut interrupted: a length, part of
    // a checksum.
    let dir = torture::sim_db_path();
    let mut wals: Vec<String> = sim
        .list_dir(&dir)
        .unwrap()
        .into_iter()
        .filter(|name| name.starts_with("wal-") && name.ends_with(".log"))
        .collect();
    wals.sort();
    let wal = sim.open_append(&dir.join(wals.last().unwrap())).unwrap();
    wal.append(&[60, 0, 0, 0, 0x12, 0x34]).unwrap();
    wal.sync().unwrap();
    (sim, model)
}

/// Fails the n-th file operation of opening the interrupted disk, for every n in
/// turn: opening fails cleanly or succeeds, and the next open always succeeds with
/// the right state.
#[test]
fn every_file_operation_of_an_open_after_a_crash_may_fail() {
    let mut failures = 0;
    for n in 0u64.. {
        let (sim, model) = interrupted_disk();
        let before = sim.operations();
        sim.fail_after(n);
        let first = torture::open_quiet_sim(&sim);
        let reached = sim.operations() - before > n;
        sim.clear_failures();
        match first {
            Ok(db) => {
                if !reached {
                    // The open without failures found what the crash left.
                    let cut = db.recovery_report().cut.clone();
                    assert!(cut.is_some_and(|cut| cut.bytes == 6), "a torn WAL tail");
                    let left = sim.list_dir(&torture::sim_db_path().join("segments"));
                    assert_eq!(left.unwrap().len(), 2, "the orphan is removed");
                }
                drop(db)
            }
            Err(Error::Io { .. }) => failures += 1,
            Err(other) => panic!("open with operation {n} failing: {other:?}"),
        }
        let db = torture::open_quiet_sim(&sim)
            .unwrap_or_else(|e| panic!("reopen after operation {n} failed: {e}"));
        db.verify()
            .unwrap_or_else(|e| panic!("verify after operation {n} failed: {e}"));
        let docs = db.collection(torture::COLLECTION).unwrap();
        expect_state(
            &docs,
            &model,
            &format!("after operation {n} of the open failed"),
        );
        if !reached {
            break;
        }
    }
    assert!(
        failures > 5,
        "opening does several operations, {failures} failed"
    );
}

/// The torture workload (background compaction and expiry on) with one file operation
/// failing at a random moment per cycle, in a step or in the background thread. A step
/// that fails changes nothing in the handle, except when what failed was the fsync of
/// its own WAL record: under group commit that fsync runs after the write was applied
/// (outside the WAL mutex), so the handle may show the step. The database then reopens
/// to the model, or (if the failure was the fsync of its WAL record, which stays in the
/// file) to the model with that step.
#[test]
fn random_failures_during_the_torture_workload() {
    let base = torture::base_seed("io_failures", 0x5EED_0006);
    let cycles = torture::cycles(300);
    let mut rng = StdRng::seed_from_u64(base);
    let sim = torture::sim_disk();
    {
        let db = torture::open_sim(&sim, Durability::Always, 30).unwrap();
        db.create_collection(torture::COLLECTION, full_schema(Metric::L2))
            .unwrap();
    }
    let mut candidates = vec![Model::default()];
    let (mut failed_steps, mut poisoned) = (0, 0);
    for cycle in 0..cycles {
        let rows = rng.gen_range(torture::MEMTABLE_ROWS);
        let db = torture::open_sim(&sim, Durability::Always, rows)
            .unwrap_or_else(|e| panic!("cycle {cycle}: reopen: {e}"));
        db.verify()
            .unwrap_or_else(|e| panic!("cycle {cycle}: verify: {e}"));
        let docs = db.collection(torture::COLLECTION).unwrap();
        let refs: Vec<&Model> = candidates.iter().collect();
        let matched = torture::check(&docs, &refs, &torture::queries(cycle, 2))
            .unwrap_or_else(|e| panic!("cycle {cycle}: {e}"));
        let model = candidates[matched].clone();

        let seed = torture::phase_seed(base, cycle);
        let steps = rng.gen_range(1..=60);
        sim.fail_after(rng.gen_range(0..steps * 12));
        let run = torture::run_phase(&db, &docs, &model, seed, steps);
        sim.clear_failures();
        let acknowledged = model.after(seed, run.acked);
        let mut in_handle = vec![acknowledged.clone()];
        if let Some((step, Error::Io { op: "fsync", .. })) = &run.failed {
            let mut with_step = acknowledged.clone();
            with_step.apply(step);
            in_handle.push(with_step);
        }
        let refs: Vec<&Model> = in_handle.iter().collect();
        if let Err(message) = torture::check(&docs, &refs, &torture::queries(3, 2)) {
            panic!("cycle {cycle}: the handle: {message}");
        }
        candidates = match run.failed {
            None => vec![acknowledged],
            Some((step, error)) => {
                failed_steps += 1;
                match error {
                    Error::Io { .. } => {}
                    Error::Poisoned { .. } => poisoned += 1,
                    other => panic!("cycle {cycle}: {step:?} failed with {other:?}"),
                }
                let mut with_step = acknowledged.clone();
                with_step.apply(&step);
                vec![acknowledged, with_step]
            }
        };
    }
    eprintln!("io_failures: {cycles} cycles, {failed_steps} failed steps, {poisoned} poisoned");
    assert!(
        failed_steps > cycles / 4,
        "most failures hit a step or poison the log"
    );
}

/// The number of file operations a flush of the seeded database runs before the
/// directory fsync that follows its manifest's rename.
fn manifest_directory_fsync_of_a_flush() -> u64 {
    for n in 0u64.. {
        let (sim, db, _docs, _model) = torture::seeded_segments();
        sim.fail_after(n);
        let result = db.flush();
        sim.clear_failures();
        match result {
            Err(Error::Io { op, path, .. })
                if op == "fsync directory" && path == torture::sim_db_path() =>
            {
                return n;
            }
            Ok(()) => panic!("the flush succeeded without failing its manifest's fsync"),
            Err(_) => {}
        }
    }
    unreachable!()
}

/// Bug: a flush whose manifest was renamed into place but whose directory fsync
/// failed left the in-memory overlays pointing at the previous state files. The next
/// flush wrote the same state file names again, overwriting files that the manifest
/// on disk (the one a reopen reads) checks by CRC; when that flush failed too, the
/// database no longer opened ("does not match the manifest's checksum").
#[test]
fn after_a_failed_manifest_directory_fsync_every_operation_of_the_next_flush_may_fail() {
    let fsync_at = manifest_directory_fsync_of_a_flush();
    let mut failures = 0;
    for n in 0u64.. {
        let what = |stage: &str| format!("next flush, operation {n} failing: {stage}");
        let (sim, db, docs, mut model) = torture::seeded_segments();
        sim.fail_after(fsync_at);
        let error = db
            .flush()
            .expect_err("the manifest's directory fsync fails");
        sim.clear_failures();
        assert!(matches!(error, Error::Io { .. }), "{error:?}");
        expect_state(&docs, &model, &what("after the failed fsync"));
        // Both segments' overlays change again, so the next flush writes state files.
        run(&db, &docs, &mut model, Step::Delete(key(2)));
        run(&db, &docs, &mut model, Step::Delete(key(21)));

        let before = sim.operations();
        sim.fail_after(n);
        let result = db.flush();
        let reached = sim.operations() - before > n;
        sim.clear_failures();
        if !reached {
            result.unwrap_or_else(|e| panic!("{}: {e}", what("no failure")));
            assert!(
                failures > 10,
                "a flush has dozens of operations, {failures} failed"
            );
            return;
        }
        match &result {
            Ok(()) => {}
            Err(Error::Io { .. } | Error::Poisoned { .. }) => failures += 1,
            Err(other) => panic!("{}: {other:?}", what("the error")),
        }
        expect_state(&docs, &model, &what("the handle"));
        drop(docs);
        drop(db);
        for cut in [false, true] {
            if cut {
                sim.power_cut();
            }
            let db =
                torture::open_quiet_sim(&sim).unwrap_or_else(|e| panic!("{}: {e}", what("reopen")));
            db.verify()
                .unwrap_or_else(|e| panic!("{}: {e}", what("verify after reopen")));
            let docs = db.collection(torture::COLLECTION).unwrap();
            expect_state(&docs, &model, &what("reopened"));
        }
    }
}

/// A write whose WAL fsync fails (Always) is refused with `Io`, every later write and
/// flush with `Poisoned` (as after fsyncgate: a retried fsync may succeed over lost
/// pages). Nothing acknowledged is lost, and the refused write stays refused after a
/// reopen. Bug: its record stayed in the WAL file, so a reopen without a power cut
/// brought back a write the caller had been told failed.
#[test]
fn a_failed_wal_fsync_poisons_the_handle_and_a_reopen_agrees_with_it() {
    let sim = torture::sim_disk();
    let db = torture::open_quiet_sim(&sim).unwrap();
    let docs = db
        .create_collection(torture::COLLECTION, full_schema(Metric::L2))
        .unwrap();
    let mut model = Model::default();
    let mut rng = StdRng::seed_from_u64(5);
    let mut batch = |keys: std::ops::Range<u64>| {
        Step::UpsertMany(
            keys.map(|i| (key(i), torture::random_doc(&mut rng)))
                .collect(),
        )
    };
    run(&db, &docs, &mut model, batch(0..20));
    run(&db, &docs, &mut model, Step::Flush);
    run(&db, &docs, &mut model, batch(10..30));
    run(&db, &docs, &mut model, Step::Delete(key(3)));

    sim.fail_next(Operation::Sync, 1);
    let doc = strata::Doc::new().numeric("rank", 1.0);
    let failed = docs.upsert(key(40), doc.clone());
    assert!(matches!(failed, Err(Error::Io { .. })), "{failed:?}");
    let poisoned = |result: strata::Result<()>| {
        assert!(matches!(result, Err(Error::Poisoned { .. })), "{result:?}");
    };
    poisoned(docs.upsert(key(41), doc.clone()));
    poisoned(docs.delete(&key(0)).map(|_| ()));
    poisoned(
        docs.expire(key(1).as_str(), Duration::from_secs(60))
            .map(|_| ()),
    );
    poisoned(db.flush());
    expect_state(&docs, &model, "the poisoned handle");
    drop(docs);
    drop(db);

    // The write whose fsync failed was reported failed and the handle never showed
    // it; its bytes may still have reached the disk (nothing tells after a failed
    // fsync), so a reopen finds it or not, and nothing else differs. The writes
    // refused by the poisoned handle are never there.
    let mut with_failed = model.clone();
    with_failed.apply(&Step::Upsert(key(40), doc.clone()));
    for cut in [false, true] {
        if cut {
            sim.power_cut();
        }
        let db = torture::open_quiet_sim(&sim).unwrap();
        db.verify().unwrap();
        let docs = db.collection(torture::COLLECTION).unwrap();
        if let Err(message) =
            torture::check(&docs, &[&model, &with_failed], &torture::queries(3, 2))
        {
            panic!(
                "{}: {message}",
                if cut { "after a power cut" } else { "reopened" }
            );
        }
        assert_eq!(docs.get(&key(41)).unwrap(), None);
        // Clean the slate for the next round, as the test goes on from the model.
        if docs.get(&key(40)).unwrap().is_some() {
            docs.delete(&key(40)).unwrap();
        }
    }
    // Reopened, the database takes writes again.
    let db = torture::open_quiet_sim(&sim).unwrap();
    let docs = db.collection(torture::COLLECTION).unwrap();
    run(&db, &docs, &mut model, Step::Upsert(key(40), doc));
    expect_state(&docs, &model, "written after the reopen");
}

/// Under EverySec a failed background fsync poisons the handle: later writes are
/// refused, and every write acknowledged before (in memory and in the WAL) is there in
/// the handle and after a reopen.
#[test]
fn a_failed_background_fsync_poisons_the_handle_and_keeps_what_was_acknowledged() {
    let sim = torture::sim_disk();
    let options = Options {
        file_system: Some(Arc::new(sim.clone())),
        background_work: false,
        ..torture::options(Durability::EverySec, 10_000)
    };
    let db = Database::open_with(torture::sim_db_path(), options.clone()).unwrap();
    let docs = db
        .create_collection(torture::COLLECTION, full_schema(Metric::L2))
        .unwrap();
    let mut model = Model::default();
    let mut rng = StdRng::seed_from_u64(6);
    sim.fail_next(Operation::Sync, 1);
    let deadline = Instant::now() + Duration::from_secs(20);
    for index in 0u64.. {
        let step = Step::Upsert(key(index % KEYS), torture::random_doc(&mut rng));
        match torture::execute_checked(&db, &docs, &mut model, &step) {
            Ok(()) => {}
            Err(Ok(Error::Poisoned { .. })) => break,
            Err(other) => panic!("{step:?}: {other:?}"),
        }
        assert!(Instant::now() < deadline, "the background fsync never ran");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(matches!(db.flush(), Err(Error::Poisoned { .. })));
    expect_state(&docs, &model, "the poisoned handle");
    drop(docs);
    drop(db);
    let db = Database::open_with(torture::sim_db_path(), options).unwrap();
    db.verify().unwrap();
    expect_state(
        &db.collection(torture::COLLECTION).unwrap(),
        &model,
        "reopened",
    );
}
