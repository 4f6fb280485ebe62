//! Live writes as a user makes them: `ann --stream` upserts the base through the engine's
//! default options (no bulk load, no manual flush), timing every write call, and then
//! measures what queries see right after the stream and after `flush` + `compact`.
//! Also the single-row write latency on a full collection (`--single-upserts`), the
//! batch query API (`--batch-queries`), and reading QPS at a recall off a sweep.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use strata::{Collection, Search};

use crate::fvecs::Matrix;
use crate::metrics::{self, percentile};
use crate::report::RunResult;
use crate::runner::{self, RunSpec, VECTOR_FIELD};
use crate::{BenchError, Result};

/// Latency of write calls: what a writer waits for, stalls included.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteLatency {
    /// Calls made.
    pub calls: usize,
    /// Rows written by them.
    pub rows: usize,
    /// Seconds inside the calls, summed.
    pub total_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl WriteLatency {
    /// Summarises per-call durations of calls that wrote `rows` rows in all.
    pub fn from_samples(samples: &[Duration], rows: usize) -> WriteLatency {
        let mut millis: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        millis.sort_by(f64::total_cmp);
        WriteLatency {
            calls: samples.len(),
            rows,
            total_s: samples.iter().map(Duration::as_secs_f64).sum(),
            p50_ms: percentile(&millis, 50.0),
            p99_ms: percentile(&millis, 99.0),
            p999_ms: percentile(&millis, 99.9),
            max_ms: millis.last().copied().unwrap_or(0.0),
        }
    }

    /// Rows per second of time spent in the calls.
    pub fn rows_per_s(&self) -> f64 {
        if self.total_s > 0.0 {
            self.rows as f64 / self.total_s
        } else {
            0.0
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "calls": self.calls,
            "rows": self.rows,
            "total_s": self.total_s,
            "rows_per_s": self.rows_per_s(),
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "p999_ms": self.p999_ms,
            "max_ms": self.max_ms,
        })
    }

    pub fn line(&self) -> String {
        format!(
            "{} calls, {} rows in {:.2} s ({:.0} rows/s); call latency ms p50 {:.3} p99 {:.3} \
             p99.9 {:.3} max {:.3}",
            self.calls,
            self.rows,
            self.total_s,
            self.rows_per_s(),
            self.p50_ms,
            self.p99_ms,
            self.p999_ms,
            self.max_ms
        )
    }
}

/// Upserts every base row, `batch` rows per `upsert_many` call (one `upsert` per row
/// when `batch` is 1), keyed by row number, timing every call. With a `rate`, waits
/// between calls so that at most `rate` rows per second go in: an ingest the
/// background indexing can follow, unlike writes as fast as the calls return.
pub fn stream(
    collection: &Collection,
    base: &Matrix<f32>,
    batch: usize,
    rate: Option<f64>,
) -> Result<WriteLatency> {
    let mut samples = Vec::with_capacity(base.len() / batch + 1);
    let mut start = 0;
    let began = Instant::now();
    let mut progress = Instant::now();
    while start < base.len() {
        let end = (start + batch).min(base.len());
        let docs: Vec<(String, strata::Doc)> = (start..end)
            .map(|row| (row.to_string(), runner::document(base.row(row), None)))
            .collect();
        let clock = Instant::now();
        if batch == 1 {
            for (key, doc) in docs {
                collection.upsert(key, doc)?;
            }
        } else {
            collection.upsert_many(docs)?;
        }
        samples.push(clock.elapsed());
        start = end;
        if let Some(rate) = rate {
            let due = began + Duration::from_secs_f64(end as f64 / rate);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        if progress.elapsed() > Duration::from_secs(10) {
            eprintln!("ann: streamed {end} of {} rows", base.len());
            progress = Instant::now();
        }
    }
    Ok(WriteLatency::from_samples(&samples, base.len()))
}

/// `count` single-row upserts into a collection that holds `n` rows keyed `0..n`: row
/// `i % n` is read back and written again unchanged, so the data (and recall) stay as
/// they were. Only the `upsert` call is timed.
pub fn single_upserts(collection: &Collection, n: usize, count: usize) -> Result<WriteLatency> {
    let mut samples = Vec::with_capacity(count);
    for i in 0..count {
        let key = (i % n.max(1)).to_string();
        let doc = collection.get(&key)?.ok_or_else(|| {
            BenchError::new(format!(
                "--single-upserts: row {key} is missing from the collection"
            ))
        })?;
        let clock = Instant::now();
        collection.upsert(key, doc)?;
        samples.push(clock.elapsed());
    }
    Ok(WriteLatency::from_samples(&samples, count))
}

/// The sources a query visits, from `Collection::explain`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sources {
    /// Per source: `memtable` or `segment <id>`, its live rows and the strategy.
    pub sources: Vec<(String, u64, String)>,
}

impl Sources {
    pub fn of(collection: &Collection, query: &[f32], k: usize) -> Result<Sources> {
        let plan = collection.explain(&Search::knn(VECTOR_FIELD, query, k))?;
        Ok(Sources {
            sources: plan
                .sources
                .into_iter()
                .map(|source| {
                    (
                        source.source,
                        source.live_rows,
                        format!("{:?}", source.strategy),
                    )
                })
                .collect(),
        })
    }

    /// `3 sources: 1 memtable (ExactOverBitmap), 2 segments (GraphTraversal)`.
    pub fn summary(&self) -> String {
        let mut kinds: Vec<(String, usize)> = Vec::new();
        for (name, _, strategy) in &self.sources {
            let kind = name.split_whitespace().next().unwrap_or("?");
            let label = format!("{kind} ({strategy})");
            match kinds.iter_mut().find(|(seen, _)| *seen == label) {
                Some((_, count)) => *count += 1,
                None => kinds.push((label, 1)),
            }
        }
        let kinds: Vec<String> = kinds
            .into_iter()
            .map(|(label, count)| format!("{count} x {label}"))
            .collect();
        format!("{} sources: {}", self.sources.len(), kinds.join(", "))
    }

    pub fn to_json(&self) -> Value {
        Value::Array(
            self.sources
                .iter()
                .map(|(source, live_rows, strategy)| {
                    json!({"source": source, "live_rows": live_rows, "strategy": strategy})
                })
                .collect(),
        )
    }
}

/// QPS at `target` recall, read off a sweep: the runs sorted by recall, linearly
/// interpolated between the two that bracket the target. `None` when no run reaches
/// it (a curve is not extrapolated).
pub fn qps_at_recall(runs: &[RunResult], target: f64) -> Option<f64> {
    let mut points: Vec<(f64, f64)> = runs
        .iter()
        .filter(|run| run.filter.is_none())
        .map(|run| (run.recall, run.latency.qps))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let above = points.iter().position(|&(recall, _)| recall >= target)?;
    if above == 0 {
        // Every run reaches the target: the fastest of them answers at least as well.
        return points.iter().map(|&(_, qps)| qps).reduce(f64::max);
    }
    let (r0, q0) = points[above - 1];
    let (r1, q1) = points[above];
    if r1 <= r0 {
        return Some(q1);
    }
    Some(q0 + (q1 - q0) * (target - r0) / (r1 - r0))
}

/// Batches of queries through `Collection::search_many` (all cores) against the same
/// queries one `search` at a time on this thread.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchQueries {
    pub params: serde_json::Map<String, Value>,
    pub batch: usize,
    pub batches: usize,
    pub threads: usize,
    pub recall: f64,
    /// Mean milliseconds per batch, one thread (`search` in a loop).
    pub one_thread_ms: f64,
    /// Mean milliseconds per batch through `search_many`.
    pub search_many_ms: f64,
}

impl BatchQueries {
    pub fn to_json(&self) -> Value {
        json!({
            "params": Value::Object(self.params.clone()),
            "batch": self.batch,
            "batches": self.batches,
            "threads": self.threads,
            "recall": self.recall,
            "one_thread_ms_per_batch": self.one_thread_ms,
            "search_many_ms_per_batch": self.search_many_ms,
            "speedup": self.one_thread_ms / self.search_many_ms.max(1e-12),
        })
    }

    pub fn line(&self) -> String {
        format!(
            "batch of {} queries at {} (recall {:.4}), {} batches: 1 thread {:.2} ms, \
             search_many on {} threads {:.2} ms per batch ({:.2}x)",
            self.batch,
            Value::Object(self.params.clone()),
            self.recall,
            self.batches,
            self.one_thread_ms,
            self.threads,
            self.search_many_ms,
            self.one_thread_ms / self.search_many_ms.max(1e-12)
        )
    }
}

/// Splits the queries into batches of `batch` and times each batch both ways under
/// `run`'s settings (unfiltered), checking that both ways return the same ids.
pub fn batch_queries(
    collection: &Collection,
    queries: &Matrix<f32>,
    truth: &[Vec<u32>],
    k: usize,
    run: &RunSpec,
    batch: usize,
) -> Result<BatchQueries> {
    let requests: Vec<Search> = (0..queries.len())
        .map(
            |query| match runner::search_request(run, &[], queries.row(query), k)? {
                runner::Request::Typed(search) => Ok(*search),
                runner::Request::Text { .. } => Err(BenchError::new(
                    "batch queries are measured unfiltered only",
                )),
            },
        )
        .collect::<Result<_>>()?;
    let mut one_thread = Duration::ZERO;
    let mut many = Duration::ZERO;
    let mut returned = Vec::with_capacity(requests.len());
    let chunks: Vec<&[Search]> = requests
        .chunks(batch)
        .filter(|c| c.len() == batch)
        .collect();
    if chunks.is_empty() {
        return Err(BenchError::new(format!(
            "--batch-queries {batch}: there are only {} queries",
            requests.len()
        )));
    }
    for chunk in &chunks {
        let clock = Instant::now();
        let serial: Vec<Vec<strata::Hit>> = chunk
            .iter()
            .map(|request| collection.search(request))
            .collect::<strata::Result<_>>()?;
        one_thread += clock.elapsed();
        let clock = Instant::now();
        let parallel = collection.search_many(chunk)?;
        many += clock.elapsed();
        if serial != parallel {
            return Err(BenchError::new(
                "search_many answered differently from search on the same queries",
            ));
        }
        for hits in &parallel {
            returned.push(runner::hit_ids(hits)?);
        }
    }
    let batches = chunks.len();
    Ok(BatchQueries {
        params: run.params.clone(),
        batch,
        batches,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        recall: metrics::mean_recall(&returned, &truth[..returned.len()], k),
        one_thread_ms: one_thread.as_secs_f64() * 1e3 / batches as f64,
        search_many_ms: many.as_secs_f64() * 1e3 / batches as f64,
    })
}

/// What `--stream` measured, printed under the usual report and kept under
/// `"strata"."stream"` in its JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamFigures {
    pub batch: usize,
    pub write: WriteLatency,
    pub sources_after_stream: Sources,
    pub runs_after_stream: Vec<RunResult>,
    pub flush_s: f64,
    pub compact_s: f64,
    pub sources_after_compact: Sources,
    pub runs_after_compact: Vec<RunResult>,
    /// `--stream-compare-bulk`: the same data bulk-loaded into a second database.
    pub bulk: Option<BulkFigures>,
}

/// The bulk load the stream is compared with.
#[derive(Clone, Debug, PartialEq)]
pub struct BulkFigures {
    pub ingest_s: f64,
    pub flush_s: f64,
    pub sources: Sources,
    pub runs: Vec<RunResult>,
}

const TARGETS: [f64; 2] = [0.95, 0.99];

fn ratio(streamed: &[RunResult], bulk: &[RunResult], target: f64) -> Option<f64> {
    Some(qps_at_recall(streamed, target)? / qps_at_recall(bulk, target)?)
}

fn runs_json(runs: &[RunResult], k: usize) -> Value {
    Value::Array(
        runs.iter()
            .map(|run| {
                let mut object = serde_json::Map::new();
                object.insert("params".into(), Value::Object(run.params.clone()));
                object.insert(format!("recall_at_{k}"), json!(run.recall));
                object.insert("qps".into(), json!(run.latency.qps));
                object.insert("p50_us".into(), json!(run.latency.p50_us));
                object.insert("p99_us".into(), json!(run.latency.p99_us));
                Value::Object(object)
            })
            .collect(),
    )
}

fn at_targets(runs: &[RunResult]) -> Value {
    json!({
        "qps_at_0.95": qps_at_recall(runs, 0.95),
        "qps_at_0.99": qps_at_recall(runs, 0.99),
    })
}

impl StreamFigures {
    pub fn to_json(&self, k: usize) -> Value {
        let mut value = json!({
            "batch": self.batch,
            "write": self.write.to_json(),
            "after_stream": {
                "sources": self.sources_after_stream.to_json(),
                "runs": runs_json(&self.runs_after_stream, k),
                "at_recall": at_targets(&self.runs_after_stream),
            },
            "flush_s": self.flush_s,
            "compact_s": self.compact_s,
            "after_compact": {
                "sources": self.sources_after_compact.to_json(),
                "runs": runs_json(&self.runs_after_compact, k),
                "at_recall": at_targets(&self.runs_after_compact),
            },
            "bulk": Value::Null,
        });
        if let Some(bulk) = &self.bulk {
            let ratios = |runs: &[RunResult]| {
                json!({
                    "0.95": ratio(runs, &bulk.runs, 0.95),
                    "0.99": ratio(runs, &bulk.runs, 0.99),
                })
            };
            value["bulk"] = json!({
                "ingest_s": bulk.ingest_s,
                "flush_s": bulk.flush_s,
                "sources": bulk.sources.to_json(),
                "runs": runs_json(&bulk.runs, k),
                "at_recall": at_targets(&bulk.runs),
                "qps_ratio_after_stream": ratios(&self.runs_after_stream),
                "qps_ratio_after_compact": ratios(&self.runs_after_compact),
            });
        }
        value
    }

    pub fn table(&self, k: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "stream: {} rows per call; {}",
            self.batch,
            self.write.line()
        );
        let _ = writeln!(
            out,
            "after the stream, a query visits {}",
            self.sources_after_stream.summary()
        );
        out.push_str(&runs_table(&self.runs_after_stream, k));
        let _ = writeln!(
            out,
            "flush {:.2} s, compact {:.2} s; then a query visits {}",
            self.flush_s,
            self.compact_s,
            self.sources_after_compact.summary()
        );
        out.push_str(&runs_table(&self.runs_after_compact, k));
        if let Some(bulk) = &self.bulk {
            let _ = writeln!(
                out,
                "bulk load of the same data: ingest {:.2} s, flush (graph build) {:.2} s; a \
                 query visits {}",
                bulk.ingest_s,
                bulk.flush_s,
                bulk.sources.summary()
            );
            out.push_str(&runs_table(&bulk.runs, k));
            for target in TARGETS {
                let show = |value: Option<f64>, digits: usize| {
                    value.map_or("not reached".to_string(), |v| format!("{v:.digits$}"))
                };
                let _ = writeln!(
                    out,
                    "QPS at recall {target}: streamed {} / bulk {} = {}; after flush+compact \
                     {} / bulk = {}",
                    show(qps_at_recall(&self.runs_after_stream, target), 0),
                    show(qps_at_recall(&bulk.runs, target), 0),
                    show(ratio(&self.runs_after_stream, &bulk.runs, target), 2),
                    show(qps_at_recall(&self.runs_after_compact, target), 0),
                    show(ratio(&self.runs_after_compact, &bulk.runs, target), 2),
                );
            }
        }
        out
    }
}

/// The run lines of the main table, for a sweep printed under the stream figures.
pub fn runs_table(runs: &[RunResult], k: usize) -> String {
    let mut out = String::new();
    let recall = format!("recall@{k}");
    let _ = writeln!(
        out,
        "  {:<16} {:>10} {:>10} {:>10} {:>10}",
        "params", recall, "qps", "p50_us", "p99_us"
    );
    for run in runs {
        let _ = writeln!(
            out,
            "  {:<16} {:>10.4} {:>10.1} {:>10.1} {:>10.1}",
            Value::Object(run.params.clone()).to_string(),
            run.recall,
            run.latency.qps,
            run.latency.p50_us,
            run.latency.p99_us
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Latency;

    fn run(recall: f64, qps: f64) -> RunResult {
        RunResult {
            params: serde_json::Map::new(),
            filter: None,
            recall,
            latency: Latency {
                qps,
                p50_us: 1.0,
                p99_us: 2.0,
            },
        }
    }

    #[test]
    fn qps_at_a_recall_is_interpolated_between_the_bracketing_runs() {
        let runs = [run(0.99, 1000.0), run(0.90, 3000.0), run(0.94, 2000.0)];
        let at = qps_at_recall(&runs, 0.95).unwrap();
        assert!((at - (2000.0 - 1000.0 / 0.05 * 0.01)).abs() < 1e-6, "{at}");
        assert_eq!(qps_at_recall(&runs, 0.99), Some(1000.0));
        assert_eq!(qps_at_recall(&runs, 0.995), None, "not extrapolated");
        assert_eq!(qps_at_recall(&runs, 0.5), Some(3000.0));
    }

    #[test]
    fn write_latency_percentiles_and_rate() {
        let samples: Vec<Duration> = (1..=1000).map(Duration::from_millis).collect();
        let latency = WriteLatency::from_samples(&samples, 2000);
        assert_eq!(latency.calls, 1000);
        assert_eq!(
            (latency.p50_ms, latency.p99_ms, latency.p999_ms),
            (500.0, 990.0, 999.0)
        );
        assert_eq!(latency.max_ms, 1000.0);
        assert!((latency.rows_per_s() - 2000.0 / 500.5).abs() < 1e-9);
    }

    #[test]
    fn sources_are_summarised_by_kind_and_strategy() {
        let sources = Sources {
            sources: vec![
                ("segment 1".into(), 10, "GraphTraversal".into()),
                ("segment 2".into(), 10, "GraphTraversal".into()),
                ("memtable".into(), 3, "ExactOverBitmap".into()),
            ],
        };
        assert_eq!(
            sources.summary(),
            "3 sources: 2 x segment (GraphTraversal), 1 x memtable (ExactOverBitmap)"
        );
    }
}
