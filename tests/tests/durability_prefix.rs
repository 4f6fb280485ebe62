//! Power loss under `Durability::EverySec` and `Durability::Never` on the simulated
//! disk: a cut may lose the tail of what was acknowledged, but what survives is always
//! a prefix of the acknowledged sequence (never a step without every step before it),
//! and never loses anything before the last acknowledged flush or compaction, which
//! sync the WAL before they publish.
//!
//! CI runs 500 cycles per durability; `STRATA_TORTURE_CYCLES` and
//! `STRATA_TORTURE_SEED` change that.

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata::fs::sim::PowerCutMode;
use strata::{Durability, Error, Metric};
use strata_tests::full_schema;
use strata_tests::torture::{self, Model};

const MAX_STEPS: u64 = 60;
const OPS_PER_STEP: u64 = 12;

fn recovered_state_is_an_acknowledged_prefix(durability: Durability, default_seed: u64) {
    let name = format!("durability_prefix {durability:?}");
    let base = torture::base_seed(&name, default_seed);
    let cycles = torture::cycles(500);
    let mut rng = StdRng::seed_from_u64(base);
    let sim = torture::sim_disk();
    {
        let db = torture::open_sim(&sim, durability, 30).unwrap();
        db.create_collection(torture::COLLECTION, full_schema(Metric::L2))
            .unwrap();
        // The collection itself must survive: flush makes it durable.
        db.flush().unwrap();
    }
    let started = Instant::now();
    let mut model = Model::default();
    let (mut lost_total, mut whole, mut acked_total) = (0, 0, 0);
    for cycle in 0..cycles {
        let seed = torture::phase_seed(base, cycle);
        let rows = rng.gen_range(torture::MEMTABLE_ROWS);
        let db = torture::open_sim(&sim, durability, rows)
            .unwrap_or_else(|e| panic!("cycle {cycle}: reopen: {e}"));
        let docs = db.collection(torture::COLLECTION).unwrap();
        if rng.gen_bool(0.5) {
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
        if let Some((step, error)) = &run.failed {
            assert!(
                scheduled && sim.is_powered_off(),
                "cycle {cycle}: {step:?} failed without a power cut: {error}"
            );
            assert!(
                matches!(error, Error::Io { .. } | Error::Poisoned { .. }),
                "cycle {cycle}: a power cut is an I/O error, got {error:?}"
            );
        }
        torture::cut_power_and_restart(&sim, db, docs);
        acked_total += run.acked;

        // Allowed: the state after any prefix from the last durable point up to the
        // acknowledged steps, plus the one that failed.
        let last = run.acked + u64::from(run.failed.is_some());
        let prefixes = model.prefixes(seed, last);
        let allowed: Vec<&Model> = prefixes[run.durable_floor as usize..].iter().collect();
        let db = torture::open_sim(&sim, durability, rows)
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
        // Several prefixes may look alike (a flush changes nothing visible); the
        // longest one that matches is the one the next phase continues from.
        let state = Model::read(&docs).unwrap_or_else(|e| panic!("cycle {cycle}: {e}"));
        let matched = allowed
            .iter()
            .rposition(|model| **model == state)
            .unwrap_or_else(|| {
                let error = torture::check(&docs, &allowed, &[]).unwrap_err();
                panic!(
                    "cycle {cycle} (phase seed {seed}): the recovered state is no prefix of \
                     steps {}..={last}: {error}",
                    run.durable_floor
                )
            });
        torture::check(
            &docs,
            &allowed[matched..=matched],
            &torture::queries(seed, 2),
        )
        .unwrap_or_else(|e| panic!("cycle {cycle}: {e}"));
        let kept = run.durable_floor + matched as u64;
        lost_total += run.acked.saturating_sub(kept);
        whole += u64::from(kept >= run.acked);
        model = allowed[matched].clone();
        drop(docs);
        drop(db);
    }
    eprintln!(
        "{name}: {cycles} cycles, {:.1?}: {acked_total} steps acknowledged, {lost_total} \
         lost to power cuts, {whole} cycles lost nothing",
        started.elapsed()
    );
}

#[test]
fn everysec_power_loss_keeps_a_prefix_of_what_was_acknowledged() {
    recovered_state_is_an_acknowledged_prefix(Durability::EverySec, 0x5EED_0004);
}

#[test]
fn never_power_loss_keeps_a_prefix_of_what_was_acknowledged() {
    recovered_state_is_an_acknowledged_prefix(Durability::Never, 0x5EED_0005);
}
