//! `make_sample`: cuts the small sample of real-pypi-50k that `cargo run -p strata
//! --example demo` embeds, so that the demo runs without the data set.
//!
//! ```text
//! cargo run --release -p strata-bench --bin make_sample -- \
//!     [--data ../shared/data/real-pypi-50k] [--out engine/examples/data] \
//!     [--rows 2000] [--queries 0,1,4,9,11]
//! ```
//!
//! Writes, in `--out`:
//! - `sample.i8`, `queries.i8`: vectors quantised to int8 with one f32 scale per row
//!   (a quarter of the f32 size, which matters for a file checked into the repository;
//!   cosine rankings barely move, and this tool prints how many top-5 lists changed).
//!   Layout, little-endian: `u32 rows, u32 dim`, then per row `f32 scale, dim × i8`;
//!   a component is `i8 × scale`.
//! - `sample.tsv`: a header line, then per base row `key, name, topic, year,
//!   popularity, summary` (topics joined with `,`; an absent year is empty).
//! - `queries.tsv`: a header line, then per query `name, text`.
//!
//! Tabs and line breaks inside texts become spaces, so every row is one line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::Value;
use strata::Metric;
use strata_bench::fvecs::{self, Matrix};
use strata_bench::groundtruth;
use strata_bench::{BenchError, Result};

const USAGE: &str = "usage: make_sample [--data DIR] [--out DIR] [--rows N] [--queries I,J,...]";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("make_sample: error: {error}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Debug)]
struct Settings {
    data: PathBuf,
    out: PathBuf,
    rows: usize,
    queries: Vec<usize>,
}

fn parse(arguments: Vec<String>) -> Result<Settings> {
    let mut settings = Settings {
        data: PathBuf::from("../shared/data/real-pypi-50k"),
        out: PathBuf::from("engine/examples/data"),
        rows: 2000,
        // Five queries on different subjects (LLMs, HTTP, a CLI, segmentation, a
        // cloud SDK), so the demo shows varied neighbourhoods.
        queries: vec![0, 1, 4, 9, 11],
    };
    let mut arguments = arguments.into_iter();
    while let Some(flag) = arguments.next() {
        let value = arguments
            .next()
            .ok_or_else(|| BenchError::new(format!("{flag} needs a value\n{USAGE}")))?;
        let number = |text: &str| {
            text.trim()
                .parse::<usize>()
                .map_err(|_| BenchError::new(format!("{flag} {text:?}: expected a number")))
        };
        match flag.as_str() {
            "--data" => settings.data = PathBuf::from(value),
            "--out" => settings.out = PathBuf::from(value),
            "--rows" => settings.rows = number(&value)?,
            "--queries" => {
                settings.queries = value.split(',').map(number).collect::<Result<_>>()?;
            }
            _ => {
                return Err(BenchError::new(format!(
                    "unknown argument {flag:?}\n{USAGE}"
                )))
            }
        }
    }
    if settings.rows == 0 || settings.queries.is_empty() {
        return Err(BenchError::new("--rows and --queries must not be empty"));
    }
    Ok(settings)
}

fn run(arguments: Vec<String>) -> Result<()> {
    let settings = parse(arguments)?;
    let data = &settings.data;
    let base = fvecs::read_fvecs(&data.join("base.fvecs"), Some(settings.rows))?;
    if base.len() < settings.rows {
        return Err(BenchError::new(format!(
            "the base has only {} rows",
            base.len()
        )));
    }
    let all_queries = fvecs::read_fvecs(&data.join("query.fvecs"), None)?;
    let base_meta = read_jsonl(&data.join("meta.jsonl"), settings.rows)?;
    let query_limit = settings.queries.iter().max().map_or(0, |max| max + 1);
    let query_meta = read_jsonl(&data.join("query_meta.jsonl"), query_limit)?;
    let mut query_data = Vec::new();
    let mut query_rows = Vec::new();
    for &index in &settings.queries {
        if index >= all_queries.len() || index >= query_meta.len() {
            return Err(BenchError::new(format!("there is no query {index}")));
        }
        query_data.extend_from_slice(all_queries.row(index));
        query_rows.push(&query_meta[index]);
    }
    let queries = Matrix::new(all_queries.dim(), query_data)?;

    std::fs::create_dir_all(&settings.out)
        .map_err(|e| BenchError::new(format!("cannot create {}: {e}", settings.out.display())))?;
    write_file(&settings.out.join("sample.i8"), &quantize(&base)?)?;
    write_file(&settings.out.join("queries.i8"), &quantize(&queries)?)?;

    let mut tsv = String::from("key\tname\ttopic\tyear\tpopularity\tsummary\n");
    for row in &base_meta {
        let topics: Vec<&str> = match row.get("topic") {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let number = |field: &str| {
            row.get(field)
                .and_then(Value::as_i64)
                .map(|n| n.to_string())
        };
        let fields = [
            text(row, "id")?,
            text(row, "name")?,
            topics.join(","),
            number("year").unwrap_or_default(),
            number("popularity").unwrap_or_else(|| "0".to_string()),
            text(row, "text")?,
        ];
        tsv.push_str(&fields.join("\t"));
        tsv.push('\n');
    }
    write_file(&settings.out.join("sample.tsv"), tsv.as_bytes())?;

    let mut tsv = String::from("name\ttext\n");
    for row in query_rows {
        tsv.push_str(&format!("{}\t{}\n", text(row, "name")?, text(row, "text")?));
    }
    write_file(&settings.out.join("queries.tsv"), tsv.as_bytes())?;

    report_quantization_effect(&base, &queries)?;
    println!(
        "wrote {} base rows and {} queries to {}",
        base.len(),
        queries.len(),
        settings.out.display()
    );
    Ok(())
}

fn read_jsonl(path: &Path, rows: usize) -> Result<Vec<Value>> {
    let content = std::fs::read_to_string(path)
        .map_err(|e| BenchError::new(format!("cannot read {}: {e}", path.display())))?;
    let values = content
        .lines()
        .take(rows)
        .enumerate()
        .map(|(line, text)| {
            serde_json::from_str(text).map_err(|e| {
                BenchError::new(format!(
                    "{}:{}: invalid JSON: {e}",
                    path.display(),
                    line + 1
                ))
            })
        })
        .collect::<Result<Vec<Value>>>()?;
    if values.len() < rows {
        return Err(BenchError::new(format!(
            "{} has {} rows; {rows} are needed",
            path.display(),
            values.len()
        )));
    }
    Ok(values)
}

/// A string field, with tabs and line breaks made spaces (they would break the TSV).
fn text(row: &Value, field: &str) -> Result<String> {
    let value = row
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| BenchError::new(format!("a row has no string `{field}`: {row}")))?;
    Ok(value.replace(['\t', '\n', '\r'], " "))
}

/// Symmetric int8 quantisation with one scale per row (see the module docs).
fn quantize(matrix: &Matrix<f32>) -> Result<Vec<u8>> {
    let size = |n: usize| {
        u32::try_from(n).map_err(|_| BenchError::new(format!("{n} does not fit the header")))
    };
    let mut out = Vec::with_capacity(8 + matrix.len() * (4 + matrix.dim()));
    out.extend_from_slice(&size(matrix.len())?.to_le_bytes());
    out.extend_from_slice(&size(matrix.dim())?.to_le_bytes());
    for row in matrix.rows() {
        let (scale, codes) = quantize_row(row);
        out.extend_from_slice(&scale.to_le_bytes());
        out.extend(codes.iter().map(|&c| c.to_le_bytes()[0]));
    }
    Ok(out)
}

fn quantize_row(row: &[f32]) -> (f32, Vec<i8>) {
    let max = row.iter().fold(0f32, |max, v| max.max(v.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    // The clamp keeps the cast in range even for the row's largest component.
    let codes = row
        .iter()
        .map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (scale, codes)
}

fn dequantize(matrix: &Matrix<f32>) -> Result<Matrix<f32>> {
    let mut data = Vec::with_capacity(matrix.len() * matrix.dim());
    for row in matrix.rows() {
        let (scale, codes) = quantize_row(row);
        data.extend(codes.iter().map(|&c| f32::from(c) * scale));
    }
    Matrix::new(matrix.dim(), data)
}

/// Prints how far int8 moves the demo's answers: the exact top 5 of each query over
/// the f32 sample against the top 5 over the quantised one.
fn report_quantization_effect(base: &Matrix<f32>, queries: &Matrix<f32>) -> Result<()> {
    let exact = groundtruth::exact_topk(Metric::Cosine, base, queries, 5, 2);
    let quantized = groundtruth::exact_topk(
        Metric::Cosine,
        &dequantize(base)?,
        &dequantize(queries)?,
        5,
        2,
    );
    let same = exact
        .iter()
        .zip(&quantized)
        .map(|(a, b)| a.iter().filter(|id| b.contains(id)).count())
        .sum::<usize>();
    println!(
        "int8 sample: {same} of {} top-5 hits are the same as with f32",
        exact.len() * 5
    );
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes)
        .map_err(|e| BenchError::new(format!("cannot write {}: {e}", path.display())))
}
