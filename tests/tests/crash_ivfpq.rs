//! Crash and reopen keep each segment's IVF-PQ index consistent with its rows: a
//! writer on an IVF-PQ collection that flushes segments large enough to train and
//! compacts eagerly is killed with SIGKILL at random moments (often while quantisers
//! are trained, mid-flush or mid-merge); every reopen must verify (index checksums,
//! structure, one entry per row with a vector), hold whole batches with everything
//! acknowledged, and answer index-forced searches with live keys only, exactly k.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use strata::{Database, Options, Search, Strategy};
use strata_tests::{doc_for, key_for, vector_for, IVFPQ_BATCH};

fn write_then_kill(dir: &std::path::Path, acks: usize, delay: Duration) -> u64 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
        .args([dir.to_str().unwrap(), "everysec", "write-ivfpq"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn crash_writer");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acknowledged = 0;
    for _ in 0..acks {
        let line = lines.next().expect("writer exited early").unwrap();
        acknowledged = line.strip_prefix("ack ").unwrap().parse().unwrap();
    }
    std::thread::sleep(delay);
    child.kill().unwrap();
    child.wait().unwrap();
    acknowledged
}

#[test]
fn ivfpq_indexes_survive_sigkill_mid_training_flush_and_compaction() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    let mut indexed_segments = 0;
    for cycle in 0..8 {
        let dir = tempfile::tempdir().unwrap();
        // 9 to 25 batches: past the first flush (4,200 rows), often past a merge.
        let acknowledged = write_then_kill(
            dir.path(),
            rng.gen_range(9..26),
            Duration::from_millis(rng.gen_range(0..300)),
        );
        let db = Database::open_with(
            dir.path(),
            Options {
                background_work: false,
                ..Options::default()
            },
        )
        .unwrap();
        db.verify().unwrap_or_else(|e| panic!("cycle {cycle}: {e}"));
        let docs = db.collection("docs").unwrap();
        let recovered = docs.len().unwrap() as u64;
        assert!(
            recovered >= acknowledged,
            "cycle {cycle}: {acknowledged} acknowledged, {recovered} recovered"
        );
        assert!(
            recovered.is_multiple_of(IVFPQ_BATCH),
            "cycle {cycle}: {recovered} is not a whole number of batches"
        );
        for index in (0..recovered).step_by(97) {
            assert_eq!(
                docs.get(&key_for(index)).unwrap(),
                Some(doc_for(index)),
                "cycle {cycle}: document {index}"
            );
        }
        let live: HashSet<String> = (0..recovered).map(key_for).collect();
        for q in 0..4 {
            let request = Search::knn("embedding", &vector_for(100_000 + q), 10)
                .brute_force(false)
                .no_content();
            indexed_segments += docs
                .explain(&request)
                .unwrap()
                .sources
                .iter()
                .filter(|s| s.strategy == Strategy::IvfPqScan)
                .count();
            let hits = docs.search(&request).unwrap();
            assert_eq!(hits.len() as u64, recovered.min(10), "cycle {cycle}");
            assert!(
                hits.iter().all(|hit| live.contains(&hit.key)),
                "cycle {cycle}: a key past the prefix"
            );
        }
    }
    assert!(
        indexed_segments >= 8,
        "only {indexed_segments} searches met an IVF-PQ segment: the test would not cover them"
    );
}
