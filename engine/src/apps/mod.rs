//! What applications build on collections, first-class: batch calls, an LLM semantic
//! cache and session-based recommendations.

pub(crate) mod batch;
pub mod cache;
pub mod recommend;
