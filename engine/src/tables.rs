//! A collection's data as one version: the active memtable, the frozen memtables
//! waiting for their flush, and the sealed segments, each with what changed about its
//! rows since (its overlay).
//!
//! The writer keeps the authoritative `Tables` of a collection and publishes a clone
//! of it (cheap: `Arc`s) after every change; readers load the published one and never
//! wait for a flush, a compaction or another collection's writer.
//!
//! Invariant: a key has at most one row that is not deleted, across the memtables and
//! every segment. An upsert marks any older row of its key deleted in that source's
//! overlay before it writes the memtable, so readers never see two versions.
//! Invariant: the `apply_*` methods do not look at the clock, so replaying the WAL
//! rebuilds exactly the state the writes built; expiry is decided at read time.
//! Invariant: a frozen memtable is never written again; changes to its rows go to its
//! overlay, which its flush carries over into the segment it becomes.

use std::sync::Arc;

use parking_lot::RwLock;
use roaring::RoaringBitmap;

use crate::codec::Record;
use crate::doc::Doc;
use crate::error::Result;
use crate::memtable::Memtable;
use crate::overlay::Overlay;
use crate::schema::{FieldKind, Schema};
use crate::segment::Segment;

/// A memtable shared between the writer and readers.
pub(crate) type SharedMemtable = Arc<RwLock<Memtable>>;

/// A sealed segment and what changed about its rows since it was written.
#[derive(Clone, Debug)]
pub(crate) struct SegmentSlot {
    pub segment: Arc<Segment>,
    pub overlay: Arc<Overlay>,
    /// Version of the persisted `state-<version>` file, 0 for none.
    pub state_version: u64,
    /// Body checksum of that file, for the manifest.
    pub state_crc: u32,
    /// Whether `overlay` changed since it was persisted.
    pub dirty: bool,
}

/// A full memtable waiting for its flush: still searched and answering `get`.
#[derive(Clone, Debug)]
pub(crate) struct FrozenSlot {
    pub memtable: SharedMemtable,
    /// Deletions and TTL changes of its slots made after it froze.
    pub overlay: Arc<Overlay>,
    /// The WAL sequence number of the first record it holds.
    pub first_seq: u64,
}

/// Where a key's current row lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Location {
    Memtable(u32),
    Frozen(usize, u32),
    Segment(usize, u32),
}

/// One version of a collection's data.
#[derive(Clone, Debug)]
pub(crate) struct Tables {
    pub memtable: SharedMemtable,
    /// The WAL sequence number of the first record applied to the active memtable
    /// since it was created; `None` while it is untouched.
    pub memtable_first_seq: Option<u64>,
    /// Oldest first.
    pub frozen: Vec<FrozenSlot>,
    /// Oldest first.
    pub segments: Vec<SegmentSlot>,
}

impl Tables {
    pub fn new(schema: &Schema) -> Tables {
        Tables {
            memtable: Arc::new(RwLock::new(Memtable::new(schema))),
            memtable_first_seq: None,
            frozen: Vec::new(),
            segments: Vec::new(),
        }
    }

    /// Makes the active memtable a frozen one and starts a fresh memtable. Returns
    /// false (changing nothing) when the active memtable is empty.
    pub fn freeze(&mut self, schema: &Schema) -> bool {
        let Some(first_seq) = self.memtable_first_seq else {
            return false;
        };
        let fresh = Arc::new(RwLock::new(Memtable::new(schema)));
        let frozen = std::mem::replace(&mut self.memtable, fresh);
        self.memtable_first_seq = None;
        self.frozen.push(FrozenSlot {
            memtable: frozen,
            overlay: Arc::default(),
            first_seq,
        });
        true
    }

    /// The WAL sequence number of the oldest record held only in memory.
    pub fn oldest_unflushed_seq(&self) -> Option<u64> {
        self.frozen
            .first()
            .map(|slot| slot.first_seq)
            .or(self.memtable_first_seq)
    }

    /// Whether the memtables hold nothing and every overlay is persisted.
    pub fn is_persisted(&self) -> bool {
        self.oldest_unflushed_seq().is_none() && self.segments.iter().all(|slot| !slot.dirty)
    }

    /// The key's row that is not deleted, expired or not.
    pub fn locate(&self, key: &str) -> Result<Option<Location>> {
        if let Some(slot) = self.memtable.read_recursive().slot(key) {
            return Ok(Some(Location::Memtable(slot)));
        }
        for (index, frozen) in self.frozen.iter().enumerate().rev() {
            if let Some(slot) = frozen.memtable.read_recursive().slot(key) {
                if !frozen.overlay.deleted.contains(slot) {
                    return Ok(Some(Location::Frozen(index, slot)));
                }
            }
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
            Location::Memtable(slot) => self.memtable.read_recursive().deadline(slot),
            Location::Frozen(index, slot) => {
                let frozen = &self.frozen[index];
                let base = frozen.memtable.read_recursive().deadline(slot);
                frozen.overlay.deadline_over(slot, base)
            }
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

    /// Applies an upsert. `seq` is the WAL sequence number of its record.
    pub fn apply_upsert(
        &mut self,
        key: String,
        record: Record,
        deadline: Option<u64>,
        seq: u64,
    ) -> Result<()> {
        match self.locate(&key)? {
            Some(Location::Segment(index, row)) => self.mark_segment_deleted(index, row),
            Some(Location::Frozen(index, slot)) => self.mark_frozen_deleted(index, slot),
            Some(Location::Memtable(_)) | None => {}
        }
        self.memtable_first_seq.get_or_insert(seq);
        self.memtable.write().upsert(key, record, deadline);
        Ok(())
    }

    pub fn apply_delete(&mut self, key: &str) -> Result<()> {
        match self.locate(key)? {
            Some(Location::Memtable(_)) => {
                self.memtable.write().delete(key);
            }
            Some(Location::Frozen(index, slot)) => self.mark_frozen_deleted(index, slot),
            Some(Location::Segment(index, row)) => self.mark_segment_deleted(index, row),
            None => {}
        }
        Ok(())
    }

    pub fn apply_deadline(&mut self, key: &str, deadline: Option<u64>) -> Result<()> {
        match self.locate(key)? {
            Some(Location::Memtable(slot)) => self.memtable.write().set_deadline(slot, deadline),
            Some(Location::Frozen(index, slot)) => {
                Arc::make_mut(&mut self.frozen[index].overlay)
                    .deadlines
                    .insert(slot, deadline);
            }
            Some(Location::Segment(index, row)) => {
                let slot = &mut self.segments[index];
                Arc::make_mut(&mut slot.overlay)
                    .deadlines
                    .insert(row, deadline);
                slot.dirty = true;
            }
            None => {}
        }
        Ok(())
    }

    fn mark_segment_deleted(&mut self, index: usize, row: u32) {
        let slot = &mut self.segments[index];
        Arc::make_mut(&mut slot.overlay).delete(row);
        slot.dirty = true;
    }

    fn mark_frozen_deleted(&mut self, index: usize, slot: u32) {
        Arc::make_mut(&mut self.frozen[index].overlay).delete(slot);
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
        let memtable = {
            let memtable = self.memtable.read_recursive();
            memtable.len() - memtable.expired_count(now_ms)
        };
        let frozen: u64 = self
            .frozen
            .iter()
            .map(|frozen| frozen_live(&frozen.memtable.read_recursive(), &frozen.overlay, now_ms).len())
            .sum();
        let sealed: u64 = self
            .segments
            .iter()
            .map(|slot| {
                slot.segment.row_count() as u64
                    - slot.overlay.dead_rows(&slot.segment, now_ms).len()
            })
            .sum();
        memtable + (frozen + sealed) as usize
    }

    /// The document at `location`, restricted to the fields `projection` lists.
    pub fn document(
        &self,
        location: Location,
        schema: &Schema,
        projection: Option<&[usize]>,
    ) -> Result<Doc> {
        match location {
            Location::Memtable(slot) => {
                Ok(self.memtable.read_recursive().document(slot, schema, projection))
            }
            Location::Frozen(index, slot) => Ok(self.frozen[index]
                .memtable
                .read_recursive()
                .document(slot, schema, projection)),
            Location::Segment(index, row) => {
                segment_document(&self.segments[index].segment, row, schema, projection)
            }
        }
    }

    /// The key at `location`.
    pub fn key(&self, location: Location) -> Result<String> {
        match location {
            Location::Memtable(slot) => Ok(self
                .memtable
                .read_recursive()
                .key(slot)
                .unwrap_or_default()
                .to_string()),
            Location::Frozen(index, slot) => Ok(self.frozen[index]
                .memtable
                .read_recursive()
                .key(slot)
                .unwrap_or_default()
                .to_string()),
            Location::Segment(index, row) => Ok(self.segments[index].segment.key(row)?.to_string()),
        }
    }

    /// Keys of documents expired at `now_ms`, at most `limit`.
    pub fn expired_keys(&self, now_ms: u64, limit: usize) -> Result<Vec<String>> {
        let mut keys = self.memtable.read_recursive().expired_keys(now_ms, limit);
        for frozen in &self.frozen {
            if keys.len() >= limit {
                break;
            }
            let memtable = frozen.memtable.read_recursive();
            let live = frozen_live(&memtable, &frozen.overlay, now_ms);
            let mut expired = memtable.occupied().clone() - live;
            expired -= &frozen.overlay.deleted;
            for slot in expired.iter().take(limit - keys.len()) {
                keys.extend(memtable.key(slot).map(str::to_string));
            }
        }
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

/// The live slots of a frozen memtable at `now_ms`: its occupied slots, less those its
/// overlay deletes, with expiry decided by the overlay's deadline where it set one.
pub(crate) fn frozen_live(memtable: &Memtable, overlay: &Overlay, now_ms: u64) -> RoaringBitmap {
    let mut live = memtable.live(now_ms);
    for (slot, deadline) in &overlay.deadlines {
        match deadline {
            Some(deadline) if *deadline <= now_ms => {
                live.remove(*slot);
            }
            _ if memtable.occupied().contains(*slot) => {
                live.insert(*slot);
            }
            _ => {}
        }
    }
    live - &overlay.deleted
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
            if let Some(vector) = segment.vector(position as u16, row) {
                doc = doc.vector(&field.name, vector.to_vec());
            }
        }
    }
    Ok(doc)
}
