//! The `ivfpq-<position>` file of an IVF_PQ vector field: trained and written with
//! the segment (at flush and at merge), opened with O(1) header checks, searched from
//! the map. Never retrained at open.
//!
//! A segment with fewer than [`IVF_PQ_MIN_ROWS`] rows with a vector gets no file and
//! is searched exactly (the reason is at the constant). A merge starts from its
//! largest input's index: when the other inputs' rows are quantised about as well as
//! that input's own rows outside its training sample
//! (`strata_index::ivfpq::IvfPqIndex::build_reusing`: mean error of 1,024 sampled rows
//! of each side within 10%), the merged rows are encoded with its centroids and
//! codebooks and nothing is trained; otherwise the merge trains afresh.
//!
//! The file is block-checked (FORMAT.md, "Block-checked files"): open reads the block
//! table and the header's block, the first search checks the rest, so damage anywhere
//! is `Corrupt` naming the file, never a lost candidate.

use std::borrow::Cow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use roaring::RoaringBitmap;
use strata_index::hnsw::RowFilter;
use strata_index::ivfpq::{
    IvfPqHeader, IvfPqIndex, IvfPqParams, IvfPqSearch, IvfPqView, Seed, HEADER_LEN,
};
use strata_index::{Neighbor, TopK};
use strata_storage::blocks::BlockedFile;
use strata_storage::fs::Access;
use strata_storage::sealed::SealedFile;
use strata_storage::FileSystem;

use super::format::FileKind;
use super::writer::{write_file, GraphSeed, SeedGraphs, SegmentRow};
use super::FileRecord;
use crate::model::error::{Error, Result};
use crate::model::schema::{FieldKind, Metric, Schema, VectorIndex, IVF_PQ_MIN_ROWS};

/// Trains and writes the IVF-PQ file of the vector field at `position` (the
/// `index`-th vector field), when the field asks for one and enough rows have a
/// vector. Reads the vectors back from their file, already written and fsynced, so
/// the build needs the codes' memory, not a second copy of the column. A merge's
/// `seed` lends its segment's index for the field, reused when the rows fit it.
pub(super) fn write(
    fs: &dyn FileSystem,
    dir: &Path,
    schema: &Schema,
    (position, index): (u16, usize),
    rows: &[SegmentRow],
    seed: Option<&GraphSeed>,
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
    let params = IvfPqParams::new(lists, subquantizers);
    let input = match seed {
        Some(GraphSeed {
            graphs: SeedGraphs::Segment(segment),
            map,
        }) => segment.ivfpq_view(position)?.map(|view| {
            let encoded = segment.present(position).map(|present| {
                present
                    .iter()
                    .map(|row| map.get(row as usize).copied().flatten())
                    .collect::<Vec<_>>()
            });
            (view, encoded.unwrap_or_default())
        }),
        _ => None,
    };
    let built = match &input {
        Some((view, seeded)) => IvfPqIndex::build_reusing(
            &vectors,
            options.dim,
            options.metric,
            &present,
            &params,
            threads,
            Seed {
                index: view.as_ref(),
                rows: seeded,
            },
        )
        .map(|(built, _)| built),
        None => IvfPqIndex::build(
            &vectors,
            options.dim,
            options.metric,
            &present,
            &params,
            threads,
        ),
    }
    .map_err(|e| Error::InvalidArgument {
        reason: format!("cannot build the IVF-PQ index: {e}"),
    })?;
    write_file(fs, dir, FileKind::IvfPq(position), &built.to_bytes()).map(Some)
}

/// An open `ivfpq-<position>` file. Version 2 is block-checked like the other lazily
/// read files: open checks the block table and the header's block, the first search
/// checks every block. Version 1 (before the block table) is still read: its body
/// checksum is checked whole on first use instead, so damage to either surfaces as
/// `Corrupt` naming the file before any byte of it is used.
#[derive(Debug)]
pub(super) struct IvfPqFile {
    bytes: Checked,
    /// Coarse lists, from the header checked at open: the planner asks on every query.
    lists: usize,
}

#[derive(Debug)]
enum Checked {
    Blocked(BlockedFile),
    Whole {
        file: SealedFile,
        /// Set once the body matched its checksum.
        checked: AtomicBool,
    },
}

impl Checked {
    /// Every byte of the index, checked (once per open file: a search reads the
    /// centroids, the codebooks and lists no one can name before the query).
    fn all(&self) -> Result<&[u8]> {
        match self {
            Checked::Blocked(file) => Ok(file.all()?),
            Checked::Whole { file, checked } => {
                if !checked.load(Ordering::Acquire) {
                    file.verify()?;
                    checked.store(true, Ordering::Release);
                }
                Ok(file.body())
            }
        }
    }

    fn corrupt(&self, reason: String) -> Error {
        match self {
            Checked::Blocked(file) => file.corrupt(0, reason).into(),
            Checked::Whole { file, .. } => file.corrupt(0, reason).into(),
        }
    }
}

impl IvfPqFile {
    /// Wraps a file whose footer was checked at `version` (the current one, or the
    /// [`FileKind::legacy_version`]), and checks its header: an index over `rows` rows
    /// of `dim` floats under `metric`. O(1) in the file's size.
    pub(super) fn open(
        file: SealedFile,
        version: u32,
        rows: usize,
        dim: usize,
        metric: Metric,
    ) -> Result<IvfPqFile> {
        let bytes = if version == FileKind::IvfPq(0).version() {
            Checked::Blocked(BlockedFile::from_sealed(file)?)
        } else {
            Checked::Whole {
                file,
                checked: AtomicBool::new(false),
            }
        };
        let header = match &bytes {
            Checked::Blocked(file) => {
                let header = file.get(0..file.len().min(HEADER_LEN))?;
                IvfPqHeader::read(header.unwrap_or_default(), file.len())
            }
            // The header has its own CRC, which `read` checks; the rest of the body
            // waits for its first use.
            Checked::Whole { file, .. } => IvfPqHeader::read(file.body(), file.body().len()),
        }
        .map_err(|e| bytes.corrupt(e.to_string()))?;
        if header.len() != rows || header.dim() != dim || header.metric() != metric {
            return Err(bytes.corrupt(
                "IVF-PQ index does not match the segment's rows, dimension or metric".into(),
            ));
        }
        Ok(IvfPqFile {
            lists: header.nlist(),
            bytes,
        })
    }

    /// The index, every byte checked (once per open file).
    pub(super) fn view(&self) -> Result<IvfPqView<'_>> {
        IvfPqView::open(self.bytes.all()?).map_err(|e| self.bytes.corrupt(e.to_string()))
    }

    /// Coarse lists the index was trained with.
    pub(super) fn lists(&self) -> usize {
        self.lists
    }

    /// The `k` nearest rows among `filter`'s (all encoded rows when `None`), re-ranked
    /// exactly over the vectors `vector` reads row by row (`None`: the row has none).
    /// The first call checks every byte of this file; the vectors are read (and their
    /// blocks checked) for the `k * REFINE` candidates only, so a column larger than
    /// memory is not read whole by the first query.
    pub(super) fn search<'a>(
        &self,
        vector: impl Fn(u32) -> Result<Option<&'a [f32]>>,
        query: &[f32],
        k: usize,
        params: IvfPqSearch,
        filter: Option<&RoaringBitmap>,
    ) -> Result<Vec<Neighbor>> {
        let filter = filter.map(|bitmap| (bitmap as &dyn RowFilter, bitmap.len() as usize));
        let view = self.view()?;
        let index = view.as_ref();
        let candidates =
            index
                .approximate(query, k, params, filter)
                .map_err(|e| Error::InvalidArgument {
                    reason: format!("IVF-PQ search failed: {e}"),
                })?;
        let mut top = TopK::new(k);
        for candidate in candidates {
            if let Some(row) = vector(candidate.id)? {
                top.push(Neighbor {
                    id: candidate.id,
                    distance: index.metric().distance(query, row),
                });
            }
        }
        Ok(top.into_sorted_vec())
    }

    /// Every rule of the file (checksums, lists, ids, finite floats), and that it
    /// encodes exactly the rows that have a vector.
    pub(super) fn verify(&self, present: &RoaringBitmap) -> Result<()> {
        if let Checked::Blocked(file) = &self.bytes {
            file.verify()?;
        }
        let view = self.view()?;
        view.verify()
            .map_err(|e| self.bytes.corrupt(e.to_string()))?;
        if view.as_ref().encoded() as u64 != present.len() {
            return Err(self
                .bytes
                .corrupt("IVF-PQ index does not encode every row with a vector".into()));
        }
        Ok(())
    }
}
