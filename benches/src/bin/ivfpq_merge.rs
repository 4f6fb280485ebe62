//! `ivfpq_merge`: what a compaction gains by encoding the merged rows with its largest
//! input's IVF-PQ quantisers (`IvfPqIndex::build_reusing`) instead of training
//! afresh, and what that costs in recall.
//!
//! ```text
//! cargo run --release -p strata-bench --bin ivfpq_merge -- \
//!     --base base.fvecs --query query.fvecs --metric cosine \
//!     [--keep 40000] [--delete 0.05] [--nlist 256] [--pq-m 48] \
//!     [--nprobe 32,64] [--refine 8] [--threads T]
//! ```
//!
//! The first `--keep` base rows make the old segment's index (trained first, not
//! timed); a `--delete` share of them, spread evenly, is deleted; the merged rows are
//! the survivors in their order followed by the rest of the base. Both indexes are
//! built over exactly these rows on `--threads` threads and searched on one thread,
//! against exact ground truth over the same rows. The reuse decision (the mean
//! quantisation errors it compared) is printed; when it retrains, both columns are the
//! same build.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use strata_bench::fvecs;
use strata_index::ivfpq::{IvfPqIndex, IvfPqParams, IvfPqSearch, Seed};
use strata_index::{flat, Metric};

struct Args {
    base: PathBuf,
    query: PathBuf,
    metric: Metric,
    keep: usize,
    delete: f64,
    nlist: usize,
    pq_m: usize,
    nprobes: Vec<usize>,
    refines: Vec<usize>,
    threads: usize,
}

const USAGE: &str = "usage: ivfpq_merge --base B.fvecs --query Q.fvecs --metric cosine|l2|ip \
[--keep N] [--delete FRACTION] [--nlist N] [--pq-m M] [--nprobe A,B,..] [--refine A,B,..] \
[--threads T]";

fn list(value: String) -> Result<Vec<usize>, String> {
    value
        .split(',')
        .map(|v| v.parse::<usize>().map_err(|e| format!("{v}: {e}")))
        .collect()
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        base: PathBuf::new(),
        query: PathBuf::new(),
        metric: Metric::Cosine,
        keep: 40_000,
        delete: 0.05,
        nlist: 256,
        pq_m: 48,
        nprobes: vec![32, 64],
        refines: vec![8],
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
            "--nlist" => args.nlist = number(value()?)?,
            "--pq-m" => args.pq_m = number(value()?)?,
            "--nprobe" => args.nprobes = list(value()?)?,
            "--refine" => args.refines = list(value()?)?,
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
            eprintln!("ivfpq_merge: {message}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ivfpq_merge: error: {message}");
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
    let params = IvfPqParams::new(args.nlist, args.pq_m);
    let old_rows: Vec<f32> = base.rows().take(args.keep).flatten().copied().collect();
    let all = |n: usize| (0..n as u32).collect::<Vec<u32>>();
    let started = Instant::now();
    let old = IvfPqIndex::build(
        &old_rows,
        dim,
        args.metric,
        &all(args.keep),
        &params,
        args.threads,
    )
    .map_err(|e| e.to_string())?;
    println!(
        "old index: {} rows trained in {:.2} s (not part of the comparison)",
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
        "merged rows: {} = {} kept of the old index ({deleted} deleted) + {} new",
        n,
        args.keep - deleted,
        base.len() - args.keep
    );

    let started = Instant::now();
    let seed = Seed {
        index: old.as_ref(),
        rows: &map,
    };
    let (reused, decision) = IvfPqIndex::build_reusing(
        &merged_rows,
        dim,
        args.metric,
        &all(n),
        &params,
        args.threads,
        seed,
    )
    .map_err(|e| e.to_string())?;
    let reuse_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let fresh = IvfPqIndex::build(
        &merged_rows,
        dim,
        args.metric,
        &all(n),
        &params,
        args.threads,
    )
    .map_err(|e| e.to_string())?;
    let fresh_secs = started.elapsed().as_secs_f64();
    match decision {
        Some(d) => println!(
            "decision: {} (other rows' error {:.5} / own held-out rows' {:.5} = {:.3})",
            if d.reused { "reused" } else { "retrained" },
            d.other_error,
            d.own_error,
            d.other_error / d.own_error
        ),
        None => println!("decision: retrained without comparing (the old index cannot serve)"),
    }
    println!(
        "merge {reuse_secs:.2} s, fresh build {fresh_secs:.2} s ({:.1}x), {} threads",
        fresh_secs / reuse_secs,
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
        "{:>6} {:>6}  {:>14} {:>10}  {:>14} {:>10}",
        "nprobe", "refine", "merged recall", "QPS", "fresh recall", "QPS"
    );
    for &nprobe in &args.nprobes {
        for &refine in &args.refines {
            let search = IvfPqSearch { nprobe, refine };
            let (merged_recall, merged_qps) =
                measure(&reused, &merged_rows, &queries, &truth, search)?;
            let (fresh_recall, fresh_qps) =
                measure(&fresh, &merged_rows, &queries, &truth, search)?;
            println!(
                "{nprobe:>6} {refine:>6}  {merged_recall:>14.4} {merged_qps:>10.0}  {fresh_recall:>14.4} {fresh_qps:>10.0}"
            );
        }
    }
    Ok(())
}

/// Recall@10 and single-thread queries per second of `index` under `search`.
fn measure(
    index: &IvfPqIndex,
    rows: &[f32],
    queries: &fvecs::Matrix<f32>,
    truth: &[Vec<u32>],
    search: IvfPqSearch,
) -> Result<(f64, f64), String> {
    let index = index.as_ref();
    let started = Instant::now();
    let mut hits = 0usize;
    for (q, want) in queries.rows().zip(truth) {
        let got = index
            .search(rows, q, 10, search, None)
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
