//! The mutable, in-memory rows of one collection.
//!
//! Rows live in slots; a key maps to its slot. Non-vector values stay with the row;
//! each vector field has a column: row-major FLOAT32 with a bitmap of the rows that
//! have a vector, so exact search scans one contiguous array.
//!
//! Invariant: a slot is in `free` exactly when `rows[slot]` is `None`, and a vector
//! column's `present` bitmap only holds occupied slots.

use std::collections::HashMap;

use roaring::RoaringBitmap;
use strata_index::{flat, Metric, Neighbor};

use crate::codec::Record;
use crate::doc::{Doc, Value};
use crate::schema::{FieldKind, Schema};

#[derive(Debug)]
struct Row {
    key: String,
    /// Non-vector values, by schema position, sorted.
    values: Vec<(u16, Value)>,
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
    rows: Vec<Option<Row>>,
    free: Vec<u32>,
    /// One entry per schema field; `Some` for vector fields.
    columns: Vec<Option<VectorColumn>>,
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
        Memtable {
            keys: HashMap::new(),
            rows: Vec::new(),
            free: Vec::new(),
            columns,
        }
    }

    /// Live documents.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Stores `record` under `key`, replacing any earlier document of that key whole.
    /// The record was validated against the schema (or decoded and checked on replay).
    pub fn upsert(&mut self, key: String, record: Record) {
        let slot = match self.keys.get(&key) {
            Some(&slot) => slot,
            None => {
                let slot = self.free.pop().unwrap_or_else(|| {
                    self.rows.push(None);
                    (self.rows.len() - 1) as u32
                });
                self.keys.insert(key.clone(), slot);
                slot
            }
        };
        for column in self.columns.iter_mut().flatten() {
            column.present.remove(slot);
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
        self.rows[slot as usize] = Some(Row { key, values });
    }

    /// Removes `key`; returns whether it was present.
    pub fn delete(&mut self, key: &str) -> bool {
        let Some(slot) = self.keys.remove(key) else {
            return false;
        };
        for column in self.columns.iter_mut().flatten() {
            column.present.remove(slot);
        }
        self.rows[slot as usize] = None;
        self.free.push(slot);
        true
    }

    /// Whether `key` holds a document.
    pub fn contains(&self, key: &str) -> bool {
        self.keys.contains_key(key)
    }

    /// The document stored under `key`, with all its fields in schema order.
    pub fn get(&self, key: &str, schema: &Schema) -> Option<Doc> {
        let slot = *self.keys.get(key)?;
        Some(self.document(slot, schema, None))
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

    /// Exact k nearest rows to `query` by the vector field at `field`.
    pub fn knn(&self, field: usize, query: &[f32], k: usize) -> Vec<Neighbor> {
        match self.columns.get(field) {
            Some(Some(column)) => flat::search(
                column.metric,
                query,
                &column.data,
                column.dim,
                column.present.iter(),
                k,
            ),
            _ => Vec::new(),
        }
    }
}
