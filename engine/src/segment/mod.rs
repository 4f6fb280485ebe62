//! Immutable segments: the sealed, memory-mapped form of a collection's rows.
//!
//! ```text
//! memtable / merged segments ──► writer.rs ──► segments/<id>/{keys, docs, rows, vectors-<f>}
//!                                                   │ (sealed files, fsynced)
//! search / get ◄── Segment (reader.rs) ◄── map + footer checks at open
//! ```
//!
//! | file          | owns                                                            |
//! |---------------|-----------------------------------------------------------------|
//! | `keys`        | every row's key, and the rows sorted by key for binary search    |
//! | `docs`        | every row's non-vector values, one rkyv archive per row          |
//! | `rows`        | per vector field, the bitmap of rows that have one; TTL deadlines |
//! | `vectors-<f>` | row-major FLOAT32 of the vector field at schema position `f`     |
//! | `keyfilter`   | a Bloom filter over the keys, so absent keys skip the search     |
//! |               | (optional: older segments have none)                            |
//! | `hnsw-<f>`    | the HNSW graph of an HNSW vector field                          |
//! | `ivfpq-<f>`   | the IVF-PQ index of an IVF_PQ vector field (`ivfpq.rs`), when   |
//! |               | the segment has at least `IVF_PQ_MIN_ROWS` rows with a vector   |
//!
//! A segment never changes once written. Deletions and TTL changes of its rows live in
//! its [`crate::segment::overlay::Overlay`], persisted as `state-<version>` files.
//! Invariant: opening a segment reads footers, block tables, a few header words and the
//! small `rows` file only (which grows with the rows that have a TTL, not with the
//! rows); keys, documents, the key filter, vectors, graphs, IVF-PQ indexes and field
//! indexes are read through the map when a query touches them, each block checked
//! against its CRC the first time (`strata_storage::blocks`), and every offset taken
//! from them is bounds-checked.

mod filter;
mod format;
mod ivfpq;
pub(crate) mod overlay;
mod reader;
mod writer;

pub(crate) use format::{segment_dir_name, FileKind, SEGMENTS_DIR};
pub(crate) use reader::Segment;
pub(crate) use writer::{
    stored_value, write_file, write_segment_seeded, GraphSeed, SeedGraphs, SegmentRow,
};

/// A file of a segment as the manifest records it: name, body length and checksum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FileRecord {
    pub name: String,
    pub body_len: u64,
    pub body_crc: u32,
}
