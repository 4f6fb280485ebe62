//! Reading a segment through its maps.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use std::ops::Bound;

use roaring::RoaringBitmap;
use strata_index::hnsw::{HnswIndex, HnswView, RowFilter};
use strata_index::numeric::NumericIndexView;
use strata_index::tags::TagIndexView;
use strata_index::Neighbor;
use strata_storage::fs::Access;
use strata_storage::sealed::SealedFile;
use strata_storage::FileSystem;

use super::format::{align_up, FileKind};
use super::FileRecord;
use crate::error::{Error, Result};
use crate::schema::{FieldKind, Schema};
use crate::stored::{decode_row, StoredRow};

/// Below this many candidate rows a VECTOR_RANGE measures each one (exact, and no
/// slower than a walk, which measures a few thousand rows around the ball).
const RANGE_WALK_MIN_ROWS: u64 = 1024;

/// A vector column: straight from the map when it is 4-byte aligned (always, for
/// the real file system, whose maps are page-aligned), else a copy.
#[derive(Debug)]
enum Column {
    Mapped(SealedFile),
    Copied(Vec<f32>),
}

#[derive(Debug)]
struct VectorColumn {
    position: u16,
    dim: usize,
    metric: crate::schema::Metric,
    data: Column,
    /// The HNSW graph over this column, when the field has one.
    graph: Option<SealedFile>,
    present: RoaringBitmap,
}

/// An open, immutable segment.
#[derive(Debug)]
pub(crate) struct Segment {
    pub id: u64,
    dir: PathBuf,
    fs: Arc<dyn FileSystem>,
    row_count: u32,
    keys: SealedFile,
    docs: SealedFile,
    /// The key filter, if the segment has one (segments written before it do not).
    filter: Option<SealedFile>,
    columns: Vec<VectorColumn>,
    /// Field index files by schema position: TAG and NUMERIC fields.
    field_indexes: Vec<(u16, SealedFile)>,
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
    /// `row_count`. Checks every file's footer against the manifest's record, the
    /// layout sizes of keys and docs, and reads the small `rows` file in full.
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
        let open = |kind: FileKind| -> Result<SealedFile> {
            let name = kind.file_name();
            let path = dir.join(&name);
            let record = files
                .iter()
                .find(|f| f.name == name)
                .ok_or_else(|| corrupt(&path, "the manifest does not list this file".into()))?;
            let file = SealedFile::open(fs.as_ref(), &path, kind.code(), kind.version())?;
            if file.body().len() as u64 != record.body_len || file.body_crc() != record.body_crc {
                return Err(corrupt(
                    &path,
                    "file does not match the manifest's length and checksum".into(),
                ));
            }
            Ok(file)
        };
        let n = row_count as usize;

        let keys = open(FileKind::Keys)?;
        let keys_bytes_at = align_up(8 + 8 * (n + 1) + 4 * n, 8);
        let body = keys.body();
        if read_u64(body, 0) != Some(n as u64) || body.len() < keys_bytes_at {
            return Err(keys
                .corrupt(0, "row count or length does not match the layout")
                .into());
        }
        if read_u64(body, 8 + 8 * n) != Some((body.len() - keys_bytes_at) as u64) {
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
                let file = open(FileKind::KeyFilter)?;
                super::filter::check(file.body()).map_err(|reason| file.corrupt(0, reason))?;
                Some(file)
            }
            false => None,
        };

        let docs = open(FileKind::Docs)?;
        let body = docs.body();
        if read_u64(body, 0) != Some(n as u64) || body.len() < align_up(8 + 16 * n, 16) {
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
            let file = open(FileKind::Vectors(position))?;
            if file.body().len() != n * vector.dim * 4 {
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
            let data = match bytemuck::try_cast_slice::<u8, f32>(file.body()) {
                Ok(_) => Column::Mapped(file),
                Err(_) => Column::Copied(
                    file.body()
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                ),
            };
            let graph_name = FileKind::Graph(position).file_name();
            let graph = if files.iter().any(|f| f.name == graph_name) {
                let file = open(FileKind::Graph(position))?;
                // O(1) header checks: the graph must be the one for these rows.
                let view =
                    HnswView::open(file.body()).map_err(|e| file.corrupt(0, e.to_string()))?;
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
            columns.push(VectorColumn {
                position,
                dim: vector.dim,
                metric: vector.metric,
                data,
                graph,
                present,
            });
        }
        let mut field_indexes = Vec::new();
        for (position, field) in schema.fields().iter().enumerate() {
            let position = position as u16;
            let kind = match field.kind {
                FieldKind::Tag(_) => FileKind::Tags(position),
                FieldKind::Numeric => FileKind::Numeric(position),
                FieldKind::Text | FieldKind::Vector(_) => continue,
            };
            let file = open(kind)?;
            // O(1) header checks now, so a damaged index fails at open, not mid-query.
            let valid = match kind {
                FileKind::Tags(_) => TagIndexView::open(file.body()).map(|_| ()),
                _ => NumericIndexView::open(file.body()).map(|_| ()),
            };
            valid.map_err(|e| file.corrupt(0, e.to_string()))?;
            field_indexes.push((position, file));
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
            columns,
            field_indexes,
            deadlines_by_row,
            deadlines_by_time,
            files,
            obsolete: AtomicBool::new(false),
        })
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
        let body = self.keys.body();
        let bytes_at = align_up(8 + 8 * (n + 1) + 4 * n, 8);
        if row >= self.row_count {
            return Err(self.bad_key(row));
        }
        let start = read_u64(body, 8 + 8 * row as usize).ok_or_else(|| self.bad_key(row))?;
        let end = read_u64(body, 16 + 8 * row as usize).ok_or_else(|| self.bad_key(row))?;
        // Checked: the offsets come from the file, whose body is not checksummed at open.
        let range = usize::try_from(start)
            .ok()
            .zip(usize::try_from(end).ok())
            .filter(|(start, end)| start <= end)
            .and_then(|(start, end)| {
                Some(bytes_at.checked_add(start)?..bytes_at.checked_add(end)?)
            });
        range
            .and_then(|range| body.get(range))
            .ok_or_else(|| self.bad_key(row))
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
        if let Some(filter) = &self.filter {
            if !super::filter::may_contain(filter.body(), key.as_bytes()) {
                return Ok(None);
            }
        }
        let n = self.row_count as usize;
        let sorted_at = 8 + 8 * (n + 1);
        let body = self.keys.body();
        let (mut low, mut high) = (0usize, n);
        while low < high {
            let middle = low + (high - low) / 2;
            let row = read_u32(body, sorted_at + 4 * middle).ok_or_else(|| {
                Error::from(self.keys.corrupt(sorted_at as u64, "sorted rows cut short"))
            })?;
            match self.key_bytes(row)?.cmp(key.as_bytes()) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => return Ok(Some(row)),
            }
        }
        Ok(None)
    }

    /// The non-vector values of `row`.
    pub fn stored_row(&self, row: u32) -> Result<StoredRow> {
        let n = self.row_count as usize;
        let body = self.docs.body();
        let archives_at = align_up(8 + 16 * n, 16);
        let bad = |reason: String| Error::from(self.docs.corrupt(8 + 16 * row as u64, reason));
        if row >= self.row_count {
            return Err(bad(format!("row {row} is out of range")));
        }
        let extent = 8 + 16 * row as usize;
        let start = read_u64(body, extent).ok_or_else(|| bad("extents cut short".into()))?;
        let len = read_u64(body, extent + 8).ok_or_else(|| bad("extents cut short".into()))?;
        let bytes = start
            .checked_add(len)
            .and_then(|end| {
                body.get(
                    archives_at.checked_add(start as usize)?
                        ..archives_at.checked_add(end as usize)?,
                )
            })
            .ok_or_else(|| bad(format!("bad document extent for row {row}")))?;
        decode_row(bytes).map_err(bad)
    }

    /// The vectors of the field at `position` (row-major) and its dimension.
    pub fn vectors(&self, position: u16) -> Option<(&[f32], usize)> {
        let column = self.columns.iter().find(|c| c.position == position)?;
        let data = match &column.data {
            Column::Mapped(file) => bytemuck::try_cast_slice::<u8, f32>(file.body()).ok()?,
            Column::Copied(vectors) => vectors.as_slice(),
        };
        Some((data, column.dim))
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
        let (Some(file), Some((vectors, _))) = (&column.graph, self.vectors(position)) else {
            return Ok(None);
        };
        let view = HnswView::open(file.body()).map_err(|e| file.corrupt(0, e.to_string()))?;
        let filter = filter.map(|bitmap| bitmap as &dyn RowFilter);
        let neighbors = view
            .search(vectors, query, k, ef.max(k), filter)
            .map_err(|e| Error::InvalidArgument {
                reason: format!("HNSW search failed: {e}"),
            })?;
        Ok(Some(neighbors))
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
        let (Some(file), Some((vectors, _))) = (&column.graph, self.vectors(position)) else {
            return Ok(None);
        };
        let view = HnswView::open(file.body()).map_err(|e| file.corrupt(0, e.to_string()))?;
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
    pub fn metric(&self, position: u16) -> Option<crate::schema::Metric> {
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

    /// The vector of `row` in the field at `position`, if it has one.
    pub fn vector(&self, position: u16, row: u32) -> Option<&[f32]> {
        if !self.present(position)?.contains(row) {
            return None;
        }
        let (data, dim) = self.vectors(position)?;
        data.get(row as usize * dim..(row as usize + 1) * dim)
    }

    fn field_index(&self, position: u16) -> Option<&SealedFile> {
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
        let view = TagIndexView::open(file.body()).map_err(|e| file.corrupt(0, e.to_string()))?;
        view.rows(tag)
            .map_err(|e| file.corrupt(0, e.to_string()).into())
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
            NumericIndexView::open(file.body()).map_err(|e| file.corrupt(0, e.to_string()))?;
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

    /// Reads every byte of every file and checks its checksum, the key order and every
    /// document archive.
    pub fn verify(&self) -> Result<u64> {
        let mut bytes = 0u64;
        for record in &self.files {
            let kind = FileKind::from_file_name(&record.name).ok_or_else(|| Error::Corrupt {
                file: self.dir.join(&record.name),
                offset: 0,
                reason: "unknown segment file".into(),
            })?;
            let file = SealedFile::open(
                self.fs.as_ref(),
                &self.dir.join(&record.name),
                kind.code(),
                kind.version(),
            )?;
            file.verify()?;
            bytes += file.body().len() as u64;
        }
        let mut previous: Option<&str> = None;
        let n = self.row_count as usize;
        let sorted_at = 8 + 8 * (n + 1);
        for index in 0..n {
            let row = read_u32(self.keys.body(), sorted_at + 4 * index).unwrap_or(u32::MAX);
            let key = self.key(row)?;
            if previous.is_some_and(|p| p >= key) {
                return Err(self
                    .keys
                    .corrupt(sorted_at as u64, "keys are not in strictly ascending order")
                    .into());
            }
            previous = Some(key);
            if let Some(filter) = &self.filter {
                if !super::filter::may_contain(filter.body(), key.as_bytes()) {
                    return Err(filter
                        .corrupt(0, format!("the key filter rejects the key of row {row}"))
                        .into());
                }
            }
        }
        for row in 0..self.row_count {
            self.stored_row(row)?;
        }
        for column in &self.columns {
            if let Some(file) = &column.graph {
                let view = HnswView::open(file.body())
                    .and_then(|view| view.verify().map(|()| view))
                    .map_err(|e| file.corrupt(0, e.to_string()))?;
                // A row no walk can reach is never found by a graph search: as good
                // as lost for k-NN, so it is damage even though every byte checks.
                let unreachable = view.graph_ref().unreachable_nodes(Some(&column.present));
                if let Some(&row) = unreachable.first() {
                    return Err(file
                        .corrupt(
                            0,
                            format!(
                                "{} rows (the first is row {row}) cannot be reached from \
                                 the HNSW entry point, so searches miss them; to rebuild \
                                 the graph, re-upsert one document of the collection and \
                                 run Database::compact, or restore a backup",
                                unreachable.len()
                            ),
                        )
                        .into());
                }
            }
        }
        for (position, file) in &self.field_indexes {
            let is_tags = self
                .files
                .iter()
                .any(|f| f.name == FileKind::Tags(*position).file_name());
            let checked = if is_tags {
                TagIndexView::open(file.body()).and_then(|view| view.verify(self.row_count))
            } else {
                NumericIndexView::open(file.body()).and_then(|view| view.verify(self.row_count))
            };
            checked.map_err(|e| file.corrupt(0, e.to_string()))?;
        }
        for column in &self.columns {
            if column
                .present
                .max()
                .is_some_and(|max| max >= self.row_count)
            {
                return Err(Error::Corrupt {
                    file: self.dir.join("rows"),
                    offset: 0,
                    reason: "presence bitmap names rows past the end".into(),
                });
            }
        }
        Ok(bytes)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Metric, VectorIndex};
    use crate::segment::{write_file, write_segment, SegmentRow};
    use strata_storage::StdFileSystem;

    fn written(dir: &Path, keys: &[String]) -> (Schema, Vec<FileRecord>) {
        let schema = Schema::builder()
            .vector("v", 2, Metric::L2, VectorIndex::flat())
            .build()
            .unwrap();
        let vector = [1.0f32, 2.0];
        let rows: Vec<SegmentRow> = keys
            .iter()
            .map(|key| SegmentRow {
                key,
                values: Vec::new(),
                vectors: vec![Some(&vector[..])],
                deadline: None,
            })
            .collect();
        let written = write_segment(&StdFileSystem, dir, &schema, &rows).unwrap();
        (schema, written.files)
    }

    fn open(dir: &Path, schema: &Schema, rows: usize, files: Vec<FileRecord>) -> Segment {
        Segment::open(Arc::new(StdFileSystem), dir, 1, schema, rows as u64, files).unwrap()
    }

    #[test]
    fn lookups_agree_with_and_without_the_key_filter() {
        let temporary = tempfile::tempdir().unwrap();
        let dir = temporary.path().join("segment");
        let keys: Vec<String> = (0..2_000).map(|i| format!("k{i}")).collect();
        let (schema, files) = written(&dir, &keys);
        assert!(files.iter().any(|f| f.name == "keyfilter"));
        // A segment written before key filters existed: the manifest lists none.
        let without: Vec<FileRecord> = files
            .iter()
            .filter(|f| f.name != "keyfilter")
            .cloned()
            .collect();
        for segment in [
            open(&dir, &schema, keys.len(), files),
            open(&dir, &schema, keys.len(), without),
        ] {
            for (row, key) in keys.iter().enumerate() {
                assert_eq!(segment.find(key).unwrap(), Some(row as u32));
            }
            for absent in ["", "k", "k2000", "k-1", "z"] {
                assert_eq!(segment.find(absent).unwrap(), None);
            }
            segment.verify().unwrap();
        }
    }

    #[test]
    fn a_filter_that_rejects_a_key_fails_verify() {
        let temporary = tempfile::tempdir().unwrap();
        let dir = temporary.path().join("segment");
        let keys: Vec<String> = (0..100).map(|i| format!("k{i}")).collect();
        let (schema, mut files) = written(&dir, &keys);
        // Well-formed and correctly checksummed, but built from other keys.
        let others: Vec<String> = (0..100).map(|i| format!("other{i}")).collect();
        let body = super::super::filter::encode(others.iter().map(|k| k.as_bytes()), 100);
        let record = write_file(&StdFileSystem, &dir, FileKind::KeyFilter, &body).unwrap();
        files.retain(|f| f.name != "keyfilter");
        files.push(record);
        let segment = open(&dir, &schema, keys.len(), files);
        let error = segment.verify().unwrap_err().to_string();
        assert!(error.contains("key filter"), "{error}");
    }

    #[test]
    fn a_graph_row_no_walk_reaches_fails_verify() {
        let temporary = tempfile::tempdir().unwrap();
        let dir = temporary.path().join("segment");
        let schema = Schema::builder()
            .vector("v", 2, Metric::L2, VectorIndex::hnsw(4, 20))
            .build()
            .unwrap();
        let keys: Vec<String> = (0..50).map(|i| format!("k{i:02}")).collect();
        let vectors: Vec<[f32; 2]> = (0..50).map(|i| [i as f32, (i * 7 % 11) as f32]).collect();
        let rows: Vec<SegmentRow> = keys
            .iter()
            .zip(&vectors)
            .map(|(key, vector)| SegmentRow {
                key,
                values: Vec::new(),
                vectors: vec![Some(&vector[..])],
                deadline: None,
            })
            .collect();
        let mut files = write_segment(&StdFileSystem, &dir, &schema, &rows)
            .unwrap()
            .files;
        open(&dir, &schema, rows.len(), files.clone())
            .verify()
            .unwrap();
        // Empty every level-0 list (M0 = 8: 9 words per node from byte 128), then
        // re-checksum, so that only the reachability check can object.
        let kind = FileKind::Graph(0);
        let sealed = std::fs::read(dir.join(kind.file_name())).unwrap();
        let mut body = sealed[..sealed.len() - strata_storage::sealed::FOOTER_LEN].to_vec();
        for node in 0..rows.len() {
            let at = 128 + node * 9 * 4;
            body[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
        }
        let body_crc = crc32fast::hash(&body[128..]);
        body[80..84].copy_from_slice(&body_crc.to_le_bytes());
        let header_crc = crc32fast::hash(&body[..124]);
        body[124..128].copy_from_slice(&header_crc.to_le_bytes());
        let record = write_file(&StdFileSystem, &dir, kind, &body).unwrap();
        files.retain(|f| f.name != kind.file_name());
        files.push(record);
        let segment = open(&dir, &schema, rows.len(), files);
        match segment.verify() {
            Err(Error::Corrupt { file, reason, .. }) => {
                assert_eq!(file, dir.join(kind.file_name()));
                assert!(
                    reason.contains("49 rows") && reason.contains("reached"),
                    "{reason}"
                );
            }
            other => panic!("verify passed a graph with unreachable rows: {other:?}"),
        }
    }

    #[test]
    fn a_huge_deadline_count_is_an_error_not_an_overflow() {
        // No rows, no vector fields, padding, then a deadline count of u64::MAX.
        let mut body = Vec::new();
        body.extend_from_slice(&0u64.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes());
        body.extend_from_slice(&[0; 4]);
        body.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode_rows(&body, 0).is_err());
        let count_at = body.len() - 8;
        body[count_at..].copy_from_slice(&(u64::MAX / 16).to_le_bytes());
        assert!(decode_rows(&body, 0).is_err());
    }

    #[test]
    fn a_key_offset_near_u64_max_is_an_error_not_an_overflow() {
        let dir = tempfile::tempdir().unwrap();
        let fs: Arc<dyn FileSystem> = Arc::new(StdFileSystem);
        let schema = Schema::builder()
            .vector("v", 2, Metric::L2, VectorIndex::flat())
            .build()
            .unwrap();
        let rows: Vec<SegmentRow> = ["a", "b"]
            .iter()
            .map(|key| SegmentRow {
                key,
                values: Vec::new(),
                vectors: vec![Some(&[1.0, 2.0][..])],
                deadline: None,
            })
            .collect();
        let mut written = write_segment(fs.as_ref(), dir.path(), &schema, &rows).unwrap();
        // Where row 0's key ends (and row 1's starts): u64::MAX, re-sealed so that only
        // the bounds checks stand between it and the read.
        let path = dir.path().join("keys");
        let bytes = std::fs::read(&path).unwrap();
        let mut body = bytes[..bytes.len() - strata_storage::sealed::FOOTER_LEN].to_vec();
        body[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        let kind = FileKind::Keys;
        let crc = strata_storage::sealed::write_sealed(
            fs.as_ref(),
            &path,
            kind.code(),
            kind.version(),
            &body,
        )
        .unwrap();
        written.files[0].body_crc = crc;
        let segment = Segment::open(fs, dir.path(), 1, &schema, 2, written.files).unwrap();
        assert!(matches!(segment.key(0), Err(Error::Corrupt { .. })));
        assert!(matches!(segment.key(1), Err(Error::Corrupt { .. })));
        assert!(segment.find("b").is_err() || segment.find("b").unwrap().is_none());
        assert!(segment.verify().is_err());
    }
}
