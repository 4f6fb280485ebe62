//! Strata's half of the side-by-side suite against Redis Stack (`tests/redis_parity/`).
//!
//! `redis_parity CASES.json OUT.json` loads the shipped 2,000-row sample (the demo's
//! `engine/examples/data`) into a fresh database with the schema that
//! `tests/redis_parity/parity.py` gives Redis, runs every case's query string through
//! the public API (`Collection::query`, vectors passed as FLOAT32 blobs, as Redis
//! clients send them) and writes each answer as JSON: the total, the hits (key and
//! returned fields) or the error's variant and message. The Python driver compares.
//!
//! A case is `{"name", "query", "args": [..], "params": {"q": "query:3" | "row:17" |
//! "bytes:7"}, "phase": 1 | 2, "index": "json" (optional)}`. Phase 2 cases run after
//! the rewrites of `REWRITTEN_KEYS`, which Redis sees as an HSET of the whole hash, and
//! the partial updates of `JSON_UPDATES` (and the refused `JSON_REFUSED`). Cases with `"index": "json"` query the same
//! sample stored as JSON documents (`json_document`) under keys `json:<key>`, in a
//! collection whose schema maps JSONPaths as `FT.CREATE ... ON JSON` does in Redis.
//! Cases with `"index": "weighted"` query the rows without vectors, with field weights.

use std::error::Error as StdError;
use std::path::Path;

use serde_json::{json, Map, Value as Json};
use strata::{Database, Doc, Metric, Options, Schema, TextOptions, Value, VectorIndex};

const SAMPLE_VECTORS: &[u8] = include_bytes!("../../../engine/examples/data/sample.i8");
const SAMPLE_FIELDS: &str = include_str!("../../../engine/examples/data/sample.tsv");
const QUERY_VECTORS: &[u8] = include_bytes!("../../../engine/examples/data/queries.i8");

/// Keys written again between phase 1 and phase 2 (same content), in this order: in
/// Redis every write of a hash gives it a new document id, so they move to the end of
/// insertion order, which SORTBY ties follow. The first is written twice, the second
/// time while its new row is still in the memtable.
const REWRITTEN_KEYS: [&str; 4] = [
    "pypi:postgres-install",
    "pypi:burrito",
    "pypi:crawailer",
    "pypi:postgres-install",
];

/// Partial updates (JSON.SET key path value) applied between phase 1 and phase 2 to
/// the JSON documents, in this order; parity.py applies the same.
const JSON_UPDATES: [(&str, &str, &str); 4] = [
    ("json:pypi:burrito", "$.meta.year", "2030"),
    ("json:pypi:crawailer", "$.meta.year", "2030"),
    ("json:pypi:burrito", "$.topics", r#"["zz","cli"]"#),
    ("json:pypi:ferrit", "$.topics", r#"["zz"]"#),
];

/// A partial update of the wrong type, applied after `JSON_UPDATES`: Redis stores it
/// and drops the document from its index; Strata refuses it (`Error::JsonType`) and
/// keeps the document as it was. Case mode `json_refused` pins the difference.
const JSON_REFUSED: (&str, &str, &str) = ("json:pypi:postgres-install", "$.meta.year", r#""2022""#);

type Result<T> = std::result::Result<T, Box<dyn StdError>>;

struct Row {
    key: String,
    name: String,
    topic: String,
    year: Option<f64>,
    popularity: f64,
    summary: String,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, cases, out] = args.as_slice() else {
        return Err("usage: redis_parity CASES.json OUT.json".into());
    };
    let cases: Vec<Json> = serde_json::from_str(&std::fs::read_to_string(cases)?)?;
    let rows = read_rows()?;
    let vectors = decode_vectors(SAMPLE_VECTORS)?;
    let queries = decode_vectors(QUERY_VECTORS)?;
    if rows.len() != vectors.len() {
        return Err("sample.tsv and sample.i8 disagree on the number of rows".into());
    }
    let dir = tempfile::tempdir()?;
    let answers = run(dir.path(), &cases, &rows, &vectors, &queries)?;
    std::fs::write(out, serde_json::to_string_pretty(&answers)?)?;
    Ok(())
}

fn schema() -> strata::Result<Schema> {
    let dim = 384;
    Schema::builder()
        .text("name")
        .tag("topic")
        .numeric("year")
        .numeric("popularity")
        .text("summary")
        .vector("v", dim, Metric::Cosine, VectorIndex::flat())
        .vector("vl2", dim, Metric::L2, VectorIndex::flat())
        .vector("vip", dim, Metric::InnerProduct, VectorIndex::flat())
        .vector("vh", dim, Metric::Cosine, VectorIndex::hnsw(16, 200))
        .build()
}

/// parity.py's second index over the same rows: field weights, no vectors.
fn weighted_schema() -> strata::Result<Schema> {
    Schema::builder()
        .text_with("name", TextOptions::default().weight(3.0))
        .tag("topic")
        .text_with("summary", TextOptions::default().weight(2.0))
        .build()
}

fn weighted_document(row: &Row) -> Doc {
    Doc::new()
        .text("name", &row.name)
        .tag("topic", &row.topic)
        .text("summary", &row.summary)
}

fn json_schema() -> strata::Result<Schema> {
    Schema::builder()
        .json_text("$.name", "name")
        .json_tag("$.topics[*]", "topic")
        .json_numeric("$.meta.year", "year")
        .json_numeric("$.meta.popularity", "popularity")
        .json_vector(
            "$.embedding",
            "embedding",
            384,
            Metric::Cosine,
            VectorIndex::flat(),
        )
        .json_text("$.summary", "summary")
        .build()
}

/// A row as the JSON document parity.py JSON.SETs into Redis.
fn json_document(row: &Row, vector: &[f32]) -> Json {
    let mut meta = json!({ "popularity": row.popularity });
    if let Some(year) = row.year {
        meta["year"] = json!(year as u32);
    }
    json!({
        "name": row.name,
        "summary": row.summary,
        "topics": row.topic.split(',').collect::<Vec<_>>(),
        "meta": meta,
        "embedding": vector,
    })
}

fn document(row: &Row, vector: &[f32]) -> Doc {
    let mut doc = Doc::new()
        .text("name", &row.name)
        .tag("topic", &row.topic)
        .numeric("popularity", row.popularity)
        .text("summary", &row.summary);
    if let Some(year) = row.year {
        doc = doc.numeric("year", year);
    }
    for field in ["v", "vl2", "vip", "vh"] {
        doc = doc.vector(field, vector.to_vec());
    }
    doc
}

fn run(
    dir: &Path,
    cases: &[Json],
    rows: &[Row],
    vectors: &[Vec<f32>],
    queries: &[Vec<f32>],
) -> Result<Vec<Json>> {
    let db = Database::open_with(dir.join("db"), Options::default())?;
    let packages = db.create_collection("packages", schema()?)?;
    // In batches, one key after another, as the driver HSETs them into Redis.
    for (chunk_rows, chunk_vectors) in rows.chunks(500).zip(vectors.chunks(500)) {
        packages.upsert_many(
            chunk_rows
                .iter()
                .zip(chunk_vectors)
                .map(|(row, vector)| (row.key.clone(), document(row, vector))),
        )?;
    }
    let json_packages = db.create_collection("packages_json", json_schema()?)?;
    for (row, vector) in rows.iter().zip(vectors) {
        json_packages.upsert_json(format!("json:{}", row.key), json_document(row, vector))?;
    }
    let weighted = db.create_collection("packages_weighted", weighted_schema()?)?;
    weighted.upsert_many(
        rows.iter()
            .map(|row| (row.key.clone(), weighted_document(row))),
    )?;
    // Sealed into a segment, so the queries run on the mapped files and their indexes.
    db.flush()?;
    let mut answers = Vec::with_capacity(cases.len());
    for phase in [1, 2] {
        if phase == 2 {
            for key in REWRITTEN_KEYS {
                let index = rows
                    .iter()
                    .position(|row| row.key == key)
                    .ok_or_else(|| format!("{key} is not in the sample"))?;
                packages.upsert(key, document(&rows[index], &vectors[index]))?;
            }
            for (key, path, value) in JSON_UPDATES {
                if !json_packages.set_json(key, path, serde_json::from_str(value)?)? {
                    return Err(format!("JSON.SET {key} {path} set nothing").into());
                }
            }
            let (key, path, value) = JSON_REFUSED;
            match json_packages.set_json(key, path, serde_json::from_str(value)?) {
                Err(strata::Error::JsonType { .. }) => {}
                other => {
                    return Err(format!(
                        "JSON.SET {key} {path} {value}: expected JsonType, got {other:?}"
                    )
                    .into())
                }
            }
        }
        for case in cases {
            if case.get("phase").and_then(Json::as_u64).unwrap_or(1) != phase {
                continue;
            }
            let collection = match case.get("index").and_then(Json::as_str) {
                Some("json") => &json_packages,
                Some("weighted") => &weighted,
                _ => &packages,
            };
            answers.push(answer(collection, case, vectors, queries)?);
        }
    }
    Ok(answers)
}

fn answer(
    packages: &strata::Collection,
    case: &Json,
    vectors: &[Vec<f32>],
    queries: &[Vec<f32>],
) -> Result<Json> {
    let name = case["name"].as_str().ok_or("a case without a name")?;
    let query = case["query"].as_str().ok_or("a case without a query")?;
    let mut builder = packages.query(query);
    if let Some(args) = case.get("args").and_then(Json::as_array) {
        builder = builder.args(args.iter().filter_map(Json::as_str));
    }
    if let Some(params) = case.get("text_params").and_then(Json::as_object) {
        for (param, text) in params {
            builder = builder.param(param, text.as_str().ok_or("a text parameter is a string")?);
        }
    }
    if let Some(params) = case.get("params").and_then(Json::as_object) {
        for (param, source) in params {
            let source = source.as_str().ok_or("a parameter source is a string")?;
            builder = builder.param(param, blob(source, vectors, queries)?);
        }
    }
    Ok(match builder.run_with_total() {
        Ok(results) => json!({
            "name": name,
            "total": results.total,
            "hits": results.iter().map(|hit| {
                // WITHSCORES: the score under the name parity.py gives Redis's.
                let fields: Map<String, Json> = hit
                    .score
                    .map(|score| ("(score)".to_string(), json!(score)))
                    .into_iter()
                    .chain(
                        hit.doc
                            .fields()
                            .map(|(field, value)| (field.to_string(), field_json(value))),
                    )
                    .collect();
                json!({"key": hit.key, "fields": fields})
            }).collect::<Vec<_>>(),
        }),
        Err(error) => {
            let debug = format!("{error:?}");
            let variant = debug
                .split(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or_default()
                .to_string();
            json!({"name": name, "error": {"variant": variant, "message": error.to_string()}})
        }
    })
}

/// The parameter as the little-endian FLOAT32 bytes a Redis client sends.
fn blob(source: &str, vectors: &[Vec<f32>], queries: &[Vec<f32>]) -> Result<Vec<u8>> {
    let (kind, index) = source
        .split_once(':')
        .ok_or_else(|| format!("parameter source {source:?} is not kind:index"))?;
    let index: usize = index.parse()?;
    let vector = match kind {
        "query" => queries.get(index),
        "row" => vectors.get(index),
        // A blob of that many bytes, to check the length errors.
        "bytes" => return Ok(vec![0; index]),
        _ => None,
    }
    .ok_or_else(|| format!("no vector for {source:?}"))?;
    Ok(vector.iter().flat_map(|x| x.to_le_bytes()).collect())
}

fn field_json(value: &Value) -> Json {
    match value {
        Value::Numeric(number) => json!(number),
        Value::Text(text) | Value::Tag(text) => json!(text),
        Value::Vector(vector) => json!(vector),
        // RediSearch replies a `RETURN $.path` string as it is, a number as its text
        // (compared as a number, as the other numbers are) and anything else as JSON.
        Value::Json(text) => match serde_json::from_str::<Json>(text) {
            Ok(Json::String(string)) => json!(string),
            Ok(number @ Json::Number(_)) => number,
            _ => json!(text),
        },
    }
}

fn read_rows() -> Result<Vec<Row>> {
    SAMPLE_FIELDS
        .lines()
        .skip(1)
        .enumerate()
        .map(|(line, text)| {
            let fields: Vec<&str> = text.split('\t').collect();
            let [key, name, topic, year, popularity, summary] = fields.as_slice() else {
                return Err(format!("sample.tsv line {}: expected 6 fields", line + 2).into());
            };
            Ok(Row {
                key: key.to_string(),
                name: name.to_string(),
                topic: topic.to_string(),
                year: if year.is_empty() {
                    None
                } else {
                    Some(year.parse()?)
                },
                popularity: popularity.parse()?,
                summary: summary.to_string(),
            })
        })
        .collect()
}

/// `u32 rows, u32 dim`, then per row an f32 scale and `dim` signed bytes
/// (component = byte × scale), as `engine/examples/data/README.md` describes.
fn decode_vectors(bytes: &[u8]) -> Result<Vec<Vec<f32>>> {
    let word = |at: usize| -> Result<u32> {
        Ok(u32::from_le_bytes(
            bytes
                .get(at..at + 4)
                .ok_or("vector file too short")?
                .try_into()?,
        ))
    };
    let (rows, dim) = (word(0)? as usize, word(4)? as usize);
    if bytes.len() != 8 + rows * (4 + dim) {
        return Err(format!("vector file: unexpected size for {rows} rows of {dim}").into());
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
