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

use roaring::RoaringBitmap;

use crate::model::codec::Record;
use crate::model::doc::Doc;
use crate::model::error::Result;
use crate::model::schema::{FieldKind, Schema};
use crate::segment::overlay::Overlay;
use crate::segment::Segment;
use crate::write::live_memtable::LiveMemtable;
use crate::write::mem_index::MemIndex;

/// Rows a memtable guesses it will hold before it first grows its key map.
const MEMTABLE_CAPACITY_HINT: usize = 1024;

/// A memtable as one version sees it: the shared append-only rows, the slots visible
/// to this version, and what changed about them since they were appended.
#[derive(Clone, Debug)]
pub(crate) struct MemSource {
    pub memtable: Arc<LiveMemtable>,
    /// The HNSW graphs over its rows.
    pub index: Arc<MemIndex>,
    /// Slots below this are visible to this version.
    pub horizon: u32,
    /// Deletions (superseded and deleted slots) and TTL changes.
    pub overlay: Arc<Overlay>,
    /// The WAL sequence number of the first record applied to it; `None` while it is
    /// untouched.
    pub first_seq: Option<u64>,
}

impl MemSource {
    fn new(schema: &Schema) -> MemSource {
        MemSource {
            memtable: Arc::new(LiveMemtable::new(schema, MEMTABLE_CAPACITY_HINT)),
            index: Arc::new(MemIndex::new(schema, MEMTABLE_CAPACITY_HINT)),
            horizon: 0,
            overlay: Arc::default(),
            first_seq: None,
        }
    }

    /// The insertion order of `slot`.
    pub fn order(&self, slot: u32) -> u64 {
        self.memtable.order(slot).unwrap_or(u64::MAX)
    }

    /// The key's slot, unless deleted.
    pub fn locate(&self, key: &str) -> Option<u32> {
        self.memtable
            .newest_slot(key, self.horizon)
            .filter(|slot| !self.overlay.deleted.contains(*slot))
    }

    pub fn deadline(&self, slot: u32) -> Option<u64> {
        self.overlay
            .deadline_over(slot, self.memtable.deadline(slot))
    }

    /// Slots not deleted and not expired at `now_ms`.
    pub fn live(&self, now_ms: u64) -> RoaringBitmap {
        let mut live = RoaringBitmap::new();
        live.insert_range(0..self.horizon);
        live -= &self.overlay.deleted;
        for (slot, deadline) in self.memtable.with_deadlines(self.horizon) {
            if deadline <= now_ms && !self.overlay.deadlines.contains_key(&slot) {
                live.remove(slot);
            }
        }
        for (slot, deadline) in &self.overlay.deadlines {
            if deadline.is_some_and(|deadline| deadline <= now_ms) {
                live.remove(*slot);
            }
        }
        live
    }

    /// Slots not deleted whose deadline has passed at `now_ms`.
    fn expired(&self, now_ms: u64) -> RoaringBitmap {
        let mut all = RoaringBitmap::new();
        all.insert_range(0..self.horizon);
        all -= &self.overlay.deleted;
        all - self.live(now_ms)
    }

    pub fn key(&self, slot: u32) -> String {
        self.memtable.key(slot).unwrap_or_default().to_string()
    }

    /// Indexes every slot below the horizon into the graphs.
    pub fn index_all(&self, threads: usize) -> Result<()> {
        self.index_until(self.horizon, threads)
    }

    /// Indexes the slots below `upto` into the graphs.
    pub fn index_until(&self, upto: u32, threads: usize) -> Result<()> {
        self.index
            .catch_up(&self.memtable, upto.min(self.horizon), threads)
    }

    /// Slots below the horizon not yet in the graphs.
    pub fn index_lag(&self) -> u32 {
        if self.index.has_graphs() {
            self.horizon.saturating_sub(self.index.indexed())
        } else {
            0
        }
    }
}

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
    /// The memtable taking writes.
    pub memtable: MemSource,
    /// Full memtables waiting for their flush, still searched: oldest first.
    pub frozen: Vec<MemSource>,
    /// Oldest first.
    pub segments: Vec<SegmentSlot>,
    /// The WAL sequence number of the last write applied.
    pub seq: u64,
}

impl Tables {
    pub fn new(schema: &Schema) -> Tables {
        Tables {
            memtable: MemSource::new(schema),
            frozen: Vec::new(),
            segments: Vec::new(),
            seq: 0,
        }
    }

    /// Makes the active memtable a frozen one and starts a fresh memtable. Returns
    /// false (changing nothing) when the active memtable is untouched.
    pub fn freeze(&mut self, schema: &Schema) -> bool {
        if self.memtable.first_seq.is_none() {
            return false;
        }
        let frozen = std::mem::replace(&mut self.memtable, MemSource::new(schema));
        self.frozen.push(frozen);
        true
    }

    /// The WAL sequence number of the oldest record held only in memory.
    pub fn oldest_unflushed_seq(&self) -> Option<u64> {
        self.frozen
            .first()
            .and_then(|slot| slot.first_seq)
            .or(self.memtable.first_seq)
    }

    /// Whether the memtables hold nothing and every overlay is persisted.
    pub fn is_persisted(&self) -> bool {
        self.oldest_unflushed_seq().is_none() && self.segments.iter().all(|slot| !slot.dirty)
    }

    /// The key's row that is not deleted, expired or not.
    pub fn locate(&self, key: &str) -> Result<Option<Location>> {
        if let Some(slot) = self.memtable.locate(key) {
            return Ok(Some(Location::Memtable(slot)));
        }
        // A key superseded in the active memtable is deleted there, so an older row in
        // a frozen memtable or a segment is the key's only when it has none here.
        if self
            .memtable
            .memtable
            .newest_slot(key, self.memtable.horizon)
            .is_some()
        {
            return Ok(None);
        }
        for (index, frozen) in self.frozen.iter().enumerate().rev() {
            if frozen.memtable.newest_slot(key, frozen.horizon).is_some() {
                return Ok(frozen.locate(key).map(|slot| Location::Frozen(index, slot)));
            }
        }
        for (index, slot) in self.segments.iter().enumerate().rev() {
            if let Some(row) = slot.segment.find(key)?
                && !slot.overlay.deleted.contains(row)
            {
                return Ok(Some(Location::Segment(index, row)));
            }
        }
        Ok(None)
    }

    /// The deadline in force at a location.
    pub fn deadline(&self, location: Location) -> Option<u64> {
        match location {
            Location::Memtable(slot) => self.memtable.deadline(slot),
            Location::Frozen(index, slot) => self.frozen[index].deadline(slot),
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

    /// Applies the `index`-th upsert of the WAL record `seq`. Its insertion order is
    /// `seq << 24 | index`: larger for every later write, and the same when replay
    /// applies the record again.
    pub fn apply_upsert(
        &mut self,
        key: String,
        record: Record,
        deadline: Option<u64>,
        seq: u64,
        index: usize,
    ) -> Result<()> {
        if let Some(location) = self.locate(&key)? {
            self.mark_deleted(location);
        }
        let memtable = &mut self.memtable;
        memtable.first_seq.get_or_insert(seq);
        let order = (seq << 24) | (index as u64).min((1 << 24) - 1);
        let slot = memtable.memtable.append(key, record, deadline, order);
        memtable.horizon = slot + 1;
        Ok(())
    }

    pub fn apply_delete(&mut self, key: &str, seq: u64) -> Result<()> {
        if let Some(location) = self.locate(key)? {
            self.mark_deleted(location);
            self.touch(location, seq);
        }
        Ok(())
    }

    pub fn apply_deadline(&mut self, key: &str, deadline: Option<u64>, seq: u64) -> Result<()> {
        let Some(location) = self.locate(key)? else {
            return Ok(());
        };
        self.touch(location, seq);
        match location {
            Location::Memtable(slot) => {
                Arc::make_mut(&mut self.memtable.overlay)
                    .deadlines
                    .insert(slot, deadline);
            }
            Location::Frozen(index, slot) => {
                Arc::make_mut(&mut self.frozen[index].overlay)
                    .deadlines
                    .insert(slot, deadline);
            }
            Location::Segment(index, row) => {
                let slot = &mut self.segments[index];
                Arc::make_mut(&mut slot.overlay)
                    .deadlines
                    .insert(row, deadline);
                slot.dirty = true;
            }
        }
        Ok(())
    }

    /// Records that the record `seq` changed a memtable's rows (a segment's changes
    /// are tracked by its `dirty` flag).
    fn touch(&mut self, location: Location, seq: u64) {
        match location {
            Location::Memtable(_) => {
                self.memtable.first_seq.get_or_insert(seq);
            }
            Location::Frozen(..) | Location::Segment(..) => {}
        }
    }

    fn mark_deleted(&mut self, location: Location) {
        match location {
            Location::Memtable(slot) => Arc::make_mut(&mut self.memtable.overlay).delete(slot),
            Location::Frozen(index, slot) => {
                Arc::make_mut(&mut self.frozen[index].overlay).delete(slot)
            }
            Location::Segment(index, row) => {
                let slot = &mut self.segments[index];
                Arc::make_mut(&mut slot.overlay).delete(row);
                slot.dirty = true;
            }
        }
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
        let memtables: u64 = std::iter::once(&self.memtable)
            .chain(&self.frozen)
            .map(|source| source.live(now_ms).len())
            .sum();
        let sealed: u64 = self
            .segments
            .iter()
            .map(|slot| {
                slot.segment.row_count() as u64
                    - slot.overlay.dead_rows(&slot.segment, now_ms).len()
            })
            .sum();
        (memtables + sealed) as usize
    }

    /// The memtable a location names (`None` for a segment).
    fn mem_source(&self, location: Location) -> Option<(&MemSource, u32)> {
        match location {
            Location::Memtable(slot) => Some((&self.memtable, slot)),
            Location::Frozen(index, slot) => Some((&self.frozen[index], slot)),
            Location::Segment(..) => None,
        }
    }

    /// The document at `location`, restricted to the fields `projection` lists.
    pub fn document(
        &self,
        location: Location,
        schema: &Schema,
        projection: Option<&[usize]>,
    ) -> Result<Doc> {
        match (location, self.mem_source(location)) {
            (_, Some((source, slot))) => Ok(source.memtable.document(slot, schema, projection)),
            (Location::Segment(index, row), None) => {
                segment_document(&self.segments[index].segment, row, schema, projection)
            }
            _ => unreachable!("a memtable location always has a memtable"),
        }
    }

    /// The key at `location`.
    pub fn key(&self, location: Location) -> Result<String> {
        match (location, self.mem_source(location)) {
            (_, Some((source, slot))) => Ok(source.key(slot)),
            (Location::Segment(index, row), None) => {
                Ok(self.segments[index].segment.key(row)?.to_string())
            }
            _ => unreachable!("a memtable location always has a memtable"),
        }
    }

    /// Keys of documents expired at `now_ms`, at most `limit`.
    pub fn expired_keys(&self, now_ms: u64, limit: usize) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        for source in std::iter::once(&self.memtable).chain(&self.frozen) {
            for slot in source.expired(now_ms).iter() {
                if keys.len() >= limit {
                    return Ok(keys);
                }
                keys.push(source.key(slot));
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
                doc = doc.with(&field.name, value.into_value(field.kind));
            }
            continue;
        }
        if matches!(field.kind, FieldKind::Vector(_))
            && wanted(position)
            && let Some(vector) = segment.vector(position as u16, row)?
        {
            doc = doc.vector(&field.name, vector.to_vec());
        }
    }
    Ok(doc)
}
