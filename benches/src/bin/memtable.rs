//! `memtable`: what the live memtable costs the write path and the searches that read it.
//!
//! ```text
//! cargo run --release -p strata-bench --bin memtable -- [--rows 50000] [--dim 384] [--reads 2000000]
//! ```
//!
//! - **append**: ns per row of `LiveMemtable::append` with one vector, three TAG values
//!   and two NUMERIC values (the record built beforehand, as the writer receives it).
//! - **vector reads**: ns per row of L2 distances from a query to rows fetched with
//!   `vector(slot)`, beside the same rows in one plain `Vec<f32>` sliced by
//!   `slot × dim`: in slot order (an exact scan) and at random slots (an HNSW walk).
//!   The distance is the same kernel on both sides, so the difference is what reading
//!   through the memtable adds. Both patterns make `--reads` reads.
//!
//! Each figure is the median of 5 runs (appends: 3 runs into fresh memtables), in ns of
//! this thread's time on a CPU (`/proc/thread-self/schedstat`, so time spent waiting
//! for a core on a shared machine is left out; wall-clock time where that file is
//! missing).

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

/// A clock of this thread's time on a CPU, in ns.
#[derive(Clone, Copy)]
struct CpuClock(Option<u64>, Instant);

impl CpuClock {
    fn oncpu_ns() -> Option<u64> {
        let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        stat.split_whitespace().next()?.parse().ok()
    }
    fn start() -> CpuClock {
        CpuClock(CpuClock::oncpu_ns(), Instant::now())
    }
    fn elapsed_ns(self) -> f64 {
        match (self.0, CpuClock::oncpu_ns()) {
            (Some(start), Some(now)) => now.saturating_sub(start) as f64,
            _ => self.1.elapsed().as_nanos() as f64,
        }
    }
}

use strata::bench_internals::LiveMemtableBench;
use strata::Metric;

const USAGE: &str = "usage: memtable [--rows N] [--dim D] [--reads N]";

struct Args {
    rows: usize,
    dim: usize,
    reads: usize,
}

fn parse(args: Vec<String>) -> Result<Args, String> {
    let mut parsed = Args {
        rows: 50_000,
        dim: 384,
        reads: 2_000_000,
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))?;
        let number: usize = value
            .parse()
            .map_err(|_| format!("{flag} {value}: not a whole number; {USAGE}"))?;
        match flag.as_str() {
            "--rows" => parsed.rows = number,
            "--dim" => parsed.dim = number,
            "--reads" => parsed.reads = number,
            _ => return Err(format!("unknown flag {flag}; {USAGE}")),
        }
    }
    if parsed.rows == 0 || parsed.reads == 0 || !(1..=32_768).contains(&parsed.dim) {
        return Err(format!(
            "rows and reads must be positive and dim 1..=32768; {USAGE}"
        ));
    }
    Ok(parsed)
}

/// xorshift64*: seeded data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn float(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// One record as the writer receives it.
type Row = (String, [String; 3], [f64; 2], Vec<f32>);

fn records(data: &[f32], dim: usize, rng: &mut Rng) -> Vec<Row> {
    data.chunks_exact(dim)
        .enumerate()
        .map(|(i, vector)| {
            let tags = [
                format!("lang{}", rng.next() % 10),
                format!("topic{}", rng.next() % 300),
                format!("user{}", rng.next() % 20_000),
            ];
            let numbers = [(rng.next() % 10_000) as f64, rng.float() as f64];
            (format!("doc:{i}"), tags, numbers, vector.to_vec())
        })
        .collect()
}

fn run(args: Args) {
    let Args { rows, dim, reads } = args;
    let mut rng = Rng(0x5eed);
    let data: Vec<f32> = (0..rows * dim).map(|_| rng.float()).collect();
    let query: Vec<f32> = (0..dim).map(|_| rng.float()).collect();

    let mut append_ns = Vec::new();
    let mut memtable = None;
    for _ in 0..3 {
        let batch = records(&data, dim, &mut rng);
        let fresh = LiveMemtableBench::new(dim, rows);
        let clock = CpuClock::start();
        for (key, tags, numbers, vector) in batch {
            black_box(fresh.append(key, tags, numbers, vector));
        }
        append_ns.push(clock.elapsed_ns() / rows as f64);
        memtable = Some(fresh);
    }
    let memtable = memtable.expect("three runs");
    println!(
        "append ({rows} rows, dim {dim}, 3 tags, 2 numerics): LiveMemtable {:.0} ns/row",
        median(append_ns)
    );

    let random: Vec<u32> = (0..reads)
        .map(|_| (rng.next() % rows as u64) as u32)
        .collect();
    let plain_row = |slot: u32| &data[slot as usize * dim..(slot as usize + 1) * dim];
    let memtable_row = |slot: u32| memtable.vector(slot).expect("every row has a vector");
    // As many reads as the random pattern (passes over the rows, in order): the
    // on-CPU clock advances in scheduler ticks, so a measurement must span many.
    let in_order: Vec<u32> = (0..reads).map(|i| (i % rows) as u32).collect();
    for (slots, label) in [(&in_order, "in slot order"), (&random, "at random slots")] {
        let mut ours = Vec::new();
        let mut plain = Vec::new();
        for _ in 0..5 {
            ours.push(scan(&query, memtable_row, slots));
            plain.push(scan(&query, plain_row, slots));
        }
        let (ours, plain) = (median(ours), median(plain));
        println!(
            "vector read + L2 {label}: memtable {ours:.1} ns/row, plain Vec<f32> {plain:.1} ns/row ({:+.1}%)",
            (ours / plain - 1.0) * 100.0
        );
    }
}

/// ns per row of the L2 distance from `query` to each row `read` returns, over `slots`.
/// Generic, so each reader is compiled into its own loop with the read inlined.
fn scan<'a>(query: &[f32], read: impl Fn(u32) -> &'a [f32], slots: &[u32]) -> f64 {
    let clock = CpuClock::start();
    let mut best = f32::INFINITY;
    for &slot in slots {
        best = best.min(Metric::L2.distance(query, black_box(read(slot))));
    }
    black_box(best);
    clock.elapsed_ns() / slots.len() as f64
}

fn main() -> ExitCode {
    match parse(std::env::args().skip(1).collect()) {
        Ok(args) => {
            run(args);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("memtable: error: {error}");
            ExitCode::FAILURE
        }
    }
}
