//! A segment's vector columns and the indexes over them: the mapped FLOAT32 rows,
//! HNSW graphs (k-NN and VECTOR_RANGE walks) and IVF-PQ lists.

use roaring::RoaringBitmap;
use strata_index::hnsw::{HnswIndex, HnswView, RowFilter};
use strata_index::ivfpq::IvfPqView;
use strata_index::Neighbor;

use super::{cast_floats, Column, Segment, RANGE_WALK_MIN_ROWS};
use crate::model::error::{Error, Result};

impl Segment {
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
}
