//! Strata: an embedded vector database. Open it from a path, like SQLite; store
//! documents with vector, tag, numeric and text fields; search them by vector.
//!
//! ```
//! use strata::{Database, Doc, Metric, Schema, Search, VectorIndex};
//!
//! # fn main() -> strata::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! let db = Database::open(dir.path().join("app.strata"))?;
//! let docs = db.create_collection(
//!     "docs",
//!     Schema::builder()
//!         .text("content")
//!         .tag("category")
//!         .numeric("price")
//!         .vector("embedding", 3, Metric::Cosine, VectorIndex::flat())
//!         .build()?,
//! )?;
//! docs.upsert("doc:1", Doc::new().text("content", "red shoes").tag("category", "fashion")
//!     .numeric("price", 29.99).vector("embedding", vec![1.0, 0.0, 0.0]))?;
//! docs.upsert("doc:2", Doc::new().text("content", "blue boat").tag("category", "sport")
//!     .numeric("price", 900.0).vector("embedding", vec![0.0, 1.0, 0.0]))?;
//!
//! let hits = docs.search(&Search::knn("embedding", &[0.9, 0.1, 0.0], 1))?;
//! assert_eq!(hits[0].key, "doc:1");
//! assert_eq!(hits[0].doc.get_text("content"), Some("red shoes"));
//! # Ok(())
//! # }
//! ```
//!
//! Distances follow Redis: COSINE is `1 - cosine similarity`, IP is `1 - dot product`,
//! L2 is the squared Euclidean distance. Smaller is nearer.
//!
//! Durability follows Redis's `appendfsync` ([`Durability`]): every write is framed in
//! a write-ahead log before it is acknowledged, and the log is replayed on open.
//!
//! # What is where
//!
//! - [`Database`] opens a directory and holds [`Collection`]s, each with a
//!   [`Schema`] of TEXT, TAG, NUMERIC and VECTOR fields (FLAT, HNSW or IVF-PQ).
//! - [`Collection`] stores [`Doc`]s by key (`upsert`, `upsert_many`, `get`,
//!   `delete`, TTLs; the batch calls `get_many`, `delete_many`,
//!   `upsert_many_with_ttl`, `count`, and `scan` with its [`KeyCursor`]) and searches
//!   them: [`Search`] builds a query in Rust, [`Collection::query`] takes the
//!   RediSearch dialect, both answer [`Hit`]s.
//! - [`cache::SemanticCache`] is RedisVL's LLM semantic cache and
//!   [`recommend::Sessions`] recent-activity recommendations, built on collections.
//!
//! # The query dialect
//!
//! [`Collection::query`] reads FT.SEARCH's query and arguments as RediSearch 2.10
//! does under DIALECT 2 (the parser is the [`strata_query`] crate; its docs give the
//! grammar). Supported:
//!
//! - `a b` (AND), `a | b` (OR), `-a` (NOT), parentheses, `*`;
//! - TAG predicates `@f:{a | b}`, with escapes, quotes, parameters (`{$p}`) and
//!   `prefix*`, `*suffix`, `*infix*` wildcards;
//! - NUMERIC ranges `@f:[low high]` with exclusive `(` bounds, `-inf` / `+inf`,
//!   parameters, and the shorthands `@f==v`, `!=`, `>`, `>=`, `<`, `<=`;
//! - `filter=>[KNN k @v $vec]` with `EF_RUNTIME`, `HYBRID_POLICY`, `BATCH_SIZE`,
//!   `NPROBE`, `REFINE`, `AS alias`, or the same as `=>{$EF_RUNTIME: ..}` attributes;
//! - `@v:[VECTOR_RANGE r $vec]=>{$YIELD_DISTANCE_AS: d; $EPSILON: e}`;
//! - the arguments `RETURN n f [AS a] ..`, `SORTBY f [ASC|DESC]`, `LIMIT offset count`,
//!   `NOCONTENT`, `PARAMS n name value ..` and `DIALECT 2` (3 and 4 mean 2);
//! - vectors as `f32`s or as the FLOAT32 bytes Redis clients send ([`Param`]).
//!
//! Refused with a matchable [`Error`] rather than approximated: full-text predicates
//! and `WITHSCORES` ([`Error::Unsupported`]), `DIALECT 1`, and syntax Strata lacks
//! (fuzzy, geo, text attributes). README.md lists every difference from Redis's
//! answers.

/// The README's examples, compiled (not run) as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

#[cfg(feature = "bench-internals")]
#[doc(hidden)]
pub mod bench_internals;
// Layers, each importing only those below it: the public handles (`database`,
// `collection`, `query_builder`, `info`) use `maintenance` and `read`, which use
// `write`, which uses `segment`, which uses `text`, which uses `model`. `apps` (what
// applications build: batch calls, the semantic cache, sessions) sits on top of the
// handles.
mod apps;
mod collection;
mod database;
mod info;
mod json;
mod maintenance;
mod model;
mod query_builder;
mod read;
mod segment;
mod text;
mod write;

#[cfg(test)]
mod layering_test;

/// The file-system seam: pass an implementation in [`Options::file_system`] to run
/// Strata over something other than the OS (tests use it for faults and power cuts).
///
/// ```
/// use std::sync::Arc;
/// use strata::fs::StdFileSystem;
/// use strata::{Database, Options};
/// # let dir = tempfile::tempdir().unwrap();
/// let options = Options { file_system: Some(Arc::new(StdFileSystem)), ..Options::default() };
/// let db = Database::open_with(dir.path().join("db"), options)?;
/// # drop(db);
/// # Ok::<(), strata::Error>(())
/// ```
pub use strata_storage::fs;

pub use apps::batch::{KeyCursor, MAX_BATCH_KEYS, MAX_PAGE_KEYS};
pub use apps::{cache, recommend};
pub use collection::{Collection, KeyTtl};
pub use database::Database;
pub use info::{CollectionInfo, IndexInfo, SourceInfo, SourceKind};
pub use json::JsonPath;
pub use model::doc::{Doc, Value};
pub use model::error::{Error, Result};
pub use model::json_schema::{JSON_DOCUMENT_FIELD, JSON_TAG_SEPARATOR};
pub use model::options::{Durability, HnswCompression, Limits, Options, Recovery};
pub use model::reports::{RecoveryReport, VerifyReport, WalCut};
pub use model::schema::{
    Field, FieldKind, Metric, Schema, SchemaBuilder, TagOptions, TextLanguage, TextOptions,
    VectorIndex, VectorOptions, IVF_PQ_MIN_ROWS, MAX_DIMENSION,
};
pub use model::validate::{MAX_KEY_BYTES, MAX_VECTOR_NORM_SQUARED};
pub use query_builder::{HybridBuilder, QueryBuilder};
pub use read::execute::{Explain, SourcePlan, Strategy};
pub use read::filter::Filter;
pub use read::hybrid::{HybridHit, HybridRank, HybridResults, HybridSearch};
pub use read::search::{Hit, Param, Search, SearchResults};
pub use text::{tantivy_analyzer, RedisTokenStream, RedisTokenizer};
