//! Group commit through the public API: under `Durability::Always` concurrent writers
//! share fsyncs, and every write that returned `Ok` is durable: a power cut in the
//! middle of eight writers (with flushes and compactions going on) keeps all of them.

use strata::{Durability, Metric};
use strata_tests::{doc_for, full_schema, key_for, torture};

const WRITERS: u64 = 8;
/// Rows per writer at most; the power goes out long before.
const ROWS_PER_WRITER: u64 = 2_000;

#[test]
fn every_row_acknowledged_by_eight_concurrent_writers_survives_a_power_cut() {
    // The cut lands after this many file operations: inside appends, shared fsyncs,
    // flushes (every 32 rows), compactions and WAL rotations, in turn.
    for (round, cut_after) in [60u64, 333, 1_000, 2_501].into_iter().enumerate() {
        let sim = torture::sim_disk();
        let db = torture::open_sim(&sim, Durability::Always, 32).unwrap();
        let docs = db
            .create_collection(torture::COLLECTION, full_schema(Metric::L2))
            .unwrap();
        sim.power_cut_after(cut_after);
        let acked: Vec<Vec<u64>> = std::thread::scope(|scope| {
            let writers: Vec<_> = (0..WRITERS)
                .map(|writer| {
                    let docs = &docs;
                    scope.spawn(move || {
                        let mut acked = Vec::new();
                        for i in 0..ROWS_PER_WRITER {
                            let index = writer * ROWS_PER_WRITER + i;
                            if docs.upsert(key_for(index), doc_for(index)).is_err() {
                                break;
                            }
                            acked.push(index);
                        }
                        acked
                    })
                })
                .collect();
            writers
                .into_iter()
                .map(|writer| writer.join().unwrap())
                .collect()
        });
        drop(docs);
        drop(db);

        let acked: Vec<u64> = acked.into_iter().flatten().collect();
        assert!(
            sim.is_powered_off() && acked.len() < (WRITERS * ROWS_PER_WRITER) as usize,
            "round {round}: the power cut stopped the writers"
        );
        sim.restart();
        let db = torture::open_sim(&sim, Durability::Always, 32)
            .unwrap_or_else(|e| panic!("round {round}: reopen after the power cut: {e}"));
        db.verify().unwrap();
        let docs = db.collection(torture::COLLECTION).unwrap();
        for &index in &acked {
            assert_eq!(
                docs.get(&key_for(index)).unwrap(),
                Some(doc_for(index)),
                "round {round}: acknowledged row {index} lost in the power cut"
            );
        }
        // Besides the acknowledged rows, at most the write each writer had in flight.
        let len = docs.len().unwrap();
        assert!(
            (acked.len()..=acked.len() + WRITERS as usize).contains(&len),
            "round {round}: {len} rows after the cut, {} acknowledged",
            acked.len()
        );
    }
}
