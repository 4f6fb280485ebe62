//! The setting both merge benches (`merge_bench` for HNSW graphs, `ivfpq_merge` for
//! IVF-PQ quantisers) measure in: an old segment of the first `--keep` base rows, an
//! evenly spread `--delete` share of it deleted, and the merged rows (the survivors in
//! their order, then the rest of the base) that a compaction would index. Keeping it in
//! one place keeps the two benches' figures about the same rows.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use strata_index::{flat, Metric};

use crate::fvecs::{self, Matrix};

/// The flags both merge benches take, with their defaults.
#[derive(Debug)]
pub struct MergeFlags {
    /// `--base`: the rows, old segment first.
    pub base: PathBuf,
    /// `--query`: the queries recall is measured on.
    pub query: PathBuf,
    /// `--metric`.
    pub metric: Metric,
    /// `--keep`: how many leading base rows form the old segment.
    pub keep: usize,
    /// `--delete`: the share of the old segment deleted before the merge, in [0, 1).
    pub delete: f64,
    /// `--threads`: build threads.
    pub threads: usize,
}

impl Default for MergeFlags {
    fn default() -> MergeFlags {
        MergeFlags {
            base: PathBuf::new(),
            query: PathBuf::new(),
            metric: Metric::Cosine,
            keep: 40_000,
            delete: 0.05,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

impl MergeFlags {
    /// Consumes `flag` if it is one of the shared flags, reading its value from
    /// `value`; `Ok(false)` leaves it to the bench's own flags.
    pub fn take(
        &mut self,
        flag: &str,
        value: &mut dyn FnMut() -> Result<String, String>,
    ) -> Result<bool, String> {
        match flag {
            "--base" => self.base = value()?.into(),
            "--query" => self.query = value()?.into(),
            "--metric" => {
                self.metric = match value()?.as_str() {
                    "cosine" => Metric::Cosine,
                    "l2" => Metric::L2,
                    "ip" => Metric::InnerProduct,
                    other => return Err(format!("unknown metric {other}")),
                }
            }
            "--keep" => self.keep = number(&value()?)?,
            "--delete" => {
                let v = value()?;
                self.delete = v.parse().map_err(|e| format!("{v}: {e}"))?;
                if !(0.0..1.0).contains(&self.delete) {
                    return Err("--delete must be in [0, 1)".into());
                }
            }
            "--threads" => self.threads = number(&value()?)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// An error naming `usage` when a required flag is missing.
    pub fn check(&self, usage: &str) -> Result<(), String> {
        if self.base.as_os_str().is_empty() || self.query.as_os_str().is_empty() {
            return Err(usage.into());
        }
        Ok(())
    }
}

/// A whole number flag value, with the value named in the error.
pub fn number(value: &str) -> Result<usize, String> {
    value.parse::<usize>().map_err(|e| format!("{value}: {e}"))
}

/// A comma-separated list of whole numbers (`--ef 10,20,40`).
pub fn list(value: &str) -> Result<Vec<usize>, String> {
    value.split(',').map(number).collect()
}

/// The old segment, the deletions and the merged rows, read from the flags' files.
#[derive(Debug)]
pub struct MergeInput {
    /// The queries.
    pub queries: Matrix<f32>,
    /// Dimension of every row and query.
    pub dim: usize,
    /// The old segment's rows, flattened.
    pub old_rows: Vec<f32>,
    /// For each old row, its row in the merged set, or `None` when it was deleted.
    pub map: Vec<Option<u32>>,
    /// The merged rows, flattened.
    pub merged_rows: Vec<f32>,
}

impl MergeInput {
    /// Reads the base and queries and lays out the old and merged rows; prints how
    /// the merged set is made up.
    pub fn load(flags: &MergeFlags) -> Result<MergeInput, String> {
        let base = fvecs::read_fvecs(&flags.base, None).map_err(|e| e.to_string())?;
        let queries = fvecs::read_fvecs(&flags.query, None).map_err(|e| e.to_string())?;
        let dim = base.dim();
        if queries.dim() != dim || flags.keep == 0 || flags.keep > base.len() {
            return Err("query dimension differs, or --keep is not in 1..=base rows".into());
        }
        let old_rows: Vec<f32> = base.rows().take(flags.keep).flatten().copied().collect();
        // Every row whose running share crosses a multiple of 1/delete is deleted: an
        // even spread, the same on every run.
        let mut map = Vec::with_capacity(flags.keep);
        let mut merged_rows = Vec::with_capacity(base.len() * dim);
        let mut deleted = 0usize;
        for (id, row) in base.rows().take(flags.keep).enumerate() {
            if ((id + 1) as f64 * flags.delete) as usize > deleted {
                deleted += 1;
                map.push(None);
            } else {
                map.push(Some((merged_rows.len() / dim) as u32));
                merged_rows.extend_from_slice(row);
            }
        }
        for row in base.rows().skip(flags.keep) {
            merged_rows.extend_from_slice(row);
        }
        println!(
            "merged rows: {} = {} kept of the old segment ({deleted} deleted) + {} new",
            merged_rows.len() / dim,
            flags.keep - deleted,
            base.len() - flags.keep
        );
        Ok(MergeInput {
            queries,
            dim,
            old_rows,
            map,
            merged_rows,
        })
    }

    /// Rows in the merged set.
    pub fn merged_len(&self) -> usize {
        self.merged_rows.len() / self.dim
    }

    /// The exact top 10 of every query over the merged rows.
    pub fn truth(&self, metric: Metric) -> Vec<Vec<u32>> {
        let n = self.merged_len() as u32;
        self.queries
            .rows()
            .map(|q| {
                flat::search(metric, q, &self.merged_rows, self.dim, 0..n, 10)
                    .into_iter()
                    .map(|hit| hit.id)
                    .collect()
            })
            .collect()
    }
}

/// Recall@10 against `truth` and single-thread queries per second of `search`, which
/// answers one query with its top 10 ids.
pub fn recall_and_qps(
    queries: &Matrix<f32>,
    truth: &[Vec<u32>],
    mut search: impl FnMut(&[f32]) -> Result<Vec<u32>, String>,
) -> Result<(f64, f64), String> {
    let started = Instant::now();
    let mut hits = 0usize;
    for (q, want) in queries.rows().zip(truth) {
        hits += search(q)?.iter().filter(|id| want.contains(id)).count();
    }
    let secs = started.elapsed().as_secs_f64();
    let total: usize = truth.iter().map(Vec::len).sum();
    Ok((
        hits as f64 / total.max(1) as f64,
        queries.len() as f64 / secs,
    ))
}

/// Runs a merge bench named `name` on its parsed flags: a usage problem exits 2, a
/// failure of `run` exits 1.
pub fn exit<A>(
    name: &str,
    parsed: Result<A, String>,
    run: impl FnOnce(&A) -> Result<(), String>,
) -> ExitCode {
    let args = match parsed {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{name}: {message}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{name}: error: {message}");
            ExitCode::FAILURE
        }
    }
}
