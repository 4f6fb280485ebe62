//! The report of one `ann` invocation: a table for people and JSON for tools.
//!
//! The JSON shape is fixed so that reports of Strata and of the reference libraries
//! can be compared by one script:
//! `{"system","index","n","dim","ingest_s","build_s","open_ms","rss_mb","disk_mb",
//!   "runs":[{"params","recall_at_10","qps","p50_us","p99_us","filter"}]}`.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{json, Map, Value};

use crate::metrics::{Latency, Machine};
use crate::{BenchError, Result};

/// One measured run: a setting of query-time parameters, with or without a filter.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// Query-time parameters (`ef`, ...); empty for FLAT.
    pub params: Map<String, Value>,
    /// Name of the filter, or `None` for plain k-NN.
    pub filter: Option<String>,
    /// Mean recall@k.
    pub recall: f64,
    /// Throughput and latency.
    pub latency: Latency,
}

/// Everything measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// `flat`, `hnsw` or `ivfpq`.
    pub index: String,
    /// Redis name of the metric.
    pub metric: String,
    /// Base rows in the collection.
    pub n: usize,
    /// Vector dimension.
    pub dim: usize,
    /// Queries per run (unfiltered).
    pub queries: usize,
    /// Neighbours per query; recall is recall@k.
    pub k: usize,
    /// Seconds spent in `upsert_many`; `None` when an existing database was reused.
    pub ingest_s: Option<f64>,
    /// Seconds in an explicit index build or flush step (none exists yet: 0).
    pub build_s: f64,
    /// Milliseconds from `Database::open` to the first answered query.
    pub open_ms: f64,
    /// Resident memory after the first answer, MiB.
    pub rss_mb: Option<f64>,
    /// Resident memory just before the measured open, MiB (what the process held
    /// already: the bench's own data, and heap kept from the ingest).
    pub rss_before_open_mb: Option<f64>,
    /// Size of the database directory, MiB.
    pub disk_mb: f64,
    /// Where the database was.
    pub db: String,
    /// The runs, in order.
    pub runs: Vec<RunResult>,
    /// Where it ran.
    pub machine: Machine,
    /// Remarks printed under the table (runs skipped, and why).
    pub notes: Vec<String>,
}

impl Report {
    /// The JSON document (see the module docs for the shape).
    pub fn to_json(&self) -> Value {
        let runs: Vec<Value> = self
            .runs
            .iter()
            .map(|run| {
                let mut object = Map::new();
                object.insert("params".into(), Value::Object(run.params.clone()));
                object.insert(format!("recall_at_{}", self.k), json!(run.recall));
                object.insert("qps".into(), json!(run.latency.qps));
                object.insert("p50_us".into(), json!(run.latency.p50_us));
                object.insert("p99_us".into(), json!(run.latency.p99_us));
                object.insert("filter".into(), json!(run.filter));
                Value::Object(object)
            })
            .collect();
        json!({
            "system": "strata",
            "index": self.index,
            "n": self.n,
            "dim": self.dim,
            "ingest_s": self.ingest_s,
            "build_s": self.build_s,
            "open_ms": self.open_ms,
            "rss_mb": self.rss_mb,
            "disk_mb": self.disk_mb,
            "runs": runs,
        })
    }

    /// Writes [`Report::to_json`] to `path`.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.to_json())
            .map_err(|e| BenchError::new(format!("cannot encode the report: {e}")))?;
        std::fs::write(path, text + "\n")
            .map_err(|e| BenchError::new(format!("cannot write {}: {e}", path.display())))
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let optional = |value: Option<f64>, digits: usize| {
            value.map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}"))
        };
        // Writing into a String cannot fail; the results are ignored for that reason.
        let _ = writeln!(
            out,
            "strata ann: {} index, {}, n={}, dim={}, {} queries, k={}",
            self.index, self.metric, self.n, self.dim, self.queries, self.k
        );
        let _ = writeln!(
            out,
            "machine: {}, {} cores",
            self.machine.cpu, self.machine.cores
        );
        let _ = writeln!(out, "database: {}", self.db);
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:>10} {:>9} {:>9} {:>9} {:>9}",
            "ingest_s", "build_s", "open_ms", "rss_mb", "disk_mb"
        );
        let ingest = match self.ingest_s {
            Some(seconds) => format!("{seconds:.2}"),
            None => "reused".to_string(),
        };
        let _ = writeln!(
            out,
            "{:>10} {:>9.2} {:>9.1} {:>9} {:>9.1}",
            ingest,
            self.build_s,
            self.open_ms,
            optional(self.rss_mb, 1),
            self.disk_mb
        );
        if let Some(seconds) = self.ingest_s.filter(|s| *s > 0.0) {
            let _ = writeln!(
                out,
                "(ingest {:.0} docs/s; rss before the measured open {} MB)",
                self.n as f64 / seconds,
                optional(self.rss_before_open_mb, 1)
            );
        }
        let _ = writeln!(out);
        let recall = format!("recall@{}", self.k);
        let _ = writeln!(
            out,
            "{:<16} {:<14} {:>10} {:>10} {:>10} {:>10}",
            "params", "filter", recall, "qps", "p50_us", "p99_us"
        );
        for run in &self.runs {
            let _ = writeln!(
                out,
                "{:<16} {:<14} {:>10.4} {:>10.1} {:>10.1} {:>10.1}",
                Value::Object(run.params.clone()).to_string(),
                run.filter.as_deref().unwrap_or("-"),
                run.recall,
                run.latency.qps,
                run.latency.p50_us,
                run.latency.p99_us
            );
        }
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            index: "flat".into(),
            metric: "COSINE".into(),
            n: 100,
            dim: 4,
            queries: 2,
            k: 10,
            ingest_s: Some(0.5),
            build_s: 0.0,
            open_ms: 3.0,
            rss_mb: Some(12.0),
            rss_before_open_mb: Some(10.0),
            disk_mb: 0.25,
            db: "/tmp/x".into(),
            runs: vec![RunResult {
                params: Map::new(),
                filter: None,
                recall: 1.0,
                latency: Latency {
                    qps: 100.0,
                    p50_us: 9.0,
                    p99_us: 20.0,
                },
            }],
            machine: Machine {
                cpu: "cpu".into(),
                cores: 2,
            },
            notes: vec!["a run was skipped".into()],
        }
    }

    #[test]
    fn json_has_the_agreed_shape() {
        let value = report().to_json();
        let mut keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "build_s", "dim", "disk_mb", "index", "ingest_s", "n", "open_ms", "rss_mb", "runs",
                "system"
            ]
        );
        let run = &value["runs"][0];
        assert_eq!(run["params"], json!({}));
        assert_eq!(run["recall_at_10"], json!(1.0));
        assert_eq!(run["filter"], Value::Null);
        assert_eq!(value["system"], "strata");
    }

    #[test]
    fn table_mentions_every_figure() {
        let table = report().table();
        assert!(table.contains("recall@10"), "{table}");
        assert!(table.contains("1.0000"), "{table}");
        assert!(table.contains("note: a run was skipped"), "{table}");
        assert!(table.contains("note: a run was skipped"), "{table}");
        let mut reused = report();
        reused.ingest_s = None;
        assert!(reused.table().contains("reused"));
        assert_eq!(reused.to_json()["ingest_s"], Value::Null);
    }
}
