//! The background threads: the flusher (frozen memtables to segments, on demand), and
//! maintenance (active expiry and compaction, periodically). They are apart so that a
//! long merge never delays a flush that writers may be waiting for.
//!
//! Expiry here is Redis's active expiry: expired documents are already invisible to
//! reads; this pass deletes them through the ordinary write path (so the WAL records
//! the deletions), and compaction then reclaims their space.

use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex};

use crate::model::codec::Op;
use crate::model::error::{Error, Result};
use crate::write::store::{now_ms, Shared};

/// Expired documents deleted per collection per pass, so one pass stays short.
const EXPIRED_PER_PASS: usize = 1_000;

#[derive(Debug, Default)]
struct Signal {
    stop: Mutex<bool>,
    wake: Condvar,
}

/// WAL files beyond which the flusher flushes the collections that keep the oldest one
/// alive (a collection written rarely would otherwise pin the log forever).
const WAL_FILES_MAX: usize = 8;

/// Handle of the background threads; `stop` joins them.
#[derive(Debug)]
pub(crate) struct Worker {
    signal: Arc<Signal>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

impl Worker {
    pub fn start(shared: Arc<Shared>) -> Result<Worker> {
        let flusher_shared = Arc::clone(&shared);
        let flusher = std::thread::Builder::new()
            .name("strata-flush".into())
            .spawn(move || {
                let shared = flusher_shared;
                while shared.flush_signal.wait(shared.options.background_interval) {
                    flush_pass(&shared);
                    shared.flush_signal.finished();
                }
            })
            .map_err(|e| Error::Io {
                op: "start the flush thread for",
                path: Default::default(),
                source: e,
            })?;
        shared
            .background_flush
            .store(true, std::sync::atomic::Ordering::Release);
        let signal = Arc::new(Signal::default());
        let worker_shared = Arc::clone(&shared);
        let thread_signal = Arc::clone(&signal);
        let interval = shared.options.background_interval;
        let thread = std::thread::Builder::new()
            .name("strata-background".into())
            .spawn(move || loop {
                {
                    let mut stop = thread_signal.stop.lock();
                    if !*stop {
                        thread_signal.wake.wait_for(&mut stop, interval);
                    }
                    if *stop {
                        return;
                    }
                }
                // Failures (a full disk, say) are retried on the next pass; writes that
                // hit the same failure report it to their callers.
                let _ = expire_pass(&worker_shared);
                let _ = compaction_pass(&worker_shared);
            })
            .map_err(|e| Error::Io {
                op: "start the background thread for",
                path: Default::default(),
                source: e,
            })?;
        Ok(Worker {
            signal,
            thread: Some(thread),
            shared,
            flusher: Some(flusher),
        })
    }

    /// Stops the thread and waits for its current pass to finish.
    pub fn stop(self) {
        drop(self);
    }
}

/// Flushes every collection's frozen memtables; when the WAL has grown long, also the
/// collections whose unflushed writes keep its oldest file. Failures (a full disk) are
/// retried on the next pass; the frozen memtables stay searchable meanwhile.
fn flush_pass(shared: &Shared) {
    let collections: Vec<_> = shared.catalog.read().by_name.values().cloned().collect();
    // Fresh rows into the memtables' graphs first: queries are waiting for those.
    for state in &collections {
        let memtable = state.snapshot().memtable.clone();
        let lag = memtable.index_lag();
        if lag > 0 {
            let _ = memtable.index_all(crate::write::mem_index::indexing_threads(lag));
        }
    }
    for state in &collections {
        let _ = crate::maintenance::flush::flush_collection(shared, state);
    }
    if shared.lock_wal().files().len() > WAL_FILES_MAX {
        // The marks are read first and the catalog released: holding it while
        // waiting for a collection's tables could deadlock with an install (which
        // holds the tables and then reads the catalog) behind a queued catalog writer.
        let covered: Vec<u64> = {
            let catalog = shared.catalog.read();
            collections
                .iter()
                .map(|state| {
                    catalog
                        .published
                        .collection(state.id)
                        .map_or(0, |entry| entry.covered)
                })
                .collect()
        };
        let pinning = collections
            .iter()
            .zip(covered)
            .filter(|(state, _)| !state.tables.lock().is_persisted())
            .min_by_key(|(_, covered)| *covered)
            .map(|(state, _)| Arc::clone(state));
        if let Some(state) = pinning {
            let _ = crate::maintenance::flush::flush_all(shared, &state);
        }
    }
}

/// Deletes documents whose deadline has passed.
pub(crate) fn expire_pass(shared: &Shared) -> Result<usize> {
    let collections: Vec<_> = shared.catalog.read().by_name.values().cloned().collect();
    let mut deleted = 0;
    for state in collections {
        let keys = state.snapshot().expired_keys(now_ms(), EXPIRED_PER_PASS)?;
        for key in keys {
            let written = shared.write(|catalog| {
                if catalog.check_live(&state).is_err() {
                    return Ok(None);
                }
                // Re-checked under the WAL mutex: an upsert or PERSIST may have won.
                let tables = state.tables.lock();
                let still_expired = match tables.locate(&key)? {
                    Some(location) => tables
                        .deadline(location)
                        .is_some_and(|deadline| deadline <= now_ms()),
                    None => false,
                };
                Ok(still_expired.then(|| Op::Delete {
                    collection: state.id,
                    key: key.clone(),
                }))
            })?;
            deleted += usize::from(written.logged);
            if let Some(frozen) = written.flush_inline {
                let _ = crate::maintenance::flush::flush_collection(shared, &frozen);
            }
        }
    }
    Ok(deleted)
}

fn compaction_pass(shared: &Shared) -> Result<()> {
    let collections: Vec<_> = shared.catalog.read().by_name.values().cloned().collect();
    for state in collections {
        while crate::maintenance::compaction::compact_collection(
            shared,
            &state,
            crate::maintenance::compaction::pick_tiered(shared.options.compaction_trigger),
        )? {}
    }
    Ok(())
}

impl Drop for Worker {
    fn drop(&mut self) {
        *self.signal.stop.lock() = true;
        self.signal.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // Writers stop handing memtables over; what is frozen stays in the WAL.
        self.shared
            .background_flush
            .store(false, std::sync::atomic::Ordering::Release);
        self.shared.flush_signal.stop();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
    }
}
