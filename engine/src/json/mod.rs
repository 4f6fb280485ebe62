//! JSON documents (RediSearch's `FT.CREATE ... ON JSON`): the mapping of a document
//! onto a row and back, and the collection methods `upsert_json`, `get_json`,
//! `set_json` and `RETURN $.path`. The JSONPath subset and a schema's JSON rules are
//! vocabulary every layer shares, so they live in `model` (`json_path.rs`,
//! `json_schema.rs`).
//!
//! A JSON document is an ordinary row: each mapped field holds its indexed value (TAG,
//! NUMERIC, TEXT in the row, VECTOR in the vector column) and the field `$` holds the
//! document's JSON text with each mapped vector replaced by `null`, so the vector is
//! stored once. Writes go through the WAL as upserts, so JSON documents are as durable
//! as any other.

mod collection;
mod mapping;
mod path;

pub use path::JsonPath;
