//! The shipped sample (`examples/data/`, see its README), shared by the pattern
//! examples: 2,000 PyPI packages and five queries, embedded with all-MiniLM-L6-v2
//! (384 dimensions, cosine), compiled into the binary so every example runs anywhere.

// Each example uses part of the sample's fields and helpers.
#![allow(dead_code)]
use std::error::Error;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

const SAMPLE_VECTORS: &[u8] = include_bytes!("../data/sample.i8");
const SAMPLE_FIELDS: &str = include_str!("../data/sample.tsv");
const QUERY_VECTORS: &[u8] = include_bytes!("../data/queries.i8");
const QUERY_TEXTS: &str = include_str!("../data/queries.tsv");

/// The embedding dimension.
pub const DIM: usize = 384;

pub type Outcome<T> = Result<T, Box<dyn Error>>;

/// One package of the sample.
#[derive(Debug)]
pub struct Package {
    pub key: String,
    pub name: String,
    /// Comma-joined topics (a TAG value).
    pub topic: String,
    pub year: Option<f64>,
    pub popularity: f64,
    pub summary: String,
    pub embedding: Vec<f32>,
}

/// One query: the text its embedding was computed from, and the embedding.
#[derive(Debug)]
pub struct Query {
    pub text: String,
    pub embedding: Vec<f32>,
}

pub fn packages() -> Outcome<Vec<Package>> {
    let vectors = decode_vectors(SAMPLE_VECTORS, "sample.i8")?;
    let rows: Vec<&str> = SAMPLE_FIELDS.lines().skip(1).collect();
    if rows.len() != vectors.len() {
        return Err("sample.tsv and sample.i8 do not match".into());
    }
    rows.iter()
        .zip(vectors)
        .enumerate()
        .map(|(line, (row, embedding))| {
            let fields: Vec<&str> = row.split('\t').collect();
            let [key, name, topic, year, popularity, summary] = fields[..] else {
                return Err(format!("sample.tsv line {}: expected 6 fields", line + 2).into());
            };
            let number = |text: &str| -> Outcome<f64> {
                text.parse().map_err(|_| {
                    format!("sample.tsv line {}: bad number {text:?}", line + 2).into()
                })
            };
            Ok(Package {
                key: key.to_string(),
                name: name.to_string(),
                topic: topic.to_string(),
                year: if year.is_empty() {
                    None
                } else {
                    Some(number(year)?)
                },
                popularity: number(popularity)?,
                summary: summary.to_string(),
                embedding,
            })
        })
        .collect()
}

pub fn queries() -> Outcome<Vec<Query>> {
    let vectors = decode_vectors(QUERY_VECTORS, "queries.i8")?;
    let texts: Vec<String> = QUERY_TEXTS
        .lines()
        .skip(1)
        .map(|line| line.replacen('\t', ": ", 1))
        .collect();
    if texts.len() != vectors.len() || texts.is_empty() {
        return Err("queries.tsv and queries.i8 do not match".into());
    }
    Ok(texts
        .into_iter()
        .zip(vectors)
        .map(|(text, embedding)| Query { text, embedding })
        .collect())
}

/// `u32 rows, u32 dim`, then per row an f32 scale and `dim` signed bytes.
fn decode_vectors(bytes: &[u8], file: &str) -> Outcome<Vec<Vec<f32>>> {
    let word = |at: usize| -> Outcome<[u8; 4]> {
        bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| format!("{file} is too short").into())
    };
    let rows = u32::from_le_bytes(word(0)?) as usize;
    let dim = u32::from_le_bytes(word(4)?) as usize;
    if dim != DIM || bytes.len() != 8 + rows * (4 + dim) {
        return Err(format!("{file}: unexpected size for {rows} rows of {dim} dimensions").into());
    }
    Ok(bytes[8..]
        .chunks_exact(4 + dim)
        .map(|row| {
            let scale = f32::from_le_bytes([row[0], row[1], row[2], row[3]]);
            row[4..]
                .iter()
                .map(|&b| f32::from(i8::from_le_bytes([b])) * scale)
                .collect()
        })
        .collect())
}

/// A fresh database directory under the system's temporary directory; the example
/// removes it when done.
pub struct TempDb(pub PathBuf);

impl TempDb {
    pub fn new(example: &str) -> TempDb {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        TempDb(
            std::env::temp_dir().join(format!("strata-{example}-{}-{nanos}", std::process::id())),
        )
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn section(title: &str) {
    println!(
        "\n== {title} {}",
        "=".repeat(70usize.saturating_sub(title.len()))
    );
}

/// At most `width` characters of `text`, with `…` when cut.
pub fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut clipped: String = text.chars().take(width - 1).collect();
    clipped.push('…');
    clipped
}
