//! The state behind a `Database` handle, and the one write path.
//!
//! ```text
//! write:  build op (checks) ─┐ WAL mutex
//!                            ├─ WAL append ─ Catalog::apply ─ publish the version
//!                            └─ memtable full? freeze it ─┐ (mutex released)
//!                                                         └─ flusher (flush.rs)
//! ```
//!
//! Invariant: a collection's writer `Tables` change only under the WAL mutex, in WAL
//! order, through `Catalog::apply` (which replay uses too), or when a flush or a
//! compaction installs its result (also under the WAL mutex).
//! Invariant: a manifest is published only after the WAL is fsynced, so it never holds
//! the effect of a write that a crash could still take away.
//! Invariant: a segment directory is removed only after a published manifest no longer
//! names it and the last reader has dropped it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use parking_lot::{Condvar, Mutex, MutexGuard, RwLock};
use strata_storage::fs::LockGuard;
use strata_storage::wal::{SyncPolicy, Wal};
use strata_storage::FileSystem;

use crate::model::codec::{self, Op};
use crate::model::error::{Error, Result};
use crate::model::options::Options;
use crate::model::schema::Schema;
use crate::segment::{Segment, SEGMENTS_DIR};
use crate::write::manifest::{CollectionEntry, Manifest, SegmentEntry};
use crate::write::mem_index::{indexing_threads, INDEX_LAG_MAX};
use crate::write::tables::{MemSource, SegmentSlot, Tables};

/// Milliseconds since the Unix epoch: the clock TTL deadlines are measured on.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Frozen memtables a collection may queue for flushing before its writers wait.
pub(crate) const FROZEN_MAX: usize = 2;

/// Counters of one collection, for `Collection::info`.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Writes that waited for a flush to make room.
    pub write_stalls: AtomicU64,
    /// Total time they waited, in microseconds.
    pub write_stall_micros: AtomicU64,
    pub flushes: AtomicU64,
    pub merges: AtomicU64,
}

/// One collection's state, shared by every handle to it.
#[derive(Debug)]
pub(crate) struct CollectionState {
    pub id: u64,
    pub name: String,
    pub schema: Arc<Schema>,
    /// The writer's version. Locked only under the WAL mutex.
    pub tables: Mutex<Tables>,
    /// What readers load: the writer's version as of its last change.
    pub published: ArcSwap<Tables>,
    /// Set when the collection is dropped, so stale handles stop working.
    pub dropped: AtomicBool,
    /// One flush of this collection at a time (the flusher, `Database::flush`).
    pub flushing: Mutex<()>,
    pub stats: Stats,
}

impl CollectionState {
    fn new(id: u64, name: String, schema: Schema, tables: Tables) -> CollectionState {
        CollectionState {
            id,
            name,
            schema: Arc::new(schema),
            published: ArcSwap::from_pointee(tables.clone()),
            tables: Mutex::new(tables),
            dropped: AtomicBool::new(false),
            flushing: Mutex::new(()),
            stats: Stats::default(),
        }
    }

    /// Makes `tables` (the writer's version) what readers see.
    pub fn publish(&self, tables: &Tables) {
        self.published.store(Arc::new(tables.clone()));
    }

    /// Publishes `version` unless a version of a later write is out already: writers
    /// under `Always` publish after their fsync, in whatever order those return.
    pub fn publish_newer(&self, version: Arc<Tables>) {
        self.published.rcu(|current| {
            if current.seq > version.seq {
                Arc::clone(current)
            } else {
                Arc::clone(&version)
            }
        });
    }

    /// The version readers work on.
    pub fn snapshot(&self) -> Arc<Tables> {
        self.published.load_full()
    }
}

#[derive(Debug, Default)]
pub(crate) struct Catalog {
    pub by_name: BTreeMap<String, Arc<CollectionState>>,
    pub next_collection_id: u64,
    pub next_segment_id: u64,
    /// The manifest last published (or read at open): each collection's `covered`
    /// mark stays as published until that collection's memtables are persisted.
    pub published: Manifest,
    /// Segments of dropped collections, removed once a manifest without them is out.
    pub retired: Vec<Arc<Segment>>,
}

impl Catalog {
    pub fn by_id(&self, id: u64) -> Option<&Arc<CollectionState>> {
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
        let state = CollectionState::new(id, name.clone(), schema, tables);
        self.by_name.insert(name, Arc::new(state));
    }

    /// Applies the logged operation with sequence number `seq`. Called for live writes
    /// (already validated) and on replay, where a violation means the log does not
    /// match the rules that wrote it.
    /// With `publish`, readers see the change at once; without, the caller publishes
    /// the version later (under `Always`, once the write is durable).
    pub fn apply(&mut self, op: Op, seq: u64, publish: bool) -> Result<(), ApplyError> {
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
                let tables = state.tables.lock();
                self.retired
                    .extend(tables.segments.iter().map(|slot| Arc::clone(&slot.segment)));
            }
            Op::Upsert {
                collection: id,
                docs,
            } => {
                let state = collection(self, id)?;
                for (_, record) in &docs {
                    crate::model::validate::check_logged_record(&state.schema, record)
                        .map_err(ApplyError::Rule)?;
                }
                let mut tables = state.tables.lock();
                for (index, (key, record)) in docs.into_iter().enumerate() {
                    let deadline = record.deadline;
                    tables
                        .apply_upsert(key, record, deadline, seq, index)
                        .map_err(storage)?;
                }
                tables.seq = seq;
                if publish {
                    state.publish(&tables);
                }
            }
            Op::Delete {
                collection: id,
                key,
            } => {
                let state = collection(self, id)?;
                let mut tables = state.tables.lock();
                tables.apply_delete(&key, seq).map_err(storage)?;
                tables.seq = seq;
                if publish {
                    state.publish(&tables);
                }
            }
            Op::DeleteMany {
                collection: id,
                keys,
            } => {
                let state = collection(self, id)?;
                let mut tables = state.tables.lock();
                for key in &keys {
                    tables.apply_delete(key, seq).map_err(storage)?;
                }
                tables.seq = seq;
                if publish {
                    state.publish(&tables);
                }
            }
            Op::Expire {
                collection: id,
                key,
                deadline,
            } => {
                let state = collection(self, id)?;
                let mut tables = state.tables.lock();
                tables
                    .apply_deadline(&key, deadline, seq)
                    .map_err(storage)?;
                state.publish(&tables);
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

/// Wakes the flusher and tells writers waiting for room that a flush ended.
#[derive(Debug, Default)]
pub(crate) struct FlushSignal {
    /// Flush passes asked for and not yet started, and whether the flusher must stop.
    state: Mutex<(u64, bool)>,
    wake: Condvar,
    /// Incremented after every flush attempt, successful or not.
    finished: Mutex<u64>,
    done: Condvar,
}

impl FlushSignal {
    pub fn request(&self) {
        self.state.lock().0 += 1;
        self.wake.notify_all();
    }

    pub fn stop(&self) {
        self.state.lock().1 = true;
        self.wake.notify_all();
    }

    /// Waits for a request (or `interval`, for periodic checks); false once stopped.
    pub fn wait(&self, interval: Duration) -> bool {
        let mut state = self.state.lock();
        if state.0 == 0 && !state.1 {
            self.wake.wait_for(&mut state, interval);
        }
        state.0 = 0;
        !state.1
    }

    pub fn finished(&self) {
        *self.finished.lock() += 1;
        self.done.notify_all();
    }
}

/// What [`Shared::write`] did.
#[derive(Debug, Default)]
#[must_use]
pub(crate) struct Written {
    /// Whether anything was logged (`build` may find nothing to do).
    pub logged: bool,
    /// A collection whose memtable the write froze while no flusher thread runs: the
    /// caller flushes it (the write path itself never calls into maintenance).
    pub flush_inline: Option<Arc<CollectionState>>,
}

/// Everything an open database holds.
#[derive(Debug)]
pub(crate) struct Shared {
    pub path: PathBuf,
    pub fs: Arc<dyn FileSystem>,
    pub options: Options,
    pub wal: Mutex<Wal>,
    pub catalog: RwLock<Catalog>,
    pub recovery: crate::model::reports::RecoveryReport,
    pub flush_signal: FlushSignal,
    /// Whether a flusher thread runs; without one, the writer that freezes a memtable
    /// flushes it itself.
    pub background_flush: AtomicBool,
    // Released last: declared after everything that writes into the directory.
    pub _lock: Box<dyn LockGuard>,
}

impl Shared {
    /// Builds an operation from the catalog, logs it and applies it, all under the WAL
    /// mutex, so that what `build` checked cannot change before the write lands.
    /// Under `Always` the fsync happens after the mutex is released, shared with the
    /// writers that logged meanwhile (group commit); until it returns, a reader may
    /// already see the write.
    /// `build` returns `None` when there is nothing to write; the result says whether
    /// something was written. A write that fills its collection's memtable freezes it
    /// for the flusher; the write is acknowledged whatever becomes of that flush. With
    /// no flusher running, the result names the collection the caller must flush.
    pub fn write(&self, build: impl FnOnce(&Catalog) -> Result<Option<Op>>) -> Result<Written> {
        let mut wal = self.wal.lock();
        let Some(op) = build(&self.catalog.read())? else {
            return Ok(Written::default());
        };
        let payload = codec::encode(&op);
        let batch = match &op {
            Op::Upsert { docs, .. } => docs.len(),
            Op::DeleteMany { keys, .. } => keys.len(),
            _ => 0,
        };
        {
            let limit = self.options.limits.max_batch_bytes;
            if batch > 1 && payload.len() > limit {
                return Err(Error::TooLarge {
                    what: "the batch".to_string(),
                    size: payload.len(),
                    limit,
                });
            }
        }
        let target = op.data_collection();
        // Under `Always` the fsync comes after the WAL mutex is released, shared with
        // the writers that logged meanwhile (group commit), and readers see the write
        // only once it returned: the version is published then.
        let always = wal.policy() == SyncPolicy::Always;
        let seq = wal.append_unsynced(&[&payload])?;
        self.catalog
            .write()
            .apply(op, seq, !always)
            .map_err(|error| match error {
                ApplyError::Rule(reason) => Error::Corrupt {
                    file: self.path.clone(),
                    offset: 0,
                    reason,
                },
                ApplyError::Segment(error) => error,
            })?;
        let mut lagging = None;
        let mut deferred = None;
        let frozen = target.and_then(|id| {
            let state = Arc::clone(self.catalog.read().by_id(id)?);
            let mut tables = state.tables.lock();
            if tables.memtable.index_lag() > 0 {
                lagging = Some((tables.memtable.clone(), Arc::clone(&state)));
            }
            let memtable = &tables.memtable;
            let full = memtable.horizon as usize >= self.options.memtable_rows_max
                || memtable.memtable.bytes_written() >= self.options.memtable_bytes_max;
            let froze = full && tables.freeze(&state.schema);
            if always {
                deferred = Some((Arc::clone(&state), Arc::new(tables.clone())));
            } else if froze {
                state.publish(&tables);
            }
            drop(tables);
            froze.then_some(state)
        });
        let group = always.then(|| wal.group_sync());
        drop(wal);
        if let Some(group) = group {
            group.sync_through(seq)?;
            if let Some((state, version)) = deferred {
                state.publish_newer(version);
            }
        }
        if let Some((memtable, state)) = lagging {
            self.index_fresh_rows(&memtable, &state);
        }
        // The write is acknowledged: logged (and synced per the durability) and
        // applied. The flush is maintenance; if it fails (a full disk), the frozen
        // memtable stays searchable and the next flush tries again.
        let flush_inline = frozen.and_then(|state| self.after_freeze(state));
        Ok(Written {
            logged: true,
            flush_inline,
        })
    }

    /// Gets the rows a write appended into the memtable's graphs: the flusher thread
    /// does it in the background; the writer does it itself when no flusher runs, or
    /// when the graphs lag more than [`INDEX_LAG_MAX`] rows behind (back-pressure,
    /// counted as a stall).
    fn index_fresh_rows(&self, memtable: &MemSource, state: &CollectionState) {
        let lag = memtable.index_lag();
        if self.background_flush.load(Ordering::Acquire) && lag <= INDEX_LAG_MAX {
            self.flush_signal.request();
            return;
        }
        let started = Instant::now();
        let background = self.background_flush.load(Ordering::Acquire);
        // Behind the flusher, only the excess over the allowed lag: the stall stays
        // about this write's own rows. A failed insertion leaves the rows to the
        // exact scan of the unindexed tail: still found, only slower.
        let upto = if background {
            memtable.horizon - INDEX_LAG_MAX
        } else {
            memtable.horizon
        };
        let _ = memtable.index_until(upto, indexing_threads(lag));
        if background {
            state.stats.write_stalls.fetch_add(1, Ordering::Relaxed);
            state.stats.write_stall_micros.fetch_add(
                u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
        }
    }

    /// Hands a frozen memtable to the flusher, and holds the writer back while its
    /// collection has more than [`FROZEN_MAX`] memtables waiting (back-pressure); with
    /// no flusher running, returns the collection for the writer to flush.
    fn after_freeze(&self, state: Arc<CollectionState>) -> Option<Arc<CollectionState>> {
        if !self.background_flush.load(Ordering::Acquire) {
            return Some(state);
        }
        self.flush_signal.request();
        let backlog = || state.tables.lock().frozen.len();
        if backlog() <= FROZEN_MAX {
            return None;
        }
        let started = Instant::now();
        let mut finished = self.flush_signal.finished.lock();
        let seen = *finished;
        // Wait for one flush attempt: a failing flush (a full disk) must not hang the
        // writer, whose write is already acknowledged.
        while *finished == seen && backlog() > FROZEN_MAX {
            self.flush_signal
                .done
                .wait_for(&mut finished, Duration::from_millis(100));
            if !self.background_flush.load(Ordering::Acquire) {
                break;
            }
        }
        drop(finished);
        state.stats.write_stalls.fetch_add(1, Ordering::Relaxed);
        state.stats.write_stall_micros.fetch_add(
            u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        None
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

    /// Publishes a manifest of the catalog as it is now, after fsyncing the WAL, then
    /// trims the WAL files every collection covers. The caller holds the WAL mutex
    /// and, for the collection it changes (a flush or a merge), passes that
    /// collection's new segments and `covered` mark through `edit`, since its writer
    /// tables are installed only once the manifest is out.
    ///
    /// A collection's `covered` mark rises to the present only when all its writes are
    /// persisted (memtables empty, overlays saved); otherwise it stays as last
    /// published, and replay re-applies its later records (re-applying a deletion or
    /// TTL change a state file already holds is harmless).
    /// `held` is the collection whose writer tables the caller has locked, if any.
    pub fn publish_manifest(
        &self,
        wal: &mut Wal,
        held: Option<(u64, &Tables)>,
        edit: impl FnOnce(&mut Manifest),
    ) -> Result<Manifest> {
        wal.sync()?;
        let now = wal.next_seq() - 1;
        let mut manifest = {
            let catalog = self.catalog.read();
            let collections = catalog
                .by_name
                .values()
                .map(|state| {
                    let locked;
                    let tables = match held {
                        Some((id, tables)) if id == state.id => tables,
                        _ => {
                            locked = state.tables.lock();
                            &*locked
                        }
                    };
                    let covered = if tables.is_persisted() {
                        now
                    } else {
                        catalog
                            .published
                            .collection(state.id)
                            .map_or(0, |entry| entry.covered)
                    };
                    CollectionEntry {
                        id: state.id,
                        name: state.name.clone(),
                        schema: (*state.schema).clone(),
                        covered,
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
                catalog_seq: now,
                next_segment_id: catalog.next_segment_id,
                next_collection_id: catalog.next_collection_id,
                collections,
            }
        };
        edit(&mut manifest);
        crate::write::manifest::publish(self.fs.as_ref(), &self.path, &manifest)?;
        let retired = {
            let mut catalog = self.catalog.write();
            catalog.published = manifest.clone();
            std::mem::take(&mut catalog.retired)
        };
        for segment in retired {
            segment.mark_obsolete();
        }
        let covered = manifest
            .collections
            .iter()
            .map(|entry| entry.covered)
            .fold(manifest.catalog_seq, u64::min);
        wal.rotate(covered)?;
        Ok(manifest)
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
