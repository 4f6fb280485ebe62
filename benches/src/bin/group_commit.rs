//! `group_commit`: rows/s of single-row upserts under `Durability::Always` with 1 and
//! with N writer threads, on the disk holding `--dir`, each count in a fresh database.
//! Under `Always` every upsert returns only once its WAL record is fsynced; writers
//! that arrive while an fsync is in flight share the next one, so more threads should
//! mean more rows per fsync.
//!
//! ```text
//! cargo run --release -p strata-bench --bin group_commit -- \
//!     [--dir DIR] [--threads 1,8] [--seconds 5] [--dim 128]
//! ```
//!
//! `--dir` defaults to a temporary directory under the current one (so on the disk
//! being measured, not on a tmpfs `/tmp`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use strata::{Database, Doc, Durability, Metric, Options, Schema, VectorIndex};

struct Args {
    dir: Option<PathBuf>,
    threads: Vec<usize>,
    seconds: f64,
    dim: usize,
}

const USAGE: &str = "usage: group_commit [--dir DIR] [--threads 1,8] [--seconds 5] [--dim 128]";

fn parse() -> Result<Args, String> {
    let mut args = Args {
        dir: None,
        threads: vec![1, 8],
        seconds: 5.0,
        dim: 128,
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let mut value = || {
            arguments
                .next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        let positive = |flag: &str, text: &str| match text.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{flag} {text:?}: expected a positive integer")),
        };
        match flag.as_str() {
            "--dir" => args.dir = Some(PathBuf::from(value()?)),
            "--threads" => {
                args.threads = value()?
                    .split(',')
                    .map(|t| positive("--threads", t))
                    .collect::<Result<_, _>>()?
            }
            "--seconds" => {
                let text = value()?;
                args.seconds = text
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .ok_or_else(|| format!("--seconds {text:?}: expected a positive number"))?
            }
            "--dim" => args.dim = positive("--dim", &value()?)?,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(args)
}

/// Rows acknowledged per second by `threads` writers upserting single rows for
/// `seconds`, and the median call latency in microseconds.
fn measure(dir: &std::path::Path, threads: usize, args: &Args) -> strata::Result<(f64, f64)> {
    let db = Database::open_with(
        dir,
        Options {
            durability: Durability::Always,
            ..Options::default()
        },
    )?;
    let schema = Schema::builder()
        .numeric("writer")
        .vector("embedding", args.dim, Metric::L2, VectorIndex::flat())
        .build()?;
    let docs = db.create_collection("docs", schema)?;
    let stop = AtomicBool::new(false);
    let clock = Instant::now();
    let per_writer: Vec<strata::Result<Vec<Duration>>> = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..threads)
            .map(|writer| {
                let (docs, stop) = (&docs, &stop);
                scope.spawn(move || {
                    let mut samples = Vec::new();
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let vector: Vec<f32> =
                            (0..args.dim).map(|d| (i as f32 + d as f32).sin()).collect();
                        let doc = Doc::new()
                            .numeric("writer", writer as f64)
                            .vector("embedding", vector);
                        let call = Instant::now();
                        docs.upsert(format!("{writer}:{i}"), doc)?;
                        samples.push(call.elapsed());
                        i += 1;
                    }
                    Ok(samples)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs_f64(args.seconds));
        stop.store(true, Ordering::Relaxed);
        writers
            .into_iter()
            .map(|writer| writer.join().expect("a writer panicked"))
            .collect()
    });
    let elapsed = clock.elapsed().as_secs_f64();
    let mut samples = Vec::new();
    for writer in per_writer {
        samples.extend(writer?);
    }
    samples.sort();
    let p50 = samples
        .get(samples.len() / 2)
        .map_or(0.0, |d| d.as_secs_f64() * 1e6);
    Ok((samples.len() as f64 / elapsed, p50))
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("group_commit: {message}");
            return ExitCode::from(2);
        }
    };
    let parent = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let mut rates = Vec::new();
    println!("single-row upserts, Durability::Always, dim {}", args.dim);
    println!("{:>8} {:>12} {:>12}", "threads", "rows/s", "p50_us");
    for &threads in &args.threads {
        let temporary = match tempfile::Builder::new()
            .prefix("strata-group-commit-")
            .tempdir_in(&parent)
        {
            Ok(dir) => dir,
            Err(error) => {
                eprintln!(
                    "group_commit: cannot create a directory in {}: {error}",
                    parent.display()
                );
                return ExitCode::FAILURE;
            }
        };
        match measure(&temporary.path().join("db"), threads, &args) {
            Ok((rate, p50)) => {
                println!("{threads:>8} {rate:>12.0} {p50:>12.0}");
                rates.push((threads, rate));
            }
            Err(error) => {
                eprintln!("group_commit: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Some(&(one, single)) = rates.first() {
        for &(threads, rate) in &rates[1..] {
            println!(
                "{threads} threads / {one}: {:.2}x the rows/s",
                rate / single.max(1e-9)
            );
        }
    }
    ExitCode::SUCCESS
}
