//! `strata-bench`: measuring Strata on real data sets.
//!
//! The `ann` binary (`src/bin/ann.rs`) drives Strata through its public API only and
//! prints recall@k, QPS, latency percentiles, ingest, open time, resident memory and
//! bytes on disk for a data set in TexMex format (`.fvecs` / `.ivecs`). The pieces live
//! here, as a library, so that they can be unit-tested and reused by other tools
//! (`make_sample`, later comparisons against reference libraries):
//!
//! - [`fvecs`]: reading and writing `.fvecs` / `.ivecs` files, with checks;
//! - [`groundtruth`]: exact top-k by brute force in f64, for subsets of a base;
//! - [`merge_input`]: the old segment, deletions and merged rows of the merge benches;
//! - [`meta`]: `meta.jsonl` rows and `gt_filtered.json` filters;
//! - [`metrics`]: recall, latency percentiles, memory, disk usage, machine;
//! - [`open`]: the measured open, step by step (handle, first get, first answer);
//! - [`args`]: the `ann` command line;
//! - [`runner`]: the Strata side: schema, ingest, open, query runs;
//! - [`synthetic`]: seeded generated data sets (`--synthetic N:DIM[:SEED]`);
//! - [`report`]: the table and the JSON report;
//! - [`stream`]: live writes (`--stream`), single upserts, batch queries.

pub mod args;
pub mod fvecs;
pub mod groundtruth;
pub mod merge_input;
pub mod meta;
pub mod metrics;
pub mod open;
pub mod report;
pub mod runner;
pub mod stream;
pub mod synthetic;

use std::fmt;

/// A failure of a bench tool: a sentence for the user, printed before a non-zero exit.
///
/// Bench tools only ever report errors, never match on them, so one message type is
/// enough; the message names the file or flag at fault.
#[derive(Debug)]
pub struct BenchError(pub String);

impl BenchError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> BenchError {
        BenchError(message.into())
    }
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BenchError {}

impl From<strata::Error> for BenchError {
    fn from(error: strata::Error) -> BenchError {
        BenchError(format!("strata: {error}"))
    }
}

/// Result alias of the bench tools.
pub type Result<T, E = BenchError> = std::result::Result<T, E>;
