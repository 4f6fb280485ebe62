//! The state behind a `Database` handle, and the one write path.
//!
//! ```text
//! write:  build op (checks) ─┐ WAL mutex
//!                            ├─ WAL append (+fsync) ─ Catalog::apply ─ maybe flush
//! flush:  memtables → new segments, dirty overlays → state files,
//!         WAL fsync → MANIFEST (covers every record so far) → WAL rotate → swap
//! ```
//!
//! Invariant: the catalog, the memtables and the overlays change only under the WAL
//! mutex, in WAL order, through `Catalog::apply`, which replay uses too.
//! Invariant: a manifest is published only after the WAL is fsynced, so it never holds
//! the effect of a write that a crash could still take away.
//! Invariant: a segment directory is removed only after a published manifest no longer
//! names it and the last reader has dropped it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, MutexGuard, RwLock};
use strata_storage::fs::LockGuard;
use strata_storage::wal::Wal;
use strata_storage::{manifest as manifest_file, FileSystem};

use crate::codec::{self, Op};
use crate::error::{Error, Result};
use crate::manifest::{CollectionEntry, Manifest, SegmentEntry, MANIFEST_VERSION};
use crate::options::Options;
use crate::schema::Schema;
use crate::segment::{
    segment_dir_name, write_file, write_segment, FileKind, Segment, SEGMENTS_DIR,
};
use crate::tables::{SegmentSlot, Tables};

/// Milliseconds since the Unix epoch: the clock TTL deadlines are measured on.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One collection's state, shared by every handle to it.
#[derive(Debug)]
pub(crate) struct CollectionState {
    pub id: u64,
    pub name: String,
    pub schema: Arc<Schema>,
    pub tables: RwLock<Tables>,
    /// Set when the collection is dropped, so stale handles stop working.
    pub dropped: AtomicBool,
}

#[derive(Debug, Default)]
pub(crate) struct Catalog {
    pub by_name: BTreeMap<String, Arc<CollectionState>>,
    pub next_collection_id: u64,
    pub next_segment_id: u64,
    /// Every WAL record up to this sequence number is in the published segments.
    pub wal_seq_covered: u64,
    /// The manifest last published (or read at open). A compaction edits a copy of it
    /// rather than describing the live catalog: collections created or dropped since
    /// the last flush exist only in the WAL tail, which a reopen replays, so the
    /// manifest must not hold them already.
    pub published: Manifest,
    /// Segments of dropped collections, removed once a manifest without them is out.
    pub retired: Vec<Arc<Segment>>,
}

impl Catalog {
    fn by_id(&self, id: u64) -> Option<&Arc<CollectionState>> {
        self.by_name.values().find(|state| state.id == id)
    }

    /// Checks that a handle's collection has not been dropped (or dropped and
    /// recreated under the same name).
    pub fn check_live(&self, state: &CollectionState) -> Result<()> {
        match self.by_name.get(&state.name) {
            Some(current) if current.id == state.id => Ok(()),
            _ => Err(Error::CollectionNotFound {
                name: state.name.clone(),
            }),
        }
    }

    /// Adds a collection with its segments, as a manifest or a create names it.
    pub fn insert(&mut self, id: u64, name: String, schema: Schema, segments: Vec<SegmentSlot>) {
        self.next_collection_id = self.next_collection_id.max(id + 1);
        let mut tables = Tables::new(&schema);
        tables.segments = segments;
        let newest = tables
            .segments
            .iter()
            .map(|slot| slot.segment.max_order())
            .max();
        tables.memtable.order_after(newest.unwrap_or(0));
        let state = CollectionState {
            id,
            name: name.clone(),
            schema: Arc::new(schema),
            tables: RwLock::new(tables),
            dropped: AtomicBool::new(false),
        };
        self.by_name.insert(name, Arc::new(state));
    }

    /// Applies a logged operation. Called for live writes (already validated) and on
    /// replay, where a violation means the log does not match the rules that wrote it.
    pub fn apply(&mut self, op: Op) -> Result<(), ApplyError> {
        let collection = |catalog: &Catalog, id: u64| {
            catalog
                .by_id(id)
                .cloned()
                .ok_or(ApplyError::Rule(format!("unknown collection {id}")))
        };
        // Locating a key reads segment keys: damage there is the segment file's, and
        // keeps its name (it used to be flattened into a string blamed on the log).
        let storage = ApplyError::Segment;
        match op {
            Op::CreateCollection { id, name, schema } => {
                if self.by_name.contains_key(&name) {
                    return Err(ApplyError::Rule(format!(
                        "collection `{name}` created twice"
                    )));
                }
                self.insert(id, name, schema, Vec::new());
            }
            Op::DropCollection { id } => {
                let state = collection(self, id)?;
                self.by_name.remove(&state.name);
                state.dropped.store(true, Ordering::Release);
                let tables = state.tables.read();
                self.retired
                    .extend(tables.segments.iter().map(|slot| Arc::clone(&slot.segment)));
            }
            Op::Upsert {
                collection: id,
                docs,
            } => {
                let state = collection(self, id)?;
                for (_, record) in &docs {
                    crate::collection::check_logged_record(&state.schema, record)
                        .map_err(ApplyError::Rule)?;
                }
                let mut tables = state.tables.write();
                for (key, record) in docs {
                    let deadline = record.deadline;
                    tables
                        .apply_upsert(key, record, deadline)
                        .map_err(storage)?;
                }
            }
            Op::Delete {
                collection: id,
                key,
            } => {
                collection(self, id)?
                    .tables
                    .write()
                    .apply_delete(&key)
                    .map_err(storage)?;
            }
            Op::Expire {
                collection: id,
                key,
                deadline,
            } => {
                collection(self, id)?
                    .tables
                    .write()
                    .apply_deadline(&key, deadline)
                    .map_err(storage)?;
            }
        }
        Ok(())
    }
}

/// Why a logged operation could not be applied.
#[derive(Debug)]
pub(crate) enum ApplyError {
    /// The operation breaks the rules the log was written by: the log is corrupt.
    Rule(String),
    /// A segment the operation reads (to find the key's current row) is damaged; the
    /// error names that segment's file.
    Segment(Error),
}

/// Everything an open database holds.
#[derive(Debug)]
pub(crate) struct Shared {
    pub path: PathBuf,
    pub fs: Arc<dyn FileSystem>,
    pub options: Options,
    pub wal: Mutex<Wal>,
    pub catalog: RwLock<Catalog>,
    pub recovery: crate::database::RecoveryReport,
    // Released last: declared after everything that writes into the directory.
    pub _lock: Box<dyn LockGuard>,
}

impl Shared {
    /// Builds an operation from the catalog, logs it and applies it, all under the WAL
    /// mutex, so that what `build` checked cannot change before the write lands.
    /// `build` returns `None` when there is nothing to write; the result says whether
    /// something was written. A write that fills the memtable past its limits flushes;
    /// a failure of that flush is not the write's (it is retried by the next write).
    pub fn write(&self, build: impl FnOnce(&Catalog) -> Result<Option<Op>>) -> Result<bool> {
        let mut wal = self.wal.lock();
        let Some(op) = build(&self.catalog.read())? else {
            return Ok(false);
        };
        let payload = codec::encode(&op);
        if let Op::Upsert { docs, .. } = &op {
            let limit = self.options.limits.max_batch_bytes;
            if docs.len() > 1 && payload.len() > limit {
                return Err(Error::TooLarge {
                    what: "the batch".to_string(),
                    size: payload.len(),
                    limit,
                });
            }
        }
        wal.append(&[&payload])?;
        self.catalog
            .write()
            .apply(op)
            .map_err(|error| match error {
                ApplyError::Rule(reason) => Error::Corrupt {
                    file: self.path.clone(),
                    offset: 0,
                    reason,
                },
                ApplyError::Segment(error) => error,
            })?;
        if self.memtables_full() {
            // The write is acknowledged: logged (and synced per the durability) and
            // applied. The flush is maintenance on behalf of every write; if it fails
            // (a full disk), the memtable stays as it is and the next write or
            // `flush` tries again. Returning its error here would tell the caller that
            // a durable, visible write did not happen.
            let _ = self.flush_locked(&mut wal);
        }
        Ok(true)
    }

    fn memtables_full(&self) -> bool {
        let (rows, bytes) =
            self.catalog
                .read()
                .by_name
                .values()
                .fold((0, 0), |(rows, bytes), state| {
                    let tables = state.tables.read();
                    (
                        rows + tables.memtable.len(),
                        bytes + tables.memtable.bytes_written(),
                    )
                });
        rows >= self.options.memtable_rows_max || bytes >= self.options.memtable_bytes_max
    }

    /// Takes the WAL mutex (for maintenance that must not interleave with writes).
    pub fn lock_wal(&self) -> MutexGuard<'_, Wal> {
        self.wal.lock()
    }

    pub fn segments_dir(&self) -> PathBuf {
        self.path.join(SEGMENTS_DIR)
    }

    /// Allocates a segment id; the manifest records the counter.
    pub fn next_segment_id(&self) -> u64 {
        let mut catalog = self.catalog.write();
        let id = catalog.next_segment_id;
        catalog.next_segment_id += 1;
        id
    }

    /// Writes every memtable as a segment and every changed overlay as a state file,
    /// publishes a manifest that covers the whole WAL, and trims the WAL.
    pub fn flush_locked(&self, wal: &mut Wal) -> Result<()> {
        let collections: Vec<Arc<CollectionState>> =
            self.catalog.read().by_name.values().cloned().collect();
        let segments_dir = self.segments_dir();
        self.fs
            .create_dir_all(&segments_dir)
            .map_err(|e| io("create", &segments_dir, e))?;
        let mut planned = Vec::new();
        let mut written_dirs = Vec::new();
        let outcome = (|| -> Result<()> {
            for state in &collections {
                let tables = state.tables.read();
                let mut new_segment = None;
                if tables.memtable.len() > 0 {
                    let id = self.next_segment_id();
                    let dir = segments_dir.join(segment_dir_name(id));
                    written_dirs.push(dir.clone());
                    let written = write_segment(
                        self.fs.as_ref(),
                        &dir,
                        &state.schema,
                        &tables.memtable.segment_rows(),
                    )?;
                    let segment = Segment::open(
                        Arc::clone(&self.fs),
                        &dir,
                        id,
                        &state.schema,
                        written.row_count,
                        written.files,
                    )?;
                    new_segment = Some(Arc::new(segment));
                }
                let mut states = Vec::new();
                for (index, slot) in tables
                    .segments
                    .iter()
                    .enumerate()
                    .filter(|(_, slot)| slot.dirty)
                {
                    let version = slot.state_version + 1;
                    let record = write_file(
                        self.fs.as_ref(),
                        slot.segment.dir(),
                        FileKind::State(version),
                        &slot.overlay.encode(),
                    )?;
                    self.fs
                        .sync_dir(slot.segment.dir())
                        .map_err(|e| io("fsync", slot.segment.dir(), e))?;
                    states.push((index, version, record.body_crc, slot.overlay.clone()));
                }
                planned.push((Arc::clone(state), new_segment, states));
            }
            Ok(())
        })();
        if let Err(error) = outcome {
            for dir in written_dirs {
                let _ = self.fs.remove_dir_all(&dir);
            }
            return Err(error);
        }

        wal.sync()?;
        let covered = wal.next_seq() - 1;
        let manifest = {
            let catalog = self.catalog.read();
            let mut manifest = self.manifest(&catalog, covered);
            for (state, new_segment, states) in &planned {
                let Some(entry) = manifest.collections.iter_mut().find(|c| c.id == state.id) else {
                    continue;
                };
                for (index, version, crc, _) in states {
                    entry.segments[*index].state_version = *version;
                    entry.segments[*index].state_crc = *crc;
                }
                if let Some(segment) = new_segment {
                    entry.segments.push(segment_entry(segment, 0, 0));
                }
            }
            manifest
        };
        manifest_file::publish(
            self.fs.as_ref(),
            &self.path,
            MANIFEST_VERSION,
            &manifest.encode(),
        )?;
        // Only now do the segments cover the WAL up to `covered`. Raised before a
        // publication that then failed, the mark would let the next manifest (a
        // background compaction's) claim records that are in no published segment,
        // and a reopen would skip them in the WAL.
        {
            let mut catalog = self.catalog.write();
            catalog.wal_seq_covered = covered;
            catalog.published = manifest;
        }

        // Published: from here on the new state is the durable one.
        for (state, new_segment, states) in planned {
            let mut tables = state.tables.write();
            for (index, version, crc, persisted) in states {
                let slot = &mut tables.segments[index];
                let old = slot.state_version;
                slot.state_version = version;
                slot.state_crc = crc;
                slot.dirty = slot.overlay != persisted;
                if old > 0 {
                    let _ = self
                        .fs
                        .remove_file(&slot.segment.dir().join(FileKind::State(old).file_name()));
                }
            }
            if let Some(segment) = new_segment {
                let next_order = tables.memtable.next_order();
                tables.memtable = crate::memtable::Memtable::new(&state.schema);
                tables.memtable.order_after(next_order - 1);
                tables.segments.push(SegmentSlot {
                    segment,
                    overlay: Default::default(),
                    state_version: 0,
                    state_crc: 0,
                    dirty: false,
                });
            }
        }
        for segment in std::mem::take(&mut self.catalog.write().retired) {
            segment.mark_obsolete();
        }
        wal.rotate()?;
        Ok(())
    }

    /// The manifest describing the persisted state: every collection with its
    /// segments and their persisted state versions.
    pub fn manifest(&self, catalog: &Catalog, covered: u64) -> Manifest {
        let collections = catalog
            .by_name
            .values()
            .map(|state| {
                let tables = state.tables.read();
                CollectionEntry {
                    id: state.id,
                    name: state.name.clone(),
                    schema: (*state.schema).clone(),
                    segments: tables
                        .segments
                        .iter()
                        .map(|slot| {
                            segment_entry(&slot.segment, slot.state_version, slot.state_crc)
                        })
                        .collect(),
                }
            })
            .collect();
        Manifest {
            wal_seq_covered: covered,
            next_segment_id: catalog.next_segment_id,
            next_collection_id: catalog.next_collection_id,
            collections,
        }
    }
}

pub(crate) fn segment_entry(segment: &Segment, state_version: u64, state_crc: u32) -> SegmentEntry {
    SegmentEntry {
        id: segment.id,
        row_count: segment.row_count() as u64,
        state_version,
        state_crc,
        files: segment.files().to_vec(),
    }
}

pub(crate) fn io(op: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}
