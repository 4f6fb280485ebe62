//! Power-loss torture on the simulated disk: the torture workload runs in-process
//! under `Durability::Always` over `SimFileSystem`, and the power is cut at random
//! moments: at a random file operation (`power_cut_after`, which lands inside WAL
//! appends and fsyncs, flushes, compactions, manifest publication and WAL rotation,
//! the background thread's included), between steps, and while reopening. Unsynced
//! bytes are dropped, or (`PowerCutMode::KeepRandomPrefix`) a random prefix of them
//! survives. After each cut the database reopens on the same disk, verifies, and must
//! hold every acknowledged step, and nothing else but possibly the step that failed.
//!
//! CI runs 1,000 cycles; `STRATA_TORTURE_CYCLES` and `STRATA_TORTURE_SEED` change that.

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata::fs::sim::PowerCutMode;
use strata::fs::SimFileSystem;
use strata::{Durability, Error, Metric};
use strata_tests::full_schema;
use strata_tests::torture::{self, Model, Step};

/// Steps per phase, at most.
const MAX_STEPS: u64 = 60;
/// File operations per step, roughly (measured: appends, fsyncs, and a flush or a
/// compaction every few steps), to aim `power_cut_after` inside the phase.
const OPS_PER_STEP: u64 = 12;

#[derive(Debug, Default)]
struct Tally {
    cuts_inside_steps: u64,
    cuts_inside_maintenance: u64,
    cuts_between_steps: u64,
    cuts_while_opening: u64,
    kept_prefix: u64,
    in_flight_survived: u64,
    acked: u64,
}

/// Opens the database, possibly cutting the power during the open first (which must
/// leave it as it was), then checks it against the candidates and verifies it.
fn reopen_and_check(
    sim: &SimFileSystem,
    rng: &mut StdRng,
    rows: usize,
    candidates: &[Model],
    seed: u64,
    tally: &mut Tally,
    cycle: u64,
) -> (strata::Database, strata::Collection, Model) {
    if rng.gen_bool(0.15) {
        sim.power_cut_after(rng.gen_range(0..40));
        match torture::open_sim(sim, Durability::Always, rows) {
            Ok(db) => drop(db),
            Err(error) => {
                assert!(
                    sim.is_powered_off(),
                    "cycle {cycle}: open failed without a power cut: {error}"
                );
                tally.cuts_while_opening += 1;
            }
        }
        // Cancels the cut if the open (and the drop) did fewer operations.
        sim.restart();
    }
    let db = torture::open_sim(sim, Durability::Always, rows)
        .unwrap_or_else(|e| panic!("cycle {cycle}: reopen after the power cut: {e}"));
    if let Some(cut) = &db.recovery_report().cut {
        assert_eq!(
            cut.corruption, None,
            "cycle {cycle}: only a torn tail may be cut"
        );
    }
    db.verify()
        .unwrap_or_else(|e| panic!("cycle {cycle}: verify after the power cut: {e}"));
    let docs = db.collection(torture::COLLECTION).unwrap();
    let refs: Vec<&Model> = candidates.iter().collect();
    let matched = torture::check(&docs, &refs, &torture::queries(seed, 2))
        .unwrap_or_else(|e| panic!("cycle {cycle} (phase seed {seed}): {e}"));
    if matched == 1 && candidates[0] != candidates[1] {
        tally.in_flight_survived += 1;
    }
    let model = candidates[matched].clone();
    (db, docs, model)
}

#[test]
fn power_cuts_at_random_moments_lose_nothing_acknowledged() {
    let base = torture::base_seed("power_loss", 0x5EED_0002);
    let cycles = torture::cycles(1000);
    let mut rng = StdRng::seed_from_u64(base);
    let sim = torture::sim_disk();
    {
        let db = torture::open_sim(&sim, Durability::Always, 30).unwrap();
        db.create_collection(torture::COLLECTION, full_schema(Metric::L2))
            .unwrap();
    }
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut candidates = vec![Model::default()];
    let mut previous_seed = 0;
    for cycle in 0..cycles {
        let seed = torture::phase_seed(base, cycle);
        let rows = rng.gen_range(torture::MEMTABLE_ROWS);
        let (db, docs, model) = reopen_and_check(
            &sim,
            &mut rng,
            rows,
            &candidates,
            previous_seed,
            &mut tally,
            cycle,
        );
        if rng.gen_bool(0.5) {
            tally.kept_prefix += 1;
            sim.set_power_cut_mode(PowerCutMode::KeepRandomPrefix { seed: rng.gen() });
        } else {
            sim.set_power_cut_mode(PowerCutMode::DropUnsynced);
        }
        let steps = rng.gen_range(1..=MAX_STEPS);
        let scheduled = rng.gen_bool(0.75);
        if scheduled {
            sim.power_cut_after(rng.gen_range(0..steps * OPS_PER_STEP));
        }
        let run = torture::run_phase(&db, &docs, &model, seed, steps);
        tally.acked += run.acked;
        let acknowledged = model.after(seed, run.acked);
        candidates = match &run.failed {
            None => {
                tally.cuts_between_steps += 1;
                vec![acknowledged]
            }
            Some((step, error)) => {
                assert!(
                    scheduled && sim.is_powered_off(),
                    "cycle {cycle}: {step:?} failed without a power cut: {error}"
                );
                assert!(
                    matches!(error, Error::Io { .. } | Error::Poisoned { .. }),
                    "cycle {cycle}: a power cut is an I/O error, got {error:?}"
                );
                tally.cuts_inside_steps += 1;
                if matches!(step, Step::Flush | Step::Compact) {
                    tally.cuts_inside_maintenance += 1;
                }
                let mut with_failed = acknowledged.clone();
                with_failed.apply(step);
                vec![acknowledged, with_failed]
            }
        };
        torture::cut_power_and_restart(&sim, db, docs);
        previous_seed = seed;
    }
    let (db, _docs, _) = reopen_and_check(
        &sim,
        &mut rng,
        30,
        &candidates,
        previous_seed,
        &mut tally,
        cycles,
    );
    drop(db);
    eprintln!(
        "power_loss: {cycles} cycles, {:.1?}: {tally:?}",
        started.elapsed()
    );
}
