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

use std::process::ExitCode;
use std::time::Instant;

use strata_bench::merge_input::{self, list, number, MergeFlags, MergeInput};
use strata_index::hnsw::{HnswGraph, HnswIndex, HnswParams};

struct Args {
    shared: MergeFlags,
    m: usize,
    ef_construction: usize,
    efs: Vec<usize>,
}

const USAGE: &str = "usage: merge_bench --base B.fvecs --query Q.fvecs --metric cosine|l2|ip \
[--keep N] [--delete FRACTION] [--m M] [--ef-construction EF] [--ef A,B,..] [--threads T]";

fn parse() -> Result<Args, String> {
    let mut args = Args {
        shared: MergeFlags::default(),
        m: 16,
        ef_construction: 200,
        efs: vec![10, 20, 40, 80, 160],
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        if args.shared.take(&flag, &mut value)? {
            continue;
        }
        match flag.as_str() {
            "--m" => args.m = number(&value()?)?,
            "--ef-construction" => args.ef_construction = number(&value()?)?,
            "--ef" => args.efs = list(&value()?)?,
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    args.shared.check(USAGE)?;
    Ok(args)
}

fn main() -> ExitCode {
    merge_input::exit("merge_bench", parse(), run)
}

fn run(args: &Args) -> Result<(), String> {
    let flags = &args.shared;
    let input = MergeInput::load(flags)?;
    let (dim, threads) = (input.dim, flags.threads);
    let params = HnswParams::new(args.m, args.ef_construction);
    let started = Instant::now();
    let old = HnswGraph::build(&input.old_rows, dim, flags.metric, &params, threads)
        .map_err(|e| e.to_string())?;
    println!(
        "old graph: {} rows built in {:.2} s (not part of the comparison)",
        flags.keep,
        started.elapsed().as_secs_f64()
    );

    let rows = &input.merged_rows;
    let started = Instant::now();
    let merged = HnswGraph::merged(old.graph_ref(), &input.map, rows, None, &params, threads)
        .map_err(|e| e.to_string())?;
    let merge_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let fresh =
        HnswGraph::build(rows, dim, flags.metric, &params, threads).map_err(|e| e.to_string())?;
    let fresh_secs = started.elapsed().as_secs_f64();
    println!(
        "merge {merge_secs:.2} s, fresh build {fresh_secs:.2} s ({:.1}x), {threads} threads",
        fresh_secs / merge_secs,
    );

    let truth = input.truth(flags.metric);
    println!(
        "{:>6}  {:>14} {:>10}  {:>14} {:>10}",
        "ef", "merged recall", "QPS", "fresh recall", "QPS"
    );
    for &ef in &args.efs {
        let search = |graph: &HnswGraph| {
            merge_input::recall_and_qps(&input.queries, &truth, |q| {
                let hits = graph.search(rows, q, 10, ef, None);
                Ok(hits
                    .map_err(|e| e.to_string())?
                    .iter()
                    .map(|h| h.id)
                    .collect())
            })
        };
        let (merged_recall, merged_qps) = search(&merged)?;
        let (fresh_recall, fresh_qps) = search(&fresh)?;
        println!(
            "{ef:>6}  {merged_recall:>14.4} {merged_qps:>10.0}  {fresh_recall:>14.4} {fresh_qps:>10.0}"
        );
    }
    Ok(())
}
