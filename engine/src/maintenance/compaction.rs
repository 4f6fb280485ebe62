//! Compaction: merging a collection's segments into one, dropping deleted and expired
//! rows.
//!
//! Policy (size-tiered, chosen so that a steady stream of flushes costs each row
//! O(log n) rewrites): segments fall into tiers by row count, `tier = log4(rows)`;
//! when a tier holds `compaction_trigger` segments, they merge. A segment whose rows
//! are more than half dead is rewritten alone. `Database::compact` merges everything.
//!
//! ```text
//! phase 1, no lock:   snapshot inputs (segments + overlay copies) → write new segment
//!                     (HNSW graphs start from the largest input's, see `GraphSeed`)
//! phase 2, WAL mutex: carry over deletions/TTL changes made since the snapshot
//!                     → state file → WAL fsync → MANIFEST → swap → inputs obsolete
//! ```

use std::sync::Arc;

use parking_lot::Mutex;

use crate::model::error::Result;
use crate::segment::overlay::Overlay;
use crate::segment::{
    segment_dir_name, write_file, write_segment_seeded, FileKind, GraphSeed, SeedGraphs, Segment,
    SegmentRow,
};
use crate::write::store::{now_ms, segment_entry, CollectionState, Shared};
use crate::write::tables::SegmentSlot;

/// One compaction at a time per process: two merging the same inputs would waste work,
/// and phase 2 would refuse the second anyway.
static COMPACTION: Mutex<()> = Mutex::new(());

/// Picks every segment (for `Database::compact`), if there is anything to gain.
pub(crate) fn pick_all(slots: &[SegmentSlot], now: u64) -> Vec<u64> {
    let has_dead = slots
        .iter()
        .any(|slot| !slot.overlay.dead_rows(&slot.segment, now).is_empty());
    if slots.len() > 1 || has_dead {
        slots.iter().map(|slot| slot.segment.id).collect()
    } else {
        Vec::new()
    }
}

/// The size-tiered policy described in the module docs.
pub(crate) fn pick_tiered(trigger: usize) -> impl Fn(&[SegmentSlot], u64) -> Vec<u64> {
    move |slots, now| {
        for slot in slots {
            let dead = slot.overlay.dead_rows(&slot.segment, now).len();
            if dead * 2 > slot.segment.row_count() as u64 {
                return vec![slot.segment.id];
            }
        }
        let tier = |rows: u32| (rows.max(1).ilog2() / 2) as usize;
        let mut tiers: Vec<Vec<u64>> = Vec::new();
        for slot in slots {
            let t = tier(slot.segment.row_count());
            if tiers.len() <= t {
                tiers.resize(t + 1, Vec::new());
            }
            tiers[t].push(slot.segment.id);
        }
        tiers
            .into_iter()
            .find(|ids| ids.len() >= trigger.max(2))
            .unwrap_or_default()
    }
}

/// Merges the segments `pick` chooses. Returns whether anything was merged.
pub(crate) fn compact_collection(
    shared: &Shared,
    state: &Arc<CollectionState>,
    pick: impl Fn(&[SegmentSlot], u64) -> Vec<u64>,
) -> Result<bool> {
    let _one_at_a_time = COMPACTION.lock();
    let now = now_ms();
    let inputs: Vec<(Arc<Segment>, Arc<Overlay>)> = {
        let tables = state.snapshot();
        let ids = pick(&tables.segments, now);
        tables
            .segments
            .iter()
            .filter(|slot| ids.contains(&slot.segment.id))
            .map(|slot| (Arc::clone(&slot.segment), Arc::clone(&slot.overlay)))
            .collect()
    };
    if inputs.is_empty() {
        return Ok(false);
    }
    // Check every byte of the inputs before rewriting them: the merged segment gets
    // fresh checksums, so damage copied into it (a flipped vector, say) could never be
    // detected again and `verify` would vouch for wrong data.
    for (segment, _) in &inputs {
        segment.verify()?;
    }

    // Phase 1: write the merged segment from the snapshot, without blocking anyone.
    let schema = &state.schema;
    let vector_positions: Vec<u16> = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, field)| matches!(field.kind, crate::model::schema::FieldKind::Vector(_)))
        .map(|(position, _)| position as u16)
        .collect();
    // The input with the most live rows lends its graphs: its live rows come first,
    // in their order, and `seed_map` says where each of its rows went.
    let largest = inputs
        .iter()
        .enumerate()
        .max_by_key(|(_, (segment, overlay))| {
            (segment.row_count() as u64).saturating_sub(overlay.dead_rows(segment, now).len())
        })
        .map_or(0, |(index, _)| index);
    let mut seed_map = vec![None; inputs[largest].0.row_count() as usize];
    let order = std::iter::once(largest).chain((0..inputs.len()).filter(|&i| i != largest));
    let mut rows = Vec::new();
    for index in order {
        let (segment, overlay) = &inputs[index];
        for row in 0..segment.row_count() {
            if !overlay.is_live(segment, row, now) {
                continue;
            }
            if index == largest {
                seed_map[row as usize] = Some(rows.len() as u32);
            }
            rows.push(SegmentRow {
                key: segment.key(row)?,
                values: segment.stored_row(row)?.values,
                vectors: vector_positions
                    .iter()
                    .map(|position| segment.vector(*position, row))
                    .collect::<Result<_>>()?,
                deadline: overlay.deadline(segment, row),
                order: segment.order(row)?.unwrap_or(0),
            });
        }
    }
    let merged = if rows.is_empty() {
        None
    } else {
        let id = shared.next_segment_id();
        let dir = shared.segments_dir().join(segment_dir_name(id));
        let seed = GraphSeed {
            graphs: SeedGraphs::Segment(&inputs[largest].0),
            map: &seed_map,
        };
        let written = write_segment_seeded(
            shared.fs.as_ref(),
            &dir,
            schema,
            &rows,
            Some(&seed),
            shared.options.hnsw_compression,
        );
        let opened = written.and_then(|written| {
            Segment::open(
                Arc::clone(&shared.fs),
                &dir,
                id,
                schema,
                written.row_count,
                written.files,
            )
        });
        match opened {
            Ok(segment) => Some(Arc::new(segment)),
            Err(error) => {
                let _ = shared.fs.remove_dir_all(&dir);
                return Err(error);
            }
        }
    };
    drop(rows);

    // Phase 2: under the WAL mutex nothing else changes the tables.
    let mut wal = shared.lock_wal();
    let mut tables = state.tables.lock();
    let abandon = |merged: &Option<Arc<Segment>>| {
        if let Some(segment) = merged {
            segment.mark_obsolete();
        }
    };
    let still_there = !state.dropped.load(std::sync::atomic::Ordering::Acquire)
        && inputs.iter().all(|(segment, _)| {
            tables
                .segments
                .iter()
                .any(|slot| Arc::ptr_eq(&slot.segment, segment))
        });
    if !still_there {
        abandon(&merged);
        return Ok(false);
    }
    let carried = match &merged {
        Some(segment) => carry_over(&tables.segments, &inputs, segment)?,
        None => Overlay::default(),
    };
    let (state_version, state_crc) = if carried != Overlay::default() {
        let segment = merged
            .as_ref()
            .expect("changes are carried only into a merged segment");
        match write_file(
            shared.fs.as_ref(),
            segment.dir(),
            FileKind::State(1),
            &carried.encode(),
        )
        .and_then(|record| {
            shared
                .fs
                .sync_dir(segment.dir())
                .map_err(|e| crate::write::store::io("fsync", segment.dir(), e))?;
            Ok(record.body_crc)
        }) {
            Ok(crc) => (1, crc),
            Err(error) => {
                abandon(&merged);
                return Err(error);
            }
        }
    } else {
        (0, 0)
    };
    let collection_id = state.id;
    let publish = shared.publish_manifest(&mut wal, Some((collection_id, &tables)), |manifest| {
        if let Some(entry) = manifest
            .collections
            .iter_mut()
            .find(|entry| entry.id == collection_id)
        {
            entry
                .segments
                .retain(|s| !inputs.iter().any(|(segment, _)| segment.id == s.id));
            if let Some(segment) = &merged {
                entry
                    .segments
                    .push(segment_entry(segment, state_version, state_crc));
            }
        }
    });
    // On failure the merged segment is not abandoned (its directory not removed): the
    // failure may have come after the manifest naming it was renamed into place (a
    // failed directory fsync), and that manifest is the one a reopen reads. Unnamed by
    // the next manifest, the directory is an orphan that the next open removes.
    publish?;
    tables.segments.retain(|slot| {
        !inputs
            .iter()
            .any(|(segment, _)| Arc::ptr_eq(&slot.segment, segment))
    });
    if let Some(segment) = merged {
        tables.segments.push(SegmentSlot {
            segment,
            overlay: Arc::new(carried),
            state_version,
            state_crc,
            dirty: false,
        });
    }
    for (segment, _) in &inputs {
        segment.mark_obsolete();
    }
    state.publish(&tables);
    state
        .stats
        .merges
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(true)
}

/// Deletions and TTL changes made to the inputs since the snapshot, re-addressed to
/// the merged segment's rows.
fn carry_over(
    slots: &[SegmentSlot],
    inputs: &[(Arc<Segment>, Arc<Overlay>)],
    merged: &Segment,
) -> Result<Overlay> {
    let mut carried = Overlay::default();
    for (segment, snapshot) in inputs {
        let Some(current) = slots
            .iter()
            .find(|slot| Arc::ptr_eq(&slot.segment, segment))
        else {
            continue;
        };
        for row in current
            .overlay
            .deleted
            .iter()
            .filter(|row| !snapshot.deleted.contains(*row))
        {
            if let Some(new_row) = merged.find(segment.key(row)?)? {
                carried.deleted.insert(new_row);
            }
        }
        for (row, deadline) in &current.overlay.deadlines {
            if snapshot.deadlines.get(row) != Some(deadline)
                && !current.overlay.deleted.contains(*row)
                && let Some(new_row) = merged.find(segment.key(*row)?)?
            {
                carried.deadlines.insert(new_row, *deadline);
            }
        }
    }
    Ok(carried)
}
