//! JSON documents, as RediSearch's `FT.CREATE ... ON JSON` and RedisJSON's `JSON.SET`
//! serve them, on the shipped sample: 2,000 PyPI packages as nested JSON documents
//! with their all-MiniLM-L6-v2 embeddings (384 dimensions).
//!
//! ```text
//! cargo run --release -p strata --example json_documents            # in a temporary directory
//! cargo run --release -p strata --example json_documents -- my.db   # in (and kept at) my.db
//! ```
//!
//! It declares a schema of JSONPaths, stores each package with `upsert_json`, searches
//! with a filter on a nested field and `RETURN $.path` expressions, reads a document
//! back whole with `get_json`, changes one path with `set_json` (JSON.SET) and times it
//! over 500 documents, shows a document of the wrong shape refused with the path
//! named, then reopens the database.

use std::error::Error;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value as Json};
use strata::{Collection, Database, Metric, Schema, VectorIndex};

const SAMPLE_VECTORS: &[u8] = include_bytes!("data/sample.i8");
const SAMPLE_FIELDS: &str = include_str!("data/sample.tsv");
const QUERY_VECTORS: &[u8] = include_bytes!("data/queries.i8");
const QUERY_TEXTS: &str = include_str!("data/queries.tsv");
const DIM: usize = 384;

type ExampleResult<T> = Result<T, Box<dyn Error>>;

fn main() -> ExampleResult<()> {
    let (path, temporary) = match std::env::args_os().nth(1) {
        Some(path) => (PathBuf::from(path), false),
        None => {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let name = format!("strata-json-{}-{nanos}", std::process::id());
            (std::env::temp_dir().join(name), true)
        }
    };
    let outcome = run(&path);
    if temporary {
        let _ = std::fs::remove_dir_all(&path);
    }
    outcome
}

/// The sample's packages as the JSON documents a Redis user would JSON.SET.
fn packages() -> ExampleResult<Vec<(String, Json)>> {
    let vectors = decode_vectors(SAMPLE_VECTORS, "sample.i8")?;
    let rows: Vec<&str> = SAMPLE_FIELDS.lines().skip(1).collect();
    if rows.len() != vectors.len() {
        return Err("sample.tsv and sample.i8 disagree on the number of rows".into());
    }
    rows.iter()
        .zip(vectors)
        .map(|(row, embedding)| {
            let fields: Vec<&str> = row.split('\t').collect();
            let [key, name, topic, year, popularity, summary] = fields[..] else {
                return Err(format!("sample.tsv: expected 6 fields in {row:?}").into());
            };
            let mut meta = json!({ "popularity": popularity.parse::<f64>()? });
            // One package has no release year: its document has no `meta.year`.
            if !year.is_empty() {
                meta["year"] = json!(year.parse::<u32>()?);
            }
            let doc = json!({
                "name": name,
                "summary": summary,
                "topics": topic.split(',').collect::<Vec<_>>(),
                "meta": meta,
                "embedding": embedding,
            });
            Ok((key.to_string(), doc))
        })
        .collect()
}

fn schema() -> strata::Result<Schema> {
    Schema::builder()
        .json_text("$.name", "name")
        .json_tag("$.topics[*]", "topic")
        .json_numeric("$.meta.year", "year")
        .json_numeric("$.meta.popularity", "popularity")
        .json_vector(
            "$.embedding",
            "embedding",
            DIM,
            Metric::Cosine,
            VectorIndex::hnsw(16, 200),
        )
        .json_text("$.summary", "summary")
        .build()
}

fn run(path: &std::path::Path) -> ExampleResult<()> {
    let packages = packages()?;
    let queries = decode_vectors(QUERY_VECTORS, "queries.i8")?;
    let query_texts: Vec<String> = QUERY_TEXTS
        .lines()
        .skip(1)
        .map(|line| line.replacen('\t', ": ", 1))
        .collect();

    section("FT.CREATE packages ON JSON SCHEMA $.name AS name TEXT $.topics[*] AS topic TAG ...");
    let db = Database::open(path)?;
    let docs = db.create_collection("packages", schema()?)?;
    for field in docs.schema().fields() {
        let path = field.path.as_deref().unwrap_or("(the document)");
        println!("  {path:<20} AS {:<11} {}", field.name, field.kind.name());
    }

    section("JSON.SET each package");
    let started = Instant::now();
    for (key, doc) in &packages {
        docs.upsert_json(key.as_str(), doc.clone())?;
    }
    println!(
        "{} documents in {:.0} ms; {} stored",
        packages.len(),
        started.elapsed().as_secs_f64() * 1e3,
        docs.len()?
    );

    let (query_text, query) = (&query_texts[1], &queries[1]);
    section("KNN 5 over topic {web}, since 2020, RETURN $.name $.meta.year $.topics");
    println!("query: {query_text}");
    print_hits(&docs, query)?;

    section("JSON.GET");
    let key = "pypi:burrito";
    let doc = docs.get_json(key)?.ok_or("pypi:burrito is in the sample")?;
    println!("{key} = {}", abbreviated(&doc));

    section("JSON.SET pypi:burrito $.meta.year 2024 and $.topics [\"cli\", \"web\"]");
    docs.set_json(key, "$.meta.year", json!(2024))?;
    docs.set_json(key, "$.topics", json!(["cli", "web"]))?;
    let doc = docs.get_json(key)?.ok_or("still there")?;
    println!("{key} = {}", abbreviated(&doc));
    let burrito = &doc["embedding"];
    let vector: Vec<f32> = burrito
        .as_array()
        .ok_or("an embedding array")?
        .iter()
        .filter_map(|c| c.as_f64().map(|c| c as f32))
        .collect();
    let found = docs
        .query("(@topic:{web} @year:[2020 +inf])=>[KNN 1 @embedding $v AS distance]")
        .param("v", vector)
        .args(["RETURN", "2", "$.name", "distance"])
        .run()?;
    println!(
        "the same filtered KNN, with burrito's own vector, now finds {:?} at distance {:.4}",
        found.first().map(|hit| hit.key.as_str()),
        found.first().map_or(f32::NAN, |hit| hit.distance)
    );

    section("JSON.SET of one path on 500 documents");
    let started = Instant::now();
    for (rank, (key, _)) in packages.iter().step_by(4).enumerate() {
        docs.set_json(key, "$.meta.popularity", json!(1_000_000_000 + rank))?;
    }
    let elapsed = started.elapsed();
    println!(
        "500 set_json calls in {:.0} ms ({:.0} µs each: read the document, change it, \
         write the row again)",
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e6 / 500.0
    );
    let top = docs
        .query("*")
        .args([
            "SORTBY",
            "popularity",
            "DESC",
            "LIMIT",
            "0",
            "1",
            "RETURN",
            "1",
            "$.name",
        ])
        .run()?;
    println!(
        "most popular now: {} (the last one set: {})",
        top.first()
            .and_then(|hit| hit.doc.get_json("$.name"))
            .unwrap_or(Json::Null),
        packages
            .iter()
            .step_by(4)
            .next_back()
            .map_or("", |(key, _)| key.as_str())
    );

    section("A document of the wrong shape is refused, naming the path");
    let mut wrong = doc.clone();
    wrong["meta"]["year"] = json!("2024");
    match docs.upsert_json(key, wrong) {
        Err(error) => println!("upsert_json refused: {error}"),
        Ok(()) => return Err("a year given as a string was accepted".into()),
    }
    match docs.set_json(key, "$.embedding[0]", json!("x")) {
        Err(error) => println!("set_json refused: {error}"),
        Ok(_) => return Err("a string in the embedding was accepted".into()),
    }
    println!("unchanged: {}", docs.get_json(key)? == Some(doc.clone()));

    section("Reopen");
    drop(docs);
    drop(db);
    let db = Database::open(path)?;
    let docs = db.collection("packages")?;
    println!(
        "{} documents; {key} as set before the reopen: {}",
        docs.len()?,
        docs.get_json(key)? == Some(doc)
    );
    print_hits(&docs, query)?;
    Ok(())
}

fn print_hits(docs: &Collection, query: &[f32]) -> ExampleResult<()> {
    let hits = docs
        .query("(@topic:{web} @year:[2020 +inf])=>[KNN 5 @embedding $v AS distance]")
        .param("v", query.to_vec())
        .args([
            "SORTBY",
            "distance",
            "RETURN",
            "4",
            "$.name",
            "$.meta.year",
            "$.topics",
            "distance",
        ])
        .run()?;
    for hit in hits {
        let text = |path: &str| {
            hit.doc
                .get_json(path)
                .map_or("-".to_string(), |v| v.to_string())
        };
        println!(
            "  {:.4}  {:<28} year {}  topics {}",
            hit.distance,
            text("$.name"),
            text("$.meta.year"),
            text("$.topics")
        );
    }
    Ok(())
}

/// The document with its embedding shortened to its first three components.
fn abbreviated(doc: &Json) -> String {
    let mut shown = doc.clone();
    if let Some(embedding) = doc["embedding"].as_array() {
        let mut head: Vec<Json> = embedding.iter().take(3).cloned().collect();
        head.push(json!(format!(
            "... {} more",
            embedding.len().saturating_sub(3)
        )));
        shown["embedding"] = Json::Array(head);
    }
    shown.to_string()
}

/// Decodes the sample's int8 vectors: `u32 rows, u32 dim`, then per row an f32 scale
/// and `dim` signed bytes (component = byte × scale). See `data/README.md`.
fn decode_vectors(bytes: &[u8], file: &str) -> ExampleResult<Vec<Vec<f32>>> {
    let word = |at: usize| -> ExampleResult<[u8; 4]> {
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

fn section(title: &str) {
    println!("\n== {title}");
}
