//! Strata's index algorithms: distance kernels, exact (FLAT) search, HNSW, IVF-PQ and
//! the TAG and NUMERIC field indexes.
//!
//! This crate is pure computation over vectors and row ids. It is *not* a store:
//! it never opens the WAL, never decides durability, and never interprets
//! documents. Callers hand it vectors (from RAM or an mmap) and get row ids back.

pub mod distance;
pub mod field_error;
pub mod flat;
pub mod hnsw;
pub mod ivfpq;
pub mod numeric;
pub mod tags;
pub mod topk;

pub use distance::{Distance, Metric};
pub use field_error::FieldIndexError;
pub use numeric::{NumericIndex, NumericIndexView};
pub use tags::{split_tags, TagIndex, TagIndexView};
pub use topk::{Neighbor, TopK};
