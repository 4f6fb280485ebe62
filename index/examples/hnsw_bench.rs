//! HNSW recall / QPS / build-time bench on a TexMex data set (`.fvecs` / `.ivecs`).
//!
//! ```text
//! cargo run --release -p strata-index --example hnsw_bench -- \
//!     --data ../shared/data/real-pypi-50k --threads 2 --m 16 --efc 200 \
//!     --efs 10,20,40,80,160,320 --metric cosine --repeat 3 \
//!     [--traversal both|sq8|float32] [--limit N --nq Q]
//! ```
//!
//! Reads `base.fvecs`, `query.fvecs` and `gt.ivecs` from `--data`, builds with the
//! given threads, adds the rows' 8-bit codes, serialises the graph and searches the
//! serialised bytes through `HnswView` (the engine's path), one thread, all queries
//! per `ef`: over the codes (`strata-sq8`, re-ranked exactly) and over the FLOAT32
//! rows (`strata-float32`) of the same graph, so the two differ only in the walk.
//! QPS is the best of `--repeat` passes (the least disturbed by other work on the
//! machine). `--limit N` keeps the first N base rows and `--nq Q` the first Q
//! queries, with the ground truth computed exactly (a small run for
//! `valgrind --tool=callgrind`, whose counts do not depend on the machine's load).

use std::path::{Path, PathBuf};
use std::time::Instant;

use strata_index::flat;
use strata_index::hnsw::{GraphRef, HnswGraph, HnswIndex, HnswParams, HnswView};
use strata_index::Metric;

struct Args {
    data: PathBuf,
    threads: usize,
    m: usize,
    efc: usize,
    efs: Vec<usize>,
    metric: Metric,
    repeat: usize,
    k: usize,
    graph: Option<PathBuf>,
    traversal: String,
    limit: Option<usize>,
    nq: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        data: PathBuf::from("../shared/data/real-pypi-50k"),
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        m: 16,
        efc: 200,
        efs: vec![10, 20, 40, 80, 160, 320],
        metric: Metric::Cosine,
        repeat: 3,
        k: 10,
        graph: None,
        traversal: "both".into(),
        limit: None,
        nq: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = || value.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--data" => args.data = PathBuf::from(&value),
            "--threads" => args.threads = num()?,
            "--m" => args.m = num()?,
            "--efc" => args.efc = num()?,
            "--repeat" => args.repeat = num()?.max(1),
            "--k" => args.k = num()?,
            "--graph" => args.graph = Some(PathBuf::from(&value)),
            "--limit" => args.limit = Some(num()?),
            "--nq" => args.nq = Some(num()?),
            "--traversal" => match value.as_str() {
                "both" | "sq8" | "float32" => args.traversal = value.clone(),
                _ => return Err("--traversal: expected both, sq8 or float32".into()),
            },
            "--efs" => {
                args.efs = value
                    .split(',')
                    .map(|s| s.trim().parse().map_err(|e| format!("--efs: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--metric" => {
                args.metric =
                    Metric::from_redis_name(&value).ok_or(format!("unknown metric {value}"))?
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(args)
}

/// Reads a TexMex file: rows of an i32 count `d`, then `d` 4-byte values.
fn read_vecs(path: &Path) -> Result<(Vec<[u8; 4]>, usize), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let word = |at: usize| -> [u8; 4] { [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]] };
    if bytes.len() < 4 {
        return Err(format!("{}: empty", path.display()));
    }
    let dim = i32::from_le_bytes(word(0)) as usize;
    let row = 4 * (dim + 1);
    if dim == 0 || bytes.len() % row != 0 {
        return Err(format!(
            "{}: not a .fvecs/.ivecs file (dim {dim})",
            path.display()
        ));
    }
    let mut out = Vec::with_capacity(bytes.len() / 4);
    for start in (0..bytes.len()).step_by(row) {
        if i32::from_le_bytes(word(start)) as usize != dim {
            return Err(format!("{}: rows of different dims", path.display()));
        }
        out.extend((1..=dim).map(|i| word(start + 4 * i)));
    }
    Ok((out, dim))
}

fn read_fvecs(path: &Path) -> Result<(Vec<f32>, usize), String> {
    let (words, dim) = read_vecs(path)?;
    Ok((words.into_iter().map(f32::from_le_bytes).collect(), dim))
}

fn read_ivecs(path: &Path) -> Result<(Vec<u32>, usize), String> {
    let (words, dim) = read_vecs(path)?;
    Ok((
        words
            .into_iter()
            .map(|w| i32::from_le_bytes(w) as u32)
            .collect(),
        dim,
    ))
}

fn main() -> Result<(), String> {
    let args = parse_args()?;
    let (mut base, dim) = read_fvecs(&args.data.join("base.fvecs"))?;
    let (mut queries, qdim) = read_fvecs(&args.data.join("query.fvecs"))?;
    let (mut gt, mut gt_k) = read_ivecs(&args.data.join("gt.ivecs"))?;
    if qdim != dim || gt_k < args.k || gt.len() / gt_k != queries.len() / dim {
        return Err("base / query / gt do not fit together".into());
    }
    if let Some(nq) = args.nq {
        queries.truncate(nq * dim);
        gt.truncate(nq * gt_k);
    }
    if let Some(limit) = args.limit {
        base.truncate(limit * dim);
        let n = (base.len() / dim) as u32;
        gt_k = args.k;
        gt = queries
            .chunks_exact(dim)
            .flat_map(|q| flat::search(args.metric, q, &base, dim, 0..n, gt_k))
            .map(|hit| hit.id)
            .collect();
    }
    let (n, nq) = (base.len() / dim, queries.len() / dim);
    println!(
        "data {} n={n} nq={nq} dim={dim} metric={} M={} EF_CONSTRUCTION={} threads={}",
        args.data.display(),
        args.metric.redis_name(),
        args.m,
        args.efc,
        args.threads
    );

    let params = HnswParams {
        m: args.m,
        ef_construction: args.efc,
        ..Default::default()
    };
    // --graph PATH: reuse a graph saved by an earlier run (search experiments), or
    // build and save it there.
    let bytes = match args.graph.as_deref().map(std::fs::read) {
        Some(Ok(bytes)) => {
            println!(
                "strata graph loaded from {}",
                args.graph.as_deref().unwrap_or(Path::new("")).display()
            );
            bytes
        }
        _ => {
            let started = Instant::now();
            let mut graph = HnswGraph::build(&base, dim, args.metric, &params, args.threads)
                .map_err(|e| e.to_string())?;
            graph.encode_sq8(&base, None).map_err(|e| e.to_string())?;
            println!(
                "strata build_s={:.2} (threads={})",
                started.elapsed().as_secs_f64(),
                args.threads
            );
            let bytes = graph.to_bytes();
            if let Some(path) = &args.graph {
                std::fs::write(path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            }
            bytes
        }
    };
    let started = Instant::now();
    let view = HnswView::open(&bytes).map_err(|e| e.to_string())?;
    let open_us = started.elapsed().as_secs_f64() * 1e6;
    let started = Instant::now();
    view.verify().map_err(|e| e.to_string())?;
    println!(
        "strata file_bytes={} open_us={open_us:.1} verify_ms={:.1}",
        bytes.len(),
        started.elapsed().as_secs_f64() * 1e3,
    );

    let coded = view.graph_ref();
    let walks = [("sq8", coded), ("float32", coded.without_codes())];
    for &ef in &args.efs {
        for (name, graph) in walks {
            if args.traversal != "both" && args.traversal != name {
                continue;
            }
            run(&args, graph, name, ef, (&base, &queries, dim), (&gt, gt_k))?;
        }
    }
    Ok(())
}

/// One `ef` over every query on `graph`, printed as `strata-NAME ef=.. recall@k=..
/// qps=..` (the line `benches/compare/ratios.py` reads).
fn run(
    args: &Args,
    graph: GraphRef<'_>,
    name: &str,
    ef: usize,
    (base, queries, dim): (&[f32], &[f32], usize),
    (gt, gt_k): (&[u32], usize),
) -> Result<(), String> {
    let (nq, k) = (queries.len() / dim, args.k);
    {
        let mut best = f64::INFINITY;
        let mut hits = 0usize;
        for pass in 0..args.repeat {
            let started = Instant::now();
            let mut found = 0usize;
            for (qi, q) in queries.chunks_exact(dim).enumerate() {
                let result = graph
                    .search(base, q, k, ef, None)
                    .map_err(|e| e.to_string())?;
                let truth = &gt[qi * gt_k..qi * gt_k + k];
                found += result.iter().filter(|h| truth.contains(&h.id)).count();
            }
            best = best.min(started.elapsed().as_secs_f64());
            if pass == 0 {
                hits = found;
            }
        }
        println!(
            "strata-{name} ef={ef} recall@{k}={:.4} qps={:.0}",
            hits as f64 / (nq * k) as f64,
            nq as f64 / best
        );
    }
    Ok(())
}
