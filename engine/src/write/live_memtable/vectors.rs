//! A vector field's column: one row per slot, row-major FLOAT32, addressed by slot.
//!
//! Every slot gets a row, zeros when its document has no vector in the field, so a
//! slot is its row number (the live HNSW graph's node ids are slots) and a read is
//! one address computation. Which slots have a vector is kept twice, for the two ways
//! it is asked: a flag per slot for `row`, and the (rare) slots without one, in slot
//! order, for `present`.

use roaring::RoaringBitmap;
use strata_index::Metric;

use super::arena::Arena;

/// One vector field's rows.
#[derive(Debug)]
pub(crate) struct VectorColumn {
    metric: Metric,
    data: Arena<f32>,
    /// 1 when the slot has a vector; one entry per slot, pushed after the slot's row in
    /// `data` (and its `missing` entry), so a visible flag means those are visible.
    has: Arena<u8>,
    /// Slots without a vector, ascending.
    missing: Arena<u32>,
    /// The row written for slots without a vector.
    zeros: Box<[f32]>,
}

impl VectorColumn {
    pub fn new(dim: usize, metric: Metric) -> VectorColumn {
        VectorColumn {
            metric,
            data: Arena::new(dim),
            has: Arena::new(1),
            missing: Arena::new(1),
            zeros: vec![0.0; dim].into_boxed_slice(),
        }
    }

    /// Components per vector.
    #[inline]
    pub fn dim(&self) -> usize {
        self.data.width()
    }

    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// The vector of `slot`: `None` when the slot has none in this field or is not
    /// written yet. This is what the live HNSW graph reads through its vector-source
    /// trait (`row(id)`, `dim()`), so it stays one flag check and one address.
    #[inline]
    pub fn row(&self, slot: u32) -> Option<&[f32]> {
        match self.has.get(slot as usize) {
            Some([1]) => self.data.get(slot as usize),
            _ => None,
        }
    }

    /// Slots below `horizon` that have a vector.
    pub fn present(&self, horizon: u32) -> RoaringBitmap {
        let end = horizon.min(self.has.len() as u32);
        let mut present = RoaringBitmap::new();
        present.insert_range(0..end);
        for missing in self.missing.rows_from(0) {
            if missing[0] >= end {
                break;
            }
            present.remove(missing[0]);
        }
        present
    }

    /// Appends `slot`'s vector (or its absence). One writer at a time.
    ///
    /// # Panics
    ///
    /// When `slot` is not the next slot or the vector's length is not the dimension
    /// (the caller validated the record against the schema).
    pub fn push(&self, slot: u32, vector: Option<&[f32]>) {
        assert_eq!(self.data.len(), slot as usize, "vector column out of step");
        match vector {
            Some(vector) => {
                self.data.push(vector);
            }
            None => {
                self.data.push(&self.zeros);
                self.missing.push(&[slot]);
            }
        }
        self.has.push(&[u8::from(vector.is_some())]);
    }
}
