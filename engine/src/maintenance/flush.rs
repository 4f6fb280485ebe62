//! Flushing a collection: its frozen memtables become segments, its changed overlays
//! become state files, and a manifest that says so is published. It runs on the
//! flusher thread (or on `Database::flush`), never inside another writer's call.
//!
//! ```text
//! phase 1, no lock:   frozen memtable (immutable) → segment files, fsynced
//! phase 2, one publication at a time (ARCHITECTURE.md, "Publication off the WAL mutex"):
//!   capture, WAL mutex: changes to its rows made since it froze, snapshots of changed
//!                       overlays, the manifest as of now, a new WAL file (no fsync)
//!   write, no lock:     state files → WAL fsync through the capture → MANIFEST
//!   install, WAL mutex: swap the frozen memtable for the segment in a new version,
//!                       carrying over what changed since the capture → WAL trim
//! ```
//!
//! Writers wait (on the WAL mutex) only for the capture and the install, which do no
//! fsync.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::model::error::Result;
use crate::segment::overlay::Overlay;
use crate::segment::{
    segment_dir_name, write_file, write_segment_seeded, FileKind, GraphSeed, SeedGraphs, Segment,
};
use crate::write::mem_index::indexing_threads;
use crate::write::store::{io, segment_entry, CollectionState, Shared};
use crate::write::tables::{MemSource, SegmentSlot};
use strata_storage::wal::SyncPolicy;

/// Freezes the collection's active memtable and flushes every frozen one, then saves
/// any changed overlay: afterwards everything written to the collection so far is in
/// published segments.
pub(crate) fn flush_all(shared: &Shared, state: &Arc<CollectionState>) -> Result<()> {
    {
        let wal = shared.lock_wal();
        // Publishing shows readers every write applied so far: under `Always` some may
        // still wait for their fsync, so make them durable first. (Under the other
        // policies every applied write is published already.)
        if wal.policy() == SyncPolicy::Always {
            wal.sync()?;
        }
        let mut tables = state.tables.lock();
        if tables.freeze(&state.schema) {
            state.publish(&tables);
        }
    }
    flush_collection(shared, state)?;
    let dirty = state.tables.lock().segments.iter().any(|slot| slot.dirty);
    if dirty {
        let _one_at_a_time = state.flushing.lock();
        install(shared, state, None)?;
    }
    Ok(())
}

/// Flushes the collection's frozen memtables, oldest first.
pub(crate) fn flush_collection(shared: &Shared, state: &Arc<CollectionState>) -> Result<()> {
    let _one_at_a_time = state.flushing.lock();
    loop {
        let oldest = state.tables.lock().frozen.first().cloned();
        let Some(frozen) = oldest else {
            return Ok(());
        };
        if state.dropped.load(Ordering::Acquire) {
            return Ok(());
        }
        let written = write_frozen(shared, state, &frozen)?;
        install(shared, state, Some(written))?;
        state.stats.flushes.fetch_add(1, Ordering::Relaxed);
    }
}

/// A frozen memtable written as a segment, not yet published.
struct Flushed {
    /// The frozen memtable as phase 1 wrote it.
    snapshot: MemSource,
    segment: Arc<Segment>,
    /// The segment row of each slot (`None`: deleted, not written).
    rows: Vec<Option<u32>>,
}

/// Phase 1: the frozen memtable's live rows as a segment on disk. Deleted and
/// superseded slots are left out (a segment holds each key once); expired ones are
/// kept, as their TTL may still be changed.
fn write_frozen(shared: &Shared, state: &CollectionState, frozen: &MemSource) -> Result<Flushed> {
    let segments_dir = shared.segments_dir();
    shared
        .fs
        .create_dir_all(&segments_dir)
        .map_err(|e| io("create", &segments_dir, e))?;
    let id = shared.next_segment_id();
    let dir = segments_dir.join(segment_dir_name(id));
    let mut rows = Vec::with_capacity(frozen.horizon as usize);
    let mut next = 0u32;
    let mut written_rows = Vec::new();
    for (slot, mut row) in (0u32..).zip(frozen.memtable.segment_rows(frozen.horizon)) {
        if frozen.overlay.deleted.contains(slot) {
            rows.push(None);
            continue;
        }
        row.deadline = frozen.deadline(slot);
        rows.push(Some(next));
        next += 1;
        written_rows.push(row);
    }
    // The memtable's graphs become the segment's: finish indexing, then renumber
    // slots to rows (dropping the deleted ones and repairing around them).
    frozen.index_all(indexing_threads(frozen.index_lag()))?;
    let graphs = frozen.index.graphs_for_flush(frozen.horizon);
    let nodes = frozen.memtable.node_rows(&rows);
    let seed = GraphSeed {
        graphs: SeedGraphs::Memtable(&graphs),
        map: &nodes,
    };
    let opened = write_segment_seeded(
        shared.fs.as_ref(),
        &dir,
        &state.schema,
        &written_rows,
        Some(&seed),
        shared.options.hnsw_compression,
    )
    .and_then(|written| {
        Segment::open(
            Arc::clone(&shared.fs),
            &dir,
            id,
            &state.schema,
            written.row_count,
            written.files,
        )
    });
    drop(written_rows);
    match opened {
        Ok(segment) => Ok(Flushed {
            snapshot: frozen.clone(),
            segment: Arc::new(segment),
            rows,
        }),
        Err(error) => {
            let _ = shared.fs.remove_dir_all(&dir);
            Err(error)
        }
    }
}

/// A changed overlay of a segment, as captured to be saved as state file `version`.
struct Save {
    segment: Arc<Segment>,
    overlay: Arc<Overlay>,
    version: u64,
    /// Set once the file is written.
    crc: Option<u32>,
}

/// What happened to the frozen memtable's rows since phase 1 read them, re-addressed
/// from slots to the segment's rows.
fn carry_over(now: &Overlay, flushed: &Flushed) -> Overlay {
    let then = &flushed.snapshot.overlay;
    let row = |slot: u32| flushed.rows.get(slot as usize).copied().flatten();
    let mut carried = Overlay::default();
    for slot in now
        .deleted
        .iter()
        .filter(|slot| !then.deleted.contains(*slot))
    {
        carried.deleted.extend(row(slot));
    }
    for (slot, deadline) in &now.deadlines {
        if then.deadlines.get(slot) != Some(deadline)
            && !now.deleted.contains(*slot)
            && let Some(row) = row(*slot)
        {
            carried.deadlines.insert(row, *deadline);
        }
    }
    carried
}

/// Writes state file `version` of `dir` and fsyncs the directory; returns its CRC.
fn save_state(
    shared: &Shared,
    dir: &std::path::Path,
    version: u64,
    overlay: &Overlay,
) -> Result<u32> {
    let record = write_file(
        shared.fs.as_ref(),
        dir,
        FileKind::State(version),
        &overlay.encode(),
    )?;
    shared.fs.sync_dir(dir).map_err(|e| io("fsync", dir, e))?;
    Ok(record.body_crc)
}

/// Phase 2: persists changed overlays (and the flushed memtable's, carried over into
/// its segment), publishes the manifest, and installs the new version.
fn install(shared: &Shared, state: &Arc<CollectionState>, flushed: Option<Flushed>) -> Result<()> {
    let _one_publication = shared.publishing.lock();
    let abandon = |flushed: &Option<Flushed>| {
        if let Some(flushed) = flushed {
            flushed.segment.mark_obsolete();
        }
    };

    // Capture, under the WAL mutex: no I/O but the new WAL file's creation.
    let (carried, mut saves, mut publication) = {
        let mut wal = shared.lock_wal();
        let tables = state.tables.lock();
        if state.dropped.load(Ordering::Acquire) {
            abandon(&flushed);
            return Ok(());
        }
        let carried = match &flushed {
            Some(flushed) => {
                let still_first = tables
                    .frozen
                    .first()
                    .is_some_and(|slot| Arc::ptr_eq(&slot.memtable, &flushed.snapshot.memtable));
                if !still_first {
                    flushed.segment.mark_obsolete();
                    return Ok(());
                }
                carry_over(&tables.frozen[0].overlay, flushed)
            }
            None => Overlay::default(),
        };
        let saves: Vec<Save> = tables
            .segments
            .iter()
            .filter(|slot| slot.dirty)
            .map(|slot| Save {
                segment: Arc::clone(&slot.segment),
                overlay: Arc::clone(&slot.overlay),
                version: slot.state_version + 1,
                crc: None,
            })
            .collect();
        // After the install the collection keeps in memory only the memtables left.
        let remaining_first = tables
            .frozen
            .iter()
            .skip(usize::from(flushed.is_some()))
            .chain(std::iter::once(&tables.memtable))
            .find_map(|source| source.first_seq);
        let mut publication = match shared.capture_manifest(&mut wal, Some((state.id, &tables))) {
            Ok(publication) => publication,
            Err(error) => {
                abandon(&flushed);
                return Err(error);
            }
        };
        let now = publication.manifest.catalog_seq;
        if let Some(entry) = publication
            .manifest
            .collections
            .iter_mut()
            .find(|entry| entry.id == state.id)
        {
            if let Some(flushed) = &flushed {
                entry.segments.push(segment_entry(&flushed.segment, 0, 0));
            }
            entry.covered = remaining_first.map_or(now, |first| first - 1).min(now);
        }
        (carried, saves, publication)
    };

    // Write, with no lock: state files, then the WAL fsync and the manifest.
    let mut written = Vec::new();
    let mut outcome = Ok(());
    for save in &mut saves {
        let dir = save.segment.dir();
        match save_state(shared, dir, save.version, &save.overlay) {
            Ok(crc) => {
                save.crc = Some(crc);
                written.push(dir.join(FileKind::State(save.version).file_name()));
            }
            Err(error) => {
                outcome = Err(error);
                break;
            }
        }
    }
    let mut new_state = (0, 0);
    if let (Some(flushed), Ok(())) = (&flushed, &outcome)
        && carried != Overlay::default()
    {
        match save_state(shared, flushed.segment.dir(), 1, &carried) {
            Ok(crc) => new_state = (1, crc),
            Err(error) => outcome = Err(error),
        }
    }
    if let Err(error) = outcome {
        for file in written {
            let _ = shared.fs.remove_file(&file);
        }
        abandon(&flushed);
        return Err(error);
    }
    if let Some(entry) = publication
        .manifest
        .collections
        .iter_mut()
        .find(|entry| entry.id == state.id)
    {
        for save in &saves {
            if let Some(segment) = entry.segments.iter_mut().find(|s| s.id == save.segment.id) {
                segment.state_version = save.version;
                segment.state_crc = save.crc.unwrap_or(0);
            }
        }
        if let (Some(flushed), Some(segment)) = (&flushed, entry.segments.last_mut())
            && segment.id == flushed.segment.id
        {
            segment.state_version = new_state.0;
            segment.state_crc = new_state.1;
        }
    }
    let published = shared.write_manifest(&publication);

    // Install, under the WAL mutex.
    let mut wal = shared.lock_wal();
    let mut tables = state.tables.lock();
    let slot_of = |tables: &mut crate::write::tables::Tables, segment: &Arc<Segment>| {
        tables
            .segments
            .iter_mut()
            .position(|slot| Arc::ptr_eq(&slot.segment, segment))
    };
    // On failure the new segment is not abandoned (its directory not removed): the
    // failure may have come after the manifest naming it was renamed into place (a
    // failed directory fsync), and that manifest is the one a reopen reads. Unnamed
    // by the next manifest, the directory is an orphan that the next open removes.
    // For the same reason the state files written count as persisted: the next flush
    // writes new versions rather than rewriting files that manifest may check.
    if let Err(error) = published {
        for save in &saves {
            if let Some(index) = slot_of(&mut tables, &save.segment) {
                let slot = &mut tables.segments[index];
                slot.state_version = save.version;
                slot.state_crc = save.crc.unwrap_or(0);
            }
        }
        return Err(error);
    }

    // Published: from here on the new state is the durable one. What writers changed
    // since the capture stays dirty, for the next flush (and is in the WAL after the
    // manifest's marks, for a replay).
    for save in &saves {
        if let Some(index) = slot_of(&mut tables, &save.segment) {
            let slot = &mut tables.segments[index];
            let old = slot.state_version;
            slot.state_version = save.version;
            slot.state_crc = save.crc.unwrap_or(0);
            slot.dirty = *slot.overlay != *save.overlay;
            if old > 0 {
                let _ = shared
                    .fs
                    .remove_file(&slot.segment.dir().join(FileKind::State(old).file_name()));
            }
        }
    }
    if let Some(Flushed {
        segment,
        snapshot,
        rows,
    }) = flushed
    {
        let still_first = tables
            .frozen
            .first()
            .is_some_and(|slot| Arc::ptr_eq(&slot.memtable, &snapshot.memtable));
        if state.dropped.load(Ordering::Acquire) || !still_first {
            // Dropped since the capture: the manifest just published names the
            // segment, so it is removed only once a later one does not.
            shared.catalog.write().retired.push(segment);
        } else {
            let flushed = Flushed {
                segment,
                snapshot,
                rows,
            };
            let now = carry_over(&tables.frozen[0].overlay, &flushed);
            let dirty = now != carried;
            tables.frozen.remove(0);
            tables.segments.push(SegmentSlot {
                segment: flushed.segment,
                overlay: Arc::new(now),
                state_version: new_state.0,
                state_crc: new_state.1,
                dirty,
            });
        }
    }
    let trimmed = shared.finish_manifest(&mut wal, publication);
    state.publish(&tables);
    trimmed
}
