//! Strata's index algorithms: distance kernels, exact (FLAT) search and HNSW.
//!
//! This crate is pure computation over vectors and row ids. It is *not* a store:
//! it never opens the WAL, never decides durability, and never interprets
//! documents. Callers hand it vectors (from RAM or an mmap) and get row ids back.

pub mod distance;
pub mod flat;
pub mod hnsw;
pub mod topk;

pub use distance::{Distance, Metric};
pub use topk::{Neighbor, TopK};
