//! `Collection::info`: what FT.INFO reports, for one collection.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::model::schema::{FieldKind, VectorIndex};
use crate::segment::FileKind;
use crate::write::store::{now_ms, CollectionState, FROZEN_MAX};

/// Where a collection's rows are held.
///
/// ```
/// use strata::{Database, Doc, Metric, Schema, SourceKind, VectorIndex};
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = Database::open(dir.path().join("db"))?;
/// let items = db.create_collection("items", Schema::builder()
///     .vector("v", 2, Metric::L2, VectorIndex::hnsw(16, 200)).build()?)?;
/// items.upsert("a", Doc::new().vector("v", vec![1.0, 0.0]))?;
/// db.flush()?;
/// items.upsert("b", Doc::new().vector("v", vec![0.0, 1.0]))?;
/// let info = items.info()?;
/// assert!(matches!(info.sources[0].kind, SourceKind::Segment(_)));
/// assert_eq!(info.sources.last().map(|s| &s.kind), Some(&SourceKind::Memtable));
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// The memtable taking writes.
    Memtable,
    /// A full memtable waiting for its flush (still searched).
    Frozen,
    /// A sealed segment on disk, with its id.
    Segment(u64),
}

/// One source of a collection's rows.
///
/// ```
/// use strata::{Database, Doc, Metric, Schema, SourceKind, VectorIndex};
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = Database::open(dir.path().join("db"))?;
/// let items = db.create_collection("items", Schema::builder()
///     .vector("v", 2, Metric::L2, VectorIndex::hnsw(16, 200)).build()?)?;
/// items.upsert("a", Doc::new().vector("v", vec![1.0, 0.0]))?;
/// db.flush()?;
/// items.upsert("b", Doc::new().vector("v", vec![0.0, 1.0]))?;
/// let info = items.info()?;
/// assert_eq!(info.sources.iter().map(|s| s.live_rows).sum::<u64>(), 2);
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceInfo {
    pub kind: SourceKind,
    /// Rows held, counting deleted and expired ones not yet reclaimed.
    pub rows: u64,
    /// Rows that are live now.
    pub live_rows: u64,
    /// Bytes: written into a memtable, or of a segment's files on disk.
    pub bytes: u64,
    /// Rows of a memtable not yet in its HNSW graphs (scanned exactly until they
    /// are); 0 for segments and for collections without an HNSW field.
    pub unindexed_rows: u64,
    /// Nodes in a memtable's HNSW graphs, over its HNSW fields: one per row indexed
    /// with a vector, except that an update which kept every vector of its key's row
    /// in this memtable (a `set_json` of another path, an upsert of new metadata)
    /// shares that row's node instead of adding one. 0 for segments.
    pub graph_nodes: u64,
}

/// One vector field's index.
///
/// ```
/// use strata::{Database, Doc, Metric, Schema, SourceKind, VectorIndex};
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = Database::open(dir.path().join("db"))?;
/// let items = db.create_collection("items", Schema::builder()
///     .vector("v", 2, Metric::L2, VectorIndex::hnsw(16, 200)).build()?)?;
/// items.upsert("a", Doc::new().vector("v", vec![1.0, 0.0]))?;
/// db.flush()?;
/// items.upsert("b", Doc::new().vector("v", vec![0.0, 1.0]))?;
/// let info = items.info()?;
/// assert_eq!((info.indexes[0].field.as_str(), info.indexes[0].kind), ("v", "HNSW"));
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexInfo {
    pub field: String,
    /// `FLAT`, `HNSW` or `IVF_PQ`, as in the schema.
    pub kind: &'static str,
    /// Bytes of the index files on disk (the HNSW graphs), over every segment.
    pub bytes: u64,
    /// Segments searched through the index (the others are searched exactly).
    pub indexed_segments: usize,
}

/// What [`crate::Collection::info`] reports (the role of Redis's `FT.INFO`).
///
/// ```
/// use strata::{Database, Doc, Metric, Schema, SourceKind, VectorIndex};
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = Database::open(dir.path().join("db"))?;
/// let items = db.create_collection("items", Schema::builder()
///     .vector("v", 2, Metric::L2, VectorIndex::hnsw(16, 200)).build()?)?;
/// items.upsert("a", Doc::new().vector("v", vec![1.0, 0.0]))?;
/// db.flush()?;
/// items.upsert("b", Doc::new().vector("v", vec![0.0, 1.0]))?;
/// let info = items.info()?;
/// assert_eq!((info.name.as_str(), info.rows, info.flushes), ("items", 2, 1));
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionInfo {
    pub name: String,
    /// Live documents.
    pub rows: u64,
    /// Every source a query visits, oldest segment first, the memtable last.
    pub sources: Vec<SourceInfo>,
    pub indexes: Vec<IndexInfo>,
    /// Frozen memtables waiting for the flusher.
    pub pending_flushes: usize,
    /// How many frozen memtables may wait before writers are held back.
    pub pending_flushes_max: usize,
    /// Writes that waited for a flush to make room, and how long in all.
    pub write_stalls: u64,
    pub write_stall_time: Duration,
    /// Flushes and merges done since the database was opened.
    pub flushes: u64,
    pub merges: u64,
}

pub(crate) fn collection_info(state: &CollectionState) -> CollectionInfo {
    let now = now_ms();
    let tables = state.snapshot();
    let mut sources = Vec::new();
    for slot in &tables.segments {
        let rows = u64::from(slot.segment.row_count());
        sources.push(SourceInfo {
            kind: SourceKind::Segment(slot.segment.id),
            rows,
            live_rows: rows - slot.overlay.dead_rows(&slot.segment, now).len(),
            bytes: slot.segment.files().iter().map(|f| f.body_len).sum(),
            unindexed_rows: 0,
            graph_nodes: 0,
        });
    }
    for (index, source) in tables
        .frozen
        .iter()
        .chain(std::iter::once(&tables.memtable))
        .enumerate()
    {
        sources.push(SourceInfo {
            kind: if index < tables.frozen.len() {
                SourceKind::Frozen
            } else {
                SourceKind::Memtable
            },
            rows: u64::from(source.horizon),
            live_rows: source.live(now).len(),
            bytes: source.memtable.bytes_written() as u64,
            unindexed_rows: u64::from(source.index_lag()),
            graph_nodes: source.index.nodes(),
        });
    }
    let indexes = state
        .schema
        .fields()
        .iter()
        .enumerate()
        .filter_map(|(position, field)| {
            let FieldKind::Vector(options) = field.kind else {
                return None;
            };
            let graph = FileKind::Graph(position as u16).file_name();
            let graphs: Vec<u64> = tables
                .segments
                .iter()
                .filter_map(|slot| {
                    slot.segment
                        .files()
                        .iter()
                        .find(|file| file.name == graph)
                        .map(|file| file.body_len)
                })
                .collect();
            Some(IndexInfo {
                field: field.name.clone(),
                kind: match options.index {
                    VectorIndex::Flat => "FLAT",
                    VectorIndex::Hnsw { .. } => "HNSW",
                    VectorIndex::IvfPq { .. } => "IVF_PQ",
                },
                bytes: graphs.iter().sum(),
                indexed_segments: graphs.len(),
            })
        })
        .collect();
    let stats = &state.stats;
    CollectionInfo {
        name: state.name.clone(),
        rows: sources.iter().map(|source| source.live_rows).sum(),
        sources,
        indexes,
        pending_flushes: tables.frozen.len(),
        pending_flushes_max: FROZEN_MAX,
        write_stalls: stats.write_stalls.load(Ordering::Relaxed),
        write_stall_time: Duration::from_micros(stats.write_stall_micros.load(Ordering::Relaxed)),
        flushes: stats.flushes.load(Ordering::Relaxed),
        merges: stats.merges.load(Ordering::Relaxed),
    }
}
