//! Background and administrative work over the write path's state: flushing frozen
//! memtables, compaction, the worker threads that run them, backup and verify.
//!
//! Imports `model`, `segment` and `write`; the write path never calls in here (a
//! writer that must flush inline asks its caller, the public handle, to do it).

pub(crate) mod backup;
pub(crate) mod compaction;
pub(crate) mod flush;
pub(crate) mod worker;
