//! A tour of Strata on real data: 2,000 PyPI packages embedded with all-MiniLM-L6-v2
//! (384 dimensions), searched by five query embeddings.
//!
//! ```text
//! cargo run --release -p strata --example demo            # in a temporary directory
//! cargo run --release -p strata --example demo -- my.db   # in (and kept at) my.db
//! ```
//!
//! The sample is compiled into the binary (`examples/data/`, see its README), so the
//! demo runs anywhere. It creates a collection, ingests with `upsert_many`, runs k-NN
//! searches and a hybrid (keywords plus vector) query, gets and deletes a document,
//! then closes the database and opens it again.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use strata::{Collection, Database, Doc, Metric, Schema, Search, VectorIndex};

const SAMPLE_VECTORS: &[u8] = include_bytes!("data/sample.i8");
const SAMPLE_FIELDS: &str = include_str!("data/sample.tsv");
const QUERY_VECTORS: &[u8] = include_bytes!("data/queries.i8");
const QUERY_TEXTS: &str = include_str!("data/queries.tsv");

const DIM: usize = 384;
const COLLECTION: &str = "packages";
const HITS: usize = 5;

type DemoResult<T> = Result<T, Box<dyn Error>>;

/// One package of the sample.
#[derive(Debug)]
struct Package {
    key: String,
    name: String,
    topic: String,
    year: Option<f64>,
    popularity: f64,
    summary: String,
    embedding: Vec<f32>,
}

/// One query: the text its embedding was computed from, and the embedding.
#[derive(Debug)]
struct Query {
    text: String,
    embedding: Vec<f32>,
}

fn main() -> DemoResult<()> {
    let packages = load_packages()?;
    let queries = load_queries()?;

    // A path argument keeps the database; without one it lives in a temporary
    // directory that is removed at the end, whatever happened.
    let (path, temporary) = match std::env::args_os().nth(1) {
        Some(path) => (PathBuf::from(path), false),
        None => (temporary_path(), true),
    };
    let outcome = tour(&path, &packages, &queries);
    if temporary && let Err(error) = std::fs::remove_dir_all(&path) {
        eprintln!("note: could not remove {}: {error}", path.display());
    }
    outcome
}

fn tour(path: &Path, packages: &[Package], queries: &[Query]) -> DemoResult<()> {
    section("open");
    let db = Database::open(path)?;
    println!("database      {}", path.display());
    let docs = if db.list_collections().iter().any(|c| c == COLLECTION) {
        println!("collection    `{COLLECTION}` exists; upserting replaces its documents");
        db.collection(COLLECTION)?
    } else {
        let schema = Schema::builder()
            .text("name")
            .text("summary")
            .tag("topic")
            .numeric("year")
            .numeric("popularity")
            .vector("embedding", DIM, Metric::Cosine, VectorIndex::flat())
            .build()?;
        println!("collection    `{COLLECTION}` created:");
        for field in schema.fields() {
            println!("                {:<12} {}", field.name, field.kind.name());
        }
        db.create_collection(COLLECTION, schema)?
    };

    section("ingest");
    let clock = Instant::now();
    let mut batches = 0;
    for chunk in packages.chunks(500) {
        docs.upsert_many(chunk.iter().map(|p| (p.key.clone(), document(p))))?;
        batches += 1;
    }
    let elapsed = clock.elapsed();
    println!(
        "upserted      {} packages in {batches} batches, {} ({:.0} docs/s)",
        packages.len(),
        millis(elapsed),
        packages.len() as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    println!("documents     {}", docs.len()?);

    section("k-NN search (COSINE distance: 0 = same direction)");
    let mut first_hit = None;
    for query in queries {
        let hits = search(&docs, query)?;
        if first_hit.is_none() {
            first_hit = hits.first().map(|hit| hit.key.clone());
        }
    }

    section("hybrid search (keywords and vectors fused by RRF, as FT.HYBRID)");
    hybrid(&docs, &queries[1], "http server")?;

    section("get and delete");
    let Some(key) = first_hit else {
        return Err("the first query found nothing".into());
    };
    match docs.get(&key)? {
        Some(doc) => {
            println!("get({key:?}):");
            for (field, value) in doc.fields() {
                match value {
                    strata::Value::Vector(v) => println!("    {field:<12} [{} floats]", v.len()),
                    strata::Value::Text(t) | strata::Value::Tag(t) | strata::Value::Json(t) => {
                        println!("    {field:<12} {t}")
                    }
                    strata::Value::Numeric(n) => println!("    {field:<12} {n}"),
                }
            }
        }
        None => println!("get({key:?}): not found"),
    }
    let before = docs.len()?;
    println!("delete({key:?}) -> {}", docs.delete(&key)?);
    println!("delete({key:?}) again -> {}", docs.delete(&key)?);
    println!(
        "get({key:?}) -> {:?}",
        docs.get(&key)?.map(|_| "a document")
    );
    println!("documents     {before} -> {}", docs.len()?);
    println!("the first query without it:");
    search(&docs, &queries[0])?;

    section("reopen");
    let count = docs.len()?;
    // Every handle keeps the database open (and locked); drop them all to close it.
    drop(docs);
    drop(db);
    let clock = Instant::now();
    let db = Database::open(path)?;
    let docs = db.collection(COLLECTION)?;
    let reopened = docs.len()?;
    println!("reopened      in {}", millis(clock.elapsed()));
    println!(
        "documents     {count} before closing, {reopened} after reopening{}",
        if count == reopened {
            ""
        } else {
            "  <- MISMATCH"
        }
    );
    if count != reopened {
        return Err(format!("{count} documents before closing, {reopened} after").into());
    }
    println!();
    Ok(())
}

/// Runs one query and prints its top hits; returns them.
fn search(docs: &Collection, query: &Query) -> DemoResult<Vec<strata::Hit>> {
    let request = Search::knn("embedding", &query.embedding, HITS)
        .return_fields(["name", "summary", "topic", "year"]);
    let clock = Instant::now();
    let hits = docs.search(&request)?;
    println!("\n  \"{}\"  ({})", query.text, millis(clock.elapsed()));
    for (rank, hit) in hits.iter().enumerate() {
        let doc = &hit.doc;
        let year = doc
            .get_numeric("year")
            .map_or_else(|| "-".to_string(), |y| format!("{y:.0}"));
        println!(
            "  {}. {:.4}  {:<28} {:<4} {:<18} {}",
            rank + 1,
            hit.distance,
            clip(doc.get_text("name").unwrap_or("?"), 28),
            year,
            clip(doc.get_tag("topic").unwrap_or("-"), 18),
            clip(doc.get_text("summary").unwrap_or(""), 56),
        );
    }
    Ok(hits)
}

/// Runs one hybrid query: `words` over the summaries beside the query's embedding,
/// fused by reciprocal rank; prints each hit's rank on either side.
fn hybrid(docs: &Collection, query: &Query, words: &str) -> DemoResult<()> {
    let clock = Instant::now();
    let page = docs
        .hybrid(&format!(
            "SEARCH '@summary:({words})' VSIM @embedding $q KNN 2 K 10 \
             COMBINE RRF 4 CONSTANT 60 WINDOW 20 LOAD 2 name summary LIMIT 0 {HITS}"
        ))
        .param("q", query.embedding.clone())
        .run()?;
    println!(
        "\n  \"{words}\" + \"{}\"  ({}, {} fused)",
        query.text,
        millis(clock.elapsed()),
        page.total
    );
    let rank =
        |side: Option<strata::HybridRank>| side.map_or("-".to_string(), |s| s.rank.to_string());
    for (at, hit) in page.hits.iter().enumerate() {
        println!(
            "  {}. {:.4}  text {:>2}  vector {:>2}  {:<28} {}",
            at + 1,
            hit.score,
            rank(hit.text),
            rank(hit.vector),
            clip(hit.doc.get_text("name").unwrap_or("?"), 28),
            clip(hit.doc.get_text("summary").unwrap_or(""), 48),
        );
    }
    Ok(())
}

fn document(package: &Package) -> Doc {
    let mut doc = Doc::new()
        .text("name", package.name.as_str())
        .text("summary", package.summary.as_str())
        .tag("topic", package.topic.as_str())
        .numeric("popularity", package.popularity)
        .vector("embedding", package.embedding.as_slice());
    // One package of the data set has no release date; its document has no year.
    if let Some(year) = package.year {
        doc = doc.numeric("year", year);
    }
    doc
}

fn load_packages() -> DemoResult<Vec<Package>> {
    let vectors = decode_vectors(SAMPLE_VECTORS, "sample.i8")?;
    let rows: Vec<&str> = SAMPLE_FIELDS.lines().skip(1).collect();
    if rows.len() != vectors.len() {
        return Err(format!(
            "sample.tsv has {} rows but sample.i8 has {} vectors",
            rows.len(),
            vectors.len()
        )
        .into());
    }
    rows.iter()
        .zip(vectors)
        .enumerate()
        .map(|(line, (row, embedding))| {
            let fields: Vec<&str> = row.split('\t').collect();
            let [key, name, topic, year, popularity, summary] = fields[..] else {
                return Err(format!("sample.tsv line {}: expected 6 fields", line + 2).into());
            };
            let number = |text: &str| -> DemoResult<f64> {
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

fn load_queries() -> DemoResult<Vec<Query>> {
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

/// Decodes the sample's int8 vectors: `u32 rows, u32 dim`, then per row an f32 scale
/// and `dim` signed bytes (component = byte × scale). See `data/README.md`.
fn decode_vectors(bytes: &[u8], file: &str) -> DemoResult<Vec<Vec<f32>>> {
    let word = |at: usize| -> DemoResult<[u8; 4]> {
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
    bytes[8..]
        .chunks_exact(4 + dim)
        .map(|row| {
            let scale = f32::from_le_bytes([row[0], row[1], row[2], row[3]]);
            Ok(row[4..]
                .iter()
                .map(|&b| f32::from(i8::from_le_bytes([b])) * scale)
                .collect())
        })
        .collect()
}

fn temporary_path() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!("strata-demo-{}-{nanos}", std::process::id()))
}

fn section(title: &str) {
    println!(
        "\n== {title} {}",
        "=".repeat(70usize.saturating_sub(title.len()))
    );
}

fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1e3)
}

/// At most `width` characters of `text`, with `…` when cut.
fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut clipped: String = text.chars().take(width - 1).collect();
    clipped.push('…');
    clipped
}
