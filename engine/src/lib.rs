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

/// The README's examples, compiled (not run) as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

#[cfg(feature = "bench-internals")]
#[doc(hidden)]
pub mod bench_internals;
// Layers, each importing only those below it: the public handles (`database`,
// `collection`, `query_builder`, `info`) use `maintenance` and `read`, which use
// `write`, which uses `segment`, which uses `model`.
mod collection;
mod database;
mod info;
mod maintenance;
mod model;
mod query_builder;
mod read;
mod segment;
mod write;

#[cfg(test)]
mod layering_test;

/// The file-system seam: pass an implementation in [`Options::file_system`] to run
/// Strata over something other than the OS (tests use it for faults and power cuts).
pub use strata_storage::fs;

pub use collection::{Collection, KeyTtl};
pub use database::Database;
pub use info::{CollectionInfo, IndexInfo, SourceInfo, SourceKind};
pub use model::doc::{Doc, Value};
pub use model::error::{Error, Result};
pub use model::options::{Durability, Limits, Options, Recovery};
pub use model::reports::{RecoveryReport, VerifyReport, WalCut};
pub use model::schema::{
    Field, FieldKind, Metric, Schema, SchemaBuilder, TagOptions, VectorIndex, VectorOptions,
    IVF_PQ_MIN_ROWS, MAX_DIMENSION,
};
pub use model::validate::{MAX_KEY_BYTES, MAX_VECTOR_NORM_SQUARED};
pub use query_builder::QueryBuilder;
pub use read::execute::{Explain, SourcePlan, Strategy};
pub use read::filter::Filter;
pub use read::search::{Hit, Param, Search, SearchResults};
