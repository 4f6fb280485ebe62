//! Reading a segment through its maps.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use std::ops::Bound;

use roaring::RoaringBitmap;
use strata_index::hnsw::{HnswIndex, HnswView};
use strata_index::numeric::NumericIndexView;
use strata_index::tags::TagIndexView;
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

mod text;
mod vectors;
mod verify;

#[cfg(test)]
mod tests;
