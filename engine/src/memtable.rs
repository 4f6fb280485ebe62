//! The mutable, in-memory rows of one collection: everything written since the last
//! flush.
//!
//! Rows live in slots; a key maps to its slot. Non-vector values stay with the row;
//! each vector field has a column: row-major FLOAT32 with a bitmap of the rows that
//! have a vector, so exact search scans one contiguous array.
//!
//! Invariant: a slot is in `free` exactly when `rows[slot]` is `None`, and in
//! `occupied` exactly when it is a value of `keys`; a vector
//! column's `present` bitmap and `deadlines` only hold occupied slots.

use std::collections::{BTreeMap, HashMap};

use std::ops::Bound;

use roaring::RoaringBitmap;
use strata_index::numeric::NumericIndex;
use strata_index::tags::{split_tags, TagIndex};
use strata_index::Metric;

use crate::codec::Record;
use crate::doc::{Doc, Value};
use crate::schema::{FieldKind, Schema, TagOptions};
use crate::segment::SegmentRow;

#[derive(Debug)]
struct Row {
    key: String,
    /// Non-vector values, by schema position, sorted.
    values: Vec<(u16, Value)>,
    /// Insertion order: every upsert takes a new, larger one, as a Redis write gives
    /// the hash a new document id.
    order: u64,
}

#[derive(Debug)]
struct VectorColumn {
    dim: usize,
    metric: Metric,
    data: Vec<f32>,
    present: RoaringBitmap,
}

/// The rows of one collection held in memory.
#[derive(Debug)]
pub(crate) struct Memtable {
    keys: HashMap<String, u32>,
    /// The slots in `keys`, as a bitmap: every query starts from it.
    occupied: RoaringBitmap,
    rows: Vec<Option<Row>>,
    free: Vec<u32>,
    /// One entry per schema field; `Some` for vector fields.
    columns: Vec<Option<VectorColumn>>,
    /// Expiry of the slots that have one, in ms since the Unix epoch.
    deadlines: BTreeMap<u32, u64>,
    /// Bytes written into the memtable since it was created; the flush trigger.
    bytes_written: usize,
    /// One entry per schema field: the tag index of TAG fields.
    tag_indexes: Vec<Option<(TagOptions, TagIndex)>>,
    /// One entry per schema field: the numeric index of NUMERIC fields.
    numeric_indexes: Vec<Option<NumericIndex>>,
    /// The insertion order the next upsert takes; above every older row's.
    next_order: u64,
}

impl Memtable {
    pub fn new(schema: &Schema) -> Memtable {
        let columns = schema
            .fields()
            .iter()
            .map(|field| match field.kind {
                FieldKind::Vector(vector) => Some(VectorColumn {
                    dim: vector.dim,
                    metric: vector.metric,
                    data: Vec::new(),
                    present: RoaringBitmap::new(),
                }),
                _ => None,
            })
            .collect();
        let tag_indexes = schema
            .fields()
            .iter()
            .map(|field| match field.kind {
                FieldKind::Tag(options) => Some((options, TagIndex::new())),
                _ => None,
            })
            .collect();
        let numeric_indexes = schema
            .fields()
            .iter()
            .map(|field| matches!(field.kind, FieldKind::Numeric).then(NumericIndex::new))
            .collect();
        Memtable {
            keys: HashMap::new(),
            occupied: RoaringBitmap::new(),
            rows: Vec::new(),
            free: Vec::new(),
            columns,
            deadlines: BTreeMap::new(),
            bytes_written: 0,
            tag_indexes,
            numeric_indexes,
            next_order: 1,
        }
    }

    /// The insertion order the next upsert takes.
    pub fn next_order(&self) -> u64 {
        self.next_order
    }

    /// Makes later upserts order after `order` (the newest row of older sources).
    pub fn order_after(&mut self, order: u64) {
        self.next_order = self.next_order.max(order.saturating_add(1));
    }

    /// The insertion order of the document in `slot`.
    pub fn order(&self, slot: u32) -> Option<u64> {
        Some(self.rows.get(slot as usize)?.as_ref()?.order)
    }

    /// Adds (`insert`) or removes the field-index entries of `values` for `slot`.
    fn index_values(&mut self, slot: u32, values: &[(u16, Value)], insert: bool) {
        for (field, value) in values {
            match value {
                Value::Tag(raw) => {
                    if let Some(Some((options, index))) = self.tag_indexes.get_mut(*field as usize)
                    {
                        let tags = split_tags(raw, options.separator, options.case_sensitive);
                        if insert {
                            index.insert(slot, tags.iter().map(String::as_str));
                        } else {
                            index.remove(slot, tags.iter().map(String::as_str));
                        }
                    }
                }
                Value::Numeric(number) => {
                    if let Some(Some(index)) = self.numeric_indexes.get_mut(*field as usize) {
                        if insert {
                            index.insert(slot, *number);
                        } else {
                            index.remove(slot);
                        }
                    }
                }
                Value::Text(_) | Value::Vector(_) => {}
            }
        }
    }

    /// Slots whose TAG field at `position` holds `tag` (normalised).
    pub fn tag_rows(&self, position: u16, tag: &str) -> RoaringBitmap {
        match self.tag_indexes.get(position as usize) {
            Some(Some((_, index))) => index.rows(tag).cloned().unwrap_or_default(),
            _ => RoaringBitmap::new(),
        }
    }

    /// Slots whose TAG field at `position` holds a tag that `matches` accepts.
    pub fn tag_rows_matching(
        &self,
        position: u16,
        matches: &dyn Fn(&str) -> bool,
    ) -> RoaringBitmap {
        let mut rows = RoaringBitmap::new();
        if let Some(Some((_, index))) = self.tag_indexes.get(position as usize) {
            for (tag, slots) in index.iter() {
                if matches(tag) {
                    rows |= slots;
                }
            }
        }
        rows
    }

    /// Slots whose NUMERIC field at `position` lies in the range.
    pub fn numeric_rows(&self, position: u16, low: Bound<f64>, high: Bound<f64>) -> RoaringBitmap {
        match self.numeric_indexes.get(position as usize) {
            Some(Some(index)) => index.range(low, high),
            _ => RoaringBitmap::new(),
        }
    }

    /// Occupied slots whose document has not expired at `now_ms`.
    pub fn live(&self, now_ms: u64) -> RoaringBitmap {
        let mut live = self.occupied.clone();
        for (slot, deadline) in &self.deadlines {
            if *deadline <= now_ms {
                live.remove(*slot);
            }
        }
        live
    }

    /// The vector column at `position`: data, dimension, metric and presence.
    pub fn column(&self, position: u16) -> Option<(&[f32], usize, Metric, &RoaringBitmap)> {
        match self.columns.get(position as usize) {
            Some(Some(column)) => Some((&column.data, column.dim, column.metric, &column.present)),
            _ => None,
        }
    }

    /// Documents held, expired or not.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Bytes written since creation.
    pub fn bytes_written(&self) -> usize {
        self.bytes_written
    }

    /// Stores `record` under `key`, replacing any earlier document of that key whole.
    /// The record was validated against the schema (or decoded and checked on replay).
    pub fn upsert(&mut self, key: String, record: Record, deadline: Option<u64>) {
        self.bytes_written += key.len()
            + record
                .values
                .iter()
                .map(|(_, v)| v.stored_bytes())
                .sum::<usize>();
        let slot = match self.keys.get(&key) {
            Some(&slot) => slot,
            None => {
                let slot = self.free.pop().unwrap_or_else(|| {
                    self.rows.push(None);
                    (self.rows.len() - 1) as u32
                });
                self.keys.insert(key.clone(), slot);
                self.occupied.insert(slot);
                slot
            }
        };
        for column in self.columns.iter_mut().flatten() {
            column.present.remove(slot);
        }
        if let Some(Some(old)) = self.rows.get_mut(slot as usize).map(Option::take) {
            self.index_values(slot, &old.values, false);
        }
        let mut values = Vec::with_capacity(record.values.len());
        for (field, value) in record.values {
            match (value, self.columns.get_mut(field as usize)) {
                (Value::Vector(vector), Some(Some(column))) => {
                    let start = slot as usize * column.dim;
                    if column.data.len() < start + column.dim {
                        column.data.resize(start + column.dim, 0.0);
                    }
                    column.data[start..start + column.dim].copy_from_slice(&vector);
                    column.present.insert(slot);
                }
                (value, _) => values.push((field, value)),
            }
        }
        match deadline {
            Some(deadline) => self.deadlines.insert(slot, deadline),
            None => self.deadlines.remove(&slot),
        };
        self.index_values(slot, &values, true);
        let order = self.next_order;
        self.next_order += 1;
        self.rows[slot as usize] = Some(Row { key, values, order });
    }

    /// Removes `key`; returns whether it was present.
    pub fn delete(&mut self, key: &str) -> bool {
        let Some(slot) = self.keys.remove(key) else {
            return false;
        };
        self.occupied.remove(slot);
        for column in self.columns.iter_mut().flatten() {
            column.present.remove(slot);
        }
        self.deadlines.remove(&slot);
        if let Some(Some(old)) = self.rows.get_mut(slot as usize).map(Option::take) {
            self.index_values(slot, &old.values, false);
        }
        self.free.push(slot);
        true
    }

    /// The slot holding `key`.
    pub fn slot(&self, key: &str) -> Option<u32> {
        self.keys.get(key).copied()
    }

    /// The expiry of the document in `slot`.
    pub fn deadline(&self, slot: u32) -> Option<u64> {
        self.deadlines.get(&slot).copied()
    }

    /// Sets or clears (`None`) the expiry of the document in `slot`.
    pub fn set_deadline(&mut self, slot: u32, deadline: Option<u64>) {
        if self.rows.get(slot as usize).is_some_and(Option::is_some) {
            match deadline {
                Some(deadline) => self.deadlines.insert(slot, deadline),
                None => self.deadlines.remove(&slot),
            };
        }
    }

    /// Documents that have expired at `now_ms`.
    pub fn expired_count(&self, now_ms: u64) -> usize {
        self.deadlines
            .values()
            .filter(|deadline| **deadline <= now_ms)
            .count()
    }

    /// Keys of documents expired at `now_ms`, at most `limit` of them.
    pub fn expired_keys(&self, now_ms: u64, limit: usize) -> Vec<String> {
        self.deadlines
            .iter()
            .filter(|(_, deadline)| **deadline <= now_ms)
            .filter_map(|(slot, _)| self.key(*slot).map(str::to_string))
            .take(limit)
            .collect()
    }

    /// The key of an occupied slot.
    pub fn key(&self, slot: u32) -> Option<&str> {
        self.rows
            .get(slot as usize)?
            .as_ref()
            .map(|row| row.key.as_str())
    }

    /// The document in `slot`, restricted to the fields whose positions `projection`
    /// lists (all fields when `None`), in schema order.
    pub fn document(&self, slot: u32, schema: &Schema, projection: Option<&[usize]>) -> Doc {
        let mut doc = Doc::new();
        let Some(Some(row)) = self.rows.get(slot as usize) else {
            return doc;
        };
        let wanted = |field: usize| projection.is_none_or(|fields| fields.contains(&field));
        let mut stored = row.values.iter().peekable();
        for (position, field) in schema.fields().iter().enumerate() {
            if let Some((_, value)) = stored.next_if(|(index, _)| *index as usize == position) {
                if wanted(position) {
                    doc = doc.with(&field.name, value.clone());
                }
                continue;
            }
            if let Some(Some(column)) = self.columns.get(position) {
                if wanted(position) && column.present.contains(slot) {
                    let start = slot as usize * column.dim;
                    doc = doc.vector(&field.name, column.data[start..start + column.dim].to_vec());
                }
            }
        }
        doc
    }

    /// Every document, as rows to write into a segment, in slot order.
    pub fn segment_rows(&self) -> Vec<SegmentRow<'_>> {
        let mut rows = Vec::with_capacity(self.keys.len());
        for (slot, row) in self.rows.iter().enumerate() {
            let Some(row) = row else { continue };
            let slot = slot as u32;
            let vectors = self
                .columns
                .iter()
                .flatten()
                .map(|column| {
                    column.present.contains(slot).then(|| {
                        let start = slot as usize * column.dim;
                        &column.data[start..start + column.dim]
                    })
                })
                .collect();
            rows.push(SegmentRow {
                key: &row.key,
                values: row
                    .values
                    .iter()
                    .filter_map(|(field, value)| {
                        Some((*field, crate::segment::stored_value(value)?))
                    })
                    .collect(),
                vectors,
                deadline: self.deadline(slot),
                order: row.order,
            });
        }
        rows
    }
}
