//! `write_stalls`: what a writer waits for while memtables are flushed and published,
//! with nothing else in the way. The vector field is FLAT (no graph to index) and the
//! memtable small, so a stream of `upsert_many` calls meets a flush every
//! `--memtable-rows` rows; the call latency's tail is then the time writers spend
//! behind a publication (manifest, state files, WAL fsync and rotation under the WAL
//! mutex), at `EverySec`.
//!
//! ```text
//! cargo run --release -p strata-bench --bin write_stalls -- \
//!     [--dir DIR] [--rows 50000] [--batch 100] [--dim 384] [--memtable-rows 2000] \
//!     [--rate ROWS_PER_S]
//! ```
//!
//! Unpaced, the writer outruns the flusher and waits on the queue of frozen memtables
//! (back-pressure, counted as write stalls); `--rate` below the flush throughput
//! leaves only the waits behind publications.
//!
//! `--dir` defaults to a temporary directory under the current one (on the disk being
//! measured).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use strata::{Database, Doc, Metric, Options, Schema, VectorIndex};
use strata_bench::synthetic::splitmix_vector;

const USAGE: &str = "usage: write_stalls [--dir DIR] [--rows N] [--batch B] [--dim D] \
                     [--memtable-rows R] [--rate ROWS_PER_S]";

struct Args {
    dir: Option<PathBuf>,
    rows: usize,
    batch: usize,
    dim: usize,
    memtable_rows: usize,
    rate: Option<usize>,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        dir: None,
        rows: 50_000,
        batch: 100,
        dim: 384,
        memtable_rows: 2000,
        rate: None,
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let value = arguments
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let positive = || match value.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!(
                "{flag} {value:?}: expected a positive integer\n{USAGE}"
            )),
        };
        match flag.as_str() {
            "--dir" => args.dir = Some(PathBuf::from(&value)),
            "--rows" => args.rows = positive()?,
            "--batch" => args.batch = positive()?,
            "--dim" => args.dim = positive()?,
            "--memtable-rows" => args.memtable_rows = positive()?,
            "--rate" => args.rate = Some(positive()?),
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    Ok(args)
}

fn run(args: &Args) -> Result<(), String> {
    let parent = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let dir = tempfile::tempdir_in(&parent)
        .map_err(|e| format!("a temporary directory in {}: {e}", parent.display()))?;
    let db = Database::open_with(
        dir.path(),
        Options {
            memtable_rows_max: args.memtable_rows,
            ..Options::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let schema = Schema::builder()
        .vector("v", args.dim, Metric::L2, VectorIndex::flat())
        .build()
        .map_err(|e| e.to_string())?;
    let docs = db
        .create_collection("docs", schema)
        .map_err(|e| e.to_string())?;
    let mut millis = Vec::with_capacity(args.rows / args.batch + 1);
    let started = Instant::now();
    let mut start = 0;
    while start < args.rows {
        let end = (start + args.batch).min(args.rows);
        let batch: Vec<(String, Doc)> = (start..end)
            .map(|i| {
                (
                    format!("k:{i}"),
                    Doc::new().vector("v", splitmix_vector(i as u64, args.dim)),
                )
            })
            .collect();
        let clock = Instant::now();
        docs.upsert_many(batch).map_err(|e| e.to_string())?;
        millis.push(clock.elapsed().as_secs_f64() * 1e3);
        start = end;
        if let Some(rate) = args.rate {
            let due = started + Duration::from_secs_f64(end as f64 / rate as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
    }
    let elapsed = started.elapsed();
    // Let the last flushes finish, so the count says what the stream caused.
    let deadline = Instant::now() + Duration::from_secs(60);
    while docs.info().map_err(|e| e.to_string())?.pending_flushes > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let info = docs.info().map_err(|e| e.to_string())?;
    millis.sort_by(f64::total_cmp);
    println!(
        "{} rows of {} dims in calls of {}{}, memtable {} rows, EverySec: {:.2} s, {} flushes, \
         {} write stalls",
        args.rows,
        args.dim,
        args.batch,
        args.rate
            .map(|rate| format!(" paced at {rate} rows/s"))
            .unwrap_or_default(),
        args.memtable_rows,
        elapsed.as_secs_f64(),
        info.flushes,
        info.write_stalls
    );
    println!(
        "call latency ms: p50 {:.3} p99 {:.3} p99.9 {:.3} max {:.3}",
        strata_bench::metrics::percentile(&millis, 50.0),
        strata_bench::metrics::percentile(&millis, 99.0),
        strata_bench::metrics::percentile(&millis, 99.9),
        millis.last().copied().unwrap_or(0.0)
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
        Err(message) => {
            eprintln!("write_stalls: {message}");
            ExitCode::FAILURE
        }
    }
}
