//! `read_under_writes`: `get` and k-NN latency of reader threads while the collection is
//! idle, then while one writer upserts batches (new keys and rewrites of old ones, so
//! memtables freeze, flush and merge under the readers), without pause or paced at
//! `--write-rate` rows per second.
//!
//! ```text
//! cargo run --release -p strata-bench --bin read_under_writes -- \
//!     [--rows 20000] [--dim 64] [--readers 3] [--seconds 5] [--write-rate 2000]
//! ```
//!
//! Readers load a published version and take no lock a writer holds, so what is left
//! of the difference is the cores they share with the writer and the flusher: a writer
//! without pause plus its indexing keeps both cores of a 2-core machine busy, which a
//! paced writer (an ingest the indexing can follow) does not.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use strata::{Database, Doc, Metric, Options, Schema, Search, VectorIndex};
use strata_bench::synthetic::splitmix_vector;

const USAGE: &str =
    "usage: read_under_writes [--rows N] [--dim D] [--readers N] [--seconds S] [--write-rate R]";

struct Args {
    rows: u64,
    dim: usize,
    readers: usize,
    seconds: f64,
    /// Rows per second the writer keeps to; `None`: as fast as its calls return.
    write_rate: Option<f64>,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        rows: 20_000,
        dim: 64,
        readers: 3,
        seconds: 5.0,
        write_rate: None,
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

/// One reader's `get` and k-NN latencies, in ns.
type Latencies = (Vec<u64>, Vec<u64>);

/// Latencies in µs (p50, p99, max) of `get` and of k-NN, over `seconds`.
fn measure(
    docs: &strata::Collection,
    args: &Args,
    written: &AtomicU64,
) -> Result<[(f64, f64, f64); 2], strata::Error> {
    let stop = AtomicBool::new(false);
    let results: Vec<Result<Latencies, strata::Error>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..args.readers)
            .map(|reader| {
                let stop = &stop;
                scope.spawn(move || {
                    let (mut gets, mut knns) = (Vec::new(), Vec::new());
                    let mut i = reader as u64;
                    while !stop.load(Ordering::Relaxed) {
                        i = i
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let key = format!("k:{}", (i >> 33) % written.load(Ordering::Relaxed));
                        let clock = Instant::now();
                        docs.get(&key)?;
                        gets.push(clock.elapsed().as_nanos() as u64);
                        let query = splitmix_vector(i, args.dim);
                        let clock = Instant::now();
                        docs.search(&Search::knn("v", &query, 10).ef_runtime(40))?;
                        knns.push(clock.elapsed().as_nanos() as u64);
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
    let (mut gets, mut knns) = (Vec::new(), Vec::new());
    for result in results {
        let (g, k) = result?;
        gets.extend(g);
        knns.extend(k);
    }
    gets.sort_unstable();
    knns.sort_unstable();
    let summary = |v: &[u64]| (percentile(v, 0.5), percentile(v, 0.99), percentile(v, 1.0));
    Ok([summary(&gets), summary(&knns)])
}

fn run(args: &Args) -> Result<(), strata::Error> {
    let dir = tempfile::tempdir().map_err(|e| strata::Error::Io {
        op: "create a temporary directory for",
        path: std::env::temp_dir(),
        source: e,
    })?;
    let db = Database::open_with(dir.path(), Options::default())?;
    let schema = Schema::builder()
        .tag("group")
        .vector("v", args.dim, Metric::L2, VectorIndex::hnsw(16, 100))
        .build()?;
    let docs = db.create_collection("docs", schema)?;
    let doc = |i: u64| {
        Doc::new()
            .tag("group", if i.is_multiple_of(3) { "a" } else { "b" })
            .vector("v", splitmix_vector(i, args.dim))
    };
    for start in (0..args.rows).step_by(1000) {
        docs.upsert_many(
            (start..(start + 1000).min(args.rows)).map(|i| (format!("k:{i}"), doc(i))),
        )?;
    }
    db.flush()?;
    let written = AtomicU64::new(args.rows);
    let idle = measure(&docs, args, &written)?;

    let stop = AtomicBool::new(false);
    let (busy, rows_written) = std::thread::scope(|scope| {
        let writer = scope.spawn(|| -> Result<u64, strata::Error> {
            let mut next = args.rows;
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
        let busy = measure(&docs, args, &written);
        stop.store(true, Ordering::Relaxed);
        (busy, writer.join().expect("writer thread"))
    });
    let busy = busy?;
    let rows_written = rows_written?;
    let info = docs.info()?;
    println!(
        "{} readers, {} rows of {} dims (HNSW M 16), {:.0} s per phase; writer{}: {} rows \
         in batches of 100 during the second phase ({} flushes, {} merges, {} write stalls)",
        args.readers,
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
    println!("latency us       p50      p99      max   (idle -> during writes; p99 ratio)");
    for (name, index) in [("get", 0), ("knn", 1)] {
        let (a, b) = (idle[index], busy[index]);
        println!(
            "{name:<6} {:>9.1} {:>8.1} {:>8.1}  -> {:>8.1} {:>8.1} {:>8.1}   {:.2}x",
            a.0,
            a.1,
            a.2,
            b.0,
            b.1,
            b.2,
            b.1 / a.1.max(f64::MIN_POSITIVE)
        );
    }
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
