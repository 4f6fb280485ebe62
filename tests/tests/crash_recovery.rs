//! A writer killed with SIGKILL loses nothing it acknowledged, and what survives is a
//! prefix of what it wrote, with batches whole.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use rand::{Rng, SeedableRng};
use strata::{Database, Durability, Options};
use strata_tests::{doc_for, key_for, schedule_step};

/// Runs the writer on the database in `dir`, kills it with SIGKILL after
/// `acks_before_kill` acknowledged steps, and returns the last acknowledged end.
fn write_then_kill(dir: &std::path::Path, durability: &str, acks_before_kill: usize) -> u64 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
        .args([dir.to_str().unwrap(), durability, "write"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn crash_writer");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acknowledged = 0;
    for _ in 0..acks_before_kill {
        let line = lines.next().expect("writer exited early").unwrap();
        acknowledged = line.strip_prefix("ack ").unwrap().parse().unwrap();
    }
    child.kill().expect("SIGKILL the writer");
    child.wait().unwrap();
    acknowledged
}

/// Every step end of the schedule up to `limit`: the only states a crash may leave.
fn step_ends(limit: u64) -> Vec<u64> {
    let mut ends = vec![0];
    for step in 0.. {
        let end = schedule_step(step).end;
        if end > limit {
            break;
        }
        ends.push(end);
    }
    ends
}

fn check_recovered(dir: &std::path::Path, acknowledged: u64, durability: Durability) {
    let db = Database::open_with(
        dir,
        Options {
            durability,
            ..Options::default()
        },
    )
    .expect("reopen after SIGKILL");
    let docs = db.collection("docs").expect("collection survives");
    let recovered = docs.len().unwrap() as u64;
    assert!(
        recovered >= acknowledged,
        "{durability:?}: {acknowledged} documents acknowledged, {recovered} recovered"
    );
    assert!(
        step_ends(recovered + 3).contains(&recovered),
        "{durability:?}: {recovered} documents is not a whole number of steps: a batch was split"
    );
    for index in 0..recovered {
        let doc = docs.get(&key_for(index)).unwrap();
        assert_eq!(doc, Some(doc_for(index)), "document {index} after recovery");
    }
    assert_eq!(
        docs.get(&key_for(recovered)).unwrap(),
        None,
        "nothing past the prefix"
    );
}

#[test]
fn sigkill_loses_nothing_acknowledged_under_every_durability() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for (name, durability) in [
        ("always", Durability::Always),
        ("everysec", Durability::EverySec),
        ("never", Durability::Never),
    ] {
        for _cycle in 0..3 {
            let dir = tempfile::tempdir().unwrap();
            let acks = rng.gen_range(1..150);
            let acknowledged = write_then_kill(dir.path(), name, acks);
            check_recovered(dir.path(), acknowledged, durability);
        }
    }
}

#[test]
fn a_recovered_database_keeps_accepting_writes() {
    let dir = tempfile::tempdir().unwrap();
    let first = write_then_kill(dir.path(), "always", 40);
    // The second writer restarts the schedule, replacing the same keys with the same
    // documents, then goes further.
    let second = write_then_kill(dir.path(), "always", 60);
    check_recovered(dir.path(), first.max(second), Durability::Always);
}
