//! A collection's data: the memtable and the sealed segments with their overlays.
//!
//! Invariant: a key has at most one row that is not deleted, across the memtable and
//! every segment. An upsert marks any older row of its key deleted in that segment's
//! overlay before it writes the memtable, so readers never see two versions.
//! Invariant: the `apply_*` methods do not look at the clock, so replaying the WAL
//! rebuilds exactly the state the writes built; expiry is decided at read time.

use std::sync::Arc;

use crate::codec::Record;
use crate::doc::Doc;
use crate::error::Result;
use crate::memtable::Memtable;
use crate::overlay::Overlay;
use crate::schema::{FieldKind, Schema};
use crate::segment::Segment;

/// A sealed segment and what changed about its rows since it was written.
#[derive(Debug)]
pub(crate) struct SegmentSlot {
    pub segment: Arc<Segment>,
    pub overlay: Overlay,
    /// Version of the persisted `state-<version>` file, 0 for none.
    pub state_version: u64,
    /// Body checksum of that file, for the manifest.
    pub state_crc: u32,
    /// Whether `overlay` changed since it was persisted.
    pub dirty: bool,
}

/// Where a key's current row lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Location {
    Memtable(u32),
    Segment(usize, u32),
}

/// The memtable and segments of one collection.
#[derive(Debug)]
pub(crate) struct Tables {
    pub memtable: Memtable,
    /// Oldest first.
    pub segments: Vec<SegmentSlot>,
}

impl Tables {
    pub fn new(schema: &Schema) -> Tables {
        Tables {
            memtable: Memtable::new(schema),
            segments: Vec::new(),
        }
    }

    /// The key's row that is not deleted, expired or not.
    pub fn locate(&self, key: &str) -> Result<Option<Location>> {
        if let Some(slot) = self.memtable.slot(key) {
            return Ok(Some(Location::Memtable(slot)));
        }
        for (index, slot) in self.segments.iter().enumerate().rev() {
            if let Some(row) = slot.segment.find(key)? {
                if !slot.overlay.deleted.contains(row) {
                    return Ok(Some(Location::Segment(index, row)));
                }
            }
        }
        Ok(None)
    }

    /// The deadline in force at a location.
    pub fn deadline(&self, location: Location) -> Option<u64> {
        match location {
            Location::Memtable(slot) => self.memtable.deadline(slot),
            Location::Segment(index, row) => {
                let slot = &self.segments[index];
                slot.overlay.deadline(&slot.segment, row)
            }
        }
    }

    /// The key's row if it is live (not expired) at `now_ms`.
    pub fn locate_live(&self, key: &str, now_ms: u64) -> Result<Option<Location>> {
        Ok(self.locate(key)?.filter(|location| {
            self.deadline(*location)
                .is_none_or(|deadline| deadline > now_ms)
        }))
    }

    pub fn apply_upsert(
        &mut self,
        key: String,
        record: Record,
        deadline: Option<u64>,
    ) -> Result<()> {
        if let Some(Location::Segment(index, row)) = self.locate(&key)? {
            self.mark_deleted(index, row);
        }
        self.memtable.upsert(key, record, deadline);
        Ok(())
    }

    pub fn apply_delete(&mut self, key: &str) -> Result<()> {
        match self.locate(key)? {
            Some(Location::Memtable(_)) => {
                self.memtable.delete(key);
            }
            Some(Location::Segment(index, row)) => self.mark_deleted(index, row),
            None => {}
        }
        Ok(())
    }

    pub fn apply_deadline(&mut self, key: &str, deadline: Option<u64>) -> Result<()> {
        match self.locate(key)? {
            Some(Location::Memtable(slot)) => self.memtable.set_deadline(slot, deadline),
            Some(Location::Segment(index, row)) => {
                let slot = &mut self.segments[index];
                slot.overlay.deadlines.insert(row, deadline);
                slot.dirty = true;
            }
            None => {}
        }
        Ok(())
    }

    fn mark_deleted(&mut self, index: usize, row: u32) {
        let slot = &mut self.segments[index];
        slot.overlay.deleted.insert(row);
        slot.overlay.deadlines.remove(&row);
        slot.dirty = true;
    }

    /// The document under `key` if it is live at `now_ms`.
    pub fn get(&self, key: &str, schema: &Schema, now_ms: u64) -> Result<Option<Doc>> {
        match self.locate_live(key, now_ms)? {
            Some(location) => self.document(location, schema, None).map(Some),
            None => Ok(None),
        }
    }

    /// Live documents at `now_ms`.
    pub fn len(&self, now_ms: u64) -> usize {
        let memtable = self.memtable.len() - self.memtable.expired_count(now_ms);
        let sealed: u64 = self
            .segments
            .iter()
            .map(|slot| {
                slot.segment.row_count() as u64
                    - slot.overlay.dead_rows(&slot.segment, now_ms).len()
            })
            .sum();
        memtable + sealed as usize
    }

    /// The document at `location`, restricted to the fields `projection` lists.
    pub fn document(
        &self,
        location: Location,
        schema: &Schema,
        projection: Option<&[usize]>,
    ) -> Result<Doc> {
        match location {
            Location::Memtable(slot) => Ok(self.memtable.document(slot, schema, projection)),
            Location::Segment(index, row) => {
                segment_document(&self.segments[index].segment, row, schema, projection)
            }
        }
    }

    /// The key at `location`.
    pub fn key(&self, location: Location) -> Result<String> {
        match location {
            Location::Memtable(slot) => Ok(self.memtable.key(slot).unwrap_or_default().to_string()),
            Location::Segment(index, row) => Ok(self.segments[index].segment.key(row)?.to_string()),
        }
    }

    /// Keys of documents expired at `now_ms`, at most `limit`.
    pub fn expired_keys(&self, now_ms: u64, limit: usize) -> Result<Vec<String>> {
        let mut keys = self.memtable.expired_keys(now_ms, limit);
        for slot in &self.segments {
            if keys.len() >= limit {
                break;
            }
            let dead = slot.overlay.dead_rows(&slot.segment, now_ms);
            for row in dead
                .iter()
                .filter(|row| !slot.overlay.deleted.contains(*row))
                .take(limit - keys.len())
            {
                keys.push(slot.segment.key(row)?.to_string());
            }
        }
        Ok(keys)
    }
}

/// A segment row as a document, restricted to `projection`.
pub(crate) fn segment_document(
    segment: &Segment,
    row: u32,
    schema: &Schema,
    projection: Option<&[usize]>,
) -> Result<Doc> {
    let wanted = |field: usize| projection.is_none_or(|fields| fields.contains(&field));
    let stored = segment.stored_row(row)?;
    let mut values = stored.values.into_iter().peekable();
    let mut doc = Doc::new();
    for (position, field) in schema.fields().iter().enumerate() {
        if let Some((_, value)) = values.next_if(|(index, _)| *index as usize == position) {
            if wanted(position) {
                doc = doc.with(&field.name, value.into_value());
            }
            continue;
        }
        if matches!(field.kind, FieldKind::Vector(_)) && wanted(position) {
            if let Some(vector) = segment.vector(position as u16, row)? {
                doc = doc.vector(&field.name, vector.to_vec());
            }
        }
    }
    Ok(doc)
}
