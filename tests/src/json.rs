//! JSON documents for the JSON tests and the crash writer: a schema with a field of
//! every kind at nested paths, the same fields as a plain schema, and seeded documents
//! in both forms.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value as Json};
use strata::{Doc, Metric, Schema, VectorIndex};

/// Dimension of the documents' embeddings.
pub const JSON_DIM: usize = 8;

const CATEGORIES: [&str; 4] = ["shoes", "boats", "books", "garden"];
const TAGS: [&str; 6] = ["red", "blue", "sale", "new", "eco", "Premium"];

/// `FT.CREATE ... ON JSON SCHEMA $.metadata.category AS category TAG $.tags[*] AS tags
/// TAG $.price AS price NUMERIC $.embedding AS embedding VECTOR ... $.body AS body TEXT`.
pub fn json_schema(index: VectorIndex) -> Schema {
    Schema::builder()
        .json_tag("$.metadata.category", "category")
        .json_tag("$.tags[*]", "tags")
        .json_numeric("$.price", "price")
        .json_vector("$.embedding", "embedding", JSON_DIM, Metric::Cosine, index)
        .json_text("$.body", "body")
        .build()
        .expect("the JSON schema is valid")
}

/// The same fields as a plain schema.
pub fn flat_schema(index: VectorIndex) -> Schema {
    Schema::builder()
        .tag("category")
        .tag("tags")
        .numeric("price")
        .vector("embedding", JSON_DIM, Metric::Cosine, index)
        .text("body")
        .build()
        .expect("the plain schema is valid")
}

/// A component as JSON: the shortest decimal that reads back as the same f32, as
/// `get_json` returns it.
fn component(value: f32) -> Json {
    let shortest: f64 = value
        .to_string()
        .parse()
        .expect("an f32 prints as a number");
    json!(shortest)
}

/// Document `index`: nested metadata, a tag array, a price, an embedding, a body, and
/// members no field maps. Every seventh has no category, every eleventh a null price.
pub fn json_doc(index: u64) -> Json {
    let mut rng = StdRng::seed_from_u64(0x15_0000 + index);
    let embedding: Vec<Json> = (0..JSON_DIM)
        .map(|_| {
            let value: f32 = rng.gen_range(-1.0..1.0);
            // Integral components come back as integers; keep every one fractional.
            component(if value.fract() == 0.0 { 0.375 } else { value })
        })
        .collect();
    let count = rng.gen_range(0..4);
    let mut tags: Vec<&str> = TAGS.choose_multiple(&mut rng, count).copied().collect();
    tags.sort_unstable();
    let mut metadata =
        json!({"source": format!("feed-{}", index % 3), "rating": {"stars": index % 5}});
    if !index.is_multiple_of(7) {
        metadata["category"] = json!(CATEGORIES[(index % 4) as usize]);
    }
    let price = if index.is_multiple_of(11) {
        Json::Null
    } else {
        json!(rng.gen_range(1..500) as f64 / 4.0)
    };
    json!({
        "name": format!("item {index}"),
        "metadata": metadata,
        "tags": tags,
        "price": price,
        "embedding": embedding,
        "body": format!("description of item {index}"),
    })
}

/// The plain document holding what the JSON schema indexes of `doc`.
pub fn flat_doc(doc: &Json) -> Doc {
    let mut flat = Doc::new();
    if let Some(category) = doc["metadata"]["category"].as_str() {
        flat = flat.tag("category", category);
    }
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .map(|tags| tags.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    if !tags.is_empty() {
        flat = flat.tag("tags", tags.join(","));
    }
    if let Some(price) = doc["price"].as_f64() {
        flat = flat.numeric("price", price);
    }
    if let Some(embedding) = doc["embedding"].as_array() {
        let vector: Vec<f32> = embedding
            .iter()
            .map(|c| c.as_f64().expect("a number") as f32)
            .collect();
        flat = flat.vector("embedding", vector);
    }
    if let Some(body) = doc["body"].as_str() {
        flat = flat.text("body", body);
    }
    flat
}

/// Key of JSON document `index`.
pub fn json_key(index: u64) -> String {
    format!("item:{index}")
}
