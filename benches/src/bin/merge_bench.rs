//! `merge_bench`: what a compaction gains by starting the merged HNSW graph from an
//! input's graph (`HnswGraph::merged`) instead of building it from nothing, and what
//! the merged graph costs in recall.
//!
//! ```text
//! cargo run --release -p strata-bench --bin merge_bench -- \
//!     --base base.fvecs --query query.fvecs --metric cosine \
//!     [--keep 40000] [--delete 0.05] [--m 16] [--ef-construction 200] \
//!     [--ef 10,20,40,80,160] [--threads T]
//! ```
//!
//! The first `--keep` base rows make the old segment (built first, not timed); a
//! `--delete` share of them, spread evenly, is deleted; the merged rows are the
//! survivors in their order followed by the rest of the base (the other input's
//! rows). Both graphs are built over exactly these rows on `--threads` threads and
//! searched on one thread, against exact ground truth over the same rows.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use strata_bench::fvecs;
use strata_index::hnsw::{HnswGraph, HnswIndex, HnswParams};
use strata_index::{flat, Metric};

struct Args {
    base: PathBuf,
    query: PathBuf,
    metric: Metric,
    keep: usize,
    delete: f64,
    m: usize,
    ef_construction: usize,
    efs: Vec<usize>,
    threads: usize,
}

const USAGE: &str = "usage: merge_bench --base B.fvecs --query Q.fvecs --metric cosine|l2|ip \
[--keep N] [--delete FRACTION] [--m M] [--ef-construction EF] [--ef A,B,..] [--threads T]";

fn parse() -> Result<Args, String> {
    let mut args = Args {
        base: PathBuf::new(),
        query: PathBuf::new(),
        metric: Metric::Cosine,
        keep: 40_000,
        delete: 0.05,
        m: 16,
        ef_construction: 200,
        efs: vec![10, 20, 40, 80, 160],
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<usize>().map_err(|e| format!("{v}: {e}"));
        match flag.as_str() {
            "--base" => args.base = value()?.into(),
            "--query" => args.query = value()?.into(),
            "--metric" => {
                args.metric = match value()?.as_str() {
                    "cosine" => Metric::Cosine,
                    "l2" => Metric::L2,
                    "ip" => Metric::InnerProduct,
                    other => return Err(format!("unknown metric {other}")),
                }
            }
            "--keep" => args.keep = number(value()?)?,
            "--delete" => {
                let v = value()?;
                args.delete = v.parse().map_err(|e| format!("{v}: {e}"))?;
                if !(0.0..1.0).contains(&args.delete) {
                    return Err("--delete must be in [0, 1)".into());
                }
            }
            "--m" => args.m = number(value()?)?,
            "--ef-construction" => args.ef_construction = number(value()?)?,
            "--ef" => {
                args.efs = value()?
                    .split(',')
                    .map(|v| number(v.to_string()))
                    .collect::<Result<_, _>>()?
            }
            "--threads" => args.threads = number(value()?)?,
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    if args.base.as_os_str().is_empty() || args.query.as_os_str().is_empty() {
        return Err(USAGE.into());
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("merge_bench: {message}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("merge_bench: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let base = fvecs::read_fvecs(&args.base, None).map_err(|e| e.to_string())?;
    let queries = fvecs::read_fvecs(&args.query, None).map_err(|e| e.to_string())?;
    let dim = base.dim();
    if queries.dim() != dim || args.keep == 0 || args.keep > base.len() {
        return Err("query dimension differs, or --keep is not in 1..=base rows".into());
    }
    let params = HnswParams::new(args.m, args.ef_construction);
    let old_rows: Vec<f32> = base.rows().take(args.keep).flatten().copied().collect();
    let started = Instant::now();
    let old = HnswGraph::build(&old_rows, dim, args.metric, &params, args.threads)
        .map_err(|e| e.to_string())?;
    println!(
        "old graph: {} rows built in {:.2} s (not part of the comparison)",
        args.keep,
        started.elapsed().as_secs_f64()
    );

    // Every row whose running share crosses a multiple of 1/delete is deleted: an
    // even spread, the same on every run.
    let mut map = Vec::with_capacity(args.keep);
    let mut merged_rows = Vec::with_capacity(base.len() * dim);
    let mut deleted = 0usize;
    for (id, row) in base.rows().take(args.keep).enumerate() {
        if ((id + 1) as f64 * args.delete) as usize > deleted {
            deleted += 1;
            map.push(None);
        } else {
            map.push(Some((merged_rows.len() / dim) as u32));
            merged_rows.extend_from_slice(row);
        }
    }
    for row in base.rows().skip(args.keep) {
        merged_rows.extend_from_slice(row);
    }
    let n = merged_rows.len() / dim;
    println!(
        "merged rows: {} = {} kept of the old graph ({deleted} deleted) + {} new",
        n,
        args.keep - deleted,
        base.len() - args.keep
    );

    let started = Instant::now();
    let merged = HnswGraph::merged(
        old.graph_ref(),
        &map,
        &merged_rows,
        None,
        &params,
        args.threads,
    )
    .map_err(|e| e.to_string())?;
    let merge_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let fresh = HnswGraph::build(&merged_rows, dim, args.metric, &params, args.threads)
        .map_err(|e| e.to_string())?;
    let fresh_secs = started.elapsed().as_secs_f64();
    println!(
        "merge {merge_secs:.2} s, fresh build {fresh_secs:.2} s ({:.1}x), {} threads",
        fresh_secs / merge_secs,
        args.threads
    );

    let truth: Vec<Vec<u32>> = queries
        .rows()
        .map(|q| {
            flat::search(args.metric, q, &merged_rows, dim, 0..n as u32, 10)
                .into_iter()
                .map(|hit| hit.id)
                .collect()
        })
        .collect();
    println!(
        "{:>6}  {:>14} {:>10}  {:>14} {:>10}",
        "ef", "merged recall", "QPS", "fresh recall", "QPS"
    );
    for &ef in &args.efs {
        let (merged_recall, merged_qps) = measure(&merged, &merged_rows, &queries, &truth, ef)?;
        let (fresh_recall, fresh_qps) = measure(&fresh, &merged_rows, &queries, &truth, ef)?;
        println!(
            "{ef:>6}  {merged_recall:>14.4} {merged_qps:>10.0}  {fresh_recall:>14.4} {fresh_qps:>10.0}"
        );
    }
    Ok(())
}

/// Recall@10 and single-thread queries per second of `graph` at `ef`.
fn measure(
    graph: &HnswGraph,
    rows: &[f32],
    queries: &fvecs::Matrix<f32>,
    truth: &[Vec<u32>],
    ef: usize,
) -> Result<(f64, f64), String> {
    let started = Instant::now();
    let mut hits = 0usize;
    for (q, want) in queries.rows().zip(truth) {
        let got = graph
            .search(rows, q, 10, ef, None)
            .map_err(|e| e.to_string())?;
        hits += got.iter().filter(|hit| want.contains(&hit.id)).count();
    }
    let secs = started.elapsed().as_secs_f64();
    let total: usize = truth.iter().map(Vec::len).sum();
    Ok((
        hits as f64 / total.max(1) as f64,
        queries.len() as f64 / secs,
    ))
}
