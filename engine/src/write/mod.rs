//! The write path: the catalog and the one `write` every change goes through (WAL
//! append, apply, publish a version), the versions readers load (`Tables`), the
//! append-only memtable with its live graphs, and the MANIFEST.
//!
//! Imports `model` and `segment` only; the read path and maintenance import this,
//! never the other way round.

pub(crate) mod live_memtable;
pub(crate) mod manifest;
pub(crate) mod mem_index;
pub(crate) mod store;
pub(crate) mod tables;
