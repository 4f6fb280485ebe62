//! The report of one `ann` invocation: a table for people and JSON for tools.
//!
//! The JSON shape is fixed so that reports of Strata and of the reference libraries
//! can be compared by one script:
//! `{"system","index","n","dim","ingest_s","build_s","open_ms","rss_mb","disk_mb",
//!   "runs":[{"params","recall_at_10","qps","p50_us","p99_us","filter"}]}`.
//! `open_ms` is the time to the first answered query and `rss_mb` the memory then.
//! Figures only Strata reports (the open step by step, memory by kind, segments,
//! ingest rate) sit under `"strata"`, so the shared keys keep their meaning; so do the
//! live-write figures (`"stream"`, `"single_upserts"`, `"batch_queries"`: see
//! `stream.rs`), `null` when not measured.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{json, Map, Value};

use crate::metrics::{mib, Latency, Machine, Rss};
use crate::open::OpenFigures;
use crate::stream::{BatchQueries, StreamFigures, WriteLatency};
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
    /// The data set: the base file, or the synthetic spec's name.
    pub data: String,
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
    /// Durability of the ingest (`always`, `everysec`, `never`).
    pub durability: String,
    /// Documents per `upsert_many` (1: one `upsert` per document).
    pub batch: usize,
    /// Seconds spent in `upsert_many`; `None` when an existing database was reused.
    pub ingest_s: Option<f64>,
    /// Seconds in the explicit `Database::flush` after the ingest (0 when reused).
    pub build_s: f64,
    /// The measured open, step by step.
    pub open: OpenFigures,
    /// Size of the database directory, bytes.
    pub disk_bytes: u64,
    /// Resident memory when the query runs ended (the mapped rows and graphs the
    /// searches touched, plus the heap), when the platform reports it.
    pub rss_after_runs: Option<u64>,
    /// Segment directories after the ingest and its background compaction.
    pub segments: usize,
    /// Where the database was.
    pub db: String,
    /// The runs, in order.
    pub runs: Vec<RunResult>,
    /// Where it ran.
    pub machine: Machine,
    /// Remarks printed under the table (runs skipped, and why).
    pub notes: Vec<String>,
    /// `--stream`: the live-write ingest and what queries saw after it.
    pub stream: Option<StreamFigures>,
    /// `--single-upserts`: single-row writes into the full collection.
    pub single_upserts: Option<WriteLatency>,
    /// `--batch-queries`: `search_many` against one search at a time.
    pub batch_queries: Option<BatchQueries>,
}

fn rss_json(rss: Option<Rss>) -> Value {
    match rss {
        Some(rss) => json!({"total_mb": mib(rss.total), "anon_mb": mib(rss.anon),
                            "file_mb": mib(rss.file)}),
        None => Value::Null,
    }
}

impl Report {
    /// Bytes on disk per base row.
    pub fn disk_bytes_per_vector(&self) -> f64 {
        self.disk_bytes as f64 / self.n.max(1) as f64
    }

    /// Documents per second of the ingest, if there was one.
    pub fn ingest_rows_per_s(&self) -> Option<f64> {
        self.ingest_s
            .filter(|s| *s > 0.0)
            .map(|seconds| self.n as f64 / seconds)
    }

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
        let open = &self.open;
        json!({
            "system": "strata",
            "index": self.index,
            "n": self.n,
            "dim": self.dim,
            "ingest_s": self.ingest_s,
            "build_s": self.build_s,
            "open_ms": open.first_answer_ms,
            "rss_mb": open.rss_first_answer.map(|rss| mib(rss.total)),
            "disk_mb": mib(self.disk_bytes),
            "rss_after_runs_mb": self.rss_after_runs.map(mib),
            "runs": runs,
            "strata": {
                "data": self.data,
                "durability": self.durability,
                "batch": self.batch,
                "ingest_rows_per_s": self.ingest_rows_per_s(),
                "segments": self.segments,
                "disk_bytes_per_vector": self.disk_bytes_per_vector(),
                "stream": self.stream.as_ref().map(|stream| stream.to_json(self.k)),
                "single_upserts": self.single_upserts.as_ref().map(WriteLatency::to_json),
                "batch_queries": self.batch_queries.as_ref().map(BatchQueries::to_json),
                "open": {
                    "handle_ms": open.handle_ms,
                    "first_get_ms": open.first_get_ms,
                    "first_answer_ms": open.first_answer_ms,
                    "records_replayed": open.records_replayed,
                    "rss_before": rss_json(open.rss_before),
                    "rss_handle": rss_json(open.rss_handle),
                    "rss_first_get": rss_json(open.rss_first_get),
                    "rss_first_answer": rss_json(open.rss_first_answer),
                    "disk_read_mb": {
                        "handle": open.disk_read.handle.map(mib),
                        "first_get": open.disk_read.first_get.map(mib),
                        "first_answer": open.disk_read.first_answer.map(mib),
                    },
                },
            },
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
        let open = &self.open;
        // Writing into a String cannot fail; the results are ignored for that reason.
        let _ = writeln!(
            out,
            "strata ann: {} index, {}, n={}, dim={}, {} queries, k={}",
            self.index, self.metric, self.n, self.dim, self.queries, self.k
        );
        let _ = writeln!(out, "data: {}", self.data);
        let _ = writeln!(
            out,
            "machine: {}, {} cores",
            self.machine.cpu, self.machine.cores
        );
        let _ = writeln!(out, "database: {}", self.db);
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:>10} {:>10} {:>9} {:>9} {:>9} {:>14} {:>9}",
            "ingest_s", "rows/s", "flush_s", "disk_mb", "B/vector", "durability", "segments"
        );
        let (ingest, rate) = match (self.ingest_s, self.ingest_rows_per_s()) {
            (Some(seconds), rate) => (
                format!("{seconds:.2}"),
                rate.map_or("-".into(), |r| format!("{r:.0}")),
            ),
            (None, _) => ("reused".to_string(), "-".to_string()),
        };
        let durability = match self.ingest_s {
            Some(_) => format!("{}/{}", self.durability, self.batch),
            None => "-".to_string(),
        };
        let _ = writeln!(
            out,
            "{:>10} {:>10} {:>9.2} {:>9.1} {:>9.1} {:>14} {:>9}",
            ingest,
            rate,
            self.build_s,
            mib(self.disk_bytes),
            self.disk_bytes_per_vector(),
            durability,
            self.segments
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "open (cumulative from Database::open; rss total/anon/file MiB; {} WAL records replayed)",
            open.records_replayed
        );
        let rss = |rss: Option<Rss>| {
            rss.map_or_else(
                || "-".to_string(),
                |r| format!("{:.1}/{:.1}/{:.1}", mib(r.total), mib(r.anon), mib(r.file)),
            )
        };
        let read = |bytes: Option<u64>| bytes.map_or("-".to_string(), |b| format!("{:.2}", mib(b)));
        let _ = writeln!(
            out,
            "{:<26} {:>10} {:>12}   rss",
            "step", "ms", "disk_read_mb"
        );
        let _ = writeln!(
            out,
            "{:<26} {:>10} {:>12}   {}",
            "before open",
            "-",
            "-",
            rss(open.rss_before)
        );
        for (step, ms, bytes, memory) in [
            (
                "open + collection()",
                open.handle_ms,
                open.disk_read.handle,
                open.rss_handle,
            ),
            (
                "+ first get(key)",
                open.first_get_ms,
                open.disk_read.first_get,
                open.rss_first_get,
            ),
            (
                "+ first k-NN answer",
                open.first_answer_ms,
                open.disk_read.first_answer,
                open.rss_first_answer,
            ),
        ] {
            let _ = writeln!(
                out,
                "{step:<26} {ms:>10.2} {:>12}   {}",
                read(bytes),
                rss(memory)
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
        if let Some(stream) = &self.stream {
            let _ = writeln!(out);
            out.push_str(&stream.table(self.k));
        }
        if let Some(single) = &self.single_upserts {
            let _ = writeln!(
                out,
                "\nsingle upserts into the full collection ({}): {}",
                self.durability,
                single.line()
            );
        }
        if let Some(batch) = &self.batch_queries {
            let _ = writeln!(out, "\n{}", batch.line());
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
        let rss = Some(Rss {
            total: 12 << 20,
            anon: 4 << 20,
            file: 8 << 20,
        });
        Report {
            data: "base.fvecs".into(),
            index: "flat".into(),
            metric: "COSINE".into(),
            n: 100,
            dim: 4,
            queries: 2,
            k: 10,
            durability: "always".into(),
            batch: 1000,
            ingest_s: Some(0.5),
            build_s: 0.0,
            open: OpenFigures {
                rss_before: rss,
                handle_ms: 1.0,
                rss_handle: rss,
                first_get_ms: 2.0,
                rss_first_get: rss,
                first_answer_ms: 3.0,
                rss_first_answer: rss,
                records_replayed: 0,
                disk_read: crate::open::DiskRead {
                    handle: Some(1 << 20),
                    first_get: None,
                    first_answer: None,
                },
            },
            disk_bytes: 51_200,
            rss_after_runs: Some(16 << 20),
            segments: 1,
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
            stream: None,
            single_upserts: None,
            batch_queries: None,
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
                "build_s",
                "dim",
                "disk_mb",
                "index",
                "ingest_s",
                "n",
                "open_ms",
                "rss_after_runs_mb",
                "rss_mb",
                "runs",
                "strata",
                "system"
            ]
        );
        assert_eq!(value["open_ms"], json!(3.0));
        assert_eq!(value["rss_mb"], json!(12.0));
        assert_eq!(value["strata"]["disk_bytes_per_vector"], json!(512.0));
        assert_eq!(value["strata"]["ingest_rows_per_s"], json!(200.0));
        assert_eq!(value["strata"]["open"]["rss_handle"]["file_mb"], json!(8.0));
        assert_eq!(
            value["strata"]["open"]["disk_read_mb"]["handle"],
            json!(1.0)
        );
        let run = &value["runs"][0];
        assert_eq!(run["params"], json!({}));
        assert_eq!(run["recall_at_10"], json!(1.0));
        assert_eq!(run["filter"], Value::Null);
        assert_eq!(value["system"], "strata");
    }

    #[test]
    fn live_write_figures_sit_under_strata() {
        use crate::stream::{BulkFigures, Sources};
        let mut with_stream = report();
        assert_eq!(with_stream.to_json()["strata"]["stream"], Value::Null);
        let write = WriteLatency::from_samples(&[std::time::Duration::from_millis(4); 10], 1000);
        let sources = Sources {
            sources: vec![("memtable".into(), 100, "ExactOverBitmap".into())],
        };
        let runs = with_stream.runs.clone();
        with_stream.stream = Some(StreamFigures {
            batch: 100,
            write: write.clone(),
            sources_after_stream: sources.clone(),
            runs_after_stream: runs.clone(),
            flush_s: 1.0,
            compact_s: 2.0,
            sources_after_compact: sources.clone(),
            runs_after_compact: runs.clone(),
            bulk: Some(BulkFigures {
                ingest_s: 0.5,
                flush_s: 3.0,
                sources,
                runs,
            }),
        });
        with_stream.single_upserts = Some(write);
        let value = with_stream.to_json();
        let stream = &value["strata"]["stream"];
        let rate = stream["write"]["rows_per_s"].as_f64().unwrap();
        assert!((rate - 25_000.0).abs() < 1e-6, "{rate}");
        assert_eq!(stream["write"]["p999_ms"], json!(4.0));
        assert_eq!(stream["after_stream"]["sources"][0]["source"], "memtable");
        assert_eq!(
            stream["bulk"]["qps_ratio_after_compact"]["0.95"],
            json!(1.0)
        );
        assert_eq!(value["strata"]["single_upserts"]["calls"], json!(10));
        let table = with_stream.table();
        assert!(table.contains("p99.9 4.000"), "{table}");
        assert!(
            table.contains("1 sources: 1 x memtable (ExactOverBitmap)"),
            "{table}"
        );
        assert!(table.contains("QPS at recall 0.95"), "{table}");
    }

    #[test]
    fn table_mentions_every_figure() {
        let table = report().table();
        assert!(table.contains("recall@10"), "{table}");
        assert!(table.contains("1.0000"), "{table}");
        assert!(table.contains("note: a run was skipped"), "{table}");
        assert!(table.contains("+ first get(key)"), "{table}");
        assert!(table.contains("12.0/4.0/8.0"), "{table}");
        assert!(table.contains("512.0"), "{table}");
        let mut reused = report();
        reused.ingest_s = None;
        assert!(reused.table().contains("reused"));
        assert_eq!(reused.to_json()["ingest_s"], Value::Null);
    }
}
