//! Reading a segment through its maps.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use std::ops::Bound;

use roaring::RoaringBitmap;
use strata_index::hnsw::{HnswIndex, HnswView, RowFilter};
use strata_index::ivfpq::IvfPqView;
use strata_index::numeric::NumericIndexView;
use strata_index::tags::TagIndexView;
use strata_index::Neighbor;
use strata_storage::blocks::BlockedFile;
use strata_storage::fs::Access;
use strata_storage::sealed::SealedFile;
use strata_storage::FileSystem;

use super::format::{align_up, FileKind};
use super::ivfpq::IvfPqFile;
use super::FileRecord;
use crate::model::error::{Error, Result};
use crate::model::schema::{FieldKind, Schema};
use crate::model::stored::{decode_row, StoredRow};
use crate::text::file::TextIndexView;

/// Below this many candidate rows a VECTOR_RANGE measures each one (exact, and no
/// slower than a walk, which measures a few thousand rows around the ball).
const RANGE_WALK_MIN_ROWS: u64 = 1024;

/// Bytes of a text index's header words checked at open (its first block).
const TEXT_HEADER_LEN: usize = 16;

/// A segment's text index for one field.
#[derive(Debug)]
enum TextIndex {
    /// The `text-<f>` file, block-checked on use.
    File(BlockedFile),
    /// Built from the stored text of a segment written before text indexes existed.
    Built(crate::text::Analyzer, std::sync::OnceLock<Vec<u8>>),
}

/// A vector column: straight from the map when it is 4-byte aligned (always, for
/// the real file system, whose maps are page-aligned), else a copy (checked whole when
/// it is made).
#[derive(Debug)]
enum Column {
    Mapped(BlockedFile),
    Copied(Vec<f32>),
}

#[derive(Debug)]
struct VectorColumn {
    position: u16,
    dim: usize,
    metric: crate::model::schema::Metric,
    data: Column,
    /// The HNSW graph over this column, when the field has one.
    graph: Option<BlockedFile>,
    /// The IVF-PQ index over this column, when the field has one.
    ivfpq: Option<IvfPqFile>,
    present: RoaringBitmap,
}

/// An open, immutable segment.
#[derive(Debug)]
pub(crate) struct Segment {
    pub id: u64,
    dir: PathBuf,
    fs: Arc<dyn FileSystem>,
    row_count: u32,
    // Every file read lazily is block-checked: each accessor takes its bytes through
    // `BlockedFile::get`/`all`, which check the blocks they span on first use, so no
    // answer (and no "absent" a write relies on) comes from bytes no checksum vouched for.
    keys: BlockedFile,
    docs: BlockedFile,
    /// The key filter, if the segment has one.
    filter: Option<BlockedFile>,
    /// `n × u64` insertion orders, if the segment has them (older ones do not).
    order: Option<BlockedFile>,
    columns: Vec<VectorColumn>,
    /// Field index files by schema position: TAG and NUMERIC fields.
    field_indexes: Vec<(u16, BlockedFile)>,
    /// Text indexes by schema position: the file, or for a segment written before
    /// text indexes existed, one built from the stored text on first use.
    texts: Vec<(u16, TextIndex)>,
    /// `(row, deadline)` sorted by row, and the same pairs sorted by deadline.
    deadlines_by_row: Vec<(u32, u64)>,
    deadlines_by_time: Vec<(u64, u32)>,
    files: Vec<FileRecord>,
    /// Set once no manifest names the segment; the last reader to let go removes it.
    obsolete: AtomicBool,
}

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

impl Segment {
    /// Opens the segment in `dir` that the manifest describes with `files` and
    /// `row_count`. Checks every file's footer against the manifest's record and the
    /// block tables of the lazily read files, the layout sizes of keys and docs (the
    /// few blocks holding those header words are checked), and reads the small `rows`
    /// file in full.
    pub fn open(
        fs: Arc<dyn FileSystem>,
        dir: &Path,
        id: u64,
        schema: &Schema,
        row_count: u64,
        files: Vec<FileRecord>,
    ) -> Result<Segment> {
        let corrupt = |file: &Path, reason: String| Error::Corrupt {
            file: file.to_path_buf(),
            offset: 0,
            reason,
        };
        let row_count = u32::try_from(row_count)
            .map_err(|_| corrupt(dir, format!("{row_count} rows is over the segment limit")))?;
        // Returns the version found: the current one, or a legacy one still read.
        let open_any = |kind: FileKind| -> Result<(SealedFile, u32)> {
            let name = kind.file_name();
            let path = dir.join(&name);
            let record = files
                .iter()
                .find(|f| f.name == name)
                .ok_or_else(|| corrupt(&path, "the manifest does not list this file".into()))?;
            let (file, version) = kind.open(fs.as_ref(), &path)?;
            if file.body().len() as u64 != record.body_len || file.body_crc() != record.body_crc {
                return Err(corrupt(
                    &path,
                    "file does not match the manifest's length and checksum".into(),
                ));
            }
            Ok((file, version))
        };
        let open = |kind: FileKind| -> Result<SealedFile> {
            match open_any(kind)? {
                (file, version) if version == kind.version() => Ok(file),
                (file, version) => Err(Error::UnsupportedVersion {
                    file: file.path().to_path_buf(),
                    found: version,
                    supported: kind.version(),
                }),
            }
        };
        let open_blocked =
            |kind: FileKind| -> Result<BlockedFile> { Ok(BlockedFile::from_sealed(open(kind)?)?) };
        let n = row_count as usize;

        let keys = open_blocked(FileKind::Keys)?;
        let keys_bytes_at = align_up(8 + 8 * (n + 1) + 4 * n, 8);
        if read_u64_checked(&keys, 0)? != Some(n as u64) || keys.len() < keys_bytes_at {
            return Err(keys
                .corrupt(0, "row count or length does not match the layout")
                .into());
        }
        if read_u64_checked(&keys, 8 + 8 * n)? != Some((keys.len() - keys_bytes_at) as u64) {
            return Err(keys
                .corrupt(8 + 8 * n as u64, "key bytes do not end where the file does")
                .into());
        }

        // Only the header is read: the filter's blocks are touched by lookups.
        let filter = match files
            .iter()
            .any(|f| f.name == FileKind::KeyFilter.file_name())
        {
            true => {
                let file = open_blocked(FileKind::KeyFilter)?;
                let header = file.get(0..super::filter::HEADER_READ)?.unwrap_or_default();
                super::filter::check_header(header, file.len())
                    .map_err(|reason| file.corrupt(0, reason))?;
                Some(file)
            }
            false => None,
        };

        // Read lazily and block-checked like the other per-row files: a wrong order
        // would silently reorder SORTBY ties.
        let order = match files.iter().any(|f| f.name == FileKind::Order.file_name()) {
            true => {
                let file = open_blocked(FileKind::Order)?;
                if file.len() != n * 8 {
                    return Err(file
                        .corrupt(0, format!("{} bytes for {n} rows of 8", file.len()))
                        .into());
                }
                Some(file)
            }
            false => None,
        };

        let docs = open_blocked(FileKind::Docs)?;
        if read_u64_checked(&docs, 0)? != Some(n as u64) || docs.len() < align_up(8 + 16 * n, 16) {
            return Err(docs
                .corrupt(0, "row count or length does not match the layout")
                .into());
        }

        let rows = open(FileKind::Rows)?;
        rows.verify()?;
        let (presence, deadlines_by_row) =
            decode_rows(rows.body(), n).map_err(|reason| rows.corrupt(0, reason))?;

        let mut columns = Vec::new();
        for (position, field) in schema.fields().iter().enumerate() {
            let FieldKind::Vector(vector) = field.kind else {
                continue;
            };
            let position = position as u16;
            let file = open_blocked(FileKind::Vectors(position))?;
            if file.len() != n * vector.dim * 4 {
                return Err(file
                    .corrupt(
                        0,
                        format!("expected {n} vectors of {} dimensions", vector.dim),
                    )
                    .into());
            }
            let present = presence
                .iter()
                .find(|(p, _)| *p == position)
                .map(|(_, bitmap)| bitmap.clone())
                .ok_or_else(|| {
                    rows.corrupt(0, format!("no presence bitmap for field {position}"))
                })?;
            // The alignment of the mapped data is all this reads of it unchecked.
            let data = match bytemuck::try_cast_slice::<u8, f32>(file.data_unchecked()) {
                Ok(_) => Column::Mapped(file),
                Err(_) => Column::Copied(
                    file.all()?
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                ),
            };
            let graph_name = FileKind::Graph(position).file_name();
            let graph = if files.iter().any(|f| f.name == graph_name) {
                let file = open_blocked(FileKind::Graph(position))?;
                // O(1) header checks: the graph must be the one for these rows. The
                // view reads only the header, in the first block, checked first; the
                // sections it borrows are read once `search_graph` checked them all.
                file.get(0..file.len().min(GRAPH_HEADER_LEN))?;
                let view = HnswView::open(file.data_unchecked())
                    .map_err(|e| file.corrupt(0, e.to_string()))?;
                if view.len() != n || view.dim() != vector.dim || view.metric() != vector.metric {
                    return Err(file
                        .corrupt(
                            0,
                            "graph does not match the segment's rows, dimension or metric",
                        )
                        .into());
                }
                Some(file)
            } else {
                None
            };
            let ivfpq_name = FileKind::IvfPq(position).file_name();
            let ivfpq = if files.iter().any(|f| f.name == ivfpq_name) {
                let (file, version) = open_any(FileKind::IvfPq(position))?;
                Some(IvfPqFile::open(
                    file,
                    version,
                    n,
                    vector.dim,
                    vector.metric,
                )?)
            } else {
                None
            };
            columns.push(VectorColumn {
                position,
                dim: vector.dim,
                metric: vector.metric,
                data,
                graph,
                ivfpq,
                present,
            });
        }
        let mut field_indexes = Vec::new();
        for (position, field) in schema.fields().iter().enumerate() {
            let position = position as u16;
            let kind = match field.kind {
                FieldKind::Tag(_) => FileKind::Tags(position),
                FieldKind::Numeric => FileKind::Numeric(position),
                FieldKind::Text(_) | FieldKind::Vector(_) | FieldKind::Json => continue,
            };
            let file = open_blocked(kind)?;
            // O(1) header checks now, so a damaged index fails at open, not mid-query.
            // The views read only their header (first block, checked first) here.
            file.get(0..file.len().min(FIELD_INDEX_HEADER_LEN))?;
            let valid = match kind {
                FileKind::Tags(_) => TagIndexView::open(file.data_unchecked()).map(|_| ()),
                _ => NumericIndexView::open(file.data_unchecked()).map(|_| ()),
            };
            valid.map_err(|e| file.corrupt(0, e.to_string()))?;
            field_indexes.push((position, file));
        }
        let mut texts = Vec::new();
        for (position, field) in schema.fields().iter().enumerate() {
            let FieldKind::Text(options) = &field.kind else {
                continue;
            };
            let position = position as u16;
            let kind = FileKind::Text(position);
            let index = if files.iter().any(|f| f.name == kind.file_name()) {
                let file = open_blocked(kind)?;
                // The header and section sizes only: the first block, checked first.
                file.get(0..file.len().min(TEXT_HEADER_LEN))?;
                crate::text::file::TextIndexView::check_header(file.data_unchecked(), row_count)
                    .map_err(|reason| file.corrupt(0, reason))?;
                TextIndex::File(file)
            } else {
                TextIndex::Built(
                    crate::text::Analyzer::new(options),
                    std::sync::OnceLock::new(),
                )
            };
            texts.push((position, index));
        }
        // The checks above ran with the maps in `Access::Random` mode (see
        // `SealedFile::open`), so they read a few pages, not megabytes of read-ahead per
        // file. From here on reads are the queries' and the OS default serves them as
        // before: read-around for scans of vectors and for compaction's passes.
        for file in [&keys, &docs].into_iter().chain(&filter) {
            file.advise(Access::Normal);
        }
        for column in &columns {
            if let Column::Mapped(file) = &column.data {
                file.advise(Access::Normal);
            }
        }
        let mut deadlines_by_time: Vec<(u64, u32)> = deadlines_by_row
            .iter()
            .map(|(row, deadline)| (*deadline, *row))
            .collect();
        deadlines_by_time.sort_unstable();
        Ok(Segment {
            id,
            dir: dir.to_path_buf(),
            fs,
            row_count,
            keys,
            docs,
            filter,
            order,
            columns,
            field_indexes,
            texts,
            deadlines_by_row,
            deadlines_by_time,
            files,
            obsolete: AtomicBool::new(false),
        })
    }

    /// The insertion order of `row`, if the segment records orders.
    pub fn order(&self, row: u32) -> Result<Option<u64>> {
        let Some(file) = &self.order else {
            return Ok(None);
        };
        let at = row as usize * 8;
        Ok(file
            .get(at..at + 8)?
            .map(|bytes| u64::from_le_bytes(bytes.try_into().expect("eight bytes"))))
    }

    /// Rows in the segment, live or not.
    pub fn row_count(&self) -> u32 {
        self.row_count
    }

    /// The files the manifest records for this segment.
    pub fn files(&self) -> &[FileRecord] {
        &self.files
    }

    /// The segment directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The key of `row`.
    pub fn key(&self, row: u32) -> Result<&str> {
        let bytes = self.key_bytes(row)?;
        std::str::from_utf8(bytes).map_err(|_| self.bad_key(row))
    }

    /// The key of `row` as stored, not checked to be UTF-8: what the binary search
    /// compares (byte order is the key order), so that a lookup does not validate
    /// every key it passes.
    fn key_bytes(&self, row: u32) -> Result<&[u8]> {
        let n = self.row_count as usize;
        let bytes_at = align_up(8 + 8 * (n + 1) + 4 * n, 8);
        if row >= self.row_count {
            return Err(self.bad_key(row));
        }
        let at = 8 + 8 * row as usize;
        let offsets = self
            .keys
            .get(at..at + 16)?
            .ok_or_else(|| self.bad_key(row))?;
        let start = read_u64(offsets, 0).ok_or_else(|| self.bad_key(row))?;
        let end = read_u64(offsets, 8).ok_or_else(|| self.bad_key(row))?;
        // Still bounds-checked: a block checksum says the bytes are the ones written,
        // not that a file written by a buggy or hostile writer is well formed.
        let range = usize::try_from(start)
            .ok()
            .zip(usize::try_from(end).ok())
            .filter(|(start, end)| start <= end)
            .and_then(|(start, end)| Some(bytes_at.checked_add(start)?..bytes_at.checked_add(end)?))
            .ok_or_else(|| self.bad_key(row))?;
        self.keys.get(range)?.ok_or_else(|| self.bad_key(row))
    }

    fn bad_key(&self, row: u32) -> Error {
        Error::from(
            self.keys
                .corrupt(8 + 8 * row as u64, format!("bad key offsets for row {row}")),
        )
    }

    /// The row holding `key`: the key filter first (most keys looked up during an
    /// ingest are in no segment, and it rules them out without touching the key file),
    /// then a binary search over the key-sorted rows.
    pub fn find(&self, key: &str) -> Result<Option<u32>> {
        if !self.filter_admits(key)? {
            return Ok(None);
        }
        let (mut low, mut high) = (0usize, self.row_count as usize);
        while low < high {
            let middle = low + (high - low) / 2;
            let row = self.sorted_row(middle)?;
            match self.key_bytes(row)?.cmp(key.as_bytes()) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => return Ok(Some(row)),
            }
        }
        Ok(None)
    }

    /// Whether the key filter admits `key` (true without a filter). A filter block
    /// that fails its checksum is an error, never "absent": writes rely on the answer.
    fn filter_admits(&self, key: &str) -> Result<bool> {
        let Some(filter) = &self.filter else {
            return Ok(true);
        };
        let header = filter
            .get(0..super::filter::HEADER_READ)?
            .unwrap_or_default();
        let Some(probe) = super::filter::probe(header, filter.len(), key.as_bytes()) else {
            return Ok(true);
        };
        Ok(filter
            .get(probe.block.clone())?
            .is_none_or(|block| probe.admits(block)))
    }

    /// The row at `index` in key order.
    fn sorted_row(&self, index: usize) -> Result<u32> {
        let sorted_at = 8 + 8 * (self.row_count as usize + 1);
        let at = sorted_at + 4 * index;
        self.keys
            .get(at..at + 4)?
            .and_then(|bytes| read_u32(bytes, 0))
            .ok_or_else(|| Error::from(self.keys.corrupt(at as u64, "sorted rows cut short")))
    }

    /// The non-vector values of `row`.
    pub fn stored_row(&self, row: u32) -> Result<StoredRow> {
        let n = self.row_count as usize;
        let archives_at = align_up(8 + 16 * n, 16);
        let bad = |reason: String| Error::from(self.docs.corrupt(8 + 16 * row as u64, reason));
        if row >= self.row_count {
            return Err(bad(format!("row {row} is out of range")));
        }
        let at = 8 + 16 * row as usize;
        let extent = self
            .docs
            .get(at..at + 16)?
            .ok_or_else(|| bad("extents cut short".into()))?;
        let start = read_u64(extent, 0).ok_or_else(|| bad("extents cut short".into()))?;
        let len = read_u64(extent, 8).ok_or_else(|| bad("extents cut short".into()))?;
        let range = start
            .checked_add(len)
            .and_then(|end| {
                Some(
                    archives_at.checked_add(usize::try_from(start).ok()?)?
                        ..archives_at.checked_add(usize::try_from(end).ok()?)?,
                )
            })
            .ok_or_else(|| bad(format!("bad document extent for row {row}")))?;
        let bytes = self
            .docs
            .get(range)?
            .ok_or_else(|| bad(format!("bad document extent for row {row}")))?;
        decode_row(bytes).map_err(bad)
    }

    /// The vectors of the field at `position` (row-major) and its dimension; `None`
    /// when the segment has no such field. The first call checks every block of the
    /// column (a scan reads them all anyway).
    pub fn vectors(&self, position: u16) -> Result<Option<(&[f32], usize)>> {
        let Some(column) = self.columns.iter().find(|c| c.position == position) else {
            return Ok(None);
        };
        let data = match &column.data {
            Column::Mapped(file) => cast_floats(file, file.all()?, 0)?,
            Column::Copied(vectors) => vectors.as_slice(),
        };
        Ok(Some((data, column.dim)))
    }

    /// Whether the vector field at `position` has an HNSW graph in this segment.
    pub fn has_graph(&self, position: u16) -> bool {
        self.columns
            .iter()
            .any(|c| c.position == position && c.graph.is_some())
    }

    /// The `k` nearest rows by the HNSW graph of the field at `position`, among the rows
    /// `filter` accepts (all when `None`), exploring `ef` candidates. `None` when the
    /// segment has no graph for the field.
    pub fn search_graph(
        &self,
        position: u16,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: Option<&RoaringBitmap>,
    ) -> Result<Option<Vec<Neighbor>>> {
        let Some(column) = self.columns.iter().find(|c| c.position == position) else {
            return Ok(None);
        };
        let Some(file) = &column.graph else {
            return Ok(None);
        };
        let Some((vectors, _)) = self.vectors(position)? else {
            return Ok(None);
        };
        // A traversal goes where the links and distances lead, over blocks no one can
        // name in advance: the whole graph is checked on its first search.
        let view = HnswView::open(file.all()?).map_err(|e| file.corrupt(0, e.to_string()))?;
        let filter = filter.map(|bitmap| bitmap as &dyn RowFilter);
        let neighbors = view
            .search(vectors, query, k, ef.max(k), filter)
            .map_err(|e| Error::InvalidArgument {
                reason: format!("HNSW search failed: {e}"),
            })?;
        Ok(Some(neighbors))
    }

    /// The HNSW graph of the field at `position`, if the segment has one (every block
    /// checked: a merge starts from it).
    pub(crate) fn graph(&self, position: u16) -> Result<Option<HnswView<'_>>> {
        let Some(file) = self
            .columns
            .iter()
            .find(|c| c.position == position)
            .and_then(|c| c.graph.as_ref())
        else {
            return Ok(None);
        };
        let view = HnswView::open(file.all()?).map_err(|e| file.corrupt(0, e.to_string()))?;
        Ok(Some(view))
    }

    /// The coarse lists of the IVF-PQ index of the field at `position`, when this
    /// segment has one.
    pub fn ivfpq_lists(&self, position: u16) -> Option<usize> {
        let column = self.columns.iter().find(|c| c.position == position)?;
        Some(column.ivfpq.as_ref()?.lists())
    }

    /// The IVF-PQ index of the field at `position`, if the segment has one (every
    /// block checked: a merge may reuse its quantisers).
    pub(crate) fn ivfpq_view(&self, position: u16) -> Result<Option<IvfPqView<'_>>> {
        let Some(file) = self
            .columns
            .iter()
            .find(|c| c.position == position)
            .and_then(|c| c.ivfpq.as_ref())
        else {
            return Ok(None);
        };
        file.view().map(Some)
    }

    /// The `k` nearest rows by the IVF-PQ index of the field at `position`, among
    /// the rows `filter` accepts (all when `None`), re-ranked exactly. `None` when the
    /// segment has no IVF-PQ index for the field.
    pub fn search_ivfpq(
        &self,
        position: u16,
        query: &[f32],
        k: usize,
        params: strata_index::ivfpq::IvfPqSearch,
        filter: Option<&RoaringBitmap>,
    ) -> Result<Option<Vec<Neighbor>>> {
        let Some(column) = self.columns.iter().find(|c| c.position == position) else {
            return Ok(None);
        };
        let Some(file) = &column.ivfpq else {
            return Ok(None);
        };
        let vector = |row: u32| self.vector(position, row);
        file.search(vector, query, k, params, filter).map(Some)
    }

    /// The rows of `rows` within `radius` of `query` by a walk of the HNSW graph of
    /// the field at `position` (RediSearch's VECTOR_RANGE with `$EPSILON`), with
    /// their distances. `None` when the segment has no graph for the field, or when
    /// `rows` are so few that measuring each is cheaper than a walk (and exact).
    pub fn range_graph(
        &self,
        position: u16,
        query: &[f32],
        radius: f32,
        epsilon: f32,
        rows: &RoaringBitmap,
    ) -> Result<Option<Vec<(u32, f32)>>> {
        if rows.len() < RANGE_WALK_MIN_ROWS {
            return Ok(None);
        }
        let Some(column) = self.columns.iter().find(|c| c.position == position) else {
            return Ok(None);
        };
        let (Some(file), Some((vectors, _))) = (&column.graph, self.vectors(position)?) else {
            return Ok(None);
        };
        let view = HnswView::open(file.all()?).map_err(|e| file.corrupt(0, e.to_string()))?;
        let found = view
            .range_search(
                vectors,
                query,
                radius,
                epsilon,
                Some(rows as &dyn RowFilter),
            )
            .map_err(|e| Error::InvalidArgument {
                reason: format!("HNSW range search failed: {e}"),
            })?;
        Ok(Some(
            found
                .into_iter()
                .map(|hit| (hit.id, hit.distance))
                .collect(),
        ))
    }

    /// The metric of the vector field at `position`.
    pub fn metric(&self, position: u16) -> Option<crate::model::schema::Metric> {
        self.columns
            .iter()
            .find(|c| c.position == position)
            .map(|c| c.metric)
    }

    /// The rows that have a vector in the field at `position`.
    pub fn present(&self, position: u16) -> Option<&RoaringBitmap> {
        self.columns
            .iter()
            .find(|c| c.position == position)
            .map(|c| &c.present)
    }

    /// The vector of `row` in the field at `position`, if it has one. Checks only the
    /// blocks the row spans.
    pub fn vector(&self, position: u16, row: u32) -> Result<Option<&[f32]>> {
        let Some(column) = self.columns.iter().find(|c| c.position == position) else {
            return Ok(None);
        };
        if !column.present.contains(row) {
            return Ok(None);
        }
        let range = row as usize * column.dim..(row as usize + 1) * column.dim;
        Ok(match &column.data {
            Column::Mapped(file) => match file.get(range.start * 4..range.end * 4)? {
                Some(bytes) => Some(cast_floats(file, bytes, range.start * 4)?),
                None => None,
            },
            Column::Copied(vectors) => vectors.get(range),
        })
    }

    fn field_index(&self, position: u16) -> Option<&BlockedFile> {
        self.field_indexes
            .iter()
            .find(|(p, _)| *p == position)
            .map(|(_, file)| file)
    }

    /// Rows whose TAG field at `position` holds `tag` (normalised).
    pub fn tag_rows(&self, position: u16, tag: &str) -> Result<RoaringBitmap> {
        let Some(file) = self.field_index(position) else {
            return Ok(RoaringBitmap::new());
        };
        // A lookup binary-searches the table and reads one bitmap, but the view borrows
        // every section: the file is checked whole on first use (tag and numeric files
        // are a few bytes per row).
        let view = TagIndexView::open(file.all()?).map_err(|e| file.corrupt(0, e.to_string()))?;
        view.rows(tag)
            .map_err(|e| file.corrupt(0, e.to_string()).into())
    }

    /// Rows whose TAG field at `position` holds a tag that `matches` accepts (a
    /// wildcard): a scan of the tag table, decoding only the bitmaps of matches.
    pub fn tag_rows_matching(
        &self,
        position: u16,
        matches: &dyn Fn(&str) -> bool,
    ) -> Result<RoaringBitmap> {
        let Some(file) = self.field_index(position) else {
            return Ok(RoaringBitmap::new());
        };
        let corrupt = |e: strata_index::FieldIndexError| file.corrupt(0, e.to_string());
        let view = TagIndexView::open(file.all()?).map_err(corrupt)?;
        let mut rows = RoaringBitmap::new();
        for tag in view.tags() {
            let tag = tag.map_err(corrupt)?;
            if matches(tag) {
                rows |= view.rows(tag).map_err(corrupt)?;
            }
        }
        Ok(rows)
    }

    /// Rows whose NUMERIC field at `position` lies in the range.
    pub fn numeric_rows(
        &self,
        position: u16,
        low: Bound<f64>,
        high: Bound<f64>,
    ) -> Result<RoaringBitmap> {
        let Some(file) = self.field_index(position) else {
            return Ok(RoaringBitmap::new());
        };
        let view =
            NumericIndexView::open(file.all()?).map_err(|e| file.corrupt(0, e.to_string()))?;
        view.range(low, high)
            .map_err(|e| file.corrupt(0, e.to_string()).into())
    }

    /// Runs `read` over the text index of the TEXT field at `position` (`None` when
    /// the field is not one): the file's bytes, each block checked on first use, or
    /// the index built from the stored text for a segment written without one.
    fn with_text<T: Default>(
        &self,
        position: u16,
        read: impl FnOnce(&TextIndexView<'_>) -> std::result::Result<T, String>,
    ) -> Result<T> {
        let Some((_, index)) = self.texts.iter().find(|(p, _)| *p == position) else {
            return Ok(T::default());
        };
        match index {
            TextIndex::File(file) => {
                let corrupt = |reason: String| -> Error { file.corrupt(0, reason).into() };
                let view = TextIndexView::open(file.all()?, self.row_count).map_err(corrupt)?;
                read(&view).map_err(corrupt)
            }
            TextIndex::Built(analyzer, built) => {
                let bytes = match built.get() {
                    Some(bytes) => bytes,
                    None => {
                        let mut texts = Vec::with_capacity(self.row_count as usize);
                        for row in 0..self.row_count {
                            texts.push(self.stored_row(row)?.values.into_iter().find_map(
                                |(field, value)| match value {
                                    crate::model::stored::StoredValue::Text(text)
                                        if field == position =>
                                    {
                                        Some(text)
                                    }
                                    _ => None,
                                },
                            ));
                        }
                        let body =
                            crate::text::file::encode(analyzer, texts.iter().map(Option::as_deref));
                        built.get_or_init(|| body)
                    }
                };
                let view = TextIndexView::open(bytes, self.row_count).map_err(|reason| {
                    Error::Corrupt {
                        file: self.dir.clone(),
                        offset: 0,
                        reason,
                    }
                })?;
                read(&view).map_err(|reason| Error::Corrupt {
                    file: self.dir.clone(),
                    offset: 0,
                    reason,
                })
            }
        }
    }

    /// Rows holding `term` in the TEXT field at `position`, with positions.
    pub fn text_postings(&self, position: u16, term: &str) -> Result<Vec<crate::text::Posting>> {
        self.with_text(position, |view| view.postings(term))
    }

    /// Rows holding a raw word `matches` accepts in the TEXT field at `position`.
    pub fn text_rows_matching(
        &self,
        position: u16,
        matches: &dyn Fn(&str) -> bool,
        stems: bool,
    ) -> Result<RoaringBitmap> {
        self.with_text(position, |view| view.rows_matching(matches, stems))
    }

    /// Rows holding the raw (unstemmed) `word` in the TEXT field at `position`.
    pub fn text_raw_postings(
        &self,
        position: u16,
        word: &str,
    ) -> Result<Vec<crate::text::Posting>> {
        self.with_text(position, |view| view.raw_postings(word))
    }

    /// The number of indexed words of `row` in the TEXT field at `position`.
    pub fn text_length(&self, position: u16, row: u32) -> Result<u32> {
        self.with_text(position, |view| view.length(row))
    }

    /// The number of indexed words of each of `rows` in the TEXT field at `position`.
    pub fn text_lengths(&self, position: u16, rows: &[u32]) -> Result<Vec<u32>> {
        self.with_text(position, |view| {
            rows.iter().map(|row| view.length(*row)).collect()
        })
    }

    /// The sum of the lengths of `rows` in the TEXT field at `position`.
    pub fn text_total_length(&self, position: u16, rows: &RoaringBitmap) -> Result<u64> {
        self.with_text(position, |view| view.total_length(rows))
    }

    /// Checks every byte of every text index.
    pub(crate) fn verify_texts(&self) -> Result<()> {
        for (position, _) in &self.texts {
            self.with_text(*position, |view| view.verify())?;
        }
        Ok(())
    }

    /// The deadline written with `row`, if any.
    pub fn deadline(&self, row: u32) -> Option<u64> {
        let index = self
            .deadlines_by_row
            .binary_search_by_key(&row, |(r, _)| *r)
            .ok()?;
        Some(self.deadlines_by_row[index].1)
    }

    /// Rows whose written deadline is at or before `now_ms`.
    pub fn expired_by(&self, now_ms: u64) -> impl Iterator<Item = u32> + '_ {
        let end = self
            .deadlines_by_time
            .partition_point(|(deadline, _)| *deadline <= now_ms);
        self.deadlines_by_time[..end].iter().map(|(_, row)| *row)
    }

    /// Marks the segment as no longer named by the manifest: its directory goes when
    /// the last reader drops it.
    pub fn mark_obsolete(&self) {
        self.obsolete.store(true, Ordering::Release);
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::Acquire) {
            // Unreferenced either way; a failure leaves an orphan that the next open
            // removes.
            let _ = self.fs.remove_dir_all(&self.dir);
        }
    }
}

/// Bytes of the HNSW graph header (format.rs in `strata_index::hnsw`): what the view
/// reads at open.
const GRAPH_HEADER_LEN: usize = 128;
/// Bytes of the TAG (32) and NUMERIC (16) index headers: what their views read at open.
const FIELD_INDEX_HEADER_LEN: usize = 32;

/// Reads a u64 at `at` of a block-checked file; `None` past its end.
fn read_u64_checked(file: &BlockedFile, at: usize) -> Result<Option<u64>> {
    Ok(file.get(at..at + 8)?.and_then(|bytes| read_u64(bytes, 0)))
}

/// `bytes` (taken from `file` at `offset`) as floats: they are 4-byte aligned in a
/// mapped column, which open checked for the whole column.
fn cast_floats<'a>(file: &BlockedFile, bytes: &'a [u8], offset: usize) -> Result<&'a [f32]> {
    bytemuck::try_cast_slice::<u8, f32>(bytes)
        .map_err(|_| Error::from(file.corrupt(offset as u64, "vector data is misaligned")))
}

type Presence = Vec<(u16, RoaringBitmap)>;

fn decode_rows(body: &[u8], n: usize) -> std::result::Result<(Presence, Vec<(u32, u64)>), String> {
    if read_u64(body, 0) != Some(n as u64) {
        return Err("row count does not match the manifest".into());
    }
    let fields = read_u32(body, 8).ok_or("cut short")? as usize;
    let mut at = 12;
    let mut presence = Vec::new();
    for _ in 0..fields.min(body.len()) {
        let position = u16::from_le_bytes(
            body.get(at..at + 2)
                .ok_or("cut short")?
                .try_into()
                .map_err(|_| "cut short")?,
        );
        let len = read_u32(body, at + 4).ok_or("cut short")? as usize;
        let bytes = body
            .get(at + 8..at + 8 + len)
            .ok_or("presence bitmap cut short")?;
        let bitmap = RoaringBitmap::deserialize_from(bytes)
            .map_err(|e| format!("bad presence bitmap: {e}"))?;
        if bitmap.max().is_some_and(|max| max as usize >= n) {
            return Err("presence bitmap names rows past the end".into());
        }
        presence.push((position, bitmap));
        at += 8 + len;
    }
    at = align_up(at, 8);
    let count = read_u64(body, at).ok_or("deadline count cut short")? as usize;
    // Checked: a damaged count near u64::MAX used to overflow this sum (a panic in
    // debug builds) after `saturating_mul` had saturated.
    let end = count
        .checked_mul(16)
        .and_then(|bytes| bytes.checked_add(at + 8));
    if end != Some(body.len()) {
        return Err("deadline list does not end where the file does".into());
    }
    let mut deadlines = Vec::with_capacity(count);
    for index in 0..count {
        let entry = at + 8 + 16 * index;
        let deadline = read_u64(body, entry).ok_or("cut short")?;
        let row = read_u32(body, entry + 8).ok_or("cut short")?;
        if row as usize >= n
            || deadlines
                .last()
                .is_some_and(|(previous, _)| *previous >= row)
        {
            return Err(format!(
                "deadline entry {index} names row {row} out of order or range"
            ));
        }
        deadlines.push((row, deadline));
    }
    Ok((presence, deadlines))
}

mod verify;

#[cfg(test)]
mod tests;
