//! `ann`: measures Strata on a TexMex data set through its public API.
//!
//! ```text
//! cargo run --release -p strata-bench --bin ann -- \
//!     --base base.fvecs --query query.fvecs --gt gt.ivecs --metric cosine --index flat \
//!     [--limit N] [--k 10] [--threads T] [--db DIR] [--json OUT] \
//!     [--durability always|everysec|never] [--meta meta.jsonl --filters gt_filtered.json]
//! ```
//!
//! Phases: load the files (and recompute ground truth when `--limit` makes the shipped
//! one invalid); open the database; if it lacks the collection, create it and ingest,
//! then close it and open it again, since open time is what a restarting program pays;
//! time from `Database::open` to the first answered query; then run each query setting
//! on one thread. `ann --help` lists the flags.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use strata::{Collection, Database, Error as StrataError, Options, Schema};
use strata_bench::args::{self, Args, Command};
use strata_bench::fvecs::{self, Matrix};
use strata_bench::groundtruth;
use strata_bench::meta::{self, FilterSpec, Meta};
use strata_bench::metrics::{self, mib, Machine};
use strata_bench::report::{Report, RunResult};
use strata_bench::runner::{self, COLLECTION};
use strata_bench::{BenchError, Result};

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
    base: Matrix<f32>,
    queries: Matrix<f32>,
    truth: Vec<Vec<u32>>,
    meta: Option<Vec<Meta>>,
    filters: Vec<FilterSpec>,
    schema: Schema,
}

fn measure(args: &Args) -> Result<()> {
    let machine = Machine::detect();
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
        base,
        queries,
        truth,
        meta,
        filters,
        schema,
    } = data;
    let opened = open_or_ingest(args, &dir, &schema, base, meta, &queries)?;

    let disk_mb = mib(metrics::dir_size(&dir)?);
    let mut runs = Vec::new();
    let mut notes = Vec::new();
    let all_queries: Vec<usize> = (0..queries.len()).collect();
    for run in runner::plan_runs(args.index, &filters) {
        let (query_ids, run_truth, filter_name) = match run.filter.and_then(|f| filters.get(f)) {
            Some(filter) => (
                filter.query_ids.as_slice(),
                &filter.gt,
                Some(filter.name.clone()),
            ),
            None => (all_queries.as_slice(), &truth, None),
        };
        let outcome = match runner::execute(
            &opened.collection,
            &queries,
            query_ids,
            args.k,
            &run,
            &filters,
        ) {
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

    let report = Report {
        index: args.index.name().to_string(),
        metric: args.metric.redis_name().to_string(),
        n,
        dim,
        queries: queries.len(),
        k: args.k,
        ingest_s: opened.ingest_s,
        build_s: 0.0,
        open_ms: opened.open_ms,
        rss_mb: opened.rss_after.map(mib),
        rss_before_open_mb: opened.rss_before.map(mib),
        disk_mb,
        db: match &args.db {
            Some(dir) => dir.display().to_string(),
            None => format!("{} (temporary)", dir.display()),
        },
        runs,
        machine,
        notes,
    };
    println!();
    print!("{}", report.table());
    if let Some(path) = &args.json {
        report.write_json(path)?;
        println!("\nwrote {}", path.display());
    }
    Ok(())
}

/// Reads the files named by `args` and checks them against each other.
fn load(args: &Args) -> Result<Dataset> {
    let clock = Instant::now();
    let base = fvecs::read_fvecs(&args.base, args.limit)?;
    let queries = fvecs::read_fvecs(&args.query, None)?;
    if queries.dim() != base.dim() {
        return Err(BenchError::new(format!(
            "{} has dimension {} but {} has {}",
            args.query.display(),
            queries.dim(),
            args.base.display(),
            base.dim()
        )));
    }
    if args.limit.is_some_and(|limit| base.len() < limit) {
        eprintln!(
            "ann: note: {} holds only {} rows",
            args.base.display(),
            base.len()
        );
    }
    // Checked before anything slow: an index the engine refuses stops here.
    let schema = runner::schema(base.dim(), args.metric, args.index, args.meta.is_some())?;
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
        base,
        queries,
        truth,
        meta,
        filters,
        schema,
    })
}

/// The shipped ground truth when it applies, otherwise an exact one computed here.
fn ground_truth(args: &Args, base: &Matrix<f32>, queries: &Matrix<f32>) -> Result<Vec<Vec<u32>>> {
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

/// The database after the measured open.
struct Opened {
    // Kept so that the collection's database stays open while the runs use it.
    _db: Database,
    collection: Collection,
    ingest_s: Option<f64>,
    open_ms: f64,
    rss_before: Option<u64>,
    rss_after: Option<u64>,
}

/// Opens `dir`; reuses the collection when it already holds this data set, otherwise
/// creates and fills it, closes the database and opens it again. `base` and `meta` are
/// dropped before memory is measured: the engine's footprint is what counts.
fn open_or_ingest(
    args: &Args,
    dir: &Path,
    schema: &Schema,
    base: Matrix<f32>,
    meta: Option<Vec<Meta>>,
    queries: &Matrix<f32>,
) -> Result<Opened> {
    let options = Options {
        durability: args.durability,
        ..Options::default()
    };
    let n = base.len();
    let rss_before = metrics::rss_bytes();
    let clock = Instant::now();
    let db = Database::open_with(dir, options.clone())?;
    match db.collection(COLLECTION) {
        Ok(collection) => {
            check_reusable(&collection, schema, n, dir)?;
            first_answer(&collection, queries, args.k)?;
            let open_ms = clock.elapsed().as_secs_f64() * 1e3;
            drop((base, meta));
            eprintln!(
                "ann: {} already holds the data set: ingest skipped",
                dir.display()
            );
            return Ok(Opened {
                _db: db,
                collection,
                ingest_s: None,
                open_ms,
                rss_before,
                rss_after: metrics::rss_bytes(),
            });
        }
        Err(StrataError::CollectionNotFound { .. }) => {}
        Err(error) => return Err(error.into()),
    }

    let collection = db.create_collection(COLLECTION, schema.clone())?;
    let spent = runner::ingest(&collection, &base, meta.as_deref(), args.batch)?;
    eprintln!(
        "ann: ingested {n} rows in {:.2} s ({:.0} rows/s) into {}",
        spent.as_secs_f64(),
        n as f64 / spent.as_secs_f64().max(1e-9),
        dir.display()
    );
    drop((collection, db, base, meta));

    let rss_before = metrics::rss_bytes();
    let clock = Instant::now();
    let db = Database::open_with(dir, options)?;
    let collection = db.collection(COLLECTION)?;
    first_answer(&collection, queries, args.k)?;
    let open_ms = clock.elapsed().as_secs_f64() * 1e3;
    let rss_after = metrics::rss_bytes();
    let found = collection.len()?;
    if found != n {
        return Err(BenchError::new(format!(
            "after reopening, the collection holds {found} documents; {n} were upserted"
        )));
    }
    Ok(Opened {
        _db: db,
        collection,
        ingest_s: Some(spent.as_secs_f64()),
        open_ms,
        rss_before,
        rss_after,
    })
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

/// Answers the first query, which ends the open-time clock.
fn first_answer(collection: &Collection, queries: &Matrix<f32>, k: usize) -> Result<()> {
    let request = strata::Search::knn(runner::VECTOR_FIELD, queries.row(0), k).no_content();
    collection.search(&request)?;
    Ok(())
}
