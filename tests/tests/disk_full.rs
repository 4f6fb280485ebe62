//! A full disk, on the simulated disk's space limit: writes, flushes and compactions
//! fail with `Error::Io` (never a panic, never corruption), nothing acknowledged is
//! lost, and once there is space again the same handle writes, flushes and compacts
//! as before. Checked against the exact model both in the failing handle and after a
//! reopen.
//!
//! What the engine does, asserted precisely: running out of space never poisons the
//! database (a failed append is cut back off the WAL; fsync does not fail for lack of
//! space), and a write that fails changes nothing, in memory or on disk.

use std::io::ErrorKind;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata::fs::sim::FullDisk;
use strata::{Collection, Database, Durability, Error, Metric, Options};
use strata_tests::full_schema;
use strata_tests::torture::{self, key, Model, Step};

/// Free space is swept in steps of this many bytes.
const BUDGET_STEP: u64 = 24;

fn is_disk_full(error: &Error) -> bool {
    matches!(error, Error::Io { source, .. } if source.kind() == ErrorKind::StorageFull)
}

fn expect_state(docs: &Collection, model: &Model, what: &str) {
    if let Err(message) = torture::check(docs, &[model], &torture::queries(7, 2)) {
        panic!("{what}: {message}");
    }
}

fn run(db: &Database, docs: &Collection, model: &mut Model, step: Step) {
    if let Err(error) = torture::execute_checked(db, docs, model, &step) {
        panic!("{step:?}: {error:?}");
    }
}

/// Runs `action` on the set-up database with `budget` bytes of free space, for every
/// budget from none up to the first that suffices. After each failure: the handle still
/// holds exactly the model and verifies; then either the same handle, given space,
/// runs the action and more writes, or the database reopens on the still-full disk.
/// Returns how many budgets failed.
fn sweep(name: &str, flush_first: bool, action: fn(&Database) -> strata::Result<()>) -> u64 {
    for iteration in 0u64.. {
        let budget = iteration * BUDGET_STEP;
        assert!(
            budget < 1 << 20,
            "{name} fails even with {budget} bytes free"
        );
        let what = |stage: &str| format!("{name} with {budget} bytes free: {stage}");
        let (sim, db, docs, mut model) = torture::seeded_segments();
        if flush_first {
            db.flush().unwrap();
        }
        sim.set_full_disk(if iteration % 2 == 0 {
            FullDisk::WriteNothing
        } else {
            FullDisk::WritePartial
        });
        sim.set_space_limit(Some(sim.space_used() + budget));
        let error = match action(&db) {
            Ok(()) => {
                expect_state(&docs, &model, &what("succeeded"));
                db.verify().unwrap();
                return iteration;
            }
            Err(error) => error,
        };
        assert!(is_disk_full(&error), "{}: {error:?}", what("failed"));
        expect_state(&docs, &model, &what("the failing handle"));
        db.verify()
            .unwrap_or_else(|e| panic!("{}: {e}", what("verify the failing handle")));
        let (db, docs) = if (iteration / 2) % 2 == 0 {
            // Space again: the same handle carries on.
            sim.set_space_limit(None);
            action(&db).unwrap_or_else(|e| panic!("{}: {e}", what("retry with space")));
            run(&db, &docs, &mut model, Step::Delete(key(8)));
            run(
                &db,
                &docs,
                &mut model,
                Step::Upsert(key(47), Default::default()),
            );
            db.flush().unwrap();
            db.compact().unwrap();
            expect_state(&docs, &model, &what("the same handle with space"));
            db.verify().unwrap();
            drop(docs);
            drop(db);
            let db = torture::open_quiet_sim(&sim).unwrap();
            let docs = db.collection(torture::COLLECTION).unwrap();
            (db, docs)
        } else {
            // Reopen while the disk is still full: nothing to write at open.
            drop(docs);
            drop(db);
            let db = torture::open_quiet_sim(&sim)
                .unwrap_or_else(|e| panic!("{}: {e}", what("reopen on a full disk")));
            let docs = db.collection(torture::COLLECTION).unwrap();
            expect_state(&docs, &model, &what("reopened on a full disk"));
            sim.set_space_limit(None);
            action(&db).unwrap_or_else(|e| panic!("{}: {e}", what("after reopen with space")));
            (db, docs)
        };
        expect_state(&docs, &model, &what("reopened"));
        db.verify().unwrap();
    }
    unreachable!()
}

#[test]
fn disk_full_at_every_point_of_a_flush() {
    let failures = sweep("flush", false, Database::flush);
    eprintln!(
        "flush: failed with up to {} bytes free",
        (failures - 1) * BUDGET_STEP
    );
    // Segment files, state files, the manifest and a new WAL file: a few KiB.
    assert!(failures > 50, "the sweep must hit every file of a flush");
}

#[test]
fn disk_full_at_every_point_of_a_compaction() {
    let failures = sweep("compact", true, Database::compact);
    eprintln!(
        "compact: failed with up to {} bytes free",
        (failures - 1) * BUDGET_STEP
    );
    assert!(
        failures > 50,
        "the sweep must reach the merged segment's files"
    );
}

/// The torture workload (background compaction and expiry on, tiny memtables) on a
/// disk with a random amount of free space: steps fail as the disk fills, each failed
/// step changes nothing, and everything acknowledged is there, in the handle and after
/// a reopen; with space again the same handle (or a reopened one) carries on. CI runs
/// 200 cycles; `STRATA_TORTURE_CYCLES` and `STRATA_TORTURE_SEED` change that.
#[test]
fn random_workload_on_a_filling_disk() {
    let base = torture::base_seed("disk_full", 0x5EED_0003);
    let cycles = torture::cycles(200);
    let mut rng = StdRng::seed_from_u64(base);
    let started = Instant::now();
    let (mut failed_steps, mut acked) = (0, 0);
    for cycle in 0..cycles {
        let sim = torture::sim_disk();
        let rows = rng.gen_range(torture::MEMTABLE_ROWS);
        let db = torture::open_sim(&sim, Durability::Always, rows).unwrap();
        let docs = db
            .create_collection(torture::COLLECTION, full_schema(Metric::L2))
            .unwrap();
        let warm_up = torture::phase_seed(base, cycle << 1);
        let warm = torture::run_phase(&db, &docs, &Model::default(), warm_up, 40);
        assert!(warm.failed.is_none(), "cycle {cycle}: {:?}", warm.failed);
        let mut model = Model::default().after(warm_up, 40);

        sim.set_full_disk(if rng.gen_bool(0.5) {
            FullDisk::WriteNothing
        } else {
            FullDisk::WritePartial
        });
        sim.set_space_limit(Some(sim.space_used() + rng.gen_range(0..16_000)));
        let seed = torture::phase_seed(base, cycle << 1 | 1);
        let mut failures = 0;
        for index in 0..100 {
            let step = torture::step(seed, index);
            match torture::execute_checked(&db, &docs, &mut model, &step) {
                Ok(()) => acked += 1,
                Err(Ok(error)) => {
                    assert!(
                        is_disk_full(&error),
                        "cycle {cycle} step {index} {step:?}: {error:?}"
                    );
                    // A failed step changed nothing.
                    let what = format!("cycle {cycle}: after {step:?} failed");
                    expect_state(&docs, &model, &what);
                    failures += 1;
                    if failures == 8 {
                        break;
                    }
                }
                Err(Err(message)) => panic!("cycle {cycle} step {index}: {message}"),
            }
        }
        failed_steps += failures;
        expect_state(&docs, &model, &format!("cycle {cycle}: the full handle"));
        db.verify()
            .unwrap_or_else(|e| panic!("cycle {cycle}: verify on a full disk: {e}"));

        let (db, docs) = if cycle % 2 == 0 {
            sim.set_space_limit(None);
            (db, docs)
        } else {
            drop(docs);
            drop(db);
            let db = torture::open_sim(&sim, Durability::Always, rows)
                .unwrap_or_else(|e| panic!("cycle {cycle}: reopen on a full disk: {e}"));
            let docs = db.collection(torture::COLLECTION).unwrap();
            expect_state(&docs, &model, &format!("cycle {cycle}: reopened full"));
            sim.set_space_limit(None);
            (db, docs)
        };
        // With space, everything works again.
        let seed = torture::phase_seed(base, u64::MAX - cycle);
        let more = torture::run_phase(&db, &docs, &model, seed, 30);
        assert!(more.failed.is_none(), "cycle {cycle}: {:?}", more.failed);
        model = model.after(seed, 30);
        db.flush().unwrap();
        db.compact().unwrap();
        expect_state(&docs, &model, &format!("cycle {cycle}: with space again"));
        drop(docs);
        drop(db);
        let db = torture::open_sim(&sim, Durability::Always, rows).unwrap();
        db.verify().unwrap();
        let docs = db.collection(torture::COLLECTION).unwrap();
        expect_state(
            &docs,
            &model,
            &format!("cycle {cycle}: reopened with space"),
        );
    }
    eprintln!(
        "disk_full: {cycles} cycles, {:.1?}: {acked} steps acknowledged on a filling \
         disk, {failed_steps} failed",
        started.elapsed()
    );
    assert!(failed_steps > cycles, "the disk must fill in most cycles");
}

/// Bug found by `random_workload_on_a_filling_disk`: a write that filled the memtable
/// returned the error of the flush it triggered, although it was logged, synced and
/// applied: the caller was told it failed, and then saw it (and so did a reopen).
#[test]
fn a_write_is_acknowledged_even_when_the_flush_it_triggers_fails() {
    let sim = torture::sim_disk();
    let options = Options {
        memtable_rows_max: 4,
        ..torture::quiet_sim_options(&sim)
    };
    let db = Database::open_with(torture::sim_db_path(), options.clone()).unwrap();
    let docs = db
        .create_collection(torture::COLLECTION, full_schema(Metric::L2))
        .unwrap();
    let mut model = Model::default();
    let mut rng = StdRng::seed_from_u64(5);
    for index in 0..3 {
        run(
            &db,
            &docs,
            &mut model,
            Step::Upsert(key(index), torture::random_doc(&mut rng)),
        );
    }
    // Room for the WAL record of one more document, not for a segment of four.
    sim.set_space_limit(Some(sim.space_used() + 256));
    let fourth = Step::Upsert(key(3), torture::random_doc(&mut rng));
    run(&db, &docs, &mut model, fourth);
    expect_state(&docs, &model, "after the fourth write");
    let error = db
        .flush()
        .expect_err("the disk is still too full for a segment");
    assert!(is_disk_full(&error), "{error:?}");
    sim.set_space_limit(None);
    db.flush().unwrap();
    drop(docs);
    drop(db);
    let db = Database::open_with(torture::sim_db_path(), options).unwrap();
    expect_state(
        &db.collection(torture::COLLECTION).unwrap(),
        &model,
        "reopened",
    );
}
