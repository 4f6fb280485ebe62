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

use std::process::ExitCode;
use std::time::Instant;

use strata_bench::merge_input::{self, list, number, MergeFlags, MergeInput};
use strata_index::ivfpq::{IvfPqIndex, IvfPqParams, IvfPqSearch, Seed};

struct Args {
    shared: MergeFlags,
    nlist: usize,
    pq_m: usize,
    nprobes: Vec<usize>,
    refines: Vec<usize>,
}

const USAGE: &str = "usage: ivfpq_merge --base B.fvecs --query Q.fvecs --metric cosine|l2|ip \
[--keep N] [--delete FRACTION] [--nlist N] [--pq-m M] [--nprobe A,B,..] [--refine A,B,..] \
[--threads T]";

fn parse() -> Result<Args, String> {
    let mut args = Args {
        shared: MergeFlags::default(),
        nlist: 256,
        pq_m: 48,
        nprobes: vec![32, 64],
        refines: vec![8],
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        if args.shared.take(&flag, &mut value)? {
            continue;
        }
        match flag.as_str() {
            "--nlist" => args.nlist = number(&value()?)?,
            "--pq-m" => args.pq_m = number(&value()?)?,
            "--nprobe" => args.nprobes = list(&value()?)?,
            "--refine" => args.refines = list(&value()?)?,
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    args.shared.check(USAGE)?;
    Ok(args)
}

fn main() -> ExitCode {
    merge_input::exit("ivfpq_merge", parse(), run)
}

fn run(args: &Args) -> Result<(), String> {
    let flags = &args.shared;
    let input = MergeInput::load(flags)?;
    let (dim, metric, threads) = (input.dim, flags.metric, flags.threads);
    let params = IvfPqParams::new(args.nlist, args.pq_m);
    let all = |n: usize| (0..n as u32).collect::<Vec<u32>>();
    let started = Instant::now();
    let old = IvfPqIndex::build(
        &input.old_rows,
        dim,
        metric,
        &all(flags.keep),
        &params,
        threads,
    )
    .map_err(|e| e.to_string())?;
    println!(
        "old index: {} rows trained in {:.2} s (not part of the comparison)",
        flags.keep,
        started.elapsed().as_secs_f64()
    );

    let rows = &input.merged_rows;
    let n = input.merged_len();
    let started = Instant::now();
    let seed = Seed {
        index: old.as_ref(),
        rows: &input.map,
    };
    let (reused, decision) =
        IvfPqIndex::build_reusing(rows, dim, metric, &all(n), &params, threads, seed)
            .map_err(|e| e.to_string())?;
    let reuse_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let fresh = IvfPqIndex::build(rows, dim, metric, &all(n), &params, threads)
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
        "merge {reuse_secs:.2} s, fresh build {fresh_secs:.2} s ({:.1}x), {threads} threads",
        fresh_secs / reuse_secs,
    );

    let truth = input.truth(metric);
    println!(
        "{:>6} {:>6}  {:>14} {:>10}  {:>14} {:>10}",
        "nprobe", "refine", "merged recall", "QPS", "fresh recall", "QPS"
    );
    for &nprobe in &args.nprobes {
        for &refine in &args.refines {
            let search = IvfPqSearch { nprobe, refine };
            let measure = |index: &IvfPqIndex| {
                let index = index.as_ref();
                merge_input::recall_and_qps(&input.queries, &truth, |q| {
                    let hits = index.search(rows, q, 10, search, None);
                    Ok(hits
                        .map_err(|e| e.to_string())?
                        .iter()
                        .map(|h| h.id)
                        .collect())
                })
            };
            let (merged_recall, merged_qps) = measure(&reused)?;
            let (fresh_recall, fresh_qps) = measure(&fresh)?;
            println!(
                "{nprobe:>6} {refine:>6}  {merged_recall:>14.4} {merged_qps:>10.0}  {fresh_recall:>14.4} {fresh_qps:>10.0}"
            );
        }
    }
    Ok(())
}
