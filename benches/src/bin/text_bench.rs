//! Full-text and hybrid search on real-pypi-50k: ingest with and without a TEXT field,
//! the text index's size, and the latency of four query kinds.
//!
//! ```text
//! cargo run --release -p strata-bench --bin text_bench -- --data DIR [--rows 50000]
//!     [--queries 1000] [--db DIR]
//! ```
//!
//! `DIR` holds real-pypi-50k (`base.fvecs`, `meta.jsonl`, `query.fvecs`,
//! `query_meta.jsonl`). The first `--rows` rows are written twice, in batches of 1,000
//! then a flush, into two collections that differ only in the summary's TEXT field
//! (both: TAG topic, NUMERIC year, HNSW M 16 EF_CONSTRUCTION 200 COSINE); the report
//! gives rows/s for each and the bytes of the `text-*` files per document. Each query's
//! text is its summary's words of 3 letters or more, OR-ed (`@text:(w1|w2|..)`, as an
//! all-words AND matches almost nothing), and each query kind runs once per query,
//! one thread, after a warm-up pass:
//!
//! - text only: `@text:(..)`, top 10 by BM25;
//! - text-filtered KNN: `(@text:(..))=>[KNN 10 @v $q]`;
//! - vector only: `*=>[KNN 10 @v $q]`;
//! - hybrid: `SEARCH @text:(..) VSIM @v $q` (RRF, the defaults).
//!
//! Latency is per call (p50 and p99, in µs), with the mean hits returned beside it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use strata::{Database, Doc, Metric, Schema, VectorIndex};
use strata_bench::{fvecs, meta};

type Outcome<T> = Result<T, Box<dyn std::error::Error>>;

fn flag<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile_us(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1e6
}

/// The words of a summary that make a safe OR query: letters and digits, 3 or more.
fn text_query(text: &str) -> Option<String> {
    let mut words: Vec<String> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.len() >= 3)
        .map(str::to_ascii_lowercase)
        .collect();
    words.sort();
    words.dedup();
    (!words.is_empty()).then(|| format!("@text:({})", words.join("|")))
}

fn text_index_bytes(dir: &Path) -> Outcome<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            total += text_index_bytes(&entry.path())?;
        } else if entry.file_name().to_string_lossy().starts_with("text-") {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

fn main() -> Outcome<()> {
    let args: Vec<String> = std::env::args().collect();
    let data = PathBuf::from(flag(&args, "--data", String::new()));
    if data.as_os_str().is_empty() {
        return Err("usage: text_bench --data DIR [--rows N] [--queries N] [--db DIR]".into());
    }
    let rows: usize = flag(&args, "--rows", 50_000);
    let queries: usize = flag(&args, "--queries", 1_000);
    let scratch = tempfile::tempdir()?;
    let db_dir = args
        .iter()
        .position(|a| a == "--db")
        .and_then(|i| args.get(i + 1))
        .map_or_else(|| scratch.path().join("db"), PathBuf::from);

    let base = fvecs::read_fvecs(&data.join("base.fvecs"), Some(rows))?;
    let metas = meta::read_meta(&data.join("meta.jsonl"), Some(base.len()))?;
    let query_vectors = fvecs::read_fvecs(&data.join("query.fvecs"), Some(queries))?;
    let query_metas = meta::read_meta(&data.join("query_meta.jsonl"), Some(query_vectors.len()))?;
    let dim = base.dim();
    let db = Database::open(&db_dir)?;

    let mut ingest = Vec::new();
    for with_text in [false, true] {
        let mut schema = Schema::builder().tag("topic").numeric("year");
        if with_text {
            schema = schema.text("text");
        }
        let schema = schema
            .vector("v", dim, Metric::Cosine, VectorIndex::hnsw(16, 200))
            .build()?;
        let name = if with_text {
            "with_text"
        } else {
            "without_text"
        };
        let collection = db.create_collection(name, schema)?;
        let started = Instant::now();
        for start in (0..base.len()).step_by(1_000) {
            let end = (start + 1_000).min(base.len());
            collection.upsert_many((start..end).map(|row| {
                let m = &metas[row];
                let mut doc = Doc::new().vector("v", base.row(row).to_vec());
                if !m.topics.is_empty() {
                    doc = doc.tag("topic", m.topics.join(","));
                }
                if let Some(year) = m.year {
                    doc = doc.numeric("year", year);
                }
                if with_text {
                    doc = doc.text("text", m.text.clone().unwrap_or_default());
                }
                (format!("r{row}"), doc)
            }))?;
        }
        db.flush()?;
        ingest.push((name, base.len() as f64 / started.elapsed().as_secs_f64()));
    }
    let text_bytes = text_index_bytes(&db_dir)?;
    let coll = db.collection("with_text")?;

    let cases: Vec<(String, Vec<f32>)> = query_metas
        .iter()
        .zip(query_vectors.rows())
        .filter_map(|(m, v)| Some((text_query(m.text.as_deref()?)?, v.to_vec())))
        .collect();
    println!("rows {}, queries with text {}", base.len(), cases.len());
    for (name, rate) in &ingest {
        println!("ingest {name}: {rate:.0} rows/s (batches of 1000, then flush)");
    }
    println!(
        "text index: {} bytes, {:.1} bytes per document",
        text_bytes,
        text_bytes as f64 / base.len() as f64
    );

    let kinds = [
        "text only",
        "text-filtered KNN",
        "vector only",
        "hybrid RRF",
    ];
    for (kind_index, kind) in kinds.iter().enumerate() {
        let run = |text: &str, vector: &[f32]| -> Outcome<usize> {
            Ok(match kind_index {
                0 => coll.query(text).run()?.len(),
                1 => coll
                    .query(&format!("({text})=>[KNN 10 @v $q]"))
                    .param("q", vector.to_vec())
                    .run()?
                    .len(),
                2 => coll
                    .query("*=>[KNN 10 @v $q]")
                    .param("q", vector.to_vec())
                    .run()?
                    .len(),
                _ => coll
                    .hybrid_args(["SEARCH", text, "VSIM", "@v", "$q"])
                    .param("q", vector.to_vec())
                    .run()?
                    .hits
                    .len(),
            })
        };
        for (text, vector) in &cases {
            run(text, vector)?;
        }
        let mut latencies = Vec::with_capacity(cases.len());
        let mut returned = 0;
        for (text, vector) in &cases {
            let started = Instant::now();
            returned += run(text, vector)?;
            latencies.push(started.elapsed());
        }
        latencies.sort();
        println!(
            "{kind:>18}: p50 {:.0} µs, p99 {:.0} µs, mean hits {:.1}",
            percentile_us(&latencies, 0.5),
            percentile_us(&latencies, 0.99),
            returned as f64 / cases.len().max(1) as f64
        );
    }
    Ok(())
}
