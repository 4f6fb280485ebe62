//! `read_under_writes`: `get` and k-NN latency of reader threads while the collection is
//! idle, then while one writer upserts batches (new keys and rewrites of old ones, so
//! memtables freeze, flush and merge under the readers), without pause or paced at
//! `--write-rate` rows per second.
//!
//! ```text
//! cargo run --release -p strata-bench --bin read_under_writes -- \
//!     [--rows 20000] [--dim 64] [--readers 3] [--seconds 5] [--write-rate 2000] \
//!     [--read-rate 200]
//! ```
//!
//! Readers load a published version and take no lock a writer holds, so what is left
//! of the difference is the cores they share with the writer and the flusher: a writer
//! without pause plus its indexing keeps both cores of a 2-core machine busy, which a
//! paced writer (an ingest the indexing can follow) does not.
//!
//! `--read-rate Q` paces each reader at Q iterations (a `get` and a k-NN) per second,
//! an open-loop load, instead of as fast as they return. For each k-NN call the
//! thread's scheduler counters (`/proc/thread-self/schedstat`) give the time it spent
//! runnable but waiting for a core (the kernel adds a wait when the thread is switched
//! in, so it is exact); the slowest 1% of calls report their mean wait, the part of
//! the tail that is oversubscription rather than the engine's work. Each phase also
//! reports the CPU the process used as a fraction of the machine (all cores).

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use strata::{Database, Doc, Metric, Options, Schema, Search, VectorIndex};
use strata_bench::synthetic::splitmix_vector;

const USAGE: &str = "usage: read_under_writes [--rows N] [--dim D] [--readers N] [--seconds S] \
     [--write-rate R] [--read-rate Q]";

struct Args {
    rows: u64,
    dim: usize,
    readers: usize,
    seconds: f64,
    /// Rows per second the writer keeps to; `None`: as fast as its calls return.
    write_rate: Option<f64>,
    /// Iterations per second each reader keeps to; `None`: as fast as they return.
    read_rate: Option<f64>,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        rows: 20_000,
        dim: 64,
        readers: 3,
        seconds: 5.0,
        write_rate: None,
        read_rate: None,
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let value = arguments
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = |what: &str| -> Result<f64, String> {
            value
                .parse::<f64>()
                .ok()
                .filter(|n| *n > 0.0)
                .ok_or_else(|| format!("{what} {value:?}: expected a positive number\n{USAGE}"))
        };
        match flag.as_str() {
            "--rows" => args.rows = number("--rows")? as u64,
            "--dim" => args.dim = number("--dim")? as usize,
            "--readers" => args.readers = number("--readers")? as usize,
            "--seconds" => args.seconds = number("--seconds")?,
            "--write-rate" => args.write_rate = Some(number("--write-rate")?),
            "--read-rate" => args.read_rate = Some(number("--read-rate")?),
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    Ok(args)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[at] as f64 / 1000.0
}

/// ns the calling thread has waited runnable for a core (the second schedstat
/// field; the first, time on a CPU, is only brought up to date at scheduler events,
/// too coarse for one call). `None` where the kernel does not keep it.
fn run_queue_wait() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().nth(1)?.parse().ok()
}

/// CPU seconds this process has used, all threads (ended ones included).
fn process_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let after = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // USER_HZ is 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// One k-NN call: ns of wall clock, and of it runnable waiting for a core.
#[derive(Clone, Copy)]
struct Call {
    wall: u64,
    wait: u64,
}

/// One reader's `get` latencies (ns) and k-NN calls.
type Samples = (Vec<u64>, Vec<Call>);

/// What one phase measured.
struct Phase {
    /// `get` latency in us: p50, p99, max.
    get: (f64, f64, f64),
    /// k-NN latency in us: p50, p99, max.
    knn: (f64, f64, f64),
    /// Of the slowest 1% of k-NN calls: mean us, mean us waiting for a core.
    tail_wall_wait: (f64, f64),
    calls: usize,
    /// CPU the process used, as a fraction of the machine (all cores).
    machine: f64,
}

/// Latencies of the readers over `seconds`.
fn measure(
    docs: &strata::Collection,
    args: &Args,
    written: &AtomicU64,
) -> Result<Phase, strata::Error> {
    let stop = AtomicBool::new(false);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let cpu_before = process_cpu_seconds();
    let began = Instant::now();
    let results: Vec<Result<Samples, strata::Error>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..args.readers)
            .map(|reader| {
                let stop = &stop;
                scope.spawn(move || {
                    let (mut gets, mut knns) = (Vec::new(), Vec::new());
                    let mut i = reader as u64;
                    let started = Instant::now();
                    let mut iterations = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        if let Some(rate) = args.read_rate {
                            let due = started + Duration::from_secs_f64(iterations as f64 / rate);
                            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                                std::thread::sleep(wait);
                            }
                        }
                        iterations += 1;
                        i = i
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let key = format!("k:{}", (i >> 33) % written.load(Ordering::Relaxed));
                        let clock = Instant::now();
                        docs.get(&key)?;
                        gets.push(clock.elapsed().as_nanos() as u64);
                        let query = splitmix_vector(i, args.dim);
                        let before = run_queue_wait().unwrap_or_default();
                        let clock = Instant::now();
                        docs.search(&Search::knn("v", &query, 10).ef_runtime(40))?;
                        let wall = clock.elapsed().as_nanos() as u64;
                        let after = run_queue_wait().unwrap_or_default();
                        knns.push(Call {
                            wall,
                            wait: after.saturating_sub(before),
                        });
                    }
                    Ok((gets, knns))
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs_f64(args.seconds));
        stop.store(true, Ordering::Relaxed);
        handles
            .into_iter()
            .map(|h| h.join().expect("reader thread"))
            .collect()
    });
    let wall = began.elapsed().as_secs_f64();
    let machine = (process_cpu_seconds() - cpu_before) / (wall * cores);
    let (mut gets, mut knns) = (Vec::new(), Vec::new());
    for result in results {
        let (g, k) = result?;
        gets.extend(g);
        knns.extend(k);
    }
    gets.sort_unstable();
    let summary = |v: &[u64]| (percentile(v, 0.5), percentile(v, 0.99), percentile(v, 1.0));
    knns.sort_unstable_by_key(|call| call.wall);
    let walls: Vec<u64> = knns.iter().map(|call| call.wall).collect();
    let tail = &knns[knns.len() - knns.len().div_ceil(100)..];
    let mean = |f: fn(&Call) -> u64| {
        tail.iter().map(f).sum::<u64>() as f64 / tail.len().max(1) as f64 / 1000.0
    };
    Ok(Phase {
        get: summary(&gets),
        knn: summary(&walls),
        tail_wall_wait: (mean(|c| c.wall), mean(|c| c.wait)),
        calls: knns.len(),
        machine,
    })
}

/// Writes during one phase of readers; returns what they measured and the rows written.
fn write_phase(
    docs: &strata::Collection,
    args: &Args,
    written: &AtomicU64,
    doc: &(dyn Fn(u64) -> Doc + Sync),
) -> Result<(Phase, u64), strata::Error> {
    let stop = AtomicBool::new(false);
    let (busy, rows_written) = std::thread::scope(|scope| {
        let writer = scope.spawn(|| -> Result<u64, strata::Error> {
            let mut next = written.load(Ordering::Relaxed);
            let mut rows = 0;
            let began = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                if let Some(rate) = args.write_rate {
                    let due = began + Duration::from_secs_f64(rows as f64 / rate);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                }
                // Half new keys, half rewrites of old ones.
                let batch: Vec<(String, Doc)> = (0..100)
                    .map(|j| {
                        let i = if j % 2 == 0 {
                            next + j
                        } else {
                            (next * 7 + j) % args.rows
                        };
                        (format!("k:{i}"), doc(i + 1))
                    })
                    .collect();
                docs.upsert_many(batch)?;
                next += 100;
                written.store(next, Ordering::Relaxed);
                rows += 100;
            }
            Ok(rows)
        });
        let busy = measure(docs, args, written);
        stop.store(true, Ordering::Relaxed);
        (busy, writer.join().expect("writer thread"))
    });
    Ok((busy?, rows_written?))
}

fn run(args: &Args) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
    let db = Database::open_with(dir.path(), Options::default()).map_err(|e| e.to_string())?;
    let schema = Schema::builder()
        .tag("group")
        .vector("v", args.dim, Metric::L2, VectorIndex::hnsw(16, 100))
        .build()
        .map_err(|e| e.to_string())?;
    let docs = db
        .create_collection("docs", schema)
        .map_err(|e| e.to_string())?;
    let dim = args.dim;
    let doc = move |i: u64| {
        Doc::new()
            .tag("group", if i.is_multiple_of(3) { "a" } else { "b" })
            .vector("v", splitmix_vector(i, dim))
    };
    for start in (0..args.rows).step_by(1000) {
        docs.upsert_many(
            (start..(start + 1000).min(args.rows)).map(|i| (format!("k:{i}"), doc(i))),
        )
        .map_err(|e| e.to_string())?;
    }
    db.flush().map_err(|e| e.to_string())?;
    let written = AtomicU64::new(args.rows);
    let idle = measure(&docs, args, &written).map_err(|e| e.to_string())?;

    let (busy, rows_written) =
        write_phase(&docs, args, &written, &doc).map_err(|e| e.to_string())?;
    let info = docs.info().map_err(|e| e.to_string())?;
    println!(
        "{} readers{}, {} rows of {} dims (HNSW M 16), {:.0} s per phase; writer{}: {} rows \
         in batches of 100 during the second phase ({} flushes, {} merges, {} write stalls)",
        args.readers,
        args.read_rate
            .map(|rate| format!(" paced at {rate:.0} get+k-NN/s each"))
            .unwrap_or_default(),
        args.rows,
        args.dim,
        args.seconds,
        args.write_rate
            .map(|rate| format!(" paced at {rate:.0} rows/s"))
            .unwrap_or_default(),
        rows_written,
        info.flushes,
        info.merges,
        info.write_stalls
    );
    println!(
        "phase      load   get p50/p99 us   knn p50/p99/max us       slowest 1% of knn: \
         mean/waiting us   knn p99 vs idle"
    );
    let row = |name: &str, p: &Phase| {
        println!(
            "{name:<8} {:>5.2}   {:>6.1} {:>7.1}   {:>7.1} {:>7.1} {:>8.1}   {:>9.1} {:>9.1}   \
             {:>6.2}x  ({} k-NN calls)",
            p.machine,
            p.get.0,
            p.get.1,
            p.knn.0,
            p.knn.1,
            p.knn.2,
            p.tail_wall_wait.0,
            p.tail_wall_wait.1,
            p.knn.1 / idle.knn.1.max(f64::MIN_POSITIVE),
            p.calls,
        )
    };
    row("idle", &idle);
    row("writing", &busy);
    println!(
        "load: CPU the process used as a fraction of the machine ({} cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("read_under_writes: {error}");
            ExitCode::FAILURE
        }
    }
}
