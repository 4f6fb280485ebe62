//! SIGKILL torture: a child process runs the random torture workload under
//! `Durability::Always` (and, fewer cycles, `EverySec` and `Never`) (upserts, batches, deletes, TTLs, flushes and compactions, with
//! tiny memtables and a busy background thread), and the parent kills it at random
//! moments, over and over, on one database directory. After every kill the parent
//! reopens the database, verifies every file, and checks it against the model:
//! every acknowledged step is there, and nothing else except possibly the one step in
//! flight (the state equals the model after N acknowledged steps or after N + 1).
//!
//! CI runs 50 cycles (10 each for EverySec and Never). The long run (also in README.md, under Durability):
//!
//! ```text
//! STRATA_TORTURE_CYCLES=1000 cargo test --release -p strata-tests --test crash_torture -- --nocapture
//! ```
//!
//! `STRATA_TORTURE_SEED=<n>` picks another workload (the seed is printed).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata::{Database, Durability, Metric};
use strata_tests::full_schema;
use strata_tests::torture::{self, Model};

/// Acknowledged steps the parent waits for at most before a kill.
const MAX_ACKS: u64 = 60;

/// What one child run did before it was killed.
struct Run {
    /// Steps acknowledged on the pipe (read before or after the kill).
    acked: u64,
    /// What the child printed on stderr: empty unless it failed on its own.
    stderr: String,
}

/// Starts the torture child on `dir` with phase `seed`, waits for `wait_acks`
/// acknowledgements, sleeps `delay`, kills it with SIGKILL and collects every
/// acknowledgement it managed to write.
fn run_and_kill(
    dir: &Path,
    durability: &str,
    seed: u64,
    rows: usize,
    wait_acks: u64,
    delay: Duration,
) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
        .args([dir.to_str().unwrap(), durability, "torture"])
        .args([seed.to_string(), rows.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn crash_writer");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut acked = 0;
    let read_ack = |stdout: &mut BufReader<_>, acked: &mut u64| -> bool {
        let mut line = String::new();
        if stdout
            .read_line(&mut line)
            .expect("read the child's stdout")
            == 0
        {
            return false;
        }
        assert_eq!(
            line.trim_end(),
            format!("ack {acked}"),
            "acks come in order"
        );
        *acked += 1;
        true
    };
    while acked < wait_acks && read_ack(&mut stdout, &mut acked) {}
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
    // SIGKILL (a no-op error if it already exited, which the stderr check reports).
    let _ = child.kill();
    let status = child.wait().unwrap();
    // Everything written before the kill is still in the pipe.
    while read_ack(&mut stdout, &mut acked) {}
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    if status.success() || status.code().is_some() {
        stderr.push_str(&format!("\n(the child exited by itself: {status})"));
    }
    Run { acked, stderr }
}

/// The tests of this file run one at a time. The directory lock is an `flock`, held by
/// an open file description: a child spawned by one test inherits every descriptor of
/// this process until it execs, so for that moment it holds the lock of a database
/// another test just closed, and that test's writer would find it `Locked`.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `cycles` kills of a writer under `durability` on one database.
fn torture(name: &str, durability: Durability, default_seed: u64, cycles: u64) {
    let _one_at_a_time = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let flag = match durability {
        Durability::Always => "always",
        Durability::EverySec => "everysec",
        Durability::Never => "never",
    };
    let base = torture::base_seed(name, default_seed);
    let mut rng = StdRng::seed_from_u64(base);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("torture.strata");
    {
        let db = Database::open_with(&path, torture::options(durability, 30)).unwrap();
        db.create_collection(torture::COLLECTION, full_schema(Metric::L2))
            .unwrap();
    }
    let started = Instant::now();
    let mut model = Model::default();
    let (mut in_flight_landed, mut total_acked, mut max_keys) = (0, 0, 0);
    for cycle in 0..cycles {
        let seed = torture::phase_seed(base, cycle);
        let rows = rng.gen_range(torture::MEMTABLE_ROWS);
        let wait_acks = rng.gen_range(0..=MAX_ACKS);
        // Half the kills land right after an ack, the others up to 3 ms later: inside
        // the next step's flush or compaction, or the background thread's.
        let delay = if rng.gen_bool(0.5) {
            Duration::from_micros(rng.gen_range(0..3_000))
        } else {
            Duration::ZERO
        };
        let run = run_and_kill(&path, flag, seed, rows, wait_acks, delay);
        assert!(
            run.stderr.is_empty(),
            "cycle {cycle}: the child failed after {} acks:\n{}",
            run.acked,
            run.stderr
        );
        let acknowledged = model.after(seed, run.acked);
        let mut with_next = acknowledged.clone();
        with_next.apply(&torture::step(seed, run.acked));

        let db = Database::open_with(&path, torture::options(durability, rows))
            .unwrap_or_else(|e| panic!("cycle {cycle}: reopen after SIGKILL: {e}"));
        if let Some(cut) = &db.recovery_report().cut {
            assert_eq!(
                cut.corruption, None,
                "cycle {cycle}: only a torn tail may be cut"
            );
        }
        db.verify()
            .unwrap_or_else(|e| panic!("cycle {cycle}: verify after SIGKILL: {e}"));
        let docs = db.collection(torture::COLLECTION).unwrap();
        let queries = torture::queries(seed, 3);
        let matched =
            torture::check(&docs, &[&acknowledged, &with_next], &queries).unwrap_or_else(|e| {
                panic!(
                    "cycle {cycle} (phase seed {seed}, {} acked, next step {:?}): {e}",
                    run.acked,
                    torture::step(seed, run.acked)
                )
            });
        if matched == 1 && acknowledged != with_next {
            in_flight_landed += 1;
        }
        model = if matched == 0 {
            acknowledged
        } else {
            with_next
        };
        total_acked += run.acked;
        max_keys = max_keys.max(model.entries.len());
    }
    eprintln!(
        "{name}: {cycles} cycles, {total_acked} steps acknowledged, {in_flight_landed} \
         kills kept the step in flight, up to {max_keys} keys, {:.1?}",
        started.elapsed()
    );
}

#[test]
fn sigkill_at_random_moments_loses_nothing_acknowledged_and_adds_nothing_else() {
    let cycles = torture::cycles(50);
    torture("crash_torture", Durability::Always, 0x5EED_0001, cycles);
}

/// A process crash loses nothing acknowledged whatever the durability: the WAL's
/// writes are in the OS's page cache, which outlives the process.
#[test]
fn sigkill_under_everysec_and_never_loses_nothing_acknowledged() {
    let cycles = torture::cycles(50) / 5;
    torture(
        "crash_torture EverySec",
        Durability::EverySec,
        0x5EED_0007,
        cycles,
    );
    torture(
        "crash_torture Never",
        Durability::Never,
        0x5EED_0008,
        cycles,
    );
}
