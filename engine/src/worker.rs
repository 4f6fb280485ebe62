//! The background thread: active expiry and compaction.
//!
//! Expiry here is Redis's active expiry: expired documents are already invisible to
//! reads; this pass deletes them through the ordinary write path (so the WAL records
//! the deletions), and compaction then reclaims their space.

use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex};

use crate::codec::Op;
use crate::error::{Error, Result};
use crate::store::{now_ms, Shared};

/// Expired documents deleted per collection per pass, so one pass stays short.
const EXPIRED_PER_PASS: usize = 1_000;

#[derive(Debug, Default)]
struct Signal {
    stop: Mutex<bool>,
    wake: Condvar,
}

/// Handle of the background thread; `stop` joins it.
#[derive(Debug)]
pub(crate) struct Worker {
    signal: Arc<Signal>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    pub fn start(shared: Arc<Shared>) -> Result<Worker> {
        let signal = Arc::new(Signal::default());
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
                let _ = expire_pass(&shared);
                let _ = compaction_pass(&shared);
            })
            .map_err(|e| Error::Io {
                op: "start the background thread for",
                path: Default::default(),
                source: e,
            })?;
        Ok(Worker {
            signal,
            thread: Some(thread),
        })
    }

    /// Stops the thread and waits for its current pass to finish.
    pub fn stop(self) {
        drop(self);
    }
}

/// Deletes documents whose deadline has passed.
pub(crate) fn expire_pass(shared: &Shared) -> Result<usize> {
    let collections: Vec<_> = shared.catalog.read().by_name.values().cloned().collect();
    let mut deleted = 0;
    for state in collections {
        let keys = state
            .tables
            .read()
            .expired_keys(now_ms(), EXPIRED_PER_PASS)?;
        for key in keys {
            let written = shared.write(|catalog| {
                if catalog.check_live(&state).is_err() {
                    return Ok(None);
                }
                // Re-checked under the WAL mutex: an upsert or PERSIST may have won.
                let tables = state.tables.read();
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
            deleted += written as usize;
        }
    }
    Ok(deleted)
}

fn compaction_pass(shared: &Shared) -> Result<()> {
    let collections: Vec<_> = shared.catalog.read().by_name.values().cloned().collect();
    for state in collections {
        while crate::compaction::compact_collection(
            shared,
            &state,
            crate::compaction::pick_tiered(shared.options.compaction_trigger),
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
    }
}
