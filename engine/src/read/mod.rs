//! The read path: the typed query builder, filters compiled to bitmaps, the sources a
//! published version offers, and the planner and executor that search them.
//!
//! Imports `model`, `segment` and the `Tables` of `write`; nothing in `write` or
//! `maintenance` imports this.

pub(crate) mod execute;
pub(crate) mod filter;
pub(crate) mod highlight;
pub(crate) mod hybrid;
pub(crate) mod planner;
pub(crate) mod redis_score;
pub(crate) mod search;
pub(crate) mod sources;
pub(crate) mod text;
pub(crate) mod text_score;
