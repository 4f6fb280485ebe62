//! Crash and reopen keep each segment's HNSW graph consistent with its rows: a writer
//! on an HNSW collection that flushes every 16 rows and compacts eagerly is killed with
//! SIGKILL at random moments (often mid-flush or mid-merge, while graphs are built);
//! every reopen must verify (graph checksums, structure, one node per row), hold a
//! whole-step prefix of the schedule with everything acknowledged, and answer
//! graph-forced searches with live keys only, never fewer than k.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use strata::{Database, Metric, Options, Search};
use strata_tests::{doc_for, key_for, oracle_distance, schedule_step, vector_for};

fn write_then_kill(dir: &std::path::Path, acks: usize, delay: Duration) -> u64 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
        .args([dir.to_str().unwrap(), "always", "write-hnsw"])
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

fn is_step_end(count: u64) -> bool {
    count == 0
        || (0..)
            .map(|step| schedule_step(step).end)
            .take_while(|end| *end <= count)
            .any(|end| end == count)
}

#[test]
fn graphs_survive_sigkill_mid_flush_and_mid_compaction() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut graph_segments = 0;
    for cycle in 0..12 {
        let dir = tempfile::tempdir().unwrap();
        let acknowledged = write_then_kill(
            dir.path(),
            rng.gen_range(20..120),
            Duration::from_millis(rng.gen_range(0..4)),
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
            is_step_end(recovered),
            "cycle {cycle}: {recovered} is not a whole number of steps"
        );
        for index in (0..recovered).step_by(7) {
            assert_eq!(
                docs.get(&key_for(index)).unwrap(),
                Some(doc_for(index)),
                "cycle {cycle}: document {index}"
            );
        }
        // Searches forced through the graphs (where segments have them) return live keys
        // only, exactly min(k, rows), and find the nearest rows of this small set.
        let probe = Search::knn("embedding", &vector_for(0), 10).brute_force(false);
        graph_segments += docs
            .explain(&probe)
            .unwrap()
            .sources
            .iter()
            .filter(|s| s.strategy == strata::Strategy::GraphTraversal)
            .count();
        let live: HashSet<String> = (0..recovered).map(key_for).collect();
        let mut found = 0.0;
        let queries = 8;
        for q in 0..queries {
            let query = vector_for(10_000 + q);
            let hits = docs
                .search(
                    &Search::knn("embedding", &query, 10)
                        .ef_runtime(64)
                        .brute_force(false)
                        .no_content(),
                )
                .unwrap();
            assert_eq!(hits.len() as u64, recovered.min(10), "cycle {cycle}");
            assert!(
                hits.iter().all(|hit| live.contains(&hit.key)),
                "cycle {cycle}: a key past the prefix"
            );
            let mut truth: Vec<(f64, u64)> = (0..recovered)
                .map(|i| (oracle_distance(Metric::L2, &query, &vector_for(i)), i))
                .collect();
            truth.sort_by(|a, b| a.0.total_cmp(&b.0));
            let expected: HashSet<String> =
                truth.iter().take(10).map(|(_, i)| key_for(*i)).collect();
            found += hits
                .iter()
                .filter(|hit| expected.contains(&hit.key))
                .count() as f64
                / expected.len().max(1) as f64;
        }
        assert!(
            found / queries as f64 >= 0.9,
            "cycle {cycle}: recall@10 {}",
            found / queries as f64
        );
    }
    assert!(
        graph_segments >= 12,
        "only {graph_segments} segments had a graph: the test would not cover them"
    )
}
