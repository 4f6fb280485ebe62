//! The append-only memtable of the live write path (ARCHITECTURE.md, "The memtable is
//! append-only"): one writer appends rows, any number of readers read them without a
//! lock, each at its own horizon.
//!
//! Rows get slots `0, 1, 2, ...` in append order and are never moved, changed or
//! removed: an upsert of an existing key appends a new slot, and deletions and TTL
//! changes live in the version's overlay for this memtable, not here. A reader passes
//! the horizon of the version it loaded, and sees exactly the slots below it: every
//! structure is fully written before [`LiveMemtable::append`] returns, and the caller
//! publishes a horizon above the slot only after that.
//!
//! Seams: `arena` (chunked append-only rows with stable addresses), `vectors` (a
//! vector field's column), `fields` (TAG and NUMERIC postings); rows and the key map
//! are here.
//!
//! Concurrency: `append` needs one writer at a time (the caller holds the collection's
//! writer mutex) for its slots to be right. Two concurrent writers would still be
//! memory-safe (every structure is thread-safe, and an arena refuses a second
//! concurrent push with a panic), but could panic or mis-chain keys. Reader methods take no lock a writer holds: rows are in a
//! lock-free append-only vector, keys and tag ids in a lock-free hash map, postings in
//! lock-free skiplists, vectors in `arena`s.

mod arena;
mod fields;
mod vectors;

#[cfg(test)]
mod tests;

use std::ops::Bound;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use roaring::RoaringBitmap;

use crate::model::codec::Record;
use crate::model::doc::{Doc, Value};
use crate::model::schema::{FieldKind, Schema};
use crate::segment::{stored_value, SegmentRow};

use crate::text::memtable::TextPostings;
use crate::text::Analyzer;
use arena::Arena;
use fields::{NumericPostings, TagPostings};
pub(crate) use vectors::VectorColumn;

/// One appended document.
#[derive(Debug)]
struct Row {
    key: Box<str>,
    /// Non-vector values, by schema position, ascending.
    values: Box<[(u16, Value)]>,
    /// Expiry given at append, in ms since the Unix epoch.
    deadline: Option<u64>,
    /// The slot this key had before this one, if it had one in this memtable.
    previous: Option<u32>,
    /// Insertion order (SORTBY ties follow it): given by the writer, larger for every
    /// later write in the collection.
    order: u64,
    /// The slot whose HNSW node this row's vectors are: its own, or the earliest slot
    /// of its key in this memtable from which every vector is unchanged.
    node: u32,
}

/// A collection's live rows: append-only, shared as `Arc<LiveMemtable>` by the writer
/// and any number of readers.
#[derive(Debug)]
pub(crate) struct LiveMemtable {
    rows: boxcar::Vec<Row>,
    /// Each key's newest slot. Updated only after the slot's row is in `rows`, so a
    /// reader that sees a slot here can follow its `previous` chain.
    keys: papaya::HashMap<Box<str>, AtomicU32>,
    /// One entry per schema field; `Some` for vector fields.
    columns: Vec<Option<VectorColumn>>,
    /// One entry per schema field; `Some` for TAG fields.
    tags: Vec<Option<TagPostings>>,
    /// One entry per schema field; `Some` for NUMERIC fields.
    numerics: Vec<Option<NumericPostings>>,
    /// One entry per schema field; `Some` for TEXT fields.
    texts: Vec<Option<TextPostings>>,
    /// `(slot, deadline)` of the slots appended with a deadline, ascending by slot.
    deadlines: Arena<(u32, u64)>,
    /// `(slot, node)` of the slots that share an earlier slot's graph node, ascending
    /// by slot.
    shared: Arena<(u32, u32)>,
    /// Slots appended; stored last in `append`.
    appended: AtomicU32,
    /// Key and stored value bytes appended: the flush trigger.
    bytes_written: AtomicUsize,
}

impl LiveMemtable {
    /// An empty memtable for `schema`, sized for about `capacity_rows` rows (a hint:
    /// it grows past it).
    pub fn new(schema: &Schema, capacity_rows: usize) -> LiveMemtable {
        let fields = schema.fields();
        LiveMemtable {
            rows: boxcar::Vec::with_capacity(capacity_rows),
            keys: papaya::HashMap::with_capacity(capacity_rows),
            columns: fields
                .iter()
                .map(|field| match field.kind {
                    FieldKind::Vector(vector) => Some(VectorColumn::new(vector.dim, vector.metric)),
                    _ => None,
                })
                .collect(),
            tags: fields
                .iter()
                .map(|field| match field.kind {
                    FieldKind::Tag(options) => Some(TagPostings::new(options)),
                    _ => None,
                })
                .collect(),
            numerics: fields
                .iter()
                .map(|field| {
                    matches!(field.kind, FieldKind::Numeric).then(NumericPostings::default)
                })
                .collect(),
            texts: fields
                .iter()
                .map(|field| match &field.kind {
                    FieldKind::Text(options) => Some(TextPostings::new(Analyzer::new(options))),
                    _ => None,
                })
                .collect(),
            deadlines: Arena::new(1),
            shared: Arena::new(1),
            appended: AtomicU32::new(0),
            bytes_written: AtomicUsize::new(0),
        }
    }

    /// Appends `record` under `key` and returns its slot. The row is fully written
    /// when this returns; readers see it once the caller publishes a horizon above the
    /// slot. The record was validated against the schema this memtable was made for
    /// (or decoded and checked on replay).
    ///
    /// One writer at a time: the caller holds the collection's writer mutex.
    ///
    /// # Panics
    ///
    /// On a second concurrent writer (when detected), on a vector whose length is not its field's
    /// dimension, and past `u32::MAX` slots: all callers' bugs (a memtable is flushed
    /// long before).
    pub fn append(&self, key: String, record: Record, deadline: Option<u64>, order: u64) -> u32 {
        let slot = self.appended.load(Ordering::Relaxed);
        let bytes = key.len()
            + record
                .values
                .iter()
                .map(|(_, value)| value.stored_bytes())
                .sum::<usize>();
        let mut values = Vec::with_capacity(record.values.len());
        // Values come sorted by position; every vector column gets a row for this slot,
        // zeros when the record has no vector for it.
        let mut columns = self
            .columns
            .iter()
            .enumerate()
            .filter_map(|(position, column)| Some((position, column.as_ref()?)))
            .peekable();
        for (field, value) in record.values {
            while let Some((_, column)) =
                columns.next_if(|(position, _)| *position < field as usize)
            {
                column.push(slot, None);
            }
            match value {
                Value::Vector(vector) => {
                    match columns.next_if(|(position, _)| *position == field as usize) {
                        Some((_, column)) => column.push(slot, Some(&vector)),
                        None => values.push((field, Value::Vector(vector))),
                    }
                }
                value => values.push((field, value)),
            }
        }
        for (_, column) in columns {
            column.push(slot, None);
        }
        for (field, value) in &values {
            match value {
                Value::Tag(raw) => {
                    if let Some(Some(tags)) = self.tags.get(*field as usize) {
                        tags.insert(slot, raw);
                    }
                }
                Value::Numeric(number) => {
                    if let Some(Some(numerics)) = self.numerics.get(*field as usize) {
                        numerics.insert(slot, *number);
                    }
                }
                Value::Text(_) | Value::Vector(_) | Value::Json(_) => {}
            }
        }
        // Every slot gets an entry in every TEXT field's postings (empty without text).
        for (position, texts) in self.texts.iter().enumerate() {
            if let Some(texts) = texts {
                let text = values.iter().find_map(|(field, value)| match value {
                    Value::Text(text) if *field as usize == position => Some(text.as_str()),
                    _ => None,
                });
                texts.insert(slot, text);
            }
        }
        if let Some(deadline) = deadline {
            self.deadlines.push(&[(slot, deadline)]);
        }
        let keys = self.keys.pin();
        let newest = keys.get(key.as_str());
        let previous = newest.map(|newest| newest.load(Ordering::Relaxed));
        // An update that keeps every vector (a JSON.SET of another path, an upsert of
        // new metadata) keeps the key's graph node: the indexer skips this slot, and a
        // search finds it through the node. This is the costly part of indexing a row
        // (an HNSW insertion is hundreds of distance computations); the other fields'
        // postings are addressed by slot and are written again, a few inserts.
        let node = match previous.and_then(|previous| self.rows.get(previous as usize)) {
            Some(row) if self.same_vectors(row.node, slot) => {
                self.shared.push(&[(slot, row.node)]);
                row.node
            }
            _ => slot,
        };
        // The map needs its own copy of the key only the first time it sees it.
        let new_key = newest.is_none().then(|| Box::<str>::from(key.as_str()));
        let pushed = self.rows.push(Row {
            key: key.into_boxed_str(),
            values: values.into_boxed_slice(),
            deadline,
            previous,
            order,
            node,
        });
        assert_eq!(pushed, slot as usize, "live memtable rows out of step");
        // After the row: a reader that finds `slot` here finds its row and chain.
        if let Some(newest) = newest {
            newest.store(slot, Ordering::Release);
        } else if let Some(new_key) = new_key {
            keys.insert(new_key, AtomicU32::new(slot));
        }
        self.bytes_written.fetch_add(bytes, Ordering::Relaxed);
        self.appended.store(
            slot.checked_add(1).expect("live memtable full"),
            Ordering::Release,
        );
        slot
    }

    /// Whether `slot` has a vector and the same vectors as `earlier`, bit for bit, in
    /// every vector field.
    fn same_vectors(&self, earlier: u32, slot: u32) -> bool {
        let mut any = false;
        for column in self.columns.iter().flatten() {
            match (column.row(earlier), column.row(slot)) {
                (None, None) => {}
                (Some(a), Some(b)) if a.len() == b.len() => {
                    if a.iter().zip(b).any(|(x, y)| x.to_bits() != y.to_bits()) {
                        return false;
                    }
                    any = true;
                }
                _ => return false,
            }
        }
        any
    }

    /// The slot whose graph node holds `slot`'s vectors: `slot` itself unless an
    /// update kept the vectors of an earlier slot of its key.
    pub fn node(&self, slot: u32) -> u32 {
        self.rows.get(slot as usize).map_or(slot, |row| row.node)
    }

    /// `(slot, node)` of the slots below `below` whose vectors are an earlier slot's
    /// graph node, in slot order.
    pub fn shared_nodes(&self, below: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.shared
            .rows_from(0)
            .map(|entry| entry[0])
            .take_while(move |(slot, _)| *slot < below)
    }

    /// The segment row of each graph node, from `rows`, the segment row of each slot
    /// (`None`: not written): a node whose own slot is superseded goes to the row of
    /// the written slot that shares it, so a flush keeps the node instead of
    /// inserting that row again.
    pub fn node_rows(&self, rows: &[Option<u32>]) -> Vec<Option<u32>> {
        let mut nodes = rows.to_vec();
        for (slot, node) in self.shared_nodes(rows.len() as u32) {
            // The slot is no node itself: each row may be one node's only.
            nodes[slot as usize] = None;
            if let (Some(row), Some(None)) = (rows[slot as usize], nodes.get(node as usize)) {
                nodes[node as usize] = Some(row);
            }
        }
        nodes
    }

    /// Slots appended so far (published or not).
    pub fn appended(&self) -> u32 {
        self.appended.load(Ordering::Acquire)
    }

    /// Key and stored value bytes appended since creation: the flush trigger.
    pub fn bytes_written(&self) -> usize {
        self.bytes_written.load(Ordering::Relaxed)
    }

    /// The newest slot of `key` below `horizon`.
    pub fn newest_slot(&self, key: &str, horizon: u32) -> Option<u32> {
        let mut slot = self.keys.pin().get(key)?.load(Ordering::Acquire);
        while slot >= horizon {
            slot = self.rows.get(slot as usize)?.previous?;
        }
        Some(slot)
    }

    /// The key of `slot`, if it has been appended.
    pub fn key(&self, slot: u32) -> Option<&str> {
        self.rows.get(slot as usize).map(|row| &*row.key)
    }

    /// The insertion order given when `slot` was appended.
    pub fn order(&self, slot: u32) -> Option<u64> {
        Some(self.rows.get(slot as usize)?.order)
    }

    /// The expiry given when `slot` was appended.
    pub fn deadline(&self, slot: u32) -> Option<u64> {
        self.rows.get(slot as usize)?.deadline
    }

    /// `(slot, deadline)` of the slots below `horizon` appended with a deadline, in
    /// slot order.
    pub fn with_deadlines(&self, horizon: u32) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.deadlines
            .rows_from(0)
            .map(|entry| entry[0])
            .take_while(move |(slot, _)| *slot < horizon)
    }

    /// The document in `slot`, restricted to the fields whose positions `projection`
    /// lists (all fields when `None`), in schema order; empty for a slot not appended.
    pub fn document(&self, slot: u32, schema: &Schema, projection: Option<&[usize]>) -> Doc {
        let mut doc = Doc::new();
        let Some(row) = self.rows.get(slot as usize) else {
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
            if wanted(position)
                && let Some(vector) = self.vector(position as u16, slot)
            {
                doc = doc.vector(&field.name, vector.to_vec());
            }
        }
        doc
    }

    /// Slots below `horizon` whose TAG field at `position` holds `tag` (normalised).
    pub fn tag_rows(&self, position: u16, tag: &str, horizon: u32) -> RoaringBitmap {
        match self.tags.get(position as usize) {
            Some(Some(tags)) => tags.rows(tag, horizon),
            _ => RoaringBitmap::new(),
        }
    }

    /// Slots below `horizon` whose TAG field at `position` holds a tag `matches`
    /// accepts.
    pub fn tag_rows_matching(
        &self,
        position: u16,
        matches: &dyn Fn(&str) -> bool,
        horizon: u32,
    ) -> RoaringBitmap {
        match self.tags.get(position as usize) {
            Some(Some(tags)) => tags.rows_matching(matches, horizon),
            _ => RoaringBitmap::new(),
        }
    }

    /// Slots below `horizon` whose NUMERIC field at `position` lies in the range.
    pub fn numeric_rows(
        &self,
        position: u16,
        low: Bound<f64>,
        high: Bound<f64>,
        horizon: u32,
    ) -> RoaringBitmap {
        match self.numerics.get(position as usize) {
            Some(Some(numerics)) => numerics.rows(low, high, horizon),
            _ => RoaringBitmap::new(),
        }
    }

    /// The TEXT field at `position`'s postings, if it is one.
    pub fn text(&self, position: u16) -> Option<&TextPostings> {
        self.texts.get(position as usize)?.as_ref()
    }

    /// Slots below `horizon` that have a vector in the field at `position`.
    pub fn present(&self, position: u16, horizon: u32) -> RoaringBitmap {
        match self.column(position) {
            Some(column) => column.present(horizon),
            None => RoaringBitmap::new(),
        }
    }

    /// The vector column of the field at `position`: what exact search scans and the
    /// live HNSW graph reads (`row(slot)`, `dim()`).
    pub fn column(&self, position: u16) -> Option<&VectorColumn> {
        self.columns.get(position as usize)?.as_ref()
    }

    /// The vector of `slot` in the field at `position`, if it has one.
    #[inline]
    pub fn vector(&self, position: u16, slot: u32) -> Option<&[f32]> {
        self.column(position)?.row(slot)
    }

    /// Every slot below `horizon`, in slot order, as rows to write into a segment.
    /// Superseded and deleted slots are included: the flush drops what the overlay
    /// deletes.
    pub fn segment_rows(&self, horizon: u32) -> Vec<SegmentRow<'_>> {
        let end = horizon.min(self.appended());
        let mut rows = Vec::with_capacity(end as usize);
        for slot in 0..end {
            let Some(row) = self.rows.get(slot as usize) else {
                break;
            };
            rows.push(SegmentRow {
                key: &row.key,
                values: row
                    .values
                    .iter()
                    .filter_map(|(field, value)| Some((*field, stored_value(value)?)))
                    .collect(),
                vectors: self
                    .columns
                    .iter()
                    .flatten()
                    .map(|column| column.row(slot))
                    .collect(),
                deadline: row.deadline,
                order: row.order,
            });
        }
        rows
    }
}
