//! `ann`: measures Strata on a TexMex data set, or a generated one, through its public
//! API.
//!
//! ```text
//! cargo run --release -p strata-bench --bin ann -- \
//!     --base base.fvecs --query query.fvecs --gt gt.ivecs --metric cosine --index flat \
//!     [--limit N] [--k 10] [--threads T] [--db DIR] [--json OUT] \
//!     [--durability always|everysec|never] [--compression sq8|float32] [--meta meta.jsonl --filters gt_filtered.json]
//! cargo run --release -p strata-bench --bin ann -- \
//!     --synthetic 1m:128:42 --metric l2 --index flat --db /tmp/db [--open-only]
//! ```
//!
//! Phases: load or generate the data (and compute exact ground truth when no shipped
//! one applies); open the database; if it lacks the collection, create it, ingest and
//! flush; close it; drop the base vectors; then the measured open (`open.rs`: handle,
//! first get, first answer, memory at each step), since open time is what a restarting
//! program pays; then run each query setting on one thread. With `--open-only` only
//! the measured open runs, in a process that never held the base: run it in a fresh
//! process on a database a first run kept. `ann --help` lists the flags.
//!
//! With `--stream` the ingest is the live-write measurement instead (`stream.rs`):
//! default options, every write call timed, sweeps right after the stream and after
//! `flush` + `compact`, and with `--stream-compare-bulk` a bulk-loaded twin to compare
//! QPS at recall 0.95 and 0.99. The measured open and the runs follow as usual.
//!
//! ```text
//! cargo run --release -p strata-bench --bin ann -- --base $D/base.fvecs \
//!     --query $D/query.fvecs --gt $D/gt.ivecs --metric cosine --index hnsw \
//!     --stream --batch 100 [--stream-compare-bulk] [--single-upserts N] [--batch-queries N]
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use strata::{Collection, Database, Durability, Error as StrataError, Options, Schema};
use strata_bench::args::{self, Args, Command, IndexKind, Source};
use strata_bench::fvecs::{self, Matrix};
use strata_bench::groundtruth;
use strata_bench::meta::{self, FilterSpec, Meta};
use strata_bench::metrics::{self, Machine};
use strata_bench::open;
use strata_bench::report::{Report, RunResult};
use strata_bench::runner::{self, COLLECTION};
use strata_bench::stream::{self, BulkFigures, Sources, StreamFigures};
use strata_bench::{BenchError, Result};

/// The key `open.rs` gets as its first point read: the first base row's.
const PROBE_KEY: &str = "0";

fn main() -> ExitCode {
    let command = match args::parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(error) => {
            eprintln!("ann: {error}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            print!("{}", args::USAGE);
            ExitCode::SUCCESS
        }
        Command::Run(args) => match measure(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("ann: error: {error}");
                ExitCode::FAILURE
            }
        },
    }
}

/// The inputs, loaded and checked against each other.
struct Dataset {
    name: String,
    base: Matrix<f32>,
    queries: Matrix<f32>,
    truth: Vec<Vec<u32>>,
    meta: Option<Vec<Meta>>,
    filters: Vec<FilterSpec>,
    schema: Schema,
}

fn measure(args: &Args) -> Result<()> {
    let machine = Machine::detect();
    if args.open_only {
        return measure_open_only(args, machine);
    }
    if args.query_only {
        return measure_query_only(args, machine);
    }
    let data = load(args)?;
    let (n, dim) = (data.base.len(), data.base.dim());

    // The temporary directory lives until the end of `measure`, then is removed.
    let temporary;
    let dir: PathBuf = match &args.db {
        Some(dir) => dir.clone(),
        None => {
            temporary = tempfile::Builder::new()
                .prefix("strata-ann-")
                .tempdir()
                .map_err(|e| {
                    BenchError::new(format!("cannot create a temporary directory: {e}"))
                })?;
            temporary.path().join("db")
        }
    };
    let Dataset {
        name,
        base,
        queries,
        truth,
        meta,
        filters,
        schema,
    } = data;
    let (ingested, streamed) = if args.stream {
        let figures = stream_ingest(args, &dir, &schema, base, &queries, &truth)?;
        let spent = (figures.write.total_s, figures.flush_s + figures.compact_s);
        (Some(spent), Some(figures))
    } else {
        (
            ingest_unless_present(args, &dir, &schema, base, meta)?,
            None,
        )
    };
    let segments = open::segment_count(&dir);
    let opened = open::measure(&dir, options(args), PROBE_KEY, queries.row(0), args.k)?;
    let found = opened.collection.len()?;
    if found != n {
        return Err(BenchError::new(format!(
            "after reopening, the collection holds {found} documents; {n} were upserted"
        )));
    }

    let disk_bytes = metrics::dir_size(&dir)?;
    let (runs, mut notes) = sweep_all(args, &opened.collection, &queries, &truth, &filters)?;

    let batch_queries = match args.batch_queries {
        Some(batch) => {
            let unfiltered: Vec<&RunResult> =
                runs.iter().filter(|run| run.filter.is_none()).collect();
            let chosen = unfiltered
                .iter()
                .find(|run| run.recall >= 0.95)
                .or(unfiltered.last())
                .ok_or_else(|| BenchError::new("--batch-queries needs an unfiltered run"))?;
            let spec = runner::RunSpec {
                params: chosen.params.clone(),
                filter: None,
            };
            Some(stream::batch_queries(
                &opened.collection,
                &queries,
                &truth,
                args.k,
                &spec,
                batch,
            )?)
        }
        None => None,
    };
    let single_upserts = match args.single_upserts {
        Some(count) => Some(stream::single_upserts(&opened.collection, n, count)?),
        None => None,
    };

    if args.index == IndexKind::IvfPq {
        notes.push(ivfpq_note(&dir, n, dim)?);
    }
    let report = Report {
        data: name,
        index: args.index.name().to_string(),
        metric: args.metric.redis_name().to_string(),
        n,
        dim,
        queries: queries.len(),
        k: args.k,
        durability: durability_name(args.durability).to_string(),
        batch: args.batch,
        ingest_s: ingested.map(|(ingest_s, _)| ingest_s),
        build_s: ingested.map_or(0.0, |(_, flush_s)| flush_s),
        open: opened.figures,
        disk_bytes,
        rss_after_runs: metrics::rss_bytes(),
        segments,
        db: db_name(args, &dir),
        runs,
        machine,
        notes,
        stream: streamed,
        single_upserts,
        batch_queries,
    };
    print_report(args, &report)
}

/// The query runs of `args` (each --ef, or --nprobe x --refine, unfiltered and per
/// filter) against `collection`, with recall against `truth`; notes say which
/// filtered runs could not run.
fn sweep_all(
    args: &Args,
    collection: &Collection,
    queries: &Matrix<f32>,
    truth: &[Vec<u32>],
    filters: &[FilterSpec],
) -> Result<(Vec<RunResult>, Vec<String>)> {
    let mut runs = Vec::new();
    let mut notes = Vec::new();
    let all_queries: Vec<usize> = (0..queries.len()).collect();
    let sweep = runner::Sweep {
        efs: args.efs.clone(),
        nprobes: args.nprobes.clone(),
        refines: args.refines.clone(),
        policy: args.policy,
    };
    for run in runner::plan_runs(args.index, filters, &sweep) {
        let (query_ids, run_truth, filter_name) = match run.filter.and_then(|f| filters.get(f)) {
            Some(filter) => (
                filter.query_ids.as_slice(),
                filter.gt.as_slice(),
                Some(filter.name.clone()),
            ),
            None => (all_queries.as_slice(), truth, None),
        };
        let outcome = match runner::execute(collection, queries, query_ids, args.k, &run, filters) {
            Ok(outcome) => outcome,
            // Filtered search does not exist yet: say so, and measure the rest.
            Err(error) if run.filter.is_some() => {
                notes.push(error.to_string());
                continue;
            }
            Err(error) => return Err(error),
        };
        let recall = metrics::mean_recall(&outcome.returned, run_truth, args.k);
        runs.push(RunResult {
            params: run.params.clone(),
            filter: filter_name,
            recall,
            latency: outcome.latency,
        });
    }
    Ok((runs, notes))
}

/// `--stream`: creates the collection with the default options and streams the base
/// into it, then sweeps right after the stream and after `flush` + `compact`; with
/// `--stream-compare-bulk` also bulk-loads a twin in a temporary directory.
fn stream_ingest(
    args: &Args,
    dir: &Path,
    schema: &Schema,
    base: Matrix<f32>,
    queries: &Matrix<f32>,
    truth: &[Vec<u32>],
) -> Result<StreamFigures> {
    let db = Database::open_with(dir, options(args))?;
    if db.collection(COLLECTION).is_ok() {
        return Err(BenchError::new(format!(
            "{}: --stream measures writes into an empty database; use another --db or \
             remove it",
            dir.display()
        )));
    }
    let collection = db.create_collection(COLLECTION, schema.clone())?;
    let write = stream::stream(&collection, &base, args.batch, args.rate)?;
    eprintln!(
        "ann: streamed {} rows, {} per call{}, durability {}: {}",
        base.len(),
        args.batch,
        args.rate
            .map(|rate| format!(" paced at {rate:.0} rows/s"))
            .unwrap_or_default(),
        durability_name(args.durability),
        write.line()
    );
    if args.settle {
        // What the background threads still owe the stream: frozen memtables to
        // flush and fresh rows to put into the graphs.
        let clock = Instant::now();
        loop {
            let info = collection.info()?;
            let unindexed: u64 = info.sources.iter().map(|s| s.unindexed_rows).sum();
            if info.pending_flushes == 0 && unindexed == 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        eprintln!(
            "ann: background flushes and indexing settled {:.2} s after the stream",
            clock.elapsed().as_secs_f64()
        );
    }
    let sources_after_stream = Sources::of(&collection, queries.row(0), args.k)?;
    let runs_after_stream = sweep(args, &collection, queries, truth)?;
    let clock = Instant::now();
    db.flush()?;
    let flush_s = clock.elapsed().as_secs_f64();
    let clock = Instant::now();
    db.compact()?;
    let compact_s = clock.elapsed().as_secs_f64();
    eprintln!("ann: flushed in {flush_s:.2} s, compacted in {compact_s:.2} s");
    let sources_after_compact = Sources::of(&collection, queries.row(0), args.k)?;
    let runs_after_compact = sweep(args, &collection, queries, truth)?;
    drop((collection, db));
    let bulk = if args.stream_compare_bulk {
        Some(bulk_twin(args, schema, &base, queries, truth)?)
    } else {
        None
    };
    Ok(StreamFigures {
        batch: args.batch,
        write,
        sources_after_stream,
        runs_after_stream,
        flush_s,
        compact_s,
        sources_after_compact,
        runs_after_compact,
        bulk,
    })
}

/// The same data loaded as `ann` measures HNSW without `--stream`: one memtable, one
/// flush that builds one graph, in a temporary database of its own.
fn bulk_twin(
    args: &Args,
    schema: &Schema,
    base: &Matrix<f32>,
    queries: &Matrix<f32>,
    truth: &[Vec<u32>],
) -> Result<BulkFigures> {
    let temporary = tempfile::Builder::new()
        .prefix("strata-ann-bulk-")
        .tempdir()
        .map_err(|e| BenchError::new(format!("cannot create a temporary directory: {e}")))?;
    let options = Options {
        durability: args.durability,
        hnsw_compression: args.compression,
        memtable_rows_max: usize::MAX,
        memtable_bytes_max: usize::MAX,
        background_work: args.background,
        ..Options::default()
    };
    let db = Database::open_with(temporary.path().join("db"), options)?;
    let collection = db.create_collection(COLLECTION, schema.clone())?;
    let ingest_s = runner::ingest(&collection, base, None, 1000)?.as_secs_f64();
    let clock = Instant::now();
    db.flush()?;
    let flush_s = clock.elapsed().as_secs_f64();
    eprintln!("ann: bulk twin loaded in {ingest_s:.2} s, flushed in {flush_s:.2} s");
    Ok(BulkFigures {
        ingest_s,
        flush_s,
        sources: Sources::of(&collection, queries.row(0), args.k)?,
        runs: sweep(args, &collection, queries, truth)?,
    })
}

/// The unfiltered runs over every query.
fn sweep(
    args: &Args,
    collection: &Collection,
    queries: &Matrix<f32>,
    truth: &[Vec<u32>],
) -> Result<Vec<RunResult>> {
    let all: Vec<usize> = (0..queries.len()).collect();
    let settings = runner::Sweep {
        efs: args.efs.clone(),
        nprobes: args.nprobes.clone(),
        refines: args.refines.clone(),
        policy: args.policy,
    };
    runner::plan_runs(args.index, &[], &settings)
        .into_iter()
        .map(|run| {
            let outcome = runner::execute(collection, queries, &all, args.k, &run, &[])?;
            Ok(RunResult {
                params: run.params,
                filter: None,
                recall: metrics::mean_recall(&outcome.returned, truth, args.k),
                latency: outcome.latency,
            })
        })
        .collect()
}

/// The IVF-PQ files' size (what a query reads besides the re-ranked vectors: codes,
/// ids, centroids, codebooks) against the raw FLOAT32 vectors.
fn ivfpq_note(dir: &Path, n: usize, dim: usize) -> Result<String> {
    let mut bytes = 0u64;
    let segments = dir.join("segments");
    let error = |e: std::io::Error| BenchError::new(format!("{}: {e}", segments.display()));
    for segment in std::fs::read_dir(&segments).map_err(error)? {
        for file in std::fs::read_dir(segment.map_err(error)?.path()).map_err(error)? {
            let file = file.map_err(error)?;
            if file.file_name().to_string_lossy().starts_with("ivfpq-") {
                bytes += file.metadata().map_err(error)?.len();
            }
        }
    }
    let raw = (n * dim * 4) as f64;
    Ok(format!(
        "ivfpq index files: {bytes} bytes, {:.4} of the {raw} raw FLOAT32 bytes (1/{:.1})",
        bytes as f64 / raw,
        raw / (bytes.max(1) as f64)
    ))
}

/// `--open-only`: the measured open of a kept database, in a process that never
/// generated or read the base, so that memory is the engine's alone.
fn measure_open_only(args: &Args, machine: Machine) -> Result<()> {
    let dir = args
        .db
        .clone()
        .ok_or_else(|| BenchError::new("--open-only needs --db"))?;
    let (name, queries, expected) = match &args.source {
        Source::Synthetic { spec, queries } => (spec.name(), spec.queries(*queries), Some(spec.n)),
        Source::Files { base, query } => (
            base.display().to_string(),
            fvecs::read_fvecs(query, None)?,
            None,
        ),
    };
    if !dir.exists() {
        return Err(BenchError::new(format!(
            "{}: no database there; run once without --open-only to create it",
            dir.display()
        )));
    }
    let segments = open::segment_count(&dir);
    let opened = open::measure(&dir, options(args), PROBE_KEY, queries.row(0), args.k)?;
    let n = opened.collection.len()?;
    if expected.is_some_and(|expected| expected != n) {
        return Err(BenchError::new(format!(
            "{} holds {n} documents, but {name} has {} rows",
            dir.display(),
            expected.unwrap_or(0)
        )));
    }
    let report = Report {
        data: name,
        index: args.index.name().to_string(),
        metric: args.metric.redis_name().to_string(),
        n,
        dim: queries.dim(),
        queries: 0,
        k: args.k,
        durability: durability_name(args.durability).to_string(),
        batch: args.batch,
        ingest_s: None,
        build_s: 0.0,
        open: opened.figures,
        disk_bytes: metrics::dir_size(&dir)?,
        rss_after_runs: metrics::rss_bytes(),
        segments,
        db: db_name(args, &dir),
        runs: Vec::new(),
        machine,
        notes: vec!["--open-only: open measured, no query runs".to_string()],
        stream: None,
        single_upserts: None,
        batch_queries: None,
    };
    print_report(args, &report)
}

/// `--query-only`: the query sweep on a kept database in a process that never
/// generated or read the base, with the ground truth a build run wrote, so that
/// memory (the peak resident `VmHWM` included) is the engine's alone: the run
/// `benches/memlimit.sh` places in a memory cgroup.
fn measure_query_only(args: &Args, machine: Machine) -> Result<()> {
    let (Some(dir), Some(gt), Source::Synthetic { spec, queries }) =
        (&args.db, &args.gt, &args.source)
    else {
        return Err(BenchError::new(
            "--query-only needs --synthetic, --db and --gt",
        ));
    };
    if !dir.exists() {
        return Err(BenchError::new(format!(
            "{}: no database there; run once without --query-only to build it",
            dir.display()
        )));
    }
    let queries = spec.queries(*queries);
    let truth = read_truth(gt, queries.len(), spec.n, args.k)?;
    let segments = open::segment_count(dir);
    let opened = open::measure(dir, options(args), PROBE_KEY, queries.row(0), args.k)?;
    let n = opened.collection.len()?;
    if n != spec.n {
        return Err(BenchError::new(format!(
            "{} holds {n} documents, but {} has {} rows",
            dir.display(),
            spec.name(),
            spec.n
        )));
    }
    let (runs, mut notes) = sweep_all(args, &opened.collection, &queries, &truth, &[])?;
    if args.index == IndexKind::IvfPq {
        notes.push(ivfpq_note(dir, n, spec.dim)?);
    }
    let peak = metrics::peak_rss_bytes();
    let now = metrics::rss();
    notes.push(format!(
        "--query-only: peak resident (VmHWM) {} MiB; resident at the end {} MiB \
         (anon {} MiB, file-backed {} MiB)",
        peak.map_or("?".into(), |bytes| format!("{:.1}", metrics::mib(bytes))),
        now.map_or("?".into(), |rss| format!("{:.1}", metrics::mib(rss.total))),
        now.map_or("?".into(), |rss| format!("{:.1}", metrics::mib(rss.anon))),
        now.map_or("?".into(), |rss| format!("{:.1}", metrics::mib(rss.file))),
    ));
    let report = Report {
        data: spec.name(),
        index: args.index.name().to_string(),
        metric: args.metric.redis_name().to_string(),
        n,
        dim: spec.dim,
        queries: queries.len(),
        k: args.k,
        durability: durability_name(args.durability).to_string(),
        batch: args.batch,
        ingest_s: None,
        build_s: 0.0,
        open: opened.figures,
        disk_bytes: metrics::dir_size(dir)?,
        segments,
        db: db_name(args, dir),
        rss_after_runs: now.map(|rss| rss.total),
        runs,
        machine,
        notes,
        stream: None,
        single_upserts: None,
        batch_queries: None,
    };
    print_report(args, &report)
}

fn print_report(args: &Args, report: &Report) -> Result<()> {
    println!();
    print!("{}", report.table());
    if let Some(path) = &args.json {
        report.write_json(path)?;
        println!("\nwrote {}", path.display());
    }
    Ok(())
}

fn db_name(args: &Args, dir: &Path) -> String {
    match &args.db {
        Some(dir) => dir.display().to_string(),
        None => format!("{} (temporary)", dir.display()),
    }
}

fn durability_name(durability: Durability) -> &'static str {
    match durability {
        Durability::Always => "always",
        Durability::EverySec => "everysec",
        Durability::Never => "never",
    }
}

/// The engine options of every open: the durability and memtable size asked for, and
/// background work on or off.
///
/// HNSW and IVF-PQ are measured as a bulk load, the way hnswlib and faiss build: unless
/// `--memtable-rows` says otherwise, the whole data set stays in the memtable and the
/// final flush builds one graph (or trains one IVF-PQ index) over it (`build_s`). With the engine's default limits
/// a 50k x 384 load would flush at 64 MiB and leave two segments, so every query
/// would walk two graphs, and the first graph would be built for nothing.
///
/// `--stream` measures what a user gets without tuning: the default limits.
fn options(args: &Args) -> Options {
    let defaults = Options::default();
    let bulk = args.index != IndexKind::Flat && args.memtable_rows.is_none() && !args.stream;
    Options {
        durability: args.durability,
        hnsw_compression: args.compression,
        memtable_rows_max: args.memtable_rows.unwrap_or(if bulk {
            usize::MAX
        } else {
            defaults.memtable_rows_max
        }),
        memtable_bytes_max: if bulk {
            usize::MAX
        } else {
            defaults.memtable_bytes_max
        },
        background_work: args.background,
        ..defaults
    }
}

/// Reads or generates the data set `args` names.
fn load(args: &Args) -> Result<Dataset> {
    match &args.source {
        Source::Files { base, query } => load_files(args, base, query),
        Source::Synthetic { spec, queries } => {
            let clock = Instant::now();
            let base = spec.base(args.threads);
            let queries = spec.queries(*queries);
            let schema = runner::schema_with(
                spec.dim,
                args.metric,
                args.index,
                &args.build_params(),
                false,
            )?;
            eprintln!(
                "ann: generated {} base and {} query vectors of dimension {} in {:.2} s",
                base.len(),
                queries.len(),
                base.dim(),
                clock.elapsed().as_secs_f64()
            );
            let truth = ground_truth(args, &base, &queries)?;
            if let Some(dir) = &args.write_data {
                write_data(dir, &base, &queries, &truth)?;
            }
            Ok(Dataset {
                name: spec.name(),
                base,
                queries,
                truth,
                meta: None,
                filters: Vec::new(),
                schema,
            })
        }
    }
}

/// Writes a generated data set as TexMex files, for tools that cannot generate it.
fn write_data(
    dir: &Path,
    base: &Matrix<f32>,
    queries: &Matrix<f32>,
    truth: &[Vec<u32>],
) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| BenchError::new(format!("cannot create {}: {e}", dir.display())))?;
    let k = truth.iter().map(Vec::len).min().unwrap_or(0);
    let ids: Vec<i32> = truth
        .iter()
        .flat_map(|row| row[..k].iter().map(|&id| id as i32))
        .collect();
    fvecs::write(&dir.join("base.fvecs"), base)?;
    fvecs::write(&dir.join("query.fvecs"), queries)?;
    fvecs::write(&dir.join("gt.ivecs"), &Matrix::new(k, ids)?)?;
    eprintln!("ann: wrote the data set to {}", dir.display());
    Ok(())
}

/// Reads the files named by `args` and checks them against each other.
fn load_files(args: &Args, base_path: &Path, query_path: &Path) -> Result<Dataset> {
    let clock = Instant::now();
    let base = fvecs::read_fvecs(base_path, args.limit)?;
    let queries = fvecs::read_fvecs(query_path, None)?;
    if queries.dim() != base.dim() {
        return Err(BenchError::new(format!(
            "{} has dimension {} but {} has {}",
            query_path.display(),
            queries.dim(),
            base_path.display(),
            base.dim()
        )));
    }
    if args.limit.is_some_and(|limit| base.len() < limit) {
        eprintln!(
            "ann: note: {} holds only {} rows",
            base_path.display(),
            base.len()
        );
    }
    // Checked before anything slow: an index the engine refuses stops here.
    let schema = runner::schema_with(
        base.dim(),
        args.metric,
        args.index,
        &args.build_params(),
        args.meta.is_some(),
    )?;
    eprintln!(
        "ann: loaded {} base and {} query vectors of dimension {} in {:.2} s",
        base.len(),
        queries.len(),
        base.dim(),
        clock.elapsed().as_secs_f64()
    );
    let meta = match &args.meta {
        Some(path) => {
            let rows = meta::read_meta(path, Some(base.len()))?;
            if rows.len() < base.len() {
                return Err(BenchError::new(format!(
                    "{} has {} rows but the base has {}",
                    path.display(),
                    rows.len(),
                    base.len()
                )));
            }
            Some(rows)
        }
        None => None,
    };
    let filters = match &args.filters {
        Some(path) => check_filters(meta::read_filters(path)?, queries.len(), base.len(), args)?,
        None => Vec::new(),
    };
    let truth = ground_truth(args, &base, &queries)?;
    Ok(Dataset {
        name: base_path.display().to_string(),
        base,
        queries,
        truth,
        meta,
        filters,
        schema,
    })
}

/// The shipped ground truth when it applies, otherwise an exact one computed here;
/// written to `--write-gt` when asked.
fn ground_truth(args: &Args, base: &Matrix<f32>, queries: &Matrix<f32>) -> Result<Vec<Vec<u32>>> {
    let truth = find_ground_truth(args, base, queries)?;
    if let Some(path) = &args.write_gt {
        let k = truth.iter().map(Vec::len).min().unwrap_or(0);
        let ids: Vec<i32> = truth
            .iter()
            .flat_map(|row| row[..k].iter().map(|&id| id as i32))
            .collect();
        fvecs::write(path, &Matrix::new(k, ids)?)?;
        eprintln!("ann: wrote the ground truth to {}", path.display());
    }
    Ok(truth)
}

fn find_ground_truth(
    args: &Args,
    base: &Matrix<f32>,
    queries: &Matrix<f32>,
) -> Result<Vec<Vec<u32>>> {
    match (&args.gt, args.limit) {
        (Some(path), None) => read_truth(path, queries.len(), base.len(), args.k),
        (gt, _) => {
            if gt.is_some() {
                eprintln!("ann: --limit given: recomputing ground truth instead of using --gt");
            }
            let clock = Instant::now();
            let truth = groundtruth::exact_topk(args.metric, base, queries, args.k, args.threads);
            eprintln!(
                "ann: exact ground truth for {} queries over {} rows in {:.2} s ({} threads)",
                queries.len(),
                base.len(),
                clock.elapsed().as_secs_f64(),
                args.threads
            );
            Ok(truth)
        }
    }
}

/// Reads `gt.ivecs` and checks that it fits the base and queries.
fn read_truth(path: &Path, nq: usize, n: usize, k: usize) -> Result<Vec<Vec<u32>>> {
    let gt = fvecs::read_ivecs(path, None)?;
    let shown = path.display();
    if gt.len() < nq {
        return Err(BenchError::new(format!(
            "{shown} has {} rows but there are {nq} queries",
            gt.len()
        )));
    }
    if gt.dim() < k {
        return Err(BenchError::new(format!(
            "{shown} holds the top {} per query; --k {k} needs at least {k}",
            gt.dim()
        )));
    }
    gt.rows()
        .take(nq)
        .enumerate()
        .map(|(query, row)| {
            row.iter()
                .map(|&id| {
                    u32::try_from(id)
                        .ok()
                        .filter(|&id| (id as usize) < n)
                        .ok_or_else(|| {
                            BenchError::new(format!(
                                "{shown}: query {query} lists id {id}, but the base has {n} rows \
                             (is it the ground truth of another base?)"
                            ))
                        })
                })
                .collect()
        })
        .collect()
}

/// Checks filters against the queries and base; with `--limit` their ground truth
/// does not apply, and this build could not recompute it (no filter evaluation yet).
fn check_filters(
    filters: Vec<FilterSpec>,
    nq: usize,
    n: usize,
    args: &Args,
) -> Result<Vec<FilterSpec>> {
    if args.limit.is_some() {
        eprintln!(
            "ann: --limit given: the filtered ground truth does not apply; filtered runs skipped"
        );
        return Ok(Vec::new());
    }
    for filter in &filters {
        if let Some(query) = filter.query_ids.iter().find(|&&q| q >= nq) {
            return Err(BenchError::new(format!(
                "filter `{}` uses query {query}, but there are {nq} queries",
                filter.name
            )));
        }
        if let Some(id) = filter.gt.iter().flatten().find(|&&id| id as usize >= n) {
            return Err(BenchError::new(format!(
                "filter `{}` lists base id {id}, but the base has {n} rows",
                filter.name
            )));
        }
    }
    Ok(filters)
}

/// Opens `dir`; if it already holds this data set, closes it and returns `None`.
/// Otherwise creates the collection, ingests, flushes, closes, and returns the seconds
/// spent in the upserts and in the flush. Either way `base` and `meta` are dropped
/// before returning, so that the measured open that follows counts the engine's memory,
/// not the bench's copy of the data.
fn ingest_unless_present(
    args: &Args,
    dir: &Path,
    schema: &Schema,
    base: Matrix<f32>,
    meta: Option<Vec<Meta>>,
) -> Result<Option<(f64, f64)>> {
    let n = base.len();
    let db = Database::open_with(dir, options(args))?;
    match db.collection(COLLECTION) {
        Ok(collection) => {
            check_reusable(&collection, schema, n, dir)?;
            eprintln!(
                "ann: {} already holds the data set: ingest skipped",
                dir.display()
            );
            return Ok(None);
        }
        Err(StrataError::CollectionNotFound { .. }) => {}
        Err(error) => return Err(error.into()),
    }

    let collection = db.create_collection(COLLECTION, schema.clone())?;
    let spent = runner::ingest(&collection, &base, meta.as_deref(), args.batch)?;
    drop((base, meta));
    eprintln!(
        "ann: ingested {n} rows in {:.2} s ({:.0} rows/s, durability {}, {} per call) into {}",
        spent.as_secs_f64(),
        n as f64 / spent.as_secs_f64().max(1e-9),
        durability_name(args.durability),
        args.batch,
        dir.display()
    );
    // A clean shutdown: the memtable's last rows go to a segment, so that the open
    // measured next replays no WAL. `--no-final-flush` leaves them in the WAL, to
    // measure the replay a crash would leave (`records_replayed` says how much).
    let clock = Instant::now();
    if args.final_flush {
        db.flush()?;
    }
    let flush_s = clock.elapsed().as_secs_f64();
    let clock = Instant::now();
    drop((collection, db));
    eprintln!(
        "ann: flushed in {flush_s:.2} s; closed in {:.2} s (waits for a background \
         compaction in progress); {} segments",
        clock.elapsed().as_secs_f64(),
        open::segment_count(dir)
    );
    Ok(Some((spent.as_secs_f64(), flush_s)))
}

/// Refuses to measure a database that holds something other than this data set.
fn check_reusable(collection: &Collection, schema: &Schema, n: usize, dir: &Path) -> Result<()> {
    let shown = dir.display();
    if collection.schema() != schema {
        return Err(BenchError::new(format!(
            "{shown} holds collection `{COLLECTION}` with another schema \
             (metric, index or --meta differ); use another --db or remove it"
        )));
    }
    let found = collection.len()?;
    if found != n {
        return Err(BenchError::new(format!(
            "{shown} holds {found} documents, but this data set has {n} rows \
             (another --limit, or an interrupted ingest?); use another --db or remove it"
        )));
    }
    Ok(())
}
