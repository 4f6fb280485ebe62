//! Flushing a collection: its frozen memtables become segments, its changed overlays
//! become state files, and a manifest that says so is published. It runs on the
//! flusher thread (or on `Database::flush`), never inside another writer's call.
//!
//! ```text
//! phase 1, no lock:   frozen memtable (immutable) → segment files, fsynced
//! phase 2, WAL mutex: carry over changes to its rows made since it froze, write the
//!                     state files of changed overlays → WAL fsync → MANIFEST → WAL
//!                     trim → swap the frozen memtable for the segment in a new version
//! ```
//!
//! Phase 2 holds the WAL mutex (every writer waits) only for small files: the state
//! files and the manifest; the segment, with its graph, is written in phase 1.

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

/// Freezes the collection's active memtable and flushes every frozen one, then saves
/// any changed overlay: afterwards everything written to the collection so far is in
/// published segments.
pub(crate) fn flush_all(shared: &Shared, state: &Arc<CollectionState>) -> Result<()> {
    {
        let wal = shared.lock_wal();
        // Publishing shows readers every write applied so far: under `Always` some may
        // still wait for their fsync, so make them durable first.
        wal.sync()?;
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

/// Phase 2: persists changed overlays (and the flushed memtable's, carried over into
/// its segment), publishes the manifest, and installs the new version.
fn install(shared: &Shared, state: &Arc<CollectionState>, flushed: Option<Flushed>) -> Result<()> {
    let mut wal = shared.lock_wal();
    let mut tables = state.tables.lock();
    let abandon = |flushed: &Option<Flushed>| {
        if let Some(flushed) = flushed {
            flushed.segment.mark_obsolete();
        }
    };
    if state.dropped.load(Ordering::Acquire) {
        abandon(&flushed);
        return Ok(());
    }
    // The new segment's overlay: what happened to the frozen memtable's rows since
    // phase 1 read them, re-addressed from slots to the segment's rows.
    let mut carried = Overlay::default();
    if let Some(flushed) = &flushed {
        let still_first = tables
            .frozen
            .first()
            .is_some_and(|slot| Arc::ptr_eq(&slot.memtable, &flushed.snapshot.memtable));
        if !still_first {
            flushed.segment.mark_obsolete();
            return Ok(());
        }
        let (now, then) = (&tables.frozen[0].overlay, &flushed.snapshot.overlay);
        let row = |slot: u32| flushed.rows.get(slot as usize).copied().flatten();
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
    }

    let mut states = Vec::new();
    let mut written = Vec::new();
    let outcome = (|| -> Result<()> {
        for (index, slot) in tables.segments.iter().enumerate().filter(|(_, s)| s.dirty) {
            let version = slot.state_version + 1;
            let record = write_file(
                shared.fs.as_ref(),
                slot.segment.dir(),
                FileKind::State(version),
                &slot.overlay.encode(),
            )?;
            written.push(
                slot.segment
                    .dir()
                    .join(FileKind::State(version).file_name()),
            );
            shared
                .fs
                .sync_dir(slot.segment.dir())
                .map_err(|e| io("fsync", slot.segment.dir(), e))?;
            states.push((index, version, record.body_crc));
        }
        Ok(())
    })();
    let new_state = match (&flushed, outcome) {
        (_, Err(error)) => {
            for file in written {
                let _ = shared.fs.remove_file(&file);
            }
            abandon(&flushed);
            return Err(error);
        }
        (Some(Flushed { segment, .. }), Ok(())) if carried != Overlay::default() => {
            let saved = write_file(
                shared.fs.as_ref(),
                segment.dir(),
                FileKind::State(1),
                &carried.encode(),
            )
            .and_then(|record| {
                shared
                    .fs
                    .sync_dir(segment.dir())
                    .map_err(|e| io("fsync", segment.dir(), e))?;
                Ok(record.body_crc)
            });
            match saved {
                Ok(crc) => (1, crc),
                Err(error) => {
                    abandon(&flushed);
                    return Err(error);
                }
            }
        }
        _ => (0, 0),
    };

    // After the install the collection keeps in memory only the memtables left.
    let remaining_first = tables
        .frozen
        .iter()
        .skip(usize::from(flushed.is_some()))
        .chain(std::iter::once(&tables.memtable))
        .find_map(|source| source.first_seq);
    let collection_id = state.id;
    let publish = shared.publish_manifest(&mut wal, Some((collection_id, &tables)), |manifest| {
        let now = manifest.catalog_seq;
        let Some(entry) = manifest
            .collections
            .iter_mut()
            .find(|entry| entry.id == collection_id)
        else {
            return;
        };
        for (index, version, crc) in &states {
            entry.segments[*index].state_version = *version;
            entry.segments[*index].state_crc = *crc;
        }
        if let Some(flushed) = &flushed {
            entry
                .segments
                .push(segment_entry(&flushed.segment, new_state.0, new_state.1));
        }
        entry.covered = remaining_first.map_or(now, |first| first - 1).min(now);
    });
    // On failure the new segment is not abandoned (its directory not removed): the
    // failure may have come after the manifest naming it was renamed into place (a
    // failed directory fsync), and that manifest is the one a reopen reads. Unnamed
    // by the next manifest, the directory is an orphan that the next open removes.
    // For the same reason the state files written count as persisted: the next flush
    // writes new versions rather than rewriting files that manifest may check.
    if let Err(error) = publish {
        for (index, version, crc) in states {
            let slot = &mut tables.segments[index];
            slot.state_version = version;
            slot.state_crc = crc;
        }
        return Err(error);
    }

    // Published: from here on the new state is the durable one.
    // The WAL mutex was held since the overlays were encoded: what was saved is what
    // the slots hold.
    for (index, version, crc) in states {
        let slot = &mut tables.segments[index];
        let old = slot.state_version;
        slot.state_version = version;
        slot.state_crc = crc;
        slot.dirty = false;
        if old > 0 {
            let _ = shared
                .fs
                .remove_file(&slot.segment.dir().join(FileKind::State(old).file_name()));
        }
    }
    if let Some(Flushed { segment, .. }) = flushed {
        tables.frozen.remove(0);
        tables.segments.push(SegmentSlot {
            segment,
            overlay: Arc::new(carried),
            state_version: new_state.0,
            state_crc: new_state.1,
            dirty: false,
        });
    }
    state.publish(&tables);
    Ok(())
}
