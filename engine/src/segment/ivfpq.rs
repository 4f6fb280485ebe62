//! The `ivfpq-<position>` file of an IVF_PQ vector field: trained and written with
//! the segment (at flush and at merge), opened with O(1) header checks, searched from
//! the map. Never retrained at open.
//!
//! A segment with fewer than [`IVF_PQ_MIN_ROWS`] rows with a vector gets no file and
//! is searched exactly (the reason is at the constant). A merge trains afresh on the
//! merged rows: reusing an input's quantisers is not implemented.

use std::borrow::Cow;
use std::path::Path;

use roaring::RoaringBitmap;
use strata_index::hnsw::RowFilter;
use strata_index::ivfpq::{IvfPqIndex, IvfPqParams, IvfPqSearch, IvfPqView};
use strata_index::Neighbor;
use strata_storage::blocks::BlockedFile;
use strata_storage::fs::Access;
use strata_storage::sealed::SealedFile;
use strata_storage::FileSystem;

use super::format::FileKind;
use super::writer::{write_file, SegmentRow};
use super::FileRecord;
use crate::model::error::{Error, Result};
use crate::model::schema::{FieldKind, Metric, Schema, VectorIndex, IVF_PQ_MIN_ROWS};

/// Trains and writes the IVF-PQ file of the vector field at `position` (the
/// `index`-th vector field), when the field asks for one and enough rows have a
/// vector. Reads the vectors back from their file, already written and fsynced, so
/// the build needs the codes' memory, not a second copy of the column.
pub(super) fn write(
    fs: &dyn FileSystem,
    dir: &Path,
    schema: &Schema,
    position: u16,
    index: usize,
    rows: &[SegmentRow],
) -> Result<Option<FileRecord>> {
    let Some(FieldKind::Vector(options)) = schema.fields().get(position as usize).map(|f| f.kind)
    else {
        return Ok(None);
    };
    let VectorIndex::IvfPq {
        lists,
        subquantizers,
    } = options.index
    else {
        return Ok(None);
    };
    let present: Vec<u32> = rows
        .iter()
        .enumerate()
        .filter(|(_, row)| row.vectors.get(index).copied().flatten().is_some())
        .map(|(row, _)| row as u32)
        .collect();
    if present.len() < IVF_PQ_MIN_ROWS {
        return Ok(None);
    }
    let kind = FileKind::Vectors(position);
    let file = BlockedFile::open(fs, &dir.join(kind.file_name()), kind.code(), kind.version())?;
    file.advise(Access::Normal);
    let data = file.all()?;
    let vectors: Cow<[f32]> = match bytemuck::try_cast_slice(data) {
        Ok(floats) => Cow::Borrowed(floats),
        Err(_) => Cow::Owned(
            data.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let built = IvfPqIndex::build(
        &vectors,
        options.dim,
        options.metric,
        &present,
        &IvfPqParams::new(lists, subquantizers),
        threads,
    )
    .map_err(|e| Error::InvalidArgument {
        reason: format!("cannot build the IVF-PQ index: {e}"),
    })?;
    write_file(fs, dir, FileKind::IvfPq(position), &built.to_bytes()).map(Some)
}

fn view(file: &SealedFile) -> Result<IvfPqView<'_>> {
    IvfPqView::open(file.body()).map_err(|e| file.corrupt(0, e.to_string()).into())
}

/// The O(1) checks at open: a well-formed header, and an index over these rows,
/// this dimension and this metric.
pub(super) fn check(file: &SealedFile, rows: usize, dim: usize, metric: Metric) -> Result<()> {
    let view = view(file)?;
    let index = view.as_ref();
    if index.len() != rows || index.dim() != dim || index.metric() != metric {
        return Err(file
            .corrupt(
                0,
                "IVF-PQ index does not match the segment's rows, dimension or metric",
            )
            .into());
    }
    Ok(())
}

/// Coarse lists the index was trained with.
pub(super) fn lists(file: &SealedFile) -> Result<usize> {
    Ok(view(file)?.as_ref().nlist())
}

/// The `k` nearest rows among `filter`'s (all encoded rows when `None`), re-ranked
/// exactly over `vectors`.
pub(super) fn search(
    file: &SealedFile,
    vectors: &[f32],
    query: &[f32],
    k: usize,
    params: IvfPqSearch,
    filter: Option<&RoaringBitmap>,
) -> Result<Vec<Neighbor>> {
    let filter = filter.map(|bitmap| (bitmap as &dyn RowFilter, bitmap.len() as usize));
    view(file)?
        .as_ref()
        .search(vectors, query, k, params, filter)
        .map_err(|e| Error::InvalidArgument {
            reason: format!("IVF-PQ search failed: {e}"),
        })
}

/// Every rule of the file (body CRC, lists, ids, finite floats), and that it encodes
/// exactly the rows that have a vector.
pub(super) fn verify(file: &SealedFile, present: &RoaringBitmap) -> Result<()> {
    let view = view(file)?;
    view.verify().map_err(|e| file.corrupt(0, e.to_string()))?;
    if view.as_ref().encoded() as u64 != present.len() {
        return Err(file
            .corrupt(0, "IVF-PQ index does not encode every row with a vector")
            .into());
    }
    Ok(())
}
