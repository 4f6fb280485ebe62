//! The `ann` command line. Hand-parsed: a dozen flags do not justify a parser crate,
//! and every bad value gets a message naming the flag.

use std::path::PathBuf;

use strata::{Durability, HnswCompression, Metric, VectorIndex};

use crate::synthetic::Spec;
use crate::{BenchError, Result};

/// Usage text of `ann`.
pub const USAGE: &str = "\
usage: ann --base B.fvecs --query Q.fvecs [--gt G.ivecs] --metric cosine|l2|ip
           --index flat|hnsw|ivfpq [options]
       ann --synthetic N:DIM[:SEED] --metric cosine|l2|ip --index flat|hnsw|ivfpq [options]

Measures Strata on a TexMex data set through its public API: ingest, open, memory,
disk, and per run recall@k, QPS (one thread) and p50/p99 latency.

options:
  --synthetic N:DIM[:SEED]
                       generate the data set instead of reading files: N base rows
                       (1m = 1,000,000) of DIM components from a seeded Gaussian
                       mixture (seed 42 by default); nothing but the database is
                       written to disk, and the ground truth is computed exactly
  --queries Q          queries generated with --synthetic, default 100
  --write-data DIR     with --synthetic: also write the data set to DIR as
                       base.fvecs, query.fvecs and gt.ivecs (exact top --k), so other
                       tools (benches/compare) can run on the same vectors
  --write-gt G.ivecs   write the exact top --k ids per query (the --gt read or the
                       ground truth computed) to G.ivecs, for a later --query-only run
  --query-only         run the query sweep on the database a build run kept in --db,
                       in a process that never generates or reads the base (the
                       measured run of a memory-limited process, benches/memlimit.sh):
                       needs --db and --gt; reports the peak resident memory (VmHWM)
  --gt G.ivecs         exact top-k ids per query; without it (or with --limit) the
                       ground truth is computed by brute force
  --limit N            use only the first N base rows (ground truth is recomputed)
  --k K                neighbours per query, default 10
  --m M                HNSW M, default 16
  --ef-construction E  HNSW EF_CONSTRUCTION, default 200
  --ef E1,E2,...       HNSW EF_RUNTIME values, one run each, default 10,20,40,80,160,320
  --nlist N            IVF-PQ NLIST (coarse lists), default 1024
  --pq-m M             IVF-PQ M (bytes per code; divides the dimension), default dim/8
  --nprobe P1,P2,...   IVF-PQ NPROBE values, default 1,2,4,8,16,32,64; `default`
                       leaves NPROBE out of the query (the engine's default, which
                       adapts to a filter's selectivity), reported as 0
  --refine R1,R2,...   IVF-PQ REFINE values, default 1,2,4,8; `default` as for
                       --nprobe; one run per NPROBE x REFINE pair
  --policy P           batches|adhoc_bf: send HYBRID_POLICY P with every query (the
                       index, or exact search over the filter's matches); without
                       it the planner chooses per segment
  --threads T          threads for computing ground truth, default: all cores
                       (queries always run on one thread)
  --batch B            documents per upsert_many call, default 1000
  --durability D       always|everysec|never, default everysec
  --compression C      sq8|float32: what new segments' HNSW graphs are walked over
                       (Options::hnsw_compression), default float32
  --db DIR             keep the database in DIR; a later run on the same data set
                       skips ingest and measures open and queries only
  --open-only          with --db holding the data set: measure the open (handle,
                       first get, first answer, memory at each step) and stop; the
                       base is neither read nor generated, so memory is the engine's
  --memtable-rows R    flush the memtable every R rows (the engine default: 100000)
  --no-background      no background compaction or expiry while ingesting, so the
                       database keeps one segment per flush
  --no-final-flush     end the ingest without Database::flush, as a crash would: the
                       measured open then replays the WAL tail (up to a memtable)
  --stream             live writes: default engine options, no bulk load, no manual
                       flush; upsert the base --batch rows per call (1: upsert),
                       timing every call (p50/p99/p99.9/max, rows/s); then the
                       sources a query visits and the --ef sweep, right after the
                       stream and again after Database::flush + compact (timed)
  --stream-compare-bulk
                       with --stream: also bulk-load the data into a second database
                       and sweep it; prints the QPS ratios at recall 0.95 and 0.99
  --rate R             with --stream: pace the writes at R rows per second (the
                       time between calls is not counted as latency); default: as
                       fast as the calls return
  --settle             with --stream: before the sweep after the stream, wait until no
                       frozen memtable waits for its flush and every row is in the
                       graphs (prints how long that took)
  --single-upserts N   after the runs: N single-row upserts of existing rows into the
                       full collection, p50/p99 of the call (at --durability)
  --batch-queries N    after the runs: batches of N queries through search_many (all
                       cores) against one search at a time, at the first --ef whose
                       recall reaches 0.95 (the last one if none does)
  --json OUT           write the report as JSON
  --meta meta.jsonl    ingest the row fields too (text, topic, year, popularity)
  --filters gt_filtered.json
                       filtered runs (needs --meta)
  -h, --help           this text
";

/// The vector index to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexKind {
    /// Exact search.
    Flat,
    /// HNSW graph.
    Hnsw,
    /// IVF-PQ.
    IvfPq,
}

impl IndexKind {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            IndexKind::Flat => "flat",
            IndexKind::Hnsw => "hnsw",
            IndexKind::IvfPq => "ivfpq",
        }
    }

    /// The engine's index declaration for vectors of `dim` components.
    pub fn declaration(self, dim: usize, build: &BuildParams) -> VectorIndex {
        match self {
            IndexKind::Flat => VectorIndex::flat(),
            IndexKind::Hnsw => VectorIndex::hnsw(build.m, build.ef_construction),
            // 8 dimensions per sub-quantiser is the usual starting point.
            IndexKind::IvfPq => {
                VectorIndex::ivf_pq(build.nlist, build.pq_m.unwrap_or((dim / 8).max(1)))
            }
        }
    }
}

/// Build-time index parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildParams {
    /// HNSW `M`.
    pub m: usize,
    /// HNSW `EF_CONSTRUCTION`.
    pub ef_construction: usize,
    /// IVF-PQ `NLIST`.
    pub nlist: usize,
    /// IVF-PQ `M`; `None` for `dim / 8` (8 dimensions per sub-quantiser).
    pub pq_m: Option<usize>,
}

impl Default for BuildParams {
    fn default() -> BuildParams {
        BuildParams {
            m: 16,
            ef_construction: 200,
            nlist: 1024,
            pq_m: None,
        }
    }
}

/// Where the vectors come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// TexMex files.
    Files { base: PathBuf, query: PathBuf },
    /// Generated: the spec and the number of queries.
    Synthetic { spec: Spec, queries: usize },
}

/// Parsed `ann` arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct Args {
    pub source: Source,
    pub gt: Option<PathBuf>,
    pub metric: Metric,
    pub index: IndexKind,
    pub limit: Option<usize>,
    pub k: usize,
    pub threads: usize,
    pub batch: usize,
    pub durability: Durability,
    pub compression: HnswCompression,
    pub db: Option<PathBuf>,
    pub json: Option<PathBuf>,
    pub meta: Option<PathBuf>,
    pub filters: Option<PathBuf>,
    pub open_only: bool,
    pub memtable_rows: Option<usize>,
    pub background: bool,
    pub final_flush: bool,
    /// HNSW `M` (`--m`, default 16).
    pub m: usize,
    /// HNSW `EF_CONSTRUCTION` (`--ef-construction`, default 200).
    pub ef_construction: usize,
    /// `EF_RUNTIME` values to sweep (`--ef`, default 10,20,40,80,160,320).
    pub efs: Vec<usize>,
    /// `--stream`: live writes with the default options (see `stream.rs`).
    pub stream: bool,
    /// `--stream-compare-bulk`.
    pub stream_compare_bulk: bool,
    /// `--settle`: after the stream, wait for background flushes and indexing.
    pub settle: bool,
    /// `--rate R`: with `--stream`, write at most R rows per second.
    pub rate: Option<f64>,
    /// `--single-upserts N`.
    pub single_upserts: Option<usize>,
    /// `--batch-queries N`.
    pub batch_queries: Option<usize>,
    /// IVF-PQ `NLIST` (`--nlist`, default 1024).
    pub nlist: usize,
    /// IVF-PQ `M` (`--pq-m`, default `dim / 8`).
    pub pq_m: Option<usize>,
    /// `NPROBE` values to sweep (`--nprobe`, default 1,2,4,8,16,32,64).
    pub nprobes: Vec<usize>,
    /// `REFINE` values to sweep (`--refine`, default 1,2,4,8).
    pub refines: Vec<usize>,
    /// `--write-data DIR`: write the generated data set there.
    pub write_data: Option<PathBuf>,
    /// `--write-gt FILE`: write the ground truth there.
    pub write_gt: Option<PathBuf>,
    /// `--query-only`: sweep a kept database without the base.
    pub query_only: bool,
    /// `--policy`: `HYBRID_POLICY` sent with every query.
    pub policy: Option<Policy>,
}

/// RediSearch's `HYBRID_POLICY`, as `--policy` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// `BATCHES`: the index (graph or IVF-PQ lists), filtered as it is searched.
    Batches,
    /// `ADHOC_BF`: exact search over the filter's matches.
    AdhocBruteForce,
}

impl Policy {
    /// The word in a query string.
    pub fn word(self) -> &'static str {
        match self {
            Policy::Batches => "BATCHES",
            Policy::AdhocBruteForce => "ADHOC_BF",
        }
    }
}

impl Args {
    /// The build parameters the flags give.
    pub fn build_params(&self) -> BuildParams {
        BuildParams {
            m: self.m,
            ef_construction: self.ef_construction,
            nlist: self.nlist,
            pq_m: self.pq_m,
        }
    }
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Measure.
    Run(Box<Args>),
    /// Print [`USAGE`].
    Help,
}

/// Parses the arguments after the program name.
pub fn parse(arguments: impl IntoIterator<Item = String>) -> Result<Command> {
    let mut base = None;
    let mut query = None;
    let mut gt = None;
    let mut metric = None;
    let mut index = None;
    let mut limit = None;
    let mut k = 10;
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut batch = 1000;
    let mut durability = Durability::EverySec;
    let mut compression = HnswCompression::Float32;
    let mut db = None;
    let mut json = None;
    let mut meta = None;
    let mut filters = None;
    let mut synthetic = None;
    let mut synthetic_queries = None;
    let mut open_only = false;
    let mut query_only = false;
    let mut write_gt = None;
    let mut memtable_rows = None;
    let mut background = true;
    let mut final_flush = true;
    let mut m = 16;
    let mut ef_construction = 200;
    let mut efs = vec![10, 20, 40, 80, 160, 320];
    let mut stream = false;
    let mut stream_compare_bulk = false;
    let mut settle = false;
    let mut single_upserts = None;
    let mut rate = None;
    let mut batch_queries = None;
    let mut nlist = 1024;
    let mut pq_m = None;
    let mut nprobes = vec![1, 2, 4, 8, 16, 32, 64];
    let mut policy = None;
    let mut write_data = None;
    let mut refines = vec![1, 2, 4, 8];

    let mut arguments = arguments.into_iter();
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--open-only" => {
                open_only = true;
                continue;
            }
            "--query-only" => {
                query_only = true;
                continue;
            }
            "--no-background" => {
                background = false;
                continue;
            }
            "--no-final-flush" => {
                final_flush = false;
                continue;
            }
            "--stream" => {
                stream = true;
                continue;
            }
            "--stream-compare-bulk" => {
                stream_compare_bulk = true;
                continue;
            }
            "--settle" => {
                settle = true;
                continue;
            }
            _ => {}
        }
        let (flag, inline) = match argument.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (argument, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| arguments.next())
                .ok_or_else(|| BenchError::new(format!("{flag} needs a value\n\n{USAGE}")))
        };
        match flag.as_str() {
            "--base" => base = Some(PathBuf::from(value()?)),
            "--query" => query = Some(PathBuf::from(value()?)),
            "--gt" => gt = Some(PathBuf::from(value()?)),
            "--metric" => metric = Some(parse_metric(&value()?)?),
            "--index" => index = Some(parse_index(&value()?)?),
            "--limit" => limit = Some(positive(&flag, &value()?)?),
            "--k" => k = positive(&flag, &value()?)?,
            "--threads" => threads = positive(&flag, &value()?)?,
            "--batch" => batch = positive(&flag, &value()?)?,
            "--durability" => durability = parse_durability(&value()?)?,
            "--compression" => compression = parse_compression(&value()?)?,
            "--db" => db = Some(PathBuf::from(value()?)),
            "--m" => m = positive(&flag, &value()?)?,
            "--ef-construction" => ef_construction = positive(&flag, &value()?)?,
            "--ef" => efs = positive_list(&flag, &value()?)?,
            "--nlist" => nlist = positive(&flag, &value()?)?,
            "--pq-m" => pq_m = Some(positive(&flag, &value()?)?),
            "--nprobe" => nprobes = setting_list(&flag, &value()?)?,
            "--refine" => refines = setting_list(&flag, &value()?)?,
            "--policy" => policy = Some(parse_policy(&value()?)?),
            "--write-data" => write_data = Some(PathBuf::from(value()?)),
            "--write-gt" => write_gt = Some(PathBuf::from(value()?)),
            "--json" => json = Some(PathBuf::from(value()?)),
            "--meta" => meta = Some(PathBuf::from(value()?)),
            "--filters" => filters = Some(PathBuf::from(value()?)),
            "--synthetic" => synthetic = Some(Spec::parse(&value()?)?),
            "--queries" => synthetic_queries = Some(positive(&flag, &value()?)?),
            "--memtable-rows" => memtable_rows = Some(positive(&flag, &value()?)?),
            "--single-upserts" => single_upserts = Some(positive(&flag, &value()?)?),
            "--rate" => rate = Some(positive(&flag, &value()?)? as f64),
            "--batch-queries" => batch_queries = Some(positive(&flag, &value()?)?),
            other => {
                return Err(BenchError::new(format!(
                    "unknown argument {other:?}\n\n{USAGE}"
                )))
            }
        }
    }
    let required = |name: &str| BenchError::new(format!("{name} is required\n\n{USAGE}"));
    if write_data.is_some() && synthetic.is_none() {
        return Err(BenchError::new(
            "--write-data needs --synthetic: files read with --base are already on disk",
        ));
    }
    if filters.is_some() && meta.is_none() {
        return Err(BenchError::new(
            "--filters needs --meta: filters refer to the row fields it ingests",
        ));
    }
    if query_only && (db.is_none() || gt.is_none() || open_only || stream || limit.is_some()) {
        return Err(BenchError::new(
            "--query-only sweeps the database a build run kept without the base: it needs \
             --db and --gt (a build run's --write-gt), and takes no --open-only, --stream \
             or --limit",
        ));
    }
    if query_only && synthetic.is_none() {
        return Err(BenchError::new(
            "--query-only takes --synthetic: it generates the queries, never the base",
        ));
    }
    if open_only && db.is_none() {
        return Err(BenchError::new(
            "--open-only needs --db: it measures opening a database an earlier run kept",
        ));
    }
    if stream_compare_bulk && !stream {
        return Err(BenchError::new(
            "--stream-compare-bulk compares a --stream run with a bulk load: add --stream",
        ));
    }
    if stream && meta.is_some() {
        return Err(BenchError::new(
            "--stream writes vectors only: it takes no --meta or --filters",
        ));
    }
    if stream && (open_only || memtable_rows.is_some() || !final_flush) {
        return Err(BenchError::new(
            "--stream uses the engine's default options and flushes itself: it takes no \
             --open-only, --memtable-rows or --no-final-flush",
        ));
    }
    let source = match synthetic {
        Some(spec) => {
            if base.is_some() || query.is_some() || meta.is_some() {
                return Err(BenchError::new(
                    "--synthetic generates the vectors: it takes no --base, --query or \
                     --meta (a --gt is the ground truth a run with --write-gt wrote)",
                ));
            }
            if limit.is_some() {
                return Err(BenchError::new(
                    "--synthetic takes no --limit: put the row count in N:DIM",
                ));
            }
            Source::Synthetic {
                spec,
                queries: synthetic_queries.unwrap_or(100),
            }
        }
        None => {
            if synthetic_queries.is_some() {
                return Err(BenchError::new("--queries needs --synthetic"));
            }
            Source::Files {
                base: base.ok_or_else(|| required("--base"))?,
                query: query.ok_or_else(|| required("--query"))?,
            }
        }
    };
    Ok(Command::Run(Box::new(Args {
        source,
        gt,
        metric: metric.ok_or_else(|| required("--metric"))?,
        index: index.ok_or_else(|| required("--index"))?,
        limit,
        k,
        threads,
        batch,
        durability,
        compression,
        db,
        json,
        meta,
        filters,
        open_only,
        memtable_rows,
        background,
        final_flush,
        m,
        ef_construction,
        efs,
        stream,
        stream_compare_bulk,
        settle,
        rate,
        single_upserts,
        batch_queries,
        nlist,
        pq_m,
        nprobes,
        refines,
        policy,
        write_data,
        write_gt,
        query_only,
    })))
}

/// A comma-separated list of positive whole numbers.
fn positive_list(flag: &str, value: &str) -> Result<Vec<usize>> {
    value
        .split(',')
        .map(|item| positive(flag, item.trim()))
        .collect()
}

/// A list of positive counts where `default` stands for "leave the setting out of
/// the query", kept as 0.
fn setting_list(flag: &str, value: &str) -> Result<Vec<usize>> {
    value
        .split(',')
        .map(|item| match item.trim() {
            "default" => Ok(0),
            item => positive(flag, item),
        })
        .collect()
}

fn parse_policy(value: &str) -> Result<Policy> {
    match value.to_ascii_lowercase().as_str() {
        "batches" => Ok(Policy::Batches),
        "adhoc_bf" => Ok(Policy::AdhocBruteForce),
        _ => Err(BenchError::new(format!(
            "--policy {value:?}: expected batches or adhoc_bf"
        ))),
    }
}

fn parse_metric(value: &str) -> Result<Metric> {
    match value.to_ascii_lowercase().as_str() {
        "cosine" => Ok(Metric::Cosine),
        "l2" => Ok(Metric::L2),
        "ip" => Ok(Metric::InnerProduct),
        _ => Err(BenchError::new(format!(
            "--metric {value:?}: expected cosine, l2 or ip"
        ))),
    }
}

fn parse_index(value: &str) -> Result<IndexKind> {
    match value.to_ascii_lowercase().as_str() {
        "flat" => Ok(IndexKind::Flat),
        "hnsw" => Ok(IndexKind::Hnsw),
        "ivfpq" | "ivf_pq" | "ivf-pq" => Ok(IndexKind::IvfPq),
        _ => Err(BenchError::new(format!(
            "--index {value:?}: expected flat, hnsw or ivfpq"
        ))),
    }
}

fn parse_compression(value: &str) -> Result<HnswCompression> {
    match value.to_ascii_lowercase().as_str() {
        "sq8" => Ok(HnswCompression::Sq8),
        "float32" => Ok(HnswCompression::Float32),
        _ => Err(BenchError::new(format!(
            "--compression {value:?}: expected sq8 or float32"
        ))),
    }
}

fn parse_durability(value: &str) -> Result<Durability> {
    match value.to_ascii_lowercase().as_str() {
        "always" => Ok(Durability::Always),
        "everysec" => Ok(Durability::EverySec),
        "never" => Ok(Durability::Never),
        _ => Err(BenchError::new(format!(
            "--durability {value:?}: expected always, everysec or never"
        ))),
    }
}

fn positive(flag: &str, value: &str) -> Result<usize> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(BenchError::new(format!(
            "{flag} {value:?}: expected a positive integer"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(line: &str) -> Result<Args> {
        match parse(line.split_whitespace().map(str::to_string))? {
            Command::Run(args) => Ok(*args),
            Command::Help => Err(BenchError::new("help")),
        }
    }

    #[test]
    fn flags_parse_with_defaults() {
        let args = run("--base b --query q --gt g --metric COSINE --index flat").unwrap();
        assert_eq!(
            args.source,
            Source::Files {
                base: PathBuf::from("b"),
                query: PathBuf::from("q")
            }
        );
        assert_eq!(args.metric, Metric::Cosine);
        assert_eq!((args.k, args.batch, args.limit), (10, 1000, None));
        assert_eq!(args.durability, Durability::EverySec);

        let args = run(
            "--base=b --query q --metric ip --index=hnsw --limit 500 --k 5 \
                        --durability never --db d --json j --meta m --filters f",
        )
        .unwrap();
        assert_eq!(args.index, IndexKind::Hnsw);
        assert_eq!((args.limit, args.k), (Some(500), 5));
        assert_eq!(args.filters, Some(PathBuf::from("f")));
    }

    #[test]
    fn stream_flags_parse_and_conflicts_are_named() {
        let args = run(
            "--synthetic 1m:128 --metric l2 --index hnsw --stream --batch 100 \
             --stream-compare-bulk --single-upserts 5000 --batch-queries 100",
        )
        .unwrap();
        assert!(args.stream && args.stream_compare_bulk);
        assert_eq!(args.batch, 100);
        assert_eq!(
            (args.single_upserts, args.batch_queries),
            (Some(5000), Some(100))
        );
        let plain = run("--synthetic 10:4 --metric l2 --index flat").unwrap();
        assert!(!plain.stream && plain.single_upserts.is_none());
        let message = |line: &str| run(line).unwrap_err().to_string();
        assert!(
            message("--synthetic 10:4 --metric l2 --index flat --stream-compare-bulk")
                .contains("add --stream")
        );
        assert!(
            message("--synthetic 10:4 --metric l2 --index flat --stream --memtable-rows 5")
                .contains("--memtable-rows")
        );
        assert!(
            message("--synthetic 10:4 --metric l2 --index flat --batch-queries 0")
                .contains("--batch-queries")
        );
    }

    #[test]
    fn ivfpq_settings_policy_and_data_export_parse() {
        let args = run(
            "--synthetic 10:4 --metric l2 --index ivfpq --nprobe default,8 --refine default \
             --policy BATCHES --write-data out",
        )
        .unwrap();
        assert_eq!((args.nprobes, args.refines), (vec![0, 8], vec![0]));
        assert_eq!(args.policy, Some(Policy::Batches));
        assert_eq!(args.write_data, Some(PathBuf::from("out")));
        let message = |line: &str| run(line).unwrap_err().to_string();
        assert!(
            message("--base b --query q --metric l2 --index ivfpq --write-data out")
                .contains("--synthetic")
        );
        assert!(
            message("--base b --query q --metric l2 --index ivfpq --policy fast")
                .contains("--policy")
        );
        assert!(
            message("--base b --query q --metric l2 --index ivfpq --nprobe 0").contains("--nprobe")
        );
    }

    #[test]
    fn bad_flags_say_which() {
        let message = |line: &str| run(line).unwrap_err().to_string();
        assert!(message("--base b --query q --metric cos --index flat").contains("--metric"));
        assert!(message("--base b --query q --metric l2 --index annoy").contains("--index"));
        assert!(message("--base b --query q --metric l2 --index flat --k 0").contains("--k"));
        assert!(message("--base b --query q --metric l2 --index flat --bogus").contains("--bogus"));
        assert!(message("--query q --metric l2 --index flat").contains("--base is required"));
        assert!(
            message("--base b --query q --metric l2 --index flat --limit")
                .contains("needs a value")
        );
        assert!(
            message("--base b --query q --metric l2 --index flat --filters f").contains("--meta")
        );
        assert_eq!(parse(["-h".to_string()]).unwrap(), Command::Help);
        assert!(
            message("--synthetic 10:4 --base b --metric l2 --index flat").contains("no --base")
        );
        assert!(message("--synthetic 10:4 --limit 5 --metric l2 --index flat").contains("--limit"));
        assert!(message("--synthetic 10 --metric l2 --index flat").contains("N:DIM"));
        assert!(
            message("--base b --query q --metric l2 --index flat --open-only").contains("--db")
        );
        assert!(
            message("--base b --query q --metric l2 --index flat --queries 5")
                .contains("--synthetic")
        );
    }

    #[test]
    fn synthetic_and_scale_flags() {
        let args = run(
            "--synthetic 1m:128:7 --metric l2 --index flat --db d --open-only \
             --memtable-rows 20000 --no-background --no-final-flush",
        )
        .unwrap();
        let spec = Spec {
            n: 1_000_000,
            dim: 128,
            seed: 7,
        };
        assert_eq!(args.source, Source::Synthetic { spec, queries: 100 });
        assert!(args.open_only && !args.background && !args.final_flush);
        assert_eq!(args.memtable_rows, Some(20_000));
        let args = run("--synthetic 100:4 --queries 7 --metric l2 --index flat").unwrap();
        assert!(matches!(args.source, Source::Synthetic { queries: 7, .. }));
        assert!(!args.open_only && args.background && args.final_flush);
    }

    #[test]
    fn query_only_needs_a_kept_database_and_its_ground_truth() {
        let message = |line: &str| run(line).unwrap_err().to_string();
        let args =
            run("--synthetic 1m:128 --metric l2 --index ivfpq --db d --gt g.ivecs --query-only")
                .unwrap();
        assert!(args.query_only);
        assert_eq!(args.gt, Some(PathBuf::from("g.ivecs")));
        let build = run("--synthetic 1m:128 --metric l2 --index hnsw --db d --write-gt g").unwrap();
        assert_eq!(build.write_gt, Some(PathBuf::from("g")));
        assert!(!build.query_only);
        for line in [
            "--synthetic 10:4 --metric l2 --index flat --db d --query-only",
            "--synthetic 10:4 --metric l2 --index flat --gt g --query-only",
            "--synthetic 10:4 --metric l2 --index flat --db d --gt g --query-only --open-only",
            "--base b --query q --metric l2 --index flat --db d --gt g --query-only",
        ] {
            assert!(message(line).contains("--query-only"), "{line}");
        }
    }
}
