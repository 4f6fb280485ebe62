//! The sources a query runs over, as one version sees them: a memtable (active or
//! frozen: its rows below the version's horizon, its graph for the indexed ones and an
//! exact scan of the rest) or a sealed segment (its mapped files and indexes). The
//! executor asks each the same questions: live rows, filter bitmaps, exact distances,
//! graph or IVF-PQ search.

use std::borrow::Cow;
use std::collections::HashMap;

use roaring::RoaringBitmap;
use strata_index::ivfpq::IvfPqSearch;
use strata_index::{flat, Metric, Neighbor, TopK};

use crate::model::error::{Error, Result};
use crate::read::execute::Knn;
use crate::read::filter::RowSource;
use crate::text::Posting;
use crate::write::tables::{MemSource, SegmentSlot};

/// A memtable (the active one or a frozen one) as this version sees it.
pub(crate) struct MemtableSource<'a> {
    pub source: &'a MemSource,
    pub now_ms: u64,
}

pub(crate) struct SegmentSource<'a> {
    pub slot: &'a SegmentSlot,
    pub now_ms: u64,
}

pub(crate) trait Source: RowSource {
    /// The rows holding `keys` (their current rows; a key may be absent here).
    fn rows_of_keys(&self, keys: &[String]) -> Result<RoaringBitmap>;
    /// Rows that have a vector in the field at `position`; `None` for a field that is
    /// not a vector field.
    fn present(&self, position: u16) -> Option<Cow<'_, RoaringBitmap>>;
    /// The `k` rows of `candidates` (all with a vector) nearest to `query`, exactly.
    fn exact(
        &self,
        position: u16,
        query: &[f32],
        candidates: &RoaringBitmap,
        k: usize,
    ) -> Result<Vec<Neighbor>>;
    /// Graph search among `filter`'s rows, when the source has a graph for the field.
    fn graph_search(
        &self,
        _: &Knn,
        _: Option<&RoaringBitmap>,
    ) -> Result<Option<Vec<strata_index::Neighbor>>> {
        Ok(None)
    }
    fn has_graph(&self, _: u16) -> bool {
        false
    }
    /// IVF-PQ search among `filter`'s rows, when the source has an index for the field.
    fn ivfpq_search(
        &self,
        _: &Knn,
        _: IvfPqSearch,
        _: Option<&RoaringBitmap>,
    ) -> Result<Option<Vec<strata_index::Neighbor>>> {
        Ok(None)
    }
    /// The coarse lists of the source's IVF-PQ index for the field, if it has one.
    fn ivfpq_lists(&self, _: u16) -> Option<usize> {
        None
    }
}

impl RowSource for MemtableSource<'_> {
    fn row_count(&self) -> u64 {
        u64::from(self.source.horizon)
    }
    fn text_postings(&self, position: u16, term: &str) -> Result<Vec<Posting>> {
        Ok(self
            .source
            .memtable
            .text(position)
            .map(|text| text.postings(term, self.source.horizon))
            .unwrap_or_default())
    }
    fn text_raw_postings(&self, position: u16, word: &str) -> Result<Vec<Posting>> {
        Ok(self
            .source
            .memtable
            .text(position)
            .map(|text| text.raw_postings(word, self.source.horizon))
            .unwrap_or_default())
    }
    fn text_rows_matching(
        &self,
        position: u16,
        matches: &dyn Fn(&str) -> bool,
        stems: bool,
    ) -> Result<RoaringBitmap> {
        Ok(self
            .source
            .memtable
            .text(position)
            .map(|text| text.rows_matching(matches, stems, self.source.horizon))
            .unwrap_or_default())
    }
    fn text_length(&self, position: u16, row: u32) -> Result<u32> {
        Ok(self
            .source
            .memtable
            .text(position)
            .map_or(0, |text| text.length(row)))
    }
    fn text_total_length(&self, position: u16, rows: &RoaringBitmap) -> Result<u64> {
        Ok(self
            .source
            .memtable
            .text(position)
            .map_or(0, |text| text.total_length(rows)))
    }
    fn live(&self) -> RoaringBitmap {
        self.source.live(self.now_ms)
    }
    fn tag_rows(&self, position: u16, tag: &str) -> Result<RoaringBitmap> {
        Ok(self
            .source
            .memtable
            .tag_rows(position, tag, self.source.horizon))
    }
    fn tag_rows_matching(
        &self,
        position: u16,
        matches: &dyn Fn(&str) -> bool,
    ) -> Result<RoaringBitmap> {
        Ok(self
            .source
            .memtable
            .tag_rows_matching(position, matches, self.source.horizon))
    }
    fn numeric_rows(
        &self,
        position: u16,
        low: std::ops::Bound<f64>,
        high: std::ops::Bound<f64>,
    ) -> Result<RoaringBitmap> {
        Ok(self
            .source
            .memtable
            .numeric_rows(position, low, high, self.source.horizon))
    }
    fn distances(
        &self,
        position: u16,
        vector: &[f32],
        rows: &RoaringBitmap,
    ) -> Result<Vec<(u32, f32)>> {
        let Some(column) = self.source.memtable.column(position) else {
            return Ok(Vec::new());
        };
        Ok(rows
            .iter()
            .filter_map(|slot| Some((slot, column.metric().distance(vector, column.row(slot)?))))
            .collect())
    }
}

impl Source for MemtableSource<'_> {
    fn rows_of_keys(&self, keys: &[String]) -> Result<RoaringBitmap> {
        Ok(keys
            .iter()
            .filter_map(|key| self.source.memtable.newest_slot(key, self.source.horizon))
            .collect())
    }
    fn present(&self, position: u16) -> Option<Cow<'_, RoaringBitmap>> {
        self.source.memtable.column(position)?;
        Some(Cow::Owned(
            self.source.memtable.present(position, self.source.horizon),
        ))
    }
    fn has_graph(&self, position: u16) -> bool {
        self.source.index.graph(position).is_some() && self.source.index.indexed() > 0
    }
    /// The graph answers for the slots it holds; the newest slots, not indexed yet,
    /// are scanned exactly, and the two lists merge.
    fn graph_search(
        &self,
        knn: &Knn,
        filter: Option<&RoaringBitmap>,
    ) -> Result<Option<Vec<strata_index::Neighbor>>> {
        let (Some(graph), Some(column)) = (
            self.source.index.graph(knn.position),
            self.source.memtable.column(knn.position),
        ) else {
            return Ok(None);
        };
        let horizon = self.source.horizon;
        let indexed = self.source.index.indexed().min(horizon);
        let mut allowed = match filter {
            Some(filter) => filter.clone(),
            None => {
                let mut all = RoaringBitmap::new();
                all.insert_range(0..horizon);
                all
            }
        };
        let mut tail = allowed.clone();
        allowed.remove_range(indexed..);
        tail.remove_range(..indexed);
        // A slot that kept an earlier slot's vectors is not in the graph: its node (a
        // superseded slot, so not allowed itself) answers for it.
        let mut through: HashMap<u32, u32> = HashMap::new();
        for (slot, node) in self.source.memtable.shared_nodes(indexed) {
            if allowed.contains(slot) && !allowed.contains(node) {
                through.insert(node, slot);
            }
        }
        allowed.extend(through.keys().copied());
        let mut found = graph
            .search(column, &knn.vector, knn.k, knn.ef, Some(&allowed))
            .map_err(|e| Error::InvalidArgument {
                reason: format!("memtable graph search failed: {e}"),
            })?;
        for neighbor in &mut found {
            if let Some(slot) = through.get(&neighbor.id) {
                neighbor.id = *slot;
            }
        }
        if !tail.is_empty() {
            tail &= self.source.memtable.present(knn.position, horizon);
            found.extend(self.exact(knn.position, &knn.vector, &tail, knn.k)?);
            found.sort_by(Neighbor::cmp_by_distance);
            found.truncate(knn.k);
        }
        Ok(Some(found))
    }
    fn exact(
        &self,
        position: u16,
        query: &[f32],
        candidates: &RoaringBitmap,
        k: usize,
    ) -> Result<Vec<Neighbor>> {
        let Some(column) = self.source.memtable.column(position) else {
            return Ok(Vec::new());
        };
        let mut top = TopK::new(k);
        for id in candidates {
            let Some(row) = column.row(id) else { continue };
            let distance = column.metric().distance(query, row);
            if top.len() < k || distance < top.threshold() {
                top.push(Neighbor { id, distance });
            }
        }
        Ok(top.into_sorted_vec())
    }
}

/// Distances of `rows` that have a vector, over a row-major column.
fn distances_in(
    data: &[f32],
    dim: usize,
    metric: Metric,
    present: &RoaringBitmap,
    vector: &[f32],
    rows: &RoaringBitmap,
) -> Vec<(u32, f32)> {
    (rows & present)
        .iter()
        .filter_map(|row| {
            Some((
                row,
                metric.distance(
                    vector,
                    data.get(row as usize * dim..(row as usize + 1) * dim)?,
                ),
            ))
        })
        .collect()
}

impl RowSource for SegmentSource<'_> {
    fn row_count(&self) -> u64 {
        self.slot.segment.row_count() as u64
    }
    fn text_postings(&self, position: u16, term: &str) -> Result<Vec<Posting>> {
        self.slot.segment.text_postings(position, term)
    }
    fn text_raw_postings(&self, position: u16, word: &str) -> Result<Vec<Posting>> {
        self.slot.segment.text_raw_postings(position, word)
    }
    fn text_rows_matching(
        &self,
        position: u16,
        matches: &dyn Fn(&str) -> bool,
        stems: bool,
    ) -> Result<RoaringBitmap> {
        self.slot
            .segment
            .text_rows_matching(position, matches, stems)
    }
    fn text_length(&self, position: u16, row: u32) -> Result<u32> {
        self.slot.segment.text_length(position, row)
    }
    fn text_total_length(&self, position: u16, rows: &RoaringBitmap) -> Result<u64> {
        self.slot.segment.text_total_length(position, rows)
    }
    fn text_lengths(&self, position: u16, rows: &[u32]) -> Result<Vec<u32>> {
        self.slot.segment.text_lengths(position, rows)
    }
    fn live(&self) -> RoaringBitmap {
        let mut live = RoaringBitmap::new();
        live.insert_range(0..self.slot.segment.row_count());
        live - self.slot.overlay.dead_rows(&self.slot.segment, self.now_ms)
    }
    fn tag_rows(&self, position: u16, tag: &str) -> Result<RoaringBitmap> {
        self.slot.segment.tag_rows(position, tag)
    }
    fn tag_rows_matching(
        &self,
        position: u16,
        matches: &dyn Fn(&str) -> bool,
    ) -> Result<RoaringBitmap> {
        self.slot.segment.tag_rows_matching(position, matches)
    }
    fn numeric_rows(
        &self,
        position: u16,
        low: std::ops::Bound<f64>,
        high: std::ops::Bound<f64>,
    ) -> Result<RoaringBitmap> {
        self.slot.segment.numeric_rows(position, low, high)
    }
    fn distances(
        &self,
        position: u16,
        vector: &[f32],
        rows: &RoaringBitmap,
    ) -> Result<Vec<(u32, f32)>> {
        let segment = &self.slot.segment;
        Ok(
            match (
                segment.metric(position),
                segment.vectors(position)?,
                segment.present(position),
            ) {
                (Some(metric), Some((data, dim)), Some(present)) => {
                    distances_in(data, dim, metric, present, vector, rows)
                }
                _ => Vec::new(),
            },
        )
    }
    fn range_by_graph(
        &self,
        position: u16,
        vector: &[f32],
        radius: f32,
        epsilon: f32,
        rows: &RoaringBitmap,
    ) -> Result<Option<Vec<(u32, f32)>>> {
        self.slot
            .segment
            .range_graph(position, vector, radius, epsilon, rows)
    }
}

impl Source for SegmentSource<'_> {
    fn rows_of_keys(&self, keys: &[String]) -> Result<RoaringBitmap> {
        let mut rows = RoaringBitmap::new();
        for key in keys {
            if let Some(row) = self.slot.segment.find(key)? {
                rows.insert(row);
            }
        }
        Ok(rows)
    }
    fn present(&self, position: u16) -> Option<Cow<'_, RoaringBitmap>> {
        self.slot.segment.present(position).map(Cow::Borrowed)
    }
    fn exact(
        &self,
        position: u16,
        query: &[f32],
        candidates: &RoaringBitmap,
        k: usize,
    ) -> Result<Vec<Neighbor>> {
        let segment = &self.slot.segment;
        Ok(
            match (segment.metric(position), segment.vectors(position)?) {
                (Some(metric), Some((data, dim))) => {
                    flat::search(metric, query, data, dim, candidates.iter(), k)
                }
                _ => Vec::new(),
            },
        )
    }
    fn graph_search(
        &self,
        knn: &Knn,
        filter: Option<&RoaringBitmap>,
    ) -> Result<Option<Vec<strata_index::Neighbor>>> {
        self.slot
            .segment
            .search_graph(knn.position, &knn.vector, knn.k, knn.ef, filter)
    }
    fn has_graph(&self, position: u16) -> bool {
        self.slot.segment.has_graph(position)
    }
    fn ivfpq_search(
        &self,
        knn: &Knn,
        params: IvfPqSearch,
        filter: Option<&RoaringBitmap>,
    ) -> Result<Option<Vec<strata_index::Neighbor>>> {
        self.slot
            .segment
            .search_ivfpq(knn.position, &knn.vector, knn.k, params, filter)
    }
    fn ivfpq_lists(&self, position: u16) -> Option<usize> {
        self.slot.segment.ivfpq_lists(position)
    }
}
